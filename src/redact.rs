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

/// [`redact_secrets`] with the contract's [`secret_names`] worked out once by the caller (who
/// redacts many records).
pub fn redact_named(v: &mut Value, names: &[String]) {
    redact_value(v, names);
}

/// The secret values a run knows, to be replaced wherever they appear in any output, in every
/// encoding a target may echo them in (see [`forms`]).
#[derive(Debug, Default)]
pub struct Secrets {
    values: std::sync::RwLock<std::collections::BTreeSet<String>>,
    /// Values too common to be replaced everywhere (a schema placeholder such as "string", a
    /// value the contract shows as an example): a secret field holding one is redacted by its
    /// name only.
    common: std::sync::RwLock<std::collections::BTreeSet<String>>,
}

/// Values shorter than this are replaced by field name only: a value of a few characters appears
/// in ordinary text too often to be replaced everywhere. Passwords and tokens are replaced by
/// value whatever their length ([`Secrets::add_password`]).
pub const MIN_SECRET_LEN: usize = 4;

/// Placeholders generators and mocks put in any string field (Prism answers `"string"`).
const PLACEHOLDERS: &[&str] = &[
    "string",
    "password",
    "secret",
    "example",
    "changeme",
    "null",
    "true",
    "false",
    "<redacted>",
];

/// Encoded forms shorter than this are not replaced (a two-byte hex form is a number).
const MIN_FORM_LEN: usize = 6;

/// Values the contract itself shows (examples, defaults, enum members) and the usual
/// placeholders: never taken for secrets by value.
pub fn common_values(spec: &Spec) -> std::collections::BTreeSet<String> {
    let mut out: std::collections::BTreeSet<String> =
        PLACEHOLDERS.iter().map(|s| s.to_string()).collect();
    let mut text = |v: &Value| match v {
        Value::String(s) => {
            out.insert(s.clone());
        }
        Value::Number(n) => {
            out.insert(n.to_string());
        }
        _ => {}
    };
    for r in spec.resources.values() {
        for f in &r.fields {
            f.enum_values.iter().for_each(&mut text);
            for k in ["example", "default", "const"] {
                if let Some(v) = f.schema.get(k) {
                    text(v);
                }
            }
            for k in ["examples", "enum"] {
                if let Some(Value::Array(a)) = f.schema.get(k) {
                    a.iter().for_each(&mut text);
                }
            }
        }
    }
    out
}

/// Every form of a secret a target may echo: as it is, JSON-escaped (with and without `\uXXXX`
/// for non-ASCII, and `\/`), URL-encoded (`%20` and `+`, upper- and lower-case hex), base64
/// (standard and URL-safe, with and without padding) and hex (lower and upper case). Encoded
/// forms shorter than 6 characters are left out.
pub fn forms(v: &str) -> Vec<String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let mut out = vec![v.to_string()];
    let json = Value::String(v.to_string()).to_string();
    let json = json[1..json.len() - 1].to_string();
    let mut ascii = String::new();
    for c in json.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                ascii.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    let upper_u = {
        // \u00E9 as well as \u00e9.
        let mut t = String::new();
        let mut rest = ascii.as_str();
        while let Some(i) = rest.find("\\u") {
            t.push_str(&rest[..i + 2]);
            let hex: String = rest[i + 2..].chars().take(4).collect();
            t.push_str(&hex.to_ascii_uppercase());
            rest = &rest[i + 2 + hex.len()..];
        }
        t.push_str(rest);
        t
    };
    let slash = json.replace('/', "\\/");
    let mut pct = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            pct.push(b as char);
        } else {
            pct.push_str(&format!("%{b:02X}"));
        }
    }
    let pct_lower = {
        let mut t = String::new();
        let mut it = pct.chars();
        while let Some(c) = it.next() {
            t.push(c);
            if c == '%' {
                t.extend(it.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
            }
        }
        t
    };
    let plus = pct.replace("%20", "+");
    let hex: String = v.bytes().map(|b| format!("{b:02x}")).collect();
    let encoded = [
        json,
        ascii,
        upper_u,
        slash,
        pct,
        pct_lower,
        plus,
        STANDARD.encode(v),
        STANDARD_NO_PAD.encode(v),
        URL_SAFE.encode(v),
        URL_SAFE_NO_PAD.encode(v),
        hex.to_ascii_uppercase(),
        hex,
    ];
    for f in encoded {
        if f.chars().count() >= MIN_FORM_LEN && !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

impl Secrets {
    /// A secret value seen in a secret field: replaced by value unless it is too short or too
    /// common (then by field name only).
    pub fn add(&self, v: &str) {
        if v.chars().count() < MIN_SECRET_LEN || self.common.read().unwrap().contains(v) {
            return;
        }
        self.insert(v);
    }

    /// A password or a token: replaced by value whatever it is.
    pub fn add_password(&self, v: &str) {
        if !v.is_empty() {
            self.insert(v);
        }
    }

    fn insert(&self, v: &str) {
        if !self.values.read().unwrap().contains(v) {
            self.values.write().unwrap().insert(v.to_string());
        }
    }

    /// Values never taken for secrets by value (see [`common_values`]); those already known
    /// are forgotten, unless they are passwords added since.
    pub fn ignore_common(&self, common: std::collections::BTreeSet<String>) {
        *self.common.write().unwrap() = common;
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
    /// The text with every known secret value replaced in each of its [`forms`] (longest
    /// first, so that a secret holding another is replaced whole).
    pub fn scrub(&self, text: &str) -> String {
        let values = self.values.read().unwrap();
        if values.is_empty() {
            return text.to_string();
        }
        let mut all: Vec<String> = values.iter().flat_map(|v| forms(v)).collect();
        all.sort_by_key(|v| std::cmp::Reverse(v.len()));
        all.dedup();
        let mut out = text.to_string();
        for v in all {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), REDACTED);
            }
        }
        out
    }
}

/// Control characters of a text from a target, escaped as the JSON report writes them
/// (`\u001b`), so that a terminal never interprets them; newlines and tabs are kept.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
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
    fn every_encoding_of_a_secret_is_scrubbed() {
        use base64::Engine;
        let s = Secrets::default();
        let pw = "Pa\"ss\\wörd-9";
        s.add_password(pw);
        let b64 = base64::engine::general_purpose::STANDARD.encode(pw);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pw);
        let hex: String = pw.bytes().map(|b| format!("{b:02X}")).collect();
        for echoed in [
            pw.to_string(),
            r#"Pa\"ss\\wörd-9"#.to_string(),
            r#"Pa\"ss\\w\u00f6rd-9"#.to_string(),
            r#"Pa\"ss\\w\u00F6rd-9"#.to_string(),
            "Pa%22ss%5Cw%C3%B6rd-9".to_string(),
            "Pa%22ss%5cw%c3%b6rd-9".to_string(),
            b64,
            url,
            hex.clone(),
            hex.to_ascii_lowercase(),
        ] {
            assert_eq!(s.scrub(&format!("[{echoed}]")), "[<redacted>]", "{echoed}");
        }
        // A password is replaced whatever its length.
        s.add_password("ab");
        assert_eq!(s.scrub("x ab y"), "x <redacted> y");
    }

    #[test]
    fn values_too_common_to_be_secrets_are_redacted_by_field_name_only() {
        let common = common_values(Spec::builtin());
        assert!(common.contains("string") && common.contains("secure"));
        let s = Secrets::default();
        s.ignore_common(common);
        s.add_fields(
            &json!({"secret_key": "string", "verification_code": "secure", "install_url": "otpauth://x"}),
            &["secret_key".to_string(), "verification_code".to_string(), "install_url".to_string()],
        );
        assert_eq!(
            s.scrub("a string, secure, otpauth://x"),
            "a string, secure, <redacted>"
        );
        assert_eq!(
            redact_text(Spec::builtin(), r#"{"secret_key":"string"}"#),
            r#"{"secret_key":"<redacted>"}"#
        );
    }

    #[test]
    fn control_characters_are_escaped_as_in_the_reports() {
        assert_eq!(
            escape_controls("a\u{1b}[2J\u{7}b\n\tc"),
            "a\\u001b[2J\\u0007b\n\tc"
        );
        assert!(matches!(
            escape_controls("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
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
