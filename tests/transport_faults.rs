//! Faults in the transport between the harness and a conformant target: a test-only proxy sits
//! between the real `ontap-conform` binary and the reference mock and delays, holds back, drops or
//! cuts answers. Whatever it does, the mock's whole state is the same before and after the run.

mod common;

use common::snapshot;
use ontap_conform::mock::{self, MockConfig, Tls};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PW: &str = "netapp1!";

/// What the proxy does to one exchange, decided from its method and its number among the
/// exchanges of that method.
#[derive(Clone, Copy)]
enum Fault {
    /// Forward PATCHes only after this long (they are in flight when the run is stopped).
    HoldPatch(Duration),
    /// Forward the n-th PATCH (so it lands), then close without answering.
    DropPatchAnswer(usize),
    /// Answer the n-th GET of an instance with half of its body, then close.
    CutGetBody(usize),
    /// Nothing: only the request lines are noted.
    None,
}

struct Proxy {
    url: String,
    patches: Arc<AtomicUsize>,
    /// Every request line that went through ("GET /api/... HTTP/1.1").
    lines: Arc<std::sync::Mutex<Vec<String>>>,
}

/// Reads one HTTP/1.1 request (head and body).
async fn read_request(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(buf)
}

/// Sends a request to the mock on a connection of its own and reads the whole answer.
async fn forward(upstream: std::net::SocketAddr, request: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(request).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let head: Vec<&str> = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let req = format!("{}\r\nconnection: close\r\n\r\n{body}", head.join("\r\n"));
    let mut s = TcpStream::connect(upstream).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    answer
}

async fn proxy(upstream: std::net::SocketAddr, fault: Fault) -> Proxy {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let patches = Arc::new(AtomicUsize::new(0));
    let gets = Arc::new(AtomicUsize::new(0));
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = patches.clone();
    let noted = lines.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let (patches, gets, noted) = (seen.clone(), gets.clone(), noted.clone());
            tokio::spawn(async move {
                while let Some(req) = read_request(&mut s).await {
                    let line = String::from_utf8_lossy(&req[..req.len().min(200)]).into_owned();
                    noted
                        .lock()
                        .unwrap()
                        .push(line.lines().next().unwrap_or("").to_string());
                    let is_patch = line.starts_with("PATCH ");
                    let is_instance_get = line.starts_with("GET /api/security/login/messages/");
                    let n_patch = if is_patch {
                        patches.fetch_add(1, Ordering::SeqCst) + 1
                    } else {
                        0
                    };
                    let n_get = if is_instance_get {
                        gets.fetch_add(1, Ordering::SeqCst) + 1
                    } else {
                        0
                    };
                    match fault {
                        Fault::HoldPatch(d) if is_patch => tokio::time::sleep(d).await,
                        _ => {}
                    }
                    let mut answer = forward(upstream, &req).await;
                    match fault {
                        Fault::DropPatchAnswer(n) if n_patch == n => return,
                        Fault::CutGetBody(n) if n_get == n => {
                            // Announce the whole body, send half of it, close.
                            let keep = answer.len() - (answer.len() - find_body(&answer)) / 2;
                            answer.truncate(keep);
                            let _ = s.write_all(&answer).await;
                            return;
                        }
                        _ => {}
                    }
                    // The answer as the mock gave it, but keep the connection for the next one.
                    let answer =
                        String::from_utf8_lossy(&answer).replace("connection: close\r\n", "");
                    if s.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Proxy {
        url,
        patches,
        lines,
    }
}

fn find_body(answer: &[u8]) -> usize {
    answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(answer.len(), |i| i + 4)
}

fn harness(url: &str, dir: &std::path::Path, args: &[&str]) -> Child {
    common::bin::oc()
        .args([
            "run",
            "--target",
            url,
            "--password-env",
            "OC_PW",
            "--no-progress",
        ])
        .arg("--journal")
        .arg(dir.join("j.json"))
        .args(args)
        .env("OC_PW", PW)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The reference mock on its own runtime, and the test proxy in front of it doing `fault`.
fn behind_proxy(fault: Fault) -> (tokio::runtime::Runtime, mock::RunningMock, Proxy) {
    ontap_conform::client::install_crypto();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let m = rt
        .block_on(mock::spawn(
            MockConfig::new(),
            "127.0.0.1:0".parse().unwrap(),
            Tls::Plain,
        ))
        .unwrap();
    let p = rt.block_on(proxy(m.addr, fault));
    (rt, m, p)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_patch_in_flight_when_the_run_is_stopped_lands_before_the_restore_reads_back() {
    let (rt, m, p) = behind_proxy(Fault::HoldPatch(Duration::from_millis(1500)));
    let dir = tempfile::tempdir().unwrap();
    let before = rt.block_on(snapshot(&m.base_url));
    let child = harness(
        &p.url,
        dir.path(),
        &[
            "--cases",
            "500",
            "--seed",
            "3",
            "--check",
            "patch-roundtrip",
            "--timeout",
            "10",
        ],
    );
    // Stop it while a PATCH is held back: one has gone through, the next is in flight.
    let deadline = Instant::now() + Duration::from_secs(60);
    while p.patches.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        p.patches.load(Ordering::SeqCst) >= 2,
        "the run sent PATCHes"
    );
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(err.contains("restored."), "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        before,
        rt.block_on(snapshot(&m.base_url)),
        "every record is back"
    );
    rt.block_on(m.shutdown());
}

#[test]
fn an_answer_lost_or_cut_off_changes_nothing_that_stays() {
    for fault in [
        Fault::DropPatchAnswer(1),
        Fault::DropPatchAnswer(2),
        Fault::CutGetBody(2),
    ] {
        let (rt, m, p) = behind_proxy(fault);
        let dir = tempfile::tempdir().unwrap();
        let before = rt.block_on(snapshot(&m.base_url));
        let child = harness(
            &p.url,
            dir.path(),
            &[
                "--cases",
                "6",
                "--seed",
                "3",
                "--endpoint",
                "/api/security/login/messages/{uuid}",
            ],
        );
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        // The lost answer is a finding of the check that sent the request, never a changed target.
        assert!(stdout.contains("no answer"), "{stdout}");
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert!(!stdout.contains("NOT RESTORED"), "{stdout}");
        assert_eq!(
            before,
            rt.block_on(snapshot(&m.base_url)),
            "every record is back"
        );
        assert!(
            !dir.path().join("j.json").exists(),
            "the journal is finished"
        );
        rt.block_on(m.shutdown());
    }
}

/// `--endpoint` restricts what is sent, discovery included: a run of the login-messages instance
/// path sends nothing to the Duo or TOTP paths (the owners a check may list aside).
#[test]
fn endpoint_selection_restricts_every_request() {
    let (rt, m, p) = behind_proxy(Fault::None);
    let dir = tempfile::tempdir().unwrap();
    let out = harness(
        &p.url,
        dir.path(),
        &[
            "--cases",
            "4",
            "--seed",
            "3",
            "--endpoint",
            "/api/security/login/messages/{uuid}",
        ],
    )
    .wait_with_output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let lines = p.lines.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/api/security/login/messages")),
        "{lines:?}"
    );
    let elsewhere: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("/duo/") || l.contains("/totps"))
        .collect();
    assert!(elsewhere.is_empty(), "{elsewhere:?}");
    rt.block_on(m.shutdown());
}

/// An upgrade that makes PATCH slower: a recording made through a proxy that only forwards,
/// then `--compare` through one that holds every PATCH 80 ms. With `--latency-drift 3` the
/// PATCHed path's p95 is drift of kind `latency` (exit 4); without the flag timings are not
/// compared (exit 0); nothing else drifts, and the target is as it was.
#[test]
fn a_patch_made_slower_is_latency_drift_in_a_compared_run() {
    let (rt, m, p) = behind_proxy(Fault::None);
    let dir = tempfile::tempdir().unwrap();
    let before = rt.block_on(snapshot(&m.base_url));
    let baseline = dir.path().join("baseline");
    let inst = "/api/security/login/messages/{uuid}";
    let out = harness(
        &p.url,
        dir.path(),
        &[
            "--cases",
            "8",
            "--seed",
            "3",
            "--endpoint",
            inst,
            "--record",
            baseline.to_str().unwrap(),
        ],
    )
    .wait_with_output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let slow = rt.block_on(proxy(m.addr, Fault::HoldPatch(Duration::from_millis(80))));
    let report = dir.path().join("compare.json");
    let compare = |extra: &[&str]| {
        let mut args = vec!["--endpoint", inst, "--compare", baseline.to_str().unwrap()];
        args.extend_from_slice(extra);
        harness(&slow.url, dir.path(), &args)
            .wait_with_output()
            .unwrap()
    };
    let out = compare(&[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "without --latency-drift timings are not compared: {}",
        text(&out.stdout)
    );
    let out = compare(&[
        "--latency-drift",
        "3",
        "--report",
        &format!("json={}", report.display()),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let drift = json["drift"].as_array().unwrap();
    assert!(
        drift
            .iter()
            .any(|d| d["endpoint"] == inst && d["request"] == "PATCH"),
        "{drift:?}"
    );
    assert!(drift.iter().all(|d| d["kind"] == "latency"), "{drift:?}");
    assert!(slow.patches.load(Ordering::SeqCst) > 0);
    assert_eq!(before, rt.block_on(snapshot(&m.base_url)));
    rt.block_on(m.shutdown());
}
