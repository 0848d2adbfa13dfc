//! Delivery to a process manager over gRPC: its own state, its commands, its checkpoint.
//!
//! A process manager correlates events of several domains by correlation id. Its state is an
//! event-sourced history of its own: domain = the component's name, root =
//! UUIDv5(NAMESPACE_OID, `angzarr:<name>:<correlation id>`). For each trigger the runtime loads that history, asks the
//! component, executes the commands it returns (idempotency keys derived from the trigger's
//! position), and then appends the new state events together with the checkpoint in one
//! transaction. A crash before that commit redelivers the trigger: the component decides
//! again on the same state (it must be deterministic), its commands are answered from their
//! idempotency records, and the state is written once. The commit also records the key
//! `<checkpoint>:<position>:state`: a commit whose answer was lost is found by it on the
//! retry, which then decides nothing again. Triggers are handled one at a time by
//! the subscriber's single worker, so triggers of one correlation id never race.

use std::sync::{Arc, Mutex};

use angzarr_proto::process_manager_client::ProcessManagerClient;
use angzarr_proto::{
    Causation, CommandBook, CommandRejection, CommandResponse, EventBook, EventPage,
    ProcessManagerRejectionRequest, ProcessManagerRequest, ProcessManagerResponse, causation,
};
use angzarr_telemetry::propagation::request as traced;
use async_trait::async_trait;
use tonic::transport::Channel;
use tracing::Instrument;
use uuid::Uuid;

use super::{Outcome, Subscriber, call_span, correlation_of};
use crate::emitted::{Compensator, run_emitted, source_ref};
use crate::error::{Error, Result};
use crate::logic::{Availability, ComponentLink};
use crate::publisher::OrderedPublisher;
use crate::router::CommandExecutor;
use crate::storage::{
    AppendRequest, Checkpoint, EventStore, HistoryKey, IdempotencyRecord, LoadOptions, NewEvent,
    event_book,
};
use crate::subscription::EventFilter;

/// The root of a process manager's state for a correlation id:
/// `UUIDv5(NAMESPACE_OID, "angzarr:<name>:<correlation id>")`, the same convention clients use
/// for roots derived from a business key, so any language can compute it.
pub fn process_manager_root(name: &str, correlation_id: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("angzarr:{name}:{correlation_id}").as_bytes(),
    )
}

/// A process manager component reached over gRPC.
#[derive(Clone)]
pub struct GrpcProcessManager {
    name: String,
    checkpoint: String,
    /// Held for each trigger: the workers of several source processes share one state, and
    /// triggers of one correlation id must not race (see the module docs).
    turn: Arc<tokio::sync::Mutex<()>>,
    filter: EventFilter,
    client: ProcessManagerClient<Channel>,
    availability: Arc<dyn Availability>,
    executor: Arc<dyn CommandExecutor>,
    store: Arc<dyn EventStore>,
    publisher: Arc<OrderedPublisher>,
}

impl GrpcProcessManager {
    /// A process manager named `name`, subscribed to `filter`, reached over `channel`; its
    /// commands go to `executor`, its state to `store` (published through `publisher`).
    pub fn new(
        name: impl Into<String>,
        filter: EventFilter,
        channel: Channel,
        availability: Arc<dyn Availability>,
        executor: Arc<dyn CommandExecutor>,
        store: Arc<dyn EventStore>,
        publisher: Arc<OrderedPublisher>,
    ) -> Self {
        let name = name.into();
        Self {
            checkpoint: name.clone(),
            turn: Arc::default(),
            name,
            filter,
            client: ProcessManagerClient::new(channel)
                .max_decoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES)
                .max_encoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES),
            availability,
            executor,
            store,
            publisher,
        }
    }

    /// The same process manager reading another process's log: `filter` is what it wants
    /// from there; its checkpoint and idempotency keys are `<name>@<process>`; its state and
    /// turn are shared with the original.
    pub fn for_source(&self, process: &str, filter: EventFilter) -> Self {
        Self {
            checkpoint: format!("{}@{process}", self.name),
            filter,
            ..self.clone()
        }
    }

    fn link(&self) -> ComponentLink<'_> {
        ComponentLink {
            component: &self.name,
            availability: &*self.availability,
        }
    }

    async fn decide(&self, request: ProcessManagerRequest) -> Result<ProcessManagerResponse> {
        self.link().admit(&request)?;
        let mut client = self.client.clone();
        let span = request
            .trigger
            .as_ref()
            .map(|trigger| call_span(&self.name, trigger))
            .unwrap_or_else(tracing::Span::none);
        let correlation_id = request
            .trigger
            .as_ref()
            .map(|t| correlation_of(t).to_string())
            .unwrap_or_default();
        client
            .handle(traced(request, &correlation_id))
            .instrument(span)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| self.link().map_status(status))
    }

    async fn on_rejection(
        &self,
        request: ProcessManagerRejectionRequest,
    ) -> Result<ProcessManagerResponse> {
        self.link().admit(&request)?;
        let mut client = self.client.clone();
        let correlation_id = request
            .state
            .as_ref()
            .map(|s| correlation_of(s).to_string())
            .unwrap_or_default();
        let span = tracing::debug_span!(
            "logic.handle_rejection",
            component = %self.name,
            correlation_id = %correlation_id
        );
        client
            .handle_rejection(traced(request, &correlation_id))
            .instrument(span)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| self.link().map_status(status))
    }
}

/// Rejections of a process manager's commands go back to it with its state; the state events
/// it answers with are kept for the same commit, its commands are the compensations.
struct StateFollowUps<'a> {
    process_manager: &'a GrpcProcessManager,
    state: &'a EventBook,
    pages: Mutex<Vec<EventPage>>,
}

#[async_trait]
impl Compensator for StateFollowUps<'_> {
    async fn compensate(&self, rejection: CommandRejection) -> Result<Vec<CommandBook>> {
        let follow_up = self
            .process_manager
            .on_rejection(ProcessManagerRejectionRequest {
                state: Some(self.state.clone()),
                rejection: Some(rejection),
            })
            .await?;
        self.pages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(follow_up.events.map(|b| b.pages).unwrap_or_default());
        Ok(follow_up.commands)
    }
}

#[async_trait]
impl Subscriber for GrpcProcessManager {
    fn name(&self) -> &str {
        &self.name
    }

    fn checkpoint_name(&self) -> &str {
        &self.checkpoint
    }

    fn component_type(&self) -> &'static str {
        "process_manager"
    }

    fn filter(&self) -> &EventFilter {
        &self.filter
    }

    fn max_batch(&self) -> usize {
        1
    }

    /// Asks `ProcessManager.Handle` event by event, with the stored state plus what this run
    /// would have recorded for the same correlation id; reports state events and commands
    /// without storing or executing anything.
    async fn speculate(&self, books: &[EventBook]) -> Result<super::Speculated> {
        let mut states: std::collections::HashMap<String, EventBook> =
            std::collections::HashMap::new();
        let mut speculated = super::Speculated::default();
        for trigger in super::speculative::single_events(books) {
            let source = source_ref(&trigger)?;
            let correlation_id = correlation_of(&trigger).to_string();
            if correlation_id.is_empty() {
                return Err(Error::InvalidArgument(
                    "a process manager needs events with a correlation id".into(),
                ));
            }
            let state = match states.entry(correlation_id.clone()) {
                std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::hash_map::Entry::Vacant(entry) => {
                    let key = HistoryKey::main(
                        self.name.clone(),
                        process_manager_root(&self.name, &correlation_id),
                    );
                    let options = LoadOptions {
                        use_snapshot: false,
                    };
                    let history = self.store.load(&key, options).await?;
                    let mut state = event_book(&key, &correlation_id, &history.events);
                    state.next_sequence = history.next_sequence;
                    entry.insert(state)
                }
            };
            let decision = self
                .decide(ProcessManagerRequest {
                    state: Some(state.clone()),
                    trigger: Some(trigger.clone()),
                })
                .await?;
            speculated.commands.extend(super::speculative::stamped(
                &self.name,
                &trigger,
                &source,
                decision.commands,
            ));
            let pages = decision.events.map(|book| book.pages).unwrap_or_default();
            if pages.is_empty() {
                continue;
            }
            let numbered = super::speculative::numbered(pages, state.next_sequence, &source);
            state.next_sequence = state
                .next_sequence
                .saturating_add(u32::try_from(numbered.len()).unwrap_or(u32::MAX));
            state.pages.extend(numbered.iter().cloned());
            speculated.state_events.push(EventBook {
                cover: state.cover.clone(),
                pages: numbered,
                next_sequence: state.next_sequence,
                ..EventBook::default()
            });
        }
        Ok(speculated)
    }

    async fn deliver(&self, trigger: &EventBook, _sync: bool) -> Result<Outcome> {
        let _turn = self.turn.lock().await;
        let source = source_ref(trigger)?;
        let correlation_id = trigger
            .cover
            .as_ref()
            .map(|c| c.correlation_id.clone())
            .unwrap_or_default();
        if correlation_id.is_empty() {
            return Err(Error::InvalidArgument(
                "a process manager needs events with a correlation id".into(),
            ));
        }
        let key = HistoryKey::main(
            self.name.clone(),
            process_manager_root(&self.name, &correlation_id),
        );
        // Recorded with the state events and the checkpoint: when it is stored, this trigger
        // was handled and only the answer of that commit was lost. Deciding again would run
        // on the new state and could write it twice.
        let handled_key = format!("{}:{}:state", self.checkpoint, source.position);
        let (handled, history) = self
            .store
            .load_with_idempotency(
                &key,
                LoadOptions {
                    use_snapshot: false,
                },
                &handled_key,
            )
            .await?;
        if let Some(record) = handled {
            let written = record.first_sequence..record.first_sequence + record.event_count;
            let events: Vec<_> = history
                .events
                .into_iter()
                .filter(|event| written.contains(&event.sequence))
                .collect();
            return Ok(Outcome::Commands {
                sent: Vec::new(),
                responses: vec![CommandResponse {
                    events: Some(event_book(&key, &correlation_id, &events)),
                    projections: Vec::new(),
                }],
            });
        }
        let mut state = event_book(&key, &correlation_id, &history.events);
        state.next_sequence = history.next_sequence;

        let decision = self
            .decide(ProcessManagerRequest {
                state: Some(state.clone()),
                trigger: Some(trigger.clone()),
            })
            .await?;
        let rejections = StateFollowUps {
            process_manager: self,
            state: &state,
            pages: Mutex::new(Vec::new()),
        };
        let run = run_emitted(
            &*self.executor,
            &self.name,
            &self.checkpoint,
            trigger,
            &source,
            decision.commands,
            &rejections,
        )
        .await?;
        let mut new_pages = decision.events.map(|b| b.pages).unwrap_or_default();
        new_pages.extend(
            rejections
                .pages
                .into_inner()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let (sent, mut responses) = (run.sent, run.responses);

        let checkpoint = Checkpoint {
            subscriber: self.checkpoint.clone(),
            position: source.position,
        };
        if new_pages.is_empty() {
            self.store.put_checkpoint(checkpoint).await?;
            return Ok(Outcome::Commands { sent, responses });
        }
        let causation = Causation {
            cause: Some(causation::Cause::Event(source.clone())),
        };
        let events = new_pages
            .into_iter()
            .enumerate()
            .map(|(index, page)| match page.event {
                Some(event) if !event.type_url.is_empty() => Ok(NewEvent {
                    event,
                    causation: Some(causation.clone()),
                }),
                _ => Err(Error::LogicFault {
                    component: self.name.clone(),
                    message: format!("state event {index} has no type"),
                }),
            })
            .collect::<Result<Vec<_>>>()?;
        let event_count = events.len();
        let committed = self
            .store
            .append(AppendRequest {
                key: key.clone(),
                expected_next: history.next_sequence,
                correlation_id: correlation_id.clone(),
                events,
                snapshot: None,
                idempotency: Some(IdempotencyRecord {
                    key: handled_key,
                    command_hash: Vec::new(),
                    history: key.clone(),
                    first_sequence: history.next_sequence,
                    event_count: u32::try_from(event_count).unwrap_or(u32::MAX),
                    correlation_id: correlation_id.clone(),
                }),
                checkpoint: Some(checkpoint),
            })
            .await?;
        responses.push(CommandResponse {
            events: Some(event_book(&key, &correlation_id, &committed)),
            projections: Vec::new(),
        });
        self.publisher.publish(committed).await;
        Ok(Outcome::Commands { sent, responses })
    }
}
