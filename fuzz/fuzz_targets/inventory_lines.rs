//! Fuzz target: the bytes are one inventory file (CSV or pipe-delimited, SPEC §3.1),
//! swept against the sample's supplier registry the way `mpxn-recon sweep` ingests it.
//!
//! Checks, beyond "never panics":
//! - every line through `delimited::split_line` (both delimiters): an error only for
//!   malformed quoting of a line that has a quote; a split line written back with
//!   `push_record` splits to the same fields;
//! - the sweep refuses the file exactly when `Header::parse` refuses its header;
//! - row accounting: `rows_read = accepted + rejected + duplicate_rows`; `rows_read` is
//!   the number of body lines; every line is an accepted row or a reject; rejects are
//!   numbered 2.. in increasing order;
//! - the image built from the sweep is a valid view; judging and reporting it never
//!   fail; lookups and per-party reports agree with the sweep's judgement;
//! - the sweep image (`Purpose::Sweep`) and the index image (`Purpose::Index`) write
//!   the same decisions, duplicates and summary;
//! - parse chunks of 1 byte (one chunk per line) give the same index image, byte for
//!   byte, as the default 4 MiB chunks;
//! - the image written as a `.mxi` file, opened and verified, writes the same outputs.

use afl::fuzz;
use fuzz_common::{policy, scratch_file, walk_lookups, walk_sweep, Scratch, SAMPLE_SUPPLIERS};
use mpxn_recon::delimited::{line_at, push_record, split_line, Header, RejectReason};
use mpxn_recon::index::build::Purpose;
use mpxn_recon::index::file::{self, IndexFile};
use mpxn_recon::index::{Section, View};
use mpxn_recon::ingest::{self, Column, IngestSettings, InventoryFile};
use mpxn_recon::registry::Registry;
use mpxn_recon::spill::Budget;
use mpxn_recon::sweep::{self, SweepConfig};

/// Which columns must be present: every one but `last_comms_at` and `dormant`
/// (`ingest::Column::required` is private, so restated here).
fn required(column: Column) -> bool {
    !matches!(column, Column::LastCommsAt | Column::Dormant)
}

fn check_lines(data: &[u8]) {
    let mut scratch = Vec::new();
    let mut fields = Vec::new();
    let mut scratch2 = Vec::new();
    let mut fields2 = Vec::new();
    let mut offset = 0;
    while offset < data.len() {
        let (line, next) = line_at(data, offset);
        assert!(
            next > offset && next <= data.len(),
            "line_at makes progress"
        );
        assert!(!line.contains(&b'\n'), "a line holds no LF");
        offset = next;
        for delimiter in [b',', b'|'] {
            match split_line(line, delimiter, &mut scratch, &mut fields) {
                Err(reason) => {
                    assert_eq!(reason, RejectReason::MalformedQuoting);
                    assert!(line.contains(&b'"'), "only a quote can be malformed");
                }
                Ok(()) => {
                    assert!(!fields.is_empty(), "a line has at least one field");
                    let texts: Vec<&[u8]> =
                        fields.iter().map(|f| f.bytes(line, &scratch)).collect();
                    for f in &fields {
                        if let Some((s, e)) = f.in_line() {
                            assert!(s <= e && e as usize <= line.len());
                        }
                    }
                    let mut record = Vec::new();
                    push_record(&mut record, &texts);
                    assert_eq!(record.pop(), Some(b'\n'));
                    split_line(&record, b',', &mut scratch2, &mut fields2)
                        .expect("a record push_record wrote splits");
                    let again: Vec<&[u8]> = fields2
                        .iter()
                        .map(|f| f.bytes(&record, &scratch2))
                        .collect();
                    assert_eq!(
                        again, texts,
                        "push_record then split_line changes the fields"
                    );
                }
            }
        }
    }
}

fn main() {
    let _scratch = Scratch;
    let suppliers = scratch_file("suppliers.csv", SAMPLE_SUPPLIERS);
    let names: Vec<&'static str> = Column::ALL.iter().map(|c| c.name()).collect();
    let required: Vec<bool> = Column::ALL.iter().map(|&c| required(c)).collect();
    fuzz!(|data: &[u8]| {
        check_lines(data);
        let inventory = scratch_file("inventory.csv", data);
        let config = |chunk_bytes, partition_bytes, limit| SweepConfig {
            inventories: vec![inventory.clone()],
            suppliers: suppliers.clone(),
            ingest: IngestSettings {
                chunk_bytes,
                partition_bytes,
            },
            budget: Budget {
                limit,
                ..Budget::unlimited()
            },
            comms_after: None,
        };
        let defaults = IngestSettings::default();
        let header = Header::parse(&inventory, data, &names, &required);
        let built = match sweep::run(
            &config(defaults.chunk_bytes, defaults.partition_bytes, u64::MAX),
            Purpose::Index,
        ) {
            Err(e) => {
                assert!(
                    header.is_err(),
                    "the sweep refused a file whose header parses: {e}"
                );
                let _ = e.to_string();
                return;
            }
            Ok(built) => built,
        };
        let header = header.expect("the sweep accepted this header");

        // Row accounting.
        let body = &data[header.body_start..];
        let lines = memchr_count(body) + usize::from(body.last().is_some_and(|&b| b != b'\n'));
        let a = built.accounting;
        assert_eq!(
            a.read, lines as u64,
            "rows_read is the number of body lines"
        );
        assert_eq!(
            a.read,
            a.accepted + a.rejected + a.duplicate_rows,
            "rows_read = accepted + rejected + duplicate_rows: {a:?}"
        );
        let registry = Registry::open(&suppliers).expect("the sample registry");
        let files = [InventoryFile::open(&inventory).expect("the sweep opened it")];
        let ingested = ingest::ingest(&files, &registry, defaults, &Budget::unlimited())
            .expect("an unlimited budget never spills");
        let rows = ingested.partitions.records();
        assert_eq!(
            rows + a.rejected,
            a.read,
            "each line is either a row or a reject"
        );
        let mut last = 1;
        for r in &ingested.rejects {
            assert!(
                r.line_no > last && r.line_no <= a.read + 1,
                "reject line numbers increase within 2..=rows_read+1: {} after {last}",
                r.line_no
            );
            last = r.line_no;
        }

        // The evidence, judged and reported, looked up and reported per party.
        let policy = policy();
        let image = built.image.into_image();
        let sweep_image = sweep::run(
            &config(defaults.chunk_bytes, defaults.partition_bytes, u64::MAX),
            Purpose::Sweep,
        )
        .expect("accepted once, accepted again")
        .image
        .into_image();
        let view = image.view().expect("a built index image is a valid view");
        let (judgement, outputs) =
            walk_sweep(&view, policy).expect("a built index image is never damaged");
        fuzz_common::walk_accessors(&view).expect("a built image reads whole");
        walk_lookups(&view, &judgement, policy, true)
            .expect("lookups in a built index image never fail");
        // Another image of the same evidence must report exactly what the index image does.
        let reports_the_same = |view: View<'_>, what: &str| {
            let (_, other) =
                walk_sweep(&view, policy).unwrap_or_else(|e| panic!("{what} is damaged: {e}"));
            assert_eq!(
                other, outputs,
                "{what} and the index image report differently"
            );
        };
        reports_the_same(
            sweep_image
                .view()
                .expect("a built sweep image is a valid view"),
            "the sweep image",
        );

        // One chunk per line, one partition per few rows, and a budget so small that
        // every batch of rows and keys spills, give the same image.
        // (The image goes to a spill file, so this reads it back through the file.)
        let chunked = sweep::run(&config(1, 1, 2), Purpose::Index)
            .expect("the same file is accepted with any chunk and partition size")
            .image;
        let chunked = chunked.sections();
        for (i, section) in Section::ALL.iter().enumerate() {
            assert!(
                chunked[i] == image.sections[i].as_slice(),
                "section `{}` differs between tiny and default chunks and partitions",
                section.name()
            );
        }

        // A sweep image spilled to a file under a tiny budget reports the same.
        let spilled = sweep::run(&config(1, 1, 2), Purpose::Sweep)
            .expect("the same file is accepted under any budget")
            .image;
        reports_the_same(
            spilled
                .view()
                .expect("a spilled sweep image is a valid view"),
            "the spilled sweep image",
        );

        // Through a file: written, opened, verified, the same outputs.
        let mxi = fuzz_common::scratch_dir().join("built.mxi");
        file::write(&image, &mxi).expect("cannot write the index file");
        let opened = IndexFile::open_verified(&mxi).expect("a freshly written index verifies");
        reports_the_same(
            opened.view().expect("a verified index gives a view"),
            "the index file",
        );
    });
}

fn memchr_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}
