//! projector-order-accounting (examples-spec §6.2): ledger rows booked when an order completes,
//! at most one per (order, entry type).
//!
//! Only OrderCompleted books anything, so it is the only event delivered. Rows are keyed
//! `<order_id>:<entry_type>` and only inserted when absent: a redelivered completion books
//! nothing more.

use angzarr_client::{EventContext, ProjectorRouter, RowStore};
use example_proto::order::OrderCompleted;
use example_proto::projections::LedgerEntry;
use tonic::Status;

/// The component's name (and its default row store, `<NAME>.db`).
pub const NAME: &str = "projector-order-accounting";

/// The projector: revenue for every completed order, plus its discount when there is one.
pub fn projector() -> ProjectorRouter {
    ProjectorRouter::new(NAME, "order").on(
        |rows: &mut RowStore, ctx: &EventContext, e: OrderCompleted| {
            let order_id = ctx.root.to_string();
            book(rows, &order_id, "revenue", e.final_total_cents)?;
            if e.discount_cents > 0 {
                book(rows, &order_id, "discount", e.discount_cents)?;
            }
            Ok(())
        },
    )
}

/// Inserts the ledger row unless the order already has an entry of that type.
fn book(
    rows: &mut RowStore,
    order_id: &str,
    entry_type: &str,
    amount_cents: i64,
) -> Result<(), Status> {
    let key = format!("{order_id}:{entry_type}");
    if rows.contains(&key)? {
        return Ok(());
    }
    let entry = LedgerEntry {
        order_id: order_id.to_string(),
        entry_type: entry_type.to_string(),
        amount_cents,
    };
    rows.put(&key, &entry)
}
