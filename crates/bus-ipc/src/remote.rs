//! Reliability across processes: reading other processes' logs, forwarding commands, and the
//! view of the whole system.
//!
//! [`RemoteSource`] is the log of another process as one subscriber sees it. A connection
//! task subscribes to that process's bus (reconnecting whenever it goes away) and queues what
//! arrives; the delivery worker reads through [`EventSource::read_after`]. Bus frames are
//! only taken when they continue what is known: the `Welcome` of every (re)connection and
//! every `Lagged` frame name a position up to which the log must be read from the owner
//! (`EventQuery.Synchronize` with `until_position`), page by page, before later frames are
//! used. The worker's checkpoint (per source process) is durable, so a restart of either side
//! resumes exactly; a redelivery after a crash is harmless (positions for projectors,
//! idempotency keys for sagas and process managers).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use angzarr_proto::business_coordinator_client::BusinessCoordinatorClient;
use angzarr_proto::event_query_client::EventQueryClient;
use angzarr_proto::runtime_client::RuntimeClient;
use angzarr_proto::{
    CommandBook, CommandResponse, ProcessInfo, SynchronizeRequest, Target, Topology,
    TopologyRequest,
};
use angzarr_runtime::admin::Peers;
use angzarr_runtime::bus::{BusMessage, BusReceiver};
use angzarr_runtime::delivery::{
    DeliveryOptions, EventSource, Read, Subscriber, SubscriberHandle, SyncRegistry, spawn_from,
};
use angzarr_runtime::error::{Error as RuntimeError, Result as RuntimeResult};
use angzarr_runtime::router::Forwarding;
use angzarr_runtime::storage::{EventStore, StoredEvent};
use angzarr_runtime::subscription::EventFilter;
use async_trait::async_trait;
use interprocess::local_socket::GenericFilePath;
use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::tokio::prelude::*;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tracing::{debug, info, warn};

use crate::frame::{Body, Events, Frame, FrameReader, Hello, stored_events, write_frame};
use crate::registry::IpcDir;
use crate::{Error, PROTOCOL_VERSION};

/// Most events read from an owner's log per catch-up step.
const CATCH_UP_PAGE: usize = 1000;
/// Bus messages queued between the connection and the worker; beyond it the connection stops
/// reading, the publisher's buffer fills and it reports a lag instead.
const INBOX: usize = 256;
/// How long a peer may take to answer a topology question.
const PEER_TIMEOUT: Duration = Duration::from_secs(2);

/// What the connection task hands to the source.
#[derive(Debug)]
enum Input {
    /// Everything up to this position is in the owner's log (a welcome or a lag report).
    Upto(u64),
    /// Events that follow what the bus delivered before.
    Events(Vec<StoredEvent>),
}

#[derive(Debug, Default)]
struct State {
    /// Every wanted event up to here has been handed out or is in `buffer`.
    covered: Option<u64>,
    /// The owner's log is known to reach here; (covered, target] must be read from it.
    target: u64,
    /// Bus events waiting for the gap before them to be read.
    pending: Option<Vec<StoredEvent>>,
    buffer: VecDeque<StoredEvent>,
}

impl State {
    fn covered(&self) -> u64 {
        self.covered.unwrap_or_default()
    }

    fn accept(&mut self, events: Vec<StoredEvent>) {
        for event in events {
            if event.position > self.covered() {
                self.covered = Some(event.position);
                self.buffer.push_back(event);
            }
        }
    }
}

/// Another process's log, for one subscriber (see the module docs).
pub struct RemoteSource {
    process: String,
    dir: IpcDir,
    /// The owner's domains the subscriber wants.
    domains: Vec<String>,
    inbox: tokio::sync::Mutex<mpsc::Receiver<Input>>,
    state: tokio::sync::Mutex<State>,
    wake: Arc<Notify>,
    gateway: Mutex<Option<(PathBuf, Channel)>>,
}

impl std::fmt::Debug for RemoteSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSource")
            .field("process", &self.process)
            .field("domains", &self.domains)
            .finish_non_exhaustive()
    }
}

impl RemoteSource {
    /// The log of `process` as `subscriber` (named in the owner's logs) wants it (`targets`),
    /// with a connection task that follows the process through `dir` until `stop`.
    pub fn start(
        dir: IpcDir,
        process: &str,
        subscriber: &str,
        targets: Vec<Target>,
        poll: Duration,
        stop: watch::Receiver<bool>,
    ) -> (Arc<Self>, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(INBOX);
        let domains: BTreeSet<String> = targets.iter().map(|t| t.domain.clone()).collect();
        let source = Arc::new(Self {
            process: process.to_string(),
            dir: dir.clone(),
            domains: domains.into_iter().collect(),
            inbox: tokio::sync::Mutex::new(rx),
            state: tokio::sync::Mutex::default(),
            wake: Arc::new(Notify::new()),
            gateway: Mutex::new(None),
        });
        let hello = Hello {
            protocol: PROTOCOL_VERSION,
            subscriber: subscriber.to_string(),
            targets,
            all: false,
        };
        let follow = Follow {
            dir,
            process: process.to_string(),
            hello,
            inbox: tx,
            wake: source.wake.clone(),
            poll,
            stop,
        };
        (source, tokio::spawn(follow.run()))
    }

    fn gateway(&self) -> RuntimeResult<Channel> {
        let peer = self
            .dir
            .peer(&self.process)
            .ok_or_else(|| self.unavailable("it is not registered"))?;
        if !peer.alive {
            return Err(self.unavailable("it is not running"));
        }
        let path = peer.registration.gateway_socket();
        let mut cached = self.gateway.lock().unwrap_or_else(|p| p.into_inner());
        match &*cached {
            Some((known, channel)) if *known == path => Ok(channel.clone()),
            _ => {
                let channel = angzarr_transport::channel_lazy(&path);
                *cached = Some((path, channel.clone()));
                Ok(channel)
            }
        }
    }

    fn unavailable(&self, reason: &str) -> RuntimeError {
        RuntimeError::Unavailable {
            component: format!("runtime process {}", self.process),
            reason: reason.to_string(),
        }
    }

    /// Reads the next page of (covered, target] from the owner's log.
    async fn read_gap(&self, state: &mut State) -> RuntimeResult<()> {
        let after = state.covered();
        let until = state.target;
        let request = SynchronizeRequest {
            after_position: after,
            domains: self.domains.clone(),
            until_position: until,
            // The whole log: which editions a subscriber wants is its own filter's business.
            editions: vec!["*".into()],
        };
        let mut stream = EventQueryClient::new(self.gateway()?)
            .max_decoding_message_size(crate::frame::MAX_FRAME)
            .synchronize(request)
            .await
            .map_err(|s| status_error(&self.process, s))?
            .into_inner();
        let mut read = 0;
        while let Some(book) = stream.next().await {
            let book = book.map_err(|s| status_error(&self.process, s))?;
            let events = stored_events(Events { books: vec![book] })
                .map_err(|e| RuntimeError::InvalidArgument(e.to_string()))?;
            read += events.len();
            state.accept(events);
            if read >= CATCH_UP_PAGE {
                return Ok(());
            }
        }
        state.covered = Some(state.covered().max(until));
        debug!(process = %self.process, after, until, read, "caught up on another process's log");
        Ok(())
    }
}

#[async_trait]
impl EventSource for RemoteSource {
    fn process(&self) -> Option<&str> {
        Some(&self.process)
    }

    async fn read_after(&self, after: u64, limit: usize) -> RuntimeResult<Read> {
        let mut state = self.state.lock().await;
        match state.covered {
            None => state.covered = Some(after),
            Some(covered) if after > covered => {
                state.covered = Some(after);
                state.buffer.clear();
            }
            Some(_) => state.buffer.retain(|e| e.position > after),
        }
        loop {
            if !state.buffer.is_empty() {
                let take = limit.max(1).min(state.buffer.len());
                let events: Vec<StoredEvent> = state.buffer.drain(..take).collect();
                // Past the last wanted event when nothing else is waiting: the checkpoint
                // covers the unwanted positions too.
                let reached = match state.buffer.front() {
                    Some(_) => events.last().map_or(after, |e| e.position),
                    None => state.covered().max(after),
                };
                return Ok(Read { events, reached });
            }
            if state.target > state.covered() {
                self.read_gap(&mut state).await?;
                continue;
            }
            if let Some(events) = state.pending.take() {
                state.accept(events);
                continue;
            }
            let next = self.inbox.lock().await.try_recv();
            match next {
                Ok(Input::Upto(position)) => {
                    if position < state.covered() && state.target < position {
                        warn!(process = %self.process, position, checkpoint = state.covered(), "another process's log is shorter than this subscriber's checkpoint (was its store replaced?); its events up to the checkpoint are not delivered again");
                    }
                    state.target = state.target.max(position);
                }
                Ok(Input::Events(events)) => state.pending = Some(events),
                Err(_) => {
                    return Ok(Read {
                        events: Vec::new(),
                        reached: state.covered().max(after),
                    });
                }
            }
        }
    }

    async fn event_at(&self, position: u64) -> RuntimeResult<Option<StoredEvent>> {
        let request = SynchronizeRequest {
            after_position: position.saturating_sub(1),
            domains: Vec::new(),
            until_position: position,
            editions: vec!["*".into()],
        };
        let mut stream = EventQueryClient::new(self.gateway()?)
            .synchronize(request)
            .await
            .map_err(|s| status_error(&self.process, s))?
            .into_inner();
        while let Some(book) = stream.next().await {
            let book = book.map_err(|s| status_error(&self.process, s))?;
            let events = stored_events(Events { books: vec![book] })
                .map_err(|e| RuntimeError::InvalidArgument(e.to_string()))?;
            if let Some(event) = events.into_iter().find(|e| e.position == position) {
                return Ok(Some(event));
            }
        }
        Ok(None)
    }

    fn wake_ups(&self) -> Box<dyn BusReceiver> {
        Box::new(Wake(self.wake.clone()))
    }
}

struct Wake(Arc<Notify>);

#[async_trait]
impl BusReceiver for Wake {
    async fn recv(&mut self) -> Option<BusMessage> {
        self.0.notified().await;
        Some(BusMessage::Lagged(0))
    }
}

/// The connection task of a [`RemoteSource`].
struct Follow {
    dir: IpcDir,
    process: String,
    hello: Hello,
    inbox: mpsc::Sender<Input>,
    wake: Arc<Notify>,
    poll: Duration,
    stop: watch::Receiver<bool>,
}

impl Follow {
    async fn run(mut self) {
        let mut complained = false;
        while !*self.stop.borrow() {
            match self.dir.peer(&self.process) {
                Some(peer) if peer.alive => {
                    match connect(&peer.registration.bus_socket, &self.hello).await {
                        Ok((reader, head)) => {
                            complained = false;
                            info!(process = %self.process, subscriber = %self.hello.subscriber, head, "following another process's bus");
                            if self.hand_over(Input::Upto(head)).await.is_err() {
                                return;
                            }
                            self.read(reader).await;
                        }
                        Err(err) if !complained => {
                            complained = true;
                            info!(process = %self.process, error = %err, "another process's bus is not reachable yet; retrying");
                        }
                        Err(err) => {
                            debug!(process = %self.process, error = %err, "still cannot subscribe")
                        }
                    }
                }
                _ => {}
            }
            let mut stop = self.stop.clone();
            tokio::select! {
                () = tokio::time::sleep(self.poll) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    async fn hand_over(&self, input: Input) -> Result<(), ()> {
        let sent = self.inbox.send(input).await.map_err(|_| ());
        self.wake.notify_one();
        sent
    }

    /// Reads frames until the connection ends or the runtime stops.
    async fn read(&mut self, mut reader: FrameReader<impl tokio::io::AsyncRead + Unpin>) {
        loop {
            let mut stop = self.stop.clone();
            let frame = tokio::select! {
                frame = reader.next() => frame,
                _ = stop.wait_for(|s| *s) => return,
            };
            let input = match frame {
                Ok(Some(Frame {
                    body: Some(Body::Events(events)),
                })) => match stored_events(events) {
                    Ok(events) => Input::Events(events),
                    Err(err) => {
                        warn!(process = %self.process, error = %err, "an undecodable frame; reconnecting");
                        return;
                    }
                },
                Ok(Some(Frame {
                    body: Some(Body::Lagged(lagged)),
                })) => {
                    info!(process = %self.process, up_to = lagged.up_to, dropped = lagged.dropped, "the bus dropped frames for this subscriber; reading them from the log");
                    Input::Upto(lagged.up_to)
                }
                Ok(Some(_)) => continue,
                Ok(None) => {
                    info!(process = %self.process, "another process's bus closed; it will be followed again when it returns");
                    return;
                }
                Err(err) => {
                    info!(process = %self.process, error = %err, "lost another process's bus; reconnecting");
                    return;
                }
            };
            if self.hand_over(input).await.is_err() {
                return;
            }
        }
    }
}

/// Subscribes to the bus at `path`: says hello, returns the reader and the welcome's head.
pub async fn connect(
    path: &std::path::Path,
    hello: &Hello,
) -> Result<(FrameReader<impl tokio::io::AsyncRead + Unpin + use<>>, u64), Error> {
    let io = |source: std::io::Error| Error::Io {
        action: "cannot connect to the bus socket",
        path: path.to_path_buf(),
        source,
    };
    let name = path.to_fs_name::<GenericFilePath>().map_err(io)?;
    let stream = Stream::connect(name).await.map_err(io)?;
    // The writing half is kept open below; halves not shutting the socket down is fine.
    #[allow(deprecated)]
    let (reader, mut writer) = stream.split();
    write_frame(&mut writer, &Frame::of(Body::Hello(hello.clone())))
        .await
        .map_err(io)?;
    let mut reader = FrameReader::new(reader);
    let first = tokio::time::timeout(Duration::from_secs(5), reader.next()).await;
    match first {
        Ok(Ok(Some(Frame {
            body: Some(Body::Welcome(welcome)),
        }))) => {
            if welcome.protocol != PROTOCOL_VERSION {
                return Err(Error::Protocol(format!(
                    "process {} speaks IPC protocol version {}, this one {PROTOCOL_VERSION}",
                    welcome.process, welcome.protocol
                )));
            }
            // Keep the writing half open: dropping it would end the subscription.
            tokio::spawn(async move {
                let _writer = writer;
                std::future::pending::<()>().await;
            });
            Ok((reader, welcome.head))
        }
        Ok(Ok(Some(Frame {
            body: Some(Body::Refused(refused)),
        }))) => Err(Error::Protocol(format!("refused: {}", refused.reason))),
        Ok(Ok(_)) => Err(Error::Protocol("no welcome".into())),
        Ok(Err(err)) => Err(io(err)),
        Err(_) => Err(Error::Protocol("no welcome within 5 s".into())),
    }
}

/// A status from another process as a runtime error: "not now" stays "not now" (naming the
/// process), everything else is the owner's answer, passed on unchanged.
fn status_error(process: &str, status: tonic::Status) -> RuntimeError {
    use tonic::Code;
    match status.code() {
        Code::Unavailable | Code::Cancelled | Code::DeadlineExceeded => RuntimeError::Unavailable {
            component: format!("runtime process {process}"),
            reason: status.message().to_string(),
        },
        code => RuntimeError::Rejected {
            code,
            message: status.message().to_string(),
        },
    }
}

/// Forwards commands for domains other processes own to their coordinator sockets.
pub struct Forwarder {
    dir: IpcDir,
    max_message_bytes: usize,
    channels: Mutex<HashMap<PathBuf, Channel>>,
    /// The last owner seen per domain, to name it when it is gone.
    owners: Mutex<HashMap<String, (String, u32)>>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Forwarder {
    /// A forwarder looking owners up in `dir`.
    pub fn new(dir: IpcDir, max_message_bytes: usize) -> Self {
        Self {
            dir,
            max_message_bytes,
            channels: Mutex::default(),
            owners: Mutex::default(),
        }
    }

    fn channel(&self, path: PathBuf) -> Channel {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(path)
            .or_insert_with_key(|path| angzarr_transport::channel_lazy(path.clone()))
            .clone()
    }
}

#[async_trait]
impl Forwarding for Forwarder {
    async fn forward(&self, command: CommandBook) -> RuntimeResult<CommandResponse> {
        let domain = command
            .cover
            .as_ref()
            .map(|c| c.domain.clone())
            .unwrap_or_default();
        let peers = self.dir.scan().map_err(|e| RuntimeError::Unavailable {
            component: "the IPC directory".into(),
            reason: e.to_string(),
        })?;
        let owner = peers
            .iter()
            .filter(|p| p.registration.domains.contains(&domain))
            .max_by_key(|p| p.alive);
        let Some(owner) = owner else {
            let known = self
                .owners
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&domain)
                .cloned();
            return Err(match known {
                Some((process, pid)) => RuntimeError::Unavailable {
                    component: format!("runtime process {process}"),
                    reason: format!(
                        "it owns domain {domain:?} but is not running (pid {pid} is gone)"
                    ),
                },
                None => RuntimeError::NotFound(format!(
                    "no process of this system owns domain {domain:?} (none is registered in {})",
                    self.dir.path().display()
                )),
            });
        };
        let registration = &owner.registration;
        self.owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                domain.clone(),
                (registration.process.clone(), registration.pid),
            );
        if !owner.alive {
            return Err(RuntimeError::Unavailable {
                component: format!("runtime process {}", registration.process),
                reason: format!(
                    "it owns domain {domain:?} but is not running (pid {} is gone)",
                    registration.pid
                ),
            });
        }
        let channel = self.channel(registration.coordinator_socket(&domain));
        BusinessCoordinatorClient::new(channel)
            .max_decoding_message_size(self.max_message_bytes.saturating_mul(4))
            .max_encoding_message_size(self.max_message_bytes)
            .handle(command)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| status_error(&registration.process, status))
    }
}

/// Makes a subscriber for one source process, given what it wants from there.
pub type ForSource = Box<dyn Fn(&str, EventFilter) -> Arc<dyn Subscriber> + Send + Sync>;

/// A subscriber of this process that may want other processes' domains.
pub struct RemoteSubscriber {
    /// Its name.
    pub name: String,
    /// Its descriptor's inputs.
    pub inputs: Vec<Target>,
    /// The subscriber for one source process, given what it wants from there.
    pub for_source: ForSource,
}

/// What the delivery workers of remote sources need.
pub struct RemoteDeliveryOptions {
    /// This process's name (its own log is read locally).
    pub process: String,
    /// The store of checkpoints and parked records.
    pub store: Arc<dyn EventStore>,
    /// Synchronous-command outcomes.
    pub registry: Arc<SyncRegistry>,
    /// Delivery tunables (the poll interval also paces discovery).
    pub delivery: DeliveryOptions,
}

/// This process's view of the system: its remote workers and the other processes.
pub struct System {
    dir: IpcDir,
    process: String,
    handles: Arc<Mutex<Vec<SubscriberHandle>>>,
}

impl std::fmt::Debug for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("System")
            .field("process", &self.process)
            .finish_non_exhaustive()
    }
}

impl System {
    /// Starts delivering other processes' events to `subscribers`: every poll interval the
    /// IPC directory is read, and a worker is started for each (subscriber, process) pair
    /// whose domains it wants, the first time that process shows up. Runs until `stop`.
    pub fn start(
        dir: IpcDir,
        subscribers: Vec<RemoteSubscriber>,
        options: RemoteDeliveryOptions,
        stop: watch::Receiver<bool>,
    ) -> (Arc<Self>, JoinHandle<()>) {
        let system = Arc::new(Self {
            dir: dir.clone(),
            process: options.process.clone(),
            handles: Arc::default(),
        });
        let this = system.clone();
        let task = tokio::spawn(async move { this.discover(subscribers, options, stop).await });
        (system, task)
    }

    async fn discover(
        &self,
        subscribers: Vec<RemoteSubscriber>,
        options: RemoteDeliveryOptions,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut started: BTreeSet<(String, String)> = BTreeSet::new();
        let mut tasks = Vec::new();
        loop {
            match self.dir.scan() {
                Ok(peers) => {
                    for peer in peers
                        .iter()
                        .filter(|p| p.registration.process != self.process)
                    {
                        for subscriber in &subscribers {
                            let pair = (subscriber.name.clone(), peer.registration.process.clone());
                            if started.contains(&pair) {
                                continue;
                            }
                            let targets: Vec<Target> = subscriber
                                .inputs
                                .iter()
                                .filter(|t| peer.registration.domains.contains(&t.domain))
                                .cloned()
                                .collect();
                            if targets.is_empty() {
                                continue;
                            }
                            started.insert(pair);
                            tasks.extend(self.start_worker(
                                subscriber,
                                &peer.registration.process,
                                targets,
                                &options,
                                &stop,
                            ));
                        }
                    }
                }
                Err(err) => warn!(error = %err, "cannot read the IPC directory"),
            }
            tokio::select! {
                () = tokio::time::sleep(options.delivery.poll_interval) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        for task in tasks {
            let _ = task.await;
        }
    }

    fn start_worker(
        &self,
        subscriber: &RemoteSubscriber,
        process: &str,
        targets: Vec<Target>,
        options: &RemoteDeliveryOptions,
        stop: &watch::Receiver<bool>,
    ) -> [JoinHandle<()>; 2] {
        info!(subscriber = %subscriber.name, process, "delivering another process's events");
        let filter = EventFilter::from_targets(&targets);
        let (source, follow) = RemoteSource::start(
            self.dir.clone(),
            process,
            &format!("{}/{}", self.process, subscriber.name),
            targets,
            options.delivery.poll_interval,
            stop.clone(),
        );
        let (handle, worker) = spawn_from(
            (subscriber.for_source)(process, filter),
            source,
            options.store.clone(),
            options.registry.clone(),
            options.delivery.clone(),
            stop.clone(),
        );
        self.handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(handle);
        [follow, worker]
    }
}

#[async_trait]
impl Peers for System {
    fn process(&self) -> &str {
        &self.process
    }

    fn remote_subscribers(&self) -> Vec<SubscriberHandle> {
        self.handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn processes(&self, head_position: u64) -> Vec<(ProcessInfo, Option<Topology>)> {
        let peers = self.dir.scan().unwrap_or_default();
        let mut out = Vec::new();
        for peer in peers {
            let r = peer.registration;
            let mut info = ProcessInfo {
                name: r.process.clone(),
                pid: r.pid,
                state: if peer.alive { "running" } else { "not running" }.into(),
                socket_dir: r.socket_dir.display().to_string(),
                domains: r.domains.clone(),
                head_position: 0,
            };
            if r.process == self.process {
                info.head_position = head_position;
                out.insert(0, (info, None));
                continue;
            }
            let topology = if peer.alive {
                peer_topology(&r.runtime_socket()).await
            } else {
                None
            };
            info.head_position = topology.as_ref().map_or(0, |t| t.head_position);
            out.push((info, topology));
        }
        out
    }
}

async fn peer_topology(socket: &std::path::Path) -> Option<Topology> {
    let ask = async {
        let channel = angzarr_transport::channel(socket).await.ok()?;
        RuntimeClient::new(channel)
            .get_topology(TopologyRequest { local_only: true })
            .await
            .ok()
            .map(tonic::Response::into_inner)
    };
    tokio::time::timeout(PEER_TIMEOUT, ask).await.ok().flatten()
}
