//! Real clients against the reference mock: NetApp's own Python library (`netapp-ontap`) drives a
//! freshly spawned mock through `tests/clients/netapp_ontap_smoke.py` (list, get, find, count,
//! patch and paging of login messages; get, patch, post and delete of Duo profiles; get and patch
//! of TOTP profiles). Without the library the test fails, naming what to install (`scripts/test`
//! provisions it).

use ontap_conform::mock::{self, MockConfig, Tls};
use std::path::Path;
use std::process::Command;

fn netapp_ontap_available() -> bool {
    Command::new("python3")
        .args(["-c", "import netapp_ontap"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Which python3 runs, for the message.
fn which_python3() -> String {
    Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "not found on PATH".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netapp_ontap_python_client_works_against_the_mock() {
    assert!(
        netapp_ontap_available(),
        "python3 ({}) cannot import netapp_ontap, NetApp's Python client this test drives: install it \
         with `python3 -m pip install netapp-ontap==9.19.1.0`, or run the tests with scripts/test, \
         which provisions it",
        which_python3()
    );
    let running = mock::spawn(
        MockConfig::new(),
        "127.0.0.1:0".parse().unwrap(),
        Tls::SelfSigned,
    )
    .await
    .expect("mock starts");
    let out = client_script("netapp_ontap_smoke.py", running.addr.port()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "netapp-ontap smoke test failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(stdout.contains("all netapp-ontap steps passed"), "{stdout}");
    // Every step of the brief ran.
    for step in [
        "list login messages",
        "paging with max_records=2",
        "find(scope='cluster')",
        "count_collection()",
        "patch banner",
        "get the cluster Duo profile",
        "patch the Duo profile",
        "post a Duo profile",
        "deleted Duo profile answers 404",
        "get joe.smith's TOTP profile",
        "patch joe.smith's TOTP profile",
    ] {
        assert!(stdout.contains(step), "step {step:?} missing:\n{stdout}");
    }
    running.shutdown().await;
}

/// The classes `docs/mock.md` lists as not walked, each with its reason: (class, kind).
fn documented_walk_exceptions() -> std::collections::BTreeSet<(String, String)> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/mock.md"))
        .unwrap();
    let start = doc
        .find("<!-- walk:start -->")
        .expect("docs/mock.md has the walk table");
    let end = doc.find("<!-- walk:end -->").unwrap();
    doc[start..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            assert!(
                cells.len() == 3 && cells[2].len() > 15,
                "class, outcome, reason: {l}"
            );
            (cells[0].trim_matches('`').to_string(), cells[1].to_string())
        })
        .collect()
}

/// NetApp's own client is the judge of the mock: every resource class of netapp-ontap 9.19
/// walked against `mock --contract ontap-9.19` (get_collection(fields="*") and get() on a
/// record, parents' keys from their records), each record loaded through the client's
/// marshmallow schema. The classes that are not walked are exactly those docs/mock.md lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netapp_ontap_walks_every_class_against_a_mock_of_its_release() {
    assert!(
        netapp_ontap_available(),
        "python3 cannot import netapp_ontap: install it with `python3 -m pip install netapp-ontap==9.19.1.0` (.ci/run does)"
    );
    let spec = ontap_conform::spec::Spec::contract("ontap-9.19").unwrap();
    let mut cfg = MockConfig::new();
    cfg.spec = spec;
    cfg.version = spec.release().unwrap();
    let running = mock::spawn(cfg, "127.0.0.1:0".parse().unwrap(), Tls::SelfSigned)
        .await
        .expect("mock starts");
    let out = client_script("netapp_ontap_walk.py", running.addr.port()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stdout.lines().last().unwrap_or("");
    assert!(
        last.starts_with("walked 331 classes: "),
        "{stdout}\n{stderr}"
    );
    let ok = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert!(ok >= 308, "{ok} classes walked: {last}");
    let not_walked: std::collections::BTreeSet<(String, String)> = stdout
        .lines()
        .filter_map(|l| {
            let (kind, rest) = l.split_once(' ')?;
            let class = rest.split(':').next()?;
            matches!(kind, "fail" | "unreachable").then(|| (class.to_string(), kind.to_string()))
        })
        .collect();
    let documented = documented_walk_exceptions();
    assert_eq!(
        not_walked, documented,
        "the classes not walked differ from docs/mock.md's table\n{stdout}"
    );
    running.shutdown().await;
}

/// Runs `tests/clients/NAME` with python3 against the mock on 127.0.0.1:`port`.
async fn client_script(name: &str, port: u16) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name);
    tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .args(["127.0.0.1", &port.to_string()])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap()
}
