//! `run`'s raw flags and config file become one validated [`RunConfig`] here, so nothing after
//! this point re-checks an argument (ripgrep's habit).

use crate::cli::RunArgs;
use crate::client::{Credentials, Trust};
use crate::error::{Error, Result};
use crate::mock::Fault;
use crate::run::ctx::Mode;
use crate::spec::{OntapVersion, Spec};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_CASES: u32 = 32;
pub const DEFAULT_CONCURRENCY: usize = 4;
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

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

#[derive(Debug, Clone)]
pub enum Target {
    /// The reference mock, started in-process on a loopback port.
    Builtin {
        version: OntapVersion,
        faults: BTreeSet<Fault>,
    },
    Remote {
        url: String,
        admin: Credentials,
        svm: Option<Credentials>,
        trust: Trust,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Junit,
}

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub spec: &'static Spec,
    pub target: Target,
    pub timeout: Duration,
    pub concurrency: usize,
    /// Worker threads of the runtime the run uses.
    pub threads: usize,
    pub cases: u32,
    pub seed: u64,
    pub mode: Mode,
    pub checks: Vec<String>,
    pub endpoints: Vec<String>,
    pub reports: Vec<(ReportFormat, PathBuf)>,
    pub strict: bool,
    pub record: Option<PathBuf>,
    pub compare: Option<PathBuf>,
    pub progress: bool,
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

fn password_from(var: Option<&str>, user: &str, what: &str) -> Result<String> {
    if let Some(var) = var {
        return std::env::var(var).map_err(|_| Error::Usage(format!("{what}: the environment variable {var} is not set (it should hold the password of {user})")));
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return rpassword::prompt_password(format!("Password for {user}: "))
            .map_err(|e| Error::Usage(format!("could not read the password: {e}")));
    }
    Err(Error::Usage(format!(
        "{what}: no password for {user}: give --password-env VAR (passwords are never taken as flag values), or run in a terminal to be asked"
    )))
}

impl RunConfig {
    pub fn from_args(a: RunArgs) -> Result<RunConfig> {
        let file = match &a.config {
            Some(p) => read_config(p)?,
            None => ConfigFile::default(),
        };
        let spec = Spec::load(a.specs.as_deref())?;
        let cases = a.cases.or(file.cases).unwrap_or(DEFAULT_CASES);
        if cases == 0 || cases > 100_000 {
            return Err(Error::Usage(format!(
                "--cases {cases}: expected 1 to 100000"
            )));
        }
        let concurrency = a
            .concurrency
            .or(file.concurrency)
            .unwrap_or(DEFAULT_CONCURRENCY);
        if concurrency == 0 || concurrency > 256 {
            return Err(Error::Usage(format!(
                "--concurrency {concurrency}: expected 1 to 256"
            )));
        }
        let timeout = a.timeout.or(file.timeout).unwrap_or(DEFAULT_TIMEOUT_SECS);
        if timeout == 0 || timeout > 3600 {
            return Err(Error::Usage(format!(
                "--timeout {timeout}: expected 1 to 3600 seconds"
            )));
        }
        let read_only = a.read_only || file.read_only.unwrap_or(false);
        let destructive = a.allow_destructive || file.allow_destructive.unwrap_or(false);
        if read_only && destructive {
            return Err(Error::Usage(
                "--read-only and --allow-destructive contradict each other".into(),
            ));
        }
        let mode = if read_only {
            Mode::ReadOnly
        } else if destructive {
            Mode::Destructive
        } else {
            Mode::Restore
        };
        let checks = if a.checks.is_empty() {
            file.checks
        } else {
            a.checks
        };
        for c in &checks {
            if crate::checks::info(c).is_none() {
                let names: Vec<&str> = crate::checks::CHECKS.iter().map(|c| c.name).collect();
                return Err(Error::Usage(format!(
                    "--check {c}: no such check; expected one of {}",
                    names.join(", ")
                )));
            }
        }
        let endpoints = if a.endpoints.is_empty() {
            file.endpoints
        } else {
            a.endpoints
        };
        for e in &endpoints {
            if spec.endpoint(e).is_none() {
                let paths: Vec<&str> = spec.endpoints.iter().map(|e| e.path()).collect();
                return Err(Error::Usage(format!(
                    "--endpoint {e}: not in the catalog; expected one of {}",
                    paths.join(", ")
                )));
            }
        }
        let mut reports = Vec::new();
        for r in if a.reports.is_empty() {
            &file.reports
        } else {
            &a.reports
        } {
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
            reports.push((fmt, PathBuf::from(path)));
        }
        let seed = a.seed.or(file.seed).unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            (t.as_nanos() as u64 ^ std::process::id() as u64) % 1_000_000
        });
        let entry = match (&a.target_name, file.targets.is_empty()) {
            (Some(n), _) => Some(
                file.targets
                    .iter()
                    .find(|t| &t.name == n)
                    .cloned()
                    .ok_or_else(|| {
                        let names: Vec<&str> =
                            file.targets.iter().map(|t| t.name.as_str()).collect();
                        Error::Usage(format!(
                            "--target-name {n}: not in the config file; its targets are {names:?}"
                        ))
                    })?,
            ),
            (None, false) if a.target.is_none() => file.targets.first().cloned(),
            _ => None,
        };
        let url = a.target.clone().or(entry.as_ref().map(|e| e.url.clone()));
        let target = match url {
            None => {
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
                        .parse()
                        .map_err(|e: String| Error::Usage(format!("--ontap-version: {e}")))?,
                    None => OntapVersion::new(9, 14, 1),
                };
                let mut faults = BTreeSet::new();
                for f in &a.faults {
                    faults.insert(
                        f.parse::<Fault>()
                            .map_err(|e| Error::Usage(format!("--fault {f}: {e}")))?,
                    );
                }
                Target::Builtin { version, faults }
            }
            Some(url) => {
                if !a.faults.is_empty() || a.ontap_version.is_some() {
                    return Err(Error::Usage("--fault and --ontap-version apply to the built-in mock only; drop them with --target".into()));
                }
                let parsed = url::Url::parse(&url).map_err(|e| Error::Usage(format!("--target {url}: not a URL ({e}); expected e.g. https://cluster1.example.com")))?;
                if !matches!(parsed.scheme(), "https" | "http") || parsed.host().is_none() {
                    return Err(Error::Usage(format!(
                        "--target {url}: expected an http(s)://host[:port] URL"
                    )));
                }
                let user = a
                    .user
                    .clone()
                    .or(entry.as_ref().and_then(|e| e.user.clone()))
                    .unwrap_or_else(|| "admin".into());
                let pw_env = a
                    .password_env
                    .clone()
                    .or(entry.as_ref().and_then(|e| e.password_env.clone()));
                let password = password_from(pw_env.as_deref(), &user, "--password-env")?;
                let svm_user = a
                    .svm_user
                    .clone()
                    .or(entry.as_ref().and_then(|e| e.svm_user.clone()));
                let svm = match svm_user {
                    None => None,
                    Some(u) => {
                        let env = a
                            .svm_password_env
                            .clone()
                            .or(entry.as_ref().and_then(|e| e.svm_password_env.clone()));
                        Some(Credentials::new(
                            u.clone(),
                            password_from(env.as_deref(), &u, "--svm-password-env")?,
                        ))
                    }
                };
                let insecure = a.insecure || entry.as_ref().is_some_and(|e| e.insecure);
                let ca = a
                    .ca_cert
                    .clone()
                    .or(entry.as_ref().and_then(|e| e.ca_cert.clone()));
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
                Target::Remote {
                    url: url.trim_end_matches('/').to_string(),
                    admin: Credentials::new(user, password),
                    svm,
                    trust,
                }
            }
        };
        if a.record.is_some() && a.compare.is_some() {
            return Err(Error::Usage(
                "--record and --compare: use one at a time".into(),
            ));
        }
        let threads = match a.threads.or(file.threads) {
            Some(n) if n == 0 || n > 64 => {
                return Err(Error::Usage(format!("--threads {n}: expected 1 to 64")));
            }
            Some(n) => n,
            // One event loop keeps up with any real cluster; against a mock on this machine it
            // leaves the other cores to the mock. The built-in mock runs on the same runtime.
            None if matches!(target, Target::Remote { .. }) => 1,
            None => std::thread::available_parallelism().map_or(2, |n| n.get()),
        };
        let progress = !a.no_progress && std::io::IsTerminal::is_terminal(&std::io::stderr());
        Ok(RunConfig {
            spec,
            target,
            timeout: Duration::from_secs(timeout),
            concurrency,
            threads,
            cases,
            seed,
            mode,
            checks,
            endpoints,
            reports,
            strict: a.strict || file.strict.unwrap_or(false),
            record: a.record,
            compare: a.compare,
            progress,
        })
    }
}
