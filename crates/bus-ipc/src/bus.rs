//! The publishing side: committed events to the subscribers of other processes.
//!
//! Each subscriber connection has a filter (from its `Hello`), a bounded queue of encoded
//! frames and a writer task. [`IpcBus::publish`] encodes, for each connection, only the events
//! its filter accepts and pushes the frame without waiting: when the queue is full, it and the
//! frame are dropped and the connection is marked lagged; its writer sends a [`Lagged`] frame
//! (the highest dropped position) next, and the subscriber reads that range from this
//! process's log. A reader that stops reading stalls only its own writer
//! task; a reader that is gone makes its writer fail and the connection is removed. So no
//! subscriber ever blocks a publisher, and nothing is lost: the store is the log.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use angzarr_runtime::bus::{BusMessage, BusReceiver, EventBatch, EventBus, filter_batch};
use angzarr_runtime::subscription::EventFilter;
use async_trait::async_trait;
use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::{GenericFilePath, ListenerOptions};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::frame::{
    Body, Frame, FrameReader, Lagged, Refused, Welcome, events_frame, stored_events,
};
use crate::{Error, PROTOCOL_VERSION};

/// How long a connecting subscriber may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// The IPC bus of one process (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct IpcBus {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for IpcBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcBus")
            .field("process", &self.shared.process)
            .finish_non_exhaustive()
    }
}

struct Shared {
    process: String,
    capacity: usize,
    state: Mutex<State>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Writers finish what they hold, then end: their readers see the end of the stream.
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for connection in &state.connections {
            connection.ready.notify_one();
        }
    }
}

struct State {
    /// The last position published.
    head: u64,
    connections: Vec<Arc<Connection>>,
}

/// One subscriber's connection.
struct Connection {
    name: String,
    /// `None`: everything.
    filter: Option<EventFilter>,
    queue: Mutex<Queue>,
    ready: Notify,
    closed: AtomicBool,
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Vec<u8>>,
    /// Frames dropped since the last `Lagged` frame went out: (highest position, count).
    lagged: Option<(u64, u64)>,
}

impl Connection {
    fn new(name: String, filter: Option<EventFilter>) -> Arc<Self> {
        Arc::new(Self {
            name,
            filter,
            queue: Mutex::default(),
            ready: Notify::new(),
            closed: AtomicBool::new(false),
        })
    }

    /// Queues a frame, or drops it and marks the lag when `capacity` frames wait already.
    fn push(&self, frame: Vec<u8>, last_position: u64, capacity: usize) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if queue.frames.len() >= capacity {
            // The subscriber reads everything up to here from the log anyway: what is queued
            // is dropped too, so what comes after the lag report is fresh.
            let cleared = queue.frames.len() as u64;
            queue.frames.clear();
            let (up_to, dropped) = queue.lagged.get_or_insert((0, 0));
            *up_to = (*up_to).max(last_position);
            *dropped += cleared + 1;
        } else {
            queue.frames.push_back(frame);
        }
        drop(queue);
        self.ready.notify_one();
    }

    /// The next thing to write: a lag report first, then queued frames.
    fn pop(&self) -> Option<Vec<u8>> {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((up_to, dropped)) = queue.lagged.take() {
            return Some(Frame::of(Body::Lagged(Lagged { up_to, dropped })).to_wire());
        }
        queue.frames.pop_front()
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Writes frames until the connection fails or the bus is gone.
    async fn write_all(self: Arc<Self>, mut writer: impl AsyncWrite + Unpin, bus: Weak<Shared>) {
        loop {
            let Some(frame) = self.pop() else {
                if bus.strong_count() == 0 {
                    break;
                }
                self.ready.notified().await;
                continue;
            };
            if let Err(err) = writer.write_all(&frame).await {
                debug!(subscriber = %self.name, error = %err, "a bus subscriber is gone");
                break;
            }
        }
        self.closed.store(true, Ordering::Relaxed);
    }
}

impl IpcBus {
    /// The bus of process `process`. Every event up to `head` counts as published already
    /// (subscribers read the past from the log); each subscriber buffers up to `capacity`
    /// frames before it lags.
    pub fn new(process: impl Into<String>, head: u64, capacity: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                process: process.into(),
                capacity: capacity.max(1),
                state: Mutex::new(State {
                    head,
                    connections: Vec::new(),
                }),
            }),
        }
    }

    /// The process this bus publishes for.
    pub fn process(&self) -> &str {
        &self.shared.process
    }

    /// Accepts subscribers of other processes on the local socket `path` (replacing a stale
    /// one) until `stop` turns true.
    pub fn serve(&self, path: &Path, stop: watch::Receiver<bool>) -> Result<JoinHandle<()>, Error> {
        let listener = BusListener::bind(path)?;
        Ok(self.serve_listener(listener, stop))
    }

    /// Accepts subscribers on a socket bound earlier (see [`BusListener`]) until `stop`.
    pub fn serve_listener(
        &self,
        listener: BusListener,
        mut stop: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let bus = Arc::downgrade(&self.shared);
        let BusListener { listener, path } = listener;
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = stop.wait_for(|s| *s) => break,
                };
                match stream {
                    Ok(stream) => {
                        let bus = bus.clone();
                        tokio::spawn(async move {
                            // Halves that do not shut the socket down when dropped are fine:
                            // the writer task owns the connection until it fails.
                            #[allow(deprecated)]
                            let (reader, writer) = stream.split();
                            if let Err(err) = accept(bus, reader, writer).await {
                                warn!(error = %err, "a bus subscriber was not accepted");
                            }
                        });
                    }
                    Err(err) => {
                        warn!(socket = %path.display(), error = %err, "accepting a bus subscriber failed");
                    }
                }
            }
        })
    }

    /// Adds a connection whose first frame is the welcome, and starts its writer.
    fn add(
        &self,
        name: String,
        filter: Option<EventFilter>,
        writer: impl AsyncWrite + Unpin + Send + 'static,
    ) {
        add(&self.shared, name, filter, writer);
    }

    /// Subscribers currently connected (for tests and status).
    pub fn subscribers(&self) -> usize {
        let mut state = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        state.connections.retain(|c| !c.is_closed());
        state.connections.len()
    }

    /// A subscription over an in-process pipe: the same framing, queue and writer as a
    /// subscriber in another process, without the socket (the conformance suite uses it).
    fn subscribe_pipe(&self, filter: Option<EventFilter>) -> Box<dyn BusReceiver> {
        match interprocess::unnamed_pipe::tokio::pipe() {
            Ok((sender, receiver)) => {
                self.add("in-process".into(), filter, sender);
                Box::new(PipeReceiver {
                    reader: FrameReader::new(receiver),
                })
            }
            Err(err) => {
                warn!(error = %err, "cannot create a pipe for a bus subscriber; it will poll the store");
                angzarr_runtime::bus::NoBus.subscribe()
            }
        }
    }
}

/// The bus socket, bound before anything is served on it: a process binds it when it
/// registers, so subscribers that find the registration can connect at once (their hello waits
/// in the socket until the runtime serves the bus).
pub struct BusListener {
    listener: interprocess::local_socket::tokio::Listener,
    path: PathBuf,
}

impl std::fmt::Debug for BusListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusListener")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl BusListener {
    /// Binds the local socket `path` (0600), replacing a stale one.
    pub fn bind(path: &Path) -> Result<Self, Error> {
        let io = |source: std::io::Error| Error::Io {
            action: "cannot listen on the bus socket",
            path: path.to_path_buf(),
            source,
        };
        let name = path.to_fs_name::<GenericFilePath>().map_err(io)?;
        let listener = ListenerOptions::new()
            .name(name)
            .try_overwrite(true)
            .create_tokio()
            .map_err(io)?;
        restrict(path).map_err(io)?;
        Ok(Self {
            listener,
            path: path.to_path_buf(),
        })
    }
}

fn restrict(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

fn add(
    shared: &Arc<Shared>,
    name: String,
    filter: Option<EventFilter>,
    writer: impl AsyncWrite + Unpin + Send + 'static,
) {
    let connection = Connection::new(name, filter);
    {
        let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        let welcome = Frame::of(Body::Welcome(Welcome {
            protocol: PROTOCOL_VERSION,
            process: shared.process.clone(),
            head: state.head,
        }));
        connection.push(welcome.to_wire(), state.head, usize::MAX);
        state.connections.push(connection.clone());
    }
    tokio::spawn(connection.write_all(writer, Arc::downgrade(shared)));
}

/// Reads a subscriber's hello and adds it, or refuses it with a reason.
async fn accept(
    bus: Weak<Shared>,
    reader: impl AsyncRead + Unpin + Send + 'static,
    mut writer: impl AsyncWrite + Unpin + Send + 'static,
) -> Result<(), Error> {
    let mut reader = FrameReader::new(reader);
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, reader.next()).await {
        Ok(Ok(Some(Frame {
            body: Some(Body::Hello(hello)),
        }))) => hello,
        Ok(Ok(_)) => return Err(Error::Protocol("the first frame was not a hello".into())),
        Ok(Err(err)) => return Err(Error::Protocol(err.to_string())),
        Err(_) => return Err(Error::Protocol("no hello within 5 s".into())),
    };
    if hello.protocol != PROTOCOL_VERSION {
        let reason = format!(
            "this process speaks IPC protocol version {PROTOCOL_VERSION}, the subscriber {} speaks {}",
            hello.subscriber, hello.protocol
        );
        let refusal = Frame::of(Body::Refused(Refused {
            reason: reason.clone(),
        }));
        let _ = crate::frame::write_frame(&mut writer, &refusal).await;
        return Err(Error::Protocol(reason));
    }
    let Some(shared) = bus.upgrade() else {
        return Ok(());
    };
    let filter = (!hello.all).then(|| EventFilter::from_targets(&hello.targets));
    info!(subscriber = %hello.subscriber, "a subscriber of another process connected");
    add(&shared, hello.subscriber, filter, writer);
    // The reading half stays open until the subscriber goes; nothing more comes from it.
    tokio::spawn(async move { while let Ok(Some(_)) = reader.next().await {} });
    Ok(())
}

impl EventBus for IpcBus {
    fn publish(&self, batch: EventBatch) {
        let Some(last) = batch.last().map(|e| e.position) else {
            return;
        };
        let mut state = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        state.head = state.head.max(last);
        state.connections.retain(|c| !c.is_closed());
        let mut everything: Option<Vec<u8>> = None;
        for connection in &state.connections {
            let frame = match &connection.filter {
                None => everything
                    .get_or_insert_with(|| events_frame(&batch))
                    .clone(),
                Some(filter) => match filter_batch(filter, &batch) {
                    Some(wanted) => events_frame(&wanted),
                    None => continue,
                },
            };
            connection.push(frame, last, self.shared.capacity);
        }
    }

    fn subscribe(&self) -> Box<dyn BusReceiver> {
        self.subscribe_pipe(None)
    }

    fn subscribe_to(&self, filter: EventFilter) -> Box<dyn BusReceiver> {
        self.subscribe_pipe(Some(filter))
    }
}

/// An in-process subscription read from a pipe.
struct PipeReceiver {
    reader: FrameReader<interprocess::unnamed_pipe::tokio::Recver>,
}

#[async_trait]
impl BusReceiver for PipeReceiver {
    async fn recv(&mut self) -> Option<BusMessage> {
        loop {
            let frame = match self.reader.next().await {
                Ok(Some(frame)) => frame,
                Ok(None) => return None,
                Err(err) => {
                    warn!(error = %err, "the bus pipe failed");
                    return None;
                }
            };
            match frame.body {
                Some(Body::Events(events)) => match stored_events(events) {
                    Ok(events) => return Some(BusMessage::Events(events.into())),
                    Err(err) => {
                        warn!(error = %err, "an undecodable bus frame");
                        return Some(BusMessage::Lagged(1));
                    }
                },
                Some(Body::Lagged(lagged)) => return Some(BusMessage::Lagged(lagged.dropped)),
                _ => {}
            }
        }
    }
}

/// Publishes to this process's subscribers (`local`) and to other processes' (`ipc`).
pub struct LocalAndIpc {
    local: Arc<dyn EventBus>,
    ipc: IpcBus,
}

impl std::fmt::Debug for LocalAndIpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalAndIpc")
            .field("ipc", &self.ipc)
            .finish_non_exhaustive()
    }
}

impl LocalAndIpc {
    /// Both buses; subscriptions are local.
    pub fn new(local: Arc<dyn EventBus>, ipc: IpcBus) -> Self {
        Self { local, ipc }
    }
}

impl EventBus for LocalAndIpc {
    fn publish(&self, batch: EventBatch) {
        self.ipc.publish(batch.clone());
        self.local.publish(batch);
    }

    fn subscribe(&self) -> Box<dyn BusReceiver> {
        self.local.subscribe()
    }

    fn subscribe_to(&self, filter: EventFilter) -> Box<dyn BusReceiver> {
        self.local.subscribe_to(filter)
    }
}
