//! The sweep: runs the CSV stages in order, one partition of installations at a time.
//!
//! Takes a [`SweepConfig`] (input paths); reads the registry and every inventory header
//! first — a refusal happens before anything is parsed or written — then ingests every
//! file into partitions of installations (`ingest`, cut by `partition`'s plan). Each
//! partition is then taken on its own, in parallel with the others: its rows are
//! grouped into installations and identical rows collapsed, sorted into output order,
//! their own facts found (`resolve`), their MPxN and GUID keys drawn (`matching`) and
//! their columns laid out (`index::build`), after which its rows are freed. What crosses
//! partitions — duplicate GUIDs and shared MPxNs — is matched on the keys alone, and
//! `index::build::assemble` puts the parts together in output order. Hands on the index
//! [`Image`]: the evidence, independent of any as-of date, that `judge::judge` reads.

use std::ops::Range;
use std::path::PathBuf;

use rayon::prelude::*;

use crate::delimited::InputError;
use crate::index::build::{
    self, Dictionaries, Inputs, InstallationPart, PartitionEvidence, Purpose,
};
use crate::index::Image;
use crate::ingest::{self, IngestSettings, InventoryFile, Row};
use crate::matching::{self, Corpus, KeyBuckets, PartitionKeys};
use crate::registry::Registry;
use crate::resolve;
use crate::spill::{Buckets, Budget};
use crate::timing;

/// What to read, and within what memory.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    pub inventories: Vec<PathBuf>,
    pub suppliers: PathBuf,
    pub ingest: IngestSettings,
    pub budget: Budget,
}

pub use crate::index::format::Accounting;

/// A finished CSV sweep: the image and its row accounting.
pub struct Built {
    pub image: Image,
    pub accounting: Accounting,
}

/// Runs the CSV stages and lays the evidence out as an image for `purpose`. Fails only
/// on a refusal (a bad header or registry), an unreadable file, or an input rewritten
/// while it was read; bad rows are counted and kept as rejects.
pub fn run(config: &SweepConfig, purpose: Purpose) -> Result<Built, InputError> {
    let registry = Registry::open(&config.suppliers)?;
    let files = config
        .inventories
        .iter()
        .map(|p| InventoryFile::open(p))
        .collect::<Result<Vec<_>, _>>()?;
    let t = timing::stage("ingest");
    let budget = &config.budget;
    let mut ingested = ingest::ingest(&files, &registry, config.ingest, budget)?;
    drop(t);
    let spilled_rows = ingested.partitions.spilled_bytes();
    let mut partitions =
        std::mem::replace(&mut ingested.partitions, Buckets::new(0, 0, &budget.dir));
    let dict = Dictionaries::of(&ingested, &registry);
    let smets2_sources: Vec<bool> = (0..ingested.sources.len() as u32)
        .map(|id| ingested.sources.get(id) == b"SMETS2")
        .collect();
    let context = Context {
        files: &files,
        registry: &registry,
        dict: &dict,
        smets2_sources: &smets2_sources,
        // Rank of each interned GroupID in byte order, so "smallest" is a number compare.
        group_order: &ingested.groups.ranks_by_text(),
        with_devices: purpose == Purpose::Index,
    };

    // Partitions a few at a time (one per thread), in parallel; their keys go to key
    // buckets in partition order, so nothing depends on the thread count.
    let t = timing::stage("partitions: group, order, facts, lay out");
    let spill = |e| InputError::spill(&budget.dir, e);
    let mut keys = KeyBuckets::new(ingested.rows_read, budget.spillable() / 2, &budget.dir);
    let mut runs: Vec<Run> = Vec::new();
    let threads = rayon::current_num_threads().max(1);
    for first in (0..partitions.count()).step_by(threads) {
        let batch = (first..(first + threads).min(partitions.count()))
            .map(|p| Ok((p, partitions.take(p)?)))
            .collect::<std::io::Result<Vec<(usize, Vec<Row>)>>>()
            .map_err(spill)?;
        let done: Vec<Vec<Run>> = batch
            .into_par_iter()
            .map(|(p, rows)| context.partition(p, rows))
            .collect();
        for mut run in done.into_iter().flatten() {
            keys.add(runs.len() as u32, &run.keys).map_err(spill)?;
            run.keys = PartitionKeys::default();
            runs.push(run);
        }
    }
    drop(partitions);
    drop(t);

    let t = timing::stage("find matches");
    // Output order is source first: each source's runs, in partition (= id) order.
    let mut order: Vec<u32> = (0..runs.len() as u32).collect();
    order.sort_by_key(|&r| (runs[r as usize].source_rank, runs[r as usize].partition));
    let mut bases = vec![0u32; runs.len()];
    let mut installations = 0u32;
    for &r in &order {
        bases[r as usize] = installations;
        installations += runs[r as usize].part.installations();
    }
    let spilled_keys = keys.spilled_bytes();
    let matches = keys
        .find_matches(&bases, installations as usize, purpose == Purpose::Index)
        .map_err(spill)?;
    drop(t);
    crate::timing::note(&format!(
        "spilled: {spilled_rows} bytes of rows, {spilled_keys} bytes of keys (limit {} MB)",
        budget.limit.min(u64::MAX >> 1) >> 20
    ));

    let accounting = Accounting {
        read: ingested.rows_read,
        accepted: runs.iter().map(|r| r.accepted).sum(),
        rejected: ingested.rejects.len() as u64,
        duplicate_rows: runs.iter().map(|r| r.duplicate_rows).sum(),
    };
    let mut slots: Vec<Option<Run>> = runs.into_iter().map(Some).collect();
    let parts: Vec<InstallationPart> = order
        .iter()
        .map(|&r| slots[r as usize].take().expect("each run once").part)
        .collect();
    let inputs = Inputs {
        suppliers: &config.suppliers,
        files: &files,
        registry: &registry,
        ingested: &ingested,
        accounting,
    };
    let image = build::assemble(&inputs, &dict, parts, &matches, purpose);
    check_inputs_unchanged(&files)?;
    Ok(Built { image, accounting })
}

/// What every partition's work reads.
struct Context<'a> {
    files: &'a [InventoryFile],
    registry: &'a Registry,
    dict: &'a Dictionaries,
    smets2_sources: &'a [bool],
    group_order: &'a [u32],
    with_devices: bool,
}

/// One source's installations of one partition, laid out, with their keys.
struct Run {
    source_rank: u32,
    partition: usize,
    part: InstallationPart,
    keys: PartitionKeys,
    /// Distinct accepted rows, and rows dropped as identical to one kept.
    accepted: u64,
    duplicate_rows: u64,
}

impl Context<'_> {
    /// Groups, orders and lays out one partition's rows (freed on return), as one run
    /// per source.
    fn partition(&self, partition: usize, rows: Vec<Row>) -> Vec<Run> {
        let corpus = Corpus {
            files: self.files,
            registry: self.registry,
            rows: &rows,
        };
        let grouped = matching::group_installations(corpus);
        let installations = matching::in_output_order(&grouped, self.dict.source_ranks());
        drop(grouped);
        let facts = resolve::installation_facts(
            &rows,
            &installations,
            self.smets2_sources,
            self.group_order,
            self.registry,
        );
        let keys = matching::partition_keys(&rows, &installations);
        let evidence = PartitionEvidence {
            rows: &rows,
            installations: &installations,
            facts: &facts,
            keys: &keys,
        };
        let mut runs = Vec::new();
        for range in source_runs(&installations.list) {
            let rank =
                self.dict.source_ranks()[installations.list[range.start as usize].source as usize];
            let rows_in_run = &installations.list[range.start as usize..range.end as usize];
            runs.push(Run {
                source_rank: rank,
                partition,
                part: build::installation_part(
                    &evidence,
                    self.dict,
                    range.clone(),
                    self.with_devices,
                ),
                keys: keys.slice(range),
                accepted: rows_in_run
                    .iter()
                    .map(|i| u64::from(i.rows.end - i.rows.start))
                    .sum(),
                duplicate_rows: 0,
            });
        }
        if let Some(first) = runs.first_mut() {
            first.duplicate_rows = installations.duplicate_rows;
        }
        runs
    }
}

/// The ranges of consecutive installations with the same source.
fn source_runs(list: &[matching::Installation]) -> Vec<Range<u32>> {
    let mut runs = Vec::new();
    let mut start = 0usize;
    for run in list.chunk_by(|a, b| a.source == b.source) {
        runs.push(start as u32..(start + run.len()) as u32);
        start += run.len();
    }
    runs
}

/// Fails naming the first inventory rewritten in place since it was mapped: what was
/// read from it cannot be trusted to be one version of the file.
fn check_inputs_unchanged(files: &[InventoryFile]) -> Result<(), InputError> {
    for f in files {
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
