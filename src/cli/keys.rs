//! Key lists (`lookup --keys-from`, `portfolio --mpxns`): read line by line with a bound
//! on each line's length, so `/dev/zero` or a binary file is refused at its first long
//! line instead of filling memory; `-` reads standard input.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use anyhow::anyhow;

use super::Failure;
use crate::delimited::split_line;

/// The longest line a key list may hold: far above any MPAN, MPRN or GUID spelling.
pub const MAX_KEY_LINE: usize = 4096;

/// Calls `each` with every trimmed, non-blank line of `path` (or of standard input for
/// `-`), in order. Fails naming the file and line on a line longer than
/// [`MAX_KEY_LINE`] bytes or one that is not UTF-8.
pub fn for_each_key(
    path: &Path,
    each: impl FnMut(&str) -> Result<(), Failure>,
) -> Result<(), Failure> {
    for_each_key_in(path, None, each)
}

/// [`for_each_key`], or with `column`, the values of that column of a CSV (or
/// pipe-delimited) file: its first non-blank line is the header (names trimmed,
/// compared case-insensitively, a leading BOM dropped), each later line a record
/// (RFC 4180 quoting within a line); blank values are skipped. Fails naming the file
/// (and line) on a header without the column, bad quoting, or a record too short to
/// hold the column.
pub fn for_each_key_in(
    path: &Path,
    column: Option<&str>,
    mut each: impl FnMut(&str) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let shown = if path == Path::new("-") {
        "standard input".to_string()
    } else {
        path.display().to_string()
    };
    let source: Box<dyn Read> = if path == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        if path.is_dir() {
            return Err(Failure::Refused(anyhow!(
                "{shown} is a directory; name a file with one key per line"
            )));
        }
        Box::new(File::open(path).map_err(|e| anyhow!("cannot read {shown}: {e}"))?)
    };
    let mut reader = BufReader::with_capacity(1 << 16, source);
    let mut line = Vec::new();
    // With a column: (delimiter, the column's field index), once the header is read.
    let mut table: Option<(u8, usize)> = None;
    let (mut scratch, mut fields) = (Vec::new(), Vec::new());
    for number in 1u64.. {
        line.clear();
        let n = (&mut reader)
            .take(MAX_KEY_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| anyhow!("cannot read {shown}: {e}"))?;
        if n == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if line.len() > MAX_KEY_LINE {
            return Err(Failure::Refused(anyhow!(
                "{shown}:{number}: the line is longer than {MAX_KEY_LINE} bytes; a key list \
                 holds one MPAN, MPRN or GUID per line"
            )));
        }
        let text = std::str::from_utf8(&line).map_err(|_| {
            Failure::Refused(anyhow!("{shown}:{number}: the line is not valid UTF-8"))
        })?;
        let Some(name) = column else {
            let key = text.trim();
            if !key.is_empty() {
                each(key)?;
            }
            continue;
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        if table.is_none() && text.trim().is_empty() {
            continue;
        }
        let bad_quoting = |_| {
            Failure::Refused(anyhow!(
                "{shown}:{number}: a quoted field is not closed properly"
            ))
        };
        let bytes = text.as_bytes();
        match &table {
            None => {
                let delimiter = if text.contains('|') && !text.contains(',') {
                    b'|'
                } else {
                    b','
                };
                split_line(bytes, delimiter, &mut scratch, &mut fields).map_err(bad_quoting)?;
                let names: Vec<String> = fields
                    .iter()
                    .map(|f| {
                        String::from_utf8_lossy(f.bytes(bytes, &scratch))
                            .trim()
                            .to_string()
                    })
                    .collect();
                let at = names
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(name.trim()))
                    .ok_or_else(|| {
                        Failure::Refused(anyhow!(
                            "{shown}:{number}: the header has no column `{name}` (it has: {})",
                            names.join(", ")
                        ))
                    })?;
                table = Some((delimiter, at));
            }
            Some((delimiter, at)) => {
                if text.trim().is_empty() {
                    continue;
                }
                split_line(bytes, *delimiter, &mut scratch, &mut fields).map_err(bad_quoting)?;
                let field = fields.get(*at).ok_or_else(|| {
                    Failure::Refused(anyhow!(
                        "{shown}:{number}: {} field(s), too few for column `{name}` (field {})",
                        fields.len(),
                        at + 1
                    ))
                })?;
                let value = String::from_utf8_lossy(field.bytes(bytes, &scratch)).into_owned();
                let key = value.trim();
                if !key.is_empty() {
                    each(key)?;
                }
            }
        }
    }
    if let (Some(name), None) = (column, table) {
        return Err(Failure::Refused(anyhow!(
            "{shown}: no header line, so no column `{name}`"
        )));
    }
    Ok(())
}
