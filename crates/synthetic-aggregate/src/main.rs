//! `angzarr-synthetic-aggregate`: serves the synthetic aggregate on `ANGZARR_SOCKET` for the
//! domain named by `ANGZARR_COMPONENT` (see the library docs).

use std::process::ExitCode;

use angzarr_proto::business_logic_server::BusinessLogicServer;
use angzarr_synthetic_aggregate::SyntheticAggregate;

#[tokio::main]
async fn main() -> ExitCode {
    let Some(domain) = std::env::var_os("ANGZARR_COMPONENT") else {
        eprintln!(
            "angzarr-synthetic-aggregate: ANGZARR_COMPONENT is not set (run it under angzarr-standalone)"
        );
        return ExitCode::from(2);
    };
    let logic = SyntheticAggregate::new(domain.to_string_lossy());
    match angzarr_client::serve(
        BusinessLogicServer::new(logic),
        &[angzarr_proto::FILE_DESCRIPTOR_SET],
    )
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("angzarr-synthetic-aggregate: {err}");
            ExitCode::FAILURE
        }
    }
}
