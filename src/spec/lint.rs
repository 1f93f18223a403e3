//! `spec lint`: checks the NetApp reference pages' own JSON examples against the declared types.
//! The docs contradict themselves in places (ONTAP-BEHAVIOR.md section 6); the declared types win,
//! and this finds every such example by validation, so a new seed page needs no new code.

use super::seeds::{self, Example, Seed};
use super::{Kind, Method, Spec};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// The example is not JSON at all.
    InvalidJson,
    /// A value contradicts the declared type, enum, range or length.
    Contradiction,
    /// The generator's placeholder "string" where an enum is declared.
    Placeholder,
    /// Two examples spell one value differently (`Ok` and `OK`).
    Inconsistent,
    /// A JSON example that the catalog gives no schema for: a gap in `specs/` itself, the only
    /// kind of finding that makes `spec lint` fail.
    Unmatched,
}

#[derive(Debug, Clone, Serialize)]
pub struct LintFinding {
    pub kind: FindingKind,
    /// `seed-file:line`.
    pub at: String,
    /// `Example response (GET /api/...)`.
    pub example: String,
    pub schema: Option<String>,
    pub pointer: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct LintReport {
    pub examples: usize,
    pub checked: usize,
    pub findings: Vec<LintFinding>,
}

impl LintReport {
    pub fn count(&self, kind: FindingKind) -> usize {
        self.findings.iter().filter(|f| f.kind == kind).count()
    }
    /// Findings that are defects of `specs/` rather than of the docs.
    pub fn defects(&self) -> usize {
        self.count(FindingKind::Unmatched)
    }
}

/// The schema an example should satisfy, from where it stands in the page.
fn schema_for(spec: &Spec, ex: &Example, value: &Value) -> Option<String> {
    if value.get("error").is_some() {
        return Some("error_response".into());
    }
    let (m, path) = ex.section.as_ref()?;
    let (ep, _) = spec.route(path)?;
    let method = Method::parse(m)?;
    let def = ep.method(method).or_else(|| ep.method(Method::GET))?;
    if ex.label.to_ascii_lowercase().contains("request") {
        return def.request.clone();
    }
    if value.get("records").is_some() || value.get("num_records").is_some() {
        let coll = if ep.kind() == Kind::Collection {
            ep
        } else {
            spec.collection_of(ep)?
        };
        return coll.method(Method::GET)?.responses.get("200").cloned();
    }
    if value.as_object().is_some_and(|o| o.is_empty()) {
        return Some("empty_response".into());
    }
    if matches!(ep.kind(), Kind::Instance | Kind::Singleton) {
        return ep.method(Method::GET)?.responses.get("200").cloned();
    }
    Some(ep.resource.clone())
}

fn describe(ex: &Example) -> String {
    match &ex.section {
        Some((m, p)) => format!("{} ({m} {p})", ex.label),
        None => ex.label.clone(),
    }
}

/// Lints every example of the seeds against the contract.
pub fn lint(spec: &Spec, seeds: &[Seed]) -> LintReport {
    let mut report = LintReport::default();
    let mut spellings = Spellings::new();
    for seed in seeds {
        for ex in &seed.examples {
            lint_example(spec, ex, &mut report, &mut spellings);
        }
    }
    report.findings.extend(inconsistent_spellings(spellings));
    report
}

/// Each value of a field, by (field, value in lower case), as it is spelled and where first.
type Spellings = BTreeMap<(String, String), BTreeMap<String, String>>;

/// One example: parsed (once more without trailing commas when it is not valid JSON), matched
/// to its schema and validated; its text values noted in `spellings`.
fn lint_example(spec: &Spec, ex: &Example, report: &mut LintReport, spellings: &mut Spellings) {
    report.examples += 1;
    let at = format!("{}:{}", ex.file, ex.line);
    let text = seeds::rejoin_broken_strings(&ex.text);
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            report.findings.push(LintFinding {
                kind: FindingKind::InvalidJson,
                at: at.clone(),
                example: describe(ex),
                schema: None,
                pointer: String::new(),
                message: format!("not valid JSON: {e} (line {} of the example)", e.line()),
            });
            // Still check its values once the trailing commas are gone.
            match serde_json::from_str(&seeds::drop_trailing_commas(&text)) {
                Ok(v) => v,
                Err(_) => return,
            }
        }
    };
    let Some(schema) = schema_for(spec, ex, &value) else {
        report.findings.push(LintFinding {
            kind: FindingKind::Unmatched,
            at: at.clone(),
            example: describe(ex),
            schema: None,
            pointer: String::new(),
            message: "no schema in the catalog for this example: add the endpoint, method or request/response definition to specs/".into(),
        });
        return;
    };
    report.checked += 1;
    for v in spec.validate(&schema, &value) {
        let found = value.pointer(&v.pointer);
        let placeholder =
            found.and_then(Value::as_str) == Some("string") && v.message.contains("is not one of");
        report.findings.push(LintFinding {
            kind: if placeholder {
                FindingKind::Placeholder
            } else {
                FindingKind::Contradiction
            },
            at: at.clone(),
            example: describe(ex),
            schema: Some(schema.clone()),
            pointer: v.pointer,
            message: v.message,
        });
    }
    for (path, leaf) in super::resource::leaf_paths(&value) {
        if let Some(s) = leaf.as_str()
            && s != "string"
        {
            let field = path.rsplit('.').next().unwrap_or(&path).to_string();
            spellings
                .entry((field, s.to_lowercase()))
                .or_default()
                .entry(s.to_string())
                .or_insert_with(|| at.clone());
        }
    }
}

/// A value spelled in more than one way across the examples.
fn inconsistent_spellings(spellings: Spellings) -> Vec<LintFinding> {
    let mut out = Vec::new();
    for ((field, _), variants) in spellings {
        if variants.len() > 1 {
            let list: Vec<String> = variants
                .iter()
                .map(|(v, at)| format!("{v:?} at {at}"))
                .collect();
            out.push(LintFinding {
                kind: FindingKind::Inconsistent,
                at: variants.values().next().cloned().unwrap_or_default(),
                example: format!("field {field}"),
                schema: None,
                pointer: String::new(),
                message: format!("one value spelled differently: {}", list.join(", ")),
            });
        }
    }
    out
}

/// The human rendering of a lint report.
pub fn render(report: &LintReport) -> String {
    let mut out = String::new();
    let groups = [
        (
            FindingKind::Unmatched,
            "Doc examples the catalog has no schema for (defects of specs/)",
        ),
        (
            FindingKind::InvalidJson,
            "Doc examples that are not valid JSON",
        ),
        (
            FindingKind::Contradiction,
            "Doc examples that contradict the declared types (the declared types win)",
        ),
        (
            FindingKind::Inconsistent,
            "Doc examples that spell one value differently",
        ),
        (
            FindingKind::Placeholder,
            "Doc examples with the placeholder \"string\" where an enum is declared",
        ),
    ];
    for (kind, title) in groups {
        let items: Vec<&LintFinding> = report.findings.iter().filter(|f| f.kind == kind).collect();
        if items.is_empty() {
            continue;
        }
        out.push_str(&format!("{title} ({}):\n", items.len()));
        for f in items {
            let ptr = if f.pointer.is_empty() {
                String::new()
            } else {
                format!(" at {}", f.pointer)
            };
            let schema = f
                .schema
                .as_deref()
                .map(|s| format!(" [{s}]"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {}  {}{schema}{ptr}: {}\n",
                f.at, f.example, f.message
            ));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "{} examples read, {} checked against a schema; {} invalid JSON, {} contradictions, {} inconsistent spellings, {} placeholders. specs/: {}.\n",
        report.examples,
        report.checked,
        report.count(FindingKind::InvalidJson),
        report.count(FindingKind::Contradiction),
        report.count(FindingKind::Inconsistent),
        report.count(FindingKind::Placeholder),
        match report.defects() {
            0 => "no defects".to_string(),
            n => format!("{n} defects"),
        },
    ));
    out
}
