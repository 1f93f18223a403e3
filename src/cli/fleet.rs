//! `run --config FILE --all-targets`: every target of the config file, several at once
//! (`--parallel-targets N`), each with its own configuration as `run --target-name NAME` would
//! make it (its own rate, journal, restore), one seed for all, `--record DIR` and `--compare DIR`
//! as one baseline per target under DIR/<name>/, and with `--shard K/N` only this shard's
//! (target, family) pairs ([`crate::run::shard`]). Every target's configuration is checked
//! before the first request; the reports are one fleet report ([`crate::report::fleet`]); the
//! exit code is the worst target's.

use super::run::{ConfigFile, config, facts_before_run, read_config};
use super::{Env, RunArgs, out};
use crate::error::{Error, Result};
use crate::record;
use crate::report::fleet::{End, Fleet, FleetTarget};
use crate::report::{self, Report};
use crate::run::config::{ReportFormat, RunConfig};
use crate::run::shard::Shard;
use crate::run::{self, RunOutcome};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// Targets run at once by default: a few, each mostly waiting on its cluster.
pub const DEFAULT_PARALLEL_TARGETS: usize = 4;
/// The most `--parallel-targets`.
pub const MAX_PARALLEL_TARGETS: usize = 64;

/// What `--all-targets` adds to `run`'s flags.
#[derive(Debug, Clone, Default)]
pub struct FleetOptions {
    /// `--parallel-targets N` (None: the default).
    pub parallel: Option<usize>,
    /// `--shard K/N`.
    pub shard: Option<Shard>,
}

/// One target's configuration, ready to run.
struct Planned {
    name: String,
    cfg: RunConfig,
}

/// Every target's configuration, the fleet's report destinations and its seed.
type Plan = (Vec<Planned>, Vec<(ReportFormat, PathBuf)>, u64);

/// A target's entry of the fleet, and the error that should end the fleet after its reports
/// are written (a recording that could not be written).
type Done = (FleetTarget, Option<Error>);

/// Checks the fleet's flags and builds every target's configuration; nothing is sent and
/// nothing written (but an empty --record directory) before all of them are good.
fn plan(a: &RunArgs, opts: &FleetOptions, env: &Env) -> Result<Plan> {
    let path = a.config.clone().ok_or_else(|| {
        Error::Usage("--all-targets runs every target of a config file: give --config FILE (its [[targets]] list the clusters)".into())
    })?;
    if a.target.is_some() || a.target_name.is_some() {
        return Err(Error::Usage(
            "--all-targets runs every target of the config file: drop --target and --target-name (or drop --all-targets to run one)".into(),
        ));
    }
    let parallel = opts.parallel.unwrap_or(DEFAULT_PARALLEL_TARGETS);
    if parallel == 0 || parallel > MAX_PARALLEL_TARGETS {
        return Err(Error::Usage(format!(
            "--parallel-targets {parallel}: expected 1 to {MAX_PARALLEL_TARGETS}"
        )));
    }
    let file: ConfigFile = read_config(&path)?;
    if file.targets.is_empty() {
        return Err(Error::Usage(format!(
            "--config {}: no [[targets]]; --all-targets needs at least one",
            path.display()
        )));
    }
    if a.journal.is_some() || file.journal.is_some() {
        return Err(Error::Usage(
            "--journal names one journal; with --all-targets each target keeps its own (one file per target under the state directory): drop --journal and the config file's journal".into(),
        ));
    }
    let seed_given = a.seed.or(file.seed);
    if opts.shard.is_some() && seed_given.is_none() && a.compare.is_none() {
        return Err(Error::Usage(
            "--shard K/N needs --seed S (or seed in the config file): every shard must generate the same cases for report merge to put them together".into(),
        ));
    }
    let seed = seed_given.unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (t.as_nanos() as u64 ^ std::process::id() as u64) % 1_000_000
    });
    // The fleet writes its own reports: one fleet report per destination.
    let mut reports = Vec::new();
    let list = if a.reports.is_empty() {
        &file.reports
    } else {
        &a.reports
    };
    for r in list {
        let (fmt, p) = super::run::report_destination(r)?;
        super::run::check_report_destination(&p)?;
        reports.push((fmt, p));
    }
    // --record DIR: one directory per target under DIR (made now, removed again if a target's
    // configuration is refused below).
    let mut made_dir = None;
    if let Some(dir) = &a.record {
        super::run::check_record_destination(dir)?;
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            made_dir = Some(dir.clone());
        }
    }
    let planned = (|| {
        let mut planned = Vec::new();
        let mut journals: Vec<(String, PathBuf)> = Vec::new();
        for t in &file.targets {
            let mut ta = a.clone();
            ta.target_name = Some(t.name.clone());
            // The fleet cuts its shard over every target, below.
            ta.shard = None;
            ta.reports = Vec::new();
            ta.no_progress = true;
            ta.quiet = true;
            if a.compare.is_none() {
                ta.seed = Some(seed);
            }
            ta.record = a.record.as_ref().map(|d| d.join(&t.name));
            ta.compare = a.compare.as_ref().map(|d| d.join(&t.name));
            let mut cfg = config(ta, env).map_err(|e| match e {
                Error::Usage(m) => Error::Usage(format!("target {}: {m}", t.name)),
                Error::Io { path, source } => {
                    Error::Usage(format!("target {}: {path}: {source}", t.name))
                }
                other => other,
            })?;
            cfg.target_name = Some(t.name.clone());
            if let Some(j) = &cfg.journal {
                if let Some((other, _)) = journals.iter().find(|(_, p)| p == j) {
                    return Err(Error::Usage(format!(
                        "targets {other} and {} share the restore journal {} (the same URL?); a fleet runs each cluster once",
                        t.name,
                        j.display()
                    )));
                }
                journals.push((t.name.clone(), j.clone()));
            }
            planned.push(Planned {
                name: t.name.clone(),
                cfg,
            });
        }
        Ok(planned)
    })();
    let mut planned: Vec<Planned> = match planned {
        Ok(p) => p,
        Err(e) => {
            if let Some(d) = made_dir {
                let _ = std::fs::remove_dir(d);
            }
            return Err(e);
        }
    };
    if let Some(shard) = opts.shard {
        let names: Vec<String> = planned.iter().map(|p| p.name.clone()).collect();
        let families = run::shard::families_of(&planned[0].cfg);
        let share = shard.of_fleet(&names, &families);
        planned.retain(|p| share.contains_key(&p.name));
        for p in &mut planned {
            p.cfg.shard = Some(shard);
            p.cfg.shard_families = Some(share[&p.name].clone());
            run::shard::narrow(&mut p.cfg);
        }
    }
    Ok((planned, reports, seed))
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
            if let (Some(dir), Some(rec)) = (&p.cfg.record, &o.recording)
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

/// Watches for the signals that stop a fleet, on a thread of its own.
fn watch_signals() {
    #[cfg(unix)]
    std::thread::spawn(|| {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                return;
            };
            tokio::select! {
                _ = int.recv() => {},
                _ = term.recv() => {},
                _ = hup.recv() => {},
            }
            STOPPING.store(true, Ordering::SeqCst);
        });
    });
}

/// `run --all-targets`.
pub fn main(a: RunArgs, opts: FleetOptions, env: &Env) -> Result<()> {
    let quiet = a.quiet;
    let (planned, reports, seed) = plan(&a, &opts, env)?;
    let parallel = opts
        .parallel
        .unwrap_or(DEFAULT_PARALLEL_TARGETS)
        .min(planned.len().max(1));
    let shard_text = opts
        .shard
        .map(|s| format!(", shard {s}"))
        .unwrap_or_default();
    if !quiet {
        eprintln!(
            "fleet: {} targets{shard_text}, {parallel} at a time (--parallel-targets), seed {}",
            planned.len(),
            if a.compare.is_some() {
                "of each baseline".to_string()
            } else {
                seed.to_string()
            }
        );
    }
    watch_signals();
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
                        let mut r = Report::errored(facts_before_run(&p.cfg), String::new());
                        r.error = None;
                        r.interrupted = true;
                        r.stopped = Some("not started: the fleet was interrupted".into());
                        run::describe(&p.cfg, &mut r);
                        (
                            FleetTarget::new(
                                p.name.clone(),
                                r,
                                Vec::new(),
                                Some((
                                    End::Failed,
                                    "not started: the fleet was interrupted".into(),
                                )),
                            ),
                            None,
                        )
                    } else {
                        target_of(p, run::run_blocking(&p.cfg))
                    };
                    let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                    if !quiet {
                        eprintln!(
                            "[{n}/{}] {} exit {}: {} ({:.1} s)",
                            planned.len(),
                            p.name,
                            result.0.exit_code,
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
    let shards = opts.shard.iter().map(ToString::to_string).collect();
    let fleet = Fleet::new(contract, targets, shards, Vec::new());
    if !quiet {
        details(&fleet, env)?;
        eprintln!("fleet done in {:.1} s", started.elapsed().as_secs_f64());
    }
    super::report::write_outputs(&reports, &fleet, false)?;
    if let Some(e) = trouble {
        return Err(e);
    }
    match fleet.error() {
        None => Ok(()),
        Some(Error::Failed(_)) => Err(Error::Failed(String::new())),
        Some(Error::Drift(_)) => Err(Error::Drift(String::new())),
        Some(e) => Err(e),
    }
}

/// Before the fleet summary: each target that did not pass, with what fails it (as `run -q`
/// prints it) and its drift.
fn details(f: &Fleet, env: &Env) -> Result<()> {
    let style = report::Style {
        quiet: true,
        color: env.color(true),
    };
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
    out(&o)
}
