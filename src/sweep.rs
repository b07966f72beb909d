//! The sweep: runs the CSV stages in order and holds what they produced.
//!
//! Takes a [`SweepConfig`] (input paths); reads the registry and every inventory header
//! first — a refusal happens before anything is parsed or written — then ingests,
//! groups, matches and collects each installation's facts. Hands on a [`Sweep`]: the
//! evidence, independent of any as-of date, that `index::build` lays out as an index
//! image. Judging that image against an as-of date is `judge::judge`; the CSV
//! sweep and the index sweep share everything from the image on. A `Sweep` keeps the
//! input files mapped, because rows point into them instead of copying text.

use std::path::PathBuf;

use rayon::prelude::*;

use crate::delimited::InputError;
use crate::ingest::{self, IngestSettings, Ingested, Interned, InventoryFile};
use crate::matching::{self, Corpus, Installations, Matches};
use crate::normalize::MpxnText;
use crate::registry::Registry;
use crate::resolve::{self, InstallationFacts};
use crate::timing;

/// What to read.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    pub inventories: Vec<PathBuf>,
    pub suppliers: PathBuf,
    pub ingest: IngestSettings,
}

pub use crate::index::format::Accounting;

/// A finished CSV sweep: every stage's output.
pub struct Sweep {
    pub suppliers: PathBuf,
    pub files: Vec<InventoryFile>,
    pub registry: Registry,
    /// The rows, rejects, interned texts and checksums, as ingest handed them on.
    pub ingested: Ingested,
    /// In output order (source, then installation_id): installation `i` is the `i`-th
    /// decision row.
    pub installations: Installations,
    pub matches: Matches,
    /// Per installation, what its own rows say.
    pub facts: Vec<InstallationFacts>,
}

impl Sweep {
    /// Fails naming the first inventory rewritten in place since it was mapped: what
    /// was read from it cannot be trusted to be one version of the file.
    pub fn check_inputs_unchanged(&self) -> Result<(), InputError> {
        for f in &self.files {
            if !f
                .bytes
                .unchanged()
                .map_err(|e| InputError::io(&f.path, e))?
            {
                return Err(InputError::Changed {
                    path: f.path.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Runs the CSV stages in memory. Fails only on a refusal (a bad header or registry)
/// or an unreadable file; bad rows are counted and kept as rejects.
pub fn run(config: &SweepConfig) -> Result<Sweep, InputError> {
    let registry = Registry::open(&config.suppliers)?;
    let files = config
        .inventories
        .iter()
        .map(|p| InventoryFile::open(p))
        .collect::<Result<Vec<_>, _>>()?;
    let t = timing::stage("ingest");
    let ingested = ingest::ingest(&files, &registry, config.ingest);
    drop(t);
    let corpus = Corpus {
        files: &files,
        registry: &registry,
        rows: &ingested.rows,
    };
    let t = timing::stage("group installations");
    let grouped = matching::group_installations(corpus);
    drop(t);
    // Renumber installations into output order now, so that every later stage (and
    // the index layout) walks them front to back.
    let t = timing::stage("output order");
    let order = output_order(&grouped, &ingested.sources);
    let installations = grouped.reordered(&order);
    drop((grouped, order));
    drop(t);
    let t = timing::stage("find matches");
    let matches = matching::find_matches(&ingested.rows, &installations);
    drop(t);
    let _t = timing::stage("installation facts");

    let smets2_sources: Vec<bool> = (0..ingested.sources.len() as u32)
        .map(|id| ingested.sources.get(id) == b"SMETS2")
        .collect();
    // Rank of each interned GroupID in byte order, so "smallest" is a number compare.
    let group_order = ingested.groups.ranks_by_text();
    let facts = resolve::installation_facts(
        &ingested.rows,
        &installations,
        &smets2_sources,
        &group_order,
        &registry,
    );
    Ok(Sweep {
        suppliers: config.suppliers.clone(),
        files,
        registry,
        ingested,
        installations,
        matches,
        facts,
    })
}

impl Sweep {
    pub fn corpus(&self) -> Corpus<'_> {
        Corpus {
            files: &self.files,
            registry: &self.registry,
            rows: &self.ingested.rows,
        }
    }

    pub fn accounting(&self) -> Accounting {
        let accepted = self.installations.rows.len() as u64;
        Accounting {
            read: self.ingested.rows_read,
            accepted,
            rejected: self.ingested.rejects.len() as u64,
            duplicate_rows: self.installations.duplicate_rows,
        }
    }

    /// Trimmed installation_id of an installation.
    pub fn installation_text(&self, installation: u32) -> &[u8] {
        self.installations.id(installation)
    }

    /// Writes the distinct canonical MPxNs the installation's meters carry, sorted as
    /// text and `;`-joined, into `out`. `keys` is scratch, so nothing is allocated per
    /// installation once it has grown.
    pub fn mpxns_into(&self, installation: u32, keys: &mut Vec<MpxnText>, out: &mut Vec<u8>) {
        keys.clear();
        keys.extend(
            self.installations
                .rows_of(installation)
                .iter()
                .filter_map(|&r| match self.ingested.rows[r as usize].mpxn() {
                    ingest::MpxnField::Valid(key) => Some(key.text()),
                    _ => None,
                }),
        );
        keys.sort_unstable();
        keys.dedup();
        out.clear();
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                out.push(b';');
            }
            out.extend_from_slice(key.as_bytes());
        }
    }
}

/// Every installation in output order (SPEC §7: source, then installation_id, in byte
/// order), as old installation numbers.
///
/// Sorts fixed-size keys — the source's rank and the id's first 32 bytes as two
/// big-endian `u128`s, zero-padded — so nearly every comparison is two integer
/// compares; only equal keys (ids sharing 32 bytes, or differing only in trailing
/// NULs) fall back to comparing the full text. Zero padding never contradicts byte
/// order, so the fallback only refines ties.
fn output_order(installations: &Installations, sources: &Interned) -> Vec<u32> {
    let source_rank = sources.ranks_by_text();
    let mut keys: Vec<(u32, u128, u128, u32)> = (0..installations.list.len() as u32)
        .into_par_iter()
        .map(|i| {
            let text = installations.id(i);
            let mut head = [0u8; 32];
            let n = text.len().min(32);
            head[..n].copy_from_slice(&text[..n]);
            let a = u128::from_be_bytes(head[..16].try_into().expect("16 bytes"));
            let b = u128::from_be_bytes(head[16..].try_into().expect("16 bytes"));
            let rank = source_rank[installations.list[i as usize].source as usize];
            (rank, a, b, i)
        })
        .collect();
    keys.par_sort_unstable_by(|x, y| {
        (x.0, x.1, x.2)
            .cmp(&(y.0, y.1, y.2))
            .then_with(|| installations.id(x.3).cmp(installations.id(y.3)))
    });
    keys.into_iter().map(|k| k.3).collect()
}
