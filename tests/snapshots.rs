//! The project's own regression suite: reports of seeded runs, `--help` of every subcommand and
//! the errors of bad usage, pinned as insta snapshots in `snapshots/`. `cargo test` fails on any
//! change; `cargo insta review` (or `INSTA_UPDATE=always cargo test`) accepts one.

mod common;

use common::bin::Run;
use ontap_conform::run::config::RunConfig;

fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}

/// A seeded run against the built-in mock, as JSON with the volatile parts (the mock's port, the
/// timings) replaced.
fn seeded_report(faults: &[&str]) -> String {
    let cfg = RunConfig::builder()
        .seed(42)
        .cases(8)
        .faults(faults.iter().map(|f| f.parse().expect("a fault")))
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut r = rt
        .block_on(ontap_conform::run::execute(&cfg))
        .unwrap()
        .report;
    r.figures.wall_seconds = 0.0;
    r.figures.requests_per_second = 0.0;
    r.figures.peak_rate = 0;
    // The latency rows stay (endpoints, methods, request counts); their timings vary.
    for l in &mut r.latency {
        (l.p50_ms, l.p95_ms, l.max_ms) = (0.0, 0.0, 0.0);
    }
    let port_base = r.target.trim_start_matches("built-in mock ").to_string();
    without_fingerprints(&r.to_json().replace(&port_base, "https://127.0.0.1:PORT"))
}

/// Replaces SHA-256 fingerprints (64 lowercase hex digits): records the run creates get fresh
/// one-time secrets from the mock, as on ONTAP, so their fingerprints differ on every run.
fn without_fingerprints(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let run = b[i..]
            .iter()
            .take_while(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
            .count();
        if run == 64 {
            out.push_str("<sha256>");
            i += run;
        } else if run > 0 {
            out.push_str(&text[i..i + run]);
            i += run;
        } else {
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

#[test]
fn report_of_the_clean_mock() {
    snapshot_settings().bind(|| insta::assert_snapshot!("report_clean", seeded_report(&[])));
}

#[test]
fn reports_of_faults() {
    for fault in ["wrong-type", "crlf-kept", "paging-repeat", "leak-secret"] {
        let text = seeded_report(&[fault]);
        assert!(
            !text.contains("\"secret_key\":\"") || text.contains("<redacted>"),
            "a secret leaked into the report"
        );
        snapshot_settings().bind(|| insta::assert_snapshot!(format!("report_fault_{fault}"), text));
    }
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = common::bin::oc().args(args).env("COLUMNS", "100").run();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn help_of_every_subcommand() {
    for sub in [
        vec![],
        vec!["run"],
        vec!["mock"],
        vec!["spec"],
        vec!["spec", "list"],
        vec!["spec", "show"],
        vec!["spec", "openapi"],
        vec!["spec", "lint"],
        vec!["diff"],
        vec!["report", "merge"],
        vec!["completions"],
    ] {
        let mut argv = sub.clone();
        argv.push("--help");
        let (code, out, _) = cli(&argv);
        assert_eq!(code, 0, "{argv:?}");
        let name = if sub.is_empty() {
            "help".to_string()
        } else {
            format!("help_{}", sub.join("_"))
        };
        snapshot_settings().bind(|| insta::assert_snapshot!(name, out));
    }
}

#[test]
fn errors_of_bad_usage() {
    let cases: &[&[&str]] = &[
        &["nosuch"],
        &["run", "--check", "nosuch"],
        &["run", "--endpoint", "/api/nope"],
        &["run", "--report", "xml=out.xml"],
        &["run", "--cases", "0"],
        &["run", "--read-only", "--allow-destructive"],
        &["run", "--fault", "nosuch"],
        &["run", "--compare", "/nonexistent/baseline"],
        &["spec", "show", "nosuch"],
        &["spec", "lint", "--seeds", "/nonexistent/seeds"],
        &["diff", "/nonexistent/a", "/nonexistent/b"],
        &["mock", "--fault", "nosuch"],
    ];
    let mut all = String::new();
    for argv in cases {
        let (code, _, err) = cli(argv);
        assert_eq!(code, 2, "{argv:?}: {err}");
        all.push_str(&format!(
            "$ ontap-conform {}\nexit {code}\n{err}\n",
            argv.join(" ")
        ));
    }
    snapshot_settings().bind(|| insta::assert_snapshot!("bad_usage", all));
}
