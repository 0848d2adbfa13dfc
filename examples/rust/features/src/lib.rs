//! Runs the shared Gherkin features of the example shop (`examples/features`, vocabulary in
//! its README.md) against the Rust components: `cargo test -p example-features --test unit`
//! runs every feature but `e2e-*` against the handlers in memory (cucumber options after `--`,
//! e.g. `-- --name '^6 '`). The end-to-end runner (`example-e2e`) reuses the values and the
//! matching.
//!
//! - [`cli`]: the runners' command line (cucumber's options, or libtest's for nextest);
//! - [`values`]: placeholders, roots, status codes and messages as protobuf JSON;
//! - [`matching`]: expected JSON against actual messages, with readable mismatches;
//! - [`features`]: which feature files a runner reads;
//! - [`registry`]: the shop's components by name, behind object-safe traits;
//! - [`unit`]: the world of the unit features (`tests/unit.rs`), driving the handlers in memory.

pub mod cli;
pub mod features;
pub mod matching;
pub mod registry;
pub mod unit;
pub mod values;
