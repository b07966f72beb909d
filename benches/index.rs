//! The `.mxi` index: image build (from the CSV inputs), file write, structural and verified opens, and
//! per-key lookups of MPANs from the data (`lookup::find` + `lookup::describe`, as the
//! `lookup` command runs them).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use mpxn_recon::index::build::Purpose;
use mpxn_recon::index::file::{self, IndexFile};
use mpxn_recon::lookup;
use mpxn_recon::sweep;

mod support;

/// Lookup keys per timed batch.
const KEYS: usize = 1000;

fn bench(c: &mut Criterion) {
    let data = support::Dataset::new(support::ROWS);
    let config = data.sweep_config();
    let built = sweep::run(&config, Purpose::Index).expect("sweep");
    let rows = built.accounting.read;
    let out = tempfile::tempdir().expect("temp dir");
    let path = out.path().join("bench.mxi");

    let mut g = c.benchmark_group("index");
    // Runs take milliseconds to a fifth of a second: a fixed count per sample.
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(rows));
    // The whole CSV pipeline since the rework: the image is built partition by
    // partition while the rows are grouped, so it cannot be timed apart from them.
    g.bench_function("csv_to_image_per_row", |b| {
        b.iter(|| black_box(sweep::run(&config, Purpose::Index).expect("sweep")))
    });
    let image = built.image.into_image();
    let size = file::write(&image, &path).expect("write index");
    g.throughput(Throughput::Bytes(size));
    g.bench_function("file_write", |b| {
        b.iter(|| black_box(file::write(&image, &path).expect("write index")))
    });
    drop(image);
    // Reads every byte (CRC-32C of each section).
    g.bench_function("open_verified", |b| {
        b.iter(|| {
            let f = IndexFile::open_verified(&path).expect("open");
            black_box(f.view().expect("view").installation_count())
        })
    });

    // Maps the file and checks its table of sections: per open, not per byte.
    g.throughput(Throughput::Elements(1));
    g.bench_function("open_structural", |b| {
        b.iter(|| {
            let f = IndexFile::open(&path).expect("open");
            black_box(f.view().expect("view").installation_count())
        })
    });

    let index = IndexFile::open_verified(&path).expect("open");
    let view = index.view().expect("view");
    let groups = lookup::Groups::of(&view).expect("groups");
    let as_of = support::as_of();
    let mpans = data.esme_mpans();
    assert!(!mpans.is_empty(), "no ESME MPANs in the generated data");
    let keys: Vec<&str> = support::pick(KEYS, mpans.len())
        .into_iter()
        .map(|i| mpans[i].as_str())
        .collect();
    for k in &keys {
        assert!(
            !lookup::find(&view, k).expect("find").is_empty(),
            "{k} not found"
        );
    }
    g.throughput(Throughput::Elements(KEYS as u64));
    g.bench_function("lookup_find_per_key", |b| {
        b.iter(|| {
            for k in &keys {
                black_box(lookup::find(&view, black_box(k)).expect("find"));
            }
        })
    });
    g.bench_function("lookup_find_describe_per_key", |b| {
        b.iter(|| {
            for k in &keys {
                for hit in lookup::find(&view, black_box(k)).expect("find") {
                    for &inst in &hit.installations {
                        black_box(lookup::describe(&view, &groups, inst, as_of).expect("describe"));
                    }
                }
            }
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
