//! The rules of examples-spec §6.2 through the router, against an in-memory store (the shared
//! feature `projector-order-accounting.feature` states them for every language).

use angzarr_client::RowStore;
use angzarr_proto::{Cover, CoverExt, EventBook, EventPage, EventPageExt};
use example_proto::order::*;
use example_proto::projections::LedgerEntry;
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
        cover: Some(Cover::for_root("order", ROOT)),
        pages: vec![page],
        ..EventBook::default()
    };
    projector().handle(rows, &book).expect("handled");
}

fn ledger(rows: &RowStore) -> Vec<(String, LedgerEntry)> {
    rows.rows()
        .expect("rows")
        .into_iter()
        .map(|(key, any)| (key, any.to_msg().expect("a ledger entry")))
        .collect()
}

fn entry(entry_type: &str, amount_cents: i64) -> (String, LedgerEntry) {
    let order_id = ROOT.to_string();
    let key = format!("{order_id}:{entry_type}");
    let entry_type = entry_type.to_string();
    (
        key,
        LedgerEntry {
            order_id,
            entry_type,
            amount_cents,
        },
    )
}

#[test]
fn a_discounted_completion_books_revenue_and_discount_once() {
    let mut rows = RowStore::in_memory().expect("store");
    let completed = OrderCompleted {
        subtotal_cents: 10000,
        discount_cents: 1500,
        final_total_cents: 8500,
        ..OrderCompleted::default()
    };
    deliver(&mut rows, 3, &completed);
    deliver(&mut rows, 3, &completed);
    let expected = vec![entry("discount", 1500), entry("revenue", 8500)];
    assert_eq!(ledger(&rows), expected);
}

#[test]
fn only_completion_books_and_without_discount_only_revenue() {
    let mut rows = RowStore::in_memory().expect("store");
    deliver(&mut rows, 0, &OrderCreated::default());
    deliver(&mut rows, 1, &OrderCancelled::default());
    assert!(ledger(&rows).is_empty());
    let completed = OrderCompleted {
        final_total_cents: 5000,
        ..OrderCompleted::default()
    };
    deliver(&mut rows, 2, &completed);
    assert_eq!(ledger(&rows), vec![entry("revenue", 5000)]);
    let types = &projector().descriptor().inputs[0].types;
    assert_eq!(types, &vec!["OrderCompleted".to_string()]);
}
