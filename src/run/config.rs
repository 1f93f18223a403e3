//! What a run is told to do, as one validated value: [`RunConfig`], made with its builder. The
//! command line (`crate::cli`) turns flags, the config file and the environment into a builder;
//! tests use the builder directly. `build()` checks every value once, so nothing after it
//! re-checks an argument (ripgrep's habit).

use crate::client::{ClientIdentity, Credentials, Proxies, Trust};
use crate::error::{Error, Result};
use crate::mock::{Fault, Variant};
use crate::record::Recording;
use crate::spec::{OntapVersion, Spec};
use crate::verdict::Mode;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_CASES: u32 = 32;
pub const DEFAULT_CONCURRENCY: usize = 4;
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_MAX_FAILURES: u64 = 5;
/// Records per family the per-record checks touch by default: more than any family of the
/// built-in data set holds, so a run against it sees every record.
pub const DEFAULT_SAMPLE: usize = 16;
/// Why `--tunnel-svm` and `--svm-user` are refused together.
pub const TUNNEL_AND_SVM_USER: &str = "--tunnel-svm and --svm-user: give one (tunnelling is for runs without an SVM administrator's password)";
/// The highest `--rate` (requests per second).
pub const MAX_RATE: f64 = 100_000.0;
/// The lowest `--rate`: one request every 100 s (a lower one would make any run endless).
pub const MIN_RATE: f64 = 0.01;
/// The longest `--deadline`: a week.
pub const MAX_DEADLINE_SECS: u64 = 7 * 24 * 3600;
/// The largest `--max-answer-bytes`: 1 GiB.
pub const MAX_ANSWER_BYTES_LIMIT: usize = 1 << 30;

#[derive(Debug, Clone)]
pub enum Target {
    /// The reference mock, started in-process on a loopback port.
    Builtin {
        version: OntapVersion,
        faults: BTreeSet<Fault>,
        /// Freedoms of a conformant ONTAP it shows (`run --variant NAME`).
        variants: BTreeSet<Variant>,
        /// Another data set for it (`run --fixtures FILE`); None: the built-in fixtures.
        fixtures: Option<serde_json::Value>,
    },
    Remote {
        url: String,
        admin: Credentials,
        svm: Option<Credentials>,
        trust: Trust,
        /// `--proxy` and the environment's proxies; which one applies is decided by the client.
        proxy: Proxies,
        /// `--client-cert` / `--client-key`.
        identity: Option<ClientIdentity>,
    },
}

impl Target {
    /// The built-in mock as it starts by default: ONTAP 9.14.1, no fault, the built-in records.
    pub fn builtin() -> Target {
        Target::Builtin {
            version: crate::mock::DEFAULT_VERSION,
            faults: BTreeSet::new(),
            variants: BTreeSet::new(),
            fixtures: None,
        }
    }
}

/// A recorded baseline to compare the run with (`--compare DIR`), read before the run starts.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub dir: PathBuf,
    pub recording: Recording,
}

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub spec: &'static Spec,
    pub target: Target,
    /// Bounds each whole exchange (headers and body).
    pub timeout: Duration,
    /// The longest answer body read; a longer one is cut off and becomes a transport error.
    pub max_answer_bytes: usize,
    pub concurrency: usize,
    /// Worker threads of the runtime the run uses.
    pub threads: usize,
    pub cases: u32,
    pub seed: u64,
    pub mode: Mode,
    pub checks: Vec<String>,
    pub endpoints: Vec<String>,
    /// Families to run (`--family GLOB`, repeatable); empty: every family. `build()` turns them
    /// into `endpoints`.
    pub families: Vec<String>,
    /// Families the run may write to (`--allow-writes GLOB`, repeatable); empty: every family
    /// of a hand-written contract, none of an imported one.
    pub allow_writes: Vec<String>,
    /// Why the run does less than asked (said once before the run), set by `build()`.
    pub note: Option<String>,
    /// Probes that must be refused (a PUT, expecting 405) run although the mode reads only: set
    /// by `build()` when an imported contract turns the default mode read-only.
    pub refusal_probes: bool,
    pub strict: bool,
    /// Keep every exchange for a recording (`--record DIR`: the command line writes it).
    pub record: bool,
    /// With a baseline, the run replays its seed and case count and reports the drift.
    pub compare: Option<Baseline>,
    /// The restore journal (remote targets): originals are written here before each change.
    pub journal: Option<PathBuf>,
    /// The target's lock (remote targets): one run at a time (see [`crate::undo::lock`]).
    pub lock: Option<PathBuf>,
    /// Consecutive transport failures that stop the run (it restores, then exits 3); 0: never.
    pub max_failures: u64,
    /// A bound on the whole run: when it passes, no new change is sent and the run restores.
    pub deadline: Option<Duration>,
    /// Without an SVM administrator, the role checks run as the cluster administrator tunnelled
    /// into this SVM (`--tunnel-svm`: `X-Dot-SVM-Name`).
    pub tunnel_svm: Option<String>,
    /// Records per family the per-record checks touch (`--sample`), chosen by the seed.
    pub sample: usize,
    /// Requests per second at most (`--rate`); None: as fast as `--concurrency` allows.
    pub rate: Option<f64>,
    /// With `--compare`: an endpoint whose p95 latency grew more than this many times is drift
    /// of kind `latency` (`--latency-drift`); None: latency is not compared.
    pub latency_drift: Option<f64>,
    /// `--shard K/N`: the run is share K of N and runs only that share's families (see
    /// [`super::shard`]); its report names the shard.
    pub shard: Option<super::shard::Shard>,
    /// The families of the share: given by a fleet (its share is cut over every target), else
    /// set by `build()` from the run's own families. Empty: this share has no work here.
    pub shard_families: Option<Vec<String>>,
    /// The target's name in the config file, for the reports (a fleet's rows and `report merge`).
    pub target_name: Option<String>,
}

impl RunConfig {
    /// A run of the whole suite against the built-in mock, every setting at its default; change
    /// what differs, then `build()`.
    pub fn builder() -> RunConfigBuilder {
        RunConfigBuilder {
            threads: None,
            cfg: RunConfig {
                spec: Spec::builtin(),
                target: Target::builtin(),
                timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
                max_answer_bytes: crate::client::DEFAULT_MAX_ANSWER_BYTES,
                concurrency: DEFAULT_CONCURRENCY,
                threads: 0,
                cases: DEFAULT_CASES,
                seed: 0,
                mode: Mode::Restore,
                checks: Vec::new(),
                endpoints: Vec::new(),
                families: Vec::new(),
                allow_writes: Vec::new(),
                note: None,
                refusal_probes: false,
                strict: false,
                record: false,
                compare: None,
                journal: None,
                lock: None,
                max_failures: DEFAULT_MAX_FAILURES,
                deadline: None,
                tunnel_svm: None,
                sample: DEFAULT_SAMPLE,
                rate: None,
                latency_drift: None,
                shard: None,
                shard_families: None,
                target_name: None,
            },
        }
    }
}

/// Builds a [`RunConfig`]; `build()` validates it.
#[derive(Debug, Clone)]
pub struct RunConfigBuilder {
    cfg: RunConfig,
    /// `threads(n)` as given: 0 is refused by `build()`; none picks by the target.
    threads: Option<usize>,
}

impl RunConfigBuilder {
    pub fn spec(mut self, spec: &'static Spec) -> Self {
        self.cfg.spec = spec;
        self
    }
    pub fn target(mut self, target: Target) -> Self {
        self.cfg.target = target;
        self
    }
    /// A remote target only: the proxies it may be reached through.
    pub fn proxy(mut self, p: Proxies) -> Self {
        if let Target::Remote { proxy, .. } = &mut self.cfg.target {
            *proxy = p;
        }
        self
    }
    /// A remote target only: log in with this client certificate too.
    pub fn client_identity(mut self, id: ClientIdentity) -> Self {
        if let Target::Remote { identity, .. } = &mut self.cfg.target {
            *identity = Some(id);
        }
        self
    }
    /// The longest answer body read (`--max-answer-bytes`).
    pub fn max_answer_bytes(mut self, n: usize) -> Self {
        self.cfg.max_answer_bytes = n;
        self
    }
    /// Built-in mock only: the ONTAP version it reports.
    pub fn ontap_version(mut self, v: OntapVersion) -> Self {
        if let Target::Builtin { version, .. } = &mut self.cfg.target {
            *version = v;
        }
        self
    }
    /// Built-in mock only: rules it breaks on purpose.
    pub fn faults(mut self, list: impl IntoIterator<Item = Fault>) -> Self {
        if let Target::Builtin { faults, .. } = &mut self.cfg.target {
            faults.extend(list);
        }
        self
    }
    /// Built-in mock only: freedoms of a conformant ONTAP it shows.
    pub fn variants(mut self, list: impl IntoIterator<Item = Variant>) -> Self {
        if let Target::Builtin { variants, .. } = &mut self.cfg.target {
            variants.extend(list);
        }
        self
    }
    /// Built-in mock only: its data set.
    pub fn fixtures(mut self, data: serde_json::Value) -> Self {
        if let Target::Builtin { fixtures, .. } = &mut self.cfg.target {
            *fixtures = Some(data);
        }
        self
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.cfg.timeout = t;
        self
    }
    pub fn concurrency(mut self, n: usize) -> Self {
        self.cfg.concurrency = n;
        self
    }
    /// Worker threads (1 to 64); not given: one worker against a remote target, every core with
    /// the built-in mock.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }
    pub fn cases(mut self, n: u32) -> Self {
        self.cfg.cases = n;
        self
    }
    pub fn seed(mut self, s: u64) -> Self {
        self.cfg.seed = s;
        self
    }
    pub fn mode(mut self, m: Mode) -> Self {
        self.cfg.mode = m;
        self
    }
    pub fn checks(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.cfg.checks = names.into_iter().map(Into::into).collect();
        self
    }
    pub fn allow_writes(mut self, globs: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.cfg.allow_writes = globs.into_iter().map(Into::into).collect();
        self
    }
    pub fn families(mut self, globs: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.cfg.families = globs.into_iter().map(Into::into).collect();
        self
    }
    pub fn endpoints(mut self, paths: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.cfg.endpoints = paths.into_iter().map(Into::into).collect();
        self
    }
    pub fn strict(mut self, on: bool) -> Self {
        self.cfg.strict = on;
        self
    }
    /// Keeps every exchange, for a recording (`RunOutcome::recording`).
    pub fn record(mut self, on: bool) -> Self {
        self.cfg.record = on;
        self
    }
    /// Compares with a baseline: the run takes the baseline's seed and case count.
    pub fn compare(mut self, baseline: Baseline) -> Self {
        self.cfg.seed = baseline.recording.manifest.seed;
        self.cfg.cases = baseline.recording.manifest.cases;
        self.cfg.compare = Some(baseline);
        self
    }
    /// Where the lock of a remote target is taken.
    pub fn lock(mut self, path: impl Into<PathBuf>) -> Self {
        self.cfg.lock = Some(path.into());
        self
    }

    /// Where the restore journal of a remote target goes.
    pub fn journal(mut self, path: impl Into<PathBuf>) -> Self {
        self.cfg.journal = Some(path.into());
        self
    }
    pub fn max_failures(mut self, n: u64) -> Self {
        self.cfg.max_failures = n;
        self
    }
    /// The role checks run as the cluster administrator tunnelled into this SVM
    /// (`--tunnel-svm NAME`); against the built-in mock this replaces its SVM administrator.
    pub fn tunnel_svm(mut self, name: impl Into<String>) -> Self {
        self.cfg.tunnel_svm = Some(name.into());
        self
    }
    pub fn deadline(mut self, d: Duration) -> Self {
        self.cfg.deadline = Some(d);
        self
    }
    /// Records per family the per-record checks touch (`--sample`).
    pub fn sample(mut self, n: usize) -> Self {
        self.cfg.sample = n;
        self
    }
    /// Requests per second at most (`--rate`).
    pub fn rate(mut self, per_second: f64) -> Self {
        self.cfg.rate = Some(per_second);
        self
    }
    /// With a baseline: report an endpoint whose p95 grew more than `factor` times.
    pub fn latency_drift(mut self, factor: f64) -> Self {
        self.cfg.latency_drift = Some(factor);
        self
    }

    /// Runs share `shard` of the run's families (`--shard K/N`).
    pub fn shard(mut self, shard: super::shard::Shard) -> Self {
        self.cfg.shard = Some(shard);
        self
    }
    /// Runs share `shard` of a fleet, whose families on this target are `families`.
    pub fn fleet_shard(mut self, shard: super::shard::Shard, families: Vec<String>) -> Self {
        self.cfg.shard = Some(shard);
        self.cfg.shard_families = Some(families);
        self
    }
    /// The target's name in the config file.
    pub fn target_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.target_name = Some(name.into());
        self
    }

    /// Checks every value; the error names the setting (as its flag) and what was expected.
    pub fn build(self) -> Result<RunConfig> {
        let mut c = self.cfg;
        let threads = self.threads;
        let usage = |m: String| Err(Error::Usage(m));
        if let Some(name) = &c.tunnel_svm {
            if name.trim().is_empty() || http::HeaderValue::from_str(name).is_err() {
                return usage(format!("--tunnel-svm {name:?}: expected an SVM's name"));
            }
            if let Target::Remote { svm: Some(_), .. } = &c.target {
                return usage(TUNNEL_AND_SVM_USER.into());
            }
        }
        check_ranges(&c)?;
        if let Some(n) = threads {
            if !(1..=64).contains(&n) {
                return usage(format!("--threads {n}: expected 1 to 64"));
            }
            c.threads = n;
        } else {
            // One event loop keeps up with any real cluster; against a mock on this machine it
            // leaves the other cores to the mock. The built-in mock runs on the same runtime.
            c.threads = match c.target {
                Target::Remote { .. } => 1,
                Target::Builtin { .. } => {
                    std::thread::available_parallelism().map_or(2, |n| n.get())
                }
            };
        }
        for name in &c.checks {
            if crate::checks::info(name).is_none() {
                let names: Vec<&str> = crate::checks::CHECKS.iter().map(|c| c.name).collect();
                return usage(format!(
                    "--check {name}: no such check; expected one of {}",
                    names.join(", ")
                ));
            }
        }
        for e in &c.endpoints {
            if c.spec.endpoint(e).is_none() {
                let paths: Vec<&str> = c.spec.endpoints.iter().map(|e| e.path()).collect();
                return usage(format!(
                    "--endpoint {e}: not in the catalog; expected one of {}",
                    paths.join(", ")
                ));
            }
        }
        narrow_to_families(&mut c)?;
        super::shard::narrow(&mut c);
        decide_writes(&mut c)?;
        if c.record && c.compare.is_some() {
            return usage("--record and --compare: use one at a time".into());
        }
        if let Target::Builtin {
            fixtures: Some(data),
            ..
        } = &c.target
        {
            crate::mock::store::Store::from_value(c.spec, data)
                .map_err(|e| Error::Usage(format!("--fixtures: {e}")))?;
        }
        Ok(c)
    }
}

/// Each number within its range; the error names the flag and the range.
fn check_ranges(c: &RunConfig) -> Result<()> {
    let usage = |m: String| Err(Error::Usage(m));
    if c.cases == 0 || c.cases > 100_000 {
        return usage(format!("--cases {}: expected 1 to 100000", c.cases));
    }
    if c.concurrency == 0 || c.concurrency > 256 {
        return usage(format!(
            "--concurrency {}: expected 1 to 256",
            c.concurrency
        ));
    }
    let secs = c.timeout.as_secs();
    if secs == 0 || secs > 3600 {
        return usage(format!("--timeout {secs}: expected 1 to 3600 seconds"));
    }
    if let Some(d) = c.deadline
        && (d.is_zero() || d.as_secs() > MAX_DEADLINE_SECS)
    {
        return usage(format!(
            "--deadline {}: expected 1 to {MAX_DEADLINE_SECS} seconds",
            d.as_secs()
        ));
    }
    if !(1024..=MAX_ANSWER_BYTES_LIMIT).contains(&c.max_answer_bytes) {
        return usage(format!(
            "--max-answer-bytes {}: expected 1024 to {MAX_ANSWER_BYTES_LIMIT} bytes",
            c.max_answer_bytes
        ));
    }
    if c.sample == 0 || c.sample > 1_000_000 {
        return usage(format!("--sample {}: expected 1 to 1000000", c.sample));
    }
    if let Some(r) = c.rate
        && !(r.is_finite() && (MIN_RATE..=MAX_RATE).contains(&r))
    {
        return usage(format!(
            "--rate {r:?}: expected {MIN_RATE} to {MAX_RATE} requests per second"
        ));
    }
    if let Some(f) = c.latency_drift {
        check_latency_drift(f)?;
    }
    Ok(())
}

/// What the run may write: `--allow-writes` must name families of the contract; an imported
/// contract reads only unless told otherwise (the note says why).
fn decide_writes(c: &mut RunConfig) -> Result<()> {
    let usage = |m: String| Err(Error::Usage(m));
    for g in &c.allow_writes {
        if !c
            .spec
            .families
            .iter()
            .any(|f| crate::spec::import::glob_match(g, &f.family))
        {
            return usage(format!(
                "--allow-writes {g}: no family of {} matches; expected a family name or a glob like 'volume*'",
                c.spec.source
            ));
        }
    }
    if c.mode == Mode::Restore && !c.allow_writes.is_empty() {
        c.note = Some(format!(
            "writes only to the families --allow-writes names ({}); the others are read only",
            c.allow_writes.join(", ")
        ));
    } else if c.mode == Mode::Restore && c.spec.families.iter().any(|f| f.imported_from.is_some()) {
        // NetApp's definitions say what may be patched, not what a cluster accepts back
        // (netapp-ontap lists Duo's owner.name as patchable; the docs forbid it): a restore
        // built on them cannot be trusted, so an imported contract reads only unless
        // --allow-destructive says the target is a lab or a mock.
        c.mode = Mode::ReadOnly;
        c.refusal_probes = true;
        c.note = Some(format!(
            "{} is imported from NetApp's definitions: the run reads only, besides a PUT to each path that must be refused (405) and changes nothing (--allow-writes GLOB writes to the families it names; --allow-destructive to all, on a lab or a mock)",
            c.spec.source
        ));
    }
    Ok(())
}

/// A `--latency-drift` factor: above 1 (2: the p95 more than doubled).
pub fn check_latency_drift(f: f64) -> Result<f64> {
    if f.is_finite() && f > 1.0 {
        Ok(f)
    } else {
        Err(Error::Usage(format!(
            "--latency-drift {f}: expected a factor above 1 (2: the p95 more than doubled)"
        )))
    }
}

/// `--family GLOB`: the endpoints of the matching families (within `--endpoint`, if given).
fn narrow_to_families(c: &mut RunConfig) -> Result<(), Error> {
    if c.families.is_empty() {
        return Ok(());
    }
    let glob = crate::spec::import::glob_match;
    let paths: Vec<String> = c
        .spec
        .endpoints
        .iter()
        .filter(|e| c.families.iter().any(|g| glob(g, &e.family)))
        .filter(|e| c.endpoints.is_empty() || c.endpoints.iter().any(|p| p == e.path()))
        .map(|e| e.path().to_string())
        .collect();
    if paths.is_empty() {
        let mut fams: Vec<&str> = c.spec.endpoints.iter().map(|e| e.family.as_str()).collect();
        fams.dedup();
        return Err(Error::Usage(format!(
            "--family {}: no family of the contract matches{}; expected names like {}",
            c.families.join(", --family "),
            if c.endpoints.is_empty() {
                ""
            } else {
                " (within --endpoint)"
            },
            fams.iter().take(8).copied().collect::<Vec<_>>().join(", ")
        )));
    }
    c.endpoints = paths;
    Ok(())
}
