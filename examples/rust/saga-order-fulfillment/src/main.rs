//! saga-order-fulfillment of the example shop as a business-logic process: the runtime starts it with
//! `ANGZARR_SOCKET` set, and it serves `angzarr.Saga` there until SIGTERM.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let service = example_saga_order_fulfillment::saga().into_server();
    angzarr_client::run(
        "saga-order-fulfillment",
        service,
        &[example_proto::FILE_DESCRIPTOR_SET],
    )
    .await
}
