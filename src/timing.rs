//! Stage timings and progress. With `MPXN_RECON_TIMINGS` set in the environment, each
//! [`stage`] prints its name and wall time to stderr when it ends; off by default, so
//! outputs and stdout never carry a timing (`BENCHMARKS.md` uses it to say where the time
//! of a whole command goes). When the command line asks for it ([`show_progress`]: on a
//! terminal, without `--quiet`), the same stages drive one progress line on stderr: the
//! stage's name, a bar for the steps that know their total ([`counted`]: bytes parsed of
//! the inputs, partitions laid out), the rate, elapsed time and ETA, from the first
//! second of a command on. The engine only names its stages and counts; the command line
//! decides whether anybody sees it.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MPXN_RECON_TIMINGS").is_some())
}

static PROGRESS: OnceLock<ProgressBar> = OnceLock::new();

/// Whether the command has ended: the delayed start of [`show_progress`] then draws
/// nothing.
static ENDED: Mutex<bool> = Mutex::new(false);

/// How long a command runs before its progress line appears: a step that ends sooner
/// never flickers one onto the terminal.
const PROGRESS_DELAY: Duration = Duration::from_secs(1);

/// Shows the stages' progress on stderr for the rest of the process (the first call
/// wins), from [`PROGRESS_DELAY`] on (`MPXN_RECON_PROGRESS_DELAY_MS` overrides it, for
/// tests). The caller decides when: never on a non-terminal or
/// with `--quiet`.
pub fn show_progress() {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    bar.set_style(spinner_style());
    if PROGRESS.set(bar.clone()).is_err() {
        return;
    }
    // Tests set the delay to 0 to see the line on a tiny input.
    let delay = std::env::var("MPXN_RECON_PROGRESS_DELAY_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(PROGRESS_DELAY, Duration::from_millis);
    let start = move || {
        let ended = ENDED.lock().unwrap_or_else(|e| e.into_inner());
        if !*ended {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
        }
    };
    if delay.is_zero() {
        start();
    } else {
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            start();
        });
    }
}

/// Clears the progress line for good, before the command prints its own lines.
pub fn hide_progress() {
    let mut ended = ENDED.lock().unwrap_or_else(|e| e.into_inner());
    *ended = true;
    if let Some(bar) = PROGRESS.get() {
        bar.finish_and_clear();
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg}  {elapsed}").expect("a valid progress template")
}

/// What a counted stage counts.
#[derive(Clone, Copy, Debug)]
pub enum Unit {
    /// Bytes of input (shown as sizes, with a byte rate).
    Bytes,
    /// Whole things (partitions), shown as `n/total`.
    Items,
}

/// A running stage; reports when dropped.
pub struct Stage {
    name: &'static str,
    started: Option<Instant>,
}

/// Starts timing `name` (a no-op unless `MPXN_RECON_TIMINGS` is set), and names it on
/// the progress line when one is shown.
pub fn stage(name: &'static str) -> Stage {
    if let Some(bar) = PROGRESS.get() {
        bar.set_message(name);
        bar.set_style(spinner_style());
    }
    Stage {
        name,
        started: enabled().then(Instant::now),
    }
}

/// [`stage`], for a step that knows how much it has to do: the progress line shows a
/// bar of `total` (in `unit`), moved on by [`advance`].
pub fn counted(name: &'static str, total: u64, unit: Unit) -> Stage {
    if let Some(bar) = PROGRESS.get() {
        // The bar takes what the line has left, so it never wraps on a narrow terminal.
        let template = match unit {
            Unit::Bytes => {
                "{spinner} {msg} {bytes}/{total_bytes} ({bytes_per_sec}, {elapsed}, ETA {eta}) {wide_bar}"
            }
            Unit::Items => "{spinner} {msg} {pos}/{len} ({elapsed}, ETA {eta}) {wide_bar}",
        };
        let style = ProgressStyle::with_template(template)
            .expect("a valid progress template")
            .progress_chars("=> ");
        // Count and name first, so no frame shows the last stage's under this style.
        bar.set_message(name);
        bar.set_length(total);
        bar.set_position(0);
        bar.reset_eta();
        bar.set_style(style);
    }
    Stage {
        name,
        started: enabled().then(Instant::now),
    }
}

/// Moves the counted stage's bar on by `n`, and says `what` beside it (`12,000,000
/// rows`); free when no progress is shown.
pub fn advance(n: u64, what: impl FnOnce() -> String) {
    if let Some(bar) = PROGRESS.get() {
        bar.inc(n);
        bar.set_message(what());
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some(started) = self.started {
            eprintln!(
                "timing: {:<28} {:>9.3} s",
                self.name,
                started.elapsed().as_secs_f64()
            );
        }
    }
}

/// Prints a note beside the timings (how much was spilled, say), only when they are on.
pub fn note(text: &str) {
    if enabled() {
        eprintln!("timing: {text}");
    }
}

/// `n` with thousands separators (`20,051`), for progress and status lines.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
