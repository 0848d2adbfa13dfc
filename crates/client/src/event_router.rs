//! A saga from plain functions: the event router.
//!
//! A saga is stateless: each event of its source domain maps to commands for other domains,
//! `fn(&EventContext, Event) -> Commands`. [`EventRouter`] unpacks the events, dispatches on
//! their type, stamps the commands with the event's correlation id, and derives the
//! descriptor (inputs from the handlers, outputs from [`EventRouter::sends`]) so that the
//! runtime routes exactly what the code handles.

use std::fmt;

use angzarr_proto::saga_server::{Saga, SagaServer};
use angzarr_proto::{
    AnyExt, CommandRejection, ComponentDescriptor, EventBook, GetDescriptorRequest, SagaResponse,
    Target,
};
use prost::{Message, Name};
use prost_types::Any;
use tonic::{Request, Response, Status};

use crate::event::{Commands, EventContext, Rejected, declare, decode_event};

type EventFn = Box<dyn Fn(&EventContext, &Any) -> Result<Commands, Status> + Send + Sync>;
type RejectionFn = Box<dyn Fn(&Rejected) -> Commands + Send + Sync>;

/// A saga built from event handlers; serves `angzarr.Saga` through
/// [`EventRouter::into_server`].
pub struct EventRouter {
    name: String,
    source: String,
    outputs: Vec<Target>,
    handlers: Vec<(String, String, EventFn)>,
    on_rejection: Option<RejectionFn>,
}

impl fmt::Debug for EventRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRouter")
            .field("descriptor", &self.descriptor())
            .finish()
    }
}

impl EventRouter {
    /// The saga `name`, reacting to events of `source_domain`.
    pub fn new(name: impl Into<String>, source_domain: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            source: source_domain.into(),
            outputs: Vec::new(),
            handlers: Vec::new(),
            on_rejection: None,
        }
    }

    /// Declares that the saga sends `command` (a short message name) to `domain`. Sending an
    /// undeclared command is an error, so the descriptor always tells the truth.
    pub fn sends(mut self, domain: &str, command: &str) -> Self {
        declare(&mut self.outputs, domain, command);
        self
    }

    /// Handles events of type `E` with `handler`. Events without a handler are not delivered
    /// (the descriptor lists only handled types). Registering a type twice keeps the later.
    pub fn on<E, F>(mut self, handler: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&EventContext, E) -> Commands + Send + Sync + 'static,
    {
        let run: EventFn =
            Box::new(move |context, event| Ok(handler(context, decode_event::<E>(event)?)));
        let full = E::full_name();
        self.handlers.retain(|(name, ..)| *name != full);
        self.handlers.push((full, E::NAME.to_string(), run));
        self
    }

    /// Handles the rejection of a command this saga sent: returns compensating commands
    /// (usually to the source aggregate), or none. Without it a rejection ends there.
    pub fn on_rejection<F>(mut self, handler: F) -> Self
    where
        F: Fn(&Rejected) -> Commands + Send + Sync + 'static,
    {
        self.on_rejection = Some(Box::new(handler));
        self
    }

    /// The saga's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Inputs: the source domain and the handled event types; outputs: what it sends.
    pub fn descriptor(&self) -> ComponentDescriptor {
        ComponentDescriptor {
            name: self.name.clone(),
            component_type: "saga".to_string(),
            inputs: vec![Target {
                editions: Vec::new(),
                domain: self.source.clone(),
                types: self.handlers.iter().map(|(_, s, _)| s.clone()).collect(),
            }],
            outputs: self.outputs.clone(),
        }
    }

    /// The whole `Saga.Handle`: the commands for every event of `book`, in order.
    pub fn handle_event(&self, book: &EventBook) -> Result<SagaResponse, Status> {
        let mut commands = Vec::new();
        for (context, event) in EventContext::pages(book)? {
            let name = event.full_type_name();
            let Some((.., handler)) = self.handlers.iter().find(|(full, ..)| full == name) else {
                continue;
            };
            let emitted = handler(&context, event)?;
            commands.extend(emitted.stamped(&self.name, &context.correlation_id, &self.outputs)?);
        }
        Ok(SagaResponse { commands })
    }

    /// The whole `Saga.HandleRejection`: the compensating commands, if any.
    pub fn handle_rejection(&self, rejection: &CommandRejection) -> Result<SagaResponse, Status> {
        let rejected = Rejected::from_proto(rejection)?;
        let Some(handler) = &self.on_rejection else {
            return Ok(SagaResponse::default());
        };
        let commands =
            handler(&rejected).stamped(&self.name, &rejected.correlation_id, &self.outputs)?;
        Ok(SagaResponse { commands })
    }

    /// The gRPC service, ready for [`serve`](crate::serve).
    pub fn into_server(self) -> SagaServer<Self> {
        SagaServer::new(self)
            .max_decoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES)
            .max_encoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES)
    }
}

#[tonic::async_trait]
impl Saga for EventRouter {
    async fn handle(&self, request: Request<EventBook>) -> Result<Response<SagaResponse>, Status> {
        self.handle_event(request.get_ref()).map(Response::new)
    }

    async fn handle_rejection(
        &self,
        request: Request<CommandRejection>,
    ) -> Result<Response<SagaResponse>, Status> {
        EventRouter::handle_rejection(self, request.get_ref()).map(Response::new)
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
    use super::*;
    use crate::command_router::pack;
    use angzarr_proto::{CommandBook, Cover, CoverExt, EventPage, EventPageExt};
    use prost_types::{Duration, Timestamp};
    use tonic::Code;
    use uuid::Uuid;

    // Source events are Timestamps, commands Durations: any two message types will do.
    fn saga() -> EventRouter {
        EventRouter::new("saga-clock", "clock")
            .sends("timer", "Duration")
            .on(|context: &EventContext, tick: Timestamp| {
                if tick.seconds == 0 {
                    return Commands::none();
                }
                let command = Duration {
                    seconds: tick.seconds,
                    nanos: 0,
                };
                Commands::none().send("timer", context.root, &command).send(
                    "timer",
                    Uuid::from_u128(9),
                    &command,
                )
            })
            .on_rejection(|rejected: &Rejected| {
                // Compensate only when the source event is known and the command a Duration.
                match (rejected.command_as::<Duration>(), &rejected.source) {
                    (Some(d), Some((context, _))) => Commands::none().send(
                        "timer",
                        context.root,
                        &Duration {
                            seconds: -d.seconds,
                            nanos: 0,
                        },
                    ),
                    _ => Commands::none(),
                }
            })
    }

    fn book(root: Uuid, correlation: &str, seconds: i64) -> EventBook {
        let mut page = EventPage {
            event: Some(pack(&Timestamp { seconds, nanos: 0 })),
            position: 40,
            ..EventPage::default()
        };
        page.set_sequence_num(3);
        EventBook {
            cover: Some(Cover {
                correlation_id: correlation.into(),
                ..Cover::for_root("clock", root)
            }),
            pages: vec![page],
            ..EventBook::default()
        }
    }

    #[test]
    fn maps_events_to_correlated_commands_in_order() {
        let root = Uuid::from_u128(5);
        let response = saga()
            .handle_event(&book(root, "c-7", 12))
            .expect("handled");
        let targets: Vec<(String, Option<Uuid>, String)> = response
            .commands
            .iter()
            .map(|c| {
                let cover = c.cover.clone().expect("cover");
                (
                    cover.domain.clone(),
                    cover.root_uuid(),
                    cover.correlation_id,
                )
            })
            .collect();
        assert_eq!(
            targets,
            vec![
                ("timer".into(), Some(root), "c-7".into()),
                ("timer".into(), Some(Uuid::from_u128(9)), "c-7".into()),
            ]
        );
        assert!(
            saga()
                .handle_event(&book(root, "c-7", 0))
                .expect("handled")
                .commands
                .is_empty()
        );
        // An event type without a handler yields nothing.
        let mut other = book(root, "c-7", 1);
        other.pages[0].event = Some(pack(&Duration::default()));
        assert!(saga().handle_event(&other).expect("ok").commands.is_empty());
    }

    #[test]
    fn describes_inputs_and_outputs() {
        let descriptor = saga().descriptor();
        assert_eq!(descriptor.component_type, "saga");
        assert_eq!(
            descriptor.inputs,
            vec![Target {
                domain: "clock".into(),
                types: vec!["Timestamp".into()],
                ..Target::default()
            }]
        );
        assert_eq!(
            descriptor.outputs,
            vec![Target {
                domain: "timer".into(),
                types: vec!["Duration".into()],
                ..Target::default()
            }]
        );
    }

    #[test]
    fn compensates_from_the_source_event() {
        let root = Uuid::from_u128(5);
        let sent = saga().handle_event(&book(root, "c-7", 12)).expect("ok");
        let rejection = CommandRejection {
            command: Some(sent.commands[1].clone()),
            code: Code::FailedPrecondition as i32,
            message: "no".into(),
            source: None,
            source_event: Some(book(root, "c-7", 12)),
        };
        let compensation = saga().handle_rejection(&rejection).expect("ok").commands;
        assert_eq!(compensation.len(), 1);
        let cover = compensation[0].cover.clone().expect("cover");
        assert_eq!(
            (cover.root_uuid(), cover.correlation_id.as_str()),
            (Some(root), "c-7")
        );
        let command: Duration = compensation[0].pages[0]
            .command
            .as_ref()
            .expect("command")
            .to_msg()
            .expect("duration");
        assert_eq!(command.seconds, -12);

        // Without the source event there is nothing to compensate from.
        let bare = CommandRejection {
            source_event: None,
            ..rejection
        };
        assert!(
            saga()
                .handle_rejection(&bare)
                .expect("ok")
                .commands
                .is_empty()
        );
        let empty = CommandRejection {
            command: Some(CommandBook::default()),
            ..CommandRejection::default()
        };
        assert_eq!(
            saga().handle_rejection(&empty).expect_err("empty").code(),
            Code::InvalidArgument
        );
    }
}
