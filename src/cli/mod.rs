//! Command-line interface: one file per subcommand.
//!
//! Takes parsed arguments; runs the library; hands back an exit code or a [`Failure`]
//! that `main` turns into a message and status. Everything printed for people lives
//! here; the library never prints.

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod gen;
pub mod index;
pub mod lookup;
pub mod portfolio;
pub mod sweep;

/// Reconcile GB smart-meter inventories (SMETS1 SMSOs and SMETS2+) and classify every
/// SMETS1 installation as unblock, exclude, review or clear.
#[derive(Debug, Parser)]
#[command(name = "mpxn-recon", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Sweep(sweep::SweepArgs),
    /// Build, verify or describe an on-disk index (.mxi).
    Index {
        #[command(subcommand)]
        command: index::IndexCommand,
    },
    Lookup(lookup::LookupArgs),
    Portfolio(portfolio::PortfolioArgs),
    Gen(gen::GenArgs),
}

/// Why a command failed, as `main` needs to know it to pick the exit status.
#[derive(Debug)]
pub enum Failure {
    /// Input refused (missing column, bad registry): exit 2.
    Refused(anyhow::Error),
    /// Stdout closed early (`| head`): not an error.
    BrokenPipe,
    /// Anything else: exit 1.
    Other(anyhow::Error),
}

impl From<crate::delimited::InputError> for Failure {
    /// An unreadable file is an I/O error (exit 1); anything else about an input refuses
    /// it (exit 2).
    fn from(err: crate::delimited::InputError) -> Failure {
        match err {
            crate::delimited::InputError::Io { .. } => Failure::Other(anyhow::Error::from(err)),
            _ => Failure::Refused(anyhow::Error::from(err)),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Failure {
        let broken_pipe = err
            .chain()
            .filter_map(|e| e.downcast_ref::<io::Error>())
            .any(|e| e.kind() == io::ErrorKind::BrokenPipe);
        if broken_pipe {
            Failure::BrokenPipe
        } else {
            Failure::Other(err)
        }
    }
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Failure {
        Failure::from(anyhow::Error::from(err))
    }
}

/// Parses `--as-of`: exactly `YYYY-MM-DD`, a date that exists.
pub(crate) fn parse_as_of(s: &str) -> Result<crate::normalize::Day, String> {
    if s.len() != 10 {
        return Err("expected a date as YYYY-MM-DD".into());
    }
    crate::normalize::Day::parse(s.as_bytes()).ok_or_else(|| "expected a date as YYYY-MM-DD".into())
}

pub fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Sweep(args) => sweep::run(args),
        Command::Index { command } => index::run(command),
        Command::Lookup(args) => lookup::run(args),
        Command::Portfolio(args) => portfolio::run(args),
        Command::Gen(args) => gen::run(args),
    }
}
