//! Diff: two sweeps' `decisions.csv` → the installations whose decision changed.
//!
//! Takes two decisions files (or the `--out` folders that hold them) and streams them
//! side by side: both are sorted by (source, installation_id) in byte order (SPEC §7),
//! so a merge join finds, in one pass and in constant memory, every installation whose
//! outcome, clauses or reasons differ, and those only in one of them (`added`,
//! `removed`). Hands on each [`Change`] and the counts by kind of change
//! (`exclude->unblock`, `added`, ...). A file that is not a decisions.csv (its header),
//! has a malformed line, or is out of order is refused naming the file and line: a
//! diff of data it cannot trust would say the wrong thing, so it says nothing.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::delimited::{push_record, split_line};

/// The header every decisions.csv starts with (SPEC §7).
pub const DECISIONS_HEADER: &str = "source,installation_id,group_id,outcome,clauses,reasons,mpxns";

/// Why a diff could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{path}: cannot read: {error}")]
    Io { path: PathBuf, error: io::Error },
    #[error(
        "{path}: no decisions.csv, but {export} is there: that sweep was written with \
         --format parquet or jsonl only, and diff reads decisions.csv; sweep again with \
         --format csv beside the others (e.g. --format csv,parquet)"
    )]
    OnlyExports { path: PathBuf, export: PathBuf },
    #[error("{path}:{line}: {problem}")]
    Bad {
        path: PathBuf,
        line: u64,
        problem: String,
    },
}

/// One decision row, as the diff compares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decided {
    pub outcome: String,
    pub clauses: String,
    pub reasons: String,
}

/// One installation whose decision differs between the two sweeps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub source: String,
    pub installation_id: String,
    /// `OLD->NEW` outcome (the same on both sides when only clauses or reasons moved),
    /// `added` or `removed`.
    pub change: String,
    pub before: Option<Decided>,
    pub after: Option<Decided>,
    /// The reasons only the old decision gave, and only the new one gives.
    pub reasons_gone: Vec<String>,
    pub reasons_new: Vec<String>,
}

impl Change {
    pub const CSV_HEADER: &'static [u8] = b"source,installation_id,change,outcome_before,outcome_after,clauses_before,clauses_after,reasons_before,reasons_after\n";

    pub fn push_csv(&self, out: &mut Vec<u8>) {
        let side = |d: &Option<Decided>, f: fn(&Decided) -> &str| -> String {
            d.as_ref().map_or(String::new(), |d| f(d).to_string())
        };
        let fields = [
            self.source.clone(),
            self.installation_id.clone(),
            self.change.clone(),
            side(&self.before, |d| &d.outcome),
            side(&self.after, |d| &d.outcome),
            side(&self.before, |d| &d.clauses),
            side(&self.after, |d| &d.clauses),
            side(&self.before, |d| &d.reasons),
            side(&self.after, |d| &d.reasons),
        ];
        let refs: Vec<&[u8]> = fields.iter().map(|f| f.as_bytes()).collect();
        push_record(out, &refs);
    }
}

/// The decisions file a path names: itself, or `decisions.csv` in it if it is a folder.
pub fn decisions_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("decisions.csv")
    } else {
        path.to_path_buf()
    }
}

/// A decisions.csv read row by row, checked for its header, its field count and order.
struct Reader {
    path: PathBuf,
    lines: io::Split<BufReader<File>>,
    line: u64,
    last: Option<(String, String)>,
    scratch: Vec<u8>,
    fields: Vec<crate::delimited::Field>,
}

/// One row: (source, installation_id) and its decision.
type Row = ((String, String), Decided);

impl Reader {
    fn open(path: &Path) -> Result<Reader, DiffError> {
        let io_err = |error| DiffError::Io {
            path: path.to_path_buf(),
            error,
        };
        let file = File::open(path).map_err(|error| {
            // A folder swept with --format parquet or jsonl alone holds no CSV.
            let export = ["decisions.parquet", "decisions.jsonl"]
                .into_iter()
                .filter(|_| error.kind() == io::ErrorKind::NotFound)
                .filter(|_| path.file_name() == Some("decisions.csv".as_ref()))
                .filter_map(|name| Some(path.parent()?.join(name)))
                .find(|p| p.exists());
            match export {
                Some(export) => DiffError::OnlyExports {
                    path: path.to_path_buf(),
                    export,
                },
                None => io_err(error),
            }
        })?;
        let mut reader = Reader {
            path: path.to_path_buf(),
            lines: BufReader::with_capacity(1 << 20, file).split(b'\n'),
            line: 0,
            last: None,
            scratch: Vec::new(),
            fields: Vec::new(),
        };
        match reader.next_line()? {
            Some(h) if h == DECISIONS_HEADER.as_bytes() => Ok(reader),
            _ => Err(reader.bad(format!(
                "not a decisions.csv: its first line must be `{DECISIONS_HEADER}`"
            ))),
        }
    }

    fn bad(&self, problem: String) -> DiffError {
        DiffError::Bad {
            path: self.path.clone(),
            line: self.line.max(1),
            problem,
        }
    }

    fn next_line(&mut self) -> Result<Option<Vec<u8>>, DiffError> {
        match self.lines.next() {
            None => Ok(None),
            Some(Err(error)) => Err(DiffError::Io {
                path: self.path.clone(),
                error,
            }),
            Some(Ok(mut l)) => {
                self.line += 1;
                if l.last() == Some(&b'\r') {
                    l.pop();
                }
                Ok(Some(l))
            }
        }
    }

    fn next(&mut self) -> Result<Option<Row>, DiffError> {
        let Some(line) = self.next_line()? else {
            return Ok(None);
        };
        split_line(&line, b',', &mut self.scratch, &mut self.fields)
            .map_err(|r| self.bad(format!("malformed line ({})", r.as_str())))?;
        if self.fields.len() != 7 {
            return Err(self.bad(format!(
                "{} fields, a decisions.csv row has 7",
                self.fields.len()
            )));
        }
        let field = |i: usize| -> Result<String, DiffError> {
            String::from_utf8(self.fields[i].bytes(&line, &self.scratch).to_vec())
                .map_err(|_| self.bad("not UTF-8".to_string()))
        };
        let key = (field(0)?, field(1)?);
        let decided = Decided {
            outcome: field(3)?,
            clauses: field(4)?,
            reasons: field(5)?,
        };
        // Byte order of (source, installation_id), as SPEC §7 sorts decisions.csv.
        if let Some(last) = &self.last {
            let order =
                (last.0.as_bytes(), last.1.as_bytes()).cmp(&(key.0.as_bytes(), key.1.as_bytes()));
            if order != std::cmp::Ordering::Less {
                return Err(self.bad(format!(
                    "{} {} is not after {} {}: not sorted as decisions.csv (or listed twice)",
                    key.0, key.1, last.0, last.1
                )));
            }
        }
        self.last = Some(key.clone());
        Ok(Some((key, decided)))
    }
}

/// What a diff found: every change, in (source, installation_id) order, and the counts
/// by `change`.
#[derive(Debug, Default, Serialize)]
pub struct Diff {
    pub old_installations: u64,
    pub new_installations: u64,
    pub counts: BTreeMap<String, u64>,
}

/// Diffs two decisions files, calling `each` with every change in order.
pub fn diff(
    old: &Path,
    new: &Path,
    mut each: impl FnMut(&Change) -> io::Result<()>,
) -> Result<Diff, DiffError> {
    let (mut a, mut b) = (Reader::open(old)?, Reader::open(new)?);
    let mut out = Diff::default();
    let (mut x, mut y) = (a.next()?, b.next()?);
    let write_err = |error| DiffError::Io {
        path: PathBuf::from("standard output"),
        error,
    };
    loop {
        let change = match (&x, &y) {
            (None, None) => break,
            (Some((k, d)), None) => {
                let c = changed(k, Some(d), None);
                x = a.next()?;
                out.old_installations += 1;
                c
            }
            (None, Some((k, d))) => {
                let c = changed(k, None, Some(d));
                y = b.next()?;
                out.new_installations += 1;
                c
            }
            (Some((ka, da)), Some((kb, db))) => {
                let order =
                    (ka.0.as_bytes(), ka.1.as_bytes()).cmp(&(kb.0.as_bytes(), kb.1.as_bytes()));
                match order {
                    std::cmp::Ordering::Less => {
                        let c = changed(ka, Some(da), None);
                        x = a.next()?;
                        out.old_installations += 1;
                        c
                    }
                    std::cmp::Ordering::Greater => {
                        let c = changed(kb, None, Some(db));
                        y = b.next()?;
                        out.new_installations += 1;
                        c
                    }
                    std::cmp::Ordering::Equal => {
                        let c = (da != db)
                            .then(|| changed(ka, Some(da), Some(db)))
                            .flatten();
                        x = a.next()?;
                        y = b.next()?;
                        out.old_installations += 1;
                        out.new_installations += 1;
                        c
                    }
                }
            }
        };
        if let Some(c) = change {
            *out.counts.entry(c.change.clone()).or_default() += 1;
            each(&c).map_err(write_err)?;
        }
    }
    Ok(out)
}

fn changed(
    key: &(String, String),
    before: Option<&Decided>,
    after: Option<&Decided>,
) -> Option<Change> {
    let reasons = |d: Option<&Decided>| -> Vec<String> {
        d.map_or(Vec::new(), |d| {
            d.reasons
                .split(';')
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect()
        })
    };
    let (old, new) = (reasons(before), reasons(after));
    let change = match (before, after) {
        (Some(b), Some(a)) => format!("{}->{}", b.outcome, a.outcome),
        (Some(_), None) => "removed".to_string(),
        (None, Some(_)) => "added".to_string(),
        (None, None) => return None,
    };
    Some(Change {
        source: key.0.clone(),
        installation_id: key.1.clone(),
        change,
        before: before.cloned(),
        after: after.cloned(),
        reasons_gone: old.iter().filter(|r| !new.contains(r)).cloned().collect(),
        reasons_new: new.iter().filter(|r| !old.contains(r)).cloned().collect(),
    })
}
