//! saga-order-customer (examples-spec §4.2): loyalty points follow the order's outcome.
//!
//! A completed order credits the points it earned; a cancelled one gives back the points it
//! used (the client redeemed them before the discount). The customer is addressed by email
//! through `key_root`. A rejection (no such customer) is left alone: the order stands.

use angzarr_client::{Commands, EventContext, EventRouter};
use example_proto::customer::AddLoyaltyPoints;
use example_proto::key_root;
use example_proto::order::{OrderCancelled, OrderCompleted};

/// The saga: order → customer.
pub fn saga() -> EventRouter {
    EventRouter::new("saga-order-customer", "order")
        .sends("customer", "AddLoyaltyPoints")
        .on(|order: &EventContext, e: OrderCompleted| {
            let reason = format!("order:{}", order.root);
            credit(&e.customer_id, e.loyalty_points_earned, reason)
        })
        .on(|order: &EventContext, e: OrderCancelled| {
            let reason = format!("refund:{}", order.root);
            credit(&e.customer_id, e.loyalty_points_used, reason)
        })
}

/// AddLoyaltyPoints to the customer `email`, or nothing when there are no points to add.
fn credit(email: &str, points: i64, reason: String) -> Commands {
    if points <= 0 {
        return Commands::none();
    }
    let command = AddLoyaltyPoints { points, reason };
    Commands::none().send("customer", key_root("customer", email), &command)
}
