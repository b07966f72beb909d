//! The `mpxn-recon` binary: parses arguments, runs the library, owns the exit policy.
//!
//! Exit status: 0 success; 1 an I/O or other runtime error; 2 bad usage or refused input
//! (a missing column, a bad registry); 3 `sweep --strict` with rejected rows (after every
//! output is written). A closed stdout (`| head`) stops the printing only: the status is
//! the one the work earned.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use mpxn_recon::cli::{self, Cli, Failure};

fn main() -> ExitCode {
    let args = Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(Failure::Refused(err)) => {
            eprintln!("mpxn-recon: refused: {err:#}");
            ExitCode::from(2)
        }
        Err(Failure::Other(err)) => {
            eprintln!("mpxn-recon: error: {err:#}");
            ExitCode::from(1)
        }
    }
}
