//! `scripts/check-openapi-tools.sh` run by `cargo test`: Schemathesis (every check, every phase,
//! a fixed seed) against the built-in mock with the project's OpenAPI export must find no
//! failure at all. Schemathesis is a requirement of the test suite, provisioned by
//! `scripts/test` (schemathesis==4.32.5): without it these tests fail and say how to install it.

mod common;

use common::bin::Run;
use serde_json::{Value, json};
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
         `python3 -m pip install schemathesis=={PINNED}`, or run the tests with scripts/test, \
         which provisions it",
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
        .env("ONTAP_CONFORM_BIN", common::bin::path())
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
    let (o, text) = script(out.path(), None, 100);
    assert!(o.status.success(), "{text}");
    // Every operation of the export was tested (19: GET, POST, PATCH, DELETE of the catalog,
    // and GET /api/cluster).
    assert!(text.contains("19/19 operations"), "{text}");
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
    let o = common::bin::oc().args(["spec", "openapi"]).run();
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
    // A `$ref` into the components (the boolean filter's) is replaced by what it points to.
    fn inline(doc: &Value, schema: &Value) -> Value {
        match schema {
            Value::Object(m) => match m.get("$ref").and_then(Value::as_str) {
                Some(r) => inline(
                    doc,
                    doc.pointer(r.trim_start_matches('#'))
                        .unwrap_or_else(|| panic!("{r} resolves")),
                ),
                None => Value::Object(m.iter().map(|(k, v)| (k.clone(), inline(doc, v))).collect()),
            },
            Value::Array(a) => Value::Array(a.iter().map(|v| inline(doc, v)).collect()),
            other => other.clone(),
        }
    }
    let resolve = |schema: &Value| inline(&doc, schema);
    let valid = |schema: &Value, v: Value| {
        jsonschema::draft202012::new(&resolve(schema))
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
            // A collection PATCH or DELETE takes its filters as one required object of at least
            // one property, each a query parameter of its own; the other operations take each
            // filter as an optional parameter.
            let mut named: Vec<(String, Value)> = Vec::new();
            let collection_write = ep.kind() == ontap_conform::spec::Kind::Collection
                && matches!(m.as_str(), "PATCH" | "DELETE");
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().expect("a name");
                if name == openapi::FILTERS_PARAM {
                    assert!(collection_write, "{name} on {} {}", m.as_str(), ep.path());
                    assert_eq!(p["required"], true);
                    assert_eq!((&p["style"], &p["explode"]), (&json!("form"), &json!(true)));
                    let s = &p["schema"];
                    assert_eq!(s["minProperties"], 1, "{s}");
                    assert_eq!(s["additionalProperties"], false, "{s}");
                    assert!(!valid(s, json!({})), "no filter at all is refused");
                    let props = s["properties"].as_object().expect("properties");
                    let gettable: Vec<&str> = res.gettable().map(|f| f.path.as_str()).collect();
                    assert_eq!(
                        props.keys().map(String::as_str).collect::<Vec<_>>(),
                        gettable,
                        "every gettable field filters"
                    );
                    named.extend(props.iter().map(|(k, v)| (k.clone(), v.clone())));
                } else {
                    assert!(
                        !(collection_write && res.field(name).is_some()),
                        "{name}: a filter outside the filters object of {} {}",
                        m.as_str(),
                        ep.path()
                    );
                    assert_eq!(p["required"], p["in"] == "path", "{name}");
                    named.push((name.to_string(), p["schema"].clone()));
                }
            }
            if collection_write && ep.def.methods[&m].query.iter().any(|q| q == "filters") {
                assert!(
                    op["parameters"]
                        .as_array()
                        .is_some_and(|ps| ps.iter().any(|p| p["name"] == openapi::FILTERS_PARAM)),
                    "{} {}: no filters object",
                    m.as_str(),
                    ep.path()
                );
            }
            for (name, s) in &named {
                let (name, s) = (name.as_str(), s);
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
                        assert!(ok("t*") && ok("*") && ok("!f*e") && !ok("xy*z"), "{name}");
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

/// The export and the mock agree on every boolean filter: the values the export's pattern
/// allows are those the mock answers 200 to, and the others it refuses with 400 (a value no
/// boolean can have, `xyz` or `xy*z`). Every value up to three characters of `t`, `e`, `*`,
/// `x`, `!` and `|`, and longer ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boolean_filters_the_export_allows_are_the_ones_the_mock_accepts() {
    use ontap_conform::mock::{self, MockConfig, Tls};
    use ontap_conform::spec::{Spec, openapi};
    let doc = openapi::openapi(Spec::builtin());
    let schema = &doc["components"]["schemas"][openapi::BOOLEAN_FILTER];
    let validator = jsonschema::draft202012::new(schema).expect("the schema compiles");
    ontap_conform::client::install_crypto();
    let m = mock::spawn(
        MockConfig::new(),
        "127.0.0.1:0".parse().unwrap(),
        Tls::Plain,
    )
    .await
    .expect("the mock starts");
    let client = reqwest::Client::new();
    let mut values: Vec<String> = vec![String::new()];
    let alphabet = ['t', 'e', '*', 'x', '!', '|'];
    let mut last = vec![String::new()];
    for _ in 0..3 {
        last = last
            .iter()
            .flat_map(|p| alphabet.iter().map(move |c| format!("{p}{c}")))
            .collect();
        values.extend(last.iter().cloned());
    }
    for v in [
        "true", "false", "t*e", "f*l*e*", "tr**ue", "fals*", "!tru*", "true|x*", "*ru*", "*rue*",
        "tru", "fa*se*x", "null|t*", "!null", "\"t*\"", "xy*z",
    ] {
        values.push(v.to_string());
    }
    let mut disagree = Vec::new();
    for v in &values {
        let q = percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC);
        let status = client
            .get(format!(
                "{}/api/security/login/messages?show_cluster_message={q}",
                m.base_url
            ))
            .basic_auth("admin", Some("netapp1!"))
            .send()
            .await
            .expect("the mock answers")
            .status()
            .as_u16();
        assert!(matches!(status, 200 | 400), "{v:?}: {status}");
        if validator.is_valid(&Value::String(v.clone())) != (status == 200) {
            disagree.push(format!("{v:?}: the mock answers {status}"));
        }
    }
    m.shutdown().await;
    assert!(values.len() > 250);
    assert!(disagree.is_empty(), "{disagree:#?}");
}

/// A generic mock (Stoplight Prism, provisioned by scripts/test; `PRISM` names its binary)
/// serving the export answers with placeholders ("string", invented records): a run against it
/// ends with findings (exit 1), not as a target it gave up on (exit 3), and reaches its end.
#[test]
fn a_run_against_prism_serving_the_export_ends_with_findings() {
    let prism = std::env::var("PRISM").unwrap_or_default();
    assert!(
        !prism.is_empty() && Path::new(&prism).exists(),
        "Stoplight Prism is required by this test: run the tests with scripts/test, which \
         installs @stoplight/prism-cli 5.14.2 with npm and sets PRISM, or set PRISM=/path/to/prism"
    );
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("openapi.json");
    let o = common::bin::oc()
        .args(["spec", "openapi", "-o", doc.to_str().unwrap()])
        .run();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let server = Command::new(&prism)
        .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string()])
        .arg(&doc)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("Prism starts");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _prism = Kill(server);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "Prism did not listen within 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let out = common::bin::oc()
        .args([
            "run",
            "--target",
            &url,
            "--read-only",
            "--seed",
            "1",
            "--no-progress",
            "--max-failures",
            "5",
            "--report",
            "json=-",
        ])
        .env("ONTAP_PASSWORD", "prism-accepts-any")
        .run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert!(report["stopped"].is_null(), "{}", report["stopped"]);
    assert_eq!(
        report["ontap_version"], "9.14.1",
        "the export's /api/cluster example"
    );
    let failures = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "failure")
        .count();
    assert!(failures > 0, "a generic mock breaks ONTAP's rules: {err}");
}
