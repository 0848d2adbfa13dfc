//! The order-status process manager (examples-spec §5.2): an observer of one purchase.
//!
//! It follows the purchase's correlation id through order, inventory and fulfillment events
//! and records each status transition as OrderStatusChanged; it sends no commands. A trigger
//! the transition table does not list (out of order, repeated, after the end) records nothing,
//! so redeliveries are harmless.

use angzarr_client::{Effects, EventContext, ProcessManagerRouter};
use example_proto::fulfillment::ShipmentCreated;
use example_proto::inventory::StockReserved;
use example_proto::order::{OrderCancelled, OrderCompleted, OrderCreated, PaymentSubmitted};
use example_proto::order_status::{OrderStatusChanged, OrderStatusState};

/// The process manager `order-status`.
pub fn process_manager() -> ProcessManagerRouter<OrderStatusState> {
    ProcessManagerRouter::new("order-status")
        .on("order", trigger::<OrderCreated>("OrderCreated"))
        .on("order", trigger::<PaymentSubmitted>("PaymentSubmitted"))
        .on("order", trigger::<OrderCompleted>("OrderCompleted"))
        .on("order", trigger::<OrderCancelled>("OrderCancelled"))
        .on("inventory", trigger::<StockReserved>("StockReserved"))
        .on("fulfillment", trigger::<ShipmentCreated>("ShipmentCreated"))
        .apply(|state: &mut OrderStatusState, e: OrderStatusChanged| state.status = e.to_status)
}

/// The handler of the trigger `E`, named `event` in the transition table.
fn trigger<E>(
    event: &'static str,
) -> impl Fn(&OrderStatusState, &EventContext, E) -> Effects + Send + Sync + 'static {
    move |state, context, _| observe(state, context, event)
}

/// Records the transition the trigger `event` makes from the current status, if the table lists
/// one.
fn observe(state: &OrderStatusState, context: &EventContext, event: &str) -> Effects {
    let Some(to) = next_status(&state.status, event) else {
        return Effects::none();
    };
    Effects::none().record(&OrderStatusChanged {
        from_status: state.status.clone(),
        to_status: to.to_string(),
        trigger_event: event.to_string(),
        trigger_domain: context.domain.clone(),
    })
}

/// The transition table; `None` for anything it does not list.
fn next_status(from: &str, event: &str) -> Option<&'static str> {
    const OPEN: [&str; 4] = ["created", "payment_received", "stock_reserved", "ready"];
    match (from, event) {
        ("", "OrderCreated") => Some("created"),
        ("created", "PaymentSubmitted") => Some("payment_received"),
        ("created", "StockReserved") => Some("stock_reserved"),
        ("payment_received", "StockReserved") | ("stock_reserved", "PaymentSubmitted") => {
            Some("ready")
        }
        (from, "OrderCompleted") if OPEN.contains(&from) => Some("completed"),
        (from, "OrderCancelled") if OPEN.contains(&from) => Some("cancelled"),
        ("completed", "ShipmentCreated") => Some("shipping"),
        _ => None,
    }
}
