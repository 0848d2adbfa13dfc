//! The runtime's life: restarts on the same files, business-logic crashes, a second instance.

use std::time::Duration;

use angzarr_standalone::StartError;
use angzarr_standalone::config::{Manifest, Overrides};
use angzarr_standalone_integration::{
    Deadline, SystemConfig, TestSystem, assert_gapless, echo, echoed_events, expect_status, finish,
    multi, sequences, standalone_command,
};
use angzarr_synthetic_aggregate::{Crash, pack};
use tonic::Code;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_the_same_files_keeps_history_and_continues_the_sequence() {
    let (mut system, client) =
        TestSystem::start_with_client(&SystemConfig::new(&["echo"]), "echo").await;
    let root = Uuid::new_v4();
    client.ok(root, echo("one")).await;
    client.ok(root, multi(3, "three")).await;
    let mut keyed = client.book(root, echo("keyed"));
    keyed.idempotency_key = "before-restart".into();
    let keyed_response = client.send(keyed.clone()).await.expect("keyed");
    let before = system.history("echo", root).await;
    assert_eq!(before.len(), 5);

    system.restart().await;

    assert_eq!(system.history("echo", root).await, before, "history intact");
    let client = system.client("echo").await;
    let retry = client.send(keyed).await.expect("retry after restart");
    assert_eq!(
        retry, keyed_response,
        "idempotency records survive a restart"
    );
    let response = client.ok(root, echo("after")).await;
    assert_eq!(sequences(&response), vec![5]);
    assert_eq!(
        echoed_events(&response)[0].prior_events,
        5,
        "the logic saw the history"
    );
    let history = system.history("echo", root).await;
    assert_eq!(history.len(), 6);
    assert_gapless(&history);
    assert_eq!(system.head().await, 6);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_component_is_unavailable_by_name_then_restarted() {
    // Long enough to observe the component down, short enough for a quick test.
    let config = SystemConfig::new(&["crashy"]).restart_backoff_secs(1.0);
    let (system, client) = TestSystem::start_with_client(&config, "crashy").await;
    let supervisor = system.runtime().supervisor().clone();
    let root = Uuid::new_v4();
    client.ok(root, echo("before")).await;
    let restarts = supervisor.restarts("crashy");
    let pid = supervisor.pid("crashy").expect("a running process");

    let message = expect_status(client.run(root, pack(&Crash {})).await, Code::Unavailable);
    assert!(message.contains("crashy"), "names the component: {message}");

    // Until the restart (at least the backoff away), commands get UNAVAILABLE naming the
    // component and saying it restarts; afterwards they succeed again.
    let mut unavailable = Vec::new();
    let deadline = Deadline::after(Duration::from_secs(20), "crashy serves again");
    let response = loop {
        match client.run(root, echo("after")).await {
            Ok(response) => break response,
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                assert!(status.message().contains("crashy"), "{status:?}");
                unavailable.push(status.message().to_string());
            }
        }
        deadline.tick().await;
    };
    assert!(
        unavailable.iter().any(|m| m.contains("restarting")),
        "a command during the backoff is told the component restarts: {unavailable:?}"
    );
    assert_eq!(sequences(&response), vec![1], "the crash stored nothing");
    assert!(supervisor.restarts("crashy") > restarts);
    assert_ne!(supervisor.pid("crashy"), Some(pid), "a new process");
    assert_gapless(&system.history("crashy", root).await);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_on_the_same_socket_dir_is_refused_and_the_first_keeps_serving() {
    let system = TestSystem::start(&SystemConfig::new(&["echo"])).await;
    let manifest = system.workspace().manifest();

    // In process: a typed error, and nothing started.
    let second = Manifest::load(&manifest, &Overrides::default()).expect("manifest");
    match angzarr_standalone::Standalone::start(second).await {
        Err(StartError::Sockets(angzarr_transport::Error::AlreadyRunning { pid, .. })) => {
            assert_eq!(pid, std::process::id().to_string(), "names the holder");
        }
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }

    // The binary: exit code 1 and a message that says what to do.
    let mut command = standalone_command(["run", "-c"]);
    command.arg(&manifest);
    let run = finish(command).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("another Angzarr instance")
            && run
                .stderr
                .contains(&system.workspace().socket_dir().display().to_string()),
        "{run:?}"
    );

    let client = system.client("echo").await;
    let response = client.ok(Uuid::new_v4(), echo("still here")).await;
    assert_eq!(sequences(&response), vec![0]);
    system.stop().await;
}
