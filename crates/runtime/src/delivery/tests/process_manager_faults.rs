//! A process manager whose state commit lost its answer: the retry finds the commit by the
//! key recorded with it and neither decides nor writes again; the next trigger is handled as
//! usual.

use std::sync::atomic::AtomicUsize;

use angzarr_proto::process_manager_server::{ProcessManager, ProcessManagerServer};
use angzarr_proto::{
    CommandBook, CommandResponse, ComponentDescriptor, EventBook, EventPage, GetDescriptorRequest,
    ProcessManagerRejectionRequest, ProcessManagerRequest, ProcessManagerResponse,
};
use tonic::{Request, Response, Status};

use super::*;
use crate::delivery::process_manager::{GrpcProcessManager, process_manager_root};
use crate::logic::AlwaysAvailable;
use crate::publisher::OrderedPublisher;
use crate::router::CommandExecutor;
use crate::storage::event_book;
use crate::storage::faulty::{Fault, FaultyStore, Op, Rule, injected};
use crate::subscription::EventFilter;

/// Answers every trigger with one state event (its payload: how many state events it saw) and
/// counts its calls.
#[derive(Default)]
struct NotingProcessManager {
    decisions: AtomicUsize,
}

#[tonic::async_trait]
impl ProcessManager for NotingProcessManager {
    async fn handle(
        &self,
        request: Request<ProcessManagerRequest>,
    ) -> std::result::Result<Response<ProcessManagerResponse>, Status> {
        self.decisions.fetch_add(1, Ordering::SeqCst);
        let seen = request.into_inner().state.map_or(0, |s| s.pages.len());
        Ok(Response::new(ProcessManagerResponse {
            events: Some(EventBook {
                pages: vec![EventPage {
                    event: Some(Any {
                        type_url: "type.googleapis.com/test.Noted".into(),
                        value: vec![u8::try_from(seen).unwrap_or(u8::MAX)],
                    }),
                    ..EventPage::default()
                }],
                ..EventBook::default()
            }),
            commands: Vec::new(),
        }))
    }

    async fn handle_rejection(
        &self,
        _request: Request<ProcessManagerRejectionRequest>,
    ) -> std::result::Result<Response<ProcessManagerResponse>, Status> {
        Err(Status::unimplemented("it sends no commands"))
    }

    async fn get_descriptor(
        &self,
        _request: Request<GetDescriptorRequest>,
    ) -> std::result::Result<Response<ComponentDescriptor>, Status> {
        Err(Status::unimplemented("not asked in this test"))
    }
}

/// The process manager sends no commands, so none may arrive.
struct NoCommands;

#[async_trait]
impl CommandExecutor for NoCommands {
    async fn execute(&self, command: CommandBook) -> Result<CommandResponse> {
        Err(Error::InvalidArgument(format!(
            "no command expected, got {command:?}"
        )))
    }
}

#[tokio::test]
async fn a_state_commit_whose_answer_was_lost_is_found_on_the_retry_and_not_decided_again() {
    let memory = Arc::new(MemoryEventStore::new());
    let store = Arc::new(FaultyStore::new(memory.clone()));
    let logic = Arc::new(NotingProcessManager::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("pm.sock");
    let listener = angzarr_transport::bind(&socket).expect("bind");
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ProcessManagerServer::from_arc(logic.clone()))
            .serve_with_incoming(angzarr_transport::incoming(listener)),
    );
    let channel = angzarr_transport::channel(&socket).await.expect("connect");
    let publisher = OrderedPublisher::new(Arc::new(crate::bus::NoBus), store.clone())
        .await
        .expect("publisher");
    let process_manager = GrpcProcessManager::new(
        "pm",
        EventFilter::default(),
        channel,
        Arc::new(AlwaysAvailable),
        Arc::new(NoCommands),
        store.clone(),
        Arc::new(publisher),
    );
    let state_key = HistoryKey::main("pm", process_manager_root("pm", "corr-1"));
    let trigger_key = HistoryKey::main("a", Uuid::from_u128(1));
    let trigger_of =
        |events: &[crate::storage::StoredEvent]| event_book(&trigger_key, "corr-1", events);

    // The commit of the first trigger's state lands, its answer is lost.
    let first = trigger_of(&append_events(&memory, "a", 1, 1).await);
    store.script(
        Rule::on(Op::Append, Fault::FailAfter(injected("answer lost")))
            .for_key(&state_key)
            .times(1),
    );
    let lost = process_manager.deliver(&first, false).await;
    assert!(matches!(lost, Err(Error::Storage(_))), "{lost:?}");
    assert_eq!(store.injected(Op::Append), 1);
    assert_eq!(memory.checkpoint("pm").await.expect("checkpoint"), 1);

    // The worker retries the same trigger: answered from the commit, not decided again.
    let retried = process_manager.deliver(&first, false).await.expect("retry");
    assert_eq!(logic.decisions.load(Ordering::SeqCst), 1, "decided once");
    let state = memory
        .load(&state_key, Default::default())
        .await
        .expect("load");
    assert_eq!(state.events.len(), 1, "the state was written once");
    assert_eq!(state.events[0].event.value, vec![0]);
    match retried {
        Outcome::Commands { sent, responses } => {
            assert!(sent.is_empty());
            let answered: Vec<_> = responses
                .iter()
                .flat_map(|r| r.events.iter().flat_map(|book| book.pages.iter()))
                .map(|page| (page.sequence_num(), page.position))
                .collect();
            assert_eq!(answered, vec![(Some(0), state.events[0].position)]);
        }
        other => panic!("expected the commit's events, got {other:?}"),
    }

    // The next trigger is decided on the state as stored and appended after it.
    let second = trigger_of(&append_events(&memory, "a", 1, 1).await);
    process_manager
        .deliver(&second, false)
        .await
        .expect("second");
    assert_eq!(logic.decisions.load(Ordering::SeqCst), 2);
    let state = memory
        .load(&state_key, Default::default())
        .await
        .expect("load");
    let seen: Vec<_> = state.events.iter().map(|e| e.event.value.clone()).collect();
    assert_eq!(seen, vec![vec![0], vec![1]], "gapless, each trigger once");
    assert_eq!(memory.checkpoint("pm").await.expect("checkpoint"), 3);
    server.abort();
}
