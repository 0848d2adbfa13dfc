//! `angzarr-standalone` as a library: load a manifest, start the system, stop it.
//!
//! The binary is a thin shell over [`run_until_signal`]; tests drive [`Standalone`] directly.

#![warn(missing_docs)]

pub mod config;
mod system;

pub use system::{ComponentInfo, Standalone, StartError};

use config::Manifest;

/// Starts the system described by `manifest`, prints what runs where, and serves until
/// SIGINT or SIGTERM; then stops every component and closes the store.
pub async fn run_until_signal(manifest: Manifest) -> Result<(), StartError> {
    let system = Standalone::start(manifest).await?;
    println!("{}", system.summary());
    wait_for_signal().await;
    tracing::info!("shutting down");
    system.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => {
            // Without signal handlers we can still stop on Ctrl-C.
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
