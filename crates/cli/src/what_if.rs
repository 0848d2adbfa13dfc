//! `angzarr edition` and `angzarr speculate`: editions of aggregates and speculative runs of
//! subscribers, through the gateway's `angzarr.Editions` and `angzarr.Speculation`.

use std::io::Write;
use std::path::Path;

use angzarr_proto::editions_client::EditionsClient;
use angzarr_proto::speculation_client::SpeculationClient;
use angzarr_proto::{
    AnyExt, CreateEditionRequest, Edition, EditionRequest, EventPageExt, ListEditionsRequest,
    Query, SpeculateRequest, UuidExt,
};
use serde_json::json;
use tonic::transport::Channel;

use crate::error::Error;
use crate::query::Decoder;
use crate::root::Root;
use crate::{EditionCommand, SpeculateArgs};

async fn gateway(socket_dir: &Path) -> Result<Channel, Error> {
    let path = socket_dir.join("gateway.sock");
    angzarr_transport::channel(&path)
        .await
        .map_err(|err| Error::NotRunning {
            what: "the gateway".to_string(),
            path,
            reason: err.to_string(),
        })
}

fn cover(domain: &str, root: &str, edition: &str) -> angzarr_proto::Cover {
    angzarr_proto::Cover {
        root: Some(angzarr_proto::Uuid::from_uuid(
            Root::parse(domain, root).uuid(),
        )),
        domain: domain.to_string(),
        correlation_id: String::new(),
        edition: edition.to_string(),
    }
}

fn edition_json(edition: &Edition) -> serde_json::Value {
    let cover = edition.cover.clone().unwrap_or_default();
    json!({
        "domain": cover.domain,
        "root": root_text(cover.root.as_ref()),
        "edition": cover.edition,
        "divergence_sequence": edition.divergence_sequence,
        "next_sequence": edition.next_sequence,
        "created_at": edition.created_at.as_ref().map(ToString::to_string),
    })
}

fn root_text(root: Option<&angzarr_proto::Uuid>) -> String {
    root.and_then(|r| r.to_uuid().ok())
        .map(|r| r.to_string())
        .unwrap_or_default()
}

fn edition_line(edition: &Edition) -> String {
    let cover = edition.cover.clone().unwrap_or_default();
    format!(
        "{}@{}/{}: shares main's events 0..={}, next sequence {}, created {}",
        cover.domain,
        cover.edition,
        root_text(cover.root.as_ref()),
        edition.divergence_sequence,
        edition.next_sequence,
        edition
            .created_at
            .as_ref()
            .map_or_else(String::new, ToString::to_string),
    )
}

/// `angzarr edition ...`.
pub(crate) async fn edition(
    socket_dir: &Path,
    command: &EditionCommand,
    out: &mut (dyn Write + Send),
) -> Result<(), Error> {
    let mut client = EditionsClient::new(gateway(socket_dir).await?);
    match command {
        EditionCommand::Create {
            domain,
            root,
            name,
            at,
        } => {
            let edition = client
                .create(CreateEditionRequest {
                    cover: Some(cover(domain, root, name)),
                    divergence_sequence: *at,
                })
                .await
                .map_err(Error::rpc)?
                .into_inner();
            writeln!(out, "created {}", edition_line(&edition))?;
        }
        EditionCommand::List {
            domain,
            root,
            json_output,
        } => {
            let root = match (domain, root) {
                (Some(domain), Some(root)) => Some(angzarr_proto::Uuid::from_uuid(
                    Root::parse(domain, root).uuid(),
                )),
                _ => None,
            };
            let editions = client
                .list(ListEditionsRequest {
                    domain: domain.clone().unwrap_or_default(),
                    root,
                })
                .await
                .map_err(Error::rpc)?
                .into_inner()
                .editions;
            for edition in &editions {
                if *json_output {
                    writeln!(out, "{}", edition_json(edition))?;
                } else {
                    writeln!(out, "{}", edition_line(edition))?;
                }
            }
        }
        EditionCommand::Show {
            domain,
            root,
            name,
            json_output,
        } => {
            let edition = client
                .get(EditionRequest {
                    cover: Some(cover(domain, root, name)),
                })
                .await
                .map_err(Error::rpc)?
                .into_inner();
            if *json_output {
                writeln!(out, "{}", edition_json(&edition))?;
            } else {
                writeln!(out, "{}", edition_line(&edition))?;
            }
        }
        EditionCommand::Delete { domain, root, name } => {
            let removed = client
                .delete(EditionRequest {
                    cover: Some(cover(domain, root, name)),
                })
                .await
                .map_err(Error::rpc)?
                .into_inner()
                .events_removed;
            writeln!(
                out,
                "deleted edition {name} of {domain}/{}: {removed} event{} removed, main untouched",
                Root::parse(domain, root).uuid(),
                if removed == 1 { "" } else { "s" }
            )?;
        }
    }
    Ok(())
}

/// `angzarr speculate`.
pub(crate) async fn speculate(
    socket_dir: &Path,
    args: &SpeculateArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), Error> {
    let edition = args.edition.clone().unwrap_or_default();
    let query_cover = match (&args.domain, &args.root) {
        (Some(domain), Some(root)) => {
            let mut cover = cover(domain, root, &edition);
            cover.correlation_id = args.correlation.clone().unwrap_or_default();
            cover
        }
        _ => angzarr_proto::Cover {
            correlation_id: args.correlation.clone().unwrap_or_default(),
            edition,
            ..Default::default()
        },
    };
    let response = SpeculationClient::new(gateway(socket_dir).await?)
        .run(SpeculateRequest {
            component: args.component.clone(),
            events: Vec::new(),
            query: Some(Query {
                cover: Some(query_cover),
                selection: None,
            }),
        })
        .await
        .map_err(Error::rpc)?
        .into_inner();
    let mut decoder = Decoder::new(socket_dir);
    let mut projections = Vec::new();
    for projection in &response.projections {
        let cover = projection.cover.clone().unwrap_or_default();
        let any = projection.projection.clone();
        let body = match &any {
            Some(any) => decoder.decode(&args.component, any).await,
            None => None,
        };
        projections.push(json!({
            "domain": cover.domain,
            "root": root_text(cover.root.as_ref()),
            "sequence": projection.sequence,
            "type": any.as_ref().map(|a| a.full_type_name().to_string()),
            "projection": body,
        }));
    }
    let mut commands = Vec::new();
    for command in &response.commands {
        let cover = command.cover.clone().unwrap_or_default();
        for page in &command.pages {
            let any = page.command.clone().unwrap_or_default();
            commands.push(json!({
                "domain": cover.domain,
                "root": root_text(cover.root.as_ref()),
                "type": any.full_type_name(),
                "command": decoder.decode(&cover.domain, &any).await,
                "idempotency_key": command.idempotency_key,
            }));
        }
    }
    let mut state_events = Vec::new();
    for book in &response.state_events {
        let cover = book.cover.clone().unwrap_or_default();
        for page in &book.pages {
            let any = page.event.clone().unwrap_or_default();
            state_events.push(json!({
                "root": root_text(cover.root.as_ref()),
                "sequence": page.sequence_num(),
                "type": any.full_type_name(),
                "event": decoder.decode(&args.component, &any).await,
            }));
        }
    }
    if args.json_output {
        let report = json!({
            "component": args.component,
            "component_type": response.component_type,
            "events_delivered": response.events_delivered,
            "projections": projections,
            "commands": commands,
            "state_events": state_events,
        });
        writeln!(out, "{report}")?;
        return Ok(());
    }
    writeln!(
        out,
        "{} {} would handle {} event{} (nothing was written, sent or stored):",
        response.component_type,
        args.component,
        response.events_delivered,
        if response.events_delivered == 1 {
            ""
        } else {
            "s"
        },
    )?;
    let text = |value: &serde_json::Value| match value {
        serde_json::Value::Null => "<type not described>".to_string(),
        other => other.to_string(),
    };
    for p in &projections {
        writeln!(
            out,
            "  projection {}/{} #{}: {} {}",
            p["domain"].as_str().unwrap_or_default(),
            p["root"].as_str().unwrap_or_default(),
            p["sequence"],
            p["type"].as_str().unwrap_or("(none)"),
            text(&p["projection"]),
        )?;
    }
    for c in &commands {
        writeln!(
            out,
            "  would send {}/{} {} {}  (idempotency key {})",
            c["domain"].as_str().unwrap_or_default(),
            c["root"].as_str().unwrap_or_default(),
            c["type"].as_str().unwrap_or_default(),
            text(&c["command"]),
            c["idempotency_key"].as_str().unwrap_or_default(),
        )?;
    }
    for e in &state_events {
        writeln!(
            out,
            "  would record {}/{} #{} {} {}",
            args.component,
            e["root"].as_str().unwrap_or_default(),
            e["sequence"],
            e["type"].as_str().unwrap_or_default(),
            text(&e["event"]),
        )?;
    }
    Ok(())
}
