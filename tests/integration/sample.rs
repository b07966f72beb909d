//! The bundled sample (datasets/sample/) against its hand-derived expected outputs,
//! and the invariants of SPEC §6.3: file order, row order and thread count change no
//! byte of the output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{
    assert_same_text, bin, mpan, mprn, parse_decisions, run_expect, summary_rows, Decision, Inst,
    TestDir, HEADER, REGISTRY,
};

const OUTPUTS: [&str; 5] = [
    "decisions.csv",
    "duplicates.csv",
    "findings.csv",
    "rejects.csv",
    "summary.json",
];

fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sample_dir() -> PathBuf {
    crate_root().join("datasets/sample")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path:?}: {e}"))
}

/// The sample's inventory files as the engine's default run names them: relative to
/// the crate root, sorted.
fn inventory_paths() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sample_dir().join("inventory"))
        .expect("list datasets/sample/inventory")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| format!("datasets/sample/inventory/{n}"))
        .collect()
}

/// `mpxn-recon sweep` run from the crate root, writing into `out`.
fn sweep_in_root(out: &Path) -> Command {
    let mut cmd = bin();
    cmd.current_dir(crate_root())
        .arg("sweep")
        .arg("--out")
        .arg(out);
    cmd
}

/// The sample named explicitly, inventories in the given order.
fn explicit_sweep(out: &Path, inventories: &[String]) -> Command {
    let mut cmd = sweep_in_root(out);
    for inv in inventories {
        cmd.arg("--inventory").arg(inv);
    }
    let as_of = read(&sample_dir().join("AS_OF"));
    cmd.args([
        "--suppliers",
        "datasets/sample/suppliers.csv",
        "--as-of",
        as_of.trim(),
    ]);
    cmd
}

/// Parses `rows_read=161 accepted=149 rejected=8 duplicate_rows=4`.
fn expected_accounting() -> BTreeMap<String, u64> {
    read(&sample_dir().join("expected/accounting.txt"))
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.to_string(), v.parse().expect("a count"))
        })
        .collect()
}

#[test]
fn default_sweep_matches_the_expected_sample_outputs() {
    let dir = TestDir::new();
    run_expect(&mut sweep_in_root(&dir.out()), 0);
    for name in [
        "decisions.csv",
        "rejects.csv",
        "duplicates.csv",
        "findings.csv",
    ] {
        let expected = read(&sample_dir().join("expected").join(name));
        assert_same_text(name, &expected, &dir.read_out(name));
    }

    let summary: serde_json::Value =
        serde_json::from_str(&dir.read_out("summary.json")).expect("summary.json parses");
    let rows = summary_rows(&summary);
    let expected = expected_accounting();
    assert_eq!(
        (rows.read, rows.accepted, rows.rejected, rows.duplicate_rows),
        (
            expected["rows_read"],
            expected["accepted"],
            expected["rejected"],
            expected["duplicate_rows"]
        ),
        "summary.json rows vs expected/accounting.txt"
    );
    assert_eq!(summary["as_of"], "2024-06-30");
    assert_eq!(summary["window_days"], 30);
    for key in ["outcomes", "reasons", "by_group_id", "by_source"] {
        assert!(
            summary[key].is_object(),
            "summary.json has {key}: {summary}"
        );
    }
    assert_eq!(
        summary["inventories"].as_array().map(Vec::len),
        Some(inventory_paths().len())
    );
    assert!(summary["suppliers"].is_object() || summary["suppliers"].is_string());

    // summary.json's counts agree with decisions.csv.
    let decisions = parse_decisions(&dir.read_out("decisions.csv"));
    let mut outcomes: BTreeMap<&str, u64> = BTreeMap::new();
    for d in &decisions {
        *outcomes.entry(d.outcome.as_str()).or_default() += 1;
    }
    for (outcome, count) in &outcomes {
        assert_eq!(
            summary["outcomes"][outcome].as_u64(),
            Some(*count),
            "{outcome}"
        );
    }
}

#[test]
fn sample_satisfies_the_section_6_3_invariants() {
    let dir = TestDir::new();
    run_expect(&mut sweep_in_root(&dir.out()), 0);
    let decisions = parse_decisions(&dir.read_out("decisions.csv"));
    // Every SMETS1 installation exactly once; no SMETS2 installation.
    let mut seen = std::collections::BTreeSet::new();
    for d in &decisions {
        assert!(
            seen.insert((d.source.clone(), d.installation_id.clone())),
            "{d:?}"
        );
        assert_ne!(d.source, "SMETS2");
    }
    assert!(assert_no_mpxn_resolved_twice(&decisions) > 0);
}

/// SPEC §6.3: no MPxN is carried by two installations that are both unblocked for
/// DUP_RESOLVED. Returns how many MPxNs such installations carry.
fn assert_no_mpxn_resolved_twice(decisions: &[Decision]) -> usize {
    let mut resolved_carriers: BTreeMap<&str, &str> = BTreeMap::new();
    for d in decisions {
        if d.outcome == "unblock" && d.reasons.split(';').any(|r| r == "DUP_RESOLVED") {
            for m in d.mpxns.split(';').filter(|m| !m.is_empty()) {
                if let Some(other) = resolved_carriers.insert(m, &d.installation_id) {
                    panic!("{m} unblocked twice: {other} and {}", d.installation_id);
                }
            }
        }
    }
    resolved_carriers.len()
}

#[test]
fn inventory_files_in_reverse_order_give_the_same_outputs() {
    let dir = TestDir::new();
    let mut paths = inventory_paths();
    paths.reverse();
    run_expect(&mut explicit_sweep(&dir.out(), &paths), 0);
    for name in [
        "decisions.csv",
        "duplicates.csv",
        "rejects.csv",
        "findings.csv",
    ] {
        let expected = read(&sample_dir().join("expected").join(name));
        assert_same_text(name, &expected, &dir.read_out(name));
    }
}

#[test]
fn thread_count_changes_no_byte() {
    let one = TestDir::new();
    let two = TestDir::new();
    run_expect(sweep_in_root(&one.out()).env("RAYON_NUM_THREADS", "1"), 0);
    run_expect(sweep_in_root(&two.out()).env("RAYON_NUM_THREADS", "2"), 0);
    for name in OUTPUTS {
        assert_same_text(
            &format!("{name} (1 thread vs 2)"),
            &one.read_out(name),
            &two.read_out(name),
        );
    }
}

/// `bytes` with the order of its data lines reversed: the header (BOM included)
/// stays first, each line keeps its own CR, and every line ends in LF.
fn reverse_data_lines(bytes: &[u8]) -> Vec<u8> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let mut lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    let header = lines.remove(0);
    lines.reverse();
    let mut out = header.to_vec();
    out.push(b'\n');
    for line in lines {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

#[test]
fn row_order_changes_no_decision_or_duplicate() {
    let dir = TestDir::new();
    let mut reversed = vec![];
    for path in inventory_paths() {
        let bytes = std::fs::read(crate_root().join(&path)).expect("read sample inventory");
        let name = Path::new(&path).file_name().unwrap().to_string_lossy();
        let copy = dir.write(&format!("reversed/{name}"), reverse_data_lines(&bytes));
        reversed.push(copy.to_string_lossy().into_owned());
    }
    run_expect(&mut explicit_sweep(&dir.out(), &reversed), 0);
    for name in ["decisions.csv", "duplicates.csv"] {
        let expected = read(&sample_dir().join("expected").join(name));
        assert_same_text(name, &expected, &dir.read_out(name));
    }
    // The same rows are rejected, now on other lines.
    let rejects = dir.read_out("rejects.csv");
    assert_eq!(
        rejects.lines().count(),
        read(&sample_dir().join("expected/rejects.csv"))
            .lines()
            .count()
    );
}

/// A generated inventory of about 7 MB (more than one 4 MiB parse chunk): 30 000
/// installations over three SMSOs and SMETS2, many sharing MPxNs, with odd dates,
/// unknown suppliers, dormant meters and a few rejected rows, from a fixed seed.
fn generated_inventory() -> Vec<String> {
    let mut state: u64 = 0x5EED_1234_ABCD_0001;
    let mut next = move |bound: u64| {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % bound
    };
    let sources = ["SMSO-A", "SMSO-B", "smso-c", "SMETS2"];
    let suppliers = ["LIVE1", "LIVE2", "GONE", "NOTLIVE", "NOBODY", ""];
    let comms = [
        "2024-06-20",
        "2023-01-10",
        "",
        "2024-07-05",
        "2024-05-31",
        "bad",
    ];
    let mut lines = vec![];
    for n in 0..30_000u64 {
        let inst = Inst::new(sources[next(4) as usize], &format!("INST-{n:06}"))
            .group(["AA", "ba", "", "CB"][next(4) as usize])
            .installed(&format!(
                "20{:02}-0{}-1{}",
                15 + next(9),
                1 + next(9),
                next(10)
            ))
            .comms(comms[next(6) as usize])
            .supplier(suppliers[next(6) as usize])
            .dormant(["Y", "N", "true", ""][next(4) as usize]);
        let shared = (next(9_000) + 1) as u32;
        let mut devices = vec![inst.chf()];
        match next(5) {
            0 => devices.push(inst.esme(&mpan(shared))),
            1 => devices.push(inst.gsme(&mprn(shared))),
            2 => {
                devices.push(inst.esme(&mpan(shared)));
                devices.push(inst.gsme(&mprn(shared + 1)));
            }
            3 => devices.push(inst.device("IHD")),
            _ => devices.push(inst.esme(&mpan(shared)).installed("2021-02-29")),
        }
        for d in devices {
            lines.push(d.line());
        }
        if next(1_000) == 0 {
            lines.push(format!("SMSO-A,AA,INST-{n:06},short"));
        }
        if next(500) == 0 {
            let again = lines.last().unwrap().clone();
            lines.push(again);
        }
    }
    lines
}

fn write_inventory(dir: &TestDir, lines: &[String]) {
    let mut text = format!("{HEADER}\n");
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    assert!(text.len() > 5 << 20, "{} bytes", text.len());
    dir.write("inventory.csv", text);
    dir.write("suppliers.csv", REGISTRY);
}

fn generated_sweep(dir: &TestDir, threads: &str) {
    let mut cmd = dir.sweep_cmd();
    cmd.args([
        "--inventory",
        "inventory.csv",
        "--suppliers",
        "suppliers.csv",
        "--as-of",
        "2024-06-30",
        "--out",
        "out",
    ])
    .env("RAYON_NUM_THREADS", threads);
    run_expect(&mut cmd, 0);
}

#[test]
fn thread_count_and_row_order_change_no_byte_on_a_larger_input() {
    let lines = generated_inventory();
    let dirs: Vec<TestDir> = (0..4).map(|_| TestDir::new()).collect();
    for (dir, threads) in dirs.iter().zip(["1", "2", "4"]) {
        write_inventory(dir, &lines);
        generated_sweep(dir, threads);
    }
    for name in OUTPUTS {
        let one = dirs[0].read_out(name);
        for (other, threads) in dirs[1..3].iter().zip(["2", "4"]) {
            assert_same_text(
                &format!("{name} (1 thread vs {threads})"),
                &one,
                &other.read_out(name),
            );
        }
    }
    let summary: serde_json::Value =
        serde_json::from_str(&dirs[0].read_out("summary.json")).unwrap();
    let rows = summary_rows(&summary);
    assert!(rows.rejected > 0 && rows.duplicate_rows > 0, "{rows:?}");
    let decisions = parse_decisions(&dirs[0].read_out("decisions.csv"));
    for outcome in ["unblock", "exclude", "review", "clear"] {
        assert!(
            decisions.iter().any(|d| d.outcome == outcome),
            "the generated input yields some {outcome}"
        );
    }
    assert!(assert_no_mpxn_resolved_twice(&decisions) > 0);

    // The same rows in reverse order: the same decisions and duplicates.
    let mut reversed = lines.clone();
    reversed.reverse();
    write_inventory(&dirs[3], &reversed);
    generated_sweep(&dirs[3], "2");
    for name in ["decisions.csv", "duplicates.csv"] {
        assert_same_text(
            &format!("{name} (rows reversed)"),
            &dirs[0].read_out(name),
            &dirs[3].read_out(name),
        );
    }
}

#[test]
fn the_console_says_where_the_as_of_date_came_from() {
    let dir = TestDir::new();
    let out = dir.path().join("out");
    let o = run_expect(&mut sweep_in_root(&out), 0);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("as of 2024-06-30 (the bundled sample's as-of date)"),
        "{stdout}"
    );
    // A date given on the command line is not the sample's, even for the sample.
    let mut cmd = sweep_in_root(&out);
    cmd.args(["--as-of", "2025-01-01"]);
    let o = run_expect(&mut cmd, 0);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("as of 2025-01-01, window 30 days"),
        "{stdout}"
    );
    assert!(!stdout.contains("bundled sample's as-of date"), "{stdout}");
}
