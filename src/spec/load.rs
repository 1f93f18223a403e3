//! Loading a contract: from the files compiled into the binary, a directory in the `specs/`
//! format, a shipped release or a swagger file; every file checked ([`super::validation`])
//! before anything is built from it, resources flattened ([`super::flatten`]), every validator
//! compiled once.

use super::catalog::Endpoint;
use super::flatten::flatten_resource;
use super::model::*;
use super::resource::Resource;
use super::validation::{
    check_conventions, check_endpoint, check_param_schema, check_ref_chain, check_schema_doc,
};
use super::{
    ContractError, OntapVersion, SCHEMA_BASE, SchemaDoc, Spec, SpecError, embedded_files, import,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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
        let parts = Parts::read(&shown, &files)?;
        parts.check(&shown)?;
        let validators = compile_all(&shown("schemas/"), &parts.schemas)?;
        let (resources, endpoints) = parts.catalog()?;
        let Parts {
            schemas,
            families,
            params,
            conventions,
            ..
        } = parts;
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
}

/// The files of a contract parsed and sorted by kind, before anything across them is checked.
struct Parts {
    schemas: BTreeMap<String, SchemaDoc>,
    families: Vec<FamilyFile>,
    /// The file each family came from, in the order of `families`.
    family_files: Vec<String>,
    params: BTreeMap<String, QueryParamDef>,
    conventions: ConventionsFile,
}

impl Parts {
    /// Parses each file by where it lies (`schemas/`, `endpoints/`, `parameters.json`,
    /// `conventions.json`); `shown` names a file in errors.
    fn read(
        shown: &dyn Fn(&str) -> String,
        files: &[(String, String)],
    ) -> Result<Parts, SpecError> {
        let mut schemas = BTreeMap::new();
        let mut families = Vec::new();
        let mut family_files = Vec::new();
        let mut params = None;
        let mut conventions = None;
        for (rel, text) in files {
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
            SpecError::new(
                &shown("parameters.json"),
                "",
                "the file to exist (query parameters)",
            )
        })?;
        let conventions = conventions.ok_or_else(|| {
            SpecError::new(
                &shown("conventions.json"),
                "",
                "the file to exist (shared rules)",
            )
        })?;
        if schemas.is_empty() {
            return Err(SpecError::new(
                &shown("schemas/"),
                "",
                "at least one schema file",
            ));
        }
        Ok(Parts {
            schemas,
            families,
            family_files,
            params,
            conventions,
        })
    }

    /// The checks of each schema, `$ref` chain, parameter schema and the shared rules.
    fn check(&self, shown: &dyn Fn(&str) -> String) -> Result<(), SpecError> {
        for doc in self.schemas.values() {
            check_schema_doc(doc, &self.schemas)?;
        }
        for doc in self.schemas.values() {
            check_ref_chain(doc, &self.schemas)?;
        }
        let params_file = shown("parameters.json");
        for (name, p) in &self.params {
            check_param_schema(&params_file, &format!("/{name}/schema"), &p.schema)?;
        }
        check_conventions(&shown("conventions.json"), &self.conventions)
    }

    /// The resources the families name, flattened once each, and every catalog entry checked
    /// against them (a path in two entries is refused).
    fn catalog(&self) -> Result<(BTreeMap<String, Resource>, Vec<Endpoint>), SpecError> {
        let schemas = &self.schemas;
        let mut resources = BTreeMap::new();
        let mut endpoints = Vec::new();
        let mut seen_paths = BTreeMap::new();
        for (fam, file) in self.families.iter().zip(&self.family_files) {
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
                    let r = flatten_resource(doc, schemas)?;
                    resources.entry(fam.resource.clone()).or_insert(r)
                }
            };
            for (i, ep) in fam.endpoints.iter().enumerate() {
                let at = format!("/endpoints/{i}");
                let e = check_endpoint(file, &at, fam, ep, res, schemas, &self.params)?;
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
        Ok((resources, endpoints))
    }
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
pub(super) fn typed<T: serde::de::DeserializeOwned>(
    file: &str,
    value: &Value,
) -> Result<T, SpecError> {
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
