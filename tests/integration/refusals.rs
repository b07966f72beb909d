//! Inputs the run refuses, and the exit statuses of SPEC/CLI: 0 ok, 1 I/O error,
//! 2 refused input or bad usage (nothing written, stderr names the file and the
//! column or `file:line`), 3 `--strict` with rejected rows (every output written).

use crate::util::{bin, mpan, run_expect, Inst, Inventory, Run, Sweep, TestDir, HEADER, REGISTRY};

const INVENTORY_REQUIRED: [&str; 8] = [
    "source",
    "group_id",
    "installation_id",
    "device_id",
    "device_type",
    "mpxn",
    "installed_on",
    "supplier_id",
];

/// The inventory file name of these tests: distinctive, so that finding it in stderr
/// means the message names it.
const FILE: &str = "smso-q_2024-06-30.csv";

/// Whether `text` holds `word` with no identifier character (`[A-Za-z0-9_-]`) on
/// either side, so `mpxn` is not found inside `mpxn-recon` nor `source` in `sources`.
fn mentions(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// Asserts a refusal: exit 2 (checked by the caller's run), nothing written, and
/// stderr naming every one of `names`.
#[track_caller]
fn assert_refused(run: &Run, names: &[&str]) {
    let stderr = run.stderr();
    for name in names {
        assert!(
            stderr.contains(name),
            "stderr should name {name:?}{}",
            run.context()
        );
    }
    assert_eq!(
        run.dir.out_files(),
        Vec::<String>::new(),
        "a refusal writes no output{}",
        run.context()
    );
}

/// A valid inventory (CHF + ESME) written under `header`, a comma-separated subset
/// of the standard columns.
fn inventory_with_columns(columns: &[&str]) -> Vec<u8> {
    let names: Vec<&str> = HEADER.split(',').collect();
    let mut text = columns.join(",");
    text.push('\n');
    for dev in Inst::a("A1").with_esme(&mpan(1)) {
        let fields = dev.fields();
        let picked: Vec<&str> = columns
            .iter()
            .map(|c| {
                let i = names
                    .iter()
                    .position(|n| n == c)
                    .expect("a standard column");
                fields[i].as_str()
            })
            .collect();
        text.push_str(&picked.join(","));
        text.push('\n');
    }
    text.into_bytes()
}

#[test]
fn missing_required_inventory_column_refuses_the_file() {
    for missing in INVENTORY_REQUIRED {
        let columns: Vec<&str> = HEADER.split(',').filter(|c| *c != missing).collect();
        let run = Sweep::named(FILE, inventory_with_columns(&columns)).run_status(2);
        assert_refused(&run, &[FILE]);
        assert!(
            mentions(&run.stderr(), missing),
            "stderr should name column {missing:?}{}",
            run.context()
        );
    }
}

#[test]
fn optional_inventory_columns_may_be_missing() {
    let columns: Vec<&str> = HEADER
        .split(',')
        .filter(|c| *c != "last_comms_at" && *c != "dormant")
        .collect();
    let run = Sweep::named(FILE, inventory_with_columns(&columns)).run();
    // No last communication at all: not a finding, just never communicated.
    run.expect_clear("A1");
}

#[test]
fn missing_required_registry_column_refuses_the_run() {
    for missing in ["supplier_id", "party_id", "name", "status"] {
        let names = ["supplier_id", "party_id", "name", "status"];
        let keep: Vec<usize> = (0..4).filter(|&i| names[i] != missing).collect();
        let mut registry = String::new();
        for line in REGISTRY.lines() {
            let fields: Vec<&str> = line.split(',').collect();
            let picked: Vec<&str> = keep.iter().map(|&i| fields[i]).collect();
            registry.push_str(&picked.join(","));
            registry.push('\n');
        }
        let inv = Inventory::of(Inst::a("A1").with_esme(&mpan(1)));
        let run = Sweep::new(&inv).registry(registry).run_status(2);
        assert_refused(&run, &["suppliers.csv"]);
        assert!(
            mentions(&run.stderr(), missing),
            "stderr should name column {missing:?}{}",
            run.context()
        );
    }
}

#[test]
fn known_column_named_twice_refuses_the_file() {
    // Names are trimmed and compared case-insensitively.
    let header = format!("{HEADER}, Device_Type ");
    let mut inv = Inventory::with_header(header);
    for dev in Inst::a("A1").with_esme(&mpan(1)) {
        inv.raw(format!("{},X", dev.line()));
    }
    let run = Sweep::named(FILE, inv.bytes()).run_status(2);
    assert_refused(&run, &[FILE]);
    assert!(mentions(&run.stderr(), "device_type"), "{}", run.context());

    let registry = "supplier_id,party_id,name,STATUS,status\nLIVE1,P-LIVE,Live,live,live\n";
    let inv = Inventory::of(Inst::a("A1").with_esme(&mpan(1)));
    let run = Sweep::new(&inv).registry(registry).run_status(2);
    assert_refused(&run, &["suppliers.csv"]);
    assert!(mentions(&run.stderr(), "status"), "{}", run.context());
}

#[test]
fn unknown_or_empty_column_names_twice_are_ignored() {
    let header = format!("notes,{HEADER},,NOTES, ");
    let mut inv = Inventory::with_header(header);
    for dev in Inst::a("A1").with_esme(&mpan(1)) {
        inv.raw(format!("n,{},,n,", dev.line()));
    }
    let run = Sweep::named(FILE, inv.bytes()).run();
    run.expect_clear("A1");
}

#[test]
fn header_with_both_delimiters_refuses_the_file() {
    // One `|` among the commas of the header; the rows are plain CSV.
    let header = HEADER.replacen(',', "|", 1);
    let mut inv = Inventory::with_header(header);
    inv.extend(Inst::a("A1").with_esme(&mpan(1)));
    let run = Sweep::named(FILE, inv.bytes()).run_status(2);
    assert_refused(&run, &[&format!("{FILE}:1")]);

    let registry = REGISTRY.replacen(',', "|", 1);
    let inv = Inventory::of(Inst::a("A1").with_esme(&mpan(1)));
    let run = Sweep::new(&inv).registry(registry).run_status(2);
    assert_refused(&run, &["suppliers.csv:1"]);
}

#[test]
fn pipe_delimited_header_is_accepted() {
    let mut inv = Inventory::with_header(HEADER.replace(',', "|").to_uppercase());
    for dev in Inst::a("A1").with_esme(&mpan(1)) {
        inv.raw(dev.fields().join("|"));
    }
    Sweep::named(FILE, inv.bytes()).run().expect_clear("A1");
}

#[test]
fn header_with_malformed_quoting_refuses_the_file() {
    let header = format!("\"source\"x,{}", &HEADER["source,".len()..]);
    let mut inv = Inventory::with_header(header);
    inv.extend(Inst::a("A1").with_esme(&mpan(1)));
    let run = Sweep::named(FILE, inv.bytes()).run_status(2);
    assert_refused(&run, &[FILE]);
}

/// The standard registry with `line` appended (it becomes line 6).
fn registry_plus(line: &str) -> String {
    format!("{REGISTRY}{line}\n")
}

#[test]
fn bad_registry_rows_refuse_the_run_naming_the_line() {
    let cases = [
        ("empty supplier_id", registry_plus("  ,P-NEW,New Ltd,live")),
        ("empty party_id", registry_plus("NEW1, \t,New Ltd,live")),
        ("unknown status", registry_plus("NEW1,P-NEW,New Ltd,active")),
        ("empty status", registry_plus("NEW1,P-NEW,New Ltd,")),
        // LIVE1 is P-LIVE's on line 2.
        (
            "supplier mapped to two parties",
            registry_plus(" live1 ,P-OTHER,Other Ltd,live"),
        ),
        // P-GONE is ceased_trading on line 4.
        (
            "party with two statuses",
            registry_plus("GONE2,P-GONE,Gone Power plc,live"),
        ),
    ];
    for (what, registry) in cases {
        let inv = Inventory::of(Inst::a("A1").with_esme(&mpan(1)));
        let run = Sweep::new(&inv).registry(registry).run_status(2);
        let stderr = run.stderr();
        assert!(
            stderr.contains("suppliers.csv:6"),
            "{what}: stderr should name suppliers.csv:6{}",
            run.context()
        );
        assert_refused(&run, &["suppliers.csv"]);
    }
}

#[test]
fn registry_readings_that_are_not_errors() {
    // The same mapping twice (any case and spacing); party ids are case-sensitive, so
    // `p-live` is another party and may have another status; status any case.
    let registry = format!(
        "{REGISTRY} live1 ,P-LIVE,Live Energy Ltd,LIVE\nLIVE3,p-live,Other Ltd,Ceased_Trading\n"
    );
    let mut inv = Inventory::new();
    inv.extend(Inst::a("A1").with_esme(&mpan(1)))
        .extend(Inst::a("A2").supplier("live3").with_esme(&mpan(2)));
    let run = Sweep::new(&inv).registry(registry).run();
    run.expect_clear("A1");
    run.expect("A2", "review", "", "ACTIVE_SUPPLIER_CEASED");

    // A registry like any input: BOM, CRLF, pipes, any column order and case, an
    // unknown column, quoted fields, no terminator on the last line.
    let registry = "\u{FEFF}Status|\"Party_ID\"|extra|NAME|Supplier_ID\r\n\
                    live|P-LIVE||\"Live | Energy\"|\"LIVE1\"\r\n\
                    ceased_trading|P-GONE|x|Gone|live3";
    let run = Sweep::new(&inv).registry(registry).run();
    run.expect_clear("A1");
    run.expect("A2", "review", "", "ACTIVE_SUPPLIER_CEASED");
}

#[test]
fn refusal_of_a_later_file_still_writes_nothing() {
    let good = Inventory::of(Inst::a("A1").with_esme(&mpan(1)));
    let columns: Vec<&str> = HEADER.split(',').filter(|c| *c != "mpxn").collect();
    let run = Sweep::new(&good)
        .file_bytes(FILE, inventory_with_columns(&columns))
        .run_status(2);
    assert_refused(&run, &[FILE]);
    assert!(mentions(&run.stderr(), "mpxn"), "{}", run.context());
}

#[test]
fn strict_with_a_rejected_row_exits_3_after_writing_everything() {
    let mut inv = Inventory::new();
    inv.extend(Inst::a("A1").with_esme(&mpan(1)))
        .raw("SMSO-A,AA,A2,too,few,fields");
    let run = Sweep::new(&inv).strict().run_status(3);
    assert_eq!(
        run.dir.out_files(),
        [
            "decisions.csv",
            "duplicates.csv",
            "findings.csv",
            "rejects.csv",
            "summary.json"
        ]
    );
    run.expect_clear("A1");
    assert_eq!(
        run.out("rejects.csv"),
        "file,line,reason,raw\ninventory.csv,4,wrong number of fields,\"SMSO-A,AA,A2,too,few,fields\"\n"
    );
    let rows = run.rows();
    assert_eq!((rows.read, rows.accepted, rows.rejected), (3, 2, 1));
    // Without --strict the same input is a success.
    let run = Sweep::new(&inv).run();
    assert_eq!(run.rows().rejected, 1);
}

#[test]
fn strict_without_rejects_exits_0() {
    let inv = Inventory::of(Inst::a("A1").with_esme(&mpan(1)));
    let run = Sweep::new(&inv).strict().run();
    run.expect_clear("A1");
    assert_eq!(run.dir.out_files().len(), 5);
}

#[test]
fn bad_usage_exits_2_and_writes_nothing() {
    let dir = TestDir::new();
    let inv = Inventory::of(Inst::a("A1").with_esme(&mpan(1)));
    dir.write("inventory.csv", inv.bytes());
    dir.write("suppliers.csv", REGISTRY);
    let cases: [&[&str]; 8] = [
        &["--inventory", "inventory.csv"],
        &["--suppliers", "suppliers.csv"],
        &["--as-of", "2024-06-30", "--inventory", "inventory.csv"],
        &[
            "--inventory",
            "inventory.csv",
            "--suppliers",
            "suppliers.csv",
            "--as-of",
            "2024-02-30",
        ],
        &[
            "--inventory",
            "inventory.csv",
            "--suppliers",
            "suppliers.csv",
            "--as-of",
            "30/06/2024",
        ],
        &[
            "--inventory",
            "inventory.csv",
            "--suppliers",
            "suppliers.csv",
            "--as-of",
            "2024-06-30T00:00:00Z",
        ],
        &[
            "--inventory",
            "inventory.csv",
            "--suppliers",
            "suppliers.csv",
            "--window-days",
            "-1",
        ],
        &[
            "--inventory",
            "inventory.csv",
            "--suppliers",
            "suppliers.csv",
            "--no-such-flag",
        ],
    ];
    for args in cases {
        let mut cmd = dir.sweep_cmd();
        cmd.args(args).args(["--out", "out"]);
        let out = run_expect(&mut cmd, 2);
        assert!(!out.stderr.is_empty(), "a usage error says why: {args:?}");
        assert_eq!(dir.out_files(), Vec::<String>::new(), "{args:?}");
    }
    // No subcommand at all.
    let mut cmd = bin();
    cmd.current_dir(dir.path());
    run_expect(&mut cmd, 2);
}

#[test]
fn missing_input_file_is_an_io_error() {
    let dir = TestDir::new();
    dir.write("suppliers.csv", REGISTRY);
    let mut cmd = dir.sweep_cmd();
    cmd.args([
        "--inventory",
        "no-such-inventory.csv",
        "--suppliers",
        "suppliers.csv",
        "--as-of",
        "2024-06-30",
        "--out",
        "out",
    ]);
    let out = run_expect(&mut cmd, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-inventory.csv"));
    assert_eq!(dir.out_files(), Vec::<String>::new());

    let inv = Inventory::of(Inst::a("A1").with_esme(&mpan(1)));
    dir.write("inventory.csv", inv.bytes());
    let mut cmd = dir.sweep_cmd();
    cmd.args([
        "--inventory",
        "inventory.csv",
        "--suppliers",
        "no-such-registry.csv",
        "--as-of",
        "2024-06-30",
        "--out",
        "out",
    ]);
    let out = run_expect(&mut cmd, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-registry.csv"));
    assert_eq!(dir.out_files(), Vec::<String>::new());
}
