//! Discovery and ownership: who is in the system, what each process owns, where it listens.
//!
//! Every process of a multi-process system uses one IPC directory (0700, ours). In it, each
//! process has `<process>.json` (its [`Registration`]: protocol, pid, owned domains, socket
//! paths) and `<process>.lock`, which it holds with `flock` for as long as it lives. The
//! kernel drops the lock when the process dies, however it dies (kill -9 included), so "lock
//! free" is the reliable test for a stale registration; the pid is kept for messages.
//!
//! A process [claims](IpcDir::claim) its registration under `registry.lock`, so two claims
//! never interleave: stale registrations are removed, a live process that owns one of our
//! domains (or has our name, or speaks another protocol version) makes the claim fail with a
//! clear error, before anything else starts.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::{Error, PROTOCOL_VERSION};

/// What a process tells the others about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The IPC protocol version it speaks.
    pub protocol: u32,
    /// Its name in the system (unique).
    pub process: String,
    /// Its pid (for messages; liveness is the lock).
    pub pid: u32,
    /// The domains it owns: its aggregates and process managers.
    pub domains: Vec<String>,
    /// Its socket directory (gateway.sock, runtime.sock, `<domain>.sock`).
    pub socket_dir: PathBuf,
    /// Where its bus accepts subscribers.
    pub bus_socket: PathBuf,
}

impl Registration {
    /// Its gateway socket (EventQuery, CommandGateway).
    pub fn gateway_socket(&self) -> PathBuf {
        self.socket_dir.join("gateway.sock")
    }

    /// The coordinator socket of one of its domains.
    pub fn coordinator_socket(&self, domain: &str) -> PathBuf {
        self.socket_dir.join(format!("{domain}.sock"))
    }

    /// Its runtime service socket (topology).
    pub fn runtime_socket(&self) -> PathBuf {
        self.socket_dir.join("runtime.sock")
    }
}

/// A registration found in the directory, and whether its process is alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// What it registered.
    pub registration: Registration,
    /// Whether it still holds its lock.
    pub alive: bool,
}

/// The shared IPC directory.
#[derive(Debug, Clone)]
pub struct IpcDir {
    path: PathBuf,
}

/// Our registration, held until dropped (then removed).
#[derive(Debug)]
pub struct Claim {
    dir: PathBuf,
    registration: Registration,
    _lock: Flock<File>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let process = &self.registration.process;
        let _ = fs::remove_file(self.dir.join(format!("{process}.json")));
        let _ = fs::remove_file(&self.registration.bus_socket);
        let _ = fs::remove_file(self.dir.join(format!("{process}.lock")));
    }
}

impl Claim {
    /// What we registered.
    pub fn registration(&self) -> &Registration {
        &self.registration
    }
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

impl IpcDir {
    /// Opens (creating it if needed) the IPC directory at `path`: it must be a directory
    /// of ours, and is made private (0700).
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, Error> {
        let path = path.into();
        if path.exists() && !path.is_dir() {
            return Err(Error::Directory {
                path,
                reason: "it exists and is not a directory".into(),
            });
        }
        fs::create_dir_all(&path).map_err(io_error("cannot create the IPC directory", &path))?;
        let meta = fs::metadata(&path).map_err(io_error("cannot read the IPC directory", &path))?;
        let us = nix::unistd::geteuid().as_raw();
        if meta.uid() != us {
            return Err(Error::Directory {
                reason: format!(
                    "it belongs to uid {}, not to us (uid {us}); every process of one system must run as the same user",
                    meta.uid()
                ),
                path,
            });
        }
        fs::set_permissions(&path, Permissions::from_mode(0o700))
            .map_err(io_error("cannot make the IPC directory private", &path))?;
        fs::read_dir(&path).map_err(io_error("cannot read the IPC directory", &path))?;
        Ok(Self { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where process `process`'s bus listens.
    pub fn bus_socket(&self, process: &str) -> PathBuf {
        self.path.join(format!("{process}.bus.sock"))
    }

    fn lock_path(&self, process: &str) -> PathBuf {
        self.path.join(format!("{process}.lock"))
    }

    fn registration_path(&self, process: &str) -> PathBuf {
        self.path.join(format!("{process}.json"))
    }

    /// Registers `registration`: removes stale registrations, refuses a live owner of one of
    /// its domains, a live process of the same name, and a live process of another protocol
    /// version. The claim lasts until the returned [`Claim`] is dropped.
    pub fn claim(&self, registration: Registration) -> Result<Claim, Error> {
        let guard_path = self.path.join("registry.lock");
        let guard = open_lock_file(&guard_path)?;
        let _guard =
            Flock::lock(guard, FlockArg::LockExclusive).map_err(|(_, errno)| Error::Io {
                action: "cannot lock the IPC registry",
                path: guard_path.clone(),
                source: io::Error::from(errno),
            })?;
        for peer in self.scan()? {
            let theirs = &peer.registration;
            if !peer.alive {
                self.remove_stale(theirs);
                continue;
            }
            if theirs.protocol != PROTOCOL_VERSION {
                return Err(Error::ProtocolMismatch {
                    process: theirs.process.clone(),
                    pid: theirs.pid,
                    theirs: theirs.protocol,
                    ours: PROTOCOL_VERSION,
                });
            }
            if theirs.process == registration.process {
                return Err(Error::DuplicateProcess {
                    process: theirs.process.clone(),
                    pid: theirs.pid,
                    dir: self.path.clone(),
                });
            }
            if let Some(domain) = registration
                .domains
                .iter()
                .find(|d| theirs.domains.contains(d))
            {
                return Err(Error::DuplicateOwner {
                    domain: domain.clone(),
                    process: theirs.process.clone(),
                    pid: theirs.pid,
                });
            }
        }
        let lock_path = self.lock_path(&registration.process);
        let file = open_lock_file(&lock_path)?;
        // No live process of our name exists (checked above, under the registry lock), so
        // this waits at most for another process's liveness probe.
        let lock = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| Error::Io {
            action: "cannot lock",
            path: lock_path.clone(),
            source: io::Error::from(errno),
        })?;
        let json = serde_json::to_vec_pretty(&registration).map_err(|e| Error::Io {
            action: "cannot encode the registration",
            path: self.registration_path(&registration.process),
            source: io::Error::other(e),
        })?;
        let path = self.registration_path(&registration.process);
        let tmp = self
            .path
            .join(format!(".{}.json.tmp", registration.process));
        write_private(&tmp, &json).map_err(io_error("cannot write the registration", &tmp))?;
        fs::rename(&tmp, &path).map_err(io_error("cannot write the registration", &path))?;
        Ok(Claim {
            dir: self.path.clone(),
            registration,
            _lock: lock,
        })
    }

    /// Every registration in the directory, with whether its process is alive.
    /// Registrations that cannot be read are errors: they belong to a process that speaks
    /// something else.
    pub fn scan(&self) -> Result<Vec<Peer>, Error> {
        let entries = fs::read_dir(&self.path)
            .map_err(io_error("cannot read the IPC directory", &self.path))?;
        let mut peers = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let is_registration = path.extension().is_some_and(|e| e == "json")
                && !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if !is_registration {
                continue;
            }
            let Ok(text) = fs::read(&path) else {
                // Removed between listing and reading: a process just stopped.
                continue;
            };
            let registration: Registration =
                serde_json::from_slice(&text).map_err(|e| Error::UnreadableRegistration {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            let alive = self.holds_lock(&registration.process);
            peers.push(Peer {
                registration,
                alive,
            });
        }
        peers.sort_by(|a, b| a.registration.process.cmp(&b.registration.process));
        Ok(peers)
    }

    /// The registration of `process`, if there is one.
    pub fn peer(&self, process: &str) -> Option<Peer> {
        let text = fs::read(self.registration_path(process)).ok()?;
        let registration: Registration = serde_json::from_slice(&text).ok()?;
        Some(Peer {
            alive: self.holds_lock(process),
            registration,
        })
    }

    /// Whether a live process holds `process`'s lock.
    fn holds_lock(&self, process: &str) -> bool {
        let Ok(file) = OpenOptions::new().read(true).open(self.lock_path(process)) else {
            return false;
        };
        // Getting it means nobody holds it (dropping it releases it again).
        Flock::lock(file, FlockArg::LockSharedNonblock).is_err()
    }

    fn remove_stale(&self, stale: &Registration) {
        info!(
            process = %stale.process,
            pid = stale.pid,
            "removing the stale registration of a runtime process that is gone"
        );
        let _ = fs::remove_file(self.registration_path(&stale.process));
        let _ = fs::remove_file(&stale.bus_socket);
        let _ = fs::remove_file(self.lock_path(&stale.process));
    }
}

fn open_lock_file(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io_error("cannot open lock file", path))
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(dir: &IpcDir, process: &str, domains: &[&str]) -> Registration {
        Registration {
            protocol: PROTOCOL_VERSION,
            process: process.into(),
            pid: std::process::id(),
            domains: domains.iter().map(ToString::to_string).collect(),
            socket_dir: dir.path().join(process),
            bus_socket: dir.bus_socket(process),
        }
    }

    fn dir() -> (tempfile::TempDir, IpcDir) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = IpcDir::open(tmp.path().join("ipc")).expect("open");
        (tmp, dir)
    }

    #[test]
    fn the_directory_is_private_and_must_be_a_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("ipc");
        fs::create_dir(&path).expect("mkdir");
        fs::set_permissions(&path, Permissions::from_mode(0o755)).expect("chmod");
        IpcDir::open(&path).expect("open");
        assert_eq!(fs::metadata(&path).expect("meta").mode() & 0o777, 0o700);
        let file = tmp.path().join("file");
        fs::write(&file, b"x").expect("write");
        let err = IpcDir::open(&file).expect_err("a file is no directory");
        assert!(err.to_string().contains("not a directory"), "{err}");
    }

    #[test]
    fn a_second_owner_of_a_domain_is_refused_naming_the_first() {
        let (_tmp, dir) = dir();
        let _order = dir
            .claim(registration(&dir, "order", &["order", "cart"]))
            .expect("first claim");
        let err = dir
            .claim(registration(&dir, "other", &["inventory", "cart"]))
            .expect_err("cart is owned");
        let text = err.to_string();
        assert!(
            text.contains("\"cart\"") && text.contains("order"),
            "{text}"
        );
        let err = dir
            .claim(registration(&dir, "order", &["x"]))
            .expect_err("same name");
        assert!(err.to_string().contains("already running"), "{err}");
        dir.claim(registration(&dir, "fulfillment", &["fulfillment"]))
            .expect("other domains are fine");
    }

    #[test]
    fn a_dead_processs_registration_is_stale_and_cleaned() {
        let (_tmp, dir) = dir();
        let order = dir
            .claim(registration(&dir, "order", &["order"]))
            .expect("claim");
        // A process that died keeps its files but not its lock.
        let registration_path = dir.registration_path("order");
        let json = fs::read(&registration_path).expect("json");
        drop(order);
        fs::write(&registration_path, json).expect("leave the file behind");
        fs::write(dir.lock_path("order"), b"").expect("leave the lock file behind");
        let peers = dir.scan().expect("scan");
        assert_eq!(peers.len(), 1);
        assert!(!peers[0].alive, "a free lock means a dead process");
        let _new = dir
            .claim(registration(&dir, "order2", &["order"]))
            .expect("a stale owner does not block");
        assert!(
            !registration_path.exists(),
            "the stale registration is removed"
        );
    }

    #[test]
    fn another_protocol_version_is_refused() {
        let (_tmp, dir) = dir();
        let mut old = registration(&dir, "old", &["a"]);
        old.protocol = PROTOCOL_VERSION + 1;
        let _old = dir.claim(old).expect("claim");
        let err = dir
            .claim(registration(&dir, "new", &["b"]))
            .expect_err("protocol mismatch");
        assert!(err.to_string().contains("protocol"), "{err}");
    }
}
