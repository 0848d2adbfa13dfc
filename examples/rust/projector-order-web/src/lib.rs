//! projector-order-web (examples-spec §6.1): one `OrderView` row per order, keyed by the order
//! root, as a web page shows it.
//!
//! Events copy their facts into the row; the row keeps the sequence it last applied, so a
//! redelivered event (at-least-once delivery) changes nothing.

use angzarr_client::{EventContext, ProjectorRouter, RowStore};
use example_proto::order::{
    LoyaltyDiscountApplied, OrderCancelled, OrderCompleted, OrderCreated, PaymentSubmitted,
};
use example_proto::projections::OrderView;
use tonic::Status;

/// The component's name (and its default row store, `<NAME>.db`).
pub const NAME: &str = "projector-order-web";

/// The projector: every order event updates its order's row.
pub fn projector() -> ProjectorRouter {
    ProjectorRouter::new(NAME, "order")
        .on(|rows: &mut RowStore, ctx: &EventContext, e: OrderCreated| {
            update(rows, ctx, |row| {
                row.customer_id = e.customer_id;
                row.status = "pending".into();
                row.subtotal_cents = e.subtotal_cents;
                row.discount_cents = 0;
                row.total_cents = e.subtotal_cents;
                row.loyalty_points_used = 0;
                row.loyalty_points_earned = 0;
            })
        })
        .on(
            |rows: &mut RowStore, ctx: &EventContext, e: LoyaltyDiscountApplied| {
                update(rows, ctx, |row| {
                    row.discount_cents = e.discount_cents;
                    row.total_cents = row.subtotal_cents.saturating_sub(e.discount_cents);
                    row.loyalty_points_used = e.points_used;
                })
            },
        )
        .on(
            |rows: &mut RowStore, ctx: &EventContext, _: PaymentSubmitted| {
                update(rows, ctx, |row| row.status = "paid".into())
            },
        )
        .on(
            |rows: &mut RowStore, ctx: &EventContext, e: OrderCompleted| {
                update(rows, ctx, |row| {
                    row.status = "completed".into();
                    row.total_cents = e.final_total_cents;
                    row.loyalty_points_earned = e.loyalty_points_earned;
                })
            },
        )
        .on(
            |rows: &mut RowStore, ctx: &EventContext, _: OrderCancelled| {
                update(rows, ctx, |row| row.status = "cancelled".into())
            },
        )
}

/// Applies `change` to the row of the event's aggregate, once (see `RowStore::update_once`).
fn update(
    rows: &mut RowStore,
    ctx: &EventContext,
    change: impl FnOnce(&mut OrderView),
) -> Result<(), Status> {
    let key = ctx.root.to_string();
    rows.update_once(
        &key,
        ctx.sequence,
        |row: &mut OrderView| &mut row.last_sequence,
        |row| {
            row.order_id = key.clone();
            change(row)
        },
    )
    .map(drop)
}
