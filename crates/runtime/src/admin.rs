//! `angzarr.Runtime`: the topology of the running system and its parked events; and the
//! status, readiness and scrape-time gauges the admin endpoint ([`http`]) serves.

pub mod http;

use std::collections::BTreeMap;
use std::sync::Arc;

use angzarr_proto::runtime_server::{Runtime, RuntimeServer};
use angzarr_proto::{
    ComponentDescriptor, ListParkedRequest, ListParkedResponse, ParkedEvent, ProcessInfo,
    RedriveRequest, RedriveResponse, SourceCheckpoint, Topology, TopologyEdge, TopologyNode,
    TopologyRequest,
};
use tonic::{Request, Response, Status};

use crate::delivery::SubscriberHandle;
use crate::error::{Error, Result};
use crate::logic::Availability;
use crate::metrics::Telemetry;
use crate::router::CommandRouter;
use crate::storage::{EventStore, ParkedRecord, event_book};
use angzarr_telemetry::metrics::{MetricFamily, Sample};

/// The runtime's own service.
#[derive(Clone)]
pub struct RuntimeService {
    store: Arc<dyn EventStore>,
    descriptors: Vec<ComponentDescriptor>,
    subscribers: Vec<SubscriberHandle>,
    router: Arc<CommandRouter>,
    availability: Arc<dyn Availability>,
    telemetry: Telemetry,
    peers: Option<Arc<dyn Peers>>,
}

/// The other runtime processes of a multi-process system, as this one sees them.
#[tonic::async_trait]
pub trait Peers: Send + Sync + 'static {
    /// This process's name in the system.
    fn process(&self) -> &str;

    /// The delivery workers reading other processes' logs (started as their owners appear).
    fn remote_subscribers(&self) -> Vec<SubscriberHandle>;

    /// Every process of the system, this one first, each with its own topology
    /// (`local_only`) when it answers.
    async fn processes(&self, head_position: u64) -> Vec<(ProcessInfo, Option<Topology>)>;
}

impl std::fmt::Debug for RuntimeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeService")
            .field("components", &self.descriptors.len())
            .finish_non_exhaustive()
    }
}

impl RuntimeService {
    /// The service over the running system: every component's descriptor, the subscribers'
    /// handles, the command router and the components' availability.
    pub fn new(
        store: Arc<dyn EventStore>,
        descriptors: Vec<ComponentDescriptor>,
        subscribers: Vec<SubscriberHandle>,
        router: Arc<CommandRouter>,
        availability: Arc<dyn Availability>,
    ) -> Self {
        Self {
            store,
            descriptors,
            subscribers,
            router,
            availability,
            telemetry: Telemetry::default(),
            peers: None,
        }
    }

    /// This service showing the whole multi-process system, not only this process.
    pub fn with_peers(mut self, peers: Arc<dyn Peers>) -> Self {
        self.peers = Some(peers);
        self
    }

    /// The topology of this process, or (`local_only` false, multi-process) of the whole
    /// system: every process's nodes tagged with the process, and the processes themselves.
    pub async fn system_topology(&self, local_only: bool) -> Result<Topology> {
        let mut topology = self.topology().await?;
        let Some(peers) = &self.peers else {
            return Ok(topology);
        };
        let remote = peers.remote_subscribers();
        for node in &mut topology.nodes {
            node.process = peers.process().to_string();
            node.sources = remote
                .iter()
                .filter(|s| s.name() == node.name)
                .map(|s| SourceCheckpoint {
                    process: s.source().unwrap_or_default().to_string(),
                    checkpoint: s.position(),
                })
                .collect();
        }
        for handle in &remote {
            for (domain, count) in handle.delivered_by_domain() {
                if let Some(edge) = topology
                    .edges
                    .iter_mut()
                    .find(|e| e.to == handle.name() && e.domain == domain)
                {
                    edge.count += count;
                }
            }
        }
        if local_only {
            return Ok(topology);
        }
        for (info, theirs) in peers.processes(topology.head_position).await {
            if info.name != peers.process()
                && let Some(theirs) = theirs
            {
                topology.nodes.extend(theirs.nodes);
                topology.edges.extend(theirs.edges);
            }
            topology.processes.push(info);
        }
        Ok(topology)
    }

    /// This service reporting the counters of `telemetry` in its metrics.
    pub fn with_telemetry(mut self, telemetry: Telemetry) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Every component's state, process and (for subscribers) delivery progress.
    pub async fn status(&self) -> Result<SystemStatus> {
        let head = self.store.head_position().await?;
        let mut parked: BTreeMap<String, u64> = BTreeMap::new();
        for record in self.store.list_parked(None).await? {
            *parked.entry(record.subscriber).or_default() += 1;
        }
        let now = std::time::SystemTime::now();
        let mut components = Vec::new();
        for descriptor in &self.descriptors {
            let name = descriptor.name.as_str();
            let delivery = match self.subscriber(name) {
                Some(subscriber) => {
                    let checkpoint = subscriber.position();
                    Some(DeliveryStatus {
                        checkpoint,
                        lag_positions: head.saturating_sub(checkpoint),
                        lag_seconds: self.lag_seconds(checkpoint, head, now).await?,
                        parked: parked.get(name).copied().unwrap_or_default(),
                    })
                }
                None => None,
            };
            components.push(ComponentStatus {
                component_type: descriptor.component_type.clone(),
                ..component_status(&*self.availability, name, delivery)
            });
        }
        Ok(SystemStatus {
            head_position: head,
            components,
        })
    }

    /// How long the oldest event a subscriber at `checkpoint` has not handled has been
    /// waiting (0 when it is caught up).
    async fn lag_seconds(
        &self,
        checkpoint: u64,
        head: u64,
        now: std::time::SystemTime,
    ) -> Result<f64> {
        if checkpoint >= head {
            return Ok(0.0);
        }
        let Some(next) = self
            .store
            .read_global(checkpoint, 1)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(0.0);
        };
        let created = std::time::SystemTime::try_from(next.created_at).unwrap_or(now);
        Ok(now
            .duration_since(created)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default())
    }

    /// The metrics of a scrape: the runtime's counters and histograms, and gauges computed
    /// from `status` (log head, checkpoints, lag, parked events, component states, restarts).
    pub fn metric_families(&self, status: &SystemStatus, ready: bool) -> Vec<MetricFamily> {
        let mut families = self.telemetry.metrics.collect();
        families.extend(status_families(status, ready));
        families
    }

    /// The tonic server.
    pub fn into_server(self) -> RuntimeServer<Self> {
        RuntimeServer::new(self)
    }

    /// The topology: components as nodes; descriptor inputs and outputs as edges, with the
    /// number of events delivered (inputs) or commands sent (outputs) since start.
    pub async fn topology(&self) -> Result<Topology> {
        let parked = self.store.list_parked(None).await?;
        let command_counts = self.router.counts();
        let mut nodes = Vec::new();
        let mut edges = Vec::new();
        for descriptor in &self.descriptors {
            let subscriber = self.subscriber(&descriptor.name);
            nodes.push(TopologyNode {
                name: descriptor.name.clone(),
                component_type: descriptor.component_type.clone(),
                state: self
                    .availability
                    .unavailable_reason(&descriptor.name)
                    .unwrap_or_else(|| "serving".into()),
                checkpoint: subscriber.map_or(0, SubscriberHandle::position),
                parked: parked
                    .iter()
                    .filter(|p| p.subscriber == descriptor.name)
                    .count() as u64,
                pid: self.availability.pid(&descriptor.name).unwrap_or_default(),
                restarts: self.availability.restarts(&descriptor.name),
                ..TopologyNode::default()
            });
            let delivered = subscriber
                .map(SubscriberHandle::delivered_by_domain)
                .unwrap_or_default();
            let is_aggregate = descriptor.component_type == "aggregate";
            for input in &descriptor.inputs {
                let count = if is_aggregate {
                    command_counts
                        .iter()
                        .filter(|((_, domain), _)| *domain == input.domain)
                        .map(|(_, count)| count)
                        .sum()
                } else {
                    delivered.get(&input.domain).copied().unwrap_or_default()
                };
                edges.push(TopologyEdge {
                    from: if is_aggregate {
                        "clients".into()
                    } else {
                        input.domain.clone()
                    },
                    to: descriptor.name.clone(),
                    domain: input.domain.clone(),
                    types: input.types.clone(),
                    count,
                });
            }
            for output in &descriptor.outputs {
                edges.push(TopologyEdge {
                    from: descriptor.name.clone(),
                    to: output.domain.clone(),
                    domain: output.domain.clone(),
                    types: output.types.clone(),
                    count: command_counts
                        .get(&(descriptor.name.clone(), output.domain.clone()))
                        .copied()
                        .unwrap_or_default(),
                });
            }
        }
        Ok(Topology {
            nodes,
            edges,
            head_position: self.store.head_position().await?,
            processes: Vec::new(),
        })
    }

    /// The component names it describes, in order.
    pub fn component_names(&self) -> Vec<String> {
        self.descriptors.iter().map(|d| d.name.clone()).collect()
    }

    fn subscriber(&self, name: &str) -> Option<&SubscriberHandle> {
        self.subscribers.iter().find(|s| s.name() == name)
    }

    /// The worker whose checkpoint (and parked records) are named `name`.
    fn worker(&self, name: &str) -> Option<SubscriberHandle> {
        let remote = self
            .peers
            .as_ref()
            .map(|p| p.remote_subscribers())
            .unwrap_or_default();
        self.subscribers
            .iter()
            .chain(remote.iter())
            .find(|s| s.checkpoint_name() == name)
            .cloned()
    }

    async fn describe(&self, record: ParkedRecord) -> Result<ParkedEvent> {
        // The event is in the log the worker reads (another process's, for `<name>@<process>`).
        let event = match self.worker(&record.subscriber) {
            Some(worker) => worker.event_at(record.position).await.ok().flatten(),
            None => self
                .store
                .read_global(record.position.saturating_sub(1), 1)
                .await?
                .into_iter()
                .find(|e| e.position == record.position),
        }
        .map(|e| event_book(&e.key, &e.correlation_id, std::slice::from_ref(&e)));
        Ok(ParkedEvent {
            id: record.id,
            subscriber: record.subscriber,
            position: record.position,
            error: record.error,
            attempts: record.attempts,
            parked_at: Some(record.parked_at),
            event,
        })
    }

    /// Parked events, oldest first (all subscribers when `subscriber` is empty).
    pub async fn list_parked(&self, subscriber: &str) -> Result<Vec<ParkedEvent>> {
        let filter = (!subscriber.is_empty()).then_some(subscriber);
        let mut parked = Vec::new();
        for record in self.store.list_parked(filter).await? {
            parked.push(self.describe(record).await?);
        }
        Ok(parked)
    }

    /// Re-drives one parked event (by id) or all of one subscriber's.
    pub async fn redrive(&self, request: RedriveRequest) -> Result<RedriveResponse> {
        let records: Vec<ParkedRecord> = match (request.id, request.subscriber.as_str()) {
            (0, "") => {
                return Err(Error::InvalidArgument(
                    "name a parked event (id) or a subscriber".into(),
                ));
            }
            (0, subscriber) => self.store.list_parked(Some(subscriber)).await?,
            (id, _) => {
                let record = self
                    .store
                    .list_parked(None)
                    .await?
                    .into_iter()
                    .find(|r| r.id == id)
                    .ok_or_else(|| Error::NotFound(format!("no parked event with id {id}")))?;
                vec![record]
            }
        };
        let mut response = RedriveResponse::default();
        for record in records {
            let subscriber = self.worker(&record.subscriber).ok_or_else(|| {
                Error::NotFound(format!(
                    "parked event {} belongs to {:?}, which is not running here",
                    record.id, record.subscriber
                ))
            })?;
            let id = record.id;
            if subscriber.redrive(record).await? {
                response.redelivered += 1;
            } else if let Some(still) = self
                .store
                .list_parked(Some(subscriber.checkpoint_name()))
                .await?
                .into_iter()
                .find(|r| r.id == id)
            {
                response.still_parked.push(self.describe(still).await?);
            }
        }
        Ok(response)
    }
}

/// The whole system at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemStatus {
    /// The global position of the last stored event.
    pub head_position: u64,
    /// Every component, in manifest order.
    pub components: Vec<ComponentStatus>,
}

/// One component at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentStatus {
    /// Its name.
    pub name: String,
    /// `aggregate`, `saga`, `projector`, `process_manager` (empty while still starting).
    pub component_type: String,
    /// One word: `serving`, `starting`, `restarting`, `failed`, `stopping`, `stopped`.
    pub state: String,
    /// Why it is not serving, for people.
    pub detail: Option<String>,
    /// Its process id (0 when none runs).
    pub pid: u32,
    /// How often it was restarted.
    pub restarts: u32,
    /// Delivery progress (subscribers only).
    pub delivery: Option<DeliveryStatus>,
}

/// How far a subscriber is.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryStatus {
    /// The global position it has handled.
    pub checkpoint: u64,
    /// Positions between the log head and its checkpoint.
    pub lag_positions: u64,
    /// Age of the oldest event it has not handled (0 when caught up).
    pub lag_seconds: f64,
    /// Events it gave up on.
    pub parked: u64,
}

/// Whether the system can take work; when not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Every component serving, every subscriber within the lag bound.
    pub ready: bool,
    /// One line per thing that is not ready.
    pub reasons: Vec<String>,
}

impl SystemStatus {
    /// Ready when every component serves and no subscriber is more than `max_lag` positions
    /// behind the log head.
    pub fn readiness(&self, max_lag: u64) -> Readiness {
        let mut reasons = Vec::new();
        for c in &self.components {
            if c.state != "serving" {
                reasons.push(match &c.detail {
                    Some(detail) => format!("{} is {}", c.name, detail),
                    None => format!("{} is {}", c.name, c.state),
                });
            }
            if let Some(d) = &c.delivery
                && d.lag_positions > max_lag
            {
                reasons.push(format!(
                    "{} is {} positions behind the log head (the bound is {max_lag})",
                    c.name, d.lag_positions
                ));
            }
        }
        Readiness {
            ready: reasons.is_empty(),
            reasons,
        }
    }
}

/// The status of `name` as `availability` sees it (no descriptor, no delivery yet).
pub fn component_status(
    availability: &dyn Availability,
    name: &str,
    delivery: Option<DeliveryStatus>,
) -> ComponentStatus {
    ComponentStatus {
        name: name.to_string(),
        component_type: String::new(),
        state: availability.state_name(name).to_string(),
        detail: availability.unavailable_reason(name),
        pid: availability.pid(name).unwrap_or_default(),
        restarts: availability.restarts(name),
        delivery,
    }
}

/// The gauges of a status.
pub fn status_families(status: &SystemStatus, ready: bool) -> Vec<MetricFamily> {
    let subscribers: Vec<(&str, &DeliveryStatus)> = status
        .components
        .iter()
        .filter_map(|c| c.delivery.as_ref().map(|d| (c.name.as_str(), d)))
        .collect();
    let per_subscriber = |value: fn(&DeliveryStatus) -> f64| {
        subscribers
            .iter()
            .map(|(name, d)| Sample::number(&[("subscriber", name)], value(d)))
            .collect()
    };
    let per_component = |value: fn(&ComponentStatus) -> f64| {
        status
            .components
            .iter()
            .map(|c| Sample::number(&[("component", &c.name)], value(c)))
            .collect()
    };
    vec![
        MetricFamily::gauge(
            "angzarr_ready",
            "1 when every component serves and every subscriber is within the lag bound (/readyz).",
            vec![Sample::number(&[], if ready { 1.0 } else { 0.0 })],
        ),
        MetricFamily::gauge(
            "angzarr_log_head_position",
            "Global position of the last stored event.",
            vec![Sample::number(&[], status.head_position as f64)],
        ),
        MetricFamily::gauge(
            "angzarr_subscriber_checkpoint_position",
            "Global position a subscriber has handled.",
            per_subscriber(|d| d.checkpoint as f64),
        ),
        MetricFamily::gauge(
            "angzarr_subscriber_lag_positions",
            "Positions between the log head and a subscriber's checkpoint.",
            per_subscriber(|d| d.lag_positions as f64),
        ),
        MetricFamily::gauge(
            "angzarr_subscriber_lag_seconds",
            "Age of the oldest event a subscriber has not handled yet (0 when caught up).",
            per_subscriber(|d| d.lag_seconds),
        ),
        MetricFamily::gauge(
            "angzarr_parked_events",
            "Events a subscriber gave up on that are still parked.",
            per_subscriber(|d| d.parked as f64),
        ),
        MetricFamily::gauge(
            "angzarr_component_up",
            "1 while a component serves, 0 otherwise.",
            per_component(|c| if c.state == "serving" { 1.0 } else { 0.0 }),
        ),
        MetricFamily::gauge(
            "angzarr_component_state",
            "A component's state, as a label (the value is always 1).",
            status
                .components
                .iter()
                .map(|c| Sample::number(&[("component", &c.name), ("state", &c.state)], 1.0))
                .collect(),
        ),
        MetricFamily::counter(
            "angzarr_component_restarts_total",
            "Times a component's process was restarted.",
            per_component(|c| f64::from(c.restarts)),
        ),
    ]
}

#[tonic::async_trait]
impl Runtime for RuntimeService {
    async fn get_topology(
        &self,
        request: Request<TopologyRequest>,
    ) -> std::result::Result<Response<Topology>, Status> {
        self.system_topology(request.into_inner().local_only)
            .await
            .map(Response::new)
            .map_err(|e| e.to_status())
    }

    async fn list_parked(
        &self,
        request: Request<ListParkedRequest>,
    ) -> std::result::Result<Response<ListParkedResponse>, Status> {
        let subscriber = request.into_inner().subscriber;
        RuntimeService::list_parked(self, &subscriber)
            .await
            .map(|parked| Response::new(ListParkedResponse { parked }))
            .map_err(|e| e.to_status())
    }

    async fn redrive(
        &self,
        request: Request<RedriveRequest>,
    ) -> std::result::Result<Response<RedriveResponse>, Status> {
        RuntimeService::redrive(self, request.into_inner())
            .await
            .map(Response::new)
            .map_err(|e| e.to_status())
    }
}
