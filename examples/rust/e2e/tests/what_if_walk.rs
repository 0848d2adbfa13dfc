//! The README's what-if walk (`scripts/what-if-walk`) against the demo manifest: dry runs at
//! past points, an edition, a speculative saga run and a correlation query, all with the CLI.

use std::process::Output;

use angzarr_standalone_integration::{bin_path, repo_root};
use example_e2e::Shop;
use example_proto::inventory::StockReserved;
use example_proto::key_root;
use prost::Message;
use tokio::process::Command;

async fn walk(shop: &Shop) -> Output {
    Command::new(repo_root().join("scripts/what-if-walk"))
        .env("ANGZARR_SOCKET_DIR", shop.socket_dir())
        .env("ANGZARR_CLI", bin_path("angzarr"))
        .kill_on_drop(true)
        .output()
        .await
        .expect("run scripts/what-if-walk")
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
async fn the_what_if_walk_works_on_the_demo_manifest() {
    let shop = Shop::start_demo().await.expect("the demo starts");
    let output = walk(&shop).await;
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    for expected in [
        // Not in the cart right after creation; removable after #1, as #2.
        "refused: angzarr: error: NOT_FOUND: product is not in cart",
        "dry run (as of sequence 1) of cart/",
        "would store 1 event",
        "#2 examples.cart.ItemRemoved",
        // The edition: shares #0..#1, its own gadget as #2.
        "shares main's events 0..=1, next sequence 2",
        "#2 examples.cart.ItemAdded {\"product_id\":\"GADGET-B\"",
        // The saga would reserve both lines of the edition's cart, sending nothing.
        "saga saga-cart-inventory would handle 2 events",
        "would send inventory/",
        "examples.inventory.ReserveStock",
        // The workflow across domains: the cart's events and the saga's inventory ones.
        "examples.inventory.StockReserved",
        "deleted edition keep-widget",
        "refused: angzarr: error: NOT_FOUND: no edition \"keep-widget\"",
    ] {
        assert!(out.contains(expected), "missing {expected:?}:\n{out}");
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let cart_key = stdout
        .lines()
        .filter(|line| line.starts_with("cart/"))
        .find_map(|line| line.split("(key \"").nth(1)?.split('"').next())
        .expect("the cart's key in the output")
        .to_string();
    let cart = key_root("cart", &cart_key);
    let history = shop
        .history("cart", cart)
        .await
        .expect("the cart's history");
    assert_eq!(history.len(), 3, "main kept its three events: {history:?}");

    shop.settle().await.expect("the cascade settles");
    let gadget = shop
        .history("inventory", key_root("inventory", "GADGET-B"))
        .await
        .expect("the gadget's stock");
    let reserved_for_cart = gadget.iter().any(|(_, page)| {
        page.event
            .as_ref()
            .filter(|e| e.type_url.ends_with(".StockReserved"))
            .and_then(|e| StockReserved::decode(e.value.as_slice()).ok())
            .is_some_and(|reserved| reserved.order_id == cart.to_string())
    });
    assert!(
        !reserved_for_cart,
        "no stock was reserved for the edition's cart line"
    );
}
