//! The rules of examples-spec §6.1 through the router, against an in-memory store (the shared
//! feature `projector-order-web.feature` states them for every language).

use angzarr_client::RowStore;
use angzarr_proto::{Cover, CoverExt, EventBook, EventPage, EventPageExt};
use example_proto::order::*;
use example_proto::projections::OrderView;
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

fn row(rows: &RowStore) -> OrderView {
    rows.get(&ROOT.to_string()).expect("get").expect("row")
}

fn created() -> OrderCreated {
    OrderCreated {
        customer_id: "alice@example.com".into(),
        subtotal_cents: 5000,
        ..OrderCreated::default()
    }
}

#[test]
fn a_discounted_order_paid_and_completed_ignoring_redeliveries() {
    let mut rows = RowStore::in_memory().expect("store");
    deliver(&mut rows, 0, &created());
    assert_eq!(row(&rows).status, "pending");
    deliver(&mut rows, 0, &created());
    assert_eq!(row(&rows).last_sequence, 0);
    let discount = LoyaltyDiscountApplied {
        points_used: 500,
        discount_cents: 500,
        applied_at: None,
    };
    deliver(&mut rows, 1, &discount);
    deliver(&mut rows, 2, &PaymentSubmitted::default());
    assert_eq!(row(&rows).status, "paid");
    let completed = OrderCompleted {
        final_total_cents: 4500,
        loyalty_points_earned: 45,
        ..OrderCompleted::default()
    };
    deliver(&mut rows, 3, &completed);
    let expected = OrderView {
        order_id: ROOT.to_string(),
        customer_id: "alice@example.com".into(),
        status: "completed".into(),
        subtotal_cents: 5000,
        discount_cents: 500,
        total_cents: 4500,
        loyalty_points_used: 500,
        loyalty_points_earned: 45,
        last_sequence: 3,
    };
    assert_eq!(row(&rows), expected);
    // A checkpoint reset delivers everything again: nothing changes.
    deliver(&mut rows, 0, &created());
    deliver(&mut rows, 2, &PaymentSubmitted::default());
    assert_eq!(row(&rows), expected);
    assert_eq!(rows.rows().expect("rows").len(), 1);
}

#[test]
fn a_cancelled_order_keeps_its_amounts() {
    let mut rows = RowStore::in_memory().expect("store");
    deliver(&mut rows, 0, &created());
    deliver(&mut rows, 1, &OrderCancelled::default());
    let row = row(&rows);
    assert_eq!((row.status.as_str(), row.total_cents), ("cancelled", 5000));
}
