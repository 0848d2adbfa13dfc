//! The rules of examples-spec §6.4 through the router, against an in-memory store (the shared
//! feature `projector-inventory-stock.feature` states them for every language).

use angzarr_client::RowStore;
use angzarr_proto::{Cover, CoverExt, EventBook, EventPage, EventPageExt};
use example_proto::inventory::*;
use example_proto::projections::StockLevel;
use prost_types::Any;
use uuid::Uuid;

use crate::projector;

const ROOT: Uuid = Uuid::from_u128(7);

fn deliver<E: prost::Name>(rows: &mut RowStore, sequence: u32, event: &E) {
    let mut page = EventPage {
        event: Some(Any::from_msg(event).expect("encode")),
        ..EventPage::default()
    };
    page.set_sequence_num(sequence);
    let book = EventBook {
        cover: Some(Cover::for_root("inventory", ROOT)),
        pages: vec![page],
        ..EventBook::default()
    };
    projector().handle(rows, &book).expect("handled");
}

fn row(rows: &RowStore) -> StockLevel {
    rows.get(&ROOT.to_string()).expect("get").expect("row")
}

fn levels(rows: &RowStore) -> (i32, i32, i32, bool) {
    let row = row(rows);
    (row.on_hand, row.reserved, row.available, row.low_stock)
}

#[test]
fn low_stock_follows_availability_and_redeliveries_change_nothing() {
    let mut rows = RowStore::in_memory().expect("store");
    let initialized = StockInitialized {
        product_id: "WIDGET-A".into(),
        quantity: 20,
        low_stock_threshold: 10,
        initialized_at: None,
    };
    deliver(&mut rows, 0, &initialized);
    assert_eq!(levels(&rows), (20, 0, 20, false));
    let reserved = StockReserved {
        order_id: "o-1".into(),
        quantity: 15,
        new_on_hand: 20,
        new_reserved: 15,
        new_available: 5,
        reserved_at: None,
    };
    deliver(&mut rows, 1, &reserved);
    assert_eq!(levels(&rows), (20, 15, 5, true));
    let received = StockReceived {
        quantity: 20,
        new_on_hand: 40,
        ..StockReceived::default()
    };
    deliver(&mut rows, 3, &received);
    assert_eq!(levels(&rows), (40, 15, 25, false));
    let committed = ReservationCommitted {
        order_id: "o-1".into(),
        quantity: 15,
        new_on_hand: 25,
        new_reserved: 0,
        new_available: 25,
        committed_at: None,
    };
    deliver(&mut rows, 4, &committed);
    let expected = row(&rows);
    assert_eq!(levels(&rows), (25, 0, 25, false));
    assert_eq!(expected.last_sequence, 4);
    deliver(&mut rows, 0, &initialized);
    deliver(&mut rows, 1, &reserved);
    assert_eq!(row(&rows), expected);
}

#[test]
fn low_stock_alerts_are_not_delivered() {
    let types = &projector().descriptor().inputs[0].types;
    assert!(!types.iter().any(|t| t == "LowStockAlert"), "{types:?}");
    assert_eq!(types.len(), 5);
}
