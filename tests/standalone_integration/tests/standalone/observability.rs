//! Observability (issue: observability): the admin endpoint on `admin.sock` (metrics in the
//! Prometheus text format, readiness, status) and, with the `otel` feature, one trace per
//! command captured by a real OTLP receiver.
//!
//! Components that must stay down on purpose are started through a gate: a shell wrapper that
//! waits for a file before it `exec`s the real program, so "starting" and "restarting" last
//! exactly as long as the test wants, with no timing guess.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use angzarr_proto::{CommandBook, CommandPage};
use angzarr_standalone::Standalone;
use angzarr_standalone::config::{Manifest, Overrides};
use angzarr_standalone_integration::{
    Client, START_TIMEOUT, SystemConfig, TestSystem, Workspace, bin_path, echo, wait_until,
};
use angzarr_synthetic_aggregate::{Crash, Reject, pack};
use angzarr_transport::HttpAnswer;
use tonic::Code;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

/// `GET path` on the runtime's admin socket.
async fn admin(socket_dir: &Path, path: &str) -> HttpAnswer {
    angzarr_transport::http_get(&socket_dir.join("admin.sock"), path)
        .await
        .unwrap_or_else(|err| panic!("GET {path}: {err}"))
}

async fn admin_json(socket_dir: &Path, path: &str) -> serde_json::Value {
    let answer = admin(socket_dir, path).await;
    serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{path}: {e}: {}", answer.body))
}

/// The samples of a `/metrics` answer, parsed by an independent Prometheus text parser, keyed
/// by `name{label="value",...}` (labels sorted).
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape =
        prometheus_parse::Scrape::parse(lines).expect("/metrics parses as Prometheus text");
    let mut samples = BTreeMap::new();
    for sample in scrape.samples {
        let mut labels: Vec<String> = sample
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        labels.sort();
        let value = match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(buckets) => {
                buckets.last().map(|b| b.count).unwrap_or_default()
            }
            prometheus_parse::Value::Summary(_) => continue,
        };
        samples.insert(format!("{}{{{}}}", sample.metric, labels.join(",")), value);
    }
    samples
}

async fn metrics(socket_dir: &Path) -> BTreeMap<String, f64> {
    let answer = admin(socket_dir, "/metrics").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    parse_metrics(&answer.body)
}

fn metric(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
    *samples
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {:#?}", samples.keys().collect::<Vec<_>>()))
}

/// A command line that waits for `gate` to exist, then runs `program`.
fn gated(gate: &Path, program: &Path) -> String {
    format!(
        "[\"sh\", \"-c\", \"while [ ! -e '{}' ]; do sleep 0.02; done; exec '{}'\"]",
        gate.display(),
        program.display()
    )
}

fn open(gate: &Path) {
    std::fs::write(gate, b"").expect("open the gate");
}

fn close(gate: &Path) {
    std::fs::remove_file(gate).expect("close the gate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_commands_by_outcome_exactly_and_parse_as_prometheus_text() {
    // `down` stays down after its crash for the whole test (a long restart backoff).
    let config = SystemConfig::new(&["alpha", "down"]).restart_backoff_secs(600.0);
    let (system, alpha) = TestSystem::start_with_client(&config, "alpha").await;
    let down = system.client("down").await;
    let root = Uuid::new_v4();
    for i in 0..3 {
        alpha.ok(root, echo(format!("ok{i}"))).await;
    }
    for _ in 0..2 {
        let rejected = alpha
            .run(
                root,
                pack(&Reject {
                    message: "no".into(),
                }),
            )
            .await;
        assert_eq!(
            rejected.expect_err("rejected").code(),
            Code::FailedPrecondition
        );
    }
    let mut stale = alpha.book(root, echo("stale"));
    stale.pages[0].sequence = Some(1);
    assert_eq!(
        alpha.send(stale).await.expect_err("stale").code(),
        Code::Aborted
    );
    let empty = CommandBook {
        pages: Vec::<CommandPage>::new(),
        ..alpha.book(root, echo("x"))
    };
    assert_eq!(
        alpha.send(empty).await.expect_err("invalid").code(),
        Code::InvalidArgument
    );
    let crashed = down.run(Uuid::new_v4(), pack(&Crash {})).await;
    assert_eq!(crashed.expect_err("crashed").code(), Code::Unavailable);
    let refused = down.run(Uuid::new_v4(), echo("while down")).await;
    assert_eq!(refused.expect_err("down").code(), Code::Unavailable);

    let socket_dir = system.workspace().socket_dir();
    let samples = metrics(&socket_dir).await;
    let commands = |domain: &str, outcome: &str| {
        metric(
            &samples,
            &format!("angzarr_commands_total{{domain=\"{domain}\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(commands("alpha", "ok"), 3.0);
    assert_eq!(commands("alpha", "rejected"), 2.0);
    assert_eq!(commands("alpha", "conflict"), 1.0);
    assert_eq!(commands("alpha", "invalid"), 1.0);
    assert_eq!(commands("alpha", "unavailable"), 0.0);
    assert_eq!(commands("alpha", "error"), 0.0);
    assert_eq!(commands("down", "unavailable"), 2.0);
    assert_eq!(commands("down", "ok"), 0.0);
    assert_eq!(
        metric(
            &samples,
            "angzarr_command_duration_seconds{domain=\"alpha\"}"
        ),
        7.0,
        "every command of alpha is timed"
    );
    assert_eq!(
        metric(&samples, "angzarr_events_appended_total{domain=\"alpha\"}"),
        3.0
    );
    assert_eq!(metric(&samples, "angzarr_log_head_position{}"), 3.0);
    assert!(metric(&samples, "angzarr_store_commit_batch_size{}") >= 3.0);
    assert_eq!(
        metric(&samples, "angzarr_component_up{component=\"alpha\"}"),
        1.0
    );
    assert_eq!(
        metric(&samples, "angzarr_component_up{component=\"down\"}"),
        0.0
    );
    assert_eq!(
        metric(
            &samples,
            "angzarr_component_state{component=\"down\",state=\"restarting\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &samples,
            "angzarr_component_restarts_total{component=\"alpha\"}"
        ),
        0.0
    );
    assert_eq!(metric(&samples, "angzarr_ready{}"), 0.0, "down is down");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_returns_to_zero_when_the_subscriber_catches_up_and_a_parked_event_shows_in_status() {
    let workspace = Workspace::empty();
    let gate = workspace.path().join("gate");
    open(&gate);
    let projector = gated(&gate, &bin_path("angzarr-synthetic-subscriber"));
    let log = workspace.path().join("projected.log");
    let config = SystemConfig::new(&["alpha"]).restart_backoff_secs(0.05).with_toml(&format!(
        "[delivery]\nmax_attempts = 1\nretry_backoff_secs = 0.01\nmax_retry_backoff_secs = 0.05\n\
         poll_interval_secs = 0.1\n\n\
         [components.proj]\nkind = \"projector\"\ncommand = {projector}\n\
         env = {{ SYNTHETIC_KIND = \"projector\", SYNTHETIC_INPUTS = \"alpha\", \
         SYNTHETIC_LOG = {:?}, SYNTHETIC_FAIL_PAYLOAD = \"poison\", SYNTHETIC_EXIT_PAYLOAD = \"exit\" }}\n",
        log.display().to_string()
    ));
    std::fs::write(workspace.manifest(), config.manifest_toml()).expect("manifest");
    let system = TestSystem::start_in(workspace).await;
    let socket_dir = system.workspace().socket_dir();
    let alpha = system.client("alpha").await;
    let root = Uuid::new_v4();

    // The projector exits after handling "exit" and cannot come back while the gate is shut:
    // what is appended meanwhile waits.
    close(&gate);
    alpha.ok(root, echo("exit")).await;
    wait_until("the projector is down", WAIT, || async {
        let status = admin_json(&socket_dir, "/status").await;
        status["components"][1]["state"] == "restarting"
    })
    .await;
    for i in 0..3 {
        alpha.ok(root, echo(format!("e{i}"))).await;
    }
    let status = admin_json(&socket_dir, "/status").await;
    let proj = &status["components"][1];
    assert_eq!(proj["name"], "proj");
    assert!(proj["lag"].as_u64().expect("lag") >= 3, "{status}");
    assert!(
        proj["lag_seconds"].as_f64().expect("lag seconds") > 0.0,
        "{status}"
    );
    assert_eq!(status["ready"], false, "{status}");
    let samples = metrics(&socket_dir).await;
    assert!(
        metric(
            &samples,
            "angzarr_subscriber_lag_positions{subscriber=\"proj\"}"
        ) >= 3.0
    );

    open(&gate);
    wait_until("the projector catches up", WAIT, || async {
        let samples = metrics(&socket_dir).await;
        metric(
            &samples,
            "angzarr_subscriber_lag_positions{subscriber=\"proj\"}",
        ) == 0.0
    })
    .await;
    let samples = metrics(&socket_dir).await;
    assert_eq!(
        metric(
            &samples,
            "angzarr_subscriber_lag_seconds{subscriber=\"proj\"}"
        ),
        0.0
    );
    let status = admin_json(&socket_dir, "/status").await;
    assert_eq!(status["components"][1]["lag"], 0, "{status}");
    assert_eq!(status["ready"], true, "{status}");

    // A poison event is parked after one attempt and shows in /status and /metrics.
    alpha.ok(root, echo("poison")).await;
    wait_until("the poison event is parked", WAIT, || async {
        let status = admin_json(&socket_dir, "/status").await;
        status["components"][1]["parked"] == 1
    })
    .await;
    let samples = metrics(&socket_dir).await;
    assert_eq!(
        metric(&samples, "angzarr_parked_events{subscriber=\"proj\"}"),
        1.0
    );
    assert_eq!(
        metric(&samples, "angzarr_events_parked_total{subscriber=\"proj\"}"),
        1.0
    );
    assert!(
        metric(
            &samples,
            "angzarr_deliveries_total{outcome=\"failed\",subscriber=\"proj\"}"
        ) >= 1.0
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_not_ready_while_a_component_starts_or_restarts_and_ready_after() {
    let workspace = Workspace::empty();
    let gate = workspace.path().join("gate");
    let program = gated(&gate, &bin_path("angzarr-synthetic-aggregate"));
    let mut config = SystemConfig::new(&[]).restart_backoff_secs(0.05);
    config.extra_toml =
        format!("\n[components.alpha]\nkind = \"aggregate\"\ncommand = {program}\n");
    std::fs::write(workspace.manifest(), config.manifest_toml()).expect("manifest");
    let socket_dir = workspace.socket_dir();
    let manifest = Manifest::load(&workspace.manifest(), &Overrides::default()).expect("manifest");
    let starting = tokio::spawn(Standalone::start(manifest));

    // Starting: the admin socket answers at once, not ready.
    wait_until("the admin socket answers", WAIT, || async {
        angzarr_transport::http_get(&socket_dir.join("admin.sock"), "/healthz")
            .await
            .is_ok_and(|a| a.status == 200)
    })
    .await;
    let answer = admin(&socket_dir, "/readyz").await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(answer.body.contains("alpha"), "{}", answer.body);
    let status = admin_json(&socket_dir, "/status").await;
    assert_eq!(status["components"][0]["state"], "starting", "{status}");

    open(&gate);
    let runtime = tokio::time::timeout(START_TIMEOUT, starting)
        .await
        .expect("starts in time")
        .expect("join")
        .expect("starts");
    let answer = admin(&socket_dir, "/readyz").await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    // Restarting: not ready until it serves again.
    close(&gate);
    let alpha = Client::connect(&socket_dir, "alpha").await;
    let crashed = alpha.run(Uuid::new_v4(), pack(&Crash {})).await;
    assert_eq!(crashed.expect_err("crash").code(), Code::Unavailable);
    wait_until("/readyz says alpha restarts", WAIT, || async {
        let answer = admin(&socket_dir, "/readyz").await;
        answer.status == 503 && answer.body.contains("alpha is restarting")
    })
    .await;
    open(&gate);
    wait_until("/readyz is ready again", WAIT, || async {
        admin(&socket_dir, "/readyz").await.status == 200
    })
    .await;
    let status = admin_json(&socket_dir, "/status").await;
    assert_eq!(status["components"][0]["restarts"], 1, "{status}");
    runtime.shutdown().await;
    drop(workspace);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_topology_answer_on_the_admin_socket_and_unknown_paths_are_404() {
    let (system, alpha) =
        TestSystem::start_with_client(&SystemConfig::new(&["alpha"]), "alpha").await;
    alpha.ok(Uuid::new_v4(), echo("x")).await;
    let socket_dir = system.workspace().socket_dir();
    let topology = admin_json(&socket_dir, "/topology").await;
    assert_eq!(topology["head_position"], 1);
    assert_eq!(topology["nodes"][0]["name"], "alpha");
    assert_eq!(topology["edges"][0]["count"], 1, "{topology}");
    let status = admin_json(&socket_dir, "/status").await;
    assert_eq!(status["components"][0]["component_type"], "aggregate");
    assert!(
        status["components"][0]["pid"]
            .as_u64()
            .is_some_and(|p| p > 0)
    );
    assert_eq!(admin(&socket_dir, "/nope").await.status, 404);
    assert_eq!(admin(&socket_dir, "/healthz").await.body, "ok\n");
    let metrics = admin(&socket_dir, "/metrics").await;
    assert!(
        metrics
            .body
            .contains("# TYPE angzarr_commands_total counter")
    );
    let mode = std::fs::metadata(socket_dir.join("admin.sock"))
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .expect("admin.sock");
    assert_eq!(mode, 0o600);
    system.stop().await;
}

/// One trace per command, across processes, captured by a real OTLP/gRPC receiver (the
/// OpenTelemetry protobuf services, served by tonic on a Unix socket).
#[cfg(feature = "otel")]
mod traces {
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};

    use angzarr_proto::command_gateway_client::CommandGatewayClient;
    use angzarr_proto::{CommandPage, Cover, CoverExt};
    use angzarr_standalone_integration::{connect, short_temp_dir};
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
        MetricsService, MetricsServiceServer,
    };
    use opentelemetry_proto::tonic::collector::metrics::v1::{
        ExportMetricsServiceRequest, ExportMetricsServiceResponse,
    };
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
        TraceService, TraceServiceServer,
    };
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::trace::v1::Span;

    use super::*;

    /// What the receiver got.
    #[derive(Default, Clone)]
    struct Received {
        traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
        metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    }

    #[tonic::async_trait]
    impl TraceService for Received {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            self.traces.lock().expect("lock").push(request.into_inner());
            Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
        }
    }

    #[tonic::async_trait]
    impl MetricsService for Received {
        async fn export(
            &self,
            request: tonic::Request<ExportMetricsServiceRequest>,
        ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
            self.metrics
                .lock()
                .expect("lock")
                .push(request.into_inner());
            Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
        }
    }

    /// A span with the `service.name` of the process that exported it.
    struct Exported {
        service: String,
        span: Span,
    }

    fn text(value: Option<&AnyValue>) -> String {
        match value.and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => s.clone(),
            Some(any_value::Value::IntValue(i)) => i.to_string(),
            other => format!("{other:?}"),
        }
    }

    fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
        attributes
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| text(kv.value.as_ref()))
    }

    fn exported(received: &Received) -> Vec<Exported> {
        let mut spans = Vec::new();
        for request in received.traces.lock().expect("lock").iter() {
            for resource in &request.resource_spans {
                let service = resource
                    .resource
                    .as_ref()
                    .and_then(|r| attribute(&r.attributes, "service.name"))
                    .unwrap_or_default();
                for scope in &resource.scope_spans {
                    for span in &scope.spans {
                        spans.push(Exported {
                            service: service.clone(),
                            span: span.clone(),
                        });
                    }
                }
            }
        }
        spans
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_command_through_a_saga_hop_is_one_trace_with_one_correlation_id_across_processes() {
        // The receiver: a real OTLP/gRPC peer.
        let dir = short_temp_dir();
        let otlp = dir.path().join("otlp.sock");
        let received = Received::default();
        let (stop_receiver, receiver_stopped) = tokio::sync::oneshot::channel::<()>();
        let receiver = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(received.clone()))
                .add_service(MetricsServiceServer::new(received.clone()))
                .serve_with_incoming_shutdown(
                    angzarr_transport::incoming(angzarr_transport::bind(&otlp).expect("bind")),
                    async {
                        let _ = receiver_stopped.await;
                    },
                ),
        );
        let endpoint = format!("unix://{}", otlp.display());

        // This process is the runtime: its spans go to the receiver.
        let telemetry = angzarr_telemetry::logging::init(angzarr_telemetry::Logging {
            filter_env: "ANGZARR_TEST_LOG",
            default_filter: "warn",
            format: angzarr_telemetry::LogFormat::Human,
            ansi: false,
            otlp: Some(angzarr_telemetry::OtlpOptions {
                endpoint: endpoint.clone(),
                service_name: "angzarr".into(),
                filter: "info,angzarr=debug".into(),
                sample_ratio: 1.0,
            }),
        })
        .expect("the only tracing subscriber of this test process");

        let traced = bin_path("angzarr-traced-synthetic");
        let config = SystemConfig::new(&[]).with_toml(&format!(
            "[telemetry]\notlp_endpoint = {endpoint:?}\nmetrics_interval_secs = 0.2\n\n\
             [components.ping]\nkind = \"aggregate\"\ncommand = [{traced:?}]\n\n\
             [components.pong]\nkind = \"aggregate\"\ncommand = [{traced:?}]\n\n\
             [components.saga-ping-pong]\nkind = \"saga\"\ncommand = [{traced:?}]\n\
             env = {{ SYNTHETIC_KIND = \"saga\", SYNTHETIC_INPUTS = \"ping\", SYNTHETIC_TARGET = \"pong\" }}\n",
            traced = traced.display().to_string()
        ));
        let system = TestSystem::start(&config).await;

        // A client that is itself traced: the command joins its trace.
        let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let correlation_id = format!("trace-test-{}", Uuid::new_v4());
        let root = Uuid::new_v4();
        let mut request = tonic::Request::new(CommandBook {
            cover: Some(Cover {
                correlation_id: correlation_id.clone(),
                ..Cover::for_root("ping", root)
            }),
            pages: vec![CommandPage {
                sequence: None,
                command: Some(echo("hello")),
            }],
            idempotency_key: format!("trace-{root}"),
            ..CommandBook::default()
        });
        request.metadata_mut().insert(
            "traceparent",
            format!("00-{trace_id}-00f067aa0ba902b7-01")
                .parse()
                .expect("metadata"),
        );
        let gateway = connect(&system.workspace().socket_dir().join("gateway.sock")).await;
        CommandGatewayClient::new(gateway)
            .execute(request)
            .await
            .expect("the command succeeds");
        wait_until("the saga's command reached pong", WAIT, || async {
            !system.history("pong", root).await.is_empty()
        })
        .await;
        wait_until("metrics were exported", WAIT, || async {
            !received.metrics.lock().expect("lock").is_empty()
        })
        .await;

        // Stopping flushes: the components on SIGTERM, this process explicitly.
        system.stop().await;
        tokio::task::spawn_blocking(move || telemetry.shutdown())
            .await
            .expect("flush");
        let _ = stop_receiver.send(());
        receiver.await.expect("join").expect("receiver");

        let spans = exported(&received);
        let ours: Vec<&Exported> = spans
            .iter()
            .filter(|e| hex(&e.span.trace_id) == trace_id)
            .collect();
        let describe = || {
            ours.iter()
                .map(|e| format!("{}:{}", e.service, e.span.name))
                .collect::<Vec<_>>()
        };
        // Every span of the trace carries the command's correlation id.
        for e in &ours {
            assert_eq!(
                attribute(&e.span.attributes, "correlation_id").as_deref(),
                Some(correlation_id.as_str()),
                "{}:{} in {:?}",
                e.service,
                e.span.name,
                describe()
            );
        }
        let names: BTreeSet<(String, String)> = ours
            .iter()
            .map(|e| (e.service.clone(), e.span.name.clone()))
            .collect();
        for (service, name) in [
            ("angzarr", "gateway.execute"),
            ("angzarr", "command"),
            ("angzarr", "logic.handle"),
            ("angzarr", "store.append"),
            ("angzarr", "publish"),
            ("angzarr", "deliver"),
            // The business logic's own spans, from three other processes.
            ("ping", "handle"),
            ("saga-ping-pong", "handle"),
            ("saga-ping-pong", "saga.decide"),
            ("pong", "handle"),
        ] {
            assert!(
                names.contains(&(service.to_string(), name.to_string())),
                "no {service}:{name} in the trace: {:?}",
                describe()
            );
        }
        // Both commands (the client's and the saga's) are in it, with their fields.
        let commands: Vec<&Span> = ours
            .iter()
            .filter(|e| e.span.name == "command")
            .map(|e| &e.span)
            .collect();
        let domains: BTreeSet<String> = commands
            .iter()
            .filter_map(|s| attribute(&s.attributes, "domain"))
            .collect();
        assert_eq!(domains, BTreeSet::from(["ping".into(), "pong".into()]));
        for command in &commands {
            assert_eq!(
                attribute(&command.attributes, "root").as_deref(),
                Some(root.to_string().as_str())
            );
            assert_eq!(
                attribute(&command.attributes, "sequence").as_deref(),
                Some("0")
            );
            assert!(attribute(&command.attributes, "causation").is_some());
        }
        // The saga's command was caused by ping's event, and is a descendant of the delivery.
        let pong = commands
            .iter()
            .find(|s| attribute(&s.attributes, "domain").as_deref() == Some("pong"))
            .expect("pong's command");
        assert!(
            attribute(&pong.attributes, "causation").is_some_and(|c| c.starts_with("event:ping/")),
            "{:?}",
            pong.attributes
        );
        let by_id: BTreeMap<Vec<u8>, &Span> = ours
            .iter()
            .map(|e| (e.span.span_id.clone(), &e.span))
            .collect();
        let mut ancestor = by_id.get(&pong.parent_span_id).copied();
        let mut chain = Vec::new();
        while let Some(span) = ancestor {
            chain.push(span.name.clone());
            ancestor = by_id.get(&span.parent_span_id).copied();
        }
        assert!(chain.contains(&"deliver".to_string()), "{chain:?}");
        assert_eq!(
            chain.last().map(String::as_str),
            Some("gateway.execute"),
            "{chain:?}"
        );

        // The metrics went out over OTLP too.
        let metrics = received.metrics.lock().expect("lock");
        let names: BTreeSet<String> = metrics
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| m.name.clone())
            .collect();
        assert!(names.contains("angzarr_commands_total"), "{names:?}");
        assert!(
            names.contains("angzarr_subscriber_lag_positions"),
            "{names:?}"
        );
    }
}
