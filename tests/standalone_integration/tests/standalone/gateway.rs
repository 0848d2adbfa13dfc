//! The client-facing services on `gateway.sock`: routing, streamed execution, queries, live
//! streams, and clients that stop reading.

use std::collections::BTreeSet;
use std::time::Duration;

use angzarr_proto::command_gateway_client::CommandGatewayClient;
use angzarr_proto::event_query_client::EventQueryClient;
use angzarr_proto::event_stream_client::EventStreamClient;
use angzarr_proto::{
    AggregateRootsRequest, CommandBook, CommandPage, Cover, CoverExt, EventBook, EventPageExt,
    EventStreamFilter, ExecuteStreamCountRequest, ExecuteStreamTimeRequest, Query, SequenceRange,
    SequenceSet, SynchronizeRequest, TemporalQuery, UuidExt, query, temporal_query,
};
use angzarr_standalone_integration::{
    SystemConfig, TestSystem, connect, echo, echoed, expect_status, multi,
};
use futures::StreamExt;
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

async fn channel(system: &TestSystem) -> Channel {
    connect(&system.workspace().socket_dir().join("gateway.sock")).await
}

fn command(domain: &str, root: Uuid, payload: &str) -> CommandBook {
    CommandBook {
        cover: Some(Cover::for_root(domain, root)),
        pages: vec![CommandPage {
            sequence: None,
            command: Some(echo(payload)),
        }],
        ..CommandBook::default()
    }
}

fn payloads(books: &[EventBook]) -> Vec<String> {
    books
        .iter()
        .flat_map(|b| b.pages.iter())
        .map(|p| {
            String::from_utf8_lossy(&echoed(p.event.as_ref().expect("event")).payload).into_owned()
        })
        .collect()
}

fn sequences(books: &[EventBook]) -> Vec<u32> {
    books
        .iter()
        .flat_map(|b| b.pages.iter())
        .map(|p| p.sequence_num().expect("sequence"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_routes_by_domain_and_refuses_unknown_ones() {
    let system = TestSystem::start(&SystemConfig::new(&["alpha", "beta"])).await;
    let mut gateway = CommandGatewayClient::new(channel(&system).await);
    let root = Uuid::new_v4();
    for domain in ["alpha", "beta"] {
        let response = gateway
            .execute(command(domain, root, domain))
            .await
            .expect("routed")
            .into_inner();
        let book = response.events.expect("events");
        assert_eq!(book.cover.as_ref().expect("cover").domain, domain);
        assert_eq!(
            payloads(std::slice::from_ref(&book)),
            vec![domain.to_string()]
        );
    }
    assert_eq!(system.history("alpha", root).await.len(), 1);
    assert_eq!(system.history("beta", root).await.len(), 1);
    let message = expect_status(
        gateway.execute(command("gamma", root, "x")).await,
        Code::NotFound,
    );
    assert!(message.contains("gamma"), "{message}");
    assert_eq!(
        system.head().await,
        2,
        "nothing stored for the unknown domain"
    );
    system.stop().await;
}

async fn get_events(client: &mut EventQueryClient<Channel>, query: Query) -> Vec<EventBook> {
    client
        .get_events(query)
        .await
        .expect("query accepted")
        .into_inner()
        .map(|r| r.expect("a page"))
        .collect()
        .await
}

fn query_of(root: Uuid, selection: Option<query::Selection>) -> Query {
    Query {
        cover: Some(Cover::for_root("alpha", root)),
        selection,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_queries_select_ranges_sets_and_the_past_even_with_snapshots() {
    let config = SystemConfig::new(&["alpha"]).snapshot_every(3);
    let (system, client) = TestSystem::start_with_client(&config, "alpha").await;
    let root = Uuid::new_v4();
    for i in 0..5 {
        client.ok(root, echo(format!("e{i}"))).await;
    }
    let midpoint = system.history("alpha", root).await[4].created_at;
    client.ok(root, multi(2, "late")).await;
    let mut queries = EventQueryClient::new(channel(&system).await);

    let all = get_events(&mut queries, query_of(root, None)).await;
    assert_eq!(sequences(&all), (0..7).collect::<Vec<_>>());
    assert!(
        all.iter().all(|b| b.snapshot.is_none()),
        "queries return events, not snapshots"
    );

    let range = query::Selection::Range(SequenceRange {
        lower: 2,
        upper: Some(4),
    });
    assert_eq!(
        sequences(&get_events(&mut queries, query_of(root, Some(range))).await),
        [2, 3, 4]
    );
    let open_range = query::Selection::Range(SequenceRange {
        lower: 5,
        upper: None,
    });
    assert_eq!(
        sequences(&get_events(&mut queries, query_of(root, Some(open_range))).await),
        [5, 6]
    );
    let set = query::Selection::Sequences(SequenceSet {
        values: vec![6, 0, 3],
    });
    assert_eq!(
        sequences(&get_events(&mut queries, query_of(root, Some(set))).await),
        [0, 3, 6]
    );

    // As of sequence 3: the history then, although a snapshot at 5 exists now.
    let as_of = query::Selection::Temporal(TemporalQuery {
        point_in_time: Some(temporal_query::PointInTime::AsOfSequence(3)),
    });
    let past = get_events(&mut queries, query_of(root, Some(as_of))).await;
    assert_eq!(sequences(&past), [0, 1, 2, 3]);
    assert_eq!(payloads(&past), ["e0", "e1", "e2", "e3"]);
    let as_of_time = query::Selection::Temporal(TemporalQuery {
        point_in_time: Some(temporal_query::PointInTime::AsOfTime(midpoint)),
    });
    let past = get_events(&mut queries, query_of(root, Some(as_of_time))).await;
    assert_eq!(
        sequences(&past),
        [0, 1, 2, 3, 4],
        "stored at or before the time"
    );

    let backwards = query::Selection::Range(SequenceRange {
        lower: 4,
        upper: Some(1),
    });
    expect_status(
        queries.get_events(query_of(root, Some(backwards))).await,
        Code::InvalidArgument,
    );
    let mut unknown = query_of(root, None);
    unknown.cover.as_mut().expect("cover").domain = "nowhere".into();
    let mut stream = queries
        .get_events(unknown)
        .await
        .expect("stream")
        .into_inner();
    let status = stream
        .next()
        .await
        .expect("an answer")
        .expect_err("refused");
    assert_eq!(status.code(), Code::NotFound);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_roots_are_listed_per_domain() {
    let system = TestSystem::start(&SystemConfig::new(&["alpha", "beta"])).await;
    let (alpha, beta) = (system.client("alpha").await, system.client("beta").await);
    let roots: BTreeSet<Uuid> = (0..7).map(|_| Uuid::new_v4()).collect();
    for root in &roots {
        alpha.ok(*root, echo("r")).await;
        alpha.ok(*root, echo("again")).await;
    }
    beta.ok(Uuid::new_v4(), echo("other")).await;
    let mut queries = EventQueryClient::new(channel(&system).await);
    let listed: Vec<Uuid> = queries
        .get_aggregate_roots(AggregateRootsRequest {
            domain: "alpha".into(),
        })
        .await
        .expect("listing")
        .into_inner()
        .map(|r| {
            let root = r.expect("a root");
            assert_eq!(root.domain, "alpha");
            root.root.expect("uuid").to_uuid().expect("valid uuid")
        })
        .collect()
        .await;
    assert_eq!(listed.len(), 7, "each root once");
    assert_eq!(listed.iter().copied().collect::<BTreeSet<_>>(), roots);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synchronize_switches_from_catch_up_to_live_without_gaps_or_repeats() {
    let system = TestSystem::start(&SystemConfig::new(&["alpha"])).await;
    let client = system.client("alpha").await;
    let roots: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    for root in &roots {
        client.ok(*root, echo("before")).await;
    }
    let mut queries = EventQueryClient::new(channel(&system).await);
    // Start after position 2 while writers keep writing.
    let mut stream = queries
        .synchronize(SynchronizeRequest {
            after_position: 2,
            domains: vec![],
            ..Default::default()
        })
        .await
        .expect("synchronize")
        .into_inner();
    let writers: Vec<_> = roots
        .iter()
        .map(|root| {
            let client = client.clone();
            let root = *root;
            tokio::spawn(async move {
                for i in 0..10 {
                    client.ok(root, echo(format!("live-{i}"))).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    let head = system.head().await;
    assert_eq!(head, 44);
    let mut positions = Vec::new();
    tokio::time::timeout(WAIT, async {
        while positions.last().copied() != Some(head) {
            let book = stream.next().await.expect("open").expect("a book");
            positions.extend(book.pages.iter().map(|p| p.position));
        }
    })
    .await
    .expect("every position arrives");
    assert_eq!(
        positions,
        (3..=head).collect::<Vec<_>>(),
        "each once, in order"
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_without_stalling_writers_or_others() {
    let config = SystemConfig::new(&["alpha"]).with_toml(
        "[limits]\nstream_buffer = 2\nslow_client_timeout_secs = 2\n\
         [delivery]\npoll_interval_secs = 0.1\n",
    );
    let (system, client) = TestSystem::start_with_client(&config, "alpha").await;
    let mut queries = EventQueryClient::new(channel(&system).await);
    let request = SynchronizeRequest {
        after_position: 0,
        domains: vec![],
        ..Default::default()
    };
    let mut stalled = queries
        .synchronize(request.clone())
        .await
        .expect("stalled")
        .into_inner();
    let mut reader = queries
        .synchronize(request)
        .await
        .expect("reader")
        .into_inner();
    // A client that keeps reading, concurrently with the writers.
    let reading = tokio::spawn(async move {
        let mut read = 0;
        while read < 64 {
            let book = reader.next().await.expect("open").expect("a book");
            read += book.pages.len();
        }
        read
    });
    // Far more than the stalled client's buffer and the transport's (HTTP/2 windows, send
    // buffers, socket buffers: a few MiB, measured) can hold: 64 MiB. The writers are never
    // held up by it.
    let payload = "x".repeat(1024 * 1024);
    for _ in 0..64 {
        client.ok(Uuid::new_v4(), echo(payload.clone())).await;
    }
    let read = tokio::time::timeout(WAIT, reading)
        .await
        .expect("the reading client gets everything")
        .expect("reader task");
    assert_eq!(read, 64);
    // The stalled client finds its stream ended with a clear status after what was buffered.
    let ending = tokio::time::timeout(WAIT, async {
        loop {
            match stalled.next().await {
                Some(Ok(_)) => continue,
                Some(Err(status)) => return Some(status),
                None => return None,
            }
        }
    })
    .await
    .expect("the stalled stream ends");
    let status = ending.expect("ended with a status");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("did not read"),
        "{}",
        status.message()
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_need_a_correlation_id_and_follow_it() {
    let (system, client) =
        TestSystem::start_with_client(&SystemConfig::new(&["alpha"]), "alpha").await;
    let mut streams = EventStreamClient::new(channel(&system).await);
    expect_status(
        streams.subscribe(EventStreamFilter::default()).await,
        Code::InvalidArgument,
    );
    let mut stream = streams
        .subscribe(EventStreamFilter {
            editions: Vec::new(),
            correlation_id: "workflow-7".into(),
            domains: vec![],
            types: vec!["Echoed".into()],
        })
        .await
        .expect("subscribe")
        .into_inner();
    let root = Uuid::new_v4();
    client.ok(root, echo("unrelated")).await;
    let mut book = client.book(root, echo("related"));
    book.cover.as_mut().expect("cover").correlation_id = "workflow-7".into();
    client.send(book).await.expect("sent");
    let received = tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("in time")
        .expect("open")
        .expect("a book");
    assert_eq!(payloads(std::slice::from_ref(&received)), ["related"]);
    assert_eq!(received.cover.expect("cover").correlation_id, "workflow-7");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_execution_starts_with_the_commands_events_and_ends_at_its_limits() {
    let system = TestSystem::start(&SystemConfig::new(&["alpha"])).await;
    let mut gateway = CommandGatewayClient::new(channel(&system).await);
    let root = Uuid::new_v4();
    let mut counted = gateway
        .execute_stream_response_count(ExecuteStreamCountRequest {
            command: Some(CommandBook {
                pages: vec![CommandPage {
                    sequence: None,
                    command: Some(multi(3, "three")),
                }],
                ..command("alpha", root, "unused")
            }),
            count: 3,
        })
        .await
        .expect("stream")
        .into_inner();
    let first = counted.next().await.expect("first").expect("events");
    assert_eq!(sequences(std::slice::from_ref(&first)), [0, 1, 2]);
    assert!(
        !first.cover.expect("cover").correlation_id.is_empty(),
        "the correlation id comes first"
    );
    assert!(
        counted.next().await.is_none(),
        "three events reached the count"
    );

    let started = tokio::time::Instant::now();
    let mut timed = gateway
        .execute_stream_response_time(ExecuteStreamTimeRequest {
            command: Some(command("alpha", root, "timed")),
            duration: Some(prost_types::Duration {
                seconds: 0,
                nanos: 300_000_000,
            }),
        })
        .await
        .expect("stream")
        .into_inner();
    assert_eq!(
        payloads(&[timed.next().await.expect("first").expect("events")]),
        ["timed"]
    );
    assert!(
        tokio::time::timeout(WAIT, timed.next())
            .await
            .expect("ends")
            .is_none(),
        "the stream ends after its duration"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));

    let refused = gateway
        .execute_stream(command("nowhere", root, "x"))
        .await
        .expect("stream")
        .into_inner()
        .next()
        .await
        .expect("an answer")
        .expect_err("refused");
    assert_eq!(refused.code(), Code::NotFound);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_is_refused_naming_the_limit_and_stores_nothing() {
    let config = SystemConfig::new(&["alpha"]).with_toml("[limits]\nmax_message_bytes = 4096\n");
    let system = TestSystem::start(&config).await;
    let mut gateway = CommandGatewayClient::new(channel(&system).await);
    let root = Uuid::new_v4();
    let oversized = "x".repeat(8 * 1024);
    let message = expect_status(
        gateway.execute(command("alpha", root, &oversized)).await,
        Code::OutOfRange,
    );
    assert!(message.contains("4096"), "names the limit: {message}");
    // The coordinator's own socket has the same limit.
    let mut coordinator =
        angzarr_proto::business_coordinator_client::BusinessCoordinatorClient::new(
            connect(&system.workspace().socket_dir().join("alpha.sock")).await,
        );
    expect_status(
        coordinator.handle(command("alpha", root, &oversized)).await,
        Code::OutOfRange,
    );
    assert_eq!(system.head().await, 0, "nothing stored");

    gateway
        .execute(command("alpha", root, "small"))
        .await
        .expect("a request within the limit");
    assert_eq!(system.history("alpha", root).await.len(), 1);
    system.stop().await;
}
