//! Optional sugar for writing Angzarr business logic in Rust.
//!
//! The only contract between Angzarr and user code is gRPC + protobuf (DESIGN.md §2.8); this
//! crate just removes the boilerplate of honouring it from Rust:
//!
//! - [`serve`] is the whole `main` of a business-logic process: it reads `ANGZARR_SOCKET`, binds
//!   the Unix socket, serves your service next to `grpc.health.v1` (reporting SERVING) and
//!   `grpc.reflection.v1` (so tools such as `angzarr send` can find your message types), and
//!   stops gracefully on SIGTERM/SIGINT.
//! - [`CommandRouter`] turns plain functions into an `angzarr.BusinessLogic` service: a command
//!   handler is `fn(&State, Command) -> Result<Event, Rejection>` (guard, validate, compute,
//!   emit), and state is rebuilt from the snapshot and the events through your `apply`
//!   functions.
//!
//! ```no_run
//! # use angzarr_client::{CommandRouter, Rejection};
//! # use prost_types::Any;
//! # // Stand-ins for prost-generated types (use your own proto's types).
//! # #[derive(Clone, PartialEq, prost::Message)] struct State { #[prost(bool, tag = "1")] exists: bool }
//! # impl prost::Name for State { const PACKAGE: &'static str = "demo"; const NAME: &'static str = "State"; }
//! # #[derive(Clone, PartialEq, prost::Message)] struct Create { #[prost(string, tag = "1")] name: String }
//! # impl prost::Name for Create { const PACKAGE: &'static str = "demo"; const NAME: &'static str = "Create"; }
//! # #[derive(Clone, PartialEq, prost::Message)] struct Created { #[prost(string, tag = "1")] name: String }
//! # impl prost::Name for Created { const PACKAGE: &'static str = "demo"; const NAME: &'static str = "Created"; }
//! fn create(state: &State, cmd: Create) -> Result<Created, Rejection> {
//!     if state.exists {
//!         return Err(Rejection::failed_precondition("already exists"));
//!     }
//!     if cmd.name.is_empty() {
//!         return Err(Rejection::invalid_argument("name is required"));
//!     }
//!     Ok(Created { name: cmd.name })
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), angzarr_client::Error> {
//!     let aggregate = CommandRouter::<State>::new("demo")
//!         .on(create)
//!         .apply(|state: &mut State, _: Created| state.exists = true);
//!     angzarr_client::serve(aggregate.into_server(), &[angzarr_proto::FILE_DESCRIPTOR_SET]).await
//! }
//! ```

#![warn(missing_docs)]

mod command_router;
mod event;
mod event_router;
mod process_manager;
mod projector;
mod rejection;
mod server;
pub mod testing;

pub use command_router::{CommandRouter, Events, IntoEvents};
pub use event::{Commands, EventContext, Rejected};
pub use event_router::EventRouter;
pub use process_manager::{Effects, ProcessManagerRouter};
pub use projector::{PROJECTION_DB_ENV, ProjectorRouter, RowStore, ServedProjector};
pub use rejection::Rejection;
pub use server::{
    Error, SOCKET_ENV, init_telemetry, run, serve, serve_listener, shutdown_signal,
    socket_path_from_env, socket_path_from_value, traced_request,
};

/// The current time as a protobuf timestamp, for the `*_at` fields of events.
pub fn now() -> prost_types::Timestamp {
    std::time::SystemTime::now().into()
}
