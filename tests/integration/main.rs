//! Integration tests: every test drives the real `mpxn-recon` binary.
//!
//! Each test writes its own inventory and supplier registry into a fresh temporary
//! directory, runs `mpxn-recon sweep` there and checks the files it writes against
//! SPEC.md (§3 inputs, §5 rows, §6 findings and outcomes, §7 outputs, the Appendix)
//! and ARCHITECTURE.md ("Readings of the spec"). The expected values are derived from those pages by
//! hand, never from the engine's own output.
//!
//! - `util`: temp dirs, the command runner, an inventory builder, MPAN/MPRN/GUID
//!   makers, a decisions.csv reader and a diff-printing file assert.
//! - `findings`: every finding of §6.1 and every outcome rule of §6.2, each with a
//!   minimal variant where it must not hold.
//! - `refusals`: inputs the run refuses (exit 2, nothing written) and exit codes.
//! - `sample`: the bundled sample against its hand-derived expected outputs; file
//!   order and thread count change no byte.
//! - `bad_input`: hostile files never make the binary panic.

mod bad_input;
mod findings;
mod gen;
mod hostile;
mod index;
mod portfolio;
mod refusals;
mod sample;
mod util;
