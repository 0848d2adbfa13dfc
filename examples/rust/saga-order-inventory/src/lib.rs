//! saga-order-inventory (examples-spec §4.3): an order's outcome settles its stock reservations.
//!
//! Reservations are held under the cart root when the order came from a cart (the cart saga
//! reserved them) and under the order root otherwise. Completion commits them, cancellation
//! releases them: one command per distinct product, in order of first appearance. A rejected
//! command (nothing reserved under the key) is left alone; the other products are unaffected.

use angzarr_client::{Commands, EventContext, EventRouter};
use example_proto::inventory::{CommitReservation, ReleaseReservation};
use example_proto::key_root;
use example_proto::order::{LineItem, OrderCancelled, OrderCompleted};

/// The saga: order → inventory.
pub fn saga() -> EventRouter {
    EventRouter::new("saga-order-inventory", "order")
        .sends("inventory", "CommitReservation")
        .sends("inventory", "ReleaseReservation")
        .on(|order: &EventContext, e: OrderCompleted| {
            let order_id = reservation_key(order, &e.cart_id);
            products(&e.items)
                .into_iter()
                .fold(Commands::none(), |commands, product| {
                    let command = CommitReservation {
                        order_id: order_id.clone(),
                    };
                    commands.send("inventory", key_root("inventory", product), &command)
                })
        })
        .on(|order: &EventContext, e: OrderCancelled| {
            let order_id = reservation_key(order, &e.cart_id);
            products(&e.items)
                .into_iter()
                .fold(Commands::none(), |commands, product| {
                    let command = ReleaseReservation {
                        order_id: order_id.clone(),
                    };
                    commands.send("inventory", key_root("inventory", product), &command)
                })
        })
}

/// The key the order's stock is reserved under: its cart, else the order itself.
fn reservation_key(order: &EventContext, cart_id: &str) -> String {
    if cart_id.is_empty() {
        order.root.to_string()
    } else {
        cart_id.to_string()
    }
}

/// The distinct product ids of `items`, in order of first appearance.
fn products(items: &[LineItem]) -> Vec<&str> {
    let mut products: Vec<&str> = Vec::new();
    for item in items {
        if !products.contains(&item.product_id.as_str()) {
            products.push(&item.product_id);
        }
    }
    products
}
