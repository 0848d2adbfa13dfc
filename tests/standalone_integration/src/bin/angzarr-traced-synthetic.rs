//! `angzarr-traced-synthetic`: the synthetic aggregate, or (with `SYNTHETIC_KIND=saga`) the
//! synthetic saga, served through `angzarr-client` with its `otel` feature, so its spans join
//! the runtime's traces and are exported where `OTEL_EXPORTER_OTLP_ENDPOINT` says. Built only
//! with this crate's `otel` feature (the trace test uses it).

use std::process::ExitCode;
use std::sync::Arc;

use angzarr_proto::business_logic_server::BusinessLogicServer;
use angzarr_proto::saga_server::{Saga, SagaServer};
use angzarr_proto::{
    CommandRejection, ComponentDescriptor, EventBook, GetDescriptorRequest, SagaResponse,
};
use angzarr_synthetic_aggregate::SyntheticAggregate;
use angzarr_synthetic_aggregate::subscriber::{SubscriberConfig, saga_commands, saga_compensation};
use tonic::{Request, Response, Status};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

/// The synthetic saga, with a span of its own around the decision (user code's span).
struct TracedSaga(Arc<SubscriberConfig>);

#[tonic::async_trait]
impl Saga for TracedSaga {
    async fn handle(&self, request: Request<EventBook>) -> Result<Response<SagaResponse>, Status> {
        let correlation_id = request
            .get_ref()
            .cover
            .as_ref()
            .map(|c| c.correlation_id.clone())
            .unwrap_or_default();
        let _decide =
            tracing::info_span!("saga.decide", saga = %self.0.name, %correlation_id).entered();
        tracing::info!("deciding which commands to send");
        Ok(Response::new(SagaResponse {
            commands: saga_commands(&self.0, request.get_ref()),
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
        Ok(Response::new(self.0.descriptor()))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let component = var("ANGZARR_COMPONENT");
    let telemetry = angzarr_client::init_telemetry(&component);
    let descriptors = [angzarr_proto::FILE_DESCRIPTOR_SET];
    let result = if var("SYNTHETIC_KIND") == "saga" {
        let config = SubscriberConfig {
            name: component.clone(),
            kind: "saga".into(),
            inputs: var("SYNTHETIC_INPUTS")
                .split(',')
                .map(str::to_string)
                .collect(),
            target: Some(var("SYNTHETIC_TARGET")),
            editions: Vec::new(),
        };
        angzarr_client::serve(SagaServer::new(TracedSaga(Arc::new(config))), &descriptors).await
    } else {
        let logic = SyntheticAggregate::new(component.clone());
        angzarr_client::serve(BusinessLogicServer::new(logic), &descriptors).await
    };
    if let Some(telemetry) = telemetry {
        let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("angzarr-traced-synthetic: {err}");
            ExitCode::FAILURE
        }
    }
}
