//! findings.csv (issue 13): one row per value that caused a data-issue finding, for
//! every code that names a value, SMETS1 and SMETS2 alike; the file as given, the
//! physical line, the header's own spelling of the column, the raw value trimmed; the
//! same bytes from a CSV sweep and from an index, at any as-of date.

use std::collections::BTreeSet;

use crate::util::{
    assert_same_text, bad_mpan, bad_mprn, bin, mpan, mprn, run_expect, Sweep, TestDir, HEADER,
    REGISTRY,
};

/// The codes findings.csv lists (NO_METER names no value; the duplicate and supplier
/// status findings are not data issues of one value).
const CODES: [&str; 9] = [
    "DUPLICATE_GUID",
    "FUTURE_COMMS",
    "INVALID_DATE",
    "INVALID_GUID",
    "INVALID_MPAN",
    "INVALID_MPRN",
    "MISSING_MPXN",
    "REPEATED_MPXN",
    "UNKNOWN_SUPPLIER",
];

/// Two inventories holding every code once or twice: `a.csv` (comma, the standard
/// header) and `s2.psv` (pipe, SMETS2, a mixed-case header).
fn inputs() -> (String, String) {
    let spaced = {
        let m = mpan(5);
        format!("{} {}", &m[..2], &m[2..])
    };
    let rows = [
        // 2: clean; 3: a 15-digit GUID.
        format!("SMSO-A,AA,I1,00-1B-C5-09-00-00-00-01,ESME,{},2020-01-01,2024-06-20,LIVE1,N", mpan(1)),
        "SMSO-A,AA,I1,00-1B-C5-09-00-00-00-0,IHD,,2020-01-01,2024-06-20,,".to_string(),
        // 4: whitespace-only mpxn (shown empty).
        "SMSO-A,AA,I2,00-1B-C5-09-00-00-00-02,ESME,   ,2020-01-01,2024-06-20,LIVE1,N".to_string(),
        // 5, 6: a bad MPAN, a bad MPRN.
        format!("SMSO-A,AA,I3,00-1B-C5-09-00-00-00-03,ESME,{},2020-01-01,2024-06-20,LIVE1,N", bad_mpan(3)),
        format!("SMSO-A,AA,I4,00-1B-C5-09-00-00-00-04,GSME,{},2020-01-01,2024-06-20,LIVE1,N", bad_mprn(4)),
        // 7, 8: the same MPAN twice, once written with a space (shown as written).
        format!("SMSO-A,AA,I5,00-1B-C5-09-00-00-00-05,ESME,{},2020-01-01,2024-06-20,LIVE1,N", mpan(5)),
        format!("SMSO-A,AA,I5,00-1B-C5-09-00-00-00-15,ESME,{spaced},2021-01-01,2024-06-20,LIVE1,N"),
        // 9, 10: an unknown supplier holding a comma (quoted on output), an empty one.
        format!("SMSO-A,AA,I6,00-1B-C5-09-00-00-00-06,ESME,{},2020-01-01,2024-06-20,\"X,Y\",N", mpan(6)),
        format!("SMSO-A,AA,I6,00-1B-C5-09-00-00-00-16,GSME,{},2020-01-01,2024-06-20, ,N", mprn(6)),
        // 11: both dates unparseable: two rows, one per column.
        format!("SMSO-A,AA,I7,00-1B-C5-09-00-00-00-07,ESME,{},2020-02-30,2024/06/20,LIVE1,N", mpan(7)),
        // 12, 13: communications after 2024-06-30, a timestamp kept as written.
        format!("SMSO-A,AA,I8,00-1B-C5-09-00-00-00-08,ESME,{},2020-01-01,2024-07-01T00:30:00+00:00,LIVE1,N", mpan(8)),
        "SMSO-A,AA,I8,00-1B-C5-09-00-00-00-18,IHD,,2020-01-01, 2024-07-05 ,,".to_string(),
        // 14-16: a GUID also on the SMETS2 inventory; its row repeated verbatim
        // (collapsed: only the kept row is listed).
        format!("SMSO-A,AA,I9,00-1B-C5-09-00-00-00-09,ESME,{},2020-01-01,2024-06-20,LIVE1,N", mpan(9)),
        "SMSO-A,AA,I9,00-1B-C5-09-00-00-00-99,IHD,,2020-01-01,2024-06-20,,".to_string(),
        "SMSO-A,AA,I9,00-1B-C5-09-00-00-00-99,IHD,,2020-01-01,2024-06-20,,".to_string(),
        // 17: rejected (wrong number of fields): not an installation's row.
        "SMSO-A,AA,I10,not-a-guid,ESME".to_string(),
    ];
    let a = format!("{HEADER}\n{}\n", rows.join("\n"));
    let s2 = format!(
        "Source|Group_ID|Installation_ID|Device_Id|Device_Type|MPXN|Installed_On|Last_Comms_At|Supplier_Id|Dormant\n\
         SMETS2||S1|00:1b:c5:09:00:00:00:99|IHD||2020-01-01|2024-06-20||\n\
         SMETS2||S1|00-1B-C5-09-00-00-00-A1|ESME|{}|2020-01-01|2024-06-20|LIVE1|N\n",
        bad_mpan(11)
    );
    (a, s2)
}

/// findings.csv of [`inputs`] as of 2024-06-30, derived by hand from the rows above.
fn expected() -> String {
    let spaced = {
        let m = mpan(5);
        format!("{} {}", &m[..2], &m[2..])
    };
    format!(
        "source,installation_id,finding,file,line,column,value\n\
         SMETS2,S1,DUPLICATE_GUID,s2.psv,2,Device_Id,00:1b:c5:09:00:00:00:99\n\
         SMETS2,S1,INVALID_MPAN,s2.psv,3,MPXN,{bad11}\n\
         SMSO-A,I1,INVALID_GUID,a.csv,3,device_id,00-1B-C5-09-00-00-00-0\n\
         SMSO-A,I2,MISSING_MPXN,a.csv,4,mpxn,\n\
         SMSO-A,I3,INVALID_MPAN,a.csv,5,mpxn,{bad3}\n\
         SMSO-A,I4,INVALID_MPRN,a.csv,6,mpxn,{badr4}\n\
         SMSO-A,I5,REPEATED_MPXN,a.csv,7,mpxn,{m5}\n\
         SMSO-A,I5,REPEATED_MPXN,a.csv,8,mpxn,{spaced}\n\
         SMSO-A,I6,UNKNOWN_SUPPLIER,a.csv,9,supplier_id,\"X,Y\"\n\
         SMSO-A,I6,UNKNOWN_SUPPLIER,a.csv,10,supplier_id,\n\
         SMSO-A,I7,INVALID_DATE,a.csv,11,installed_on,2020-02-30\n\
         SMSO-A,I7,INVALID_DATE,a.csv,11,last_comms_at,2024/06/20\n\
         SMSO-A,I8,FUTURE_COMMS,a.csv,12,last_comms_at,2024-07-01T00:30:00+00:00\n\
         SMSO-A,I8,FUTURE_COMMS,a.csv,13,last_comms_at,2024-07-05\n\
         SMSO-A,I9,DUPLICATE_GUID,a.csv,15,device_id,00-1B-C5-09-00-00-00-99\n",
        bad11 = bad_mpan(11),
        bad3 = bad_mpan(3),
        badr4 = bad_mprn(4),
        m5 = mpan(5),
    )
}

/// Writes the inputs into `dir`; returns the `--inventory` arguments (as given).
fn write_inputs(dir: &TestDir) -> Vec<String> {
    let (a, s2) = inputs();
    dir.write("a.csv", a);
    dir.write("s2.psv", s2);
    dir.write("suppliers.csv", REGISTRY);
    ["--inventory", "s2.psv", "--inventory", "a.csv"]
        .map(String::from)
        .to_vec()
}

fn csv_sweep(dir: &TestDir, inventories: &[String], as_of: &str, out: &str) -> String {
    let mut cmd = bin();
    cmd.current_dir(dir.path())
        .arg("sweep")
        .args(inventories)
        .args([
            "--suppliers",
            "suppliers.csv",
            "--as-of",
            as_of,
            "--out",
            out,
        ]);
    run_expect(&mut cmd, 0);
    std::fs::read_to_string(dir.path().join(out).join("findings.csv")).unwrap()
}

fn index_sweep(dir: &TestDir, as_of: &str, out: &str) -> String {
    let mut cmd = bin();
    cmd.current_dir(dir.path())
        .args(["sweep", "--index", "x.mxi", "--as-of", as_of, "--out", out]);
    run_expect(&mut cmd, 0);
    std::fs::read_to_string(dir.path().join(out).join("findings.csv")).unwrap()
}

#[test]
fn every_code_lists_its_rows_from_csv_and_from_an_index() {
    let dir = TestDir::new();
    let inventories = write_inputs(&dir);
    let csv = csv_sweep(&dir, &inventories, "2024-06-30", "out-csv");
    assert_same_text("findings.csv (CSV sweep)", &expected(), &csv);

    let mut cmd = bin();
    cmd.current_dir(dir.path())
        .args(["index", "build", "--quiet", "--suppliers", "suppliers.csv"])
        .args(&inventories)
        .args(["--out", "x.mxi"]);
    run_expect(&mut cmd, 0);
    let index = index_sweep(&dir, "2024-06-30", "out-index");
    assert_same_text("findings.csv (index sweep)", &expected(), &index);

    // Each code has its rows: a code whose rows vanish fails here by name.
    let listed: BTreeSet<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    for code in CODES {
        assert!(
            listed.contains(code),
            "no {code} row in findings.csv:\n{csv}"
        );
    }
}

#[test]
fn future_comms_rows_follow_the_as_of_date_from_csv_and_from_an_index() {
    let dir = TestDir::new();
    let inventories = write_inputs(&dir);
    let mut cmd = bin();
    cmd.current_dir(dir.path())
        .args(["index", "build", "--quiet", "--suppliers", "suppliers.csv"])
        .args(&inventories)
        .args(["--out", "x.mxi"]);
    run_expect(&mut cmd, 0);
    let future = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains(",FUTURE_COMMS,"))
            .map(String::from)
            .collect()
    };
    for (as_of, lines) in [
        ("2024-06-30", vec![12, 13]),
        // 2024-07-01T00:30:00+00:00 is on the date itself: not after it.
        ("2024-07-01", vec![13]),
        ("2024-07-05", vec![]),
        // Every parseable last_comms_at is after a date long ago.
        (
            "2000-01-01",
            vec![2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15],
        ),
    ] {
        let csv = csv_sweep(&dir, &inventories, as_of, &format!("csv-{as_of}"));
        let index = index_sweep(&dir, as_of, &format!("index-{as_of}"));
        assert_same_text(&format!("findings.csv as of {as_of}"), &csv, &index);
        let got: Vec<u64> = future(&csv)
            .iter()
            .filter(|l| l.starts_with("SMSO-A,"))
            .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
            .collect();
        assert_eq!(
            got, lines,
            "FUTURE_COMMS lines of a.csv as of {as_of}:\n{csv}"
        );
    }
}

#[test]
fn a_sweep_lists_findings_csv_in_the_summary_outputs() {
    let (a, _) = inputs();
    let run = Sweep::named("a.csv", a).run();
    let summary = run.summary();
    let entry = &summary["outputs"]["findings.csv"];
    assert_eq!(
        entry["bytes"].as_u64().unwrap(),
        run.out("findings.csv").len() as u64,
        "{summary}"
    );
    let crc = format!("{:08x}", crc32c::crc32c(run.out("findings.csv").as_bytes()));
    assert_eq!(entry["crc32c"].as_str().unwrap(), crc);
}
