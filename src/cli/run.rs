//! `ontap-conform run` and `ontap-conform diff`: flags, the `--config` file and the environment
//! become one [`RunConfig`] here (flags win over the file); after the run, the summary is printed,
//! the reports and the recording are written, and the outcome picks the exit code.

use super::{DiffArgs, Env, RunArgs, out};
use crate::client::{ClientIdentity, Credentials, Proxies, ProxyUrl, Trust};
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
    pub max_answer_bytes: Option<usize>,
    /// A proxy for every target of the file (a target's own `proxy` wins).
    pub proxy: Option<String>,
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
    pub journal: Option<PathBuf>,
    pub max_failures: Option<u64>,
    pub deadline: Option<u64>,
    /// The SVM the role checks tunnel into, for every target of the file (a target's own wins).
    pub tunnel_svm: Option<String>,
    pub sample: Option<usize>,
    pub rate: Option<f64>,
    pub latency_drift: Option<f64>,
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
    pub tunnel_svm: Option<String>,
    pub proxy: Option<String>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
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

/// The variable the cluster administrator's password is read from when no `--password-env`
/// names one (the reproducers' curl commands use it too).
pub(super) const PASSWORD_VAR: &str = "ONTAP_PASSWORD";
/// The same for the SVM administrator (`--svm-user` without `--svm-password-env`).
pub(super) const SVM_PASSWORD_VAR: &str = "ONTAP_SVM_PASSWORD";

/// A password: from the variable `var` names (`--password-env`), else from `default_var` when
/// it is set and not empty, else asked for on the terminal. Never a flag value.
pub(super) fn password_from(
    env: &Env,
    var: Option<&str>,
    default_var: &str,
    user: &str,
    what: &str,
) -> Result<String> {
    if let Some(var) = var {
        return env.vars.get(var).cloned().ok_or_else(|| Error::Usage(format!("{what}: the environment variable {var} is not set (it should hold the password of {user})")));
    }
    if let Some(pw) = env.vars.get(default_var).filter(|p| !p.is_empty()) {
        return Ok(pw.clone());
    }
    if env.stdin_is_terminal {
        return (env.prompt_password)(&format!("Password for {user}: "))
            .map_err(|e| Error::Usage(format!("could not read the password: {e}")));
    }
    Err(Error::Usage(format!(
        "{what}: no password for {user}: set {default_var} or give {what} VAR (passwords are never taken as flag values), or run in a terminal to be asked"
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
        "html" => ReportFormat::Html,
        other => {
            return Err(Error::Usage(format!(
                "--report {r}: unknown format {other:?}; expected json, junit or html"
            )));
        }
    };
    if path.is_empty() {
        return Err(Error::Usage(format!(
            "--report {r}: the file name is empty (use - for standard output)"
        )));
    }
    Ok((fmt, PathBuf::from(path)))
}

/// `-` names standard output.
fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Whether an existing path is something to write through (a symlink, a pipe, a device) rather
/// than a regular file to replace.
fn write_through(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| !m.file_type().is_file())
}

/// Refuses, before the first request, a report destination that cannot be written.
fn check_report_destination(path: &Path) -> Result<()> {
    if is_stdout(path) {
        return Ok(());
    }
    let fail = |why: String| {
        Err(Error::Usage(format!(
            "--report {}: {why}; expected a writable file, or - for standard output",
            path.display()
        )))
    };
    if write_through(path) {
        return match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => fail("a directory".into()),
            Ok(_) => std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .map(|_| ())
                .or_else(|e| fail(format!("cannot be written ({e})"))),
            Err(e) => fail(format!("a link to nothing that can be written ({e})")),
        };
    }
    if path.is_dir() {
        return fail("a directory".into());
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::NamedTempFile::new_in(dir)
        .map(|_| ())
        .or_else(|e| {
            fail(format!(
                "its directory {} cannot be written ({e})",
                dir.display()
            ))
        })
}

/// Refuses, before the first request, a recording directory that cannot be made.
fn check_record_destination(dir: &Path) -> Result<()> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Usage(format!(
            "--record {}: exists and is not a directory; expected a directory to record into",
            dir.display()
        )));
    }
    tempfile::NamedTempFile::new_in(parent).map(|_| ()).map_err(|e| {
        Error::Usage(format!(
            "--record {}: {} cannot be written ({e}); expected a writable place for the recording",
            dir.display(),
            parent.display()
        ))
    })
}

/// Writes one report: to standard output for `-`, through an existing symlink, pipe or device
/// (never replacing it), else atomically into a regular file of mode 0644.
fn write_report(path: &Path, text: &str) -> Result<()> {
    if is_stdout(path) {
        return out(text);
    }
    if write_through(path) {
        return std::fs::write(path, text).map_err(|e| Error::io(path, e));
    }
    crate::fsutil::write_atomic(path, text.as_bytes())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io(path, e))
}

/// The client certificate and key: both or neither.
fn client_identity(a: &RunArgs, entry: Option<&TargetEntry>) -> Result<Option<ClientIdentity>> {
    let cert = a
        .client_cert
        .clone()
        .or(entry.and_then(|e| e.client_cert.clone()));
    let key = a
        .client_key
        .clone()
        .or(entry.and_then(|e| e.client_key.clone()));
    let (cert, key) = match (cert, key) {
        (None, None) => return Ok(None),
        (Some(c), None) => {
            return Err(Error::Usage(format!(
                "--client-cert {} needs --client-key FILE (its private key), which is missing",
                c.display()
            )));
        }
        (None, Some(k)) => {
            return Err(Error::Usage(format!(
                "--client-key {} needs --client-cert FILE (its certificate), which is missing",
                k.display()
            )));
        }
        (Some(c), Some(k)) => (c, k),
    };
    let read = |flag: &str, p: &Path| {
        std::fs::read_to_string(p)
            .map_err(|e| Error::Usage(format!("{flag} {}: cannot read it ({e})", p.display())))
    };
    let cert_pem = read("--client-cert", &cert)?;
    let key_pem = read("--client-key", &key)?;
    ClientIdentity::new(cert, &cert_pem, key, &key_pem)
        .map(Some)
        .map_err(Error::Usage)
}

/// The proxies: `--proxy` (or the file's `proxy`), else HTTPS_PROXY / HTTP_PROXY from the
/// environment; NO_PROXY applies to all of them.
fn proxies(
    a: &RunArgs,
    entry: Option<&TargetEntry>,
    file: &ConfigFile,
    env: &Env,
) -> Result<Proxies> {
    let mut p = Proxies::from_env(|name| env.vars.get(name).cloned()).map_err(Error::Usage)?;
    let (source, explicit) = match (&a.proxy, entry.and_then(|e| e.proxy.as_ref()), &file.proxy) {
        (Some(u), _, _) => ("--proxy", Some(u)),
        (None, Some(u), _) => ("the config file's target proxy", Some(u)),
        (None, None, Some(u)) => ("the config file's proxy", Some(u)),
        (None, None, None) => ("", None),
    };
    if let Some(u) = explicit {
        p.all = Some(ProxyUrl::parse(source, u).map_err(Error::Usage)?);
    }
    Ok(p)
}

/// The remote target: URL, credentials (from the environment or the terminal), trust, proxies
/// and the client certificate.
fn remote_target(
    a: &RunArgs,
    entry: Option<&TargetEntry>,
    file: &ConfigFile,
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
            "--target {}: not a URL ({e}); expected e.g. https://cluster1.example.com",
            redact_userinfo(&url)
        ))
    })?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host().is_none() {
        return Err(Error::Usage(format!(
            "--target {}: expected an http(s)://host[:port] URL",
            redact_userinfo(&url)
        )));
    }
    let extra = [
        (!parsed.username().is_empty() || parsed.password().is_some())
            .then_some("a user or password (give --user and --password-env instead)"),
        (parsed.path() != "/" && !parsed.path().is_empty()).then_some("a path"),
        parsed.query().map(|_| "a query"),
        parsed.fragment().map(|_| "a fragment"),
    ];
    if let Some(what) = extra.into_iter().flatten().next() {
        return Err(Error::Usage(format!(
            "--target {}: the URL holds {what}; expected only http(s)://host[:port], e.g. https://cluster1.example.com",
            redact_userinfo(&url)
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
    let identity = client_identity(a, entry)?;
    // With a client certificate and no --password-env, the certificate is the login.
    let admin = if identity.is_some() && pw_env.is_none() {
        Credentials::certificate(user)
    } else {
        let password = password_from(
            env,
            pw_env.as_deref(),
            PASSWORD_VAR,
            &user,
            "--password-env",
        )?;
        if pw_env.is_none() && env.vars.get(PASSWORD_VAR).is_some_and(|p| !p.is_empty()) && !a.quiet
        {
            eprintln!(
                "note: the password of {user} is read from {PASSWORD_VAR} (no --password-env)"
            );
        }
        Credentials::new(user, password)
    };
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
            let pw = password_from(
                env,
                var.as_deref(),
                SVM_PASSWORD_VAR,
                &u,
                "--svm-password-env",
            )?;
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
        admin,
        svm,
        trust,
        proxy: proxies(a, entry, file, env)?,
        identity,
    })
}

/// A URL with any `user:password@` replaced, for messages.
fn redact_userinfo(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            let scheme = u.scheme().to_string();
            u.to_string().replacen(
                &format!("{scheme}://"),
                &format!("{scheme}://<redacted>@"),
                1,
            )
        }
        _ => url.to_string(),
    }
}

/// The built-in mock as the flags set it up.
fn builtin_target(a: &RunArgs, spec: &'static Spec) -> Result<Target> {
    if a.user.is_some()
        || a.password_env.is_some()
        || a.insecure
        || a.ca_cert.is_some()
        || a.svm_user.is_some()
        || a.proxy.is_some()
        || a.client_cert.is_some()
        || a.client_key.is_some()
    {
        return Err(Error::Usage("--user, --password-env, --insecure, --ca-cert, --svm-user, --proxy, --client-cert and --client-key need --target URL (without it the built-in mock is the target)".into()));
    }
    let version = match &a.ontap_version {
        Some(v) => v
            .parse::<OntapVersion>()
            .map_err(|e| Error::Usage(format!("--ontap-version: {e}")))?,
        // An imported release reports its own version: its families are all there.
        None => spec.release().unwrap_or(crate::mock::DEFAULT_VERSION),
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
    if let Some(p) = &a.config {
        let mut seen = std::collections::BTreeSet::new();
        for t in &file.targets {
            if !seen.insert(t.name.as_str()) {
                return Err(Error::Usage(format!(
                    "--config {}: two targets are named {:?}; expected unique names",
                    p.display(),
                    t.name
                )));
            }
        }
        if file.targets.is_empty() && a.target.is_none() {
            return Err(Error::Usage(format!(
                "--config {}: no [[targets]]; expected at least one target (or --target URL), so that a misconfigured job never tests the built-in mock instead of the cluster",
                p.display()
            )));
        }
    }
    let spec = super::contract(a.contract.as_deref(), a.specs.as_deref())?;
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
    let tunnel_svm = a
        .tunnel_svm
        .clone()
        .or(entry.as_ref().and_then(|e| e.tunnel_svm.clone()))
        .or(file.tunnel_svm.clone());
    if tunnel_svm.is_some()
        && (a.svm_user.is_some() || entry.as_ref().is_some_and(|e| e.svm_user.is_some()))
    {
        return Err(Error::Usage(
            "--tunnel-svm and --svm-user: give one (tunnelling is for runs without an SVM administrator's password)".into(),
        ));
    }
    let target = match a.target.clone().or(entry.as_ref().map(|e| e.url.clone())) {
        None => builtin_target(&a, spec)?,
        Some(url) => remote_target(&a, entry.as_ref(), &file, url, env)?,
    };
    let seed = a.seed.or(file.seed).unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (t.as_nanos() as u64 ^ std::process::id() as u64) % 1_000_000
    });
    let target_for_journal = target.clone();
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
        .max_answer_bytes(
            a.max_answer_bytes
                .or(file.max_answer_bytes)
                .unwrap_or(crate::client::DEFAULT_MAX_ANSWER_BYTES),
        )
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
        .families(a.families)
        .allow_writes(a.allow_writes)
        .strict(a.strict || file.strict.unwrap_or(false))
        .progress(!a.no_progress && !a.quiet && !a.verbose && env.stderr_is_terminal)
        .verbose(a.verbose);
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
        check_report_destination(&path)?;
        b = b.report(fmt, path);
    }
    if let Some(dir) = a.record {
        check_record_destination(&dir)?;
        b = b.record(dir);
    }
    if let Target::Remote { url, .. } = &target_for_journal {
        let path = a
            .journal
            .clone()
            .or(file.journal.clone())
            .unwrap_or_else(|| crate::undo::journal::default_path(&env.vars, url));
        b = b.journal(path);
    } else if a.journal.is_some() {
        return Err(Error::Usage(
            "--journal applies to --target runs; the built-in mock keeps nothing".into(),
        ));
    }
    b = b.max_failures(
        a.max_failures
            .or(file.max_failures)
            .unwrap_or(run::config::DEFAULT_MAX_FAILURES),
    );
    if let Some(d) = a.deadline.or(file.deadline) {
        b = b.deadline(Duration::from_secs(d));
    }
    if let Some(name) = tunnel_svm {
        b = b.tunnel_svm(name);
    }
    if let Some(n) = a.sample.or(file.sample) {
        b = b.sample(n);
    }
    if let Some(r) = a.rate.or(file.rate) {
        b = b.rate(r);
    }
    if let Some(f) = a.latency_drift.or(file.latency_drift) {
        b = b.latency_drift(f);
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
        let spec = super::contract(args.contract.as_deref(), args.specs.as_deref())?;
        return out(&crate::checks::list(spec));
    }
    let quiet = args.quiet;
    let cfg = config(args, env)?;
    if let Some(why) = cfg.note.as_ref().filter(|_| !quiet) {
        eprintln!("note: {why}");
    }
    let RunOutcome {
        report,
        recording,
        drift,
    } = match run::run_blocking(&cfg) {
        Ok(outcome) => outcome,
        Err(Error::Unreachable(why)) => {
            // A CI step that publishes the report must find one saying why.
            let why = redact_url_password(&cfg, &why);
            write_reports(&cfg, &Report::errored(facts_before_run(&cfg), why.clone()))?;
            return Err(Error::Unreachable(why));
        }
        Err(Error::Stopped(why)) => {
            let why = redact_url_password(&cfg, &why);
            let mut facts = facts_before_run(&cfg);
            facts.stopped = Some(why.clone());
            write_reports(
                &cfg,
                &Report::errored(facts, format!("stopped early: {why}")),
            )?;
            return Err(Error::Stopped(why));
        }
        Err(e) => return Err(e),
    };
    if report.stopped.is_some() {
        eprintln!(
            "{}",
            if report.restore_problems.is_empty() {
                "restored.".to_string()
            } else {
                format!(
                    "NOT restored: {} records were left changed (see NOT RESTORED)",
                    report.restore_problems.len()
                )
            }
        );
    }
    if let (Some(dir), Some(rec)) = (&cfg.record, &recording) {
        record::write(dir, rec)?;
        if !quiet {
            eprintln!(
                "recorded {} endpoints into {}",
                rec.endpoints.len(),
                dir.display()
            );
        }
    }
    // With a report on standard output, the summary goes to standard error.
    let to_stderr = cfg.reports.iter().any(|(_, p)| is_stdout(p));
    let style = report::Style {
        quiet,
        color: env.color(!to_stderr),
    };
    let summary = report::render_with(&report, style);
    if to_stderr {
        eprint!("{summary}");
    } else {
        out(&summary)?;
    }
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
    if !report.restore_problems.is_empty() {
        let kept = cfg
            .journal
            .as_ref()
            .map(|j| {
                format!(
                    "; the journal {} keeps the originals for `ontap-conform restore`",
                    j.display()
                )
            })
            .unwrap_or_default();
        return Err(Error::Changed(format!(
            "the target was left changed: {} records are not back{kept}",
            report.restore_problems.len()
        )));
    }
    if let Some(why) = &report.stopped
        && !report.interrupted
    {
        return Err(Error::Stopped(why.clone()));
    }
    if report.interrupted {
        return Err(Error::Failed(
            "interrupted (records were restored; see above)".into(),
        ));
    }
    if report.failed() {
        let why = if report.summary.failures > 0 {
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

/// What the report can say about a run that never got to its target.
fn facts_before_run(cfg: &RunConfig) -> report::RunFacts {
    let target = match &cfg.target {
        Target::Builtin { .. } => "built-in mock".to_string(),
        Target::Remote { url, .. } => url_without_password(url),
    };
    report::RunFacts {
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

/// An error text with the target URL's password (if one was written into it) replaced.
fn redact_url_password(cfg: &RunConfig, text: &str) -> String {
    match &cfg.target {
        Target::Remote { url, .. } => match url::Url::parse(url)
            .ok()
            .and_then(|u| u.password().map(String::from))
        {
            Some(pw) if !pw.is_empty() => text.replace(&pw, "REDACTED"),
            _ => text.to_string(),
        },
        Target::Builtin { .. } => text.to_string(),
    }
}

fn write_reports(cfg: &RunConfig, report: &Report) -> Result<()> {
    for (fmt, path) in &cfg.reports {
        let text = match fmt {
            ReportFormat::Json => report.to_json(),
            ReportFormat::Junit => report::junit::render(report),
            ReportFormat::Html => report::html::render(report),
        };
        write_report(path, &text)?;
    }
    Ok(())
}

/// `ontap-conform diff DIR_A DIR_B`: compares two recordings offline.
pub fn diff(args: DiffArgs) -> Result<()> {
    let a = record::read(&args.a)?;
    let b = record::read(&args.b)?;
    if let Some(f) = args.latency_drift
        && !(f.is_finite() && f > 1.0)
    {
        return Err(Error::Usage(format!(
            "--latency-drift {f}: expected a factor above 1 (2: the p95 more than doubled)"
        )));
    }
    let d = record::diff_with(&a, &b, args.latency_drift);
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
