//! `angzarr-standalone`: parse flags, load the manifest, init logging, run, map the outcome
//! to an exit code. The work lives in the library.

/// jemalloc instead of the system allocator: the runtime allocates and frees small buffers on
/// every request across its async and storage threads, where glibc's malloc spent 17% of the
/// async workers' time (consolidating and unlinking chunks). A/B in one sitting, e2e at 32
/// clients, four pairs: 188-219 µs of runtime CPU per command against 229-255 µs, and the
/// rate higher in every pair (docs/benchmarks.md).
#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use angzarr_standalone::config::{Durability, Manifest, Overrides, StorageOverrides};
use clap::{Parser, Subcommand, ValueEnum};

/// Runs an Angzarr system on one machine: spawns and supervises the business-logic
/// processes listed in the manifest, serves a coordinator per domain over Unix sockets, and
/// stores events in SQLite.
#[derive(Debug, Parser)]
#[command(name = "angzarr-standalone", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start every component of the manifest and serve until SIGINT/SIGTERM.
    Run(RunArgs),
    /// Load and validate the manifest, print the effective configuration, start nothing.
    Check(ManifestArgs),
}

#[derive(Debug, clap::Args)]
struct ManifestArgs {
    /// The manifest. Keys can also be set with ANGZARR_* variables ("__" for nesting, e.g.
    /// ANGZARR_STORAGE__PATH); flags win over both.
    #[arg(short, long, default_value = "angzarr.toml", env = "ANGZARR_CONFIG")]
    config: PathBuf,
    /// Directory for the runtime's Unix sockets (created with mode 0700).
    #[arg(long)]
    socket_dir: Option<PathBuf>,
    /// SQLite event store file, or ":memory:".
    #[arg(long)]
    storage_path: Option<PathBuf>,
    /// full: acknowledged events survive power loss; normal: they survive process crashes.
    #[arg(long, value_enum)]
    durability: Option<Durability>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    manifest: ManifestArgs,
    /// Log format. The filter comes from ANGZARR_LOG (e.g. "info", "angzarr=debug").
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

/// Exit codes: 0 clean stop, 1 runtime failure, 2 bad configuration.
const EXIT_FAILURE: u8 = 1;
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => match load(&args) {
            Ok(manifest) => match serde_json::to_string_pretty(&manifest) {
                Ok(json) => {
                    println!("{json}");
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("error: {err}");
                    ExitCode::from(EXIT_FAILURE)
                }
            },
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
        Command::Run(args) => {
            let manifest = match load(&args.manifest) {
                Ok(manifest) => manifest,
                Err(err) => {
                    eprintln!("error: {err}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(err) => {
                    eprintln!("error: cannot start the async runtime: {err}");
                    return ExitCode::from(EXIT_FAILURE);
                }
            };
            // The OTLP exporter's connection lives on the runtime.
            let telemetry = {
                let _runtime = runtime.enter();
                angzarr_telemetry::logging::init(logging(args.log_format, &manifest))
            };
            let telemetry = match telemetry {
                Ok(guard) => guard,
                Err(err) => {
                    eprintln!("error: {err}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            let result = runtime.block_on(angzarr_standalone::run_until_signal(manifest));
            // Send the last spans while the runtime still runs the exporter's connection.
            let _ = runtime.block_on(runtime.spawn_blocking(move || telemetry.shutdown()));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("error: {err}");
                    ExitCode::from(EXIT_FAILURE)
                }
            }
        }
    }
}

fn load(args: &ManifestArgs) -> Result<Manifest, angzarr_standalone::config::ConfigError> {
    let storage =
        (args.storage_path.is_some() || args.durability.is_some()).then(|| StorageOverrides {
            path: args.storage_path.clone(),
            durability: args.durability,
        });
    Manifest::load(
        &args.config,
        &Overrides {
            socket_dir: args.socket_dir.clone(),
            storage,
        },
    )
}

/// Logs on stderr filtered by `ANGZARR_LOG` (default `info`), and spans over OTLP when the
/// manifest's `[telemetry] otlp_endpoint` is set.
fn logging(format: LogFormat, manifest: &Manifest) -> angzarr_telemetry::Logging {
    use std::io::IsTerminal;
    let t = &manifest.telemetry;
    angzarr_telemetry::Logging {
        filter_env: "ANGZARR_LOG",
        default_filter: "info",
        format: match format {
            LogFormat::Human => angzarr_telemetry::LogFormat::Human,
            LogFormat::Json => angzarr_telemetry::LogFormat::Json,
        },
        ansi: std::io::stderr().is_terminal(),
        otlp: t
            .otlp_endpoint
            .as_ref()
            .map(|endpoint| angzarr_telemetry::OtlpOptions {
                endpoint: endpoint.clone(),
                service_name: t.service_name.clone(),
                filter: t.trace_filter.clone(),
                sample_ratio: t.sample_ratio,
            }),
    }
}
