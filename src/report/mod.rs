//! The verdict of a run: the Report model (serde, the JSON report's schema) and its terminal
//! rendering (JUnit in [`junit`], the HTML page in [`html`]). Every text in it was redacted ([`crate::redact`]) when the
//! finding was made.

pub mod families;
pub mod fleet;
pub mod html;
pub mod junit;
pub mod merge;

use crate::checks::CHECKS;
use crate::record;
use crate::verdict::{Coverage, Finding, Mode, Outcome, RestoreProblem, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The formats a report is written in (`run --report FORMAT=FILE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Junit,
    /// One self-contained HTML page ([`html`]).
    Html,
}

impl Format {
    /// The report in this format.
    pub fn render(self, report: &Report) -> String {
        match self {
            Format::Json => report.to_json(),
            Format::Junit => junit::render(report),
            Format::Html => html::render(report),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// (endpoint, check) pairs by verdict.
    pub passed: usize,
    pub failed: usize,
    pub warnings: usize,
    pub skipped: usize,
    /// Findings by severity.
    pub failures: usize,
    pub warning_findings: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Figures {
    pub requests: u64,
    pub cases: u64,
    pub wall_seconds: f64,
    pub requests_per_second: f64,
    /// The most requests sent within one second of the run.
    #[serde(default)]
    pub peak_rate: u64,
    /// The cap on requests per second (`--rate`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<f64>,
    /// Answers 429 or 503 sent again after their Retry-After (or a backoff).
    #[serde(default)]
    pub retries: u64,
}

/// Which records the per-record checks touched (`--sample`): per family, how many the
/// discovery read found and which (by key) were sampled.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Sampling {
    /// Records per family at most (`--sample`).
    pub per_family: usize,
    pub families: Vec<SampledFamily>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SampledFamily {
    pub family: String,
    /// Records the discovery read found.
    pub records: usize,
    /// The identities (key values, `/`-joined) of the sampled records, in discovery order.
    pub sampled: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed,
    Warning,
    Skipped,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResultRow {
    /// The endpoint's family (empty in reports of older builds).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub family: String,
    pub endpoint: String,
    pub check: String,
    pub verdict: Verdict,
    pub failures: usize,
    pub warnings: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What the report says about the run itself, besides its results.
#[derive(Debug, Clone)]
pub struct RunFacts {
    pub target: String,
    pub ontap_version: String,
    pub mode: Mode,
    pub seed: u64,
    pub cases_per_property: u32,
    pub strict: bool,
    pub interrupted: bool,
    /// Why the run stopped before the end (a signal, the deadline, the transport), if it did.
    pub stopped: Option<String>,
}

/// Which share of the work a run was (`--shard K/N`), and the families it ran.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardInfo {
    pub k: u32,
    pub n: u32,
    /// The families of the contract this share ran on this target (empty: none, its share
    /// held no work here).
    pub families: Vec<String>,
}

impl std::fmt::Display for ShardInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// The JSON report (`--report json=FILE`); its fields are documented in docs/reports.md.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub tool: String,
    pub target: String,
    /// The target's name in the config file (`[[targets]] name`), when it came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_name: Option<String>,
    /// The contract the run judged by: `built-in` (specs/), a release (`ontap-9.16`) or a
    /// directory (empty in reports of older builds).
    #[serde(default)]
    pub contract: String,
    /// With `--shard K/N`: which share this report is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    pub ontap_version: String,
    pub mode: Mode,
    pub seed: u64,
    pub cases_per_property: u32,
    pub strict: bool,
    pub interrupted: bool,
    /// Why the run stopped before the end, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub summary: Summary,
    /// Per family, worst first: its paths, verdicts, findings and requests ([`families`]).
    #[serde(default)]
    pub families: Vec<families::FamilySummary>,
    pub figures: Figures,
    pub results: Vec<ResultRow>,
    pub findings: Vec<Finding>,
    /// Records the run could not prove it put back (empty on a clean run): each with the field,
    /// its original value and a command that puts it back.
    pub restore_problems: Vec<RestoreProblem>,
    /// What the run exercised of each family, and why the rest was not.
    #[serde(default)]
    pub coverage: Vec<Coverage>,
    /// With --compare: what changed against the baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Vec<record::Drift>>,
    /// The records the per-record checks touched.
    #[serde(default)]
    pub sampling: Sampling,
    /// Per endpoint and method: requests, p50 / p95 / max latency in milliseconds.
    #[serde(default)]
    pub latency: Vec<crate::client::LatencyRow>,
    /// Why the run could not judge the target at all (exit 3: unreachable or not ONTAP-like);
    /// then there are no results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Report {
    pub fn build(
        facts: RunFacts,
        outcomes: BTreeMap<(String, String), Outcome>,
        mut findings: Vec<Finding>,
        figures: Figures,
        restore_problems: Vec<RestoreProblem>,
    ) -> Report {
        let RunFacts {
            target,
            ontap_version,
            mode,
            seed,
            cases_per_property,
            strict,
            interrupted,
            stopped,
        } = facts;
        findings.sort_by(finding_order);
        let mut rows = Vec::new();
        for ((check, endpoint), outcome) in &outcomes {
            let mine = findings
                .iter()
                .filter(|f| &f.check == check && &f.endpoint == endpoint);
            let failures = mine
                .clone()
                .filter(|f| f.severity == Severity::Failure)
                .count();
            let warnings = mine.filter(|f| f.severity == Severity::Warning).count();
            let (verdict, reason) = match outcome {
                Outcome::Skipped(why) if failures + warnings == 0 => {
                    (Verdict::Skipped, Some(why.clone()))
                }
                _ if failures > 0 => (Verdict::Failed, None),
                _ if warnings > 0 => (Verdict::Warning, None),
                _ => (Verdict::Passed, None),
            };
            rows.push(ResultRow {
                family: String::new(),
                endpoint: endpoint.clone(),
                check: check.clone(),
                verdict,
                failures,
                warnings,
                reason,
            });
        }
        rows.sort_by(|a, b| {
            (&a.endpoint, check_index(&a.check)).cmp(&(&b.endpoint, check_index(&b.check)))
        });
        let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v).count();
        let summary = Summary {
            passed: count(Verdict::Passed),
            failed: count(Verdict::Failed),
            warnings: count(Verdict::Warning),
            skipped: count(Verdict::Skipped),
            failures: findings
                .iter()
                .filter(|f| f.severity == Severity::Failure)
                .count(),
            warning_findings: findings
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .count(),
        };
        Report {
            tool: format!("ontap-conform {}", env!("CARGO_PKG_VERSION")),
            target,
            target_name: None,
            contract: String::new(),
            shard: None,
            ontap_version,
            mode,
            seed,
            cases_per_property,
            strict,
            interrupted,
            stopped,
            summary,
            families: Vec::new(),
            figures,
            results: rows,
            findings,
            restore_problems,
            coverage: Vec::new(),
            drift: None,
            sampling: Sampling::default(),
            latency: Vec::new(),
            error: None,
        }
    }

    /// Replaces text in every string a user reads (the secrets a run learnt, by value).
    pub fn scrub(&mut self, f: impl Fn(&str) -> String) {
        for x in &mut self.findings {
            x.message = f(&x.message);
            if let Some(r) = &mut x.reproducer {
                r.curl = f(&r.curl);
                r.expected = f(&r.expected);
                r.actual = f(&r.actual);
                r.shrunk = r.shrunk.as_deref().map(&f);
            }
        }
        for p in &mut self.restore_problems {
            p.reason = f(&p.reason);
            p.curl = p.curl.as_deref().map(&f);
            if let Some(o) = &p.original {
                let text = f(&o.to_string());
                p.original = serde_json::from_str(&text)
                    .ok()
                    .or(Some(serde_json::Value::String(text)));
            }
        }
        for r in &mut self.results {
            r.reason = r.reason.as_deref().map(&f);
        }
        self.stopped = self.stopped.as_deref().map(&f);
    }

    /// The report of a run that ended before judging anything (exit 3), so that every
    /// `--report` destination still says why.
    pub fn errored(facts: RunFacts, error: String) -> Report {
        let mut r = Report::build(
            facts,
            BTreeMap::new(),
            Vec::new(),
            Figures::default(),
            Vec::new(),
        );
        r.error = Some(error);
        r
    }

    /// Whether the run fails (exit 1): a failure, a restore problem, or a warning with --strict.
    pub fn failed(&self) -> bool {
        self.summary.failures > 0
            || !self.restore_problems.is_empty()
            || (self.strict && self.summary.warning_findings > 0)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serializes") + "\n"
    }
}

fn check_index(name: &str) -> usize {
    CHECKS
        .iter()
        .position(|c| c.name == name)
        .unwrap_or(usize::MAX)
}

/// The order findings are listed in: failures first, then by endpoint, check (in the
/// registry's order), method and message.
pub(crate) fn finding_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    (
        a.severity,
        &a.endpoint,
        check_index(&a.check),
        &a.method,
        &a.message,
    )
        .cmp(&(
            b.severity,
            &b.endpoint,
            check_index(&b.check),
            &b.method,
            &b.message,
        ))
}

/// The verdict in one line. With --strict, warnings fail the run, and the line says so.
pub fn summary_line(r: &Report) -> String {
    let s = &r.summary;
    let failing = if r.strict && (s.warnings > 0 || s.warning_findings > 0) {
        " (failing: --strict)"
    } else {
        ""
    };
    format!(
        "{} passed, {} failed, {} warnings{failing}, {} skipped ({} failure findings, {} warning findings)",
        s.passed, s.failed, s.warnings, s.skipped, s.failures, s.warning_findings
    )
}

/// The families larger than the sample, each as "family N of M" (the records per-record checks
/// touched of those found).
pub(crate) fn sampled_families(r: &Report) -> Vec<String> {
    r.sampling
        .families
        .iter()
        .filter(|x| x.sampled.len() < x.records)
        .map(|x| format!("{} {} of {}", x.family, x.sampled.len(), x.records))
        .collect()
}

/// The passed, failed, warnings and skipped cells of an HTML table row (`<td>`s), failed and
/// warnings marked when not zero: the run page's and the fleet page's tables alike.
pub(crate) fn count_cells(s: &Summary) -> String {
    let mark = |n: usize, class: &str| {
        if n > 0 {
            format!(" {class}")
        } else {
            String::new()
        }
    };
    format!(
        "<td class=\"num\">{}</td><td class=\"num{}\">{}</td><td class=\"num{}\">{}</td><td class=\"num\">{}</td>",
        s.passed,
        mark(s.failed, "failed"),
        s.failed,
        mark(s.warnings, "warning"),
        s.warnings,
        s.skipped
    )
}

/// Escapes text for the HTML page and the JUnit XML alike: element content and quoted
/// attribute values (`&#39;` is valid in both), and control characters other than tab, LF and CR
/// written out as `\u{XXXX}` (XML 1.0 forbids most of them even escaped).
pub fn escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && !matches!(c, '\n' | '\r' | '\t') => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// The names of a name -> reason map, grouped by reason.
pub(crate) fn by_reason(m: &BTreeMap<String, String>) -> BTreeMap<&str, Vec<&str>> {
    let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, why) in m {
        out.entry(why.as_str()).or_default().push(name.as_str());
    }
    out
}

/// How the terminal rendering looks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// Only the findings that fail the run (failures; warnings too with --strict), what was
    /// left changed, and the summary line (`run -q`).
    pub quiet: bool,
    /// ANSI colours: failures red, warnings yellow, passes green (a terminal without NO_COLOR).
    pub color: bool,
}

const RED: &str = "31";
const YELLOW: &str = "33";
const GREEN: &str = "32";

impl Style {
    /// `text` in colour `code` when colour is on.
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    /// A table cell, padded to `width` before it is painted (escape codes take no column).
    fn cell(&self, verdict: &Verdict, text: &str, width: usize) -> String {
        self.paint_verdict(verdict, &format!("{text:<width$}"))
    }
    /// `text` in its verdict's colour (skipped: none).
    fn paint_verdict(&self, verdict: &Verdict, text: &str) -> String {
        match verdict {
            Verdict::Failed => self.paint(RED, text),
            Verdict::Warning => self.paint(YELLOW, text),
            Verdict::Passed => self.paint(GREEN, text),
            Verdict::Skipped => text.to_string(),
        }
    }
}

/// The summary line, its counts coloured when they are not zero.
fn painted_summary(r: &Report, style: Style) -> String {
    if !style.color {
        return summary_line(r);
    }
    let s = &r.summary;
    let count = |n: usize, code: &str, what: &str| {
        let text = format!("{n} {what}");
        if n > 0 {
            style.paint(code, &text)
        } else {
            text
        }
    };
    let failing = if r.strict && (s.warnings > 0 || s.warning_findings > 0) {
        " (failing: --strict)"
    } else {
        ""
    };
    format!(
        "{}, {}, {}{failing}, {} skipped ({}, {})",
        count(s.passed, GREEN, "passed"),
        count(s.failed, RED, "failed"),
        count(s.warnings, YELLOW, "warnings"),
        s.skipped,
        count(s.failures, RED, "failure findings"),
        count(s.warning_findings, YELLOW, "warning findings"),
    )
}

/// What was left changed, with how to put it back (never left out, even with `-q`).
fn restore_problems(out: &mut String, r: &Report) {
    if !r.restore_problems.is_empty() {
        let _ = writeln!(
            out,
            "\nNOT RESTORED: the target was left changed ({} records); put them back by hand:",
            r.restore_problems.len()
        );
        for p in &r.restore_problems {
            let _ = writeln!(out, "  {}", p.record);
            if let Some(f) = &p.field {
                let was = p
                    .original
                    .as_ref()
                    .map_or("no value".to_string(), |v| v.to_string());
                let _ = writeln!(out, "     field:    {f} (was {was})");
            }
            let _ = writeln!(out, "     why:      {}", p.reason);
            if let Some(c) = &p.curl {
                let _ = writeln!(out, "     put back: {c}");
            }
        }
    }
}

/// The terminal rendering: findings with reproducers, then the endpoint × check table.
pub fn render(r: &Report) -> String {
    render_with(r, Style::default())
}

/// The terminal rendering in a [`Style`]: quiet, coloured, or both.
pub fn render_with(r: &Report, style: Style) -> String {
    // What a target sent is shown with its control characters escaped, as in the reports: an
    // escape sequence in an answer never reaches the terminal.
    let mut shown = r.clone();
    shown.scrub(|t| crate::redact::escape_controls(t).into_owned());
    shown.target = crate::redact::escape_controls(&shown.target).into_owned();
    shown.ontap_version = crate::redact::escape_controls(&shown.ontap_version).into_owned();
    let r = &shown;
    let mut out = String::new();
    let endpoints: Vec<&String> = {
        let mut e: Vec<&String> = r.results.iter().map(|x| &x.endpoint).collect();
        e.dedup();
        e
    };
    // A whole-API run opens with its families, worst first; the findings follow.
    let large = endpoints.len() > GRID_MAX;
    if large && !style.quiet {
        render_families(r, style, &mut out);
    }
    for f in in_family_order(r, large) {
        if style.quiet && f.severity == Severity::Warning && !r.strict {
            continue;
        }
        let tag = match f.severity {
            Severity::Failure => style.paint(RED, "FAIL"),
            Severity::Warning => style.paint(YELLOW, "WARN"),
        };
        let times = if f.occurrences > 1 {
            format!(" (seen {} times)", f.occurrences)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{tag} {} {} {} [{} {}]{times}",
            f.check, f.method, f.endpoint, f.rule, f.evidence
        );
        let _ = writeln!(out, "     {}", f.message);
        if let Some(rep) = &f.reproducer {
            if let Some(s) = &rep.shrunk {
                let _ = writeln!(out, "     shrunk: {s}");
            }
            let _ = writeln!(out, "     reproduce: {}", rep.curl);
            let _ = writeln!(out, "     expected:  {}", rep.expected);
            let _ = writeln!(out, "     actual:    {}", rep.actual);
        }
        out.push('\n');
    }
    if style.quiet {
        restore_problems(&mut out, r);
        let _ = writeln!(out, "{}", painted_summary(r, style));
        if let Some(why) = r.stopped.as_deref().filter(|_| !r.interrupted) {
            let _ = writeln!(out, "STOPPED EARLY ({why}): the results above are partial.");
        }
        return out;
    }
    if large {
        render_skip_counts(r, &mut out);
    } else {
        render_grid(r, &endpoints, style, &mut out);
    }
    render_tail(r, style, &mut out);
    out
}

/// The findings to show: in the report's order, or for a large run family by family in the
/// order of the families table (worst first), each family's in the report's order.
fn in_family_order(r: &Report, large: bool) -> Vec<&Finding> {
    let mut out: Vec<&Finding> = r.findings.iter().collect();
    if large {
        let mut rank: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, fam) in families::of(r).iter().enumerate() {
            for row in r
                .results
                .iter()
                .filter(|x| families::family_of(x) == fam.family)
            {
                rank.entry(row.endpoint.as_str()).or_insert(i);
            }
        }
        out.sort_by_key(|f| rank.get(f.endpoint.as_str()).copied().unwrap_or(usize::MAX));
    }
    out
}

/// Above this many paths (a whole-API run: hundreds), the check-by-path grid would be wider
/// than any terminal: the run opens with one line per family instead, worst first.
const GRID_MAX: usize = 12;

/// One line per family, worst first: its checks failed, warned, passed and skipped, the
/// requests sent to it and its paths.
fn render_families(r: &Report, style: Style, out: &mut String) {
    let fams = families::of(r);
    let _ = writeln!(
        out,
        "{} families, worst first (checks failed, warned, passed, skipped; requests sent; paths):",
        fams.len()
    );
    let _ = writeln!(
        out,
        "  {:>6} {:>6} {:>6} {:>6} {:>9} {:>5}  FAMILY",
        "FAIL", "WARN", "OK", "SKIP", "REQUESTS", "PATHS"
    );
    for s in fams.iter() {
        let n = &s.counts;
        let verdict = if n.failed > 0 {
            Verdict::Failed
        } else if n.warnings > 0 {
            Verdict::Warning
        } else {
            Verdict::Passed
        };
        let _ = writeln!(
            out,
            "  {:>6} {:>6} {:>6} {:>6} {:>9} {:>5}  {}",
            n.failed,
            n.warnings,
            n.passed,
            n.skipped,
            s.requests,
            s.paths,
            style.paint_verdict(&verdict, &s.family)
        );
    }
    out.push('\n');
}

/// The skip reasons of a large run, each with how many paths it covers.
fn render_skip_counts(r: &Report, out: &mut String) {
    let mut skipped: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for x in r.results.iter().filter(|x| x.verdict == Verdict::Skipped) {
        *skipped
            .entry((x.check.as_str(), x.reason.as_deref().unwrap_or("")))
            .or_default() += 1;
    }
    if !skipped.is_empty() {
        let _ = writeln!(out, "Skipped:");
        for ((check, why), n) in &skipped {
            let _ = writeln!(out, "  {check} ({n} paths): {why}");
        }
    }
}

/// The check-by-path grid, with the skip reasons naming the paths by number.
fn render_grid(r: &Report, endpoints: &[&String], style: Style, out: &mut String) {
    let _ = writeln!(out, "Endpoints:");
    for (i, e) in endpoints.iter().enumerate() {
        let _ = writeln!(out, "  [{}] {e}", i + 1);
    }
    let _ = write!(out, "\n{:<19}", "CHECK");
    for i in 0..endpoints.len() {
        let _ = write!(out, " {:<7}", format!("[{}]", i + 1));
    }
    out.push('\n');
    let mut skipped: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for c in CHECKS {
        if !r.results.iter().any(|x| x.check == c.name) {
            continue;
        }
        let _ = write!(out, "{:<19}", c.name);
        for (i, e) in endpoints.iter().enumerate() {
            let cell = match r
                .results
                .iter()
                .find(|x| x.check == c.name && &x.endpoint == *e)
            {
                None => format!("{:<7}", "-"),
                Some(x) => {
                    let text = match x.verdict {
                        Verdict::Passed => "ok".into(),
                        Verdict::Failed => format!("FAIL {}", x.failures),
                        Verdict::Warning => format!("warn {}", x.warnings),
                        Verdict::Skipped => {
                            skipped
                                .entry((c.name.to_string(), x.reason.clone().unwrap_or_default()))
                                .or_default()
                                .push(i + 1);
                            "skip".into()
                        }
                    };
                    style.cell(&x.verdict, &text, 7)
                }
            };
            let _ = write!(out, " {cell}");
        }
        out.push('\n');
    }
    if !skipped.is_empty() {
        let _ = writeln!(out, "\nSkipped:");
        for ((check, why), eps) in &skipped {
            let list: Vec<String> = eps.iter().map(|i| format!("[{i}]")).collect();
            let _ = writeln!(out, "  {check} {}: {why}", list.join(""));
        }
    }
}

/// Coverage, what was not restored, and the lines after them.
fn render_tail(r: &Report, style: Style, out: &mut String) {
    if !r.coverage.is_empty() {
        let _ = writeln!(out, "\nCoverage:");
        for c in &r.coverage {
            let fields = c.round_tripped.len() + c.not_round_tripped.len();
            let codes = c.error_codes.len() + c.error_codes_not_provoked.len();
            let unknown = if c.unknown_fields_sent.is_empty() {
                "no unknown body field sent".to_string()
            } else {
                format!(
                    "unknown body fields sent to {}",
                    c.unknown_fields_sent.join(", ")
                )
            };
            let _ = writeln!(
                out,
                "  {}: {} of {fields} patchable fields round-tripped, {} of {codes} error codes provoked, {unknown}",
                c.family,
                c.round_tripped.len(),
                c.error_codes.len()
            );
            for (why, fields) in by_reason(&c.not_round_tripped) {
                let _ = writeln!(out, "     not round-tripped ({why}): {}", fields.join(", "));
            }
            for (why, codes) in by_reason(&c.error_codes_not_provoked) {
                let _ = writeln!(out, "     not provoked ({why}): error {}", codes.join(", "));
            }
            let readings =
                c.filter_readings_separated.len() + c.filter_readings_not_separated.len();
            if readings > 0 {
                let _ = writeln!(
                    out,
                    "     filters: {} of {readings} wrong readings told apart by a chosen case",
                    c.filter_readings_separated.len()
                );
            }
            for (why, names) in by_reason(&c.filter_readings_not_separated) {
                let _ = writeln!(out, "     not told apart ({why}): {}", names.join(", "));
            }
            let cases = c.cases_reached.len() + c.cases_not_reached.len();
            if cases > 0 {
                let _ = writeln!(
                    out,
                    "     discriminating cases reached: {} of {cases}{}",
                    c.cases_reached.len(),
                    if c.cases_reached.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", c.cases_reached.join(", "))
                    }
                );
            }
            for (why, names) in by_reason(&c.cases_not_reached) {
                let _ = writeln!(out, "     not reached ({why}): {}", names.join(", "));
            }
        }
    }
    restore_problems(out, r);
    let _ = writeln!(out, "\n{}", painted_summary(r, style));
    let f = &r.figures;
    let _ = writeln!(
        out,
        "{} requests, {} cases in {:.2} s ({:.0} requests/s, peak {} in one second{}{}); target {} (ONTAP {}), mode {:?}, seed {}{}",
        f.requests,
        f.cases,
        f.wall_seconds,
        f.requests_per_second,
        f.peak_rate,
        f.rate_limit
            .map(|r| format!(", capped at {r}/s"))
            .unwrap_or_default(),
        if f.retries > 0 {
            format!(", {} retried after 429/503", f.retries)
        } else {
            String::new()
        },
        r.target,
        r.ontap_version,
        r.mode,
        r.seed,
        if r.interrupted { ", INTERRUPTED" } else { "" }
    );
    let sampled = sampled_families(r);
    if !sampled.is_empty() {
        let _ = writeln!(
            out,
            "sample: per-record checks touched {} (--sample {}: the records of the rarest field sets, then by the seed); whole collections were read once, in pages",
            sampled.join(", "),
            r.sampling.per_family
        );
    }
    if let Some(why) = r.stopped.as_deref().filter(|_| !r.interrupted) {
        let _ = writeln!(out, "STOPPED EARLY ({why}): the results above are partial.");
    }
}
