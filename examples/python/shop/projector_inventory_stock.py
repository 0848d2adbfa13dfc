"""projector-inventory-stock (examples-spec §6.4): one `StockLevel` row per inventory aggregate,
keyed by its root, flagging low stock.

Events copy their facts (new_on_hand, new_reserved, new_available) into the row; the row keeps
the sequence it last applied, so a redelivered event changes nothing. LowStockAlert is not
handled (the row computes low_stock itself), so it is not even delivered.
"""

from collections.abc import Iterator

from angzarr import EventContext, ProjectorRouter, RowStore, run
from examples.inventory_pb2 import (
    ReservationCommitted,
    ReservationReleased,
    StockInitialized,
    StockReceived,
    StockReserved,
)
from examples.projections_pb2 import StockLevel

projector = ProjectorRouter("projector-inventory-stock", domain="inventory")


def update(rows: RowStore, inventory: EventContext) -> Iterator[StockLevel]:
    """The inventory's row to change (`for row in update(...)`), saved afterwards with low_stock
    recomputed and the event's sequence; nothing when the row already holds this sequence (a
    redelivery). A missing row has applied nothing, not even sequence 0."""
    key = str(inventory.root)
    row = rows.get(key, StockLevel)
    if row is not None and inventory.sequence <= row.last_sequence:
        return
    row = row if row is not None else StockLevel()
    yield row
    row.low_stock = 0 < row.low_stock_threshold and row.available < row.low_stock_threshold
    row.last_sequence = inventory.sequence
    rows.put(key, row)


@projector.on
def initialized(rows: RowStore, inventory: EventContext, event: StockInitialized) -> None:
    for row in update(rows, inventory):
        row.product_id, row.low_stock_threshold = event.product_id, event.low_stock_threshold
        row.on_hand, row.reserved, row.available = event.quantity, 0, event.quantity


@projector.on
def received(rows: RowStore, inventory: EventContext, event: StockReceived) -> None:
    for row in update(rows, inventory):
        row.on_hand, row.available = event.new_on_hand, event.new_on_hand - row.reserved


@projector.on
def reserved(rows: RowStore, inventory: EventContext, event: StockReserved) -> None:
    for row in update(rows, inventory):
        row.on_hand, row.reserved, row.available = event.new_on_hand, event.new_reserved, event.new_available


@projector.on
def released(rows: RowStore, inventory: EventContext, event: ReservationReleased) -> None:
    for row in update(rows, inventory):
        row.on_hand, row.reserved, row.available = event.new_on_hand, event.new_reserved, event.new_available


@projector.on
def committed(rows: RowStore, inventory: EventContext, event: ReservationCommitted) -> None:
    for row in update(rows, inventory):
        row.on_hand, row.reserved, row.available = event.new_on_hand, event.new_reserved, event.new_available


def main() -> None:
    run(projector)


if __name__ == "__main__":
    main()
