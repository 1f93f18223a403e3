//! `run --tunnel-svm NAME`: without an SVM administrator's password, the role checks run as the
//! cluster administrator tunnelled into the SVM (`X-Dot-SVM-Name`). Against the built-in mock:
//! role-restrictions passes on the clean mock, judges the records a tunnelled request sees
//! (`--fault svm-sees-all` fails, and the reproducer carries the header) and writes (`--fault
//! svm-writes-all` fails) but not the role
//! (tunnelling narrows the records, not the role); `--tunnel-svm` with `--svm-user` is a usage
//! error.

mod common;

use common::bin::Run;
use ontap_conform::checks::Severity;
use ontap_conform::mock::Fault;
use ontap_conform::report::{Report, Verdict};
use ontap_conform::run::config::RunConfig;

fn run(faults: &[&str], tunnel: Option<&str>) -> Report {
    let mut b = RunConfig::builder()
        .seed(7)
        .cases(4)
        .checks(["role-restrictions", "error-code"])
        .faults(faults.iter().map(|f| f.parse::<Fault>().expect("a fault")));
    if let Some(svm) = tunnel {
        b = b.tunnel_svm(svm);
    }
    common::run::report(&b.build().expect("valid config"))
}

fn describe(r: &Report) -> String {
    let rows = r
        .results
        .iter()
        .map(|x| format!("{:?} {} {} {:?}", x.verdict, x.check, x.endpoint, x.reason));
    let findings = r.findings.iter().map(|f| {
        format!(
            "{:?} {} {} {}: {} | {}",
            f.severity,
            f.check,
            f.method,
            f.endpoint,
            f.message,
            f.reproducer.as_ref().map_or("", |p| p.curl.as_str())
        )
    });
    rows.chain(findings).collect::<Vec<_>>().join("\n")
}

fn passed(r: &Report, check: &str) -> usize {
    r.results
        .iter()
        .filter(|x| x.check == check && x.verdict == Verdict::Passed)
        .count()
}

#[test]
fn tunnelled_role_checks_pass_on_the_clean_mock() {
    let r = run(&[], Some("svm1"));
    assert_eq!(r.summary.failures, 0, "{}", describe(&r));
    assert_eq!(r.summary.warning_findings, 0, "{}", describe(&r));
    // The collection arm (visibility) ran on every family.
    assert!(passed(&r, "role-restrictions") >= 3, "{}", describe(&r));
    assert!(
        !r.results.iter().any(|x| x.check == "role-restrictions"
            && x.reason
                .as_deref()
                .is_some_and(|m| m.contains("no SVM administrator given"))),
        "role-restrictions was skipped for want of an SVM administrator:\n{}",
        describe(&r)
    );
}

/// Tunnelling narrows the records, not the role (ONTAP-BEHAVIOR.md §4 says nothing of the role):
/// a target that lets the tunnelled cluster administrator change admin-only fields (here the
/// mock under admin-only-unenforced) is not failed for it, nor warned about. The records a
/// tunnelled request sees and writes are judged (role-write-scope), so role-restrictions runs
/// on the instance paths all the same. (A pair has one outcome: the admin-only part's reason,
/// TUNNEL_KEEPS_ROLE, shows only where nothing else of the check ran.)
#[test]
fn tunnelling_narrows_records_not_roles() {
    let r = run(&["admin-only-unenforced"], Some("svm1"));
    assert_eq!(r.summary.failures, 0, "{}", describe(&r));
    assert_eq!(r.summary.warning_findings, 0, "{}", describe(&r));
    assert!(
        !r.findings.iter().any(|f| f.rule == "admin-only"),
        "{}",
        describe(&r)
    );
    assert!(
        r.results.iter().any(|x| x.check == "role-restrictions"
            && x.endpoint == "/api/security/login/messages/{uuid}"
            && x.verdict == Verdict::Passed),
        "{}",
        describe(&r)
    );
    // The control: the SVM administrator is refused, so the same fault fails without tunnelling.
    let r = run(&["admin-only-unenforced"], None);
    assert!(r.summary.failures > 0, "{}", describe(&r));
}

#[test]
fn tunnelled_role_checks_catch_records_of_other_svms() {
    let r = run(&["svm-sees-all"], Some("svm1"));
    let hits: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.check == "role-restrictions" && f.rule == "role-visibility")
        .collect();
    assert!(!hits.is_empty(), "{}", describe(&r));
    for f in hits {
        assert!(
            f.message
                .contains("the cluster administrator tunnelled into SVM svm1"),
            "{}",
            f.message
        );
        let curl = &f.reproducer.as_ref().expect("a reproducer").curl;
        assert!(
            curl.contains("-H 'X-Dot-SVM-Name: svm1'"),
            "the reproducer does not tunnel: {curl}"
        );
        assert!(
            curl.contains("-u \"admin:$ONTAP_PASSWORD\""),
            "the reproducer is not the cluster administrator's: {curl}"
        );
        assert!(!curl.contains("netapp1!"), "the password leaked: {curl}");
    }
}

/// ONTAP-BEHAVIOR.md §4 (lib): a tunnelled request changes only that SVM's records. A target
/// that lets it PATCH another SVM's record (or the cluster's) fails the run (lib), where the SVM
/// administrator's same write only warns (obs); either way the record is put back and verified.
#[test]
fn tunnelled_writes_to_records_of_other_svms_fail() {
    let r = run(&["svm-writes-all"], Some("svm1"));
    let hits: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.check == "role-restrictions" && f.rule == "role-write-scope")
        .collect();
    assert!(!hits.is_empty(), "{}", describe(&r));
    for f in &hits {
        assert_eq!(f.severity, Severity::Failure, "{}", f.message);
        assert!(f.message.contains("outside its SVM"), "{}", f.message);
        let curl = &f.reproducer.as_ref().expect("a reproducer").curl;
        assert!(
            curl.contains("-X PATCH") && curl.contains("-H 'X-Dot-SVM-Name: svm1'"),
            "{curl}"
        );
    }
    assert!(r.restore_problems.is_empty(), "{:?}", r.restore_problems);
    // As the SVM administrator: observed, a warning.
    let r = run(&["svm-writes-all"], None);
    assert!(
        r.findings.iter().any(|f| f.rule == "role-write-scope"
            && f.severity == Severity::Warning
            && f.reproducer
                .as_ref()
                .is_some_and(|p| p.curl.contains("$ONTAP_SVM_PASSWORD"))),
        "{}",
        describe(&r)
    );
    assert_eq!(r.summary.failures, 0, "{}", describe(&r));
    assert!(r.restore_problems.is_empty(), "{:?}", r.restore_problems);
}

#[test]
fn without_tunnelling_the_mock_run_uses_its_svm_administrator() {
    // The control: the same fault without --tunnel-svm is caught as the SVM administrator,
    // whose reproducer carries no tunnelling header.
    let r = run(&["admin-only-unenforced"], None);
    let f = r
        .findings
        .iter()
        .find(|f| f.check == "role-restrictions" && f.severity == Severity::Failure)
        .unwrap_or_else(|| panic!("{}", describe(&r)));
    let curl = &f.reproducer.as_ref().unwrap().curl;
    assert!(!curl.contains("X-Dot-SVM-Name"), "{curl}");
    assert!(curl.contains("$ONTAP_SVM_PASSWORD"), "{curl}");
}

#[test]
fn tunnel_svm_and_svm_user_together_are_a_usage_error() {
    let out = common::bin::oc()
        .args([
            "run",
            "--target",
            "https://127.0.0.1:1",
            "--svm-user",
            "vsadmin",
            "--tunnel-svm",
            "svm1",
            "--no-progress",
        ])
        .run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--tunnel-svm") && err.contains("--svm-user"),
        "{err}"
    );
}

#[test]
fn the_builder_refuses_tunnelling_beside_an_svm_administrator() {
    use ontap_conform::client::{Credentials, Proxies, Trust};
    use ontap_conform::run::config::Target;
    let err = RunConfig::builder()
        .target(Target::Remote {
            url: "https://127.0.0.1:1".into(),
            admin: Credentials::new("admin", "pw"),
            svm: Some(Credentials::new("vsadmin", "pw")),
            trust: Trust::Insecure,
            proxy: Proxies::default(),
            identity: None,
        })
        .tunnel_svm("svm1")
        .build()
        .expect_err("refused");
    let m = err.to_string();
    assert!(
        m.contains("--tunnel-svm") && m.contains("--svm-user"),
        "{m}"
    );
}
