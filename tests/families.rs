//! Families of any shape are data: a singleton family (GET/PATCH on a path without keys) and an
//! instance-only family (an instance path, no collection path) are declared in a test-only
//! contract (`tests/contracts/singleton/`, added to a copy of `specs/`), checked by the loader,
//! listed and shown by `spec`, and served by the mock from the catalog and the data set alone.

mod common;

use common::bin::Run;
use common::files::{copy_dir, manifest};
use common::mock_client::{self, Resp};
use ontap_conform::mock::{self, MockConfig, Tls};
use ontap_conform::spec::model::Kind;
use ontap_conform::spec::{self, Spec};
use serde_json::{Value, json};

const SETTINGS: &str = "/api/security/login/settings";
const LOCKOUTS: &str = "/api/security/login/lockouts";

/// A contract directory: a copy of `specs/` plus the test contract's endpoints and schemas, with
/// `edit` applied to the singleton's endpoints file (to break it on purpose).
fn contract_with(edit: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&manifest().join("specs"), dir.path());
    let test = manifest().join("tests/contracts/singleton");
    copy_dir(&test.join("endpoints"), &dir.path().join("endpoints"));
    copy_dir(&test.join("schemas"), &dir.path().join("schemas"));
    let file = dir.path().join("endpoints/login_settings.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&file, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    dir
}

fn contract() -> tempfile::TempDir {
    contract_with(|_| {})
}

fn fixtures() -> Value {
    let text = std::fs::read_to_string(manifest().join("tests/contracts/singleton/fixtures.json"))
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_contract_loads_and_spec_lists_and_shows_it() {
    let dir = contract();
    let spec = Spec::load(Some(dir.path())).expect("the test contract loads");
    let ep = spec.endpoint(SETTINGS).expect("the singleton endpoint");
    assert_eq!(ep.kind(), Kind::Singleton);
    assert!(ep.path_keys().is_empty());
    assert_eq!(
        spec.singleton_of("login_settings").unwrap().path(),
        SETTINGS
    );
    let inst = spec.endpoint(&format!("{LOCKOUTS}/{{name}}")).unwrap();
    assert_eq!(inst.kind(), Kind::Instance);
    assert!(spec.collection_of(inst).is_none(), "instance-only family");

    let listing = spec::show::list(spec);
    assert!(
        listing.contains(SETTINGS) && listing.contains("GET PATCH"),
        "{listing}"
    );
    let shown = spec::show::show(spec, SETTINGS, false).unwrap();
    assert!(
        shown.contains("Singleton") && shown.contains("family login_settings"),
        "{shown}"
    );
    let api = spec::openapi::openapi(spec);
    let item = &api["paths"][SETTINGS];
    assert!(
        item["get"].is_object() && item["patch"].is_object(),
        "{item}"
    );
    assert!(item.get("post").is_none() && item.get("parameters").is_none());
    let report = spec::lint::lint(spec, &[]);
    assert!(!spec::lint::render(&report).is_empty());
    // The data set's singleton record is an object.
    mock::load_data_set(spec, "fixtures.json", &fixtures().to_string()).expect("data set loads");
}

#[test]
fn the_loader_refuses_a_singleton_with_a_key() {
    let dir = contract_with(|v| {
        let ep = &mut v["endpoints"][0];
        ep["path"] = json!("/api/security/login/settings/{comment}");
        ep["path_parameters"] =
            json!([{"name": "comment", "description": "x", "schema": {"type": "string"}}]);
    });
    let e = Spec::load(Some(dir.path())).unwrap_err().to_string();
    assert!(
        e.contains("endpoints/login_settings.json")
            && e.contains("/endpoints/0/kind")
            && e.contains("singleton path has no keys"),
        "{e}"
    );
}

/// A singleton may take POST or DELETE: NetApp's definitions have them (`POST /api/cluster`
/// creates the cluster), and a73d73a made the loader take what the imported families need.
#[test]
fn the_loader_refuses_a_singleton_with_post_or_delete() {
    // A hand-written singleton is read and patched only; an imported one keeps what NetApp's
    // client states (POST on /api/cluster).
    for m in ["POST", "DELETE"] {
        let dir = contract_with(|v| {
            let get = v["endpoints"][0]["methods"]["GET"].clone();
            v["endpoints"][0]["methods"][m] = get;
        });
        let e = Spec::load(Some(dir.path())).unwrap_err().to_string();
        assert!(
            e.contains("endpoints/login_settings.json")
                && e.contains(&format!("/endpoints/0/methods/{m}"))
                && e.contains("GET or PATCH only on a singleton"),
            "{e}"
        );
        let dir = contract_with(|v| {
            let get = v["endpoints"][0]["methods"]["GET"].clone();
            v["endpoints"][0]["methods"][m] = get;
            v["imported_from"] = json!("netapp-ontap 9.19.1.0");
        });
        let spec = Spec::load(Some(dir.path())).unwrap_or_else(|e| panic!("{m}: {e}"));
        let ep = spec
            .endpoints
            .iter()
            .find(|e| e.family == "login_settings")
            .expect("the singleton");
        assert!(ep.methods().any(|x| x.as_str() == m));
    }
}

#[test]
fn the_loader_refuses_collection_parameters_on_a_singleton() {
    let dir = contract_with(|v| {
        v["endpoints"][0]["methods"]["GET"]["query"] = json!(["fields", "max_records"]);
    });
    let e = Spec::load(Some(dir.path())).unwrap_err().to_string();
    assert!(
        e.contains("endpoints/login_settings.json")
            && e.contains("/endpoints/0/methods/GET/query/1")
            && e.contains("\"max_records\""),
        "{e}"
    );
}

#[test]
fn a_singleton_record_must_be_an_object_in_the_data_set() {
    let dir = contract();
    let spec = Spec::load(Some(dir.path())).unwrap();
    let mut data = fixtures();
    data["records"]["login_settings"] = json!([data["records"]["login_settings"].clone()]);
    let e = mock::load_data_set(spec, "bad.json", &data.to_string())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad.json") && e.contains("/records/login_settings") && e.contains("singleton"),
        "{e}"
    );
}

/// The mock over HTTPS serving the test contract and its data set (kept until the mock stops).
struct Ctx {
    http: mock_client::Ctx,
    _dir: tempfile::TempDir,
}

impl Ctx {
    async fn start() -> Ctx {
        let dir = contract();
        let spec = Spec::load(Some(dir.path())).unwrap();
        let cfg = MockConfig {
            spec,
            fixtures: Some(fixtures()),
            ..MockConfig::new()
        };
        Ctx {
            http: mock_client::start_with(cfg, Tls::SelfSigned).await,
            _dir: dir,
        }
    }

    /// `method` on `path` as the cluster administrator with a JSON body: the status and the
    /// body as JSON.
    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method, path)
            .basic_auth("admin", Some(mock::DEFAULT_PASSWORD));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = Resp::of(rb, method, path).await;
        (r.status, r.body)
    }
}

#[tokio::test]
async fn the_mock_serves_a_singleton_from_data() {
    let ctx = Ctx::start().await;

    let (s, v) = ctx.send("GET", SETTINGS, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({
            "banner_enabled": true,
            "comment": "set by the test contract",
            "lockout_policy": "temporary",
            "max_failed_attempts": 3,
            "last_modified": "2026-01-01T00:00:00Z",
            "_links": {"self": {"href": SETTINGS}}
        })
    );
    let (s, v) = ctx
        .send(
            "GET",
            &format!("{SETTINGS}?fields=max_failed_attempts"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!({"max_failed_attempts": 3, "_links": {"self": {"href": SETTINGS}}})
    );
    let (s, v) = ctx
        .send("GET", &format!("{SETTINGS}?fields=nope"), None)
        .await;
    assert_eq!((s, v["error"]["code"].clone()), (400, json!("262197")));
    // Collection parameters are accepted and ignored on a singleton (Ansible sends
    // max_records=1024 to every GET); an unknown parameter is still refused.
    let (s, v) = ctx
        .send(
            "GET",
            &format!("{SETTINGS}?max_records=1&fields=max_failed_attempts"),
            None,
        )
        .await;
    assert_eq!(
        (s, v),
        (
            200,
            json!({"max_failed_attempts": 3, "_links": {"self": {"href": SETTINGS}}})
        )
    );
    let (s, v) = ctx.send("GET", &format!("{SETTINGS}?bogus=1"), None).await;
    assert_eq!((s, v["error"]["code"].clone()), (400, json!("262179")));

    // PATCH refuses a read-only field with the envelope instance PATCH answers, and stores nothing.
    let (s, v) = ctx
        .send(
            "PATCH",
            SETTINGS,
            Some(json!({"comment": "changed", "last_modified": "now"})),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        v,
        json!({"error": {
            "message": "Field \"last_modified\" cannot be set in this operation.",
            "code": "262196",
            "target": "last_modified"
        }})
    );
    // Type, range and enum are checked like any PATCH.
    for (body, target) in [
        (json!({"max_failed_attempts": 11}), "max_failed_attempts"),
        (json!({"lockout_policy": "forever"}), "lockout_policy"),
        (json!({"banner_enabled": "yes"}), "banner_enabled"),
    ] {
        let (s, v) = ctx.send("PATCH", SETTINGS, Some(body)).await;
        assert_eq!(s, 400, "{v}");
        assert_eq!(v["error"]["code"], "262197");
        assert_eq!(v["error"]["target"], target);
    }
    let (_, v) = ctx.send("GET", SETTINGS, None).await;
    assert_eq!(v["comment"], "set by the test contract");

    // A valid PATCH is stored and read back.
    let (s, v) = ctx
        .send(
            "PATCH",
            SETTINGS,
            Some(json!({"comment": "changed", "max_failed_attempts": 5, "lockout_policy": "none", "banner_enabled": false})),
        )
        .await;
    assert_eq!((s, v), (200, json!({})));
    let (_, v) = ctx
        .send(
            "GET",
            &format!("{SETTINGS}?fields=comment,max_failed_attempts,lockout_policy,banner_enabled"),
            None,
        )
        .await;
    assert_eq!(v["comment"], "changed");
    assert_eq!(v["max_failed_attempts"], 5);
    assert_eq!(v["lockout_policy"], "none");
    assert_eq!(v["banner_enabled"], false);

    // No POST, no DELETE: 405 with the envelope.
    for m in ["POST", "DELETE"] {
        let (s, v) = ctx.send(m, SETTINGS, Some(json!({}))).await;
        assert_eq!(s, 405, "{m}: {v}");
        assert_eq!(v["error"]["code"], "3");
    }
}

#[tokio::test]
async fn the_mock_serves_an_instance_only_family() {
    let ctx = Ctx::start().await;
    let (s, v) = ctx.send("GET", &format!("{LOCKOUTS}/operator"), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({"name": "operator", "locked": true, "failed_attempts": 5,
               "_links": {"self": {"href": format!("{LOCKOUTS}/operator")}}})
    );
    let (s, _) = ctx
        .send(
            "PATCH",
            &format!("{LOCKOUTS}/operator"),
            Some(json!({"locked": false})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, v) = ctx
        .send("GET", &format!("{LOCKOUTS}/operator?fields=locked"), None)
        .await;
    assert_eq!(v["locked"], false);
    let (s, v) = ctx.send("GET", &format!("{LOCKOUTS}/nobody"), None).await;
    assert_eq!((s, v["error"]["code"].clone()), (404, json!("4")));
    // No collection path: nothing is served there.
    let (s, _) = ctx.send("GET", LOCKOUTS, None).await;
    assert_eq!(s, 404);
}

// -------------------------------------------------------------------------------------------------
// The engine against a singleton: every check that applies takes it up from the catalog alone.

use ontap_conform::report::{Report, Verdict};
use ontap_conform::run::config::RunConfig;
use ontap_conform::spec::model::Evidence;
use ontap_conform::verdict::Severity;

/// A seeded run of the built-in mock serving the test contract and its data set, restricted to
/// the singleton.
fn run_singleton(spec: &'static Spec, faults: &[&str]) -> Report {
    let cfg = RunConfig::builder()
        .spec(spec)
        .fixtures(fixtures())
        .endpoints([SETTINGS])
        .seed(5)
        .cases(16)
        .faults(faults.iter().map(|f| f.parse().expect("a fault")))
        .build()
        .expect("a valid configuration");
    ontap_conform::run::run_blocking(&cfg)
        .expect("the run completes")
        .report
}

fn verdict(r: &Report, check: &str) -> Option<Verdict> {
    r.results
        .iter()
        .find(|x| x.check == check && x.endpoint == SETTINGS)
        .map(|x| x.verdict.clone())
}

#[test]
fn a_run_against_a_singleton_passes_clean_and_fails_under_the_matching_fault() {
    let dir = contract();
    let spec = Spec::load(Some(dir.path())).expect("the test contract loads");
    let clean = run_singleton(spec, &[]);
    assert_eq!(
        (clean.summary.failures, clean.summary.warning_findings),
        (0, 0),
        "{:#?}",
        clean.findings
    );
    assert!(
        clean.restore_problems.is_empty(),
        "{:?}",
        clean.restore_problems
    );
    for check in [
        "response-schema",
        "field-selection",
        "patch-roundtrip",
        "patch-forbidden",
        "patch-invalid",
        "patch-atomic",
        "unknown-parameter",
    ] {
        assert_eq!(verdict(&clean, check), Some(Verdict::Passed), "{check}");
    }
    // Checks whose rules apply to collections are skipped with the reason the registry gives.
    for check in [
        "paging",
        "query-filter",
        "collection-patch",
        "create-delete",
    ] {
        assert_eq!(verdict(&clean, check), Some(Verdict::Skipped), "{check}");
    }
    for (fault, check) in [
        ("patch-not-stored", "patch-roundtrip"),
        ("patch-read-only-accepted", "patch-forbidden"),
        ("range-unchecked", "patch-invalid"),
        ("fields-extra", "field-selection"),
    ] {
        let r = run_singleton(spec, &[fault]);
        assert!(
            // The test contract marks its own fields obs: a broken field flag warns there, a
            // broken shared rule of specs/conventions.json fails.
            r.findings.iter().any(|f| f.check == check
                && f.endpoint == SETTINGS
                && f.severity == Severity::of(f.evidence)
                && (f.severity == Severity::Failure || f.evidence == Evidence::Obs)),
            "--fault {fault}: expected {check} to fail on {SETTINGS}: {:#?}",
            r.findings
        );
        assert!(r.restore_problems.is_empty(), "{:?}", r.restore_problems);
    }
}

#[test]
fn run_fixtures_gives_the_built_in_mock_another_data_set() {
    let dir = contract();
    let data = manifest().join("tests/contracts/singleton/fixtures.json");
    let out = common::bin::oc()
        .args([
            "run",
            "--no-progress",
            "--seed",
            "5",
            "--cases",
            "8",
            "--endpoint",
            SETTINGS,
        ])
        .arg("--specs")
        .arg(dir.path())
        .arg("--fixtures")
        .arg(&data)
        .run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(SETTINGS) && stdout.contains("patch-roundtrip"),
        "{stdout}"
    );
    // A data set that does not fit the contract is refused before anything runs.
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), r#"{"records": {"login_settings": [1, 2]}}"#).unwrap();
    let out = common::bin::oc()
        .args(["run", "--no-progress", "--fixtures"])
        .arg(bad.path())
        .run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&bad.path().display().to_string()),
        "{stderr}"
    );
}
