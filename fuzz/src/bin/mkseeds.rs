//! Builds the `index_reader` seeds: small valid `.mxi` files from the sample, so the
//! fuzzer starts past the checksums. Not a fuzz target.
//!
//! Usage: `mkseeds OUT_DIR` (run by scripts/fuzz.sh when fuzz/seeds/index_reader has
//! no .mxi file; the checked-in seeds were made with it).
//! Writes: `sample.mxi` (all five sample inventories), one `<inventory>.mxi` per sample
//! inventory, `tiny.mxi` (two installations sharing an MPAN) and `empty.mxi` (a header
//! and no rows).

use std::path::{Path, PathBuf};

use fuzz_common::{scratch_file, Scratch, SAMPLE_INVENTORIES, SAMPLE_SUPPLIERS};
use mpxn_recon::index::build::Purpose;
use mpxn_recon::index::file::{self, IndexFile};
use mpxn_recon::ingest::IngestSettings;
use mpxn_recon::sweep::{self, SweepConfig};

const HEADER: &str = "source,group_id,installation_id,device_id,device_type,mpxn,installed_on,last_comms_at,supplier_id,dormant\n";

fn build(out: &Path, name: &str, inventories: Vec<PathBuf>, suppliers: &Path) {
    let config = SweepConfig {
        inventories,
        suppliers: suppliers.to_path_buf(),
        ingest: IngestSettings::default(),
        budget: mpxn_recon::spill::Budget::unlimited(),
        comms_after: None,
    };
    let image = sweep::run(&config, Purpose::Index)
        .expect("the seed inputs are accepted")
        .image
        .into_image();
    let path = out.join(name);
    let size = file::write(&image, &path).expect("cannot write a seed");
    IndexFile::open_verified(&path).expect("a seed verifies");
    println!("{} ({size} bytes)", path.display());
}

/// Writes a scratch file and names it by its bare name (the current directory).
fn bare(name: &str, bytes: &[u8]) -> PathBuf {
    scratch_file(name, bytes);
    PathBuf::from(name)
}

fn main() {
    let _scratch = Scratch;
    let out = PathBuf::from(std::env::args().nth(1).expect("usage: mkseeds OUT_DIR"));
    std::fs::create_dir_all(&out).expect("cannot create OUT_DIR");
    let out = out.canonicalize().expect("OUT_DIR exists");
    // Inputs by bare name from the scratch directory, so the paths the index records
    // (its meta section) are the same on every run and machine.
    std::env::set_current_dir(fuzz_common::scratch_dir()).expect("scratch directory");
    scratch_file("suppliers.csv", SAMPLE_SUPPLIERS);
    let suppliers = PathBuf::from("suppliers.csv");
    let inventories: Vec<(String, PathBuf)> = SAMPLE_INVENTORIES
        .iter()
        .map(|(name, bytes)| {
            scratch_file(name, bytes);
            (name.to_string(), PathBuf::from(name))
        })
        .collect();
    build(
        &out,
        "sample.mxi",
        inventories.iter().map(|(_, p)| p.clone()).collect(),
        &suppliers,
    );
    for (name, path) in &inventories {
        let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
        build(&out, &format!("{stem}.mxi"), vec![path.clone()], &suppliers);
    }
    // Two SMETS1 installations of different SMSOs sharing one MPAN (a 4.1C group), one
    // dormant with a ceased supplier, plus a SMETS2 one.
    let tiny = format!(
        "{HEADER}\
         SMSO-A,G1,00-0D-6F-00-00-A1-01-01,00-0D-6F-00-00-A1-01-01,CHF,,2017-03-02,2024-06-28,NWNE,\n\
         SMSO-A,G1,00-0D-6F-00-00-A1-01-01,00-1B-C5-09-00-A1-01-02,ESME,1016607405449,2017-03-02,2024-06-28,NWNE,N\n\
         SMSO-B,G2,00-0D-6F-00-00-B2-01-01,00-0D-6F-00-00-B2-01-01,CHF,,2018-03-02,2024-01-01,OLDSUP,\n\
         SMSO-B,G2,00-0D-6F-00-00-B2-01-01,00-1B-C5-09-00-B2-01-02,ESME,1016607405449,2018-03-02,2024-01-01,OLDSUP,Y\n\
         SMETS2,,00-0D-6F-00-00-52-01-01,00-1B-C5-09-00-52-01-03,GSME,1234567890,2023-01-20,2024-06-30,BRGT,N\n\
         bad,line\n"
    );
    build(
        &out,
        "tiny.mxi",
        vec![bare("tiny.csv", tiny.as_bytes())],
        &suppliers,
    );
    build(
        &out,
        "empty.mxi",
        vec![bare("empty.csv", HEADER.as_bytes())],
        &suppliers,
    );
}
