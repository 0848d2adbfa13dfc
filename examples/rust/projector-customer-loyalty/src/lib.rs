//! projector-customer-loyalty (examples-spec §6.3): one `LoyaltyView` row per customer, keyed by
//! the customer root, with the balance a loyalty page shows.
//!
//! Events copy their facts (new_balance, new_lifetime_points) into the row; the row keeps the
//! sequence it last applied, so a redelivered event changes nothing.

use angzarr_client::{EventContext, ProjectorRouter, RowStore};
use example_proto::customer::{CustomerCreated, LoyaltyPointsAdded, LoyaltyPointsRedeemed};
use example_proto::projections::LoyaltyView;
use tonic::Status;

/// The component's name (and its default row store, `<NAME>.db`).
pub const NAME: &str = "projector-customer-loyalty";

/// The projector: every customer event updates its customer's row.
pub fn projector() -> ProjectorRouter {
    ProjectorRouter::new(NAME, "customer")
        .on(
            |rows: &mut RowStore, ctx: &EventContext, e: CustomerCreated| {
                update(rows, ctx, |row| {
                    row.customer_id = e.email;
                    row.name = e.name;
                    row.current_points = 0;
                    row.lifetime_points = 0;
                })
            },
        )
        .on(
            |rows: &mut RowStore, ctx: &EventContext, e: LoyaltyPointsAdded| {
                update(rows, ctx, |row| {
                    row.current_points = e.new_balance;
                    row.lifetime_points = e.new_lifetime_points;
                })
            },
        )
        .on(
            |rows: &mut RowStore, ctx: &EventContext, e: LoyaltyPointsRedeemed| {
                update(rows, ctx, |row| row.current_points = e.new_balance)
            },
        )
}

/// Applies `change` to the row of the event's aggregate, once (see `RowStore::update_once`).
fn update(
    rows: &mut RowStore,
    ctx: &EventContext,
    change: impl FnOnce(&mut LoyaltyView),
) -> Result<(), Status> {
    let key = ctx.root.to_string();
    rows.update_once(
        &key,
        ctx.sequence,
        |row: &mut LoyaltyView| &mut row.last_sequence,
        |row| change(row),
    )
    .map(drop)
}
