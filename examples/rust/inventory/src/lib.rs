//! The inventory aggregate (examples-spec §3.3): one per product.
//!
//! Each handler checks in the spec's order: initialization, the command's fields, then the
//! state (overflow included). Events carry the quantities after the change, so `apply` copies
//! them instead of re-applying deltas; the reservation map records which key holds how much.

use angzarr_client::{CommandRouter, Events, Rejection, now};

use example_proto::inventory::{
    CommitReservation, InitializeStock, InventoryState, LowStockAlert, ReceiveStock,
    ReleaseReservation, ReservationCommitted, ReservationReleased, ReserveStock, StockInitialized,
    StockReceived, StockReserved,
};

/// The inventory aggregate: its commands and how its events fold into state.
pub fn aggregate() -> CommandRouter<InventoryState> {
    CommandRouter::new("inventory")
        .on(initialize_stock)
        .on(receive_stock)
        .on(reserve_stock)
        .on(release_reservation)
        .on(commit_reservation)
        .apply(|state: &mut InventoryState, e: StockInitialized| {
            *state = InventoryState {
                initialized: true,
                product_id: e.product_id,
                on_hand: e.quantity,
                low_stock_threshold: e.low_stock_threshold,
                ..InventoryState::default()
            };
        })
        .apply(|state: &mut InventoryState, e: StockReceived| state.on_hand = e.new_on_hand)
        .apply(|state: &mut InventoryState, e: StockReserved| {
            state.on_hand = e.new_on_hand;
            state.reserved = e.new_reserved;
            state.reservations.insert(e.order_id, e.quantity);
        })
        .apply(|state: &mut InventoryState, e: ReservationReleased| {
            state.on_hand = e.new_on_hand;
            state.reserved = e.new_reserved;
            state.reservations.remove(&e.order_id);
        })
        .apply(|state: &mut InventoryState, e: ReservationCommitted| {
            state.on_hand = e.new_on_hand;
            state.reserved = e.new_reserved;
            state.reservations.remove(&e.order_id);
        })
        // A notification for others; the stock figures are already in StockReserved.
        .apply(|_: &mut InventoryState, _: LowStockAlert| {})
}

fn initialize_stock(
    state: &InventoryState,
    cmd: InitializeStock,
) -> Result<StockInitialized, Rejection> {
    if state.initialized {
        return Err(Rejection::failed_precondition("stock already initialized"));
    }
    require_text("product_id", &cmd.product_id)?;
    require_at_least("quantity", cmd.quantity, 0)?;
    require_at_least("low_stock_threshold", cmd.low_stock_threshold, 0)?;
    Ok(StockInitialized {
        product_id: cmd.product_id,
        quantity: cmd.quantity,
        low_stock_threshold: cmd.low_stock_threshold,
        initialized_at: Some(now()),
    })
}

fn receive_stock(state: &InventoryState, cmd: ReceiveStock) -> Result<StockReceived, Rejection> {
    require_initialized(state)?;
    require_at_least("quantity", cmd.quantity, 1)?;
    let new_on_hand = checked(state.on_hand.checked_add(cmd.quantity))?;
    Ok(StockReceived {
        quantity: cmd.quantity,
        new_on_hand,
        reference: cmd.reference,
        received_at: Some(now()),
    })
}

/// StockReserved, then LowStockAlert if this reservation takes available stock from at or
/// above the threshold to below it (threshold 0 means no alerts).
fn reserve_stock(state: &InventoryState, cmd: ReserveStock) -> Result<Events, Rejection> {
    require_initialized(state)?;
    require_at_least("quantity", cmd.quantity, 1)?;
    require_text("order_id", &cmd.order_id)?;
    // A key reserves once; this is reported even when stock is also short (rule 21).
    if state.reservations.contains_key(&cmd.order_id) {
        return Err(Rejection::failed_precondition(format!(
            "{} already reserved",
            cmd.order_id
        )));
    }
    let available = available(state)?;
    if cmd.quantity > available {
        return Err(Rejection::failed_precondition(format!(
            "insufficient stock: available {available}, requested {}",
            cmd.quantity
        )));
    }
    let new_reserved = checked(state.reserved.checked_add(cmd.quantity))?;
    let new_available = checked(available.checked_sub(cmd.quantity))?;
    let mut events = Events::new().with(&StockReserved {
        order_id: cmd.order_id,
        quantity: cmd.quantity,
        new_on_hand: state.on_hand,
        new_reserved,
        new_available,
        reserved_at: Some(now()),
    });
    let threshold = state.low_stock_threshold;
    if threshold > 0 && available >= threshold && new_available < threshold {
        events = events.with(&LowStockAlert {
            product_id: state.product_id.clone(),
            available: new_available,
            threshold,
            alerted_at: Some(now()),
        });
    }
    Ok(events)
}

/// The held quantity goes back to available; on_hand is untouched.
fn release_reservation(
    state: &InventoryState,
    cmd: ReleaseReservation,
) -> Result<ReservationReleased, Rejection> {
    require_initialized(state)?;
    let quantity = held(state, &cmd.order_id)?;
    let new_reserved = checked(state.reserved.checked_sub(quantity))?;
    let new_available = checked(available(state)?.checked_add(quantity))?;
    Ok(ReservationReleased {
        order_id: cmd.order_id,
        quantity,
        new_on_hand: state.on_hand,
        new_reserved,
        new_available,
        released_at: Some(now()),
    })
}

/// The held quantity leaves the warehouse: on_hand and reserved both drop, available stays.
fn commit_reservation(
    state: &InventoryState,
    cmd: CommitReservation,
) -> Result<ReservationCommitted, Rejection> {
    require_initialized(state)?;
    let quantity = held(state, &cmd.order_id)?;
    let new_on_hand = checked(state.on_hand.checked_sub(quantity))?;
    let new_reserved = checked(state.reserved.checked_sub(quantity))?;
    Ok(ReservationCommitted {
        order_id: cmd.order_id,
        quantity,
        new_on_hand,
        new_reserved,
        new_available: available(state)?,
        committed_at: Some(now()),
    })
}

fn require_initialized(state: &InventoryState) -> Result<(), Rejection> {
    if !state.initialized {
        return Err(Rejection::failed_precondition("stock not initialized"));
    }
    Ok(())
}

fn require_text(field: &str, value: &str) -> Result<(), Rejection> {
    if value.is_empty() {
        return Err(Rejection::invalid_argument(format!("{field} is required")));
    }
    Ok(())
}

/// Starting figures may be 0 (an empty shelf, alerts off); quantities moved start at 1.
fn require_at_least(field: &str, value: i32, min: i32) -> Result<(), Rejection> {
    if value < min {
        return Err(Rejection::invalid_argument(format!(
            "{field} must be at least {min}"
        )));
    }
    Ok(())
}

/// The quantity reserved under `order_id`.
fn held(state: &InventoryState, order_id: &str) -> Result<i32, Rejection> {
    state.reservations.get(order_id).copied().ok_or_else(|| {
        Rejection::failed_precondition(format!("reservation {order_id:?} not found"))
    })
}

/// Stock that can still be reserved: on_hand − reserved.
fn available(state: &InventoryState) -> Result<i32, Rejection> {
    checked(state.on_hand.checked_sub(state.reserved))
}

/// A checked sum or difference, or INVALID_ARGUMENT "overflow".
fn checked(value: Option<i32>) -> Result<i32, Rejection> {
    value.ok_or_else(Rejection::overflow)
}
