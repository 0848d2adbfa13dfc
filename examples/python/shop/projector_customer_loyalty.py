"""projector-customer-loyalty (examples-spec §6.3): one `LoyaltyView` row per customer, keyed by
the customer root, with the balance a loyalty page shows.

Events copy their facts (new_balance, new_lifetime_points) into the row; the row keeps the
sequence it last applied, so a redelivered event changes nothing.
"""

from collections.abc import Iterator

from angzarr import EventContext, ProjectorRouter, RowStore, run
from examples.customer_pb2 import CustomerCreated, LoyaltyPointsAdded, LoyaltyPointsRedeemed
from examples.projections_pb2 import LoyaltyView

projector = ProjectorRouter("projector-customer-loyalty", domain="customer")


def update(rows: RowStore, customer: EventContext) -> Iterator[LoyaltyView]:
    """The customer's row to change (`for row in update(...)`), saved with the event's sequence
    afterwards; nothing when the row already holds this sequence (a redelivery). A missing row
    has applied nothing, not even sequence 0."""
    key = str(customer.root)
    row = rows.get(key, LoyaltyView)
    if row is not None and customer.sequence <= row.last_sequence:
        return
    row = row if row is not None else LoyaltyView()
    yield row
    row.last_sequence = customer.sequence
    rows.put(key, row)


@projector.on
def created(rows: RowStore, customer: EventContext, event: CustomerCreated) -> None:
    for row in update(rows, customer):
        row.customer_id, row.name = event.email, event.name
        row.current_points = row.lifetime_points = 0


@projector.on
def points_added(rows: RowStore, customer: EventContext, event: LoyaltyPointsAdded) -> None:
    for row in update(rows, customer):
        row.current_points, row.lifetime_points = event.new_balance, event.new_lifetime_points


@projector.on
def points_redeemed(rows: RowStore, customer: EventContext, event: LoyaltyPointsRedeemed) -> None:
    for row in update(rows, customer):
        row.current_points = event.new_balance


def main() -> None:
    run(projector)


if __name__ == "__main__":
    main()
