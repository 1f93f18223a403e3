//! What several integration test files share: the state of the families the harness changes,
//! read through the mock's own REST API to compare before and after a run (here), the binary
//! (`bin`: every test that runs `ontap-conform` builds the command there, and starts `ontap-conform
//! mock` there), a mock and a client for it, in-process or on a socket (`mock_client`), a fleet
//! of mock processes and its config file (`fleet`), contract directories (`files`), engine runs
//! (`run`) and the hand-written families compared with NetApp's own definitions (`netapp`).

// Each `tests/*.rs` is a crate of its own that uses only part of this module.
#![allow(dead_code)]

pub mod bin;
pub mod files;
pub mod fleet;
pub mod mock_client;
pub mod netapp;
pub mod run;

use serde_json::Value;

/// Every record a cluster administrator can read of the login messages, Duo and TOTP families
/// (the Duo fingerprints change with the write-only secret, so secrets are compared too).
pub async fn snapshot(base: &str) -> Vec<Value> {
    let c = reqwest::Client::new();
    let mut out = Vec::new();
    for p in [
        "/api/security/login/messages",
        "/api/security/authentication/duo/profiles",
        "/api/security/login/totps",
    ] {
        let v: Value = c
            .get(format!("{base}{p}?fields=**"))
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
