//! The manifest (`angzarr.toml`): how to launch a system, never what it subscribes to
//! (DESIGN.md §2.6).
//!
//! Layers, later ones winning: built-in defaults, the file, `ANGZARR_*` environment
//! variables (`__` separates nesting, e.g. `ANGZARR_STORAGE__PATH`), then command-line flags.
//! Unknown keys are errors. Relative paths are resolved against the manifest's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Environment variables with the `ANGZARR_` prefix that are not manifest keys.
const NON_MANIFEST_ENV: &[&str] = &["LOG", "SOCKET", "COMPONENT", "CONFIG"];

/// Names the runtime uses for its own sockets in the socket directory.
const RESERVED_NAMES: &[&str] = &["gateway", "runtime", "admin", "logic"];

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Manifest {
    /// Directory of the runtime's Unix sockets (created 0700).
    pub socket_dir: PathBuf,
    /// The event store.
    pub storage: StorageConfig,
    /// The event bus.
    pub bus: BusConfig,
    /// The aggregate pipeline.
    pub aggregate: AggregateConfig,
    /// How components are supervised.
    pub supervisor: SupervisorConfig,
    /// Limits on what clients may send.
    pub limits: LimitsConfig,
    /// Delivery of events to projectors, sagas and process managers.
    pub delivery: DeliveryConfig,
    /// The admin endpoint (`<socket_dir>/admin.sock`: metrics, health, status, topology).
    pub admin: AdminConfig,
    /// OTLP export of traces and metrics (needs a build with the `otel` feature).
    pub telemetry: TelemetryConfig,
    /// Multi-process systems: the shared IPC directory and this process's name in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipc: Option<IpcConfig>,
    /// Business-logic components by name.
    pub components: BTreeMap<String, ComponentConfig>,
}

impl Default for Manifest {
    fn default() -> Self {
        Self {
            socket_dir: PathBuf::from(".angzarr/sockets"),
            storage: StorageConfig::default(),
            bus: BusConfig::default(),
            aggregate: AggregateConfig::default(),
            supervisor: SupervisorConfig::default(),
            limits: LimitsConfig::default(),
            delivery: DeliveryConfig::default(),
            admin: AdminConfig::default(),
            telemetry: TelemetryConfig::default(),
            ipc: None,
            components: BTreeMap::new(),
        }
    }
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// The SQLite file, or `:memory:` (events are lost on exit).
    pub path: PathBuf,
    /// `full` (default): a command is acknowledged only once its events survive a power
    /// loss. `normal`: they survive a crash of the process but the last transactions may be
    /// lost on power loss; faster on slow disks.
    pub durability: Durability,
    /// The most writes waiting for the store's single writer; callers beyond it wait for room
    /// (back-pressure) instead of queueing without bound.
    pub max_queued_writes: usize,
    /// Memory for the store's filters of stored idempotency keys and aggregates, which let a
    /// command with a new key, or to a new aggregate, skip a read (0 = always read). 8 MiB
    /// keep that true for 99% of such commands up to about 3 million keys.
    pub known_keys_mib: u32,
    /// MiB of the database file read through a memory map instead of system calls (0 = off);
    /// loading a long history is faster. The pages are the kernel's file cache, not extra
    /// memory.
    pub mmap_mib: u32,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from(".angzarr/events.db"),
            durability: Durability::Full,
            max_queued_writes: 4096,
            known_keys_mib: 8,
            mmap_mib: 256,
        }
    }
}

/// How hard the store works to keep acknowledged events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Survive power loss (SQLite `synchronous = FULL`).
    Full,
    /// Survive process crashes (SQLite `synchronous = NORMAL`).
    Normal,
}

/// `[bus]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// `channel` (in-process) or `none` (subscribers rely on the store alone).
    pub kind: BusKind,
    /// Batches a subscriber may fall behind before it lags and catches up from the store.
    pub capacity: usize,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            kind: BusKind::Channel,
            capacity: 4096,
        }
    }
}

/// Which bus adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusKind {
    /// The in-process channel bus.
    Channel,
    /// No bus.
    None,
}

/// `[aggregate]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AggregateConfig {
    /// Snapshot every this many events when the logic offers its state (0 = never).
    pub snapshot_every: u32,
    /// Re-runs after a sequence conflict with another writer before answering `ABORTED`.
    pub max_conflict_retries: u32,
    /// Most events a single command may produce.
    pub max_events_per_command: usize,
    /// MiB of recently used histories kept in memory, shared by every aggregate of this
    /// process, so a command to a hot aggregate needs no store read (0 = off). The store still
    /// checks every append's expected sequence, so a stale entry can never write.
    pub history_cache_mib: u32,
}

impl Default for AggregateConfig {
    fn default() -> Self {
        let defaults = angzarr_runtime::aggregate::AggregateOptions::default();
        Self {
            snapshot_every: defaults.snapshot_every,
            max_conflict_retries: defaults.max_conflict_retries,
            max_events_per_command: defaults.max_events_per_command,
            history_cache_mib: u32::try_from(defaults.history_cache_bytes >> 20)
                .unwrap_or(u32::MAX),
        }
    }
}

/// `[supervisor]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupervisorConfig {
    /// Seconds a component may take to report SERVING on its health endpoint.
    pub ready_timeout_secs: f64,
    /// Seconds between SIGTERM and SIGKILL when stopping a component.
    pub stop_grace_secs: f64,
    /// First restart delay in seconds (doubles per consecutive crash).
    pub restart_backoff_secs: f64,
    /// Longest restart delay in seconds.
    pub max_restart_backoff_secs: f64,
    /// Give up on a component after this many restarts within `crash_loop_window_secs`.
    pub max_restarts: u32,
    /// The window of `max_restarts`, in seconds.
    pub crash_loop_window_secs: f64,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        Self {
            ready_timeout_secs: 30.0,
            stop_grace_secs: 5.0,
            restart_backoff_secs: 0.1,
            max_restart_backoff_secs: 10.0,
            max_restarts: 5,
            crash_loop_window_secs: 60.0,
        }
    }
}

/// `[delivery]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Failed attempts before an event a subscriber keeps failing on is parked.
    pub max_attempts: u32,
    /// First retry delay in seconds (doubles per failure).
    pub retry_backoff_secs: f64,
    /// Longest retry delay in seconds.
    pub max_retry_backoff_secs: f64,
    /// Seconds between looks at the store when the bus says nothing (a lossy or absent bus
    /// delays delivery by at most this much).
    pub poll_interval_secs: f64,
    /// Longest a SIMPLE or CASCADE command waits for its subscribers, in seconds.
    pub sync_timeout_secs: f64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            retry_backoff_secs: 0.1,
            max_retry_backoff_secs: 5.0,
            poll_interval_secs: 1.0,
            sync_timeout_secs: 30.0,
        }
    }
}

/// `[limits]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request a client may send, in bytes.
    pub max_message_bytes: usize,
    /// Messages buffered per streaming client (gateway streams, queries, live tails).
    pub stream_buffer: usize,
    /// Seconds a streaming client may leave a full buffer unread before it is dropped with
    /// RESOURCE_EXHAUSTED (other clients and the store are never held up).
    pub slow_client_timeout_secs: f64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 4 * 1024 * 1024,
            stream_buffer: 256,
            slow_client_timeout_secs: 10.0,
        }
    }
}

/// `[ipc]`: this process is one of several forming one system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IpcConfig {
    /// The directory every process of the system shares (created 0700): registrations,
    /// locks and bus sockets.
    pub dir: PathBuf,
    /// This process's name in the system (default: the manifest's file name without
    /// `.toml`). Unique among the processes.
    pub process: String,
    /// Bus frames buffered per subscriber of another process before it lags (and then reads
    /// what it missed from this process's log).
    pub buffer: usize,
}

impl Default for IpcConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from(".angzarr/ipc"),
            process: String::new(),
            buffer: 1024,
        }
    }
}

/// `[admin]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Also serve the admin endpoint on this TCP address (e.g. `127.0.0.1:9464`, for a
    /// Prometheus scraper). Unset by default: nothing listens on TCP unless configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// `/readyz` says ready only while no subscriber is more than this many positions behind
    /// the log head.
    pub ready_max_lag: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: None,
            ready_max_lag: 1000,
        }
    }
}

/// `[telemetry]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Where to send traces and metrics over OTLP/gRPC: `http://host:port` (a collector,
    /// Jaeger) or `unix:///path/to.sock`. Unset by default (no export).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the runtime's spans and metrics.
    pub service_name: String,
    /// Which spans are exported (an `ANGZARR_LOG`-style filter).
    pub trace_filter: String,
    /// Fraction of new traces exported (0 to 1); a traced caller's decision is kept.
    pub sample_ratio: f64,
    /// Seconds between two metric exports.
    pub metrics_interval_secs: f64,
    /// Give components `OTEL_EXPORTER_OTLP_ENDPOINT` and `OTEL_SERVICE_NAME=<component>`, so
    /// their client library exports their spans to the same place (a component's own `env`
    /// wins).
    pub pass_to_components: bool,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "angzarr".into(),
            trace_filter: "info,angzarr=debug".into(),
            sample_ratio: 1.0,
            metrics_interval_secs: 10.0,
            pass_to_components: true,
        }
    }
}

/// `[components.<name>]`: how to launch one business-logic process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentConfig {
    /// What kind of component it is (it must describe itself the same way).
    pub kind: ComponentKind,
    /// Program and arguments; run directly, no shell.
    pub command: Vec<String>,
    /// Working directory (default: the manifest's directory).
    #[serde(default)]
    pub working_dir: Option<PathBuf>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// Component kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    /// Commands in, events out.
    Aggregate,
    /// Events of one domain in, commands to another out.
    Saga,
    /// Events in, read models out.
    Projector,
    /// Events of several domains in, correlated by correlation id; commands out.
    ProcessManager,
}

impl ComponentKind {
    /// The name used in component descriptors.
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Aggregate => "aggregate",
            ComponentKind::Saga => "saga",
            ComponentKind::Projector => "projector",
            ComponentKind::ProcessManager => "process_manager",
        }
    }
}

/// Command-line values that override the manifest.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    /// `--socket-dir`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket_dir: Option<PathBuf>,
    /// `--storage-path` / `--durability`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageOverrides>,
}

/// Overrides of `[storage]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StorageOverrides {
    /// The SQLite file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Durability.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durability: Option<Durability>,
}

/// Why a manifest cannot be used. Nothing has been started when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is missing or unreadable.
    #[error("cannot read manifest {path}: {reason}")]
    Unreadable {
        /// The manifest path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A key is unknown, mistyped, or the TOML is malformed.
    #[error("invalid manifest {path}: {reason}")]
    Invalid {
        /// The manifest path.
        path: PathBuf,
        /// Figment's description: which key, in which source, and why.
        reason: String,
    },
    /// A value is well typed but unusable.
    #[error("invalid manifest {path}: key `{key}`: {reason}")]
    Value {
        /// The manifest path.
        path: PathBuf,
        /// The key, e.g. `components.customer.command`.
        key: String,
        /// Why.
        reason: String,
    },
}

impl Manifest {
    /// Loads `path` with the environment and `overrides` layered on top, resolves relative
    /// paths against the manifest's directory, and validates the result.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Self, ConfigError> {
        if !path.is_file() {
            return Err(ConfigError::Unreadable {
                path: path.to_path_buf(),
                reason: if path.exists() {
                    "not a regular file".into()
                } else {
                    "no such file (pass -c/--config, or run from the directory that holds angzarr.toml)"
                        .into()
                },
            });
        }
        Self::from_toml(Toml::file_exact(path), path, overrides)
    }

    /// [`Manifest::load`] of `toml` as if it were the file at `path` (which need not exist):
    /// the same layering, path resolution and validation, without reading a file. Used by
    /// the fuzz targets (`crates/fuzz-targets`).
    pub fn load_str(toml: &str, path: &Path, overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::from_toml(Toml::string(toml), path, overrides)
    }

    fn from_toml(
        toml: figment::providers::Data<Toml>,
        path: &Path,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let manifest: Manifest = Figment::from(Serialized::defaults(Manifest::default()))
            .merge(toml)
            .merge(
                Env::prefixed("ANGZARR_")
                    .ignore(NON_MANIFEST_ENV)
                    .split("__"),
            )
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|err| ConfigError::Invalid {
                path: path.to_path_buf(),
                reason: describe_figment_error(err),
            })?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        let mut manifest = manifest.resolved(&base);
        if let Some(ipc) = manifest.ipc.as_mut()
            && ipc.process.is_empty()
        {
            ipc.process = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        manifest.validate(path)?;
        Ok(manifest)
    }

    fn resolved(mut self, base: &Path) -> Self {
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
        self.socket_dir = base.join(&self.socket_dir);
        if let Some(ipc) = self.ipc.as_mut() {
            ipc.dir = base.join(&ipc.dir);
        }
        if self.storage.path != Path::new(":memory:") {
            self.storage.path = base.join(&self.storage.path);
        }
        for component in self.components.values_mut() {
            let dir = component
                .working_dir
                .as_ref()
                .map_or_else(|| base.clone(), |d| base.join(d));
            component.working_dir = Some(dir);
            if let Some(program) = component.command.first_mut()
                && program.contains('/')
                && Path::new(program.as_str()).is_relative()
            {
                *program = base.join(program.as_str()).to_string_lossy().into_owned();
            }
        }
        self
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let value_error = |key: String, reason: String| ConfigError::Value {
            path: path.to_path_buf(),
            key,
            reason,
        };
        if self.limits.max_message_bytes < 1024 {
            return Err(value_error(
                "limits.max_message_bytes".into(),
                "must be at least 1024".into(),
            ));
        }
        let s = &self.supervisor;
        let d = &self.delivery;
        for (key, value) in [
            ("supervisor.ready_timeout_secs", s.ready_timeout_secs),
            ("supervisor.stop_grace_secs", s.stop_grace_secs),
            ("supervisor.restart_backoff_secs", s.restart_backoff_secs),
            (
                "supervisor.max_restart_backoff_secs",
                s.max_restart_backoff_secs,
            ),
            (
                "supervisor.crash_loop_window_secs",
                s.crash_loop_window_secs,
            ),
            ("delivery.retry_backoff_secs", d.retry_backoff_secs),
            ("delivery.max_retry_backoff_secs", d.max_retry_backoff_secs),
            ("delivery.poll_interval_secs", d.poll_interval_secs),
            ("delivery.sync_timeout_secs", d.sync_timeout_secs),
            (
                "telemetry.metrics_interval_secs",
                self.telemetry.metrics_interval_secs,
            ),
            (
                "limits.slow_client_timeout_secs",
                self.limits.slow_client_timeout_secs,
            ),
        ] {
            if !(value.is_finite() && value > 0.0 && value < 86_400.0) {
                return Err(value_error(
                    key.to_string(),
                    format!("must be a positive number of seconds below one day, got {value}"),
                ));
            }
        }
        self.validate_observability(&value_error)?;
        for (key, value, most, why) in [
            (
                "storage.known_keys_mib",
                self.storage.known_keys_mib,
                4096,
                "4 GiB",
            ),
            (
                "storage.mmap_mib",
                self.storage.mmap_mib,
                2047,
                "SQLite maps at most 2 GiB",
            ),
        ] {
            if value > most {
                return Err(value_error(
                    key.into(),
                    format!("must be at most {most} ({why}), got {value}"),
                ));
            }
        }
        if self.storage.max_queued_writes == 0 {
            return Err(value_error(
                "storage.max_queued_writes".into(),
                "must be at least 1".into(),
            ));
        }
        if self.limits.stream_buffer == 0 {
            return Err(value_error(
                "limits.stream_buffer".into(),
                "must be at least 1".into(),
            ));
        }
        if let Some(ipc) = &self.ipc {
            if !valid_component_name(&ipc.process) {
                return Err(value_error(
                    "ipc.process".into(),
                    format!(
                        "{:?} is not a valid process name: 1-64 characters of a-z, 0-9, '-' and '_', starting with a letter",
                        ipc.process
                    ),
                ));
            }
            if ipc.buffer == 0 {
                return Err(value_error(
                    "ipc.buffer".into(),
                    "must be at least 1".into(),
                ));
            }
        }
        if d.max_attempts == 0 {
            return Err(value_error(
                "delivery.max_attempts".into(),
                "must be at least 1".into(),
            ));
        }
        for (name, component) in &self.components {
            let key = |field: &str| format!("components.{name}.{field}");
            if !valid_component_name(name) {
                return Err(value_error(
                    format!("components.{name}"),
                    "a component name must be 1-64 characters of a-z, 0-9, '-' and '_', starting with a letter"
                        .into(),
                ));
            }
            if RESERVED_NAMES.contains(&name.as_str()) {
                return Err(value_error(
                    format!("components.{name}"),
                    format!(
                        "{name:?} is reserved for the runtime's own sockets ({}); choose another name",
                        RESERVED_NAMES.join(", ")
                    ),
                ));
            }
            let Some(program) = component.command.first() else {
                return Err(value_error(
                    key("command"),
                    "must name a program to run".into(),
                ));
            };
            if which(program).is_none() {
                return Err(value_error(
                    key("command"),
                    format!(
                        "program {program:?} not found or not executable (build it first, e.g. `cargo build --bins`)"
                    ),
                ));
            }
            if let Some(dir) = &component.working_dir
                && !dir.is_dir()
            {
                return Err(value_error(
                    key("working_dir"),
                    format!("{} is not a directory", dir.display()),
                ));
            }
        }
        Ok(())
    }
}

impl Manifest {
    fn validate_observability(
        &self,
        value_error: &dyn Fn(String, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        if let Some(listen) = &self.admin.listen
            && listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(value_error(
                "admin.listen".into(),
                format!("{listen:?} is not an address with a port, e.g. \"127.0.0.1:9464\""),
            ));
        }
        let t = &self.telemetry;
        if !(0.0..=1.0).contains(&t.sample_ratio) {
            return Err(value_error(
                "telemetry.sample_ratio".into(),
                format!("must be between 0 and 1, got {}", t.sample_ratio),
            ));
        }
        if let Some(endpoint) = &t.otlp_endpoint {
            if !angzarr_telemetry::OTLP_COMPILED {
                return Err(value_error(
                    "telemetry.otlp_endpoint".into(),
                    "this angzarr-standalone was built without OTLP export; build it with `--features otel` or remove the key".into(),
                ));
            }
            let unix = endpoint
                .strip_prefix("unix:")
                .is_some_and(|p| p.trim_start_matches("//").starts_with('/'));
            let http = endpoint.starts_with("http://") || endpoint.starts_with("https://");
            if !(unix || http) {
                return Err(value_error(
                    "telemetry.otlp_endpoint".into(),
                    format!(
                        "{endpoint:?} is neither http://host:port nor unix:///absolute/path.sock"
                    ),
                ));
            }
        }
        if tracing_subscriber::EnvFilter::try_new(&t.trace_filter).is_err() {
            return Err(value_error(
                "telemetry.trace_filter".into(),
                format!("{:?} is not a valid filter", t.trace_filter),
            ));
        }
        Ok(())
    }
}

fn describe_figment_error(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

fn valid_component_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Resolves a program the way `execvp` would: a path if it has a slash, else via `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| executable(p))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `toml` as a manifest in a temp dir and loads it.
    fn load(toml: &str) -> (tempfile::TempDir, Result<Manifest, ConfigError>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("angzarr.toml");
        std::fs::write(&path, toml).expect("write manifest");
        let result = Manifest::load(&path, &Overrides::default());
        (dir, result)
    }

    fn error_of(toml: &str) -> String {
        match load(toml).1 {
            Ok(m) => panic!("expected an error, got {m:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults_and_relative_paths_resolve_against_the_manifest() {
        let (dir, manifest) =
            load("[components.echo]\nkind = \"aggregate\"\ncommand = [\"true\"]\n");
        let manifest = manifest.expect("valid");
        let base = std::path::absolute(dir.path()).expect("abs");
        assert_eq!(manifest.socket_dir, base.join(".angzarr/sockets"));
        assert_eq!(manifest.storage.path, base.join(".angzarr/events.db"));
        assert_eq!(manifest.storage.durability, Durability::Full);
        assert_eq!(
            manifest.components["echo"].working_dir.as_deref(),
            Some(base.as_path())
        );
    }

    #[test]
    fn memory_storage_is_not_a_path() {
        let (_dir, manifest) = load("[storage]\npath = \":memory:\"\n");
        assert_eq!(
            manifest.expect("valid").storage.path,
            PathBuf::from(":memory:")
        );
    }

    #[test]
    fn unknown_keys_name_the_key_and_the_file() {
        let err = error_of("[storage]\ndurabilty = \"full\"\n");
        assert!(err.contains("durabilty"), "{err}");
        assert!(err.contains("angzarr.toml"), "{err}");
    }

    #[test]
    fn bad_values_are_refused() {
        let err = error_of("[storage]\ndurability = \"sometimes\"\n");
        assert!(err.contains("sometimes"), "{err}");
        let err = error_of("[supervisor]\nready_timeout_secs = -1\n");
        assert!(err.contains("supervisor.ready_timeout_secs"), "{err}");
        let err = error_of("[storage]\nmax_queued_writes = 0\n");
        assert!(err.contains("storage.max_queued_writes"), "{err}");
        let err = error_of("[storage]\nknown_keys_mib = 5000\n");
        assert!(err.contains("storage.known_keys_mib"), "{err}");
        let err = error_of("[storage]\nmmap_mib = 4096\n");
        assert!(err.contains("storage.mmap_mib"), "{err}");
        let err = error_of("[components.x]\nkind = \"aggregate\"\ncommand = []\n");
        assert!(err.contains("components.x.command"), "{err}");
        let err = error_of("[components.Bad]\nkind = \"aggregate\"\ncommand = [\"true\"]\n");
        assert!(err.contains("component name"), "{err}");
        let err = error_of("[components.x]\nkind = \"widget\"\ncommand = [\"true\"]\n");
        assert!(err.contains("widget"), "{err}");
        let err = error_of("[components.gateway]\nkind = \"aggregate\"\ncommand = [\"true\"]\n");
        assert!(err.contains("reserved"), "{err}");
        let err = error_of("[delivery]\nmax_attempts = 0\n");
        assert!(err.contains("delivery.max_attempts"), "{err}");
        let err = error_of("[delivery]\npoll_interval_secs = 0\n");
        assert!(err.contains("delivery.poll_interval_secs"), "{err}");
        let err = error_of("[limits]\nstream_buffer = 0\n");
        assert!(err.contains("limits.stream_buffer"), "{err}");
    }

    #[test]
    fn missing_programs_are_refused_before_anything_starts() {
        let err =
            error_of("[components.x]\nkind = \"aggregate\"\ncommand = [\"./no/such/program\"]\n");
        assert!(
            err.contains("components.x.command") && err.contains("not found"),
            "{err}"
        );
        let err = error_of(
            "[components.x]\nkind = \"aggregate\"\ncommand = [\"angzarr-no-such-program\"]\n",
        );
        assert!(err.contains("not found"), "{err}");
    }

    #[test]
    fn missing_manifest_says_what_to_do() {
        let err = Manifest::load(
            Path::new("/nonexistent/angzarr.toml"),
            &Overrides::default(),
        )
        .expect_err("missing file");
        assert!(err.to_string().contains("-c/--config"), "{err}");
    }

    #[test]
    fn observability_keys_have_defaults_and_are_checked() {
        let (_dir, manifest) = load("");
        let manifest = manifest.expect("valid");
        assert_eq!(manifest.admin.listen, None, "no TCP unless configured");
        assert_eq!(manifest.admin.ready_max_lag, 1000);
        assert_eq!(
            manifest.telemetry.otlp_endpoint, None,
            "no export by default"
        );
        let err = error_of("[admin]\nlisten = \"localhost\"\n");
        assert!(err.contains("admin.listen"), "{err}");
        let err = error_of("[telemetry]\nsample_ratio = 2.0\n");
        assert!(err.contains("telemetry.sample_ratio"), "{err}");
        let err = error_of("[telemetry]\nmetrics_interval_secs = 0\n");
        assert!(err.contains("telemetry.metrics_interval_secs"), "{err}");
        let err = error_of("[components.admin]\nkind = \"aggregate\"\ncommand = [\"true\"]\n");
        assert!(err.contains("reserved"), "{err}");
        let err = error_of("[telemetry]\notlp_endpoint = \"localhost:4317\"\n");
        assert!(err.contains("telemetry.otlp_endpoint"), "{err}");
        let endpoint = "[telemetry]\notlp_endpoint = \"unix:///tmp/otlp.sock\"\n";
        if angzarr_telemetry::OTLP_COMPILED {
            let (_dir, manifest) = load(endpoint);
            assert_eq!(
                manifest.expect("valid").telemetry.otlp_endpoint.as_deref(),
                Some("unix:///tmp/otlp.sock")
            );
        } else {
            let err = error_of(endpoint);
            assert!(err.contains("--features otel"), "{err}");
        }
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("angzarr.toml");
        std::fs::write(&path, "[storage]\ndurability = \"full\"\n").expect("write");
        let overrides = Overrides {
            socket_dir: Some(PathBuf::from("/tmp/elsewhere")),
            storage: Some(StorageOverrides {
                path: None,
                durability: Some(Durability::Normal),
            }),
        };
        let manifest = Manifest::load(&path, &overrides).expect("valid");
        assert_eq!(manifest.storage.durability, Durability::Normal);
        assert_eq!(manifest.socket_dir, PathBuf::from("/tmp/elsewhere"));
    }
}
