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
