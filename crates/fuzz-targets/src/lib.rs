//! The fuzz targets' bodies: every decoder of untrusted input, driven through the code the
//! runtime, the standalone binary and the CLI really run (never a copy of it).
//!
//! Each target is a plain function of the input bytes that panics only when a promise is
//! broken (DESIGN.md §2.9: bad input gets a clear error and changes nothing, and no panic
//! reaches a user). Two drivers call them:
//! - `fuzz/fuzz_targets/<name>.rs`: one line each, for `cargo fuzz` (libFuzzer);
//! - `tests/replay.rs`: every file of `fuzz/corpus/<name>/` and `fuzz/regressions/<name>/`,
//!   the built-in [`seeds`] and a bounded number of deterministic mutations of them, on the
//!   stable toolchain, in `./scripts/test`.
//!
//! docs/reliability.md ("Fuzzing") says how to run them for longer and how a crash becomes a
//! regression test.

#![warn(missing_docs)]

mod fixture;
pub mod mutate;

pub mod cli_json;
pub mod command_book;
pub mod gateway_request;
pub mod ipc_frames;
pub mod manifest;
pub mod record;
pub mod speculation;

/// A fuzz target: its name (the directory under `fuzz/corpus/` and `fuzz/regressions/`), its
/// body and its built-in seeds (valid inputs).
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The cargo-fuzz target's name.
    pub name: &'static str,
    /// Runs one input; panics only on a broken promise.
    pub run: fn(&[u8]),
    /// Valid inputs to start from.
    pub seeds: fn() -> Vec<Vec<u8>>,
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "command_book",
        run: command_book::run,
        seeds: command_book::seeds,
    },
    Target {
        name: "gateway_request",
        run: gateway_request::run,
        seeds: gateway_request::seeds,
    },
    Target {
        name: "manifest",
        run: manifest::run,
        seeds: manifest::seeds,
    },
    Target {
        name: "ipc_frames",
        run: ipc_frames::run,
        seeds: ipc_frames::seeds,
    },
    Target {
        name: "cli_json",
        run: cli_json::run,
        seeds: cli_json::seeds,
    },
    Target {
        name: "record",
        run: record::run,
        seeds: record::seeds,
    },
    Target {
        name: "speculation",
        run: speculation::run,
        seeds: speculation::seeds,
    },
];

/// The seeds of every target, by target name.
pub fn seeds() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    TARGETS.iter().map(|t| (t.name, (t.seeds)())).collect()
}
