//! `scripts/check-openapi-tools.sh` run by `cargo test`: Schemathesis (every check, every phase,
//! a fixed seed) against the built-in mock with the project's OpenAPI export must find no
//! failure at all. Schemathesis is a requirement of the test suite, installed by
//! `.ci/run` (`python3 -m pip install schemathesis==4.32.5`): without it these tests fail and
//! say how to install it.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const PINNED: &str = "4.32.5";

fn require_schemathesis() {
    let o = Command::new("python3")
        .args([
            "-c",
            "from importlib.metadata import version; print(version('schemathesis'))",
        ])
        .output()
        .expect("python3 runs (it is needed for Schemathesis)");
    let found = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(
        o.status.success() && found == PINNED,
        "Schemathesis {PINNED} is required by this test and is {}: install it with \
         `python3 -m pip install schemathesis=={PINNED}` (.ci/run does)",
        if found.is_empty() {
            "not installed".to_string()
        } else {
            format!("at version {found}")
        }
    );
}

fn script(out: &Path, doc: Option<&Path>, examples: u32) -> (Output, String) {
    let mut cmd = Command::new("bash");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check-openapi-tools.sh"))
        .env("ONTAP_CONFORM_BIN", env!("CARGO_BIN_EXE_ontap-conform"))
        .env("OUT_DIR", out)
        .env("ST_MAX_EXAMPLES", examples.to_string())
        .env_remove("WITH_PRISM");
    match doc {
        Some(d) => cmd.env("OPENAPI_DOC", d),
        None => cmd.env_remove("OPENAPI_DOC"),
    };
    let o = cmd.output().expect("bash runs the script");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o, text)
}

#[test]
fn schemathesis_finds_no_fault_of_the_export_against_the_mock() {
    require_schemathesis();
    let out = tempfile::tempdir().expect("a temporary directory");
    let (o, text) = script(out.path(), None, 25);
    assert!(o.status.success(), "{text}");
    // Every operation of the export was tested (18: GET, POST, PATCH, DELETE of the catalog).
    assert!(text.contains("18/18 operations"), "{text}");
    assert!(text.contains(" 0 failures"), "{text}");
    assert!(text.trim_end().ends_with("PASS"), "{text}");
    // Schemathesis really ran: its own report counts the generated cases of every phase.
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("schemathesis.json")).expect("its JSON report"),
    )
    .expect("JSON");
    assert_eq!(report["schemathesis_version"], PINNED);
    assert!(
        report["test_cases"]["generated"].as_u64().unwrap_or(0) > 500,
        "{report}"
    );
    for phase in ["examples", "coverage", "fuzzing", "stateful"] {
        assert_ne!(
            report["phases"][phase]["status"], "skipped",
            "{phase}: {report}"
        );
    }
}

/// The verdict is not a formality: a document that lets request bodies carry unknown fields
/// (the export before `additionalProperties: false`) fails the script.
#[test]
fn a_looser_document_fails_the_script() {
    require_schemathesis();
    let out = tempfile::tempdir().expect("a temporary directory");
    let o = Command::new(env!("CARGO_BIN_EXE_ontap-conform"))
        .args(["spec", "openapi"])
        .output()
        .expect("spec openapi runs");
    let mut doc: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("components");
    let mut loosened = 0;
    for (name, s) in schemas.iter_mut() {
        if name.ends_with("_request") {
            s.as_object_mut()
                .expect("an object")
                .remove("additionalProperties");
            loosened += 1;
        }
    }
    assert!(loosened >= 4, "request schemas in components");
    let path = out.path().join("loose.json");
    std::fs::write(&path, doc.to_string()).expect("write");
    let (o, text) = script(&out.path().join("run"), Some(&path), 10);
    assert!(!o.status.success(), "{text}");
    assert!(
        text.contains("FAILURE: ST202") && text.contains("FAIL: schemathesis found failures"),
        "{text}"
    );
}

/// The document's own promises, checked without Schemathesis: per-method bodies hold only what
/// the method may carry, and the query syntax schemas accept ONTAP's forms and refuse others.
#[test]
fn the_export_says_what_each_method_and_parameter_accepts() {
    use ontap_conform::spec::{Spec, openapi};
    let spec = Spec::builtin();
    let doc = openapi::openapi(spec);
    let valid = |schema: &Value, v: Value| {
        jsonschema::draft202012::new(schema)
            .expect("the schema compiles")
            .is_valid(&v)
    };
    fn leaves(schema: &Value, prefix: &str, out: &mut Vec<String>) {
        assert_eq!(schema["additionalProperties"], false, "{prefix}: {schema}");
        for (k, v) in schema["properties"].as_object().expect("properties") {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if v["type"] == "object" && v.get("properties").is_some() {
                leaves(v, &path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut bodies = 0;
    for ep in &spec.endpoints {
        let res = spec.resource_of(ep);
        let item = &doc["paths"][openapi::path_template(ep.path())];
        for m in ep.methods() {
            let op = &item[m.as_str().to_ascii_lowercase()];
            if let Some(r) =
                op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
            {
                bodies += 1;
                let name = r.trim_start_matches("#/components/schemas/");
                let schema = &doc["components"]["schemas"][name];
                let mut got = Vec::new();
                leaves(schema, "", &mut got);
                for path in &got {
                    let f = res.field(path).unwrap_or_else(|| panic!("{name}: {path}"));
                    match m.as_str() {
                        "PATCH" => assert!(f.patchable(), "{name}: {path} is not patchable"),
                        "POST" => assert!(f.postable(), "{name}: {path} is not postable"),
                        other => panic!("{other} has a body"),
                    }
                }
                if m.as_str() == "PATCH" {
                    assert!(
                        !got.iter().any(|p| p.starts_with("owner.")),
                        "{name}: {got:?}"
                    );
                    assert!(valid(schema, serde_json::json!({})));
                    assert!(!valid(schema, serde_json::json!({"nosuch": 1})));
                }
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                let s = &p["schema"];
                let name = p["name"].as_str().expect("a name");
                let field = res.field(name);
                let ok = |v: &str| valid(s, Value::String(v.into()));
                match (name, field.map(|f| f.ty.as_str())) {
                    ("fields", _) => {
                        for f in res.gettable() {
                            assert!(ok(&f.path) && ok(&format!("*,{}", f.path)), "{name}");
                        }
                        assert!(ok("*") && ok("**") && ok(""));
                        assert!(!ok("nosuch") && !ok("*,nosuch"), "{s}");
                    }
                    ("order_by", _) => {
                        let f = res.gettable().next().expect("a gettable field");
                        assert!(ok(&f.path) && ok(&format!("{} desc", f.path)));
                        assert!(ok(&format!("{0} asc, {0}", f.path)));
                        assert!(!ok("nosuch") && !ok(&format!("{} sideways", f.path)));
                    }
                    (_, Some("boolean")) => {
                        assert!(ok("true") && ok("!false") && ok("true|false") && ok("null"));
                        assert!(ok("!null") && !ok("AAA") && !ok(""), "{name}");
                    }
                    (_, Some("integer")) => {
                        for v in [">1", "<=3", "1..3", "!2", "2|3", "null"] {
                            assert!(ok(v), "{name}={v}");
                        }
                        assert!(!ok("abc") && !ok(">"), "{name}");
                    }
                    (_, Some("string")) if !field.expect("a field").enum_values.is_empty() => {
                        let first = field.expect("a field").enum_values[0]
                            .as_str()
                            .unwrap_or("");
                        assert!(ok(first) && ok(&format!("!{first}")) && ok("*"), "{name}");
                        assert!(!ok("AAA"), "{name}");
                    }
                    (_, Some("string")) => assert!(ok("*WARN*") && ok("a|b") && ok("")),
                    _ => {}
                }
            }
        }
        // A POST links to the instance it created.
        if let Some(post) = item.get("post") {
            let links = &post["responses"]["201"]["links"];
            assert!(links["GetCreated"]["operationId"].is_string(), "{links}");
        }
    }
    assert!(bodies >= 5, "request bodies: {bodies}");
}
