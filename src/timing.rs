//! Stage timings for profiling: with `MPXN_RECON_TIMINGS` set in the environment, each
//! [`stage`] prints its name and wall time to stderr when it ends. Off by default, so
//! outputs and stdout never carry a timing; `BENCHMARKS.md` uses it to say where the
//! time of a whole command goes.

use std::sync::OnceLock;
use std::time::Instant;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MPXN_RECON_TIMINGS").is_some())
}

/// A running stage; reports when dropped.
pub struct Stage {
    name: &'static str,
    started: Option<Instant>,
}

/// Starts timing `name` (a no-op unless `MPXN_RECON_TIMINGS` is set).
pub fn stage(name: &'static str) -> Stage {
    Stage {
        name,
        started: enabled().then(Instant::now),
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
