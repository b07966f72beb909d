//! Judge: an index [`View`] and an as-of date → every installation's findings.
//!
//! Takes the evidence the index holds (installations' own findings and communication
//! evidence, shared MPxNs with their members) and a [`AsOf`]; applies the rules of
//! `resolve` that depend on the date — communication status, FUTURE_COMMS, TMAD 4.1C over
//! each shared MPxN ([`resolve::evaluate_group`]), DUP_RESOLVED
//! ([`resolve::findings_as_of`]) — and hands on a [`Judgement`] for `report`, or one
//! installation's findings for `lookup`. It decides nothing of its own: it reads the
//! index and calls `resolve`, where every rule lives. Findings decided here are never
//! taken from storage, so a damaged index cannot inject one. Parallel over installations
//! and over shared MPxNs; fails only on a damaged index.

use rayon::prelude::*;

use crate::index::{IndexError, View};
use crate::resolve::{
    self, communication, evaluate_group, AsOf, CommStatus, FindingSet, GroupMember, MemberVerdict,
    SharedMpxns,
};

/// The as-of judgement over an index view.
pub struct Judgement {
    /// Per installation.
    pub comm: Vec<CommStatus>,
    /// Per installation, every finding that holds.
    pub findings: Vec<FindingSet>,
    /// Per group member, in `member_*` column order.
    pub verdicts: Vec<MemberVerdict>,
    /// What the installations' communication dates say about the as-of date itself
    /// ([`resolve::AsOfCheck`]), counted in the same pass as `comm`.
    pub as_of_check: resolve::AsOfCheck,
}

/// Judges every installation as of `as_of`: its stored findings, plus
/// - FUTURE_COMMS — "a last_comms_at is after the as-of date";
/// - the four duplicate findings over every MPxN it shares ([`crate::resolve::evaluate_group`]);
/// - DUP_RESOLVED — "it shares MPxNs and, for every one of them, it is the single last
///   installed and the only one communicating (TMAD 4.1C)".
///
/// Parallel over installations and over shared MPxNs. Fails only on a damaged index.
pub fn judge(view: &View<'_>, as_of: AsOf) -> Result<Judgement, IndexError> {
    let _t = crate::timing::stage("judge");
    let n = view.installation_count();
    // Communication status and the as-of check in one pass, a chunk per task.
    const CHUNK: usize = 1 << 16;
    let chunks: Vec<(Vec<CommStatus>, resolve::AsOfCheck)> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let range = c * CHUNK..((c + 1) * CHUNK).min(n);
            let mut statuses = Vec::with_capacity(range.len());
            let mut check = resolve::AsOfCheck::default();
            for i in range {
                let evidence = view.comms(i)?;
                check.add(evidence, as_of);
                statuses.push(communication(evidence, as_of));
            }
            Ok((statuses, check))
        })
        .collect::<Result<_, IndexError>>()?;
    let mut comm = Vec::with_capacity(n);
    let mut as_of_check = resolve::AsOfCheck::default();
    for (statuses, check) in chunks {
        comm.extend(statuses);
        as_of_check = as_of_check.merge(check);
    }
    let verdicts: Vec<Vec<MemberVerdict>> = (0..view.group_count())
        .into_par_iter()
        .map(|g| group_verdicts(view, g, |inst| Ok(comm[inst])))
        .collect::<Result<_, IndexError>>()?;
    let mut shared = vec![SharedMpxns::default(); n];
    for verdict in verdicts.iter().flatten() {
        shared[verdict.installation as usize].add(verdict);
    }
    let findings: Vec<FindingSet> = (0..n)
        .into_par_iter()
        .map(|i| all_findings(view, i, shared[i], as_of))
        .collect::<Result<_, IndexError>>()?;
    Ok(Judgement {
        comm,
        findings,
        verdicts: verdicts.into_iter().flatten().collect(),
        as_of_check,
    })
}

/// An installation's communication status as of `as_of`, from its stored evidence.
pub fn comm_status(view: &View<'_>, inst: usize, as_of: AsOf) -> Result<CommStatus, IndexError> {
    Ok(communication(view.comms(inst)?, as_of))
}

/// TMAD 4.1C verdicts for the members of shared MPxN `group`, given each member's
/// communication status.
pub fn group_verdicts(
    view: &View<'_>,
    group: usize,
    comm: impl Fn(usize) -> Result<CommStatus, IndexError>,
) -> Result<Vec<MemberVerdict>, IndexError> {
    let members: Vec<GroupMember> = view
        .members(group)?
        .map(|m| {
            let m = m?;
            Ok(GroupMember {
                installation: m.installation as u32,
                installed_on: m.installed_on,
                comm: comm(m.installation)?,
            })
        })
        .collect::<Result<_, IndexError>>()?;
    Ok(evaluate_group(&members))
}

/// An installation's full finding set as of a date, by [`resolve::findings_as_of`]: its
/// stored findings, FUTURE_COMMS, the duplicate findings `shared` gathered over the
/// MPxNs it shares, and DUP_RESOLVED.
fn all_findings(
    view: &View<'_>,
    inst: usize,
    shared: SharedMpxns,
    as_of: AsOf,
) -> Result<FindingSet, IndexError> {
    Ok(resolve::findings_as_of(
        view.stored_findings(inst)?,
        view.last_comms(inst)?,
        shared,
        as_of,
    ))
}

/// Judges one installation, given the shared MPxN groups it belongs to: the same rules
/// as [`judge`], touching only those groups' members (for lookups).
pub fn judge_one(
    view: &View<'_>,
    inst: usize,
    groups: &[usize],
    as_of: AsOf,
) -> Result<FindingSet, IndexError> {
    let mut shared = SharedMpxns::default();
    for &g in groups {
        for v in group_verdicts(view, g, |i| comm_status(view, i, as_of))? {
            if v.installation as usize == inst {
                shared.add(&v);
            }
        }
    }
    all_findings(view, inst, shared, as_of)
}
