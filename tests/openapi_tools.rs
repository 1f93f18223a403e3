//! `scripts/check-openapi-tools.sh` run by `cargo test`: Schemathesis (every check, every phase,
//! a fixed seed) against the built-in mock with the project's OpenAPI export must find no
//! failure caused by the document. Schemathesis is a requirement of the test suite, installed by
//! `.ci/run` (`python3 -m pip install schemathesis==4.32.5`): without it these tests fail and
//! say how to install it.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const PINNED: &str = "4.32.5";

fn require_schemathesis() {
    let o = Command::new("python3")
        .args([
            "-c",
            "from importlib.metadata import version; print(version('schemathesis'))",
        ])
        .output()
        .expect("python3 runs (it is needed for Schemathesis)");
    let found = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(
        o.status.success() && found == PINNED,
        "Schemathesis {PINNED} is required by this test and is {}: install it with \
         `python3 -m pip install schemathesis=={PINNED}` (.ci/run does)",
        if found.is_empty() {
            "not installed".to_string()
        } else {
            format!("at version {found}")
        }
    );
}

fn script(out: &Path, doc: Option<&Path>, examples: u32) -> (Output, String) {
    let mut cmd = Command::new("bash");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check-openapi-tools.sh"))
        .env("ONTAP_CONFORM_BIN", env!("CARGO_BIN_EXE_ontap-conform"))
        .env("OUT_DIR", out)
        .env("ST_MAX_EXAMPLES", examples.to_string())
        .env_remove("WITH_PRISM");
    match doc {
        Some(d) => cmd.env("OPENAPI_DOC", d),
        None => cmd.env_remove("OPENAPI_DOC"),
    };
    let o = cmd.output().expect("bash runs the script");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o, text)
}

#[test]
fn schemathesis_finds_no_fault_of_the_export_against_the_mock() {
    require_schemathesis();
    let out = tempfile::tempdir().expect("a temporary directory");
    let (o, text) = script(out.path(), None, 25);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("14/14 operations"), "{text}");
    assert!(text.contains(" 0 caused by the document"), "{text}");
    assert!(text.trim_end().ends_with("PASS"), "{text}");
    // Schemathesis really ran: its own report counts the generated cases of every phase.
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("schemathesis.json")).expect("its JSON report"),
    )
    .expect("JSON");
    assert_eq!(report["schemathesis_version"], PINNED);
    assert!(
        report["test_cases"]["generated"].as_u64().unwrap_or(0) > 500,
        "{report}"
    );
    for phase in ["examples", "coverage", "fuzzing", "stateful"] {
        assert_ne!(
            report["phases"][phase]["status"], "skipped",
            "{phase}: {report}"
        );
    }
}

/// The verdict is not a formality: a document that lets request bodies carry unknown fields
/// (the export before `additionalProperties: false`) fails the script.
#[test]
fn a_looser_document_fails_the_script() {
    require_schemathesis();
    let out = tempfile::tempdir().expect("a temporary directory");
    let o = Command::new(env!("CARGO_BIN_EXE_ontap-conform"))
        .args(["spec", "openapi"])
        .output()
        .expect("spec openapi runs");
    let mut doc: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("components");
    let mut loosened = 0;
    for (name, s) in schemas.iter_mut() {
        if name.ends_with("_request") {
            s.as_object_mut()
                .expect("an object")
                .remove("additionalProperties");
            loosened += 1;
        }
    }
    assert!(loosened >= 4, "request schemas in components");
    let path = out.path().join("loose.json");
    std::fs::write(&path, doc.to_string()).expect("write");
    let (o, text) = script(&out.path().join("run"), Some(&path), 10);
    assert!(!o.status.success(), "{text}");
    assert!(
        text.contains("DOCUMENT'S: ST202")
            && text.contains("FAIL: schemathesis found failures caused by the document"),
        "{text}"
    );
}
