//! The checks: each has a stable name, the rules of `specs/conventions.json` it judges (whose
//! evidence sets its severity) and a one-line description. No check names an endpoint or a field:
//! each reads the catalog and applies wherever the catalog says it can.

pub mod access;
pub mod judge;
pub mod read;
pub mod write;

use crate::spec::Spec;
use crate::spec::model::Evidence;
use serde::{Deserialize, Serialize};

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

/// What a check needs from the run's mode before it may send anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// GETs only: runs in every mode.
    Reads,
    /// Changes records and restores them: not with --read-only.
    Writes,
}

#[derive(Debug, Clone, Copy)]
pub struct CheckInfo {
    pub name: &'static str,
    /// Rule ids of specs/conventions.json; the first is the check's headline rule.
    pub rules: &'static [&'static str],
    pub needs: Needs,
    pub description: &'static str,
}

pub const CHECKS: &[CheckInfo] = &[
    CheckInfo {
        name: "response-schema",
        rules: &["response-schema", "unknown-response-field"],
        needs: Needs::Reads,
        description: "Every 2xx body is valid against its definition and holds its key fields; undeclared fields warn.",
    },
    CheckInfo {
        name: "error-envelope",
        rules: &["error-envelope"],
        needs: Needs::Reads,
        description: "Every non-2xx body is {\"error\": {message, code as a string of digits, target?, arguments?}}.",
    },
    CheckInfo {
        name: "status-code",
        rules: &["status-code"],
        needs: Needs::Reads,
        description: "Every success answers a status code the catalog documents for its method.",
    },
    CheckInfo {
        name: "error-code",
        rules: &["status-code"],
        needs: Needs::Writes,
        description: "Each documented error code (4, 1, 144834564..6) answers its documented condition.",
    },
    CheckInfo {
        name: "not-found",
        rules: &["not-found-code", "not-found-status"],
        needs: Needs::Reads,
        description: "Random keys answer 404 with error code 4.",
    },
    CheckInfo {
        name: "unknown-parameter",
        rules: &["unknown-parameter"],
        needs: Needs::Reads,
        description: "An unknown query parameter answers 400 with code 262179.",
    },
    CheckInfo {
        name: "parameter-range",
        rules: &["parameter-range"],
        needs: Needs::Reads,
        description: "Query parameters outside their documented range (return_timeout 0..120) are rejected.",
    },
    CheckInfo {
        name: "method-not-allowed",
        rules: &["method-not-allowed"],
        needs: Needs::Writes,
        description: "Methods the catalog does not list answer 405 with the error envelope.",
    },
    CheckInfo {
        name: "auth-required",
        rules: &["auth-required"],
        needs: Needs::Reads,
        description: "No credentials, or a wrong password, answer 401.",
    },
    CheckInfo {
        name: "role-restrictions",
        rules: &["role-visibility", "role-denied"],
        needs: Needs::Writes,
        description: "An SVM administrator sees only its SVM's records and cannot change admin-only fields.",
    },
    CheckInfo {
        name: "write-only-secret",
        rules: &["write-only-secret"],
        needs: Needs::Reads,
        description: "Write-only secrets are never returned, whatever fields asks.",
    },
    CheckInfo {
        name: "field-selection",
        rules: &[
            "fields-subset",
            "fields-star",
            "fields-unknown",
            "collection-default-fields",
        ],
        needs: Needs::Reads,
        description: "fields= subsets, * and unknown names return exactly what ONTAP returns.",
    },
    CheckInfo {
        name: "query-filter",
        rules: &["query-filter"],
        needs: Needs::Reads,
        description: "Generated filters with every operator return the unfiltered collection filtered client-side.",
    },
    CheckInfo {
        name: "paging",
        rules: &[
            "paging-max-records",
            "paging-next",
            "num-records",
            "return-records",
        ],
        needs: Needs::Reads,
        description: "max_records pages, following next gives every record once, num_records counts, return_records=false.",
    },
    CheckInfo {
        name: "ordering",
        rules: &["order-by"],
        needs: Needs::Reads,
        description: "order_by=field [asc|desc] sorts the records.",
    },
    CheckInfo {
        name: "patch-roundtrip",
        rules: &["patch-roundtrip"],
        needs: Needs::Writes,
        description: "Generated valid PATCH bodies are stored and read back (CRLF as LF).",
    },
    CheckInfo {
        name: "patch-forbidden",
        rules: &["patch-forbidden", "patch-forbidden-code"],
        needs: Needs::Writes,
        description: "Read-only and PATCH-forbidden fields are rejected with 262196 and their target.",
    },
    CheckInfo {
        name: "patch-invalid",
        rules: &["patch-invalid", "patch-invalid-code", "bad-input-status"],
        needs: Needs::Writes,
        description: "Generated invalid values and malformed bodies are rejected with 400.",
    },
    CheckInfo {
        name: "patch-atomic",
        rules: &["patch-atomic"],
        needs: Needs::Writes,
        description: "A PATCH rejected for one field changes nothing.",
    },
    CheckInfo {
        name: "collection-patch",
        rules: &["collection-patch"],
        needs: Needs::Writes,
        description: "A collection PATCH with filters changes exactly the matching records and reports num_records.",
    },
    CheckInfo {
        name: "create-delete",
        rules: &["create-delete"],
        needs: Needs::Writes,
        description: "POST answers 201 with Location and is readable; DELETE then GET answers 404 code 4 (destructive).",
    },
    CheckInfo {
        name: "version-gate",
        rules: &["version-gate"],
        needs: Needs::Reads,
        description: "Endpoints newer than the target's version answer 404.",
    },
];

pub fn info(name: &str) -> Option<&'static CheckInfo> {
    CHECKS.iter().find(|c| c.name == name)
}

/// The evidence of a rule id, from the contract.
pub fn rule_evidence(spec: &Spec, rule: &str) -> Evidence {
    spec.convention(rule)
        .map(|r| r.evidence)
        .unwrap_or(Evidence::Obs)
}

/// The `--list-checks` table.
pub fn list(spec: &Spec) -> String {
    let mut out = String::from("CHECK               EVIDENCE     WRITES  DESCRIPTION\n");
    for c in CHECKS {
        // Each level once, strongest first: doc/lib/obs.
        let levels: std::collections::BTreeSet<Evidence> =
            c.rules.iter().map(|r| rule_evidence(spec, r)).collect();
        let ev: Vec<String> = levels.iter().map(Evidence::to_string).collect();
        out.push_str(&format!(
            "{:<19} {:<12} {:<7} {}\n",
            c.name,
            ev.join("/"),
            if c.needs == Needs::Writes {
                "yes"
            } else {
                "no"
            },
            c.description
        ));
    }
    out.push_str(
        "\nEvidence: doc and lib rules fail the run; obs rules warn (--strict makes them fail).\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_names_each_evidence_level_once_in_its_column() {
        let spec = Spec::load(None).unwrap();
        let text = list(spec);
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        let at = header.find("WRITES").unwrap();
        let rows: Vec<&str> = lines.take(CHECKS.len()).collect();
        assert_eq!(rows.len(), CHECKS.len());
        for row in rows {
            let evidence = row[20..at].trim();
            let levels: Vec<&str> = evidence.split('/').collect();
            // Each level once, in the order doc, lib, obs (which is also their alphabetical order).
            let once: std::collections::BTreeSet<&str> = levels.iter().copied().collect();
            assert_eq!(levels, once.into_iter().collect::<Vec<_>>(), "{row}");
            assert!(
                levels.iter().all(|l| ["doc", "lib", "obs"].contains(l)),
                "{row}"
            );
            assert!(matches!(&row[at..at + 3], "yes" | "no "), "{row}");
        }
        assert!(text.contains("paging              doc/lib "), "{text}");
    }
}
