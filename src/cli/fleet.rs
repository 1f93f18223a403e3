//! `run --config FILE --all-targets`: every target of the config file, several at once
//! (`--parallel-targets N`), each with its own configuration as `run --target-name NAME` would
//! make it (its own rate, journal, restore), one seed for all, `--record DIR` and `--compare DIR`
//! as one baseline per target under DIR/<name>/, and with `--shard K/N` only this shard's
//! (target, family) pairs ([`ontap_conform::run::shard`]). Every target's configuration is checked
//! before the first request; the reports are one fleet report ([`ontap_conform::report::fleet`]); the
//! exit code is the worst target's.

use super::config::{Layers, Settings};
use super::run::config;
use super::{Env, RunArgs, out};
use ontap_conform::error::{Error, Result};
use ontap_conform::record;
use ontap_conform::report::fleet::{End, Fleet, FleetTarget};
use ontap_conform::report::{self, Format, Report};
use ontap_conform::run::config::RunConfig;
use ontap_conform::run::events::{Event, Observer};
use ontap_conform::run::facts_before_run;
use ontap_conform::run::shard::Shard;
use ontap_conform::run::{self, RunOutcome};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Targets run at once by default: a few, each mostly waiting on its cluster.
pub const DEFAULT_PARALLEL_TARGETS: usize = 4;
/// The most `--parallel-targets`.
pub const MAX_PARALLEL_TARGETS: usize = 64;

/// One target's configuration, ready to run.
struct Planned {
    name: String,
    cfg: RunConfig,
    /// Where its recording goes: DIR/<name>/ under --record DIR.
    record: Option<PathBuf>,
}

/// What the fleet runs: every target's configuration (this shard's share of it), the fleet's
/// report destinations, its seed, how many targets run at once and the shard.
struct Plan {
    targets: Vec<Planned>,
    reports: Vec<(Format, PathBuf)>,
    seed: Option<u64>,
    parallel: usize,
    shard: Option<Shard>,
}

/// A target's entry of the fleet, and the error that should end the fleet after its reports
/// are written (a recording that could not be written).
type Done = (FleetTarget, Option<Error>);

/// Checks the fleet's settings and builds every target's configuration, as `run --target-name
/// NAME` would for each; nothing is sent and nothing written (but an empty --record directory,
/// removed again on a refusal) before all of them are good.
fn plan(a: &RunArgs, env: &Env) -> Result<Plan> {
    let layers = Layers::read(a, env)?;
    let Some(file) = &layers.file else {
        return Err(Error::Usage("--all-targets runs every target of a config file: give --config FILE (its [[targets]] list the clusters)".into()));
    };
    if file.targets.is_empty() {
        return Err(Error::Usage(format!(
            "--config {}: no [[targets]]; --all-targets needs at least one",
            file.path.display()
        )));
    }
    // The fleet's own settings: the file's top level, the environment and the flags (a
    // target's table applies to that target only).
    let top = Settings::default()
        .under(&file.top)
        .under(&layers.env)
        .under(&layers.flags);
    if layers.env.target.is_some() || a.target.target.is_some() {
        return Err(Error::Usage(
            "--all-targets runs every target of the config file: drop --target and ONTAP_CONFORM_TARGET (or drop --all-targets to run one)".into(),
        ));
    }
    let parallel = top.parallel_targets.unwrap_or(DEFAULT_PARALLEL_TARGETS);
    if parallel == 0 || parallel > MAX_PARALLEL_TARGETS {
        return Err(Error::Usage(format!(
            "--parallel-targets {parallel}: expected 1 to {MAX_PARALLEL_TARGETS}"
        )));
    }
    let shard: Option<Shard> = match &top.shard {
        Some(t) => Some(t.parse()?),
        None => None,
    };
    if top.journal.is_some() {
        return Err(Error::Usage(
            "--journal names one journal for every target; with --all-targets each target keeps its own (by default one file per target under the state directory, or the journal of its [[targets]] table): drop --journal, ONTAP_CONFORM_JOURNAL and the top-level journal".into(),
        ));
    }
    if shard.is_some() && top.seed.is_none() && top.compare.is_none() {
        return Err(Error::Usage(format!(
            "--shard {} needs --seed S (or seed in the config file): every shard must generate the same cases for report merge to put them together",
            top.shard.as_deref().unwrap_or("")
        )));
    }
    // One seed for every target (with --compare, each replays its baseline's).
    let seed = match (top.seed, &top.compare) {
        (_, Some(_)) => None,
        (Some(s), None) => Some(s),
        (None, None) => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            Some((t.as_nanos() as u64 ^ std::process::id() as u64) % 1_000_000)
        }
    };
    // The fleet writes its own reports: one fleet report per destination.
    let mut reports = Vec::new();
    for r in top.reports.iter().flatten() {
        let (fmt, p) = super::run::report_destination(r)?;
        super::run::check_report_destination(&p)?;
        reports.push((fmt, p));
    }
    // --record DIR: one directory per target under DIR.
    let mut made_dir = None;
    if let Some(dir) = &top.record {
        super::run::check_record_destination(dir)?;
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            made_dir = Some(dir.clone());
        }
    }
    let planned = each_target(env, &layers, file.target_names(), seed, &top);
    let mut targets = match planned {
        Ok(p) => p,
        Err(e) => {
            if let Some(d) = made_dir {
                let _ = std::fs::remove_dir(d);
            }
            return Err(e);
        }
    };
    if let Some(shard) = shard {
        let names: Vec<String> = targets.iter().map(|p| p.name.clone()).collect();
        let families = run::shard::families_of(&targets[0].cfg);
        let share = shard.of_fleet(&names, &families);
        targets.retain(|p| share.contains_key(&p.name));
        for p in &mut targets {
            p.cfg.shard = Some(shard);
            p.cfg.shard_families = Some(share[&p.name].clone());
            run::shard::narrow(&mut p.cfg);
        }
    }
    Ok(Plan {
        targets,
        reports,
        seed,
        parallel,
        shard,
    })
}

/// Every target's configuration: its settings as `--target-name NAME` merges them, with the
/// fleet's seed, its baseline under DIR/<name>/, and no shard or report of its own.
fn each_target(
    env: &Env,
    layers: &Layers,
    names: Vec<&str>,
    seed: Option<u64>,
    top: &Settings,
) -> Result<Vec<Planned>> {
    let mut planned = Vec::new();
    let mut journals: Vec<(String, PathBuf)> = Vec::new();
    for name in names {
        let named = |e: Error| match e {
            Error::Usage(m) => Error::Usage(format!("target {name}: {m}")),
            Error::Io { path, source } => Error::Usage(format!("target {name}: {path}: {source}")),
            other => other,
        };
        let mut s = layers.merged(Some(name)).map_err(named)?;
        if s.seed.is_none() {
            s.seed = seed;
        }
        s.record = top.record.as_ref().map(|d| d.join(name));
        s.compare = top.compare.as_ref().map(|d| d.join(name));
        // The fleet cuts its shard over every target, and writes the reports.
        s.shard = None;
        s.reports = None;
        let mut cfg = config(&s, env, true).map_err(named)?;
        cfg.target_name = Some(name.to_string());
        if let Some(j) = &cfg.journal {
            if let Some((other, _)) = journals.iter().find(|(_, p)| p == j) {
                return Err(Error::Usage(format!(
                    "targets {other} and {name} share the restore journal {} (the same URL?); a fleet runs each cluster once",
                    j.display()
                )));
            }
            journals.push((name.to_string(), j.clone()));
        }
        planned.push(Planned {
            name: name.to_string(),
            cfg,
            record: s.record.clone(),
        });
    }
    Ok(planned)
}

/// The fleet target of one run's outcome (or of the error it ended with).
fn target_of(p: &Planned, result: Result<RunOutcome>) -> Done {
    let errored = |why: String| {
        let mut r = Report::errored(facts_before_run(&p.cfg), why);
        run::describe(&p.cfg, &mut r);
        r
    };
    match result {
        Ok(o) => {
            let mut trouble = None;
            if let (Some(dir), Some(rec)) = (&p.record, &o.recording)
                && let Err(e) = record::write(dir, rec)
            {
                trouble = Some(e);
            }
            (
                FleetTarget::new(p.name.clone(), o.report, Vec::new(), None),
                trouble,
            )
        }
        Err(Error::Unreachable(why)) => (
            FleetTarget::new(p.name.clone(), errored(why), Vec::new(), None),
            None,
        ),
        Err(e) => {
            let why = e.to_string();
            (
                FleetTarget::new(
                    p.name.clone(),
                    errored(why.clone()),
                    Vec::new(),
                    Some((End::Refused, format!("refused: {why}"))),
                ),
                None,
            )
        }
    }
}

/// Set by SIGINT, SIGTERM or SIGHUP: no target starts after it (those running restore).
static STOPPING: AtomicBool = AtomicBool::new(false);

/// What a target's run tells, for the terminal: no progress line (several run at once), its
/// signals, stops and warnings on standard error, each with the target's name. A third signal
/// ends the process with exit 5, as a single run does; the journals stay for `restore`.
struct TargetObserver {
    name: String,
}

impl Observer for TargetObserver {
    fn event(&self, e: &Event<'_>) {
        let n = &self.name;
        match *e {
            Event::Signal {
                name,
                count,
                journal,
            } => {
                STOPPING.store(true, Ordering::SeqCst);
                match count {
                    1 => eprintln!(
                        "{n}: interrupted by {name}: no new changes; restoring every record the run changed…"
                    ),
                    2 => {}
                    _ => {
                        if let Some(j) = journal {
                            eprintln!(
                                "{n}: {name}: stopped before the restore finished; run `ontap-conform restore --journal {}`",
                                j.display()
                            );
                        }
                        std::process::exit(i32::from(super::exit::CHANGED));
                    }
                }
            }
            Event::Stopping(why) => {
                eprintln!("{n}: {why}: stopping; restoring every record the run changed…")
            }
            Event::Warning(w) => eprintln!("{n}: warning: {w}"),
            _ => {}
        }
    }
    fn wants_exchanges(&self) -> bool {
        false
    }
    fn wants_ticks(&self) -> bool {
        false
    }
}

/// `run --all-targets`.
pub fn main(a: &RunArgs, env: &Env) -> Result<()> {
    let quiet = a.quiet;
    let plan = plan(a, env)?;
    let planned = &plan.targets;
    let parallel = plan.parallel.min(planned.len().max(1));
    if !quiet {
        eprintln!(
            "fleet: {}{}, {parallel} at a time (--parallel-targets), seed {}",
            report::fleet::plural(planned.len(), "target"),
            plan.shard
                .map(|s| format!(", shard {s}"))
                .unwrap_or_default(),
            plan.seed
                .map_or("of each baseline".to_string(), |s| s.to_string())
        );
    }
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Done>>> = Mutex::new((0..planned.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..parallel {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(p) = planned.get(i) else { break };
                    let t0 = Instant::now();
                    let result = if STOPPING.load(Ordering::SeqCst) {
                        not_started(p)
                    } else {
                        let observer = Arc::new(TargetObserver {
                            name: p.name.clone(),
                        });
                        target_of(p, run::run_observed(&p.cfg, observer))
                    };
                    let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                    if !quiet {
                        eprintln!(
                            "[{n}/{}] {}: {} ({:.1} s)",
                            planned.len(),
                            p.name,
                            result.0.why.lines().next().unwrap_or(""),
                            t0.elapsed().as_secs_f64()
                        );
                    }
                    results.lock().unwrap()[i] = Some(result);
                }
            });
        }
    });
    let mut targets = Vec::new();
    let mut trouble = None;
    for r in results.into_inner().unwrap().into_iter().flatten() {
        targets.push(r.0);
        if trouble.is_none() {
            trouble = r.1;
        }
    }
    let contract = planned
        .first()
        .map(|p| p.cfg.spec.source.clone())
        .unwrap_or_default();
    let shards = plan.shard.iter().map(ToString::to_string).collect();
    let fleet = Fleet::new(contract, targets, shards, Vec::new(), &super::exit::of_end);
    if !quiet {
        // With a report on standard output, everything else goes to standard error.
        let to_stderr = plan.reports.iter().any(|(_, p)| p.as_os_str() == "-");
        let text = details(&fleet, env.color(!to_stderr));
        if to_stderr {
            eprint!("{text}");
        } else {
            out(&text)?;
        }
        eprintln!("fleet done in {:.1} s", started.elapsed().as_secs_f64());
    }
    super::report::write_outputs(&plan.reports, &fleet, false)?;
    if let Some(e) = trouble {
        return Err(e);
    }
    match fleet.error() {
        None => Ok(()),
        // The summary above says it all.
        Some(Error::Failed(_)) => Err(Error::Failed(String::new())),
        Some(Error::Drift(_)) => Err(Error::Drift(String::new())),
        Some(e) => Err(e),
    }
}

/// A target the fleet did not start: it was interrupted first.
fn not_started(p: &Planned) -> Done {
    let why = "not started: the fleet was interrupted";
    let mut r = Report::errored(facts_before_run(&p.cfg), String::new());
    r.error = None;
    r.interrupted = true;
    r.stopped = Some(why.into());
    run::describe(&p.cfg, &mut r);
    (
        FleetTarget::new(
            p.name.clone(),
            r,
            Vec::new(),
            Some((End::Failed, why.into())),
        ),
        None,
    )
}

/// Before the fleet summary: each target that did not pass, with what fails it (as `run -q`
/// prints it) and its drift.
fn details(f: &Fleet, color: bool) -> String {
    let style = report::Style { quiet: true, color };
    let mut o = String::new();
    for t in f.targets.iter().filter(|t| t.end != End::Passed) {
        o.push_str(&format!(
            "== {} (exit {}: {})\n",
            t.name, t.exit_code, t.why
        ));
        if t.report.error.is_none() {
            o.push_str(&report::render_with(&t.report, style));
        }
        if let Some(d) = t.report.drift.as_ref().filter(|d| !d.is_empty()) {
            o.push_str(&record::render(d, "the baseline", &t.name));
        }
        o.push('\n');
    }
    o
}
