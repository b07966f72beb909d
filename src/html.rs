//! HTML: the sweep's `report.html` from its [`Summary`], and a supplier's notice
//! (`<party>.html`) from exactly what its CSV notice and impact summary hold.
//!
//! Takes data already computed — never a view, never a judgement — so a page cannot
//! disagree with `summary.json` (or a notice with `<party>.csv` / `<party>.impact.json`):
//! every figure on it is one of theirs, carried in a `data-key` attribute that names its
//! JSON path (`outcomes.unblock`, `by_source_group.3.installations`), and no figure is
//! derived here (bar widths and heat shades are drawn from them, never printed). Hands
//! on one self-contained UTF-8 page: inline CSS with a print style, inline SVG charts,
//! no script, and a Content-Security-Policy that forbids every external resource. Pages
//! are askama templates (`templates/`) compiled into the binary; every value is
//! HTML-escaped by the template (file names, source, GroupID and party names come from
//! user files). Cost: microseconds; the page's size grows with the summary's tables.

use std::collections::BTreeMap;

use askama::Template;

use crate::portfolio::{Impact, PartyInstallation};
use crate::report::Summary;
use crate::resolve::Outcome;
use crate::timing::thousands;

/// The sweep's report, by name (written with `sweep --report`).
pub const REPORT: &str = "report.html";

/// How many of `findings_by_source`'s records the page lists (the largest first).
pub const TOP_FINDING_SOURCES: usize = 15;

/// A figure on a page: its JSON path in the source document and its text.
pub struct Num {
    pub key: String,
    pub text: String,
}

impl Num {
    fn new(key: impl Into<String>, n: u64) -> Num {
        Num {
            key: key.into(),
            text: thousands(n),
        }
    }
}

/// A value's text with its JSON path (file names, checksums, dates).
pub struct Text {
    pub key: String,
    pub text: String,
}

fn text(key: impl Into<String>, text: impl Into<String>) -> Text {
    Text {
        key: key.into(),
        text: text.into(),
    }
}

pub struct InputRow {
    pub role: &'static str,
    pub path: Text,
    pub bytes: Num,
    pub crc32c: Text,
}

/// One bar segment of a chart: where it is drawn, and the figure it stands for.
pub struct Segment {
    pub class: &'static str,
    pub x: String,
    pub width: String,
    pub key: String,
    /// The figure, plain (for `data-value`), and as the tooltip prints it.
    pub value: u64,
    pub title: String,
}

pub struct CohortRow {
    pub source: String,
    pub group_id: String,
    /// One cell per outcome, in SPEC §6.2 order; `None` when no installation has it.
    pub cells: Vec<Option<Num>>,
    pub y: String,
    pub label_y: String,
    pub segments: Vec<Segment>,
}

pub struct HeatCell {
    pub num: Option<Num>,
    /// The cell's shade: its count's share of the GroupID's installations (0–1).
    pub shade: String,
}

pub struct HeatRow {
    pub reason: &'static str,
    pub cells: Vec<HeatCell>,
    pub total: Num,
}

/// A one-figure bar of a simple bar chart.
pub struct Bar {
    pub label: String,
    pub extra: String,
    pub num: Num,
    pub y: String,
    pub label_y: String,
    pub width: String,
}

pub struct FindingSource {
    pub file: Text,
    pub column: Text,
    pub finding: Text,
    pub rows: Num,
}

pub struct WhatIfOutcome {
    pub name: &'static str,
    pub dcc: Num,
    pub policy: Num,
}

pub struct WhatIfView {
    pub policy: Text,
    pub outcomes: Vec<WhatIfOutcome>,
    pub changed: Num,
    pub by_outcome: Vec<(String, Num)>,
    pub held_back_by: Vec<(&'static str, Num)>,
}

/// The outcomes in SPEC §6.2 order, also their CSS classes.
const OUTCOMES: [&str; 4] = Outcome::NAMES;

#[derive(Template)]
#[template(path = "report.html")]
pub struct ReportPage {
    pub version: Text,
    pub as_of: Text,
    pub as_of_source: Option<Text>,
    pub window_days: Num,
    pub inputs: Vec<InputRow>,
    pub rows_read: Num,
    pub rows_accepted: Num,
    pub rows_rejected: Num,
    pub rows_duplicate: Num,
    pub rejects: Vec<(String, Num)>,
    pub smets1: Num,
    pub smets2: Num,
    pub shared_mpxns: Num,
    pub outcomes: Vec<(&'static str, Num)>,
    pub outcome_names: [&'static str; 4],
    pub cohorts: Vec<CohortRow>,
    pub cohort_height: String,
    pub heat_groups: Vec<String>,
    pub heat_rows: Vec<HeatRow>,
    pub sizes: Vec<Bar>,
    pub sizes_height: String,
    pub pairs: Vec<Bar>,
    pub pairs_height: String,
    pub finding_sources: Vec<FindingSource>,
    pub finding_sources_all: bool,
    pub what_if: Option<WhatIfView>,
    pub outputs: Vec<InputRow>,
}

/// Chart geometry: label column, bar area, row pitch (SVG user units).
const LABEL_W: f64 = 220.0;
const BAR_W: f64 = 520.0;
const ROW_H: f64 = 22.0;

fn px(v: f64) -> String {
    format!("{v:.1}")
}

/// Bars for figures `values`, scaled to the largest.
fn bars(items: Vec<(String, String, Num, u64)>) -> (Vec<Bar>, String) {
    let max = items.iter().map(|i| i.3).max().unwrap_or(0).max(1) as f64;
    let bars = items
        .into_iter()
        .enumerate()
        .map(|(i, (label, extra, num, v))| Bar {
            label,
            extra,
            num,
            y: px(i as f64 * ROW_H + 4.0),
            label_y: px(i as f64 * ROW_H + 16.0),
            width: px((v as f64 / max * BAR_W).max(if v > 0 { 1.0 } else { 0.0 })),
        })
        .collect::<Vec<_>>();
    let height = px(bars.len() as f64 * ROW_H + 4.0);
    (bars, height)
}

impl ReportPage {
    /// The page for `s`: every figure one of `s`'s, keyed by its JSON path.
    pub fn of(s: &Summary) -> ReportPage {
        let mut inputs = Vec::new();
        for (i, f) in s.inventories.iter().enumerate() {
            inputs.push(InputRow {
                role: "inventory",
                path: text(format!("inventories.{i}.path"), f.path.clone()),
                bytes: Num::new(format!("inventories.{i}.bytes"), f.bytes),
                crc32c: text(format!("inventories.{i}.crc32c"), f.crc32c.clone()),
            });
        }
        inputs.push(InputRow {
            role: "supplier registry",
            path: text("suppliers.path", s.suppliers.path.clone()),
            bytes: Num::new("suppliers.bytes", s.suppliers.bytes),
            crc32c: text("suppliers.crc32c", s.suppliers.crc32c.clone()),
        });
        let outputs = s
            .outputs
            .iter()
            .map(|(name, d)| InputRow {
                role: "output",
                path: text("", name.to_string()),
                bytes: Num::new(format!("outputs.{name}.bytes"), d.bytes),
                crc32c: text(format!("outputs.{name}.crc32c"), d.crc32c.clone()),
            })
            .collect();

        // Outcomes by SMSO × GroupID: the flat records, pivoted; bars scaled to the
        // largest row.
        // (record index, installations) per outcome column.
        type Cells = [Option<(usize, u64)>; 4];
        let mut rows: BTreeMap<(&str, &str), Cells> = BTreeMap::new();
        for (i, r) in s.by_source_group.iter().enumerate() {
            // Every record's outcome is one of the four (the summary is ours).
            let Some(col) = OUTCOMES.iter().position(|o| *o == r.outcome) else {
                continue;
            };
            rows.entry((&r.source, &r.group_id)).or_default()[col] = Some((i, r.installations));
        }
        let widest = rows
            .values()
            .map(|c| c.iter().flatten().map(|x| x.1).sum::<u64>())
            .max()
            .unwrap_or(0)
            .max(1) as f64;
        let cohorts: Vec<CohortRow> = rows
            .iter()
            .enumerate()
            .map(|(row, ((source, group), cells))| {
                let mut x = LABEL_W;
                let mut segments = Vec::new();
                for (col, cell) in cells.iter().enumerate() {
                    let Some((i, n)) = cell else { continue };
                    let w = *n as f64 / widest * BAR_W;
                    segments.push(Segment {
                        class: OUTCOMES[col],
                        x: px(x),
                        width: px(w),
                        key: format!("by_source_group.{i}.installations"),
                        value: *n,
                        title: format!("{source} {group}: {} {}", thousands(*n), OUTCOMES[col]),
                    });
                    x += w;
                }
                CohortRow {
                    source: source.to_string(),
                    group_id: group.to_string(),
                    cells: cells
                        .iter()
                        .map(|c| {
                            c.map(|(i, n)| {
                                Num::new(format!("by_source_group.{i}.installations"), n)
                            })
                        })
                        .collect(),
                    y: px(row as f64 * ROW_H + 4.0),
                    label_y: px(row as f64 * ROW_H + 16.0),
                    segments,
                }
            })
            .collect();
        let cohort_height = px(cohorts.len() as f64 * ROW_H + 4.0);

        // Reasons by GroupID: a heat table, shaded by share of the GroupID's
        // installations (from by_group_id; the share itself is not printed).
        let heat_groups: Vec<String> = s.by_group_id.keys().cloned().collect();
        let group_total: Vec<u64> = s.by_group_id.values().map(|o| o.values().sum()).collect();
        let mut cells: BTreeMap<(&str, usize), (usize, u64)> = BTreeMap::new();
        for (i, r) in s.by_group_reason.iter().enumerate() {
            if let Some(g) = heat_groups.iter().position(|g| *g == r.group_id) {
                cells.insert((r.reason, g), (i, r.installations));
            }
        }
        let heat_rows = s
            .reasons
            .iter()
            .map(|(&reason, &total)| HeatRow {
                reason,
                cells: (0..heat_groups.len())
                    .map(|g| match cells.get(&(reason, g)) {
                        Some(&(i, n)) => HeatCell {
                            num: Some(Num::new(format!("by_group_reason.{i}.installations"), n)),
                            shade: format!("{:.2}", n as f64 / group_total[g].max(1) as f64),
                        },
                        None => HeatCell {
                            num: None,
                            shade: "0".to_string(),
                        },
                    })
                    .collect(),
                total: Num::new(format!("reasons.{reason}"), total),
            })
            .collect();

        let (sizes, sizes_height) = bars(
            s.duplicate_groups_by_size
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    (
                        format!("{} installations", r.members),
                        String::new(),
                        Num::new(format!("duplicate_groups_by_size.{i}.groups"), r.groups),
                        r.groups,
                    )
                })
                .collect(),
        );
        let (pairs, pairs_height) = bars(
            s.duplicate_groups_by_sources
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    (
                        format!("{} – {}", r.source_a, r.source_b),
                        r.kind.to_string(),
                        Num::new(format!("duplicate_groups_by_sources.{i}.groups"), r.groups),
                        r.groups,
                    )
                })
                .collect(),
        );

        // The largest data-issue sources, ties in the summary's order.
        let mut order: Vec<usize> = (0..s.findings_by_source.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(s.findings_by_source[i].rows));
        let finding_sources = order
            .iter()
            .take(TOP_FINDING_SOURCES)
            .map(|&i| {
                let r = &s.findings_by_source[i];
                let key = |field: &str| format!("findings_by_source.{i}.{field}");
                FindingSource {
                    file: text(key("file"), r.file.clone()),
                    column: text(key("column"), r.column.clone()),
                    finding: text(key("finding"), r.finding),
                    rows: Num::new(key("rows"), r.rows),
                }
            })
            .collect();

        let what_if = s.what_if.as_ref().map(|w| WhatIfView {
            policy: text("what_if.policy", w.policy),
            outcomes: OUTCOMES
                .iter()
                .map(|&o| WhatIfOutcome {
                    name: o,
                    dcc: Num::new(
                        format!("outcomes.{o}"),
                        s.outcomes.get(o).copied().unwrap_or(0),
                    ),
                    policy: Num::new(
                        format!("what_if.outcomes.{o}"),
                        w.outcomes.get(o).copied().unwrap_or(0),
                    ),
                })
                .collect(),
            changed: Num::new("what_if.changed", w.changed),
            by_outcome: w
                .changed_by_outcome
                .iter()
                .map(|(pair, &n)| {
                    (
                        pair.replace("->", " → "),
                        Num::new(format!("what_if.changed_by_outcome.{pair}"), n),
                    )
                })
                .collect(),
            held_back_by: w
                .changed_by_held_back_by
                .iter()
                .map(|(&code, &n)| {
                    (
                        code,
                        Num::new(format!("what_if.changed_by_held_back_by.{code}"), n),
                    )
                })
                .collect(),
        });

        ReportPage {
            version: text("version", s.version.clone()),
            as_of: text("as_of", s.as_of.clone()),
            as_of_source: s.as_of_source.map(|o| text("as_of_source", o)),
            window_days: Num::new("window_days", s.window_days.into()),
            inputs,
            rows_read: Num::new("rows.read", s.rows.read),
            rows_accepted: Num::new("rows.accepted", s.rows.accepted),
            rows_rejected: Num::new("rows.rejected", s.rows.rejected),
            rows_duplicate: Num::new("rows.duplicate_rows", s.rows.duplicate_rows),
            rejects: s
                .rejects_by_reason
                .iter()
                .map(|(r, &n)| (r.clone(), Num::new(format!("rejects_by_reason.{r}"), n)))
                .collect(),
            smets1: Num::new(
                "installations.smets1",
                s.installations.get("smets1").copied().unwrap_or(0),
            ),
            smets2: Num::new(
                "installations.smets2",
                s.installations.get("smets2").copied().unwrap_or(0),
            ),
            shared_mpxns: Num::new("shared_mpxns", s.shared_mpxns),
            outcomes: OUTCOMES
                .iter()
                .map(|&o| {
                    (
                        o,
                        Num::new(
                            format!("outcomes.{o}"),
                            s.outcomes.get(o).copied().unwrap_or(0),
                        ),
                    )
                })
                .collect(),
            outcome_names: OUTCOMES,
            cohorts,
            cohort_height,
            heat_groups,
            heat_rows,
            sizes,
            sizes_height,
            pairs,
            pairs_height,
            finding_sources_all: s.findings_by_source.len() <= TOP_FINDING_SOURCES,
            finding_sources,
            what_if,
            outputs,
        }
    }
}

/// `report.html` for a summary.
pub fn report(summary: &Summary) -> String {
    ReportPage::of(summary)
        .render()
        .expect("rendering to a String does not fail")
}

/// One of the party's installations as its notice shows it.
pub struct NoticeInstallation<'a> {
    pub i: &'a PartyInstallation,
    pub clauses: String,
    pub reasons: String,
    /// The values behind its data-issue findings, or why they are withheld (the CSV
    /// notice's `detail`, [`crate::portfolio::values_in_words`]).
    pub values: String,
}

pub struct NoticeOutcome<'a> {
    pub name: &'static str,
    pub num: Num,
    pub installations: Vec<NoticeInstallation<'a>>,
}

/// A supplier's notice: the party's impact counts and its installations by outcome,
/// each shared MPxN's other members by the four facts the CSV notice allows.
#[derive(Template)]
#[template(path = "notice.html")]
pub struct NoticePage<'a> {
    pub party_id: Text,
    /// The party's name from the registry (empty when it gives none).
    pub name: Text,
    pub as_of: Text,
    pub window_days: Num,
    pub installations: Num,
    pub outcomes: Vec<NoticeOutcome<'a>>,
    pub reasons: Vec<(&'static str, Num)>,
    pub dormancy: Vec<(&'static str, Vec<Num>)>,
    pub groups: Vec<(String, Vec<Num>)>,
    pub outcome_names: [&'static str; 4],
}

impl<'a> NoticePage<'a> {
    /// Figures are keyed by their path in `<party>.impact.json`; the installations are
    /// `<party>.csv`'s, in its order.
    pub fn of(impact: &Impact, installations: &'a [PartyInstallation]) -> NoticePage<'a> {
        let row = |prefix: String, counts: &BTreeMap<&'static str, u64>| -> Vec<Num> {
            OUTCOMES
                .iter()
                .map(|o| Num::new(format!("{prefix}.{o}"), counts.get(o).copied().unwrap_or(0)))
                .collect()
        };
        NoticePage {
            party_id: text("party_id", impact.party_id.clone()),
            name: text("name", impact.name.clone()),
            as_of: text("as_of", impact.as_of.clone()),
            window_days: Num::new("window_days", impact.window_days.into()),
            installations: Num::new("installations", impact.installations),
            outcomes: Outcome::ALL
                .iter()
                .map(|o| NoticeOutcome {
                    name: o.as_str(),
                    num: Num::new(
                        format!("outcomes.{}", o.as_str()),
                        impact.outcomes.get(o.as_str()).copied().unwrap_or(0),
                    ),
                    installations: installations
                        .iter()
                        .filter(|i| i.outcome == o.as_str())
                        .map(|i| NoticeInstallation {
                            i,
                            clauses: i.clauses.join("; "),
                            reasons: i.reasons.join("; "),
                            values: crate::portfolio::values_in_words(i),
                        })
                        .collect(),
                })
                .collect(),
            reasons: impact
                .reasons
                .iter()
                .map(|(&r, &n)| (r, Num::new(format!("reasons.{r}"), n)))
                .collect(),
            dormancy: impact
                .by_dormancy
                .iter()
                .map(|(&d, c)| (d, row(format!("by_dormancy.{d}"), c)))
                .collect(),
            groups: impact
                .by_group_id
                .iter()
                .map(|(g, c)| (g.clone(), row(format!("by_group_id.{g}"), c)))
                .collect(),
            outcome_names: OUTCOMES,
        }
    }
}

/// `<party>.html` for a party's impact summary and described installations.
pub fn notice(impact: &Impact, installations: &[PartyInstallation]) -> String {
    NoticePage::of(impact, installations)
        .render()
        .expect("rendering to a String does not fail")
}
