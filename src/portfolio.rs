//! Portfolio: one supplier party's view of its installations, revealing nothing of any
//! other party.
//!
//! Takes an index [`View`] (with devices: built by `index build`, or a `Purpose::Index`
//! image), its [`Judgement`] and a party; hands on the party's SMETS1 installations — those
//! where the party is the Responsible Supplier of at least one meter — each with its
//! decision and reasons, and only the MPxNs of the party's own meters. For each such MPxN
//! that is shared, every *other* member is described by four facts only: its inventory
//! (SMSO name or SMETS2), its install date for the MPxN, whether it is communicating, and
//! whether it belongs to the same party. Never its installation id, device GUIDs,
//! supplier id or party: the 4.1C rule exists so that one supplier cannot see another's
//! customer data, and neither may its notice. A list of MPxNs can be checked instead:
//! each is `found` (with the party's installations carrying it), `unknown` to the index,
//! or `registered to another supplier` — nothing more. SMETS2 installations get no
//! decision, so they appear only as anonymous other members. `sweep --per-party
//! --report` adds each party's page, drawn by [`crate::html::notice`] from the same
//! described installations and impact counts, and nothing else.
//!
//! The values behind an installation's data-issue findings (its rows of findings.csv:
//! file, line, column, raw value) are shown only when every meter of the installation
//! is the party's: a row of findings.csv is not tied to one meter in the index, and in an
//! installation shared with another party, or with a meter of an unknown supplier, the
//! row may be that meter's (another party's mistyped MPRN, a supplier id that is another
//! party's typo). There the codes stand and the values are withheld, saying so; DCC's
//! findings.csv holds them. Device ids are never shown, not even the party's own: a
//! DUPLICATE_GUID's value is also another installation's device (INVALID_GUID and
//! DUPLICATE_GUID stand as codes alone).

use std::collections::BTreeMap;

use std::io::Write;

use serde::Serialize;

use crate::index::{IndexError, View};
use crate::judge::Judgement;
use crate::lookup::{finding_values, FindingValue};

use crate::normalize::{Mpan, Mprn, MpxnKey};
use crate::publish::OutputSet;
use crate::report::ReportError;
use crate::resolve::{decide, AsOf, Finding, Outcome};

/// Another member of a shared MPxN, as a party may see it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct OtherMember {
    /// The SMSO name, or `SMETS2`.
    pub inventory: String,
    /// Its install date for the MPxN (`None` when unknown).
    pub installed_on: Option<String>,
    /// `yes`, `no` or `unknown`.
    pub communicating: &'static str,
    /// Whether one of its meters carrying the MPxN is the same party's.
    pub same_party: bool,
}

/// One of the party's MPxNs in one installation.
#[derive(Clone, Debug, Serialize)]
pub struct PartyMpxn {
    pub mpxn: String,
    pub kind: &'static str,
    pub shared: bool,
    /// Sorted by their four facts, so the order reveals nothing else.
    pub others: Vec<OtherMember>,
}

/// One of the party's installations.
#[derive(Clone, Debug, Serialize)]
pub struct PartyInstallation {
    pub source: String,
    pub installation_id: String,
    pub group_id: String,
    pub outcome: &'static str,
    pub clauses: Vec<&'static str>,
    pub reasons: Vec<&'static str>,
    pub mpxns: Vec<PartyMpxn>,
    /// The party's meters here: all dormant, all active, or mixed.
    pub dormancy: &'static str,
    /// The values behind its data-issue findings (its rows of findings.csv), when every
    /// meter of the installation is the party's own; empty otherwise.
    pub values: Vec<FindingValue>,
    /// The installation has such values but holds a meter of another party or of an
    /// unknown supplier: a value's row may be that meter's, so none is shown.
    pub values_withheld: bool,
}

/// A listed MPxN's answer.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "status")]
pub enum QueryAnswer {
    #[serde(rename = "found")]
    Found {
        installations: Vec<PartyInstallation>,
    },
    #[serde(rename = "unknown")]
    Unknown,
    #[serde(rename = "registered to another supplier")]
    OtherSupplier,
    /// Neither a valid MPAN nor a valid MPRN: why, in words (`normalize::mpxn_problem`).
    #[serde(rename = "invalid")]
    Invalid { why: String },
}

impl QueryAnswer {
    pub fn status(&self) -> &'static str {
        match self {
            QueryAnswer::Found { .. } => "found",
            QueryAnswer::Unknown => "unknown",
            QueryAnswer::OtherSupplier => "registered to another supplier",
            QueryAnswer::Invalid { .. } => "invalid",
        }
    }
}

/// Which installations each party is Responsible Supplier for (by party rank), from the
/// device columns. SMETS1 installations only, in output order.
pub fn installations_by_party(view: &View<'_>) -> Result<Vec<Vec<usize>>, IndexError> {
    let mut by_party: Vec<Vec<usize>> = vec![Vec::new(); view.party_count()];
    for d in 0..view.device_count() {
        let Some((inst, Some(party))) = view.meter_owner(d)? else {
            continue;
        };
        let list = &mut by_party[party as usize];
        if list.last() != Some(&inst) && !view.is_smets2(inst)? {
            list.push(inst);
        }
    }
    for list in &mut by_party {
        list.sort_unstable();
        list.dedup();
    }
    Ok(by_party)
}

/// The rank of a party id in the index's (text-ordered) party dictionary.
pub fn party_rank(view: &View<'_>, party_id: &str) -> Result<Option<u32>, IndexError> {
    for p in 0..view.party_count() {
        if view.party_id(p)? == party_id.as_bytes() {
            return Ok(Some(p as u32));
        }
    }
    Ok(None)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The findings whose value is a device id: left out of a party's values.
const DEVICE_ID_FINDINGS: [&str; 2] = [Finding::DuplicateGuid.code(), Finding::InvalidGuid.code()];

/// Describes installation `inst` for party `party` (its rank): see the module doc.
pub fn describe(
    view: &View<'_>,
    judgement: &Judgement,
    party: u32,
    inst: usize,
    as_of: AsOf,
) -> Result<PartyInstallation, IndexError> {
    let party_id = view.party_id(party as usize)?;
    let decision = decide(judgement.findings[inst]);
    let mut keys: Vec<MpxnKey> = Vec::new();
    let (mut dormant, mut active) = (0, 0);
    // Whether every meter here is the party's: only then is every row of findings.csv
    // for this installation one of the party's rows (or of a device serving only its
    // meters), so only then may its values be shown.
    let mut all_mine = true;
    for device in view.devices(inst)? {
        let device = device?;
        if device.meter && device.party != Some(party) {
            all_mine = false;
        }
        if !device.meter || device.party != Some(party) {
            continue;
        }
        if device.dormant {
            dormant += 1;
        } else {
            active += 1;
        }
        // A missing or invalid MPxN: the meter carries none.
        keys.extend(device.mpxn);
    }
    keys.sort_by_key(|k| k.to_string());
    keys.dedup();
    let mut mpxns = Vec::with_capacity(keys.len());
    for key in keys {
        let group = view.find_mpxn(key)?.and_then(|posting| posting.group);
        let mut others = Vec::new();
        if let Some(g) = group {
            for member in view.members(g)? {
                let member = member?;
                let other = member.installation;
                if other == inst {
                    continue;
                }
                others.push(OtherMember {
                    inventory: text(view.source_text(other)?),
                    installed_on: member.installed_on.map(|d| d.to_string()),
                    communicating: judgement.comm[other].as_str(),
                    same_party: member.parties.split(|&b| b == b';').any(|p| p == party_id),
                });
            }
        }
        others.sort();
        mpxns.push(PartyMpxn {
            mpxn: key.to_string(),
            kind: key.kind().as_str(),
            shared: group.is_some(),
            others,
        });
    }
    let mut values = finding_values(view, inst, as_of)?;
    // A device id is never in a notice: a duplicate GUID is also another installation's
    // device, and an invalid one is shown by its file, line and code alone.
    values.retain(|v| !DEVICE_ID_FINDINGS.contains(&v.finding));
    let values_withheld = !all_mine && !values.is_empty();
    if values_withheld {
        values.clear();
    }
    Ok(PartyInstallation {
        values,
        values_withheld,
        source: text(view.source_text(inst)?),
        installation_id: text(view.installation_text(inst)?),
        group_id: text(view.group_text(inst)?),
        outcome: decision.outcome.as_str(),
        clauses: decision.clauses,
        reasons: decision.findings.iter().map(Finding::code).collect(),
        mpxns,
        dormancy: match (dormant, active) {
            (_, 0) => "dormant",
            (0, _) => "active",
            _ => "mixed",
        },
    })
}

/// Answers one listed MPxN (any spelling SPEC §4 accepts) for `party` as of `as_of`.
pub fn answer(
    view: &View<'_>,
    judgement: &Judgement,
    (party, as_of): (u32, AsOf),
    mine: &[usize],
    key: &str,
) -> Result<QueryAnswer, IndexError> {
    let readings = [
        Mpan::parse(key.as_bytes()).map(MpxnKey::mpan),
        Mprn::parse(key.as_bytes()).map(MpxnKey::mprn),
    ];
    if readings.iter().all(Option::is_none) {
        return Ok(QueryAnswer::Invalid {
            why: crate::normalize::mpxn_problem(key.as_bytes()),
        });
    }
    let mut known = false;
    let mut installations = Vec::new();
    for key in readings.into_iter().flatten() {
        let Some(hit) = view.find_mpxn(key)? else {
            continue;
        };
        known = true;
        for inst in hit.installations {
            if mine.binary_search(&inst).is_err() {
                continue;
            }
            let described = describe(view, judgement, party, inst, as_of)?;
            // Only if the party's own meter carries this MPxN there.
            if described.mpxns.iter().any(|m| m.mpxn == key.to_string()) {
                installations.push(described);
            }
        }
    }
    Ok(match (known, installations.is_empty()) {
        (false, _) => QueryAnswer::Unknown,
        (true, true) => QueryAnswer::OtherSupplier,
        (true, false) => QueryAnswer::Found { installations },
    })
}

/// Counts over a checked list: answers by status, and the outcomes of the found
/// installations (an MPxN found at two installations counts both).
#[derive(Default)]
pub struct Tally {
    found: u64,
    unknown: u64,
    invalid: u64,
    other: u64,
    outcomes: BTreeMap<&'static str, u64>,
}

impl Tally {
    pub fn add(&mut self, answer: &QueryAnswer) {
        match answer {
            QueryAnswer::Found { installations } => {
                self.found += 1;
                for i in installations {
                    *self.outcomes.entry(i.outcome).or_default() += 1;
                }
            }
            QueryAnswer::Unknown => self.unknown += 1,
            QueryAnswer::Invalid { .. } => self.invalid += 1,
            QueryAnswer::OtherSupplier => self.other += 1,
        }
    }

    /// "20,051 listed: 19,877 found, 120 unknown, 14 invalid, 40 another supplier's;
    /// 19,565 unblock, 312 exclude" (outcomes in `Outcome::ALL` order, those counted).
    pub fn line(&self, listed: u64) -> String {
        let n = crate::timing::thousands;
        let mut line = format!(
            "{} listed: {} found, {} unknown, {} invalid, {} another supplier's",
            n(listed),
            n(self.found),
            n(self.unknown),
            n(self.invalid),
            n(self.other)
        );
        let outcomes: Vec<String> = Outcome::ALL
            .iter()
            .filter_map(|o| {
                self.outcomes
                    .get(o.as_str())
                    .map(|c| format!("{} {}", n(*c), o.as_str()))
            })
            .collect();
        if !outcomes.is_empty() {
            line.push_str("; ");
            line.push_str(&outcomes.join(", "));
        }
        line
    }
}

/// A party's impact notice: counts over its installations.
#[derive(Clone, Debug, Serialize)]
pub struct Impact {
    pub party_id: String,
    /// Its name in the supplier registry (its distinct names, ` / `-joined; empty when
    /// the registry gives none).
    pub name: String,
    pub as_of: String,
    pub window_days: u32,
    pub installations: u64,
    pub outcomes: BTreeMap<&'static str, u64>,
    pub reasons: BTreeMap<&'static str, u64>,
    /// Outcome counts by whether the party's meters there are dormant, active or mixed.
    pub by_dormancy: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    /// Outcome counts by GroupID (`(none)` when an installation has none).
    pub by_group_id: BTreeMap<String, BTreeMap<&'static str, u64>>,
}

fn zero_outcomes() -> BTreeMap<&'static str, u64> {
    Outcome::ALL.iter().map(|o| (o.as_str(), 0)).collect()
}

impl Impact {
    pub fn of(
        (party_id, name): (&str, &str),
        as_of: crate::resolve::AsOf,
        installations: &[PartyInstallation],
    ) -> Impact {
        let mut impact = Impact {
            party_id: party_id.to_string(),
            name: name.to_string(),
            as_of: as_of.date.to_string(),
            window_days: as_of.window_days,
            installations: installations.len() as u64,
            outcomes: zero_outcomes(),
            reasons: BTreeMap::new(),
            by_dormancy: ["active", "dormant", "mixed"]
                .into_iter()
                .map(|d| (d, zero_outcomes()))
                .collect(),
            by_group_id: BTreeMap::new(),
        };
        for i in installations {
            *impact.outcomes.entry(i.outcome).or_default() += 1;
            for r in &i.reasons {
                *impact.reasons.entry(r).or_default() += 1;
            }
            *impact
                .by_dormancy
                .entry(i.dormancy)
                .or_default()
                .entry(i.outcome)
                .or_default() += 1;
            let group = if i.group_id.is_empty() {
                "(none)".to_string()
            } else {
                i.group_id.clone()
            };
            *impact
                .by_group_id
                .entry(group)
                .or_insert_with(zero_outcomes)
                .entry(i.outcome)
                .or_default() += 1;
        }
        impact
    }
}

/// CSV header of a portfolio report.
pub const CSV_HEADER: &[u8] = b"query,status,source,installation_id,group_id,outcome,clauses,reasons,dormancy,mpxn,kind,shared,other_inventory,other_installed_on,other_communicating,other_same_party,detail,party_id\n";

/// Appends a party installation as CSV rows: one per (MPxN, other member), one per MPxN
/// without others, or one alone when the party's meters carry no valid MPxN.
/// The last column, `party_id`, names the party the report is for on every row;
/// `detail`, before it, says why a listed value is `invalid`, and on an installation's
/// rows the values behind its data-issue findings ([`values_in_words`]).
pub fn push_csv(
    out: &mut Vec<u8>,
    party: &str,
    query: &str,
    status: &str,
    inst: Option<&PartyInstallation>,
) {
    push_csv_detail(out, party, query, status, inst, "")
}

fn push_csv_detail(
    out: &mut Vec<u8>,
    party: &str,
    query: &str,
    status: &str,
    inst: Option<&PartyInstallation>,
    detail: &str,
) {
    use crate::delimited::push_record;
    let Some(i) = inst else {
        // A listed MPxN that is unknown, invalid or another supplier's: the status (and
        // why it is invalid), nothing more.
        let mut fields: Vec<&[u8]> = vec![query.as_bytes(), status.as_bytes()];
        fields.extend([&b""[..]; 14]);
        fields.push(detail.as_bytes());
        fields.push(party.as_bytes());
        push_record(out, &fields);
        return;
    };
    let clauses = i.clauses.join(";");
    let reasons = i.reasons.join(";");
    let values = values_in_words(i);
    let head: [&[u8]; 9] = [
        query.as_bytes(),
        status.as_bytes(),
        i.source.as_bytes(),
        i.installation_id.as_bytes(),
        i.group_id.as_bytes(),
        i.outcome.as_bytes(),
        clauses.as_bytes(),
        reasons.as_bytes(),
        i.dormancy.as_bytes(),
    ];
    let row = |out: &mut Vec<u8>, tail: [&[u8]; 7]| {
        let mut fields: Vec<&[u8]> = head.to_vec();
        fields.extend_from_slice(&tail);
        fields.push(values.as_bytes());
        fields.push(party.as_bytes());
        push_record(out, &fields);
    };
    if i.mpxns.is_empty() {
        row(out, [b"", b"", b"", b"", b"", b"", b""]);
    }
    for m in &i.mpxns {
        let shared: &[u8] = if m.shared { b"yes" } else { b"no" };
        if m.others.is_empty() {
            row(
                out,
                [
                    m.mpxn.as_bytes(),
                    m.kind.as_bytes(),
                    shared,
                    b"",
                    b"",
                    b"",
                    b"",
                ],
            );
        }
        for o in &m.others {
            let same: &[u8] = if o.same_party { b"yes" } else { b"no" };
            row(
                out,
                [
                    m.mpxn.as_bytes(),
                    m.kind.as_bytes(),
                    shared,
                    o.inventory.as_bytes(),
                    o.installed_on.as_deref().unwrap_or("").as_bytes(),
                    o.communicating.as_bytes(),
                    same,
                ],
            );
        }
    }
}

/// An installation's `detail` in a CSV notice: the values behind its data-issue
/// findings, `; `-joined (`INVALID_MPAN: inv.csv line 12, mpan "12X"`), or why they are
/// withheld; empty when it has none.
pub fn values_in_words(i: &PartyInstallation) -> String {
    if i.values_withheld {
        return "values withheld: a meter here is another supplier's or an unknown \
                supplier's, and a value may be in its row"
            .to_string();
    }
    let words: Vec<String> = i
        .values
        .iter()
        .map(|v| {
            format!(
                "{}: {} line {}, {} \"{}\"",
                v.finding, v.file, v.line, v.column, v.value
            )
        })
        .collect();
    words.join("; ")
}

pub fn push_installation(
    out: &mut Vec<u8>,
    json: bool,
    party: &str,
    query: &str,
    i: &PartyInstallation,
) -> std::io::Result<()> {
    if json {
        let mut line = serde_json::json!({ "party_id": party, "installation": i });
        if !query.is_empty() {
            line["query"] = serde_json::Value::from(query);
        }
        writeln!(out, "{line}")?;
    } else {
        push_csv(
            out,
            party,
            query,
            if query.is_empty() { "" } else { "found" },
            Some(i),
        );
    }
    Ok(())
}

pub fn push_answer(
    out: &mut Vec<u8>,
    json: bool,
    party: &str,
    key: &str,
    answer: &QueryAnswer,
) -> std::io::Result<()> {
    if json {
        let mut line = serde_json::to_value(answer).map_err(std::io::Error::from)?;
        line["query"] = serde_json::Value::from(key);
        line["party_id"] = serde_json::Value::from(party);
        writeln!(out, "{line}")?;
        return Ok(());
    }
    match answer {
        QueryAnswer::Found { installations } => {
            for i in installations {
                push_csv(out, party, key, answer.status(), Some(i));
            }
        }
        QueryAnswer::Invalid { why } => {
            push_csv_detail(out, party, key, answer.status(), None, why)
        }
        _ => push_csv(out, party, key, answer.status(), None),
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

/// The file stems of every party, by rank. A plain party id (see `plain_stem`) is its
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
/// The notices folder's manifest: the names the last `--per-party` run wrote there (a
/// hidden file, so "send every file in the folder" does not send it).
pub const NOTICES_MANIFEST: &str = ".mpxn-recon-notices";

/// What [`write_per_party`] staged: how many parties, and the other files in the folder
/// (not written by any run of ours: left, to be reported).
pub struct PerParty {
    pub parties: usize,
    pub others: Vec<std::path::PathBuf>,
}

/// Stages every party's notice and impact summary (and with `html` its page,
/// `<stem>.html`: [`crate::html::notice`], drawn from the same described installations
/// and impact counts as those two files and nothing else), and makes them the folder's
/// whole set ([`OutputSet::replace_whole_set`]): notices an earlier run wrote that this
/// one does not (a party gone from the registry, `--json` or `--report` switched) are
/// removed on commit.
pub fn write_per_party(
    view: &View<'_>,
    judgement: &Judgement,
    as_of: AsOf,
    set: &mut OutputSet,
    json: bool,
    html: bool,
) -> Result<PerParty, ReportError> {
    let parties = stage_per_party(view, judgement, as_of, set, json, html)?;
    let others = set.replace_whole_set(NOTICES_MANIFEST)?;
    Ok(PerParty { parties, others })
}

fn stage_per_party(
    view: &View<'_>,
    judgement: &Judgement,
    as_of: AsOf,
    set: &mut OutputSet,
    json: bool,
    html: bool,
) -> Result<usize, ReportError> {
    let by_party = installations_by_party(view)?;
    let parties: Vec<String> = (0..by_party.len())
        .map(|rank| {
            view.party_id(rank)
                .map(|t| String::from_utf8_lossy(t).into_owned())
        })
        .collect::<Result<_, _>>()?;
    let stems = file_stems(&parties);
    for (rank, mine) in by_party.iter().enumerate() {
        let party = &parties[rank];
        let mut out = Vec::new();
        if !json {
            out.extend_from_slice(CSV_HEADER);
        }
        let mut described = Vec::with_capacity(mine.len());
        for &inst in mine {
            let i = describe(view, judgement, rank as u32, inst, as_of)?;
            push_installation(&mut out, json, party, "", &i)?;
            described.push(i);
        }
        let ext = if json { "jsonl" } else { "csv" };
        set.stage_bytes(&format!("{}.{ext}", stems[rank]), &out)?;
        let name = String::from_utf8_lossy(view.party_name(rank)?).into_owned();
        let impact = Impact::of((party, &name), as_of, &described);
        let mut text = serde_json::to_vec_pretty(&impact).map_err(std::io::Error::from)?;
        text.push(b'\n');
        set.stage_bytes(&format!("{}.impact.json", stems[rank]), &text)?;
        if html {
            let page = crate::html::notice(&impact, &described);
            set.stage_bytes(&format!("{}.html", stems[rank]), page.as_bytes())?;
        }
    }
    Ok(by_party.len())
}

#[cfg(test)]
mod tests {
    use super::file_stems;

    #[test]
    fn a_lists_counts_read_as_a_sentence() {
        use super::Tally;
        use crate::timing::thousands;
        assert_eq!(
            [0, 999, 1000, 20051, 1234567].map(thousands),
            ["0", "999", "1,000", "20,051", "1,234,567"]
        );
        let mut tally = Tally::default();
        tally.outcomes.insert("unblock", 19_565);
        tally.outcomes.insert("exclude", 312);
        (tally.found, tally.unknown, tally.invalid, tally.other) = (19_877, 120, 14, 40);
        assert_eq!(
            tally.line(20_051),
            "20,051 listed: 19,877 found, 120 unknown, 14 invalid, 40 another supplier's; \
             19,565 unblock, 312 exclude"
        );
    }

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
