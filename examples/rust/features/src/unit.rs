//! The world of the unit features: one component under test, driven through its handlers in
//! memory (README "Aggregates", "Sagas and process managers", "Projectors").
//!
//! Each step of `tests/unit.rs` calls one method here with the texts it captured; the method
//! substitutes the placeholders, parses, runs the handler and checks, and returns a readable
//! error instead of panicking.

use std::collections::HashMap;
use std::fmt;

use angzarr_client::{RowStore, now};
use angzarr_proto::{
    AnyExt, CommandBook, CommandPage, CommandRejection, ContextualCommand, Cover, CoverExt,
    EventBook, EventPage, EventPageExt, EventRef, ProcessManagerRejectionRequest,
    ProcessManagerRequest, ProcessManagerResponse,
};
use cucumber::gherkin::Step;
use prost_reflect::DynamicMessage;
use prost_types::Any;
use tonic::Status;
use uuid::Uuid;

use crate::matching::{Expected, check_list, check_timestamps};
use crate::registry::{self, Aggregate, ProcessManager, Projector, Saga};
use crate::values::{
    self, Placeholders, check_rejection, describe_any, describe_status, pack, parse_message, unpack,
};

/// The state of one scenario.
#[derive(Default, cucumber::World)]
pub struct UnitWorld {
    names: Placeholders,
    subject: Option<Subject>,
    /// The sequence the next delivered event of (domain, root) gets.
    sequences: HashMap<(String, Uuid), u32>,
    /// The global position of the last delivered event.
    position: u64,
}

enum Subject {
    Aggregate(AggregateTest),
    Reactive(ReactiveTest),
    Projector(ProjectorTest),
}

struct AggregateTest {
    domain: String,
    aggregate: Box<dyn Aggregate>,
    history: Vec<Any>,
    /// What the last command did: its events, or its rejection.
    outcome: Option<Result<Vec<Any>, Status>>,
}

/// A saga or a process manager.
struct ReactiveTest {
    name: String,
    kind: Reactor,
    /// The last event delivered (the source of the commands it sent).
    last_event: Option<EventBook>,
    /// The commands of the last step (what a rejection step refers to).
    pending: Vec<CommandBook>,
    /// The commands of the last `When` step.
    sent: Option<Vec<CommandBook>>,
    /// The new events of its own history of the last `When` step (process managers).
    recorded: Option<Vec<Any>>,
}

enum Reactor {
    Saga(Box<dyn Saga>),
    ProcessManager {
        pm: Box<dyn ProcessManager>,
        histories: Histories,
    },
}

/// A process manager's own history per correlation id.
type Histories = HashMap<String, Vec<Any>>;

struct ProjectorTest {
    name: String,
    projector: Box<dyn Projector>,
    rows: RowStore,
    last_event: Option<EventBook>,
}

type Outcome = Result<(), String>;

/// The JSON of a step: inline after the message name, else its docstring, else `{}`.
pub fn json_argument<'a>(inline: &'a str, step: &'a Step) -> &'a str {
    match step.docstring() {
        Some(doc) if inline.trim().is_empty() => doc,
        _ => inline,
    }
}

/// The rows of a step's table, each with `columns.len()` cells.
fn table<'a>(step: &'a Step, columns: &[&str]) -> Result<&'a [Vec<String>], String> {
    let layout = format!("| {} |", columns.join(" | "));
    let rows = step
        .table()
        .map(|t| t.rows.as_slice())
        .ok_or_else(|| format!("the step needs a table of rows {layout}"))?;
    match rows.iter().find(|row| row.len() != columns.len()) {
        Some(row) => Err(format!(
            "table row {row:?} does not have the layout {layout}"
        )),
        None => Ok(rows),
    }
}

fn cover(domain: &str, root: Uuid, correlation_id: &str) -> Cover {
    Cover {
        correlation_id: correlation_id.to_string(),
        ..Cover::for_root(domain, root)
    }
}

fn page(sequence: u32, position: u64, event: Any) -> EventPage {
    let mut page = EventPage {
        created_at: Some(now()),
        event: Some(event),
        position,
        ..EventPage::default()
    };
    page.set_sequence_num(sequence);
    page
}

/// A history as the runtime hands it to business logic.
fn history(cover: Cover, events: &[Any]) -> EventBook {
    let pages = (0u32..).zip(events).map(|(n, e)| page(n, 0, e.clone()));
    EventBook {
        cover: Some(cover),
        pages: pages.collect(),
        next_sequence: u32::try_from(events.len()).unwrap_or(u32::MAX),
        ..EventBook::default()
    }
}

/// The events of a book, each checked to set its `*_at` timestamps.
fn emitted(book: Option<&EventBook>) -> Result<Vec<Any>, String> {
    let events: Vec<Any> = book
        .map(|b| b.pages.iter().filter_map(|p| p.event.clone()).collect())
        .unwrap_or_default();
    for event in &events {
        check_timestamps(&unpack(event)?)?;
    }
    Ok(events)
}

fn unpack_all(events: &[Any]) -> Result<Vec<(String, DynamicMessage)>, String> {
    events
        .iter()
        .map(|e| Ok((String::new(), unpack(e)?)))
        .collect()
}

/// `domain root ` of a command book (where the command goes).
fn destination(book: &CommandBook) -> String {
    let cover = book.cover.clone().unwrap_or_default();
    let root = cover
        .root_uuid()
        .map_or_else(|| "<no root>".to_string(), |r| r.to_string());
    format!("{} {root} ", cover.domain)
}

fn commands(books: &[CommandBook]) -> Result<Vec<(String, DynamicMessage)>, String> {
    let mut out = Vec::new();
    for book in books {
        if book.pages.is_empty() {
            return Err(format!(
                "a command book to {}holds no command",
                destination(book)
            ));
        }
        for page in &book.pages {
            let command = page
                .command
                .as_ref()
                .ok_or("a command page holds no command")?;
            out.push((destination(book), unpack(command)?));
        }
    }
    Ok(out)
}

fn describe_commands(books: &[CommandBook]) -> String {
    let described: Vec<String> = books
        .iter()
        .flat_map(|b| {
            b.pages.iter().map(move |p| {
                let command = p
                    .command
                    .as_ref()
                    .map_or("<none>".to_string(), describe_any);
                format!("{}{command}", destination(b))
            })
        })
        .collect();
    if described.is_empty() {
        "nothing".to_string()
    } else {
        described.join("; ")
    }
}

fn status_error(who: &str, status: &Status) -> String {
    format!("{who} failed: {}", describe_status(status))
}

impl UnitWorld {
    /// Runs a step, writing the scenario's UUIDs in its error as their `$NAME`s again.
    pub fn step(&mut self, run: impl FnOnce(&mut Self) -> Outcome) -> Outcome {
        run(self).map_err(|err| self.names.restore(&err))
    }

    fn text(&mut self, text: &str) -> String {
        self.names.substitute(text)
    }

    fn root(&mut self, text: &str) -> Result<Uuid, String> {
        self.names.root(text)
    }

    /// A correlation id as written: empty means the default `$C`, `""` means none.
    fn correlation(&mut self, text: &str) -> String {
        match text.trim() {
            "" => self.names.get("C").to_string(),
            "\"\"" => String::new(),
            id => self.text(id),
        }
    }

    /// One stored event of `domain`/`root`, as delivered to a saga, process manager or
    /// projector: the next sequence of that root (or `sequence`), the next global position.
    fn delivery(
        &mut self,
        domain: &str,
        root: Uuid,
        correlation_id: &str,
        sequence: Option<u32>,
        event: Any,
    ) -> EventBook {
        let next = self
            .sequences
            .entry((domain.to_string(), root))
            .or_default();
        let sequence = sequence.unwrap_or(*next);
        *next = (*next).max(sequence.saturating_add(1));
        self.position += 1;
        EventBook {
            cover: Some(cover(domain, root, correlation_id)),
            pages: vec![page(sequence, self.position, event)],
            next_sequence: sequence.saturating_add(1),
            ..EventBook::default()
        }
    }

    // Aggregates.

    fn aggregate(&mut self) -> Result<&mut AggregateTest, String> {
        match &mut self.subject {
            Some(Subject::Aggregate(test)) => Ok(test),
            _ => Err("no aggregate under test: start with `Given the <domain> aggregate`".into()),
        }
    }

    /// `Given the <domain> aggregate`.
    pub fn given_aggregate(&mut self, domain: &str) -> Outcome {
        self.subject = Some(Subject::Aggregate(AggregateTest {
            domain: domain.to_string(),
            aggregate: registry::aggregate(domain)?,
            history: Vec::new(),
            outcome: None,
        }));
        Ok(())
    }

    /// The aggregate's root: `$R`.
    fn aggregate_root(&mut self) -> Uuid {
        self.names.get("R")
    }

    /// `Given <Event> <json>`: appends to the history (which must still rebuild).
    pub fn given_event(&mut self, name: &str, json: &str) -> Outcome {
        let json = self.text(json);
        let root = self.aggregate_root();
        let test = self.aggregate()?;
        let event = parse_message(&test.domain, name, &json)?;
        test.history.push(pack(&event));
        let book = history(Cover::for_root(&test.domain, root), &test.history);
        match test.aggregate.state(&book) {
            Ok(_) => Ok(()),
            Err(status) => Err(status_error("rebuilding the state", &status)),
        }
    }

    /// `When <Command> <json>`: runs it against the history; accepted events join it.
    pub fn when_command(&mut self, name: &str, json: &str) -> Outcome {
        let json = self.text(json);
        let root = self.aggregate_root();
        let correlation_id = self.names.get("C").to_string();
        let test = self.aggregate()?;
        let command = pack(&parse_message(&test.domain, name, &json)?);
        let request = ContextualCommand {
            events: Some(history(Cover::for_root(&test.domain, root), &test.history)),
            command: Some(CommandBook {
                cover: Some(cover(&test.domain, root, &correlation_id)),
                pages: vec![CommandPage {
                    sequence: None,
                    command: Some(command),
                }],
                ..CommandBook::default()
            }),
        };
        match test.aggregate.handle_command(&request) {
            Ok(book) => {
                let events = emitted(Some(&book))?;
                test.history.extend(events.iter().cloned());
                test.outcome = Some(Ok(events));
            }
            Err(status) => test.outcome = Some(Err(status)),
        }
        Ok(())
    }

    fn accepted(&mut self) -> Result<Vec<Any>, String> {
        match &self.aggregate()?.outcome {
            None => Err("no command was run: add `When <Command> <json>`".into()),
            Some(Err(status)) => Err(format!(
                "the command was rejected with {}",
                describe_status(status)
            )),
            Some(Ok(events)) => Ok(events.clone()),
        }
    }

    /// `Then the events are:` with rows `| <Event> | <json> |`.
    pub fn then_events(&mut self, step: &Step) -> Outcome {
        let events = self.accepted()?;
        let domain = self.aggregate()?.domain.clone();
        let expected = self.expected_rows(step, &domain)?;
        check_list("events", &expected, &unpack_all(&events)?)
    }

    fn expected_rows(
        &mut self,
        step: &Step,
        domain: &str,
    ) -> Result<Vec<(String, Expected)>, String> {
        table(step, &["<Event>", "<json>"])?
            .iter()
            .map(|row| {
                let json = self.text(&row[1]);
                Ok((
                    String::new(),
                    Expected::parse_named(domain, row[0].trim(), &json)?,
                ))
            })
            .collect()
    }

    /// `Then the command is rejected with <STATUS> "<words>"`.
    pub fn then_rejected(&mut self, code: &str, words: &str) -> Outcome {
        let words = self.text(words);
        match &self.aggregate()?.outcome {
            None => Err("no command was run: add `When <Command> <json>`".into()),
            Some(Ok(events)) => {
                let events: Vec<String> = events.iter().map(describe_any).collect();
                Err(format!(
                    "expected the rejection {code} {words:?}, but the command was accepted and emitted: {}",
                    events.join("; ")
                ))
            }
            Some(Err(status)) => check_rejection(status, code, &words),
        }
    }

    /// `Then the state is <json>`: the state rebuilt from the history.
    pub fn then_state(&mut self, json: &str) -> Outcome {
        let json = self.text(json);
        let root = self.aggregate_root();
        let test = self.aggregate()?;
        let book = history(Cover::for_root(&test.domain, root), &test.history);
        let state = test
            .aggregate
            .state(&book)
            .map_err(|status| status_error("rebuilding the state", &status))?;
        check_state(&state, &json)
    }

    // Sagas and process managers.

    fn reactive(&mut self) -> Result<&mut ReactiveTest, String> {
        match &mut self.subject {
            Some(Subject::Reactive(test)) => Ok(test),
            _ => Err(
                "no saga or process manager under test: start with `Given the <name> saga` \
                      or `Given the <name> process manager`"
                    .into(),
            ),
        }
    }

    fn start_reactive(&mut self, name: &str, kind: Reactor) {
        self.subject = Some(Subject::Reactive(ReactiveTest {
            name: name.to_string(),
            kind,
            last_event: None,
            pending: Vec::new(),
            sent: None,
            recorded: None,
        }));
    }

    /// `Given the <name> saga`.
    pub fn given_saga(&mut self, name: &str) -> Outcome {
        let saga = registry::saga(name)?;
        self.start_reactive(name, Reactor::Saga(saga));
        Ok(())
    }

    /// `Given the <name> process manager`.
    pub fn given_process_manager(&mut self, name: &str) -> Outcome {
        let pm = registry::process_manager(name)?;
        let name = pm.name().to_string();
        let histories = HashMap::new();
        self.start_reactive(&name, Reactor::ProcessManager { pm, histories });
        Ok(())
    }

    /// `Given it received` / `When it receives <Event> from <domain> <root> [under
    /// correlation <id>] <json>`; `outcome` is whether this is a `When` (what it sends and
    /// records is then what the `Then` steps check).
    pub fn receive(
        &mut self,
        event: (&str, &str),
        from: (&str, &str),
        correlation: &str,
        outcome: bool,
    ) -> Outcome {
        let (name, json) = event;
        let (domain, root) = from;
        let json = self.text(json);
        let root = self.root(root)?;
        let correlation_id = self.correlation(correlation);
        let message = pack(&parse_message(domain, name, &json)?);
        self.reactive()?;
        let book = self.delivery(domain, root, &correlation_id, None, message);
        let test = self.reactive()?;
        let (events, commands) = match &mut test.kind {
            Reactor::Saga(saga) => {
                let response = saga
                    .handle_event(&book)
                    .map_err(|status| status_error(&test.name, &status))?;
                (None, response.commands)
            }
            Reactor::ProcessManager { pm, histories } => {
                let history = histories.entry(correlation_id.clone()).or_default();
                let state = own_history(pm.as_ref(), &correlation_id, history);
                let request = ProcessManagerRequest {
                    state: Some(state),
                    trigger: Some(book.clone()),
                };
                let response = pm.handle_trigger(&request);
                let (events, commands) = recorded(&test.name, history, response)?;
                (Some(events), commands)
            }
        };
        test.last_event = Some(book);
        test.finish(events, commands, outcome);
        Ok(())
    }

    /// `When its command <Command> to <domain> <root> is rejected with <STATUS> "<words>"`.
    pub fn command_rejected(
        &mut self,
        command: &str,
        to: (&str, &str),
        code: &str,
        words: &str,
    ) -> Outcome {
        let (domain, root) = to;
        let root = self.root(root)?;
        let words = self.text(words);
        let code = values::parse_code(code)?;
        let full_name = values::message_type(domain, command)?
            .full_name()
            .to_string();
        let test = self.reactive()?;
        let book = test
            .pending
            .iter()
            .find(|book| {
                let cover = book.cover.clone().unwrap_or_default();
                let first = book.pages.first().and_then(|p| p.command.as_ref());
                cover.domain == domain
                    && cover.root_uuid() == Some(root)
                    && first.is_some_and(|c| c.full_type_name() == full_name)
            })
            .cloned()
            .ok_or_else(|| {
                format!(
                    "the last step sent no {command} to {domain} {root}; it sent: {}",
                    describe_commands(&test.pending)
                )
            })?;
        let source_event = test.last_event.clone();
        let source = source_event.as_ref().map(|event| {
            let cover = event.cover.clone().unwrap_or_default();
            let page = event.pages.first().cloned().unwrap_or_default();
            EventRef {
                domain: cover.domain,
                root: cover.root,
                edition: cover.edition,
                sequence: page.sequence_num().unwrap_or_default(),
                position: page.position,
            }
        });
        let correlation_id = book.cover.clone().unwrap_or_default().correlation_id;
        let rejection = CommandRejection {
            command: Some(book),
            code: code as i32,
            message: words,
            source,
            source_event,
        };
        let (events, commands) = match &mut test.kind {
            Reactor::Saga(saga) => {
                let response = saga
                    .handle_rejection(&rejection)
                    .map_err(|status| status_error(&test.name, &status))?;
                (None, response.commands)
            }
            Reactor::ProcessManager { pm, histories } => {
                let history = histories.entry(correlation_id.clone()).or_default();
                let request = ProcessManagerRejectionRequest {
                    state: Some(own_history(pm.as_ref(), &correlation_id, history)),
                    rejection: Some(rejection),
                };
                let response = pm.handle_rejection(&request);
                let (events, commands) = recorded(&test.name, history, response)?;
                (Some(events), commands)
            }
        };
        test.finish(events, commands, true);
        Ok(())
    }

    fn sent(&mut self) -> Result<Vec<CommandBook>, String> {
        self.reactive()?.sent.clone().ok_or_else(|| {
            "no `When` step made it react (`Given it received` forgets the commands)".to_string()
        })
    }

    /// `Then it sends:` with rows `| <domain> | <root> | <Command> | <json> |`.
    pub fn then_sends(&mut self, step: &Step) -> Outcome {
        let sent = self.sent()?;
        let rows = table(step, &["<domain>", "<root>", "<Command>", "<json>"])?;
        let mut expected = Vec::new();
        for row in rows {
            let domain = row[0].trim();
            let root = self.root(&row[1])?;
            let json = self.text(&row[3]);
            let message = Expected::parse_named(domain, row[2].trim(), &json)?;
            expected.push((format!("{domain} {root} "), message));
        }
        check_list("commands", &expected, &commands(&sent)?)
    }

    /// `Then it sends nothing`.
    pub fn then_sends_nothing(&mut self) -> Outcome {
        let sent = self.sent()?;
        if sent.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "expected no command, it sent: {}",
                describe_commands(&sent)
            ))
        }
    }

    /// `Then every command carries the correlation id <id>` (of the last step; there must be
    /// at least one).
    pub fn then_correlation(&mut self, id: &str) -> Outcome {
        let id = self.correlation(id);
        let test = self.reactive()?;
        if test.pending.is_empty() {
            return Err("the last step sent no command".into());
        }
        for book in &test.pending {
            let carried = book.cover.clone().unwrap_or_default().correlation_id;
            if carried != id {
                return Err(format!(
                    "expected correlation id {id:?}, the command to {}carries {carried:?}",
                    destination(book)
                ));
            }
        }
        Ok(())
    }

    fn process_manager(&mut self) -> Result<(&str, &dyn ProcessManager, &Histories), String> {
        let test = self.reactive()?;
        match &test.kind {
            Reactor::ProcessManager { pm, histories } => Ok((&test.name, pm.as_ref(), histories)),
            Reactor::Saga(_) => Err(format!("{} is a saga: it records no events", test.name)),
        }
    }

    fn recorded(&mut self) -> Result<Vec<Any>, String> {
        self.process_manager()?;
        self.reactive()?
            .recorded
            .clone()
            .ok_or_else(|| "no `When` step made it react".to_string())
    }

    /// `Then it records:` with rows `| <Event> | <json> |` (events of its own domain).
    pub fn then_records(&mut self, step: &Step) -> Outcome {
        let recorded = self.recorded()?;
        let name = self.reactive()?.name.clone();
        let expected = self.expected_rows(step, &name)?;
        check_list("recorded events", &expected, &unpack_all(&recorded)?)
    }

    /// `Then it records nothing`.
    pub fn then_records_nothing(&mut self) -> Outcome {
        let recorded = self.recorded()?;
        if recorded.is_empty() {
            Ok(())
        } else {
            let events: Vec<String> = recorded.iter().map(describe_any).collect();
            Err(format!(
                "expected no new event, it recorded: {}",
                events.join("; ")
            ))
        }
    }

    /// `Then its state [under correlation <id>] is <json>`.
    pub fn then_process_state(&mut self, correlation: &str, json: &str) -> Outcome {
        let correlation_id = self.correlation(correlation);
        let json = self.text(json);
        let (name, pm, histories) = self.process_manager()?;
        let events = histories
            .get(&correlation_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let state = pm
            .state(&own_history(pm, &correlation_id, events))
            .map_err(|status| status_error(&format!("rebuilding the state of {name}"), &status))?;
        check_state(&state, &json)
    }

    // Projectors.

    fn projector(&mut self) -> Result<&mut ProjectorTest, String> {
        match &mut self.subject {
            Some(Subject::Projector(test)) => Ok(test),
            _ => Err("no projector under test: start with `Given the <name> projector`".into()),
        }
    }

    /// `Given the <name> projector`, with an empty row store.
    pub fn given_projector(&mut self, name: &str) -> Outcome {
        let projector = registry::projector(name)?;
        let rows =
            RowStore::in_memory().map_err(|status| status_error("the row store", &status))?;
        self.subject = Some(Subject::Projector(ProjectorTest {
            name: name.to_string(),
            projector,
            rows,
            last_event: None,
        }));
        Ok(())
    }

    /// `Given it handled` / `When it handles <Event> from <domain> <root> at sequence <n>
    /// <json>`.
    pub fn project(&mut self, event: (&str, &str), from: (&str, &str), sequence: &str) -> Outcome {
        let (name, json) = event;
        let (domain, root) = from;
        let json = self.text(json);
        let root = self.root(root)?;
        let sequence: u32 = sequence
            .trim()
            .parse()
            .map_err(|_| format!("sequence {sequence:?} is not a number"))?;
        let message = pack(&parse_message(domain, name, &json)?);
        let correlation_id = self.names.get("C").to_string();
        self.projector()?;
        let book = self.delivery(domain, root, &correlation_id, Some(sequence), message);
        let test = self.projector()?;
        test.last_event = Some(book);
        test.handle_last()
    }

    /// `When it handles the same event again`.
    pub fn project_again(&mut self) -> Outcome {
        self.projector()?.handle_last()
    }

    /// A row key as written: `key(<domain>, <key>)` is that root, anything else is literal.
    fn row_key(&mut self, text: &str) -> Result<String, String> {
        if text.trim().starts_with("key(") {
            Ok(self.root(text)?.to_string())
        } else {
            Ok(self.text(text.trim()))
        }
    }

    fn rows(&mut self) -> Result<Vec<(String, Any)>, String> {
        let test = self.projector()?;
        test.rows
            .rows()
            .map_err(|status| status_error(&format!("reading the rows of {}", test.name), &status))
    }

    /// `Then row <key> is <json>`.
    pub fn then_row(&mut self, key: &str, json: &str) -> Outcome {
        let key = self.row_key(key)?;
        let json = self.text(json);
        let rows = self.rows()?;
        let (_, row) = rows.iter().find(|(k, _)| *k == key).ok_or_else(|| {
            let keys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
            format!(
                "no row {key}; the rows are: {}",
                if keys.is_empty() {
                    "none".to_string()
                } else {
                    keys.join(", ")
                }
            )
        })?;
        check_state(row, &json)
    }

    /// `Then the rows are:` with rows `| <key> | <json> |`, in any order.
    pub fn then_rows(&mut self, step: &Step) -> Outcome {
        let mut wanted = Vec::new();
        for row in table(step, &["<key>", "<json>"])? {
            wanted.push((self.row_key(&row[0])?, self.text(&row[1])));
        }
        wanted.sort();
        let rows = self.rows()?;
        let same_keys = wanted.len() == rows.len()
            && wanted
                .iter()
                .zip(&rows)
                .all(|((want, _), (got, _))| want == got);
        if !same_keys {
            let want: Vec<String> = wanted.iter().map(|(k, j)| format!("\n  {k} {j}")).collect();
            let got: Vec<String> = rows
                .iter()
                .map(|(k, r)| format!("\n  {k} {}", describe_any(r)))
                .collect();
            return Err(format!(
                "the rows differ\nexpected rows:{}\nactual rows:{}",
                want.concat(),
                if got.is_empty() {
                    " none".to_string()
                } else {
                    got.concat()
                }
            ));
        }
        let mut expected = Vec::new();
        let mut actual = Vec::new();
        for ((key, json), (_, row)) in wanted.iter().zip(&rows) {
            expected.push((
                format!("{key} "),
                Expected::parse(&values::type_of_url(&row.type_url)?, json)?,
            ));
            actual.push((format!("{key} "), unpack(row)?));
        }
        check_list("rows", &expected, &actual)
    }

    /// `Then there are no rows`.
    pub fn then_no_rows(&mut self) -> Outcome {
        let rows = self.rows()?;
        if rows.is_empty() {
            Ok(())
        } else {
            let got: Vec<String> = rows
                .iter()
                .map(|(k, r)| format!("{k} {}", describe_any(r)))
                .collect();
            Err(format!("expected no rows, got: {}", got.join("; ")))
        }
    }
}

impl ReactiveTest {
    fn finish(&mut self, events: Option<Vec<Any>>, commands: Vec<CommandBook>, outcome: bool) {
        self.pending = commands.clone();
        self.sent = outcome.then_some(commands);
        self.recorded = if outcome { events } else { None };
    }
}

impl ProjectorTest {
    fn handle_last(&mut self) -> Outcome {
        let book = self.last_event.as_ref().ok_or("no event was handled yet")?;
        self.projector
            .handle(&mut self.rows, book)
            .map(|_| ())
            .map_err(|status| status_error(&self.name, &status))
    }
}

/// A process manager's own history for one correlation id, as the runtime hands it over.
fn own_history(pm: &dyn ProcessManager, correlation_id: &str, events: &[Any]) -> EventBook {
    let root = example_proto::key_root(pm.name(), correlation_id);
    history(cover(pm.name(), root, correlation_id), events)
}

/// The new events (appended to `history`) and commands of a process manager's response.
fn recorded(
    name: &str,
    history: &mut Vec<Any>,
    response: Result<ProcessManagerResponse, Status>,
) -> Result<(Vec<Any>, Vec<CommandBook>), String> {
    let response = response.map_err(|status| status_error(name, &status))?;
    let events = emitted(response.events.as_ref())?;
    history.extend(events.iter().cloned());
    Ok((events, response.commands))
}

/// Matches a packed state (or row) against JSON of its own type.
fn check_state(state: &Any, json: &str) -> Outcome {
    let expected = Expected::parse(&values::type_of_url(&state.type_url)?, json)?;
    expected.check(&unpack(state)?)
}

impl fmt::Debug for UnitWorld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let history = |events: &[Any]| -> Vec<String> { events.iter().map(describe_any).collect() };
        match &self.subject {
            None => write!(f, "nothing under test"),
            Some(Subject::Aggregate(test)) => {
                write!(
                    f,
                    "the {} aggregate, history {:?}",
                    test.domain,
                    history(&test.history)
                )
            }
            Some(Subject::Reactive(test)) => {
                write!(f, "{}", test.name)?;
                if let Reactor::ProcessManager { histories, .. } = &test.kind {
                    for (correlation, events) in histories {
                        write!(f, ", history under {correlation:?}: {:?}", history(events))?;
                    }
                }
                write!(f, ", last sent: {}", describe_commands(&test.pending))
            }
            Some(Subject::Projector(test)) => write!(f, "the {} projector", test.name),
        }
    }
}
