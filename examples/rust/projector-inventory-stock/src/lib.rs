//! projector-inventory-stock (examples-spec §6.4): one `StockLevel` row per inventory aggregate,
//! keyed by its root, flagging low stock.
//!
//! Events copy their facts (new_on_hand, new_reserved, new_available) into the row; the row
//! keeps the sequence it last applied, so a redelivered event changes nothing. LowStockAlert is
//! not handled (the row computes low_stock itself), so it is not even delivered.

use angzarr_client::{EventContext, ProjectorRouter, RowStore};
use example_proto::inventory::{
    ReservationCommitted, ReservationReleased, StockInitialized, StockReceived, StockReserved,
};
use example_proto::projections::StockLevel;
use tonic::Status;

/// The component's name (and its default row store, `<NAME>.db`).
pub const NAME: &str = "projector-inventory-stock";

/// The projector: every inventory event but LowStockAlert updates its inventory's row.
pub fn projector() -> ProjectorRouter {
    ProjectorRouter::new(NAME, "inventory")
        .on(
            |rows: &mut RowStore, ctx: &EventContext, e: StockInitialized| {
                update(rows, ctx, |row| {
                    row.product_id = e.product_id;
                    row.on_hand = e.quantity;
                    row.reserved = 0;
                    row.available = e.quantity;
                    row.low_stock_threshold = e.low_stock_threshold;
                })
            },
        )
        .on(
            |rows: &mut RowStore, ctx: &EventContext, e: StockReceived| {
                update(rows, ctx, |row| {
                    row.on_hand = e.new_on_hand;
                    row.available = e.new_on_hand.saturating_sub(row.reserved);
                })
            },
        )
        .on(
            |rows: &mut RowStore, ctx: &EventContext, e: StockReserved| {
                update(rows, ctx, |row| {
                    set_levels(row, e.new_on_hand, e.new_reserved, e.new_available)
                })
            },
        )
        .on(
            |rows: &mut RowStore, ctx: &EventContext, e: ReservationReleased| {
                update(rows, ctx, |row| {
                    set_levels(row, e.new_on_hand, e.new_reserved, e.new_available)
                })
            },
        )
        .on(
            |rows: &mut RowStore, ctx: &EventContext, e: ReservationCommitted| {
                update(rows, ctx, |row| {
                    set_levels(row, e.new_on_hand, e.new_reserved, e.new_available)
                })
            },
        )
}

fn set_levels(row: &mut StockLevel, on_hand: i32, reserved: i32, available: i32) {
    row.on_hand = on_hand;
    row.reserved = reserved;
    row.available = available;
}

/// Applies `change` to the row of the event's inventory, then recomputes low_stock, once (see
/// `RowStore::update_once`).
fn update(
    rows: &mut RowStore,
    ctx: &EventContext,
    change: impl FnOnce(&mut StockLevel),
) -> Result<(), Status> {
    rows.update_once(
        &ctx.root.to_string(),
        ctx.sequence,
        |row: &mut StockLevel| &mut row.last_sequence,
        |row| {
            change(row);
            row.low_stock = row.low_stock_threshold > 0 && row.available < row.low_stock_threshold;
        },
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    // The rules are the shared feature's; this checks what no feature can see: the descriptor.
    #[test]
    fn low_stock_alerts_are_not_delivered() {
        let types = &super::projector().descriptor().inputs[0].types;
        assert!(!types.iter().any(|t| t == "LowStockAlert"), "{types:?}");
        assert_eq!(types.len(), 5);
    }
}
