//! Spilling: buckets of fixed-size records that keep to a memory allowance.
//!
//! Takes records pushed into numbered buckets (rows by partition, keys by hash bits)
//! and an allowance in bytes; hands each bucket back whole, in push order, when asked
//! ([`Buckets::take`]). While the records held in memory stay within the allowance
//! nothing touches the disk; past it, every bucket's records are written as one *run*
//! to a temporary file in the spill folder (a compact binary form: each record's
//! fields, little-endian) and memory is freed. A bucket taken back is its runs' segments
//! read in order, then what is still in memory.
//! Guarantees: the order of a bucket's records never depends on whether or when it
//! spilled; spill files are unlinked as soon as they are created (the open handle is
//! all that keeps them), so they disappear on every exit path, a crash or `kill -9`
//! included, and nothing is ever left in the folder.
//! Also here: what the machine allows ([`machine_limit`]: the memory cgroup's limit, v1
//! or v2, else available memory) and the run's [`Budget`].

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

/// A record of fixed size, encoded without padding.
pub trait Record: Copy + Send + Sync {
    const SIZE: usize;
    fn encode(&self, out: &mut [u8]);
    fn decode(bytes: &[u8]) -> Self;
}

/// How much memory a run may hold, and where it spills.
#[derive(Clone, Debug)]
pub struct Budget {
    /// Bytes the whole run should stay within.
    pub limit: u64,
    /// The folder for spill files (the system temporary folder unless given).
    pub dir: PathBuf,
}

impl Budget {
    /// The default: [`DEFAULT_SHARE`] of what the machine allows, at least
    /// [`MIN_DEFAULT`], in the system temporary folder.
    pub fn machine_default() -> Budget {
        Budget {
            limit: machine_limit()
                .map_or(UNLIMITED, |limit| (limit / DEFAULT_SHARE).max(MIN_DEFAULT)),
            dir: std::env::temp_dir(),
        }
    }

    /// No spilling at all.
    pub fn unlimited() -> Budget {
        Budget {
            limit: UNLIMITED,
            dir: std::env::temp_dir(),
        }
    }

    /// What the spilling stages (rows while they are read, then keys) may hold in
    /// memory: half the limit. The other half is for what does not spill — the
    /// laid-out installations, the judgement, output buffers — and for slack.
    pub fn spillable(&self) -> u64 {
        self.limit / 2
    }
}

/// The default limit is this fraction of what the machine allows: spilling costs a
/// sequential write and read of the rows, seconds at national scale, so a sweep leaves
/// most of a shared machine to others.
pub const DEFAULT_SHARE: u64 = 8;
/// The default limit is never below this (1 GiB).
pub const MIN_DEFAULT: u64 = 1 << 30;
const UNLIMITED: u64 = u64::MAX;

/// What this process may use, in bytes: its memory cgroup's limit if one is set (v2
/// `memory.max`, v1 `memory.limit_in_bytes`), else the kernel's `MemAvailable`; the
/// smaller when both are known. `None` when neither can be read.
pub fn machine_limit() -> Option<u64> {
    let available = read_meminfo_available();
    let cgroup = cgroup_limit();
    match (cgroup, available) {
        (Some(c), Some(a)) => Some(c.min(a)),
        (c, a) => c.or(a),
    }
}

fn read_meminfo_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The memory limit of this process's cgroup, v2 or v1; `None` when unlimited or
/// unknown. v1 reports "no limit" as a huge number, which is treated as none.
fn cgroup_limit() -> Option<u64> {
    let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in groups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let path = path.trim_start_matches('/');
        let file = if controllers.is_empty() {
            Path::new("/sys/fs/cgroup").join(path).join("memory.max")
        } else if controllers.split(',').any(|c| c == "memory") {
            Path::new("/sys/fs/cgroup/memory")
                .join(path)
                .join("memory.limit_in_bytes")
        } else {
            continue;
        };
        if let Some(limit) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
        {
            if limit < 1 << 60 {
                return Some(limit);
            }
        }
    }
    None
}

/// Parses a size: a number of bytes with an optional `K`, `M`, `G` or `T` suffix
/// (powers of 1024; `KiB`, `MB` and the like are read the same), e.g. `2G`, `512M`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (try 2G, 512M or 3000000000)"))?;
    let shift = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("`{text}`: unknown unit (use K, M, G or T)")),
    };
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!("`{text}` is not a usable size"));
    }
    Ok(bytes as u64)
}

/// One spilled run: where each bucket's records are in its file.
struct Run {
    file: File,
    /// Per bucket: first record and count.
    segments: Vec<(u64, u64)>,
}

/// Records in numbered buckets, held in memory up to an allowance, spilled past it.
pub struct Buckets<T: Record> {
    /// Per bucket, the records held in memory, as the pieces pushed (never copied
    /// together until taken).
    memory: Vec<Vec<Vec<T>>>,
    runs: Vec<Run>,
    held: u64,
    allowance: u64,
    dir: PathBuf,
    /// Bytes written to spill files so far.
    spilled: u64,
}

impl<T: Record> Buckets<T> {
    /// `count` empty buckets that may hold `allowance` bytes of records in memory.
    pub fn new(count: usize, allowance: u64, dir: &Path) -> Buckets<T> {
        Buckets {
            memory: (0..count).map(|_| Vec::new()).collect(),
            runs: Vec::new(),
            held: 0,
            allowance,
            dir: dir.to_path_buf(),
            spilled: 0,
        }
    }

    pub fn count(&self) -> usize {
        self.memory.len()
    }

    /// Bytes written to spill files.
    pub fn spilled_bytes(&self) -> u64 {
        self.spilled
    }

    /// Records not yet taken back, in memory and spilled.
    pub fn records(&self) -> u64 {
        let pieces = self
            .memory
            .iter()
            .flatten()
            .map(|p| p.len() as u64)
            .sum::<u64>();
        let runs = (0..self.memory.len())
            .map(|b| self.runs.iter().map(|r| r.segments[b].1).sum::<u64>())
            .sum::<u64>();
        pieces + runs
    }

    /// Appends records to a bucket, as a piece of their own (moved, not copied).
    pub fn extend(&mut self, bucket: usize, records: Vec<T>) {
        if !records.is_empty() {
            self.held += (records.len() * T::SIZE) as u64;
            self.memory[bucket].push(records);
        }
    }

    pub fn push(&mut self, bucket: usize, record: T) {
        self.held += T::SIZE as u64;
        let pieces = &mut self.memory[bucket];
        match pieces.last_mut() {
            Some(last) => last.push(record),
            None => pieces.push(vec![record]),
        }
    }

    /// Spills every bucket's records held in memory when they exceed the allowance.
    pub fn settle(&mut self) -> io::Result<()> {
        if self.held > self.allowance {
            self.spill()?;
        }
        Ok(())
    }

    /// Writes every bucket's records held in memory as one run, and frees them.
    fn spill(&mut self) -> io::Result<()> {
        let file = unnamed_file(&self.dir)?;
        let mut writer = io::BufWriter::with_capacity(1 << 20, &file);
        let mut segments = Vec::with_capacity(self.memory.len());
        let mut at = 0u64;
        let mut buf = vec![0u8; T::SIZE];
        for pieces in &mut self.memory {
            let count: usize = pieces.iter().map(Vec::len).sum();
            segments.push((at, count as u64));
            for record in pieces.iter().flatten() {
                record.encode(&mut buf);
                writer.write_all(&buf)?;
            }
            at += count as u64;
            *pieces = Vec::new();
        }
        writer.flush()?;
        drop(writer);
        self.spilled += at * T::SIZE as u64;
        self.held = 0;
        self.runs.push(Run { file, segments });
        Ok(())
    }

    /// Takes a bucket's records back, in push order: its spilled segments run by run,
    /// then what memory holds.
    pub fn take(&mut self, bucket: usize) -> io::Result<Vec<T>> {
        let detached = self.detach(bucket);
        detached.gather(&self.runs)
    }

    /// [`Buckets::take`] of every bucket in `buckets`, in order; their records are read
    /// back and copied together in parallel (one task per bucket).
    pub fn take_batch(&mut self, buckets: Range<usize>) -> io::Result<Vec<Vec<T>>>
    where
        T: Send + Sync,
    {
        let detached: Vec<Detached<T>> = buckets.map(|b| self.detach(b)).collect();
        let runs = &self.runs;
        detached.into_par_iter().map(|d| d.gather(runs)).collect()
    }

    /// Removes a bucket's pieces and segments from the books, without reading them.
    fn detach(&mut self, bucket: usize) -> Detached<T> {
        let in_memory = std::mem::take(&mut self.memory[bucket]);
        let held: usize = in_memory.iter().map(Vec::len).sum();
        self.held -= (held * T::SIZE) as u64;
        // Taken: the runs no longer count this bucket's segments.
        let segments: Vec<(u64, u64)> = (self.runs.iter_mut())
            .map(|r| std::mem::take(&mut r.segments[bucket]))
            .collect();
        Detached {
            in_memory,
            segments,
        }
    }
}

/// One bucket's records taken off the books: pieces in memory, and where the rest lie
/// in each run's file.
struct Detached<T> {
    in_memory: Vec<Vec<T>>,
    segments: Vec<(u64, u64)>,
}

impl<T: Record> Detached<T> {
    /// The records in push order: spilled segments run by run, then the pieces.
    fn gather(mut self, runs: &[Run]) -> io::Result<Vec<T>> {
        let on_disk: u64 = self.segments.iter().map(|s| s.1).sum();
        if on_disk == 0 && self.in_memory.len() == 1 {
            return Ok(self.in_memory.pop().expect("one piece"));
        }
        let held: usize = self.in_memory.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(on_disk as usize + held);
        let mut bytes = Vec::new();
        for (run, &(first, count)) in runs.iter().zip(&self.segments) {
            bytes.resize(count as usize * T::SIZE, 0);
            run.file.read_exact_at(&mut bytes, first * T::SIZE as u64)?;
            out.extend(bytes.chunks_exact(T::SIZE).map(T::decode));
        }
        for piece in self.in_memory {
            out.extend_from_slice(&piece);
        }
        Ok(out)
    }
}

/// A new file in `dir`, unlinked at once: only the handle keeps it, so it is gone
/// however the process ends.
pub(crate) fn unnamed_file(dir: &Path) -> io::Result<File> {
    let path = dir.join(format!(
        ".mpxn-recon-spill-{}-{:016x}",
        std::process::id(),
        random_u64()
    ));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create a spill file in {}: {e}", dir.display()),
            )
        })?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

impl Record for (u64, u32) {
    const SIZE: usize = 12;
    fn encode(&self, out: &mut [u8]) {
        out[..8].copy_from_slice(&self.0.to_le_bytes());
        out[8..12].copy_from_slice(&self.1.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        (
            u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
            u32::from_le_bytes(b[8..12].try_into().expect("4 bytes")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_give_back_push_order_spilled_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let fill = |allowance: u64| {
            let mut b: Buckets<(u64, u32)> = Buckets::new(3, allowance, dir.path());
            for i in 0..1000u64 {
                b.push((i * 7 % 3) as usize, (i, i as u32 * 2));
                if i % 50 == 0 {
                    b.extend(1, vec![(i, 0), (i + 1, 1)]);
                }
                b.settle().unwrap();
            }
            let spilled = b.spilled_bytes();
            let out: Vec<Vec<(u64, u32)>> = (0..3).map(|k| b.take(k).unwrap()).collect();
            (out, spilled)
        };
        let (kept, none) = fill(u64::MAX);
        let (spilled, some) = fill(100);
        assert_eq!(none, 0);
        assert!(some > 0);
        assert_eq!(kept, spilled);
        assert_eq!(kept.iter().map(Vec::len).sum::<usize>(), 1000 + 2 * 20);
        // Spill files are unlinked as soon as they exist.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size(" 3 gb ").unwrap(), 3 << 30);
        for bad in ["", "G", "-1G", "2X", "0", "1e99T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn machine_limit_is_plausible() {
        let limit = machine_limit().expect("Linux reports available memory");
        assert!(limit > 1 << 20);
    }
}
