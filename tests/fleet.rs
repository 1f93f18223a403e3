//! A fleet of clusters (issue 22): `run --all-targets` against several mock processes, its exit
//! code and the worst-first order, one baseline per target under --record/--compare DIR, `--shard
//! K/N` (checked, deterministic, named in the reports) and `report merge` (the verdicts of one
//! unsharded run; refusals that name both files and values; nothing re-introduced that the
//! original reports redacted).

mod common;

use common::fleet::{self, config, mock, run_in, text, unreachable_url, verdicts};
use serde_json::Value;
use std::path::Path;

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn names(fleet_json: &Value) -> Vec<String> {
    fleet_json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_fleet_is_summarised_worst_first_and_exits_with_its_worst_target() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = mock(&[]);
    let faulty = mock(&["--fault", "wrong-type"]);
    let before = mock(&[]);
    let refusing = fleet::mock_with_password(&[], "another-password");
    // Before the upgrade: one baseline per target under base/<name>/.
    let targets = [
        ("ok", ok.url.as_str()),
        ("faulty", faulty.url.as_str()),
        ("upgraded", before.url.as_str()),
    ];
    std::fs::write(d.join("before.toml"), config("cases = 4", &targets)).unwrap();
    let o = run_in(
        d,
        &[
            "run",
            "--config",
            "before.toml",
            "--all-targets",
            "--seed",
            "5",
            "--record",
            "base",
        ],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    for name in ["ok", "faulty", "upgraded"] {
        assert!(
            d.join("base").join(name).join("recording.json").is_file(),
            "no baseline for {name}: {out}{err}"
        );
    }
    // After: "upgraded" is an older release now (endpoints vanish: drift), "gone" is not
    // reachable, "refusing" refuses the password.
    let after = mock(&["--ontap-version", "9.13.1"]);
    let gone = unreachable_url();
    let targets = [
        ("ok", ok.url.as_str()),
        ("faulty", faulty.url.as_str()),
        ("upgraded", after.url.as_str()),
        ("gone", gone.as_str()),
        ("refusing", refusing.url.as_str()),
    ];
    std::fs::write(d.join("after.toml"), config("", &targets)).unwrap();
    let compare = [
        "run",
        "--config",
        "after.toml",
        "--all-targets",
        "--compare",
        "base",
        "--parallel-targets",
        "3",
        "--report",
        "json=fleet.json",
        "--report",
        "junit=fleet.xml",
    ];
    // A target without a baseline is refused before anything runs, naming it.
    let o = run_in(d, &compare);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(err.contains("target gone:"), "{err}");
    assert!(!d.join("fleet.json").exists(), "nothing is written");
    for name in ["gone", "refusing"] {
        common::files::copy_dir(&d.join("base/ok"), &d.join("base").join(name));
    }
    let o = run_in(d, &compare);
    let (out, err) = text(&o);
    // Worst first: 2 (refused), 3 (unreachable), 4 (drift), 1 (failed), 0.
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    let rows: Vec<(&str, &str)> = out
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("EXIT  TARGET"))
        .skip(1)
        .take_while(|l| !l.starts_with("fleet:"))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() > 2 && w[0].parse::<u8>().is_ok()).then(|| (w[0], w[1]))
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("2", "refusing"),
            ("3", "gone"),
            ("4", "upgraded"),
            ("1", "faulty"),
            ("0", "ok")
        ],
        "{out}"
    );
    assert!(
        out.contains("1 of 5 refused, 1 of 5 unreachable or stopped, 1 of 5 drifted, 1 of 5 failed, 1 of 5 passed; exit 2"),
        "{out}"
    );
    assert!(err.contains("[5/5]"), "progress per target: {err}");
    let v = json(&d.join("fleet.json"));
    assert_eq!(names(&v), ["refusing", "gone", "upgraded", "faulty", "ok"]);
    let codes: Vec<u64> = v["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["exit_code"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [2, 3, 4, 1, 0]);
    assert_eq!(v["summary"]["exit_code"], 2);
    let upgraded = &v["targets"][2];
    assert!(upgraded["drift"].as_u64().unwrap() > 0, "{upgraded}");
    assert_eq!(upgraded["report"]["target_name"], "upgraded");
    assert_eq!(upgraded["report"]["seed"], 5, "the baseline's seed");
    let junit = std::fs::read_to_string(d.join("fleet.xml")).unwrap();
    assert_eq!(junit.matches("<testsuite ").count(), 5, "{junit}");
    assert!(junit.contains("type=\"drift\""), "{junit}");
    assert!(junit.contains("type=\"unreachable\""), "{junit}");

    // Without the refusing and unreachable ones, drift (4) is the worst.
    let targets = [
        ("ok", ok.url.as_str()),
        ("faulty", faulty.url.as_str()),
        ("upgraded", after.url.as_str()),
    ];
    std::fs::write(d.join("three.toml"), config("", &targets)).unwrap();
    let o = run_in(
        d,
        &[
            "run",
            "--config",
            "three.toml",
            "--all-targets",
            "--compare",
            "base",
            "-q",
        ],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(4), "{out}{err}");
    assert!(err.is_empty(), "-q: {err}");
}

#[test]
fn a_bad_target_in_the_config_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = mock(&[]);
    let mut cfg = config("", &[("ok", ok.url.as_str())]);
    cfg.push_str("\n[[targets]]\nname = \"nopw\"\nurl = \"http://127.0.0.1:9\"\npassword_env = \"NOT_SET_ANYWHERE\"\n");
    std::fs::write(d.join("fleet.toml"), cfg).unwrap();
    let o = run_in(
        d,
        &[
            "run",
            "--config",
            "fleet.toml",
            "--all-targets",
            "--record",
            "base",
            "--report",
            "json=fleet.json",
        ],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(
        err.contains("target nopw:") && err.contains("NOT_SET_ANYWHERE"),
        "{err}"
    );
    assert!(!d.join("fleet.json").exists());
    assert!(!d.join("base").exists(), "no half-made baseline directory");
    // --all-targets without --config, and with --target: usage errors before anything.
    let o = run_in(d, &["run", "--all-targets"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run_in(
        d,
        &[
            "run",
            "--config",
            "fleet.toml",
            "--all-targets",
            "--parallel-targets",
            "0",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--parallel-targets 0: expected 1 to"));
}

#[test]
fn shard_values_are_checked_and_name_the_form() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for bad in ["0/4", "5/4", "x", "4/0", "1/4/2"] {
        let o = run_in(
            d,
            &[
                "run",
                "--shard",
                bad,
                "--seed",
                "1",
                "--report",
                "json=r.json",
            ],
        );
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{bad}: {out}{err}");
        assert!(
            err.contains(&format!("--shard {bad}:")) && err.contains("expected K/N with 1 ≤ K ≤ N"),
            "{bad}: {err}"
        );
        assert!(!d.join("r.json").exists(), "{bad}: a report was written");
    }
    // Shards of one run must generate the same cases: a seed is required.
    let o = run_in(d, &["run", "--shard", "1/2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("--shard 1/2 needs --seed"),
        "{:?}",
        text(&o)
    );
}

/// Runs share `shard` of the built-in mock's families with this seed into `file`.
fn shard_of_mock(d: &Path, shard: &str, seed: &str, file: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "run", "--shard", shard, "--seed", seed, "--cases", "4", "-q", "--report",
    ];
    let dest = format!("json={file}");
    args.push(&dest);
    args.extend_from_slice(extra);
    let o = run_in(d, &args);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{shard}: {:?}",
        text(&o)
    );
    json(&d.join(file))
}

#[test]
fn the_same_shard_picks_the_same_families_and_reports_name_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = shard_of_mock(d, "2/3", "9", "a.json", &[]);
    let b = shard_of_mock(d, "2/3", "9", "b.json", &[]);
    assert_eq!(a["shard"], b["shard"]);
    assert_eq!(a["shard"]["k"], 2);
    assert_eq!(a["shard"]["n"], 3);
    assert_eq!(a["contract"], "built-in");
    assert_eq!(a["seed"], 9);
    let fams = a["shard"]["families"].as_array().unwrap();
    assert_eq!(fams.len(), 1, "{fams:?}");
    // Every row is of the shard's families, and the three shares cover every family once.
    for r in a["results"].as_array().unwrap() {
        assert_eq!(&r["family"], &fams[0], "{r}");
    }
    let mut all: Vec<String> = Vec::new();
    for k in 1..=3 {
        let r = shard_of_mock(d, &format!("{k}/3"), "9", &format!("s{k}.json"), &[]);
        for f in r["shard"]["families"].as_array().unwrap() {
            all.push(f.as_str().unwrap().to_string());
        }
    }
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(all, sorted, "each family once, in name order");
    assert!(all.len() >= 3, "{all:?}");
    // More shards than families: the last share has nothing to do, says so, and sends nothing.
    let n = all.len() + 1;
    let empty = shard_of_mock(d, &format!("{n}/{n}"), "9", "empty.json", &[]);
    assert_eq!(empty["results"], serde_json::json!([]));
    assert_eq!(empty["figures"]["requests"], 0);
    assert_eq!(empty["shard"]["families"], serde_json::json!([]));
}

#[test]
fn shards_of_a_fleet_merge_into_the_verdicts_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = mock(&[]);
    let b = mock(&["--fault", "wrong-type"]);
    // Two targets, four shards: a target is split between two shards.
    std::fs::write(
        d.join("fleet.toml"),
        config(
            "cases = 4\nseed = 3",
            &[("a", a.url.as_str()), ("b", b.url.as_str())],
        ),
    )
    .unwrap();
    let mut files = Vec::new();
    for k in 1..=4 {
        let f = format!("shard{k}.json");
        let o = run_in(
            d,
            &[
                "run",
                "--config",
                "fleet.toml",
                "--all-targets",
                "--shard",
                &format!("{k}/4"),
                "-q",
                "--report",
                &format!("json={f}"),
            ],
        );
        assert!(matches!(o.status.code(), Some(0 | 1)), "{:?}", text(&o));
        files.push(f);
    }
    let split: Vec<usize> = files
        .iter()
        .map(|f| json(&d.join(f))["targets"].as_array().unwrap().len())
        .collect();
    assert!(split.contains(&2), "a shard holds parts of both: {split:?}");
    let mut args = vec!["report", "merge", "merged.json", "junit=merged.xml", "--"];
    args.extend(files.iter().map(String::as_str));
    let o = run_in(d, &args);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let whole = run_in(
        d,
        &[
            "run",
            "--config",
            "fleet.toml",
            "--all-targets",
            "-q",
            "--report",
            "json=whole.json",
        ],
    );
    assert_eq!(whole.status.code(), Some(1));
    let (x, y) = (
        verdicts(&d.join("whole.json")),
        verdicts(&d.join("merged.json")),
    );
    assert!(x.len() > 100);
    assert_eq!(x, y);
    let merged = json(&d.join("merged.json"));
    assert_eq!(names(&merged), ["b", "a"]);
    for t in merged["targets"].as_array().unwrap() {
        let whole_t = json(&d.join("whole.json"))["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == t["name"])
            .unwrap()
            .clone();
        assert_eq!(
            t["report"]["summary"], whole_t["report"]["summary"],
            "{}",
            t["name"]
        );
    }
    // A shard missing: the merge says so and exits 3.
    let o = run_in(
        d,
        &["report", "merge", "part.json", "--", &files[0], &files[1]],
    );
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(out.contains("shard 3/4 is MISSING"), "{out}");
    assert_eq!(
        json(&d.join("part.json"))["missing_shards"],
        serde_json::json!(["3/4", "4/4"])
    );
}

#[test]
fn merge_refuses_what_would_mislead_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    shard_of_mock(d, "1/2", "1", "one.json", &[]);
    shard_of_mock(d, "2/2", "2", "two.json", &[]);
    let o = run_in(
        d,
        &["report", "merge", "m.json", "--", "one.json", "two.json"],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(
        err.contains("seed 1 in one.json") && err.contains("seed 2 in two.json"),
        "{err}"
    );
    assert!(!d.join("m.json").exists());
    // Another contract: the same families from a directory.
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
    let specs = specs.to_str().unwrap();
    shard_of_mock(d, "2/2", "1", "dir.json", &["--specs", specs]);
    let o = run_in(
        d,
        &["report", "merge", "m.json", "--", "one.json", "dir.json"],
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("one.json judged by the contract \"built-in\"")
            && err.contains(&format!("dir.json by \"{specs}\"")),
        "{err}"
    );
    // The same shard twice, a whole run and a shard of the same target, shards of other N.
    shard_of_mock(d, "1/3", "1", "third.json", &[]);
    for (files, says) in [
        (["one.json", "one.json"], "give each once"),
        (["one.json", "third.json"], "shards of one run share N"),
    ] {
        let mut args = vec!["report", "merge", "m.json", "--"];
        args.extend(files);
        let o = run_in(d, &args);
        assert_eq!(o.status.code(), Some(2), "{files:?}");
        assert!(text(&o).1.contains(says), "{files:?}: {}", text(&o).1);
    }
    // Not a report; an output that is an input; a format the name does not tell.
    std::fs::write(d.join("junk.json"), "{\"hello\": 1}").unwrap();
    for (args, says) in [
        (
            vec!["m.json", "--", "junk.json"],
            "junk.json: not an ontap-conform JSON report",
        ),
        (
            vec!["one.json", "--", "one.json"],
            "both an output and an input",
        ),
        (vec!["m.txt", "--", "one.json"], "cannot tell the format"),
        (
            vec!["json=m.json", "--", "missing.json"],
            "missing.json: cannot read it",
        ),
    ] {
        let mut all = vec!["report", "merge"];
        all.extend(args.iter());
        let o = run_in(d, &all);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(text(&o).1.contains(says), "{args:?}: {}", text(&o).1);
        assert!(!d.join("m.json").exists());
    }
}

#[test]
fn merged_reports_hold_no_secret_the_originals_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let extra = ["--fault", "leak-secret"];
    let one = shard_of_mock(d, "1/2", "4", "one.json", &extra);
    let two = shard_of_mock(d, "2/2", "4", "two.json", &extra);
    let o = run_in(
        d,
        &[
            "report", "merge", "m.json", "m.xml", "m.html", "--", "one.json", "two.json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let fixtures: Value = serde_json::from_str(include_str!("../src/mock/fixtures.json")).unwrap();
    let mut secrets = Vec::new();
    collect_secrets(&fixtures, &mut secrets);
    assert!(secrets.len() >= 3, "{secrets:?}");
    let redacted_in = one.to_string().matches("<redacted>").count()
        + two.to_string().matches("<redacted>").count();
    assert!(redacted_in > 0, "the leak-secret fault was not caught");
    for f in ["m.json", "m.xml", "m.html"] {
        let text = std::fs::read_to_string(d.join(f)).unwrap();
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{f} holds the secret {s}");
        }
    }
    let merged = std::fs::read_to_string(d.join("m.json")).unwrap();
    assert_eq!(merged.matches("<redacted>").count(), redacted_in);
}

/// Every `secret_key` value of the mock's data set.
fn collect_secrets(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match x {
                    Value::String(s) if k == "secret_key" => out.push(s.clone()),
                    _ => collect_secrets(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_secrets(x, out)),
        _ => {}
    }
}

#[test]
fn an_interrupted_fleet_restores_the_running_target_and_starts_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mocks = [mock(&[]), mock(&[]), mock(&[])];
    let targets: Vec<(&str, &str)> = ["a", "b", "c"]
        .iter()
        .zip(&mocks)
        .map(|(n, m)| (*n, m.url.as_str()))
        .collect();
    std::fs::write(d.join("fleet.toml"), config("cases = 5000", &targets)).unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let before = rt.block_on(common::snapshot(&mocks[0].url));
    let child = common::bin::oc()
        .args([
            "run",
            "--config",
            "fleet.toml",
            "--all-targets",
            "--parallel-targets",
            "1",
            "--check",
            "patch-roundtrip",
            "--seed",
            "4",
            "--report",
            "json=fleet.json",
        ])
        .current_dir(d)
        .env("ONTAP_PASSWORD", fleet::PASSWORD)
        .env("XDG_STATE_HOME", d.join("state"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until the first target is being changed, then interrupt.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while rt.block_on(common::snapshot(&mocks[0].url)) == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never changed a"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let o = child.wait_with_output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(err.contains("a: interrupted by SIGINT"), "{err}");
    assert_eq!(
        rt.block_on(common::snapshot(&mocks[0].url)),
        before,
        "every record of a is back"
    );
    let v = json(&d.join("fleet.json"));
    let why = |name: &str| {
        v["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["why"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(why("a").starts_with("interrupted"), "{}", why("a"));
    for name in ["b", "c"] {
        assert_eq!(why(name), "not started: the fleet was interrupted");
    }
    let journals: Vec<_> = std::fs::read_dir(d.join("state"))
        .map(|r| r.flatten().collect())
        .unwrap_or_default();
    let left: Vec<_> = journals
        .iter()
        .flat_map(|e| walk(&e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "journal"))
        .collect();
    assert!(left.is_empty(), "journals left: {left:?}");
}

/// Every file under `p`.
fn walk(p: &Path) -> Vec<std::path::PathBuf> {
    if p.is_dir() {
        std::fs::read_dir(p)
            .unwrap()
            .flatten()
            .flat_map(|e| walk(&e.path()))
            .collect()
    } else {
        vec![p.to_path_buf()]
    }
}
