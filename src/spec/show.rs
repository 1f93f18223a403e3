//! `spec list` and `spec show`: the catalog and one entry, for people.

use super::resource::Field;
use super::{Endpoint, Spec};
use std::fmt::Write;

/// The catalog: one line per endpoint.
pub fn list(spec: &Spec) -> String {
    let mut out = String::new();
    let width = spec
        .endpoints
        .iter()
        .map(|e| e.path().len())
        .max()
        .unwrap_or(10)
        .max(8);
    let methods: Vec<String> = spec
        .endpoints
        .iter()
        .map(|ep| {
            ep.def
                .methods
                .iter()
                .map(|(m, d)| match &d.removed_in {
                    Some(r) => format!("{m}(<{r})"),
                    None => m.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let mwidth = methods.iter().map(String::len).max().unwrap_or(7).max(7);
    let _ = writeln!(
        out,
        "{:<width$}  {:<mwidth$}  {:<10}  {:>5}  EVIDENCE",
        "ENDPOINT", "METHODS", "INTRODUCED", "RULES"
    );
    for (ep, methods) in spec.endpoints.iter().zip(&methods) {
        let _ = writeln!(
            out,
            "{:<width$}  {:<mwidth$}  {:<10}  {:>5}  {}",
            ep.path(),
            methods,
            ep.def.introduced_in,
            spec.rule_count(ep),
            ep.def.evidence
        );
    }
    let _ = writeln!(
        out,
        "\n{} endpoints, {} definitions, {} shared rules (contract: {})",
        spec.endpoints.len(),
        spec.schemas.len(),
        spec.conventions.len(),
        spec.source
    );
    out
}

/// Why `spec show` has nothing to show (a usage error for the command line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShowError {
    /// The name is neither a definition nor an endpoint; the message lists both.
    #[error(
        "spec show {name:?}: no such definition or endpoint; expected one of the definitions {} or the paths {}",
        definitions.join(", "),
        paths.join(", ")
    )]
    NoSuchEntry {
        name: String,
        definitions: Vec<String>,
        paths: Vec<String>,
    },
}

impl From<ShowError> for crate::error::Error {
    fn from(e: ShowError) -> Self {
        crate::error::Error::Usage(e.to_string())
    }
}

/// One definition or one endpoint.
/// Err names the unknown `name` and what exists.
pub fn show(spec: &Spec, name: &str, json: bool) -> Result<String, ShowError> {
    let trimmed = name.trim_end_matches('/');
    let with_api = if trimmed.starts_with("/api") {
        trimmed.to_string()
    } else {
        format!("/api{}", trimmed)
    };
    if let Some(ep) = spec.endpoint(trimmed).or_else(|| spec.endpoint(&with_api)) {
        return Ok(if json {
            serde_json::to_string_pretty(&ep.def).expect("JSON") + "\n"
        } else {
            show_endpoint(spec, ep)
        });
    }
    let schema_name = name.trim_end_matches(".json");
    if let Some(doc) = spec.schemas.get(schema_name) {
        if json {
            return Ok(serde_json::to_string_pretty(&doc.value).expect("JSON") + "\n");
        }
        return Ok(show_schema(spec, schema_name));
    }
    Err(ShowError::NoSuchEntry {
        name: name.to_string(),
        definitions: spec.schemas.keys().cloned().collect(),
        paths: spec
            .endpoints
            .iter()
            .map(|e| e.path().to_string())
            .collect(),
    })
}

fn show_endpoint(spec: &Spec, ep: &Endpoint) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  ({:?}, family {}, resource {}, introduced in {}, evidence {})",
        ep.path(),
        ep.kind(),
        ep.family,
        ep.resource,
        ep.def.introduced_in,
        ep.def.evidence
    );
    for p in &ep.def.path_parameters {
        let _ = writeln!(out, "  path key {}: {}", p.name, p.description);
    }
    for (m, d) in &ep.def.methods {
        let _ = writeln!(out, "\n  {m}  [{}]  {}", d.evidence, d.summary);
        if let Some(cli) = &d.cli {
            let _ = writeln!(out, "    ONTAP CLI: {cli}");
        }
        if !d.query.is_empty() {
            let _ = writeln!(out, "    query: {}", d.query.join(", "));
        }
        if let Some(r) = &d.request {
            let _ = writeln!(out, "    request body: {r}");
        }
        if !d.required.is_empty() {
            let _ = writeln!(out, "    required in body: {}", d.required.join(", "));
        }
        let responses: Vec<String> = d
            .responses
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        let _ = writeln!(out, "    responses: {}", responses.join("; "));
        for e in &d.errors {
            let status: Vec<String> = e.status.iter().map(u16::to_string).collect();
            let _ = writeln!(
                out,
                "    error {} (status {}) [{}]: {}",
                e.code,
                status.join("|"),
                e.evidence,
                e.when
            );
        }
        if d.destructive {
            let _ = writeln!(
                out,
                "    destructive: runs only with --allow-destructive or against the built-in mock"
            );
        }
        if let (Some(r), Some(err)) = (&d.removed_in, &d.removed_error) {
            let _ = writeln!(
                out,
                "    removed in {r}: answers error {} \"{}\"",
                err.code, err.message
            );
        }
    }
    let _ = writeln!(out, "\n  Rules ({}):", spec.rule_count(ep));
    for r in &ep.def.rules {
        let _ = writeln!(out, "    [{}] {}: {}", r.evidence, r.id, r.text);
    }
    for r in spec.conventions_for(ep) {
        let _ = writeln!(out, "    [{}] {} (shared): {}", r.evidence, r.id, r.text);
    }
    let _ = writeln!(
        out,
        "    and the documented error codes above and the field rules of `spec show {}`",
        ep.resource
    );
    out
}

fn show_schema(spec: &Spec, name: &str) -> String {
    let doc = &spec.schemas[name];
    let mut out = String::new();
    let title = doc
        .value
        .get("title")
        .and_then(|t| t.as_str())
        .unwrap_or(name);
    let desc = doc
        .value
        .get("description")
        .and_then(|t| t.as_str())
        .unwrap_or("");
    let _ = writeln!(out, "{name} ({title}), {}\n  {desc}", doc.file);
    if let Some(res) = spec.resource(name) {
        let _ = writeln!(out, "\n  keys: {}", res.keys.join(", "));
        let width = res.fields.iter().map(|f| f.path.len()).max().unwrap_or(5);
        let _ = writeln!(
            out,
            "\n  {:<width$}  {:<8}  CONSTRAINTS / FLAGS",
            "FIELD", "TYPE"
        );
        for f in &res.fields {
            let notes = field_notes(f);
            let _ = writeln!(
                out,
                "  {:<width$}  {:<8}  {}",
                f.path,
                f.ty.as_str(),
                notes.join("; ")
            );
        }
    } else if let Some(props) = doc.value.get("properties").and_then(|p| p.as_object()) {
        let _ = writeln!(out);
        for (k, v) in props {
            let ty = v
                .get("type")
                .and_then(|t| t.as_str())
                .map(String::from)
                .or_else(|| {
                    v.get("$ref")
                        .and_then(|r| r.as_str())
                        .map(|r| r.trim_end_matches(".json").to_string())
                })
                .unwrap_or_default();
            let d = v.get("description").and_then(|t| t.as_str()).unwrap_or("");
            let _ = writeln!(out, "  {k:<14} {ty:<22} {d}");
        }
    } else if let Some(r) = doc.value.get("$ref").and_then(|r| r.as_str()) {
        let _ = writeln!(
            out,
            "  the same definition as {}",
            r.trim_end_matches(".json")
        );
    }
    out
}

/// What `spec show` says of a field beside its type: its constraints and flags, each with the
/// evidence behind it, and where a derived field comes from.
fn field_notes(f: &Field) -> Vec<String> {
    let mut notes = Vec::new();
    if !f.enum_values.is_empty() {
        let vals: Vec<String> = f.enum_values.iter().map(|v| v.to_string()).collect();
        notes.push(format!(
            "enum {} [{}]",
            vals.join("|"),
            f.evidence_of("enum")
        ));
    }
    if f.minimum.is_some() || f.maximum.is_some() {
        notes.push(format!(
            "{}..{} [{}]",
            f.minimum.map(|m| m.to_string()).unwrap_or_default(),
            f.maximum.map(|m| m.to_string()).unwrap_or_default(),
            f.evidence_of("maximum")
        ));
    }
    if let Some(m) = f.max_length {
        notes.push(format!(
            "length {}..{m} [{}]",
            f.min_length.unwrap_or(0),
            f.evidence_of("maxLength")
        ));
    }
    let fl = &f.flags;
    for (on, label, kw) in [
        (fl.key, "key", ""),
        (fl.read_only, "read-only", "x-ontap-read-only"),
        (
            fl.patch_forbidden,
            "PATCH-forbidden",
            "x-ontap-patch-forbidden",
        ),
        (
            fl.write_only,
            "write-only (never returned)",
            "x-ontap-write-only",
        ),
        (
            fl.post_response_only,
            "only in the POST answer",
            "x-ontap-post-response-only",
        ),
        (fl.admin_only, "admin-only", "x-ontap-admin-only"),
        (
            fl.crlf_normalised,
            "CRLF returned as LF",
            "x-ontap-crlf-normalised",
        ),
        (fl.empty_unsets, "\"\" unsets", "x-ontap-empty-unsets"),
        (fl.post_forbidden, "not postable", "x-ontap-post-forbidden"),
        (
            fl.trailing_lf,
            "trailing LF appended",
            "x-ontap-trailing-lf",
        ),
        (fl.lockout, "lock-out risk", ""),
        (fl.patch_untested, "PATCH left untested", ""),
    ] {
        if on {
            if kw.is_empty() {
                notes.push(label.to_string());
            } else {
                notes.push(format!("{label} [{}]", f.evidence_of(kw)));
            }
        }
    }
    if let Some(src) = &f.derived_from {
        notes.push(format!("derived from {src}"));
    }
    notes
}
