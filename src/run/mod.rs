//! The conformance engine: start or reach the target, discover it, plan every (check, endpoint)
//! pair from the registry (version, safety mode, --check/--endpoint), run the read checks
//! concurrently and the write checks family by family, restore every record it changed (also on
//! Ctrl-C), and return what happened. It prints nothing and never picks an exit code or ends the
//! process: it tells an [`events::Observer`] what happens, and the command line renders that and
//! picks the exit code.

pub mod config;
pub mod events;

use crate::checks::ctx::{Ctx, Settings};
use crate::checks::{self, Applies, CheckFn, Needs};
use crate::client::{Client, ClientConfig, Credentials, PAGE_RECORDS, Request, Trust, next_path};
use crate::error::{Error, Result};
use crate::mock::{self, MockConfig, Role, Tls};
use crate::record::{self, Drift, Recording};
use crate::report::{Figures, Report, RunFacts};
use crate::spec::model::{Kind, Method};
use crate::spec::{Endpoint, OntapVersion};
use crate::undo::{Stop, journal};
use config::{RunConfig, Target};
use events::{Event, Events, Observer};
use serde_json::Value;
use std::collections::BTreeMap;
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
            .map_err(Error::Internal)?;
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
            })
            .map_err(Error::Usage)?;
            let label = match client.proxy() {
                Some(p) => format!("{url} via proxy {p}"),
                None => url.clone(),
            };
            Ok((client, None, label))
        }
    }
}

/// Reads the ONTAP version from /api/cluster; anything else ends the run with exit 3 (or 2 for
/// refused credentials). A transport failure is one line, with a hint when the cause is common:
/// an untrusted certificate, or a URL whose scheme does not match what the port speaks.
pub async fn discover_version(client: &Client) -> Result<OntapVersion> {
    let x = match client
        .send(Request::get("/api/cluster?fields=version,name,uuid"))
        .await
    {
        Ok(x) => x,
        Err(e) => {
            let m = &e.0;
            let https = client.base_url().starts_with("https://");
            let hint = if m.contains("certificate") || m.contains("UnknownIssuer") {
                " (the certificate is not trusted: use --ca-cert FILE, or --insecure)"
            } else if https && (m.contains("InvalidContentType") || m.contains("corrupt message")) {
                " (this port speaks plain HTTP: use http://)"
            } else if !https
                && !m.starts_with("timed out")
                && !m.contains("Connection refused")
                && client.port_speaks_tls().await
            {
                " (this port speaks TLS: use https://)"
            } else {
                ""
            };
            return Err(Error::Unreachable(format!(
                "{}: {m}{hint}",
                client.base_url()
            )));
        }
    };
    let r = &x.response;
    if r.status == 401 || r.status == 403 {
        return Err(Error::Usage(format!(
            "{} refused the credentials of {} ({})",
            client.base_url(),
            client.admin_user(),
            r.status
        )));
    }
    let json = r.json.as_ref().filter(|_| r.is_success()).ok_or_else(|| {
        Error::Unreachable(format!(
            "{} answered GET /api/cluster with {} {}, not ONTAP JSON",
            client.base_url(),
            r.status,
            r.content_type.as_deref().unwrap_or("(no content type)")
        ))
    })?;
    let v = json.get("version").ok_or_else(|| {
        Error::Unreachable(format!(
            "{}: GET /api/cluster has no version; not ONTAP-like",
            client.base_url()
        ))
    })?;
    let num = |k: &str| v.get(k).and_then(Value::as_u64).map(|n| n as u32);
    if let (Some(g), Some(m)) = (num("generation"), num("major")) {
        return Ok(OntapVersion::new(g, m, num("minor").unwrap_or(0)));
    }
    let full = v.get("full").and_then(Value::as_str).unwrap_or("");
    full.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find_map(|w| w.parse::<OntapVersion>().ok())
        .ok_or_else(|| {
            Error::Unreachable(format!(
                "{}: cannot read an ONTAP version from {v}",
                client.base_url()
            ))
        })
}

/// The records of each family the per-record checks touch: `--sample` of them, by the seed.
fn sample_records(ctx: &Ctx) -> BTreeMap<String, Vec<Value>> {
    let mut out = BTreeMap::new();
    for (family, records) in &ctx.records {
        // A family without a collection (a singleton) is taken whole.
        if !ctx
            .spec
            .endpoints
            .iter()
            .any(|e| &e.family == family && e.kind() == Kind::Collection)
        {
            out.insert(family.clone(), records.iter().collect());
            continue;
        }
        let ids: Vec<&str> = records.ids().collect();
        let picked = checks::read::choose_sample(ctx.settings.seed, ctx.settings.sample, &ids);
        out.insert(family.clone(), records.pick(&picked));
    }
    out
}

/// What the report says about the sample: per family, the records found and those sampled.
fn sampling_of(ctx: &Ctx) -> crate::report::Sampling {
    let families = ctx
        .records
        .iter()
        .map(|(family, records)| {
            let ep = ctx.spec.endpoints.iter().find(|e| &e.family == family);
            let sampled = ctx
                .sampled
                .get(family)
                .map(|v| {
                    v.iter()
                        .map(|r| ep.map_or_else(String::new, |e| checks::read::identity(e, ctx, r)))
                        .collect()
                })
                .unwrap_or_default();
            crate::report::SampledFamily {
                family: family.clone(),
                records: records.len(),
                sampled,
            }
        })
        .collect();
    crate::report::Sampling {
        per_family: ctx.settings.sample,
        families,
    }
}

/// Reads every record of each family: GET collection?fields=** (all fields, the costly ones
/// too), following next links, or the one record of a singleton family. Instance-only families
/// have no list to read.
async fn discover_records(
    ctx: &Ctx,
    endpoints: &[&'static Endpoint],
    progress: &Events,
) -> BTreeMap<String, checks::records::Records> {
    let mut out: BTreeMap<String, checks::records::Records> = BTreeMap::new();
    let mut eps: Vec<&'static Endpoint> = endpoints
        .iter()
        .copied()
        .filter(|e| {
            matches!(e.kind(), Kind::Collection | Kind::Singleton)
                && e.has(Method::GET)
                && e.available_in(ctx.version)
        })
        .collect();
    // Parents before the collections nested under them.
    eps.sort_by_key(|e| e.path_keys().len());
    for ep in eps {
        let mut records = checks::records::Records::default();
        for base in collection_paths(ctx, ep, &out) {
            read_all(ctx, ep, &base, &mut records, progress).await;
        }
        out.insert(ep.family.clone(), records);
    }
    out
}

/// How many records of a parent family a nested collection is read under.
const NESTED_PARENTS: usize = 3;

/// The paths a collection is read at: its own, or for a nested one
/// (`/api/storage/volumes/{volume.uuid}/snapshots`) one per record of its parent read so far,
/// up to [`NESTED_PARENTS`]; none when the parent has no record.
fn collection_paths(
    ctx: &Ctx,
    ep: &Endpoint,
    read: &BTreeMap<String, checks::records::Records>,
) -> Vec<String> {
    if ep.kind() != Kind::Collection || ep.path_keys().is_empty() {
        return vec![ep.path().to_string()];
    }
    let Some((parent, pairs)) = ctx.spec.parent_of(ep) else {
        return Vec::new();
    };
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    read.get(&parent.family)
        .map(|recs| {
            recs.iter()
                .filter_map(|r| {
                    let vals: Vec<(&str, String)> = pairs
                        .iter()
                        .map(|(theirs, mine)| {
                            Some((
                                mine.as_str(),
                                text(crate::spec::resource::get_path(&r, theirs)?)?,
                            ))
                        })
                        .collect::<Option<_>>()?;
                    let refs: Vec<(&str, &str)> =
                        vals.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    Some(ep.render(&refs))
                })
                .take(NESTED_PARENTS)
                .collect()
        })
        .unwrap_or_default()
}

/// Reads every record at one collection path (following next links), or a singleton's one.
async fn read_all(
    ctx: &Ctx,
    ep: &'static Endpoint,
    base: &str,
    records: &mut checks::records::Records,
    progress: &Events,
) {
    {
        let mut path = match ep.kind() {
            Kind::Collection => format!("{base}?fields=**&max_records={PAGE_RECORDS}"),
            _ => format!("{base}?fields=**"),
        };
        for _ in 0..100_000 {
            progress.reading(&format!(
                "the records of {}, {} so far",
                ep.family,
                records.len()
            ));
            let Some(x) = ctx
                .send("response-schema", ep, Request::get(path.clone()))
                .await
            else {
                break;
            };
            let found: Vec<&Value> = match ep.kind() {
                Kind::Singleton => x
                    .response
                    .json
                    .as_deref()
                    .filter(|_| x.response.is_success())
                    .into_iter()
                    .collect(),
                _ => x.response.records().into_iter().flatten().collect(),
            };
            for r in found {
                records.push(checks::read::identity(ep, ctx, r), r);
            }
            match x.response.json.as_deref().and_then(next_path) {
                Some(next) => path = next,
                None => break,
            }
        }
    }
}

/// Runs the suite and returns what happened (without printing a summary or exiting).
pub async fn execute(cfg: &RunConfig) -> Result<RunOutcome> {
    execute_with(cfg, Events::new(Arc::new(events::Silent))).await
}

/// [`execute`], telling the events to their observer.
pub async fn execute_with(cfg: &RunConfig, events: Events) -> Result<RunOutcome> {
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

/// Why the checks of a collection under a parent's key are not run: their records are read
/// through the parent's and judged on their own instance path.
const NESTED_SKIP: &str = "a nested collection: its records are read under their parent's and checked on their instance path; collection checks on nested paths are not run yet";

/// The plan: every (check, endpoint) pair either runs, or is skipped with the reason.
struct Plan {
    reads: Vec<(CheckFn, &'static str, &'static Endpoint)>,
    /// Write checks by family: one family's checks run one after the other.
    writes: BTreeMap<String, Vec<(CheckFn, &'static str, &'static Endpoint)>>,
}

fn plan(ctx: &Ctx, endpoints: &[&'static Endpoint]) -> Plan {
    let mut plan = Plan {
        reads: Vec::new(),
        writes: BTreeMap::new(),
    };
    let version = ctx.version;
    for c in checks::CHECKS.iter().filter(|c| ctx.selected(c.name)) {
        for ep in endpoints {
            let available = ep.available_in(version);
            let why_not = match (c.applies, available) {
                (Applies::Unavailable, true) => {
                    Some(format!("available in the target's {version}"))
                }
                (Applies::Unavailable, false) => None,
                (_, false) => Some(format!(
                    "introduced in {}; the target runs {version}",
                    ep.def.introduced_in
                )),
                (_, true) if c.needs == Needs::Writes && !ctx.may_write() => {
                    Some("--read-only".into())
                }
                (_, true) if c.needs == Needs::Writes && !ctx.may_write_family(&ep.family) => {
                    Some("--allow-writes does not name this family".into())
                }
                (_, true) if ep.kind() == Kind::Collection && !ep.path_keys().is_empty() => {
                    Some(NESTED_SKIP.into())
                }
                (_, true) => c.applies_to(ctx.spec, ep).err(),
            };
            if let Some(why) = why_not {
                ctx.findings.skip(c.name, ep, why);
                continue;
            }
            match c.run {
                Some(f) if c.needs == Needs::Reads => plan.reads.push((f, c.name, ep)),
                Some(f) => plan
                    .writes
                    .entry(ep.family.clone())
                    .or_default()
                    .push((f, c.name, ep)),
                None => {}
            }
        }
    }
    plan
}

/// What the run exercised of each selected family, and why the rest was not.
fn coverage(ctx: &Ctx, endpoints: &[&'static Endpoint]) -> Vec<crate::verdict::Coverage> {
    use crate::spec::model::Condition;
    let mut families: Vec<&str> = endpoints.iter().map(|e| e.family.as_str()).collect();
    families.dedup();
    let mut out = Vec::new();
    for family in families {
        let eps: Vec<&Endpoint> = endpoints
            .iter()
            .copied()
            .filter(|e| e.family == family)
            .collect();
        let done = ctx.findings.exercised_of(family);
        let has = |w: &str| done.iter().any(|d| d == w);
        let res = ctx.spec.resource_of(eps[0]);
        let record_patch = eps.iter().any(|e| {
            matches!(e.kind(), Kind::Instance | Kind::Singleton)
                && e.has(Method::PATCH)
                && e.available_in(ctx.version)
        });
        let records = ctx.records.get(family);
        let mut c = crate::verdict::Coverage {
            family: family.to_string(),
            ..Default::default()
        };
        for f in res.patchable() {
            if has(&format!("field:{}", f.path)) {
                c.round_tripped.push(f.path.clone());
                continue;
            }
            let why = if has(&format!("unread:{}", f.path)) {
                "its record's GET ?fields=** did not return it: never written without its original"
            } else if !ctx.may_write() {
                "--read-only"
            } else if !record_patch {
                "no PATCH on a record path of this family in this run"
            } else if f.flags.lockout && !ctx.may_destroy() {
                "a lock-out field: only with --allow-destructive"
            } else if f.flags.write_only && !ctx.may_destroy() {
                "write-only: it cannot be read back to be restored; only with --allow-destructive"
            } else if !f.flags.empty_unsets
                && !records.is_some_and(|rs| {
                    rs.iter()
                        .any(|r| crate::spec::resource::get_path(&r, &f.path).is_some())
                })
            {
                "no record has a value to put back afterwards"
            } else {
                "see the patch-roundtrip skips"
            };
            c.not_round_tripped.insert(f.path.clone(), why.to_string());
        }
        let mut codes: Vec<(&str, Option<Condition>)> = Vec::new();
        for e in &eps {
            for def in e.def.methods.values() {
                for err in &def.errors {
                    if !codes.iter().any(|(c, _)| *c == err.code) {
                        codes.push((err.code.as_str(), err.condition));
                    }
                }
            }
        }
        for (code, cond) in codes {
            if has(&format!("code:{code}")) {
                c.error_codes.push(code.to_string());
                continue;
            }
            let why = match cond {
                _ if !ctx.may_write() => "--read-only",
                Some(Condition::RoleDenied) if !ctx.client.has_svm_user() => {
                    "needs an SVM administrator (--svm-user)"
                }
                Some(Condition::Duplicate) if !ctx.may_destroy() => {
                    "needs a POST: --allow-destructive"
                }
                None => "no condition the harness can arrange is documented for it",
                _ => "see the error-code skips",
            };
            c.error_codes_not_provoked
                .insert(code.to_string(), why.to_string());
        }
        for m in ["PATCH", "POST"] {
            if has(&format!("unknown:{m}")) {
                c.unknown_fields_sent.push(m.to_string());
            }
        }
        out.push(c);
    }
    out
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
        let Some(inst) =
            ctx.spec.endpoints.iter().find(|e| {
                &e.family == family && matches!(e.kind(), Kind::Instance | Kind::Singleton)
            })
        else {
            continue;
        };
        for r in records.iter() {
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
        _ = crate::client::until_set(stop.flag()) => Err(Error::Stopped(format!(
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
    // what is sent, discovery included).
    let families: Vec<&'static Endpoint> = cfg
        .spec
        .endpoints
        .iter()
        .filter(|e| endpoints.iter().any(|s| s.family == e.family))
        .collect();
    ctx.records = discover_records(&ctx, &families, &progress).await;
    ctx.sampled = sample_records(&ctx);
    // A value another run wrote, anywhere: stop before changing anything (exit 3).
    if ctx.may_write()
        && let Some(why) = foreign_anywhere(&ctx)
    {
        ctx.stop.now(why);
    }
    let ctx = Arc::new(ctx);
    let Plan { reads, writes } = plan(&ctx, &endpoints);

    let total = reads.len() + writes.values().map(Vec::len).sum::<usize>();
    progress.emit(Event::Planned(total as u64));

    let work = {
        let ctx = ctx.clone();
        let progress = progress.clone();
        async move {
            let mut set = tokio::task::JoinSet::new();
            for (f, name, ep) in reads {
                let ctx = ctx.clone();
                let progress = progress.clone();
                set.spawn(async move {
                    if ctx.stop.requested() {
                        return ctx.findings.skip(name, ep, checks::findings::NOT_RUN);
                    }
                    let id = progress.begin(&format!("{name} {}", ep.path()));
                    f(&ctx, ep).await;
                    progress.end(id);
                });
            }
            while set.join_next().await.is_some() {}
            let mut set = tokio::task::JoinSet::new();
            for (_, list) in writes {
                let ctx = ctx.clone();
                let progress = progress.clone();
                set.spawn(async move {
                    for (f, name, ep) in list {
                        if ctx.stop.requested() {
                            ctx.findings.skip(name, ep, checks::findings::NOT_RUN);
                            continue;
                        }
                        let id = progress.begin(&format!("{name} {}", ep.path()));
                        f(&ctx, ep).await;
                        ctx.undo.restore(Some(&ep.family)).await;
                        progress.end(id);
                    }
                });
            }
            while set.join_next().await.is_some() {}
        }
    };
    // Never dropped half-way: after a stop, every request in flight finishes or times out (the
    // checks send nothing new), so that nothing lands after the restore has read a record back.
    work.await;
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
    report.coverage = coverage(&ctx, &endpoints);
    report.sampling = sampling_of(&ctx);
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
    Ok((report, recording))
}
