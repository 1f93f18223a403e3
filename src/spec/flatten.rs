//! A resource schema flattened into its dotted leaf fields and the paths of its objects, `$ref`s
//! followed and the `x-ontap-*` flags and evidence passed down from objects to their properties.

use super::model::Evidence;
use super::resource::{Field, FieldType, Flags, Resource};
use super::{SchemaDoc, SpecError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Follows a `$ref` to a schema file, merging the referring object's sibling keywords over it.
fn resolve<'a>(
    v: &'a Value,
    all: &'a BTreeMap<String, SchemaDoc>,
) -> (Map<String, Value>, Option<&'a str>) {
    let mut merged = Map::new();
    let mut target_name = None;
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        let name = r.trim_end_matches(".json");
        if let Some(doc) = all.get(name) {
            let (inner, _) = resolve(&doc.value, all);
            merged = inner;
            target_name = Some(doc.name.as_str());
        }
    }
    if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            if k != "$ref" && k != "$id" && k != "$schema" && k != "title" {
                merged.insert(k.clone(), val.clone());
            }
        }
    }
    (merged, target_name)
}

fn evidence_map(v: Option<&Value>) -> (Option<Evidence>, BTreeMap<String, Evidence>) {
    match v {
        Some(Value::String(s)) => (Evidence::parse(s), BTreeMap::new()),
        Some(Value::Object(m)) => (
            None,
            m.iter()
                .filter_map(|(k, e)| Some((k.clone(), Evidence::parse(e.as_str()?)?)))
                .collect(),
        ),
        _ => (None, BTreeMap::new()),
    }
}

/// Flattens a resource schema into dotted leaf fields.
pub(super) fn flatten_resource(
    doc: &SchemaDoc,
    all: &BTreeMap<String, SchemaDoc>,
) -> Result<Resource, SpecError> {
    let f = doc.file.as_str();
    let (root_ev, _) = evidence_map(doc.value.get("x-ontap-evidence"));
    let root_ev = root_ev.unwrap_or(Evidence::Doc);
    let keys: Vec<String> = doc
        .value
        .get("x-ontap-keys")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .ok_or_else(|| {
            SpecError::new(
                f,
                "/x-ontap-keys",
                "the key fields of the resource (a resource schema needs x-ontap-keys)",
            )
        })?;
    let mut flat = Flatten {
        file: f,
        all,
        fields: Vec::new(),
        objects: Vec::new(),
    };
    let top = Inherited {
        flags: Flags::default(),
        evidence: root_ev,
        evidence_map: BTreeMap::new(),
    };
    flat.walk("/properties", "", &doc.value, &top)?;
    let Flatten {
        mut fields,
        objects,
        ..
    } = flat;
    for (i, k) in keys.iter().enumerate() {
        match fields.iter_mut().find(|fl: &&mut Field| &fl.path == k) {
            Some(fl) => fl.flags.key = true,
            None => {
                return Err(SpecError::new(
                    f,
                    format!("/x-ontap-keys/{i}"),
                    format!("a field of the resource, found {k:?}"),
                ));
            }
        }
    }
    for fl in &fields {
        if let Some(src) = &fl.derived_from
            && !fields.iter().any(|o| &o.path == src)
        {
            return Err(SpecError::new(
                f,
                "/properties",
                format!(
                    "x-ontap-derived-from of {} to name a field, found {src:?}",
                    fl.path
                ),
            ));
        }
    }
    Ok(Resource {
        name: doc.name.clone(),
        keys,
        fields,
        objects,
    })
}

/// The type a schema names: `"string"`, or the first of `["string", "null"]` that is not null.
fn first_type(t: Option<&Value>) -> Option<&str> {
    match t? {
        Value::String(s) => Some(s),
        Value::Array(a) => a.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

/// How deep a resource's objects may nest; deeper means a `$ref` cycle.
const MAX_DEPTH: usize = 8;

/// Flattens a resource's schema into its leaf fields (dotted paths) and the paths of its objects.
struct Flatten<'a> {
    file: &'a str,
    all: &'a BTreeMap<String, SchemaDoc>,
    fields: Vec<Field>,
    objects: Vec<String>,
}

/// What an object passes down to its properties: flags and evidence.
struct Inherited {
    flags: Flags,
    evidence: Evidence,
    evidence_map: BTreeMap<String, Evidence>,
}

impl Flatten<'_> {
    fn walk(
        &mut self,
        at: &str,
        prefix: &str,
        schema: &Value,
        inh: &Inherited,
    ) -> Result<(), SpecError> {
        let (f, all) = (self.file, self.all);
        let inherited = &inh.flags;
        if prefix.split('.').count() > MAX_DEPTH {
            return Err(SpecError::new(
                f,
                at,
                format!("objects nested at most {MAX_DEPTH} deep (a $ref cycle through {prefix}?)"),
            ));
        }
        let (resolved, _) = resolve(schema, all);
        let Some(props) = resolved.get("properties").and_then(Value::as_object) else {
            return Ok(());
        };
        for (name, prop) in props {
            if name == "_links" {
                continue;
            }
            let here = format!("{at}/{name}");
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            let (merged, _) = resolve(prop, all);
            let flags = flags_of(inherited, &merged);
            let (ev_default, ev_map) = evidence_map(prop.get("x-ontap-evidence"));
            let default_evidence = ev_default.unwrap_or(inh.evidence);
            let mut evidence = inh.evidence_map.clone();
            evidence.extend(ev_map);
            // `"type": ["string", "null"]`: the first type that is not null (imported fields
            // NetApp's client lets be null).
            let ty = first_type(merged.get("type"))
                .and_then(FieldType::from_schema)
                .or_else(|| merged.get("properties").map(|_| FieldType::Object))
                .ok_or_else(|| {
                    SpecError::new(
                        f,
                        here.clone(),
                        "a \"type\" (string, boolean, integer, number, array or object)",
                    )
                })?;
            if ty == FieldType::Object {
                self.objects.push(path.clone());
                let below = Inherited {
                    flags,
                    evidence: default_evidence,
                    evidence_map: evidence,
                };
                self.walk(&format!("{here}/properties"), &path, prop, &below)?;
                continue;
            }
            self.fields.push(leaf_field(
                path,
                ty,
                &merged,
                flags,
                evidence,
                default_evidence,
            ));
        }
        Ok(())
    }
}

/// A property's flags: the `x-ontap-*` flags it sets, and every flag its objects set.
fn flags_of(inherited: &Flags, merged: &Map<String, Value>) -> Flags {
    let flag = |k: &str| merged.get(k).and_then(Value::as_bool).unwrap_or(false);
    Flags {
        key: false,
        read_only: inherited.read_only || flag("x-ontap-read-only"),
        patch_forbidden: inherited.patch_forbidden || flag("x-ontap-patch-forbidden"),
        write_only: inherited.write_only || flag("x-ontap-write-only"),
        post_response_only: inherited.post_response_only || flag("x-ontap-post-response-only"),
        admin_only: inherited.admin_only || flag("x-ontap-admin-only"),
        crlf_normalised: inherited.crlf_normalised || flag("x-ontap-crlf-normalised"),
        empty_unsets: inherited.empty_unsets || flag("x-ontap-empty-unsets"),
        lockout: inherited.lockout || flag("x-ontap-lockout"),
        expensive: inherited.expensive || flag("x-ontap-expensive"),
        patch_untested: inherited.patch_untested || flag("x-ontap-patch-untested"),
        post_forbidden: inherited.post_forbidden || flag("x-ontap-post-forbidden"),
        trailing_lf: inherited.trailing_lf || flag("x-ontap-trailing-lf"),
    }
}

/// A leaf field from its merged schema (`$ref`s followed): its type, limits, enum and the
/// schema without the `x-ontap-*` keywords and the description.
fn leaf_field(
    path: String,
    ty: FieldType,
    merged: &Map<String, Value>,
    flags: Flags,
    evidence: BTreeMap<String, Evidence>,
    default_evidence: Evidence,
) -> Field {
    let leaf: Map<String, Value> = merged
        .iter()
        .filter(|(k, _)| !k.starts_with("x-ontap-") && *k != "description")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Field {
        path,
        ty,
        description: merged
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        enum_values: merged
            .get("enum")
            .and_then(Value::as_array)
            .map(|e| e.iter().filter(|v| !v.is_null()).cloned().collect())
            .unwrap_or_default(),
        nullable: merged
            .get("type")
            .and_then(Value::as_array)
            .is_some_and(|t| t.iter().any(|t| t == "null")),
        introduced: merged
            .get("x-ontap-introduced")
            .and_then(Value::as_str)
            .map(String::from),
        minimum: merged.get("minimum").and_then(Value::as_i64),
        maximum: merged.get("maximum").and_then(Value::as_i64),
        min_length: merged.get("minLength").and_then(Value::as_u64),
        max_length: merged.get("maxLength").and_then(Value::as_u64),
        schema: Value::Object(leaf),
        flags,
        derived_from: merged
            .get("x-ontap-derived-from")
            .and_then(Value::as_str)
            .map(String::from),
        evidence,
        default_evidence,
    }
}
