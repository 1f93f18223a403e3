//! The checks of the contract's files, each problem named by file and JSON pointer: a schema
//! file's header, meta-schema, `x-ontap-*` keywords and `$ref`s; `$ref` chains without cycles;
//! the query parameters' schemas; the shared rules; and each catalog entry against the schemas,
//! the parameters and its resource (which also gives the entry's path segments).

use super::catalog::{Endpoint, Segment};
use super::model::*;
use super::resource::Resource;
use super::{DRAFT, OntapVersion, SCHEMA_BASE, SchemaDoc, SpecError};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const FLAG_KEYWORDS: &[&str] = &[
    "x-ontap-read-only",
    "x-ontap-patch-forbidden",
    "x-ontap-write-only",
    "x-ontap-post-response-only",
    "x-ontap-admin-only",
    "x-ontap-crlf-normalised",
    "x-ontap-empty-unsets",
    "x-ontap-lockout",
    "x-ontap-patch-untested",
    "x-ontap-post-forbidden",
    "x-ontap-trailing-lf",
    "x-ontap-expensive",
];

/// Checks one schema file: header, meta-schema, `x-ontap-*` keywords and `$ref` targets.
pub(super) fn check_schema_doc(
    doc: &SchemaDoc,
    all: &BTreeMap<String, SchemaDoc>,
) -> Result<(), SpecError> {
    let f = doc.file.as_str();
    let obj = doc
        .value
        .as_object()
        .ok_or_else(|| SpecError::new(f, "", "a JSON object (a schema)"))?;
    match obj.get("$schema") {
        Some(Value::String(s)) if s == DRAFT => {}
        _ => {
            return Err(SpecError::new(
                f,
                "/$schema",
                format!("\"{DRAFT}\" (draft 2020-12)"),
            ));
        }
    }
    let want_id = format!("{SCHEMA_BASE}{}.json", doc.name);
    match obj.get("$id") {
        Some(Value::String(s)) if *s == want_id => {}
        _ => {
            return Err(SpecError::new(
                f,
                "/$id",
                format!("\"{want_id}\" (the base URI and the file name)"),
            ));
        }
    }
    if !obj.get("title").is_some_and(Value::is_string) {
        return Err(SpecError::new(
            f,
            "/title",
            "a string: the definition's name in the ONTAP docs",
        ));
    }
    if let Err(e) = jsonschema::meta::validate(&doc.value) {
        return Err(SpecError::new(
            f,
            e.instance_path().to_string(),
            format!("a valid draft 2020-12 schema ({e})"),
        ));
    }
    walk_keywords(f, "", &doc.value, all)
}

fn walk_keywords(
    f: &str,
    at: &str,
    v: &Value,
    all: &BTreeMap<String, SchemaDoc>,
) -> Result<(), SpecError> {
    let Some(obj) = v.as_object() else {
        return Ok(());
    };
    for (k, child) in obj {
        let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
        if k.starts_with("x-ontap-") {
            check_ontap_keyword(f, &here, k, child)?;
        } else if k == "$ref" {
            let target = child.as_str().unwrap_or("");
            let name = target.strip_suffix(".json").unwrap_or("");
            if !target.starts_with('#') && !all.contains_key(name) {
                return Err(SpecError::new(
                    f,
                    here,
                    format!(
                        "a reference to a schema file in specs/schemas/ (like \"owner.json\"), found {target:?}"
                    ),
                ));
            }
        } else if k == "enum" || k == "const" || k == "examples" || k == "default" {
            // values, not schemas
        } else {
            walk_keywords(f, &here, child, all)?;
            if let Some(arr) = child.as_array() {
                for (i, item) in arr.iter().enumerate() {
                    walk_keywords(f, &format!("{here}/{i}"), item, all)?;
                }
            }
        }
    }
    Ok(())
}

/// One `x-ontap-*` keyword of a schema: a known one, with a value of its kind.
fn check_ontap_keyword(f: &str, here: &str, k: &str, child: &Value) -> Result<(), SpecError> {
    if FLAG_KEYWORDS.contains(&k) {
        if !child.is_boolean() {
            return Err(SpecError::new(f, here, format!("{k} to be true or false")));
        }
    } else if k == "x-ontap-keys" {
        let ok = child
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string));
        if !ok {
            return Err(SpecError::new(
                f,
                here,
                "an array of dotted field names (empty only for a singleton's resource)",
            ));
        }
    } else if k == "x-ontap-introduced" {
        if child
            .as_str()
            .and_then(|v| v.parse::<OntapVersion>().ok())
            .is_none()
        {
            return Err(SpecError::new(
                f,
                here,
                "the ONTAP release that introduced the field, like \"9.14\"",
            ));
        }
    } else if k == "x-ontap-derived-from" {
        if !child.is_string() {
            return Err(SpecError::new(
                f,
                here,
                "the name of the field this one is derived from",
            ));
        }
    } else if k == "x-ontap-evidence" {
        check_evidence_keyword(f, here, child)?;
    } else {
        return Err(SpecError::new(
            f,
            here,
            format!(
                "a known x-ontap keyword ({}, x-ontap-keys, x-ontap-derived-from, x-ontap-introduced, x-ontap-evidence), found {k}",
                FLAG_KEYWORDS.join(", ")
            ),
        ));
    }
    Ok(())
}

/// A schema that is only a `$ref` to another must not lead back to itself: the chain is followed
/// when fields are flattened, and a cycle would never end.
pub(super) fn check_ref_chain(
    doc: &SchemaDoc,
    all: &BTreeMap<String, SchemaDoc>,
) -> Result<(), SpecError> {
    let mut seen = vec![doc.name.as_str()];
    let mut cur = &doc.value;
    while let Some(target) = cur.get("$ref").and_then(Value::as_str) {
        let Some(next) = all.get(target.trim_end_matches(".json")) else {
            return Ok(());
        };
        if seen.contains(&next.name.as_str()) {
            seen.push(next.name.as_str());
            return Err(SpecError::new(
                &doc.file,
                "/$ref",
                format!(
                    "a reference chain that ends in a schema, found the cycle {}",
                    seen.join(" -> ")
                ),
            ));
        }
        seen.push(next.name.as_str());
        cur = &next.value;
    }
    Ok(())
}

fn check_evidence_keyword(f: &str, at: &str, v: &Value) -> Result<(), SpecError> {
    let bad = || {
        SpecError::new(
            f,
            at,
            "\"doc\", \"lib\" or \"obs\", or an object of keyword to one of them",
        )
    };
    match v {
        Value::String(s) => Evidence::parse(s).map(|_| ()).ok_or_else(bad),
        Value::Object(m) => {
            for (k, e) in m {
                if e.as_str().and_then(Evidence::parse).is_none() {
                    return Err(SpecError::new(
                        f,
                        format!("{at}/{k}"),
                        "\"doc\", \"lib\" or \"obs\"",
                    ));
                }
            }
            Ok(())
        }
        _ => Err(bad()),
    }
}

pub(super) fn check_param_schema(file: &str, at: &str, schema: &Value) -> Result<(), SpecError> {
    jsonschema::meta::validate(schema).map_err(|e| {
        SpecError::new(
            file,
            format!("{at}{}", e.instance_path()),
            format!("a valid schema ({e})"),
        )
    })
}

pub(super) fn check_conventions(file: &str, c: &ConventionsFile) -> Result<(), SpecError> {
    let mut seen = BTreeSet::new();
    for (i, r) in c.rules.iter().enumerate() {
        if !seen.insert(r.id.as_str()) {
            return Err(SpecError::new(
                file,
                format!("/rules/{i}/id"),
                "a rule id used once",
            ));
        }
        if !["any", "collection", "instance", "record"].contains(&r.applies.kind.as_str()) {
            return Err(SpecError::new(
                file,
                format!("/rules/{i}/applies/kind"),
                "\"any\", \"collection\" or \"instance\"",
            ));
        }
    }
    Ok(())
}

/// Checks one catalog entry against the schemas and parameters, and derives its routing.
pub(super) fn check_endpoint(
    file: &str,
    at: &str,
    fam: &FamilyFile,
    ep: &EndpointDef,
    res: &Resource,
    schemas: &BTreeMap<String, SchemaDoc>,
    params: &BTreeMap<String, QueryParamDef>,
) -> Result<Endpoint, SpecError> {
    let introduced: OntapVersion = ep
        .introduced_in
        .parse::<OntapVersion>()
        .map_err(|e| SpecError::new(file, format!("{at}/introduced_in"), e.to_string()))?;
    let segments = path_segments(file, at, ep, res)?;
    let keys = segments
        .iter()
        .filter(|s| matches!(s, Segment::Key(_)))
        .count();
    check_kind(file, at, fam, ep, res, keys)?;
    if ep.methods.is_empty() {
        return Err(SpecError::new(
            file,
            format!("{at}/methods"),
            "at least one method",
        ));
    }
    for (m, def) in &ep.methods {
        check_method(
            file,
            &format!("{at}/methods/{m}"),
            def,
            res,
            schemas,
            params,
        )?;
    }
    Ok(Endpoint {
        family: fam.family.clone(),
        resource: fam.resource.clone(),
        file: file.to_string(),
        def: ep.clone(),
        introduced,
        segments,
    })
}

/// The segments of an entry's path: words and `{key}`s, each key with its entry in
/// `path_parameters` and a field of the resource, and every path parameter in the path.
fn path_segments(
    file: &str,
    at: &str,
    ep: &EndpointDef,
    res: &Resource,
) -> Result<Vec<Segment>, SpecError> {
    if !ep.path.starts_with("/api/") {
        return Err(SpecError::new(
            file,
            format!("{at}/path"),
            format!("a path starting with /api/, found {:?}", ep.path),
        ));
    }
    let mut segments = Vec::new();
    for part in ep.path.trim_start_matches('/').split('/') {
        if let Some(k) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if !ep.path_parameters.iter().any(|p| p.name == k) {
                return Err(SpecError::new(
                    file,
                    format!("{at}/path_parameters"),
                    format!("an entry for the path key {{{k}}}"),
                ));
            }
            if res.field(k).is_none() {
                return Err(SpecError::new(
                    file,
                    format!("{at}/path"),
                    format!("{{{k}}} to name a field of {}", res.name),
                ));
            }
            segments.push(Segment::Key(k.to_string()));
        } else if part.is_empty() || part.contains(['{', '}']) {
            return Err(SpecError::new(
                file,
                format!("{at}/path"),
                "segments that are words or {field.name}",
            ));
        } else {
            segments.push(Segment::Literal(part.to_string()));
        }
    }
    for (i, p) in ep.path_parameters.iter().enumerate() {
        if !segments.contains(&Segment::Key(p.name.clone())) {
            return Err(SpecError::new(
                file,
                format!("{at}/path_parameters/{i}/name"),
                format!("a key that appears in the path, found {:?}", p.name),
            ));
        }
    }
    Ok(segments)
}

/// The entry's kind against its path: keys where an instance has them and nowhere else (a
/// nested collection carries only its parents'), then [`check_singleton`].
fn check_kind(
    file: &str,
    at: &str,
    fam: &FamilyFile,
    ep: &EndpointDef,
    res: &Resource,
    keys: usize,
) -> Result<(), SpecError> {
    match ep.kind {
        // A nested collection carries its parents' keys; its records' paths carry more.
        Kind::Collection
            if keys != 0
                && fam.endpoints.iter().any(|o| {
                    o.kind == Kind::Instance && !o.path.starts_with(&format!("{}/", ep.path))
                }) =>
        {
            return Err(SpecError::new(
                file,
                format!("{at}/kind"),
                "\"instance\" for a path with keys (a collection path carries only its parents' keys, and its records' paths extend it)",
            ));
        }
        Kind::Instance if keys == 0 => {
            return Err(SpecError::new(
                file,
                format!("{at}/kind"),
                "\"collection\" or \"singleton\" for a path without keys",
            ));
        }
        Kind::Singleton if keys != 0 => {
            return Err(SpecError::new(
                file,
                format!("{at}/kind"),
                "\"instance\" for a path with keys (a singleton path has no keys)",
            ));
        }
        _ => {}
    }
    check_singleton(file, at, fam, ep, res)
}

/// A singleton alone in its family, read and patched only when hand-written, with a resource
/// without keys and no collection parameter; a family with instance paths has a resource with
/// keys.
fn check_singleton(
    file: &str,
    at: &str,
    fam: &FamilyFile,
    ep: &EndpointDef,
    res: &Resource,
) -> Result<(), SpecError> {
    // A hand-written singleton is read and patched only; NetApp's client offers POST on some
    // (`/api/cluster` creates the cluster), so an imported one keeps what its source states.
    if ep.kind == Kind::Singleton && fam.imported_from.is_none() {
        for m in ep.methods.keys() {
            if !matches!(m, Method::GET | Method::PATCH) {
                return Err(SpecError::new(
                    file,
                    format!("{at}/methods/{m}"),
                    "GET or PATCH only on a singleton (its one record is neither created nor deleted)",
                ));
            }
        }
    }
    let has_records = fam.endpoints.iter().any(|o| o.kind == Kind::Instance);
    if has_records && res.keys.is_empty() {
        return Err(SpecError::new(
            file,
            "/resource",
            format!(
                "a resource with keys (x-ontap-keys) for a family with instance paths, found {:?} without keys",
                res.name
            ),
        ));
    }
    if ep.kind == Kind::Singleton {
        for (m, def) in &ep.methods {
            if let Some(i) = def
                .query
                .iter()
                .position(|q| COLLECTION_ONLY_PARAMS.contains(&q.as_str()))
            {
                return Err(SpecError::new(
                    file,
                    format!("{at}/methods/{m}/query/{i}"),
                    format!(
                        "no collection parameter on a singleton (fields, return_timeout), found {:?}",
                        def.query[i]
                    ),
                ));
            }
        }
        if let Some(i) = fam.endpoints.iter().position(|o| o.kind != Kind::Singleton) {
            return Err(SpecError::new(
                file,
                format!("/endpoints/{i}/kind"),
                "\"singleton\": a family with a singleton endpoint has no other kind of endpoint",
            ));
        }
        if !res.keys.is_empty() {
            return Err(SpecError::new(
                file,
                "/resource",
                format!(
                    "a resource without keys for a singleton family (x-ontap-keys: []), found {:?} with keys {}",
                    res.name,
                    res.keys.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// One method of an entry: its responses (a 2xx among them) and request name schemas, its query
/// parameters are known ones, its required fields and documented errors name fields of the
/// resource, and a removed method says what it answers.
fn check_method(
    file: &str,
    mat: &str,
    def: &MethodDef,
    res: &Resource,
    schemas: &BTreeMap<String, SchemaDoc>,
    params: &BTreeMap<String, QueryParamDef>,
) -> Result<(), SpecError> {
    let schema_ref = |ptr: String, name: &str| -> Result<(), SpecError> {
        if schemas.contains_key(name) {
            Ok(())
        } else {
            Err(SpecError::new(
                file,
                ptr,
                format!("the name of a schema in specs/schemas/, found {name:?}"),
            ))
        }
    };
    for (status, schema) in &def.responses {
        let ok_status =
            status == "default" || status.parse::<u16>().is_ok_and(|s| (100..600).contains(&s));
        if !ok_status {
            return Err(SpecError::new(
                file,
                format!("{mat}/responses/{status}"),
                "a status code or \"default\"",
            ));
        }
        schema_ref(format!("{mat}/responses/{status}"), schema)?;
    }
    if !def.responses.keys().any(|s| s.starts_with('2')) {
        return Err(SpecError::new(
            file,
            format!("{mat}/responses"),
            "a 2xx response",
        ));
    }
    if let Some(r) = &def.request {
        schema_ref(format!("{mat}/request"), r)?;
    }
    for (i, q) in def.query.iter().enumerate() {
        if q != "filters" && !params.contains_key(q) {
            return Err(SpecError::new(
                file,
                format!("{mat}/query/{i}"),
                format!("\"filters\" or a parameter of specs/parameters.json, found {q:?}"),
            ));
        }
    }
    for (i, r) in def.required.iter().enumerate() {
        if res.field(r).is_none() {
            return Err(SpecError::new(
                file,
                format!("{mat}/required/{i}"),
                format!("a field of {}, found {r:?}", res.name),
            ));
        }
    }
    check_errors(file, mat, def, res)?;
    if let Some(r) = &def.removed_in {
        r.parse::<OntapVersion>()
            .map_err(|e| SpecError::new(file, format!("{mat}/removed_in"), e.to_string()))?;
        if def.removed_error.is_none() {
            return Err(SpecError::new(
                file,
                format!("{mat}/removed_error"),
                "the error a removed method answers",
            ));
        }
    }
    Ok(())
}

/// The documented errors of a method: a code of digits, 4xx or 5xx statuses, the field of the
/// resource an error names.
fn check_errors(file: &str, mat: &str, def: &MethodDef, res: &Resource) -> Result<(), SpecError> {
    for (i, e) in def.errors.iter().enumerate() {
        if e.code.is_empty() || !e.code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SpecError::new(
                file,
                format!("{mat}/errors/{i}/code"),
                format!("a string of digits, found {:?}", e.code),
            ));
        }
        if e.status.is_empty() || e.status.iter().any(|s| !(400..600).contains(s)) {
            return Err(SpecError::new(
                file,
                format!("{mat}/errors/{i}/status"),
                "one or more 4xx or 5xx statuses",
            ));
        }
        if let Some(fld) = &e.field
            && res.field(fld).is_none()
        {
            return Err(SpecError::new(
                file,
                format!("{mat}/errors/{i}/field"),
                format!("a field of {}, found {fld:?}", res.name),
            ));
        }
    }
    Ok(())
}
