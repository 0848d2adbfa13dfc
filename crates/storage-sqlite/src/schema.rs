//! Opening connections and creating or checking the schema.
//!
//! The file is marked twice: `PRAGMA application_id` says angzarr made it, `PRAGMA
//! user_version` says which schema it holds. A file made by anything else, or by a newer
//! angzarr, is refused before anything is written to it.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use crate::error::{Context, Error};
use crate::options::SqliteOptions;

/// The schema this build writes and reads.
pub(crate) const SCHEMA_VERSION: i64 = 4;

/// `PRAGMA application_id` of angzarr event stores: "ANGZ".
const APPLICATION_ID: i64 = 0x414e_475a;

/// Schema version 1. `events.position` is the rowid: SQLite gives a new row the largest
/// rowid + 1, and only the single writer inserts, so positions follow commit order without
/// gaps (rows are never deleted, and a rolled-back savepoint leaves no trace).
const SCHEMA_V1: &str = "
CREATE TABLE events (
    position       INTEGER PRIMARY KEY,  -- global position: commit order, from 1, no gaps
    domain         TEXT    NOT NULL,
    edition        TEXT    NOT NULL,     -- empty for the main timeline
    root           BLOB    NOT NULL,     -- 16 bytes
    sequence       INTEGER NOT NULL,     -- 0, 1, 2, ... per history
    created_at     INTEGER NOT NULL,     -- microseconds since the Unix epoch
    correlation_id TEXT    NOT NULL,
    type_url       TEXT    NOT NULL,     -- the event's google.protobuf.Any
    payload        BLOB    NOT NULL,
    causation      BLOB,                 -- encoded angzarr.Causation, NULL when none
    UNIQUE (domain, edition, root, sequence)
) STRICT;

CREATE TABLE snapshots (
    domain   TEXT    NOT NULL,
    edition  TEXT    NOT NULL,
    root     BLOB    NOT NULL,
    sequence INTEGER NOT NULL,           -- the last event folded into the state
    type_url TEXT,                       -- the state's google.protobuf.Any, NULL when none
    payload  BLOB,
    PRIMARY KEY (domain, edition, root)
) STRICT, WITHOUT ROWID;

CREATE TABLE idempotency (
    key            TEXT    PRIMARY KEY,
    command_hash   BLOB    NOT NULL,
    domain         TEXT    NOT NULL,
    edition        TEXT    NOT NULL,
    root           BLOB    NOT NULL,
    first_sequence INTEGER NOT NULL,
    event_count    INTEGER NOT NULL,
    correlation_id TEXT    NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE checkpoints (
    subscriber TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
";

/// Opens the writer's connection: checks the file, turns on WAL, applies the durability and
/// creates or checks the schema.
pub(crate) fn open_writer(options: &SqliteOptions) -> Result<Connection, Error> {
    let mut conn = open_connection(options)?;
    ensure_database(&conn, &options.path)?;
    if !options.is_in_memory() {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .context(|| format!("cannot switch {} to WAL mode", options.path.display()))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Io {
                context: format!("cannot switch {} to WAL mode", options.path.display()),
                source: std::io::Error::other(format!("SQLite kept journal mode {mode:?}")),
            });
        }
        // Checkpoints run on their own thread (`checkpointer`), never inside a commit.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .context(|| "cannot turn off automatic WAL checkpoints".into())?;
    }
    conn.pragma_update(None, "synchronous", options.durability.pragma_value())
        .context(|| "cannot set PRAGMA synchronous".into())?;
    migrate(&mut conn, &options.path)?;
    Ok(conn)
}

/// Opens a reader's connection (after the writer's, so the schema exists).
pub(crate) fn open_reader(options: &SqliteOptions) -> Result<Connection, Error> {
    let conn = open_connection(options)?;
    conn.pragma_update(None, "query_only", true)
        .context(|| "cannot make a reader connection read-only".into())?;
    Ok(conn)
}

fn open_connection(options: &SqliteOptions) -> Result<Connection, Error> {
    let conn = Connection::open(&options.path)
        .context(|| format!("cannot open the event store {}", options.path.display()))?;
    conn.busy_timeout(options.busy_timeout)
        .context(|| "cannot set the busy timeout".into())?;
    if !options.is_in_memory() {
        // SQLite caps the size at its compile-time limit and answers with what it applied.
        let bytes = i64::try_from(options.mmap_bytes).unwrap_or(i64::MAX);
        conn.query_row(&format!("PRAGMA mmap_size = {bytes}"), [], |row| {
            row.get::<_, i64>(0)
        })
        .context(|| "cannot set PRAGMA mmap_size".into())?;
    }
    Ok(conn)
}

/// SQLite opens any file lazily; the first read tells whether it is a database.
fn ensure_database(conn: &Connection, path: &Path) -> Result<(), Error> {
    match conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| {
        row.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(()),
        Err(err) if err.sqlite_error_code() == Some(ErrorCode::NotADatabase) => {
            Err(Error::NotADatabase {
                path: path.to_path_buf(),
            })
        }
        Err(source) => Err(Error::Sqlite {
            context: format!("cannot read {}", path.display()),
            source,
        }),
    }
}

/// Schema version 2 adds parked events (dead letters of subscribers).
const SCHEMA_V2: &str = "
CREATE TABLE parked (
    id         INTEGER PRIMARY KEY,
    subscriber TEXT    NOT NULL,
    position   INTEGER NOT NULL,        -- the event's global position
    error      TEXT    NOT NULL,        -- the last error
    attempts   INTEGER NOT NULL,
    parked_at  INTEGER NOT NULL         -- microseconds since the Unix epoch
) STRICT;
CREATE INDEX parked_by_subscriber ON parked (subscriber, id);
";

/// Schema version 3 adds editions (named branches of an aggregate's main history), the index
/// behind correlation queries, and the position floor that keeps positions of deleted edition
/// events from being handed out again: a new row normally gets the largest rowid + 1, which
/// would reuse the positions of deleted rows at the end of the log.
const SCHEMA_V3: &str = "
CREATE TABLE editions (
    domain     TEXT    NOT NULL,
    root       BLOB    NOT NULL,
    name       TEXT    NOT NULL,
    divergence INTEGER NOT NULL,        -- the last main sequence the edition shares
    created_at INTEGER NOT NULL,        -- microseconds since the Unix epoch
    PRIMARY KEY (domain, root, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX events_by_correlation ON events (correlation_id, position);
CREATE TABLE position_floor (
    id       INTEGER PRIMARY KEY CHECK (id = 0),
    position INTEGER NOT NULL           -- the highest position ever assigned
) STRICT;
";

/// Schema version 4 never hands a parked id out twice (`AUTOINCREMENT`; a plain rowid reused
/// the id of the last record once it was removed), so a re-drive or update naming a removed
/// record cannot reach an event parked later. The table is rebuilt with its rows.
const SCHEMA_V4: &str = "
CREATE TABLE parked_v4 (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber TEXT    NOT NULL,
    position   INTEGER NOT NULL,        -- the event's global position
    error      TEXT    NOT NULL,        -- the last error
    attempts   INTEGER NOT NULL,
    parked_at  INTEGER NOT NULL         -- microseconds since the Unix epoch
) STRICT;
INSERT INTO parked_v4 (id, subscriber, position, error, attempts, parked_at)
    SELECT id, subscriber, position, error, attempts, parked_at FROM parked;
DROP TABLE parked;
ALTER TABLE parked_v4 RENAME TO parked;
CREATE INDEX parked_by_subscriber ON parked (subscriber, id);
";

/// Creates the schema in an empty file, or checks that the file holds one this build knows.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), Error> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context(|| format!("cannot lock {} to check its schema", path.display()))?;
    let application_id: i64 = tx
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .context(|| "cannot read PRAGMA application_id".into())?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .context(|| "cannot read PRAGMA user_version".into())?;
    let tables: i64 = tx
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
        .context(|| "cannot list the tables".into())?;
    let foreign = |reason: String| Error::ForeignDatabase {
        path: path.to_path_buf(),
        reason,
    };

    match (application_id, version) {
        (0, 0) if tables == 0 => {
            tx.execute_batch(SCHEMA_V1)
                .and_then(|()| tx.execute_batch(SCHEMA_V2))
                .and_then(|()| tx.execute_batch(SCHEMA_V3))
                .and_then(|()| tx.execute_batch(SCHEMA_V4))
                .context(|| "cannot create the event store schema".into())?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .context(|| "cannot set PRAGMA application_id".into())?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .context(|| "cannot set PRAGMA user_version".into())?;
            tracing::info!(path = %path.display(), version = SCHEMA_VERSION, "created the event store schema");
        }
        (APPLICATION_ID, SCHEMA_VERSION) => {}
        (APPLICATION_ID, from @ (1..=3)) => {
            let upgrades = [(2, SCHEMA_V2), (3, SCHEMA_V3), (4, SCHEMA_V4)];
            for (to, upgrade) in upgrades.into_iter().filter(|(to, _)| *to > from) {
                tx.execute_batch(upgrade)
                    .context(|| format!("cannot upgrade the event store schema to version {to}"))?;
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .context(|| "cannot set PRAGMA user_version".into())?;
            tracing::info!(path = %path.display(), from, to = SCHEMA_VERSION, "upgraded the event store schema");
        }
        (APPLICATION_ID, found) => {
            return Err(Error::UnsupportedSchema {
                path: path.to_path_buf(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        (0, _) => {
            return Err(foreign(format!(
                "it has {tables} tables and user_version {version}, but no angzarr application_id"
            )));
        }
        (other, _) => return Err(foreign(format!("application_id {other:#x}"))),
    }
    tx.commit()
        .context(|| format!("cannot create the schema in {}", path.display()))
}
