//! A hostile user's reproductions (issue "Outputs that cannot be hijacked, mixed up or
//! half-written"): each test failed before its fix. Inputs that must be refused or
//! rejected, outputs that must be published as one set, a closed stdout that must not
//! change the exit status, and names that must fit any file system.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::{
    bin, mpan, output, run_expect, Inst, Inventory, Sweep, TestDir, HEADER, REGISTRY,
};

/// Writes a standard inventory and registry into `dir` and returns the sweep command
/// that reads them into `dir/out`.
fn sweep_in(dir: &TestDir, inv: &Inventory) -> Command {
    dir.write("inventory.csv", inv.bytes());
    dir.write("suppliers.csv", REGISTRY);
    let mut cmd = dir.sweep_cmd();
    cmd.args([
        "--inventory",
        "inventory.csv",
        "--suppliers",
        "suppliers.csv",
        "--as-of",
        "2024-06-30",
    ]);
    cmd
}

fn small_inventory() -> Inventory {
    let mut inv = Inventory::new();
    inv.extend(Inst::a("A1").with_esme(&mpan(1)))
        .extend(Inst::b("B1").with_esme(&mpan(2)))
        .raw(",,,");
    inv
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {path:?}: {e}"))
}

// ---------------------------------------------------------------------------------
// 9. CR-only line ends; 10. fields over 16 MiB; 14. a registry's final blank line
// ---------------------------------------------------------------------------------

#[test]
fn a_header_holding_a_cr_refuses_the_file_as_cr_only_line_ends() {
    let row = Inst::a("A1").esme(&mpan(1)).line();
    // The header ends in an optional column, so before the fix the whole file was read
    // as one header line and 0 rows were swept with exit 0.
    let header = HEADER.to_string();
    for bytes in [
        format!("{header}\r{row}\r{row}\r"),
        format!("{header}\r{row}\r\n"),
        format!(
            "source,group_id\r,installation_id{}\n{row}\n",
            &header[15..]
        ),
    ] {
        let run = Sweep::named("cr-only.csv", bytes).run_status(2);
        let stderr = run.stderr();
        assert!(
            stderr.contains("cr-only.csv") && stderr.contains("CR"),
            "the refusal names the file and the CR line ends{}",
            run.context()
        );
        assert!(run.dir.out_files().is_empty(), "{}", run.context());
    }
    // One CR at the very end of the header is a CRLF line end: fine.
    let run = Sweep::bytes(format!("{header}\r\n{row}\r\n")).run();
    assert_eq!(run.rows().read, 1);
}

#[test]
fn a_registry_header_holding_a_cr_is_refused() {
    let inv = Inventory::of(Inst::a("A1").with_esme(&mpan(1)));
    let registry = REGISTRY.replace('\n', "\r");
    let run = Sweep::new(&inv).registry(registry).run_status(2);
    assert!(run.stderr().contains("CR"), "{}", run.context());
}

#[test]
fn a_field_over_16_mib_rejects_its_row_with_field_too_long() {
    const MAX: usize = (1 << 24) - 1;
    // Two installation ids equal in their first 16,777,215 bytes: before the fix both
    // printed as the same (cut) id.
    let base = "I".repeat(MAX);
    let long_a = format!("{base}A");
    let long_b = format!("{base}B");
    let mut inv = Inventory::new();
    inv.extend(Inst::a("A1").with_esme(&mpan(1)))
        .extend(Inst::a(&long_a).with_esme(&mpan(2)))
        .extend(Inst::a(&long_b).with_esme(&mpan(3)))
        // Exactly at the limit, after trimming: accepted.
        .extend(Inst::a(&format!("  {base} ")).with_esme(&mpan(4)))
        // A long unknown-text field (device_id) rejects too; the count check comes first.
        .add(Inst::a("A1").device("IHD").id(&"F".repeat(MAX + 1)))
        .raw(format!("{},x", "y".repeat(MAX + 1)));
    let run = Sweep::new(&inv).run();
    let rejects = crate::util::parse_csv(&run.out("rejects.csv"));
    let reasons: Vec<&str> = rejects[1..].iter().map(|r| r[2].as_str()).collect();
    assert_eq!(
        reasons,
        [
            "field too long",
            "field too long",
            "field too long",
            "field too long",
            "field too long",
            "wrong number of fields"
        ],
        "{}",
        run.context()
    );
    assert!(run.is_decided("A1"));
    assert!(run.is_decided(&base));
    assert_eq!(run.decisions().len(), 2);
    let rows = run.rows();
    assert_eq!(rows.rejected, 6);
}

#[test]
fn a_registry_may_end_in_blank_lines_but_not_hold_one() {
    let inv = Inventory::of(
        Inst::a("A1")
            .supplier("GONE")
            .dormant("Y")
            .with_esme(&mpan(1)),
    );
    for tail in ["\n", "\n\n", "\r\n", " \n"] {
        let run = Sweep::new(&inv).registry(format!("{REGISTRY}{tail}")).run();
        run.expect("A1", "unblock", "4.1A", "DORMANT_SUPPLIER_CEASED");
    }
    let mut lines: Vec<&str> = REGISTRY.lines().collect();
    lines.insert(2, "");
    let run = Sweep::new(&inv)
        .registry(lines.join("\n") + "\n")
        .run_status(2);
    assert!(
        run.stderr().contains("suppliers.csv:3") && run.stderr().contains("blank"),
        "{}",
        run.context()
    );
}
