//! Publishing outputs: files that appear whole, as one set, or not at all.
//!
//! Takes the directory the user named and the bytes of each output; hands back
//! [`Digest`]s (size and CRC-32C) of what was staged. Every output is first written to a
//! temporary file created new and exclusive (`O_CREAT|O_EXCL`, which never follows a
//! link) under an unpredictable name in the target directory, held locked while this
//! process lives, and synced. Only when every file of the set is staged does
//! [`OutputSet::commit`] rename them into place, in staging order (so `summary.json`,
//! staged last, is the commit record), and sync the directory. A rename replaces a link
//! planted at the final name instead of writing through it. On every error path the
//! temporary files are removed (by `Drop`); a process killed outright leaves them behind,
//! and the next run into that directory removes those whose owner is gone (the lock on a
//! temporary file dies with its process). [`OutputSet::lock`] also takes an exclusive
//! advisory lock on the directory itself, so two runs into one folder never both succeed
//! over a mixed set: the later one stops before it writes anything.
//!
//! A set may also *retire* a name ([`OutputSet::retire`]): an output an earlier run's
//! set held and this one does not (`whatif.csv` after a sweep without `--what-if`). It
//! is removed on commit, before any rename, so no file of an earlier set stays beside a
//! newer `summary.json` looking as if it belonged to it.
//!
//! Guarantees: a failed run leaves the previous set whole; nothing is written outside
//! the named directory. Not guaranteed: a crash *between* two steps of one commit (its
//! removals and renames, a window of a few system calls) can leave files of both runs;
//! `summary.json`'s `outputs` checksums tell them apart.

use std::collections::hash_map::RandomState;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// A failure to publish outputs. Each names the path at fault and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    #[error("{path}: cannot write: {error}")]
    Write {
        path: PathBuf,
        // In the message, not chained: `main` prints the chain with `{:#}`.
        error: io::Error,
    },
    #[error("{path} is a file, not a directory; name a directory for the outputs")]
    NotADirectory { path: PathBuf },
    #[error(
        "{path} is in use by another mpxn-recon run (it holds the folder's lock); this run \
         stopped before writing anything there: wait for the other run or choose another \
         output folder"
    )]
    Busy { path: PathBuf },
    #[error(
        "{input} would be overwritten by this run's output {output}; write the outputs \
         elsewhere"
    )]
    WouldOverwriteInput { input: PathBuf, output: PathBuf },
    #[error(
        "{input} would be removed by this run: {output} is an output of an earlier run that \
         this run's set does not hold, and is removed so that it cannot pass for current; \
         write the outputs elsewhere"
    )]
    WouldRemoveInput { input: PathBuf, output: PathBuf },
    #[error(
        "{notices} is the sweep's output folder too: party notices could replace decisions.csv \
         and the other outputs; give --per-party a folder of its own"
    )]
    SameFolder { notices: PathBuf },
}

impl PublishError {
    pub fn write(path: &Path, error: io::Error) -> PublishError {
        PublishError::Write {
            path: path.to_path_buf(),
            error,
        }
    }

    /// Whether the input, not the machine, is at fault (the CLI refuses those, exit 2).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            PublishError::NotADirectory { .. }
                | PublishError::WouldOverwriteInput { .. }
                | PublishError::WouldRemoveInput { .. }
                | PublishError::SameFolder { .. }
        )
    }
}

/// Size and CRC-32C of one staged output, as `summary.json`'s `outputs` records them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub bytes: u64,
    pub crc32c: String,
}

/// A writer that counts and checksums what passes through it.
pub struct Staging<W> {
    inner: W,
    bytes: u64,
    crc: u32,
}

impl<W: Write> Write for Staging<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct Staged {
    tmp: PathBuf,
    target: PathBuf,
    // Held open (and locked) until the rename, so a later run sees a live owner.
    _file: File,
}

/// A set of outputs staged in one directory and published together.
pub struct OutputSet {
    dir: PathBuf,
    /// Whether this run created the folder: a run that publishes nothing removes it
    /// again (when empty), so a refusal leaves no trace.
    created: bool,
    _lock: Option<File>,
    staged: Vec<Staged>,
    /// Outputs of an earlier set that this one does not hold: removed on commit.
    retired: Vec<PathBuf>,
    /// The run's inputs (device, inode, path as given): no output may replace one.
    inputs: Vec<(u64, u64, PathBuf)>,
    /// Stale temporary files of interrupted runs removed when the set was opened.
    pub removed_stale: Vec<PathBuf>,
}

impl OutputSet {
    /// Opens `dir` (created if missing) for a set of outputs and takes its exclusive
    /// lock; fails with [`PublishError::Busy`] at once if another run holds it. Removes
    /// temporary files that interrupted runs left there.
    pub fn lock(dir: &Path) -> Result<OutputSet, PublishError> {
        let created = ensure_dir(dir)?;
        let lock = File::open(dir).map_err(|e| PublishError::write(dir, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(PublishError::Busy {
                    path: dir.to_path_buf(),
                })
            }
            Err(fs::TryLockError::Error(e)) => return Err(PublishError::write(dir, e)),
        }
        let mut set = OutputSet::unlocked_in(dir, created)?;
        set._lock = Some(lock);
        Ok(set)
    }

    /// Opens the directory that will hold `file` for a set of one, without a folder
    /// lock: a single rename is atomic on its own, and other files in that folder are
    /// not ours to serialise.
    pub fn beside(file: &Path) -> Result<OutputSet, PublishError> {
        let dir = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let created = ensure_dir(&dir)?;
        OutputSet::unlocked_in(&dir, created)
    }

    fn unlocked_in(dir: &Path, created: bool) -> Result<OutputSet, PublishError> {
        let removed_stale = remove_stale_temporaries(dir);
        Ok(OutputSet {
            dir: dir.to_path_buf(),
            created,
            _lock: None,
            staged: Vec::new(),
            retired: Vec::new(),
            inputs: Vec::new(),
            removed_stale,
        })
    }

    /// Records the run's inputs and refuses at once if one of `names` would replace one
    /// (compared by device and inode, so links and other spellings are caught). Every
    /// later [`OutputSet::stage`] checks its own name against them too, so outputs whose
    /// names are known only at the end (party notices) are covered.
    pub fn protect(&mut self, inputs: &[&Path], names: &[&str]) -> Result<(), PublishError> {
        self.inputs = inputs
            .iter()
            .filter_map(|p| {
                fs::metadata(p)
                    .ok()
                    .map(|m| (m.dev(), m.ino(), p.to_path_buf()))
            })
            .collect();
        names
            .iter()
            .try_for_each(|name| self.refuse_replacing_input(&self.target(name)))
    }

    fn refuse_replacing_input(&self, target: &Path) -> Result<(), PublishError> {
        let Ok(meta) = fs::metadata(target) else {
            return Ok(());
        };
        match self
            .inputs
            .iter()
            .find(|(dev, ino, _)| (*dev, *ino) == (meta.dev(), meta.ino()))
        {
            Some((_, _, input)) => Err(PublishError::WouldOverwriteInput {
                input: input.clone(),
                output: target.to_path_buf(),
            }),
            None => Ok(()),
        }
    }

    /// Where `name` will be published.
    pub fn target(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Creates `name`'s temporary file and registers it, so Drop removes it on any
    /// error from here on; refuses a name that would replace an input.
    fn begin_stage(&mut self, name: &str) -> Result<(PathBuf, File), PublishError> {
        let target = self.dir.join(name);
        self.refuse_replacing_input(&target)?;
        let werr = |e| PublishError::write(&target, e);
        let (tmp, file) = create_temporary(&self.dir, name).map_err(werr)?;
        let held = file.try_clone().map_err(werr)?;
        self.staged.push(Staged {
            tmp,
            target: target.clone(),
            _file: held,
        });
        Ok((target, file))
    }

    /// Stages `name`: `body` writes it to a new temporary file, which is then synced.
    /// Nothing appears under `name` until [`OutputSet::commit`].
    pub fn stage<E>(
        &mut self,
        name: &str,
        body: impl FnOnce(&mut Staging<BufWriter<File>>) -> Result<(), E>,
    ) -> Result<Digest, E>
    where
        E: From<PublishError>,
    {
        let (target, file) = self.begin_stage(name)?;
        let werr = |e| E::from(PublishError::write(&target, e));
        let mut w = Staging {
            inner: BufWriter::with_capacity(1 << 20, file),
            bytes: 0,
            crc: 0,
        };
        body(&mut w)?;
        let digest = Digest {
            bytes: w.bytes,
            crc32c: format!("{:08x}", w.crc),
        };
        let file = w.inner.into_inner().map_err(|e| werr(e.into_error()))?;
        file.sync_data().map_err(werr)?;
        Ok(digest)
    }

    /// Stages every one of `names` at once: `body` writes them side by side (one writer
    /// each, in the order of `names`), as an export writes one table in several formats
    /// from one pass. Each is then synced; their digests come back in the same order.
    pub fn stage_several<E>(
        &mut self,
        names: &[&str],
        body: impl FnOnce(&mut [Staging<BufWriter<File>>]) -> Result<(), E>,
    ) -> Result<Vec<Digest>, E>
    where
        E: From<PublishError>,
    {
        let mut writers = Vec::with_capacity(names.len());
        let mut targets = Vec::with_capacity(names.len());
        for name in names {
            let (target, file) = self.begin_stage(name)?;
            targets.push(target);
            writers.push(Staging {
                inner: BufWriter::with_capacity(1 << 20, file),
                bytes: 0,
                crc: 0,
            });
        }
        body(&mut writers)?;
        let mut digests = Vec::with_capacity(names.len());
        for (w, target) in writers.into_iter().zip(&targets) {
            let werr = |e| E::from(PublishError::write(target, e));
            digests.push(Digest {
                bytes: w.bytes,
                crc32c: format!("{:08x}", w.crc),
            });
            let file = w.inner.into_inner().map_err(|e| werr(e.into_error()))?;
            file.sync_data().map_err(werr)?;
        }
        Ok(digests)
    }

    /// Stages `name` written by `body` through the raw file (for writers that place
    /// bytes by offset); `body` hands the file back with its length, and it is synced.
    pub fn stage_file<E>(
        &mut self,
        name: &str,
        body: impl FnOnce(File) -> Result<(File, u64), E>,
    ) -> Result<u64, E>
    where
        E: From<PublishError>,
    {
        let (target, file) = self.begin_stage(name)?;
        let (file, len) = body(file)?;
        file.sync_data()
            .map_err(|e| E::from(PublishError::write(&target, e)))?;
        Ok(len)
    }

    /// Stages `name` with exactly `bytes`.
    pub fn stage_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<Digest, PublishError> {
        let target = self.target(name);
        self.stage(name, |w| {
            w.write_all(bytes)
                .map_err(|e| PublishError::write(&target, e))
        })
    }

    /// Retires `name`: a file of that name (an earlier run's output that this set does
    /// not hold) is removed when the set is committed, and left alone if the run fails.
    /// Refuses at once if it is one of the run's inputs ([`OutputSet::protect`]).
    pub fn retire(&mut self, name: &str) -> Result<(), PublishError> {
        let target = self.target(name);
        if let Err(PublishError::WouldOverwriteInput { input, output }) =
            self.refuse_replacing_input(&target)
        {
            return Err(PublishError::WouldRemoveInput { input, output });
        }
        if !self.retired.contains(&target) {
            self.retired.push(target);
        }
        Ok(())
    }

    /// Makes what is staged the folder's whole set: reads the manifest `manifest` that
    /// an earlier run wrote (one file name per line), retires every name it lists that
    /// this run does not stage, and stages a new manifest of what this run stages. So
    /// after the commit the folder holds this run's files and nothing an earlier run
    /// wrote. Returns the other files there (not listed, not staged, not temporaries of
    /// ours): left alone, for the caller to report. A listed name that is not a plain
    /// file name (`/`, `..`) is ignored: nothing outside the folder is ever touched.
    pub fn replace_whole_set(&mut self, manifest: &str) -> Result<Vec<PathBuf>, PublishError> {
        let manifest_path = self.target(manifest);
        let staged: Vec<String> = self
            .staged
            .iter()
            .filter_map(|s| {
                s.target
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .collect();
        let listed = match fs::read(&manifest_path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(PublishError::write(&manifest_path, e)),
        };
        for name in listed.lines() {
            let plain = !name.is_empty()
                && name != "."
                && name != ".."
                && name != manifest
                && !name.contains('/')
                && !name.contains('\0');
            if plain && !staged.iter().any(|s| s == name) {
                self.retire(name)?;
            }
        }
        let mut names = staged.clone();
        names.sort();
        let mut text = names.join("\n");
        text.push('\n');
        self.stage_bytes(manifest, text.as_bytes())?;
        let mut others = Vec::new();
        let entries = fs::read_dir(&self.dir).map_err(|e| PublishError::write(&self.dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| PublishError::write(&self.dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let ours = name == manifest
                || staged.contains(&name)
                || self.retired.contains(&path)
                || temporary_owner(&name).is_some();
            if !ours {
                others.push(path);
            }
        }
        others.sort();
        Ok(others)
    }

    /// The retired names that are there now, and that [`OutputSet::commit`] will remove.
    pub fn retiring(&self) -> Vec<PathBuf> {
        self.retired
            .iter()
            .filter(|p| fs::symlink_metadata(p).is_ok())
            .cloned()
            .collect()
    }

    /// Removes every retired name (a link itself, never its target), then renames every
    /// staged file into place, in staging order, and syncs the directory. A removal
    /// that fails fails the commit before anything is renamed.
    pub fn commit(mut self) -> Result<(), PublishError> {
        for target in &self.retired {
            match fs::remove_file(target) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(PublishError::write(target, e)),
            }
        }
        for s in &self.staged {
            fs::rename(&s.tmp, &s.target).map_err(|e| PublishError::write(&s.target, e))?;
        }
        self.staged.clear();
        self.created = false;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| PublishError::write(&self.dir, e))
    }
}

impl Drop for OutputSet {
    /// Removes every temporary file not yet renamed: a failed run leaves nothing of its
    /// own behind.
    fn drop(&mut self) {
        for s in &self.staged {
            let _ = fs::remove_file(&s.tmp);
        }
        if self.created {
            // Fails, harmlessly, if anything else is in it by now.
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

/// Creates `dir` if missing (and says whether it did); refuses a path that exists and
/// is not a directory.
fn ensure_dir(dir: &Path) -> Result<bool, PublishError> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(false),
        Ok(_) => Err(PublishError::NotADirectory {
            path: dir.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir_all(dir)
            .map(|()| true)
            .map_err(|e| PublishError::write(dir, e)),
        Err(e) => Err(PublishError::write(dir, e)),
    }
}

/// The marker between an output's name and the owner's process id in temporary names:
/// `.NAME.tmp-PID-RANDOM`.
const TMP_MARK: &str = ".tmp-";

/// Creates a new temporary file for `name` in `dir`: created exclusively (a link or any
/// file already at that name fails the call instead of being followed), under a name no
/// other process can predict, and locked for as long as this process holds it.
fn create_temporary(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    loop {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        let tmp = dir.join(format!(
            ".{name}{TMP_MARK}{}-{:016x}",
            std::process::id(),
            h.finish()
        ));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
        {
            Ok(file) => {
                // Our own fresh file: nobody else can hold its lock yet.
                file.try_lock().map_err(|e| match e {
                    fs::TryLockError::Error(e) => e,
                    fs::TryLockError::WouldBlock => io::Error::other("temporary file is locked"),
                })?;
                return Ok((tmp, file));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Whether `name` is one of our temporary names, and the owner's pid if so:
/// `.NAME.tmp-PID-HEX16` (this version) or `.NAME.tmp-PID` (earlier index builds).
fn temporary_owner(name: &str) -> Option<(u32, bool)> {
    let rest = name.strip_prefix('.')?;
    let at = rest.rfind(TMP_MARK)?;
    if at == 0 {
        return None;
    }
    let tail = &rest[at + TMP_MARK.len()..];
    let (pid, locked) = match tail.split_once('-') {
        Some((pid, hex)) if hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (pid, true)
        }
        Some(_) => return None,
        None => (tail, false),
    };
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((pid.parse().ok()?, locked))
}

/// Removes the temporary files in `dir` whose owner is gone and returns their paths.
/// A current temporary file is held locked by its live owner, so one that can be locked
/// is stale; an earlier build's (unlocked) temporary file is stale when its pid no
/// longer runs. Only regular files are removed; anything else is left alone.
pub fn remove_stale_temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name: OsString = entry.file_name();
        let Some((pid, locked)) = name.to_str().and_then(temporary_owner) else {
            continue;
        };
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let stale = if locked {
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(&path)
                .is_ok_and(|f| f.try_lock().is_ok())
        } else {
            pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
        };
        if stale && fs::remove_file(&path).is_ok() {
            removed.push(path);
        }
    }
    removed.sort();
    removed
}

/// Whether two directory paths name the same directory (both must exist).
pub fn same_directory(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_recognised_and_nothing_else() {
        assert_eq!(
            temporary_owner(".decisions.csv.tmp-123-00112233445566ff"),
            Some((123, true))
        );
        assert_eq!(temporary_owner(".national.mxi.tmp-99"), Some((99, false)));
        for other in [
            "decisions.csv.tmp",
            "decisions.csv",
            ".tmp-12",
            ".a.tmp-",
            ".a.tmp-12-xyz",
            ".a.tmp-12-0011223344556677aa",
            ".a.tmp-x1",
        ] {
            assert_eq!(temporary_owner(other), None, "{other}");
        }
    }

    #[test]
    fn a_set_appears_only_on_commit_and_a_dropped_set_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut set = OutputSet::lock(&out).unwrap();
        let d = set.stage_bytes("a.csv", b"hello\n").unwrap();
        assert_eq!(d.bytes, 6);
        assert_eq!(d.crc32c, format!("{:08x}", crc32c::crc32c(b"hello\n")));
        assert!(!out.join("a.csv").exists());
        // A second run cannot take the folder while the first holds it.
        assert!(matches!(
            OutputSet::lock(&out),
            Err(PublishError::Busy { .. })
        ));
        set.commit().unwrap();
        assert_eq!(fs::read(out.join("a.csv")).unwrap(), b"hello\n");

        let mut set = OutputSet::lock(&out).unwrap();
        set.stage_bytes("b.csv", b"x").unwrap();
        drop(set);
        let names: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.csv"]);
    }

    #[test]
    fn stale_temporaries_are_removed_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (live, _held) = create_temporary(dir.path(), "x.csv").unwrap();
        // Unlocked current-style name: its owner is gone.
        let stale = dir.path().join(".x.csv.tmp-1-0123456789abcdef");
        fs::write(&stale, b"partial").unwrap();
        // Earlier style, of a pid that cannot run.
        let old = dir.path().join(".i.mxi.tmp-4294967295");
        fs::write(&old, b"partial").unwrap();
        let user = dir.path().join("notes.tmp-1");
        fs::write(&user, b"mine").unwrap();
        let removed = remove_stale_temporaries(dir.path());
        assert_eq!(removed, {
            let mut v = vec![old.clone(), stale.clone()];
            v.sort();
            v
        });
        assert!(live.exists() && user.exists());
    }

    #[test]
    fn a_retired_name_goes_on_commit_only_and_never_an_input() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("old.csv"), b"an earlier run's\n").unwrap();
        let mut set = OutputSet::lock(&out).unwrap();
        set.retire("old.csv").unwrap();
        set.retire("old.csv").unwrap();
        set.retire("absent.csv").unwrap();
        assert_eq!(set.retiring(), [out.join("old.csv")]);
        set.stage_bytes("a.csv", b"new\n").unwrap();
        // A failed run leaves it.
        drop(set);
        assert!(out.join("old.csv").exists());
        let mut set = OutputSet::lock(&out).unwrap();
        set.retire("old.csv").unwrap();
        set.stage_bytes("a.csv", b"new\n").unwrap();
        set.commit().unwrap();
        assert!(!out.join("old.csv").exists());
        assert_eq!(fs::read(out.join("a.csv")).unwrap(), b"new\n");
        // A link at a retired name goes, never its target.
        let target = dir.path().join("kept.csv");
        fs::write(&target, b"kept").unwrap();
        std::os::unix::fs::symlink(&target, out.join("old.csv")).unwrap();
        let mut set = OutputSet::lock(&out).unwrap();
        set.retire("old.csv").unwrap();
        set.commit().unwrap();
        assert!(fs::symlink_metadata(out.join("old.csv")).is_err());
        assert_eq!(fs::read(&target).unwrap(), b"kept");
        // An input at a retired name refuses the run.
        let input = out.join("old.csv");
        fs::write(&input, b"an input").unwrap();
        let mut set = OutputSet::lock(&out).unwrap();
        set.protect(&[input.as_path()], &[]).unwrap();
        assert!(matches!(
            set.retire("old.csv"),
            Err(PublishError::WouldRemoveInput { .. })
        ));
        drop(set);
        assert!(input.exists());
    }
}
