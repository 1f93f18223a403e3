//! The verdict types every stage shares: what a run may change ([`Mode`]), how bad a broken rule
//! is ([`Severity`]), one finding with its reproducer ([`Finding`], built with a small builder),
//! and whether a (check, endpoint) pair ran ([`Outcome`]). The checks produce them, the run
//! collects them and the report renders them; none of those modules owns them.

use crate::spec::model::Evidence;
use serde::{Deserialize, Serialize};

/// What the run may change on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// GETs only.
    ReadOnly,
    /// Restorable PATCHes, each record put back exactly as it was (the default).
    Restore,
    /// Also POST, DELETE, write-only secrets and lock-out fields (`--allow-destructive`).
    Destructive,
}

/// How bad a broken rule is: doc and lib rules fail the run, obs rules warn (`--strict` fails them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Failure,
    Warning,
}

impl Severity {
    pub fn of(e: Evidence) -> Severity {
        match e {
            Evidence::Doc | Evidence::Lib => Severity::Failure,
            Evidence::Obs => Severity::Warning,
        }
    }
}

/// How to reproduce a finding.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reproducer {
    /// A curl command (secrets redacted) that reproduces the minimal failing request.
    pub curl: String,
    pub expected: String,
    pub actual: String,
    /// How many generated cases failed before shrinking, when the check is a property.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrunk: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub check: String,
    pub endpoint: String,
    pub method: String,
    pub severity: Severity,
    pub evidence: Evidence,
    pub rule: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproducer: Option<Reproducer>,
    /// How many times the same problem was seen (passive checks aggregate).
    pub occurrences: u64,
}

impl Finding {
    /// A finding of `check` on `method endpoint` that broke `rule`, whose evidence sets the
    /// severity. Seen once, with no message and no reproducer until the builder methods add them.
    pub fn new(check: &str, endpoint: &str, method: &str, rule: &str, evidence: Evidence) -> Self {
        Finding {
            check: check.into(),
            endpoint: endpoint.into(),
            method: method.into(),
            severity: Severity::of(evidence),
            evidence,
            rule: rule.into(),
            message: String::new(),
            reproducer: None,
            occurrences: 1,
        }
    }
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
    pub fn reproducer(mut self, reproducer: Option<Reproducer>) -> Self {
        self.reproducer = reproducer;
        self
    }
    pub fn occurrences(mut self, n: u64) -> Self {
        self.occurrences = n;
        self
    }
}

/// A record the run could not prove it put back: what it was, what it is now, and how to put it
/// back by hand. Secrets in `original` and `curl` are redacted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RestoreProblem {
    /// The record's instance path.
    pub record: String,
    /// The field that differs, when one does (None: the whole record, e.g. not re-created).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Its value before the run (None: it had none, or the record did not exist).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<serde_json::Value>,
    /// Why it is not back.
    pub reason: String,
    /// A command that puts it back, when one is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curl: Option<String>,
}

impl std::fmt::Display for RestoreProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.record)?;
        if let Some(field) = &self.field {
            write!(f, " {field}")?;
        }
        write!(f, ": {}", self.reason)?;
        if let Some(v) = &self.original {
            write!(f, " (was {v})")?;
        }
        Ok(())
    }
}

/// What a run exercised of one family, so that a user sees what a green run proved.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Coverage {
    pub family: String,
    /// Patchable fields whose PATCH was read back.
    pub round_tripped: Vec<String>,
    /// Patchable fields that were not, each with why.
    pub not_round_tripped: std::collections::BTreeMap<String, String>,
    /// Documented error codes provoked under their condition.
    pub error_codes: Vec<String>,
    /// Documented error codes not provoked, each with why.
    pub error_codes_not_provoked: std::collections::BTreeMap<String, String>,
    /// Methods an unknown body field was sent with.
    pub unknown_fields_sent: Vec<String>,
    /// Wrong readings of the filter grammar (`Misreading`, by name) a query-filter case told
    /// apart from the right one on the records read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_readings_separated: Vec<String>,
    /// Those no case told apart, each with why.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub filter_readings_not_separated: std::collections::BTreeMap<String, String>,
    /// The discriminating cases of other rules (by rule: `paging-next-query`, a filtered,
    /// ordered walk over several pages; `order-by-keys`, two keys with ties in the first;
    /// `role-write-scope`, a write to another SVM's record) a case reached on this family.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases_reached: Vec<String>,
    /// Those not reached, each with why (what the records lacked).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub cases_not_reached: std::collections::BTreeMap<String, String>,
}

/// Whether a (check, endpoint) pair ran or why it did not.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "status", content = "reason", rename_all = "lowercase")]
pub enum Outcome {
    Ran,
    Skipped(String),
}

/// A short text of a JSON value for messages (long strings cut).
pub fn show_value(v: Option<&serde_json::Value>) -> String {
    match v {
        None => "(absent)".into(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 60 {
                format!("{}…", s.chars().take(57).collect::<String>())
            } else {
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_derives_severity_from_evidence() {
        let f = Finding::new("paging", "/api/x", "GET", "num-records", Evidence::Doc)
            .message("num_records is 3")
            .occurrences(2);
        assert_eq!(f.severity, Severity::Failure);
        assert_eq!((f.message.as_str(), f.occurrences), ("num_records is 3", 2));
        let w = Finding::new("paging", "/api/x", "GET", "r", Evidence::Obs);
        assert_eq!((w.severity, w.occurrences), (Severity::Warning, 1));
    }
}
