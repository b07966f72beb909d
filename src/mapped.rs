//! Mapped input files: the crate's only `unsafe`.
//!
//! Takes a path and hands back the file's bytes as a `&[u8]` that lives as long as the
//! [`MappedFile`]. Everything downstream works on plain slices (so tests can use
//! `Vec<u8>`), and validates what it reads: nothing here interprets the bytes.

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::path::Path;

/// The bytes of one input file, memory-mapped read-only (an empty file is held as an
/// empty slice: a zero-length mapping is not portable).
pub struct MappedFile {
    bytes: Backing,
}

enum Backing {
    Mapped(memmap2::Mmap),
    Empty,
}

impl MappedFile {
    /// Maps the whole file. O(1): pages are read on first touch, so the cost is paid by
    /// whoever scans the bytes. Fails with the OS error if the file cannot be opened or
    /// mapped.
    pub fn open(path: &Path) -> io::Result<MappedFile> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        if len == 0 {
            return Ok(MappedFile {
                bytes: Backing::Empty,
            });
        }
        // SAFETY: the mapping is read-only and private to this process. The remaining
        // risk is another process truncating or rewriting the file while we hold the
        // map: truncation raises SIGBUS, rewriting changes bytes under us. Inputs are
        // inventory snapshots that nobody edits during a sweep; every byte read is
        // validated as untrusted text anyway, so a concurrent rewrite can at worst
        // produce wrong findings, never undefined behaviour in safe code downstream.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        // Inputs are scanned front to back; the hint only affects read-ahead.
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(MappedFile {
            bytes: Backing::Mapped(map),
        })
    }
}

impl Deref for MappedFile {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.bytes {
            Backing::Mapped(m) => m,
            Backing::Empty => &[],
        }
    }
}
