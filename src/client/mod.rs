//! The target, as the harness sees it: a real HTTP client (hyper over rustls, Basic auth,
//! timeouts, bounded concurrency) that turns each request into an [`Exchange`], and renders any
//! request as a curl command with every secret redacted.

use serde::Serialize;
use serde_json::Value;
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
}

impl Request {
    pub fn new(method: &str, path: impl Into<String>) -> Self {
        Request {
            method: method.to_string(),
            path: path.into(),
            body: None,
            auth: Auth::Admin,
            accept: None,
        }
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
/// of bodies seen once kept at most (then forgotten all at once).
const CACHE_ENTRIES: usize = 4096;
const CACHE_BODY_MAX: usize = 64 * 1024;
const CACHE_BYTES_MAX: usize = 8 * 1024 * 1024;
const CACHE_SEEN_MAX: usize = 1 << 16;

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
        (String::from_utf8_lossy(bytes).into(), json)
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

/// Why a request got no HTTP answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// Credentials; the password never leaves this struct except into the Authorization header.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    password: String,
}

impl Credentials {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }
    /// What no output may show: the password and the Basic token made of it.
    pub fn secrets(&self) -> [String; 2] {
        use base64::Engine;
        [
            self.password.clone(),
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", self.user, self.password)),
        ]
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.user)
    }
}

/// How to trust the target's certificate.
#[derive(Debug, Clone)]
pub enum Trust {
    /// The system's roots (the default).
    System,
    /// Only this PEM CA (`--ca-cert`, or the built-in mock's own certificate).
    CaPem(String),
    /// No verification (`--insecure`).
    Insecure,
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub admin: Credentials,
    pub svm: Option<Credentials>,
    pub trust: Trust,
    pub timeout: Duration,
    pub concurrency: usize,
}

type Transport = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// The harness's only way to talk to a target: hyper's pooled HTTP/1 client over rustls, with the
/// base URL parsed once and the Authorization headers built once.
#[derive(Clone)]
pub struct Client {
    http: Transport,
    cfg: Arc<ClientConfig>,
    auth: Arc<[http::HeaderValue; 3]>,
    sent: Arc<AtomicU64>,
    permits: Arc<Semaphore>,
    bodies: Arc<BodyCache>,
}

/// Installs the one crypto provider of the process (ring) for rustls.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Accepts any certificate: `--insecure`, like curl -k.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config(trust: &Trust) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    Ok(match trust {
        Trust::System => {
            use rustls_platform_verifier::BuilderVerifierExt;
            builder
                .with_platform_verifier()
                .map_err(|e| format!("the system's certificates: {e}"))?
                .with_no_client_auth()
        }
        Trust::CaPem(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| format!("the CA certificate is not PEM: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("the CA certificate is not usable: {e}"))?;
            }
            if roots.is_empty() {
                return Err("the CA certificate file holds no certificate".into());
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth(),
    })
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
    pub fn new(cfg: ClientConfig) -> Result<Client, String> {
        install_crypto();
        let tls = tls_config(&cfg.trust)?;
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(cfg.timeout.min(Duration::from_secs(10))));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let transport =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_max_idle_per_host(cfg.concurrency.max(1))
                .build(connector);
        let svm = cfg.svm.as_ref().unwrap_or(&cfg.admin);
        let auth = Arc::new([
            basic(&cfg.admin.user, &cfg.admin.password),
            basic(&svm.user, &svm.password),
            // Nothing derived from the real password: its Basic token would carry it.
            basic(&cfg.admin.user, wrong_password(&cfg.admin.password)),
        ]);
        let permits = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
        Ok(Client {
            http: transport,
            cfg: Arc::new(cfg),
            auth,
            sent: Arc::new(AtomicU64::new(0)),
            permits,
            bodies: Arc::new(BodyCache::new()),
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
    /// Requests sent so far.
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Sends one request (waiting for a concurrency slot) and returns the exchange.
    pub async fn send(&self, req: Request) -> Result<Exchange, TransportError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| TransportError("client closed".into()))?;
        let method = http::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| TransportError(format!("bad method {}", req.method)))?;
        let uri = format!("{}{}", self.cfg.base_url.trim_end_matches('/'), req.path);
        let mut b = http::Request::builder()
            .method(method)
            .uri(&uri)
            .header(
                http::header::ACCEPT,
                req.accept.as_deref().unwrap_or("application/hal+json"),
            )
            .header(
                http::header::USER_AGENT,
                concat!("ontap-conform/", env!("CARGO_PKG_VERSION")),
            );
        match req.auth {
            Auth::Admin => b = b.header(http::header::AUTHORIZATION, self.auth[0].clone()),
            Auth::Svm => b = b.header(http::header::AUTHORIZATION, self.auth[1].clone()),
            Auth::Wrong => b = b.header(http::header::AUTHORIZATION, self.auth[2].clone()),
            Auth::None => {}
        }
        let body = match &req.body {
            Some(Body::Json(v)) => {
                b = b.header(http::header::CONTENT_TYPE, "application/json");
                bytes::Bytes::from(serde_json::to_vec(v).unwrap_or_default())
            }
            Some(Body::Raw(s)) => {
                b = b.header(http::header::CONTENT_TYPE, "application/json");
                bytes::Bytes::from(s.clone().into_bytes())
            }
            None => bytes::Bytes::new(),
        };
        let request = b
            .body(http_body_util::Full::new(body))
            .map_err(|e| TransportError(format!("bad request {uri}: {e}")))?;
        let start = Instant::now();
        self.sent.fetch_add(1, Ordering::Relaxed);
        let timeout = self.cfg.timeout;
        let resp = tokio::time::timeout(timeout, self.http.request(request))
            .await
            .map_err(|_| TransportError("timed out".into()))?
            .map_err(|e| TransportError(describe(&e)))?;
        let status = resp.status().as_u16();
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        let location = header("location");
        let content_type = header("content-type");
        let collected =
            tokio::time::timeout(timeout, http_body_util::BodyExt::collect(resp.into_body()))
                .await
                .map_err(|_| TransportError("timed out reading the answer".into()))?
                .map_err(|e| TransportError(format!("reading the answer: {e}")))?;
        let (text, json, body_id) = self.bodies.get(collected.to_bytes());
        Ok(Exchange {
            request: req,
            response: Response {
                status,
                location,
                content_type,
                text,
                json,
                body_id,
                millis: start.elapsed().as_millis() as u64,
            },
        })
    }

    /// The curl command that reproduces a request; the password is read from an environment
    /// variable, never written.
    pub fn curl(&self, req: &Request) -> String {
        curl(
            &self.cfg.base_url,
            &self.cfg.admin.user,
            self.cfg.svm.as_ref().map(|c| c.user.as_str()),
            req,
        )
    }
}

fn describe(e: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error as _;
    let mut msg = if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src = e.source();
    let mut last = String::new();
    while let Some(s) = src {
        last = s.to_string();
        src = s.source();
    }
    if !last.is_empty() {
        msg.push_str(": ");
        msg.push_str(&last);
    }
    msg
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
        Auth::Admin => {
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
    use serde_json::json;

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
