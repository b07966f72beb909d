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
    self, Dictionaries, Inputs, InstallationPart, PartStore, PartitionEvidence, Purpose,
};
use crate::index::file::{IndexFile, Reads, SectionFile, SectionVecs};
use crate::index::{Image, Section, View};
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
    /// The as-of date, when the sweep knows it before the image is made: findings.csv's
    /// FUTURE_COMMS candidates dated on or before it are then left out of the image.
    /// `None` (an index, or not known) keeps them all; the output is the same.
    pub comms_after: Option<crate::normalize::Day>,
}

pub use crate::index::format::Accounting;

/// A finished CSV sweep: the image and its row accounting.
pub struct Built {
    pub image: Evidence,
    pub accounting: Accounting,
}

/// The image a sweep judges: in memory, or — when it would not fit the budget — in an
/// unlinked spill file, mapped (its pages are then the kernel's to drop and read back,
/// not the run's memory).
pub enum Evidence {
    Memory(Image),
    File(IndexFile),
}

impl Evidence {
    pub fn view(&self) -> Result<View<'_>, anyhow::Error> {
        match self {
            Evidence::Memory(image) => Ok(image.view()?),
            Evidence::File(file) => Ok(file.view()?),
        }
    }

    /// Every section's bytes, in id order, wherever they are.
    pub fn sections(&self) -> Vec<&[u8]> {
        match self {
            Evidence::Memory(image) => image.sections.iter().map(Vec::as_slice).collect(),
            Evidence::File(file) => Section::ALL
                .iter()
                .map(|&s| file.section_bytes(s))
                .collect(),
        }
    }

    /// The sections in memory: what [`run`] makes within an unlimited budget always is.
    pub fn into_image(self) -> Image {
        match self {
            Evidence::Memory(image) => image,
            Evidence::File(_) => unreachable!("an image spilled to a file is not in memory"),
        }
    }
}

/// Runs the CSV stages and lays the evidence out as an image for `purpose`. Fails only
/// on a refusal (a bad header or registry), an unreadable file, or an input rewritten
/// while it was read; bad rows are counted and kept as rejects.
pub fn run(config: &SweepConfig, purpose: Purpose) -> Result<Built, InputError> {
    match make(config, purpose, None)? {
        (Made::Evidence(image), accounting) => Ok(Built { image, accounting }),
        (Made::Written(_), _) => unreachable!("no file was given"),
    }
}

/// Runs the CSV stages and writes every section of the index ([`Purpose::Index`])
/// straight into `file` as it is made, so the image is never held in memory. Fails
/// (outer) on what `run` fails on; the inner result is the writing of `file`: its
/// length and the file (written, not synced), or the error writing it.
pub fn write_index(
    config: &SweepConfig,
    file: std::fs::File,
) -> Result<(std::io::Result<(std::fs::File, u64)>, Accounting), InputError> {
    match make(config, Purpose::Index, Some(file))? {
        (Made::Written(written), accounting) => Ok((written, accounting)),
        (Made::Evidence(_), _) => unreachable!("a file was given"),
    }
}

/// What [`make`] made: an image to judge, or an index file written (or the error that
/// stopped the writing).
enum Made {
    Evidence(Evidence),
    Written(std::io::Result<(std::fs::File, u64)>),
}

fn make(
    config: &SweepConfig,
    purpose: Purpose,
    into: Option<std::fs::File>,
) -> Result<(Made, Accounting), InputError> {
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
    let finding_inputs =
        build::FindingInputs::new(&files, &registry, &ingested.lines, config.comms_after);
    let context = Context {
        finding_inputs: &finding_inputs,
        files: &files,
        registry: &registry,
        dict: &dict,
        smets2_sources: &smets2_sources,
        // Rank of each interned GroupID in byte order, so "smallest" is a number compare.
        group_order: &ingested.groups.ranks_by_text(),
        with_devices: purpose == Purpose::Index,
    };

    // Partitions a few at a time (four per thread), in parallel; their keys go to key
    // buckets in partition order, so nothing depends on the thread count.
    let t = timing::counted(
        "partitions: group, order, facts, lay out",
        partitions.count() as u64,
        timing::Unit::Items,
    );
    let spill = |e| InputError::spill(&budget.dir, e);
    let mut keys = KeyBuckets::new(ingested.rows_read, budget.spillable() / 2, &budget.dir);
    let mut runs: Vec<Run> = Vec::new();
    let mut parts = PartStore::new(budget.limit / 4, &budget.dir);
    let batch = rayon::current_num_threads().max(1) * 4;
    for first in (0..partitions.count()).step_by(batch) {
        let range = first..(first + batch).min(partitions.count());
        let taken = range.len() as u64;
        let rows = partitions.take_batch(range.clone()).map_err(spill)?;
        let done: Vec<Vec<(Run, InstallationPart, PartitionKeys)>> = range
            .into_par_iter()
            .zip(rows)
            .map(|(p, rows)| context.partition(p, rows))
            .collect();
        for (run, part, run_keys) in done.into_iter().flatten() {
            keys.add(runs.len() as u32, &run_keys).map_err(spill)?;
            parts.push(part).map_err(spill)?;
            runs.push(run);
        }
        timing::advance(taken, || {
            "partitions: group, order, facts, lay out".to_string()
        });
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
        installations += parts.installations(r);
    }
    let spilled_keys = keys.spilled_bytes();
    let matches = keys
        .find_matches(&bases, installations as usize, purpose == Purpose::Index)
        .map_err(spill)?;
    drop(t);
    crate::timing::note(&format!(
        "spilled: {spilled_rows} bytes of rows, {spilled_keys} bytes of keys, {} bytes of \
         laid-out parts (limit {} MB)",
        parts.spilled_bytes(),
        budget.limit.min(u64::MAX >> 1) >> 20
    ));

    let accounting = Accounting {
        read: ingested.rows_read,
        accepted: runs.iter().map(|r| r.accepted).sum(),
        rejected: ingested.rejects.len() as u64,
        duplicate_rows: runs.iter().map(|r| r.duplicate_rows).sum(),
    };
    drop(runs);
    let inputs = Inputs {
        suppliers: &config.suppliers,
        files: &files,
        registry: &registry,
        ingested: &ingested,
        accounting,
    };
    // Into the given file (`index build`); else an image that would take more than a
    // quarter of the limit goes to a spill file (a sweep's, or the full one per-party
    // notices read), and a smaller one stays in memory.
    let made = if let Some(file) = into {
        // Errors writing the file are the caller's to name; errors reading back spilled
        // parts are the spill folder's.
        let written = SectionFile::new(file).and_then(|mut sink| {
            let assembled =
                build::assemble(&inputs, &dict, &parts, &order, &matches, purpose, &mut sink);
            match (assembled, sink.failed()) {
                (Err(e), false) => Ok(Err(e)),
                (Err(e), true) => Err(e),
                (Ok(()), _) => sink.finish().map(Ok),
            }
        });
        match written {
            Ok(Ok((file, len))) => Made::Written(Ok((file, len))),
            Ok(Err(e)) => return Err(spill(e)),
            Err(e) => Made::Written(Err(e)),
        }
    } else if parts.image_bytes() > budget.limit / 4 {
        let file = crate::spill::unnamed_file(&budget.dir).map_err(spill)?;
        let mut sink = SectionFile::new(file).map_err(spill)?;
        build::assemble(&inputs, &dict, &parts, &order, &matches, purpose, &mut sink)
            .map_err(spill)?;
        let (file, _) = sink.finish().map_err(spill)?;
        let label = budget.dir.join("(the sweep's image, spilled)");
        let reads = match purpose {
            Purpose::Sweep => Reads::SweepSections,
            Purpose::Index => Reads::Everything,
        };
        let file = IndexFile::of_private_file(&label, file, reads)
            .map_err(|e| InputError::spill(&budget.dir, std::io::Error::other(e.to_string())))?;
        Made::Evidence(Evidence::File(file))
    } else {
        let mut sink = SectionVecs::default();
        build::assemble(&inputs, &dict, &parts, &order, &matches, purpose, &mut sink)
            .map_err(spill)?;
        Made::Evidence(Evidence::Memory(sink.into_image()))
    };
    drop(parts);
    check_inputs_unchanged(&files)?;
    Ok((made, accounting))
}

/// What every partition's work reads.
struct Context<'a> {
    finding_inputs: &'a build::FindingInputs<'a>,
    files: &'a [InventoryFile],
    registry: &'a Registry,
    dict: &'a Dictionaries,
    smets2_sources: &'a [bool],
    group_order: &'a [u32],
    with_devices: bool,
}

/// One source's installations of one partition (laid out beside it, in a
/// [`PartStore`], with the same number).
struct Run {
    source_rank: u32,
    partition: usize,
    /// Distinct accepted rows, and rows dropped as identical to one kept.
    accepted: u64,
    duplicate_rows: u64,
}

impl Context<'_> {
    /// Groups, orders and lays out one partition's rows (freed on return), as one run
    /// per source.
    fn partition(
        &self,
        partition: usize,
        rows: Vec<Row>,
    ) -> Vec<(Run, InstallationPart, PartitionKeys)> {
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
            finding_inputs: self.finding_inputs,
        };
        let mut runs = Vec::new();
        for range in source_runs(&installations.list) {
            let rank =
                self.dict.source_ranks()[installations.list[range.start as usize].source as usize];
            let rows_in_run = &installations.list[range.start as usize..range.end as usize];
            let run = Run {
                source_rank: rank,
                partition,
                accepted: rows_in_run
                    .iter()
                    .map(|i| u64::from(i.rows.end - i.rows.start))
                    .sum(),
                duplicate_rows: 0,
            };
            let part =
                build::installation_part(&evidence, self.dict, range.clone(), self.with_devices);
            runs.push((run, part, keys.slice(range)));
        }
        if let Some((first, _, _)) = runs.first_mut() {
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
