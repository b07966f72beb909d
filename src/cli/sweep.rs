//! `mpxn-recon sweep`: the reconciliation sweep from CSV inventories.
//!
//! With no inputs named it sweeps the bundled sample in `datasets/sample/`, as of the
//! date that sample documents in `datasets/sample/AS_OF`, so a fresh clone shows every
//! outcome with one command.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, Context};
use clap::{Args, ValueEnum};

use super::{parse_as_of, AsOfArgs, AsOfOrigin, Console, Failure, MemoryArgs};
use crate::export::{Format, Formats};
use crate::index::build;
use crate::index::file::{FileError, IndexFile, Reads};
use crate::index::View;
use crate::ingest::IngestSettings;
use crate::judge;
use crate::normalize::Day;
use crate::portfolio;
use crate::publish::{self, OutputSet};
use crate::report::{self, ReportError, Summary};
use crate::resolve::{AsOf, WhatIf};
use crate::sweep::SweepConfig;
use crate::timing;

/// Judge every SMETS1 installation; write decisions, duplicates, rejects and a summary.
///
/// Sweep every inventory against the supplier registry and write decisions.csv,
/// duplicates.csv, rejects.csv, findings.csv and summary.json (and whatif.csv with
/// --what-if, report.html with --report).
///
/// With no --inventory and no --suppliers, sweeps the bundled sample
/// (datasets/sample/) as of the date it documents.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Inventory files (CSV or pipe-delimited, one row per device): one per SMSO and
    /// the SMETS2 inventory; rows of one source may span files. Several may follow one
    /// --inventory, or it may be repeated; a folder stands for every *.csv, *.psv and
    /// *.txt in it, sorted by name. Files are memory-mapped, not loaded; memory stays
    /// within --memory-limit.
    #[arg(long = "inventory", value_name = "FILE|DIR", num_args = 1..)]
    pub inventories: Vec<PathBuf>,

    /// The supplier registry (supplier_id, party_id, name, status). Required when
    /// --inventory is given. A bad registry refuses the whole run.
    #[arg(long, value_name = "FILE")]
    pub suppliers: Option<PathBuf>,

    #[command(flatten)]
    pub as_of: AsOfArgs,

    #[command(flatten)]
    pub memory: MemoryArgs,

    /// Directory for the output files (created if missing; files in it are replaced).
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,

    /// Exit with status 3 if any row was rejected (after writing every output).
    #[arg(long)]
    pub strict: bool,

    /// Print nothing on standard output (the summary); warnings and errors still go to
    /// standard error.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Sweep a built index (.mxi, from `mpxn-recon index build`) instead of CSV inputs:
    /// no parsing, the same output bytes as the CSV sweep of the same inputs.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["inventories", "suppliers"])]
    pub index: Option<PathBuf>,

    /// Also write, into DIR, one portfolio report per supplier party (`<party>.csv`, as
    /// `mpxn-recon portfolio` writes it) and its impact summary (`<party>.impact.json`:
    /// counts by outcome and reason, dormant vs active, by GroupID). A CSV sweep then
    /// keeps device columns in memory (about twice the image).
    #[arg(long, value_name = "DIR")]
    pub per_party: Option<PathBuf>,

    /// Per-party reports as JSON Lines (`<party>.jsonl`) instead of CSV.
    #[arg(long, requires = "per_party")]
    pub json: bool,

    /// Also judge every SMETS1 installation under a what-if policy (SPEC §6.4) and write
    /// whatif.csv: each installation whose outcome under the policy differs from DCC's,
    /// with the policy's outcome, clauses and reasons and the findings of DCC's rule that
    /// held it back; summary.json gains a `what_if` object. DCC's rule still decides
    /// every other file and key, byte for byte. Without --what-if, a whatif.csv that an
    /// earlier run left in --out is removed (it would not be this run's).
    #[arg(long, value_enum, value_name = "POLICY")]
    pub what_if: Option<WhatIfPolicy>,

    /// Also write report.html: one self-contained page (no script, no external
    /// resource; prints) of summary.json's figures — inputs, row accounting, outcomes by
    /// SMSO and GroupID, reasons by GroupID, duplicate groups, where the data issues come
    /// from, and the what-if. With --per-party, each party also gets `<party>.html`, its
    /// notice as a page. Without --report, a report.html an earlier run left in --out is
    /// removed.
    #[arg(long)]
    pub report: bool,

    /// The format of decisions, duplicates, rejects, findings and whatif: csv (the
    /// default), parquet (typed columns: DATE, INT64, STRING) or jsonl (JSON Lines, one
    /// object per row). Repeat it, or list them (`--format csv,parquet`), for several;
    /// only the formats named are written, and an earlier run's files in the others are
    /// removed. summary.json is always written, with every file's size and CRC-32C.
    #[arg(
        long = "format",
        value_enum,
        value_name = "FORMAT",
        value_delimiter = ','
    )]
    pub formats: Vec<OutputFormat>,
}

/// The formats `--format` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// CSV, as SPEC §7 describes it (the default).
    Csv,
    /// Apache Parquet: one row group per 2^20 rows, zstd, dates as DATE, line numbers
    /// as INT64, every other column a UTF-8 STRING (NULL when empty and optional).
    Parquet,
    /// JSON Lines: one object per row, keys the CSV header's names, empty → null.
    Jsonl,
}

impl From<OutputFormat> for Format {
    fn from(f: OutputFormat) -> Format {
        match f {
            OutputFormat::Csv => Format::Csv,
            OutputFormat::Parquet => Format::Parquet,
            OutputFormat::Jsonl => Format::Jsonl,
        }
    }
}

impl SweepArgs {
    /// The formats asked for (CSV alone when none).
    pub fn formats(&self) -> Formats {
        let formats: Vec<Format> = self.formats.iter().map(|f| Format::from(*f)).collect();
        Formats::of(&formats)
    }
}

/// The policies `--what-if` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WhatIfPolicy {
    /// The only communicating member of a shared MPxN is unblocked (clause alt-4.1C)
    /// even when it was not the last installed: the alternative DCC rejected for the
    /// risk of inadvertent data access.
    OnlyCommunicating,
}

impl From<WhatIfPolicy> for WhatIf {
    fn from(policy: WhatIfPolicy) -> WhatIf {
        match policy {
            WhatIfPolicy::OnlyCommunicating => WhatIf::OnlyCommunicating,
        }
    }
}

/// Where the bundled sample lives: `datasets/sample` under the working directory when
/// it is there (a clone's root), else under the crate's source directory.
fn sample_dir() -> PathBuf {
    let local = Path::new("datasets/sample");
    if local.is_dir() {
        local.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/sample")
    }
}

/// The bundled sample's inputs and documented as-of date.
fn sample_inputs() -> anyhow::Result<(Vec<PathBuf>, PathBuf, Day)> {
    let dir = sample_dir();
    let inventory_dir = dir.join("inventory");
    let mut inventories: Vec<PathBuf> = std::fs::read_dir(&inventory_dir)
        .with_context(|| {
            format!(
                "cannot list the bundled sample in {}",
                inventory_dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    inventories.sort();
    let as_of_path = dir.join("AS_OF");
    let text = std::fs::read_to_string(&as_of_path)
        .with_context(|| format!("cannot read {}", as_of_path.display()))?;
    let as_of = parse_as_of(text.trim()).map_err(|e| anyhow!("{}: {e}", as_of_path.display()))?;
    Ok((inventories, dir.join("suppliers.csv"), as_of))
}

pub fn run(args: SweepArgs) -> Result<ExitCode, Failure> {
    let started = Instant::now();
    if let Some(path) = &args.index {
        // The folders first: a run that cannot publish stops before the work.
        let outputs = Outputs::open(&args, &[path.as_path()])?;
        let t = timing::stage("open and verify index");
        // A plain sweep reads no device columns or lookup maps: verify only the rest.
        let reads = if args.per_party.is_some() {
            Reads::Everything
        } else {
            Reads::SweepSections
        };
        let file = IndexFile::open_verified_for(path, reads)?;
        drop(t);
        let view = file.view()?;
        let as_of = args.as_of.pick(None);
        let code = finish(&view, as_of, &args, outputs, started, &|| {
            Ok(file.check_unchanged()?)
        })?;
        return Ok(code);
    }
    let (inventories, suppliers, sample_as_of) =
        match (args.inventories.is_empty(), args.suppliers.clone()) {
            (true, None) => {
                let (inv, sup, as_of) = sample_inputs()?;
                (inv, sup, Some(as_of))
            }
            (false, Some(sup)) => (super::inventory_files(&args.inventories)?, sup, None),
            (true, Some(_)) => {
                return Err(Failure::Refused(anyhow!(
                    "--suppliers needs at least one --inventory"
                )))
            }
            (false, None) => {
                return Err(Failure::Refused(anyhow!(
                    "--inventory needs --suppliers (the supplier registry)"
                )))
            }
        };
    let inputs: Vec<&Path> = inventories
        .iter()
        .map(PathBuf::as_path)
        .chain([suppliers.as_path()])
        .collect();
    let outputs = Outputs::open(&args, &inputs)?;
    let as_of = args.as_of.pick(sample_as_of);
    let config = SweepConfig {
        inventories: inventories.clone(),
        suppliers: suppliers.clone(),
        ingest: IngestSettings::default(),
        budget: args.memory.budget()?,
        comms_after: Some(as_of.0.date),
    };
    let purpose = if args.per_party.is_some() {
        build::Purpose::Index
    } else {
        build::Purpose::Sweep
    };
    let image = crate::sweep::run(&config, purpose)?.image;
    let view = image.view()?;
    // The inventories were checked against in-place rewrites when the image was built;
    // the image holds its own copy of everything it shows.
    finish(&view, as_of, &args, outputs, started, &|| Ok(()))
}

/// The sweep's output folder and, with --per-party, the notices' folder: each locked
/// for this run, checked not to replace an input.
struct Outputs {
    sweep: OutputSet,
    notices: Option<OutputSet>,
}

impl Outputs {
    fn open(args: &SweepArgs, inputs: &[&Path]) -> Result<Outputs, Failure> {
        #[cfg(not(feature = "parquet"))]
        if args.formats().has(Format::Parquet) {
            return Err(Failure::Refused(anyhow!(
                "--format parquet: this build has no Parquet writer (built without the \
                 `parquet` feature); use csv or jsonl, or rebuild with default features"
            )));
        }
        let mut sweep = OutputSet::lock(&args.out)?;
        let (formats, what_if) = (args.formats(), args.what_if.is_some());
        let mut names = report::output_names(formats, what_if);
        if args.report {
            names.push(crate::html::REPORT);
        }
        sweep.protect(inputs, &names)?;
        // Refused here, before any work, if one is an input; `report` retires them too.
        for name in report::retired_names(formats, what_if) {
            sweep.retire(name)?;
        }
        if !args.report {
            sweep.retire(crate::html::REPORT)?;
        }
        let notices = match &args.per_party {
            None => None,
            Some(dir) => {
                if publish::same_directory(dir, &args.out) {
                    return Err(publish::PublishError::SameFolder {
                        notices: dir.clone(),
                    }
                    .into());
                }
                let mut notices = OutputSet::lock(dir)?;
                // The notices' names are known only when they are staged.
                notices.protect(inputs, &[])?;
                Some(notices)
            }
        };
        Ok(Outputs { sweep, notices })
    }
}

/// Judges a view, stages every output, checks that the inputs did not change while
/// they were read, publishes the notices' set and then the sweep's (whose summary.json
/// is renamed last), and prints the summary: shared by CSV and index sweeps.
fn finish(
    view: &View<'_>,
    (as_of, origin): (AsOf, AsOfOrigin),
    args: &SweepArgs,
    mut outputs: Outputs,
    started: Instant,
    unchanged: &dyn Fn() -> Result<(), Failure>,
) -> Result<ExitCode, Failure> {
    let t = timing::stage("write outputs");
    let staged = (|| {
        let judgement = judge::judge(view, as_of)?;
        let what_if = args.what_if.map(WhatIf::from);
        let summary = report::write_all_from(
            view,
            &judgement,
            (as_of, Some(origin.name())),
            what_if,
            (args.formats(), args.report),
            &mut outputs.sweep,
        )?;
        let check = judgement.as_of_check;
        let parties = match &mut outputs.notices {
            Some(set) => Some(portfolio::write_per_party(
                view,
                &judgement,
                as_of,
                set,
                args.json,
                args.report,
            )?),
            None => None,
        };
        Ok::<_, ReportError>((summary, parties, check))
    })();
    // An input changed under us explains any damage found after it was verified, and
    // fails a run that found none: either way nothing is published.
    unchanged()?;
    let (summary, parties, check) = staged.map_err(|e| match (e, &args.index) {
        // Damage found past the checksums names the index it is in.
        (ReportError::Index(problem), Some(path)) => Failure::from(FileError::Damaged {
            path: path.clone(),
            problem,
        }),
        (e, _) => Failure::from(e),
    })?;
    let mut console = Console::new();
    let removed: Vec<PathBuf> = outputs
        .sweep
        .removed_stale
        .iter()
        .chain(outputs.notices.iter().flat_map(|s| s.removed_stale.iter()))
        .cloned()
        .collect();
    let retired = outputs.sweep.retiring();
    // An earlier run's notices that this one does not write (a party gone from the
    // registry, --json switched): removed with the commit, and said.
    let replaced = outputs
        .notices
        .as_ref()
        .map(|s| s.retiring())
        .unwrap_or_default();
    if let Some(set) = outputs.notices {
        set.commit()?;
    }
    outputs.sweep.commit()?;
    drop(t);
    crate::timing::hide_progress();
    for path in &removed {
        eprintln!(
            "mpxn-recon: removed {}, left by an interrupted run",
            path.display()
        );
    }
    for path in &retired {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.as_deref().unwrap_or("");
        if name == crate::html::REPORT {
            eprintln!(
                "mpxn-recon: removed {}, an earlier run's report (this sweep has no --report)",
                path.display()
            );
        } else if name.starts_with("whatif.") && args.what_if.is_none() {
            eprintln!(
                "mpxn-recon: removed {}, an earlier run's what-if (this sweep has no --what-if)",
                path.display()
            );
        } else {
            eprintln!(
                "mpxn-recon: removed {}, an earlier run's output in a format this sweep does \
                 not write (--format)",
                path.display()
            );
        }
    }
    if !args.quiet {
        let mut files = report::output_names(args.formats(), args.what_if.is_some());
        if args.report {
            // Staged just before summary.json, the last name.
            files.insert(files.len() - 1, crate::html::REPORT);
        }
        print_summary(&mut console, &summary, &args.out, origin, &files, started)?;
    }
    // After the summary, so the warnings are the last thing a reader sees. They never
    // change a decision.
    for warning in check.warnings(as_of) {
        eprintln!(
            "mpxn-recon: {}: {warning}",
            super::label(super::Label::Warning)
        );
    }
    if let (Some(per_party), Some(dir)) = (parties, &args.per_party) {
        if !args.quiet {
            writeln!(
                console,
                "per-party: {} report(s) and impact summaries in {}",
                per_party.parties,
                dir.display()
            )?;
        }
        for path in &replaced {
            eprintln!(
                "mpxn-recon: per-party: removed {}, written by an earlier run and not by this one",
                path.display()
            );
        }
        for path in &per_party.others {
            eprintln!(
                "mpxn-recon: per-party: left {}: not written by mpxn-recon (not in {}'s manifest); \
                 it is not one of this run's notices",
                path.display(),
                dir.display()
            );
        }
    }
    console.flush()?;
    if args.strict && summary.rows.rejected > 0 {
        eprintln!(
            "mpxn-recon: --strict: {} row(s) rejected; see {}",
            summary.rows.rejected,
            // The rejects file this run wrote: rejects.csv, or its first export.
            args.out
                .join(crate::export::REJECTS.file(formats_first(args.formats())))
                .display()
        );
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

/// The first format of the set (CSV when it is asked for).
fn formats_first(formats: Formats) -> Format {
    formats.iter().next().unwrap_or(Format::Csv)
}

fn print_summary(
    w: &mut Console,
    s: &Summary,
    out: &Path,
    origin: AsOfOrigin,
    files: &[&str],
    started: Instant,
) -> io::Result<()> {
    let origin = origin.label();
    writeln!(
        w,
        "mpxn-recon {} sweep: as of {}{origin}, window {} days",
        s.version, s.as_of, s.window_days
    )?;
    let bytes: u64 = s.inventories.iter().map(|f| f.bytes).sum();
    writeln!(
        w,
        "inputs:   {} inventory file(s), {bytes} bytes; registry {}",
        s.inventories.len(),
        s.suppliers.path
    )?;
    let r = &s.rows;
    writeln!(
        w,
        "rows:     rows_read {} = accepted {} + rejected {} + duplicate_rows {}",
        r.read, r.accepted, r.rejected, r.duplicate_rows
    )?;
    writeln!(
        w,
        "installations: {} SMETS1 decided, {} SMETS2 as evidence; {} shared MPxN(s)",
        s.installations["smets1"], s.installations["smets2"], s.shared_mpxns
    )?;
    let outcomes: Vec<String> = crate::resolve::Outcome::NAMES
        .iter()
        .map(|o| format!("{o} {}", s.outcomes[o]))
        .collect();
    writeln!(w, "outcomes: {}", outcomes.join(", "))?;
    writeln!(w, "reasons:")?;
    for (code, n) in &s.reasons {
        writeln!(w, "  {code:<26} {n}")?;
    }
    if !s.rejects_by_reason.is_empty() {
        let rejects: Vec<String> = s
            .rejects_by_reason
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(w, "rejected: {}", rejects.join(", "))?;
    }
    if let Some(what_if) = &s.what_if {
        let outcomes: Vec<String> = crate::resolve::Outcome::NAMES
            .iter()
            .map(|o| format!("{o} {}", what_if.outcomes[o]))
            .collect();
        writeln!(w, "what-if:  {}: {}", what_if.policy, outcomes.join(", "))?;
        let pairs: Vec<String> = what_if
            .changed_by_outcome
            .iter()
            .map(|(pair, n)| format!("{pair} {n}"))
            .collect();
        let held: Vec<String> = what_if
            .changed_by_held_back_by
            .iter()
            .map(|(code, n)| format!("{code} {n}"))
            .collect();
        writeln!(
            w,
            "          {} changed ({}); held back by {}",
            what_if.changed,
            if pairs.is_empty() {
                "none".to_string()
            } else {
                pairs.join(", ")
            },
            held.join(", ")
        )?;
    }
    writeln!(
        w,
        "wrote:    {}/{{{}}} in {:.2} s",
        out.display(),
        files.join(","),
        started.elapsed().as_secs_f64()
    )?;
    w.flush()
}
