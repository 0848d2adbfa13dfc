//! A projector from plain functions, writing rows to a [`RowStore`].
//!
//! A projector turns events into read-model rows: `fn(&mut RowStore, &EventContext, Event)`.
//! Delivery is at least once (a crash between the row write and the runtime's checkpoint
//! redelivers), so a handler keeps the sequence it last applied in its row and ignores
//! anything not above it. Each delivery runs in one store transaction: a failing handler
//! leaves no partial rows behind, and the runtime retries the whole delivery.
//!
//! A speculative run (`Projector.HandleSpeculative`) runs the same handlers in a transaction
//! that is always rolled back: the projections are what the events would produce on the
//! current rows, and the store is left exactly as it was.

use std::fmt;
use std::path::Path;
use std::sync::Mutex;

use angzarr_proto::projector_server::{Projector, ProjectorServer};
use angzarr_proto::{
    AnyExt, ComponentDescriptor, EventBook, GetDescriptorRequest, Projection,
    SpeculativeProjectionRequest, SpeculativeProjections, Target,
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

    /// Applies `change` to the row at `key` for the event at `sequence`, once.
    ///
    /// Delivery is at least once, so a row records the sequence of the last event applied to
    /// it (the field `last_sequence` names); an event not above it is a redelivery and changes
    /// nothing. A missing row starts from the default and has applied nothing, not even
    /// sequence 0. Returns whether the row changed.
    pub fn update_once<M: Message + Name + Default>(
        &mut self,
        key: &str,
        sequence: u32,
        last_sequence: impl Fn(&mut M) -> &mut u32,
        change: impl FnOnce(&mut M),
    ) -> Result<bool, Status> {
        let (mut row, stored) = match self.get::<M>(key)? {
            Some(row) => (row, true),
            None => (M::default(), false),
        };
        if stored && *last_sequence(&mut row) >= sequence {
            return Ok(false);
        }
        change(&mut row);
        *last_sequence(&mut row) = sequence;
        self.put(key, &row)?;
        Ok(true)
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

    /// Runs `work` in a transaction that is always rolled back: what it would write, without
    /// writing it.
    fn rehearse<T>(
        &mut self,
        work: impl FnOnce(&mut Self) -> Result<T, Status>,
    ) -> Result<T, Status> {
        self.written.clear();
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(store_error)?;
        let result = work(self);
        self.written.clear();
        self.conn.execute_batch("ROLLBACK").map_err(store_error)?;
        result
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
                editions: Vec::new(),
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

    /// What [`handle`](Self::handle) would write for each book in turn (each seeing the rows
    /// of the ones before), leaving `rows` unchanged: the last row each book would write.
    pub fn speculate(
        &self,
        rows: &mut RowStore,
        books: &[EventBook],
    ) -> Result<Vec<Option<Any>>, Status> {
        let pages = books
            .iter()
            .map(EventContext::pages)
            .collect::<Result<Vec<_>, _>>()?;
        rows.rehearse(|rows| {
            let mut projections = Vec::with_capacity(pages.len());
            for book in pages {
                rows.written.clear();
                for (context, event) in book {
                    let name = event.full_type_name();
                    if let Some((.., handler)) =
                        self.handlers.iter().find(|(full, ..)| full == name)
                    {
                        handler(rows, &context, event)?;
                    }
                }
                projections.push(rows.written.pop());
            }
            Ok(projections)
        })
    }

    /// The gRPC service over `rows`, ready for [`serve`](crate::serve).
    pub fn into_server(self, rows: RowStore) -> ProjectorServer<ServedProjector> {
        ProjectorServer::new(ServedProjector {
            router: self,
            rows: Mutex::new(rows),
        })
        .max_decoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES)
        .max_encoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES)
    }
}

/// A [`ProjectorRouter`] with its store, as served over gRPC.
#[derive(Debug)]
pub struct ServedProjector {
    router: ProjectorRouter,
    rows: Mutex<RowStore>,
}

impl ServedProjector {
    fn rows(&self) -> Result<std::sync::MutexGuard<'_, RowStore>, Status> {
        self.rows
            .lock()
            .map_err(|_| Status::internal("row store lock poisoned by an earlier panic"))
    }

    fn handle(&self, book: &EventBook) -> Result<Option<Any>, Status> {
        self.router.handle(&mut *self.rows()?, book)
    }

    fn projection(&self, book: &EventBook, projection: Option<Any>) -> Projection {
        Projection {
            cover: book.cover.clone(),
            projector: self.router.name.clone(),
            sequence: book
                .pages
                .last()
                .and_then(angzarr_proto::EventPageExt::sequence_num)
                .unwrap_or_default(),
            projection,
        }
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
        Ok(Response::new(self.projection(book, projection)))
    }

    async fn handle_speculative(
        &self,
        request: Request<SpeculativeProjectionRequest>,
    ) -> Result<Response<SpeculativeProjections>, Status> {
        let books = &request.get_ref().books;
        let projections = self.router.speculate(&mut *self.rows()?, books)?;
        Ok(Response::new(SpeculativeProjections {
            projections: books
                .iter()
                .zip(projections)
                .map(|(book, projection)| self.projection(book, projection))
                .collect(),
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
    fn a_speculative_run_sees_its_own_rows_and_leaves_the_store_unchanged() {
        let mut rows = RowStore::in_memory().expect("store");
        projector()
            .handle(&mut rows, &book(1, 10))
            .expect("handled");
        let before = rows.rows().expect("rows");
        let speculated = projector()
            .speculate(&mut rows, &[book(2, 20), book(3, 30), book(1, 99)])
            .expect("speculated");
        let row = |seconds, nanos| Some(pack(&Duration { seconds, nanos }));
        assert_eq!(
            speculated,
            vec![row(20, 2), row(30, 3), None],
            "each book sees the rows of the ones before it"
        );
        assert_eq!(rows.rows().expect("rows"), before, "nothing was written");
        let failed = projector().speculate(&mut rows, &[book(4, 40), book(5, -1)]);
        assert_eq!(failed.expect_err("fails").code(), tonic::Code::Internal);
        assert_eq!(rows.rows().expect("rows"), before);
        projector()
            .handle(&mut rows, &book(2, 21))
            .expect("still usable");
        assert_eq!(self::row(&rows).map(|d| d.seconds), Some(21));
    }

    #[test]
    fn update_once_applies_each_sequence_once_starting_with_zero() {
        let mut rows = RowStore::in_memory().expect("store");
        let mut apply = |sequence: u32| {
            rows.update_once(
                "k",
                sequence,
                |row: &mut Counted| &mut row.last_sequence,
                |row| row.changes += 1,
            )
            .expect("update")
        };
        assert!(apply(0), "a missing row has applied nothing, not even 0");
        assert!(!apply(0), "a redelivery changes nothing");
        assert!(apply(2));
        assert!(!apply(1), "an event older than the row changes nothing");
        let row: Counted = rows.get("k").expect("get").expect("row");
        assert_eq!((row.changes, row.last_sequence), (2, 2));
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Counted {
        #[prost(uint32, tag = "1")]
        last_sequence: u32,
        #[prost(uint32, tag = "2")]
        changes: u32,
    }
    impl Name for Counted {
        const PACKAGE: &'static str = "test.rows";
        const NAME: &'static str = "Counted";
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
