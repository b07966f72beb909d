//! The index format, apart from its builder and its readers: the values a section holds
//! and how they are encoded — sentinels in day and index columns, flag bits, string
//! references into the heap, and the build metadata
//! ([`BuildMeta`], with its [`InputFile`]s and [`Accounting`]). `build` writes these and
//! `read` decodes them; every other module reads the index through `read`'s typed
//! accessors and never sees them. The byte layout is specified in `index/README.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Sentinels in day columns.
pub const DAY_NONE: i32 = i32::MAX;
pub const DAY_UNKNOWN: i32 = i32::MIN;
/// "No entry" in u32 index columns (no GroupID, unknown party, no group).
pub const NONE_U32: u32 = u32::MAX;

/// `inst_flags` bits.
pub const INST_SMETS2: u32 = 1;
pub const INST_COMMS_UNREADABLE: u32 = 2;
/// `dev_flags` bits.
pub const DEV_DORMANT: u32 = 1;

/// A string reference into the heap: offset (40 bits) and length (24 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrRef(pub u64);

impl StrRef {
    pub const MAX_LEN: usize = (1 << 24) - 1;

    pub fn new(offset: usize, len: usize) -> StrRef {
        debug_assert!(len <= Self::MAX_LEN && (offset as u64) < 1 << 40);
        StrRef(((offset as u64) << 24) | len as u64)
    }

    pub(crate) fn range(self) -> std::ops::Range<usize> {
        let offset = (self.0 >> 24) as usize;
        offset..offset + (self.0 & Self::MAX_LEN as u64) as usize
    }
}

/// SPEC §5's row accounting. `read == accepted + rejected + duplicate_rows` always.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Accounting {
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub duplicate_rows: u64,
}

/// One input file, as `meta` and summary.json record it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    pub path: String,
    pub bytes: u64,
    pub crc32c: String,
}

/// What an index records about how it was built (the `meta` section, postcard-encoded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildMeta {
    pub engine: String,
    pub version: String,
    pub inventories: Vec<InputFile>,
    pub suppliers: InputFile,
    pub rows: Accounting,
    pub rejects_by_reason: BTreeMap<String, u64>,
}

/// A FUTURE_COMMS candidate whose `last_comms_at` is written as its day's own
/// `YYYY-MM-DD` (most are), as `comms_rows` keeps it: 16 bytes, little-endian:
/// `inst u32 | day i32 | file u16 (top) and line (low 48 bits) u64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommsRow {
    pub inst: u32,
    pub day: i32,
    pub file: u16,
    pub line: u64,
}

impl CommsRow {
    pub const WIDTH: usize = 16;
    const LINE_BITS: u32 = 48;

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.inst.to_le_bytes());
        out.extend_from_slice(&self.day.to_le_bytes());
        let packed =
            (u64::from(self.file) << Self::LINE_BITS) | (self.line & ((1 << Self::LINE_BITS) - 1));
        out.extend_from_slice(&packed.to_le_bytes());
    }

    /// Decodes one record; `b` is exactly [`CommsRow::WIDTH`] bytes.
    pub fn read(b: &[u8]) -> CommsRow {
        let packed = u64::from_le_bytes(b[8..16].try_into().expect("8 bytes"));
        CommsRow {
            inst: u32::from_le_bytes(b[0..4].try_into().expect("4 bytes")),
            day: i32::from_le_bytes(b[4..8].try_into().expect("4 bytes")),
            file: (packed >> Self::LINE_BITS) as u16,
            line: packed & ((1 << Self::LINE_BITS) - 1),
        }
    }
}

/// One row of findings.csv as `finding_rows` keeps it: 32 bytes, little-endian.
///
/// ```text
///  0      4      8              16             24     26  27  28     32
/// +------+------+--------------+--------------+------+---+---+------+
/// | inst | day  | line (u64)   | raw (StrRef) | file |fnd|col| zero |
/// +------+------+--------------+--------------+------+---+---+------+
/// ```
///
/// `file` is the inventory's rank in path order (as `meta` lists them), `finding` a
/// `resolve::Finding` discriminant, `column` an `ingest::Column` discriminant. `day` is
/// the `last_comms_at` of a FUTURE_COMMS candidate (listed when after the as-of date)
/// and `DAY_NONE` otherwise; a candidate's `raw` of length 0 means the text is the
/// day's own `YYYY-MM-DD` (a parseable date is never empty). A build writes such
/// candidates as 16-byte [`CommsRow`]s instead, so only timestamps and the like get here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FindingRow {
    pub inst: u32,
    pub day: i32,
    pub line: u64,
    pub raw: StrRef,
    pub file: u16,
    pub finding: u8,
    pub column: u8,
}

impl FindingRow {
    pub const WIDTH: usize = 32;

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.inst.to_le_bytes());
        out.extend_from_slice(&self.day.to_le_bytes());
        out.extend_from_slice(&self.line.to_le_bytes());
        out.extend_from_slice(&self.raw.0.to_le_bytes());
        out.extend_from_slice(&self.file.to_le_bytes());
        out.push(self.finding);
        out.push(self.column);
        out.extend_from_slice(&[0u8; 4]);
    }

    /// Decodes one record; `b` is exactly [`FindingRow::WIDTH`] bytes.
    pub fn read(b: &[u8]) -> FindingRow {
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        FindingRow {
            inst: u32_at(0),
            day: u32_at(4) as i32,
            line: u64_at(8),
            raw: StrRef(u64_at(16)),
            file: u16::from_le_bytes([b[24], b[25]]),
            finding: b[26],
            column: b[27],
        }
    }
}
