#!/usr/bin/env python3
"""The mpxn-recon sweep written as DuckDB SQL: the "what a data team would write" baseline.

What it is
    The classification of SPEC.md sections 3 to 7 (and its Appendix, and the readings
    in ARCHITECTURE.md "Readings of the spec") expressed as set-based DuckDB SQL,
    driven from Python through the `duckdb` package (`pip install duckdb`). It is a
    benchmark baseline, not a second engine: scripts/reference_sweep.py is the
    executable specification, and this script must write the same decisions.csv bytes.

How to run
    python3 scripts/duckdb_sweep.py --inventory F [--inventory F ...] \\
        --suppliers F --as-of YYYY-MM-DD [--window-days N] --out DIR

    Writes DIR/decisions.csv, DIR/duplicates.csv and DIR/rejects.csv and prints
    `rows_read=R accepted=A rejected=J duplicate_rows=D`. summary.json is not
    written. A refusal (bad header, bad registry, bad arguments) prints a message to
    stderr, writes nothing and exits with status 2.

What is Python and what is SQL
    SQL does everything from the raw text of each file onwards: BOM removal, splitting
    into physical lines with line numbers, trailing CR, delimiter detection, RFC 4180
    field splitting within a line (regexp_full_match / regexp_extract_all with a field
    pattern), header checks, the reject rules, trimming, normalisation of MPAN / MPRN /
    GUID with their check digits, date and RFC 3339 timestamp parsing, collapsing of
    identical rows, grouping into installations, duplicate GUIDs, shared MPxN groups and
    the TMAD 4.1C findings, supplier status, outcome precedence, sorting and CSV quoting.

    Python is I/O glue only:
    - argument parsing, writing the output files, raising the refusals that SQL
      queries detect;
    - undecodable bytes: DuckDB refuses invalid UTF-8 in a VARCHAR, so each file is
      first checked with one `bytes.decode("utf-8")` call. A file that decodes is read
      by DuckDB itself (read_text). A file that does not is decoded by Python with
      U+FFFD replacement (exactly the `raw` the rejects output wants) into a temporary
      copy, and Python records the line numbers that held invalid bytes (one loop
      step per *bad line*, found from the decoder's error positions, never per row).
      SQL reads that copy and rejects those lines as `undecodable bytes` first, as
      the Appendix orders.

    Known limitations: DuckDB's read_text treats its argument as a glob, so an input
    path containing `*`, `?` or `[` is not supported; each file is read whole into one
    string (so one file must stay under DuckDB's 4 GB string limit: the national
    SMETS2 file of `mpxn-recon gen --rows 60000000` is 3.4 GB) and each output file is
    built as one string.

Memory
    DuckDB runs with memory_limit 16GB (environment DUCKDB_MEMORY_LIMIT overrides it)
    and spills to a temporary directory beyond it. At 60M rows that took 9 minutes,
    16.8 GB peak RSS and about 30 GB of spill (see BENCHMARKS.md); with 1GB at 6M rows
    it completes too (54 s, 1.2 GB), with identical outputs.

Performance notes (the only non-obvious SQL)
    A few cheap fast paths keep it honest as a baseline and do not change results: a
    line without `"` is split with string_split instead of the RFC 4180 regex; atrim
    skips trim() when the first and last characters sort above ' '; aupper/alower use
    upper()/lower() on pure-ASCII text (identical there) and translate() otherwise;
    each distinct date text is parsed once (the `calendar` CTE); normalisation is
    staged in CTEs so DuckDB macros do not re-evaluate their arguments.

Checked against: datasets/sample/expected (decisions, duplicates, rejects: identical),
the engine on /tmp/scale/gen.py data at 100k and 1M installations (identical), and
scripts/reference_sweep.py on randomly generated hostile inputs (BOM, CRLF, quoting,
invalid UTF-8, timestamps with offsets, identical rows, refusals).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

import duckdb

USAGE = ("usage: duckdb_sweep.py --inventory F [--inventory F ...] --suppliers F "
         "--as-of YYYY-MM-DD [--window-days N] --out DIR")


class Refusal(Exception):
    """The run is refused (exit status 2, nothing written)."""


# ---------------------------------------------------------------------------
# SQL building blocks (macros). Everything ASCII-only on purpose: DuckDB's
# upper()/lower()/trim() are Unicode-aware, the spec's are not.
# ---------------------------------------------------------------------------

# Field pattern of the Appendix / ARCHITECTURE.md: a field is quoted iff its first
# character is `"`; inside, `""` is a quote; the closing quote must be followed by the
# delimiter or the end of the line. An unquoted field runs to the next delimiter and
# may hold `"` anywhere but first.
def _line_pattern(d: str) -> str:
    quoted = '"(?:[^"]|"")*"'
    unquoted = f'(?:[^"{d}][^{d}]*)?'
    field = f'(?:{quoted}|{unquoted})'
    return f'{field}(?:{re.escape(d)}{field})*'


def _field_pattern(d: str) -> str:
    # Applied to delimiter || line: every field is preceded by one delimiter.
    return f'{re.escape(d)}("(?:[^"]|"")*"|[^{d}]*)'


TIMESTAMP_RE = (r'([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})'
                r'(?:\.[0-9]+)?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))')


def sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


MACROS = f"""
-- Appendix: "ASCII whitespace" is space, tab, LF, VT (0x0B), FF (0x0C) and CR.
-- (Fast path: a value whose first and last characters sort above ' ' has nothing to trim.)
CREATE MACRO atrim(s) AS CASE WHEN s = '' OR (s[1] > ' ' AND s[-1] > ' ') THEN s
    ELSE trim(s, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) END;
-- (upper()/lower() agree with the ASCII rule on ASCII text and are much faster than translate().)
CREATE MACRO is_ascii(s) AS NOT regexp_matches(s, '[^\\x00-\\x7F]');
CREATE MACRO aupper(s) AS CASE WHEN is_ascii(s) THEN upper(s)
    ELSE translate(s, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END;
CREATE MACRO alower(s) AS CASE WHEN is_ascii(s) THEN lower(s)
    ELSE translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') END;

-- RFC 4180 within one physical line.
CREATE MACRO quoting_ok(line, delim) AS CASE delim
    WHEN ',' THEN regexp_full_match(line, {sql_str(_line_pattern(','))})
    ELSE regexp_full_match(line, {sql_str(_line_pattern('|'))}) END;
CREATE MACRO unquote(f) AS CASE WHEN starts_with(f, '"')
    THEN replace(substr(f, 2, length(f) - 2), '""', '"') ELSE f END;
CREATE MACRO split_quoted(line, delim) AS list_transform(CASE delim
    WHEN ',' THEN regexp_extract_all(',' || line, {sql_str(_field_pattern(','))}, 1)
    ELSE regexp_extract_all('|' || line, {sql_str(_field_pattern('|'))}, 1) END,
    lambda f: unquote(f));
-- A line without any `"` splits plainly (the common case, and much cheaper).
CREATE MACRO split_fields(line, delim) AS CASE WHEN contains(line, '"')
    THEN split_quoted(line, delim) ELSE string_split(line, delim) END;

-- SPEC §4 MPAN: "remove ASCII whitespace and `-`. A 21-character value keeps its last
-- 13 characters (the core). Valid iff the core is 13 digits and its check digit holds:
-- multiply the first 12 digits by 3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43; the sum
-- mod 11 mod 10 equals the 13th digit."
CREATE MACRO digit(s, i) AS ord(substr(s, i, 1)) - 48;
CREATE MACRO mpan_core(c) AS CASE WHEN length(c) = 21 THEN right(c, 13) ELSE c END;
CREATE MACRO mpan_valid_core(c) AS CASE
    WHEN regexp_full_match(c, '[0-9]{{13}}')
     AND (digit(c, 1) * 3 + digit(c, 2) * 5 + digit(c, 3) * 7 + digit(c, 4) * 13
        + digit(c, 5) * 17 + digit(c, 6) * 19 + digit(c, 7) * 23 + digit(c, 8) * 29
        + digit(c, 9) * 31 + digit(c, 10) * 37 + digit(c, 11) * 41 + digit(c, 12) * 43)
        % 11 % 10 = digit(c, 13)
    THEN c END;
CREATE MACRO mpan_strip(x) AS regexp_replace(x, '[\\t\\n\\x0B\\x0C\\r -]', '', 'g');

-- SPEC §4 MPRN: "remove ASCII whitespace and leading zeros. Valid iff 6 to 10 digits
-- and the check holds: with n digits, multiply digit i (0-based, of the first n-2) by
-- (n-2-i); the sum mod 11, written as two digits, equals the last two digits."
-- Appendix: `-` is not removed; the length is checked after the cleaning.
CREATE MACRO mprn_valid(c) AS CASE
    WHEN regexp_full_match(c, '[0-9]{{6,10}}')
     AND lpad((list_sum(list_transform(range(length(c) - 2),
                 lambda i: digit(c, i + 1) * (length(c) - 2 - i))) % 11)::VARCHAR, 2, '0')
         = right(c, 2)
    THEN c END;
CREATE MACRO mprn_strip(x) AS ltrim(regexp_replace(x, '[\\t\\n\\x0B\\x0C\\r ]', '', 'g'), '0');

-- SPEC §4 GUID: "remove `-`, `:` and whitespace; valid iff 16 hex digits and not
-- all-zero. Canonical form: upper case, hyphen every two digits."
-- g is the stripped text, already ASCII upper-cased.
CREATE MACRO guid_valid(g) AS CASE
    WHEN regexp_full_match(g, '[0-9A-F]{{16}}') AND g <> '0000000000000000'
    THEN concat_ws('-', g[1:2], g[3:4], g[5:6], g[7:8], g[9:10], g[11:12], g[13:14], g[15:16]) END;
CREATE MACRO guid_strip(x) AS regexp_replace(x, '[\\t\\n\\x0B\\x0C\\r :-]', '', 'g');

-- Dates: `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` whose UTC calendar
-- date is used. Years 0000-9999, proleptic Gregorian (DuckDB's year 0 is 1 BC, the
-- proleptic leap year 0). Hours 00-23, minutes 00-59, seconds 00-60 (a leap second
-- does not move the date), offset 00-23:00-59; a UTC date outside 0000-01-01 ..
-- 9999-12-31 does not parse.
CREATE MACRO month_days(y, m) AS CASE
    WHEN m = 2 THEN CASE WHEN y % 4 = 0 AND (y % 100 <> 0 OR y % 400 = 0) THEN 29 ELSE 28 END
    WHEN m IN (4, 6, 9, 11) THEN 30 ELSE 31 END;
CREATE MACRO num(s) AS TRY_CAST(s AS INTEGER);
CREATE MACRO ymd_ok(y, m, d) AS y BETWEEN 0 AND 9999 AND m BETWEEN 1 AND 12
    AND d BETWEEN 1 AND month_days(y, m);
CREATE MACRO ymd_date(y, m, d) AS CASE WHEN ymd_ok(y, m, d) THEN make_date(y, m, d) END;
CREATE MACRO date_only(t) AS CASE WHEN regexp_full_match(t, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}')
    THEN ymd_date(num(substr(t, 1, 4)), num(substr(t, 6, 2)), num(substr(t, 9, 2))) END;
CREATE MACRO ts_parts(t) AS regexp_extract(t, {sql_str('^' + TIMESTAMP_RE + '$')},
    ['y', 'mo', 'd', 'h', 'mi', 's', 'z', 'sign', 'oh', 'om']);
CREATE MACRO ts_day(p) AS CASE
    WHEN p.y <> '' AND ymd_ok(num(p.y), num(p.mo), num(p.d))
     AND num(p.h) <= 23 AND num(p.mi) <= 59 AND num(p.s) <= 60
     AND (p.z <> '' OR (num(p.oh) <= 23 AND num(p.om) <= 59))
    THEN make_date(num(p.y), num(p.mo), num(p.d)) + floor(
        (num(p.h) * 60 + num(p.mi)
         - CASE WHEN p.z <> '' THEN 0
                ELSE (CASE p.sign WHEN '+' THEN 1 ELSE -1 END) * (num(p.oh) * 60 + num(p.om)) END
        ) / 1440.0)::INT END;
CREATE MACRO in_range(d) AS CASE WHEN d BETWEEN make_date(0, 1, 1) AND make_date(9999, 12, 31) THEN d END;
CREATE MACRO fmt_day(d) AS lpad(year(d)::VARCHAR, 4, '0') || '-' || lpad(month(d)::VARCHAR, 2, '0')
    || '-' || lpad(day(d)::VARCHAR, 2, '0');

-- Output: minimal RFC 4180 quoting (a field is quoted only when it holds `,`, `"`, CR or LF).
CREATE MACRO csv_field(v) AS CASE WHEN regexp_matches(v, '[,"\\r\\n]')
    THEN '"' || replace(v, '"', '""') || '"' ELSE v END;
"""


# ---------------------------------------------------------------------------
# Reading files: SQL from the raw text on
# ---------------------------------------------------------------------------

def stage_file(path: str, tmpdir: str, index: int) -> tuple[str, list[int]]:
    """Return (path DuckDB should read, line numbers holding undecodable bytes).

    I/O glue: DuckDB cannot hold invalid UTF-8, so a file that does not decode is
    replaced by a U+FFFD-decoded copy and its bad lines are listed for SQL to reject.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise Refusal(f"{path}: cannot read: {err.strerror}")
    try:
        data.decode("utf-8")
        return path, []
    except UnicodeDecodeError:
        pass
    bad_lines = []
    pos = 0
    while True:
        try:
            data[pos:].decode("utf-8")
            break
        except UnicodeDecodeError as err:
            at = pos + err.start
            bad_lines.append(data.count(b"\n", 0, at) + 1)
            nl = data.find(b"\n", at)
            if nl == -1:
                break
            pos = nl + 1
    copy = os.path.join(tmpdir, f"input_{index}.txt")
    with open(copy, "wb") as handle:
        handle.write(data.decode("utf-8", "replace").encode("utf-8"))
    return copy, bad_lines


def load_lines(con, files: list[tuple[int, str, str, str]], bad: list[tuple[int, int]]) -> None:
    """files: (file_idx, role 'inventory'|'registry', display path, path to read)."""
    con.execute("CREATE TEMP TABLE input_files (file_idx INT, role VARCHAR, display VARCHAR)")
    con.executemany("INSERT INTO input_files VALUES (?, ?, ?)", [(i, r, d) for i, r, d, _ in files])
    con.execute("CREATE TEMP TABLE undecodable_lines (file_idx INT, line_no BIGINT)")
    if bad:
        con.executemany("INSERT INTO undecodable_lines VALUES (?, ?)", bad)
    contents = " UNION ALL ".join(
        f"SELECT {i} AS file_idx, content FROM read_text({sql_str(p)})" for i, _, _, p in files)
    con.execute(f"""
    CREATE TEMP TABLE physical_lines AS
    WITH file_text AS (
        -- ARCHITECTURE.md: a BOM is recognised only at the very start of a file.
        SELECT file_idx,
               CASE WHEN starts_with(content, chr(65279)) THEN substr(content, 2) ELSE content END AS content
        FROM ({contents})
    ),
    pieces AS (
        -- Appendix: "Lines end at LF; one trailing CR is removed; a last line without a
        -- terminator counts." Line numbers are physical and 1-based, header = line 1.
        SELECT file_idx, string_split(content, chr(10)) AS pieces FROM file_text
    ),
    numbered AS (
        SELECT file_idx, len(pieces) AS n_pieces,
               unnest(pieces) AS piece, generate_subscripts(pieces, 1) AS line_no
        FROM pieces
    )
    SELECT file_idx, line_no,
           CASE WHEN ends_with(piece, chr(13)) THEN substr(piece, 1, length(piece) - 1) ELSE piece END AS line
    FROM numbered
    WHERE NOT (line_no = n_pieces AND piece = '')   -- the empty piece after a final LF
    """)


ALL_COLUMNS = ("source", "group_id", "installation_id", "device_id", "device_type", "mpxn",
               "installed_on", "last_comms_at", "supplier_id", "dormant", "party_id", "name", "status")


def build_headers(con) -> None:
    """Header line of every file: delimiter, names and the index of each known column."""
    con.execute(f"""
    CREATE TEMP TABLE headers AS
    SELECT f.file_idx, f.role, f.display,
           h.line IS NOT NULL AS present,
           u.line_no IS NOT NULL AS undecodable,
           -- Appendix: "Only `|` -> pipe; only `,` or neither -> comma; both -> refused."
           contains(h.line, '|') AND contains(h.line, ',') AS both_delims,
           CASE WHEN contains(h.line, '|') THEN '|' ELSE ',' END AS delim,
           quoting_ok(h.line, CASE WHEN contains(h.line, '|') THEN '|' ELSE ',' END) AS quoting_ok,
           list_transform(split_fields(h.line, CASE WHEN contains(h.line, '|') THEN '|' ELSE ',' END),
                          lambda n: alower(atrim(n))) AS names,
           {', '.join(f"list_position(names, '{c}') AS {c}_idx" for c in ALL_COLUMNS)}
    FROM input_files f
    LEFT JOIN physical_lines h ON h.file_idx = f.file_idx AND h.line_no = 1
    LEFT JOIN undecodable_lines u ON u.file_idx = f.file_idx AND u.line_no = 1
    """)


def check_headers(con, role: str) -> None:
    """Appendix header rules; any problem refuses the run (raised here in Python)."""
    inventory_cols = ["source", "group_id", "installation_id", "device_id", "device_type",
                      "mpxn", "installed_on", "last_comms_at", "supplier_id", "dormant"]
    inventory_req = [c for c in inventory_cols if c not in ("last_comms_at", "dormant")]
    registry_cols = ["supplier_id", "party_id", "name", "status"]
    for file_idx, role, display, present, undecodable, both, qok, names in con.execute(
            "SELECT file_idx, role, display, present, undecodable, both_delims, quoting_ok, names "
            "FROM headers WHERE role = ? ORDER BY file_idx", [role]).fetchall():
        known, required = ((inventory_cols, inventory_req) if role == "inventory"
                           else (registry_cols, registry_cols))
        if not present:
            raise Refusal(f"{display}: file is empty: missing required column(s) {', '.join(required)}")
        if undecodable:
            raise Refusal(f"{display}: line 1: header is not valid UTF-8")
        if both:
            raise Refusal(f"{display}: line 1: header contains both '|' and ',': cannot tell the delimiter")
        if not qok:
            raise Refusal(f"{display}: line 1: header has malformed quoting")
        for column in known:
            if names.count(column) > 1:
                raise Refusal(f"{display}: line 1: column '{column}' is named twice in the header")
        missing = [c for c in required if c not in names]
        if missing:
            raise Refusal(f"{display}: line 1: header lacks required column(s): {', '.join(missing)}")


def parsed_lines_sql(role: str) -> str:
    """Body lines of the files of one role, split into fields, with the reject reason."""
    return f"""
    SELECT l.file_idx, l.line_no, l.line, h.* EXCLUDE (file_idx),
           f.fields,
           -- Appendix: reject reasons, tested in this order.
           CASE WHEN u.line_no IS NOT NULL THEN 'undecodable bytes'
                WHEN NOT quoting_ok(l.line, h.delim) THEN 'malformed quoting'
                WHEN len(f.fields) <> len(h.names) THEN 'wrong number of fields'
           END AS line_problem
    FROM physical_lines l
    JOIN headers h ON h.file_idx = l.file_idx AND h.role = '{role}'
    LEFT JOIN undecodable_lines u ON u.file_idx = l.file_idx AND u.line_no = l.line_no
    CROSS JOIN LATERAL (SELECT split_fields(l.line, h.delim) AS fields) f
    WHERE l.line_no > 1
    """


def col(name: str) -> str:
    """A trimmed column value by header name ('' when the column is absent)."""
    return f"atrim(coalesce(fields[{name}_idx], ''))"


def load_registry(con) -> None:
    """SPEC §3.2 and Appendix: the registry, refusing the run on the first bad line."""
    con.execute(f"""
    CREATE TEMP TABLE registry_lines AS
    WITH parsed AS ({parsed_lines_sql('registry')})
    SELECT file_idx, line_no, line_problem,
           aupper({col('supplier_id')}) AS supplier_id,
           {col('party_id')} AS party_id,
           alower({col('status')}) AS status, {col('status')} AS status_text
    FROM parsed
    """)
    problem = con.execute("""
    WITH checked AS (
        SELECT *,
               -- one party with two statuses; one supplier id mapped to two parties
               first_value(status) OVER (PARTITION BY party_id ORDER BY line_no) AS party_first_status,
               first_value(party_id) OVER (PARTITION BY supplier_id ORDER BY line_no) AS supplier_first_party
        FROM registry_lines
    )
    SELECT line_no, CASE
        WHEN line_problem = 'undecodable bytes' THEN 'registry row is not valid UTF-8'
        WHEN line_problem = 'malformed quoting' THEN 'registry row has malformed quoting'
        WHEN line_problem IS NOT NULL THEN 'registry row has the wrong number of fields'
        WHEN supplier_id = '' THEN 'registry row has an empty supplier_id'
        WHEN party_id = '' THEN 'registry row has an empty party_id'
        WHEN status NOT IN ('live', 'ceased_trading', 'not_live_user')
            THEN 'registry row has unknown status ''' || status_text || ''''
        WHEN status <> party_first_status
            THEN 'party ''' || party_id || ''' is listed with two statuses'
        WHEN party_id <> supplier_first_party
            THEN 'supplier_id ''' || supplier_id || ''' is mapped to two parties'
        END AS problem
    FROM checked
    WHERE problem IS NOT NULL
    ORDER BY line_no LIMIT 1
    """).fetchone()
    if problem is not None:
        display = con.execute("SELECT display FROM input_files WHERE role = 'registry'").fetchone()[0]
        raise Refusal(f"{display}: line {problem[0]}: {problem[1]}")
    con.execute("""
    CREATE TEMP TABLE registry AS
    SELECT DISTINCT supplier_id, party_id, status FROM registry_lines
    """)


# ---------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------

SWEEP_SQL = """
-- SPEC §5: a row is rejected only when it cannot be attributed to an installation.
CREATE TEMP TABLE inventory_lines AS
WITH parsed AS ({parsed}),
cells AS (
    SELECT file_idx, line_no, line, line_problem, {cells}
    FROM parsed
),
trimmed AS (
    SELECT file_idx, line_no, line, line_problem, {trimmed}
    FROM cells
)
SELECT file_idx, line_no, line,
       coalesce(line_problem,
                CASE WHEN source = '' THEN 'empty source'
                     WHEN installation_id = '' THEN 'empty installation_id' END) AS reject_reason,
       -- every field trimmed; source, group_id, device_type, supplier_id ASCII upper case
       aupper(source) AS source,
       aupper(group_id) AS group_id,
       installation_id,
       device_id,
       aupper(device_type) AS device_type,
       mpxn AS mpxn_text,
       installed_on,
       last_comms_at,
       aupper(supplier_id) AS supplier_id,
       dormant
FROM trimmed;

-- SPEC §5 / Appendix "Identical rows": source, group_id, supplier_id, device_type
-- case-insensitively; device_id and mpxn by canonical form where valid; every other
-- column as trimmed text. Identical rows collapse into one (counted as duplicate_rows).
CREATE TEMP TABLE devices AS
WITH accepted AS (
    SELECT source, group_id, installation_id, device_id, device_type, mpxn_text,
           installed_on, last_comms_at, supplier_id, dormant,
           guid_strip(device_id) AS guid_digits,
           CASE device_type WHEN 'ESME' THEN mpan_strip(mpxn_text) END AS mpan_digits,
           CASE device_type WHEN 'GSME' THEN mprn_strip(mpxn_text) END AS mprn_digits
    FROM inventory_lines WHERE reject_reason IS NULL
),
cores AS (
    SELECT * REPLACE (mpan_core(mpan_digits) AS mpan_digits), aupper(guid_digits) AS guid_upper FROM accepted
),
normalised AS (
    SELECT *,
           guid_valid(guid_upper) AS guid,
           coalesce(mpan_valid_core(mpan_digits), mprn_valid(mprn_digits)) AS mpxn_canon
    FROM cores
),
distinct_rows AS (
    -- guid and mpxn_canon are functions of device_key and (device_type, mpxn_key): a
    -- canonical form normalises to itself, a text that does not normalise stays invalid.
    SELECT DISTINCT source, group_id, installation_id,
           coalesce(guid, device_id) AS device_key, guid, device_type,
           coalesce(mpxn_canon, mpxn_text) AS mpxn_key, mpxn_canon,
           installed_on, last_comms_at, supplier_id, dormant
    FROM normalised
),
date_texts AS (
    -- each distinct date text is parsed once
    SELECT installed_on AS text FROM distinct_rows
    UNION
    SELECT last_comms_at FROM distinct_rows
),
date_parts AS (
    SELECT text, date_only(text) AS plain_day, ts_parts(text) AS p FROM date_texts
),
calendar AS (
    SELECT text, coalesce(plain_day, in_range(ts_day(p))) AS day FROM date_parts
)
SELECT d.*,
       device_type IN ('ESME', 'GSME') AS is_meter,
       -- §6.1 Details: "Only a meter whose MPxN is valid carries it."
       CASE WHEN mpxn_canon IS NOT NULL THEN CASE device_type WHEN 'ESME' THEN 'MPAN' ELSE 'MPRN' END END AS mpxn_kind,
       mpxn_canon AS mpxn,
       mpxn_key AS mpxn_text,   -- '' exactly when the trimmed mpxn is empty
       inst.day AS installed_day,
       CASE WHEN last_comms_at <> '' THEN comms.day END AS comms_day,
       -- Appendix: y, true, 1 (any case) are dormant; anything else is not.
       alower(dormant) IN ('y', 'true', '1') AS is_dormant,
       source = 'SMETS2' AS is_smets2,
       r.party_id, r.status AS supplier_status
FROM distinct_rows d
JOIN calendar inst ON inst.text = d.installed_on
JOIN calendar comms ON comms.text = d.last_comms_at
LEFT JOIN registry r ON r.supplier_id = d.supplier_id AND d.supplier_id <> '';

-- SPEC §6: "communicating iff that last communication exists and falls within
-- [A - W days, A]"; §6.1: "A member's communication status is unknown when any of its
-- devices has an unparseable last_comms_at or one after the as-of date".
CREATE TEMP TABLE installations AS
SELECT source, installation_id,
       -- Appendix: group_id is the smallest upper-cased non-empty value.
       coalesce(min(group_id) FILTER (WHERE group_id <> ''), '') AS group_id,
       bool_and(is_smets2) AS is_smets2,
       max(comms_day) AS last_comms_day,
       CASE WHEN bool_or(last_comms_at <> '' AND (comms_day IS NULL OR comms_day > {as_of})) THEN 'unknown'
            WHEN max(comms_day) BETWEEN {as_of} - {window} AND {as_of} THEN 'yes'
            ELSE 'no' END AS communicating,
       list_sort(list_distinct(list(mpxn))) AS mpxns
FROM devices
GROUP BY source, installation_id;

-- Duplicate groups (SPEC §6.1): "An MPxN is shared when meters of two or more distinct
-- installations carry it (any sources, SMETS1 or SMETS2); those installations are the
-- group's members."
CREATE TEMP TABLE member_findings AS
WITH carriers AS (
    SELECT mpxn_kind, mpxn, source, installation_id,
           count(*) AS carrying_meters,
           -- "A member's install date for X is the installed_on of its meter carrying X
           -- (unknown if it does not parse)"; "A member with two meters carrying X
           -- (REPEATED_MPXN) has an unknown install date for X."
           CASE WHEN count(*) = 1 THEN any_value(installed_day) END AS install_day,
           list_sort(list_distinct(list(party_id))) AS parties
    FROM devices
    WHERE mpxn IS NOT NULL
    GROUP BY mpxn_kind, mpxn, source, installation_id
),
shared_mpxns AS (
    SELECT mpxn_kind, mpxn FROM carriers GROUP BY mpxn_kind, mpxn HAVING count(*) >= 2
),
members AS (
    SELECT c.*, i.communicating, i.last_comms_day
    FROM carriers c
    JOIN shared_mpxns USING (mpxn_kind, mpxn)
    JOIN installations i USING (source, installation_id)
),
group_view AS (
    SELECT *,
           max(install_day) OVER grp AS latest_day,
           count(*) FILTER (WHERE install_day IS NULL) OVER grp AS unknown_days,
           count(*) OVER (PARTITION BY mpxn_kind, mpxn, install_day) AS same_day,
           count(*) FILTER (WHERE communicating <> 'no') OVER grp AS communicating_or_unknown
    FROM members
    WINDOW grp AS (PARTITION BY mpxn_kind, mpxn)
),
assessed AS (
    SELECT *,
           -- DUP_NOT_LAST_INSTALLED: "its own install date is unknown, or another
           -- member's is strictly later" (an SMETS2 installation installed later included).
           install_day IS NULL OR latest_day > install_day AS dup_not_last_installed,
           -- DUP_OTHER_COMMUNICATING: "another member is communicating, or its
           -- communication status is unknown".
           communicating_or_unknown - (communicating <> 'no')::INT > 0 AS dup_other_communicating,
           -- DUP_NOT_COMMUNICATING: "it is not communicating (or its communication
           -- status is unknown)".
           communicating <> 'yes' AS dup_not_communicating
    FROM group_view
)
SELECT *,
       -- DUP_NO_SINGLE_LAST: "it is not beaten (above) but cannot be verified as the
       -- single last installed: another member has the same date, or another member's
       -- date is unknown". Not beaten means its date is the group's latest and known.
       NOT dup_not_last_installed AND (unknown_days > 0 OR same_day > 1) AS dup_no_single_last
FROM assessed;

CREATE TEMP TABLE decisions AS
WITH device_findings AS (
    -- DUPLICATE_GUID: "its device GUID (canonical) is on more than one accepted
    -- row after collapsing identical rows — in any installation of any source".
    -- Appendix: only valid GUIDs take part.
    SELECT *, guid IS NOT NULL AND count(*) OVER (PARTITION BY guid) > 1 AS duplicate_guid_row
    FROM devices
),
findings AS (
    SELECT source, installation_id,
           bool_or(duplicate_guid_row) AS duplicate_guid,
           -- INVALID_GUID: "a device GUID does not normalise".
           bool_or(guid IS NULL) AS invalid_guid,
           -- MISSING_MPXN: "a meter has an empty mpxn" (whitespace-only included).
           bool_or(is_meter AND mpxn_text = '') AS missing_mpxn,
           -- INVALID_MPAN / INVALID_MPRN: "an ESME's mpxn is not a valid MPAN" / "a GSME's
           -- mpxn is not a valid MPRN" (an empty one is MISSING_MPXN only).
           bool_or(device_type = 'ESME' AND mpxn_text <> '' AND mpxn IS NULL) AS invalid_mpan,
           bool_or(device_type = 'GSME' AND mpxn_text <> '' AND mpxn IS NULL) AS invalid_mprn,
           -- REPEATED_MPXN: "two meters of the installation carry the same MPxN".
           count(mpxn) <> count(DISTINCT CASE WHEN mpxn IS NOT NULL THEN (mpxn_kind, mpxn) END) AS repeated_mpxn,
           -- NO_METER: "the installation has no ESME and no GSME".
           NOT bool_or(is_meter) AS no_meter,
           -- UNKNOWN_SUPPLIER: "a meter's supplier_id is empty or not in the registry".
           bool_or(is_meter AND supplier_status IS NULL) AS unknown_supplier,
           -- INVALID_DATE: "an installed_on or last_comms_at does not parse".
           bool_or(installed_day IS NULL OR (last_comms_at <> '' AND comms_day IS NULL)) AS invalid_date,
           -- FUTURE_COMMS: "a last_comms_at is after the as-of date".
           coalesce(bool_or(comms_day > {as_of}), false) AS future_comms,
           -- Supplier status, on each SMETS1 meter with its own dormant value:
           -- DORMANT_SUPPLIER_CEASED (TMAD 4.1A), DORMANT_SUPPLIER_NOT_LIVE (TMAD 4.1B),
           -- ACTIVE_SUPPLIER_CEASED and ACTIVE_SUPPLIER_NOT_LIVE (review).
           bool_or(NOT is_smets2 AND is_meter AND is_dormant AND supplier_status = 'ceased_trading') AS dormant_ceased,
           bool_or(NOT is_smets2 AND is_meter AND is_dormant AND supplier_status = 'not_live_user') AS dormant_not_live,
           bool_or(NOT is_smets2 AND is_meter AND NOT is_dormant AND supplier_status = 'ceased_trading') AS active_ceased,
           bool_or(NOT is_smets2 AND is_meter AND NOT is_dormant AND supplier_status = 'not_live_user') AS active_not_live
    FROM device_findings
    GROUP BY source, installation_id
),
shared_findings AS (
    SELECT source, installation_id,
           bool_or(dup_not_last_installed) AS dup_not_last_installed,
           bool_or(dup_no_single_last) AS dup_no_single_last,
           bool_or(dup_not_communicating) AS dup_not_communicating,
           bool_or(dup_other_communicating) AS dup_other_communicating,
           -- DUP_RESOLVED (TMAD 4.1C): "it shares MPxNs and, for every one of them, it is
           -- the single last installed and the only one communicating".
           bool_and(NOT (dup_not_last_installed OR dup_no_single_last
                         OR dup_not_communicating OR dup_other_communicating)) AS dup_resolved
    FROM member_findings
    GROUP BY source, installation_id
),
reasons AS (
    SELECT i.source, i.installation_id, i.group_id, i.mpxns,
           -- §6.2: "reasons lists every finding that holds".
           list_sort(list_filter([
               CASE WHEN f.duplicate_guid THEN 'DUPLICATE_GUID' END,
               CASE WHEN f.invalid_guid THEN 'INVALID_GUID' END,
               CASE WHEN f.missing_mpxn THEN 'MISSING_MPXN' END,
               CASE WHEN f.invalid_mpan THEN 'INVALID_MPAN' END,
               CASE WHEN f.invalid_mprn THEN 'INVALID_MPRN' END,
               CASE WHEN f.repeated_mpxn THEN 'REPEATED_MPXN' END,
               CASE WHEN f.no_meter THEN 'NO_METER' END,
               CASE WHEN f.unknown_supplier THEN 'UNKNOWN_SUPPLIER' END,
               CASE WHEN f.invalid_date THEN 'INVALID_DATE' END,
               CASE WHEN f.future_comms THEN 'FUTURE_COMMS' END
           ], lambda x: x IS NOT NULL)) AS data_issues,
           list_sort(list_filter([
               CASE WHEN s.dup_not_last_installed THEN 'DUP_NOT_LAST_INSTALLED' END,
               CASE WHEN s.dup_no_single_last THEN 'DUP_NO_SINGLE_LAST' END,
               CASE WHEN s.dup_not_communicating THEN 'DUP_NOT_COMMUNICATING' END,
               CASE WHEN s.dup_other_communicating THEN 'DUP_OTHER_COMMUNICATING' END
           ], lambda x: x IS NOT NULL)) AS duplicate_issues,
           list_sort(list_filter([
               CASE WHEN f.active_ceased THEN 'ACTIVE_SUPPLIER_CEASED' END,
               CASE WHEN f.active_not_live THEN 'ACTIVE_SUPPLIER_NOT_LIVE' END
           ], lambda x: x IS NOT NULL)) AS review_issues,
           -- §6.2 rule 4: clauses 4.1C (DUP_RESOLVED), 4.1A, 4.1B as they apply.
           list_filter([
               CASE WHEN s.dup_resolved THEN struct_pack(code := 'DUP_RESOLVED', clause := '4.1C') END,
               CASE WHEN f.dormant_ceased THEN struct_pack(code := 'DORMANT_SUPPLIER_CEASED', clause := '4.1A') END,
               CASE WHEN f.dormant_not_live THEN struct_pack(code := 'DORMANT_SUPPLIER_NOT_LIVE', clause := '4.1B') END
           ], lambda x: x IS NOT NULL) AS unblocks
    FROM installations i
    JOIN findings f USING (source, installation_id)
    LEFT JOIN shared_findings s USING (source, installation_id)
    -- §6: "The sweep classifies every SMETS1 installation. SMETS2 installations are
    -- evidence: they take part in duplicate groups but receive no decision."
    WHERE NOT i.is_smets2
)
SELECT source, installation_id, group_id,
       -- §6.2 Outcome: the first rule that applies.
       CASE WHEN len(data_issues) > 0 THEN 'exclude'
            WHEN len(duplicate_issues) > 0 THEN 'exclude'
            WHEN len(review_issues) > 0 THEN 'review'
            WHEN len(unblocks) > 0 THEN 'unblock'
            ELSE 'clear' END AS outcome,
       CASE WHEN len(data_issues) > 0 THEN '18.12'
            WHEN len(duplicate_issues) > 0 THEN '18.13'
            WHEN len(review_issues) > 0 THEN ''
            ELSE array_to_string(list_sort(list_distinct(list_transform(unblocks, lambda u: u.clause))), ';')
       END AS clauses,
       array_to_string(list_sort(data_issues || duplicate_issues || review_issues
                                 || list_transform(unblocks, lambda u: u.code)), ';') AS reasons,
       array_to_string(mpxns, ';') AS mpxns
FROM reasons;
"""

DECISIONS_CSV = """
SELECT 'source,installation_id,group_id,outcome,clauses,reasons,mpxns' || chr(10)
       || coalesce(string_agg(
              csv_field(source) || ',' || csv_field(installation_id) || ',' || csv_field(group_id) || ','
              || outcome || ',' || clauses || ',' || reasons || ',' || mpxns || chr(10),
              '' ORDER BY source, installation_id), '')
FROM decisions
"""

DUPLICATES_CSV = """
SELECT 'mpxn,kind,source,installation_id,installed_on,last_comms_at,communicating,last_installed,party_id'
       || chr(10)
       || coalesce(string_agg(
              mpxn || ',' || mpxn_kind || ',' || csv_field(source) || ',' || csv_field(installation_id) || ','
              || coalesce(fmt_day(install_day), '') || ',' || coalesce(fmt_day(last_comms_day), '') || ','
              || communicating || ','
              || CASE WHEN dup_not_last_installed THEN 'no' WHEN dup_no_single_last THEN 'unknown' ELSE 'yes' END
              || ',' || csv_field(array_to_string(parties, ';')) || chr(10),
              '' ORDER BY mpxn, source, installation_id), '')
FROM member_findings
"""

REJECTS_CSV = """
SELECT 'file,line,reason,raw' || chr(10)
       || coalesce(string_agg(
              csv_field(f.display) || ',' || r.line_no || ',' || r.reject_reason || ',' || csv_field(r.line) || chr(10),
              '' ORDER BY f.display, r.line_no), '')
FROM inventory_lines r JOIN input_files f USING (file_idx)
WHERE r.reject_reason IS NOT NULL
"""

ACCOUNTING = """
SELECT count(*) AS rows_read,
       (SELECT count(*) FROM devices) AS accepted,
       count(*) FILTER (WHERE reject_reason IS NOT NULL) AS rejected,
       count(*) FILTER (WHERE reject_reason IS NULL) - (SELECT count(*) FROM devices) AS duplicate_rows
FROM inventory_lines
"""


def parse_args(argv: list[str]) -> dict:
    options: dict = {"inventory": [], "suppliers": None, "as_of": None, "window_days": "30", "out": None}
    names = {"--inventory": "inventory", "--suppliers": "suppliers", "--as-of": "as_of",
             "--window-days": "window_days", "--out": "out"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if "=" in arg and arg.split("=", 1)[0] in names:
            name, value = arg.split("=", 1)
            i += 1
        elif arg in names:
            if i + 1 >= len(argv):
                raise Refusal(f"option {arg} needs a value\n{USAGE}")
            name, value = arg, argv[i + 1]
            i += 2
        else:
            raise Refusal(f"unexpected argument '{arg}'\n{USAGE}")
        key = names[name]
        if key == "inventory":
            options["inventory"].append(value)
        else:
            options[key] = value
    for key, flag in (("suppliers", "--suppliers"), ("as_of", "--as-of"), ("out", "--out")):
        if options[key] is None:
            raise Refusal(f"missing {flag}\n{USAGE}")
    if not options["inventory"]:
        raise Refusal(f"missing --inventory\n{USAGE}")
    if not re.fullmatch(r"[0-9]+", options["window_days"]):
        raise Refusal(f"--window-days '{options['window_days']}' is not a whole number of days (0 or more)")
    return options


def run(options: dict) -> tuple[str, dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="duckdb_sweep_spill_") as spill:
        return run_in(options, spill)


def run_in(options: dict, spill: str) -> tuple[str, dict[str, str]]:
    con = duckdb.connect(":memory:")
    con.execute("SET preserve_insertion_order = false")
    # Bounded memory: past the limit DuckDB spills joins and sorts to `spill` (about
    # 30 GB of disk at 60M rows). 16 GB leaves room for Python and the page cache on a
    # 24 GiB machine; DUCKDB_MEMORY_LIMIT overrides it (e.g. "4GB" on a smaller one).
    con.execute(f"SET memory_limit = {sql_str(os.environ.get('DUCKDB_MEMORY_LIMIT', '16GB'))}")
    con.execute(f"SET temp_directory = {sql_str(spill)}")
    con.execute(MACROS)
    as_of_ok = con.execute("SELECT date_only(?) IS NOT NULL", [options["as_of"]]).fetchone()[0]
    if not as_of_ok:
        raise Refusal(f"--as-of '{options['as_of']}' is not a valid YYYY-MM-DD date")

    with tempfile.TemporaryDirectory(prefix="duckdb_sweep_") as tmpdir:
        files, bad = [], []
        inputs = [("inventory", p) for p in options["inventory"]] + [("registry", options["suppliers"])]
        for index, (role, path) in enumerate(inputs):
            read_path, bad_lines = stage_file(path, tmpdir, index)
            files.append((index, role, os.fsencode(path).decode("utf-8", "replace"), read_path))
            bad += [(index, n) for n in bad_lines]
        load_lines(con, files, bad)

    # Same order as the reference: the registry is checked first, then the inventories.
    build_headers(con)
    check_headers(con, "registry")
    load_registry(con)
    check_headers(con, "inventory")
    names = ("source", "group_id", "installation_id", "device_id", "device_type",
             "mpxn", "installed_on", "last_comms_at", "supplier_id", "dormant")
    columns = {"cells": ", ".join(f"coalesce(fields[{c}_idx], '') AS {c}" for c in names),
               "trimmed": ", ".join(f"atrim({c}) AS {c}" for c in names)}
    sweep = SWEEP_SQL.format(parsed=parsed_lines_sql("inventory"),
                             as_of=f"DATE {sql_str(options['as_of'])}",
                             window=int(options["window_days"]), **columns)
    for statement in sweep.split(";\n\n"):  # one CREATE TABLE per stage
        con.execute(statement)
    r, a, j, d = con.execute(ACCOUNTING).fetchone()
    assert r == a + j + d  # SPEC §5 accounting
    outputs = {
        "decisions.csv": con.execute(DECISIONS_CSV).fetchone()[0],
        "duplicates.csv": con.execute(DUPLICATES_CSV).fetchone()[0],
        "rejects.csv": con.execute(REJECTS_CSV).fetchone()[0],
    }
    return f"rows_read={r} accepted={a} rejected={j} duplicate_rows={d}", outputs


def main(argv: list[str]) -> int:
    try:
        options = parse_args(argv)
        accounting, outputs = run(options)
    except Refusal as err:
        print(f"duckdb_sweep: refused: {err}", file=sys.stderr)
        return 2
    os.makedirs(options["out"], exist_ok=True)
    for name, content in outputs.items():
        with open(os.path.join(options["out"], name), "wb") as handle:
            handle.write(content.encode("utf-8"))
    print(accounting)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
