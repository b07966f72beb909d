//! `mpxn-recon diff OLD NEW` (issue 14, item 4): the sample swept at two as-of dates
//! differs in exactly the installations whose (outcome, clauses, reasons) differ between
//! the two decisions.csv files, computed here independently; exit 1 then, 0 for a sweep
//! against itself, 2 for a file that is not a sorted decisions.csv; added and removed
//! installations; JSON Lines.

use std::collections::BTreeMap;
use std::path::Path;

use crate::util::*;

fn sweep(dir: &TestDir, name: &str, as_of: &str) -> std::path::PathBuf {
    let out = dir.path().join(name);
    let mut cmd = bin();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["sweep", "--as-of", as_of, "--out"])
        .arg(&out);
    run_expect(&mut cmd, 0);
    out
}

/// (source, id) → (outcome, clauses, reasons), read naively (the sample quotes nothing).
fn decisions(path: &Path) -> BTreeMap<(String, String), (String, String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                (f[0].to_string(), f[1].to_string()),
                (f[3].to_string(), f[4].to_string(), f[5].to_string()),
            )
        })
        .collect()
}

fn diff(old: &Path, new: &Path, json: bool) -> std::process::Output {
    let mut cmd = bin();
    cmd.arg("diff").arg(old).arg(new);
    if json {
        cmd.arg("--json");
    }
    output(&mut cmd)
}

#[test]
fn two_as_of_dates_differ_in_exactly_the_changed_installations() {
    let dir = TestDir::new();
    let june = sweep(&dir, "june", "2024-06-30");
    let early = sweep(&dir, "early", "2024-06-10");
    let (a, b) = (
        decisions(&june.join("decisions.csv")),
        decisions(&early.join("decisions.csv")),
    );
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let expected: Vec<String> = a
        .iter()
        .filter(|(k, v)| b[*k] != **v)
        .map(|((s, i), (o, _, _))| format!("{s},{i},{o}->{}", b[&(s.clone(), i.clone())].0))
        .collect();
    assert!(
        expected.len() > 5,
        "the dates change something: {expected:?}"
    );

    let o = diff(&june, &early, false);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("source,installation_id,change,outcome_before,outcome_after,clauses_before,clauses_after,reasons_before,reasons_after")
    );
    let got: Vec<String> = lines
        .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(got, expected);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!(
            "diff: {} of 48 / 48 installations changed: ",
            expected.len()
        )),
        "{stderr}"
    );
    // Every changed row shows both sides.
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let before = &a[&(f[0].to_string(), f[1].to_string())];
        let after = &b[&(f[0].to_string(), f[1].to_string())];
        assert_eq!(
            (f[3], f[5], f[7]),
            (before.0.as_str(), before.1.as_str(), before.2.as_str())
        );
        assert_eq!(
            (f[4], f[6], f[8]),
            (after.0.as_str(), after.1.as_str(), after.2.as_str())
        );
    }
    // JSON Lines: the same changes, with the reasons that came and went.
    let o = diff(&june, &early, true);
    assert_eq!(o.status.code(), Some(1));
    let json: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(json.len(), expected.len());
    assert!(json.iter().any(|c| c["reasons_new"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == "FUTURE_COMMS")));

    // A sweep against itself (folder against its file): nothing, exit 0.
    let o = diff(&june, &june.join("decisions.csv"), false);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 1);
}

#[test]
fn added_removed_and_untrustworthy_files() {
    let dir = TestDir::new();
    let header = "source,installation_id,group_id,outcome,clauses,reasons,mpxns\n";
    let old = dir.write(
        "old.csv",
        format!("{header}A,1,G,clear,,,\nA,2,G,exclude,18.12,NO_METER,\nB,1,,clear,,,\n"),
    );
    let new = dir.write(
        "new.csv",
        format!(
            "{header}A,1,G,clear,,,\nA,3,G,clear,,,\nB,1,,unblock,4.1A,DORMANT_SUPPLIER_CEASED,\n"
        ),
    );
    let o = diff(&old, &new, false);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        format!(
            "source,installation_id,change,outcome_before,outcome_after,clauses_before,clauses_after,reasons_before,reasons_after\n\
             A,2,removed,exclude,,18.12,,NO_METER,\n\
             A,3,added,,clear,,,,\n\
             B,1,clear->unblock,clear,unblock,,4.1A,,DORMANT_SUPPLIER_CEASED\n"
        )
    );
    // Out of order, listed twice, not a decisions.csv, a row of the wrong width: 2,
    // naming the file and line.
    for (name, body, needle) in [
        (
            "unsorted.csv",
            format!("{header}B,1,,clear,,,\nA,1,,clear,,,\n"),
            "unsorted.csv:3: A 1 is not after B 1",
        ),
        (
            "twice.csv",
            format!("{header}A,1,,clear,,,\nA,1,,clear,,,\n"),
            "twice.csv:3:",
        ),
        (
            "whatif.csv",
            "source,installation_id,outcome\n".to_string(),
            "whatif.csv:1: not a decisions.csv",
        ),
        (
            "short.csv",
            format!("{header}A,1,clear\n"),
            "short.csv:2: 3 fields",
        ),
    ] {
        let bad = dir.write(name, body);
        let o = diff(&old, &bad, false);
        assert_eq!(o.status.code(), Some(2), "{name}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(needle),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let o = diff(&old, &dir.path().join("missing.csv"), false);
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unreadable file is trouble, not a difference"
    );
}
