//! `angzarr-bench`: parse flags, run the plan, print the report. The work is in the library.

/// The allocator `angzarr-standalone` runs on: the `sqlite`, `store` and `load` scenarios run
/// the event store inside this process, and should measure it as the runtime runs it (the raw
/// SQLite baseline gets the same allocator, so their ratio stays fair).
#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::process::ExitCode;

use angzarr_bench::Options;
use clap::Parser;

/// Exit codes: 0 done (even with missed targets), 1 the run failed, 2 bad flags.
const EXIT_FAILURE: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let options = Options::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("angzarr-bench: cannot start the async runtime: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    if options.serve_echo {
        return match runtime.block_on(angzarr_bench::echo::serve()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("angzarr-bench --serve-echo: {err}");
                ExitCode::from(EXIT_FAILURE)
            }
        };
    }
    let plan = match options.plan() {
        Ok(plan) => plan,
        Err(err) => {
            eprintln!("angzarr-bench: {err}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if !plan.release {
        eprintln!(
            "angzarr-bench: warning: {} is not a release build directory; benchmark release \
             binaries (`cargo build --release --bins`)",
            plan.bin_dir.display()
        );
    }
    match runtime.block_on(angzarr_bench::run(&plan)) {
        Ok(report) if options.json => match serde_json::to_string_pretty(&report) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("angzarr-bench: {err}");
                ExitCode::from(EXIT_FAILURE)
            }
        },
        Ok(report) => {
            print!("{}", report.human());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("angzarr-bench: {err}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
