//! The command line of the feature runners, which are test targets without libtest.
//!
//! `cargo test` hands a runner the arguments after `--` (cucumber's own: `--name '^6 '`,
//! `--tags @wip`, ...). cargo-nextest instead speaks the libtest protocol: it lists tests with
//! `--list --format terse` and runs one with `--exact <name>`. A runner answers the listing
//! with one test named after itself and runs every feature when asked to run it, so both
//! tools run the features as they are.

use std::process::exit;

/// Reads the command line of the runner `name`: answers a libtest listing (and exits), turns a
/// libtest run request into the default options, and otherwise parses cucumber's options,
/// falling back to the defaults when the arguments are not for cucumber (a filter `cargo test`
/// passes to every target).
pub fn options<T: clap::Parser + Default>(name: &str) -> T {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    if has("--list") {
        // Nothing is #[ignore]d: the listing of ignored tests is empty.
        if !has("--ignored") {
            println!("{name}: test");
        }
        exit(0);
    }
    if has("--exact") {
        return T::default();
    }
    T::try_parse().unwrap_or_else(|err| match err.kind() {
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => err.exit(),
        _ => {
            eprintln!(
                "note: the command line is not for cucumber ({}); running every feature",
                err.kind()
            );
            T::default()
        }
    })
}
