//! What the report says the run exercised: per family, the sample of records the per-record
//! checks touched, the fields round-tripped, the error codes provoked, and why the rest was not.

use crate::checks::{self, ctx::Ctx};
use crate::spec::Endpoint;
use crate::spec::model::{Kind, Method};

/// What the report says about the sample: per family, the records found and those sampled.
pub(super) fn sampling_of(ctx: &Ctx) -> crate::report::Sampling {
    let families = ctx
        .records
        .iter()
        .map(|(family, records)| {
            let ep = ctx.spec.endpoints.iter().find(|e| &e.family == family);
            let sampled = ctx
                .sampled
                .get(family)
                .map(|v| {
                    v.iter()
                        .map(|r| ep.map_or_else(String::new, |e| checks::read::identity(e, ctx, r)))
                        .collect()
                })
                .unwrap_or_default();
            crate::report::SampledFamily {
                family: family.clone(),
                records: records.len(),
                sampled,
            }
        })
        .collect();
    crate::report::Sampling {
        per_family: ctx.settings.sample,
        families,
    }
}

/// What the run exercised of each selected family, and why the rest was not.
pub(super) fn coverage(
    ctx: &Ctx,
    endpoints: &[&'static Endpoint],
) -> Vec<crate::verdict::Coverage> {
    use crate::spec::model::Condition;
    let mut families: Vec<&str> = endpoints.iter().map(|e| e.family.as_str()).collect();
    families.dedup();
    let mut out = Vec::new();
    for family in families {
        let eps: Vec<&Endpoint> = endpoints
            .iter()
            .copied()
            .filter(|e| e.family == family)
            .collect();
        let done = ctx.findings.exercised_of(family);
        let has = |w: &str| done.iter().any(|d| d == w);
        let res = ctx.spec.resource_of(eps[0]);
        let record_patch = eps.iter().any(|e| {
            matches!(e.kind(), Kind::Instance | Kind::Singleton)
                && e.has(Method::PATCH)
                && e.available_in(ctx.version)
        });
        let records = ctx.records.get(family);
        let mut c = crate::verdict::Coverage {
            family: family.to_string(),
            ..Default::default()
        };
        for f in res.patchable() {
            if has(&format!("field:{}", f.path)) {
                c.round_tripped.push(f.path.clone());
                continue;
            }
            let why = if has(&format!("unread:{}", f.path)) {
                "its record's GET ?fields=** did not return it: never written without its original"
            } else if !ctx.may_write() {
                "--read-only"
            } else if !record_patch {
                "no PATCH on a record path of this family in this run"
            } else if f.flags.lockout && !ctx.may_destroy() {
                "a lock-out field: only with --allow-destructive"
            } else if f.flags.write_only && !ctx.may_destroy() {
                "write-only: it cannot be read back to be restored; only with --allow-destructive"
            } else if !f.flags.empty_unsets
                && !records.is_some_and(|rs| {
                    rs.iter()
                        .any(|r| crate::spec::resource::get_path(&r, &f.path).is_some())
                })
            {
                "no record has a value to put back afterwards"
            } else {
                "see the patch-roundtrip skips"
            };
            c.not_round_tripped.insert(f.path.clone(), why.to_string());
        }
        let mut codes: Vec<(&str, Option<Condition>)> = Vec::new();
        for e in &eps {
            for def in e.def.methods.values() {
                for err in &def.errors {
                    if !codes.iter().any(|(c, _)| *c == err.code) {
                        codes.push((err.code.as_str(), err.condition));
                    }
                }
            }
        }
        for (code, cond) in codes {
            if has(&format!("code:{code}")) {
                c.error_codes.push(code.to_string());
                continue;
            }
            let why = match cond {
                _ if !ctx.may_write() => "--read-only",
                Some(Condition::RoleDenied) if !ctx.client.has_svm_user() => {
                    "needs an SVM administrator (--svm-user)"
                }
                Some(Condition::Duplicate) if !ctx.may_destroy() => {
                    "needs a POST: --allow-destructive"
                }
                None => "no condition the harness can arrange is documented for it",
                _ => "see the error-code skips",
            };
            c.error_codes_not_provoked
                .insert(code.to_string(), why.to_string());
        }
        for d in &done {
            if let Some(name) = d.strip_prefix("reading:") {
                c.filter_readings_separated.push(name.to_string());
            }
        }
        for d in &done {
            if let Some((name, why)) = d
                .strip_prefix("reading-not:")
                .and_then(|r| r.split_once(':'))
                && !c.filter_readings_separated.iter().any(|n| n == name)
            {
                c.filter_readings_not_separated
                    .entry(name.to_string())
                    .or_insert_with(|| why.to_string());
            }
        }
        for d in &done {
            if let Some(rule) = d.strip_prefix("case:")
                && !c.cases_reached.iter().any(|n| n == rule)
            {
                c.cases_reached.push(rule.to_string());
            }
        }
        for d in &done {
            if let Some((rule, why)) = d.strip_prefix("case-not:").and_then(|r| r.split_once(':'))
                && !c.cases_reached.iter().any(|n| n == rule)
            {
                c.cases_not_reached
                    .entry(rule.to_string())
                    .or_insert_with(|| why.to_string());
            }
        }
        for m in ["PATCH", "POST"] {
            if has(&format!("unknown:{m}")) {
                c.unknown_fields_sent.push(m.to_string());
            }
        }
        out.push(c);
    }
    out
}
