//! The contract as data. `specs/` holds JSON Schemas (draft 2020-12) for every ONTAP definition
//! and a catalog of endpoints; this module loads them once, checks them (every problem named by
//! file and JSON pointer), compiles every validator once, and answers the catalog queries the
//! mock, the generators and the checks ask.

pub mod diff;
pub mod import;
pub mod lint;
pub mod model;
pub mod openapi;
pub mod resource;
pub mod seeds;
pub mod show;
pub mod version;

pub use model::*;
use resource::{Field, FieldType, Flags, Resource};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
pub use version::OntapVersion;

include!(concat!(env!("OUT_DIR"), "/embedded_specs.rs"));

/// The files of `specs/` compiled into the binary, as (path relative to `specs/`, text) pairs:
/// what [`Spec::builtin`] loads, and what the load benchmark times.
pub fn embedded_files() -> Vec<(String, String)> {
    EMBEDDED
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

/// The `$id` prefix of every schema; `$ref`s are relative to it (`"$ref": "owner.json"`).
pub const SCHEMA_BASE: &str = "https://ontap-conform.dev/specs/schemas/";
const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Why `--contract` could not give a contract.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error(
        "--contract {name}: no such contract; expected `specs` (the hand-written families), a shipped release ({names}), a directory written by `spec import`, or a swagger.yaml file",
        names = import::releases::names()
    )]
    Unknown { name: String },
    #[error("{path}: {err}")]
    Read {
        path: String,
        #[source]
        err: std::io::Error,
    },
    #[error("{path}: {err}")]
    Import {
        path: String,
        #[source]
        err: import::ImportError,
    },
    #[error("invalid contract: {0}")]
    Spec(#[from] SpecError),
}

/// A defect in `specs/`: the file, where in it (a JSON pointer) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: at {}: {expected}", if .pointer.is_empty() { "the root" } else { .pointer.as_str() })]
pub struct SpecError {
    pub file: String,
    pub pointer: String,
    pub expected: String,
}

impl SpecError {
    fn new(file: &str, pointer: impl Into<String>, expected: impl Into<String>) -> Self {
        SpecError {
            file: file.to_string(),
            pointer: pointer.into(),
            expected: expected.into(),
        }
    }
}

/// One schema file.
#[derive(Debug, Clone)]
pub struct SchemaDoc {
    pub name: String,
    pub file: String,
    pub value: Value,
}

/// One catalog entry, with what the loader derived from it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub family: String,
    pub resource: String,
    pub file: String,
    pub def: EndpointDef,
    pub introduced: OntapVersion,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Key(String),
}

impl Endpoint {
    pub fn path(&self) -> &str {
        &self.def.path
    }
    pub fn kind(&self) -> Kind {
        self.def.kind
    }
    pub fn methods(&self) -> impl Iterator<Item = Method> + '_ {
        self.def.methods.keys().copied()
    }
    pub fn method(&self, m: Method) -> Option<&MethodDef> {
        self.def.methods.get(&m)
    }
    pub fn has(&self, m: Method) -> bool {
        self.def.methods.contains_key(&m)
    }
    /// The dotted key fields the path carries, in order.
    pub fn path_keys(&self) -> Vec<&str> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Key(k) => Some(k.as_str()),
                Segment::Literal(_) => None,
            })
            .collect()
    }
    /// Matches a request path (already split on `/`, percent-decoded per segment) and returns the
    /// key values, or None.
    pub fn match_segments(&self, parts: &[String]) -> Option<Vec<(String, String)>> {
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut keys = Vec::new();
        for (seg, part) in self.segments.iter().zip(parts) {
            match seg {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Key(k) => keys.push((k.clone(), part.clone())),
            }
        }
        Some(keys)
    }
    /// The number of literal segments; more literal segments win when two paths match.
    pub fn literal_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }
    /// The path with key values filled in, each percent-encoded.
    pub fn render(&self, keys: &[(&str, &str)]) -> String {
        let mut out = String::new();
        for seg in &self.segments {
            out.push('/');
            match seg {
                Segment::Literal(l) => out.push_str(l),
                Segment::Key(k) => {
                    let v = keys
                        .iter()
                        .find(|(n, _)| n == k)
                        .map(|(_, v)| *v)
                        .unwrap_or("");
                    out.push_str(&encode_segment(v));
                }
            }
        }
        out
    }
    /// Whether a target of version `v` has this endpoint.
    pub fn available_in(&self, v: OntapVersion) -> bool {
        v >= self.introduced
    }
    /// Whether `m` is served by a target of version `v` (not yet removed).
    pub fn method_removed_in(&self, m: Method, v: OntapVersion) -> Option<&RemovedError> {
        let def = self.method(m)?;
        let removed: OntapVersion = def.removed_in.as_deref()?.parse().ok()?;
        if v >= removed {
            def.removed_error.as_ref()
        } else {
            None
        }
    }
    /// The documented error for a condition on a method, if the catalog has one.
    pub fn documented_error(
        &self,
        m: Method,
        cond: Condition,
        field: Option<&str>,
    ) -> Option<&ErrorCodeDef> {
        let def = self.method(m)?;
        def.errors.iter().find(|e| {
            e.condition == Some(cond) && (e.field.is_none() || e.field.as_deref() == field)
        })
    }
}

impl ConventionRule {
    /// Whether the rule's `applies` (kind and methods) holds for an endpoint.
    pub fn applies_to(&self, ep: &Endpoint) -> bool {
        let kind_ok = match self.applies.kind.as_str() {
            "collection" => ep.kind() == Kind::Collection,
            "instance" => ep.kind() == Kind::Instance,
            // A path that names one record: an instance, or a singleton (which has no keys).
            "record" => matches!(ep.kind(), Kind::Instance | Kind::Singleton),
            _ => true,
        };
        kind_ok && self.applies.methods.iter().all(|m| ep.has(*m))
    }
}

/// A path with its keys blanked: `/api/storage/volumes/{volume.uuid}/snapshots` ->
/// `/api/storage/volumes/{}/snapshots` (two paths of one shape name the same place whatever
/// their keys are called).
pub fn path_shape(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Percent-encodes one path segment (everything but unreserved characters).
pub fn encode_segment(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// A problem found in a JSON value by a compiled schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the instance.
    pub pointer: String,
    pub message: String,
}

/// The whole contract: schemas, parameters, conventions and the endpoint catalog, with every
/// validator compiled.
pub struct Spec {
    /// Where it came from: `built-in` or a directory.
    pub source: String,
    pub schemas: BTreeMap<String, SchemaDoc>,
    pub params: BTreeMap<String, QueryParamDef>,
    pub conventions: Vec<ConventionRule>,
    pub families: Vec<FamilyFile>,
    pub endpoints: Vec<Endpoint>,
    pub resources: BTreeMap<String, Resource>,
    validators: BTreeMap<String, jsonschema::Validator>,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec")
            .field("source", &self.source)
            .field("schemas", &self.schemas.len())
            .field("endpoints", &self.endpoints.len())
            .finish()
    }
}

static BUILTIN: OnceLock<Spec> = OnceLock::new();

impl Spec {
    /// The contract compiled into the binary, loaded and compiled once per process.
    pub fn builtin() -> &'static Spec {
        BUILTIN.get_or_init(|| {
            Spec::from_files("built-in", embedded_files())
                .expect("the built-in specs/ are checked by the test suite")
        })
    }

    /// Loads `specs/` from a directory (`--specs DIR`). The result is leaked so that it can be
    /// shared like the built-in one; a process loads at most a handful.
    pub fn load_dir(dir: &Path) -> Result<&'static Spec, SpecError> {
        let files = read_dir_files(dir)?;
        let spec = Spec::from_files(&dir.display().to_string(), files)?;
        Ok(Box::leak(Box::new(spec)))
    }

    /// Either the built-in contract or the one in `dir`.
    pub fn load(dir: Option<&Path>) -> Result<&'static Spec, SpecError> {
        match dir {
            None => Ok(Spec::builtin()),
            Some(d) => Spec::load_dir(d),
        }
    }

    /// A contract by name or place (`--contract`): `specs` (the hand-written families, the
    /// default), a shipped release (`ontap-9.19`, `ontap-latest`), a directory in the `specs/`
    /// format (as `spec import` writes it) or a Swagger 2.0 file (`swagger.yaml`). Each is
    /// loaded once per process.
    pub fn contract(name: &str) -> Result<&'static Spec, ContractError> {
        static LOADED: std::sync::Mutex<BTreeMap<String, &'static Spec>> =
            std::sync::Mutex::new(BTreeMap::new());
        if matches!(name, "specs" | "built-in" | "seeds") {
            return Ok(Spec::builtin());
        }
        if let Some(s) = LOADED.lock().expect("not poisoned").get(name) {
            return Ok(s);
        }
        let path = Path::new(name);
        let spec: &'static Spec = if let Some(r) = import::releases::find(name) {
            let (files, _) = import::to_files(&r.contract());
            Box::leak(Box::new(Spec::from_files(r.name, files)?))
        } else if path.is_dir() {
            Spec::load_dir(path)?
        } else if path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|e| ContractError::Read {
                path: name.to_string(),
                err: e,
            })?;
            let c = import::swagger::read(&text).map_err(|e| ContractError::Import {
                path: name.to_string(),
                err: e,
            })?;
            let (files, _) = import::to_files(&c);
            Box::leak(Box::new(Spec::from_files(name, files)?))
        } else {
            return Err(ContractError::Unknown {
                name: name.to_string(),
            });
        };
        LOADED
            .lock()
            .expect("not poisoned")
            .insert(name.to_string(), spec);
        Ok(spec)
    }

    /// The ONTAP release an imported contract was read from (`netapp-ontap 9.19.1.0` gives
    /// 9.19.1); None for the hand-written one.
    pub fn release(&self) -> Option<OntapVersion> {
        let from = self
            .families
            .iter()
            .find_map(|f| f.imported_from.as_deref())?;
        let v = from.rsplit(' ').next()?;
        let three: Vec<&str> = v.split('.').take(3).collect();
        three.join(".").parse().ok()
    }

    /// Builds the contract from (relative path, text) pairs. `source` is `built-in` or the
    /// directory the files came from; errors name files under it (`specs/` for the built-in copy).
    pub fn from_files(source: &str, files: Vec<(String, String)>) -> Result<Spec, SpecError> {
        let root = if source == "built-in" {
            "specs"
        } else {
            source.trim_end_matches('/')
        };
        let shown = |rel: &str| format!("{root}/{rel}");
        let params_file = shown("parameters.json");
        let conventions_file = shown("conventions.json");
        let mut schemas = BTreeMap::new();
        let mut families = Vec::new();
        let mut family_files = Vec::new();
        let mut params = None;
        let mut conventions = None;
        for (rel, text) in &files {
            let display = shown(rel);
            let value: Value = serde_json::from_str(text).map_err(|e| {
                SpecError::new(
                    &display,
                    "",
                    format!("valid JSON (line {}, column {}: {e})", e.line(), e.column()),
                )
            })?;
            if let Some(name) = rel
                .strip_prefix("schemas/")
                .and_then(|n| n.strip_suffix(".json"))
            {
                schemas.insert(
                    name.to_string(),
                    SchemaDoc {
                        name: name.to_string(),
                        file: display,
                        value,
                    },
                );
            } else if rel.starts_with("endpoints/") {
                let fam: FamilyFile = typed(&display, &value)?;
                family_files.push(display);
                families.push(fam);
            } else if rel == "parameters.json" {
                let mut v = value.clone();
                if let Some(o) = v.as_object_mut() {
                    o.remove("$comment");
                }
                params = Some(typed::<BTreeMap<String, QueryParamDef>>(&display, &v)?);
            } else if rel == "conventions.json" {
                conventions = Some(typed::<ConventionsFile>(&display, &value)?);
            } else {
                return Err(SpecError::new(
                    &display,
                    "",
                    "a file under schemas/ or endpoints/, or parameters.json or conventions.json",
                ));
            }
        }
        let params = params.ok_or_else(|| {
            SpecError::new(&params_file, "", "the file to exist (query parameters)")
        })?;
        let conventions = conventions.ok_or_else(|| {
            SpecError::new(&conventions_file, "", "the file to exist (shared rules)")
        })?;
        if schemas.is_empty() {
            return Err(SpecError::new(
                &shown("schemas/"),
                "",
                "at least one schema file",
            ));
        }
        for doc in schemas.values() {
            check_schema_doc(doc, &schemas)?;
        }
        for doc in schemas.values() {
            check_ref_chain(doc, &schemas)?;
        }
        for (name, p) in &params {
            check_param_schema(&params_file, &format!("/{name}/schema"), &p.schema)?;
        }
        check_conventions(&conventions_file, &conventions)?;
        let validators = compile_all(&shown("schemas/"), &schemas)?;
        let mut resources = BTreeMap::new();
        let mut endpoints = Vec::new();
        let mut seen_paths = BTreeMap::new();
        for (fam, file) in families.iter().zip(&family_files) {
            let res = match resources.get(&fam.resource) {
                Some(r) => r,
                None => {
                    let doc = schemas.get(&fam.resource).ok_or_else(|| {
                        SpecError::new(
                            file,
                            "/resource",
                            format!(
                                "the name of a schema in specs/schemas/, found {:?}",
                                fam.resource
                            ),
                        )
                    })?;
                    let r = flatten_resource(doc, &schemas)?;
                    resources.entry(fam.resource.clone()).or_insert(r)
                }
            };
            for (i, ep) in fam.endpoints.iter().enumerate() {
                let at = format!("/endpoints/{i}");
                let e = check_endpoint(file, &at, fam, ep, res, &schemas, &params)?;
                if let Some(prev) = seen_paths.insert(ep.path.clone(), file.clone()) {
                    return Err(SpecError::new(
                        file,
                        format!("{at}/path"),
                        format!("a path no other entry has; {:?} is also in {prev}", ep.path),
                    ));
                }
                endpoints.push(e);
            }
        }
        Ok(Spec {
            source: source.to_string(),
            schemas,
            params,
            conventions: conventions.rules,
            families,
            endpoints,
            resources,
            validators,
        })
    }

    /// Validates an instance against a named schema.
    pub fn validate(&self, schema: &str, instance: &Value) -> Vec<Violation> {
        match self.validators.get(schema) {
            None => vec![Violation {
                pointer: String::new(),
                message: format!("no schema named {schema}"),
            }],
            Some(v) => v
                .iter_errors(instance)
                .map(|e| Violation {
                    pointer: e.instance_path().to_string(),
                    message: e.to_string(),
                })
                .collect(),
        }
    }

    /// Whether an instance is valid against a named schema (no error is built: the fast path).
    pub fn is_valid(&self, schema: &str, instance: &Value) -> bool {
        self.validators
            .get(schema)
            .is_some_and(|v| v.is_valid(instance))
    }

    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.get(name)
    }

    /// The resource of an endpoint.
    pub fn resource_of(&self, ep: &Endpoint) -> &Resource {
        &self.resources[&ep.resource]
    }

    pub fn endpoint(&self, path: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.def.path == path)
    }

    /// The collection endpoint of the same family as `ep` (for an instance), or itself.
    pub fn collection_of(&self, ep: &Endpoint) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.family == ep.family && e.kind() == Kind::Collection)
    }

    /// The singleton endpoint of a family, if it is one.
    pub fn singleton_of(&self, family: &str) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.family == family && e.kind() == Kind::Singleton)
    }

    /// The instance endpoint of the same family.
    pub fn instance_of(&self, ep: &Endpoint) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.family == ep.family && e.kind() == Kind::Instance)
    }

    /// The parent of a nested collection (`/api/storage/volumes/{volume.uuid}/snapshots`): the
    /// instance path of another family its path starts with (`/api/storage/volumes/{uuid}`),
    /// and for each key of that path the key of `ep`'s path it fills (`uuid` -> `volume.uuid`).
    /// None for a path without parents' keys, or when no family's records live there.
    pub fn parent_of(&self, ep: &Endpoint) -> Option<(&Endpoint, Vec<(String, String)>)> {
        let keys = ep.path_keys();
        let last = keys.last()?;
        let path = ep.path();
        let cut = path.find(&format!("{{{last}}}"))? + last.len() + 2;
        let want = path_shape(&path[..cut]);
        let parent = self.endpoints.iter().find(|e| {
            e.family != ep.family && e.kind() == Kind::Instance && path_shape(e.path()) == want
        })?;
        let theirs = parent.path_keys();
        (theirs.len() == keys.len()).then(|| {
            let pairs = theirs
                .iter()
                .zip(&keys)
                .map(|(t, m)| (t.to_string(), m.to_string()))
                .collect();
            (parent, pairs)
        })
    }

    /// Finds the endpoint serving a request path and the key values it carries. Each segment is
    /// percent-decoded (and `+` read as a space, as `quote_plus` clients send it).
    pub fn route(&self, path: &str) -> Option<(&Endpoint, Vec<(String, String)>)> {
        let parts: Vec<String> = path
            .trim_end_matches('/')
            .split('/')
            .skip(1)
            .map(decode_segment)
            .collect::<Option<_>>()?;
        self.endpoints
            .iter()
            .filter_map(|e| e.match_segments(&parts).map(|k| (e, k)))
            .max_by_key(|(e, _)| e.literal_count())
    }

    /// A shared rule by id.
    pub fn convention(&self, id: &str) -> Option<&ConventionRule> {
        self.conventions.iter().find(|r| r.id == id)
    }

    /// The shared rules that apply to an endpoint.
    pub fn conventions_for<'a>(
        &'a self,
        ep: &'a Endpoint,
    ) -> impl Iterator<Item = &'a ConventionRule> + 'a {
        self.conventions.iter().filter(move |r| r.applies_to(ep))
    }

    /// Every rule that applies to an endpoint: its own, the shared ones, the documented error
    /// codes and the access flags and constraints of its resource's fields.
    pub fn rule_count(&self, ep: &Endpoint) -> usize {
        let res = self.resource_of(ep);
        let own = ep.def.rules.len();
        let shared = self.conventions_for(ep).count();
        let errors: usize = ep.def.methods.values().map(|m| m.errors.len()).sum();
        let field_rules: usize = res
            .fields
            .iter()
            .map(|f| {
                let fl = &f.flags;
                [
                    fl.read_only,
                    fl.patch_forbidden,
                    fl.write_only || fl.post_response_only,
                    fl.admin_only,
                    fl.crlf_normalised,
                    fl.empty_unsets,
                    !f.enum_values.is_empty(),
                    f.minimum.is_some() || f.maximum.is_some(),
                    f.min_length.is_some() || f.max_length.is_some(),
                ]
                .iter()
                .filter(|b| **b)
                .count()
            })
            .sum();
        own + shared + errors + field_rules
    }
}

/// Percent-decodes one path segment, reading `+` as a space (as `quote_plus` clients send it).
pub fn decode_segment(s: &str) -> Option<String> {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Reads every `.json` file below `dir`, by path relative to it.
fn read_dir_files(dir: &Path) -> Result<Vec<(String, String)>, SpecError> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> Result<(), SpecError> {
        let shown = dir.display().to_string();
        let entries = std::fs::read_dir(dir)
            .map_err(|e| SpecError::new(&shown, "", format!("a readable directory ({e})")))?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                walk(root, &p, out)?;
            } else if p.extension().is_some_and(|e| e == "json") {
                let rel = p
                    .strip_prefix(root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                let bytes = std::fs::read(&p).map_err(|e| {
                    SpecError::new(
                        &p.display().to_string(),
                        "",
                        format!("a readable file ({e})"),
                    )
                })?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| SpecError::new(&p.display().to_string(), "", "UTF-8 text"))?;
                out.push((rel, text));
            }
        }
        Ok(())
    }
    if !dir.is_dir() {
        return Err(SpecError::new(
            &dir.display().to_string(),
            "",
            "a directory holding schemas/, endpoints/, parameters.json and conventions.json",
        ));
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}

/// Deserializes with the failing location as a JSON pointer.
fn typed<T: serde::de::DeserializeOwned>(file: &str, value: &Value) -> Result<T, SpecError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let pointer = path_to_pointer(e.path());
        SpecError::new(file, pointer, e.inner().to_string())
    })
}

fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment as S;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            S::Seq { index } => out.push_str(&format!("/{index}")),
            S::Map { key } | S::Enum { variant: key } => {
                out.push('/');
                out.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            S::Unknown => out.push_str("/?"),
        }
    }
    out
}

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
fn check_schema_doc(doc: &SchemaDoc, all: &BTreeMap<String, SchemaDoc>) -> Result<(), SpecError> {
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
        if FLAG_KEYWORDS.contains(&k.as_str()) {
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
            check_evidence_keyword(f, &here, child)?;
        } else if k.starts_with("x-ontap-") {
            return Err(SpecError::new(
                f,
                here,
                format!(
                    "a known x-ontap keyword ({}, x-ontap-keys, x-ontap-derived-from, x-ontap-introduced, x-ontap-evidence), found {k}",
                    FLAG_KEYWORDS.join(", ")
                ),
            ));
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

/// A schema that is only a `$ref` to another must not lead back to itself: the chain is followed
/// when fields are flattened, and a cycle would never end.
fn check_ref_chain(doc: &SchemaDoc, all: &BTreeMap<String, SchemaDoc>) -> Result<(), SpecError> {
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

fn check_param_schema(file: &str, at: &str, schema: &Value) -> Result<(), SpecError> {
    jsonschema::meta::validate(schema).map_err(|e| {
        SpecError::new(
            file,
            format!("{at}{}", e.instance_path()),
            format!("a valid schema ({e})"),
        )
    })
}

fn check_conventions(file: &str, c: &ConventionsFile) -> Result<(), SpecError> {
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

/// Compiles one validator per schema, all sharing one registry of every schema file.
fn compile_all(
    dir: &str,
    schemas: &BTreeMap<String, SchemaDoc>,
) -> Result<BTreeMap<String, jsonschema::Validator>, SpecError> {
    let mut builder = jsonschema::Registry::new();
    for doc in schemas.values() {
        builder = builder
            .add(format!("{SCHEMA_BASE}{}.json", doc.name), doc.value.clone())
            .map_err(|e| SpecError::new(&doc.file, "/$id", format!("a usable URI ({e})")))?;
    }
    let registry = builder
        .prepare()
        .map_err(|e| SpecError::new(dir, "", format!("schemas whose references resolve ({e})")))?;
    let mut out = BTreeMap::new();
    for doc in schemas.values() {
        let v = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .with_registry(&registry)
            .build(&doc.value)
            .map_err(|e| {
                SpecError::new(
                    &doc.file,
                    e.instance_path().to_string(),
                    format!("a schema that compiles ({e})"),
                )
            })?;
        out.insert(doc.name.clone(), v);
    }
    Ok(out)
}

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
fn flatten_resource(
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
            let flag = |k: &str| merged.get(k).and_then(Value::as_bool).unwrap_or(false);
            let flags = Flags {
                key: false,
                read_only: inherited.read_only || flag("x-ontap-read-only"),
                patch_forbidden: inherited.patch_forbidden || flag("x-ontap-patch-forbidden"),
                write_only: inherited.write_only || flag("x-ontap-write-only"),
                post_response_only: inherited.post_response_only
                    || flag("x-ontap-post-response-only"),
                admin_only: inherited.admin_only || flag("x-ontap-admin-only"),
                crlf_normalised: inherited.crlf_normalised || flag("x-ontap-crlf-normalised"),
                empty_unsets: inherited.empty_unsets || flag("x-ontap-empty-unsets"),
                lockout: inherited.lockout || flag("x-ontap-lockout"),
                expensive: inherited.expensive || flag("x-ontap-expensive"),
                patch_untested: inherited.patch_untested || flag("x-ontap-patch-untested"),
                post_forbidden: inherited.post_forbidden || flag("x-ontap-post-forbidden"),
                trailing_lf: inherited.trailing_lf || flag("x-ontap-trailing-lf"),
            };
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
            let leaf: Map<String, Value> = merged
                .iter()
                .filter(|(k, _)| !k.starts_with("x-ontap-") && *k != "description")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            self.fields.push(Field {
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
            });
        }
        Ok(())
    }
}

/// Checks one catalog entry against the schemas and parameters, and derives its routing.
fn check_endpoint(
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
        .parse()
        .map_err(|e: String| SpecError::new(file, format!("{at}/introduced_in"), e))?;
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
    let keys = segments
        .iter()
        .filter(|s| matches!(s, Segment::Key(_)))
        .count();
    for (i, p) in ep.path_parameters.iter().enumerate() {
        if !segments.contains(&Segment::Key(p.name.clone())) {
            return Err(SpecError::new(
                file,
                format!("{at}/path_parameters/{i}/name"),
                format!("a key that appears in the path, found {:?}", p.name),
            ));
        }
    }
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
    if ep.methods.is_empty() {
        return Err(SpecError::new(
            file,
            format!("{at}/methods"),
            "at least one method",
        ));
    }
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
    for (m, def) in &ep.methods {
        let mat = format!("{at}/methods/{m}");
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
        if let Some(r) = &def.removed_in {
            r.parse::<OntapVersion>()
                .map_err(|e| SpecError::new(file, format!("{mat}/removed_in"), e))?;
            if def.removed_error.is_none() {
                return Err(SpecError::new(
                    file,
                    format!("{mat}/removed_error"),
                    "the error a removed method answers",
                ));
            }
        }
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

#[cfg(test)]
mod tests;
