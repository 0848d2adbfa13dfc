//! `angzarr events`, `angzarr roots`, `angzarr tail`: history and live events through the
//! gateway (`<socket dir>/gateway.sock`), decoded with each domain's reflection.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use angzarr_proto::command_gateway_client::CommandGatewayClient;
use angzarr_proto::event_query_client::EventQueryClient;
use angzarr_proto::event_stream_client::EventStreamClient;
use angzarr_proto::{
    AggregateRootsRequest, AnyExt, CommandBook, EventBook, EventPageExt, EventStreamFilter,
    ExecuteStreamCountRequest, ExecuteStreamTimeRequest, Query, SequenceRange, SynchronizeRequest,
    TemporalQuery, UuidExt, query, temporal_query,
};
use serde_json::json;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::error::Error;
use crate::reflection::Reflection;
use crate::root::Root;
use crate::types::{Catalog, to_json_value};
use crate::{EventsArgs, RootsArgs, SendArgs, TailArgs};

async fn connect_socket(path: PathBuf, what: &str) -> Result<Channel, Error> {
    angzarr_transport::channel(&path)
        .await
        .map_err(|err| Error::NotRunning {
            what: what.to_string(),
            path,
            reason: err.to_string(),
        })
}

async fn gateway(socket_dir: &Path) -> Result<Channel, Error> {
    connect_socket(socket_dir.join("gateway.sock"), "the gateway").await
}

/// Decodes events with the descriptors each domain's business logic publishes.
pub(crate) struct Decoder {
    socket_dir: PathBuf,
    sources: HashMap<String, Option<Source>>,
}

/// What one domain's business logic has told us: its reflection client and the types so far.
struct Source {
    reflection: Reflection,
    catalog: Catalog,
}

impl Decoder {
    pub(crate) fn new(socket_dir: &Path) -> Self {
        Self {
            socket_dir: socket_dir.to_path_buf(),
            sources: HashMap::new(),
        }
    }

    /// The event as JSON, or `None` when its type is not described anywhere we can ask.
    pub(crate) async fn decode(
        &mut self,
        domain: &str,
        event: &prost_types::Any,
    ) -> Option<serde_json::Value> {
        if !self.sources.contains_key(domain) {
            let source = self.load(domain).await;
            self.sources.insert(domain.to_string(), source);
        }
        let source = self.sources.get_mut(domain)?.as_mut()?;
        if source.catalog.decode_any(event).is_none() {
            // The services a process lists need not mention every event type (a process
            // manager's own events, say): ask for the type itself.
            let name = event.type_url.rsplit('/').next().unwrap_or_default();
            if source.reflection.load_symbol(name).await.ok()? {
                source.catalog = Catalog::new(domain, source.reflection.pool().ok()?, Vec::new());
            }
        }
        let decoded = source.catalog.decode_any(event)?.ok()?;
        to_json_value(&decoded).ok()
    }

    async fn load(&self, domain: &str) -> Option<Source> {
        let path = self.socket_dir.join("logic").join(format!("{domain}.sock"));
        let channel = angzarr_transport::channel(&path).await.ok()?;
        let mut reflection = Reflection::new(channel, &path);
        reflection.load_services().await.ok()?;
        let catalog = Catalog::new(domain, reflection.pool().ok()?, Vec::new());
        Some(Source {
            reflection,
            catalog,
        })
    }
}

/// Prints event books, one line (or one JSON object) per event.
pub(crate) async fn print_books(
    books: &[EventBook],
    decoder: &mut Decoder,
    json_output: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), Error> {
    for book in books {
        let cover = book.cover.clone().unwrap_or_default();
        let root = cover
            .root
            .as_ref()
            .and_then(|r| r.to_uuid().ok())
            .map(|r| r.to_string())
            .unwrap_or_default();
        for page in &book.pages {
            let any = page.event.clone().unwrap_or_default();
            let body = decoder.decode(&cover.domain, &any).await;
            let sequence = page.sequence_num().unwrap_or_default();
            if json_output {
                let mut value = json!({
                    "position": page.position,
                    "domain": cover.domain,
                    "root": root,
                    "sequence": sequence,
                    "type": any.full_type_name(),
                    "correlation_id": cover.correlation_id,
                    "created_at": page.created_at.as_ref().map(ToString::to_string),
                    "event": body,
                });
                if !cover.edition.is_empty() {
                    value["edition"] = cover.edition.clone().into();
                }
                writeln!(out, "{value}")?;
            } else {
                let body = body.map_or_else(
                    || format!("<{} bytes, type not described>", any.value.len()),
                    |b| b.to_string(),
                );
                let history = if cover.edition.is_empty() {
                    cover.domain.clone()
                } else {
                    format!("{}@{}", cover.domain, cover.edition)
                };
                writeln!(
                    out,
                    "@{} {history}/{} #{sequence} {} {body}  (correlation {})",
                    page.position,
                    root,
                    any.full_type_name(),
                    cover.correlation_id
                )?;
            }
        }
    }
    Ok(())
}

/// `angzarr events`.
pub(crate) async fn events(
    socket_dir: &Path,
    args: &EventsArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), Error> {
    let selection = match (&args.as_of, args.from, args.to) {
        (Some(as_of), None, None) => Some(query::Selection::Temporal(TemporalQuery {
            point_in_time: Some(parse_as_of(as_of)?),
        })),
        (Some(_), _, _) => {
            return Err(Error::Config(
                "--as-of cannot be combined with --from/--to".into(),
            ));
        }
        (None, None, None) => None,
        (None, from, to) => Some(query::Selection::Range(SequenceRange {
            lower: from.unwrap_or(0),
            upper: to,
        })),
    };
    let root = match (&args.domain, &args.root) {
        (Some(domain), Some(root)) => Some(angzarr_proto::Uuid::from_uuid(
            Root::parse(domain, root).uuid(),
        )),
        _ => None,
    };
    let query = Query {
        cover: Some(angzarr_proto::Cover {
            root,
            domain: args.domain.clone().unwrap_or_default(),
            correlation_id: args.correlation.clone().unwrap_or_default(),
            edition: args.edition.clone().unwrap_or_default(),
        }),
        selection,
    };
    let mut stream = EventQueryClient::new(gateway(socket_dir).await?)
        .get_events(query)
        .await
        .map_err(Error::rpc)?
        .into_inner();
    let mut decoder = Decoder::new(socket_dir);
    while let Some(book) = stream.next().await {
        let book = book.map_err(Error::rpc)?;
        print_books(&[book], &mut decoder, args.json_output, out).await?;
    }
    Ok(())
}

/// `--as-of`: a sequence number, or an RFC 3339 time.
pub(crate) fn parse_as_of(text: &str) -> Result<temporal_query::PointInTime, Error> {
    if let Ok(sequence) = text.parse::<u32>() {
        return Ok(temporal_query::PointInTime::AsOfSequence(sequence));
    }
    text.parse::<prost_types::Timestamp>()
        .map(temporal_query::PointInTime::AsOfTime)
        .map_err(|_| {
            Error::Config(format!(
                "--as-of {text:?} is neither a sequence number nor an RFC 3339 time (e.g. 2026-11-24T10:00:00Z)"
            ))
        })
}

/// `angzarr roots`.
pub(crate) async fn roots(
    socket_dir: &Path,
    args: &RootsArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), Error> {
    let mut stream = EventQueryClient::new(gateway(socket_dir).await?)
        .get_aggregate_roots(AggregateRootsRequest {
            domain: args.domain.clone(),
        })
        .await
        .map_err(Error::rpc)?
        .into_inner();
    while let Some(root) = stream.next().await {
        let root = root.map_err(Error::rpc)?;
        let uuid = root
            .root
            .as_ref()
            .and_then(|r| r.to_uuid().ok())
            .map(|r| r.to_string())
            .unwrap_or_default();
        if args.json_output {
            writeln!(out, "{}", json!({"domain": root.domain, "root": uuid}))?;
        } else {
            writeln!(out, "{uuid}")?;
        }
    }
    Ok(())
}

/// `angzarr tail`.
pub(crate) async fn tail(
    socket_dir: &Path,
    args: &TailArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), Error> {
    let channel = gateway(socket_dir).await?;
    let mut stream = match (&args.correlation_id, args.from) {
        (Some(correlation_id), None) => EventStreamClient::new(channel)
            .subscribe(EventStreamFilter {
                editions: Vec::new(),
                correlation_id: correlation_id.clone(),
                domains: args.domain.iter().cloned().collect(),
                types: Vec::new(),
            })
            .await
            .map_err(Error::rpc)?
            .into_inner(),
        (_, from) => {
            let after = match from {
                Some(from) => from,
                None => head(socket_dir).await?,
            };
            EventQueryClient::new(channel)
                .synchronize(SynchronizeRequest {
                    editions: Vec::new(),
                    after_position: after,
                    domains: args.domain.iter().cloned().collect(),
                    ..Default::default()
                })
                .await
                .map_err(Error::rpc)?
                .into_inner()
        }
    };
    let mut decoder = Decoder::new(socket_dir);
    let mut printed = 0u64;
    while let Some(book) = stream.next().await {
        let mut book = book.map_err(Error::rpc)?;
        if let Some(correlation_id) = &args.correlation_id
            && book.cover.as_ref().map(|c| &c.correlation_id) != Some(correlation_id)
        {
            continue;
        }
        if let Some(limit) = args.count {
            let room = usize::try_from(limit - printed).unwrap_or(usize::MAX);
            book.pages.truncate(room);
        }
        printed += book.pages.len() as u64;
        print_books(&[book], &mut decoder, args.json_output, out).await?;
        out.flush()?;
        if args.count.is_some_and(|limit| printed >= limit) {
            break;
        }
    }
    Ok(())
}

async fn head(socket_dir: &Path) -> Result<u64, Error> {
    Ok(crate::admin::fetch_topology(socket_dir)
        .await?
        .head_position)
}

/// `angzarr send --follow`: the command through the gateway, then its correlated events.
pub(crate) async fn follow_command(
    socket_dir: &Path,
    command: CommandBook,
    args: &SendArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), Error> {
    let mut gateway = CommandGatewayClient::new(gateway(socket_dir).await?);
    let answer = match (args.follow_count, args.follow_secs) {
        (Some(count), _) => {
            gateway
                .execute_stream_response_count(ExecuteStreamCountRequest {
                    command: Some(command),
                    count,
                })
                .await
        }
        (None, Some(secs)) => {
            let duration = std::time::Duration::try_from_secs_f64(secs)
                .ok()
                .and_then(|d| prost_types::Duration::try_from(d).ok())
                .ok_or_else(|| Error::Config(format!("--follow-secs {secs} is not a duration")))?;
            gateway
                .execute_stream_response_time(ExecuteStreamTimeRequest {
                    command: Some(command),
                    duration: Some(duration),
                })
                .await
        }
        (None, None) => gateway.execute_stream(command).await,
    };
    let mut stream = answer.map_err(Error::rpc)?.into_inner();
    let mut decoder = Decoder::new(socket_dir);
    while let Some(book) = stream.next().await {
        let book = book.map_err(Error::rpc)?;
        print_books(&[book], &mut decoder, args.json_output, out).await?;
        out.flush()?;
    }
    Ok(())
}
