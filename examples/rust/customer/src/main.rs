//! The customer aggregate of the example shop as a business-logic process: the runtime starts
//! it with `ANGZARR_SOCKET` set, and it serves `angzarr.BusinessLogic` there until SIGTERM.

use std::io::IsTerminal;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

mod logic;
#[cfg(test)]
mod tests;

/// Types generated from `examples/proto/examples/customer.proto`.
#[allow(clippy::all, clippy::pedantic, clippy::unwrap_used, rust_2018_idioms)]
mod proto {
    include!(concat!(env!("OUT_DIR"), "/examples.customer.rs"));

    /// Encoded `FileDescriptorSet` of customer.proto (for gRPC reflection).
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/customer_descriptor.bin"));
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let descriptor_sets = [
        angzarr_proto::FILE_DESCRIPTOR_SET,
        proto::FILE_DESCRIPTOR_SET,
    ];
    match angzarr_client::serve(logic::aggregate().into_server(), &descriptor_sets).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("customer: {err}");
            ExitCode::FAILURE
        }
    }
}
