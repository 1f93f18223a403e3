//! Checks that change records: PATCH round trips, forbidden and invalid fields, atomicity,
//! collection PATCH, create/delete and the documented error codes. Each saves a record before its
//! first change ([`Ctx::protect`]); the run restores and verifies every saved record afterwards,
//! also when a check fails midway or the run is interrupted.

use crate::checks::access::TUNNEL_KEEPS_ROLE;
use crate::checks::ctx::{Ctx, Expect};
use crate::checks::judge::{self, expected_after_patch, meets};
use crate::checks::property::{Case, Failure, Property, property, send_ok};
use crate::checks::read::{baseline, identity};
use crate::checks::{self};
use crate::client::with_query;
use crate::client::{Auth, Exchange, Request};
use crate::generate;
use crate::spec::Endpoint;
use crate::spec::model::{Condition, Kind, Method};
use crate::spec::resource::{Field, get_path, set_path};
use crate::undo;
use proptest::strategy::{Strategy, ValueTree};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// Builds a JSON object from dotted fields.
pub fn body_of(pairs: &[(String, Value)]) -> Value {
    let mut m = Map::new();
    for (p, v) in pairs {
        set_path(&mut m, p, v.clone());
    }
    Value::Object(m)
}

/// Why a check did not change a record it could not write down first.
pub fn unprotected(ctx: &Ctx) -> &'static str {
    if ctx.stop.requested() {
        crate::checks::findings::NOT_RUN
    } else {
        "the record could not be read before changing it"
    }
}

/// Splits fields into those whose original the record's read returned and the others: a field
/// is never written unless its original was read (a target that leaves it out of `fields=**`
/// could not have it put back). Write-only fields are never returned; they are kept.
fn read_first(fields: Vec<Field>, original: &Value) -> (Vec<Field>, Vec<String>) {
    let (known, unread): (Vec<Field>, Vec<Field>) = fields
        .into_iter()
        .partition(|f| f.flags.write_only || get_path(original, &f.path).is_some());
    (known, unread.into_iter().map(|f| f.path).collect())
}

/// Why fields were not written: their original was not read.
fn unread_reason(unread: &[String]) -> String {
    format!(
        "the record's GET ?fields=** did not return {}: a field whose original was not read is never written",
        unread.join(", ")
    )
}

/// Fields a check may change on a record in this run's mode: patchable, and restorable unless the
/// run may be destructive (lock-out fields and write-only secrets only then).
pub fn changeable<'a>(ctx: &Ctx, ep: &'a Endpoint, record: &Value) -> Vec<&'a Field> {
    let res = ctx.spec.resource_of(ep);
    res.patchable()
        .filter(|f| !f.flags.lockout || ctx.may_destroy())
        .filter(|f| {
            if f.flags.write_only {
                ctx.may_destroy()
            } else {
                // Never a field whose original the record does not show: it could not be put
                // back (an unset field included: a target may just leave it out).
                get_path(record, &f.path).is_some()
            }
        })
        .collect()
}

/// A valid value for a field that differs from `current`, drawn deterministically.
pub fn different_value(ctx: &Ctx, f: &Field, current: Option<&Value>, salt: &str) -> Option<Value> {
    let mut runner = generate::runner(ctx.settings.seed, &format!("different {salt} {}", f.path));
    let strat = generate::valid_value(f);
    (0..64)
        .filter_map(|_| strat.new_tree(&mut runner).ok())
        .map(|t| t.current())
        .find(|v| Some(v) != current && f.accepts(v))
}

/// Why a write check has no record to change (the pair is skipped with this reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum NoRecord {
    /// The path lacks a PATCH or a GET.
    #[error("no PATCH and GET on this path")]
    NoPatchAndGet,
    /// The run read no record of it.
    #[error("no record to change")]
    NoneRead,
    /// The record chosen does not show every key of its instance path.
    #[error("{check}: a record lacks its keys")]
    KeysMissing { check: &'static str },
}

/// The instance endpoint of a family and a record it can change, or why not.
fn target_record<'a>(
    ctx: &'a Ctx,
    ep: &'a Endpoint,
    check: &'static str,
) -> Result<(&'a Endpoint, &'a Value, String), NoRecord> {
    if !ep.has(Method::PATCH) || !ep.has(Method::GET) {
        return Err(NoRecord::NoPatchAndGet);
    }
    let base = crate::checks::read::sampled(ctx, ep);
    let rec = base
        .iter()
        .max_by_key(|r| changeable(ctx, ep, r).len())
        .ok_or(NoRecord::NoneRead)?;
    let path = undo::instance_path(ep, rec).ok_or(NoRecord::KeysMissing { check })?;
    Ok((ep, rec, path))
}

async fn read_back(ctx: &Ctx, check: &str, ep: &Endpoint, path: &str) -> Option<(Value, Exchange)> {
    let x = ctx
        .send(check, ep, Request::get(format!("{path}?fields=**")))
        .await?;
    let v = x
        .response
        .json
        .as_deref()
        .cloned()
        .filter(|_| x.response.is_success())?;
    Some((v, x))
}

pub async fn patch_roundtrip(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "patch-roundtrip";
    let (ep, rec, path) = match target_record(ctx, ep, C) {
        Ok(t) => t,
        Err(why) => return ctx.findings.skip(C, ep, why.to_string()),
    };
    let fields: Vec<Field> = changeable(ctx, ep, rec).into_iter().cloned().collect();
    if fields.is_empty() {
        return ctx.findings.skip(
            C,
            ep,
            "no field this mode may change (see --allow-destructive)",
        );
    }
    let Some(guard) = ctx.protect(C, ep, &path).await else {
        return ctx.findings.skip(C, ep, unprotected(ctx));
    };
    let (fields, unread) = read_first(fields, guard.original());
    for f in &unread {
        ctx.findings.exercised(&ep.family, format!("unread:{f}"));
    }
    if fields.is_empty() {
        return ctx.findings.skip(C, ep, unread_reason(&unread));
    }
    roundtrip_property(ctx, ep, &path, &fields, ctx.settings.cases).await;
    // Every patchable field at least once: a field the chosen record cannot take (no value to
    // put back) is round-tripped on another record that can, as many records as needed.
    let mut missing: Vec<Field> = Vec::new();
    // The most any record can offer: once every one of these is taken or found missing, the
    // rest of a large family need not be parsed.
    let offered = ctx
        .spec
        .resource_of(ep)
        .patchable()
        .filter(|f| !f.flags.lockout || ctx.may_destroy())
        .filter(|f| !f.flags.write_only || ctx.may_destroy())
        .filter(|f| !fields.iter().any(|g| g.path == f.path))
        .count();
    for r in baseline(ctx, ep).iter() {
        if missing.len() == offered {
            break;
        }
        for f in changeable(ctx, ep, &r) {
            if !fields.iter().any(|g| g.path == f.path) && !missing.iter().any(|g| g.path == f.path)
            {
                missing.push(f.clone());
            }
        }
    }
    while !missing.is_empty() {
        let Some(other) = baseline(ctx, ep).iter().max_by_key(|r| {
            changeable(ctx, ep, r)
                .iter()
                .filter(|f| missing.iter().any(|m| m.path == f.path))
                .count()
        }) else {
            break;
        };
        let these: Vec<Field> = changeable(ctx, ep, &other)
            .into_iter()
            .filter(|f| missing.iter().any(|m| m.path == f.path))
            .cloned()
            .collect();
        if these.is_empty() {
            break;
        }
        missing.retain(|m| !these.iter().any(|f| f.path == m.path));
        let Some(p) = undo::instance_path(ep, &other) else {
            continue;
        };
        let Some(guard) = ctx.protect(C, ep, &p).await else {
            continue;
        };
        let (these, unread) = read_first(these, guard.original());
        for f in &unread {
            ctx.findings.exercised(&ep.family, format!("unread:{f}"));
        }
        if these.is_empty() {
            continue;
        }
        roundtrip_property(ctx, ep, &p, &these, ctx.settings.cases.min(4)).await;
    }
}

/// PATCHes generated valid values of `fields` to the record at `path` and reads each back.
async fn roundtrip_property(ctx: &Ctx, ep: &Endpoint, path: &str, fields: &[Field], cases: u32) {
    const C: &str = "patch-roundtrip";
    let path = &path.to_string();
    let fields = &fields.to_vec();
    property(
        ctx,
        Property {
            check: C,
            ep,
            method: "PATCH",
            cases,
            concurrent: false,
        },
        generate::patch_body(fields.clone()),
        |pairs: Vec<(String, Value)>| async move {
            let body = body_of(&pairs);
            let req = Request::new("PATCH", path.clone()).json(body);
            let x = match send_ok(ctx, C, ep, req, "patch-roundtrip", "a valid PATCH").await {
                Ok(x) => x,
                Err(end) => return end,
            };
            let Some((after, gx)) = read_back(ctx, C, ep, path).await else {
                return Case::Skip;
            };
            for (p, _) in &pairs {
                ctx.findings.exercised(&ep.family, format!("field:{p}"));
            }
            for (p, sent) in &pairs {
                let f = fields
                    .iter()
                    .find(|f| &f.path == p)
                    .expect("generated from these fields");
                let want = expected_after_patch(f, sent);
                let got = get_path(&after, p);
                if !meets(&want, got) {
                    let crlf = sent.as_str().is_some_and(|s| s.contains("\r\n"))
                        && got.and_then(Value::as_str) == sent.as_str();
                    let (rule, ev, what) = if crlf {
                        (
                            "crlf-normalised",
                            f.evidence_of("x-ontap-crlf-normalised"),
                            "CRLF came back as CRLF, not LF",
                        )
                    } else if f.flags.write_only {
                        (
                            "write-only-secret",
                            f.evidence_of("x-ontap-write-only"),
                            "a write-only field came back",
                        )
                    } else {
                        (
                            "patch-roundtrip",
                            crate::checks::rule_evidence(ctx.spec, "patch-roundtrip"),
                            "the value was not stored",
                        )
                    };
                    let mut x = x.clone();
                    x.response = gx.response.clone();
                    return Case::Fail(
                        Failure::rule(
                            rule,
                            format!(
                                "{what}: sent {p}={}, read back {}",
                                crate::verdict::show_value(Some(sent)),
                                crate::verdict::show_value(got)
                            ),
                            x,
                            format!("{p} = {want} on a GET afterwards"),
                        )
                        .with_evidence(ev),
                    );
                }
            }
            Case::Pass
        },
    )
    .await;
}

pub async fn patch_forbidden(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "patch-forbidden";
    let (ep, rec, path) = match target_record(ctx, ep, C) {
        Ok(t) => t,
        Err(why) => return ctx.findings.skip(C, ep, why.to_string()),
    };
    let res = ctx.spec.resource_of(ep);
    let fields: Vec<&Field> = res.fields.iter().filter(|f| f.patch_rejected()).collect();
    if fields.is_empty() {
        return ctx
            .findings
            .skip(C, ep, "no read-only or PATCH-forbidden field");
    }
    let Some(_guard) = ctx.protect(C, ep, &path).await else {
        return ctx.findings.skip(C, ep, unprotected(ctx));
    };
    ctx.findings.ran(C, ep);
    for f in fields {
        ctx.findings.count_cases(1);
        // Its current value: even a target that wrongly accepts it changes nothing.
        let Some(value) = get_path(rec, &f.path)
            .cloned()
            .or_else(|| different_value(ctx, f, None, C))
        else {
            continue;
        };
        let body = body_of(&[(f.path.clone(), value)]);
        let Some(x) = ctx
            .send(C, ep, Request::new("PATCH", path.clone()).json(body))
            .await
        else {
            continue;
        };
        let kw = if f.flags.read_only {
            "x-ontap-read-only"
        } else {
            "x-ontap-patch-forbidden"
        };
        let forbidden_code = checks::expected_code(ctx.spec, "patch-forbidden-code");
        let want = format!(
            "{}, error code {}, target {}",
            checks::describe(ctx.spec, "patch-forbidden"),
            forbidden_code.as_deref().unwrap_or("?"),
            f.path
        );
        if !checks::answers(ctx.spec, "patch-forbidden", &x.response) {
            ctx.finding(C, ep, "PATCH", kw.trim_start_matches("x-ontap-"))
                .evidence(f.evidence_of(kw))
                .message(format!(
                    "{} in a PATCH body answered {}",
                    f.path,
                    x.response.summary()
                ))
                .shown_by(Some(&x), &want)
                .record();
        } else if !checks::answers(ctx.spec, "patch-forbidden-code", &x.response)
            || x.response.error_target().is_some_and(|t| t != f.path)
        {
            ctx.finding(C, ep, "PATCH", "patch-forbidden-code")
                .message(format!(
                    "{} was rejected with {} target {:?}",
                    f.path,
                    x.response.summary(),
                    x.response.error_target()
                ))
                .shown_by(Some(&x), &want)
                .record();
        }
    }
}

/// Invalid (field, value, broken keyword) candidates of a record, in this mode.
fn invalid_candidates(ctx: &Ctx, ep: &Endpoint) -> Vec<(Field, Value, &'static str)> {
    ctx.spec
        .resource_of(ep)
        .patchable()
        .filter(|f| !f.flags.lockout || ctx.may_destroy())
        .filter(|f| !f.flags.write_only || ctx.may_destroy())
        .flat_map(|f| {
            generate::invalid_values(f)
                .into_iter()
                .map(move |(v, k)| (f.clone(), v, k))
        })
        .collect()
}

fn keyword_evidence(f: &Field, kw: &str) -> crate::spec::model::Evidence {
    f.evidence_of(kw)
}

pub async fn patch_invalid(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "patch-invalid";
    let (ep, _rec, path) = match target_record(ctx, ep, C) {
        Ok(t) => t,
        Err(why) => return ctx.findings.skip(C, ep, why.to_string()),
    };
    let cands = invalid_candidates(ctx, ep);
    if cands.is_empty() {
        return ctx
            .findings
            .skip(C, ep, "no field this mode may send invalid values to");
    }
    let Some(guard) = ctx.protect(C, ep, &path).await else {
        return ctx.findings.skip(C, ep, unprotected(ctx));
    };
    // A target that wrongly stores an invalid value must be put back: only fields whose
    // original was read.
    let original = guard.original();
    let unread: BTreeSet<String> = cands
        .iter()
        .filter(|(f, _, _)| !f.flags.write_only && get_path(original, &f.path).is_none())
        .map(|(f, _, _)| f.path.clone())
        .collect();
    let cands: Vec<(Field, Value, &'static str)> = cands
        .into_iter()
        .filter(|(f, _, _)| !unread.contains(&f.path))
        .collect();
    if cands.is_empty() {
        let unread: Vec<String> = unread.into_iter().collect();
        return ctx.findings.skip(C, ep, unread_reason(&unread));
    }
    let (path, cands) = (&path, &cands);
    property(
        ctx,
        Property {
            check: C,
            ep,
            method: "PATCH",
            cases: ctx.settings.cases.min(cands.len() as u32 * 2),
            concurrent: false,
        },
        0..cands.len(),
        |i: usize| async move {
            let (f, v, kw) = &cands[i];
            let Some(x) = ctx
                .send(
                    C,
                    ep,
                    Request::new("PATCH", path.clone())
                        .json(body_of(&[(f.path.clone(), v.clone())])),
                )
                .await
            else {
                return Case::Skip;
            };
            let documented =
                ep.documented_error(Method::PATCH, Condition::InvalidValue, Some(&f.path));
            let want_code = documented
                .map(|e| e.code.clone())
                .or_else(|| checks::expected_code(ctx.spec, "patch-invalid-code"))
                .unwrap_or_default();
            if !checks::answers(ctx.spec, "patch-invalid", &x.response) {
                return Case::Fail(
                    Failure::rule(
                        "patch-invalid",
                        format!(
                            "{}={} (breaks {kw}) answered {}",
                            f.path,
                            crate::verdict::show_value(Some(v)),
                            x.response.summary()
                        ),
                        x,
                        format!(
                            "{}, error code {want_code}, target {}",
                            checks::describe(ctx.spec, "patch-invalid"),
                            f.path
                        ),
                    )
                    .with_evidence(keyword_evidence(f, kw)),
                );
            }
            if x.response.error_code().as_deref() != Some(want_code.as_str())
                || x.response.error_target().is_some_and(|t| t != f.path)
            {
                let f2 = Failure::rule(
                    "patch-invalid-code",
                    format!(
                        "{}={} (breaks {kw}) was rejected with {} target {:?}",
                        f.path,
                        crate::verdict::show_value(Some(v)),
                        x.response.summary(),
                        x.response.error_target()
                    ),
                    x,
                    format!("error code {want_code}, target {}", f.path),
                );
                return Case::Fail(match documented {
                    Some(d) => f2.with_evidence(d.evidence),
                    None => f2,
                });
            }
            Case::Pass
        },
    )
    .await;
    // A field the resource does not have: rejected, never silently ignored.
    ctx.expect_answer(
        C,
        ep,
        Request::new("PATCH", path.clone()).json(json!({"no_such_field_xyz": "x"})),
        Expect {
            rule: "unknown-body-field",
            what: "a PATCH body with the unknown field no_such_field_xyz",
        },
    )
    .await;
    ctx.findings.exercised(&ep.family, "unknown:PATCH".into());
    // Malformed bodies.
    for raw in [
        "{\"no_such_field\": ",
        "[1, 2]",
        "\"text\"",
        "42",
        "null",
        "{\"a\":1}{\"b\":2}",
    ] {
        let req = Request::new("PATCH", path.clone()).raw(raw);
        ctx.expect_answer(
            C,
            ep,
            req,
            Expect {
                rule: "bad-input-status",
                what: &format!("the body {raw:?}"),
            },
        )
        .await;
    }
}

pub async fn patch_atomic(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "patch-atomic";
    let (ep, rec, path) = match target_record(ctx, ep, C) {
        Ok(t) => t,
        Err(why) => return ctx.findings.skip(C, ep, why.to_string()),
    };
    let valid: Vec<&Field> = changeable(ctx, ep, rec)
        .into_iter()
        .filter(|f| !f.flags.write_only)
        .collect();
    let invalid = invalid_candidates(ctx, ep);
    let mut pairs = Vec::new();
    for v in &valid {
        let Some(val) = different_value(ctx, v, get_path(rec, &v.path), C) else {
            continue;
        };
        for (f, bad, _) in invalid.iter().filter(|(f, _, _)| f.path != v.path) {
            pairs.push((v.path.clone(), val.clone(), f.path.clone(), bad.clone()));
        }
        pairs.push((v.path.clone(), val, "no_such_field".into(), json!(1)));
    }
    if pairs.is_empty() {
        return ctx.findings.skip(C, ep, "no field this mode may change");
    }
    let Some(guard) = ctx.protect(C, ep, &path).await else {
        return ctx.findings.skip(C, ep, unprotected(ctx));
    };
    // Both fields may be stored by a target that gets this wrong: only fields whose original
    // was read (the unknown field is never stored).
    let original = guard.original();
    let read = |p: &str| p == "no_such_field" || get_path(original, p).is_some();
    let pairs: Vec<_> = pairs
        .into_iter()
        .filter(|(good, _, bad, _)| read(good) && read(bad))
        .collect();
    if pairs.is_empty() {
        return ctx.findings.skip(
            C,
            ep,
            "the record's GET ?fields=** did not return the fields to change: a field whose original was not read is never written",
        );
    }
    let (path, pairs) = (&path, &pairs);
    property(
        ctx,
        Property {
            check: C,
            ep,
            method: "PATCH",
            cases: ctx.settings.cases.min(pairs.len() as u32),
            concurrent: false,
        },
        0..pairs.len(),
        |i: usize| async move {
            let (good, val, bad, badv) = &pairs[i];
            let Some((before, _)) = read_back(ctx, C, ep, path).await else {
                return Case::Skip;
            };
            let body = body_of(&[(good.clone(), val.clone()), (bad.clone(), badv.clone())]);
            let Some(x) = ctx
                .send(C, ep, Request::new("PATCH", path.clone()).json(body))
                .await
            else {
                return Case::Skip;
            };
            if x.response.is_success() {
                // Not this check's rule (patch-invalid judges acceptance); nothing to compare.
                return Case::Skip;
            }
            let Some((after, _)) = read_back(ctx, C, ep, path).await else {
                return Case::Skip;
            };
            if get_path(&after, good) != get_path(&before, good) {
                return Case::Fail(Failure::rule(
                    "patch-atomic",
                    format!(
                        "a PATCH rejected for {bad} ({}) still changed {good} from {} to {}",
                        x.response.summary(),
                        crate::verdict::show_value(get_path(&before, good)),
                        crate::verdict::show_value(get_path(&after, good))
                    ),
                    x,
                    format!("{good} unchanged"),
                ));
            }
            Case::Pass
        },
    )
    .await;
}

/// What one pass over a family's discovered records tells a collection PATCH: the patchable
/// fields every record has a value for, and for each other field the values a filter could
/// select (how many records share each, and where each is first seen).
struct Survey {
    records: usize,
    /// Records without the key values of an instance path: they cannot be named, so neither
    /// written down nor put back.
    unnamed: usize,
    /// Patchable fields some record has no value for.
    not_everywhere: BTreeSet<String>,
    /// Per gettable non-key field (in the resource's order): a hash of the value's JSON ->
    /// the first record that has it and how many do (a hash, not the text: on a large family
    /// most values are unique, and only the chosen one is read again).
    values: Vec<(String, std::collections::HashMap<u64, FilterValue>)>,
    /// The first record's filter-safe key value.
    first_key: Option<(String, String)>,
}

struct FilterValue {
    first: usize,
    count: usize,
}

/// A value as a query filter writes it, when a filter can select it exactly.
fn filter_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if generate::filter_safe(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn survey_family(ctx: &Ctx, ep: &Endpoint, inst: &Endpoint) -> Survey {
    let res = ctx.spec.resource_of(ep);
    let mut out = Survey {
        records: 0,
        unnamed: 0,
        not_everywhere: BTreeSet::new(),
        values: res
            .gettable()
            .filter(|f| !f.flags.key)
            .map(|f| (f.path.clone(), Default::default()))
            .collect(),
        first_key: None,
    };
    use std::hash::BuildHasher;
    let hash = foldhash::fast::FixedState::default();
    for (i, r) in baseline(ctx, ep).iter().enumerate() {
        out.records += 1;
        if undo::instance_path(inst, &r).is_none() {
            out.unnamed += 1;
        }
        if i == 0 {
            out.first_key = res.keys.iter().find_map(|k| match get_path(&r, k) {
                Some(Value::String(s)) if generate::filter_safe(s) => Some((k.clone(), s.clone())),
                _ => None,
            });
        }
        for f in res.patchable() {
            if get_path(&r, &f.path).is_none() {
                out.not_everywhere.insert(f.path.clone());
            }
        }
        for (path, seen) in &mut out.values {
            // What filter_text could write, hashed without writing it.
            let h = match get_path(&r, path) {
                Some(Value::String(s)) if generate::filter_safe(s) => hash.hash_one((0u8, s)),
                Some(Value::Bool(b)) => hash.hash_one((1u8, b)),
                _ => continue,
            };
            seen.entry(h)
                .or_insert(FilterValue { first: i, count: 0 })
                .count += 1;
        }
    }
    out
}

pub async fn collection_patch(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "collection-patch";
    let Some(inst) = ctx.spec.instance_of(ep) else {
        return ctx
            .findings
            .skip(C, ep, "no instance path to read records back");
    };
    // Records are put back one by one with a PATCH on their own path: a family whose records
    // have none (an imported `/api/storage/disks`: PATCH on the collection only) is not changed.
    if !inst.has(Method::PATCH) {
        return ctx.findings.skip(
            C,
            ep,
            "its records have no PATCH of their own to be put back with",
        );
    }
    let base = baseline(ctx, ep);
    let res = ctx.spec.resource_of(ep);
    // The family is looked at one record at a time, in one pass (a large cluster's family is
    // never parsed whole at once).
    let survey = crate::client::heavy_pass(base.len(), || survey_family(ctx, ep, inst));
    // Every record is written down before a collection PATCH (the target may change them all):
    // one without its keys could be neither written down nor put back.
    if survey.unnamed > 0 {
        return ctx.findings.skip(
            C,
            ep,
            format!(
                "{} of {} records came without the key values that name them: they could not be put back",
                survey.unnamed, survey.records
            ),
        );
    }
    // A field to change that every record of the family can be put back to (it has a value, or
    // "" unsets it): a target that ignores the filter changes records beyond the match.
    let Some(field) = res
        .patchable()
        .filter(|f| !f.flags.write_only && (!f.flags.lockout || ctx.may_destroy()))
        .filter(|f| !survey.not_everywhere.contains(&f.path))
        .max_by_key(|f| f.flags.empty_unsets)
    else {
        return ctx.findings.skip(
            C,
            ep,
            "no field this mode may change that every record could be put back to",
        );
    };
    let mut filters: Vec<(String, String)> = survey.first_key.clone().into_iter().collect();
    // A value shared by several records, but not all of them, and by no more than the sample:
    // on a large cluster a collection PATCH changes (and the run puts back) a bounded number.
    // The first such value in the family's order, of the first field that has one.
    let most = ctx.settings.sample.max(2);
    if let Some((path, text)) = survey.values.iter().find_map(|(path, seen)| {
        let first = seen
            .values()
            .filter(|v| v.count >= 2 && v.count < survey.records && v.count <= most)
            .map(|v| v.first)
            .min()?;
        let text = filter_text(get_path(&base.get(first)?, path)?)?;
        Some((path.clone(), text))
    }) {
        filters.push((path, text));
    }
    // Its value counts (a map a field, as long as the family on a unique field) are not held
    // through the writes below.
    drop(survey);
    if filters.is_empty() {
        return ctx
            .findings
            .skip(C, ep, "no filter value to select part of the collection");
    }
    // Only records whose field can be put back are eligible. The records each filter selects,
    // in one pass over the family (none parsed twice).
    let safe = |r: &Value| get_path(r, &field.path).is_some();
    let matching = crate::client::heavy_pass(base.len(), || {
        let mut matching: Vec<(std::collections::HashSet<String>, bool)> =
            filters.iter().map(|_| Default::default()).collect();
        // Only the filtered fields and the field to change are read of each record.
        let keep = crate::client::slim::Keep::fields(
            filters
                .iter()
                .map(|(f, _)| f.as_str())
                .chain([field.path.as_str()]),
        )
        .expect("at least the field to change");
        for (r, id) in base.iter_keeping(Some(&keep)).zip(base.ids()) {
            for ((fname, fval), (ids, unsafe_)) in filters.iter().zip(matching.iter_mut()) {
                if judge::filter_matches(fval, get_path(&r, fname)) {
                    *unsafe_ |= !safe(&r);
                    ids.insert(id.to_string());
                }
            }
        }
        matching
    });
    ctx.findings.ran(C, ep);
    let mut guard: Option<crate::undo::FamilyGuard> = None;
    for ((fname, fval), (matching, unsafe_)) in filters.into_iter().zip(matching) {
        // Each case starts from the records as discovered.
        ctx.undo.restore(Some(&ep.family)).await;
        ctx.findings.count_cases(1);
        if unsafe_ {
            continue;
        }
        // Every record of the family is written down first: a target that ignores the filter
        // changes records beyond the match, and those must come back too.
        // They are taken from the shared discovery read (one journal write, no read each), once.
        let protected = match &guard {
            Some(g) => ctx.undo.protect_again(g),
            None => {
                guard = crate::client::heavy_pass(base.len(), || {
                    ctx.undo.protect_known(inst, shared_records(ctx, ep))
                });
                guard.is_some()
            }
        };
        if !protected {
            continue;
        }
        let Some(value) = different_value(ctx, field, None, &format!("{C} {fname}")) else {
            continue;
        };
        let path = with_query(ep.path(), &[(&fname, &fval)]);
        let Some(x) = ctx
            .send(
                C,
                ep,
                Request::new("PATCH", path).json(body_of(&[(field.path.clone(), value.clone())])),
            )
            .await
        else {
            continue;
        };
        let num = x.response.num_records();
        let answered = x.response.is_success() && num == Some(matching.len() as u64);
        if !answered {
            ctx.finding(C, ep, "PATCH", "collection-patch")
                .message(format!(
                    "PATCH ?{fname}={fval} answered {} with num_records {num:?}; {} records match",
                    x.response.summary(),
                    matching.len()
                ))
                .shown_by(
                    Some(&x),
                    &format!("200 with num_records {}", matching.len()),
                )
                .record();
        }
        // The family is listed once after the PATCH, in large pages of the keys and the
        // patchable fields: it shows what the PATCH changed, proves back every record it left
        // equal to its original (the restore then reads back only the others), and finds
        // records that appeared meanwhile (someone else created them: the PATCH may have
        // changed them, and nobody can tell from what).
        let mut listing = ctx.undo.listing(ep, inst);
        let listed = ctx.undo.listing_fields(inst);
        let Some(after) = ctx
            .send(
                C,
                ep,
                Request::get(with_query(
                    ep.path(),
                    &[
                        ("fields", &listed.join(",")),
                        ("max_records", &crate::client::WALK_RECORDS.to_string()),
                    ],
                ))
                // What the listing and the judgement below read of each record, built alone.
                .keeping(
                    listed
                        .iter()
                        .copied()
                        .chain(ctx.spec.resource_of(ep).keys.iter().map(String::as_str)),
                ),
            )
            .await
            .filter(|a| a.response.is_success())
        else {
            listing.finish(false);
            continue;
        };
        let want = expected_after_patch(field, &value);
        // By identity, page by page: a large family is neither held whole nor compared record
        // by record against a list.
        let mut wrong: Option<(String, bool, String)> = None;
        let complete = crate::checks::read::each_page(ctx, C, ep, &after, |page| {
            for r in page {
                let seen = listing.record(r);
                if wrong.is_some() || !answered {
                    continue;
                }
                let id = identity(ep, ctx, r);
                let matched = matching.contains(&id);
                let now = get_path(r, &field.path);
                let ok = if matched {
                    meets(&want, now)
                } else {
                    // A record not written down is not judged (its value before is unknown).
                    match &seen {
                        undo::Seen::Same | undo::Seen::NotSaved => true,
                        undo::Seen::Differs(o) => get_path(o, &field.path) == now,
                    }
                };
                if !ok {
                    wrong = Some((id, matched, crate::verdict::show_value(now)));
                }
            }
        })
        .await;
        listing.finish(complete);
        if !complete {
            continue;
        }
        if let Some((id, matched, now)) = wrong {
            ctx.finding(C, ep, "PATCH", "collection-patch")
                .message(format!(
                    "after PATCH ?{fname}={fval} setting {}, record {id} ({}) holds {now}",
                    field.path,
                    if matched { "matching" } else { "not matching" },
                ))
                .shown_by(
                    Some(&x),
                    if matched {
                        "the new value"
                    } else {
                        "its old value"
                    },
                )
                .record();
        }
    }
}

/// A family's discovered records, for [`crate::undo::Undo::protect_known`] to read originals
/// from (none: an empty family).
pub fn shared_records(ctx: &Ctx, ep: &Endpoint) -> std::sync::Arc<dyn undo::Originals> {
    match crate::checks::read::baseline_shared(ctx, ep) {
        Some(r) => r.clone(),
        None => std::sync::Arc::new(Vec::<Value>::new()),
    }
}

/// Why no owner can be given a new record (the check is skipped with this reason).
#[derive(Debug, Clone, thiserror::Error)]
enum NoVacantOwner {
    /// The POST has no `create_for`.
    #[error("the catalog names no owners to create a record for (create_for)")]
    NoCreateFor,
    /// Listing the owners got no answer.
    #[error("could not list the owners at {from}: {source}")]
    Unlisted {
        from: String,
        source: crate::client::TransportError,
    },
    /// Every owner listed (at this path) has a record already.
    #[error(
        "every owner listed at {0} already has a record; create-delete deletes only records it created"
    )]
    AllTaken(String),
}

/// An owner listed by the POST's `create_for` that has no record of this family yet: the values of
/// the new record's fields (its keys among them) and its instance path.
async fn vacant_owner(
    ctx: &Ctx,
    ep: &Endpoint,
    inst: &Endpoint,
) -> Result<(Vec<(String, Value)>, String), NoVacantOwner> {
    let def = ep.method(Method::POST).expect("has POST");
    let Some(cf) = &def.create_for else {
        return Err(NoVacantOwner::NoCreateFor);
    };
    let wanted: Vec<&str> = cf.fields.values().map(String::as_str).collect();
    let base = baseline(ctx, ep);
    // Where the identities discovery keeps are made of the instance path's keys, in its order,
    // a record's path is taken exactly when its identity is: nothing is parsed. Else each
    // record's path is made from its keys (only they are read of it).
    enum Taken<'a> {
        Identities(std::collections::HashSet<&'a str>),
        Paths(BTreeSet<String>),
    }
    let by_identity = ctx
        .spec
        .resource_of(ep)
        .keys
        .iter()
        .map(String::as_str)
        .eq(inst.path_keys());
    let taken = if by_identity {
        Taken::Identities(base.ids().collect())
    } else {
        let names = crate::client::slim::Keep::fields(inst.path_keys());
        Taken::Paths(
            base.iter_keeping(names.as_ref())
                .filter_map(|r| undo::instance_path(inst, &r))
                .collect(),
        )
    };
    let is_taken = |body: &Value, path: &String| match &taken {
        Taken::Identities(ids) => ids.contains(identity(ep, ctx, body).as_str()),
        Taken::Paths(paths) => paths.contains(path),
    };
    // The owners a page at a time, until one has no record: a large cluster's list of
    // accounts is never read whole.
    let mut page = Some(with_query(
        &cf.from,
        &[
            ("fields", &wanted.join(",")),
            ("max_records", &crate::client::PAGE_RECORDS.to_string()),
        ],
    ));
    while let Some(next) = page.take() {
        let x = ctx
            .client
            .send(Request::get(next))
            .await
            .map_err(|source| NoVacantOwner::Unlisted {
                from: cf.from.clone(),
                source,
            })?;
        for owner in x.response.records().map(Vec::as_slice).unwrap_or(&[]) {
            let pairs: Option<Vec<(String, Value)>> = cf
                .fields
                .iter()
                .map(|(mine, theirs)| Some((mine.clone(), get_path(owner, theirs)?.clone())))
                .collect();
            let Some(pairs) = pairs else { continue };
            let body = body_of(&pairs);
            let Some(path) = undo::instance_path(inst, &body) else {
                continue;
            };
            if !is_taken(&body, &path) {
                return Ok((pairs, path));
            }
        }
        page = x.response.next_path();
    }
    Err(NoVacantOwner::AllTaken(cf.from.clone()))
}

pub async fn create_delete(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "create-delete";
    if !ctx.may_destroy() {
        return ctx.findings.skip(
            C,
            ep,
            "destructive: runs only with --allow-destructive or against the built-in mock",
        );
    }
    let Some(inst) = ctx.spec.instance_of(ep) else {
        return ctx.findings.skip(C, ep, "no instance path");
    };
    if !inst.has(Method::DELETE)
        || inst
            .method_removed_in(Method::DELETE, ctx.version)
            .is_some()
    {
        return ctx.findings.skip(
            C,
            ep,
            format!("no DELETE in ONTAP {} to undo a POST", ctx.version),
        );
    }
    let (mut pairs, path) = match vacant_owner(ctx, ep, inst).await {
        Ok(v) => v,
        Err(why) => return ctx.findings.skip(C, ep, why.to_string()),
    };
    let res = ctx.spec.resource_of(ep);
    let def = ep.method(Method::POST).expect("has POST");
    // Only what the POST needs: the owner, the required fields, and lock-out switches off.
    pairs.retain(|(p, _)| res.field(p).is_some_and(|f| f.postable()));
    for req in &def.required {
        if !pairs.iter().any(|(p, _)| p == req)
            && let Some(f) = res.field(req)
            && let Some(v) = different_value(ctx, f, None, C)
        {
            pairs.push((req.clone(), v));
        }
    }
    for f in res.fields.iter().filter(|f| {
        f.flags.lockout && f.postable() && f.ty == crate::spec::resource::FieldType::Boolean
    }) {
        if !pairs.iter().any(|(p, _)| p == &f.path) {
            pairs.push((f.path.clone(), Value::Bool(false)));
        }
    }
    // Written down before it is sent: an interrupted run deletes it.
    let Some(_created) = ctx.undo.will_create(&ep.family, &path) else {
        return;
    };
    ctx.findings.ran(C, ep);
    ctx.findings.count_cases(1);
    // 1. POST answers 201 with a Location naming the new keys, and a GET returns what was posted.
    let Some(x) = ctx
        .send(
            C,
            ep,
            Request::new("POST", with_query(ep.path(), &[("return_records", "true")]))
                .json(body_of(&pairs)),
        )
        .await
    else {
        return;
    };
    if x.response.status != 201 {
        ctx.finding(C, ep, "POST", "create-delete")
            .message(format!(
                "POST of a new record answered {}",
                x.response.summary()
            ))
            .shown_by(Some(&x), "201 with Location")
            .record();
        if !x.response.is_success() {
            return;
        }
    }
    match &x.response.location {
        Some(loc) if loc.ends_with(&path) => {}
        other => ctx
            .finding(C, ep, "POST", "create-delete")
            .message(format!("POST answered Location {other:?}"))
            .shown_by(Some(&x), &format!("Location naming {path}"))
            .record(),
    }
    if let Some(g) = ctx
        .send(C, inst, Request::get(format!("{path}?fields=**")))
        .await
    {
        for (p, v) in &pairs {
            let f = res.field(p).expect("from the resource");
            if f.gettable()
                && !meets(
                    &expected_after_patch(f, v),
                    get_path(g.response.json.as_deref().unwrap_or(&Value::Null), p),
                )
            {
                ctx.finding(C, inst, "GET", "create-delete")
                    .message(format!(
                        "after POST, {p} reads {} instead of {}",
                        crate::verdict::show_value(
                            g.response.json.as_ref().and_then(|j| get_path(j, p))
                        ),
                        crate::verdict::show_value(Some(v))
                    ))
                    .shown_by(Some(&g), "what was posted")
                    .record();
                break;
            }
        }
    }
    // 2. DELETE it, then GET answers 404 code 4. The restore proves it gone either way.
    let Some(x) = ctx
        .send(C, inst, Request::new("DELETE", path.clone()))
        .await
    else {
        return;
    };
    if !x.response.is_success() {
        ctx.finding(C, inst, "DELETE", "create-delete")
            .message(format!("DELETE answered {}", x.response.summary()))
            .shown_by(Some(&x), "200")
            .record();
        return;
    }
    if let Some(g) = ctx.send(C, inst, Request::get(path.clone())).await
        && !(checks::answers(ctx.spec, "not-found-status", &g.response)
            && checks::answers(ctx.spec, "not-found-code", &g.response))
    {
        ctx.finding(C, inst, "GET", "create-delete")
            .message(format!(
                "after DELETE, GET answered {}",
                g.response.summary()
            ))
            .shown_by(
                Some(&g),
                &format!(
                    "{} with {}",
                    checks::describe(ctx.spec, "not-found-status"),
                    checks::describe(ctx.spec, "not-found-code")
                ),
            )
            .record();
    }
    // 3. A POST with a field the resource does not have is rejected, never silently ignored. If a
    //    target creates the record anyway, the journal (written before the first POST) deletes it.
    let mut with_unknown = pairs.clone();
    with_unknown.push(("no_such_field_xyz".into(), json!("x")));
    ctx.findings.exercised(&ep.family, "unknown:POST".into());
    if let Some(x) = ctx
        .send(
            C,
            ep,
            Request::new("POST", ep.path()).json(body_of(&with_unknown)),
        )
        .await
        && !checks::answers(ctx.spec, "unknown-body-field", &x.response)
    {
        ctx.finding(C, ep, "POST", "unknown-body-field")
            .message(format!(
                "a POST body with the unknown field no_such_field_xyz answered {}",
                x.response.summary()
            ))
            .shown_by(Some(&x), &checks::describe(ctx.spec, "unknown-body-field"))
            .record();
    }
}

/// A PATCH body that could change nothing that matters: a non-lock-out text field.
fn harmless_body(ctx: &Ctx, ep: &Endpoint) -> Value {
    ctx.spec
        .resource_of(ep)
        .patchable()
        .find(|f| !f.flags.lockout && f.ty == crate::spec::resource::FieldType::String)
        .map(|f| body_of(&[(f.path.clone(), json!("x"))]))
        .unwrap_or(json!({}))
}

pub async fn error_code(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "error-code";
    let mut ran = false;
    for (m, def) in &ep.def.methods {
        for e in &def.errors {
            let Some(cond) = e.condition else { continue };
            let expect = |x: &Exchange| {
                x.response.error_code().as_deref() == Some(e.code.as_str())
                    && e.status.contains(&x.response.status)
            };
            let exp_text = format!("status {:?} with error code {}", e.status, e.code);
            let x = match cond {
                Condition::NotFound if *m != Method::GET && ep.kind() == Kind::Instance => {
                    let keys: Vec<String> = ep
                        .path_keys()
                        .iter()
                        .map(|_| "00000000-0000-4000-8000-0000000000ff".to_string())
                        .collect();
                    let pairs: Vec<(&str, &str)> = ep
                        .path_keys()
                        .into_iter()
                        .zip(keys.iter().map(String::as_str))
                        .collect();
                    let path = ep.render(&pairs);
                    // Journaled like a write: a target that wrongly creates the record is put
                    // back (the restore proves the key still names nothing).
                    let Some(_created) = ctx.undo.will_create(&ep.family, &path) else {
                        continue;
                    };
                    let mut req = Request::new(m.as_str(), path);
                    if *m == Method::PATCH {
                        req = req.json(harmless_body(ctx, ep));
                    }
                    ctx.send(C, ep, req).await
                }
                Condition::Unconfigured if *m != Method::GET && ep.kind() == Kind::Instance => {
                    // Its documented condition: an owner that exists, without a record.
                    let Some(coll) = ctx.spec.collection_of(ep) else {
                        continue;
                    };
                    let path = match vacant_owner(ctx, coll, ep).await {
                        Ok((_, path)) => path,
                        Err(why) => {
                            ctx.findings.skip(
                                C,
                                ep,
                                format!(
                                    "error {} needs an existing owner without a record: {why}",
                                    e.code
                                ),
                            );
                            continue;
                        }
                    };
                    // A target that wrongly creates one is put back: written down first.
                    let Some(_created) = ctx.undo.will_create(&ep.family, &path) else {
                        continue;
                    };
                    let mut req = Request::new(m.as_str(), path);
                    if *m == Method::PATCH {
                        req = req.json(harmless_body(ctx, ep));
                    }
                    ctx.send(C, ep, req).await
                }
                Condition::InvalidValue | Condition::RoleDenied if *m == Method::PATCH => {
                    let Some(fname) = &e.field else { continue };
                    let Some(f) = ctx.spec.resource_of(ep).field(fname) else {
                        continue;
                    };
                    if f.flags.lockout && !ctx.may_destroy() {
                        ctx.findings.skip(C, ep, format!("error {} needs a change of the lock-out field {fname}: --allow-destructive", e.code));
                        continue;
                    }
                    let svm = cond == Condition::RoleDenied;
                    // As the SVM administrator, or the cluster administrator tunnelled into an SVM.
                    let svm_auth = ctx.client.svm_auth();
                    if svm && svm_auth == Some(Auth::Tunnel) {
                        ctx.findings.skip(
                            C,
                            ep,
                            format!("error {} is about the role: {TUNNEL_KEEPS_ROLE}", e.code),
                        );
                        continue;
                    }
                    if svm && svm_auth.is_none() {
                        ctx.findings.skip(
                            C,
                            ep,
                            format!(
                                "error {} needs an SVM administrator (--svm-user or --tunnel-svm)",
                                e.code
                            ),
                        );
                        continue;
                    }
                    let recs = if svm {
                        visible_to_svm(ctx, ep).await
                    } else {
                        crate::checks::read::sampled(ctx, ep).to_vec()
                    };
                    let Some(rec) = recs
                        .into_iter()
                        .find(|r| get_path(r, fname).is_some() || !svm)
                    else {
                        ctx.findings
                            .skip(C, ep, format!("no record to provoke error {}", e.code));
                        continue;
                    };
                    let Some(path) = undo::instance_path(ep, &rec) else {
                        continue;
                    };
                    // Expected to be refused, and journaled like any write: the record is read
                    // first (the field among what it returned) and verified after.
                    let Some(guard) = ctx.protect(C, ep, &path).await else {
                        ctx.findings.skip(C, ep, unprotected(ctx));
                        continue;
                    };
                    if get_path(guard.original(), fname).is_none() {
                        ctx.findings
                            .skip(C, ep, unread_reason(std::slice::from_ref(fname)));
                        continue;
                    }
                    let value = if svm {
                        different_value(ctx, f, get_path(&rec, fname), C)
                    } else {
                        generate::invalid_values(f).first().map(|(v, _)| v.clone())
                    };
                    let Some(value) = value else { continue };
                    let auth = if svm {
                        svm_auth.unwrap_or(Auth::Svm)
                    } else {
                        Auth::Admin
                    };
                    ctx.send(
                        C,
                        ep,
                        Request::new("PATCH", path)
                            .json(body_of(&[(fname.clone(), value)]))
                            .auth(auth),
                    )
                    .await
                }
                Condition::Duplicate if *m == Method::POST => {
                    if !ctx.may_destroy() {
                        ctx.findings.skip(
                            C,
                            ep,
                            format!("error {} needs a POST: --allow-destructive", e.code),
                        );
                        continue;
                    }
                    let Some(rec) = crate::checks::read::sampled(ctx, ep).first().cloned() else {
                        continue;
                    };
                    let res = ctx.spec.resource_of(ep);
                    let mut pairs: Vec<(String, Value)> = Vec::new();
                    for r in &m_required(ep, *m) {
                        let Some(f) = res.field(r) else { continue };
                        let v = get_path(&rec, r)
                            .cloned()
                            .or_else(|| different_value(ctx, f, None, C));
                        if let Some(v) = v {
                            pairs.push((r.clone(), v));
                        }
                    }
                    ctx.send(C, ep, Request::new("POST", ep.path()).json(body_of(&pairs)))
                        .await
                }
                _ => continue,
            };
            ran = true;
            ctx.findings.count_cases(1);
            ctx.findings
                .exercised(&ep.family, format!("code:{}", e.code));
            let Some(x) = x else { continue };
            if !expect(&x) {
                ctx.finding(C, ep, m.as_str(), &format!("error-{}", e.code))
                    .evidence(e.evidence)
                    .message(format!(
                        "{} ({}) answered {}",
                        e.when,
                        m,
                        x.response.summary()
                    ))
                    .shown_by(Some(&x), &exp_text)
                    .record();
            }
        }
    }
    if ran {
        ctx.findings.ran(C, ep);
    } else {
        ctx.findings.skip(
            C,
            ep,
            "no documented error code with a condition the harness can provoke here",
        );
    }
}

fn m_required(ep: &Endpoint, m: Method) -> Vec<String> {
    ep.method(m).map(|d| d.required.clone()).unwrap_or_default()
}

/// Records of an endpoint's family as the SVM administrator (or the cluster administrator
/// tunnelled into an SVM) sees them.
pub async fn visible_to_svm(ctx: &Ctx, ep: &Endpoint) -> Vec<Value> {
    let Some(coll) = ctx.spec.collection_of(ep) else {
        return Vec::new();
    };
    let auth = ctx.client.svm_auth().unwrap_or(Auth::Svm);
    let Some(x) = ctx
        .client
        .send(Request::get(with_query(coll.path(), &[("fields", "*")])).auth(auth))
        .await
        .ok()
    else {
        return Vec::new();
    };
    x.response.records().cloned().unwrap_or_default()
}
