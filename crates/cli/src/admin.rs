//! `angzarr status` and `angzarr topology` (the admin endpoint, `admin.sock`, HTTP/JSON: the
//! same answers `curl --unix-socket` gets), `angzarr parked` and `angzarr redrive` (the
//! runtime's gRPC service, `runtime.sock`).

use std::io::Write;
use std::path::Path;

use angzarr_proto::runtime_client::RuntimeClient;
use angzarr_proto::{
    AnyExt, EventPageExt, ListParkedRequest, ParkedEvent, RedriveRequest, TopologyRequest,
};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::error::Error;
use crate::{ParkedArgs, RedriveArgs};

async fn client(socket_dir: &Path) -> Result<RuntimeClient<Channel>, Error> {
    let path = socket_dir.join("runtime.sock");
    let channel = angzarr_transport::channel(&path)
        .await
        .map_err(|err| Error::NotRunning {
            what: "the runtime service".into(),
            path: path.clone(),
            reason: err.to_string(),
        })?;
    Ok(RuntimeClient::new(channel))
}

/// The runtime's topology (also its log head, for `tail`).
pub(crate) async fn fetch_topology(socket_dir: &Path) -> Result<angzarr_proto::Topology, Error> {
    Ok(client(socket_dir)
        .await?
        .get_topology(TopologyRequest::default())
        .await
        .map_err(Error::rpc)?
        .into_inner())
}

fn output(err: std::io::Error) -> Error {
    Error::Output(err)
}

/// `GET path` on the runtime's admin endpoint (`<socket_dir>/admin.sock`), as JSON.
async fn admin_json(socket_dir: &Path, path: &str) -> Result<Value, Error> {
    let socket = socket_dir.join("admin.sock");
    let answer = angzarr_transport::http_get(&socket, path)
        .await
        .map_err(|err| Error::NotRunning {
            what: "the admin endpoint".into(),
            path: socket.clone(),
            reason: err.to_string(),
        })?;
    let value: Value = serde_json::from_str(&answer.body).map_err(|err| Error::Status {
        code: tonic::Code::Internal,
        message: format!("{path} answered {} with no JSON ({err})", answer.status),
    })?;
    if answer.status != 200 {
        return Err(Error::Status {
            code: tonic::Code::Unavailable,
            message: value["error"].as_str().unwrap_or(&answer.body).to_string(),
        });
    }
    Ok(value)
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Prints the components and how events and commands flow between them (`GET /topology`).
pub(crate) async fn topology(
    socket_dir: &Path,
    json_output: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), Error> {
    let topology = admin_json(socket_dir, "/topology").await?;
    if json_output {
        return writeln!(out, "{topology}").map_err(output);
    }
    let empty = Vec::new();
    let mut text = format!(
        "log head: position {}\n\ncomponents:\n",
        text_of(&topology["head_position"])
    );
    for n in topology["nodes"].as_array().unwrap_or(&empty) {
        let position = if n["component_type"] == "aggregate" {
            String::new()
        } else {
            format!(
                "  checkpoint {}  parked {}",
                text_of(&n["checkpoint"]),
                text_of(&n["parked"])
            )
        };
        text.push_str(&format!(
            "  {:<28} {:<16} {}{position}\n",
            text_of(&n["name"]),
            text_of(&n["component_type"]),
            text_of(&n["state"])
        ));
    }
    text.push_str("\nflows:\n");
    for e in topology["edges"].as_array().unwrap_or(&empty) {
        let types: Vec<String> = e["types"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .map(text_of)
            .collect();
        let types = if types.is_empty() {
            "all types".to_string()
        } else {
            types.join(", ")
        };
        text.push_str(&format!(
            "  {} -> {}  [{}: {types}]  {} so far\n",
            text_of(&e["from"]),
            text_of(&e["to"]),
            text_of(&e["domain"]),
            text_of(&e["count"])
        ));
    }
    out.write_all(text.as_bytes()).map_err(output)
}

/// Prints each component's state, process, checkpoint, lag and parked events, and whether
/// the runtime is ready (`GET /status`).
pub(crate) async fn status(
    socket_dir: &Path,
    json_output: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), Error> {
    let status = admin_json(socket_dir, "/status").await?;
    if json_output {
        return writeln!(out, "{status}").map_err(output);
    }
    let empty = Vec::new();
    let mut text = format!("log head: position {}\n", text_of(&status["head_position"]));
    if status["ready"] == true {
        text.push_str("ready\n");
    } else {
        text.push_str("not ready:\n");
        for reason in status["reasons"].as_array().unwrap_or(&empty) {
            text.push_str(&format!("  - {}\n", text_of(reason)));
        }
    }
    for n in status["components"].as_array().unwrap_or(&empty) {
        let delivery = if n.get("checkpoint").is_some() {
            format!(
                "  checkpoint {}  lag {} ({:.3} s)  parked {}",
                text_of(&n["checkpoint"]),
                text_of(&n["lag"]),
                n["lag_seconds"].as_f64().unwrap_or_default(),
                text_of(&n["parked"])
            )
        } else {
            String::new()
        };
        text.push_str(&format!(
            "  {:<28} {:<16} pid {:<8} restarts {:<3} {}{delivery}\n",
            text_of(&n["name"]),
            text_of(&n["component_type"]),
            text_of(&n["pid"]),
            text_of(&n["restarts"]),
            text_of(&n["state"])
        ));
    }
    if let Some(processes) = status["processes"].as_array() {
        text.push_str("processes:\n");
        for p in processes {
            let domains: Vec<String> = p["domains"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .map(text_of)
                .collect();
            text.push_str(&format!(
                "  {:<20} pid {:<8} {:<12} head {:<8} owns {}  sockets {}\n",
                text_of(&p["name"]),
                text_of(&p["pid"]),
                text_of(&p["state"]),
                text_of(&p["head_position"]),
                if domains.is_empty() {
                    "-".to_string()
                } else {
                    domains.join(", ")
                },
                text_of(&p["socket_dir"]),
            ));
            for c in p["components"].as_array().unwrap_or(&empty) {
                let sources: Vec<String> = c["sources"]
                    .as_array()
                    .unwrap_or(&empty)
                    .iter()
                    .map(|s| {
                        format!(
                            "from {} at {} (lag {})",
                            text_of(&s["process"]),
                            text_of(&s["checkpoint"]),
                            text_of(&s["lag"])
                        )
                    })
                    .collect();
                text.push_str(&format!(
                    "    {:<26} {:<16} {}{}\n",
                    text_of(&c["name"]),
                    text_of(&c["component_type"]),
                    text_of(&c["state"]),
                    if sources.is_empty() {
                        String::new()
                    } else {
                        format!("  {}", sources.join("; "))
                    },
                ));
            }
        }
    }
    out.write_all(text.as_bytes()).map_err(output)
}

/// The socket directory of the process that owns `domain`: `socket_dir` itself when a
/// coordinator of the domain is there, otherwise the owner's, as the runtime's `/status`
/// names it (multi-process systems), so a command against any process works.
pub(crate) async fn owner_dir(socket_dir: &Path, domain: &str) -> std::path::PathBuf {
    let here = socket_dir.to_path_buf();
    if socket_dir.join(format!("{domain}.sock")).exists() {
        return here;
    }
    let Ok(status) = admin_json(socket_dir, "/status").await else {
        return here;
    };
    status["processes"]
        .as_array()
        .and_then(|processes| {
            processes.iter().find(|p| {
                p["domains"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|d| d == domain))
            })
        })
        .and_then(|p| p["socket_dir"].as_str())
        .map_or(here, std::path::PathBuf::from)
}

/// Lists parked events.
pub(crate) async fn parked(
    socket_dir: &Path,
    args: &ParkedArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), Error> {
    let parked = client(socket_dir)
        .await?
        .list_parked(ListParkedRequest {
            subscriber: args.subscriber.clone().unwrap_or_default(),
        })
        .await
        .map_err(Error::rpc)?
        .into_inner()
        .parked;
    print_parked(&parked, args.json_output, out)
}

/// Re-drives parked events.
pub(crate) async fn redrive(
    socket_dir: &Path,
    args: &RedriveArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), Error> {
    let response = client(socket_dir)
        .await?
        .redrive(RedriveRequest {
            id: args.id.unwrap_or_default(),
            subscriber: args.subscriber.clone().unwrap_or_default(),
        })
        .await
        .map_err(Error::rpc)?
        .into_inner();
    writeln!(
        out,
        "{} re-delivered, {} still parked",
        response.redelivered,
        response.still_parked.len()
    )
    .map_err(output)?;
    print_parked(&response.still_parked, false, out)
}

fn print_parked(
    parked: &[ParkedEvent],
    json_output: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), Error> {
    let describe = |p: &ParkedEvent| {
        let book = p.event.as_ref();
        let cover = book.and_then(|b| b.cover.as_ref());
        let page = book.and_then(|b| b.pages.first());
        (
            cover.map(|c| c.domain.clone()).unwrap_or_default(),
            cover.map(|c| c.correlation_id.clone()).unwrap_or_default(),
            page.and_then(EventPageExt::sequence_num)
                .unwrap_or_default(),
            page.and_then(|p| p.event.as_ref())
                .map(|e| e.full_type_name().to_string())
                .unwrap_or_default(),
        )
    };
    if json_output {
        let value: Vec<_> = parked
            .iter()
            .map(|p| {
                let (domain, correlation_id, sequence, event_type) = describe(p);
                json!({
                    "id": p.id,
                    "subscriber": p.subscriber,
                    "position": p.position,
                    "error": p.error,
                    "attempts": p.attempts,
                    "domain": domain,
                    "sequence": sequence,
                    "type": event_type,
                    "correlation_id": correlation_id,
                })
            })
            .collect();
        return writeln!(out, "{}", json!(value)).map_err(output);
    }
    if parked.is_empty() {
        return writeln!(out, "no parked events").map_err(output);
    }
    for p in parked {
        let (domain, correlation_id, sequence, event_type) = describe(p);
        writeln!(
            out,
            "#{} {} position {} ({domain} #{sequence} {event_type}, correlation {correlation_id}) after {} attempts: {}",
            p.id, p.subscriber, p.position, p.attempts, p.error
        )
        .map_err(output)?;
    }
    Ok(())
}
