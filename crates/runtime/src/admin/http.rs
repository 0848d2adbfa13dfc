//! The admin endpoint: HTTP/1.1 with JSON (and Prometheus text), for people, `curl`,
//! scrapers and orchestrators.
//!
//! | path | answer |
//! |---|---|
//! | `GET /healthz` | `200 ok`: the runtime process answers (liveness) |
//! | `GET /readyz` | `200` when every component serves and every subscriber is within the lag bound, else `503`; JSON `{"ready", "reasons"}` |
//! | `GET /metrics` | the Prometheus text format |
//! | `GET /status` | components, states, pids, restarts, checkpoints, lag (positions and seconds), parked events |
//! | `GET /topology` | components and the flows between them, from their descriptors, with counts |
//!
//! It is served on `<socket dir>/admin.sock` from the moment the socket directory is taken, so
//! `/healthz`, `/readyz` and `/status` answer while components are still starting (and say so);
//! the system's own view is plugged in with [`AdminEndpoint::set_runtime`] once it is wired.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use angzarr_proto::Topology;
use angzarr_telemetry::metrics::{MetricFamily, TEXT_CONTENT_TYPE, encode_text};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use super::{
    ComponentStatus, Readiness, RuntimeService, SystemStatus, component_status, status_families,
};
use crate::error::Result;
use crate::logic::Availability;
use crate::metrics::Telemetry;
use crate::storage::EventStore;

/// The admin endpoint's state; cheap to clone.
#[derive(Clone)]
pub struct AdminEndpoint {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn EventStore>,
    availability: Arc<dyn Availability>,
    telemetry: Telemetry,
    ready_max_lag: u64,
    runtime: OnceLock<RuntimeService>,
}

impl std::fmt::Debug for AdminEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminEndpoint")
            .field("wired", &self.inner.runtime.get().is_some())
            .finish_non_exhaustive()
    }
}

impl AdminEndpoint {
    /// An endpoint over the store and the components' availability; `ready_max_lag` is the
    /// most positions a subscriber may be behind the log head for `/readyz` to say ready.
    pub fn new(
        store: Arc<dyn EventStore>,
        availability: Arc<dyn Availability>,
        telemetry: Telemetry,
        ready_max_lag: u64,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                availability,
                telemetry,
                ready_max_lag,
                runtime: OnceLock::new(),
            }),
        }
    }

    /// Plugs in the wired system; until then everything counts as starting.
    pub fn set_runtime(&self, runtime: RuntimeService) {
        let _ = self.inner.runtime.set(runtime);
    }

    /// The status of every component.
    pub async fn status(&self) -> Result<SystemStatus> {
        if let Some(runtime) = self.inner.runtime.get() {
            return runtime.status().await;
        }
        let availability = &*self.inner.availability;
        Ok(SystemStatus {
            head_position: self.inner.store.head_position().await?,
            components: availability
                .names()
                .iter()
                .map(|name| starting(component_status(availability, name, None)))
                .collect(),
        })
    }

    /// Whether the system is ready, and why not.
    pub async fn readiness(&self) -> Result<Readiness> {
        let status = self.status().await?;
        Ok(self.readiness_of(&status))
    }

    fn readiness_of(&self, status: &SystemStatus) -> Readiness {
        let mut readiness = status.readiness(self.inner.ready_max_lag);
        if self.inner.runtime.get().is_none() {
            readiness.ready = false;
            readiness
                .reasons
                .insert(0, "the runtime is starting its components".into());
        }
        readiness
    }

    /// Everything `/metrics` reports.
    pub async fn metric_families(&self) -> Result<Vec<MetricFamily>> {
        let status = self.status().await?;
        let ready = self.readiness_of(&status).ready;
        Ok(match self.inner.runtime.get() {
            Some(runtime) => runtime.metric_families(&status, ready),
            None => {
                let mut families = self.inner.telemetry.metrics.collect();
                families.extend(status_families(&status, ready));
                families
            }
        })
    }

    /// Serves connections from `listener` until `stop` turns true.
    pub async fn serve_unix(self, listener: tokio::net::UnixListener, stop: watch::Receiver<bool>) {
        let mut stopping = stop.clone();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => self.spawn_connection(stream, stop.clone()),
                    Err(err) => accept_failed(&err).await,
                },
                () = stopped(&mut stopping) => return,
            }
        }
    }

    /// Serves connections from a TCP `listener` until `stop` turns true.
    pub async fn serve_tcp(self, listener: tokio::net::TcpListener, stop: watch::Receiver<bool>) {
        let mut stopping = stop.clone();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => self.spawn_connection(stream, stop.clone()),
                    Err(err) => accept_failed(&err).await,
                },
                () = stopped(&mut stopping) => return,
            }
        }
    }

    fn spawn_connection<IO>(&self, io: IO, mut stop: watch::Receiver<bool>)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let this = self.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let this = this.clone();
                async move { Ok::<_, Infallible>(this.respond(request).await) }
            });
            let connection = http1::Builder::new().serve_connection(TokioIo::new(io), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stopped(&mut stop) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(1), connection).await;
                }
            }
        });
    }

    async fn respond(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        }
        let result = match request.uri().path() {
            "/healthz" => Ok(text(StatusCode::OK, "ok\n")),
            "/readyz" => self.readyz().await,
            "/metrics" => self.metrics().await,
            "/status" => self.status_json().await,
            "/topology" => self.topology_json().await,
            _ => Ok(text(
                StatusCode::NOT_FOUND,
                "not found; try /healthz, /readyz, /metrics, /status, /topology\n",
            )),
        };
        result.unwrap_or_else(|err| {
            tracing::warn!(%err, path = request.uri().path(), "admin request failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{err}\n"))
        })
    }

    async fn readyz(&self) -> Result<Response<Full<Bytes>>> {
        let readiness = self.readiness().await?;
        let status = if readiness.ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        Ok(json_response(
            status,
            &json!({"ready": readiness.ready, "reasons": readiness.reasons}),
        ))
    }

    async fn metrics(&self) -> Result<Response<Full<Bytes>>> {
        let body = encode_text(&self.metric_families().await?);
        Ok(Response::builder()
            .status(StatusCode::OK)
            .header(CONTENT_TYPE, TEXT_CONTENT_TYPE)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "response\n")))
    }

    async fn status_json(&self) -> Result<Response<Full<Bytes>>> {
        let status = self.status().await?;
        let readiness = self.readiness_of(&status);
        let mut value = status_to_json(&status, &readiness);
        // A multi-process system: which process owns what, and where each one is.
        if let Some(runtime) = self.inner.runtime.get() {
            let topology = runtime.system_topology(false).await?;
            if !topology.processes.is_empty() {
                value["processes"] = processes_to_json(&topology);
            }
        }
        Ok(json_response(StatusCode::OK, &value))
    }

    async fn topology_json(&self) -> Result<Response<Full<Bytes>>> {
        match self.inner.runtime.get() {
            Some(runtime) => Ok(json_response(
                StatusCode::OK,
                &topology_to_json(&runtime.system_topology(false).await?),
            )),
            None => Ok(json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"error": "the runtime is starting its components; the topology comes from their descriptors"}),
            )),
        }
    }
}

fn starting(mut status: ComponentStatus) -> ComponentStatus {
    // Serving processes are still being described and wired.
    if status.state == "serving" {
        status.state = "starting".into();
        status.detail = Some("being wired into the runtime".into());
    }
    status
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn accept_failed(err: &std::io::Error) {
    tracing::warn!(%err, "the admin endpoint cannot accept a connection");
    // E.g. out of file descriptors: do not spin.
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn json_response(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut body = value.to_string();
    body.push('\n');
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// `/status` as JSON (the shape `angzarr status --json` prints).
pub fn status_to_json(status: &SystemStatus, readiness: &Readiness) -> Value {
    let components: Vec<Value> = status
        .components
        .iter()
        .map(|c| {
            let mut value = json!({
                "name": c.name,
                "component_type": c.component_type,
                "state": c.state,
                "pid": c.pid,
                "restarts": c.restarts,
            });
            if let Some(detail) = &c.detail {
                value["detail"] = detail.as_str().into();
            }
            if let Some(d) = &c.delivery {
                value["checkpoint"] = d.checkpoint.into();
                value["lag"] = d.lag_positions.into();
                value["lag_seconds"] = d.lag_seconds.into();
                value["parked"] = d.parked.into();
            }
            value
        })
        .collect();
    json!({
        "ready": readiness.ready,
        "reasons": readiness.reasons,
        "head_position": status.head_position,
        "components": components,
    })
}

/// The processes of a multi-process system (empty for one process), each with its
/// components and, per subscriber, its position in other processes' logs and the lag behind
/// their heads.
pub fn processes_to_json(topology: &Topology) -> Value {
    let head_of = |process: &str| {
        topology
            .processes
            .iter()
            .find(|p| p.name == process)
            .map_or(0, |p| p.head_position)
    };
    Value::Array(
        topology
            .processes
            .iter()
            .map(|p| {
                let components: Vec<Value> = topology
                    .nodes
                    .iter()
                    .filter(|n| n.process == p.name)
                    .map(|n| {
                        json!({
                            "name": n.name,
                            "component_type": n.component_type,
                            "state": n.state,
                            "checkpoint": n.checkpoint,
                            "sources": n.sources.iter().map(|s| json!({
                                "process": s.process,
                                "checkpoint": s.checkpoint,
                                "lag": head_of(&s.process).saturating_sub(s.checkpoint),
                            })).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                json!({
                    "name": p.name,
                    "pid": p.pid,
                    "state": p.state,
                    "socket_dir": p.socket_dir,
                    "domains": p.domains,
                    "head_position": p.head_position,
                    "components": components,
                })
            })
            .collect(),
    )
}

/// `/topology` as JSON (the shape `angzarr topology --json` prints).
pub fn topology_to_json(topology: &Topology) -> Value {
    json!({
        "head_position": topology.head_position,
        "nodes": topology.nodes.iter().map(|n| json!({
            "name": n.name,
            "component_type": n.component_type,
            "state": n.state,
            "checkpoint": n.checkpoint,
            "parked": n.parked,
            "pid": n.pid,
            "restarts": n.restarts,
            "process": n.process,
            "sources": n.sources.iter().map(|s| json!({
                "process": s.process,
                "checkpoint": s.checkpoint,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "processes": processes_to_json(topology),
        "edges": topology.edges.iter().map(|e| json!({
            "from": e.from,
            "to": e.to,
            "domain": e.domain,
            "types": e.types,
            "count": e.count,
        })).collect::<Vec<_>>(),
    })
}
