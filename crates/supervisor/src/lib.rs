//! Spawning, health-waiting, restarting and stopping the user's business-logic processes.
//!
//! `angzarr-standalone` launches every component named in the manifest as a child process
//! that serves gRPC on a Unix socket. This crate keeps those processes in the state the
//! runtime expects: started with a known environment, routed to only once their gRPC health
//! service says SERVING, restarted with backoff when they die, given up on (loudly) when they
//! crash-loop, and never left behind: not on shutdown, not on a panic, not when the
//! supervisor itself is killed.
//!
//! # Shape
//!
//! [`Supervisor::start`] validates the specs, spawns every process and returns a cheap
//! [`SupervisorHandle`] to observe ([`state`](SupervisorHandle::state),
//! [`watch`](SupervisorHandle::watch), [`snapshot`](SupervisorHandle::snapshot)), wait
//! ([`wait_ready`](SupervisorHandle::wait_ready)) and stop
//! ([`shutdown`](SupervisorHandle::shutdown)). Dropping the last handle also shuts down.
//!
//! # The child's contract
//!
//! The process gets the supervisor's environment plus [`ComponentSpec::env`], plus
//! `ANGZARR_SOCKET` (the Unix socket path it must serve gRPC on; see [`SOCKET_ENV`]) and
//! `ANGZARR_COMPONENT` (its component name; [`COMPONENT_ENV`]), which override `env`. It must
//! serve `grpc.health.v1.Health` and report SERVING for service `""` once it accepts work. It
//! gets SIGTERM (to its process group) to stop, and SIGKILL after
//! [`ComponentSpec::stop_grace`]. Its stdin is `/dev/null`, its stdout is inherited, and its
//! stderr is forwarded line by line to `tracing` (target `angzarr::component`, field
//! `component`); the last lines are quoted in errors when it dies.
//!
//! # Why a thread of its own
//!
//! All children are spawned, waited for and signalled from one dedicated thread running a
//! current-thread tokio runtime. On Linux each child has PR_SET_PDEATHSIG = SIGKILL, which
//! fires when the *thread* that forked it exits; a long-lived thread that ends only after its
//! children were reaped makes that signal mean "the supervisor died". It also keeps the
//! supervisor independent of the caller's runtime flavour.

#![warn(missing_docs)]

mod error;
mod health;
mod monitor;
mod process;
mod spec;
mod state;

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use error::Error;
pub use health::is_serving;
pub use process::{COMPONENT_ENV, SOCKET_ENV};
pub use spec::{ComponentSpec, RestartPolicy};
pub use state::{ComponentInfo, ComponentState};

use monitor::Slot;

/// Starts supervision; see the [crate docs](crate).
#[derive(Debug)]
pub struct Supervisor {
    _private: (),
}

impl Supervisor {
    /// Validates `specs`, spawns every process and returns once all are spawned (not
    /// necessarily ready: use [`SupervisorHandle::wait_all_ready`]).
    ///
    /// Fails without leaving anything running if a spec is invalid (empty or duplicate name,
    /// empty argv, [`Error::ProgramNotFound`], [`Error::NotExecutable`], missing working
    /// directory) or a process cannot be spawned.
    pub async fn start(specs: Vec<ComponentSpec>) -> Result<SupervisorHandle, Error> {
        let slots = validate(specs)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("angzarr-supervisor")
            .build()
            .map_err(Error::Runtime)?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        let (started_tx, started_rx) = oneshot::channel();

        let thread_slots = slots.clone();
        std::thread::Builder::new()
            .name("angzarr-supervisor".into())
            .spawn(move || {
                runtime.block_on(run(thread_slots, shutdown_rx, started_tx));
                drop(runtime);
                done_tx.send_replace(true);
            })
            .map_err(Error::Runtime)?;

        let inner = Arc::new(Inner {
            slots,
            shutdown: shutdown_tx,
            done: done_rx,
        });
        match started_rx.await {
            Ok(Ok(())) => Ok(SupervisorHandle { inner }),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(Error::Runtime(std::io::Error::other(
                "the supervisor thread ended while starting the components",
            ))),
        }
    }
}

/// Checks what can be checked before spawning anything.
fn validate(specs: Vec<ComponentSpec>) -> Result<Vec<Arc<Slot>>, Error> {
    let mut names = HashSet::new();
    let mut slots = Vec::with_capacity(specs.len());
    for spec in specs {
        if spec.name.is_empty() {
            return Err(Error::EmptyName);
        }
        if !names.insert(spec.name.clone()) {
            return Err(Error::DuplicateComponent {
                component: spec.name,
            });
        }
        if let Some(dir) = &spec.working_dir
            && !dir.is_dir()
        {
            return Err(Error::WorkingDirectory {
                component: spec.name.clone(),
                path: dir.clone(),
            });
        }
        let program = process::resolve_program(&spec)?;
        slots.push(Arc::new(Slot::new(spec, program)));
    }
    Ok(slots)
}

/// The supervisor thread's main future: spawn all, report, supervise until all are done.
async fn run(
    slots: Vec<Arc<Slot>>,
    shutdown: watch::Receiver<bool>,
    started: oneshot::Sender<Result<(), Error>>,
) {
    let mut spawned = Vec::with_capacity(slots.len());
    for slot in &slots {
        match slot.spawn() {
            Ok(running) => spawned.push((Arc::clone(slot), running)),
            Err(source) => {
                for (slot, running) in spawned {
                    monitor::stop(&slot, running).await;
                }
                let _ = started.send(Err(Error::Spawn {
                    component: slot.name().to_string(),
                    source,
                }));
                return;
            }
        }
    }
    let _ = started.send(Ok(()));

    let mut tasks = JoinSet::new();
    for (slot, running) in spawned {
        tasks.spawn(monitor::supervise(slot, running, shutdown.clone()));
    }
    while let Some(result) = tasks.join_next().await {
        if let Err(err) = result {
            // The task's `Child` was dropped with it, and `kill_on_drop` killed the process.
            tracing::error!("a component supervision task ended abnormally: {err}");
        }
    }
}

/// State shared by all clones of a handle; shuts supervision down when the last one goes.
struct Inner {
    slots: Vec<Arc<Slot>>,
    shutdown: watch::Sender<bool>,
    done: watch::Receiver<bool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

/// A cheap, clonable handle on running supervision. Dropping the last clone starts a
/// shutdown in the background; call [`shutdown`](Self::shutdown) to wait for it.
#[derive(Clone)]
pub struct SupervisorHandle {
    inner: Arc<Inner>,
}

impl fmt::Debug for SupervisorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorHandle")
            .field("components", &self.snapshot())
            .finish()
    }
}

impl SupervisorHandle {
    fn slot(&self, name: &str) -> Option<&Arc<Slot>> {
        self.inner.slots.iter().find(|slot| slot.name() == name)
    }

    fn known_slot(&self, name: &str) -> Result<&Arc<Slot>, Error> {
        self.slot(name).ok_or_else(|| Error::UnknownComponent {
            component: name.to_string(),
        })
    }

    /// The names of the supervised components, in the order they were given.
    pub fn names(&self) -> Vec<String> {
        self.inner
            .slots
            .iter()
            .map(|slot| slot.name().to_string())
            .collect()
    }

    /// The current state of component `name`, or `None` if there is no such component.
    pub fn state(&self, name: &str) -> Option<ComponentState> {
        self.slot(name).map(|slot| slot.state.borrow().clone())
    }

    /// A receiver that sees every state change of component `name` (the latest one, when
    /// several happen between two looks).
    pub fn watch(&self, name: &str) -> Option<watch::Receiver<ComponentState>> {
        self.slot(name).map(|slot| slot.state.subscribe())
    }

    /// The pid of component `name`'s current process, if one is running.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.slot(name).and_then(|slot| slot.pid())
    }

    /// How many times component `name` was restarted (0 for an unknown name).
    pub fn restarts(&self, name: &str) -> u32 {
        self.slot(name)
            .map_or(0, |slot| slot.restarts.load(Ordering::SeqCst))
    }

    /// All components with their state, pid, restarts and socket, in the order given.
    pub fn snapshot(&self) -> Vec<ComponentInfo> {
        self.inner
            .slots
            .iter()
            .map(|slot| ComponentInfo {
                name: slot.name().to_string(),
                state: slot.state.borrow().clone(),
                pid: slot.pid(),
                restarts: slot.restarts.load(Ordering::SeqCst),
                socket_path: slot.spec.socket_path.clone(),
            })
            .collect()
    }

    /// Waits until component `name` is [`Serving`](ComponentState::Serving).
    ///
    /// Fails fast, naming the component: [`Error::Exited`] if it is (or goes)
    /// [`Restarting`](ComponentState::Restarting), i.e. its process ended, with the exit
    /// status and last stderr lines; [`Error::Failed`] if it was given up on;
    /// [`Error::Stopped`] on shutdown; [`Error::NotReady`] when `timeout` passes. It does not
    /// wait through restarts, which may crash again; [`watch`](Self::watch) does.
    pub async fn wait_ready(&self, name: &str, timeout: Duration) -> Result<(), Error> {
        self.wait_ready_until(name, timeout, Instant::now() + timeout)
            .await
    }

    /// Waits until every component is [`Serving`](ComponentState::Serving), all within one
    /// `timeout`; fails with the first component that cannot be, as
    /// [`wait_ready`](Self::wait_ready) does.
    pub async fn wait_all_ready(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        for slot in &self.inner.slots {
            self.wait_ready_until(slot.name(), timeout, deadline)
                .await?;
        }
        Ok(())
    }

    async fn wait_ready_until(
        &self,
        name: &str,
        timeout: Duration,
        deadline: Instant,
    ) -> Result<(), Error> {
        let slot = self.known_slot(name)?;
        let component = || name.to_string();
        let mut states = slot.state.subscribe();
        loop {
            let state = states.borrow_and_update().clone();
            match state {
                ComponentState::Serving => return Ok(()),
                ComponentState::Starting => {}
                ComponentState::Restarting { reason, .. } => {
                    return Err(Error::Exited {
                        component: component(),
                        reason,
                    });
                }
                ComponentState::Failed { reason } => {
                    return Err(Error::Failed {
                        component: component(),
                        reason,
                    });
                }
                ComponentState::Stopping | ComponentState::Stopped => {
                    return Err(Error::Stopped {
                        component: component(),
                    });
                }
            }
            match tokio::time::timeout_at(deadline, states.changed()).await {
                Ok(Ok(())) => {}
                // The sender lives in the slot, which we hold; it cannot be dropped. Treat
                // it like a stop anyway rather than spinning.
                Ok(Err(_)) => {
                    return Err(Error::Stopped {
                        component: component(),
                    });
                }
                Err(_) => {
                    return Err(Error::NotReady {
                        component: component(),
                        timeout,
                        state: slot.state.borrow().clone(),
                    });
                }
            }
        }
    }

    /// Stops every component (SIGTERM to its process group, [`ComponentSpec::stop_grace`],
    /// then SIGKILL) and returns once all processes are reaped. Idempotent; concurrent calls
    /// all wait for the same shutdown.
    pub async fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        let mut done = self.inner.done.clone();
        // An error means the supervisor thread is gone, which also means it is done.
        let _ = done.wait_for(|done| *done).await;
    }
}
