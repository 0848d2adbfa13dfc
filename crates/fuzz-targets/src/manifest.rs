//! The manifest loader: arbitrary text -> [`Manifest::load_str`] (the layering, path
//! resolution and validation of [`Manifest::load`], without the file) -> a manifest or a
//! clear error.
//!
//! Promises checked: nothing panics; an error names the manifest and says why; an accepted
//! manifest passes the checks `validate()` promises, and written back as TOML it loads again
//! to the same manifest (what we accept, we can print and re-read: `angzarr-standalone check`
//! prints the effective configuration).

use std::path::{Path, PathBuf};

use angzarr_standalone::config::{ConfigError, Manifest, Overrides};

/// Where the text is taken to come from: relative paths resolve against this directory,
/// which does not exist, so no program or working directory given relatively is found.
const PATH: &str = "/nonexistent-angzarr-fuzz/angzarr.toml";

/// Runs one input.
pub fn run(data: &[u8]) {
    // A manifest is text: figment reads the file as UTF-8 and refuses anything else.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new(PATH);
    match Manifest::load_str(text, path, &Overrides::default()) {
        Err(err) => check_error(&err, path),
        Ok(manifest) => check_manifest(&manifest, path),
    }
}

fn check_error(err: &ConfigError, path: &Path) {
    let (named, reason) = match err {
        ConfigError::Unreadable { path, reason } | ConfigError::Invalid { path, reason } => {
            (path, reason)
        }
        ConfigError::Value { path, key, reason } => {
            assert!(!key.is_empty(), "a value error without its key: {err}");
            (path, reason)
        }
    };
    assert_eq!(named, path, "the error names another manifest: {err}");
    assert!(
        !reason.trim().is_empty(),
        "an error without a reason: {err}"
    );
}

fn check_manifest(manifest: &Manifest, path: &Path) {
    assert!(manifest.limits.max_message_bytes >= 1024);
    assert!(manifest.limits.stream_buffer >= 1);
    assert!(manifest.delivery.max_attempts >= 1);
    assert!(manifest.socket_dir.is_absolute());
    for (name, component) in &manifest.components {
        assert!(
            !component.command.is_empty(),
            "component {name} has no command"
        );
    }
    let text = match toml::to_string(manifest) {
        Ok(text) => text,
        Err(err) => panic!("an accepted manifest cannot be written as TOML: {err}"),
    };
    match Manifest::load_str(&text, path, &Overrides::default()) {
        Ok(again) => assert_eq!(
            &again, manifest,
            "an accepted manifest written back as TOML loads differently:\n{text}"
        ),
        Err(err) => panic!("an accepted manifest written back is refused: {err}\n{text}"),
    }
}

/// The repository's demo manifest, the smallest valid ones, and near misses.
pub fn seeds() -> Vec<Vec<u8>> {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../angzarr.toml");
    let demo = std::fs::read_to_string(&demo).unwrap_or_default();
    [
        demo.as_str(),
        "",
        "socket_dir = \"/tmp/angzarr-fuzz\"\n[storage]\npath = \":memory:\"\ndurability = \"normal\"\n",
        "[components.customer]\ncommand = [\"sh\", \"-c\", \"exit 0\"]\nkind = \"aggregate\"\nworking_dir = \"/\"\n",
        "[components.gateway]\ncommand = [\"sh\"]\n",
        "[limits]\nmax_message_bytes = 10\n",
        "[delivery]\npoll_interval_secs = nan\n",
        "[ipc]\nprocess = \"Bad Name\"\n",
        "[bus]\nkind = \"none\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
        "[telemetry]\ntrace_filter = \"info,angzarr=debug\"\nsample_ratio = 0.5\n",
        "unknown_key = 1\n",
        "[storage\npath = 3",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}
