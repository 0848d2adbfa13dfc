//! The `angzarr` CLI against a running runtime, checked through its `--json` output.

use angzarr_standalone_integration::{
    SystemConfig, TestSystem, Workspace, bin_path, echo, finish, start_manifest,
};
use tokio::process::Command;
use uuid::Uuid;

/// `angzarr <args> --json` against `system`; one JSON value per output line.
async fn angzarr_json(system: &TestSystem, args: &[&str]) -> Vec<serde_json::Value> {
    let mut command = Command::new(bin_path("angzarr"));
    command
        .args(args)
        .arg("--json")
        .arg("--socket-dir")
        .arg(system.workspace().socket_dir())
        .kill_on_drop(true);
    let finished = finish(command).await;
    assert_eq!(
        finished.code,
        Some(0),
        "angzarr {args:?}: {}",
        finished.stderr
    );
    finished
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_roots_status_and_tail_against_a_running_runtime() {
    let (system, client) =
        TestSystem::start_with_client(&SystemConfig::new(&["alpha"]), "alpha").await;
    let root = Uuid::new_v4();
    for i in 0..4 {
        client.ok(root, echo(format!("e{i}"))).await;
    }
    client.ok(Uuid::new_v4(), echo("other")).await;
    let root_text = root.to_string();

    let events = angzarr_json(&system, &["events", "alpha", &root_text]).await;
    let sequences: Vec<u64> = events
        .iter()
        .map(|e| e["sequence"].as_u64().expect("seq"))
        .collect();
    assert_eq!(sequences, [0, 1, 2, 3]);
    assert!(
        events
            .iter()
            .all(|e| e["type"] == "angzarr.synthetic.Echoed")
    );
    assert!(events.iter().all(|e| e["root"] == root_text.as_str()));

    let past = angzarr_json(&system, &["events", "alpha", &root_text, "--as-of", "1"]).await;
    assert_eq!(past.len(), 2, "as of sequence 1");
    let range = angzarr_json(
        &system,
        &["events", "alpha", &root_text, "--from", "2", "--to", "3"],
    )
    .await;
    assert_eq!(
        range
            .iter()
            .map(|e| e["sequence"].as_u64())
            .collect::<Vec<_>>(),
        [Some(2), Some(3)]
    );

    let roots = angzarr_json(&system, &["roots", "alpha"]).await;
    assert_eq!(roots.len(), 2);
    assert!(roots.iter().any(|r| r["root"] == root_text.as_str()));

    let status = angzarr_json(&system, &["status"]).await;
    assert_eq!(status[0]["head_position"], 5);
    let component = &status[0]["components"][0];
    assert_eq!(component["name"], "alpha");
    assert_eq!(component["state"], "serving");
    assert!(component["pid"].as_u64().is_some_and(|pid| pid > 0));

    let tail = angzarr_json(&system, &["tail", "--from", "3", "--count", "2"]).await;
    let positions: Vec<u64> = tail
        .iter()
        .map(|e| e["position"].as_u64().expect("pos"))
        .collect();
    assert_eq!(
        positions,
        [4, 5],
        "replayed from position 3, then stopped after 2"
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_follow_streams_the_commands_events_through_the_gateway() {
    let manifest = format!(
        "socket_dir = \"s\"\n[storage]\npath = \"events.db\"\n\
         [components.customer]\nkind = \"aggregate\"\ncommand = [{:?}]\n",
        bin_path("example-customer").display().to_string()
    );
    let workspace = Workspace::with_manifest(&manifest);
    let runtime = start_manifest(&workspace.manifest(), &Default::default()).await;
    let mut command = Command::new(bin_path("angzarr"));
    command
        .args([
            "send",
            "customer",
            "bob@example.com",
            "CreateCustomer",
            r#"{"name":"Bob","email":"bob@example.com"}"#,
            "--follow",
            "--follow-count",
            "1",
            "--json",
            "--socket-dir",
        ])
        .arg(workspace.socket_dir())
        .kill_on_drop(true);
    let finished = finish(command).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    let lines: Vec<serde_json::Value> = finished
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", finished.stdout);
    assert_eq!(lines[0]["type"], "examples.customer.CustomerCreated");
    assert_eq!(lines[0]["event"]["name"], "Bob");
    assert!(
        !lines[0]["correlation_id"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_goes_away_ends_the_cli_quietly() {
    use tokio::io::AsyncBufReadExt;
    let (system, client) =
        TestSystem::start_with_client(&SystemConfig::new(&["alpha"]), "alpha").await;
    let root = Uuid::new_v4();
    client.ok(root, echo("first")).await;
    let mut command = Command::new(bin_path("angzarr"));
    command
        .args(["tail", "--from", "0", "--socket-dir"])
        .arg(system.workspace().socket_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut tail = command.spawn().expect("spawn angzarr tail");
    let stdout = tail.stdout.take().expect("piped stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = lines.next_line().await.expect("read").expect("a line");
    assert!(first.contains("Echoed"), "{first}");
    drop(lines); // `| head -1`: the reader is gone.
    // The next event has nowhere to go.
    client.ok(root, echo("second")).await;
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), tail.wait_with_output())
        .await
        .expect("angzarr tail ends once its reader is gone")
        .expect("reap angzarr tail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "nothing to report: {stderr}");
    system.stop().await;
}
