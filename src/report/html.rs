//! The HTML report (`--report html=FILE`): one self-contained page a mock's author can hand over
//! as a certificate. Inline CSS only: no script, no font, nothing fetched from the network (a
//! Content-Security-Policy forbids it, too). Every value goes through [`escape`], because
//! messages quote what the target answered, and a target must not be able to inject markup.

use super::{Report, Verdict, families, summary_line};
use crate::checks::CHECKS;
use crate::verdict::{Finding, RestoreProblem, Severity};
use std::collections::BTreeMap;
use std::fmt::Write;

pub use super::escape_markup as escape;

const CSS: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#1d2330;background:#fff}
h1{font-size:1.6em;margin:0 0 .2em}h2{font-size:1.2em;margin:1.6em 0 .5em;border-bottom:1px solid #d8dde6;padding-bottom:.2em}
.verdict{display:inline-block;padding:.25em .8em;border-radius:4px;font-weight:700;color:#fff}
.verdict.pass{background:#1f8a3b}.verdict.fail{background:#c62828}.verdict.error{background:#6d4c41}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:.2em 1.2em;margin:.8em 0}dl.facts dt{color:#5b6474}dl.facts dd{margin:0;font-weight:600}
table{border-collapse:collapse}th,td{border:1px solid #d8dde6;padding:.3em .6em;text-align:left}
th{background:#f3f5f9}td.cell{text-align:center;font-weight:600;min-width:4.5em}
td.passed{background:#d7f2dd;color:#14532d}td.failed{background:#f9d4d4;color:#8b1111}
td.warning{background:#fff0c2;color:#7a5300}td.skipped{background:#eceff3;color:#6b7280;font-weight:400}
td.none{color:#9aa2af}
.legend span{display:inline-block;padding:.1em .6em;margin-right:.5em;border-radius:3px}
.legend .passed{background:#d7f2dd}.legend .failed{background:#f9d4d4}.legend .warning{background:#fff0c2}.legend .skipped{background:#eceff3}
article.finding{border:1px solid #d8dde6;border-left:6px solid #c62828;border-radius:4px;padding:.6em 1em;margin:.8em 0}
article.finding.warning{border-left-color:#e0a800}
article.finding h3{font-size:1em;margin:0 0 .4em}
pre{background:#f6f8fa;padding:.5em .7em;border-radius:3px;white-space:pre-wrap;word-break:break-all;margin:.2em 0}
.error-box{border:1px solid #6d4c41;background:#fbe9e7;padding:.6em 1em;border-radius:4px}
footer{margin-top:2em;color:#5b6474;font-size:.9em}
details.family{border:1px solid #d8dde6;border-radius:4px;padding:.3em .8em;margin:.4em 0}details.family>summary{cursor:pointer}
details.family table.matrix{margin:.5em 0}ol.endpoints{margin:.3em 0}
";

/// Renders the whole page.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let (verdict_class, verdict) = if r.error.is_some() {
        ("error", "NOT RUN: target unreachable")
    } else if r.stopped.is_some() {
        // A partial run never looks green, whatever it found before it stopped.
        ("error", "STOPPED EARLY — partial")
    } else if r.failed() {
        ("fail", "FAILED")
    } else {
        ("pass", "PASSED")
    };
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>ontap-conform report: {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        escape(&r.target)
    );
    let _ = writeln!(
        o,
        "<header>\n<h1>ONTAP REST conformance report</h1>\n<p><span id=\"verdict\" class=\"verdict {verdict_class}\">{verdict}</span></p>"
    );
    let _ = writeln!(o, "<dl class=\"facts\" id=\"facts\">");
    let mode = serde_json::to_value(r.mode)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| format!("{:?}", r.mode));
    for (k, v) in [
        ("Target", r.target.clone()),
        ("ONTAP version", r.ontap_version.clone()),
        ("Mode", mode),
        ("Seed", r.seed.to_string()),
        ("Cases per property", r.cases_per_property.to_string()),
        (
            "Strict",
            if r.strict {
                "yes (warnings fail)"
            } else {
                "no"
            }
            .into(),
        ),
        ("Tool", r.tool.clone()),
    ] {
        let _ = writeln!(o, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v));
    }
    if r.interrupted {
        let _ = writeln!(o, "<dt>Interrupted</dt><dd>yes</dd>");
    }
    let _ = writeln!(o, "</dl>\n</header>");

    if let Some(why) = &r.error {
        let _ = writeln!(
            o,
            "<section id=\"error\" class=\"error-box\"><h2>The run could not start</h2><p>{}</p></section>",
            escape(why)
        );
    }
    if let Some(why) = &r.stopped {
        let _ = writeln!(
            o,
            "<section id=\"stopped\" class=\"error-box\"><h2>STOPPED EARLY — partial</h2><p>The run stopped before the end ({}): the results below are incomplete; checks it never got to are \"{}\".</p></section>",
            escape(why),
            escape(crate::checks::findings::NOT_RUN)
        );
    }

    let _ = writeln!(
        o,
        "<section id=\"summary\">\n<h2>Summary</h2>\n<p id=\"summary-line\">{}</p>",
        escape(&summary_line(r))
    );
    let f = &r.figures;
    let _ = writeln!(
        o,
        "<table id=\"figures\"><tr><th>Requests</th><th>Cases</th><th>Wall</th><th>Rate</th></tr>\
         <tr><td>{}</td><td>{}</td><td>{:.2} s</td><td>{:.0} requests/s</td></tr></table>\n</section>",
        f.requests, f.cases, f.wall_seconds, f.requests_per_second
    );

    sampling(&mut o, r);
    family_table(&mut o, r);
    by_family(&mut o, r);
    skips(&mut o, r);
    coverage(&mut o, r);
    latency(&mut o, r);

    if !r.restore_problems.is_empty() {
        let _ = writeln!(
            o,
            "<section id=\"restore-problems\"><h2>Not restored (check these records by hand)</h2><ul>"
        );
        restore_problem_items(&mut o, &r.restore_problems);
        let _ = writeln!(o, "</ul></section>");
    }
    if let Some(drift) = &r.drift {
        let _ = writeln!(
            o,
            "<section id=\"drift\"><h2>Drift from the baseline ({} changes)</h2><table><tr><th>kind</th><th>endpoint</th><th>request</th><th>field</th><th>before</th><th>after</th></tr>",
            drift.len()
        );
        for d in drift {
            let v = serde_json::to_value(d).unwrap_or_default();
            let cell = |k: &str| match &v[k] {
                serde_json::Value::String(s) => escape(s),
                serde_json::Value::Null => String::new(),
                other => escape(&other.to_string()),
            };
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                cell("kind"),
                cell("endpoint"),
                cell("request"),
                cell("field"),
                cell("before"),
                cell("after")
            );
        }
        let _ = writeln!(o, "</table></section>");
    }
    let _ = writeln!(
        o,
        "<footer>Made by {} from the contract in specs/ (evidence: doc and lib rules fail, obs rules warn).</footer>\n</body>\n</html>",
        escape(&r.tool)
    );
    o
}

/// The per-family summary, worst first: each family's counts and requests, linked to its details.
fn family_table(o: &mut String, r: &Report) {
    let fams = families::of(r);
    if fams.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<section id=\"families\">\n<h2>Families ({}), worst first</h2>\n<table id=\"family-summary\"><tr><th>family</th><th>paths</th><th>passed</th><th>failed</th><th>warnings</th><th>skipped</th><th>findings</th><th>requests</th></tr>",
        fams.len()
    );
    for s in fams.iter() {
        let _ = writeln!(
            o,
            "<tr data-summary-family=\"{f}\"><td><a href=\"#family-{f}\">{f}</a></td><td>{}</td>{}<td>{}</td><td>{}</td></tr>",
            s.paths,
            super::count_cells(&s.counts),
            s.counts.failures + s.counts.warning_findings,
            s.requests,
            f = escape(&s.family)
        );
    }
    let _ = writeln!(o, "</table>\n</section>");
}

/// The details, family by family in the summary's order, each folded (`<details>`), a failing
/// family open: its check × path matrix, coloured by verdict, and its findings with their
/// reproducers.
fn by_family(o: &mut String, r: &Report) {
    if r.error.is_some() {
        return;
    }
    let fams = families::of(r);
    let _ = writeln!(
        o,
        "<section id=\"results\">\n<h2>Results by family</h2>\n<p class=\"legend\"><span class=\"passed\">ok: passed</span><span class=\"failed\">FAIL n: failed</span><span class=\"warning\">warn n: warning</span><span class=\"skipped\">skip: not applicable</span></p>"
    );
    if r.findings.is_empty() {
        let _ = writeln!(
            o,
            "<p id=\"no-findings\">No findings: every applicable check passed.</p>"
        );
    }
    for s in fams.iter() {
        let _ = writeln!(
            o,
            "<details class=\"family\" id=\"family-{f}\" data-family-detail=\"{f}\"{}>\n<summary><b>{f}</b>: {} failed, {} warnings, {} passed, {} skipped; {} findings; {} requests</summary>",
            if s.failing(r.strict) { " open" } else { "" },
            s.counts.failed,
            s.counts.warnings,
            s.counts.passed,
            s.counts.skipped,
            s.counts.failures + s.counts.warning_findings,
            s.requests,
            f = escape(&s.family)
        );
        matrix(o, r, &s.family);
        let eps = families::endpoints_of(r, &s.family);
        for f in r
            .findings
            .iter()
            .filter(|f| eps.contains(&f.endpoint.as_str()))
        {
            finding(o, r, f);
        }
        let _ = writeln!(o, "</details>");
    }
    // Findings on a path with no result row (none today; a report of another build may have
    // them) are not lost.
    let other: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| !r.results.iter().any(|x| x.endpoint == f.endpoint))
        .collect();
    if !other.is_empty() {
        let _ = writeln!(
            o,
            "<details class=\"family\" id=\"family-other\" open>\n<summary><b>other paths</b>: {} findings</summary>",
            other.len()
        );
        for f in other {
            finding(o, r, f);
        }
        let _ = writeln!(o, "</details>");
    }
    let _ = writeln!(o, "</section>");
}

/// One family's check × path matrix, coloured by verdict.
fn matrix(o: &mut String, r: &Report, family: &str) {
    let eps = families::endpoints_of(r, family);
    let rows = families::rows_of(r, family);
    let _ = writeln!(o, "<ol class=\"endpoints\">");
    for e in &eps {
        let _ = writeln!(o, "<li><code>{}</code></li>", escape(e));
    }
    let _ = write!(o, "</ol>\n<table class=\"matrix\">\n<tr><th>check</th>");
    for (i, e) in eps.iter().enumerate() {
        let _ = write!(o, "<th title=\"{}\">[{}]</th>", escape(e), i + 1);
    }
    let _ = writeln!(o, "</tr>");
    for c in CHECKS {
        if !rows.iter().any(|x| x.check == c.name) {
            continue;
        }
        let _ = write!(o, "<tr data-check=\"{0}\"><th>{0}</th>", escape(c.name));
        for e in &eps {
            match rows.iter().find(|x| x.check == c.name && x.endpoint == *e) {
                None => {
                    let _ = write!(o, "<td class=\"cell none\">-</td>");
                }
                Some(x) => {
                    let (class, text) = match x.verdict {
                        Verdict::Passed => ("passed", "ok".to_string()),
                        Verdict::Failed => ("failed", format!("FAIL {}", x.failures)),
                        Verdict::Warning => ("warning", format!("warn {}", x.warnings)),
                        Verdict::Skipped => ("skipped", "skip".to_string()),
                    };
                    let title = x.reason.as_deref().unwrap_or(class);
                    let _ = write!(
                        o,
                        "<td class=\"cell {class}\" title=\"{}\">{}</td>",
                        escape(title),
                        escape(&text)
                    );
                }
            }
        }
        let _ = writeln!(o, "</tr>");
    }
    let _ = writeln!(o, "</table>");
}

/// One finding with its rule, message and reproducer.
fn finding(o: &mut String, r: &Report, f: &Finding) {
    let (class, tag) = match f.severity {
        Severity::Failure => ("failure", "FAIL"),
        Severity::Warning if r.strict => ("warning", "WARN (failing: --strict)"),
        Severity::Warning => ("warning", "WARN"),
    };
    let _ = writeln!(
        o,
        "<article class=\"finding {class}\">\n<h3>{tag} <code>{}</code> {} <code>{}</code></h3>",
        escape(&f.check),
        escape(&f.method),
        escape(&f.endpoint)
    );
    let seen = if f.occurrences > 1 {
        format!(", seen {} times", f.occurrences)
    } else {
        String::new()
    };
    let _ = writeln!(
        o,
        "<p>rule <code>{}</code>, evidence {}{}</p>\n<p class=\"message\">{}</p>",
        escape(&f.rule),
        escape(f.evidence.as_str()),
        escape(&seen),
        escape(&f.message)
    );
    if let Some(rep) = &f.reproducer {
        let _ = writeln!(o, "<dl class=\"reproducer\">");
        if let Some(s) = &rep.shrunk {
            let _ = writeln!(o, "<dt>shrunk</dt><dd>{}</dd>", escape(s));
        }
        let _ = writeln!(
            o,
            "<dt>reproduce</dt><dd><pre class=\"curl\">{}</pre></dd>\n<dt>expected</dt><dd><pre>{}</pre></dd>\n<dt>actual</dt><dd><pre>{}</pre></dd>\n</dl>",
            escape(&rep.curl),
            escape(&rep.expected),
            escape(&rep.actual)
        );
    }
    let _ = writeln!(o, "</article>");
}

/// Skipped checks, grouped by reason, with the paths each covers.
fn skips(o: &mut String, r: &Report) {
    let mut skipped: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for x in r.results.iter().filter(|x| x.verdict == Verdict::Skipped) {
        skipped
            .entry((x.check.as_str(), x.reason.as_deref().unwrap_or("")))
            .or_default()
            .push(&x.endpoint);
    }
    if skipped.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<section id=\"skips\">\n<h2>Skipped</h2>\n<table><tr><th>check</th><th>paths</th><th>why</th></tr>"
    );
    for ((check, why), paths) in &skipped {
        let list: Vec<String> = paths.iter().map(|p| escape(p)).collect();
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td><details><summary>{}</summary>{}</details></td><td>{}</td></tr>",
            escape(check),
            super::fleet::plural(paths.len(), "path"),
            list.join("<br>"),
            escape(why)
        );
    }
    let _ = writeln!(o, "</table>\n</section>");
}

/// What the per-record checks touched of each family larger than the sample.
fn sampling(o: &mut String, r: &Report) {
    let sampled = super::sampled_families(r);
    if sampled.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<p id=\"sampling\">Per-record checks touched {} (--sample {}: the records of the rarest field sets, then by the seed); whole collections were read once, in pages.</p>",
        escape(&sampled.join(", ")),
        r.sampling.per_family
    );
}

/// Per family: the patchable fields round-tripped and the error codes provoked, and why the
/// others were not.
fn coverage(o: &mut String, r: &Report) {
    if r.coverage.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<section id=\"coverage\">\n<h2>Coverage</h2>\n<table><tr><th>family</th><th>patchable fields round-tripped</th><th>error codes provoked</th><th>unknown body fields sent to</th><th>filter wrong readings told apart</th><th>discriminating cases reached (next link keeps the query, two-key order_by, a write outside the SVM)</th></tr>"
    );
    let why_not = |label: &str, m: &BTreeMap<String, String>| -> String {
        super::by_reason(m)
            .into_iter()
            .map(|(why, names)| {
                format!(
                    "<br><span class=\"why\">{label} ({}): {}</span>",
                    escape(why),
                    escape(&names.join(", "))
                )
            })
            .collect()
    };
    for c in &r.coverage {
        let fields = c.round_tripped.len() + c.not_round_tripped.len();
        let codes = c.error_codes.len() + c.error_codes_not_provoked.len();
        let readings = c.filter_readings_separated.len() + c.filter_readings_not_separated.len();
        let _ = writeln!(
            o,
            "<tr data-family=\"{}\"><td>{}</td><td>{} of {fields}{}</td><td>{} of {codes}{}</td><td>{}</td><td>{} of {readings}{}</td><td>{} of {}{}</td></tr>",
            escape(&c.family),
            escape(&c.family),
            c.round_tripped.len(),
            why_not("not round-tripped", &c.not_round_tripped),
            c.error_codes.len(),
            why_not("not provoked", &c.error_codes_not_provoked),
            if c.unknown_fields_sent.is_empty() {
                "none".to_string()
            } else {
                escape(&c.unknown_fields_sent.join(", "))
            },
            c.filter_readings_separated.len(),
            why_not("not told apart", &c.filter_readings_not_separated),
            c.cases_reached.len(),
            c.cases_reached.len() + c.cases_not_reached.len(),
            why_not("not reached", &c.cases_not_reached),
        );
    }
    let _ = writeln!(o, "</table>\n</section>");
}

/// Per endpoint and method: requests and their p50 / p95 / max latency.
fn latency(o: &mut String, r: &Report) {
    if r.latency.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<section id=\"latency\">\n<h2>Latency</h2>\n<table><tr><th>endpoint</th><th>method</th><th>requests</th><th>p50 ms</th><th>p95 ms</th><th>max ms</th></tr>"
    );
    for l in &r.latency {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td></tr>",
            escape(&l.endpoint),
            escape(&l.method),
            l.requests,
            l.p50_ms,
            l.p95_ms,
            l.max_ms
        );
    }
    let _ = writeln!(o, "</table>\n</section>");
}

/// One `<li>` per record not restored, with the curl command that puts it back.
pub(crate) fn restore_problem_items(o: &mut String, problems: &[RestoreProblem]) {
    for p in problems {
        let fix = p
            .curl
            .as_deref()
            .map(|c| format!("<br>put back: <code>{}</code>", escape(c)))
            .unwrap_or_default();
        let _ = writeln!(o, "<li>{}{fix}</li>", escape(&p.to_string()));
    }
}
