//! Building an index image from a CSV sweep's evidence, partition by partition.
//!
//! Lays the sweep's date-independent evidence out as the sections of [`super::Section`]:
//! installations in output order (source, then installation id), each with its own
//! findings (everything but FUTURE_COMMS and the duplicate findings, which depend on the
//! as-of date), its communication evidence, its MPxNs and its devices; every shared
//! MPxN with its members' install dates and parties; sorted key maps from every valid
//! MPxN and GUID to postings; rejects.csv as written; and the build metadata. Takes one
//! partition's evidence at a time ([`installation_part`]: the partition's rows can be
//! freed as soon as it is laid out), then the parts and the matches of the whole sweep
//! ([`assemble`]). Deterministic: the same inputs in any row or file order, cut into
//! any partitions, give the same bytes.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::file::SectionSink;
use super::format::{
    Accounting, BuildMeta, CommsRow, FindingRow, InputFile, StrRef, DAY_NONE, DAY_UNKNOWN,
    DEV_DORMANT, INST_COMMS_UNREADABLE, INST_SMETS2, NONE_U32,
};
use super::{Fixed, Section, SECTION_COUNT};
use crate::delimited::push_record;
use crate::ingest::{
    self, Column, DateField, Ingested, InventoryFile, LineNumbers, MpxnField, Row, RowParser,
};
use crate::matching::{Installations, Matches, PartitionKeys};
use crate::normalize::{Day, MpxnText};
use crate::registry::{Registry, SupplierStatus};
use crate::resolve::{self, Finding, InstallationFacts};
use crate::timing;

/// Appends texts to the heap and hands back references.
#[derive(Default)]
struct Heap {
    /// Where these bytes start in the image's heap.
    base: usize,
    bytes: Vec<u8>,
}

impl Heap {
    fn push(&mut self, text: &[u8]) -> u64 {
        // Longer texts than 16 MiB cannot come from an accepted row of a sane file;
        // they are cut rather than allowed to corrupt the reference.
        let text = &text[..text.len().min(StrRef::MAX_LEN)];
        let r = StrRef::new(self.base + self.bytes.len(), text.len());
        self.bytes.extend_from_slice(text);
        r.0
    }
}

/// Column writers, one per section.
struct Sections(Vec<Vec<u8>>);

impl Sections {
    fn put<T: Fixed>(&mut self, s: Section, v: T) {
        v.write(&mut self.0[s.index()]);
    }
}

/// What an image is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The sections a sweep reads (no devices, no lookup maps).
    Sweep,
    /// Every section: what `index build` writes.
    Index,
}

/// What the image records of the whole sweep besides its partitions.
pub struct Inputs<'a> {
    pub suppliers: &'a Path,
    pub files: &'a [InventoryFile],
    pub registry: &'a Registry,
    /// Rejects, checksums and the interned texts (the rows are gone by now).
    pub ingested: &'a Ingested,
    pub accounting: Accounting,
}

/// One partition's evidence, installations in output order.
pub struct PartitionEvidence<'a> {
    pub rows: &'a [Row],
    pub installations: &'a Installations,
    pub facts: &'a [InstallationFacts],
    pub keys: &'a PartitionKeys,
    pub finding_inputs: &'a FindingInputs<'a>,
}

/// What the rows of findings.csv are read from: the mapped inputs (raw values, header
/// spellings), the line numbers, and which FUTURE_COMMS candidates to keep.
pub struct FindingInputs<'a> {
    pub files: &'a [InventoryFile],
    pub registry: &'a Registry,
    pub lines: &'a LineNumbers,
    /// Each input file's rank in path order (the order of `meta`'s list and of
    /// findings.csv's `file` column).
    pub file_rank: Vec<u16>,
    /// Keep only the FUTURE_COMMS candidates dated after this day: a CSV sweep knows its
    /// as-of date; an index (`None`) keeps every parseable `last_comms_at`.
    pub comms_after: Option<Day>,
}

impl<'a> FindingInputs<'a> {
    pub fn new(
        files: &'a [InventoryFile],
        registry: &'a Registry,
        lines: &'a LineNumbers,
        comms_after: Option<Day>,
    ) -> FindingInputs<'a> {
        let ranks = ingest::ranks_by(files.len(), |f| files[f as usize].path.to_string_lossy());
        FindingInputs {
            files,
            registry,
            lines,
            file_rank: ranks.into_iter().map(|r| r as u16).collect(),
            comms_after,
        }
    }
}

/// A finding row of one installation before it is laid out.
struct PendingRow {
    finding: Finding,
    file: usize,
    line_ref: ingest::LineRef,
    column: Column,
    day: i32,
}

/// The rows of findings.csv that one installation's own rows give (all but
/// DUPLICATE_GUID, found across partitions), laid out as `finding_rows` records in
/// findings.csv's order, raw values in `heap`. Only rows with a finding are split
/// again; FUTURE_COMMS candidates are every row with a parseable `last_comms_at` after
/// `comms_after`.
fn put_finding_rows<'f>(
    evidence: &PartitionEvidence<'f>,
    installation: u32,
    local: u32,
    parsers: &mut [Option<RowParser<'f>>],
    pending: &mut Vec<PendingRow>,
    heap: &mut Heap,
    out: &mut Sections,
) {
    let inputs = evidence.finding_inputs;
    let smets1 = !evidence.facts[installation as usize].smets2;
    let rows = evidence.installations.rows_of(installation);
    pending.clear();
    // REPEATED_MPXN: every meter carrying a key another meter of it carries (looked for
    // only in the rare installation that `matching` found repeating one).
    let mut repeated: Vec<u32> = Vec::new();
    if evidence.keys.repeated_mpxn[installation as usize] {
        let mut keys: Vec<(u64, u32)> = rows
            .iter()
            .filter_map(|&r| match evidence.rows[r as usize].mpxn() {
                MpxnField::Valid(key) => Some((key.to_raw(), r)),
                _ => None,
            })
            .collect();
        keys.sort_unstable();
        for run in keys.chunk_by(|a, b| a.0 == b.0) {
            if run.len() > 1 {
                repeated.extend(run.iter().map(|&(_, r)| r));
            }
        }
    }
    for &r in rows {
        let row = &evidence.rows[r as usize];
        let mut add = |finding: Finding, column: Column, day: i32| {
            pending.push(PendingRow {
                finding,
                file: row.line_ref.file(),
                line_ref: row.line_ref,
                column,
                day,
            })
        };
        let own = resolve::row_findings(row, smets1, inputs.registry);
        for (finding, column) in [
            (Finding::InvalidGuid, Column::DeviceId),
            (Finding::MissingMpxn, Column::Mpxn),
            (Finding::InvalidMpan, Column::Mpxn),
            (Finding::InvalidMprn, Column::Mpxn),
            (Finding::UnknownSupplier, Column::SupplierId),
        ] {
            if own.contains(finding) {
                add(finding, column, DAY_NONE);
            }
        }
        if row.installed_on() == DateField::Invalid {
            add(Finding::InvalidDate, Column::InstalledOn, DAY_NONE);
        }
        match row.last_comms() {
            DateField::Invalid => add(Finding::InvalidDate, Column::LastCommsAt, DAY_NONE),
            DateField::Day(day) if inputs.comms_after.is_none_or(|a| day > a) => {
                add(Finding::FutureComms, Column::LastCommsAt, day.0)
            }
            _ => {}
        }
        if repeated.contains(&r) {
            add(Finding::RepeatedMpxn, Column::Mpxn, DAY_NONE);
        }
    }
    if pending.is_empty() {
        return;
    }
    let spelled = |p: &PendingRow| inputs.files[p.file].header.spelled[p.column as usize].as_str();
    let lines: Vec<u64> = pending
        .iter()
        .map(|p| inputs.lines.line_no(inputs.files, p.line_ref))
        .collect();
    let mut order: Vec<usize> = (0..pending.len()).collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&pending[a], &pending[b]);
        (
            pa.finding.code(),
            inputs.file_rank[pa.file],
            lines[a],
            spelled(pa),
        )
            .cmp(&(
                pb.finding.code(),
                inputs.file_rank[pb.file],
                lines[b],
                spelled(pb),
            ))
    });
    let mut text = String::new();
    for i in order {
        let p = &pending[i];
        let parser = parsers[p.file]
            .get_or_insert_with(|| RowParser::new(&inputs.files[p.file], inputs.registry));
        let line = ingest::raw_line(inputs.files, p.line_ref);
        let fields = parser.split(line).expect("an accepted line splits again");
        let raw = fields.get(p.column);
        if p.finding == Finding::FutureComms && {
            text.clear();
            use std::fmt::Write;
            write!(text, "{}", Day(p.day)).expect("writing to a string");
            text.as_bytes() == raw
        } {
            // Written as the day's own `YYYY-MM-DD`: a 16-byte candidate, no text.
            CommsRow {
                inst: local,
                day: p.day,
                file: inputs.file_rank[p.file],
                line: lines[i],
            }
            .write(&mut out.0[Section::CommsRows.index()]);
            continue;
        }
        FindingRow {
            inst: local,
            day: p.day,
            line: lines[i],
            raw: StrRef(heap.push(raw)),
            file: inputs.file_rank[p.file],
            finding: p.finding as u8,
            column: p.column as u8,
        }
        .write(&mut out.0[Section::FindingRows.index()]);
    }
}

impl PartitionEvidence<'_> {
    /// Writes the distinct canonical MPxNs the installation's meters carry, sorted as
    /// text and `;`-joined, into `out`. `keys` is scratch, so nothing is allocated per
    /// installation once it has grown.
    fn mpxns_into(&self, installation: u32, keys: &mut Vec<MpxnText>, out: &mut Vec<u8>) {
        keys.clear();
        keys.extend(
            self.installations
                .rows_of(installation)
                .iter()
                .filter_map(|&r| match self.rows[r as usize].mpxn() {
                    MpxnField::Valid(key) => Some(key.text()),
                    _ => None,
                }),
        );
        keys.sort_unstable();
        keys.dedup();
        out.clear();
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                out.push(b';');
            }
            out.extend_from_slice(key.as_bytes());
        }
    }
}

/// Puts the laid-out parts (`order` lists them in output order), the dictionaries and
/// the matches of the whole sweep together as the sections of an image for `purpose`,
/// made one after another into `sink` (memory, or straight into a file). Cost: one
/// sort of the shared MPxNs and, for an index, one of all MPxN keys by text and one of
/// all GUIDs; each part is read once per column (from memory or its spill file) and
/// rebased on the way, so the parts are never copied together in memory.
pub fn assemble(
    inputs: &Inputs<'_>,
    dict: &Dictionaries,
    parts: &PartStore,
    order: &[u32],
    matches: &Matches,
    purpose: Purpose,
    sink: &mut impl SectionSink,
) -> io::Result<()> {
    let lookup = purpose == Purpose::Index;
    let mut dictionaries = Sections(vec![Vec::new(); SECTION_COUNT]);
    let mut dict_heap = Heap::default();
    put_dictionaries(inputs, dict, &mut dict_heap, &mut dictionaries);
    // Where each part lands: heap offset, first device, first installation.
    let mut bases = Vec::with_capacity(order.len());
    let (mut heap, mut devices, mut installations) = (dict_heap.bytes.len() as u64, 0u32, 0u32);
    for &p in order {
        bases.push((heap, devices, installations));
        heap += parts.heap_len(p);
        devices += parts.devices(p);
        installations += parts.installations(p);
    }
    let t = timing::stage("image: shared MPxNs");
    let mut shared = Sections(vec![Vec::new(); SECTION_COUNT]);
    let mut shared_heap = Heap {
        base: heap as usize,
        bytes: Vec::new(),
    };
    let group_of_key = put_shared_mpxns(inputs.registry, matches, &mut shared_heap, &mut shared);
    drop(t);
    let mut duplicate_heap = Heap {
        base: shared_heap.base + shared_heap.bytes.len(),
        bytes: Vec::new(),
    };
    let duplicate_rows = duplicate_guid_rows(inputs, matches, &mut duplicate_heap);

    let _t = timing::stage("image: sections");
    for &section in Section::ALL {
        let lookup_map = matches!(
            section,
            Section::MpxnKeys | Section::MpxnPostings | Section::GuidKeys | Section::GuidDevices
        );
        if lookup_map && lookup {
            // Made with the member sections, below.
            continue;
        }
        sink.begin(section)?;
        match section {
            Section::Meta => {
                let meta = postcard::to_allocvec(&meta(inputs)).expect("serialising to memory");
                sink.write(&meta)?;
            }
            Section::Heap => {
                sink.write(&dict_heap.bytes)?;
                for &p in order {
                    sink.write(&parts.heap(p)?)?;
                }
                sink.write(&shared_heap.bytes)?;
                sink.write(&duplicate_heap.bytes)?;
            }
            Section::FindingRows => {
                // Each part's rows, with the DUPLICATE_GUID rows (found across
                // partitions) merged in: that code sorts first, so an installation's
                // come before its other rows.
                let mut duplicates = duplicate_rows.iter().peekable();
                let mut merged = Vec::new();
                for (&p, &(heap_base, device_base, inst_base)) in order.iter().zip(&bases) {
                    let mut bytes = parts.section(p, section)?.into_owned();
                    rebase(
                        section,
                        &mut bytes,
                        (heap_base, device_base, inst_base),
                        &[],
                    );
                    merged.clear();
                    for record in bytes.chunks_exact(FindingRow::WIDTH) {
                        let inst = FindingRow::read(record).inst;
                        while let Some(d) = duplicates.next_if(|d| d.inst <= inst) {
                            d.write(&mut merged);
                        }
                        merged.extend_from_slice(record);
                    }
                    sink.write(&merged)?;
                }
                merged.clear();
                for d in duplicates {
                    d.write(&mut merged);
                }
                sink.write(&merged)?;
            }
            Section::Sources
            | Section::GroupIds
            | Section::Parties
            | Section::PartyStatus
            | Section::PartyNames
            | Section::DeviceTypes
            | Section::FindingColumns => sink.write(&dictionaries.0[section.index()])?,
            Section::GroupKey
            | Section::GroupMembers
            | Section::MemberInst
            | Section::MemberInstalled
            | Section::MemberParties => sink.write(&shared.0[section.index()])?,
            Section::MpxnKeys
            | Section::MpxnPostings
            | Section::GuidKeys
            | Section::GuidDevices => {}
            Section::Rejects => sink.write(&rejects_csv(inputs))?,
            column => {
                if column == Section::InstDevices {
                    sink.write(&0u32.to_le_bytes())?;
                }
                for (&p, &(heap_base, device_base, inst_base)) in order.iter().zip(&bases) {
                    let mut bytes = parts.section(p, column)?.into_owned();
                    let flagged = &matches.duplicate_guid[inst_base as usize..]
                        [..parts.installations(p) as usize];
                    rebase(
                        column,
                        &mut bytes,
                        (heap_base, device_base, inst_base),
                        flagged,
                    );
                    sink.write(&bytes)?;
                }
            }
        }
        // The lookup maps come after the columns they are built from.
        if lookup && section == Section::MemberParties {
            let _t = timing::stage("image: lookup maps");
            let guids = |parts: &PartStore| -> io::Result<Vec<(u64, u32)>> {
                // (GUID, device) of every device with a valid GUID, read back from the
                // parts' `dev_guid` columns.
                let mut guids = Vec::new();
                let mut device = 0u32;
                for &p in order {
                    let column = parts.section(p, Section::DevGuid)?;
                    for b in column.chunks_exact(8) {
                        let g = u64::read(b);
                        if g != 0 {
                            guids.push((g, device));
                        }
                        device += 1;
                    }
                }
                Ok(guids)
            };
            // One after the other, so the peak is one map's keys and postings. (Format
            // v1 built two fst maps here, 47–50 s of a 98–113 s build at 60M rows, most
            // of it in the fst builder's node registry; sorted arrays cost their sort.)
            mpxn_map(matches, &group_of_key, sink)?;
            guid_map(guids(parts)?, sink)?;
        }
    }
    Ok(())
}

/// findings.csv's DUPLICATE_GUID rows: every row whose GUID is on another accepted row,
/// its `device_id` as written, in (installation, file, line) order. Reads each such line
/// again from the mapped input; there are few.
fn duplicate_guid_rows(inputs: &Inputs<'_>, matches: &Matches, heap: &mut Heap) -> Vec<FindingRow> {
    let files = inputs.files;
    let ranks = FindingInputs::new(files, inputs.registry, &inputs.ingested.lines, None).file_rank;
    let mut rows: Vec<(u32, u16, u64, ingest::LineRef)> = matches
        .duplicate_guid_rows
        .iter()
        .map(|&(inst, line_ref)| {
            let line = inputs.ingested.lines.line_no(files, line_ref);
            (inst, ranks[line_ref.file()], line, line_ref)
        })
        .collect();
    rows.sort_unstable();
    let mut parsers: Vec<Option<RowParser<'_>>> = files.iter().map(|_| None).collect();
    rows.into_iter()
        .map(|(inst, file, line, line_ref)| {
            let parser = parsers[line_ref.file()]
                .get_or_insert_with(|| RowParser::new(&files[line_ref.file()], inputs.registry));
            let fields = parser
                .split(ingest::raw_line(files, line_ref))
                .expect("an accepted line splits again");
            FindingRow {
                inst,
                day: DAY_NONE,
                line,
                raw: StrRef(heap.push(fields.get(Column::DeviceId))),
                file,
                finding: Finding::DuplicateGuid as u8,
                column: Column::DeviceId as u8,
            }
        })
        .collect()
}

/// Rebases one column of a part, local to it, to where the part lands: heap
/// references, device offsets and installation numbers; and adds DUPLICATE_GUID (found
/// across partitions) to the findings of the installations `flagged` says.
fn rebase(
    column: Section,
    bytes: &mut [u8],
    (heap_base, device_base, inst_base): (u64, u32, u32),
    flagged: &[bool],
) {
    match column {
        Section::InstId | Section::InstMpxns => {
            for r in bytes.chunks_exact_mut(8) {
                let rebased = u64::read(r) + (heap_base << 24);
                r.copy_from_slice(&rebased.to_le_bytes());
            }
        }
        Section::FindingRows => {
            for r in bytes.chunks_exact_mut(FindingRow::WIDTH) {
                let mut row = FindingRow::read(r);
                row.inst += inst_base;
                row.raw = StrRef(row.raw.0 + (heap_base << 24));
                let mut rebased = Vec::with_capacity(FindingRow::WIDTH);
                row.write(&mut rebased);
                r.copy_from_slice(&rebased);
            }
        }
        Section::CommsRows => {
            for r in bytes.chunks_exact_mut(CommsRow::WIDTH) {
                let mut row = CommsRow::read(r);
                row.inst += inst_base;
                let mut rebased = Vec::with_capacity(CommsRow::WIDTH);
                row.write(&mut rebased);
                r.copy_from_slice(&rebased);
            }
        }
        Section::InstDevices | Section::DevInst => {
            let base = if column == Section::DevInst {
                inst_base
            } else {
                device_base
            };
            for d in bytes.chunks_exact_mut(4) {
                let rebased = u32::read(d) + base;
                d.copy_from_slice(&rebased.to_le_bytes());
            }
        }
        Section::InstFindings => {
            for (f, &dup) in bytes.chunks_exact_mut(4).zip(flagged) {
                if dup {
                    let stored = resolve::FindingSet::from_bits(u32::read(f));
                    let bits = stored.union(resolve::matching_findings(true, false)).bits();
                    f.copy_from_slice(&bits.to_le_bytes());
                }
            }
        }
        _ => {}
    }
}

/// The laid-out parts, in memory while they fit an allowance, else in a spill file
/// (each part's columns and heap one after another), read back column by column.
pub struct PartStore {
    parts: Vec<Stored>,
    file: Option<std::fs::File>,
    file_len: u64,
    held: u64,
    allowance: u64,
    dir: PathBuf,
}

enum Stored {
    Memory(InstallationPart),
    /// Spilled: where each column and the heap are in the file (`SECTION_COUNT`
    /// ranges, then the heap's).
    Disk {
        ranges: Vec<(u64, u64)>,
        devices: u32,
        installations: u32,
    },
}

impl PartStore {
    pub fn new(allowance: u64, dir: &Path) -> PartStore {
        PartStore {
            parts: Vec::new(),
            file: None,
            file_len: 0,
            held: 0,
            allowance,
            dir: dir.to_path_buf(),
        }
    }

    pub fn len(&self) -> usize {
        self.parts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Bytes of parts written to the spill file.
    pub fn spilled_bytes(&self) -> u64 {
        self.file_len
    }

    /// Keeps a part (numbered in push order), in memory or spilled.
    pub fn push(&mut self, part: InstallationPart) -> io::Result<()> {
        let size = part.size();
        if self.held + size <= self.allowance {
            self.held += size;
            self.parts.push(Stored::Memory(part));
            return Ok(());
        }
        use std::os::unix::fs::FileExt;
        if self.file.is_none() {
            self.file = Some(crate::spill::unnamed_file(&self.dir)?);
        }
        let file = self.file.as_ref().expect("created above");
        let mut ranges = Vec::with_capacity(SECTION_COUNT + 1);
        for bytes in part.sections.0.iter().chain([&part.heap]) {
            file.write_all_at(bytes, self.file_len)?;
            ranges.push((self.file_len, bytes.len() as u64));
            self.file_len += bytes.len() as u64;
        }
        self.parts.push(Stored::Disk {
            ranges,
            devices: part.devices,
            installations: part.installations,
        });
        Ok(())
    }

    fn read(&self, (at, len): (u64, u64)) -> io::Result<Cow<'_, [u8]>> {
        use std::os::unix::fs::FileExt;
        let mut bytes = vec![0u8; len as usize];
        let file = self.file.as_ref().expect("a spilled part has a file");
        file.read_exact_at(&mut bytes, at)?;
        Ok(Cow::Owned(bytes))
    }

    fn section(&self, part: u32, section: Section) -> io::Result<Cow<'_, [u8]>> {
        match &self.parts[part as usize] {
            Stored::Memory(p) => Ok(Cow::Borrowed(&p.sections.0[section.index()])),
            Stored::Disk { ranges, .. } => self.read(ranges[section.index()]),
        }
    }

    fn heap(&self, part: u32) -> io::Result<Cow<'_, [u8]>> {
        match &self.parts[part as usize] {
            Stored::Memory(p) => Ok(Cow::Borrowed(&p.heap)),
            Stored::Disk { ranges, .. } => self.read(ranges[SECTION_COUNT]),
        }
    }

    fn heap_len(&self, part: u32) -> u64 {
        match &self.parts[part as usize] {
            Stored::Memory(p) => p.heap.len() as u64,
            Stored::Disk { ranges, .. } => ranges[SECTION_COUNT].1,
        }
    }

    pub fn installations(&self, part: u32) -> u32 {
        match &self.parts[part as usize] {
            Stored::Memory(p) => p.installations,
            Stored::Disk { installations, .. } => *installations,
        }
    }

    fn devices(&self, part: u32) -> u32 {
        match &self.parts[part as usize] {
            Stored::Memory(p) => p.devices,
            Stored::Disk { devices, .. } => *devices,
        }
    }

    /// Bytes of the image the parts make (columns and heap), a lower bound of its size.
    pub fn image_bytes(&self) -> u64 {
        (0..self.parts.len() as u32)
            .map(|p| match &self.parts[p as usize] {
                Stored::Memory(part) => part.size(),
                Stored::Disk { ranges, .. } => ranges.iter().map(|r| r.1).sum(),
            })
            .sum()
    }
}

/// The dictionaries, in text order: ids interned in first-seen order are remapped, so
/// the image does not depend on the order of input rows.
fn put_dictionaries(inputs: &Inputs<'_>, dict: &Dictionaries, heap: &mut Heap, out: &mut Sections) {
    let ingested = inputs.ingested;
    for &id in &dict.sources.ids {
        let r = heap.push(ingested.sources.get(id));
        out.put(Section::Sources, r);
    }
    for &id in &dict.groups.ids {
        let r = heap.push(ingested.groups.get(id));
        out.put(Section::GroupIds, r);
    }
    for &id in &dict.device_types.ids {
        let r = heap.push(ingested.device_types.get(id));
        out.put(Section::DeviceTypes, r);
    }
    for &id in &dict.parties.ids {
        let party = &inputs.registry.parties()[id as usize];
        let r = heap.push(party.id.as_bytes());
        out.put(Section::Parties, r);
        let status: u8 = match party.status {
            SupplierStatus::Live => 0,
            SupplierStatus::CeasedTrading => 1,
            SupplierStatus::NotLiveUser => 2,
        };
        out.put(Section::PartyStatus, status);
        let r = heap.push(party.name.as_bytes());
        out.put(Section::PartyNames, r);
    }
    // Each inventory's header spelling of the ten columns, files in path order.
    let mut by_path: Vec<&InventoryFile> = inputs.files.iter().collect();
    by_path.sort_by_key(|f| f.path.to_string_lossy());
    for f in by_path {
        for name in &f.header.spelled {
            let r = heap.push(name.as_bytes());
            out.put(Section::FindingColumns, r);
        }
    }
}

/// Shared MPxNs in MPxN text order, members in installation (= output) order, each
/// with its install date for the MPxN and its parties. Returns each shared MPxN's
/// group number by raw key, for the lookup maps.
fn put_shared_mpxns(
    registry: &Registry,
    matches: &Matches,
    heap: &mut Heap,
    out: &mut Sections,
) -> hashbrown::HashMap<u64, u32> {
    let mut groups: Vec<(String, usize)> = matches
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.mpxn.to_string(), i))
        .collect();
    groups.par_sort_unstable();
    let mut group_of_key = hashbrown::HashMap::with_capacity(groups.len());
    let mut members = 0u32;
    let mut dates: Vec<DateField> = Vec::new();
    out.put(Section::GroupMembers, 0u32);
    for (new_group, (_, g)) in groups.iter().enumerate() {
        let group = &matches.groups[*g];
        group_of_key.insert(group.mpxn.to_raw(), new_group as u32);
        out.put(Section::GroupKey, group.mpxn.to_raw());
        let mut list: Vec<_> = matches.members_of(group).iter().collect();
        list.sort_by_key(|m| m.installation);
        for member in list {
            let meters = matches.meters_of(member);
            dates.clear();
            dates.extend(meters.iter().map(|m| m.installed_on));
            let installed = resolve::member_install_date(&dates).map_or(DAY_UNKNOWN, |d| d.0);
            let mut parties: Vec<&str> = meters
                .iter()
                .filter_map(|m| registry.party(m.party))
                .map(|p| p.id.as_str())
                .collect();
            parties.sort_unstable();
            parties.dedup();
            out.put(Section::MemberInst, member.installation);
            out.put(Section::MemberInstalled, installed);
            let p = heap.push(parties.join(";").as_bytes());
            out.put(Section::MemberParties, p);
            members += 1;
        }
        out.put(Section::GroupMembers, members);
    }
    group_of_key
}

/// Every valid MPxN → [group or NONE, count, installations...]: the `mpxn_keys`
/// section, (key, posting offset) pairs sorted by key value (`MpxnKey::to_raw`: MPRNs,
/// then MPANs), then `mpxn_postings`. Each key points at its run of `matches.meters`.
/// Cost: one sort of (key, run) pairs; the keys are streamed into the sink.
fn mpxn_map(
    matches: &Matches,
    group_of_key: &hashbrown::HashMap<u64, u32>,
    sink: &mut impl SectionSink,
) -> io::Result<()> {
    let mut runs: Vec<(u64, u32, u32)> = Vec::new();
    let mut start = 0u32;
    for run in matches.meters.chunk_by(|a, b| a.key == b.key) {
        runs.push((run[0].key, start, start + run.len() as u32));
        start += run.len() as u32;
    }
    runs.par_sort_unstable();
    sink.begin(Section::MpxnKeys)?;
    let mut keys = Batched::new(sink);
    let mut postings = Vec::with_capacity(4 * (2 * runs.len() + matches.meters.len()));
    let mut insts: Vec<u32> = Vec::new();
    for &(key, start, end) in &runs {
        let posting = (postings.len() / 4) as u64;
        keys.put([key, posting])?;
        let run = &matches.meters[start as usize..end as usize];
        insts.clear();
        insts.extend(run.iter().map(|m| m.installation));
        insts.sort_unstable();
        insts.dedup();
        group_of_key
            .get(&key)
            .copied()
            .unwrap_or(NONE_U32)
            .write(&mut postings);
        (insts.len() as u32).write(&mut postings);
        for &i in &insts {
            i.write(&mut postings);
        }
    }
    keys.finish()?;
    drop(runs);
    sink.begin(Section::MpxnPostings)?;
    sink.write(&postings)
}

/// Every valid GUID's devices, from the (GUID, device) pairs of the `dev_guid` column
/// sorted: the `guid_keys` section (the GUIDs, one per pair, so a GUID on several
/// devices repeats), then `guid_devices` (the devices, pair by pair). Cost: one sort.
fn guid_map(mut guids: Vec<(u64, u32)>, sink: &mut impl SectionSink) -> io::Result<()> {
    guids.par_sort_unstable();
    sink.begin(Section::GuidKeys)?;
    let mut keys = Batched::new(&mut *sink);
    for &(guid, _) in &guids {
        keys.put(guid)?;
    }
    keys.finish()?;
    sink.begin(Section::GuidDevices)?;
    let mut devices = Batched::new(sink);
    for &(_, device) in &guids {
        devices.put(device)?;
    }
    devices.finish()
}

/// Fixed-width values written into a sink a block at a time.
struct Batched<'a, S: SectionSink> {
    sink: &'a mut S,
    block: Vec<u8>,
}

impl<'a, S: SectionSink> Batched<'a, S> {
    const BLOCK: usize = 1 << 16;

    fn new(sink: &'a mut S) -> Self {
        Batched {
            sink,
            block: Vec::with_capacity(Self::BLOCK),
        }
    }

    fn put<T: Fixed>(&mut self, value: T) -> io::Result<()> {
        value.write(&mut self.block);
        if self.block.len() >= Self::BLOCK {
            self.sink.write(&self.block)?;
            self.block.clear();
        }
        Ok(())
    }

    fn finish(self) -> io::Result<()> {
        self.sink.write(&self.block)
    }
}

/// One run of installations' columns (one source's installations of one partition),
/// with its own heap, device offsets and installation numbers, all from 0.
pub struct InstallationPart {
    sections: Sections,
    heap: Vec<u8>,
    devices: u32,
    installations: u32,
}

impl InstallationPart {
    pub fn installations(&self) -> u32 {
        self.installations
    }

    /// Bytes it holds (columns and heap).
    fn size(&self) -> u64 {
        (self.sections.0.iter().map(Vec::len).sum::<usize>() + self.heap.len()) as u64
    }
}

/// Lays out the installations `range` of one partition (one source's, in output order),
/// and, `with_devices`, their devices. DUPLICATE_GUID is added when the parts are
/// assembled: it is found across partitions.
pub fn installation_part(
    evidence: &PartitionEvidence<'_>,
    dict: &Dictionaries,
    range: Range<u32>,
    with_devices: bool,
) -> InstallationPart {
    let mut out = Sections(vec![Vec::new(); SECTION_COUNT]);
    for (section, width) in [
        (Section::InstSource, 4),
        (Section::InstId, 8),
        (Section::InstGroup, 4),
        (Section::InstFindings, 4),
        (Section::InstFlags, 4),
        (Section::InstLastComms, 4),
        (Section::InstMpxns, 8),
        (Section::InstDevices, 4),
    ] {
        out.0[section.index()].reserve_exact(width * range.len());
    }
    let mut heap = Heap::default();
    let mut devices = 0u32;
    let (mut mpxn_keys, mut mpxn_text) = (Vec::new(), Vec::new());
    let mut rows: Vec<&Row> = Vec::new();
    let mut parsers: Vec<Option<RowParser<'_>>> = (0..evidence.finding_inputs.files.len())
        .map(|_| None)
        .collect();
    let mut pending = Vec::new();
    let installations = range.len() as u32;
    let first = range.start;
    for installation in range {
        let inst = installation as usize;
        let facts = &evidence.facts[inst];
        out.put(
            Section::InstSource,
            dict.sources.rank(evidence.installations.list[inst].source),
        );
        let id = heap.push(evidence.installations.id(installation));
        out.put(Section::InstId, id);
        out.put(Section::InstGroup, dict.groups.rank(facts.group));
        let findings = facts.findings.union(resolve::matching_findings(
            false,
            evidence.keys.repeated_mpxn[inst],
        ));
        out.put(Section::InstFindings, findings.bits());
        let mut flags = 0u32;
        if facts.smets2 {
            flags |= INST_SMETS2;
        }
        if facts.comms.unreadable {
            flags |= INST_COMMS_UNREADABLE;
        }
        out.put(Section::InstFlags, flags);
        out.put(
            Section::InstLastComms,
            facts.comms.last.map_or(DAY_NONE, |d| d.0),
        );
        evidence.mpxns_into(installation, &mut mpxn_keys, &mut mpxn_text);
        let mpxns = heap.push(&mpxn_text);
        out.put(Section::InstMpxns, mpxns);
        put_finding_rows(
            evidence,
            installation,
            installation - first,
            &mut parsers,
            &mut pending,
            &mut heap,
            &mut out,
        );

        if !with_devices {
            out.put(Section::InstDevices, 0u32);
            continue;
        }
        // Devices in an order fixed by their content, not by input order.
        rows.clear();
        rows.extend(
            evidence
                .installations
                .rows_of(installation)
                .iter()
                .map(|&r| &evidence.rows[r as usize]),
        );
        rows.sort_by_key(|r| device_key(dict, r));
        for r in &rows {
            out.put(Section::DevInst, installation - first);
            out.put(Section::DevGuid, r.device);
            out.put(Section::DevMpxn, r.mpxn_raw());
            out.put(Section::DevInstalled, day_or(r.installed_on(), DAY_UNKNOWN));
            out.put(Section::DevLastComms, day_or(r.last_comms(), DAY_UNKNOWN));
            out.put(Section::DevParty, dict.parties.rank(r.party));
            out.put(Section::DevType, device_type(dict, r));
            out.put(Section::DevFlags, if r.dormant() { DEV_DORMANT } else { 0 });
            devices += 1;
        }
        // Offsets local to the part, without the leading 0: rebased when appended.
        out.put(Section::InstDevices, devices);
    }
    InstallationPart {
        sections: out,
        heap: heap.bytes,
        devices,
        installations,
    }
}

fn day_or(d: DateField, otherwise: i32) -> i32 {
    match d {
        DateField::Day(day) => day.0,
        DateField::None => DAY_NONE,
        DateField::Invalid => otherwise,
    }
}

/// A row's device type as a rank in the device-type dictionary; [`NONE_U32`] for the
/// types past the 65,535 that rows can name (shown as "(other)").
fn device_type(dict: &Dictionaries, r: &Row) -> u32 {
    match r.device_type {
        ingest::OTHER_DEVICE_TYPE => NONE_U32,
        t => dict.device_types.rank(u32::from(t)),
    }
}

/// Orders an installation's devices by what the index stores of them.
fn device_key(dict: &Dictionaries, r: &Row) -> (u32, u64, u64, i32, i32, u32, bool) {
    (
        device_type(dict, r),
        r.device,
        r.mpxn_raw(),
        day_or(r.installed_on(), DAY_UNKNOWN),
        day_or(r.last_comms(), DAY_UNKNOWN),
        dict.parties.rank(r.party),
        r.dormant(),
    )
}

/// A dictionary's ids in text order, and each id's rank in it.
struct Ranked {
    ids: Vec<u32>,
    rank_of: Vec<u32>,
}

impl Ranked {
    fn new<T: Ord>(len: usize, text: impl Fn(u32) -> T) -> Ranked {
        let rank_of = ingest::ranks_by(len, text);
        let mut ids = vec![0u32; len];
        for (id, &rank) in rank_of.iter().enumerate() {
            ids[rank as usize] = id as u32;
        }
        Ranked { ids, rank_of }
    }

    /// The rank of an id; "none" ([`NONE_U32`]) stays none.
    fn rank(&self, id: u32) -> u32 {
        self.rank_of.get(id as usize).copied().unwrap_or(NONE_U32)
    }
}

pub struct Dictionaries {
    sources: Ranked,
    groups: Ranked,
    device_types: Ranked,
    parties: Ranked,
}

impl Dictionaries {
    pub fn of(ingested: &Ingested, registry: &Registry) -> Dictionaries {
        let parties = registry.parties();
        Dictionaries {
            sources: Ranked::new(ingested.sources.len(), |id| ingested.sources.get(id)),
            groups: Ranked::new(ingested.groups.len(), |id| ingested.groups.get(id)),
            device_types: Ranked::new(ingested.device_types.len(), |id| {
                ingested.device_types.get(id)
            }),
            parties: Ranked::new(parties.len(), |id| parties[id as usize].id.as_bytes()),
        }
    }

    /// Each interned source's rank in byte order (the first key of output order).
    pub fn source_ranks(&self) -> &[u32] {
        &self.sources.rank_of
    }
}

/// rejects.csv as the report writes it: sorted by file (as given) then line; raw text
/// with invalid UTF-8 replaced by U+FFFD.
fn rejects_csv(inputs: &Inputs<'_>) -> Vec<u8> {
    let mut rejects: Vec<(String, u64, &'static str, ingest::LineRef)> = inputs
        .ingested
        .rejects
        .iter()
        .map(|r| {
            let path = inputs.files[r.line_ref.file()]
                .path
                .to_string_lossy()
                .into_owned();
            (path, r.line_no, r.reason.as_str(), r.line_ref)
        })
        .collect();
    rejects.sort();
    let mut out = b"file,line,reason,raw\n".to_vec();
    for (path, line, reason, line_ref) in rejects {
        let raw = String::from_utf8_lossy(ingest::raw_line(inputs.files, line_ref));
        push_record(
            &mut out,
            &[
                path.as_bytes(),
                line.to_string().as_bytes(),
                reason.as_bytes(),
                raw.as_bytes(),
            ],
        );
    }
    out
}

fn meta(inputs: &Inputs<'_>) -> BuildMeta {
    let mut inventories: Vec<InputFile> = inputs
        .files
        .iter()
        .zip(&inputs.ingested.checksums)
        .map(|(f, &crc)| InputFile {
            path: f.path.to_string_lossy().into_owned(),
            bytes: f.bytes.len() as u64,
            crc32c: format!("{crc:08x}"),
        })
        .collect();
    inventories.sort_by(|a, b| a.path.cmp(&b.path));
    let mut rejects_by_reason = BTreeMap::new();
    for r in &inputs.ingested.rejects {
        *rejects_by_reason
            .entry(r.reason.as_str().to_string())
            .or_default() += 1;
    }
    BuildMeta {
        engine: "mpxn-recon".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        inventories,
        suppliers: InputFile {
            path: inputs.suppliers.to_string_lossy().into_owned(),
            bytes: inputs.registry.size,
            crc32c: format!("{:08x}", inputs.registry.checksum),
        },
        rows: inputs.accounting,
        rejects_by_reason,
    }
}
