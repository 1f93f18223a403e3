//! The mock's request pipeline: one fallback handler for every path. It authenticates, routes with
//! the catalog (`Spec::route`), gates by version and method, checks the query with the query
//! engine, and runs the generic GET / PATCH / POST / DELETE of the endpoint's resource against the
//! store. Every rule it applies comes from the field flags of `specs/`; the only hand-written
//! endpoints are the discovery ones (`/api/cluster`, `/api/svm/svms`, `/api/security/accounts`).

use super::errors::{ApiError, CODE_BAD_REQUEST, CODE_DUPLICATE, CODE_METHOD, CODE_NOT_FOUND};
use super::query::{
    self, Plan, Render, Row, Shape, Table, collection_get, matches_all, post_selection, project,
    select, write_record,
};
use super::store::{Owner, Rec, Store, derive_fields};
use super::{Fault, MockConfig, Role};
use crate::error::{Error, Result};
use crate::spec::model::{Condition, Kind, Method};
use crate::spec::resource::{
    Field, FieldType, Flags, Resource, get_path, leaf_paths, remove_path, set_path,
};
use crate::spec::{Endpoint, OntapVersion};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

/// How long a client may take to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The shared state of one mock.
pub struct Mock {
    cfg: MockConfig,
    tables: BTreeMap<String, Table>,
    disc: &'static Discovery,
    store: RwLock<Store>,
    /// `Basic <base64>` header values of the users, for the fast path.
    basic: Vec<(String, Role)>,
}

/// The hand-written discovery resources, served by the same query engine.
struct Discovery {
    cluster: Table,
    svms: Table,
    accounts: Table,
}

const COLLECTION_PARAMS: &[&str] = &[
    "filters",
    "fields",
    "max_records",
    "return_records",
    "return_timeout",
    "order_by",
];
const INSTANCE_PARAMS: &[&str] = &["fields", "return_timeout"];

fn leaf(path: &str, ty: FieldType, key: bool) -> Field {
    Field {
        path: path.to_string(),
        ty,
        description: String::new(),
        schema: serde_json::json!({ "type": ty.as_str() }),
        enum_values: Vec::new(),
        minimum: None,
        maximum: None,
        min_length: None,
        max_length: None,
        flags: Flags {
            key,
            read_only: true,
            ..Flags::default()
        },
        derived_from: None,
        evidence: BTreeMap::new(),
        default_evidence: crate::spec::model::Evidence::Obs,
    }
}

fn discovery() -> &'static Discovery {
    static D: OnceLock<Discovery> = OnceLock::new();
    D.get_or_init(|| {
        let leak = |r: Resource| -> &'static Resource { Box::leak(Box::new(r)) };
        let cluster = leak(Resource {
            name: "cluster".into(),
            keys: vec![],
            fields: vec![
                leaf("name", FieldType::String, false),
                leaf("uuid", FieldType::String, false),
                leaf("version.full", FieldType::String, false),
                leaf("version.generation", FieldType::Integer, false),
                leaf("version.major", FieldType::Integer, false),
                leaf("version.minor", FieldType::Integer, false),
            ],
            objects: vec!["version".into()],
        });
        let svms = leak(Resource {
            name: "svm".into(),
            keys: vec!["uuid".into()],
            fields: vec![
                leaf("uuid", FieldType::String, true),
                leaf("name", FieldType::String, false),
            ],
            objects: vec![],
        });
        let accounts = leak(Resource {
            name: "account".into(),
            keys: vec!["owner.uuid".into(), "name".into()],
            fields: vec![
                leaf("owner.uuid", FieldType::String, true),
                leaf("owner.name", FieldType::String, false),
                leaf("name", FieldType::String, true),
                leaf("role", FieldType::String, false),
            ],
            objects: vec!["owner".into()],
        });
        Discovery {
            cluster: Table::new(cluster, "/api/cluster".into(), None),
            svms: Table::new(svms, "/api/svm/svms".into(), None),
            accounts: Table::new(accounts, "/api/security/accounts".into(), None),
        }
    })
}

/// The axum router: every request goes to [`handle`].
pub fn router(mock: Arc<Mock>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(mock)
}

impl Mock {
    pub fn new(cfg: MockConfig) -> Result<Mock> {
        let spec = cfg.spec;
        let from_state = match &cfg.state_file {
            Some(p) if p.exists() => {
                let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                Some(super::load_data_set(spec, &p.display().to_string(), &text)?)
            }
            _ => None,
        };
        let data = match (from_state, &cfg.fixtures) {
            (Some(v), _) => v,
            (None, Some(v)) => v.clone(),
            (None, None) => serde_json::from_str(super::store::BUILTIN_FIXTURES)
                .map_err(|e| Error::Internal(format!("built-in fixtures: {e}")))?,
        };
        let store = Store::from_value(spec, &data)
            .map_err(|e| Error::Usage(format!("mock data set: {e}")))?;
        let mut tables = BTreeMap::new();
        for fam in &spec.families {
            let coll = spec
                .endpoints
                .iter()
                .find(|e| e.family == fam.family && e.kind() == Kind::Collection);
            let inst = spec
                .endpoints
                .iter()
                .find(|e| e.family == fam.family && e.kind() == Kind::Instance);
            let Some(res) = spec.resource(&fam.resource) else {
                continue;
            };
            let path = match (coll, inst) {
                (Some(c), _) => c.path().to_string(),
                (None, Some(i)) => i
                    .path()
                    .rsplit_once('/')
                    .map(|(a, _)| a.to_string())
                    .unwrap_or_default(),
                (None, None) => continue,
            };
            tables.insert(fam.family.clone(), Table::new(res, path, inst));
        }
        let basic = cfg
            .users
            .iter()
            .map(|u| {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", u.name, u.password));
                (format!("Basic {token}"), u.role.clone())
            })
            .collect();
        let mock = Mock {
            cfg,
            tables,
            disc: discovery(),
            store: RwLock::new(store),
            basic,
        };
        if mock.cfg.state_file.is_some() {
            let store = mock.read();
            mock.persist(&store)?;
        }
        Ok(mock)
    }

    fn faults(&self) -> &BTreeSet<Fault> {
        &self.cfg.faults
    }

    fn has(&self, f: Fault) -> bool {
        self.cfg.faults.contains(&f)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    fn persist(&self, store: &Store) -> Result<()> {
        if let Some(p) = &self.cfg.state_file {
            let mut text = serde_json::to_string_pretty(&store.to_value())
                .map_err(|e| Error::Internal(format!("state: {e}")))?;
            text.push('\n');
            crate::fsutil::write_atomic(p, text.as_bytes())?;
        }
        Ok(())
    }

    /// Writes the state after a change; a failure is reported on stderr (the change stands).
    fn persist_after_change(&self, store: &Store) {
        if let Err(e) = self.persist(store) {
            eprintln!("ontap-conform mock: could not write the state file: {e}");
        }
    }

    fn authenticate(&self, headers: &HeaderMap) -> Option<Role> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        if let Some((_, role)) = self.basic.iter().find(|(h, _)| h == value) {
            return Some(role.clone());
        }
        let (scheme, token) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (name, password) = text.split_once(':')?;
        self.cfg
            .users
            .iter()
            .find(|u| u.name == name && u.password == password)
            .map(|u| u.role.clone())
    }

    fn visible(&self, store: &Store, res: &Resource, rec: &Value, role: &Role) -> bool {
        match role {
            Role::Admin => true,
            Role::Vsadmin { svm } => store.owner_of(res, rec) == Owner::Svm(svm.clone()),
        }
    }
}

/// Whether the client wants HAL links: `application/hal+json`, `*/*` or no Accept at all.
fn wants_hal(headers: &HeaderMap) -> bool {
    let Some(v) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let v = v.to_ascii_lowercase();
    if v.trim().is_empty() || v.contains("application/hal+json") || v.contains("*/*") {
        return true;
    }
    !v.contains("application/json")
}

fn json_response(status: StatusCode, body: &Value, hal: bool) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    bytes_response(status, bytes, hal)
}

fn bytes_response(status: StatusCode, bytes: Vec<u8>, hal: bool) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if hal {
            "application/hal+json"
        } else {
            "application/json"
        }),
    );
    resp
}

/// A finished answer, before it becomes an HTTP response.
enum Answer {
    Ok(StatusCode, Value),
    /// JSON text written by the query engine (200).
    Raw(Vec<u8>),
    Created(Value, String),
    Err(ApiError),
    NotAllowed(ApiError, String),
}

impl From<ApiError> for Answer {
    fn from(e: ApiError) -> Self {
        Answer::Err(e)
    }
}

fn ok(v: Value) -> Answer {
    Answer::Ok(StatusCode::OK, v)
}

fn empty() -> Value {
    Value::Object(Map::new())
}

/// The fallback handler: every request of every path.
async fn handle(State(mock): State<Arc<Mock>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let hal = wants_hal(&parts.headers);
    let answer = match mock.authenticate(&parts.headers) {
        Some(role) => match read_body(&parts.headers, body, mock.cfg.max_body).await {
            Ok(bytes) => mock.dispatch(
                &parts.method,
                parts.uri.path(),
                parts.uri.query(),
                &role,
                &bytes,
                hal,
            ),
            Err(e) => Answer::Err(e),
        },
        None if mock.has(Fault::AuthUnenforced) => {
            match read_body(&parts.headers, body, mock.cfg.max_body).await {
                Ok(bytes) => mock.dispatch(
                    &parts.method,
                    parts.uri.path(),
                    parts.uri.query(),
                    &Role::Admin,
                    &bytes,
                    hal,
                ),
                Err(e) => Answer::Err(e),
            }
        }
        None => {
            let (status, v) = ApiError::unauthorized().render(mock.faults());
            let mut resp = json_response(status, &v, hal);
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"ontap-conform mock\""),
            );
            return resp;
        }
    };
    match answer {
        Answer::Ok(status, v) => json_response(status, &v, hal),
        Answer::Raw(bytes) => bytes_response(StatusCode::OK, bytes, hal),
        Answer::Created(v, location) => {
            let mut resp = json_response(StatusCode::CREATED, &v, hal);
            if let Ok(h) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, h);
            }
            resp
        }
        Answer::Err(e) => {
            let (status, v) = e.render(mock.faults());
            json_response(status, &v, hal)
        }
        Answer::NotAllowed(e, allow) => {
            let (status, v) = e.render(mock.faults());
            let mut resp = json_response(status, &v, hal);
            if let Ok(h) = HeaderValue::from_str(&allow) {
                resp.headers_mut().insert(header::ALLOW, h);
            }
            resp
        }
    }
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        CODE_BAD_REQUEST,
        format!("The request body is larger than the {max} bytes this mock accepts (--max-body)"),
    )
}

/// Reads the body, refusing more than `max` bytes (413) and a client that stalls (408).
async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, ApiError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        && len > max as u64
    {
        return Err(too_large(max));
    }
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    let collect = async move {
        let mut body = body;
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
            match frame {
                None => break,
                Some(Err(e)) => {
                    return Err(ApiError::bad_input(format!(
                        "The request body could not be read ({e})"
                    )));
                }
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        if buf.len() + data.len() > max {
                            return Err(too_large(max));
                        }
                        buf.extend_from_slice(&data);
                    }
                }
            }
        }
        Ok(Bytes::from(buf))
    };
    match tokio::time::timeout(BODY_TIMEOUT, collect).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            CODE_BAD_REQUEST,
            "The request body did not arrive in time",
        )),
    }
}

/// Parses a request body: a JSON object (an empty body counts as `{}`).
fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::bad_input(format!(
            "The request body is not UTF-8 text (invalid byte at offset {}); expected a JSON object",
            e.valid_up_to()
        ))
    })?;
    let v: Value = serde_json::from_str(text).map_err(|e| {
        ApiError::bad_input(format!(
            "The request body is not valid JSON (line {}, column {}: {e}); expected a JSON object",
            e.line(),
            e.column()
        ))
    })?;
    match v {
        Value::Object(m) => Ok(m),
        other => Err(ApiError::bad_input(format!(
            "The request body is a JSON {}; expected a JSON object",
            json_kind(&other)
        ))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn method_not_allowed(method: &str, path: &str, allowed: &[&str]) -> Answer {
    Answer::NotAllowed(
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            CODE_METHOD,
            format!(
                "The method {method} is not allowed on {path}; allowed: {}",
                allowed.join(", ")
            ),
        ),
        allowed.join(", "),
    )
}

/// A write being checked: PATCH or POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Patch,
    Post,
}

/// The outcome of checking a body: the valid assignments, and the first error if any.
struct Checked {
    sets: Vec<(usize, Value)>,
    error: Option<ApiError>,
}

fn type_name(f: &Field) -> String {
    match f.ty {
        FieldType::String => "a string".into(),
        FieldType::Boolean => "a boolean (true or false)".into(),
        FieldType::Integer => "an integer".into(),
        FieldType::Number => "a number".into(),
        FieldType::Array => "an array".into(),
        FieldType::Object => "an object".into(),
    }
}

fn violation_message(f: &Field, kw: &str, v: &Value) -> String {
    let p = &f.path;
    match kw {
        "type" => format!("Field \"{p}\" must be {}; found {v}.", type_name(f)),
        "enum" => format!(
            "Field \"{p}\" must be one of {}; found {v}.",
            f.enum_values
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "minimum" | "maximum" => format!(
            "Field \"{p}\" must be {}; found {v}.",
            match (f.minimum, f.maximum) {
                (Some(a), Some(b)) => format!("from {a} to {b}"),
                (Some(a), None) => format!("at least {a}"),
                (None, Some(b)) => format!("at most {b}"),
                (None, None) => "in range".into(),
            }
        ),
        _ => format!(
            "Field \"{p}\" must be {} characters long; found {} characters.",
            match (f.min_length, f.max_length) {
                (Some(a), Some(b)) => format!("from {a} to {b}"),
                (Some(a), None) => format!("at least {a}"),
                (None, Some(b)) => format!("at most {b}"),
                (None, None) => "of a valid length".into(),
            },
            v.as_str().map(|s| s.chars().count()).unwrap_or(0)
        ),
    }
}

/// Hex text of fresh random bytes.
fn random_hex(n: usize) -> String {
    let mut out = String::new();
    while out.len() < n {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(n);
    out
}

/// A made-up value for a POST-response-only field (a one-time secret), by type.
fn generated_value(f: &Field) -> Value {
    match f.ty {
        FieldType::Array => Value::Array(
            (0..5)
                .map(|_| {
                    let digits: String = uuid::Uuid::new_v4()
                        .as_u128()
                        .to_string()
                        .chars()
                        .take(8)
                        .collect();
                    Value::String(digits)
                })
                .collect(),
        ),
        FieldType::Integer | FieldType::Number => {
            Value::from((uuid::Uuid::new_v4().as_u128() % 1_000_000) as u64)
        }
        FieldType::Boolean => Value::Bool(true),
        _ => Value::String(random_hex(32).to_ascii_uppercase()),
    }
}

impl Mock {
    fn dispatch(
        &self,
        method: &axum::http::Method,
        path: &str,
        raw_query: Option<&str>,
        role: &Role,
        body: &[u8],
        hal: bool,
    ) -> Answer {
        let trimmed = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        if let Some(a) = self.discovery(method, trimmed, raw_query, role, hal) {
            return a;
        }
        let spec = self.cfg.spec;
        let Some((ep, keys)) = spec.route(trimmed) else {
            return ApiError::api_not_found().into();
        };
        if !ep.available_in(self.cfg.version) && !self.has(Fault::VersionGateIgnored) {
            return ApiError::api_not_found().into();
        }
        let allowed: Vec<&str> = ep.methods().map(Method::as_str).collect();
        let Some(m) = Method::parse(method.as_str()).filter(|m| ep.has(*m)) else {
            if self.has(Fault::MethodNotAllowedAccepted) {
                return ok(empty());
            }
            return method_not_allowed(method.as_str(), path, &allowed);
        };
        if let Some(removed) = ep.method_removed_in(m, self.cfg.version) {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                &removed.code,
                removed.message.clone(),
            )
            .into();
        }
        let Some(table) = self.tables.get(&ep.family) else {
            return ApiError::api_not_found().into();
        };
        let Some(mdef) = ep.method(m) else {
            return ApiError::api_not_found().into();
        };
        let raw = raw_query.unwrap_or("");
        let plan = match query::parse_query(raw_query)
            .and_then(|pairs| query::reject_duplicates(&pairs).map(|_| pairs))
            .and_then(|pairs| Plan::build(spec, table, &mdef.query, pairs, raw, self.faults()))
        {
            Ok(p) => p,
            Err(e) => return e.into(),
        };
        let render = Render {
            hal,
            get: m == Method::GET,
        };
        let result = match (ep.kind(), m) {
            (Kind::Collection, Method::GET) => {
                Ok(self.get_collection(table, &ep.family, &plan, role, render))
            }
            (Kind::Instance, Method::GET) => {
                self.get_instance(ep, table, &keys, &plan, role, render)
            }
            (Kind::Instance, Method::PATCH) => self.patch_instance(ep, table, &keys, role, body),
            (Kind::Collection, Method::PATCH) => {
                self.patch_collection(ep, table, &plan, role, body, hal)
            }
            (Kind::Collection, Method::POST) => self.post(ep, table, &plan, role, body, hal),
            (Kind::Instance, Method::DELETE) => self.delete(ep, table, &keys, role),
            _ => Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                CODE_METHOD,
                format!("The mock cannot serve {m} on a {:?} path", ep.kind()),
            )),
        };
        match result {
            Ok(a) => a,
            Err(e) => Answer::Err(e),
        }
    }

    fn not_found(&self, ep: &Endpoint, m: Method, table: &Table) -> ApiError {
        let mut generic =
            ApiError::new(StatusCode::NOT_FOUND, CODE_NOT_FOUND, "entry doesn't exist");
        if let Some(k) = table.res.keys.first() {
            generic = generic.target(k.as_str());
        }
        ApiError::documented(ep, m, Condition::NotFound, None, generic)
    }

    fn get_collection(
        &self,
        table: &Table,
        family: &str,
        plan: &Plan,
        role: &Role,
        render: Render,
    ) -> Answer {
        let store = self.read();
        let recs: Vec<Row<'_>> = store
            .records
            .get(family)
            .map(|v| {
                v.iter()
                    .filter(|r| self.visible(&store, table.res, r.value(), role))
                    .map(|r| Row {
                        value: r.value(),
                        rendered: Some(r.rendered(table)),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Answer::Raw(collection_get(table, recs, plan, render, self.faults()))
    }

    fn find(
        &self,
        store: &Store,
        family: &str,
        table: &Table,
        keys: &[(String, String)],
        role: &Role,
    ) -> Option<usize> {
        store.records.get(family)?.iter().position(|r| {
            table.has_keys(r.value(), keys) && self.visible(store, table.res, r.value(), role)
        })
    }

    fn get_instance(
        &self,
        ep: &Endpoint,
        table: &Table,
        keys: &[(String, String)],
        plan: &Plan,
        role: &Role,
        render: Render,
    ) -> Result<Answer, ApiError> {
        let store = self.read();
        let i = self
            .find(&store, &ep.family, table, keys, role)
            .ok_or_else(|| self.not_found(ep, Method::GET, table))?;
        let rec = &store.records[&ep.family][i];
        let sel = select(table, plan, Shape::Instance, self.faults());
        let mut buf = Vec::with_capacity(512);
        let row = Row {
            value: rec.value(),
            rendered: Some(rec.rendered(table)),
        };
        write_record(&mut buf, table, row, &sel, render, self.faults());
        Ok(Answer::Raw(buf))
    }

    /// Checks a whole body before anything is applied.
    #[allow(clippy::too_many_arguments)]
    fn check_body(
        &self,
        ep: &Endpoint,
        m: Method,
        table: &Table,
        body: &Value,
        role: &Role,
        current: Option<&Value>,
        op: Op,
    ) -> Checked {
        let res = table.res;
        let mut sets: Vec<(usize, Value)> = Vec::new();
        let mut error = None;
        for (path, v) in leaf_paths(body) {
            match self.check_leaf(ep, m, res, &path, v, role, current, op) {
                Ok(Some(set)) => sets.push(set),
                Ok(None) => {}
                Err(e) => {
                    if error.is_none() {
                        error = Some(e);
                    }
                }
            }
        }
        Checked { sets, error }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_leaf(
        &self,
        ep: &Endpoint,
        m: Method,
        res: &Resource,
        path: &str,
        v: &Value,
        role: &Role,
        current: Option<&Value>,
        op: Op,
    ) -> Result<Option<(usize, Value)>, ApiError> {
        if path.split('.').any(|p| p == "_links") {
            if op == Op::Patch && self.has(Fault::PatchReadOnlyAccepted) {
                return Ok(None);
            }
            return Err(ApiError::cannot_set(path));
        }
        let Some(idx) = res.fields.iter().position(|f| f.path == path) else {
            if res.objects.iter().any(|o| o == path) {
                if v.as_object().is_some_and(Map::is_empty) {
                    return Ok(None);
                }
                return Err(ApiError::invalid_value(
                    path,
                    format!("Field \"{path}\" must be an object; found {v}."),
                ));
            }
            // A value nested under a scalar field (`{"banner": {"x": 1}}`) is a type error of it.
            let mut prefix = path;
            while let Some((head, _)) = prefix.rsplit_once('.') {
                if let Some(f) = res.field(head) {
                    return Err(ApiError::invalid_value(
                        head,
                        format!(
                            "Field \"{head}\" must be {}; found an object.",
                            type_name(f)
                        ),
                    ));
                }
                prefix = head;
            }
            return Err(ApiError::unexpected_argument(path));
        };
        let f = &res.fields[idx];
        match op {
            Op::Patch if !f.patchable() => {
                if f.flags.patch_untested && current.and_then(|c| get_path(c, path)) == Some(v) {
                    return Ok(None);
                }
                let read_only = f.flags.read_only || (f.flags.key && !f.flags.patch_forbidden);
                if read_only && self.has(Fault::PatchReadOnlyAccepted) {
                    return Ok(None);
                }
                if f.flags.patch_forbidden && !read_only && self.has(Fault::PatchOwnerAccepted) {
                    return Ok(None);
                }
                return Err(ApiError::cannot_set(path));
            }
            Op::Post if !f.postable() => return Err(ApiError::cannot_set(path)),
            _ => {}
        }
        if f.flags.admin_only && *role != Role::Admin && !self.has(Fault::AdminOnlyUnenforced) {
            return Err(ApiError::documented(
                ep,
                m,
                Condition::RoleDenied,
                Some(path),
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    super::errors::CODE_PERMISSION,
                    format!(
                        "permission denied: only the cluster administrator may change \"{path}\""
                    ),
                )
                .target(path),
            ));
        }
        let mut value = v.clone();
        if f.flags.crlf_normalised
            && !self.has(Fault::CrlfKept)
            && let Value::String(s) = &value
            && s.contains("\r\n")
        {
            value = Value::String(s.replace("\r\n", "\n"));
        }
        if let Some(kw) = f.violation(&value) {
            if kw != "type" && self.has(Fault::RangeUnchecked) {
                return Ok(Some((idx, value)));
            }
            return Err(ApiError::documented(
                ep,
                m,
                Condition::InvalidValue,
                Some(path),
                ApiError::invalid_value(path, violation_message(f, kw, &value)),
            ));
        }
        Ok(Some((idx, value)))
    }

    fn apply(res: &Resource, rec: &mut Value, sets: &[(usize, Value)]) {
        if let Some(m) = rec.as_object_mut() {
            for (i, v) in sets {
                let f = &res.fields[*i];
                if f.flags.empty_unsets && v.as_str() == Some("") {
                    remove_path(m, &f.path);
                } else {
                    set_path(m, &f.path, v.clone());
                }
            }
        }
        derive_fields(res, rec);
    }

    fn patch_instance(
        &self,
        ep: &Endpoint,
        table: &Table,
        keys: &[(String, String)],
        role: &Role,
        body: &[u8],
    ) -> Result<Answer, ApiError> {
        let body = Value::Object(parse_body(body)?);
        let mut store = self.write();
        let i = self
            .find(&store, &ep.family, table, keys, role)
            .ok_or_else(|| self.not_found(ep, Method::PATCH, table))?;
        let family = ep.family.as_str();
        let checked = self.check_body(
            ep,
            Method::PATCH,
            table,
            &body,
            role,
            Some(store.records[family][i].value()),
            Op::Patch,
        );
        if let Some(e) = checked.error {
            if self.has(Fault::PatchPartial) && !checked.sets.is_empty() {
                if let Some(rec) = store.records.get_mut(family).and_then(|v| v.get_mut(i)) {
                    rec.update(|v| Self::apply(table.res, v, &checked.sets));
                }
                self.persist_after_change(&store);
            }
            return Err(e);
        }
        if !self.has(Fault::PatchNotStored) && !checked.sets.is_empty() {
            if let Some(rec) = store.records.get_mut(family).and_then(|v| v.get_mut(i)) {
                rec.update(|v| Self::apply(table.res, v, &checked.sets));
            }
            self.persist_after_change(&store);
        }
        Ok(ok(empty()))
    }

    fn patch_collection(
        &self,
        ep: &Endpoint,
        table: &Table,
        plan: &Plan,
        role: &Role,
        body: &[u8],
        hal: bool,
    ) -> Result<Answer, ApiError> {
        let body = Value::Object(parse_body(body)?);
        let mut store = self.write();
        let family = ep.family.as_str();
        let matching: Vec<usize> = store
            .records
            .get(family)
            .map(|v| {
                v.iter()
                    .enumerate()
                    .filter(|(_, r)| {
                        self.visible(&store, table.res, r.value(), role)
                            && matches_all(table, plan, r.value())
                    })
                    .map(|(i, _)| i)
                    .collect()
            })
            .unwrap_or_default();
        let mut all_sets = Vec::new();
        let mut first_error = None;
        if matching.is_empty() {
            let c = self.check_body(ep, Method::PATCH, table, &body, role, None, Op::Patch);
            first_error = c.error;
        }
        for &i in &matching {
            let c = self.check_body(
                ep,
                Method::PATCH,
                table,
                &body,
                role,
                Some(store.records[family][i].value()),
                Op::Patch,
            );
            if first_error.is_none() {
                first_error = c.error;
            }
            all_sets.push((i, c.sets));
        }
        let apply_all = |store: &mut Store| {
            if let Some(recs) = store.records.get_mut(family) {
                for (i, sets) in &all_sets {
                    if let Some(rec) = recs.get_mut(*i) {
                        rec.update(|v| Self::apply(table.res, v, sets));
                    }
                }
            }
        };
        if let Some(e) = first_error {
            if self.has(Fault::PatchPartial) && all_sets.iter().any(|(_, s)| !s.is_empty()) {
                apply_all(&mut store);
                self.persist_after_change(&store);
            }
            return Err(e);
        }
        if !self.has(Fault::PatchNotStored) && all_sets.iter().any(|(_, s)| !s.is_empty()) {
            apply_all(&mut store);
            self.persist_after_change(&store);
        }
        let mut out = Map::new();
        out.insert("num_records".into(), Value::from(matching.len()));
        if hal {
            let href = if plan.raw_query.is_empty() {
                table.collection_path.clone()
            } else {
                format!("{}?{}", table.collection_path, plan.raw_query)
            };
            out.insert(
                "_links".into(),
                serde_json::json!({ "self": { "href": href } }),
            );
        }
        Ok(ok(Value::Object(out)))
    }

    fn post(
        &self,
        ep: &Endpoint,
        table: &Table,
        plan: &Plan,
        role: &Role,
        body: &[u8],
        hal: bool,
    ) -> Result<Answer, ApiError> {
        let body = Value::Object(parse_body(body)?);
        let res = table.res;
        let checked = self.check_body(ep, Method::POST, table, &body, role, None, Op::Post);
        if let Some(e) = checked.error {
            return Err(e);
        }
        let mdef = ep.method(Method::POST);
        for r in mdef.map(|d| d.required.as_slice()).unwrap_or_default() {
            let present = checked.sets.iter().any(|(i, _)| res.fields[*i].path == *r);
            if !present {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    CODE_BAD_REQUEST,
                    format!("Missing value for required field \"{r}\"."),
                )
                .target(r.as_str()));
            }
        }
        let mut rec = Value::Object(Map::new());
        Self::apply(res, &mut rec, &checked.sets);
        let mut store = self.write();
        // Resolve owners: every object whose uuid is a key names the cluster or an SVM.
        let mut owner_kind = Owner::Cluster;
        for obj in &res.objects {
            let uuid_path = format!("{obj}.uuid");
            if !res.keys.contains(&uuid_path) {
                continue;
            }
            let Some(uuid) = get_path(&rec, &uuid_path)
                .and_then(Value::as_str)
                .map(String::from)
            else {
                continue;
            };
            let Some((kind, name)) = store.owner_by_uuid(&uuid) else {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    CODE_NOT_FOUND,
                    format!("entry doesn't exist: no SVM or cluster has uuid \"{uuid}\""),
                )
                .target(uuid_path.as_str()));
            };
            let name_path = format!("{obj}.name");
            if let Some(given) = get_path(&rec, &name_path).and_then(Value::as_str)
                && given != name
            {
                return Err(ApiError::invalid_value(
                    &name_path,
                    format!(
                        "Field \"{name_path}\" is {given:?} but uuid \"{uuid}\" belongs to {name:?}."
                    ),
                ));
            }
            if res.field(&name_path).is_some()
                && let Some(m) = rec.as_object_mut()
            {
                set_path(m, &name_path, Value::String(name));
            }
            owner_kind = kind;
        }
        if let Role::Vsadmin { svm } = role
            && owner_kind != Owner::Svm(svm.clone())
        {
            return Err(ApiError::permission_denied());
        }
        let family = ep.family.as_str();
        let dup = store.records.get(family).is_some_and(|v| {
            v.iter().any(|r| {
                res.keys
                    .iter()
                    .all(|k| get_path(r.value(), k) == get_path(&rec, k))
            })
        });
        if dup {
            return Err(ApiError::documented(
                ep,
                Method::POST,
                Condition::Duplicate,
                None,
                ApiError::new(
                    StatusCode::CONFLICT,
                    CODE_DUPLICATE,
                    "entry with the same identifiers exists",
                ),
            ));
        }
        let kind_name = match owner_kind {
            Owner::Cluster => "cluster",
            Owner::Svm(_) => "svm",
        };
        if let Some(defaults) = store
            .post_defaults
            .get(family)
            .and_then(|d| d.get(kind_name))
            .cloned()
            && let Some(m) = rec.as_object_mut()
        {
            for (p, v) in leaf_paths(&defaults) {
                if res.field(&p).is_some() && get_path_in(m, &p).is_none() {
                    set_path(m, &p, v.clone());
                }
            }
        }
        if let Some(m) = rec.as_object_mut() {
            for f in &res.fields {
                if f.flags.post_response_only && get_path_in(m, &f.path).is_none() {
                    set_path(m, &f.path, generated_value(f));
                }
            }
        }
        derive_fields(res, &mut rec);
        let location = table.instance_href(&rec);
        let answer = if plan.return_records == Some(true) {
            let shown = project(
                table,
                &rec,
                &post_selection(table),
                Render { hal, get: false },
                self.faults(),
            );
            serde_json::json!({ "num_records": 1, "records": [shown] })
        } else {
            empty()
        };
        store
            .records
            .entry(family.to_string())
            .or_default()
            .push(Rec::new(rec));
        self.persist_after_change(&store);
        Ok(Answer::Created(answer, location))
    }

    fn delete(
        &self,
        ep: &Endpoint,
        table: &Table,
        keys: &[(String, String)],
        role: &Role,
    ) -> Result<Answer, ApiError> {
        let mut store = self.write();
        let i = self
            .find(&store, &ep.family, table, keys, role)
            .ok_or_else(|| self.not_found(ep, Method::DELETE, table))?;
        if let Some(v) = store.records.get_mut(&ep.family) {
            v.remove(i);
        }
        self.persist_after_change(&store);
        Ok(ok(empty()))
    }

    /// The hand-written discovery endpoints; None for any other path.
    fn discovery(
        &self,
        method: &axum::http::Method,
        path: &str,
        raw_query: Option<&str>,
        role: &Role,
        hal: bool,
    ) -> Option<Answer> {
        let d = self.disc;
        let (table, keys): (&Table, Vec<String>) = if path == d.cluster.collection_path {
            (&d.cluster, Vec::new())
        } else {
            [&d.svms, &d.accounts].into_iter().find_map(|t| {
                let rest = path.strip_prefix(t.collection_path.as_str())?;
                if rest.is_empty() {
                    return Some((t, Vec::new()));
                }
                let parts: Vec<String> = rest
                    .strip_prefix('/')?
                    .split('/')
                    .map(crate::spec::decode_segment)
                    .collect::<Option<_>>()?;
                (parts.len() == t.res.keys.len()).then_some((t, parts))
            })?
        };
        if method != axum::http::Method::GET {
            if self.has(Fault::MethodNotAllowedAccepted) {
                return Some(ok(empty()));
            }
            return Some(method_not_allowed(method.as_str(), path, &["GET"]));
        }
        let is_cluster = std::ptr::eq(table, &d.cluster);
        let shape = if is_cluster || !keys.is_empty() {
            Shape::Instance
        } else {
            Shape::Collection
        };
        let allowed: Vec<String> = match shape {
            Shape::Collection => COLLECTION_PARAMS.iter().map(|s| s.to_string()).collect(),
            Shape::Instance => INSTANCE_PARAMS.iter().map(|s| s.to_string()).collect(),
        };
        let raw = raw_query.unwrap_or("");
        let plan = match query::parse_query(raw_query)
            .and_then(|pairs| query::reject_duplicates(&pairs).map(|_| pairs))
            .and_then(|pairs| {
                Plan::build(self.cfg.spec, table, &allowed, pairs, raw, self.faults())
            }) {
            Ok(p) => p,
            Err(e) => return Some(e.into()),
        };
        let render = Render { hal, get: true };
        let store = self.read();
        if is_cluster {
            let rec = cluster_record(&store, self.cfg.version);
            let sel = select(table, &plan, Shape::Instance, self.faults());
            return Some(ok(project(table, &rec, &sel, render, self.faults())));
        }
        let records: Vec<Value> = if std::ptr::eq(table, &d.svms) {
            store
                .svms
                .iter()
                .filter(|s| match role {
                    Role::Admin => true,
                    Role::Vsadmin { svm } => s.get("name").and_then(Value::as_str) == Some(svm),
                })
                .cloned()
                .collect()
        } else {
            store
                .accounts
                .iter()
                .filter(|a| match role {
                    Role::Admin => true,
                    Role::Vsadmin { svm } => {
                        store.owner_of(table.res, a) == Owner::Svm(svm.clone())
                    }
                })
                .cloned()
                .collect()
        };
        if keys.is_empty() {
            return Some(Answer::Raw(collection_get(
                table,
                records.iter().map(Row::plain).collect(),
                &plan,
                render,
                self.faults(),
            )));
        }
        let pairs: Vec<(String, String)> = table.res.keys.iter().cloned().zip(keys).collect();
        match records.iter().find(|r| table.has_keys(r, &pairs)) {
            Some(rec) => {
                let sel = select(table, &plan, Shape::Instance, self.faults());
                Some(ok(project(table, rec, &sel, render, self.faults())))
            }
            None => Some(
                ApiError::new(StatusCode::NOT_FOUND, CODE_NOT_FOUND, "entry doesn't exist")
                    .target(table.res.keys[0].as_str())
                    .into(),
            ),
        }
    }
}

fn get_path_in<'a>(m: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    match path.split_once('.') {
        None => m.get(path),
        Some((head, rest)) => get_path(m.get(head)?, rest),
    }
}

/// `/api/cluster`: the cluster's name and uuid, and the version the mock plays.
fn cluster_record(store: &Store, v: OntapVersion) -> Value {
    serde_json::json!({
        "name": store.cluster_name(),
        "uuid": store.cluster_uuid(),
        "version": {
            "full": format!("NetApp Release {}.{}.{}: ontap-conform reference mock", v.major, v.minor, v.micro),
            "generation": v.major,
            "major": v.minor,
            "minor": v.micro,
        }
    })
}
