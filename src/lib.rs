//! mpxn-recon reconciles Great Britain's smart-meter inventories: every SMETS1 SMSO
//! inventory and the DCC SMETS2+ inventory, against a supplier registry. It finds meter
//! points (MPANs, MPRNs) carried by more than one installation, device GUIDs listed
//! twice, and Responsible Suppliers that have ceased trading or are not live DCC Users,
//! and classifies every SMETS1 installation as **unblock** (TMAD 4.1A / 4.1B / 4.1C),
//! **exclude** (18.12 data issue, 18.13 unresolved duplicate), **review** or **clear**,
//! citing every reason. The rules are `../shared/SPEC.md`; doubtful data never unblocks.
//!
//! # Modules, in data-flow order
//!
//! - [`mapped`] — maps input files read-only, streams pipes, reports SIGBUS (the crate's
//!   only `unsafe`; `#![deny(unsafe_code)]` everywhere else).
//! - [`normalize`] — field bytes → canonical [`normalize::Mpan`], [`normalize::Mprn`],
//!   [`normalize::Guid`] (each a `u64`) and [`normalize::Day`] numbers.
//! - [`delimited`] — header checks, RFC 4180 line splitting, minimal-quoting CSV writing.
//! - [`registry`] — supplier ids → parties and their status; a bad registry refuses the run.
//! - [`partition`] — ranges of installation id, cut from a sample, so that each
//!   partition of installations can be grouped and ordered on its own.
//! - [`ingest`] — parallel chunk parsing of mapped inventories into fixed-size
//!   [`ingest::Row`]s, each put in its partition's bucket, and [`ingest::Reject`]s;
//!   a checkpoint every 16 lines ([`ingest::LineNumbers`]) numbers findings.csv's rows.
//! - [`matching`] — one partition's rows → installations in output order (identical
//!   rows collapsed) and their keys; then, across partitions, duplicate GUIDs and shared
//!   MPxNs from key buckets, each sorted in cache.
//! - [`resolve`] — SPEC §6 as code: one table of [`resolve::Finding`]s (code, kind,
//!   clause, when decided, words), a named function per rule, TMAD 4.1C
//!   ([`resolve::evaluate_group`]) and the outcome precedence of §6.2
//!   ([`resolve::decide`]); the what-if policy of §6.4 ([`resolve::WhatIf`]), whose
//!   findings follow from DCC's and whose outcome is the same `decide`. Every finding is
//!   decided here, from rows and values; it never reads the index.
//! - [`sweep`] — runs the CSV stages, partition by partition, then matches and
//!   assembles; the result is evidence, independent of any as-of date.
//! - [`index`] — that evidence as fixed-width little-endian sections: made by every CSV
//!   sweep (in memory, or a mapped spill file), or written once to a `.mxi` file and
//!   mapped; read through one
//!   [`index::View`] either way, whose typed accessors ([`index::read`]) are the only way
//!   other modules see it (the encodings live in [`index::format`]).
//! - [`judge`] — reads a view and calls `resolve`'s date-dependent rules as of a date
//!   (communication, FUTURE_COMMS, 4.1C over every shared MPxN, DUP_RESOLVED).
//! - [`report`] — writes `decisions.csv`, `duplicates.csv`, `rejects.csv`,
//!   `findings.csv` (the values behind the data issues, laid out with the evidence by
//!   `index::build`, FUTURE_COMMS rows picked by the date) and `summary.json` from a view
//!   and its judgement; with `--what-if`, `whatif.csv` and summary.json's
//!   `what_if` (the installations whose outcome the policy changes, and counts).
//! - [`html`] — `report.html` (`sweep --report`) from the finished summary alone, and a
//!   party's `<party>.html` from its notice's data: askama templates, every value
//!   escaped, every figure marked with its JSON path; inline CSS and SVG, no script.
//! - [`export`] — with `--format parquet|jsonl`, converts each table's CSV text as it is
//!   written into `<table>.parquet` (typed columns: DATE, INT64, STRING) and
//!   `<table>.jsonl`: the same rows in the same order, in parallel tasks.
//! - [`publish`] — stages every output in a new, exclusive temporary file and renames
//!   the set into place only when all of it is written, removing in the same commit an
//!   earlier set's file that this one does not hold; one run per output folder.
//! - [`lookup`] — one key in any spelling → installations, judged by the same rules.
//! - [`diff`] — two sweeps' decisions.csv → the installations whose decision changed
//!   (a streaming merge join).
//! - [`explain`] — one installation → every finding in words, the communication window,
//!   each shared MPxN's members and four checks with why, and the §6.2 rule that decided.
//! - [`portfolio`] — one supplier party's installations and shared MPxNs, with nothing
//!   of any other party (its notice under TMAD 4.1C).
//! - [`cli`] — one file per subcommand; `main.rs` only dispatches and sets the exit code.
//!
//! Beside the flow: [`spill`] keeps records in numbered buckets within a memory
//! allowance, spilling them to unlinked temporary files past it, and holds the run's
//! [`spill::Budget`]; [`generate`] writes deterministic synthetic national inventories
//! (`mpxn-recon gen`) for benchmarks and tests at scale; [`timing`] names the stages:
//! their timings on stderr when `MPXN_RECON_TIMINGS` is set, and the progress line the
//! command line shows on a terminal.
//!
//! # Memory
//!
//! Input files are mapped, not read (a pipe or FIFO is read into memory): rows hold
//! offsets into them. Each accepted line becomes one 72-byte [`ingest::Row`] in its
//! partition's bucket; grouping then takes one partition (about 170,000 rows, 12 MB) at
//! a time per task, and what crosses partitions is matched on 24-byte GUID (with the
//! row's line, for findings.csv) and 24-byte meter keys in hash buckets. Everything that grows with the input spills past the
//! run's limit ([`spill::Budget`]: `--memory-limit`, by default an eighth of the memory
//! cgroup's limit or of available memory, at least 1 GiB): rows and then keys past half
//! of it, the laid-out installations past a quarter, and a sweep's image is then written
//! to a spill file in the `.mxi` format and mapped, so its pages are the kernel's, not
//! the run's. Measured peaks are in `BENCHMARKS.md` (a national 60 million rows: 2.7–2.9
//! GB of anonymous memory for a CSV sweep under the default 2.9 GB limit on a 24 GiB
//! machine; `index build` 4.3 GB). A sweep from a
//! built `.mxi` file maps it and holds only the judgement (a few bytes per
//! installation).
//!
//! # Parallelism
//!
//! rayon throughout: files are cut into ~4 MiB chunks at line ends and parsed in
//! parallel batches; partitions are grouped, ordered and laid out a few per thread at a
//! time; key buckets are sorted in cache, in parallel; per-installation facts, group
//! verdicts and output formatting are parallel maps. Every parallel result is merged in
//! a fixed order and every output is sorted on its text, so the bytes written never
//! depend on `RAYON_NUM_THREADS` or on input row order (but for the line numbers and
//! raw texts that rejects.csv and findings.csv show, which move with the rows).
//!
//! # Quirks worth knowing
//!
//! - Hashes group rows, but never decide: equal installation hashes are confirmed on the
//!   installation id text (or by a shared chain head: consecutive input rows already
//!   compared byte for byte), equal row fingerprints on the full identity bytes. A
//!   fingerprint is hashed from the row's normalised values, not from its identity
//!   bytes: it only has to be equal for identical rows (`ingest::fingerprint`).
//! - A quoted installation id with `""` escapes is the one text that is not a slice of
//!   the mapped file; it is re-read from its line when needed (rare by construction).
//! - The CSV sweep takes a detour through an index image on purpose: it makes
//!   "CSV sweep and index sweep write the same bytes" true by construction.
//! - Sweeps and lookups from a `.mxi` file check the CRC-32C of every section they read
//!   first (a sweep's view leaves out what it does not check): a flipped bit must never
//!   turn an exclusion into an unblock.
//! - The readings of spec points that the text leaves open are listed in
//!   `ARCHITECTURE.md` ("Readings of the spec").

// The one exception is `mapped`, which allows it for its mapping, pipe and SIGBUS code.
#![deny(unsafe_code)]

pub mod cli;
pub mod delimited;
pub mod diff;
pub mod explain;
pub mod export;
pub mod generate;
pub mod html;
pub mod index;
pub mod ingest;
pub mod judge;
pub mod lookup;
pub mod mapped;
pub mod matching;
pub mod normalize;
pub mod partition;
pub mod portfolio;
pub mod publish;
pub mod registry;
pub mod report;
pub mod resolve;
pub mod spill;
pub mod sweep;
pub mod timing;
