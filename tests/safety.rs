//! A live cluster is left exactly as found, whatever happens. The reference mock plays the
//! cluster (over real HTTP on loopback, its state compared before and after through its own REST
//! API); the real `ontap-conform` binary is the harness, and real signals stop it.

mod common;

use common::bin::Run;
use ontap_conform::mock::{self, MockConfig, RunningMock, Tls};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PW: &str = "netapp1!";

fn rt() -> tokio::runtime::Runtime {
    ontap_conform::client::install_crypto();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn start(rt: &tokio::runtime::Runtime, cfg: MockConfig) -> RunningMock {
    rt.block_on(mock::spawn(cfg, "127.0.0.1:0".parse().unwrap(), Tls::Plain))
        .unwrap()
}

fn snapshot(rt: &tokio::runtime::Runtime, base: &str) -> Vec<Value> {
    rt.block_on(common::snapshot(base))
}

fn harness(base: &str, journal: &Path) -> Command {
    let mut c = common::bin::oc();
    c.args([
        "run",
        "--target",
        base,
        "--user",
        "admin",
        "--password-env",
        "OC_PW",
    ])
    .args(["--no-progress", "--journal"])
    .arg(journal)
    .env("OC_PW", PW)
    .env("HOME", journal.parent().unwrap());
    c
}

/// A harness busy with the write checks for a long while.
fn busy(base: &str, journal: &Path) -> Child {
    harness(base, journal)
        .args(["--cases", "5000", "--seed", "4"])
        .args(["--check", "patch-roundtrip", "--check", "patch-atomic"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (bounded) until the target's records differ from `before`.
fn wait_for_change(rt: &tokio::runtime::Runtime, base: &str, before: &[Value]) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = snapshot(rt, base);
        if now != before || Instant::now() > deadline {
            return now;
        }
    }
}

/// `ontap-conform restore` of a journal, as a user runs it after a killed run.
fn restore_from(journal: &Path) -> Output {
    common::bin::oc()
        .args(["restore", "--password-env", "OC_PW", "--journal"])
        .arg(journal)
        .env("OC_PW", PW)
        .run()
}

fn kill(sig: &str, child: &Child) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn every_stop_signal_restores_every_record_and_removes_the_journal() {
    for sig in ["-INT", "-TERM", "-HUP"] {
        let rt = rt();
        let m = start(&rt, MockConfig::new());
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("run.journal");
        let before = snapshot(&rt, &m.base_url);
        let child = busy(&m.base_url, &journal);
        let during = wait_for_change(&rt, &m.base_url, &before);
        assert_ne!(before, during, "{sig}: the run was changing records");
        assert!(
            journal.exists(),
            "{sig}: the journal is on disk while records are changed"
        );
        kill(sig, &child);
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        assert!(err.contains("interrupted by SIG"), "{sig}: {err}");
        assert!(err.contains("restored."), "{sig}: {err}");
        assert_eq!(out.status.code(), Some(1), "{sig}: {err}");
        assert_eq!(
            before,
            snapshot(&rt, &m.base_url),
            "{sig}: every record is back"
        );
        assert!(!journal.exists(), "{sig}: a finished journal is removed");
        assert!(text(&out.stdout).contains("INTERRUPTED"));
        rt.block_on(m.shutdown());
    }
}

#[test]
fn after_sigkill_the_next_run_refuses_and_restore_puts_everything_back() {
    let rt = rt();
    let m = start(&rt, MockConfig::new());
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("run.journal");
    let before = snapshot(&rt, &m.base_url);
    let child = busy(&m.base_url, &journal);
    wait_for_change(&rt, &m.base_url, &before);
    kill("-KILL", &child);
    child.wait_with_output().unwrap();
    let kept = ontap_conform::undo::journal::read(&journal)
        .unwrap()
        .unwrap();
    let unfinished = kept.unfinished().count();
    assert!(unfinished > 0, "the journal keeps the originals: {kept:?}");
    // JSON Lines: a header, then one event a line (the last one may be torn by the kill).
    let raw = String::from_utf8_lossy(&std::fs::read(&journal).unwrap()).into_owned();
    let lines: Vec<&str> = raw.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            assert!(n > 0 && n == lines.len() - 1, "line {}: {line}", n + 1);
            continue;
        };
        let ok = if n == 0 {
            v.get("target").is_some() && v.get("user").is_some()
        } else {
            ["add", "restored", "reopened", "wrote"]
                .iter()
                .any(|k| v.get(k).is_some())
        };
        assert!(ok, "line {}: {line}", n + 1);
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&journal).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The next run does not take the changed records as its baseline.
    let refused = harness(&m.base_url, &journal).run();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("ontap-conform restore"),
        "{}",
        text(&refused.stderr)
    );
    let restored = restore_from(&journal);
    assert_eq!(
        restored.status.code(),
        Some(0),
        "{}{}",
        text(&restored.stdout),
        text(&restored.stderr)
    );
    assert!(text(&restored.stdout).starts_with("restored:"));
    assert_eq!(before, snapshot(&rt, &m.base_url), "every record is back");
    assert!(!journal.exists());
    rt.block_on(m.shutdown());
}

#[test]
fn a_target_that_stops_answering_ends_the_run_with_exit_5_and_a_restorable_journal() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let cfg = MockConfig {
        state_file: Some(state.clone()),
        ..MockConfig::new()
    };
    let m = start(&rt, cfg.clone());
    let addr = m.addr;
    let base = m.base_url.clone();
    let journal = dir.path().join("run.journal");
    let before = snapshot(&rt, &base);
    // A write cut off when the target went away is in doubt: the run waits its settle time
    // (twice --timeout) before giving up on it.
    let child = harness(&base, &journal)
        .args(["--cases", "5000", "--seed", "4", "--timeout", "4"])
        .args(["--check", "patch-roundtrip", "--check", "patch-atomic"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_change(&rt, &base, &before);
    let t0 = Instant::now();
    rt.block_on(m.shutdown());
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "gave up in {:?}",
        t0.elapsed()
    );
    assert!(stderr.contains("transport failures in a row"), "{stderr}");
    assert!(stdout.contains("NOT RESTORED"), "{stdout}");
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(journal.exists(), "the journal stays for `restore`");
    // The cluster comes back (same address, same state): `restore` finishes the job.
    let back = rt
        .block_on(mock::spawn(cfg, addr, Tls::Plain))
        .expect("the mock restarts on its address");
    let restored = restore_from(&journal);
    assert_eq!(
        restored.status.code(),
        Some(0),
        "{}",
        text(&restored.stdout)
    );
    assert_eq!(before, snapshot(&rt, &back.base_url));
    rt.block_on(back.shutdown());
}

#[test]
fn create_delete_never_deletes_a_record_it_did_not_create() {
    let rt = rt();
    let m = start(&rt, MockConfig::new());
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let before = snapshot(&rt, &m.base_url);
    let out = harness(&m.base_url, &dir.path().join("j"))
        .args([
            "--allow-destructive",
            "--check",
            "create-delete",
            "--seed",
            "2",
        ])
        .arg("--report")
        .arg(format!("json={}", report.display()))
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(
        before,
        snapshot(&rt, &m.base_url),
        "nothing deleted, nothing left"
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let ran: Vec<&str> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["check"] == "create-delete" && x["verdict"] == "passed")
        .map(|x| x["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(
        ran,
        [
            "/api/security/authentication/duo/profiles",
            "/api/security/login/totps"
        ]
    );
    rt.block_on(m.shutdown());
}

/// A listener that counts the connections made to it.
fn counting_listener() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = n.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(s);
        }
    });
    (url, n)
}

fn run(args: &[&str]) -> Output {
    common::bin::oc().args(args).env("OC_PW", PW).run()
}

#[test]
fn bad_inputs_are_refused_before_the_first_request() {
    let dir = tempfile::tempdir().unwrap();
    let (url, connections) = counting_listener();
    let cfg = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    // Destinations nobody can write, root included, whatever else runs on the machine: under a
    // regular file of this test's own directory. (They were under /nonexistent/dir, which root
    // may create: the run then went ahead, reached the listener and exited 3.)
    let blocker = cfg("a-file", "");
    let report = format!("{blocker}/r.json");
    let record = format!("{blocker}/rec");
    let (report_refused, record_refused) = (
        format!("--report {report}: its directory"),
        format!("--record {record}: {blocker} cannot be written"),
    );
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--config".into(), cfg("empty.toml", "")],
            "no [[targets]]",
        ),
        (
            vec![
                "--config".into(),
                cfg("none.toml", "targets = []\nseed = 1\n"),
            ],
            "no [[targets]]",
        ),
        (
            vec![
                "--config".into(),
                cfg(
                    "dup.toml",
                    &format!(
                        "[[targets]]\nname = \"a\"\nurl = \"{url}\"\n[[targets]]\nname = \"a\"\nurl = \"{url}\"\n"
                    ),
                ),
            ],
            "two targets are named \"a\"",
        ),
        (
            vec!["--target".into(), format!("{url}/api/cluster")],
            "the URL holds a path",
        ),
        (
            vec!["--target".into(), format!("{url}/?x=1")],
            "the URL holds a query",
        ),
        (
            vec![
                "--target".into(),
                url.replace("http://", "http://admin:s3cr3tpw@"),
            ],
            "the URL holds a user or password",
        ),
        (
            vec![
                "--target".into(),
                url.clone(),
                "--password-env".into(),
                "OC_PW".into(),
                "--report".into(),
                format!("json={report}"),
            ],
            &report_refused,
        ),
        (
            vec![
                "--target".into(),
                url.clone(),
                "--password-env".into(),
                "OC_PW".into(),
                "--record".into(),
                record.clone(),
            ],
            &record_refused,
        ),
    ];
    for (args, expected) in cases {
        let mut argv = vec!["run"];
        argv.extend(args.iter().map(String::as_str));
        let out = run(&argv);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {err}");
        assert!(err.contains(expected), "{argv:?}: {err}");
        assert!(
            !err.contains("s3cr3tpw"),
            "{argv:?}: the password is printed: {err}"
        );
    }
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing was sent"
    );
}

#[test]
fn reports_go_to_standard_output_and_through_links_never_replacing_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["run", "--seed", "3", "--cases", "2", "--report", "json=-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("standard output is the JSON");
    assert_eq!(json["seed"], 3);
    assert!(
        text(&out.stderr).contains("passed"),
        "the summary went to standard error"
    );
    // A symlink is written through and stays a symlink; a new report file is 0644.
    let real = dir.path().join("real.xml");
    std::fs::write(&real, "").unwrap();
    let link = dir.path().join("link.xml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let plain = dir.path().join("r.json");
    let out = run(&[
        "run",
        "--seed",
        "3",
        "--cases",
        "2",
        "--report",
        &format!("junit={}", link.display()),
        "--report",
        &format!("json={}", plain.display()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .contains("<testsuites")
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777,
        0o644
    );
}

/// A target that answers `/api/cluster` like ONTAP and every other request with an error whose
/// message echoes the request's headers (its Authorization too).
fn header_echo() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                loop {
                    let mut head = Vec::new();
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push(line.trim_end().to_string());
                    }
                    let len: usize = head
                        .iter()
                        .find_map(|h| {
                            h.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    let mut body = vec![0; len];
                    let _ = r.read_exact(&mut body);
                    let (status, body) = if head[0].starts_with("GET /api/cluster") {
                        (
                            "200 OK",
                            r#"{"name":"echo","uuid":"1","version":{"full":"NetApp Release 9.14.1","generation":9,"major":14,"minor":1}}"#.to_string(),
                        )
                    } else {
                        let echoed = head.join(" | ").replace('"', "'");
                        (
                            "400 Bad Request",
                            format!(r#"{{"error":{{"message":"{echoed}","code":"2"}}}}"#),
                        )
                    };
                    let _ = write!(
                        s,
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
        }
    });
    url
}

#[test]
fn secrets_never_appear_in_any_output() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    // 1. A target echoing the request headers: the password and its Basic token are known.
    let url = header_echo();
    let (json, junit) = (dir.path().join("e.json"), dir.path().join("e.xml"));
    let out = common::bin::oc()
        .args([
            "run",
            "--target",
            &url,
            "--password-env",
            "OC_PW",
            "--no-progress",
        ])
        .args(["--cases", "4", "--seed", "1", "--read-only"])
        .arg("--report")
        .arg(format!("json={}", json.display()))
        .arg("--report")
        .arg(format!("junit={}", junit.display()))
        .env("OC_PW", "Ech0-pa55word")
        .env("HOME", dir.path())
        .run();
    let token = base64::engine::general_purpose::STANDARD.encode("admin:Ech0-pa55word");
    let all = [
        text(&out.stdout),
        text(&out.stderr),
        std::fs::read_to_string(&json).unwrap(),
        std::fs::read_to_string(&junit).unwrap(),
    ]
    .join("\n");
    assert!(
        all.contains("authorization: Basic <redacted>"),
        "the target echoed the headers, and the token is redacted where it stood: {all}"
    );
    // Nor the token of the wrong password the auth check sends, which must not be made of it.
    for line in all.lines().filter(|l| l.contains("authorization: Basic ")) {
        let t = line.split("authorization: Basic ").nth(1).unwrap();
        let t = t.split([' ', '"']).next().unwrap();
        if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(t) {
            assert!(!text(&raw).contains("Ech0-pa55word"), "{line}");
        }
    }
    assert!(!all.contains(&token), "the Basic token leaked");
    assert!(!all.contains("Ech0-pa55word"), "the password leaked");

    // 2. A mock leaking write-only and one-time secrets: none of their values in any output.
    let rt = rt();
    let state = dir.path().join("state.json");
    let m = start(
        &rt,
        MockConfig {
            state_file: Some(state.clone()),
            faults: ["leak-secret".parse().unwrap()].into_iter().collect(),
            ..MockConfig::new()
        },
    );
    let out = harness(&m.base_url, &dir.path().join("j"))
        .args(["--allow-destructive", "--cases", "8", "--seed", "7"])
        .arg("--report")
        .arg(format!("json={}", json.display()))
        .arg("--report")
        .arg(format!("junit={}", junit.display()))
        .run();
    let all = [
        text(&out.stdout),
        text(&out.stderr),
        std::fs::read_to_string(&json).unwrap(),
        std::fs::read_to_string(&junit).unwrap(),
    ]
    .join("\n");
    assert!(
        all.contains("write-only-secret"),
        "the leak was found: {all}"
    );
    // Every secret value the mock holds now (the fixtures' and those the run set).
    let held: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let mut secrets = Vec::new();
    collect(&held, &mut secrets);
    assert!(!secrets.is_empty(), "the mock holds secrets: {held}");
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        assert!(!all.contains(s.as_str()), "the secret {s:?} leaked");
    }
    rt.block_on(m.shutdown());
}

/// Every string under a secret field name.
fn collect(v: &Value, out: &mut Vec<String>) {
    const NAMES: [&str; 4] = [
        "secret_key",
        "install_url",
        "emergency_codes",
        "verification_code",
    ];
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                if NAMES.contains(&k.as_str()) {
                    strings(c, out);
                } else {
                    collect(c, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect(c, out)),
        _ => {}
    }
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|c| strings(c, out)),
        _ => {}
    }
}

#[test]
fn a_deadline_stops_the_run_restores_and_exits_3() {
    let rt = rt();
    let m = start(&rt, MockConfig::new());
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("run.journal");
    let before = snapshot(&rt, &m.base_url);
    let t0 = Instant::now();
    let out = harness(&m.base_url, &journal)
        .args(["--cases", "100000", "--seed", "4", "--deadline", "2"])
        .args(["--check", "patch-roundtrip", "--check", "patch-atomic"])
        .run();
    let err = text(&out.stderr);
    assert!(err.contains("the deadline of 2 s was reached"), "{err}");
    assert!(err.contains("restored."), "{err}");
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", t0.elapsed());
    assert_eq!(before, snapshot(&rt, &m.base_url), "every record is back");
    assert!(!journal.exists());
    rt.block_on(m.shutdown());
}

/// A target that answers `/api/cluster` and then never answers again.
fn hanging_target() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                if r.read_line(&mut line).is_err() {
                    return;
                }
                if line.starts_with("GET /api/cluster") {
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                    }
                    let body = r#"{"name":"c","uuid":"1","version":{"full":"NetApp Release 9.14.1","generation":9,"major":14,"minor":1}}"#;
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                }
                std::thread::sleep(Duration::from_secs(300));
            });
        }
    });
    url
}

#[test]
fn a_target_that_stops_answering_is_given_up_after_max_failures_requests() {
    let dir = tempfile::tempdir().unwrap();
    let url = hanging_target();
    let report = dir.path().join("r.json");
    let out = harness(&url, &dir.path().join("j"))
        .args(["--timeout", "1", "--report"])
        .arg(format!("json={}", report.display()))
        .run();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("5 transport failures in a row"), "{err}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    // Discovery's reads, then at most one batch in flight (--concurrency 4): nothing queued
    // behind the budget is sent once the run gives up.
    let requests = r["figures"]["requests"].as_u64().unwrap();
    assert!(
        requests <= 12,
        "{requests} requests to a target that stopped answering"
    );
    assert!(
        r["stopped"]
            .as_str()
            .unwrap()
            .contains("transport failures")
    );
    assert!(text(&out.stdout).contains("STOPPED EARLY"));
}

/// A target that ignores a collection PATCH's filter changes records beyond the match: every
/// record of the family was journaled before, so every one comes back.
#[test]
fn records_a_collection_patch_changed_beyond_its_filter_come_back() {
    let rt = rt();
    let m = start(
        &rt,
        MockConfig {
            faults: ["collection-write-filter-ignored".parse().unwrap()]
                .into_iter()
                .collect(),
            ..MockConfig::new()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let before = snapshot(&rt, &m.base_url);
    let out = harness(&m.base_url, &dir.path().join("j"))
        .args(["--check", "collection-patch", "--seed", "1"])
        .run();
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAIL collection-patch"), "{stdout}");
    assert!(!stdout.contains("NOT RESTORED"), "{stdout}");
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(before, snapshot(&rt, &m.base_url), "every record is back");
    rt.block_on(m.shutdown());
}

/// A run that cannot reach its target has changed nothing, so it leaves no journal behind (one
/// would litter the state directory, one file per target tried).
#[test]
fn a_run_that_never_reaches_its_target_leaves_no_journal() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.json");
    // A port nothing listens on any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = harness(&format!("http://127.0.0.1:{port}"), &journal).run();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(!journal.exists(), "no journal is left");
}

/// Whatever rule a target breaks, a run leaves it as found, or exits 5 naming what is not back:
/// one run per fault switch of the mock. (A target that leaves its records' keys out, for one,
/// is sent no collection PATCH: its records could not be named, so not written down or put back.)
#[test]
fn a_target_breaking_any_rule_is_left_as_found() {
    let rt = rt();
    let mut changed = Vec::new();
    for fault in mock::Fault::ALL {
        let m = start(
            &rt,
            MockConfig {
                faults: [*fault].into(),
                ..MockConfig::new()
            },
        );
        let dir = tempfile::tempdir().unwrap();
        let before = snapshot(&rt, &m.base_url);
        let out = harness(&m.base_url, &dir.path().join("j"))
            .args(["--seed", "1", "--cases", "8"])
            .run();
        let code = out.status.code();
        if code == Some(5) {
            assert!(text(&out.stdout).contains("NOT RESTORED"), "{fault:?}");
        } else if before != snapshot(&rt, &m.base_url) {
            changed.push(format!(
                "--fault {}: exit {code:?} and records changed:\n{}",
                fault.name(),
                text(&out.stdout)
            ));
        }
        rt.block_on(m.shutdown());
    }
    assert!(changed.is_empty(), "{}", changed.join("\n\n"));
}

// ---- Safe among other people (issue 19) ----------------------------------------------------
//
// A proxy of the test's own stands between the harness and the mock: it plays a colleague
// editing records during a run, a proxy holding a write, a target that accepts a PUT, one whose
// instance GET leaves a field out, one that trickles its answers. The mock's records are read
// before and after through its own REST API.

/// One request as the proxy read it.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    head: Vec<String>,
    body: Vec<u8>,
}

/// What the proxy does with a request.
enum Act {
    /// Forward it as it is.
    Forward,
    /// Hold it this long, then forward it (whether or not the client still waits).
    Hold(Duration),
    /// Forward this method and body instead.
    Rewrite(&'static str, String),
}

/// What the proxy does once the target answered: change the answer's body, act meanwhile.
type AfterFn = dyn Fn(&Req, &mut Vec<u8>) + Send + Sync;

/// The proxy's behaviour: what to do before forwarding, what to change in the answer (and do
/// meanwhile), and how slowly to send answers back.
struct Script {
    before: Box<dyn Fn(&Req) -> Act + Send + Sync>,
    after: Box<AfterFn>,
    /// Each byte of an answer (but /api/cluster's) waits this long.
    trickle: Option<Duration>,
}

impl Script {
    fn new() -> Script {
        Script {
            before: Box::new(|_| Act::Forward),
            after: Box::new(|_, _| {}),
            trickle: None,
        }
    }
}

/// Reads one HTTP/1.1 request (head and Content-Length body) from a stream.
fn read_request(r: &mut impl BufRead) -> Option<Req> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_string());
    }
    let len = content_length(&head);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    let mut first = head.first()?.split(' ');
    Some(Req {
        method: first.next()?.to_string(),
        path: first.next()?.to_string(),
        head,
        body,
    })
}

fn content_length(head: &[String]) -> usize {
    head.iter()
        .find_map(|h| {
            h.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

/// Sends one request to `addr` over a fresh connection and reads the whole answer: status,
/// content type, body.
fn exchange(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    use base64::Engine;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let auth = auth.map(String::from).unwrap_or_else(|| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("admin:{PW}"))
        )
    });
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: {auth}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let code: u16 = status.split(' ').nth(1).unwrap().parse().unwrap();
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_string());
    }
    let ct = head
        .iter()
        .find_map(|h| {
            h.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    let mut body = Vec::new();
    if head
        .iter()
        .any(|h| h.eq_ignore_ascii_case("transfer-encoding: chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).unwrap();
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        let n = content_length(&head);
        body.resize(n, 0);
        r.read_exact(&mut body).unwrap();
    }
    (code, ct, body)
}

/// The clean mock behind a proxy that trickles every answer, a byte every 20 ms: the mock, and
/// the proxy's URL.
fn trickling(rt: &tokio::runtime::Runtime) -> (RunningMock, String) {
    let m = start(rt, MockConfig::new());
    let mut script = Script::new();
    script.trickle = Some(Duration::from_millis(20));
    let url = proxy(m.addr, script);
    (m, url)
}

/// A proxy in front of `upstream` playing `script`; its URL.
fn proxy(upstream: std::net::SocketAddr, script: Script) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let script = std::sync::Arc::new(script);
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let script = script.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let Some(req) = read_request(&mut r) else {
                    return;
                };
                let auth = req.head.iter().find_map(|h| {
                    h.split_once(':')
                        .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                        .map(|(_, v)| v.trim().to_string())
                });
                let (method, body) = match (script.before)(&req) {
                    Act::Forward => (req.method.clone(), req.body.clone()),
                    Act::Hold(d) => {
                        std::thread::sleep(d);
                        (req.method.clone(), req.body.clone())
                    }
                    Act::Rewrite(m, b) => (m.to_string(), b.into_bytes()),
                };
                let (status, ct, mut answer) =
                    exchange(upstream, &method, &req.path, auth.as_deref(), &body);
                (script.after)(&req, &mut answer);
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: {ct}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    answer.len()
                );
                let all = [head.into_bytes(), answer].concat();
                match script
                    .trickle
                    .filter(|_| !req.path.starts_with("/api/cluster"))
                {
                    Some(d) => {
                        for b in all {
                            if s.write_all(&[b]).is_err() {
                                return;
                            }
                            std::thread::sleep(d);
                        }
                    }
                    None => {
                        let _ = s.write_all(&all);
                    }
                }
            });
        }
    });
    url
}

/// The record at `path` as the mock has it.
fn record(addr: std::net::SocketAddr, path: &str) -> Value {
    let (status, _, body) = exchange(addr, "GET", &format!("{path}?fields=**"), None, b"");
    assert_eq!(status, 200, "{path}");
    serde_json::from_slice(&body).unwrap()
}

const DUO_SVM1: &str =
    "/api/security/authentication/duo/profiles/7b1b3715-9ffa-11e8-a5dd-005056bbef18";

/// Every record as before, but the fields `edit` names in the Duo profile of the owner
/// `path_uuid`, which hold the edit's values.
fn as_before_but(before: &[Value], after: &[Value], path_uuid: &str, edit: &Value) {
    for (i, (b, a)) in before.iter().zip(after).enumerate() {
        let (b, a) = (b.as_array().unwrap(), a.as_array().unwrap());
        assert_eq!(b.len(), a.len());
        for (rb, ra) in b.iter().zip(a) {
            let mut want = rb.clone();
            // The snapshot's second family is Duo.
            if i == 1 && rb["owner"]["uuid"] == path_uuid {
                for (k, v) in edit.as_object().unwrap() {
                    want[k] = v.clone();
                }
            }
            assert_eq!(
                &want, ra,
                "the record is as found, the colleague's edit kept"
            );
        }
    }
}

/// A colleague sets Duo `is_enabled`, `fail_mode` and `comment` while the run changes the
/// profile: the restore puts back what the run wrote, leaves the colleague's values, names
/// them (NOT RESTORED ... changed by someone else) and exits 5; `restore` from the journal does
/// the same.
#[test]
fn a_colleagues_edit_during_a_run_is_left_alone_and_reported() {
    let rt = rt();
    let m = start(&rt, MockConfig::new());
    let addr = m.addr;
    let edit = serde_json::json!({"is_enabled": false, "fail_mode": "secure", "comment": "edited by a colleague"});
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let patches = std::sync::atomic::AtomicUsize::new(0);
    let mut script = Script::new();
    let (e, d) = (edit.clone(), done.clone());
    // After the run read back its last PATCH of the profile (--cases 2), before its restore.
    script.after = Box::new(move |req, _| {
        use std::sync::atomic::Ordering::SeqCst;
        if req.method == "PATCH" && req.path == DUO_SVM1 {
            patches.fetch_add(1, SeqCst);
        }
        if req.method == "GET"
            && req.path.starts_with(DUO_SVM1)
            && patches.load(SeqCst) == 2
            && !d.swap(true, SeqCst)
        {
            let (status, _, body) =
                exchange(addr, "PATCH", DUO_SVM1, None, e.to_string().as_bytes());
            assert_eq!(status, 200, "{}", text(&body));
        }
    });
    let url = proxy(addr, script);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("run.journal");
    let before = snapshot(&rt, &m.base_url);
    let out = harness(&url, &journal)
        .args(["--check", "patch-roundtrip", "--cases", "2", "--seed", "3"])
        .args([
            "--endpoint",
            "/api/security/authentication/duo/profiles/{owner.uuid}",
        ])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        done.load(std::sync::atomic::Ordering::SeqCst),
        "the colleague acted"
    );
    assert_eq!(out.status.code(), Some(5), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("NOT RESTORED"), "{stdout}");
    for f in ["is_enabled", "fail_mode", "comment"] {
        assert!(
            stdout.contains(&format!("field:    {f}")),
            "{f} is named: {stdout}"
        );
    }
    assert!(
        stdout.contains(
            "changed by someone else: wrote nothing, found false, original true; left as found"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("found \"edited by a colleague\", original \"Duo profile for svm1\""),
        "{stdout}"
    );
    as_before_but(
        &before,
        &snapshot(&rt, &m.base_url),
        "7b1b3715-9ffa-11e8-a5dd-005056bbef18",
        &edit,
    );
    assert!(journal.exists(), "the journal stays");
    // `restore` from the journal compares before it writes too.
    let again = restore_from(&journal);
    let said = text(&again.stdout);
    assert_eq!(
        again.status.code(),
        Some(5),
        "{said}{}",
        text(&again.stderr)
    );
    assert!(said.contains("changed by someone else"), "{said}");
    as_before_but(
        &before,
        &snapshot(&rt, &m.base_url),
        "7b1b3715-9ffa-11e8-a5dd-005056bbef18",
        &edit,
    );
    let _ = record(addr, DUO_SVM1);
    rt.block_on(m.shutdown());
}

/// A proxy holds the run's first PATCH 8 s while the run gives up on it after 3 s (`--timeout
/// 3`): the write is in doubt, the run waits its settle time (twice the timeout), reads the
/// record back once the write has landed, and puts it back. Nothing lands after the run.
#[test]
fn a_write_held_past_the_timeout_is_waited_for_and_put_back() {
    let rt = rt();
    let m = start(&rt, MockConfig::new());
    let held = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let landed = std::sync::Arc::new(std::sync::Mutex::new(None::<Instant>));
    let mut script = Script::new();
    let h = held.clone();
    script.before = Box::new(move |req| {
        if req.method == "PATCH" && !h.swap(true, std::sync::atomic::Ordering::SeqCst) {
            Act::Hold(Duration::from_secs(8))
        } else {
            Act::Forward
        }
    });
    let l = landed.clone();
    let h = held.clone();
    script.after = Box::new(move |req, _| {
        if req.method == "PATCH" && h.load(std::sync::atomic::Ordering::SeqCst) {
            l.lock().unwrap().get_or_insert_with(Instant::now);
        }
    });
    let url = proxy(m.addr, script);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("run.journal");
    let before = snapshot(&rt, &m.base_url);
    let t0 = Instant::now();
    let out = harness(&url, &journal)
        .args(["--check", "patch-roundtrip", "--cases", "2", "--seed", "1"])
        .args(["--timeout", "3"])
        .output()
        .unwrap();
    let ended = Instant::now();
    let stdout = text(&out.stdout);
    assert!(
        held.load(std::sync::atomic::Ordering::SeqCst),
        "a PATCH was held"
    );
    assert!(
        stdout.contains("timed out"),
        "the run saw no answer: {stdout}"
    );
    // The held PATCH landed (8 s after it was sent) before the run ended.
    std::thread::sleep(Duration::from_secs(9).saturating_sub(t0.elapsed()));
    let at = landed
        .lock()
        .unwrap()
        .expect("the held PATCH was forwarded");
    assert!(at < ended, "the run waited for the write in doubt");
    assert_eq!(before, snapshot(&rt, &m.base_url), "every record is back");
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(!journal.exists());
    rt.block_on(m.shutdown());
}

/// A target that takes a PUT on a record as a write: the probe (meant to be refused) was
/// journaled like a write, so every record it changed comes back.
#[test]
fn records_a_wrongly_accepted_put_changed_come_back() {
    let rt = rt();
    let m = start(&rt, MockConfig::new());
    let puts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut script = Script::new();
    let n = puts.clone();
    script.before = Box::new(move |req| {
        let instance = req.path.matches('/').count() > 4 || req.path.contains("/messages/");
        if req.method == "PUT" && instance {
            n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = if req.path.contains("/messages/") {
                r#"{"message":"changed by a PUT"}"#
            } else {
                r#"{"comment":"changed by a PUT"}"#
            };
            Act::Rewrite("PATCH", body.to_string())
        } else {
            Act::Forward
        }
    });
    let url = proxy(m.addr, script);
    let dir = tempfile::tempdir().unwrap();
    let before = snapshot(&rt, &m.base_url);
    let out = harness(&url, &dir.path().join("j"))
        .args(["--check", "method-not-allowed", "--seed", "1"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        puts.load(std::sync::atomic::Ordering::SeqCst) >= 3,
        "{stdout}"
    );
    assert!(stdout.contains("FAIL method-not-allowed PUT"), "{stdout}");
    assert!(!stdout.contains("NOT RESTORED"), "{stdout}");
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(before, snapshot(&rt, &m.base_url), "every record is back");
    rt.block_on(m.shutdown());
}

/// A target that takes a PUT on a collection as a collection PATCH: the probe is aimed at no
/// record (a filter on a key value none has), so nothing changes although nothing of the family
/// was journaled for it, and the probe still fails.
#[test]
fn a_put_on_a_collection_taken_as_a_write_is_aimed_at_no_record() {
    let rt = rt();
    let m = start(&rt, MockConfig::new());
    let collections = [
        "/api/security/login/messages",
        "/api/security/authentication/duo/profiles",
        "/api/security/login/totps",
    ];
    let puts = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut script = Script::new();
    let seen = puts.clone();
    script.before = Box::new(move |req| {
        let bare = req.path.split('?').next().unwrap_or("");
        if req.method == "PUT" && collections.contains(&bare) {
            seen.lock().unwrap().push(req.path.clone());
            let body = if bare.contains("/messages") {
                r#"{"message":"changed by a PUT"}"#
            } else {
                r#"{"comment":"changed by a PUT"}"#
            };
            Act::Rewrite("PATCH", body.to_string())
        } else {
            Act::Forward
        }
    });
    let url = proxy(m.addr, script);
    let dir = tempfile::tempdir().unwrap();
    let before = snapshot(&rt, &m.base_url);
    let out = harness(&url, &dir.path().join("j"))
        .args(["--check", "method-not-allowed", "--seed", "1"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    let puts = puts.lock().unwrap().clone();
    assert_eq!(puts.len(), 3, "{puts:?}");
    for p in &puts {
        assert!(p.contains("=00000000-0000-4000-8000-"), "{p}");
    }
    assert!(stdout.contains("FAIL method-not-allowed PUT"), "{stdout}");
    assert!(!stdout.contains("NOT RESTORED"), "{stdout}");
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(before, snapshot(&rt, &m.base_url), "nothing changed");
    rt.block_on(m.shutdown());
}

/// A target whose instance GET leaves `message` out (the collection still lists it): the run
/// never writes a field whose original it did not read, and says why.
#[test]
fn a_field_the_record_read_left_out_is_never_written() {
    let rt = rt();
    let m = start(&rt, MockConfig::new());
    let mut script = Script::new();
    script.after = Box::new(|req, body| {
        let instance = req.path.starts_with("/api/security/login/messages/");
        if req.method == "GET"
            && instance
            && let Ok(mut v) = serde_json::from_slice::<Value>(body)
        {
            v.as_object_mut().unwrap().remove("message");
            *body = v.to_string().into_bytes();
        }
    });
    let url = proxy(m.addr, script);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let before = snapshot(&rt, &m.base_url);
    let out = harness(&url, &dir.path().join("j"))
        .args(["--check", "patch-roundtrip", "--seed", "2", "--cases", "6"])
        .args(["--endpoint", "/api/security/login/messages/{uuid}"])
        .arg("--report")
        .arg(format!("json={}", report.display()))
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        before,
        snapshot(&rt, &m.base_url),
        "every record is back: {stdout}"
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let c = r["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["family"] == "login_messages")
        .unwrap();
    assert!(
        c["round_tripped"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f != "message"),
        "{c}"
    );
    assert!(
        c["not_round_tripped"]["message"]
            .as_str()
            .unwrap()
            .contains("did not return it"),
        "{c}"
    );
    assert!(
        c["round_tripped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "banner"),
        "the fields it read are still round-tripped: {c}"
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    rt.block_on(m.shutdown());
}

/// A target that trickles every answer (a byte every 20 ms): `--deadline 3` ends sending at the
/// deadline (reads in flight are dropped) and the run soon after, exit 3 with every report
/// marked partial, the true reason named, and the checks it never got to "not run".
#[test]
fn a_deadline_is_a_deadline_and_a_partial_run_never_looks_green() {
    let rt = rt();
    let (m, url) = trickling(&rt);
    let dir = tempfile::tempdir().unwrap();
    let (json, junit, html) = (
        dir.path().join("r.json"),
        dir.path().join("r.xml"),
        dir.path().join("r.html"),
    );
    let t0 = Instant::now();
    let out = harness(&url, &dir.path().join("j"))
        .args(["--deadline", "3", "--timeout", "60", "--seed", "1"])
        .arg("--report")
        .arg(format!("json={}", json.display()))
        .arg("--report")
        .arg(format!("junit={}", junit.display()))
        .arg("--report")
        .arg(format!("html={}", html.display()))
        .output()
        .unwrap();
    let took = t0.elapsed();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        took < Duration::from_secs(10),
        "ran {took:?} with --deadline 3"
    );
    assert!(
        stderr.contains("stopped early: the deadline of 3 s was reached"),
        "{stderr}"
    );
    assert!(!stderr.contains("unreachable"), "{stderr}");
    assert!(stdout.contains("STOPPED EARLY"), "{stdout}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(r["stopped"].as_str().unwrap().contains("deadline"), "{r}");
    let reasons: Vec<&str> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"not run (stopped early)"), "{reasons:?}");
    assert!(
        !reasons.contains(&"the record could not be read before changing it"),
        "{reasons:?}"
    );
    let x = std::fs::read_to_string(&junit).unwrap();
    assert!(x.contains("errors=\"1\""), "{x}");
    assert!(
        x.contains("<error message=\"STOPPED EARLY — partial: the deadline"),
        "{x}"
    );
    let h = std::fs::read_to_string(&html).unwrap();
    assert!(h.contains("STOPPED EARLY — partial"), "{h}");
    assert!(!h.contains(">PASSED<"), "{h}");
    // A rate far below the deadline does not hold the run either.
    let t0 = Instant::now();
    let out = harness(&m.base_url, &dir.path().join("j"))
        .args(["--deadline", "3", "--rate", "0.05", "--seed", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    rt.block_on(m.shutdown());
}

/// SIGTERM while the run is still reading the records (discovery): it ends with a report.
#[test]
fn a_signal_during_discovery_ends_with_a_report() {
    let rt = rt();
    let (m, url) = trickling(&rt);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let child = harness(&url, &dir.path().join("j"))
        .arg("--report")
        .arg(format!("json={}", json.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    kill("-TERM", &child);
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["interrupted"], true, "{r}");
    assert!(r["stopped"].as_str().unwrap().contains("SIGTERM"), "{r}");
    rt.block_on(m.shutdown());
}

/// A target that echoes the password back JSON-escaped (Python's `ensure_ascii`), URL-encoded,
/// in base64 and in hex, and answers another path with terminal escape sequences in a
/// non-JSON body: no form of the password in any output, no raw control character on the
/// terminal.
#[test]
fn secrets_in_any_encoding_and_control_characters_never_reach_an_output() {
    use base64::Engine;
    const SECRET: &str = "Pa\"ss\\wörd-9";
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let ascii_json = r#"Pa\"ss\\w\u00f6rd-9"#;
    let pct = "Pa%22ss%5Cw%C3%B6rd-9";
    let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET);
    let hex: String = SECRET.bytes().map(|b| format!("{b:02x}")).collect();
    let echoed = format!("{ascii_json} {pct} {b64} {hex}");
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let echoed = echoed.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                while let Some(req) = read_request(&mut r) {
                    let (status, ct, body) = if req.path.starts_with("/api/cluster") {
                        ("200 OK", "application/json", r#"{"name":"echo","uuid":"1","version":{"full":"NetApp Release 9.14.1","generation":9,"major":14,"minor":1}}"#.to_string())
                    } else if req.path.starts_with("/api/security/login/messages") {
                        (
                            "500 Internal Server Error",
                            "text/plain",
                            "\u{1b}[2J\u{1b}]0;pwned\u{7}boom".to_string(),
                        )
                    } else {
                        (
                            "400 Bad Request",
                            "application/json",
                            format!(
                                r#"{{"error":{{"message":"bad password {echoed}","code":"2"}}}}"#
                            ),
                        )
                    };
                    let _ = write!(
                        s,
                        "HTTP/1.1 {status}\r\ncontent-type: {ct}\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<std::path::PathBuf> = ["e.json", "e.xml", "e.html"]
        .iter()
        .map(|f| dir.path().join(f))
        .collect();
    let out = common::bin::oc()
        .args([
            "run",
            "--target",
            &url,
            "--password-env",
            "OC_PW",
            "--no-progress",
        ])
        .args(["--cases", "2", "--seed", "1", "--read-only"])
        .arg("--report")
        .arg(format!("json={}", files[0].display()))
        .arg("--report")
        .arg(format!("junit={}", files[1].display()))
        .arg("--report")
        .arg(format!("html={}", files[2].display()))
        .env("OC_PW", SECRET)
        .env("HOME", dir.path())
        .run();
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("bad password <redacted>"),
        "the echo was seen: {stdout}"
    );
    let mut all = vec![stdout.clone(), text(&out.stderr)];
    all.extend(files.iter().map(|f| std::fs::read_to_string(f).unwrap()));
    let all = all.join("\n");
    let json_escaped = serde_json::to_string(SECRET).unwrap();
    for form in [
        SECRET,
        &json_escaped[1..json_escaped.len() - 1],
        ascii_json,
        pct,
        &b64,
        &hex,
        "Pa&quot;ss",
    ] {
        assert!(!all.contains(form), "the password leaked as {form}");
    }
    assert!(
        stdout.contains("\\u001b[2J"),
        "escaped as in the reports: {stdout}"
    );
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
        "{stdout:?}"
    );
}

/// Two runs against one target with one state directory (two CI jobs on one runner), each with
/// its own journal: the second is refused (exit 3) naming the lock's holder, and the target
/// ends as found.
#[test]
fn only_one_run_changes_a_target_at_a_time() {
    let rt = rt();
    let m = start(&rt, MockConfig::new());
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let before = snapshot(&rt, &m.base_url);
    let job = |n: &str| {
        let mut c = harness(&m.base_url, &dir.path().join(format!("{n}.journal")));
        c.env("XDG_STATE_HOME", &state)
            .args(["--cases", "40", "--seed", "4", "--check", "patch-roundtrip"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    let (a, b) = (job("a").spawn().unwrap(), job("b").spawn().unwrap());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    let refused: Vec<&Output> = [&a, &b]
        .into_iter()
        .filter(|o| o.status.code() == Some(3))
        .collect();
    assert_eq!(refused.len(), 1, "exactly one is refused: {codes:?}");
    let err = text(&refused[0].stderr);
    assert!(err.contains("target busy: another run against"), "{err}");
    assert!(err.contains(" on ") && err.contains("pid "), "{err}");
    assert!(codes.contains(&Some(0)), "the other ran: {codes:?}");
    assert_eq!(before, snapshot(&rt, &m.base_url), "every record is back");
    // Its lock was released: the next run takes it.
    let out = job("c").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    rt.block_on(m.shutdown());
}

/// Two runs from two machines (two state directories, so two locks): the second finds the
/// first's values (they carry its mark) where it expected originals, and stops before changing
/// anything (exit 3); the first puts everything back.
#[test]
fn a_run_that_finds_another_runs_values_stops_before_changing_anything() {
    let rt = rt();
    let m = start(&rt, MockConfig::new());
    let dir = tempfile::tempdir().unwrap();
    let first_home = tempfile::tempdir().unwrap();
    let before = snapshot(&rt, &m.base_url);
    let first = busy(&m.base_url, &first_home.path().join("run.journal"));
    wait_for_change(&rt, &m.base_url, &before);
    std::thread::sleep(Duration::from_millis(300));
    let second = harness(&m.base_url, &dir.path().join("run.journal"))
        .args(["--seed", "9", "--cases", "4"])
        .output()
        .unwrap();
    let err = text(&second.stderr);
    assert_eq!(second.status.code(), Some(3), "{err}");
    assert!(err.contains("another run may be in progress"), "{err}");
    assert!(
        !dir.path().join("run.journal").exists(),
        "the second run changed nothing"
    );
    kill("-INT", &first);
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(before, snapshot(&rt, &m.base_url), "every record is back");
    rt.block_on(m.shutdown());
}

/// A colleague creates a Duo profile while the run's collection PATCH is on its way, and the
/// target (ignoring the filter) changes it too: it was not journaled, so the run reports it
/// (exit 5) instead of calling the target restored.
#[test]
fn a_record_created_during_a_collection_patch_is_reported() {
    let rt = rt();
    let m = start(
        &rt,
        MockConfig {
            faults: ["collection-write-filter-ignored".parse().unwrap()]
                .into_iter()
                .collect(),
            ..MockConfig::new()
        },
    );
    let addr = m.addr;
    let created = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut script = Script::new();
    let c = created.clone();
    script.before = Box::new(move |req| {
        if req.method == "PATCH"
            && req
                .path
                .starts_with("/api/security/authentication/duo/profiles?")
            && !c.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            let body = r#"{"owner":{"uuid":"f7e41c99-9ffa-11e8-a5dd-005056bbef18"},"api_host":"api-x.duo.com","integration_key":"DICOLLEAGUE0000000001","secret_key":"colleague-secret-key-0000000000000000001","comment":"a colleague's"}"#;
            let (status, _, b) = exchange(
                addr,
                "POST",
                "/api/security/authentication/duo/profiles",
                None,
                body.as_bytes(),
            );
            assert_eq!(status, 201, "{}", text(&b));
        }
        Act::Forward
    });
    let url = proxy(addr, script);
    let dir = tempfile::tempdir().unwrap();
    let out = harness(&url, &dir.path().join("j"))
        .args([
            "--check",
            "collection-patch",
            "--seed",
            "1",
            "--allow-destructive",
        ])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        created.load(std::sync::atomic::Ordering::SeqCst),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(5), "{stdout}");
    assert!(
        stdout.contains(
            "/api/security/authentication/duo/profiles/f7e41c99-9ffa-11e8-a5dd-005056bbef18"
        ) && stdout.contains("appeared during a collection PATCH"),
        "{stdout}"
    );
    rt.block_on(m.shutdown());
}

/// Reports and recordings are 0644 (their directory 0755) under umask 000; two reports into one
/// file, or two to standard output, are refused before anything is sent.
#[test]
fn files_are_never_world_writable_and_one_file_takes_one_report() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (report, rec) = (dir.path().join("r.json"), dir.path().join("rec"));
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 000; exec '{}' run --seed 1 --cases 2 --check response-schema --report json='{}' --record '{}'",
            common::bin::path(),
            report.display(),
            rec.display()
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&report), 0o644);
    assert_eq!(mode(&rec), 0o755);
    for f in std::fs::read_dir(&rec).unwrap() {
        assert_eq!(mode(&f.unwrap().path()), 0o644);
    }
    let (url, connections) = counting_listener();
    let same = dir.path().join("same.json");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for reports in [
        vec![
            format!("json={}", same.display()),
            format!("junit={}", same.display()),
        ],
        vec![
            format!("json={}", same.display()),
            format!(
                "html={}",
                dir.path()
                    .join("sub")
                    .join("..")
                    .join("same.json")
                    .display()
            ),
        ],
        vec!["json=-".to_string(), "junit=-".to_string()],
    ] {
        let mut argv = vec!["run", "--target", &url, "--password-env", "OC_PW"];
        for r in &reports {
            argv.extend(["--report", r.as_str()]);
        }
        let out = run(&argv);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{reports:?}: {err}");
        assert!(
            err.contains("is already the destination of --report"),
            "{err}"
        );
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// `--deadline` and `--rate` outside their range are refused (exit 2) before anything is sent.
#[test]
fn deadlines_and_rates_out_of_range_are_refused() {
    let (url, connections) = counting_listener();
    for (flag, value, said) in [
        (
            "--rate",
            "1e-300",
            "--rate 1e-300: expected 0.01 to 100000 requests per second",
        ),
        ("--rate", "0", "expected 0.01 to"),
        (
            "--deadline",
            "0",
            "--deadline 0: expected 1 to 604800 seconds",
        ),
        ("--deadline", "604801", "expected 1 to 604800 seconds"),
    ] {
        let out = run(&[
            "run",
            "--target",
            &url,
            "--password-env",
            "OC_PW",
            flag,
            value,
        ]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(said), "{flag} {value}: {err}");
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// The mock closes a connection idle for `idle_timeout`, and beyond `max_connections` open at
/// once answers a new one 503 (so idle clients cannot starve the others).
#[test]
fn the_mock_closes_idle_connections_and_caps_open_ones() {
    let rt = rt();
    let m = start(
        &rt,
        MockConfig {
            idle_timeout: Duration::from_secs(1),
            max_connections: 2,
            ..MockConfig::new()
        },
    );
    let get = |s: &mut std::net::TcpStream| -> String {
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("admin:{PW}"));
        write!(
            s,
            "GET /api/cluster HTTP/1.1\r\nhost: x\r\nauthorization: Basic {auth}\r\n\r\n"
        )
        .unwrap();
        let mut buf = vec![0; 4096];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let mut a = std::net::TcpStream::connect(m.addr).unwrap();
    assert!(get(&mut a).starts_with("HTTP/1.1 200"));
    let mut b = std::net::TcpStream::connect(m.addr).unwrap();
    assert!(get(&mut b).starts_with("HTTP/1.1 200"));
    // Two open: the third is refused with the envelope.
    let mut c = std::net::TcpStream::connect(m.addr).unwrap();
    let refused = get(&mut c);
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("\"error\""), "{refused}");
    // Idle for longer than a second: both are closed, and room is made.
    std::thread::sleep(Duration::from_millis(2500));
    a.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(a.read(&mut [0; 16]).unwrap_or(0), 0, "closed when idle");
    let mut d = std::net::TcpStream::connect(m.addr).unwrap();
    assert!(get(&mut d).starts_with("HTTP/1.1 200"));
    rt.block_on(m.shutdown());
}

/// `--journal j.json`, a bare name as users type it, is a file in the current directory (its
/// parent is the empty path, which no call can open: the run used to refuse to start).
#[test]
fn a_journal_named_without_a_directory_is_written_in_the_current_one() {
    let rt = rt();
    let m = start(&rt, MockConfig::new());
    let dir = tempfile::tempdir().unwrap();
    let before = snapshot(&rt, &m.base_url);
    let out = harness(&m.base_url, Path::new("j.json"))
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .args(["--seed", "1", "--check", "patch-roundtrip"])
        .run();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}{}", text(&out.stdout));
    assert!(!err.contains("cannot write the restore journal"), "{err}");
    assert_eq!(before, snapshot(&rt, &m.base_url), "the target is as found");
    assert!(
        !dir.path().join("j.json").exists(),
        "a finished run removes its journal"
    );
}
