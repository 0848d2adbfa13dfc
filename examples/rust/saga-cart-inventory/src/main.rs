//! saga-cart-inventory of the example shop as a business-logic process: the runtime starts it with
//! `ANGZARR_SOCKET` set, and it serves `angzarr.Saga` there until SIGTERM.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let service = example_saga_cart_inventory::saga().into_server();
    angzarr_client::run(
        "saga-cart-inventory",
        service,
        &[example_proto::FILE_DESCRIPTOR_SET],
    )
    .await
}
