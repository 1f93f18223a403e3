//! The per-family summary every report leads with: for each family of the run, its paths, its
//! (endpoint, check) verdicts, its findings and the requests sent to its paths, worst family
//! first. At 331 families the terminal, JSON, JUnit and HTML reports open with this, and the
//! details (findings, the check × path cells) follow family by family in the same order.

use super::{Report, ResultRow, Summary, Verdict};
use crate::verdict::Severity;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// One family's line of the summary (`families[]` of the JSON report).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FamilySummary {
    pub family: String,
    /// The family's paths that have results (collection, instance, nested).
    pub paths: usize,
    /// Its (endpoint, check) pairs by verdict and its findings by severity, as the run's
    /// summary counts them.
    #[serde(flatten)]
    pub counts: Summary,
    /// Requests sent to the family's paths (from the latency table; discovery of the cluster
    /// itself counts for no family).
    pub requests: u64,
}

impl FamilySummary {
    /// Whether the family fails the run: a failed check, or with --strict a warning.
    pub fn failing(&self, strict: bool) -> bool {
        self.counts.failed > 0 || (strict && self.counts.warnings > 0)
    }
}

/// The family a result row belongs to: its family, or (in reports of older builds, which
/// did not name it) its endpoint.
pub fn family_of(row: &ResultRow) -> &str {
    if row.family.is_empty() {
        &row.endpoint
    } else {
        &row.family
    }
}

/// The families of a report, worst first: most failed checks, then most warned, then most
/// failure findings, then by name.
pub fn summarize(r: &Report) -> Vec<FamilySummary> {
    let mut by: BTreeMap<&str, FamilySummary> = BTreeMap::new();
    // Which family each endpoint is in, to attribute findings and requests.
    let mut family_of_endpoint: BTreeMap<&str, &str> = BTreeMap::new();
    for row in &r.results {
        let fam = family_of(row);
        let s = by.entry(fam).or_insert_with(|| FamilySummary {
            family: fam.to_string(),
            ..FamilySummary::default()
        });
        if family_of_endpoint.insert(&row.endpoint, fam).is_none() {
            s.paths += 1;
        }
        let n = &mut s.counts;
        match row.verdict {
            Verdict::Passed => n.passed += 1,
            Verdict::Failed => n.failed += 1,
            Verdict::Warning => n.warnings += 1,
            Verdict::Skipped => n.skipped += 1,
        }
    }
    for f in &r.findings {
        if let Some(s) = family_of_endpoint
            .get(f.endpoint.as_str())
            .and_then(|fam| by.get_mut(fam))
        {
            match f.severity {
                Severity::Failure => s.counts.failures += 1,
                Severity::Warning => s.counts.warning_findings += 1,
            }
        }
    }
    for l in &r.latency {
        if let Some(s) = family_of_endpoint
            .get(l.endpoint.as_str())
            .and_then(|fam| by.get_mut(fam))
        {
            s.requests += l.requests;
        }
    }
    let mut out: Vec<FamilySummary> = by.into_values().collect();
    let worst = |s: &FamilySummary| (s.counts.failed, s.counts.warnings, s.counts.failures);
    out.sort_by(|a, b| {
        worst(b)
            .cmp(&worst(a))
            .then_with(|| a.family.cmp(&b.family))
    });
    out
}

/// The report's per-family summary: as it carries it, or counted now (reports of older builds).
pub fn of(r: &Report) -> Cow<'_, [FamilySummary]> {
    if r.families.is_empty() && !r.results.is_empty() {
        Cow::Owned(summarize(r))
    } else {
        Cow::Borrowed(&r.families)
    }
}

/// The report's rows of one family, in the report's order.
pub fn rows_of<'a>(r: &'a Report, family: &str) -> Vec<&'a ResultRow> {
    r.results
        .iter()
        .filter(|x| family_of(x) == family)
        .collect()
}

/// The report's endpoints of one family, in the report's order, each once.
pub fn endpoints_of<'a>(r: &'a Report, family: &str) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for row in rows_of(r, family) {
        if !out.contains(&row.endpoint.as_str()) {
            out.push(&row.endpoint);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::LatencyRow;
    use crate::report::{Figures, RunFacts};
    use crate::spec::model::Evidence;
    use crate::verdict::{Finding, Mode, Outcome};

    fn row(family: &str, endpoint: &str, check: &str, verdict: Verdict) -> ResultRow {
        ResultRow {
            family: family.into(),
            endpoint: endpoint.into(),
            check: check.into(),
            verdict,
            failures: 0,
            warnings: 0,
            reason: None,
        }
    }

    fn report() -> Report {
        let facts = RunFacts {
            target: "t".into(),
            ontap_version: "9.14.1".into(),
            mode: Mode::ReadOnly,
            seed: 1,
            cases_per_property: 1,
            strict: false,
            interrupted: false,
            stopped: None,
        };
        let mut r = Report::build(
            facts,
            BTreeMap::<(String, String), Outcome>::new(),
            Vec::new(),
            Figures::default(),
            Vec::new(),
        );
        r.results = vec![
            row("a", "/api/a", "paging", Verdict::Passed),
            row("a", "/api/a/{k}", "not-found", Verdict::Passed),
            row("b", "/api/b", "paging", Verdict::Warning),
            row("c", "/api/c", "paging", Verdict::Failed),
            row("c", "/api/c", "query-filter", Verdict::Skipped),
            row("", "/api/old", "paging", Verdict::Passed),
        ];
        let finding = |endpoint: &str, severity| Finding {
            check: "paging".into(),
            endpoint: endpoint.into(),
            method: "GET".into(),
            rule: "r".into(),
            evidence: Evidence::Doc,
            severity,
            message: "m".into(),
            reproducer: None,
            occurrences: 1,
        };
        r.findings = vec![
            finding("/api/c", Severity::Failure),
            finding("/api/c", Severity::Failure),
            finding("/api/b", Severity::Warning),
        ];
        let lat = |endpoint: &str, requests| LatencyRow {
            endpoint: endpoint.into(),
            method: "GET".into(),
            requests,
            p50_ms: 0.0,
            p95_ms: 0.0,
            max_ms: 0.0,
        };
        r.latency = vec![
            lat("/api/cluster", 1),
            lat("/api/a", 10),
            lat("/api/a/{k}", 5),
            lat("/api/c", 7),
        ];
        r
    }

    #[test]
    fn families_are_counted_and_listed_worst_first() {
        let s = summarize(&report());
        let names: Vec<&str> = s.iter().map(|x| x.family.as_str()).collect();
        assert_eq!(names, ["c", "b", "/api/old", "a"]);
        let c = &s[0];
        let n = &c.counts;
        assert_eq!(
            (
                c.paths, n.passed, n.failed, n.skipped, n.failures, c.requests
            ),
            (1, 0, 1, 1, 2, 7)
        );
        let b = &s[1].counts;
        assert_eq!((b.warnings, b.warning_findings, s[1].requests), (1, 1, 0));
        // Two paths of family a; the cluster's request belongs to no family.
        assert_eq!((s[3].paths, s[3].counts.passed, s[3].requests), (2, 2, 15));
        assert!(c.failing(false) && !s[1].failing(false) && s[1].failing(true));
        assert_eq!(endpoints_of(&report(), "a"), ["/api/a", "/api/a/{k}"]);
    }
}
