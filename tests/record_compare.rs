//! Upgrade validation and CI outputs through the binary: recordings are byte-identical for one
//! seed, a version change shows only the endpoints it adds, drift exits 4, bad baselines exit 2
//! naming the file, and the JUnit report has the structure CI test reporters read.

use quick_xml::events::Event;
use std::path::Path;
use std::process::Command;

fn oc(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ontap-conform"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
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

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
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
    assert_eq!(suites.len(), 6, "one suite per endpoint: {suites:?}");
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
            .any(|s| s.failures > 0 && s.name.contains("login/messages")),
        "{suites:?}"
    );
    assert!(
        failure_text.contains("reproduce: curl") && failure_text.contains("CRLF"),
        "{failure_text}"
    );
    assert!(!xml.contains("netapp1!"), "no password in the report");
}
