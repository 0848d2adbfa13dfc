//! What-if on the gateway: dry runs of commands, editions of aggregates, and speculative runs
//! of subscribers. None of them goes around the coordinators or the components' own contracts:
//! a dry run is the coordinator's (which cannot write), editions are created and deleted by the
//! coordinator of their domain (under the aggregate's lock), and a speculative run is the
//! subscriber's (outside its worker, so nothing is checkpointed, executed or stored).

use std::sync::Arc;

use angzarr_proto::editions_server::{Editions, EditionsServer};
use angzarr_proto::speculation_server::{Speculation, SpeculationServer};
use angzarr_proto::{
    CommandResponse, CreateEditionRequest, DeleteEditionResponse, DryRunRequest, Edition,
    EditionRequest, EventBook, ListEditionsRequest, ListEditionsResponse, SpeculateRequest,
    SpeculateResponse, UuidExt,
};
use tonic::{Request, Response, Status};

use super::GatewayService;
use super::cursor::QueryCursor;
use super::tail::group_into_books;
use crate::aggregate::{AggregateCoordinator, EditionInfo};
use crate::error::Error;
use crate::storage::{self, LoadOptions};

/// Most events one speculative run may read by query (they are held in memory).
pub const MAX_SPECULATIVE_EVENTS: usize = 10_000;

fn status(err: impl Into<Error>) -> Status {
    err.into().to_status()
}

impl GatewayService {
    /// The what-if services (`angzarr.Editions`, `angzarr.Speculation`), limited to
    /// `max_message_bytes` per request.
    pub fn what_if_servers(
        &self,
        max_message_bytes: usize,
    ) -> (EditionsServer<Self>, SpeculationServer<Self>) {
        let limit = max_message_bytes;
        (
            EditionsServer::new(self.clone()).max_decoding_message_size(limit),
            SpeculationServer::new(self.clone())
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit.saturating_mul(4)),
        )
    }

    fn coordinator(&self, domain: &str) -> Result<&Arc<AggregateCoordinator>, Status> {
        self.dispatcher
            .router()
            .coordinator(domain)
            .ok_or_else(|| Status::not_found(format!("no aggregate serves domain {domain:?} here")))
    }

    /// `CommandGateway.DryRun`: the coordinator of the command's domain rehearses it.
    pub(super) async fn dry_run_command(
        &self,
        request: DryRunRequest,
    ) -> Result<CommandResponse, Status> {
        let domain = request
            .command
            .as_ref()
            .and_then(|c| c.cover.as_ref())
            .map(|c| c.domain.clone())
            .ok_or_else(|| Status::invalid_argument("the dry run has no command with a cover"))?;
        self.coordinator(&domain)?
            .dry_run(request)
            .await
            .map_err(|err| err.to_status())
    }

    /// The events a speculative run is given: the caller's, or those a query reads.
    async fn speculative_events(
        &self,
        request: SpeculateRequest,
    ) -> Result<Vec<EventBook>, Status> {
        match (request.events.is_empty(), request.query) {
            (false, None) => {
                for (index, book) in request.events.iter().enumerate() {
                    if book.cover.as_ref().is_none_or(|c| c.domain.is_empty()) {
                        return Err(Status::invalid_argument(format!(
                            "event book {index} has no cover with a domain"
                        )));
                    }
                    if book
                        .pages
                        .iter()
                        .any(|p| p.event.as_ref().is_none_or(|e| e.type_url.is_empty()))
                    {
                        return Err(Status::invalid_argument(format!(
                            "event book {index} has a page without a typed event"
                        )));
                    }
                }
                Ok(request.events)
            }
            (true, Some(query)) => {
                let mut cursor = QueryCursor::open(self, query).await?;
                let mut events = Vec::new();
                while let Some(page) = cursor.next_page().await? {
                    events.extend(page);
                    if events.len() > MAX_SPECULATIVE_EVENTS {
                        return Err(Status::resource_exhausted(format!(
                            "the query selects more than {MAX_SPECULATIVE_EVENTS} events; narrow it (a range, or one aggregate)"
                        )));
                    }
                }
                Ok(group_into_books(&events))
            }
            (false, Some(_)) => Err(Status::invalid_argument(
                "give either events or a query, not both",
            )),
            (true, None) => Err(Status::invalid_argument(
                "give the events to run on, or a query that reads them",
            )),
        }
    }
}

fn edition_message(info: EditionInfo) -> Edition {
    Edition {
        cover: Some(info.edition.key.cover("")),
        divergence_sequence: info.edition.divergence,
        created_at: Some(info.edition.created_at),
        next_sequence: info.next_sequence,
    }
}

fn cover_of(cover: Option<angzarr_proto::Cover>) -> Result<angzarr_proto::Cover, Status> {
    cover.ok_or_else(|| Status::invalid_argument("no cover (domain, root and edition name)"))
}

#[tonic::async_trait]
impl Editions for GatewayService {
    async fn create(
        &self,
        request: Request<CreateEditionRequest>,
    ) -> Result<Response<Edition>, Status> {
        let request = request.into_inner();
        let cover = cover_of(request.cover)?;
        let info = self
            .coordinator(&cover.domain)?
            .create_edition(&cover, request.divergence_sequence)
            .await
            .map_err(status)?;
        Ok(Response::new(edition_message(info)))
    }

    async fn get(&self, request: Request<EditionRequest>) -> Result<Response<Edition>, Status> {
        let cover = cover_of(request.into_inner().cover)?;
        let info = self
            .coordinator(&cover.domain)?
            .edition(&cover)
            .await
            .map_err(status)?;
        Ok(Response::new(edition_message(info)))
    }

    async fn list(
        &self,
        request: Request<ListEditionsRequest>,
    ) -> Result<Response<ListEditionsResponse>, Status> {
        let request = request.into_inner();
        let domain = Some(request.domain).filter(|d| !d.is_empty());
        if let Some(domain) = &domain {
            self.coordinator(domain)?;
        }
        let root = request
            .root
            .map(|r| r.to_uuid())
            .transpose()
            .map_err(|e| Status::invalid_argument(format!("invalid root: {e}")))?;
        let editions = self
            .store
            .list_editions(domain.as_deref(), root)
            .await
            .map_err(status)?;
        let mut listed = Vec::with_capacity(editions.len());
        for edition in editions {
            let next_sequence = self
                .store
                .load(&edition.key, LoadOptions::default())
                .await
                .map_err(status)?
                .next_sequence;
            listed.push(edition_message(EditionInfo {
                edition,
                next_sequence,
            }));
        }
        Ok(Response::new(ListEditionsResponse { editions: listed }))
    }

    async fn delete(
        &self,
        request: Request<EditionRequest>,
    ) -> Result<Response<DeleteEditionResponse>, Status> {
        let cover = cover_of(request.into_inner().cover)?;
        let events_removed = self
            .coordinator(&cover.domain)?
            .delete_edition(&cover)
            .await
            .map_err(status)?;
        Ok(Response::new(DeleteEditionResponse { events_removed }))
    }
}

#[tonic::async_trait]
impl Speculation for GatewayService {
    async fn run(
        &self,
        request: Request<SpeculateRequest>,
    ) -> Result<Response<SpeculateResponse>, Status> {
        let request = request.into_inner();
        let subscribers = self.dispatcher.subscribers();
        let subscriber = subscribers
            .iter()
            .find(|s| s.name() == request.component)
            .ok_or_else(|| {
                let known: Vec<&str> = subscribers.iter().map(|s| s.name()).collect();
                Status::not_found(format!(
                    "no projector, saga or process manager {:?} here; known: {}",
                    request.component,
                    known.join(", ")
                ))
            })?
            .clone();
        // Only what the component's inputs accept (domain and type); editions are not
        // filtered: the caller chose these events.
        let filter = subscriber.filter();
        let books: Vec<EventBook> = self
            .speculative_events(request)
            .await?
            .into_iter()
            .filter_map(|mut book| {
                let domain = book
                    .cover
                    .as_ref()
                    .map(|c| c.domain.clone())
                    .unwrap_or_default();
                book.pages.retain(|page| {
                    page.event
                        .as_ref()
                        .is_some_and(|e| filter.matches_parts(&domain, e))
                });
                (!book.pages.is_empty()).then_some(book)
            })
            .collect();
        let delivered: usize = books.iter().map(|b| b.pages.len()).sum();
        let speculated = if books.is_empty() {
            Default::default()
        } else {
            subscriber.speculate(&books).await.map_err(status)?
        };
        Ok(Response::new(SpeculateResponse {
            component_type: subscriber.component_type().to_string(),
            events_delivered: u32::try_from(delivered).unwrap_or(u32::MAX),
            projections: speculated.projections,
            commands: speculated.commands,
            state_events: speculated.state_events,
        }))
    }
}

/// Checks the editions a stream asks for: `"*"` or valid names.
pub(super) fn check_editions(editions: &[String]) -> Result<(), Status> {
    for edition in editions.iter().filter(|e| e.as_str() != "*") {
        storage::validate_edition_name(edition).map_err(status)?;
    }
    Ok(())
}
