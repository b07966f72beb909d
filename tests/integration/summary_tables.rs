//! `summary.json`'s tables as records (issue 14, item 2): `by_source_group` and
//! `by_group_reason` are flat records whose counts agree with decisions.csv, counted
//! here independently; DuckDB reads each as a table (skipped, saying so, when the
//! duckdb package is not installed).

use std::collections::BTreeMap;
use std::process::Command;

use crate::util::*;

#[test]
fn the_tables_are_flat_records_that_agree_with_decisions_csv() {
    let dir = TestDir::new();
    let out = dir.path().join("out");
    let mut cmd = bin();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["sweep", "--as-of", "2024-06-30", "--out"])
        .arg(&out);
    run_expect(&mut cmd, 0);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    // From decisions.csv (the sample quotes nothing): (source, group, outcome) and
    // (group, reason) counts.
    let mut by_sgo: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let mut by_gr: BTreeMap<(String, String), u64> = BTreeMap::new();
    for l in std::fs::read_to_string(out.join("decisions.csv"))
        .unwrap()
        .lines()
        .skip(1)
    {
        let f: Vec<&str> = l.split(',').collect();
        let group = if f[2].is_empty() { "(none)" } else { f[2] };
        *by_sgo
            .entry((f[0].into(), group.into(), f[3].into()))
            .or_default() += 1;
        for r in f[5].split(';').filter(|r| !r.is_empty()) {
            *by_gr.entry((group.into(), r.into())).or_default() += 1;
        }
    }
    let records = |key: &str| summary[key].as_array().unwrap().clone();
    let sgo: BTreeMap<(String, String, String), u64> = records("by_source_group")
        .iter()
        .map(|r| {
            assert_eq!(r.as_object().unwrap().len(), 4, "flat: {r}");
            (
                (
                    r["source"].as_str().unwrap().into(),
                    r["group_id"].as_str().unwrap().into(),
                    r["outcome"].as_str().unwrap().into(),
                ),
                r["installations"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sgo, by_sgo);
    assert_eq!(
        sgo.len(),
        records("by_source_group").len(),
        "each combination once"
    );
    let gr: BTreeMap<(String, String), u64> = records("by_group_reason")
        .iter()
        .map(|r| {
            assert_eq!(r.as_object().unwrap().len(), 3, "flat: {r}");
            (
                (
                    r["group_id"].as_str().unwrap().into(),
                    r["reason"].as_str().unwrap().into(),
                ),
                r["installations"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(gr, by_gr);
    // The keyed objects stay.
    assert!(summary["by_group_id"].is_object() && summary["by_source"].is_object());

    // DuckDB takes each list as a table.
    let has_duckdb = Command::new("python3")
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_duckdb {
        eprintln!("skipped the DuckDB read: python3 has no duckdb package (pip install duckdb)");
        return;
    }
    let path = out.join("summary.json");
    let script = format!(
        "import duckdb\n\
         t = duckdb.sql(\"select r.source, r.group_id, r.outcome, r.installations from \
         (select unnest(by_source_group) as r from read_json_auto('{p}'))\").fetchall()\n\
         g = duckdb.sql(\"select r.group_id, r.reason, r.installations from \
         (select unnest(by_group_reason) as r from read_json_auto('{p}'))\").fetchall()\n\
         print(len(t), sum(row[3] for row in t), len(g), sum(row[2] for row in g))\n",
        p = path.display()
    );
    let o = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let expected = format!(
        "{} {} {} {}\n",
        by_sgo.len(),
        by_sgo.values().sum::<u64>(),
        by_gr.len(),
        by_gr.values().sum::<u64>()
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), expected);
}

/// The keys added for report.html (issue 14, item 1): shared MPxNs by size and by the
/// inventories that share them agree with duplicates.csv, and the data issues' sources
/// with findings.csv, each counted here independently.
#[test]
fn the_sharing_and_finding_source_records_agree_with_duplicates_and_findings_csv() {
    let dir = TestDir::new();
    let out = dir.path().join("out");
    let mut cmd = bin();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["sweep", "--as-of", "2024-06-30", "--out"])
        .arg(&out);
    run_expect(&mut cmd, 0);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();

    // duplicates.csv: mpxn, kind, source, ... (the sample quotes nothing there).
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in std::fs::read_to_string(out.join("duplicates.csv"))
        .unwrap()
        .lines()
        .skip(1)
    {
        let f: Vec<&str> = l.split(',').collect();
        members.entry(f[0].into()).or_default().push(f[2].into());
    }
    let mut by_size: BTreeMap<u64, u64> = BTreeMap::new();
    let mut by_pair: BTreeMap<(String, String), u64> = BTreeMap::new();
    for sources in members.values() {
        *by_size.entry(sources.len() as u64).or_default() += 1;
        let mut pairs = std::collections::BTreeSet::new();
        for (i, a) in sources.iter().enumerate() {
            for b in &sources[i + 1..] {
                pairs.insert(if a <= b {
                    (a.clone(), b.clone())
                } else {
                    (b.clone(), a.clone())
                });
            }
        }
        for p in pairs {
            *by_pair.entry(p).or_default() += 1;
        }
    }
    let got_size: BTreeMap<u64, u64> = summary["duplicate_groups_by_size"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["members"].as_u64().unwrap(),
                r["groups"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got_size, by_size);
    assert_eq!(
        got_size.values().sum::<u64>(),
        summary["shared_mpxns"].as_u64().unwrap()
    );
    let mut got_pair: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in summary["duplicate_groups_by_sources"].as_array().unwrap() {
        let (a, b) = (
            r["source_a"].as_str().unwrap(),
            r["source_b"].as_str().unwrap(),
        );
        let kind = match (a == "SMETS2", b == "SMETS2") {
            (false, false) => "SMSO-SMSO",
            (true, true) => "SMETS2-SMETS2",
            _ => "SMSO-SMETS2",
        };
        assert_eq!(r["kind"], kind, "{r}");
        got_pair.insert((a.into(), b.into()), r["groups"].as_u64().unwrap());
    }
    assert_eq!(got_pair, by_pair);
    assert!(
        got_pair.keys().any(|(a, b)| a == "SMETS2" || b == "SMETS2"),
        "the sample shares MPxNs with SMETS2"
    );

    // findings.csv: source, installation_id, finding, file, line, column, value (the
    // value may be quoted; the columns before it never are in the sample).
    let mut by_source: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for l in std::fs::read_to_string(out.join("findings.csv"))
        .unwrap()
        .lines()
        .skip(1)
    {
        let f: Vec<&str> = l.splitn(7, ',').collect();
        *by_source
            .entry((f[3].into(), f[5].into(), f[2].into()))
            .or_default() += 1;
    }
    let records = summary["findings_by_source"].as_array().unwrap();
    let got: BTreeMap<(String, String, String), u64> = records
        .iter()
        .map(|r| {
            assert_eq!(r.as_object().unwrap().len(), 4, "flat: {r}");
            (
                (
                    r["file"].as_str().unwrap().into(),
                    r["column"].as_str().unwrap().into(),
                    r["finding"].as_str().unwrap().into(),
                ),
                r["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, by_source);
    let keys: Vec<_> = got.keys().cloned().collect();
    let listed: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r["file"].as_str().unwrap().to_string(),
                r["column"].as_str().unwrap().to_string(),
                r["finding"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(listed, keys, "sorted by file, column, finding");
}
