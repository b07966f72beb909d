//! Export: the sweep's tables as Parquet and JSON Lines beside (or instead of) CSV
//! (`sweep --format csv|parquet|jsonl`, issue 14 item 3).
//!
//! Takes the CSV byte stream that `report` writes for a table (its own output: fixed
//! header, minimal RFC 4180 quoting, LF line ends) through an [`Exporter`], which passes
//! it on to the CSV file when one is asked for and converts each line, by that table's
//! [`Table`] schema, into a typed row of `<table>.parquet` and a `<table>.jsonl` object.
//! So every format holds the same rows in the same order, equal by construction, and the
//! CSV path stays the same bytes. Guarantees, per column of the schema: dates are
//! Parquet DATE (INT32 days since 1970-01-01) and `"YYYY-MM-DD"` in JSON; line numbers
//! INT64 and JSON numbers; every other column a UTF-8 STRING (yes/no/unknown too, so no
//! reader takes it for a BOOLEAN); an empty field of an optional column is NULL / `null`.
//! Leaves staging and publishing to `report` and `publish`.
//!
//! Cost: one more pass over each table's CSV text, split and converted in rayon tasks of
//! 8,192 lines (cut at exact row-group boundaries, so the bytes never depend on how the
//! text arrived) and written in order; Parquet row groups of 2^20 rows are buffered (one
//! per file at a time, about 160 MB for decisions) and encoded on one thread with zstd
//! (level 1). About 1 µs of CPU per row for Parquet, 0.45 µs for JSON Lines: at 60M rows
//! `--format parquet` makes a 2 s index sweep 7.1 s, `jsonl` 4.8 s (BENCHMARKS.md,
//! "Issue 14 at 60M rows").

use std::io::{self, Write};

use rayon::prelude::*;

use crate::delimited::{split_line, Field};

/// The output formats of a sweep's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    Csv,
    Parquet,
    Jsonl,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Csv, Format::Parquet, Format::Jsonl];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Jsonl => "jsonl",
        }
    }
}

/// The formats a sweep writes each table in: a set, CSV alone by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Formats {
    bits: u8,
}

impl Default for Formats {
    fn default() -> Formats {
        Formats::CSV
    }
}

impl Formats {
    /// CSV only: what a sweep writes when no `--format` is given.
    pub const CSV: Formats = Formats { bits: 1 };

    /// The set of `formats`; an empty list means CSV alone.
    pub fn of(formats: &[Format]) -> Formats {
        if formats.is_empty() {
            return Formats::CSV;
        }
        Formats {
            bits: formats.iter().fold(0, |b, f| b | 1 << *f as u8),
        }
    }

    pub fn has(self, f: Format) -> bool {
        self.bits & (1 << f as u8) != 0
    }

    /// The formats of the set, in [`Format::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Format> {
        Format::ALL.into_iter().filter(move |f| self.has(*f))
    }
}

/// What a column holds, and so its Parquet type and JSON type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Text, never empty or meaningful when empty (a verbatim value): required STRING.
    Text,
    /// Text that is empty when there is none (a GroupID, a `;`-joined list): optional
    /// STRING, NULL when empty.
    OptionalText,
    /// A `YYYY-MM-DD` date or empty: optional DATE.
    Date,
    /// A count or line number: required INT64.
    Integer,
}

/// One table of the sweep's outputs: its file names and its columns (the CSV header).
#[derive(Debug)]
pub struct Table {
    /// The file names of the table in [`Format::ALL`] order (all `&'static`, so they key
    /// `summary.json`'s `outputs`).
    pub files: [&'static str; 3],
    pub columns: &'static [(&'static str, Kind)],
}

impl Table {
    /// The file name of this table in `format`.
    pub fn file(&self, format: Format) -> &'static str {
        self.files[format as usize]
    }

    /// The CSV header line, LF included.
    pub fn header(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.0).collect();
        format!("{}\n", names.join(","))
    }
}

use Kind::{Date, Integer, OptionalText, Text};

pub const DECISIONS: Table = Table {
    files: ["decisions.csv", "decisions.parquet", "decisions.jsonl"],
    columns: &[
        ("source", Text),
        ("installation_id", Text),
        ("group_id", OptionalText),
        ("outcome", Text),
        ("clauses", OptionalText),
        ("reasons", OptionalText),
        ("mpxns", OptionalText),
    ],
};

pub const DUPLICATES: Table = Table {
    files: ["duplicates.csv", "duplicates.parquet", "duplicates.jsonl"],
    columns: &[
        ("mpxn", Text),
        ("kind", Text),
        ("source", Text),
        ("installation_id", Text),
        ("installed_on", Date),
        ("last_comms_at", Date),
        ("communicating", Text),
        ("last_installed", Text),
        ("party_id", OptionalText),
    ],
};

pub const REJECTS: Table = Table {
    files: ["rejects.csv", "rejects.parquet", "rejects.jsonl"],
    columns: &[
        ("file", Text),
        ("line", Integer),
        ("reason", Text),
        ("raw", Text),
    ],
};

pub const FINDINGS: Table = Table {
    files: ["findings.csv", "findings.parquet", "findings.jsonl"],
    columns: &[
        ("source", Text),
        ("installation_id", Text),
        ("finding", Text),
        ("file", Text),
        ("line", Integer),
        ("column", Text),
        ("value", Text),
    ],
};

pub const WHATIF: Table = Table {
    files: ["whatif.csv", "whatif.parquet", "whatif.jsonl"],
    columns: &[
        ("source", Text),
        ("installation_id", Text),
        ("group_id", OptionalText),
        ("outcome", Text),
        ("whatif_outcome", Text),
        ("whatif_clauses", OptionalText),
        ("whatif_reasons", OptionalText),
        ("held_back_by", OptionalText),
        ("mpxns", OptionalText),
    ],
};

/// Every table, in the order a sweep writes them.
pub const TABLES: [&Table; 5] = [&DECISIONS, &DUPLICATES, &REJECTS, &FINDINGS, &WHATIF];

/// Parquet rows per row group (and JSON lines per buffer flush).
const ROW_GROUP: usize = 1 << 20;

/// A writer of one table's CSV text that also (or only) writes it as Parquet and JSON
/// Lines. Bytes pass to the CSV sink as they come; whole lines are converted once
/// 8 MiB or more is pending, and the rest by [`Exporter::finish`], which must be called.
pub struct Exporter<'a> {
    table: &'static Table,
    csv: Option<&'a mut (dyn Write + Send)>,
    jsonl: Option<&'a mut (dyn Write + Send)>,
    /// `{"name":`, then `,"name":` for each further column.
    keys: Vec<Vec<u8>>,
    #[cfg(feature = "parquet")]
    parquet: Option<parquet_out::ParquetTable<'a>>,
    pending: Vec<u8>,
    /// Whether the header line has been seen (and checked).
    header_seen: bool,
    /// The physical lines of the CSV text converted so far, the header included.
    lines: u64,
    /// Rows per Parquet row group ([`ROW_GROUP`]).
    row_group: usize,
}

/// The sinks of one table, one per format asked for.
pub struct Sinks<'a> {
    pub csv: Option<&'a mut (dyn Write + Send)>,
    pub parquet: Option<&'a mut (dyn Write + Send)>,
    pub jsonl: Option<&'a mut (dyn Write + Send)>,
}

/// Lines per conversion task: small enough that a batch splits across the threads.
const TASK_LINES: usize = 1 << 13;

impl<'a> Exporter<'a> {
    /// An exporter of `table` into `sinks`. Fails only when Parquet is asked for in a
    /// build without the `parquet` feature, or the schema is refused.
    pub fn new(table: &'static Table, sinks: Sinks<'a>) -> io::Result<Exporter<'a>> {
        Exporter::with_row_group(table, sinks, ROW_GROUP)
    }

    /// [`Exporter::new`] with Parquet row groups of `row_group` rows (tests use small
    /// ones).
    fn with_row_group(
        table: &'static Table,
        sinks: Sinks<'a>,
        row_group: usize,
    ) -> io::Result<Exporter<'a>> {
        #[cfg(feature = "parquet")]
        let parquet = match sinks.parquet {
            Some(w) => Some(parquet_out::ParquetTable::new(table, w, row_group)?),
            None => None,
        };
        #[cfg(not(feature = "parquet"))]
        if sinks.parquet.is_some() {
            return Err(io::Error::other(
                "this build has no Parquet writer (built without the `parquet` feature)",
            ));
        }
        let keys = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                let mut k = if i == 0 { b"{".to_vec() } else { b",".to_vec() };
                json_string(&mut k, name.as_bytes());
                k.push(b':');
                k
            })
            .collect();
        Ok(Exporter {
            table,
            csv: sinks.csv,
            jsonl: sinks.jsonl,
            keys,
            #[cfg(feature = "parquet")]
            parquet,
            pending: Vec::new(),
            header_seen: false,
            lines: 0,
            row_group,
        })
    }

    fn has_parquet(&self) -> bool {
        #[cfg(feature = "parquet")]
        return self.parquet.is_some();
        #[cfg(not(feature = "parquet"))]
        false
    }

    /// Converts the whole lines pending (all of them when `last`): cut into tasks of
    /// [`TASK_LINES`] lines (never across a row-group boundary, so row groups are exact
    /// and the bytes do not depend on how the CSV text arrived), converted in parallel,
    /// and written in order.
    fn convert(&mut self, last: bool) -> io::Result<()> {
        let end = if last {
            self.pending.len()
        } else {
            match memchr::memrchr(b'\n', &self.pending) {
                Some(i) => i + 1,
                None => return Ok(()),
            }
        };
        let mut from = 0;
        if !self.header_seen && end > 0 {
            let stop = memchr::memchr(b'\n', &self.pending[..end]).unwrap_or(end);
            self.header_seen = true;
            self.lines += 1;
            if self.pending[..stop] != *self.table.header().trim_end_matches('\n').as_bytes() {
                return Err(bad_row(self.table, 1, "the header is not the table's"));
            }
            from = (stop + 1).min(end);
        }
        // The tasks: (first line number, bytes), each ending at a line end.
        let mut tasks: Vec<(u64, &[u8])> = Vec::new();
        let mut rows_done = self.lines.saturating_sub(1) as usize;
        let mut task_start = from;
        let mut in_task = 0;
        let mut line_no = self.lines + 1;
        let bytes = &self.pending[..end];
        let mut cut = |stop: usize, in_task: &mut usize, task_start: &mut usize| {
            tasks.push((line_no, &bytes[*task_start..stop]));
            line_no += *in_task as u64;
            *task_start = stop;
            *in_task = 0;
        };
        for i in memchr::memchr_iter(b'\n', &bytes[from..]) {
            in_task += 1;
            rows_done += 1;
            if in_task == TASK_LINES || rows_done.is_multiple_of(self.row_group) {
                cut(from + i + 1, &mut in_task, &mut task_start);
            }
        }
        if task_start < end {
            // A last line without its LF (only when `last`).
            in_task += 1;
            cut(end, &mut in_task, &mut task_start);
        }
        let (table, keys) = (self.table, &self.keys);
        let (json, parquet) = (self.jsonl.is_some(), self.has_parquet());
        let converted: Vec<Converted> = tasks
            .into_par_iter()
            .map(|(first_line, text)| convert_task(table, keys, first_line, text, json, parquet))
            .collect::<io::Result<_>>()?;
        for c in converted {
            self.lines += c.rows as u64;
            if let Some(w) = &mut self.jsonl {
                w.write_all(&c.jsonl)?;
            }
            #[cfg(feature = "parquet")]
            if let (Some(p), Some(columns)) = (&mut self.parquet, c.columns) {
                p.append(columns, c.rows)?;
            }
        }
        self.pending.drain(..end);
        Ok(())
    }

    /// Converts what is left, writes the last row group and the Parquet footer, and
    /// flushes every sink.
    pub fn finish(mut self) -> io::Result<()> {
        self.convert(true)?;
        if let Some(j) = self.jsonl.take() {
            j.flush()?;
        }
        #[cfg(feature = "parquet")]
        if let Some(p) = self.parquet.take() {
            p.finish()?;
        }
        if let Some(c) = self.csv.take() {
            c.flush()?;
        }
        Ok(())
    }
}

/// One task's rows: as JSON Lines, and as Parquet column fragments.
struct Converted {
    rows: usize,
    jsonl: Vec<u8>,
    #[cfg(feature = "parquet")]
    columns: Option<Vec<parquet_out::Column>>,
}

/// Converts whole CSV lines (`first_line` the number of the first) into [`Converted`].
fn convert_task(
    table: &'static Table,
    keys: &[Vec<u8>],
    first_line: u64,
    text: &[u8],
    json: bool,
    parquet: bool,
) -> io::Result<Converted> {
    let (mut scratch, mut fields) = (Vec::new(), Vec::new());
    let mut out = Converted {
        rows: 0,
        jsonl: Vec::with_capacity(if json { text.len() * 5 / 2 } else { 0 }),
        #[cfg(feature = "parquet")]
        columns: parquet.then(|| parquet_out::Column::for_table(table)),
    };
    let _ = parquet;
    let mut start = 0;
    while start < text.len() {
        let stop = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |i| start + i);
        // Our own CSV: a CR inside a field is quoted, so LF alone ends a line.
        let line = &text[start..stop];
        start = stop + 1;
        let line_no = first_line + out.rows as u64;
        let bad = |problem: &str| bad_row(table, line_no, problem);
        split_line(line, b',', &mut scratch, &mut fields).map_err(|_| bad("malformed quoting"))?;
        if fields.len() != table.columns.len() {
            return Err(bad("wrong number of fields"));
        }
        let row = Row {
            line,
            scratch: &scratch,
            fields: &fields,
        };
        if json {
            push_json(table, keys, &row, &mut out.jsonl).map_err(bad)?;
        }
        #[cfg(feature = "parquet")]
        if let Some(columns) = &mut out.columns {
            parquet_out::push(table, columns, &row).map_err(|e| bad(&e))?;
        }
        out.rows += 1;
    }
    Ok(out)
}

fn bad_row(table: &Table, line: u64, problem: &str) -> io::Error {
    // A bug of ours, not of the input: the text converted is the engine's own CSV.
    io::Error::other(format!(
        "{} line {line} cannot be exported: {problem}",
        table.files[0]
    ))
}

impl Write for Exporter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(c) = &mut self.csv {
            c.write_all(buf)?;
        }
        if self.jsonl.is_some() || self.has_parquet() {
            self.pending.extend_from_slice(buf);
            if self.pending.len() >= 8 << 20 {
                self.convert(false)?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One CSV row, split.
struct Row<'r> {
    line: &'r [u8],
    scratch: &'r [u8],
    fields: &'r [Field],
}

impl<'r> Row<'r> {
    fn field(&self, i: usize) -> &'r [u8] {
        self.fields[i].bytes(self.line, self.scratch)
    }
}

/// Appends `row` as one JSON Lines object: keys the CSV header's names, in its order.
fn push_json(
    table: &Table,
    keys: &[Vec<u8>],
    row: &Row<'_>,
    out: &mut Vec<u8>,
) -> Result<(), &'static str> {
    for (i, (_, kind)) in table.columns.iter().enumerate() {
        out.extend_from_slice(&keys[i]);
        let value = row.field(i);
        match kind {
            Text => json_string(out, value),
            OptionalText | Date if value.is_empty() => out.extend_from_slice(b"null"),
            OptionalText | Date => json_string(out, value),
            // Our own digits: written as they are, a JSON number.
            Integer => {
                if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                    return Err("a line number that is not a number");
                }
                out.extend_from_slice(value)
            }
        }
    }
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// Appends `text` as a JSON string (invalid UTF-8, which our CSV never holds, as U+FFFD).
fn json_string(out: &mut Vec<u8>, text: &[u8]) {
    // Most of ours: printable ASCII with nothing to escape, copied as it is.
    if text
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.push(b'"');
        out.extend_from_slice(text);
        out.push(b'"');
        return;
    }
    let text = String::from_utf8_lossy(text);
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[from..i]);
        if escape.is_empty() {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.extend_from_slice(escape);
        }
        from = i + 1;
    }
    out.extend_from_slice(&bytes[from..]);
    out.push(b'"');
}

/// `YYYY-MM-DD` → days since 1970-01-01.
#[cfg(feature = "parquet")]
fn parse_date(text: &[u8]) -> Option<i32> {
    crate::normalize::Day::parse(text)
        .filter(|_| text.len() == 10)
        .map(|d| d.0)
}

#[cfg(feature = "parquet")]
mod parquet_out {
    //! The Parquet side: a schema per [`Table`], columns buffered a row group at a time
    //! and written with the low-level column writers.

    use std::io::{self, Write};
    use std::sync::Arc;

    use bytes::Bytes;
    use parquet::basic::{Compression, Encoding, ZstdLevel};
    use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
    use parquet::file::properties::{EnabledStatistics, WriterProperties};
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use parquet::schema::types::ColumnPath;

    use super::{parse_date, Kind, Row, Table};

    /// One column's values of the row group being filled (or of one task's rows).
    pub enum Column {
        /// Texts laid end to end, with their ends, and definition levels when optional.
        Text {
            bytes: Vec<u8>,
            ends: Vec<usize>,
            defs: Option<Vec<i16>>,
        },
        Date {
            days: Vec<i32>,
            defs: Vec<i16>,
        },
        Integer(Vec<i64>),
    }

    pub struct ParquetTable<'a> {
        row_group: usize,
        writer: SerializedFileWriter<&'a mut (dyn Write + Send)>,
        columns: Vec<Column>,
        rows: usize,
    }

    fn pq(e: parquet::errors::ParquetError) -> io::Error {
        match e {
            parquet::errors::ParquetError::External(inner) => match inner.downcast::<io::Error>() {
                Ok(io) => *io,
                Err(other) => io::Error::other(other.to_string()),
            },
            other => io::Error::other(other.to_string()),
        }
    }

    /// The Parquet schema of `table`, in the parser's message syntax.
    pub fn schema_text(table: &Table) -> String {
        let stem = table.files[1].trim_end_matches(".parquet");
        let mut s = format!("message {stem} {{\n");
        for (name, kind) in table.columns {
            let field = match kind {
                Kind::Text => format!("required binary {name} (STRING);"),
                Kind::OptionalText => format!("optional binary {name} (STRING);"),
                Kind::Date => format!("optional int32 {name} (DATE);"),
                Kind::Integer => format!("required int64 {name};"),
            };
            s.push_str("  ");
            s.push_str(&field);
            s.push('\n');
        }
        s.push('}');
        s
    }

    /// Texts with many distinct values, where a dictionary only costs time: every other
    /// text column (codes, yes/no/unknown, sources, GroupIDs) is dictionary-encoded.
    fn plain(name: &str) -> bool {
        matches!(name, "installation_id" | "mpxns" | "mpxn" | "raw" | "value")
    }

    impl<'a> ParquetTable<'a> {
        pub fn new(
            table: &'static Table,
            w: &'a mut (dyn Write + Send),
            row_group: usize,
        ) -> io::Result<ParquetTable<'a>> {
            let schema = Arc::new(parse_message_type(&schema_text(table)).map_err(pq)?);
            let mut props = WriterProperties::builder()
                // zstd level 1: as fast as Snappy here and 40% smaller (BENCHMARKS.md).
                .set_compression(Compression::ZSTD(ZstdLevel::default()))
                .set_max_row_group_row_count(Some(row_group))
                .set_statistics_enabled(EnabledStatistics::Chunk)
                // No version in the file: the same bytes from every build of one schema.
                .set_created_by("mpxn-recon".to_string());
            for (name, _) in table.columns.iter().filter(|(n, _)| plain(n)) {
                props = props
                    .set_column_dictionary_enabled(ColumnPath::from(*name), false)
                    .set_column_encoding(ColumnPath::from(*name), Encoding::PLAIN);
            }
            let writer =
                SerializedFileWriter::new(w, schema, Arc::new(props.build())).map_err(pq)?;
            let columns = table.columns.iter().map(|(_, k)| Column::new(*k)).collect();
            Ok(ParquetTable {
                row_group,
                writer,
                columns,
                rows: 0,
            })
        }

        /// Appends one task's rows; writes the row group when it is full (tasks never
        /// cross a row-group boundary).
        pub fn append(&mut self, columns: Vec<Column>, rows: usize) -> io::Result<()> {
            for (into, from) in self.columns.iter_mut().zip(columns) {
                into.append(from);
            }
            self.rows += rows;
            if self.rows >= self.row_group {
                self.flush()?;
            }
            Ok(())
        }

        /// Writes the buffered rows as one row group.
        fn flush(&mut self) -> io::Result<()> {
            if self.rows == 0 {
                return Ok(());
            }
            let mut group = self.writer.next_row_group().map_err(pq)?;
            for column in &mut self.columns {
                let mut writer = group
                    .next_column()
                    .map_err(pq)?
                    .expect("one column writer per schema column");
                match column {
                    Column::Text { bytes, ends, defs } => {
                        let all = Bytes::from(std::mem::take(bytes));
                        let mut start = 0;
                        let values: Vec<ByteArray> = ends
                            .iter()
                            .map(|&end| {
                                let v = ByteArray::from(all.slice(start..end));
                                start = end;
                                v
                            })
                            .collect();
                        writer
                            .typed::<ByteArrayType>()
                            .write_batch(&values, defs.as_deref(), None)
                            .map_err(pq)?;
                        ends.clear();
                        if let Some(d) = defs {
                            d.clear();
                        }
                    }
                    Column::Date { days, defs } => {
                        writer
                            .typed::<Int32Type>()
                            .write_batch(days, Some(defs), None)
                            .map_err(pq)?;
                        days.clear();
                        defs.clear();
                    }
                    Column::Integer(values) => {
                        writer
                            .typed::<Int64Type>()
                            .write_batch(values, None, None)
                            .map_err(pq)?;
                        values.clear();
                    }
                }
                writer.close().map_err(pq)?;
            }
            group.close().map_err(pq)?;
            self.rows = 0;
            Ok(())
        }

        pub fn finish(mut self) -> io::Result<()> {
            self.flush()?;
            let w = self.writer.into_inner().map_err(pq)?;
            w.flush()
        }
    }

    /// Converts one row's fields into `columns`.
    pub fn push(table: &Table, columns: &mut [Column], row: &Row<'_>) -> Result<(), String> {
        for (i, column) in columns.iter_mut().enumerate() {
            let value = row.field(i);
            match column {
                Column::Text { bytes, ends, defs } => match defs {
                    Some(defs) if value.is_empty() => defs.push(0),
                    _ => {
                        if let Some(defs) = defs {
                            defs.push(1);
                        }
                        if value.is_ascii() || std::str::from_utf8(value).is_ok() {
                            bytes.extend_from_slice(value);
                        } else {
                            bytes.extend_from_slice(String::from_utf8_lossy(value).as_bytes());
                        }
                        ends.push(bytes.len());
                    }
                },
                Column::Date { days, defs } => {
                    if value.is_empty() {
                        defs.push(0);
                    } else {
                        let day = parse_date(value).ok_or_else(|| {
                            format!("{}: not a YYYY-MM-DD date", table.columns[i].0)
                        })?;
                        defs.push(1);
                        days.push(day);
                    }
                }
                Column::Integer(values) => {
                    let n = std::str::from_utf8(value)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok())
                        .ok_or_else(|| format!("{}: not a number", table.columns[i].0))?;
                    values.push(n);
                }
            }
        }
        Ok(())
    }

    impl Column {
        /// Empty columns for `table`'s schema.
        pub fn for_table(table: &Table) -> Vec<Column> {
            table.columns.iter().map(|(_, k)| Column::new(*k)).collect()
        }

        /// Appends `other`'s values (of the same kind) after this column's.
        fn append(&mut self, other: Column) {
            match (self, other) {
                (
                    Column::Text { bytes, ends, defs },
                    Column::Text {
                        bytes: b,
                        ends: e,
                        defs: d,
                    },
                ) => {
                    let base = bytes.len();
                    bytes.extend_from_slice(&b);
                    ends.extend(e.into_iter().map(|end| base + end));
                    if let (Some(defs), Some(d)) = (defs, d) {
                        defs.extend(d);
                    }
                }
                (Column::Date { days, defs }, Column::Date { days: y, defs: d }) => {
                    days.extend(y);
                    defs.extend(d);
                }
                (Column::Integer(v), Column::Integer(w)) => v.extend(w),
                _ => unreachable!("fragments of one schema"),
            }
        }

        fn new(kind: Kind) -> Column {
            match kind {
                Kind::Text => Column::Text {
                    bytes: Vec::new(),
                    ends: Vec::new(),
                    defs: None,
                },
                Kind::OptionalText => Column::Text {
                    bytes: Vec::new(),
                    ends: Vec::new(),
                    defs: Some(Vec::new()),
                },
                Kind::Date => Column::Date {
                    days: Vec::new(),
                    defs: Vec::new(),
                },
                Kind::Integer => Column::Integer(Vec::new()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(table: &'static Table, csv: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let (mut copy, mut jsonl) = (Vec::new(), Vec::new());
        let mut e = Exporter::new(
            table,
            Sinks {
                csv: Some(&mut copy),
                parquet: None,
                jsonl: Some(&mut jsonl),
            },
        )
        .unwrap();
        // In pieces that split lines and fields.
        for piece in csv.chunks(7) {
            e.write_all(piece).unwrap();
        }
        e.finish().unwrap();
        (copy, jsonl)
    }

    #[test]
    fn json_lines_have_the_header_keys_typed_values_and_nulls() {
        let csv = b"file,line,reason,raw\na.csv,7,malformed quoting,\"x,\"\"y\"\"\tz\"\nb.csv,12,wrong number of fields,\n";
        let (copy, jsonl) = export(&REJECTS, csv);
        assert_eq!(copy, csv, "the CSV passes through unchanged");
        assert_eq!(
            String::from_utf8(jsonl).unwrap(),
            "{\"file\":\"a.csv\",\"line\":7,\"reason\":\"malformed quoting\",\"raw\":\"x,\\\"y\\\"\\tz\"}\n\
             {\"file\":\"b.csv\",\"line\":12,\"reason\":\"wrong number of fields\",\"raw\":\"\"}\n"
        );
        let csv = b"mpxn,kind,source,installation_id,installed_on,last_comms_at,communicating,last_installed,party_id\n\
                    1,MPAN,S,I,,2024-06-30,yes,unknown,\n";
        let (_, jsonl) = export(&DUPLICATES, csv);
        let v: serde_json::Value = serde_json::from_slice(&jsonl).unwrap();
        assert_eq!(v["installed_on"], serde_json::Value::Null);
        assert_eq!(v["last_comms_at"], "2024-06-30");
        assert_eq!(v["communicating"], "yes");
        assert_eq!(v["party_id"], serde_json::Value::Null);
    }

    /// The Parquet bytes of `csv` for `table`, fed in pieces of `piece` bytes, with row
    /// groups of `row_group` rows.
    #[cfg(feature = "parquet")]
    fn parquet_of(table: &'static Table, csv: &[u8], piece: usize, row_group: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = Exporter::with_row_group(
            table,
            Sinks {
                csv: None,
                parquet: Some(&mut out),
                jsonl: None,
            },
            row_group,
        )
        .unwrap();
        for p in csv.chunks(piece) {
            e.write_all(p).unwrap();
        }
        e.finish().unwrap();
        out
    }

    #[test]
    #[cfg(feature = "parquet")]
    fn row_groups_are_exact_and_the_bytes_do_not_depend_on_how_the_text_arrived() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        use parquet::record::Field as Value;
        let mut csv = REJECTS.header().into_bytes();
        for line in 1..=10 {
            csv.extend_from_slice(format!("f.csv,{line},empty source,\"a,{line}\"\n").as_bytes());
        }
        let whole = parquet_of(&REJECTS, &csv, csv.len(), 3);
        for piece in [1, 5, 17] {
            assert!(
                parquet_of(&REJECTS, &csv, piece, 3) == whole,
                "pieces of {piece}"
            );
        }
        let reader = SerializedFileReader::new(bytes::Bytes::from(whole)).unwrap();
        let groups: Vec<i64> = (0..reader.num_row_groups())
            .map(|g| reader.metadata().row_group(g).num_rows())
            .collect();
        assert_eq!(groups, [3, 3, 3, 1]);
        let rows: Vec<(i64, String)> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                let cols: Vec<&Value> = r.get_column_iter().map(|(_, v)| v).collect();
                match (cols[1], cols[3]) {
                    (Value::Long(n), Value::Str(raw)) => (*n, raw.clone()),
                    other => panic!("types: {other:?}"),
                }
            })
            .collect();
        let want: Vec<(i64, String)> = (1..=10).map(|n| (n, format!("a,{n}"))).collect();
        assert_eq!(rows, want);
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut out = Vec::new();
        json_string(&mut out, b"a\x01\r\\b");
        assert_eq!(out, b"\"a\\u0001\\r\\\\b\"");
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, "a\u{1}\r\\b");
    }

    #[test]
    fn a_header_that_is_not_the_tables_is_refused() {
        let mut sink = Vec::new();
        let mut e = Exporter::new(
            &REJECTS,
            Sinks {
                csv: None,
                parquet: None,
                jsonl: Some(&mut sink),
            },
        )
        .unwrap();
        e.write_all(b"file,line\n").unwrap();
        assert!(e.finish().unwrap_err().to_string().contains("header"));
    }

    #[test]
    fn formats_default_to_csv_and_keep_their_order() {
        assert_eq!(Formats::of(&[]), Formats::CSV);
        let f = Formats::of(&[Format::Jsonl, Format::Csv, Format::Jsonl]);
        assert_eq!(f.iter().collect::<Vec<_>>(), [Format::Csv, Format::Jsonl]);
        assert_eq!(
            WHATIF.header(),
            String::from_utf8_lossy(crate::report::WHATIF_HEADER)
        );
    }
}
