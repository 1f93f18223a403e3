//! What every check shares during a run: the client, the contract, the target's version, the
//! safety mode, the stores of findings and outcomes, the run's [`Stop`] and its [`Undo`] (the
//! records to put back). Every exchange passes through [`Ctx::send`], where the passive checks
//! ([`super::passive`]) judge it. A check protects a record with [`Ctx::protect`] (or
//! `ctx.undo` directly) before it changes it; putting records back is [`Undo`]'s job.

use crate::checks::findings::Findings;
use crate::checks::passive::{Judgement, Passive};
use crate::checks::rule_evidence;
use crate::client::{Client, Exchange, Request, TransportError};
use crate::record::Recorder;
use crate::spec::model::Evidence;
use crate::spec::{Endpoint, OntapVersion, Spec};
use crate::undo::journal::Journal;
use crate::undo::{Guard, Stop, Undo};
use crate::verdict::{Finding, Mode, Reproducer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

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
    /// Families the run may write to (`--allow-writes`); empty: every family.
    pub writable: Vec<String>,
    /// Probes that must be refused run although the mode reads only (an imported contract's
    /// default; not an explicit `--read-only`).
    pub probes: bool,
}

pub struct Ctx {
    pub spec: &'static Spec,
    pub client: Client,
    pub version: OntapVersion,
    /// The mode, the cases, the seed, the sample and the selected checks.
    pub settings: Settings,
    /// Records of each family as `GET collection?fields=**` returned them at discovery (read
    /// once, in pages, and shared by every check that must see a whole collection), compactly.
    pub records: BTreeMap<String, Arc<crate::checks::records::Records>>,
    /// The records of each family the per-record checks touch: at most `sample`, chosen by the
    /// seed (see [`crate::checks::read::choose_sample`]), in discovery order.
    pub sampled: BTreeMap<String, Vec<Value>>,
    /// For each nested collection (`/api/storage/volumes/{volume.uuid}/snapshots`): the one
    /// parent's path its collection checks run at (the one with the most records under it) and
    /// those records. A nested family with no parent record has none.
    pub nested: BTreeMap<String, (String, Arc<crate::checks::records::Records>)>,
    /// The findings, the outcome of every (check, endpoint) pair and what was exercised.
    pub findings: Findings,
    /// The passive checks, which judge every exchange [`Ctx::send`] makes.
    passive: Passive,
    /// Set with --record / --compare: every exchange is kept as a request class.
    pub recorder: Option<Recorder>,
    /// Set on a signal, a deadline or too many transport failures: no new change is sent.
    pub stop: Arc<Stop>,
    /// The saved records, the journal and the restore.
    pub undo: Undo,
    /// Every secret value the run knows; the report is scrubbed of them (see [`crate::redact`]).
    pub secrets: std::sync::Arc<crate::redact::Secrets>,
    /// The names of secret fields (write-only, POST-response-only, password).
    secret_names: Vec<String>,
    /// [`Ctx::secret_names`] made ready to be found in an answer's text (memchr's substring
    /// search: `str::contains` on every answer was 2.3% of the harness's instructions).
    secret_finders: Vec<memchr::memmem::Finder<'static>>,
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
        self.ctx.findings.push(self.finding);
    }
}

impl Ctx {
    pub fn new(
        spec: &'static Spec,
        client: Client,
        version: OntapVersion,
        settings: Settings,
        journal: Option<Arc<Journal>>,
        stop: Arc<Stop>,
    ) -> Ctx {
        let secret_names = crate::redact::secret_names(spec);
        Ctx {
            undo: Undo::new(spec, client.clone(), stop.clone(), journal),
            stop,
            spec,
            client,
            version,
            settings,
            records: BTreeMap::new(),
            sampled: BTreeMap::new(),
            nested: BTreeMap::new(),
            findings: Findings::default(),
            passive: Passive::default(),
            recorder: None,
            secrets: Default::default(),
            secret_finders: secret_names
                .iter()
                .map(|n| memchr::memmem::Finder::new(n).into_owned())
                .collect(),
            secret_names,
        }
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
                .secret_finders
                .iter()
                .any(|f| f.find(x.response.text.as_bytes()).is_some())
        {
            if let Some(tree) = secrets_tree(x, j) {
                self.secrets.add_fields(&tree, &self.secret_names);
            }
        }
    }

    pub fn may_write(&self) -> bool {
        self.settings.mode != Mode::ReadOnly
    }
    /// Whether the run writes to this family: not read-only, and named by `--allow-writes`
    /// when that was given.
    pub fn may_write_family(&self, family: &str) -> bool {
        self.may_write()
            && (self.settings.writable.is_empty()
                || self
                    .settings
                    .writable
                    .iter()
                    .any(|g| crate::spec::import::glob_match(g, family)))
    }
    /// POST, DELETE, secrets and lock-out fields: only with --allow-destructive or the built-in mock.
    /// Whether probes that must be refused (a PUT, expecting 405) may be sent: wherever writes
    /// may, and on an imported contract's default run.
    pub fn may_probe(&self) -> bool {
        self.may_write() || self.settings.probes
    }
    pub fn may_destroy(&self) -> bool {
        let s = &self.settings;
        s.mode != Mode::ReadOnly && (s.builtin || s.mode == Mode::Destructive)
    }
    pub fn selected(&self, check: &str) -> bool {
        let s = &self.settings.selected;
        s.is_empty() || s.iter().any(|c| c == check)
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

    /// Sends one probe that must answer as `e.rule` expects; any other answer is a finding of it.
    pub async fn expect_answer(&self, check: &str, ep: &Endpoint, req: Request, e: Expect<'_>) {
        self.findings.count_cases(1);
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

    /// Sends a request for `ep` and judges it passively. A transport failure is a finding of
    /// `check` and comes back as None.
    pub async fn send(&self, check: &str, ep: &Endpoint, req: Request) -> Option<Exchange> {
        if self.stop.requested() {
            return None;
        }
        // What a change sends to saved records is written down before it is sent.
        if !self.undo.will_send(ep, &req) {
            return None;
        }
        let write = !matches!(req.method.as_str(), "GET" | "HEAD" | "OPTIONS");
        // Boxed: the exchange's future is large, and this one is moved as the case's is.
        let sending = Box::pin(self.client.send_unless(req.clone(), self.stop.flag()));
        let answer = if write {
            // A write in flight is never dropped: it finishes, or times out and is in doubt.
            sending.await
        } else {
            // A read in flight ends with the stop: nothing is sent or awaited after a deadline.
            tokio::select! {
                a = sending => a,
                _ = self.stop.stopped() => return None,
            }
        };
        let sent = match answer {
            Ok(x) => Ok(x),
            // Dropped before it was sent: the run is stopping.
            Err(None) => return None,
            Err(Some(e)) => {
                // No answer to a write: it may have landed, or land later.
                if write && !e.never_sent() {
                    self.undo.in_doubt();
                }
                Err(e)
            }
        };
        self.learn_secrets(&req, sent.as_ref().ok());
        if write {
            let never_sent = sent.as_ref().is_err_and(TransportError::never_sent);
            if !never_sent {
                self.undo
                    .answered(ep, &req, sent.as_ref().ok().map(|x| x.response.status));
            }
        }
        match sent {
            Ok(x) => {
                self.stop.answered();
                let judgement = crate::client::heavy_for(x.response.text.len(), || {
                    self.passive.judge(self.spec, ep, &x)
                });
                self.keep_judgement(ep, &x, judgement);
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
                self.findings.push(
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

    /// Keeps what the passive checks made of an exchange: the checks that ran on it, and a
    /// finding of each problem a selected check saw (aggregated with the same problem seen in
    /// other exchanges).
    fn keep_judgement(&self, ep: &Endpoint, x: &Exchange, j: Judgement) {
        for check in j.ran {
            self.findings.ran(check, ep);
        }
        for s in j.seen.into_iter().filter(|s| self.selected(s.check)) {
            let method = &x.request.method;
            let finding = Finding::new(
                s.check,
                ep.path(),
                method,
                s.rule,
                rule_evidence(self.spec, s.rule),
            )
            .message(s.message)
            .reproducer(Some(self.reproducer(x, &s.expected)));
            let problem = (
                s.check.to_string(),
                ep.path().to_string(),
                method.clone(),
                s.key,
            );
            self.findings.aggregate(problem, finding);
        }
    }

    /// Saves a record's state before the first change, so that it can be put back (see
    /// [`Undo::protect`]); the record is read through [`Ctx::send`], judged like any exchange.
    /// None: do not change it.
    pub async fn protect(&self, check: &str, inst: &Endpoint, path: &str) -> Option<Guard> {
        let read = async {
            let x = self
                .send(check, inst, Request::get(format!("{path}?fields=**")))
                .await?;
            x.response
                .json
                .as_deref()
                .cloned()
                .filter(|_| x.response.status == 200)
        };
        self.undo.protect(&inst.family, path, read).await
    }
}

/// The tree an answer's secrets are learnt from: its JSON, or for a slim answer (whose tree lacks
/// the fields nobody reads, while its text, which a report may show, holds them) the whole text
/// read again.
fn secrets_tree<'a>(x: &Exchange, json: &'a Value) -> Option<std::borrow::Cow<'a, Value>> {
    if x.request.keep.is_none() {
        return Some(std::borrow::Cow::Borrowed(json));
    }
    serde_json::from_str(&x.response.text)
        .ok()
        .map(std::borrow::Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Request, Response};
    use std::sync::Arc;

    #[test]
    fn a_slim_answers_secrets_are_learnt_from_its_whole_text() {
        let text = r#"{"records":[{"uuid":"u","secret_key":"s3cr3t-value"}],"num_records":1}"#;
        let exchange = |req: Request| {
            let keep = req.keep.clone();
            let json = match &keep {
                Some(k) => crate::client::slim::decode(text.as_bytes(), k),
                None => serde_json::from_str(text).ok(),
            };
            Exchange {
                request: req,
                response: Response {
                    status: 200,
                    location: None,
                    content_type: Some("application/json".into()),
                    text: text.into(),
                    json: json.map(Arc::new),
                    body_id: None,
                    millis: 0,
                },
            }
        };
        let slim = exchange(Request::get("/api/x?fields=uuid").keeping(["uuid"]));
        let tree = slim.response.json.as_deref().unwrap();
        assert_eq!(tree["records"][0].get("secret_key"), None, "the slim tree");
        let learnt = secrets_tree(&slim, tree).unwrap();
        assert_eq!(learnt["records"][0]["secret_key"], "s3cr3t-value");
        let whole = exchange(Request::get("/api/x?fields=**"));
        let tree = whole.response.json.as_deref().unwrap();
        assert!(matches!(
            secrets_tree(&whole, tree),
            Some(std::borrow::Cow::Borrowed(_))
        ));
    }
}
