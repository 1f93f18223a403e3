//! Rule coverage, as data: every rule the contract states (the shared conventions, the field flags
//! its schemas use, the endpoint catalog's own rules and documented error codes), each with its
//! stable id, the checks that judge it, the mock faults that break it, the legal variants it must
//! stay clean under, and, where no check judges it, why. `run --list-rules` prints it;
//! `docs/rules.md` is generated from it (a test keeps the two equal); tests prove each fault is
//! caught by a finding of a rule it names and each variant passes.

use super::CHECKS;
use crate::spec::Spec;
use crate::spec::model::Evidence;
use std::collections::BTreeMap;

/// The test that shows every fault below caught by a finding of one of its rules.
pub const FAULT_TEST: &str = "tests/engine.rs every_fault_is_caught_by_its_check";
/// The test that shows every variant below passing.
pub const VARIANT_TEST: &str = "tests/engine.rs no_freedom_of_a_conformant_ontap_fails_a_run";

/// Each fault switch of the mock (`mock --list-faults`) and the rules it breaks.
pub const FAULTS: &[(&str, &[&str])] = &[
    ("wrong-type", &["response-schema"]),
    ("missing-key", &["response-schema"]),
    ("leak-secret", &["write-only-secret"]),
    ("fields-ignored", &["fields-subset"]),
    ("fields-extra", &["fields-subset"]),
    ("filter-ignored", &["query-filter"]),
    ("filter-negated", &["query-filter"]),
    ("max-records-ignored", &["paging-max-records"]),
    ("paging-skip", &["paging-next"]),
    ("paging-repeat", &["paging-next"]),
    ("next-placeholder", &["paging-next"]),
    ("next-drops-query", &["paging-next-query"]),
    ("num-records-wrong", &["num-records", "return-records"]),
    ("order-ignored", &["order-by"]),
    ("order-reversed", &["order-by"]),
    ("order-by-second-key-ignored", &["order-by-keys"]),
    (
        "patch-read-only-accepted",
        &["read-only", "patch-forbidden"],
    ),
    ("patch-owner-accepted", &["patch-forbidden"]),
    ("range-unchecked", &["patch-invalid"]),
    ("patch-partial", &["patch-atomic"]),
    ("crlf-kept", &["crlf-normalised"]),
    ("patch-not-stored", &["patch-roundtrip"]),
    ("error-code-number", &["error-envelope"]),
    ("error-message-missing", &["error-envelope"]),
    ("not-found-wrong-code", &["not-found-code", "error-4"]),
    ("bad-input-500", &["bad-input-status"]),
    ("unknown-param-ignored", &["unknown-parameter"]),
    ("admin-only-unenforced", &["admin-only", "error-144834564"]),
    ("auth-unenforced", &["auth-required"]),
    ("svm-sees-all", &["role-visibility"]),
    ("svm-writes-all", &["role-write-scope"]),
    ("method-not-allowed-accepted", &["method-not-allowed"]),
    ("version-gate-ignored", &["version-gate"]),
    ("unknown-body-field-ignored", &["unknown-body-field"]),
    ("collection-write-filter-ignored", &["collection-patch"]),
    ("head-options-refused", &["head-options"]),
    ("unconfigured-as-not-found", &["error-144834566"]),
    ("filter-bound-inclusive", &["query-filter"]),
    ("filter-bound-exclusive", &["query-filter"]),
    ("filter-range-exclusive", &["query-filter"]),
    ("filter-wildcard-substring", &["query-filter"]),
    ("filter-case-insensitive", &["query-filter"]),
    ("filter-not-unset", &["query-filter"]),
    ("filter-not-or-grouped", &["query-filter"]),
    ("filter-or-first", &["query-filter"]),
    ("filter-quoted-glob", &["query-filter"]),
    ("filter-null-literal", &["query-filter"]),
];

/// Each variant switch of the mock (`mock --list-variants`, a freedom of a conformant ONTAP) and
/// the rules whose judging it must not trip.
pub const VARIANTS: &[(&str, &[&str])] = &[
    ("permission-400", &["role-denied"]),
    ("no-error-target", &["error-envelope"]),
    ("collection-all-fields", &["collection-default-fields"]),
    ("opaque-next", &["paging-next", "paging-next-query"]),
    ("newer-field", &["unknown-response-field", "fields-star"]),
    ("unset-first", &["order-by", "order-by-keys"]),
    ("unset-last", &["order-by", "order-by-keys"]),
    ("duplicate-400", &["error-1", "create-delete"]),
    ("costly-field", &["fields-star", "fields-star-star"]),
    (
        "time-limited-pages",
        &["paging-next", "paging-next-query", "num-records"],
    ),
    ("time-limited-counts", &["return-records", "paging-next"]),
    ("lf-at-limit", &["trailing-lf", "response-schema"]),
    ("no-trailing-lf", &["trailing-lf", "patch-roundtrip"]),
    ("trailing-lf", &["trailing-lf", "patch-roundtrip"]),
];

/// The field flags (`x-ontap-<flag>` in the schemas) that state a rule of the target, and the
/// checks that judge them. The other flags steer the harness (`lockout`: a field a PATCH could
/// lock people out with; `patch-untested`: leave it out of PATCHes) and state nothing to judge.
const FLAG_RULES: &[(&str, &[&str], &str)] = &[
    (
        "read-only",
        &["patch-forbidden"],
        "a read-only field in a PATCH body is refused",
    ),
    (
        "patch-forbidden",
        &["patch-forbidden"],
        "a field that cannot be set in a PATCH is refused",
    ),
    (
        "write-only",
        &["write-only-secret"],
        "a write-only field is never returned by a GET",
    ),
    (
        "post-response-only",
        &["write-only-secret"],
        "a field only the POST answer carries is never returned by a GET",
    ),
    (
        "admin-only",
        &["role-restrictions"],
        "only the cluster administrator may change the field",
    ),
    (
        "crlf-normalised",
        &["patch-roundtrip"],
        "line ends are supplied as LF or CRLF and always returned as LF",
    ),
    (
        "empty-unsets",
        &["patch-roundtrip"],
        "setting \"\" restores the default: afterwards the field reads absent or \"\"",
    ),
    (
        "trailing-lf",
        &["patch-roundtrip", "response-schema"],
        "ONTAP may append a trailing LF to a non-empty value; both readings are conformant",
    ),
    (
        "post-forbidden",
        &["create-delete"],
        "the field is not postable",
    ),
    (
        "expensive",
        &["field-selection"],
        "a costly field comes only when fields=** or its name asks for it",
    ),
];

/// The endpoint catalog's own rules and the checks that judge them.
const ENDPOINT_RULE_CHECKS: &[(&str, &[&str])] = &[
    ("login-messages-no-create", &["method-not-allowed"]),
    ("login-messages-svm-default", &["patch-roundtrip"]),
    ("duo-post-location", &["create-delete"]),
    ("duo-patch-empty-body", &["response-schema"]),
    ("totp-post-secrets-once", &["write-only-secret"]),
];

/// Rules no check judges, and why.
pub const UNCOVERED: &[(&str, &str)] = &[
    (
        "login-messages-one-per-scope",
        "a fact of the target's data (one record per SVM), not of its answers; the role checks rely on it",
    ),
    (
        "duo-owner-is-svm-or-cluster",
        "where an owner uuid comes from; the create-delete check takes it from GET /api/svm/svms",
    ),
    (
        "totp-account-name-untested",
        "an instruction to the harness (leave account.name out of PATCHes), not a rule of the target",
    ),
];

/// Covered rules no fault of the mock breaks, and why.
pub const NO_FAULT: &[(&str, &str)] = &[
    (
        "unknown-response-field",
        "obs; the newer-field variant shows it warns",
    ),
    (
        "status-code",
        "every fault that answers another status is caught by it as well as its own check",
    ),
    (
        "not-found-status",
        "obs; a 404 in another status is caught with not-found-code",
    ),
    (
        "role-visibility",
        "obs; the mock's records are scoped by SVM in one place, which admin-only-unenforced does not touch",
    ),
    (
        "role-denied",
        "obs; admin-only-unenforced shows the refusal missing (admin-only)",
    ),
    (
        "fields-star",
        "lib; leak-secret also breaks it, but is filed under write-only-secret",
    ),
    (
        "fields-star-star",
        "lib; missing-key breaks it along with response-schema",
    ),
    ("fields-unknown", "obs"),
    (
        "collection-default-fields",
        "obs; a freedom (the collection-all-fields variant)",
    ),
    ("parameter-type", "obs"),
    ("parameter-range", "doc; not yet broken by a fault"),
    ("patch-forbidden-code", "obs"),
    ("patch-invalid-code", "obs"),
    (
        "create-delete",
        "lib; unknown-body-field-ignored and not-found-wrong-code are caught by it too",
    ),
    (
        "write-only",
        "lib; leak-secret breaks the write-only secret_key (filed under write-only-secret)",
    ),
    (
        "post-response-only",
        "lib; leak-secret breaks TOTP's one-time secrets (filed under write-only-secret)",
    ),
    ("empty-unsets", "obs/doc; not yet broken by a fault"),
    (
        "trailing-lf",
        "a freedom, shown by the trailing-lf and no-trailing-lf variants",
    ),
    ("post-forbidden", "lib; not yet broken by a fault"),
    (
        "login-messages-no-create",
        "lib; method-not-allowed-accepted breaks it with every other method",
    ),
    (
        "login-messages-svm-default",
        "doc; not yet broken by a fault",
    ),
    ("duo-post-location", "lib; not yet broken by a fault"),
    ("duo-patch-empty-body", "doc; not yet broken by a fault"),
    (
        "totp-post-secrets-once",
        "lib; leak-secret breaks it (filed under write-only-secret)",
    ),
    (
        "error-1",
        "obs; a duplicate POST answered with another code",
    ),
    ("error-144834565", "doc; not yet broken by a fault"),
];

/// One rule of the table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuleRow {
    pub id: String,
    /// conventions, flag, endpoint or error.
    pub kind: &'static str,
    pub evidence: Evidence,
    /// Where it is stated: the families (or "all").
    pub scope: String,
    pub text: String,
    pub checks: Vec<&'static str>,
    pub faults: Vec<&'static str>,
    pub variants: Vec<&'static str>,
    /// Why no check judges it (then `checks` is empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncovered: Option<&'static str>,
    /// Why no fault breaks it, for a covered rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_fault: Option<&'static str>,
}

/// Whether a field carries the flag `x-ontap-<name>`.
fn flag_on(f: &crate::spec::resource::Flags, name: &str) -> bool {
    match name {
        "read-only" => f.read_only,
        "patch-forbidden" => f.patch_forbidden,
        "write-only" => f.write_only,
        "post-response-only" => f.post_response_only,
        "admin-only" => f.admin_only,
        "crlf-normalised" => f.crlf_normalised,
        "empty-unsets" => f.empty_unsets,
        "trailing-lf" => f.trailing_lf,
        "post-forbidden" => f.post_forbidden,
        "expensive" => f.expensive,
        _ => false,
    }
}

fn named<'a>(table: &'a [(&'a str, &'a [&'a str])], rule: &str) -> Vec<&'a str> {
    table
        .iter()
        .filter(|(_, rules)| rules.contains(&rule))
        .map(|(name, _)| *name)
        .collect()
}

fn lookup(table: &[(&str, &'static str)], rule: &str) -> Option<&'static str> {
    table.iter().find(|(r, _)| *r == rule).map(|(_, why)| *why)
}

/// Every rule the contract states, in a stable order: conventions, field flags, endpoint rules,
/// error codes.
pub fn table(spec: &Spec) -> Vec<RuleRow> {
    let mut rows = Vec::new();
    let mut row =
        |id: String, kind, evidence, scope: String, text: String, checks: Vec<&'static str>| {
            let uncovered = checks.is_empty().then(|| lookup(UNCOVERED, &id)).flatten();
            rows.push(RuleRow {
                faults: named(FAULTS, &id),
                variants: named(VARIANTS, &id),
                no_fault: lookup(NO_FAULT, &id),
                id,
                kind,
                evidence,
                scope,
                text,
                checks,
                uncovered,
            });
        };
    for r in &spec.conventions {
        let checks = CHECKS
            .iter()
            .filter(|c| c.rules.contains(&r.id.as_str()))
            .map(|c| c.name)
            .collect();
        row(
            r.id.clone(),
            "conventions",
            r.evidence,
            "all".into(),
            r.text.clone(),
            checks,
        );
    }
    // Field flags: the strongest evidence any field gives the flag, and the families using it.
    let mut flags: BTreeMap<&str, (Evidence, Vec<String>)> = BTreeMap::new();
    for (family, res) in &spec.resources {
        for f in &res.fields {
            for (flag, _, _) in FLAG_RULES {
                if flag_on(&f.flags, flag) {
                    let ev = f.evidence_of(&format!("x-ontap-{flag}"));
                    let e = flags.entry(flag).or_insert((ev, Vec::new()));
                    e.0 = e.0.min(ev);
                    if !e.1.contains(family) {
                        e.1.push(family.clone());
                    }
                }
            }
        }
    }
    for (flag, checks, text) in FLAG_RULES {
        if let Some((ev, families)) = flags.get(flag) {
            row(
                flag.to_string(),
                "flag",
                *ev,
                families.join(", "),
                text.to_string(),
                checks.to_vec(),
            );
        }
    }
    let mut errors: BTreeMap<String, (Evidence, Vec<String>, String)> = BTreeMap::new();
    for ep in &spec.endpoints {
        for r in &ep.def.rules {
            let checks = ENDPOINT_RULE_CHECKS
                .iter()
                .find(|(id, _)| *id == r.id)
                .map(|(_, c)| c.to_vec())
                .unwrap_or_default();
            row(
                r.id.clone(),
                "endpoint",
                r.evidence,
                ep.family.clone(),
                r.text.clone(),
                checks,
            );
        }
        for (m, def) in &ep.def.methods {
            for e in &def.errors {
                let entry = errors.entry(format!("error-{}", e.code)).or_insert((
                    e.evidence,
                    Vec::new(),
                    e.when.clone(),
                ));
                entry.0 = entry.0.min(e.evidence);
                let at = format!("{} {m}", ep.family);
                if !entry.1.contains(&at) {
                    entry.1.push(at);
                }
            }
        }
    }
    for (id, (ev, at, when)) in errors {
        row(id, "error", ev, at.join(", "), when, vec!["error-code"]);
    }
    merge_same_ids(rows)
}

/// A field flag named like a convention (`patch-forbidden`) is the same rule, stated for some
/// fields: one row, with the stronger evidence and both scopes.
fn merge_same_ids(rows: Vec<RuleRow>) -> Vec<RuleRow> {
    let mut out: Vec<RuleRow> = Vec::new();
    for r in rows {
        match out.iter_mut().find(|o| o.id == r.id) {
            Some(o) => {
                o.evidence = o.evidence.min(r.evidence);
                o.scope = format!("{}; as a field flag: {}", o.scope, r.scope);
                for c in r.checks {
                    if !o.checks.contains(&c) {
                        o.checks.push(c);
                    }
                }
            }
            None => out.push(r),
        }
    }
    out
}

/// The totals: rules, covered, uncovered.
pub fn totals(rows: &[RuleRow]) -> (usize, usize, usize) {
    let covered = rows.iter().filter(|r| !r.checks.is_empty()).count();
    (rows.len(), covered, rows.len() - covered)
}

/// The `--list-rules` table.
pub fn render_text(rows: &[RuleRow]) -> String {
    let mut out = format!(
        "{:<30} {:<4} {:<23} {:<32} {}\n",
        "RULE", "EV", "CHECKS", "FAULTS", "VARIANTS"
    );
    let dash = |v: &[&str]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(",")
        }
    };
    for r in rows {
        out.push_str(&format!(
            "{:<30} {:<4} {:<23} {:<32} {}\n",
            r.id,
            r.evidence.to_string(),
            if r.checks.is_empty() {
                "UNCOVERED".to_string()
            } else {
                dash(&r.checks)
            },
            dash(&r.faults),
            dash(&r.variants)
        ));
    }
    let (n, covered, uncovered) = totals(rows);
    out.push_str(&format!(
        "\n{n} rules: {covered} judged by a check, {uncovered} uncovered; {} broken by a mock fault ({FAULT_TEST}), {} shown legal under a variant ({VARIANT_TEST}).\n",
        rows.iter().filter(|r| !r.faults.is_empty()).count(),
        rows.iter().filter(|r| !r.variants.is_empty()).count(),
    ));
    for r in rows.iter().filter(|r| r.checks.is_empty()) {
        out.push_str(&format!(
            "  uncovered {}: {}\n",
            r.id,
            r.uncovered.unwrap_or("no reason given")
        ));
    }
    out
}

/// `docs/rules.md`'s table.
pub fn render_markdown(rows: &[RuleRow]) -> String {
    let mut out = String::from(
        "| rule | kind | evidence | stated for | checks | faults that break it | legal variants | note |\n|---|---|---|---|---|---|---|---|\n",
    );
    let code = |v: &[&str]| {
        if v.is_empty() {
            "—".to_string()
        } else {
            v.iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    for r in rows {
        let note = match (r.uncovered, r.no_fault) {
            (Some(why), _) => format!("**uncovered**: {why}"),
            (None, Some(why)) if r.faults.is_empty() => format!("no fault: {why}"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
            r.id,
            r.kind,
            r.evidence,
            r.scope,
            code(&r.checks),
            code(&r.faults),
            code(&r.variants),
            note.replace('|', "\\|")
        ));
    }
    let (n, covered, uncovered) = totals(rows);
    out.push_str(&format!(
        "\n{n} rules: {covered} judged by a check, {uncovered} uncovered; {} broken by a mock fault, {} shown legal under a variant.\n",
        rows.iter().filter(|r| !r.faults.is_empty()).count(),
        rows.iter().filter(|r| !r.variants.is_empty()).count(),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{Fault, Variant};

    fn rows() -> Vec<RuleRow> {
        table(Spec::builtin())
    }

    #[test]
    fn every_rule_has_one_row_and_every_uncovered_rule_a_reason() {
        let rows = rows();
        let mut ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "ids are unique");
        for r in &rows {
            assert_eq!(
                r.checks.is_empty(),
                r.uncovered.is_some(),
                "{}: a rule without a check needs a reason in UNCOVERED, and only then",
                r.id
            );
            if !r.checks.is_empty() && r.faults.is_empty() && r.variants.is_empty() {
                assert!(
                    r.no_fault.is_some(),
                    "{}: a judged rule no fault breaks needs a reason in NO_FAULT",
                    r.id
                );
            }
            for c in &r.checks {
                assert!(super::super::info(c).is_some(), "{}: no check {c}", r.id);
            }
        }
        for (rule, _) in UNCOVERED.iter().chain(NO_FAULT) {
            assert!(ids.contains(rule), "{rule} is no rule of the contract");
        }
        for (_, rules) in FAULTS.iter().chain(VARIANTS).chain(ENDPOINT_RULE_CHECKS) {
            for rule in *rules {
                assert!(
                    ids.contains(rule) || super::super::info(rule).is_some(),
                    "{rule} is no rule of the contract"
                );
            }
        }
    }

    #[test]
    fn every_fault_and_variant_of_the_mock_is_in_the_table() {
        let mut faults: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
        let mut rows: Vec<&str> = FAULTS.iter().map(|r| r.0).collect();
        faults.sort();
        rows.sort();
        assert_eq!(rows, faults);
        let mut variants: Vec<&str> = Variant::ALL.iter().map(|v| v.name()).collect();
        let mut rows: Vec<&str> = VARIANTS.iter().map(|r| r.0).collect();
        variants.sort();
        rows.sort();
        assert_eq!(rows, variants);
    }

    #[test]
    fn a_rule_that_loses_its_check_is_uncovered() {
        let rows = rows();
        let judged: Vec<&str> = rows
            .iter()
            .filter(|r| !r.checks.is_empty())
            .map(|r| r.id.as_str())
            .collect();
        // Every convention is judged by a check of the registry.
        for c in &Spec::builtin().conventions {
            assert!(judged.contains(&c.id.as_str()), "{} lost its check", c.id);
        }
        let (n, covered, uncovered) = totals(&rows);
        assert_eq!(n, covered + uncovered);
        assert_eq!(uncovered, UNCOVERED.len());
    }
}
