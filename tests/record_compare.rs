//! Upgrade validation and CI outputs through the binary: recordings are byte-identical for one
//! seed, a version change shows only the endpoints it adds, drift exits 4, bad baselines exit 2
//! naming the file, and the JUnit report has the structure CI test reporters read.

mod common;

use common::bin::Run;
use quick_xml::events::Event;
use std::path::Path;

fn oc(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = common::bin::oc().args(args).current_dir(dir).run();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(!e.contains("panicked"), "{e}");
    (out.status.code().unwrap_or(-1), o, e)
}

fn record(dir: &Path, name: &str, extra: &[&str]) {
    let mut args = vec![
        "run",
        "--seed",
        "9",
        "--cases",
        "6",
        "--no-progress",
        "--record",
        name,
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = oc(&args, dir);
    assert_eq!(code, 0, "{out}\n{err}");
}

/// The behaviour files of a recording (latency.json holds timings, which no two runs share).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "latency.json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn recordings_are_reproducible_and_versions_show_only_new_endpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    record(d, "a", &[]);
    record(d, "b", &[]);
    assert_eq!(
        files(&d.join("a")),
        files(&d.join("b")),
        "same seed, byte-identical files"
    );
    assert!(
        files(&d.join("a")).len() >= 7,
        "a manifest and one file per endpoint"
    );
    // Nothing half-written is left beside the recordings.
    let names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");

    record(d, "old", &["--ontap-version", "9.13.1"]);
    let (code, out, err) = oc(&["diff", "old", "a", "--json", "drift.json"], d);
    assert_eq!(code, 4, "{out}\n{err}");
    let drift: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("drift.json")).unwrap()).unwrap();
    let drift = drift.as_array().unwrap();
    assert_eq!(drift.len(), 2, "{out}");
    for x in drift {
        assert_eq!(x["kind"], "endpoint-appeared", "{out}");
        assert!(
            x["endpoint"]
                .as_str()
                .unwrap()
                .starts_with("/api/security/authentication/duo/profiles"),
            "{out}"
        );
    }
    let (code, out, _) = oc(&["diff", "a", "b"], d);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No drift"), "{out}");

    // --compare replays the baseline: against the same behaviour no drift; against an upgrade, 4.
    let (code, out, err) = oc(&["run", "--no-progress", "--compare", "a"], d);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = oc(
        &[
            "run",
            "--no-progress",
            "--compare",
            "old",
            "--report",
            "json=r.json",
        ],
        d,
    );
    assert_eq!(code, 4, "{out}\n{err}");
    assert!(out.contains("endpoint-appeared"), "{out}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("r.json")).unwrap()).unwrap();
    assert_eq!(
        report["drift"].as_array().map(Vec::len),
        Some(2),
        "the drift is in the JSON report"
    );
    // A fault that changes the answers' shapes is drift too, but a failed check wins (exit 1).
    let (code, out, _) = oc(
        &[
            "run",
            "--no-progress",
            "--compare",
            "a",
            "--fault",
            "wrong-type",
        ],
        d,
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("type-changed"), "{out}");
}

#[test]
fn bad_baselines_exit_2_and_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    record(d, "base", &[]);
    std::fs::create_dir(d.join("empty")).unwrap();
    std::fs::create_dir(d.join("other")).unwrap();
    for (name, bytes) in files(&d.join("base")) {
        std::fs::write(d.join("other").join(&name), bytes).unwrap();
    }
    let manifest = d.join("other/recording.json");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("\"format\": 1", "\"format\": 99");
    std::fs::write(&manifest, text).unwrap();
    std::fs::create_dir(d.join("broken")).unwrap();
    for (name, bytes) in files(&d.join("base")) {
        std::fs::write(d.join("broken").join(&name), bytes).unwrap();
    }
    std::fs::write(
        d.join("broken/security_login_messages.json"),
        "{ \"format\": 1, \"endpoint\": ",
    )
    .unwrap();
    for (dir, needle) in [
        ("missing", "missing"),
        ("empty", "recording.json"),
        ("other", "another harness version"),
        ("broken", "security_login_messages.json"),
    ] {
        let (code, out, err) = oc(&["run", "--no-progress", "--compare", dir], d);
        assert_eq!(code, 2, "{dir}: {out}\n{err}");
        assert!(err.contains(needle), "{dir}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        let (code, _, err) = oc(&["diff", "base", dir], d);
        assert_eq!(code, 2, "{dir}: {err}");
    }
    // Recording refuses to replace a directory that is not a recording, and leaves it alone.
    std::fs::create_dir(d.join("precious")).unwrap();
    std::fs::write(d.join("precious/notes.txt"), "keep me").unwrap();
    let (code, _, err) = oc(
        &[
            "run",
            "--no-progress",
            "--seed",
            "1",
            "--cases",
            "2",
            "--record",
            "precious",
        ],
        d,
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        std::fs::read_to_string(d.join("precious/notes.txt")).unwrap(),
        "keep me"
    );
}

#[derive(Default, Debug)]
struct Suite {
    name: String,
    tests: usize,
    failures: usize,
    skipped: usize,
    cases: usize,
    failure_elems: usize,
    skipped_elems: usize,
}

#[test]
fn junit_has_the_structure_ci_reporters_read() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (code, _, err) = oc(
        &[
            "run",
            "--no-progress",
            "--seed",
            "3",
            "--cases",
            "6",
            "--fault",
            "crlf-kept",
            "--report",
            "junit=junit.xml",
        ],
        d,
    );
    assert_eq!(code, 1, "{err}");
    let xml = std::fs::read_to_string(d.join("junit.xml")).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut suites: Vec<Suite> = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut root = None;
    let mut failure_text = String::new();
    let attr = |e: &quick_xml::events::BytesStart, k: &str| -> Option<String> {
        e.attributes()
            .filter_map(Result::ok)
            .find(|a| a.key.as_ref() == k.as_bytes())
            .map(|a| a.unescape_value().unwrap().to_string())
    };
    loop {
        let ev = reader.read_event().expect("well-formed XML");
        match ev {
            Event::Eof => break,
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).to_string();
                match (stack.last().map(String::as_str), name.as_str()) {
                    (None, "testsuites") => root = attr(e, "tests"),
                    (Some("testsuites"), "testsuite") => suites.push(Suite {
                        name: attr(e, "name").unwrap(),
                        tests: attr(e, "tests").unwrap().parse().unwrap(),
                        failures: attr(e, "failures").unwrap().parse().unwrap(),
                        skipped: attr(e, "skipped").unwrap().parse().unwrap(),
                        ..Default::default()
                    }),
                    (Some("testsuite"), "testcase") => {
                        assert!(
                            attr(e, "name").is_some()
                                && attr(e, "classname").is_some()
                                && attr(e, "time").is_some()
                        );
                        suites.last_mut().unwrap().cases += 1;
                    }
                    (Some("testcase"), "failure") => {
                        assert!(attr(e, "message").is_some());
                        suites.last_mut().unwrap().failure_elems += 1;
                    }
                    (Some("testcase"), "skipped") => suites.last_mut().unwrap().skipped_elems += 1,
                    (Some("testcase"), "system-out") => {}
                    (parent, child) => panic!("<{child}> inside {parent:?}"),
                }
                if matches!(ev, Event::Start(_)) {
                    stack.push(name);
                }
            }
            Event::Text(t) if stack.last().map(String::as_str) == Some("failure") => {
                failure_text.push_str(&t.unescape().unwrap())
            }
            Event::End(_) => {
                stack.pop();
            }
            _ => {}
        }
    }
    assert_eq!(suites.len(), 3, "one suite per family: {suites:?}");
    let total: usize = suites.iter().map(|s| s.tests).sum();
    assert_eq!(root.unwrap().parse::<usize>().unwrap(), total);
    for s in &suites {
        assert_eq!(
            (s.tests, s.failures, s.skipped),
            (s.cases, s.failure_elems, s.skipped_elems),
            "{s:?}"
        );
    }
    assert!(
        suites
            .iter()
            .any(|s| s.failures > 0 && s.name == "login_messages"),
        "{suites:?}"
    );
    assert!(
        failure_text.contains("reproduce: curl") && failure_text.contains("CRLF"),
        "{failure_text}"
    );
    assert!(!xml.contains("netapp1!"), "no password in the report");
}

/// Recordings keep each endpoint's latency (latency.json); with --latency-drift F an endpoint
/// whose p95 grew more than F times is drift of kind latency, exit 4, and without it timings
/// are not compared.
#[test]
fn latency_is_recorded_and_its_growth_is_drift() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    record(d, "a", &[]);
    let lat: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("a/latency.json")).unwrap()).unwrap();
    let eps = lat["endpoints"].as_object().unwrap();
    let coll = &eps["/api/security/login/messages"];
    let get = coll
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["method"] == "GET")
        .expect("GET on the collection has latency figures");
    assert!(get["requests"].as_u64().unwrap() > 10, "{get}");
    let (p50, p95, max) = (
        get["p50_ms"].as_f64().unwrap(),
        get["p95_ms"].as_f64().unwrap(),
        get["max_ms"].as_f64().unwrap(),
    );
    assert!(p50 <= p95 && p95 <= max && max > 0.0, "{get}");

    // A copy whose PATCH p95 on one endpoint is made-up: 5 ms before, 60 ms after.
    let copy = |name: &str, p95: f64| {
        let to = d.join(name);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(d.join("a")).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
        let mut l = lat.clone();
        for x in l["endpoints"]["/api/security/login/messages/{uuid}"]
            .as_array_mut()
            .unwrap()
        {
            x["p95_ms"] = p95.into();
            x["max_ms"] = p95.into();
        }
        std::fs::write(to.join("latency.json"), l.to_string()).unwrap();
    };
    copy("before", 5.0);
    copy("after", 60.0);
    let (code, out, _) = oc(&["diff", "before", "after"], d);
    assert_eq!(
        code, 0,
        "without --latency-drift timings are not compared: {out}"
    );
    let (code, out, err) = oc(
        &[
            "diff",
            "before",
            "after",
            "--latency-drift",
            "3",
            "--json",
            "lat.json",
        ],
        d,
    );
    assert_eq!(code, 4, "{out}\n{err}");
    assert!(out.contains("latency"), "{out}");
    let drift: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("lat.json")).unwrap()).unwrap();
    let drift = drift.as_array().unwrap();
    assert!(!drift.is_empty());
    for x in drift {
        assert_eq!(x["kind"], "latency", "{x}");
        assert_eq!(x["endpoint"], "/api/security/login/messages/{uuid}", "{x}");
    }
    // 12 times is not more than 20 times.
    let (code, out, _) = oc(&["diff", "before", "after", "--latency-drift", "20"], d);
    assert_eq!(code, 0, "{out}");
    // The other way round nothing grew.
    let (code, out, _) = oc(&["diff", "after", "before", "--latency-drift", "3"], d);
    assert_eq!(code, 0, "{out}");
    // A factor of 1 or less is refused.
    let (code, _, err) = oc(&["diff", "before", "after", "--latency-drift", "1"], d);
    assert_eq!(code, 2, "{err}");

    // --compare takes the flag too; a baseline whose p95s were tiny shows the run's as drift.
    let mut tiny = lat.clone();
    for (_, v) in tiny["endpoints"].as_object_mut().unwrap() {
        for x in v.as_array_mut().unwrap() {
            x["p95_ms"] = 0.000_001.into();
        }
    }
    let to = d.join("tiny");
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(d.join("a")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(to.join("latency.json"), tiny.to_string()).unwrap();
    let (code, out, err) = oc(
        &[
            "run",
            "--no-progress",
            "--compare",
            "tiny",
            "--latency-drift",
            "2",
            "--report",
            "json=c.json",
        ],
        d,
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("c.json")).unwrap()).unwrap();
    let kinds: Vec<&str> = report["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["kind"].as_str().unwrap())
        .collect();
    // Only p95s at least a millisecond above the baseline count (a fast mock's may all be
    // below it); whatever drift there is, is latency drift and exits 4.
    assert!(kinds.iter().all(|k| *k == "latency"), "{kinds:?}");
    assert_eq!(code, if kinds.is_empty() { 0 } else { 4 }, "{out}\n{err}");
    assert!(!report["latency"].as_array().unwrap().is_empty());
}
