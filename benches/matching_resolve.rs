//! Grouping and matching (`matching::group_installations`, `KeyBuckets::find_matches`) over
//! the ingested rows taken as one partition, and the as-of judgement (`judge::judge`) and report writing
//! (`report::write_all`) over an in-memory sweep image. Throughput in input rows.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use mpxn_recon::index::build::Purpose;
use mpxn_recon::ingest;
use mpxn_recon::judge;
use mpxn_recon::matching::{self, Corpus};
use mpxn_recon::report;
use mpxn_recon::sweep;

mod support;

fn bench(c: &mut Criterion) {
    let data = support::Dataset::new(support::ROWS);
    let config = data.sweep_config();
    let (registry, files) = data.open_inputs();
    let one_partition = ingest::IngestSettings {
        partition_bytes: usize::MAX,
        ..config.ingest
    };
    let budget = mpxn_recon::spill::Budget::unlimited();
    let mut ingested = ingest::ingest(&files, &registry, one_partition, &budget).expect("ingest");
    let all_rows = ingested.partitions.take(0).expect("in memory");
    let corpus = Corpus {
        files: &files,
        registry: &registry,
        rows: &all_rows,
    };
    let grouped = matching::group_installations(corpus);
    let ranks = ingested.sources.ranks_by_text();
    let installations = matching::in_output_order(&grouped, &ranks);
    let keys = matching::partition_keys(&all_rows, &installations);
    let count = installations.list.len();
    let rows = all_rows.len() as u64;

    let mut g = c.benchmark_group("matching_resolve");
    // Runs take milliseconds to a fifth of a second: a fixed count per sample.
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(rows));
    g.bench_function("group_installations", |b| {
        b.iter(|| black_box(matching::group_installations(corpus)))
    });
    g.bench_function("find_matches", |b| {
        b.iter(|| {
            let dir = std::env::temp_dir();
            let mut buckets = matching::KeyBuckets::new(rows, u64::MAX, &dir);
            buckets.add(0, &keys).expect("in memory");
            black_box(buckets.find_matches(&[0], count, true).expect("in memory"))
        })
    });

    let image = sweep::run(&config, Purpose::Sweep).expect("sweep").image;
    let view = image.view().expect("view");
    let as_of = support::as_of();
    g.throughput(Throughput::Elements(view.installation_count() as u64));
    g.bench_function("judge_per_installation", |b| {
        b.iter(|| black_box(judge::judge(&view, as_of).expect("judge")))
    });
    let judgement = judge::judge(&view, as_of).expect("judge");
    let out = tempfile::tempdir().expect("temp dir");
    g.bench_function("report_write_all_per_installation", |b| {
        b.iter(|| {
            black_box(report::write_dir(&view, &judgement, as_of, out.path()).expect("report"))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = bench
}
criterion_main!(benches);
