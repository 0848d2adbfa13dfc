//! Wiring: socket directory, store, bus, supervised components, coordinators.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use angzarr_bus_ipc::remote::{
    ForSource, Forwarder, RemoteDeliveryOptions, RemoteSubscriber, System,
};
use angzarr_bus_ipc::{BusListener, IpcBus, IpcDir, LocalAndIpc, Registration};
use angzarr_proto::business_logic_client::BusinessLogicClient;
use angzarr_proto::process_manager_client::ProcessManagerClient;
use angzarr_proto::projector_client::ProjectorClient;
use angzarr_proto::projector_coordinator_server::ProjectorCoordinatorServer;
use angzarr_proto::saga_client::SagaClient;
use angzarr_proto::saga_coordinator_server::SagaCoordinatorServer;
use angzarr_proto::{ComponentDescriptor, GetDescriptorRequest};
use angzarr_runtime::admin::RuntimeService;
use angzarr_runtime::admin::http::AdminEndpoint;
use angzarr_runtime::aggregate::{AggregateCoordinator, AggregateOptions, HistoryCache};
use angzarr_runtime::bus::{EventBus, NoBus};
use angzarr_runtime::delivery::process_manager::GrpcProcessManager;
use angzarr_runtime::delivery::projector::GrpcProjector;
use angzarr_runtime::delivery::saga::GrpcSaga;
use angzarr_runtime::delivery::{DeliveryOptions, Subscriber, SyncRegistry};
use angzarr_runtime::gateway::{GatewayOptions, GatewayService};
use angzarr_runtime::grpc::{BusinessCoordinatorService, SubscriberCoordinatorService};
use angzarr_runtime::logic::{Availability, GrpcAggregateLogic};
use angzarr_runtime::metrics::Telemetry;
use angzarr_runtime::publisher::OrderedPublisher;
use angzarr_runtime::router::{CommandExecutor, CommandRouter, Dispatcher};
use angzarr_runtime::storage::EventStore;
use angzarr_runtime::subscription::EventFilter;
use angzarr_storage_sqlite::{SqliteEventStore, SqliteOptions};
use angzarr_supervisor::{
    ComponentSpec, ComponentState, RestartPolicy, Supervisor, SupervisorHandle,
};
use angzarr_transport::SocketDir;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::service::Routes;
use tonic_health::ServingStatus;

use crate::config::{BusKind, ComponentKind, Durability, Manifest};

/// Why the system could not start. Whatever was started has been stopped again.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The socket directory could not be set up (or another instance holds it).
    #[error(transparent)]
    Sockets(#[from] angzarr_transport::Error),
    /// The event store could not be opened.
    #[error("cannot open the event store at {path}: {reason}")]
    Storage {
        /// The store path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A component could not be started or did not become ready.
    #[error("component {component}: {reason}")]
    Component {
        /// The component.
        component: String,
        /// Why.
        reason: String,
    },
    /// The components' descriptors contradict the manifest or each other.
    #[error("{0}")]
    Topology(String),
    /// This process cannot join its multi-process system (`[ipc]`).
    #[error(transparent)]
    Ipc(#[from] angzarr_bus_ipc::Error),
    /// Asked to stop (`Standalone::start_unless`) before every component was ready; whatever had
    /// started was stopped in order.
    #[error("stopped while starting")]
    Interrupted,
}

/// This process's part in a multi-process system.
struct Ipc {
    dir: IpcDir,
    claim: angzarr_bus_ipc::Claim,
    bus: IpcBus,
    /// Bound with the registration, served once the components run.
    listener: Option<BusListener>,
}

impl Ipc {
    /// Registers this process and its domains (aggregates and process managers, by the
    /// manifest: an aggregate's name is its domain) before anything starts, so a second owner
    /// of a domain is refused before a single component runs.
    async fn join(
        manifest: &Manifest,
        socket_dir: &SocketDir,
        store: &SqliteEventStore,
    ) -> Result<Option<Self>, StartError> {
        let Some(config) = &manifest.ipc else {
            return Ok(None);
        };
        let dir = IpcDir::open(&config.dir)?;
        let head = store
            .head_position()
            .await
            .map_err(|err| StartError::Storage {
                path: manifest.storage.path.clone(),
                reason: err.to_string(),
            })?;
        let domains = manifest
            .components
            .iter()
            .filter(|(_, c)| {
                matches!(
                    c.kind,
                    ComponentKind::Aggregate | ComponentKind::ProcessManager
                )
            })
            .map(|(name, _)| name.clone())
            .collect();
        let claim = dir.claim(Registration {
            protocol: angzarr_bus_ipc::PROTOCOL_VERSION,
            process: config.process.clone(),
            pid: std::process::id(),
            domains,
            socket_dir: socket_dir.path().to_path_buf(),
            bus_socket: dir.bus_socket(&config.process),
        })?;
        let listener = BusListener::bind(&claim.registration().bus_socket)?;
        let bus = IpcBus::new(config.process.clone(), head, config.buffer);
        Ok(Some(Self {
            dir,
            claim,
            bus,
            listener: Some(listener),
        }))
    }
}

/// What runs where, for the start-up summary and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    /// Component name.
    pub name: String,
    /// Its kind.
    pub kind: ComponentKind,
    /// The domain it serves (aggregates).
    pub domain: Option<String>,
    /// Where its coordinator listens (aggregates, projectors and sagas).
    pub coordinator_socket: Option<PathBuf>,
    /// Where the business-logic process listens.
    pub logic_socket: PathBuf,
}

/// A running standalone system.
pub struct Standalone {
    manifest: Manifest,
    socket_dir: SocketDir,
    store: Arc<SqliteEventStore>,
    supervisor: SupervisorHandle,
    components: Vec<ComponentInfo>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    ipc: Option<Ipc>,
    telemetry: Telemetry,
    admin: AdminEndpoint,
    availability: Arc<dyn Availability>,
}

impl std::fmt::Debug for Standalone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Standalone")
            .field("socket_dir", &self.socket_dir.path())
            .field("components", &self.components)
            .finish_non_exhaustive()
    }
}

/// Tells coordinators whether the supervisor has the component up.
struct SupervisorAvailability(SupervisorHandle);

impl Availability for SupervisorAvailability {
    fn unavailable_reason(&self, component: &str) -> Option<String> {
        match self.0.state(component) {
            Some(ComponentState::Serving) => None,
            Some(state) => Some(describe_state(&state)),
            None => Some("not supervised".into()),
        }
    }

    fn pid(&self, component: &str) -> Option<u32> {
        self.0.pid(component)
    }

    fn restarts(&self, component: &str) -> u32 {
        self.0.restarts(component)
    }

    fn state_name(&self, component: &str) -> &'static str {
        match self.0.state(component) {
            Some(ComponentState::Starting) => "starting",
            Some(ComponentState::Serving) => "serving",
            Some(ComponentState::Restarting { .. }) => "restarting",
            Some(ComponentState::Failed { .. }) => "failed",
            Some(ComponentState::Stopping) => "stopping",
            Some(ComponentState::Stopped) => "stopped",
            None => "unknown",
        }
    }

    fn names(&self) -> Vec<String> {
        self.0.names()
    }
}

fn describe_state(state: &ComponentState) -> String {
    match state {
        ComponentState::Starting => "starting".into(),
        ComponentState::Serving => "serving".into(),
        ComponentState::Restarting { attempt, reason } => {
            format!("restarting (attempt {attempt}) after it {reason}")
        }
        ComponentState::Failed { reason } => format!("failed and will not be restarted: {reason}"),
        ComponentState::Stopping => "stopping".into(),
        ComponentState::Stopped => "stopped".into(),
    }
}

impl Standalone {
    /// Starts everything the manifest describes and returns once every component is SERVING
    /// and every coordinator socket accepts calls.
    pub async fn start(manifest: Manifest) -> Result<Self, StartError> {
        Self::start_unless(manifest, std::future::pending()).await
    }

    /// Like [`start`](Self::start), but gives up once `interrupt` completes (a signal, say): whatever
    /// had started is stopped in order and the result is [`StartError::Interrupted`]. Waiting
    /// for slow components is the long part of a start; a user's Ctrl-C should not wait for it.
    pub async fn start_unless(
        manifest: Manifest,
        interrupt: impl std::future::Future<Output = ()>,
    ) -> Result<Self, StartError> {
        let socket_dir = SocketDir::acquire(&manifest.socket_dir)?;
        let store = Arc::new(open_store(&manifest)?);
        let ipc = Ipc::join(&manifest, &socket_dir, &store).await?;
        let bus: Arc<dyn EventBus> = match manifest.bus.kind {
            BusKind::Channel => {
                Arc::new(angzarr_bus_channel::ChannelBus::new(manifest.bus.capacity))
            }
            BusKind::None => Arc::new(NoBus),
        };
        let bus: Arc<dyn EventBus> = match &ipc {
            Some(ipc) => Arc::new(LocalAndIpc::new(bus, ipc.bus.clone())),
            None => bus,
        };
        let telemetry = Telemetry::default();
        store.instrument(telemetry.metrics.store());
        let logic_dir = socket_dir.subdir("logic")?;
        let specs = component_specs(&manifest, &logic_dir);
        let supervisor = Supervisor::start(specs)
            .await
            .map_err(|err| StartError::Component {
                component: "supervisor".into(),
                reason: err.to_string(),
            })?;
        let availability: Arc<dyn Availability> =
            Arc::new(SupervisorAvailability(supervisor.clone()));
        let admin = AdminEndpoint::new(
            store.clone(),
            availability.clone(),
            telemetry.clone(),
            manifest.admin.ready_max_lag,
        );
        let (stop, stop_rx) = watch::channel(false);
        let mut system = Self {
            manifest,
            socket_dir,
            store,
            supervisor,
            components: Vec::new(),
            stop,
            tasks: Vec::new(),
            ipc,
            telemetry,
            admin,
            availability,
        };
        // The admin endpoint answers while the components start (/readyz says they do).
        if let Err(err) = system.serve_admin(stop_rx.clone()) {
            system.shutdown().await;
            return Err(err);
        }
        let started = tokio::select! {
            started = system.start_components(bus, &logic_dir, stop_rx) => started,
            () = interrupt => Err(StartError::Interrupted),
        };
        if let Err(err) = started {
            system.shutdown().await;
            return Err(err);
        }
        Ok(system)
    }

    async fn start_components(
        &mut self,
        bus: Arc<dyn EventBus>,
        logic_dir: &std::path::Path,
        stop_rx: watch::Receiver<bool>,
    ) -> Result<(), StartError> {
        let timeout = Duration::from_secs_f64(self.manifest.supervisor.ready_timeout_secs);
        let names: Vec<String> = self.manifest.components.keys().cloned().collect();
        for name in &names {
            self.supervisor
                .wait_ready(name, timeout)
                .await
                .map_err(|err| StartError::Component {
                    component: name.clone(),
                    reason: err.to_string(),
                })?;
        }
        let availability = self.availability.clone();
        let store: Arc<dyn EventStore> = self.store.clone();
        let publisher = Arc::new(
            OrderedPublisher::new(bus.clone(), store.clone())
                .await
                .map_err(|err| StartError::Storage {
                    path: self.manifest.storage.path.clone(),
                    reason: err.to_string(),
                })?
                .with_traces(self.telemetry.traces.clone()),
        );

        // Every component describes itself; routing comes from the descriptors (§2.6).
        let mut components = Vec::new();
        for name in names {
            let kind = self.manifest.components[&name].kind;
            let logic_socket = logic_dir.join(format!("{name}.sock"));
            let channel = angzarr_transport::channel_lazy(&logic_socket);
            let descriptor = describe(&name, kind, channel.clone()).await?;
            components.push(Described {
                name,
                kind,
                logic_socket,
                channel,
                descriptor,
            });
        }
        check_topology(&components, self.ipc.is_some())?;

        let options = AggregateOptions {
            snapshot_every: self.manifest.aggregate.snapshot_every,
            max_conflict_retries: self.manifest.aggregate.max_conflict_retries,
            max_events_per_command: self.manifest.aggregate.max_events_per_command,
            history_cache_bytes: usize::try_from(self.manifest.aggregate.history_cache_mib)
                .unwrap_or(usize::MAX)
                .saturating_mul(1 << 20),
        };
        // One budget for every aggregate of this process.
        let histories = Arc::new(HistoryCache::new(options.history_cache_bytes));
        let coordinators: Vec<Arc<AggregateCoordinator>> = components
            .iter()
            .filter(|c| c.kind == ComponentKind::Aggregate)
            .map(|c| {
                let logic = GrpcAggregateLogic::new(
                    c.name.clone(),
                    c.channel.clone(),
                    availability.clone(),
                );
                Arc::new(
                    AggregateCoordinator::new(
                        c.name.clone(),
                        store.clone(),
                        publisher.clone(),
                        Arc::new(logic),
                        options.clone(),
                    )
                    .with_telemetry(&self.telemetry)
                    .with_history_cache(histories.clone()),
                )
            })
            .collect();
        let mut router = CommandRouter::new(coordinators.iter().cloned());
        if let Some(ipc) = &self.ipc {
            router = router.with_forwarding(Arc::new(Forwarder::new(
                ipc.dir.clone(),
                self.manifest.limits.max_message_bytes,
            )));
        }
        let router = Arc::new(router);
        let executor: Arc<dyn CommandExecutor> = router.clone();

        let registry = Arc::new(SyncRegistry::default());
        let delivery = DeliveryOptions {
            telemetry: self.telemetry.clone(),
            ..delivery_options(&self.manifest)
        };
        let mut subscribers = Vec::new();
        let mut remote_subscribers = Vec::new();
        for c in components
            .iter()
            .filter(|c| c.kind != ComponentKind::Aggregate)
        {
            let filter = EventFilter::from_targets(&c.descriptor.inputs);
            // Each subscriber also gets a constructor for the same component reading another
            // process's log (multi-process systems start those as the processes appear).
            let (subscriber, for_source): (Arc<dyn Subscriber>, ForSource) = match c.kind {
                ComponentKind::Projector => {
                    let projector = GrpcProjector::new(
                        c.name.clone(),
                        filter,
                        c.channel.clone(),
                        availability.clone(),
                    );
                    let shared = projector.clone();
                    (
                        Arc::new(projector),
                        Box::new(move |process: &str, filter| {
                            Arc::new(shared.for_source(process, filter)) as Arc<dyn Subscriber>
                        }),
                    )
                }
                ComponentKind::Saga => {
                    let saga = GrpcSaga::new(
                        c.name.clone(),
                        filter,
                        c.channel.clone(),
                        availability.clone(),
                        executor.clone(),
                    );
                    let shared = saga.clone();
                    (
                        Arc::new(saga),
                        Box::new(move |process: &str, filter| {
                            Arc::new(shared.for_source(process, filter)) as Arc<dyn Subscriber>
                        }),
                    )
                }
                ComponentKind::ProcessManager => {
                    let manager = GrpcProcessManager::new(
                        c.name.clone(),
                        filter,
                        c.channel.clone(),
                        availability.clone(),
                        executor.clone(),
                        store.clone(),
                        publisher.clone(),
                    );
                    let shared = manager.clone();
                    (
                        Arc::new(manager),
                        Box::new(move |process: &str, filter| {
                            Arc::new(shared.for_source(process, filter)) as Arc<dyn Subscriber>
                        }),
                    )
                }
                ComponentKind::Aggregate => continue,
            };
            remote_subscribers.push(RemoteSubscriber {
                name: c.name.clone(),
                inputs: c.descriptor.inputs.clone(),
                for_source,
            });
            let (handle, task) = angzarr_runtime::delivery::spawn(
                subscriber,
                store.clone(),
                &*bus,
                registry.clone(),
                delivery.clone(),
                stop_rx.clone(),
            );
            subscribers.push(handle);
            self.tasks.push(task);
        }
        let dispatcher = Arc::new(Dispatcher::new(
            router.clone(),
            subscribers.clone(),
            registry.clone(),
            Duration::from_secs_f64(self.manifest.delivery.sync_timeout_secs),
        ));

        for coordinator in &coordinators {
            let domain = coordinator.domain().to_string();
            let socket = self.socket_dir.socket_path(&domain);
            let service = BusinessCoordinatorService::with_dispatcher(
                coordinator.clone(),
                dispatcher.clone(),
            )
            .into_server(self.manifest.limits.max_message_bytes);
            self.tasks.push(serve_on(
                &socket,
                Routes::new(service),
                Health::FollowComponent {
                    supervisor: self.supervisor.clone(),
                    component: domain.clone(),
                    service: "angzarr.BusinessCoordinator",
                },
                stop_rx.clone(),
            )?);
        }
        for subscriber in &subscribers {
            let service = SubscriberCoordinatorService::new(
                subscriber.clone(),
                registry.clone(),
                Duration::from_secs_f64(self.manifest.delivery.sync_timeout_secs),
            );
            let (routes, service_name) = match subscriber.component_type() {
                "projector" => (
                    Routes::new(ProjectorCoordinatorServer::new(service)),
                    "angzarr.ProjectorCoordinator",
                ),
                "saga" => (
                    Routes::new(SagaCoordinatorServer::new(service)),
                    "angzarr.SagaCoordinator",
                ),
                // The documents define no coordinator service for process managers.
                _ => continue,
            };
            let name = subscriber.name().to_string();
            self.tasks.push(serve_on(
                &self.socket_dir.socket_path(&name),
                routes,
                Health::FollowComponent {
                    supervisor: self.supervisor.clone(),
                    component: name,
                    service: service_name,
                },
                stop_rx.clone(),
            )?);
        }
        let domains = components
            .iter()
            .filter(|c| {
                matches!(
                    c.kind,
                    ComponentKind::Aggregate | ComponentKind::ProcessManager
                )
            })
            .map(|c| c.name.clone())
            .collect();
        let gateway = GatewayService::new(
            dispatcher.clone(),
            store.clone(),
            bus.clone(),
            domains,
            gateway_options(&self.manifest),
            stop_rx.clone(),
        );
        let (editions, speculation) =
            gateway.what_if_servers(self.manifest.limits.max_message_bytes);
        let (commands, streams, queries) =
            gateway.into_servers(self.manifest.limits.max_message_bytes);
        self.tasks.push(serve_on(
            &self.socket_dir.socket_path("gateway"),
            Routes::new(commands)
                .add_service(streams)
                .add_service(queries)
                .add_service(editions)
                .add_service(speculation),
            Health::Always("angzarr.CommandGateway"),
            stop_rx.clone(),
        )?);
        let runtime_socket = self.socket_dir.socket_path("runtime");
        let peers = match &mut self.ipc {
            Some(ipc) => {
                let (system, task) = System::start(
                    ipc.dir.clone(),
                    remote_subscribers,
                    RemoteDeliveryOptions {
                        process: ipc.claim.registration().process.clone(),
                        store: store.clone(),
                        registry: registry.clone(),
                        delivery: delivery.clone(),
                    },
                    stop_rx.clone(),
                );
                self.tasks.push(task);
                if let Some(listener) = ipc.listener.take() {
                    self.tasks
                        .push(ipc.bus.serve_listener(listener, stop_rx.clone()));
                }
                Some(system)
            }
            None => None,
        };
        let runtime_service = RuntimeService::new(
            store.clone(),
            components.iter().map(|c| c.descriptor.clone()).collect(),
            subscribers,
            router,
            availability,
        )
        .with_telemetry(self.telemetry.clone());
        let runtime_service = match peers {
            Some(peers) => runtime_service.with_peers(peers),
            None => runtime_service,
        };
        self.admin.set_runtime(runtime_service.clone());
        #[cfg(feature = "otel")]
        self.export_metrics(stop_rx.clone())?;
        self.tasks.push(serve_on(
            &runtime_socket,
            Routes::new(runtime_service.into_server()),
            Health::Always("angzarr.Runtime"),
            stop_rx,
        )?);
        for c in components {
            let aggregate = c.kind == ComponentKind::Aggregate;
            let has_coordinator = c.kind != ComponentKind::ProcessManager;
            self.components.push(ComponentInfo {
                domain: aggregate.then(|| c.name.clone()),
                coordinator_socket: has_coordinator.then(|| self.socket_dir.socket_path(&c.name)),
                name: c.name,
                kind: c.kind,
                logic_socket: c.logic_socket,
            });
        }
        Ok(())
    }

    /// The components and their sockets.
    pub fn components(&self) -> &[ComponentInfo] {
        &self.components
    }

    /// The socket directory.
    pub fn socket_dir(&self) -> &std::path::Path {
        self.socket_dir.path()
    }

    /// The admin endpoint (status, readiness, metrics), also served on
    /// `<socket_dir>/admin.sock`.
    pub fn admin(&self) -> &AdminEndpoint {
        &self.admin
    }

    /// Binds `admin.sock` (and the configured TCP address) and serves the admin endpoint.
    fn serve_admin(&mut self, stop: watch::Receiver<bool>) -> Result<(), StartError> {
        let listener = angzarr_transport::bind(&self.socket_dir.socket_path("admin"))?;
        self.tasks.push(tokio::spawn(
            self.admin.clone().serve_unix(listener, stop.clone()),
        ));
        if let Some(address) = &self.manifest.admin.listen {
            let listener = std::net::TcpListener::bind(address)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .and_then(tokio::net::TcpListener::from_std)
                .map_err(|err| StartError::Component {
                    component: "admin".into(),
                    reason: format!("cannot listen on {address} (admin.listen): {err}"),
                })?;
            tracing::info!(%address, "admin endpoint listening on TCP");
            self.tasks
                .push(tokio::spawn(self.admin.clone().serve_tcp(listener, stop)));
        }
        Ok(())
    }

    /// Pushes the metrics to the OTLP endpoint every `metrics_interval_secs`, and once more
    /// when the runtime stops.
    #[cfg(feature = "otel")]
    fn export_metrics(&mut self, mut stop: watch::Receiver<bool>) -> Result<(), StartError> {
        let t = &self.manifest.telemetry;
        let Some(endpoint) = &t.otlp_endpoint else {
            return Ok(());
        };
        let exporter = angzarr_telemetry::otlp::MetricsExporter::new(endpoint, &t.service_name)
            .map_err(|err| StartError::Component {
                component: "telemetry".into(),
                reason: err.to_string(),
            })?;
        let interval = Duration::from_secs_f64(t.metrics_interval_secs);
        let admin = self.admin.clone();
        self.tasks.push(tokio::spawn(async move {
            loop {
                let stopping = tokio::select! {
                    () = tokio::time::sleep(interval) => false,
                    changed = stop.changed() => changed.is_err() || *stop.borrow(),
                };
                match admin.metric_families().await {
                    Ok(families) => {
                        if let Err(err) = exporter.export(&families).await {
                            tracing::warn!(%err, "cannot export metrics over OTLP");
                        }
                    }
                    Err(err) => tracing::warn!(%err, "cannot collect metrics"),
                }
                if stopping {
                    return;
                }
            }
        }));
        Ok(())
    }

    /// The supervisor (states, pids, restarts).
    pub fn supervisor(&self) -> &SupervisorHandle {
        &self.supervisor
    }

    /// The event store.
    pub fn store(&self) -> Arc<dyn EventStore> {
        self.store.clone()
    }

    /// A human-readable account of what runs where.
    pub fn summary(&self) -> String {
        let mut out = String::from("angzarr-standalone is running\n");
        let storage = &self.manifest.storage;
        let durability = match storage.durability {
            Durability::Full => "full",
            Durability::Normal => "normal",
        };
        let _ = writeln!(
            out,
            "  store    {} (durability {durability})",
            storage.path.display()
        );
        let _ = writeln!(out, "  sockets  {}", self.socket_dir.path().display());
        if let Some(ipc) = &self.ipc {
            let r = ipc.claim.registration();
            let _ = writeln!(
                out,
                "  process  {} in {} (owns {})",
                r.process,
                ipc.dir.path().display(),
                r.domains.join(", ")
            );
        }
        for c in &self.components {
            let pid = self
                .supervisor
                .pid(&c.name)
                .map_or_else(|| "-".to_string(), |p| p.to_string());
            let _ = writeln!(
                out,
                "  {:<20} {:<10} pid {:<8} coordinator {}",
                c.name,
                c.kind.as_str(),
                pid,
                c.coordinator_socket
                    .as_ref()
                    .map_or_else(|| "-".into(), |p| p.display().to_string()),
            );
        }
        out.push_str("Stop with Ctrl-C (SIGINT) or SIGTERM.");
        out
    }

    /// Stops serving, stops every component (SIGTERM, grace, SIGKILL) and closes the store.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = std::fs::remove_file(self.socket_dir.socket_path("admin"));
        for task in self.tasks {
            let _ = task.await;
        }
        self.supervisor.shutdown().await;
        for c in &self.components {
            if let Some(socket) = &c.coordinator_socket {
                let _ = std::fs::remove_file(socket);
            }
        }
        self.store.close().await;
    }
}

fn open_store(manifest: &Manifest) -> Result<SqliteEventStore, StartError> {
    let path = manifest.storage.path.clone();
    let fail = |reason: String| StartError::Storage {
        path: path.clone(),
        reason,
    };
    if path != std::path::Path::new(":memory:")
        && let Some(parent) = path.parent()
    {
        std::fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
    }
    let durability = match manifest.storage.durability {
        Durability::Full => angzarr_storage_sqlite::Durability::Full,
        Durability::Normal => angzarr_storage_sqlite::Durability::Normal,
    };
    SqliteEventStore::open(
        SqliteOptions::new(path.clone())
            .with_durability(durability)
            .with_max_queued_writes(manifest.storage.max_queued_writes)
            .with_known_keys_bytes(
                usize::try_from(manifest.storage.known_keys_mib)
                    .unwrap_or(usize::MAX)
                    .saturating_mul(1 << 20),
            )
            .with_mmap_bytes(u64::from(manifest.storage.mmap_mib) << 20),
    )
    .map_err(|e| fail(e.to_string()))
}

fn component_specs(manifest: &Manifest, logic_dir: &std::path::Path) -> Vec<ComponentSpec> {
    let s = &manifest.supervisor;
    let t = &manifest.telemetry;
    manifest
        .components
        .iter()
        .map(|(name, c)| {
            let mut spec = ComponentSpec::new(
                name.clone(),
                c.command.clone(),
                logic_dir.join(format!("{name}.sock")),
            );
            spec.working_dir = c.working_dir.clone();
            spec.env = c.env.clone();
            if let Some(endpoint) = t.otlp_endpoint.as_ref().filter(|_| t.pass_to_components) {
                // The client libraries export the component's spans to the same place.
                spec.env
                    .entry("OTEL_EXPORTER_OTLP_ENDPOINT".into())
                    .or_insert_with(|| endpoint.clone());
                spec.env
                    .entry("OTEL_SERVICE_NAME".into())
                    .or_insert_with(|| name.clone());
            }
            spec.ready_timeout = Duration::from_secs_f64(s.ready_timeout_secs);
            spec.stop_grace = Duration::from_secs_f64(s.stop_grace_secs);
            spec.restart = RestartPolicy {
                initial_backoff: Duration::from_secs_f64(s.restart_backoff_secs),
                max_backoff: Duration::from_secs_f64(s.max_restart_backoff_secs),
                max_restarts: s.max_restarts,
                window: Duration::from_secs_f64(s.crash_loop_window_secs),
                ..RestartPolicy::default()
            };
            spec
        })
        .collect()
}

/// How long servers wait for open calls when the runtime stops.
const SERVER_STOP_GRACE: Duration = Duration::from_secs(5);

/// What a socket's gRPC health reports.
enum Health {
    /// SERVING while the supervisor has this component up, NOT_SERVING otherwise.
    FollowComponent {
        supervisor: SupervisorHandle,
        component: String,
        service: &'static str,
    },
    /// Always SERVING (the runtime's own services).
    Always(&'static str),
}

/// Serves `routes` on a Unix socket, with gRPC health and server reflection.
fn serve_on(
    socket: &std::path::Path,
    routes: Routes,
    health: Health,
    mut stop: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, StartError> {
    let listener = angzarr_transport::bind(socket)?;
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(angzarr_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| StartError::Topology(format!("reflection: {e}")))?;
    let socket_display = socket.display().to_string();
    Ok(tokio::spawn(async move {
        let health_task = tokio::spawn(report_health(reporter, health));
        let mut stop_again = stop.clone();
        let shutdown = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        let server = tonic::transport::Server::builder()
            .add_routes(routes.add_service(health_service).add_service(reflection))
            .serve_with_incoming_shutdown(angzarr_transport::incoming(listener), shutdown);
        // Graceful, but bounded: a client that keeps a call open cannot hold up the stop.
        let deadline = async move {
            let _ = stop_again.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(SERVER_STOP_GRACE).await;
        };
        let result = tokio::select! {
            result = server => result,
            () = deadline => {
                tracing::warn!(socket = %socket_display, "calls still open after {SERVER_STOP_GRACE:?}; closing them");
                Ok(())
            }
        };
        health_task.abort();
        if let Err(err) = result {
            tracing::error!(socket = %socket_display, %err, "gRPC server failed");
        }
    }))
}

async fn report_health(reporter: tonic_health::server::HealthReporter, health: Health) {
    match health {
        Health::Always(service) => {
            reporter
                .set_service_status(service, ServingStatus::Serving)
                .await;
            reporter
                .set_service_status("", ServingStatus::Serving)
                .await;
        }
        Health::FollowComponent {
            supervisor,
            component,
            service,
        } => {
            let Some(mut states) = supervisor.watch(&component) else {
                return;
            };
            loop {
                let status = match *states.borrow_and_update() {
                    ComponentState::Serving => ServingStatus::Serving,
                    _ => ServingStatus::NotServing,
                };
                reporter.set_service_status(service, status).await;
                reporter.set_service_status("", status).await;
                if states.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

fn gateway_options(manifest: &Manifest) -> GatewayOptions {
    GatewayOptions {
        stream_buffer: manifest.limits.stream_buffer,
        slow_client_timeout: Duration::from_secs_f64(manifest.limits.slow_client_timeout_secs),
        poll_interval: Duration::from_secs_f64(manifest.delivery.poll_interval_secs),
    }
}

fn delivery_options(manifest: &Manifest) -> DeliveryOptions {
    let d = &manifest.delivery;
    DeliveryOptions {
        max_attempts: d.max_attempts,
        initial_backoff: Duration::from_secs_f64(d.retry_backoff_secs),
        max_backoff: Duration::from_secs_f64(d.max_retry_backoff_secs),
        poll_interval: Duration::from_secs_f64(d.poll_interval_secs),
        ..DeliveryOptions::default()
    }
}

/// A started component and what it says about itself.
struct Described {
    name: String,
    kind: ComponentKind,
    logic_socket: PathBuf,
    channel: tonic::transport::Channel,
    descriptor: ComponentDescriptor,
}

/// Asks a component for its descriptor and checks it against the manifest.
async fn describe(
    name: &str,
    kind: ComponentKind,
    channel: tonic::transport::Channel,
) -> Result<ComponentDescriptor, StartError> {
    let request = GetDescriptorRequest {};
    let answer = match kind {
        ComponentKind::Aggregate => {
            BusinessLogicClient::new(channel)
                .get_descriptor(request)
                .await
        }
        ComponentKind::Projector => ProjectorClient::new(channel).get_descriptor(request).await,
        ComponentKind::Saga => SagaClient::new(channel).get_descriptor(request).await,
        ComponentKind::ProcessManager => {
            ProcessManagerClient::new(channel)
                .get_descriptor(request)
                .await
        }
    };
    let descriptor =
        answer
            .map(tonic::Response::into_inner)
            .map_err(|status| StartError::Component {
                component: name.to_string(),
                reason: format!(
                    "GetDescriptor failed: {} (a {} must serve angzarr.{})",
                    status.message(),
                    kind.as_str(),
                    service_name(kind)
                ),
            })?;
    if descriptor.component_type != kind.as_str() {
        return Err(StartError::Topology(format!(
            "component {name} is listed as {:?} in the manifest but describes itself as {:?}",
            kind.as_str(),
            descriptor.component_type
        )));
    }
    if descriptor.name != name {
        return Err(StartError::Topology(format!(
            "component {name} describes itself as {:?}; a component must use its manifest name (an aggregate's name is its domain)",
            descriptor.name
        )));
    }
    Ok(descriptor)
}

fn service_name(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Aggregate => "BusinessLogic",
        ComponentKind::Projector => "Projector",
        ComponentKind::Saga => "Saga",
        ComponentKind::ProcessManager => "ProcessManager",
    }
}

/// Checks the descriptors against each other: subscribers subscribe to something, and every
/// domain a saga or process manager sends commands to is served here.
/// Commands to domains no aggregate here serves are refused, unless this process is part of a
/// multi-process system (`multi_process`): then another process owns them, and a command
/// for a domain whose owner is not running is `UNAVAILABLE` naming that process.
fn check_topology(components: &[Described], multi_process: bool) -> Result<(), StartError> {
    let domains: Vec<&str> = components
        .iter()
        .filter(|c| c.kind == ComponentKind::Aggregate)
        .map(|c| c.name.as_str())
        .collect();
    for c in components
        .iter()
        .filter(|c| c.kind != ComponentKind::Aggregate)
    {
        if c.descriptor.inputs.is_empty() {
            return Err(StartError::Topology(format!(
                "{} {} subscribes to nothing: its descriptor has no inputs",
                c.kind.as_str(),
                c.name
            )));
        }
        if !multi_process && matches!(c.kind, ComponentKind::Saga | ComponentKind::ProcessManager) {
            for output in &c.descriptor.outputs {
                if !domains.contains(&output.domain.as_str()) {
                    return Err(StartError::Topology(format!(
                        "{} {} sends commands to domain {:?}, which no aggregate of this manifest serves (aggregates: {})",
                        c.kind.as_str(),
                        c.name,
                        output.domain,
                        domains.join(", ")
                    )));
                }
            }
        }
    }
    Ok(())
}
