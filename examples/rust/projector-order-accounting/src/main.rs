//! projector-order-accounting as a business-logic process: the runtime starts it with
//! `ANGZARR_SOCKET` set; it writes its rows to `$ANGZARR_PROJECTION_DB` (or
//! `projector-order-accounting.db`) and serves `angzarr.Projector` until SIGTERM.

use std::process::ExitCode;

use angzarr_client::RowStore;
use example_projector_order_accounting::{NAME, projector};

#[tokio::main]
async fn main() -> ExitCode {
    let rows = match RowStore::from_env(NAME) {
        Ok(rows) => rows,
        Err(err) => {
            eprintln!("{NAME}: cannot open its row store: {}", err.message());
            return ExitCode::FAILURE;
        }
    };
    let service = projector().into_server(rows);
    angzarr_client::run(NAME, service, &[example_proto::FILE_DESCRIPTOR_SET]).await
}
