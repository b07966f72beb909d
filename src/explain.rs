//! Explain: one installation, every finding in words, and the arithmetic behind each.
//!
//! Takes an index [`View`], an installation and an as-of date; hands on an
//! [`Explanation`]: the communication window `[A-W, A]` and where the installation's
//! latest `last_comms_at` falls in it; every finding with its code, kind, TMAD clause
//! and words (from the one finding table in `resolve`); for each shared MPxN, every
//! member (source, installation id, install date for the MPxN, communication) and the
//! four duplicate checks of TMAD 4.1C for this installation, each passed or failed and
//! why (`resolve::explain_member`); and the outcome with the rule of SPEC §6.2 that
//! decided it (`resolve::deciding_rule`); and the values behind its data-issue findings,
//! as findings.csv lists them (`lookup::finding_values`). It judges through
//! `judge::judge_one`, so the findings are a sweep's. It is the data team's tool: it shows what the index holds,
//! other members' ids included (supplier-facing output is `portfolio`'s). Cost: the
//! installation's devices and the members of the MPxNs it shares.

use std::borrow::Cow;

use serde::Serialize;

use crate::index::{IndexError, View};
use crate::judge;
use crate::lookup::{self, DeviceReport, FindingValue, Groups};
use crate::normalize::{Day, MpxnKey};
use crate::resolve::{
    self, communication, decide, AsOf, CheckExplained, CommStatus, Finding, GroupMember,
};

/// Everything `mpxn-recon explain` says about one installation.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation<'a> {
    pub source: Cow<'a, str>,
    pub installation_id: Cow<'a, str>,
    pub group_id: Cow<'a, str>,
    pub smets2: bool,
    pub window: Window,
    pub communication: Communication,
    pub findings: Vec<FindingExplained>,
    /// The values that caused its data-issue findings, as findings.csv lists them.
    pub values: Vec<FindingValue>,
    pub shared_mpxns: Vec<SharedExplained<'a>>,
    /// `None` for a SMETS2 installation: evidence only, no decision.
    pub decision: Option<DecisionExplained>,
    pub devices: Vec<DeviceReport<'a>>,
}

/// The communication window of SPEC §6: communicating iff the latest `last_comms_at`
/// falls in `[from, to]` = `[A - W days, A]`.
#[derive(Clone, Debug, Serialize)]
pub struct Window {
    pub as_of: String,
    pub window_days: u32,
    /// `A - W`; `None` when the window reaches before any representable date.
    pub from: Option<String>,
    pub to: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Communication {
    /// The latest parseable `last_comms_at` over its devices; `None` when none parses
    /// or none is given.
    pub last_comms_at: Option<String>,
    /// Whether some device's `last_comms_at` does not parse.
    pub unreadable: bool,
    /// `yes`, `no` or `unknown`.
    pub status: &'static str,
    pub why: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct FindingExplained {
    pub code: &'static str,
    pub kind: &'static str,
    pub clause: Option<&'static str>,
    pub words: &'static str,
}

impl FindingExplained {
    pub fn of(f: Finding) -> FindingExplained {
        FindingExplained {
            code: f.code(),
            kind: f.kind().as_str(),
            clause: f.clause(),
            words: f.words(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct SharedExplained<'a> {
    pub mpxn: String,
    pub kind: &'static str,
    pub members: Vec<MemberExplained<'a>>,
    /// This installation's four checks for this MPxN.
    pub checks: Vec<CheckExplained>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MemberExplained<'a> {
    pub source: Cow<'a, str>,
    pub installation_id: Cow<'a, str>,
    /// Its install date for the MPxN; `None` when unknown.
    pub installed_on: Option<String>,
    pub communicating: &'static str,
    /// Whether this member is the installation explained.
    pub this: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct DecisionExplained {
    pub outcome: &'static str,
    pub clauses: Vec<&'static str>,
    /// The rule of SPEC §6.2 that decided (1 to 5), and its words.
    pub rule: u8,
    pub rule_words: &'static str,
}

fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// The installation whose source (compared case-insensitively: sources are upper case
/// in the index) and installation id are these, by binary search over output order.
pub fn find_installation(
    view: &View<'_>,
    source: &str,
    installation_id: &str,
) -> Result<Option<usize>, IndexError> {
    let wanted = source.trim().to_ascii_uppercase();
    let mut rank = None;
    for r in 0..view.source_count() {
        if view.source_name(r)? == wanted.as_bytes() {
            rank = Some(r as u32);
        }
    }
    let Some(rank) = rank else {
        return Ok(None);
    };
    let id = installation_id.trim().as_bytes();
    // Installations are in output order: (source rank, id bytes).
    let (mut lo, mut hi) = (0usize, view.installation_count());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let key = (view.source_rank(mid)?, view.installation_text(mid)?);
        if key < (rank, id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if lo < view.installation_count()
        && view.source_rank(lo)? == rank
        && view.installation_text(lo)? == id
    {
        return Ok(Some(lo));
    }
    Ok(None)
}

/// Explains installation `inst` as of `as_of` (see the module doc).
pub fn explain<'a>(
    view: &View<'a>,
    groups: &Groups,
    inst: usize,
    as_of: AsOf,
) -> Result<Explanation<'a>, IndexError> {
    let report = lookup::describe(view, groups, inst, as_of)?;
    let mut member_of: Vec<usize> = report
        .devices
        .iter()
        .filter_map(|d| d.mpxn.and_then(|k| groups.get(k)))
        .collect();
    member_of.sort_unstable();
    member_of.dedup();
    let findings = judge::judge_one(view, inst, &member_of, as_of)?;

    let from = Day(as_of
        .date
        .0
        .saturating_sub(as_of.window_days.min(i32::MAX as u32) as i32));
    let window = Window {
        as_of: as_of.date.to_string(),
        window_days: as_of.window_days,
        from: (i64::from(as_of.date.0) - i64::from(as_of.window_days) >= i64::from(i32::MIN))
            .then(|| from.to_string()),
        to: as_of.date.to_string(),
    };
    let evidence = view.comms(inst)?;
    let status = communication(evidence, as_of);
    let last = evidence.last.map(|d| d.to_string());
    let range = format!("[{}, {}]", window.from.as_deref().unwrap_or("-"), window.to);
    let why = match (status, evidence.last) {
        _ if evidence.unreadable => format!(
            "a device's last_comms_at does not parse: its status is unknown, which never counts as communicating{}",
            last.as_ref().map_or(String::new(), |d| format!(" (the latest that parses is {d})"))
        ),
        (CommStatus::Unknown, Some(d)) => format!(
            "its latest last_comms_at, {d}, is after the as-of date {}: unknown (FUTURE_COMMS)",
            as_of.date
        ),
        (CommStatus::Communicating, Some(d)) => format!("its latest last_comms_at, {d}, is in {range}"),
        (CommStatus::NotCommunicating, Some(d)) => {
            format!("its latest last_comms_at, {d}, is before {range}")
        }
        (_, None) => "it has never communicated (no last_comms_at on any device)".to_string(),
    };
    let communication = Communication {
        last_comms_at: last,
        unreadable: evidence.unreadable,
        status: status.as_str(),
        why,
    };

    let mut shared_mpxns = Vec::new();
    for &g in &member_of {
        let key: MpxnKey = view.group_mpxn(g)?;
        let mut members = Vec::new();
        let mut explained = Vec::new();
        let mut me = None;
        for m in view.members(g)? {
            let m = m?;
            if m.installation == inst {
                me = Some(members.len());
            }
            members.push(GroupMember {
                installation: m.installation as u32,
                installed_on: m.installed_on,
                comm: judge::comm_status(view, m.installation, as_of)?,
            });
            explained.push(MemberExplained {
                source: text(view.source_text(m.installation)?),
                installation_id: text(view.installation_text(m.installation)?),
                installed_on: m.installed_on.map(|d| d.to_string()),
                communicating: judge::comm_status(view, m.installation, as_of)?.as_str(),
                this: m.installation == inst,
            });
        }
        let checks = match me {
            Some(i) => resolve::explain_member(&members, i, |j| {
                format!("{} {}", explained[j].source, explained[j].installation_id)
            })
            .to_vec(),
            None => Vec::new(),
        };
        shared_mpxns.push(SharedExplained {
            mpxn: key.to_string(),
            kind: key.kind().as_str(),
            members: explained,
            checks,
        });
    }

    let decision = (!report.smets2).then(|| {
        let d = decide(findings);
        let (rule, rule_words) = resolve::deciding_rule(findings);
        DecisionExplained {
            outcome: d.outcome.as_str(),
            clauses: d.clauses,
            rule,
            rule_words,
        }
    });
    Ok(Explanation {
        source: report.source,
        installation_id: report.installation_id,
        group_id: report.group_id,
        smets2: report.smets2,
        window,
        communication,
        findings: findings.iter().map(FindingExplained::of).collect(),
        values: report.values,
        shared_mpxns,
        decision,
        devices: report.devices,
    })
}
