//! `sweep --report` (issue 14, item 1): report.html, and `<party>.html` with
//! `--per-party`.
//!
//! - the sample's page is `datasets/sample/expected/report.html`, from a CSV sweep and
//!   from the golden index, byte for byte;
//! - every figure marked on a page (`data-key`) is the summary.json value at that path,
//!   and every record of the tables the page draws is marked;
//! - values from user files are escaped (a `<script>` in a source name, a GroupID, a
//!   file name or a party id stays text);
//! - a sweep without `--report` removes an earlier one's page;
//! - a headless Chromium (when one is installed; skipped, saying so, when not) renders
//!   the page with no console message (no blocked resource, no script) and the rendered
//!   DOM carries summary.json's figures.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

/// The `(data-key, value)` pairs of a page: the `data-value` attribute when the element
/// has one, else its text up to the next tag; entities decoded.
pub fn data_keys(html: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("data-key=\"") {
        rest = &rest[at + "data-key=\"".len()..];
        let end = rest.find('"').expect("attribute closes");
        let key = unescape(&rest[..end]);
        let tag_end = rest.find('>').expect("tag closes");
        let tag = &rest[..tag_end];
        let value = match tag.find("data-value=\"") {
            Some(v) => {
                let v = &tag[v + "data-value=\"".len()..];
                v[..v.find('"').unwrap()].to_string()
            }
            None => {
                let text = &rest[tag_end + 1..];
                text[..text.find('<').unwrap_or(text.len())].to_string()
            }
        };
        found.push((key, unescape(&value)));
        rest = &rest[end..];
    }
    found
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The JSON value at a dotted path; a key that itself holds dots (a file or GroupID
/// name) is matched by joining segments until one is found.
fn at_path<'a>(doc: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    let parts: Vec<&str> = key.split('.').collect();
    fn walk<'a>(v: &'a serde_json::Value, parts: &[&str]) -> Option<&'a serde_json::Value> {
        if parts.is_empty() {
            return Some(v);
        }
        match v {
            serde_json::Value::Array(items) => {
                let i: usize = parts[0].parse().ok()?;
                walk(items.get(i)?, &parts[1..])
            }
            serde_json::Value::Object(map) => (1..=parts.len()).find_map(|n| {
                map.get(&parts[..n].join("."))
                    .and_then(|v| walk(v, &parts[n..]))
            }),
            _ => None,
        }
    }
    walk(doc, &parts)
}

/// Asserts every marked figure of `html` equals `doc`'s value at its key (numbers with
/// their thousands separators removed), and returns the keys.
pub fn assert_figures_match(html: &str, doc: &serde_json::Value, what: &str) -> Vec<String> {
    let pairs = data_keys(html);
    assert!(!pairs.is_empty(), "{what}: no data-key at all");
    for (key, shown) in &pairs {
        let Some(value) = at_path(doc, key) else {
            panic!("{what}: data-key {key:?} is not a path of the JSON");
        };
        match value {
            serde_json::Value::Number(n) => assert_eq!(
                shown.replace(',', "").trim(),
                n.to_string(),
                "{what}: {key}"
            ),
            serde_json::Value::String(s) => assert_eq!(shown, s, "{what}: {key}"),
            other => panic!("{what}: {key} is {other}, not a figure"),
        }
    }
    pairs.into_iter().map(|(k, _)| k).collect()
}

fn sample_sweep(out: &Path, extra: &[&str]) {
    let mut cmd = in_root(&["sweep", "--as-of", "2024-06-30", "--quiet", "--out"]);
    cmd.arg(out).args(extra);
    run_expect(&mut cmd, 0);
}

fn expected_report() -> Vec<u8> {
    std::fs::read(crate_root().join("datasets/sample/expected/report.html")).unwrap()
}

const REPORT_FLAGS: [&str; 3] = ["--report", "--what-if", "only-communicating"];

#[test]
fn the_sample_report_is_the_expected_bytes_from_csv_and_from_the_index() {
    let dir = TestDir::new();
    let csv = dir.path().join("csv");
    sample_sweep(&csv, &REPORT_FLAGS);
    let got = std::fs::read(csv.join("report.html")).unwrap();
    assert!(
        got == expected_report(),
        "report.html from the CSV sweep differs from datasets/sample/expected/report.html \
         (regenerate: mpxn-recon sweep --as-of 2024-06-30 --report --what-if \
         only-communicating --out out && cp out/report.html datasets/sample/expected/)"
    );
    let index = dir.path().join("index");
    let mut cmd = in_root(&["sweep", "--as-of", "2024-06-30", "--quiet", "--index"]);
    cmd.arg("tests/fixtures/sample-v4.mxi")
        .arg("--out")
        .arg(&index)
        .args(REPORT_FLAGS);
    run_expect(&mut cmd, 0);
    assert!(
        std::fs::read(index.join("report.html")).unwrap() == got,
        "report.html from the index differs from the CSV sweep's"
    );
    // The page is a view of summary.json, not one of its outputs: the summary is the
    // same bytes with and without it, and so is every other file.
    let plain = dir.path().join("plain");
    sample_sweep(&plain, &REPORT_FLAGS[1..]);
    for name in [
        "summary.json",
        "decisions.csv",
        "duplicates.csv",
        "findings.csv",
        "rejects.csv",
        "whatif.csv",
    ] {
        assert!(
            std::fs::read(csv.join(name)).unwrap() == std::fs::read(plain.join(name)).unwrap(),
            "{name} changes with --report"
        );
    }
    assert!(!plain.join("report.html").exists());
}

#[test]
fn every_figure_on_the_page_is_summary_jsons() {
    let dir = TestDir::new();
    let out = dir.out();
    sample_sweep(&out, &REPORT_FLAGS);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let keys = assert_figures_match(&html, &summary, "report.html");
    // Every record of the tables the page draws is on it.
    let mut wanted: Vec<String> = [
        "as_of",
        "as_of_source",
        "window_days",
        "rows.read",
        "rows.accepted",
        "rows.rejected",
        "rows.duplicate_rows",
        "installations.smets1",
        "installations.smets2",
        "shared_mpxns",
        "what_if.changed",
        "suppliers.crc32c",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for o in ["unblock", "exclude", "review", "clear"] {
        wanted.push(format!("outcomes.{o}"));
        wanted.push(format!("what_if.outcomes.{o}"));
    }
    let records = |name: &str, field: &str| -> Vec<String> {
        (0..summary[name].as_array().unwrap().len())
            .map(|i| format!("{name}.{i}.{field}"))
            .collect()
    };
    wanted.extend(records("by_source_group", "installations"));
    wanted.extend(records("by_group_reason", "installations"));
    wanted.extend(records("duplicate_groups_by_size", "groups"));
    wanted.extend(records("duplicate_groups_by_sources", "groups"));
    wanted.extend(records("inventories", "bytes"));
    wanted.extend(records("inventories", "crc32c"));
    // The data issues' sources: the 15 largest (the sample has more), ties in the
    // summary's order.
    let sources = summary["findings_by_source"].as_array().unwrap();
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sources[i]["rows"].as_u64().unwrap()));
    assert!(
        sources.len() > 15,
        "the sample has more sources than the page lists"
    );
    let shown: Vec<String> = keys
        .iter()
        .filter(|k| k.starts_with("findings_by_source.") && k.ends_with(".rows"))
        .cloned()
        .collect();
    let largest: Vec<String> = order[..15]
        .iter()
        .map(|i| format!("findings_by_source.{i}.rows"))
        .collect();
    assert_eq!(shown, largest, "the largest sources, largest first");
    for code in summary["reasons"].as_object().unwrap().keys() {
        wanted.push(format!("reasons.{code}"));
    }
    for reason in summary["rejects_by_reason"].as_object().unwrap().keys() {
        wanted.push(format!("rejects_by_reason.{reason}"));
    }
    for code in summary["what_if"]["changed_by_held_back_by"]
        .as_object()
        .unwrap()
        .keys()
    {
        wanted.push(format!("what_if.changed_by_held_back_by.{code}"));
    }
    for key in &wanted {
        assert!(keys.contains(key), "report.html does not show {key}");
    }
    // Self-contained: nothing to fetch, nothing to run.
    for banned in [
        "<script", "src=", "href=", "@import", "url(", "http://", "https://",
    ] {
        assert!(!html.contains(banned), "report.html holds {banned:?}");
    }
    assert!(html.contains("@media print"), "a print style");
}

#[test]
fn values_from_user_files_are_escaped() {
    let dir = TestDir::new();
    let hostile = "<script>alert(1)</script>";
    let mut inv = Inventory::new();
    let a = Inst::new(hostile, "INST-1")
        .group("<b>x</b>")
        .supplier("S-EVIL");
    for dev in a.with_esme(&mpan(1)) {
        inv.add(dev);
    }
    let b = Inst::new("SMSO-TWO", "INST-2").supplier("S-EVIL");
    for dev in b.with_esme(&mpan(1)) {
        inv.add(dev);
    }
    let file = dir.write("<img src=x onerror=alert(1)>.csv", inv.bytes());
    let registry = dir.write(
        "suppliers.csv",
        format!("supplier_id,party_id,name,status\nS-EVIL,{hostile},<i>Evil</i> Energy,live\n"),
    );
    let notices = dir.path().join("notices");
    let mut cmd = bin();
    cmd.args([
        "sweep",
        "--as-of",
        AS_OF,
        "--quiet",
        "--report",
        "--inventory",
    ])
    .arg(&file)
    .arg("--suppliers")
    .arg(&registry)
    .arg("--out")
    .arg(dir.out())
    .arg("--per-party")
    .arg(&notices);
    run_expect(&mut cmd, 0);
    let html = std::fs::read_to_string(dir.out().join("report.html")).unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.out().join("summary.json")).unwrap())
            .unwrap();
    assert_figures_match(&html, &summary, "report.html");
    let pages: Vec<PathBuf> = std::fs::read_dir(&notices)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "html"))
        .collect();
    assert_eq!(pages.len(), 1, "{pages:?}");
    let notice = std::fs::read_to_string(&pages[0]).unwrap();
    for (page, what) in [(&html, "report.html"), (&notice, "the notice")] {
        let lower = page.to_ascii_lowercase();
        for raw in ["<script", "<img", "<b>", "<i>"] {
            assert!(
                !lower.contains(raw),
                "{what} holds {raw} unescaped:\n{page}"
            );
        }
    }
    // Escaped, not dropped: each shows as the text it is.
    let (html, notice) = (unescape(&html), unescape(&notice));
    assert!(html.contains("<SCRIPT>ALERT(1)</SCRIPT>"), "the source");
    assert!(html.contains("<B>X</B>"), "the GroupID");
    assert!(
        html.contains("<img src=x onerror=alert(1)>.csv"),
        "the file name"
    );
    assert!(notice.contains(hostile), "the party id");
}

#[test]
fn a_sweep_without_report_removes_an_earlier_page() {
    let dir = TestDir::new();
    let out = dir.out();
    sample_sweep(&out, &["--report"]);
    assert!(out.join("report.html").exists());
    let mut cmd = in_root(&["sweep", "--as-of", "2024-06-30", "--quiet", "--out"]);
    cmd.arg(&out);
    let o = run_expect(&mut cmd, 0);
    assert!(
        !out.join("report.html").exists(),
        "a stale report.html stayed"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("an earlier run's report (this sweep has no --report)"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A Chromium to render with, if one is installed.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Renders `page` headless and returns the DOM it built and the browser's console and
/// resource-load messages (lines naming `CONSOLE`, a refusal or a failed load).
fn render(browser: &Path, page: &Path, profile: &Path) -> (String, Vec<String>) {
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let messages = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Refused to")
                || l.contains("net::ERR_")
                || l.contains("Failed to load resource")
        })
        .map(str::to_string)
        .collect();
    (String::from_utf8_lossy(&o.stdout).into_owned(), messages)
}

#[test]
fn chromium_renders_the_page_with_summary_jsons_figures_and_no_console_message() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED chromium_renders_the_page...: no chromium on PATH \
             (apt-get install chromium; .ci/run installs it)"
        );
        return;
    };
    let dir = TestDir::new();
    let out = dir.out();
    sample_sweep(&out, &REPORT_FLAGS);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let page = std::fs::canonicalize(out.join("report.html")).unwrap();
    let (dom, messages) = render(&browser, &page, &dir.path().join("profile"));
    assert!(
        messages.is_empty(),
        "the browser said:\n{}",
        messages.join("\n")
    );
    let keys = assert_figures_match(&dom, &summary, "the rendered report");
    let source_keys: Vec<String> = data_keys(&std::fs::read_to_string(&page).unwrap())
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, source_keys, "the browser kept every marked figure");
    assert!(dom.contains("SMETS1 migration sweep as of"));

    // The detector itself: a page that loads something and runs a script is caught.
    let bad = dir.write(
        "bad.html",
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" \
         content=\"default-src 'none'\"></head><body><img src=\"missing.png\">\
         <script>console.log(1)</script></body></html>",
    );
    let bad = std::fs::canonicalize(bad).unwrap();
    let (_, messages) = render(&browser, &bad, &dir.path().join("profile-bad"));
    assert!(
        messages.len() >= 2,
        "a blocked image and script must be reported: {messages:?}"
    );
}

#[test]
fn party_pages_are_in_the_notices_manifest_and_go_with_report() {
    let dir = TestDir::new();
    let pp = dir.path().join("notices");
    let sweep = |extra: &[&str]| {
        let mut cmd = in_root(&["sweep", "--as-of", "2024-06-30", "--quiet", "--out"]);
        cmd.arg(dir.out()).arg("--per-party").arg(&pp).args(extra);
        run_expect(&mut cmd, 0);
    };
    sweep(&["--report"]);
    let pages = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".html"))
            .collect();
        v.sort();
        v
    };
    let parties = ["P0101", "P0102", "P0103", "P0201", "P0301"];
    let expected: Vec<String> = parties.iter().map(|p| format!("{p}.html")).collect();
    assert_eq!(pages(&pp), expected);
    let manifest = std::fs::read_to_string(pp.join(".mpxn-recon-notices")).unwrap();
    for page in &expected {
        assert!(
            manifest.lines().any(|l| l == page),
            "{page} not in {manifest}"
        );
    }
    sweep(&[]);
    assert!(pages(&pp).is_empty(), "an earlier run's pages stayed");
}
