//! An aggregate from plain functions: the command router.
//!
//! Business logic should read like the rules it implements, so a command handler is a pure
//! function `(state, command) -> Result<event, Rejection>` and an `apply` function folds one
//! event into the state. [`CommandRouter`] does the protobuf plumbing around them: unpacking the
//! `Any`s, rebuilding state from the snapshot and the events, dispatching on the command's type
//! name, packing the new events, offering the new state for snapshotting, and describing
//! itself to the runtime.

use std::collections::HashMap;
use std::fmt;

use angzarr_proto::business_logic_server::{BusinessLogic, BusinessLogicServer};
use angzarr_proto::{
    AnyExt, CommandBook, ComponentDescriptor, ContextualCommand, EventBook, EventPage,
    GetDescriptorRequest, Target,
};
use prost::{Message, Name};
use prost_types::Any;
use tonic::{Request, Response, Status};

/// Packs a message into an `Any` (encoding into a `Vec` cannot fail).
pub(crate) fn pack<M: Message + Name>(message: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: message.encode_to_vec(),
    }
}

/// What a command handler returns when it accepts a command: the events to emit.
///
/// Implemented for every generated message (one event) and for [`Events`] (several).
pub trait IntoEvents {
    /// The events, packed, in emission order.
    fn into_events(self) -> Vec<Any>;
}

impl<M: Message + Name> IntoEvents for M {
    fn into_events(self) -> Vec<Any> {
        vec![pack(&self)]
    }
}

/// Several events emitted by one command, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Events(Vec<Any>);

impl Events {
    /// No events yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `event`.
    pub fn with<M: Message + Name>(mut self, event: &M) -> Self {
        self.0.push(pack(event));
        self
    }
}

impl IntoEvents for Events {
    fn into_events(self) -> Vec<Any> {
        self.0
    }
}

type CommandFn<S> = Box<dyn Fn(&S, &Any) -> Result<Vec<Any>, Status> + Send + Sync>;
type ApplyFn<S> = Box<dyn Fn(&mut S, &Any) -> Result<(), Status> + Send + Sync>;

/// An aggregate built from command handlers and apply functions; serves
/// `angzarr.BusinessLogic` through [`CommandRouter::into_server`].
///
/// `S` is the aggregate's state, a protobuf message so that it can travel as a snapshot.
/// Commands and events are matched by their full protobuf name (from the `Any` type URL).
pub struct CommandRouter<S> {
    domain: String,
    commands: Vec<(String, String, CommandFn<S>)>,
    appliers: HashMap<String, ApplyFn<S>>,
}

impl<S> fmt::Debug for CommandRouter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let commands: Vec<&str> = self
            .commands
            .iter()
            .map(|(full, ..)| full.as_str())
            .collect();
        let mut events: Vec<&str> = self.appliers.keys().map(String::as_str).collect();
        events.sort_unstable();
        f.debug_struct("CommandRouter")
            .field("domain", &self.domain)
            .field("commands", &commands)
            .field("events", &events)
            .finish()
    }
}

impl<S> CommandRouter<S>
where
    S: Message + Name + Default + Clone + Send + Sync + 'static,
{
    /// An aggregate of `domain` that handles nothing yet.
    pub fn new(domain: impl Into<String>) -> Self {
        Self {
            domain: domain.into(),
            commands: Vec::new(),
            appliers: HashMap::new(),
        }
    }

    /// Handles commands of type `C` with `handler`: guard (existence, lifecycle), validate the
    /// command's fields, compute, emit. Return a [`Rejection`](crate::Rejection) to refuse.
    /// Registering a type twice keeps the later handler.
    pub fn on<C, E, F>(mut self, handler: F) -> Self
    where
        C: Message + Name + Default,
        E: IntoEvents,
        F: Fn(&S, C) -> Result<E, crate::Rejection> + Send + Sync + 'static,
    {
        let run: CommandFn<S> = Box::new(move |state, any| {
            let command = C::decode(any.value.as_slice()).map_err(|err| {
                Status::invalid_argument(format!("malformed {}: {err}", C::full_name()))
            })?;
            handler(state, command)
                .map(IntoEvents::into_events)
                .map_err(Status::from)
        });
        let full = C::full_name();
        self.commands.retain(|(name, ..)| *name != full);
        self.commands.push((full, C::NAME.to_string(), run));
        self
    }

    /// Folds events of type `E` into the state with `apply`. Every event type the history may
    /// hold needs one (register a no-op for events that change nothing): an unknown event is
    /// an error rather than silently wrong state.
    pub fn apply<E, F>(mut self, apply: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&mut S, E) + Send + Sync + 'static,
    {
        let run: ApplyFn<S> = Box::new(move |state, any| {
            let event = E::decode(any.value.as_slice()).map_err(|err| {
                Status::internal(format!("cannot decode event {}: {err}", E::full_name()))
            })?;
            apply(state, event);
            Ok(())
        });
        self.appliers.insert(E::full_name(), run);
        self
    }

    /// The domain this aggregate serves.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// How the aggregate describes itself to the runtime: its domain and the short names of
    /// the commands it handles.
    pub fn descriptor(&self) -> ComponentDescriptor {
        ComponentDescriptor {
            name: self.domain.clone(),
            component_type: "aggregate".to_string(),
            inputs: vec![Target {
                editions: Vec::new(),
                domain: self.domain.clone(),
                types: self
                    .commands
                    .iter()
                    .map(|(_, short, _)| short.clone())
                    .collect(),
            }],
            outputs: Vec::new(),
        }
    }

    /// The state after `history`: its snapshot (or the default state) with every event
    /// applied in order.
    pub fn rebuild(&self, history: &EventBook) -> Result<S, Status> {
        let snapshot = history.snapshot.as_ref().and_then(|s| s.state.as_ref());
        let mut state = match snapshot {
            Some(any) => any.to_msg::<S>().map_err(|err| {
                Status::internal(format!("{}: cannot decode snapshot: {err}", self.domain))
            })?,
            None => S::default(),
        };
        for (index, page) in history.pages.iter().enumerate() {
            let event = page.event.as_ref().ok_or_else(|| {
                Status::internal(format!(
                    "{}: history page {index} holds no event",
                    self.domain
                ))
            })?;
            self.apply_event(&mut state, event)?;
        }
        Ok(state)
    }

    /// Applies one packed event to `state`.
    pub fn apply_event(&self, state: &mut S, event: &Any) -> Result<(), Status> {
        let name = event.full_type_name();
        let apply = self.appliers.get(name).ok_or_else(|| {
            Status::internal(format!(
                "{}: no apply function for event type {name}; register one with CommandRouter::apply",
                self.domain
            ))
        })?;
        apply(state, event)
    }

    /// Runs the handler for one packed command against `state`; returns the new events.
    pub fn execute(&self, state: &S, command: &Any) -> Result<Vec<Any>, Status> {
        let name = command.full_type_name();
        match self.commands.iter().find(|(full, ..)| full == name) {
            Some((_, _, handler)) => handler(state, command),
            None => Err(Status::invalid_argument(format!(
                "{} does not handle command type {name:?}; it handles: {}",
                self.domain,
                self.command_names().join(", ")
            ))),
        }
    }

    fn command_names(&self) -> Vec<&str> {
        self.commands
            .iter()
            .map(|(full, ..)| full.as_str())
            .collect()
    }

    /// The whole `BusinessLogic.Handle`: rebuilds the state from `request.events`, runs each
    /// command page in order (each sees the events of the ones before), and answers the new
    /// events (sequence numbers left to the runtime) plus the resulting state as
    /// `snapshot_state`. Any rejection rejects the whole book.
    pub fn handle_command(&self, request: &ContextualCommand) -> Result<EventBook, Status> {
        let empty = EventBook::default();
        let history = request.events.as_ref().unwrap_or(&empty);
        let book: &CommandBook = request
            .command
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("the request carries no command book"))?;
        if book.pages.is_empty() {
            return Err(Status::invalid_argument(
                "the command book holds no command",
            ));
        }
        let mut state = self.rebuild(history)?;
        let mut pages = Vec::new();
        for (index, page) in book.pages.iter().enumerate() {
            let command = page.command.as_ref().ok_or_else(|| {
                Status::invalid_argument(format!("command page {index} holds no command"))
            })?;
            for event in self.execute(&state, command)? {
                self.apply_event(&mut state, &event)?;
                pages.push(EventPage {
                    event: Some(event),
                    ..EventPage::default()
                });
            }
        }
        Ok(EventBook {
            cover: book.cover.clone().or_else(|| history.cover.clone()),
            pages,
            snapshot_state: Some(pack(&state)),
            ..EventBook::default()
        })
    }

    /// The gRPC service, ready for [`serve`](crate::serve).
    pub fn into_server(self) -> BusinessLogicServer<Self> {
        BusinessLogicServer::new(self)
            .max_decoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES)
            .max_encoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES)
    }
}

#[tonic::async_trait]
impl<S> BusinessLogic for CommandRouter<S>
where
    S: Message + Name + Default + Clone + Send + Sync + 'static,
{
    async fn handle(
        &self,
        request: Request<ContextualCommand>,
    ) -> Result<Response<EventBook>, Status> {
        self.handle_command(request.get_ref()).map(Response::new)
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
    use crate::Rejection;
    use angzarr_proto::{CommandPage, Snapshot};
    use tonic::Code;

    // A counter: `Add{n}` emits `Added{new_total}`; `AddTwice{n}` emits two events.
    #[derive(Clone, PartialEq, Message)]
    struct Counter {
        #[prost(int64, tag = "1")]
        total: i64,
    }
    #[derive(Clone, PartialEq, Message)]
    struct Add {
        #[prost(int64, tag = "1")]
        n: i64,
    }
    #[derive(Clone, PartialEq, Message)]
    struct AddTwice {
        #[prost(int64, tag = "1")]
        n: i64,
    }
    #[derive(Clone, PartialEq, Message)]
    struct Added {
        #[prost(int64, tag = "1")]
        new_total: i64,
    }
    macro_rules! named {
        ($($t:ident),*) => {$(impl Name for $t {
            const PACKAGE: &'static str = "test.counter";
            const NAME: &'static str = stringify!($t);
        })*};
    }
    named!(Counter, Add, AddTwice, Added);

    fn add(state: &Counter, cmd: Add) -> Result<Added, Rejection> {
        if cmd.n < 1 {
            return Err(Rejection::invalid_argument("n must be positive"));
        }
        let new_total = state
            .total
            .checked_add(cmd.n)
            .ok_or_else(Rejection::overflow)?;
        Ok(Added { new_total })
    }

    fn add_twice(state: &Counter, cmd: AddTwice) -> Result<Events, Rejection> {
        let first = add(state, Add { n: cmd.n })?;
        let second = add(
            &Counter {
                total: first.new_total,
            },
            Add { n: cmd.n },
        )?;
        Ok(Events::new().with(&first).with(&second))
    }

    fn counter() -> CommandRouter<Counter> {
        CommandRouter::new("counter")
            .on(add)
            .on(add_twice)
            .apply(|state: &mut Counter, e: Added| state.total = e.new_total)
    }

    fn request(history: &[i64], snapshot: Option<i64>, commands: &[Any]) -> ContextualCommand {
        ContextualCommand {
            events: Some(EventBook {
                snapshot: snapshot.map(|total| Snapshot {
                    sequence: 0,
                    state: Some(pack(&Counter { total })),
                }),
                pages: history
                    .iter()
                    .map(|&new_total| EventPage {
                        event: Some(pack(&Added { new_total })),
                        ..EventPage::default()
                    })
                    .collect(),
                ..EventBook::default()
            }),
            command: Some(CommandBook {
                pages: commands
                    .iter()
                    .map(|c| CommandPage {
                        sequence: None,
                        command: Some(c.clone()),
                    })
                    .collect(),
                ..CommandBook::default()
            }),
        }
    }

    /// New totals and the snapshot's total, or the status code and message.
    type Outcome = Result<(Vec<i64>, i64), (Code, String)>;

    /// Runs `commands` after `history` (and an optional snapshot).
    fn check(history: &[i64], snapshot: Option<i64>, commands: &[Any]) -> Outcome {
        let out = counter()
            .handle_command(&request(history, snapshot, commands))
            .map_err(|s| (s.code(), s.message().to_string()))?;
        let totals = out
            .pages
            .iter()
            .map(|p| {
                assert_eq!(p.sequence, None, "sequences are the runtime's job");
                let event = p.event.as_ref().expect("event");
                event.to_msg::<Added>().expect("Added").new_total
            })
            .collect();
        let state = out.snapshot_state.expect("snapshot_state");
        Ok((totals, state.to_msg::<Counter>().expect("state").total))
    }

    fn rejected(code: Code, words: &str) -> Outcome {
        Err((code, words.to_string()))
    }

    #[tokio::test]
    async fn the_served_router_takes_a_history_past_tonics_default_limit() {
        use angzarr_proto::business_logic_client::BusinessLogicClient;
        // tonic refuses messages over 4 MiB unless told otherwise; the runtime sends up to
        // MAX_LOGIC_MESSAGE_BYTES (a command with a long history).
        let history: Vec<i64> = (1..=400_000).collect();
        let command = request(&history, None, &[pack(&Add { n: 1 })]);
        assert!(command.encoded_len() > 4 * 1024 * 1024);
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("counter.sock");
        let listener = angzarr_transport::bind(&path).expect("bind");
        tokio::spawn(crate::server::serve_listener(
            listener,
            counter().into_server(),
            &[angzarr_proto::FILE_DESCRIPTOR_SET],
            std::future::pending(),
        ));
        let channel = angzarr_transport::channel(&path).await.expect("connect");
        let answer = BusinessLogicClient::new(channel)
            .max_encoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES)
            .handle(command)
            .await
            .expect("accepted")
            .into_inner();
        let total = answer.pages[0]
            .event
            .as_ref()
            .expect("event")
            .to_msg::<Added>();
        assert_eq!(total.expect("Added").new_total, 400_001);
    }

    /// Name, history, snapshot, commands, expected outcome.
    type Case<'a> = (&'a str, &'a [i64], Option<i64>, Vec<Any>, Outcome);

    #[test]
    fn handles_rebuilds_and_rejects() {
        let add1 = pack(&Add { n: 1 });
        #[rustfmt::skip]
        let cases: Vec<Case<'_>> = vec![
            ("fresh", &[], None, vec![add1.clone()], Ok((vec![1], 1))),
            ("events fold in order", &[5, 7], None, vec![add1.clone()], Ok((vec![8], 8))),
            ("snapshot then events", &[12], Some(10), vec![add1.clone()], Ok((vec![13], 13))),
            ("snapshot alone", &[], Some(10), vec![add1.clone()], Ok((vec![11], 11))),
            ("two events", &[], None, vec![pack(&AddTwice { n: 2 })], Ok((vec![2, 4], 4))),
            ("pages see earlier pages", &[], None, vec![add1.clone(), add1.clone()], Ok((vec![1, 2], 2))),
            ("rejection", &[], None, vec![pack(&Add { n: 0 })], rejected(Code::InvalidArgument, "n must be positive")),
            ("overflow", &[i64::MAX], None, vec![add1.clone()], rejected(Code::InvalidArgument, "overflow")),
            ("one bad page rejects all", &[], None, vec![add1.clone(), pack(&Add { n: -1 })], rejected(Code::InvalidArgument, "n must be positive")),
        ];
        for (name, history, snapshot, commands, expected) in cases {
            assert_eq!(check(history, snapshot, &commands), expected, "case {name}");
        }
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let unknown = Any {
            type_url: "type.googleapis.com/test.counter.Reset".into(),
            value: vec![],
        };
        let (code, message) = check(&[], None, &[unknown]).expect_err("unknown command");
        assert_eq!(code, Code::InvalidArgument);
        assert!(message.contains("test.counter.Reset"), "{message}");
        assert!(
            message.contains("test.counter.Add, test.counter.AddTwice"),
            "{message}"
        );

        let malformed = Any {
            type_url: Add::type_url(),
            value: vec![0xff],
        };
        let (code, message) = check(&[], None, &[malformed]).expect_err("malformed");
        assert_eq!(code, Code::InvalidArgument);
        assert!(message.contains("malformed test.counter.Add"), "{message}");

        let (code, message) = check(&[], None, &[]).expect_err("empty book");
        assert_eq!(
            (code, message.as_str()),
            (Code::InvalidArgument, "the command book holds no command")
        );

        let mut no_apply = request(&[], None, &[]);
        if let Some(events) = no_apply.events.as_mut() {
            events.pages.push(EventPage {
                event: Some(pack(&Add { n: 1 })),
                ..EventPage::default()
            });
        }
        let status = counter()
            .rebuild(no_apply.events.as_ref().expect("events"))
            .expect_err("no apply");
        assert_eq!(status.code(), Code::Internal);
        assert!(
            status
                .message()
                .contains("no apply function for event type test.counter.Add")
        );
    }

    #[test]
    fn describes_itself_with_short_command_names() {
        let descriptor = counter().descriptor();
        assert_eq!(descriptor.name, "counter");
        assert_eq!(descriptor.component_type, "aggregate");
        assert_eq!(
            descriptor.inputs,
            vec![Target {
                domain: "counter".into(),
                types: vec!["Add".into(), "AddTwice".into()],
                ..Target::default()
            }]
        );
    }
}
