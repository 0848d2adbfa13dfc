//! The one-hop baseline: a bare tonic service over a Unix socket, in its own process, that
//! answers a `CommandBook` with an `EventBook` holding the command, so request and response
//! are the size the runtime's are. It runs the same server stack the runtime uses for its
//! coordinators and business logic (tonic over `angzarr_transport`, with health and
//! reflection), and does no work, so its rate is what one gRPC hop costs on this machine.

use angzarr_proto::business_coordinator_server::{BusinessCoordinator, BusinessCoordinatorServer};
use angzarr_proto::{CommandBook, CommandResponse, EventBook, EventPage, EventPageExt};
use tonic::{Request, Response, Status};

use crate::e2e::{Spread, drive_coordinator};
use crate::error::{Error, Result};
use crate::options::{Group, Plan};
use crate::processes::Server;
use crate::report::Scenario;

/// `angzarr.BusinessCoordinator` that echoes each command back as an event.
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoService;

#[tonic::async_trait]
impl BusinessCoordinator for EchoService {
    async fn handle(
        &self,
        request: Request<CommandBook>,
    ) -> std::result::Result<Response<CommandResponse>, Status> {
        let book = request.into_inner();
        let pages = book
            .pages
            .into_iter()
            .zip(0..)
            .map(|(page, sequence)| {
                let mut event = EventPage {
                    event: page.command,
                    ..EventPage::default()
                };
                event.set_sequence_num(sequence);
                event
            })
            .collect();
        Ok(Response::new(CommandResponse {
            events: Some(EventBook {
                cover: book.cover,
                pages,
                ..EventBook::default()
            }),
            projections: Vec::new(),
        }))
    }

    async fn record(
        &self,
        _request: Request<EventBook>,
    ) -> std::result::Result<Response<CommandResponse>, Status> {
        Err(Status::unimplemented("the echo baseline only echoes"))
    }

    async fn dry_run(
        &self,
        _request: Request<angzarr_proto::DryRunRequest>,
    ) -> std::result::Result<Response<CommandResponse>, Status> {
        Err(Status::unimplemented("the echo baseline only echoes"))
    }
}

/// Serves [`EchoService`] on `$ANGZARR_SOCKET` until SIGTERM (`angzarr-bench --serve-echo`).
pub async fn serve() -> std::result::Result<(), angzarr_client::Error> {
    angzarr_client::serve(
        BusinessCoordinatorServer::new(EchoService),
        &[angzarr_proto::FILE_DESCRIPTOR_SET],
    )
    .await
}

/// The echo scenarios: the echo server in its own process, at each client count.
pub async fn run(plan: &Plan) -> Result<Vec<Scenario>> {
    let program = plan.binary("angzarr-bench")?;
    let dir = crate::e2e::temp_dir()?;
    let socket = dir.path().join("echo.sock");
    let server = Server::start(
        "the echo server",
        &program,
        &["--serve-echo"],
        &[("ANGZARR_SOCKET", socket.as_os_str())],
        dir.path().join("echo.stderr"),
        &socket,
    )
    .await?;
    let mut scenarios = Vec::new();
    let mut failure = None;
    for &clients in &plan.clients {
        let spread = Spread::Many(plan.aggregates);
        match drive_coordinator(plan, &socket, clients, spread, server.pid()).await {
            Ok(outcome) => scenarios.push(Scenario::from_outcome(
                Group::Echo,
                format!("echo-{clients}"),
                "bare tonic echo".into(),
                clients,
                None,
                &outcome,
            )),
            Err(err) => {
                failure = Some(err);
                break;
            }
        }
    }
    server.stop().await;
    match failure {
        Some(err) => Err(Error::setup("echo baseline", err)),
        None => Ok(scenarios),
    }
}
