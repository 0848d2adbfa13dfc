"""The fulfillment aggregate (examples-spec §3.6): one shipment per order, at the order's root.

The lifecycle moves strictly one step at a time, so each handler guards existence, then the
one status it accepts, then its fields; apply copies each event's facts into the state.
"""

from angzarr import CommandRouter, guard, now, run, validate
from examples.fulfillment_pb2 import (
    CreateShipment,
    Delivered,
    FulfillmentState,
    ItemsPacked,
    ItemsPicked,
    MarkPacked,
    MarkPicked,
    RecordDelivery,
    Ship,
    ShipmentCreated,
    Shipped,
)

aggregate = CommandRouter("fulfillment", FulfillmentState)

PENDING, PICKED, PACKED, SHIPPED, DELIVERED = "pending", "picked", "packed", "shipped", "delivered"


def require_status(state: FulfillmentState, expected: str) -> None:
    """Existence first, then exactly the status that precedes the command's step."""
    guard(state.exists, "shipment does not exist")
    guard(state.status == expected, f"shipment is not {expected} (it is {state.status})")


@aggregate.on
def create_shipment(state: FulfillmentState, cmd: CreateShipment) -> ShipmentCreated:
    guard(not state.exists, "shipment already exists")
    validate(cmd.order_id, "order_id is required")
    return ShipmentCreated(order_id=cmd.order_id, status=PENDING, created_at=now())


@aggregate.on
def mark_picked(state: FulfillmentState, cmd: MarkPicked) -> ItemsPicked:
    require_status(state, PENDING)
    validate(cmd.picker_id, "picker_id is required")
    return ItemsPicked(picker_id=cmd.picker_id, picked_at=now())


@aggregate.on
def mark_packed(state: FulfillmentState, cmd: MarkPacked) -> ItemsPacked:
    require_status(state, PICKED)
    validate(cmd.packer_id, "packer_id is required")
    return ItemsPacked(packer_id=cmd.packer_id, packed_at=now())


@aggregate.on
def ship(state: FulfillmentState, cmd: Ship) -> Shipped:
    require_status(state, PACKED)
    validate(cmd.carrier, "carrier is required")
    validate(cmd.tracking_number, "tracking_number is required")
    return Shipped(carrier=cmd.carrier, tracking_number=cmd.tracking_number, shipped_at=now())


@aggregate.on
def record_delivery(state: FulfillmentState, cmd: RecordDelivery) -> Delivered:
    guard(state.status != DELIVERED, "shipment already delivered")
    require_status(state, SHIPPED)
    return Delivered(signature=cmd.signature, delivered_at=now())


@aggregate.apply
def created(state: FulfillmentState, event: ShipmentCreated) -> None:
    state.exists, state.order_id, state.status = True, event.order_id, event.status


@aggregate.apply
def picked(state: FulfillmentState, event: ItemsPicked) -> None:
    state.status, state.picker_id = PICKED, event.picker_id


@aggregate.apply
def packed(state: FulfillmentState, event: ItemsPacked) -> None:
    state.status, state.packer_id = PACKED, event.packer_id


@aggregate.apply
def shipped(state: FulfillmentState, event: Shipped) -> None:
    state.status, state.carrier, state.tracking_number = SHIPPED, event.carrier, event.tracking_number


@aggregate.apply
def delivered(state: FulfillmentState, event: Delivered) -> None:
    state.status, state.signature = DELIVERED, event.signature


def main() -> None:
    run(aggregate)


if __name__ == "__main__":
    main()
