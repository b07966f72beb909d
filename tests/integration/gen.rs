//! `mpxn-recon gen`: deterministic, consistent with its ground truth, and swept by the
//! engine exactly as the independent Python reference sweeps it.

use std::path::Path;

use crate::util::*;

fn gen(dir: &Path, rows: u64, seed: u64) {
    let mut cmd = bin();
    cmd.args([
        "gen",
        "--rows",
        &rows.to_string(),
        "--seed",
        &seed.to_string(),
        "--out",
    ])
    .arg(dir);
    run_expect(&mut cmd, 0);
}

fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for sub in ["", "inventory"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                files.push((
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn the_same_seed_writes_the_same_bytes() {
    let d = TestDir::new();
    gen(&d.path().join("a"), 20_000, 5);
    gen(&d.path().join("b"), 20_000, 5);
    gen(&d.path().join("c"), 20_000, 6);
    let (a, b, c) = (
        tree(&d.path().join("a")),
        tree(&d.path().join("b")),
        tree(&d.path().join("c")),
    );
    assert_eq!(
        a.len(),
        8,
        "5 inventories, suppliers.csv, AS_OF, ground_truth.csv... got {:?}",
        a.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(a == b, "the same seed wrote different files");
    assert!(a != c, "another seed wrote the same files");
}

#[test]
fn generated_data_matches_its_ground_truth_and_the_reference() {
    let d = TestDir::new();
    let data = d.path().join("data");
    gen(&data, 40_000, 3);
    let as_of = std::fs::read_to_string(data.join("AS_OF"))
        .unwrap()
        .trim()
        .to_string();
    let mut inventories: Vec<String> = std::fs::read_dir(data.join("inventory"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    inventories.sort();
    let suppliers = data.join("suppliers.csv");
    let mut cmd = bin();
    cmd.args(["sweep", "--as-of", &as_of, "--suppliers"])
        .arg(&suppliers)
        .arg("--out")
        .arg(d.path().join("engine"));
    for inv in &inventories {
        cmd.arg("--inventory").arg(inv);
    }
    run_expect(&mut cmd, 0);

    let truth = std::fs::read_to_string(data.join("ground_truth.csv")).unwrap();
    let count = |kind: &str| {
        truth
            .lines()
            .filter(|l| l.starts_with(&format!("{kind},")))
            .count() as u64
    };
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.path().join("engine/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        summary["rows"]["rejected"].as_u64().unwrap(),
        count("rejected_row"),
        "rejects vs ground truth"
    );
    assert_eq!(
        summary["rows"]["duplicate_rows"].as_u64().unwrap(),
        count("identical_row"),
        "collapsed rows vs ground truth"
    );
    assert!(
        summary["shared_mpxns"].as_u64().unwrap() > 0,
        "conflicts were injected"
    );

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/reference_sweep.py");
    let mut py = std::process::Command::new("python3");
    py.arg(script)
        .args(["--as-of", &as_of, "--suppliers"])
        .arg(&suppliers)
        .arg("--out")
        .arg(d.path().join("reference"));
    for inv in &inventories {
        py.arg("--inventory").arg(inv);
    }
    run_expect(&mut py, 0);
    for name in ["decisions.csv", "duplicates.csv", "rejects.csv"] {
        let a = std::fs::read(d.path().join("engine").join(name)).unwrap();
        let b = std::fs::read(d.path().join("reference").join(name)).unwrap();
        assert!(
            a == b,
            "{name}: the engine and the reference differ on generated data"
        );
    }
}
