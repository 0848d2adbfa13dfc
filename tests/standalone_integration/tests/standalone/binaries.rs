//! The shipped binaries: `angzarr-standalone` (run, check, a SIGKILL under load) and the
//! `angzarr` CLI. The demo manifest is exercised by `examples/rust/e2e/tests/walk.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use angzarr_standalone_integration::{
    Client, RuntimeProcess, SystemConfig, Workspace, assert_gapless, echo, echoed, finish, history,
    process_gone, sequences, standalone_command, wait_until,
};
use uuid::Uuid;

/// One acknowledged command of the load: which aggregate, which sequence, which payload.
type Ack = (Uuid, u32, Vec<u8>);

/// Sends Echo commands with distinct payloads to `roots` from `clients` concurrent clients
/// until the runtime goes away; returns what was acknowledged.
async fn load_until_killed(
    socket_dir: &std::path::Path,
    roots: &[Uuid],
    clients: usize,
    acked: Arc<AtomicUsize>,
    killed: Arc<AtomicBool>,
) -> tokio::task::JoinSet<Vec<Ack>> {
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let client = Client::connect(socket_dir, "load").await;
        let root = roots[c % roots.len()];
        let (acked, killed) = (acked.clone(), killed.clone());
        tasks.spawn(async move {
            let mut mine = Vec::new();
            for i in 0.. {
                let payload = format!("{c}-{i}").into_bytes();
                match client.run(root, echo(payload.clone())).await {
                    Ok(response) => {
                        let sequences = sequences(&response);
                        assert_eq!(sequences.len(), 1);
                        mine.push((root, sequences[0], payload));
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(status) => {
                        assert!(
                            killed.load(Ordering::SeqCst),
                            "a command failed before the kill: {status:?}"
                        );
                        break;
                    }
                }
            }
            mine
        });
    }
    tasks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_command_and_leaves_no_orphan() {
    let workspace = Workspace::with_manifest(&SystemConfig::new(&["load"]).manifest_toml());
    let runtime = RuntimeProcess::spawn(&workspace.manifest()).await;
    let logic_pid = runtime.component_pid("load");
    assert!(!process_gone(logic_pid), "{}", runtime.summary());

    let roots: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    let acked = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let mut tasks = load_until_killed(
        &workspace.socket_dir(),
        &roots,
        16,
        acked.clone(),
        killed.clone(),
    )
    .await;
    wait_until(
        "200 commands are acknowledged",
        Duration::from_secs(30),
        || {
            let acked = acked.clone();
            async move { acked.load(Ordering::SeqCst) >= 200 }
        },
    )
    .await;
    killed.store(true, Ordering::SeqCst);
    assert_eq!(runtime.kill_hard().await, Some(nix::libc::SIGKILL));

    let mut acks = Vec::new();
    while let Some(result) = tasks.join_next().await {
        acks.extend(result.expect("a load task"));
    }
    assert!(acks.len() >= 200);
    wait_until(
        "the business logic died with the runtime",
        Duration::from_secs(10),
        || async { process_gone(logic_pid) },
    )
    .await;

    let store = workspace.open_store();
    let mut histories = HashMap::new();
    for root in &roots {
        let events = history(&store, "load", *root).await;
        assert_gapless(&events);
        let mut payloads = std::collections::HashSet::new();
        for event in &events {
            let payload = echoed(&event.event).payload;
            assert!(payloads.insert(payload.clone()), "payload stored twice");
        }
        histories.insert(*root, events);
    }
    for (root, sequence, payload) in &acks {
        let event = histories[root]
            .get(*sequence as usize)
            .unwrap_or_else(|| panic!("acknowledged {root}#{sequence} is missing"));
        assert_eq!(&echoed(&event.event).payload, payload, "{root}#{sequence}");
    }
    store.close().await;
}

/// `angzarr-standalone <subcommand> -c <manifest text>`, run to completion.
async fn standalone_on(
    subcommand: &str,
    manifest: &str,
) -> (Workspace, angzarr_standalone_integration::Finished) {
    let workspace = Workspace::with_manifest(manifest);
    let mut command = standalone_command([subcommand, "-c"]);
    command.arg(workspace.manifest());
    let finished = finish(command).await;
    (workspace, finished)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_refuses_bad_manifests_with_exit_code_2_naming_the_problem() {
    for subcommand in ["check", "run"] {
        let (workspace, out) = standalone_on(subcommand, "[storage]\ndurabilty = \"full\"\n").await;
        assert_eq!(out.code, Some(2), "{subcommand}: {out:?}");
        let manifest = workspace.manifest().display().to_string();
        assert!(
            out.stderr.contains("durabilty") && out.stderr.contains(&manifest),
            "{subcommand} names the key and the file: {out:?}"
        );

        let missing =
            "[components.ghost]\nkind = \"aggregate\"\ncommand = [\"/no/such/ghost-logic\"]\n";
        let (_workspace, out) = standalone_on(subcommand, missing).await;
        assert_eq!(out.code, Some(2), "{subcommand}: {out:?}");
        assert!(
            out.stderr.contains("components.ghost") && out.stderr.contains("/no/such/ghost-logic"),
            "{subcommand} names the component and the program: {out:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_checks_a_good_manifest_and_has_help() {
    let (workspace, out) =
        standalone_on("check", &SystemConfig::new(&["echo"]).manifest_toml()).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let socket_dir = workspace.socket_dir().display().to_string();
    assert!(
        out.stdout.contains(&socket_dir),
        "effective configuration: {out:?}"
    );
    assert!(!workspace.socket_dir().exists(), "check starts nothing");

    let help = finish(standalone_command(["--help"])).await;
    assert_eq!(help.code, Some(0), "{help:?}");
    assert!(
        help.stdout.contains("run") && help.stdout.contains("check"),
        "{help:?}"
    );
}

/// The pids of the processes whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // pid (comm) state ppid ...; comm may contain spaces.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(parent)
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_while_components_start_stops_them_and_exits_cleanly() {
    // A component that never becomes ready, and a start that would wait ten minutes for it.
    let slow = angzarr_standalone_integration::bin_path("angzarr-supervisor-test-child");
    let manifest = format!(
        "socket_dir = \"s\"\n[storage]\npath = \"events.db\"\n\
         [supervisor]\nready_timeout_secs = 600\nstop_grace_secs = 5\n\
         [components.slow]\nkind = \"aggregate\"\ncommand = [{:?}]\n\
         env = {{ TEST_CHILD_MODE = \"never-ready\" }}\n",
        slow.display().to_string()
    );
    let workspace = Workspace::with_manifest(&manifest);
    let mut command = standalone_command(["run", "-c"]);
    command
        .arg(workspace.manifest())
        .env("ANGZARR_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().expect("spawn angzarr-standalone");
    let runtime = child.id().expect("a pid");
    let logic_socket = workspace.socket_dir().join("logic/slow.sock");
    wait_until(
        "the component serves (not ready)",
        Duration::from_secs(30),
        || {
            let exists = logic_socket.exists();
            async move { exists }
        },
    )
    .await;
    let components = children_of(runtime);
    assert_eq!(components.len(), 1, "one component process: {components:?}");

    let pid = nix::unistd::Pid::from_raw(i32::try_from(runtime).expect("a pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal the runtime");
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the runtime stops without waiting for the start to time out")
        .expect("reap the runtime");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "a clean stop, not death by the signal: {stdout}{stderr}"
    );
    assert!(!stdout.contains("Stop with"), "it never served: {stdout}");
    for component in components {
        assert!(process_gone(component), "component {component} was stopped");
    }
    assert!(!workspace.socket_dir().join("gateway.sock").exists());
}
