//! A stand-in business-logic process for the supervisor's integration tests.
//!
//! It serves the gRPC health service on `$ANGZARR_SOCKET` and behaves according to
//! `TEST_CHILD_MODE`:
//! - `serve` (default): SERVING until SIGTERM, then exits 0;
//! - `ignore-sigterm`: like `serve`, but SIGTERM does nothing (only SIGKILL stops it);
//! - `never-ready`: serves the health service but reports NOT_SERVING;
//! - `exit-immediately`: writes a line to stderr and exits with code 3;
//! - `supervise`: runs a `Supervisor` with one `serve` child of its own on
//!   `$TEST_GRANDCHILD_SOCKET`, prints that child's pid on stdout once it is SERVING, and
//!   waits forever (for the parent-death test).
//!
//! Not part of the product; it lives here because a Cargo test can only run binaries of
//! its own package.

use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use angzarr_supervisor::{ComponentSpec, Supervisor};
use tokio::signal::unix::{SignalKind, signal};
use tonic_health::ServingStatus;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mode = std::env::var("TEST_CHILD_MODE").unwrap_or_else(|_| "serve".into());
    match mode.as_str() {
        "serve" => serve(ServingStatus::Serving, true).await,
        "ignore-sigterm" => serve(ServingStatus::Serving, false).await,
        "never-ready" => serve(ServingStatus::NotServing, true).await,
        "exit-immediately" => {
            eprintln!("test child: exiting on purpose");
            std::process::exit(3);
        }
        "supervise" => supervise().await,
        other => Err(format!("unknown TEST_CHILD_MODE {other:?}").into()),
    }
}

fn env_path(name: &str) -> Result<PathBuf> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .ok_or_else(|| format!("{name} is not set").into())
}

async fn serve(status: ServingStatus, stop_on_sigterm: bool) -> Result<()> {
    // Installed before binding, so that SIGTERM is handled (or ignored) from the moment the
    // supervisor may send it.
    let mut sigterm = signal(SignalKind::terminate())?;
    let listener = angzarr_transport::bind(&env_path("ANGZARR_SOCKET")?)?;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("", status).await;
    let stop = async move {
        loop {
            sigterm.recv().await;
            if stop_on_sigterm {
                return;
            }
        }
    };
    tonic::transport::Server::builder()
        .add_service(health)
        .serve_with_incoming_shutdown(angzarr_transport::incoming(listener), stop)
        .await?;
    Ok(())
}

async fn supervise() -> Result<()> {
    let me = std::env::current_exe()?;
    let mut spec = ComponentSpec::new(
        "grandchild",
        [me.to_string_lossy().into_owned()],
        env_path("TEST_GRANDCHILD_SOCKET")?,
    );
    spec.env.insert("TEST_CHILD_MODE".into(), "serve".into());
    let supervisor = Supervisor::start(vec![spec]).await?;
    supervisor
        .wait_ready("grandchild", Duration::from_secs(30))
        .await?;
    let pid = supervisor
        .pid("grandchild")
        .ok_or("grandchild has no pid")?;
    println!("{pid}");
    std::future::pending::<()>().await;
    Ok(())
}
