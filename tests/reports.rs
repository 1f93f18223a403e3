//! Reports on every exit, the --strict summary line, and the HTML report as a real browser
//! renders it. The HTML tests need Debian's `chromium` (`scripts/test` finds or installs it; `CHROMIUM=PATH`
//! names another binary): without it they fail and say so.

mod common;

use common::bin::Run;
use ontap_conform::report::{self, Figures, Report, RunFacts};
use ontap_conform::spec::Evidence;
use ontap_conform::verdict::{Finding, Mode, Outcome, Reproducer, RestoreProblem};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn oc(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = common::bin::oc()
        .args(args)
        .envs(envs.iter().copied())
        .run();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

#[test]
fn an_unreachable_target_still_writes_every_report_saying_why() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let json = dir.path().join("report.json");
    let junit = dir.path().join("junit.xml");
    let html = dir.path().join("report.html");
    let (code, _, err) = oc(
        &[
            "run",
            "--target",
            "http://127.0.0.1:1",
            "--password-env",
            "X",
            "--report",
            &format!("json={}", path_str(&json)),
            "--report",
            &format!("junit={}", path_str(&junit)),
            "--report",
            &format!("html={}", path_str(&html)),
        ],
        &[("X", "s3cret-Passw0rd")],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("unreachable"), "{err}");

    let text = std::fs::read_to_string(&json).expect("the JSON report is written on exit 3");
    let r: Value = serde_json::from_str(&text).expect("JSON");
    let why = r["error"].as_str().expect("an error field");
    assert!(why.contains("127.0.0.1:1"), "{why}");
    assert_eq!(r["target"], "http://127.0.0.1:1");
    assert_eq!(r["results"], serde_json::json!([]));

    let xml = std::fs::read_to_string(&junit).expect("the JUnit report is written on exit 3");
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut errors) = (0, Vec::new());
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    b"testcase" => cases += 1,
                    b"error" => {
                        let msg = e
                            .try_get_attribute("message")
                            .expect("attributes")
                            .expect("a message")
                            .unescape_value()
                            .expect("text")
                            .to_string();
                        errors.push(msg);
                    }
                    _ => {}
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(cases, 1, "{xml}");
    assert_eq!(errors.len(), 1, "{xml}");
    assert!(errors[0].contains("127.0.0.1:1"), "{xml}");
    assert!(xml.contains("errors=\"1\""), "{xml}");

    let page = std::fs::read_to_string(&html).expect("the HTML report is written on exit 3");
    assert!(page.contains("target unreachable") && page.contains("127.0.0.1:1"));
    for t in [&text, &xml, &page] {
        assert!(!t.contains("s3cret-Passw0rd"), "{t}");
    }
}

#[test]
fn a_password_written_into_the_target_url_is_refused_and_named_nowhere() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let json = dir.path().join("report.json");
    let (code, _, err) = oc(
        &[
            "run",
            "--target",
            "http://admin:hunter2-url@127.0.0.1:1",
            "--password-env",
            "X",
            "--report",
            &format!("json={}", path_str(&json)),
        ],
        &[("X", "other")],
    );
    // Refused before anything is sent or written (issue 10): the password is named nowhere.
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a user or password"), "{err}");
    assert!(!err.contains("hunter2-url"), "{err}");
    assert!(!json.exists(), "nothing ran, so no report");
}

#[test]
fn with_strict_the_summary_says_the_warnings_fail() {
    let args = [
        "run",
        "--seed",
        "1",
        "--cases",
        "4",
        "--check",
        "unknown-parameter",
        "--fault",
        "unknown-param-ignored",
        "--no-progress",
    ];
    let (code, out, err) = oc(&args, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.contains(" passed, "))
        .expect("a summary");
    assert!(line.contains("0 failed, 6 warnings,"), "{line}");
    assert!(!line.contains("failing"), "{line}");

    let mut strict = args.to_vec();
    strict.push("--strict");
    let (code, out, err) = oc(&strict, &[]);
    assert_eq!(code, 1, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.contains(" passed, "))
        .expect("a summary");
    assert!(
        line.contains("0 failed, 6 warnings (failing: --strict),"),
        "{line}"
    );
}

// ---------------------------------------------------------------------------------------------
// The HTML report in a real browser.

fn chromium() -> PathBuf {
    let candidates: Vec<PathBuf> = match std::env::var_os("CHROMIUM") {
        Some(p) => vec![PathBuf::from(p)],
        None => std::env::var_os("PATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
                    .collect()
            })
            .unwrap_or_default(),
    };
    candidates.into_iter().find(|p| p.is_file()).expect(
        "chromium is required by the HTML report tests and was not found on PATH: \
         install it with `apt-get install -y chromium` (scripts/test does where it can), or set \
         CHROMIUM=PATH",
    )
}

/// Opens `page` in headless Chromium; with `screenshot`, saves a PNG, otherwise returns the
/// rendered DOM.
fn browse(page: &Path, screenshot: Option<&Path>) -> String {
    let profile = tempfile::tempdir().expect("a browser profile directory");
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", path_str(profile.path())));
    match screenshot {
        Some(png) => {
            cmd.arg("--window-size=1280,1700")
                .arg(format!("--screenshot={}", path_str(png)));
        }
        None => {
            cmd.arg("--dump-dom");
        }
    }
    let out = cmd
        .arg(format!("file://{}", path_str(page)))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into()
}

#[test]
fn the_html_report_renders_the_matrix_and_the_findings_in_a_browser() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let html = dir.path().join("report.html");
    let json = dir.path().join("report.json");
    let (code, out, err) = oc(
        &[
            "run",
            "--seed",
            "2",
            "--cases",
            "8",
            "--fault",
            "crlf-kept",
            "--fault",
            "unknown-param-ignored",
            "--strict",
            "--no-progress",
            "--report",
            &format!("html={}", path_str(&html)),
            "--report",
            &format!("json={}", path_str(&json)),
        ],
        &[],
    );
    assert_eq!(code, 1, "{out}{err}");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON")).expect("JSON");
    let page = std::fs::read_to_string(&html).expect("the HTML report");
    assert!(!page.contains("<script") && !page.contains("http://fonts"));

    let dom = browse(&html, None);
    // Per family, one matrix row per check that ran in it, one coloured cell per endpoint.
    assert!(dom.contains("class=\"matrix\""), "{dom}");
    let rows = dom.matches("<tr data-check=").count();
    let checks: std::collections::BTreeSet<(&str, &str)> = r["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|x| Some((x["family"].as_str()?, x["check"].as_str()?)))
        .collect();
    assert_eq!(rows, checks.len(), "{dom}");
    let cells = dom.matches("class=\"cell ").count();
    assert_eq!(cells, r["results"].as_array().expect("results").len());
    for (verdict, class) in [
        ("passed", "cell passed"),
        ("failed", "cell failed"),
        ("warning", "cell warning"),
        ("skipped", "cell skipped"),
    ] {
        let n = r["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter(|x| x["verdict"] == verdict)
            .count();
        assert!(n > 0, "the run has {verdict} results");
        assert_eq!(dom.matches(class).count(), n, "{class}");
    }
    // Every finding, with its reproducer.
    let findings = r["findings"].as_array().expect("findings");
    assert_eq!(
        dom.matches("<article class=\"finding").count(),
        findings.len()
    );
    assert!(dom.contains("crlf-normalised") || dom.contains("patch-roundtrip"));
    assert!(
        dom.contains("class=\"curl\"") && dom.contains("curl -sk"),
        "{dom}"
    );
    assert!(dom.contains("(failing: --strict)"), "{dom}");
    assert!(dom.contains("Skipped") && dom.contains("judged on instance paths"));
    assert!(dom.contains("requests/s") && dom.contains("9.14.1"));
    // Coverage: a row per family of the JSON's coverage, with why a field was not round-tripped
    // (this run may not touch lock-out fields).
    let coverage = r["coverage"].as_array().expect("coverage");
    assert!(!coverage.is_empty());
    assert!(dom.contains("id=\"coverage\""), "{dom}");
    assert_eq!(dom.matches("<tr data-family=").count(), coverage.len());
    for c in coverage {
        let family = c["family"].as_str().expect("family");
        assert!(
            dom.contains(&format!("data-family=\"{family}\"")),
            "{family}"
        );
    }
    // Against the built-in mock everything may run, so every reason the JSON gives is shown (a
    // report with reasons is rendered in a_target_cannot_inject_markup_into_the_html_report).
    for c in coverage {
        for why in c["not_round_tripped"]
            .as_object()
            .expect("reasons")
            .values()
        {
            assert!(dom.contains(why.as_str().expect("text")), "{why}");
        }
    }
    // Latency: a row per endpoint and method of the JSON.
    let latency = r["latency"].as_array().expect("latency");
    assert!(!latency.is_empty());
    let section = dom
        .split("id=\"latency\"")
        .nth(1)
        .expect("a latency section");
    let section = section.split("</section>").next().unwrap();
    assert_eq!(section.matches("<tr>").count(), latency.len() + 1);
    // The built-in data set is smaller than the sample: nothing is said of sampling.
    assert!(!dom.contains("id=\"sampling\""));

    let png = dir.path().join("report.png");
    browse(&html, Some(&png));
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000);
}

#[test]
fn a_target_cannot_inject_markup_into_the_html_report() {
    let evil =
        "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">";
    let finding = Finding::new(
        "response-schema",
        "/api/security/login/messages",
        "GET",
        "schema",
        Evidence::Doc,
    )
    .message(format!("banner holds {evil}"))
    .reproducer(Some(Reproducer {
        curl: format!("curl 'https://x/api?a={evil}'"),
        expected: evil.into(),
        actual: format!("\"'>{evil}"),
        shrunk: Some(evil.into()),
    }));
    let mut outcomes = BTreeMap::new();
    outcomes.insert(
        (
            "response-schema".to_string(),
            "/api/security/login/messages".to_string(),
        ),
        Outcome::Ran,
    );
    outcomes.insert(
        (
            "ordering".to_string(),
            "/api/security/login/messages".to_string(),
        ),
        Outcome::Skipped(evil.into()),
    );
    let report = Report::build(
        RunFacts {
            target: format!("https://x\"><script>alert(1)</script>{evil}"),
            ontap_version: evil.into(),
            mode: Mode::Restore,
            seed: 1,
            cases_per_property: 1,
            strict: false,
            interrupted: false,
            stopped: Some(evil.into()),
        },
        outcomes,
        vec![finding],
        Figures {
            requests: 1,
            cases: 1,
            wall_seconds: 0.1,
            requests_per_second: 10.0,
            peak_rate: 1,
            rate_limit: None,
            retries: 0,
        },
        vec![RestoreProblem {
            record: evil.into(),
            field: Some(evil.into()),
            original: Some(Value::String(evil.into())),
            reason: evil.into(),
            curl: Some(format!("curl '{evil}'")),
        }],
    );
    // The coverage, sampling and latency sections carry names and reasons from the target's
    // catalog and answers too.
    let mut report = report;
    report.coverage = vec![ontap_conform::verdict::Coverage {
        family: evil.into(),
        round_tripped: vec!["comment".into()],
        not_round_tripped: [(evil.to_string(), evil.to_string())].into(),
        error_codes: vec![],
        error_codes_not_provoked: [("4".to_string(), evil.to_string())].into(),
        unknown_fields_sent: vec![evil.into()],
        filter_readings_separated: vec![evil.into()],
        filter_readings_not_separated: [(evil.to_string(), evil.to_string())].into(),
        cases_reached: vec![evil.into()],
        cases_not_reached: [(evil.to_string(), evil.to_string())].into(),
    }];
    report.sampling = ontap_conform::report::Sampling {
        per_family: 2,
        families: vec![ontap_conform::report::SampledFamily {
            family: evil.into(),
            records: 5,
            sampled: vec!["a".into(), "b".into()],
        }],
    };
    report.latency = vec![ontap_conform::client::LatencyRow {
        endpoint: evil.into(),
        method: "GET".into(),
        requests: 3,
        p50_ms: 1.0,
        p95_ms: 2.0,
        max_ms: 3.0,
    }];
    let dir = tempfile::tempdir().expect("a temporary directory");
    let html = dir.path().join("evil.html");
    std::fs::write(&html, report::html::render(&report)).expect("write");
    let dom = browse(&html, None);
    assert!(!dom.contains("<script"), "{dom}");
    assert!(!dom.contains("<img"), "{dom}");
    assert!(!dom.contains("pwned</title>"), "{dom}");
    assert!(
        dom.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;"),
        "{dom}"
    );
    assert!(dom.contains("class=\"cell failed\""), "{dom}");
    assert_eq!(dom.matches("<article class=\"finding").count(), 1);
    assert!(
        dom.contains("id=\"coverage\"") && dom.contains("1 of 2"),
        "{dom}"
    );
    assert!(dom.contains("not round-tripped (&lt;script&gt;"), "{dom}");
    assert!(dom.contains("not provoked (&lt;script&gt;"), "{dom}");
    assert!(
        dom.contains("id=\"sampling\"") && dom.contains("2 of 5"),
        "{dom}"
    );
    assert!(dom.contains("id=\"latency\""), "{dom}");
}

/// A run of many families (over 12 paths) opens every report with its families, worst first:
/// the terminal's table with the requests sent to each, the JSON's `families`, one JUnit suite
/// per family in the same order, and the HTML page's summary table, then one folded section per
/// family, the failing ones open and first. The fault fails some families and not others.
#[test]
fn a_run_of_many_families_leads_every_report_with_its_families_worst_first() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (json, xml, html) = (
        dir.path().join("r.json"),
        dir.path().join("r.xml"),
        dir.path().join("r.html"),
    );
    let (code, out, err) = oc(
        &[
            "run",
            "--contract",
            "ontap-9.19",
            "--family",
            "storage*",
            "--family",
            "svm",
            "--fault",
            "wrong-type",
            "--seed",
            "1",
            "--no-progress",
            "--report",
            &format!("json={}", path_str(&json)),
            "--report",
            &format!("junit={}", path_str(&xml)),
            "--report",
            &format!("html={}", path_str(&html)),
        ],
        &[],
    );
    assert_eq!(code, 1, "{out}{err}");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON")).expect("JSON");
    let results = r["results"].as_array().expect("results");
    let fams = r["families"].as_array().expect("families");
    let names: Vec<&str> = fams.iter().map(|f| f["family"].as_str().unwrap()).collect();
    let distinct: std::collections::BTreeSet<&str> = results
        .iter()
        .map(|x| x["family"].as_str().unwrap())
        .collect();
    assert!(names.len() > 3, "{names:?}");
    assert_eq!(
        names
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        distinct
    );
    // Each family's counts are its rows', and they add up to the summary.
    let mut total = [0u64; 4];
    let mut requests = 0;
    for f in fams {
        let rows: Vec<&Value> = results
            .iter()
            .filter(|x| x["family"] == f["family"])
            .collect();
        for (i, v) in ["passed", "failed", "warnings", "skipped"]
            .iter()
            .enumerate()
        {
            let verdict = if *v == "warnings" { "warning" } else { v };
            let n = rows.iter().filter(|x| x["verdict"] == verdict).count() as u64;
            assert_eq!(f[v].as_u64(), Some(n), "{v} of {f}");
            total[i] += n;
        }
        assert!(f["requests"].as_u64().unwrap() > 0, "{f}");
        requests += f["requests"].as_u64().unwrap();
    }
    let s = &r["summary"];
    assert_eq!(
        total,
        ["passed", "failed", "warnings", "skipped"].map(|k| s[k].as_u64().unwrap())
    );
    assert!(requests <= r["figures"]["requests"].as_u64().unwrap());
    // Worst first: some fail, some do not, and no failing family comes after a clean one.
    let failed: Vec<u64> = fams.iter().map(|f| f["failed"].as_u64().unwrap()).collect();
    assert!(failed[0] > 0 && *failed.last().unwrap() == 0, "{failed:?}");
    assert!(failed.windows(2).all(|w| w[0] >= w[1]), "{failed:?}");

    // The terminal: the families table first, in the same order, each with its requests; the
    // findings after it.
    let table = out
        .find("families, worst first")
        .expect("the families table");
    assert!(table < out.find("FAIL ").unwrap_or(usize::MAX), "{out}");
    let lines: Vec<&str> = out[table..].lines().skip(2).take(names.len()).collect();
    for (line, f) in lines.iter().zip(fams) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols.last(), f["family"].as_str().as_ref(), "{out}");
        assert_eq!(cols[4], f["requests"].to_string(), "{line}");
    }
    assert!(
        !out.contains("paths, worst first"),
        "no table of 18 paths: {out}"
    );
    // The findings follow family by family: the first is of the worst family.
    let first = out
        .lines()
        .find(|l| l.starts_with("FAIL "))
        .and_then(|l| l.split_whitespace().nth(3))
        .expect("a finding");
    let of_first = results
        .iter()
        .find(|x| x["endpoint"] == first)
        .map(|x| x["family"].as_str().unwrap());
    assert_eq!(of_first, Some(names[0]), "{out}");

    // JUnit: one suite per family, in the same order.
    let junit = std::fs::read_to_string(&xml).expect("JUnit");
    let suites: Vec<&str> = junit
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("<testsuite name=\""))
        .map(|l| l.split('"').next().unwrap())
        .collect();
    assert_eq!(suites, names, "{junit}");

    // HTML: the summary table in the same order, then a folded section per family, open when
    // it fails.
    let dom = browse(&html, None);
    let summary: Vec<&str> = dom
        .split("<tr data-summary-family=\"")
        .skip(1)
        .map(|x| x.split('"').next().unwrap())
        .collect();
    assert_eq!(summary, names, "{dom}");
    let details: Vec<(&str, bool)> = dom
        .split("<details class=\"family\"")
        .skip(1)
        .map(|x| {
            let tag = x.split('>').next().unwrap();
            let name = tag.split("data-family-detail=\"").nth(1).unwrap();
            (name.split('"').next().unwrap(), tag.contains(" open"))
        })
        .collect();
    let expected: Vec<(&str, bool)> = fams
        .iter()
        .map(|f| {
            (
                f["family"].as_str().unwrap(),
                f["failed"].as_u64() > Some(0),
            )
        })
        .collect();
    assert_eq!(details, expected, "{dom}");
    assert_eq!(
        dom.matches("<article class=\"finding").count(),
        r["findings"].as_array().unwrap().len()
    );
}
