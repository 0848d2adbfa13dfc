//! `angzarr send` end to end, against a fake runtime on Unix sockets in a temp dir: a fake
//! `BusinessCoordinator` at `<dir>/shop.sock` and a business-logic process (served with
//! `angzarr_client`, so reflection is real) at `<dir>/logic/shop.sock`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use angzarr_cli::{Cli, Error, run};
use angzarr_proto::business_coordinator_server::{BusinessCoordinator, BusinessCoordinatorServer};
use angzarr_proto::business_logic_server::{BusinessLogic, BusinessLogicServer};
use angzarr_proto::{
    CommandBook, CommandResponse, ComponentDescriptor, ContextualCommand, Cover, DryRunRequest,
    EventBook, EventPage, GetDescriptorRequest, Target,
};
use clap::Parser;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use prost_types::Any;
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

fn shop_descriptor_set() -> Vec<u8> {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    protox::compile(["shop.proto"], [fixtures])
        .expect("compile fixture")
        .encode_to_vec()
}

struct FakeLogic;

#[tonic::async_trait]
impl BusinessLogic for FakeLogic {
    async fn handle(&self, _: Request<ContextualCommand>) -> Result<Response<EventBook>, Status> {
        Err(Status::unimplemented(
            "the CLI never calls business logic directly",
        ))
    }

    async fn get_descriptor(
        &self,
        _: Request<GetDescriptorRequest>,
    ) -> Result<Response<ComponentDescriptor>, Status> {
        Ok(Response::new(ComponentDescriptor {
            name: "shop".into(),
            component_type: "aggregate".into(),
            inputs: vec![Target {
                editions: vec![],
                domain: "shop".into(),
                types: vec!["CreateThing".into()],
            }],
            outputs: vec![],
        }))
    }
}

/// Answers CreateThing{name, count} with ThingCreated{name, count} at sequence 0; rejects the
/// name "taken" and any expected sequence but 0, as the runtime would.
struct FakeCoordinator {
    pool: DescriptorPool,
    received: Arc<Mutex<Vec<CommandBook>>>,
    dry_runs: Arc<Mutex<Vec<DryRunRequest>>>,
}

#[tonic::async_trait]
impl BusinessCoordinator for FakeCoordinator {
    async fn handle(
        &self,
        request: Request<CommandBook>,
    ) -> Result<Response<CommandResponse>, Status> {
        let book = request.into_inner();
        self.received.lock().expect("lock").push(book.clone());
        self.answer(book, 0)
    }

    async fn record(&self, _: Request<EventBook>) -> Result<Response<CommandResponse>, Status> {
        Err(Status::unimplemented("not used"))
    }

    /// Answers like `handle`, numbered after the as-of sequence.
    async fn dry_run(
        &self,
        request: Request<DryRunRequest>,
    ) -> Result<Response<CommandResponse>, Status> {
        let request = request.into_inner();
        self.dry_runs.lock().expect("lock").push(request.clone());
        let first = match request.as_of {
            Some(angzarr_proto::dry_run_request::AsOf::AsOfSequence(n)) => n + 1,
            _ => 0,
        };
        self.answer(request.command.unwrap_or_default(), first)
    }
}

impl FakeCoordinator {
    fn answer(&self, book: CommandBook, first: u32) -> Result<Response<CommandResponse>, Status> {
        let page = book
            .pages
            .first()
            .ok_or_else(|| Status::invalid_argument("no page"))?;
        if let Some(expected) = page.sequence.filter(|&n| n != 0) {
            return Err(Status::aborted(format!(
                "expected sequence {expected}, next is 0"
            )));
        }
        let any = page.command.clone().unwrap_or_default();
        let command_type = self
            .pool
            .get_message_by_name("test.shop.CreateThing")
            .expect("type");
        let command = DynamicMessage::decode(command_type, any.value.as_slice())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let name = command
            .get_field_by_name("name")
            .expect("name")
            .into_owned();
        if name == Value::String("taken".into()) {
            return Err(Status::failed_precondition("thing already exists"));
        }
        let event_type = self
            .pool
            .get_message_by_name("test.shop.ThingCreated")
            .expect("type");
        let mut event = DynamicMessage::new(event_type);
        event.set_field_by_name("name", name);
        event.set_field_by_name(
            "count",
            command
                .get_field_by_name("count")
                .expect("count")
                .into_owned(),
        );
        let mut cover: Cover = book.cover.unwrap_or_default();
        if cover.correlation_id.is_empty() {
            cover.correlation_id = "corr-generated".into();
        }
        let mut stored = EventPage {
            event: Some(Any {
                type_url: "type.googleapis.com/test.shop.ThingCreated".into(),
                value: event.encode_to_vec(),
            }),
            ..EventPage::default()
        };
        angzarr_proto::EventPageExt::set_sequence_num(&mut stored, first);
        Ok(Response::new(CommandResponse {
            events: Some(EventBook {
                cover: Some(cover),
                pages: vec![stored],
                ..EventBook::default()
            }),
            projections: vec![],
        }))
    }
}

/// A fake runtime on sockets in a temp dir; stops when dropped.
struct Runtime {
    tmp: tempfile::TempDir,
    received: Arc<Mutex<Vec<CommandBook>>>,
    dry_runs: Arc<Mutex<Vec<DryRunRequest>>>,
    _stop: Vec<oneshot::Sender<()>>,
}

impl Runtime {
    async fn start() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("sockets");
        std::fs::create_dir_all(dir.join("logic")).expect("dirs");
        let set = shop_descriptor_set();
        let pool = DescriptorPool::decode(set.as_slice()).expect("pool");
        let received = Arc::new(Mutex::new(Vec::new()));
        let dry_runs = Arc::new(Mutex::new(Vec::new()));

        let (stop_logic, logic_stopped) = oneshot::channel::<()>();
        let listener = angzarr_transport::bind(&dir.join("logic/shop.sock")).expect("bind logic");
        tokio::spawn(async move {
            let sets = [angzarr_proto::FILE_DESCRIPTOR_SET, set.as_slice()];
            let stopped = async {
                let _ = logic_stopped.await;
            };
            angzarr_client::serve_listener(
                listener,
                BusinessLogicServer::new(FakeLogic),
                &sets,
                stopped,
            )
            .await
            .expect("logic server");
        });

        let (stop_coordinator, coordinator_stopped) = oneshot::channel::<()>();
        let listener = angzarr_transport::bind(&dir.join("shop.sock")).expect("bind coordinator");
        let coordinator = FakeCoordinator {
            pool,
            received: received.clone(),
            dry_runs: dry_runs.clone(),
        };
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(BusinessCoordinatorServer::new(coordinator))
                .serve_with_incoming_shutdown(angzarr_transport::incoming(listener), async {
                    let _ = coordinator_stopped.await;
                })
                .await
                .expect("coordinator server");
        });
        Self {
            tmp,
            received,
            dry_runs,
            _stop: vec![stop_logic, stop_coordinator],
        }
    }

    fn socket_dir(&self) -> PathBuf {
        self.tmp.path().join("sockets")
    }

    fn received(&self) -> Vec<CommandBook> {
        self.received.lock().expect("lock").clone()
    }

    fn dry_runs(&self) -> Vec<DryRunRequest> {
        self.dry_runs.lock().expect("lock").clone()
    }
}

/// Runs `angzarr <args>` and returns its output or its error.
async fn angzarr(args: &[&str]) -> Result<String, Error> {
    let cli = Cli::try_parse_from(std::iter::once("angzarr").chain(args.iter().copied()))
        .expect("arguments parse");
    let mut out = Vec::new();
    run(cli, &mut out).await?;
    Ok(String::from_utf8(out).expect("utf-8 output"))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[tokio::test]
async fn sends_a_command_and_prints_the_events() {
    let runtime = Runtime::start().await;
    let dir = runtime.socket_dir();
    let root = angzarr_cli::root::key_root("shop", "thing-1");
    let out = angzarr(&[
        "--socket-dir",
        path(&dir),
        "send",
        "shop",
        "thing-1",
        "CreateThing",
        r#"{"name": "lamp", "count": 2}"#,
        "--idempotency-key",
        "k1",
        "--expect-sequence",
        "0",
    ])
    .await
    .expect("accepted");
    assert_eq!(
        out,
        format!(
            "shop/{root} (key \"thing-1\"): 1 event, correlation id corr-generated\n  \
             #0 test.shop.ThingCreated {{\"name\":\"lamp\",\"count\":2}}\n"
        )
    );

    let [book] = runtime.received().try_into().expect("one command");
    let cover = book.cover.expect("cover");
    assert_eq!(
        (cover.domain.as_str(), cover.correlation_id.as_str()),
        ("shop", "")
    );
    assert_eq!(angzarr_proto::CoverExt::root_uuid(&cover), Some(root));
    assert_eq!(book.idempotency_key, "k1");
    assert_eq!(book.pages[0].sequence, Some(0));
    let command = book.pages[0].command.clone().expect("command");
    assert_eq!(
        command.type_url,
        "type.googleapis.com/test.shop.CreateThing"
    );
}

#[tokio::test]
async fn json_output_and_manifest_lookup() {
    let runtime = Runtime::start().await;
    let manifest = runtime.tmp.path().join("angzarr.toml");
    std::fs::write(&manifest, "socket_dir = \"sockets\"\n").expect("manifest");
    let uuid = "c57e8e17-f3ed-5b23-ae80-3eeaf5831466";
    let out = angzarr(&[
        "-c",
        path(&manifest),
        "send",
        "shop",
        uuid,
        "test.shop.CreateThing",
        r#"{"name": "x"}"#,
        "--correlation-id",
        "corr-1",
        "--json",
    ])
    .await
    .expect("accepted");
    let report: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(
        report,
        serde_json::json!({
            "domain": "shop",
            "root": uuid,
            "correlation_id": "corr-1",
            "events": [{
                "sequence": 0,
                "type": "test.shop.ThingCreated",
                "created_at": null,
                "event": {"name": "x", "count": 0},
            }],
        })
    );
}

#[tokio::test]
async fn errors_say_what_was_wrong_and_what_to_do() {
    let runtime = Runtime::start().await;
    let dir = runtime.socket_dir();
    // (angzarr send arguments after the socket dir, exit code, words the message contains)
    #[rustfmt::skip]
    let cases: &[(&[&str], u8, &str)] = &[
        (&["shop", "t", "CreateThing", r#"{"name": "taken"}"#], 1, "FAILED_PRECONDITION: thing already exists"),
        (&["shop", "t", "CreateThing", "{}", "--expect-sequence", "4"], 1, "ABORTED: expected sequence 4, next is 0 (the aggregate has moved on"),
        (&["shop", "t", "MakeThing", "{}"], 2, "unknown command type \"MakeThing\" for domain shop; known: CreateThing."),
        (&["shop", "t", "CreateThing", r#"{"nmae": 1}"#], 2, "its fields are: name (string), count (int64), tags (repeated string)"),
        (&["nope", "t", "CreateThing", "{}"], 2, "no domain \"nope\" in"),
        (&["nope", "t", "CreateThing", "{}"], 2, "the runtime serves: shop"),
        (&["../shop", "t", "CreateThing", "{}"], 2, "\"../shop\" is not a domain name"),
    ];
    for (args, code, words) in cases {
        let mut argv = vec!["--socket-dir", path(&dir), "send"];
        argv.extend_from_slice(args);
        let err = angzarr(&argv).await.expect_err("must fail");
        let text = err.to_string();
        assert!(text.contains(words), "{text:?} lacks {words:?}");
        assert_eq!(err.exit_code(), *code, "{text}");
    }
}

#[tokio::test]
async fn a_stopped_runtime_is_reported_with_how_to_start_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("missing");
    let err = angzarr(&[
        "--socket-dir",
        path(&missing),
        "send",
        "shop",
        "t",
        "CreateThing",
        "{}",
    ])
    .await
    .expect_err("no runtime");
    assert_eq!(err.exit_code(), 3);
    assert!(
        err.to_string().contains("`angzarr-standalone run`"),
        "{err}"
    );

    // Sockets left behind by a runtime that died: nothing listens on them.
    std::fs::create_dir_all(tmp.path().join("logic")).expect("dir");
    drop(angzarr_transport::bind(&tmp.path().join("logic/shop.sock")).expect("bind"));
    drop(angzarr_transport::bind(&tmp.path().join("shop.sock")).expect("bind"));
    let err = angzarr(&[
        "--socket-dir",
        path(tmp.path()),
        "send",
        "shop",
        "t",
        "CreateThing",
        "{}",
    ])
    .await
    .expect_err("stale sockets");
    assert_eq!(err.exit_code(), 3);
    let text = err.to_string();
    assert!(
        text.contains("connection refused") && text.contains("angzarr-standalone run"),
        "{text}"
    );

    let err = angzarr(&[
        "-c",
        path(&tmp.path().join("angzarr.toml")),
        "send",
        "shop",
        "t",
        "X",
        "{}",
    ])
    .await
    .expect_err("no manifest");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("--socket-dir"), "{err}");
}

#[tokio::test]
async fn descriptor_files_replace_reflection() {
    let runtime = Runtime::start().await;
    let dir = runtime.socket_dir();
    // Without the business logic's socket, only the descriptor file can describe the types.
    std::fs::remove_file(dir.join("logic/shop.sock")).expect("remove the logic socket");
    let set = runtime.tmp.path().join("shop.binpb");
    std::fs::write(&set, shop_descriptor_set()).expect("write the descriptor set");
    let out = angzarr(&[
        "--socket-dir",
        path(&dir),
        "send",
        "shop",
        "thing-2",
        "test.shop.CreateThing",
        r#"{"name": "desk", "count": 1}"#,
        "--descriptor-set",
        path(&set),
    ])
    .await
    .expect("accepted");
    assert!(
        out.contains("test.shop.ThingCreated {\"name\":\"desk\",\"count\":1}"),
        "{out}"
    );
    assert_eq!(runtime.received().len(), 1);

    let garbage = runtime.tmp.path().join("garbage.binpb");
    std::fs::write(&garbage, b"\xff\xff not a descriptor").expect("write");
    let err = angzarr(&[
        "--socket-dir",
        path(&dir),
        "send",
        "shop",
        "thing-2",
        "CreateThing",
        "{}",
        "--descriptor-set",
        path(&garbage),
    ])
    .await
    .expect_err("refused");
    assert!(
        err.to_string().contains("not an encoded FileDescriptorSet"),
        "{err}"
    );
    assert_eq!(runtime.received().len(), 1, "nothing sent");
}

#[tokio::test]
async fn a_dry_run_goes_to_dry_run_with_its_point_and_says_nothing_was_stored() {
    let runtime = Runtime::start().await;
    let dir = runtime.socket_dir();
    let out = angzarr(&[
        "--socket-dir",
        path(&dir),
        "send",
        "shop",
        "thing-1",
        "CreateThing",
        r#"{"name": "lamp"}"#,
        "--dry-run",
        "--at",
        "3",
        "--edition",
        "try",
    ])
    .await
    .expect("rehearsed");
    let root = angzarr_cli::root::key_root("shop", "thing-1");
    assert_eq!(
        out,
        format!(
            "dry run (as of sequence 3) of shop@try/{root} (key \"thing-1\"): would store 1 event, \
             correlation id corr-generated (nothing was stored)\n  \
             #4 test.shop.ThingCreated {{\"name\":\"lamp\",\"count\":0}}\n"
        )
    );
    assert!(runtime.received().is_empty(), "nothing went to Handle");
    let [request] = runtime.dry_runs().try_into().expect("one dry run");
    assert_eq!(
        request.as_of,
        Some(angzarr_proto::dry_run_request::AsOf::AsOfSequence(3))
    );
    let cover = request.command.expect("command").cover.expect("cover");
    assert_eq!(cover.edition, "try");

    let out = angzarr(&[
        "--socket-dir",
        path(&dir),
        "send",
        "shop",
        "thing-1",
        "CreateThing",
        r#"{"name": "lamp"}"#,
        "--dry-run",
        "--at",
        "2026-01-02T03:04:05Z",
        "--json",
    ])
    .await
    .expect("rehearsed at a time");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["dry_run"], "as of 2026-01-02T03:04:05Z");
    let err = angzarr(&[
        "--socket-dir",
        path(&dir),
        "send",
        "shop",
        "t",
        "CreateThing",
        "{}",
        "--dry-run",
        "--at",
        "yesterday",
    ])
    .await
    .expect_err("a bad point");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("RFC 3339"), "{err}");
    assert_eq!(runtime.dry_runs().len(), 2, "a bad point sends nothing");
    assert!(
        Cli::try_parse_from([
            "angzarr",
            "send",
            "shop",
            "t",
            "CreateThing",
            "{}",
            "--at",
            "3"
        ])
        .is_err(),
        "--at needs --dry-run"
    );
}
