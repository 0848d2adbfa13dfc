//! The Angzarr contract: types generated from `proto/angzarr/*.proto` and extension traits
//! that add the helpers the rest of the workspace needs (no free helper functions).

#![allow(missing_docs)] // generated code carries the .proto comments; helpers are documented.

/// Generated protobuf messages and gRPC services of package `angzarr`.
#[allow(clippy::all, clippy::pedantic, clippy::unwrap_used, rust_2018_idioms)]
pub mod angzarr {
    tonic::include_proto!("angzarr");
}

mod ext;

pub use angzarr::*;
pub use ext::*;

/// Encoded `FileDescriptorSet` of the Angzarr protos (for gRPC server reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/angzarr_descriptor.bin"));

pub use prost;
pub use prost_types;

/// The largest message the runtime and a business-logic component send each other (64 MiB):
/// a command with its history, a process manager's state, an answer. Both sides set it on
/// their gRPC endpoints (tonic's default of 4 MiB would refuse long histories); the runtime
/// refuses a larger request before sending it, with an error that says so.
pub const MAX_LOGIC_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
