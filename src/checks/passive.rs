//! The passive checks (response-schema, status-code, error-envelope): they send nothing of their
//! own and judge every exchange any check makes, as it passes through [`Ctx::send`]. Findings of
//! the same problem are aggregated (occurrences) and keep the smallest reproducer, so that
//! concurrency cannot change the report.

use super::ctx::Ctx;
use super::{judge, rule_evidence};
use crate::client::Exchange;
use crate::spec::Endpoint;
use crate::spec::model::{Kind, Method};
use crate::verdict::Finding;
use serde_json::Value;

/// One broken rule seen in one exchange; `key` tells problems of the same rule apart.
struct Seen<'a> {
    check: &'a str,
    rule: &'a str,
    key: String,
    message: String,
    expected: &'a str,
}

fn note(ctx: &Ctx, ep: &Endpoint, x: &Exchange, s: Seen<'_>) {
    if !ctx.selected(s.check) {
        return;
    }
    let k = (
        s.check.to_string(),
        ep.path().to_string(),
        x.request.method.clone(),
        s.key,
    );
    let message = shorten(&s.message, 240);
    let mut p = ctx.passive.lock().unwrap();
    if let Some(f) = p.get_mut(&k) {
        f.occurrences += 1;
        // Keep the smallest reproducer, so concurrency cannot change the report.
        let rep = ctx.reproducer(x, s.expected);
        if f.reproducer
            .as_ref()
            .is_none_or(|r| (&rep.curl, &rep.actual) < (&r.curl, &r.actual))
        {
            f.reproducer = Some(rep);
            f.message = message;
        }
        return;
    }
    let finding = Finding::new(
        s.check,
        ep.path(),
        &x.request.method,
        s.rule,
        rule_evidence(ctx.spec, s.rule),
    )
    .message(message)
    .reproducer(Some(ctx.reproducer(x, s.expected)));
    p.insert(k, finding);
}

/// Judges an exchange with the passive checks; an answer whose body was already judged clean
/// for the same endpoint, method and status is not judged again (the judgement is a function of
/// those alone, and a body id names the same bytes for the whole run).
pub fn judge(ctx: &Ctx, ep: &Endpoint, x: &Exchange) {
    let Some(method) = Method::parse(&x.request.method) else {
        return;
    };
    let key = x.response.body_id.map(|id| {
        (
            std::ptr::from_ref(ep) as usize,
            method,
            x.response.status,
            id,
        )
    });
    if let Some(k) = &key
        && ctx.judged_clean.lock().unwrap().contains(k)
    {
        return;
    }
    if judge_exchange(ctx, ep, method, x)
        && let Some(k) = key
    {
        ctx.judged_clean.lock().unwrap().insert(k);
    }
}

/// The passive checks' judgement of one exchange; true when it found nothing.
fn judge_exchange(ctx: &Ctx, ep: &Endpoint, method: Method, x: &Exchange) -> bool {
    let clean = std::cell::Cell::new(true);
    let report = |check: &str, rule: &str, key: String, message: String, expected: &str| {
        clean.set(false);
        note(
            ctx,
            ep,
            x,
            Seen {
                check,
                rule,
                key,
                message,
                expected,
            },
        );
    };
    let Some(def) = ep.method(method) else {
        return clean.get();
    };
    let resp = &x.response;
    if resp.is_success() {
        ctx.ran("status-code", ep);
        let status = resp.status.to_string();
        if !def.responses.contains_key(&status) {
            let documented: Vec<&String> = def
                .responses
                .keys()
                .filter(|s| s.starts_with('2'))
                .collect();
            report(
                "status-code",
                "status-code",
                status.clone(),
                format!("{method} answered {status}; the catalog documents {documented:?}"),
                &format!("one of {documented:?}"),
            );
        }
        let schema = def.responses.get(&status).or_else(|| {
            def.responses
                .iter()
                .find(|(s, _)| s.starts_with('2'))
                .map(|(_, n)| n)
        });
        let Some(schema) = schema else {
            return clean.get();
        };
        ctx.ran("response-schema", ep);
        let Some(json) = &resp.json else {
            if !resp.text.trim().is_empty() || method == Method::GET {
                report(
                    "response-schema",
                    "response-schema",
                    "not-json".into(),
                    "the body is not JSON".into(),
                    &format!("a {schema} object"),
                );
            }
            return clean.get();
        };
        for v in if ctx.spec.is_valid(schema, json) {
            Vec::new()
        } else {
            ctx.spec.validate(schema, json)
        } {
            let norm: String = v
                .pointer
                .split('/')
                .map(|s| if s.parse::<usize>().is_ok() { "*" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            report(
                "response-schema",
                "response-schema",
                norm.clone(),
                format!("{norm}: {}", v.message),
                &format!("a body valid against {schema}"),
            );
        }
        if method == Method::GET {
            let res = ctx.spec.resource_of(ep);
            let records: Vec<&Value> = match ep.kind() {
                Kind::Collection => json
                    .get("records")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().collect())
                    .unwrap_or_default(),
                Kind::Instance | Kind::Singleton => vec![json],
            };
            for r in records {
                for k in judge::missing_keys(res, r) {
                    report(
                        "response-schema",
                        "response-schema",
                        format!("key {k}"),
                        format!("a record lacks its key field {k}"),
                        "every record carries its key fields",
                    );
                }
                for u in judge::unknown_fields(res, r) {
                    report(
                        "response-schema",
                        "unknown-response-field",
                        format!("unknown {u}"),
                        format!("a record holds {u}, which {} does not declare", res.name),
                        "only declared fields",
                    );
                }
            }
        }
    } else {
        ctx.ran("error-envelope", ep);
        for p in judge::envelope_problems(ctx.spec, resp) {
            let key: String = p.chars().take(50).collect();
            report(
                "error-envelope",
                "error-envelope",
                key,
                format!("{} answer: {p}", resp.status),
                "{\"error\": {\"message\": str, \"code\": \"<digits>\"}}",
            );
        }
    }
    clean.get()
}

/// Cuts a message to `max` characters (schema messages quote whole values).
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!(
            "{}… ({} characters)",
            s.chars().take(max).collect::<String>(),
            s.chars().count()
        )
    }
}
