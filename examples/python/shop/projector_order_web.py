"""projector-order-web (examples-spec §6.1): one `OrderView` row per order, keyed by the order
root, as a web page shows it.

Events copy their facts into the row; the row keeps the sequence it last applied, so a
redelivered event (at-least-once delivery) changes nothing.
"""

from collections.abc import Iterator

from angzarr import EventContext, ProjectorRouter, RowStore, run
from examples.order_pb2 import (
    LoyaltyDiscountApplied,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    PaymentSubmitted,
)
from examples.projections_pb2 import OrderView

projector = ProjectorRouter("projector-order-web", domain="order")


def update(rows: RowStore, order: EventContext) -> Iterator[OrderView]:
    """The order's row to change (`for row in update(...)`), saved with the event's sequence
    afterwards; nothing when the row already holds this sequence (a redelivery). A missing row
    has applied nothing, not even sequence 0."""
    key = str(order.root)
    row = rows.get(key, OrderView)
    if row is not None and order.sequence <= row.last_sequence:
        return
    row = row if row is not None else OrderView(order_id=key)
    yield row
    row.last_sequence = order.sequence
    rows.put(key, row)


@projector.on
def created(rows: RowStore, order: EventContext, event: OrderCreated) -> None:
    for row in update(rows, order):
        row.customer_id, row.status = event.customer_id, "pending"
        row.subtotal_cents = row.total_cents = event.subtotal_cents
        row.discount_cents = row.loyalty_points_used = row.loyalty_points_earned = 0


@projector.on
def discounted(rows: RowStore, order: EventContext, event: LoyaltyDiscountApplied) -> None:
    for row in update(rows, order):
        row.discount_cents, row.loyalty_points_used = event.discount_cents, event.points_used
        row.total_cents = row.subtotal_cents - event.discount_cents


@projector.on
def paid(rows: RowStore, order: EventContext, event: PaymentSubmitted) -> None:
    for row in update(rows, order):
        row.status = "paid"


@projector.on
def completed(rows: RowStore, order: EventContext, event: OrderCompleted) -> None:
    for row in update(rows, order):
        row.status, row.total_cents = "completed", event.final_total_cents
        row.loyalty_points_earned = event.loyalty_points_earned


@projector.on
def cancelled(rows: RowStore, order: EventContext, event: OrderCancelled) -> None:
    for row in update(rows, order):
        row.status = "cancelled"


def main() -> None:
    run(projector)


if __name__ == "__main__":
    main()
