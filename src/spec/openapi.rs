//! `spec openapi`: an OpenAPI 3.1 document built from the same files, for generic tools
//! (Schemathesis, Prism, code generators). OpenAPI 3.1 schemas are JSON Schema 2020-12, so the
//! schemas go in nearly as they are: `$ref`s point into `components`, and the access flags also
//! become the standard `readOnly` / `writeOnly` keywords those tools understand.
//!
//! Where the catalog knows more than a schema says, the document says it too, so that a generic
//! fuzzer run against a conformant target finds nothing to complain about (docs/openapi-tools.md,
//! checked by `cargo test` through scripts/check-openapi-tools.sh): request bodies per method
//! (only the fields the method may carry, `additionalProperties: false`), `fields` and `order_by`
//! limited to the field names, filters as strings in ONTAP's query syntax, examples of that
//! syntax, and links from each POST to the instance it created.
//!
//! One rename: ONTAP's dotted path keys (`{owner.uuid}`) are legal OpenAPI but Stoplight Prism
//! matches no request against them, so the document spells them `{owner_uuid}` and keeps the
//! field in `x-ontap-field` (see `docs/openapi-tools.md`).

use super::resource::{Field, FieldType, Resource};
use super::{Endpoint, Kind, Method, MethodDef, SCHEMA_BASE, Spec};
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

/// The name of the object parameter that holds the filters of a collection PATCH or DELETE
/// (exploded: each of its properties is a query parameter of its own).
pub const FILTERS_PARAM: &str = "filters";

/// The component every boolean filter refers to (its pattern is long: written once).
pub const BOOLEAN_FILTER: &str = "ontap_boolean_filter";

/// Builds the OpenAPI 3.1 document.
pub fn openapi(spec: &Spec) -> Value {
    let mut schemas = Map::new();
    schemas.insert(BOOLEAN_FILTER.into(), boolean_filter_schema());
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
            let params = query_params(spec, ep, res, *m, def);
            let responses = responses(spec, ep, def);
            let mut op = json!({
                "operationId": operation_id(*m, &ep.def.path),
                "summary": def.summary,
                "tags": [ep.family],
                "parameters": params,
                "responses": responses,
                "x-ontap-introduced-in": ep.def.introduced_in,
                "x-ontap-evidence": def.evidence,
            });
            if def.request.is_some() {
                let name = format!("{}_{}_request", res.name, m.as_str().to_ascii_lowercase());
                schemas.insert(name.clone(), request_schema(res, *m, &def.required));
                // A POST must carry its required fields; a PATCH without a body changes nothing
                // (the catalog requires no field of it).
                op["requestBody"] = json!({"required": *m == Method::POST, "content": {"application/json": {"schema": schema_ref(&name)}}});
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
    // The path every target must offer for the harness to learn its version: with examples, so
    // that a generic mock serving this document (Prism) answers like an ONTAP 9.14.1.
    paths.insert("/api/cluster".into(), cluster_path());
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

/// `GET /api/cluster`: the cluster's name, uuid and version (ONTAP-BEHAVIOR.md §1, the discovery
/// endpoints), which the harness reads before anything else.
fn cluster_path() -> Value {
    // Nothing required: `fields=` narrows the answer.
    let version = json!({
        "type": "object",
        "properties": {
            "full": {"type": "string", "examples": ["NetApp Release 9.14.1: Wed Nov 22 2023"]},
            "generation": {"type": "integer", "examples": [9]},
            "major": {"type": "integer", "examples": [14]},
            "minor": {"type": "integer", "examples": [1]},
        },
    });
    let cluster = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "examples": ["cluster1"]},
            "uuid": {"type": "string", "examples": ["b1f1b4d5-4ad9-11ee-a6d3-005056ae1234"]},
            "version": version,
        },
    });
    json!({
        "get": {
            "operationId": "get_cluster",
            "summary": "The cluster's name, uuid and ONTAP version (read by ontap-conform before anything else).",
            "tags": ["cluster"],
            "responses": {
                "200": {"description": "the cluster", "content": {"application/json": {"schema": cluster}, "application/hal+json": {"schema": cluster}}},
                "default": {"description": "an error", "content": {"application/json": {"schema": schema_ref("error_response")}, "application/hal+json": {"schema": schema_ref("error_response")}}},
            },
            "x-ontap-evidence": "lib",
        },
        "x-ontap-path": "/api/cluster",
    })
}

/// The query parameters of `m` on an endpoint: the catalog's parameters (`fields` and
/// `order_by` naming the resource's fields, integers bounded as 64-bit ones) and its filters,
/// one query parameter per gettable field, or on a collection's PATCH and DELETE one required
/// object of them.
fn query_params(
    spec: &Spec,
    ep: &Endpoint,
    res: &Resource,
    m: Method,
    def: &MethodDef,
) -> Vec<Value> {
    let mut params = Vec::new();
    for q in &def.query {
        if q == "filters" {
            // A PATCH or DELETE on a collection needs at least one field as a query
            // parameter (NetApp's REST conventions, ONTAP-BEHAVIOR.md section 7): the
            // filters are then one required object parameter, exploded into a query
            // parameter per property (`style: form`), with `minProperties: 1`.
            let needs_one = ep.kind() == crate::spec::model::Kind::Collection
                && matches!(m, Method::PATCH | Method::DELETE);
            if needs_one {
                let props: Map<String, Value> = res
                    .gettable()
                    .map(|f| {
                        let mut s = filter_schema(f);
                        s["description"] = json!(filter_description(f));
                        (f.path.clone(), s)
                    })
                    .collect();
                params.push(json!({
                    "name": FILTERS_PARAM,
                    "in": "query",
                    "required": true,
                    "style": "form",
                    "explode": true,
                    "description": format!("The records to {}: at least one field as a query parameter, in ONTAP's query syntax (a {} on the collection without one is refused). Each property is a query parameter of its own.", if m == Method::PATCH { "change" } else { "delete" }, m.as_str()),
                    "schema": {"type": "object", "properties": props, "additionalProperties": false, "minProperties": 1},
                }));
            } else {
                for f in res.gettable() {
                    params.push(json!({"name": f.path, "in": "query", "required": false, "description": filter_description(f), "schema": filter_schema(f)}));
                }
            }
        } else if let Some(p) = spec.params.get(q) {
            let schema = match q.as_str() {
                "fields" => fields_schema(res),
                "order_by" => order_by_schema(res),
                // An integer of the API is at most a 64-bit one.
                _ if p.schema["type"] == "integer" && p.schema.get("maximum").is_none() => {
                    let mut s = p.schema.clone();
                    s["format"] = json!("int64");
                    s["maximum"] = json!(i64::MAX);
                    s
                }
                _ => p.schema.clone(),
            };
            let mut param = json!({"name": q, "in": "query", "required": false, "description": p.description, "schema": schema});
            if p.style.as_deref() == Some("comma") && schema["type"] == "array" {
                param["style"] = json!("form");
                param["explode"] = json!(false);
            }
            params.push(param);
        }
    }
    params
}

/// The responses of a method: each status with its schema; a 201 with `Location` and a link
/// to the new record's instance path.
fn responses(spec: &Spec, ep: &Endpoint, def: &MethodDef) -> Map<String, Value> {
    let mut responses = Map::new();
    for (status, schema) in &def.responses {
        let desc = if status == "default" { "Error" } else { "OK" };
        let mut r = json!({"description": desc, "content": {"application/json": {"schema": schema_ref(schema)}, "application/hal+json": {"schema": schema_ref(schema)}}});
        if status == "201" {
            r["headers"] = json!({"Location": {"description": "The new record's path", "schema": {"type": "string"}}});
            if let Some(links) = links_to_instance(spec, ep) {
                r["links"] = links;
            }
        }
        responses.insert(status.clone(), r);
    }
    responses
}

/// The request body of `m` on a resource: only the fields the catalog lets that method carry
/// (PATCH: patchable ones; POST: postable ones, write-only secrets included), nested as the
/// record nests them, with `additionalProperties: false` on every object (ONTAP answers 262179
/// to an unknown field and 262196 to a field the method may not set).
fn request_schema(res: &Resource, m: Method, required: &[String]) -> Value {
    let mut root = object_shape();
    for f in &res.fields {
        let keep = match m {
            Method::PATCH => f.patchable(),
            // An owner named by its uuid (required) and by its name too must name the same SVM,
            // which JSON Schema cannot say: the POST schema leaves the redundant name out.
            Method::POST => {
                f.postable()
                    && !(f.path.ends_with(".name")
                        && required.contains(&f.path.replace(".name", ".uuid")))
            }
            _ => false,
        };
        if !keep {
            continue;
        }
        let mut leaf = f.schema.clone();
        if let Some(o) = leaf.as_object_mut() {
            if !f.description.is_empty() {
                o.entry("description")
                    .or_insert_with(|| json!(f.description));
            }
            if f.flags.write_only {
                o.insert("writeOnly".into(), json!(true));
            }
        }
        let parts: Vec<&str> = f.path.split('.').collect();
        let mut cur = &mut root;
        for part in &parts[..parts.len() - 1] {
            cur = cur["properties"]
                .as_object_mut()
                .expect("properties")
                .entry(part.to_string())
                .or_insert_with(object_shape);
        }
        cur["properties"][parts[parts.len() - 1]] = leaf;
    }
    for r in required {
        let parts: Vec<&str> = r.split('.').collect();
        let mut cur = &mut root;
        for (i, part) in parts.iter().enumerate() {
            if let Some(a) = cur["required"].as_array_mut() {
                if !a.iter().any(|v| v == part) {
                    a.push(json!(part));
                }
            } else {
                cur["required"] = json!([part]);
            }
            if i + 1 == parts.len() {
                break;
            }
            cur = cur["properties"]
                .as_object_mut()
                .expect("properties")
                .entry(part.to_string())
                .or_insert_with(object_shape);
        }
    }
    root
}

fn object_shape() -> Value {
    json!({"type": "object", "additionalProperties": false, "properties": {}})
}

/// Escapes a literal for an ECMA-262 / Python regular expression.
fn regex_literal(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\^$.|?*+()[]{}/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

const NUMBER: &str = r"-?[0-9]+(\.[0-9]+)?";

/// The schema of a query filter on `f`: a string in ONTAP's query syntax (ONTAP-BEHAVIOR.md §3
/// and §7): alternatives joined by `|`, each optionally negated with `!`, each `null`, a value
/// of the field's type, a `*` wildcard pattern (strings) or a comparison or `a..b` range
/// (numbers). A free string field takes any text (every text is a literal or a pattern).
fn filter_schema(f: &Field) -> Value {
    if f.ty == FieldType::Boolean {
        // `type` beside the `$ref`: a tool that serializes query parameters (Schemathesis) then
        // never puts a non-string where a string goes. And an example, as curl users type it.
        return json!({"type": "string", "$ref": format!("#/components/schemas/{BOOLEAN_FILTER}"), "examples": ["true"]});
    }
    let term = match f.ty {
        FieldType::Integer | FieldType::Number => {
            Some(format!("(<=|>=|<|>)?{NUMBER}|{NUMBER}\\.\\.{NUMBER}"))
        }
        FieldType::String if !f.enum_values.is_empty() => {
            let mut alts: Vec<String> = f
                .enum_values
                .iter()
                .filter_map(Value::as_str)
                .map(regex_literal)
                .collect();
            alts.push(r"[^|!]*\*[^|]*".into());
            Some(alts.join("|"))
        }
        _ => None,
    };
    // An example of the syntax, as curl users type it (ONTAP-BEHAVIOR.md section 5:
    // `max_prompts=>1`, `scope=!svm`).
    let example = match f.ty {
        FieldType::Integer | FieldType::Number => Some(">1".to_string()),
        _ => f
            .enum_values
            .last()
            .and_then(Value::as_str)
            .map(|v| format!("!{v}")),
    };
    let mut schema = match term {
        None => json!({"type": "string"}),
        Some(t) => query_syntax(&t),
    };
    if let Some(e) = example {
        schema["examples"] = json!([e]);
    }
    schema
}

/// A filter whose alternatives (`|`) are each `null` or `term`, optionally negated with `!`.
fn query_syntax(term: &str) -> Value {
    let alt = format!("!?(null|{term})");
    json!({"type": "string", "pattern": format!("^{alt}(\\|{alt})*$")})
}

/// A boolean filter: `true`, `false`, and every `*` pattern one of them matches (`t*`, `*e`,
/// `*`); a pattern neither matches (`xy*z`) is a value no boolean can have, refused like `xyz`
/// (the mock's `Filter::misfit`, ONTAP-BEHAVIOR.md section 3). The patterns are written out as a
/// trie, each `*` as `\*+` (`**` matches what `*` matches).
fn boolean_filter_schema() -> Value {
    let mut globs = std::collections::BTreeSet::new();
    for word in ["true", "false"] {
        let chars: Vec<char> = word.chars().collect();
        globs_matching(&chars, 0, false, &mut String::new(), &mut globs);
    }
    let words: Vec<&str> = globs.iter().map(String::as_str).collect();
    let mut schema = query_syntax(&trie_regex(&words));
    schema["description"] = json!(
        "A boolean filter in ONTAP's query syntax: true, false, or a * pattern one of them matches; `!` negates, `|` separates alternatives, `null` / `!null` match an unset / set field."
    );
    schema
}

/// Every `*` pattern without `**` that matches `word[i..]`, each after `prefix`: a literal
/// character, or a star that takes `word[i..j]` for some j (never two stars in a row).
fn globs_matching(
    word: &[char],
    i: usize,
    after_star: bool,
    prefix: &mut String,
    out: &mut std::collections::BTreeSet<String>,
) {
    if i == word.len() {
        out.insert(prefix.clone());
        if !after_star {
            out.insert(format!("{prefix}*"));
        }
        return;
    }
    prefix.push(word[i]);
    globs_matching(word, i + 1, false, prefix, out);
    prefix.pop();
    if !after_star {
        prefix.push('*');
        for j in i..=word.len() {
            globs_matching(word, j, true, prefix, out);
        }
        prefix.pop();
    }
}

/// A regular expression for exactly `words`, as a trie: `(a(b|c)|d)` for ab, ac, d; `*` is
/// `\*+`.
fn trie_regex(words: &[&str]) -> String {
    let end = words.iter().any(|w| w.is_empty());
    let mut groups: std::collections::BTreeMap<char, Vec<&str>> = Default::default();
    for w in words {
        if let Some(c) = w.chars().next() {
            groups.entry(c).or_default().push(&w[c.len_utf8()..]);
        }
    }
    let alts: Vec<String> = groups
        .into_iter()
        .map(|(c, rest)| {
            let head = if c == '*' {
                r"\*+".to_string()
            } else {
                regex_literal(&c.to_string())
            };
            head + &trie_regex(&rest)
        })
        .collect();
    match (alts.len(), end) {
        (0, _) => String::new(),
        (1, false) => alts[0].clone(),
        _ => format!("({}){}", alts.join("|"), if end { "?" } else { "" }),
    }
}

fn filter_description(f: &Field) -> String {
    let what = match f.ty {
        FieldType::Boolean => "true or false (or a * pattern one of them matches)",
        FieldType::Integer | FieldType::Number => {
            "a number, a comparison (<N, >N, <=N, >=N) or a range (A..B)"
        }
        FieldType::String if !f.enum_values.is_empty() => {
            "one of the field's values or a * pattern"
        }
        _ => "a value or a * pattern",
    };
    format!(
        "Filter by {}: {what}; `!` negates, `|` separates alternatives, `null` / `!null` match an unset / set field (ONTAP's query syntax).",
        f.path
    )
}

/// A comma-separated list of `item`s (a space after a comma allowed, ONTAP-BEHAVIOR.md §7), or
/// nothing: `fields=` and `order_by=` ask for nothing in particular.
fn list_pattern(item: &str) -> String {
    format!("^({item}(, ?{item})*)?$")
}

/// `fields`: a comma-separated list of the resource's field names (leaves and objects such as
/// `owner`), `*` (the common fields) or `**` (all fields). A string with a pattern rather than
/// an array of an enum: an empty array and an array of one empty name are both `fields=`.
fn fields_schema(res: &Resource) -> Value {
    let mut names: Vec<String> = vec![r"\*\*?".into()];
    names.extend(res.objects.iter().map(|o| regex_literal(o)));
    names.extend(res.gettable().map(|f| regex_literal(&f.path)));
    let first = res.gettable().next().map(|f| f.path.clone());
    let mut examples = vec![json!("*")];
    if let Some(f) = first {
        examples.push(json!(f));
    }
    json!({"type": "string", "pattern": list_pattern(&format!("({})", names.join("|"))), "examples": examples})
}

/// `order_by`: a comma-separated list of gettable field names, each with an optional ` asc` or
/// ` desc` (ascending by default).
fn order_by_schema(res: &Resource) -> Value {
    let names: Vec<String> = res.gettable().map(|f| regex_literal(&f.path)).collect();
    let mut schema = json!({"type": "string", "pattern": list_pattern(&format!("({})( (asc|desc))?", names.join("|")))});
    if let Some(f) = res.gettable().next() {
        schema["examples"] = json!([format!("{} desc", f.path)]);
    }
    schema
}

/// OpenAPI links from a POST's 201 to every operation of the instance path of the same family,
/// its keys taken from the request body (`owner.uuid` from `$request.body#/owner/uuid`), so
/// stateful tools go on to read, change and delete what they created.
fn links_to_instance(spec: &Spec, ep: &super::Endpoint) -> Option<Value> {
    let inst = spec
        .endpoints
        .iter()
        .find(|e| e.family == ep.family && e.kind() == Kind::Instance)?;
    let params: Map<String, Value> = inst
        .def
        .path_parameters
        .iter()
        .map(|p| {
            (
                param_name(&p.name),
                json!(format!("$request.body#/{}", p.name.replace('.', "/"))),
            )
        })
        .collect();
    let mut links = Map::new();
    for m in inst.methods() {
        let verb = m.as_str();
        let name = format!("{}{}", &verb[..1], verb[1..].to_ascii_lowercase());
        links.insert(
            format!("{name}Created"),
            json!({
                "operationId": operation_id(m, &inst.def.path),
                "parameters": params,
                "description": format!("{verb} the record this POST created"),
            }),
        );
    }
    Some(Value::Object(links))
}
