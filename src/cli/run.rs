//! `ontap-conform run` and `ontap-conform diff`: flags, the `--config` file and the environment
//! become one [`RunConfig`] here (flags win over the file); after the run, the summary is printed,
//! the reports and the recording are written, and the outcome picks the exit code.

use super::{DiffArgs, Env, RunArgs, out};
use crate::client::{Credentials, Trust};
use crate::error::{Error, Result};
use crate::mock::Fault;
use crate::record::{self, Recording};
use crate::report::{self, Report};
use crate::run::config::{Baseline, ReportFormat, RunConfig, Target};
use crate::run::{self, RunOutcome};
use crate::spec::{OntapVersion, Spec};
use crate::verdict::Mode;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A `--config` file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub cases: Option<u32>,
    pub seed: Option<u64>,
    pub timeout: Option<u64>,
    pub concurrency: Option<usize>,
    pub threads: Option<usize>,
    pub strict: Option<bool>,
    pub read_only: Option<bool>,
    pub allow_destructive: Option<bool>,
    #[serde(default)]
    pub checks: Vec<String>,
    #[serde(default)]
    pub endpoints: Vec<String>,
    #[serde(default)]
    pub reports: Vec<String>,
    #[serde(default)]
    pub targets: Vec<TargetEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetEntry {
    pub name: String,
    pub url: String,
    pub user: Option<String>,
    pub password_env: Option<String>,
    #[serde(default)]
    pub insecure: bool,
    pub ca_cert: Option<PathBuf>,
    pub svm_user: Option<String>,
    pub svm_password_env: Option<String>,
}

fn read_config(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    toml::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "--config {}: {}",
            path.display(),
            e.to_string().trim_end()
        ))
    })
}

fn password_from(env: &Env, var: Option<&str>, user: &str, what: &str) -> Result<String> {
    if let Some(var) = var {
        return env.vars.get(var).cloned().ok_or_else(|| Error::Usage(format!("{what}: the environment variable {var} is not set (it should hold the password of {user})")));
    }
    if env.stdin_is_terminal {
        return (env.prompt_password)(&format!("Password for {user}: "))
            .map_err(|e| Error::Usage(format!("could not read the password: {e}")));
    }
    Err(Error::Usage(format!(
        "{what}: no password for {user}: give --password-env VAR (passwords are never taken as flag values), or run in a terminal to be asked"
    )))
}

fn report_destination(r: &str) -> Result<(ReportFormat, PathBuf)> {
    let (kind, path) = r.split_once('=').ok_or_else(|| {
        Error::Usage(format!(
            "--report {r}: expected FORMAT=FILE, e.g. json=report.json or junit=junit.xml"
        ))
    })?;
    let fmt = match kind {
        "json" => ReportFormat::Json,
        "junit" => ReportFormat::Junit,
        other => {
            return Err(Error::Usage(format!(
                "--report {r}: unknown format {other:?}; expected json or junit"
            )));
        }
    };
    if path.is_empty() {
        return Err(Error::Usage(format!(
            "--report {r}: the file name is empty"
        )));
    }
    Ok((fmt, PathBuf::from(path)))
}

/// The remote target: URL, credentials (from the environment or the terminal) and trust.
fn remote_target(
    a: &RunArgs,
    entry: Option<&TargetEntry>,
    url: String,
    env: &Env,
) -> Result<Target> {
    if !a.faults.is_empty()
        || !a.variants.is_empty()
        || a.ontap_version.is_some()
        || a.fixtures.is_some()
    {
        return Err(Error::Usage("--fault, --variant, --ontap-version and --fixtures apply to the built-in mock only; drop them with --target".into()));
    }
    let parsed = url::Url::parse(&url).map_err(|e| {
        Error::Usage(format!(
            "--target {url}: not a URL ({e}); expected e.g. https://cluster1.example.com"
        ))
    })?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host().is_none() {
        return Err(Error::Usage(format!(
            "--target {url}: expected an http(s)://host[:port] URL"
        )));
    }
    let user = a
        .user
        .clone()
        .or(entry.and_then(|e| e.user.clone()))
        .unwrap_or_else(|| "admin".into());
    let pw_env = a
        .password_env
        .clone()
        .or(entry.and_then(|e| e.password_env.clone()));
    let password = password_from(env, pw_env.as_deref(), &user, "--password-env")?;
    let svm = match a
        .svm_user
        .clone()
        .or(entry.and_then(|e| e.svm_user.clone()))
    {
        None => None,
        Some(u) => {
            let var = a
                .svm_password_env
                .clone()
                .or(entry.and_then(|e| e.svm_password_env.clone()));
            let pw = password_from(env, var.as_deref(), &u, "--svm-password-env")?;
            Some(Credentials::new(u, pw))
        }
    };
    let insecure = a.insecure || entry.is_some_and(|e| e.insecure);
    let ca = a.ca_cert.clone().or(entry.and_then(|e| e.ca_cert.clone()));
    let trust = match (insecure, ca) {
        (true, Some(_)) => {
            return Err(Error::Usage(
                "--insecure and --ca-cert contradict each other".into(),
            ));
        }
        (true, None) => Trust::Insecure,
        (false, Some(p)) => {
            Trust::CaPem(std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?)
        }
        (false, None) => Trust::System,
    };
    Ok(Target::Remote {
        url: url.trim_end_matches('/').to_string(),
        admin: Credentials::new(user, password),
        svm,
        trust,
    })
}

/// The built-in mock as the flags set it up.
fn builtin_target(a: &RunArgs, spec: &'static Spec) -> Result<Target> {
    if a.user.is_some()
        || a.password_env.is_some()
        || a.insecure
        || a.ca_cert.is_some()
        || a.svm_user.is_some()
    {
        return Err(Error::Usage("--user, --password-env, --insecure, --ca-cert and --svm-user need --target URL (without it the built-in mock is the target)".into()));
    }
    let version = match &a.ontap_version {
        Some(v) => v
            .parse::<OntapVersion>()
            .map_err(|e| Error::Usage(format!("--ontap-version: {e}")))?,
        None => crate::mock::DEFAULT_VERSION,
    };
    let mut faults = std::collections::BTreeSet::new();
    for f in &a.faults {
        faults.insert(
            f.parse::<Fault>()
                .map_err(|e| Error::Usage(format!("--fault {f}: {e}")))?,
        );
    }
    let mut variants = std::collections::BTreeSet::new();
    for v in &a.variants {
        variants.insert(
            v.parse::<crate::mock::Variant>()
                .map_err(|e| Error::Usage(format!("--variant {v}: {e}")))?,
        );
    }
    let fixtures = match &a.fixtures {
        None => None,
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                Error::Usage(format!("--fixtures {}: cannot read it ({e})", p.display()))
            })?;
            Some(crate::mock::load_data_set(
                spec,
                &p.display().to_string(),
                &text,
            )?)
        }
    };
    Ok(Target::Builtin {
        version,
        faults,
        variants,
        fixtures,
    })
}

/// Turns `run`'s flags, its `--config` file and the environment into a validated [`RunConfig`].
/// Flags win over the file; the built-in mock is the target when neither names one.
pub fn config(a: RunArgs, env: &Env) -> Result<RunConfig> {
    let file = match &a.config {
        Some(p) => read_config(p)?,
        None => ConfigFile::default(),
    };
    let spec = Spec::load(a.specs.as_deref())?;
    let read_only = a.read_only || file.read_only.unwrap_or(false);
    let destructive = a.allow_destructive || file.allow_destructive.unwrap_or(false);
    let mode = match (read_only, destructive) {
        (true, true) => {
            return Err(Error::Usage(
                "--read-only and --allow-destructive contradict each other".into(),
            ));
        }
        (true, false) => Mode::ReadOnly,
        (false, true) => Mode::Destructive,
        (false, false) => Mode::Restore,
    };
    let entry = match (&a.target_name, file.targets.is_empty()) {
        (Some(n), _) => Some(
            file.targets
                .iter()
                .find(|t| &t.name == n)
                .cloned()
                .ok_or_else(|| {
                    let names: Vec<&str> = file.targets.iter().map(|t| t.name.as_str()).collect();
                    Error::Usage(format!(
                        "--target-name {n}: not in the config file; its targets are {names:?}"
                    ))
                })?,
        ),
        (None, false) if a.target.is_none() => file.targets.first().cloned(),
        _ => None,
    };
    let target = match a.target.clone().or(entry.as_ref().map(|e| e.url.clone())) {
        None => builtin_target(&a, spec)?,
        Some(url) => remote_target(&a, entry.as_ref(), url, env)?,
    };
    let seed = a.seed.or(file.seed).unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (t.as_nanos() as u64 ^ std::process::id() as u64) % 1_000_000
    });
    let mut b = RunConfig::builder()
        .spec(spec)
        .target(target)
        .mode(mode)
        .seed(seed)
        .cases(a.cases.or(file.cases).unwrap_or(run::config::DEFAULT_CASES))
        .concurrency(
            a.concurrency
                .or(file.concurrency)
                .unwrap_or(run::config::DEFAULT_CONCURRENCY),
        )
        .timeout(Duration::from_secs(
            a.timeout
                .or(file.timeout)
                .unwrap_or(run::config::DEFAULT_TIMEOUT_SECS),
        ))
        .checks(if a.checks.is_empty() {
            file.checks
        } else {
            a.checks
        })
        .endpoints(if a.endpoints.is_empty() {
            file.endpoints
        } else {
            a.endpoints
        })
        .strict(a.strict || file.strict.unwrap_or(false))
        .progress(!a.no_progress && env.stderr_is_terminal);
    match a.threads.or(file.threads) {
        Some(0) => return Err(Error::Usage("--threads 0: expected 1 to 64".into())),
        Some(n) => b = b.threads(n),
        None => {}
    }
    let reports = if a.reports.is_empty() {
        &file.reports
    } else {
        &a.reports
    };
    for r in reports {
        let (fmt, path) = report_destination(r)?;
        b = b.report(fmt, path);
    }
    if let Some(dir) = a.record {
        b = b.record(dir);
    }
    if let Some(dir) = a.compare {
        if a.seed.is_some() || file.seed.is_some() || file.cases.is_some() {
            return Err(Error::Usage(
                "--compare replays the baseline's seed and case count: drop seed and cases from the config file".into(),
            ));
        }
        let recording = record::read(&dir)?;
        b = b.compare(Baseline { dir, recording });
    }
    b.build()
}

/// `ontap-conform run`.
pub fn main(args: RunArgs, env: &Env) -> Result<()> {
    if args.list_checks {
        let spec = Spec::load(args.specs.as_deref())?;
        return out(&crate::checks::list(spec));
    }
    let cfg = config(args, env)?;
    let RunOutcome {
        report,
        recording,
        drift,
    } = run::run_blocking(&cfg)?;
    if report.interrupted {
        eprintln!(
            "{}",
            if report.restore_problems.is_empty() {
                "restored.".to_string()
            } else {
                format!("NOT restored: {}", report.restore_problems.join("; "))
            }
        );
    }
    if let (Some(dir), Some(rec)) = (&cfg.record, &recording) {
        record::write(dir, rec)?;
        eprintln!(
            "recorded {} endpoints into {}",
            rec.endpoints.len(),
            dir.display()
        );
    }
    out(&report::render(&report))?;
    if let (Some(d), Some(b)) = (&drift, &cfg.compare) {
        out(&format!(
            "\n{}",
            record::render(
                d,
                &format!(
                    "the baseline {} (ONTAP {})",
                    b.dir.display(),
                    b.recording.manifest.ontap_version
                ),
                &format!("{} (ONTAP {})", report.target, report.ontap_version)
            )
        ))?;
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
    match drift {
        Some(d) if !d.is_empty() => Err(Error::Drift(format!(
            "{} changes against the baseline",
            d.len()
        ))),
        _ => Ok(()),
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

/// `ontap-conform diff DIR_A DIR_B`: compares two recordings offline.
pub fn diff(args: DiffArgs) -> Result<()> {
    let a = record::read(&args.a)?;
    let b = record::read(&args.b)?;
    let d = record::diff(&a, &b);
    let name = |dir: &Path, r: &Recording| {
        format!("{} (ONTAP {})", dir.display(), r.manifest.ontap_version)
    };
    out(&record::render(&d, &name(&args.a, &a), &name(&args.b, &b)))?;
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
