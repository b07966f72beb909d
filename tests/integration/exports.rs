//! `sweep --format csv|parquet|jsonl` (issue 14, item 3): for the bundled sample, every
//! Parquet and JSON Lines file holds the CSV's rows in the CSV's order, with the types
//! ARCHITECTURE.md's readings give (dates DATE, line numbers integers, yes/no/unknown
//! text, empty optional fields NULL); the default stays CSV alone, byte for byte; CSV and
//! index sweeps write the same export bytes; an earlier run's files in formats this run
//! does not write are removed, and a failed run leaves the previous set whole. Parquet is
//! read back by DuckDB (skipped, saying so, when python3 has no duckdb package); JSON
//! Lines by serde_json. The expected values are parsed from the CSV here, independently
//! of the engine's converter.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::*;

/// (table, its columns with their kinds): `t` text, `o` optional text, `d` date, `i`
/// integer. Written out here from the readings, not taken from the engine.
const TABLES: [(&str, &[(&str, char)]); 5] = [
    (
        "decisions",
        &[
            ("source", 't'),
            ("installation_id", 't'),
            ("group_id", 'o'),
            ("outcome", 't'),
            ("clauses", 'o'),
            ("reasons", 'o'),
            ("mpxns", 'o'),
        ],
    ),
    (
        "duplicates",
        &[
            ("mpxn", 't'),
            ("kind", 't'),
            ("source", 't'),
            ("installation_id", 't'),
            ("installed_on", 'd'),
            ("last_comms_at", 'd'),
            ("communicating", 't'),
            ("last_installed", 't'),
            ("party_id", 'o'),
        ],
    ),
    (
        "rejects",
        &[("file", 't'), ("line", 'i'), ("reason", 't'), ("raw", 't')],
    ),
    (
        "findings",
        &[
            ("source", 't'),
            ("installation_id", 't'),
            ("finding", 't'),
            ("file", 't'),
            ("line", 'i'),
            ("column", 't'),
            ("value", 't'),
        ],
    ),
    (
        "whatif",
        &[
            ("source", 't'),
            ("installation_id", 't'),
            ("group_id", 'o'),
            ("outcome", 't'),
            ("whatif_outcome", 't'),
            ("whatif_clauses", 'o'),
            ("whatif_reasons", 'o'),
            ("held_back_by", 'o'),
            ("mpxns", 'o'),
        ],
    ),
];

const ALL: [&str; 4] = ["--format", "csv,parquet", "--format", "jsonl"];
const POLICY: [&str; 2] = ["--what-if", "only-communicating"];

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {path:?}: {e}"))
}

/// A sweep of the bundled sample into `out` with `args`.
fn sweep_sample(out: &Path, args: &[&str]) {
    let mut cmd = in_root(&["sweep", "--quiet", "--out"]);
    cmd.arg(out).args(args);
    run_expect(&mut cmd, 0);
}

/// One CSV line's fields (RFC 4180 within the line, as SPEC's Appendix says we write).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') if fields.last().unwrap().is_empty() => quoted = true,
            (false, ',') => fields.push(String::new()),
            (_, c) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// The CSV's rows as the JSON values the readings give each field.
fn expected_rows(csv: &str, columns: &[(&str, char)]) -> Vec<Vec<Value>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = columns.iter().map(|c| c.0).collect();
    assert_eq!(lines.next().unwrap(), header.join(","));
    lines
        .map(|l| {
            let f = csv_fields(l);
            assert_eq!(f.len(), columns.len(), "{l}");
            f.into_iter()
                .zip(columns)
                .map(|(v, (_, kind))| match kind {
                    'o' | 'd' if v.is_empty() => Value::Null,
                    'i' => Value::from(v.parse::<u64>().expect("a line number")),
                    _ => Value::from(v),
                })
                .collect()
        })
        .collect()
}

fn has_duckdb() -> bool {
    Command::new("python3")
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success())
}

/// `path` read by DuckDB: its column types, and its rows as JSON (dates as
/// `YYYY-MM-DD`).
fn duckdb_read(path: &Path) -> (Vec<(String, String)>, Vec<Vec<Value>>) {
    let script = format!(
        "import duckdb, json\n\
         rel = duckdb.sql(\"select * from read_parquet('{p}')\")\n\
         print(json.dumps([[n, str(t)] for n, t in zip(rel.columns, rel.types)]))\n\
         print(json.dumps([list(r) for r in rel.fetchall()], default=str))\n",
        p = path.display()
    );
    let o = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    let types: Vec<(String, String)> = serde_json::from_str(lines.next().unwrap()).unwrap();
    let rows: Vec<Vec<Value>> = serde_json::from_str(lines.next().unwrap()).unwrap();
    (types, rows)
}

#[test]
fn the_samples_parquet_and_jsonl_hold_its_csv_rows_with_typed_columns() {
    let dir = TestDir::new();
    let out = dir.path().join("out");
    sweep_sample(&out, &[&ALL[..], &POLICY[..]].concat());
    let duckdb = has_duckdb();
    if !duckdb {
        eprintln!("skipped the Parquet read: python3 has no duckdb package (pip install duckdb)");
    }
    for (table, columns) in TABLES {
        let csv = String::from_utf8(read(&out.join(format!("{table}.csv")))).unwrap();
        let expected = expected_rows(&csv, columns);
        assert!(!expected.is_empty(), "the sample has {table} rows");

        // JSON Lines: one object per row, keys the header's names in its order.
        let jsonl = String::from_utf8(read(&out.join(format!("{table}.jsonl")))).unwrap();
        assert!(jsonl.ends_with('\n'));
        let got: Vec<Vec<Value>> = jsonl
            .lines()
            .map(|l| {
                let mut keys = Vec::new();
                let mut at = 0;
                // The keys' order, from the text (a parsed map would sort them).
                for (name, _) in columns {
                    let key = format!("\"{name}\":");
                    let i = l[at..]
                        .find(&key)
                        .unwrap_or_else(|| panic!("{name} in {l}"));
                    at += i + key.len();
                    keys.push(*name);
                }
                let v: serde_json::Map<String, Value> = serde_json::from_str(l).unwrap();
                assert_eq!(v.len(), columns.len(), "{l}");
                keys.iter().map(|k| v[*k].clone()).collect()
            })
            .collect();
        assert_eq!(got, expected, "{table}.jsonl");

        if !duckdb {
            continue;
        }
        let (types, rows) = duckdb_read(&out.join(format!("{table}.parquet")));
        let want: Vec<(String, String)> = columns
            .iter()
            .map(|(n, k)| {
                let t = match k {
                    'd' => "DATE",
                    'i' => "BIGINT",
                    _ => "VARCHAR",
                };
                (n.to_string(), t.to_string())
            })
            .collect();
        assert_eq!(types, want, "{table}.parquet column types");
        assert_eq!(rows, expected, "{table}.parquet rows");
    }
    // yes/no/unknown stay text for a reader that infers types from the values too.
    if duckdb {
        let p = out.join("duplicates.parquet");
        let script = format!(
            "import duckdb\n\
             print(duckdb.sql(\"select distinct communicating, last_installed from \
             read_parquet('{}') order by all\").fetchall()[0])",
            p.display()
        );
        let o = Command::new("python3")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "('no', 'no')");
    }

    // summary.json lists every file with its size and CRC-32C.
    let summary: Value = serde_json::from_slice(&read(&out.join("summary.json"))).unwrap();
    let mut listed = Vec::new();
    for (table, _) in TABLES {
        for ext in ["csv", "parquet", "jsonl"] {
            let name = format!("{table}.{ext}");
            let digest = if table == "whatif" {
                &summary["what_if"]["outputs"][&name]
            } else {
                &summary["outputs"][&name]
            };
            let bytes = read(&out.join(&name));
            assert_eq!(digest["bytes"], bytes.len() as u64, "{name}");
            assert_eq!(
                digest["crc32c"],
                format!("{:08x}", crc32c::crc32c(&bytes)),
                "{name}"
            );
            listed.push(name);
        }
    }
    assert_eq!(summary["outputs"].as_object().unwrap().len(), 12);
    assert_eq!(summary["what_if"]["outputs"].as_object().unwrap().len(), 3);
}

#[test]
fn the_default_is_csv_alone_and_the_same_bytes_as_before() {
    let dir = TestDir::new();
    let (plain, csv) = (dir.path().join("plain"), dir.path().join("csv"));
    sweep_sample(&plain, &[]);
    sweep_sample(&csv, &["--format", "csv"]);
    let names = [
        "decisions.csv",
        "duplicates.csv",
        "findings.csv",
        "rejects.csv",
        "summary.json",
    ];
    for out in [&plain, &csv] {
        let mut files: Vec<String> = std::fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files, names);
        for name in &names[..4] {
            let expected = read(&crate_root().join("datasets/sample/expected").join(name));
            assert_eq!(read(&out.join(name)), expected, "{name}");
        }
    }
    assert_eq!(
        read(&plain.join("summary.json")),
        read(&csv.join("summary.json"))
    );
    let summary: Value = serde_json::from_slice(&read(&plain.join("summary.json"))).unwrap();
    let keys: Vec<&String> = summary["outputs"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "decisions.csv",
            "duplicates.csv",
            "findings.csv",
            "rejects.csv"
        ]
    );
}

#[test]
fn format_is_repeatable_and_only_the_formats_named_are_written() {
    let dir = TestDir::new();
    let out = dir.path().join("out");
    let files = |out: &Path| -> Vec<String> {
        let mut f: Vec<String> = std::fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        f.sort();
        f
    };
    let names = |exts: &[&str]| -> Vec<String> {
        let mut n: Vec<String> = ["decisions", "duplicates", "findings", "rejects"]
            .iter()
            .flat_map(|t| exts.iter().map(move |e| format!("{t}.{e}")))
            .chain(["summary.json".to_string()])
            .collect();
        n.sort();
        n
    };
    sweep_sample(&out, &["--format", "parquet", "--format", "jsonl"]);
    assert_eq!(files(&out), names(&["parquet", "jsonl"]));
    let summary: Value = serde_json::from_slice(&read(&out.join("summary.json"))).unwrap();
    assert!(summary["outputs"].get("decisions.csv").is_none());
    assert!(summary["outputs"].get("decisions.parquet").is_some());

    // diff reads decisions.csv, and says what to do when a folder has only exports.
    let mut cmd = in_root(&["diff"]);
    cmd.arg(&out).arg(&out);
    let o = run_expect(&mut cmd, 2);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("no decisions.csv") && stderr.contains("--format csv"),
        "{stderr}"
    );

    // CSV alone again: the exports are an earlier run's, removed, and said.
    let mut cmd = in_root(&["sweep", "--quiet", "--out"]);
    cmd.arg(&out);
    let o = run_expect(&mut cmd, 0);
    assert_eq!(files(&out), names(&["csv"]));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("decisions.parquet, an earlier run's output in a format"),
        "{stderr}"
    );

    // A what-if's exports go with the what-if: a sweep without it removes them all.
    sweep_sample(&out, &[&ALL[..], &POLICY[..]].concat());
    assert!(out.join("whatif.parquet").exists() && out.join("whatif.jsonl").exists());
    sweep_sample(&out, &ALL);
    assert_eq!(files(&out), names(&["csv", "parquet", "jsonl"]));

    // An unknown format is refused before any work.
    let mut cmd = in_root(&["sweep", "--format", "xlsx", "--out"]);
    cmd.arg(dir.path().join("never"));
    run_expect(&mut cmd, 2);
    assert!(!dir.path().join("never").exists());
}

#[test]
fn csv_and_index_sweeps_write_the_same_export_bytes() {
    let dir = TestDir::new();
    let (csv, idx) = (dir.path().join("csv"), dir.path().join("idx"));
    let args = [&ALL[..], &POLICY[..], &["--as-of", "2024-06-30"]].concat();
    sweep_sample(&csv, &args);
    let index = dir.path().join("sample.mxi");
    build_sample_index(&index);
    let mut cmd = in_root(&["sweep", "--quiet", "--index"]);
    cmd.arg(&index).arg("--out").arg(&idx).args(&args);
    run_expect(&mut cmd, 0);
    for (table, _) in TABLES {
        for ext in ["csv", "parquet", "jsonl"] {
            let name = format!("{table}.{ext}");
            assert!(
                read(&csv.join(&name)) == read(&idx.join(&name)),
                "{name}: CSV sweep and index sweep differ"
            );
        }
    }
    assert_eq!(
        read(&csv.join("summary.json")),
        read(&idx.join("summary.json"))
    );
}

#[test]
fn a_failed_run_leaves_the_previous_exports_whole() {
    let dir = TestDir::new();
    let inventory = Inventory::of(Inst::a("A1").with_esme(&mpan(1))).bytes();
    dir.write("inventory.csv", &inventory);
    dir.write("suppliers.csv", REGISTRY);
    let sweep = |inventory: &str, extra: &[&str]| {
        let mut cmd = dir.sweep_cmd();
        cmd.args(["--inventory", inventory, "--suppliers", "suppliers.csv"])
            .args(["--as-of", AS_OF, "--out", "out", "--quiet"])
            .args(extra);
        cmd
    };
    run_expect(&mut sweep("inventory.csv", &ALL), 0);
    let before: Vec<(String, Vec<u8>)> = dir
        .out_files()
        .into_iter()
        .map(|n| {
            let bytes = read(&dir.out().join(&n));
            (n, bytes)
        })
        .collect();
    assert_eq!(before.len(), 13);

    // A refused run (a header without `mpxn`) that would retire the exports publishes
    // nothing and removes nothing.
    dir.write("broken.csv", "source,installation_id\nSMSO-A,X\n");
    run_expect(&mut sweep("broken.csv", &["--format", "csv"]), 2);
    let after: Vec<(String, Vec<u8>)> = dir
        .out_files()
        .into_iter()
        .map(|n| {
            let bytes = read(&dir.out().join(&n));
            (n, bytes)
        })
        .collect();
    assert!(after == before, "the earlier set changed");

    // An input named like an export is refused, not replaced nor removed.
    let input = dir.write("out/decisions.jsonl", &inventory);
    let o = run_expect(&mut sweep("out/decisions.jsonl", &["--format", "jsonl"]), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("would be overwritten"));
    let o = run_expect(&mut sweep("out/decisions.jsonl", &[]), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("would be removed by this run"));
    assert_eq!(read(&input), inventory);
}

#[test]
fn a_full_disk_names_the_export_and_leaves_the_previous_set_whole() {
    let dir = TestDir::new();
    let Some(fs) = crate::hostile::Tmpfs::mount(&dir, "1850k") else {
        return;
    };
    let out = fs.path.join("out");
    dir.write("suppliers.csv", REGISTRY);
    dir.write(
        "small.csv",
        Inventory::of(Inst::a("A1").with_esme(&mpan(1))).bytes(),
    );
    // Decisions whose JSON Lines (about 2.4 times the CSV) do not fit.
    let mut big = Inventory::new();
    for n in 0..12_000 {
        big.extend(Inst::a(&format!("I{n:0>60}")).with_esme(&mpan(n)));
    }
    dir.write("big.csv", big.bytes());
    let sweep = |file: &str| {
        let mut cmd = dir.sweep_cmd();
        cmd.args(["--inventory", file, "--suppliers", "suppliers.csv"])
            .args([
                "--as-of",
                AS_OF,
                "--quiet",
                "--format",
                "parquet,jsonl",
                "--out",
            ])
            .arg(&out);
        cmd
    };
    run_expect(&mut sweep("small.csv"), 0);
    let listing = |out: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(out)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    read(&e.path()),
                )
            })
            .collect();
        files.sort();
        files
    };
    let before = listing(&out);
    let o = run_expect(&mut sweep("big.csv"), 1);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("No space left"), "{stderr}");
    // The file named is the one that did not fit: an export, not a CSV.
    assert!(
        stderr.contains("decisions.jsonl: cannot write")
            || stderr.contains("decisions.parquet: cannot write"),
        "{stderr}"
    );
    assert!(
        listing(&out) == before,
        "the previous set is exactly as it was"
    );
}
