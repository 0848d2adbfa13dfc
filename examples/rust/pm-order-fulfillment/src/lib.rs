//! The order-fulfillment process manager (examples-spec §5.1): ship once everything is in.
//!
//! Three prerequisites of one purchase (one correlation id) arrive in any order: payment
//! (order: PaymentSubmitted), inventory (inventory: StockReserved) and fulfillment
//! (fulfillment: ItemsPacked, whose root is the shipment to ship). Each first arrival is
//! recorded; the third also records DispatchIssued and sends Ship. A repeated prerequisite and
//! anything after dispatch record nothing, so redeliveries are harmless. A rejected Ship (the
//! shipment moved on by hand) needs no reaction.

use angzarr_client::{Effects, EventContext, ProcessManagerRouter};
use example_proto::fulfillment::{ItemsPacked, Ship};
use example_proto::inventory::StockReserved;
use example_proto::order::PaymentSubmitted;
use example_proto::order_fulfillment::{
    DispatchIssued, OrderFulfillmentState as State, PrerequisiteCompleted,
};

/// The prerequisites, in the fixed order every list follows.
const PREREQUISITES: [&str; 3] = ["payment", "inventory", "fulfillment"];

/// The process manager `order-fulfillment`.
pub fn process_manager() -> ProcessManagerRouter<State> {
    ProcessManagerRouter::new("order-fulfillment")
        .on("order", trigger::<PaymentSubmitted>("payment"))
        .on("inventory", trigger::<StockReserved>("inventory"))
        .on("fulfillment", trigger::<ItemsPacked>("fulfillment"))
        .sends("fulfillment", "Ship")
        .apply(|state: &mut State, e: PrerequisiteCompleted| {
            if e.prerequisite == "fulfillment" {
                state.fulfillment_root = e.source_root;
            }
            state.completed = e.completed;
        })
        .apply(|state: &mut State, e: DispatchIssued| {
            state.fulfillment_root = e.fulfillment_root;
            state.completed = e.completed;
            state.dispatched = true;
        })
}

/// The handler of the trigger `E`, which completes `prerequisite`.
fn trigger<E>(
    prerequisite: &'static str,
) -> impl Fn(&State, &EventContext, E) -> Effects + Send + Sync + 'static {
    move |state, context, _| complete(state, context, prerequisite)
}

/// Records `prerequisite` as arrived from `trigger`, and dispatches when it is the last.
fn complete(state: &State, trigger: &EventContext, prerequisite: &str) -> Effects {
    if state.dispatched || state.completed.iter().any(|c| c == prerequisite) {
        return Effects::none();
    }
    let arrived = |p: &String| p == prerequisite || state.completed.contains(p);
    let (completed, remaining): (Vec<String>, Vec<String>) = PREREQUISITES
        .map(String::from)
        .into_iter()
        .partition(arrived);
    let recorded = Effects::none().record(&PrerequisiteCompleted {
        prerequisite: prerequisite.to_string(),
        source_root: trigger.root.to_string(),
        completed: completed.clone(),
        remaining,
    });
    if completed.len() < PREREQUISITES.len() {
        return recorded;
    }
    let shipment = if prerequisite == "fulfillment" {
        Some(trigger.root)
    } else {
        state.fulfillment_root.parse().ok()
    };
    // Always parses: fulfillment_root was recorded from the ItemsPacked trigger's root.
    let Some(shipment) = shipment else {
        return Effects::none();
    };
    let ship = Ship {
        carrier: "auto".to_string(),
        tracking_number: format!("auto-{shipment}"),
    };
    recorded
        .record(&DispatchIssued {
            fulfillment_root: shipment.to_string(),
            completed,
        })
        .send("fulfillment", shipment, &ship)
}
