//! What a run found, collected as the checks run (concurrently): the findings the active checks
//! record, those of the passive checks aggregated by problem (see [`Findings::aggregate`]), the
//! outcome of every (check, endpoint) pair, the cases run, and what was exercised of each family
//! for the coverage section. It judges nothing itself.

use crate::spec::Endpoint;
use crate::verdict::{Finding, Outcome};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The reason of a check the run never got to: it stopped first (a deadline, a signal, too many
/// transport failures in a row).
pub const NOT_RUN: &str = "not run (stopped early)";

/// Tells findings of the passive checks apart: (check, endpoint, method, problem).
pub type ProblemKey = (String, String, String, String);

#[derive(Default)]
pub struct Findings {
    recorded: Mutex<Vec<Finding>>,
    passive: Mutex<BTreeMap<ProblemKey, Finding>>,
    /// check -> endpoint -> outcome (nested, so that the hot path looks up without allocating).
    outcomes: Mutex<BTreeMap<String, BTreeMap<String, Outcome>>>,
    cases_run: AtomicU64,
    /// (family, what) exercised: `field:<path>`, `code:<code>`, `unknown:<METHOD>`.
    exercised: Mutex<BTreeSet<(String, String)>>,
}

impl Findings {
    /// Records a finding.
    pub fn push(&self, f: Finding) {
        self.recorded.lock().unwrap().push(f);
    }

    /// Records a finding of a passive check. One of the same problem already there counts one
    /// more occurrence and keeps the smaller reproducer (with its message), so that concurrency
    /// cannot change the report.
    pub fn aggregate(&self, problem: ProblemKey, seen: Finding) {
        let mut p = self.passive.lock().unwrap();
        let Some(f) = p.get_mut(&problem) else {
            p.insert(problem, seen);
            return;
        };
        f.occurrences += 1;
        if let Some(rep) = seen.reproducer
            && f.reproducer
                .as_ref()
                .is_none_or(|r| (&rep.curl, &rep.actual) < (&r.curl, &r.actual))
        {
            f.reproducer = Some(rep);
            f.message = seen.message;
        }
    }

    /// Every finding: those recorded, then those of the passive checks.
    pub fn all(&self) -> Vec<Finding> {
        let mut all = self.recorded.lock().unwrap().clone();
        all.extend(self.passive.lock().unwrap().values().cloned());
        all
    }

    pub fn ran(&self, check: &str, ep: &Endpoint) {
        let mut o = self.outcomes.lock().unwrap();
        if let Some(v) = o.get_mut(check).and_then(|m| m.get_mut(ep.path())) {
            if *v != Outcome::Ran {
                *v = Outcome::Ran;
            }
            return;
        }
        o.entry(check.to_string())
            .or_default()
            .insert(ep.path().to_string(), Outcome::Ran);
    }

    /// The pair is skipped, for `why`, unless it already has an outcome.
    pub fn skip(&self, check: &str, ep: &Endpoint, why: impl Into<String>) {
        let mut o = self.outcomes.lock().unwrap();
        o.entry(check.to_string())
            .or_default()
            .entry(ep.path().to_string())
            .or_insert(Outcome::Skipped(why.into()));
    }

    /// The outcome of every (check, endpoint) pair.
    pub fn outcomes(&self) -> BTreeMap<(String, String), Outcome> {
        let o = self.outcomes.lock().unwrap();
        o.iter()
            .flat_map(|(c, m)| {
                m.iter()
                    .map(move |(e, v)| ((c.clone(), e.clone()), v.clone()))
            })
            .collect()
    }

    pub fn count_cases(&self, n: u64) {
        self.cases_run.fetch_add(n, Ordering::Relaxed);
    }

    pub fn cases_run(&self) -> u64 {
        self.cases_run.load(Ordering::Relaxed)
    }

    /// Notes that a family's field was round-tripped, an error code provoked, an unknown field
    /// sent (`field:comment`, `code:4`, `unknown:PATCH`), for the coverage section.
    /// Notes for the coverage section that the discriminating case of `rule` was reached on
    /// `family` (Ok), or why not (Err).
    pub fn case(&self, family: &str, rule: &str, reached: Result<(), &str>) {
        self.exercised(
            family,
            match reached {
                Ok(()) => format!("case:{rule}"),
                Err(why) => format!("case-not:{rule}:{why}"),
            },
        );
    }

    pub fn exercised(&self, family: &str, what: String) {
        self.exercised
            .lock()
            .unwrap()
            .insert((family.to_string(), what));
    }

    /// What was exercised of a family, as noted.
    pub fn exercised_of(&self, family: &str) -> Vec<String> {
        self.exercised
            .lock()
            .unwrap()
            .iter()
            .filter(|(f, _)| f == family)
            .map(|(_, w)| w.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::model::Evidence;
    use crate::verdict::Reproducer;

    fn seen(curl: &str, message: &str) -> Finding {
        Finding::new(
            "error-envelope",
            "/api/x",
            "GET",
            "error-envelope",
            Evidence::Doc,
        )
        .message(message)
        .reproducer(Some(Reproducer {
            curl: curl.into(),
            expected: String::new(),
            actual: String::new(),
            shrunk: None,
        }))
    }

    #[test]
    fn the_same_problem_counts_occurrences_and_keeps_the_smallest_reproducer() {
        let f = Findings::default();
        let key = || {
            (
                "error-envelope".to_string(),
                "/api/x".to_string(),
                "GET".to_string(),
                "k".to_string(),
            )
        };
        f.aggregate(key(), seen("curl b", "second"));
        f.aggregate(key(), seen("curl a", "first"));
        f.aggregate(key(), seen("curl c", "third"));
        let all = f.all();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].occurrences, 3);
        assert_eq!(all[0].message, "first");
        assert_eq!(all[0].reproducer.as_ref().unwrap().curl, "curl a");
    }
}
