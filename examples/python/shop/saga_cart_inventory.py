"""saga-cart-inventory (examples-spec §4.4): a cart's lines hold stock while it is shopped.

Each line is reserved under the cart's root K at the product's inventory. A line whose quantity
changes is re-reserved (release, then reserve the new line quantity) because a key holds one
reservation. When a reservation is refused, the line comes out of the cart again (RemoveItem to
the source cart, found from the event that caused the ReserveStock); any other rejection, that
RemoveItem's included, is left alone. Checkout keeps the reservations: the order settles them.
"""

from collections.abc import Iterator

from angzarr import Command, EventContext, EventRouter, Rejected, key_root, run
from examples.cart_pb2 import CartCleared, ItemAdded, ItemRemoved, QuantityUpdated, RemoveItem
from examples.inventory_pb2 import ReleaseReservation, ReserveStock

saga = (
    EventRouter("saga-cart-inventory", source="cart")
    .sends("inventory", ReserveStock, ReleaseReservation)
    .sends("cart", RemoveItem)
)


@saga.on
def item_added(cart: EventContext, event: ItemAdded) -> Iterator[Command]:
    if event.line_quantity != event.quantity:  # merged into an existing line
        yield release(cart, event.product_id)
    yield reserve(cart, event.product_id, event.line_quantity)


@saga.on
def quantity_updated(cart: EventContext, event: QuantityUpdated) -> list[Command]:
    return [release(cart, event.product_id), reserve(cart, event.product_id, event.new_quantity)]


@saga.on
def item_removed(cart: EventContext, event: ItemRemoved) -> list[Command]:
    return [release(cart, event.product_id)]


@saga.on
def cart_cleared(cart: EventContext, event: CartCleared) -> list[Command]:
    return [release(cart, item.product_id) for item in event.items]


@saga.on_rejection
def remove_unreserved_line(rejected: Rejected) -> list[Command]:
    """Compensation for a refused ReserveStock: RemoveItem of the product from the source cart."""
    if rejected.source is None or rejected.command_as(ReserveStock) is None:
        return []
    cart, _ = rejected.source
    added, updated = rejected.source_event_as(ItemAdded), rejected.source_event_as(QuantityUpdated)
    line = added if added is not None else updated
    if line is None:
        return []
    return [Command("cart", cart.root, RemoveItem(product_id=line.product_id))]


def release(cart: EventContext, product_id: str) -> Command:
    return Command("inventory", key_root("inventory", product_id), ReleaseReservation(order_id=str(cart.root)))


def reserve(cart: EventContext, product_id: str, quantity: int) -> Command:
    command = ReserveStock(quantity=quantity, order_id=str(cart.root))
    return Command("inventory", key_root("inventory", product_id), command)


def main() -> None:
    run(saga)


if __name__ == "__main__":
    main()
