//! The README's walk through the shop (`scripts/shop-walk`) against the demo manifest (the
//! repository's `angzarr.toml`), twice: it must work as written on a fresh clone, and again on
//! the same store.

use std::process::Output;

use angzarr_standalone_integration::{bin_path, repo_root};
use example_e2e::Shop;
use example_features::values::unpack;
use tokio::process::Command;

async fn walk(shop: &Shop) -> Output {
    Command::new(repo_root().join("scripts/shop-walk"))
        .env("ANGZARR_SOCKET_DIR", shop.socket_dir())
        .env("ANGZARR_CLI", bin_path("angzarr"))
        .kill_on_drop(true)
        .output()
        .await
        .expect("run scripts/shop-walk")
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walk_works_on_the_demo_manifest_and_again() {
    let shop = Shop::start_demo().await.expect("the demo starts");

    let first = walk(&shop).await;
    let out = text(&first);
    assert!(first.status.success(), "{out}");
    for effect in [
        // The cascade of ConfirmPayment, followed by the CLI...
        "examples.order.OrderCompleted",
        "examples.fulfillment.ShipmentCreated",
        "examples.inventory.ReservationCommitted",
        r#""reason":"order:"#,
        // ...and the process manager's own events, decoded through its reflection.
        r#""to_status":"completed""#,
    ] {
        assert!(out.contains(effect), "missing {effect}:\n{out}");
    }

    // The second run finds the customer and products in place and buys again.
    let second = walk(&shop).await;
    let again = text(&second);
    assert!(second.status.success(), "{again}");
    assert!(
        again.contains("customer alice@example.com exists already"),
        "{again}"
    );

    shop.settle().await.expect("the cascade settles");
    let loyalty = shop.rows("projector-customer-loyalty").expect("rows");
    assert_eq!(loyalty.len(), 1, "{loyalty:?}");
    let row = unpack(&loyalty[0].1).expect("a loyalty row");
    let points = row
        .get_field_by_name("current_points")
        .and_then(|v| v.as_i64());
    // Two orders of 6000 cents earn 60 points each.
    assert_eq!(points, Some(120), "{row:?}");
}
