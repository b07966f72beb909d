//! Fuzz target: the bytes are a supplier registry (SPEC §3.2), read by
//! `Registry::parse` as `mpxn-recon sweep --suppliers` reads it.
//!
//! Checks, beyond "never panics":
//! - a refusal names the file; a header `Header::parse` refuses is refused;
//! - an accepted registry records the file's CRC-32C and size; every body line's
//!   supplier id (trimmed, in any ASCII case) maps to a party with that line's trimmed
//!   party id and status; blank lines come only at the end; party ids are distinct;
//! - the sample's inventories swept against an accepted registry: accepted, row
//!   accounting holds, judging and reporting the image never fail, and per-party
//!   reports never fail.

use afl::fuzz;
use fuzz_common::{policy, scratch_file, walk_lookups, walk_sweep, Scratch, SAMPLE_INVENTORIES};
use mpxn_recon::delimited::{line_at, split_line, Header};
use mpxn_recon::index::build::Purpose;
use mpxn_recon::ingest::IngestSettings;
use mpxn_recon::normalize::{is_space, trim};
use mpxn_recon::registry::{Registry, UNKNOWN_PARTY};
use mpxn_recon::sweep::{self, SweepConfig};
use std::path::{Path, PathBuf};

/// The registry's columns (private in `registry`, so restated here).
const COLUMNS: [&str; 4] = ["supplier_id", "party_id", "name", "status"];

fn check_accepted(data: &[u8], registry: &Registry, header: &Header) {
    assert_eq!(registry.checksum, crc32c::crc32c(data));
    assert_eq!(registry.size, data.len() as u64);
    let column = |i: usize| header.positions[i].expect("required columns are present");
    let mut scratch = Vec::new();
    let mut fields = Vec::new();
    let mut upper = Vec::new();
    let mut offset = header.body_start;
    while offset < data.len() {
        let (line, next) = line_at(data, offset);
        offset = next;
        if trim(line).is_empty() {
            // Blank lines are tolerated only at the end (a blank line before a row
            // refuses the registry).
            assert!(
                data[offset..].iter().all(|&b| is_space(b)),
                "an accepted registry holds a blank line before a row"
            );
            break;
        }
        split_line(line, header.delimiter, &mut scratch, &mut fields)
            .expect("an accepted registry's lines split");
        assert_eq!(fields.len(), header.field_count);
        let get = |i: usize| trim(fields[i].bytes(line, &scratch));
        let supplier = get(column(0));
        let party = registry.party_of(supplier, &mut upper);
        assert_ne!(party, UNKNOWN_PARTY, "a listed supplier id is unknown");
        for spelling in [supplier.to_ascii_lowercase(), supplier.to_ascii_uppercase()] {
            assert_eq!(
                registry.party_of(&spelling, &mut upper),
                party,
                "supplier ids are case-insensitive"
            );
        }
        let p = registry.party(party).expect("party_of names a party");
        assert_eq!(p.id.as_bytes(), get(column(1)), "the line's party id");
        assert!(
            p.status
                .as_str()
                .as_bytes()
                .eq_ignore_ascii_case(get(column(3))),
            "the line's status"
        );
    }
    let mut ids: Vec<&str> = registry.parties().iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "party ids are distinct");
}

fn main() {
    let _scratch = Scratch;
    let inventories: Vec<PathBuf> = SAMPLE_INVENTORIES
        .iter()
        .map(|(name, bytes)| scratch_file(name, bytes))
        .collect();
    let path = Path::new("suppliers.csv");
    fuzz!(|data: &[u8]| {
        let header = Header::parse(path, data, &COLUMNS, &[true; 4]);
        let registry = match Registry::parse(path, data) {
            Err(e) => {
                let message = e.to_string();
                assert!(message.starts_with("suppliers.csv:"), "{message}");
                return;
            }
            Ok(r) => r,
        };
        let header = header.expect("an accepted registry has a valid header");
        check_accepted(data, &registry, &header);

        // The sample swept against this registry.
        let suppliers = scratch_file("suppliers.csv", data);
        let config = SweepConfig {
            inventories: inventories.clone(),
            suppliers,
            ingest: IngestSettings::default(),
            budget: mpxn_recon::spill::Budget::unlimited(),
            comms_after: None,
        };
        let built = sweep::run(&config, Purpose::Index)
            .expect("an accepted registry is accepted by a sweep");
        let a = built.accounting;
        assert_eq!(a.read, a.accepted + a.rejected + a.duplicate_rows, "{a:?}");
        let image = built.image.into_image();
        let view = image.view().expect("a built image is a valid view");
        assert_eq!(view.party_count(), registry.parties().len());
        let view = image.view().expect("a built image is a valid view");
        let policy = policy();
        let (judgement, _) = walk_sweep(&view, policy).expect("a built image is never damaged");
        fuzz_common::walk_accessors(&view).expect("a built image reads whole");
        walk_lookups(&view, &judgement, policy, true).expect("lookups in a built image never fail");
    });
}
