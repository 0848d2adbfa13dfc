//! Routing commands to aggregates, and the synchronous modes of a command.
//!
//! [`CommandRouter`] sends a command to the coordinator of its domain; sagas and process
//! managers use it for the commands they emit. [`Dispatcher`] is what clients reach: it runs
//! the command and then, per `CommandBook.sync_mode` (product documents, "Synchronous
//! Operation Patterns"):
//!
//! - `NONE`: returns after the append; subscribers get the events asynchronously.
//! - `SIMPLE`: also waits until every projector subscribed to the command's events has handled
//!   them, and returns their projections.
//! - `CASCADE`: also waits for the sagas and process managers subscribed to the events, follows
//!   the commands they emitted (recursively, breadth first), and returns the projections of
//!   everything the cascade stored.
//!
//! Synchronous modes never deliver anything themselves: the command registers its correlation
//! id, the subscribers' workers deliver through their normal ordered path (using the
//! components' synchronous forms for that correlation id) and record the outcomes, and the
//! dispatcher waits for the workers' positions. So each subscriber sees each event once,
//! whatever the mode.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use angzarr_proto::{CommandBook, CommandResponse, EventBook, Projection, SyncMode};
use async_trait::async_trait;
use tokio::time::Instant;
use tracing::warn;

use crate::aggregate::AggregateCoordinator;
use crate::delivery::{Outcome, SubscriberHandle, SyncInterest, SyncRegistry};
use crate::error::{Error, Result};

/// Executes a command against the aggregate of its domain.
#[async_trait]
pub trait CommandExecutor: Send + Sync + 'static {
    /// Runs the command (ignoring its sync mode).
    async fn execute(&self, command: CommandBook) -> Result<CommandResponse>;
}

/// Domains another process of the system owns: commands for them are forwarded to it.
#[async_trait]
pub trait Forwarding: Send + Sync + 'static {
    /// Runs `command` at the process that owns its domain, as sent (correlation id,
    /// causation, idempotency key and sync mode kept). `NotFound` when no process owns the
    /// domain; `Unavailable`, naming the process, when its owner is not running.
    async fn forward(&self, command: CommandBook) -> Result<CommandResponse>;
}

/// Sends commands to the coordinator of their domain.
#[derive(Default)]
pub struct CommandRouter {
    coordinators: HashMap<String, Arc<AggregateCoordinator>>,
    /// Where commands for other domains go (multi-process systems).
    forwarding: Option<Arc<dyn Forwarding>>,
    /// Commands routed per (origin component, domain); origin "" is a client.
    counts: Mutex<BTreeMap<(String, String), u64>>,
}

impl std::fmt::Debug for CommandRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandRouter")
            .field("domains", &self.coordinators.keys().collect::<Vec<_>>())
            .field("forwarding", &self.forwarding.is_some())
            .finish_non_exhaustive()
    }
}

impl CommandRouter {
    /// A router over these coordinators.
    pub fn new(coordinators: impl IntoIterator<Item = Arc<AggregateCoordinator>>) -> Self {
        Self {
            coordinators: coordinators
                .into_iter()
                .map(|c| (c.domain().to_string(), c))
                .collect(),
            forwarding: None,
            counts: Mutex::default(),
        }
    }

    /// This router forwarding commands for domains it does not serve to `forwarding`.
    pub fn with_forwarding(mut self, forwarding: Arc<dyn Forwarding>) -> Self {
        self.forwarding = Some(forwarding);
        self
    }

    /// Whether a command for `domain` leaves this process.
    pub fn forwards(&self, domain: &str) -> bool {
        !self.serves(domain) && self.forwarding.is_some()
    }

    /// Commands routed since start per (origin component, domain); origin "" is a client.
    pub fn counts(&self) -> BTreeMap<(String, String), u64> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The coordinator of a domain.
    pub fn coordinator(&self, domain: &str) -> Option<&Arc<AggregateCoordinator>> {
        self.coordinators.get(domain)
    }

    /// Whether some aggregate serves `domain`.
    pub fn serves(&self, domain: &str) -> bool {
        self.coordinators.contains_key(domain)
    }
}

#[async_trait]
impl CommandExecutor for CommandRouter {
    async fn execute(&self, command: CommandBook) -> Result<CommandResponse> {
        let domain = command
            .cover
            .as_ref()
            .map(|c| c.domain.as_str())
            .unwrap_or_default();
        let coordinator = self.coordinators.get(domain);
        let forwarding = match (coordinator, &self.forwarding) {
            (None, None) => {
                return Err(Error::NotFound(format!(
                    "no aggregate serves domain {domain:?}"
                )));
            }
            (None, Some(forwarding)) => Some(forwarding.clone()),
            (Some(_), _) => None,
        };
        let origin = command
            .saga_origin
            .as_ref()
            .map(|o| o.saga_name.clone())
            .unwrap_or_default();
        *self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((origin, domain.to_string()))
            .or_default() += 1;
        match (coordinator, forwarding) {
            (Some(coordinator), _) => coordinator.handle(command).await,
            (None, Some(forwarding)) => forwarding.forward(command).await,
            (None, None) => Err(Error::NotFound(format!(
                "no aggregate serves domain {domain:?}"
            ))),
        }
    }
}

/// Runs client commands with their sync mode (see the module docs).
pub struct Dispatcher {
    router: Arc<CommandRouter>,
    subscribers: Vec<SubscriberHandle>,
    registry: Arc<SyncRegistry>,
    sync_timeout: Duration,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("subscribers", &self.subscribers.len())
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher over `router`; `subscribers` are the running delivery workers, which
    /// record outcomes in `registry`. A synchronous command waits at most `sync_timeout` for
    /// the subscribers.
    pub fn new(
        router: Arc<CommandRouter>,
        subscribers: Vec<SubscriberHandle>,
        registry: Arc<SyncRegistry>,
        sync_timeout: Duration,
    ) -> Self {
        Self {
            router,
            subscribers,
            registry,
            sync_timeout,
        }
    }

    /// The router.
    pub fn router(&self) -> &Arc<CommandRouter> {
        &self.router
    }

    /// The running subscribers.
    pub fn subscribers(&self) -> &[SubscriberHandle] {
        &self.subscribers
    }

    /// Runs a client's command with its sync mode.
    pub async fn handle(&self, mut command: CommandBook) -> Result<CommandResponse> {
        let mode = SyncMode::try_from(command.sync_mode).map_err(|_| {
            Error::InvalidArgument(format!("unknown sync mode {}", command.sync_mode))
        })?;
        let domain = command.cover.as_ref().map(|c| c.domain.as_str());
        if mode == SyncMode::None || domain.is_some_and(|d| self.router.forwards(d)) {
            // A forwarded command keeps its sync mode: the owner waits for its own subscribers.
            return self.router.execute(command).await;
        }
        // Register before executing, so the workers use the synchronous forms for it.
        let correlation_id = AggregateCoordinator::correlation_id_for(&command);
        if let Some(cover) = command.cover.as_mut() {
            cover.correlation_id = correlation_id.clone();
        }
        let interest = self.registry.register(&correlation_id);
        let mut response = self.router.execute(command).await?;
        let deadline = Instant::now() + self.sync_timeout;
        let mut stored: Vec<EventBook> = response.events.iter().cloned().collect();
        if mode == SyncMode::Cascade {
            stored.extend(self.cascade(&interest, stored.clone(), deadline).await);
        }
        response.projections = self.projections(&interest, &stored, deadline).await;
        Ok(response)
    }

    /// Follows sagas and process managers from `frontier`, breadth first; returns every
    /// event book their commands stored.
    async fn cascade(
        &self,
        interest: &SyncInterest,
        mut frontier: Vec<EventBook>,
        deadline: Instant,
    ) -> Vec<EventBook> {
        let mut stored = Vec::new();
        while let Some((from, to)) = position_range(&frontier) {
            let mut next = Vec::new();
            for subscriber in self
                .subscribers
                .iter()
                .filter(|s| s.component_type() != "projector")
                .filter(|s| wants_any(s, &frontier))
            {
                if !self.wait(subscriber, to, deadline).await {
                    continue;
                }
                for outcome in interest.outcomes(subscriber.name(), from, to) {
                    if let Outcome::Commands { responses, .. } = outcome {
                        next.extend(responses.into_iter().filter_map(|r| r.events));
                    }
                }
            }
            next.retain(|book| !book.pages.is_empty());
            stored.extend(next.iter().cloned());
            frontier = next;
        }
        stored
    }

    /// The projections of the projectors subscribed to `stored`.
    async fn projections(
        &self,
        interest: &SyncInterest,
        stored: &[EventBook],
        deadline: Instant,
    ) -> Vec<Projection> {
        let Some((from, to)) = position_range(stored) else {
            return Vec::new();
        };
        let mut projections = Vec::new();
        for subscriber in self
            .subscribers
            .iter()
            .filter(|s| s.component_type() == "projector")
            .filter(|s| wants_any(s, stored))
        {
            if !self.wait(subscriber, to, deadline).await {
                continue;
            }
            for outcome in interest.outcomes(subscriber.name(), from, to) {
                if let Outcome::Projection(projection) = outcome {
                    projections.push(projection);
                }
            }
        }
        projections
    }

    async fn wait(&self, subscriber: &SubscriberHandle, position: u64, deadline: Instant) -> bool {
        let reached = subscriber.wait_for(position, deadline).await;
        if !reached {
            warn!(
                subscriber = subscriber.name(),
                position,
                timeout = ?self.sync_timeout,
                "a synchronous command stopped waiting for a subscriber; the response lacks its results"
            );
        }
        reached
    }
}

/// Whether a subscriber wants any event of these books.
fn wants_any(subscriber: &SubscriberHandle, books: &[EventBook]) -> bool {
    books.iter().any(|book| {
        let (domain, edition) = book
            .cover
            .as_ref()
            .map(|c| (c.domain.as_str(), c.edition.as_str()))
            .unwrap_or_default();
        if !subscriber.filter().wants_edition(domain, edition) {
            return false;
        }
        book.pages.iter().any(|page| {
            page.event
                .as_ref()
                .is_some_and(|e| subscriber.filter().matches_parts(domain, e))
        })
    })
}

/// The lowest and highest global position in these books.
fn position_range(books: &[EventBook]) -> Option<(u64, u64)> {
    let positions = books
        .iter()
        .flat_map(|b| b.pages.iter().map(|p| p.position))
        .filter(|p| *p > 0);
    positions.fold(None, |range, p| match range {
        None => Some((p, p)),
        Some((lo, hi)) => Some((lo.min(p), hi.max(p))),
    })
}
