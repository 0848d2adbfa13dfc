"""projector-order-accounting (examples-spec §6.2): ledger rows booked when an order completes,
at most one per (order, entry type).

Only OrderCompleted books anything, so it is the only event delivered. Rows are keyed
`<order_id>:<entry_type>` and only inserted when absent: a redelivered completion books nothing
more.
"""

from angzarr import EventContext, ProjectorRouter, RowStore, run
from examples.order_pb2 import OrderCompleted
from examples.projections_pb2 import LedgerEntry

projector = ProjectorRouter("projector-order-accounting", domain="order")


@projector.on
def completed(rows: RowStore, order: EventContext, event: OrderCompleted) -> None:
    book(rows, str(order.root), "revenue", event.final_total_cents)
    if event.discount_cents > 0:
        book(rows, str(order.root), "discount", event.discount_cents)


def book(rows: RowStore, order_id: str, entry_type: str, amount_cents: int) -> None:
    """Inserts the ledger row unless the order already has an entry of that type."""
    key = f"{order_id}:{entry_type}"
    if not rows.contains(key):
        rows.put(key, LedgerEntry(order_id=order_id, entry_type=entry_type, amount_cents=amount_cents))


def main() -> None:
    run(projector)


if __name__ == "__main__":
    main()
