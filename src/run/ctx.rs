//! What every check shares during a run: the client, the contract, the target's version, the
//! safety mode, the findings, and the restorer. Every exchange passes through [`Ctx::send`], where
//! the passive checks (response-schema, status-code, error-envelope) judge it.

use crate::checks::{Severity, judge, rule_evidence};
use crate::client::{Client, Exchange, Request, TransportError};
use crate::spec::model::{Evidence, Kind, Method};
use crate::spec::resource::{get_path, set_path};
use crate::spec::{Endpoint, OntapVersion, Spec};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the run may change on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// GETs only.
    ReadOnly,
    /// Restorable PATCHes, each record put back exactly as it was (the default).
    Restore,
    /// Also POST, DELETE, write-only secrets and lock-out fields (`--allow-destructive`).
    Destructive,
}

/// How to reproduce a finding.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reproducer {
    /// A curl command (secrets redacted) that reproduces the minimal failing request.
    pub curl: String,
    pub expected: String,
    pub actual: String,
    /// How many generated cases failed before shrinking, when the check is a property.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shrunk: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub check: String,
    pub endpoint: String,
    pub method: String,
    pub severity: Severity,
    pub evidence: Evidence,
    pub rule: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reproducer: Option<Reproducer>,
    /// How many times the same problem was seen (passive checks aggregate).
    pub occurrences: u64,
}

/// Whether a (check, endpoint) pair ran or why it did not.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "status", content = "reason", rename_all = "lowercase")]
pub enum Outcome {
    Ran,
    Skipped(String),
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
    /// Records of each family as `GET collection?fields=*` returned them at discovery.
    pub records: BTreeMap<String, Vec<Value>>,
    /// Checks selected with --check (empty: all).
    pub selected: Vec<String>,
    findings: Mutex<Vec<Finding>>,
    passive: Mutex<BTreeMap<(String, String, String, String), Finding>>,
    /// check -> endpoint -> outcome (nested, so that the hot path looks up without allocating).
    outcomes: Mutex<BTreeMap<String, BTreeMap<String, Outcome>>>,
    cases_run: AtomicU64,
    /// (endpoint, method, status, body id) of answers the passive checks found nothing in.
    judged_clean: Mutex<std::collections::HashSet<(usize, Method, u16, u64)>>,
    saved: Mutex<Vec<Saved>>,
    pub restore_problems: Mutex<Vec<String>>,
    /// Set with --record / --compare: every exchange is kept as a request class.
    pub recorder: Option<crate::report::record::Recorder>,
}

#[derive(Debug, Clone)]
struct Saved {
    family: String,
    path: String,
    original: Value,
}

impl Ctx {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: &'static Spec,
        client: Client,
        version: OntapVersion,
        mode: Mode,
        builtin: bool,
        cases: u32,
        seed: u64,
        selected: Vec<String>,
    ) -> Ctx {
        Ctx {
            spec,
            client,
            version,
            mode,
            builtin,
            cases,
            seed,
            records: BTreeMap::new(),
            selected,
            findings: Mutex::new(Vec::new()),
            passive: Mutex::new(BTreeMap::new()),
            outcomes: Mutex::new(BTreeMap::new()),
            cases_run: AtomicU64::new(0),
            judged_clean: Mutex::new(Default::default()),
            saved: Mutex::new(Vec::new()),
            restore_problems: Mutex::new(Vec::new()),
            recorder: None,
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

    /// Records a finding of an active check.
    #[allow(clippy::too_many_arguments)]
    pub fn find(
        &self,
        check: &str,
        ep: &Endpoint,
        method: &str,
        evidence: Evidence,
        rule: &str,
        message: String,
        x: Option<&Exchange>,
        expected: &str,
    ) {
        let reproducer = x.map(|x| self.reproducer(x, expected));
        self.findings.lock().unwrap().push(Finding {
            check: check.into(),
            endpoint: ep.path().into(),
            method: method.into(),
            severity: Severity::of(evidence),
            evidence,
            rule: rule.into(),
            message,
            reproducer,
            occurrences: 1,
        });
    }

    /// A finding judged by a shared rule of the contract (its evidence sets the severity).
    #[allow(clippy::too_many_arguments)]
    pub fn find_rule(
        &self,
        check: &str,
        ep: &Endpoint,
        method: &str,
        rule: &str,
        message: String,
        x: Option<&Exchange>,
        expected: &str,
    ) {
        let ev = rule_evidence(self.spec, rule);
        self.find(check, ep, method, ev, rule, message, x, expected);
    }

    /// Records a finding built by the caller.
    pub fn push(&self, f: Finding) {
        self.findings.lock().unwrap().push(f);
    }

    /// Sends one probe that must answer `status`; any other answer is a finding of `rule`, worded
    /// "{what} answered {the answer}".
    #[allow(clippy::too_many_arguments)]
    pub async fn expect_status(
        &self,
        check: &str,
        ep: &Endpoint,
        req: Request,
        status: u16,
        rule: &str,
        what: &str,
        expected: &str,
    ) {
        self.count_cases(1);
        let method = req.method.clone();
        let Some(x) = self.send(check, ep, req).await else {
            return;
        };
        if x.response.status != status {
            self.find_rule(
                check,
                ep,
                &method,
                rule,
                format!("{what} answered {}", x.response.summary()),
                Some(&x),
                expected,
            );
        }
    }

    pub fn reproducer(&self, x: &Exchange, expected: &str) -> Reproducer {
        let body: String = x.response.text.chars().take(400).collect();
        Reproducer {
            curl: self
                .client
                .curl(&crate::report::redact_request(self.spec, &x.request)),
            expected: expected.to_string(),
            actual: format!(
                "{} {}",
                x.response.status,
                crate::report::redact_text(self.spec, &body)
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
        match self.client.send(req.clone()).await {
            Ok(x) => {
                self.judge_passive(ep, &x);
                if let Some(r) = &self.recorder {
                    r.add(ep.path(), check, &x);
                }
                Some(x)
            }
            Err(TransportError(e)) => {
                let curl = self
                    .client
                    .curl(&crate::report::redact_request(self.spec, &req));
                self.findings.lock().unwrap().push(Finding {
                    check: check.into(),
                    endpoint: ep.path().into(),
                    method: req.method.clone(),
                    severity: Severity::Failure,
                    evidence: Evidence::Lib,
                    rule: "answer".into(),
                    message: format!("no answer: {e}"),
                    reproducer: Some(Reproducer {
                        curl,
                        expected: "an HTTP answer".into(),
                        actual: e,
                        shrunk: None,
                    }),
                    occurrences: 1,
                });
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn passive(
        &self,
        check: &str,
        ep: &Endpoint,
        x: &Exchange,
        rule: &str,
        key: String,
        message: String,
        expected: &str,
    ) {
        if !self.selected(check) {
            return;
        }
        let k = (
            check.to_string(),
            ep.path().to_string(),
            x.request.method.clone(),
            key,
        );
        let message = shorten(&message, 240);
        let mut p = self.passive.lock().unwrap();
        if let Some(f) = p.get_mut(&k) {
            f.occurrences += 1;
            // Keep the smallest reproducer, so concurrency cannot change the report.
            let rep = self.reproducer(x, expected);
            if f.reproducer
                .as_ref()
                .is_none_or(|r| (&rep.curl, &rep.actual) < (&r.curl, &r.actual))
            {
                f.reproducer = Some(rep);
                f.message = message;
            }
            return;
        }
        let ev = rule_evidence(self.spec, rule);
        p.insert(
            k,
            Finding {
                check: check.into(),
                endpoint: ep.path().into(),
                method: x.request.method.clone(),
                severity: Severity::of(ev),
                evidence: ev,
                rule: rule.into(),
                message,
                reproducer: Some(self.reproducer(x, expected)),
                occurrences: 1,
            },
        );
    }

    /// Judges an exchange with the passive checks; an answer whose body was already judged clean
    /// for the same endpoint, method and status is not judged again (the judgement is a function of
    /// those alone, and a body id names the same bytes for the whole run).
    fn judge_passive(&self, ep: &Endpoint, x: &Exchange) {
        let Some(method) = Method::parse(&x.request.method) else {
            return;
        };
        let key = x.response.body_id.map(|id| {
            (
                std::ptr::from_ref(ep) as usize,
                method,
                x.response.status,
                id,
            )
        });
        if let Some(k) = &key
            && self.judged_clean.lock().unwrap().contains(k)
        {
            return;
        }
        if self.judge_exchange(ep, method, x)
            && let Some(k) = key
        {
            self.judged_clean.lock().unwrap().insert(k);
        }
    }

    /// The passive checks' judgement of one exchange; true when it found nothing.
    fn judge_exchange(&self, ep: &Endpoint, method: Method, x: &Exchange) -> bool {
        let clean = std::cell::Cell::new(true);
        let report = |check: &str, rule: &str, key: String, message: String, expected: &str| {
            clean.set(false);
            self.passive(check, ep, x, rule, key, message, expected);
        };
        let Some(def) = ep.method(method) else {
            return clean.get();
        };
        let resp = &x.response;
        if resp.is_success() {
            self.ran("status-code", ep);
            let status = resp.status.to_string();
            if !def.responses.contains_key(&status) {
                let documented: Vec<&String> = def
                    .responses
                    .keys()
                    .filter(|s| s.starts_with('2'))
                    .collect();
                report(
                    "status-code",
                    "status-code",
                    status.clone(),
                    format!("{method} answered {status}; the catalog documents {documented:?}"),
                    &format!("one of {documented:?}"),
                );
            }
            let schema = def.responses.get(&status).or_else(|| {
                def.responses
                    .iter()
                    .find(|(s, _)| s.starts_with('2'))
                    .map(|(_, n)| n)
            });
            let Some(schema) = schema else {
                return clean.get();
            };
            self.ran("response-schema", ep);
            let Some(json) = &resp.json else {
                if !resp.text.trim().is_empty() || method == Method::GET {
                    report(
                        "response-schema",
                        "response-schema",
                        "not-json".into(),
                        "the body is not JSON".into(),
                        &format!("a {schema} object"),
                    );
                }
                return clean.get();
            };
            for v in if self.spec.is_valid(schema, json) {
                Vec::new()
            } else {
                self.spec.validate(schema, json)
            } {
                let norm: String = v
                    .pointer
                    .split('/')
                    .map(|s| if s.parse::<usize>().is_ok() { "*" } else { s })
                    .collect::<Vec<_>>()
                    .join("/");
                report(
                    "response-schema",
                    "response-schema",
                    norm.clone(),
                    format!("{norm}: {}", v.message),
                    &format!("a body valid against {schema}"),
                );
            }
            if method == Method::GET {
                let res = self.spec.resource_of(ep);
                let records: Vec<&Value> = match ep.kind() {
                    Kind::Collection => json
                        .get("records")
                        .and_then(Value::as_array)
                        .map(|r| r.iter().collect())
                        .unwrap_or_default(),
                    // Minimal arm (mock-split): a singleton answers one record, like an instance.
                    Kind::Instance | Kind::Singleton => vec![json],
                };
                for r in records {
                    for k in judge::missing_keys(res, r) {
                        report(
                            "response-schema",
                            "response-schema",
                            format!("key {k}"),
                            format!("a record lacks its key field {k}"),
                            "every record carries its key fields",
                        );
                    }
                    for u in judge::unknown_fields(res, r) {
                        report(
                            "response-schema",
                            "unknown-response-field",
                            format!("unknown {u}"),
                            format!("a record holds {u}, which {} does not declare", res.name),
                            "only declared fields",
                        );
                    }
                }
            }
        } else {
            self.ran("error-envelope", ep);
            for p in judge::envelope_problems(self.spec, resp) {
                let key: String = p.chars().take(50).collect();
                report(
                    "error-envelope",
                    "error-envelope",
                    key,
                    format!("{} answer: {p}", resp.status),
                    "{\"error\": {\"message\": str, \"code\": \"<digits>\"}}",
                );
            }
        }
        clean.get()
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
            return Some(s.original.clone());
        }
        let x = self
            .send(check, inst, Request::get(format!("{path}?fields=*")))
            .await?;
        let original = x
            .response
            .json
            .as_deref()
            .cloned()
            .filter(|_| x.response.status == 200)?;
        let mut saved = self.saved.lock().unwrap();
        if !saved.iter().any(|s| s.path == path) {
            saved.push(Saved {
                family: inst.family.clone(),
                path: path.to_string(),
                original: original.clone(),
            });
        }
        Some(original)
    }

    /// Forgets a saved record (it was deleted and re-created by its check).
    pub fn forget(&self, path: &str) {
        self.saved.lock().unwrap().retain(|s| s.path != path);
    }

    /// Puts every changed record back to its saved state and verifies it. Problems are kept in
    /// `restore_problems` (and returned).
    pub async fn restore_all(&self) -> Vec<String> {
        self.restore(None).await
    }

    /// Restores the saved records of one family (write checks of other families may be running).
    pub async fn restore_family(&self, family: &str) -> Vec<String> {
        self.restore(Some(family)).await
    }

    async fn restore(&self, family: Option<&str>) -> Vec<String> {
        let saved: Vec<Saved> = self
            .saved
            .lock()
            .unwrap()
            .iter()
            .filter(|s| family.is_none_or(|f| f == s.family))
            .cloned()
            .collect();
        let mut problems = Vec::new();
        for s in saved {
            if let Err(p) = self.restore_one(&s).await {
                problems.push(p);
            }
        }
        problems.sort();
        let mut all = self.restore_problems.lock().unwrap();
        all.extend(problems.clone());
        all.sort();
        all.dedup();
        problems
    }

    /// `GET path?fields=*` straight through the client (restoring is not judged); Null when the
    /// answer is not JSON. A transport failure is worded "{path}: {what}: {why}".
    async fn read_whole(&self, path: &str, what: &str) -> Result<Value, String> {
        let x = self
            .client
            .send(Request::get(format!("{path}?fields=*")))
            .await
            .map_err(|e| format!("{path}: {what}: {}", e.0))?;
        Ok(x.response.json.as_deref().cloned().unwrap_or(Value::Null))
    }

    async fn restore_one(&self, s: &Saved) -> Result<(), String> {
        let inst = self
            .spec
            .endpoints
            .iter()
            .find(|e| e.family == s.family && e.kind() == Kind::Instance)
            .ok_or_else(|| format!("{}: no instance endpoint", s.path))?;
        let res = self.spec.resource_of(inst);
        let current = self.read_whole(&s.path, "could not read it back").await?;
        let mut body = Map::new();
        let mut lost = Vec::new();
        for f in res.patchable().filter(|f| f.gettable()) {
            let (was, now) = (get_path(&s.original, &f.path), get_path(&current, &f.path));
            if was == now {
                continue;
            }
            match was {
                Some(v) => set_path(&mut body, &f.path, coerce(f, v)),
                None if f.flags.empty_unsets => {
                    set_path(&mut body, &f.path, Value::String(String::new()))
                }
                None => lost.push(f.path.clone()),
            }
        }
        if !lost.is_empty() {
            return Err(format!(
                "{}: cannot unset {} (it had no value before the run)",
                s.path,
                lost.join(", ")
            ));
        }
        if body.is_empty() {
            return Ok(());
        }
        let x = self
            .client
            .send(Request::new("PATCH", s.path.clone()).json(Value::Object(body.clone())))
            .await
            .map_err(|e| format!("{}: restore PATCH got no answer: {}", s.path, e.0))?;
        if !x.response.is_success() {
            return Err(format!(
                "{}: restore PATCH answered {}",
                s.path,
                x.response.summary()
            ));
        }
        let after = self
            .read_whole(&s.path, "could not verify the restore")
            .await?;
        for f in res.patchable().filter(|f| f.gettable()) {
            let (was, now) = (get_path(&s.original, &f.path), get_path(&after, &f.path));
            let ok = was == now
                || (was.is_none()
                    && f.flags.empty_unsets
                    && now == Some(&Value::String(String::new())));
            if !ok {
                return Err(format!(
                    "{}: {} is {} after the restore, was {}",
                    s.path,
                    f.path,
                    judge::show(now),
                    judge::show(was)
                ));
            }
        }
        Ok(())
    }
}

/// A value read from the target, in the field's declared type when the target reported another
/// (`"true"` for a boolean): what to write back to restore it.
fn coerce(f: &crate::spec::resource::Field, v: &Value) -> Value {
    use crate::spec::resource::FieldType;
    match (f.ty, v) {
        (FieldType::Boolean, Value::String(s)) if s == "true" || s == "false" => {
            Value::Bool(s == "true")
        }
        (FieldType::Integer, Value::String(s)) => s
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| v.clone()),
        _ => v.clone(),
    }
}

/// Cuts a message to `max` characters (schema messages quote whole values).
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!(
            "{}… ({} characters)",
            s.chars().take(max).collect::<String>(),
            s.chars().count()
        )
    }
}

/// Appends query parameters to a path, encoding what must be encoded and leaving ONTAP's filter
/// operators readable.
pub fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'&')
        .add(b'+')
        .add(b'=')
        .add(b'?')
        .add(b'[')
        .add(b']')
        .add(b'{')
        .add(b'}')
        .add(b'\\')
        .add(b'^')
        .add(b'`')
        .add(b'\'')
        .add(b';')
        .add(b'/')
        .add(b'<')
        .add(b'>')
        .add(b'|');
    let mut out = path.to_string();
    for (i, (k, v)) in params.iter().enumerate() {
        out.push(if i == 0 && !path.contains('?') {
            '?'
        } else {
            '&'
        });
        out.push_str(&percent_encoding::utf8_percent_encode(k, SET).to_string());
        out.push('=');
        out.push_str(&percent_encoding::utf8_percent_encode(v, SET).to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_query;

    #[test]
    fn queries_are_valid_uris_with_every_filter_operator() {
        for expr in [
            "<=1",
            ">2",
            "a|b",
            "!x",
            "ab*",
            "1..3",
            "null",
            "two words",
            "50%",
            "a&b=c",
            "#x",
            "é",
        ] {
            let path = with_query("/api/x", &[("field.name", expr), ("fields", "*")]);
            assert!(
                format!("http://h{path}").parse::<http::Uri>().is_ok(),
                "{expr}: {path}"
            );
            let q = path.split_once('?').unwrap().1;
            let first = q.split('&').next().unwrap().split_once('=').unwrap().1;
            assert_eq!(
                percent_encoding::percent_decode_str(first)
                    .decode_utf8()
                    .unwrap(),
                expr
            );
        }
    }
}
