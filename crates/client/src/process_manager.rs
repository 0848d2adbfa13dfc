//! A process manager from plain functions.
//!
//! A process manager correlates events of several domains by correlation id and keeps its
//! own event-sourced state per correlation (the runtime stores it at
//! `UUIDv5(NAMESPACE_OID, "angzarr:<name>:<correlation id>")` in the domain `<name>`). A
//! handler is `fn(&State, &EventContext, Event) -> Effects`: the events it records in its
//! own history and the commands it sends. State is rebuilt from that history through
//! `apply` functions, as for an aggregate; the runtime hands triggers of one correlation id
//! over one at a time, so a handler decides from (state, trigger) alone.

use std::collections::HashMap;
use std::fmt;

use angzarr_proto::process_manager_server::{ProcessManager, ProcessManagerServer};
use angzarr_proto::{
    AnyExt, ComponentDescriptor, EventBook, EventPage, GetDescriptorRequest,
    ProcessManagerRejectionRequest, ProcessManagerRequest, ProcessManagerResponse, Target,
};
use prost::{Message, Name};
use prost_types::Any;
use tonic::{Request, Response, Status};

use crate::command_router::pack;
use crate::event::{Commands, EventContext, Rejected, declare, decode_event};

/// What a process-manager handler decides: events for its own history and commands to send.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    events: Vec<Any>,
    commands: Commands,
}

impl Effects {
    /// Nothing happens.
    pub fn none() -> Self {
        Self::default()
    }

    /// Records `event` in the process manager's own history.
    pub fn record<E: Message + Name>(mut self, event: &E) -> Self {
        self.events.push(pack(event));
        self
    }

    /// Sends `command` to the aggregate `root` of `domain`.
    pub fn send<C: Message + Name>(mut self, domain: &str, root: uuid::Uuid, command: &C) -> Self {
        self.commands = self.commands.send(domain, root, command);
        self
    }
}

type TriggerFn<S> = Box<dyn Fn(&S, &EventContext, &Any) -> Result<Effects, Status> + Send + Sync>;
type ApplyFn<S> = Box<dyn Fn(&mut S, &Any) -> Result<(), Status> + Send + Sync>;
type RejectionFn<S> = Box<dyn Fn(&S, &Rejected) -> Effects + Send + Sync>;

/// A process manager built from trigger handlers and apply functions; serves
/// `angzarr.ProcessManager` through [`ProcessManagerRouter::into_server`].
pub struct ProcessManagerRouter<S> {
    name: String,
    inputs: Vec<Target>,
    outputs: Vec<Target>,
    /// (domain, full event name) → handler.
    triggers: Vec<(String, String, TriggerFn<S>)>,
    appliers: HashMap<String, ApplyFn<S>>,
    on_rejection: Option<RejectionFn<S>>,
}

impl<S> fmt::Debug for ProcessManagerRouter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessManagerRouter")
            .field("name", &self.name)
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish()
    }
}

impl<S> ProcessManagerRouter<S>
where
    S: Message + Default + Send + Sync + 'static,
{
    /// The process manager `name` (also the domain of its own history).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            triggers: Vec::new(),
            appliers: HashMap::new(),
            on_rejection: None,
        }
    }

    /// Handles events of type `E` from `domain` with `handler`.
    pub fn on<E, F>(mut self, domain: &str, handler: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&S, &EventContext, E) -> Effects + Send + Sync + 'static,
    {
        let run: TriggerFn<S> = Box::new(move |state, context, event| {
            Ok(handler(state, context, decode_event::<E>(event)?))
        });
        declare(&mut self.inputs, domain, E::NAME);
        let full = E::full_name();
        self.triggers
            .retain(|(d, name, _)| !(d == domain && *name == full));
        self.triggers.push((domain.to_string(), full, run));
        self
    }

    /// Declares that it sends `command` (a short message name) to `domain`.
    pub fn sends(mut self, domain: &str, command: &str) -> Self {
        declare(&mut self.outputs, domain, command);
        self
    }

    /// Folds its own events of type `E` into the state.
    pub fn apply<E, F>(mut self, apply: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&mut S, E) + Send + Sync + 'static,
    {
        let run: ApplyFn<S> = Box::new(move |state, event| {
            let event = E::decode(event.value.as_slice()).map_err(|err| {
                Status::internal(format!("cannot decode event {}: {err}", E::full_name()))
            })?;
            apply(state, event);
            Ok(())
        });
        self.appliers.insert(E::full_name(), run);
        self
    }

    /// Handles the rejection of a command it sent (with its state for that correlation).
    pub fn on_rejection<F>(mut self, handler: F) -> Self
    where
        F: Fn(&S, &Rejected) -> Effects + Send + Sync + 'static,
    {
        self.on_rejection = Some(Box::new(handler));
        self
    }

    /// The process manager's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Inputs from the handlers, outputs from [`sends`](Self::sends).
    pub fn descriptor(&self) -> ComponentDescriptor {
        ComponentDescriptor {
            name: self.name.clone(),
            component_type: "process_manager".to_string(),
            inputs: self.inputs.clone(),
            outputs: self.outputs.clone(),
        }
    }

    /// The state after its own `history` (snapshot, then events).
    pub fn rebuild(&self, history: &EventBook) -> Result<S, Status> {
        let mut state = match history.snapshot.as_ref().and_then(|s| s.state.as_ref()) {
            Some(any) => S::decode(any.value.as_slice()).map_err(|err| {
                Status::internal(format!("{}: cannot decode snapshot: {err}", self.name))
            })?,
            None => S::default(),
        };
        for page in &history.pages {
            if let Some(event) = &page.event {
                self.apply_event(&mut state, event)?;
            }
        }
        Ok(state)
    }

    fn apply_event(&self, state: &mut S, event: &Any) -> Result<(), Status> {
        let name = event.full_type_name();
        let apply = self.appliers.get(name).ok_or_else(|| {
            Status::internal(format!(
                "{}: no apply function for event type {name}; register one with \
                 ProcessManagerRouter::apply",
                self.name
            ))
        })?;
        apply(state, event)
    }

    /// The whole `ProcessManager.Handle`. A trigger without a correlation id is ignored: it
    /// belongs to no workflow.
    pub fn handle_trigger(
        &self,
        request: &ProcessManagerRequest,
    ) -> Result<ProcessManagerResponse, Status> {
        let trigger = request
            .trigger
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("the request carries no trigger"))?;
        let empty = EventBook::default();
        let history = request.state.as_ref().unwrap_or(&empty);
        let mut state = self.rebuild(history)?;
        let mut effects = Effects::none();
        let mut correlation_id = String::new();
        for (context, event) in EventContext::pages(trigger)? {
            if context.correlation_id.is_empty() {
                continue;
            }
            let name = event.full_type_name();
            let handler = self
                .triggers
                .iter()
                .find(|(domain, full, _)| *domain == context.domain && full == name);
            let Some((.., handler)) = handler else {
                continue;
            };
            let decided = handler(&state, &context, event)?;
            for event in &decided.events {
                self.apply_event(&mut state, event)?;
            }
            effects.events.extend(decided.events);
            effects.commands = effects.commands.and(decided.commands);
            correlation_id = context.correlation_id;
        }
        self.respond(history, effects, &correlation_id)
    }

    /// The whole `ProcessManager.HandleRejection`.
    pub fn handle_rejection(
        &self,
        request: &ProcessManagerRejectionRequest,
    ) -> Result<ProcessManagerResponse, Status> {
        let rejection = request
            .rejection
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("the request carries no rejection"))?;
        let rejected = Rejected::from_proto(rejection)?;
        let empty = EventBook::default();
        let history = request.state.as_ref().unwrap_or(&empty);
        let effects = match &self.on_rejection {
            Some(handler) => handler(&self.rebuild(history)?, &rejected),
            None => Effects::none(),
        };
        self.respond(history, effects, &rejected.correlation_id)
    }

    fn respond(
        &self,
        history: &EventBook,
        effects: Effects,
        correlation_id: &str,
    ) -> Result<ProcessManagerResponse, Status> {
        let commands = effects
            .commands
            .stamped(&self.name, correlation_id, &self.outputs)?;
        let pages = effects
            .events
            .into_iter()
            .map(|event| EventPage {
                event: Some(event),
                ..EventPage::default()
            })
            .collect();
        Ok(ProcessManagerResponse {
            events: Some(EventBook {
                cover: history.cover.clone(),
                pages,
                ..EventBook::default()
            }),
            commands,
        })
    }

    /// The gRPC service, ready for [`serve`](crate::serve).
    pub fn into_server(self) -> ProcessManagerServer<Self> {
        ProcessManagerServer::new(self)
            .max_decoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES)
            .max_encoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES)
    }
}

#[tonic::async_trait]
impl<S> ProcessManager for ProcessManagerRouter<S>
where
    S: Message + Default + Send + Sync + 'static,
{
    async fn handle(
        &self,
        request: Request<ProcessManagerRequest>,
    ) -> Result<Response<ProcessManagerResponse>, Status> {
        self.handle_trigger(request.get_ref()).map(Response::new)
    }

    async fn handle_rejection(
        &self,
        request: Request<ProcessManagerRejectionRequest>,
    ) -> Result<Response<ProcessManagerResponse>, Status> {
        ProcessManagerRouter::handle_rejection(self, request.get_ref()).map(Response::new)
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
    use angzarr_proto::{Cover, CoverExt, EventPageExt};
    use prost_types::{Duration, Timestamp};
    use uuid::Uuid;

    // State: how many triggers arrived (a Duration's seconds). A Timestamp from "a" or "b"
    // records a Duration{seconds: count + 1}; at two it also sends a Timestamp to "c".
    fn pm() -> ProcessManagerRouter<Duration> {
        let count = |state: &Duration, context: &EventContext, _: Timestamp| {
            let next = Duration {
                seconds: state.seconds + 1,
                nanos: 0,
            };
            let effects = Effects::none().record(&next);
            if next.seconds == 2 {
                effects.send("c", context.root, &Timestamp::default())
            } else {
                effects
            }
        };
        ProcessManagerRouter::new("pm-join")
            .on("a", count)
            .on("b", count)
            .sends("c", "Timestamp")
            .apply(|state: &mut Duration, e: Duration| state.seconds = e.seconds)
    }

    fn trigger(domain: &str, correlation: &str) -> EventBook {
        let mut page = EventPage {
            event: Some(pack(&Timestamp::default())),
            ..EventPage::default()
        };
        page.set_sequence_num(0);
        EventBook {
            cover: Some(Cover {
                correlation_id: correlation.into(),
                ..Cover::for_root(domain, Uuid::from_u128(3))
            }),
            pages: vec![page],
            ..EventBook::default()
        }
    }

    fn run(history: &[Any], domain: &str, correlation: &str) -> ProcessManagerResponse {
        let state = EventBook {
            pages: history
                .iter()
                .map(|e| EventPage {
                    event: Some(e.clone()),
                    ..EventPage::default()
                })
                .collect(),
            ..EventBook::default()
        };
        pm().handle_trigger(&ProcessManagerRequest {
            state: Some(state),
            trigger: Some(trigger(domain, correlation)),
        })
        .expect("handled")
    }

    #[test]
    fn records_from_state_and_sends_when_joined() {
        let first = run(&[], "a", "c-1");
        let recorded = first.events.clone().expect("events").pages;
        assert_eq!(recorded.len(), 1);
        assert!(first.commands.is_empty());

        let history = vec![recorded[0].event.clone().expect("event")];
        let second = run(&history, "b", "c-1");
        assert_eq!(second.commands.len(), 1);
        let cover = second.commands[0].cover.clone().expect("cover");
        assert_eq!(
            (cover.domain.as_str(), cover.correlation_id.as_str()),
            ("c", "c-1")
        );
        assert_eq!(cover.root_uuid(), Some(Uuid::from_u128(3)));
    }

    #[test]
    fn ignores_triggers_without_correlation_or_handler() {
        let none = run(&[], "a", "");
        assert!(none.events.expect("book").pages.is_empty());
        assert!(none.commands.is_empty());
        let other_domain = run(&[], "z", "c-1");
        assert!(other_domain.events.expect("book").pages.is_empty());
    }

    #[test]
    fn describes_inputs_per_domain() {
        let descriptor = pm().descriptor();
        assert_eq!(descriptor.component_type, "process_manager");
        let domains: Vec<&str> = descriptor
            .inputs
            .iter()
            .map(|t| t.domain.as_str())
            .collect();
        assert_eq!(domains, vec!["a", "b"]);
        assert_eq!(descriptor.outputs[0].types, vec!["Timestamp".to_string()]);
    }
}
