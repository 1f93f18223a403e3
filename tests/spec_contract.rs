//! The contract against its sources. `specs/` is hand-written from NetApp's reference pages
//! (`../shared/seeds/`), so this test reads those pages and proves the files complete and
//! consistent: every row of every definition, response and request table is a property of the
//! matching schema with the doc's type and description; every documented operation, parameter
//! and error code is in the catalog; every `$ref` resolves and every schema compiles; every JSON
//! example of the docs is checked against its schema. It also drives the binary: the `spec`
//! subcommands, and a malformed `--specs` directory, which must fail with the file, the JSON
//! pointer and what was expected (exit 2), never a panic.
//!
//! The pages are NetApp's, not the project's: CI has them beside the checkout, and
//! `ONTAP_CONFORM_SEEDS` names them elsewhere (a directory that is not there then fails the
//! tests). Where they are not beside the checkout and the variable is unset (a fresh clone), the
//! four tests that read them say so in one line and check `specs/` against NetApp's own
//! definitions instead (netapp-ontap 9.19, the shipped `ontap-9.19`; see tests/common/netapp.rs):
//! never a silent pass.

mod common;

use common::bin::Run;
use ontap_conform::spec::lint::{self, FindingKind};
use ontap_conform::spec::seeds::{self, Seed, Table};
use ontap_conform::spec::{Kind, Method, SCHEMA_BASE, SchemaDoc, Spec};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;

/// Where NetApp's reference pages are looked for when `ONTAP_CONFORM_SEEDS` is unset: beside the
/// checkout, where CI has them.
fn beside_the_checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seeds")
}

/// NetApp's reference pages: `ONTAP_CONFORM_SEEDS` when set, else `../shared/seeds` beside the
/// checkout. The same directory is handed to `spec lint --seeds` explicitly.
fn seeds_dir() -> PathBuf {
    match std::env::var_os("ONTAP_CONFORM_SEEDS") {
        Some(d) => PathBuf::from(d),
        None => beside_the_checkout(),
    }
}

/// The seed pages, or None where they are absent: not beside the checkout and
/// `ONTAP_CONFORM_SEEDS` unset. Then `test` checks `specs/` against netapp-ontap 9.19 instead and
/// says so in one line. A directory named by `ONTAP_CONFORM_SEEDS` that is not there, or one
/// without pages, fails: that is a mistake, not an absence.
fn read_seeds(test: &str) -> Option<Vec<Seed>> {
    let dir = seeds_dir();
    if std::env::var_os("ONTAP_CONFORM_SEEDS").is_none() && !dir.exists() {
        let n = common::netapp::assert_hand_written_families_agree_with_netapp_ontap_9_19();
        eprintln!(
            "NOTE {test}: NetApp's reference pages are not at {} and ONTAP_CONFORM_SEEDS is unset; checked specs/ against NetApp's own definitions instead (netapp-ontap 9.19: {n} differences, each explained in docs/contract.md)",
            dir.display()
        );
        return None;
    }
    assert!(
        dir.is_dir(),
        "NetApp's reference pages were not found at {} (ONTAP_CONFORM_SEEDS): the contract could not be checked against them; set ONTAP_CONFORM_SEEDS=DIR to a directory of the pages as .txt, or unset it where the pages are not available",
        dir.display()
    );
    let pages = seeds::read_dir(&dir).expect("the seed pages are readable");
    assert!(!pages.is_empty(), "no .txt pages in {}", dir.display());
    Some(pages)
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn title(doc: &SchemaDoc) -> &str {
    doc.value.get("title").and_then(Value::as_str).unwrap_or("")
}

fn ref_name(v: &Value) -> Option<&str> {
    v.get("$ref")
        .and_then(Value::as_str)
        .map(|r| r.trim_start_matches(SCHEMA_BASE).trim_end_matches(".json"))
}

/// A schema's properties, following a root `$ref` (`error` is `returned_error`).
fn properties(spec: &Spec, name: &str) -> Map<String, Value> {
    let mut cur = &spec.schemas[name].value;
    for _ in 0..8 {
        match ref_name(cur) {
            Some(r) => cur = &spec.schemas[r].value,
            None => break,
        }
    }
    cur.get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Whether the schema `target` is what the docs call `definition`: its title, or a schema of
/// that title that is only a `$ref` to it (`error` -> `returned_error`).
fn is_definition(spec: &Spec, target: &str, definition: &str) -> bool {
    let Some(doc) = spec.schemas.get(target) else {
        return false;
    };
    title(doc) == definition
        || spec
            .schemas
            .values()
            .any(|d| title(d) == definition && ref_name(&d.value) == Some(target))
}

/// Why a property does not match a doc row (name, type, description), or None.
fn mismatch(spec: &Spec, prop: &Value, ty: &str, desc: &str) -> Option<String> {
    let declared = prop.get("type").and_then(Value::as_str);
    let type_ok = match ty {
        "string" | "boolean" | "integer" | "number" => declared == Some(ty),
        _ => match ty.strip_prefix("array[").and_then(|t| t.strip_suffix(']')) {
            Some(item) => {
                let items = prop.get("items").unwrap_or(&Value::Null);
                declared == Some("array")
                    && match item {
                        "string" | "boolean" | "integer" | "number" => {
                            items.get("type").and_then(Value::as_str) == Some(item)
                        }
                        _ => ref_name(items).is_some_and(|r| is_definition(spec, r, item)),
                    }
            }
            None => ref_name(prop).is_some_and(|r| is_definition(spec, r, ty)),
        },
    };
    let have_desc = prop
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    match (type_ok, norm(have_desc) == norm(desc)) {
        (true, true) => None,
        (false, _) => Some(format!("declared {prop} for doc type {ty}")),
        (true, false) => Some(format!("description {have_desc:?}, the doc says {desc:?}")),
    }
}

/// Checks a table against candidate schemas: some candidate must hold every row. Returns the
/// problems of the best candidate (empty when one matches).
fn check_table(spec: &Spec, table: &Table, candidates: &[String], file: &str) -> Vec<String> {
    if candidates.is_empty() {
        return vec![format!(
            "{file}:{} table {:?}: no schema in specs/schemas/ for it",
            table.line, table.title
        )];
    }
    let mut best: Option<Vec<String>> = None;
    for cand in candidates {
        let props = properties(spec, cand);
        let problems: Vec<String> = table
            .rows
            .iter()
            .filter_map(|(name, ty, desc)| {
                let why = match props.get(name) {
                    None => format!("no property {name:?}"),
                    Some(p) => mismatch(spec, p, ty, desc)?,
                };
                Some(format!(
                    "{file}:{} table {:?} row {name}: {cand}.json: {why}",
                    table.line, table.title
                ))
            })
            .collect();
        if best.as_ref().is_none_or(|b| problems.len() < b.len()) {
            best = Some(problems);
        }
    }
    best.unwrap_or_default()
}

#[test]
fn every_doc_table_row_is_in_its_schema() {
    let spec = Spec::builtin();
    let Some(pages) = read_seeds("every_doc_table_row_is_in_its_schema") else {
        return;
    };
    let mut problems = Vec::new();
    let mut rows = 0;
    let mut titles = std::collections::BTreeSet::new();
    for page in &pages {
        for table in &page.tables {
            let candidates: Vec<String> = if table.definition {
                titles.insert(table.title.clone());
                spec.schemas
                    .values()
                    .filter(|d| title(d) == table.title)
                    .map(|d| d.name.clone())
                    .collect()
            } else {
                let Some((m, path)) = &table.section else {
                    problems.push(format!(
                        "{}:{} table {:?} outside any METHOD /path section",
                        page.file, table.line, table.title
                    ));
                    continue;
                };
                let def = spec
                    .endpoint(path)
                    .and_then(|ep| ep.method(Method::parse(m)?));
                let Some(def) = def else {
                    problems.push(format!(
                        "{}:{} {m} {path} is not in the catalog",
                        page.file, table.line
                    ));
                    continue;
                };
                let schema = match table.title.as_str() {
                    "Response" => def.responses.get("200").cloned(),
                    "Request Body" => def.request.clone(),
                    "Error" => def.responses.get("default").cloned(),
                    other => panic!(
                        "{}:{} unexpected table {other:?} in {m} {path}: a parser regression?",
                        page.file, table.line
                    ),
                };
                let Some(schema) = schema else {
                    problems.push(format!(
                        "{}:{} {m} {path}: the doc has a {:?} table, the catalog no schema for it",
                        page.file, table.line, table.title
                    ));
                    continue;
                };
                // A collection's rows are those of the body itself or of its records.
                let mut c = vec![schema.clone()];
                if let Some(item) = properties(spec, &schema)
                    .get("records")
                    .and_then(|r| r.get("items"))
                    .and_then(ref_name)
                {
                    c.push(item.to_string());
                }
                c
            };
            rows += table.rows.len();
            if table.title == "Response" || table.title == "Request Body" {
                // Rows may sit in the body or in its records: check each row on its own.
                for row in &table.rows {
                    let one = Table {
                        rows: vec![row.clone()],
                        ..table.clone()
                    };
                    problems.extend(check_table(spec, &one, &candidates, &page.file));
                }
            } else {
                problems.extend(check_table(spec, table, &candidates, &page.file));
            }
        }
    }
    for want in [
        "owner",
        "duo",
        "totp",
        "login_messages",
        "svm",
        "account_reference",
        "href",
        "_links",
        "error",
        "returned_error",
        "error_arguments",
    ] {
        assert!(
            titles.contains(want),
            "the seed parser found no definition table {want:?} (found {titles:?}): a parser regression"
        );
    }
    assert!(
        rows > 60,
        "only {rows} table rows checked: a parser regression would make this test vacuous"
    );
    assert!(
        problems.is_empty(),
        "{} problems in specs/ against the docs:\n{}",
        problems.len(),
        problems.join("\n")
    );
    eprintln!("{rows} doc table rows checked against specs/schemas/");
}

#[test]
fn every_documented_operation_parameter_and_error_code_is_in_the_catalog() {
    let spec = Spec::builtin();
    let Some(pages) =
        read_seeds("every_documented_operation_parameter_and_error_code_is_in_the_catalog")
    else {
        return;
    };
    let mut problems = Vec::new();
    let (mut sections, mut params, mut codes) = (0, 0, 0);
    for page in &pages {
        for s in &page.sections {
            sections += 1;
            let Some(ep) = spec.endpoint(&s.path) else {
                problems.push(format!(
                    "{}:{} {} is not in the catalog",
                    page.file, s.line, s.path
                ));
                continue;
            };
            if !Method::parse(&s.method).is_some_and(|m| ep.has(m)) {
                problems.push(format!(
                    "{}:{} {} {}: the catalog lacks the method",
                    page.file, s.line, s.method, s.path
                ));
            }
            if s.introduced_in.as_deref() != Some(ep.def.introduced_in.as_str()) {
                problems.push(format!(
                    "{}:{} {}: the doc says introduced in {:?}, the catalog {:?}",
                    page.file, s.line, s.path, s.introduced_in, ep.def.introduced_in
                ));
            }
        }
        for p in &page.parameters {
            params += 1;
            let at = format!("{}:{} parameter {}", page.file, p.line, p.name);
            let Some((m, path)) = &p.section else {
                problems.push(format!("{at}: outside a section"));
                continue;
            };
            let Some(ep) = spec.endpoint(path) else {
                problems.push(format!("{at}: {path} is not in the catalog"));
                continue;
            };
            let Some(def) = Method::parse(m).and_then(|m| ep.method(m)) else {
                problems.push(format!("{at}: {m} {path} is not in the catalog"));
                continue;
            };
            let bound = |label: &str| -> Option<i64> {
                let rest = &p.description[p.description.find(label)? + label.len()..];
                let digits: String = rest
                    .trim_start()
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            };
            // Constraints the doc states, and the keyword that must carry them.
            let stated = [
                ("Max value:", "maximum"),
                ("Min value:", "minimum"),
                ("maxLength:", "maxLength"),
                ("minLength:", "minLength"),
            ];
            let schema: Option<Value> = match p.location.as_str() {
                "path" => ep
                    .def
                    .path_parameters
                    .iter()
                    .find(|q| q.name == p.name)
                    .map(|q| q.schema.clone()),
                "query" if def.query.contains(&p.name) => {
                    spec.params.get(&p.name).map(|q| q.schema.clone())
                }
                "query" if p.description.starts_with("Filter by") => {
                    if def.query.iter().any(|q| q == "filters") {
                        spec.resource_of(ep)
                            .gettable()
                            .find(|f| f.path == p.name)
                            .map(|f| f.schema.clone())
                    } else {
                        None
                    }
                }
                _ => None,
            };
            let Some(schema) = schema else {
                problems.push(format!(
                    "{at} ({} {}): not in the catalog's {m} {path}",
                    p.location, p.ty
                ));
                continue;
            };
            for (label, keyword) in stated {
                if let Some(n) = bound(label)
                    && schema.get(keyword).and_then(Value::as_i64) != Some(n)
                {
                    problems.push(format!(
                        "{at}: the doc says {label} {n}, the catalog's schema is {schema}"
                    ));
                }
            }
        }
        for e in &page.error_codes {
            codes += 1;
            let def = e
                .section
                .as_ref()
                .and_then(|(m, path)| spec.endpoint(path)?.method(Method::parse(m)?));
            if !def.is_some_and(|d| d.errors.iter().any(|x| x.code == e.code)) {
                problems.push(format!(
                    "{}:{} error code {} ({}) of {:?} is not in the catalog",
                    page.file, e.line, e.code, e.description, e.section
                ));
            }
        }
    }
    assert!(
        sections >= 6,
        "only {sections} METHOD /path sections parsed"
    );
    assert!(params >= 20, "only {params} parameter rows parsed");
    assert!(codes >= 3, "only {codes} error codes parsed");
    assert!(
        problems.is_empty(),
        "{} problems in the catalog against the docs:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Every `$ref` in a value, with its JSON pointer.
fn refs(v: &Value, at: String, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if k == "$ref"
                    && let Some(s) = child.as_str()
                {
                    out.push((format!("{at}/$ref"), s.to_string()));
                } else {
                    refs(child, format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                refs(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_ref_resolves_and_every_schema_compiles() {
    let spec = Spec::builtin();
    let mut all = Vec::new();
    for doc in spec.schemas.values() {
        let mut found = Vec::new();
        refs(&doc.value, String::new(), &mut found);
        for (at, target) in found {
            let name = target.strip_suffix(".json").unwrap_or("");
            assert!(
                spec.schemas.contains_key(name),
                "{} at {at}: $ref {target:?} names no file of specs/schemas/",
                doc.file
            );
            all.push(target);
        }
    }
    assert!(all.len() >= 20, "only {} $refs found", all.len());

    // Compile each one here too, with a registry of every schema file, and use it.
    let mut registry = jsonschema::Registry::new();
    for doc in spec.schemas.values() {
        registry = registry
            .add(format!("{SCHEMA_BASE}{}.json", doc.name), doc.value.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", doc.file));
    }
    let registry = registry.prepare().expect("every reference resolves");
    for doc in spec.schemas.values() {
        let v = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .with_registry(&registry)
            .build(&doc.value)
            .unwrap_or_else(|e| panic!("{} does not compile: {e}", doc.file));
        // An instance of the wrong type is rejected by the explicit validator and by the
        // shared one, alike.
        let wrong = json!(42);
        assert_eq!(
            v.is_valid(&wrong),
            spec.validate(&doc.name, &wrong).is_empty()
        );
    }
    let err = json!({"error": {"code": "4", "message": "entry doesn't exist", "target": "uuid"}});
    assert!(spec.validate("error_response", &err).is_empty());
    let int_code = json!({"error": {"code": 4, "message": "entry doesn't exist"}});
    assert!(
        !spec.validate("error_response", &int_code).is_empty(),
        "error code must be a string"
    );
    let long = json!({"banner": "x".repeat(2049)});
    assert!(!spec.validate("login_messages", &long).is_empty());
    assert!(!spec.validate("duo", &json!({"max_prompts": 4})).is_empty());
    assert!(
        !spec
            .validate("duo", &json!({"fail_mode": "open"}))
            .is_empty()
    );
    assert_eq!(spec.params["return_timeout"].schema["maximum"], 120);
}

#[test]
fn every_json_doc_example_is_checked_against_its_schema() {
    let spec = Spec::builtin();
    let Some(pages) = read_seeds("every_json_doc_example_is_checked_against_its_schema") else {
        return;
    };
    let report = lint::lint(spec, &pages);
    let mut parse = 0;
    let mut total = 0;
    for page in &pages {
        for ex in &page.examples {
            total += 1;
            let text = seeds::rejoin_broken_strings(&ex.text);
            if serde_json::from_str::<Value>(&text).is_ok()
                || serde_json::from_str::<Value>(&seeds::drop_trailing_commas(&text)).is_ok()
            {
                parse += 1;
            }
        }
    }
    assert!(total >= 20, "only {total} examples parsed out of the seeds");
    assert_eq!(report.examples, total);
    assert_eq!(
        report.checked, parse,
        "every example that is JSON (trailing commas repaired) must be checked: {:#?}",
        report.findings
    );
    assert_eq!(report.defects(), 0, "{}", lint::render(&report));
    // ONTAP-BEHAVIOR.md section 6: the doc examples put 1 and "" where booleans are declared.
    let known = ["auto_push", "is_enabled", "push_info", "enabled"];
    let mut seen = std::collections::BTreeSet::new();
    for f in report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Contradiction)
    {
        let field = f.pointer.rsplit('/').next().unwrap_or("");
        assert!(
            known.contains(&field),
            "unexpected contradiction {f:?}: a specs/ defect?"
        );
        let schema = f.schema.as_deref().unwrap_or("");
        let declared = properties(spec, schema)
            .get(field)
            .and_then(|p| p.get("type").cloned());
        assert_eq!(declared, Some(json!("boolean")), "{f:?}");
        seen.insert(field);
    }
    assert_eq!(seen.len(), known.len(), "lint found only {seen:?}");
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::InvalidJson && f.at.starts_with("000_")),
        "the Duo overview example's trailing comma is reported"
    );
    assert_eq!(report.count(FindingKind::Inconsistent), 1, "status Ok/OK");
}

// ---------------------------------------------------------------------------------------------
// The binary.

fn run(args: &[&str]) -> Output {
    common::bin::oc().args(args).run()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const PATHS: [(&str, &str); 6] = [
    ("/api/security/authentication/duo/profiles", "9.14"),
    (
        "/api/security/authentication/duo/profiles/{owner.uuid}",
        "9.14",
    ),
    ("/api/security/login/messages", "9.6"),
    ("/api/security/login/messages/{uuid}", "9.6"),
    ("/api/security/login/totps", "9.13"),
    (
        "/api/security/login/totps/{owner.uuid}/{account.name}",
        "9.13",
    ),
];

#[test]
fn spec_list_prints_the_catalog() {
    let o = run(&["spec", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for (path, introduced) in PATHS {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(path))
            .unwrap_or_else(|| panic!("{path} missing from:\n{out}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert!(cols.contains(&introduced), "{line}");
        let rules: usize = cols[cols.len() - 2].parse().expect("a rule count");
        assert!(rules > 0, "{line}");
    }
    assert!(out.contains("DELETE(<9.19)"), "{out}");
}

#[test]
fn spec_show_prints_one_entry() {
    let o = run(&["spec", "show", "duo"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for want in [
        "owner.uuid",
        "secret_key",
        "write-only",
        "fingerprint",
        "read-only",
        "PATCH-forbidden",
        "enum \"safe\"|\"secure\"",
        "1..3",
    ] {
        assert!(out.contains(want), "{want:?} missing from:\n{out}");
    }
    let o = run(&["spec", "show", "login_messages"]);
    let out = stdout(&o);
    for want in ["length 0..2048", "CRLF returned as LF", "admin-only"] {
        assert!(out.contains(want), "{want:?} missing from:\n{out}");
    }

    let o = run(&[
        "spec",
        "show",
        "/api/security/login/totps/{owner.uuid}/{account.name}",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for want in ["144834564", "144834565", "144834566", "removed in 9.19"] {
        assert!(out.contains(want), "{want:?} missing from:\n{out}");
    }

    let o = run(&["spec", "show", "nosuch"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("nosuch") && err.contains("duo"), "{err}");
    assert!(err.contains("/api/security/login/messages"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn spec_openapi_is_an_openapi_31_document_of_the_catalog() {
    let o = run(&["spec", "openapi"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let spec = Spec::builtin();
    for ep in &spec.endpoints {
        let item = &doc["paths"][ontap_conform::spec::openapi::path_template(ep.path())];
        assert_eq!(item["x-ontap-path"], ep.path());
        assert!(item.is_object(), "{} missing", ep.path());
        for m in ep.methods() {
            assert!(
                item[m.as_str().to_ascii_lowercase()].is_object(),
                "{m} {}",
                ep.path()
            );
        }
    }
    // Every $ref points into components.
    let mut found = Vec::new();
    refs(&doc, String::new(), &mut found);
    for (at, r) in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{at}: {r}"));
        assert!(doc["components"]["schemas"][name].is_object(), "{at}: {r}");
    }
    assert!(
        spec.endpoints.iter().any(|e| e.kind() == Kind::Instance),
        "instance paths exist"
    );
}

#[test]
fn spec_lint_reports_the_doc_contradictions_and_exits_zero() {
    let dir = seeds_dir();
    if read_seeds("spec_lint_reports_the_doc_contradictions_and_exits_zero").is_none() {
        return;
    }
    let o = run(&["spec", "lint", "--seeds", dir.to_str().expect("UTF-8 path")]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(out.contains("contradict the declared types"), "{out}");
    assert!(out.contains("/auto_push"), "{out}");
    assert!(out.contains("specs/: no defects"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// Bad input: a copy of specs/ with one corruption each.

fn copy_specs() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("readable specs/") {
            let p = e.expect("entry").path();
            let dest = to.join(p.file_name().expect("a name"));
            if p.is_dir() {
                copy(&p, &dest);
            } else {
                std::fs::copy(&p, &dest).expect("copy");
            }
        }
    }
    copy(&src, tmp.path());
    tmp
}

fn edit(dir: &Path, rel: &str, f: impl FnOnce(&mut Value)) {
    let path = dir.join(rel);
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
    f(&mut v);
    std::fs::write(&path, serde_json::to_string_pretty(&v).expect("JSON")).expect("write");
}

fn at<'a>(v: &'a mut Value, pointer: &str) -> &'a mut Value {
    v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} in the fixture"))
}

/// Runs `spec list --specs DIR` and checks the failure names the file, the pointer and what
/// was expected.
fn expect_bad(dir: &Path, file: &str, pointer: &str, expected: &str) {
    let o = run(&["spec", "list", "--specs", dir.to_str().expect("UTF-8 path")]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "exit code; stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(o.stdout.is_empty(), "{}", stdout(&o));
    assert!(err.contains(file), "file {file:?} not named in: {err}");
    assert!(
        err.contains(&format!("at {pointer}")),
        "pointer {pointer:?} not named in: {err}"
    );
    assert!(err.contains(expected), "{expected:?} not in: {err}");
}

#[test]
fn the_pristine_copy_loads() {
    let tmp = copy_specs();
    let o = run(&[
        "spec",
        "list",
        "--specs",
        tmp.path().to_str().expect("UTF-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn invalid_json_names_file_and_position() {
    let tmp = copy_specs();
    std::fs::write(tmp.path().join("endpoints/duo.json"), "{ \"family\": ").expect("write");
    expect_bad(
        tmp.path(),
        "endpoints/duo.json",
        "the root",
        "valid JSON (line 1",
    );
}

#[test]
fn unknown_key_in_an_endpoint_file() {
    let tmp = copy_specs();
    edit(tmp.path(), "endpoints/totp.json", |v| {
        at(v, "/endpoints/1/methods/GET")["colour"] = json!("blue");
    });
    expect_bad(
        tmp.path(),
        "endpoints/totp.json",
        "/endpoints/1/methods/GET/colour",
        "unknown field `colour`, expected one of",
    );
}

#[test]
fn ref_to_a_missing_schema() {
    let tmp = copy_specs();
    edit(tmp.path(), "schemas/duo.json", |v| {
        *at(v, "/properties/owner/$ref") = json!("ownr.json");
    });
    expect_bad(
        tmp.path(),
        "schemas/duo.json",
        "/properties/owner/$ref",
        "a reference to a schema file in specs/schemas/",
    );
}

#[test]
fn unknown_x_ontap_keyword() {
    let tmp = copy_specs();
    edit(tmp.path(), "schemas/login_messages.json", |v| {
        at(v, "/properties/banner")["x-ontap-readonly"] = json!(true);
    });
    expect_bad(
        tmp.path(),
        "schemas/login_messages.json",
        "/properties/banner/x-ontap-readonly",
        "a known x-ontap keyword",
    );
}

#[test]
fn flag_keyword_that_is_not_a_boolean() {
    let tmp = copy_specs();
    edit(tmp.path(), "schemas/duo.json", |v| {
        *at(v, "/properties/secret_key/x-ontap-write-only") = json!("yes");
    });
    expect_bad(
        tmp.path(),
        "schemas/duo.json",
        "/properties/secret_key/x-ontap-write-only",
        "to be true or false",
    );
}

#[test]
fn response_naming_a_missing_schema() {
    let tmp = copy_specs();
    edit(tmp.path(), "endpoints/duo.json", |v| {
        *at(v, "/endpoints/1/methods/GET/responses/200") = json!("duo_record");
    });
    expect_bad(
        tmp.path(),
        "endpoints/duo.json",
        "/endpoints/1/methods/GET/responses/200",
        "the name of a schema in specs/schemas/, found \"duo_record\"",
    );
}

#[test]
fn wrong_introduced_in() {
    let tmp = copy_specs();
    edit(tmp.path(), "endpoints/login_messages.json", |v| {
        *at(v, "/endpoints/0/introduced_in") = json!("nine.six");
    });
    expect_bad(
        tmp.path(),
        "endpoints/login_messages.json",
        "/endpoints/0/introduced_in",
        "an ONTAP version like 9.14 or 9.14.1, found \"nine.six\"",
    );
}

#[test]
fn non_object_schema_file() {
    let tmp = copy_specs();
    std::fs::write(tmp.path().join("schemas/href.json"), "[\"href\"]").expect("write");
    expect_bad(tmp.path(), "schemas/href.json", "the root", "a JSON object");
}

#[test]
fn schema_that_breaks_the_meta_schema() {
    let tmp = copy_specs();
    edit(tmp.path(), "schemas/svm.json", |v| {
        *at(v, "/properties/name/type") = json!("text");
    });
    expect_bad(
        tmp.path(),
        "schemas/svm.json",
        "/properties/name/type",
        "a valid draft 2020-12 schema",
    );
}

#[test]
fn ref_cycle_is_an_error_not_a_stack_overflow() {
    let tmp = copy_specs();
    edit(tmp.path(), "schemas/returned_error.json", |v| {
        let o = v.as_object_mut().expect("object");
        o.clear();
        o.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        o.insert(
            "$id".into(),
            json!(format!("{SCHEMA_BASE}returned_error.json")),
        );
        o.insert("title".into(), json!("returned_error"));
        o.insert("$ref".into(), json!("error.json"));
    });
    expect_bad(
        tmp.path(),
        "schemas/error.json",
        "/$ref",
        "a reference chain that ends in a schema, found the cycle",
    );
}

#[test]
fn self_nested_resource_is_an_error_not_a_stack_overflow() {
    let tmp = copy_specs();
    edit(tmp.path(), "schemas/svm.json", |v| {
        at(v, "/properties")["parent"] = json!({"$ref": "svm.json", "description": ""});
    });
    expect_bad(
        tmp.path(),
        "schemas/login_messages.json",
        "/properties/svm/properties/parent/properties/parent",
        "objects nested at most",
    );
}

#[test]
fn missing_specs_dir() {
    let tmp = tempfile::tempdir().expect("tmp");
    let gone = tmp.path().join("no-such-specs");
    expect_bad(
        &gone,
        "no-such-specs",
        "the root",
        "a directory holding schemas/, endpoints/",
    );
}

#[test]
fn missing_parameters_file() {
    let tmp = copy_specs();
    std::fs::remove_file(tmp.path().join("parameters.json")).expect("rm");
    expect_bad(
        tmp.path(),
        "parameters.json",
        "the root",
        "the file to exist",
    );
}

#[test]
fn the_docs_worked_example_loads() {
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/adding-a-family.md"),
    )
    .expect("docs/adding-a-family.md");
    // The worked example, up to the other shapes (tests/families.rs loads a complete singleton).
    let section = page
        .split("## Other shapes")
        .next()
        .expect("docs/adding-a-family.md has a worked example");
    let blocks: Vec<&str> = section
        .split("```json\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap_or(""))
        .collect();
    assert_eq!(
        blocks.len(),
        3,
        "schema, collection schema, endpoint family"
    );
    let tmp = copy_specs();
    for (rel, text) in [
        "schemas/approval_group.json",
        "schemas/approval_group_collection.json",
        "endpoints/approval_groups.json",
    ]
    .iter()
    .zip(blocks)
    {
        std::fs::write(tmp.path().join(rel), text).expect("write");
    }
    let o = run(&[
        "spec",
        "list",
        "--specs",
        tmp.path().to_str().expect("UTF-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("/api/security/multi-admin-verify/approval-groups/{owner.uuid}/{name}"),
        "{out}"
    );
    assert!(out.contains("8 endpoints"), "{out}");
}
