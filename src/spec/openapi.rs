//! `spec openapi`: an OpenAPI 3.1 document built from the same files, for generic tools
//! (Schemathesis, Prism, code generators). OpenAPI 3.1 schemas are JSON Schema 2020-12, so the
//! schemas go in nearly as they are: `$ref`s point into `components`, and the access flags also
//! become the standard `readOnly` / `writeOnly` keywords those tools understand.
//!
//! One rename: ONTAP's dotted path keys (`{owner.uuid}`) are legal OpenAPI but Stoplight Prism
//! matches no request against them, so the document spells them `{owner_uuid}` and keeps the
//! field in `x-ontap-field` (see `docs/openapi-tools.md`).

use super::{Kind, Method, SCHEMA_BASE, Spec};
use serde_json::{Map, Value, json};

/// Rewrites `"$ref": "owner.json"` to `#/components/schemas/owner` and adds readOnly/writeOnly.
fn rewrite(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, val) in m {
                match k.as_str() {
                    "$id" | "$schema" => {}
                    "$ref" => {
                        let s = val.as_str().unwrap_or("");
                        let name = s.trim_start_matches(SCHEMA_BASE).trim_end_matches(".json");
                        out.insert(k.clone(), json!(format!("#/components/schemas/{name}")));
                    }
                    _ => {
                        out.insert(k.clone(), rewrite(val));
                    }
                }
            }
            let flag = |k: &str| m.get(k).and_then(Value::as_bool).unwrap_or(false);
            if flag("x-ontap-read-only") || flag("x-ontap-post-response-only") {
                out.insert("readOnly".into(), json!(true));
            }
            if flag("x-ontap-write-only") {
                out.insert("writeOnly".into(), json!(true));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(rewrite).collect()),
        other => other.clone(),
    }
}

/// The OpenAPI spelling of a path key: `owner.uuid` becomes `owner_uuid`.
pub fn param_name(key: &str) -> String {
    key.replace('.', "_")
}

/// The OpenAPI spelling of a catalog path: `/x/{owner.uuid}` becomes `/x/{owner_uuid}`.
pub fn path_template(path: &str) -> String {
    path.split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(key) => format!("{{{}}}", param_name(key)),
                None => seg.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn operation_id(m: Method, path: &str) -> String {
    let mut id = m.as_str().to_ascii_lowercase();
    for part in path.trim_start_matches("/api/").split('/') {
        id.push('_');
        id.push_str(&part.replace(['{', '}'], "").replace('.', "_"));
    }
    id
}

/// Builds the OpenAPI 3.1 document.
pub fn openapi(spec: &Spec) -> Value {
    let mut schemas = Map::new();
    for (name, doc) in &spec.schemas {
        schemas.insert(name.clone(), rewrite(&doc.value));
    }
    let mut paths = Map::new();
    for ep in &spec.endpoints {
        let res = spec.resource_of(ep);
        let mut item = Map::new();
        let path_params: Vec<Value> = ep
            .def
            .path_parameters
            .iter()
            .map(|p| json!({"name": param_name(&p.name), "in": "path", "required": true, "description": p.description, "schema": p.schema, "x-ontap-field": p.name}))
            .collect();
        if !path_params.is_empty() {
            item.insert("parameters".into(), Value::Array(path_params));
        }
        for (m, def) in &ep.def.methods {
            let mut params = Vec::new();
            for q in &def.query {
                if q == "filters" {
                    for f in res.gettable() {
                        let mut schema = f.schema.clone();
                        if let Some(o) = schema.as_object_mut() {
                            o.remove("minLength");
                        }
                        params.push(json!({"name": f.path, "in": "query", "required": false, "description": format!("Filter by {}", f.path), "schema": schema}));
                    }
                } else if let Some(p) = spec.params.get(q) {
                    let mut param = json!({"name": q, "in": "query", "required": false, "description": p.description, "schema": p.schema});
                    if p.style.as_deref() == Some("comma") {
                        param["style"] = json!("form");
                        param["explode"] = json!(false);
                    }
                    params.push(param);
                }
            }
            let mut responses = Map::new();
            for (status, schema) in &def.responses {
                let desc = if status == "default" { "Error" } else { "OK" };
                let mut r = json!({"description": desc, "content": {"application/json": {"schema": schema_ref(schema)}, "application/hal+json": {"schema": schema_ref(schema)}}});
                if status == "201" {
                    r["headers"] = json!({"Location": {"description": "The new record's path", "schema": {"type": "string"}}});
                }
                responses.insert(status.clone(), r);
            }
            let mut op = json!({
                "operationId": operation_id(*m, &ep.def.path),
                "summary": def.summary,
                "tags": [ep.family],
                "parameters": params,
                "responses": responses,
                "x-ontap-introduced-in": ep.def.introduced_in,
                "x-ontap-evidence": def.evidence,
            });
            if let Some(req) = &def.request {
                let body = if *m == Method::POST && !def.required.is_empty() {
                    json!({"allOf": [schema_ref(req), required_shape(&def.required)]})
                } else {
                    schema_ref(req)
                };
                op["requestBody"] =
                    json!({"required": true, "content": {"application/json": {"schema": body}}});
            }
            if let Some(r) = &def.removed_in {
                op["x-ontap-removed-in"] = json!(r);
            }
            if !def.errors.is_empty() {
                op["x-ontap-error-codes"] =
                    serde_json::to_value(&def.errors).unwrap_or(Value::Null);
            }
            item.insert(m.as_str().to_ascii_lowercase(), op);
        }
        item.insert("x-ontap-path".into(), json!(ep.def.path));
        paths.insert(path_template(&ep.def.path), Value::Object(item));
    }
    let families: Vec<Value> = spec
        .families
        .iter()
        .map(|f| json!({"name": f.family, "description": f.description}))
        .collect();
    let kinds = spec
        .endpoints
        .iter()
        .filter(|e| e.kind() == Kind::Instance)
        .count();
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "ONTAP REST API (ontap-conform contract)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("Built by ontap-conform from specs/ ({} endpoints, {} of them instance paths). Severity of each rule follows its x-ontap-evidence: doc and lib rules are failures, obs rules warnings.", spec.endpoints.len(), kinds),
        },
        "servers": [{"url": "https://127.0.0.1:8443", "description": "ontap-conform mock (default address)"}],
        "security": [{"basic": []}],
        "tags": families,
        "paths": paths,
        "components": {
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
            "schemas": schemas,
        },
    })
}

/// `required` for dotted fields: `owner.uuid` becomes `{required: [owner], properties: {owner: {required: [uuid]}}}`.
fn required_shape(fields: &[String]) -> Value {
    let mut root = Map::new();
    for f in fields {
        let mut cur = &mut root;
        let parts: Vec<&str> = f.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let req = cur.entry("required").or_insert_with(|| json!([]));
            if let Some(a) = req.as_array_mut()
                && !a.iter().any(|v| v == part)
            {
                a.push(json!(part));
            }
            if i + 1 == parts.len() {
                break;
            }
            let props = cur.entry("properties").or_insert_with(|| json!({}));
            let next = props
                .as_object_mut()
                .expect("object")
                .entry(part.to_string())
                .or_insert_with(|| json!({}));
            cur = next.as_object_mut().expect("object");
        }
    }
    Value::Object(root)
}
