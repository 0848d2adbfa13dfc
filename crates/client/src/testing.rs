//! Given/when/then for command handlers: unit-test business logic without any infrastructure.
//!
//! ```
//! # use angzarr_client::{CommandRouter, Rejection, testing::given};
//! # use prost_types::{Duration, Timestamp};
//! // A toy aggregate: a Duration command adds its seconds; the event is the new total.
//! let router = CommandRouter::<Timestamp>::new("clock")
//!     .on(|state: &Timestamp, cmd: Duration| {
//!         if cmd.seconds < 1 {
//!             return Err(Rejection::invalid_argument("seconds must be positive"));
//!         }
//!         Ok(Timestamp { seconds: state.seconds + cmd.seconds, nanos: 0 })
//!     })
//!     .apply(|state: &mut Timestamp, e: Timestamp| *state = e);
//!
//! let total: Timestamp = given(&router)
//!     .event(&Timestamp { seconds: 10, nanos: 0 })
//!     .when(&Duration { seconds: 5, nanos: 0 })
//!     .then_event();
//! assert_eq!(total.seconds, 15);
//!
//! given(&router)
//!     .when(&Duration { seconds: 0, nanos: 0 })
//!     .then_rejected(tonic::Code::InvalidArgument, "positive");
//! ```

use angzarr_proto::{CommandBook, CommandPage, ContextualCommand, EventBook, EventPage};
use prost::{Message, Name};
use prost_types::Any;
use tonic::{Code, Status};

use crate::CommandRouter;
use crate::command_router::pack;

/// Starts a scenario against `router` with an empty history.
pub fn given<S>(router: &CommandRouter<S>) -> Given<'_, S>
where
    S: Message + Name + Default + Clone + Send + Sync + 'static,
{
    Given {
        router,
        history: Vec::new(),
    }
}

/// The history of a scenario.
#[derive(Debug)]
pub struct Given<'a, S> {
    router: &'a CommandRouter<S>,
    history: Vec<Any>,
}

impl<'a, S> Given<'a, S>
where
    S: Message + Name + Default + Clone + Send + Sync + 'static,
{
    /// Appends `event` to the history.
    pub fn event<E: Message + Name>(mut self, event: &E) -> Self {
        self.history.push(pack(event));
        self
    }

    fn book(&self) -> EventBook {
        EventBook {
            pages: self
                .history
                .iter()
                .map(|event| EventPage {
                    event: Some(event.clone()),
                    ..EventPage::default()
                })
                .collect(),
            ..EventBook::default()
        }
    }

    /// The state the history rebuilds to.
    ///
    /// # Panics
    /// When the history cannot be rebuilt (an event without an apply function).
    pub fn state(&self) -> S {
        self.router
            .rebuild(&self.book())
            .unwrap_or_else(|status| panic!("cannot rebuild the history: {status:?}"))
    }

    /// Runs `command` against the history.
    pub fn when<C: Message + Name>(self, command: &C) -> Then {
        let request = ContextualCommand {
            events: Some(self.book()),
            command: Some(CommandBook {
                pages: vec![CommandPage {
                    sequence: None,
                    command: Some(pack(command)),
                }],
                ..CommandBook::default()
            }),
        };
        Then {
            outcome: self.router.handle_command(&request).map(|book| {
                book.pages
                    .into_iter()
                    .filter_map(|page| page.event)
                    .collect()
            }),
        }
    }
}

/// What a command did.
#[derive(Debug)]
pub struct Then {
    outcome: Result<Vec<Any>, Status>,
}

impl Then {
    /// The emitted events.
    ///
    /// # Panics
    /// When the command was rejected.
    pub fn then_events(self) -> Vec<Any> {
        self.outcome.unwrap_or_else(|status| {
            panic!("expected events, the command was rejected: {status:?}")
        })
    }

    /// The one emitted event, as an `E`.
    ///
    /// # Panics
    /// When the command was rejected or emitted anything but exactly one `E`.
    pub fn then_event<E: Message + Name + Default>(self) -> E {
        let events = self.then_events();
        match events.as_slice() {
            [event] if event.type_url == E::type_url() => E::decode(event.value.as_slice())
                .unwrap_or_else(|err| panic!("cannot decode {}: {err}", E::full_name())),
            _ => panic!(
                "expected exactly one {}, got {:?}",
                E::full_name(),
                events
                    .iter()
                    .map(|e| e.type_url.as_str())
                    .collect::<Vec<_>>()
            ),
        }
    }

    /// Asserts that the command was rejected with `code` and a message containing `words`
    /// (case-insensitively).
    ///
    /// # Panics
    /// When the command was accepted or rejected otherwise.
    pub fn then_rejected(self, code: Code, words: &str) {
        match self.outcome {
            Ok(events) => panic!(
                "expected a {code:?} rejection, got events {:?}",
                events
                    .iter()
                    .map(|e| e.type_url.as_str())
                    .collect::<Vec<_>>()
            ),
            Err(status) => {
                assert_eq!(status.code(), code, "rejection code ({status:?})");
                assert!(
                    status
                        .message()
                        .to_lowercase()
                        .contains(&words.to_lowercase()),
                    "rejection message {:?} does not contain {words:?}",
                    status.message()
                );
            }
        }
    }
}
