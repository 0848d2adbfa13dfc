"""saga-order-inventory (examples-spec §4.3): an order's outcome settles its stock reservations.

Reservations are held under the cart root when the order came from a cart (the cart saga
reserved them) and under the order root otherwise. Completion commits them, cancellation
releases them: one command per distinct product, in order of first appearance. A rejected
command (nothing reserved under the key) is left alone; the other products are unaffected.
"""

from collections.abc import Iterable

from angzarr import Command, EventContext, EventRouter, key_root, run
from examples.inventory_pb2 import CommitReservation, ReleaseReservation
from examples.order_pb2 import LineItem, OrderCancelled, OrderCompleted

saga = EventRouter("saga-order-inventory", source="order").sends(
    "inventory", CommitReservation, ReleaseReservation
)


@saga.on
def completed(order: EventContext, event: OrderCompleted) -> list[Command]:
    key = reservation_key(order, event.cart_id)
    return [Command("inventory", key_root("inventory", p), CommitReservation(order_id=key)) for p in products(event.items)]


@saga.on
def cancelled(order: EventContext, event: OrderCancelled) -> list[Command]:
    key = reservation_key(order, event.cart_id)
    return [Command("inventory", key_root("inventory", p), ReleaseReservation(order_id=key)) for p in products(event.items)]


def reservation_key(order: EventContext, cart_id: str) -> str:
    """The key the order's stock is reserved under: its cart, else the order itself."""
    return cart_id or str(order.root)


def products(items: Iterable[LineItem]) -> list[str]:
    """The distinct product ids of `items`, in order of first appearance."""
    return list(dict.fromkeys(item.product_id for item in items))


def main() -> None:
    run(saga)


if __name__ == "__main__":
    main()
