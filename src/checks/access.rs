//! Access checks: what an SVM administrator may see and change (its own SVM's records, never
//! another's, and no admin-only field), and which methods a path refuses.

use crate::checks;
use crate::checks::ctx::{Ctx, Expect};
use crate::checks::read::{baseline, collection_path, identity, sample_paths};
use crate::checks::write::{body_of, changeable, different_value, shared_records, visible_to_svm};
use crate::client::{Auth, Request, with_query};
use crate::spec::Endpoint;
use crate::spec::model::{Condition, Evidence, Kind, Method};
use crate::spec::resource::{FieldType, get_path};
use crate::undo;
use serde_json::json;

/// Why nothing about the role is judged through `--tunnel-svm` (ONTAP-BEHAVIOR.md §4: a request
/// with `X-Dot-SVM-Name` runs inside the SVM, seeing and changing only its records; nothing says
/// the cluster administrator loses its role there).
pub const TUNNEL_KEEPS_ROLE: &str = "tunnelling into an SVM narrows the records, not the role (give --svm-user for an SVM administrator to judge it)";

pub async fn role_restrictions(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "role-restrictions";
    // As the SVM administrator, or as the cluster administrator tunnelled into an SVM.
    let Some(svm_auth) = ctx.client.svm_auth() else {
        return ctx.findings.skip(
            C,
            ep,
            "no SVM administrator given (--svm-user or --tunnel-svm)",
        );
    };
    let who = ctx.client.svm_actor();
    match ep.kind() {
        // Minimal arm (mock-split): not judged on singletons yet.
        Kind::Singleton => ctx.findings.skip(
            C,
            ep,
            "singleton endpoints are not judged by this check yet",
        ),
        Kind::Collection => {
            if !ep.has(Method::GET) {
                return ctx.findings.skip(C, ep, "no GET");
            }
            ctx.findings.ran(C, ep);
            ctx.findings.count_cases(1);
            let admin: std::collections::HashSet<String> =
                baseline(ctx, ep).ids().map(String::from).collect();
            let Some(x) = ctx
                .send(
                    C,
                    ep,
                    Request::get(format!("{}?fields=*", ep.path())).auth(svm_auth),
                )
                .await
            else {
                return;
            };
            if !x.response.is_success() {
                return;
            }
            let seen: Vec<String> = x
                .response
                .records()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|r| identity(ep, ctx, r))
                .collect();
            if let Some(extra) = seen.iter().find(|s| !admin.contains(*s)) {
                ctx.finding(C, ep, "GET", "role-visibility")
                    .message(format!(
                        "{who} sees record {extra}, which the cluster administrator does not"
                    ))
                    .shown_by(Some(&x), "a subset of the admin's records")
                    .record();
            } else if admin.len() > 1 && seen.len() == admin.len() {
                ctx.finding(C, ep, "GET", "role-visibility")
                    .message(format!(
                        "{who} sees all {} records, the cluster's and every SVM's",
                        seen.len()
                    ))
                    .shown_by(Some(&x), "only its own SVM's records")
                    .record();
            }
        }
        Kind::Instance => {
            // Both writes of an SVM administrator a target must refuse: to a record outside its
            // SVM, and to an admin-only field of its own records.
            let scope = other_svm_write(ctx, ep, svm_auth, &who).await;
            let why_not = scope.as_ref().err().map(ToString::to_string);
            ctx.findings.case(
                &ep.family,
                "role-write-scope",
                why_not.as_deref().map_or(Ok(()), Err),
            );
            let admin = admin_only_write(ctx, ep, svm_auth, &who).await;
            match (scope, admin) {
                (Err(a), Err(b)) => ctx.findings.skip(C, ep, format!("{b}; {a}")),
                _ => ctx.findings.ran(C, ep),
            }
        }
    }
}

/// Why a write case of the SVM account sent nothing (a skip reason).
#[derive(Debug, thiserror::Error)]
enum NotProbed {
    #[error("no admin-only field to protect")]
    NoAdminOnlyField,
    #[error("admin-only fields are about the role: {}", TUNNEL_KEEPS_ROLE)]
    TunnelKeepsRole,
    #[error("no admin-only field with a value on a record {0} sees")]
    NoAdminOnlyValue(String),
    #[error("no PATCH and GET on this path")]
    NoPatchAndGet,
    #[error("no collection to tell the records of other SVMs by")]
    NoCollection,
    #[error("no record to read")]
    NoRecord,
    #[error("the collection could not be read as {0}")]
    Unreadable(String),
    #[error("{0} sees every record read: none outside its SVM to write to")]
    SeesEverything(String),
    #[error("no field {0} could be sent to a record outside its SVM")]
    NothingSendable(String),
}

/// admin-only: the SVM administrator's PATCH of an admin-only field of a record it sees is
/// refused (role-denied) and changes nothing. Err: why nothing was sent.
async fn admin_only_write(
    ctx: &Ctx,
    ep: &Endpoint,
    svm_auth: Auth,
    who: &str,
) -> Result<(), NotProbed> {
    const C: &str = "role-restrictions";
    let res = ctx.spec.resource_of(ep);
    let guarded: Vec<_> = res.patchable().filter(|f| f.flags.admin_only).collect();
    if guarded.is_empty() || !ep.has(Method::PATCH) {
        return Err(NotProbed::NoAdminOnlyField);
    }
    if svm_auth == Auth::Tunnel {
        return Err(NotProbed::TunnelKeepsRole);
    }
    let visible = visible_to_svm(ctx, ep).await;
    let mut ran = false;
    for f in guarded {
        if f.flags.lockout && !ctx.may_destroy() {
            ctx.findings.skip(
                C,
                ep,
                format!("{} is a lock-out field: --allow-destructive", f.path),
            );
            continue;
        }
        let Some(rec) = visible.iter().find(|r| get_path(r, &f.path).is_some()) else {
            continue;
        };
        let Some(path) = undo::instance_path(ep, rec) else {
            continue;
        };
        let Some(value) = different_value(ctx, f, get_path(rec, &f.path), C) else {
            continue;
        };
        ran = true;
        ctx.findings.count_cases(1);
        let Some((x, original)) = patch_as_svm(ctx, ep, &path, f, value, svm_auth).await else {
            continue;
        };
        // The rule's answers, or the error the catalog documents for this field.
        let documented = ep.documented_error(Method::PATCH, Condition::RoleDenied, Some(&f.path));
        let refused = checks::answers(ctx.spec, "role-denied", &x.response)
            || documented.is_some_and(|e| {
                e.status.contains(&x.response.status)
                    && x.response.error_code().as_deref() == Some(e.code.as_str())
            });
        let denied = checks::describe(ctx.spec, "role-denied");
        let (after, changed) = read_back(ctx, &path, "*", &f.path, &original).await;
        if x.response.is_success() || changed {
            ctx.finding(C, ep, "PATCH", "admin-only")
                .evidence(f.evidence_of("x-ontap-admin-only"))
                .message(format!(
                    "{who} changed the admin-only {} ({}; now {})",
                    f.path,
                    x.response.summary(),
                    crate::verdict::show_value(after.as_ref().and_then(|a| get_path(a, &f.path)))
                ))
                .shown_by(Some(&x), &format!("{denied}, and no change"))
                .record();
        } else if !refused {
            ctx.finding(C, ep, "PATCH", "role-denied")
                .message(format!(
                    "{who}'s change of {} was refused with {}",
                    f.path,
                    x.response.summary()
                ))
                .shown_by(Some(&x), &denied)
                .record();
        }
    }
    if ran {
        Ok(())
    } else {
        Err(NotProbed::NoAdminOnlyValue(who.to_string()))
    }
}

/// Records outside its SVM the SVM administrator PATCHes at most (each write journaled).
const OTHER_SVM_RECORDS: usize = 2;

/// role-write-scope: the SVM administrator (or the cluster administrator tunnelled into an SVM)
/// PATCHes a field of records it does not see (another SVM's, or the cluster's); each PATCH must
/// be refused and change nothing (ONTAP-BEHAVIOR.md §4: it sees and changes only its own SVM's
/// records). Each record is protected first, so that a target that wrongly takes the change has
/// it put back and verified. DELETE is not probed: a record a target wrongly deleted could not be
/// put back (a restore writes fields back; it re-creates nothing). Err: why nothing was sent.
async fn other_svm_write(
    ctx: &Ctx,
    ep: &Endpoint,
    svm_auth: Auth,
    who: &str,
) -> Result<(), NotProbed> {
    const C: &str = "role-restrictions";
    const RULE: &str = "role-write-scope";
    if !ep.has(Method::PATCH) || !ep.has(Method::GET) {
        return Err(NotProbed::NoPatchAndGet);
    }
    let Some(coll) = ctx.spec.collection_of(ep) else {
        return Err(NotProbed::NoCollection);
    };
    let Some(coll_path) = collection_path(ctx, coll) else {
        return Err(NotProbed::NoRecord);
    };
    let Some(seen) = seen_by_svm(ctx, coll, &coll_path, svm_auth).await else {
        return Err(NotProbed::Unreadable(who.to_string()));
    };
    let base = baseline(ctx, coll);
    let others: Vec<usize> = base
        .ids()
        .enumerate()
        .filter(|(_, id)| !seen.contains(*id))
        .map(|(i, _)| i)
        .collect();
    if others.is_empty() {
        return Err(NotProbed::SeesEverything(who.to_string()));
    }
    // The tunnelling statement of §4 is lib evidence; the SVM administrator's role is observed.
    let evidence = if svm_auth == Auth::Tunnel {
        Evidence::Lib
    } else {
        checks::rule_evidence(ctx.spec, RULE)
    };
    let expected = format!(
        "{} (or an error the catalog documents for a missing record or a denied role), and no change",
        checks::describe(ctx.spec, RULE)
    );
    let mut probed = 0;
    for rec in others.into_iter().filter_map(|i| base.get(i)) {
        if probed == OTHER_SVM_RECORDS {
            break;
        }
        // A field the role could change on its own records: the refusal is about the record.
        // A lock-out field (a Duo profile's is_enabled) only when no other field will do.
        let Some(f) = changeable(ctx, ep, &rec)
            .into_iter()
            .filter(|f| !f.flags.admin_only && !f.flags.write_only)
            .min_by_key(|f| f.flags.lockout)
        else {
            continue;
        };
        let Some(path) = undo::instance_path(ep, &rec) else {
            continue;
        };
        let Some(value) = different_value(ctx, f, get_path(&rec, &f.path), C) else {
            continue;
        };
        probed += 1;
        ctx.findings.count_cases(1);
        let Some((x, original)) = patch_as_svm(ctx, ep, &path, f, value, svm_auth).await else {
            continue;
        };
        let r = &x.response;
        let documented = [
            Condition::NotFound,
            Condition::Unconfigured,
            Condition::RoleDenied,
        ]
        .into_iter()
        .filter_map(|c| ep.documented_error(Method::PATCH, c, Some(&f.path)))
        .any(|e| {
            e.status.contains(&r.status) && r.error_code().as_deref() == Some(e.code.as_str())
        });
        let refused = checks::answers(ctx.spec, RULE, r) || documented;
        let (after, changed) = read_back(ctx, &path, "**", &f.path, &original).await;
        let id = identity(ep, ctx, &rec);
        if r.is_success() || changed {
            let what = if changed {
                format!(
                    "changed {} of record {id}, which is outside its SVM ({}; now {})",
                    f.path,
                    r.summary(),
                    crate::verdict::show_value(after.as_ref().and_then(|a| get_path(a, &f.path)))
                )
            } else {
                format!(
                    "had a PATCH of {} on record {id}, which is outside its SVM, accepted ({}), though the field reads unchanged",
                    f.path,
                    r.summary()
                )
            };
            ctx.finding(C, ep, "PATCH", RULE)
                .evidence(evidence)
                .message(format!("{who} {what}"))
                .shown_by(Some(&x), &expected)
                .record();
        } else if !refused {
            ctx.finding(C, ep, "PATCH", RULE)
                .evidence(evidence)
                .message(format!(
                    "{who}'s PATCH of record {id}, which is outside its SVM, was refused with {}",
                    r.summary()
                ))
                .shown_by(Some(&x), &expected)
                .record();
        }
    }
    if probed == 0 {
        return Err(NotProbed::NothingSendable(who.to_string()));
    }
    Ok(())
}

/// The record at `path` read back after a write (`fields=` as given), and whether `field` now
/// differs from its `original`.
async fn read_back(
    ctx: &Ctx,
    path: &str,
    fields: &str,
    field: &str,
    original: &serde_json::Value,
) -> (Option<std::sync::Arc<serde_json::Value>>, bool) {
    let after = ctx
        .client
        .send(Request::get(format!("{path}?fields={fields}")))
        .await
        .ok()
        .and_then(|a| a.response.json);
    let changed = after
        .as_ref()
        .is_some_and(|a| get_path(a, field) != get_path(original, field));
    (after, changed)
}

/// PATCHes one field of a record as the SVM account, the record protected first (journaled, put
/// back after the check): the exchange and the record's original. None when it could not be
/// protected, its original of the field was not read (never written then), or no answer came.
async fn patch_as_svm(
    ctx: &Ctx,
    ep: &Endpoint,
    path: &str,
    f: &crate::spec::resource::Field,
    value: serde_json::Value,
    svm_auth: crate::client::Auth,
) -> Option<(crate::client::Exchange, serde_json::Value)> {
    const C: &str = "role-restrictions";
    let guard = ctx.protect(C, ep, path).await?;
    // Never written unless its original was read.
    get_path(guard.original(), &f.path)?;
    let x = ctx
        .send(
            C,
            ep,
            Request::new("PATCH", path.to_string())
                .json(body_of(&[(f.path.clone(), value)]))
                .auth(svm_auth),
        )
        .await?;
    Some((x, guard.original().clone()))
}

/// The identities of a collection's records as the SVM administrator (or a request tunnelled
/// into an SVM) reads them, every page followed with the same credentials; None: it could not
/// read them.
async fn seen_by_svm(
    ctx: &Ctx,
    coll: &Endpoint,
    path: &str,
    svm_auth: Auth,
) -> Option<std::collections::HashSet<String>> {
    const C: &str = "role-restrictions";
    let mut seen = std::collections::HashSet::new();
    let mut next = Some(with_query(path, &[("fields", "*")]));
    for _ in 0..1000 {
        let Some(p) = next else {
            return Some(seen);
        };
        let x = ctx.send(C, coll, Request::get(p).auth(svm_auth)).await?;
        if !x.response.is_success() {
            return None;
        }
        for r in x.response.records().into_iter().flatten() {
            seen.insert(identity(coll, ctx, r));
        }
        next = x.response.next_path();
    }
    None
}

/// A filter on a collection's first key that selects no record: a value of the key's type that
/// no record read has (None: the key is neither text nor a number, or the value is taken).
fn nothing_selected(ctx: &Ctx, ep: &Endpoint) -> Option<(String, String)> {
    let res = ctx.spec.resource_of(ep);
    let key = res.keys.first()?;
    let value = match res.field(key)?.ty {
        FieldType::String => format!(
            "00000000-0000-4000-8000-{:012x}",
            ctx.settings.seed & 0xffff_ffff_ffff
        ),
        FieldType::Integer | FieldType::Number => u64::MAX.to_string(),
        _ => return None,
    };
    // The identities begin with the first key's value (see [`identity`]): nothing is parsed.
    let taken = baseline(ctx, ep)
        .ids()
        .any(|id| id.split('/').next() == Some(value.as_str()));
    (!taken).then(|| (key.clone(), value))
}

pub async fn method_not_allowed(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "method-not-allowed";
    let Some(read_at) = sample_paths(ctx, ep, 1).into_iter().next() else {
        return ctx.findings.skip(C, ep, "no record to address");
    };
    // On a collection the probes are aimed at no record (a filter on a key value none has): a
    // target that wrongly takes one as a collection write changes nothing, so nothing of a
    // large family is journaled and read back for it.
    let aimed = match ep.kind() {
        Kind::Collection => nothing_selected(ctx, ep).map(|(k, v)| {
            with_query(
                &collection_path(ctx, ep).unwrap_or(read_at.clone()),
                &[(&k, &v)],
            )
        }),
        _ => None,
    };
    let mut methods: Vec<&str> = vec!["PUT"];
    if ctx.may_destroy() {
        for m in Method::ALL {
            if !ep.has(m) {
                methods.push(m.as_str());
            }
        }
    }
    // A probe meant to be refused is journaled like a write (the record read first, verified
    // after): a target that accepts it may change what it names.
    // Elsewhere the record it names is journaled like a write (read first, verified after).
    let protected = match (ep.kind(), &aimed) {
        (Kind::Collection, Some(_)) => true,
        (Kind::Collection, None) => ctx.spec.instance_of(ep).is_some_and(|inst| {
            ctx.undo
                .protect_known(inst, shared_records(ctx, ep))
                .is_some()
        }),
        _ => ctx.protect(C, ep, &read_at).await.is_some(),
    };
    let path = aimed.unwrap_or_else(|| read_at.clone());
    if !protected {
        return ctx
            .findings
            .skip(C, ep, crate::checks::write::unprotected(ctx));
    }
    ctx.findings.ran(C, ep);
    for m in methods {
        let mut req = Request::new(m, path.clone());
        if m != "GET" && m != "DELETE" {
            req = req.json(json!({}));
        }
        let what = format!("{m}, which the catalog does not list for this path,");
        ctx.expect_answer(
            C,
            ep,
            req,
            Expect {
                rule: "method-not-allowed",
                what: &what,
            },
        )
        .await;
    }
    // HEAD and OPTIONS are ONTAP methods wherever GET is: never 405.
    if ep.has(Method::GET) {
        for m in ["HEAD", "OPTIONS"] {
            let what = format!("{m}, an ONTAP method on every endpoint,");
            ctx.expect_answer(
                C,
                ep,
                Request::new(m, read_at.clone()),
                Expect {
                    rule: "head-options",
                    what: &what,
                },
            )
            .await;
        }
    }
    if !ctx.may_destroy() {
        ctx.findings.skip(
            C,
            ep,
            "only PUT was probed; other unlisted methods need --allow-destructive",
        );
    }
}
