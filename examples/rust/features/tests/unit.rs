//! The unit features: every `examples/features/*.feature` but `e2e-*`, run against the
//! components' handlers in memory (README.md of `examples/features` defines the steps).
//!
//! `cargo test -p example-features --test unit`; cucumber's options go after `--`, e.g.
//! `-- --name '^6 '` or `-- --tags @wip`. A failing, undefined or skipped step fails the run.

use std::path::PathBuf;

use cucumber::gherkin::Step;
use cucumber::writer::Stats as _;
use cucumber::{World as _, cli, given, then, when};
use example_features::cli::options;
use example_features::features::{FeatureFiles, features_dir};
use example_features::unit::{UnitWorld, json_argument};

type Outcome = Result<(), String>;

// A root is `$NAME`, `key(<domain>, <key>)` or a UUID: `(key\([^)]*\)|\S+)` below.

// Aggregates.

#[given(regex = r"^the (\S+) aggregate$")]
fn aggregate(w: &mut UnitWorld, domain: String) -> Outcome {
    w.step(|w| w.given_aggregate(&domain))
}

#[given(regex = r"^([A-Z]\w*)\s*(.*)$")]
fn event(w: &mut UnitWorld, name: String, json: String, step: &Step) -> Outcome {
    w.step(|w| w.given_event(&name, json_argument(&json, step)))
}

#[when(regex = r"^([A-Z]\w*)\s*(.*)$")]
fn command(w: &mut UnitWorld, name: String, json: String, step: &Step) -> Outcome {
    w.step(|w| w.when_command(&name, json_argument(&json, step)))
}

#[then(regex = r"^the events are:?$")]
fn events(w: &mut UnitWorld, step: &Step) -> Outcome {
    w.step(|w| w.then_events(step))
}

#[then(regex = r#"^the command is rejected with (\S+) "(.*)"$"#)]
fn rejected(w: &mut UnitWorld, code: String, words: String) -> Outcome {
    w.step(|w| w.then_rejected(&code, &words))
}

#[then(regex = r"^the state is\s*(.*)$")]
fn state(w: &mut UnitWorld, json: String, step: &Step) -> Outcome {
    w.step(|w| w.then_state(json_argument(&json, step)))
}

// Sagas and process managers.

#[given(regex = r"^the (\S+) saga$")]
fn saga(w: &mut UnitWorld, name: String) -> Outcome {
    w.step(|w| w.given_saga(&name))
}

#[given(regex = r"^the (\S+) process manager$")]
fn process_manager(w: &mut UnitWorld, name: String) -> Outcome {
    w.step(|w| w.given_process_manager(&name))
}

#[given(
    regex = r#"^it received ([A-Z]\w*) from (\S+) (key\([^)]*\)|\S+)(?: under correlation (\S+))?\s*(.*)$"#
)]
fn received(
    w: &mut UnitWorld,
    name: String,
    domain: String,
    root: String,
    correlation: String,
    json: String,
    step: &Step,
) -> Outcome {
    w.step(|w| {
        w.receive(
            (&name, json_argument(&json, step)),
            (&domain, &root),
            &correlation,
            false,
        )
    })
}

#[when(
    regex = r#"^it receives ([A-Z]\w*) from (\S+) (key\([^)]*\)|\S+)(?: under correlation (\S+))?\s*(.*)$"#
)]
fn receives(
    w: &mut UnitWorld,
    name: String,
    domain: String,
    root: String,
    correlation: String,
    json: String,
    step: &Step,
) -> Outcome {
    w.step(|w| {
        w.receive(
            (&name, json_argument(&json, step)),
            (&domain, &root),
            &correlation,
            true,
        )
    })
}

#[when(
    regex = r#"^its command ([A-Z]\w*) to (\S+) (key\([^)]*\)|\S+) is rejected with (\S+) "(.*)"$"#
)]
fn command_rejected(
    w: &mut UnitWorld,
    name: String,
    domain: String,
    root: String,
    code: String,
    words: String,
) -> Outcome {
    w.step(|w| w.command_rejected(&name, (&domain, &root), &code, &words))
}

#[then(regex = r"^it sends:?$")]
fn sends(w: &mut UnitWorld, step: &Step) -> Outcome {
    w.step(|w| w.then_sends(step))
}

#[then(regex = r"^it sends nothing$")]
fn sends_nothing(w: &mut UnitWorld) -> Outcome {
    w.step(UnitWorld::then_sends_nothing)
}

#[then(regex = r"^every command carries the correlation id (\S+)$")]
fn correlation(w: &mut UnitWorld, id: String) -> Outcome {
    w.step(|w| w.then_correlation(&id))
}

#[then(regex = r"^it records:?$")]
fn records(w: &mut UnitWorld, step: &Step) -> Outcome {
    w.step(|w| w.then_records(step))
}

#[then(regex = r"^it records nothing$")]
fn records_nothing(w: &mut UnitWorld) -> Outcome {
    w.step(UnitWorld::then_records_nothing)
}

#[then(regex = r"^its state(?: under correlation (\S+))? is\s*(.*)$")]
fn process_state(w: &mut UnitWorld, correlation: String, json: String, step: &Step) -> Outcome {
    w.step(|w| w.then_process_state(&correlation, json_argument(&json, step)))
}

// Projectors.

#[given(regex = r"^the (\S+) projector$")]
fn projector(w: &mut UnitWorld, name: String) -> Outcome {
    w.step(|w| w.given_projector(&name))
}

#[given(
    regex = r#"^it handled ([A-Z]\w*) from (\S+) (key\([^)]*\)|\S+) at sequence (\S+)\s*(.*)$"#
)]
#[when(regex = r#"^it handles ([A-Z]\w*) from (\S+) (key\([^)]*\)|\S+) at sequence (\S+)\s*(.*)$"#)]
fn handles(
    w: &mut UnitWorld,
    name: String,
    domain: String,
    root: String,
    sequence: String,
    json: String,
    step: &Step,
) -> Outcome {
    w.step(|w| {
        w.project(
            (&name, json_argument(&json, step)),
            (&domain, &root),
            &sequence,
        )
    })
}

#[when(regex = r"^it handles the same event again$")]
fn handles_again(w: &mut UnitWorld) -> Outcome {
    w.step(UnitWorld::project_again)
}

#[then(regex = r#"^row (key\([^)]*\)|\S+) is\s*(.*)$"#)]
fn row(w: &mut UnitWorld, key: String, json: String, step: &Step) -> Outcome {
    w.step(|w| w.then_row(&key, json_argument(&json, step)))
}

#[then(regex = r"^the rows are:?$")]
fn rows(w: &mut UnitWorld, step: &Step) -> Outcome {
    w.step(|w| w.then_rows(step))
}

#[then(regex = r"^there are no rows$")]
fn no_rows(w: &mut UnitWorld) -> Outcome {
    w.step(UnitWorld::then_no_rows)
}

fn main() {
    let cucumber = UnitWorld::cucumber::<PathBuf>()
        .with_parser(FeatureFiles::unit())
        .fail_on_skipped();
    let cucumber = cucumber.with_cli(options::<cli::Opts<_, _, _, cli::Empty>>("unit_features"));
    let summary = futures::executor::block_on(cucumber.run(features_dir()));
    if summary.execution_has_failed() {
        eprintln!(
            "unit features failed: {} failed steps, {} parsing errors, {} skipped steps",
            summary.failed_steps(),
            summary.parsing_errors(),
            summary.skipped_steps()
        );
        std::process::exit(1);
    }
}
