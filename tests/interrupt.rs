//! Safety on a live target: a run interrupted with Ctrl-C (SIGINT) in the middle of its write
//! checks puts every record back, exactly, before it exits.

use ontap_conform::mock::{self, MockConfig, Tls};
use std::process::{Command, Stdio};
use std::time::Duration;

async fn snapshot(base: &str) -> Vec<serde_json::Value> {
    let c = reqwest::Client::new();
    let mut out = Vec::new();
    for p in [
        "/api/security/login/messages",
        "/api/security/authentication/duo/profiles",
        "/api/security/login/totps",
    ] {
        let v: serde_json::Value = c
            .get(format!("{base}{p}?fields=*"))
            .basic_auth("admin", Some("netapp1!"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        out.push(v["records"].clone());
    }
    out
}

#[test]
fn ctrl_c_restores_every_record() {
    ontap_conform::client::install_crypto();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let running = rt
        .block_on(mock::spawn(
            MockConfig::new(),
            "127.0.0.1:0".parse().unwrap(),
            Tls::Plain,
        ))
        .unwrap();
    let base = running.base_url.clone();
    let before = rt.block_on(snapshot(&base));
    // Many cases and only the write checks, so the signal lands while records are changed.
    let child = Command::new(env!("CARGO_BIN_EXE_ontap-conform"))
        .args([
            "run",
            "--target",
            &base,
            "--user",
            "admin",
            "--password-env",
            "OC_PW",
            "--no-progress",
            "--cases",
            "5000",
            "--seed",
            "4",
        ])
        .args([
            "--check",
            "patch-roundtrip",
            "--check",
            "patch-atomic",
            "--check",
            "patch-invalid",
        ])
        .env("OC_PW", "netapp1!")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until the run is visibly changing records.
    let mut during = before.clone();
    for _ in 0..200 {
        std::thread::sleep(Duration::from_millis(100));
        during = rt.block_on(snapshot(&base));
        if during != before {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("interrupted") && err.contains("restored"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(1), "{err}");
    let after = rt.block_on(snapshot(&base));
    assert_ne!(
        before, during,
        "the run was changing records when it was interrupted"
    );
    assert_eq!(before, after, "every record is back as it was");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("INTERRUPTED"), "{report}");
    rt.block_on(running.shutdown());
}
