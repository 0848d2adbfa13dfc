//! `angzarr.Runtime`: the topology of the running system and its parked events.

use std::sync::Arc;

use angzarr_proto::runtime_server::{Runtime, RuntimeServer};
use angzarr_proto::{
    ComponentDescriptor, ListParkedRequest, ListParkedResponse, ParkedEvent, RedriveRequest,
    RedriveResponse, Topology, TopologyEdge, TopologyNode, TopologyRequest,
};
use tonic::{Request, Response, Status};

use crate::delivery::SubscriberHandle;
use crate::error::{Error, Result};
use crate::logic::Availability;
use crate::router::CommandRouter;
use crate::storage::{EventStore, ParkedRecord, event_book};

/// The runtime's own service.
#[derive(Clone)]
pub struct RuntimeService {
    store: Arc<dyn EventStore>,
    descriptors: Vec<ComponentDescriptor>,
    subscribers: Vec<SubscriberHandle>,
    router: Arc<CommandRouter>,
    availability: Arc<dyn Availability>,
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
        }
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
        })
    }

    fn subscriber(&self, name: &str) -> Option<&SubscriberHandle> {
        self.subscribers.iter().find(|s| s.name() == name)
    }

    async fn describe(&self, record: ParkedRecord) -> Result<ParkedEvent> {
        let event = self
            .store
            .read_global(record.position.saturating_sub(1), 1)
            .await?
            .into_iter()
            .find(|e| e.position == record.position)
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
            let subscriber = self.subscriber(&record.subscriber).ok_or_else(|| {
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
                .list_parked(Some(subscriber.name()))
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

#[tonic::async_trait]
impl Runtime for RuntimeService {
    async fn get_topology(
        &self,
        _request: Request<TopologyRequest>,
    ) -> std::result::Result<Response<Topology>, Status> {
        self.topology()
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
