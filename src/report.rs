//! Report: an index view and its as-of [`Judgement`] → `decisions.csv`,
//! `duplicates.csv`, `rejects.csv`, `findings.csv` (issue 13: the values behind the data
//! issues, from the view's `finding_rows`) and `summary.json` (SPEC §7; its tallies of
//! shared MPxNs and of the data issues' sources are counted in the duplicates and
//! findings passes), and with a what-if policy `whatif.csv` and `summary.json`'s
//! `what_if` (SPEC §6.4); with `--report`, `report.html` rendered from the finished
//! summary by [`crate::html`].
//!
//! Takes the [`View`] (from the CSV sweep's in-memory image or a mapped index file — the
//! same code for both) and the judgement; writes each file to a temporary name in the
//! output directory, syncs it and renames it into place, so a reader never sees half a
//! file. Output is UTF-8 without BOM, LF line ends, a header always, minimal RFC 4180
//! quoting. The view already holds installations and shared MPxNs in output order, so
//! writing is a straight pass; decision lines are formatted in parallel batches so memory
//! stays bounded at national scale. Leaves the console summary to the CLI.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use hashbrown::HashMap;
use rayon::prelude::*;
use serde::Serialize;

use crate::delimited::{push_field, push_record};
use crate::export::{self, Exporter, Format, Formats, Sinks};
use crate::index::{Accounting, IndexError, InputFile, View};
use crate::judge::Judgement;
use crate::publish::{Digest, OutputSet, PublishError, Staging};
use crate::resolve::{decide, AsOf, Finding, FindingSet, Outcome, WhatIf};

/// Output files, by name.
pub const DECISIONS: &str = "decisions.csv";
pub const DUPLICATES: &str = "duplicates.csv";
pub const REJECTS: &str = "rejects.csv";
/// One row per value that caused a data-issue finding (issue 13).
pub const FINDINGS: &str = "findings.csv";
pub const SUMMARY: &str = "summary.json";
/// Written only with a what-if policy (`sweep --what-if`), and removed by a sweep
/// without one, so that no earlier run's what-if passes for this run's.
pub const WHATIF: &str = "whatif.csv";

/// A failure to write the outputs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    #[error("{path}: cannot write: {error}")]
    Write {
        path: PathBuf,
        // In the message, not chained: `main` prints the chain with `{:#}`.
        error: io::Error,
    },
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Publish(PublishError),
}

/// Stages all five outputs in CSV in `set` (the caller commits it, with any other set,
/// once everything is written) and returns the summary. `summary.json` is staged last
/// and records the size and CRC-32C of the other four, so it is the set's commit record.
/// ([`write_all_from`] takes the formats and `report.html` too.)
///
/// With a `what_if` policy, also stages `whatif.csv` ([`write_whatif`]) and adds the
/// `what_if` object (with that file's size and CRC-32C) to the summary; the other files
/// and keys are the same bytes as without. Without one, retires `whatif.csv`: an
/// earlier run's is removed when the set is committed.
pub fn write_all(
    view: &View<'_>,
    judgement: &Judgement,
    as_of: AsOf,
    what_if: Option<WhatIf>,
    set: &mut OutputSet,
) -> Result<Summary, ReportError> {
    write_all_from(
        view,
        judgement,
        (as_of, None),
        what_if,
        (Formats::CSV, false),
        set,
    )
}

/// The files a sweep with these `formats` (and a what-if policy or not) writes, in the
/// order it stages them, `summary.json` last.
pub fn output_names(formats: Formats, what_if: bool) -> Vec<&'static str> {
    let tables = export::TABLES
        .into_iter()
        .filter(|t| what_if || t.files[0] != WHATIF);
    let mut names: Vec<&'static str> = tables
        .flat_map(|t| formats.iter().map(move |f| t.file(f)))
        .collect();
    names.push(SUMMARY);
    names
}

/// The files of an earlier run that a sweep with these `formats` does not write (the
/// other formats, and whatif.* without a policy): retired, so that none of them stays
/// beside this run's summary.json looking as if it were this run's.
pub fn retired_names(formats: Formats, what_if: bool) -> Vec<&'static str> {
    let written = output_names(formats, what_if);
    export::TABLES
        .into_iter()
        .flat_map(|t| t.files)
        .filter(|name| !written.contains(name))
        .collect()
}

/// [`write_all`], recording in `summary.json` where the as-of date came from
/// (`as_of_source`: `given`, `sample` or `today`), and writing each table in every one
/// of `formats` ([`export`]): `<table>.csv`, `<table>.parquet`, `<table>.jsonl`, each in
/// `summary.json`'s `outputs`. The files of the other formats are retired
/// ([`retired_names`]). With [`Formats::CSV`] every file and key is the same bytes as
/// before the exports existed.
///
/// With `html_report`, also stages `report.html` ([`crate::html::report`], drawn from
/// the finished summary alone, so its figures are summary.json's; staged just before
/// it). Without it, retires `report.html` as it does `whatif.csv`. summary.json is the
/// same bytes either way: the page is a view of it, not one of its `outputs`.
pub fn write_all_from(
    view: &View<'_>,
    judgement: &Judgement,
    (as_of, as_of_source): (AsOf, Option<&'static str>),
    what_if: Option<WhatIf>,
    (formats, html_report): (Formats, bool),
    set: &mut OutputSet,
) -> Result<Summary, ReportError> {
    for name in retired_names(formats, what_if.is_some()) {
        set.retire(name)?;
    }
    let t = crate::timing::stage("write: decisions");
    let mut counts = DecisionCounts::new();
    let mut outputs = BTreeMap::new();
    let decisions = stage_table(set, formats, &export::DECISIONS, |w| {
        counts = write_decisions(view, judgement, w)?;
        Ok(())
    })?;
    outputs.extend(decisions);
    drop(t);
    let mut summary = Summary::of(view, &counts, as_of)?;
    summary.as_of_source = as_of_source;
    let t = crate::timing::stage("write: duplicates, rejects");
    let mut sharing = SharingTally::default();
    let duplicates = stage_table(set, formats, &export::DUPLICATES, |w| {
        sharing = write_duplicates_counted(view, judgement, w)?;
        Ok(())
    })?;
    outputs.extend(duplicates);
    (
        summary.duplicate_groups_by_size,
        summary.duplicate_groups_by_sources,
    ) = sharing.records(view)?;
    let rejects = stage_table(set, formats, &export::REJECTS, |w| {
        Ok(w.write_all(view.rejects_csv())?)
    })?;
    outputs.extend(rejects);
    drop(t);
    let t = crate::timing::stage("write: findings");
    let findings = stage_table(set, formats, &export::FINDINGS, |w| {
        summary.findings_by_source = write_findings_counted(view, as_of, w)?;
        Ok(())
    })?;
    outputs.extend(findings);
    summary.outputs = outputs;
    drop(t);
    if let Some(policy) = what_if {
        let _t = crate::timing::stage("write: whatif");
        let mut rows = 0;
        let digests = stage_table(set, formats, &export::WHATIF, |w| {
            rows = write_whatif(view, judgement, policy, w)?;
            Ok(())
        })?;
        let what_if = WhatIfSummary::of(policy, &counts, digests);
        debug_assert_eq!(what_if.changed, rows, "whatif.csv and its summary agree");
        summary.what_if = Some(what_if);
    }
    if html_report {
        let _t = crate::timing::stage("write: report.html");
        let page = crate::html::report(&summary);
        set.stage_bytes(crate::html::REPORT, page.as_bytes())?;
    } else {
        set.retire(crate::html::REPORT)?;
    }
    let _t = crate::timing::stage("write: summary");
    stage(set, SUMMARY, |w| {
        serde_json::to_writer_pretty(&mut *w, &summary).map_err(io::Error::from)?;
        Ok(w.write_all(b"\n")?)
    })?;
    Ok(summary)
}

/// Writes all five outputs into `dir` as one set: locks the folder, stages them
/// ([`write_all`]) and publishes them together. For library callers with one set.
pub fn write_dir(
    view: &View<'_>,
    judgement: &Judgement,
    as_of: AsOf,
    dir: &std::path::Path,
) -> Result<Summary, ReportError> {
    write_dir_with(view, judgement, as_of, None, dir)
}

/// [`write_dir`], with `whatif.csv` for a what-if policy ([`write_all`]).
pub fn write_dir_with(
    view: &View<'_>,
    judgement: &Judgement,
    as_of: AsOf,
    what_if: Option<WhatIf>,
    dir: &std::path::Path,
) -> Result<Summary, ReportError> {
    let mut set = OutputSet::lock(dir)?;
    let summary = write_all(view, judgement, as_of, what_if, &mut set)?;
    set.commit()?;
    Ok(summary)
}

/// Stages one table in every one of `formats`: `body` writes its CSV text once, and an
/// [`Exporter`] passes it to the CSV file and converts it for the others (with CSV alone,
/// straight to the file, as before the exports existed). Returns each file's digest.
fn stage_table(
    set: &mut OutputSet,
    formats: Formats,
    table: &'static export::Table,
    body: impl FnOnce(&mut &mut (dyn Write + Send)) -> Result<(), ReportError>,
) -> Result<Vec<(&'static str, Digest)>, ReportError> {
    let csv = table.file(Format::Csv);
    if formats == Formats::CSV {
        let digest = stage(set, csv, |w| {
            let mut w: &mut (dyn Write + Send) = w;
            body(&mut w)
        })?;
        return Ok(vec![(csv, digest)]);
    }
    let names: Vec<&'static str> = formats.iter().map(|f| table.file(f)).collect();
    let targets: Vec<PathBuf> = names.iter().map(|n| set.target(n)).collect();
    let digests = set.stage_several(&names, |writers| {
        let mut tagged: Vec<Tagged<'_>> = writers
            .iter_mut()
            .enumerate()
            .map(|(file, w)| Tagged { inner: w, file })
            .collect();
        let mut sinks = Sinks {
            csv: None,
            parquet: None,
            jsonl: None,
        };
        for (format, w) in formats.iter().zip(tagged.iter_mut()) {
            let w: &mut (dyn Write + Send) = w;
            match format {
                Format::Csv => sinks.csv = Some(w),
                Format::Parquet => sinks.parquet = Some(w),
                Format::Jsonl => sinks.jsonl = Some(w),
            }
        }
        let run = || {
            let mut exporter = Exporter::new(table, sinks)?;
            {
                let mut w: &mut (dyn Write + Send) = &mut exporter;
                body(&mut w)?;
            }
            exporter.finish()?;
            Ok(())
        };
        run().map_err(|e| match e {
            // The file whose write failed, when the error came from one (else the
            // first: a conversion error of ours).
            ReportError::Write { error, .. } => {
                let (file, error) = Tagged::untag(error);
                ReportError::Write {
                    path: targets[file.unwrap_or(0)].clone(),
                    error,
                }
            }
            other => other,
        })
    })?;
    Ok(names.into_iter().zip(digests).collect())
}

/// One of the files of a table staged side by side, whose write errors say which file
/// they came from (through the exporter, and the Parquet writer's own error type).
struct Tagged<'w> {
    inner: &'w mut Staging<BufWriter<File>>,
    file: usize,
}

/// An I/O error of the `file`th file of a [`Tagged`] set.
#[derive(Debug)]
struct FileError {
    file: usize,
    error: io::Error,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for FileError {}

impl Tagged<'_> {
    fn tag(&self, error: io::Error) -> io::Error {
        let kind = error.kind();
        io::Error::new(
            kind,
            FileError {
                file: self.file,
                error,
            },
        )
    }

    /// The file an error came from, if tagged, and the error as it was.
    fn untag(error: io::Error) -> (Option<usize>, io::Error) {
        if !error.get_ref().is_some_and(|e| e.is::<FileError>()) {
            return (None, error);
        }
        let inner = error.into_inner().expect("checked above");
        let tagged = inner.downcast::<FileError>().expect("checked above");
        (Some(tagged.file), tagged.error)
    }
}

impl Write for Tagged<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.tag(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|e| self.tag(e))
    }
}

/// Stages one output, naming its final path in any write error of `body`.
fn stage(
    set: &mut OutputSet,
    name: &str,
    body: impl FnOnce(&mut Staging<BufWriter<File>>) -> Result<(), ReportError>,
) -> Result<Digest, ReportError> {
    let target = set.target(name);
    set.stage(name, |w| {
        body(w).map_err(|e| match e {
            ReportError::Write { error, .. } => ReportError::Write {
                path: target.clone(),
                error,
            },
            other => other,
        })
    })
}

impl From<PublishError> for ReportError {
    fn from(error: PublishError) -> ReportError {
        ReportError::Publish(error)
    }
}

impl From<io::Error> for ReportError {
    fn from(error: io::Error) -> ReportError {
        // The path is filled in by `write_atomically`.
        ReportError::Write {
            path: PathBuf::new(),
            error,
        }
    }
}

/// `decisions.csv`: one row per SMETS1 installation, in the view's order (source, then
/// installation_id). Formats batches of a million installations in parallel, and
/// returns the installations it wrote counted for the summary ([`DecisionCounts`]).
pub fn write_decisions(
    view: &View<'_>,
    judgement: &Judgement,
    w: &mut (impl Write + Send),
) -> Result<DecisionCounts, ReportError> {
    w.write_all(b"source,installation_id,group_id,outcome,clauses,reasons,mpxns\n")?;
    let n = view.installation_count();
    // Batches of 2^20 installations are formatted in parallel while a writer thread
    // writes the previous batch. Chunks of 2^14 installations format to about 1 MiB,
    // so each part reaches the file without a copy through the writer's buffer.
    let (send, receive) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(1);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> io::Result<()> {
            for parts in receive {
                for part in parts {
                    w.write_all(&part)?;
                }
            }
            Ok(())
        });
        let mut total = DecisionCounts::new();
        let formatted = (|| {
            for batch_start in (0..n).step_by(1 << 20) {
                let batch_end = (batch_start + (1 << 20)).min(n);
                let chunks: Vec<(Vec<u8>, DecisionCounts)> = (batch_start..batch_end)
                    .into_par_iter()
                    .chunks(1 << 14)
                    .map(|chunk| {
                        let mut out = Vec::with_capacity(chunk.len() * 96);
                        let mut counts = DecisionCounts::new();
                        let mut decided = DecidedFields::default();
                        for inst in chunk {
                            if view.is_smets2(inst)? {
                                continue;
                            }
                            decision_record(view, judgement, inst, &mut decided, &mut out)?;
                            let key = (
                                judgement.findings[inst],
                                view.group_rank(inst)?,
                                view.source_rank(inst)?,
                            );
                            *counts.entry(key).or_default() += 1;
                        }
                        Ok((out, counts))
                    })
                    .collect::<Result<_, IndexError>>()?;
                let mut parts = Vec::with_capacity(chunks.len());
                for (part, counts) in chunks {
                    parts.push(part);
                    for (k, v) in counts {
                        *total.entry(k).or_default() += v;
                    }
                }
                if send.send(parts).is_err() {
                    // The writer stopped on an error, which it returns below.
                    break;
                }
            }
            Ok::<(), IndexError>(())
        })();
        drop(send);
        let written = writer.join().expect("the decisions writer does not panic");
        formatted?;
        written?;
        Ok(total)
    })
}

/// Writes `findings.csv`: one row per value that caused a finding of its installation
/// (SMETS1 and SMETS2), `source,installation_id,finding,file,line,column,value`, sorted
/// by those columns but the last (the image holds them in that order already, in two
/// sections merged here). A FUTURE_COMMS row is listed when its `last_comms_at` is after
/// the as-of date. One pass over `finding_rows` and `comms_rows`; cost O(records).
pub fn write_findings(view: &View<'_>, as_of: AsOf, w: &mut impl Write) -> Result<(), ReportError> {
    write_findings_counted(view, as_of, w).map(drop)
}

/// [`write_findings`], returning its rows counted by (file, column, finding) for
/// summary.json's `findings_by_source`: tallied as each row is written, so it costs a
/// hash-map update per row of findings.csv and no pass of its own.
pub fn write_findings_counted(
    view: &View<'_>,
    as_of: AsOf,
    w: &mut impl Write,
) -> Result<Vec<FindingSourceRecord>, ReportError> {
    w.write_all(b"source,installation_id,finding,file,line,column,value\n")?;
    let paths: Vec<String> = view
        .meta()?
        .inventories
        .into_iter()
        .map(|f| f.path)
        .collect();
    let mut out = Vec::with_capacity(1 << 16);
    let mut day = String::new();
    let mut by_source: HashMap<(usize, &[u8], &'static str), u64> = HashMap::new();
    // Two streams in findings.csv's order: `finding_rows`, and the FUTURE_COMMS
    // candidates written as plain dates (`comms_rows`), merged on the sort key.
    fn key<'a>(
        r: &crate::index::read::FindingEvidence<'a>,
    ) -> (usize, &'static str, usize, u64, &'a [u8]) {
        (r.installation, r.finding.code(), r.file, r.line, r.column)
    }
    // Of the plain-date candidates, only those after the as-of date are rows: picked in
    // one parallel pass over their days, not decoded one by one here.
    let after = view.comms_rows_after(as_of.date);
    let rows = view.finding_row_count();
    let row_at = |i: usize| (i < rows).then(|| view.finding_row(i)).transpose();
    let comms_at = |j: usize| after.get(j).map(|&k| view.comms_row(k)).transpose();
    let (mut i, mut j) = (0, 0);
    let (mut next_row, mut next_comms) = (row_at(0)?, comms_at(0)?);
    loop {
        let take_row = match (&next_row, &next_comms) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => key(a) <= key(b),
        };
        let row = if take_row {
            i += 1;
            std::mem::replace(&mut next_row, row_at(i)?).expect("taken above")
        } else {
            j += 1;
            std::mem::replace(&mut next_comms, comms_at(j)?).expect("taken above")
        };
        let raw: &[u8] = match row.last_comms_at {
            Some(d) if d <= as_of.date => continue,
            Some(d) if row.raw.is_empty() => {
                day.clear();
                use std::fmt::Write as _;
                write!(day, "{d}").expect("writing to a string");
                day.as_bytes()
            }
            _ => row.raw,
        };
        let path = paths.get(row.file).ok_or_else(|| {
            IndexError::corrupt(crate::index::Section::FindingRows, "names no input file")
        })?;
        *by_source
            .entry((row.file, row.column, row.finding.code()))
            .or_default() += 1;
        push_record(
            &mut out,
            &[
                view.source_text(row.installation)?,
                view.installation_text(row.installation)?,
                row.finding.code().as_bytes(),
                path.as_bytes(),
                row.line.to_string().as_bytes(),
                row.column,
                raw,
            ],
        );
        if out.len() >= 1 << 16 {
            w.write_all(&out)?;
            out.clear();
        }
    }
    w.write_all(&out)?;
    let mut records: Vec<FindingSourceRecord> = by_source
        .into_iter()
        .map(|((file, column, finding), rows)| FindingSourceRecord {
            file: paths[file].clone(),
            column: String::from_utf8_lossy(column).into_owned(),
            finding,
            rows,
        })
        .collect();
    records.sort_by(|a, b| (&a.file, &a.column, a.finding).cmp(&(&b.file, &b.column, b.finding)));
    Ok(records)
}

/// SMETS1 installations per (finding set, GroupID id, source id), as `write_decisions`
/// counts them for the summary: few distinct keys, so each is decided once.
pub type DecisionCounts = HashMap<(FindingSet, Option<u32>, u32), u64>;

/// The `outcome,clauses,reasons` fields of a decision, rendered once per distinct
/// finding set (there are few) instead of once per installation.
#[derive(Default)]
struct DecidedFields(HashMap<FindingSet, Vec<u8>>);

impl DecidedFields {
    fn of(&mut self, findings: FindingSet) -> &[u8] {
        self.0.entry(findings).or_insert_with(|| {
            let decision = decide(findings);
            let reasons: Vec<&str> = decision.findings.iter().map(Finding::code).collect();
            let mut fields = Vec::new();
            push_field(&mut fields, decision.outcome.as_str().as_bytes());
            fields.push(b',');
            push_field(&mut fields, decision.clauses.join(";").as_bytes());
            fields.push(b',');
            push_field(&mut fields, reasons.join(";").as_bytes());
            fields
        })
    }
}

fn decision_record(
    view: &View<'_>,
    judgement: &Judgement,
    inst: usize,
    decided: &mut DecidedFields,
    out: &mut Vec<u8>,
) -> Result<(), IndexError> {
    for field in [
        view.source_text(inst)?,
        view.installation_text(inst)?,
        view.group_text(inst)?,
    ] {
        push_field(out, field);
        out.push(b',');
    }
    out.extend_from_slice(decided.of(judgement.findings[inst]));
    out.push(b',');
    push_field(out, view.mpxns_text(inst)?);
    out.push(b'\n');
    Ok(())
}

/// `duplicates.csv`: one row per (shared MPxN, member installation), in the view's
/// order (MPxN text, then source, then installation_id).
pub fn write_duplicates(
    view: &View<'_>,
    judgement: &Judgement,
    w: &mut impl Write,
) -> Result<(), ReportError> {
    write_duplicates_counted(view, judgement, w).map(drop)
}

/// [`write_duplicates`], returning the shared MPxNs counted by size and by the
/// inventories that share them ([`SharingTally`]), tallied in the same parallel pass.
pub fn write_duplicates_counted(
    view: &View<'_>,
    judgement: &Judgement,
    w: &mut impl Write,
) -> Result<SharingTally, ReportError> {
    w.write_all(b"mpxn,kind,source,installation_id,installed_on,last_comms_at,communicating,last_installed,party_id\n")?;
    // Chunks of groups are formatted in parallel and written in order.
    let parts: Vec<(Vec<u8>, SharingTally)> = (0..view.group_count())
        .into_par_iter()
        .chunks(1 << 12)
        .map(|groups| {
            let mut out = Vec::new();
            let mut tally = SharingTally::default();
            let mut sources = Vec::new();
            for g in groups {
                sources.clear();
                duplicate_records(view, judgement, g, &mut out, &mut sources)?;
                tally.add(&mut sources);
            }
            Ok((out, tally))
        })
        .collect::<Result<_, IndexError>>()?;
    let mut total = SharingTally::default();
    for (part, tally) in parts {
        w.write_all(&part)?;
        total.merge(tally);
    }
    Ok(total)
}

/// A member's inventory: its source rank, and whether it is SMETS2.
type SourceOf = (u32, bool);

/// Shared MPxNs counted by how many installations carry each (`by_size`) and by each
/// pair of inventories among its members (`by_pair`, source ranks `a <= b`, with whether
/// each is SMETS2): the figures DCC's per-cohort migration reporting draws.
#[derive(Default)]
pub struct SharingTally {
    by_size: BTreeMap<u64, u64>,
    by_pair: BTreeMap<(SourceOf, SourceOf), u64>,
}

impl SharingTally {
    /// Counts one group from its members' (source rank, SMETS2) list: once under its
    /// size, and once under every distinct unordered pair of its members' inventories
    /// (a pair of one inventory with itself when two members are in the same one).
    fn add(&mut self, sources: &mut [SourceOf]) {
        *self.by_size.entry(sources.len() as u64).or_default() += 1;
        sources.sort_unstable();
        let mut pairs = Vec::new();
        for i in 0..sources.len() {
            for j in i + 1..sources.len() {
                pairs.push((sources[i], sources[j]));
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        for pair in pairs {
            *self.by_pair.entry(pair).or_default() += 1;
        }
    }

    fn merge(&mut self, other: SharingTally) {
        for (k, n) in other.by_size {
            *self.by_size.entry(k).or_default() += n;
        }
        for (k, n) in other.by_pair {
            *self.by_pair.entry(k).or_default() += n;
        }
    }

    /// summary.json's `duplicate_groups_by_size` and `duplicate_groups_by_sources`.
    fn records(
        &self,
        view: &View<'_>,
    ) -> Result<(Vec<GroupSizeRecord>, Vec<SharingRecord>), IndexError> {
        let by_size = self
            .by_size
            .iter()
            .map(|(&members, &groups)| GroupSizeRecord { members, groups })
            .collect();
        let name = |rank: u32| -> Result<String, IndexError> {
            Ok(String::from_utf8_lossy(view.source_name(rank as usize)?).into_owned())
        };
        let mut by_sources = Vec::with_capacity(self.by_pair.len());
        for (&((a, a2), (b, b2)), &groups) in &self.by_pair {
            by_sources.push(SharingRecord {
                source_a: name(a)?,
                source_b: name(b)?,
                kind: match (a2, b2) {
                    (false, false) => "SMSO-SMSO",
                    (true, true) => "SMETS2-SMETS2",
                    _ => "SMSO-SMETS2",
                },
                groups,
            });
        }
        by_sources.sort_by(|x, y| (&x.source_a, &x.source_b).cmp(&(&y.source_a, &y.source_b)));
        Ok((by_size, by_sources))
    }
}

/// The `duplicates.csv` rows of shared-MPxN group `g`.
fn duplicate_records(
    view: &View<'_>,
    judgement: &Judgement,
    g: usize,
    out: &mut Vec<u8>,
    sources: &mut Vec<(u32, bool)>,
) -> Result<(), IndexError> {
    let key = view.group_mpxn(g)?;
    let mpxn = key.to_string();
    for member in view.members(g)? {
        let member = member?;
        let inst = member.installation;
        sources.push((view.source_rank(inst)?, view.is_smets2(inst)?));
        let verdict = judgement.verdicts.get(member.index).ok_or_else(|| {
            IndexError::corrupt(
                crate::index::Section::GroupMembers,
                "more members than judged",
            )
        })?;
        let installed = member
            .installed_on
            .map(|d| d.to_string())
            .unwrap_or_default();
        let last = view
            .last_comms(inst)?
            .map(|d| d.to_string())
            .unwrap_or_default();
        push_record(
            out,
            &[
                mpxn.as_bytes(),
                key.kind().as_str().as_bytes(),
                view.source_text(inst)?,
                view.installation_text(inst)?,
                installed.as_bytes(),
                last.as_bytes(),
                judgement.comm[inst].as_str().as_bytes(),
                verdict.last_installed.as_str().as_bytes(),
                member.parties,
            ],
        );
    }
    Ok(())
}

/// The header of `whatif.csv` (SPEC §6.4).
pub const WHATIF_HEADER: &[u8] =
    b"source,installation_id,group_id,outcome,whatif_outcome,whatif_clauses,whatif_reasons,held_back_by,mpxns\n";

/// `whatif.csv` (SPEC §6.4): one row per SMETS1 installation whose outcome under
/// `policy` differs from its outcome under DCC's rule, in the view's order (that of
/// `decisions.csv`); `outcome` is DCC's, `whatif_*` the policy's, `held_back_by` the
/// findings of DCC's that the policy sets aside ([`WhatIf::decide`]), every list
/// `;`-joined and sorted as in `decisions.csv`. Returns how many rows it wrote.
///
/// Cost: one look at each installation's finding set, most often a comparison with
/// its neighbour's (each distinct set is decided once per chunk of 2^14); only the
/// installations that change are read from the view and formatted, in parallel, a
/// batch of 2^20 installations at a time. About 5 ms for the 2 million
/// installations of a 6-million-row index on 2 cores.
pub fn write_whatif(
    view: &View<'_>,
    judgement: &Judgement,
    policy: WhatIf,
    w: &mut impl Write,
) -> Result<u64, ReportError> {
    w.write_all(WHATIF_HEADER)?;
    let n = view.installation_count();
    let mut rows = 0;
    for batch_start in (0..n).step_by(1 << 20) {
        let batch_end = (batch_start + (1 << 20)).min(n);
        let chunks: Vec<usize> = (batch_start..batch_end).step_by(1 << 14).collect();
        let parts: Vec<(Vec<u8>, u64)> = chunks
            .into_par_iter()
            .map(|chunk_start| {
                let mut out = Vec::new();
                let mut rows = 0;
                let mut changes = WhatIfFields::new(policy);
                for inst in chunk_start..(chunk_start + (1 << 14)).min(batch_end) {
                    let Some(fields) = changes.of(judgement.findings[inst]) else {
                        continue;
                    };
                    // SMETS2 installations are judged as evidence, never decided.
                    if view.is_smets2(inst)? {
                        continue;
                    }
                    for field in [
                        view.source_text(inst)?,
                        view.installation_text(inst)?,
                        view.group_text(inst)?,
                    ] {
                        push_field(&mut out, field);
                        out.push(b',');
                    }
                    out.extend_from_slice(fields);
                    out.push(b',');
                    push_field(&mut out, view.mpxns_text(inst)?);
                    out.push(b'\n');
                    rows += 1;
                }
                Ok((out, rows))
            })
            .collect::<Result<_, IndexError>>()?;
        for (part, n) in parts {
            w.write_all(&part)?;
            rows += n;
        }
    }
    Ok(rows)
}

/// The `outcome,whatif_outcome,whatif_clauses,whatif_reasons,held_back_by` fields of a
/// `whatif.csv` row, or `None` when the policy does not change the outcome: decided
/// once per distinct finding set.
struct WhatIfFields {
    policy: WhatIf,
    rendered: HashMap<FindingSet, Option<Vec<u8>>>,
    /// The last set looked up that the policy does not change: neighbours in output
    /// order mostly share one (most often none at all), so most look-ups stop here.
    last_unchanged: Option<FindingSet>,
}

impl WhatIfFields {
    fn new(policy: WhatIf) -> WhatIfFields {
        WhatIfFields {
            policy,
            rendered: HashMap::new(),
            last_unchanged: None,
        }
    }

    fn of(&mut self, dcc: FindingSet) -> Option<&[u8]> {
        if self.last_unchanged == Some(dcc) {
            return None;
        }
        let policy = self.policy;
        let fields = self.rendered.entry(dcc).or_insert_with(|| {
            let d = policy.decide(dcc);
            if !d.changed() {
                return None;
            }
            let codes = |f: FindingSet| f.iter().map(Finding::code).collect::<Vec<_>>();
            let mut fields = Vec::new();
            push_field(&mut fields, d.dcc.outcome.as_str().as_bytes());
            fields.push(b',');
            push_field(&mut fields, d.policy.outcome.as_str().as_bytes());
            fields.push(b',');
            push_field(&mut fields, d.policy.clauses.join(";").as_bytes());
            fields.push(b',');
            push_field(&mut fields, codes(d.policy.findings).join(";").as_bytes());
            fields.push(b',');
            push_field(&mut fields, codes(d.held_back_by).join(";").as_bytes());
            Some(fields)
        });
        if fields.is_none() {
            self.last_unchanged = Some(dcc);
        }
        fields.as_deref()
    }
}

/// Counts of SMETS1 installations by outcome.
pub type OutcomeCounts = BTreeMap<&'static str, u64>;

/// `summary.json`'s `what_if` (SPEC §6.4), present only with a what-if policy.
#[derive(Clone, Debug, Serialize)]
pub struct WhatIfSummary {
    /// The policy's name, as `--what-if` takes it.
    pub policy: &'static str,
    /// Every SMETS1 installation by its outcome under the policy (all four listed).
    pub outcomes: OutcomeCounts,
    /// SMETS1 installations whose outcome under the policy differs from DCC's: the rows
    /// of `whatif.csv`.
    pub changed: u64,
    /// Those by `"<outcome>-><whatif_outcome>"` (e.g. `"exclude->unblock"`); a pair that
    /// never occurs is left out, as `reasons` leaves out findings that never hold.
    pub changed_by_outcome: BTreeMap<String, u64>,
    /// Those by each code `held_back_by` can list (all listed); an installation held
    /// back by two codes (from two MPxNs it shares) counts under each.
    pub changed_by_held_back_by: BTreeMap<&'static str, u64>,
    /// `whatif.csv`'s size and CRC-32C (and `whatif.parquet`'s, `whatif.jsonl`'s when
    /// written): a reader can tell that it belongs to this summary (the top-level
    /// `outputs` keeps the other tables' files, as without a policy).
    pub outputs: BTreeMap<&'static str, Digest>,
}

impl WhatIfSummary {
    /// Tallies the SMETS1 installations `write_decisions` counted (by finding set) under
    /// `policy`, deciding each distinct finding set once.
    pub fn of(
        policy: WhatIf,
        counts: &DecisionCounts,
        files: Vec<(&'static str, Digest)>,
    ) -> WhatIfSummary {
        let mut outcomes = zero_outcomes();
        let mut changed = 0;
        let mut changed_by_outcome: BTreeMap<String, u64> = BTreeMap::new();
        let every_finding = FindingSet::from_bits(u32::MAX);
        let mut changed_by_held_back_by: BTreeMap<&'static str, u64> = policy
            .held_back_by(every_finding)
            .iter()
            .map(|f| (f.code(), 0))
            .collect();
        let mut by_findings: HashMap<FindingSet, u64> = HashMap::new();
        for (&(findings, _, _), &n) in counts {
            *by_findings.entry(findings).or_default() += n;
        }
        for (findings, n) in by_findings {
            let d = policy.decide(findings);
            *outcomes.entry(d.policy.outcome.as_str()).or_default() += n;
            if !d.changed() {
                continue;
            }
            changed += n;
            let pair = format!("{}->{}", d.dcc.outcome.as_str(), d.policy.outcome.as_str());
            *changed_by_outcome.entry(pair).or_default() += n;
            for f in d.held_back_by.iter() {
                *changed_by_held_back_by.entry(f.code()).or_default() += n;
            }
        }
        WhatIfSummary {
            policy: policy.name(),
            outcomes,
            changed,
            changed_by_outcome,
            changed_by_held_back_by,
            outputs: files.into_iter().collect(),
        }
    }
}

/// `summary.json`: everything needed to reproduce and audit the run, and no timings, so
/// that it is byte-identical for the same inputs.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub engine: String,
    pub version: String,
    pub as_of: String,
    /// Where the as-of date came from: `given` (`--as-of`), `sample` (the bundled
    /// sample's documented date) or `today` (nothing given). Set by the command line;
    /// absent for library callers, who always pass a date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of_source: Option<&'static str>,
    pub window_days: u32,
    pub inventories: Vec<InputFile>,
    pub suppliers: InputFile,
    pub rows: Accounting,
    pub rejects_by_reason: BTreeMap<String, u64>,
    pub installations: BTreeMap<&'static str, u64>,
    pub shared_mpxns: u64,
    pub outcomes: OutcomeCounts,
    /// SMETS1 installations on which each finding holds.
    pub reasons: BTreeMap<&'static str, u64>,
    /// Outcome counts per GroupID (`(none)` when an installation has none).
    pub by_group_id: BTreeMap<String, OutcomeCounts>,
    /// Outcome counts per SMSO.
    pub by_source: BTreeMap<String, OutcomeCounts>,
    /// SMETS1 installations by (source, GroupID, outcome), as flat records a DuckDB or
    /// Polars reader takes as a table (the keyed objects above read as STRUCTs with
    /// GroupIDs for field names); only combinations that occur, sorted by source,
    /// GroupID (`(none)` when it has none), then outcome in SPEC §6.2 order.
    pub by_source_group: Vec<SourceGroupRecord>,
    /// SMETS1 installations by (GroupID, reason): for each GroupID, how many carry each
    /// finding; sorted by GroupID, then reason code.
    pub by_group_reason: Vec<GroupReasonRecord>,
    /// Shared MPxNs by how many installations carry each (any sources, SMETS2
    /// included): one record per size that occurs, sorted by size.
    pub duplicate_groups_by_size: Vec<GroupSizeRecord>,
    /// Shared MPxNs by which inventories share them: each distinct unordered pair of
    /// its members' sources counts the MPxN once (`source_a <= source_b`; equal when two
    /// members are in one inventory), `kind` `SMSO-SMSO`, `SMSO-SMETS2` or
    /// `SMETS2-SMETS2`; sorted by `source_a`, then `source_b`. An MPxN shared by three
    /// inventories counts under each of its three pairs.
    pub duplicate_groups_by_sources: Vec<SharingRecord>,
    /// findings.csv's rows by input file, column and finding (the data issues' sources),
    /// sorted by those three; their `rows` add up to findings.csv's rows.
    pub findings_by_source: Vec<FindingSourceRecord>,
    /// The other outputs of this set, with their sizes and CRC-32Cs: a reader can tell
    /// that decisions.csv, duplicates.csv and rejects.csv (and the `.parquet` and
    /// `.jsonl` exports, when written) belong to this summary.
    pub outputs: BTreeMap<&'static str, Digest>,
    /// With a what-if policy only (`sweep --what-if`); without one the key is absent and
    /// the summary is the same bytes as before the policy existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what_if: Option<WhatIfSummary>,
}

/// One record of `summary.json`'s `by_source_group`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceGroupRecord {
    pub source: String,
    pub group_id: String,
    pub outcome: &'static str,
    pub installations: u64,
}

/// One record of `summary.json`'s `duplicate_groups_by_size`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupSizeRecord {
    pub members: u64,
    pub groups: u64,
}

/// One record of `summary.json`'s `duplicate_groups_by_sources`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SharingRecord {
    pub source_a: String,
    pub source_b: String,
    pub kind: &'static str,
    pub groups: u64,
}

/// One record of `summary.json`'s `findings_by_source`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FindingSourceRecord {
    pub file: String,
    pub column: String,
    pub finding: &'static str,
    pub rows: u64,
}

/// One record of `summary.json`'s `by_group_reason`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupReasonRecord {
    pub group_id: String,
    pub reason: &'static str,
    pub installations: u64,
}

fn zero_outcomes() -> OutcomeCounts {
    Outcome::ALL.iter().map(|o| (o.as_str(), 0)).collect()
}

impl Summary {
    /// Tallies the SMETS1 decisions `write_decisions` counted (by outcome, reason,
    /// GroupID and source) and copies the build metadata. `version` is this engine's (the
    /// one that judged and wrote the outputs), not the one that built an index.
    pub fn of(
        view: &View<'_>,
        counts: &DecisionCounts,
        as_of: AsOf,
    ) -> Result<Summary, IndexError> {
        #[derive(Default)]
        struct Tally {
            outcomes: BTreeMap<Outcome, u64>,
            reasons: BTreeMap<Finding, u64>,
            by_group: BTreeMap<(Option<u32>, Outcome), u64>,
            by_source: BTreeMap<(u32, Outcome), u64>,
            by_source_group: BTreeMap<(u32, Option<u32>, Outcome), u64>,
            by_group_reason: BTreeMap<(Option<u32>, Finding), u64>,
            smets1: u64,
        }
        let meta = view.meta()?;
        let count = view.installation_count();
        let mut tally = Tally::default();
        for (&(findings, group, source), &n) in counts {
            let d = decide(findings);
            tally.smets1 += n;
            *tally.outcomes.entry(d.outcome).or_default() += n;
            for f in d.findings.iter() {
                *tally.reasons.entry(f).or_default() += n;
            }
            *tally.by_group.entry((group, d.outcome)).or_default() += n;
            *tally.by_source.entry((source, d.outcome)).or_default() += n;
            *tally
                .by_source_group
                .entry((source, group, d.outcome))
                .or_default() += n;
            for f in d.findings.iter() {
                *tally.by_group_reason.entry((group, f)).or_default() += n;
            }
        }
        let group_name = |group: Option<u32>| -> Result<String, IndexError> {
            Ok(match group {
                None => "(none)".to_string(),
                Some(g) => String::from_utf8_lossy(view.group_id_name(g as usize)?).into_owned(),
            })
        };
        // By names (ranks are byte order already, but say it with the texts).
        let mut by_source_group = Vec::with_capacity(tally.by_source_group.len());
        for ((source, group, o), n) in &tally.by_source_group {
            by_source_group.push(SourceGroupRecord {
                source: String::from_utf8_lossy(view.source_name(*source as usize)?).into_owned(),
                group_id: group_name(*group)?,
                outcome: o.as_str(),
                installations: *n,
            });
        }
        let outcome_rank = |o: &str| Outcome::ALL.iter().position(|x| x.as_str() == o);
        by_source_group.sort_by(|a, b| {
            (&a.source, &a.group_id, outcome_rank(a.outcome)).cmp(&(
                &b.source,
                &b.group_id,
                outcome_rank(b.outcome),
            ))
        });
        let mut by_group_reason = Vec::with_capacity(tally.by_group_reason.len());
        for ((group, f), n) in &tally.by_group_reason {
            by_group_reason.push(GroupReasonRecord {
                group_id: group_name(*group)?,
                reason: f.code(),
                installations: *n,
            });
        }
        by_group_reason.sort_by(|a, b| (&a.group_id, a.reason).cmp(&(&b.group_id, b.reason)));

        let mut outcomes = zero_outcomes();
        for (o, n) in tally.outcomes {
            outcomes.insert(o.as_str(), n);
        }
        let mut by_group_id: BTreeMap<String, OutcomeCounts> = BTreeMap::new();
        for ((group, o), n) in tally.by_group {
            let name = match group {
                None => "(none)".to_string(),
                Some(g) => String::from_utf8_lossy(view.group_id_name(g as usize)?).into_owned(),
            };
            by_group_id
                .entry(name)
                .or_insert_with(zero_outcomes)
                .insert(o.as_str(), n);
        }
        let mut by_source: BTreeMap<String, OutcomeCounts> = BTreeMap::new();
        for ((source, o), n) in tally.by_source {
            let name = String::from_utf8_lossy(view.source_name(source as usize)?).into_owned();
            by_source
                .entry(name)
                .or_insert_with(zero_outcomes)
                .insert(o.as_str(), n);
        }
        let smets2 = count as u64 - tally.smets1;
        Ok(Summary {
            engine: "mpxn-recon".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            as_of: as_of.date.to_string(),
            as_of_source: None,
            window_days: as_of.window_days,
            inventories: meta.inventories,
            suppliers: meta.suppliers,
            rows: meta.rows,
            rejects_by_reason: meta.rejects_by_reason,
            installations: [("smets1", tally.smets1), ("smets2", smets2)]
                .into_iter()
                .collect(),
            shared_mpxns: view.group_count() as u64,
            outcomes,
            reasons: tally
                .reasons
                .into_iter()
                .map(|(f, n)| (f.code(), n))
                .collect(),
            by_group_id,
            by_source,
            by_source_group,
            by_group_reason,
            duplicate_groups_by_size: Vec::new(),
            duplicate_groups_by_sources: Vec::new(),
            findings_by_source: Vec::new(),
            outputs: BTreeMap::new(),
            what_if: None,
        })
    }
}
