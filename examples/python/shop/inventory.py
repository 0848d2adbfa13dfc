"""The inventory aggregate (examples-spec §3.3): one per product.

Each handler checks in the spec's order: initialization, the command's fields, then the state
(overflow included). Events carry the quantities after the change, so apply copies them
instead of re-applying deltas; the reservation map records which key holds how much.
"""

from angzarr import CommandRouter, guard, int32, now, run, validate
from examples.inventory_pb2 import (
    CommitReservation,
    InitializeStock,
    InventoryState,
    LowStockAlert,
    ReceiveStock,
    ReleaseReservation,
    ReservationCommitted,
    ReservationReleased,
    ReserveStock,
    StockInitialized,
    StockReceived,
    StockReserved,
)

aggregate = CommandRouter("inventory", InventoryState)


def require_initialized(state: InventoryState) -> None:
    guard(state.initialized, "stock not initialized")


def held(state: InventoryState, order_id: str) -> int:
    """The quantity reserved under `order_id`."""
    guard(order_id in state.reservations, f"reservation {order_id!r} not found")
    return state.reservations[order_id]


def available(state: InventoryState) -> int:
    """Stock that can still be reserved."""
    return int32(state.on_hand - state.reserved)


@aggregate.on
def initialize_stock(state: InventoryState, cmd: InitializeStock) -> StockInitialized:
    guard(not state.initialized, "stock already initialized")
    validate(cmd.product_id, "product_id is required")
    validate(cmd.quantity >= 0, "quantity must be at least 0")
    validate(cmd.low_stock_threshold >= 0, "low_stock_threshold must be at least 0")
    return StockInitialized(
        product_id=cmd.product_id,
        quantity=cmd.quantity,
        low_stock_threshold=cmd.low_stock_threshold,
        initialized_at=now(),
    )


@aggregate.on
def receive_stock(state: InventoryState, cmd: ReceiveStock) -> StockReceived:
    require_initialized(state)
    validate(cmd.quantity >= 1, "quantity must be at least 1")
    return StockReceived(
        quantity=cmd.quantity,
        new_on_hand=int32(state.on_hand + cmd.quantity),
        reference=cmd.reference,
        received_at=now(),
    )


@aggregate.on
def reserve_stock(
    state: InventoryState, cmd: ReserveStock
) -> list[StockReserved | LowStockAlert]:
    """StockReserved, then LowStockAlert if this reservation takes available stock from at or
    above the threshold to below it (threshold 0 means no alerts)."""
    require_initialized(state)
    validate(cmd.quantity >= 1, "quantity must be at least 1")
    validate(cmd.order_id, "order_id is required")
    # A key reserves once; this is reported even when stock is also short (rule 21).
    guard(cmd.order_id not in state.reservations, f"{cmd.order_id} already reserved")
    before = available(state)
    guard(cmd.quantity <= before, f"insufficient stock: available {before}, requested {cmd.quantity}")
    after = before - cmd.quantity
    events: list[StockReserved | LowStockAlert] = [
        StockReserved(
            order_id=cmd.order_id,
            quantity=cmd.quantity,
            new_on_hand=state.on_hand,
            new_reserved=int32(state.reserved + cmd.quantity),
            new_available=after,
            reserved_at=now(),
        )
    ]
    threshold = state.low_stock_threshold
    if threshold > 0 and before >= threshold > after:
        events.append(
            LowStockAlert(
                product_id=state.product_id, available=after, threshold=threshold, alerted_at=now()
            )
        )
    return events


@aggregate.on
def release_reservation(state: InventoryState, cmd: ReleaseReservation) -> ReservationReleased:
    """The held quantity goes back to available; on_hand is untouched."""
    require_initialized(state)
    quantity = held(state, cmd.order_id)
    return ReservationReleased(
        order_id=cmd.order_id,
        quantity=quantity,
        new_on_hand=state.on_hand,
        new_reserved=state.reserved - quantity,
        new_available=int32(available(state) + quantity),
        released_at=now(),
    )


@aggregate.on
def commit_reservation(state: InventoryState, cmd: CommitReservation) -> ReservationCommitted:
    """The held quantity leaves the warehouse: on_hand and reserved drop, available stays."""
    require_initialized(state)
    quantity = held(state, cmd.order_id)
    return ReservationCommitted(
        order_id=cmd.order_id,
        quantity=quantity,
        new_on_hand=int32(state.on_hand - quantity),
        new_reserved=state.reserved - quantity,
        new_available=available(state),
        committed_at=now(),
    )


@aggregate.apply
def initialized(state: InventoryState, event: StockInitialized) -> None:
    state.CopyFrom(
        InventoryState(
            initialized=True,
            product_id=event.product_id,
            on_hand=event.quantity,
            low_stock_threshold=event.low_stock_threshold,
        )
    )


@aggregate.apply
def received(state: InventoryState, event: StockReceived) -> None:
    state.on_hand = event.new_on_hand


@aggregate.apply
def reserved(state: InventoryState, event: StockReserved) -> None:
    state.on_hand, state.reserved = event.new_on_hand, event.new_reserved
    state.reservations[event.order_id] = event.quantity


def remove(state: InventoryState, order_id: str) -> None:
    if order_id in state.reservations:
        del state.reservations[order_id]


@aggregate.apply
def released(state: InventoryState, event: ReservationReleased) -> None:
    state.on_hand, state.reserved = event.new_on_hand, event.new_reserved
    remove(state, event.order_id)


@aggregate.apply
def committed(state: InventoryState, event: ReservationCommitted) -> None:
    state.on_hand, state.reserved = event.new_on_hand, event.new_reserved
    remove(state, event.order_id)


# A notification for others; the stock figures are already in StockReserved.
aggregate.ignore(LowStockAlert)


def main() -> None:
    run(aggregate)


if __name__ == "__main__":
    main()
