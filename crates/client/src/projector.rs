//! A projector from plain functions, writing rows to a [`RowStore`].
//!
//! A projector turns events into read-model rows: `fn(&mut RowStore, &EventContext, Event)`.
//! Delivery is at least once (a crash between the row write and the runtime's checkpoint
//! redelivers), so a handler keeps the sequence it last applied in its row and ignores
//! anything not above it. Each delivery runs in one store transaction: a failing handler
//! leaves no partial rows behind, and the runtime retries the whole delivery.

use std::fmt;
use std::path::Path;
use std::sync::Mutex;

use angzarr_proto::projector_server::{Projector, ProjectorServer};
use angzarr_proto::{
    AnyExt, ComponentDescriptor, EventBook, GetDescriptorRequest, Projection, Target,
};
use prost::{Message, Name};
use prost_types::Any;
use rusqlite::{Connection, OptionalExtension, params};
use tonic::{Request, Response, Status};

use crate::command_router::pack;
use crate::event::{EventContext, decode_event};

/// The environment variable naming a projector's SQLite file (see [`RowStore::from_env`]).
pub const PROJECTION_DB_ENV: &str = "ANGZARR_PROJECTION_DB";

/// Read-model rows: protobuf messages by string key, in SQLite.
///
/// The table is `rows(key TEXT PRIMARY KEY, type_url TEXT, value BLOB)`, `value` being the
/// encoded message, so any language (or `sqlite3`) can read what a projector wrote.
pub struct RowStore {
    conn: Connection,
    /// Rows written by the delivery in progress (the last one is its projection).
    written: Vec<Any>,
}

impl fmt::Debug for RowStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowStore").finish_non_exhaustive()
    }
}

fn store_error(err: rusqlite::Error) -> Status {
    Status::internal(format!("row store: {err}"))
}

impl RowStore {
    /// Opens (creating if needed) the store in the SQLite file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Status> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|err| {
                Status::internal(format!("cannot create {}: {err}", dir.display()))
            })?;
        }
        let conn = Connection::open(path).map_err(store_error)?;
        // WAL lets readers (the CLI, tests) look while the projector writes.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(store_error)?;
        Self::init(conn)
    }

    /// A store that lives in memory (tests).
    pub fn in_memory() -> Result<Self, Status> {
        Self::init(Connection::open_in_memory().map_err(store_error)?)
    }

    /// The store at `$ANGZARR_PROJECTION_DB`, or `<name>.db` in the working directory.
    pub fn from_env(name: &str) -> Result<Self, Status> {
        match std::env::var_os(PROJECTION_DB_ENV) {
            Some(path) if !path.is_empty() => Self::open(path),
            _ => Self::open(format!("{name}.db")),
        }
    }

    fn init(conn: Connection) -> Result<Self, Status> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(store_error)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS rows (
                 key TEXT PRIMARY KEY,
                 type_url TEXT NOT NULL,
                 value BLOB NOT NULL
             )",
        )
        .map_err(store_error)?;
        Ok(Self {
            conn,
            written: Vec::new(),
        })
    }

    /// The row at `key`, if there is one of type `M`.
    pub fn get<M: Message + Name + Default>(&self, key: &str) -> Result<Option<M>, Status> {
        let row: Option<(String, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT type_url, value FROM rows WHERE key = ?1",
                params![key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(store_error)?;
        match row {
            Some((type_url, value)) if type_url == M::type_url() => M::decode(value.as_slice())
                .map(Some)
                .map_err(|err| Status::internal(format!("row {key}: {err}"))),
            Some((type_url, _)) => Err(Status::internal(format!(
                "row {key} holds {type_url}, not {}",
                M::type_url()
            ))),
            None => Ok(None),
        }
    }

    /// Writes (inserts or replaces) the row at `key`.
    pub fn put<M: Message + Name>(&mut self, key: &str, row: &M) -> Result<(), Status> {
        let any = pack(row);
        self.conn
            .execute(
                "INSERT INTO rows (key, type_url, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET type_url = ?2, value = ?3",
                params![key, any.type_url, any.value],
            )
            .map_err(store_error)?;
        self.written.push(any);
        Ok(())
    }

    /// Whether a row exists at `key`.
    pub fn contains(&self, key: &str) -> Result<bool, Status> {
        self.conn
            .query_row(
                "SELECT 1 FROM rows WHERE key = ?1",
                params![key],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(store_error)
    }

    /// Every row, by key order.
    pub fn rows(&self) -> Result<Vec<(String, Any)>, Status> {
        let mut statement = self
            .conn
            .prepare("SELECT key, type_url, value FROM rows ORDER BY key")
            .map_err(store_error)?;
        let rows = statement
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    Any {
                        type_url: r.get(1)?,
                        value: r.get(2)?,
                    },
                ))
            })
            .map_err(store_error)?;
        rows.collect::<Result<_, _>>().map_err(store_error)
    }

    /// Runs `work` in one transaction; returns the last row it wrote.
    fn transaction(
        &mut self,
        work: impl FnOnce(&mut Self) -> Result<(), Status>,
    ) -> Result<Option<Any>, Status> {
        self.written.clear();
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(store_error)?;
        match work(self) {
            Ok(()) => {
                self.conn.execute_batch("COMMIT").map_err(store_error)?;
                Ok(self.written.pop())
            }
            Err(status) => {
                // The rollback's own failure would hide the handler's error, which matters more.
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(status)
            }
        }
    }
}

type HandlerFn =
    Box<dyn Fn(&mut RowStore, &EventContext, &Any) -> Result<(), Status> + Send + Sync>;

/// A projector built from event handlers; serves `angzarr.Projector` through
/// [`ProjectorRouter::into_server`].
pub struct ProjectorRouter {
    name: String,
    domain: String,
    handlers: Vec<(String, String, HandlerFn)>,
}

impl fmt::Debug for ProjectorRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProjectorRouter")
            .field("descriptor", &self.descriptor())
            .finish()
    }
}

impl ProjectorRouter {
    /// The projector `name`, reading events of `domain`.
    pub fn new(name: impl Into<String>, domain: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            domain: domain.into(),
            handlers: Vec::new(),
        }
    }

    /// Handles events of type `E` with `handler`; only handled types are delivered.
    pub fn on<E, F>(mut self, handler: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&mut RowStore, &EventContext, E) -> Result<(), Status> + Send + Sync + 'static,
    {
        let run: HandlerFn =
            Box::new(move |rows, context, event| handler(rows, context, decode_event::<E>(event)?));
        let full = E::full_name();
        self.handlers.retain(|(name, ..)| *name != full);
        self.handlers.push((full, E::NAME.to_string(), run));
        self
    }

    /// The projector's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Inputs: its domain and the handled event types; no outputs.
    pub fn descriptor(&self) -> ComponentDescriptor {
        ComponentDescriptor {
            name: self.name.clone(),
            component_type: "projector".to_string(),
            inputs: vec![Target {
                domain: self.domain.clone(),
                types: self.handlers.iter().map(|(_, s, _)| s.clone()).collect(),
            }],
            outputs: Vec::new(),
        }
    }

    /// Applies every event of `book` to `rows` in one transaction; returns the last row
    /// written, if any (the projection a synchronous caller gets).
    pub fn handle(&self, rows: &mut RowStore, book: &EventBook) -> Result<Option<Any>, Status> {
        let pages = EventContext::pages(book)?;
        rows.transaction(|rows| {
            for (context, event) in pages {
                let name = event.full_type_name();
                if let Some((.., handler)) = self.handlers.iter().find(|(full, ..)| full == name) {
                    handler(rows, &context, event)?;
                }
            }
            Ok(())
        })
    }

    /// The gRPC service over `rows`, ready for [`serve`](crate::serve).
    pub fn into_server(self, rows: RowStore) -> ProjectorServer<ServedProjector> {
        ProjectorServer::new(ServedProjector {
            router: self,
            rows: Mutex::new(rows),
        })
    }
}

/// A [`ProjectorRouter`] with its store, as served over gRPC.
#[derive(Debug)]
pub struct ServedProjector {
    router: ProjectorRouter,
    rows: Mutex<RowStore>,
}

impl ServedProjector {
    fn handle(&self, book: &EventBook) -> Result<Option<Any>, Status> {
        let mut rows = self
            .rows
            .lock()
            .map_err(|_| Status::internal("row store lock poisoned by an earlier panic"))?;
        self.router.handle(&mut rows, book)
    }
}

#[tonic::async_trait]
impl Projector for ServedProjector {
    async fn handle(&self, request: Request<EventBook>) -> Result<Response<()>, Status> {
        ServedProjector::handle(self, request.get_ref())?;
        Ok(Response::new(()))
    }

    async fn handle_sync(
        &self,
        request: Request<EventBook>,
    ) -> Result<Response<Projection>, Status> {
        let book = request.get_ref();
        let projection = ServedProjector::handle(self, book)?;
        Ok(Response::new(Projection {
            cover: book.cover.clone(),
            projector: self.router.name.clone(),
            sequence: book
                .pages
                .last()
                .and_then(angzarr_proto::EventPageExt::sequence_num)
                .unwrap_or_default(),
            projection,
        }))
    }

    async fn get_descriptor(
        &self,
        _request: Request<GetDescriptorRequest>,
    ) -> Result<Response<ComponentDescriptor>, Status> {
        Ok(Response::new(self.router.descriptor()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::{Cover, CoverExt, EventPage, EventPageExt};
    use prost_types::{Duration, Timestamp};
    use uuid::Uuid;

    // Rows are Durations keyed by root: seconds = the last Timestamp's seconds, nanos = the
    // sequence last applied (so a redelivery is recognised). A negative Timestamp fails.
    fn projector() -> ProjectorRouter {
        ProjectorRouter::new("projector-clock", "clock").on(
            |rows: &mut RowStore, context: &EventContext, tick: Timestamp| {
                let key = context.root.to_string();
                let seen = rows.get::<Duration>(&key)?;
                if seen.is_some_and(|row| row.nanos >= context.sequence as i32) {
                    return Ok(());
                }
                rows.put(
                    &key,
                    &Duration {
                        seconds: tick.seconds,
                        nanos: context.sequence as i32,
                    },
                )?;
                if tick.seconds < 0 {
                    return Err(Status::internal("negative time"));
                }
                Ok(())
            },
        )
    }

    fn book(sequence: u32, seconds: i64) -> EventBook {
        let mut page = EventPage {
            event: Some(pack(&Timestamp { seconds, nanos: 0 })),
            ..EventPage::default()
        };
        page.set_sequence_num(sequence);
        EventBook {
            cover: Some(Cover::for_root("clock", Uuid::from_u128(1))),
            pages: vec![page],
            ..EventBook::default()
        }
    }

    fn row(rows: &RowStore) -> Option<Duration> {
        rows.get(&Uuid::from_u128(1).to_string()).expect("get")
    }

    #[test]
    fn writes_rows_and_ignores_redeliveries() {
        let mut rows = RowStore::in_memory().expect("store");
        let written = projector()
            .handle(&mut rows, &book(1, 10))
            .expect("handled");
        let expected = Duration {
            seconds: 10,
            nanos: 1,
        };
        assert_eq!(written, Some(pack(&expected)));
        assert_eq!(row(&rows), Some(expected));
        // Redelivery of sequence 1, then an older one: unchanged, and no projection.
        assert_eq!(
            projector().handle(&mut rows, &book(1, 99)).expect("ok"),
            None
        );
        assert_eq!(
            projector().handle(&mut rows, &book(0, 99)).expect("ok"),
            None
        );
        assert_eq!(row(&rows), Some(expected));
        assert_eq!(rows.rows().expect("rows").len(), 1);
    }

    #[test]
    fn a_failed_delivery_leaves_no_partial_rows() {
        let mut rows = RowStore::in_memory().expect("store");
        let err = projector()
            .handle(&mut rows, &book(1, -1))
            .expect_err("fails");
        assert_eq!(err.code(), tonic::Code::Internal);
        assert_eq!(row(&rows), None);
        assert!(rows.rows().expect("rows").is_empty());
    }

    #[test]
    fn a_file_store_keeps_rows_across_reopening_and_checks_types() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/rows.db");
        {
            let mut rows = RowStore::open(&path).expect("open");
            projector().handle(&mut rows, &book(2, 5)).expect("handled");
        }
        let rows = RowStore::open(&path).expect("reopen");
        assert_eq!(row(&rows).map(|d| d.seconds), Some(5));
        assert!(
            rows.contains(&Uuid::from_u128(1).to_string())
                .expect("contains")
        );
        let wrong = rows
            .get::<Timestamp>(&Uuid::from_u128(1).to_string())
            .expect_err("wrong type");
        assert!(wrong.message().contains("google.protobuf.Duration"));
        let descriptor = projector().descriptor();
        assert_eq!(descriptor.inputs[0].types, vec!["Timestamp".to_string()]);
        assert_eq!(
            Cover::for_root("clock", Uuid::from_u128(1)).root_uuid(),
            Some(Uuid::from_u128(1))
        );
    }
}
