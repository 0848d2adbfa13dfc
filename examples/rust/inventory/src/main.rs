//! The inventory aggregate of the example shop as a business-logic process: the runtime starts
//! it with `ANGZARR_SOCKET` set, and it serves `angzarr.BusinessLogic` there until SIGTERM.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let service = example_inventory::aggregate().into_server();
    angzarr_client::run("inventory", service, &[example_proto::FILE_DESCRIPTOR_SET]).await
}
