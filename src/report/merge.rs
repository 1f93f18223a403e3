//! `report merge`: JSON reports of shards or targets (single runs' reports, or fleet reports of
//! `run --all-targets`, or of an earlier merge) become one [`Fleet`]. Reports of one target are
//! combined into one report; that is only done when they are shares of one run, so merging
//! refuses, naming both files and both values, what would mislead: two contracts, a target
//! given twice (or overlapping shards), shards of one target with different seeds, case
//! counts, modes or strictness, and shards of different N. Nothing is re-derived from outside
//! the reports: every text in them was redacted when the run wrote it, and is copied as it is.

use super::fleet::{End, Fleet, FleetTarget, KIND};
use super::{Report, Summary, Verdict, check_index};
use crate::error::{Error, Result};
use crate::verdict::Severity;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One target's report as found in an input file.
#[derive(Debug, Clone)]
pub struct Unit {
    /// The file it came from, for messages.
    pub file: String,
    /// The target's name (its config name, else its URL; `built-in mock` for the mock).
    pub name: String,
    pub report: Report,
    /// The shards it covers (empty: a whole run).
    pub shards: Vec<(u32, u32)>,
    /// How its run said it ended, when a fleet report recorded it.
    pub end: Option<(End, String)>,
}

/// What one input file holds: its targets, and the shards it reports (a shard with no work
/// still reports itself).
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// The file, for messages.
    pub file: String,
    /// The contract it was judged by (a fleet report says so even without targets).
    pub contract: String,
    pub units: Vec<Unit>,
    pub shards: Vec<(u32, u32)>,
}

/// The name a report's target goes by in a fleet.
pub fn target_name(r: &Report) -> String {
    if let Some(n) = &r.target_name {
        return n.clone();
    }
    // The built-in mock listens on a new port every run.
    if r.target.starts_with("built-in mock") {
        return "built-in mock".into();
    }
    r.target.clone()
}

fn parse_shard(file: &str, s: &str) -> Result<(u32, u32)> {
    let bad = || {
        Error::Usage(format!(
            "report merge: {file}: the shard {s:?} is not K/N; expected a report written by ontap-conform"
        ))
    };
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n) = (
        k.parse::<u32>().map_err(|_| bad())?,
        n.parse::<u32>().map_err(|_| bad())?,
    );
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// Reads one input: a run's JSON report or a fleet report.
pub fn read(path: &Path) -> Result<Input> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Usage(format!(
            "report merge: {file}: cannot read it ({e}); expected a JSON report (--report json=FILE)"
        ))
    })?;
    let not_a_report = |why: String| {
        Error::Usage(format!(
            "report merge: {file}: not an ontap-conform JSON report ({why}); expected the file of --report json=FILE or of report merge json=FILE"
        ))
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| not_a_report(e.to_string()))?;
    if v.get("kind").and_then(|k| k.as_str()) == Some(KIND) {
        let fleet: Fleet = serde_json::from_value(v).map_err(|e| not_a_report(e.to_string()))?;
        let mut shards = Vec::new();
        for s in &fleet.shards {
            shards.push(parse_shard(&file, s)?);
        }
        let mut units = Vec::new();
        for t in fleet.targets {
            let mut ts = Vec::new();
            for s in &t.shards {
                ts.push(parse_shard(&file, s)?);
            }
            if ts.is_empty()
                && let Some(s) = &t.report.shard
            {
                ts.push((s.k, s.n));
            }
            units.push(Unit {
                file: file.clone(),
                name: t.name,
                report: t.report,
                shards: ts,
                end: Some((t.end, t.why)),
            });
        }
        return Ok(Input {
            file,
            contract: fleet.contract,
            units,
            shards,
        });
    }
    if v.get("results").is_none() || v.get("tool").is_none() {
        return Err(not_a_report("no tool and results fields".into()));
    }
    let report: Report = serde_json::from_value(v).map_err(|e| not_a_report(e.to_string()))?;
    let shards: Vec<(u32, u32)> = report.shard.iter().map(|s| (s.k, s.n)).collect();
    Ok(Input {
        file: file.clone(),
        contract: report.contract.clone(),
        units: vec![Unit {
            file,
            name: target_name(&report),
            shards: shards.clone(),
            report,
            end: None,
        }],
        shards,
    })
}

fn shard_text((k, n): (u32, u32)) -> String {
    format!("{k}/{n}")
}

fn shards_text(s: &[(u32, u32)]) -> String {
    if s.is_empty() {
        "a whole run (no --shard)".into()
    } else {
        let v: Vec<String> = s.iter().map(|x| shard_text(*x)).collect();
        format!("shard {}", v.join(", "))
    }
}

fn contract_text(c: &str) -> String {
    if c.is_empty() {
        "(not named: a report of an older ontap-conform)".into()
    } else {
        format!("{c:?}")
    }
}

/// Merges the inputs into one fleet (`code`: the exit code of each end); a refusal is a usage error (exit 2) that names the two
/// files and their values.
pub fn merge(inputs: Vec<Input>, code: &dyn Fn(End) -> u8) -> Result<Fleet> {
    let refuse = |m: String| Err(Error::Usage(format!("report merge: {m}")));
    let units: Vec<&Unit> = inputs.iter().flat_map(|i| &i.units).collect();
    // One contract.
    let sources = inputs
        .iter()
        .map(|i| (i.file.as_str(), i.contract.as_str()))
        .chain(
            units
                .iter()
                .map(|u| (u.file.as_str(), u.report.contract.as_str())),
        );
    let mut first: Option<(&str, &str)> = None;
    for (file, contract) in sources {
        match first {
            None => first = Some((file, contract)),
            Some((f0, c0)) if c0 != contract => {
                return refuse(format!(
                    "{f0} judged by the contract {} and {file} by {}; merge reports of one contract",
                    contract_text(c0),
                    contract_text(contract)
                ));
            }
            Some(_) => {}
        }
    }
    // One N among the shards.
    let mut shard_files: Vec<(&str, (u32, u32))> = Vec::new();
    for i in &inputs {
        let file = i.units.first().map_or("", |u| u.file.as_str());
        for s in &i.shards {
            shard_files.push((file, *s));
        }
        for u in &i.units {
            for s in &u.shards {
                shard_files.push((&u.file, *s));
            }
        }
    }
    if let Some((fa, a)) = shard_files.first() {
        if let Some((fb, b)) = shard_files.iter().find(|(_, b)| b.1 != a.1) {
            return refuse(format!(
                "{fa} is shard {} and {fb} shard {}: shards of one run share N; merge the shards of one --shard K/N set",
                shard_text(*a),
                shard_text(*b)
            ));
        }
    }
    // By target: shares of one run, each once.
    let mut by_target: BTreeMap<&str, Vec<&Unit>> = BTreeMap::new();
    for u in &units {
        by_target.entry(u.name.as_str()).or_default().push(u);
    }
    let mut targets = Vec::new();
    for (name, group) in &by_target {
        for (i, a) in group.iter().enumerate() {
            for b in &group[i + 1..] {
                let overlap = a.shards.is_empty()
                    || b.shards.is_empty()
                    || a.shards.iter().any(|s| b.shards.contains(s));
                if overlap {
                    return refuse(format!(
                        "the target {name} is in {} ({}) and in {} ({}): a target's reports are merged only when they are different shards of one run; give each once",
                        a.file,
                        shards_text(&a.shards),
                        b.file,
                        shards_text(&b.shards)
                    ));
                }
                let (ra, rb) = (&a.report, &b.report);
                let mode = |r: &Report| {
                    serde_json::to_value(r.mode)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default()
                };
                for (what, va, vb) in [
                    ("seed", ra.seed.to_string(), rb.seed.to_string()),
                    (
                        "cases per property",
                        ra.cases_per_property.to_string(),
                        rb.cases_per_property.to_string(),
                    ),
                    ("mode", mode(ra), mode(rb)),
                    ("strict", ra.strict.to_string(), rb.strict.to_string()),
                ] {
                    if va != vb {
                        return refuse(format!(
                            "the target {name} has {what} {va} in {} and {what} {vb} in {}: shards of one target must be one run (give every shard the same --seed, --cases and mode)",
                            a.file, b.file
                        ));
                    }
                }
            }
        }
        let mut shards: Vec<(u32, u32)> = group.iter().flat_map(|u| u.shards.clone()).collect();
        shards.sort_unstable();
        let report = combine(group.iter().map(|u| &u.report).collect());
        // How a fleet report said a target ended stands for one report as it is; for shards
        // combined, the counts are made again, and only a refusal (which the report's content
        // cannot tell from an unreachable target) is kept.
        let recorded = if group.len() == 1 {
            group[0].end.clone()
        } else {
            group
                .iter()
                .filter_map(|u| u.end.clone())
                .filter(|(e, _)| *e == End::Refused)
                .min_by(|a, b| a.0.cmp(&b.0))
        };
        let shards_shown = shards.iter().map(|s| shard_text(*s)).collect();
        targets.push(FleetTarget::new(
            name.to_string(),
            report,
            shards_shown,
            recorded,
        ));
    }
    let present: BTreeSet<(u32, u32)> = shard_files.iter().map(|(_, s)| *s).collect();
    let missing: Vec<String> = match present.iter().next() {
        Some(&(_, n)) => (1..=n)
            .filter(|k| !present.contains(&(*k, n)))
            .map(|k| shard_text((k, n)))
            .collect(),
        None => Vec::new(),
    };
    let contract = first.map(|(_, c)| c.to_string()).unwrap_or_default();
    Ok(Fleet::new(
        contract,
        targets,
        present.iter().map(|s| shard_text(*s)).collect(),
        missing,
        code,
    ))
}

/// One report from the reports of one target's shards: rows, findings, restore problems,
/// coverage, drift, sampling and latency put together, the summary and the families counted
/// again, requests and cases added up, the wall time of the longest shard.
pub fn combine(reports: Vec<&Report>) -> Report {
    let mut it = reports.into_iter();
    let mut out = it.next().expect("one report at least").clone();
    let rest: Vec<&Report> = it.collect();
    if rest.is_empty() {
        out.families = super::families::summarize(&out);
        return out;
    }
    let mut versions: Vec<String> = vec![out.ontap_version.clone()];
    let mut errors: Vec<String> = out.error.iter().cloned().collect();
    let mut stopped: Vec<String> = out.stopped.iter().cloned().collect();
    for r in rest {
        versions.push(r.ontap_version.clone());
        errors.extend(r.error.iter().cloned());
        stopped.extend(r.stopped.iter().cloned());
        if out.target.is_empty() {
            out.target = r.target.clone();
        }
        out.interrupted |= r.interrupted;
        out.results.extend(r.results.iter().cloned());
        out.findings.extend(r.findings.iter().cloned());
        out.restore_problems
            .extend(r.restore_problems.iter().cloned());
        out.coverage.extend(r.coverage.iter().cloned());
        out.sampling
            .families
            .extend(r.sampling.families.iter().cloned());
        out.latency.extend(r.latency.iter().cloned());
        if let Some(d) = &r.drift {
            out.drift.get_or_insert_with(Vec::new).extend(d.clone());
        }
        let (a, b) = (&mut out.figures, &r.figures);
        a.requests += b.requests;
        a.cases += b.cases;
        a.wall_seconds = a.wall_seconds.max(b.wall_seconds);
        a.requests_per_second += b.requests_per_second;
        a.peak_rate = a.peak_rate.max(b.peak_rate);
        a.retries += b.retries;
        if let (Some(x), Some(s)) = (out.shard.as_mut(), &r.shard) {
            x.families.extend(s.families.iter().cloned());
        }
    }
    versions.retain(|v| v != "unknown");
    versions.sort();
    versions.dedup();
    out.ontap_version = if versions.is_empty() {
        "unknown".into()
    } else {
        versions.join(" and ")
    };
    out.error = (!errors.is_empty()).then(|| errors.join("; "));
    out.stopped = (!stopped.is_empty()).then(|| stopped.join("; "));
    // A combined report is no longer one share: the fleet target lists its shards.
    out.shard = None;
    out.results.sort_by(|a, b| {
        (&a.endpoint, check_index(&a.check)).cmp(&(&b.endpoint, check_index(&b.check)))
    });
    out.findings.sort_by(super::finding_order);
    out.coverage.sort_by(|a, b| a.family.cmp(&b.family));
    out.sampling
        .families
        .sort_by(|a, b| a.family.cmp(&b.family));
    out.latency
        .sort_by(|a, b| (&a.endpoint, &a.method).cmp(&(&b.endpoint, &b.method)));
    out.summary = count(&out);
    out.families = super::families::summarize(&out);
    out
}

/// The summary of a report, counted from its rows and findings.
fn count(r: &Report) -> Summary {
    let rows = |v: Verdict| r.results.iter().filter(|x| x.verdict == v).count();
    let findings = |s: Severity| r.findings.iter().filter(|f| f.severity == s).count();
    Summary {
        passed: rows(Verdict::Passed),
        failed: rows(Verdict::Failed),
        warnings: rows(Verdict::Warning),
        skipped: rows(Verdict::Skipped),
        failures: findings(Severity::Failure),
        warning_findings: findings(Severity::Warning),
    }
}
