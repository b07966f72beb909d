//! The index file: header, section table, atomic write, validated open, verify.
//!
//! Takes an [`Image`] and writes it as one `.mxi` file: a 64-byte header, a table of
//! 32-byte section entries (id, offset, length, CRC-32C), then the sections, each
//! 8-byte aligned. Writing goes to a temporary file in the target directory, is synced
//! and renamed into place, so an interrupted build leaves any previous index intact.
//! [`IndexFile::open`] maps the file and checks, before handing out any slice: size,
//! magic, version, the header's and table's checksums, that every section is present
//! once and lies inside the file, and (through [`View::new`]) that every column has the
//! length its counts imply. [`IndexFile::verify`] checks every section's checksum and names
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
pub const FORMAT_VERSION: u32 = 4;
pub const HEADER_LEN: usize = 64;
pub const ENTRY_LEN: usize = 32;
const ALIGN: usize = 8;

/// The 64-byte file header (`index/README.md`, "Header"), encoded and decoded in one
/// place; each field's offset is named beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: u32,
    pub section_count: u32,
    pub file_len: u64,
    pub table_crc32c: u32,
}

impl Header {
    const MAGIC_AT: usize = 0;
    const VERSION_AT: usize = 8;
    const SECTION_COUNT_AT: usize = 12;
    const FILE_LEN_AT: usize = 16;
    const TABLE_CRC_AT: usize = 24;
    const HEADER_CRC_AT: usize = 28;
    const RESERVED_AT: usize = 32;

    /// The header's bytes: magic, fields, the CRC-32C of bytes `[0, 28)`, zero reserved.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[Self::MAGIC_AT..Self::VERSION_AT].copy_from_slice(&MAGIC);
        b[Self::VERSION_AT..Self::SECTION_COUNT_AT].copy_from_slice(&self.version.to_le_bytes());
        b[Self::SECTION_COUNT_AT..Self::FILE_LEN_AT]
            .copy_from_slice(&self.section_count.to_le_bytes());
        b[Self::FILE_LEN_AT..Self::TABLE_CRC_AT].copy_from_slice(&self.file_len.to_le_bytes());
        b[Self::TABLE_CRC_AT..Self::HEADER_CRC_AT]
            .copy_from_slice(&self.table_crc32c.to_le_bytes());
        let crc = crc32c::crc32c(&b[..Self::HEADER_CRC_AT]);
        b[Self::HEADER_CRC_AT..Self::RESERVED_AT].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Reads a header, checking its length, magic, checksum and reserved bytes (not the
    /// version or file length: the caller names those problems). Errs with the problem.
    pub fn decode(b: &[u8]) -> Result<Header, String> {
        if b.len() < HEADER_LEN {
            return Err(format!(
                "the file is {} bytes, shorter than the {HEADER_LEN}-byte header (truncated?)",
                b.len()
            ));
        }
        if b[Self::MAGIC_AT..Self::VERSION_AT] != MAGIC {
            return Err("not an mpxn-recon index (wrong magic bytes)".into());
        }
        if crc32c::crc32c(&b[..Self::HEADER_CRC_AT]) != le_u32(b, Self::HEADER_CRC_AT)
            || b[Self::RESERVED_AT..HEADER_LEN].iter().any(|&x| x != 0)
        {
            return Err("the header is damaged (checksum mismatch)".into());
        }
        Ok(Header {
            version: le_u32(b, Self::VERSION_AT),
            section_count: le_u32(b, Self::SECTION_COUNT_AT),
            file_len: le_u64(b, Self::FILE_LEN_AT),
            table_crc32c: le_u32(b, Self::TABLE_CRC_AT),
        })
    }
}

impl Entry {
    /// A table entry's 32 bytes: id, flags (0), offset, length, CRC-32C, reserved (0).
    fn encode(&self) -> [u8; ENTRY_LEN] {
        let mut b = [0u8; ENTRY_LEN];
        b[0..4].copy_from_slice(&(self.section as u32).to_le_bytes());
        b[8..16].copy_from_slice(&self.offset.to_le_bytes());
        b[16..24].copy_from_slice(&self.length.to_le_bytes());
        b[24..28].copy_from_slice(&self.crc32c.to_le_bytes());
        b
    }

    /// A table entry's id, offset, length and CRC-32C.
    fn decode(raw: &[u8]) -> (u32, u64, u64, u32) {
        (
            le_u32(raw, 0),
            le_u64(raw, 8),
            le_u64(raw, 16),
            le_u32(raw, 24),
        )
    }
}

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
    for (i, &section) in Section::ALL.iter().enumerate() {
        offset = offset.next_multiple_of(ALIGN as u64);
        let length = image.sections[i].len() as u64;
        let entry = Entry {
            section,
            offset,
            length,
            crc32c: crcs[i],
        };
        table.extend_from_slice(&entry.encode());
        placed.push(offset);
        offset += length;
    }
    let file_len = offset;
    let header = Header {
        version: FORMAT_VERSION,
        section_count: SECTION_COUNT as u32,
        file_len,
        table_crc32c: crc32c::crc32c(&table),
    }
    .encode();

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

/// Where an image's sections go as they are made, one after another in
/// [`Section::ALL`] order: every section is begun once, in that order, then written.
pub trait SectionSink {
    fn begin(&mut self, section: Section) -> io::Result<()>;
    fn write(&mut self, bytes: &[u8]) -> io::Result<()>;
}

/// Sections kept in memory: an [`Image`].
#[derive(Default)]
pub struct SectionVecs {
    sections: Vec<Vec<u8>>,
}

impl SectionSink for SectionVecs {
    fn begin(&mut self, section: Section) -> io::Result<()> {
        debug_assert_eq!(self.sections.len(), section.index());
        self.sections.push(Vec::new());
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.sections
            .last_mut()
            .expect("a section is begun before it is written")
            .extend_from_slice(bytes);
        Ok(())
    }
}

impl SectionVecs {
    pub fn into_image(self) -> Image {
        assert_eq!(self.sections.len(), SECTION_COUNT, "every section is made");
        Image {
            sections: self.sections,
        }
    }
}

/// Sections written straight into an index file as they are made: laid out as
/// [`write`] lays out an image (same bytes), the header and table written last, at
/// the front, once every section's length and checksum is known. Memory: a write
/// buffer.
pub struct SectionFile {
    file: std::fs::File,
    out: io::BufWriter<std::fs::File>,
    entries: Vec<Entry>,
    at: u64,
    crc: u32,
    /// Whether a write into the file failed (so an error is the file's, not the
    /// producer's).
    failed: bool,
}

impl SectionFile {
    pub fn failed(&self) -> bool {
        self.failed
    }

    pub fn new(file: std::fs::File) -> io::Result<SectionFile> {
        let start = (HEADER_LEN + SECTION_COUNT * ENTRY_LEN) as u64;
        let mut out = io::BufWriter::with_capacity(1 << 20, file.try_clone()?);
        out.write_all(&vec![0u8; start as usize])?;
        Ok(SectionFile {
            file,
            out,
            entries: Vec::with_capacity(SECTION_COUNT),
            at: start,
            crc: 0,
            failed: false,
        })
    }

    fn end_section(&mut self) {
        if let Some(last) = self.entries.last_mut() {
            last.length = self.at - last.offset;
            last.crc32c = self.crc;
        }
    }

    /// Writes the header and the table and hands back the file, flushed.
    pub fn finish(mut self) -> io::Result<(std::fs::File, u64)> {
        use std::os::unix::fs::FileExt;
        self.end_section();
        assert_eq!(self.entries.len(), SECTION_COUNT, "every section is made");
        self.out.flush()?;
        drop(self.out);
        let mut table = Vec::with_capacity(SECTION_COUNT * ENTRY_LEN);
        for e in &self.entries {
            table.extend_from_slice(&e.encode());
        }
        let header = Header {
            version: FORMAT_VERSION,
            section_count: SECTION_COUNT as u32,
            file_len: self.at,
            table_crc32c: crc32c::crc32c(&table),
        }
        .encode();
        self.file.write_all_at(&header, 0)?;
        self.file.write_all_at(&table, HEADER_LEN as u64)?;
        Ok((self.file, self.at))
    }
}

impl SectionSink for SectionFile {
    fn begin(&mut self, section: Section) -> io::Result<()> {
        debug_assert_eq!(self.entries.len(), section.index());
        self.end_section();
        let aligned = self.at.next_multiple_of(ALIGN as u64);
        let pad = &[0u8; ALIGN][..(aligned - self.at) as usize];
        self.out
            .write_all(pad)
            .inspect_err(|_| self.failed = true)?;
        self.at = aligned;
        self.crc = 0;
        self.entries.push(Entry {
            section,
            offset: aligned,
            length: 0,
            crc32c: 0,
        });
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out
            .write_all(bytes)
            .inspect_err(|_| self.failed = true)?;
        self.crc = crc32c::crc32c_append(self.crc, bytes);
        self.at += bytes.len() as u64;
        Ok(())
    }
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

/// The section table after a checked header: its checksum, every known section once,
/// each inside the file and after the table; sorted by section. Errs with the problem.
fn read_table(b: &[u8], header: &Header) -> Result<Vec<Entry>, String> {
    let count = header.section_count as usize;
    let table_end = count
        .checked_mul(ENTRY_LEN)
        .and_then(|t| t.checked_add(HEADER_LEN))
        .filter(|&end| end <= b.len())
        .ok_or_else(|| format!("the section table ({count} entries) does not fit the file"))?;
    let table = &b[HEADER_LEN..table_end];
    if crc32c::crc32c(table) != header.table_crc32c {
        return Err("the section table is damaged (checksum mismatch)".into());
    }
    let mut entries: Vec<Entry> = Vec::with_capacity(count);
    for raw in table.chunks_exact(ENTRY_LEN) {
        let (id, offset, length, crc32c) = Entry::decode(raw);
        // Unknown ids would come from a newer minor revision: ignored (see README).
        let Some(section) = Section::from_id(id) else {
            continue;
        };
        let fits = offset >= table_end as u64
            && offset
                .checked_add(length)
                .is_some_and(|end| end <= header.file_len);
        if !fits {
            return Err(format!(
                "section `{}` ({offset}+{length}) lies outside the file",
                section.name()
            ));
        }
        if entries.iter().any(|e| e.section == section) {
            return Err(format!("section `{}` is listed twice", section.name()));
        }
        entries.push(Entry {
            section,
            offset,
            length,
            crc32c,
        });
    }
    if let Some(missing) = Section::ALL
        .iter()
        .find(|s| !entries.iter().any(|e| e.section == **s))
    {
        return Err(format!("section `{}` is missing", missing.name()));
    }
    entries.sort_by_key(|e| e.section);
    Ok(entries)
}

impl IndexFile {
    /// Maps and checks an index file (see the module doc). O(header + table); column
    /// contents are checked as they are read.
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
        IndexFile::of_mapped(path, bytes, reads)
    }

    /// An index this process just wrote into an unlinked spill file (see
    /// [`SectionFile`]), mapped and checked structurally; `label` names it in errors.
    pub fn of_private_file(
        label: &Path,
        file: std::fs::File,
        reads: Reads,
    ) -> Result<IndexFile, FileError> {
        let bytes = MappedFile::of_private_file(file).map_err(|error| FileError::Io {
            path: label.to_path_buf(),
            error,
        })?;
        IndexFile::of_mapped(label, bytes, reads)
    }

    fn of_mapped(path: &Path, bytes: MappedFile, reads: Reads) -> Result<IndexFile, FileError> {
        let invalid = |problem: String| FileError::Invalid {
            path: path.to_path_buf(),
            problem,
        };
        let header = Header::decode(&bytes).map_err(invalid)?;
        if header.version != FORMAT_VERSION {
            return Err(FileError::Version {
                path: path.to_path_buf(),
                found: header.version,
            });
        }
        if header.file_len != bytes.len() as u64 {
            return Err(invalid(format!(
                "the header records {} bytes but the file has {} (truncated or extended)",
                header.file_len,
                bytes.len()
            )));
        }
        let entries = read_table(&bytes, &header).map_err(invalid)?;
        let file = IndexFile {
            path: path.to_path_buf(),
            bytes,
            entries,
            reads,
        };
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

    /// One section's bytes, as they are in the file (unchecked).
    pub fn section_bytes(&self, section: Section) -> &[u8] {
        self.slice(&self.entries[section.index()])
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
