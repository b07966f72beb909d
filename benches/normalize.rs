//! Field normalisation: MPAN, MPRN, GUID and date parsing, in elements per second.

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use mpxn_recon::generate;
use mpxn_recon::normalize::{Day, Guid, Mpan, Mprn};

mod support;

const N: u64 = 1024;

fn guid(i: u64) -> [u8; 8] {
    ((0x000D_6F00u64 << 32) | (i.wrapping_mul(2_654_435_761) & 0xFFFF_FFFF)).to_be_bytes()
}

fn inputs(f: impl Fn(u64) -> String) -> Vec<String> {
    (0..N).map(f).collect()
}

fn bench(c: &mut Criterion) {
    let mpan13 = inputs(generate::mpan_of);
    // 21 characters: 8 supplementary digits then the core, spaced as printed on bills.
    let mpan21 = inputs(|i| {
        let core = generate::mpan_of(i);
        format!(
            "0{} 801 100 {} {} {}",
            i % 9,
            &core[..2],
            &core[2..6],
            &core[6..]
        )
    });
    let mprn_padded = inputs(|i| format!("00{}", generate::mprn_of(i)));
    let guid_hyphen = inputs(|i| {
        guid(i)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join("-")
    });
    let guid_colon = inputs(|i| {
        guid(i)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    });
    let dates = inputs(|i| Day(15_000 + (i as i32 * 7) % 5_000).to_string());
    let timestamps = inputs(|i| {
        format!(
            "{}T{:02}:{:02}:{:02}.{:03}+01:00",
            Day(15_000 + (i as i32 * 7) % 5_000),
            i % 24,
            i % 60,
            (i * 7) % 60,
            i % 1000
        )
    });

    // Every input must parse, or the bench would time the rejection path.
    for s in mpan13.iter().chain(&mpan21) {
        assert!(Mpan::parse(s.as_bytes()).is_some(), "{s}");
    }
    assert!(mprn_padded
        .iter()
        .all(|s| Mprn::parse(s.as_bytes()).is_some()));
    assert!(guid_hyphen
        .iter()
        .chain(&guid_colon)
        .all(|s| Guid::parse(s.as_bytes()).is_some()));
    assert!(dates
        .iter()
        .chain(&timestamps)
        .all(|s| Day::parse(s.as_bytes()).is_some()));

    let mut g = c.benchmark_group("normalize");
    g.throughput(Throughput::Elements(N));
    each(&mut g, "mpan_13", &mpan13, Mpan::parse);
    each(&mut g, "mpan_21_spaced", &mpan21, Mpan::parse);
    each(&mut g, "mprn_zero_padded", &mprn_padded, Mprn::parse);
    each(&mut g, "guid_hyphenated", &guid_hyphen, Guid::parse);
    each(&mut g, "guid_colon_lower", &guid_colon, Guid::parse);
    each(&mut g, "date", &dates, Day::parse);
    each(&mut g, "timestamp_rfc3339", &timestamps, Day::parse);
    g.finish();
}

/// Times `parse` over every input (generic, so the call is inlined as in ingest).
fn each<T>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    data: &[String],
    parse: impl Fn(&[u8]) -> Option<T>,
) {
    g.bench_function(name, |b| {
        b.iter(|| {
            for s in data {
                black_box(parse(black_box(s.as_bytes())));
            }
        })
    });
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = bench
}
criterion_main!(benches);
