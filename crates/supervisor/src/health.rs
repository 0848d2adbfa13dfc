//! Readiness through the standard gRPC health service.
//!
//! A component is ready when `grpc.health.v1.Health/Check` for service `""` (the server as a
//! whole) answers SERVING on its socket. Using the standard service keeps the contract with
//! user code to gRPC alone (DESIGN.md §2.8): every gRPC library ships one.

use std::path::Path;
use std::time::Duration;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// First pause between polls; a process usually binds within a few tens of milliseconds.
const FIRST_POLL: Duration = Duration::from_millis(20);
/// Longest pause between polls.
const MAX_POLL: Duration = Duration::from_millis(500);
/// Longest a single check may take (a process that accepts but never answers).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Asks the gRPC health service on `socket` whether the server is SERVING. Any failure (no
/// socket, connection refused, no health service, slow answer) counts as "no".
pub async fn is_serving(socket: &Path) -> bool {
    let probe = async {
        let channel = angzarr_transport::channel(socket.to_path_buf())
            .await
            .ok()?;
        let response = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .ok()?;
        Some(response.into_inner().status == ServingStatus::Serving as i32)
    };
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, probe).await,
        Ok(Some(true))
    )
}

/// Polls `socket` with a growing interval until it reports SERVING. Never gives up by
/// itself: the caller races it against a deadline and the process's exit.
pub(crate) async fn wait_serving(socket: &Path) {
    let mut pause = FIRST_POLL;
    while !is_serving(socket).await {
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(MAX_POLL);
    }
}
