//! Ingest throughput in bytes of CSV: the per-line parse alone (`RowParser` over every
//! line, one thread), `ingest::ingest` alone (on all cores and on one), and the whole CSV
//! sweep (`sweep::run`: registry, ingest, grouping, matching,
//! per-installation facts).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use mpxn_recon::index::build::Purpose;
use mpxn_recon::ingest;
use mpxn_recon::sweep;

mod support;

fn bench(c: &mut Criterion) {
    let data = support::Dataset::new(support::ROWS);
    let config = data.sweep_config();
    let (registry, files) = data.open_inputs();

    let mut g = c.benchmark_group("parse");
    // Runs take milliseconds to a fifth of a second: a fixed count per sample.
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(data.generated.bytes));
    // Bytes per core per second of the line split and field normalisation alone: one
    // `RowParser` per file over every body line on this thread (split, trim, normalise
    // MPxN/GUID/dates, intern, fingerprint), without chunk jobs, line counting, UTF-8
    // and checksum passes, chaining, merging or grouping.
    g.bench_function("row_parser_200k_rows_one_core", |b| {
        b.iter(|| {
            let accepted: u64 = files
                .iter()
                .map(|f| ingest::parse_file_lines(f, &registry))
                .sum();
            black_box(accepted)
        })
    });
    g.bench_function("ingest_200k_rows", |b| {
        b.iter(|| {
            black_box(ingest::ingest(
                &files,
                &registry,
                config.ingest,
                &config.budget,
            ))
        })
    });
    // Bytes per core per second of the parse alone (split, UTF-8, trim, normalise,
    // intern): the figure the bounded-memory rework's "twice as fast a parse" is
    // measured against.
    let one_core = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    g.bench_function("ingest_200k_rows_one_core", |b| {
        b.iter(|| {
            one_core.install(|| {
                black_box(ingest::ingest(
                    &files,
                    &registry,
                    config.ingest,
                    &config.budget,
                ))
            })
        })
    });
    g.bench_function("sweep_run_200k_rows", |b| {
        b.iter(|| black_box(sweep::run(&config, Purpose::Sweep).expect("sweep")))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = bench
}
criterion_main!(benches);
