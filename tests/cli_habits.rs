//! The habits people expect of a command line: `run -q` (only the failures and the summary
//! line), `run -v` (every exchange on standard error), colour on a terminal only and never with
//! `NO_COLOR`, `completions SHELL`, and the password read from `ONTAP_PASSWORD` when no
//! `--password-env` names a variable (against `ontap-conform mock` started here).

mod common;

use common::bin::{MockProcess, Run};
use ontap_conform::report::{self, Style};
use ontap_conform::run::config::RunConfig;
use std::process::{Command, Output};

/// The binary with `args` (and a clean environment, `common::bin::oc`).
fn oc(args: &[&str]) -> Command {
    let mut c = common::bin::oc();
    c.args(args);
    c
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn quiet_prints_only_the_summary_line_on_a_clean_run() {
    let o = oc(&["run", "-q", "--seed", "1", "--cases", "4"]).run();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].contains(" passed, 0 failed, 0 warnings, ")
            && lines[0].ends_with("(0 failure findings, 0 warning findings)"),
        "{out}"
    );
    assert!(err.is_empty(), "nothing on standard error: {err}");
}

#[test]
fn quiet_still_prints_the_failures() {
    let o = oc(&[
        "run",
        "--quiet",
        "--seed",
        "1",
        "--fault",
        "crlf-kept",
        "--check",
        "patch-roundtrip",
    ])
    .run();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.starts_with("FAIL patch-roundtrip PATCH "), "{out}");
    assert!(out.contains("     reproduce: curl "), "{out}");
    assert!(
        !out.contains("Endpoints:") && !out.contains("CHECK "),
        "{out}"
    );
    assert!(!out.contains("requests/s"), "{out}");
    assert!(
        out.trim_end()
            .ends_with("(1 failure findings, 0 warning findings)"),
        "{out}"
    );
}

#[test]
fn verbose_prints_every_exchange_on_standard_error() {
    let o = oc(&["run", "-v", "--seed", "1", "--check", "paging"]).run();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let exchanges: Vec<&str> = err.lines().collect();
    assert!(
        exchanges
            .iter()
            .any(|l| l.starts_with("GET /api/cluster?fields=version,name,uuid 200 ")),
        "{err}"
    );
    // Method, path, status, latency; every line one exchange.
    for l in &exchanges {
        let w: Vec<&str> = l.split(' ').collect();
        assert!(
            w.len() >= 5
                && ["GET", "PATCH", "POST", "DELETE", "HEAD", "OPTIONS"].contains(&w[0])
                && w[1].starts_with("/api/")
                && w[2].len() == 3
                && w[2].parse::<u16>().is_ok()
                && w[3].parse::<f64>().is_ok()
                && w[4] == "ms",
            "not an exchange line: {l:?}"
        );
    }
    let gets = exchanges
        .iter()
        .filter(|l| l.starts_with("GET /api/security/"))
        .count();
    assert!(gets >= 10, "{err}");
    // Standard output is the summary, as without -v.
    assert!(out.contains("Endpoints:"), "{out}");
    assert!(!err.contains("netapp1!"), "the password is printed: {err}");
}

#[test]
fn quiet_and_verbose_contradict_each_other() {
    let o = oc(&["run", "-q", "-v"]).run();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("cannot be used with"), "{}", text(&o).1);
}

#[test]
fn piped_output_and_no_color_have_no_escape_codes() {
    for no_color in [None, Some("1")] {
        let mut c = oc(&[
            "run",
            "--seed",
            "1",
            "--fault",
            "crlf-kept",
            "--check",
            "patch-roundtrip",
            "--check",
            "paging",
        ]);
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        let o = c.run();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}{err}");
        assert!(out.contains("FAIL patch-roundtrip"), "{out}");
        assert!(
            !out.contains('\x1b') && !err.contains('\x1b'),
            "NO_COLOR={no_color:?}: escape codes in\n{out}{err}"
        );
    }
}

/// What a terminal gets: the same text as without colour once the escape codes are taken out
/// (the table stays aligned), failures red, passes green.
#[test]
fn colour_paints_failures_red_and_passes_green_and_keeps_the_table_aligned() {
    let cfg = RunConfig::builder()
        .seed(1)
        .faults(["crlf-kept".parse().unwrap()])
        .checks(["patch-roundtrip", "paging"])
        .build()
        .unwrap();
    let r = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(ontap_conform::run::execute(&cfg))
        .unwrap()
        .report;
    let plain = report::render(&r);
    let coloured = report::render_with(
        &r,
        Style {
            quiet: false,
            color: true,
        },
    );
    assert!(!plain.contains('\x1b'));
    assert!(
        coloured.contains("\x1b[31mFAIL\x1b[0m patch-roundtrip"),
        "{coloured}"
    );
    assert!(coloured.contains("\x1b[32mok     \x1b[0m"), "{coloured}");
    assert!(coloured.contains("\x1b[31m1 failed\x1b[0m"), "{coloured}");
    let mut stripped = String::new();
    let mut rest = coloured.as_str();
    while let Some(i) = rest.find('\x1b') {
        stripped.push_str(&rest[..i]);
        let end = rest[i..].find('m').expect("an SGR sequence ends in m");
        rest = &rest[i + end + 1..];
    }
    stripped.push_str(rest);
    assert_eq!(stripped, plain);
}

#[test]
fn completions_for_every_shell() {
    let o = oc(&["completions", "bash"]).run();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.contains("ontap-conform"), "{out}");
    assert!(out.contains("run") && out.contains("--contract"), "{out}");
    assert!(
        out.contains("complete -F"),
        "a bash completion script: {out}"
    );
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let o = oc(&["completions", shell]).run();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{shell}: {err}");
        assert!(out.contains("contract"), "{shell}: {out}");
    }
    let o = oc(&["completions", "tcsh"]).run();
    assert_eq!(o.status.code(), Some(2));
}

/// `ontap-conform mock` on a free port with this administrator password, stopped when dropped.
fn mock(password: &str) -> MockProcess {
    MockProcess::start(&[], &[("ONTAP_MOCK_ADMIN_PASSWORD", password)])
}

#[test]
fn ontap_password_is_read_when_no_password_env_is_given() {
    const PW: &str = "Mock-Pass-4711";
    let m = mock(PW);
    let dir = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &str)], extra: &[&str]| {
        let mut c = oc(&[
            "run",
            "--target",
            &m.url,
            "--insecure",
            "--read-only",
            "--check",
            "response-schema",
            "--no-progress",
        ]);
        c.args(extra)
            .env("XDG_STATE_HOME", dir.path())
            .envs(envs.iter().copied());
        let o = c.run();
        let (out, err) = text(&o);
        assert!(
            !out.contains(PW) && !err.contains(PW),
            "the password is printed: {out}{err}"
        );
        (o.status.code(), out, err)
    };
    // Read from ONTAP_PASSWORD, and said so.
    let (code, out, err) = run(&[("ONTAP_PASSWORD", PW)], &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        err.contains("the password of admin is read from ONTAP_PASSWORD"),
        "{err}"
    );
    assert!(out.contains(" passed, 0 failed"), "{out}");
    // A wrong one is refused by the target, as a wrong --password-env is.
    let (code, _, err) = run(&[("ONTAP_PASSWORD", "not-the-password")], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("refused the credentials of admin"), "{err}");
    // --password-env wins over ONTAP_PASSWORD.
    let (code, out, err) = run(
        &[("ONTAP_PASSWORD", "not-the-password"), ("MY_PW", PW)],
        &["--password-env", "MY_PW"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!err.contains("ONTAP_PASSWORD"), "{err}");
    // Neither, and no terminal to ask on: refused before the first request, naming both ways.
    let (code, _, err) = run(&[], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("no password for admin: set ONTAP_PASSWORD or give --password-env VAR"),
        "{err}"
    );
    // -q drops the note.
    let (code, out, err) = run(&[("ONTAP_PASSWORD", PW)], &["-q"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.is_empty(), "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
}

/// The environment is a layer of the settings: `ONTAP_CONFORM_<KEY>` sets what the flag of the
/// same name would, the flag wins over it, a bad value is refused naming the variable, and a
/// variable with the prefix that names no setting is reported.
#[test]
fn settings_come_from_the_environment_under_the_flags() {
    let results = |o: &Output| -> std::collections::BTreeSet<String> {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("a JSON report");
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["verdict"] != "skipped")
            .map(|r| r["check"].as_str().unwrap().to_string())
            .collect()
    };
    let out = oc(&["run", "--report", "json=-", "--seed", "1"])
        .env("ONTAP_CONFORM_CHECKS", "paging,field-selection")
        .env("ONTAP_CONFORM_CASES", "2")
        .env("ONTAP_CONFORM_CHEKS", "x")
        .run();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let by_flags = oc(&[
        "run",
        "--report",
        "json=-",
        "--seed",
        "1",
        "--check",
        "paging",
        "--check",
        "field-selection",
    ])
    .run();
    let ran = results(&out);
    assert_eq!(ran, results(&by_flags), "{err}");
    assert!(
        ran.contains("paging") && !ran.contains("patch-roundtrip"),
        "{ran:?}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["cases_per_property"], 2);
    assert!(
        err.contains("ONTAP_CONFORM_CHEKS names no setting"),
        "{err}"
    );
    let out = oc(&["run", "--report", "json=-", "--check", "paging"])
        .env("ONTAP_CONFORM_CHECKS", "field-selection")
        .run();
    let ran = results(&out);
    assert!(
        ran.contains("paging") && !ran.contains("field-selection"),
        "the flag wins: {ran:?}"
    );
    let out = oc(&["run"]).env("ONTAP_CONFORM_TIMEOUT", "soon").run();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("ONTAP_CONFORM_TIMEOUT=\"soon\""), "{err}");
}
