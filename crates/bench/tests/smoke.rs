//! The harness end to end with a tiny plan against the debug binaries, so CI keeps it working.
//! It checks that every scenario measured something, never how fast (no timing assertions).

use angzarr_bench::{Group, Options};
use clap::{Parser, ValueEnum};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_measures_something_with_a_tiny_plan() {
    let options = Options::parse_from([
        "angzarr-bench",
        "--json",
        "--clients",
        "1,2",
        "--aggregates",
        "20",
        "--history",
        "200",
        "--warmup",
        "0",
        "--requests",
        "30",
    ]);
    let plan = options.plan().expect("a plan");
    let report = angzarr_bench::run(&plan).await.expect("the run completes");

    for group in Group::value_variants() {
        if *group == Group::Load {
            continue;
        }
        assert!(
            report.scenarios.iter().any(|s| s.group == *group),
            "{group:?} ran"
        );
    }
    for scenario in &report.scenarios {
        assert_eq!(
            scenario.errors, 0,
            "{}: {:?}",
            scenario.id, scenario.first_error
        );
        assert!(
            scenario.completed >= 30,
            "{} completed {}",
            scenario.id,
            scenario.completed
        );
        assert!(scenario.rate_per_s > 0.0, "{}", scenario.id);
    }
    assert!(!report.loads.is_empty(), "history loads ran");
    let runtime = report.runtime.as_ref().expect("the runtime was measured");
    assert!(runtime.idle.rss_kib > 0, "idle RSS read from /proc");
    let json = serde_json::to_value(&report).expect("the report serializes");
    assert!(json["ratios"].as_array().is_some_and(|r| !r.is_empty()));
}
