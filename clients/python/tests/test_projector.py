"""ProjectorRouter and RowStore. Rows are Durations keyed by root: seconds = the last
Timestamp's seconds, nanos = the sequence last applied (so a redelivery is recognised); a
negative Timestamp fails after writing."""

import sqlite3
import uuid
from pathlib import Path

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from angzarr import EventContext, ProjectorRouter, RowStore, ServedProjector, StatusError, cover, pack
from angzarr import distribution_pb2 as distribution
from angzarr import types_pb2 as types

ROOT = uuid.UUID(int=1)

projector = ProjectorRouter("projector-clock", domain="clock")


@projector.on
def tick(rows: RowStore, ctx: EventContext, event: Timestamp) -> None:
    seen = rows.get(str(ctx.root), Duration)
    if seen is not None and seen.nanos >= ctx.sequence:
        return
    rows.put(str(ctx.root), Duration(seconds=event.seconds, nanos=ctx.sequence))
    if event.seconds < 0:
        raise StatusError(grpc.StatusCode.INTERNAL, "negative time")


def book(sequence: int, seconds: int) -> types.EventBook:
    return types.EventBook(
        cover=cover("clock", ROOT), pages=[types.EventPage(num=sequence, event=pack(Timestamp(seconds=seconds)))]
    )


def test_writes_rows_and_ignores_redeliveries() -> None:
    rows = RowStore.in_memory()
    assert projector.handle(rows, book(1, 10)) == pack(Duration(seconds=10, nanos=1))
    assert projector.handle(rows, book(1, 99)) is None
    assert projector.handle(rows, book(0, 99)) is None
    assert rows.get(str(ROOT), Duration) == Duration(seconds=10, nanos=1)
    assert [key for key, _ in rows.rows()] == [str(ROOT)]


def test_a_failed_delivery_leaves_no_partial_rows() -> None:
    rows = RowStore.in_memory()
    with pytest.raises(StatusError, match="negative time"):
        projector.handle(rows, book(1, -1))
    assert rows.rows() == []


def test_a_file_store_keeps_rows_in_the_shared_table_and_checks_types(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "rows.db"
    projector.handle(RowStore.open(path), book(2, 5))
    rows = RowStore.open(path)
    assert rows.contains(str(ROOT)) and not rows.contains("other")
    with pytest.raises(StatusError, match="holds type.googleapis.com/google.protobuf.Duration"):
        rows.get(str(ROOT), Timestamp)
    # The table other languages read: rows(key, type_url, value = the encoded message).
    with sqlite3.connect(path) as plain:
        assert plain.execute("SELECT key, type_url, value FROM rows").fetchall() == [
            (str(ROOT), "type.googleapis.com/google.protobuf.Duration", Duration(seconds=5, nanos=2).SerializeToString())
        ]


def test_a_served_projector_answers_the_last_row_written() -> None:
    served = ServedProjector(projector, RowStore.in_memory())
    projection = served.handle_sync(book(4, 8))
    assert (projection.projector, projection.sequence) == ("projector-clock", 4)
    assert projection.projection == pack(Duration(seconds=8, nanos=4))
    assert not served.handle_sync(book(4, 8)).HasField("projection")
    assert [list(t.types) for t in projector.descriptor().inputs] == [["Timestamp"]]


def test_a_speculative_run_sees_its_own_rows_and_leaves_the_store_unchanged() -> None:
    rows = RowStore.in_memory()
    projector.handle(rows, book(1, 10))
    before = rows.rows()
    served = ServedProjector(projector, rows)
    answer = served.handle_speculative(
        distribution.SpeculativeProjectionRequest(books=[book(2, 20), book(2, 99), book(3, 30)])
    )
    assert [p.projection for p in answer.projections] == [
        pack(Duration(seconds=20, nanos=2)),
        types.Projection().projection,  # the second saw the first's row: a redelivery, no write
        pack(Duration(seconds=30, nanos=3)),
    ]
    assert [p.sequence for p in answer.projections] == [2, 2, 3]
    assert rows.rows() == before, "nothing written"
    # A failing book fails the whole run, still writing nothing.
    with pytest.raises(StatusError, match="negative time"):
        projector.speculate(rows, [book(2, 20), book(3, -1)])
    assert rows.rows() == before
