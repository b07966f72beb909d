//! Index: the sweep's evidence as fixed-width little-endian sections, in memory or on disk.
//!
//! Takes the CSV sweep's laid-out partitions and its matches and lays out everything a
//! judgement needs — installations in output order, their date-independent findings
//! and communication evidence, shared MPxNs with their members, devices, sorted key maps
//! from MPxN and GUID to postings, the rejects — as sections ([`build`]), made one after
//! another into memory or straight into a file. A [`View`] reads those sections in
//! place, from `Vec<u8>`s or from a mapped `.mxi` file ([`file`]: an index, or a CSV
//! sweep's image spilled to disk), so both paths run the very same judge and report code and agree byte
//! for byte by construction. The view checks every section's length against its counts
//! when it is made, and every cross-reference (an installation index in a member column,
//! a string reference into the heap) when it is read: a corrupt index gives
//! [`IndexError::Corrupt`] naming the section, never a panic. The byte layout is
//! specified in `index/README.md`.

use std::marker::PhantomData;

pub mod build;
pub mod file;
pub mod format;
pub mod read;

use format::NONE_U32;
pub use format::{Accounting, BuildMeta, InputFile, StrRef};

/// Errors reading an index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    #[error("index section `{section}` is damaged: {detail}; rebuild the index with `mpxn-recon index build`")]
    Corrupt {
        section: &'static str,
        detail: String,
    },
}

impl IndexError {
    pub fn corrupt(section: Section, detail: impl Into<String>) -> IndexError {
        IndexError::Corrupt {
            section: section.name(),
            detail: detail.into(),
        }
    }
}

macro_rules! sections {
    ($($variant:ident = $id:literal, $name:literal;)*) => {
        /// Every section of the index, with its on-disk id.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u32)]
        pub enum Section {
            $($variant = $id,)*
        }

        impl Section {
            pub const ALL: &'static [Section] = &[$(Section::$variant,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Section::$variant => $name,)*
                }
            }

            pub fn from_id(id: u32) -> Option<Section> {
                match id {
                    $($id => Some(Section::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

sections! {
    Meta = 1, "meta";
    Heap = 2, "heap";
    Sources = 3, "sources";
    GroupIds = 4, "group_ids";
    Parties = 5, "parties";
    PartyStatus = 6, "party_status";
    DeviceTypes = 7, "device_types";
    InstSource = 8, "inst_source";
    InstId = 9, "inst_id";
    InstGroup = 10, "inst_group";
    InstFindings = 11, "inst_findings";
    InstFlags = 12, "inst_flags";
    InstLastComms = 13, "inst_last_comms";
    InstMpxns = 14, "inst_mpxns";
    InstDevices = 15, "inst_devices";
    DevInst = 16, "dev_inst";
    DevGuid = 17, "dev_guid";
    DevMpxn = 18, "dev_mpxn";
    DevInstalled = 19, "dev_installed";
    DevLastComms = 20, "dev_last_comms";
    DevParty = 21, "dev_party";
    DevType = 22, "dev_type";
    DevFlags = 23, "dev_flags";
    GroupKey = 24, "group_key";
    GroupMembers = 25, "group_members";
    MemberInst = 26, "member_inst";
    MemberInstalled = 27, "member_installed";
    MemberParties = 28, "member_parties";
    MpxnKeys = 29, "mpxn_keys";
    MpxnPostings = 30, "mpxn_postings";
    GuidKeys = 31, "guid_keys";
    GuidDevices = 32, "guid_devices";
    Rejects = 33, "rejects_csv";
    FindingRows = 34, "finding_rows";
    FindingColumns = 35, "finding_columns";
    CommsRows = 36, "comms_rows";
    PartyNames = 37, "party_names";
}

pub const SECTION_COUNT: usize = 37;

impl Section {
    /// Position in `Section::ALL` (ids are 1..=37 in order).
    pub fn index(self) -> usize {
        self as usize - 1
    }

    /// Whether only lookups and portfolios read the section (device columns and the
    /// lookup maps). A sweep never does, so a sweep need not verify them.
    pub fn lookup_only(self) -> bool {
        matches!(
            self,
            Section::DevInst
                | Section::DevGuid
                | Section::DevMpxn
                | Section::DevInstalled
                | Section::DevLastComms
                | Section::DevParty
                | Section::DevType
                | Section::DevFlags
                | Section::MpxnKeys
                | Section::MpxnPostings
                | Section::GuidKeys
                | Section::GuidDevices
        )
    }
}

/// A fixed-width little-endian value in a column.
pub trait Fixed: Copy {
    const WIDTH: usize;
    fn read(bytes: &[u8]) -> Self;
    fn write(self, out: &mut Vec<u8>);
}

macro_rules! fixed {
    ($($t:ty),*) => {$(
        impl Fixed for $t {
            const WIDTH: usize = std::mem::size_of::<$t>();
            fn read(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("caller slices WIDTH bytes"))
            }
            fn write(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
fixed!(u8, u32, i32, u64);

/// A pair of `u64`s side by side (a key and its value, as in `mpxn_keys`).
impl Fixed for [u64; 2] {
    const WIDTH: usize = 16;
    fn read(bytes: &[u8]) -> Self {
        [u64::read(&bytes[..8]), u64::read(&bytes[8..16])]
    }
    fn write(self, out: &mut Vec<u8>) {
        self[0].write(out);
        self[1].write(out);
    }
}

/// A column of fixed-width values over a byte slice. Reading past its end is an error
/// naming the section, never a panic.
#[derive(Clone, Copy)]
pub struct Col<'a, T> {
    bytes: &'a [u8],
    section: Section,
    _t: PhantomData<T>,
}

impl<'a, T: Fixed> Col<'a, T> {
    fn new(bytes: &'a [u8], section: Section) -> Result<Col<'a, T>, IndexError> {
        if !bytes.len().is_multiple_of(T::WIDTH) {
            return Err(IndexError::corrupt(
                section,
                format!("length {} is not a multiple of {}", bytes.len(), T::WIDTH),
            ));
        }
        Ok(Col {
            bytes,
            section,
            _t: PhantomData,
        })
    }

    pub fn len(&self) -> usize {
        self.bytes.len() / T::WIDTH
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn get(&self, i: usize) -> Result<T, IndexError> {
        i.checked_mul(T::WIDTH)
            .and_then(|start| self.bytes.get(start..start + T::WIDTH))
            .map(T::read)
            .ok_or_else(|| {
                IndexError::corrupt(
                    self.section,
                    format!("entry {i} is past the end ({} entries)", self.len()),
                )
            })
    }

    /// The first entry for which `below` is false, in a column where it is true for
    /// a prefix (a binary search over the sorted key columns): O(log n) reads.
    pub fn partition_point(&self, mut below: impl FnMut(T) -> bool) -> Result<usize, IndexError> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if below(self.get(mid)?) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Checks that the column has exactly `n` entries.
    fn expect_len(self, n: usize) -> Result<Self, IndexError> {
        if self.len() != n {
            return Err(IndexError::corrupt(
                self.section,
                format!("expected {n} entries, found {}", self.len()),
            ));
        }
        Ok(self)
    }
}

/// Read access to one index image. Cheap to copy; borrows the bytes.
#[derive(Clone, Copy)]
pub struct View<'a> {
    meta: &'a [u8],
    heap: &'a [u8],
    sources: Col<'a, u64>,
    group_ids: Col<'a, u64>,
    parties: Col<'a, u64>,
    party_status: Col<'a, u8>,
    party_names: Col<'a, u64>,
    device_types: Col<'a, u64>,
    inst_source: Col<'a, u32>,
    inst_id: Col<'a, u64>,
    inst_group: Col<'a, u32>,
    inst_findings: Col<'a, u32>,
    inst_flags: Col<'a, u32>,
    inst_last_comms: Col<'a, i32>,
    inst_mpxns: Col<'a, u64>,
    inst_devices: Col<'a, u32>,
    dev_inst: Col<'a, u32>,
    dev_guid: Col<'a, u64>,
    dev_mpxn: Col<'a, u64>,
    dev_installed: Col<'a, i32>,
    dev_last_comms: Col<'a, i32>,
    dev_party: Col<'a, u32>,
    dev_type: Col<'a, u32>,
    dev_flags: Col<'a, u32>,
    group_key: Col<'a, u64>,
    group_members: Col<'a, u32>,
    member_inst: Col<'a, u32>,
    member_installed: Col<'a, i32>,
    member_parties: Col<'a, u64>,
    mpxn_keys: Col<'a, [u64; 2]>,
    mpxn_postings: Col<'a, u32>,
    guid_keys: Col<'a, u64>,
    guid_devices: Col<'a, u32>,
    rejects: &'a [u8],
    finding_rows: &'a [u8],
    finding_columns: Col<'a, u64>,
    comms_rows: &'a [u8],
}

impl<'a> View<'a> {
    /// Makes a view over one slice per section (in `Section::ALL` order), checking that
    /// every column's length agrees with the counts it implies. O(number of sections).
    pub fn new(s: &[&'a [u8]; SECTION_COUNT]) -> Result<View<'a>, IndexError> {
        Self::make(s, true)
    }

    /// [`View::new`] for a view without the lookup-only sections (left empty): the
    /// device offsets then index nothing, and any device read is an error.
    pub fn without_lookups(s: &[&'a [u8]; SECTION_COUNT]) -> Result<View<'a>, IndexError> {
        Self::make(s, false)
    }

    fn make(s: &[&'a [u8]; SECTION_COUNT], devices: bool) -> Result<View<'a>, IndexError> {
        let get = |k: Section| s[k.index()];
        let col32 = |k: Section| Col::<u32>::new(get(k), k);
        let col64 = |k: Section| Col::<u64>::new(get(k), k);
        let coli = |k: Section| Col::<i32>::new(get(k), k);
        let inst_source = col32(Section::InstSource)?;
        let n = inst_source.len();
        let dev_inst = col32(Section::DevInst)?;
        let d = dev_inst.len();
        let group_key = col64(Section::GroupKey)?;
        let m = group_key.len();
        let member_inst = col32(Section::MemberInst)?;
        let k = member_inst.len();
        let parties = col64(Section::Parties)?;
        let guid_keys = col64(Section::GuidKeys)?;
        View {
            meta: get(Section::Meta),
            heap: get(Section::Heap),
            sources: col64(Section::Sources)?,
            group_ids: col64(Section::GroupIds)?,
            party_status: Col::new(get(Section::PartyStatus), Section::PartyStatus)?
                .expect_len(parties.len())?,
            party_names: col64(Section::PartyNames)?.expect_len(parties.len())?,
            parties,
            device_types: col64(Section::DeviceTypes)?,
            inst_source,
            inst_id: col64(Section::InstId)?.expect_len(n)?,
            inst_group: col32(Section::InstGroup)?.expect_len(n)?,
            inst_findings: col32(Section::InstFindings)?.expect_len(n)?,
            inst_flags: col32(Section::InstFlags)?.expect_len(n)?,
            inst_last_comms: coli(Section::InstLastComms)?.expect_len(n)?,
            inst_mpxns: col64(Section::InstMpxns)?.expect_len(n)?,
            inst_devices: col32(Section::InstDevices)?.expect_len(n + 1)?,
            dev_inst,
            dev_guid: col64(Section::DevGuid)?.expect_len(d)?,
            dev_mpxn: col64(Section::DevMpxn)?.expect_len(d)?,
            dev_installed: coli(Section::DevInstalled)?.expect_len(d)?,
            dev_last_comms: coli(Section::DevLastComms)?.expect_len(d)?,
            dev_party: col32(Section::DevParty)?.expect_len(d)?,
            dev_type: col32(Section::DevType)?.expect_len(d)?,
            dev_flags: col32(Section::DevFlags)?.expect_len(d)?,
            group_key,
            group_members: col32(Section::GroupMembers)?.expect_len(m + 1)?,
            member_inst,
            member_installed: coli(Section::MemberInstalled)?.expect_len(k)?,
            member_parties: col64(Section::MemberParties)?.expect_len(k)?,
            mpxn_keys: Col::new(get(Section::MpxnKeys), Section::MpxnKeys)?,
            mpxn_postings: col32(Section::MpxnPostings)?,
            guid_devices: col32(Section::GuidDevices)?.expect_len(guid_keys.len())?,
            guid_keys,
            rejects: get(Section::Rejects),
            finding_rows: {
                let rows = get(Section::FindingRows);
                if !rows.len().is_multiple_of(format::FindingRow::WIDTH) {
                    return Err(IndexError::corrupt(
                        Section::FindingRows,
                        format!(
                            "length {} is not a multiple of {}",
                            rows.len(),
                            format::FindingRow::WIDTH
                        ),
                    ));
                }
                rows
            },
            finding_columns: col64(Section::FindingColumns)?,
            comms_rows: {
                let rows = get(Section::CommsRows);
                if !rows.len().is_multiple_of(format::CommsRow::WIDTH) {
                    return Err(IndexError::corrupt(
                        Section::CommsRows,
                        format!(
                            "length {} is not a multiple of {}",
                            rows.len(),
                            format::CommsRow::WIDTH
                        ),
                    ));
                }
                rows
            },
        }
        .checked(devices)
    }

    /// Checks that an offsets column ends at the count of what it indexes.
    fn check_end(offsets: Col<'a, u32>, total: usize) -> Result<(), IndexError> {
        let last = offsets.get(offsets.len().saturating_sub(1))? as usize;
        if last != total {
            return Err(IndexError::corrupt(
                offsets.section,
                format!("ends at {last}, expected {total}"),
            ));
        }
        Ok(())
    }

    fn checked(self, devices: bool) -> Result<View<'a>, IndexError> {
        if devices {
            Self::check_end(self.inst_devices, self.dev_inst.len())?;
        }
        Self::check_end(self.group_members, self.member_inst.len())?;
        Ok(self)
    }

    pub fn installation_count(&self) -> usize {
        self.inst_source.len()
    }

    pub fn group_count(&self) -> usize {
        self.group_key.len()
    }

    /// The bytes a string reference names.
    fn text(&self, r: u64, section: Section) -> Result<&'a [u8], IndexError> {
        self.heap
            .get(StrRef(r).range())
            .ok_or_else(|| IndexError::corrupt(section, "a string reference points past the heap"))
    }

    /// Text of entry `i` of a column of string references.
    fn text_at(&self, col: Col<'a, u64>, i: usize) -> Result<&'a [u8], IndexError> {
        self.text(col.get(i)?, col.section)
    }

    /// An installation index read from a column, checked against the installation count.
    fn installation(&self, col: Col<'a, u32>, i: usize) -> Result<usize, IndexError> {
        let v = col.get(i)? as usize;
        if v >= self.installation_count() {
            return Err(IndexError::corrupt(
                col.section,
                format!(
                    "entry {i} names installation {v} of {}",
                    self.installation_count()
                ),
            ));
        }
        Ok(v)
    }

    /// A `[start, end)` range from an offsets column (`offsets[i]..offsets[i+1]`),
    /// checked to be increasing and within `limit`.
    fn range(
        &self,
        offsets: Col<'a, u32>,
        i: usize,
        limit: usize,
    ) -> Result<std::ops::Range<usize>, IndexError> {
        let (a, b) = (offsets.get(i)? as usize, offsets.get(i + 1)? as usize);
        if a > b || b > limit {
            return Err(IndexError::corrupt(
                offsets.section,
                format!("range {a}..{b} at entry {i} is not within 0..{limit}"),
            ));
        }
        Ok(a..b)
    }

    pub fn source_text(&self, inst: usize) -> Result<&'a [u8], IndexError> {
        let s = self.inst_source.get(inst)? as usize;
        self.text_at(self.sources, s)
    }

    pub fn installation_text(&self, inst: usize) -> Result<&'a [u8], IndexError> {
        self.text_at(self.inst_id, inst)
    }

    pub fn group_text(&self, inst: usize) -> Result<&'a [u8], IndexError> {
        match self.inst_group.get(inst)? {
            NONE_U32 => Ok(b""),
            g => self.text_at(self.group_ids, g as usize),
        }
    }
}

/// An index image held in memory: one byte vector per section.
#[derive(Clone, Debug, Default)]
pub struct Image {
    pub sections: Vec<Vec<u8>>,
}

impl Image {
    pub fn view(&self) -> Result<View<'_>, IndexError> {
        let mut slices: [&[u8]; SECTION_COUNT] = [&[]; SECTION_COUNT];
        for (i, s) in self.sections.iter().enumerate().take(SECTION_COUNT) {
            slices[i] = s;
        }
        View::new(&slices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_read_little_endian_and_refuse_past_the_end() {
        let bytes = [1u8, 0, 0, 0, 2, 0, 0, 0];
        let col = Col::<u32>::new(&bytes, Section::InstSource).unwrap();
        assert_eq!(
            (col.len(), col.get(0).unwrap(), col.get(1).unwrap()),
            (2, 1, 2)
        );
        let err = col.get(2).unwrap_err().to_string();
        assert!(
            err.contains("`inst_source`") && err.contains("entry 2 is past the end"),
            "{err}"
        );
        assert!(
            Col::<u32>::new(&bytes[..7], Section::InstSource).is_err(),
            "ragged column"
        );
    }

    #[test]
    fn a_view_checks_counts_across_columns() {
        // No installations still needs the one leading offset of inst_devices.
        let mut image = Image {
            sections: vec![Vec::new(); SECTION_COUNT],
        };
        let err = image
            .view()
            .err()
            .expect("inst_devices is short")
            .to_string();
        assert!(
            err.contains("`inst_devices`") && err.contains("expected 1 entries, found 0"),
            "{err}"
        );
        image.sections[Section::InstDevices.index()] = 0u32.to_le_bytes().to_vec();
        image.sections[Section::GroupMembers.index()] = 0u32.to_le_bytes().to_vec();
        let view = image.view().expect("an empty index is valid");
        assert_eq!((view.installation_count(), view.group_count()), (0, 0));
    }

    #[test]
    fn string_references_stay_inside_the_heap() {
        let r = StrRef::new(5, 3);
        assert_eq!(r.range(), 5..8);
        let mut image = Image {
            sections: vec![Vec::new(); SECTION_COUNT],
        };
        image.sections[Section::InstDevices.index()] = 0u32.to_le_bytes().to_vec();
        image.sections[Section::GroupMembers.index()] = 0u32.to_le_bytes().to_vec();
        image.sections[Section::Heap.index()] = b"0123456".to_vec();
        let view = image.view().unwrap();
        assert_eq!(
            view.text(StrRef::new(2, 3).0, Section::InstId).unwrap(),
            b"234"
        );
        assert!(view.text(StrRef::new(5, 3).0, Section::InstId).is_err());
    }
}
