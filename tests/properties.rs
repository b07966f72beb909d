//! Property tests of SPEC §6.3 on random inventories drawn from small pools of values
//! (so that shared MPxNs, duplicate GUIDs, identical rows, ties and unknown dates are
//! common):
//!
//! - outputs are byte-identical under any permutation of rows and any split into files
//!   (findings.csv aside: it names lines, as rejects.csv does, and the text as written);
//! - outputs are byte-identical with 1 and 2 threads, even with tiny parse chunks,
//!   however the installations are cut into partitions and whether or not rows and keys
//!   spill to disk under a tiny memory budget (the index image too);
//! - no MPxN is carried by two installations that are both unblocked for DUP_RESOLVED;
//! - every SMETS1 installation appears exactly once in decisions.csv, and the row
//!   accounting holds;
//! - a sweep from a written and re-opened index file writes the CSV sweep's bytes, at
//!   any as-of date and window, `whatif.csv` and `findings.csv` included;
//! - the engine agrees byte for byte with the independent Python reading of the spec
//!   (`scripts/reference_sweep.py`), what-if `only-communicating` included;
//! - SPEC §6.4: no MPxN is carried by two installations that both get
//!   DUP_ONLY_COMMUNICATING; `--what-if` changes no byte of the other outputs and no
//!   existing summary key, and `whatif.csv` lists exactly the changed outcomes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use mpxn_recon::index::{build, file as index_file};
use mpxn_recon::ingest::IngestSettings;
use mpxn_recon::judge;
use mpxn_recon::normalize::Day;
use mpxn_recon::report;
use mpxn_recon::resolve::{AsOf, CommStatus, Finding, WhatIf};
use mpxn_recon::spill::Budget;
use mpxn_recon::sweep::{self, SweepConfig};
use proptest::prelude::*;

const HEADER: &str =
    "source,group_id,installation_id,device_id,device_type,mpxn,installed_on,last_comms_at,supplier_id,dormant";

const REGISTRY: &str = "supplier_id,party_id,name,status\n\
    LIVE1,P-LIVE,Live One,live\n\
    live2,P-LIVE,Live Two,live\n\
    GONE,P-GONE,Gone Ltd,ceased_trading\n\
    NOTU,P-NOTU,Not a User,not_live_user\n";

fn mpan(first12: &str) -> String {
    let w = [3u32, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43];
    let s: u32 = first12
        .bytes()
        .zip(w)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    format!("{first12}{}", s % 11 % 10)
}

/// A valid MPRN: `first` and its two check digits (SPEC §4).
fn mprn_of(first: &str) -> String {
    let d: Vec<u32> = first.bytes().map(|b| u32::from(b - b'0')).collect();
    let sum: u32 = d
        .iter()
        .enumerate()
        .map(|(i, v)| v * (d.len() - i) as u32)
        .sum();
    format!("{first}{:02}", sum % 11)
}

fn pick<T: Clone + std::fmt::Debug + 'static>(pool: Vec<T>) -> impl Strategy<Value = T> {
    prop::sample::select(pool)
}

/// One inventory line from small pools. Every line is acceptable (no rejects), so
/// permuting lines across files cannot change rejects.csv.
fn line() -> impl Strategy<Value = String> {
    let a = mpan("140000000001");
    let b = mpan("230000000002");
    let mpxns = vec![
        a.clone(),
        format!("{} {}", &a[..2], &a[2..]),
        format!("01801234{a}"),
        b.clone(),
        "3938424403".to_string(),
        "003938424403".to_string(),
        "123409".to_string(),
        "1234567890123".to_string(),
        "".to_string(),
    ];
    let guids = vec![
        "00-0D-6F-00-00-00-00-01",
        "000d6f0000000001",
        "00-0D-6F-00-00-00-00-02",
        "00:0d:6f:00:00:00:00:03",
        "00-0D-6F-00-00-00-00-04",
        "00-0D-6F-00-00-00-00-05",
        "00-0D-6F-00-00-00-00-06",
        "not-a-guid",
    ];
    (
        pick(vec!["SMSO-A", "smso-a", "SMSO-B", "SMETS2", "smets2"]),
        pick(vec!["", "AA", "ba", "CB"]),
        pick(vec!["I1", "I2", "I3", "I4", "I5", "I6"]),
        pick(guids),
        pick(vec!["ESME", "GSME", "CHF", "esme", "IHD"]),
        pick(mpxns),
        pick(vec![
            "2020-01-01",
            "2021-06-01",
            "2021-06-01T12:00:00Z",
            "2022-02-30",
            "",
        ]),
        pick(vec![
            "",
            "2024-06-20",
            "2024-06-30T23:30:00-01:00",
            "2024-01-01",
            "2024-07-05",
            "bad",
        ]),
        pick(vec!["LIVE1", "Live2", "GONE", "NOTU", "", "nobody"]),
        pick(vec!["", "Y", "true", "N"]),
    )
        .prop_map(|(s, g, i, d, t, m, o, c, u, y)| {
            format!("{s},{g},{i},{d},{t},{m},{o},{c},{u},{y}")
        })
}

/// A dataset: lines, some repeated verbatim so that identical rows are collapsed.
fn dataset() -> impl Strategy<Value = Vec<String>> {
    (
        prop::collection::vec(line(), 1..40),
        prop::collection::vec(any::<prop::sample::Index>(), 0..5),
    )
        .prop_map(|(mut lines, repeats)| {
            for r in repeats {
                let l = lines[r.index(lines.len())].clone();
                lines.push(l);
            }
            lines
        })
}

/// A dataset where the duplicate rules decide most outcomes (for SPEC §6.4): few
/// installations over a handful of valid MPANs and MPRNs, install dates that tie,
/// statuses mostly communicating or silent, and a data issue only now and then (a GUID
/// of its own per line, a rare unparseable or future date).
fn crowded_dataset() -> impl Strategy<Value = Vec<String>> {
    let mpans = vec![
        mpan("140000000001"),
        mpan("230000000002"),
        mpan("150000000003"),
        mpan("160000000004"),
        mpan("170000000005"),
    ];
    let mprns = vec![
        "3938424403".to_string(),
        "123409".to_string(),
        mprn_of("4000000"),
    ];
    let row = (
        pick(vec!["SMSO-A", "SMSO-B", "SMETS2"]),
        pick(vec!["I1", "I2", "I3", "I4", "I5"]),
        pick(vec!["ESME", "ESME", "GSME", "GSME", "CHF"]),
        any::<prop::sample::Index>(),
        prop_oneof![
            11 => pick(vec!["2019-01-01", "2020-06-01", "2021-06-01", "2021-06-01T12:00:00Z"]),
            1 => Just("2022-02-30"),
        ],
        prop_oneof![
            8 => Just("2024-06-20"),
            12 => Just("2024-01-01"),
            4 => Just(""),
            1 => Just("2024-07-05"),
            1 => Just("bad"),
        ],
        prop_oneof![6 => Just("LIVE1"), 1 => Just("GONE"), 1 => Just("NOTU")],
        pick(vec!["", "", "Y"]),
    );
    prop::collection::vec(row, 1..24).prop_map(move |rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, (s, inst, t, k, o, c, u, y))| {
                let m = match t {
                    "ESME" => k.get(&mpans).clone(),
                    "GSME" => k.get(&mprns).clone(),
                    _ => String::new(),
                };
                let guid = format!("00-0D-6F-00-00-01-{:02X}-{:02X}", i / 256, i % 256);
                format!("{s},AA,{inst},{guid},{t},{m},{o},{c},{u},{y}")
            })
            .collect()
    })
}

fn as_of() -> AsOf {
    AsOf {
        date: Day::parse(b"2024-06-30").unwrap(),
        window_days: 30,
    }
}

/// Writes `lines` into `files` inventory files (round-robin by `split`), plus the
/// registry, under `dir`; returns the inventory paths and the registry path.
fn write_inputs(
    dir: &Path,
    lines: &[String],
    split: &[usize],
    files: usize,
) -> (Vec<PathBuf>, PathBuf) {
    let mut bodies = vec![String::from(HEADER) + "\n"; files];
    for (i, l) in lines.iter().enumerate() {
        let f = split.get(i).copied().unwrap_or(0) % files;
        bodies[f].push_str(l);
        bodies[f].push('\n');
    }
    let paths: Vec<PathBuf> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let p = dir.join(format!("inv{i}.csv"));
            fs::write(&p, body).unwrap();
            p
        })
        .collect();
    let registry = dir.join("suppliers.csv");
    fs::write(&registry, REGISTRY).unwrap();
    (paths, registry)
}

/// Runs a sweep in-process on `threads` threads with `chunk` byte parse chunks and
/// returns the four output files by name.
fn sweep_outputs(
    inventories: Vec<PathBuf>,
    suppliers: PathBuf,
    threads: usize,
    chunk: usize,
) -> BTreeMap<&'static str, String> {
    let settings = IngestSettings {
        chunk_bytes: chunk,
        ..IngestSettings::default()
    };
    sweep_outputs_with(
        inventories,
        suppliers,
        threads,
        settings,
        Budget::unlimited(),
    )
}

/// Runs a sweep in-process on `threads` threads with these ingest settings and memory
/// budget and returns the four output files by name.
fn sweep_outputs_with(
    inventories: Vec<PathBuf>,
    suppliers: PathBuf,
    threads: usize,
    settings: IngestSettings,
    budget: Budget,
) -> BTreeMap<&'static str, String> {
    let out = tempfile::tempdir().unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let config = SweepConfig {
            inventories,
            suppliers,
            ingest: settings,
            budget,
            comms_after: None,
        };
        let image = sweep::run(&config, build::Purpose::Sweep)
            .expect("generated inputs are never refused")
            .image;
        let view = image.view().unwrap();
        let judgement = judge::judge(&view, as_of()).unwrap();
        report::write_dir(&view, &judgement, as_of(), out.path()).unwrap();
    });
    [
        report::DECISIONS,
        report::DUPLICATES,
        report::REJECTS,
        report::FINDINGS,
        report::SUMMARY,
    ]
    .into_iter()
    .map(|name| (name, fs::read_to_string(out.path().join(name)).unwrap()))
    .collect()
}

/// One installation of a what-if sweep: the MPxNs its meters carry, its communication
/// status, and whether it gets DUP_ONLY_COMMUNICATING under the policy.
struct Carrier {
    mpxns: Vec<String>,
    comm: CommStatus,
    only: bool,
}

/// A sweep with the what-if policy only-communicating, on two threads: its five
/// outputs by name, and every installation (SMETS2 ones included) as a [`Carrier`].
fn what_if_outputs(
    inventories: Vec<PathBuf>,
    suppliers: PathBuf,
) -> (BTreeMap<&'static str, String>, Vec<Carrier>) {
    let out = tempfile::tempdir().unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let holders = pool.install(|| {
        let config = SweepConfig {
            inventories,
            suppliers,
            ingest: IngestSettings::default(),
            budget: Budget::unlimited(),
            comms_after: None,
        };
        let image = sweep::run(&config, build::Purpose::Sweep)
            .expect("generated inputs are never refused")
            .image;
        let view = image.view().unwrap();
        let judgement = judge::judge(&view, as_of()).unwrap();
        let policy = WhatIf::OnlyCommunicating;
        report::write_dir_with(&view, &judgement, as_of(), Some(policy), out.path()).unwrap();
        (0..view.installation_count())
            .map(|i| {
                let text = String::from_utf8(view.mpxns_text(i).unwrap().to_vec()).unwrap();
                Carrier {
                    mpxns: text
                        .split(';')
                        .filter(|m| !m.is_empty())
                        .map(str::to_string)
                        .collect(),
                    comm: judgement.comm[i],
                    only: policy
                        .findings(judgement.findings[i])
                        .contains(Finding::DupOnlyCommunicating),
                }
            })
            .collect()
    });
    let files = [
        report::DECISIONS,
        report::DUPLICATES,
        report::REJECTS,
        report::WHATIF,
        report::SUMMARY,
    ]
    .into_iter()
    .map(|name| (name, fs::read_to_string(out.path().join(name)).unwrap()))
    .collect();
    (files, holders)
}

/// The four outputs of a CSV sweep and of a sweep from the same inputs' index file.
fn csv_and_index_outputs(
    inventories: Vec<PathBuf>,
    suppliers: PathBuf,
    as_of: AsOf,
) -> [BTreeMap<&'static str, Vec<u8>>; 2] {
    let config = SweepConfig {
        inventories,
        suppliers,
        ingest: IngestSettings::default(),
        budget: Budget::unlimited(),
        // As `sweep` does: the image keeps only the FUTURE_COMMS candidates after the date.
        comms_after: Some(as_of.date),
    };
    let image = sweep::run(&config, build::Purpose::Sweep)
        .map(|b| b.image)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write_outputs = |view: &mpxn_recon::index::View<'_>, out: &Path| {
        let judgement = judge::judge(view, as_of).unwrap();
        report::write_dir(view, &judgement, as_of, out).unwrap();
        let mut files: BTreeMap<&'static str, Vec<u8>> = [
            report::DECISIONS,
            report::DUPLICATES,
            report::REJECTS,
            report::FINDINGS,
            report::SUMMARY,
        ]
        .into_iter()
        .map(|name| (name, fs::read(out.join(name)).unwrap()))
        .collect();
        // And with the what-if policy (SPEC §6.4), into a folder of its own.
        let what_if = out.with_extension("what-if");
        let policy = Some(mpxn_recon::resolve::WhatIf::OnlyCommunicating);
        report::write_dir_with(view, &judgement, as_of, policy, &what_if).unwrap();
        files.insert(
            "what-if whatif.csv",
            fs::read(what_if.join(report::WHATIF)).unwrap(),
        );
        files.insert(
            "what-if summary.json",
            fs::read(what_if.join(report::SUMMARY)).unwrap(),
        );
        files
    };
    let csv = write_outputs(&image.view().unwrap(), &dir.path().join("csv"));
    // The index file is built as `index build` builds it: every section.
    let full = sweep::run(&config, build::Purpose::Index)
        .unwrap()
        .image
        .into_image();
    let path = dir.path().join("x.mxi");
    index_file::write(&full, &path).unwrap();
    let file = index_file::IndexFile::open_verified(&path).unwrap();
    let idx = write_outputs(&file.view().unwrap(), &dir.path().join("idx"));
    [csv, idx]
}

fn parse_csv_line(line: &str) -> Vec<String> {
    // Generated values never need quoting, so a plain split is exact here.
    line.split(',').map(str::to_string).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Row order, file order and the split into files never change the outputs.
    #[test]
    fn outputs_ignore_row_order_and_file_split(
        lines in dataset(),
        seed in any::<u64>(),
        files in 1usize..4,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (a_inv, reg) = write_inputs(dir.path(), &lines, &[], 1);
        let a = sweep_outputs(a_inv, reg, 2, 1 << 20);

        // A seeded shuffle and a seeded split into up to three files, given in reverse order.
        let mut shuffled = lines.clone();
        let mut state = seed | 1;
        let mut next = || { state ^= state << 13; state ^= state >> 7; state ^= state << 17; state };
        for i in (1..shuffled.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        let split: Vec<usize> = (0..shuffled.len()).map(|_| next() as usize).collect();
        let dir2 = tempfile::tempdir().unwrap();
        let (mut b_inv, reg2) = write_inputs(dir2.path(), &shuffled, &split, files);
        b_inv.reverse();
        let b = sweep_outputs(b_inv, reg2, 2, 1 << 20);
        for name in [report::DECISIONS, report::DUPLICATES, report::REJECTS] {
            prop_assert_eq!(&a[name], &b[name], "{} differs", name);
        }
    }

    /// One thread and two threads, with parse chunks of a few lines, write the same bytes.
    #[test]
    fn outputs_ignore_thread_count(lines in dataset(), chunk in 1usize..400) {
        let dir = tempfile::tempdir().unwrap();
        let (inv, reg) = write_inputs(dir.path(), &lines, &[], 1);
        let one = sweep_outputs(inv.clone(), reg.clone(), 1, 1 << 20);
        let two = sweep_outputs(inv, reg, 2, chunk);
        prop_assert_eq!(one, two);
    }

    /// Cutting the installations into many tiny partitions (a few rows each, so that
    /// runs of one source, installations and shared MPxNs straddle partitions), under a
    /// memory budget so small that rows and keys spill after every batch, writes the
    /// bytes of one partition held in memory, on one thread or two.
    #[test]
    fn outputs_ignore_partitioning_and_spilling(lines in dataset(), chunk in 1usize..400, partition in 1usize..600, limit in prop::sample::select(vec![2u64, 300, 5_000, u64::MAX]), threads in 1usize..3) {
        let dir = tempfile::tempdir().unwrap();
        let spill = tempfile::tempdir().unwrap();
        let (inv, reg) = write_inputs(dir.path(), &lines, &[], 2);
        let whole = sweep_outputs(inv.clone(), reg.clone(), 1, 1 << 20);
        let settings = IngestSettings { chunk_bytes: chunk, partition_bytes: partition };
        let budget = Budget { limit, dir: spill.path().to_path_buf() };
        let cut = sweep_outputs_with(inv.clone(), reg.clone(), threads, settings, budget.clone());
        prop_assert_eq!(whole, cut);
        // The index image too, devices and lookup maps included, section by section.
        let image = |ingest, budget| {
            let config = SweepConfig { inventories: inv.clone(), suppliers: reg.clone(), ingest, budget, comms_after: None };
            sweep::run(&config, build::Purpose::Index)
                .unwrap()
                .image
                .sections()
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        };
        prop_assert!(
            image(IngestSettings::default(), Budget::unlimited()) == image(settings, budget),
            "index images differ"
        );
        // Spill files never outlive the run's handle on them.
        prop_assert_eq!(fs::read_dir(spill.path()).unwrap().count(), 0);
    }

    /// A sweep from the index file writes the CSV sweep's bytes, whatever the as-of date,
    /// with the what-if policy or without.
    #[test]
    fn index_sweep_matches_csv_sweep(lines in dataset(), as_of in 19_500i32..20_200, window in prop::sample::select(vec![0u32, 1, 30, 400, u32::MAX])) {
        let dir = tempfile::tempdir().unwrap();
        let (inv, reg) = write_inputs(dir.path(), &lines, &[], 2);
        let as_of = AsOf { date: Day(as_of), window_days: window };
        let [csv, idx] = csv_and_index_outputs(inv, reg, as_of);
        prop_assert_eq!(csv, idx);
    }

    /// No MPxN is carried by two DUP_RESOLVED installations; every SMETS1 installation is
    /// decided exactly once; the accounting holds.
    #[test]
    fn invariants_hold(lines in dataset()) {
        let dir = tempfile::tempdir().unwrap();
        let (inv, reg) = write_inputs(dir.path(), &lines, &[], 1);
        let out = sweep_outputs(inv, reg, 2, 256);
        let decisions: Vec<Vec<String>> = out[report::DECISIONS].lines().skip(1).map(parse_csv_line).collect();

        let mut resolved_owner: BTreeMap<String, String> = BTreeMap::new();
        for d in &decisions {
            if d[5].split(';').any(|r| r == "DUP_RESOLVED") {
                for m in d[6].split(';').filter(|m| !m.is_empty()) {
                    let me = format!("{}/{}", d[0], d[1]);
                    if let Some(other) = resolved_owner.insert(m.to_string(), me.clone()) {
                        prop_assert!(false, "{} is DUP_RESOLVED in both {} and {}", m, other, me);
                    }
                }
            }
        }

        // Exactly the SMETS1 installations of the input, once each.
        let expected: BTreeSet<(String, String)> = lines
            .iter()
            .map(|l| parse_csv_line(l))
            .filter(|f| !f[0].eq_ignore_ascii_case("smets2"))
            .map(|f| (f[0].to_ascii_uppercase(), f[2].clone()))
            .collect();
        let decided: Vec<(String, String)> = decisions.iter().map(|d| (d[0].clone(), d[1].clone())).collect();
        let unique: BTreeSet<(String, String)> = decided.iter().cloned().collect();
        prop_assert_eq!(unique.len(), decided.len(), "an installation is decided twice");
        prop_assert_eq!(unique, expected);

        let summary: serde_json::Value = serde_json::from_str(&out[report::SUMMARY]).unwrap();
        let rows = &summary["rows"];
        let n = |k: &str| rows[k].as_u64().unwrap();
        prop_assert_eq!(n("read"), lines.len() as u64);
        prop_assert_eq!(n("read"), n("accepted") + n("rejected") + n("duplicate_rows"));
    }

    /// SPEC §6.4: no MPxN is carried by two installations that both get
    /// DUP_ONLY_COMMUNICATING, which an installation gets exactly when it shares an
    /// MPxN, communicates, and every other carrier of every MPxN it shares is known
    /// not to (unknown counts against); the policy changes no byte of decisions,
    /// duplicates or rejects and no existing summary key; whatif.csv lists exactly the
    /// SMETS1 installations whose outcome it changes, with DCC's outcome as
    /// decisions.csv has it; the summary's what-if outcomes are DCC's with those
    /// changes applied.
    #[test]
    fn what_if_invariants_hold(lines in prop_oneof![1 => dataset(), 3 => crowded_dataset()]) {
        let dir = tempfile::tempdir().unwrap();
        let (inv, reg) = write_inputs(dir.path(), &lines, &[], 2);
        let plain = sweep_outputs(inv.clone(), reg.clone(), 2, 256);
        let (with, carriers) = what_if_outputs(inv, reg);

        let mut holder_of: BTreeMap<&str, usize> = BTreeMap::new();
        let mut carried_by: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        for (i, c) in carriers.iter().enumerate() {
            for m in &c.mpxns {
                carried_by.entry(m).or_default().insert(i);
                if !c.only {
                    continue;
                }
                if let Some(other) = holder_of.insert(m, i) {
                    prop_assert!(false, "{} gets DUP_ONLY_COMMUNICATING in installations {} and {}", m, other, i);
                }
            }
        }
        // The rule read literally, installation by installation.
        for (i, c) in carriers.iter().enumerate() {
            let co_members: Vec<usize> = c
                .mpxns
                .iter()
                .filter(|m| carried_by[m.as_str()].len() > 1)
                .flat_map(|m| carried_by[m.as_str()].iter().copied().filter(|&j| j != i))
                .collect();
            let literal = !co_members.is_empty()
                && c.comm == CommStatus::Communicating
                && co_members.iter().all(|&j| carriers[j].comm == CommStatus::NotCommunicating);
            prop_assert_eq!(c.only, literal, "installation {}", i);
        }

        for name in [report::DECISIONS, report::DUPLICATES, report::REJECTS] {
            prop_assert_eq!(&plain[name], &with[name], "{} differs with --what-if", name);
        }
        let plain_summary: serde_json::Value = serde_json::from_str(&plain[report::SUMMARY]).unwrap();
        let mut with_summary: serde_json::Value = serde_json::from_str(&with[report::SUMMARY]).unwrap();
        let what_if = with_summary.as_object_mut().unwrap().remove("what_if").unwrap();
        prop_assert_eq!(&plain_summary, &with_summary);

        // whatif.csv against decisions.csv, installation by installation.
        let decided: BTreeMap<(String, String), String> = plain[report::DECISIONS]
            .lines()
            .skip(1)
            .map(parse_csv_line)
            .map(|d| ((d[0].clone(), d[1].clone()), d[3].clone()))
            .collect();
        let mut whatif_outcome = decided.clone();
        let rows: Vec<Vec<String>> = with[report::WHATIF].lines().skip(1).map(parse_csv_line).collect();
        prop_assert!(rows.windows(2).all(|w| (&w[0][0], &w[0][1]) < (&w[1][0], &w[1][1])), "sorted as decisions.csv");
        for r in &rows {
            let key = (r[0].clone(), r[1].clone());
            prop_assert_eq!(decided.get(&key), Some(&r[3]), "outcome is DCC's");
            prop_assert_ne!(&r[3], &r[4], "a row is a changed outcome");
            prop_assert!(!r[7].is_empty(), "a changed outcome was held back by something");
            whatif_outcome.insert(key, r[4].clone());
        }
        let mut counts: BTreeMap<String, u64> = ["unblock", "exclude", "review", "clear"]
            .iter()
            .map(|o| (o.to_string(), 0))
            .collect();
        for o in whatif_outcome.values() {
            *counts.get_mut(o).unwrap() += 1;
        }
        prop_assert_eq!(&what_if["outcomes"], &serde_json::to_value(&counts).unwrap());
        prop_assert_eq!(what_if["changed"].as_u64(), Some(rows.len() as u64));
    }
}

fn reference_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/reference_sweep.py")
}

proptest! {
    // Each case starts a Python process: fewer cases, still hundreds of rows of edge cases.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The engine and the independent Python reading of the spec write the same bytes,
    /// and the same what-if (`--what-if only-communicating`: whatif.csv, and the counts
    /// of summary.json's `what_if`).
    #[test]
    fn agrees_with_the_python_reference(lines in dataset()) {
        let dir = tempfile::tempdir().unwrap();
        let (inv, reg) = write_inputs(dir.path(), &lines, &[], 2);
        let ours = sweep_outputs(inv.clone(), reg.clone(), 2, 128);
        let (ours_what_if, _) = what_if_outputs(inv.clone(), reg.clone());
        let ref_out = dir.path().join("reference");
        let mut cmd = std::process::Command::new("python3");
        cmd.arg(reference_script());
        for p in &inv {
            cmd.arg("--inventory").arg(p);
        }
        cmd.arg("--suppliers").arg(&reg).args(["--as-of", "2024-06-30", "--what-if", "only-communicating", "--out"]).arg(&ref_out);
        let status = cmd.output().expect("python3 is needed for the reference comparison (CI installs it)");
        prop_assert!(status.status.success(), "reference failed: {}", String::from_utf8_lossy(&status.stderr));
        for name in [report::DECISIONS, report::DUPLICATES, report::REJECTS, report::FINDINGS] {
            let theirs = fs::read_to_string(ref_out.join(name)).unwrap();
            prop_assert_eq!(&ours[name], &theirs, "{} differs from the reference", name);
        }
        let theirs = fs::read_to_string(ref_out.join(report::WHATIF)).unwrap();
        prop_assert_eq!(&ours_what_if[report::WHATIF], &theirs, "whatif.csv differs from the reference");
        let summary: serde_json::Value = serde_json::from_str(&ours_what_if[report::SUMMARY]).unwrap();
        let mut what_if = summary["what_if"].clone();
        what_if.as_object_mut().unwrap().remove("outputs");
        let theirs: serde_json::Value = serde_json::from_str(&fs::read_to_string(ref_out.join("what_if.json")).unwrap()).unwrap();
        prop_assert_eq!(what_if, theirs, "summary.json's what_if differs from the reference");
    }

    /// The same on data where the duplicate rules, and so the policy, decide most
    /// outcomes.
    #[test]
    fn agrees_with_the_python_reference_on_crowded_data(lines in crowded_dataset()) {
        let dir = tempfile::tempdir().unwrap();
        let (inv, reg) = write_inputs(dir.path(), &lines, &[], 1);
        let (ours, _) = what_if_outputs(inv.clone(), reg.clone());
        let ref_out = dir.path().join("reference");
        let mut cmd = std::process::Command::new("python3");
        cmd.arg(reference_script());
        for p in &inv {
            cmd.arg("--inventory").arg(p);
        }
        cmd.arg("--suppliers").arg(&reg).args(["--as-of", "2024-06-30", "--what-if", "only-communicating", "--out"]).arg(&ref_out);
        let status = cmd.output().expect("python3 is needed for the reference comparison (CI installs it)");
        prop_assert!(status.status.success(), "reference failed: {}", String::from_utf8_lossy(&status.stderr));
        for name in [report::DECISIONS, report::DUPLICATES, report::WHATIF] {
            let theirs = fs::read_to_string(ref_out.join(name)).unwrap();
            prop_assert_eq!(&ours[name], &theirs, "{} differs from the reference", name);
        }
        let summary: serde_json::Value = serde_json::from_str(&ours[report::SUMMARY]).unwrap();
        let mut what_if = summary["what_if"].clone();
        what_if.as_object_mut().unwrap().remove("outputs");
        let theirs: serde_json::Value = serde_json::from_str(&fs::read_to_string(ref_out.join("what_if.json")).unwrap()).unwrap();
        prop_assert_eq!(what_if, theirs, "summary.json's what_if differs from the reference");
    }
}
