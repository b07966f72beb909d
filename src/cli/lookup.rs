//! `mpxn-recon lookup`: find meter points and devices in an index.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;

use super::{AsOfArgs, Console, Failure};
use crate::index::file::IndexFile;
use crate::lookup::{self, InstallationReport};
use crate::normalize::Day;

/// Find the installations carrying an MPAN, MPRN or GUID, with their decisions.
///
/// Look up MPANs (13 or 21 characters), MPRNs or device GUIDs, in any spelling, and
/// print every installation that carries each: its devices, dates, communication
/// status, parties and decision as of --as-of. Each lookup is one binary search of the
/// index's key map plus one per meter.
#[derive(Debug, Args)]
pub struct LookupArgs {
    /// The index file (.mxi), from `mpxn-recon index build`.
    #[arg(long, value_name = "FILE")]
    pub index: PathBuf,

    /// MPANs, MPRNs or GUIDs to look up.
    #[arg(value_name = "KEY", required_unless_present_any = ["prefix", "keys_from"])]
    pub keys: Vec<String>,

    /// Also look up the keys in FILE, one per line (blank lines skipped); `-` reads
    /// standard input. A line over 4096 bytes is refused, naming the file and line.
    #[arg(long, value_name = "FILE")]
    pub keys_from: Option<PathBuf>,

    /// Print per-key lookup latency (p50, p99, max) to stderr: the time to find a key
    /// and judge every installation carrying it, printing excluded.
    #[arg(long)]
    pub latency: bool,

    /// Instead of keys: list the shared MPANs whose core starts with these digits (a
    /// distributor area such as 14), by a range scan of the index.
    #[arg(long, value_name = "DIGITS", conflicts_with = "keys")]
    pub prefix: Option<String>,

    #[command(flatten)]
    pub as_of: AsOfArgs,

    /// Print JSON Lines (one object per key and installation) instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: LookupArgs) -> Result<ExitCode, Failure> {
    let file = IndexFile::open_verified(&args.index)?;
    let view = file.view()?;
    let (as_of, _) = args.as_of.pick(None);
    let damaged = super::damaged(&args.index);
    let mut w = Console::new();
    if let Some(prefix) = &args.prefix {
        return list_prefix(&view, &args, prefix, &mut w);
    }
    let groups = lookup::Groups::of(&view).map_err(damaged)?;
    if !args.json {
        // Every decision below depends on it: say which date judged them.
        writeln!(w, "as of {}, window {} days", as_of.date, as_of.window_days)?;
    }
    let mut latencies = Vec::with_capacity(args.keys.len());
    let mut found_all = true;
    let mut look_up = |key: &str| -> Result<(), Failure> {
        let started = std::time::Instant::now();
        let hits = lookup::find(&view, key).map_err(damaged)?;
        let reports = hits
            .iter()
            .map(|hit| {
                hit.installations
                    .iter()
                    .map(|&inst| lookup::describe(&view, &groups, inst, as_of))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(damaged)?;
        latencies.push(started.elapsed());
        found_all &= !hits.is_empty();
        print_hits(&mut w, args.json, key, &hits, reports, as_of)?;
        Ok(())
    };
    for key in &args.keys {
        look_up(key)?;
    }
    if let Some(path) = &args.keys_from {
        super::keys::for_each_key(path, &mut look_up)?;
    }
    w.flush()?;
    if args.latency && !latencies.is_empty() {
        print_latency(&mut latencies);
    }
    // Like grep: 1 when some key was not found.
    Ok(if found_all {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `--prefix DIGITS`: the shared MPANs of a distributor area.
fn list_prefix(
    view: &crate::index::View<'_>,
    args: &LookupArgs,
    prefix: &str,
    w: &mut Console,
) -> Result<ExitCode, Failure> {
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Failure::Refused(anyhow!("--prefix takes digits, e.g. 14")));
    }
    let damaged = super::damaged(&args.index);
    let shared = lookup::shared_mpans_with_prefix(view, prefix).map_err(damaged)?;
    for (mpan, group) in &shared {
        let members = view.member_count(*group).map_err(damaged)?;
        if args.json {
            let line = serde_json::json!({ "mpan": mpan, "members": members });
            writeln!(w, "{line}")?;
        } else {
            writeln!(w, "{mpan}  shared by {members} installations")?;
        }
    }
    if !args.json {
        writeln!(w, "{} shared MPAN(s) with prefix {prefix}", shared.len())?;
    }
    w.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Prints what one key found (or that it found nothing), as text or JSON Lines.
fn print_hits(
    w: &mut Console,
    json: bool,
    key: &str,
    hits: &[lookup::Hit],
    reports: Vec<Vec<InstallationReport<'_>>>,
    as_of: crate::resolve::AsOf,
) -> std::io::Result<()> {
    if hits.is_empty() {
        if json {
            writeln!(w, "{}", serde_json::json!({ "key": key, "found": false }))?;
        } else {
            // Quoted as found keys are: a key holding a newline cannot forge a line.
            writeln!(w, "{key:?}: not in the index (as an MPAN, MPRN or GUID)")?;
        }
        return Ok(());
    }
    for (hit, reports) in hits.iter().zip(reports) {
        if !json {
            let shared = if hit.group.is_some() { ", shared" } else { "" };
            writeln!(
                w,
                "{} {} (key {key:?}): {} installation(s){shared}",
                hit.kind.as_str(),
                hit.canonical,
                hit.installations.len()
            )?;
        }
        for report in reports {
            if json {
                let line = serde_json::json!({
                    "key": key,
                    "kind": hit.kind,
                    "canonical": hit.canonical,
                    "shared": hit.group.is_some(),
                    "as_of": as_of.date.to_string(),
                    "installation": report,
                });
                writeln!(w, "{line}")?;
            } else {
                print_installation(w, &report)?;
            }
        }
    }
    Ok(())
}

/// `--latency`: p50, p99 and max per key, on stderr.
fn print_latency(latencies: &mut [std::time::Duration]) {
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    eprintln!(
        "lookup latency over {} keys: p50 {:.1} us, p99 {:.1} us, max {:.1} us",
        latencies.len(),
        at(0.50).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        latencies[latencies.len() - 1].as_secs_f64() * 1e6
    );
}

fn print_installation(w: &mut impl Write, r: &InstallationReport) -> std::io::Result<()> {
    let group = if r.group_id.is_empty() {
        "-"
    } else {
        &r.group_id
    };
    let decision = match r.outcome {
        None => "SMETS2: evidence, no decision".to_string(),
        Some(outcome) => {
            let clauses = if r.clauses.is_empty() {
                String::new()
            } else {
                format!(" {}", r.clauses.join(";"))
            };
            let reasons = if r.reasons.is_empty() {
                "none".to_string()
            } else {
                r.reasons.join(";")
            };
            format!("{outcome}{clauses} (reasons: {reasons})")
        }
    };
    writeln!(
        w,
        "  {} / {}  group {group}: {decision}",
        r.source, r.installation_id
    )?;
    writeln!(
        w,
        "    communicating: {} (last {}); MPxNs: {}",
        r.communicating,
        match (&r.last_comms_at, r.last_comms_at_unreadable) {
            (None, false) => "never".to_string(),
            (None, true) => "unreadable".to_string(),
            (Some(d), false) => d.to_string(),
            (Some(d), true) => format!("{d}, another unreadable"),
        },
        if r.mpxns.is_empty() {
            "-".to_string()
        } else {
            r.mpxns.join(";")
        }
    )?;
    for d in &r.devices {
        writeln!(
            w,
            "    {:<6} {:<23} {:<14} installed {:<10}  last {:<10}  party {}{}",
            d.device_type,
            shown(&d.device_id, "(invalid GUID)"),
            shown(&d.mpxn, "-"),
            date_shown(&d.installed_on, d.installed_on_unreadable, "none"),
            date_shown(&d.last_comms_at, d.last_comms_at_unreadable, "never"),
            d.party_id.as_deref().unwrap_or("-"),
            if d.dormant { "  dormant" } else { "" }
        )?;
    }
    for v in &r.values {
        writeln!(
            w,
            "    value: {} {}:{} column {}: {:?}",
            v.finding, v.file, v.line, v.column, v.value
        )?;
    }
    Ok(())
}

/// A date's text for the text report: `unreadable` when given but not a date, else
/// `absent` when empty.
pub(crate) fn date_shown(value: &Option<Day>, unreadable: bool, absent: &str) -> String {
    match (value, unreadable) {
        (Some(d), _) => d.to_string(),
        (None, true) => "unreadable".to_string(),
        (None, false) => absent.to_string(),
    }
}

/// A value's text for the text report, or `absent`.
fn shown<T: std::fmt::Display>(value: &Option<T>, absent: &str) -> String {
    value
        .as_ref()
        .map_or_else(|| absent.to_string(), ToString::to_string)
}
