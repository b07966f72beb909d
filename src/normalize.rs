//! Normalisation: raw field bytes → canonical, fixed-size identifiers and dates.
//!
//! Takes the trimmed bytes of one field and hands back a `Copy` value that fits in a
//! machine word: an [`Mpan`] core, an [`Mprn`] and a [`Guid`] are each a `u64`, a date
//! is a [`Day`] number. Nothing here allocates, so `ingest` calls it once per field on
//! mapped memory. It implements SPEC §4 and the Appendix's "Identifiers and dates"
//! exactly; it does not decide what an invalid value *means* — that is `resolve`'s job
//! (an invalid MPAN is a finding, not an error).

use std::fmt;

/// SPEC's "ASCII whitespace": space, tab, LF, VT, FF and CR. (`u8::is_ascii_whitespace`
/// leaves out VT, so it is not used anywhere in the crate.)
#[inline]
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// Trims SPEC's ASCII whitespace from both ends.
#[inline]
pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_space(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_space(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// Case-insensitive (ASCII only) equality of two byte strings.
#[inline]
pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Copies the bytes of `raw` that `keep` accepts into `buf`; `None` if they do not fit.
#[inline]
fn filtered<'b>(raw: &[u8], buf: &'b mut [u8], keep: impl Fn(u8) -> bool) -> Option<&'b [u8]> {
    let mut n = 0;
    for &b in raw {
        if keep(b) {
            *buf.get_mut(n)? = b;
            n += 1;
        }
    }
    Some(&buf[..n])
}

/// Parses a run of ASCII digits (and nothing else) as a number; `None` on any other byte.
#[inline]
fn digits_value(s: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// An electricity meter point's 13-digit core: distributor id, 10 digits, check digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mpan(u64);

impl Mpan {
    const WEIGHTS: [u64; 12] = [3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43];

    /// The check digit of an MPAN core's first 12 digits (SPEC §4: the digits times 3, 5,
    /// 7, 13, 17, 19, 23, 29, 31, 37, 41, 43, summed, mod 11, mod 10). `None` unless
    /// `first12` is 12 ASCII digits.
    pub fn check_digit(first12: &[u8]) -> Option<u8> {
        if first12.len() != 12 || !first12.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let sum: u64 = first12
            .iter()
            .zip(Self::WEIGHTS)
            .map(|(&d, w)| u64::from(d - b'0') * w)
            .sum();
        Some((sum % 11 % 10) as u8)
    }

    /// Normalises an MPAN as SPEC §4 says: drop ASCII whitespace and `-`; a value of 21
    /// characters keeps its last 13 (the supplementary 8 are not validated); the core
    /// must be 13 ASCII digits whose check digit holds. `None` when it is not a valid MPAN.
    pub fn parse(raw: &[u8]) -> Option<Mpan> {
        // The common spelling, a bare 13-digit core, needs no cleaning.
        if let Ok(core) = <&[u8; 13]>::try_from(raw) {
            if core.iter().all(u8::is_ascii_digit) {
                return Self::from_checked_core(core);
            }
        }
        // 21 characters of up to 4 UTF-8 bytes each fit in 84 bytes.
        let mut buf = [0u8; 84];
        let clean = filtered(raw, &mut buf, |b| !is_space(b) && b != b'-')?;
        let core = if clean.is_ascii() {
            match clean.len() {
                13 => clean,
                21 => &clean[8..],
                _ => return None,
            }
        } else {
            // Non-ASCII supplementary data: "21 characters" counts characters, not bytes.
            let text = std::str::from_utf8(clean).ok()?;
            if text.chars().count() != 21 {
                return None;
            }
            let (cut, _) = text.char_indices().nth(8)?;
            &clean[cut..]
        };
        let core = <&[u8; 13]>::try_from(core).ok()?;
        if !core.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Self::from_checked_core(core)
    }

    /// The MPAN of 13 ASCII digits, if its check digit holds.
    #[inline]
    fn from_checked_core(core: &[u8; 13]) -> Option<Mpan> {
        let mut sum = 0;
        let mut value = 0;
        for (&d, w) in core.iter().zip(Self::WEIGHTS) {
            let d = u64::from(d - b'0');
            sum += d * w;
            value = value * 10 + d;
        }
        let check = u64::from(core[12] - b'0');
        (sum % 11 % 10 == check).then_some(Mpan(value * 10 + check))
    }

    /// Builds an MPAN from a 13-digit core value without checking it (generators, tests).
    pub fn from_core_unchecked(core: u64) -> Mpan {
        Mpan(core)
    }

    pub fn core(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Mpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:013}", self.0)
    }
}

/// A gas meter point reference: 6 to 10 digits without leading zeros, the last two
/// being check digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mprn(u64);

impl Mprn {
    /// Normalises an MPRN as SPEC §4 and the Appendix say: drop ASCII whitespace, then
    /// leading zeros (`-` is *not* removed); 6 to 10 ASCII digits must remain, and the
    /// weighted sum of the first n-2 digits mod 11, as two digits, must equal the last two.
    pub fn parse(raw: &[u8]) -> Option<Mprn> {
        // The common spelling, the bare digits, needs no cleaning.
        if (6..=10).contains(&raw.len()) && raw[0] != b'0' && raw.iter().all(u8::is_ascii_digit) {
            return Self::from_checked_digits(raw);
        }
        // Streams the cleaning so that any number of leading zeros is accepted: whitespace
        // is dropped everywhere, zeros only before the first significant byte.
        let mut buf = [0u8; 10];
        let mut n = 0;
        for &b in raw {
            if is_space(b) || (n == 0 && b == b'0') {
                continue;
            }
            *buf.get_mut(n)? = b;
            n += 1;
        }
        let digits = &buf[..n];
        if !(6..=10).contains(&n) || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Self::from_checked_digits(digits)
    }

    /// The MPRN of 6 to 10 ASCII digits (the first not `0`), if its check digits hold.
    #[inline]
    fn from_checked_digits(digits: &[u8]) -> Option<Mprn> {
        let n = digits.len();
        let sum: u64 = digits[..n - 2]
            .iter()
            .enumerate()
            .map(|(i, &d)| u64::from(d - b'0') * (n - 2 - i) as u64)
            .sum();
        let check = u64::from(digits[n - 2] - b'0') * 10 + u64::from(digits[n - 1] - b'0');
        if sum % 11 != check {
            return None;
        }
        digits_value(digits).map(Mprn)
    }

    pub fn value(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Mprn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why `raw` is neither a valid MPAN nor a valid MPRN (SPEC §4), in words a supplier can
/// act on: the check digit that fails and the one the digits give, or the length or
/// characters that rule both readings out. Read as an MPAN when, cleaned, it has an
/// MPAN's 13 or 21 characters; else as an MPRN. Meant for values that neither
/// [`Mpan::parse`] nor [`Mprn::parse`] accepts.
pub fn mpxn_problem(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mpan: String = text
        .chars()
        .filter(|&c| !(c.is_ascii() && (is_space(c as u8) || c == '-')))
        .collect();
    let chars = mpan.chars().count();
    if chars == 13 || chars == 21 {
        let core: String = mpan.chars().skip(chars - 13).collect();
        let bytes = core.as_bytes();
        return match Mpan::check_digit(&bytes[..12.min(bytes.len())]) {
            Some(expected) if bytes.len() == 13 && bytes[12].is_ascii_digit() => format!(
                "MPAN check digit fails: the core {core} ends in {}, its first 12 digits give {expected}",
                bytes[12] as char
            ),
            _ => format!("MPAN core {core} is not 13 digits"),
        };
    }
    let mprn: String = text
        .chars()
        .filter(|&c| !(c.is_ascii() && is_space(c as u8)))
        .collect::<String>()
        .trim_start_matches('0')
        .to_string();
    if mprn.is_empty() {
        return "no digits other than zeros".to_string();
    }
    if !mprn.bytes().all(|b| b.is_ascii_digit()) {
        return format!(
            "not an MPAN (13 or 21 characters, {chars} here) and not an MPRN (digits only)"
        );
    }
    let n = mprn.len();
    if !(6..=10).contains(&n) {
        return format!(
            "{n} significant digits: an MPRN has 6 to 10, an MPAN core 13 (or 21 characters with the supplementary data)"
        );
    }
    let d = mprn.as_bytes();
    let sum: u64 = d[..n - 2]
        .iter()
        .enumerate()
        .map(|(i, &b)| u64::from(b - b'0') * (n - 2 - i) as u64)
        .sum();
    format!(
        "MPRN check digits fail: {mprn} ends in {}, its first {} digits give {:02}",
        &mprn[n - 2..],
        n - 2,
        sum % 11
    )
}

/// Which kind of meter point a key names. An MPAN and an MPRN never match, even with
/// equal digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MpxnKind {
    Mpan,
    Mprn,
}

impl MpxnKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MpxnKind::Mpan => "MPAN",
            MpxnKind::Mprn => "MPRN",
        }
    }
}

/// An MPAN or an MPRN in one `u64`: the top bit says which, the rest is the value
/// (an MPAN core is below 10^13 < 2^44). Zero is never a valid key, so `0` can stand
/// for "no key" in packed rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MpxnKey(u64);

impl MpxnKey {
    const MPAN_BIT: u64 = 1 << 63;

    pub fn mpan(m: Mpan) -> MpxnKey {
        MpxnKey(m.0 | Self::MPAN_BIT)
    }

    /// The key of the MPAN whose 13-digit core has this value (no check digit test):
    /// for range bounds over sorted keys.
    pub fn mpan_core(value: u64) -> MpxnKey {
        MpxnKey(value | Self::MPAN_BIT)
    }

    pub fn mprn(m: Mprn) -> MpxnKey {
        // A valid MPRN has at least 6 significant digits, so it is never 0.
        MpxnKey(m.0)
    }

    pub fn kind(self) -> MpxnKind {
        if self.0 & Self::MPAN_BIT != 0 {
            MpxnKind::Mpan
        } else {
            MpxnKind::Mprn
        }
    }

    pub fn to_raw(self) -> u64 {
        self.0
    }

    /// Inverse of [`MpxnKey::to_raw`]; `None` for the "no key" value 0.
    pub fn from_raw(raw: u64) -> Option<MpxnKey> {
        (raw != 0).then_some(MpxnKey(raw))
    }

    /// The canonical text (as `Display` writes it) in a fixed buffer, for hot paths
    /// that must not allocate per key.
    pub fn text(self) -> MpxnText {
        let (mut value, min_digits) = match self.kind() {
            MpxnKind::Mpan => (self.0 & !Self::MPAN_BIT, 13),
            MpxnKind::Mprn => (self.0, 1),
        };
        let mut digits = [0u8; 20];
        let mut n = 0;
        while value > 0 || n < min_digits {
            digits[19 - n] = b'0' + (value % 10) as u8;
            value /= 10;
            n += 1;
        }
        let mut buf = [0u8; 20];
        buf[..n].copy_from_slice(&digits[20 - n..]);
        MpxnText { buf, len: n as u8 }
    }
}

/// An MPxN's canonical text without a heap allocation; orders as the text does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MpxnText {
    buf: [u8; 20],
    len: u8,
}

impl MpxnText {
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

impl Ord for MpxnText {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl PartialOrd for MpxnText {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for MpxnKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            MpxnKind::Mpan => Mpan(self.0 & !Self::MPAN_BIT).fmt(f),
            MpxnKind::Mprn => Mprn(self.0).fmt(f),
        }
    }
}

/// A device's EUI-64. Never zero: the all-zero GUID is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Guid(u64);

impl Guid {
    /// Normalises a GUID: drop `-`, `:` and ASCII whitespace; exactly 16 hex digits must
    /// remain, not all zero.
    pub fn parse(raw: &[u8]) -> Option<Guid> {
        // The two common spellings need no cleaning: DCC's `00-0D-6F-00-00-12-34-56` and
        // the bare 16 digits. Anything else (or a non-hex byte in them) takes the general
        // path below, which gives the same answer for these spellings.
        let fast = match raw.len() {
            23 if raw.chunks(3).all(|p| p.len() == 2 || p[2] == b'-') => {
                hex_pairs(raw.chunks(3).map(|p| [p[0], p[1]]))
            }
            16 => hex_pairs(raw.chunks_exact(2).map(|p| [p[0], p[1]])),
            _ => None,
        };
        if let Some(v) = fast {
            return (v != 0).then_some(Guid(v));
        }
        let mut buf = [0u8; 16];
        let clean = filtered(raw, &mut buf, |b| !is_space(b) && b != b'-' && b != b':')?;
        if clean.len() != 16 {
            return None;
        }
        let v = hex_pairs(clean.chunks_exact(2).map(|p| [p[0], p[1]]))?;
        (v != 0).then_some(Guid(v))
    }

    pub fn from_u64(v: u64) -> Option<Guid> {
        (v != 0).then_some(Guid(v))
    }

    pub fn to_u64(self) -> u64 {
        self.0
    }
}

/// The value of eight pairs of ASCII hex digits (either case), most significant first;
/// `None` on any other byte.
#[inline]
fn hex_pairs(pairs: impl Iterator<Item = [u8; 2]>) -> Option<u64> {
    let mut v: u64 = 0;
    for [hi, lo] in pairs {
        let (hi, lo) = (HEX[usize::from(hi)], HEX[usize::from(lo)]);
        if (hi | lo) & NOT_HEX != 0 {
            return None;
        }
        v = (v << 8) | u64::from(hi << 4 | lo);
    }
    Some(v)
}

/// Not a hex digit in [`HEX`]: the high bit set, so an OR of two entries shows it.
const NOT_HEX: u8 = 0x80;

/// The value of each byte as an ASCII hex digit, or [`NOT_HEX`].
static HEX: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

impl fmt::Display for Guid {
    /// DCC's spelling: upper case, a hyphen every two digits (`00-0D-6F-00-00-12-34-56`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0.to_be_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// A calendar date as a day number (days since 1970-01-01, proleptic Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i32);

impl Day {
    /// Day number of a civil date (Howard Hinnant's `days_from_civil`); the caller has
    /// checked that the date exists.
    pub fn from_ymd(y: i32, m: u32, d: u32) -> Day {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = m as i32;
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + d as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Day(era * 146_097 + doe - 719_468)
    }

    /// The civil date of this day number (inverse of [`Day::from_ymd`]).
    ///
    /// Total over every `i32` (in `i64` arithmetic): a day number read from a damaged
    /// or crafted index cannot overflow it (found by fuzzing).
    pub fn ymd(self) -> (i32, u32, u32) {
        let z = i64::from(self.0) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        // |day| < 2^31 days is under 6 million years: the year fits an i32.
        let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
        (y, m, d)
    }

    /// Today's UTC date from the system clock.
    pub fn today_utc() -> Day {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Day((secs / 86_400) as i32)
    }

    /// Parses a date field: `YYYY-MM-DD`, or an RFC 3339 timestamp
    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` whose UTC calendar date is taken
    /// (`T`/`t`, `Z`/`z`; seconds 00–60). A space separator, a missing offset or missing
    /// seconds do not parse. Input is expected trimmed.
    pub fn parse(s: &[u8]) -> Option<Day> {
        let date = Self::parse_ymd(s.get(..10)?)?;
        let rest = &s[10..];
        if rest.is_empty() {
            return Some(date);
        }
        // THH:MM:SS
        if rest.len() < 9 || !matches!(rest[0], b'T' | b't') || rest[3] != b':' || rest[6] != b':' {
            return None;
        }
        let hour = two_digits(&rest[1..3])?;
        let minute = two_digits(&rest[4..6])?;
        let second = two_digits(&rest[7..9])?;
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let mut tail = &rest[9..];
        if let [b'.', frac @ ..] = tail {
            let n = frac.iter().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            tail = &frac[n..];
        }
        let offset_minutes: i32 = match tail {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let oh = two_digits(&[*h1, *h2])?;
                let om = two_digits(&[*m1, *m2])?;
                if oh > 23 || om > 59 {
                    return None;
                }
                let v = (oh * 60 + om) as i32;
                if *sign == b'-' {
                    -v
                } else {
                    v
                }
            }
            _ => return None,
        };
        // Local time minus the offset gives UTC; only the day can shift (by at most one).
        // A UTC date outside years 0001–9999 is not a date the spec can write: no parse.
        let utc_minutes = (hour * 60 + minute) as i32 - offset_minutes;
        let day = Day(date.0 + utc_minutes.div_euclid(24 * 60));
        (Day::from_ymd(1, 1, 1)..=Day::from_ymd(9999, 12, 31))
            .contains(&day)
            .then_some(day)
    }

    fn parse_ymd(s: &[u8]) -> Option<Day> {
        if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
            return None;
        }
        let year = digits_value(&s[0..4])? as i32;
        // Years run from 0001 (SPEC Appendix): year 0000 is a placeholder, not a date,
        // and a placeholder must never count as a known install date.
        if year == 0 {
            return None;
        }
        let month = two_digits(&s[5..7])?;
        let day = two_digits(&s[8..10])?;
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        Some(Day::from_ymd(year, month, day))
    }
}

fn two_digits(s: &[u8]) -> Option<u32> {
    match s {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
        }
        _ => None,
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// Reads a `dormant` field: `y`, `true`, `1` (any case) are dormant; anything else,
/// empty and unrecognised values included, is not (and is no finding).
pub fn is_dormant(s: &[u8]) -> bool {
    s.eq_ignore_ascii_case(b"y") || s.eq_ignore_ascii_case(b"true") || s == b"1"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpxn_text_is_the_display_text_and_orders_as_text() {
        let keys = [
            MpxnKey::mpan(Mpan(12)),
            MpxnKey::mpan(Mpan(1_234_567_890_123)),
            MpxnKey::mpan(Mpan(9_999_999_999_999)),
            MpxnKey::mprn(Mprn(123_456)),
            MpxnKey::mprn(Mprn(9_876_543_210)),
            MpxnKey::mprn(Mprn(u64::MAX >> 1)),
        ];
        for k in keys {
            assert_eq!(k.text().as_bytes(), k.to_string().as_bytes());
        }
        for a in keys {
            for b in keys {
                assert_eq!(a.text().cmp(&b.text()), a.to_string().cmp(&b.to_string()));
            }
        }
    }

    /// Computes an MPAN check digit, to build valid test values independently of `parse`.
    fn with_check(first12: &str) -> String {
        let w = [3u32, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43];
        let s: u32 = first12
            .bytes()
            .zip(w)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        format!("{first12}{}", s % 11 % 10)
    }

    #[test]
    fn mpan_valid_core_and_spellings() {
        let core = with_check("140012345678");
        let m = Mpan::parse(core.as_bytes()).expect("valid core");
        assert_eq!(m.to_string(), core);
        // Whitespace and hyphens anywhere are removed.
        let spaced = format!("{} {}-{}", &core[..2], &core[2..6], &core[6..]);
        assert_eq!(Mpan::parse(spaced.as_bytes()), Some(m));
        // A 21-character full MPAN keeps its last 13 characters, whatever the first 8.
        let full = format!("0180123X{core}");
        assert_eq!(Mpan::parse(full.as_bytes()), Some(m));
        let full_spaced = format!("01 801 23X {core}");
        assert_eq!(Mpan::parse(full_spaced.as_bytes()), Some(m));
        // Non-ASCII supplementary characters count as one character each.
        let full_unicode = format!("é180123X{core}");
        assert_eq!(Mpan::parse(full_unicode.as_bytes()), Some(m));
    }

    #[test]
    fn mpan_invalid() {
        let core = with_check("140012345678");
        let last = core.as_bytes()[12] - b'0';
        let wrong = format!("{}{}", &core[..12], (last + 1) % 10);
        assert_eq!(Mpan::parse(wrong.as_bytes()), None, "wrong check digit");
        assert_eq!(Mpan::parse(&core.as_bytes()[..12]), None, "12 digits");
        assert_eq!(
            Mpan::parse(format!("1{core}").as_bytes()),
            None,
            "14 digits"
        );
        assert_eq!(Mpan::parse(b""), None);
        assert_eq!(Mpan::parse(b"14001234567A8"), None, "letter in core");
        assert_eq!(
            Mpan::parse(format!("0180123{core}").as_bytes()),
            None,
            "20 chars"
        );
    }

    #[test]
    fn mprn_valid_and_zero_padded() {
        // SPEC §4's worked example.
        let m = Mprn::parse(b"3938424403").expect("spec example");
        assert_eq!(m.to_string(), "3938424403");
        // Leading zeros and whitespace are removed before the length check.
        assert_eq!(Mprn::parse(b"  003938424403 "), Some(m));
        // A 6-digit MPRN: 1234 → 1·4+2·3+3·2+4·1 = 20, 20 mod 11 = 9 → "09".
        assert_eq!(Mprn::parse(b"123409").map(|m| m.value()), Some(123_409));
        assert_eq!(Mprn::parse(b"000123409").map(|m| m.value()), Some(123_409));
        assert_eq!(
            Mprn::parse(b"0 0000000000 003938424403"),
            Some(m),
            "many zeros"
        );
    }

    #[test]
    fn mprn_invalid() {
        assert_eq!(Mprn::parse(b"3938424404"), None, "wrong check digits");
        assert_eq!(Mprn::parse(b"3938-424403"), None, "hyphen is not removed");
        assert_eq!(Mprn::parse(b"12309"), None, "5 digits");
        assert_eq!(Mprn::parse(b"39384244030"), None, "11 digits");
        assert_eq!(Mprn::parse(b"000000"), None, "all zeros");
        assert_eq!(Mprn::parse(b""), None);
    }

    #[test]
    fn mpan_and_mprn_with_same_digits_never_match() {
        // Find a 10-digit string that is a valid MPRN; its digits as an MPAN are a
        // different key kind, so the two never compare equal.
        let mprn = Mprn::parse(b"3938424403").unwrap();
        let core = with_check("000393842440");
        let mpan = Mpan::parse(core.as_bytes()).unwrap();
        assert_ne!(MpxnKey::mprn(mprn), MpxnKey::mpan(mpan));
        // Even when the numeric values coincide the kind bit keeps them apart.
        let same_value = Mpan::from_core_unchecked(mprn.value());
        assert_ne!(MpxnKey::mprn(mprn), MpxnKey::mpan(same_value));
        assert_eq!(MpxnKey::mprn(mprn).kind(), MpxnKind::Mprn);
        assert_eq!(MpxnKey::mpan(same_value).kind(), MpxnKind::Mpan);
    }

    #[test]
    fn guid_spellings() {
        let g = Guid::parse(b"00-0D-6F-00-00-12-34-56").unwrap();
        assert_eq!(g.to_string(), "00-0D-6F-00-00-12-34-56");
        assert_eq!(Guid::parse(b"000d6f0000123456"), Some(g), "lower case");
        assert_eq!(Guid::parse(b"00:0d:6f:00:00:12:34:56"), Some(g), "colons");
        assert_eq!(Guid::parse(b" 000D 6F00 0012 3456 "), Some(g), "spaces");
    }

    #[test]
    fn guid_spellings_off_the_fast_paths() {
        let g = Guid::parse(b"000D6F0000123456").unwrap();
        // 23 bytes, but not DCC's layout: the general path still reads them.
        assert_eq!(Guid::parse(b"0-00D-6F-00-00-12-34-56"), Some(g));
        assert_eq!(Guid::parse(b"00:0D-6F-00-00-12-34-56"), Some(g));
        assert_eq!(Guid::parse(b"00-0D-6F-00-00-12-34-5\xC3"), None);
        assert_eq!(Guid::parse(b"00-0D-6F-00-00-12-34-5G"), None);
        assert_eq!(Guid::parse(b"00-00-00-00-00-00-00-00"), None);
        assert_eq!(Guid::parse(b"0000000000000000"), None);
        assert_eq!(Guid::parse(b"000d6f000012345\xC3"), None);
        assert_eq!(Guid::parse(b"000d6f00 00123456"), Some(g));
    }

    #[test]
    fn mpan_and_mprn_fast_paths_agree_with_the_general_ones() {
        let core = with_check("140012345678");
        let m = Mpan::parse(core.as_bytes()).unwrap();
        assert_eq!(Mpan::parse(format!(" {core}").as_bytes()), Some(m));
        assert_eq!(m.core().to_string(), core);
        assert_eq!(
            Mprn::parse(b"3938424403").map(|m| m.value()),
            Some(3_938_424_403)
        );
        assert_eq!(Mprn::parse(b"0938424403"), Mprn::parse(b"938424403"));
        assert_eq!(Mprn::parse(b"12345"), None);
    }

    #[test]
    fn guid_invalid() {
        assert_eq!(Guid::parse(b"00-00-00-00-00-00-00-00"), None, "all zero");
        assert_eq!(Guid::parse(b"000D6F000012345"), None, "15 digits");
        assert_eq!(Guid::parse(b"000D6F00001234567"), None, "17 digits");
        assert_eq!(Guid::parse(b"000D6F000012345G"), None, "not hex");
        assert_eq!(Guid::parse(b""), None);
    }

    #[test]
    fn dates() {
        let d = Day::parse(b"2024-02-29").unwrap();
        assert_eq!(d.to_string(), "2024-02-29");
        assert_eq!(Day::parse(b"1970-01-01"), Some(Day(0)));
        assert_eq!(Day::parse(b"2023-02-29"), None, "not a leap year");
        assert_eq!(Day::parse(b"2023-02-30"), None);
        assert_eq!(Day::parse(b"2023-13-01"), None);
        assert_eq!(Day::parse(b""), None);
        assert_eq!(Day::parse(b"2023-1-01"), None);
        assert_eq!(Day::parse(b"20230101"), None);
    }

    #[test]
    fn timestamps_take_their_utc_date() {
        let day = |s: &str| Day::parse(s.as_bytes()).map(|d| d.to_string());
        assert_eq!(day("2024-03-01T10:00:00Z").as_deref(), Some("2024-03-01"));
        assert_eq!(
            day("2024-03-01t10:00:00.123z").as_deref(),
            Some("2024-03-01")
        );
        // An offset that moves the instant across midnight moves the date.
        assert_eq!(
            day("2024-03-01T00:30:00+01:00").as_deref(),
            Some("2024-02-29")
        );
        assert_eq!(
            day("2024-02-29T23:30:00-01:00").as_deref(),
            Some("2024-03-01")
        );
        assert_eq!(day("2023-12-31T23:59:60Z").as_deref(), Some("2023-12-31"));
        assert_eq!(day("2024-03-01 10:00:00Z"), None, "space separator");
        assert_eq!(day("2024-03-01T10:00:00"), None, "no offset");
        assert_eq!(day("2024-03-01T10:00Z"), None, "no seconds");
        assert_eq!(day("2024-03-01T24:00:00Z"), None);
        assert_eq!(day("2024-03-01T10:00:00.Z"), None, "empty fraction");
        assert_eq!(
            day("2024-03-01T10:00:00+0100"),
            None,
            "offset without colon"
        );
        assert_eq!(
            day("0001-01-01T00:30:00+01:00"),
            None,
            "UTC date before year 0001"
        );
        assert_eq!(
            day("0001-01-01T00:30:00-01:00").as_deref(),
            Some("0001-01-01")
        );
        assert_eq!(
            day("9999-12-31T23:30:00-01:00"),
            None,
            "UTC date after year 9999"
        );
        assert_eq!(day("0000-01-01"), None, "year 0000 is a placeholder");
        assert_eq!(day("0000-02-29"), None);
        assert_eq!(day("0000-12-31T23:30:00-01:00"), None);
        assert_eq!(day("0001-01-01").as_deref(), Some("0001-01-01"));
    }

    #[test]
    fn any_day_number_has_a_civil_date() {
        // Damaged or crafted index columns can hold any i32: no overflow, a date out.
        for n in [
            i32::MIN,
            i32::MIN + 1,
            i32::MAX - 719_468,
            i32::MAX - 1,
            i32::MAX,
        ] {
            let (_, m, d) = Day(n).ymd();
            assert!((1..=12).contains(&m) && (1..=31).contains(&d), "{n}");
            let _ = Day(n).to_string();
        }
    }

    #[test]
    fn day_round_trip() {
        for n in [-800_000, -1, 0, 1, 19_000, 2_900_000] {
            let (y, m, d) = Day(n).ymd();
            assert_eq!(Day::from_ymd(y, m, d), Day(n));
        }
    }

    #[test]
    fn dormant_values() {
        for v in ["y", "Y", "true", "TRUE", "1"] {
            assert!(is_dormant(v.as_bytes()), "{v}");
        }
        for v in ["n", "N", "false", "0", "", "yes", "maybe"] {
            assert!(!is_dormant(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn trim_uses_spec_whitespace() {
        assert_eq!(trim(b"\x0B\x0C \tab c\r\n"), b"ab c");
        assert_eq!(trim(b"   "), b"");
        // A non-breaking space is not ASCII whitespace.
        assert_eq!(trim("\u{a0}x".as_bytes()), "\u{a0}x".as_bytes());
    }

    #[test]
    fn mpxn_problems_name_the_failing_check_or_length() {
        let why = |t: &str| {
            assert!(Mpan::parse(t.as_bytes()).is_none() && Mprn::parse(t.as_bytes()).is_none());
            mpxn_problem(t.as_bytes())
        };
        // 1300000000007 is valid; its last digit changed.
        assert_eq!(
            why("1300000000008"),
            "MPAN check digit fails: the core 1300000000008 ends in 8, its first 12 digits give 7"
        );
        assert_eq!(
            why("01-801-100-45-6789-0123-456"),
            "MPAN check digit fails: the core 4567890123456 ends in 6, its first 12 digits give 2"
        );
        assert_eq!(
            why("13000000000A7"),
            "MPAN core 13000000000A7 is not 13 digits"
        );
        // 3938424403 is valid (SPEC §4); its check digits changed.
        assert_eq!(
            why("3938424404"),
            "MPRN check digits fail: 3938424404 ends in 04, its first 8 digits give 03"
        );
        assert_eq!(
            why("00012345"),
            "5 significant digits: an MPRN has 6 to 10, an MPAN core 13 (or 21 characters with the supplementary data)"
        );
        assert!(why("12345678901").starts_with("11 significant digits"));
        assert!(why("ABC").starts_with("not an MPAN (13 or 21 characters, 3 here)"));
        assert_eq!(why("000"), "no digits other than zeros");
    }
}
