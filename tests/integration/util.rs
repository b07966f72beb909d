//! Helpers shared by the integration tests (after ripgrep's `tests/util.rs`).
//!
//! - [`TestDir`]: a fresh temporary directory per test; the binary runs inside it, so
//!   input paths are short relative names and `rejects.csv` can be checked exactly.
//! - [`Inst`], [`Dev`] and [`Inventory`]: a compact way to write inventory rows. An
//!   [`Inst`] carries an installation's defaults (group `AA`, installed 2020-01-01,
//!   last communication inside the window, live supplier, not dormant); each device it
//!   makes gets a GUID of its own, and a cloned [`Dev`] keeps it (an identical row).
//! - [`mpan`], [`mprn`], [`guid`]: valid identifiers computed with the SPEC §4 checks.
//! - [`Sweep`] and [`Run`]: run a sweep, then read `decisions.csv` into a map
//!   installation_id → [`Decision`] and assert on it; a failure prints the inputs, the
//!   command, its status, stdout and stderr.
//! - [`assert_same_text`]: a whole-file comparison that prints a line diff.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The as-of date of every sweep unless a test sets another.
pub const AS_OF: &str = "2024-06-30";
/// A last communication inside the default window [2024-05-31, 2024-06-30].
pub const RECENT: &str = "2024-06-20";
/// A last communication outside the default window.
pub const STALE: &str = "2023-01-10";

/// The ten inventory columns of SPEC §3.1, in the order [`Dev::line`] writes them.
pub const HEADER: &str = "source,group_id,installation_id,device_id,device_type,mpxn,\
                          installed_on,last_comms_at,supplier_id,dormant";

/// The standard registry: one live party with two supplier ids, one ceased_trading
/// party and one not_live_user party.
pub const REGISTRY: &str = "supplier_id,party_id,name,status\n\
                            LIVE1,P-LIVE,Live Energy Ltd,live\n\
                            LIVE2,P-LIVE,Live Energy Ltd,live\n\
                            GONE,P-GONE,Gone Power plc,ceased_trading\n\
                            NOTLIVE,P-NOTLIVE,Not Live Gas Ltd,not_live_user\n";

// ---------------------------------------------------------------------------------
// Identifiers (SPEC §4)
// ---------------------------------------------------------------------------------

const MPAN_WEIGHTS: [u32; 12] = [3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43];

fn digits(text: &str) -> Vec<u32> {
    text.chars()
        .map(|c| c.to_digit(10).expect("a decimal digit"))
        .collect()
}

/// The MPAN check digit of the first 12 digits of a core: weights 3, 5, 7, 13, … 43,
/// sum mod 11 mod 10.
pub fn mpan_check_digit(first12: &str) -> u32 {
    assert_eq!(first12.len(), 12, "an MPAN core starts with 12 digits");
    let sum: u32 = digits(first12)
        .iter()
        .zip(MPAN_WEIGHTS)
        .map(|(d, w)| d * w)
        .sum();
    sum % 11 % 10
}

/// A valid 13-digit MPAN core made of `first12` and its check digit.
pub fn mpan_from(first12: &str) -> String {
    format!("{first12}{}", mpan_check_digit(first12))
}

/// The `n`th valid MPAN core of the tests (distinct for distinct `n`).
pub fn mpan(n: u32) -> String {
    mpan_from(&format!("19{n:010}"))
}

/// The `n`th MPAN with a wrong check digit.
pub fn bad_mpan(n: u32) -> String {
    let good = mpan(n);
    let (body, check) = good.split_at(12);
    let wrong = (check.parse::<u32>().unwrap() + 1) % 10;
    format!("{body}{wrong}")
}

/// The two MPRN check digits of `first` (an MPRN without its last two digits): digit i
/// weighted by (n-2-i), sum mod 11, written as two digits.
pub fn mprn_check_digits(first: &str) -> String {
    let d = digits(first);
    let k = d.len() as u32; // = n - 2
    let sum: u32 = d.iter().enumerate().map(|(i, v)| v * (k - i as u32)).sum();
    format!("{:02}", sum % 11)
}

/// A valid MPRN made of `first` and its check digits.
pub fn mprn_from(first: &str) -> String {
    format!("{first}{}", mprn_check_digits(first))
}

/// The `n`th valid 10-digit MPRN of the tests (distinct for distinct `n`).
pub fn mprn(n: u32) -> String {
    mprn_from(&format!("{}", 40_000_000 + n))
}

/// The `k`th pair of a valid MPAN `000X` and a valid MPRN `X`: the same digits (and
/// numeric value), the pair an implementation keyed on numbers could confuse.
pub fn mpan_mprn_twin(k: usize) -> (String, String) {
    (0..)
        .map(mprn)
        .map(|x| (format!("000{x}"), x))
        .filter(|(m, _)| mpan_from(&m[..12]) == *m)
        .nth(k)
        .expect("MPRNs with an MPAN twin")
}

/// The `n`th 10-digit MPRN with wrong check digits.
pub fn bad_mprn(n: u32) -> String {
    let good = mprn(n);
    let (body, check) = good.split_at(8);
    let wrong = (check.parse::<u32>().unwrap() + 1) % 100;
    format!("{body}{wrong:02}")
}

/// The `n`th GUID in canonical form (`00-1B-C5-09-xx-xx-xx-xx`), for tests that name
/// GUIDs. [`fresh_guid`] uses another prefix, so the two never meet.
pub fn guid(n: u32) -> String {
    canonical_guid(0x001B_C509, n)
}

/// A GUID no other call of this function returns, for devices whose GUID does not
/// matter to a test.
pub fn fresh_guid() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    canonical_guid(0x70B3_D52E, NEXT.fetch_add(1, Ordering::Relaxed))
}

fn canonical_guid(high: u32, low: u32) -> String {
    let hex = format!("{high:08X}{low:08X}");
    let pairs: Vec<&str> = (0..8).map(|i| &hex[2 * i..2 * i + 2]).collect();
    pairs.join("-")
}

// ---------------------------------------------------------------------------------
// Inventory rows
// ---------------------------------------------------------------------------------

/// One inventory row (one device), its ten fields written as given.
#[derive(Clone, Debug)]
pub struct Dev {
    fields: [String; 10],
}

const SOURCE: usize = 0;
const GROUP_ID: usize = 1;
const INSTALLATION_ID: usize = 2;
const DEVICE_ID: usize = 3;
const DEVICE_TYPE: usize = 4;
const MPXN: usize = 5;
const INSTALLED_ON: usize = 6;
const LAST_COMMS_AT: usize = 7;
const SUPPLIER_ID: usize = 8;
const DORMANT: usize = 9;

impl Dev {
    /// A row from its ten fields in [`HEADER`] order.
    pub fn new(fields: [&str; 10]) -> Dev {
        Dev {
            fields: fields.map(str::to_string),
        }
    }

    /// The row as a comma-delimited line, fields written verbatim (no quoting).
    pub fn line(&self) -> String {
        self.fields.join(",")
    }

    /// The row's fields in [`HEADER`] order.
    pub fn fields(&self) -> Vec<String> {
        self.fields.to_vec()
    }

    fn set(mut self, column: usize, value: &str) -> Dev {
        self.fields[column] = value.to_string();
        self
    }

    pub fn source(self, v: &str) -> Dev {
        self.set(SOURCE, v)
    }
    pub fn group(self, v: &str) -> Dev {
        self.set(GROUP_ID, v)
    }
    pub fn inst(self, v: &str) -> Dev {
        self.set(INSTALLATION_ID, v)
    }
    pub fn id(self, v: &str) -> Dev {
        self.set(DEVICE_ID, v)
    }
    pub fn kind(self, v: &str) -> Dev {
        self.set(DEVICE_TYPE, v)
    }
    pub fn mpxn(self, v: &str) -> Dev {
        self.set(MPXN, v)
    }
    pub fn installed(self, v: &str) -> Dev {
        self.set(INSTALLED_ON, v)
    }
    pub fn comms(self, v: &str) -> Dev {
        self.set(LAST_COMMS_AT, v)
    }
    pub fn supplier(self, v: &str) -> Dev {
        self.set(SUPPLIER_ID, v)
    }
    pub fn dormant(self, v: &str) -> Dev {
        self.set(DORMANT, v)
    }
}

/// An installation's defaults, from which its devices are made.
#[derive(Clone, Debug)]
pub struct Inst {
    source: String,
    id: String,
    group: String,
    installed: String,
    comms: String,
    supplier: String,
    dormant: String,
}

impl Inst {
    /// Installation `id` of `source`: group `AA`, installed 2020-01-01, last
    /// communication [`RECENT`], supplier `LIVE1`, dormant `N`.
    pub fn new(source: &str, id: &str) -> Inst {
        Inst {
            source: source.to_string(),
            id: id.to_string(),
            group: "AA".to_string(),
            installed: "2020-01-01".to_string(),
            comms: RECENT.to_string(),
            supplier: "LIVE1".to_string(),
            dormant: "N".to_string(),
        }
    }

    /// Installation `id` of the SMSO `SMSO-A`.
    pub fn a(id: &str) -> Inst {
        Inst::new("SMSO-A", id)
    }

    /// Installation `id` of the SMSO `SMSO-B`.
    pub fn b(id: &str) -> Inst {
        Inst::new("SMSO-B", id)
    }

    /// Installation `id` of the SMETS2+ inventory (group empty).
    pub fn smets2(id: &str) -> Inst {
        Inst::new("SMETS2", id).group("")
    }

    pub fn group(mut self, v: &str) -> Inst {
        self.group = v.to_string();
        self
    }
    pub fn installed(mut self, v: &str) -> Inst {
        self.installed = v.to_string();
        self
    }
    pub fn comms(mut self, v: &str) -> Inst {
        self.comms = v.to_string();
        self
    }
    pub fn supplier(mut self, v: &str) -> Inst {
        self.supplier = v.to_string();
        self
    }
    pub fn dormant(mut self, v: &str) -> Inst {
        self.dormant = v.to_string();
        self
    }

    /// A device of type `kind` with a fresh GUID, no MPxN, no supplier, dormant empty.
    pub fn device(&self, kind: &str) -> Dev {
        Dev::new([
            &self.source,
            &self.group,
            &self.id,
            &fresh_guid(),
            kind,
            "",
            &self.installed,
            &self.comms,
            "",
            "",
        ])
    }

    /// The comms hub.
    pub fn chf(&self) -> Dev {
        self.device("CHF")
    }

    /// An electricity meter carrying `mpxn`, with the installation's supplier and
    /// dormant flag.
    pub fn esme(&self, mpxn: &str) -> Dev {
        self.meter("ESME", mpxn)
    }

    /// A gas meter carrying `mpxn`, with the installation's supplier and dormant flag.
    pub fn gsme(&self, mpxn: &str) -> Dev {
        self.meter("GSME", mpxn)
    }

    fn meter(&self, kind: &str, mpxn: &str) -> Dev {
        self.device(kind)
            .mpxn(mpxn)
            .supplier(&self.supplier)
            .dormant(&self.dormant)
    }

    /// A comms hub and an ESME carrying `mpan`: the smallest complete installation.
    pub fn with_esme(&self, mpan: &str) -> [Dev; 2] {
        [self.chf(), self.esme(mpan)]
    }

    /// A comms hub and a GSME carrying `mprn`.
    pub fn with_gsme(&self, mprn: &str) -> [Dev; 2] {
        [self.chf(), self.gsme(mprn)]
    }
}

/// An inventory file being written: a header and raw lines, each ended by LF.
#[derive(Clone, Debug)]
pub struct Inventory {
    header: Vec<u8>,
    lines: Vec<Vec<u8>>,
}

impl Default for Inventory {
    fn default() -> Inventory {
        Inventory::new()
    }
}

impl Inventory {
    /// An inventory with the standard [`HEADER`].
    pub fn new() -> Inventory {
        Inventory::with_header(HEADER)
    }

    /// An inventory with its own header line.
    pub fn with_header(header: impl AsRef<[u8]>) -> Inventory {
        Inventory {
            header: header.as_ref().to_vec(),
            lines: vec![],
        }
    }

    /// An inventory with the standard header and these devices.
    pub fn of(devices: impl IntoIterator<Item = Dev>) -> Inventory {
        let mut inv = Inventory::new();
        inv.extend(devices);
        inv
    }

    pub fn add(&mut self, device: Dev) -> &mut Inventory {
        self.lines.push(device.line().into_bytes());
        self
    }

    pub fn extend(&mut self, devices: impl IntoIterator<Item = Dev>) -> &mut Inventory {
        for d in devices {
            self.add(d);
        }
        self
    }

    /// A line written verbatim (no terminator: one LF is added).
    pub fn raw(&mut self, line: impl AsRef<[u8]>) -> &mut Inventory {
        self.lines.push(line.as_ref().to_vec());
        self
    }

    /// The file's bytes: header and every line, each followed by LF.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = self.header.clone();
        out.push(b'\n');
        for line in &self.lines {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        out
    }
}

// ---------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------

/// A fresh temporary directory, removed when dropped.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl Default for TestDir {
    fn default() -> TestDir {
        TestDir::new()
    }
}

impl TestDir {
    pub fn new() -> TestDir {
        let dir = tempfile::Builder::new()
            .prefix("mpxn-recon-it-")
            .tempdir()
            .expect("create a temporary directory");
        TestDir { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `name` (relative to the directory) and returns its full path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directory");
        }
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
        path
    }

    /// The output directory every [`Sweep`] uses: `out` inside this directory.
    pub fn out(&self) -> PathBuf {
        self.path().join("out")
    }

    /// An output file's text.
    pub fn read_out(&self, name: &str) -> String {
        let path = self.out().join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path:?}: {e}"))
    }

    /// The names of the files in the output directory (none when it does not exist).
    pub fn out_files(&self) -> Vec<String> {
        match std::fs::read_dir(self.out()) {
            Err(_) => vec![],
            Ok(entries) => {
                let mut names: Vec<String> = entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names
            }
        }
    }

    /// `mpxn-recon sweep`, run inside this directory.
    pub fn sweep_cmd(&self) -> Command {
        let mut cmd = bin();
        cmd.current_dir(self.path()).arg("sweep");
        cmd
    }
}

/// The crate's root folder (where `datasets/sample/` is).
pub fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary under test with `args`, run from the crate root.
pub fn in_root(args: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.current_dir(crate_root()).args(args);
    cmd
}

/// The binary under test, with `RAYON_NUM_THREADS` cleared so a caller's environment
/// does not leak in.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mpxn-recon"));
    cmd.env_remove("RAYON_NUM_THREADS");
    cmd
}

/// The command, its status, stdout and stderr, for failure messages.
pub fn describe(cmd: &Command, out: &Output) -> String {
    format!(
        "\n\ncommand: {cmd:?}\nstatus: {}\n\n--- stdout ---\n{}\n--- stderr ---\n{}\n",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    )
}

/// Runs `cmd` and returns its output, whatever its status.
pub fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs `cmd` and asserts that it exits with `code` and did not panic.
pub fn run_expect(cmd: &mut Command, code: i32) -> Output {
    let out = output(cmd);
    assert_no_panic(cmd, &out);
    if out.status.code() != Some(code) {
        panic!("expected exit status {code}{}", describe(cmd, &out));
    }
    out
}

/// Asserts that the process neither panicked nor died from a signal.
pub fn assert_no_panic(cmd: &Command, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("panicked") || out.status.code().is_none() || out.status.code() == Some(101)
    {
        panic!("the binary panicked or was killed{}", describe(cmd, out));
    }
}

/// A sweep to run: inventory files, the registry, as-of date, window and options.
pub struct Sweep {
    inventories: Vec<(String, Vec<u8>)>,
    registry: Vec<u8>,
    as_of: String,
    window: Option<u32>,
    strict: bool,
    args: Vec<String>,
}

/// Sweeps `inv` with the standard registry as of [`AS_OF`]; expects exit 0.
pub fn sweep(inv: &Inventory) -> Run {
    Sweep::new(inv).run()
}

impl Sweep {
    /// One inventory file, `inventory.csv`, and the standard registry.
    pub fn new(inv: &Inventory) -> Sweep {
        Sweep::bytes(inv.bytes())
    }

    /// One inventory file, `inventory.csv`, with exactly these bytes.
    pub fn bytes(inventory: impl Into<Vec<u8>>) -> Sweep {
        Sweep::named("inventory.csv", inventory)
    }

    /// One inventory file called `name` with exactly these bytes.
    pub fn named(name: &str, inventory: impl Into<Vec<u8>>) -> Sweep {
        Sweep {
            inventories: vec![(name.to_string(), inventory.into())],
            registry: REGISTRY.as_bytes().to_vec(),
            as_of: AS_OF.to_string(),
            window: None,
            strict: false,
            args: vec![],
        }
    }

    /// Another inventory file.
    pub fn file(self, name: &str, inv: &Inventory) -> Sweep {
        self.file_bytes(name, inv.bytes())
    }

    /// Another inventory file with exactly these bytes.
    pub fn file_bytes(mut self, name: &str, bytes: impl Into<Vec<u8>>) -> Sweep {
        self.inventories.push((name.to_string(), bytes.into()));
        self
    }

    /// A registry of its own instead of [`REGISTRY`].
    pub fn registry(mut self, registry: impl Into<Vec<u8>>) -> Sweep {
        self.registry = registry.into();
        self
    }

    /// The as-of date instead of [`AS_OF`].
    pub fn on(mut self, day: &str) -> Sweep {
        self.as_of = day.to_string();
        self
    }

    pub fn window(mut self, days: u32) -> Sweep {
        self.window = Some(days);
        self
    }

    pub fn strict(mut self) -> Sweep {
        self.strict = true;
        self
    }

    /// Another argument for `sweep` (after the others).
    pub fn arg(mut self, arg: &str) -> Sweep {
        self.args.push(arg.to_string());
        self
    }

    /// Runs the sweep; expects exit 0.
    pub fn run(self) -> Run {
        self.run_status(0)
    }

    /// Runs the sweep; expects exit `code`.
    pub fn run_status(self, code: i32) -> Run {
        self.run_expecting(&[code])
    }

    /// Runs the sweep; expects one of `codes` (and never a panic).
    pub fn run_expecting(self, codes: &[i32]) -> Run {
        let dir = TestDir::new();
        let mut cmd = dir.sweep_cmd();
        let mut inputs = String::new();
        for (name, bytes) in &self.inventories {
            dir.write(name, bytes);
            cmd.arg("--inventory").arg(name);
            let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(4_000)]);
            let _ = writeln!(inputs, "--- {name} ({} bytes) ---\n{shown:?}", bytes.len());
        }
        dir.write("suppliers.csv", &self.registry);
        cmd.args(["--suppliers", "suppliers.csv", "--as-of", &self.as_of]);
        if let Some(w) = self.window {
            cmd.arg("--window-days").arg(w.to_string());
        }
        cmd.args(["--out", "out"]);
        if self.strict {
            cmd.arg("--strict");
        }
        cmd.args(&self.args);
        let out = output(&mut cmd);
        let details = format!("{inputs}{}", describe(&cmd, &out));
        assert_no_panic(&cmd, &out);
        let status = out.status.code().expect("an exit status");
        if !codes.contains(&status) {
            panic!("expected exit status in {codes:?}\n{details}");
        }
        let decisions = if status == 0 || status == 3 {
            parse_decisions(&dir.read_out("decisions.csv"))
        } else {
            vec![]
        };
        Run {
            dir,
            output: out,
            details,
            decisions,
        }
    }
}

// ---------------------------------------------------------------------------------
// Reading the outputs
// ---------------------------------------------------------------------------------

/// One row of decisions.csv.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub source: String,
    pub installation_id: String,
    pub group_id: String,
    pub outcome: String,
    pub clauses: String,
    pub reasons: String,
    pub mpxns: String,
}

/// Parses RFC 4180 CSV (quoted fields may hold the delimiter, `""`, CR and LF).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = vec![];
    let mut row = vec![];
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            ',' => {
                row.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                at_field_start = true;
            }
            _ => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if !at_field_start || !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Parses decisions.csv, checking its header (SPEC §7).
pub fn parse_decisions(text: &str) -> Vec<Decision> {
    let mut rows = parse_csv(text).into_iter();
    let header = rows.next().expect("decisions.csv has a header");
    assert_eq!(
        header.join(","),
        "source,installation_id,group_id,outcome,clauses,reasons,mpxns",
        "decisions.csv header"
    );
    rows.map(|r| {
        assert_eq!(r.len(), 7, "decisions.csv row {r:?}");
        let mut f = r.into_iter();
        let mut next = || f.next().unwrap();
        Decision {
            source: next(),
            installation_id: next(),
            group_id: next(),
            outcome: next(),
            clauses: next(),
            reasons: next(),
            mpxns: next(),
        }
    })
    .collect()
}

/// The row accounting of summary.json (SPEC §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rows {
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub duplicate_rows: u64,
}

/// Reads summary.json's `rows` and asserts `read = accepted + rejected + duplicate_rows`.
pub fn summary_rows(summary: &serde_json::Value) -> Rows {
    let get = |key: &str| {
        summary["rows"][key]
            .as_u64()
            .unwrap_or_else(|| panic!("summary.json rows.{key} missing in {summary}"))
    };
    let rows = Rows {
        read: get("read"),
        accepted: get("accepted"),
        rejected: get("rejected"),
        duplicate_rows: get("duplicate_rows"),
    };
    assert_eq!(
        rows.read,
        rows.accepted + rows.rejected + rows.duplicate_rows,
        "accounting must hold: {rows:?}"
    );
    rows
}

/// A finished sweep: its directory (inputs and `out/`), process output and decisions.
pub struct Run {
    pub dir: TestDir,
    pub output: Output,
    details: String,
    decisions: Vec<Decision>,
}

impl Run {
    /// The exit status.
    pub fn status(&self) -> i32 {
        self.output.status.code().expect("an exit status")
    }

    /// What the binary wrote to stderr.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Every decision, in file order.
    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// The decisions by installation_id (tests give every installation its own id).
    pub fn by_id(&self) -> BTreeMap<&str, &Decision> {
        let mut map = BTreeMap::new();
        for d in &self.decisions {
            let before = map.insert(d.installation_id.as_str(), d);
            assert!(
                before.is_none(),
                "installation_id {:?} decided twice{}",
                d.installation_id,
                self.context()
            );
        }
        map
    }

    /// The decision for `id`; fails listing decisions.csv when there is none.
    pub fn decision(&self, id: &str) -> &Decision {
        match self.by_id().get(id) {
            Some(d) => d,
            None => panic!("no decision for {id:?}{}", self.context()),
        }
    }

    /// Whether `id` has a decision.
    pub fn is_decided(&self, id: &str) -> bool {
        self.by_id().contains_key(id)
    }

    /// Asserts `id`'s outcome, clauses and reasons exactly (`;`-joined as written).
    #[track_caller]
    pub fn expect(&self, id: &str, outcome: &str, clauses: &str, reasons: &str) {
        let d = self.decision(id);
        let got = (d.outcome.as_str(), d.clauses.as_str(), d.reasons.as_str());
        if got != (outcome, clauses, reasons) {
            panic!(
                "installation {id:?}:\n  expected outcome={outcome:?} clauses={clauses:?} \
                 reasons={reasons:?}\n       got outcome={:?} clauses={:?} reasons={:?}{}",
                got.0,
                got.1,
                got.2,
                self.context()
            );
        }
    }

    /// Asserts `id` is `clear` with no clause and no reason.
    #[track_caller]
    pub fn expect_clear(&self, id: &str) {
        self.expect(id, "clear", "", "");
    }

    /// An output file's text.
    pub fn out(&self, name: &str) -> String {
        self.dir.read_out(name)
    }

    pub fn summary(&self) -> serde_json::Value {
        serde_json::from_str(&self.out("summary.json")).expect("summary.json parses")
    }

    /// summary.json's row accounting (asserted to hold).
    pub fn rows(&self) -> Rows {
        summary_rows(&self.summary())
    }

    /// The inputs, the command and its output, and decisions.csv, for failure messages.
    pub fn context(&self) -> String {
        let decisions = std::fs::read_to_string(self.dir.out().join("decisions.csv"))
            .unwrap_or_else(|_| "(none)".to_string());
        format!("\n{}\n--- decisions.csv ---\n{decisions}", self.details)
    }
}

// ---------------------------------------------------------------------------------
// Comparing whole files
// ---------------------------------------------------------------------------------

/// Asserts two texts are equal; on failure prints a line diff (`-` expected,
/// `+` got) and both texts' lengths.
#[track_caller]
pub fn assert_same_text(what: &str, expected: &str, got: &str) {
    if expected == got {
        return;
    }
    let a: Vec<&str> = expected.split_inclusive('\n').collect();
    let b: Vec<&str> = got.split_inclusive('\n').collect();
    panic!(
        "{what} differs ({} vs {} bytes):\n{}",
        expected.len(),
        got.len(),
        line_diff(&a, &b)
    );
}

/// A longest-common-subsequence line diff; lines shown with their terminators escaped.
fn line_diff(a: &[&str], b: &[&str]) -> String {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let show = |s: &str| format!("{s:?}");
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            let _ = writeln!(out, "  {}", show(a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            let _ = writeln!(out, "+ {}", show(b[j]));
            j += 1;
        } else {
            let _ = writeln!(out, "- {}", show(a[i]));
            i += 1;
        }
    }
    out
}

/// The helpers agree with the worked examples of SPEC §4 and the sample's identifiers.
#[test]
fn identifier_helpers_match_spec_examples() {
    // SPEC §4: 3938424403 has check digits 03.
    assert_eq!(mprn_from("39384244"), "3938424403");
    // datasets/sample: valid MPANs and MPRNs.
    assert_eq!(mpan_from("101660740544"), "1016607405449");
    assert_eq!(mpan_from("176352877134"), "1763528771341");
    assert_eq!(mprn_from("10854081"), "1085408104");
    assert_eq!(mprn_from("9240179"), "924017900");
    // README: 2120018285706 is wrong, its check digit should be 5.
    assert_eq!(mpan_check_digit("212001828570"), 5);
    assert_ne!(mpan(1), bad_mpan(1));
    assert_ne!(mprn(1), bad_mprn(1));
    assert_eq!(guid(0x12), "00-1B-C5-09-00-00-00-12");
}

/// A CRC-32C (Castagnoli), bitwise: the tests check the engine's checksums with their
/// own implementation.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `index build` of the bundled sample into `index`.
pub fn build_sample_index(index: &Path) {
    let mut names: Vec<PathBuf> = std::fs::read_dir(crate_root().join("datasets/sample/inventory"))
        .unwrap()
        .map(|e| Path::new("datasets/sample/inventory").join(e.unwrap().file_name()))
        .collect();
    names.sort();
    let mut cmd = in_root(&[
        "index",
        "build",
        "--suppliers",
        "datasets/sample/suppliers.csv",
        "--quiet",
    ]);
    for n in &names {
        cmd.arg("--inventory").arg(n);
    }
    cmd.arg("--out").arg(index);
    run_expect(&mut cmd, 0);
}
