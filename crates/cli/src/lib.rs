//! The `angzarr` command-line client.
//!
//! It talks to a running runtime through the Unix sockets in its socket directory, and knows
//! no domain types at build time: it learns them from the business logic's gRPC reflection,
//! so `angzarr send customer alice@example.com CreateCustomer '{"name": "Alice", ...}'` works
//! for any domain in any language. The binary is a thin `main` over [`run`], which tests drive
//! directly.

#![warn(missing_docs)]

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod admin;
pub mod config;
mod error;
mod query;
mod reflection;
pub mod root;
mod send;
pub mod types;
mod what_if;

pub use error::Error;

/// Command-line arguments of `angzarr`.
#[derive(Debug, Parser)]
#[command(
    name = "angzarr",
    version,
    about = "Talk to a running Angzarr runtime over its Unix sockets."
)]
pub struct Cli {
    /// The manifest whose `socket_dir` (default `.angzarr/sockets`, relative to the manifest's
    /// directory) locates the runtime's sockets.
    #[arg(
        short = 'c',
        long = "config",
        value_name = "PATH",
        default_value = "angzarr.toml",
        global = true
    )]
    pub config: PathBuf,

    /// The runtime's socket directory; overrides the manifest.
    #[arg(long, value_name = "DIR", global = true, env = "ANGZARR_SOCKET_DIR")]
    pub socket_dir: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send one command to an aggregate and print the events it produced.
    Send(SendArgs),
    /// Show the running components, their state and checkpoints, and how many events and
    /// commands flowed between them.
    Topology {
        /// Print one JSON object instead of text.
        #[arg(long = "json")]
        json_output: bool,
    },
    /// Show the running components with their state, checkpoint, lag and parked events.
    Status {
        /// Print one JSON object instead of text.
        #[arg(long = "json")]
        json_output: bool,
    },
    /// Print an aggregate's events: all, a range (--from/--to), or as of a past point
    /// (--as-of); of an edition (--edition); or one workflow's events across domains
    /// (--correlation).
    Events(EventsArgs),
    /// List the aggregate roots of a domain.
    Roots(RootsArgs),
    /// Follow events live as they are stored: all, one workflow (--correlation-id), or one
    /// domain; --from POS replays from a global position first.
    Tail(TailArgs),
    /// List events that subscribers gave up on (parked after repeated failures).
    Parked(ParkedArgs),
    /// Deliver parked events again (one attempt each); delivered ones leave the list.
    Redrive(RedriveArgs),
    /// Create, list, show and delete editions: named branches of an aggregate's history that
    /// commands (`send --edition`) and queries (`events --edition`) can address.
    #[command(subcommand)]
    Edition(EditionCommand),
    /// Run a projector, saga or process manager on stored events and print what it would do,
    /// writing nothing: no projection change, no checkpoint move, no command executed.
    Speculate(SpeculateArgs),
}

/// Arguments of `angzarr events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The aggregate's domain (with --correlation alone: only that domain's events).
    #[arg(required_unless_present = "correlation")]
    pub domain: Option<String>,
    /// The aggregate root: a UUID, or a key (see `angzarr send --help`).
    #[arg(required_unless_present = "correlation")]
    pub root: Option<String>,
    /// The history of this edition of the aggregate (main's events up to its divergence, then
    /// its own); with --correlation alone, this edition's events besides main's.
    #[arg(long, value_name = "NAME")]
    pub edition: Option<String>,
    /// One workflow's events across every domain, in global order (with DOMAIN ROOT: only
    /// that aggregate's events of the workflow).
    #[arg(long, value_name = "ID")]
    pub correlation: Option<String>,
    /// First sequence to print.
    #[arg(long, value_name = "N")]
    pub from: Option<u32>,
    /// Last sequence to print (inclusive).
    #[arg(long, value_name = "M")]
    pub to: Option<u32>,
    /// The history as it was: up to a sequence number, or at an RFC 3339 time.
    #[arg(long, value_name = "SEQ|TIME")]
    pub as_of: Option<String>,
    /// One JSON object per event.
    #[arg(long = "json")]
    pub json_output: bool,
}

/// Arguments of `angzarr roots`.
#[derive(Debug, Args)]
pub struct RootsArgs {
    /// The domain.
    pub domain: String,
    /// One JSON object per root.
    #[arg(long = "json")]
    pub json_output: bool,
}

/// Arguments of `angzarr tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// Only this workflow's events.
    #[arg(long, value_name = "ID")]
    pub correlation_id: Option<String>,
    /// Only this domain's events.
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// Replay from after this global position before following live (default: now).
    #[arg(long, value_name = "POS")]
    pub from: Option<u64>,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// One JSON object per event.
    #[arg(long = "json")]
    pub json_output: bool,
}

/// Arguments of `angzarr parked`.
#[derive(Debug, Args)]
pub struct ParkedArgs {
    /// Only this subscriber's parked events.
    #[arg(long, value_name = "NAME")]
    pub subscriber: Option<String>,

    /// Print JSON instead of text.
    #[arg(long = "json")]
    pub json_output: bool,
}

/// Arguments of `angzarr redrive`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RedriveArgs {
    /// The parked event's id (from `angzarr parked`).
    #[arg(long, value_name = "ID")]
    pub id: Option<u64>,

    /// Every parked event of this subscriber.
    #[arg(long, value_name = "NAME")]
    pub subscriber: Option<String>,
}

/// Arguments of `angzarr send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The aggregate's domain, e.g. `customer`.
    pub domain: String,

    /// The aggregate root: a UUID (8-4-4-4-12 hex digits), or any other string K, which stands
    /// for key_root(DOMAIN, K) = UUIDv5(NAMESPACE_OID, "angzarr:" + DOMAIN + ":" + K), the
    /// convention of the examples for keyed aggregates (a customer's email, a product's SKU).
    pub root: String,

    /// The command's protobuf message type: a short name (`CreateCustomer`) or a full name
    /// (`examples.customer.CreateCustomer`).
    pub command_type: String,

    /// The command as protobuf JSON, e.g. '{"name": "Alice", "email": "alice@example.com"}'.
    #[arg(value_name = "JSON")]
    pub body: String,

    /// Correlation id of the workflow the command belongs to (the runtime makes one if unset).
    #[arg(long, value_name = "ID")]
    pub correlation_id: Option<String>,

    /// Makes a retry safe: a second command with the same key executes nothing and gets the
    /// first one's answer.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,

    /// Refuse the command (ABORTED) unless the aggregate's next sequence is N.
    #[arg(long, value_name = "N")]
    pub expect_sequence: Option<u32>,

    /// Print the result as one JSON object instead of text (with --follow: one per event).
    #[arg(long = "json")]
    pub json_output: bool,

    /// Encoded `FileDescriptorSet` files describing the command and event types (e.g. from
    /// `protoc --descriptor_set_out` or `buf build -o`); when given, the business logic's
    /// reflection is not asked. Repeatable.
    #[arg(long = "descriptor-set", value_name = "FILE")]
    pub descriptor_sets: Vec<PathBuf>,

    /// After the command's own events, keep printing every event stored with its correlation
    /// id (what sagas and process managers do with it) until Ctrl-C, --follow-count or
    /// --follow-secs. Goes through the gateway.
    #[arg(long)]
    pub follow: bool,

    /// With --follow: stop after this many events (the command's own included).
    #[arg(long, value_name = "N", requires = "follow")]
    pub follow_count: Option<u32>,

    /// With --follow: stop after this many seconds.
    #[arg(long, value_name = "SECS", requires = "follow")]
    pub follow_secs: Option<f64>,

    /// Rehearse the command: run the real business logic and print the events it would
    /// store, numbered as they would be. Stores, publishes and triggers nothing.
    #[arg(long, conflicts_with = "follow")]
    pub dry_run: bool,

    /// With --dry-run: on the aggregate as it was after this sequence number, or at this
    /// RFC 3339 time (default: as it is now).
    #[arg(long, value_name = "SEQ|TIME", requires = "dry_run")]
    pub at: Option<String>,

    /// Send to this edition of the aggregate (see `angzarr edition`) instead of the main
    /// timeline.
    #[arg(long, value_name = "NAME")]
    pub edition: Option<String>,
}

/// `angzarr edition`: named branches of an aggregate's history.
#[derive(Debug, Subcommand)]
pub enum EditionCommand {
    /// Create an edition sharing the aggregate's main history up to a sequence.
    Create {
        /// The aggregate's domain.
        domain: String,
        /// The aggregate root: a UUID, or a key (see `angzarr send --help`).
        root: String,
        /// The edition's name (letters, digits, '-', '_', '.').
        name: String,
        /// The last main event the edition shares; its own events are numbered after it.
        #[arg(long, value_name = "SEQ")]
        at: u32,
    },
    /// List editions, of a domain and an aggregate when given.
    List {
        /// Only this domain's editions.
        domain: Option<String>,
        /// Only this aggregate's editions.
        root: Option<String>,
        /// One JSON object per edition.
        #[arg(long = "json")]
        json_output: bool,
    },
    /// Show one edition: where it diverges and its next sequence.
    Show {
        /// The aggregate's domain.
        domain: String,
        /// The aggregate root.
        root: String,
        /// The edition's name.
        name: String,
        /// One JSON object.
        #[arg(long = "json")]
        json_output: bool,
    },
    /// Delete an edition and its own events (the main history is untouched).
    Delete {
        /// The aggregate's domain.
        domain: String,
        /// The aggregate root.
        root: String,
        /// The edition's name.
        name: String,
    },
}

/// Arguments of `angzarr speculate`.
#[derive(Debug, Args)]
pub struct SpeculateArgs {
    /// The projector, saga or process manager.
    pub component: String,
    /// The domain of the aggregate whose events to run it on.
    #[arg(required_unless_present = "correlation", requires = "root")]
    pub domain: Option<String>,
    /// The aggregate root.
    pub root: Option<String>,
    /// Run it on one workflow's events instead (every domain, global order).
    #[arg(long, value_name = "ID")]
    pub correlation: Option<String>,
    /// Read the events of this edition (of the aggregate, or besides main's for a workflow).
    #[arg(long, value_name = "NAME")]
    pub edition: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long = "json")]
    pub json_output: bool,
}

/// Runs `cli`, writing the result to `out`. Errors are for the caller to print (to stderr)
/// and turn into an exit code ([`Error::exit_code`]).
pub async fn run(cli: Cli, out: &mut (dyn Write + Send)) -> Result<(), Error> {
    let socket_dir = match cli.socket_dir {
        Some(dir) => dir,
        None => config::socket_dir_from_manifest(&cli.config)?,
    };
    match cli.command {
        Command::Send(args) => {
            let dir = admin::owner_dir(&socket_dir, &args.domain).await;
            send::run(&dir, &args, out).await
        }
        Command::Topology { json_output } => admin::topology(&socket_dir, json_output, out).await,
        Command::Status { json_output } => admin::status(&socket_dir, json_output, out).await,
        Command::Events(args) => {
            let dir = match &args.domain {
                Some(domain) => admin::owner_dir(&socket_dir, domain).await,
                None => socket_dir.clone(),
            };
            query::events(&dir, &args, out).await
        }
        Command::Roots(args) => {
            let dir = admin::owner_dir(&socket_dir, &args.domain).await;
            query::roots(&dir, &args, out).await
        }
        Command::Tail(args) => query::tail(&socket_dir, &args, out).await,
        Command::Parked(args) => admin::parked(&socket_dir, &args, out).await,
        Command::Redrive(args) => admin::redrive(&socket_dir, &args, out).await,
        Command::Edition(command) => what_if::edition(&socket_dir, &command, out).await,
        Command::Speculate(args) => what_if::speculate(&socket_dir, &args, out).await,
    }
}
