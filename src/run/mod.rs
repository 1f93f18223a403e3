//! The conformance engine: discover the target, plan (version, safety mode, --check/--endpoint),
//! run the read checks concurrently and the write checks family by family, restore every record it
//! changed (also on Ctrl-C), and report.

pub mod config;
pub mod ctx;
pub mod property;

use crate::checks::{self, Needs, access, read, write};
use crate::cli::{DiffArgs, RunArgs};
use crate::client::{Client, ClientConfig, Credentials, Request, Trust};
use crate::error::{Error, Result};
use crate::mock::{self, MockConfig, Role, Tls};
use crate::report::record::{self, Recording};
use crate::report::{self, Figures, Report};
use crate::spec::model::{Kind, Method};
use crate::spec::{Endpoint, OntapVersion, Spec};
use config::{ReportFormat, RunConfig, Target};
use ctx::Ctx;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `ontap-conform run`.
pub fn cli_main(args: RunArgs) -> Result<()> {
    if args.list_checks {
        let spec = Spec::load(args.specs.as_deref())?;
        print!("{}", checks::list(spec));
        return Ok(());
    }
    let mut cfg = RunConfig::from_args(args)?;
    // A comparison replays the baseline's requests: same seed, same case count.
    let baseline = match &cfg.compare {
        Some(dir) => {
            let b = record::read(dir)?;
            cfg.seed = b.manifest.seed;
            cfg.cases = b.manifest.cases;
            Some(b)
        }
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the runtime: {e}")))?;
    let (mut report, recording) = rt.block_on(execute_recording(&cfg))?;
    if let (Some(dir), Some(rec)) = (&cfg.record, &recording) {
        record::write(dir, rec)?;
        eprintln!(
            "recorded {} endpoints into {}",
            rec.endpoints.len(),
            dir.display()
        );
    }
    let drift = match (&baseline, &recording, &cfg.compare) {
        (Some(b), Some(rec), Some(dir)) => {
            let d = record::diff(b, rec);
            report.drift = Some(d.clone());
            Some((d, dir.display().to_string()))
        }
        _ => None,
    };
    print!("{}", report::render(&report));
    if let Some((d, dir)) = &drift {
        print!(
            "\n{}",
            record::render(
                d,
                &format!(
                    "the baseline {dir} (ONTAP {})",
                    baseline
                        .as_ref()
                        .map(|b| b.manifest.ontap_version.as_str())
                        .unwrap_or("?")
                ),
                &format!("{} (ONTAP {})", report.target, report.ontap_version)
            )
        );
    }
    write_reports(&cfg, &report)?;
    if report.interrupted {
        return Err(Error::Failed(
            "interrupted (records were restored; see above)".into(),
        ));
    }
    if report.failed() {
        let why = if report.summary.failures > 0 || !report.restore_problems.is_empty() {
            "checks failed"
        } else {
            "warnings fail the run with --strict"
        };
        return Err(Error::Failed(why.into()));
    }
    if let Some((d, _)) = drift
        && !d.is_empty()
    {
        return Err(Error::Drift(format!(
            "{} changes against the baseline",
            d.len()
        )));
    }
    Ok(())
}

/// `ontap-conform diff DIR_A DIR_B`: compares two recordings offline.
pub fn diff_main(args: DiffArgs) -> Result<()> {
    let a = record::read(&args.a)?;
    let b = record::read(&args.b)?;
    let d = record::diff(&a, &b);
    let name = |dir: &std::path::Path, r: &Recording| {
        format!("{} (ONTAP {})", dir.display(), r.manifest.ontap_version)
    };
    print!(
        "{}",
        record::render(&d, &name(&args.a, &a), &name(&args.b, &b))
    );
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&d).expect("JSON") + "\n";
        crate::fsutil::write_atomic(path, text.as_bytes())?;
    }
    if d.is_empty() {
        Ok(())
    } else {
        Err(Error::Drift(format!("{} changes", d.len())))
    }
}

fn write_reports(cfg: &RunConfig, report: &Report) -> Result<()> {
    for (fmt, path) in &cfg.reports {
        let text = match fmt {
            ReportFormat::Json => report.to_json(),
            ReportFormat::Junit => report::junit::render(report),
        };
        crate::fsutil::write_atomic(path, text.as_bytes())?;
    }
    Ok(())
}

/// Starts the target if it is the built-in mock, and returns the client for it.
async fn connect(cfg: &RunConfig) -> Result<(Client, Option<mock::RunningMock>, String)> {
    let client_cfg =
        |base: String, admin: Credentials, svm: Option<Credentials>, trust: Trust| ClientConfig {
            base_url: base,
            admin,
            svm,
            trust,
            timeout: cfg.timeout,
            concurrency: cfg.concurrency,
        };
    match &cfg.target {
        Target::Builtin { version, faults } => {
            let mut mc = MockConfig::new();
            mc.spec = cfg.spec;
            mc.version = *version;
            mc.faults = faults.clone();
            let admin = mc.users.iter().find(|u| u.role == Role::Admin).cloned();
            let svm = mc
                .users
                .iter()
                .find(|u| matches!(u.role, Role::Vsadmin { .. }))
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
            let client = Client::new(client_cfg(
                running.base_url.clone(),
                Credentials::new(admin.name, admin.password),
                svm.map(|u| Credentials::new(u.name, u.password)),
                trust,
            ))
            .map_err(Error::Internal)?;
            let label = format!("built-in mock {}", running.base_url);
            Ok((client, Some(running), label))
        }
        Target::Remote {
            url,
            admin,
            svm,
            trust,
        } => {
            let client = Client::new(client_cfg(
                url.clone(),
                admin.clone(),
                svm.clone(),
                trust.clone(),
            ))
            .map_err(Error::Usage)?;
            Ok((client, None, url.clone()))
        }
    }
}

/// Reads the ONTAP version from /api/cluster; anything else ends the run with exit 3 (or 2 for
/// refused credentials).
pub async fn discover_version(client: &Client) -> Result<OntapVersion> {
    let x = client
        .send(Request::get("/api/cluster?fields=version,name,uuid"))
        .await
        .map_err(|e| {
            let hint = if e.0.contains("certificate") || e.0.contains("UnknownIssuer") {
                " (the certificate is not trusted: use --ca-cert FILE, or --insecure)"
            } else {
                ""
            };
            Error::Unreachable(format!("{}: {}{hint}", client.base_url(), e.0))
        })?;
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

/// Reads every record of each family (GET collection?fields=*, following next links).
async fn discover_records(
    ctx: &Ctx,
    endpoints: &[&'static Endpoint],
) -> BTreeMap<String, Vec<Value>> {
    let mut out = BTreeMap::new();
    for ep in endpoints.iter().filter(|e| {
        e.kind() == Kind::Collection && e.has(Method::GET) && e.available_in(ctx.version)
    }) {
        let mut path = format!("{}?fields=*", ep.path());
        let mut records = Vec::new();
        for _ in 0..1000 {
            let Some(x) = ctx
                .send("response-schema", ep, Request::get(path.clone()))
                .await
            else {
                break;
            };
            records.extend(x.response.records().cloned().unwrap_or_default());
            match x
                .response
                .json
                .as_ref()
                .and_then(|j| j.pointer("/_links/next/href"))
                .and_then(Value::as_str)
            {
                Some(href) => {
                    path = href
                        .find("/api/")
                        .map(|i| href[i..].to_string())
                        .unwrap_or_else(|| href.to_string())
                }
                None => break,
            }
        }
        out.insert(ep.family.clone(), records);
    }
    out
}

type CheckFn = for<'a> fn(&'a Ctx, &'a Endpoint) -> futures_util::future::BoxFuture<'a, ()>;

macro_rules! check_fn {
    ($f:path) => {{
        fn run<'a>(c: &'a Ctx, e: &'a Endpoint) -> futures_util::future::BoxFuture<'a, ()> {
            Box::pin($f(c, e))
        }
        run as CheckFn
    }};
}

/// The active part of each check (response-schema, status-code and error-envelope judge every
/// exchange passively; the survey gives them answers to judge).
fn active(name: &str) -> Option<CheckFn> {
    Some(match name {
        "response-schema" => check_fn!(read::survey),
        "not-found" => check_fn!(read::not_found),
        "unknown-parameter" => check_fn!(read::unknown_parameter),
        "parameter-range" => check_fn!(read::parameter_range),
        "auth-required" => check_fn!(read::auth_required),
        "write-only-secret" => check_fn!(read::write_only_secret),
        "field-selection" => check_fn!(read::field_selection),
        "query-filter" => check_fn!(read::query_filter),
        "paging" => check_fn!(read::paging),
        "ordering" => check_fn!(read::ordering),
        "version-gate" => check_fn!(read::version_gate),
        "role-restrictions" => check_fn!(access::role_restrictions),
        "method-not-allowed" => check_fn!(access::method_not_allowed),
        "patch-roundtrip" => check_fn!(write::patch_roundtrip),
        "patch-forbidden" => check_fn!(write::patch_forbidden),
        "patch-invalid" => check_fn!(write::patch_invalid),
        "patch-atomic" => check_fn!(write::patch_atomic),
        "collection-patch" => check_fn!(write::collection_patch),
        "create-delete" => check_fn!(write::create_delete),
        "error-code" => check_fn!(write::error_code),
        _ => return None,
    })
}

/// Runs the suite and returns the report (without printing or exiting).
pub async fn execute(cfg: &RunConfig) -> Result<Report> {
    Ok(execute_recording(cfg).await?.0)
}

/// Runs the suite; with --record or --compare also returns the recording of its exchanges.
pub async fn execute_recording(cfg: &RunConfig) -> Result<(Report, Option<Recording>)> {
    let start = Instant::now();
    let (client, running, label) = connect(cfg).await?;
    let outcome = run_with(cfg, client, &label, start).await;
    if let Some(m) = running {
        m.shutdown().await;
    }
    outcome
}

async fn run_with(
    cfg: &RunConfig,
    client: Client,
    label: &str,
    start: Instant,
) -> Result<(Report, Option<Recording>)> {
    let version = discover_version(&client).await?;
    let builtin = matches!(cfg.target, Target::Builtin { .. });
    let mut ctx = Ctx::new(
        cfg.spec,
        client,
        version,
        cfg.mode,
        builtin,
        cfg.cases,
        cfg.seed,
        cfg.checks.clone(),
    );
    if cfg.record.is_some() || cfg.compare.is_some() {
        ctx.recorder = Some(record::Recorder::default());
    }
    let endpoints: Vec<&'static Endpoint> = cfg
        .spec
        .endpoints
        .iter()
        .filter(|e| cfg.endpoints.is_empty() || cfg.endpoints.iter().any(|p| p == e.path()))
        .collect();
    ctx.records = discover_records(&ctx, &cfg.spec.endpoints.iter().collect::<Vec<_>>()).await;
    let ctx = Arc::new(ctx);

    // Plan: every (check, endpoint) pair either runs or says why not.
    let mut reads: Vec<(CheckFn, &'static str, &'static Endpoint)> = Vec::new();
    let mut writes: BTreeMap<String, Vec<(CheckFn, &'static str, &'static Endpoint)>> =
        BTreeMap::new();
    for c in checks::CHECKS.iter().filter(|c| ctx.selected(c.name)) {
        for ep in &endpoints {
            if c.name != "version-gate" && !ep.available_in(version) {
                ctx.skip(
                    c.name,
                    ep,
                    format!(
                        "introduced in {}; the target runs {version}",
                        ep.def.introduced_in
                    ),
                );
                continue;
            }
            if c.needs == Needs::Writes && !ctx.may_write() {
                ctx.skip(c.name, ep, "--read-only");
                continue;
            }
            match active(c.name) {
                Some(f) if c.needs == Needs::Reads => reads.push((f, c.name, ep)),
                Some(f) => writes
                    .entry(ep.family.clone())
                    .or_default()
                    .push((f, c.name, ep)),
                None => {}
            }
        }
    }
    let total = reads.len() + writes.values().map(Vec::len).sum::<usize>();
    let bar = if cfg.progress {
        ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} checks, {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));

    let work = {
        let ctx = ctx.clone();
        let bar = bar.clone();
        async move {
            let mut set = tokio::task::JoinSet::new();
            for (f, name, ep) in reads {
                let ctx = ctx.clone();
                let bar = bar.clone();
                set.spawn(async move {
                    f(&ctx, ep).await;
                    bar.set_message(format!("{name} {}", ep.path()));
                    bar.inc(1);
                });
            }
            while set.join_next().await.is_some() {}
            let mut set = tokio::task::JoinSet::new();
            for (_, list) in writes {
                let ctx = ctx.clone();
                let bar = bar.clone();
                set.spawn(async move {
                    for (f, name, ep) in list {
                        f(&ctx, ep).await;
                        ctx.restore_family(&ep.family).await;
                        bar.set_message(format!("{name} {}", ep.path()));
                        bar.inc(1);
                    }
                });
            }
            while set.join_next().await.is_some() {}
        }
    };
    let interrupted = tokio::select! {
        _ = work => false,
        _ = tokio::signal::ctrl_c() => true,
    };
    bar.finish_and_clear();
    if interrupted {
        eprintln!("interrupted: restoring every record the run changed…");
        // Requests cut off mid-flight may still land on the target; let them before reading back.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Clear earlier problems (each write check restored as it went) and verify everything once more.
    ctx.restore_problems.lock().unwrap().clear();
    let problems = ctx.restore_all().await;
    if interrupted {
        eprintln!(
            "{}",
            if problems.is_empty() {
                "restored.".to_string()
            } else {
                format!("NOT restored: {}", problems.join("; "))
            }
        );
    }
    let wall = start.elapsed().as_secs_f64();
    let requests = ctx.client.requests_sent();
    let figures = Figures {
        requests,
        cases: ctx.cases_run(),
        wall_seconds: (wall * 100.0).round() / 100.0,
        requests_per_second: if wall > 0.0 {
            (requests as f64 / wall).round()
        } else {
            0.0
        },
    };
    let report = Report::build(
        label.to_string(),
        version.to_string(),
        cfg.mode,
        cfg.seed,
        cfg.cases,
        cfg.strict,
        ctx.outcomes(),
        ctx.findings(),
        figures,
        problems,
        interrupted,
    );
    let available: Vec<&str> = endpoints
        .iter()
        .filter(|e| e.available_in(version))
        .map(|e| e.path())
        .collect();
    let recording = ctx
        .recorder
        .as_ref()
        .map(|r| r.finish(&version.to_string(), cfg.seed, cfg.cases, &available));
    Ok((report, recording))
}
