//! What every check shares during a run: the client, the contract, the target's version, the
//! safety mode, the stores of findings and outcomes, and the journal of records to put back.
//! Every exchange passes through [`Ctx::send`], where the passive checks ([`super::passive`])
//! judge it. Putting records back is the run's job ([`crate::run`] hands in its restorer), so
//! that this module only keeps what was saved.

use crate::checks::rule_evidence;
use crate::client::{Client, Exchange, Request, TransportError};
use crate::record::Recorder;
use crate::spec::model::{Evidence, Method};
use crate::spec::resource::get_path;
use crate::spec::{Endpoint, OntapVersion, Spec};
use crate::undo::journal::Journal;
use crate::undo::{Change, Saved, Stop};
use crate::verdict::{Finding, Mode, Outcome, Reproducer, RestoreProblem};
use futures_util::future::BoxFuture;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Puts the saved records back (of one family, or all with None) and verifies them; returns the
/// problems. The run supplies it ([`crate::run::restore`]).
pub type RestoreFn = for<'a> fn(&'a Ctx, Option<&'a str>) -> BoxFuture<'a, Vec<RestoreProblem>>;

/// What the run decided before the first check: the settings every check reads.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    /// The target is the built-in mock: everything may run.
    pub builtin: bool,
    pub cases: u32,
    pub seed: u64,
    /// Records per family the per-record checks touch (`--sample`).
    pub sample: usize,
    /// Checks selected with --check (empty: all).
    pub selected: Vec<String>,
    /// Transport failures in a row that stop the run (`--max-failures`; 0: never).
    pub max_failures: u64,
}

pub struct Ctx {
    pub spec: &'static Spec,
    pub client: Client,
    pub version: OntapVersion,
    pub mode: Mode,
    /// The target is the built-in mock: everything may run.
    pub builtin: bool,
    pub cases: u32,
    pub seed: u64,
    /// Records of each family as `GET collection?fields=**` returned them at discovery (read
    /// once, in pages, and shared by every check that must see a whole collection), compactly.
    pub records: BTreeMap<String, crate::checks::records::Records>,
    /// Records per family the per-record checks touch (`--sample`).
    pub sample: usize,
    /// The records of each family the per-record checks touch: at most `sample`, chosen by the
    /// seed (see [`crate::checks::read::choose_sample`]), in discovery order.
    pub sampled: BTreeMap<String, Vec<Value>>,
    /// Checks selected with --check (empty: all).
    pub selected: Vec<String>,
    findings: Mutex<Vec<Finding>>,
    pub(super) passive: Mutex<BTreeMap<(String, String, String, String), Finding>>,
    /// check -> endpoint -> outcome (nested, so that the hot path looks up without allocating).
    outcomes: Mutex<BTreeMap<String, BTreeMap<String, Outcome>>>,
    cases_run: AtomicU64,
    /// (endpoint, method, status, body id) of answers the passive checks found nothing in.
    pub(super) judged_clean: Mutex<HashSet<(usize, Method, u16, u64)>>,
    saved: Mutex<Vec<Saved>>,
    /// Saved records journaled in bulk from the discovery read (a collection PATCH's family)...
    bulk: Mutex<HashSet<String>>,
    /// ...and those of them a read-back proved as saved, untouched since: a restore skips them.
    clean: Mutex<HashSet<String>>,
    restore_problems: Mutex<Vec<crate::verdict::RestoreProblem>>,
    restorer: RestoreFn,
    /// Set with --record / --compare: every exchange is kept as a request class.
    pub recorder: Option<Recorder>,
    /// The on-disk journal (remote targets); None: saved records are kept in memory only.
    pub journal: Option<std::sync::Arc<Journal>>,
    /// Set on a signal, a deadline or too many transport failures: no new change is sent.
    pub stop: Arc<Stop>,
    /// Every secret value the run knows; the report is scrubbed of them (see [`crate::redact`]).
    pub secrets: std::sync::Arc<crate::redact::Secrets>,
    /// The names of secret fields (write-only, POST-response-only, password).
    secret_names: Vec<String>,
    /// (family, what) exercised: `field:<path>`, `code:<code>`, `unknown:<METHOD>`.
    exercised: Mutex<std::collections::BTreeSet<(String, String)>>,
}

/// A probe that must answer as a rule of the contract expects (see [`Ctx::expect_answer`]).
pub struct Expect<'a> {
    /// The rule whose `expect` the answer must match.
    pub rule: &'a str,
    /// How the message names the probe: "{what} answered {the answer}".
    pub what: &'a str,
}

/// A finding under construction, bound to the run it will be recorded in (see [`Ctx::finding`]).
#[must_use = "a finding is recorded only by .record()"]
pub struct Draft<'a> {
    ctx: &'a Ctx,
    finding: Finding,
}

impl Draft<'_> {
    /// The message a user reads first.
    pub fn message(mut self, m: impl Into<String>) -> Self {
        self.finding.message = m.into();
        self
    }
    /// The exchange that shows it, and what was expected instead: becomes the reproducer.
    pub fn shown_by(mut self, x: Option<&Exchange>, expected: &str) -> Self {
        self.finding.reproducer = x.map(|x| self.ctx.reproducer(x, expected));
        self
    }
    /// Sets the evidence (and so the severity) instead of the rule's own.
    pub fn evidence(mut self, e: Evidence) -> Self {
        self.finding = Finding {
            severity: crate::verdict::Severity::of(e),
            evidence: e,
            ..self.finding
        };
        self
    }
    pub fn record(self) {
        self.ctx.push(self.finding);
    }
}

impl Ctx {
    pub fn new(
        spec: &'static Spec,
        client: Client,
        version: OntapVersion,
        settings: Settings,
        restorer: RestoreFn,
    ) -> Ctx {
        Ctx {
            spec,
            client,
            version,
            mode: settings.mode,
            builtin: settings.builtin,
            cases: settings.cases,
            seed: settings.seed,
            records: BTreeMap::new(),
            sample: settings.sample,
            sampled: BTreeMap::new(),
            selected: settings.selected,
            findings: Mutex::new(Vec::new()),
            passive: Mutex::new(BTreeMap::new()),
            outcomes: Mutex::new(BTreeMap::new()),
            cases_run: AtomicU64::new(0),
            judged_clean: Mutex::new(Default::default()),
            saved: Mutex::new(Vec::new()),
            bulk: Mutex::default(),
            clean: Mutex::default(),
            restore_problems: Mutex::new(Vec::new()),
            restorer,
            recorder: None,
            journal: None,
            stop: Arc::new(Stop::new(settings.max_failures)),
            secrets: Default::default(),
            secret_names: crate::redact::secret_names(spec),
            exercised: Mutex::new(Default::default()),
        }
    }

    /// Notes that a family's field was round-tripped, an error code provoked, an unknown field
    /// sent (`field:comment`, `code:4`, `unknown:PATCH`), for the coverage section.
    pub fn exercised(&self, family: &str, what: String) {
        self.exercised
            .lock()
            .unwrap()
            .insert((family.to_string(), what));
    }

    /// What was exercised of a family, as noted.
    pub fn exercised_of(&self, family: &str) -> Vec<String> {
        self.exercised
            .lock()
            .unwrap()
            .iter()
            .filter(|(f, _)| f == family)
            .map(|(_, w)| w.clone())
            .collect()
    }

    /// Learns the secrets an exchange carries: values sent for secret fields, and one-time
    /// secrets a target answered with (or leaked).
    fn learn_secrets(&self, req: &Request, x: Option<&Exchange>) {
        if let Some(crate::client::Body::Json(b)) = &req.body {
            self.secrets.add_fields(b, &self.secret_names);
        }
        if let Some(x) = x
            && let Some(j) = &x.response.json
            && self
                .secret_names
                .iter()
                .any(|n| x.response.text.contains(n.as_str()))
        {
            self.secrets.add_fields(j, &self.secret_names);
        }
    }

    pub fn may_write(&self) -> bool {
        self.mode != Mode::ReadOnly
    }
    /// POST, DELETE, secrets and lock-out fields: only with --allow-destructive or the built-in mock.
    pub fn may_destroy(&self) -> bool {
        self.mode != Mode::ReadOnly && (self.builtin || self.mode == Mode::Destructive)
    }
    pub fn selected(&self, check: &str) -> bool {
        self.selected.is_empty() || self.selected.iter().any(|c| c == check)
    }

    pub fn count_cases(&self, n: u64) {
        self.cases_run.fetch_add(n, Ordering::Relaxed);
    }
    pub fn cases_run(&self) -> u64 {
        self.cases_run.load(Ordering::Relaxed)
    }

    pub fn ran(&self, check: &str, ep: &Endpoint) {
        let mut o = self.outcomes.lock().unwrap();
        if let Some(v) = o.get_mut(check).and_then(|m| m.get_mut(ep.path())) {
            if *v != Outcome::Ran {
                *v = Outcome::Ran;
            }
            return;
        }
        o.entry(check.to_string())
            .or_default()
            .insert(ep.path().to_string(), Outcome::Ran);
    }
    pub fn skip(&self, check: &str, ep: &Endpoint, why: impl Into<String>) {
        let mut o = self.outcomes.lock().unwrap();
        o.entry(check.to_string())
            .or_default()
            .entry(ep.path().to_string())
            .or_insert(Outcome::Skipped(why.into()));
    }
    pub fn outcomes(&self) -> BTreeMap<(String, String), Outcome> {
        let o = self.outcomes.lock().unwrap();
        o.iter()
            .flat_map(|(c, m)| {
                m.iter()
                    .map(move |(e, v)| ((c.clone(), e.clone()), v.clone()))
            })
            .collect()
    }

    /// Starts a finding of `check` on `method ep` for a broken `rule`; its evidence (from the
    /// contract) sets the severity. Add `.message(..)`, `.shown_by(..)`, then `.record()`.
    pub fn finding<'a>(
        &'a self,
        check: &str,
        ep: &Endpoint,
        method: &str,
        rule: &str,
    ) -> Draft<'a> {
        Draft {
            ctx: self,
            finding: Finding::new(
                check,
                ep.path(),
                method,
                rule,
                rule_evidence(self.spec, rule),
            ),
        }
    }

    /// Records a finding built by the caller.
    pub fn push(&self, f: Finding) {
        self.findings.lock().unwrap().push(f);
    }

    /// Sends one probe that must answer as `e.rule` expects; any other answer is a finding of it.
    pub async fn expect_answer(&self, check: &str, ep: &Endpoint, req: Request, e: Expect<'_>) {
        self.count_cases(1);
        let method = req.method.clone();
        let Some(x) = self.send(check, ep, req).await else {
            return;
        };
        if !super::answers(self.spec, e.rule, &x.response) {
            self.finding(check, ep, &method, e.rule)
                .message(format!("{} answered {}", e.what, x.response.summary()))
                .shown_by(Some(&x), &super::describe(self.spec, e.rule))
                .record();
        }
    }

    pub fn reproducer(&self, x: &Exchange, expected: &str) -> Reproducer {
        let body: String = x.response.text.chars().take(400).collect();
        Reproducer {
            curl: self
                .client
                .curl(&crate::redact::redact_request(self.spec, &x.request)),
            expected: expected.to_string(),
            actual: format!(
                "{} {}",
                x.response.status,
                crate::redact::redact_text(self.spec, &body)
            ),
            shrunk: None,
        }
    }

    pub fn findings(&self) -> Vec<Finding> {
        let mut all = self.findings.lock().unwrap().clone();
        all.extend(self.passive.lock().unwrap().values().cloned());
        all
    }

    /// Sends a request for `ep` and judges it passively. A transport failure is a finding of
    /// `check` and comes back as None.
    pub async fn send(&self, check: &str, ep: &Endpoint, req: Request) -> Option<Exchange> {
        if self.stop.requested() {
            return None;
        }
        let sent = match self.client.send_unless(req.clone(), self.stop.flag()).await {
            Ok(x) => Ok(x),
            // Dropped before it was sent: the run is stopping.
            Err(None) => return None,
            Err(Some(e)) => Err(e),
        };
        self.learn_secrets(&req, sent.as_ref().ok());
        match sent {
            Ok(x) => {
                self.stop.answered();
                super::passive::judge(self, ep, &x);
                if let Some(r) = &self.recorder {
                    r.add(ep.path(), check, &x);
                }
                Some(x)
            }
            // Once the run is stopping, a request cut off is not a finding about the target.
            Err(_) if self.stop.requested() => None,
            Err(TransportError(e)) => {
                self.stop.failed(&e);
                let curl = self
                    .client
                    .curl(&crate::redact::redact_request(self.spec, &req));
                self.push(
                    Finding::new(check, ep.path(), &req.method, "answer", Evidence::Lib)
                        .message(format!("no answer: {e}"))
                        .reproducer(Some(Reproducer {
                            curl,
                            expected: "an HTTP answer".into(),
                            actual: e,
                            shrunk: None,
                        })),
                );
                None
            }
        }
    }

    /// The instance path of a record, from its key values.
    pub fn instance_path(&self, inst: &Endpoint, record: &Value) -> Option<String> {
        let mut keys = Vec::new();
        for k in inst.path_keys() {
            let v = get_path(record, k)?;
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            keys.push((k, s));
        }
        let pairs: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Some(inst.render(&pairs))
    }

    /// Saves a record's state before the first change, so that it can be put back.
    pub async fn protect(&self, check: &str, inst: &Endpoint, path: &str) -> Option<Value> {
        if let Some(s) = self.saved.lock().unwrap().iter().find(|s| s.path == path) {
            // About to change again: the next restore reads it back.
            self.clean.lock().unwrap().remove(path);
            return Some(s.original());
        }
        let x = self
            .send(check, inst, Request::get(format!("{path}?fields=**")))
            .await?;
        let mut original = x
            .response
            .json
            .as_deref()
            .cloned()
            .filter(|_| x.response.status == 200)?;
        // A leaking target's secrets are never written down.
        crate::redact::redact_secrets(self.spec, &mut original);
        self.save(Saved::new(&inst.family, path, Change::Changed, &original))
            .then_some(original)
    }

    /// Writes down records as the shared discovery read returned them (before the run changed
    /// anything), in one journal write, without reading each again: what a collection PATCH
    /// does for the whole family. False: not all could be written down, or a record has no key
    /// values to name it by (it could not be read back or put back): then nothing is written
    /// and the change must not be sent.
    pub fn protect_known(
        &self,
        inst: &Endpoint,
        records: &crate::checks::records::Records,
    ) -> bool {
        if self.stop.requested() {
            return false;
        }
        let res = self.spec.resource_of(inst);
        let mut saved = self.saved.lock().unwrap();
        let known: HashSet<&str> = saved.iter().map(|s| s.path.as_str()).collect();
        let mut paths: Vec<String> = Vec::with_capacity(records.len());
        let mut fresh: Vec<Saved> = Vec::new();
        for r in records.iter() {
            let Some(p) = self.instance_path(inst, &r) else {
                return false;
            };
            if !known.contains(p.as_str()) {
                // What a restore compares and writes back: the patchable fields (the path
                // names the record; a whole family is journaled, so nothing else is kept).
                let mut kept = serde_json::Map::new();
                for f in res.patchable().filter(|f| f.gettable()) {
                    if let Some(v) = get_path(&r, &f.path) {
                        crate::spec::resource::set_path(&mut kept, &f.path, v.clone());
                    }
                }
                let mut original = Value::Object(kept);
                crate::redact::redact_secrets(self.spec, &mut original);
                fresh.push(Saved::new(&inst.family, &p, Change::Changed, &original));
            }
            paths.push(p);
        }
        drop(known);
        if let Some(j) = &self.journal
            && let Err(e) = j.add_many(&fresh)
        {
            drop(saved);
            self.stop
                .now(format!("the restore journal could not be written: {e}"));
            return false;
        }
        {
            let mut bulk = self.bulk.lock().unwrap();
            let mut clean = self.clean.lock().unwrap();
            for p in paths {
                // A collection PATCH is about to be sent: every record may change.
                clean.remove(&p);
                bulk.insert(p);
            }
        }
        saved.extend(fresh);
        true
    }

    /// Records a read-back proved as saved; those journaled in bulk are skipped by later
    /// restores until a change is announced for them again (records saved one by one are
    /// always read back).
    pub fn mark_clean(&self, paths: &[String]) {
        let bulk = self.bulk.lock().unwrap();
        let mut clean = self.clean.lock().unwrap();
        clean.extend(paths.iter().filter(|p| bulk.contains(*p)).cloned());
    }

    /// Marks many records restored (a read-back proved each), in one journal write.
    pub fn verified_many(&self, paths: &[String]) {
        if let Some(j) = &self.journal
            && let Err(e) = j.restored_many(paths)
        {
            self.restore_problem(crate::verdict::RestoreProblem {
                record: format!("{} records", paths.len()),
                field: None,
                original: None,
                reason: format!("restored, but the journal could not say so: {e}"),
                curl: None,
            });
        }
    }

    /// Writes down a record the run is about to create (so that an interrupted run deletes it);
    /// false: do not create it.
    pub fn will_create(&self, family: &str, path: &str) -> bool {
        self.save(Saved::new(family, path, Change::Created, &Value::Null))
    }

    /// Keeps a saved record, in the journal first: false when it could not be written down (then
    /// the change must not be sent).
    fn save(&self, s: Saved) -> bool {
        if self.stop.requested() {
            return false;
        }
        let mut saved = self.saved.lock().unwrap();
        if saved.iter().any(|o| o.path == s.path) {
            return true;
        }
        if let Some(j) = &self.journal
            && let Err(e) = j.add(&s.family, &s.path, s.change, &s.original())
        {
            drop(saved);
            self.stop
                .now(format!("the restore journal could not be written: {e}"));
            return false;
        }
        saved.push(s);
        true
    }

    /// A saved record was proved back to its original (or gone, for a created one).
    pub fn verified(&self, path: &str) {
        if let Some(j) = &self.journal
            && let Err(e) = j.restored(path)
        {
            self.restore_problem(crate::verdict::RestoreProblem {
                record: path.to_string(),
                field: None,
                original: None,
                reason: format!("restored, but the journal could not say so: {e}"),
                curl: None,
            });
        }
    }

    /// Forgets a saved record (it was deleted and re-created by its check).
    pub fn forget(&self, path: &str) {
        self.saved.lock().unwrap().retain(|s| s.path != path);
    }

    /// The saved records of one family (or all) that a restore must look at: all but those
    /// journaled in bulk that a read-back proved, untouched since (see [`Ctx::mark_clean`]).
    pub fn saved_to_restore(&self, family: Option<&str>) -> Vec<Saved> {
        // Locked in the order every other user takes them: saved, then clean.
        let saved = self.saved.lock().unwrap();
        let clean = self.clean.lock().unwrap();
        saved
            .iter()
            .filter(|s| family.is_none_or(|f| f == s.family) && !clean.contains(&s.path))
            .cloned()
            .collect()
    }

    /// Puts every changed record back to its saved state and verifies it; problems are kept (see
    /// [`Ctx::restore_problems`]) and returned.
    pub async fn restore_all(&self) -> Vec<RestoreProblem> {
        self.restore(None).await
    }

    /// Restores the saved records of one family (write checks of other families may be running).
    pub async fn restore_family(&self, family: &str) -> Vec<RestoreProblem> {
        self.restore(Some(family)).await
    }

    async fn restore(&self, family: Option<&str>) -> Vec<RestoreProblem> {
        let mut problems = (self.restorer)(self, family).await;
        problems.sort_by(|a, b| (&a.record, &a.field).cmp(&(&b.record, &b.field)));
        let mut all = self.restore_problems.lock().unwrap();
        all.extend(problems.clone());
        all.sort_by(|a, b| (&a.record, &a.field).cmp(&(&b.record, &b.field)));
        all.dedup();
        problems
    }

    /// A record the run could not put back, found outside a restore.
    pub fn restore_problem(&self, p: RestoreProblem) {
        self.restore_problems.lock().unwrap().push(p);
    }
    /// Every restore problem so far.
    pub fn restore_problems(&self) -> Vec<RestoreProblem> {
        self.restore_problems.lock().unwrap().clone()
    }
    /// Forgets the problems of earlier restores, before one last restore verifies everything.
    pub fn clear_restore_problems(&self) {
        self.restore_problems.lock().unwrap().clear();
    }
}
