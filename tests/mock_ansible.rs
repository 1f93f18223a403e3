//! Real clients against the reference mock: NetApp's Ansible collection (`netapp.ontap`,
//! unmodified) runs `tests/clients/ansible_mock.yml` against the mock binary started here.
//! `na_ontap_login_messages` sets, re-sets (idempotent), clears and runs in check mode;
//! `na_ontap_rest_info` pages one record at a time through next links and reads the `cluster`
//! subset; `na_ontap_restit` tunnels into SVMs with `vserver_name` (`X-Dot-SVM-Name`). The test
//! asserts on the modules' registered results and on the mock's state read over its REST API.
//!
//! Needs `ansible-playbook` and the netapp.ontap collection: `scripts/test` provisions both
//! (pinned) and the test fails, saying so, when either is missing.

mod common;

use common::bin::MockProcess;
use common::mock_client::{CLUSTER, SVM1, SVM2};
use ontap_conform::client::{Client, ClientConfig, Credentials, Request, Trust};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netapp_ontap_ansible_collection_works_against_the_mock() {
    // The tools, or a clear failure.
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

    let mock = MockProcess::start(&[], &[]);
    let url = mock.url.clone();
    let port = url.rsplit(':').next().unwrap().to_string();
    let dir = std::env::temp_dir().join(format!("ontap-conform-ansible-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let results_file = dir.join("results.json");
    let playbook = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/ansible_mock.yml");
    let started = Instant::now();
    let out = tokio::task::spawn_blocking({
        let results_file = results_file.clone();
        let dir = dir.clone();
        move || {
            run(Command::new("ansible-playbook")
                .arg(playbook)
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
    eprintln!("ansible-playbook took {:?}", started.elapsed());
    assert!(out.status.success(), "the playbook failed\n{}", show(&out));
    let results: Value =
        serde_json::from_slice(&std::fs::read(&results_file).expect("the playbook wrote results"))
            .expect("the results are JSON");
    let _ = std::fs::remove_dir_all(&dir);
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
    let client = Client::new(ClientConfig::new(
        url.clone(),
        Credentials::new("admin", "netapp1!"),
        Trust::Insecure,
    ))
    .unwrap();
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
