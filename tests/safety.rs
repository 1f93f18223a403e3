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
            ["add", "restored", "reopened"]
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
    let child = busy(&base, &journal);
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
