//! Baselines for upgrade validation. `run --record DIR` keeps, for every request class the engine
//! sends (endpoint, method, check and the names of its query parameters), the status codes, the
//! ONTAP error codes and targets, and the response's shape (field paths and JSON types). Values are
//! dropped, so uuids, hrefs, timestamps and generated strings never show up as drift. Files are
//! sorted JSON, one per endpoint, written to a temporary directory and renamed into place.
//! `run --compare DIR` and `diff A B` report what changed.

use crate::client::Exchange;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;
use std::sync::Mutex;

/// Bumped when the files' meaning changes; a baseline of another format is refused.
pub const FORMAT: u32 = 1;
pub const MANIFEST: &str = "recording.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Class {
    pub method: String,
    /// The check that sent it and the names of its query parameters (`field-selection ?fields`).
    pub kind: String,
    pub status: BTreeSet<u16>,
    pub error_codes: BTreeSet<String>,
    pub error_targets: BTreeSet<String>,
    /// Field path (`records[].owner.uuid`) to the JSON types seen there (`string`, `null|string`).
    pub shape: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EndpointRecording {
    pub format: u32,
    pub endpoint: String,
    pub classes: Vec<Class>,
}

/// The timings of a recording (`latency.json`), apart from the behaviour files: those are the
/// same bytes for the same seed, timings never are. Absent from recordings made before.
pub const LATENCY: &str = "latency.json";

/// `latency.json`: per endpoint, per method, requests and p50 / p95 / max in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LatencyFile {
    pub format: u32,
    pub endpoints: BTreeMap<String, Vec<Latency>>,
}

/// One method's latency on one endpoint, as a recording keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    pub method: String,
    pub requests: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

/// A p95 must also grow by at least this much (milliseconds) to be latency drift: on a fast
/// target a fraction of a millisecond is noise, whatever the factor.
pub const LATENCY_FLOOR_MS: f64 = 1.0;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub harness: String,
    pub ontap_version: String,
    pub seed: u64,
    pub cases: u32,
    /// Endpoint path to the file holding it.
    pub endpoints: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub manifest: Manifest,
    pub endpoints: BTreeMap<String, EndpointRecording>,
    /// Endpoint to its latency per method (empty for a recording made before they were kept).
    pub latency: BTreeMap<String, Vec<Latency>>,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn shape_into(prefix: &str, v: &Value, out: &mut BTreeMap<String, BTreeSet<&'static str>>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                shape_into(&p, c, out);
            }
        }
        Value::Array(a) if a.iter().any(|x| x.is_object() || x.is_array()) => {
            for c in a {
                shape_into(&format!("{prefix}[]"), c, out);
            }
        }
        other => {
            out.entry(prefix.to_string())
                .or_default()
                .insert(json_type(other));
        }
    }
}

/// (endpoint, method, kind).
type ClassKey = (String, String, String);
/// Field path to the JSON types seen there.
type Shape = BTreeMap<String, BTreeSet<&'static str>>;

/// Collects exchanges into classes while a run goes.
#[derive(Default)]
pub struct Recorder {
    classes: Mutex<BTreeMap<ClassKey, (Class, Shape)>>,
}

impl Recorder {
    pub fn add(&self, endpoint: &str, check: &str, x: &Exchange) {
        let query: BTreeSet<&str> = x
            .request
            .path
            .split_once('?')
            .map(|(_, q)| {
                q.split('&')
                    .filter_map(|kv| kv.split('=').next())
                    .filter(|k| !k.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let kind = if query.is_empty() {
            check.to_string()
        } else {
            format!(
                "{check} ?{}",
                query.into_iter().collect::<Vec<_>>().join("&")
            )
        };
        let key = (endpoint.to_string(), x.request.method.clone(), kind.clone());
        let mut all = self.classes.lock().unwrap();
        let (class, shape) = all.entry(key).or_insert_with(|| {
            (
                Class {
                    method: x.request.method.clone(),
                    kind,
                    ..Default::default()
                },
                BTreeMap::new(),
            )
        });
        class.status.insert(x.response.status);
        if let Some(c) = x.response.error_code() {
            class.error_codes.insert(c);
        }
        if let Some(t) = x.response.error_target() {
            class.error_targets.insert(t.to_string());
        }
        if let Some(j) = &x.response.json {
            shape_into("", j, shape);
        }
    }

    /// The recording of this run, for the endpoints the target has.
    pub fn finish(
        &self,
        ontap_version: &str,
        seed: u64,
        cases: u32,
        available: &[&str],
        latency: &[crate::client::LatencyRow],
    ) -> Recording {
        let all = self.classes.lock().unwrap();
        let mut endpoints: BTreeMap<String, EndpointRecording> = BTreeMap::new();
        for ep in available {
            endpoints.insert(
                ep.to_string(),
                EndpointRecording {
                    format: FORMAT,
                    endpoint: ep.to_string(),
                    classes: Vec::new(),
                },
            );
        }
        for ((ep, _, _), (class, shape)) in all.iter() {
            let Some(rec) = endpoints.get_mut(ep) else {
                continue;
            };
            let mut c = class.clone();
            c.shape = shape
                .iter()
                .map(|(p, t)| (p.clone(), t.iter().copied().collect::<Vec<_>>().join("|")))
                .collect();
            rec.classes.push(c);
        }
        let files = endpoints
            .keys()
            .map(|e| (e.clone(), file_name(e)))
            .collect();
        let mut lat: BTreeMap<String, Vec<Latency>> = BTreeMap::new();
        for l in latency
            .iter()
            .filter(|l| endpoints.contains_key(&l.endpoint))
        {
            lat.entry(l.endpoint.clone()).or_default().push(Latency {
                method: l.method.clone(),
                requests: l.requests,
                p50_ms: l.p50_ms,
                p95_ms: l.p95_ms,
                max_ms: l.max_ms,
            });
        }
        Recording {
            manifest: Manifest {
                format: FORMAT,
                harness: format!("ontap-conform {}", env!("CARGO_PKG_VERSION")),
                ontap_version: ontap_version.to_string(),
                seed,
                cases,
                endpoints: files,
            },
            endpoints,
            latency: lat,
        }
    }
}

/// `/api/security/login/messages/{uuid}` -> `security_login_messages_uuid.json`.
pub fn file_name(endpoint: &str) -> String {
    let mut s: String = endpoint
        .trim_start_matches("/api/")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    while s.contains("__") {
        s = s.replace("__", "_");
    }
    format!("{}.json", s.trim_matches('_'))
}

fn pretty<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).expect("serializable") + "\n"
}

/// Writes a recording: into a fresh temporary directory beside `dir`, then renamed over it, so a
/// crash never leaves a half-written baseline.
pub fn write(dir: &Path, rec: &Recording) -> Result<()> {
    let parent = crate::fsutil::dir_of(dir);
    crate::fsutil::create_dirs(parent, crate::fsutil::DIR_MODE)
        .map_err(|e| Error::io(parent, e))?;
    if dir.exists() {
        let is_recording = dir.join(MANIFEST).is_file();
        let empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !is_recording && !empty {
            return Err(Error::Usage(format!(
                "--record {}: the directory exists and is not a recording; refusing to replace it",
                dir.display()
            )));
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix(".ontap-conform-record-")
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    for (ep, file) in &rec.manifest.endpoints {
        let path = tmp.path().join(file);
        crate::fsutil::write_file(&path, pretty(&rec.endpoints[ep]).as_bytes())?;
    }
    if !rec.latency.is_empty() {
        let path = tmp.path().join(LATENCY);
        let file = LatencyFile {
            format: FORMAT,
            endpoints: rec.latency.clone(),
        };
        crate::fsutil::write_file(&path, pretty(&file).as_bytes())?;
    }
    let path = tmp.path().join(MANIFEST);
    crate::fsutil::write_file(&path, pretty(&rec.manifest).as_bytes())?;
    crate::fsutil::set_mode(tmp.path(), crate::fsutil::DIR_MODE)?;
    let staged = tmp.keep();
    if dir.exists() {
        let old = parent.join(format!(".ontap-conform-old-{}", std::process::id()));
        std::fs::rename(dir, &old).map_err(|e| Error::io(dir, e))?;
        std::fs::rename(&staged, dir).map_err(|e| Error::io(dir, e))?;
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(&staged, dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("{}: cannot read it ({e})", path.display())))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "{}: not valid JSON (line {}, column {}: {e})",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    serde_path_to_error::deserialize(&v).map_err(|e| {
        Error::Usage(format!(
            "{}: at /{}: {}",
            path.display(),
            e.path().to_string().replace('.', "/"),
            e.inner()
        ))
    })
}

/// Reads a recording, refusing a missing, empty, foreign or hand-broken one with the file named.
pub fn read(dir: &Path) -> Result<Recording> {
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "{}: no such recording directory (make one with run --record DIR)",
            dir.display()
        )));
    }
    let mpath = dir.join(MANIFEST);
    if !mpath.is_file() {
        return Err(Error::Usage(format!(
            "{}: not a recording: {MANIFEST} is missing (make one with run --record DIR)",
            dir.display()
        )));
    }
    let raw: Value = read_json(&mpath)?;
    if raw.get("format").and_then(Value::as_u64) != Some(FORMAT as u64) {
        return Err(Error::Usage(format!(
            "{}: recorded by another harness version ({}, format {}); this is ontap-conform {} (format {FORMAT}): record the baseline again",
            mpath.display(),
            raw.get("harness")
                .and_then(Value::as_str)
                .unwrap_or("unknown"),
            raw.get("format")
                .map(|f| f.to_string())
                .unwrap_or_else(|| "none".into()),
            env!("CARGO_PKG_VERSION")
        )));
    }
    let manifest: Manifest = read_json(&mpath)?;
    let mut endpoints = BTreeMap::new();
    for (ep, file) in &manifest.endpoints {
        if file.contains('/') || file.contains("..") {
            return Err(Error::Usage(format!(
                "{}: endpoint {ep} names the file {file:?}; expected a file name in the same directory",
                mpath.display()
            )));
        }
        let path = dir.join(file);
        let rec: EndpointRecording = read_json(&path)?;
        if &rec.endpoint != ep || rec.format != FORMAT {
            return Err(Error::Usage(format!(
                "{}: expected endpoint {ep} in format {FORMAT}, found {} in format {}",
                path.display(),
                rec.endpoint,
                rec.format
            )));
        }
        endpoints.insert(ep.clone(), rec);
    }
    let lpath = dir.join(LATENCY);
    let latency = if lpath.is_file() {
        let f: LatencyFile = read_json(&lpath)?;
        f.endpoints
    } else {
        BTreeMap::new()
    };
    Ok(Recording {
        manifest,
        endpoints,
        latency,
    })
}

/// One difference between two recordings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Drift {
    /// `endpoint-appeared`, `endpoint-vanished`, `class-appeared`, `class-vanished`,
    /// `status-changed`, `error-code-changed`, `field-added`, `field-removed`, `type-changed`,
    /// `latency` (with `--latency-drift`).
    pub kind: String,
    pub endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub before: String,
    pub after: String,
}

fn set_text<T: ToString>(s: &BTreeSet<T>) -> String {
    s.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// What changed from `a` (the baseline) to `b`.
pub fn diff(a: &Recording, b: &Recording) -> Vec<Drift> {
    diff_with(a, b, None)
}

/// What changed from `a` to `b`, and with `latency_drift` F, every endpoint and method whose p95
/// grew more than F times (and by at least [`LATENCY_FLOOR_MS`]): drift of kind `latency`.
pub fn diff_with(a: &Recording, b: &Recording, latency_drift: Option<f64>) -> Vec<Drift> {
    let mut out = diff_shapes(a, b);
    if let Some(f) = latency_drift {
        for (ep, lbs) in &b.latency {
            let Some(las) = a.latency.get(ep) else {
                continue;
            };
            for lb in lbs {
                let Some(la) = las.iter().find(|l| l.method == lb.method) else {
                    continue;
                };
                if lb.p95_ms > la.p95_ms * f && lb.p95_ms - la.p95_ms >= LATENCY_FLOOR_MS {
                    out.push(Drift {
                        kind: "latency".into(),
                        endpoint: ep.clone(),
                        request: Some(lb.method.clone()),
                        field: None,
                        before: format!("p95 {} ms", la.p95_ms),
                        after: format!(
                            "p95 {} ms ({:.1}x, more than {f}x)",
                            lb.p95_ms,
                            lb.p95_ms / la.p95_ms.max(0.001)
                        ),
                    });
                }
            }
        }
    }
    out
}

fn diff_shapes(a: &Recording, b: &Recording) -> Vec<Drift> {
    let mut out = Vec::new();
    let d = |kind: &str,
             ep: &str,
             req: Option<String>,
             field: Option<String>,
             before: String,
             after: String| Drift {
        kind: kind.into(),
        endpoint: ep.into(),
        request: req,
        field,
        before,
        after,
    };
    let eps: BTreeSet<&String> = a.endpoints.keys().chain(b.endpoints.keys()).collect();
    for ep in eps {
        let (ea, eb) = match (a.endpoints.get(ep), b.endpoints.get(ep)) {
            (None, Some(_)) => {
                out.push(d(
                    "endpoint-appeared",
                    ep,
                    None,
                    None,
                    "absent".into(),
                    "present".into(),
                ));
                continue;
            }
            (Some(_), None) => {
                out.push(d(
                    "endpoint-vanished",
                    ep,
                    None,
                    None,
                    "present".into(),
                    "absent".into(),
                ));
                continue;
            }
            (Some(x), Some(y)) => (x, y),
            (None, None) => continue,
        };
        let key = |c: &Class| format!("{} [{}]", c.method, c.kind);
        let ca: BTreeMap<String, &Class> = ea.classes.iter().map(|c| (key(c), c)).collect();
        let cb: BTreeMap<String, &Class> = eb.classes.iter().map(|c| (key(c), c)).collect();
        let keys: BTreeSet<&String> = ca.keys().chain(cb.keys()).collect();
        for k in keys {
            let (x, y) = match (ca.get(k), cb.get(k)) {
                (None, Some(_)) => {
                    out.push(d(
                        "class-appeared",
                        ep,
                        Some(k.clone()),
                        None,
                        "not sent".into(),
                        "sent".into(),
                    ));
                    continue;
                }
                (Some(_), None) => {
                    out.push(d(
                        "class-vanished",
                        ep,
                        Some(k.clone()),
                        None,
                        "sent".into(),
                        "not sent".into(),
                    ));
                    continue;
                }
                (Some(x), Some(y)) => (x, y),
                (None, None) => continue,
            };
            if x.status != y.status {
                out.push(d(
                    "status-changed",
                    ep,
                    Some(k.clone()),
                    None,
                    set_text(&x.status),
                    set_text(&y.status),
                ));
            }
            if x.error_codes != y.error_codes || x.error_targets != y.error_targets {
                out.push(d(
                    "error-code-changed",
                    ep,
                    Some(k.clone()),
                    None,
                    format!(
                        "{} target {}",
                        set_text(&x.error_codes),
                        set_text(&x.error_targets)
                    ),
                    format!(
                        "{} target {}",
                        set_text(&y.error_codes),
                        set_text(&y.error_targets)
                    ),
                ));
            }
            let fields: BTreeSet<&String> = x.shape.keys().chain(y.shape.keys()).collect();
            for f in fields {
                match (x.shape.get(f), y.shape.get(f)) {
                    (None, Some(t)) => out.push(d(
                        "field-added",
                        ep,
                        Some(k.clone()),
                        Some(f.clone()),
                        "absent".into(),
                        t.clone(),
                    )),
                    (Some(t), None) => out.push(d(
                        "field-removed",
                        ep,
                        Some(k.clone()),
                        Some(f.clone()),
                        t.clone(),
                        "absent".into(),
                    )),
                    (Some(s), Some(t)) if s != t => out.push(d(
                        "type-changed",
                        ep,
                        Some(k.clone()),
                        Some(f.clone()),
                        s.clone(),
                        t.clone(),
                    )),
                    _ => {}
                }
            }
        }
    }
    out
}

/// The readable rendering of a drift list.
pub fn render(drift: &[Drift], a: &str, b: &str) -> String {
    let mut out = String::new();
    if drift.is_empty() {
        let _ = writeln!(out, "No drift: {b} behaves as {a} recorded.");
        return out;
    }
    let _ = writeln!(out, "Drift from {a} to {b} ({} changes):", drift.len());
    let mut last = "";
    for x in drift {
        if x.endpoint != last {
            let _ = writeln!(out, "  {}", x.endpoint);
            last = &x.endpoint;
        }
        let sign = match x.kind.as_str() {
            "endpoint-appeared" | "class-appeared" | "field-added" => "+",
            "endpoint-vanished" | "class-vanished" | "field-removed" => "-",
            _ => "~",
        };
        let what = [x.request.as_deref(), x.field.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            out,
            "    {sign} {:<18} {what}  {} -> {}",
            x.kind, x.before, x.after
        );
    }
    out
}
