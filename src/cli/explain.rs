//! `mpxn-recon explain`: one installation's findings, in words, with the arithmetic.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;

use super::{AsOfArgs, Console, Failure};
use crate::explain::{self, Explanation, FindingExplained};
use crate::index::file::IndexFile;
use crate::lookup;
use crate::resolve::Finding;

/// One installation's findings in words, with the checks and the rule that decided.
///
/// Explain one installation: every finding in plain words with its code and TMAD
/// clause; the communication window's arithmetic; for each MPxN it shares, every member
/// (source, installation id, install date, communication) and which of the four
/// duplicate checks of TMAD 4.1C it passes or fails and why; and the outcome with the
/// rule of SPEC §6.2 that decided it. Name it by SOURCE INSTALLATION_ID, or by one MPAN,
/// MPRN or GUID (every installation carrying it is explained). For the data team: it
/// shows other members' ids (a supplier's view is `portfolio`). `explain --codes` lists
/// every finding code with its words, kind and clause.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The index file (.mxi), from `mpxn-recon index build`.
    #[arg(long, value_name = "FILE", required_unless_present = "codes")]
    pub index: Option<PathBuf>,

    /// SOURCE INSTALLATION_ID, or one MPAN, MPRN or GUID (any spelling).
    #[arg(value_name = "KEY", num_args = 1..=2, required_unless_present = "codes")]
    pub key: Vec<String>,

    #[command(flatten)]
    pub as_of: AsOfArgs,

    /// One JSON object per installation instead of text.
    #[arg(long)]
    pub json: bool,

    /// Print every finding code with its words, kind and clause, and nothing else.
    #[arg(long, conflicts_with_all = ["index", "key"])]
    pub codes: bool,
}

pub fn run(args: ExplainArgs) -> Result<ExitCode, Failure> {
    let mut w = Console::new();
    if args.codes {
        for f in Finding::ALL {
            let e = FindingExplained::of(f);
            if args.json {
                writeln!(
                    w,
                    "{}",
                    serde_json::to_string(&e).map_err(std::io::Error::from)?
                )?;
            } else {
                let clause = e.clause.unwrap_or("no clause");
                writeln!(w, "{:<26} {} ({clause}): {}", e.code, e.kind, e.words)?;
            }
        }
        w.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let path = args
        .index
        .as_ref()
        .expect("clap requires --index without --codes");
    let file = IndexFile::open_verified(path)?;
    let view = file.view()?;
    let damaged = super::damaged(path);
    let (as_of, _) = args.as_of.pick(None);
    let groups = lookup::Groups::of(&view).map_err(damaged)?;
    let installations: Vec<usize> = match args.key.as_slice() {
        [source, id] => explain::find_installation(&view, source, id)
            .map_err(damaged)?
            .into_iter()
            .collect(),
        [key] => {
            let mut found: Vec<usize> = lookup::find(&view, key)
                .map_err(damaged)?
                .into_iter()
                .flat_map(|hit| hit.installations)
                .collect();
            found.sort_unstable();
            found.dedup();
            found
        }
        _ => unreachable!("clap takes one or two keys"),
    };
    if installations.is_empty() {
        return Err(Failure::Refused(anyhow!(
            "{}: no installation {} in {}",
            args.key.join(" "),
            if args.key.len() == 2 {
                "with that source and installation_id"
            } else {
                "carries that MPAN, MPRN or GUID"
            },
            path.display()
        )));
    }
    for (n, inst) in installations.into_iter().enumerate() {
        let e = explain::explain(&view, &groups, inst, as_of).map_err(damaged)?;
        if n > 0 && !args.json {
            writeln!(w)?;
        }
        if args.json {
            writeln!(
                w,
                "{}",
                serde_json::to_string(&e).map_err(std::io::Error::from)?
            )?;
        } else {
            print_text(&mut w, &e)?;
        }
    }
    w.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn print_text(w: &mut impl Write, e: &Explanation<'_>) -> std::io::Result<()> {
    let group = if e.group_id.is_empty() {
        "none"
    } else {
        &e.group_id
    };
    let kind = if e.smets2 {
        "SMETS2: evidence, no decision"
    } else {
        "SMETS1"
    };
    writeln!(
        w,
        "{} {} (GroupID {group}), {kind}",
        e.source, e.installation_id
    )?;
    writeln!(
        w,
        "  as of {}, window {} days: communicating means a latest last_comms_at in [{}, {}]",
        e.window.as_of,
        e.window.window_days,
        e.window.from.as_deref().unwrap_or("-"),
        e.window.to
    )?;
    writeln!(
        w,
        "  communication: {} ({})",
        e.communication.status, e.communication.why
    )?;
    if let Some(d) = &e.decision {
        let clauses = if d.clauses.is_empty() {
            String::new()
        } else {
            format!(" {}", d.clauses.join(";"))
        };
        writeln!(
            w,
            "  outcome: {}{clauses}, by rule {} of SPEC 6.2: {}",
            d.outcome, d.rule, d.rule_words
        )?;
    }
    if e.findings.is_empty() {
        writeln!(w, "  findings: none")?;
    } else {
        writeln!(w, "  findings:")?;
        for f in &e.findings {
            let clause = f.clause.unwrap_or("no clause");
            writeln!(w, "    {} ({}, {clause}): {}", f.code, f.kind, f.words)?;
        }
    }
    if !e.values.is_empty() {
        writeln!(w, "  values behind them (as findings.csv lists them):")?;
        for v in &e.values {
            writeln!(
                w,
                "    {} {}:{} column {}: {:?}",
                v.finding, v.file, v.line, v.column, v.value
            )?;
        }
    }
    for s in &e.shared_mpxns {
        writeln!(
            w,
            "  shared {} {}, {} members:",
            s.kind,
            s.mpxn,
            s.members.len()
        )?;
        for m in &s.members {
            writeln!(
                w,
                "    {} {} {}  installed {}  communicating {}",
                if m.this { "*" } else { " " },
                m.source,
                m.installation_id,
                m.installed_on.as_deref().unwrap_or("unknown"),
                m.communicating
            )?;
        }
        for c in &s.checks {
            writeln!(
                w,
                "    {:<24} {}: {}",
                c.finding.code(),
                if c.fails { "fails" } else { "passes" },
                c.why
            )?;
        }
    }
    writeln!(w, "  devices:")?;
    for d in &e.devices {
        let show = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
        writeln!(
            w,
            "    {} {}  mpxn {}  installed {}  last comms {}  party {}{}",
            d.device_type,
            show(d.device_id.map(|g| g.to_string())),
            show(d.mpxn.map(|k| k.to_string())),
            super::lookup::date_shown(&d.installed_on, d.installed_on_unreadable, "none"),
            super::lookup::date_shown(&d.last_comms_at, d.last_comms_at_unreadable, "never"),
            d.party_id.as_deref().unwrap_or("-"),
            if d.dormant { "  dormant" } else { "" }
        )?;
    }
    Ok(())
}
