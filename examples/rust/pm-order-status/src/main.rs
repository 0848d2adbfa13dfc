//! The order-status process manager of the example shop as a business-logic process: the runtime
//! starts it with `ANGZARR_SOCKET` set, and it serves `angzarr.ProcessManager` there until
//! SIGTERM.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let service = example_pm_order_status::process_manager().into_server();
    angzarr_client::run(
        "order-status",
        service,
        &[example_proto::FILE_DESCRIPTOR_SET],
    )
    .await
}
