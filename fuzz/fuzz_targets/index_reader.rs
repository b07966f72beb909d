//! Fuzz target: the bytes are an index file (`.mxi`), opened and read as
//! `mpxn-recon index verify | info`, `lookup`, `portfolio` and `sweep --index` do.
//!
//! Each input is read twice:
//! 1. as it is — nearly every mutation is caught by a checksum (header, section table,
//!    or a section's CRC-32C), which is what the file format promises;
//! 2. with its checksums recomputed and its recorded length set to the real one (a
//!    "crafted" file: anyone can recompute a CRC), so mutations of the header fields,
//!    the section table and every section's contents reach the view, the judge, the
//!    report, the lookups (the sorted key maps too) and the per-party reports. The
//!    library's claim is that a corrupt index gives `IndexError` / `FileError`, never a
//!    panic.
//!
//! Also checks that the openings agree: a file that `open`s with no damaged section
//! opens with `open_verified` and with `open_verified_for(SweepSections)`.
//! The reader only opens paths (`IndexFile::open*(&Path)`), so the bytes are written to
//! a scratch file on tmpfs first.

use afl::fuzz;
use fuzz_common::{policy, read_index_file, scratch_file, Scratch};

const HEADER_LEN: usize = mpxn_recon::index::file::HEADER_LEN;
const ENTRY_LEN: usize = mpxn_recon::index::file::ENTRY_LEN;

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The file with every checksum recomputed (index/README.md's layout): each section
/// entry's CRC-32C over its bytes (when they lie in the file), then the table's, the
/// header's; and the header's file length set to the real length. `None` when there is
/// no header or the table does not fit.
fn with_checksums(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < HEADER_LEN {
        return None;
    }
    let mut b = data.to_vec();
    let len = b.len() as u64;
    b[16..24].copy_from_slice(&len.to_le_bytes());
    let count = le_u32(&b, 12) as usize;
    let table_end = count
        .checked_mul(ENTRY_LEN)
        .and_then(|t| t.checked_add(HEADER_LEN))
        .filter(|&end| end <= b.len())?;
    for i in 0..count {
        let at = HEADER_LEN + i * ENTRY_LEN;
        let (offset, length) = (le_u64(&b, at + 8), le_u64(&b, at + 16));
        let Some(end) = offset.checked_add(length).filter(|&e| e <= b.len() as u64) else {
            continue;
        };
        let crc = crc32c::crc32c(&b[offset as usize..end as usize]);
        b[at + 24..at + 28].copy_from_slice(&crc.to_le_bytes());
    }
    let table_crc = crc32c::crc32c(&b[HEADER_LEN..table_end]);
    b[24..28].copy_from_slice(&table_crc.to_le_bytes());
    let header_crc = crc32c::crc32c(&b[..28]);
    b[28..32].copy_from_slice(&header_crc.to_le_bytes());
    Some(b)
}

fn main() {
    let _scratch = Scratch;
    let policy = policy();
    fuzz!(|data: &[u8]| {
        let path = scratch_file("index.mxi", data);
        read_index_file(&path, policy);
        if let Some(fixed) = with_checksums(data) {
            if fixed != data {
                let path = scratch_file("index.mxi", &fixed);
                read_index_file(&path, policy);
            }
        }
    });
}
