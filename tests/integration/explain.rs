//! `mpxn-recon explain` (issue 13, item 2), on the bundled sample, whose installations
//! carry every finding code of SPEC §6.1: each installation's explanation names exactly
//! the findings and the outcome of the sample's expected `decisions.csv`, each finding
//! with the words, kind and clause of `explain --codes`, in text and in JSON; a shared
//! MPxN shows its members and the four checks with why; the window's arithmetic and the
//! §6.2 rule are spelled out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::util::*;

fn sample_index(dir: &TestDir) -> PathBuf {
    let index = dir.path().join("sample.mxi");
    let mut cmd = in_root(&[
        "index",
        "build",
        "--quiet",
        "--suppliers",
        "datasets/sample/suppliers.csv",
    ]);
    let mut names: Vec<PathBuf> = std::fs::read_dir(crate_root().join("datasets/sample/inventory"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for name in names {
        cmd.arg("--inventory").arg(name);
    }
    run_expect(cmd.arg("--out").arg(&index), 0);
    index
}

fn explain(index: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut cmd = bin();
    cmd.args(["explain", "--as-of", "2024-06-30", "--json", "--index"])
        .arg(index)
        .args(args);
    let o = run_expect(&mut cmd, 0);
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn text(index: &Path, args: &[&str]) -> String {
    let mut cmd = bin();
    cmd.args(["explain", "--as-of", "2024-06-30", "--index"])
        .arg(index)
        .args(args);
    String::from_utf8(run_expect(&mut cmd, 0).stdout).unwrap()
}

/// Every code of SPEC §6.1 (and the what-if's of §6.4), written out by hand.
const CODES: [&str; 20] = [
    "DUPLICATE_GUID",
    "INVALID_GUID",
    "MISSING_MPXN",
    "INVALID_MPAN",
    "INVALID_MPRN",
    "REPEATED_MPXN",
    "NO_METER",
    "UNKNOWN_SUPPLIER",
    "INVALID_DATE",
    "FUTURE_COMMS",
    "DUP_NOT_LAST_INSTALLED",
    "DUP_NO_SINGLE_LAST",
    "DUP_NOT_COMMUNICATING",
    "DUP_OTHER_COMMUNICATING",
    "DUP_RESOLVED",
    "DORMANT_SUPPLIER_CEASED",
    "DORMANT_SUPPLIER_NOT_LIVE",
    "ACTIVE_SUPPLIER_CEASED",
    "ACTIVE_SUPPLIER_NOT_LIVE",
    "DUP_ONLY_COMMUNICATING",
];

#[test]
fn every_finding_code_of_the_sample_is_explained_as_the_sweep_decides_it() {
    let dir = TestDir::new();
    let index = sample_index(&dir);
    // The words, kind and clause of every code.
    let o = run_expect(bin().args(["explain", "--codes", "--json"]), 0);
    let codes: BTreeMap<String, serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["code"].as_str().unwrap().to_string(), v)
        })
        .collect();
    let mut listed: Vec<&str> = codes.keys().map(String::as_str).collect();
    let mut expected = CODES.to_vec();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected, "explain --codes lists every code once");
    assert_eq!(codes["DUP_ONLY_COMMUNICATING"]["clause"], "alt-4.1C");
    assert_eq!(
        codes["ACTIVE_SUPPLIER_CEASED"]["clause"],
        serde_json::Value::Null
    );

    let decisions =
        std::fs::read_to_string(crate_root().join("datasets/sample/expected/decisions.csv"))
            .unwrap();
    let mut header: Vec<&str> = Vec::new();
    let mut explained_codes = std::collections::BTreeSet::new();
    for (n, line) in decisions.lines().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        if n == 0 {
            header = fields;
            continue;
        }
        let col = |name: &str| fields[header.iter().position(|h| *h == name).unwrap()];
        let (source, id) = (col("source"), col("installation_id"));
        let reasons: Vec<&str> = col("reasons")
            .split(';')
            .filter(|r| !r.is_empty())
            .collect();
        let clauses: Vec<&str> = col("clauses")
            .split(';')
            .filter(|r| !r.is_empty())
            .collect();
        // Only installations that add a code not yet seen: every code, once or more.
        if reasons.iter().all(|r| explained_codes.contains(*r)) && n > 1 {
            continue;
        }
        let e = &explain(&index, &[source, id])[0];
        let got: Vec<&str> = e["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        assert_eq!(
            got, reasons,
            "{source} {id}: findings = decisions.csv's reasons"
        );
        assert_eq!(e["decision"]["outcome"], col("outcome"), "{source} {id}");
        let got_clauses: Vec<&str> = e["decision"]["clauses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(got_clauses, clauses, "{source} {id}");
        let shown = text(&index, &[source, id]);
        for f in e["findings"].as_array().unwrap() {
            let code = f["code"].as_str().unwrap();
            assert_eq!(f["words"], codes[code]["words"], "{code}");
            assert_eq!(f["kind"], codes[code]["kind"], "{code}");
            let clause = codes[code]["clause"].as_str().unwrap_or("no clause");
            let line = format!(
                "    {code} ({}, {clause}): {}\n",
                f["kind"].as_str().unwrap(),
                f["words"].as_str().unwrap()
            );
            assert!(shown.contains(&line), "{source} {id}: {line:?} in\n{shown}");
            explained_codes.insert(code.to_string());
        }
        let rule = e["decision"]["rule"].as_u64().unwrap();
        let expected_rule = match col("outcome") {
            "exclude" if clauses == ["18.12"] => 1,
            "exclude" => 2,
            "review" => 3,
            "unblock" => 4,
            _ => 5,
        };
        assert_eq!(rule, expected_rule, "{source} {id}");
        assert!(
            shown.contains(&format!("by rule {rule} of SPEC 6.2")),
            "{shown}"
        );
    }
    let dcc: std::collections::BTreeSet<String> =
        CODES[..19].iter().map(|c| c.to_string()).collect();
    assert_eq!(explained_codes, dcc, "the sample carries every DCC code");
}

#[test]
fn a_shared_mpxn_shows_its_members_and_why_each_check_passes_or_fails() {
    let dir = TestDir::new();
    let index = sample_index(&dir);
    // 1364589770815: ALPHA's A08 (installed 2022-03-14, communicating) and BRAVO's
    // (2017-05-02, last comms 2023-11-02): both explained, by the MPAN.
    let both = explain(&index, &["1364 5897 70815"]);
    assert_eq!(both.len(), 2);
    let bravo = both.iter().find(|e| e["source"] == "SMSO-BRAVO").unwrap();
    assert_eq!(bravo["window"]["from"], "2024-05-31");
    assert_eq!(bravo["window"]["to"], "2024-06-30");
    assert_eq!(bravo["communication"]["status"], "no");
    assert_eq!(
        bravo["communication"]["why"],
        "its latest last_comms_at, 2023-11-02, is before [2024-05-31, 2024-06-30]"
    );
    let shared = &bravo["shared_mpxns"][0];
    assert_eq!(shared["mpxn"], "1364589770815");
    assert_eq!(shared["members"].as_array().unwrap().len(), 2);
    let checks: Vec<(String, bool, String)> = shared["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["finding"].as_str().unwrap().to_string(),
                c["fails"].as_bool().unwrap(),
                c["why"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        checks[0],
        (
            "DUP_NOT_LAST_INSTALLED".to_string(),
            true,
            "another member's install date 2022-03-14 (SMSO-ALPHA 00-0D-6F-00-00-A1-08-01) is later than its own, 2017-05-02".to_string()
        )
    );
    assert_eq!(checks[2].0, "DUP_NOT_COMMUNICATING");
    assert!(checks[2].1);
    assert_eq!(
        checks[3],
        (
            "DUP_OTHER_COMMUNICATING".to_string(),
            true,
            "another member (SMSO-ALPHA 00-0D-6F-00-00-A1-08-01) is communicating".to_string()
        )
    );
    assert_eq!(bravo["decision"]["rule"], 2);
    let alpha = both.iter().find(|e| e["source"] == "SMSO-ALPHA").unwrap();
    assert!(alpha["shared_mpxns"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["fails"] == false));
    assert_eq!(alpha["decision"]["outcome"], "unblock");

    // Source and id, case-insensitive source; a key nobody carries is refused.
    let by_id = explain(&index, &["smso-alpha", "00-0D-6F-00-00-A1-08-01"]);
    assert_eq!(by_id[0]["installation_id"], "00-0D-6F-00-00-A1-08-01");
    let mut cmd = bin();
    cmd.args(["explain", "--as-of", "2024-06-30", "--index"])
        .arg(&index)
        .args(["SMSO-ALPHA", "NO-SUCH-ID"]);
    let o = run_expect(&mut cmd, 2);
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("no installation with that source and installation_id"));
    // --help points to --codes.
    let o = run_expect(bin().args(["explain", "--help"]), 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("--codes"));
}

#[test]
fn lookup_and_explain_tell_never_communicated_from_a_date_unreadable() {
    let dir = TestDir::new();
    let inv = dir.write(
        "inv.csv",
        "source,group_id,installation_id,device_id,device_type,mpxn,installed_on,last_comms_at,supplier_id,dormant\n\
         SMSO-A,AA,NEVER,00-1B-C5-09-00-00-00-01,ESME,1300000000007,2020-01-01,,S1,N\n\
         SMSO-A,AA,GARBLED,00-1B-C5-09-00-00-00-02,ESME,1399999999994,2020-13-01,yesterday,S1,N\n",
    );
    let reg = dir.write(
        "reg.csv",
        "supplier_id,party_id,name,status\nS1,P1,One,live\n",
    );
    let index = dir.path().join("i.mxi");
    let mut cmd = bin();
    cmd.args(["index", "build", "--quiet", "--inventory"])
        .arg(&inv)
        .arg("--suppliers")
        .arg(&reg)
        .arg("--out")
        .arg(&index);
    run_expect(&mut cmd, 0);
    let lookup = |key: &str, json: bool| {
        let mut cmd = bin();
        cmd.args(["lookup", "--as-of", "2024-06-30", "--index"])
            .arg(&index)
            .arg(key);
        if json {
            cmd.arg("--json");
        }
        String::from_utf8(run_expect(&mut cmd, 0).stdout).unwrap()
    };
    let never = lookup("1300000000007", false);
    assert!(never.contains("communicating: no (last never)"), "{never}");
    assert!(
        never.contains("installed 2020-01-01  last never"),
        "{never}"
    );
    let garbled = lookup("1399999999994", false);
    assert!(
        garbled.contains("communicating: unknown (last unreadable)"),
        "{garbled}"
    );
    assert!(
        garbled.contains("installed unreadable  last unreadable"),
        "{garbled}"
    );
    let json: serde_json::Value =
        serde_json::from_str(lookup("1399999999994", true).trim()).unwrap();
    let inst = &json["installation"];
    assert_eq!(inst["last_comms_at"], serde_json::Value::Null);
    assert_eq!(inst["last_comms_at_unreadable"], true);
    assert_eq!(inst["devices"][0]["installed_on_unreadable"], true);
    let json: serde_json::Value =
        serde_json::from_str(lookup("1300000000007", true).trim()).unwrap();
    assert_eq!(json["installation"]["last_comms_at_unreadable"], false);
    assert_eq!(
        json["installation"]["devices"][0]["last_comms_at_unreadable"],
        false
    );
    // explain says the same in words.
    let e = &explain(&index, &["SMSO-A", "GARBLED"])[0];
    assert!(
        e["communication"]["why"]
            .as_str()
            .unwrap()
            .starts_with("a device's last_comms_at does not parse"),
        "{e}"
    );
    let e = &explain(&index, &["SMSO-A", "NEVER"])[0];
    assert_eq!(
        e["communication"]["why"],
        "it has never communicated (no last_comms_at on any device)"
    );
}

#[test]
fn explain_shows_the_values_findings_csv_lists_for_each_installation() {
    let dir = TestDir::new();
    let index = sample_index(&dir);
    let out = dir.path().join("out");
    let mut cmd = bin();
    cmd.args(["sweep", "--as-of", "2024-06-30", "--index"])
        .arg(&index)
        .arg("--out")
        .arg(&out);
    run_expect(&mut cmd, 0);
    let findings = std::fs::read_to_string(out.join("findings.csv")).unwrap();
    // (source, id) → its rows after the first two fields, as findings.csv writes them.
    let mut rows: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for line in findings.lines().skip(1) {
        let mut f = line.splitn(3, ',');
        let (s, i, rest) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        rows.entry((s.into(), i.into()))
            .or_default()
            .push(rest.to_string());
    }
    assert!(rows.len() > 10, "the sample has data issues: {findings}");
    for ((source, id), expected) in &rows {
        let e = &explain(&index, &[source, id])[0];
        let got: Vec<String> = e["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let value = v["value"].as_str().unwrap();
                // findings.csv quotes a value holding a comma or a quote.
                let value = if value.contains([',', '"']) {
                    format!("\"{}\"", value.replace('"', "\"\""))
                } else {
                    value.to_string()
                };
                format!(
                    "{},{},{},{},{value}",
                    v["finding"].as_str().unwrap(),
                    v["file"].as_str().unwrap(),
                    v["line"],
                    v["column"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(&got, expected, "{source} {id}");
    }
}

#[test]
fn lookup_shows_the_same_values_as_explain() {
    let dir = TestDir::new();
    let index = sample_index(&dir);
    // SMSO-BRAVO's B2-07: INVALID_DATE on two rows (a timestamp, 2023-02-30).
    let mut cmd = bin();
    cmd.args(["lookup", "--as-of", "2024-06-30", "--json", "--index"])
        .arg(&index)
        .arg("2224517832408");
    let o = run_expect(&mut cmd, 0);
    let hit: serde_json::Value =
        serde_json::from_str(String::from_utf8(o.stdout).unwrap().trim()).unwrap();
    let e = &explain(&index, &["SMSO-BRAVO", "00-0D-6F-00-00-B2-07-01"])[0];
    assert_eq!(hit["installation"]["values"], e["values"]);
    let values = e["values"].as_array().unwrap();
    assert_eq!(values.len(), 2, "{values:?}");
    assert_eq!(values[0]["value"], "2024-06-15 10:00:00");
    assert_eq!(values[1]["value"], "2023-02-30");
    let mut cmd = bin();
    cmd.args(["lookup", "--as-of", "2024-06-30", "--index"])
        .arg(&index)
        .arg("2224517832408");
    let text = String::from_utf8(run_expect(&mut cmd, 0).stdout).unwrap();
    assert!(
        text.contains("value: INVALID_DATE ")
            && text.contains("column Installed_On: \"2023-02-30\""),
        "{text}"
    );
}
