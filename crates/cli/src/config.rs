//! Where the runtime's sockets are.
//!
//! The CLI reads only `socket_dir` from the manifest, so it keeps working whatever else the
//! manifest grows; [`socket_dir_from_manifest`] is the one place to change when the manifest
//! format moves it.

use std::path::{Path, PathBuf};

use crate::Error;

/// `socket_dir` when the manifest does not set it (relative to the manifest's directory).
pub const DEFAULT_SOCKET_DIR: &str = ".angzarr/sockets";

/// The socket directory named by the manifest at `manifest` (its top-level `socket_dir`, or
/// [`DEFAULT_SOCKET_DIR`]); a relative path is relative to the manifest's directory.
pub fn socket_dir_from_manifest(manifest: &Path) -> Result<PathBuf, Error> {
    let text = std::fs::read_to_string(manifest).map_err(|err| {
        Error::Config(format!(
            "cannot read manifest {}: {err}; run from the directory holding angzarr.toml, \
             or pass -c PATH or --socket-dir DIR",
            manifest.display()
        ))
    })?;
    socket_dir_from_text(manifest, &text)
}

/// [`socket_dir_from_manifest`] for a manifest at `manifest` whose contents are `text`.
pub fn socket_dir_from_text(manifest: &Path, text: &str) -> Result<PathBuf, Error> {
    let table: toml::Table = text
        .parse()
        .map_err(|err| Error::Config(format!("{} is not valid TOML: {err}", manifest.display())))?;
    let dir = match table.get("socket_dir") {
        None => DEFAULT_SOCKET_DIR,
        Some(toml::Value::String(dir)) => dir.as_str(),
        Some(other) => {
            return Err(Error::Config(format!(
                "socket_dir in {} must be a string, found {}",
                manifest.display(),
                other.type_str()
            )));
        }
    };
    let base = match manifest.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Ok(base.join(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The socket directory for a manifest with `contents` (None: no manifest file at all).
    fn check(contents: Option<&str>) -> Result<PathBuf, String> {
        let tmp = tempfile::tempdir().expect("tempdir");
        let manifest = tmp.path().join("angzarr.toml");
        if let Some(contents) = contents {
            std::fs::write(&manifest, contents).expect("write manifest");
        }
        socket_dir_from_manifest(&manifest)
            .map(|dir| {
                dir.strip_prefix(tmp.path())
                    .map(Path::to_path_buf)
                    .unwrap_or(dir)
            })
            .map_err(|err| err.to_string())
    }

    #[test]
    fn reads_socket_dir_relative_to_the_manifest() {
        assert_eq!(check(Some("")), Ok(PathBuf::from(".angzarr/sockets")));
        assert_eq!(
            check(Some("socket_dir = \"run/s\"\n[x]\ny = 1")),
            Ok(PathBuf::from("run/s"))
        );
        assert_eq!(
            check(Some("socket_dir = \"/abs/s\"")),
            Ok(PathBuf::from("/abs/s"))
        );
        let err = check(Some("socket_dir = 3")).expect_err("not a string");
        assert!(err.contains("must be a string, found integer"), "{err}");
        let err = check(Some("socket_dir = ")).expect_err("bad toml");
        assert!(err.contains("is not valid TOML"), "{err}");
        let err = check(None).expect_err("missing");
        assert!(
            err.contains("cannot read manifest") && err.contains("--socket-dir"),
            "{err}"
        );
    }

    #[test]
    fn bare_manifest_name_means_the_current_directory() {
        let dir = socket_dir_from_text(Path::new("angzarr.toml"), "").expect("dir");
        assert_eq!(dir, PathBuf::from("./.angzarr/sockets"));
        let dir = socket_dir_from_text(Path::new("deploy/angzarr.toml"), "").expect("dir");
        assert_eq!(dir, PathBuf::from("deploy/.angzarr/sockets"));
    }
}
