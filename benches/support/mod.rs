//! Shared set-up for the benches: a generated dataset in a temporary directory, and the
//! configuration and criterion settings every bench uses. Nothing here is timed.
#![allow(dead_code)] // each bench target uses a different subset

use std::fs;
use std::time::Duration;

use criterion::Criterion;
use mpxn_recon::generate::{self, Generated};
use mpxn_recon::ingest::{IngestSettings, InventoryFile};
use mpxn_recon::normalize::Mpan;
use mpxn_recon::registry::Registry;
use mpxn_recon::resolve::AsOf;
use mpxn_recon::sweep::SweepConfig;
use tempfile::TempDir;

/// Rows in the generated corpus: ~20 MB of CSV, a fraction of a second to sweep.
pub const ROWS: u64 = 200_000;
pub const SEED: u64 = 42;

/// Modest settings so that `cargo bench` as a whole takes a few minutes on two cores.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .without_plots()
}

/// A generated dataset; the directory lives as long as this value.
pub struct Dataset {
    pub dir: TempDir,
    pub generated: Generated,
}

impl Dataset {
    pub fn new(rows: u64) -> Dataset {
        let dir = tempfile::tempdir().expect("temp dir");
        let generated = generate::generate(rows, SEED, dir.path()).expect("generate");
        Dataset { dir, generated }
    }

    /// The registry and the mapped, header-checked inventories (what ingest takes).
    pub fn open_inputs(&self) -> (Registry, Vec<InventoryFile>) {
        let config = self.sweep_config();
        let registry = Registry::open(&config.suppliers).expect("registry");
        let files = config
            .inventories
            .iter()
            .map(|p| InventoryFile::open(p).expect("inventory"))
            .collect();
        (registry, files)
    }

    pub fn sweep_config(&self) -> SweepConfig {
        SweepConfig {
            inventories: self.generated.inventories.clone(),
            suppliers: self.generated.suppliers.clone(),
            ingest: IngestSettings::default(),
            budget: mpxn_recon::spill::Budget::unlimited(),
            comms_after: None,
        }
    }

    /// Every valid MPAN of an ESME row in the generated inventories, as written.
    pub fn esme_mpans(&self) -> Vec<String> {
        let mut out = Vec::new();
        for path in &self.generated.inventories {
            let text = fs::read_to_string(path).expect("read inventory");
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
            let col = |name: &str| header.iter().position(|h| *h == name);
            let (Some(kind), Some(mpxn)) = (col("device_type"), col("mpxn")) else {
                continue;
            };
            for line in lines.filter(|l| !l.contains('"')) {
                let fields: Vec<&str> = line.split(',').collect();
                let (Some(k), Some(m)) = (fields.get(kind), fields.get(mpxn)) else {
                    continue;
                };
                if k.trim().eq_ignore_ascii_case("ESME") && Mpan::parse(m.as_bytes()).is_some() {
                    out.push((*m).to_string());
                }
            }
        }
        out
    }
}

/// The as-of date and window the generated data is made for (as-of date it documents, default window).
pub fn as_of() -> AsOf {
    AsOf {
        date: generate::as_of(),
        window_days: 30,
    }
}

/// `n` indices into `0..len`, spread pseudo-randomly (SplitMix64), reproducibly.
pub fn pick(n: usize, len: usize) -> Vec<usize> {
    let mut z: u64 = 0x5EED;
    (0..n)
        .map(|_| {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((x ^ (x >> 31)) % len as u64) as usize
        })
        .collect()
}
