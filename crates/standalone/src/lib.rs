//! `angzarr-standalone` as a library: load a manifest, start the system, stop it.
//!
//! The binary is a thin shell over [`run_until_signal`]; tests drive [`Standalone`] directly.

#![warn(missing_docs)]

pub mod config;
mod system;

pub use system::{ComponentInfo, Standalone, StartError};

use config::Manifest;

/// Starts the system described by `manifest`, prints what runs where, and serves until
/// SIGINT or SIGTERM; then stops every component and closes the store. A signal while the
/// components start stops what has started and returns `Ok`.
pub async fn run_until_signal(manifest: Manifest) -> Result<(), StartError> {
    // Handlers first: a SIGTERM that arrives before they exist takes the default action and
    // kills the runtime on the spot, leaving its components to the parent-death signal.
    let mut signals = StopSignals::install();
    let system = match Standalone::start_unless(manifest, signals.received()).await {
        Ok(system) => system,
        Err(StartError::Interrupted) => {
            tracing::info!("stopped while starting");
            return Ok(());
        }
        Err(err) => return Err(err),
    };
    println!("{}", system.summary());
    signals.received().await;
    tracing::info!("shutting down");
    system.shutdown().await;
    Ok(())
}

/// SIGINT and SIGTERM, listened for from installation on (one that arrives before
/// [`received`](Self::received) is awaited is kept, not lost).
struct StopSignals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| match signal(kind) {
            Ok(stream) => Some(stream),
            Err(err) => {
                tracing::warn!("cannot listen for signal {kind:?}: {err}");
                None
            }
        };
        Self {
            interrupt: listen(SignalKind::interrupt()),
            terminate: listen(SignalKind::terminate()),
        }
    }

    async fn received(&mut self) {
        async fn on(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        if self.interrupt.is_none() && self.terminate.is_none() {
            // Without handlers we can still stop on Ctrl-C.
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
        tokio::select! {
            () = on(&mut self.interrupt) => {}
            () = on(&mut self.terminate) => {}
        }
    }
}
