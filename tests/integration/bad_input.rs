//! Nothing panics on any input. Hostile inventory files must end in exit 0 (rows
//! accepted or rejected, accounting intact) or exit 2 (refused, nothing written),
//! never in a panic; where SPEC and ARCHITECTURE.md ("Readings of the spec") decide the result, it is checked.

use crate::util::{guid, mpan, mprn, Dev, Inst, Inventory, Run, Sweep, HEADER, REGISTRY};

/// Sweeps `bytes` as the one inventory file; asserts no panic, exit 0 or 2, and on 0
/// the accounting of summary.json (on 2: no output).
fn survive(bytes: impl Into<Vec<u8>>) -> Run {
    let run = Sweep::bytes(bytes).run_expecting(&[0, 2]);
    if run.status() == 0 {
        run.rows();
    } else {
        assert!(
            run.dir.out_files().is_empty(),
            "a refusal writes nothing{}",
            run.context()
        );
    }
    run
}

/// Like [`survive`] but the result is decided by the spec: exit 0.
fn accepted(bytes: impl Into<Vec<u8>>) -> Run {
    let run = survive(bytes);
    assert_eq!(run.status(), 0, "expected exit 0{}", run.context());
    run
}

/// The standard header and `lines`, each ended by LF.
fn file(lines: &[&[u8]]) -> Vec<u8> {
    let mut out = HEADER.as_bytes().to_vec();
    out.push(b'\n');
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

/// A clean installation `id` of SMSO-A: CHF and ESME, as lines.
fn clean(id: &str, n: u32) -> Vec<Vec<u8>> {
    Inst::a(id)
        .with_esme(&mpan(n))
        .iter()
        .map(|d| d.line().into_bytes())
        .collect()
}

fn rejects(run: &Run) -> Vec<Vec<String>> {
    let mut rows = crate::util::parse_csv(&run.out("rejects.csv"));
    assert_eq!(rows.remove(0).join(","), "file,line,reason,raw");
    rows
}

#[test]
fn corpus_never_panics() {
    let row = Inst::a("A1").esme(&mpan(1)).line();
    let header = HEADER.as_bytes();
    let mut corpus: Vec<(&str, Vec<u8>)> = vec![
        ("empty file", vec![]),
        ("only LF", b"\n".to_vec()),
        ("only CRLF", b"\r\n".to_vec()),
        ("BOM only", b"\xEF\xBB\xBF".to_vec()),
        ("two BOMs", [b"\xEF\xBB\xBF\xEF\xBB\xBF", header].concat()),
        ("header only", [header, b"\n"].concat()),
        ("header without newline", header.to_vec()),
        ("NUL only", vec![0; 1000]),
        ("NUL in header", [b"source\0", &header[6..], b"\n"].concat()),
        ("lone CRs", format!("{HEADER}\r{row}\r{row}\r").into_bytes()),
        (
            "CR LF CR",
            format!("{HEADER}\r\n\r{row}\r\r\n").into_bytes(),
        ),
        (
            "invalid UTF-8 header",
            [b"sou\xFFrce", &header[6..]].concat(),
        ),
        ("only quotes", b"\"\"\"\"\"\n\"\"\"\n\"".to_vec()),
        ("unclosed quote header", [b"\"", header].concat()),
        ("binary", (0..=255u8).cycle().take(10_000).collect()),
        (
            "delimiters only",
            b",,,,,,,,,\n,,,,,,,,,\n|||||||||\n".to_vec(),
        ),
        ("pipes in rows", file(&[row.replace(',', "|").as_bytes()])),
        (
            "huge header name",
            [&vec![b'x'; 1 << 20][..], b",", header].concat(),
        ),
    ];
    let many_columns: Vec<String> = (0..10_000).map(|i| format!("c{i}")).collect();
    corpus.push((
        "10k unknown columns, no known ones",
        many_columns.join(",").into_bytes(),
    ));
    for (name, bytes) in corpus {
        let run = survive(bytes);
        eprintln!("{name}: exit {}", run.status());
    }
}

#[test]
fn empty_or_headerless_files_are_refused_and_header_only_is_fine() {
    // No header line naming the required columns: refused, exit 2.
    for bytes in [&b""[..], b"\xEF\xBB\xBF", b"\n"] {
        let run = survive(bytes);
        assert_eq!(run.status(), 2, "{bytes:?}{}", run.context());
    }
    // A second BOM is data: the first column is then `\u{FEFF}source`, unknown, and
    // `source` is missing.
    let run = survive([b"\xEF\xBB\xBF\xEF\xBB\xBF", HEADER.as_bytes(), b"\n"].concat());
    assert_eq!(run.status(), 2);
    // A header with no rows, with or without its newline, with a BOM and CRLF.
    for bytes in [
        HEADER.as_bytes().to_vec(),
        format!("{HEADER}\n").into_bytes(),
        format!("\u{FEFF}{HEADER}\r\n").into_bytes(),
    ] {
        let run = accepted(bytes);
        assert_eq!(run.rows().read, 0);
        assert!(run.decisions().is_empty());
    }
}

#[test]
fn invalid_utf8_in_the_header_is_refused_naming_line_1() {
    let bytes = [
        b"source,group_id,installation_id\xC3\x28",
        &HEADER.as_bytes()[31..],
        b"\n",
    ]
    .concat();
    let run = survive(bytes);
    assert_eq!(run.status(), 2);
    assert!(
        run.stderr().contains("inventory.csv:1"),
        "{}",
        run.context()
    );
}

#[test]
fn invalid_utf8_in_fields_rejects_the_row_with_lossy_raw() {
    let good = clean("A1", 1);
    // Latin-1 é; a truncated 4-byte sequence; an overlong encoding; a lone
    // continuation byte. Each row is otherwise fine.
    let bad: [&[u8]; 4] = [
        b"SMSO-A,AA,A1,70B3D52E00000001,IHD,,2020-01-01,2024-06-20,Caf\xE9,",
        b"SMSO-A,AA,A1,70B3D52E00000002,IHD,,2020-01-01,2024-06-20,\xF0\x9F\x98,",
        b"SMSO-A,AA,A1,70B3D52E00000003,IHD,,2020-01-01,2024-06-20,\xC0\xAF,",
        b"SMSO-A,AA,\x80A1,70B3D52E00000004,IHD,,2020-01-01,2024-06-20,,",
    ];
    let lines: Vec<&[u8]> = vec![&good[0], bad[0], &good[1], bad[1], bad[2], bad[3]];
    let run = accepted(file(&lines));
    run.expect_clear("A1");
    let got = rejects(&run);
    let expected: Vec<Vec<String>> = [(3, bad[0]), (5, bad[1]), (6, bad[2]), (7, bad[3])]
        .iter()
        .map(|(line, raw)| {
            vec![
                "inventory.csv".to_string(),
                line.to_string(),
                "undecodable bytes".to_string(),
                String::from_utf8_lossy(raw).into_owned(),
            ]
        })
        .collect();
    assert_eq!(got, expected, "{}", run.context());
    let rows = run.rows();
    assert_eq!((rows.read, rows.rejected), (6, 4));
}

#[test]
fn nul_bytes_in_fields_are_data() {
    let a = Inst::a("A\x001");
    let lines: Vec<Vec<u8>> = a
        .with_esme(&mpan(1))
        .iter()
        .map(|d| d.line().into_bytes())
        .collect();
    let mut all: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
    let ihd = a.device("IHD").id("\0\0").line();
    all.push(ihd.as_bytes());
    let run = accepted(file(&all));
    run.expect("A\x001", "exclude", "18.12", "INVALID_GUID");
}

#[test]
fn ten_thousand_empty_lines_are_rejected_with_their_line_numbers() {
    let mut bytes = file(&[]);
    bytes.extend(std::iter::repeat_n(b'\n', 10_000));
    let run = accepted(bytes);
    let rows = run.rows();
    assert_eq!((rows.read, rows.rejected), (10_000, 10_000));
    let got = rejects(&run);
    assert_eq!(got.len(), 10_000);
    assert_eq!(got[0], ["inventory.csv", "2", "wrong number of fields", ""]);
    assert_eq!(got[9_999][1], "10001");
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, r)| r[1] == (i + 2).to_string()));
}

#[test]
fn line_numbers_count_lf_only() {
    // A CR inside a line does not end it; CRLF does not count twice; a last line
    // without a terminator counts.
    let a1 = Inst::a("A1");
    let chf = a1.chf().line();
    let odd = a1.device("IHD").inst("A1\rX").line();
    let esme = a1.esme(&mpan(1)).line();
    let bytes = format!("{HEADER}\r\n{chf}\r\n{odd}\n\r\n{esme}\r\nSMSO-A,AA,A3,x\r\nSMSO-A,AA,A4");
    let run = accepted(bytes);
    run.expect_clear("A1");
    // The CR stays inside the installation id, and decisions.csv quotes it.
    run.expect("A1\rX", "exclude", "18.12", "NO_METER");
    assert!(run.out("decisions.csv").contains("\"A1\rX\""));
    let got: Vec<(String, String, String)> = rejects(&run)
        .into_iter()
        .map(|r| (r[1].clone(), r[2].clone(), r[3].clone()))
        .collect();
    let expected = [
        ("4", "wrong number of fields", ""),
        ("6", "wrong number of fields", "SMSO-A,AA,A3,x"),
        ("7", "wrong number of fields", "SMSO-A,AA,A4"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, expected, "{}", run.context());
}

#[test]
fn quoting_per_rfc_4180_within_a_line() {
    // Every field quoted; `""` escapes inside installation_id, which must still group
    // with the same id written unquoted (`A"1`); a quote inside an unquoted field is
    // a literal character.
    let a = Inst::a("A\"1");
    let chf = a.chf();
    let quoted_chf: Vec<String> = chf
        .fields()
        .iter()
        .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
        .collect();
    let esme = a.esme(&mpan(1)).line();
    let bad_after_quote = "\"SMSO-A\" ,AA,A2,x,IHD,,2020-01-01,,,";
    let unclosed = "SMSO-A,AA,\"A3,x,IHD,,2020-01-01,,,";
    let comma_inside = format!(
        "SMSO-A,AA,\"A,4\",{},ESME,{},2020-01-01,{},LIVE1,N",
        guid(4),
        mpan(4),
        crate::util::RECENT
    );
    let quoted_line = quoted_chf.join(",");
    let lines: Vec<&[u8]> = vec![
        quoted_line.as_bytes(),
        esme.as_bytes(),
        bad_after_quote.as_bytes(),
        unclosed.as_bytes(),
        comma_inside.as_bytes(),
    ];
    let run = accepted(file(&lines));
    run.expect_clear("A\"1");
    assert_eq!(run.decision("A\"1").mpxns, mpan(1));
    assert!(run.out("decisions.csv").contains("\"A\"\"1\""));
    run.expect_clear("A,4");
    assert_eq!(run.decisions().len(), 2);
    let got: Vec<(String, String)> = rejects(&run)
        .into_iter()
        .map(|r| (r[1].clone(), r[2].clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("4".to_string(), "malformed quoting".to_string()),
            ("5".to_string(), "malformed quoting".to_string()),
        ]
    );
}

#[test]
fn a_field_is_quoted_only_when_its_first_byte_is_a_quote() {
    // ` "A1"`: a space first, so the quotes are literal text (`"A1"` after trimming);
    // `"  A1 "`: quoted, then trimmed to `A1`; `""` as source: empty, rejected.
    let esme = Inst::a("X").esme(&mpan(1));
    let chf = Inst::a("X").chf();
    let ihd = Inst::a("X").device("IHD");
    let line = |d: &Dev, id: &str| {
        let mut f = d.fields();
        f[2] = id.to_string();
        f.join(",")
    };
    let lines = [
        line(&esme, " \"A1\""),
        line(&chf, "\"  A1 \""),
        line(&ihd, "A1"),
        format!(
            "\"\",{}",
            &line(&ihd.clone().id(&guid(9)), "A9")["SMSO-A,".len()..]
        ),
    ];
    let refs: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    let run = accepted(file(&refs));
    run.expect_clear("\"A1\"");
    run.expect("A1", "exclude", "18.12", "NO_METER");
    assert!(run.out("decisions.csv").contains("SMSO-A,\"\"\"A1\"\"\","));
    let got = rejects(&run);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0][1].as_str(), got[0][2].as_str()),
        ("5", "empty source")
    );
}

#[test]
fn rejects_name_each_file_as_given_sorted_by_file_then_line() {
    let mut bad = Inventory::new();
    bad.extend(Inst::a("A1").with_esme(&mpan(1)))
        .raw("SMSO-A,AA,A2")
        .raw("SMSO-A,AA,A3");
    let mut other = Inventory::new();
    other.raw("SMSO-B,BB");
    // Given as `sub/../b.csv` and `a.csv`: written exactly so, sorted by that text.
    let run = Sweep::named("sub/../b.csv", bad.bytes())
        .file_bytes("a.csv", other.bytes())
        .run();
    let got: Vec<(String, String)> = rejects(&run)
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    let expected = [("a.csv", "2"), ("sub/../b.csv", "4"), ("sub/../b.csv", "5")];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(f, l)| (f.to_string(), l.to_string()))
        .collect();
    assert_eq!(got, expected, "{}", run.context());
}

#[test]
fn reject_reasons_are_tested_in_order() {
    // Appendix: undecodable bytes, malformed quoting, wrong number of fields, empty
    // source, empty installation_id. Each row below breaks every later rule too.
    let lines: [&[u8]; 5] = [
        b"\"\xFF,AA",            // undecodable, bad quoting, 2 fields
        b"\"SMSO-A\"x,,,,,,,,,", // bad quoting, wrong count after
        b",,,",                  // wrong count, empty source
        b" \t,AA, ,00-1B-C5-09-00-00-00-01,IHD,,2020-01-01,,,", // empty source and id
        b"SMSO-A,AA,\x0b\x0c,00-1B-C5-09-00-00-00-02,IHD,,2020-01-01,,,",
    ];
    let run = accepted(file(&lines));
    let reasons: Vec<String> = rejects(&run).into_iter().map(|r| r[2].clone()).collect();
    assert_eq!(
        reasons,
        [
            "undecodable bytes",
            "malformed quoting",
            "wrong number of fields",
            "empty source",
            "empty installation_id"
        ]
    );
    assert!(run.decisions().is_empty());
}

#[test]
fn huge_fields_and_rows() {
    let a1 = Inst::a("A1");
    let big_id = "I".repeat(1 << 20);
    let mut inv = Inventory::new();
    inv.extend(a1.with_esme(&mpan(1)))
        // A 1 MB device id: not a GUID.
        .add(a1.device("IHD").id(&"F".repeat(1 << 20)))
        // A 1 MB installation id.
        .extend(Inst::a(&big_id).with_esme(&mpan(2)))
        // An ESME whose MPAN-like value is 100k digits.
        .extend(Inst::a("A3").with_esme(&"1".repeat(100_000)))
        // A GSME whose MPRN has 100k leading zeros: still valid (zeros go first).
        .extend(Inst::a("A4").with_gsme(&format!("{}{}", "0".repeat(100_000), mprn(4))))
        // A 10k-field row.
        .raw(vec![b','; 9_999]);
    let run = accepted(inv.bytes());
    run.expect("A1", "exclude", "18.12", "INVALID_GUID");
    run.expect_clear(&big_id);
    run.expect("A3", "exclude", "18.12", "INVALID_MPAN");
    run.expect_clear("A4");
    assert_eq!(run.decision("A4").mpxns, mprn(4));
    let got = rejects(&run);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0][1].as_str(), got[0][2].as_str()),
        ("11", "wrong number of fields")
    );
}

#[test]
fn ten_thousand_columns_in_header_and_rows() {
    let extra: String = (0..9_990).map(|i| format!(",x{i}")).collect();
    let mut inv = Inventory::with_header(format!("{HEADER}{extra}"));
    let values: String = (0..9_990).map(|i| format!(",{i}")).collect();
    for d in Inst::a("A1").with_esme(&mpan(1)) {
        inv.raw(format!("{}{values}", d.line()));
    }
    // One field short.
    inv.raw(format!(
        "{}{}",
        Inst::a("A2").chf().line(),
        &values[..values.rfind(',').unwrap()]
    ));
    let run = accepted(inv.bytes());
    run.expect_clear("A1");
    assert!(!run.is_decided("A2"));
    assert_eq!(rejects(&run)[0][1], "4");
}

#[test]
fn trailing_delimiter_is_an_extra_field() {
    let a1 = Inst::a("A1").with_esme(&mpan(1));
    // Rows with a trailing comma under a header without one: 11 fields, rejected.
    let mut inv = Inventory::new();
    inv.extend(a1.clone())
        .raw(format!("{},", Inst::a("A2").chf().line()));
    let run = accepted(inv.bytes());
    run.expect_clear("A1");
    assert!(!run.is_decided("A2"));
    assert_eq!(
        rejects(&run)[0][1..3],
        ["4".to_string(), "wrong number of fields".to_string()]
    );
    // With a trailing comma in the header too, an empty-named column: fine.
    let mut inv = Inventory::with_header(format!("{HEADER},"));
    for d in a1 {
        inv.raw(format!("{},", d.line()));
    }
    accepted(inv.bytes()).expect_clear("A1");
}

#[test]
fn ascii_whitespace_around_fields_is_trimmed() {
    let a1 = Inst::a("A1");
    let pad = |d: Dev| -> String {
        d.fields()
            .iter()
            .map(|f| format!("\t\x0b {f}\x0c \t"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut inv = Inventory::new();
    inv.raw(pad(a1.chf()))
        .raw(pad(a1.esme(&mpan(1))))
        .raw(pad(a1.gsme(&mprn(1)).supplier("GONE").dormant("true")));
    let run = accepted(inv.bytes());
    run.expect("A1", "unblock", "4.1A", "DORMANT_SUPPLIER_CEASED");
    let d = run.decision("A1");
    assert_eq!((d.source.as_str(), d.group_id.as_str()), ("SMSO-A", "AA"));
}

#[test]
fn non_ascii_whitespace_is_not_trimmed() {
    const NBSP: &str = "\u{A0}";
    let mut inv = Inventory::new();
    // `A1` and `A1 ` (NBSP) are two installations.
    inv.extend(Inst::a("A1").with_esme(&mpan(1)))
        .extend(Inst::a(&format!("A1{NBSP}")).with_esme(&mpan(2)))
        // An NBSP in a supplier id, an MPAN, a dormant flag, a GUID, a date.
        .extend(
            Inst::a("A3")
                .supplier(&format!("LIVE1{NBSP}"))
                .with_esme(&mpan(3)),
        )
        .extend(Inst::a("A4").with_esme(&format!("{NBSP}{}", mpan(4))))
        .extend(
            Inst::a("A5")
                .supplier("GONE")
                .dormant(&format!("Y{NBSP}"))
                .with_esme(&mpan(5)),
        )
        .extend(Inst::a("A6").with_esme(&mpan(6)))
        .add(
            Inst::a("A6")
                .device("IHD")
                .id(&format!("{}{NBSP}", guid(6))),
        )
        .extend(Inst::a("A7").with_esme(&mpan(7)))
        .add(
            Inst::a("A7")
                .device("IHD")
                .installed(&format!("2020-01-01{NBSP}")),
        )
        // `SMETS2 ` with an NBSP is an SMSO: it gets a decision.
        .extend(Inst::new(&format!("SMETS2{NBSP}"), "A8").with_esme(&mpan(8)));
    let run = accepted(inv.bytes());
    run.expect_clear("A1");
    run.expect_clear(&format!("A1{NBSP}"));
    run.expect("A3", "exclude", "18.12", "UNKNOWN_SUPPLIER");
    run.expect("A4", "exclude", "18.12", "INVALID_MPAN");
    run.expect("A5", "review", "", "ACTIVE_SUPPLIER_CEASED");
    run.expect("A6", "exclude", "18.12", "INVALID_GUID");
    run.expect("A7", "exclude", "18.12", "INVALID_DATE");
    run.expect_clear("A8");
    assert_eq!(run.decision("A8").source, format!("SMETS2{NBSP}"));
}

#[test]
fn bom_in_the_middle_is_data() {
    let a = Inst::a("A1");
    let mut inv = Inventory::with_header(format!("\u{FEFF}{HEADER}"));
    inv.extend(a.with_esme(&mpan(1)))
        // A BOM opening a data row is part of its source.
        .add(a.device("IHD").source("\u{FEFF}SMSO-A"));
    let run = accepted(inv.bytes());
    // Two installations `A1`, sorted by source in byte order (0xEF after `S`).
    let got: Vec<(&str, &str, &str)> = run
        .decisions()
        .iter()
        .map(|d| {
            (
                d.source.as_str(),
                d.installation_id.as_str(),
                d.reasons.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("SMSO-A", "A1", ""), ("\u{FEFF}SMSO-A", "A1", "NO_METER")],
        "{}",
        run.context()
    );
}

#[test]
fn extreme_dates_do_not_panic() {
    // Where a date's UTC calendar date leaves 0000..=9999 the reading is open (see the
    // report); the engine must not panic and must fail closed on last_comms_at.
    let extremes = [
        "9999-12-31T23:59:60-23:59",
        "0000-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59.999999999999999999999999-00:01",
        "0000-01-01T00:00:00.000000000000000000000001+00:01",
        "2024-06-30T23:59:60Z",
        "2024-06-30T24:00:00Z",
        "2024-06-30T23:60:00Z",
        "2024-06-30T23:59:61Z",
        "2024-06-30T12:00:00+24:00",
        "2024-06-30T12:00:00+99:99",
        "99999-01-01",
        "-001-01-01",
        "2024-06-30T12:00:00.Z",
        "２０２４-06-30",
    ];
    let mut inv = Inventory::new();
    for (n, e) in extremes.iter().enumerate() {
        let n = n as u32;
        inv.extend(Inst::a(&format!("C{n:02}")).with_esme(&mpan(n)))
            .add(Inst::a(&format!("C{n:02}")).device("IHD").comms(e))
            .extend(Inst::a(&format!("I{n:02}")).with_esme(&mpan(100 + n)))
            .add(Inst::a(&format!("I{n:02}")).device("IHD").installed(e));
    }
    let run = accepted(inv.bytes());
    for (n, extreme) in extremes.iter().enumerate() {
        let c = run.decision(&format!("C{n:02}"));
        assert!(
            ["", "INVALID_DATE", "FUTURE_COMMS"].contains(&c.reasons.as_str()),
            "last_comms_at {extreme:?}: {c:?}"
        );
        let i = run.decision(&format!("I{n:02}"));
        assert!(
            ["", "INVALID_DATE"].contains(&i.reasons.as_str()),
            "installed_on {extreme:?}: {i:?}"
        );
    }
    // What the spec does decide: 9999-12-31 is a date (in the future), 0000-01-01 is
    // not (years run from 0001: a placeholder); hours 24 and minutes 60 are not; a leap second keeps its day.
    let mut inv = Inventory::new();
    inv.extend(Inst::a("F1").comms("9999-12-31").with_esme(&mpan(1)))
        .extend(Inst::a("F2").installed("0000-01-01").with_esme(&mpan(2)))
        .extend(
            Inst::a("F3")
                .comms("2024-06-30T24:00:00Z")
                .with_esme(&mpan(3)),
        )
        .extend(
            Inst::a("F4")
                .comms("2024-06-30T23:60:00Z")
                .with_esme(&mpan(4)),
        )
        .extend(
            Inst::a("F5")
                .comms("2024-06-30T23:59:60Z")
                .with_esme(&mpan(5)),
        );
    let run = accepted(inv.bytes());
    run.expect("F1", "exclude", "18.12", "FUTURE_COMMS");
    run.expect("F2", "exclude", "18.12", "INVALID_DATE");
    run.expect("F3", "exclude", "18.12", "INVALID_DATE");
    run.expect("F4", "exclude", "18.12", "INVALID_DATE");
    run.expect_clear("F5");
}

#[test]
fn a_file_bigger_than_one_parse_chunk_keeps_line_numbers() {
    // ~6 MB: more than one 4 MiB parse chunk. Rejected rows sit near the start, in
    // the middle and at the end; their line numbers must be physical.
    let total = 60_000u32;
    let mut inv = Inventory::new();
    let mut bad_lines = vec![];
    for n in 0..total {
        if n % 20_000 == 7 || n == total - 1 {
            inv.raw(format!("SMSO-A,AA,R{n},bad"));
            bad_lines.push(n as usize + 2);
        } else {
            let inst = Inst::a(&format!("INSTALLATION-{:08}", n / 2));
            inv.add(if n % 2 == 0 {
                inst.chf()
            } else {
                inst.esme(&mpan(n / 2))
            });
        }
    }
    let bytes = inv.bytes();
    assert!(bytes.len() > 5 << 20, "{} bytes", bytes.len());
    let run = accepted(bytes);
    let got: Vec<usize> = rejects(&run)
        .iter()
        .map(|r| r[1].parse().unwrap())
        .collect();
    assert_eq!(got, bad_lines);
    let rows = run.rows();
    assert_eq!(
        (rows.read, rows.rejected),
        (u64::from(total), bad_lines.len() as u64)
    );
}

#[test]
fn hostile_registries_never_panic() {
    let inv = Inventory::of(Inst::a("A1").with_esme(&mpan(1)));
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        b"\xEF\xBB\xBF".to_vec(),
        b"supplier_id,party_id,name,status".to_vec(),
        [REGISTRY.as_bytes(), b"LIVE9,P9,N\xFF,live\n"].concat(),
        format!("{REGISTRY}LIVE9,P9,too,many,fields\n").into_bytes(),
        format!("{REGISTRY}\n").into_bytes(),
        format!("{REGISTRY}\"LIVE9,P9,N,live\n").into_bytes(),
        REGISTRY.replace('\n', "\r").into_bytes(),
        [REGISTRY.as_bytes(), &vec![b'x'; 1 << 20]].concat(),
    ];
    for registry in cases {
        let run = Sweep::new(&inv).registry(registry).run_expecting(&[0, 2]);
        if run.status() == 0 {
            run.rows();
        } else {
            assert!(run.dir.out_files().is_empty());
        }
    }
    // A registry with only a header is valid: every supplier is unknown.
    let run = Sweep::new(&inv)
        .registry("supplier_id,party_id,name,status\n")
        .run();
    run.expect("A1", "exclude", "18.12", "UNKNOWN_SUPPLIER");
}
