//! `angzarr send`: JSON in, one command to the coordinator, the stored events out.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use angzarr_proto::business_coordinator_client::BusinessCoordinatorClient;
use angzarr_proto::business_logic_client::BusinessLogicClient;
use angzarr_proto::{
    AnyExt, CommandBook, CommandPage, CommandResponse, Cover, CoverExt, DryRunRequest,
    EventPageExt, GetDescriptorRequest, dry_run_request, temporal_query,
};
use prost_reflect::DynamicMessage;
use serde_json::json;
use tonic::transport::Channel;

use crate::reflection::Reflection;
use crate::root::Root;
use crate::types::{Catalog, json_to_any, to_json_text, to_json_value};
use crate::{Error, SendArgs};

pub(crate) async fn run(
    socket_dir: &Path,
    args: &SendArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), Error> {
    if args.domain.is_empty() || args.domain.starts_with('.') || args.domain.contains('/') {
        return Err(Error::BadDomain(args.domain.clone()));
    }
    let root = Root::parse(&args.domain, &args.root);
    let logic_path = socket_dir
        .join("logic")
        .join(format!("{}.sock", args.domain));
    let coordinator_path = socket_dir.join(format!("{}.sock", args.domain));

    // Find out what the command is before disturbing the runtime.
    let (catalog, mut reflection) = if args.descriptor_sets.is_empty() {
        let logic = connect(socket_dir, &args.domain, &logic_path, "business logic").await?;
        let mut reflection = Reflection::new(logic.clone(), &logic_path);
        reflection.load_services().await?;
        if args.command_type.contains('.') {
            reflection
                .load_symbol(args.command_type.trim_start_matches('.'))
                .await?;
        }
        let declared = declared_commands(logic, &args.domain).await;
        let catalog = Catalog::new(&args.domain, reflection.pool()?, declared);
        (catalog, Some(reflection))
    } else {
        let pool = descriptor_pool(&args.descriptor_sets)?;
        (Catalog::new(&args.domain, pool, Vec::new()), None)
    };
    let descriptor = catalog.resolve(&args.command_type)?;
    let command = json_to_any(&descriptor, &args.body)?;

    let mut cover = Cover::for_root(&args.domain, root.uuid());
    cover.correlation_id = args.correlation_id.clone().unwrap_or_default();
    cover.edition = args.edition.clone().unwrap_or_default();
    let book = CommandBook {
        cover: Some(cover),
        pages: vec![CommandPage {
            sequence: args.expect_sequence,
            command: Some(command),
        }],
        idempotency_key: args.idempotency_key.clone().unwrap_or_default(),
        ..CommandBook::default()
    };
    if args.follow {
        return crate::query::follow_command(socket_dir, book, args, out).await;
    }
    let dry_run = args
        .dry_run
        .then(|| args.at.as_deref().map(as_of).transpose())
        .transpose()?;
    let coordinator = connect(socket_dir, &args.domain, &coordinator_path, "coordinator").await?;
    let mut client = BusinessCoordinatorClient::new(coordinator);
    let answer = match &dry_run {
        Some(point) => {
            client
                .dry_run(DryRunRequest {
                    command: Some(book),
                    as_of: *point,
                })
                .await
        }
        None => client.handle(book).await,
    };
    let response = answer
        .map_err(|status| Error::Status {
            code: status.code(),
            message: status.message().to_string(),
        })?
        .into_inner();

    // Event types the command did not pull in (another file, say) are fetched on demand.
    let mut catalog = catalog;
    let unknown: Vec<String> = event_types(&response)
        .filter(|name| catalog.pool().get_message_by_name(name).is_none())
        .collect();
    if let Some(reflection) = reflection.as_mut()
        && !unknown.is_empty()
    {
        for name in &unknown {
            // Best effort: an event we cannot describe is still printed, without its body.
            let _ = reflection.load_symbol(name).await;
        }
        if let Ok(pool) = reflection.pool() {
            catalog = Catalog::new(&args.domain, pool, Vec::new());
        }
    }
    let mut report = Report::new(&args.domain, &root, &response, &catalog);
    report.dry_run = dry_run.map(|point| match point {
        None => "now".to_string(),
        Some(dry_run_request::AsOf::AsOfSequence(n)) => format!("as of sequence {n}"),
        Some(dry_run_request::AsOf::AsOfTime(t)) => format!("as of {t}"),
    });
    if args.json_output {
        writeln!(out, "{}", report.to_json())?;
    } else {
        report.write_text(out)?;
    }
    Ok(())
}

/// `--at`: a sequence number or an RFC 3339 time.
fn as_of(text: &str) -> Result<dry_run_request::AsOf, Error> {
    Ok(match crate::query::parse_as_of(text) {
        Ok(temporal_query::PointInTime::AsOfSequence(n)) => dry_run_request::AsOf::AsOfSequence(n),
        Ok(temporal_query::PointInTime::AsOfTime(t)) => dry_run_request::AsOf::AsOfTime(t),
        Err(_) => {
            return Err(Error::Config(format!(
                "--at {text:?} is neither a sequence number nor an RFC 3339 time (e.g. 2026-11-24T10:00:00Z)"
            )));
        }
    })
}

fn event_types(response: &CommandResponse) -> impl Iterator<Item = String> + '_ {
    response
        .events
        .iter()
        .flat_map(|book| book.pages.iter())
        .filter_map(|page| page.event.as_ref())
        .map(|any| any.full_type_name().to_string())
}

/// A descriptor pool from encoded `FileDescriptorSet` files.
fn descriptor_pool(files: &[PathBuf]) -> Result<prost_reflect::DescriptorPool, Error> {
    let mut pool = prost_reflect::DescriptorPool::new();
    for file in files {
        let bytes = std::fs::read(file).map_err(|err| {
            Error::Config(format!(
                "cannot read descriptor set {}: {err}",
                file.display()
            ))
        })?;
        pool.decode_file_descriptor_set(bytes.as_slice())
            .map_err(|err| {
                Error::Config(format!(
                    "{} is not an encoded FileDescriptorSet: {err}",
                    file.display()
                ))
            })?;
    }
    Ok(pool)
}

/// The command names the component declares for `domain` (empty if it will not say).
async fn declared_commands(logic: Channel, domain: &str) -> Vec<String> {
    let descriptor = BusinessLogicClient::new(logic)
        .get_descriptor(GetDescriptorRequest {})
        .await;
    match descriptor {
        Ok(descriptor) => descriptor
            .into_inner()
            .inputs
            .into_iter()
            .filter(|target| target.domain == domain)
            .flat_map(|target| target.types)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Connects to a socket of the runtime, explaining a failure in terms of what to do.
async fn connect(
    socket_dir: &Path,
    domain: &str,
    path: &Path,
    what: &str,
) -> Result<Channel, Error> {
    let not_running = |reason: String| Error::NotRunning {
        what: format!("the {domain} {what}"),
        path: path.to_path_buf(),
        reason,
    };
    if !path.exists() {
        if !socket_dir.is_dir() {
            return Err(Error::NotRunning {
                what: "the runtime".to_string(),
                path: socket_dir.to_path_buf(),
                reason: "the socket directory does not exist".to_string(),
            });
        }
        let known = known_domains(socket_dir);
        if known.is_empty() {
            return Err(not_running(
                "the socket does not exist, and the directory holds no domain sockets".into(),
            ));
        }
        return Err(Error::UnknownDomain {
            domain: domain.to_string(),
            dir: socket_dir.to_path_buf(),
            known,
        });
    }
    angzarr_transport::channel(path)
        .await
        .map_err(|err| not_running(connect_reason(&err)))
}

/// Why a connection failed, in words (the I/O cause when there is one).
fn connect_reason(err: &(dyn std::error::Error + 'static)) -> String {
    let mut source = Some(err);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                ErrorKind::ConnectionRefused => {
                    "connection refused (a socket left behind: nothing is listening)".to_string()
                }
                ErrorKind::PermissionDenied => {
                    "permission denied (the sockets belong to another user)".to_string()
                }
                _ => io.to_string(),
            };
        }
        source = err.source();
    }
    err.to_string()
}

/// Domains with a coordinator socket in `socket_dir`, sorted.
fn known_domains(socket_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(socket_dir) else {
        return Vec::new();
    };
    let mut domains: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| PathBuf::from(entry.file_name()))
        .filter(|name| name.extension().is_some_and(|ext| ext == "sock"))
        .filter_map(|name| {
            name.file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
        })
        // The runtime's own service, not a domain.
        .filter(|name| name != "runtime")
        .collect();
    domains.sort();
    domains
}

/// What the runtime answered, decoded for printing.
struct Report {
    /// For a dry run: the point it ran at ("now", "as of sequence 3").
    dry_run: Option<String>,
    domain: String,
    edition: String,
    root: Root,
    root_uuid: uuid::Uuid,
    correlation_id: String,
    events: Vec<EventReport>,
}

struct EventReport {
    sequence: Option<u32>,
    type_name: String,
    created_at: Option<String>,
    /// The decoded event, or why there is none.
    body: Result<DynamicMessage, String>,
}

impl Report {
    fn new(domain: &str, root: &Root, response: &CommandResponse, catalog: &Catalog) -> Self {
        let book = response.events.clone().unwrap_or_default();
        let cover = book.cover.unwrap_or_default();
        let events = book
            .pages
            .iter()
            .map(|page| {
                let any = page.event.clone().unwrap_or_default();
                let body = catalog.decode_any(&any).unwrap_or_else(|| {
                    Err(format!(
                        "type not described by reflection ({} bytes)",
                        any.value.len()
                    ))
                });
                EventReport {
                    sequence: page.sequence_num(),
                    type_name: any.full_type_name().to_string(),
                    created_at: page.created_at.as_ref().map(ToString::to_string),
                    body,
                }
            })
            .collect();
        Self {
            dry_run: None,
            domain: if cover.domain.is_empty() {
                domain.to_string()
            } else {
                cover.domain.clone()
            },
            edition: cover.edition.clone(),
            root: root.clone(),
            root_uuid: cover.root_uuid().unwrap_or_else(|| root.uuid()),
            correlation_id: cover.correlation_id,
            events,
        }
    }

    fn key(&self) -> Option<&str> {
        match &self.root {
            Root::Key { key, .. } => Some(key),
            Root::Uuid(_) => None,
        }
    }

    /// One JSON document (for `--json`).
    fn to_json(&self) -> serde_json::Value {
        let events: Vec<serde_json::Value> = self
            .events
            .iter()
            .map(|event| {
                let mut value = json!({
                    "sequence": event.sequence,
                    "type": event.type_name,
                    "created_at": event.created_at,
                });
                match event
                    .body
                    .as_ref()
                    .map_err(Clone::clone)
                    .and_then(to_json_value)
                {
                    Ok(body) => value["event"] = body,
                    Err(err) => value["error"] = err.into(),
                }
                value
            })
            .collect();
        let mut report = json!({
            "domain": self.domain,
            "root": self.root_uuid.to_string(),
            "correlation_id": self.correlation_id,
            "events": events,
        });
        if let Some(key) = self.key() {
            report["key"] = key.into();
        }
        if !self.edition.is_empty() {
            report["edition"] = self.edition.clone().into();
        }
        if let Some(point) = &self.dry_run {
            report["dry_run"] = point.clone().into();
        }
        report
    }

    /// A headline and one line per event (for people).
    fn write_text(&self, out: &mut (dyn Write + Send)) -> std::io::Result<()> {
        let key = self
            .key()
            .map(|key| format!(" (key {key:?})"))
            .unwrap_or_default();
        let count = self.events.len();
        let history = if self.edition.is_empty() {
            self.domain.clone()
        } else {
            format!("{}@{}", self.domain, self.edition)
        };
        let plural = if count == 1 { "" } else { "s" };
        match &self.dry_run {
            None => writeln!(
                out,
                "{history}/{}{key}: {count} event{plural}, correlation id {}",
                self.root_uuid, self.correlation_id,
            )?,
            Some(point) => writeln!(
                out,
                "dry run ({point}) of {history}/{}{key}: would store {count} event{plural}, correlation id {} (nothing was stored)",
                self.root_uuid, self.correlation_id,
            )?,
        }
        for event in &self.events {
            let sequence = event
                .sequence
                .map_or_else(|| "?".to_string(), |n| n.to_string());
            let body = match event
                .body
                .as_ref()
                .map_err(Clone::clone)
                .and_then(to_json_text)
            {
                Ok(text) => text,
                Err(err) => format!("<{err}>"),
            };
            writeln!(out, "  #{sequence} {} {body}", event.type_name)?;
        }
        Ok(())
    }
}
