//! The Swagger front end: reads the Swagger 2.0 definition an ONTAP cluster serves
//! (`https://<cluster>/docs/api/swagger.yaml`, YAML or JSON) into the intermediate form.
//!
//! How the document is read (ONTAP-BEHAVIOR.md §8):
//! - `basePath` (`/api`) is put in front of every path.
//! - A path whose last segment is a `{parameter}` names records; the same path without its
//!   trailing parameters is their collection (or, without a GET listing `records`, the record
//!   itself: a singleton). The parameters in between are the parents' keys.
//! - The record's definition is what the record GET answers, else the `records` items of the
//!   collection GET, else the body of a PATCH or POST; its name is the family's name.
//! - Field access from the `x-ntap-*` extensions: `readOnly` / `x-ntap-readOnly` (read only),
//!   `x-ntap-readCreate` (set on POST, then read only), `x-ntap-createOnly` (POST only, never
//!   returned), `x-ntap-readModify` (read and PATCH), `x-ntap-modifyOnly` (PATCH only, never
//!   returned), `x-ntap-writeOnly` (written, never returned); without one, read and written.
//! - `x-ntap-introduced` on an operation or a field; the "Expensive properties" list of the
//!   collection GET's description.

use super::{Contract, Family, FieldFacts, ImportError};
use serde_json::Value;
use std::collections::BTreeMap;

/// Reads a Swagger 2.0 document (YAML or JSON text).
pub fn read(text: &str) -> Result<Contract, ImportError> {
    let doc: Value = serde_yaml_ng::from_str(text)
        .map_err(|e| ImportError::Source(format!("not a YAML or JSON document: {e}")))?;
    if doc.get("swagger").and_then(Value::as_str) != Some("2.0") {
        return Err(ImportError::Source(
            "not a Swagger 2.0 document (expected `swagger: \"2.0\"` at the top, as ONTAP's \
             /docs/api/swagger.yaml has)"
                .into(),
        ));
    }
    let base = doc
        .get("basePath")
        .and_then(Value::as_str)
        .unwrap_or("/api")
        .trim_end_matches('/')
        .to_string();
    let version = doc
        .pointer("/info/version")
        .and_then(value_text)
        .unwrap_or_else(|| "unknown".into());
    let empty = serde_json::Map::new();
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let defs = doc
        .get("definitions")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let r = Reader { defs };

    let groups = group_paths(&base, paths);
    let mut families = Vec::new();
    for (coll, g) in groups {
        let Some(mut family) = r.family(coll, g) else {
            continue;
        };
        if families.iter().any(|f: &Family| f.name == family.name) {
            family.name = format!("{}_{}", family.name, families.len());
        }
        families.push(family);
    }
    families.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Contract {
        source: "swagger".into(),
        version,
        families,
    })
}

/// The paths grouped by collection: each record path under its collection path.
fn group_paths<'a>(
    base: &str,
    paths: &'a serde_json::Map<String, Value>,
) -> BTreeMap<String, Group<'a>> {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for (p, ops) in paths {
        let full = format!("{base}{p}");
        let segs: Vec<&str> = full.split('/').collect();
        let trailing = segs.iter().rev().take_while(|s| s.starts_with('{')).count();
        let coll = segs[..segs.len() - trailing].join("/");
        let g = groups.entry(coll).or_default();
        if trailing == 0 {
            g.collection = Some(ops);
        } else {
            g.record = Some((full.clone(), ops));
        }
    }
    groups
}

#[derive(Default)]
struct Group<'a> {
    collection: Option<&'a Value>,
    record: Option<(String, &'a Value)>,
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The backquoted names of an operation description's "Expensive properties" list.
fn expensive_properties(op: &Value) -> Vec<String> {
    let Some(desc) = op.get("description").and_then(Value::as_str) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut inside = false;
    for line in desc.lines() {
        let t = line.trim();
        if t.to_ascii_lowercase().contains("expensive properties") {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(item) = t.strip_prefix("* ").or_else(|| t.strip_prefix("- ")) {
            let name = item.trim().trim_matches('`');
            let name = name
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches('`');
            if !name.is_empty() {
                out.push(name.to_string());
            }
        } else if t.starts_with('#') || (!t.is_empty() && !out.is_empty()) {
            break;
        }
    }
    out
}

/// Access a field inherits from the objects around it.
#[derive(Clone, Copy, Default)]
struct Access {
    read_only: bool,
    create_only: bool,
    read_create: bool,
    modify_only: bool,
    read_modify: bool,
    write_only: bool,
}

struct Reader<'a> {
    defs: &'a serde_json::Map<String, Value>,
}

impl Reader<'_> {
    /// The definition a PATCH or POST of the group takes as its body: the first one, the
    /// collection's operations before the record's.
    fn write_definition(&self, g: &Group<'_>) -> Option<String> {
        let all_ops = g
            .collection
            .into_iter()
            .chain(g.record.as_ref().map(|(_, o)| *o));
        for ops in all_ops {
            for m in ["patch", "post"] {
                if let Some(op) = ops.get(m)
                    && let Some(name) = self.body_definition(op)
                {
                    return Some(name);
                }
            }
        }
        None
    }

    /// The fields of a definition, flattened; the expensive ones (and what is below them)
    /// marked.
    fn fields(&self, def_name: &str, expensive: &[String]) -> BTreeMap<String, FieldFacts> {
        let mut fields = BTreeMap::new();
        if let Some(def) = self.defs.get(def_name) {
            self.walk(def, "", Access::default(), None, 0, &mut fields);
        }
        for e in expensive {
            if let Some(f) = fields.get_mut(e) {
                f.expensive = true;
            }
            let prefix = format!("{e}.");
            for (k, f) in fields.iter_mut() {
                if k.starts_with(&prefix) {
                    f.expensive = true;
                }
            }
        }
        fields
    }

    /// The family of one group of paths: its methods, its keys, the definition its GET answers
    /// with (or a write's body) flattened into fields, the expensive ones marked; None when
    /// no operation names a definition.
    fn family(&self, coll: String, g: Group<'_>) -> Option<Family> {
        let mut methods = Vec::new();
        let mut def_name = None;
        let mut listing = false;
        let mut introduced = None;
        let mut expensive = Vec::new();
        if let Some(ops) = g.collection {
            if let Some(get) = ops.get("get") {
                if let Some((name, records)) = self.answer_definition(get) {
                    listing = records;
                    def_name = Some(name);
                }
                introduced =
                    introduced.or_else(|| get.get("x-ntap-introduced").and_then(value_text));
                expensive = expensive_properties(get);
            }
            for m in ["get", "patch", "post", "delete"] {
                if ops.get(m).is_some() {
                    let name = match (m, listing || g.record.is_some()) {
                        ("get", true) => "get_collection",
                        ("patch", true) => "patch_collection",
                        ("delete", true) => "delete_collection",
                        ("post", _) => "post",
                        (m, false) => m,
                        _ => unreachable!(),
                    };
                    methods.push(name.to_string());
                }
            }
        }
        let mut keys: Vec<String> = super::path_keys(&coll);
        let mut path = coll.clone();
        if let Some((rec_path, ops)) = &g.record {
            keys = super::path_keys(rec_path);
            if let Some(get) = ops.get("get") {
                if let Some((name, _)) = self.answer_definition(get) {
                    def_name = Some(name);
                }
                introduced =
                    introduced.or_else(|| get.get("x-ntap-introduced").and_then(value_text));
                if expensive.is_empty() {
                    expensive = expensive_properties(get);
                }
            }
            for m in ["get", "patch", "delete"] {
                if ops.get(m).is_some() {
                    methods.push(m.to_string());
                }
            }
            if g.collection.is_none() {
                // Records without a listing: the family's path is the record path less its own
                // keys, which the catalog adds back.
                path = coll.clone();
            }
        }
        // Neither GET answered with a definition: take the body of a write.
        let def_name = def_name.or_else(|| self.write_definition(&g))?;
        let fields = self.fields(&def_name, &expensive);
        Some(Family {
            name: def_name,
            path,
            keys: std::mem::take(&mut keys),
            methods,
            introduced,
            fields,
        })
    }

    fn deref<'v>(&'v self, v: &'v Value) -> (&'v Value, Option<String>) {
        let mut cur = v;
        let mut name = None;
        for _ in 0..8 {
            match cur.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    let n = r.rsplit('/').next().unwrap_or(r);
                    match self.defs.get(n) {
                        Some(d) => {
                            name = Some(n.to_string());
                            cur = d;
                        }
                        None => break,
                    }
                }
                None => break,
            }
        }
        (cur, name)
    }

    /// The definition a GET answers with: `records` items of a listing (true), or the schema.
    fn answer_definition(&self, op: &Value) -> Option<(String, bool)> {
        let schema = op.pointer("/responses/200/schema")?;
        let (body, name) = self.deref(schema);
        if let Some(items) = body.pointer("/properties/records/items") {
            let (_, rec) = self.deref(items);
            return rec.map(|n| (n, true));
        }
        name.map(|n| (n, false))
    }

    fn body_definition(&self, op: &Value) -> Option<String> {
        let params = op.get("parameters")?.as_array()?;
        params
            .iter()
            .map(|p| self.deref(p).0)
            .find(|p| p.get("in").and_then(Value::as_str) == Some("body"))
            .and_then(|p| p.get("schema"))
            .and_then(|s| self.deref(s).1)
    }

    fn walk(
        &self,
        schema: &Value,
        prefix: &str,
        inh: Access,
        introduced: Option<&str>,
        depth: usize,
        out: &mut BTreeMap<String, FieldFacts>,
    ) {
        if depth > 8 {
            return;
        }
        let (s, _) = self.deref(schema);
        let Some(props) = s.get("properties").and_then(Value::as_object) else {
            return;
        };
        for (name, prop) in props {
            if name == "_links" {
                continue;
            }
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            let (p, _) = self.deref(prop);
            let flag = |k: &str| {
                prop.get(k).and_then(Value::as_bool).unwrap_or(false)
                    || p.get(k).and_then(Value::as_bool).unwrap_or(false)
            };
            let acc = Access {
                read_only: inh.read_only || flag("readOnly") || flag("x-ntap-readOnly"),
                create_only: inh.create_only || flag("x-ntap-createOnly"),
                read_create: inh.read_create || flag("x-ntap-readCreate"),
                modify_only: inh.modify_only || flag("x-ntap-modifyOnly"),
                read_modify: inh.read_modify || flag("x-ntap-readModify"),
                write_only: inh.write_only || flag("x-ntap-writeOnly"),
            };
            let ty =
                p.get("type")
                    .and_then(Value::as_str)
                    .unwrap_or(if p.get("properties").is_some() {
                        "object"
                    } else {
                        ""
                    });
            // A field inside an object introduced in 9.16 is as new as its object.
            let here_introduced = prop
                .get("x-ntap-introduced")
                .or_else(|| p.get("x-ntap-introduced"))
                .and_then(value_text);
            let introduced_here = here_introduced.as_deref().or(introduced);
            if ty == "object" && p.get("properties").is_some() {
                self.walk(p, &path, acc, introduced_here, depth + 1, out);
                continue;
            }
            let mut ff = FieldFacts {
                ty: match (ty, p.get("format").and_then(Value::as_str)) {
                    ("string", Some("date-time")) => "date-time".into(),
                    ("", _) => "any".into(),
                    (t, _) => t.to_string(),
                },
                nullable: flag("x-nullable"),
                ..FieldFacts::default()
            };
            let limits = if ty == "array" {
                let (items, _) = self.deref(p.get("items").unwrap_or(&Value::Null));
                let it = items.get("type").and_then(Value::as_str).unwrap_or(
                    if items.get("properties").is_some() {
                        "object"
                    } else {
                        "any"
                    },
                );
                ff.items = Some(
                    match (it, items.get("format").and_then(Value::as_str)) {
                        ("string", Some("date-time")) => "date-time",
                        (t, _) => t,
                    }
                    .to_string(),
                );
                items
            } else {
                p
            };
            ff.enum_values = limits.get("enum").and_then(Value::as_array).cloned();
            ff.min_length = limits.get("minLength").and_then(Value::as_u64);
            ff.max_length = limits.get("maxLength").and_then(Value::as_u64);
            ff.minimum = limits.get("minimum").and_then(Value::as_i64);
            ff.maximum = limits.get("maximum").and_then(Value::as_i64);
            ff.introduced = introduced_here.map(String::from);
            let (g, pa, po) = if acc.read_only {
                (true, false, false)
            } else if acc.create_only {
                (false, false, true)
            } else if acc.read_create {
                (true, false, true)
            } else if acc.modify_only {
                (false, true, false)
            } else if acc.read_modify {
                (true, true, false)
            } else if acc.write_only {
                (false, true, true)
            } else {
                (true, true, true)
            };
            ff.gettable = g;
            ff.patchable = pa;
            ff.postable = po;
            out.insert(path, ff);
        }
    }
}
