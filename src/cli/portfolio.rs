//! `mpxn-recon portfolio`: one supplier party's report, and the per-party reports of
//! `sweep --per-party`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;

use super::index::open_failure;
use super::{Console, Failure};
use crate::index::file::IndexFile;
use crate::index::View;
use crate::judge::{self, Judgement};
use crate::normalize::Day;
use crate::portfolio::{self, Impact, PartyInstallation, QueryAnswer};
use crate::publish::{self, OutputSet};
use crate::resolve::AsOf;

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
    /// 4096 bytes is refused, naming the file and line.
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
    // The report is staged beside --out and renamed into place: a full disk leaves the
    // previous report (or none), never a truncated one.
    let mut set = OutputSet::beside(&args.out)?;
    let out_name = args
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Failure::Refused(anyhow!("--out {} names no file", args.out.display())))?;
    let mut inputs = vec![args.index.as_path()];
    inputs.extend(args.mpxns.as_deref());
    publish::refuse_overwriting_inputs(&inputs, &[set.target(&out_name)])?;
    let file = IndexFile::open_verified(&args.index).map_err(open_failure)?;
    let view = file.view().map_err(open_failure)?;
    let damaged = |e| Failure::Refused(anyhow!("{}: {e}", args.index.display()));
    let as_of = AsOf {
        date: args.as_of.unwrap_or_else(Day::today_utc),
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
    let judgement = judge::judge(&view, as_of).map_err(damaged)?;
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
            super::keys::for_each_key(list, |key| {
                let answer =
                    portfolio::answer(&view, &judgement, party, mine, key).map_err(damaged)?;
                write_answer(&mut out, args.json, &args.party, key, &answer)?;
                count += 1;
                Ok(())
            })?;
        }
    }
    set.stage_bytes(&out_name, &out)?;
    set.commit()?;
    writeln!(
        Console::new(),
        "{}: {count} {} for party {} as of {}",
        args.out.display(),
        if args.mpxns.is_some() {
            "listed MPxN(s)"
        } else {
            "installation(s)"
        },
        args.party,
        as_of.date
    )?;
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
            party,
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
                portfolio::push_csv(out, party, key, answer.status(), Some(i));
            }
        }
        _ => portfolio::push_csv(out, party, key, answer.status(), None),
    }
    Ok(())
}

/// The longest party-id text kept in a notice's file name (the rest becomes a hash):
/// with `~`, 16 hex digits and `.impact.json`, a name stays far below the 255 bytes any
/// file system allows.
const STEM_TEXT_MAX: usize = 64;

/// Whether a party id can be its own file name on any file system: it starts with an
/// ASCII letter or digit (never a hidden dotfile, never `..`) and holds only letters,
/// digits, `-`, `_` and `.`, and it is short.
fn plain_stem(party: &str) -> bool {
    party.len() <= STEM_TEXT_MAX
        && party.as_bytes()[0].is_ascii_alphanumeric()
        && party
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A stable 16-hex-digit hash of a party id (two CRC-32Cs of it), for file names.
fn stem_hash(party: &str) -> String {
    let bytes = party.as_bytes();
    format!(
        "{:08x}{:08x}",
        crc32c::crc32c(bytes),
        crc32c::crc32c_append(0x9E37_79B9, bytes)
    )
}

/// The file stems of every party, by rank. A plain party id (see [`plain_stem`]) is its
/// own stem, unless another party's id equals it but for case (file systems that ignore
/// case would merge them). Every other id becomes its first 64 characters with others
/// than letters, digits, `-`, `_` as `_`, then `~` and a hash of the whole id: `~`
/// never appears in a plain stem, so no party's name can be given to another (`a\0b`
/// is `a_b~…`, never `a_b`). Deterministic: the same registry gives the same names.
pub fn file_stems(parties: &[String]) -> Vec<String> {
    let mut folded: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for p in parties {
        *folded.entry(p.to_ascii_lowercase()).or_default() += 1;
    }
    let mut taken = std::collections::BTreeSet::new();
    let mut stems = Vec::with_capacity(parties.len());
    for (rank, party) in parties.iter().enumerate() {
        let mut stem =
            if !party.is_empty() && plain_stem(party) && folded[&party.to_ascii_lowercase()] == 1 {
                party.clone()
            } else {
                let text: String = party
                    .chars()
                    .take(STEM_TEXT_MAX)
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                format!("{text}~{}", stem_hash(party))
            };
        // Two ids with the same 64-bit hash and text: practically never; still unique.
        if !taken.insert(stem.to_ascii_lowercase()) {
            stem = format!("{stem}-{rank}");
            taken.insert(stem.to_ascii_lowercase());
        }
        stems.push(stem);
    }
    stems
}

/// Stages one report and one impact summary per party of the registry in `set`:
/// `<stem>.csv` (or `.jsonl`) and `<stem>.impact.json`, each naming its party inside
/// (the `party_id` column or key). The caller commits the set.
pub fn write_per_party(
    view: &View<'_>,
    judgement: &Judgement,
    as_of: AsOf,
    set: &mut OutputSet,
    json: bool,
) -> Result<usize, Failure> {
    let by_party = portfolio::installations_by_party(view).map_err(anyhow::Error::from)?;
    let parties: Vec<String> = (0..by_party.len())
        .map(|rank| {
            view.text_at(view.parties, rank)
                .map(|t| String::from_utf8_lossy(t).into_owned())
        })
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::from)?;
    let stems = file_stems(&parties);
    for (rank, mine) in by_party.iter().enumerate() {
        let party = &parties[rank];
        let mut out = Vec::new();
        if !json {
            out.extend_from_slice(portfolio::CSV_HEADER);
        }
        let mut described = Vec::with_capacity(mine.len());
        for &inst in mine {
            let i = portfolio::describe(view, judgement, rank as u32, inst)
                .map_err(anyhow::Error::from)?;
            write_installation(&mut out, json, party, "", &i)?;
            described.push(i);
        }
        let ext = if json { "jsonl" } else { "csv" };
        set.stage_bytes(&format!("{}.{ext}", stems[rank]), &out)?;
        let impact = Impact::of(party, as_of, &described);
        let mut text = serde_json::to_vec_pretty(&impact).map_err(anyhow::Error::from)?;
        text.push(b'\n');
        set.stage_bytes(&format!("{}.impact.json", stems[rank]), &text)?;
    }
    Ok(by_party.len())
}

#[cfg(test)]
mod tests {
    use super::file_stems;

    #[test]
    fn stems_fit_any_file_system_and_never_take_another_partys_name() {
        let long = "x".repeat(300);
        let parties: Vec<String> = [
            "P-LIVE", "a_b", "a\0b", ".hidden", "..", "", &long, "Case", "CASE", "a b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let stems = file_stems(&parties);
        assert_eq!(stems[0], "P-LIVE");
        assert_eq!(stems[1], "a_b");
        assert!(stems[2].starts_with("a_b~"), "{}", stems[2]);
        for (p, s) in parties.iter().zip(&stems) {
            assert!(!s.starts_with('.') && !s.is_empty(), "{p:?} -> {s:?}");
            assert!(s.len() + ".impact.json".len() <= 255, "{p:?} -> {s:?}");
            assert!(!s.contains('/') && !s.contains('\0'));
        }
        let mut folded: Vec<String> = stems.iter().map(|s| s.to_ascii_lowercase()).collect();
        folded.sort();
        folded.dedup();
        assert_eq!(
            folded.len(),
            stems.len(),
            "unique even ignoring case: {stems:?}"
        );
        // Stable: the same ids give the same names, whatever else is in the registry.
        assert_eq!(file_stems(&parties[2..3])[0], stems[2]);
    }
}
