//! The target, as the harness sees it: reqwest over rustls (ring), with Basic auth or a client
//! certificate, a whole-exchange timeout, a bound on the answer's size, proxies and bounded
//! concurrency, turning each request into an [`Exchange`]; and any request rendered as a curl
//! command with every secret redacted.

pub mod pace;
mod proxy;
pub mod slim;

pub use pace::LatencyRow;
pub use proxy::{Proxies, ProxyUrl, no_proxy_matches};

use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Whose credentials a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    /// The cluster administrator (`--user`).
    Admin,
    /// The SVM administrator (`--svm-user`).
    Svm,
    /// The cluster administrator tunnelled into an SVM (`--tunnel-svm NAME`): the admin's
    /// credentials and `X-Dot-SVM-Name: NAME`, so the request runs as if inside that SVM.
    Tunnel,
    /// No Authorization header.
    None,
    /// The admin's name with a wrong password.
    Wrong,
}

/// A request body: JSON, or raw bytes for malformed-input probes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Body {
    Json(Value),
    Raw(String),
}

/// One request, independent of any client (checks build these; the client sends them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub method: String,
    /// Path and query, already encoded (`/api/security/login/messages?fields=*`).
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    pub auth: Auth,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept: Option<String>,
    /// The fields of each record the caller reads ([`Request::keeping`]); None: all of them.
    #[serde(skip)]
    pub keep: Option<Arc<slim::Keep>>,
}

impl Request {
    pub fn new(method: &str, path: impl Into<String>) -> Self {
        Request {
            method: method.to_string(),
            path: path.into(),
            body: None,
            auth: Auth::Admin,
            accept: None,
            keep: None,
        }
    }
    /// Of each record of the answer, the caller reads only the fields at these dotted paths
    /// (a walk judged by the keys): the answer's JSON holds only those of each record (its text
    /// is whole), built without the rest ([`slim`]). With no path, nothing changes.
    pub fn keeping<'a>(mut self, paths: impl IntoIterator<Item = &'a str>) -> Self {
        self.keep = slim::Keep::fields(paths).map(Arc::new);
        self
    }
    /// [`Request::keeping`] with the fields worked out once (a walk asks every page for the
    /// same ones).
    pub fn kept(mut self, keep: Option<Arc<slim::Keep>>) -> Self {
        self.keep = keep;
        self
    }
    pub fn get(path: impl Into<String>) -> Self {
        Request::new("GET", path)
    }
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(Body::Json(body));
        self
    }
    pub fn raw(mut self, body: impl Into<String>) -> Self {
        self.body = Some(Body::Raw(body.into()));
        self
    }
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }
    pub fn accept(mut self, accept: &str) -> Self {
        self.accept = Some(accept.to_string());
        self
    }
}

/// What came back.
#[derive(Debug, Clone, Serialize)]
pub struct Response {
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub content_type: Option<String>,
    /// The body as text (lossy for invalid UTF-8); shared by every answer with the same bytes.
    pub text: Arc<str>,
    /// The body as JSON, when it is JSON; shared by every answer with the same bytes.
    #[serde(skip)]
    pub json: Option<Arc<Value>>,
    /// Names the body's bytes for the whole run: two answers with the same id have the same body.
    /// None when the body was too large, or too late, to be remembered.
    #[serde(skip)]
    pub body_id: Option<u64>,
    pub millis: u64,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// `error.code` of an ONTAP error envelope, as text whatever its JSON type.
    pub fn error_code(&self) -> Option<String> {
        let c = self.json.as_ref()?.get("error")?.get("code")?;
        Some(match c {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
    pub fn error_target(&self) -> Option<&str> {
        self.json.as_ref()?.get("error")?.get("target")?.as_str()
    }
    /// The answer's `num_records`, when it has one.
    pub fn num_records(&self) -> Option<u64> {
        self.json.as_ref()?.get("num_records")?.as_u64()
    }
    /// The path of the answer's `next` link, if it has one to follow ([`next_path`]).
    pub fn next_path(&self) -> Option<String> {
        self.json.as_deref().and_then(next_path)
    }
    /// `records` of a collection answer.
    pub fn records(&self) -> Option<&Vec<Value>> {
        self.json.as_ref()?.get("records")?.as_array()
    }
    /// A short description for messages: `404 code 4`.
    pub fn summary(&self) -> String {
        match self.error_code() {
            Some(c) => format!("{} (error code {c})", self.status),
            None => self.status.to_string(),
        }
    }
}

/// Records per page when a whole collection is read (discovery, owners, restores): a large
/// cluster's collection comes in pages, so no answer (and no request's time on the cluster)
/// grows with the cluster.
pub const PAGE_RECORDS: usize = 500;

/// Records per page when a whole collection is read for its keys and a few fields only (a
/// restore's read-back, the listing after a collection PATCH): four times the page of a read of
/// every field, so that a family of 200,000 records is read back in 100 requests, not 400. Pages
/// of 10,000 (ONTAP's own default at most) cut that to 20, but each page decoded whole cost
/// about 40 MB more peak RSS at 10,000 SVMs (`bench/scale.sh`: 127 to 129 MB against 88).
pub const WALK_RECORDS: usize = 2_000;

/// The path of an answer's `next` link (ONTAP-BEHAVIOR.md section 7: a collection may answer
/// with one even when no `max_records` was asked), from its `/api/` on.
pub fn next_path(json: &Value) -> Option<String> {
    let href = next_href(json)?;
    let path = href.find("/api/").map_or(href, |i| &href[i..]);
    // Anything else (a generic mock's placeholder "string") is no link to follow: the paging
    // check reports it, and nothing else sends it as a request.
    path.starts_with('/').then(|| path.to_string())
}

/// The `_links.next.href` of an answer as the target wrote it.
pub fn next_href(json: &Value) -> Option<&str> {
    json.pointer("/_links/next/href")?.as_str()
}

/// Bodies already decoded. A property sends many requests whose answers repeat byte for byte
/// (the same 404, the same record read again, the same filtered records), so a body seen twice is
/// remembered: decoded into text and JSON once, then shared. A body seen once is only noted by its
/// hash, so answers that never repeat (a collection's `_links.self` echoes the query) cost no
/// memory. Entries are never evicted, so a `body_id` names one body for the whole run; past the
/// bounds below nothing new is remembered, which keeps memory flat on a large cluster.
struct BodyCache {
    inner: std::sync::Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    entries: std::collections::HashMap<bytes::Bytes, Decoded, foldhash::fast::FixedState>,
    /// Hashes of bodies seen once.
    seen: std::collections::HashSet<u64, foldhash::fast::FixedState>,
    /// Body bytes held by `entries`.
    held: usize,
}

struct Decoded {
    id: u64,
    text: Arc<str>,
    json: Option<Arc<Value>>,
}

/// Bodies remembered at most, the largest body remembered, their bytes together, and the hashes
/// of bodies seen once kept at most (then forgotten all at once). A remembered body costs its
/// bytes, its text and its JSON tree (five to six times the bytes), so 2 MiB of bodies hold
/// about 15 MB: the answers that repeat are small (an error, a record, a filtered few), and a
/// large cluster's pages of records, which do not repeat, would fill a larger cache for nothing.
const CACHE_ENTRIES: usize = 4096;
const CACHE_BODY_MAX: usize = 16 * 1024;
const CACHE_BYTES_MAX: usize = 2 * 1024 * 1024;
const CACHE_SEEN_MAX: usize = 1 << 16;

/// An answer this large (a page of a large family) is decoded as [`heavy`] work. Decoding on
/// two cores at once holds two answers' trees at once: from 64 KiB, 50 to 60 MB more peak
/// memory at 10,000 SVMs; from 512 KiB, 20 to 30 MB, for the same gain at 100,000.
const HEAVY_BODY: usize = 512 * 1024;

/// Runs CPU-heavy work (decoding a large answer, a pass over a large family) so that the
/// runtime's other tasks go on meanwhile: on a multi-thread runtime the worker hands its other
/// tasks to another thread for the time (`tokio::task::block_in_place`), so that even with one
/// worker (`--threads 1`) requests of other checks are sent and answered on the other core.
/// Elsewhere (a current-thread runtime, or none) it simply runs.
pub fn heavy<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Work on an answer of `len` bytes (decoding it, judging it, a pass over its records): as
/// [`heavy`] work when the answer is large (a page of a large family), else simply run.
pub fn heavy_for<R>(len: usize, f: impl FnOnce() -> R) -> R {
    if len >= HEAVY_BODY { heavy(f) } else { f() }
}

/// A pass over this many records (a large family) is [`heavy`] work.
const HEAVY_RECORDS: usize = 50_000;

/// A pass over `n` records: as [`heavy`] work for a large family, else simply run (handing the
/// worker over costs a thread, and on a whole-API run of small families, memory).
pub fn heavy_pass<R>(n: usize, f: impl FnOnce() -> R) -> R {
    if n >= HEAVY_RECORDS { heavy(f) } else { f() }
}

/// An answer's text as reports show it (bytes that are not UTF-8 replaced). UTF-8 is checked
/// first the fast way: `from_utf8_lossy` walks valid text a byte at a time, 4.5% of the
/// harness's instructions in a run at 100,000 SVMs.
fn answer_text(bytes: &[u8]) -> Arc<str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.into(),
        Err(_) => String::from_utf8_lossy(bytes).into(),
    }
}

/// A decoded body: its text, its JSON when it is JSON, and its id when it is remembered.
type DecodedBody = (Arc<str>, Option<Arc<Value>>, Option<u64>);

impl BodyCache {
    fn new() -> Self {
        BodyCache {
            inner: std::sync::Mutex::new(CacheInner::default()),
        }
    }

    fn decode(bytes: &[u8]) -> (Arc<str>, Option<Arc<Value>>) {
        let json = serde_json::from_slice::<Value>(bytes).ok().map(Arc::new);
        (answer_text(bytes), json)
    }

    fn get(&self, bytes: bytes::Bytes) -> DecodedBody {
        use std::hash::BuildHasher;
        if bytes.len() > CACHE_BODY_MAX {
            let (text, json) = Self::decode(&bytes);
            return (text, json, None);
        }
        let (admit, hash) = {
            let mut c = self.inner.lock().unwrap();
            if let Some(d) = c.entries.get(&bytes) {
                return (d.text.clone(), d.json.clone(), Some(d.id));
            }
            // A miss: only now is the body hashed a second time, to note or find it in `seen`.
            let hash = foldhash::fast::FixedState::default().hash_one(&bytes);
            let room = c.entries.len() < CACHE_ENTRIES && c.held + bytes.len() <= CACHE_BYTES_MAX;
            if room && !c.seen.contains(&hash) {
                if c.seen.len() >= CACHE_SEEN_MAX {
                    c.seen.clear();
                }
                c.seen.insert(hash);
                (false, hash)
            } else {
                (room, hash)
            }
        };
        // Decoded outside the lock.
        let (text, json) = Self::decode(&bytes);
        if !admit {
            return (text, json, None);
        }
        let mut c = self.inner.lock().unwrap();
        if let Some(d) = c.entries.get(&bytes) {
            // Another task remembered it meanwhile.
            return (d.text.clone(), d.json.clone(), Some(d.id));
        }
        let id = c.entries.len() as u64;
        c.held += bytes.len();
        c.seen.remove(&hash);
        c.entries.insert(
            bytes,
            Decoded {
                id,
                text: text.clone(),
                json: json.clone(),
            },
        );
        (text, json, Some(id))
    }
}

/// A request with its answer.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    pub request: Request,
    pub response: Response,
}

/// Why a request got no HTTP answer: one line, secrets redacted.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

impl TransportError {
    /// The request never reached the target (no connection could be made), so a write that
    /// failed so is not in doubt; every other failure may have come after the target got it.
    pub fn never_sent(&self) -> bool {
        self.0.starts_with("could not connect:")
    }
}

/// What went wrong on the wire, before it becomes a one-line [`TransportError`].
#[derive(Debug)]
enum Failure {
    /// The whole exchange (connect, request, headers and body) took longer than `--timeout`.
    Timeout(Duration),
    /// The answer's body was longer than `--max-answer-bytes`.
    TooLarge(usize),
    /// No connection: refused, unresolvable, TLS handshake failed.
    Connect(String),
    /// The answer could not be read to its end.
    Body(String),
    /// Anything else reqwest reports.
    Other(String),
}

impl Failure {
    fn line(&self) -> String {
        match self {
            Failure::Timeout(t) => format!(
                "timed out: no complete answer within {} s (--timeout bounds the whole exchange)",
                t.as_secs_f64()
            ),
            Failure::TooLarge(n) => {
                format!("the answer exceeded {n} bytes (--max-answer-bytes); it was cut off")
            }
            Failure::Connect(m) => format!("could not connect: {m}"),
            Failure::Body(m) => format!("reading the answer: {m}"),
            Failure::Other(m) => format!("request failed: {m}"),
        }
    }

    fn from_reqwest(e: &reqwest::Error, timeout: Duration) -> Failure {
        if e.is_timeout() {
            return Failure::Timeout(timeout);
        }
        let root = root_cause(e);
        if e.is_connect() {
            Failure::Connect(root)
        } else if e.is_body() || e.is_decode() {
            Failure::Body(root)
        } else {
            Failure::Other(root)
        }
    }
}

/// The innermost cause of an error: the part that says what happened (`invalid peer
/// certificate: UnknownIssuer`, `Connection refused (os error 111)`), without reqwest's
/// "error sending request for url (...)" wrapping.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !text.is_empty() {
            last = text;
        }
        src = s.source();
    }
    last.lines().next().unwrap_or_default().to_string()
}

/// Credentials; the password never leaves this struct except into the Authorization header.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    /// None: this user logs in with the client certificate, not a password.
    password: Option<String>,
}

impl Credentials {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            user: user.into(),
            password: Some(password.into()),
        }
    }
    /// A user who logs in with the client certificate (`--client-cert`): requests on its behalf
    /// carry no Authorization header.
    pub fn certificate(user: impl Into<String>) -> Self {
        Credentials {
            user: user.into(),
            password: None,
        }
    }
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }
    /// What no output may show: the password and the Basic token made of it.
    pub fn secrets(&self) -> Vec<String> {
        use base64::Engine;
        let Some(password) = &self.password else {
            return Vec::new();
        };
        vec![
            password.clone(),
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{password}", self.user)),
        ]
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.password {
            Some(_) => write!(f, "Credentials({}, <redacted>)", self.user),
            None => write!(f, "Credentials({}, client certificate)", self.user),
        }
    }
}

/// How to trust the target's certificate.
#[derive(Debug, Clone)]
pub enum Trust {
    /// The platform's roots, through rustls-platform-verifier (the default).
    System,
    /// Only this PEM CA (`--ca-cert`, or the built-in mock's own certificate).
    CaPem(String),
    /// No verification (`--insecure`).
    Insecure,
}

/// A client certificate and its private key (`--client-cert`, `--client-key`), checked when made.
#[derive(Clone)]
pub struct ClientIdentity {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pem: Vec<u8>,
}

/// Why a client could not be made; each message names the setting at fault (a flag or an
/// environment variable) and what was expected, and never holds a credential.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// `--ca-cert`: not PEM, or no certificate in it.
    #[error("{0}")]
    Trust(String),
    /// `--client-cert` / `--client-key`: not PEM, or not a pair.
    #[error("{0}")]
    Identity(String),
    /// `--proxy`, `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`: not a proxy URL.
    #[error("{0}")]
    Proxy(String),
    /// `--tunnel-svm`: a name that cannot be a header value.
    #[error("{0}")]
    Tunnel(String),
    /// The HTTP client itself could not be set up.
    #[error("{0}")]
    Setup(String),
}

impl From<ClientError> for crate::error::Error {
    fn from(e: ClientError) -> Self {
        crate::error::Error::Usage(e.to_string())
    }
}

impl ClientIdentity {
    /// The certificate chain and key as PEM text; the error names the file that is not usable.
    pub fn new(
        cert_path: PathBuf,
        cert_pem: &str,
        key_path: PathBuf,
        key_pem: &str,
    ) -> Result<ClientIdentity, ClientError> {
        use rustls::pki_types::pem::PemObject;
        let certs = rustls::pki_types::CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                ClientError::Identity(format!(
                    "--client-cert {}: not PEM ({e})",
                    cert_path.display()
                ))
            })?;
        if certs.is_empty() {
            return Err(ClientError::Identity(format!(
                "--client-cert {}: no certificate in it; expected PEM \"BEGIN CERTIFICATE\" blocks",
                cert_path.display()
            )));
        }
        rustls::pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| {
            ClientError::Identity(format!(
                "--client-key {}: not a PEM private key ({e}); expected PKCS#8, PKCS#1 or SEC1",
                key_path.display()
            ))
        })?;
        let mut pem = cert_pem.as_bytes().to_vec();
        pem.push(b'\n');
        pem.extend_from_slice(key_pem.as_bytes());
        reqwest::Identity::from_pem(&pem).map_err(|e| {
            ClientError::Identity(format!(
                "--client-cert {} with --client-key {}: not usable together ({})",
                cert_path.display(),
                key_path.display(),
                root_cause(&e)
            ))
        })?;
        Ok(ClientIdentity {
            cert_path,
            key_path,
            pem,
        })
    }
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ClientIdentity({}, key {})",
            self.cert_path.display(),
            self.key_path.display()
        )
    }
}

/// The default of `--max-answer-bytes`: 16 MiB.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub admin: Credentials,
    pub svm: Option<Credentials>,
    /// The SVM the cluster administrator tunnels into for [`Auth::Tunnel`] (`--tunnel-svm`).
    pub tunnel_svm: Option<String>,
    pub trust: Trust,
    /// Bounds a whole exchange: connecting, sending, the headers and the body.
    pub timeout: Duration,
    pub concurrency: usize,
    /// A longer answer is cut off while it streams in and becomes a transport error.
    pub max_answer_bytes: usize,
    /// The proxies the environment and `--proxy` name; which one applies is decided once.
    pub proxy: Proxies,
    /// Log in with a client certificate too.
    pub identity: Option<ClientIdentity>,
    /// Requests per second at most (`--rate`); None: no cap.
    pub rate: Option<f64>,
    /// Answers 429 and 503 are retried after their `Retry-After` (or a backoff), this many
    /// times at most.
    pub max_retries: u32,
    /// The catalog's paths: the latency figures are kept by these (see [`pace::Latencies`]).
    pub endpoints: Vec<String>,
    /// `run -v`: every exchange goes to the sink as one line (method, path, status or transport
    /// error, latency), with these secrets and the credentials' scrubbed.
    pub log: Option<ExchangeLog>,
}

/// Where `-v`'s exchange lines go (the command line prints them on standard error).
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// The exchange log: the secrets scrubbed from each line, and its sink.
#[derive(Clone)]
pub struct ExchangeLog {
    pub secrets: Arc<crate::redact::Secrets>,
    pub sink: LogSink,
}

impl std::fmt::Debug for ExchangeLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExchangeLog")
    }
}

impl ClientConfig {
    /// A configuration with the defaults: 30 s, 4 in flight, 16 MiB, no proxy, no certificate.
    pub fn new(base_url: impl Into<String>, admin: Credentials, trust: Trust) -> ClientConfig {
        ClientConfig {
            base_url: base_url.into(),
            admin,
            svm: None,
            tunnel_svm: None,
            trust,
            timeout: Duration::from_secs(30),
            concurrency: 4,
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
            proxy: Proxies::default(),
            identity: None,
            rate: None,
            max_retries: pace::MAX_RETRIES,
            endpoints: Vec::new(),
            log: None,
        }
    }
}

/// The harness's only way to talk to a target: reqwest (pooled keep-alive HTTP/1.1 over rustls
/// with the ring provider, no redirect followed), with the Authorization headers built once, a
/// request budget (the semaphore) and the answer cache.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    cfg: Arc<ClientConfig>,
    /// Admin, SVM user, admin with a wrong password; None: no Authorization header.
    auth: Arc<[Option<http::HeaderValue>; 3]>,
    /// `X-Dot-SVM-Name` of [`Auth::Tunnel`].
    tunnel: Option<http::HeaderValue>,
    /// The proxy requests go through, if any.
    via: Option<ProxyUrl>,
    sent: Arc<AtomicU64>,
    permits: Arc<Semaphore>,
    bodies: Arc<BodyCache>,
    limiter: Option<Arc<pace::RateLimiter>>,
    /// Answers 429/503 retried.
    retried: Arc<AtomicU64>,
    meter: Arc<pace::RateMeter>,
    latencies: Arc<pace::Latencies>,
    /// The base URL parsed once, when a request's path can be joined to it (see [`url_for`]).
    base: Option<Arc<reqwest::Url>>,
    /// The `Host` header of a request joined to [`Client::base`] (see [`host_of`]).
    host: Option<http::HeaderValue>,
}

/// The `Host` header hyper would write for a request to `base`: the host, and the port when it
/// is not the scheme's own. Made once here, hyper leaves it as it is, where it would format it
/// again for every request to a port such as the mock's (1% of the harness's instructions).
fn host_of(base: &reqwest::Url) -> Option<http::HeaderValue> {
    let host = base.host_str()?;
    let value = match base.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    http::HeaderValue::from_str(&value).ok()
}

/// The base URL parsed, when a request URL is the base URL's scheme and authority followed by
/// the request's path: a base without a path of its own, query or fragment.
fn parsed_base(base_url: &str) -> Option<reqwest::Url> {
    let u = reqwest::Url::parse(base_url).ok()?;
    (u.path() == "/" && u.query().is_none() && u.fragment().is_none() && !u.cannot_be_a_base())
        .then_some(u)
}

/// The URL of a request to `path`: the base URL (without its trailing slashes) followed by the
/// path, as `Url::parse` reads it. With the base parsed once, a path that starts with one `/`
/// is joined to it, which reads the path and query alone: parsing the whole text again each
/// request (the host goes through IDNA even when it is an address) cost 7% of the harness's
/// instructions in `bench/harness_rps.sh`. Any other path is parsed whole, as before.
fn url_for(
    base: Option<&reqwest::Url>,
    base_url: &str,
    path: &str,
) -> Result<reqwest::Url, String> {
    let whole = || format!("{}{}", base_url.trim_end_matches('/'), path);
    match base {
        Some(b) if joinable(path) => b.join(path).map_err(|_| whole()),
        _ => reqwest::Url::parse(&whole()).map_err(|_| whole()),
    }
}

/// The Accept header of a request that names none.
const HAL_JSON: http::HeaderValue = http::HeaderValue::from_static("application/hal+json");

/// Whether a request's path is joined to the parsed base URL: it starts with one `/` (not
/// `//` or `/\\`, which would name another host).
fn joinable(path: &str) -> bool {
    path.starts_with('/') && !matches!(path.as_bytes().get(1), Some(b'/' | b'\\'))
}

/// Returns once `flag` is set (polled every 20 ms).
pub async fn until_set(flag: &std::sync::atomic::AtomicBool) {
    while !flag.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Installs the one crypto provider of the process (ring) for rustls, which reqwest uses too.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn basic(user: &str, password: &str) -> http::HeaderValue {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut v = http::HeaderValue::from_str(&format!("Basic {token}"))
        .unwrap_or(http::HeaderValue::from_static(""));
    v.set_sensitive(true);
    v
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Result<Client, ClientError> {
        install_crypto();
        let mut b = reqwest::Client::builder()
            .http1_only()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            // No reqwest timeout: `send` bounds the whole exchange itself (one timer a request).
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(cfg.concurrency.max(1))
            // Well below any server's idle timeout (the mock's is 60 s by default): a connection
            // the server is about to close is never taken for a request (a write on it would be
            // in doubt).
            .pool_idle_timeout(Duration::from_secs(20))
            .tcp_nodelay(true)
            .user_agent(concat!("ontap-conform/", env!("CARGO_PKG_VERSION")));
        b = match &cfg.trust {
            Trust::System => b,
            Trust::CaPem(pem) => {
                let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
                    ClientError::Trust(format!("the CA certificate is not PEM: {}", root_cause(&e)))
                })?;
                if certs.is_empty() {
                    return Err(ClientError::Trust(
                        "the CA certificate file holds no certificate".into(),
                    ));
                }
                b.tls_certs_only(certs)
            }
            Trust::Insecure => b.tls_danger_accept_invalid_certs(true),
        };
        if let Some(id) = &cfg.identity {
            let identity = reqwest::Identity::from_pem(&id.pem)
                .map_err(|e| ClientError::Identity(format!("--client-cert: {}", root_cause(&e))))?;
            b = b.identity(identity);
        }
        let via = cfg.proxy.for_url(&cfg.base_url).cloned();
        if let Some(p) = &via {
            b = b.proxy(
                reqwest::Proxy::all(p.url.as_str())
                    .map_err(|e| ClientError::Proxy(format!("--proxy {p}: {}", root_cause(&e))))?,
            );
        }
        let http = b.build().map_err(|e| {
            ClientError::Setup(format!("cannot set up the HTTP client: {}", root_cause(&e)))
        })?;
        let svm = cfg.svm.as_ref().unwrap_or(&cfg.admin);
        let header = |c: &Credentials| c.password.as_deref().map(|p| basic(&c.user, p));
        let auth = Arc::new([
            header(&cfg.admin),
            header(svm),
            // Nothing derived from the real password: its Basic token would carry it.
            Some(basic(
                &cfg.admin.user,
                wrong_password(cfg.admin.password.as_deref().unwrap_or("")),
            )),
        ]);
        let tunnel = match &cfg.tunnel_svm {
            None => None,
            Some(name) => Some(
                http::HeaderValue::from_str(name)
                    .ok()
                    .filter(|_| !name.trim().is_empty())
                    .ok_or_else(|| {
                        ClientError::Tunnel(format!(
                            "--tunnel-svm {name:?}: not an SVM name that fits in a header"
                        ))
                    })?,
            ),
        };
        let permits = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
        if let Some(log) = &cfg.log {
            for c in std::iter::once(&cfg.admin).chain(cfg.svm.as_ref()) {
                c.secrets().iter().for_each(|v| log.secrets.add(v));
            }
        }
        let base = parsed_base(&cfg.base_url).map(Arc::new);
        let host = base.as_deref().and_then(host_of);
        Ok(Client {
            http,
            limiter: cfg.rate.map(|r| Arc::new(pace::RateLimiter::new(r))),
            latencies: Arc::new(pace::Latencies::new(cfg.endpoints.iter().cloned())),
            cfg: Arc::new(cfg),
            auth,
            tunnel,
            via,
            sent: Arc::new(AtomicU64::new(0)),
            permits,
            bodies: Arc::new(BodyCache::new()),
            retried: Arc::new(AtomicU64::new(0)),
            meter: Arc::new(pace::RateMeter::default()),
            base,
            host,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.cfg.base_url
    }
    pub fn admin_user(&self) -> &str {
        &self.cfg.admin.user
    }
    pub fn has_svm_user(&self) -> bool {
        self.cfg.svm.is_some()
    }
    /// How the role checks act inside an SVM: as the SVM administrator (`--svm-user`), else as
    /// the cluster administrator tunnelled into `--tunnel-svm`; None: neither was given.
    pub fn svm_auth(&self) -> Option<Auth> {
        if self.cfg.svm.is_some() {
            Some(Auth::Svm)
        } else if self.tunnel.is_some() {
            Some(Auth::Tunnel)
        } else {
            None
        }
    }
    /// Who [`Client::svm_auth`] acts as, for messages.
    pub fn svm_actor(&self) -> String {
        match (&self.cfg.svm, &self.cfg.tunnel_svm) {
            (None, Some(name)) => format!("the cluster administrator tunnelled into SVM {name}"),
            _ => "the SVM administrator".to_string(),
        }
    }
    /// The proxy the requests go through (its credentials redacted when displayed).
    pub fn proxy(&self) -> Option<&ProxyUrl> {
        self.via.as_ref()
    }
    /// Requests sent so far.
    /// The whole-exchange timeout of every request (`--timeout`).
    pub fn timeout(&self) -> Duration {
        self.cfg.timeout
    }

    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Answers 429 or 503 that were sent again.
    pub fn retries(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }
    /// The most requests sent within one second.
    pub fn peak_rate(&self) -> u32 {
        self.meter.peak()
    }
    /// The latency figures so far, by endpoint and method.
    pub fn latency(&self) -> Vec<LatencyRow> {
        self.latencies.rows()
    }

    /// Sends one request (waiting for a concurrency slot, and for its slot of `--rate`) and
    /// returns the exchange. An answer 429 or 503 is sent again after its `Retry-After` (or a
    /// backoff), a bounded number of times; the last answer is returned.
    pub async fn send(&self, req: Request) -> Result<Exchange, TransportError> {
        self.send_unless(req, &std::sync::atomic::AtomicBool::new(false))
            .await
            .map_err(|e| e.unwrap_or_else(|| TransportError("not sent".into())))
    }

    /// Sends a request unless `stop` is set by the time it gets its turn (a request waiting for
    /// the budget is then dropped, Err(None); one already sent always finishes or times out).
    pub async fn send_unless(
        &self,
        req: Request,
        stop: &std::sync::atomic::AtomicBool,
    ) -> Result<Exchange, Option<TransportError>> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Some(TransportError("client closed".into())))?;
        let mut attempt = 0;
        let mut req = req;
        loop {
            if let Some(l) = &self.limiter {
                // A slow rate never holds a stopping run: the wait ends with the stop.
                tokio::select! {
                    _ = l.wait() => {}
                    _ = until_set(stop) => return Err(None),
                }
            }
            // Dropped before it was sent: the run is stopping.
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(None);
            }
            let (x, retry_after) = self.send_once(req).await.map_err(Some)?;
            if matches!(x.response.status, 429 | 503) && attempt < self.cfg.max_retries {
                tokio::time::sleep(pace::retry_wait(retry_after.as_deref(), attempt)).await;
                attempt += 1;
                self.retried.fetch_add(1, Ordering::Relaxed);
                // The same request again, taken back from the answer it got.
                req = x.request;
                continue;
            }
            return Ok(x);
        }
    }

    /// One exchange, and the answer's `Retry-After`. The request goes into the exchange.
    async fn send_once(&self, req: Request) -> Result<(Exchange, Option<String>), TransportError> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| TransportError(format!("bad method {}", req.method)))?;
        // A path that is no URL goes as text: reqwest reports it as it did.
        let mut b = match url_for(self.base.as_deref(), &self.cfg.base_url, &req.path) {
            Ok(url) => self.http.request(method, url),
            Err(text) => self.http.request(method, text),
        };
        // The usual Accept is a header value made once, not checked again on every request.
        b = match req.accept.as_deref() {
            None => b.header(http::header::ACCEPT, HAL_JSON),
            Some(a) => b.header(http::header::ACCEPT, a),
        };
        if let Some(host) = &self.host
            && joinable(&req.path)
        {
            b = b.header(http::header::HOST, host.clone());
        }
        let auth = match req.auth {
            Auth::Admin | Auth::Tunnel => &self.auth[0],
            Auth::Svm => &self.auth[1],
            Auth::Wrong => &self.auth[2],
            Auth::None => &None,
        };
        if let Some(h) = auth {
            b = b.header(http::header::AUTHORIZATION, h.clone());
        }
        if req.auth == Auth::Tunnel
            && let Some(svm) = &self.tunnel
        {
            b = b.header("X-Dot-SVM-Name", svm.clone());
        }
        match &req.body {
            Some(Body::Json(v)) => {
                b = b
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(serde_json::to_vec(v).unwrap_or_default());
            }
            Some(Body::Raw(s)) => {
                b = b
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(s.clone().into_bytes());
            }
            None => {}
        }
        let start = Instant::now();
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.meter.tick();
        let timeout = self.cfg.timeout;
        let exchange = async {
            let mut resp = b
                .send()
                .await
                .map_err(|e| Failure::from_reqwest(&e, timeout))?;
            let max = self.cfg.max_answer_bytes;
            if resp.content_length().is_some_and(|n| n > max as u64) {
                return Err(Failure::TooLarge(max));
            }
            let status = resp.status().as_u16();
            let header = |n: http::HeaderName| {
                resp.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(String::from)
            };
            let location = header(http::header::LOCATION);
            let content_type = header(http::header::CONTENT_TYPE);
            let retry_after = header(http::header::RETRY_AFTER);
            // Streamed, so that memory stays bounded whatever the target sends.
            let mut body: Option<bytes::BytesMut> = None;
            let mut first: Option<bytes::Bytes> = None;
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| Failure::from_reqwest(&e, timeout))?
            {
                let held =
                    first.as_ref().map_or(0, |c| c.len()) + body.as_ref().map_or(0, |b| b.len());
                if held + chunk.len() > max {
                    return Err(Failure::TooLarge(max));
                }
                match (&mut body, first.take()) {
                    (Some(b), _) => b.extend_from_slice(&chunk),
                    (None, None) => first = Some(chunk),
                    (None, Some(f)) => {
                        let mut b = bytes::BytesMut::with_capacity(f.len() + chunk.len());
                        b.extend_from_slice(&f);
                        b.extend_from_slice(&chunk);
                        body = Some(b);
                    }
                }
            }
            let bytes = match (body, first) {
                (Some(b), _) => b.freeze(),
                (None, Some(f)) => f,
                (None, None) => bytes::Bytes::new(),
            };
            Ok((status, location, content_type, retry_after, bytes))
        };
        let (status, location, content_type, retry_after, bytes) =
            match tokio::time::timeout(timeout, exchange).await {
                Ok(Ok(parts)) => parts,
                Ok(Err(f)) => {
                    let e = self.failure(f);
                    self.log(&req, &e.0, start.elapsed());
                    return Err(e);
                }
                Err(_) => {
                    let e = self.failure(Failure::Timeout(timeout));
                    self.log(&req, &e.0, start.elapsed());
                    return Err(e);
                }
            };
        let took = start.elapsed();
        self.log(&req, status, took);
        self.latencies.add(&req.method, &req.path, took);
        let (text, json, body_id) = heavy_for(bytes.len(), || match &req.keep {
            // A slim answer is not remembered: the same text asked whole must be read whole.
            Some(keep) => {
                let json = slim::decode(&bytes, keep).map(Arc::new);
                (answer_text(&bytes), json, None)
            }
            None => self.bodies.get(bytes),
        });
        Ok((
            Exchange {
                request: req,
                response: Response {
                    status,
                    location,
                    content_type,
                    text,
                    json,
                    body_id,
                    millis: took.as_millis() as u64,
                },
            },
            retry_after,
        ))
    }

    /// With `-v`, one line to the log's sink for an exchange: method, path, the status (or why
    /// there was none), latency, and whose credentials it carried when not the administrator's.
    fn log(&self, req: &Request, outcome: impl std::fmt::Display, took: Duration) {
        let Some(log) = &self.cfg.log else {
            return;
        };
        let who = match req.auth {
            Auth::Admin => "",
            Auth::Svm => " (SVM user)",
            Auth::Tunnel => " (tunnelled)",
            Auth::None => " (no credentials)",
            Auth::Wrong => " (wrong password)",
        };
        let line = format!(
            "{} {} {outcome} {:.1} ms{who}",
            req.method,
            req.path,
            took.as_secs_f64() * 1000.0
        );
        (log.sink)(&log.secrets.scrub(&line));
    }

    /// The one-line error, with the proxy's credentials taken out of it.
    fn failure(&self, f: Failure) -> TransportError {
        let line = f.line();
        TransportError(match &self.via {
            Some(p) if matches!(f, Failure::Connect(_)) => {
                p.redact_in(&format!("{line} (through the proxy {p})"))
            }
            Some(p) => p.redact_in(&line),
            None => line,
        })
    }

    /// Whether the target's port answers a TLS ClientHello with a TLS record, for a hint when
    /// an `http://` URL gets no HTTP answer. Connects directly (not through a proxy), within
    /// a few seconds; false when it cannot tell.
    pub async fn port_speaks_tls(&self) -> bool {
        let Ok(url) = url::Url::parse(&self.cfg.base_url) else {
            return false;
        };
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return false;
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let probe = async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .ok()?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(host.clone()).ok()?;
            let mut conn = rustls::ClientConnection::new(Arc::new(config), name).ok()?;
            let mut hello = Vec::new();
            conn.write_tls(&mut hello).ok()?;
            let mut stream = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .ok()?;
            stream.write_all(&hello).await.ok()?;
            let mut first = [0u8; 1];
            stream.read_exact(&mut first).await.ok()?;
            // 0x16: a TLS handshake record (ServerHello); 0x15: a TLS alert.
            Some(first[0] == 0x16 || first[0] == 0x15)
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(3), probe).await,
            Ok(Some(true))
        )
    }

    /// The curl command that reproduces a request; the password is read from an environment
    /// variable, never written.
    pub fn curl(&self, req: &Request) -> String {
        let mut c = curl(
            &self.cfg.base_url,
            &self.cfg.admin.user,
            self.cfg.svm.as_ref().map(|c| c.user.as_str()),
            req,
        );
        let mut extra = String::new();
        if let Some(id) = &self.cfg.identity {
            extra.push_str(&format!(
                " --cert {} --key {}",
                shell_quote(&id.cert_path.display().to_string()),
                shell_quote(&id.key_path.display().to_string())
            ));
            if !self.cfg.admin.has_password() && matches!(req.auth, Auth::Admin | Auth::Tunnel) {
                let u = format!(" -u \"{}:$ONTAP_PASSWORD\"", self.cfg.admin.user);
                c = c.replacen(&u, "", 1);
            }
        }
        if let Some(p) = &self.via {
            extra.push_str(&format!(" -x {}", shell_quote(&p.to_string())));
        }
        if req.auth == Auth::Tunnel
            && let Some(svm) = &self.cfg.tunnel_svm
        {
            extra.push_str(&format!(
                " -H {}",
                shell_quote(&format!("X-Dot-SVM-Name: {svm}"))
            ));
        }
        if !extra.is_empty() {
            c.insert_str("curl -sk".len(), &extra);
        }
        c
    }
}

/// The wrong password of [`Auth::Wrong`]: a fixed text, never the real one nor made from it.
pub fn wrong_password(real: &str) -> &'static str {
    if real == "not-the-password" {
        "not-the-password-either"
    } else {
        "not-the-password"
    }
}

/// Quotes a string for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Renders a request as curl. Secrets are never written: the password comes from
/// `$ONTAP_PASSWORD` / `$ONTAP_SVM_PASSWORD`, and write-only values in bodies are redacted by
/// the caller (see `crate::redact`).
pub fn curl(base: &str, admin: &str, svm: Option<&str>, req: &Request) -> String {
    let mut parts = vec!["curl".to_string(), "-sk".to_string()];
    if req.method != "GET" {
        parts.push("-X".into());
        parts.push(req.method.clone());
    }
    match req.auth {
        // The tunnelling header is added by `Client::curl`, which knows the SVM.
        Auth::Admin | Auth::Tunnel => {
            parts.push("-u".into());
            parts.push(format!("\"{admin}:$ONTAP_PASSWORD\""));
        }
        Auth::Svm => {
            parts.push("-u".into());
            parts.push(format!("\"{}:$ONTAP_SVM_PASSWORD\"", svm.unwrap_or(admin)));
        }
        Auth::Wrong => {
            parts.push("-u".into());
            parts.push(format!("\"{admin}:not-the-password\""));
        }
        Auth::None => {}
    }
    parts.push("-H".into());
    parts.push(shell_quote(&format!(
        "Accept: {}",
        req.accept.as_deref().unwrap_or("application/hal+json")
    )));
    if let Some(body) = &req.body {
        parts.push("-H".into());
        parts.push(shell_quote("Content-Type: application/json"));
        parts.push("--data-raw".into());
        let text = match body {
            Body::Json(v) => v.to_string(),
            Body::Raw(s) => s.clone(),
        };
        parts.push(shell_quote(&text));
    }
    parts.push(shell_quote(&format!(
        "{}{}",
        base.trim_end_matches('/'),
        req.path
    )));
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_next_link_is_followed_only_when_it_is_a_path() {
        let next = |href: &str| next_path(&serde_json::json!({"_links": {"next": {"href": href}}}));
        assert_eq!(
            next("/api/svm/svms?start.uuid=1").as_deref(),
            Some("/api/svm/svms?start.uuid=1")
        );
        assert_eq!(
            next("https://cluster1/api/svm/svms?x=1").as_deref(),
            Some("/api/svm/svms?x=1")
        );
        // A generic mock's placeholder, or anything else that names no path, is not sent.
        assert_eq!(next("string"), None);
        assert_eq!(next(""), None);
        assert_eq!(next_path(&serde_json::json!({"records": []})), None);
    }
    use serde_json::json;

    #[test]
    fn an_answer_text_is_its_bytes_with_what_is_not_utf8_replaced() {
        assert_eq!(
            &*answer_text("caf\u{e9} \u{1F600}".as_bytes()),
            "caf\u{e9} \u{1F600}"
        );
        assert_eq!(&*answer_text(b"ok\xff\xfeend"), "ok\u{FFFD}\u{FFFD}end");
        assert_eq!(&*answer_text(b"cut \xe2\x82"), "cut \u{FFFD}");
        assert_eq!(&*answer_text(b""), "");
    }

    #[test]
    fn a_body_seen_twice_is_decoded_once_and_keeps_its_id() {
        let cache = BodyCache::new();
        let body =
            bytes::Bytes::from_static(br#"{"error":{"message":"entry doesn't exist","code":"4"}}"#);
        let (text, json, id) = cache.get(body.clone());
        assert_eq!(id, None, "a body seen once is not remembered");
        assert_eq!(&*text, std::str::from_utf8(&body).unwrap());
        assert_eq!(json.as_deref().unwrap()["error"]["code"], "4");
        let (_, second, id) = cache.get(body.clone());
        let id = id.expect("a body seen twice is remembered");
        let (_, third, again) = cache.get(body.clone());
        assert_eq!(again, Some(id));
        assert!(Arc::ptr_eq(
            second.as_ref().unwrap(),
            third.as_ref().unwrap()
        ));
        // Another body gets another id; a body that is not JSON keeps its text.
        let other = bytes::Bytes::from_static(b"<html>not ONTAP</html>");
        cache.get(other.clone());
        let (text, json, other_id) = cache.get(other);
        assert_eq!((&*text, json.is_none()), ("<html>not ONTAP</html>", true));
        assert!(other_id.is_some() && other_id != Some(id));
    }

    #[test]
    fn large_bodies_are_never_remembered() {
        let cache = BodyCache::new();
        let big = bytes::Bytes::from(format!("\"{}\"", "x".repeat(CACHE_BODY_MAX)));
        for _ in 0..3 {
            let (text, json, id) = cache.get(big.clone());
            assert_eq!((id, text.len()), (None, big.len()));
            assert_eq!(
                json.as_deref().and_then(Value::as_str).map(str::len),
                Some(CACHE_BODY_MAX)
            );
        }
        assert!(cache.inner.lock().unwrap().entries.is_empty());
    }

    #[test]
    fn curl_never_holds_the_password() {
        let req = Request::new("PATCH", "/api/security/login/messages/x?return_timeout=15")
            .json(json!({"banner": "it's"}));
        let c = curl("https://10.0.0.1", "admin", None, &req);
        assert!(c.contains("\"admin:$ONTAP_PASSWORD\""), "{c}");
        assert!(c.contains("-X PATCH"));
        assert!(c.contains("'{\"banner\":\"it'\\''s\"}'"), "{c}");
        assert!(
            c.ends_with("'https://10.0.0.1/api/security/login/messages/x?return_timeout=15'"),
            "{c}"
        );
        let creds = Credentials::new("admin", "hunter2");
        assert!(!format!("{creds:?}").contains("hunter2"));
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
mod url_tests {
    use super::{host_of, parsed_base, url_for};
    use proptest::prelude::*;

    /// What a request's URL was before the base was parsed once: the whole text parsed.
    fn whole(base_url: &str, path: &str) -> Result<String, String> {
        let text = format!("{}{}", base_url.trim_end_matches('/'), path);
        reqwest::Url::parse(&text)
            .map(|u| u.to_string())
            .map_err(|_| text)
    }

    fn joined(base_url: &str, path: &str) -> Result<String, String> {
        url_for(parsed_base(base_url).as_ref(), base_url, path).map(|u| u.to_string())
    }

    #[test]
    fn a_base_with_a_path_query_or_fragment_of_its_own_is_not_joined_to() {
        assert!(parsed_base("https://cluster1").is_some());
        assert!(parsed_base("https://cluster1:8443/").is_some());
        assert!(parsed_base("https://cluster1/prefix").is_none());
        assert!(parsed_base("https://cluster1/?x=1").is_none());
        assert!(parsed_base("not a url").is_none());
        for (base, path) in [
            ("https://cluster1/prefix", "/api/svm/svms"),
            ("https://cluster1/", "/api/a/../b?fields=*&x=%zz#frag"),
            ("https://cluster1", "//elsewhere/api"),
            ("https://cluster1", "/\\elsewhere/api"),
            ("https://cluster1", "api/relative"),
            ("https://cluster1", ""),
            ("http://[::1]:8080", "/api/cluster?fields=**"),
        ] {
            assert_eq!(joined(base, path), whole(base, path), "{base} + {path}");
        }
    }

    /// The Host header made once is hyper's: the port only when it is not the scheme's own.
    #[test]
    fn the_host_header_names_the_port_unless_it_is_the_schemes() {
        for (base, host) in [
            ("https://cluster1", "cluster1"),
            ("https://cluster1:443", "cluster1"),
            ("http://127.0.0.1:80/", "127.0.0.1"),
            ("http://127.0.0.1:18080", "127.0.0.1:18080"),
            ("https://[::1]:8443", "[::1]:8443"),
            ("https://C1.Example.com", "c1.example.com"),
        ] {
            let url = reqwest::Url::parse(base).unwrap();
            assert_eq!(host_of(&url).unwrap(), host, "{base}");
        }
    }

    proptest! {
        /// Joined to the base parsed once, every path gives the URL the whole text parsed gives.
        #[test]
        fn a_path_joined_to_the_parsed_base_is_the_url_of_the_whole_text(
            base in prop::sample::select(vec![
                "https://cluster1", "https://cluster1/", "http://127.0.0.1:18080",
                "https://c1.example.com:8443//", "https://xn--bcher-kva.example",
            ]),
            path in "/[ -~\u{a0}-\u{2ff}]{0,40}",
        ) {
            prop_assert_eq!(joined(base, &path), whole(base, &path));
        }
    }
}

#[cfg(test)]
mod heavy_tests {
    use super::heavy;

    /// Heavy work gives its result on every runtime: on a multi-thread one it hands the worker's
    /// other tasks over meanwhile (they go on: the spawned task ends while the work waits for
    /// it); on a current-thread one (`restore`, `spec`) and outside a runtime it simply runs,
    /// where `block_in_place` would panic.
    #[test]
    fn heavy_work_runs_on_every_runtime() {
        assert_eq!(heavy(|| 1 + 1), 2);
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(current.block_on(async { heavy(|| 3) }), 3);
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let other_ran = multi.block_on(async {
            let (tx, rx) = std::sync::mpsc::channel();
            let h = tokio::spawn(async move {
                heavy(|| {
                    // Waits for a task that can only run on the runtime's one worker.
                    rx.recv_timeout(std::time::Duration::from_secs(10)).is_ok()
                })
            });
            tokio::spawn(async move { tx.send(()).unwrap() });
            h.await.unwrap()
        });
        assert!(
            other_ran,
            "the runtime's other task ran during the heavy work"
        );
    }
}

#[cfg(test)]
mod query_tests {
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
