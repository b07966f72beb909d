//! Mapped input files: the crate's only `unsafe`.
//!
//! Takes a path and hands back the file's bytes as a `&[u8]` that lives as long as the
//! [`MappedFile`]. A regular file is mapped; a pipe or FIFO (`<(cat f)`, `mkfifo`) is
//! streamed into memory instead, without ever blocking on a FIFO that has no writer;
//! anything else (a directory, a device) is refused with a message that says what it
//! is. Everything downstream works on plain slices (so tests can use `Vec<u8>`), and
//! validates what it reads: nothing here interprets the bytes.
//!
//! A mapped file that another process truncates while we read it would kill the
//! process with SIGBUS and no word; [`MappedFile::open`] installs, once, a handler that
//! says so and exits with status 2 (temporary outputs are left for the next run to
//! remove, and nothing was published). A file rewritten in place without truncation is
//! caught by [`MappedFile::unchanged`], which callers check before they publish.

// The crate denies `unsafe_code` (lib.rs); this module is the one place allowed it.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::ops::Deref;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// The bytes of one input file, memory-mapped read-only (an empty file is held as an
/// empty slice: a zero-length mapping is not portable), or read whole from a pipe.
pub struct MappedFile {
    bytes: Backing,
    /// The open file and what it looked like when mapped, to tell an in-place rewrite.
    identity: Option<(File, Identity)>,
}

enum Backing {
    Mapped(memmap2::Mmap),
    Streamed(Vec<u8>),
    Empty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Identity {
    len: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Identity {
        Identity {
            len: meta.len(),
            modified: (meta.mtime(), meta.mtime_nsec()),
            changed: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

impl MappedFile {
    /// Maps the whole file. O(1) for a regular file: pages are read on first touch, so
    /// the cost is paid by whoever scans the bytes. A pipe or FIFO is read to its end
    /// (O(size) memory). Fails with an OS error that says what to do if the path is a
    /// directory or a device, or cannot be opened or mapped.
    pub fn open(path: &Path) -> io::Result<MappedFile> {
        let kind = std::fs::metadata(path)?.file_type();
        if kind.is_dir() {
            return Err(io::Error::other(
                "is a directory; name the file(s) inside it, one option each",
            ));
        }
        if kind.is_fifo() {
            return MappedFile::stream(path);
        }
        if !kind.is_file() {
            return Err(io::Error::other(
                "is not a regular file or a pipe (a device or socket); copy it to a file first",
            ));
        }
        let file = File::open(path)?;
        let (file, identity) = match MappedFile::empty_or_identity(file)? {
            Ok(empty) => return Ok(empty),
            Err(open) => open,
        };
        install_sigbus_handler();
        // SAFETY: the mapping is read-only and private to this process. The remaining
        // risk is another process truncating or rewriting the file while we hold the
        // map. Truncation raises SIGBUS on the next read of a lost page: the handler
        // installed above reports it and exits, so no code runs on the missing bytes.
        // A rewrite in place changes bytes under us: every byte read is validated as
        // untrusted text anyway (so at worst wrong findings, never undefined behaviour
        // in safe code downstream), and callers check `unchanged` before they publish,
        // so such a run fails instead of writing those findings. Index files are
        // renamed into place by their builder, never edited, and checksummed before
        // use, so for them the remaining risk is only that truncation.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| {
            if e.raw_os_error() == Some(libc::ENOMEM) {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{e}: the process's limit of mapped areas (sysctl vm.max_map_count) \
                         or of address space (ulimit -v) is reached; merge the inputs into \
                         fewer files, or raise the limit"
                    ),
                )
            } else {
                e
            }
        })?;
        // Inputs are scanned front to back; the hint only affects read-ahead.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(MappedFile {
            bytes: Backing::Mapped(map),
            identity: Some((file, identity)),
        })
    }

    /// Maps a file this process created and already unlinked (a spill file): no other
    /// process can reach it, so nothing can change it under the mapping.
    pub fn of_private_file(file: File) -> io::Result<MappedFile> {
        let (file, identity) = match MappedFile::empty_or_identity(file)? {
            Ok(empty) => return Ok(empty),
            Err(open) => open,
        };
        // SAFETY: read-only and private; the file has no name left, so only this
        // process holds it, and this process never writes it once it is mapped.
        let map = unsafe { memmap2::Mmap::map(&file) }?;
        Ok(MappedFile {
            bytes: Backing::Mapped(map),
            identity: Some((file, identity)),
        })
    }

    /// An empty file as an empty `MappedFile` (nothing to map), or the file with its
    /// identity, to be mapped.
    fn empty_or_identity(file: File) -> io::Result<Result<MappedFile, (File, Identity)>> {
        let meta = file.metadata()?;
        let identity = Identity::of(&meta);
        if meta.len() == 0 {
            return Ok(Ok(MappedFile {
                bytes: Backing::Empty,
                identity: Some((file, identity)),
            }));
        }
        Ok(Err((file, identity)))
    }

    /// Reads a FIFO or pipe to its end. Opened non-blocking, so a FIFO with no writer
    /// cannot block the open forever, then switched to blocking reads (which end at once
    /// when no writer holds the FIFO). A writer that is still connecting gets a grace of
    /// two seconds before an empty FIFO is taken as empty.
    fn stream(path: &Path) -> io::Result<MappedFile> {
        use std::os::fd::AsRawFd;
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        // SAFETY: fcntl on a descriptor we own, with flags read from it just before.
        unsafe {
            let fd = file.as_raw_fd();
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        let started = std::time::Instant::now();
        let mut bytes = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match file.read(&mut buf) {
                Ok(0) if bytes.is_empty() && started.elapsed().as_secs() < 2 => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Ok(0) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(MappedFile {
            bytes: if bytes.is_empty() {
                Backing::Empty
            } else {
                Backing::Streamed(bytes)
            },
            identity: None,
        })
    }

    /// Whether the file still has the size and modification times it had when opened:
    /// false after an in-place rewrite. A streamed pipe is always unchanged.
    pub fn unchanged(&self) -> io::Result<bool> {
        match &self.identity {
            None => Ok(true),
            Some((file, identity)) => Ok(Identity::of(&file.metadata()?) == *identity),
        }
    }
}

impl Deref for MappedFile {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.bytes {
            Backing::Mapped(m) => m,
            Backing::Streamed(v) => v,
            Backing::Empty => &[],
        }
    }
}

/// The message of the SIGBUS handler: written with one `write(2)`, async-signal-safe.
const SIGBUS_MESSAGE: &[u8] = b"mpxn-recon: error: an input file was truncated or rewritten \
in place while it was being read (SIGBUS); nothing was published and the previous outputs \
are intact. Replace inputs and indexes by renaming a finished copy into place, never by \
editing them.\n";

fn install_sigbus_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        extern "C" fn on_sigbus(_: libc::c_int) {
            // SAFETY: write(2) and _exit(2) are async-signal-safe; the buffer is static.
            unsafe {
                libc::write(2, SIGBUS_MESSAGE.as_ptr().cast(), SIGBUS_MESSAGE.len());
                libc::_exit(2);
            }
        }
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler
        // is an `extern "C" fn(c_int)` as sa_sigaction expects without SA_SIGINFO, and
        // it only calls async-signal-safe functions.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    });
}
