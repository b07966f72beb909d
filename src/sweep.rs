//! The sweep: runs the stages in order and holds what they produced.
//!
//! Takes a [`SweepConfig`] (input paths and the [`Policy`]); reads the registry and every
//! inventory header first — a refusal happens before anything is parsed or written —
//! then ingests, groups, matches and resolves. Hands on a [`Sweep`] that `report` writes
//! out and the CLI summarises. It keeps the input files mapped for as long as it lives,
//! because rows point into them instead of copying text.

use std::borrow::Cow;
use std::path::PathBuf;

use rayon::prelude::*;

use crate::ingest::{self, IngestSettings, InputError, Interned, InventoryFile, Reject, Row};
use crate::matching::{self, Corpus, Installations, Matches};
use crate::registry::Registry;
use crate::resolve::{self, Decision, FindingSet, InstallationFacts, MemberVerdict, Policy};

/// What to sweep and how to judge it.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    pub inventories: Vec<PathBuf>,
    pub suppliers: PathBuf,
    pub policy: Policy,
    pub ingest: IngestSettings,
}

/// SPEC §5's row accounting. `read == accepted + rejected + duplicate_rows` always.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Accounting {
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub duplicate_rows: u64,
}

/// A finished sweep: every stage's output, kept for reporting.
pub struct Sweep {
    pub config: SweepConfig,
    pub files: Vec<InventoryFile>,
    pub registry: Registry,
    pub rows: Vec<Row>,
    pub rejects: Vec<Reject>,
    pub rows_read: u64,
    pub sources: Interned,
    pub groups: Interned,
    pub checksums: Vec<u32>,
    pub installations: Installations,
    pub matches: Matches,
    pub facts: Vec<InstallationFacts>,
    /// Per shared MPxN (in `matches.groups` order), its members' verdicts.
    pub verdicts: Vec<Vec<MemberVerdict>>,
    /// Per installation, every finding that holds.
    pub findings: Vec<FindingSet>,
}

/// Runs the whole sweep in memory. Fails only on a refusal (a bad header or registry)
/// or an unreadable file; bad rows are counted and kept as rejects.
pub fn run(config: SweepConfig) -> Result<Sweep, InputError> {
    let registry = Registry::open(&config.suppliers)?;
    let files = config
        .inventories
        .iter()
        .map(|p| InventoryFile::open(p))
        .collect::<Result<Vec<_>, _>>()?;
    let ingested = ingest::ingest(&files, &registry, config.ingest);
    let corpus = Corpus {
        files: &files,
        registry: &registry,
        rows: &ingested.rows,
    };
    let installations = matching::group_installations(corpus);
    let matches = matching::find_matches(&ingested.rows, &installations);

    let smets2_sources: Vec<bool> = (0..ingested.sources.len() as u32)
        .map(|id| ingested.sources.get(id) == b"SMETS2")
        .collect();
    // Rank of each interned GroupID in byte order, so "smallest" is a number compare.
    let mut by_text: Vec<u32> = (0..ingested.groups.len() as u32).collect();
    by_text.sort_by(|&a, &b| ingested.groups.get(a).cmp(ingested.groups.get(b)));
    let mut group_order = vec![0u32; by_text.len()];
    for (rank, &id) in by_text.iter().enumerate() {
        group_order[id as usize] = rank as u32;
    }

    let facts = resolve::installation_facts(
        &ingested.rows,
        &installations,
        &smets2_sources,
        &group_order,
        config.policy,
        &registry,
    );
    let verdicts = resolve::evaluate_groups(&ingested.rows, &matches, &facts);
    let findings = resolve::all_findings(&facts, &matches, &verdicts);
    Ok(Sweep {
        config,
        files,
        registry,
        rows: ingested.rows,
        rejects: ingested.rejects,
        rows_read: ingested.rows_read,
        sources: ingested.sources,
        groups: ingested.groups,
        checksums: ingested.checksums,
        installations,
        matches,
        facts,
        verdicts,
        findings,
    })
}

impl Sweep {
    pub fn corpus(&self) -> Corpus<'_> {
        Corpus {
            files: &self.files,
            registry: &self.registry,
            rows: &self.rows,
        }
    }

    pub fn accounting(&self) -> Accounting {
        let accepted = self.installations.rows.len() as u64;
        Accounting {
            read: self.rows_read,
            accepted,
            rejected: self.rejects.len() as u64,
            duplicate_rows: self.installations.duplicate_rows,
        }
    }

    /// Upper-cased source of an installation.
    pub fn source_text(&self, installation: u32) -> &str {
        let id = self.installations.list[installation as usize].source;
        // Accepted rows are valid UTF-8 and upper-casing ASCII keeps them so.
        std::str::from_utf8(self.sources.get(id)).unwrap_or_default()
    }

    /// Trimmed installation_id of an installation.
    pub fn installation_text(&self, installation: u32) -> Cow<'_, [u8]> {
        self.corpus()
            .installation_text(self.installations.representative(installation))
    }

    /// The installation's GroupID for reporting (smallest upper-cased non-empty), or "".
    pub fn group_text(&self, installation: u32) -> &str {
        match self.facts[installation as usize].group {
            ingest::NO_GROUP => "",
            id => std::str::from_utf8(self.groups.get(id)).unwrap_or_default(),
        }
    }

    pub fn is_smets1(&self, installation: u32) -> bool {
        !self.facts[installation as usize].smets2
    }

    pub fn decision(&self, installation: u32) -> Decision {
        resolve::decide(self.findings[installation as usize])
    }

    /// SMETS1 installations in output order: source, then installation_id (byte order).
    ///
    /// Sorts fixed-size keys — the source's rank and the id's first 32 bytes as two
    /// big-endian `u128`s, zero-padded — so nearly every comparison is two integer
    /// compares; only equal keys (ids sharing 32 bytes, or differing only in trailing
    /// NULs) fall back to comparing the full text. Zero padding never contradicts byte
    /// order, so the fallback only refines ties.
    pub fn smets1_in_order(&self) -> Vec<u32> {
        let mut source_rank = vec![0u32; self.sources.len()];
        let mut by_text: Vec<u32> = (0..self.sources.len() as u32).collect();
        by_text.sort_by(|&a, &b| self.sources.get(a).cmp(self.sources.get(b)));
        for (rank, &id) in by_text.iter().enumerate() {
            source_rank[id as usize] = rank as u32;
        }
        let mut keys: Vec<(u32, u128, u128, u32)> = (0..self.installations.list.len() as u32)
            .into_par_iter()
            .filter(|&i| self.is_smets1(i))
            .map(|i| {
                let text = self.installation_text(i);
                let mut head = [0u8; 32];
                let n = text.len().min(32);
                head[..n].copy_from_slice(&text[..n]);
                let a = u128::from_be_bytes(head[..16].try_into().expect("16 bytes"));
                let b = u128::from_be_bytes(head[16..].try_into().expect("16 bytes"));
                let rank = source_rank[self.installations.list[i as usize].source as usize];
                (rank, a, b, i)
            })
            .collect();
        keys.par_sort_unstable_by(|x, y| {
            (x.0, x.1, x.2).cmp(&(y.0, y.1, y.2)).then_with(|| {
                self.installation_text(x.3)
                    .cmp(&self.installation_text(y.3))
            })
        });
        keys.into_iter().map(|k| k.3).collect()
    }

    /// The distinct canonical MPxNs the installation's meters carry, sorted as text.
    pub fn mpxns_of(&self, installation: u32) -> Vec<String> {
        let mut out: Vec<String> = self
            .installations
            .rows_of(installation)
            .iter()
            .filter_map(|&r| match self.rows[r as usize].mpxn() {
                ingest::MpxnField::Valid(key) => Some(key.to_string()),
                _ => None,
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}
