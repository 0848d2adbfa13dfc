//! Synthetic subscribers: a projector, a saga and a process manager whose behaviour tests can
//! predict exactly (see the crate docs for the table).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use angzarr_proto::{
    AnyExt, CommandBook, CommandPage, CommandRejection, ComponentDescriptor, Cover, EventBook,
    EventPage, EventPageExt, ProcessManagerRequest, ProcessManagerResponse, Projection, Target,
    UuidExt,
};
use prost::{Message, Name};
use tonic::Status;

use crate::{Counter, Echo, Echoed, Joined, Reject, Seen, pack};

/// What a synthetic subscriber is and reads (from `SYNTHETIC_*` variables).
#[derive(Debug, Clone)]
pub struct SubscriberConfig {
    /// Component name (`ANGZARR_COMPONENT`).
    pub name: String,
    /// `projector`, `saga` or `process_manager` (`SYNTHETIC_KIND`).
    pub kind: String,
    /// Input domains (`SYNTHETIC_INPUTS`, comma-separated).
    pub inputs: Vec<String>,
    /// Where sagas and process managers send commands (`SYNTHETIC_TARGET`).
    pub target: Option<String>,
    /// Editions whose events it wants besides main's (`SYNTHETIC_EDITIONS`, comma-separated;
    /// `*` for every edition).
    pub editions: Vec<String>,
}

impl SubscriberConfig {
    /// The component's descriptor: every type of each input domain; `Echo`/`Reject` to the
    /// target.
    pub fn descriptor(&self) -> ComponentDescriptor {
        ComponentDescriptor {
            name: self.name.clone(),
            component_type: self.kind.clone(),
            inputs: self
                .inputs
                .iter()
                .map(|domain| Target {
                    editions: self.editions.clone(),
                    domain: domain.clone(),
                    types: Vec::new(),
                })
                .collect(),
            outputs: self
                .target
                .iter()
                .map(|domain| Target {
                    editions: Vec::new(),
                    domain: domain.clone(),
                    types: vec!["Echo".into(), "Reject".into()],
                })
                .collect(),
        }
    }
}

fn echoed(page: &EventPage) -> Option<Echoed> {
    let event = page.event.as_ref()?;
    (event.type_url == Echoed::type_url())
        .then(|| Echoed::decode(event.value.as_slice()).ok())
        .flatten()
}

/// The history part of a log line: the domain, or `domain@edition` for an edition's events
/// (which share sequences with main's).
fn history_name(cover: &Cover) -> String {
    if cover.edition.is_empty() {
        cover.domain.clone()
    } else {
        format!("{}@{}", cover.domain, cover.edition)
    }
}

/// An event's identity across every process of a system: (domain, root, sequence). Global
/// positions are per process, so a projector fed by several processes cannot key on them.
type EventKey = (String, String, u32);

/// The projector: one log line per event, each event once.
pub struct LogProjector {
    name: String,
    path: PathBuf,
    fail_payload: Option<Vec<u8>>,
    exit_payload: Option<Vec<u8>>,
    written: Mutex<BTreeSet<EventKey>>,
    lag_log: Option<PathBuf>,
}

/// What a projector call should do after writing.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterWrite {
    /// Answer normally.
    Answer(Projection),
    /// Exit the process without answering (a crash between delivery and checkpoint).
    Exit,
}

impl LogProjector {
    /// A projector appending to `path`; events already in the file are skipped (as a
    /// projector that stores what it applied with its read model does).
    pub fn open(
        name: impl Into<String>,
        path: PathBuf,
        fail_payload: Option<Vec<u8>>,
        exit_payload: Option<Vec<u8>>,
    ) -> std::io::Result<Self> {
        let written = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .lines()
                .filter_map(|line| {
                    let mut words = line.split(' ').skip(1);
                    let domain = words.next()?.to_string();
                    let root = words.next()?.to_string();
                    Some((domain, root, words.next()?.parse().ok()?))
                })
                .collect(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(err) => return Err(err),
        };
        Ok(Self {
            name: name.into(),
            path,
            fail_payload,
            exit_payload,
            written: Mutex::new(written),
            lag_log: None,
        })
    }

    /// Also appends, per event written, the microseconds from its commit (`created_at`) to
    /// now to `path` (`SYNTHETIC_LAG_LOG`; for the benchmark's projector-lag scenario).
    pub fn with_lag_log(mut self, path: Option<PathBuf>) -> Self {
        self.lag_log = path;
        self
    }

    fn record_lag(&self, pages: &[&EventPage]) -> Result<(), Status> {
        let Some(path) = &self.lag_log else {
            return Ok(());
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or_default();
        let mut lines = String::new();
        for page in pages {
            let created = page
                .created_at
                .map(|t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1_000)
                .unwrap_or(now);
            lines.push_str(&format!("{}\n", (now - created).max(0)));
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(lines.as_bytes()))
            .map_err(|e| Status::internal(format!("cannot write the lag log: {e}")))
    }

    /// Handles a delivery (see the crate docs).
    pub fn project(&self, book: &EventBook) -> Result<AfterWrite, Status> {
        if let Some(poison) = &self.fail_payload
            && let Some(page) = book
                .pages
                .iter()
                .find(|p| echoed(p).is_some_and(|e| &e.payload == poison))
        {
            return Err(Status::internal(format!(
                "poison event at position {}",
                page.position
            )));
        }
        let cover = book.cover.clone().unwrap_or_default();
        let root = cover
            .root
            .as_ref()
            .and_then(|r| r.to_uuid().ok())
            .map(|r| r.to_string())
            .unwrap_or_default();
        let history = history_name(&cover);
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let mut lines = String::new();
        let mut exit = false;
        let key = |page: &EventPage| -> EventKey {
            (
                history.clone(),
                root.clone(),
                page.sequence_num().unwrap_or_default(),
            )
        };
        let fresh: Vec<&EventPage> = book
            .pages
            .iter()
            .filter(|p| !written.contains(&key(p)))
            .collect();
        self.record_lag(&fresh)?;
        for page in fresh {
            let event_type = page
                .event
                .as_ref()
                .map(|e| e.short_type_name().to_string())
                .unwrap_or_default();
            lines.push_str(&format!(
                "{} {} {root} {} {event_type} {}\n",
                page.position,
                history,
                page.sequence_num().unwrap_or_default(),
                cover.correlation_id
            ));
            exit |= self
                .exit_payload
                .as_ref()
                .is_some_and(|marker| echoed(page).is_some_and(|e| &e.payload == marker));
        }
        if !lines.is_empty() {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| Status::internal(format!("cannot open the log: {e}")))?;
            file.write_all(lines.as_bytes())
                .and_then(|()| file.flush())
                .map_err(|e| Status::internal(format!("cannot write the log: {e}")))?;
            written.extend(book.pages.iter().map(key));
        }
        if exit {
            return Ok(AfterWrite::Exit);
        }
        Ok(AfterWrite::Answer(Projection {
            cover: book.cover.clone(),
            projector: self.name.clone(),
            sequence: book
                .pages
                .last()
                .and_then(EventPageExt::sequence_num)
                .unwrap_or_default(),
            projection: Some(pack(&Counter {
                events: written.len() as u64,
            })),
        }))
    }
}

impl LogProjector {
    /// What [`project`](Self::project) would answer for each book in turn (each counting the
    /// ones before it), without writing the log: the speculative form.
    pub fn speculate(&self, books: &[EventBook]) -> Result<Vec<Projection>, Status> {
        let mut seen = self
            .written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        books
            .iter()
            .map(|book| {
                if let Some(poison) = &self.fail_payload
                    && book
                        .pages
                        .iter()
                        .any(|p| echoed(p).is_some_and(|e| &e.payload == poison))
                {
                    return Err(Status::internal("poison event"));
                }
                let cover = book.cover.clone().unwrap_or_default();
                let root = cover
                    .root
                    .as_ref()
                    .and_then(|r| r.to_uuid().ok())
                    .map(|r| r.to_string())
                    .unwrap_or_default();
                for page in &book.pages {
                    let sequence = page.sequence_num().unwrap_or_default();
                    seen.insert((history_name(&cover), root.clone(), sequence));
                }
                Ok(Projection {
                    cover: book.cover.clone(),
                    projector: self.name.clone(),
                    sequence: book
                        .pages
                        .last()
                        .and_then(EventPageExt::sequence_num)
                        .unwrap_or_default(),
                    projection: Some(pack(&Counter {
                        events: seen.len() as u64,
                    })),
                })
            })
            .collect()
    }
}

fn command_to(
    domain: &str,
    root: Option<angzarr_proto::Uuid>,
    correlation: &str,
    command: prost_types::Any,
) -> CommandBook {
    CommandBook {
        cover: Some(Cover {
            root,
            domain: domain.to_string(),
            correlation_id: correlation.to_string(),
            edition: String::new(),
        }),
        pages: vec![CommandPage {
            sequence: None,
            command: Some(command),
        }],
        ..CommandBook::default()
    }
}

/// The saga's decision for a delivered book: `Echo` (or `Reject` for payload `reject`) to the
/// target for every `Echoed`.
pub fn saga_commands(config: &SubscriberConfig, book: &EventBook) -> Vec<CommandBook> {
    let target = config.target.clone().unwrap_or_default();
    let cover = book.cover.clone().unwrap_or_default();
    book.pages
        .iter()
        .filter_map(echoed)
        .map(|event| {
            let command = if event.payload == b"reject" {
                pack(&Reject {
                    message: format!("rejected by {}", config.name),
                })
            } else {
                pack(&Echo {
                    payload: event.payload,
                })
            };
            command_to(&target, cover.root.clone(), &cover.correlation_id, command)
        })
        .collect()
}

/// The saga's compensation for a rejected command: `Echo("compensated:" + message)` to the
/// source aggregate.
pub fn saga_compensation(rejection: &CommandRejection) -> Vec<CommandBook> {
    let source = rejection.source.clone().unwrap_or_default();
    let correlation = rejection
        .command
        .as_ref()
        .and_then(|c| c.cover.as_ref())
        .map(|c| c.correlation_id.clone())
        .unwrap_or_default();
    let payload = format!("compensated:{}", rejection.message).into_bytes();
    vec![command_to(
        &source.domain,
        source.root,
        &correlation,
        pack(&Echo { payload }),
    )]
}

/// The process manager's decision: remember each input domain once; when all were seen,
/// `Joined` and one `Echo("joined:" + correlation id)` to the target.
pub fn process_manager_decide(
    config: &SubscriberConfig,
    request: &ProcessManagerRequest,
) -> ProcessManagerResponse {
    let state = request.state.clone().unwrap_or_default();
    let trigger = request.trigger.clone().unwrap_or_default();
    let cover = trigger.cover.clone().unwrap_or_default();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut joined = false;
    for page in &state.pages {
        let Some(event) = page.event.as_ref() else {
            continue;
        };
        if event.type_url == Seen::type_url() {
            if let Ok(s) = Seen::decode(event.value.as_slice()) {
                seen.insert(s.domain);
            }
        } else if event.type_url == Joined::type_url() {
            joined = true;
        }
    }
    let mut events = Vec::new();
    let mut commands = Vec::new();
    if seen.insert(cover.domain.clone()) {
        events.push(EventPage {
            event: Some(pack(&Seen {
                domain: cover.domain.clone(),
            })),
            ..EventPage::default()
        });
    }
    if !joined && config.inputs.iter().all(|d| seen.contains(d)) {
        events.push(EventPage {
            event: Some(pack(&Joined {})),
            ..EventPage::default()
        });
        commands.push(command_to(
            config.target.as_deref().unwrap_or_default(),
            cover.root.clone(),
            &cover.correlation_id,
            pack(&Echo {
                payload: format!("joined:{}", cover.correlation_id).into_bytes(),
            }),
        ));
    }
    ProcessManagerResponse {
        events: Some(EventBook {
            pages: events,
            ..EventBook::default()
        }),
        commands,
    }
}

#[cfg(test)]
mod tests {
    use angzarr_proto::{CoverExt, EventRef};

    use super::*;

    fn config(kind: &str, inputs: &[&str], target: Option<&str>) -> SubscriberConfig {
        SubscriberConfig {
            name: format!("test-{kind}"),
            kind: kind.into(),
            inputs: inputs.iter().map(ToString::to_string).collect(),
            target: target.map(String::from),
            editions: Vec::new(),
        }
    }

    fn book(domain: &str, correlation: &str, pages: &[(u64, &str)]) -> EventBook {
        let mut cover = Cover::for_root(domain, uuid::Uuid::from_u128(7));
        cover.correlation_id = correlation.into();
        EventBook {
            cover: Some(cover),
            pages: pages
                .iter()
                .map(|(position, payload)| {
                    let mut page = EventPage {
                        event: Some(pack(&Echoed {
                            payload: payload.as_bytes().to_vec(),
                            ..Echoed::default()
                        })),
                        position: *position,
                        ..EventPage::default()
                    };
                    // One history per domain in these tests: sequence = position - 1.
                    page.set_sequence_num(
                        u32::try_from(position.saturating_sub(1)).expect("small"),
                    );
                    page
                })
                .collect(),
            ..EventBook::default()
        }
    }

    fn payload_of(command: &CommandBook) -> (String, Vec<u8>) {
        let any = command.pages[0].command.clone().expect("command");
        let payload = if any.type_url == Echo::type_url() {
            Echo::decode(any.value.as_slice()).expect("echo").payload
        } else {
            Reject::decode(any.value.as_slice())
                .expect("reject")
                .message
                .into_bytes()
        };
        (any.short_type_name().to_string(), payload)
    }

    #[test]
    fn the_projector_writes_each_event_once_and_remembers_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        let projector = LogProjector::open("p", path.clone(), None, None).expect("open");
        projector
            .project(&book("a", "c", &[(1, "x"), (2, "y")]))
            .expect("ok");
        projector
            .project(&book("a", "c", &[(2, "y"), (3, "z")]))
            .expect("ok");
        let reopened = LogProjector::open("p", path.clone(), None, None).expect("open");
        let answer = reopened.project(&book("a", "c", &[(1, "x")])).expect("ok");
        let text = std::fs::read_to_string(&path).expect("log");
        let positions: Vec<&str> = text
            .lines()
            .map(|l| l.split(' ').next().unwrap_or(""))
            .collect();
        assert_eq!(positions, ["1", "2", "3"]);
        assert!(
            text.lines()
                .next()
                .is_some_and(|l| l.ends_with(" Echoed c")),
            "{text}"
        );
        let AfterWrite::Answer(projection) = answer else {
            panic!("answered");
        };
        let counter = Counter::decode(projection.projection.expect("any").value.as_slice());
        assert_eq!(counter.expect("counter").events, 3);
    }

    #[test]
    fn the_projector_fails_on_poison_and_exits_after_the_marker() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        let projector = LogProjector::open(
            "p",
            path.clone(),
            Some(b"poison".to_vec()),
            Some(b"bye".to_vec()),
        )
        .expect("open");
        let err = projector
            .project(&book("a", "c", &[(1, "ok"), (2, "poison")]))
            .expect_err("poison");
        assert_eq!(err.code(), tonic::Code::Internal);
        assert!(!path.exists(), "nothing written for a failed call");
        assert_eq!(
            projector
                .project(&book("a", "c", &[(3, "bye")]))
                .expect("written"),
            AfterWrite::Exit
        );
        assert!(
            std::fs::read_to_string(&path)
                .expect("log")
                .starts_with("3 ")
        );
    }

    #[test]
    fn the_saga_echoes_to_its_target_rejects_on_request_and_compensates() {
        let saga = config("saga", &["a"], Some("b"));
        let commands = saga_commands(&saga, &book("a", "corr", &[(5, "hello"), (6, "reject")]));
        assert_eq!(commands.len(), 2);
        let cover = commands[0].cover.clone().expect("cover");
        assert_eq!(
            (cover.domain.as_str(), cover.correlation_id.as_str()),
            ("b", "corr")
        );
        assert_eq!(cover.root_uuid(), Some(uuid::Uuid::from_u128(7)));
        assert_eq!(payload_of(&commands[0]), ("Echo".into(), b"hello".to_vec()));
        assert_eq!(
            payload_of(&commands[1]),
            ("Reject".into(), b"rejected by test-saga".to_vec())
        );
        let compensation = saga_compensation(&CommandRejection {
            command: Some(commands[1].clone()),
            code: 9,
            message: "no".into(),
            source: Some(EventRef {
                domain: "a".into(),
                root: Some(angzarr_proto::Uuid::from_uuid(uuid::Uuid::from_u128(7))),
                ..EventRef::default()
            }),
            source_event: None,
        });
        assert_eq!(compensation.len(), 1);
        assert_eq!(compensation[0].cover.clone().expect("cover").domain, "a");
        assert_eq!(payload_of(&compensation[0]).1, b"compensated:no".to_vec());
    }

    #[test]
    fn the_process_manager_joins_once_whatever_the_order() {
        let pm = config("process_manager", &["a", "b"], Some("c"));
        let decide = |state: &[EventPage], domain: &str| {
            process_manager_decide(
                &pm,
                &ProcessManagerRequest {
                    state: Some(EventBook {
                        pages: state.to_vec(),
                        ..EventBook::default()
                    }),
                    trigger: Some(book(domain, "order-1", &[(1, "x")])),
                },
            )
        };
        let first = decide(&[], "b");
        let mut state = first.events.clone().expect("events").pages;
        assert_eq!(state.len(), 1);
        assert!(first.commands.is_empty());
        let again = decide(&state, "b");
        assert!(
            again.events.expect("events").pages.is_empty(),
            "b seen already"
        );
        let second = decide(&state, "a");
        state.extend(second.events.clone().expect("events").pages);
        assert_eq!(state.len(), 3, "Seen(b), Seen(a), Joined");
        assert_eq!(second.commands.len(), 1);
        assert_eq!(
            payload_of(&second.commands[0]).1,
            b"joined:order-1".to_vec()
        );
        let after = decide(&state, "a");
        assert!(after.commands.is_empty() && after.events.expect("events").pages.is_empty());
    }
}
