//! The CI files docs/fleet.md shows (docs/ci/github-fleet.yml, docs/ci/gitlab-fleet.yml) parse,
//! and the commands they run are run here, as written (taken from the YAML, the CI variables
//! filled in as the CI would), by bash in one directory, against a fleet of mock clusters: every
//! shard of the matrix, then the merge. The merged report must hold every target once, every
//! shard, and the verdicts of one unsharded run of the same fleet.

mod common;

use common::fleet::{self, PASSWORD};
use serde_yaml_ng::Value;
use std::path::Path;
use std::process::{Command, Output};

fn load(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/ci")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of a step's script that run the harness.
fn harness_lines(script: &str) -> Vec<String> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("ontap-conform "))
        .map(String::from)
        .collect()
}

/// Runs one command line with bash in `dir`, the harness first on the PATH, with `env`.
fn bash(dir: &Path, line: &str, env: &[(String, String)]) -> Output {
    let bin_dir = Path::new(common::bin::path()).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .args(["-c", line])
        .current_dir(dir)
        .env("PATH", path)
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("NO_COLOR", "1")
        .env_remove("ONTAP_PASSWORD")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap()
}

/// Three mock clusters, one of them breaking a rule (so its shard fails, as a real one would),
/// and the fleet.toml the CI files name, in `dir`.
fn fleet_in(dir: &Path) -> Vec<common::bin::MockProcess> {
    let mocks = vec![
        fleet::mock(&[]),
        fleet::mock(&["--fault", "wrong-type"]),
        fleet::mock(&[]),
    ];
    let cfg = fleet::config(
        "cases = 4",
        &[
            ("cluster-a", &mocks[0].url),
            ("cluster-b", &mocks[1].url),
            ("cluster-c", &mocks[2].url),
        ],
    );
    std::fs::write(dir.join("fleet.toml"), cfg).unwrap();
    mocks
}

/// What the merged report must show: every target once, cluster-b failing, every shard of N,
/// and the same verdicts as an unsharded run of the fleet with `seed`.
fn check_merged(dir: &Path, merged: &Output, n: usize, seed: &str) {
    let (out, err) = fleet::text(merged);
    assert_eq!(merged.status.code(), Some(1), "{out}{err}");
    assert!(
        out.contains("fleet: 1 of 3 failed, 2 of 3 passed; exit 1"),
        "{out}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("fleet.json")).unwrap()).unwrap();
    let names: Vec<&str> = v["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["cluster-b", "cluster-a", "cluster-c"],
        "worst first"
    );
    let shards: Vec<String> = (1..=n).map(|k| format!("{k}/{n}")).collect();
    assert_eq!(v["shards"], serde_json::json!(shards));
    assert!(v.get("missing_shards").is_none(), "{}", v["missing_shards"]);
    // JUnit: one test suite per target; the HTML page: one row per target.
    let junit = std::fs::read_to_string(dir.join("fleet.xml")).unwrap();
    let suites: Vec<&str> = junit
        .lines()
        .filter(|l| l.trim_start().starts_with("<testsuite "))
        .collect();
    assert_eq!(suites.len(), 3, "{junit}");
    assert!(suites[0].contains("name=\"cluster-b\""), "{}", suites[0]);
    let html = std::fs::read_to_string(dir.join("fleet.html")).unwrap();
    assert_eq!(html.matches("<tr data-target=").count(), 3);
    // The same verdicts as one unsharded run.
    let whole = fleet::run_in(
        dir,
        &[
            "run",
            "--config",
            "fleet.toml",
            "--all-targets",
            "--seed",
            seed,
            "-q",
            "--report",
            "json=whole.json",
        ],
    );
    assert_eq!(whole.status.code(), Some(1), "{:?}", fleet::text(&whole));
    let (a, b) = (
        fleet::verdicts(&dir.join("whole.json")),
        fleet::verdicts(&dir.join("fleet.json")),
    );
    assert!(a.len() > 100, "{} verdicts", a.len());
    assert_eq!(a, b, "the merged shards differ from the unsharded run");
}

#[test]
fn the_github_actions_matrix_shards_the_fleet_and_merges_the_reports() {
    let doc = load("github-fleet.yml");
    let shard_job = &doc["jobs"]["shard"];
    let matrix: Vec<String> = shard_job["strategy"]["matrix"]["shard"]
        .as_sequence()
        .expect("a matrix of shards")
        .iter()
        .map(|v| v.as_u64().expect("a shard number").to_string())
        .collect();
    assert!(matrix.len() >= 2, "{matrix:?}");
    let merge_job = &doc["jobs"]["merge"];
    assert_eq!(merge_job["needs"].as_str(), Some("shard"));
    assert_eq!(
        merge_job["if"].as_str(),
        Some("always()"),
        "the merge must run when a shard failed"
    );
    let steps = |job: &Value| -> Vec<(String, Vec<(String, String)>)> {
        job["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|s| {
                let run = s["run"].as_str()?;
                let env: Vec<(String, String)> = s["env"]
                    .as_mapping()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| {
                                let v = v.as_str().unwrap_or("");
                                // A secret: the mock's password stands in for it.
                                let v = if v.contains("secrets.") { PASSWORD } else { v };
                                (k.as_str().unwrap().to_string(), v.to_string())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Some((run.to_string(), env))
            })
            .flat_map(|(run, env)| {
                harness_lines(&run)
                    .into_iter()
                    .map(move |l| (l, env.clone()))
            })
            .collect()
    };
    let shard_cmds = steps(shard_job);
    let merge_cmds = steps(merge_job);
    assert_eq!(shard_cmds.len(), 1, "{shard_cmds:?}");
    assert_eq!(merge_cmds.len(), 1, "{merge_cmds:?}");
    let junit_path = merge_job["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find_map(|s| s["with"]["report_paths"].as_str())
        .expect("a step publishes the JUnit file");
    assert!(merge_cmds[0].0.contains(junit_path), "{}", merge_cmds[0].0);

    let dir = tempfile::tempdir().unwrap();
    let _mocks = fleet_in(dir.path());
    let run_id = "4711";
    let fill = |line: &str, shard: &str| {
        let filled = line
            .replace("${{ matrix.shard }}", shard)
            .replace("${{ strategy.job-total }}", &matrix.len().to_string())
            .replace("${{ github.run_id }}", run_id);
        assert!(
            !filled.contains("${{"),
            "an expression the test does not fill: {filled}"
        );
        filled
    };
    for shard in &matrix {
        let (line, env) = &shard_cmds[0];
        let o = bash(dir.path(), &fill(line, shard), env);
        let (out, err) = fleet::text(&o);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "shard {shard}: {out}{err}"
        );
        assert!(out.contains(&format!("shards {shard}/")), "{out}");
    }
    let (line, env) = &merge_cmds[0];
    let merged = bash(dir.path(), &fill(line, ""), env);
    check_merged(dir.path(), &merged, matrix.len(), run_id);
}

#[test]
fn the_gitlab_parallel_job_shards_the_fleet_and_merges_the_reports() {
    let doc = load("gitlab-fleet.yml");
    let shard_job = &doc["ontap-conform-shard"];
    let n = shard_job["parallel"].as_u64().expect("parallel: N") as usize;
    assert!(n >= 2);
    let report_job = &doc["ontap-conform-report"];
    assert_eq!(report_job["when"].as_str(), Some("always"));
    let stages: Vec<&str> = doc["stages"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let stage = |job: &Value| {
        let s = job["stage"].as_str().unwrap();
        stages.iter().position(|x| *x == s).unwrap()
    };
    assert!(
        stage(shard_job) < stage(report_job),
        "the merge runs in a later stage, with the shards' artifacts"
    );
    let lines = |job: &Value| -> Vec<String> {
        job["script"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|l| harness_lines(l.as_str().unwrap()))
            .collect()
    };
    let shard_cmds = lines(shard_job);
    let merge_cmds = lines(report_job);
    assert_eq!(shard_cmds.len(), 1, "{shard_cmds:?}");
    assert_eq!(merge_cmds.len(), 1, "{merge_cmds:?}");
    let junit_path = report_job["artifacts"]["reports"]["junit"]
        .as_str()
        .unwrap();
    assert!(merge_cmds[0].contains(junit_path), "{}", merge_cmds[0]);
    let pipeline = "9001";

    let dir = tempfile::tempdir().unwrap();
    let _mocks = fleet_in(dir.path());
    let secret = vec![("ONTAP_PASSWORD".to_string(), PASSWORD.to_string())];
    for k in 1..=n {
        let mut env = secret.clone();
        env.push(("CI_NODE_INDEX".into(), k.to_string()));
        env.push(("CI_NODE_TOTAL".into(), n.to_string()));
        env.push(("CI_PIPELINE_ID".into(), pipeline.into()));
        let o = bash(dir.path(), &shard_cmds[0], &env);
        let (out, err) = fleet::text(&o);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "shard {k}: {out}{err}"
        );
        assert!(out.contains(&format!("shards {k}/{n}")), "{out}");
    }
    let merged = bash(dir.path(), &merge_cmds[0], &secret);
    check_merged(dir.path(), &merged, n, pipeline);
}
