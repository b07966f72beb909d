//! `mpxn-recon gen`: write a synthetic national inventory.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use super::{Console, Failure};
use crate::generate;

/// Write synthetic national inventories with known conflicts.
///
/// Write a deterministic synthetic inventory (one file per SMSO and SMETS2), a supplier
/// registry, its as-of date (DIR/AS_OF) and ground_truth.csv listing every injected
/// conflict. The same seed gives the same bytes; files are streamed, memory is constant.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// About how many device rows to write (three devices per installation on average).
    #[arg(long, value_name = "N")]
    pub rows: u64,

    /// Seed: the same seed always writes the same files.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,

    /// Directory to write into (inventory/, suppliers.csv, AS_OF, ground_truth.csv).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(args: GenArgs) -> Result<ExitCode, Failure> {
    let started = Instant::now();
    let made = generate::generate(args.rows, args.seed, &args.out).with_context(|| {
        format!(
            "cannot write the generated data into {}",
            args.out.display()
        )
    })?;
    writeln!(
        Console::new(),
        "wrote {} rows ({} bytes) in {} inventory files, {}, AS_OF {} and ground_truth.csv into {} in {:.1} s",
        made.rows,
        made.bytes,
        made.inventories.len(),
        made.suppliers.display(),
        generate::as_of(),
        args.out.display(),
        started.elapsed().as_secs_f64()
    )?;
    Ok(ExitCode::SUCCESS)
}
