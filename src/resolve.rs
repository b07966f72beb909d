//! Resolve: installations and matches → findings → one [`Decision`] per SMETS1 installation.
//!
//! Takes the collapsed installations and what matching found; hands on, for every
//! installation, the set of [`Finding`]s that hold, and for every SMETS1 installation an
//! [`Outcome`] with its clauses (SPEC §6). Each finding of SPEC §6.1 is one variant of
//! [`Finding`], decided in one function here whose doc comment quotes the rule, so this
//! file can be read side by side with the spec. Unknown data always counts *against* an
//! installation: an unparseable or future date never lets anything unblock.
//! SMETS2 installations are evidence only: they join duplicate groups but get no decision.

use rayon::prelude::*;

use crate::ingest::{DateField, MeterKind, MpxnField, Row, NO_GROUP};
use crate::matching::Installations;
use crate::normalize::Day;
use crate::registry::UNKNOWN_PARTY;
use crate::registry::{Registry, SupplierStatus};

/// The kinds of finding, which decide the outcome in this order (SPEC §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindingKind {
    DataIssue,
    Duplicate,
    Review,
    Unblock,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::DataIssue => "data issue",
            FindingKind::Duplicate => "duplicate",
            FindingKind::Review => "review",
            FindingKind::Unblock => "unblock",
        }
    }
}

/// When a finding is decided: from the inventories alone (an index stores it), or
/// against the as-of date (never stored, so a damaged index cannot inject one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decided {
    Stored,
    AsOf,
}

/// A row's rulebook column as [`Finding::what_if`] returns it.
macro_rules! rulebook {
    (Dcc) => {
        None
    };
    ($policy:ident) => {
        Some(WhatIf::$policy)
    };
}

/// Declares [`Finding`] from one table: each row is a variant with its code, kind,
/// clause (an unblock's TMAD clause, else the clause its kind cites), when it is
/// decided, the rulebook it belongs to (`Dcc`: DCC's rule of SPEC §6.1, which every
/// output but `whatif.csv` follows; a [`WhatIf`] policy's name: that policy only, §6.4),
/// and the rule in words. The variants' order is their bit in an index's
/// `inst_findings`: append only.
macro_rules! findings {
    ($($variant:ident, $code:literal, $kind:ident, $clause:expr, $decided:ident, $rulebook:ident, $words:literal;)*) => {
        /// Every finding code of SPEC §6.1, and those of the what-if policies of §6.4.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum Finding {
            $($variant,)*
        }

        impl Finding {
            /// Every finding, in declaration (bit) order.
            pub const ALL: [Finding; [$(Finding::$variant),*].len()] = [$(Finding::$variant),*];

            /// The code written in `reasons`.
            pub const fn code(self) -> &'static str {
                match self {
                    $(Finding::$variant => $code,)*
                }
            }

            pub const fn kind(self) -> FindingKind {
                match self {
                    $(Finding::$variant => FindingKind::$kind,)*
                }
            }

            /// The clause the finding cites when it decides the outcome: 18.12 for a data
            /// issue, 18.13 for a duplicate, the TMAD clause of an unblock, none for review.
            pub const fn clause(self) -> Option<&'static str> {
                match self {
                    $(Finding::$variant => $clause,)*
                }
            }

            /// Whether it is decided from the inventories or against the as-of date.
            pub const fn decided(self) -> Decided {
                match self {
                    $(Finding::$variant => Decided::$decided,)*
                }
            }

            /// The what-if policy whose finding this is (SPEC §6.4), or `None` for DCC's
            /// rule (§6.1). DCC's judgement never holds a policy's finding.
            pub const fn what_if(self) -> Option<WhatIf> {
                match self {
                    $(Finding::$variant => rulebook!($rulebook),)*
                }
            }

            /// The rule, in words (SPEC §6.1, §6.4).
            pub const fn words(self) -> &'static str {
                match self {
                    $(Finding::$variant => $words,)*
                }
            }
        }
    };
}

findings! {
    DuplicateGuid, "DUPLICATE_GUID", DataIssue, Some("18.12"), Stored, Dcc,
        "a device GUID of this installation is on more than one accepted row, in any installation of any source";
    InvalidGuid, "INVALID_GUID", DataIssue, Some("18.12"), Stored, Dcc,
        "a device GUID does not normalise to 16 hex digits (not all zero)";
    MissingMpxn, "MISSING_MPXN", DataIssue, Some("18.12"), Stored, Dcc,
        "a meter (ESME or GSME) has an empty mpxn";
    InvalidMpan, "INVALID_MPAN", DataIssue, Some("18.12"), Stored, Dcc,
        "an ESME's mpxn is not a valid MPAN (13-digit core with a check digit that holds)";
    InvalidMprn, "INVALID_MPRN", DataIssue, Some("18.12"), Stored, Dcc,
        "a GSME's mpxn is not a valid MPRN (6 to 10 digits with check digits that hold)";
    RepeatedMpxn, "REPEATED_MPXN", DataIssue, Some("18.12"), Stored, Dcc,
        "two meters of the installation carry the same MPxN";
    NoMeter, "NO_METER", DataIssue, Some("18.12"), Stored, Dcc,
        "the installation has no ESME and no GSME";
    UnknownSupplier, "UNKNOWN_SUPPLIER", DataIssue, Some("18.12"), Stored, Dcc,
        "a meter's supplier_id is empty or not in the registry (Unable to Identify Responsible Supplier)";
    InvalidDate, "INVALID_DATE", DataIssue, Some("18.12"), Stored, Dcc,
        "an installed_on or last_comms_at does not parse as a date in years 0001-9999";
    FutureComms, "FUTURE_COMMS", DataIssue, Some("18.12"), AsOf, Dcc,
        "a last_comms_at is after the as-of date";
    DupNotLastInstalled, "DUP_NOT_LAST_INSTALLED", Duplicate, Some("18.13"), AsOf, Dcc,
        "for an MPxN it shares, its own install date is unknown, or another member's is strictly later";
    DupNoSingleLast, "DUP_NO_SINGLE_LAST", Duplicate, Some("18.13"), AsOf, Dcc,
        "for an MPxN it shares, it is not beaten but cannot be verified as the single last installed: another member has the same date, or another member's date is unknown";
    DupNotCommunicating, "DUP_NOT_COMMUNICATING", Duplicate, Some("18.13"), AsOf, Dcc,
        "for an MPxN it shares, it is not communicating (or its communication status is unknown)";
    DupOtherCommunicating, "DUP_OTHER_COMMUNICATING", Duplicate, Some("18.13"), AsOf, Dcc,
        "for an MPxN it shares, another member is communicating, or its communication status is unknown";
    DupResolved, "DUP_RESOLVED", Unblock, Some("4.1C"), AsOf, Dcc,
        "it shares MPxNs and, for every one of them, it is the single last installed and the only one communicating";
    DormantSupplierCeased, "DORMANT_SUPPLIER_CEASED", Unblock, Some("4.1A"), Stored, Dcc,
        "a dormant meter's supplier party has ceased trading";
    DormantSupplierNotLive, "DORMANT_SUPPLIER_NOT_LIVE", Unblock, Some("4.1B"), Stored, Dcc,
        "a dormant meter's supplier party is not a live DCC User";
    ActiveSupplierCeased, "ACTIVE_SUPPLIER_CEASED", Review, None, Stored, Dcc,
        "an active (not dormant) meter's supplier party has ceased trading";
    ActiveSupplierNotLive, "ACTIVE_SUPPLIER_NOT_LIVE", Review, None, Stored, Dcc,
        "an active (not dormant) meter's supplier party is not a live DCC User";
    DupOnlyCommunicating, "DUP_ONLY_COMMUNICATING", Unblock, Some("alt-4.1C"), AsOf, OnlyCommunicating,
        "it shares MPxNs and, for every one of them, it is the only one communicating, whatever the install dates (what-if policy only-communicating, never in DCC's outcome)";
}

/// Byte order of two codes, at compile time.
const fn code_less(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

impl Finding {
    /// Every finding in byte order of its code: the order `reasons` lists them in.
    /// Sorted from [`Finding::ALL`] at compile time.
    pub const BY_CODE: [Finding; Finding::ALL.len()] = {
        let mut v = Finding::ALL;
        let mut i = 1;
        while i < v.len() {
            let mut j = i;
            while j > 0 && code_less(v[j].code(), v[j - 1].code()) {
                let t = v[j];
                v[j] = v[j - 1];
                v[j - 1] = t;
                j -= 1;
            }
            i += 1;
        }
        v
    };

    /// The TMAD clause an unblock finding cites.
    pub fn unblock_clause(self) -> Option<&'static str> {
        match self.kind() {
            FindingKind::Unblock => self.clause(),
            _ => None,
        }
    }

    /// The finding with this code, if any.
    pub fn from_code(code: &str) -> Option<Finding> {
        Finding::ALL.into_iter().find(|f| f.code() == code)
    }

    fn bit(self) -> u32 {
        1 << self as u8
    }
}

/// A set of findings, one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FindingSet(u32);

impl FindingSet {
    pub fn insert(&mut self, f: Finding) {
        self.0 |= f.bit();
    }

    pub fn set(&mut self, f: Finding, holds: bool) {
        if holds {
            self.insert(f);
        }
    }

    pub fn remove(&mut self, f: Finding) {
        self.0 &= !f.bit();
    }

    pub fn contains(self, f: Finding) -> bool {
        self.0 & f.bit() != 0
    }

    pub fn union(self, other: FindingSet) -> FindingSet {
        FindingSet(self.0 | other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The raw bits (bit `n` is the finding with discriminant `n`), as the index stores them.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// The set without the findings decided against the as-of date
    /// ([`Decided::AsOf`]): what an index may store.
    pub fn stored_only(self) -> FindingSet {
        let judged: u32 = Finding::ALL
            .iter()
            .filter(|f| f.decided() == Decided::AsOf)
            .map(|f| f.bit())
            .sum();
        FindingSet(self.0 & !judged)
    }

    /// Inverse of [`FindingSet::bits`]; bits that name no finding are dropped.
    pub fn from_bits(bits: u32) -> FindingSet {
        FindingSet(bits & ((1 << Finding::ALL.len()) - 1))
    }

    /// The findings in the set, in byte order of their codes (the order of `reasons`).
    pub fn iter(self) -> impl Iterator<Item = Finding> {
        Finding::BY_CODE
            .into_iter()
            .filter(move |f| self.contains(*f))
    }

    fn any_of_kind(self, kind: FindingKind) -> bool {
        let mask: u32 = Finding::ALL
            .iter()
            .filter(|f| f.kind() == kind)
            .map(|f| f.bit())
            .sum();
        self.0 & mask != 0
    }
}

/// The sweep's judgement parameters: the as-of date `A` and the window `W` in days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsOf {
    pub date: Day,
    pub window_days: u32,
}

/// Whether an installation is communicating as of `A` (SPEC §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CommStatus {
    Communicating,
    NotCommunicating,
    /// A device has an unparseable `last_comms_at` or one after the as-of date: the
    /// engine cannot tell, and never counts it as communicating.
    Unknown,
}

impl CommStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommStatus::Communicating => "yes",
            CommStatus::NotCommunicating => "no",
            CommStatus::Unknown => "unknown",
        }
    }
}

/// What the data says about an installation's communication, before any as-of date.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommsEvidence {
    /// A device has a `last_comms_at` that does not parse.
    pub unreadable: bool,
    /// Latest parseable `last_comms_at` over its devices (future ones included).
    pub last: Option<Day>,
}

/// What resolve knows about one installation before looking across installations, and
/// before any as-of date: the part an index stores.
#[derive(Clone, Copy, Debug)]
pub struct InstallationFacts {
    pub smets2: bool,
    /// Findings decided from its own rows, none of which depend on the as-of date.
    pub findings: FindingSet,
    pub comms: CommsEvidence,
    /// Interned smallest upper-cased non-empty group_id, or [`NO_GROUP`].
    pub group: u32,
}

/// Findings that one row decides on its own, whatever the as-of date (SPEC §6.1,
/// Appendix). `smets1` says whether the row's installation is SMETS1 (supplier status
/// matters there only). FUTURE_COMMS is decided against the as-of date ([`findings_as_of`]).
pub fn row_findings(row: &Row, smets1: bool, registry: &Registry) -> FindingSet {
    let mut f = FindingSet::default();
    // INVALID_GUID: "a device GUID does not normalise".
    f.set(Finding::InvalidGuid, row.guid().is_none());
    // INVALID_DATE: "an installed_on or last_comms_at does not parse" (an empty
    // installed_on does not parse; an empty last_comms_at means "never").
    f.set(
        Finding::InvalidDate,
        row.installed_on() == DateField::Invalid || row.last_comms() == DateField::Invalid,
    );
    let kind = row.meter_kind();
    if kind == MeterKind::None {
        return f;
    }
    // MISSING_MPXN / INVALID_MPAN / INVALID_MPRN: "a meter has an empty mpxn"; "an ESME's
    // mpxn is not a valid MPAN"; "a GSME's mpxn is not a valid MPRN".
    match (row.mpxn(), kind) {
        (MpxnField::Missing, _) => f.insert(Finding::MissingMpxn),
        (MpxnField::Invalid, MeterKind::Esme) => f.insert(Finding::InvalidMpan),
        (MpxnField::Invalid, MeterKind::Gsme) => f.insert(Finding::InvalidMprn),
        _ => {}
    }
    // UNKNOWN_SUPPLIER: "a meter's supplier_id is empty or not in the registry" — on
    // every meter, whatever its MPxN's validity.
    let Some(party) = registry.party(row.party) else {
        debug_assert_eq!(row.party, UNKNOWN_PARTY);
        f.insert(Finding::UnknownSupplier);
        return f;
    };
    // Supplier status (SMETS1 meters only, each with its own `dormant`):
    // TMAD 4.1A/4.1B unblock a dormant meter whose party has ceased trading / is not a
    // live DCC User; an active meter of such a party goes to review.
    if smets1 {
        match (party.status, row.dormant()) {
            (SupplierStatus::CeasedTrading, true) => f.insert(Finding::DormantSupplierCeased),
            (SupplierStatus::CeasedTrading, false) => f.insert(Finding::ActiveSupplierCeased),
            (SupplierStatus::NotLiveUser, true) => f.insert(Finding::DormantSupplierNotLive),
            (SupplierStatus::NotLiveUser, false) => f.insert(Finding::ActiveSupplierNotLive),
            (SupplierStatus::Live, _) => {}
        }
    }
    f
}

/// Collects an installation's communication evidence from its devices' `last_comms_at`.
pub fn comms_evidence(dates: impl Iterator<Item = DateField>) -> CommsEvidence {
    let mut ev = CommsEvidence::default();
    for d in dates {
        match d {
            DateField::None => {}
            DateField::Invalid => ev.unreadable = true,
            DateField::Day(day) => ev.last = ev.last.max(Some(day)),
        }
    }
    ev
}

/// "It is communicating iff that last communication exists and falls within
/// [A - W days, A]"; its status is unknown when any device has an unparseable
/// `last_comms_at` or one after the as-of date (the latest is then after it too).
pub fn communication(ev: CommsEvidence, as_of: AsOf) -> CommStatus {
    match ev.last {
        _ if ev.unreadable => CommStatus::Unknown,
        Some(day) if day > as_of.date => CommStatus::Unknown,
        // i64: a window of up to u32::MAX days reaches back before any i32 day number.
        Some(day) if i64::from(day.0) >= i64::from(as_of.date.0) - i64::from(as_of.window_days) => {
            CommStatus::Communicating
        }
        _ => CommStatus::NotCommunicating,
    }
}

/// What the installations' communication dates say about the as-of date itself: a
/// sweep of last month's extract as of today finds nobody communicating and says
/// nothing, unless these are checked. Counted over installations (their latest
/// parseable `last_comms_at`, as the index holds it for a sweep), SMETS2 ones too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AsOfCheck {
    pub installations: u64,
    /// With a parseable `last_comms_at`.
    pub dated: u64,
    /// ... of which the latest falls after the as-of date.
    pub after: u64,
    /// Communicating within the window ([`communication`]).
    pub communicating: u64,
    /// The latest parseable `last_comms_at` seen.
    pub latest: Option<Day>,
}

impl AsOfCheck {
    /// Counts one installation's communication evidence.
    pub fn add(&mut self, ev: CommsEvidence, as_of: AsOf) {
        self.installations += 1;
        if let Some(day) = ev.last {
            self.dated += 1;
            self.after += u64::from(day > as_of.date);
            self.latest = self.latest.max(Some(day));
        }
        self.communicating += u64::from(communication(ev, as_of) == CommStatus::Communicating);
    }

    pub fn merge(mut self, other: AsOfCheck) -> AsOfCheck {
        self.installations += other.installations;
        self.dated += other.dated;
        self.after += other.after;
        self.communicating += other.communicating;
        self.latest = self.latest.max(other.latest);
        self
    }

    /// Warnings that the as-of date looks wrong (they never change a decision): when no
    /// installation at all is communicating within the window, and when more than 1% of
    /// the dated installations communicated after the as-of date. Each names the latest
    /// `last_comms_at` seen and suggests it as the date.
    pub fn warnings(&self, as_of: AsOf) -> Vec<String> {
        let suggestion = match self.latest {
            Some(day) => format!(
                "the latest last_comms_at in the inventories is {day}: if that is when they \
                 were extracted, sweep with --as-of {day}"
            ),
            None => "no installation has a readable last_comms_at".to_string(),
        };
        let mut out = Vec::new();
        if self.installations > 0 && self.communicating == 0 {
            out.push(format!(
                "no installation is communicating within the {}-day window before {}; {suggestion}",
                as_of.window_days, as_of.date
            ));
        }
        if self.after * 100 > self.dated {
            out.push(format!(
                "{} of {} installations ({:.1}%) last communicated after the as-of date {}: \
                 either the date is earlier than the extract, or those dates are wrong \
                 (FUTURE_COMMS); {suggestion}",
                self.after,
                self.dated,
                self.after as f64 * 100.0 / self.dated as f64,
                as_of.date
            ));
        }
        out
    }
}

/// Computes each installation's own facts, in parallel.
pub fn installation_facts(
    rows: &[Row],
    installations: &Installations,
    smets2_sources: &[bool],
    group_order: &[u32],
    registry: &Registry,
) -> Vec<InstallationFacts> {
    (0..installations.list.len() as u32)
        .into_par_iter()
        .map(|inst| {
            let smets2 = smets2_sources[installations.list[inst as usize].source as usize];
            let mine = installations
                .rows_of(inst)
                .iter()
                .map(|&r| &rows[r as usize]);
            let mut findings = FindingSet::default();
            let mut has_meter = false;
            let mut group = NO_GROUP;
            for row in mine.clone() {
                findings = findings.union(row_findings(row, !smets2, registry));
                has_meter |= row.is_meter();
                if row.group != NO_GROUP
                    && (group == NO_GROUP
                        || group_order[row.group as usize] < group_order[group as usize])
                {
                    group = row.group;
                }
            }
            // NO_METER: "the installation has no ESME and no GSME".
            findings.set(Finding::NoMeter, !has_meter);
            InstallationFacts {
                smets2,
                findings,
                comms: comms_evidence(mine.map(Row::last_comms)),
                group,
            }
        })
        .collect()
}

/// A member's standing for "last installed" in one shared MPxN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastInstalled {
    /// The single last installed.
    Yes,
    /// DUP_NOT_LAST_INSTALLED: own date unknown, or another member's is strictly later.
    No,
    /// DUP_NO_SINGLE_LAST: not beaten, but tied or another member's date unknown.
    Unknown,
}

impl LastInstalled {
    pub fn as_str(self) -> &'static str {
        match self {
            LastInstalled::Yes => "yes",
            LastInstalled::No => "no",
            LastInstalled::Unknown => "unknown",
        }
    }
}

/// One member's evaluation in one shared MPxN (a row of duplicates.csv).
#[derive(Clone, Copy, Debug)]
pub struct MemberVerdict {
    pub installation: u32,
    /// Its install date for the MPxN; `None` when unknown.
    pub installed_on: Option<Day>,
    pub last_installed: LastInstalled,
    pub findings: FindingSet,
}

/// A member of a shared MPxN X, as TMAD 4.1C weighs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupMember {
    pub installation: u32,
    /// Its install date for X ([`member_install_date`]); `None` when unknown.
    pub installed_on: Option<Day>,
    pub comm: CommStatus,
}

/// "A member's install date for X is the `installed_on` of its meter carrying X
/// (unknown if it does not parse)", and "a member with two meters carrying X
/// (REPEATED_MPXN) has an unknown install date for X" (SPEC §6.1): `meters` are the
/// `installed_on` fields of the member's meters that carry X.
pub fn member_install_date(meters: &[DateField]) -> Option<Day> {
    match meters {
        [DateField::Day(day)] => Some(*day),
        _ => None,
    }
}

/// TMAD 4.1C for one shared MPxN X: each member gets
/// - `DUP_NOT_LAST_INSTALLED` when its own install date for X is unknown, or another
///   member's is strictly later;
/// - `DUP_NO_SINGLE_LAST` when it is not beaten but cannot be verified as the single last
///   installed: another member has the same date, or another member's date is unknown;
/// - `DUP_NOT_COMMUNICATING` when it is not communicating (or its status is unknown);
/// - `DUP_OTHER_COMMUNICATING` when another member is communicating, or its status is
///   unknown.
///
/// Both unknowns count against every member, never for one.
pub fn evaluate_group(members: &[GroupMember]) -> Vec<MemberVerdict> {
    members
        .iter()
        .enumerate()
        .map(|(i, member)| {
            let others = || {
                members
                    .iter()
                    .enumerate()
                    .filter(move |(j, _)| *j != i)
                    .map(|(_, m)| m)
            };
            let own_date = member.installed_on;
            let beaten = match own_date {
                None => true,
                Some(d) => others().any(|o| matches!(o.installed_on, Some(od) if od > d)),
            };
            let another_date_unknown_or_equal =
                others().any(|o| o.installed_on.is_none() || o.installed_on == own_date);
            let unverifiable = !beaten && another_date_unknown_or_equal;
            let another_may_communicate = others().any(|o| o.comm != CommStatus::NotCommunicating);
            let mut findings = FindingSet::default();
            findings.set(Finding::DupNotLastInstalled, beaten);
            findings.set(Finding::DupNoSingleLast, unverifiable);
            findings.set(
                Finding::DupNotCommunicating,
                member.comm != CommStatus::Communicating,
            );
            findings.set(Finding::DupOtherCommunicating, another_may_communicate);
            MemberVerdict {
                installation: member.installation,
                installed_on: own_date,
                last_installed: if beaten {
                    LastInstalled::No
                } else if unverifiable {
                    LastInstalled::Unknown
                } else {
                    LastInstalled::Yes
                },
                findings,
            }
        })
        .collect()
}

/// What an installation's shared MPxNs say, gathered over every one of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SharedMpxns {
    /// It is a member of at least one shared MPxN.
    pub shares_any: bool,
    /// The duplicate findings of its verdicts in all of them.
    pub findings: FindingSet,
}

impl SharedMpxns {
    /// Adds the installation's verdict in one more shared MPxN.
    pub fn add(&mut self, verdict: &MemberVerdict) {
        self.shares_any = true;
        self.findings = self.findings.union(verdict.findings);
    }
}

/// DUPLICATE_GUID — "its device GUID (canonical) is on more than one accepted row after
/// collapsing identical rows, in any installation of any source" — and REPEATED_MPXN —
/// "two meters of the installation carry the same MPxN": `matching` counts the rows,
/// this decides.
pub fn matching_findings(guid_on_two_rows: bool, two_meters_share_an_mpxn: bool) -> FindingSet {
    let mut f = FindingSet::default();
    f.set(Finding::DuplicateGuid, guid_on_two_rows);
    f.set(Finding::RepeatedMpxn, two_meters_share_an_mpxn);
    f
}

/// FUTURE_COMMS — "a `last_comms_at` is after the as-of date". `last` is the latest
/// parseable one over the installation's devices.
pub fn future_comms(last: Option<Day>, as_of: AsOf) -> bool {
    last.is_some_and(|day| day > as_of.date)
}

/// DUP_RESOLVED (TMAD 4.1C) — "it shares MPxNs and, for every one of them, it is the
/// single last installed and the only one communicating".
pub fn dup_resolved(shared: SharedMpxns) -> bool {
    shared.shares_any && shared.findings.is_empty()
}

/// An installation's every finding as of a date: its stored findings (those decided
/// as of a date dropped, so stored bits can never inject one), FUTURE_COMMS, the
/// duplicate findings over the MPxNs it shares, and DUP_RESOLVED.
pub fn findings_as_of(
    stored: FindingSet,
    last_comms: Option<Day>,
    shared: SharedMpxns,
    as_of: AsOf,
) -> FindingSet {
    let mut f = stored.stored_only();
    f.set(Finding::FutureComms, future_comms(last_comms, as_of));
    f = f.union(shared.findings);
    f.set(Finding::DupResolved, dup_resolved(shared));
    f
}

/// The outcome of SPEC §6.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    Unblock,
    Exclude,
    Review,
    Clear,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Unblock,
        Outcome::Exclude,
        Outcome::Review,
        Outcome::Clear,
    ];

    /// The outcomes' names in SPEC §6.2 order (`ALL`'s), as the outputs spell them.
    pub const NAMES: [&'static str; 4] = [
        Outcome::Unblock.as_str(),
        Outcome::Exclude.as_str(),
        Outcome::Review.as_str(),
        Outcome::Clear.as_str(),
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Unblock => "unblock",
            Outcome::Exclude => "exclude",
            Outcome::Review => "review",
            Outcome::Clear => "clear",
        }
    }
}

/// An installation's outcome and the clauses it cites.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// Sorted (byte order).
    pub clauses: Vec<&'static str>,
    pub findings: FindingSet,
}

/// The rule of SPEC §6.2 that decides `findings` (the first that applies), with its
/// number and words: what `explain` shows beside the outcome. Derived from the same
/// finding kinds as [`decide`]; a test checks that the two always agree.
pub fn deciding_rule(findings: FindingSet) -> (u8, &'static str) {
    if findings.any_of_kind(FindingKind::DataIssue) {
        (
            1,
            "a data-issue finding holds: exclude, clause 18.12 (TMAD 18.12)",
        )
    } else if findings.any_of_kind(FindingKind::Duplicate) {
        (
            2,
            "no data issue, but a duplicate finding holds: exclude, clause 18.13 (TMAD 18.13)",
        )
    } else if findings.any_of_kind(FindingKind::Review) {
        (
            3,
            "no data issue or duplicate, but a review finding holds: review, no clause",
        )
    } else if findings.any_of_kind(FindingKind::Unblock) {
        (4, "no data issue, duplicate or review finding, and an unblock finding holds: unblock, citing each unblock finding's clause")
    } else {
        (5, "no finding holds: clear")
    }
}

/// One of the four duplicate checks of TMAD 4.1C for one member of one shared MPxN:
/// whether its finding holds (the member fails the check) and why, in words.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckExplained {
    #[serde(serialize_with = "finding_code")]
    pub finding: Finding,
    pub fails: bool,
    pub why: String,
}

fn finding_code<S: serde::Serializer>(f: &Finding, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(f.code())
}

/// Why member `i` of a shared MPxN passes or fails each of the four checks that
/// [`evaluate_group`] applies, in its order: DUP_NOT_LAST_INSTALLED, DUP_NO_SINGLE_LAST,
/// DUP_NOT_COMMUNICATING, DUP_OTHER_COMMUNICATING. `name(j)` names member `j` in the
/// words ("SMSO-BRAVO 00-0D-..."). The same conditions as `evaluate_group`, spelled
/// out (a test checks that both agree on every member of every small group).
pub fn explain_member(
    members: &[GroupMember],
    i: usize,
    name: impl Fn(usize) -> String,
) -> [CheckExplained; 4] {
    let me = members[i];
    let others = || (0..members.len()).filter(move |&j| j != i);
    let date = |d: Option<Day>| d.map_or("unknown".to_string(), |d| d.to_string());
    let later = others().find(
        |&j| matches!((me.installed_on, members[j].installed_on), (Some(d), Some(od)) if od > d),
    );
    let not_last = match (me.installed_on, later) {
        (None, _) => CheckExplained {
            finding: Finding::DupNotLastInstalled,
            fails: true,
            why: "its own install date for this MPxN is unknown (unparseable, or two of its meters carry it)".to_string(),
        },
        (Some(d), Some(j)) => CheckExplained {
            finding: Finding::DupNotLastInstalled,
            fails: true,
            why: format!(
                "another member's install date {} ({}) is later than its own, {d}",
                date(members[j].installed_on),
                name(j)
            ),
        },
        (Some(d), None) => CheckExplained {
            finding: Finding::DupNotLastInstalled,
            fails: false,
            why: format!("no other member's install date is later than its own, {d}"),
        },
    };
    let beaten = not_last.fails;
    let tie_or_unknown = others()
        .find(|&j| members[j].installed_on.is_none() || members[j].installed_on == me.installed_on);
    let no_single_last = match (beaten, tie_or_unknown) {
        (true, _) => CheckExplained {
            finding: Finding::DupNoSingleLast,
            fails: false,
            why: "does not apply: it is already not the last installed (DUP_NOT_LAST_INSTALLED)".to_string(),
        },
        (false, Some(j)) => CheckExplained {
            finding: Finding::DupNoSingleLast,
            fails: true,
            why: match members[j].installed_on {
                None => format!(
                    "another member's install date ({}) is unknown, so it cannot be verified as the single last installed",
                    name(j)
                ),
                Some(d) => format!("another member ({}) was installed on the same date, {d}", name(j)),
            },
        },
        (false, None) => CheckExplained {
            finding: Finding::DupNoSingleLast,
            fails: false,
            why: "every other member's install date is known and earlier: it is the single last installed".to_string(),
        },
    };
    let own_comm = CheckExplained {
        finding: Finding::DupNotCommunicating,
        fails: me.comm != CommStatus::Communicating,
        why: match me.comm {
            CommStatus::Communicating => "it is communicating".to_string(),
            CommStatus::NotCommunicating => "it is not communicating".to_string(),
            CommStatus::Unknown => "its communication status is unknown (a last_comms_at that does not parse, or one after the as-of date), which counts against it".to_string(),
        },
    };
    let talker = others().find(|&j| members[j].comm != CommStatus::NotCommunicating);
    let other_comm = CheckExplained {
        finding: Finding::DupOtherCommunicating,
        fails: talker.is_some(),
        why: match talker {
            None => "no other member is communicating".to_string(),
            Some(j) if members[j].comm == CommStatus::Communicating => {
                format!("another member ({}) is communicating", name(j))
            }
            Some(j) => format!(
                "another member's communication status ({}) is unknown, which counts against every member",
                name(j)
            ),
        },
    };
    [not_last, no_single_last, own_comm, other_comm]
}

/// SPEC §6.2, the first rule that applies:
/// 1. any data-issue finding → exclude, clause 18.12;
/// 2. any duplicate finding → exclude, clause 18.13;
/// 3. any review finding → review, no clause;
/// 4. any unblock finding → unblock, clauses 4.1C, 4.1A, 4.1B as they apply;
/// 5. otherwise → clear.
///
/// A what-if policy's findings are decided by this same rule ([`WhatIf::decide`]):
/// under only-communicating, DUP_ONLY_COMMUNICATING cites `alt-4.1C` in place of
/// DUP_RESOLVED's `4.1C` (SPEC §6.4), through its clause in the finding table.
pub fn decide(findings: FindingSet) -> Decision {
    let (outcome, mut clauses) = if findings.any_of_kind(FindingKind::DataIssue) {
        (Outcome::Exclude, vec!["18.12"])
    } else if findings.any_of_kind(FindingKind::Duplicate) {
        (Outcome::Exclude, vec!["18.13"])
    } else if findings.any_of_kind(FindingKind::Review) {
        (Outcome::Review, vec![])
    } else if findings.any_of_kind(FindingKind::Unblock) {
        (
            Outcome::Unblock,
            findings
                .iter()
                .filter_map(Finding::unblock_clause)
                .collect(),
        )
    } else {
        (Outcome::Clear, vec![])
    };
    clauses.sort_unstable();
    Decision {
        outcome,
        clauses,
        findings,
    }
}

/// A what-if policy (SPEC §6.4): another reading of a TMAD rule, judged beside DCC's
/// and written to `whatif.csv` and `summary.json`'s `what_if` only. DCC's rule stays the
/// outcome of every other output, with or without a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WhatIf {
    /// "The only one communicating": two consultation respondents argued that the only
    /// communicating installation should be migrated even when it was not the last
    /// installed; DCC rejected that for the risk of inadvertent data access (Various 2
    /// §3.3.2). Counting what it would have unblocked shows the risk it would have taken.
    OnlyCommunicating,
}

impl WhatIf {
    /// Every policy.
    pub const ALL: [WhatIf; 1] = [WhatIf::OnlyCommunicating];

    /// Its name on the command line (`--what-if`) and in `summary.json`.
    pub const fn name(self) -> &'static str {
        match self {
            WhatIf::OnlyCommunicating => "only-communicating",
        }
    }

    /// The policy called `name`, if any.
    pub fn from_name(name: &str) -> Option<WhatIf> {
        WhatIf::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The installation's findings under the policy, from its every finding under DCC's
    /// rule ([`findings_as_of`]); nothing else is needed (see [`shares_an_mpxn`]).
    pub fn findings(self, dcc: FindingSet) -> FindingSet {
        match self {
            WhatIf::OnlyCommunicating => only_communicating_findings(dcc),
        }
    }

    /// Which of DCC's findings the policy sets aside that held the installation back:
    /// `held_back_by` in `whatif.csv`, the risk the alternative takes. Under
    /// only-communicating, "which of DUP_NOT_LAST_INSTALLED / DUP_NO_SINGLE_LAST DCC's
    /// rule found" (SPEC §6.4).
    pub fn held_back_by(self, dcc: FindingSet) -> FindingSet {
        match self {
            WhatIf::OnlyCommunicating => {
                let mut held = FindingSet::default();
                for f in [Finding::DupNotLastInstalled, Finding::DupNoSingleLast] {
                    held.set(f, dcc.contains(f));
                }
                held
            }
        }
    }

    /// The installation's decision under DCC's rule and under the policy: both by
    /// [`decide`], the one outcome rule of SPEC §6.2.
    pub fn decide(self, dcc: FindingSet) -> WhatIfDecision {
        WhatIfDecision {
            dcc: decide(dcc),
            policy: decide(self.findings(dcc)),
            held_back_by: self.held_back_by(dcc),
        }
    }
}

/// One installation under DCC's rule and under a what-if policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhatIfDecision {
    pub dcc: Decision,
    pub policy: Decision,
    /// DCC's findings that the policy sets aside ([`WhatIf::held_back_by`]).
    pub held_back_by: FindingSet,
}

impl WhatIfDecision {
    /// Whether the policy's outcome differs from DCC's: a row of `whatif.csv` (SPEC §6.4).
    /// A change of clause alone (`4.1C` → `alt-4.1C`) is no change of outcome.
    pub fn changed(&self) -> bool {
        self.dcc.outcome != self.policy.outcome
    }
}

/// Whether an installation shares an MPxN, read from its findings under DCC's rule:
/// every member of a shared MPxN gets at least one of the four duplicate findings or,
/// passing all of them everywhere, DUP_RESOLVED ([`findings_as_of`]); an installation
/// that shares nothing gets none of them, since they are never taken from storage.
pub fn shares_an_mpxn(dcc: FindingSet) -> bool {
    dcc.any_of_kind(FindingKind::Duplicate) || dcc.contains(Finding::DupResolved)
}

/// DUP_ONLY_COMMUNICATING (what-if only-communicating, clause alt-4.1C) — "an
/// installation that shares at least one MPxN and has neither DUP_NOT_COMMUNICATING nor
/// DUP_OTHER_COMMUNICATING; unknown communication still counts against every member,
/// as in §6.1" (SPEC §6.4). It does: an unknown status gives its own member
/// DUP_NOT_COMMUNICATING and every other member DUP_OTHER_COMMUNICATING
/// ([`evaluate_group`]). Install dates play no part.
pub fn dup_only_communicating(dcc: FindingSet) -> bool {
    shares_an_mpxn(dcc)
        && !dcc.contains(Finding::DupNotCommunicating)
        && !dcc.contains(Finding::DupOtherCommunicating)
}

/// The findings under what-if only-communicating — "the findings are DCC's (§6.1), less
/// DUP_NOT_LAST_INSTALLED, DUP_NO_SINGLE_LAST and DUP_RESOLVED", and
/// DUP_ONLY_COMMUNICATING where [`dup_only_communicating`] holds (SPEC §6.4).
pub fn only_communicating_findings(dcc: FindingSet) -> FindingSet {
    let mut f = dcc;
    for set_aside in [
        Finding::DupNotLastInstalled,
        Finding::DupNoSingleLast,
        Finding::DupResolved,
        // Never in DCC's findings; decided afresh here whatever `dcc` holds.
        Finding::DupOnlyCommunicating,
    ] {
        f.remove(set_aside);
    }
    f.set(Finding::DupOnlyCommunicating, dup_only_communicating(dcc));
    f
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn day(s: &str) -> Option<Day> {
        Day::parse(s.as_bytes())
    }

    const C: CommStatus = CommStatus::Communicating;
    const N: CommStatus = CommStatus::NotCommunicating;
    const U: CommStatus = CommStatus::Unknown;

    fn members(list: &[(u32, Option<Day>, CommStatus)]) -> Vec<GroupMember> {
        list.iter()
            .map(|&(installation, installed_on, comm)| GroupMember {
                installation,
                installed_on,
                comm,
            })
            .collect()
    }

    fn codes(f: FindingSet) -> Vec<&'static str> {
        f.iter().map(Finding::code).collect()
    }

    #[test]
    fn later_and_only_communicating_member_passes() {
        let v = evaluate_group(&members(&[
            (0, day("2020-01-01"), N),
            (1, day("2021-01-01"), C),
        ]));
        assert!(v[1].findings.is_empty());
        assert_eq!(v[1].last_installed, LastInstalled::Yes);
        assert_eq!(
            codes(v[0].findings),
            [
                "DUP_NOT_COMMUNICATING",
                "DUP_NOT_LAST_INSTALLED",
                "DUP_OTHER_COMMUNICATING"
            ]
        );
    }

    #[test]
    fn tie_on_install_date_is_no_single_last() {
        let v = evaluate_group(&members(&[
            (0, day("2021-01-01"), C),
            (1, day("2021-01-01"), N),
        ]));
        assert_eq!(codes(v[0].findings), ["DUP_NO_SINGLE_LAST"]);
        assert_eq!(v[0].last_installed, LastInstalled::Unknown);
    }

    #[test]
    fn unknown_dates_count_against_every_member() {
        // The member with a known, later date cannot be verified as single last.
        let v = evaluate_group(&members(&[(0, None, N), (1, day("2021-01-01"), C)]));
        assert_eq!(
            codes(v[0].findings),
            [
                "DUP_NOT_COMMUNICATING",
                "DUP_NOT_LAST_INSTALLED",
                "DUP_OTHER_COMMUNICATING"
            ]
        );
        assert_eq!(codes(v[1].findings), ["DUP_NO_SINGLE_LAST"]);
        // A beaten member stays DUP_NOT_LAST_INSTALLED only, even beside an unknown date.
        let v = evaluate_group(&members(&[
            (0, day("2019-01-01"), N),
            (1, day("2021-01-01"), N),
            (2, None, N),
        ]));
        assert_eq!(
            codes(v[0].findings),
            ["DUP_NOT_COMMUNICATING", "DUP_NOT_LAST_INSTALLED"]
        );
        assert_eq!(
            codes(v[1].findings),
            ["DUP_NOT_COMMUNICATING", "DUP_NO_SINGLE_LAST"]
        );
    }

    #[test]
    fn unknown_communication_counts_against_every_member() {
        let v = evaluate_group(&members(&[
            (0, day("2020-01-01"), U),
            (1, day("2021-01-01"), C),
        ]));
        assert_eq!(codes(v[1].findings), ["DUP_OTHER_COMMUNICATING"]);
        assert!(v[0].findings.contains(Finding::DupNotCommunicating));
        let v = evaluate_group(&members(&[
            (0, day("2020-01-01"), N),
            (1, day("2021-01-01"), U),
        ]));
        assert_eq!(codes(v[1].findings), ["DUP_NOT_COMMUNICATING"]);
    }

    #[test]
    fn later_but_other_still_communicating() {
        let v = evaluate_group(&members(&[
            (0, day("2020-01-01"), C),
            (1, day("2021-01-01"), C),
        ]));
        assert_eq!(codes(v[1].findings), ["DUP_OTHER_COMMUNICATING"]);
    }

    fn as_of() -> AsOf {
        AsOf {
            date: day("2024-06-30").unwrap(),
            window_days: 30,
        }
    }

    #[test]
    fn communication_window_is_inclusive() {
        let p = as_of();
        let status = |ds: &[DateField]| communication(comms_evidence(ds.iter().copied()), p);
        let d = |s: &str| DateField::Day(day(s).unwrap());
        assert_eq!(status(&[d("2024-05-31")]), C, "A - W is inside");
        assert_eq!(status(&[d("2024-05-30")]), N, "A - W - 1 is outside");
        assert_eq!(status(&[d("2024-06-30")]), C, "A is inside");
        assert_eq!(status(&[d("2024-07-01")]), U, "after A is unknown");
        assert_eq!(status(&[DateField::None]), N, "never communicated");
        assert_eq!(status(&[]), N);
        assert_eq!(status(&[d("2024-06-01"), DateField::Invalid]), U);
        assert_eq!(
            status(&[d("2020-01-01"), d("2024-06-01")]),
            C,
            "latest device counts"
        );
        let zero = AsOf {
            window_days: 0,
            ..p
        };
        assert_eq!(
            communication(comms_evidence([d("2024-06-30")].into_iter()), zero),
            C
        );
        assert_eq!(
            communication(comms_evidence([d("2024-06-29")].into_iter()), zero),
            N
        );
        let huge = AsOf {
            window_days: u32::MAX,
            ..p
        };
        assert_eq!(
            communication(comms_evidence([d("0001-01-01")].into_iter()), huge),
            C
        );
    }

    fn set(fs: &[Finding]) -> FindingSet {
        let mut s = FindingSet::default();
        fs.iter().for_each(|&f| s.insert(f));
        s
    }

    #[test]
    fn outcome_precedence() {
        use Finding::*;
        let d = decide(set(&[
            InvalidGuid,
            DupNotCommunicating,
            ActiveSupplierCeased,
            DupResolved,
        ]));
        assert_eq!((d.outcome, d.clauses), (Outcome::Exclude, vec!["18.12"]));
        let d = decide(set(&[DupNoSingleLast, ActiveSupplierNotLive]));
        assert_eq!((d.outcome, d.clauses), (Outcome::Exclude, vec!["18.13"]));
        let d = decide(set(&[ActiveSupplierNotLive, DormantSupplierCeased]));
        assert_eq!((d.outcome, d.clauses), (Outcome::Review, vec![]));
        let d = decide(set(&[
            DupResolved,
            DormantSupplierNotLive,
            DormantSupplierCeased,
        ]));
        assert_eq!(
            (d.outcome, d.clauses),
            (Outcome::Unblock, vec!["4.1A", "4.1B", "4.1C"])
        );
        let d = decide(set(&[DupResolved]));
        assert_eq!((d.outcome, d.clauses), (Outcome::Unblock, vec!["4.1C"]));
        let d = decide(FindingSet::default());
        assert_eq!((d.outcome, d.clauses), (Outcome::Clear, vec![]));
    }

    #[test]
    fn judged_findings_are_never_taken_from_storage() {
        let all = set(&Finding::ALL);
        let stored = FindingSet::from_bits(all.bits()).stored_only();
        for f in Finding::ALL {
            let judged = f.decided() == Decided::AsOf;
            assert_eq!(stored.contains(f), !judged, "{}", f.code());
        }
        assert!(!FindingSet::from_bits(u32::MAX)
            .stored_only()
            .contains(Finding::DupResolved));
        assert!(!FindingSet::from_bits(u32::MAX)
            .stored_only()
            .contains(Finding::DupOnlyCommunicating));
    }

    #[test]
    fn a_member_install_date_is_known_only_from_one_meter_with_a_date() {
        let d = |s: &str| DateField::Day(day(s).unwrap());
        assert_eq!(member_install_date(&[d("2020-01-01")]), day("2020-01-01"));
        assert_eq!(member_install_date(&[DateField::Invalid]), None);
        assert_eq!(
            member_install_date(&[d("2020-01-01"), d("2020-01-01")]),
            None,
            "two meters carrying X: unknown (REPEATED_MPXN)"
        );
        assert_eq!(member_install_date(&[]), None);
    }

    #[test]
    fn future_comms_and_dup_resolved_as_of_a_date() {
        let p = as_of();
        assert!(future_comms(day("2024-07-01"), p));
        assert!(
            !future_comms(day("2024-06-30"), p),
            "the as-of date is not future"
        );
        assert!(!future_comms(None, p));
        let clean = SharedMpxns {
            shares_any: true,
            findings: FindingSet::default(),
        };
        assert!(dup_resolved(clean));
        assert!(!dup_resolved(SharedMpxns::default()), "shares nothing");
        let mut blocked = clean;
        blocked.findings.insert(Finding::DupNoSingleLast);
        assert!(!dup_resolved(blocked));
        // Stored bits never inject a judged finding.
        let forged = FindingSet::from_bits(u32::MAX);
        let f = findings_as_of(forged, None, SharedMpxns::default(), p);
        assert!(!f.contains(Finding::DupResolved) && !f.contains(Finding::FutureComms));
        assert!(
            !f.contains(Finding::DupOnlyCommunicating),
            "never in DCC's judgement"
        );
        let f = findings_as_of(FindingSet::default(), day("2024-07-02"), clean, p);
        assert_eq!(codes(f), ["DUP_RESOLVED", "FUTURE_COMMS"]);
        assert_eq!(
            codes(matching_findings(true, true)),
            ["DUPLICATE_GUID", "REPEATED_MPXN"]
        );
    }

    #[test]
    fn the_finding_table_is_consistent() {
        for f in Finding::ALL {
            let expected = match f.kind() {
                FindingKind::DataIssue => Some("18.12"),
                FindingKind::Duplicate => Some("18.13"),
                FindingKind::Review => None,
                FindingKind::Unblock => f.unblock_clause(),
            };
            assert_eq!(f.clause(), expected, "{}", f.code());
            assert_eq!(Finding::from_code(f.code()), Some(f));
            assert!(!f.words().is_empty());
        }
        let unblocks: Vec<_> = Finding::ALL
            .iter()
            .filter_map(|f| f.unblock_clause())
            .collect();
        assert_eq!(unblocks, ["4.1C", "4.1A", "4.1B", "alt-4.1C"]);
        // Exactly these are decided against the as-of date (never stored in an index).
        let as_of: Vec<_> = Finding::ALL
            .iter()
            .filter(|f| f.decided() == Decided::AsOf)
            .map(|f| f.code())
            .collect();
        assert_eq!(
            as_of,
            [
                "FUTURE_COMMS",
                "DUP_NOT_LAST_INSTALLED",
                "DUP_NO_SINGLE_LAST",
                "DUP_NOT_COMMUNICATING",
                "DUP_OTHER_COMMUNICATING",
                "DUP_RESOLVED",
                "DUP_ONLY_COMMUNICATING"
            ]
        );
        // The bit order an index stores: DUPLICATE_GUID is bit 0, DUP_RESOLVED bit 14.
        // DUP_ONLY_COMMUNICATING was appended (bit 19) and is never stored.
        assert_eq!(Finding::DuplicateGuid as u8, 0);
        assert_eq!(Finding::DupResolved as u8, 14);
        assert_eq!(Finding::ActiveSupplierNotLive as u8, 18);
        assert_eq!(Finding::DupOnlyCommunicating as u8, 19);
        // Exactly one finding belongs to a what-if policy; every other is DCC's (§6.1).
        let policy_only: Vec<_> = Finding::ALL
            .iter()
            .filter_map(|f| f.what_if().map(|p| (f.code(), p)))
            .collect();
        assert_eq!(
            policy_only,
            [("DUP_ONLY_COMMUNICATING", WhatIf::OnlyCommunicating)]
        );
    }

    #[test]
    fn every_code_has_its_kind() {
        let data = Finding::ALL
            .iter()
            .filter(|f| f.kind() == FindingKind::DataIssue)
            .count();
        let dup = Finding::ALL
            .iter()
            .filter(|f| f.kind() == FindingKind::Duplicate)
            .count();
        let unblock = Finding::ALL
            .iter()
            .filter(|f| f.kind() == FindingKind::Unblock)
            .count();
        assert_eq!((data, dup, unblock), (10, 4, 4));
        let mut codes: Vec<_> = Finding::ALL.iter().map(|f| f.code()).collect();
        codes.dedup();
        assert_eq!(codes.len(), 20);
        // BY_CODE is every finding once, in byte order of its code.
        let mut by_code: Vec<_> = Finding::BY_CODE.iter().map(|f| f.code()).collect();
        assert!(by_code.windows(2).all(|w| w[0] < w[1]), "{by_code:?}");
        by_code.sort_unstable();
        let mut all_codes: Vec<_> = Finding::ALL.iter().map(|f| f.code()).collect();
        all_codes.sort_unstable();
        assert_eq!(by_code, all_codes);
        // `iter` lists codes in byte order.
        let all = set(&Finding::ALL);
        let listed: Vec<_> = all.iter().map(Finding::code).collect();
        let mut sorted = listed.clone();
        sorted.sort_unstable();
        assert_eq!(listed, sorted);
    }

    // SPEC §6.4, the what-if policy only-communicating: a test per rule.

    const ONLY: WhatIf = WhatIf::OnlyCommunicating;

    /// Each member's every finding under DCC's rule when it shares the MPxNs of `groups`
    /// only, through the real rules (evaluate_group, SharedMpxns, findings_as_of).
    fn judged(groups: &[&[(u32, Option<Day>, CommStatus)]]) -> BTreeMap<u32, FindingSet> {
        let mut shared: BTreeMap<u32, SharedMpxns> = BTreeMap::new();
        for group in groups {
            for v in evaluate_group(&members(group)) {
                shared.entry(v.installation).or_default().add(&v);
            }
        }
        shared
            .into_iter()
            .map(|(i, s)| (i, findings_as_of(FindingSet::default(), None, s, as_of())))
            .collect()
    }

    #[test]
    fn the_policy_sets_aside_exactly_the_three_last_installed_codes() {
        use Finding::*;
        let three = [DupNotLastInstalled, DupNoSingleLast, DupResolved];
        for f in Finding::ALL.into_iter().filter(|f| f.what_if().is_none()) {
            let mut under = ONLY.findings(set(&[f]));
            under.remove(DupOnlyCommunicating);
            let expected = if three.contains(&f) {
                FindingSet::default()
            } else {
                set(&[f])
            };
            assert_eq!(under, expected, "{}", f.code());
        }
        // Every DCC finding at once: all but the three remain (and the policy's own
        // finding does not hold beside DUP_NOT_COMMUNICATING).
        let dcc: Vec<_> = Finding::ALL
            .into_iter()
            .filter(|f| f.what_if().is_none())
            .collect();
        let kept: Vec<_> = dcc.iter().copied().filter(|f| !three.contains(f)).collect();
        assert_eq!(ONLY.findings(set(&dcc)), set(&kept));
    }

    #[test]
    fn dup_only_communicating_iff_it_shares_and_neither_communication_finding_holds() {
        use Finding::*;
        let duplicate_codes = [
            DupNotLastInstalled,
            DupNoSingleLast,
            DupNotCommunicating,
            DupOtherCommunicating,
            DupResolved,
        ];
        for mask in 0u32..1 << duplicate_codes.len() {
            let held: Vec<Finding> = duplicate_codes
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, &f)| f)
                .collect();
            let shares = !held.is_empty();
            let expected = shares
                && !held.contains(&DupNotCommunicating)
                && !held.contains(&DupOtherCommunicating);
            for others in [
                &[][..],
                &[InvalidDate],
                &[ActiveSupplierCeased, DormantSupplierCeased],
            ] {
                let dcc = set(&[held.as_slice(), others].concat());
                assert_eq!(shares_an_mpxn(dcc), shares, "{:?}", codes(dcc));
                assert_eq!(dup_only_communicating(dcc), expected, "{:?}", codes(dcc));
                assert_eq!(
                    ONLY.findings(dcc).contains(DupOnlyCommunicating),
                    expected,
                    "{:?}",
                    codes(dcc)
                );
            }
        }
        // Sharing nothing, nothing to be the only one communicating in.
        assert!(!ONLY
            .findings(FindingSet::default())
            .contains(DupOnlyCommunicating));
        // A set that (wrongly) held the policy's finding is decided afresh.
        assert!(!ONLY
            .findings(set(&[DupOnlyCommunicating]))
            .contains(DupOnlyCommunicating));
    }

    #[test]
    fn install_dates_play_no_part_but_unknown_communication_counts_against_every_member() {
        let only = |groups: &[&[(u32, Option<Day>, CommStatus)]]| -> Vec<u32> {
            judged(groups)
                .into_iter()
                .filter(|(_, dcc)| ONLY.findings(*dcc).contains(Finding::DupOnlyCommunicating))
                .map(|(i, _)| i)
                .collect()
        };
        // The case the policy is about: older, but the only one communicating.
        assert_eq!(
            only(&[&[(0, day("2020-01-01"), C), (1, day("2021-01-01"), N)]]),
            [0]
        );
        // Its own install date unknown, or tied: still the only one communicating.
        assert_eq!(only(&[&[(0, None, C), (1, day("2021-01-01"), N)]]), [0]);
        assert_eq!(
            only(&[&[(0, day("2021-01-01"), C), (1, day("2021-01-01"), N)]]),
            [0]
        );
        // Another member's status unknown counts against it, whatever the dates.
        assert!(only(&[&[(0, day("2022-01-01"), C), (1, day("2021-01-01"), U)]]).is_empty());
        // Its own status unknown counts against it too.
        assert!(only(&[&[(0, day("2022-01-01"), U), (1, day("2021-01-01"), N)]]).is_empty());
        // Two communicating: neither is the only one.
        assert!(only(&[&[(0, day("2020-01-01"), C), (1, day("2021-01-01"), C)]]).is_empty());
        // Over every MPxN it shares: only communicating in one, not in the other.
        assert!(only(&[
            &[(0, day("2020-01-01"), C), (1, day("2021-01-01"), N)],
            &[(0, day("2020-01-01"), C), (2, day("2021-01-01"), U)],
        ])
        .is_empty());
    }

    #[test]
    fn only_one_member_of_any_group_is_the_only_one_communicating() {
        // Every group of three members with install dates unknown, early or late and
        // statuses C, N or U: DUP_ONLY_COMMUNICATING holds for a member exactly when it
        // communicates and every other member does not (SPEC §6.4 read member by
        // member), so never for two members of one MPxN.
        let dates = [None, day("2019-01-01"), day("2021-01-01")];
        let comms = [C, N, U];
        let choices: Vec<(Option<Day>, CommStatus)> = dates
            .iter()
            .flat_map(|&d| comms.iter().map(move |&c| (d, c)))
            .collect();
        for a in &choices {
            for b in &choices {
                for c in &choices {
                    let group = [(0, a.0, a.1), (1, b.0, b.1), (2, c.0, c.1)];
                    let judged = judged(&[&group]);
                    let mut holders = 0;
                    for &(i, _, comm) in &group {
                        let holds = ONLY
                            .findings(judged[&i])
                            .contains(Finding::DupOnlyCommunicating);
                        let literal = comm == C && group.iter().all(|m| m.0 == i || m.2 == N);
                        assert_eq!(holds, literal, "member {i} of {group:?}");
                        holders += u32::from(holds);
                    }
                    assert!(holders <= 1, "{group:?}");
                }
            }
        }
    }

    #[test]
    fn the_policy_outcome_is_section_6_2_with_alt_4_1c() {
        use Finding::*;
        let under = |fs: &[Finding]| {
            let d = ONLY.decide(set(fs)).policy;
            (d.outcome, d.clauses)
        };
        // Held back by the install dates only: unblocked, citing alt-4.1C (not 4.1C).
        assert_eq!(
            under(&[DupNoSingleLast]),
            (Outcome::Unblock, vec!["alt-4.1C"])
        );
        assert_eq!(
            under(&[DupNotLastInstalled]),
            (Outcome::Unblock, vec!["alt-4.1C"])
        );
        // DCC's 4.1C unblock is the policy's alt-4.1C unblock.
        assert_eq!(under(&[DupResolved]), (Outcome::Unblock, vec!["alt-4.1C"]));
        // Beside the other unblock clauses, sorted in byte order.
        assert_eq!(
            under(&[
                DupNotLastInstalled,
                DormantSupplierNotLive,
                DormantSupplierCeased
            ]),
            (Outcome::Unblock, vec!["4.1A", "4.1B", "alt-4.1C"])
        );
        // The rest of §6.2 still applies first: data issue, duplicate, review.
        assert_eq!(
            under(&[DupNoSingleLast, InvalidDate]),
            (Outcome::Exclude, vec!["18.12"])
        );
        assert_eq!(
            under(&[DupNotLastInstalled, DupNotCommunicating]),
            (Outcome::Exclude, vec!["18.13"])
        );
        assert_eq!(
            under(&[DupNotLastInstalled, ActiveSupplierCeased]),
            (Outcome::Review, vec![])
        );
        // Reasons list every finding under the policy.
        let d = ONLY
            .decide(set(&[DupNoSingleLast, DormantSupplierCeased]))
            .policy;
        assert_eq!(
            codes(d.findings),
            ["DORMANT_SUPPLIER_CEASED", "DUP_ONLY_COMMUNICATING"]
        );
    }

    #[test]
    fn a_change_is_a_different_outcome_held_back_by_the_install_dates() {
        use Finding::*;
        let what = |fs: &[Finding]| {
            let d = ONLY.decide(set(fs));
            (
                d.changed(),
                d.dcc.outcome,
                d.policy.outcome,
                codes(d.held_back_by),
            )
        };
        assert_eq!(
            what(&[DupNoSingleLast]),
            (
                true,
                Outcome::Exclude,
                Outcome::Unblock,
                vec!["DUP_NO_SINGLE_LAST"]
            )
        );
        assert_eq!(
            what(&[DupNotLastInstalled, ActiveSupplierNotLive]),
            (
                true,
                Outcome::Exclude,
                Outcome::Review,
                vec!["DUP_NOT_LAST_INSTALLED"]
            )
        );
        // Both, from two MPxNs it shares: both listed.
        assert_eq!(
            what(&[DupNotLastInstalled, DupNoSingleLast]).3,
            ["DUP_NOT_LAST_INSTALLED", "DUP_NO_SINGLE_LAST"]
        );
        // The same outcome is no change, even with another clause (4.1C → alt-4.1C).
        assert!(!what(&[DupResolved]).0);
        assert!(!what(&[DupNotLastInstalled, DupNotCommunicating]).0);
        assert!(!what(&[DupNoSingleLast, InvalidGuid]).0);
        assert!(!what(&[]).0);
        assert_eq!(WhatIf::from_name("only-communicating"), Some(ONLY));
        assert_eq!(WhatIf::from_name("only_communicating"), None);
    }

    #[test]
    fn as_of_warnings_fire_on_no_communication_and_on_more_than_one_percent_after() {
        let day = |t: &str| Day::parse(t.as_bytes()).unwrap();
        let as_of = AsOf {
            date: day("2024-06-30"),
            window_days: 30,
        };
        let ev = |t: &str| CommsEvidence {
            unreadable: false,
            last: Some(day(t)),
        };
        let check = |evidence: &[CommsEvidence]| {
            let mut c = AsOfCheck::default();
            for &e in evidence {
                c.add(e, as_of);
            }
            c
        };
        // 99 communicating, one after the as-of date: exactly 1%, no warning.
        let mut evidence = vec![ev("2024-06-20"); 99];
        evidence.push(ev("2024-07-05"));
        let c = check(&evidence);
        assert_eq!((c.dated, c.after, c.communicating), (100, 1, 99));
        assert_eq!(c.latest, Some(day("2024-07-05")));
        assert!(c.warnings(as_of).is_empty(), "{:?}", c.warnings(as_of));
        // Two after it of 101: over 1%.
        evidence.push(ev("2024-07-06"));
        let w = check(&evidence).warnings(as_of);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with(
                "2 of 101 installations (2.0%) last communicated after the as-of date 2024-06-30"
            ) && w[0].contains("latest last_comms_at in the inventories is 2024-07-06")
                && w[0].ends_with("sweep with --as-of 2024-07-06"),
            "{w:?}"
        );
        // Nobody within the window (all before it, or never), the halves merged.
        let stale = check(&[ev("2024-01-01")]).merge(check(&[CommsEvidence::default()]));
        assert_eq!(
            (stale.installations, stale.dated, stale.communicating),
            (2, 1, 0)
        );
        let w = stale.warnings(as_of);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with(
                "no installation is communicating within the 30-day window before 2024-06-30"
            ) && w[0].ends_with("--as-of 2024-01-01"),
            "{w:?}"
        );
        // No installations: nothing to say.
        assert!(AsOfCheck::default().warnings(as_of).is_empty());
    }

    #[test]
    fn explained_checks_agree_with_evaluate_group_on_every_small_group() {
        let d = |t: &str| Day::parse(t.as_bytes());
        let dates = [None, d("2020-01-01"), d("2021-06-30")];
        let comms = [
            CommStatus::Communicating,
            CommStatus::NotCommunicating,
            CommStatus::Unknown,
        ];
        let states: Vec<(Option<Day>, CommStatus)> = dates
            .iter()
            .flat_map(|&dt| comms.iter().map(move |&c| (dt, c)))
            .collect();
        let mut groups = 0;
        for size in [2usize, 3] {
            let mut pick = vec![0usize; size];
            loop {
                let members: Vec<GroupMember> = pick
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| GroupMember {
                        installation: i as u32,
                        installed_on: states[s].0,
                        comm: states[s].1,
                    })
                    .collect();
                let verdicts = evaluate_group(&members);
                for (i, v) in verdicts.iter().enumerate() {
                    for check in explain_member(&members, i, |j| format!("member {j}")) {
                        assert_eq!(
                            check.fails,
                            v.findings.contains(check.finding),
                            "{members:?} member {i}: {check:?}"
                        );
                    }
                }
                groups += 1;
                // Next combination (odometer).
                let mut k = 0;
                while k < size {
                    pick[k] += 1;
                    if pick[k] < states.len() {
                        break;
                    }
                    pick[k] = 0;
                    k += 1;
                }
                if k == size {
                    break;
                }
            }
        }
        assert_eq!(groups, 81 + 729);
    }

    #[test]
    fn the_deciding_rule_is_the_one_decide_applies() {
        // Every single finding, every pair, and the empty set.
        let mut sets = vec![FindingSet::default()];
        for &a in Finding::ALL.iter() {
            for &b in Finding::ALL.iter() {
                let mut f = FindingSet::default();
                f.set(a, true);
                f.set(b, true);
                sets.push(f);
            }
        }
        for f in sets {
            let outcome = decide(f).outcome;
            let (rule, words) = deciding_rule(f);
            let expected = match rule {
                1 | 2 => Outcome::Exclude,
                3 => Outcome::Review,
                4 => Outcome::Unblock,
                _ => Outcome::Clear,
            };
            assert_eq!(outcome, expected, "{f:?}: rule {rule} ({words})");
            if rule <= 2 {
                assert_eq!(
                    decide(f).clauses[0],
                    if rule == 1 { "18.12" } else { "18.13" }
                );
            }
        }
    }
}
