//! Key lists (`lookup --keys-from`, `portfolio --mpxns`): read line by line with a bound
//! on each line's length, so `/dev/zero` or a binary file is refused at its first long
//! line instead of filling memory; `-` reads standard input.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use anyhow::anyhow;

use super::Failure;

/// The longest line a key list may hold: far above any MPAN, MPRN or GUID spelling.
pub const MAX_KEY_LINE: usize = 4096;

/// Calls `each` with every trimmed, non-blank line of `path` (or of standard input for
/// `-`), in order. Fails naming the file and line on a line longer than
/// [`MAX_KEY_LINE`] bytes or one that is not UTF-8.
pub fn for_each_key(
    path: &Path,
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
        let key = text.trim();
        if !key.is_empty() {
            each(key)?;
        }
    }
    Ok(())
}
