#!/usr/bin/env python3
"""Reference implementation of the mpxn-recon sweep (an oracle for differential tests).

What it is
    An independent, deliberately simple and slow re-implementation of SPEC.md
    sections 3 to 7 and its Appendix ("precise readings"), following
    ARCHITECTURE.md ("Readings of the spec") for the points the spec leaves open. It is meant to be
    read side by side with the spec: every finding of SPEC §6.1 is decided in one
    function whose docstring quotes the rule. It favours obviousness over speed
    (plain dicts and lists, repeated scans, no clever indexing); do not use it at
    national scale. Python 3.11 standard library only. It deliberately does NOT use
    the csv module (its quoting rules differ from the Appendix), str.strip() with no
    argument (it strips Unicode spaces too), str.upper()/lower() (not ASCII-only) or
    str.isdigit() (accepts non-ASCII digits).

How to run
    python3 scripts/reference_sweep.py --inventory F [--inventory F ...] \\
        --suppliers F --as-of YYYY-MM-DD [--window-days N] \\
        [--what-if only-communicating] --out DIR

    Writes DIR/decisions.csv, DIR/duplicates.csv, DIR/rejects.csv and DIR/findings.csv (creating DIR)
    and prints `rows_read=R accepted=A rejected=J duplicate_rows=D`. summary.json is
    not written. With --what-if only-communicating (SPEC §6.4) it also writes
    DIR/whatif.csv and DIR/what_if.json, the counts the engine writes as summary.json's
    `what_if` object (without its `outputs` checksums); the other files are the same. On a refusal (bad header, bad registry, bad arguments) it prints a
    message naming the file and the column or line to stderr, writes nothing and
    exits with status 2.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------
# Constants from the spec
# ---------------------------------------------------------------------------

# Appendix: "ASCII whitespace" is space, tab, LF, VT (0x0B), FF (0x0C) and CR.
ASCII_WHITESPACE = " \t\n\x0b\x0c\r"

BOM = b"\xef\xbb\xbf"

INVENTORY_COLUMNS = (
    "source", "group_id", "installation_id", "device_id", "device_type",
    "mpxn", "installed_on", "last_comms_at", "supplier_id", "dormant",
)
# Appendix: required = every column of §3.1 except last_comms_at and dormant.
INVENTORY_REQUIRED = tuple(c for c in INVENTORY_COLUMNS if c not in ("last_comms_at", "dormant"))

REGISTRY_COLUMNS = ("supplier_id", "party_id", "name", "status")
REGISTRY_REQUIRED = REGISTRY_COLUMNS  # Appendix: "all four of §3.2"
REGISTRY_STATUSES = ("live", "ceased_trading", "not_live_user")

SMETS2_SOURCE = "SMETS2"
ESME = "ESME"
GSME = "GSME"
MPAN = "MPAN"
MPRN = "MPRN"

# Reject reasons (Appendix: tested in this order).
REJECT_UNDECODABLE = "undecodable bytes"
REJECT_MALFORMED_QUOTING = "malformed quoting"
REJECT_WRONG_FIELD_COUNT = "wrong number of fields"
REJECT_FIELD_TOO_LONG = "field too long"
MAX_FIELD_BYTES = 16_777_215
REJECT_EMPTY_SOURCE = "empty source"
REJECT_EMPTY_INSTALLATION_ID = "empty installation_id"

# Finding codes and kinds (SPEC §6.1).
DATA_ISSUE = "data issue"
DUPLICATE = "duplicate"
UNBLOCK = "unblock"
REVIEW = "review"

DUPLICATE_GUID = "DUPLICATE_GUID"
INVALID_GUID = "INVALID_GUID"
MISSING_MPXN = "MISSING_MPXN"
INVALID_MPAN = "INVALID_MPAN"
INVALID_MPRN = "INVALID_MPRN"
REPEATED_MPXN = "REPEATED_MPXN"
NO_METER = "NO_METER"
UNKNOWN_SUPPLIER = "UNKNOWN_SUPPLIER"
INVALID_DATE = "INVALID_DATE"
FUTURE_COMMS = "FUTURE_COMMS"
DUP_NOT_LAST_INSTALLED = "DUP_NOT_LAST_INSTALLED"
DUP_NO_SINGLE_LAST = "DUP_NO_SINGLE_LAST"
DUP_NOT_COMMUNICATING = "DUP_NOT_COMMUNICATING"
DUP_OTHER_COMMUNICATING = "DUP_OTHER_COMMUNICATING"
DUP_RESOLVED = "DUP_RESOLVED"
DORMANT_SUPPLIER_CEASED = "DORMANT_SUPPLIER_CEASED"
DORMANT_SUPPLIER_NOT_LIVE = "DORMANT_SUPPLIER_NOT_LIVE"
ACTIVE_SUPPLIER_CEASED = "ACTIVE_SUPPLIER_CEASED"
ACTIVE_SUPPLIER_NOT_LIVE = "ACTIVE_SUPPLIER_NOT_LIVE"
# §6.4, the what-if policy only-communicating only; DCC's rule never finds it.
DUP_ONLY_COMMUNICATING = "DUP_ONLY_COMMUNICATING"

FINDING_KIND = {
    DUPLICATE_GUID: DATA_ISSUE,
    INVALID_GUID: DATA_ISSUE,
    MISSING_MPXN: DATA_ISSUE,
    INVALID_MPAN: DATA_ISSUE,
    INVALID_MPRN: DATA_ISSUE,
    REPEATED_MPXN: DATA_ISSUE,
    NO_METER: DATA_ISSUE,
    UNKNOWN_SUPPLIER: DATA_ISSUE,
    INVALID_DATE: DATA_ISSUE,
    FUTURE_COMMS: DATA_ISSUE,
    DUP_NOT_LAST_INSTALLED: DUPLICATE,
    DUP_NO_SINGLE_LAST: DUPLICATE,
    DUP_NOT_COMMUNICATING: DUPLICATE,
    DUP_OTHER_COMMUNICATING: DUPLICATE,
    DUP_RESOLVED: UNBLOCK,
    DORMANT_SUPPLIER_CEASED: UNBLOCK,
    DORMANT_SUPPLIER_NOT_LIVE: UNBLOCK,
    ACTIVE_SUPPLIER_CEASED: REVIEW,
    ACTIVE_SUPPLIER_NOT_LIVE: REVIEW,
    DUP_ONLY_COMMUNICATING: UNBLOCK,  # §6.4: "kind unblock"
}

# §6.2 rule 4: unblock clauses "4.1C (DUP_RESOLVED), 4.1A, 4.1B as they apply".
UNBLOCK_CLAUSE = {
    DUP_RESOLVED: "4.1C",
    DORMANT_SUPPLIER_CEASED: "4.1A",
    DORMANT_SUPPLIER_NOT_LIVE: "4.1B",
    # §6.4: "the outcome follows §6.2 with alt-4.1C in place of 4.1C".
    DUP_ONLY_COMMUNICATING: "alt-4.1C",
}

# §6.4: the what-if policies `--what-if` takes.
WHAT_IF_ONLY_COMMUNICATING = "only-communicating"
WHAT_IF_POLICIES = (WHAT_IF_ONLY_COMMUNICATING,)


class Refusal(Exception):
    """The run is refused (exit status 2, nothing written)."""


class MalformedQuoting(Exception):
    """A line's quoting breaks the Appendix / ARCHITECTURE.md ("Readings of the spec") rules."""


# ---------------------------------------------------------------------------
# Text helpers (ASCII-only on purpose)
# ---------------------------------------------------------------------------

def trim(text: str) -> str:
    """Remove leading and trailing ASCII whitespace (and nothing else)."""
    return text.strip(ASCII_WHITESPACE)


def remove_chars(text: str, chars: str) -> str:
    """Remove every occurrence of each character of `chars`, anywhere in `text`."""
    return "".join(c for c in text if c not in chars)


def ascii_upper(text: str) -> str:
    """Upper-case a-z only; every other character is left alone."""
    return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in text)


def ascii_lower(text: str) -> str:
    """Lower-case A-Z only; every other character is left alone."""
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def is_ascii_digits(text: str) -> bool:
    """True iff `text` is non-empty and every character is one of 0-9."""
    return len(text) > 0 and all("0" <= c <= "9" for c in text)


def is_ascii_hex(text: str) -> bool:
    """True iff `text` is non-empty and every character is one of 0-9, a-f, A-F."""
    return len(text) > 0 and all(c in "0123456789abcdefABCDEF" for c in text)


def byte_order_key(text: str) -> bytes:
    """Sort key giving byte order of the UTF-8 encoding (as the spec asks)."""
    return text.encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------
# Lines and fields
# ---------------------------------------------------------------------------

def physical_lines(data: bytes) -> list[tuple[int, bytes]]:
    """Split a file into (1-based line number, line bytes without terminator).

    Appendix: lines end at LF; one trailing CR is removed; a last line without a
    terminator counts. A final empty piece after the last LF is not a line.
    ARCHITECTURE.md ("Readings of the spec"): a BOM is recognised only at the very start of the file.
    """
    if data.startswith(BOM):
        data = data[len(BOM):]
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()  # the file ended with LF (or was empty)
    lines = []
    for index, piece in enumerate(pieces):
        if piece.endswith(b"\r"):
            piece = piece[:-1]
        lines.append((index + 1, piece))
    return lines


def split_fields(line: str, delimiter: str) -> list[str]:
    """Split one decoded line into fields (quotes removed, not trimmed).

    ARCHITECTURE.md ("Readings of the spec"): a field is quoted iff its FIRST character is `"` (no trimming
    before that test). In a quoted field `""` is a literal quote; the closing quote
    must be followed by the delimiter or the end of the line, otherwise the row is
    malformed quoting; a quoted field with no closing quote is malformed quoting. A
    `"` inside an unquoted field is a literal character.
    Raises MalformedQuoting.
    """
    fields: list[str] = []
    i = 0
    n = len(line)
    while True:
        if i < n and line[i] == '"':
            # Quoted field.
            i += 1
            value = []
            while True:
                if i >= n:
                    raise MalformedQuoting("quoted field is not closed")
                c = line[i]
                if c == '"':
                    if i + 1 < n and line[i + 1] == '"':
                        value.append('"')
                        i += 2
                        continue
                    i += 1  # the closing quote
                    break
                value.append(c)
                i += 1
            fields.append("".join(value))
            if i == n:
                return fields
            if line[i] != delimiter:
                raise MalformedQuoting("text after a closing quote")
            i += 1  # skip the delimiter; a field (maybe empty) follows
        else:
            # Unquoted field: runs to the next delimiter or the end of the line.
            j = line.find(delimiter, i)
            if j == -1:
                fields.append(line[i:])
                return fields
            fields.append(line[i:j])
            i = j + 1


def detect_delimiter(header: bytes, path: str) -> str:
    """Appendix: only `|` -> pipe; only `,` or neither -> comma; both -> refused."""
    has_pipe = b"|" in header
    has_comma = b"," in header
    if has_pipe and has_comma:
        raise Refusal(f"{path}: line 1: header contains both '|' and ',': cannot tell the delimiter")
    return "|" if has_pipe else ","


@dataclass
class Header:
    delimiter: str
    field_count: int
    # known column name -> its index in the row
    index_of: dict[str, int]
    # known column name -> its name as the header writes it (trimmed, case kept)
    spelled: dict[str, str] = field(default_factory=dict)


def read_header(path: str, lines: list[tuple[int, bytes]], known: tuple[str, ...],
                required: tuple[str, ...]) -> Header:
    """Parse and check a header line; raise Refusal on any problem.

    Appendix: header names are trimmed and lower-cased; a required column that is
    missing refuses the file; a known column named twice refuses the file; unknown
    or empty names are ignored. ARCHITECTURE.md ("Readings of the spec"): the header is split like any line (a
    header with bad quoting refuses the file).
    """
    if not lines:
        raise Refusal(f"{path}: file is empty: missing required column(s) {', '.join(required)}")
    _, raw = lines[0]
    try:
        text = raw.decode("utf-8", "strict")
    except UnicodeDecodeError:
        raise Refusal(f"{path}: line 1: header is not valid UTF-8")
    # Appendix: a CR anywhere but as the header's last byte (already removed with the
    # line end) means CR-only line ends.
    if b"\r" in raw:
        raise Refusal(f"{path}: line 1: header holds a CR: the line ends look like CR-only")
    delimiter = detect_delimiter(raw, path)
    try:
        names = split_fields(text, delimiter)
    except MalformedQuoting as err:
        raise Refusal(f"{path}: line 1: header has malformed quoting ({err})")
    index_of: dict[str, int] = {}
    spelled: dict[str, str] = {}
    for index, written in enumerate(names):
        name = ascii_lower(trim(written))
        if name not in known:
            continue  # unknown or empty names are ignored
        if name in index_of:
            raise Refusal(f"{path}: line 1: column '{name}' is named twice in the header")
        index_of[name] = index
        spelled[name] = trim(written)
    missing = [c for c in required if c not in index_of]
    if missing:
        raise Refusal(f"{path}: line 1: header lacks required column(s): {', '.join(missing)}")
    return Header(delimiter=delimiter, field_count=len(names), index_of=index_of, spelled=spelled)


# ---------------------------------------------------------------------------
# Identifiers (SPEC §4 and Appendix)
# ---------------------------------------------------------------------------

MPAN_WEIGHTS = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)


def normalise_mpan(text: str) -> str | None:
    """Canonical MPAN core, or None when invalid.

    §4: "remove ASCII whitespace and `-`. A 21-character value keeps its last 13
    characters (the core). Valid iff the core is 13 digits and its check digit
    holds: multiply the first 12 digits by 3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41,
    43; the sum mod 11 mod 10 equals the 13th digit." Appendix: the 8
    supplementary characters of a 21-character MPAN are not validated.
    """
    cleaned = remove_chars(text, ASCII_WHITESPACE + "-")
    if len(cleaned) == 21:
        cleaned = cleaned[-13:]
    if len(cleaned) != 13 or not is_ascii_digits(cleaned):
        return None
    digits = [ord(c) - ord("0") for c in cleaned]
    total = sum(d * w for d, w in zip(digits[:12], MPAN_WEIGHTS))
    if total % 11 % 10 != digits[12]:
        return None
    return cleaned


def normalise_mprn(text: str) -> str | None:
    """Canonical MPRN (digits without leading zeros), or None when invalid.

    §4: "remove ASCII whitespace and leading zeros. Valid iff 6 to 10 digits and
    the check holds: with n digits, multiply digit i (0-based, of the first n-2) by
    (n-2-i); the sum mod 11, written as two digits, equals the last two digits."
    Appendix: whitespace removed, then leading zeros; `-` is not removed; the 6-10
    length is checked after that.
    """
    cleaned = remove_chars(text, ASCII_WHITESPACE)
    cleaned = cleaned.lstrip("0")
    n = len(cleaned)
    if not (6 <= n <= 10) or not is_ascii_digits(cleaned):
        return None
    digits = [ord(c) - ord("0") for c in cleaned]
    total = sum(digits[i] * (n - 2 - i) for i in range(n - 2))
    if "%02d" % (total % 11) != cleaned[-2:]:
        return None
    return cleaned


def normalise_guid(text: str) -> str | None:
    """Canonical GUID (upper case, hyphen every two digits), or None when invalid.

    §4: "remove `-`, `:` and whitespace; valid iff 16 hex digits and not all-zero.
    Canonical form: upper case, hyphen every two digits."
    """
    cleaned = remove_chars(text, ASCII_WHITESPACE + "-:")
    if len(cleaned) != 16 or not is_ascii_hex(cleaned):
        return None
    if all(c == "0" for c in cleaned):
        return None
    upper = ascii_upper(cleaned)
    return "-".join(upper[i:i + 2] for i in range(0, 16, 2))


# ---------------------------------------------------------------------------
# Dates (Appendix: YYYY-MM-DD or RFC 3339 timestamp; UTC calendar date)
# ---------------------------------------------------------------------------

def is_leap_year(year: int) -> bool:
    """Proleptic Gregorian (year 0 is a leap year)."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if is_leap_year(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def day_number(year: int, month: int, day: int) -> int:
    """Days since 0000-03-01 style epoch (proleptic Gregorian; any consistent
    epoch works since only differences and order matter). Algorithm: H. Hinnant's
    days_from_civil, valid for year 0 too."""
    y = year - (1 if month <= 2 else 0)
    era = y // 400
    yoe = y - era * 400
    mp = (month + 9) % 12  # March = 0
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe


def civil_from_day_number(days: int) -> tuple[int, int, int]:
    """Inverse of day_number (H. Hinnant's civil_from_days)."""
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + (1 if m <= 2 else 0), m, d)


def format_day_number(days: int) -> str:
    y, m, d = civil_from_day_number(days)
    return "%04d-%02d-%02d" % (y, m, d)


DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
TIMESTAMP_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"      # date
    r"[Tt]"                                  # separator: T or t only
    r"([0-9]{2}):([0-9]{2}):([0-9]{2})"      # time, seconds required
    r"(?:\.[0-9]+)?"                         # optional fraction, 1+ digits
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"  # Z/z or +-HH:MM, required
)

MIN_DAY = day_number(1, 1, 1)
MAX_DAY = day_number(9999, 12, 31)


def valid_calendar_date(year: int, month: int, day: int) -> bool:
    """SPEC Appendix: years 0001-9999 (year 0000 is a placeholder); day validity per proleptic Gregorian."""
    return 1 <= year <= 9999 and 1 <= month <= 12 and 1 <= day <= days_in_month(year, month)


def parse_date_only(text: str) -> int | None:
    """`YYYY-MM-DD` exactly (ASCII digits), as a day number; None if it does not parse."""
    m = DATE_RE.fullmatch(text)
    if m is None:
        return None
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not valid_calendar_date(year, month, day):
        return None
    return day_number(year, month, day)


def parse_date(text: str) -> int | None:
    """UTC calendar day number of a date or RFC 3339 timestamp; None if it does not parse.

    §6.1 Details: "Dates are YYYY-MM-DD, or an RFC 3339 timestamp whose UTC
    calendar date is used; an empty installed_on does not parse; 2023-02-30 does
    not parse." Appendix: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, with T/t and
    Z/z, seconds 00-60; a space separator, a missing offset or missing seconds do
    not parse.

    Reading of our own (see report): hours 00-23, minutes 00-59, offset hours 00-23
    and offset minutes 00-59; a leap second (:60) does not move the date; a UTC
    date that falls outside 0001-01-01..9999-12-31 after applying the offset does
    not parse.
    """
    day = parse_date_only(text)
    if day is not None:
        return day
    m = TIMESTAMP_RE.fullmatch(text)
    if m is None:
        return None
    year, month, dom = int(m.group(1)), int(m.group(2)), int(m.group(3))
    hour, minute, second = int(m.group(4)), int(m.group(5)), int(m.group(6))
    if not valid_calendar_date(year, month, dom):
        return None
    if hour > 23 or minute > 59 or second > 60:
        return None
    offset_minutes = 0
    if m.group(7) is None:  # numeric offset
        sign = 1 if m.group(8) == "+" else -1
        off_h, off_m = int(m.group(9)), int(m.group(10))
        if off_h > 23 or off_m > 59:
            return None
        offset_minutes = sign * (off_h * 60 + off_m)
    # Local wall time minus the offset is UTC; seconds never change the date
    # (a leap second 23:59:60 still belongs to its day).
    utc_minutes = hour * 60 + minute - offset_minutes
    utc_day = day_number(year, month, dom) + utc_minutes // 1440  # floor division
    if not (MIN_DAY <= utc_day <= MAX_DAY):
        return None
    return utc_day


# ---------------------------------------------------------------------------
# Supplier registry (§3.2 and Appendix)
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SupplierEntry:
    party_id: str
    status: str


def load_registry(path: str) -> dict[str, SupplierEntry]:
    """Map upper-cased trimmed supplier_id -> (party_id, status); Refusal on error.

    Appendix: supplier_id trimmed and case-insensitive; party_id trimmed and
    case-sensitive; status trimmed and case-insensitive. An empty id, an unknown
    status, one supplier id mapped to two parties, or one party with two statuses
    refuses the run. The same mapping listed twice is fine. (Brief: a registry row
    with wrong field count, bad quoting or bad UTF-8 also refuses the run.)
    """
    data = read_bytes(path)
    lines = physical_lines(data)
    header = read_header(path, lines, REGISTRY_COLUMNS, REGISTRY_REQUIRED)
    suppliers: dict[str, SupplierEntry] = {}
    party_status: dict[str, str] = {}
    body = lines[1:]
    # Our reading (README): blank lines at the end of a registry are tolerated, a blank
    # line before another row refuses it.
    while body and trim(body[-1][1].decode("utf-8", "replace")) == "":
        body.pop()
    for line_no, raw in body:
        where = f"{path}: line {line_no}"
        try:
            text = raw.decode("utf-8", "strict")
        except UnicodeDecodeError:
            raise Refusal(f"{where}: registry row is not valid UTF-8")
        if trim(text) == "":
            raise Refusal(f"{where}: blank line in the registry")
        try:
            fields = split_fields(text, header.delimiter)
        except MalformedQuoting as err:
            raise Refusal(f"{where}: registry row has malformed quoting ({err})")
        if len(fields) != header.field_count:
            raise Refusal(f"{where}: registry row has {len(fields)} fields, header has {header.field_count}")
        supplier_id = ascii_upper(trim(fields[header.index_of["supplier_id"]]))
        party_id = trim(fields[header.index_of["party_id"]])
        status = ascii_lower(trim(fields[header.index_of["status"]]))
        if supplier_id == "":
            raise Refusal(f"{where}: registry row has an empty supplier_id")
        if party_id == "":
            raise Refusal(f"{where}: registry row has an empty party_id")
        if status not in REGISTRY_STATUSES:
            raise Refusal(f"{where}: registry row has unknown status '{trim(fields[header.index_of['status']])}'"
                          f" (expected one of {', '.join(REGISTRY_STATUSES)})")
        known = suppliers.get(supplier_id)
        if known is not None and known.party_id != party_id:
            raise Refusal(f"{where}: supplier_id '{supplier_id}' is mapped to two parties "
                          f"('{known.party_id}' and '{party_id}')")
        known_status = party_status.get(party_id)
        if known_status is not None and known_status != status:
            raise Refusal(f"{where}: party '{party_id}' is listed with two statuses "
                          f"('{known_status}' and '{status}')")
        suppliers[supplier_id] = SupplierEntry(party_id=party_id, status=status)
        party_status[party_id] = status
    return suppliers


# ---------------------------------------------------------------------------
# Inventory rows (§3.1, §5 and Appendix)
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One accepted inventory row, every field trimmed, with its normalised forms."""
    source: str           # trimmed, ASCII upper case
    group_id: str         # trimmed, ASCII upper case
    installation_id: str  # trimmed, case-sensitive
    device_id: str        # trimmed text
    guid: str | None      # canonical GUID, None when device_id does not normalise
    device_type: str      # trimmed, ASCII upper case
    mpxn_text: str        # trimmed text
    mpxn: tuple[str, str] | None  # (MPAN|MPRN, canonical) iff a meter with a valid MPxN
    installed_on: str     # trimmed text
    last_comms_at: str    # trimmed text ("" = never)
    supplier_id: str      # trimmed, ASCII upper case
    dormant: str          # trimmed text
    # Where the row is and how it was written, for findings.csv only (not identity).
    file: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)
    raw_supplier_id: str = field(default="", compare=False)
    spelled: dict = field(default_factory=dict, compare=False)

    @property
    def is_meter(self) -> bool:
        """§6: "its meters are its ESME and GSME rows"."""
        return self.device_type in (ESME, GSME)

    @property
    def is_dormant(self) -> bool:
        """Appendix: y, true, 1 (any case) are dormant; anything else is not."""
        return ascii_lower(self.dormant) in ("y", "true", "1")

    def identity(self) -> tuple:
        """Identity for collapsing identical rows.

        Appendix: source, group_id, supplier_id, device_type compared
        case-insensitively; device_id and mpxn by canonical form where valid; every
        other column (installation_id, installed_on, last_comms_at, dormant, an mpxn
        that does not normalise) as trimmed text. ARCHITECTURE.md ("Readings of the spec"): mpxn canonical MPAN
        when ESME and valid, canonical MPRN when GSME and valid, otherwise trimmed.
        (A canonical form always normalises to itself, so canonical text and
        non-normalising trimmed text can never be confused.)
        """
        device_key = self.guid if self.guid is not None else self.device_id
        mpxn_key = self.mpxn[1] if self.mpxn is not None else self.mpxn_text
        return (
            self.source, self.group_id, self.installation_id, device_key,
            self.device_type, mpxn_key, self.installed_on, self.last_comms_at,
            self.supplier_id, self.dormant,
        )


def carried_mpxn(device_type: str, mpxn_text: str) -> tuple[str, str] | None:
    """§6.1 Details: "Only a meter whose MPxN is valid carries it." MPAN for an
    ESME, MPRN for a GSME; other devices carry none."""
    if device_type == ESME:
        canon = normalise_mpan(mpxn_text)
        return (MPAN, canon) if canon is not None else None
    if device_type == GSME:
        canon = normalise_mprn(mpxn_text)
        return (MPRN, canon) if canon is not None else None
    return None


def make_row(fields: list[str], header: Header) -> Row:
    def value(column: str) -> str:
        index = header.index_of.get(column)
        return trim(fields[index]) if index is not None else ""

    device_type = ascii_upper(value("device_type"))
    mpxn_text = value("mpxn")
    device_id = value("device_id")
    return Row(
        source=ascii_upper(value("source")),
        group_id=ascii_upper(value("group_id")),
        installation_id=value("installation_id"),
        device_id=device_id,
        guid=normalise_guid(device_id),
        device_type=device_type,
        mpxn_text=mpxn_text,
        mpxn=carried_mpxn(device_type, mpxn_text),
        installed_on=value("installed_on"),
        last_comms_at=value("last_comms_at"),
        supplier_id=ascii_upper(value("supplier_id")),
        dormant=value("dormant"),
        raw_supplier_id=value("supplier_id"),
        spelled=header.spelled,
    )


@dataclass
class Reject:
    file: str
    line: int
    reason: str
    raw: str


@dataclass
class InventoryFile:
    path: str
    rows_read: int = 0
    accepted: list[Row] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


def read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as err:
        raise Refusal(f"{path}: cannot read: {err.strerror}")


def load_inventory(path: str) -> InventoryFile:
    """Read one inventory file into accepted rows and rejects.

    §5: a row is rejected only when it cannot be attributed to an installation.
    Appendix: reasons tested in this order: undecodable bytes, malformed quoting,
    wrong number of fields, empty source, empty installation_id. A blank line is a
    row with the wrong number of fields. rows_read does not count the header.
    """
    data = read_bytes(path)
    lines = physical_lines(data)
    header = read_header(path, lines, INVENTORY_COLUMNS, INVENTORY_REQUIRED)
    result = InventoryFile(path=path)
    for line_no, raw in lines[1:]:
        result.rows_read += 1
        reason, row = classify_line(raw, header)
        if reason is not None:
            # ARCHITECTURE.md ("Readings of the spec"): raw is the line without its terminator, invalid UTF-8
            # replaced by U+FFFD per maximal invalid subsequence.
            result.rejects.append(Reject(path, line_no, reason, raw.decode("utf-8", "replace")))
        else:
            result.accepted.append(dataclasses.replace(row, file=path, line=line_no))
    return result


def classify_line(raw: bytes, header: Header) -> tuple[str | None, Row | None]:
    """Return (reject reason, None) or (None, accepted row)."""
    try:
        text = raw.decode("utf-8", "strict")
    except UnicodeDecodeError:
        return REJECT_UNDECODABLE, None
    try:
        fields = split_fields(text, header.delimiter)
    except MalformedQuoting:
        return REJECT_MALFORMED_QUOTING, None
    if len(fields) != header.field_count:
        return REJECT_WRONG_FIELD_COUNT, None
    # Appendix: a field longer than 16,777,215 bytes after trimming.
    if len(raw) > MAX_FIELD_BYTES and any(
        len(trim(f).encode("utf-8")) > MAX_FIELD_BYTES for f in fields
    ):
        return REJECT_FIELD_TOO_LONG, None
    if trim(fields[header.index_of["source"]]) == "":
        return REJECT_EMPTY_SOURCE, None
    if trim(fields[header.index_of["installation_id"]]) == "":
        return REJECT_EMPTY_INSTALLATION_ID, None
    return None, make_row(fields, header)


def collapse_identical_rows(rows: list[Row]) -> list[Row]:
    """§5: rows identical after normalisation are collapsed into one. Every field
    that matters downstream is a function of the identity, so which copy is kept
    does not matter; we keep the first."""
    seen: dict[tuple, Row] = {}
    for row in rows:
        seen.setdefault(row.identity(), row)
    return list(seen.values())


# ---------------------------------------------------------------------------
# Installations and the facts the findings use
# ---------------------------------------------------------------------------

COMM_YES = "yes"
COMM_NO = "no"
COMM_UNKNOWN = "unknown"


@dataclass
class Installation:
    source: str           # upper case
    installation_id: str  # trimmed
    rows: list[Row]

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.installation_id)

    @property
    def is_smets2(self) -> bool:
        """SMETS2 = source equal to `SMETS2` case-insensitively (source is upper-cased)."""
        return self.source == SMETS2_SOURCE

    @property
    def meters(self) -> list[Row]:
        return [r for r in self.rows if r.is_meter]

    def group_id(self) -> str:
        """Appendix: the smallest upper-cased non-empty group_id (byte order)."""
        values = [r.group_id for r in self.rows if r.group_id != ""]
        return min(values, key=byte_order_key) if values else ""

    def mpxns(self) -> list[tuple[str, str]]:
        """Distinct MPxNs (kind, canonical) carried by its meters."""
        return sorted({r.mpxn for r in self.meters if r.mpxn is not None})


def group_installations(rows: list[Row]) -> dict[tuple[str, str], Installation]:
    """Installations are identified by (upper-cased source, trimmed installation_id)."""
    installations: dict[tuple[str, str], Installation] = {}
    for row in rows:
        key = (row.source, row.installation_id)
        if key not in installations:
            installations[key] = Installation(row.source, row.installation_id, [])
        installations[key].rows.append(row)
    return installations


@dataclass(frozen=True)
class AsOf:
    day: int     # A, as a day number
    window: int  # W, days

    def is_future(self, day: int) -> bool:
        """§6.1 Details: FUTURE_COMMS iff d > A."""
        return day > self.day

    def in_window(self, day: int) -> bool:
        """§6.1 Details: communicating iff A - W <= d <= A."""
        return self.day - self.window <= day <= self.day


def last_communication(inst: Installation) -> int | None:
    """§6: "its last communication is the latest last_comms_at over all its devices".
    ARCHITECTURE.md ("Readings of the spec"): latest parseable value (future ones included); None if none parses."""
    days = [parse_date(r.last_comms_at) for r in inst.rows if r.last_comms_at != ""]
    days = [d for d in days if d is not None]
    return max(days) if days else None


def communication_status(inst: Installation, as_of: AsOf) -> str:
    """yes / no / unknown.

    §6.1: "A member's communication status is unknown when any of its devices has
    an unparseable last_comms_at or one after the as-of date; it is never
    'communicating' then." §6: communicating iff the last communication exists and
    falls within [A - W days, A]. An empty last_comms_at means never (not unknown).
    """
    for r in inst.rows:
        if r.last_comms_at == "":
            continue
        day = parse_date(r.last_comms_at)
        if day is None or as_of.is_future(day):
            return COMM_UNKNOWN
    last = last_communication(inst)
    if last is not None and as_of.in_window(last):
        return COMM_YES
    return COMM_NO


# ---------------------------------------------------------------------------
# Data-issue findings (§6.1), one function each
# ---------------------------------------------------------------------------

@dataclass
class Context:
    """Sweep-wide facts the findings need."""
    as_of: AsOf
    registry: dict[str, SupplierEntry]
    guid_row_count: dict[str, int]  # canonical GUID -> number of distinct accepted rows


def finding_duplicate_guid(inst: Installation, ctx: Context) -> bool:
    """DUPLICATE_GUID: "its device GUID (canonical) is on more than one accepted row
    after collapsing identical rows — in any installation of any source".
    Appendix: "Only valid GUIDs take part in DUPLICATE_GUID"."""
    return any(r.guid is not None and ctx.guid_row_count[r.guid] > 1 for r in inst.rows)


def finding_invalid_guid(inst: Installation, ctx: Context) -> bool:
    """INVALID_GUID: "a device GUID does not normalise" (any device, empty included)."""
    return any(r.guid is None for r in inst.rows)


def finding_missing_mpxn(inst: Installation, ctx: Context) -> bool:
    """MISSING_MPXN: "a meter has an empty mpxn". Appendix: "A whitespace-only mpxn
    on a meter is MISSING_MPXN" (the field is trimmed first)."""
    return any(r.mpxn_text == "" for r in inst.meters)


def finding_invalid_mpan(inst: Installation, ctx: Context) -> bool:
    """INVALID_MPAN: "an ESME's mpxn is not a valid MPAN". Reading: an empty mpxn is
    MISSING_MPXN, not also INVALID_MPAN."""
    return any(r.device_type == ESME and r.mpxn_text != "" and r.mpxn is None for r in inst.rows)


def finding_invalid_mprn(inst: Installation, ctx: Context) -> bool:
    """INVALID_MPRN: "a GSME's mpxn is not a valid MPRN". Reading: an empty mpxn is
    MISSING_MPXN, not also INVALID_MPRN."""
    return any(r.device_type == GSME and r.mpxn_text != "" and r.mpxn is None for r in inst.rows)


def finding_repeated_mpxn(inst: Installation, ctx: Context) -> bool:
    """REPEATED_MPXN: "two meters of the installation carry the same MPxN" (only a
    valid MPxN is carried; an MPAN and an MPRN never match)."""
    carried = [r.mpxn for r in inst.meters if r.mpxn is not None]
    return len(carried) != len(set(carried))


def finding_no_meter(inst: Installation, ctx: Context) -> bool:
    """NO_METER: "the installation has no ESME and no GSME" (rejected rows take no
    part, so a rejected ESME row can leave NO_METER)."""
    return len(inst.meters) == 0


def finding_unknown_supplier(inst: Installation, ctx: Context) -> bool:
    """UNKNOWN_SUPPLIER: "a meter's supplier_id is empty or not in the registry".
    Appendix: applies to every meter, whatever its MPxN's validity."""
    return any(r.supplier_id == "" or r.supplier_id not in ctx.registry for r in inst.meters)


def finding_invalid_date(inst: Installation, ctx: Context) -> bool:
    """INVALID_DATE: "an installed_on or last_comms_at does not parse" (any device).
    An empty installed_on does not parse; an empty last_comms_at means never."""
    for r in inst.rows:
        if parse_date(r.installed_on) is None:
            return True
        if r.last_comms_at != "" and parse_date(r.last_comms_at) is None:
            return True
    return False


def finding_future_comms(inst: Installation, ctx: Context) -> bool:
    """FUTURE_COMMS: "a last_comms_at is after the as-of date" (d > A)."""
    for r in inst.rows:
        if r.last_comms_at == "":
            continue
        day = parse_date(r.last_comms_at)
        if day is not None and ctx.as_of.is_future(day):
            return True
    return False


DATA_ISSUE_FINDINGS = (
    (DUPLICATE_GUID, finding_duplicate_guid),
    (INVALID_GUID, finding_invalid_guid),
    (MISSING_MPXN, finding_missing_mpxn),
    (INVALID_MPAN, finding_invalid_mpan),
    (INVALID_MPRN, finding_invalid_mprn),
    (REPEATED_MPXN, finding_repeated_mpxn),
    (NO_METER, finding_no_meter),
    (UNKNOWN_SUPPLIER, finding_unknown_supplier),
    (INVALID_DATE, finding_invalid_date),
    (FUTURE_COMMS, finding_future_comms),
)


# ---------------------------------------------------------------------------
# Supplier status findings (§6.1), one function each
# ---------------------------------------------------------------------------

def supplier_status_of(row: Row, ctx: Context) -> str | None:
    """The party status of a meter's supplier, None when the supplier is unknown."""
    entry = ctx.registry.get(row.supplier_id) if row.supplier_id != "" else None
    return entry.status if entry is not None else None


def smets1_meters(inst: Installation) -> list[Row]:
    """Appendix: "Supplier status findings apply to each SMETS1 meter with that
    meter's own dormant value"; §6.1 Details: supplier status matters on SMETS1
    meters only."""
    return [] if inst.is_smets2 else inst.meters


def finding_dormant_supplier_ceased(inst: Installation, ctx: Context) -> bool:
    """DORMANT_SUPPLIER_CEASED (TMAD 4.1A): "a dormant meter's supplier party is
    ceased_trading"."""
    return any(r.is_dormant and supplier_status_of(r, ctx) == "ceased_trading" for r in smets1_meters(inst))


def finding_dormant_supplier_not_live(inst: Installation, ctx: Context) -> bool:
    """DORMANT_SUPPLIER_NOT_LIVE (TMAD 4.1B): "a dormant meter's supplier party is
    not_live_user"."""
    return any(r.is_dormant and supplier_status_of(r, ctx) == "not_live_user" for r in smets1_meters(inst))


def finding_active_supplier_ceased(inst: Installation, ctx: Context) -> bool:
    """ACTIVE_SUPPLIER_CEASED (review): "an active (not dormant) meter's supplier
    party is ceased_trading"."""
    return any(not r.is_dormant and supplier_status_of(r, ctx) == "ceased_trading" for r in smets1_meters(inst))


def finding_active_supplier_not_live(inst: Installation, ctx: Context) -> bool:
    """ACTIVE_SUPPLIER_NOT_LIVE (review): "an active meter's supplier party is
    not_live_user"."""
    return any(not r.is_dormant and supplier_status_of(r, ctx) == "not_live_user" for r in smets1_meters(inst))


SUPPLIER_STATUS_FINDINGS = (
    (DORMANT_SUPPLIER_CEASED, finding_dormant_supplier_ceased),
    (DORMANT_SUPPLIER_NOT_LIVE, finding_dormant_supplier_not_live),
    (ACTIVE_SUPPLIER_CEASED, finding_active_supplier_ceased),
    (ACTIVE_SUPPLIER_NOT_LIVE, finding_active_supplier_not_live),
)


# ---------------------------------------------------------------------------
# Duplicate groups (§6.1 "Duplicate groups")
# ---------------------------------------------------------------------------

LAST_YES = "yes"
LAST_NO = "no"
LAST_UNKNOWN = "unknown"


@dataclass
class MemberView:
    """One member installation of the group of one shared MPxN."""
    inst: Installation
    install_day: int | None  # None = unknown
    comm: str                # yes / no / unknown
    carrying_meters: list[Row]


@dataclass
class MemberAssessment:
    """The outcome of the four duplicate findings for one (shared MPxN, member)."""
    mpxn: tuple[str, str]
    member: MemberView
    findings: set[str]

    @property
    def last_installed(self) -> str:
        """ARCHITECTURE.md ("Readings of the spec"): yes when neither DUP_NOT_LAST_INSTALLED nor
        DUP_NO_SINGLE_LAST holds; no when DUP_NOT_LAST_INSTALLED holds; unknown when
        DUP_NO_SINGLE_LAST holds."""
        if DUP_NOT_LAST_INSTALLED in self.findings:
            return LAST_NO
        if DUP_NO_SINGLE_LAST in self.findings:
            return LAST_UNKNOWN
        return LAST_YES


def carriers_by_mpxn(installations: dict[tuple[str, str], Installation]
                     ) -> dict[tuple[str, str], dict[tuple[str, str], list[Row]]]:
    """MPxN -> installation key -> that installation's meters carrying it."""
    carriers: dict[tuple[str, str], dict[tuple[str, str], list[Row]]] = {}
    for key, inst in installations.items():
        for r in inst.meters:
            if r.mpxn is not None:
                carriers.setdefault(r.mpxn, {}).setdefault(key, []).append(r)
    return carriers


def member_install_day(carrying_meters: list[Row]) -> int | None:
    """§6.1: "A member's install date for X is the installed_on of its meter carrying
    X (unknown if it does not parse)." Details: "A member with two meters carrying X
    (REPEATED_MPXN) has an unknown install date for X."""
    if len(carrying_meters) != 1:
        return None
    return parse_date(carrying_meters[0].installed_on)


def dup_not_last_installed(me: MemberView, others: list[MemberView]) -> bool:
    """DUP_NOT_LAST_INSTALLED: "for an MPxN it shares, its own install date is
    unknown, or another member's is strictly later"."""
    if me.install_day is None:
        return True
    return any(o.install_day is not None and o.install_day > me.install_day for o in others)


def dup_no_single_last(me: MemberView, others: list[MemberView]) -> bool:
    """DUP_NO_SINGLE_LAST: "for an MPxN it shares, it is not beaten (above) but
    cannot be verified as the single last installed: another member has the same
    date, or another member's date is unknown"."""
    if dup_not_last_installed(me, others):
        return False
    return any(o.install_day is None or o.install_day == me.install_day for o in others)


def dup_not_communicating(me: MemberView, others: list[MemberView]) -> bool:
    """DUP_NOT_COMMUNICATING: "for an MPxN it shares, it is not communicating (or
    its communication status is unknown)"."""
    return me.comm != COMM_YES


def dup_other_communicating(me: MemberView, others: list[MemberView]) -> bool:
    """DUP_OTHER_COMMUNICATING: "for an MPxN it shares, another member is
    communicating, or its communication status is unknown" (the other member's)."""
    return any(o.comm in (COMM_YES, COMM_UNKNOWN) for o in others)


DUPLICATE_FINDINGS = (
    (DUP_NOT_LAST_INSTALLED, dup_not_last_installed),
    (DUP_NO_SINGLE_LAST, dup_no_single_last),
    (DUP_NOT_COMMUNICATING, dup_not_communicating),
    (DUP_OTHER_COMMUNICATING, dup_other_communicating),
)


def assess_duplicate_groups(installations: dict[tuple[str, str], Installation], as_of: AsOf
                            ) -> list[MemberAssessment]:
    """Every (shared MPxN, member) pair with its duplicate findings.

    §6.1: "An MPxN is shared when meters of two or more distinct installations
    carry it (any sources, SMETS1 or SMETS2); those installations are the group's
    members." Appendix: "An MPxN repeated inside one installation and carried by no
    other installation is not shared: REPEATED_MPXN only."
    """
    assessments = []
    for mpxn, members in carriers_by_mpxn(installations).items():
        if len(members) < 2:
            continue
        views = [
            MemberView(
                inst=installations[key],
                install_day=member_install_day(meters),
                comm=communication_status(installations[key], as_of),
                carrying_meters=meters,
            )
            for key, meters in members.items()
        ]
        for me in views:
            others = [o for o in views if o is not me]
            findings = {code for code, decide in DUPLICATE_FINDINGS if decide(me, others)}
            assessments.append(MemberAssessment(mpxn=mpxn, member=me, findings=findings))
    return assessments


def finding_dup_resolved(shared: list[MemberAssessment]) -> bool:
    """DUP_RESOLVED (TMAD 4.1C): "it shares MPxNs and, for every one of them, it is
    the single last installed and the only one communicating". A member passes X
    when none of the four duplicate findings holds for X."""
    return len(shared) > 0 and all(not a.findings for a in shared)


# ---------------------------------------------------------------------------
# Outcome (§6.2)
# ---------------------------------------------------------------------------

@dataclass
class Decision:
    source: str
    installation_id: str
    group_id: str
    outcome: str
    clauses: list[str]
    reasons: list[str]
    mpxns: list[str]


def all_findings(inst: Installation, ctx: Context, shared: list[MemberAssessment]) -> set[str]:
    """Every finding that holds for the installation (§6.2: reasons lists them all)."""
    found = {code for code, decide in DATA_ISSUE_FINDINGS if decide(inst, ctx)}
    for assessment in shared:
        found |= assessment.findings
    if finding_dup_resolved(shared):
        found.add(DUP_RESOLVED)
    found |= {code for code, decide in SUPPLIER_STATUS_FINDINGS if decide(inst, ctx)}
    return found


def decide_outcome(findings: set[str]) -> tuple[str, list[str]]:
    """§6.2, the first rule that applies:
    1. any data-issue finding -> exclude, clause 18.12;
    2. any duplicate finding -> exclude, clause 18.13;
    3. any review finding -> review, no clause;
    4. any unblock finding -> unblock, clauses 4.1C (DUP_RESOLVED), 4.1A, 4.1B as they apply;
    5. otherwise -> clear."""
    kinds = {FINDING_KIND[code] for code in findings}
    if DATA_ISSUE in kinds:
        return "exclude", ["18.12"]
    if DUPLICATE in kinds:
        return "exclude", ["18.13"]
    if REVIEW in kinds:
        return "review", []
    if UNBLOCK in kinds:
        clauses = sorted({UNBLOCK_CLAUSE[code] for code in findings if code in UNBLOCK_CLAUSE},
                         key=byte_order_key)
        return "unblock", clauses
    return "clear", []


def decide_installation(inst: Installation, ctx: Context, shared: list[MemberAssessment]) -> Decision:
    findings = all_findings(inst, ctx, shared)
    outcome, clauses = decide_outcome(findings)
    return Decision(
        source=inst.source,
        installation_id=inst.installation_id,
        group_id=inst.group_id(),
        outcome=outcome,
        clauses=clauses,
        reasons=sorted(findings, key=byte_order_key),
        mpxns=sorted({canon for _, canon in inst.mpxns()}, key=byte_order_key),
    )


# ---------------------------------------------------------------------------
# The what-if policy "only-communicating" (§6.4)
# ---------------------------------------------------------------------------

def finding_dup_only_communicating(shared: list[MemberAssessment]) -> bool:
    """DUP_ONLY_COMMUNICATING (§6.4): "an installation that shares at least one MPxN
    and has neither DUP_NOT_COMMUNICATING nor DUP_OTHER_COMMUNICATING gets
    DUP_ONLY_COMMUNICATING (kind unblock, clause alt-4.1C); unknown communication
    still counts against every member, as in §6.1" (the two findings already say so).
    `shared` holds its assessment in every shared MPxN it is a member of."""
    if not shared:
        return False
    return not any(DUP_NOT_COMMUNICATING in a.findings or DUP_OTHER_COMMUNICATING in a.findings
                   for a in shared)


def whatif_findings(inst: Installation, ctx: Context, shared: list[MemberAssessment]) -> set[str]:
    """§6.4: "the findings are DCC's (§6.1), less DUP_NOT_LAST_INSTALLED,
    DUP_NO_SINGLE_LAST and DUP_RESOLVED", and DUP_ONLY_COMMUNICATING where it holds."""
    found = all_findings(inst, ctx, shared) - {DUP_NOT_LAST_INSTALLED, DUP_NO_SINGLE_LAST, DUP_RESOLVED}
    if finding_dup_only_communicating(shared):
        found.add(DUP_ONLY_COMMUNICATING)
    return found


@dataclass
class WhatIfDecision:
    decision: Decision       # under DCC's rule
    outcome: str             # under the policy
    clauses: list[str]
    reasons: list[str]
    held_back_by: list[str]  # which of DUP_NOT_LAST_INSTALLED / DUP_NO_SINGLE_LAST DCC's rule found


def decide_whatif(inst: Installation, ctx: Context, shared: list[MemberAssessment]) -> WhatIfDecision:
    decision = decide_installation(inst, ctx, shared)
    findings = whatif_findings(inst, ctx, shared)
    outcome, clauses = decide_outcome(findings)
    held = [c for c in (DUP_NOT_LAST_INSTALLED, DUP_NO_SINGLE_LAST) if c in decision.reasons]
    return WhatIfDecision(
        decision=decision,
        outcome=outcome,
        clauses=clauses,
        reasons=sorted(findings, key=byte_order_key),
        held_back_by=sorted(held, key=byte_order_key),
    )


def whatif_table(whatifs: list[WhatIfDecision]) -> list[list[str]]:
    """§6.4: "one row per SMETS1 installation whose outcome under the policy differs
    from its outcome under DCC's rule, sorted as decisions.csv"."""
    changed = [w for w in whatifs if w.outcome != w.decision.outcome]
    changed.sort(key=lambda w: (byte_order_key(w.decision.source), byte_order_key(w.decision.installation_id)))
    return [
        [w.decision.source, w.decision.installation_id, w.decision.group_id, w.decision.outcome,
         w.outcome, ";".join(w.clauses), ";".join(w.reasons), ";".join(w.held_back_by),
         ";".join(w.decision.mpxns)]
        for w in changed
    ]


def whatif_summary(whatifs: list[WhatIfDecision]) -> dict:
    """§6.4: "the policy name, counts by whatif outcome over every SMETS1
    installation, and the number of changed installations by (outcome ->
    whatif_outcome) and by held_back_by code" (key names as README.md documents them:
    every outcome and both codes listed, only the pairs that occur)."""
    outcomes = {o: 0 for o in ("unblock", "exclude", "review", "clear")}
    by_pair: dict[str, int] = {}
    by_held = {DUP_NOT_LAST_INSTALLED: 0, DUP_NO_SINGLE_LAST: 0}
    changed = 0
    for w in whatifs:
        outcomes[w.outcome] += 1
        if w.outcome == w.decision.outcome:
            continue
        changed += 1
        pair = f"{w.decision.outcome}->{w.outcome}"
        by_pair[pair] = by_pair.get(pair, 0) + 1
        for code in w.held_back_by:
            by_held[code] += 1
    return {
        "policy": WHAT_IF_ONLY_COMMUNICATING,
        "outcomes": outcomes,
        "changed": changed,
        "changed_by_outcome": by_pair,
        "changed_by_held_back_by": by_held,
    }


def assert_only_communicating_invariant(whatifs: list[WhatIfDecision]) -> None:
    """§6.4: "no MPxN is carried by two installations that both get
    DUP_ONLY_COMMUNICATING"."""
    holder: dict[str, str] = {}
    for w in whatifs:
        if DUP_ONLY_COMMUNICATING not in w.reasons:
            continue
        for mpxn in w.decision.mpxns:
            assert mpxn not in holder, f"{mpxn}: DUP_ONLY_COMMUNICATING twice"
            holder[mpxn] = w.decision.installation_id


# ---------------------------------------------------------------------------
# Output (§7 and ARCHITECTURE.md ("Readings of the spec"))
# ---------------------------------------------------------------------------

def csv_field(value: str) -> str:
    """Minimal RFC 4180 quoting: quote only a field holding `,`, `"`, CR or LF."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    """UTF-8 without BOM, LF line ends, header always written."""
    lines = [",".join(csv_field(v) for v in header)]
    lines += [",".join(csv_field(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


def decisions_table(decisions: list[Decision]) -> list[list[str]]:
    """§7: one row per SMETS1 installation, sorted by source then installation_id
    (byte order, after trimming); clauses, reasons, mpxns `;`-joined and sorted."""
    ordered = sorted(decisions, key=lambda d: (byte_order_key(d.source), byte_order_key(d.installation_id)))
    return [
        [d.source, d.installation_id, d.group_id, d.outcome,
         ";".join(d.clauses), ";".join(d.reasons), ";".join(d.mpxns)]
        for d in ordered
    ]


def duplicates_table(assessments: list[MemberAssessment], ctx: Context) -> list[list[str]]:
    """ARCHITECTURE.md ("Readings of the spec"): one row per (shared MPxN, member installation), sorted by mpxn
    (canonical text, byte order), then source, then installation_id."""
    rows = []
    for a in assessments:
        inst = a.member.inst
        last = last_communication(inst)
        parties = set()
        for meter in a.member.carrying_meters:
            entry = ctx.registry.get(meter.supplier_id) if meter.supplier_id != "" else None
            if entry is not None:
                parties.add(entry.party_id)
        rows.append([
            a.mpxn[1],
            a.mpxn[0],
            inst.source,
            inst.installation_id,
            format_day_number(a.member.install_day) if a.member.install_day is not None else "",
            format_day_number(last) if last is not None else "",
            a.member.comm,
            a.last_installed,
            ";".join(sorted(parties, key=byte_order_key)),
        ])
    rows.sort(key=lambda r: (byte_order_key(r[0]), byte_order_key(r[2]), byte_order_key(r[3])))
    return rows


FINDINGS_HEADER = ["source", "installation_id", "finding", "file", "line", "column", "value"]


def findings_table(installations: dict[tuple[str, str], Installation], ctx: Context) -> list[list[str]]:
    """findings.csv (issue 13): one row per value that caused a finding, for every
    installation, SMETS2 included; file as given, physical line, the column as its
    header writes it, the raw value trimmed. The rules are the finding_* functions'
    above, row by row: DUPLICATE_GUID every row whose GUID is on another distinct
    accepted row; REPEATED_MPXN every meter carrying the repeated MPxN; INVALID_DATE
    one row per unparseable column; FUTURE_COMMS every last_comms_at after A. Sorted
    by source, installation_id, finding, file, line, column (byte order)."""
    rows = []
    for inst in installations.values():
        carried = [r.mpxn for r in inst.meters if r.mpxn is not None]
        for r in inst.rows:
            def add(code: str, column: str, value: str) -> None:
                rows.append([inst.source, inst.installation_id, code, display_path(r.file),
                             r.line, r.spelled[column], value])
            if r.guid is not None and ctx.guid_row_count[r.guid] > 1:
                add("DUPLICATE_GUID", "device_id", r.device_id)
            if r.guid is None:
                add("INVALID_GUID", "device_id", r.device_id)
            if r.is_meter:
                if r.mpxn_text == "":
                    add("MISSING_MPXN", "mpxn", "")
                elif r.mpxn is None:
                    add("INVALID_MPAN" if r.device_type == ESME else "INVALID_MPRN", "mpxn", r.mpxn_text)
                if r.supplier_id == "" or r.supplier_id not in ctx.registry:
                    add("UNKNOWN_SUPPLIER", "supplier_id", r.raw_supplier_id)
                if r.mpxn is not None and carried.count(r.mpxn) > 1:
                    add("REPEATED_MPXN", "mpxn", r.mpxn_text)
            if parse_date(r.installed_on) is None:
                add("INVALID_DATE", "installed_on", r.installed_on)
            if r.last_comms_at != "":
                day = parse_date(r.last_comms_at)
                if day is None:
                    add("INVALID_DATE", "last_comms_at", r.last_comms_at)
                elif ctx.as_of.is_future(day):
                    add("FUTURE_COMMS", "last_comms_at", r.last_comms_at)
    rows.sort(key=lambda r: (byte_order_key(r[0]), byte_order_key(r[1]), r[2], byte_order_key(r[3]),
                             r[4], byte_order_key(r[5])))
    return [r[:4] + [str(r[4])] + r[5:] for r in rows]


def display_path(path: str) -> str:
    """The path as given on the command line, as UTF-8 text (lossy for odd bytes)."""
    return os.fsencode(path).decode("utf-8", "replace")


def rejects_table(rejects: list[Reject]) -> list[list[str]]:
    """ARCHITECTURE.md ("Readings of the spec"): file (as given), line, reason, raw; sorted by file (byte order)
    then line."""
    ordered = sorted(rejects, key=lambda r: (os.fsencode(r.file), r.line))
    return [[display_path(r.file), str(r.line), r.reason, r.raw] for r in ordered]


DECISIONS_HEADER = ["source", "installation_id", "group_id", "outcome", "clauses", "reasons", "mpxns"]
DUPLICATES_HEADER = ["mpxn", "kind", "source", "installation_id", "installed_on", "last_comms_at",
                     "communicating", "last_installed", "party_id"]
REJECTS_HEADER = ["file", "line", "reason", "raw"]
WHATIF_HEADER = ["source", "installation_id", "group_id", "outcome", "whatif_outcome", "whatif_clauses",
                 "whatif_reasons", "held_back_by", "mpxns"]


# ---------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------

@dataclass
class SweepResult:
    rows_read: int
    accepted: int
    rejected: int
    duplicate_rows: int
    files: dict[str, bytes]  # output file name -> content


def run_sweep(inventory_paths: list[str], suppliers_path: str, as_of: AsOf,
              what_if: str | None = None) -> SweepResult:
    """Everything between reading the inputs and writing the outputs. Raises Refusal."""
    registry = load_registry(suppliers_path)
    loaded = [load_inventory(path) for path in inventory_paths]

    rows_read = sum(f.rows_read for f in loaded)
    rejects = [r for f in loaded for r in f.rejects]
    all_accepted = [row for f in loaded for row in f.accepted]
    distinct = collapse_identical_rows(all_accepted)
    duplicate_rows = len(all_accepted) - len(distinct)
    assert rows_read == len(distinct) + len(rejects) + duplicate_rows  # §5 accounting

    guid_row_count: dict[str, int] = {}
    for row in distinct:
        if row.guid is not None:
            guid_row_count[row.guid] = guid_row_count.get(row.guid, 0) + 1
    ctx = Context(as_of=as_of, registry=registry, guid_row_count=guid_row_count)

    installations = group_installations(distinct)
    assessments = assess_duplicate_groups(installations, as_of)
    shared_by_installation: dict[tuple[str, str], list[MemberAssessment]] = {}
    for a in assessments:
        shared_by_installation.setdefault(a.member.inst.key, []).append(a)

    # §6: "The sweep classifies every SMETS1 installation. SMETS2 installations are
    # evidence: they take part in duplicate groups but receive no decision."
    decisions = [
        decide_installation(inst, ctx, shared_by_installation.get(key, []))
        for key, inst in installations.items()
        if not inst.is_smets2
    ]

    files = {
        "decisions.csv": csv_bytes(DECISIONS_HEADER, decisions_table(decisions)),
        "duplicates.csv": csv_bytes(DUPLICATES_HEADER, duplicates_table(assessments, ctx)),
        "rejects.csv": csv_bytes(REJECTS_HEADER, rejects_table(rejects)),
        "findings.csv": csv_bytes(FINDINGS_HEADER, findings_table(installations, ctx)),
    }
    if what_if == WHAT_IF_ONLY_COMMUNICATING:
        whatifs = [
            decide_whatif(inst, ctx, shared_by_installation.get(key, []))
            for key, inst in installations.items()
            if not inst.is_smets2
        ]
        assert_only_communicating_invariant(whatifs)
        files["whatif.csv"] = csv_bytes(WHATIF_HEADER, whatif_table(whatifs))
        files["what_if.json"] = (json.dumps(whatif_summary(whatifs), indent=2, sort_keys=True)
                                 + "\n").encode("utf-8")
    return SweepResult(rows_read, len(distinct), len(rejects), duplicate_rows, files)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

USAGE = ("usage: reference_sweep.py --inventory F [--inventory F ...] --suppliers F "
         "--as-of YYYY-MM-DD [--window-days N] [--what-if only-communicating] --out DIR")


def parse_args(argv: list[str]) -> dict:
    """A tiny explicit parser (argparse accepts abbreviations and odd integers)."""
    options: dict = {"inventory": [], "suppliers": None, "as_of": None, "window_days": "30", "out": None,
                     "what_if": None}
    names = {"--inventory": "inventory", "--suppliers": "suppliers", "--as-of": "as_of",
             "--window-days": "window_days", "--out": "out", "--what-if": "what_if"}
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
    if options["what_if"] is not None and options["what_if"] not in WHAT_IF_POLICIES:
        raise Refusal(f"--what-if '{options['what_if']}' is not a policy ({', '.join(WHAT_IF_POLICIES)})")
    return options


def parse_as_of(options: dict) -> AsOf:
    """Appendix: --as-of is YYYY-MM-DD; --window-days is 0 or more."""
    day = parse_date_only(options["as_of"])
    if day is None:
        raise Refusal(f"--as-of '{options['as_of']}' is not a valid YYYY-MM-DD date")
    window_text = options["window_days"]
    if not is_ascii_digits(window_text):
        raise Refusal(f"--window-days '{window_text}' is not a whole number of days (0 or more)")
    return AsOf(day=day, window=int(window_text))


def main(argv: list[str]) -> int:
    try:
        options = parse_args(argv)
        as_of = parse_as_of(options)
        result = run_sweep(options["inventory"], options["suppliers"], as_of, options["what_if"])
    except Refusal as err:
        print(f"reference_sweep: refused: {err}", file=sys.stderr)
        return 2
    out_dir = options["out"]
    os.makedirs(out_dir, exist_ok=True)
    for name, content in result.files.items():
        with open(os.path.join(out_dir, name), "wb") as handle:
            handle.write(content)
    print(f"rows_read={result.rows_read} accepted={result.accepted} "
          f"rejected={result.rejected} duplicate_rows={result.duplicate_rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
