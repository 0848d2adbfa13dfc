"""saga-order-customer (examples-spec §4.2): loyalty points follow the order's outcome.

A completed order credits the points it earned; a cancelled one gives back the points it used
(the client redeemed them before the discount). The customer is addressed by email through
`key_root`. A rejection (no such customer) is left alone: the order stands.
"""

from angzarr import Command, EventContext, EventRouter, key_root, run
from examples.customer_pb2 import AddLoyaltyPoints
from examples.order_pb2 import OrderCancelled, OrderCompleted

saga = EventRouter("saga-order-customer", source="order").sends("customer", AddLoyaltyPoints)


@saga.on
def completed(order: EventContext, event: OrderCompleted) -> list[Command]:
    return credit(event.customer_id, event.loyalty_points_earned, f"order:{order.root}")


@saga.on
def cancelled(order: EventContext, event: OrderCancelled) -> list[Command]:
    return credit(event.customer_id, event.loyalty_points_used, f"refund:{order.root}")


def credit(email: str, points: int, reason: str) -> list[Command]:
    """AddLoyaltyPoints to the customer `email`, or nothing when there are no points to add."""
    if points <= 0:
        return []
    return [Command("customer", key_root("customer", email), AddLoyaltyPoints(points=points, reason=reason))]


def main() -> None:
    run(saga)


if __name__ == "__main__":
    main()
