//! A synthetic aggregate for integration tests and benchmarks.
//!
//! Its domain is the component name the runtime gives it (`ANGZARR_COMPONENT`), so one binary
//! can serve several domains of a manifest. Behaviour is chosen per command type:
//!
//! | command   | result                                                              |
//! |-----------|---------------------------------------------------------------------|
//! | [`Echo`]  | one [`Echoed`] event carrying the payload                           |
//! | [`Multi`] | `count` [`Echoed`] events                                           |
//! | [`Reject`]| the gRPC status `FAILED_PRECONDITION` with the given message          |
//! | [`Crash`] | the process exits at once without answering                         |
//!
//! Every [`Echoed`] event records what the runtime handed the business logic (the snapshot's
//! sequence and how many events came after it), so tests can check snapshot use from outside.
//! The state offered as `snapshot_state` is the number of events in the history.
//!
//! The second binary, `angzarr-synthetic-subscriber`, is a projector, saga or process manager
//! chosen by `SYNTHETIC_KIND`, subscribed to every event type of the domains in
//! `SYNTHETIC_INPUTS` (comma-separated), main timeline only unless `SYNTHETIC_EDITIONS` names
//! editions (comma-separated, `*` for all) ([`subscriber`]):
//!
//! | kind              | behaviour                                                           |
//! |-------------------|---------------------------------------------------------------------|
//! | `projector`       | appends `"<position> <domain> <root> <sequence> <type> <correlation>"` per event to `SYNTHETIC_LOG` (`<domain>@<edition>` for an edition's events), each position once (positions already in the file are skipped, so a redelivery is harmless); fails with INTERNAL on an `Echoed` whose payload is `SYNTHETIC_FAIL_PAYLOAD`; exits (code 3) after writing an `Echoed` whose payload is `SYNTHETIC_EXIT_PAYLOAD`; `HandleSync` returns a [`Counter`] of the lines written, `HandleSpeculative` the counters it would return, writing nothing; with `SYNTHETIC_LAG_LOG`, also appends per event the µs from its commit to its delivery |
//! | `saga`            | for each `Echoed`: `Echo{payload}` to `SYNTHETIC_TARGET` (same root, same correlation id), or `Reject` when the payload is `reject`; on a rejection: `Echo{"compensated:" + message}` to the source aggregate |
//! | `process_manager` | keeps a [`Seen`] per input domain of a correlation id; once all were seen, a [`Joined`] and one `Echo{"joined:" + correlation id}` to `SYNTHETIC_TARGET` |

use angzarr_proto::business_logic_server::BusinessLogic;
use angzarr_proto::{
    ComponentDescriptor, ContextualCommand, EventBook, EventPage, GetDescriptorRequest, Target,
};
use prost::{Message, Name};
use prost_types::Any;
use tonic::{Request, Response, Status};

/// Proto package of the synthetic messages.
pub const PACKAGE: &str = "angzarr.synthetic";

macro_rules! synthetic_message {
    ($name:ident) => {
        impl Name for $name {
            const NAME: &'static str = stringify!($name);
            const PACKAGE: &'static str = PACKAGE;
            fn type_url() -> String {
                format!("type.googleapis.com/{}.{}", PACKAGE, Self::NAME)
            }
        }
    };
}

/// Command: emit one [`Echoed`] event.
#[derive(Clone, PartialEq, Message)]
pub struct Echo {
    /// Copied into the event.
    #[prost(bytes = "vec", tag = "1")]
    pub payload: Vec<u8>,
}
synthetic_message!(Echo);

/// Command: emit `count` [`Echoed`] events.
#[derive(Clone, PartialEq, Message)]
pub struct Multi {
    /// How many events.
    #[prost(uint32, tag = "1")]
    pub count: u32,
    /// Copied into every event.
    #[prost(bytes = "vec", tag = "2")]
    pub payload: Vec<u8>,
}
synthetic_message!(Multi);

/// Command: rejected with `FAILED_PRECONDITION` and this message.
#[derive(Clone, PartialEq, Message)]
pub struct Reject {
    /// The rejection's message.
    #[prost(string, tag = "1")]
    pub message: String,
}
synthetic_message!(Reject);

/// Command: the process exits without answering (a business-logic crash).
#[derive(Clone, PartialEq, Message)]
pub struct Crash {}
synthetic_message!(Crash);

/// Event produced by [`Echo`] and [`Multi`].
#[derive(Clone, PartialEq, Message)]
pub struct Echoed {
    /// The command's payload.
    #[prost(bytes = "vec", tag = "1")]
    pub payload: Vec<u8>,
    /// Sequence of the snapshot the runtime passed in, if any.
    #[prost(uint32, optional, tag = "2")]
    pub snapshot_sequence: Option<u32>,
    /// Events the runtime passed in after the snapshot.
    #[prost(uint32, tag = "3")]
    pub pages_received: u32,
    /// Events in the history before this command (snapshot state + pages).
    #[prost(uint64, tag = "4")]
    pub prior_events: u64,
}
synthetic_message!(Echoed);

/// State offered as `snapshot_state`: events in the history.
#[derive(Clone, PartialEq, Message)]
pub struct Counter {
    /// Events in the history.
    #[prost(uint64, tag = "1")]
    pub events: u64,
}
synthetic_message!(Counter);

/// Process-manager state: events of this domain arrived for the correlation id.
#[derive(Clone, PartialEq, Message)]
pub struct Seen {
    /// The domain.
    #[prost(string, tag = "1")]
    pub domain: String,
}
synthetic_message!(Seen);

/// Process-manager state: every input domain was seen; the joint command was sent.
#[derive(Clone, PartialEq, Message)]
pub struct Joined {}
synthetic_message!(Joined);

pub mod subscriber;

/// Packs a synthetic message into an `Any`.
pub fn pack<M: Message + Name>(message: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: message.encode_to_vec(),
    }
}

/// The synthetic business logic for one domain.
#[derive(Debug, Clone)]
pub struct SyntheticAggregate {
    domain: String,
}

impl SyntheticAggregate {
    /// Serves `domain`.
    pub fn new(domain: impl Into<String>) -> Self {
        Self {
            domain: domain.into(),
        }
    }

    /// Decides a command (see the crate docs); `Crash` is answered with `Err(None)`.
    pub fn decide(&self, request: &ContextualCommand) -> Result<EventBook, Option<Status>> {
        let prior = request.events.clone().unwrap_or_default();
        let command = request
            .command
            .as_ref()
            .and_then(|book| book.pages.first())
            .and_then(|page| page.command.as_ref())
            .ok_or_else(|| Some(Status::invalid_argument("no command")))?;
        let snapshot_events = match prior.snapshot.as_ref().and_then(|s| s.state.as_ref()) {
            Some(state) => {
                Counter::decode(state.value.as_slice())
                    .map_err(|e| Some(Status::invalid_argument(format!("bad snapshot: {e}"))))?
                    .events
            }
            None => 0,
        };
        let pages_received = u32::try_from(prior.pages.len()).unwrap_or(u32::MAX);
        let prior_events = snapshot_events + u64::from(pages_received);
        let (count, payload) = match command.type_url.as_str() {
            url if url == Echo::type_url() => {
                let echo = Echo::decode(command.value.as_slice())
                    .map_err(|e| Some(Status::invalid_argument(e.to_string())))?;
                (1, echo.payload)
            }
            url if url == Multi::type_url() => {
                let multi = Multi::decode(command.value.as_slice())
                    .map_err(|e| Some(Status::invalid_argument(e.to_string())))?;
                (multi.count, multi.payload)
            }
            url if url == Reject::type_url() => {
                let reject = Reject::decode(command.value.as_slice())
                    .map_err(|e| Some(Status::invalid_argument(e.to_string())))?;
                return Err(Some(Status::failed_precondition(reject.message)));
            }
            url if url == Crash::type_url() => return Err(None),
            other => {
                return Err(Some(Status::invalid_argument(format!(
                    "unknown command type {other}"
                ))));
            }
        };
        let event = Echoed {
            payload,
            snapshot_sequence: prior.snapshot.as_ref().map(|s| s.sequence),
            pages_received,
            prior_events,
        };
        let pages = (0..count)
            .map(|_| EventPage {
                event: Some(pack(&event)),
                ..EventPage::default()
            })
            .collect();
        Ok(EventBook {
            cover: prior.cover,
            pages,
            snapshot_state: Some(pack(&Counter {
                events: prior_events + u64::from(count),
            })),
            ..EventBook::default()
        })
    }

    /// The descriptor returned by `GetDescriptor`.
    pub fn descriptor(&self) -> ComponentDescriptor {
        ComponentDescriptor {
            name: self.domain.clone(),
            component_type: "aggregate".to_string(),
            inputs: vec![Target {
                editions: Vec::new(),
                domain: self.domain.clone(),
                types: ["Echo", "Multi", "Reject", "Crash"]
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            }],
            outputs: Vec::new(),
        }
    }
}

#[tonic::async_trait]
impl BusinessLogic for SyntheticAggregate {
    async fn handle(
        &self,
        request: Request<ContextualCommand>,
    ) -> Result<Response<EventBook>, Status> {
        match self.decide(request.get_ref()) {
            Ok(book) => Ok(Response::new(book)),
            Err(Some(status)) => Err(status),
            // A crash on purpose: the supervisor must notice and restart us.
            Err(None) => std::process::exit(3),
        }
    }

    async fn get_descriptor(
        &self,
        _request: Request<GetDescriptorRequest>,
    ) -> Result<Response<ComponentDescriptor>, Status> {
        Ok(Response::new(self.descriptor()))
    }
}

#[cfg(test)]
mod tests {
    use angzarr_proto::{CommandBook, CommandPage, Snapshot};

    use super::*;

    fn request(command: Any, prior: EventBook) -> ContextualCommand {
        ContextualCommand {
            events: Some(prior),
            command: Some(CommandBook {
                pages: vec![CommandPage {
                    command: Some(command),
                    ..CommandPage::default()
                }],
                ..CommandBook::default()
            }),
        }
    }

    fn echoed(book: &EventBook, index: usize) -> Echoed {
        let any = book.pages[index].event.as_ref().expect("event");
        assert_eq!(any.type_url, Echoed::type_url());
        Echoed::decode(any.value.as_slice()).expect("decode")
    }

    #[test]
    fn echo_emits_one_event_with_the_payload_and_what_it_saw() {
        let logic = SyntheticAggregate::new("echo");
        let prior = EventBook {
            snapshot: Some(Snapshot {
                sequence: 9,
                state: Some(pack(&Counter { events: 10 })),
            }),
            pages: vec![EventPage::default(), EventPage::default()],
            ..EventBook::default()
        };
        let out = logic
            .decide(&request(
                pack(&Echo {
                    payload: b"hi".to_vec(),
                }),
                prior,
            ))
            .expect("accepted");
        assert_eq!(out.pages.len(), 1);
        let event = echoed(&out, 0);
        assert_eq!(event.payload, b"hi");
        assert_eq!(event.snapshot_sequence, Some(9));
        assert_eq!(event.pages_received, 2);
        assert_eq!(event.prior_events, 12);
        let state = out.snapshot_state.expect("state");
        assert_eq!(
            Counter::decode(state.value.as_slice())
                .expect("counter")
                .events,
            13
        );
    }

    #[test]
    fn multi_emits_count_events() {
        let logic = SyntheticAggregate::new("multi");
        let out = logic
            .decide(&request(
                pack(&Multi {
                    count: 5,
                    payload: vec![1],
                }),
                EventBook::default(),
            ))
            .expect("accepted");
        assert_eq!(out.pages.len(), 5);
        assert_eq!(echoed(&out, 4).payload, vec![1]);
    }

    #[test]
    fn reject_is_failed_precondition_and_crash_is_none() {
        let logic = SyntheticAggregate::new("r");
        let status = logic
            .decide(&request(
                pack(&Reject {
                    message: "no".into(),
                }),
                EventBook::default(),
            ))
            .expect_err("rejected")
            .expect("status");
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert_eq!(status.message(), "no");
        let crash = logic.decide(&request(pack(&Crash {}), EventBook::default()));
        assert!(matches!(crash, Err(None)));
    }

    #[test]
    fn unknown_command_is_invalid_argument() {
        let logic = SyntheticAggregate::new("r");
        let status = logic
            .decide(&request(
                Any {
                    type_url: "type.googleapis.com/x.Y".into(),
                    value: vec![],
                },
                EventBook::default(),
            ))
            .expect_err("rejected")
            .expect("status");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
    }
}
