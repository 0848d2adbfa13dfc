"""saga-order-fulfillment (examples-spec §4.1): a completed order gets its shipment.

The shipment lives at the order's own root, so nothing downstream needs a lookup. A rejected
CreateShipment (the shipment already exists, e.g. after a redelivery) needs no reaction.
"""

from angzarr import Command, EventContext, EventRouter, run
from examples.fulfillment_pb2 import CreateShipment
from examples.order_pb2 import OrderCompleted

saga = EventRouter("saga-order-fulfillment", source="order").sends("fulfillment", CreateShipment)


@saga.on
def completed(order: EventContext, event: OrderCompleted) -> list[Command]:
    return [Command("fulfillment", order.root, CreateShipment(order_id=str(order.root)))]


def main() -> None:
    run(saga)


if __name__ == "__main__":
    main()
