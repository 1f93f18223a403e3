//! JUnit XML for CI test reporters (GitLab, Jenkins, GitHub): one test suite per family, worst
//! family first, one test case per check and path (`paging /api/storage/volumes`). Failures
//! carry the message and the curl reproducer; warnings are failures only with --strict and
//! otherwise go to system-out; skipped checks say why.

use super::{Report, ResultRow, Verdict, families};
use crate::verdict::Severity;
use std::fmt::Write;

use super::escape_markup as escape;

pub fn render(r: &Report) -> String {
    if let Some(why) = &r.error {
        // The run ended before judging anything: one errored test case says why.
        return format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ontap-conform\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"0.000\">\n  <testsuite name=\"{target}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"0.000\">\n    <testcase name=\"target-reachable\" classname=\"{target}\" time=\"0.000\">\n      <error message=\"{msg}\" type=\"unreachable\">{msg}</error>\n    </testcase>\n  </testsuite>\n</testsuites>\n",
            target = escape(&r.target),
            msg = escape(why)
        );
    }
    let per_test = if r.results.is_empty() {
        0.0
    } else {
        r.figures.wall_seconds / r.results.len() as f64
    };
    let mut suites = String::new();
    let (mut all_tests, mut all_fail, mut all_skip) = (0, 0, 0);
    // One suite per family, worst first (the per-family summary: its counts are the suite's).
    let fams = families::of(r);
    for fam in fams.iter() {
        let rows = families::rows_of(r, &fam.family);
        let mut cases = String::new();
        let (mut fails, mut skips) = (0, 0);
        for row in &rows {
            let name = format!("{} {}", row.check, row.endpoint);
            match testcase(&mut cases, r, row, &name, &fam.family, per_test) {
                Verdict::Failed => fails += 1,
                Verdict::Skipped => skips += 1,
                _ => {}
            }
        }
        all_tests += rows.len();
        all_fail += fails;
        all_skip += skips;
        let _ = write!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\" errors=\"0\" skipped=\"{skips}\" time=\"{:.3}\">\n{cases}  </testsuite>\n",
            escape(&fam.family),
            rows.len(),
            per_test * rows.len() as f64
        );
    }
    // A partial run never looks green: one errored test case names why it stopped.
    let mut errors = 0;
    if let Some(why) = &r.stopped {
        errors = 1;
        all_tests += 1;
        let msg = escape(&format!("STOPPED EARLY — partial: {why}"));
        let _ = write!(
            suites,
            "  <testsuite name=\"ontap-conform run\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"0.000\">\n    <testcase name=\"run-complete\" classname=\"{target}\" time=\"0.000\">\n      <error message=\"{msg}\" type=\"stopped\">{msg}</error>\n    </testcase>\n  </testsuite>\n",
            target = escape(&r.target)
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ontap-conform\" tests=\"{all_tests}\" failures=\"{all_fail}\" errors=\"{errors}\" skipped=\"{all_skip}\" time=\"{:.3}\">\n{suites}</testsuites>\n",
        r.figures.wall_seconds
    )
}

/// Writes one `<testcase>` for a result row into `cases`: a failure with the message and the
/// reproducers, a skip with its reason, warnings in `<system-out>` (failures with --strict).
/// Returns how it counts: `Failed`, `Skipped`, or `Passed` (warnings that do not fail too).
pub(crate) fn testcase(
    cases: &mut String,
    r: &Report,
    row: &ResultRow,
    name: &str,
    classname: &str,
    time: f64,
) -> Verdict {
    let findings: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.endpoint == row.endpoint && f.check == row.check)
        .collect();
    let failing: Vec<_> = findings
        .iter()
        .filter(|f| f.severity == Severity::Failure || r.strict)
        .collect();
    let _ = write!(
        cases,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{time:.3}\"",
        escape(name),
        escape(classname)
    );
    if row.verdict == Verdict::Skipped {
        let _ = writeln!(
            cases,
            ">\n      <skipped message=\"{}\"/>\n    </testcase>",
            escape(row.reason.as_deref().unwrap_or(""))
        );
        Verdict::Skipped
    } else if !failing.is_empty() {
        let first = failing[0];
        let mut body = String::new();
        for f in &failing {
            let _ = writeln!(
                body,
                "{} {} [{} {}]: {}",
                f.method, f.endpoint, f.rule, f.evidence, f.message
            );
            if let Some(rep) = &f.reproducer {
                let _ = writeln!(
                    body,
                    "  reproduce: {}\n  expected:  {}\n  actual:    {}",
                    rep.curl, rep.expected, rep.actual
                );
            }
        }
        let _ = writeln!(
            cases,
            ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
            escape(&first.message),
            escape(&first.rule),
            escape(&body)
        );
        Verdict::Failed
    } else if !findings.is_empty() {
        let text: Vec<String> = findings
            .iter()
            .map(|f| format!("warning [{} {}]: {}", f.rule, f.evidence, f.message))
            .collect();
        let _ = writeln!(
            cases,
            ">\n      <system-out>{}</system-out>\n    </testcase>",
            escape(&text.join("\n"))
        );
        Verdict::Passed
    } else {
        cases.push_str("/>\n");
        Verdict::Passed
    }
}
