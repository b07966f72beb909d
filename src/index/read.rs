//! The friendly layer over a [`View`]: typed accessors that decode the index's
//! sentinels, flag bits and packed keys, so no reader outside `index` sees a raw column.
//!
//! `View`'s columns are private to `index`; judge,
//! report, lookup and portfolio read installations, devices, shared MPxNs with their
//! members, parties and the build metadata through the methods here, which return
//! domain values (`Option<Day>`, `FindingSet`, `MpxnKey`, `Guid`) and check every
//! cross-reference, so a damaged index is an [`IndexError`] naming the section, never a
//! panic and never a misread sentinel. Each accessor reads only the columns it names.

use super::format::{
    BuildMeta, CommsRow, FindingRow, DAY_NONE, DAY_UNKNOWN, DEV_DORMANT, INST_COMMS_UNREADABLE,
    INST_SMETS2, NONE_U32,
};
use super::{IndexError, Section, View};
use crate::ingest::Column;
use crate::normalize::{Day, Guid, MpxnKey};
use crate::registry::SupplierStatus;
use crate::resolve::{CommsEvidence, Finding, FindingSet};

/// One member of a shared MPxN, decoded.
#[derive(Clone, Copy, Debug)]
pub struct Member<'a> {
    /// Its position among all members (the order of a judgement's verdicts).
    pub index: usize,
    pub installation: usize,
    /// Its install date for the MPxN; `None` when unknown.
    pub installed_on: Option<Day>,
    /// The distinct parties of its meters carrying the MPxN, `;`-joined.
    pub parties: &'a [u8],
}

/// One row of findings.csv's evidence (`finding_rows`), decoded.
#[derive(Clone, Copy, Debug)]
pub struct FindingEvidence<'a> {
    pub installation: usize,
    pub finding: Finding,
    /// The input's rank among the inventories in path order (`meta`'s list).
    pub file: usize,
    pub line: u64,
    /// The column's name as that file's header writes it.
    pub column: &'a [u8],
    /// The raw value, trimmed; for FUTURE_COMMS, empty when it is `last_comms_at`'s
    /// own `YYYY-MM-DD`.
    pub raw: &'a [u8],
    /// FUTURE_COMMS only: the row's `last_comms_at` (listed when after the as-of date).
    pub last_comms_at: Option<Day>,
}

/// One device of an installation, decoded.
#[derive(Clone, Copy, Debug)]
pub struct Device<'a> {
    /// `None` when the GUID did not normalise.
    pub guid: Option<Guid>,
    /// Whether it is a meter (ESME or GSME).
    pub meter: bool,
    /// The MPxN a meter carries; `None` for a missing or invalid one, and for non-meters.
    pub mpxn: Option<MpxnKey>,
    /// Its device type's text; `None` for a type outside the dictionary.
    pub device_type: Option<&'a [u8]>,
    pub installed_on: Option<Day>,
    /// Its `installed_on` is given but does not parse (`installed_on` is then `None`;
    /// `None` and `false` is an empty field).
    pub installed_on_unreadable: bool,
    pub last_comms_at: Option<Day>,
    /// Its `last_comms_at` is given but does not parse: "date unreadable", not "never
    /// communicated".
    pub last_comms_unreadable: bool,
    /// Its supplier party's rank; `None` when the supplier is unknown.
    pub party: Option<u32>,
    pub dormant: bool,
}

/// A day column's value: `None` for "none" and "unknown" alike.
fn day(raw: i32) -> Option<Day> {
    (raw != DAY_NONE && raw != DAY_UNKNOWN).then_some(Day(raw))
}

/// A device's packed MPxN column: 0 not a meter, 1 missing, 2 invalid (see
/// `ingest::Row::mpxn_raw`), else the key.
fn device_mpxn(raw: u64) -> (bool, Option<MpxnKey>) {
    match raw {
        0 => (false, None),
        1 | 2 => (true, None),
        key => (true, MpxnKey::from_raw(key)),
    }
}

impl<'a> View<'a> {
    /// How an index was built: inputs, checksums, accounting (the `meta` section).
    pub fn meta(&self) -> Result<BuildMeta, IndexError> {
        postcard::from_bytes(self.meta)
            .map_err(|e| IndexError::corrupt(Section::Meta, e.to_string()))
    }

    /// The exact bytes of `rejects.csv`.
    pub fn rejects_csv(&self) -> &'a [u8] {
        self.rejects
    }

    /// How many rows `finding_rows` holds (findings.csv candidates, FUTURE_COMMS ones
    /// included whatever their date).
    pub fn finding_row_count(&self) -> usize {
        self.finding_rows.len() / FindingRow::WIDTH
    }

    /// How many FUTURE_COMMS candidates `comms_rows` holds (those written as a plain date).
    pub fn comms_row_count(&self) -> usize {
        self.comms_rows.len() / CommsRow::WIDTH
    }

    /// The positions in `comms_rows` of the candidates dated after `date` (the FUTURE_COMMS
    /// rows as of it), in order; a row without a date is listed too, so that decoding
    /// it ([`View::comms_row`]) reports the damage. Reads only each record's day, in
    /// parallel chunks: a national index holds tens of millions of candidates and few
    /// are after any sensible as-of date.
    pub fn comms_rows_after(&self, date: Day) -> Vec<usize> {
        use rayon::prelude::*;
        const CHUNK: usize = 1 << 16;
        let rows = self.comms_rows.chunks_exact(CommsRow::WIDTH);
        let count = rows.len();
        (0..count.div_ceil(CHUNK))
            .into_par_iter()
            .flat_map_iter(|c| {
                let start = c * CHUNK;
                let end = (start + CHUNK).min(count);
                (start..end).filter(move |&i| {
                    let at = i * CommsRow::WIDTH + 4;
                    let day = i32::from_le_bytes(
                        self.comms_rows[at..at + 4].try_into().expect("4 bytes"),
                    );
                    day > date.0 || day == DAY_NONE || day == DAY_UNKNOWN
                })
            })
            .collect()
    }

    /// FUTURE_COMMS candidate `i` of `comms_rows`, decoded and checked, as a row of
    /// findings.csv's evidence whose raw value is its day's `YYYY-MM-DD` (`raw` empty).
    pub fn comms_row(&self, i: usize) -> Result<FindingEvidence<'a>, IndexError> {
        let at = i * CommsRow::WIDTH;
        let b = self
            .comms_rows
            .get(at..at + CommsRow::WIDTH)
            .ok_or_else(|| IndexError::corrupt(Section::CommsRows, "read past its end"))?;
        let r = CommsRow::read(b);
        let bad =
            |what: &str| IndexError::corrupt(Section::CommsRows, format!("entry {i}: {what}"));
        if r.inst as usize >= self.installation_count() {
            return Err(bad("names no installation"));
        }
        if r.day == DAY_NONE || r.day == DAY_UNKNOWN {
            return Err(bad("a FUTURE_COMMS row without a date"));
        }
        let label = usize::from(r.file) * Column::ALL.len() + Column::LastCommsAt as usize;
        if label >= self.finding_columns.len() {
            return Err(bad("names no input file"));
        }
        Ok(FindingEvidence {
            installation: r.inst as usize,
            finding: Finding::FutureComms,
            file: usize::from(r.file),
            line: r.line,
            column: self.text_at(self.finding_columns, label)?,
            raw: b"",
            last_comms_at: Some(Day(r.day)),
        })
    }

    /// Row `i` of findings.csv's evidence, decoded and checked: its installation, code,
    /// input path, line, column name, raw value and (FUTURE_COMMS) `last_comms_at` day.
    pub fn finding_row(&self, i: usize) -> Result<FindingEvidence<'a>, IndexError> {
        let at = i * FindingRow::WIDTH;
        let b = self
            .finding_rows
            .get(at..at + FindingRow::WIDTH)
            .ok_or_else(|| IndexError::corrupt(Section::FindingRows, "read past its end"))?;
        let r = FindingRow::read(b);
        let bad =
            |what: &str| IndexError::corrupt(Section::FindingRows, format!("entry {i}: {what}"));
        if r.inst as usize >= self.installation_count() {
            return Err(bad("names no installation"));
        }
        let finding = Finding::ALL
            .get(usize::from(r.finding))
            .copied()
            .ok_or_else(|| bad("names no finding"))?;
        let column = Column::ALL
            .get(usize::from(r.column))
            .copied()
            .ok_or_else(|| bad("names no column"))?;
        let label = usize::from(r.file) * Column::ALL.len() + column as usize;
        if label >= self.finding_columns.len() {
            return Err(bad("names no input file"));
        }
        let column_name = self.text_at(self.finding_columns, label)?;
        let raw = self.text(r.raw.0, Section::FindingRows)?;
        let day = match (finding, r.day) {
            (Finding::FutureComms, d) if d != DAY_NONE && d != DAY_UNKNOWN => Some(Day(d)),
            (Finding::FutureComms, _) => return Err(bad("a FUTURE_COMMS row without a date")),
            _ => None,
        };
        Ok(FindingEvidence {
            installation: r.inst as usize,
            finding,
            file: usize::from(r.file),
            line: r.line,
            column: column_name,
            raw,
            last_comms_at: day,
        })
    }

    pub fn device_count(&self) -> usize {
        self.dev_inst.len()
    }

    pub fn party_count(&self) -> usize {
        self.parties.len()
    }

    /// A party id by rank.
    pub fn party_id(&self, rank: usize) -> Result<&'a [u8], IndexError> {
        self.text_at(self.parties, rank)
    }

    /// A party's name from the registry by rank: its distinct names, sorted and joined
    /// with ` / ` (empty when the registry gives none).
    pub fn party_name(&self, rank: usize) -> Result<&'a [u8], IndexError> {
        self.text_at(self.party_names, rank)
    }

    /// A party's status by rank (`party_status`: 0 live, 1 ceased trading, 2 not a live
    /// DCC User).
    pub fn party_status(&self, rank: usize) -> Result<SupplierStatus, IndexError> {
        match self.party_status.get(rank)? {
            0 => Ok(SupplierStatus::Live),
            1 => Ok(SupplierStatus::CeasedTrading),
            2 => Ok(SupplierStatus::NotLiveUser),
            other => Err(IndexError::corrupt(
                Section::PartyStatus,
                format!("party {rank} has status {other}"),
            )),
        }
    }

    /// How many sources (SMSO names and SMETS2) the index holds.
    pub fn source_count(&self) -> usize {
        self.sources.len()
    }

    /// A source (SMSO or SMETS2) name by rank.
    pub fn source_name(&self, rank: usize) -> Result<&'a [u8], IndexError> {
        self.text_at(self.sources, rank)
    }

    /// A GroupID by rank.
    pub fn group_id_name(&self, rank: usize) -> Result<&'a [u8], IndexError> {
        self.text_at(self.group_ids, rank)
    }

    // ---- installations ------------------------------------------------------------

    /// An installation's source rank.
    pub fn source_rank(&self, inst: usize) -> Result<u32, IndexError> {
        self.inst_source.get(inst)
    }

    /// An installation's GroupID rank; `None` when it has none.
    pub fn group_rank(&self, inst: usize) -> Result<Option<u32>, IndexError> {
        Ok(match self.inst_group.get(inst)? {
            NONE_U32 => None,
            g => Some(g),
        })
    }

    /// The findings decided from its own rows and matching (never those decided as of a
    /// date: `resolve::findings_as_of` drops any such bit).
    pub fn stored_findings(&self, inst: usize) -> Result<FindingSet, IndexError> {
        Ok(FindingSet::from_bits(self.inst_findings.get(inst)?))
    }

    /// What its devices say about communication, before any as-of date.
    pub fn comms(&self, inst: usize) -> Result<CommsEvidence, IndexError> {
        Ok(CommsEvidence {
            unreadable: self.inst_flags.get(inst)? & INST_COMMS_UNREADABLE != 0,
            last: day(self.inst_last_comms.get(inst)?),
        })
    }

    /// The latest parseable `last_comms_at` over its devices (future ones included).
    pub fn last_comms(&self, inst: usize) -> Result<Option<Day>, IndexError> {
        Ok(day(self.inst_last_comms.get(inst)?))
    }

    /// Its distinct valid MPxNs, sorted and `;`-joined (the `mpxns` of decisions.csv).
    pub fn mpxns_text(&self, inst: usize) -> Result<&'a [u8], IndexError> {
        self.text_at(self.inst_mpxns, inst)
    }

    /// Its devices, in index order.
    pub fn devices(
        &self,
        inst: usize,
    ) -> Result<impl Iterator<Item = Result<Device<'a>, IndexError>> + '_, IndexError> {
        let range = self.range(self.inst_devices, inst, self.dev_inst.len())?;
        Ok(range.map(move |d| self.device(d)))
    }

    /// For device `d` of the whole index, if it is a meter: its installation and its
    /// supplier party's rank (`None` when unknown). Reads three columns only.
    pub fn meter_owner(&self, d: usize) -> Result<Option<(usize, Option<u32>)>, IndexError> {
        if !device_mpxn(self.dev_mpxn.get(d)?).0 {
            return Ok(None);
        }
        Ok(Some((
            self.installation(self.dev_inst, d)?,
            self.device_party(d)?,
        )))
    }

    /// Device `d`'s supplier party rank, checked; `None` when the supplier is unknown.
    fn device_party(&self, d: usize) -> Result<Option<u32>, IndexError> {
        match self.dev_party.get(d)? {
            NONE_U32 => Ok(None),
            p if (p as usize) < self.parties.len() => Ok(Some(p)),
            p => Err(IndexError::corrupt(
                Section::DevParty,
                format!("party {p} does not exist"),
            )),
        }
    }

    fn device(&self, d: usize) -> Result<Device<'a>, IndexError> {
        let (meter, mpxn) = device_mpxn(self.dev_mpxn.get(d)?);
        let device_type = match self.dev_type.get(d)? as usize {
            t if t < self.device_types.len() => Some(self.text_at(self.device_types, t)?),
            _ => None,
        };
        let party = self.device_party(d)?;
        let (installed, last) = (self.dev_installed.get(d)?, self.dev_last_comms.get(d)?);
        Ok(Device {
            guid: Guid::from_u64(self.dev_guid.get(d)?),
            meter,
            mpxn,
            device_type,
            installed_on: day(installed),
            installed_on_unreadable: installed == DAY_UNKNOWN,
            last_comms_at: day(last),
            last_comms_unreadable: last == DAY_UNKNOWN,
            party,
            dormant: self.dev_flags.get(d)? & DEV_DORMANT != 0,
        })
    }

    // ---- shared MPxNs -------------------------------------------------------------

    /// The MPxN of shared group `g`.
    pub fn group_mpxn(&self, g: usize) -> Result<MpxnKey, IndexError> {
        MpxnKey::from_raw(self.group_key.get(g)?)
            .ok_or_else(|| IndexError::corrupt(Section::GroupKey, format!("group {g} has no MPxN")))
    }

    /// How many installations share group `g`'s MPxN.
    pub fn member_count(&self, g: usize) -> Result<usize, IndexError> {
        Ok(self
            .range(self.group_members, g, self.member_inst.len())?
            .len())
    }

    /// The members of shared group `g`, in installation order.
    pub fn members(
        &self,
        g: usize,
    ) -> Result<impl Iterator<Item = Result<Member<'a>, IndexError>> + '_, IndexError> {
        let range = self.range(self.group_members, g, self.member_inst.len())?;
        Ok(range.map(move |j| {
            Ok(Member {
                index: j,
                installation: self.installation(self.member_inst, j)?,
                installed_on: match self.member_installed.get(j)? {
                    DAY_UNKNOWN => None,
                    d => Some(Day(d)),
                },
                parties: self.text_at(self.member_parties, j)?,
            })
        }))
    }

    /// Whether an installation is SMETS2 (evidence only, no decision).
    pub fn is_smets2(&self, inst: usize) -> Result<bool, IndexError> {
        Ok(self.inst_flags.get(inst)? & INST_SMETS2 != 0)
    }

    // ---- the key maps (sorted arrays) ---------------------------------------------

    /// The postings entry `[group, count, installations...]` at `offset`.
    fn mpxn_posting(&self, offset: u64) -> Result<MpxnPosting, IndexError> {
        let at = usize::try_from(offset).map_err(|_| {
            IndexError::corrupt(
                Section::MpxnKeys,
                format!("posting {offset} is past the end"),
            )
        })?;
        let group = self.mpxn_postings.get(at)?;
        let count = self.mpxn_postings.get(at.saturating_add(1))? as usize;
        if count > self.mpxn_postings.len().saturating_sub(at + 2) {
            return Err(IndexError::corrupt(
                Section::MpxnPostings,
                format!("entry {at} lists {count} installations, past the end"),
            ));
        }
        let installations = (0..count)
            .map(|k| self.installation(self.mpxn_postings, at + 2 + k))
            .collect::<Result<Vec<_>, _>>()?;
        if group != NONE_U32 && group as usize >= self.group_count() {
            return Err(IndexError::corrupt(
                Section::MpxnPostings,
                format!("group {group} does not exist"),
            ));
        }
        Ok(MpxnPosting {
            group: (group != NONE_U32).then_some(group as usize),
            installations,
        })
    }

    /// The installations carrying a valid MPxN, and its shared group, if the index knows
    /// it: a binary search of `mpxn_keys`.
    pub fn find_mpxn(&self, key: MpxnKey) -> Result<Option<MpxnPosting>, IndexError> {
        let raw = key.to_raw();
        let at = self.mpxn_keys.partition_point(|[k, _]| k < raw)?;
        if at == self.mpxn_keys.len() {
            return Ok(None);
        }
        match self.mpxn_keys.get(at)? {
            [k, offset] if k == raw => Ok(Some(self.mpxn_posting(offset)?)),
            _ => Ok(None),
        }
    }

    /// The installations with a device of this GUID (sorted, distinct), if any: a
    /// binary search of `guid_keys`, then its run of equal keys.
    pub fn find_guid(&self, guid: Guid) -> Result<Option<Vec<usize>>, IndexError> {
        let g = guid.to_u64();
        let mut at = self.guid_keys.partition_point(|k| k < g)?;
        let mut installations = Vec::new();
        while at < self.guid_keys.len() && self.guid_keys.get(at)? == g {
            let device = self.guid_devices.get(at)? as usize;
            if device >= self.dev_inst.len() {
                return Err(IndexError::corrupt(
                    Section::GuidDevices,
                    format!("device {device} does not exist"),
                ));
            }
            installations.push(self.installation(self.dev_inst, device)?);
            at += 1;
        }
        if installations.is_empty() {
            return Ok(None);
        }
        installations.sort_unstable();
        installations.dedup();
        Ok(Some(installations))
    }

    /// The shared MPANs whose core starts with `digits`, in order, with their groups: a
    /// range of `mpxn_keys` (MPAN cores are 13 digits, so a prefix is a range of
    /// values). Nothing for anything but 0 to 13 ASCII digits.
    pub fn shared_mpans_with_prefix(
        &self,
        digits: &str,
    ) -> Result<Vec<(String, usize)>, IndexError> {
        let Some((from, to)) = mpan_prefix_range(digits) else {
            return Ok(Vec::new());
        };
        let mut at = self.mpxn_keys.partition_point(|[k, _]| k < from)?;
        let mut out = Vec::new();
        while at < self.mpxn_keys.len() {
            let [k, offset] = self.mpxn_keys.get(at)?;
            if k >= to {
                break;
            }
            // `k >= from` has the MPAN bit, so it is never the empty key.
            if let (Some(group), Some(key)) =
                (self.mpxn_posting(offset)?.group, MpxnKey::from_raw(k))
            {
                out.push((
                    String::from_utf8_lossy(key.text().as_bytes()).into_owned(),
                    group,
                ));
            }
            at += 1;
        }
        Ok(out)
    }
}

/// The raw keys `[from, to)` of the MPANs whose 13-digit core starts with `digits`;
/// `None` unless `digits` is 0 to 13 ASCII digits. MPRN keys (no MPAN bit) lie below
/// every MPAN key, so they are never in it.
fn mpan_prefix_range(digits: &str) -> Option<(u64, u64)> {
    const CORE_DIGITS: usize = 13;
    if digits.len() > CORE_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let scale = 10u64.pow((CORE_DIGITS - digits.len()) as u32);
    let value: u64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    Some((
        MpxnKey::mpan_core(value * scale).to_raw(),
        MpxnKey::mpan_core((value + 1) * scale).to_raw(),
    ))
}

/// What the MPxN map holds for one MPxN.
#[derive(Clone, Debug)]
pub struct MpxnPosting {
    /// Its shared group, if two or more installations carry it.
    pub group: Option<usize>,
    /// The installations carrying it, in output order.
    pub installations: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::build::Purpose;
    use crate::sweep::SweepConfig;

    /// Two installations sharing one MPAN; A1's meter has an unknown supplier and an
    /// invalid GUID, B1's meter no parseable install date and a dormant flag.
    fn image() -> crate::index::Image {
        image_of(
            "SMSO-A,AA,A1,not-a-guid,ESME,1200000000002,2020-01-01,2024-06-20,NOBODY,\n\
             SMSO-B,,B1,00-1B-C5-09-00-00-00-02,ESME,1200000000002,bad,,S1,Y\n",
        )
    }

    fn image_of(rows: &str) -> crate::index::Image {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("inv.csv");
        std::fs::write(
            &inv,
            format!("source,group_id,installation_id,device_id,device_type,mpxn,installed_on,last_comms_at,supplier_id,dormant\n{rows}"),
        )
        .unwrap();
        let reg = dir.path().join("reg.csv");
        std::fs::write(
            &reg,
            "supplier_id,party_id,name,status\nS1,P1,One,ceased_trading\n",
        )
        .unwrap();
        crate::sweep::run(
            &SweepConfig {
                inventories: vec![inv],
                suppliers: reg,
                ingest: Default::default(),
                budget: crate::spill::Budget::unlimited(),
                comms_after: None,
            },
            Purpose::Index,
        )
        .unwrap()
        .image
        .into_image()
    }

    #[test]
    fn typed_accessors_decode_every_sentinel() {
        let image = image();
        let view = image.view().unwrap();
        assert_eq!(view.installation_count(), 2);
        assert_eq!(
            view.source_name(view.source_rank(0).unwrap() as usize)
                .unwrap(),
            b"SMSO-A"
        );
        assert_eq!(view.group_rank(1).unwrap(), None, "B1 has no GroupID");
        assert_eq!(
            view.group_id_name(view.group_rank(0).unwrap().unwrap() as usize)
                .unwrap(),
            b"AA"
        );
        assert_eq!(view.last_comms(0).unwrap(), Day::parse(b"2024-06-20"));
        assert_eq!(view.last_comms(1).unwrap(), None, "never communicated");
        assert!(!view.comms(1).unwrap().unreadable);
        let a1: Vec<Device> = view.devices(0).unwrap().map(Result::unwrap).collect();
        assert_eq!(a1.len(), 1);
        assert!(a1[0].meter && a1[0].guid.is_none() && a1[0].party.is_none() && !a1[0].dormant);
        assert_eq!(
            a1[0].mpxn.map(|k| k.to_string()).as_deref(),
            Some("1200000000002")
        );
        let b1: Vec<Device> = view.devices(1).unwrap().map(Result::unwrap).collect();
        assert_eq!(b1[0].installed_on, None, "an unparseable date is no date");
        assert!(b1[0].dormant);
        let p = b1[0].party.unwrap() as usize;
        assert_eq!(view.party_id(p).unwrap(), b"P1");
        assert_eq!(view.party_status(p).unwrap(), SupplierStatus::CeasedTrading);
        assert_eq!(view.group_count(), 1);
        assert_eq!(view.group_mpxn(0).unwrap().to_string(), "1200000000002");
        let members: Vec<Member> = view.members(0).unwrap().map(Result::unwrap).collect();
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].installed_on, Day::parse(b"2020-01-01"));
        assert_eq!(members[1].installed_on, None, "unknown install date");
        assert_eq!(members[1].parties, b"P1");
        assert_eq!(view.member_count(0).unwrap(), 2);
        let key = view.group_mpxn(0).unwrap();
        let posting = view.find_mpxn(key).unwrap().unwrap();
        assert_eq!(
            (posting.group, posting.installations),
            (Some(0), vec![0, 1])
        );
        let guid = Guid::parse(b"00-1B-C5-09-00-00-00-02").unwrap();
        assert_eq!(view.find_guid(guid).unwrap(), Some(vec![1]));
        assert_eq!(view.meta().unwrap().rows.read, 2);
        assert_eq!(view.meter_owner(0).unwrap(), Some((0, None)));
    }

    #[test]
    fn key_maps_find_exact_keys_and_mpan_prefixes_as_value_ranges() {
        // Shared: MPANs at both ends of area 13 and the start of 14, and an MPRN whose
        // digits start 13 too; 1299999999990 is carried once (not shared); one GUID is
        // on two devices.
        let mut rows = String::new();
        for (i, (mpxn, kind)) in [
            ("1300000000007", "ESME"),
            ("1399999999994", "ESME"),
            ("1400000000001", "ESME"),
            ("1300000007", "GSME"),
        ]
        .into_iter()
        .enumerate()
        {
            for source in ["SMSO-A", "SMSO-B"] {
                rows += &format!(
                    "{source},AA,I{i},00-1B-C5-09-00-00-00-0{i},{kind},{mpxn},2020-01-01,,S1,\n"
                );
            }
        }
        rows += "SMSO-A,AA,I9,00-1B-C5-09-00-00-00-09,ESME,1299999999990,2020-01-01,,S1,\n";
        let image = image_of(&rows);
        let view = image.view().unwrap();
        let shared = |digits: &str| -> Vec<String> {
            view.shared_mpans_with_prefix(digits)
                .unwrap()
                .into_iter()
                .map(|(mpan, _)| mpan)
                .collect()
        };
        assert_eq!(shared("13"), ["1300000000007", "1399999999994"]);
        assert_eq!(shared("14"), ["1400000000001"]);
        assert_eq!(
            shared(""),
            ["1300000000007", "1399999999994", "1400000000001"]
        );
        assert_eq!(shared("1399999999994"), ["1399999999994"]);
        assert!(shared("12").is_empty(), "1299999999990 is not shared");
        assert!(shared("13999999999940").is_empty(), "14 digits");
        assert!(shared("1x").is_empty());
        let mpan = |t: &str| MpxnKey::mpan(crate::normalize::Mpan::parse(t.as_bytes()).unwrap());
        let alone = view.find_mpxn(mpan("1299999999990")).unwrap().unwrap();
        assert_eq!(alone.group, None);
        assert_eq!(alone.installations.len(), 1);
        let both = view.find_mpxn(mpan("1300000000007")).unwrap().unwrap();
        assert!(both.group.is_some() && both.installations.len() == 2);
        // The MPRN 1300000007 and an MPAN of the same value are different keys.
        let mprn = crate::normalize::Mprn::parse(b"1300000007").unwrap();
        assert!(view.find_mpxn(MpxnKey::mprn(mprn)).unwrap().is_some());
        let same_value = MpxnKey::mpan_core(mprn.value());
        assert!(view.find_mpxn(same_value).unwrap().is_none());
        assert!(view.find_mpxn(mpan("1400000000001")).unwrap().is_some());
        let guid = |t: &str| Guid::parse(t.as_bytes()).unwrap();
        assert_eq!(
            view.find_guid(guid("00-1B-C5-09-00-00-00-00")).unwrap(),
            Some(vec![0, 5]),
            "one GUID on two installations' devices (SMSO-A's I0 first, SMSO-B's I0 after A's five)"
        );
        assert_eq!(
            view.find_guid(guid("00-1B-C5-09-00-00-00-08")).unwrap(),
            None
        );
    }
}
