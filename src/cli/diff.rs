//! `mpxn-recon diff`: what changed between two sweeps.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;

use super::{Console, Failure};
use crate::diff::{self, Change, DiffError};

/// The installations whose decision changed between two sweeps.
///
/// List the installations whose decision (outcome, clauses or reasons) differs between
/// two sweeps: OLD and NEW are `--out` folders or their decisions.csv files (this
/// week's extract against last week's, or one extract at two as-of dates). CSV on
/// standard output (`--json`: one JSON object per line), sorted as decisions.csv; the
/// counts by change (`exclude->unblock`, `added`, `removed`, ...) on standard error.
/// Exit 0 when nothing changed, 1 when something did, 2 on trouble (like diff): a file
/// that cannot be read or is not a sorted decisions.csv. Streams both files: constant memory at any size.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier sweep: its --out folder or its decisions.csv.
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The later sweep: its --out folder or its decisions.csv.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// JSON Lines instead of CSV.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DiffArgs) -> Result<ExitCode, Failure> {
    let (old, new) = (
        diff::decisions_path(&args.old),
        diff::decisions_path(&args.new),
    );
    let mut w = Console::new();
    if !args.json {
        w.write_all(Change::CSV_HEADER)?;
    }
    let mut line = Vec::new();
    let t = crate::timing::stage("diff: join the two decisions.csv");
    let found = diff::diff(&old, &new, |c| {
        line.clear();
        if args.json {
            serde_json::to_writer(&mut line, c).map_err(std::io::Error::from)?;
            line.push(b'\n');
        } else {
            c.push_csv(&mut line);
        }
        w.write_all(&line)
    })
    // Like diff(1), trouble of any kind is 2, so that 1 always means "changed".
    .map_err(|e: DiffError| Failure::Refused(anyhow!(e)))?;
    drop(t);
    w.flush()?;
    crate::timing::hide_progress();
    let changed: u64 = found.counts.values().sum();
    let counts: Vec<String> = found
        .counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    eprintln!(
        "diff: {changed} of {} / {} installations changed{}{}",
        found.old_installations,
        found.new_installations,
        if counts.is_empty() { "" } else { ": " },
        counts.join(", ")
    );
    Ok(if changed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
