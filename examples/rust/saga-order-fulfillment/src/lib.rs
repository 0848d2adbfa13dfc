//! saga-order-fulfillment (examples-spec §4.1): a completed order gets its shipment.
//!
//! The shipment lives at the order's own root, so nothing downstream needs a lookup. A rejected
//! CreateShipment (the shipment already exists, e.g. after a redelivery) needs no reaction.

use angzarr_client::{Commands, EventContext, EventRouter};
use example_proto::fulfillment::CreateShipment;
use example_proto::order::OrderCompleted;

/// The saga: order → fulfillment.
pub fn saga() -> EventRouter {
    EventRouter::new("saga-order-fulfillment", "order")
        .sends("fulfillment", "CreateShipment")
        .on(|order: &EventContext, _: OrderCompleted| {
            let command = CreateShipment {
                order_id: order.root.to_string(),
            };
            Commands::none().send("fulfillment", order.root, &command)
        })
}
