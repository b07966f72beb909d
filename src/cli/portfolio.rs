//! `mpxn-recon portfolio`: one supplier party's report, and the per-party reports of
//! `sweep --per-party`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::Args;

use super::index::open_failure;
use super::Failure;
use crate::index::file::IndexFile;
use crate::index::View;
use crate::judge::{self, Judgement};
use crate::normalize::Day;
use crate::portfolio::{self, Impact, PartyInstallation, QueryAnswer};
use crate::resolve::Policy;

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
    /// any spelling; blank lines are skipped.
    #[arg(long, value_name = "FILE")]
    pub mpxns: Option<PathBuf>,

    /// The date decisions are judged as of, YYYY-MM-DD. Default: today (UTC).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = super::parse_as_of)]
    pub as_of: Option<Day>,

    /// The communication window in days.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub window_days: u32,

    /// Write JSON Lines (one object per installation or listed MPxN) instead of CSV.
    #[arg(long)]
    pub json: bool,

    /// Where to write the report.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub fn run(args: PortfolioArgs) -> Result<ExitCode, Failure> {
    let file = IndexFile::open_verified(&args.index).map_err(open_failure)?;
    let view = file.view().map_err(open_failure)?;
    let damaged = |e| Failure::Refused(anyhow!("{}: {e}", args.index.display()));
    let policy = Policy {
        as_of: args.as_of.unwrap_or_else(Day::today_utc),
        window_days: args.window_days,
    };
    let party = portfolio::party_rank(&view, &args.party)
        .map_err(damaged)?
        .ok_or_else(|| {
            Failure::Refused(anyhow!(
                "party `{}` is not in the supplier registry of {}",
                args.party,
                args.index.display()
            ))
        })?;
    let judgement = judge::judge(&view, policy).map_err(damaged)?;
    let by_party = portfolio::installations_by_party(&view).map_err(damaged)?;
    let mine = &by_party[party as usize];
    let mut out = Vec::new();
    if !args.json {
        out.extend_from_slice(portfolio::CSV_HEADER);
    }
    let mut count = 0;
    match &args.mpxns {
        None => {
            for &inst in mine {
                let described =
                    portfolio::describe(&view, &judgement, party, inst).map_err(damaged)?;
                write_installation(&mut out, args.json, &args.party, "", &described)?;
                count += 1;
            }
        }
        Some(list) => {
            let text = std::fs::read_to_string(list)
                .with_context(|| format!("cannot read {}", list.display()))?;
            for key in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let answer =
                    portfolio::answer(&view, &judgement, party, mine, key).map_err(damaged)?;
                write_answer(&mut out, args.json, &args.party, key, &answer)?;
                count += 1;
            }
        }
    }
    std::fs::write(&args.out, &out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "{}: {count} {} for party {} as of {}",
        args.out.display(),
        if args.mpxns.is_some() {
            "listed MPxN(s)"
        } else {
            "installation(s)"
        },
        args.party,
        policy.as_of
    );
    Ok(ExitCode::SUCCESS)
}

fn write_installation(
    out: &mut Vec<u8>,
    json: bool,
    party: &str,
    query: &str,
    i: &PartyInstallation,
) -> anyhow::Result<()> {
    if json {
        let mut line = serde_json::json!({ "party_id": party, "installation": i });
        if !query.is_empty() {
            line["query"] = serde_json::Value::from(query);
        }
        writeln!(out, "{line}")?;
    } else {
        portfolio::push_csv(
            out,
            query,
            if query.is_empty() { "" } else { "found" },
            Some(i),
        );
    }
    Ok(())
}

fn write_answer(
    out: &mut Vec<u8>,
    json: bool,
    party: &str,
    key: &str,
    answer: &QueryAnswer,
) -> anyhow::Result<()> {
    if json {
        let mut line = serde_json::to_value(answer)?;
        line["query"] = serde_json::Value::from(key);
        line["party_id"] = serde_json::Value::from(party);
        writeln!(out, "{line}")?;
        return Ok(());
    }
    match answer {
        QueryAnswer::Found { installations } => {
            for i in installations {
                portfolio::push_csv(out, key, answer.status(), Some(i));
            }
        }
        _ => portfolio::push_csv(out, key, answer.status(), None),
    }
    Ok(())
}

/// A file name for a party id: its letters, digits, `-`, `_` and `.`, others as `_`;
/// a name two parties would share gets the party's rank appended.
fn file_stem(party: &str, rank: usize, taken: &mut std::collections::BTreeSet<String>) -> String {
    let mut stem: String = party
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() || stem.starts_with('.') || !taken.insert(stem.clone()) {
        stem = format!("{stem}~{rank}");
        taken.insert(stem.clone());
    }
    stem
}

/// Writes one report and one impact summary per party of the registry into `dir`:
/// `<party>.csv` (or `.jsonl`) and `<party>.impact.json`.
pub fn write_per_party(
    view: &View<'_>,
    judgement: &Judgement,
    policy: Policy,
    dir: &Path,
    json: bool,
) -> anyhow::Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let by_party = portfolio::installations_by_party(view)?;
    let mut taken = std::collections::BTreeSet::new();
    for (rank, mine) in by_party.iter().enumerate() {
        let party = String::from_utf8_lossy(view.text_at(view.parties, rank)?).into_owned();
        let stem = file_stem(&party, rank, &mut taken);
        let mut out = Vec::new();
        if !json {
            out.extend_from_slice(portfolio::CSV_HEADER);
        }
        let mut described = Vec::with_capacity(mine.len());
        for &inst in mine {
            let i = portfolio::describe(view, judgement, rank as u32, inst)?;
            write_installation(&mut out, json, &party, "", &i)?;
            described.push(i);
        }
        let ext = if json { "jsonl" } else { "csv" };
        let path = dir.join(format!("{stem}.{ext}"));
        std::fs::write(&path, &out).with_context(|| format!("cannot write {}", path.display()))?;
        let impact = Impact::of(&party, policy, &described);
        let path = dir.join(format!("{stem}.impact.json"));
        let mut text = serde_json::to_vec_pretty(&impact)?;
        text.push(b'\n');
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(by_party.len())
}
