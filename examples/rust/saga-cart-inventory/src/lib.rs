//! saga-cart-inventory (examples-spec §4.4): a cart's lines hold stock while it is shopped.
//!
//! Each line is reserved under the cart's root K at the product's inventory. A line whose
//! quantity changes is re-reserved (release, then reserve the new line quantity) because a key
//! holds one reservation. When a reservation is refused, the line comes out of the cart again
//! (RemoveItem to the source cart, found from the event that caused the ReserveStock); any
//! other rejection, that RemoveItem's included, is left alone. Checkout keeps the reservations:
//! the order settles them.

use angzarr_client::{Commands, EventContext, EventRouter, Rejected};
use example_proto::cart::{CartCleared, ItemAdded, ItemRemoved, QuantityUpdated, RemoveItem};
use example_proto::inventory::{ReleaseReservation, ReserveStock};
use example_proto::key_root;

/// The saga: cart → inventory, compensating to the cart.
pub fn saga() -> EventRouter {
    EventRouter::new("saga-cart-inventory", "cart")
        .sends("inventory", "ReserveStock")
        .sends("inventory", "ReleaseReservation")
        .sends("cart", "RemoveItem")
        .on(|cart: &EventContext, e: ItemAdded| {
            let merged = e.line_quantity != e.quantity;
            let released = if merged {
                release(cart, &e.product_id)
            } else {
                Commands::none()
            };
            released.and(reserve(cart, &e.product_id, e.line_quantity))
        })
        .on(|cart: &EventContext, e: QuantityUpdated| {
            release(cart, &e.product_id).and(reserve(cart, &e.product_id, e.new_quantity))
        })
        .on(|cart: &EventContext, e: ItemRemoved| release(cart, &e.product_id))
        .on(|cart: &EventContext, e: CartCleared| {
            e.items.iter().fold(Commands::none(), |commands, item| {
                commands.and(release(cart, &item.product_id))
            })
        })
        .on_rejection(remove_unreserved_line)
}

fn release(cart: &EventContext, product_id: &str) -> Commands {
    let command = ReleaseReservation {
        order_id: cart.root.to_string(),
    };
    Commands::none().send("inventory", key_root("inventory", product_id), &command)
}

fn reserve(cart: &EventContext, product_id: &str, quantity: i32) -> Commands {
    let command = ReserveStock {
        quantity,
        order_id: cart.root.to_string(),
    };
    Commands::none().send("inventory", key_root("inventory", product_id), &command)
}

/// Compensation for a refused ReserveStock: RemoveItem of the product from the source cart.
fn remove_unreserved_line(rejected: &Rejected) -> Commands {
    let Some((cart, _)) = &rejected.source else {
        return Commands::none();
    };
    if rejected.command_as::<ReserveStock>().is_none() {
        return Commands::none();
    }
    let product_id = match (
        rejected.source_event_as::<ItemAdded>(),
        rejected.source_event_as::<QuantityUpdated>(),
    ) {
        (Some(added), _) => added.product_id,
        (_, Some(updated)) => updated.product_id,
        _ => return Commands::none(),
    };
    Commands::none().send("cart", cart.root, &RemoveItem { product_id })
}
