//! Redaction, by itself because every output goes through it: the report, the terminal, the
//! recordings and the reproducers all replace secret values with `<redacted>` here. Two ways,
//! both always: by field name (the value of `secret_key`, `password`, ... wherever it appears in
//! JSON or in a shrunk case), and by value ([`Secrets`]: every password, Basic token, value sent
//! for a write-only field and one-time secret seen in an answer, wherever it appears as text).

use crate::client::{Body, Request};
use crate::spec::Spec;
use serde_json::Value;

pub const REDACTED: &str = "<redacted>";

/// Field names whose values are secrets: write-only and POST-response-only fields of any resource.
pub fn secret_names(spec: &Spec) -> Vec<String> {
    // An imported family's write-only fields are many and mostly plain (`name`, `type` of a
    // POST-only object): taken as secret names they would blank every name in every answer.
    // Of those, only the ones named like secrets count; a hand-written family's all do.
    let imported: std::collections::BTreeSet<&str> = spec
        .families
        .iter()
        .filter(|f| f.imported_from.is_some())
        .map(|f| f.resource.as_str())
        .collect();
    let mut names: Vec<String> = spec
        .resources
        .iter()
        .flat_map(|(name, r)| {
            let imported = imported.contains(name.as_str());
            r.secrets()
                .map(|f| f.path.rsplit('.').next().unwrap_or(&f.path).to_string())
                .filter(move |leaf| !imported || looks_secret(leaf))
        })
        .collect();
    names.push("password".into());
    names.sort();
    names.dedup();
    names
}

/// A field name that says it holds a secret (`password`, `secret_key`, `passphrase`,
/// `integration_key`, `auth_token`, `private_key`).
pub fn looks_secret(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "secret",
        "passphrase",
        "token",
        "private",
        "credential",
        "_key",
        "psk",
    ];
    let n = name.to_ascii_lowercase();
    WORDS.iter().any(|w| n.contains(w)) || n == "key"
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

/// The secret values a run knows, to be replaced wherever they appear in any output.
#[derive(Debug, Default)]
pub struct Secrets {
    values: std::sync::RwLock<std::collections::BTreeSet<String>>,
}

/// Values shorter than this are replaced by field name only: a value of a few characters appears
/// in ordinary text too often to be replaced everywhere.
pub const MIN_SECRET_LEN: usize = 4;

impl Secrets {
    pub fn add(&self, v: &str) {
        if v.chars().count() >= MIN_SECRET_LEN && !self.values.read().unwrap().contains(v) {
            self.values.write().unwrap().insert(v.to_string());
        }
    }
    /// Every string under the secret field names of a JSON value (each element of an array).
    pub fn add_fields(&self, v: &Value, names: &[String]) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    if names.iter().any(|n| n == k) {
                        self.add_strings(child);
                    } else {
                        self.add_fields(child, names);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|c| self.add_fields(c, names)),
            _ => {}
        }
    }
    fn add_strings(&self, v: &Value) {
        match v {
            Value::String(s) => self.add(s),
            Value::Array(a) => a.iter().for_each(|c| self.add_strings(c)),
            Value::Object(m) => m.values().for_each(|c| self.add_strings(c)),
            Value::Number(n) => self.add(&n.to_string()),
            _ => {}
        }
    }
    /// The text with every known secret value replaced (longest first, so that a secret holding
    /// another is replaced whole). JSON-escaped forms are replaced too.
    pub fn scrub(&self, text: &str) -> String {
        let values = self.values.read().unwrap();
        if values.is_empty() {
            return text.to_string();
        }
        let mut sorted: Vec<&String> = values.iter().collect();
        sorted.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let mut out = text.to_string();
        for v in sorted {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), REDACTED);
            }
            let escaped = Value::String(v.clone()).to_string();
            let escaped = &escaped[1..escaped.len() - 1];
            if escaped != v && out.contains(escaped) {
                out = out.replace(escaped, REDACTED);
            }
        }
        out
    }
}

/// A text with every secret field's value replaced, whether or not it parses as JSON; a shrunk
/// case's `("secret_key", String("..."))` too.
pub fn redact_text(spec: &Spec, text: &str) -> String {
    let names = secret_names(spec);
    if let Ok(mut v) = serde_json::from_str::<Value>(text) {
        redact_value(&mut v, &names);
        return v.to_string();
    }
    let mut out = redact_debug(text, &names);
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

/// Replaces the value in `"name", String("...")`, the debug form of a generated (field, value)
/// pair, for every secret name.
fn redact_debug(text: &str, names: &[String]) -> String {
    let mut out = text.to_string();
    for n in names {
        let needle = format!("\"{n}\", String(\"");
        let mut from = 0;
        while let Some(pos) = out[from..].find(&needle) {
            let start = from + pos + needle.len();
            let mut end = None;
            let mut esc = false;
            for (i, c) in out[start..].char_indices() {
                if esc {
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else if c == '"' {
                    end = Some(start + i);
                    break;
                }
            }
            let Some(end) = end else { break };
            out.replace_range(start..end, REDACTED);
            from = start + REDACTED.len();
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
        let t = redact_text(
            spec,
            r#"[("secret_key", String("-aa-_")), ("comment", String("c"))]"#,
        );
        assert_eq!(
            t,
            r#"[("secret_key", String("<redacted>")), ("comment", String("c"))]"#
        );
    }

    #[test]
    fn known_values_are_scrubbed_wherever_they_appear() {
        let s = Secrets::default();
        s.add("ab"); // too short to replace everywhere
        s.add("hunter22");
        s.add_fields(
            &json!({"records": [{"emergency_codes": ["11112222", "33334444"], "comment": "x"}]}),
            &["emergency_codes".to_string()],
        );
        let text = "Authorization: hunter22; codes 11112222, \"33334444\"; ab stays";
        assert_eq!(
            s.scrub(text),
            "Authorization: <redacted>; codes <redacted>, \"<redacted>\"; ab stays"
        );
        s.add("a\"quoted\"");
        assert_eq!(s.scrub(r#"{"v":"a\"quoted\""}"#), r#"{"v":"<redacted>"}"#);
    }
}
