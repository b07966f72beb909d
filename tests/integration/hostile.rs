//! A hostile user's reproductions (issue "Outputs that cannot be hijacked, mixed up or
//! half-written"): each test failed before its fix. Inputs that must be refused or
//! rejected, outputs that must be published as one set, a closed stdout that must not
//! change the exit status, and names that must fit any file system.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::{
    bin, crc32c, mpan, output, run_expect, Inst, Inventory, Sweep, TestDir, HEADER, REGISTRY,
};

/// Writes a standard inventory and registry into `dir` and returns the sweep command
/// that reads them into `dir/out`.
fn sweep_in(dir: &TestDir, inv: &Inventory) -> Command {
    dir.write("inventory.csv", inv.bytes());
    dir.write("suppliers.csv", REGISTRY);
    let mut cmd = dir.sweep_cmd();
    cmd.args([
        "--inventory",
        "inventory.csv",
        "--suppliers",
        "suppliers.csv",
        "--as-of",
        "2024-06-30",
    ]);
    cmd
}

/// `index build` of `dir`'s inventory.csv and suppliers.csv into `dir/OUT`.
fn build_cmd(dir: &TestDir, out: &str) -> Command {
    let mut cmd = bin();
    cmd.current_dir(dir.path()).args([
        "index",
        "build",
        "--inventory",
        "inventory.csv",
        "--suppliers",
        "suppliers.csv",
        "--out",
        out,
    ]);
    cmd
}

fn small_inventory() -> Inventory {
    let mut inv = Inventory::new();
    inv.extend(Inst::a("A1").with_esme(&mpan(1)))
        .extend(Inst::b("B1").with_esme(&mpan(2)))
        .raw(",,,");
    inv
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {path:?}: {e}"))
}

// ---------------------------------------------------------------------------------
// 9. CR-only line ends; 10. fields over 16 MiB; 14. a registry's final blank line
// ---------------------------------------------------------------------------------

#[test]
fn a_header_holding_a_cr_refuses_the_file_as_cr_only_line_ends() {
    let row = Inst::a("A1").esme(&mpan(1)).line();
    // The header ends in an optional column, so before the fix the whole file was read
    // as one header line and 0 rows were swept with exit 0.
    let header = HEADER.to_string();
    for bytes in [
        format!("{header}\r{row}\r{row}\r"),
        format!("{header}\r{row}\r\n"),
        format!(
            "source,group_id\r,installation_id{}\n{row}\n",
            &header[15..]
        ),
    ] {
        let run = Sweep::named("cr-only.csv", bytes).run_status(2);
        let stderr = run.stderr();
        assert!(
            stderr.contains("cr-only.csv") && stderr.contains("CR"),
            "the refusal names the file and the CR line ends{}",
            run.context()
        );
        assert!(run.dir.out_files().is_empty(), "{}", run.context());
    }
    // One CR at the very end of the header is a CRLF line end: fine.
    let run = Sweep::bytes(format!("{header}\r\n{row}\r\n")).run();
    assert_eq!(run.rows().read, 1);
}

#[test]
fn a_registry_header_holding_a_cr_is_refused() {
    let inv = Inventory::of(Inst::a("A1").with_esme(&mpan(1)));
    let registry = REGISTRY.replace('\n', "\r");
    let run = Sweep::new(&inv).registry(registry).run_status(2);
    assert!(run.stderr().contains("CR"), "{}", run.context());
}

#[test]
fn a_field_over_16_mib_rejects_its_row_with_field_too_long() {
    const MAX: usize = (1 << 24) - 1;
    // Two installation ids equal in their first 16,777,215 bytes: before the fix both
    // printed as the same (cut) id.
    let base = "I".repeat(MAX);
    let long_a = format!("{base}A");
    let long_b = format!("{base}B");
    let mut inv = Inventory::new();
    inv.extend(Inst::a("A1").with_esme(&mpan(1)))
        .extend(Inst::a(&long_a).with_esme(&mpan(2)))
        .extend(Inst::a(&long_b).with_esme(&mpan(3)))
        // Exactly at the limit, after trimming: accepted.
        .extend(Inst::a(&format!("  {base} ")).with_esme(&mpan(4)))
        // A long unknown-text field (device_id) rejects too; the count check comes first.
        .add(Inst::a("A1").device("IHD").id(&"F".repeat(MAX + 1)))
        .raw(format!("{},x", "y".repeat(MAX + 1)));
    let run = Sweep::new(&inv).run();
    let rejects = crate::util::parse_csv(&run.out("rejects.csv"));
    let reasons: Vec<&str> = rejects[1..].iter().map(|r| r[2].as_str()).collect();
    assert_eq!(
        reasons,
        [
            "field too long",
            "field too long",
            "field too long",
            "field too long",
            "field too long",
            "wrong number of fields"
        ],
        "{}",
        run.context()
    );
    assert!(run.is_decided("A1"));
    assert!(run.is_decided(&base));
    assert_eq!(run.decisions().len(), 2);
    let rows = run.rows();
    assert_eq!(rows.rejected, 6);
}

#[test]
fn a_registry_may_end_in_blank_lines_but_not_hold_one() {
    let inv = Inventory::of(
        Inst::a("A1")
            .supplier("GONE")
            .dormant("Y")
            .with_esme(&mpan(1)),
    );
    for tail in ["\n", "\n\n", "\r\n", " \n"] {
        let run = Sweep::new(&inv).registry(format!("{REGISTRY}{tail}")).run();
        run.expect("A1", "unblock", "4.1A", "DORMANT_SUPPLIER_CEASED");
    }
    let mut lines: Vec<&str> = REGISTRY.lines().collect();
    lines.insert(2, "");
    let run = Sweep::new(&inv)
        .registry(lines.join("\n") + "\n")
        .run_status(2);
    assert!(
        run.stderr().contains("suppliers.csv:3") && run.stderr().contains("blank"),
        "{}",
        run.context()
    );
}

/// The names in `dir`, sorted.
/// The notices folder's names without its manifest (`.mpxn-recon-notices`, the one
/// hidden file a `--per-party` run writes, checked in `portfolio.rs`).
fn notice_names(dir: &Path) -> Vec<String> {
    let mut v = names(dir);
    let at = v.iter().position(|n| n == ".mpxn-recon-notices");
    assert!(at.is_some(), "the notices' manifest is written: {v:?}");
    v.remove(at.unwrap());
    v
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {dir:?}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Asserts no temporary file of ours is left in `dir`.
#[track_caller]
fn assert_no_temporaries(dir: &Path) {
    let left: Vec<String> = names(dir)
        .into_iter()
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left in {dir:?}: {left:?}");
}

/// Asserts that summary.json's `outputs` match the other three files byte for byte:
/// the set in `out` is one run's.
#[track_caller]
fn assert_one_set(out: &Path) {
    let summary: serde_json::Value =
        serde_json::from_slice(&read(&out.join("summary.json"))).expect("summary.json parses");
    for name in ["decisions.csv", "duplicates.csv", "rejects.csv"] {
        let bytes = read(&out.join(name));
        let recorded = &summary["outputs"][name];
        assert_eq!(
            recorded["bytes"],
            bytes.len() as u64,
            "{name} size vs summary"
        );
        assert_eq!(
            recorded["crc32c"],
            format!("{:08x}", crc32c(&bytes)),
            "{name} checksum vs summary"
        );
    }
}

// ---------------------------------------------------------------------------------
// 1. Planted symlinks; 4. --per-party equal to --out; 13. a sweep over its own input
// ---------------------------------------------------------------------------------

#[test]
fn planted_links_are_replaced_never_followed() {
    let dir = TestDir::new();
    let victim = dir.write("victim.txt", "precious\n");
    let out = dir.out();
    std::fs::create_dir_all(&out).unwrap();
    let pp = dir.path().join("pp");
    std::fs::create_dir_all(&pp).unwrap();
    for name in [
        "decisions.csv",
        "duplicates.csv",
        "findings.csv",
        "rejects.csv",
        "summary.json",
    ] {
        // The old fixed temporary names, and the final names themselves.
        std::os::unix::fs::symlink(&victim, out.join(format!("{name}.tmp"))).unwrap();
        std::os::unix::fs::symlink(&victim, out.join(name)).unwrap();
    }
    for name in ["P-LIVE.csv", "P-LIVE.impact.json", "P-GONE.csv"] {
        std::os::unix::fs::symlink(&victim, pp.join(name)).unwrap();
    }
    let mut cmd = sweep_in(&dir, &small_inventory());
    cmd.arg("--per-party").arg(&pp);
    run_expect(&mut cmd, 0);
    assert_eq!(
        read(&victim),
        b"precious\n",
        "the link's target was written"
    );
    for name in [
        "decisions.csv",
        "duplicates.csv",
        "findings.csv",
        "rejects.csv",
        "summary.json",
    ] {
        let meta = std::fs::symlink_metadata(out.join(name)).unwrap();
        assert!(meta.is_file(), "{name} is a regular file now, not a link");
    }
    for name in ["P-LIVE.csv", "P-LIVE.impact.json", "P-GONE.csv"] {
        assert!(std::fs::symlink_metadata(pp.join(name)).unwrap().is_file());
    }
    assert_one_set(&out);

    // The index: a link at the final name is replaced, its target untouched.
    let idx = dir.path().join("idx.mxi");
    std::os::unix::fs::symlink(&victim, &idx).unwrap();
    run_expect(&mut build_cmd(&dir, "idx.mxi"), 0);
    assert_eq!(read(&victim), b"precious\n");
    assert!(std::fs::symlink_metadata(&idx).unwrap().is_file());
    assert_no_temporaries(dir.path());
}

#[test]
fn per_party_into_the_sweeps_own_folder_is_refused() {
    let dir = TestDir::new();
    let registry = format!("{REGISTRY}X1,decisions,Decisions Ltd,live\n");
    dir.write("inventory.csv", small_inventory().bytes());
    dir.write("suppliers.csv", registry);
    // A first, good run.
    run_expect(&mut sweep_in(&dir, &small_inventory()), 0);
    let before = read(&dir.out().join("decisions.csv"));
    for spelling in ["out", "out/.", "./out/"] {
        let mut cmd = dir.sweep_cmd();
        cmd.args([
            "--inventory",
            "inventory.csv",
            "--suppliers",
            "suppliers.csv",
            "--as-of",
            "2024-06-30",
            "--per-party",
            spelling,
        ]);
        let o = run_expect(&mut cmd, 2);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains("--per-party"), "{stderr}");
        assert_eq!(read(&dir.out().join("decisions.csv")), before);
        assert_eq!(
            names(&dir.out()),
            [
                "decisions.csv",
                "duplicates.csv",
                "findings.csv",
                "rejects.csv",
                "summary.json"
            ]
        );
    }
}

#[test]
fn a_sweep_or_build_over_its_own_input_is_refused() {
    let dir = TestDir::new();
    let mut first = sweep_in(&dir, &small_inventory());
    run_expect(&mut first, 0);
    let decisions = dir.out().join("decisions.csv");
    let before = read(&decisions);
    let mut cmd = dir.sweep_cmd();
    cmd.args([
        "--inventory",
        "out/decisions.csv",
        "--suppliers",
        "suppliers.csv",
    ]);
    let o = run_expect(&mut cmd, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("would be overwritten"));
    assert_eq!(read(&decisions), before);
    // An inventory kept in the notices' folder under a party's notice name: the
    // notices are named only at the end, and still may not replace it.
    let inv = read(&dir.path().join("inventory.csv"));
    dir.write("pp/P-LIVE.csv", &inv);
    let mut cmd = dir.sweep_cmd();
    cmd.args([
        "--inventory",
        "pp/P-LIVE.csv",
        "--suppliers",
        "suppliers.csv",
    ])
    .args([
        "--as-of",
        "2024-06-30",
        "--out",
        "out2",
        "--per-party",
        "pp",
    ]);
    let o = run_expect(&mut cmd, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("would be overwritten"));
    assert_eq!(read(&dir.path().join("pp/P-LIVE.csv")), inv);
    assert_eq!(
        names(&dir.path().join("pp")),
        ["P-LIVE.csv"],
        "no notice published"
    );
    // The registry as the index's --out.
    run_expect(&mut build_cmd(&dir, "suppliers.csv"), 2);
    assert_eq!(read(&dir.path().join("suppliers.csv")), REGISTRY.as_bytes());
}

// ---------------------------------------------------------------------------------
// 2. Concurrent runs into one folder
// ---------------------------------------------------------------------------------

#[test]
fn a_run_into_a_folder_another_run_holds_stops_before_writing() {
    let dir = TestDir::new();
    run_expect(&mut sweep_in(&dir, &small_inventory()), 0);
    let before = read(&dir.out().join("decisions.csv"));
    // Hold the folder's lock as a running sweep does.
    let held = std::fs::File::open(dir.out()).unwrap();
    held.try_lock().expect("the folder is free");
    let mut inv = small_inventory();
    inv.extend(Inst::a("A9").with_esme(&mpan(9)));
    let o = run_expect(&mut sweep_in(&dir, &inv), 1);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("in use by another mpxn-recon run"),
        "{stderr}"
    );
    assert_eq!(read(&dir.out().join("decisions.csv")), before);
    assert_no_temporaries(&dir.out());
    drop(held);
    run_expect(&mut sweep_in(&dir, &inv), 0);
}

#[test]
fn concurrent_sweeps_into_one_folder_never_both_succeed_over_a_mixed_set() {
    let dir = TestDir::new();
    dir.write("suppliers.csv", REGISTRY);
    // Two inputs big enough that the runs overlap, each with its own decisions.
    for (name, source) in [("a.csv", "SMSO-A"), ("b.csv", "SMSO-B")] {
        let mut inv = Inventory::new();
        for n in 0..20_000 {
            inv.extend(Inst::new(source, &format!("I{n}")).with_esme(&mpan(n)));
        }
        dir.write(name, inv.bytes());
    }
    let spawn = |name: &str| {
        let mut cmd = dir.sweep_cmd();
        cmd.args(["--inventory", name, "--suppliers", "suppliers.csv"])
            .args(["--as-of", "2024-06-30"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd.spawn().unwrap()
    };
    for round in 0..4 {
        let a = spawn("a.csv");
        std::thread::sleep(std::time::Duration::from_millis(round * 40));
        let b = spawn("b.csv");
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        for o in [&a, &b] {
            let code = o.status.code();
            assert!(code == Some(0) || code == Some(1), "{o:?}");
            if code == Some(1) {
                assert!(String::from_utf8_lossy(&o.stderr).contains("in use"));
            }
        }
        assert!(a.status.success() || b.status.success(), "one run wins");
        assert_one_set(&dir.out());
        let decisions = String::from_utf8(read(&dir.out().join("decisions.csv"))).unwrap();
        let from_a = decisions.contains("SMSO-A");
        let from_b = decisions.contains("SMSO-B");
        assert!(from_a != from_b, "one run's decisions, not a mix");
        // The last run to succeed is the one whose set is there.
        if !b.status.success() {
            assert!(from_a);
        }
        if !a.status.success() {
            assert!(from_b);
        }
        assert_no_temporaries(&dir.out());
    }
}

// ---------------------------------------------------------------------------------
// 3. A full disk: the previous set stays whole, no temporary survives
// ---------------------------------------------------------------------------------

/// A small tmpfs mounted at `dir/mnt` (root only); `None`, with the reason printed,
/// where it cannot be mounted.
pub(crate) struct Tmpfs {
    pub(crate) path: std::path::PathBuf,
}

impl Tmpfs {
    pub(crate) fn mount(dir: &TestDir, size: &str) -> Option<Tmpfs> {
        let path = dir.path().join("mnt");
        std::fs::create_dir_all(&path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Tmpfs { path })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

#[test]
fn a_full_disk_leaves_the_previous_set_whole_and_no_temporary() {
    let dir = TestDir::new();
    let Some(fs) = Tmpfs::mount(&dir, "1850k") else {
        return;
    };
    let out = fs.path.join("out");
    dir.write("suppliers.csv", REGISTRY);
    let small = small_inventory();
    dir.write("small.csv", small.bytes());
    // Many installations (decisions fit), then rejected lines that do not.
    let mut big = Inventory::new();
    for n in 0..2_000 {
        big.extend(Inst::a(&format!("I{n}")).with_esme(&mpan(n)));
    }
    for n in 0..2_000 {
        big.raw(format!("{n},{}", "x".repeat(1_000)));
    }
    dir.write("big.csv", big.bytes());
    let sweep = |file: &str| {
        let mut cmd = dir.sweep_cmd();
        cmd.args(["--inventory", file, "--suppliers", "suppliers.csv"])
            .args(["--as-of", "2024-06-30", "--out"])
            .arg(&out);
        cmd
    };
    run_expect(&mut sweep("small.csv"), 0);
    let before: Vec<(String, Vec<u8>)> = names(&out)
        .into_iter()
        .map(|n| {
            let b = read(&out.join(&n));
            (n, b)
        })
        .collect();
    let o = run_expect(&mut sweep("big.csv"), 1);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("No space left"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let after: Vec<(String, Vec<u8>)> = names(&out)
        .into_iter()
        .map(|n| {
            let b = read(&out.join(&n));
            (n, b)
        })
        .collect();
    assert!(before == after, "the previous set is exactly as it was");
    assert_one_set(&out);

    // --per-party notices on the full disk: the previous notices stay, whole.
    let pp = fs.path.join("pp");
    let mut small_pp = sweep("small.csv");
    small_pp.arg("--per-party").arg(&pp);
    std::fs::remove_dir_all(&out).unwrap();
    run_expect(&mut small_pp, 0);
    let notices: Vec<(String, Vec<u8>)> = names(&pp)
        .into_iter()
        .map(|n| {
            let b = read(&pp.join(&n));
            (n, b)
        })
        .collect();
    let mut big_pp = sweep("big.csv");
    big_pp.arg("--per-party").arg(&pp);
    run_expect(&mut big_pp, 1);
    let now: Vec<(String, Vec<u8>)> = names(&pp)
        .into_iter()
        .map(|n| {
            let b = read(&pp.join(&n));
            (n, b)
        })
        .collect();
    assert!(
        notices == now,
        "the previous notices are exactly as they were"
    );
    assert_no_temporaries(&pp);

    // portfolio --out on the full disk: the previous report stays, whole.
    let idx = dir.path().join("big.mxi");
    let mut cmd = bin();
    cmd.current_dir(dir.path())
        .args(["index", "build", "--inventory", "big.csv"])
        .args(["--suppliers", "suppliers.csv", "--out"])
        .arg(&idx);
    run_expect(&mut cmd, 0);
    let report = fs.path.join("report.csv");
    std::fs::write(&report, "previous\n").unwrap();
    let filler = fs.path.join("filler");
    // Fill what is left, but for a few bytes.
    let free = {
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 4096];
        let mut n = 0u64;
        while std::io::Write::write_all(&mut f, &chunk).is_ok() {
            n += 4096;
        }
        n
    };
    assert!(free > 0);
    let mut cmd = bin();
    cmd.args([
        "portfolio",
        "--party",
        "P-LIVE",
        "--as-of",
        "2024-06-30",
        "--index",
    ])
    .arg(&idx)
    .arg("--out")
    .arg(&report);
    run_expect(&mut cmd, 1);
    assert_eq!(read(&report), b"previous\n");
    assert_no_temporaries(&fs.path);
    assert_no_temporaries(&out);
}

// ---------------------------------------------------------------------------------
// 5. A closed stdout changes no exit status and stops no work; a full one is named
// ---------------------------------------------------------------------------------

/// Runs `cmd` with stdout a pipe whose reading end is already closed.
fn with_closed_stdout(cmd: &mut Command) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    cmd.stdout(Stdio::from(writer)).stderr(Stdio::piped());
    let out = cmd.output().unwrap();
    crate::util::assert_no_panic(cmd, &out);
    out
}

#[test]
fn a_closed_stdout_keeps_every_subcommands_status_and_work() {
    let dir = TestDir::new();
    let mut strict = sweep_in(&dir, &small_inventory());
    strict.arg("--strict");
    assert_eq!(with_closed_stdout(&mut strict).status.code(), Some(3));

    let mut per_party = sweep_in(&dir, &small_inventory());
    per_party.args(["--per-party", "pp"]);
    assert_eq!(with_closed_stdout(&mut per_party).status.code(), Some(0));
    assert!(
        dir.path().join("pp/P-LIVE.csv").is_file(),
        "notices written"
    );

    assert_eq!(
        with_closed_stdout(&mut build_cmd(&dir, "i.mxi"))
            .status
            .code(),
        Some(0)
    );
    for args in [
        vec!["index", "verify", "i.mxi"],
        vec!["index", "info", "i.mxi"],
        vec![
            "portfolio",
            "--index",
            "i.mxi",
            "--party",
            "P-LIVE",
            "--out",
            "p.csv",
        ],
        vec!["gen", "--rows", "200", "--seed", "1", "--out", "g"],
    ] {
        let mut cmd = bin();
        cmd.current_dir(dir.path()).args(&args);
        assert_eq!(
            with_closed_stdout(&mut cmd).status.code(),
            Some(0),
            "{args:?}"
        );
    }
    assert!(dir.path().join("p.csv").is_file());
    // lookup keeps grep's status: 1 when a key is not found, 0 when all are.
    let mut cmd = bin();
    cmd.current_dir(dir.path())
        .args(["lookup", "--index", "i.mxi", "999999"]);
    assert_eq!(with_closed_stdout(&mut cmd).status.code(), Some(1));
    let mut cmd = bin();
    cmd.current_dir(dir.path())
        .args(["lookup", "--index", "i.mxi", &mpan(1)]);
    assert_eq!(with_closed_stdout(&mut cmd).status.code(), Some(0));

    // A full stdout is an error that names it.
    let mut cmd = sweep_in(&dir, &small_inventory());
    cmd.stdout(std::fs::File::create("/dev/full").unwrap());
    let o = output(&mut cmd);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("standard output"));
}

#[test]
fn per_party_with_head_writes_every_notice() {
    let dir = TestDir::new();
    let mut cmd = sweep_in(&dir, &small_inventory());
    cmd.args(["--per-party", "pp"]);
    // `| head -1`: the reader goes away after the first line.
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut first = [0u8; 1];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    crate::util::assert_no_panic(&cmd, &o);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        notice_names(&dir.path().join("pp")),
        [
            "P-GONE.csv",
            "P-GONE.impact.json",
            "P-LIVE.csv",
            "P-LIVE.impact.json",
            "P-NOTLIVE.csv",
            "P-NOTLIVE.impact.json"
        ]
    );
}

// ---------------------------------------------------------------------------------
// 6. Unbounded key lists; 13. an unknown key cannot forge a line
// ---------------------------------------------------------------------------------

/// Builds `i.mxi` from the small inventory in `dir`.
fn build_index(dir: &TestDir) {
    dir.write("inventory.csv", small_inventory().bytes());
    dir.write("suppliers.csv", REGISTRY);
    run_expect(&mut build_cmd(dir, "i.mxi"), 0);
}

#[test]
fn key_lists_are_read_with_a_bound_and_from_stdin() {
    let dir = TestDir::new();
    build_index(&dir);
    let mut lookup = bin();
    lookup
        .current_dir(dir.path())
        .args(["lookup", "--index", "i.mxi", "--keys-from", "/dev/zero"]);
    let o = run_expect(&mut lookup, 2);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("/dev/zero:1: the line is longer than 4096"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut portfolio = bin();
    portfolio.current_dir(dir.path()).args([
        "portfolio",
        "--index",
        "i.mxi",
        "--party",
        "P-LIVE",
        "--out",
        "p.csv",
        "--mpxns",
        "/dev/zero",
    ]);
    run_expect(&mut portfolio, 2);
    assert!(!dir.path().join("p.csv").exists(), "nothing published");
    // A later long line is named by its number.
    dir.write("keys.txt", format!("{}\n\n{}\n", mpan(1), "9".repeat(5000)));
    let mut cmd = bin();
    cmd.current_dir(dir.path())
        .args(["lookup", "--index", "i.mxi", "--keys-from", "keys.txt"]);
    let o = run_expect(&mut cmd, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("keys.txt:3:"));
    // `-` is standard input.
    let mut cmd = bin();
    cmd.current_dir(dir.path())
        .args(["lookup", "--index", "i.mxi", "--keys-from", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        format!("{}\n", mpan(1)).as_bytes(),
    )
    .unwrap();
    drop(child.stdin.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("MPAN {}", mpan(1))));
}

#[test]
fn an_unknown_key_is_quoted_so_it_cannot_forge_a_line() {
    let dir = TestDir::new();
    build_index(&dir);
    let forged = "x\nMPAN 1234567890123 (key \"1\"): 1 installation(s)";
    let mut cmd = bin();
    cmd.current_dir(dir.path())
        .args(["lookup", "--index", "i.mxi", forged]);
    let o = run_expect(&mut cmd, 1);
    let stdout = String::from_utf8_lossy(&o.stdout);
    // The as-of line, then the one line of the unknown key.
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.starts_with("as of "), "{stdout}");
    assert!(
        stdout.lines().nth(1).unwrap().starts_with("\"x\\nMPAN"),
        "{stdout}"
    );
}

// ---------------------------------------------------------------------------------
// 7. Interrupted builds and sweeps: the previous index and set stay; temporaries go
// ---------------------------------------------------------------------------------

#[test]
fn the_next_build_removes_temporaries_of_dead_builds_and_keeps_live_ones() {
    let dir = TestDir::new();
    build_index(&dir);
    let stale = [
        // This version's name, its owner gone (nobody holds its lock).
        dir.write(".i.mxi.tmp-123-0123456789abcdef", vec![0u8; 4096]),
        // An earlier version's name, of a pid that cannot be running.
        dir.write(".i.mxi.tmp-4000000000", vec![0u8; 4096]),
    ];
    // A live build's temporary: held locked by its (here: this) process.
    let live = dir.write(".i.mxi.tmp-7-fedcba9876543210", b"live");
    let held = std::fs::File::open(&live).unwrap();
    held.try_lock().unwrap();
    let o = run_expect(&mut build_cmd(&dir, "i.mxi"), 0);
    let stderr = String::from_utf8_lossy(&o.stderr);
    for path in &stale {
        assert!(!path.exists(), "{path:?} removed");
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(stderr.contains(&*name), "{stderr}");
    }
    assert!(live.exists(), "a live build's file is kept");
}

/// Kills `cmd` after `delay` with SIGKILL (or lets it finish first).
fn kill_after(cmd: &mut Command, delay: std::time::Duration) -> Option<i32> {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    child.wait().unwrap().code()
}

#[test]
fn killed_builds_and_sweeps_leave_the_previous_index_and_set_intact() {
    let dir = TestDir::new();
    let mut gen = bin();
    gen.current_dir(dir.path())
        .args(["gen", "--rows", "60000", "--seed", "7", "--out", "g"]);
    run_expect(&mut gen, 0);
    let inventories: Vec<String> = names(&dir.path().join("g/inventory"))
        .into_iter()
        .map(|n| format!("g/inventory/{n}"))
        .collect();
    let build = || {
        let mut cmd = bin();
        cmd.current_dir(dir.path())
            .args(["index", "build", "--quiet"]);
        for f in &inventories {
            cmd.args(["--inventory", f]);
        }
        cmd.args(["--suppliers", "g/suppliers.csv", "--out", "i.mxi"]);
        cmd
    };
    let sweep = || {
        let mut cmd = bin();
        cmd.current_dir(dir.path()).arg("sweep");
        for f in &inventories {
            cmd.args(["--inventory", f]);
        }
        cmd.args(["--suppliers", "g/suppliers.csv", "--as-of", "2024-06-30"]);
        cmd
    };
    run_expect(&mut build(), 0);
    run_expect(&mut sweep(), 0);
    let index = read(&dir.path().join("i.mxi"));
    let set: Vec<Vec<u8>> = names(&dir.out())
        .iter()
        .map(|n| read(&dir.out().join(n)))
        .collect();
    // Fixed points (early, parsing, writing) and two random ones, printed for a rerun.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let random = [nanos % 700, (nanos / 700) % 700];
    eprintln!("random kill delays: {random:?} ms");
    for ms in [5u64, 60, 150, 300, 600, random[0], random[1]] {
        let delay = std::time::Duration::from_millis(ms);
        let code = kill_after(&mut build(), delay);
        if code.is_some() {
            // It finished first: the index is the same bytes (deterministic).
            assert_eq!(code, Some(0));
        }
        assert!(
            read(&dir.path().join("i.mxi")) == index,
            "index intact after {ms} ms"
        );
        let code = kill_after(&mut sweep(), delay);
        if code.is_some() {
            assert_eq!(code, Some(0));
        }
        let now: Vec<Vec<u8>> = names(&dir.out())
            .iter()
            .filter(|n| !n.contains(".tmp"))
            .map(|n| read(&dir.out().join(n)))
            .collect();
        assert!(now == set, "outputs intact after {ms} ms");
    }
    // The next runs remove whatever the killed ones left.
    run_expect(&mut build(), 0);
    run_expect(&mut sweep(), 0);
    assert_no_temporaries(dir.path());
    assert_no_temporaries(&dir.out());
    assert!(read(&dir.path().join("i.mxi")) == index);
}

// ---------------------------------------------------------------------------------
// 8. Party ids that are no file names
// ---------------------------------------------------------------------------------

#[test]
fn every_party_gets_its_own_notice_whatever_its_id() {
    let dir = TestDir::new();
    let long = "L".repeat(300);
    let odd = [
        long.as_str(),
        ".hidden",
        "..",
        "a_b",
        "a\u{0}b",
        "a/b",
        "Case",
        "CASE",
    ];
    let mut registry = String::from(REGISTRY);
    for (n, p) in odd.iter().enumerate() {
        registry.push_str(&format!("ODD{n},\"{p}\",Odd {n},live\n"));
    }
    dir.write("suppliers.csv", &registry);
    let mut inv = small_inventory();
    for n in 0..odd.len() {
        inv.extend(
            Inst::a(&format!("O{n}"))
                .supplier(&format!("ODD{n}"))
                .with_esme(&mpan(100 + n as u32)),
        );
    }
    dir.write("inventory.csv", inv.bytes());
    let mut cmd = dir.sweep_cmd();
    cmd.args([
        "--inventory",
        "inventory.csv",
        "--suppliers",
        "suppliers.csv",
    ])
    .args(["--as-of", "2024-06-30", "--per-party", "pp"]);
    run_expect(&mut cmd, 0);
    let pp = dir.path().join("pp");
    let files = notice_names(&pp);
    // Three standard parties and eight odd ones, each a report and an impact summary.
    assert_eq!(files.len(), 2 * 11, "{files:?}");
    for f in &files {
        assert!(!f.starts_with('.'), "no hidden notice: {f}");
        assert!(f.len() <= 255, "{f}");
    }
    // `a_b.csv` is a_b's, and every report names its party on each row.
    let a_b = String::from_utf8(read(&pp.join("a_b.csv"))).unwrap();
    assert!(a_b.lines().nth(1).unwrap().ends_with(",a_b"), "{a_b}");
    let mut seen = std::collections::BTreeSet::new();
    for f in files.iter().filter(|f| f.ends_with(".impact.json")) {
        let impact: serde_json::Value = serde_json::from_slice(&read(&pp.join(f))).unwrap();
        let party = impact["party_id"]
            .as_str()
            .or(impact["party"].as_str())
            .unwrap_or_else(|| panic!("{f} names its party: {impact}"))
            .to_string();
        assert!(seen.insert(party), "{f}: one notice per party");
    }
    assert_eq!(seen.len(), 11);
    assert!(seen.contains(&long) && seen.contains("a\u{0}b") && seen.contains(".."));
}

// ---------------------------------------------------------------------------------
// 11. Pipes and FIFOs as inputs; 14. messages that say what to do
// ---------------------------------------------------------------------------------

#[test]
fn pipes_and_fifos_are_streamed_and_a_fifo_without_writer_does_not_block() {
    let dir = TestDir::new();
    let inv = small_inventory();
    let mut plain = sweep_in(&dir, &inv);
    run_expect(&mut plain, 0);
    let expected = read(&dir.out().join("decisions.csv"));
    let fifo = dir.path().join("fifo.csv");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // A writer that connects while the sweep opens the FIFO.
    let writer = Command::new("sh")
        .arg("-c")
        .arg(format!("cat inventory.csv > {}", fifo.display()))
        .current_dir(dir.path())
        .spawn()
        .unwrap();
    let mut cmd = dir.sweep_cmd();
    cmd.args(["--inventory", "fifo.csv", "--suppliers", "suppliers.csv"])
        .args(["--as-of", "2024-06-30", "--out", "out-fifo"]);
    run_expect(&mut cmd, 0);
    drop(writer);
    let got = read(&dir.path().join("out-fifo/decisions.csv"));
    assert_eq!(got, expected);
    // No writer at all: refused as empty, promptly.
    let started = std::time::Instant::now();
    let mut cmd = dir.sweep_cmd();
    cmd.args(["--inventory", "fifo.csv", "--suppliers", "suppliers.csv"])
        .args(["--as-of", "2024-06-30", "--out", "out-none"]);
    run_expect(&mut cmd, 2);
    assert!(started.elapsed().as_secs() < 20);
    // A process substitution (an anonymous pipe) reads like the file.
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{:?} sweep --inventory <(cat inventory.csv) --suppliers suppliers.csv \
             --as-of 2024-06-30 --out out-pipe",
            env!("CARGO_BIN_EXE_mpxn-recon")
        ))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(read(&dir.path().join("out-pipe/decisions.csv")), expected);
}

#[test]
fn messages_say_what_to_do() {
    let dir = TestDir::new();
    dir.write("suppliers.csv", REGISTRY);
    std::fs::create_dir_all(dir.path().join("inventories")).unwrap();
    let mut cmd = dir.sweep_cmd();
    cmd.args(["--inventory", "inventories", "--suppliers", "suppliers.csv"]);
    let o = output(&mut cmd);
    assert_ne!(o.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&o.stderr);
    // A folder stands for the inventories in it (issue 14): an empty one is refused.
    assert!(
        stderr.contains("--inventory inventories: the folder holds no *.csv, *.psv or *.txt file"),
        "{stderr}"
    );
    dir.write("inventory.csv", small_inventory().bytes());
    dir.write("afile", "x");
    let mut cmd = dir.sweep_cmd();
    cmd.args([
        "--inventory",
        "inventory.csv",
        "--suppliers",
        "suppliers.csv",
    ])
    .args(["--out", "afile"]);
    let o = run_expect(&mut cmd, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("afile is a file, not a directory"));
}

// ---------------------------------------------------------------------------------
// 12. An index rewritten in place during a sweep: a clear error, never a signal death
// ---------------------------------------------------------------------------------

#[test]
fn an_index_truncated_or_rewritten_in_place_ends_in_a_clear_error() {
    let dir = TestDir::new();
    let mut gen = bin();
    gen.current_dir(dir.path())
        .args(["gen", "--rows", "60000", "--seed", "3", "--out", "g"]);
    run_expect(&mut gen, 0);
    let mut cmd = bin();
    cmd.current_dir(dir.path())
        .args(["index", "build", "--quiet"]);
    for n in names(&dir.path().join("g/inventory")) {
        cmd.arg("--inventory").arg(format!("g/inventory/{n}"));
    }
    cmd.args(["--suppliers", "g/suppliers.csv", "--out", "i.mxi"]);
    run_expect(&mut cmd, 0);
    let original = read(&dir.path().join("i.mxi"));
    let mut hit = 0;
    for (round, ms) in [0u64, 2, 5, 10, 20, 40, 80].iter().enumerate() {
        let idx = dir.path().join(format!("r{round}.mxi"));
        std::fs::write(&idx, &original).unwrap();
        let out = dir.path().join(format!("out{round}"));
        let mut cmd = bin();
        cmd.args(["sweep", "--as-of", "2024-06-30", "--per-party"])
            .arg(dir.path().join(format!("pp{round}")))
            .arg("--index")
            .arg(&idx)
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(*ms));
        // Even rounds truncate in place; odd rounds rewrite bytes in place, same length.
        let f = std::fs::OpenOptions::new().write(true).open(&idx).unwrap();
        if round % 2 == 0 {
            f.set_len(4096).unwrap();
        } else {
            use std::os::unix::fs::FileExt;
            f.write_all_at(&vec![0xAB; original.len() / 2], 4096)
                .unwrap();
        }
        drop(f);
        let o = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let code = o.status.code();
        assert!(code.is_some(), "killed by a signal after {ms} ms: {stderr}");
        assert_ne!(code, Some(101), "{stderr}");
        if code == Some(0) {
            // Finished before the change: a whole, consistent set.
            assert_one_set(&out);
        } else {
            hit += 1;
            assert_eq!(code, Some(2), "{stderr}");
            eprintln!("after {ms} ms: {stderr}");
            assert!(
                ["in place", "damaged", "truncated"]
                    .iter()
                    .any(|w| stderr.contains(w)),
                "{stderr}"
            );
            assert!(!out.join("decisions.csv").exists(), "nothing published");
        }
    }
    assert!(hit > 0, "no round changed the index while it was read");
}

#[test]
fn a_mapping_the_kernel_refuses_says_which_limit_to_raise() {
    // More inputs than vm.max_map_count, or a file larger than the address space the
    // process may map, fail the mapping with ENOMEM ("Cannot allocate memory" before).
    // A 2 GiB sparse file under a 1 GiB address-space limit reproduces it.
    let dir = TestDir::new();
    dir.write("suppliers.csv", REGISTRY);
    let big = std::fs::File::create(dir.path().join("big.csv")).unwrap();
    big.set_len(2 << 30).unwrap();
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 1000000 && exec {:?} sweep --inventory big.csv --suppliers suppliers.csv \
             --as-of 2024-06-30 --out out",
            env!("CARGO_BIN_EXE_mpxn-recon")
        ))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("big.csv") && stderr.contains("vm.max_map_count"),
        "{stderr}"
    );
    assert!(
        !dir.out().exists(),
        "a failed run leaves no output folder it created"
    );
}
