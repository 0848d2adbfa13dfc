//! Angzarr's runtime: coordinators, pipelines, and the storage and bus traits.
//!
//! Everything here is independent of how the runtime is deployed: `angzarr-standalone`
//! wires it to SQLite, the channel bus and supervised child processes; the distributed mode
//! will wire the same code to other adapters (DESIGN.md §2.7).

#![warn(missing_docs)]

pub mod admin;
pub mod aggregate;
pub mod bus;
pub mod delivery;
mod emitted;
pub mod error;
pub mod gateway;
pub mod grpc;
pub mod logic;
pub mod metrics;
pub mod publisher;
pub mod router;
pub mod storage;
pub mod subscription;
#[cfg(test)]
mod test_support;

pub use error::{Error, Result};
