//! The rules of examples-spec §6.3 through the router, against an in-memory store (the shared
//! feature `projector-customer-loyalty.feature` states them for every language).

use angzarr_client::RowStore;
use angzarr_proto::{Cover, CoverExt, EventBook, EventPage, EventPageExt};
use example_proto::customer::*;
use example_proto::projections::LoyaltyView;
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
        cover: Some(Cover::for_root("customer", ROOT)),
        pages: vec![page],
        ..EventBook::default()
    };
    projector().handle(rows, &book).expect("handled");
}

fn row(rows: &RowStore) -> LoyaltyView {
    rows.get(&ROOT.to_string()).expect("get").expect("row")
}

#[test]
fn points_added_then_redeemed_ignoring_redeliveries() {
    let mut rows = RowStore::in_memory().expect("store");
    let created = CustomerCreated {
        name: "Alice".into(),
        email: "alice@example.com".into(),
        created_at: None,
    };
    deliver(&mut rows, 0, &created);
    let added = LoyaltyPointsAdded {
        points: 500,
        new_balance: 500,
        new_lifetime_points: 500,
        ..LoyaltyPointsAdded::default()
    };
    deliver(&mut rows, 1, &added);
    let redeemed = LoyaltyPointsRedeemed {
        points: 200,
        new_balance: 300,
        ..LoyaltyPointsRedeemed::default()
    };
    deliver(&mut rows, 2, &redeemed);
    let expected = LoyaltyView {
        customer_id: "alice@example.com".into(),
        name: "Alice".into(),
        current_points: 300,
        lifetime_points: 500,
        last_sequence: 2,
    };
    assert_eq!(row(&rows), expected);
    // Redelivered from the start: nothing changes.
    deliver(&mut rows, 0, &created);
    deliver(&mut rows, 1, &added);
    assert_eq!(row(&rows), expected);
}
