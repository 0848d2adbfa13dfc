//! `angzarr topology`, `angzarr parked`, `angzarr redrive`: the runtime's own service.

use std::io::Write;
use std::path::Path;

use angzarr_proto::runtime_client::RuntimeClient;
use angzarr_proto::{
    AnyExt, EventPageExt, ListParkedRequest, ParkedEvent, RedriveRequest, TopologyRequest,
};
use serde_json::json;
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
        .get_topology(TopologyRequest {})
        .await
        .map_err(Error::rpc)?
        .into_inner())
}

fn output(err: std::io::Error) -> Error {
    Error::Output(err)
}

/// Prints the components and how events and commands flow between them.
pub(crate) async fn topology(
    socket_dir: &Path,
    json_output: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), Error> {
    let topology = fetch_topology(socket_dir).await?;
    if json_output {
        let value = json!({
            "head_position": topology.head_position,
            "nodes": topology.nodes.iter().map(|n| json!({
                "name": n.name,
                "component_type": n.component_type,
                "state": n.state,
                "checkpoint": n.checkpoint,
                "parked": n.parked,
            })).collect::<Vec<_>>(),
            "edges": topology.edges.iter().map(|e| json!({
                "from": e.from,
                "to": e.to,
                "domain": e.domain,
                "types": e.types,
                "count": e.count,
            })).collect::<Vec<_>>(),
        });
        return writeln!(out, "{value}").map_err(output);
    }
    let mut text = format!(
        "log head: position {}\n\ncomponents:\n",
        topology.head_position
    );
    for n in &topology.nodes {
        let position = if n.component_type == "aggregate" {
            String::new()
        } else {
            format!("  checkpoint {}  parked {}", n.checkpoint, n.parked)
        };
        text.push_str(&format!(
            "  {:<28} {:<16} {}{position}\n",
            n.name, n.component_type, n.state
        ));
    }
    text.push_str("\nflows:\n");
    for e in &topology.edges {
        let types = if e.types.is_empty() {
            "all types".to_string()
        } else {
            e.types.join(", ")
        };
        text.push_str(&format!(
            "  {} -> {}  [{}: {types}]  {} so far\n",
            e.from, e.to, e.domain, e.count
        ));
    }
    out.write_all(text.as_bytes()).map_err(output)
}

/// Prints each component's state, process, checkpoint, lag and parked events.
pub(crate) async fn status(
    socket_dir: &Path,
    json_output: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), Error> {
    let topology = fetch_topology(socket_dir).await?;
    let head = topology.head_position;
    let subscriber = |kind: &str| kind != "aggregate";
    if json_output {
        let nodes: Vec<_> = topology
            .nodes
            .iter()
            .map(|n| {
                let mut value = json!({
                    "name": n.name,
                    "component_type": n.component_type,
                    "state": n.state,
                    "pid": n.pid,
                    "restarts": n.restarts,
                });
                if subscriber(&n.component_type) {
                    value["checkpoint"] = n.checkpoint.into();
                    value["lag"] = head.saturating_sub(n.checkpoint).into();
                    value["parked"] = n.parked.into();
                }
                value
            })
            .collect();
        let value = json!({"head_position": head, "components": nodes});
        return writeln!(out, "{value}").map_err(output);
    }
    let mut text = format!("log head: position {head}\n");
    for n in &topology.nodes {
        let delivery = if subscriber(&n.component_type) {
            format!(
                "  checkpoint {}  lag {}  parked {}",
                n.checkpoint,
                head.saturating_sub(n.checkpoint),
                n.parked
            )
        } else {
            String::new()
        };
        text.push_str(&format!(
            "  {:<28} {:<16} pid {:<8} restarts {:<3} {}{delivery}\n",
            n.name, n.component_type, n.pid, n.restarts, n.state
        ));
    }
    out.write_all(text.as_bytes()).map_err(output)
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
