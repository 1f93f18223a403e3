//! The engine against the reference mock over real HTTPS: the clean mock passes with no failure
//! and no warning; every fault switch makes the check meant to catch it fail; targets that are
//! not ONTAP end with exit 3 and a one-line reason.

mod common;

use common::bin::Run;
use ontap_conform::checks::Severity;
use ontap_conform::mock::Fault;
use ontap_conform::report::Report;
use ontap_conform::run::config::{RunConfig, RunConfigBuilder};
use ontap_conform::verdict::Mode;
use std::io::{Read, Write};
use std::net::TcpListener;

fn run(b: RunConfigBuilder) -> Report {
    common::run::report(&b.build().expect("valid config"))
}

/// A seeded run against the built-in mock with these faults; `extra` changes what differs.
fn args(
    faults: &[&str],
    extra: impl FnOnce(RunConfigBuilder) -> RunConfigBuilder,
) -> RunConfigBuilder {
    let b = RunConfig::builder()
        .seed(11)
        .cases(12)
        .faults(faults.iter().map(|f| f.parse::<Fault>().expect("a fault")));
    extra(b)
}

fn describe(r: &Report) -> String {
    r.findings
        .iter()
        .map(|f| {
            format!(
                "{:?} {} {} {}: {}",
                f.severity, f.check, f.method, f.endpoint, f.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn clean_mock_passes_with_no_failure_and_no_warning() {
    let r = run(args(&[], |b| b));
    assert_eq!(r.summary.failures, 0, "failures:\n{}", describe(&r));
    assert_eq!(r.summary.warning_findings, 0, "warnings:\n{}", describe(&r));
    assert!(r.restore_problems.is_empty(), "{:?}", r.restore_problems);
    assert!(
        r.summary.passed > 60,
        "only {} (endpoint, check) pairs passed",
        r.summary.passed
    );
    assert!(
        r.figures.requests > 200 && r.figures.cases > 100,
        "{:?}",
        r.figures
    );
    // Every check ran somewhere.
    for c in ontap_conform::checks::CHECKS {
        if c.name == "version-gate" {
            continue; // every endpoint exists in 9.14.1; see version_gate_on_older_versions
        }
        assert!(
            r.results
                .iter()
                .any(|x| x.check == c.name && x.verdict == ontap_conform::report::Verdict::Passed),
            "{} never ran: {:?}",
            c.name,
            r.results
                .iter()
                .filter(|x| x.check == c.name)
                .collect::<Vec<_>>()
        );
    }
}

/// A green run proves what it says: against the built-in mock every patchable field of every
/// family is round-tripped, every documented error code provoked, and unknown body fields sent.
#[test]
fn the_clean_mock_is_covered_whole_and_the_report_says_so() {
    let r = run(args(&[], |b| b));
    assert_eq!(r.coverage.len(), 3, "{:?}", r.coverage);
    for c in &r.coverage {
        assert!(c.not_round_tripped.is_empty(), "{c:?}");
        assert!(!c.round_tripped.is_empty(), "{c:?}");
        assert!(c.error_codes_not_provoked.is_empty(), "{c:?}");
        assert!(
            c.unknown_fields_sent.contains(&"PATCH".to_string()),
            "{c:?}"
        );
    }
    // The discriminating cases of the paging, ordering and role rules: each reached, or why
    // not. Duo's two records leave no filter that selects two and leaves one out.
    let rules = ["order-by-keys", "paging-next-query", "role-write-scope"];
    for c in &r.coverage {
        let mut all: Vec<&str> = c.cases_reached.iter().map(String::as_str).collect();
        all.extend(c.cases_not_reached.keys().map(String::as_str));
        all.sort();
        assert_eq!(all, rules, "{c:?}");
        if c.family != "duo" {
            assert!(c.cases_not_reached.is_empty(), "{c:?}");
        }
    }
    let duo = r.coverage.iter().find(|c| c.family == "duo").unwrap();
    assert_eq!(
        duo.cases_not_reached.keys().collect::<Vec<_>>(),
        ["paging-next-query"]
    );
    assert!(
        ontap_conform::report::render(&r).contains("discriminating cases reached: 3 of 3"),
        "{}",
        ontap_conform::report::render(&r)
    );
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["coverage"].as_array().map(Vec::len), Some(3));
    // In --read-only nothing is round-tripped, and the report says why.
    let ro = run(args(&[], |b| b.mode(Mode::ReadOnly)));
    let duo = ro.coverage.iter().find(|c| c.family == "duo").unwrap();
    assert!(duo.round_tripped.is_empty());
    assert_eq!(duo.not_round_tripped["comment"], "--read-only");
    assert!(
        ontap_conform::report::render(&ro).contains("not round-tripped (--read-only): api_host")
    );
}

#[test]
fn same_seed_same_requests() {
    let a = run(args(&[], |b| b.cases(6)));
    let b = run(args(&[], |b| b.cases(6)));
    assert_eq!(a.figures.requests, b.figures.requests);
    assert_eq!(a.figures.cases, b.figures.cases);
}

#[test]
fn version_gate_on_older_versions() {
    let r = run(args(&[], |b| b.ontap_version("9.13.1".parse().unwrap())));
    assert_eq!(
        r.summary.failures + r.summary.warning_findings,
        0,
        "{}",
        describe(&r)
    );
    let gated: Vec<_> = r
        .results
        .iter()
        .filter(|x| {
            x.check == "version-gate" && x.verdict == ontap_conform::report::Verdict::Passed
        })
        .collect();
    assert_eq!(
        gated.len(),
        1,
        "the Duo collection is judged: {:?}",
        r.results
            .iter()
            .filter(|x| x.check == "version-gate")
            .collect::<Vec<_>>()
    );
}

/// One row per fault: the check meant to catch it, and whether its rule is only observed (obs),
/// in which case the run fails with --strict.
const TABLE: &[(&str, &str, bool, &[&str])] = &[
    ("wrong-type", "response-schema", false, &[]),
    ("missing-key", "response-schema", false, &[]),
    ("leak-secret", "write-only-secret", false, &[]),
    ("fields-ignored", "field-selection", false, &[]),
    ("fields-extra", "field-selection", false, &[]),
    ("filter-ignored", "query-filter", false, &[]),
    ("filter-negated", "query-filter", false, &[]),
    ("max-records-ignored", "paging", false, &[]),
    ("paging-skip", "paging", false, &[]),
    ("paging-repeat", "paging", false, &[]),
    ("next-placeholder", "paging", false, &[]),
    ("next-drops-query", "paging", false, &[]),
    ("num-records-wrong", "paging", false, &[]),
    ("order-ignored", "ordering", false, &[]),
    ("order-reversed", "ordering", false, &[]),
    ("order-by-second-key-ignored", "ordering", false, &[]),
    ("patch-read-only-accepted", "patch-forbidden", false, &[]),
    ("patch-owner-accepted", "patch-forbidden", false, &[]),
    ("range-unchecked", "patch-invalid", false, &[]),
    ("patch-partial", "patch-atomic", true, &[]),
    ("crlf-kept", "patch-roundtrip", false, &[]),
    ("patch-not-stored", "patch-roundtrip", false, &[]),
    ("error-code-number", "error-envelope", false, &[]),
    ("error-message-missing", "error-envelope", false, &[]),
    ("not-found-wrong-code", "not-found", false, &[]),
    ("bad-input-500", "patch-invalid", true, &[]),
    ("unknown-param-ignored", "unknown-parameter", true, &[]),
    ("admin-only-unenforced", "role-restrictions", false, &[]),
    ("auth-unenforced", "auth-required", false, &[]),
    ("svm-sees-all", "role-restrictions", true, &[]),
    ("svm-writes-all", "role-restrictions", true, &[]),
    (
        "method-not-allowed-accepted",
        "method-not-allowed",
        false,
        &[],
    ),
    ("version-gate-ignored", "version-gate", true, &["9.13.1"]),
    ("unconfigured-as-not-found", "error-code", false, &[]),
    ("head-options-refused", "method-not-allowed", false, &[]),
    ("unknown-body-field-ignored", "patch-invalid", false, &[]),
    (
        "collection-write-filter-ignored",
        "collection-patch",
        false,
        &[],
    ),
    ("filter-bound-inclusive", "query-filter", false, &[]),
    ("filter-bound-exclusive", "query-filter", false, &[]),
    ("filter-range-exclusive", "query-filter", false, &[]),
    ("filter-wildcard-substring", "query-filter", false, &[]),
    ("filter-case-insensitive", "query-filter", false, &[]),
    ("filter-not-unset", "query-filter", false, &[]),
    ("filter-not-or-grouped", "query-filter", false, &[]),
    ("filter-or-first", "query-filter", false, &[]),
    ("filter-quoted-glob", "query-filter", false, &[]),
    ("filter-null-literal", "query-filter", false, &[]),
];

#[test]
fn every_fault_is_caught_by_its_check() {
    let mut names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
    let mut rows: Vec<&str> = TABLE.iter().map(|r| r.0).collect();
    names.sort();
    rows.sort();
    assert_eq!(rows, names, "one row per fault switch");
    let mut missed = Vec::new();
    for (fault, check, obs, version) in TABLE {
        let r = run(args(&[fault], |b| {
            let b = b.strict(*obs);
            match version.first() {
                Some(v) => b.ontap_version(v.parse().unwrap()),
                None => b,
            }
        }));
        // The rule coverage table (docs/rules.md) says which rules the fault breaks: a finding
        // of the check names one of them.
        let breaks = ontap_conform::checks::rules::FAULTS
            .iter()
            .find(|(f, _)| f == fault)
            .map(|(_, rules)| *rules)
            .unwrap_or_else(|| panic!("{fault} is not in the rule coverage table"));
        let hit = r.findings.iter().any(|f| {
            f.check == *check
                && breaks.contains(&f.rule.as_str())
                && (f.severity == Severity::Failure || (*obs && f.severity == Severity::Warning))
        });
        if !r.failed() || !hit {
            missed.push(format!(
                "--fault {fault}: expected {check} to fail on a rule of {breaks:?}; run failed={}; findings:\n{}",
                r.failed(),
                describe(&r)
            ));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n\n"));
}

fn run_target(url: &str, extra: &[&str]) -> (i32, String) {
    let out = common::bin::oc()
        .args([
            "run",
            "--target",
            url,
            "--user",
            "admin",
            "--password-env",
            "OC_TEST_PW",
            "--timeout",
            "5",
            "--no-progress",
        ])
        .args(extra)
        .env("OC_TEST_PW", "secret-pw")
        .run();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !stderr.contains("secret-pw")
            && !String::from_utf8_lossy(&out.stdout).contains("secret-pw"),
        "the password leaked"
    );
    (out.status.code().unwrap_or(-1), stderr)
}

#[test]
fn a_closed_port_is_unreachable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, err) = run_target(&format!("https://127.0.0.1:{port}"), &[]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("unreachable") && err.contains(&port.to_string()),
        "{err}"
    );
}

/// A plain HTTP server that answers every request with an HTML page.
fn html_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().take(20) {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = "<html><body>It works!</body></html>";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn an_html_server_is_not_ontap() {
    let port = html_server();
    let (code, err) = run_target(&format!("http://127.0.0.1:{port}"), &[]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("not ONTAP") && err.contains("text/html"),
        "{err}"
    );
}

#[test]
fn tls_to_a_plain_server_is_unreachable() {
    let port = html_server();
    let (code, err) = run_target(&format!("https://127.0.0.1:{port}"), &["--insecure"]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn an_untrusted_certificate_says_how_to_trust_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mock = rt
        .block_on(ontap_conform::mock::spawn(
            ontap_conform::mock::MockConfig::new(),
            "127.0.0.1:0".parse().unwrap(),
            ontap_conform::mock::Tls::SelfSigned,
        ))
        .unwrap();
    let (code, err) = run_target(&mock.base_url, &[]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("--ca-cert") && err.contains("--insecure"),
        "{err}"
    );
    rt.block_on(mock.shutdown());
}

#[test]
fn bad_usage_exits_2_and_names_the_input() {
    for (argv, needle) in [
        (vec!["run", "--check", "nosuch"], "nosuch"),
        (vec!["run", "--endpoint", "/api/nope"], "/api/nope"),
        (vec!["run", "--report", "xml=out.xml"], "xml"),
        (vec!["run", "--fault", "nosuch"], "nosuch"),
        (
            vec![
                "run",
                "--target",
                "https://127.0.0.1:1",
                "--password-env",
                "OC_UNSET_VAR_X",
            ],
            "OC_UNSET_VAR_X",
        ),
        (vec!["run", "--cases", "0"], "--cases"),
        (
            vec!["run", "--threads", "0"],
            "--threads 0: expected 1 to 64",
        ),
        (vec!["run", "--threads", "65"], "--threads 65"),
    ] {
        let out = common::bin::oc()
            .args(&argv)
            .env_remove("OC_UNSET_VAR_X")
            .run();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {err}");
        assert!(err.contains(needle), "{argv:?}: {err}");
    }
}

#[test]
fn a_config_file_holds_targets_and_rejects_unknown_keys() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let running = rt
        .block_on(ontap_conform::mock::spawn(
            ontap_conform::mock::MockConfig::new(),
            "127.0.0.1:0".parse().unwrap(),
            ontap_conform::mock::Tls::Plain,
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("targets.toml");
    std::fs::write(
        &cfg,
        format!(
            "cases = 4\nseed = 2\nchecks = [\"paging\", \"field-selection\"]\n\n[[targets]]\nname = \"other\"\nurl = \"https://127.0.0.1:1\"\n\n[[targets]]\nname = \"lab\"\nurl = \"{}\"\nuser = \"admin\"\npassword_env = \"OC_LAB_PW\"\nsvm_user = \"vsadmin\"\nsvm_password_env = \"OC_LAB_PW\"\n",
            running.base_url
        ),
    )
    .unwrap();
    let out = common::bin::oc()
        .args([
            "run",
            "--no-progress",
            "--config",
            cfg.to_str().unwrap(),
            "--target-name",
            "lab",
            "--report",
            "json=r.json",
        ])
        .current_dir(dir.path())
        .env("OC_LAB_PW", "netapp1!")
        .run();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["seed"], 2);
    let checks: std::collections::BTreeSet<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["check"].as_str().unwrap())
        .collect();
    assert!(
        checks.contains("paging") && checks.contains("field-selection") && checks.len() <= 5,
        "{checks:?}"
    );
    std::fs::write(&cfg, "cases = 4\ncolour = \"blue\"\n").unwrap();
    let out = common::bin::oc()
        .args(["run", "--config", cfg.to_str().unwrap()])
        .run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("colour") && err.contains("targets.toml"),
        "{err}"
    );
    rt.block_on(running.shutdown());
}

/// Against --target the harness runs on one worker thread by default; a failing property must
/// still shrink there (shrinking runs in block_in_place) and the run must end with exit 1. The
/// same run with --threads 2 finds the same thing.
#[test]
fn a_remote_run_on_one_thread_shrinks_a_failure() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut mc = ontap_conform::mock::MockConfig::new();
    mc.faults.insert("crlf-kept".parse::<Fault>().unwrap());
    let mock = rt
        .block_on(ontap_conform::mock::spawn(
            mc,
            "127.0.0.1:0".parse().unwrap(),
            ontap_conform::mock::Tls::Plain,
        ))
        .unwrap();
    let mut outputs = Vec::new();
    for threads in [None, Some("2")] {
        let mut cmd = common::bin::oc();
        cmd.args([
            "run",
            "--target",
            &mock.base_url,
            "--user",
            "admin",
            "--password-env",
            "OC_TEST_PW",
            "--no-progress",
            "--seed",
            "3",
            "--check",
            "patch-roundtrip",
        ])
        .env("OC_TEST_PW", "netapp1!");
        if let Some(n) = threads {
            cmd.args(["--threads", n]);
        }
        let out = cmd.run();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{threads:?}: {stdout}{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let finding = stdout
            .lines()
            .find(|l| l.contains("FAIL patch-roundtrip"))
            .unwrap_or_else(|| panic!("{threads:?}: no patch-roundtrip failure:\n{stdout}"));
        assert!(stdout.contains("shrunk:"), "{stdout}");
        assert!(!stdout.contains("NOT RESTORED"), "{stdout}");
        outputs.push(finding.to_string());
    }
    assert_eq!(
        outputs[0], outputs[1],
        "the thread count changed the finding"
    );
    rt.block_on(mock.shutdown());
}

/// The freedoms a conformant ONTAP has (ONTAP-BEHAVIOR.md §3b), one row per variant switch of
/// the mock: a run against the mock showing it has no failure, and warns only where the rule it
/// meets is obs (then the rule is named here).
const VARIANTS: &[(&str, &[&str])] = &[
    ("permission-400", &[]),
    ("no-error-target", &[]),
    ("collection-all-fields", &["collection-default-fields"]),
    ("opaque-next", &[]),
    ("newer-field", &["unknown-response-field"]),
    ("unset-first", &[]),
    ("unset-last", &[]),
    ("duplicate-400", &[]),
    ("costly-field", &[]),
    ("time-limited-pages", &[]),
    ("time-limited-counts", &[]),
    ("lf-at-limit", &["trailing-lf"]),
    ("no-trailing-lf", &[]),
    ("trailing-lf", &[]),
];

#[test]
fn no_freedom_of_a_conformant_ontap_fails_a_run() {
    use ontap_conform::mock::Variant;
    let mut names: Vec<&str> = Variant::ALL.iter().map(|v| v.name()).collect();
    let mut rows: Vec<&str> = VARIANTS.iter().map(|r| r.0).collect();
    names.sort();
    rows.sort();
    assert_eq!(rows, names, "one row per variant switch");
    let mut wrong = Vec::new();
    for (variant, obs_rules) in VARIANTS {
        let v: Variant = variant.parse().expect("a variant");
        let r = run(args(&[], |b| b.variants([v]).mode(Mode::Destructive)));
        let unexpected: Vec<String> = r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Failure || !obs_rules.contains(&f.rule.as_str()))
            .map(|f| {
                format!(
                    "{:?} {} {} {}: {}",
                    f.severity, f.check, f.method, f.endpoint, f.message
                )
            })
            .collect();
        if !unexpected.is_empty() || !r.restore_problems.is_empty() {
            wrong.push(format!("--variant {variant}:\n{}", unexpected.join("\n")));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// A run tells its observer what it does: the plan's size over how many families, every check's
/// start and end, and each family once, when its last check has ended.
#[test]
fn the_observer_hears_every_check_and_each_family_done_once() {
    use ontap_conform::run::events::{Event, Observer};
    use std::sync::Mutex;
    #[derive(Default)]
    struct Keep(Mutex<Vec<String>>);
    impl Observer for Keep {
        fn event(&self, e: &Event<'_>) {
            let line = match e {
                Event::Planned { checks, families } => format!("planned {checks} {families}"),
                Event::Started { id, .. } => format!("started {id}"),
                Event::Ended { id } => format!("ended {id}"),
                Event::FamilyDone(f) => format!("done {f}"),
                _ => return,
            };
            self.0.lock().unwrap().push(line);
        }
    }
    let keep = std::sync::Arc::new(Keep::default());
    let cfg = RunConfig::builder().seed(1).cases(2).build().unwrap();
    ontap_conform::run::run_observed(&cfg, keep.clone()).unwrap();
    let events = keep.0.lock().unwrap().clone();
    let planned: Vec<&String> = events.iter().filter(|e| e.starts_with("planned")).collect();
    assert_eq!(planned.len(), 1, "{events:?}");
    let n: Vec<u64> = planned[0]
        .split(' ')
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    let count = |p: &str| events.iter().filter(|e| e.starts_with(p)).count() as u64;
    assert_eq!(count("started "), n[0]);
    assert_eq!(count("ended "), n[0]);
    assert_eq!(n[1], 3, "duo, login_messages, totp");
    let mut done: Vec<&str> = events
        .iter()
        .filter_map(|e| e.strip_prefix("done "))
        .collect();
    done.sort();
    assert_eq!(done, ["duo", "login_messages", "totp"]);
    // The last family is done only after the last check has ended.
    let last_end = events
        .iter()
        .rposition(|e| e.starts_with("ended "))
        .unwrap();
    let last_done = events.iter().rposition(|e| e.starts_with("done ")).unwrap();
    assert!(last_done > last_end, "{events:?}");
}

/// A next link that names no path (a generic mock's placeholder "string") is a finding of the
/// paging check, and the run goes on to its end: it is never sent as a request, so no transport
/// failure counts towards --max-failures.
#[test]
fn a_next_link_that_is_no_path_is_a_finding_and_the_run_goes_on() {
    let r = run(args(&["next-placeholder"], |b| b.max_failures(1)));
    assert!(r.stopped.is_none(), "stopped: {:?}", r.stopped);
    let paging: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.check == "paging" && f.severity == Severity::Failure)
        .collect();
    assert!(
        paging
            .iter()
            .any(|f| f.message.contains("\"string\" is not a URL path")),
        "{}",
        describe(&r)
    );
    assert!(
        !r.findings.iter().any(|f| f.message.contains("transport")),
        "{}",
        describe(&r)
    );
    // The other checks ran as on the clean mock: the write checks too.
    assert!(
        r.results
            .iter()
            .any(|x| x.check == "patch-roundtrip"
                && x.verdict == ontap_conform::report::Verdict::Passed),
        "{}",
        describe(&r)
    );
}
