//! Lookup: a meter point or device key, in any spelling SPEC §4 accepts → the
//! installations that carry it, each with its devices and its decision as of a date.
//!
//! Takes an index [`View`] and raw key text; tries the text as an MPAN (13 or 21
//! characters), an MPRN and a GUID — a text can be more than one (a zero-padded MPRN of
//! 16 digits is also a valid GUID), and every reading found in the index is reported.
//! Keys go through the index's fst maps to postings; an installation's decision is
//! `judge::judge_one` over just the shared MPxNs it belongs to (found in [`Groups`], a
//! sorted array of the shared MPxNs, not by further fst walks), so it is the decision a
//! full sweep would give. Cost: one fst walk, a binary search per meter and the touched
//! rows, no full scan; the report borrows its texts from the index.

use std::borrow::Cow;

use serde::Serialize;

use crate::index::{
    build::mpxn_fst_key, IndexError, Section, View, DAY_NONE, DAY_UNKNOWN, DEV_DORMANT, NONE_U32,
};
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
/// walk through the MPxN fst. Built once per opened index.
pub struct Groups {
    by_key: Vec<(u64, u32)>,
}

impl Groups {
    pub fn of(view: &View<'_>) -> Result<Groups, IndexError> {
        let mut by_key = (0..view.group_count())
            .map(|g| Ok((view.group_key.get(g)?, g as u32)))
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

fn fst_map(bytes: &[u8], section: Section) -> Result<fst::Map<&[u8]>, IndexError> {
    fst::Map::new(bytes).map_err(|e| IndexError::corrupt(section, e.to_string()))
}

/// The postings entry `[group, count, installations...]` at `offset`.
fn mpxn_posting(view: &View<'_>, offset: u64) -> Result<(Option<usize>, Vec<usize>), IndexError> {
    let at = offset as usize;
    let group = view.mpxn_postings.get(at)?;
    let count = view.mpxn_postings.get(at + 1)? as usize;
    let insts = (0..count)
        .map(|k| view.installation(view.mpxn_postings, at + 2 + k))
        .collect::<Result<Vec<_>, _>>()?;
    if group != NONE_U32 && group as usize >= view.group_count() {
        return Err(IndexError::corrupt(
            Section::MpxnPostings,
            format!("group {group} does not exist"),
        ));
    }
    Ok(((group != NONE_U32).then_some(group as usize), insts))
}

/// The shared-MPxN group of a valid MPxN key, if any.
pub fn group_of(view: &View<'_>, key: MpxnKey) -> Result<Option<usize>, IndexError> {
    let map = fst_map(view.mpxn_fst, Section::MpxnFst)?;
    match map.get(mpxn_fst_key(key)) {
        Some(offset) => Ok(mpxn_posting(view, offset)?.0),
        None => Ok(None),
    }
}

/// The installations carrying a valid MPxN key, if the index knows it.
pub fn find_mpxn(view: &View<'_>, key: MpxnKey) -> Result<Option<Hit>, IndexError> {
    let map = fst_map(view.mpxn_fst, Section::MpxnFst)?;
    let Some(offset) = map.get(mpxn_fst_key(key)) else {
        return Ok(None);
    };
    let (group, installations) = mpxn_posting(view, offset)?;
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
        let map = fst_map(view.guid_fst, Section::GuidFst)?;
        if let Some(offset) = map.get(guid.to_u64().to_be_bytes()) {
            let at = offset as usize;
            let count = view.guid_postings.get(at)? as usize;
            let mut installations = Vec::with_capacity(count);
            for k in 0..count {
                let device = view.guid_postings.get(at + 1 + k)? as usize;
                if device >= view.dev_inst.len() {
                    return Err(IndexError::corrupt(
                        Section::GuidPostings,
                        format!("device {device} does not exist"),
                    ));
                }
                installations.push(view.installation(view.dev_inst, device)?);
            }
            installations.sort_unstable();
            installations.dedup();
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
/// order, with their groups: an fst range scan.
pub fn shared_mpans_with_prefix(
    view: &View<'_>,
    prefix: &str,
) -> Result<Vec<(String, usize)>, IndexError> {
    use fst::{IntoStreamer, Streamer};
    let map = fst_map(view.mpxn_fst, Section::MpxnFst)?;
    let from = format!("E{prefix}");
    let mut stream = map.range().ge(from.as_bytes()).into_stream();
    let mut out = Vec::new();
    while let Some((key, offset)) = stream.next() {
        if !key.starts_with(from.as_bytes()) {
            break;
        }
        if let (Some(group), _) = mpxn_posting(view, offset)? {
            out.push((String::from_utf8_lossy(&key[1..]).into_owned(), group));
        }
    }
    Ok(out)
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
    #[serde(serialize_with = "as_text")]
    pub last_comms_at: Option<Day>,
    pub party_id: Option<Cow<'a, str>>,
    pub dormant: bool,
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
    pub mpxns: Vec<&'a str>,
    pub devices: Vec<DeviceReport<'a>>,
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

fn day(d: i32) -> Option<Day> {
    (d != DAY_NONE && d != DAY_UNKNOWN).then_some(Day(d))
}

/// Describes installation `inst` and judges it as of `as_of`; `groups` is
/// [`Groups::of`] the same view.
pub fn describe<'a>(
    view: &View<'a>,
    groups: &Groups,
    inst: usize,
    as_of: AsOf,
) -> Result<InstallationReport<'a>, IndexError> {
    let devices_range = view.range(view.inst_devices, inst, view.dev_inst.len())?;
    let mut devices = Vec::with_capacity(devices_range.len());
    let mut member_of = Vec::new();
    for d in devices_range {
        let raw_mpxn = view.dev_mpxn.get(d)?;
        // 0, 1, 2: not a meter, missing, invalid (see `ingest::Row::mpxn_raw`).
        let mpxn = (raw_mpxn > 2)
            .then(|| MpxnKey::from_raw(raw_mpxn))
            .flatten();
        if let Some(key) = mpxn {
            member_of.extend(groups.get(key));
        }
        let party = match view.dev_party.get(d)? {
            NONE_U32 => None,
            p => Some(text(view.text_at(view.parties, p as usize)?)),
        };
        let device_type = match view.dev_type.get(d)? as usize {
            t if t < view.device_types.len() => text(view.text_at(view.device_types, t)?),
            _ => Cow::Borrowed("(other)"),
        };
        devices.push(DeviceReport {
            device_id: Guid::from_u64(view.dev_guid.get(d)?),
            device_type,
            mpxn,
            installed_on: day(view.dev_installed.get(d)?),
            last_comms_at: day(view.dev_last_comms.get(d)?),
            party_id: party,
            dormant: view.dev_flags.get(d)? & DEV_DORMANT != 0,
        });
    }
    member_of.sort_unstable();
    member_of.dedup();
    let smets2 = view.is_smets2(inst)?;
    let findings = judge::judge_one(view, inst, &member_of, as_of)?;
    let decision = decide(findings);
    let mpxns = text(view.text_at(view.inst_mpxns, inst)?);
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
        last_comms_at: day(view.inst_last_comms.get(inst)?),
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
    })
}
