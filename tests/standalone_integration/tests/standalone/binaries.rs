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
