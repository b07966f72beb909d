//! Report: a finished [`Sweep`] → `decisions.csv`, `duplicates.csv`, `rejects.csv` and
//! `summary.json` (SPEC §7).
//!
//! Takes the sweep and an output directory; writes each file to a temporary name in that
//! directory and renames it into place, so a reader never sees half a file. Output is
//! UTF-8 without BOM, LF line ends, a header always, minimal RFC 4180 quoting, and every
//! order is a total order on output text — the bytes do not depend on input order or
//! thread count. Decision lines are formatted in parallel, in batches, so memory stays
//! bounded at national scale. Leaves the console summary to the CLI.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::ingest::{self, RejectReason};
use crate::resolve::{Finding, Outcome};
use crate::sweep::{Accounting, Sweep};

/// Output files, by name.
pub const DECISIONS: &str = "decisions.csv";
pub const DUPLICATES: &str = "duplicates.csv";
pub const REJECTS: &str = "rejects.csv";
pub const SUMMARY: &str = "summary.json";

/// A failure to write an output file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot write: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Writes all four outputs into `dir` (created if missing) and returns the summary.
pub fn write_all(sweep: &Sweep, dir: &Path) -> Result<Summary, WriteError> {
    fs::create_dir_all(dir).map_err(|source| WriteError {
        path: dir.to_path_buf(),
        source,
    })?;
    let summary = Summary::of(sweep);
    write_atomically(&dir.join(DECISIONS), |w| write_decisions(sweep, w))?;
    write_atomically(&dir.join(DUPLICATES), |w| write_duplicates(sweep, w))?;
    write_atomically(&dir.join(REJECTS), |w| write_rejects(sweep, w))?;
    write_atomically(&dir.join(SUMMARY), |w| {
        serde_json::to_writer_pretty(&mut *w, &summary).map_err(io::Error::from)?;
        w.write_all(b"\n")
    })?;
    Ok(summary)
}

/// Writes through a temporary file in the same directory, syncs it, and renames it over
/// `path`.
fn write_atomically(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<(), WriteError> {
    let err = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let file = File::create(&tmp).map_err(err)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    body(&mut w).map_err(err)?;
    let file = w.into_inner().map_err(|e| err(e.into_error()))?;
    file.sync_data().map_err(err)?;
    fs::rename(&tmp, path).map_err(err)
}

/// Appends one CSV field, quoted only when it holds `,`, `"`, CR or LF.
pub fn push_field(out: &mut Vec<u8>, field: &[u8]) {
    if field
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
    {
        out.push(b'"');
        for &b in field {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(field);
    }
}

/// Appends a whole CSV record (fields joined by `,`, then LF).
fn push_record(out: &mut Vec<u8>, fields: &[&[u8]]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_field(out, f);
    }
    out.push(b'\n');
}

/// `decisions.csv`: one row per SMETS1 installation, sorted by source then
/// installation_id. Formats batches of a million installations in parallel.
pub fn write_decisions(sweep: &Sweep, w: &mut impl Write) -> io::Result<()> {
    w.write_all(b"source,installation_id,group_id,outcome,clauses,reasons,mpxns\n")?;
    let order = sweep.smets1_in_order();
    for batch in order.chunks(1 << 20) {
        let parts: Vec<Vec<u8>> = batch
            .par_chunks(1 << 12)
            .map(|chunk| {
                let mut out = Vec::with_capacity(chunk.len() * 96);
                for &inst in chunk {
                    decision_record(sweep, inst, &mut out);
                }
                out
            })
            .collect();
        for part in parts {
            w.write_all(&part)?;
        }
    }
    Ok(())
}

fn decision_record(sweep: &Sweep, inst: u32, out: &mut Vec<u8>) {
    let decision = sweep.decision(inst);
    let reasons: Vec<&str> = decision.findings.iter().map(Finding::code).collect();
    push_record(
        out,
        &[
            sweep.source_text(inst).as_bytes(),
            &sweep.installation_text(inst),
            sweep.group_text(inst).as_bytes(),
            decision.outcome.as_str().as_bytes(),
            decision.clauses.join(";").as_bytes(),
            reasons.join(";").as_bytes(),
            sweep.mpxns_of(inst).join(";").as_bytes(),
        ],
    );
}

/// `duplicates.csv`: one row per (shared MPxN, member installation), sorted by MPxN text,
/// then source, then installation_id.
pub fn write_duplicates(sweep: &Sweep, w: &mut impl Write) -> io::Result<()> {
    w.write_all(
        b"mpxn,kind,source,installation_id,installed_on,last_comms_at,communicating,last_installed,party_id\n",
    )?;
    let mut groups: Vec<(String, usize)> = sweep
        .matches
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.mpxn.to_string(), i))
        .collect();
    groups.par_sort_unstable();
    let mut out = Vec::new();
    for (mpxn, g) in groups {
        let group = &sweep.matches.groups[g];
        let members = sweep.matches.members_of(group);
        let mut rows: Vec<_> = members.iter().zip(&sweep.verdicts[g]).collect();
        rows.sort_by(|a, b| {
            let (ia, ib) = (a.0.installation, b.0.installation);
            sweep
                .source_text(ia)
                .cmp(sweep.source_text(ib))
                .then_with(|| {
                    sweep
                        .installation_text(ia)
                        .cmp(&sweep.installation_text(ib))
                })
        });
        for (member, verdict) in rows {
            let inst = member.installation;
            let facts = &sweep.facts[inst as usize];
            let mut parties: Vec<&str> = sweep
                .matches
                .meters_of(member)
                .iter()
                .filter_map(|m| sweep.registry.party(sweep.rows[m.row as usize].party))
                .map(|p| p.id.as_str())
                .collect();
            parties.sort_unstable();
            parties.dedup();
            out.clear();
            push_record(
                &mut out,
                &[
                    mpxn.as_bytes(),
                    group.mpxn.kind().as_str().as_bytes(),
                    sweep.source_text(inst).as_bytes(),
                    &sweep.installation_text(inst),
                    verdict
                        .installed_on
                        .map(|d| d.to_string())
                        .unwrap_or_default()
                        .as_bytes(),
                    facts
                        .last_comms
                        .map(|d| d.to_string())
                        .unwrap_or_default()
                        .as_bytes(),
                    facts.comm.as_str().as_bytes(),
                    verdict.last_installed.as_str().as_bytes(),
                    parties.join(";").as_bytes(),
                ],
            );
            w.write_all(&out)?;
        }
    }
    Ok(())
}

/// `rejects.csv`: every rejected line, sorted by file (as given) then line number; the
/// raw text has invalid UTF-8 replaced by U+FFFD.
pub fn write_rejects(sweep: &Sweep, w: &mut impl Write) -> io::Result<()> {
    w.write_all(b"file,line,reason,raw\n")?;
    let mut rejects: Vec<(Vec<u8>, u64, RejectReason, ingest::LineRef)> = sweep
        .rejects
        .iter()
        .map(|r| {
            let path = path_text(&sweep.files[r.line_ref.file()].path);
            (path.into_bytes(), r.line_no, r.reason, r.line_ref)
        })
        .collect();
    rejects.sort();
    let mut out = Vec::new();
    for (path, line, reason, line_ref) in rejects {
        let raw = String::from_utf8_lossy(ingest::raw_line(&sweep.files, line_ref));
        out.clear();
        push_record(
            &mut out,
            &[
                &path,
                line.to_string().as_bytes(),
                reason.as_str().as_bytes(),
                raw.as_bytes(),
            ],
        );
        w.write_all(&out)?;
    }
    Ok(())
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// One input file in summary.json.
#[derive(Clone, Debug, Serialize)]
pub struct InputFile {
    pub path: String,
    pub bytes: u64,
    pub crc32c: String,
}

/// Counts of SMETS1 installations by outcome.
pub type OutcomeCounts = BTreeMap<&'static str, u64>;

/// `summary.json`: everything needed to reproduce and audit the run, and no timings, so
/// that it is byte-identical for the same inputs.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub engine: &'static str,
    pub version: &'static str,
    pub as_of: String,
    pub window_days: u32,
    pub inventories: Vec<InputFile>,
    pub suppliers: InputFile,
    pub rows: Accounting,
    pub rejects_by_reason: BTreeMap<&'static str, u64>,
    pub installations: BTreeMap<&'static str, u64>,
    pub shared_mpxns: u64,
    pub outcomes: OutcomeCounts,
    /// SMETS1 installations on which each finding holds.
    pub reasons: BTreeMap<&'static str, u64>,
    /// Outcome counts per GroupID (`(none)` when an installation has none).
    pub by_group_id: BTreeMap<String, OutcomeCounts>,
    /// Outcome counts per SMSO.
    pub by_source: BTreeMap<String, OutcomeCounts>,
}

fn zero_outcomes() -> OutcomeCounts {
    Outcome::ALL.iter().map(|o| (o.as_str(), 0)).collect()
}

impl Summary {
    /// Counts every SMETS1 installation's decision (one pass, in parallel).
    pub fn of(sweep: &Sweep) -> Summary {
        #[derive(Default)]
        struct Tally {
            outcomes: BTreeMap<Outcome, u64>,
            reasons: BTreeMap<Finding, u64>,
            by_group: BTreeMap<(u32, Outcome), u64>,
            by_source: BTreeMap<(u32, Outcome), u64>,
            smets1: u64,
        }
        let count = sweep.installations.list.len() as u32;
        let tally = (0..count)
            .into_par_iter()
            .filter(|&i| sweep.is_smets1(i))
            .fold(Tally::default, |mut t, i| {
                let d = sweep.decision(i);
                t.smets1 += 1;
                *t.outcomes.entry(d.outcome).or_default() += 1;
                for f in d.findings.iter() {
                    *t.reasons.entry(f).or_default() += 1;
                }
                *t.by_group
                    .entry((sweep.facts[i as usize].group, d.outcome))
                    .or_default() += 1;
                let source = sweep.installations.list[i as usize].source;
                *t.by_source.entry((source, d.outcome)).or_default() += 1;
                t
            })
            .reduce(Tally::default, |mut a, b| {
                b.outcomes
                    .into_iter()
                    .for_each(|(k, v)| *a.outcomes.entry(k).or_default() += v);
                b.reasons
                    .into_iter()
                    .for_each(|(k, v)| *a.reasons.entry(k).or_default() += v);
                b.by_group
                    .into_iter()
                    .for_each(|(k, v)| *a.by_group.entry(k).or_default() += v);
                b.by_source
                    .into_iter()
                    .for_each(|(k, v)| *a.by_source.entry(k).or_default() += v);
                a.smets1 += b.smets1;
                a
            });

        let mut outcomes = zero_outcomes();
        for (o, n) in tally.outcomes {
            outcomes.insert(o.as_str(), n);
        }
        let mut by_group_id: BTreeMap<String, OutcomeCounts> = BTreeMap::new();
        for ((group, o), n) in tally.by_group {
            let name = match group {
                ingest::NO_GROUP => "(none)".to_string(),
                g => String::from_utf8_lossy(sweep.groups.get(g)).into_owned(),
            };
            by_group_id
                .entry(name)
                .or_insert_with(zero_outcomes)
                .insert(o.as_str(), n);
        }
        let mut by_source: BTreeMap<String, OutcomeCounts> = BTreeMap::new();
        for ((source, o), n) in tally.by_source {
            let name = String::from_utf8_lossy(sweep.sources.get(source)).into_owned();
            by_source
                .entry(name)
                .or_insert_with(zero_outcomes)
                .insert(o.as_str(), n);
        }
        let mut rejects_by_reason = BTreeMap::new();
        for r in &sweep.rejects {
            *rejects_by_reason.entry(r.reason.as_str()).or_default() += 1;
        }
        let mut inventories: Vec<InputFile> = sweep
            .files
            .iter()
            .zip(&sweep.checksums)
            .map(|(f, &crc)| InputFile {
                path: path_text(&f.path),
                bytes: f.bytes.len() as u64,
                crc32c: format!("{crc:08x}"),
            })
            .collect();
        inventories.sort_by(|a, b| a.path.cmp(&b.path));
        let smets2 = count as u64 - tally.smets1;
        Summary {
            engine: "mpxn-recon",
            version: env!("CARGO_PKG_VERSION"),
            as_of: sweep.config.policy.as_of.to_string(),
            window_days: sweep.config.policy.window_days,
            inventories,
            suppliers: InputFile {
                path: path_text(&sweep.config.suppliers),
                bytes: sweep.registry.size,
                crc32c: format!("{:08x}", sweep.registry.checksum),
            },
            rows: sweep.accounting(),
            rejects_by_reason,
            installations: [("smets1", tally.smets1), ("smets2", smets2)]
                .into_iter()
                .collect(),
            shared_mpxns: sweep.matches.groups.len() as u64,
            outcomes,
            reasons: tally
                .reasons
                .into_iter()
                .map(|(f, n)| (f.code(), n))
                .collect(),
            by_group_id,
            by_source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_minimal() {
        let mut out = Vec::new();
        push_record(&mut out, &[b"plain", b"a,b", b"say \"hi\"", b"cr\r", b""]);
        assert_eq!(out, b"plain,\"a,b\",\"say \"\"hi\"\"\",\"cr\r\",\n");
    }
}
