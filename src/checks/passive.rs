//! The passive checks (response-schema, status-code, error-envelope): they send nothing of their
//! own and judge every exchange any check makes, as it passes through `Ctx::send`. A judgement is
//! returned, not recorded: the caller keeps the outcomes and aggregates the findings (see
//! [`super::findings::Findings::aggregate`]). This module knows nothing of the context.

use super::judge;
use crate::client::Exchange;
use crate::spec::model::{Kind, Method};
use crate::spec::{Endpoint, Spec};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Mutex;

/// One broken rule seen in one exchange; `key` tells problems of the same rule apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub check: &'static str,
    pub rule: &'static str,
    pub key: String,
    /// At most 240 characters (schema messages quote whole values).
    pub message: String,
    /// What the reproducer says was expected instead.
    pub expected: String,
}

/// The passive checks' judgement of one exchange: the checks that ran on it, and what they saw.
#[derive(Debug, Default)]
pub struct Judgement {
    pub ran: Vec<&'static str>,
    pub seen: Vec<Seen>,
}

/// The passive judge of a run. An answer whose body was already judged clean for the same
/// endpoint, method and status is not judged again (the judgement is a function of those alone,
/// and a body id names the same bytes for the whole run).
#[derive(Default)]
pub struct Passive {
    /// (endpoint, method, status, body id) of answers the passive checks found nothing in.
    judged_clean: Mutex<HashSet<(usize, Method, u16, u64)>>,
}

impl Passive {
    /// Judges an exchange with the passive checks (nothing, for an answer already judged clean).
    pub fn judge(&self, spec: &Spec, ep: &Endpoint, x: &Exchange) -> Judgement {
        let Some(method) = Method::parse(&x.request.method) else {
            return Judgement::default();
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
            && self.judged_clean.lock().unwrap().contains(k)
        {
            return Judgement::default();
        }
        let j = judge_exchange(spec, ep, method, x);
        if j.seen.is_empty()
            && let Some(k) = key
        {
            self.judged_clean.lock().unwrap().insert(k);
        }
        j
    }
}

/// The passive checks' judgement of one exchange.
fn judge_exchange(spec: &Spec, ep: &Endpoint, method: Method, x: &Exchange) -> Judgement {
    let mut ran: Vec<&'static str> = Vec::new();
    let mut seen: Vec<Seen> = Vec::new();
    let mut report =
        |check: &'static str, rule: &'static str, key: String, message: String, expected: &str| {
            seen.push(Seen {
                check,
                rule,
                key,
                message: shorten(&message, 240),
                expected: expected.to_string(),
            });
        };
    let Some(def) = ep.method(method) else {
        return Judgement { ran, seen };
    };
    let resp = &x.response;
    if resp.is_success() {
        ran.push("status-code");
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
            return Judgement { ran, seen };
        };
        ran.push("response-schema");
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
            return Judgement { ran, seen };
        };
        for v in if spec.is_valid(schema, json) {
            Vec::new()
        } else {
            spec.validate(schema, json)
        } {
            let norm: String = v
                .pointer
                .split('/')
                .map(|s| if s.parse::<usize>().is_ok() { "*" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            if let Some(field) = over_only_by_trailing_lf(spec, ep, json, &v.pointer) {
                // ONTAP appends a LF to a value that lacks one (lib), also at the limit: the
                // maxLength was met by what was sent (obs: a warning).
                report(
                    "response-schema",
                    "trailing-lf",
                    norm.clone(),
                    format!(
                        "{norm}: {field} is over its maxLength only by a trailing LF (ONTAP appends one)"
                    ),
                    &format!("a body valid against {schema}"),
                );
                continue;
            }
            report(
                "response-schema",
                "response-schema",
                norm.clone(),
                format!("{norm}: {}", v.message),
                &format!("a body valid against {schema}"),
            );
        }
        if method == Method::GET {
            let res = spec.resource_of(ep);
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
        ran.push("error-envelope");
        for p in judge::envelope_problems(spec, resp) {
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
    Judgement { ran, seen }
}

/// The field at `pointer` when its value breaks only its maxLength, by the one trailing LF that
/// ONTAP appends to a value of an `x-ontap-trailing-lf` field.
fn over_only_by_trailing_lf(
    spec: &Spec,
    ep: &Endpoint,
    json: &Value,
    pointer: &str,
) -> Option<String> {
    let s = json.pointer(pointer)?.as_str()?;
    let segments: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let path = match segments.as_slice() {
        ["records", i, rest @ ..] if i.parse::<usize>().is_ok() => rest.join("."),
        rest => rest.join("."),
    };
    let field = spec.resource_of(ep).field(&path)?;
    let max = field.max_length?;
    (field.flags.trailing_lf && s.ends_with('\n') && s.chars().count() as u64 == max + 1)
        .then_some(path)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Request, Response};
    use std::sync::Arc;

    #[test]
    fn a_value_over_its_max_length_only_by_ontaps_trailing_lf_is_told_apart() {
        let spec = Spec::builtin();
        let ep = spec
            .endpoint("/api/security/login/messages/{uuid}")
            .unwrap();
        let coll = spec.endpoint("/api/security/login/messages").unwrap();
        let at_limit = "x".repeat(2048);
        let body = |b: String| serde_json::json!({ "uuid": "u", "banner": b });
        let over = |ep, v: &Value, p: &str| over_only_by_trailing_lf(spec, ep, v, p);
        assert_eq!(
            over(ep, &body(format!("{at_limit}\n")), "/banner").as_deref(),
            Some("banner")
        );
        let records = serde_json::json!({ "records": [body(format!("{at_limit}\n"))] });
        assert_eq!(
            over(coll, &records, "/records/0/banner").as_deref(),
            Some("banner")
        );
        assert_eq!(over(ep, &body(format!("{at_limit}x")), "/banner"), None);
        assert_eq!(over(ep, &body(format!("{at_limit}x\n")), "/banner"), None);
        // A field without the flag: uuid has no maxLength, comment-like fields do not append.
        assert_eq!(over(ep, &body("u".into()), "/uuid"), None);
    }

    fn answer(ep: &Endpoint, status: u16, body: Value, body_id: Option<u64>) -> Exchange {
        Exchange {
            request: Request::get(ep.path().to_string()),
            response: Response {
                status,
                location: None,
                content_type: Some("application/json".into()),
                text: body.to_string().into(),
                json: Some(Arc::new(body)),
                body_id,
                millis: 0,
            },
        }
    }

    #[test]
    fn a_judgement_is_returned_and_a_clean_answer_is_not_judged_again() {
        let spec = Spec::builtin();
        let ep = spec
            .endpoints
            .iter()
            .find(|e| e.kind() == Kind::Collection && e.has(Method::GET))
            .unwrap();
        let p = Passive::default();
        // An error without its envelope: a finding of error-envelope, judged every time.
        let bad = answer(ep, 404, serde_json::json!({"oops": 1}), Some(1));
        for _ in 0..2 {
            let j = p.judge(spec, ep, &bad);
            assert_eq!(j.ran, ["error-envelope"]);
            assert!(!j.seen.is_empty());
            assert!(j.seen.iter().all(|s| s.check == "error-envelope"));
        }
        // A clean error: judged once, then remembered by its body id.
        let good = answer(
            ep,
            404,
            serde_json::json!({"error": {"message": "entry doesn't exist", "code": "4"}}),
            Some(2),
        );
        let first = p.judge(spec, ep, &good);
        assert_eq!((first.ran, first.seen), (vec!["error-envelope"], vec![]));
        let again = p.judge(spec, ep, &good);
        assert!(again.ran.is_empty() && again.seen.is_empty());
    }

    #[test]
    fn long_messages_are_shortened() {
        let s = shorten(&"x".repeat(300), 240);
        assert!(s.starts_with(&"x".repeat(240)) && s.ends_with("(300 characters)"));
        assert_eq!(shorten("short", 240), "short");
    }
}
