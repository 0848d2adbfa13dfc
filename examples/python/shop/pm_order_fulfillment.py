"""The order-fulfillment process manager (examples-spec §5.1): ship once everything is in.

Three prerequisites of one purchase (one correlation id) arrive in any order: payment (order:
PaymentSubmitted), inventory (inventory: StockReserved) and fulfillment (fulfillment:
ItemsPacked, whose root is the shipment to ship). Each first arrival is recorded; the third also
records DispatchIssued and sends Ship. A repeated prerequisite and anything after dispatch
record nothing, so redeliveries are harmless. A rejected Ship (the shipment moved on by hand)
needs no reaction.
"""

import uuid

from angzarr import Command, Effects, EventContext, ProcessManagerRouter, run
from examples.fulfillment_pb2 import ItemsPacked, Ship
from examples.inventory_pb2 import StockReserved
from examples.order_fulfillment_pb2 import DispatchIssued, OrderFulfillmentState, PrerequisiteCompleted
from examples.order_pb2 import PaymentSubmitted

#: The prerequisites, in the fixed order every list follows.
PREREQUISITES = ("payment", "inventory", "fulfillment")

process_manager = ProcessManagerRouter("order-fulfillment", OrderFulfillmentState).sends("fulfillment", Ship)


@process_manager.on("order")
def paid(state: OrderFulfillmentState, trigger: EventContext, event: PaymentSubmitted) -> Effects:
    return complete(state, trigger, "payment")


@process_manager.on("inventory")
def reserved(state: OrderFulfillmentState, trigger: EventContext, event: StockReserved) -> Effects:
    return complete(state, trigger, "inventory")


@process_manager.on("fulfillment")
def packed(state: OrderFulfillmentState, trigger: EventContext, event: ItemsPacked) -> Effects:
    return complete(state, trigger, "fulfillment")


def complete(state: OrderFulfillmentState, trigger: EventContext, prerequisite: str) -> Effects:
    """Records `prerequisite` as arrived from `trigger`, and dispatches when it is the last."""
    if state.dispatched or prerequisite in state.completed:
        return
    completed = [p for p in PREREQUISITES if p == prerequisite or p in state.completed]
    remaining = [p for p in PREREQUISITES if p not in completed]
    yield PrerequisiteCompleted(
        prerequisite=prerequisite, source_root=str(trigger.root), completed=completed, remaining=remaining
    )
    if remaining:
        return
    # The shipment is the ItemsPacked root: this trigger's, or the one recorded when it came.
    shipment = trigger.root if prerequisite == "fulfillment" else uuid.UUID(state.fulfillment_root)
    yield DispatchIssued(fulfillment_root=str(shipment), completed=completed)
    yield Command("fulfillment", shipment, Ship(carrier="auto", tracking_number=f"auto-{shipment}"))


@process_manager.apply
def prerequisite_completed(state: OrderFulfillmentState, event: PrerequisiteCompleted) -> None:
    if event.prerequisite == "fulfillment":
        state.fulfillment_root = event.source_root
    state.completed[:] = event.completed


@process_manager.apply
def dispatch_issued(state: OrderFulfillmentState, event: DispatchIssued) -> None:
    state.fulfillment_root, state.dispatched = event.fulfillment_root, True
    state.completed[:] = event.completed


def main() -> None:
    run(process_manager)


if __name__ == "__main__":
    main()
