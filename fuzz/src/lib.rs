//! What the fuzz targets share: a scratch directory, the sample's policy, the sample's
//! registry and inventories, and `walk_*`, which read an index view the way a sweep, a
//! lookup and a per-party report do.
//!
//! Every function here either returns the library's own error (expected on hostile
//! input) or panics on a broken invariant: a panic is what afl-fuzz records as a crash.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mpxn_recon::index::file::{IndexFile, Reads};
use mpxn_recon::index::{IndexError, View};
use mpxn_recon::judge::{self, Judgement};
use mpxn_recon::normalize::Day;
use mpxn_recon::report::{self, ReportError};
use mpxn_recon::resolve::{decide, AsOf, Finding};
use mpxn_recon::{lookup, portfolio};

/// The sample's as-of date and the default window.
pub fn policy() -> AsOf {
    AsOf {
        date: Day::parse(b"2024-06-30").expect("a valid date"),
        window_days: 30,
    }
}

/// The sample's supplier registry.
pub const SAMPLE_SUPPLIERS: &[u8] = include_bytes!("../../datasets/sample/suppliers.csv");

/// The sample's inventories, by file name.
pub const SAMPLE_INVENTORIES: &[(&str, &[u8])] = &[
    (
        "smets2_2024-06-30.csv",
        include_bytes!("../../datasets/sample/inventory/smets2_2024-06-30.csv"),
    ),
    (
        "smso-alpha_2024-06-30.csv",
        include_bytes!("../../datasets/sample/inventory/smso-alpha_2024-06-30.csv"),
    ),
    (
        "smso-bravo_2024-06-30.psv",
        include_bytes!("../../datasets/sample/inventory/smso-bravo_2024-06-30.psv"),
    ),
    (
        "smso-charlie_2024-06-30_part1.csv",
        include_bytes!("../../datasets/sample/inventory/smso-charlie_2024-06-30_part1.csv"),
    ),
    (
        "smso-charlie_2024-06-30_part2.csv",
        include_bytes!("../../datasets/sample/inventory/smso-charlie_2024-06-30_part2.csv"),
    ),
];

/// This process's scratch directory: `$MPXN_FUZZ_TMP/<pid>`, else `/dev/shm/mpxn-fuzz/<pid>`
/// (tmpfs: inputs the library only reads from a path are written there), else under the
/// system temp dir. afl-fuzz runs one target process at a time per instance and each
/// process rewrites the same few files, so the directory stays small.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = match std::env::var_os("MPXN_FUZZ_TMP") {
            Some(dir) => PathBuf::from(dir),
            None if Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm/mpxn-fuzz"),
            None => std::env::temp_dir().join("mpxn-fuzz"),
        };
        // A process that crashed (or that afl-fuzz or afl-tmin killed) leaves its
        // directory: remove those of processes that no longer exist.
        if let Ok(entries) = std::fs::read_dir(&base) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let dead = name
                    .to_str()
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
                if dead && Path::new("/proc/self").exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = base.join(std::process::id().to_string());
        std::fs::create_dir_all(&dir).expect("cannot create the scratch directory");
        dir
    })
}

/// Removes the scratch directory when dropped (at the end of `main`, after the fuzz
/// loop; a process killed by afl-fuzz leaves it for `scripts/fuzz.sh` to remove).
pub struct Scratch;

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(scratch_dir());
    }
}

/// Writes `bytes` to `name` in the scratch directory and returns the path.
pub fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch_dir().join(name);
    std::fs::write(&path, bytes).expect("cannot write a scratch file");
    path
}

/// Caps per-installation and per-party work, so that a large crafted group cannot turn
/// an input into a hang by the square of its size.
pub const LIMIT: usize = 128;

/// What a sweep writes from a view, in memory.
#[derive(Debug, PartialEq, Eq)]
pub struct Outputs {
    pub decisions: Vec<u8>,
    pub duplicates: Vec<u8>,
    pub summary: Vec<u8>,
}

fn index_error(e: ReportError) -> IndexError {
    match e {
        ReportError::Index(e) => e,
        other => panic!("writing a report into memory failed: {other}"),
    }
}

/// Judges a view and writes decisions, duplicates and the summary into memory, as
/// `mpxn-recon sweep` does (`report::write_all` minus the files). Errors are the
/// view's own (a damaged index); anything else that goes wrong panics.
pub fn walk_sweep(view: &View<'_>, policy: AsOf) -> Result<(Judgement, Outputs), IndexError> {
    let judgement = judge::judge(view, policy)?;
    let n = view.installation_count();
    assert_eq!(judgement.comm.len(), n, "one comm status per installation");
    assert_eq!(
        judgement.findings.len(),
        n,
        "one finding set per installation"
    );
    let mut decisions = Vec::new();
    let counts = report::write_decisions(view, &judgement, &mut decisions).map_err(index_error)?;
    let mut duplicates = Vec::new();
    report::write_duplicates(view, &judgement, &mut duplicates).map_err(index_error)?;
    let summary = report::Summary::of(view, &counts, policy)?;
    let smets1: u64 = counts.values().sum();
    assert_eq!(summary.installations["smets1"], smets1);
    assert_eq!(
        summary.installations["smets1"] + summary.installations["smets2"],
        n as u64,
        "every installation is SMETS1 or SMETS2"
    );
    let decided: u64 = summary.outcomes.values().sum();
    assert_eq!(decided, smets1, "every SMETS1 installation has one outcome");
    let summary = serde_json::to_vec_pretty(&summary).expect("a summary serialises");
    Ok((
        judgement,
        Outputs {
            decisions,
            duplicates,
            summary,
        },
    ))
}

/// Reads a full view (devices and lookup maps) the way `mpxn-recon lookup` and
/// `portfolio` do: describes installations, looks their MPxNs and ids up, lists each
/// party's installations and answers for their MPxNs. With `consistent` (an image the
/// library built itself, never a crafted one), also checks that a lookup gives the
/// same findings as the sweep's judgement and finds every MPxN an installation carries.
pub fn walk_lookups(
    view: &View<'_>,
    judgement: &Judgement,
    policy: AsOf,
    consistent: bool,
) -> Result<(), IndexError> {
    let groups = lookup::Groups::of(view)?;
    let n = view.installation_count();
    for inst in 0..n.min(LIMIT) {
        let report = lookup::describe(view, &groups, inst, policy)?;
        serde_json::to_vec(&report).expect("a lookup report serialises");
        if consistent && !report.smets2 {
            let findings = judgement.findings[inst];
            let decision = decide(findings);
            assert_eq!(
                report.outcome,
                Some(decision.outcome.as_str()),
                "lookup and sweep disagree on the outcome of installation {inst}"
            );
            let codes: Vec<&str> = findings.iter().map(Finding::code).collect();
            assert_eq!(
                report.reasons, codes,
                "lookup and sweep disagree on the reasons of installation {inst}"
            );
        }
        for mpxn in &report.mpxns {
            let hits = lookup::find(view, mpxn)?;
            if consistent {
                assert!(
                    hits.iter().any(|h| h.installations.contains(&inst)),
                    "lookup of MPxN {mpxn} does not find installation {inst}, which carries it"
                );
            }
        }
        let id = String::from_utf8_lossy(view.installation_text(inst)?).into_owned();
        lookup::find(view, &id)?;
    }
    lookup::shared_mpans_with_prefix(view, "")?;
    lookup::shared_mpans_with_prefix(view, "1")?;
    let by_party = portfolio::installations_by_party(view)?;
    for (party, mine) in by_party.iter().enumerate().take(LIMIT) {
        let party_id = String::from_utf8_lossy(view.party_id(party)?).into_owned();
        let name = String::from_utf8_lossy(view.party_name(party)?).into_owned();
        portfolio::party_rank(view, &party_id)?;
        let mut described = Vec::new();
        for &inst in mine.iter().take(LIMIT) {
            let p = portfolio::describe(view, judgement, party as u32, inst, policy)?;
            let mut csv = Vec::new();
            portfolio::push_csv(&mut csv, &party_id, "query", "found", Some(&p));
            described.push(p);
        }
        if let Some(first) = described.first() {
            for m in first.mpxns.iter().take(4) {
                let answer =
                    portfolio::answer(view, judgement, (party as u32, policy), mine, &m.mpxn)?;
                if consistent {
                    assert_eq!(
                        answer.status(),
                        "found",
                        "party {party_id}'s own MPxN {} is not found for it",
                        m.mpxn
                    );
                }
            }
        }
        let impact = portfolio::Impact::of((&party_id, &name), policy, &described);
        serde_json::to_vec(&impact).expect("an impact summary serialises");
    }
    Ok(())
}

/// Reads every typed accessor of the view (`index::read`) for every installation,
/// device, shared MPxN and party (the first [`LIMIT`] of each), as the judge, report,
/// lookup and portfolio code do, and the key maps.
pub fn walk_accessors(view: &View<'_>) -> Result<(), IndexError> {
    let _ = view.meta()?;
    let _ = view.rejects_csv();
    let n = view.installation_count();
    for inst in 0..n.min(LIMIT) {
        view.source_text(inst)?;
        view.installation_text(inst)?;
        view.group_text(inst)?;
        let source = view.source_rank(inst)? as usize;
        view.source_name(source)?;
        if let Some(g) = view.group_rank(inst)? {
            view.group_id_name(g as usize)?;
        }
        view.stored_findings(inst)?;
        view.comms(inst)?;
        view.last_comms(inst)?;
        view.mpxns_text(inst)?;
        view.is_smets2(inst)?;
        for device in view.devices(inst)? {
            let device = device?;
            if let Some(p) = device.party {
                view.party_id(p as usize)?;
            }
            if let Some(key) = device.mpxn {
                view.find_mpxn(key)?;
            }
            if let Some(guid) = device.guid {
                view.find_guid(guid)?;
            }
        }
    }
    for d in 0..view.device_count().min(LIMIT) {
        view.meter_owner(d)?;
    }
    for g in 0..view.group_count().min(LIMIT) {
        let key = view.group_mpxn(g)?;
        let count = view.member_count(g)?;
        let mut seen = 0;
        for member in view.members(g)? {
            let member = member?;
            assert!(
                member.installation < n,
                "a member names installation {} of {n}",
                member.installation
            );
            seen += 1;
        }
        assert_eq!(seen, count, "members() and member_count() agree");
        view.find_mpxn(key)?;
    }
    for p in 0..view.party_count().min(LIMIT) {
        view.party_id(p)?;
        view.party_status(p)?;
    }
    view.shared_mpans_with_prefix("")?;
    Ok(())
}

/// Opens an index file every way the CLI does and reads what each opening allows:
/// `index verify` / `info` / `lookup` (open, then every checksum), a sweep
/// (`open_verified_for(SweepSections)`). Checks that the openings agree.
pub fn read_index_file(path: &Path, policy: AsOf) {
    match IndexFile::open(path) {
        Err(e) => {
            let _ = e.to_string();
        }
        Ok(file) => {
            let damaged = file.verify();
            for e in &damaged {
                let _ = e.to_string();
            }
            let view = file.view().expect("open() made this view once already");
            let _ = walk_accessors(&view);
            if let Ok((judgement, _)) = walk_sweep(&view, policy) {
                let _ = walk_lookups(&view, &judgement, policy, false);
            }
            let verified = IndexFile::open_verified(path);
            assert_eq!(
                verified.is_ok(),
                damaged.is_empty(),
                "open_verified disagrees with open + verify ({:?})",
                verified.err().map(|e| e.to_string())
            );
            if damaged.is_empty() {
                let sweep = IndexFile::open_verified_for(path, Reads::SweepSections);
                assert!(
                    sweep.is_ok(),
                    "a file that opens and verifies whole is refused for a sweep: {}",
                    sweep.err().map(|e| e.to_string()).unwrap_or_default()
                );
            }
        }
    }
    // A sweep's opening checks less (no key maps, no device columns), so it can
    // accept files that `open` refuses: read it separately.
    if let Ok(file) = IndexFile::open_verified_for(path, Reads::SweepSections) {
        let view = file
            .view()
            .expect("open_verified_for() made this view once already");
        let _ = walk_sweep(&view, policy);
    }
}
