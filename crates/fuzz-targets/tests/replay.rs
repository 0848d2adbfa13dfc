//! Every fuzz target on the stable toolchain, bounded: every file of `fuzz/corpus/<target>/`
//! and `fuzz/regressions/<target>/`, the built-in seeds, and [`MUTANTS`] deterministic
//! mutations of them. A crash libFuzzer found stays fixed because its input lives in
//! `fuzz/regressions/<target>/` and runs here on every `./scripts/test`.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Once;

use angzarr_fuzz_targets::mutate::{Rng, mutate};
use angzarr_fuzz_targets::{TARGETS, Target};

/// Mutated inputs per target and run (a few seconds for all targets in a debug build).
const MUTANTS: usize = 300;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir`, by name; none when it does not exist.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| {
            let path = e.path();
            let bytes = std::fs::read(&path).expect("a corpus file is readable");
            (path.display().to_string(), bytes)
        })
        .collect();
    files.sort();
    files
}

fn target(name: &str) -> Target {
    *TARGETS
        .iter()
        .find(|t| t.name == name)
        .expect("a target of that name")
}

thread_local! {
    /// The panics on this thread since [`survives`] last looked, including those tokio
    /// catches in spawned tasks (the targets' runtimes run their tasks on the calling thread).
    static PANICS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Records every panic in [`PANICS`] (libFuzzer's hook aborts on any panic, even one a task
/// runner would swallow; this makes the replay just as strict).
fn record_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|panics| panics.borrow_mut().push(info.to_string()));
            previous(info);
        }));
    });
}

/// Runs `input`; the panics' messages when anything panicked.
fn survives(target: Target, input: &[u8]) -> Result<(), String> {
    record_panics();
    PANICS.with(|panics| panics.borrow_mut().clear());
    let _ = catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    let panics = PANICS.with(|panics| std::mem::take(&mut *panics.borrow_mut()));
    if panics.is_empty() {
        Ok(())
    } else {
        Err(panics.join("; "))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Replays the corpus, the regressions, the seeds and their mutations; fails naming every
/// input that broke a promise.
fn check(name: &str) {
    let target = target(name);
    let mut inputs = files(&fuzz_dir().join("regressions").join(name));
    inputs.extend(files(&fuzz_dir().join("corpus").join(name)));
    inputs.extend(
        (target.seeds)()
            .into_iter()
            .enumerate()
            .map(|(i, seed)| (format!("seed {i}"), seed)),
    );
    assert!(!inputs.is_empty(), "no inputs for {name}");
    let mut failures = Vec::new();
    for (source, input) in &inputs {
        if let Err(message) = survives(target, input) {
            failures.push(format!("{source}: {message}"));
        }
    }
    let mut rng = Rng::new(0x5eed);
    for i in 0..MUTANTS {
        let (source, input) = &inputs[i % inputs.len()];
        let (_, other) = &inputs[rng.below(inputs.len())];
        let mutant = mutate(&mut rng, input, other);
        if let Err(message) = survives(target, &mutant) {
            failures.push(format!(
                "mutant {i} of {source} (hex {}): {message}",
                hex(&mutant)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {} inputs broke a promise (save a failing input in fuzz/regressions/{name}/ once fixed):\n{}",
        failures.len(),
        inputs.len() + MUTANTS,
        failures.join("\n")
    );
}

#[test]
fn command_book_survives_its_corpus_regressions_and_mutations() {
    check("command_book");
}

#[test]
fn gateway_request_survives_its_corpus_regressions_and_mutations() {
    check("gateway_request");
}

#[test]
fn manifest_survives_its_corpus_regressions_and_mutations() {
    check("manifest");
}

#[test]
fn ipc_frames_survives_its_corpus_regressions_and_mutations() {
    check("ipc_frames");
}

#[test]
fn cli_json_survives_its_corpus_regressions_and_mutations() {
    check("cli_json");
}

#[test]
fn record_survives_its_corpus_regressions_and_mutations() {
    check("record");
}

#[test]
fn speculation_survives_its_corpus_regressions_and_mutations() {
    check("speculation");
}

#[test]
fn every_target_has_a_cargo_fuzz_binary_and_a_committed_corpus() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for target in TARGETS {
        let name = target.name;
        let source =
            std::fs::read_to_string(fuzz_dir().join("fuzz_targets").join(format!("{name}.rs")))
                .unwrap_or_default();
        assert!(
            source.contains(&format!("angzarr_fuzz_targets::{name}::run")),
            "fuzz/fuzz_targets/{name}.rs does not call angzarr_fuzz_targets::{name}::run"
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
        assert!(
            !files(&fuzz_dir().join("corpus").join(name)).is_empty(),
            "fuzz/corpus/{name}/ is empty"
        );
    }
}
