//! `mpxn-recon portfolio`: one supplier party's report, and the per-party reports of
//! `sweep --per-party`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;

use super::{AsOfArgs, Console, Failure};
use crate::index::file::IndexFile;
use crate::judge;
use crate::portfolio;
use crate::publish::OutputSet;

/// One supplier party's report, or a check of its own list of MPxNs.
///
/// A supplier's report: for every SMETS1 installation where PARTY is the Responsible
/// Supplier of a meter (or, with --mpxns, for every listed MPxN), its decision and
/// reasons; for each shared MPxN, each other member described only by its inventory,
/// install date, communication status and whether it is the same party. Never another
/// party's installation ids, device GUIDs, supplier ids or party ids.
#[derive(Debug, Args)]
pub struct PortfolioArgs {
    /// The index file (.mxi), from `mpxn-recon index build`.
    #[arg(long, value_name = "FILE")]
    pub index: PathBuf,

    /// The party id, as in the supplier registry (case-sensitive).
    #[arg(long, value_name = "PARTY")]
    pub party: String,

    /// Check these MPxNs instead of the whole portfolio: one MPAN or MPRN per line, in
    /// any spelling; blank lines are skipped; `-` reads standard input. A line over
    /// 4096 bytes is refused, naming the file and line. Each is `found`, `unknown`,
    /// `registered to another supplier` or `invalid` (the `detail` column says why:
    /// the failing check digit, or the length); the counts go to standard error.
    #[arg(long, value_name = "FILE")]
    pub mpxns: Option<PathBuf>,

    /// Read --mpxns as a CSV (or pipe-delimited) file with a header, taking the values
    /// of this column (name compared case-insensitively).
    #[arg(long, value_name = "NAME", requires = "mpxns")]
    pub column: Option<String>,

    #[command(flatten)]
    pub as_of: AsOfArgs,

    /// Write JSON Lines (one object per installation or listed MPxN) instead of CSV.
    #[arg(long)]
    pub json: bool,

    /// Where to write the report; `-` for standard output (the status line then goes to
    /// standard error).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub fn run(args: PortfolioArgs) -> Result<ExitCode, Failure> {
    // The report is staged beside --out and renamed into place: a full disk leaves the
    // previous report (or none), never a truncated one. `--out -` streams it to
    // standard output instead, and the status line goes to standard error.
    let to_stdout = args.out.as_os_str() == "-";
    let mut staged = None;
    if !to_stdout {
        let mut set = OutputSet::beside(&args.out)?;
        let out_name = args
            .out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                Failure::Refused(anyhow!("--out {} names no file", args.out.display()))
            })?;
        let mut inputs = vec![args.index.as_path()];
        inputs.extend(args.mpxns.as_deref());
        set.protect(&inputs, &[&out_name])?;
        staged = Some((set, out_name));
    }
    let file = IndexFile::open_verified(&args.index)?;
    let view = file.view()?;
    let damaged = super::damaged(&args.index);
    let (as_of, _) = args.as_of.pick(None);
    let party = portfolio::party_rank(&view, &args.party)
        .map_err(damaged)?
        .ok_or_else(|| {
            Failure::Refused(anyhow!(
                "party `{}` is not in the supplier registry of {}",
                args.party,
                args.index.display()
            ))
        })?;
    let judgement = judge::judge(&view, as_of).map_err(damaged)?;
    let by_party = portfolio::installations_by_party(&view).map_err(damaged)?;
    let mine = &by_party[party as usize];
    let mut out = Vec::new();
    if !args.json {
        out.extend_from_slice(portfolio::CSV_HEADER);
    }
    let mut count = 0u64;
    let mut tally = portfolio::Tally::default();
    match &args.mpxns {
        None => {
            for &inst in mine {
                let described =
                    portfolio::describe(&view, &judgement, party, inst, as_of).map_err(damaged)?;
                portfolio::push_installation(&mut out, args.json, &args.party, "", &described)?;
                count += 1;
            }
        }
        Some(list) => {
            super::keys::for_each_key_in(list, args.column.as_deref(), |key| {
                let answer = portfolio::answer(&view, &judgement, (party, as_of), mine, key)
                    .map_err(damaged)?;
                portfolio::push_answer(&mut out, args.json, &args.party, key, &answer)?;
                tally.add(&answer);
                count += 1;
                Ok(())
            })?;
        }
    }
    match staged {
        Some((mut set, out_name)) => {
            set.stage_bytes(&out_name, &out)?;
            set.commit()?;
        }
        None => {
            let mut w = Console::new();
            w.write_all(&out)?;
            w.flush()?;
        }
    }
    if args.mpxns.is_some() {
        eprintln!("{}", tally.line(count));
    }
    let status = format!(
        "{}: {count} {} for party {} as of {}",
        if to_stdout {
            "standard output".to_string()
        } else {
            args.out.display().to_string()
        },
        if args.mpxns.is_some() {
            "listed MPxN(s)"
        } else {
            "installation(s)"
        },
        args.party,
        as_of.date
    );
    if to_stdout {
        eprintln!("{status}");
    } else {
        writeln!(Console::new(), "{status}")?;
    }
    Ok(ExitCode::SUCCESS)
}
