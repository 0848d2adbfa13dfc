//! gRPC over Unix domain sockets.
//!
//! Angzarr listens on nothing but Unix sockets unless told otherwise (DESIGN.md §2.11). This
//! crate owns the rules for that: the socket directory is private (0700), every socket is
//! 0600, stale sockets are removed, and a lock file makes a second instance on the same
//! directory fail fast instead of stealing the first one's sockets.

#![warn(missing_docs)]

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use nix::fcntl::{Flock, FlockArg};
use tokio::net::{UnixListener, UnixStream};
use tonic::transport::{Channel, Endpoint, Uri};

/// Errors of socket setup.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process holds the directory's lock.
    #[error(
        "another Angzarr instance (pid {pid}) is already using socket directory {dir}; stop it or choose another directory"
    )]
    AlreadyRunning {
        /// The socket directory.
        dir: PathBuf,
        /// The pid written by the holder, if readable.
        pid: String,
    },
    /// The directory exists but belongs to another user.
    #[error(
        "socket directory {dir} belongs to uid {owner}, not to us (uid {us}); refusing to use it"
    )]
    ForeignDirectory {
        /// The socket directory.
        dir: PathBuf,
        /// Its owner.
        owner: u32,
        /// Our uid.
        us: u32,
    },
    /// An I/O error with what we were doing.
    #[error("{action} {path}: {source}")]
    Io {
        /// What failed, e.g. "cannot bind socket".
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A socket path too long for `sockaddr_un`.
    #[error(
        "socket path {0} is longer than the 107 bytes a Unix socket address allows; use a shorter socket directory"
    )]
    PathTooLong(PathBuf),
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// A private socket directory held exclusively by this process until dropped.
#[derive(Debug)]
pub struct SocketDir {
    path: PathBuf,
    _lock: Flock<File>,
}

impl SocketDir {
    /// Creates (or takes over) `path` as a private socket directory: mode 0700, owned by us,
    /// locked against a second instance. Sockets left by a dead instance are removed.
    pub fn acquire(path: impl Into<PathBuf>) -> Result<Self, Error> {
        let path = path.into();
        fs::create_dir_all(&path).map_err(io_err("cannot create socket directory", &path))?;
        let meta = fs::metadata(&path).map_err(io_err("cannot read socket directory", &path))?;
        let us = nix::unistd::geteuid().as_raw();
        if meta.uid() != us {
            return Err(Error::ForeignDirectory {
                dir: path,
                owner: meta.uid(),
                us,
            });
        }
        fs::set_permissions(&path, Permissions::from_mode(0o700))
            .map_err(io_err("cannot make socket directory private", &path))?;

        let lock_path = path.join("angzarr.lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_err("cannot open lock file", &lock_path))?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((mut file, _)) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                return Err(Error::AlreadyRunning {
                    dir: path,
                    pid: pid.trim().to_string(),
                });
            }
        };
        lock.set_len(0)
            .map_err(io_err("cannot write lock file", &lock_path))?;
        lock.rewind()
            .map_err(io_err("cannot write lock file", &lock_path))?;
        write!(lock, "{}", std::process::id())
            .map_err(io_err("cannot write lock file", &lock_path))?;
        Ok(Self { path, _lock: lock })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of socket `name` (`<dir>/<name>.sock`).
    pub fn socket_path(&self, name: &str) -> PathBuf {
        self.path.join(format!("{name}.sock"))
    }

    /// Creates a subdirectory (0700) for sockets of child processes.
    pub fn subdir(&self, name: &str) -> Result<PathBuf, Error> {
        let dir = self.path.join(name);
        fs::create_dir_all(&dir).map_err(io_err("cannot create directory", &dir))?;
        fs::set_permissions(&dir, Permissions::from_mode(0o700))
            .map_err(io_err("cannot make directory private", &dir))?;
        Ok(dir)
    }
}

/// Binds a Unix listener at `path` with mode 0600, replacing a stale socket file.
///
/// Only call this for paths inside a directory you hold (a [`SocketDir`], or one handed to
/// you by the runtime): an existing file there is known to be stale.
pub fn bind(path: &Path) -> Result<UnixListener, Error> {
    if path.as_os_str().len() > 107 {
        return Err(Error::PathTooLong(path.to_path_buf()));
    }
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("cannot remove stale socket", path)(e)),
    }
    let listener = UnixListener::bind(path).map_err(io_err("cannot bind socket", path))?;
    fs::set_permissions(path, Permissions::from_mode(0o600))
        .map_err(io_err("cannot restrict socket permissions", path))?;
    Ok(listener)
}

/// The incoming-connection stream tonic's `serve_with_incoming*` expects.
pub fn incoming(listener: UnixListener) -> tokio_stream::wrappers::UnixListenerStream {
    tokio_stream::wrappers::UnixListenerStream::new(listener)
}

fn endpoint() -> Endpoint {
    // The URI is a placeholder required by tonic; the connector below decides where to go.
    Endpoint::from_static("http://angzarr.local")
}

/// A channel that connects to the Unix socket at `path` on first use and reconnects after
/// failures (the peer may restart). Never fails by itself: errors surface on calls.
pub fn channel_lazy(path: impl Into<PathBuf>) -> Channel {
    let path = path.into();
    endpoint().connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
        let path = path.clone();
        async move { UnixStream::connect(path).await.map(TokioIo::new) }
    }))
}

/// Connects to the Unix socket at `path` now.
pub async fn channel(path: impl Into<PathBuf>) -> Result<Channel, tonic::transport::Error> {
    let path = path.into();
    endpoint()
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { UnixStream::connect(path).await.map(TokioIo::new) }
        }))
        .await
}

/// An HTTP answer read whole: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    /// The status code.
    pub status: u16,
    /// The body, lossily decoded.
    pub body: String,
}

/// `GET path` over HTTP/1.1 on the Unix socket at `socket` (the runtime's `admin.sock`);
/// `curl --unix-socket <socket> http://localhost<path>` does the same.
pub async fn http_get(socket: &Path, path: &str) -> Result<HttpAnswer, Error> {
    use http_body_util::{BodyExt, Empty};
    let fail = |action: &'static str| {
        let socket = socket.to_path_buf();
        move |err: hyper::Error| Error::Io {
            action,
            path: socket,
            source: io::Error::other(err),
        }
    };
    let stream = UnixStream::connect(socket)
        .await
        .map_err(io_err("cannot connect to", socket))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(fail("HTTP handshake failed on"))?;
    tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, "localhost")
        .body(Empty::<hyper::body::Bytes>::new())
        .map_err(|err| Error::Io {
            action: "invalid request for",
            path: socket.to_path_buf(),
            source: io::Error::other(err),
        })?;
    let response = sender
        .send_request(request)
        .await
        .map_err(fail("HTTP request failed on"))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(fail("cannot read the HTTP answer from"))?
        .to_bytes();
    Ok(HttpAnswer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_dir_is_private_and_exclusive() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("sock");
        let held = SocketDir::acquire(&dir).expect("first acquire");
        let mode = fs::metadata(&dir).expect("meta").mode() & 0o777;
        assert_eq!(mode, 0o700);
        let second = SocketDir::acquire(&dir).expect_err("second instance must be refused");
        match second {
            Error::AlreadyRunning { pid, .. } => assert_eq!(pid, std::process::id().to_string()),
            other => panic!("unexpected error {other}"),
        }
        drop(held);
        SocketDir::acquire(&dir).expect("free again after the holder is gone");
    }

    #[tokio::test]
    async fn bind_replaces_stale_socket_and_restricts_mode() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("x.sock");
        fs::write(&path, b"stale").expect("write stale");
        let _listener = bind(&path).expect("bind over stale file");
        let mode = fs::metadata(&path).expect("meta").mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn overlong_path_is_a_clear_error() {
        let long = PathBuf::from(format!("/tmp/{}", "a".repeat(200)));
        assert!(matches!(bind(&long), Err(Error::PathTooLong(_))));
    }
}
