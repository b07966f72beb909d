//! Integration tests: every test drives the real `mpxn-recon` binary.
//!
//! Each test writes its own inventory and supplier registry into a fresh temporary
//! directory, runs `mpxn-recon sweep` there and checks the files it writes against
//! SPEC.md (§3 inputs, §5 rows, §6 findings and outcomes, §7 outputs, the Appendix)
//! and ARCHITECTURE.md ("Readings of the spec"). The expected values are derived from those pages by
//! hand, never from the engine's own output.

// The as-of date: today said and recorded, warnings when it looks wrong.
mod as_of;
// Hostile files (binary, huge, malformed) never make the binary panic.
mod bad_input;
// Command-line habits: several inventories after one flag, folders.
mod cli_habits;
// `diff`: what changed between two sweeps.
mod diff;
// summary.json's tables as flat records, read by DuckDB.
mod summary_tables;
// `explain`: every finding code in words, the checks and the rule, text and JSON.
mod explain;
// Every finding of §6.1 and every outcome rule of §6.2, where it holds and where not.
mod findings;
// `sweep --format parquet|jsonl`: typed exports equal to the CSV, retired, atomic.
mod exports;
// findings.csv (issue 13): every code's rows, CSV and index sweeps, the as-of date.
mod findings_csv;
// `gen`: determinism, ground truth, agreement with the reference sweep.
mod gen;
// A hostile user's reproductions: links, concurrency, full disks, closed stdout, kills.
mod hostile;
// The index: CSV and index sweeps byte for byte, corruption, lookups, atomic builds.
mod index;
// The memory budget: spilling writes the same bytes; bad options refused early.
mod memory;
// Portfolios and per-party notices: never another party's identifiers.
mod portfolio;
// `sweep --report`: report.html and the notices' pages, escaped, rendered by Chromium.
mod report_html;
// Inputs the run refuses (exit 2, nothing written) and exit codes.
mod refusals;
// The bundled sample against its hand-derived expected outputs; order and threads.
mod sample;
// Temp dirs, the command runner, inventory builders, identifier makers, asserts.
mod util;
// `sweep --what-if` (SPEC §6.4): the sample's whatif.csv, CSV and index, stale files.
mod what_if;
