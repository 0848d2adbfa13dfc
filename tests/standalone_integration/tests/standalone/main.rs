//! The real runtime (`angzarr-standalone`) with synthetic aggregates over real SQLite files
//! and real Unix sockets. One test binary; each module covers one area.
//!
//! The binaries must be built first (`cargo build --workspace --bins`; `./scripts/test` does
//! it): the runtime spawns `angzarr-synthetic-aggregate`, and some tests run
//! `angzarr-standalone`, `angzarr` and `example-customer` themselves.

mod binaries;
mod cli;
mod commands;
mod crash;
mod distribution;
mod gateway;
mod lifecycle;
mod multi_process;
mod observability;
mod sockets;
mod what_if;
