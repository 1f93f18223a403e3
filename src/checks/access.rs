//! Access checks: what an SVM administrator may see and change, and which methods a path refuses.

use crate::checks;
use crate::checks::ctx::{Ctx, Expect};
use crate::checks::read::{baseline, identity, sample_paths};
use crate::checks::write::{body_of, different_value, visible_to_svm};
use crate::client::{Auth, Request};
use crate::spec::Endpoint;
use crate::spec::model::{Condition, Kind, Method};
use crate::spec::resource::get_path;
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
            let res = ctx.spec.resource_of(ep);
            let guarded: Vec<_> = res.patchable().filter(|f| f.flags.admin_only).collect();
            if guarded.is_empty() || !ep.has(Method::PATCH) {
                return ctx.findings.skip(C, ep, "no admin-only field to protect");
            }
            if svm_auth == Auth::Tunnel {
                return ctx.findings.skip(
                    C,
                    ep,
                    format!("admin-only fields are about the role: {TUNNEL_KEEPS_ROLE}"),
                );
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
                let Some(guard) = ctx.protect(C, ep, &path).await else {
                    continue;
                };
                // Never written unless its original was read.
                if get_path(guard.original(), &f.path).is_none() {
                    continue;
                }
                let Some(x) = ctx
                    .send(
                        C,
                        ep,
                        Request::new("PATCH", path.clone())
                            .json(body_of(&[(f.path.clone(), value)]))
                            .auth(svm_auth),
                    )
                    .await
                else {
                    continue;
                };
                // The rule's answers, or the error the catalog documents for this field.
                let documented =
                    ep.documented_error(Method::PATCH, Condition::RoleDenied, Some(&f.path));
                let refused = checks::answers(ctx.spec, "role-denied", &x.response)
                    || documented.is_some_and(|e| {
                        e.status.contains(&x.response.status)
                            && x.response.error_code().as_deref() == Some(e.code.as_str())
                    });
                let denied = checks::describe(ctx.spec, "role-denied");
                let after = ctx
                    .client
                    .send(Request::get(format!("{path}?fields=*")))
                    .await
                    .ok()
                    .and_then(|a| a.response.json);
                let changed = after
                    .as_ref()
                    .is_some_and(|a| get_path(a, &f.path) != get_path(guard.original(), &f.path));
                if x.response.is_success() || changed {
                    ctx.finding(C, ep, "PATCH", "admin-only")
                        .evidence(f.evidence_of("x-ontap-admin-only"))
                        .message(format!(
                            "{who} changed the admin-only {} ({}; now {})",
                            f.path,
                            x.response.summary(),
                            crate::verdict::show_value(
                                after.as_ref().and_then(|a| get_path(a, &f.path))
                            )
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
                ctx.findings.ran(C, ep);
            } else {
                ctx.findings.skip(
                    C,
                    ep,
                    format!("no admin-only field with a value on a record {who} sees"),
                );
            }
        }
    }
}

pub async fn method_not_allowed(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "method-not-allowed";
    let Some(path) = sample_paths(ctx, ep, 1).into_iter().next() else {
        return ctx.findings.skip(C, ep, "no record to address");
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
    let protected = match ep.kind() {
        Kind::Collection => ctx.spec.instance_of(ep).is_some_and(|inst| {
            ctx.undo
                .protect_known(inst, crate::checks::read::baseline(ctx, ep).iter())
                .is_some()
        }),
        _ => ctx.protect(C, ep, &path).await.is_some(),
    };
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
                Request::new(m, path.clone()),
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
