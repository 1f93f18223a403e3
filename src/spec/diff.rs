//! `spec diff OLD NEW`: what an upgrade changes in the API, read from two contracts (two shipped
//! releases, a release and a cluster's own `swagger.yaml`, or a release and `specs/`).
//!
//! Families are paired by name, else by a path they share (key names aside); paths by their
//! shape (`/api/storage/volumes/{}`); fields by their dotted name. What is compared is what the
//! loader knows of each: methods per path, and per field its type, access (read-only, patchable,
//! postable, write-only), enum values and limits.

use super::resource::Field;
use super::{Endpoint, Spec, path_shape as shape};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// One change between two contracts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// `family-added`, `family-removed`, `path-added`, `path-removed`, `method-added`,
    /// `method-removed`, `field-added`, `field-removed`, `field-retyped`, `now-read-only`,
    /// `no-longer-read-only`, `now-patchable`, `no-longer-patchable`, `now-postable`,
    /// `no-longer-postable`, `now-write-only`, `no-longer-write-only`, `enum-added`,
    /// `enum-removed`, `limit-changed`.
    pub kind: &'static str,
    pub family: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// Every change from `old` to `new`.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub old: String,
    pub new: String,
    pub changes: Vec<Difference>,
}

impl Difference {
    fn new(kind: &'static str, family: &str) -> Difference {
        Difference {
            kind,
            family: family.to_string(),
            path: None,
            method: None,
            field: None,
            old: None,
            new: None,
        }
    }
    fn path(mut self, p: &str) -> Difference {
        self.path = Some(p.to_string());
        self
    }
    fn field(mut self, f: &str) -> Difference {
        self.field = Some(f.to_string());
        self
    }
    fn values(mut self, old: Value, new: Value) -> Difference {
        self.old = Some(old);
        self.new = Some(new);
        self
    }
}

struct Side<'a> {
    spec: &'a Spec,
    /// family -> its endpoints
    families: BTreeMap<&'a str, Vec<&'a Endpoint>>,
}

impl<'a> Side<'a> {
    fn new(spec: &'a Spec) -> Self {
        let mut families: BTreeMap<&str, Vec<&Endpoint>> = BTreeMap::new();
        for e in &spec.endpoints {
            families.entry(e.family.as_str()).or_default().push(e);
        }
        Side { spec, families }
    }
    fn shapes(&self, fam: &str) -> BTreeSet<String> {
        self.families[fam].iter().map(|e| shape(e.path())).collect()
    }
}

/// Compares two contracts.
pub fn diff(old: &Spec, new: &Spec) -> Diff {
    let (a, b) = (Side::new(old), Side::new(new));
    let mut changes = Vec::new();
    let mut paired_new = BTreeSet::new();
    let mut pairs = Vec::new();
    for fam in a.families.keys() {
        let partner = if b.families.contains_key(fam) {
            Some(*fam)
        } else {
            let mine = a.shapes(fam);
            b.families
                .keys()
                .find(|f| !a.families.contains_key(*f) && !b.shapes(f).is_disjoint(&mine))
                .copied()
        };
        match partner {
            Some(p) => {
                paired_new.insert(p);
                pairs.push((*fam, p));
            }
            None => {
                changes.push(Difference::new("family-removed", fam).path(a.families[fam][0].path()))
            }
        }
    }
    for fam in b.families.keys() {
        if !paired_new.contains(fam) {
            changes.push(Difference::new("family-added", fam).path(b.families[fam][0].path()));
        }
    }
    for (fa, fb) in pairs {
        family_changes(&a, &b, fa, fb, &mut changes);
    }
    Diff {
        old: old.source.clone(),
        new: new.source.clone(),
        changes,
    }
}

fn family_changes(a: &Side, b: &Side, fa: &str, fb: &str, out: &mut Vec<Difference>) {
    let name = fb;
    let eps_a: BTreeMap<String, &Endpoint> = a.families[fa]
        .iter()
        .map(|e| (shape(e.path()), *e))
        .collect();
    let eps_b: BTreeMap<String, &Endpoint> = b.families[fb]
        .iter()
        .map(|e| (shape(e.path()), *e))
        .collect();
    for (s, e) in &eps_a {
        match eps_b.get(s) {
            None => out.push(Difference::new("path-removed", name).path(e.path())),
            Some(n) => {
                for m in e.methods() {
                    if !n.has(m) {
                        let mut c = Difference::new("method-removed", name).path(n.path());
                        c.method = Some(m.to_string());
                        out.push(c);
                    }
                }
                for m in n.methods() {
                    if !e.has(m) {
                        let mut c = Difference::new("method-added", name).path(n.path());
                        c.method = Some(m.to_string());
                        out.push(c);
                    }
                }
            }
        }
    }
    for (s, e) in &eps_b {
        if !eps_a.contains_key(s) {
            out.push(Difference::new("path-added", name).path(e.path()));
        }
    }
    let ra = a.spec.resource_of(a.families[fa][0]);
    let rb = b.spec.resource_of(b.families[fb][0]);
    let fields_a: BTreeMap<&str, &Field> = ra.fields.iter().map(|f| (f.path.as_str(), f)).collect();
    let fields_b: BTreeMap<&str, &Field> = rb.fields.iter().map(|f| (f.path.as_str(), f)).collect();
    for (p, f) in &fields_a {
        if !fields_b.contains_key(p) {
            out.push(
                Difference::new("field-removed", name)
                    .field(p)
                    .values(json!(f.ty.as_str()), Value::Null),
            );
        }
    }
    for (p, f) in &fields_b {
        match fields_a.get(p) {
            None => out.push(
                Difference::new("field-added", name)
                    .field(p)
                    .values(Value::Null, json!(f.ty.as_str())),
            ),
            Some(o) => field_changes(name, p, o, f, out),
        }
    }
}

fn field_changes(fam: &str, path: &str, o: &Field, n: &Field, out: &mut Vec<Difference>) {
    let c = |kind| Difference::new(kind, fam).field(path);
    if o.ty != n.ty {
        out.push(c("field-retyped").values(json!(o.ty.as_str()), json!(n.ty.as_str())));
    }
    let flips: [(bool, bool, &'static str, &'static str); 4] = [
        (
            o.flags.read_only,
            n.flags.read_only,
            "now-read-only",
            "no-longer-read-only",
        ),
        (
            o.patchable(),
            n.patchable(),
            "now-patchable",
            "no-longer-patchable",
        ),
        (
            o.postable(),
            n.postable(),
            "now-postable",
            "no-longer-postable",
        ),
        (
            o.flags.write_only,
            n.flags.write_only,
            "now-write-only",
            "no-longer-write-only",
        ),
    ];
    for (was, is, on, off) in flips {
        if !was && is {
            out.push(c(on));
        } else if was && !is {
            out.push(c(off));
        }
    }
    let added: Vec<&Value> = n
        .enum_values
        .iter()
        .filter(|v| !o.enum_values.contains(v))
        .collect();
    let removed: Vec<&Value> = o
        .enum_values
        .iter()
        .filter(|v| !n.enum_values.contains(v))
        .collect();
    // A field that gains its first enum (or loses its last) changes its limits, not its values.
    if !o.enum_values.is_empty() && !n.enum_values.is_empty() {
        if !added.is_empty() {
            out.push(c("enum-added").values(Value::Null, json!(added)));
        }
        if !removed.is_empty() {
            out.push(c("enum-removed").values(json!(removed), Value::Null));
        }
    } else if o.enum_values.is_empty() != n.enum_values.is_empty() {
        let mut ch = c("limit-changed").values(json!(o.enum_values), json!(n.enum_values));
        ch.method = Some("enum".into());
        out.push(ch);
    }
    let limits = [
        ("minimum", o.minimum, n.minimum),
        ("maximum", o.maximum, n.maximum),
        (
            "minLength",
            o.min_length.map(|v| v as i64),
            n.min_length.map(|v| v as i64),
        ),
        (
            "maxLength",
            o.max_length.map(|v| v as i64),
            n.max_length.map(|v| v as i64),
        ),
    ];
    for (name, was, is) in limits {
        if was != is {
            let mut ch = c("limit-changed").values(json!(was), json!(is));
            ch.method = Some(name.into());
            out.push(ch);
        }
    }
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Counts by kind, in a fixed order.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for c in &self.changes {
            *m.entry(c.kind).or_insert(0) += 1;
        }
        m
    }

    /// The readable form: a summary line, then per family what changed.
    pub fn render(&self) -> String {
        let mut s = format!("{} -> {}\n", self.old, self.new);
        if self.changes.is_empty() {
            s.push_str("no change\n");
            return s;
        }
        let counts = self.counts();
        s.push_str(
            &counts
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        s.push_str("\n\n");
        let mut by_family: BTreeMap<&str, Vec<&Difference>> = BTreeMap::new();
        for c in &self.changes {
            by_family.entry(c.family.as_str()).or_default().push(c);
        }
        for (fam, cs) in by_family {
            let whole = cs
                .iter()
                .find(|c| matches!(c.kind, "family-added" | "family-removed"));
            if let Some(c) = whole {
                let sign = if c.kind == "family-added" { '+' } else { '-' };
                s.push_str(&format!(
                    "{sign} {fam}  {}\n",
                    c.path.as_deref().unwrap_or("")
                ));
                continue;
            }
            s.push_str(&format!("~ {fam}\n"));
            for c in cs {
                s.push_str("    ");
                s.push_str(&line(c));
                s.push('\n');
            }
        }
        s
    }
}

fn show(v: &Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => "none".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn line(c: &Difference) -> String {
    let p = c.path.as_deref().unwrap_or("");
    let f = c.field.as_deref().unwrap_or("");
    let m = c.method.as_deref().unwrap_or("");
    match c.kind {
        "path-added" => format!("+ path {p}"),
        "path-removed" => format!("- path {p}"),
        "method-added" => format!("+ {m} {p}"),
        "method-removed" => format!("- {m} {p}"),
        "field-added" => format!("+ field {f} ({})", show(&c.new)),
        "field-removed" => format!("- field {f} ({})", show(&c.old)),
        "field-retyped" => format!("~ field {f}: type {} -> {}", show(&c.old), show(&c.new)),
        "enum-added" => format!("~ field {f}: enum values added {}", show(&c.new)),
        "enum-removed" => format!("~ field {f}: enum values removed {}", show(&c.old)),
        "limit-changed" => format!("~ field {f}: {m} {} -> {}", show(&c.old), show(&c.new)),
        k => format!("~ field {f}: {}", k.replace('-', " ")),
    }
}
