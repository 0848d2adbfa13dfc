//! `angzarr-synthetic-subscriber`: a synthetic projector, saga or process manager, chosen by
//! `SYNTHETIC_KIND` (see the library docs), served on `ANGZARR_SOCKET`.

use std::process::ExitCode;
use std::sync::Arc;

use angzarr_proto::process_manager_server::{ProcessManager, ProcessManagerServer};
use angzarr_proto::projector_server::{Projector, ProjectorServer};
use angzarr_proto::saga_server::{Saga, SagaServer};
use angzarr_proto::{
    CommandRejection, ComponentDescriptor, EventBook, GetDescriptorRequest,
    ProcessManagerRejectionRequest, ProcessManagerRequest, ProcessManagerResponse, Projection,
    SagaResponse, SpeculativeProjectionRequest, SpeculativeProjections,
};
use angzarr_synthetic_aggregate::subscriber::{
    AfterWrite, LogProjector, SubscriberConfig, process_manager_decide, saga_commands,
    saga_compensation,
};
use tonic::{Request, Response, Status};

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn required(name: &str) -> Result<String, String> {
    var(name).ok_or_else(|| format!("{name} is not set"))
}

#[derive(Clone)]
struct Service {
    config: Arc<SubscriberConfig>,
    projector: Option<Arc<LogProjector>>,
}

impl Service {
    fn projector(&self) -> Result<&LogProjector, Status> {
        self.projector
            .as_deref()
            .ok_or_else(|| Status::unimplemented("not a projector"))
    }

    fn project(&self, book: &EventBook) -> Result<Projection, Status> {
        match self.projector()?.project(book)? {
            AfterWrite::Answer(projection) => Ok(projection),
            // A crash on purpose, after the write and before the answer.
            AfterWrite::Exit => std::process::exit(3),
        }
    }
}

#[tonic::async_trait]
impl Projector for Service {
    async fn handle(&self, request: Request<EventBook>) -> Result<Response<()>, Status> {
        self.project(request.get_ref())?;
        Ok(Response::new(()))
    }

    async fn handle_sync(
        &self,
        request: Request<EventBook>,
    ) -> Result<Response<Projection>, Status> {
        self.project(request.get_ref()).map(Response::new)
    }

    async fn handle_speculative(
        &self,
        request: Request<SpeculativeProjectionRequest>,
    ) -> Result<Response<SpeculativeProjections>, Status> {
        let projections = self.projector()?.speculate(&request.get_ref().books)?;
        Ok(Response::new(SpeculativeProjections { projections }))
    }

    async fn get_descriptor(
        &self,
        _request: Request<GetDescriptorRequest>,
    ) -> Result<Response<ComponentDescriptor>, Status> {
        Ok(Response::new(self.config.descriptor()))
    }
}

#[tonic::async_trait]
impl Saga for Service {
    async fn handle(&self, request: Request<EventBook>) -> Result<Response<SagaResponse>, Status> {
        Ok(Response::new(SagaResponse {
            commands: saga_commands(&self.config, request.get_ref()),
        }))
    }

    async fn handle_rejection(
        &self,
        request: Request<CommandRejection>,
    ) -> Result<Response<SagaResponse>, Status> {
        Ok(Response::new(SagaResponse {
            commands: saga_compensation(request.get_ref()),
        }))
    }

    async fn get_descriptor(
        &self,
        _request: Request<GetDescriptorRequest>,
    ) -> Result<Response<ComponentDescriptor>, Status> {
        Ok(Response::new(self.config.descriptor()))
    }
}

#[tonic::async_trait]
impl ProcessManager for Service {
    async fn handle(
        &self,
        request: Request<ProcessManagerRequest>,
    ) -> Result<Response<ProcessManagerResponse>, Status> {
        Ok(Response::new(process_manager_decide(
            &self.config,
            request.get_ref(),
        )))
    }

    async fn handle_rejection(
        &self,
        _request: Request<ProcessManagerRejectionRequest>,
    ) -> Result<Response<ProcessManagerResponse>, Status> {
        Ok(Response::new(ProcessManagerResponse::default()))
    }

    async fn get_descriptor(
        &self,
        _request: Request<GetDescriptorRequest>,
    ) -> Result<Response<ComponentDescriptor>, Status> {
        Ok(Response::new(self.config.descriptor()))
    }
}

fn configure() -> Result<Service, String> {
    let kind = required("SYNTHETIC_KIND")?;
    if !matches!(kind.as_str(), "projector" | "saga" | "process_manager") {
        return Err(format!(
            "SYNTHETIC_KIND must be projector, saga or process_manager, not {kind:?}"
        ));
    }
    let config = SubscriberConfig {
        name: required("ANGZARR_COMPONENT")?,
        inputs: required("SYNTHETIC_INPUTS")?
            .split(',')
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .collect(),
        target: var("SYNTHETIC_TARGET"),
        editions: var("SYNTHETIC_EDITIONS")
            .unwrap_or_default()
            .split(',')
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect(),
        kind,
    };
    if config.kind != "projector" && config.target.is_none() {
        return Err(format!("a {} needs SYNTHETIC_TARGET", config.kind));
    }
    let projector = if config.kind == "projector" {
        let log = required("SYNTHETIC_LOG")?;
        let projector = LogProjector::open(
            config.name.clone(),
            log.clone().into(),
            var("SYNTHETIC_FAIL_PAYLOAD").map(String::into_bytes),
            var("SYNTHETIC_EXIT_PAYLOAD").map(String::into_bytes),
        )
        .map_err(|e| format!("cannot read {log}: {e}"))?
        .with_lag_log(var("SYNTHETIC_LAG_LOG").map(Into::into));
        Some(Arc::new(projector))
    } else {
        None
    };
    Ok(Service {
        config: Arc::new(config),
        projector,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let service = match configure() {
        Ok(service) => service,
        Err(err) => {
            eprintln!("angzarr-synthetic-subscriber: {err}");
            return ExitCode::from(2);
        }
    };
    let descriptors = [angzarr_proto::FILE_DESCRIPTOR_SET];
    let result = match service.config.kind.as_str() {
        "projector" => angzarr_client::serve(ProjectorServer::new(service), &descriptors).await,
        "saga" => angzarr_client::serve(SagaServer::new(service), &descriptors).await,
        _ => angzarr_client::serve(ProcessManagerServer::new(service), &descriptors).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("angzarr-synthetic-subscriber: {err}");
            ExitCode::FAILURE
        }
    }
}
