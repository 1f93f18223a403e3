//! `ontap-conform run` and `ontap-conform diff`: the merged settings ([`super::config`]) become
//! the engine's [`RunConfig`] and the command line's [`Output`] here, once; after the run, the
//! summary is printed, the reports and the recording are written, and the outcome picks the
//! exit code.

use super::config::{Layers, Settings};
use super::{DiffArgs, Env, RunArgs, out};
use ontap_conform::client::{ClientIdentity, Credentials, Proxies, ProxyUrl, Trust};
use ontap_conform::error::{Error, Result};
use ontap_conform::mock::Fault;
use ontap_conform::record::{self, Recording};
use ontap_conform::report::{self, Report};
use ontap_conform::run::config::{Baseline, RunConfig, Target};
use ontap_conform::run::{self, RunOutcome};
use ontap_conform::spec::{OntapVersion, Spec};
use ontap_conform::verdict::Mode;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What the command line does with a run besides running it: where the reports and the
/// recording go, and what the terminal shows.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub reports: Vec<(report::Format, PathBuf)>,
    pub record: Option<PathBuf>,
    pub verbose: bool,
    /// Draw the progress line on standard error.
    pub progress: bool,
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

pub(super) fn report_destination(r: &str) -> Result<(report::Format, PathBuf)> {
    let (kind, path) = r.split_once('=').ok_or_else(|| {
        Error::Usage(format!(
            "--report {r}: expected FORMAT=FILE, e.g. json=report.json or junit=junit.xml"
        ))
    })?;
    let fmt = match kind {
        "json" => report::Format::Json,
        "junit" => report::Format::Junit,
        "html" => report::Format::Html,
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
pub(super) fn check_report_destination(path: &Path) -> Result<()> {
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
    let dir = ontap_conform::fsutil::dir_of(path);
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
pub(super) fn check_record_destination(dir: &Path) -> Result<()> {
    let parent = ontap_conform::fsutil::dir_of(dir);
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
pub(super) fn write_report(path: &Path, text: &str) -> Result<()> {
    if is_stdout(path) {
        return out(text);
    }
    if write_through(path) {
        return std::fs::write(path, text).map_err(|e| Error::io(path, e));
    }
    ontap_conform::fsutil::write_atomic(path, text.as_bytes())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io(path, e))
}

/// The client certificate and key: both or neither.
pub(super) fn client_identity(s: &Settings) -> Result<Option<ClientIdentity>> {
    let (cert, key) = match (s.client_cert.clone(), s.client_key.clone()) {
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
        .map_err(Error::from)
}

/// The proxies: `--proxy` (or the setting `proxy`), else HTTPS_PROXY / HTTP_PROXY from the
/// environment; NO_PROXY applies to all of them.
pub(super) fn proxies(s: &Settings, env: &Env) -> Result<Proxies> {
    let mut p = Proxies::from_env(|name| env.vars.get(name).cloned())?;
    if let Some(u) = &s.proxy {
        p.all = Some(ProxyUrl::parse("--proxy", u)?);
    }
    Ok(p)
}

/// The TLS trust: `--insecure`, `--ca-cert FILE`, or the platform's roots.
pub(super) fn trust(insecure: bool, ca_cert: Option<&Path>) -> Result<Trust> {
    match (insecure, ca_cert) {
        (true, Some(_)) => Err(Error::Usage(
            "--insecure and --ca-cert contradict each other".into(),
        )),
        (true, None) => Ok(Trust::Insecure),
        (false, Some(p)) => Ok(Trust::CaPem(
            std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?,
        )),
        (false, None) => Ok(Trust::System),
    }
}

/// The remote target: URL, credentials (from the environment or the terminal), trust, proxies
/// and the client certificate.
fn remote_target(s: &Settings, url: &str, env: &Env, quiet: bool) -> Result<Target> {
    if s.faults.is_some()
        || s.variants.is_some()
        || s.ontap_version.is_some()
        || s.fixtures.is_some()
    {
        return Err(Error::Usage("--fault, --variant, --ontap-version and --fixtures apply to the built-in mock only; drop them with --target".into()));
    }
    check_url(url)?;
    // Before any password is asked for.
    if s.tunnel_svm.is_some() && s.svm_user.is_some() {
        return Err(Error::Usage(run::config::TUNNEL_AND_SVM_USER.into()));
    }
    let user = s.user.clone().unwrap_or_else(|| "admin".into());
    let pw_env = s.password_env.clone();
    let identity = client_identity(s)?;
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
        if pw_env.is_none() && env.vars.get(PASSWORD_VAR).is_some_and(|p| !p.is_empty()) && !quiet {
            eprintln!(
                "note: the password of {user} is read from {PASSWORD_VAR} (no --password-env)"
            );
        }
        Credentials::new(user, password)
    };
    let svm = match &s.svm_user {
        None => None,
        Some(u) => {
            let pw = password_from(
                env,
                s.svm_password_env.as_deref(),
                SVM_PASSWORD_VAR,
                u,
                "--svm-password-env",
            )?;
            Some(Credentials::new(u.clone(), pw))
        }
    };
    Ok(Target::Remote {
        url: url.trim_end_matches('/').to_string(),
        admin,
        svm,
        trust: trust(s.insecure.unwrap_or(false), s.ca_cert.as_deref())?,
        proxy: proxies(s, env)?,
        identity,
    })
}

/// Refuses a target URL that is not `http(s)://host[:port]`.
fn check_url(url: &str) -> Result<()> {
    let parsed = url::Url::parse(url).map_err(|e| {
        Error::Usage(format!(
            "--target {}: not a URL ({e}); expected e.g. https://cluster1.example.com",
            redact_userinfo(url)
        ))
    })?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host().is_none() {
        return Err(Error::Usage(format!(
            "--target {}: expected an http(s)://host[:port] URL",
            redact_userinfo(url)
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
            redact_userinfo(url)
        )));
    }
    Ok(())
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
fn builtin_target(a: &Settings, spec: &'static Spec) -> Result<Target> {
    if a.user.is_some()
        || a.password_env.is_some()
        || a.insecure == Some(true)
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
        None => spec
            .release()
            .unwrap_or(ontap_conform::mock::DEFAULT_VERSION),
    };
    let mut faults = std::collections::BTreeSet::new();
    for f in a.faults.iter().flatten() {
        faults.insert(
            f.parse::<Fault>()
                .map_err(|e| Error::Usage(format!("--fault {f}: {e}")))?,
        );
    }
    let mut variants = std::collections::BTreeSet::new();
    for v in a.variants.iter().flatten() {
        variants.insert(
            v.parse::<ontap_conform::mock::Variant>()
                .map_err(|e| Error::Usage(format!("--variant {v}: {e}")))?,
        );
    }
    let fixtures = match &a.fixtures {
        None => None,
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                Error::Usage(format!("--fixtures {}: cannot read it ({e})", p.display()))
            })?;
            Some(ontap_conform::mock::load_data_set(
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

/// The run's merged settings as the engine's [`RunConfig`] (its `build()` validates every value);
/// the built-in mock is the target when no layer names one.
pub fn config(s: &Settings, env: &Env, quiet: bool) -> Result<RunConfig> {
    let spec = super::contract(s.contract.as_deref(), s.specs.as_deref())?;
    let mode = match (s.read_only == Some(true), s.allow_destructive == Some(true)) {
        (true, true) => {
            return Err(Error::Usage(
                "--read-only and --allow-destructive contradict each other".into(),
            ));
        }
        (true, false) => Mode::ReadOnly,
        (false, true) => Mode::Destructive,
        (false, false) => Mode::Restore,
    };
    let target = match &s.target {
        None => builtin_target(s, spec)?,
        Some(url) => remote_target(s, url, env, quiet)?,
    };
    let seed = s.seed.unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (t.as_nanos() as u64 ^ std::process::id() as u64) % 1_000_000
    });
    let journal = match (&target, &s.journal) {
        (Target::Remote { url, .. }, j) => Some(
            j.clone()
                .unwrap_or_else(|| ontap_conform::undo::journal::default_path(&env.vars, url)),
        ),
        (Target::Builtin { .. }, Some(_)) => {
            return Err(Error::Usage(
                "--journal applies to --target runs; the built-in mock keeps nothing".into(),
            ));
        }
        (Target::Builtin { .. }, None) => None,
    };
    // One lock per target, in the state directory, whatever --journal says.
    let lock = match &target {
        Target::Remote { url, .. } => Some(ontap_conform::undo::lock::default_path(&env.vars, url)),
        Target::Builtin { .. } => None,
    };
    let list = |l: &Option<Vec<String>>| l.clone().unwrap_or_default();
    let mut b = RunConfig::builder()
        .spec(spec)
        .target(target)
        .mode(mode)
        .seed(seed)
        .cases(s.cases.unwrap_or(run::config::DEFAULT_CASES))
        .concurrency(s.concurrency.unwrap_or(run::config::DEFAULT_CONCURRENCY))
        .timeout(Duration::from_secs(
            s.timeout.unwrap_or(run::config::DEFAULT_TIMEOUT_SECS),
        ))
        .max_answer_bytes(
            s.max_answer_bytes
                .unwrap_or(ontap_conform::client::DEFAULT_MAX_ANSWER_BYTES),
        )
        .checks(list(&s.checks))
        .endpoints(list(&s.endpoints))
        .families(list(&s.families))
        .allow_writes(list(&s.allow_writes))
        .strict(s.strict.unwrap_or(false))
        .record(s.record.is_some())
        .max_failures(s.max_failures.unwrap_or(run::config::DEFAULT_MAX_FAILURES));
    if let Some(n) = s.threads {
        b = b.threads(n);
    }
    if let Some(j) = journal {
        b = b.journal(j);
    }
    if let Some(l) = lock {
        b = b.lock(l);
    }

    if let Some(d) = s.deadline {
        b = b.deadline(Duration::from_secs(d));
    }
    if let Some(name) = &s.tunnel_svm {
        b = b.tunnel_svm(name);
    }
    if let Some(n) = s.sample {
        b = b.sample(n);
    }
    if let Some(r) = s.rate {
        b = b.rate(r);
    }
    if let Some(f) = s.latency_drift {
        b = b.latency_drift(f);
    }
    if let Some(text) = &s.shard {
        let shard: run::shard::Shard = text.parse()?;
        if s.seed.is_none() && s.compare.is_none() {
            return Err(Error::Usage(format!(
                "--shard {shard} needs --seed S (or seed in the config file): every shard must generate the same cases for report merge to put them together"
            )));
        }
        b = b.shard(shard);
    }
    if let Some(name) = &s.name {
        b = b.target_name(name);
    }
    if let Some(dir) = &s.compare {
        if s.seed.is_some() || s.cases.is_some() {
            return Err(Error::Usage(
                "--compare replays the baseline's seed and case count: drop seed and cases from the config file and the environment".into(),
            ));
        }
        let recording = record::read(dir)?;
        b = b.compare(Baseline {
            dir: dir.clone(),
            recording,
        });
    }
    b.build()
}

/// What the command line does besides the run: the reports and the recording (each destination
/// checked before the first request) and what the terminal shows.
/// A destination as the file system names it: links and `..` resolved (the file itself need
/// not exist yet).
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let parent = ontap_conform::fsutil::dir_of(path);
    match (parent.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

pub fn output(s: &Settings, a: &RunArgs, env: &Env) -> Result<Output> {
    let mut reports = Vec::new();
    let mut seen: Vec<(PathBuf, String)> = Vec::new();
    for r in s.reports.iter().flatten() {
        let (fmt, path) = report_destination(r)?;
        check_report_destination(&path)?;
        // Two reports into one file (or both to standard output) would overwrite or run into
        // each other.
        let key = if is_stdout(&path) {
            PathBuf::from("-")
        } else {
            resolved(&path)
        };
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            return Err(Error::Usage(format!(
                "--report {r}: {} is already the destination of --report {first}; give each report its own file (at most one to -)",
                path.display()
            )));
        }
        seen.push((key, r.clone()));
        reports.push((fmt, path));
    }
    if let Some(dir) = &s.record {
        check_record_destination(dir)?;
    }
    Ok(Output {
        reports,
        record: s.record.clone(),
        verbose: a.verbose,
        progress: !a.no_progress && !a.quiet && !a.verbose && env.stderr_is_terminal,
    })
}

/// The settings of the run the flags ask for: every layer read and merged once.
pub fn settings(a: &RunArgs, env: &Env) -> Result<Settings> {
    let layers = Layers::read(a, env)?;
    if !a.quiet {
        for var in &layers.unknown_env {
            eprintln!(
                "note: {var} names no setting of run (ignored); the settings are {}",
                Settings::keys().join(", ")
            );
        }
    }
    layers.merged(a.target_name.as_deref())
}

/// `ontap-conform run`.
pub fn main(args: RunArgs, env: &Env) -> Result<()> {
    if args.list_checks {
        let spec = super::contract(args.contract.as_deref(), args.specs.as_deref())?;
        return out(&ontap_conform::checks::list(spec));
    }
    if args.list_rules {
        let spec = super::contract(args.contract.as_deref(), args.specs.as_deref())?;
        let rows = ontap_conform::checks::rules::table(spec);
        return out(&ontap_conform::checks::rules::render_text(&rows));
    }
    if args.all_targets {
        return super::fleet::main(&args, env);
    }
    let quiet = args.quiet;
    let settings = settings(&args, env)?;
    let cfg = config(&settings, env, quiet)?;
    let output = output(&settings, &args, env)?;
    if let Some(why) = cfg.note.as_ref().filter(|_| !quiet) {
        eprintln!("note: {why}");
    }
    let console = super::progress::Console {
        progress: super::progress::Progress::new(output.progress),
        verbose: output.verbose,
    };
    let RunOutcome {
        report,
        recording,
        drift,
    } = match run::run_observed(&cfg, Arc::new(console)) {
        Ok(outcome) => outcome,
        Err(Error::Unreachable(why)) => {
            // A CI step that publishes the report must find one saying why.
            let why = redact_url_password(&cfg, &why);
            let mut errored = Report::errored(run::facts_before_run(&cfg), why.clone());
            run::describe(&cfg, &mut errored);
            write_reports(&output, &errored)?;
            return Err(Error::Unreachable(why));
        }
        Err(Error::Stopped(why)) => {
            let why = redact_url_password(&cfg, &why);
            let mut facts = run::facts_before_run(&cfg);
            facts.stopped = Some(why.clone());
            write_reports(
                &output,
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
    if let (Some(dir), Some(rec)) = (&output.record, &recording) {
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
    let to_stderr = output.reports.iter().any(|(_, p)| is_stdout(p));
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
    write_reports(&output, &report)?;
    outcome_error(&cfg, &report, drift.as_deref())
}

/// The error a finished run ends with, by precedence: left changed (5), stopped early (3),
/// interrupted or failed (1), drift (4); none when it passed.
fn outcome_error(
    cfg: &RunConfig,
    report: &Report,
    drift: Option<&[ontap_conform::record::Drift]>,
) -> Result<()> {
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

fn write_reports(output: &Output, report: &Report) -> Result<()> {
    for (fmt, path) in &output.reports {
        write_report(path, &fmt.render(report))?;
    }
    Ok(())
}

/// `ontap-conform diff DIR_A DIR_B`: compares two recordings offline.
pub fn diff(args: DiffArgs) -> Result<()> {
    let a = record::read(&args.a)?;
    let b = record::read(&args.b)?;
    if let Some(f) = args.latency_drift {
        run::config::check_latency_drift(f)?;
    }
    let d = record::diff_with(&a, &b, args.latency_drift);
    let name = |dir: &Path, r: &Recording| {
        format!("{} (ONTAP {})", dir.display(), r.manifest.ontap_version)
    };
    out(&record::render(&d, &name(&args.a, &a), &name(&args.b, &b)))?;
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&d).expect("JSON") + "\n";
        ontap_conform::fsutil::write_atomic(path, text.as_bytes())?;
    }
    if d.is_empty() {
        Ok(())
    } else {
        Err(Error::Drift(format!("{} changes", d.len())))
    }
}
