//! The `mpxn-recon` binary: parses arguments, runs the library, owns the exit policy.
//!
//! Exit status: 0 success; 1 an I/O or other runtime error; 2 bad usage or refused input
//! (a missing column, a bad registry); 3 `sweep --strict` with rejected rows (after every
//! output is written). A closed stdout (`| head`) stops the printing only: the status is
//! the one the work earned.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use mpxn_recon::cli::{self, Cli, ColorWhen, Failure, Label};

fn main() -> ExitCode {
    // --color is read first, so clap's own help and errors follow it.
    let color = ColorWhen::of_args(std::env::args_os());
    let matches = Cli::command().color(color.for_clap()).get_matches();
    let args = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    cli::set_color(args.color);
    match cli::run(args) {
        Ok(code) => code,
        Err(Failure::Refused(err)) => {
            eprintln!("mpxn-recon: {}: {err:#}", cli::label(Label::Refused));
            ExitCode::from(2)
        }
        Err(Failure::Other(err)) => {
            eprintln!("mpxn-recon: {}: {err:#}", cli::label(Label::Error));
            ExitCode::from(1)
        }
    }
}
