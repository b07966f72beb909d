//! Supplier portfolios and per-party notices: nothing leaks between parties.
//!
//! A generated dataset shares MPxNs across six parties (and mixes parties inside
//! installations). For every party, its reports — `portfolio` as CSV and JSON Lines, and
//! `sweep --per-party` from CSV and from the index — must not contain any other party's
//! supplier ids, party id, name or installation ids, nor any device GUID in any
//! spelling — the HTML notices of `sweep --per-party --report` included; and they must
//! still say what the party needs (its installations, anonymous other members).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::util::*;

const PARTIES: [&str; 6] = ["ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO", "FOXTROT"];

fn party_id(p: usize) -> String {
    format!("PTY-{}", PARTIES[p])
}

/// Each party has two supplier ids; some rows spell them in lower case.
fn supplier_id(p: usize, k: usize) -> String {
    format!("SUP-{}-{}", PARTIES[p], k + 1)
}

struct Generated {
    dir: TestDir,
    inventories: Vec<PathBuf>,
    registry: PathBuf,
    /// installation id → parties that are Responsible Supplier of one of its meters.
    owners: BTreeMap<String, BTreeSet<usize>>,
    guids: Vec<String>,
}

/// A small deterministic generator (xorshift), so the test needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn generate() -> Generated {
    let dir = TestDir::new();
    let mut registry = String::from("supplier_id,party_id,name,status\n");
    for (p, name) in PARTIES.iter().enumerate() {
        let status = match p {
            4 => "ceased_trading",
            5 => "not_live_user",
            _ => "live",
        };
        for k in 0..2 {
            let (supplier, party) = (supplier_id(p, k), party_id(p));
            registry.push_str(&format!("{supplier},{party},{name} Energy,{status}\n"));
        }
    }
    let registry = dir.write("suppliers.csv", registry);
    // Few MPxNs for many meters: most are shared, across parties and sources.
    let mpans: Vec<String> = (0..30).map(|n| mpan(500 + n)).collect();
    let mprns: Vec<String> = (0..15).map(|n| mprn(700 + n)).collect();
    let sources = ["SMSO-ONE", "SMSO-TWO", "SMETS2"];
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut files: Vec<Inventory> = sources.iter().map(|_| Inventory::new()).collect();
    let mut owners: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut guids = Vec::new();
    for n in 0..150 {
        let s = rng.below(sources.len());
        let id = format!("INST-{n:05}-Q");
        let year = 2015 + rng.below(9);
        let inst = Inst::new(sources[s], &id)
            .group(if s == 2 {
                ""
            } else {
                ["AA", "CB", "EC"][rng.below(3)]
            })
            .installed(&format!("{year}-0{}-1{}", 1 + rng.below(9), rng.below(9)))
            .comms(if rng.below(3) == 0 { STALE } else { RECENT })
            .dormant(if rng.below(5) == 0 { "Y" } else { "N" });
        let chf = inst.chf();
        guids.push(chf.fields()[3].clone());
        files[s].add(chf);
        let meters = if rng.below(3) == 0 { 2 } else { 1 };
        for m in 0..meters {
            let p = rng.below(PARTIES.len());
            let mut supplier = supplier_id(p, rng.below(2));
            if rng.below(4) == 0 {
                supplier = supplier.to_lowercase();
            }
            let dev = if m == 0 {
                inst.esme(&mpans[rng.below(mpans.len())])
            } else {
                inst.gsme(&mprns[rng.below(mprns.len())])
            }
            .supplier(&supplier);
            guids.push(dev.fields()[3].clone());
            owners.entry(id.clone()).or_default().insert(p);
            files[s].add(dev);
        }
    }
    let inventories = files
        .iter()
        .enumerate()
        .map(|(i, inv)| dir.write(&format!("inv{i}.csv"), inv.bytes()))
        .collect();
    Generated {
        dir,
        inventories,
        registry,
        owners,
        guids,
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Everything party `p` must never see.
fn forbidden_for(g: &Generated, p: usize) -> Vec<String> {
    let mut words = Vec::new();
    for q in (0..PARTIES.len()).filter(|&q| q != p) {
        words.push(party_id(q));
        words.push(format!("{} Energy", PARTIES[q]));
        for k in 0..2 {
            words.push(supplier_id(q, k));
        }
    }
    for (inst, parties) in &g.owners {
        if !parties.contains(&p) {
            words.push(inst.clone());
        }
    }
    for guid in &g.guids {
        words.push(guid.clone());
        words.push(guid.replace('-', ""));
    }
    words
}

/// Builds the generated data's index and returns its path.
fn build_index(g: &Generated) -> PathBuf {
    let index = g.dir.path().join("national.mxi");
    let mut cmd = bin();
    cmd.args(["index", "build", "--quiet", "--suppliers"])
        .arg(&g.registry)
        .arg("--out")
        .arg(&index);
    for inv in &g.inventories {
        cmd.arg("--inventory").arg(inv);
    }
    run_expect(&mut cmd, 0);
    index
}

/// `sweep` of the generated CSV, writing outputs to `out` and per-party reports to `dir`.
fn csv_sweep_per_party(g: &Generated, out: &str, dir: &Path) -> std::process::Command {
    let mut cmd = bin();
    cmd.args(["sweep", "--as-of", AS_OF, "--suppliers"])
        .arg(&g.registry);
    for inv in &g.inventories {
        cmd.arg("--inventory").arg(inv);
    }
    cmd.arg("--out")
        .arg(g.dir.path().join(out))
        .arg("--per-party")
        .arg(dir);
    cmd
}

fn assert_no_leak(text: &str, forbidden: &[String], what: &str) {
    let upper = text.to_ascii_uppercase();
    for word in forbidden {
        assert!(
            !upper.contains(&word.to_ascii_uppercase()),
            "{what} reveals `{word}`:\n{text}"
        );
    }
}

#[test]
fn no_party_report_reveals_another_partys_identifiers() {
    let g = generate();
    let index = build_index(&g);

    // Per-party reports from the index sweep and from the CSV sweep.
    let from_index = g.dir.path().join("per-party-index");
    let mut cmd = bin();
    cmd.args(["sweep", "--as-of", AS_OF, "--index"]).arg(&index);
    cmd.arg("--out")
        .arg(g.dir.path().join("out1"))
        .arg("--per-party")
        .arg(&from_index)
        .arg("--report");
    run_expect(&mut cmd, 0);
    let from_csv = g.dir.path().join("per-party-csv");
    run_expect(
        csv_sweep_per_party(&g, "out2", &from_csv).args(["--json", "--report"]),
        0,
    );

    let mut shared_with_others = 0;
    for p in 0..PARTIES.len() {
        let forbidden = forbidden_for(&g, p);
        let pid = party_id(p);
        let mut reports: Vec<PathBuf> = Vec::new();
        for (json, name) in [(false, "p.csv"), (true, "p.jsonl")] {
            let out = g.dir.path().join(format!("{pid}-{name}"));
            let mut cmd = bin();
            cmd.args(["portfolio", "--as-of", AS_OF, "--party", &pid, "--index"])
                .arg(&index)
                .arg("--out")
                .arg(&out);
            if json {
                cmd.arg("--json");
            }
            run_expect(&mut cmd, 0);
            reports.push(out);
        }
        for dir in [&from_index, &from_csv] {
            reports.extend(files_in(dir).into_iter().filter(|f| {
                f.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{pid}."))
            }));
        }
        assert_eq!(
            reports.len(),
            8,
            "{pid}: expected 2 portfolio files and 3 per-party files per sweep"
        );
        for report in &reports {
            let text = std::fs::read_to_string(report).unwrap();
            assert_no_leak(
                &text,
                &forbidden,
                &format!("{} (party {pid})", report.display()),
            );
        }

        // And the report still says what the party needs: each of its SMETS1
        // installations, with anonymous other members where MPxNs are shared.
        let csv = std::fs::read_to_string(&reports[0]).unwrap();
        let mine: BTreeSet<&str> = g
            .owners
            .iter()
            .filter(|(inst, parties)| parties.contains(&p) && !is_smets2(&g, inst))
            .map(|(inst, _)| inst.as_str())
            .collect();
        let listed: BTreeSet<&str> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(3).unwrap())
            .collect();
        assert_eq!(
            listed, mine,
            "{pid}: the report must list exactly its SMETS1 installations"
        );
        // other_same_party is the 16th column; the last, party_id, names the party.
        shared_with_others += csv
            .lines()
            .skip(1)
            .filter(|l| l.split(',').nth(15) == Some("no"))
            .count();
        assert!(
            csv.lines().skip(1).all(|l| l.ends_with(&format!(",{pid}"))),
            "{pid}: every row names its party"
        );
        // CSV and index per-party reports agree with the portfolio command.
        let per_party = std::fs::read_to_string(from_index.join(format!("{pid}.csv"))).unwrap();
        assert_eq!(
            per_party, csv,
            "{pid}: sweep --per-party and portfolio differ"
        );
        // The page: the same in both sweeps, every figure its impact summary's, and
        // each of the party's installations listed.
        let page = std::fs::read_to_string(from_index.join(format!("{pid}.html"))).unwrap();
        assert_eq!(
            page,
            std::fs::read_to_string(from_csv.join(format!("{pid}.html"))).unwrap(),
            "{pid}: the CSV and index sweeps' pages differ"
        );
        let impact: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(from_index.join(format!("{pid}.impact.json"))).unwrap(),
        )
        .unwrap();
        crate::report_html::assert_figures_match(&page, &impact, &format!("{pid}.html"));
        for inst in &mine {
            assert!(page.contains(inst), "{pid}.html does not list {inst}");
        }
    }
    assert!(
        shared_with_others > 20,
        "the dataset must share MPxNs across parties ({shared_with_others})"
    );
}

fn is_smets2(g: &Generated, inst: &str) -> bool {
    // Installations are written to the file of their source; inv2.csv is SMETS2.
    let smets2 = std::fs::read_to_string(&g.inventories[2]).unwrap();
    smets2.contains(&format!(",{inst},"))
}

#[test]
fn listed_mpxns_are_found_unknown_invalid_or_anothers() {
    let g = generate();
    let index = build_index(&g);
    // An MPAN that only other parties carry, written with spaces; one nobody carries;
    // one of ALPHA's.
    let inv_text: String = g
        .inventories
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let carriers = |m: &str| -> BTreeSet<usize> {
        inv_text
            .lines()
            .filter(|l| l.contains(&format!(",{m},")))
            .filter_map(|l| {
                PARTIES
                    .iter()
                    .position(|p| l.to_ascii_uppercase().contains(&format!("SUP-{p}-")))
            })
            .collect()
    };
    let candidates: Vec<String> = (0..30).map(|n| mpan(500 + n)).collect();
    let not_alphas = candidates
        .iter()
        .find(|m| !carriers(m).is_empty() && !carriers(m).contains(&0))
        .expect("an MPAN that only other parties carry");
    let alphas = candidates
        .iter()
        .find(|m| carriers(m).contains(&0))
        .expect("an MPAN of ALPHA's");
    let spaced = format!("{} {}", &not_alphas[..4], &not_alphas[4..]);
    let unknown = mpan(9999);
    // Invalid: ALPHA's MPAN with its check digit changed; an MPRN one digit short.
    let last = alphas.as_bytes()[12] - b'0';
    let bad_check = format!("{}{}", &alphas[..12], (last + 1) % 10);
    let short = "12345";
    let list = g.dir.write(
        "keys.txt",
        format!("{spaced}\n\n{unknown}\n{alphas}\n{bad_check}\n{short}\n"),
    );
    let out = g.dir.path().join("alpha.csv");
    let mut cmd = bin();
    cmd.args([
        "portfolio",
        "--as-of",
        AS_OF,
        "--party",
        "PTY-ALPHA",
        "--mpxns",
    ])
    .arg(&list);
    cmd.arg("--index").arg(&index).arg("--out").arg(&out);
    let o = run_expect(&mut cmd, 0);
    let text = std::fs::read_to_string(&out).unwrap();
    // The counts by status, then by outcome, on standard error.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("5 listed: 1 found, 1 unknown, 2 invalid, 1 another supplier's; "),
        "{stderr}"
    );
    let invalid: Vec<_> = text
        .lines()
        .skip(1)
        .filter(|l| l.starts_with(&format!("{bad_check},")) || l.starts_with("12345,"))
        .collect();
    assert_eq!(invalid.len(), 2, "{text}");
    assert!(
        invalid[0].starts_with(&format!(
            "{bad_check},invalid,,,,,,,,,,,,,,,\"MPAN check digit fails: the core {bad_check} ends in {}, its first 12 digits give {last}\",PTY-ALPHA",
            (last + 1) % 10
        )),
        "{text}"
    );
    assert!(
        invalid[1].starts_with("12345,invalid,") && invalid[1].contains("5 significant digits"),
        "{text}"
    );
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let other: Vec<_> = rows.iter().filter(|r| r[0] == spaced).collect();
    assert_eq!(other.len(), 1, "{text}");
    assert_eq!(other[0][1], "registered to another supplier");
    assert!(
        other[0][2..16].iter().all(|f| f.is_empty()),
        "nothing more than the status and the party it is asked for: {text}"
    );
    assert_eq!((other[0][16], other[0][17]), ("", "PTY-ALPHA"));
    let unknown_rows: Vec<_> = rows.iter().filter(|r| r[0] == unknown).collect();
    assert_eq!(
        (unknown_rows.len(), unknown_rows[0][1]),
        (1, "unknown"),
        "{text}"
    );
    let found: Vec<_> = rows.iter().filter(|r| r[0] == alphas.as_str()).collect();
    assert!(
        !found.is_empty()
            && found
                .iter()
                .all(|r| r[1] == "found" && r[9] == alphas.as_str()),
        "{text}"
    );
    assert_no_leak(&text, &forbidden_for(&g, 0), "ALPHA's list report");

    // The same values as a column of a CSV with a header (quoted, CRLF, pipe or comma),
    // give the same report.
    let table = g.dir.write(
        "keys.csv",
        format!(
            "site,\"MPAN Number\"\r\nA,\"{spaced}\"\r\nB,\r\nC,{unknown}\r\nD,{alphas}\r\nE,{bad_check}\r\nF,{short}\r\n"
        ),
    );
    let by_column = g.dir.path().join("by-column.csv");
    let mut cmd = bin();
    cmd.args([
        "portfolio",
        "--as-of",
        AS_OF,
        "--party",
        "PTY-ALPHA",
        "--column",
        "mpan number",
        "--mpxns",
    ])
    .arg(&table)
    .arg("--index")
    .arg(&index)
    .arg("--out")
    .arg(&by_column);
    run_expect(&mut cmd, 0);
    assert_eq!(std::fs::read_to_string(&by_column).unwrap(), text);
    // A column the header lacks is refused, naming the file and the columns it has.
    let mut cmd = bin();
    cmd.args([
        "portfolio",
        "--as-of",
        AS_OF,
        "--party",
        "PTY-ALPHA",
        "--column",
        "mprn",
        "--mpxns",
    ])
    .arg(&table)
    .arg("--index")
    .arg(&index)
    .arg("--out")
    .arg(&by_column);
    let o = run_expect(&mut cmd, 2);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("keys.csv:1: the header has no column `mprn` (it has: site, MPAN Number)"),
        "{stderr}"
    );

    // An unknown party is refused.
    let mut cmd = bin();
    cmd.args(["portfolio", "--party", "PTY-NOBODY", "--index"])
        .arg(&index)
        .arg("--out")
        .arg(&out);
    let o = run_expect(&mut cmd, 2);
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("party `PTY-NOBODY` is not in the supplier registry"));
}

#[test]
fn impact_summaries_count_the_partys_installations() {
    let g = generate();
    let dir = g.dir.path().join("pp");
    run_expect(&mut csv_sweep_per_party(&g, "out", &dir), 0);
    for p in 0..PARTIES.len() {
        let pid = party_id(p);
        let impact: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{pid}.impact.json"))).unwrap(),
        )
        .unwrap();
        let report = std::fs::read_to_string(dir.join(format!("{pid}.csv"))).unwrap();
        let installations: BTreeSet<&str> = report
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(3).unwrap())
            .collect();
        assert_eq!(impact["party_id"], pid.as_str());
        assert_eq!(
            impact["installations"].as_u64().unwrap() as usize,
            installations.len(),
            "{pid}"
        );
        let sum = |v: &serde_json::Value| {
            v.as_object()
                .unwrap()
                .values()
                .map(|n| n.as_u64().unwrap())
                .sum::<u64>()
        };
        assert_eq!(
            sum(&impact["outcomes"]) as usize,
            installations.len(),
            "{pid}"
        );
        let by_dormancy: u64 = impact["by_dormancy"]
            .as_object()
            .unwrap()
            .values()
            .map(sum)
            .sum();
        let by_group: u64 = impact["by_group_id"]
            .as_object()
            .unwrap()
            .values()
            .map(sum)
            .sum();
        assert_eq!(
            (by_dormancy as usize, by_group as usize),
            (installations.len(), installations.len()),
            "{pid}"
        );
    }
    // The ceased-trading party's dormant meters unblock under 4.1A somewhere.
    let echo: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("PTY-ECHO.impact.json")).unwrap())
            .unwrap();
    assert!(
        echo["reasons"]["DORMANT_SUPPLIER_CEASED"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{echo}"
    );
}

#[test]
fn a_notices_folder_holds_exactly_the_last_runs_notices() {
    let dir = TestDir::new();
    let root = env!("CARGO_MANIFEST_DIR");
    let pp = dir.path().join("notices").join("pp");
    let names = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let sweep = |extra: &[&str], registry: &Path| {
        let mut cmd = bin();
        cmd.current_dir(root)
            .args(["sweep", "--as-of", "2024-06-30", "--suppliers"]);
        cmd.arg(registry);
        let mut inventories: Vec<PathBuf> =
            std::fs::read_dir(Path::new(root).join("datasets/sample/inventory"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
        inventories.sort();
        for inv in inventories {
            cmd.arg("--inventory").arg(inv);
        }
        cmd.args(extra)
            .arg("--out")
            .arg(dir.path().join("out"))
            .arg("--per-party")
            .arg(&pp);
        run_expect(&mut cmd, 0)
    };
    let registry = Path::new(root).join("datasets/sample/suppliers.csv");
    sweep(&[], &registry);
    let parties = ["P0101", "P0102", "P0103", "P0201", "P0301"];
    let csv_set: BTreeSet<String> = parties
        .iter()
        .flat_map(|p| [format!("{p}.csv"), format!("{p}.impact.json")])
        .chain([".mpxn-recon-notices".to_string()])
        .collect();
    assert_eq!(names(&pp), csv_set);
    let manifest = std::fs::read_to_string(pp.join(".mpxn-recon-notices")).unwrap();
    let listed: BTreeSet<String> = manifest.lines().map(str::to_string).collect();
    let mut without_manifest = csv_set.clone();
    without_manifest.remove(".mpxn-recon-notices");
    assert_eq!(
        listed, without_manifest,
        "the manifest lists what the run wrote"
    );

    // A file of someone else's, and a manifest line that points outside the folder.
    std::fs::write(pp.join("cover-letter.txt"), "to the suppliers").unwrap();
    let outside = dir.path().join("notices").join("outside.csv");
    std::fs::write(&outside, "not ours").unwrap();
    std::fs::write(
        pp.join(".mpxn-recon-notices"),
        format!("{manifest}../outside.csv\n/{}\n", outside.display()),
    )
    .unwrap();
    // --json: the CSV notices of the first run go; the cover letter stays, said on stderr.
    let o = sweep(&["--json"], &registry);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let json_set: BTreeSet<String> = parties
        .iter()
        .flat_map(|p| [format!("{p}.jsonl"), format!("{p}.impact.json")])
        .chain([
            ".mpxn-recon-notices".to_string(),
            "cover-letter.txt".to_string(),
        ])
        .collect();
    assert_eq!(names(&pp), json_set, "{stderr}");
    assert!(
        stderr.contains("removed") && stderr.contains("P0101.csv, written by an earlier run"),
        "{stderr}"
    );
    assert!(
        stderr.contains("left") && stderr.contains("cover-letter.txt: not written by mpxn-recon"),
        "{stderr}"
    );
    assert!(outside.exists(), "nothing outside the folder is touched");

    // A party gone from the registry: its notice goes too.
    let fewer = dir.write(
        "fewer.csv",
        std::fs::read_to_string(&registry)
            .unwrap()
            .lines()
            .filter(|l| !l.contains("P0301"))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    sweep(&["--json"], &fewer);
    let now = names(&pp);
    assert!(
        !now.contains("P0301.jsonl") && !now.contains("P0301.impact.json"),
        "{now:?}"
    );
    assert!(
        now.contains("P0101.jsonl") && now.contains("cover-letter.txt"),
        "{now:?}"
    );
}

/// A notice shows the values behind an installation's data-issue findings only when
/// every meter there is the party's own: in an installation shared with another party
/// or an unknown supplier, a value's row may be that meter's (another party's mistyped
/// MPRN, a supplier id that is another party's typo), so the values are withheld.
#[test]
fn a_notice_shows_the_values_behind_its_findings_only_from_its_own_meters() {
    let dir = TestDir::new();
    let registry = dir.write(
        "suppliers.csv",
        "supplier_id,party_id,name,status\n\
         SUP-A,PTY-ALPHA,Alpha Energy,live\n\
         SUP-B,PTY-BRAVO,Bravo Energy,live\n",
    );
    let mut inv = Inventory::new();
    // ALPHA's alone, with an MPAN whose check digit is wrong.
    let good = mpan(44);
    let last = good.as_bytes()[12] - b'0';
    let bad = format!("{}{}", &good[..12], (last + 1) % 10);
    let own = Inst::a("OWN-1").supplier("SUP-A");
    inv.add(own.chf())
        .add(own.esme(&bad))
        .add(own.gsme(&mprn(11)));
    // ALPHA's alone too, but its hub's GUID is also a device of BRAVO's installation, and
    // its IHD's device id does not parse: device ids never go in a notice.
    let shared_guid = "00-1B-C5-09-77-AB-CD-01";
    let twin = Inst::a("TWIN-4").supplier("SUP-A");
    inv.add(twin.chf().id(shared_guid))
        .add(twin.device("IHD").id("NOT-A-GUID-77"))
        .add(twin.esme(&mpan(55)));
    let bravos = Inst::b("BRAVO-5").supplier("SUP-B");
    inv.add(bravos.chf().id(shared_guid))
        .add(bravos.esme(&mpan(66)));
    // ALPHA's electricity meter beside BRAVO's gas meter, whose MPRN is mistyped.
    let mixed = Inst::a("MIXED-2").supplier("SUP-A");
    inv.add(mixed.chf())
        .add(mixed.esme(&mpan(22)))
        .add(mixed.gsme("BRAVO-OOPS-77").supplier("SUP-B"));
    // ALPHA's meter beside one whose supplier id is nobody's: perhaps BRAVO's, mistyped.
    let unknown = Inst::a("UNKNOWN-3").supplier("SUP-A");
    inv.add(unknown.chf())
        .add(unknown.esme(&mpan(33)))
        .add(unknown.gsme(&mprn(34)).supplier("SUP-BRAVO-TYPO"));
    let inventory = dir.write("inv.csv", inv.bytes());
    let notices = dir.path().join("notices");
    let mut cmd = bin();
    cmd.args(["sweep", "--quiet", "--as-of", AS_OF, "--suppliers"])
        .arg(&registry)
        .arg("--inventory")
        .arg(&inventory)
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--per-party")
        .arg(&notices)
        .arg("--report");
    run_expect(&mut cmd, 0);
    let mut json_cmd = bin();
    json_cmd
        .args([
            "sweep",
            "--quiet",
            "--json",
            "--as-of",
            AS_OF,
            "--suppliers",
        ])
        .arg(&registry)
        .arg("--inventory")
        .arg(&inventory)
        .arg("--out")
        .arg(dir.path().join("out-json"))
        .arg("--per-party")
        .arg(dir.path().join("notices-json"));
    run_expect(&mut json_cmd, 0);

    let alpha = std::fs::read_to_string(notices.join("PTY-ALPHA.csv")).unwrap();
    let row = |id: &str| -> String {
        alpha
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("no row for {id}:\n{alpha}"))
            .to_string()
    };
    assert!(
        row("OWN-1").contains("INVALID_MPAN: ")
            && row("OWN-1").contains(&format!("line 3, mpxn \"\"{bad}\"\"")),
        "the party's own bad MPAN is shown with its file, line and column:\n{alpha}"
    );
    assert!(
        row("TWIN-4").contains("DUPLICATE_GUID") && row("TWIN-4").contains("INVALID_GUID"),
        "the device-id findings stand as codes:\n{alpha}"
    );
    for id in ["MIXED-2", "UNKNOWN-3"] {
        assert!(
            row(id).contains("values withheld"),
            "{id}: values of a shared installation are withheld:\n{alpha}"
        );
    }
    let alpha_json =
        std::fs::read_to_string(dir.path().join("notices-json/PTY-ALPHA.jsonl")).unwrap();
    let bravo = std::fs::read_to_string(notices.join("PTY-BRAVO.csv")).unwrap();
    let bravo_json =
        std::fs::read_to_string(dir.path().join("notices-json/PTY-BRAVO.jsonl")).unwrap();
    let alpha_html = std::fs::read_to_string(notices.join("PTY-ALPHA.html")).unwrap();
    let bravo_html = std::fs::read_to_string(notices.join("PTY-BRAVO.html")).unwrap();
    assert!(
        alpha_html.contains(&format!("line 3, mpxn &quot;{bad}&quot;"))
            || alpha_html.contains(&format!("line 3, mpxn &#34;{bad}&#34;")),
        "the page shows the party's own value too:\n{alpha_html}"
    );
    assert!(alpha_html.contains("values withheld"), "{alpha_html}");
    // The page and the impact summary name the party as the registry does.
    assert!(
        alpha_html.contains("Alpha Energy") && bravo_html.contains("Bravo Energy"),
        "a notice names its party from the registry:\n{alpha_html}"
    );
    let impact: serde_json::Value =
        serde_json::from_slice(&std::fs::read(notices.join("PTY-ALPHA.impact.json")).unwrap())
            .unwrap();
    assert_eq!(impact["name"], "Alpha Energy");
    for (name, text) in [
        ("ALPHA csv", &alpha),
        ("ALPHA jsonl", &alpha_json),
        ("ALPHA html", &alpha_html),
        ("BRAVO csv", &bravo),
        ("BRAVO jsonl", &bravo_json),
        ("BRAVO html", &bravo_html),
    ] {
        let other = if name.starts_with("ALPHA") {
            "Bravo Energy"
        } else {
            "Alpha Energy"
        };
        assert_no_leak(
            text,
            &[
                "BRAVO-OOPS-77".to_string(),
                "SUP-BRAVO-TYPO".to_string(),
                other.to_string(),
                shared_guid.to_string(),
                shared_guid.replace('-', ""),
                "NOT-A-GUID-77".to_string(),
            ],
            name,
        );
    }
    assert!(
        bravo.contains("MIXED-2") && bravo.contains("values withheld"),
        "BRAVO's notice lists its installation, values withheld too:\n{bravo}"
    );
    let own: serde_json::Value = alpha_json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["installation"]["installation_id"] == "OWN-1")
        .unwrap();
    assert_eq!(own["installation"]["values_withheld"], false);
    assert_eq!(own["installation"]["values"][0]["finding"], "INVALID_MPAN");
    assert_eq!(own["installation"]["values"][0]["value"], bad.as_str());
    assert_eq!(own["installation"]["values"][0]["line"], 3);
}
