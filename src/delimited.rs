//! Delimited text: reading and writing the CSV and pipe-delimited files of SPEC §3 and §7.
//!
//! Takes bytes; hands on a checked [`Header`] (delimiter told from the header line, names
//! trimmed and lower-cased, required columns present, no known column twice), lines
//! ([`line_at`]: LF ends a line, one trailing CR is dropped) and fields ([`split_line`]:
//! RFC 4180 within one physical line, no allocation per field). For output, minimal
//! RFC 4180 quoting ([`push_field`], [`push_record`]). It knows nothing of inventories or
//! registries: `ingest` and `registry` say which columns they need, and what a bad row
//! means is theirs to decide.

use std::path::{Path, PathBuf};

use crate::normalize;

/// The errors that refuse an input file or the run. Each names the file and, where one
/// is at fault, the column or line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    #[error("{path}: cannot read: {error}")]
    Io {
        path: PathBuf,
        // In the message, not chained: `main` prints the chain with `{:#}`.
        error: std::io::Error,
    },
    #[error(
        "{path}: the file changed while it was being read (its size or modification time \
         moved); nothing was written. Replace an input by renaming a finished copy into place, \
         never by editing it in place"
    )]
    Changed { path: PathBuf },
    #[error(
        "{dir}: cannot write spill files to this folder: {error}; free space there, name \
         another with --temp-dir, or raise --memory-limit"
    )]
    Spill { dir: PathBuf, error: std::io::Error },
    #[error("{path}: the file is empty; expected a header line naming the columns")]
    Empty { path: PathBuf },
    #[error("{path}:1: the header is not valid UTF-8")]
    HeaderNotUtf8 { path: PathBuf },
    #[error(
        "{path}:1: the header line holds a CR before its end, so the file's line ends look like \
         CR-only ones (old Mac style) and every row would be read as part of the header; \
         convert the line ends to LF or CRLF"
    )]
    CrInHeader { path: PathBuf },
    #[error("{path}:1: the header has malformed quoting")]
    HeaderQuoting { path: PathBuf },
    #[error("{path}:1: the header holds both '|' and ',', so the delimiter cannot be told; use one of them")]
    AmbiguousDelimiter { path: PathBuf },
    #[error("{path}:1: required column `{column}` is missing from the header")]
    MissingColumn { path: PathBuf, column: &'static str },
    #[error(
        "{path}:1: column `{column}` is named twice in the header (columns {first} and {second})"
    )]
    DuplicateColumn {
        path: PathBuf,
        column: &'static str,
        first: usize,
        second: usize,
    },
    #[error("{path}:{line}: bad supplier registry row: {problem}")]
    Registry {
        path: PathBuf,
        line: u64,
        problem: String,
    },
}

impl InputError {
    pub(crate) fn io(path: &Path, error: std::io::Error) -> InputError {
        InputError::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    pub(crate) fn spill(dir: &Path, error: std::io::Error) -> InputError {
        InputError::Spill {
            dir: dir.to_path_buf(),
            error,
        }
    }
}

/// The longest field a row may hold, in bytes after trimming (SPEC Appendix): texts are
/// stored with 24-bit lengths, and a longer one is `field too long`, never cut.
pub const MAX_FIELD_LEN: usize = (1 << 24) - 1;

/// Why a line could not be attributed to an installation (SPEC §5), in the order the
/// checks are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    UndecodableBytes,
    MalformedQuoting,
    WrongNumberOfFields,
    FieldTooLong,
    EmptySource,
    EmptyInstallationId,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::UndecodableBytes => "undecodable bytes",
            RejectReason::MalformedQuoting => "malformed quoting",
            RejectReason::WrongNumberOfFields => "wrong number of fields",
            RejectReason::FieldTooLong => "field too long",
            RejectReason::EmptySource => "empty source",
            RejectReason::EmptyInstallationId => "empty installation_id",
        }
    }
}

/// Where a file's known columns are, and how its lines are split.
#[derive(Clone, Debug)]
pub struct Header {
    pub delimiter: u8,
    /// Number of fields every row must have (unknown and empty-named columns included).
    pub field_count: usize,
    /// For each known column name (by position in the `names` given to [`Header::parse`]),
    /// its field index, if present.
    pub positions: Vec<Option<usize>>,
    /// Byte offset of the first body line.
    pub body_start: usize,
    /// For each known column, its name as the header writes it (trimmed, case kept;
    /// empty when absent): what findings.csv names the column by.
    pub spelled: Vec<String>,
}

impl Header {
    /// Reads and checks a file's header line (SPEC §3 and the Appendix): strips a leading
    /// BOM, decides the delimiter, lower-cases and trims the names, refuses a missing
    /// required column, a known column named twice, or a header with both `|` and `,`.
    /// `required[i]` says whether `names[i]` must be present. O(header).
    pub fn parse(
        path: &Path,
        bytes: &[u8],
        names: &[&'static str],
        required: &[bool],
    ) -> Result<Header, InputError> {
        let path_buf = || path.to_path_buf();
        if bytes.is_empty() {
            return Err(InputError::Empty { path: path_buf() });
        }
        let start = if bytes.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let (line, next) = line_at(bytes, start);
        std::str::from_utf8(line).map_err(|_| InputError::HeaderNotUtf8 { path: path_buf() })?;
        // `line_at` removed one trailing CR; any other CR means the line ends are CR-only
        // (or mixed), and the rows would silently vanish into the header (Appendix).
        if line.contains(&b'\r') {
            return Err(InputError::CrInHeader { path: path_buf() });
        }
        let has_pipe = line.contains(&b'|');
        let has_comma = line.contains(&b',');
        let delimiter = match (has_pipe, has_comma) {
            (true, true) => return Err(InputError::AmbiguousDelimiter { path: path_buf() }),
            (true, false) => b'|',
            _ => b',',
        };
        let mut scratch = Vec::new();
        let mut fields = Vec::new();
        split_line(line, delimiter, &mut scratch, &mut fields)
            .map_err(|_| InputError::HeaderQuoting { path: path_buf() })?;
        let mut positions = vec![None; names.len()];
        let mut spelled = vec![String::new(); names.len()];
        for (index, field) in fields.iter().enumerate() {
            let written = normalize::trim(field.bytes(line, &scratch));
            let name = written.to_ascii_lowercase();
            if let Some(known) = names.iter().position(|n| n.as_bytes() == name.as_slice()) {
                if let Some(first) = positions[known] {
                    return Err(InputError::DuplicateColumn {
                        path: path_buf(),
                        column: names[known],
                        first: first + 1,
                        second: index + 1,
                    });
                }
                positions[known] = Some(index);
                spelled[known] = String::from_utf8_lossy(written).into_owned();
            }
        }
        for (i, name) in names.iter().enumerate() {
            if required[i] && positions[i].is_none() {
                return Err(InputError::MissingColumn {
                    path: path_buf(),
                    column: name,
                });
            }
        }
        Ok(Header {
            delimiter,
            field_count: fields.len(),
            positions,
            body_start: next,
            spelled,
        })
    }
}

/// The line starting at `start` (LF and one trailing CR removed) and the offset of the
/// next line.
pub fn line_at(bytes: &[u8], start: usize) -> (&[u8], usize) {
    let rest = &bytes[start..];
    let (mut line, next) = match memchr::memchr(b'\n', rest) {
        Some(i) => (&rest[..i], start + i + 1),
        None => (rest, bytes.len()),
    };
    if let [head @ .., b'\r'] = line {
        line = head;
    }
    (line, next)
}

/// One field of a split line: a byte range in the line itself, or — for a quoted field
/// with `""` escapes — in the scratch buffer that holds its unescaped text.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    start: u32,
    end: u32,
    unescaped: bool,
}

impl Field {
    pub fn bytes<'a>(self, line: &'a [u8], scratch: &'a [u8]) -> &'a [u8] {
        let range = self.start as usize..self.end as usize;
        if self.unescaped {
            &scratch[range]
        } else {
            &line[range]
        }
    }

    /// The field's range in the line, when its text is a contiguous part of it.
    pub fn in_line(self) -> Option<(u32, u32)> {
        (!self.unescaped).then_some((self.start, self.end))
    }
}

/// Splits one line into fields (RFC 4180 within one physical line: a field whose first
/// byte is `"` is quoted, `""` inside it is a quote, and the closing quote must be
/// followed by the delimiter or the end of the line). A `"` inside an unquoted field is
/// an ordinary character. Clears and refills `fields` and `scratch`; allocates only when
/// they must grow.
pub fn split_line(
    line: &[u8],
    delimiter: u8,
    scratch: &mut Vec<u8>,
    fields: &mut Vec<Field>,
) -> Result<(), RejectReason> {
    fields.clear();
    scratch.clear();
    // The common line has no quote at all: every field is a plain slice, found by one
    // vectorised scan for the delimiter over the whole line.
    if memchr::memchr(b'"', line).is_none() {
        let mut start = 0u32;
        for end in memchr::memchr_iter(delimiter, line) {
            fields.push(Field {
                start,
                end: end as u32,
                unescaped: false,
            });
            start = end as u32 + 1;
        }
        fields.push(Field {
            start,
            end: line.len() as u32,
            unescaped: false,
        });
        return Ok(());
    }
    let mut pos = 0usize;
    loop {
        if line.get(pos) == Some(&b'"') {
            let mut cursor = pos + 1;
            let mut escaped = false;
            let scratch_start = scratch.len();
            let close = loop {
                let Some(q) = memchr::memchr(b'"', &line[cursor..]) else {
                    return Err(RejectReason::MalformedQuoting);
                };
                let q = cursor + q;
                if line.get(q + 1) == Some(&b'"') {
                    if !escaped {
                        escaped = true;
                    }
                    scratch.extend_from_slice(&line[cursor..=q]);
                    cursor = q + 2;
                } else {
                    break q;
                }
            };
            if escaped {
                scratch.extend_from_slice(&line[cursor..close]);
                fields.push(Field {
                    start: scratch_start as u32,
                    end: scratch.len() as u32,
                    unescaped: true,
                });
            } else {
                fields.push(Field {
                    start: (pos + 1) as u32,
                    end: close as u32,
                    unescaped: false,
                });
            }
            match line.get(close + 1) {
                None => return Ok(()),
                Some(&b) if b == delimiter => pos = close + 2,
                Some(_) => return Err(RejectReason::MalformedQuoting),
            }
        } else {
            let end = memchr::memchr(delimiter, &line[pos..]).map(|i| pos + i);
            fields.push(Field {
                start: pos as u32,
                end: end.unwrap_or(line.len()) as u32,
                unescaped: false,
            });
            match end {
                Some(e) => pos = e + 1,
                None => return Ok(()),
            }
        }
    }
}

/// Splits a line that holds no `"` in one pass, finding delimiters and quotes together,
/// eight bytes at a time (SWAR on `u64` words: no `unsafe`, no target features; for
/// lines of about a hundred bytes this beats a vectorised search for each delimiter).
/// Calls `field(index, start, end)` for each field in order and returns the number of
/// fields; returns `None` as soon as it meets a `"`, and then the calls made so far are
/// void: the caller splits the line with [`split_line`] instead. For a line without a
/// quote the fields are exactly those of [`split_line`].
#[inline]
pub fn split_unquoted(
    line: &[u8],
    delimiter: u8,
    mut field: impl FnMut(usize, usize, usize),
) -> Option<usize> {
    let delimiters = broadcast(delimiter);
    let quotes = broadcast(b'"');
    let mut index = 0;
    let mut start = 0;
    let mut base = 0;
    while base < line.len() {
        let word = match line.get(base..base + 8) {
            Some(word) => u64::from_le_bytes(word.try_into().expect("8 bytes")),
            None => {
                // The tail, padded with NULs (never a delimiter or a quote).
                let mut tail = [0u8; 8];
                tail[..line.len() - base].copy_from_slice(&line[base..]);
                u64::from_le_bytes(tail)
            }
        };
        if byte_matches(word, quotes) != 0 {
            return None;
        }
        let mut hits = byte_matches(word, delimiters);
        while hits != 0 {
            let end = base + (hits.trailing_zeros() / 8) as usize;
            field(index, start, end);
            index += 1;
            start = end + 1;
            hits &= hits - 1;
        }
        base += 8;
    }
    field(index, start, line.len());
    Some(index + 1)
}

/// `b` in every byte of a word.
#[inline]
fn broadcast(b: u8) -> u64 {
    u64::from(b) * 0x0101_0101_0101_0101
}

/// The high bit of each byte of `word` that equals the byte of `pattern` (a broadcast
/// byte), exactly: no carries cross bytes, so there are no false positives.
#[inline]
fn byte_matches(word: u64, pattern: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = word ^ pattern;
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// Appends one CSV field, quoted only when it holds `,`, `"`, CR or LF.
pub fn push_field(out: &mut Vec<u8>, field: &[u8]) {
    if field
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
    {
        out.push(b'"');
        for &b in field {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(field);
    }
}

/// Appends a whole CSV record (fields joined by `,`, then LF).
pub fn push_record(out: &mut Vec<u8>, fields: &[&[u8]]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_field(out, f);
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str, delim: u8) -> Result<Vec<String>, RejectReason> {
        let mut scratch = Vec::new();
        let mut fields = Vec::new();
        split_line(line.as_bytes(), delim, &mut scratch, &mut fields)?;
        Ok(fields
            .iter()
            .map(|f| String::from_utf8(f.bytes(line.as_bytes(), &scratch).to_vec()).unwrap())
            .collect())
    }

    #[test]
    fn splits_plain_and_quoted_fields() {
        assert_eq!(split("a,b,,c", b',').unwrap(), ["a", "b", "", "c"]);
        assert_eq!(split("", b',').unwrap(), [""]);
        assert_eq!(split("a|\"b|c\"|d", b'|').unwrap(), ["a", "b|c", "d"]);
        assert_eq!(
            split("\"say \"\"hi\"\"\",x", b',').unwrap(),
            ["say \"hi\"", "x"]
        );
        assert_eq!(split("\"\",x,\"\"", b',').unwrap(), ["", "x", ""]);
        assert_eq!(
            split("ab\"c,d", b',').unwrap(),
            ["ab\"c", "d"],
            "inner quote is literal"
        );
        assert_eq!(
            split(" \"a\",b", b',').unwrap(),
            [" \"a\"", "b"],
            "quote not first"
        );
    }

    #[test]
    fn split_unquoted_agrees_with_split_line() {
        let lines = [
            "",
            ",",
            "a",
            "a,b,,c",
            ",,,",
            "0123456,89abcdef,",
            "0123456789abcdef",
            "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p",
            " x , y ,\x0b,\u{e9}t\u{e9},\0,",
            "ab\"c,d",
            "a,\"b\",c",
        ];
        let long = [
            "x,".repeat(40),
            format!("{}\"", "y|".repeat(70)),
            format!("{},{}", "z".repeat(64), "w".repeat(63)),
        ];
        let lines = lines.iter().copied().chain(long.iter().map(String::as_str));
        for line in lines {
            for delim in [b',', b'|'] {
                let mut got = Vec::new();
                let count = split_unquoted(line.as_bytes(), delim, |i, s, e| {
                    assert_eq!(i, got.len());
                    got.push(line[s..e].to_string());
                });
                if line.contains('"') {
                    assert_eq!(count, None, "{line:?}");
                } else {
                    assert_eq!(count, Some(got.len()));
                    assert_eq!(got, split(line, delim).unwrap(), "{line:?}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn split_unquoted_agrees_on_any_line(
            line in proptest::collection::vec(
                proptest::sample::select(
                    &[b'a', b',', b'|', b'"', b' ', b'\t', b'\r', 0, 0x0B, 0xC3, 0xA9][..]
                ),
                0..200,
            ),
            pipe: bool,
        ) {
            let delimiter = if pipe { b'|' } else { b',' };
            let mut got = Vec::new();
            let count = split_unquoted(&line, delimiter, |i, start, end| {
                got.truncate(i);
                got.push(line[start..end].to_vec());
            });
            if line.contains(&b'"') {
                proptest::prop_assert_eq!(count, None);
            } else {
                let (mut scratch, mut fields) = (Vec::new(), Vec::new());
                split_line(&line, delimiter, &mut scratch, &mut fields).unwrap();
                let want: Vec<Vec<u8>> =
                    fields.iter().map(|f| f.bytes(&line, &scratch).to_vec()).collect();
                proptest::prop_assert_eq!(count, Some(want.len()));
                proptest::prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn rejects_malformed_quoting() {
        assert_eq!(split("\"abc,d", b','), Err(RejectReason::MalformedQuoting));
        assert_eq!(
            split("\"abc\"x,d", b','),
            Err(RejectReason::MalformedQuoting)
        );
        assert_eq!(
            split("\"abc\" ,d", b','),
            Err(RejectReason::MalformedQuoting)
        );
        assert_eq!(
            split("a,\"b\"\"", b','),
            Err(RejectReason::MalformedQuoting)
        );
    }

    #[test]
    fn header_detects_delimiter_and_refuses() {
        let names = ["a", "b"];
        let req = [true, false];
        let p = Path::new("f.csv");
        let h = Header::parse(p, b"\xEF\xBB\xBFB | A\r\nx|y\n", &names, &req).unwrap();
        assert_eq!(h.delimiter, b'|');
        assert_eq!(h.positions, vec![Some(1), Some(0)]);
        assert_eq!(h.body_start, 3 + 7);
        let h = Header::parse(p, b"a", &names, &req).unwrap();
        assert_eq!((h.delimiter, h.field_count), (b',', 1));
        assert!(matches!(
            Header::parse(p, b"a,b|c\n", &names, &req),
            Err(InputError::AmbiguousDelimiter { .. })
        ));
        let err = Header::parse(p, b"b,c\n", &names, &req).unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.csv:1: required column `a` is missing from the header"
        );
        assert!(matches!(
            Header::parse(p, b"a,B,b\n", &names, &req),
            Err(InputError::DuplicateColumn {
                column: "b",
                first: 2,
                second: 3,
                ..
            })
        ));
        assert!(matches!(
            Header::parse(p, b"", &names, &req),
            Err(InputError::Empty { .. })
        ));
    }

    #[test]
    fn line_at_strips_one_cr() {
        assert_eq!(line_at(b"ab\r\r\ncd", 0), (&b"ab\r"[..], 5));
        assert_eq!(line_at(b"ab\r\r\ncd", 5), (&b"cd"[..], 7));
    }
    #[test]
    fn quoting_is_minimal() {
        let mut out = Vec::new();
        push_record(&mut out, &[b"plain", b"a,b", b"say \"hi\"", b"cr\r", b""]);
        assert_eq!(out, b"plain,\"a,b\",\"say \"\"hi\"\"\",\"cr\r\",\n");
    }
}
