//! Lookup: a meter point or device key, in any spelling SPEC §4 accepts → the
//! installations that carry it, each with its devices and its decision as of a date.
//!
//! Takes an index [`View`] and raw key text; tries the text as an MPAN (13 or 21
//! characters), an MPRN and a GUID — a text can be more than one (a zero-padded MPRN of
//! 16 digits is also a valid GUID), and every reading found in the index is reported.
//! Keys go through the index's sorted key maps to postings; an installation's decision
//! is `judge::judge_one` over just the shared MPxNs it belongs to (found in [`Groups`],
//! a sorted array of the shared MPxNs only, not by further searches of every MPxN), so
//! it is the decision a full sweep would give. Each installation also carries the values
//! behind its data-issue findings ([`finding_values`]: a binary search in each of the
//! index's two evidence streams). Cost: one binary search of a key map, one of `Groups`
//! per meter, two of the evidence and the touched rows, no full scan; the report borrows
//! its texts from the index.

use std::borrow::Cow;

use serde::Serialize;

use crate::index::read::FindingEvidence;
use crate::index::{IndexError, Section, View};
use crate::judge;
use crate::normalize::{Day, Guid, Mpan, Mprn, MpxnKey};
use crate::resolve::{decide, AsOf, Finding};

/// What kind of key a reading is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum KeyKind {
    #[serde(rename = "MPAN")]
    Mpan,
    #[serde(rename = "MPRN")]
    Mprn,
    #[serde(rename = "GUID")]
    Guid,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Mpan => "MPAN",
            KeyKind::Mprn => "MPRN",
            KeyKind::Guid => "GUID",
        }
    }
}

/// One reading of a key that the index knows.
#[derive(Clone, Debug)]
pub struct Hit {
    pub kind: KeyKind,
    /// Canonical spelling.
    pub canonical: String,
    /// Installations carrying it, in output order.
    pub installations: Vec<usize>,
    /// The shared-MPxN group, if two or more installations carry it.
    pub group: Option<usize>,
}

/// The shared-MPxN groups by raw key, sorted: an MPxN's group by binary search in a
/// small array (16 bytes per shared MPxN, about 1.7 MB at national scale) instead of a
/// search of every MPxN's key map. Built once per opened index.
pub struct Groups {
    by_key: Vec<(u64, u32)>,
}

impl Groups {
    pub fn of(view: &View<'_>) -> Result<Groups, IndexError> {
        let mut by_key = (0..view.group_count())
            .map(|g| Ok((view.group_mpxn(g)?.to_raw(), g as u32)))
            .collect::<Result<Vec<_>, IndexError>>()?;
        by_key.sort_unstable();
        if let Some(w) = by_key.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(IndexError::corrupt(
                Section::GroupKey,
                format!("MPxN {} has two groups", w[0].0),
            ));
        }
        Ok(Groups { by_key })
    }

    /// The shared-MPxN group of `key`, if it has one.
    pub fn get(&self, key: MpxnKey) -> Option<usize> {
        let raw = key.to_raw();
        self.by_key
            .binary_search_by_key(&raw, |&(k, _)| k)
            .ok()
            .map(|i| self.by_key[i].1 as usize)
    }
}

/// The installations carrying a valid MPxN key, if the index knows it.
pub fn find_mpxn(view: &View<'_>, key: MpxnKey) -> Result<Option<Hit>, IndexError> {
    let Some(posting) = view.find_mpxn(key)? else {
        return Ok(None);
    };
    let (group, installations) = (posting.group, posting.installations);
    Ok(Some(Hit {
        kind: match key.kind() {
            crate::normalize::MpxnKind::Mpan => KeyKind::Mpan,
            crate::normalize::MpxnKind::Mprn => KeyKind::Mprn,
        },
        canonical: key.to_string(),
        installations,
        group,
    }))
}

/// Every reading of `raw` that the index knows.
pub fn find(view: &View<'_>, raw: &str) -> Result<Vec<Hit>, IndexError> {
    let mut hits = Vec::new();
    let text = raw.as_bytes();
    let mpxns = [
        Mpan::parse(text).map(MpxnKey::mpan),
        Mprn::parse(text).map(MpxnKey::mprn),
    ];
    for key in mpxns.into_iter().flatten() {
        hits.extend(find_mpxn(view, key)?);
    }
    if let Some(guid) = Guid::parse(text) {
        if let Some(installations) = view.find_guid(guid)? {
            hits.push(Hit {
                kind: KeyKind::Guid,
                canonical: guid.to_string(),
                installations,
                group: None,
            });
        }
    }
    Ok(hits)
}

/// The shared MPANs whose core starts with `prefix` (e.g. a distributor area, `14`), in
/// order, with their groups: one range of the MPxN key map.
pub fn shared_mpans_with_prefix(
    view: &View<'_>,
    prefix: &str,
) -> Result<Vec<(String, usize)>, IndexError> {
    view.shared_mpans_with_prefix(prefix)
}

/// One device as a lookup shows it. Fields borrow from the index or hold typed values
/// (rendered as text only when the report is printed or serialised), so describing an
/// installation allocates little.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceReport<'a> {
    #[serde(serialize_with = "as_text")]
    pub device_id: Option<Guid>,
    pub device_type: Cow<'a, str>,
    #[serde(serialize_with = "as_text")]
    pub mpxn: Option<MpxnKey>,
    #[serde(serialize_with = "as_text")]
    pub installed_on: Option<Day>,
    /// Given but not a date (`installed_on` is then null): not the same as empty.
    pub installed_on_unreadable: bool,
    #[serde(serialize_with = "as_text")]
    pub last_comms_at: Option<Day>,
    /// Given but not a date: "date unreadable", not "never communicated".
    pub last_comms_at_unreadable: bool,
    pub party_id: Option<Cow<'a, str>>,
    pub dormant: bool,
}

/// One value behind a data-issue finding: a row of findings.csv for this installation.
#[derive(Clone, Debug, Serialize)]
pub struct FindingValue {
    pub finding: &'static str,
    /// The inventory, as its path was given to the sweep or `index build`.
    pub file: String,
    /// The physical line.
    pub line: u64,
    /// The column's name as that file's header writes it.
    pub column: String,
    /// The raw value as it stands in the file, trimmed.
    pub value: String,
}

/// The rows of findings.csv for installation `inst` as of `as_of`: both evidence
/// streams are in installation order, so a binary search finds its run in each.
pub fn finding_values(
    view: &View<'_>,
    inst: usize,
    as_of: AsOf,
) -> Result<Vec<FindingValue>, IndexError> {
    fn run<'a>(
        count: usize,
        at: impl Fn(usize) -> Result<FindingEvidence<'a>, IndexError>,
        inst: usize,
    ) -> Result<Vec<FindingEvidence<'a>>, IndexError> {
        let (mut lo, mut hi) = (0usize, count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if at(mid)?.installation < inst {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut out = Vec::new();
        while lo < count {
            let row = at(lo)?;
            if row.installation != inst {
                break;
            }
            out.push(row);
            lo += 1;
        }
        Ok(out)
    }
    let paths: Vec<String> = view
        .meta()?
        .inventories
        .into_iter()
        .map(|f| f.path)
        .collect();
    let mut rows = run(view.finding_row_count(), |i| view.finding_row(i), inst)?;
    rows.extend(run(view.comms_row_count(), |i| view.comms_row(i), inst)?);
    let mut out = Vec::new();
    for row in rows {
        let value = match row.last_comms_at {
            Some(d) if d <= as_of.date => continue,
            Some(d) if row.raw.is_empty() => d.to_string(),
            _ => String::from_utf8_lossy(row.raw).into_owned(),
        };
        let file = paths.get(row.file).cloned().ok_or_else(|| {
            IndexError::corrupt(crate::index::Section::FindingRows, "names no input file")
        })?;
        out.push((
            (row.finding.code(), row.file, row.line, row.column.to_vec()),
            FindingValue {
                finding: row.finding.code(),
                file,
                line: row.line,
                column: String::from_utf8_lossy(row.column).into_owned(),
                value,
            },
        ));
    }
    // findings.csv's order within an installation: finding, file, line, column.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// One installation as a lookup shows it. SMETS2 installations are evidence only:
/// their `outcome`, `clauses` and `reasons` are empty.
#[derive(Clone, Debug, Serialize)]
pub struct InstallationReport<'a> {
    pub source: Cow<'a, str>,
    pub installation_id: Cow<'a, str>,
    pub group_id: Cow<'a, str>,
    pub smets2: bool,
    pub outcome: Option<&'static str>,
    pub clauses: Vec<&'static str>,
    pub reasons: Vec<&'static str>,
    pub communicating: &'static str,
    #[serde(serialize_with = "as_text")]
    pub last_comms_at: Option<Day>,
    /// Some device's `last_comms_at` does not parse (its status is then unknown):
    /// told apart from "never communicated" (`last_comms_at` null, this false).
    pub last_comms_at_unreadable: bool,
    pub mpxns: Vec<&'a str>,
    pub devices: Vec<DeviceReport<'a>>,
    /// The values behind its data-issue findings, as findings.csv lists them (file,
    /// line, header column, raw value), FUTURE_COMMS as of the lookup's date.
    pub values: Vec<FindingValue>,
}

/// Serialises a value by its `Display` text (`null` when absent).
fn as_text<T: std::fmt::Display, S: serde::Serializer>(
    value: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// Describes installation `inst` and judges it as of `as_of`; `groups` is
/// [`Groups::of`] the same view.
pub fn describe<'a>(
    view: &View<'a>,
    groups: &Groups,
    inst: usize,
    as_of: AsOf,
) -> Result<InstallationReport<'a>, IndexError> {
    let mut devices = Vec::new();
    let mut member_of = Vec::new();
    for device in view.devices(inst)? {
        let device = device?;
        if let Some(key) = device.mpxn {
            member_of.extend(groups.get(key));
        }
        let party = match device.party {
            None => None,
            Some(p) => Some(text(view.party_id(p as usize)?)),
        };
        devices.push(DeviceReport {
            device_id: device.guid,
            device_type: device.device_type.map_or(Cow::Borrowed("(other)"), text),
            mpxn: device.mpxn,
            installed_on: device.installed_on,
            installed_on_unreadable: device.installed_on_unreadable,
            last_comms_at: device.last_comms_at,
            last_comms_at_unreadable: device.last_comms_unreadable,
            party_id: party,
            dormant: device.dormant,
        });
    }
    member_of.sort_unstable();
    member_of.dedup();
    let smets2 = view.is_smets2(inst)?;
    let findings = judge::judge_one(view, inst, &member_of, as_of)?;
    let decision = decide(findings);
    let mpxns = text(view.mpxns_text(inst)?);
    Ok(InstallationReport {
        source: text(view.source_text(inst)?),
        installation_id: text(view.installation_text(inst)?),
        group_id: text(view.group_text(inst)?),
        smets2,
        outcome: (!smets2).then_some(decision.outcome.as_str()),
        clauses: if smets2 { vec![] } else { decision.clauses },
        reasons: if smets2 {
            vec![]
        } else {
            findings.iter().map(Finding::code).collect()
        },
        communicating: judge::comm_status(view, inst, as_of)?.as_str(),
        last_comms_at: view.last_comms(inst)?,
        last_comms_at_unreadable: view.comms(inst)?.unreadable,
        mpxns: match mpxns {
            Cow::Borrowed(list) => list.split(';').filter(|m| !m.is_empty()).collect(),
            // Not UTF-8: the index is damaged (the builder writes ASCII digits).
            Cow::Owned(_) => {
                return Err(IndexError::corrupt(
                    Section::Heap,
                    format!("installation {inst}'s MPxN list is not text"),
                ))
            }
        },
        devices,
        values: finding_values(view, inst, as_of)?,
    })
}
