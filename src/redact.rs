//! Redaction, by itself because every output goes through it: the report, the terminal, the
//! recordings and the reproducers all replace secret values with `<redacted>` here.

use crate::client::{Body, Request};
use crate::spec::Spec;
use serde_json::Value;

pub const REDACTED: &str = "<redacted>";

/// Field names whose values are secrets: write-only and POST-response-only fields of any resource.
pub fn secret_names(spec: &Spec) -> Vec<String> {
    let mut names: Vec<String> = spec
        .resources
        .values()
        .flat_map(|r| {
            r.secrets()
                .map(|f| f.path.rsplit('.').next().unwrap_or(&f.path).to_string())
        })
        .collect();
    names.push("password".into());
    names.sort();
    names.dedup();
    names
}

fn redact_value(v: &mut Value, names: &[String]) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if names.iter().any(|n| n == k) {
                    *child = Value::String(REDACTED.into());
                } else {
                    redact_value(child, names);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| redact_value(c, names)),
        _ => {}
    }
}

/// Replaces the values of every secret field (write-only, POST-response-only, passwords) in a
/// JSON value, wherever they nest.
pub fn redact_secrets(spec: &Spec, v: &mut Value) {
    redact_value(v, &secret_names(spec));
}

/// A text with every secret field's value replaced, whether or not it parses as JSON.
pub fn redact_text(spec: &Spec, text: &str) -> String {
    let names = secret_names(spec);
    if let Ok(mut v) = serde_json::from_str::<Value>(text) {
        redact_value(&mut v, &names);
        return v.to_string();
    }
    let mut out = text.to_string();
    for n in &names {
        let needle = format!("\"{n}\"");
        let mut from = 0;
        while let Some(pos) = out[from..].find(&needle) {
            let start = from + pos + needle.len();
            let rest = &out[start..];
            let Some(colon) = rest.find(':') else { break };
            let after = &rest[colon + 1..];
            let trimmed = after.trim_start();
            let vstart = start + colon + 1 + (after.len() - trimmed.len());
            if trimmed.starts_with('"') {
                let mut end = None;
                let mut esc = false;
                for (i, c) in trimmed.char_indices().skip(1) {
                    if esc {
                        esc = false;
                    } else if c == '\\' {
                        esc = true;
                    } else if c == '"' {
                        end = Some(i);
                        break;
                    }
                }
                let end = vstart + end.map(|e| e + 1).unwrap_or(trimmed.len());
                out.replace_range(vstart..end, &format!("\"{REDACTED}\""));
                from = vstart + REDACTED.len() + 2;
            } else {
                from = vstart;
            }
            if from >= out.len() {
                break;
            }
        }
    }
    out
}

/// A request with the secrets of its body redacted.
pub fn redact_request(spec: &Spec, req: &Request) -> Request {
    let mut r = req.clone();
    r.body = match &req.body {
        Some(Body::Json(v)) => {
            let mut v = v.clone();
            redact_value(&mut v, &secret_names(spec));
            Some(Body::Json(v))
        }
        Some(Body::Raw(s)) => Some(Body::Raw(redact_text(spec, s))),
        None => None,
    };
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_everywhere() {
        let spec = Spec::builtin();
        let t = redact_text(spec, r#"{"secret_key":"s3cr3t","comment":"ok"}"#);
        assert!(!t.contains("s3cr3t") && t.contains("ok"), "{t}");
        let t = redact_text(spec, r#"{"secret_key": "s3cr3t", "x": [tr"#);
        assert!(!t.contains("s3cr3t"), "{t}");
        let req = Request::new("PATCH", "/x").json(json!({"secret_key": "s3cr3t", "comment": "c"}));
        let r = redact_request(spec, &req);
        assert!(!format!("{r:?}").contains("s3cr3t"));
    }
}
