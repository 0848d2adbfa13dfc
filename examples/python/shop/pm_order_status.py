"""The order-status process manager (examples-spec §5.2): an observer of one purchase.

It follows the purchase's correlation id through order, inventory and fulfillment events and
records each status transition as OrderStatusChanged; it sends no commands. A trigger the
transition table does not list (out of order, repeated, after the end) records nothing, so
redeliveries are harmless.
"""

from google.protobuf.message import Message

from angzarr import Effects, EventContext, ProcessManagerRouter, run
from examples.fulfillment_pb2 import ShipmentCreated
from examples.inventory_pb2 import StockReserved
from examples.order_pb2 import OrderCancelled, OrderCompleted, OrderCreated, PaymentSubmitted
from examples.order_status_pb2 import OrderStatusChanged, OrderStatusState

process_manager = ProcessManagerRouter("order-status", OrderStatusState)

#: Statuses an order can still complete or be cancelled from.
OPEN = ("created", "payment_received", "stock_reserved", "ready")

#: (current status, trigger) → next status; anything else is no transition.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("", "OrderCreated"): "created",
    ("created", "PaymentSubmitted"): "payment_received",
    ("created", "StockReserved"): "stock_reserved",
    ("payment_received", "StockReserved"): "ready",
    ("stock_reserved", "PaymentSubmitted"): "ready",
    **{(status, "OrderCompleted"): "completed" for status in OPEN},
    **{(status, "OrderCancelled"): "cancelled" for status in OPEN},
    ("completed", "ShipmentCreated"): "shipping",
}


def observe(state: OrderStatusState, trigger: EventContext, event: Message) -> Effects:
    """Records the transition the trigger makes from the current status, if the table lists one."""
    name = event.DESCRIPTOR.name
    to = TRANSITIONS.get((state.status, name))
    if to is not None:
        yield OrderStatusChanged(
            from_status=state.status, to_status=to, trigger_event=name, trigger_domain=trigger.domain
        )


for domain, trigger_type in [
    ("order", OrderCreated),
    ("order", PaymentSubmitted),
    ("order", OrderCompleted),
    ("order", OrderCancelled),
    ("inventory", StockReserved),
    ("fulfillment", ShipmentCreated),
]:
    process_manager.on(domain, trigger_type)(observe)


@process_manager.apply
def status_changed(state: OrderStatusState, event: OrderStatusChanged) -> None:
    state.status = event.to_status


def main() -> None:
    run(process_manager)


if __name__ == "__main__":
    main()
