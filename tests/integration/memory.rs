//! The memory budget: `--memory-limit` and `--temp-dir` on `sweep` and `index build`.
//! A run far over its budget spills rows and keys and writes the bytes of one that
//! holds everything in memory; spill files never outlive the run; bad options are
//! refused before any work.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

/// `gen` output of `rows` rows in `dir`: (inventories, registry, as-of date).
fn generated(dir: &Path, rows: u64) -> (Vec<PathBuf>, PathBuf, String) {
    let mut cmd = bin();
    cmd.args(["gen", "--rows", &rows.to_string(), "--seed", "11", "--out"])
        .arg(dir);
    run_expect(&mut cmd, 0);
    let mut inventories: Vec<PathBuf> = std::fs::read_dir(dir.join("inventory"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    inventories.sort();
    let as_of = std::fs::read_to_string(dir.join("AS_OF")).unwrap();
    (
        inventories,
        dir.join("suppliers.csv"),
        as_of.trim().to_string(),
    )
}

fn with_inputs(cmd: &mut Command, inventories: &[PathBuf], suppliers: &Path) {
    for inv in inventories {
        cmd.arg("--inventory").arg(inv);
    }
    cmd.arg("--suppliers").arg(suppliers);
}

fn read_outputs(out: &Path) -> Vec<(String, Vec<u8>)> {
    [
        "decisions.csv",
        "duplicates.csv",
        "rejects.csv",
        "summary.json",
    ]
    .iter()
    .map(|n| (n.to_string(), std::fs::read(out.join(n)).unwrap()))
    .collect()
}

/// The spill note the timings print: bytes of rows and of keys written to spill files.
fn spilled(stderr: &[u8]) -> (u64, u64) {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .find(|l| l.starts_with("timing: spilled:"))
        .unwrap_or_else(|| panic!("no spill note in:\n{text}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|t| t.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[test]
fn a_sweep_over_its_memory_limit_spills_and_writes_the_same_bytes() {
    let d = TestDir::new();
    // 30,000 rows: about 2 MB of rows, so a 1 MiB limit (half of it for rows and keys)
    // spills both many times over.
    let (inventories, suppliers, as_of) = generated(&d.path().join("data"), 30_000);
    let spill_dir = d.path().join("spill");
    std::fs::create_dir(&spill_dir).unwrap();
    let sweep = |out: &str, limit: Option<&str>| {
        let mut cmd = bin();
        cmd.args(["sweep", "--as-of", &as_of]);
        with_inputs(&mut cmd, &inventories, &suppliers);
        cmd.arg("--out").arg(d.path().join(out));
        cmd.env("MPXN_RECON_TIMINGS", "1");
        if let Some(limit) = limit {
            cmd.args(["--memory-limit", limit])
                .arg("--temp-dir")
                .arg(&spill_dir);
        }
        run_expect(&mut cmd, 0)
    };
    let roomy = sweep("roomy", Some("64G"));
    assert_eq!(spilled(&roomy.stderr), (0, 0), "a roomy limit spilled");
    let tight = sweep("tight", Some("1M"));
    let (rows, keys) = spilled(&tight.stderr);
    assert!(
        rows > 1_000_000 && keys > 100_000,
        "spilled {rows} + {keys} bytes"
    );
    assert!(read_outputs(&d.path().join("roomy")) == read_outputs(&d.path().join("tight")));
    let default = sweep("default", None);
    drop(default);
    assert!(read_outputs(&d.path().join("roomy")) == read_outputs(&d.path().join("default")));
    assert_eq!(
        std::fs::read_dir(&spill_dir).unwrap().count(),
        0,
        "spill files left"
    );

    // Per-party notices read the full image, which then goes to a spill file too.
    let notices = |name: &str, limit: &str| {
        let mut cmd = bin();
        cmd.args(["sweep", "--as-of", &as_of, "--memory-limit", limit]);
        cmd.arg("--temp-dir").arg(&spill_dir);
        with_inputs(&mut cmd, &inventories, &suppliers);
        cmd.arg("--out").arg(d.path().join(format!("{name}-out")));
        cmd.arg("--per-party").arg(d.path().join(name));
        run_expect(&mut cmd, 0);
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(d.path().join(name))
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let bytes = std::fs::read(&p).unwrap();
                (p.file_name().unwrap().to_string_lossy().into_owned(), bytes)
            })
            .collect();
        files.sort();
        files
    };
    let roomy_notices = notices("pp-roomy", "64G");
    assert!(roomy_notices.len() > 10, "{} notices", roomy_notices.len());
    assert!(
        roomy_notices == notices("pp-tight", "1M"),
        "notices differ under a tight limit"
    );

    // The index build too: the same file under any limit.
    let build = |name: &str, limit: &str| {
        let mut cmd = bin();
        cmd.args(["index", "build", "--quiet", "--memory-limit", limit]);
        cmd.arg("--temp-dir").arg(&spill_dir);
        with_inputs(&mut cmd, &inventories, &suppliers);
        cmd.arg("--out").arg(d.path().join(name));
        run_expect(&mut cmd, 0);
        std::fs::read(d.path().join(name)).unwrap()
    };
    assert!(build("roomy.mxi", "64G") == build("tight.mxi", "1M"));
    assert_eq!(
        std::fs::read_dir(&spill_dir).unwrap().count(),
        0,
        "spill files left"
    );
}

#[test]
fn memory_options_are_refused_before_any_work() {
    let d = TestDir::new();
    let (inventories, suppliers, as_of) = generated(&d.path().join("data"), 100);
    for (args, says) in [
        (vec!["--memory-limit", "12Q"], "unknown unit"),
        (vec!["--memory-limit", "100K"], "below 1M"),
        (vec!["--memory-limit", "lots"], "not a size"),
        (vec!["--temp-dir", "no-such-folder"], "not a folder"),
    ] {
        let mut cmd = bin();
        cmd.current_dir(d.path());
        cmd.args(["sweep", "--as-of", &as_of]);
        with_inputs(&mut cmd, &inventories, &suppliers);
        cmd.args(&args).arg("--out").arg(d.path().join("out"));
        let out = run_expect(&mut cmd, 2);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(
            !d.path().join("out").exists(),
            "{args:?} left an output folder"
        );
    }
}

#[test]
fn a_full_spill_folder_fails_closed_naming_it_and_keeps_the_previous_outputs() {
    let d = TestDir::new();
    let (inventories, suppliers, as_of) = generated(&d.path().join("data"), 30_000);
    let Some(fs) = crate::hostile::Tmpfs::mount(&d, "256k") else {
        return;
    };
    let out = d.path().join("out");
    let sweep = |limit: &str| {
        let mut cmd = bin();
        cmd.args(["sweep", "--as-of", &as_of]);
        with_inputs(&mut cmd, &inventories, &suppliers);
        cmd.args(["--memory-limit", limit])
            .arg("--temp-dir")
            .arg(&fs.path);
        cmd.arg("--out").arg(&out);
        cmd
    };
    run_expect(&mut sweep("64G"), 0);
    let before = read_outputs(&out);
    // 2 MB of rows to spill into 256 KiB: the run stops, naming the folder.
    let failed = run_expect(&mut sweep("1M"), 1);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains(&fs.path.display().to_string()) && stderr.contains("--temp-dir"),
        "{stderr}"
    );
    assert!(
        read_outputs(&out) == before,
        "a failed run changed the outputs"
    );
    assert_eq!(
        std::fs::read_dir(&fs.path).unwrap().count(),
        0,
        "spill files left"
    );
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "temporaries left: {names:?}"
    );
}
