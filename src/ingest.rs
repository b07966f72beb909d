//! Ingest: mapped input bytes → fixed-size [`Row`]s, [`Reject`]s and the row count.
//!
//! Takes the mapped inventory files, the loaded supplier registry and the run's memory
//! budget; hands on one [`Row`] per accepted line (every identifier already normalised
//! by `normalize`, every text field that matters later held as an offset into the mapped
//! file, not a copy) in its partition's bucket (the [`Plan`] of `partition`; spilled past
//! the budget), the rejected lines with their reasons, and per-file sizes and checksums.
//! Guarantees: headers are checked before any row is read (a missing or doubled column
//! refuses the file); each line is either a row or a reject, so nothing is lost; no
//! allocation per field (text that needs unescaping goes through a reused scratch buffer).
//! Files are cut into chunks at line ends and parsed in parallel batches with rayon;
//! results are merged in file order, so nothing downstream depends on the thread count
//! or the chunk size.
//! Leaves to others: collapsing identical rows and grouping (`matching`), what an invalid
//! value means (`resolve`).

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

use hashbrown::HashMap;
use rayon::prelude::*;

use crate::delimited::{
    line_at, split_line, split_unquoted, Field, Header, InputError, RejectReason, MAX_FIELD_LEN,
};
use crate::mapped::MappedFile;
use crate::normalize::{self, Day, Guid, Mpan, Mprn, MpxnKey};
use crate::partition::Plan;
use crate::registry::{Registry, UNKNOWN_PARTY};
use crate::spill::{Buckets, Budget, Record};

/// A rejected line: where it is and why. The raw text is read back from the mapped file
/// when the report is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reject {
    pub line_ref: LineRef,
    pub line_no: u64,
    pub reason: RejectReason,
}

/// A line's position: input file index (16 bits) and byte offset of its first byte (48 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineRef(u64);

impl LineRef {
    fn new(file: usize, offset: usize) -> LineRef {
        debug_assert!(file < 1 << 16 && (offset as u64) < 1 << 48);
        LineRef(((file as u64) << 48) | offset as u64)
    }

    pub fn file(self) -> usize {
        (self.0 >> 48) as usize
    }

    /// As one `u64` (for fixed-size records); [`LineRef::from_raw`] undoes it.
    pub fn to_raw(self) -> u64 {
        self.0
    }

    pub fn from_raw(raw: u64) -> LineRef {
        LineRef(raw)
    }

    pub fn offset(self) -> usize {
        (self.0 & ((1 << 48) - 1)) as usize
    }
}

/// The ten inventory columns of SPEC §3.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Source,
    GroupId,
    InstallationId,
    DeviceId,
    DeviceType,
    Mpxn,
    InstalledOn,
    LastCommsAt,
    SupplierId,
    Dormant,
}

impl Column {
    pub const ALL: [Column; 10] = [
        Column::Source,
        Column::GroupId,
        Column::InstallationId,
        Column::DeviceId,
        Column::DeviceType,
        Column::Mpxn,
        Column::InstalledOn,
        Column::LastCommsAt,
        Column::SupplierId,
        Column::Dormant,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Column::Source => "source",
            Column::GroupId => "group_id",
            Column::InstallationId => "installation_id",
            Column::DeviceId => "device_id",
            Column::DeviceType => "device_type",
            Column::Mpxn => "mpxn",
            Column::InstalledOn => "installed_on",
            Column::LastCommsAt => "last_comms_at",
            Column::SupplierId => "supplier_id",
            Column::Dormant => "dormant",
        }
    }

    /// Every column but `last_comms_at` and `dormant` must be in the header (Appendix).
    fn required(self) -> bool {
        !matches!(self, Column::LastCommsAt | Column::Dormant)
    }
}

/// What kind of device a row is, as far as the rules care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeterKind {
    /// Not a meter (CHF, PPMID, IHD, empty or unknown device type): carries no MPxN.
    None,
    /// Electricity smart meter: its `mpxn` is an MPAN.
    Esme,
    /// Gas smart meter: its `mpxn` is an MPRN.
    Gsme,
}

/// A meter's `mpxn` field, read as its device type says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MpxnField {
    /// Not a meter: the field is ignored.
    NotApplicable,
    /// Empty or whitespace only.
    Missing,
    /// Present but not a valid MPAN (ESME) / MPRN (GSME).
    Invalid,
    Valid(MpxnKey),
}

/// A date field: `None` when the (optional) field is empty, `Invalid` when it does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DateField {
    None,
    Invalid,
    Day(Day),
}

/// One accepted inventory line, normalised. 72 bytes (a test pins it); 60 million of them
/// take 4.0 GiB.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// Where the line is, to read back text fields and to re-check identical rows exactly.
    pub line_ref: LineRef,
    /// Hash of (upper-cased source, installation_id): rows of one installation share it.
    pub installation_key: u64,
    /// Hash of the row's identity (all ten columns, SPEC Appendix); identical rows share
    /// it, and rows of one installation rarely share it otherwise (see [`fingerprint`]).
    pub fingerprint: u64,
    /// Canonical GUID, or 0 when the device id does not normalise.
    pub device: u64,
    /// Packed [`MpxnField`]: see [`Row::mpxn`].
    mpxn_raw: u64,
    /// Byte range of the trimmed installation_id within the line; `len == u32::MAX` when
    /// the field was quoted with escapes and must be re-split to be read.
    pub installation_start: u32,
    pub installation_len: u32,
    /// Interned upper-cased source (see [`Interned`]).
    pub source: u32,
    /// Interned upper-cased group_id, or [`NO_GROUP`].
    pub group: u32,
    /// Supplier party index in the registry, or [`UNKNOWN_PARTY`].
    pub party: u32,
    installed_on: i32,
    last_comms: i32,
    flags: u8,
    /// How many rows back the run of consecutive accepted rows of this chunk with the
    /// same source and installation_id text starts (0: this row starts one, or the run
    /// is too long to count). Rows with equal `row - chain` are of one installation, so
    /// grouping confirms most rows without reading text. See [`Row::chain_head`].
    chain: u8,
    /// Interned upper-cased device type; [`OTHER_DEVICE_TYPE`] past 65,535 distinct
    /// types (display only: the rules need just the meter kind, which `flags` holds).
    pub device_type: u16,
}

pub const NO_GROUP: u32 = u32::MAX;
pub const OTHER_DEVICE_TYPE: u16 = u16::MAX;

const NO_DAY: i32 = i32::MAX;
const DAY_INVALID: i32 = i32::MIN;
const MPXN_NOT_APPLICABLE: u64 = 0;
const MPXN_MISSING: u64 = 1;
const MPXN_INVALID: u64 = 2;
const FLAG_ESME: u8 = 1;
const FLAG_GSME: u8 = 2;
const FLAG_DORMANT: u8 = 4;
impl Row {
    /// A row with nothing set yet: what `RowParser::parse` fills in.
    const BLANK: Row = Row {
        line_ref: LineRef(0),
        installation_key: 0,
        fingerprint: 0,
        device: 0,
        mpxn_raw: MPXN_NOT_APPLICABLE,
        installation_start: 0,
        installation_len: 0,
        source: 0,
        group: NO_GROUP,
        party: UNKNOWN_PARTY,
        installed_on: NO_DAY,
        last_comms: NO_DAY,
        flags: 0,
        chain: 0,
        device_type: 0,
    };

    pub fn meter_kind(&self) -> MeterKind {
        match self.flags & (FLAG_ESME | FLAG_GSME) {
            FLAG_ESME => MeterKind::Esme,
            FLAG_GSME => MeterKind::Gsme,
            _ => MeterKind::None,
        }
    }

    /// The first row of this row's run of consecutive same-installation rows, given
    /// this row's index: equal heads mean equal (source, installation_id), exactly.
    pub fn chain_head(&self, index: u32) -> u32 {
        index - u32::from(self.chain)
    }

    pub fn is_meter(&self) -> bool {
        self.meter_kind() != MeterKind::None
    }

    pub fn dormant(&self) -> bool {
        self.flags & FLAG_DORMANT != 0
    }

    pub fn guid(&self) -> Option<Guid> {
        Guid::from_u64(self.device)
    }

    pub fn mpxn(&self) -> MpxnField {
        match self.mpxn_raw {
            MPXN_NOT_APPLICABLE => MpxnField::NotApplicable,
            MPXN_MISSING => MpxnField::Missing,
            MPXN_INVALID => MpxnField::Invalid,
            // Valid keys are never 0, 1 or 2: an MPAN key has its top bit set, an MPRN
            // key is at least 100000.
            raw => MpxnField::Valid(MpxnKey::from_raw(raw).expect("non-zero")),
        }
    }

    /// The packed MPxN field as the index stores it: 0 not a meter, 1 missing,
    /// 2 invalid, otherwise a valid [`MpxnKey`]'s raw value.
    pub fn mpxn_raw(&self) -> u64 {
        self.mpxn_raw
    }

    pub fn installed_on(&self) -> DateField {
        date_field(self.installed_on)
    }

    pub fn last_comms(&self) -> DateField {
        date_field(self.last_comms)
    }
}

/// A row as a spill record: its fields little-endian, 72 bytes, no padding.
impl Record for Row {
    const SIZE: usize = 72;

    fn encode(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.line_ref.0.to_le_bytes());
        out[8..16].copy_from_slice(&self.installation_key.to_le_bytes());
        out[16..24].copy_from_slice(&self.fingerprint.to_le_bytes());
        out[24..32].copy_from_slice(&self.device.to_le_bytes());
        out[32..40].copy_from_slice(&self.mpxn_raw.to_le_bytes());
        out[40..44].copy_from_slice(&self.installation_start.to_le_bytes());
        out[44..48].copy_from_slice(&self.installation_len.to_le_bytes());
        out[48..52].copy_from_slice(&self.source.to_le_bytes());
        out[52..56].copy_from_slice(&self.group.to_le_bytes());
        out[56..60].copy_from_slice(&self.party.to_le_bytes());
        out[60..64].copy_from_slice(&self.installed_on.to_le_bytes());
        out[64..68].copy_from_slice(&self.last_comms.to_le_bytes());
        out[68] = self.flags;
        out[69] = self.chain;
        out[70..72].copy_from_slice(&self.device_type.to_le_bytes());
    }

    fn decode(b: &[u8]) -> Row {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        Row {
            line_ref: LineRef(u64_at(0)),
            installation_key: u64_at(8),
            fingerprint: u64_at(16),
            device: u64_at(24),
            mpxn_raw: u64_at(32),
            installation_start: u32_at(40),
            installation_len: u32_at(44),
            source: u32_at(48),
            group: u32_at(52),
            party: u32_at(56),
            installed_on: u32_at(60) as i32,
            last_comms: u32_at(64) as i32,
            flags: b[68],
            chain: b[69],
            device_type: u16::from_le_bytes([b[70], b[71]]),
        }
    }
}

fn date_field(v: i32) -> DateField {
    DateField::unpack(v)
}

fn pack_date(d: DateField) -> i32 {
    d.pack()
}

impl DateField {
    /// As one `i32` (for fixed-size records): a day number, or a sentinel.
    pub fn pack(self) -> i32 {
        match self {
            DateField::None => NO_DAY,
            DateField::Invalid => DAY_INVALID,
            DateField::Day(Day(d)) => d,
        }
    }

    pub fn unpack(v: i32) -> DateField {
        match v {
            NO_DAY => DateField::None,
            DAY_INVALID => DateField::Invalid,
            d => DateField::Day(Day(d)),
        }
    }
}

/// A small table of distinct upper-cased texts (sources, GroupIDs), in first-seen order.
#[derive(Default, Debug, Clone)]
pub struct Interned {
    texts: Vec<Box<[u8]>>,
    index: HashMap<Box<[u8]>, u32>,
}

impl Interned {
    /// The id of the upper-cased `raw`, interning it if new. Rows of one file mostly
    /// repeat the previous row's text, so that is checked first, then the first few
    /// texts (a column that cycles through a handful of values, as device types do from
    /// row to row), all without upper-casing or hashing (stored texts are upper-case, so
    /// a case-blind match is exact).
    pub fn intern_upper(&mut self, raw: &[u8], last: &mut u32, upper: &mut Vec<u8>) -> u32 {
        if let Some(text) = self.texts.get(*last as usize) {
            if text.eq_ignore_ascii_case(raw) {
                return *last;
            }
        }
        if let Some(id) = self
            .texts
            .iter()
            .take(8)
            .position(|text| text.eq_ignore_ascii_case(raw))
        {
            *last = id as u32;
            return *last;
        }
        upper_into(upper, raw);
        *last = self.intern(upper);
        *last
    }

    pub fn intern(&mut self, text: &[u8]) -> u32 {
        if let Some(&id) = self.index.get(text) {
            return id;
        }
        let id = self.texts.len() as u32;
        self.texts.push(text.into());
        self.index.insert(text.into(), id);
        id
    }

    pub fn get(&self, id: u32) -> &[u8] {
        &self.texts[id as usize]
    }

    /// Each id's rank in byte order of the texts: `ranks[id]`, so "smallest text" is a
    /// number compare and a dictionary can be laid out in text order.
    pub fn ranks_by_text(&self) -> Vec<u32> {
        ranks_by(self.len(), |id| self.get(id))
    }

    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }
}

/// Each of `len` ids' rank in the order of `text(id)` (ids with equal texts keep their
/// id order).
pub fn ranks_by<T: Ord>(len: usize, text: impl Fn(u32) -> T) -> Vec<u32> {
    let mut ids: Vec<u32> = (0..len as u32).collect();
    ids.sort_by_key(|&id| text(id));
    let mut rank_of = vec![0u32; len];
    for (rank, &id) in ids.iter().enumerate() {
        rank_of[id as usize] = rank as u32;
    }
    rank_of
}

/// One mapped inventory file and its checked header.
pub struct InventoryFile {
    pub path: PathBuf,
    pub bytes: MappedFile,
    pub header: Header,
}

impl InventoryFile {
    /// Maps the file and checks its header; refuses it (naming the column) when a
    /// required column is missing.
    pub fn open(path: &Path) -> Result<InventoryFile, InputError> {
        let bytes = MappedFile::open(path).map_err(|e| InputError::io(path, e))?;
        let names: Vec<&'static str> = Column::ALL.iter().map(|c| c.name()).collect();
        let required: Vec<bool> = Column::ALL.iter().map(|c| c.required()).collect();
        let header = Header::parse(path, &bytes, &names, &required)?;
        Ok(InventoryFile {
            path: path.to_path_buf(),
            bytes,
            header,
        })
    }

    fn position(&self, column: Column) -> Option<usize> {
        self.header.positions[column as usize]
    }
}

/// Everything ingest hands on.
pub struct Ingested {
    /// The accepted rows, by partition of the [`Plan`] (bucket `k` holds every row
    /// whose installation id falls in partition `k`, in file and line order), in memory
    /// or spilled.
    pub partitions: Buckets<Row>,
    pub plan: Plan,
    pub rejects: Vec<Reject>,
    /// Lines read, header excluded, over all files.
    pub rows_read: u64,
    pub sources: Interned,
    pub groups: Interned,
    pub device_types: Interned,
    /// CRC-32C of each file's bytes, in file order.
    pub checksums: Vec<u32>,
    /// Line numbers of accepted rows, for findings.csv.
    pub lines: LineNumbers,
}

/// Every [`CHECKPOINT_LINES`]th line's (byte offset, physical line number), per file in
/// offset order: a row's line number is its checkpoint's plus the line ends between
/// them, at most that many short lines to count. Costs 16 bytes per that many lines
/// (60 MB at 60M rows); only rows that findings.csv lists are ever numbered.
#[derive(Debug, Default)]
pub struct LineNumbers {
    files: Vec<Vec<(u64, u64)>>,
}

/// How far apart the checkpoints of [`LineNumbers`] are, in lines.
const CHECKPOINT_LINES: u64 = 16;

impl LineNumbers {
    /// The physical, 1-based line number (header = 1) of the line at `line_ref`.
    pub fn line_no(&self, files: &[InventoryFile], line_ref: LineRef) -> u64 {
        let checkpoints = &self.files[line_ref.file()];
        let offset = line_ref.offset() as u64;
        let at = checkpoints.partition_point(|&(o, _)| o <= offset);
        let (from, line) = checkpoints[at.checked_sub(1).expect("a body line has a checkpoint")];
        let bytes = &files[line_ref.file()].bytes[from as usize..offset as usize];
        line + memchr::memchr_iter(b'\n', bytes).count() as u64
    }
}

/// What one parse chunk produces; merged in chunk order.
struct ChunkOutput {
    /// The chunk's accepted rows by partition, in line order: `(partition, rows)`,
    /// partitions increasing, none empty.
    parts: Vec<(u32, Vec<Row>)>,
    rejects: Vec<Reject>,
    lines: u64,
    sources: Interned,
    groups: Interned,
    device_types: Interned,
    crc: u32,
    /// (offset, chunk-local line) of every [`CHECKPOINT_LINES`]th line of the chunk.
    checkpoints: Vec<(u64, u64)>,
}

/// Target chunk size: big enough that per-chunk overhead vanishes, small enough that
/// two cores stay balanced on a file of a few hundred MB.
const CHUNK_BYTES: usize = 4 << 20;
/// Target partition size, in bytes of input: about 170,000 rows, 12 MB of [`Row`]s.
const PARTITION_BYTES: usize = 16 << 20;
/// At most this many partitions (a national sweep takes about 350).
const MAX_PARTITIONS: usize = 4096;
/// Sample lines per partition, for the plan's quantiles.
const SAMPLES_PER_PARTITION: usize = 16;

/// The per-sweep settings ingest needs.
#[derive(Clone, Copy, Debug)]
pub struct IngestSettings {
    pub chunk_bytes: usize,
    /// Bytes of input per partition of installations (tests make it tiny).
    pub partition_bytes: usize,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            chunk_bytes: CHUNK_BYTES,
            partition_bytes: PARTITION_BYTES,
        }
    }
}

/// Parses every inventory file into rows and rejects. Each file is cut into chunks at
/// line ends and the chunks are parsed in parallel; each chunk hands its accepted rows
/// on already cut by partition of installation id, so no later step handles all rows
/// at once. Ids interned per chunk are then remapped to global ones in parallel. The
/// outcome is the same for any thread count and chunk size.
pub fn ingest(
    files: &[InventoryFile],
    registry: &Registry,
    settings: IngestSettings,
    budget: &Budget,
) -> Result<Ingested, InputError> {
    let jobs = chunk_jobs(files, settings);
    let t = crate::timing::stage("ingest: plan partitions");
    let plan = plan_partitions(files, registry, settings);
    drop(t);

    let total: usize = jobs.iter().map(|job| job.end - job.start).sum();
    let _t = crate::timing::counted(
        "ingest: parse chunks",
        total as u64,
        crate::timing::Unit::Bytes,
    );
    let mut partitions: Buckets<Row> = Buckets::new(plan.count(), budget.spillable(), &budget.dir);
    let mut merged = Merged::new(files);
    // Batches of a few chunks per thread: parsed in parallel, merged in order, and the
    // rows spilled between batches when they exceed the budget.
    let batch = (rayon::current_num_threads() * 4).max(1);
    for jobs in jobs.chunks(batch) {
        let outputs: Vec<ChunkOutput> = jobs
            .par_iter()
            .map(|job| parse_chunk(files, job, registry, &plan))
            .collect();
        let mut pieces = Vec::with_capacity(outputs.len());
        for (job, mut output) in jobs.iter().zip(outputs) {
            let parts = std::mem::take(&mut output.parts);
            pieces.push((merged.add(job, output), parts));
        }
        pieces.par_iter_mut().for_each(|(map, parts)| {
            parts.iter_mut().for_each(|(_, rows)| map.apply(rows));
        });
        for (_, parts) in pieces {
            for (p, rows) in parts {
                partitions.extend(p as usize, rows);
            }
        }
        partitions
            .settle()
            .map_err(|e| InputError::spill(&budget.dir, e))?;
        let parsed: usize = jobs.iter().map(|job| job.end - job.start).sum();
        crate::timing::advance(parsed as u64, || {
            format!(
                "parsing {} rows",
                crate::timing::thousands(merged.rows_read)
            )
        });
    }
    Ok(Ingested {
        partitions,
        plan,
        rejects: merged.rejects,
        rows_read: merged.rows_read,
        sources: merged.sources,
        groups: merged.groups,
        device_types: merged.device_types,
        checksums: merged.checksums,
        lines: LineNumbers {
            files: merged.checkpoints,
        },
    })
}

/// The partition plan: about one partition per `settings.partition_bytes` of input,
/// cut at the quantiles of the installation ids of evenly spaced lines of every file
/// (in proportion to its size). Lines that do not split are left out of the sample.
fn plan_partitions(files: &[InventoryFile], registry: &Registry, settings: IngestSettings) -> Plan {
    let body = |f: &InventoryFile| f.bytes.len() - f.header.body_start;
    let total: usize = files.iter().map(body).sum();
    let partitions = total
        .div_ceil(settings.partition_bytes.max(1))
        .clamp(1, MAX_PARTITIONS);
    if partitions == 1 {
        return Plan::single();
    }
    let samples = partitions * SAMPLES_PER_PARTITION;
    let mut ids: Vec<Vec<u8>> = Vec::with_capacity(samples);
    for f in files {
        let bytes: &[u8] = &f.bytes;
        let (start, len) = (f.header.body_start, body(f));
        let count = (samples * len).div_ceil(total.max(1));
        let mut parser = RowParser::new(f, registry);
        let mut last = usize::MAX;
        for i in 0..count {
            let at = start + len * i / count;
            // The first line that starts at or after `at`.
            let line_start = if at == start {
                start
            } else {
                match memchr::memchr(b'\n', &bytes[at - 1..]) {
                    Some(j) => at + j,
                    None => continue,
                }
            };
            if line_start >= bytes.len() || line_start == last {
                continue;
            }
            last = line_start;
            let (line, _) = line_at(bytes, line_start);
            if let Ok(fields) = parser.split(line) {
                ids.push(fields.get(Column::InstallationId).to_vec());
            }
        }
    }
    Plan::from_sample(ids.iter().map(Vec::as_slice).collect(), partitions)
}

/// One chunk of one file to parse: `[start, end)`, cut at line ends.
struct ChunkJob {
    file: usize,
    start: usize,
    end: usize,
}

/// Cuts every file's body into chunks of about `settings.chunk_bytes`, at line ends.
fn chunk_jobs(files: &[InventoryFile], settings: IngestSettings) -> Vec<ChunkJob> {
    let mut jobs = Vec::new();
    for (file, f) in files.iter().enumerate() {
        let bytes: &[u8] = &f.bytes;
        let mut start = f.header.body_start;
        while start < bytes.len() {
            let target = (start + settings.chunk_bytes.max(1)).min(bytes.len());
            let end = match memchr::memchr(b'\n', &bytes[target.saturating_sub(1)..]) {
                Some(i) if target < bytes.len() => target - 1 + i + 1,
                _ => bytes.len(),
            };
            jobs.push(ChunkJob { file, start, end });
            start = end;
        }
    }
    jobs
}

/// A chunk's interned ids, mapped to the merged ones.
struct IdMap {
    sources: Vec<u32>,
    groups: Vec<u32>,
    device_types: Vec<u16>,
}

impl IdMap {
    /// Rewrites a chunk's rows from chunk-local ids to merged ones.
    fn apply(&self, rows: &mut [Row]) {
        for row in rows.iter_mut() {
            row.source = self.sources[row.source as usize];
            if row.device_type != OTHER_DEVICE_TYPE {
                row.device_type = self.device_types[row.device_type as usize];
            }
            if row.group != NO_GROUP {
                row.group = self.groups[row.group as usize];
            }
        }
    }
}

/// The chunks' outputs merged in chunk order, one chunk at a time.
struct Merged {
    rejects: Vec<Reject>,
    rows_read: u64,
    sources: Interned,
    groups: Interned,
    device_types: Interned,
    checksums: Vec<u32>,
    /// Per file, the line number of the next chunk's first line.
    next_line: Vec<u64>,
    checkpoints: Vec<Vec<(u64, u64)>>,
}

impl Merged {
    fn new(files: &[InventoryFile]) -> Merged {
        Merged {
            rejects: Vec::new(),
            rows_read: 0,
            sources: Interned::default(),
            groups: Interned::default(),
            device_types: Interned::default(),
            checksums: files
                .iter()
                .map(|f| crc32c::crc32c(&f.bytes[..f.header.body_start]))
                .collect(),
            next_line: vec![2u64; files.len()],
            checkpoints: vec![Vec::new(); files.len()],
        }
    }

    /// Merges the next chunk's output (chunks come in order): line numbers by prefix
    /// sums per file, interned ids remapped to merged ones (first seen, first
    /// numbered), file checksums combined. Returns the chunk's id map.
    fn add(&mut self, job: &ChunkJob, output: ChunkOutput) -> IdMap {
        let remap = |from: &Interned, to: &mut Interned| -> Vec<u32> {
            (0..from.len() as u32)
                .map(|id| to.intern(from.get(id)))
                .collect()
        };
        let sources = remap(&output.sources, &mut self.sources);
        let groups = remap(&output.groups, &mut self.groups);
        let device_types = remap(&output.device_types, &mut self.device_types)
            .into_iter()
            .map(|global| u16::try_from(global).unwrap_or(OTHER_DEVICE_TYPE))
            .collect();
        let first_line = self.next_line[job.file];
        self.rejects.extend(output.rejects.into_iter().map(|mut r| {
            r.line_no += first_line;
            r
        }));
        self.checkpoints[job.file].extend(
            output
                .checkpoints
                .iter()
                .map(|&(offset, line)| (offset, line + first_line)),
        );
        self.next_line[job.file] += output.lines;
        self.rows_read += output.lines;
        self.checksums[job.file] =
            crc32c::crc32c_combine(self.checksums[job.file], output.crc, job.end - job.start);
        IdMap {
            sources,
            groups,
            device_types,
        }
    }
}

/// Parses one chunk's lines into rows (cut by partition) and rejects.
fn parse_chunk(
    files: &[InventoryFile],
    job: &ChunkJob,
    registry: &Registry,
    plan: &Plan,
) -> ChunkOutput {
    let file_index = job.file;
    let file = &files[file_index];
    let bytes: &[u8] = &file.bytes;
    let (start, end) = (job.start, job.end);
    let chunk = &bytes[start..end];
    let mut out = ChunkOutput {
        parts: Vec::new(),
        rejects: Vec::new(),
        lines: 0,
        sources: Interned::default(),
        groups: Interned::default(),
        device_types: Interned::default(),
        crc: crc32c::crc32c(chunk),
        checkpoints: Vec::new(),
    };
    // Most chunks are valid UTF-8 throughout: check once, and per line only if not.
    let chunk_is_utf8 = std::str::from_utf8(chunk).is_ok();
    let mut parser = RowParser::new(file, registry);
    let mut rows: Vec<Row> = Vec::new();
    let mut partition_of: Vec<u32> = Vec::new();
    let mut offset = start;
    while offset < end {
        let (line, next) = line_at(&bytes[..end], offset);
        let line_no = out.lines;
        out.lines += 1;
        if line_no.is_multiple_of(CHECKPOINT_LINES) {
            out.checkpoints.push((offset as u64, line_no));
        }
        let line_ref = LineRef::new(file_index, offset);
        let utf8 = chunk_is_utf8 || std::str::from_utf8(line).is_ok();
        let result = if utf8 {
            parser.parse(line, line_ref, &mut out)
        } else {
            Err(RejectReason::UndecodableBytes)
        };
        match result {
            Ok(mut row) => {
                // Chain to the previous accepted row when it is of the same
                // installation: the two land side by side in one partition's piece.
                if let Some(previous) = rows.last() {
                    if same_installation(bytes, previous, &row) {
                        row.chain = previous.chain.checked_add(1).unwrap_or(0);
                    }
                }
                let partition = if plan.count() == 1 {
                    0
                } else if row.installation_len != u32::MAX {
                    let at = row.installation_start as usize;
                    plan.partition_of(&line[at..at + row.installation_len as usize])
                } else {
                    let fields = parser.split(line).expect("an accepted line splits again");
                    plan.partition_of(fields.get(Column::InstallationId))
                };
                rows.push(row);
                partition_of.push(partition as u32);
            }
            Err(reason) => out.rejects.push(Reject {
                line_ref,
                line_no,
                reason,
            }),
        }
        offset = next;
    }
    out.parts = by_partition(rows, &partition_of, plan.count());
    out
}

/// Cuts a chunk's rows into one vector per partition that has any, keeping line order.
fn by_partition(rows: Vec<Row>, partition_of: &[u32], partitions: usize) -> Vec<(u32, Vec<Row>)> {
    if rows.is_empty() {
        return Vec::new();
    }
    if partitions == 1 {
        return vec![(0, rows)];
    }
    let mut counts = vec![0u32; partitions];
    for &p in partition_of {
        counts[p as usize] += 1;
    }
    let mut slot = vec![u32::MAX; partitions];
    let mut parts = Vec::new();
    for (p, &count) in counts.iter().enumerate() {
        if count > 0 {
            slot[p] = parts.len() as u32;
            parts.push((p as u32, Vec::with_capacity(count as usize)));
        }
    }
    for (row, &p) in rows.into_iter().zip(partition_of) {
        parts[slot[p as usize] as usize].1.push(row);
    }
    parts
}

/// Parses every body line of one file on the calling thread with one [`RowParser`] and
/// returns how many rows it accepted: the per-line parse alone (split, trim, normalise,
/// intern, fingerprint), without chunking, line counting, UTF-8 checks, checksums,
/// chaining or merging. For `benches/parse.rs`; not part of the engine's interface.
#[doc(hidden)]
pub fn parse_file_lines(file: &InventoryFile, registry: &Registry) -> u64 {
    let bytes: &[u8] = &file.bytes;
    let mut out = ChunkOutput {
        parts: Vec::new(),
        rejects: Vec::new(),
        lines: 0,
        sources: Interned::default(),
        groups: Interned::default(),
        device_types: Interned::default(),
        crc: 0,
        checkpoints: Vec::new(),
    };
    let mut parser = RowParser::new(file, registry);
    let mut accepted = 0;
    let mut offset = file.header.body_start;
    while offset < bytes.len() {
        let (line, next) = line_at(bytes, offset);
        if let Ok(row) = parser.parse(line, LineRef::new(0, offset), &mut out) {
            std::hint::black_box(row);
            accepted += 1;
        }
        offset = next;
    }
    accepted
}

/// Whether two rows of one chunk (same file, chunk-local interned ids) have the same
/// source and the same installation_id text. Escaped ids are never judged equal here.
fn same_installation(bytes: &[u8], a: &Row, b: &Row) -> bool {
    let text = |r: &Row| {
        let start = r.line_ref.offset() + r.installation_start as usize;
        &bytes[start..start + r.installation_len as usize]
    };
    a.source == b.source
        && a.installation_len == b.installation_len
        && a.installation_len != u32::MAX
        && text(a) == text(b)
}

/// The trimmed text of each known column of one split line.
pub struct RowFields<'a> {
    values: [&'a [u8]; 10],
}

impl<'a> RowFields<'a> {
    pub fn get(&self, column: Column) -> &'a [u8] {
        self.values[column as usize]
    }
}

/// Splits and normalises lines of one file. Holds the reused buffers, so parsing a line
/// allocates nothing once they have grown. The splitter (borrowed by the fields it
/// hands out) and the caches are separate, so a rejected line keeps the caches.
pub struct RowParser<'f> {
    file: &'f InventoryFile,
    registry: &'f Registry,
    splitter: LineSplitter,
    caches: Caches,
}

/// The buffers a line is split into.
struct LineSplitter {
    /// The known column each field of the header holds (by field index), or
    /// [`NO_COLUMN`].
    columns: Vec<u8>,
    /// The trimmed byte range of each known column in the line last split, when that
    /// line took the quote-free path (`in_line`); otherwise `fields` holds the split.
    ranges: [(u32, u32); 10],
    in_line: bool,
    scratch: Vec<u8>,
    fields: Vec<Field>,
}

/// A field of the header that is none of the ten known columns.
const NO_COLUMN: u8 = u8::MAX;

/// Buffers and the recent-value cache reused from row to row.
#[derive(Default)]
struct Caches {
    upper: Vec<u8>,
    recent: Recent,
}

/// The previous row's interned ids, supplier, installation key and dates, for the common
/// case of a repeat (the rows of one installation come together and share most of
/// their text). Only a cache: a fresh one just misses once.
struct Recent {
    source: u32,
    group: u32,
    device_type: u32,
    supplier: Vec<u8>,
    party: u32,
    /// The (interned source, installation_id text) whose key is `installation_key`.
    installation_source: u32,
    installation: Vec<u8>,
    installation_key: u64,
    installed_on: RecentDate,
    last_comms: RecentDate,
}

impl Default for Recent {
    fn default() -> Recent {
        Recent {
            source: u32::MAX,
            group: u32::MAX,
            device_type: u32::MAX,
            supplier: Vec::new(),
            party: UNKNOWN_PARTY,
            installation_source: u32::MAX,
            installation: Vec::new(),
            installation_key: 0,
            installed_on: RecentDate::default(),
            last_comms: RecentDate::default(),
        }
    }
}

/// The last text of one date column and what it parsed to.
#[derive(Default)]
struct RecentDate {
    text: Vec<u8>,
    value: Option<DateField>,
}

impl RecentDate {
    /// `Day::parse` of `text`, reusing the last result when the text repeats.
    fn parse(&mut self, text: &[u8]) -> DateField {
        if let Some(value) = self.value {
            if self.text == text {
                return value;
            }
        }
        let value = Day::parse(text).map_or(DateField::Invalid, DateField::Day);
        self.text.clear();
        self.text.extend_from_slice(text);
        self.value = Some(value);
        value
    }
}

impl LineSplitter {
    fn new(file: &InventoryFile) -> LineSplitter {
        let mut columns = vec![NO_COLUMN; file.header.field_count];
        for column in Column::ALL {
            if let Some(i) = file.position(column) {
                columns[i] = column as u8;
            }
        }
        LineSplitter {
            columns,
            ranges: [(0, 0); 10],
            in_line: false,
            scratch: Vec::new(),
            fields: Vec::new(),
        }
    }

    /// Splits a line and returns the trimmed known fields, or why it is rejected
    /// (quoting, field count, field length; the emptiness checks are the caller's).
    fn split<'l>(
        &'l mut self,
        file: &InventoryFile,
        line: &'l [u8],
    ) -> Result<RowFields<'l>, RejectReason> {
        let header = &file.header;
        // The common line holds no quote: one pass finds its delimiters (and would find
        // a quote), and each known column's trimmed range is noted as its field ends,
        // with no list of fields in between. No field of a line this short can be too
        // long, and without quotes the quoting cannot be malformed.
        if line.len() <= MAX_FIELD_LEN {
            let mut ranges = [(0u32, 0u32); 10];
            let columns = &self.columns;
            let count = split_unquoted(line, header.delimiter, |i, start, end| {
                if let Some(&column) = columns.get(i) {
                    if column != NO_COLUMN {
                        ranges[column as usize] = trimmed_range(line, start, end);
                    }
                }
            });
            if let Some(count) = count {
                if count != header.field_count {
                    return Err(RejectReason::WrongNumberOfFields);
                }
                self.ranges = ranges;
                self.in_line = true;
                let values = ranges.map(|(start, end)| &line[start as usize..end as usize]);
                return Ok(RowFields { values });
            }
        }
        self.in_line = false;
        split_line(line, header.delimiter, &mut self.scratch, &mut self.fields)?;
        if self.fields.len() != header.field_count {
            return Err(RejectReason::WrongNumberOfFields);
        }
        // Only a line longer than the limit can hold a field longer than it.
        if line.len() > MAX_FIELD_LEN
            && self
                .fields
                .iter()
                .any(|f| normalize::trim(f.bytes(line, &self.scratch)).len() > MAX_FIELD_LEN)
        {
            return Err(RejectReason::FieldTooLong);
        }
        let mut values: [&[u8]; 10] = [b""; 10];
        for column in Column::ALL {
            if let Some(i) = file.position(column) {
                values[column as usize] =
                    normalize::trim(self.fields[i].bytes(line, &self.scratch));
            }
        }
        Ok(RowFields { values })
    }

    /// The byte range of the trimmed installation_id within `line` (as last split), if
    /// contiguous.
    fn installation_range(&self, file: &InventoryFile, line: &[u8]) -> Option<(u32, u32)> {
        if self.in_line {
            let (start, end) = self.ranges[Column::InstallationId as usize];
            return Some((start, end - start));
        }
        let i = file.position(Column::InstallationId)?;
        let (start, end) = self.fields[i].in_line()?;
        let raw = &line[start as usize..end as usize];
        let lead = raw.len() - raw.iter().skip_while(|&&b| normalize::is_space(b)).count();
        let len = normalize::trim(raw).len();
        Some((start + lead as u32, len as u32))
    }
}

/// A row's values read from its fields: identifiers normalised, dates parsed.
struct Values {
    meter_kind: MeterKind,
    mpxn: MpxnField,
    guid: Option<Guid>,
    installed_on: DateField,
    last_comms: DateField,
    dormant: bool,
}

impl Values {
    fn of(fields: &RowFields<'_>, recent: &mut Recent) -> Values {
        let meter_kind = meter_kind(fields.get(Column::DeviceType));
        Values {
            meter_kind,
            mpxn: read_mpxn(meter_kind, fields.get(Column::Mpxn)),
            guid: Guid::parse(fields.get(Column::DeviceId)),
            installed_on: recent.installed_on.parse(fields.get(Column::InstalledOn)),
            last_comms: match fields.get(Column::LastCommsAt) {
                b"" => DateField::None,
                text => recent.last_comms.parse(text),
            },
            dormant: normalize::is_dormant(fields.get(Column::Dormant)),
        }
    }
}

/// The range of `line[start..end]` with SPEC's ASCII whitespace trimmed from both ends
/// (as [`normalize::trim`]; an all-space field gives an empty range at `end`).
#[inline]
fn trimmed_range(line: &[u8], mut start: usize, mut end: usize) -> (u32, u32) {
    while start < end && normalize::is_space(line[start]) {
        start += 1;
    }
    while end > start && normalize::is_space(line[end - 1]) {
        end -= 1;
    }
    (start as u32, end as u32)
}

impl<'f> RowParser<'f> {
    pub fn new(file: &'f InventoryFile, registry: &'f Registry) -> RowParser<'f> {
        RowParser {
            file,
            registry,
            splitter: LineSplitter::new(file),
            caches: Caches::default(),
        }
    }

    /// Splits a line and returns the trimmed known fields, or why it is rejected (quoting,
    /// field count and length; the emptiness checks are the caller's).
    pub fn split<'l>(&'l mut self, line: &'l [u8]) -> Result<RowFields<'l>, RejectReason> {
        self.splitter.split(self.file, line)
    }

    /// One line → one row, or why it is rejected (SPEC §5, in the Appendix's order).
    fn parse(
        &mut self,
        line: &[u8],
        line_ref: LineRef,
        out: &mut ChunkOutput,
    ) -> Result<Row, RejectReason> {
        let fields = self.splitter.split(self.file, line)?;
        let source = fields.get(Column::Source);
        if source.is_empty() {
            return Err(RejectReason::EmptySource);
        }
        let installation = fields.get(Column::InstallationId);
        if installation.is_empty() {
            return Err(RejectReason::EmptyInstallationId);
        }
        let caches = &mut self.caches;
        let values = Values::of(&fields, &mut caches.recent);
        let party = caches.party_of(self.registry, fields.get(Column::SupplierId));
        let recent = &mut caches.recent;
        let upper = &mut caches.upper;
        let source_id = out.sources.intern_upper(source, &mut recent.source, upper);
        let installation_key =
            recent.installation_key(out.sources.get(source_id), source_id, installation);
        let group = match fields.get(Column::GroupId) {
            b"" => NO_GROUP,
            g => out.groups.intern_upper(g, &mut recent.group, upper),
        };
        // Chunk-local ids are remapped (and capped to u16) when chunks are merged.
        let device_type_id = out.device_types.intern_upper(
            fields.get(Column::DeviceType),
            &mut recent.device_type,
            upper,
        );
        let device_type = u16::try_from(device_type_id).unwrap_or(OTHER_DEVICE_TYPE);
        let fingerprint = fingerprint(
            installation_key,
            &values,
            &fields,
            group_text(&out.groups, group),
            out.device_types.get(device_type_id),
            party,
        );
        let (installation_start, installation_len) = self
            .splitter
            .installation_range(self.file, line)
            .unwrap_or((0, u32::MAX));
        Ok(values.into_row(Row {
            line_ref,
            installation_key,
            fingerprint,
            installation_start,
            installation_len,
            source: source_id,
            group,
            party,
            device_type,
            // Every other field is set by `into_row` (flags included).
            ..Row::BLANK
        }))
    }
}

impl Caches {
    /// The party of a supplier id, remembered for the next row (rows of one supplier
    /// come in runs; the non-meters between them have none, and do not reset the cache).
    fn party_of(&mut self, registry: &Registry, supplier: &[u8]) -> u32 {
        if supplier.is_empty() {
            // As `Registry::party_of` answers.
            return UNKNOWN_PARTY;
        }
        if self.recent.supplier != supplier {
            self.recent.party = registry.party_of(supplier, &mut self.upper);
            self.recent.supplier.clear();
            self.recent.supplier.extend_from_slice(supplier);
        }
        self.recent.party
    }
}

impl Recent {
    /// The installation key of (upper-cased source, installation_id): the hash of the two
    /// texts, remembered for the next row (`source_id` stands for the source's text).
    fn installation_key(&mut self, source: &[u8], source_id: u32, installation: &[u8]) -> u64 {
        if self.installation_source != source_id || self.installation != installation {
            self.installation_key = HASH.hash_one((source, installation));
            self.installation_source = source_id;
            self.installation.clear();
            self.installation.extend_from_slice(installation);
        }
        self.installation_key
    }
}

/// The upper-cased group_id text of an interned group (empty for [`NO_GROUP`]).
fn group_text(groups: &Interned, group: u32) -> &[u8] {
    match group {
        NO_GROUP => b"",
        g => groups.get(g),
    }
}

/// A row's fingerprint: equal for rows with equal [`identity_bytes`], and rarely equal
/// otherwise. It only has to be a *function* of the identity, because grouping compares
/// fingerprints only between rows of one installation and confirms every equal pair on
/// the full identity bytes (`matching::push_installation`). So it hashes values parsing
/// has already made, none of which depends on the chunk or the thread count: the
/// installation key (source and installation_id), the upper-cased group and device
/// type, the supplier's party, the parsed dates, the dormant flag, and the canonical
/// GUID and MPxN (their trimmed text when they do not normalise). Several identities
/// can share these (two supplier ids of one party, two spellings of a date); such rows
/// just cost a confirmation. No identity bytes are built per row.
fn fingerprint(
    installation_key: u64,
    values: &Values,
    fields: &RowFields<'_>,
    group: &[u8],
    device_type: &[u8],
    party: u32,
) -> u64 {
    let mut h = HASH.build_hasher();
    h.write_u64(installation_key);
    h.write(group);
    h.write(device_type);
    h.write_u32(party);
    h.write_i32(pack_date(values.installed_on));
    h.write_i32(pack_date(values.last_comms));
    h.write_u8(u8::from(values.dormant));
    match values.guid {
        Some(g) => h.write_u64(g.to_u64()),
        None => {
            h.write_u8(b'D');
            h.write(fields.get(Column::DeviceId));
        }
    }
    match values.mpxn {
        MpxnField::Valid(key) => h.write_u64(key.to_raw()),
        _ => {
            h.write_u8(b'X');
            h.write(fields.get(Column::Mpxn));
        }
    }
    h.finish()
}

impl Values {
    /// Fills the row's value fields (device, MPxN, dates, flags).
    fn into_row(self, row: Row) -> Row {
        let flags = match self.meter_kind {
            MeterKind::None => 0,
            MeterKind::Esme => FLAG_ESME,
            MeterKind::Gsme => FLAG_GSME,
        } | if self.dormant { FLAG_DORMANT } else { 0 };
        Row {
            device: self.guid.map_or(0, Guid::to_u64),
            mpxn_raw: match self.mpxn {
                MpxnField::NotApplicable => MPXN_NOT_APPLICABLE,
                MpxnField::Missing => MPXN_MISSING,
                MpxnField::Invalid => MPXN_INVALID,
                MpxnField::Valid(key) => key.to_raw(),
            },
            installed_on: pack_date(self.installed_on),
            last_comms: pack_date(self.last_comms),
            flags,
            chain: 0,
            ..row
        }
    }
}

/// The fixed hasher for installation keys and fingerprints. Hash values never reach the
/// output (equal hashes are always confirmed on the text), but a fixed seed keeps
/// intermediate orders reproducible when debugging.
static HASH: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x6d70_786e);

fn upper_into(buf: &mut Vec<u8>, text: &[u8]) {
    buf.clear();
    buf.extend(text.iter().map(u8::to_ascii_uppercase));
}

fn meter_kind(device_type: &[u8]) -> MeterKind {
    if device_type.eq_ignore_ascii_case(b"ESME") {
        MeterKind::Esme
    } else if device_type.eq_ignore_ascii_case(b"GSME") {
        MeterKind::Gsme
    } else {
        MeterKind::None
    }
}

fn read_mpxn(kind: MeterKind, text: &[u8]) -> MpxnField {
    match kind {
        MeterKind::None => MpxnField::NotApplicable,
        _ if text.is_empty() => MpxnField::Missing,
        MeterKind::Esme => {
            Mpan::parse(text).map_or(MpxnField::Invalid, |m| MpxnField::Valid(MpxnKey::mpan(m)))
        }
        MeterKind::Gsme => {
            Mprn::parse(text).map_or(MpxnField::Invalid, |m| MpxnField::Valid(MpxnKey::mprn(m)))
        }
    }
}

/// Writes the identity of a row (SPEC Appendix, "Identical rows") as bytes: two rows are
/// identical iff these bytes are equal. Case-insensitive columns are upper-cased; the
/// device id and a meter's MPxN are written in canonical form when they normalise,
/// otherwise as trimmed text. Every field is tagged and texts end in 0xFF (which never
/// occurs in UTF-8), so the encoding is injective.
pub fn identity_bytes(fields: &RowFields<'_>, out: &mut Vec<u8>) {
    let guid = Guid::parse(fields.get(Column::DeviceId));
    let kind = meter_kind(fields.get(Column::DeviceType));
    let mpxn = read_mpxn(kind, fields.get(Column::Mpxn));
    out.clear();
    let text = |out: &mut Vec<u8>, tag: u8, t: &[u8]| {
        out.push(tag);
        out.extend_from_slice(t);
        out.push(0xFF);
    };
    let upper = |out: &mut Vec<u8>, tag: u8, t: &[u8]| {
        out.push(tag);
        out.extend(t.iter().map(u8::to_ascii_uppercase));
        out.push(0xFF);
    };
    upper(out, b's', fields.get(Column::Source));
    upper(out, b'g', fields.get(Column::GroupId));
    upper(out, b'u', fields.get(Column::SupplierId));
    upper(out, b't', fields.get(Column::DeviceType));
    text(out, b'i', fields.get(Column::InstallationId));
    text(out, b'o', fields.get(Column::InstalledOn));
    text(out, b'c', fields.get(Column::LastCommsAt));
    text(out, b'd', fields.get(Column::Dormant));
    match guid {
        Some(g) => {
            out.push(b'G');
            out.extend_from_slice(&g.to_u64().to_le_bytes());
        }
        None => text(out, b'D', fields.get(Column::DeviceId)),
    }
    match mpxn {
        MpxnField::Valid(key) => {
            out.push(b'M');
            out.extend_from_slice(&key.to_raw().to_le_bytes());
        }
        _ => text(out, b'X', fields.get(Column::Mpxn)),
    }
}

/// Reads back one accepted row's line and applies `f` to its split fields. Used on the
/// rare paths (identical-row confirmation, escaped installation ids), never per row.
pub fn with_fields<R>(
    files: &[InventoryFile],
    registry: &Registry,
    line_ref: LineRef,
    f: impl FnOnce(&RowFields<'_>) -> R,
) -> R {
    let file = &files[line_ref.file()];
    let (line, _) = line_at(&file.bytes, line_ref.offset());
    let mut parser = RowParser::new(file, registry);
    let fields = parser
        .split(line)
        .expect("an accepted row splits the same way twice");
    f(&fields)
}

/// The raw text of a line (terminator removed), for rejects.csv.
pub fn raw_line(files: &[InventoryFile], line_ref: LineRef) -> &[u8] {
    line_at(&files[line_ref.file()].bytes, line_ref.offset()).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_link_only_consecutive_rows_of_one_installation() {
        let dir = tempfile::tempdir().unwrap();
        let inventory = dir.path().join("inv.csv");
        let header = "source,group_id,installation_id,device_id,device_type,mpxn,installed_on,\
                      last_comms_at,supplier_id,dormant\n";
        let line = |source: &str, id: &str, guid: &str| {
            format!("{source},A,{id},{guid},CHF,,2020-01-01,,,\n")
        };
        let text = [
            header.to_string(),
            line("SMSO-A", "I1", "0000000000000001"),
            line("smso-a", " I1 ", "0000000000000002"), // same after normalising
            line("SMSO-A", "I2", "0000000000000003"),
            line("SMSO-B", "I2", "0000000000000004"), // other source
            line("SMSO-B", "i2", "0000000000000005"), // ids are case-sensitive
            "SMSO-B,A,,x,CHF,,2020-01-01,,,\n".to_string(), // rejected: no id
            line("SMSO-B", "i2", "0000000000000006"),
            line("SMSO-B", "\"i2\"", "0000000000000007"),
            line("SMSO-B", "\"i\"\"2\"", "0000000000000008"), // escaped: never chained
            line("SMSO-B", "\"i\"\"2\"", "0000000000000009"),
        ]
        .concat();
        std::fs::write(&inventory, text).unwrap();
        let suppliers = dir.path().join("suppliers.csv");
        std::fs::write(&suppliers, "supplier_id,party_id,name,status\n").unwrap();
        let registry = Registry::open(&suppliers).unwrap();
        let files = vec![InventoryFile::open(&inventory).unwrap()];
        let rows = |settings| {
            let mut ingested = ingest(&files, &registry, settings, &Budget::unlimited()).unwrap();
            assert_eq!(ingested.rows_read, 10);
            assert_eq!(ingested.rejects.len(), 1);
            let buckets = &mut ingested.partitions;
            let partitions: Vec<Vec<Row>> = (0..buckets.count())
                .map(|p| buckets.take(p).unwrap())
                .filter(|rows| !rows.is_empty())
                .collect();
            partitions
        };
        // One partition: the nine accepted rows in line order.
        let pieces = rows(IngestSettings::default());
        assert_eq!(pieces.len(), 1);
        let chains: Vec<u8> = pieces[0].iter().map(|r| r.chain).collect();
        assert_eq!(chains, [0, 1, 0, 0, 0, 1, 2, 0, 0]);
        let heads: Vec<u32> = (pieces[0].iter().enumerate())
            .map(|(i, r)| r.chain_head(i as u32))
            .collect();
        assert_eq!(heads, [0, 0, 2, 3, 4, 4, 4, 7, 8]);
        // A chunk never chains to the previous chunk's rows.
        let tiny = IngestSettings {
            chunk_bytes: 1,
            ..IngestSettings::default()
        };
        assert!(rows(tiny).iter().flatten().all(|r| r.chain == 0));
        // Partitioned: an installation's rows stay together and keep their chain.
        let split = IngestSettings {
            partition_bytes: 1,
            ..IngestSettings::default()
        };
        let pieces = rows(split);
        assert!(pieces.len() > 1);
        let chained: Vec<u8> = pieces.iter().flatten().map(|r| r.chain).collect();
        assert_eq!(chained.iter().map(|&c| u32::from(c)).sum::<u32>(), 4);
    }

    #[test]
    fn identical_rows_share_a_fingerprint_on_either_split_path() {
        let first12 = "140012345678";
        let check = Mpan::check_digit(first12.as_bytes()).unwrap();
        let mpan = format!("{first12}{check}");
        let spaced = format!("{} {}", &mpan[..4], &mpan[4..]);
        let row = |cells: [&str; 10]| cells.join(",") + "\n";
        let same = [
            row([
                "SMSO-A",
                "GA",
                "I1",
                "00-0D-6F-00-00-12-34-56",
                "ESME",
                &mpan,
                "2020-01-01",
                "2024-01-01T10:00:00Z",
                "S1",
                "Y",
            ]),
            // Case, whitespace and spelling that normalise away.
            row([
                "smso-a",
                " ga ",
                "I1\t",
                "000d6f0000123456",
                "esme",
                &spaced,
                "2020-01-01",
                "2024-01-01T10:00:00Z",
                "s1",
                "Y",
            ]),
            // The same through the quoted path.
            row([
                "\"SMSO-A\"",
                "\"Ga\"",
                "\"I1\"",
                "\"00:0D:6F:00:00:12:34:56\"",
                "ESME",
                &format!("\"{mpan}\""),
                "2020-01-01",
                "2024-01-01T10:00:00Z",
                "S1",
                "\"Y\"",
            ]),
        ];
        let differ = [
            row([
                "SMSO-A",
                "GB",
                "I1",
                "00-0D-6F-00-00-12-34-56",
                "ESME",
                &mpan,
                "2020-01-01",
                "2024-01-01T10:00:00Z",
                "S1",
                "Y",
            ]),
            row([
                "SMSO-A",
                "GA",
                "I1",
                "00-0D-6F-00-00-12-34-57",
                "ESME",
                &mpan,
                "2020-01-01",
                "2024-01-01T10:00:00Z",
                "S1",
                "Y",
            ]),
            row([
                "SMSO-A",
                "GA",
                "I1",
                "00-0D-6F-00-00-12-34-56",
                "ESME",
                &mpan,
                "2020-01-02",
                "2024-01-01T10:00:00Z",
                "S1",
                "Y",
            ]),
            row([
                "SMSO-A",
                "GA",
                "I1",
                "00-0D-6F-00-00-12-34-56",
                "ESME",
                &mpan,
                "2020-01-01",
                "",
                "S1",
                "Y",
            ]),
            row([
                "SMSO-A",
                "GA",
                "I1",
                "00-0D-6F-00-00-12-34-56",
                "GSME",
                &mpan,
                "2020-01-01",
                "2024-01-01T10:00:00Z",
                "S1",
                "Y",
            ]),
            row([
                "SMSO-A",
                "GA",
                "I1",
                "not-a-guid",
                "ESME",
                "not-an-mpan",
                "2020-01-01",
                "2024-01-01T10:00:00Z",
                "S1",
                "N",
            ]),
        ];
        let dir = tempfile::tempdir().unwrap();
        let inventory = dir.path().join("inv.csv");
        let header = "source,group_id,installation_id,device_id,device_type,mpxn,installed_on,\
                      last_comms_at,supplier_id,dormant\n";
        let text = [header.to_string()]
            .into_iter()
            .chain(same.iter().cloned())
            .chain(differ.iter().cloned());
        std::fs::write(&inventory, text.collect::<String>()).unwrap();
        let suppliers = dir.path().join("suppliers.csv");
        std::fs::write(
            &suppliers,
            "supplier_id,party_id,name,status\nS1,P1,One,live\n",
        )
        .unwrap();
        let registry = Registry::open(&suppliers).unwrap();
        let files = vec![InventoryFile::open(&inventory).unwrap()];
        let mut ingested = ingest(
            &files,
            &registry,
            IngestSettings::default(),
            &Budget::unlimited(),
        )
        .unwrap();
        assert_eq!(ingested.partitions.count(), 1);
        let rows = ingested.partitions.take(0).unwrap();
        assert_eq!(rows.len(), same.len() + differ.len());
        let identity = |r: &Row| {
            let mut out = Vec::new();
            with_fields(&files, &registry, r.line_ref, |f| {
                identity_bytes(f, &mut out)
            });
            out
        };
        for r in &rows[1..same.len()] {
            assert_eq!(identity(r), identity(&rows[0]));
            assert_eq!(r.fingerprint, rows[0].fingerprint);
            assert_eq!(r.installation_key, rows[0].installation_key);
        }
        for r in &rows[same.len()..] {
            assert_ne!(identity(r), identity(&rows[0]));
            assert_ne!(r.fingerprint, rows[0].fingerprint);
            assert_eq!(r.installation_key, rows[0].installation_key);
        }
    }

    #[test]
    fn row_stays_small() {
        // The memory figures in lib.rs and the CLI help depend on this.
        assert_eq!(std::mem::size_of::<Row>(), 72);
    }
}
