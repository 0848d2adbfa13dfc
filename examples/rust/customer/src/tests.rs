//! Every numbered rule of examples-spec §3.1, one table row each, through one `check` helper.

use angzarr_proto::business_logic_client::BusinessLogicClient;
use angzarr_proto::{CommandBook, CommandPage, ContextualCommand, EventBook, EventPage, Snapshot};
use prost::{Message, Name};
use prost_types::Any;
use tonic::Code;

use crate::aggregate;
use example_proto::customer::*;

fn pack<M: Message + Name>(message: &M) -> Any {
    Any::from_msg(message).expect("encode")
}

fn create(name: &str, email: &str) -> Any {
    pack(&CreateCustomer {
        name: name.into(),
        email: email.into(),
    })
}

fn add(points: i64, reason: &str) -> Any {
    pack(&AddLoyaltyPoints {
        points,
        reason: reason.into(),
    })
}

fn redeem(points: i64, redemption_type: &str) -> Any {
    pack(&RedeemLoyaltyPoints {
        points,
        redemption_type: redemption_type.into(),
    })
}

fn created(name: &str, email: &str) -> Any {
    pack(&CustomerCreated {
        name: name.into(),
        email: email.into(),
        created_at: None,
    })
}

fn alice() -> Any {
    created("Alice", "alice@example.com")
}

fn added(points: i64, new_balance: i64, new_lifetime_points: i64, reason: &str) -> Any {
    let reason = reason.into();
    pack(&LoyaltyPointsAdded {
        points,
        new_balance,
        new_lifetime_points,
        reason,
        added_at: None,
    })
}

fn redeemed(points: i64, new_balance: i64, redemption_type: &str) -> Any {
    let redemption_type = redemption_type.into();
    pack(&LoyaltyPointsRedeemed {
        points,
        new_balance,
        redemption_type,
        redeemed_at: None,
    })
}

/// The event with its `*_at` timestamp cleared, after checking that the handler set it.
fn without_time(event: &Any) -> Any {
    fn cleared<M: Message + Name + Default>(
        event: &Any,
        at: fn(&mut M) -> &mut Option<prost_types::Timestamp>,
    ) -> Any {
        let mut message: M = event.to_msg().expect("decode event");
        assert!(
            at(&mut message).take().is_some(),
            "{} must carry its timestamp",
            M::NAME
        );
        pack(&message)
    }
    match event.type_url.rsplit('.').next() {
        Some("CustomerCreated") => cleared::<CustomerCreated>(event, |m| &mut m.created_at),
        Some("LoyaltyPointsAdded") => cleared::<LoyaltyPointsAdded>(event, |m| &mut m.added_at),
        Some("LoyaltyPointsRedeemed") => {
            cleared::<LoyaltyPointsRedeemed>(event, |m| &mut m.redeemed_at)
        }
        _ => panic!("unexpected event {}", event.type_url),
    }
}

fn history(events: &[Any]) -> EventBook {
    EventBook {
        pages: events
            .iter()
            .map(|e| EventPage {
                event: Some(e.clone()),
                ..EventPage::default()
            })
            .collect(),
        ..EventBook::default()
    }
}

fn request(history: EventBook, command: Any) -> ContextualCommand {
    ContextualCommand {
        events: Some(history),
        command: Some(CommandBook {
            pages: vec![CommandPage {
                sequence: None,
                command: Some(command),
            }],
            ..CommandBook::default()
        }),
    }
}

enum Then {
    Emits(Any),
    Rejects(Code, &'static str),
}
use Then::{Emits, Rejects};

const FP: Code = Code::FailedPrecondition;
const IA: Code = Code::InvalidArgument;

/// Given `events`, when `command`, then one event (compared without its timestamp, and the
/// offered snapshot equals the rebuilt state), or a rejection whose message contains `words`.
fn check(rule: &str, given: &[Any], when: Any, then: Then) {
    let result = aggregate().handle_command(&request(history(given), when));
    match then {
        Emits(expected) => {
            let book = result.unwrap_or_else(|s| panic!("{rule}: rejected: {s:?}"));
            let [page] = book.pages.as_slice() else {
                panic!("{rule}: expected one event, got {}", book.pages.len());
            };
            let event = page.event.as_ref().expect("event");
            assert_eq!(without_time(event), expected, "{rule}");
            let mut all = given.to_vec();
            all.push(event.clone());
            let rebuilt = aggregate().rebuild(&history(&all)).expect("rebuild");
            let offered: CustomerState = book
                .snapshot_state
                .expect("snapshot_state")
                .to_msg()
                .expect("state");
            assert_eq!(offered, rebuilt, "{rule}: snapshot_state");
        }
        Rejects(code, words) => {
            let status = result
                .err()
                .unwrap_or_else(|| panic!("{rule}: expected {code:?} {words:?}"));
            assert_eq!(status.code(), code, "{rule}: {}", status.message());
            let message = status.message().to_lowercase();
            assert!(
                message.contains(words),
                "{rule}: {message:?} lacks {words:?}"
            );
        }
    }
}

#[test]
fn commands() {
    let with_100 = || vec![alice(), added(100, 100, 100, "")];
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<Any>, Any, Then)> = vec![
        ("rule 1", vec![], create("Alice", "alice@example.com"), Emits(alice())),
        ("rule 2", vec![alice()], create("Alice", "alice@example.com"), Rejects(FP, "already exists")),
        ("rule 3", vec![], create("", "alice@example.com"), Rejects(IA, "name")),
        ("rule 4", vec![], create("Alice", ""), Rejects(IA, "email")),
        ("rule 5", vec![alice()], create("", "alice@example.com"), Rejects(FP, "already exists")),
        ("rule 6", vec![alice()], add(100, "welcome"), Emits(added(100, 100, 100, "welcome"))),
        ("rule 7", vec![alice(), added(50, 50, 50, "")], add(30, ""), Emits(added(30, 80, 80, ""))),
        ("rule 8", vec![alice(), added(200, 200, 200, ""), redeemed(50, 150, "")], add(10, ""), Emits(added(10, 160, 210, ""))),
        ("rule 9", vec![alice()], add(5, ""), Emits(added(5, 5, 5, ""))),
        ("rule 10", vec![], add(10, ""), Rejects(FP, "does not exist")),
        ("rule 11", vec![alice()], add(0, ""), Rejects(IA, "positive")),
        ("rule 12", vec![alice()], add(-10, ""), Rejects(IA, "positive")),
        ("rule 13", vec![], add(0, ""), Rejects(FP, "does not exist")),
        ("rule 14", with_100(), redeem(50, "discount"), Emits(redeemed(50, 50, "discount"))),
        ("rule 15", with_100(), redeem(100, ""), Emits(redeemed(100, 0, ""))),
        ("rule 16", vec![alice(), added(50, 50, 50, "")], redeem(100, ""), Rejects(FP, "insufficient")),
        ("rule 17", vec![], redeem(10, ""), Rejects(FP, "does not exist")),
        ("rule 18", with_100(), redeem(0, ""), Rejects(IA, "positive")),
        ("rule 19", with_100(), redeem(-5, ""), Rejects(IA, "positive")),
        ("rule 20", vec![alice()], redeem(0, ""), Rejects(IA, "positive")),
        ("§2 overflow: balance", vec![alice(), added(1, i64::MAX, i64::MAX, "")], add(1, ""), Rejects(IA, "overflow")),
        ("§2 overflow: lifetime", vec![alice(), added(1, 0, i64::MAX, "")], add(1, ""), Rejects(IA, "overflow")),
        ("§2 fields before state", vec![alice(), added(1, i64::MAX, i64::MAX, "")], add(0, ""), Rejects(IA, "positive")),
    ];
    for (rule, given, when, then) in cases {
        check(rule, &given, when, then);
    }
}

/// Given `events`, the rebuilt state.
fn check_state(rule: &str, given: &[Any], loyalty_points: i64, lifetime_points: i64) {
    let state = aggregate().rebuild(&history(given)).expect("rebuild");
    let expected = CustomerState {
        exists: true,
        name: "Alice".into(),
        email: "alice@example.com".into(),
        loyalty_points,
        lifetime_points,
    };
    assert_eq!(state, expected, "{rule}");
}

#[test]
fn rebuild() {
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<Any>, i64, i64)> = vec![
        ("rule 21", vec![alice(), added(100, 100, 100, ""), added(50, 150, 150, ""), redeemed(30, 120, "")], 120, 150),
        ("rule 22", vec![alice(), added(200, 200, 200, ""), redeemed(50, 150, "")], 150, 200),
        ("rule 23", vec![alice(), added(10, 500, 700, "")], 500, 700),
    ];
    for (rule, given, loyalty_points, lifetime_points) in cases {
        check_state(rule, &given, loyalty_points, lifetime_points);
    }
}

#[test]
fn continues_from_a_snapshot() {
    let snapshot = CustomerState {
        exists: true,
        loyalty_points: 100,
        lifetime_points: 100,
        ..CustomerState::default()
    };
    let mut book = history(&[added(20, 120, 120, "")]);
    book.snapshot = Some(Snapshot {
        sequence: 1,
        state: Some(pack(&snapshot)),
    });
    let out = aggregate()
        .handle_command(&request(book, redeem(30, "")))
        .expect("accepted");
    let event = out.pages[0].event.as_ref().expect("event");
    assert_eq!(without_time(event), redeemed(30, 90, ""));
}

#[test]
fn describes_the_customer_domain() {
    let descriptor = aggregate().descriptor();
    assert_eq!(
        (descriptor.name.as_str(), descriptor.component_type.as_str()),
        ("customer", "aggregate")
    );
    assert_eq!(descriptor.inputs[0].domain, "customer");
    assert_eq!(
        descriptor.inputs[0].types,
        ["CreateCustomer", "AddLoyaltyPoints", "RedeemLoyaltyPoints"]
    );
}

#[tokio::test]
async fn rejections_reach_grpc_callers_unchanged() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("customer.sock");
    let listener = angzarr_transport::bind(&path).expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let sets = [
        angzarr_proto::FILE_DESCRIPTOR_SET,
        example_proto::FILE_DESCRIPTOR_SET,
    ];
    let server = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        angzarr_client::serve_listener(listener, aggregate().into_server(), &sets, shutdown).await
    });
    let channel = angzarr_transport::channel(&path).await.expect("connect");
    let mut client = BusinessLogicClient::new(channel);
    let status = client
        .handle(request(
            history(&[alice()]),
            create("Alice", "alice@example.com"),
        ))
        .await
        .expect_err("exists");
    assert_eq!(
        (status.code(), status.message()),
        (FP, "customer already exists")
    );
    stop.send(()).expect("server alive");
    server.await.expect("join").expect("clean shutdown");
}
