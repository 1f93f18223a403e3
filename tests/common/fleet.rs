//! A fleet of mock clusters for the `--all-targets`, `--shard` and `report merge` tests: each
//! target is an `ontap-conform mock` process on a free loopback port (plain HTTP), stopped when
//! dropped, and a config file lists them.

use super::bin::{MockProcess, Run};
use std::path::Path;
use std::process::Output;

/// The mock's administrator password (its default).
pub const PASSWORD: &str = "netapp1!";

/// Starts a mock (plain HTTP) with these extra flags (`--fault NAME`, `--ontap-version V`, ...).
pub fn mock(extra: &[&str]) -> MockProcess {
    mock_with_password(extra, PASSWORD)
}

/// Starts a mock (plain HTTP) whose administrator has another password.
pub fn mock_with_password(extra: &[&str], password: &str) -> MockProcess {
    let mut args = vec!["--plain-http"];
    args.extend_from_slice(extra);
    MockProcess::start(&args, &[("ONTAP_MOCK_ADMIN_PASSWORD", password)])
}

/// A URL where nothing listens: a port that was free a moment ago.
pub fn unreachable_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// A config file with these settings (TOML lines) and one `[[targets]]` per (name, url); the
/// password is read from ONTAP_PASSWORD.
pub fn config(settings: &str, targets: &[(&str, &str)]) -> String {
    let mut s = format!("{settings}\n");
    for (name, url) in targets {
        s.push_str(&format!(
            "\n[[targets]]\nname = \"{name}\"\nurl = \"{url}\"\n"
        ));
    }
    s
}

/// Runs the harness in `dir` with ONTAP_PASSWORD set and journals under `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    super::bin::oc()
        .args(args)
        .current_dir(dir)
        .env("ONTAP_PASSWORD", PASSWORD)
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("NO_COLOR", "1")
        .run()
}

/// Standard output and standard error as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Every (target, endpoint, check) verdict of a fleet report (a JSON file).
pub fn verdicts(path: &Path) -> std::collections::BTreeMap<(String, String, String), String> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for t in v["targets"].as_array().expect("a fleet report") {
        for r in t["report"]["results"].as_array().unwrap() {
            out.insert(
                (
                    t["name"].as_str().unwrap().to_string(),
                    r["endpoint"].as_str().unwrap().to_string(),
                    r["check"].as_str().unwrap().to_string(),
                ),
                r["verdict"].as_str().unwrap().to_string(),
            );
        }
    }
    out
}
