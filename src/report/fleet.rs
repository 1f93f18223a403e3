//! The report of a fleet: several targets (or shards of them) in one JSON document, one JUnit
//! file with one test suite per target, one HTML page with a row per target and a drill-down per
//! family, and the summary the terminal shows, worst target first. `run --all-targets` writes it
//! from its runs, `report merge` from the JSON reports of shards or single runs ([`super::merge`]).

use super::{Report, Summary, Verdict, escape_markup as escape};
use crate::error::Error;
use crate::verdict::Severity;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// How a target's run ended, worst first: the order a fleet sorts its targets in and takes its
/// exit code from. The exit code of each is that of a single `run` ending so, which the command
/// line picks from [`End::error`]: 5, 2, 3, 4, 1, 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum End {
    /// A record the run changed could not be proved put back (exit 5).
    NotRestored,
    /// The target refused the run before it started: credentials refused, an unfinished
    /// journal (exit 2).
    Refused,
    /// Unreachable, not ONTAP-like, or the run stopped early (exit 3); also a shard of the
    /// fleet whose report is missing.
    Unreachable,
    /// The target drifted from its baseline (exit 4).
    Drift,
    /// A check failed (with --strict, a warning too), or the run was interrupted (exit 1).
    Failed,
    /// Nothing failed (exit 0).
    Passed,
}

impl End {
    /// The error a single run ending so returns (None: it passed); the command line maps it to
    /// the exit code scripts see.
    pub fn error(self, why: String) -> Option<Error> {
        match self {
            End::NotRestored => Some(Error::Changed(why)),
            End::Refused => Some(Error::Usage(why)),
            End::Unreachable => Some(Error::Unreachable(why)),
            End::Drift => Some(Error::Drift(why)),
            End::Failed => Some(Error::Failed(why)),
            End::Passed => None,
        }
    }

    /// How a run ended, read from its report, as `run` picks its exit code: not restored, then
    /// unreachable or stopped early, then failed or interrupted, then drift.
    pub fn of(r: &Report) -> (End, String) {
        if !r.restore_problems.is_empty() {
            return (
                End::NotRestored,
                format!(
                    "not restored: {} left changed",
                    plural(r.restore_problems.len(), "record")
                ),
            );
        }
        if let Some(e) = &r.error {
            return (End::Unreachable, format!("unreachable: {e}"));
        }
        if let Some(why) = r.stopped.as_deref().filter(|_| !r.interrupted) {
            return (End::Unreachable, format!("stopped early: {why}"));
        }
        if r.interrupted {
            return (End::Failed, "interrupted (records were restored)".into());
        }
        if r.failed() {
            return (
                End::Failed,
                if r.summary.failures > 0 {
                    format!("{} failed", plural(r.summary.failed, "check"))
                } else {
                    "warnings fail the run with --strict".into()
                },
            );
        }
        match r.drift.as_ref().filter(|d| !d.is_empty()) {
            Some(d) => (
                End::Drift,
                format!("drift: {} against the baseline", plural(d.len(), "change")),
            ),
            None if r.results.is_empty() && r.shard.is_some() => {
                (End::Passed, "no work in this share".into())
            }
            None => (End::Passed, "passed".into()),
        }
    }

    fn label(self) -> &'static str {
        match self {
            End::NotRestored => "not restored",
            End::Refused => "refused",
            End::Unreachable => "unreachable or stopped",
            End::Drift => "drifted",
            End::Failed => "failed",
            End::Passed => "passed",
        }
    }
}

/// One target of the fleet: how its run ended and its report (shards combined).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FleetTarget {
    /// The target's name in the config file (else its URL).
    pub name: String,
    pub end: End,
    pub exit_code: u8,
    /// Why, in a few words.
    pub why: String,
    /// The shards (K/N) its report combines; empty: one whole run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<String>,
    /// Changes against its baseline (with --compare), else none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<usize>,
    pub report: Report,
}

impl FleetTarget {
    /// A target from its (combined) report; `recorded` is how a run said it ended, when it
    /// said so (a fleet report keeps it: a refused run reads like an unreachable one).
    pub fn new(
        name: String,
        report: Report,
        shards: Vec<String>,
        recorded: Option<(End, String)>,
    ) -> FleetTarget {
        let derived = End::of(&report);
        let (end, why) = match recorded {
            Some(r) if r.0 <= derived.0 => r,
            _ => derived,
        };
        FleetTarget {
            name,
            end,
            exit_code: 0,
            why,
            shards,
            drift: report.drift.as_ref().map(Vec::len),
            report,
        }
    }
}

/// Counts over the fleet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FleetSummary {
    pub targets: usize,
    /// Targets by how they ended.
    pub not_restored: usize,
    pub refused: usize,
    pub unreachable: usize,
    pub drifted: usize,
    pub failed: usize,
    pub passed: usize,
    /// The worst end, and the fleet's exit code (that of its worst target; 3 when a shard is
    /// missing and nothing is worse).
    pub end: End,
    pub exit_code: u8,
    /// The (endpoint, check) pairs and findings of every target added up.
    pub checks: Summary,
}

/// The fleet report (`run --all-targets --report json=FILE`, `report merge json=FILE`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fleet {
    pub tool: String,
    /// Always `fleet`: what tells this document from a single run's report.
    pub kind: String,
    pub contract: String,
    /// The shards (K/N) whose reports are in, when the work was sharded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<String>,
    /// The shards of 1..N whose reports are not: their share was not judged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_shards: Vec<String>,
    pub summary: FleetSummary,
    /// Worst first, then by name.
    pub targets: Vec<FleetTarget>,
}

pub const KIND: &str = "fleet";

/// The fleet report in one of the formats of `--report`.
pub fn render(format: super::Format, f: &Fleet) -> String {
    match format {
        super::Format::Json => f.to_json(),
        super::Format::Junit => junit(f),
        super::Format::Html => html(f),
    }
}

/// The order of the exit codes, worst first, as the summary states it.
pub const EXIT_ORDER: &str = "5 > 2 > 3 > 4 > 1 > 0";

impl Fleet {
    /// The fleet of these targets; `code` is the exit code of each way a run can end (the
    /// command line's, the one place exit codes are named).
    pub fn new(
        contract: String,
        mut targets: Vec<FleetTarget>,
        shards: Vec<String>,
        missing_shards: Vec<String>,
        code: &dyn Fn(End) -> u8,
    ) -> Fleet {
        for t in &mut targets {
            t.exit_code = code(t.end);
        }
        targets.sort_by(|a, b| (a.end, &a.name).cmp(&(b.end, &b.name)));
        let count = |e: End| targets.iter().filter(|t| t.end == e).count();
        let mut end = targets.first().map_or(End::Passed, |t| t.end);
        if !missing_shards.is_empty() {
            end = end.min(End::Unreachable);
        }
        let mut checks = Summary {
            passed: 0,
            failed: 0,
            warnings: 0,
            skipped: 0,
            failures: 0,
            warning_findings: 0,
        };
        for t in &targets {
            let s = &t.report.summary;
            checks.passed += s.passed;
            checks.failed += s.failed;
            checks.warnings += s.warnings;
            checks.skipped += s.skipped;
            checks.failures += s.failures;
            checks.warning_findings += s.warning_findings;
        }
        let summary = FleetSummary {
            targets: targets.len(),
            not_restored: count(End::NotRestored),
            refused: count(End::Refused),
            unreachable: count(End::Unreachable),
            drifted: targets.iter().filter(|t| t.drift.unwrap_or(0) > 0).count(),
            failed: count(End::Failed),
            passed: count(End::Passed),
            end,
            exit_code: code(end),
            checks,
        };
        Fleet {
            tool: format!("ontap-conform {}", env!("CARGO_PKG_VERSION")),
            kind: KIND.into(),
            contract,
            shards,
            missing_shards,
            summary,
            targets,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the fleet report serializes") + "\n"
    }

    /// The error the fleet ends with (its worst target's; None: every target passed).
    pub fn error(&self) -> Option<Error> {
        let s = &self.summary;
        let missing = if self.missing_shards.is_empty() {
            String::new()
        } else {
            format!(
                "; shards {} are missing: their share was not judged",
                self.missing_shards.join(", ")
            )
        };
        let worst: Vec<&str> = self
            .targets
            .iter()
            .filter(|t| t.end == s.end)
            .map(|t| t.name.as_str())
            .collect();
        s.end.error(format!(
            "the fleet's worst: {} ({}){missing}",
            s.end.label(),
            if worst.is_empty() {
                "no target".to_string()
            } else {
                worst.join(", ")
            }
        ))
    }

    /// The one-line verdict: how many targets ended how, and the exit code.
    pub fn summary_line(&self) -> String {
        let s = &self.summary;
        let mut parts = Vec::new();
        for (n, what) in [
            (s.not_restored, "not restored"),
            (s.refused, "refused"),
            (s.unreachable, "unreachable or stopped"),
            (s.drifted, "drifted"),
            (s.failed, "failed"),
        ] {
            if n > 0 {
                parts.push(format!("{n} of {} {what}", s.targets));
            }
        }
        parts.push(format!("{} of {} passed", s.passed, s.targets));
        let missing = if self.missing_shards.is_empty() {
            String::new()
        } else {
            format!("; MISSING shards {}", self.missing_shards.join(", "))
        };
        format!("fleet: {}{missing}; exit {}", parts.join(", "), s.exit_code)
    }

    /// The terminal summary: one line per target, worst first, then the verdict line.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let shards = if self.shards.is_empty() {
            String::new()
        } else {
            format!(", shards {}", self.shards.join(" "))
        };
        let _ = writeln!(
            o,
            "Fleet: {}{shards}, contract {}, worst first (exit {EXIT_ORDER}):",
            plural(self.targets.len(), "target"),
            self.contract
        );
        let w = self
            .targets
            .iter()
            .map(|t| t.name.chars().count())
            .chain([6])
            .max()
            .unwrap_or(6);
        let _ = writeln!(
            o,
            "  {:>4}  {:<w$}  {:<9}  {:>6}  {:>6}  {:>8}  {:>5}  WHY",
            "EXIT", "TARGET", "ONTAP", "PASSED", "FAILED", "WARNINGS", "DRIFT"
        );
        for t in &self.targets {
            let s = &t.report.summary;
            let drift = t.drift.map_or("-".to_string(), |d| d.to_string());
            let shards = if t.shards.is_empty() {
                String::new()
            } else {
                format!(" [shards {}]", t.shards.join(" "))
            };
            let _ = writeln!(
                o,
                "  {:>4}  {:<w$}  {:<9}  {:>6}  {:>6}  {:>8}  {:>5}  {}{shards}",
                t.exit_code,
                t.name,
                t.report.ontap_version,
                s.passed,
                s.failed,
                s.warnings,
                drift,
                one_line(&t.why)
            );
        }
        for m in &self.missing_shards {
            let _ = writeln!(
                o,
                "  shard {m} is MISSING: its share of the work was not judged"
            );
        }
        let _ = writeln!(o, "{}", self.summary_line());
        o
    }
}

/// "1 target", "3 targets".
pub fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The first line of a text, cut to 160 characters.
fn one_line(s: &str) -> String {
    let first = s.lines().next().unwrap_or("");
    if first.chars().count() > 160 {
        format!("{}…", first.chars().take(159).collect::<String>())
    } else {
        first.to_string()
    }
}

/// JUnit XML: one `<testsuite>` per target, one `<testcase>` per (endpoint, check) pair (class
/// name: the family), plus `restored` when records were left changed and `no-drift` when the
/// target was compared with a baseline; an unreachable target is one errored test case.
pub fn junit(f: &Fleet) -> String {
    let mut suites = String::new();
    let (mut all_tests, mut all_fail, mut all_err, mut all_skip) = (0, 0, 0, 0);
    for t in &f.targets {
        let r = &t.report;
        let name = escape(&t.name);
        let mut cases = String::new();
        let (mut tests, mut fails, mut errs, mut skips) = (0, 0, 0, 0);
        if let Some(why) = &r.error {
            tests += 1;
            errs += 1;
            let _ = writeln!(
                cases,
                "    <testcase name=\"target-reachable\" classname=\"{name}\" time=\"0.000\">\n      <error message=\"{m}\" type=\"unreachable\">{m}</error>\n    </testcase>",
                m = escape(why)
            );
        } else if t.end == End::Refused {
            tests += 1;
            errs += 1;
            let _ = writeln!(
                cases,
                "    <testcase name=\"target-accepted\" classname=\"{name}\" time=\"0.000\">\n      <error message=\"{m}\" type=\"refused\">{m}</error>\n    </testcase>",
                m = escape(&t.why)
            );
        }
        let per_test = if r.results.is_empty() {
            0.0
        } else {
            r.figures.wall_seconds / r.results.len() as f64
        };
        for row in &r.results {
            tests += 1;
            let class = super::families::family_of(row);
            let kind = super::junit::testcase(
                &mut cases,
                r,
                row,
                &format!("{} {}", row.check, row.endpoint),
                &format!("{}.{}", t.name, class),
                per_test,
            );
            match kind {
                Verdict::Failed => fails += 1,
                Verdict::Skipped => skips += 1,
                _ => {}
            }
        }
        if !r.restore_problems.is_empty() {
            tests += 1;
            fails += 1;
            let body: Vec<String> = r.restore_problems.iter().map(|p| p.to_string()).collect();
            let _ = writeln!(
                cases,
                "    <testcase name=\"restored\" classname=\"{name}\" time=\"0.000\">\n      <failure message=\"{} records were left changed\" type=\"not-restored\">{}</failure>\n    </testcase>",
                r.restore_problems.len(),
                escape(&body.join("\n"))
            );
        }
        if let Some(d) = &r.drift {
            tests += 1;
            if d.is_empty() {
                let _ = writeln!(
                    cases,
                    "    <testcase name=\"no-drift\" classname=\"{name}\" time=\"0.000\"/>"
                );
            } else {
                fails += 1;
                let body: Vec<String> = d
                    .iter()
                    .map(|x| {
                        format!(
                            "{} {} {}{}: {} -> {}",
                            x.kind,
                            x.endpoint,
                            x.request.as_deref().unwrap_or(""),
                            x.field
                                .as_deref()
                                .map(|f| format!(" {f}"))
                                .unwrap_or_default(),
                            x.before,
                            x.after
                        )
                    })
                    .collect();
                let _ = writeln!(
                    cases,
                    "    <testcase name=\"no-drift\" classname=\"{name}\" time=\"0.000\">\n      <failure message=\"{} changes against the baseline\" type=\"drift\">{}</failure>\n    </testcase>",
                    d.len(),
                    escape(&body.join("\n"))
                );
            }
        }
        all_tests += tests;
        all_fail += fails;
        all_err += errs;
        all_skip += skips;
        let _ = write!(
            suites,
            "  <testsuite name=\"{name}\" tests=\"{tests}\" failures=\"{fails}\" errors=\"{errs}\" skipped=\"{skips}\" time=\"{:.3}\">\n{cases}  </testsuite>\n",
            r.figures.wall_seconds
        );
    }
    for m in &f.missing_shards {
        all_tests += 1;
        all_err += 1;
        let _ = write!(
            suites,
            "  <testsuite name=\"shard {m}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"0.000\">\n    <testcase name=\"shard-reported\" classname=\"shard {m}\" time=\"0.000\">\n      <error message=\"the report of shard {m} is missing: its share was not judged\" type=\"missing-shard\"/>\n    </testcase>\n  </testsuite>\n"
        );
    }
    let wall: f64 = f
        .targets
        .iter()
        .map(|t| t.report.figures.wall_seconds)
        .fold(0.0, f64::max);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ontap-conform fleet\" tests=\"{all_tests}\" failures=\"{all_fail}\" errors=\"{all_err}\" skipped=\"{all_skip}\" time=\"{wall:.3}\">\n{suites}</testsuites>\n"
    )
}

const CSS: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#1d2330;background:#fff}
h1{font-size:1.6em;margin:0 0 .2em}h2{font-size:1.2em;margin:1.6em 0 .5em;border-bottom:1px solid #d8dde6;padding-bottom:.2em}
.verdict{display:inline-block;padding:.25em .8em;border-radius:4px;font-weight:700;color:#fff}
.e0{background:#1f8a3b}.e1{background:#c62828}.e2,.e3{background:#6d4c41}.e4{background:#e0a800;color:#1d2330}.e5{background:#7b1fa2}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:.2em 1.2em;margin:.8em 0}dl.facts dt{color:#5b6474}dl.facts dd{margin:0;font-weight:600}
table{border-collapse:collapse}th,td{border:1px solid #d8dde6;padding:.3em .6em;text-align:left}th{background:#f3f5f9}
td.num{text-align:right}td.failed{background:#f9d4d4}td.warning{background:#fff0c2}
details{margin:.4em 0}summary{cursor:pointer}
pre{background:#f6f8fa;padding:.5em .7em;border-radius:3px;white-space:pre-wrap;word-break:break-all;margin:.2em 0}
.missing{border:1px solid #6d4c41;background:#fbe9e7;padding:.6em 1em;border-radius:4px}
footer{margin-top:2em;color:#5b6474;font-size:.9em}
";

/// The fleet page: the verdict, one row per target (worst first), and per target a drill-down
/// by family with each finding and its reproducer. Inline CSS only, every value escaped.
pub fn html(f: &Fleet) -> String {
    let mut o = String::new();
    let s = &f.summary;
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>ontap-conform fleet report: {} targets</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        s.targets
    );
    let _ = writeln!(
        o,
        "<header>\n<h1>ONTAP REST conformance: fleet of {} targets</h1>\n<p><span id=\"verdict\" class=\"verdict e{}\">exit {}: {}</span></p>\n<p id=\"summary-line\">{}</p>",
        s.targets,
        s.exit_code,
        s.exit_code,
        escape(s.end.label()),
        escape(&f.summary_line())
    );
    let _ = writeln!(o, "<dl class=\"facts\" id=\"facts\">");
    let mut seeds: Vec<u64> = f.targets.iter().map(|t| t.report.seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
    for (k, v) in [
        ("Contract", f.contract.clone()),
        ("Seeds", seeds.join(", ")),
        (
            "Shards",
            if f.shards.is_empty() {
                "not sharded".into()
            } else {
                f.shards.join(" ")
            },
        ),
        (
            "Checks",
            format!(
                "{} passed, {} failed, {} warnings, {} skipped",
                s.checks.passed, s.checks.failed, s.checks.warnings, s.checks.skipped
            ),
        ),
        ("Exit codes, worst first", EXIT_ORDER.into()),
        ("Tool", f.tool.clone()),
    ] {
        let _ = writeln!(o, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v));
    }
    let _ = writeln!(o, "</dl>\n</header>");
    if !f.missing_shards.is_empty() {
        let _ = writeln!(
            o,
            "<p id=\"missing\" class=\"missing\">Missing shards: {}. Their share of the work was not judged.</p>",
            escape(&f.missing_shards.join(", "))
        );
    }
    let _ = writeln!(
        o,
        "<section id=\"targets\">\n<h2>Targets, worst first</h2>\n<table id=\"fleet\"><tr><th>exit</th><th>target</th><th>ONTAP</th><th>passed</th><th>failed</th><th>warnings</th><th>skipped</th><th>drift</th><th>why</th></tr>"
    );
    for (i, t) in f.targets.iter().enumerate() {
        let r = &t.report.summary;
        let _ = writeln!(
            o,
            "<tr data-target=\"{n}\"><td class=\"num\"><span class=\"verdict e{c}\">{c}</span></td><td><a href=\"#t{i}\">{n}</a></td><td>{}</td>{}<td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&t.report.ontap_version),
            super::count_cells(r),
            t.drift.map_or("-".to_string(), |d| d.to_string()),
            escape(&t.why),
            n = escape(&t.name),
            c = t.exit_code,
        );
    }
    let _ = writeln!(o, "</table>\n</section>");
    for (i, t) in f.targets.iter().enumerate() {
        target_section(&mut o, i, t);
    }
    let _ = writeln!(
        o,
        "<footer>Made by {} (report merge / run --all-targets); each target's full JSON report is in the fleet JSON.</footer>\n</body>\n</html>",
        escape(&f.tool)
    );
    o
}

/// One target: its facts, and a drill-down per family.
fn target_section(o: &mut String, i: usize, t: &FleetTarget) {
    let r = &t.report;
    let _ = writeln!(
        o,
        "<section class=\"target\" id=\"t{i}\">\n<h2>{} <span class=\"verdict e{c}\">exit {c}</span></h2>\n<p>{} · ONTAP {} · seed {} · mode {}{}</p>",
        escape(&t.name),
        escape(&r.target),
        escape(&r.ontap_version),
        r.seed,
        escape(
            serde_json::to_value(r.mode)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .as_deref()
                .unwrap_or("")
        ),
        if t.shards.is_empty() {
            String::new()
        } else {
            format!(" · shards {}", escape(&t.shards.join(" ")))
        },
        c = t.exit_code
    );
    let _ = writeln!(o, "<p class=\"why\">{}</p>", escape(&t.why));
    if !r.restore_problems.is_empty() {
        let _ = writeln!(o, "<h3>Not restored</h3><ul>");
        super::html::restore_problem_items(o, &r.restore_problems);
        let _ = writeln!(o, "</ul>");
    }
    if let Some(d) = r.drift.as_ref().filter(|d| !d.is_empty()) {
        let _ = writeln!(
            o,
            "<details class=\"drift\"><summary>Drift: {} changes</summary><table><tr><th>kind</th><th>endpoint</th><th>field</th><th>before</th><th>after</th></tr>",
            d.len()
        );
        for x in d {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&x.kind),
                escape(&x.endpoint),
                escape(x.field.as_deref().unwrap_or("")),
                escape(&x.before),
                escape(&x.after)
            );
        }
        let _ = writeln!(o, "</table></details>");
    }
    // Per family, worst first: the verdict counts, and the findings under a drill-down.
    let fams = super::families::of(r);
    if fams.is_empty() {
        let _ = writeln!(o, "</section>");
        return;
    }
    let _ = writeln!(
        o,
        "<table class=\"families\"><tr><th>family</th><th>passed</th><th>failed</th><th>warnings</th><th>skipped</th><th>requests</th><th>findings</th></tr>"
    );
    for fam in fams.iter() {
        let endpoints = super::families::endpoints_of(r, &fam.family);
        let findings: Vec<_> = r
            .findings
            .iter()
            .filter(|x| endpoints.contains(&x.endpoint.as_str()))
            .collect();
        let mut detail = String::new();
        if !findings.is_empty() {
            let _ = write!(
                detail,
                "<details><summary>{}</summary>",
                plural(findings.len(), "finding")
            );
            for x in &findings {
                let tag = match x.severity {
                    Severity::Failure => "FAIL",
                    Severity::Warning => "WARN",
                };
                let _ = write!(
                    detail,
                    "<p><b>{tag}</b> <code>{}</code> {} <code>{}</code> [{}]: {}</p>",
                    escape(&x.check),
                    escape(&x.method),
                    escape(&x.endpoint),
                    escape(&x.rule),
                    escape(&x.message)
                );
                if let Some(rep) = &x.reproducer {
                    let _ = write!(detail, "<pre class=\"curl\">{}</pre>", escape(&rep.curl));
                }
            }
            detail.push_str("</details>");
        }
        let _ = writeln!(
            o,
            "<tr data-family=\"{f}\"><td>{f}</td>{}<td class=\"num\">{}</td><td>{detail}</td></tr>",
            super::count_cells(&fam.counts),
            fam.requests,
            f = escape(&fam.family)
        );
    }
    let _ = writeln!(o, "</table>\n</section>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Figures, RunFacts};
    use crate::verdict::{Mode, RestoreProblem};

    fn report(edit: impl FnOnce(&mut Report)) -> Report {
        let facts = RunFacts {
            target: "https://c".into(),
            ontap_version: "9.14.1".into(),
            mode: Mode::Restore,
            seed: 1,
            cases_per_property: 4,
            strict: false,
            interrupted: false,
            stopped: None,
        };
        let mut r = Report::build(
            facts,
            Default::default(),
            Vec::new(),
            Figures::default(),
            Vec::new(),
        );
        edit(&mut r);
        r
    }

    /// The codes of cli/exit.rs, for the test.
    fn code(e: End) -> u8 {
        match e {
            End::NotRestored => 5,
            End::Refused => 2,
            End::Unreachable => 3,
            End::Drift => 4,
            End::Failed => 1,
            End::Passed => 0,
        }
    }

    #[test]
    fn a_report_ends_as_its_run_exits_and_the_fleet_sorts_worst_first() {
        let not_back = report(|r| {
            r.restore_problems.push(RestoreProblem {
                record: "/api/x/1".into(),
                field: None,
                original: None,
                reason: "gone".into(),
                curl: None,
            });
            // Left changed wins over everything else a run can say.
            r.error = Some("unreachable too".into());
        });
        let gone = report(|r| r.error = Some("Connection refused".into()));
        let stopped = report(|r| r.stopped = Some("--deadline".into()));
        let drifted = report(|r| {
            r.drift = Some(vec![crate::record::Drift {
                kind: "field-added".into(),
                endpoint: "/api/x".into(),
                request: None,
                field: Some("f".into()),
                before: "absent".into(),
                after: "string".into(),
            }])
        });
        let ok = report(|_| {});
        assert_eq!(End::of(&not_back).0, End::NotRestored);
        assert_eq!(End::of(&gone).0, End::Unreachable);
        assert_eq!(End::of(&stopped).0, End::Unreachable);
        assert_eq!(End::of(&drifted).0, End::Drift);
        assert_eq!(End::of(&ok).0, End::Passed);
        let t = |n: &str, r: &Report, rec: Option<(End, String)>| {
            FleetTarget::new(n.into(), r.clone(), Vec::new(), rec)
        };
        let fleet = Fleet::new(
            "built-in".into(),
            vec![
                t("a-ok", &ok, None),
                t("b-drift", &drifted, None),
                t("c-gone", &gone, None),
                t(
                    "d-refused",
                    &gone,
                    Some((End::Refused, "refused: 401".into())),
                ),
                t("e-changed", &not_back, None),
                t("f-stopped", &stopped, None),
            ],
            Vec::new(),
            Vec::new(),
            &code,
        );
        let order: Vec<(&str, u8)> = fleet
            .targets
            .iter()
            .map(|t| (t.name.as_str(), t.exit_code))
            .collect();
        assert_eq!(
            order,
            [
                ("e-changed", 5),
                ("d-refused", 2),
                ("c-gone", 3),
                ("f-stopped", 3),
                ("b-drift", 4),
                ("a-ok", 0)
            ]
        );
        assert_eq!(fleet.summary.exit_code, 5);
        assert!(fleet.render().contains("1 of 6 not restored"));
        // A missing shard makes the fleet at least 3.
        let partial = Fleet::new(
            "built-in".into(),
            vec![t("a-ok", &ok, None)],
            vec!["1/2".into()],
            vec!["2/2".into()],
            &code,
        );
        assert_eq!(partial.summary.exit_code, 3);
    }
}
