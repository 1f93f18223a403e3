//! The conformance engine: start or reach the target, discover it, plan every (check, endpoint)
//! pair from the registry (version, safety mode, --check/--endpoint), run the read checks
//! concurrently and the write checks family by family, restore every record it changed (also on
//! Ctrl-C), and return what happened. It prints nothing and never picks an exit code or ends the
//! process: it tells an [`events::Observer`] what happens, and the command line renders that and
//! picks the exit code.

pub mod config;
mod coverage;
mod discover;
pub mod events;
mod plan;
pub mod shard;

pub use discover::discover_version;

use crate::checks::ctx::{Ctx, Settings};
use crate::client::{Client, ClientConfig, Credentials, Trust};
use crate::error::{Error, Result};
use crate::mock::{self, MockConfig, Role, Tls};
use crate::record::{self, Drift, Recording};
use crate::report::{Figures, Report, RunFacts};
use crate::spec::Endpoint;
use crate::undo::{Stop, journal};
use config::{RunConfig, Target};
use events::{Event, Events, Observer};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

/// What a run did: the report (with the drift when comparing), and the recording of its
/// exchanges with --record or --compare.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: Report,
    pub recording: Option<Recording>,
    /// With --compare: what changed against the baseline (also in `report.drift`).
    pub drift: Option<Vec<Drift>>,
}

/// Runs the suite on a runtime of its own with `cfg.threads` workers (for callers that are not
/// async themselves, like the command line).
pub fn run_blocking(cfg: &RunConfig) -> Result<RunOutcome> {
    run_observed(cfg, Arc::new(events::Silent))
}

/// [`run_blocking`], telling `observer` what happens as it happens.
pub fn run_observed(cfg: &RunConfig, observer: Arc<dyn Observer>) -> Result<RunOutcome> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the runtime: {e}")))?;
    rt.block_on(execute_with(cfg, Events::new(observer)))
}

/// Starts the target if it is the built-in mock, and returns the client for it, with the label
/// the summary shows (a proxy's credentials redacted).
async fn connect(
    cfg: &RunConfig,
    secrets: &Arc<crate::redact::Secrets>,
    events: &Events,
) -> Result<(Client, Option<mock::RunningMock>, String)> {
    let client_cfg = |base: String, admin: Credentials, trust: Trust| ClientConfig {
        log: events
            .exchange_sink()
            .map(|sink| crate::client::ExchangeLog {
                secrets: secrets.clone(),
                sink,
            }),
        timeout: cfg.timeout,
        concurrency: cfg.concurrency,
        max_answer_bytes: cfg.max_answer_bytes,
        tunnel_svm: cfg.tunnel_svm.clone(),
        rate: cfg.rate,
        endpoints: cfg
            .spec
            .endpoints
            .iter()
            .map(|e| e.path().to_string())
            .collect(),
        ..ClientConfig::new(base, admin, trust)
    };
    match &cfg.target {
        Target::Builtin {
            version,
            faults,
            variants,
            fixtures,
        } => {
            let mut mc = MockConfig::new();
            mc.spec = cfg.spec;
            mc.version = *version;
            mc.faults = faults.clone();
            mc.variants = variants.clone();
            mc.fixtures = fixtures.clone();
            let admin = mc.users.iter().find(|u| u.role == Role::Admin).cloned();
            // Tunnelling replaces the SVM administrator.
            let svm = mc
                .users
                .iter()
                .find(|u| matches!(u.role, Role::Vsadmin { .. }))
                .filter(|_| cfg.tunnel_svm.is_none())
                .cloned();
            let running =
                mock::spawn(mc, "127.0.0.1:0".parse().expect("address"), Tls::SelfSigned).await?;
            let trust = running
                .ca_pem
                .clone()
                .map(Trust::CaPem)
                .unwrap_or(Trust::Insecure);
            let admin = admin
                .ok_or_else(|| Error::Internal("the built-in mock has no admin user".into()))?;
            // On loopback, never through a proxy.
            let client = Client::new(ClientConfig {
                svm: svm.map(|u| Credentials::new(u.name, u.password)),
                ..client_cfg(
                    running.base_url.clone(),
                    Credentials::new(admin.name, admin.password),
                    trust,
                )
            })
            .map_err(|e| Error::Internal(e.to_string()))?;
            let label = format!("built-in mock {}", running.base_url);
            Ok((client, Some(running), label))
        }
        Target::Remote {
            url,
            admin,
            svm,
            trust,
            proxy,
            identity,
        } => {
            let client = Client::new(ClientConfig {
                svm: svm.clone(),
                proxy: proxy.clone(),
                identity: identity.clone(),
                ..client_cfg(url.clone(), admin.clone(), trust.clone())
            })?;
            let label = match client.proxy() {
                Some(p) => format!("{url} via proxy {p}"),
                None => url.clone(),
            };
            Ok((client, None, label))
        }
    }
}

/// What a report says about the run besides its results: the contract, the target's name in
/// the config file, the shard, each row's family and the per-family summary. `execute` calls it; the command line calls
/// it too for the report of a run that never reached its target.
pub fn describe(cfg: &RunConfig, report: &mut Report) {
    report.contract = cfg.spec.source.clone();
    report.target_name = cfg.target_name.clone();
    report.shard = cfg.shard.map(|s| crate::report::ShardInfo {
        k: s.k,
        n: s.n,
        families: cfg.shard_families.clone().unwrap_or_default(),
    });
    for r in &mut report.results {
        if let Some(e) = cfg.spec.endpoint(&r.endpoint) {
            r.family = e.family.clone();
        }
    }
    report.families = crate::report::families::summarize(report);
}

/// What the report can say about a run that never got to its target.
pub fn facts_before_run(cfg: &RunConfig) -> RunFacts {
    let target = match &cfg.target {
        Target::Builtin { .. } => "built-in mock".to_string(),
        Target::Remote { url, .. } => url_without_password(url),
    };
    RunFacts {
        target,
        ontap_version: "unknown".into(),
        mode: cfg.mode,
        seed: cfg.seed,
        cases_per_property: cfg.cases,
        strict: cfg.strict,
        interrupted: false,
        stopped: None,
    }
}

/// A target URL as reports may show it: a password written into it (`https://u:pw@host`) is
/// replaced.
fn url_without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("REDACTED"));
            u.to_string().trim_end_matches('/').to_string()
        }
        _ => url.to_string(),
    }
}

/// The report of a share that holds no work on this target (`--shard K/N` with fewer families
/// than shards): nothing is sent, the target is not even reached.
fn empty_share(cfg: &RunConfig) -> RunOutcome {
    let mut report = Report::errored(facts_before_run(cfg), String::new());
    report.error = None;
    describe(cfg, &mut report);
    RunOutcome {
        report,
        recording: None,
        drift: None,
    }
}

/// Runs the suite and returns what happened (without printing a summary or exiting).
pub async fn execute(cfg: &RunConfig) -> Result<RunOutcome> {
    execute_with(cfg, Events::new(Arc::new(events::Silent))).await
}

/// [`execute`], telling the events to their observer.
pub async fn execute_with(cfg: &RunConfig, events: Events) -> Result<RunOutcome> {
    if cfg.shard_families.as_ref().is_some_and(Vec::is_empty) {
        return Ok(empty_share(cfg));
    }
    let start = Instant::now();
    // One run at a time against a target: another run's lock refuses this one before anything
    // is sent (held until the run ends).
    let _lock = match (&cfg.lock, &cfg.target) {
        (Some(path), Target::Remote { url, .. }) => {
            Some(crate::undo::lock::TargetLock::acquire(path.clone(), url)?)
        }
        _ => None,
    };
    // An unfinished journal of an earlier run refuses the run before anything is sent.
    let journal =
        match (&cfg.journal, &cfg.target) {
            (Some(path), Target::Remote { url, admin, .. }) => Some(Arc::new(
                journal::Journal::start(path.clone(), url, &admin.user)?,
            )),
            _ => None,
        };
    // A run that ends in an error before or without changing anything leaves no journal behind
    // (`finish` keeps a journal that has an unrestored entry).
    let drop_if_empty = |j: &Option<Arc<journal::Journal>>| {
        if let Some(j) = j {
            let _ = j.finish();
        }
    };
    // The secrets no output may show, the `-v` log included.
    let secrets = Arc::new(crate::redact::Secrets::default());
    let (client, running, label) = match connect(cfg, &secrets, &events).await {
        Ok(c) => c,
        Err(e) => {
            drop_if_empty(&journal);
            return Err(e);
        }
    };
    let outcome = run_with(
        cfg,
        client,
        &label,
        start,
        journal.clone(),
        secrets,
        &events,
    )
    .await;
    if let Some(m) = running {
        m.shutdown().await;
    }
    if outcome.is_err() {
        drop_if_empty(&journal);
    }
    let (mut report, recording) = outcome?;
    describe(cfg, &mut report);
    let drift = match (&cfg.compare, &recording) {
        (Some(b), Some(rec)) => {
            let d = record::diff_with(&b.recording, rec, cfg.latency_drift);
            report.drift = Some(d.clone());
            Some(d)
        }
        _ => None,
    };
    Ok(RunOutcome {
        report,
        recording,
        drift,
    })
}

/// Stops the run's changes on SIGINT, SIGTERM or SIGHUP: the first lets requests in flight finish
/// and then restores. Each is told to the observer, which decides what a third one means (the
/// command line ends the process and leaves the journal for `ontap-conform restore`).
#[cfg(unix)]
fn watch_signals(
    stop: Arc<Stop>,
    journal: Option<std::path::PathBuf>,
    events: Events,
) -> tokio::task::JoinHandle<()> {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        for count in 1.. {
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
                _ = hup.recv() => "SIGHUP",
            };
            if count == 1 {
                stop.now(format!("interrupted by {name}"));
            }
            events.emit(Event::Signal {
                name,
                count,
                journal: journal.as_deref(),
            });
        }
    })
}

/// The first value another run of the harness wrote in the records discovery read (see
/// [`crate::undo::foreign`]).
fn foreign_anywhere(ctx: &Ctx) -> Option<String> {
    for (family, records) in &ctx.records {
        let Some(inst) = ctx.spec.endpoints.iter().find(|e| {
            &e.family == family
                && matches!(
                    e.kind(),
                    crate::spec::model::Kind::Instance | crate::spec::model::Kind::Singleton
                )
        }) else {
            continue;
        };
        // Only a record whose text holds the mark can hold a value another run wrote.
        let mut marked = Vec::new();
        records.each_text(|t| {
            if t.contains(crate::generate::MARK)
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(t)
            {
                marked.push(v);
            }
        });
        for r in marked {
            let path = crate::undo::instance_path(inst, &r).unwrap_or_else(|| family.clone());
            if let Some(why) = crate::undo::foreign(ctx.spec, inst, &path, &r) {
                return Some(why);
            }
        }
    }
    None
}

/// How long the final restore may take: the settle time after a write that got no answer, then
/// ten request timeouts (at least a minute).
fn restore_bound(ctx: &Ctx) -> std::time::Duration {
    let t = ctx.client.timeout();
    let doubt = if ctx.undo.had_doubt() {
        ctx.undo.settle()
    } else {
        std::time::Duration::ZERO
    };
    doubt + (t * 10).max(std::time::Duration::from_secs(60))
}

/// Runs the schedule: the reads all at once, then each family's writes one after the other
/// (families side by side), restoring the family after each write check.
///
/// Never dropped half-way: after a stop, every request in flight finishes or times out (the
/// checks send nothing new), so that nothing lands after the restore has read a record back.
async fn drive(ctx: &Arc<Ctx>, schedule: plan::Schedule, progress: &Events) {
    // Checks still to end, per family: the last one's end tells the family done.
    let left = Arc::new(std::sync::Mutex::new(schedule.per_family()));
    let ended = {
        let progress = progress.clone();
        move |family: &str| {
            let mut left = left.lock().unwrap();
            if let Some(n) = left.get_mut(family) {
                *n -= 1;
                if *n == 0 {
                    progress.emit(Event::FamilyDone(family));
                }
            }
        }
    };
    let ended = Arc::new(ended);
    let plan::Schedule { reads, writes } = schedule;
    let mut set = tokio::task::JoinSet::new();
    for (f, name, ep) in reads {
        let ctx = ctx.clone();
        let progress = progress.clone();
        let ended = ended.clone();
        set.spawn(async move {
            if ctx.stop.requested() {
                ctx.findings
                    .skip(name, ep, crate::checks::findings::NOT_RUN);
                return ended(&ep.family);
            }
            let id = progress.begin(&format!("{name} {}", ep.path()));
            f(&ctx, ep).await;
            progress.end(id);
            ended(&ep.family);
        });
    }
    while set.join_next().await.is_some() {}
    let mut set = tokio::task::JoinSet::new();
    for (_, list) in writes {
        let ctx = ctx.clone();
        let progress = progress.clone();
        let ended = ended.clone();
        set.spawn(async move {
            for (f, name, ep) in list {
                if ctx.stop.requested() {
                    ctx.findings
                        .skip(name, ep, crate::checks::findings::NOT_RUN);
                    ended(&ep.family);
                    continue;
                }
                let id = progress.begin(&format!("{name} {}", ep.path()));
                f(&ctx, ep).await;
                ctx.undo.restore(Some(&ep.family)).await;
                progress.end(id);
                ended(&ep.family);
            }
        });
    }
    while set.join_next().await.is_some() {}
}

async fn run_with(
    cfg: &RunConfig,
    client: Client,
    label: &str,
    start: Instant,
    journal: Option<Arc<journal::Journal>>,
    secrets: Arc<crate::redact::Secrets>,
    events: &Events,
) -> Result<(Report, Option<Recording>)> {
    let progress = events.clone();
    // A signal or the deadline stops the run from here on, discovery included: it then ends
    // with a report like any stopped run.
    let stop = Arc::new(Stop::new(cfg.max_failures));
    #[cfg(unix)]
    let signals = watch_signals(
        stop.clone(),
        journal.as_ref().map(|j| j.path().to_path_buf()),
        events.clone(),
    );
    let deadline = cfg.deadline.map(|d| {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until((start + d).into()).await;
            stop.now(format!("the deadline of {} s was reached", d.as_secs_f64()));
        })
    });
    progress.reading("the target's version (GET /api/cluster)");
    let ticker = progress.ticker(&client);
    // Even the first read ends with a stop (a deadline, a signal).
    let first = tokio::select! {
        v = discover_version(&client) => v,
        _ = stop.stopped() => Err(Error::Stopped(format!(
            "{} before the target's version was read",
            stop.reason().unwrap_or_default()
        ))),
    };
    let version = match first {
        Ok(v) => v,
        Err(e) => {
            if let Some(t) = ticker {
                t.abort();
            }
            if let Some(d) = deadline {
                d.abort();
            }
            #[cfg(unix)]
            signals.abort();
            progress.emit(Event::Finished);
            return Err(e);
        }
    };
    let settings = Settings {
        mode: cfg.mode,
        builtin: matches!(cfg.target, Target::Builtin { .. }),
        cases: cfg.cases,
        seed: cfg.seed,
        sample: cfg.sample,
        selected: cfg.checks.clone(),
        max_failures: cfg.max_failures,
        writable: cfg.allow_writes.clone(),
        probes: cfg.refusal_probes,
    };
    let mut ctx = Ctx::new(cfg.spec, client, version, settings, journal.clone(), stop);
    ctx.secrets = secrets;
    ctx.secrets
        .ignore_common(crate::redact::common_values(cfg.spec));
    if cfg.record || cfg.compare.is_some() {
        ctx.recorder = Some(record::Recorder::default());
    }
    if let Target::Remote { admin, svm, .. } = &cfg.target {
        for c in std::iter::once(admin).chain(svm.as_ref()) {
            c.secrets().iter().for_each(|v| ctx.secrets.add_password(v));
        }
    }
    let endpoints: Vec<&'static Endpoint> = cfg
        .spec
        .endpoints
        .iter()
        .filter(|e| cfg.endpoints.is_empty() || cfg.endpoints.iter().any(|p| p == e.path()))
        .collect();
    // Discovery reads only the families the selected endpoints belong to (--endpoint restricts
    // what is sent, discovery included), and the parents a nested collection is read under.
    let mut wanted: BTreeSet<&str> = endpoints.iter().map(|e| e.family.as_str()).collect();
    loop {
        let parents: Vec<&str> = cfg
            .spec
            .endpoints
            .iter()
            .filter(|e| wanted.contains(e.family.as_str()))
            .filter_map(|e| cfg.spec.parent_of(e).map(|(p, _)| p.family.as_str()))
            .filter(|p| !wanted.contains(p))
            .collect();
        if parents.is_empty() {
            break;
        }
        wanted.extend(parents);
    }
    let families: Vec<&'static Endpoint> = cfg
        .spec
        .endpoints
        .iter()
        .filter(|e| wanted.contains(e.family.as_str()))
        .collect();
    let found = discover::discover_records(&ctx, &families, &progress).await;
    ctx.records = found.records;
    ctx.nested = found.nested;
    ctx.sampled = discover::sample_records(&ctx);
    // A value another run wrote, anywhere: stop before changing anything (exit 3).
    if ctx.may_write()
        && let Some(why) = foreign_anywhere(&ctx)
    {
        ctx.stop.now(why);
    }
    let ctx = Arc::new(ctx);
    let schedule = plan::plan(&ctx, &endpoints);
    progress.emit(Event::Planned {
        checks: schedule.len() as u64,
        families: schedule.per_family().len() as u64,
    });

    drive(&ctx, schedule, &progress).await;
    if let Some(d) = deadline {
        d.abort();
    }
    if let Some(t) = ticker {
        t.abort();
    }
    progress.emit(Event::Finished);
    let stopped = ctx.stop.reason();
    // The restore has a bound of its own: the settle time after a write that got no answer, and
    // ten request timeouts.
    let bound = restore_bound(&ctx);
    if let Some(why) = &stopped
        && !why.starts_with("interrupted")
    {
        events.emit(Event::Stopping(&format!(
            "{why} (the restore is bounded to {} s)",
            bound.as_secs()
        )));
    }
    // Clear earlier problems (each write check restored as it went) and verify everything once more.
    ctx.undo.clear_problems();
    if tokio::time::timeout(bound, ctx.undo.restore(None))
        .await
        .is_err()
    {
        ctx.undo.gave_up(format!(
            "the restore did not finish within its bound of {} s",
            bound.as_secs()
        ));
    }
    // Every problem: those of the final restore, and a journal that could not be updated.
    let problems = ctx.undo.problems();
    #[cfg(unix)]
    signals.abort();
    if let Some(j) = &journal
        && problems.is_empty()
        && let Err(e) = j.finish()
    {
        events.emit(Event::Warning(&format!(
            "every record is restored, but the journal stays: {e}"
        )));
    }
    Ok(report_of(
        cfg,
        &ctx,
        &endpoints,
        (label, version, start),
        stopped,
        problems,
    ))
}

/// The report of a run that got to its checks (secrets scrubbed), and the recording of its
/// exchanges when one is kept.
fn report_of(
    cfg: &RunConfig,
    ctx: &Ctx,
    endpoints: &[&'static Endpoint],
    (label, version, start): (&str, crate::spec::OntapVersion, Instant),
    stopped: Option<String>,
    problems: Vec<crate::verdict::RestoreProblem>,
) -> (Report, Option<Recording>) {
    let interrupted = stopped
        .as_deref()
        .is_some_and(|w| w.starts_with("interrupted"));
    let wall = start.elapsed().as_secs_f64();
    let requests = ctx.client.requests_sent();
    let figures = Figures {
        requests,
        cases: ctx.findings.cases_run(),
        wall_seconds: (wall * 100.0).round() / 100.0,
        requests_per_second: if wall > 0.0 {
            (requests as f64 / wall).round()
        } else {
            0.0
        },
        peak_rate: u64::from(ctx.client.peak_rate()),
        rate_limit: cfg.rate,
        retries: ctx.client.retries(),
    };
    let facts = RunFacts {
        target: label.to_string(),
        ontap_version: version.to_string(),
        mode: cfg.mode,
        seed: cfg.seed,
        cases_per_property: cfg.cases,
        strict: cfg.strict,
        interrupted,
        stopped,
    };
    let mut report = Report::build(
        facts,
        ctx.findings.outcomes(),
        ctx.findings.all(),
        figures,
        problems,
    );
    report.coverage = coverage::coverage(ctx, endpoints);
    report.sampling = coverage::sampling_of(ctx);
    report.latency = ctx.client.latency();
    report.scrub(|t| ctx.secrets.scrub(t));
    let available: Vec<&str> = endpoints
        .iter()
        .filter(|e| e.available_in(version))
        .map(|e| e.path())
        .collect();
    let recording = ctx.recorder.as_ref().map(|r| {
        r.finish(
            &version.to_string(),
            cfg.seed,
            cfg.cases,
            &available,
            &report.latency,
        )
    });
    (report, recording)
}
