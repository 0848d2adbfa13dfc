"""A projector from plain functions, writing rows to a `RowStore`.

A projector turns events into read-model rows::

    projector = ProjectorRouter("projector-customer-loyalty", domain="customer")

    @projector.on
    def created(rows: RowStore, ctx: EventContext, event: CustomerCreated) -> None:
        rows.put(str(ctx.root), LoyaltyRow(customer_id=event.email, last_sequence=ctx.sequence))

Delivery is at least once (a crash between the row write and the runtime's checkpoint
redelivers), so a handler keeps the sequence it last applied in its row and ignores anything
not above it. Each delivery runs in one store transaction: a failing handler leaves no partial
rows behind, and the runtime retries the whole delivery.

A speculative run (`Projector.HandleSpeculative`, the runtime's what-if) runs the same handlers
in a transaction that is always rolled back: it answers the rows they would write and changes
nothing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import grpc
from google.protobuf import any_pb2, empty_pb2
from google.protobuf.descriptor import FileDescriptor
from google.protobuf.message import DecodeError, Message

from angzarr import distribution_pb2, types_pb2
from angzarr._plumbing import decode, files_of, message_parameter, unary
from angzarr.event import EventContext
from angzarr.messages import TYPE_URL_PREFIX, full_name, pack, type_name
from angzarr.rejection import StatusError

M = TypeVar("M", bound=Message)
E = TypeVar("E", bound=Message)

#: The environment variable naming a projector's SQLite file (see `RowStore.from_env`).
PROJECTION_DB_ENV = "ANGZARR_PROJECTION_DB"

SERVICE_NAME = "angzarr.Projector"

ProjectionHandler = Callable[["RowStore", EventContext, E], None]


def _store_error(err: sqlite3.Error) -> StatusError:
    return StatusError(grpc.StatusCode.INTERNAL, f"row store: {err}")


class RowStore:
    """Read-model rows: protobuf messages by string key, in SQLite.

    The table is `rows(key TEXT PRIMARY KEY, type_url TEXT NOT NULL, value BLOB NOT NULL)`,
    `value` being the encoded message: the same as the Rust client's, so any language (or
    `sqlite3`) can read what a projector wrote."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._lock = threading.RLock()
        #: Rows written by the delivery in progress (the last one is its projection).
        self._written: list[any_pb2.Any] = []
        try:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS rows ("
                " key TEXT PRIMARY KEY, type_url TEXT NOT NULL, value BLOB NOT NULL)"
            )
        except sqlite3.Error as err:
            raise _store_error(err) from err

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RowStore:
        """The store in the SQLite file at `path` (created, with its directory, if needed)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
            # WAL lets readers (the CLI, tests) look while the projector writes.
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as err:
            raise _store_error(err) from err
        return cls(conn)

    @classmethod
    def in_memory(cls) -> RowStore:
        """A store that lives in memory (tests)."""
        return cls(sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False))

    @classmethod
    def from_env(cls, name: str) -> RowStore:
        """The store at `$ANGZARR_PROJECTION_DB`, or `<name>.db` in the working directory."""
        return cls.open(os.environ.get(PROJECTION_DB_ENV) or f"{name}.db")

    def get(self, key: str, message_type: type[M]) -> M | None:
        """The row at `key` (None if there is none); an error if it holds another type."""
        with self._lock:
            try:
                found = self._conn.execute(
                    "SELECT type_url, value FROM rows WHERE key = ?", (key,)
                ).fetchone()
            except sqlite3.Error as err:
                raise _store_error(err) from err
        if found is None:
            return None
        stored_type, value = found
        wanted = TYPE_URL_PREFIX + full_name(message_type)
        if stored_type != wanted:
            raise StatusError(grpc.StatusCode.INTERNAL, f"row {key} holds {stored_type}, not {wanted}")
        row = message_type()
        try:
            row.ParseFromString(value)
        except DecodeError as err:
            raise StatusError(grpc.StatusCode.INTERNAL, f"row {key}: {err}") from err
        return row

    def put(self, key: str, row: Message) -> None:
        """Writes (inserts or replaces) the row at `key`."""
        packed = pack(row)
        with self._lock:
            try:
                self._conn.execute(
                    "INSERT INTO rows (key, type_url, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET type_url = excluded.type_url, value = excluded.value",
                    (key, packed.type_url, packed.value),
                )
            except sqlite3.Error as err:
                raise _store_error(err) from err
            self._written.append(packed)

    def contains(self, key: str) -> bool:
        """Whether a row exists at `key`."""
        with self._lock:
            try:
                found = self._conn.execute("SELECT 1 FROM rows WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as err:
                raise _store_error(err) from err
        return found is not None

    def rows(self) -> list[tuple[str, any_pb2.Any]]:
        """Every row, by key order."""
        with self._lock:
            try:
                found = self._conn.execute(
                    "SELECT key, type_url, value FROM rows ORDER BY key"
                ).fetchall()
            except sqlite3.Error as err:
                raise _store_error(err) from err
        return [(key, any_pb2.Any(type_url=url, value=value)) for key, url, value in found]

    @contextmanager
    def transaction(self) -> Iterator[list[any_pb2.Any]]:
        """Runs the block in one transaction (rolled back if it raises); yields the list of
        rows it writes."""
        with self._atomically(keep=True) as written:
            yield written

    @contextmanager
    def rehearsal(self) -> Iterator[list[any_pb2.Any]]:
        """Runs the block in one transaction that is always rolled back: it sees its own writes
        and leaves the store as it was. Yields the list of rows it writes."""
        with self._atomically(keep=False) as written:
            yield written

    @contextmanager
    def _atomically(self, keep: bool) -> Iterator[list[any_pb2.Any]]:
        with self._lock:
            self._written = []
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as err:
                raise _store_error(err) from err
            try:
                yield self._written
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            if not keep:
                self._conn.execute("ROLLBACK")
                return
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as err:
                raise _store_error(err) from err

    def close(self) -> None:
        self._conn.close()


class ProjectorRouter:
    """The projector `name`, reading events of `domain`; serves `angzarr.Projector` with
    `angzarr.run` (over `RowStore.from_env(name)`)."""

    def __init__(self, name: str, domain: str) -> None:
        self.name = name
        self.domain = domain
        self._handlers: dict[str, tuple[type[Message], ProjectionHandler[Message]]] = {}

    def on(
        self, handler: ProjectionHandler[E], event_type: type[E] | None = None
    ) -> ProjectionHandler[E]:
        """Handles events of the type of the handler's third parameter (or `event_type`):
        `(rows, context, event) -> None`. Only handled types are delivered. Usable as a
        decorator."""
        event = message_parameter(handler, 2, "event", event_type)
        self._handlers.pop(full_name(event), None)
        self._handlers[full_name(event)] = (event, handler)  # type: ignore[assignment]
        return handler

    def descriptor(self) -> types_pb2.ComponentDescriptor:
        """Inputs: its domain and the handled event types; no outputs."""
        types = [event.DESCRIPTOR.name for event, _ in self._handlers.values()]
        return types_pb2.ComponentDescriptor(
            name=self.name,
            component_type="projector",
            inputs=[types_pb2.Target(domain=self.domain, types=types)],
        )

    def handle(self, rows: RowStore, book: types_pb2.EventBook) -> any_pb2.Any | None:
        """Applies every event of `book` to `rows` in one transaction; returns the last row
        written, if any (the projection a synchronous caller gets)."""
        pages = EventContext.pages(book)
        with rows.transaction() as written:
            self._apply(rows, pages)
        return written[-1] if written else None

    def speculate(
        self, rows: RowStore, books: list[types_pb2.EventBook]
    ) -> list[any_pb2.Any | None]:
        """What `handle` would write for each book in turn (each seeing the rows of the ones
        before), leaving `rows` unchanged: the last row each book would write."""
        pages = [EventContext.pages(book) for book in books]
        projections: list[any_pb2.Any | None] = []
        with rows.rehearsal() as written:
            for book_pages in pages:
                written.clear()
                self._apply(rows, book_pages)
                projections.append(written[-1] if written else None)
        return projections

    def _apply(self, rows: RowStore, pages: list[tuple[EventContext, any_pb2.Any]]) -> None:
        for context, event in pages:
            found = self._handlers.get(type_name(event))
            if found is not None:
                event_type, handler = found
                handler(rows, context, decode(event, event_type, grpc.StatusCode.INVALID_ARGUMENT))

    # Serving (see angzarr.run).

    @property
    def service_name(self) -> str:
        return SERVICE_NAME

    def rpc_handler(self) -> grpc.GenericRpcHandler:
        """`angzarr.Projector` over this router and the store named by the environment."""
        return ServedProjector(self, RowStore.from_env(self.name)).rpc_handler()

    def descriptor_files(self) -> list[FileDescriptor]:
        """The .proto files of the events it handles."""
        return files_of(t for t, _ in self._handlers.values())

    def __repr__(self) -> str:
        return f"ProjectorRouter({self.descriptor()})"


class ServedProjector:
    """A `ProjectorRouter` with its store, as served over gRPC."""

    def __init__(self, router: ProjectorRouter, rows: RowStore) -> None:
        self.router = router
        self.rows = rows

    @property
    def service_name(self) -> str:
        return SERVICE_NAME

    def handle_sync(self, book: types_pb2.EventBook) -> types_pb2.Projection:
        """`Projector.HandleSync`: handles `book` and answers the last row written."""
        return self._projection(book, self.router.handle(self.rows, book))

    def handle_speculative(
        self, request: distribution_pb2.SpeculativeProjectionRequest
    ) -> distribution_pb2.SpeculativeProjections:
        """`Projector.HandleSpeculative`: the projection of each book, writing nothing."""
        books = list(request.books)
        projections = self.router.speculate(self.rows, books)
        return distribution_pb2.SpeculativeProjections(
            projections=[self._projection(book, row) for book, row in zip(books, projections)]
        )

    def _projection(self, book: types_pb2.EventBook, row: any_pb2.Any | None) -> types_pb2.Projection:
        answer = types_pb2.Projection(
            cover=book.cover,
            projector=self.router.name,
            sequence=book.pages[-1].num if book.pages else 0,
        )
        if row is not None:
            answer.projection.CopyFrom(row)
        return answer

    def _handle(self, book: types_pb2.EventBook) -> empty_pb2.Empty:
        self.router.handle(self.rows, book)
        return empty_pb2.Empty()

    def rpc_handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "Handle": unary(self._handle, types_pb2.EventBook, empty_pb2.Empty),
                "HandleSync": unary(self.handle_sync, types_pb2.EventBook, types_pb2.Projection),
                "HandleSpeculative": unary(
                    self.handle_speculative,
                    distribution_pb2.SpeculativeProjectionRequest,
                    distribution_pb2.SpeculativeProjections,
                ),
                "GetDescriptor": unary(
                    lambda _: self.router.descriptor(),
                    types_pb2.GetDescriptorRequest,
                    types_pb2.ComponentDescriptor,
                ),
            },
        )

    def descriptor_files(self) -> list[FileDescriptor]:
        return self.router.descriptor_files()



