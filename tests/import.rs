//! The whole ONTAP API as contract: `spec import` from NetApp's Python client and from a
//! cluster's swagger.yaml, the releases shipped with the harness, `spec diff` between releases,
//! `--contract` on run, and the hand-written families cross-checked against NetApp's own
//! definitions (every disagreement listed in docs/contract.md with its reason).

mod common;

use common::bin::Run;
use ontap_conform::spec::Spec;
use ontap_conform::spec::diff::diff;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

fn bin(args: &[&str]) -> Output {
    common::bin::oc().args(args).run()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn spec_diff_names_what_changed_from_9_14_to_9_16() {
    let out = bin(&["spec", "diff", "ontap-9.14", "ontap-9.16", "--json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(4), "changes exit 4\n{stderr}");
    let d: Value = serde_json::from_str(&stdout).unwrap();
    let has =
        |kind: &str, family: &str, key: &str, value: &str| {
            d["changes"].as_array().unwrap().iter().any(|c| {
                c["kind"] == kind && c["family"] == family && c[key].as_str() == Some(value)
            })
        };
    // Storage units came with 9.16 (netapp-ontap 9.16.1.0 has storage_unit, 9.14.1.0 has not).
    assert!(has(
        "family-added",
        "storage_unit",
        "path",
        "/api/storage/storage-units"
    ));
    // /api/storage/cluster gained PATCH.
    assert!(has(
        "method-added",
        "cluster_space",
        "path",
        "/api/storage/cluster"
    ));
    assert!(has("method-added", "cluster_space", "method", "PATCH"));
    // A volume's aggressive_readahead_mode gained two values.
    let enum_added = d["changes"].as_array().unwrap().iter().find(|c| {
        c["kind"] == "enum-added"
            && c["family"] == "volume"
            && c["field"] == "aggressive_readahead_mode"
    });
    let added = enum_added.expect("an enum-added change for volume")["new"].clone();
    assert_eq!(
        added,
        serde_json::json!(["sequential_read", "cross_file_sequential_read"])
    );

    let out = bin(&["spec", "diff", "ontap-9.14", "ontap-9.16"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(4));
    assert!(stdout.starts_with("ontap-9.14 -> ontap-9.16\n"), "{stdout}");
    assert!(
        stdout.contains("+ storage_unit  /api/storage/storage-units"),
        "{stdout}"
    );
    assert!(
        stdout.contains("    + PATCH /api/storage/cluster"),
        "{stdout}"
    );

    let out = bin(&["spec", "diff", "ontap-9.16", "ontap-9.16.1.0"]);
    assert_eq!(out.status.code(), Some(0), "no change exits 0");
    assert!(text(&out).0.contains("no change"));

    let out = bin(&["spec", "diff", "ontap-9.11", "ontap-9.16"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("--contract ontap-9.11: no such contract") && stderr.contains("ontap-9.12"),
        "{stderr}"
    );
}

#[test]
fn hand_written_families_agree_with_netapp_ontap_9_19_or_say_why_not() {
    common::netapp::assert_hand_written_families_agree_with_netapp_ontap_9_19();
}

#[test]
fn swagger_import_reads_the_x_ntap_extensions() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("cluster1");
    let swagger = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contracts/swagger/small.yaml");
    let out = bin(&[
        "spec",
        "import",
        "--swagger",
        swagger.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("imported 3 of 3 families (5 paths, "),
        "{stdout}"
    );
    let spec = Spec::load_dir(&out_dir).unwrap();
    let paths: Vec<&str> = spec.endpoints.iter().map(|e| e.path()).collect();
    assert_eq!(
        paths,
        [
            "/api/cluster",
            "/api/security/login/messages",
            "/api/security/login/messages/{uuid}",
            "/api/storage/volumes/{volume.uuid}/snapshots",
            "/api/storage/volumes/{volume.uuid}/snapshots/{uuid}",
        ]
    );
    let cluster = spec.resource("cluster").unwrap();
    let f = |r: &ontap_conform::spec::resource::Resource, p: &str| r.field(p).unwrap().clone();
    assert!(f(cluster, "uuid").flags.read_only);
    let pw = f(cluster, "password");
    assert!(
        pw.flags.write_only && pw.flags.patch_forbidden,
        "createOnly: {pw:?}"
    );
    let name = f(cluster, "name");
    // readModify: read and patched; /api/cluster has no POST here, so nothing is post-forbidden.
    assert!(name.patchable() && !name.flags.post_forbidden);
    let lm = spec.resource("login_messages").unwrap();
    assert!(f(lm, "scope").flags.read_only);
    assert!(f(lm, "svm.name").flags.read_only, "readOnly beside a $ref");
    let logins = f(lm, "statistics.logins");
    assert!(logins.flags.expensive && logins.flags.read_only);
    assert_eq!(logins.introduced.as_deref(), Some("9.16"));
    assert_eq!(f(lm, "banner").max_length, Some(2048));
    let snap = spec.resource("snapshot").unwrap();
    assert_eq!(snap.keys, ["volume.uuid", "uuid"]);
    assert!(f(snap, "name").flags.patch_forbidden && f(snap, "name").gettable());
    let comment = f(snap, "comment");
    assert!(comment.flags.write_only && comment.flags.post_forbidden);
    assert!(f(snap, "expiry_time").nullable);
    assert_eq!(spec.endpoints[3].introduced.to_string(), "9.7.0");

    // The file itself is a contract too.
    let out = bin(&["spec", "--contract", swagger.to_str().unwrap(), "list"]);
    assert!(out.status.success(), "{}", text(&out).1);
    // A directory that is not empty is refused, and nothing is written into it.
    let again = bin(&[
        "spec",
        "import",
        "--swagger",
        swagger.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again).1.contains("not empty"), "{}", text(&again).1);
    // Not a Swagger 2.0 document.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "openapi: 3.0.0\n").unwrap();
    let out = bin(&[
        "spec",
        "import",
        "--swagger",
        bad.to_str().unwrap(),
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("not a Swagger 2.0 document"));
    assert!(!dir.path().join("x").exists());
}

fn netapp_ontap_version() -> Option<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "from importlib.metadata import version; print(version('netapp-ontap'))",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn netapp_ontap_import_gives_the_shipped_release() {
    let version = netapp_ontap_version().expect(
        "python3 cannot import netapp_ontap: install NetApp's client with \
         `python3 -m pip install netapp-ontap==9.19.1.0` (scripts/test does)",
    );
    assert_eq!(
        version, "9.19.1.0",
        "the shipped ontap-9.19 is read from netapp-ontap 9.19.1.0; install that release \
         (`python3 -m pip install netapp-ontap==9.19.1.0`)"
    );
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("all");
    let started = std::time::Instant::now();
    let out = bin(&[
        "spec",
        "import",
        "--netapp-ontap",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let took = started.elapsed();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    eprintln!("import of every family of netapp-ontap {version}: {took:?}: {stdout}");
    assert!(
        stdout.starts_with("imported 329 of 331 families (576 paths, "),
        "{stdout}"
    );
    // The two resource classes without any method are named, not silently dropped.
    assert!(stdout.contains("left out: cli (/api/private/cli): no method offered"));
    let fresh = Spec::load_dir(&out_dir).unwrap();
    let shipped = Spec::contract("ontap-9.19").unwrap();
    let d = diff(shipped, fresh);
    assert!(
        d.is_empty(),
        "contracts/ontap-9.19.json.gz differs from a fresh import (run scripts/ship-releases.py): {}",
        d.render()
    );

    // A chosen set of families.
    let out_dir = dir.path().join("some");
    let out = bin(&[
        "spec",
        "import",
        "--netapp-ontap",
        "9.19.1.0",
        "--family",
        "login_*",
        "--family",
        "snapshot",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out).1);
    let some = Spec::load_dir(&out_dir).unwrap();
    let fams: BTreeSet<&str> = some.endpoints.iter().map(|e| e.family.as_str()).collect();
    assert!(fams.contains("login_messages") && fams.contains("snapshot"));
    assert!(
        fams.iter()
            .all(|f| f.starts_with("login_") || *f == "snapshot")
    );

    // A release that is not installed: the exact pip line.
    let cache = tempfile::tempdir().unwrap();
    let out = common::bin::oc()
        .args(["spec", "import", "--netapp-ontap", "9.16.1.0", "--out"])
        .arg(dir.path().join("x"))
        .env("XDG_CACHE_HOME", cache.path())
        .run();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let want = format!(
        "install it with: python3 -m pip install --target {} netapp-ontap==9.16.1.0",
        cache
            .path()
            .join("ontap-conform/netapp-ontap/9.16.1.0")
            .display()
    );
    assert!(stderr.contains(&want), "{stderr}");
    assert!(!dir.path().join("x").exists());
}

#[test]
fn run_with_a_shipped_release_checks_its_families_against_the_mock_read_only() {
    // Volumes, their snapshots (nested: read under the volumes' records), SVMs (which the
    // release itself defines) and the cluster singleton.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let report = format!("json={}", json.display());
    let out = bin(&[
        "run",
        "--report",
        &report,
        "--contract",
        "ontap-latest",
        "--family",
        "volume",
        "--family",
        "snapshot",
        "--family",
        "svm",
        "--family",
        "cluster",
        "--seed",
        "7",
        "--no-progress",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("ontap-9.19 is imported from NetApp's definitions: the run reads only"),
        "{stderr}"
    );
    assert!(stdout.contains("(ONTAP 9.19.1), mode ReadOnly"), "{stdout}");
    assert!(stdout.contains(" 0 failed, 0 warnings"), "{stdout}");
    for path in [
        "/api/storage/volumes/{uuid}",
        "/api/storage/volumes/{volume.uuid}/snapshots/{uuid}",
        "/api/svm/svms",
        "/api/cluster",
    ] {
        assert!(stdout.contains(path), "{path} in the table\n{stdout}");
    }
    // The nested collection's reads run under one volume's path and pass; its writes are
    // skipped with the reason (and --read-only here).
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let verdict = |check: &str| {
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| {
                x["endpoint"] == "/api/storage/volumes/{volume.uuid}/snapshots"
                    && x["check"] == check
            })
            .map(|x| x["verdict"].as_str().unwrap().to_string())
    };
    for check in [
        "paging",
        "query-filter",
        "ordering",
        "field-selection",
        "response-schema",
    ] {
        assert_eq!(
            verdict(check).as_deref(),
            Some("passed"),
            "{check}\n{stdout}"
        );
    }
    // The default on an imported contract sends GETs, and a PUT to each path that must be
    // refused (405): nothing that may change a record.
    let methods: BTreeSet<&str> = r["latency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        ["GET", "HEAD", "OPTIONS", "PUT"].into_iter().collect(),
        "{stdout}"
    );
    let mna = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["endpoint"] == "/api/svm/svms" && x["check"] == "method-not-allowed")
        .unwrap();
    assert_eq!(mna["verdict"], "passed", "{mna}");

    // --allow-writes: the PATCH checks of the named family run (journaled, restored), the
    // others stay read only.
    let out = bin(&[
        "run",
        "--contract",
        "ontap-9.19",
        "--family",
        "volume",
        "--family",
        "svm",
        "--allow-writes",
        "volume",
        "--seed",
        "3",
        "--no-progress",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("writes only to the families --allow-writes names (volume)"),
        "{stderr}"
    );
    assert!(stdout.contains("mode Restore"), "{stdout}");
    assert!(
        stdout.contains("patch-roundtrip [3][4]: --allow-writes does not name this family"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  volume: 150 of 150 patchable fields round-tripped"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  svm: 0 of 50 patchable fields round-tripped"),
        "{stdout}"
    );
    assert!(stdout.contains(" 0 failed, 0 warnings"), "{stdout}");
    let out = bin(&[
        "run",
        "--contract",
        "ontap-9.19",
        "--allow-writes",
        "nothing*",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("--allow-writes nothing*: no family of ontap-9.19 matches"),
        "{}",
        text(&out).1
    );

    let out = bin(&["run", "--family", "nothing*"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("--family nothing*: no family of the contract matches")
    );
}

/// A cluster serving its swagger.yaml over HTTP on loopback, behind Basic auth (admin/secret).
async fn serve_swagger() -> (String, tokio::task::JoinHandle<()>) {
    use axum::http::{HeaderMap, StatusCode};
    let body = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contracts/swagger/small.yaml"),
    )
    .unwrap();
    let app = axum::Router::new().route(
        "/docs/api/swagger.yaml",
        axum::routing::get(move |h: HeaderMap| {
            let body = body.clone();
            async move {
                use base64::Engine;
                let want = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode("admin:secret")
                );
                match h.get("authorization").and_then(|v| v.to_str().ok()) {
                    Some(v) if v == want => (StatusCode::OK, body),
                    _ => (StatusCode::UNAUTHORIZED, String::new()),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}/docs/api/swagger.yaml"), task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_import_fetches_a_clusters_definition_with_run_s_auth() {
    let (url, task) = serve_swagger().await;
    let dir = tempfile::tempdir().unwrap();
    let run = |password: &'static str, out: std::path::PathBuf| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            common::bin::oc()
                .args([
                    "spec",
                    "import",
                    "--swagger",
                    &url,
                    "--password-env",
                    "PW",
                    "--out",
                ])
                .arg(out)
                .env("PW", password)
                .run()
        })
    };
    let out = run("secret", dir.path().join("ok")).await.unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("imported 3 of 3 families"), "{stdout}");
    assert!(Spec::load_dir(&dir.path().join("ok")).is_ok());

    let out = run("wrong", dir.path().join("bad")).await.unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("answered 401"), "{stderr}");
    assert!(
        !stderr.contains("wrong"),
        "the password never shows: {stderr}"
    );
    assert!(!dir.path().join("bad").exists());
    task.abort();
}

/// `--family snapshot` alone still reads the volumes it is nested under (a nested collection's
/// parent is read even when not named); where the parent family has no record (a target that
/// serves no volume), the nested collection's checks are skipped, saying so.
#[test]
fn a_nested_collection_is_read_under_its_parent_or_skipped_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let run = |target: Option<&str>| {
        let report = format!("json={}", json.display());
        let mut args = vec![
            "run",
            "--contract",
            "ontap-9.19",
            "--family",
            "snapshot",
            "--check",
            "paging",
            "--seed",
            "2",
            "--no-progress",
            "--report",
            &report,
        ];
        if let Some(url) = target {
            args.extend(["--target", url, "--insecure", "--user", "admin"]);
        }
        let out = common::bin::oc()
            .args(&args)
            .env("ONTAP_PASSWORD", "netapp1!")
            .env("XDG_STATE_HOME", dir.path())
            .run();
        let (stdout, stderr) = text(&out);
        assert!(json.exists(), "{stdout}\n{stderr}");
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let row = r["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| {
                x["endpoint"] == "/api/storage/volumes/{volume.uuid}/snapshots"
                    && x["check"] == "paging"
            })
            .cloned()
            .expect("a paging row for the nested collection");
        (out.status.code(), row)
    };
    // The built-in mock of the release: volumes have records, the walk runs under one.
    let (code, row) = run(None);
    assert_eq!(
        (code, row["verdict"].as_str()),
        (Some(0), Some("passed")),
        "{row}"
    );
    // The mock of the built-in contract serves no volume (their reads answer 404, which the
    // run reports): nothing to read the snapshots under.
    let other = common::bin::MockProcess::start(&[], &[]);
    let (_, row) = run(Some(&other.url));
    assert_eq!(row["verdict"], "skipped", "{row}");
    assert_eq!(
        row["reason"],
        "a nested collection under volume, which has no record to read it under"
    );
}

/// An explicit --read-only sends GETs only, on an imported contract too: the 405 probe is
/// skipped; without it the probe runs and catches a target that accepts a PUT.
#[test]
fn the_refused_put_probe_of_an_imported_contract_runs_unless_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let report = format!("json={}", json.display());
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--contract",
            "ontap-9.19",
            "--family",
            "svm",
            "--check",
            "method-not-allowed",
            "--seed",
            "1",
            "--no-progress",
            "--report",
            &report,
        ];
        args.extend(extra);
        let out = bin(&args);
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let row = r["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["endpoint"] == "/api/svm/svms" && x["check"] == "method-not-allowed")
            .cloned()
            .unwrap();
        let puts = r["latency"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["method"] == "PUT")
            .count();
        (out.status.code(), row, puts)
    };
    let (code, row, puts) = run(&["--read-only"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        (row["verdict"].as_str(), row["reason"].as_str()),
        (Some("skipped"), Some("--read-only"))
    );
    assert_eq!(puts, 0);
    let (code, row, puts) = run(&[]);
    assert_eq!(
        (code, row["verdict"].as_str()),
        (Some(0), Some("passed")),
        "{row}"
    );
    assert!(puts > 0);
    let (code, row, _) = run(&["--fault", "method-not-allowed-accepted"]);
    assert_eq!(
        (code, row["verdict"].as_str()),
        (Some(1), Some("failed")),
        "{row}"
    );
}
