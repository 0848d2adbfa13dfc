//! The queries, and the mapping between rows and the storage API's types.
//!
//! Every function takes a plain `&Connection`, so the writer runs them inside its transaction
//! and the readers inside theirs.

use std::time::{SystemTime, UNIX_EPOCH};

use angzarr_proto::{Causation, Snapshot};
use angzarr_runtime::storage::{
    AppendRequest, Checkpoint, Edition, HistoryKey, IdempotencyRecord, LoadedHistory, NewEvent,
    ParkRequest, ParkedRecord, StorageError, StorageResult, StoredEvent, validate_edition_name,
};
use prost::Message;
use prost_types::{Any, Timestamp};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use crate::error::{Context, Error};

const EVENT_COLUMNS: &str = "position, domain, edition, root, sequence, created_at, \
                             correlation_id, type_url, payload, causation";

/// The current time in microseconds since the Unix epoch, the resolution events are kept in.
pub(crate) fn now_micros() -> i64 {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros());
    i64::try_from(micros).unwrap_or(i64::MAX)
}

fn timestamp(micros: i64) -> Timestamp {
    let nanos = micros.rem_euclid(1_000_000) * 1_000;
    Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(nanos).unwrap_or(0),
    }
}

/// A position or limit as SQLite's integer (they never come near `i64::MAX` in practice).
fn integer(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A row value that does not decode, as the error rusqlite reports for its own conversions.
fn bad_column(
    index: usize,
    column: Type,
    err: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, column, Box::new(err))
}

fn event_row(row: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    let root: Vec<u8> = row.get(3)?;
    let root = Uuid::from_slice(&root).map_err(|err| bad_column(3, Type::Blob, err))?;
    let causation = row
        .get::<_, Option<Vec<u8>>>(9)?
        .map(|bytes| Causation::decode(bytes.as_slice()))
        .transpose()
        .map_err(|err| bad_column(9, Type::Blob, err))?;
    Ok(StoredEvent {
        position: row.get(0)?,
        key: HistoryKey {
            domain: row.get(1)?,
            edition: row.get(2)?,
            root,
        },
        sequence: row.get(4)?,
        created_at: timestamp(row.get(5)?),
        correlation_id: row.get(6)?,
        event: Any {
            type_url: row.get(7)?,
            value: row.get(8)?,
        },
        causation,
    })
}

/// The columns [`history_row`] reads: an event of a known history.
const HISTORY_COLUMNS: &str =
    "position, sequence, created_at, correlation_id, type_url, payload, causation";

/// An event of `key`'s history. Long histories are read row by row, so this reads only what
/// the key does not already say and decodes the causation from the row in place.
fn history_row(key: &HistoryKey, row: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    let causation = match row.get_ref(6)? {
        rusqlite::types::ValueRef::Null => None,
        value => Some(
            Causation::decode(value.as_blob()?).map_err(|err| bad_column(6, Type::Blob, err))?,
        ),
    };
    Ok(StoredEvent {
        position: row.get(0)?,
        key: key.clone(),
        sequence: row.get(1)?,
        created_at: timestamp(row.get(2)?),
        correlation_id: row.get(3)?,
        event: Any {
            type_url: row.get(4)?,
            value: row.get(5)?,
        },
        causation,
    })
}

/// The next sequence of a history (0 when it has no events).
pub(crate) fn next_sequence(conn: &Connection, key: &HistoryKey) -> Result<u32, Error> {
    let last: Option<u32> = conn
        .prepare_cached(
            "SELECT MAX(sequence) FROM events WHERE domain = ?1 AND edition = ?2 AND root = ?3",
        )
        .and_then(|mut stmt| {
            stmt.query_row(
                params![key.domain, key.edition, key.root.as_bytes()],
                |row| row.get(0),
            )
        })
        .context(|| format!("cannot read the next sequence of {key}"))?;
    match last {
        None => Ok(divergence(conn, key)?.map_or(0, |d| d.saturating_add(1))),
        Some(last) => last
            .checked_add(1)
            .ok_or_else(|| Error::Corrupt(format!("{key} is beyond the sequence range"))),
    }
}

/// The divergence sequence of a created edition (`None` for main and for editions never
/// created).
pub(crate) fn divergence(conn: &Connection, key: &HistoryKey) -> Result<Option<u32>, Error> {
    if key.is_main() {
        return Ok(None);
    }
    conn.prepare_cached(
        "SELECT divergence FROM editions WHERE domain = ?1 AND root = ?2 AND name = ?3",
    )
    .and_then(|mut stmt| {
        stmt.query_row(
            params![key.domain, key.root.as_bytes(), key.edition],
            |row| row.get(0),
        )
        .optional()
    })
    .context(|| format!("cannot read the edition {key}"))
}

/// Events of one history with `from <= sequence < to`, in sequence order: for a created
/// edition, main's events up to the divergence followed by its own.
pub(crate) fn history(
    conn: &Connection,
    key: &HistoryKey,
    from: u64,
    to: Option<u64>,
) -> Result<Vec<StoredEvent>, Error> {
    let Some(divergence) = divergence(conn, key)? else {
        return own_history(conn, key, from, to, 0);
    };
    let shared_end = u64::from(divergence) + 1;
    let mut events = own_history(
        conn,
        &key.with_edition(""),
        from,
        Some(to.map_or(shared_end, |to| to.min(shared_end))),
        0,
    )?;
    events.extend(own_history(conn, key, from, to, 0)?);
    Ok(events)
}

/// [`history`] in one read transaction, so an edition's two parts are consistent.
pub(crate) fn read_history(
    conn: &mut Connection,
    key: &HistoryKey,
    from: u64,
    to: Option<u64>,
) -> Result<Vec<StoredEvent>, Error> {
    let tx = conn
        .transaction()
        .context(|| format!("cannot start a read of {key}"))?;
    let events = history(&tx, key, from, to)?;
    tx.finish()
        .context(|| format!("cannot finish a read of {key}"))?;
    Ok(events)
}

/// The events stored under exactly this key, `from <= sequence < to`; `capacity` is how many
/// there will be, when the caller knows (a long history then fills one allocation instead
/// of growing through a dozen).
fn own_history(
    conn: &Connection,
    key: &HistoryKey,
    from: u64,
    to: Option<u64>,
    capacity: usize,
) -> Result<Vec<StoredEvent>, Error> {
    let sql = format!(
        "SELECT {HISTORY_COLUMNS} FROM events \
         WHERE domain = ?1 AND edition = ?2 AND root = ?3 AND sequence >= ?4 AND sequence < ?5 \
         ORDER BY sequence"
    );
    let to = to.map_or(i64::MAX, integer);
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| {
            let rows = stmt.query_map(
                params![
                    key.domain,
                    key.edition,
                    key.root.as_bytes(),
                    integer(from),
                    to
                ],
                |row| history_row(key, row),
            )?;
            let mut events = Vec::with_capacity(capacity);
            for event in rows {
                events.push(event?);
            }
            Ok(events)
        })
        .context(|| format!("cannot read the events of {key}"))
}

/// Up to `limit` events with position `> after`, in position order.
pub(crate) fn global(
    conn: &Connection,
    after: u64,
    limit: usize,
) -> Result<Vec<StoredEvent>, Error> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE position > ?1 ORDER BY position LIMIT ?2"
    );
    let limit = integer(u64::try_from(limit).unwrap_or(u64::MAX));
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_map(params![integer(after), limit], event_row)?
                .collect()
        })
        .context(|| format!("cannot read the global log after position {after}"))
}

/// The highest committed position (0 for an empty log).
pub(crate) fn head(conn: &Connection) -> Result<u64, Error> {
    conn.prepare_cached("SELECT COALESCE(MAX(position), 0) FROM events")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .context(|| "cannot read the head position".into())
}

/// The stored snapshot of a history.
pub(crate) fn snapshot(conn: &Connection, key: &HistoryKey) -> Result<Option<Snapshot>, Error> {
    conn.prepare_cached(
        "SELECT sequence, type_url, payload FROM snapshots \
         WHERE domain = ?1 AND edition = ?2 AND root = ?3",
    )
    .and_then(|mut stmt| {
        stmt.query_row(
            params![key.domain, key.edition, key.root.as_bytes()],
            |row| {
                let type_url: Option<String> = row.get(1)?;
                let payload: Option<Vec<u8>> = row.get(2)?;
                Ok(Snapshot {
                    sequence: row.get(0)?,
                    state: type_url.map(|type_url| Any {
                        type_url,
                        value: payload.unwrap_or_default(),
                    }),
                })
            },
        )
        .optional()
    })
    .context(|| format!("cannot read the snapshot of {key}"))
}

/// Snapshot, events after it and next sequence, all from one read transaction.
pub(crate) fn load(
    conn: &mut Connection,
    key: &HistoryKey,
    use_snapshot: bool,
) -> Result<LoadedHistory, Error> {
    let tx = conn
        .transaction()
        .context(|| format!("cannot start a read of {key}"))?;
    let snapshot = if use_snapshot {
        match (snapshot(&tx, key)?, divergence(&tx, key)?) {
            (Some(own), _) => Some(own),
            // An edition may start from main's snapshot when it lies within the shared part.
            (None, Some(divergence)) => {
                snapshot(&tx, &key.with_edition(""))?.filter(|s| s.sequence <= divergence)
            }
            (None, None) => None,
        }
    } else {
        None
    };
    let (events, next_sequence) = match &snapshot {
        // Without a snapshot a main timeline may be long: its length first, then its events
        // in one allocation (none at all for a new aggregate).
        None if key.is_main() => match next_sequence(&tx, key)? {
            0 => (Vec::new(), 0),
            next => (
                own_history(&tx, key, 0, None, usize::try_from(next).unwrap_or(0))?,
                next,
            ),
        },
        _ => {
            let from = snapshot.as_ref().map_or(0, |s| u64::from(s.sequence) + 1);
            let events = history(&tx, key, from, None)?;
            // After a snapshot the events just read say where the history ends.
            let next = match events.last() {
                Some(last) => last.sequence.saturating_add(1),
                None => next_sequence(&tx, key)?,
            };
            (events, next)
        }
    };
    tx.finish()
        .context(|| format!("cannot finish a read of {key}"))?;
    Ok(LoadedHistory {
        snapshot,
        events,
        next_sequence,
    })
}

/// The record stored for an idempotency key.
pub(crate) fn idempotency(
    conn: &Connection,
    key: &str,
) -> Result<Option<IdempotencyRecord>, Error> {
    conn.prepare_cached(
        "SELECT command_hash, domain, edition, root, first_sequence, event_count, correlation_id \
         FROM idempotency WHERE key = ?1",
    )
    .and_then(|mut stmt| {
        stmt.query_row([key], |row| {
            let root: Vec<u8> = row.get(3)?;
            Ok(IdempotencyRecord {
                key: key.to_string(),
                command_hash: row.get(0)?,
                history: HistoryKey {
                    domain: row.get(1)?,
                    edition: row.get(2)?,
                    root: Uuid::from_slice(&root).map_err(|err| bad_column(3, Type::Blob, err))?,
                },
                first_sequence: row.get(4)?,
                event_count: row.get(5)?,
                correlation_id: row.get(6)?,
            })
        })
        .optional()
    })
    .context(|| format!("cannot read idempotency key {key:?}"))
}

/// A subscriber's checkpoint (0 when it has none).
pub(crate) fn checkpoint(conn: &Connection, subscriber: &str) -> Result<u64, Error> {
    conn.prepare_cached("SELECT position FROM checkpoints WHERE subscriber = ?1")
        .and_then(|mut stmt| stmt.query_row([subscriber], |row| row.get(0)).optional())
        .map(Option::unwrap_or_default)
        .context(|| format!("cannot read the checkpoint of {subscriber:?}"))
}

/// Checks and applies one append; the caller wraps it in a savepoint, so an error leaves
/// nothing behind.
pub(crate) fn append(
    conn: &Connection,
    request: AppendRequest,
    created_at: i64,
) -> StorageResult<Vec<StoredEvent>> {
    request.validate()?;
    if let Some(record) = &request.idempotency
        && let Some(existing) = idempotency(conn, &record.key)?
    {
        return Err(StorageError::DuplicateIdempotencyKey(Box::new(existing)));
    }
    let actual = next_sequence(conn, &request.key)?;
    if actual != request.expected_next {
        return Err(StorageError::Conflict {
            key: request.key,
            expected: request.expected_next,
            actual,
        });
    }
    let AppendRequest {
        key,
        expected_next,
        correlation_id,
        events,
        snapshot,
        idempotency,
        checkpoint,
    } = request;
    let committed = insert_events(
        conn,
        &key,
        expected_next,
        &correlation_id,
        events,
        created_at,
    )?;
    if let Some(snapshot) = &snapshot {
        store_snapshot(conn, &key, snapshot)?;
    }
    if let Some(record) = &idempotency {
        insert_idempotency(conn, record)?;
    }
    if let Some(checkpoint) = &checkpoint {
        move_checkpoint(conn, checkpoint)?;
    }
    Ok(committed)
}

/// Inserts `events` from sequence `first` on; they move into the answer, uncopied.
fn insert_events(
    conn: &Connection,
    key: &HistoryKey,
    first: u32,
    correlation_id: &str,
    events: Vec<NewEvent>,
    created_at: i64,
) -> Result<Vec<StoredEvent>, Error> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    // NULL lets SQLite pick the largest rowid + 1, unless deleted events held higher ones.
    let mut position: Option<i64> = position_floor(conn)?.map(|floor| floor + 1);
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO events (position, domain, edition, root, sequence, created_at, \
             correlation_id, type_url, payload, causation) \
             VALUES (?10, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .context(|| "cannot prepare the event insert".into())?;
    let mut committed = Vec::with_capacity(events.len());
    for (sequence, event) in (first..).zip(events) {
        let causation = event.causation.as_ref().map(Message::encode_to_vec);
        stmt.execute(params![
            key.domain,
            key.edition,
            key.root.as_bytes(),
            sequence,
            created_at,
            correlation_id,
            event.event.type_url,
            event.event.value,
            causation,
            position.take(),
        ])
        .context(|| format!("cannot insert event {sequence} of {key}"))?;
        let position = u64::try_from(conn.last_insert_rowid())
            .map_err(|_| Error::Corrupt("a negative global position".into()))?;
        committed.push(StoredEvent {
            key: key.clone(),
            sequence,
            position,
            created_at: timestamp(created_at),
            event: event.event,
            correlation_id: correlation_id.to_owned(),
            causation: event.causation,
        });
    }
    Ok(committed)
}

/// Stores a snapshot unless a newer one is stored.
pub(crate) fn store_snapshot(
    conn: &Connection,
    key: &HistoryKey,
    snapshot: &Snapshot,
) -> Result<(), Error> {
    let (type_url, payload) = match &snapshot.state {
        Some(state) => (Some(&state.type_url), Some(&state.value)),
        None => (None, None),
    };
    conn.prepare_cached(
        "INSERT INTO snapshots (domain, edition, root, sequence, type_url, payload) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (domain, edition, root) DO UPDATE \
         SET sequence = excluded.sequence, type_url = excluded.type_url, payload = excluded.payload \
         WHERE excluded.sequence >= snapshots.sequence",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            key.domain,
            key.edition,
            key.root.as_bytes(),
            snapshot.sequence,
            type_url,
            payload,
        ])
    })
    .context(|| format!("cannot store the snapshot of {key}"))?;
    Ok(())
}

/// Checks and applies `put_snapshot`.
pub(crate) fn put_snapshot(
    conn: &Connection,
    key: &HistoryKey,
    snapshot: &Snapshot,
) -> StorageResult<()> {
    let next = next_sequence(conn, key)?;
    if snapshot.sequence >= next {
        return Err(StorageError::Invalid(format!(
            "snapshot at sequence {} lies beyond {key}, whose next sequence is {next}",
            snapshot.sequence
        )));
    }
    Ok(store_snapshot(conn, key, snapshot)?)
}

fn insert_idempotency(conn: &Connection, record: &IdempotencyRecord) -> Result<(), Error> {
    let history = &record.history;
    conn.prepare_cached(
        "INSERT INTO idempotency (key, command_hash, domain, edition, root, first_sequence, \
         event_count, correlation_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            record.key,
            record.command_hash,
            history.domain,
            history.edition,
            history.root.as_bytes(),
            record.first_sequence,
            record.event_count,
            record.correlation_id,
        ])
    })
    .context(|| format!("cannot record idempotency key {:?}", record.key))?;
    Ok(())
}

/// Moves a checkpoint forward (a lower position is ignored).
pub(crate) fn move_checkpoint(conn: &Connection, checkpoint: &Checkpoint) -> StorageResult<()> {
    if checkpoint.subscriber.is_empty() {
        return Err(StorageError::Invalid(
            "the checkpoint has no subscriber".into(),
        ));
    }
    let position = i64::try_from(checkpoint.position).map_err(|_| {
        StorageError::Invalid(format!(
            "checkpoint position {} is beyond the global log's range",
            checkpoint.position
        ))
    })?;
    conn.prepare_cached(
        "INSERT INTO checkpoints (subscriber, position) VALUES (?1, ?2) \
         ON CONFLICT (subscriber) DO UPDATE SET position = MAX(position, excluded.position)",
    )
    .and_then(|mut stmt| stmt.execute(params![checkpoint.subscriber, position]))
    .context(|| format!("cannot move the checkpoint of {:?}", checkpoint.subscriber))?;
    Ok(())
}

fn position_param(position: u64) -> StorageResult<i64> {
    i64::try_from(position).map_err(|_| {
        StorageError::Invalid(format!(
            "position {position} is beyond the global log's range"
        ))
    })
}

/// Records a parked event and moves the subscriber's checkpoint past it.
pub(crate) fn park(conn: &Connection, request: &ParkRequest) -> StorageResult<u64> {
    if request.subscriber.is_empty() {
        return Err(StorageError::Invalid(
            "the parked event has no subscriber".into(),
        ));
    }
    move_checkpoint(
        conn,
        &Checkpoint {
            subscriber: request.subscriber.clone(),
            position: request.position,
        },
    )?;
    let position = position_param(request.position)?;
    conn.prepare_cached(
        "INSERT INTO parked (subscriber, position, error, attempts, parked_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            request.subscriber,
            position,
            request.error,
            request.attempts,
            now_micros()
        ])
    })
    .context(|| {
        format!(
            "cannot park position {} of {:?}",
            request.position, request.subscriber
        )
    })?;
    Ok(u64::try_from(conn.last_insert_rowid()).unwrap_or_default())
}

/// Parked events, oldest first.
pub(crate) fn list_parked(
    conn: &Connection,
    subscriber: Option<&str>,
) -> Result<Vec<ParkedRecord>, Error> {
    conn.prepare_cached(
        "SELECT id, subscriber, position, error, attempts, parked_at FROM parked \
         WHERE ?1 IS NULL OR subscriber = ?1 ORDER BY id",
    )
    .and_then(|mut stmt| {
        stmt.query_map([subscriber], |row| {
            Ok(ParkedRecord {
                id: row.get(0)?,
                subscriber: row.get(1)?,
                position: row.get(2)?,
                error: row.get(3)?,
                attempts: row.get(4)?,
                parked_at: timestamp(row.get(5)?),
            })
        })?
        .collect()
    })
    .context(|| "cannot list parked events".into())
}

/// Records another failed attempt of a parked event; 1 when it exists, else 0.
pub(crate) fn update_parked(
    conn: &Connection,
    id: u64,
    error: &str,
    attempts: u32,
) -> StorageResult<u64> {
    let id_param = position_param(id)?;
    let changed = conn
        .prepare_cached(
            "UPDATE parked SET error = ?2, attempts = attempts + ?3, parked_at = ?4 WHERE id = ?1",
        )
        .and_then(|mut stmt| stmt.execute(params![id_param, error, attempts, now_micros()]))
        .context(|| format!("cannot update parked event {id}"))?;
    Ok(u64::try_from(changed).unwrap_or_default())
}

/// Removes a parked event; 1 when it existed, else 0.
pub(crate) fn remove_parked(conn: &Connection, id: u64) -> StorageResult<u64> {
    let id_param = position_param(id)?;
    let changed = conn
        .prepare_cached("DELETE FROM parked WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute([id_param]))
        .context(|| format!("cannot remove parked event {id}"))?;
    Ok(u64::try_from(changed).unwrap_or_default())
}

/// Roots of a domain's main timeline after `after`, in byte order.
pub(crate) fn roots(
    conn: &Connection,
    domain: &str,
    after: Option<Uuid>,
    limit: usize,
) -> Result<Vec<Uuid>, Error> {
    let after = after
        .map(|root| root.as_bytes().to_vec())
        .unwrap_or_default();
    conn.prepare_cached(
        "SELECT DISTINCT root FROM events WHERE domain = ?1 AND edition = '' AND root > ?2 \
         ORDER BY root LIMIT ?3",
    )
    .and_then(|mut stmt| {
        stmt.query_map(
            params![domain, after, i64::try_from(limit).unwrap_or(i64::MAX)],
            |row| {
                let bytes: Vec<u8> = row.get(0)?;
                Uuid::from_slice(&bytes).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(0, Type::Blob, Box::new(e))
                })
            },
        )?
        .collect()
    })
    .context(|| format!("cannot list the roots of {domain:?}"))
}

/// The highest position ever assigned, when deleted events held positions above every event
/// still stored (`None` otherwise: then SQLite's largest rowid + 1 is the next position).
fn position_floor(conn: &Connection) -> Result<Option<i64>, Error> {
    conn.prepare_cached(
        "SELECT position FROM position_floor \
         WHERE position > (SELECT COALESCE(MAX(position), 0) FROM events)",
    )
    .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)).optional())
    .context(|| "cannot read the position floor".into())
}

fn edition_row(row: &Row<'_>) -> rusqlite::Result<Edition> {
    let root: Vec<u8> = row.get(1)?;
    Ok(Edition {
        key: HistoryKey {
            domain: row.get(0)?,
            edition: row.get(2)?,
            root: Uuid::from_slice(&root).map_err(|err| bad_column(1, Type::Blob, err))?,
        },
        divergence: row.get(3)?,
        created_at: timestamp(row.get(4)?),
    })
}

/// Checks and records a new edition (see `EventStore::create_edition`).
pub(crate) fn create_edition(
    conn: &Connection,
    key: &HistoryKey,
    divergence: u32,
) -> StorageResult<Edition> {
    validate_edition_name(&key.edition)?;
    let main_next = next_sequence(conn, &key.with_edition(""))?;
    if main_next == 0 {
        return Err(StorageError::NotFound(format!(
            "no aggregate {}/{} to branch: it has no events on the main timeline",
            key.domain, key.root
        )));
    }
    if divergence >= main_next {
        return Err(StorageError::Invalid(format!(
            "divergence sequence {divergence} is beyond {}/{}, whose last event is {}",
            key.domain,
            key.root,
            main_next - 1
        )));
    }
    if self::divergence(conn, key)?.is_some() || next_sequence(conn, key)? > 0 {
        return Err(StorageError::EditionExists(key.clone()));
    }
    let created_at = now_micros();
    conn.prepare_cached(
        "INSERT INTO editions (domain, root, name, divergence, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            key.domain,
            key.root.as_bytes(),
            key.edition,
            divergence,
            created_at
        ])
    })
    .context(|| format!("cannot create the edition {key}"))?;
    Ok(Edition {
        key: key.clone(),
        divergence,
        created_at: timestamp(created_at),
    })
}

/// The record of a created edition.
pub(crate) fn edition(conn: &Connection, key: &HistoryKey) -> Result<Option<Edition>, Error> {
    conn.prepare_cached(
        "SELECT domain, root, name, divergence, created_at FROM editions \
         WHERE domain = ?1 AND root = ?2 AND name = ?3",
    )
    .and_then(|mut stmt| {
        stmt.query_row(
            params![key.domain, key.root.as_bytes(), key.edition],
            edition_row,
        )
        .optional()
    })
    .context(|| format!("cannot read the edition {key}"))
}

/// Created editions, of a domain and root when given.
pub(crate) fn list_editions(
    conn: &Connection,
    domain: Option<&str>,
    root: Option<Uuid>,
) -> Result<Vec<Edition>, Error> {
    let root = root.map(|r| r.as_bytes().to_vec());
    conn.prepare_cached(
        "SELECT domain, root, name, divergence, created_at FROM editions \
         WHERE (?1 IS NULL OR domain = ?1) AND (?2 IS NULL OR root = ?2) \
         ORDER BY domain, root, name",
    )
    .and_then(|mut stmt| {
        stmt.query_map(params![domain, root], edition_row)?
            .collect()
    })
    .context(|| "cannot list the editions".into())
}

/// Deletes an edition and everything of its own; `None` when there is no such edition.
pub(crate) fn delete_edition(conn: &Connection, key: &HistoryKey) -> StorageResult<Option<u64>> {
    if divergence(conn, key)?.is_none() {
        return Ok(None);
    }
    let context = || format!("cannot delete the edition {key}");
    // Remember the highest position so far: deleting the log's last events must not let
    // SQLite hand their positions out again.
    conn.execute(
        "INSERT INTO position_floor (id, position) \
         SELECT 0, COALESCE(MAX(position), 0) FROM events WHERE true \
         ON CONFLICT (id) DO UPDATE SET position = MAX(position, excluded.position)",
        [],
    )
    .context(context)?;
    let history = params![key.domain, key.edition, key.root.as_bytes()];
    let removed = conn
        .execute(
            "DELETE FROM events WHERE domain = ?1 AND edition = ?2 AND root = ?3",
            history,
        )
        .context(context)?;
    for table in ["snapshots", "idempotency"] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE domain = ?1 AND edition = ?2 AND root = ?3"),
            history,
        )
        .context(context)?;
    }
    conn.execute(
        "DELETE FROM editions WHERE domain = ?1 AND root = ?2 AND name = ?3",
        params![key.domain, key.root.as_bytes(), key.edition],
    )
    .context(context)?;
    Ok(Some(u64::try_from(removed).unwrap_or_default()))
}

/// Up to `limit` events of a correlation id after a position, in position order.
pub(crate) fn correlated(
    conn: &Connection,
    correlation_id: &str,
    after: u64,
    limit: usize,
) -> Result<Vec<StoredEvent>, Error> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE correlation_id = ?1 AND position > ?2 \
         ORDER BY position LIMIT ?3"
    );
    let limit = integer(u64::try_from(limit).unwrap_or(u64::MAX));
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_map(params![correlation_id, integer(after), limit], event_row)?
                .collect()
        })
        .context(|| format!("cannot read the events of correlation id {correlation_id:?}"))
}
