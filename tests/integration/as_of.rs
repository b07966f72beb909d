//! An as-of date that is hard to get wrong (issue 13, item 4):
//!
//! - without `--as-of` (outside the bundled sample) a sweep says on stderr that today
//!   was assumed, and `summary.json` records `as_of_source` (`given`, `sample`, `today`);
//! - after judging, a sweep warns when no installation is communicating within the
//!   window, and when more than 1% of the dated installations communicated after the
//!   as-of date, naming the latest `last_comms_at` and suggesting it; from CSV and from
//!   an index; the warnings never change a decision;
//! - `lookup` and `portfolio` print the as-of date in their text output.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

/// The sample's inventories named on the command line: not "the bundled sample", so
/// no documented date applies.
fn sample_inputs(cmd: &mut Command) -> &mut Command {
    let mut names: Vec<PathBuf> = std::fs::read_dir(crate_root().join("datasets/sample/inventory"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for name in names {
        cmd.arg("--inventory").arg(name);
    }
    cmd.args(["--suppliers", "datasets/sample/suppliers.csv"])
}

fn source_of(out: &Path) -> String {
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    summary["as_of_source"].as_str().unwrap().to_string()
}

/// The sample's latest last_comms_at (a FUTURE_COMMS case dated after its as-of date).
const LATEST: &str = "2024-08-01";

#[test]
fn without_as_of_today_is_said_recorded_and_a_sweep_that_finds_nobody_communicating_warns() {
    let dir = TestDir::new();
    let out = dir.path().join("today");
    let mut cmd = in_root(&["sweep", "--out"]);
    cmd.arg(&out);
    let o = run_expect(sample_inputs(&mut cmd), 0);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let today = serde_json::from_slice::<serde_json::Value>(
        &std::fs::read(out.join("summary.json")).unwrap(),
    )
    .unwrap()["as_of"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        stderr.contains(&format!(
            "no --as-of given: judging as of today, {today} (UTC)"
        )),
        "{stderr}"
    );
    assert_eq!(source_of(&out), "today");
    assert!(
        stderr.contains(&format!(
            "warning: no installation is communicating within the 30-day window before {today}; \
             the latest last_comms_at in the inventories is {LATEST}: if that is when they were \
             extracted, sweep with --as-of {LATEST}"
        )),
        "{stderr}"
    );
    // The same date given: the same decisions, byte for byte (a warning decides nothing),
    // and the source says so.
    let given = dir.path().join("given");
    let mut cmd = in_root(&["sweep", "--as-of", &today, "--out"]);
    cmd.arg(&given);
    let o = run_expect(sample_inputs(&mut cmd), 0);
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("no --as-of given"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(source_of(&given), "given");
    for name in ["decisions.csv", "duplicates.csv", "rejects.csv"] {
        assert!(
            std::fs::read(out.join(name)).unwrap() == std::fs::read(given.join(name)).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn an_as_of_before_the_extract_warns_from_csv_and_from_an_index() {
    let dir = TestDir::new();
    let out = dir.path().join("early");
    let o = run_expect(
        in_root(&["sweep", "--as-of", "2024-01-01", "--out"]).arg(&out),
        0,
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    let after = format!(
        "warning: 46 of 53 installations (86.8%) last communicated after the as-of date \
         2024-01-01: either the date is earlier than the extract, or those dates are wrong \
         (FUTURE_COMMS); the latest last_comms_at in the inventories is {LATEST}"
    );
    assert!(stderr.contains(&after), "{stderr}");
    assert_eq!(source_of(&out), "given");

    let index = dir.path().join("sample.mxi");
    let mut cmd = in_root(&["index", "build", "--quiet", "--out"]);
    cmd.arg(&index);
    run_expect(sample_inputs(&mut cmd), 0);
    let from_index = dir.path().join("from-index");
    let mut cmd = in_root(&["sweep", "--as-of", "2024-01-01", "--index"]);
    cmd.arg(&index).arg("--out").arg(&from_index);
    let o = run_expect(&mut cmd, 0);
    assert!(String::from_utf8_lossy(&o.stderr).contains(&after));

    // lookup and portfolio say the date they judged as of.
    let mut cmd = in_root(&["lookup", "--as-of", "2024-06-30", "--index"]);
    cmd.arg(&index).arg("1364589770815");
    let o = run_expect(&mut cmd, 0);
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("as of 2024-06-30, window 30 days\n"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let mut cmd = in_root(&[
        "portfolio",
        "--as-of",
        "2024-06-30",
        "--party",
        "P0101",
        "--index",
    ]);
    cmd.arg(&index).arg("--out").arg(dir.path().join("p.csv"));
    let o = output(&mut cmd);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("as of 2024-06-30"),
        "{}",
        describe(&cmd, &o)
    );
}

#[test]
fn the_bundled_samples_own_date_is_recorded_as_sample() {
    let dir = TestDir::new();
    let out = dir.path().join("sample");
    let o = run_expect(in_root(&["sweep", "--out"]).arg(&out), 0);
    assert_eq!(source_of(&out), "sample");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("no --as-of given"), "{stderr}");
    // Its two FUTURE_COMMS installations are 2 of 53: over 1%, so it warns (the
    // sample holds them on purpose; the warning says they may be data errors).
    assert!(
        stderr.contains(
            "2 of 53 installations (3.8%) last communicated after the as-of date 2024-06-30"
        ),
        "{stderr}"
    );
}
