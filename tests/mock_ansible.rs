//! Real clients against the reference mock: NetApp's Ansible collection (`netapp.ontap`,
//! unmodified) runs playbooks against the mock binary started here, and the tests assert on the
//! modules' registered results and on the mock's state read over its REST API.
//!
//! `tests/clients/ansible_mock.yml`, against the default mock: `na_ontap_login_messages` sets,
//! re-sets (idempotent), clears and runs in check mode; `na_ontap_rest_info` pages one record at a
//! time through next links, reads the `cluster` subset and gathers every subset (`all`);
//! `na_ontap_restit` tunnels into SVMs with `vserver_name` (`X-Dot-SVM-Name`).
//!
//! `tests/clients/ansible_contract.yml`, against `mock --contract ontap-9.19` (every family of the
//! 9.19 API): `na_ontap_user` creates, re-runs, modifies and deletes a cluster account and an SVM's
//! account; `na_ontap_rest_info` gathers every subset with `fields: '*'`.
//!
//! For `gather_subset: all` the served subsets are derived from the mock's catalog, not listed
//! here: every subset whose API path the catalog routes must come back without an error, every
//! other one with the mock's 404 "API not found" (reported in the result, not a module failure).
//!
//! Needs `ansible-playbook` and the netapp.ontap collection: `scripts/test` provisions both
//! (pinned) and the tests fail, saying so, when either is missing.

mod common;

use common::bin::MockProcess;
use common::mock_client::{CLUSTER, SVM1, SVM2};
use ontap_conform::client::{Client, ClientConfig, Credentials, Request, Trust};
use ontap_conform::spec::Spec;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

const INSTALL: &str = "run the tests with scripts/test, which provisions ansible-core 2.19.14 and \
                       the netapp.ontap 23.2.0 collection (taken from the ansible 12.3.0 wheel) into \
                       .cache/; or install both yourself (see .ci/run)";

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}; {INSTALL}"))
}

fn show(out: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The cluster's or an SVM's login messages, read over the mock's REST API as the admin.
async fn messages(client: &Client, uuid: &str) -> Value {
    let x = client
        .send(Request::get(format!(
            "/api/security/login/messages/{uuid}?fields=*"
        )))
        .await
        .expect("the mock answers");
    assert_eq!(x.response.status, 200, "{}", x.response.text);
    x.response.json.as_deref().cloned().unwrap()
}

/// The tools, or a clear failure.
fn require_tools() {
    let version = run(Command::new("ansible-playbook").arg("--version"));
    assert!(
        version.status.success(),
        "ansible-playbook does not run; {INSTALL}\n{}",
        show(&version)
    );
    let collection =
        run(Command::new("ansible-galaxy").args(["collection", "list", "netapp.ontap"]));
    let listed = String::from_utf8_lossy(&collection.stdout);
    assert!(
        collection.status.success() && listed.contains("netapp.ontap"),
        "the netapp.ontap collection is not installed; {INSTALL}\n{}",
        show(&collection)
    );
}

/// Runs `tests/clients/<playbook>` against the mock at `url` and returns the results its last
/// task wrote: each task's registered result by name.
async fn run_playbook(playbook: &str, url: &str) -> Value {
    let port = url.rsplit(':').next().unwrap().to_string();
    let dir = std::env::temp_dir().join(format!(
        "ontap-conform-ansible-{}-{}",
        std::process::id(),
        playbook.trim_end_matches(".yml")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let results_file = dir.join("results.json");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(playbook);
    let started = Instant::now();
    let out = tokio::task::spawn_blocking({
        let results_file = results_file.clone();
        let dir = dir.clone();
        move || {
            run(Command::new("ansible-playbook")
                .arg(path)
                .args(["-e", &format!("ontap_port={port}")])
                .args(["-e", &format!("results_file={}", results_file.display())])
                .env("ANSIBLE_LOCALHOST_WARNING", "false")
                .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "false")
                .env("ANSIBLE_NOCOLOR", "1")
                .env("ANSIBLE_RETRY_FILES_ENABLED", "false")
                .env("ANSIBLE_LOCAL_TEMP", dir.join("tmp")))
        }
    })
    .await
    .unwrap();
    eprintln!("ansible-playbook {playbook} took {:?}", started.elapsed());
    assert!(
        out.status.success(),
        "the playbook {playbook} failed\n{}",
        show(&out)
    );
    let results: Value =
        serde_json::from_slice(&std::fs::read(&results_file).expect("the playbook wrote results"))
            .expect("the results are JSON");
    let _ = std::fs::remove_dir_all(&dir);
    results
}

/// The discovery endpoints the default mock serves beside its catalog (docs/mock.md); a contract
/// that has them (9.19) routes them itself.
const DISCOVERY: &[&str] = &["/api/cluster", "/api/svm/svms", "/api/security/accounts"];

/// `na_ontap_rest_info` with `gather_subset: all` (and `ignore_api_errors: ["API not found"]`):
/// the module did not fail; every subset whose path `/api/<subset>` the mock's contract routes
/// (or is a discovery endpoint) came back without an error, and every other one with the mock's
/// 404 "API not found" and nothing else. Returns the served and the not-served subsets.
fn check_rest_info_all(result: &Value, spec: &Spec) -> (Vec<String>, Vec<String>) {
    assert_eq!(result["failed"].as_bool(), Some(false), "{result:#}");
    let info = result["ontap_info"]
        .as_object()
        .unwrap_or_else(|| panic!("no ontap_info: {result:#}"));
    let (mut served, mut not_served) = (Vec::new(), Vec::new());
    let mut wrong = Vec::new();
    for (subset, value) in info {
        let path = format!("/api/{subset}");
        let routed = spec.route(&path).is_some() || DISCOVERY.contains(&path.as_str());
        let error = value.get("error");
        if routed {
            // Every subset the module gathers is an object (a collection's records, or one
            // record); a string stands for an error it let pass (code 3, a version it needs).
            if error.is_some() || !value.is_object() {
                wrong.push(format!("{subset} (served): {value}"));
            }
            served.push(subset.clone());
        } else {
            let e = error.cloned().unwrap_or_default();
            if e["message"] != "API not found" || e["code"] != "4" {
                wrong.push(format!("{subset} (not served): {value}"));
            }
            not_served.push(subset.clone());
        }
    }
    assert!(
        wrong.is_empty(),
        "subsets answered wrong:\n{}",
        wrong.join("\n")
    );
    (served, not_served)
}

/// A GET over the mock's REST API as the admin: status and JSON body.
async fn get(client: &Client, path: &str) -> (u16, Value) {
    let x = client
        .send(Request::get(path.to_string()))
        .await
        .expect("the mock answers");
    let body = x.response.json.as_deref().cloned().unwrap_or_default();
    (x.response.status, body)
}

fn admin_client(url: &str) -> Client {
    Client::new(ClientConfig::new(
        url.to_string(),
        Credentials::new("admin", "netapp1!"),
        Trust::Insecure,
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netapp_ontap_ansible_collection_works_against_the_mock() {
    require_tools();
    let mock = MockProcess::start(&[], &[]);
    let url = mock.url.clone();
    let results = run_playbook("ansible_mock.yml", &url).await;
    let task = |name: &str| -> &Value {
        let r = &results[name];
        assert!(r.is_object(), "no result for task {name}: {results:#}");
        r
    };
    let changed = |name: &str| task(name)["changed"].as_bool();
    let failed = |name: &str| task(name)["failed"].as_bool();
    for name in [
        "cluster_set",
        "cluster_set_again",
        "svm1_set",
        "svm1_clear",
        "svm1_clear_again",
        "cluster_check_mode",
        "rest_info_paging",
        "rest_info_cluster",
        "rest_info_all",
        "restit_svm2",
        "restit_cluster",
    ] {
        assert_eq!(failed(name), Some(false), "{name}: {:#}", task(name));
    }

    // na_ontap_login_messages: a change, then none; set and clear on an SVM; check mode.
    assert_eq!(
        changed("cluster_set"),
        Some(true),
        "{:#}",
        task("cluster_set")
    );
    assert_eq!(
        changed("cluster_set_again"),
        Some(false),
        "the same values again change nothing: {:#}",
        task("cluster_set_again")
    );
    assert_eq!(changed("svm1_set"), Some(true));
    assert_eq!(
        changed("svm1_clear"),
        Some(true),
        "{:#}",
        task("svm1_clear")
    );
    assert_eq!(changed("svm1_clear_again"), Some(false));
    let check = task("cluster_check_mode");
    assert_eq!(check["changed"].as_bool(), Some(true), "{check:#}");
    assert_eq!(check["modify"]["banner"], "Never stored", "{check:#}");

    // The mock's state, over its REST API: the cluster's values (check mode stored nothing; ONTAP
    // ends each text with a line feed), svm1's cleared, svm2's untouched.
    let client = admin_client(&url);
    let cluster = messages(&client, CLUSTER).await;
    assert_eq!(cluster["banner"], "Authorized use only\n", "{cluster:#}");
    assert_eq!(cluster["message"], "Welcome to the mock\n", "{cluster:#}");
    assert_eq!(cluster["show_cluster_message"], false, "{cluster:#}");
    // Cleared: an unset field is omitted, or answered as "" (both conformant).
    let svm1 = messages(&client, SVM1).await;
    for field in ["banner", "message"] {
        assert!(
            matches!(svm1.get(field), None | Some(Value::String(_)))
                && svm1[field].as_str().unwrap_or("").is_empty(),
            "svm1's {field} is not cleared: {svm1:#}"
        );
    }
    let svm2 = messages(&client, SVM2).await;
    assert_ne!(svm2["banner"], "svm1 banner", "{svm2:#}");

    // na_ontap_rest_info: four records, one a page, every one gathered once, in order.
    let paged = &task("rest_info_paging")["ontap_info"]["security/login/messages"];
    let uuids: Vec<&str> = paged["records"]
        .as_array()
        .unwrap_or_else(|| panic!("no records: {paged:#}"))
        .iter()
        .filter_map(|r| r["uuid"].as_str())
        .collect();
    assert_eq!(uuids.len(), 4, "{paged:#}");
    let mut sorted = uuids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 4, "a record came twice: {uuids:?}");
    assert_eq!(paged["num_records"], 4, "{paged:#}");
    assert!(
        paged["_links"]["next"].is_null(),
        "the module stopped before the last page: {paged:#}"
    );
    let first = &paged["records"][0];
    assert_eq!(first["uuid"], CLUSTER);
    assert_eq!(first["banner"], "Authorized use only\n", "{first:#}");
    let cluster_info = &task("rest_info_cluster")["ontap_info"]["cluster"];
    assert_eq!(cluster_info["name"], "cluster-1", "{cluster_info:#}");
    assert_eq!(cluster_info["uuid"], CLUSTER);
    assert_eq!(cluster_info["version"]["generation"], 9, "{cluster_info:#}");

    // na_ontap_rest_info, every subset: the ones the default mock serves (its catalog and the
    // discovery endpoints) came back whole, the others as "API not found" in the result.
    let (served, not_served) = check_rest_info_all(task("rest_info_all"), Spec::builtin());
    eprintln!(
        "rest_info gather_subset all against the default mock: {} subsets, {} served ({}), {} not served",
        served.len() + not_served.len(),
        served.len(),
        served.join(", "),
        not_served.len()
    );
    for s in [
        "cluster",
        "svm/svms",
        "security/accounts",
        "security/login/messages",
    ] {
        assert!(
            served.contains(&s.to_string()),
            "{s} not served: {served:?}"
        );
    }
    let gathered = &task("rest_info_all")["ontap_info"];
    assert_eq!(gathered["security/login/messages"]["num_records"], 4);
    assert_eq!(gathered["svm/svms"]["num_records"], 3);
    assert_eq!(gathered["cluster"]["name"], "cluster-1");

    // na_ontap_restit: tunnelled into svm2 it sees svm2's record only; not tunnelled, all four;
    // an unknown SVM is an error.
    let tunnelled = &task("restit_svm2")["response"];
    assert_eq!(tunnelled["num_records"], 1, "{tunnelled:#}");
    assert_eq!(tunnelled["records"][0]["uuid"], SVM2, "{tunnelled:#}");
    assert_eq!(tunnelled["records"][0]["svm"]["name"], "svm2");
    let all = &task("restit_cluster")["response"];
    assert_eq!(all["num_records"], 4, "{all:#}");
    let unknown = task("restit_unknown_svm");
    assert_eq!(unknown["failed"].as_bool(), Some(true), "{unknown:#}");
    assert_eq!(unknown["status_code"], 404, "{unknown:#}");
    assert!(
        unknown["error_message"]
            .as_str()
            .is_some_and(|m| m.contains("no-such-svm")),
        "{unknown:#}"
    );

    // No task's result shows the password.
    assert!(
        !results.to_string().contains("netapp1!"),
        "a result shows the password"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netapp_ontap_ansible_collection_works_against_the_9_19_mock() {
    require_tools();
    let mock = MockProcess::start(&["--contract", "ontap-9.19"], &[]);
    let url = mock.url.clone();
    let results = run_playbook("ansible_contract.yml", &url).await;
    let task = |name: &str| -> &Value {
        let r = &results[name];
        assert!(r.is_object(), "no result for task {name}: {results:#}");
        r
    };
    let changed = |name: &str| task(name)["changed"].as_bool();
    for name in [
        "user_create",
        "user_create_again",
        "user_modify",
        "user_modify_again",
        "user_after_modify",
        "user_delete",
        "user_delete_again",
        "svm_user_create",
        "svm_user_modify",
        "svm_user_modify_again",
        "rest_info_all",
    ] {
        assert_eq!(
            task(name)["failed"].as_bool(),
            Some(false),
            "{name}: {:#}",
            task(name)
        );
    }

    // na_ontap_user, a cluster account: each change reported once, each rerun unchanged.
    for (name, want) in [
        ("user_create", true),
        ("user_create_again", false),
        ("user_modify", true),
        ("user_modify_again", false),
        ("user_delete", true),
        ("user_delete_again", false),
        ("svm_user_create", true),
        ("svm_user_modify", true),
        ("svm_user_modify_again", false),
    ] {
        assert_eq!(changed(name), Some(want), "{name}: {:#}", task(name));
    }
    // The rerun sent the password again; the mock refused it as ONTAP does, and the module took
    // that as "unchanged", with its warning.
    let again = task("user_create_again");
    assert!(
        again["warnings"].to_string().contains(
            "Password was not changed: New password must be different than the old password."
        ),
        "{again:#}"
    );
    assert_eq!(task("user_modify")["modify"]["role_name"], "readonly");

    let client = admin_client(&url);
    let (_, cluster) = get(&client, "/api/cluster?fields=name,uuid").await;
    let (_, svm1) = get(&client, "/api/svm/svms?name=svm1").await;
    let svm1_uuid = svm1["records"][0]["uuid"].clone();

    // After modify (read through na_ontap_restit): the account, owned by the cluster by name and
    // uuid, with the new role and what a POST fills in.
    let after = &task("user_after_modify")["response"];
    assert_eq!(after["num_records"], 1, "{after:#}");
    let account = &after["records"][0];
    assert_eq!(account["owner"]["name"], cluster["name"], "{account:#}");
    assert_eq!(account["owner"]["uuid"], cluster["uuid"], "{account:#}");
    assert_eq!(account["role"]["name"], "readonly", "{account:#}");
    assert_eq!(account["scope"], "cluster", "{account:#}");
    let apps: Vec<&Value> = account["applications"]
        .as_array()
        .unwrap_or_else(|| panic!("no applications: {account:#}"))
        .iter()
        .map(|a| &a["application"])
        .collect();
    assert_eq!(apps, ["ssh", "http"], "{account:#}");

    // After delete: gone.
    let (status, gone) = get(&client, "/api/security/accounts?name=oc_ansible").await;
    assert_eq!(
        (status, &gone["num_records"]),
        (200, &Value::from(0)),
        "{gone:#}"
    );

    // The SVM's account, read over the mock's REST API: svm1's, with its new role and apps.
    let (status, svm_user) = get(
        &client,
        "/api/security/accounts?name=oc_svm_user&fields=owner,role,scope,applications",
    )
    .await;
    assert_eq!(
        (status, &svm_user["num_records"]),
        (200, &Value::from(1)),
        "{svm_user:#}"
    );
    let rec = &svm_user["records"][0];
    assert_eq!(rec["owner"]["name"], "svm1", "{rec:#}");
    assert_eq!(rec["owner"]["uuid"], svm1_uuid, "{rec:#}");
    assert_eq!(rec["role"]["name"], "vsadmin-readonly", "{rec:#}");
    assert_eq!(rec["scope"], "svm", "{rec:#}");
    let apps: Vec<&Value> = rec["applications"]
        .as_array()
        .unwrap_or_else(|| panic!("no applications: {rec:#}"))
        .iter()
        .map(|a| &a["application"])
        .collect();
    assert_eq!(apps, ["ssh", "ontapi"], "{rec:#}");

    // An owner nobody has: the module fails with the mock's 404 code 4 for owner.name.
    let unknown = task("user_unknown_owner");
    assert_eq!(unknown["failed"].as_bool(), Some(true), "{unknown:#}");
    let msg = unknown["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("no-such-svm") && msg.contains("'code': '4'"),
        "{unknown:#}"
    );

    // na_ontap_rest_info, every subset with every field: the 9.19 mock serves every subset whose
    // path the 9.19 contract has; the others are answered "API not found".
    let spec = Spec::contract("ontap-9.19").unwrap();
    let (served, not_served) = check_rest_info_all(task("rest_info_all"), spec);
    eprintln!(
        "rest_info gather_subset all fields '*' against the 9.19 mock: {} subsets, {} served, {} not served ({})",
        served.len() + not_served.len(),
        served.len(),
        not_served.len(),
        not_served.join(", ")
    );
    // The contract routes nearly all of them: a derivation that found few would be wrong.
    assert!(
        served.len() > 150,
        "only {} subsets served: {served:?}",
        served.len()
    );

    // No task's result shows a password.
    for secret in ["netapp1!", "Oc-ansible-1!"] {
        assert!(
            !results.to_string().contains(secret),
            "a result shows the password {secret}"
        );
    }
}
