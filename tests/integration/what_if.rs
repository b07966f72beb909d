//! `sweep --what-if only-communicating` (SPEC §6.4):
//!
//! - the sample's `whatif.csv` is `datasets/sample/expected/whatif.csv` (derived by hand
//!   in its README), from CSV inventories, from a built index and from the golden index
//!   alike;
//! - with or without the option, decisions, duplicates, rejects and every existing
//!   summary key are the same bytes;
//! - the cases the sample lacks (an older installation that is the only one
//!   communicating; the policy sending one to review; both held-back codes; quoting)
//!   give hand-derived rows, from CSV and from an index;
//! - a sweep without the option removes an earlier run's `whatif.csv`, a failed one
//!   leaves the earlier set whole, and a bad policy name is refused before any work;
//! - crowded data: one thread and two, CSV and index, write the same bytes.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

const POLICY: [&str; 2] = ["--what-if", "only-communicating"];

const FILES: [&str; 6] = [
    "decisions.csv",
    "duplicates.csv",
    "findings.csv",
    "rejects.csv",
    "whatif.csv",
    "summary.json",
];

fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn expected(name: &str) -> String {
    let path = crate_root().join("datasets/sample/expected").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path:?}: {e}"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path:?}: {e}"))
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&read(&dir.join("summary.json"))).expect("summary.json parses")
}

/// `mpxn-recon` run from the crate root (the sample's paths are relative to it).
fn in_root(args: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.current_dir(crate_root()).args(args);
    cmd
}

/// Every file of `a` equals the same file of `b`, byte for byte.
#[track_caller]
fn assert_same_files(what: &str, a: &Path, b: &Path, names: &[&str]) {
    for name in names {
        assert_same_text(
            &format!("{name} ({what})"),
            &read(&a.join(name)),
            &read(&b.join(name)),
        );
    }
}

/// The golden index of the sample in the newest format (`tests/fixtures/sample-vN.mxi`
/// with the largest N): the one this build reads; older ones may be refused.
fn newest_fixture() -> PathBuf {
    std::fs::read_dir(crate_root().join("tests/fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            let version: u32 = name
                .strip_prefix("sample-v")?
                .strip_suffix(".mxi")?
                .parse()
                .ok()?;
            Some((version, p))
        })
        .max()
        .expect("a golden index of the sample in tests/fixtures")
        .1
}

#[test]
fn the_sample_writes_its_expected_whatif_csv_from_csv_and_from_the_index() {
    let dir = TestDir::new();
    let csv = dir.path().join("csv");
    // The sample's date, given (so summary.json's as_of_source is `given` on both paths).
    let mut cmd = in_root(&[
        "sweep",
        "--as-of",
        "2024-06-30",
        POLICY[0],
        POLICY[1],
        "--out",
    ]);
    run_expect(cmd.arg(&csv), 0);
    assert_same_text(
        "whatif.csv",
        &expected("whatif.csv"),
        &read(&csv.join("whatif.csv")),
    );
    for name in ["decisions.csv", "duplicates.csv", "rejects.csv"] {
        assert_same_text(name, &expected(name), &read(&csv.join(name)));
    }

    // From an index built now, and from the golden index of this build's format: the
    // same five files.
    let index = dir.path().join("sample.mxi");
    build_sample_index(&index);
    for (what, index) in [("built index", index), ("golden index", newest_fixture())] {
        let out = dir.path().join(what.replace(' ', "-"));
        let mut cmd = in_root(&["sweep", "--as-of", "2024-06-30", POLICY[0], POLICY[1]]);
        cmd.arg("--index").arg(&index).arg("--out").arg(&out);
        run_expect(&mut cmd, 0);
        assert_same_files(&format!("CSV sweep vs {what}"), &csv, &out, &FILES);
    }

    // The summary's what_if, as the sample's README derives it.
    let what_if = &summary(&csv)["what_if"];
    assert_eq!(
        what_if,
        &serde_json::json!({
            "policy": "only-communicating",
            "outcomes": {"unblock": 9, "exclude": 29, "review": 3, "clear": 7},
            "changed": 2,
            "changed_by_outcome": {"exclude->unblock": 2},
            "changed_by_held_back_by": {"DUP_NOT_LAST_INSTALLED": 0, "DUP_NO_SINGLE_LAST": 2},
            "outputs": {"whatif.csv": {
                "bytes": expected("whatif.csv").len(),
                "crc32c": format!("{:08x}", crc32c(expected("whatif.csv").as_bytes())),
            }},
        })
    );
}

#[test]
fn without_the_policy_nothing_changes_and_with_it_only_what_if_is_added() {
    let dir = TestDir::new();
    let plain = dir.path().join("plain");
    let with = dir.path().join("with");
    run_expect(in_root(&["sweep", "--out"]).arg(&plain), 0);
    run_expect(
        in_root(&["sweep", POLICY[0], POLICY[1], "--out"]).arg(&with),
        0,
    );
    assert!(
        !plain.join("whatif.csv").exists(),
        "no whatif.csv without --what-if"
    );
    assert_same_files(
        "without vs with --what-if",
        &plain,
        &with,
        &["decisions.csv", "duplicates.csv", "rejects.csv"],
    );
    let text = read(&plain.join("summary.json"));
    assert!(!text.contains("what_if"), "{text}");
    let mut with_summary = summary(&with);
    assert!(with_summary["what_if"].is_object());
    with_summary.as_object_mut().unwrap().remove("what_if");
    assert_eq!(summary(&plain), with_summary, "every other key is the same");
    // The top-level outputs still name the four files only.
    let outputs: Vec<&String> = with_summary["outputs"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        outputs,
        [
            "decisions.csv",
            "duplicates.csv",
            "findings.csv",
            "rejects.csv"
        ]
    );
}

/// Installations the sample lacks: an older installation that is the only one
/// communicating (the consultation's case), the policy sending one to review, an unblock
/// beside 4.1A, both held-back codes at once on an id that needs quoting, and cases
/// the policy leaves alone.
fn cases() -> Inventory {
    let later = "2022-01-01";
    let older = "2019-01-01";
    let mut inv = Inventory::new();
    // P1: installed before SMETS2 S1, but S1 is silent: unblocked under the policy.
    let p1 = Inst::a("P1").installed(older);
    let s1 = Inst::smets2("S1").installed(later).comms(STALE);
    inv.extend(p1.with_esme(&mpan(1)))
        .extend(s1.with_esme(&mpan(1)));
    // P2: the same, but its active meter's supplier has ceased trading: review.
    let p2 = Inst::a("P2").installed(older).supplier("GONE");
    let p3 = Inst::b("P3").installed(later).comms(STALE);
    inv.extend(p2.with_esme(&mpan(2)))
        .extend(p3.with_esme(&mpan(2)));
    // P4: the same with a dormant meter of a ceased supplier: 4.1A and alt-4.1C.
    let p4 = Inst::a("P4").installed(older).supplier("GONE").dormant("Y");
    let s4 = Inst::smets2("S4").installed(later).comms(STALE);
    inv.extend(p4.with_esme(&mpan(4)))
        .extend(s4.with_esme(&mpan(4)));
    // "P,5": beaten on its MPAN by S5, tied on its MPRN with P6; both silent.
    let p5 = Inst::a("\"P,5\"").installed(older);
    let s5 = Inst::smets2("S5").installed(later).comms(STALE);
    let p6 = Inst::b("P6").installed(older).comms(STALE);
    inv.add(p5.chf())
        .add(p5.esme(&mpan(5)))
        .add(p5.gsme(&mprn(5)));
    inv.extend(s5.with_esme(&mpan(5)))
        .extend(p6.with_gsme(&mprn(5)));
    // P7: older, and S7's status is unknown (a future date): still held back.
    let p7 = Inst::a("P7").installed(older);
    let s7 = Inst::smets2("S7").installed(later).comms("2024-07-05");
    inv.extend(p7.with_esme(&mpan(7)))
        .extend(s7.with_esme(&mpan(7)));
    // P8: DCC's 4.1C already; the policy's alt-4.1C is the same outcome.
    let p8 = Inst::a("P8").installed(later);
    let s8 = Inst::smets2("S8").installed(older).comms(STALE);
    inv.extend(p8.with_esme(&mpan(8)))
        .extend(s8.with_esme(&mpan(8)));
    // P9: shares nothing. P10: the only one communicating, but a data issue.
    inv.extend(Inst::a("P9").with_esme(&mpan(9)));
    let p10 = Inst::a("P10").installed(older);
    let s10 = Inst::smets2("S10").installed(later).comms(STALE);
    inv.extend(p10.with_esme(&mpan(10)))
        .add(p10.device("IHD").installed(""))
        .extend(s10.with_esme(&mpan(10)));
    inv
}

#[test]
fn the_policy_unblocks_the_older_only_communicating_installation_and_says_why() {
    let run = Sweep::new(&cases()).arg(POLICY[0]).arg(POLICY[1]).run();
    let header = "source,installation_id,group_id,outcome,whatif_outcome,whatif_clauses,\
                  whatif_reasons,held_back_by,mpxns";
    let expected = format!(
        "{header}\n\
         SMSO-A,\"P,5\",AA,exclude,unblock,alt-4.1C,DUP_ONLY_COMMUNICATING,DUP_NOT_LAST_INSTALLED;DUP_NO_SINGLE_LAST,{};{}\n\
         SMSO-A,P1,AA,exclude,unblock,alt-4.1C,DUP_ONLY_COMMUNICATING,DUP_NOT_LAST_INSTALLED,{}\n\
         SMSO-A,P2,AA,exclude,review,,ACTIVE_SUPPLIER_CEASED;DUP_ONLY_COMMUNICATING,DUP_NOT_LAST_INSTALLED,{}\n\
         SMSO-A,P4,AA,exclude,unblock,4.1A;alt-4.1C,DORMANT_SUPPLIER_CEASED;DUP_ONLY_COMMUNICATING,DUP_NOT_LAST_INSTALLED,{}\n",
        mpan(5),
        mprn(5),
        mpan(1),
        mpan(2),
        mpan(4),
    );
    assert_same_text("whatif.csv", &expected, &run.out("whatif.csv"));
    // DCC's decisions are untouched by the policy.
    run.expect(
        "P,5",
        "exclude",
        "18.13",
        "DUP_NOT_LAST_INSTALLED;DUP_NO_SINGLE_LAST",
    );
    run.expect("P1", "exclude", "18.13", "DUP_NOT_LAST_INSTALLED");
    run.expect(
        "P2",
        "exclude",
        "18.13",
        "ACTIVE_SUPPLIER_CEASED;DUP_NOT_LAST_INSTALLED",
    );
    run.expect(
        "P7",
        "exclude",
        "18.13",
        "DUP_NOT_LAST_INSTALLED;DUP_OTHER_COMMUNICATING",
    );
    run.expect("P8", "unblock", "4.1C", "DUP_RESOLVED");
    run.expect_clear("P9");
    assert_eq!(
        run.summary()["what_if"]["outcomes"],
        serde_json::json!({"unblock": 4, "exclude": 4, "review": 1, "clear": 1})
    );
    assert_eq!(run.summary()["what_if"]["changed"], 4);
    assert_eq!(
        run.summary()["what_if"]["changed_by_outcome"],
        serde_json::json!({"exclude->review": 1, "exclude->unblock": 3})
    );
    assert_eq!(
        run.summary()["what_if"]["changed_by_held_back_by"],
        serde_json::json!({"DUP_NOT_LAST_INSTALLED": 4, "DUP_NO_SINGLE_LAST": 1})
    );

    // From an index of the same inputs: the same five files.
    let dir = &run.dir;
    let mut build = bin();
    build.current_dir(dir.path()).args([
        "index",
        "build",
        "--inventory",
        "inventory.csv",
        "--suppliers",
        "suppliers.csv",
        "--quiet",
        "--out",
        "cases.mxi",
    ]);
    run_expect(&mut build, 0);
    let mut cmd = bin();
    cmd.current_dir(dir.path()).args([
        "sweep",
        "--index",
        "cases.mxi",
        "--as-of",
        AS_OF,
        POLICY[0],
        POLICY[1],
        "--out",
        "idx",
    ]);
    run_expect(&mut cmd, 0);
    assert_same_files(
        "CSV sweep vs index sweep",
        &dir.out(),
        &dir.path().join("idx"),
        &FILES,
    );
}

#[test]
fn a_sweep_without_the_policy_removes_an_earlier_whatif_csv_and_a_failed_one_leaves_it() {
    let dir = TestDir::new();
    let inventory = cases().bytes();
    dir.write("inventory.csv", &inventory);
    dir.write("suppliers.csv", REGISTRY);
    let sweep = |extra: &[&str], inventory: &str| {
        let mut cmd = dir.sweep_cmd();
        cmd.args(["--inventory", inventory, "--suppliers", "suppliers.csv"])
            .args(["--as-of", AS_OF, "--out", "out"])
            .args(extra);
        cmd
    };
    run_expect(&mut sweep(&POLICY, "inventory.csv"), 0);
    let earlier = dir.read_out("whatif.csv");
    let earlier_summary = dir.read_out("summary.json");

    // A run that is refused (a header without `mpxn`) publishes nothing: the earlier
    // set, whatif.csv included, stays whole.
    dir.write("broken.csv", "source,installation_id\nSMSO-A,X\n");
    run_expect(&mut sweep(&[], "broken.csv"), 2);
    assert_eq!(dir.read_out("whatif.csv"), earlier);
    assert_eq!(dir.read_out("summary.json"), earlier_summary);

    // A sweep without --what-if removes it, and says so.
    let o = run_expect(&mut sweep(&[], "inventory.csv"), 0);
    assert_eq!(
        dir.out_files(),
        [
            "decisions.csv",
            "duplicates.csv",
            "findings.csv",
            "rejects.csv",
            "summary.json"
        ]
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("whatif.csv, an earlier run's what-if"),
        "{stderr}"
    );
    assert!(!dir.read_out("summary.json").contains("what_if"));

    // An input named like it is refused, not removed.
    let input = dir.write("out/whatif.csv", &inventory);
    let o = run_expect(&mut sweep(&[], "out/whatif.csv"), 2);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("would be removed by this run"),
        "{}",
        describe(&sweep(&[], "out/whatif.csv"), &o)
    );
    assert!(input.exists());
    let o = run_expect(&mut sweep(&POLICY, "out/whatif.csv"), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("would be overwritten"));
    assert_eq!(std::fs::read(&input).unwrap(), inventory);
}

#[test]
fn a_policy_it_does_not_know_is_refused_before_any_work() {
    let dir = TestDir::new();
    for policy in ["only_communicating", "ONLY-COMMUNICATING", "dcc", ""] {
        let mut cmd = dir.sweep_cmd();
        cmd.args(["--what-if", policy, "--out", "out"]);
        let o = run_expect(&mut cmd, 2);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.contains("[possible values: only-communicating]"),
            "{policy:?}: {stderr}"
        );
        assert!(!dir.out().exists(), "{policy:?}: nothing is written");
    }
    // The index path refuses it the same way, before opening the index.
    let mut cmd = dir.sweep_cmd();
    cmd.args([
        "--index",
        "missing.mxi",
        "--what-if",
        "nope",
        "--out",
        "out",
    ]);
    let o = run_expect(&mut cmd, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid value"));
    assert!(!dir.out().exists());
}

/// About 4,000 installations over two SMSOs and SMETS2 sharing a few hundred MPxNs, with
/// install dates that tie or do not parse and statuses communicating, silent, future or
/// unreadable, from a fixed seed: every rule of the policy fires many times.
fn crowded_inventory() -> Inventory {
    let mut state: u64 = 0x5EED_0006_0004_0001;
    let mut next = move |bound: u64| {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % bound
    };
    let sources = ["SMSO-A", "SMSO-B", "SMETS2"];
    let installed = ["2018-01-01", "2019-06-01", "2021-03-01", "2021-03-01"];
    let mut inv = Inventory::new();
    for n in 0..4_000u64 {
        // A few data issues (an unparseable or future date), so that most outcomes are
        // decided by the duplicate rules.
        let installed = match next(40) {
            0 => "2022-02-30",
            _ => installed[next(4) as usize],
        };
        let comms = match next(40) {
            0 => "2024-07-05",
            1 => "bad",
            2..=6 => "",
            7..=20 => RECENT,
            _ => STALE,
        };
        let supplier = match next(8) {
            0 => "GONE",
            1 => "NOTLIVE",
            _ => "LIVE1",
        };
        let inst = Inst::new(sources[next(3) as usize], &format!("W{n:05}"))
            .installed(installed)
            .comms(comms)
            .supplier(supplier)
            .dormant(["N", "N", "Y"][next(3) as usize]);
        inv.add(inst.chf());
        match next(3) {
            0 => inv.add(inst.esme(&mpan(next(2_000) as u32))),
            1 => inv.add(inst.gsme(&mprn(next(1_200) as u32))),
            _ => inv
                .add(inst.esme(&mpan(next(2_000) as u32)))
                .add(inst.gsme(&mprn(next(1_200) as u32))),
        };
    }
    inv
}

#[test]
fn crowded_data_one_thread_or_two_csv_or_index_write_the_same_whatif_bytes() {
    let dir = TestDir::new();
    dir.write("inventory.csv", crowded_inventory().bytes());
    dir.write("suppliers.csv", REGISTRY);
    let inputs = [
        "--inventory",
        "inventory.csv",
        "--suppliers",
        "suppliers.csv",
    ];
    for (out, threads) in [("one", "1"), ("two", "2")] {
        let mut cmd = dir.sweep_cmd();
        cmd.args(inputs)
            .args(["--as-of", AS_OF, POLICY[0], POLICY[1], "--out", out])
            .env("RAYON_NUM_THREADS", threads);
        run_expect(&mut cmd, 0);
    }
    let mut build = bin();
    build
        .current_dir(dir.path())
        .args(["index", "build", "--quiet"])
        .args(inputs)
        .args(["--out", "crowded.mxi"]);
    run_expect(&mut build, 0);
    let mut cmd = dir.sweep_cmd();
    cmd.args([
        "--index",
        "crowded.mxi",
        "--as-of",
        AS_OF,
        POLICY[0],
        POLICY[1],
    ])
    .args(["--out", "idx"]);
    run_expect(&mut cmd, 0);
    let one = dir.path().join("one");
    assert_same_files("1 thread vs 2", &one, &dir.path().join("two"), &FILES);
    assert_same_files("CSV vs index", &one, &dir.path().join("idx"), &FILES);

    // The data exercises the policy: both held-back codes, both kinds of change, and
    // whatif.csv holds as many rows as the summary counts.
    let what_if = summary(&one)["what_if"].clone();
    let held = &what_if["changed_by_held_back_by"];
    let changed = &what_if["changed_by_outcome"];
    assert!(
        held["DUP_NOT_LAST_INSTALLED"].as_u64() > Some(10)
            && held["DUP_NO_SINGLE_LAST"].as_u64() > Some(10)
            && changed["exclude->unblock"].as_u64() > Some(10)
            && changed["exclude->review"].as_u64() > Some(10),
        "{what_if}"
    );
    let rows = read(&one.join("whatif.csv")).lines().count() as u64 - 1;
    assert_eq!(what_if["changed"].as_u64(), Some(rows), "{what_if}");
}
