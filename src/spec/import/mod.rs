//! Importing NetApp's own definitions of the whole API as a contract.
//!
//! Two sources state the contract in machine-readable form (ONTAP-BEHAVIOR.md §8): NetApp's Python
//! client `netapp-ontap` (one release per ONTAP version) and the Swagger 2.0 document every
//! cluster serves under `/docs/api`. Each front end ([`netapp_ontap`], [`swagger`]) reads its source
//! into one intermediate form, [`Contract`]: per family its path, keys, methods and flattened
//! fields with the facts the source states. [`to_files`] writes that as a contract directory in the
//! `specs/` format the loader knows, with evidence `lib`; nothing the source does not state is
//! added (no error codes, no CRLF rules, no descriptions).
//!
//! The releases shipped with the harness ([`releases`]) are such intermediate documents,
//! compressed and compiled in, so `--contract ontap-9.19` works offline.

pub mod netapp_ontap;
pub mod releases;
pub mod swagger;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// What a source states about the whole API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    /// `netapp-ontap` or `swagger`.
    pub source: String,
    /// The source's release (`9.19.1.0`) or the API version the document declares.
    pub version: String,
    pub families: Vec<Family>,
}

/// One resource family: a collection and its records, an instance-only family or a singleton.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Family {
    /// The family's name: the module of `netapp_ontap.resources`, or the definition's name.
    pub name: String,
    /// The path of the collection (or of the one record, for a family without own keys), keys in
    /// braces as dotted names (`/api/storage/volumes/{volume.uuid}/snapshots`).
    pub path: String,
    /// The fields that name a record, in path order (parent keys first).
    pub keys: Vec<String>,
    /// The client methods offered: `get_collection`, `patch_collection`, `post_collection`,
    /// `delete_collection`, `get`, `patch`, `post`, `delete`.
    pub methods: Vec<String>,
    /// The ONTAP release that introduced the family, where a source states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    /// Dotted JSON names of the fields (leaves), with their facts.
    pub fields: BTreeMap<String, FieldFacts>,
}

/// What a source states about one field.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FieldFacts {
    /// `string`, `integer`, `number`, `boolean`, `date-time`, `array`, `object` or `any`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The type of an array's items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub nullable: bool,
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<i64>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub gettable: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub patchable: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub postable: bool,
    /// Returned only when `fields=` names it (Swagger's "Expensive properties").
    #[serde(default, skip_serializing_if = "is_false")]
    pub expensive: bool,
    /// The ONTAP release that introduced the field, where a source states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A problem reading a source or writing a contract.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Source(String),
    #[error("{path}: {err}")]
    Io {
        path: String,
        #[source]
        err: std::io::Error,
    },
}

/// Collection-level client methods and the HTTP method each sends.
const COLLECTION_METHODS: &[(&str, &str)] = &[
    ("get_collection", "GET"),
    ("patch_collection", "PATCH"),
    ("post_collection", "POST"),
    ("post", "POST"),
    ("delete_collection", "DELETE"),
];
/// Record-level client methods and the HTTP method each sends.
const RECORD_METHODS: &[(&str, &str)] = &[("get", "GET"), ("patch", "PATCH"), ("delete", "DELETE")];

/// The schemas of the built-in contract every imported one shares (links, errors, empty answers).
const SHARED_SCHEMAS: &[&str] = &[
    "_links",
    "_links_collection",
    "href",
    "error",
    "error_arguments",
    "error_response",
    "returned_error",
    "empty_response",
    "collection_patch_response",
];

/// How a family's paths come out in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyShape {
    /// The collection path and its HTTP methods (none for a singleton or an instance-only family).
    pub collection: Option<(String, Vec<&'static str>)>,
    /// The record path, its kind (`instance` or `singleton`) and its HTTP methods.
    pub record: Option<(String, &'static str, Vec<&'static str>)>,
}

/// Which keys a family's path carries already (its parents') and which name its own records.
pub fn own_keys(f: &Family) -> Vec<String> {
    let in_path = path_keys(&f.path);
    f.keys
        .iter()
        .filter(|k| !in_path.contains(k))
        .cloned()
        .collect()
}

/// The `{key}` names of a path, in order.
pub fn path_keys(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(String::from)
        .collect()
}

/// The catalog paths of a family: a collection where a collection method is offered, a record
/// path where a record method is; a family without keys of its own is one record (a singleton
/// when its path has no keys at all).
pub fn shape(f: &Family) -> FamilyShape {
    let has = |m: &str| f.methods.iter().any(|x| x == m);
    let own = own_keys(f);
    let coll: Vec<&'static str> = COLLECTION_METHODS
        .iter()
        .filter(|(m, _)| has(m))
        .map(|(_, h)| *h)
        .fold(Vec::new(), |mut v, h| {
            if !v.contains(&h) {
                v.push(h);
            }
            v
        });
    let rec: Vec<&'static str> = RECORD_METHODS
        .iter()
        .filter(|(m, _)| has(m))
        .map(|(_, h)| *h)
        .collect();
    let has_coll_method = COLLECTION_METHODS
        .iter()
        .any(|(m, _)| *m != "post" && has(m));
    if own.is_empty() {
        // No key of its own: the path is the record (a singleton, or one record under a parent).
        if rec.is_empty() && !has_coll_method {
            return FamilyShape {
                collection: None,
                record: None,
            };
        }
        if rec.is_empty() {
            return FamilyShape {
                collection: Some((f.path.clone(), coll)),
                record: None,
            };
        }
        let mut methods = rec;
        if has("post") && !methods.contains(&"POST") {
            methods.push("POST");
        }
        let kind = if path_keys(&f.path).is_empty() {
            "singleton"
        } else {
            "instance"
        };
        if has_coll_method {
            // A keyless collection beside record methods: the collection wins the path.
            return FamilyShape {
                collection: Some((f.path.clone(), coll)),
                record: None,
            };
        }
        return FamilyShape {
            collection: None,
            record: Some((f.path.clone(), kind, methods)),
        };
    }
    let rec_path = format!(
        "{}/{}",
        f.path,
        own.iter()
            .map(|k| format!("{{{k}}}"))
            .collect::<Vec<_>>()
            .join("/")
    );
    FamilyShape {
        collection: (!coll.is_empty()).then(|| (f.path.clone(), coll)),
        record: (!rec.is_empty()).then_some((rec_path, "instance", rec)),
    }
}

/// A family name that does not collide with a shared schema (`error` becomes `error_resource`).
fn schema_name(name: &str) -> String {
    if SHARED_SCHEMAS.contains(&name) || name.ends_with("_collection") {
        format!("{name}_resource")
    } else {
        name.to_string()
    }
}

/// The contract as `specs/` files: (path relative to the directory, JSON text), sorted by path.
/// Families with no path to check (no method at all) are left out and named in the second list.
pub fn to_files(c: &Contract) -> (Vec<(String, String)>, Vec<String>) {
    let builtin: BTreeMap<String, String> = super::embedded_files().into_iter().collect();
    let mut files: Vec<(String, String)> = Vec::new();
    for name in SHARED_SCHEMAS {
        let rel = format!("schemas/{name}.json");
        files.push((rel.clone(), builtin[&rel].clone()));
    }
    files.push(("parameters.json".into(), builtin["parameters.json"].clone()));
    files.push((
        "conventions.json".into(),
        builtin["conventions.json"].clone(),
    ));
    let mut left_out = Vec::new();
    for f in &c.families {
        let mut sh = shape(f);
        let object_keys = drop_object_keys(f, &mut sh, &mut left_out);
        if sh.collection.is_none() && sh.record.is_none() {
            left_out.push(format!("{} ({}): no method offered", f.name, f.path));
            continue;
        }
        let name = schema_name(&f.name);
        let has_post = sh
            .collection
            .iter()
            .flat_map(|(_, m)| m.iter())
            .chain(sh.record.iter().flat_map(|(_, _, m)| m.iter()))
            .any(|m| *m == "POST");
        let keys: Vec<String> = if sh.record.as_ref().is_some_and(|r| r.1 == "singleton") {
            Vec::new()
        } else {
            f.keys
                .iter()
                .filter(|k| !object_keys.contains(k))
                .cloned()
                .collect()
        };
        let resource = resource_schema(&name, f, &keys, has_post);
        files.push((format!("schemas/{name}.json"), pretty(&resource)));
        let mut endpoints = Vec::new();
        if let Some((path, methods)) = &sh.collection {
            let coll_name = format!("{name}_collection");
            if methods.contains(&"GET") {
                files.push((
                    format!("schemas/{coll_name}.json"),
                    pretty(&collection_schema(&coll_name, &name)),
                ));
            }
            endpoints.push(endpoint(f, &name, path, "collection", methods));
        }
        if let Some((path, kind, methods)) = &sh.record {
            endpoints.push(endpoint(f, &name, path, kind, methods));
        }
        let family = json!({
            "family": name,
            "resource": name,
            "description": format!("Imported from {} {} (resource {}).", c.source, c.version, f.name),
            "imported_from": format!("{} {}", c.source, c.version),
            "endpoints": endpoints,
        });
        files.push((format!("endpoints/{name}.json"), pretty(&family)));
    }
    files.sort();
    (files, left_out)
}

/// The keys of a family that name an object (`switch` of switch ports, whose fields are
/// `switch.name` ...): such a key cannot be put in a path, so the record path is left out
/// (said in `left_out`), and the collection too if its path carries one.
fn drop_object_keys<'f>(
    f: &'f Family,
    sh: &mut FamilyShape,
    left_out: &mut Vec<String>,
) -> Vec<&'f String> {
    let object_keys: Vec<&String> = f
        .keys
        .iter()
        .filter(|k| {
            let prefix = format!("{k}.");
            f.fields.keys().any(|p| p.starts_with(&prefix))
        })
        .collect();
    if !object_keys.is_empty() {
        if sh.record.take().is_some() {
            left_out.push(format!(
                "{}: the record path (key {} names an object, not a value)",
                f.name,
                object_keys
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if sh
            .collection
            .as_ref()
            .is_some_and(|(p, _)| path_keys(p).iter().any(|k| object_keys.contains(&k)))
        {
            sh.collection = None;
        }
    }
    object_keys
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("a JSON value serialises");
    s.push('\n');
    s
}

fn collection_schema(coll: &str, record: &str) -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{}{coll}.json", super::SCHEMA_BASE),
        "title": coll,
        "description": format!("The body of a GET on the {record} collection."),
        "x-ontap-evidence": "lib",
        "type": "object",
        "required": ["num_records"],
        "properties": {
            "_links": { "$ref": "_links_collection.json", "description": "" },
            "num_records": { "type": "integer", "minimum": 0, "description": "Number of records" },
            "records": { "type": "array", "items": { "$ref": format!("{record}.json") }, "description": "" }
        }
    })
}

fn endpoint(f: &Family, name: &str, path: &str, kind: &str, methods: &[&str]) -> Value {
    let mut ms = Map::new();
    for m in methods {
        let (query, responses): (&[&str], Value) = match (*m, kind) {
            ("GET", "collection") => (
                &[
                    "filters",
                    "fields",
                    "max_records",
                    "return_timeout",
                    "return_records",
                    "order_by",
                ],
                json!({ "200": format!("{name}_collection"), "default": "error_response" }),
            ),
            ("GET", _) => (
                &["fields"],
                json!({ "200": name, "default": "error_response" }),
            ),
            ("PATCH", "collection") => (
                &["filters", "return_timeout", "return_records"],
                json!({ "200": "collection_patch_response", "202": "empty_response", "default": "error_response" }),
            ),
            ("DELETE", "collection") => (
                &["filters", "return_timeout", "return_records"],
                json!({ "200": "collection_patch_response", "202": "empty_response", "default": "error_response" }),
            ),
            ("POST", "singleton") => (
                &["return_timeout"],
                json!({ "201": "empty_response", "202": "empty_response", "default": "error_response" }),
            ),
            ("POST", _) => (
                &["return_timeout", "return_records"],
                json!({ "201": "empty_response", "202": "empty_response", "default": "error_response" }),
            ),
            _ => (
                &["return_timeout"],
                json!({ "200": "empty_response", "202": "empty_response", "default": "error_response" }),
            ),
        };
        let mut def = json!({
            "evidence": "lib",
            "summary": format!("{m} {path}"),
            "query": query,
            "responses": responses,
            "errors": [],
        });
        if matches!(*m, "PATCH" | "POST") {
            def["request"] = json!(name);
        }
        if matches!(*m, "POST" | "DELETE") {
            def["destructive"] = json!(true);
        }
        ms.insert(m.to_string(), def);
    }
    let params: Vec<Value> = path_keys(path)
        .into_iter()
        .map(|k| json!({ "name": k, "description": "", "schema": { "type": "string" } }))
        .collect();
    let mut ep = json!({
        "path": path,
        "kind": kind,
        "introduced_in": f.introduced.as_deref().map(short_version).unwrap_or_else(|| "9.6".into()),
        "evidence": "lib",
        "methods": ms,
    });
    if !params.is_empty() {
        ep["path_parameters"] = json!(params);
    }
    ep
}

/// `9.19.1.0` -> `9.19`; `9.7.3` -> `9.7`.
pub fn short_version(v: &str) -> String {
    v.split('.').take(2).collect::<Vec<_>>().join(".")
}

fn json_type(ty: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match ty {
        "string" => ("string", None),
        "date-time" => ("string", Some("date-time")),
        "integer" => ("integer", None),
        "number" => ("number", None),
        "boolean" => ("boolean", None),
        "array" => ("array", None),
        "object" => ("object", None),
        _ => return None,
    })
}

/// One leaf's schema, with the flags its access lists imply.
fn leaf_schema(ff: &FieldFacts, is_key: bool, has_post: bool) -> Value {
    let mut m = Map::new();
    match json_type(&ff.ty) {
        Some((t, fmt)) => {
            m.insert(
                "type".into(),
                if ff.nullable {
                    json!([t, "null"])
                } else {
                    json!(t)
                },
            );
            if let Some(fmt) = fmt {
                m.insert("format".into(), json!(fmt));
            }
        }
        // A parent's key the record does not list: the path carries it as text, the record
        // (if it holds it at all) as text or a number.
        None if is_key => {
            m.insert("type".into(), json!(["string", "integer"]));
        }
        // A value the source does not type: any JSON value (the loader reads it as an object).
        None => {
            m.insert(
                "type".into(),
                json!(["object", "string", "number", "boolean", "array", "null"]),
            );
        }
    }
    if ff.ty == "array" {
        let items = ff.items.as_deref().and_then(json_type).map(|(t, fmt)| {
            let mut i = json!({ "type": t });
            if let Some(fmt) = fmt {
                i["format"] = json!(fmt);
            }
            i
        });
        if let Some(mut i) = items {
            // The limits of an array of strings or numbers hold for each item.
            add_limits(&mut i, ff, false);
            m.insert("items".into(), i);
        }
    } else {
        let mut v = Value::Object(std::mem::take(&mut m));
        add_limits(&mut v, ff, ff.nullable);
        m = match v {
            Value::Object(o) => o,
            _ => unreachable!(),
        };
    }
    m.insert("description".into(), json!(""));
    let flag = |m: &mut Map<String, Value>, k: &str| {
        m.insert(k.into(), json!(true));
    };
    // A key names the record in its path and its answers: never write-only, whatever a
    // release's lists say (9.7 lists a DNS configuration's svm.uuid as postable only).
    let (g, p, c) = (ff.gettable || is_key, ff.patchable, ff.postable);
    if g && !p && !c {
        flag(&mut m, "x-ontap-read-only");
    }
    if !g && (p || c) {
        flag(&mut m, "x-ontap-write-only");
    }
    if c && !p && !is_key {
        flag(&mut m, "x-ontap-patch-forbidden");
    }
    if p && !c && has_post {
        flag(&mut m, "x-ontap-post-forbidden");
    }
    if is_key && p {
        flag(&mut m, "x-ontap-patch-untested");
    }
    if ff.expensive {
        flag(&mut m, "x-ontap-expensive");
    }
    if let Some(v) = &ff.introduced {
        m.insert("x-ontap-introduced".into(), json!(short_version(v)));
    }
    m.insert("x-ontap-evidence".into(), json!("lib"));
    Value::Object(m)
}

fn add_limits(v: &mut Value, ff: &FieldFacts, nullable: bool) {
    if let Some(e) = &ff.enum_values {
        let mut e = e.clone();
        if nullable {
            e.push(Value::Null);
        }
        v["enum"] = json!(e);
    }
    if let Some(n) = ff.min_length {
        v["minLength"] = json!(n);
    }
    if let Some(n) = ff.max_length {
        v["maxLength"] = json!(n);
    }
    if let Some(n) = ff.minimum {
        v["minimum"] = json!(n);
    }
    if let Some(n) = ff.maximum {
        v["maximum"] = json!(n);
    }
}

/// The record schema: the dotted fields as nested objects.
fn resource_schema(name: &str, f: &Family, keys: &[String], has_post: bool) -> Value {
    let mut root = Map::new();
    let mut fields = f.fields.clone();
    // A key the source names but does not list among the fields (a parent's key): the path
    // carries it as text, so it is kept as a read-only field of the record.
    for k in keys {
        fields.entry(k.clone()).or_insert_with(|| FieldFacts {
            ty: "any".into(),
            gettable: true,
            ..FieldFacts::default()
        });
    }
    for (path, ff) in &fields {
        let is_key = keys.contains(path);
        insert_leaf(&mut root, path, leaf_schema(ff, is_key, has_post));
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{}{name}.json", super::SCHEMA_BASE),
        "title": name,
        "description": format!("A record of {}.", f.name),
        "x-ontap-evidence": "lib",
        "x-ontap-keys": keys,
        "type": "object",
        "properties": root,
    })
}

fn insert_leaf(props: &mut Map<String, Value>, path: &str, leaf: Value) {
    match path.split_once('.') {
        None => {
            props.insert(path.to_string(), leaf);
        }
        Some((head, rest)) => {
            let node = props.entry(head.to_string()).or_insert_with(
                || json!({ "type": "object", "description": "", "properties": {} }),
            );
            if node.get("properties").is_none() {
                // Both a leaf and an object in the source: the object wins.
                *node = json!({ "type": "object", "description": "", "properties": {} });
            }
            let inner = node["properties"]
                .as_object_mut()
                .expect("an object node has properties");
            insert_leaf(inner, rest, leaf);
        }
    }
}

/// Families whose name matches one of the globs (`*` and `?`); every family without globs.
pub fn select(c: &mut Contract, globs: &[String]) {
    if !globs.is_empty() {
        c.families
            .retain(|f| globs.iter().any(|g| glob_match(g, &f.name)));
    }
}

/// `*` matches any run of characters, `?` one character.
pub fn glob_match(pat: &str, s: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Writes files under `dir` (created; refused when it holds anything already).
pub fn write_dir(dir: &std::path::Path, files: &[(String, String)]) -> Result<(), ImportError> {
    let io = |path: &std::path::Path, err| ImportError::Io {
        path: path.display().to_string(),
        err,
    };
    if dir.exists() {
        let mut rd = std::fs::read_dir(dir).map_err(|e| io(dir, e))?;
        if rd.next().is_some() {
            return Err(ImportError::Source(format!(
                "{}: the output directory is not empty (give a new or empty directory)",
                dir.display()
            )));
        }
    }
    for (rel, text) in files {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(&p, text).map_err(|e| io(&p, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
