//! The index file: header, section table, atomic write, validated open, verify.
//!
//! Takes an [`Image`] and writes it as one `.mxi` file: a 64-byte header, a table of
//! 32-byte section entries (id, offset, length, CRC-32C), then the sections, each
//! 8-byte aligned. Writing goes to a temporary file in the target directory, is synced
//! and renamed into place, so an interrupted build leaves any previous index intact.
//! [`IndexFile::open`] maps the file and checks, before handing out any slice: size,
//! magic, version, the header's and table's checksums, that every section is present
//! once and lies inside the file, and (through [`View::new`]) that every column has the
//! length its counts imply. It also checksums the two fst sections, because fst reads
//! trust their bytes. [`IndexFile::verify`] checks every section's checksum and names
//! each damaged one; [`IndexFile::open_verified_for`] verifies only what a caller reads
//! (a sweep skips the device columns and lookup maps, most of a national index) and
//! hands out views without the rest. Byte layout: `index/README.md`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{Image, IndexError, Section, View, SECTION_COUNT};
use crate::mapped::MappedFile;
use crate::publish::{OutputSet, PublishError};

/// The file's first eight bytes.
pub const MAGIC: [u8; 8] = *b"MPXNIDX\0";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
pub const HEADER_LEN: usize = 64;
pub const ENTRY_LEN: usize = 32;
const ALIGN: usize = 8;

/// Why an index file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    #[error("{path}: cannot read: {error}")]
    Io {
        path: PathBuf,
        // In the message, not chained: `main` prints the chain with `{:#}`.
        error: io::Error,
    },
    #[error("{path}: {problem}; rebuild it with `mpxn-recon index build`")]
    Invalid { path: PathBuf, problem: String },
    #[error("{path}: index format v{found}, this build reads v{FORMAT_VERSION}; rebuild it with `mpxn-recon index build`")]
    Version { path: PathBuf, found: u32 },
    #[error("{path}: damaged: {}; rebuild it with `mpxn-recon index build`", .sections.join(", "))]
    Checksums {
        path: PathBuf,
        sections: Vec<String>,
    },
    #[error("{path}: {problem}")]
    Damaged { path: PathBuf, problem: IndexError },
    #[error(
        "{path}: the index changed while it was being read (rewritten in place); nothing was \
         written. Replace an index by building a new one (it is renamed into place), never by \
         editing it"
    )]
    Changed { path: PathBuf },
}

/// One entry of the section table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub section: Section,
    pub offset: u64,
    pub length: u64,
    pub crc32c: u32,
}

/// Writes `image` to `path` atomically: staged in a new temporary file beside it
/// (see [`crate::publish`]), synced, renamed into place. Returns the file's size.
pub fn write(image: &Image, path: &Path) -> Result<u64, PublishError> {
    let mut set = OutputSet::beside(path)?;
    let size = stage(image, &mut set, path)?;
    set.commit()?;
    Ok(size)
}

/// Stages `image` in `set` under `path`'s file name; the caller commits the set.
pub fn stage(image: &Image, set: &mut OutputSet, path: &Path) -> Result<u64, PublishError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "index.mxi".to_string());
    let target = set.target(&name);
    let werr = |error| PublishError::Write {
        path: target.clone(),
        error,
    };
    let digest = set.stage(&name, |w| write_to(image, w).map(drop).map_err(werr))?;
    Ok(digest.bytes)
}

fn write_to(image: &Image, w: &mut impl Write) -> io::Result<u64> {
    let crcs: Vec<u32> = image
        .sections
        .par_iter()
        .map(|s| crc32c::crc32c(s))
        .collect();
    let mut offset = (HEADER_LEN + SECTION_COUNT * ENTRY_LEN) as u64;
    let mut table = Vec::with_capacity(SECTION_COUNT * ENTRY_LEN);
    let mut placed = Vec::with_capacity(SECTION_COUNT);
    for (i, section) in Section::ALL.iter().enumerate() {
        offset = offset.next_multiple_of(ALIGN as u64);
        let length = image.sections[i].len() as u64;
        table.extend_from_slice(&(*section as u32).to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes());
        table.extend_from_slice(&offset.to_le_bytes());
        table.extend_from_slice(&length.to_le_bytes());
        table.extend_from_slice(&crcs[i].to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes());
        placed.push(offset);
        offset += length;
    }
    let file_len = offset;
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&(SECTION_COUNT as u32).to_le_bytes());
    header.extend_from_slice(&file_len.to_le_bytes());
    header.extend_from_slice(&crc32c::crc32c(&table).to_le_bytes());
    let header_crc = crc32c::crc32c(&header);
    header.extend_from_slice(&header_crc.to_le_bytes());
    header.resize(HEADER_LEN, 0);

    w.write_all(&header)?;
    w.write_all(&table)?;
    let mut at = (HEADER_LEN + table.len()) as u64;
    for (i, bytes) in image.sections.iter().enumerate() {
        let pad = (placed[i] - at) as usize;
        w.write_all(&[0u8; ALIGN][..pad])?;
        w.write_all(bytes)?;
        at = placed[i] + bytes.len() as u64;
    }
    Ok(file_len)
}

/// An opened, structurally checked index file.
pub struct IndexFile {
    path: PathBuf,
    bytes: MappedFile,
    entries: Vec<Entry>,
    /// What [`IndexFile::view`] shows: with [`Reads::SweepSections`], the lookup-only
    /// sections are left out (empty), so nothing unverified can be read.
    reads: Reads,
}

/// Which sections a caller reads, and so which must be verified before use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    /// Every section (lookups, portfolios, `index info`).
    Everything,
    /// What a sweep reads: everything but the device columns and the lookup maps
    /// ([`Section::lookup_only`]). At national scale that skips most of the file.
    SweepSections,
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl IndexFile {
    /// Maps and checks an index file (see the module doc). O(header + table + fst
    /// sections); column contents are checked as they are read.
    pub fn open(path: &Path) -> Result<IndexFile, FileError> {
        IndexFile::open_for(path, Reads::Everything)
    }

    /// Fails if the file was rewritten in place since it was opened: what was read
    /// from it may mix two versions. (A rename-replacement leaves our mapping whole.)
    pub fn check_unchanged(&self) -> Result<(), FileError> {
        match self.bytes.unchanged() {
            Ok(true) => Ok(()),
            Ok(false) => Err(FileError::Changed {
                path: self.path.clone(),
            }),
            Err(error) => Err(FileError::Io {
                path: self.path.clone(),
                error,
            }),
        }
    }

    fn open_for(path: &Path, reads: Reads) -> Result<IndexFile, FileError> {
        let bytes = MappedFile::open(path).map_err(|error| FileError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let invalid = |problem: String| FileError::Invalid {
            path: path.to_path_buf(),
            problem,
        };
        let b: &[u8] = &bytes;
        if b.len() < HEADER_LEN {
            return Err(invalid(format!(
                "the file is {} bytes, shorter than the {HEADER_LEN}-byte header (truncated?)",
                b.len()
            )));
        }
        if b[..8] != MAGIC {
            return Err(invalid(
                "not an mpxn-recon index (wrong magic bytes)".into(),
            ));
        }
        if crc32c::crc32c(&b[..28]) != le_u32(b, 28) || b[32..HEADER_LEN].iter().any(|&x| x != 0) {
            return Err(invalid("the header is damaged (checksum mismatch)".into()));
        }
        let version = le_u32(b, 8);
        if version != FORMAT_VERSION {
            return Err(FileError::Version {
                path: path.to_path_buf(),
                found: version,
            });
        }
        let count = le_u32(b, 12) as usize;
        let file_len = le_u64(b, 16);
        if file_len != b.len() as u64 {
            return Err(invalid(format!(
                "the header records {file_len} bytes but the file has {} (truncated or extended)",
                b.len()
            )));
        }
        let table_end = count
            .checked_mul(ENTRY_LEN)
            .and_then(|t| t.checked_add(HEADER_LEN))
            .filter(|&end| end <= b.len())
            .ok_or_else(|| {
                invalid(format!(
                    "the section table ({count} entries) does not fit the file"
                ))
            })?;
        let table = &b[HEADER_LEN..table_end];
        if crc32c::crc32c(table) != le_u32(b, 24) {
            return Err(invalid(
                "the section table is damaged (checksum mismatch)".into(),
            ));
        }
        let mut entries: Vec<Entry> = Vec::with_capacity(count);
        for raw in table.chunks_exact(ENTRY_LEN) {
            let id = le_u32(raw, 0);
            // Unknown ids would come from a newer minor revision: ignored (see README).
            let Some(section) = Section::from_id(id) else {
                continue;
            };
            let (offset, length) = (le_u64(raw, 8), le_u64(raw, 16));
            let fits = offset >= table_end as u64
                && offset
                    .checked_add(length)
                    .is_some_and(|end| end <= file_len);
            if !fits {
                return Err(invalid(format!(
                    "section `{}` ({offset}+{length}) lies outside the file",
                    section.name()
                )));
            }
            if entries.iter().any(|e| e.section == section) {
                return Err(invalid(format!(
                    "section `{}` is listed twice",
                    section.name()
                )));
            }
            entries.push(Entry {
                section,
                offset,
                length,
                crc32c: le_u32(raw, 24),
            });
        }
        if let Some(missing) = Section::ALL
            .iter()
            .find(|s| !entries.iter().any(|e| e.section == **s))
        {
            return Err(invalid(format!("section `{}` is missing", missing.name())));
        }
        entries.sort_by_key(|e| e.section);
        let file = IndexFile {
            path: path.to_path_buf(),
            bytes,
            entries,
            reads,
        };
        // fst trusts its bytes: a damaged fst could panic on lookup, so check them now
        // (unless they are left out of every view).
        for s in [Section::MpxnFst, Section::GuidFst] {
            if reads == Reads::SweepSections {
                break;
            }
            file.check(s).map_err(|problem| FileError::Damaged {
                path: path.to_path_buf(),
                problem,
            })?;
        }
        file.view()?;
        Ok(file)
    }

    /// Opens the file and checks every section's checksum before anything is judged:
    /// what sweeps and lookups use, because a flipped bit in a findings column must never
    /// turn an exclusion into an unblock. O(file size): CRC-32C in hardware, in parallel.
    pub fn open_verified(path: &Path) -> Result<IndexFile, FileError> {
        IndexFile::open_verified_for(path, Reads::Everything)
    }

    /// [`IndexFile::open_verified`] for a caller that reads only `reads`: only those
    /// sections are verified, and the view shows only those.
    pub fn open_verified_for(path: &Path, reads: Reads) -> Result<IndexFile, FileError> {
        let file = IndexFile::open_for(path, reads)?;
        let damaged = file.verify_for(reads);
        if damaged.is_empty() {
            return Ok(file);
        }
        let mut sections: Vec<String> = damaged
            .iter()
            .map(|e| match e {
                IndexError::Corrupt { section, detail } => {
                    format!("section `{section}` ({detail})")
                }
            })
            .collect();
        sections.sort();
        Err(FileError::Checksums {
            path: path.to_path_buf(),
            sections,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn slice(&self, e: &Entry) -> &[u8] {
        &self.bytes[e.offset as usize..(e.offset + e.length) as usize]
    }

    /// A view over the mapped sections; checks every column's length.
    pub fn view(&self) -> Result<View<'_>, FileError> {
        let mut slices: [&[u8]; SECTION_COUNT] = [&[]; SECTION_COUNT];
        for e in &self.entries {
            if self.reads == Reads::SweepSections && e.section.lookup_only() {
                continue;
            }
            slices[e.section.index()] = self.slice(e);
        }
        let view = match self.reads {
            Reads::Everything => View::new(&slices),
            Reads::SweepSections => View::without_lookups(&slices),
        };
        view.map_err(|problem| FileError::Damaged {
            path: self.path.clone(),
            problem,
        })
    }

    fn check(&self, section: Section) -> Result<(), IndexError> {
        let e = self.entries[section.index()];
        let got = crc32c::crc32c(self.slice(&e));
        if got != e.crc32c {
            return Err(IndexError::corrupt(
                section,
                format!("checksum {got:08x}, expected {:08x}", e.crc32c),
            ));
        }
        Ok(())
    }

    /// Checks every section's checksum (in parallel); returns the damaged sections,
    /// named, or an empty list. O(file size).
    pub fn verify(&self) -> Vec<IndexError> {
        self.verify_for(Reads::Everything)
    }

    fn verify_for(&self, reads: Reads) -> Vec<IndexError> {
        Section::ALL
            .par_iter()
            .filter(|s| reads == Reads::Everything || !s.lookup_only())
            .filter_map(|&s| self.check(s).err())
            .collect()
    }
}
