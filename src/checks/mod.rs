//! The checks, as one registry ([`CHECKS`]): each check is declared once, with its stable name,
//! the rules of `specs/conventions.json` it judges (whose evidence sets its severity), what it needs
//! from the run's mode, where it applies (read from the catalog and the rules' `applies`) and the
//! function that runs it. No check names an endpoint or a field: each reads the catalog and applies
//! wherever the catalog says it can. Adding a check is one function, one entry here and one row in
//! the fault table test (tests/engine.rs).

pub mod access;
pub mod ctx;
pub mod findings;
pub mod judge;
pub mod passive;
pub mod property;
pub mod read;
pub mod records;
pub mod rules;
pub mod write;

use crate::client::Response;
use crate::spec::model::{Answer, Evidence, Method};
use crate::spec::{Endpoint, Spec};
pub use crate::verdict::Severity;
use ctx::Ctx;
use futures_util::future::BoxFuture;

/// What a check needs from the run's mode before it may send anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// GETs only: runs in every mode.
    Reads,
    /// Changes records and restores them: not with --read-only.
    Writes,
    /// Sends requests that must be refused and change nothing (a PUT, expecting 405), each
    /// journaled like a write: wherever writes may go, and on an imported contract's default
    /// read-only run too; never with an explicit --read-only.
    Probes,
}

/// The active part of a check, run once per endpoint it applies to.
pub type CheckFn = for<'a> fn(&'a Ctx, &'a Endpoint) -> BoxFuture<'a, ()>;

macro_rules! check_fn {
    ($f:path) => {{
        fn run<'a>(c: &'a Ctx, e: &'a Endpoint) -> BoxFuture<'a, ()> {
            Box::pin($f(c, e))
        }
        run as CheckFn
    }};
}

/// Where a check applies, decided from the catalog before anything is sent.
#[derive(Debug, Clone, Copy)]
pub enum Applies {
    /// Every endpoint the target's version has (the check itself may still skip, saying why).
    Everywhere,
    /// Where the `applies` of `rule` in specs/conventions.json holds (kind and methods) and, with
    /// `query`, the endpoint's GET documents that query parameter; elsewhere the pair is skipped
    /// with the reason `otherwise`.
    Rule {
        rule: &'static str,
        query: Option<&'static str>,
        otherwise: &'static str,
    },
    /// Only on endpoints the target's version does not have yet (version-gate).
    Unavailable,
}

#[derive(Debug, Clone, Copy)]
pub struct Check {
    pub name: &'static str,
    /// Rule ids of specs/conventions.json; the first is the check's headline rule.
    pub rules: &'static [&'static str],
    pub needs: Needs,
    pub description: &'static str,
    pub applies: Applies,
    /// None for the passive checks, which judge every exchange as it passes (see [`passive`]).
    pub run: Option<CheckFn>,
}

/// Why a check does not apply to an endpoint, decided from the catalog alone (the pair is skipped
/// with this reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotApplicable {
    /// The `applies` of the check's rule does not hold: the check's own reason (`otherwise`).
    #[error("{0}")]
    Rule(&'static str),
    /// The endpoint's GET does not document the query parameter the check needs.
    #[error("its GET does not document {0}")]
    QueryUndocumented(&'static str),
}

impl Check {
    /// Whether the check applies to `ep`, from the catalog alone; Err says why not.
    pub fn applies_to(&self, spec: &Spec, ep: &Endpoint) -> Result<(), NotApplicable> {
        let Applies::Rule {
            rule,
            query,
            otherwise,
        } = self.applies
        else {
            return Ok(());
        };
        let r = spec
            .convention(rule)
            .unwrap_or_else(|| panic!("check {}: rule {rule} is not in the contract", self.name));
        if !r.applies_to(ep) {
            return Err(NotApplicable::Rule(otherwise));
        }
        if let Some(q) = query
            && !ep
                .method(Method::GET)
                .is_some_and(|g| g.query.iter().any(|p| p == q))
        {
            return Err(NotApplicable::QueryUndocumented(q));
        }
        Ok(())
    }
}

pub const CHECKS: &[Check] = &[
    Check {
        name: "response-schema",
        rules: &["response-schema", "unknown-response-field"],
        needs: Needs::Reads,
        description: "Every 2xx body is valid against its definition and holds its key fields; undeclared fields warn.",
        applies: Applies::Everywhere,
        run: Some(check_fn!(read::survey)),
    },
    Check {
        name: "error-envelope",
        rules: &["error-envelope"],
        needs: Needs::Reads,
        description: "Every non-2xx body is {\"error\": {message, code as a string of digits, target?, arguments?}}.",
        applies: Applies::Everywhere,
        run: None,
    },
    Check {
        name: "status-code",
        rules: &["status-code"],
        needs: Needs::Reads,
        description: "Every success answers a status code the catalog documents for its method.",
        applies: Applies::Everywhere,
        run: None,
    },
    Check {
        name: "error-code",
        rules: &["status-code"],
        needs: Needs::Writes,
        description: "Each documented error code (4, 1, 144834564..6) answers its documented condition.",
        applies: Applies::Everywhere,
        run: Some(check_fn!(write::error_code)),
    },
    Check {
        name: "not-found",
        rules: &["not-found-code", "not-found-status"],
        needs: Needs::Reads,
        description: "Random keys answer 404 with error code 4.",
        applies: Applies::Rule {
            rule: "not-found-code",
            query: None,
            otherwise: "judged on instance paths",
        },
        run: Some(check_fn!(read::not_found)),
    },
    Check {
        name: "unknown-parameter",
        rules: &["unknown-parameter"],
        needs: Needs::Reads,
        description: "An unknown query parameter answers 400 with code 262179.",
        applies: Applies::Everywhere,
        run: Some(check_fn!(read::unknown_parameter)),
    },
    Check {
        name: "parameter-range",
        rules: &["parameter-range", "parameter-type"],
        needs: Needs::Reads,
        description: "Query parameters outside their documented range (return_timeout 0..120) are rejected; a wrong type warns.",
        applies: Applies::Rule {
            rule: "parameter-range",
            query: None,
            otherwise: "no GET",
        },
        run: Some(check_fn!(read::parameter_range)),
    },
    Check {
        name: "method-not-allowed",
        rules: &["method-not-allowed", "head-options"],
        needs: Needs::Probes,
        description: "Methods the catalog does not list answer 405 with the error envelope; HEAD and OPTIONS answer 200.",
        applies: Applies::Everywhere,
        run: Some(check_fn!(access::method_not_allowed)),
    },
    Check {
        name: "auth-required",
        rules: &["auth-required"],
        needs: Needs::Reads,
        description: "No credentials, or a wrong password, answer 401.",
        applies: Applies::Everywhere,
        run: Some(check_fn!(read::auth_required)),
    },
    Check {
        name: "role-restrictions",
        rules: &["role-visibility", "role-denied"],
        needs: Needs::Writes,
        description: "An SVM administrator sees only its SVM's records and cannot change admin-only fields.",
        applies: Applies::Everywhere,
        run: Some(check_fn!(access::role_restrictions)),
    },
    Check {
        name: "write-only-secret",
        rules: &["write-only-secret"],
        needs: Needs::Reads,
        description: "Write-only secrets are never returned, whatever fields asks.",
        applies: Applies::Everywhere,
        run: Some(check_fn!(read::write_only_secret)),
    },
    Check {
        name: "field-selection",
        rules: &[
            "fields-subset",
            "fields-star",
            "fields-star-star",
            "fields-unknown",
            "collection-default-fields",
        ],
        needs: Needs::Reads,
        description: "fields= subsets, * (common fields), ** (all) and unknown names return what ONTAP returns.",
        applies: Applies::Everywhere,
        run: Some(check_fn!(read::field_selection)),
    },
    Check {
        name: "query-filter",
        rules: &["query-filter"],
        needs: Needs::Reads,
        description: "Generated filters with every operator return the unfiltered collection filtered client-side.",
        applies: Applies::Rule {
            rule: "query-filter",
            query: Some("filters"),
            otherwise: "filters apply to collections",
        },
        run: Some(check_fn!(read::query_filter)),
    },
    Check {
        name: "paging",
        rules: &[
            "paging-max-records",
            "paging-next",
            "num-records",
            "return-records",
        ],
        needs: Needs::Reads,
        description: "max_records pages, following next gives every record once, num_records counts, return_records=false.",
        applies: Applies::Rule {
            rule: "paging-max-records",
            query: Some("max_records"),
            otherwise: "paging applies to collections",
        },
        run: Some(check_fn!(read::paging)),
    },
    Check {
        name: "ordering",
        rules: &["order-by"],
        needs: Needs::Reads,
        description: "order_by=field [asc|desc] sorts the records.",
        applies: Applies::Rule {
            rule: "order-by",
            query: Some("order_by"),
            otherwise: "order_by applies to collections",
        },
        run: Some(check_fn!(read::ordering)),
    },
    Check {
        name: "patch-roundtrip",
        rules: &["patch-roundtrip"],
        needs: Needs::Writes,
        description: "Generated valid PATCH bodies are stored and read back (CRLF as LF).",
        applies: Applies::Rule {
            rule: "patch-roundtrip",
            query: None,
            otherwise: "judged on instance paths",
        },
        run: Some(check_fn!(write::patch_roundtrip)),
    },
    Check {
        name: "patch-forbidden",
        rules: &["patch-forbidden", "patch-forbidden-code"],
        needs: Needs::Writes,
        description: "Read-only and PATCH-forbidden fields are rejected with 262196 and their target.",
        applies: Applies::Rule {
            rule: "patch-forbidden",
            query: None,
            otherwise: "judged on instance paths",
        },
        run: Some(check_fn!(write::patch_forbidden)),
    },
    Check {
        name: "patch-invalid",
        rules: &[
            "patch-invalid",
            "patch-invalid-code",
            "unknown-body-field",
            "bad-input-status",
        ],
        needs: Needs::Writes,
        description: "Generated invalid values, unknown fields and malformed bodies are rejected with 400.",
        applies: Applies::Rule {
            rule: "patch-invalid",
            query: None,
            otherwise: "judged on instance paths",
        },
        run: Some(check_fn!(write::patch_invalid)),
    },
    Check {
        name: "patch-atomic",
        rules: &["patch-atomic"],
        needs: Needs::Writes,
        description: "A PATCH rejected for one field changes nothing.",
        applies: Applies::Rule {
            rule: "patch-atomic",
            query: None,
            otherwise: "judged on instance paths",
        },
        run: Some(check_fn!(write::patch_atomic)),
    },
    Check {
        name: "collection-patch",
        rules: &["collection-patch"],
        needs: Needs::Writes,
        description: "A collection PATCH with filters changes exactly the matching records and reports num_records.",
        applies: Applies::Rule {
            rule: "collection-patch",
            query: None,
            otherwise: "no PATCH on the collection",
        },
        run: Some(check_fn!(write::collection_patch)),
    },
    Check {
        name: "create-delete",
        rules: &["create-delete", "unknown-body-field"],
        needs: Needs::Writes,
        description: "POST answers 201 with Location and is readable; DELETE then GET answers 404 code 4 (destructive).",
        applies: Applies::Rule {
            rule: "create-delete",
            query: None,
            otherwise: "no POST on this path",
        },
        run: Some(check_fn!(write::create_delete)),
    },
    Check {
        name: "version-gate",
        rules: &["version-gate"],
        needs: Needs::Reads,
        description: "Endpoints newer than the target's version answer 404.",
        applies: Applies::Unavailable,
        run: Some(check_fn!(read::version_gate)),
    },
];

pub fn info(name: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.name == name)
}

/// The answers a rule of the contract accepts (its `expect`): the numbers a check compares with
/// come from here, never from literals in the check. Empty when the contract gives none.
pub fn expected<'s>(spec: &'s Spec, rule: &str) -> &'s [Answer] {
    spec.convention(rule).map_or(&[], |r| r.expect.as_slice())
}

/// Whether an answer is one a rule accepts (any of its `expect` alternatives). A rule without
/// `expect` accepts nothing, so a contract that forgot it shows up as a finding, never as a pass.
pub fn answers(spec: &Spec, rule: &str, r: &Response) -> bool {
    let code = r.error_code();
    expected(spec, rule)
        .iter()
        .any(|a| a.matches(r.status, code.as_deref(), r.error_target()))
}

/// What a rule expects, for messages: `403, or 400 with error code 6`.
pub fn describe(spec: &Spec, rule: &str) -> String {
    let alts: Vec<String> = expected(spec, rule).iter().map(Answer::to_string).collect();
    if alts.is_empty() {
        format!("the answer rule {rule} describes")
    } else {
        alts.join(", or ")
    }
}

/// The one error code a rule expects (`262197`), when it names one.
pub fn expected_code(spec: &Spec, rule: &str) -> Option<String> {
    expected(spec, rule).iter().find_map(|a| a.code.clone())
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
            match c.needs {
                Needs::Writes => "yes",
                Needs::Probes => "probes",
                Needs::Reads => "no",
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

    /// Every rule whose numbers a check reads carries them in the built-in contract.
    #[test]
    fn the_rules_checks_compare_with_carry_their_answers() {
        let spec = Spec::load(None).unwrap();
        for rule in [
            "not-found-code",
            "not-found-status",
            "method-not-allowed",
            "auth-required",
            "role-denied",
            "fields-unknown",
            "parameter-range",
            "unknown-parameter",
            "patch-forbidden",
            "patch-forbidden-code",
            "patch-invalid",
            "patch-invalid-code",
            "bad-input-status",
            "version-gate",
        ] {
            assert!(!expected(spec, rule).is_empty(), "{rule} has no expect");
        }
        assert_eq!(
            describe(spec, "role-denied"),
            "403, or 400 with error code 6"
        );
        assert_eq!(
            describe(spec, "fields-unknown"),
            "400 with error code 262197 and target fields"
        );
        assert_eq!(
            describe(spec, "no-such-rule"),
            "the answer rule no-such-rule describes"
        );
    }

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
            let writes = row[at..].split_whitespace().next().unwrap();
            assert!(matches!(writes, "yes" | "no" | "probes"), "{row}");
        }
        assert!(text.contains("paging              doc/lib "), "{text}");
    }
}
