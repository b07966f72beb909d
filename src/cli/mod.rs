//! Command-line interface: one file per subcommand.
//!
//! Takes parsed arguments; runs the library; hands back an exit code or a [`Failure`]
//! that `main` turns into a message and status. Everything printed for people lives
//! here; the library never prints.

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::index::file::FileError;
use crate::index::IndexError;
use crate::normalize::Day;
use crate::resolve::AsOf;

pub mod diff;
pub mod explain;
pub mod gen;
pub mod index;
pub mod keys;
pub mod lookup;
pub mod portfolio;
pub mod sweep;

/// Reconcile GB smart-meter inventories (SMETS1 SMSOs and SMETS2+) and classify every
/// SMETS1 installation as unblock, exclude, review or clear.
#[derive(Debug, Parser)]
#[command(
    name = "mpxn-recon",
    version,
    about = "Reconcile GB smart-meter inventories; resolve SMETS1 installations under TMAD.",
    long_about = None,
    max_term_width = 100
)]
pub struct Cli {
    /// Colour: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(
        hide_default_value = true,
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value_t = ColorWhen::Auto,
        hide_possible_values = true
    )]
    pub color: ColorWhen,

    #[command(subcommand)]
    pub command: Command,
}

/// `--color`'s values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set to anything but the empty string.
    #[default]
    Auto,
    /// Always, `NO_COLOR` or not (a flag overrides the environment, as no-color.org asks).
    Always,
    Never,
}

impl ColorWhen {
    /// The `--color` of a command line, read before clap parses it, so that clap's own
    /// help and errors follow it too; `auto` when absent or not one of the values (clap
    /// then refuses it).
    pub fn of_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> ColorWhen {
        let mut args = args.into_iter().skip(1);
        let mut when = ColorWhen::Auto;
        while let Some(arg) = args.next() {
            let arg = arg.to_string_lossy().into_owned();
            let value = if arg == "--" {
                break;
            } else if arg == "--color" {
                args.next().map(|v| v.to_string_lossy().into_owned())
            } else {
                arg.strip_prefix("--color=").map(str::to_string)
            };
            if let Some(v) = value {
                when = ColorWhen::from_str(&v, false).unwrap_or(ColorWhen::Auto);
            }
        }
        when
    }

    /// Whether standard error is coloured: `auto` asks whether it is a terminal and
    /// `NO_COLOR` is unset or empty.
    pub fn stderr(self) -> bool {
        match self {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                io::stderr().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }

    /// The same choice for clap's help and errors.
    pub fn for_clap(self) -> clap::ColorChoice {
        match self {
            ColorWhen::Always => clap::ColorChoice::Always,
            ColorWhen::Never => clap::ColorChoice::Never,
            ColorWhen::Auto if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => {
                clap::ColorChoice::Never
            }
            ColorWhen::Auto => clap::ColorChoice::Auto,
        }
    }
}

static STDERR_COLOR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Sets, once, whether our labels on standard error are coloured ([`ColorWhen::stderr`]).
pub fn set_color(when: ColorWhen) {
    let _ = STDERR_COLOR.set(when.stderr());
}

/// The kinds of line we label on standard error.
#[derive(Clone, Copy, Debug)]
pub enum Label {
    /// Bad usage or refused input (exit 2).
    Refused,
    /// A runtime error (exit 1).
    Error,
    /// A warning that changes no decision.
    Warning,
}

/// `refused`, `error` or `warning`, in bold red or yellow when standard error is
/// coloured.
pub fn label(label: Label) -> String {
    use anstyle::{AnsiColor, Style};
    let (text, color) = match label {
        Label::Refused => ("refused", AnsiColor::Red),
        Label::Error => ("error", AnsiColor::Red),
        Label::Warning => ("warning", AnsiColor::Yellow),
    };
    if *STDERR_COLOR.get().unwrap_or(&false) {
        let style = Style::new().bold().fg_color(Some(color.into()));
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
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
    Explain(explain::ExplainArgs),
    Diff(diff::DiffArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// Print a shell completion script for SHELL to standard output, e.g.
    /// `mpxn-recon completions bash > /etc/bash_completion.d/mpxn-recon`.
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    ///
    /// Print the manual page (roff) to standard output, e.g.
    /// `mpxn-recon man > mpxn-recon.1 && man -l mpxn-recon.1`.
    Man,
    Gen(gen::GenArgs),
}

/// Why a command failed, as `main` needs to know it to pick the exit status.
#[derive(Debug)]
pub enum Failure {
    /// Input refused (missing column, bad registry, a damaged index): exit 2.
    Refused(anyhow::Error),
    /// Anything else: exit 1.
    Other(anyhow::Error),
}

impl From<crate::delimited::InputError> for Failure {
    /// An unreadable file, or a spill folder that cannot be written, is an I/O error
    /// (exit 1); anything else about an input refuses it (exit 2).
    fn from(err: crate::delimited::InputError) -> Failure {
        match err {
            crate::delimited::InputError::Io { .. }
            | crate::delimited::InputError::Spill { .. } => {
                Failure::Other(anyhow::Error::from(err))
            }
            _ => Failure::Refused(anyhow::Error::from(err)),
        }
    }
}

impl From<FileError> for Failure {
    /// An unreadable index is an I/O error (exit 1); a damaged, changed or wrong-version
    /// one is refused (exit 2).
    fn from(err: FileError) -> Failure {
        match err {
            FileError::Io { .. } => Failure::Other(anyhow::Error::from(err)),
            _ => Failure::Refused(anyhow::Error::from(err)),
        }
    }
}

impl From<IndexError> for Failure {
    /// Damage found while reading a verified index (or an in-memory image): refused.
    fn from(err: IndexError) -> Failure {
        Failure::Refused(anyhow::Error::from(err))
    }
}

/// Names the index file in damage found while reading it: `.map_err(damaged(path))?`.
pub(crate) fn damaged(path: &std::path::Path) -> impl Fn(IndexError) -> FileError + Copy + '_ {
    move |problem| FileError::Damaged {
        path: path.to_path_buf(),
        problem,
    }
}

impl From<crate::publish::PublishError> for Failure {
    /// Outputs that would replace an input, or a file where a folder belongs, refuse the
    /// run (exit 2); a busy folder or a failed write is a runtime error (exit 1).
    fn from(err: crate::publish::PublishError) -> Failure {
        if err.is_refusal() {
            Failure::Refused(anyhow::Error::from(err))
        } else {
            Failure::Other(anyhow::Error::from(err))
        }
    }
}

impl From<crate::report::ReportError> for Failure {
    fn from(err: crate::report::ReportError) -> Failure {
        match err {
            crate::report::ReportError::Index(e) => Failure::Refused(anyhow::Error::from(e)),
            crate::report::ReportError::Publish(e) => Failure::from(e),
            other => Failure::Other(anyhow::Error::from(other)),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Failure {
        Failure::Other(err)
    }
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Failure {
        Failure::Other(anyhow::Error::from(err))
    }
}

/// Standard output, for what people read: a closed pipe (`| head`, `| true`) stops the
/// printing, never the work and never the exit status the work earned. Every other
/// write error (a full disk behind `> file`) is reported, naming standard output.
pub struct Console {
    out: io::StdoutLock<'static>,
    closed: bool,
}

impl Console {
    pub fn new() -> Console {
        Console {
            out: io::stdout().lock(),
            closed: false,
        }
    }

    fn outcome<T>(&mut self, r: io::Result<T>, done: T) -> io::Result<T> {
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(done)
            }
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot write to standard output: {e}"),
            )),
            ok => ok,
        }
    }
}

impl Default for Console {
    fn default() -> Console {
        Console::new()
    }
}

impl io::Write for Console {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let r = self.out.write(buf);
        self.outcome(r, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.out.flush();
        self.outcome(r, ())
    }
}

/// The as-of date and the communication window: one entrance for every subcommand that
/// judges (`sweep`, `lookup`, `portfolio`).
#[derive(Clone, Copy, Debug, Args)]
pub struct AsOfArgs {
    /// The date "communicating" is judged against, YYYY-MM-DD. Default: today (UTC); for
    /// the bundled sample, the as-of date it documents. Always printed and written to
    /// summary.json.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_as_of)]
    pub as_of: Option<Day>,

    /// The communication window W in days: an installation is communicating when its
    /// last communication falls in [as-of - W, as-of]. 0 means the as-of date only.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub window_days: u32,
}

/// How much memory a run that reads CSV inputs may hold, and where it spills: one
/// entrance for `sweep` and `index build`.
#[derive(Clone, Debug, Args)]
pub struct MemoryArgs {
    /// The memory the run keeps within, e.g. 3G or 512M (K, M, G, T are powers of 1024).
    /// Default: an eighth of what the machine allows (the memory cgroup's limit if one
    /// is set, else the kernel's available memory), at least 1G. Past half of it the
    /// rows, and then their GUID and MPxN keys, spill to --temp-dir and are read back one
    /// partition at a time; past a quarter the laid-out installations do, and a sweep's
    /// image is written to a spill file and mapped. Cost: what spills is written once and
    /// read once. A national sweep (60 million rows) under the default 2.9G on a 24 GiB
    /// machine spills about 5 GB and took 44 s against 45 s with room for everything
    /// (the page cache absorbs it); inside a 2 GiB memory cgroup, where the inputs no
    /// longer stay cached either, it took 164 s. The outputs are the same bytes.
    #[arg(long, value_name = "SIZE", value_parser = parse_memory_limit)]
    pub memory_limit: Option<u64>,

    /// The folder for spill files. Default: the system temporary folder ($TMPDIR, else
    /// /tmp). Spill files are unlinked the moment they are created, so none is ever left
    /// behind, whatever ends the run.
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
}

impl MemoryArgs {
    /// The run's budget; refuses a --temp-dir that is not a folder before any work.
    pub fn budget(&self) -> Result<crate::spill::Budget, Failure> {
        let mut budget = crate::spill::Budget::machine_default();
        if let Some(limit) = self.memory_limit {
            budget.limit = limit;
        }
        if let Some(dir) = &self.temp_dir {
            if !dir.is_dir() {
                return Err(Failure::Refused(anyhow::anyhow!(
                    "--temp-dir {}: not a folder (name an existing folder for spill files)",
                    dir.display()
                )));
            }
            budget.dir = dir.clone();
        }
        Ok(budget)
    }
}

fn parse_memory_limit(text: &str) -> Result<u64, String> {
    let bytes = crate::spill::parse_size(text)?;
    if bytes < 1 << 20 {
        return Err(format!("`{text}` is below 1M, too little to run in"));
    }
    Ok(bytes)
}

/// Where the as-of date of a run came from, for the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOfOrigin {
    Given,
    Today,
    Sample,
}

impl AsOfOrigin {
    /// Its name in `summary.json` (`as_of_source`).
    pub fn name(self) -> &'static str {
        match self {
            AsOfOrigin::Given => "given",
            AsOfOrigin::Today => "today",
            AsOfOrigin::Sample => "sample",
        }
    }

    /// How the console labels the date.
    pub fn label(self) -> &'static str {
        match self {
            AsOfOrigin::Given => "",
            AsOfOrigin::Today => " (today, UTC: no --as-of given)",
            AsOfOrigin::Sample => " (the bundled sample's as-of date)",
        }
    }
}

impl AsOfArgs {
    /// The date and window: `--as-of` if given, else `sample` (the bundled sample's
    /// documented date) if sweeping it, else today (UTC).
    pub fn pick(&self, sample: Option<Day>) -> (AsOf, AsOfOrigin) {
        let (date, origin) = match (self.as_of, sample) {
            (Some(d), _) => (d, AsOfOrigin::Given),
            (None, Some(d)) => (d, AsOfOrigin::Sample),
            (None, None) => {
                let today = Day::today_utc();
                // Judging last month's extract as of today finds nobody communicating,
                // silently: say so before any work.
                eprintln!(
                    "mpxn-recon: no --as-of given: judging as of today, {today} (UTC); give \
                     --as-of YYYY-MM-DD, the date the inventories were extracted"
                );
                (today, AsOfOrigin::Today)
            }
        };
        (
            AsOf {
                date,
                window_days: self.window_days,
            },
            origin,
        )
    }
}

/// The inventory files `--inventory` names: each file as given, and for a folder every
/// `*.csv`, `*.psv` and `*.txt` file in it (not in subfolders; the extension in any
/// case), sorted by name in byte order. A folder with none of them is refused, naming
/// it: an empty national sweep must never look like a clean one.
pub fn inventory_files(given: &[PathBuf]) -> Result<Vec<PathBuf>, Failure> {
    let mut out = Vec::new();
    for path in given {
        if !path.is_dir() {
            out.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|e| {
            Failure::Other(anyhow::anyhow!(
                "cannot read the folder {}: {e}",
                path.display()
            ))
        })?;
        let mut found: Vec<PathBuf> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| {
                Failure::Other(anyhow::anyhow!(
                    "cannot read the folder {}: {e}",
                    path.display()
                ))
            })?;
            let p = entry.path();
            let inventory = p
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .is_some_and(|e| e == "csv" || e == "psv" || e == "txt");
            if inventory && p.is_file() {
                found.push(p);
            }
        }
        if found.is_empty() {
            return Err(Failure::Refused(anyhow::anyhow!(
                "--inventory {}: the folder holds no *.csv, *.psv or *.txt file",
                path.display()
            )));
        }
        found.sort_by(|a, b| {
            a.as_os_str()
                .as_encoded_bytes()
                .cmp(b.as_os_str().as_encoded_bytes())
        });
        out.extend(found);
    }
    Ok(out)
}

/// Parses `--as-of`: exactly `YYYY-MM-DD`, a date that exists.
pub(crate) fn parse_as_of(s: &str) -> Result<crate::normalize::Day, String> {
    if s.len() != 10 {
        return Err("expected a date as YYYY-MM-DD".into());
    }
    crate::normalize::Day::parse(s.as_bytes()).ok_or_else(|| "expected a date as YYYY-MM-DD".into())
}

pub fn run(cli: Cli) -> Result<ExitCode, Failure> {
    // Progress on stderr, only on a terminal and never with --quiet; cleared before the
    // command's own closing lines (and before main prints an error). A command whose
    // data goes to standard output (lookup, diff, explain, a portfolio to `-`) shows it
    // only when that output is not the same terminal, so a line never lands in the data.
    let quiet = match &cli.command {
        Command::Sweep(args) => args.quiet,
        Command::Index { command } => command.quiet(),
        Command::Completions { .. } | Command::Man | Command::Gen(_) => true,
        _ => io::stdout().is_terminal(),
    };
    if !quiet && io::stderr().is_terminal() {
        crate::timing::show_progress();
    }
    let result = dispatch(cli);
    crate::timing::hide_progress();
    result
}

fn dispatch(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Sweep(args) => sweep::run(args),
        Command::Index { command } => index::run(command),
        Command::Lookup(args) => lookup::run(args),
        Command::Portfolio(args) => portfolio::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Gen(args) => gen::run(args),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "mpxn-recon", &mut out);
            print_bytes(&out)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut out)?;
            // Each subcommand's page after the top one, so one file documents them all.
            for sub in <Cli as clap::CommandFactory>::command().get_subcommands() {
                clap_mangen::Man::new(sub.clone())
                    .title(format!("mpxn-recon-{}", sub.get_name()))
                    .render(&mut out)?;
            }
            print_bytes(&out)
        }
    }
}

/// Writes generated text to standard output (a closed pipe stops the printing, never the
/// exit status).
fn print_bytes(bytes: &[u8]) -> Result<ExitCode, Failure> {
    use std::io::Write;
    let mut w = Console::new();
    w.write_all(bytes)?;
    w.flush()?;
    Ok(ExitCode::SUCCESS)
}
