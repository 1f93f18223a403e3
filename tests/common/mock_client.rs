//! The reference mock for the tests that speak HTTP to it directly: in-process, its axum router
//! reached with `tower::ServiceExt::oneshot` ([`App`]: no socket, no TLS, for what the mock
//! answers), or on a loopback port with a reqwest client that reaches it ([`Ctx`]: for how it is
//! served); the ids and paths of its built-in data set; and an answer read whole ([`Resp`]).
//! Each test file adds its own request helpers to `App` or `Ctx`.

use ontap_conform::mock::{self, MockConfig, RunningMock, Tls};
use serde_json::Value;

/// The cluster's UUID in the built-in data set.
pub const CLUSTER: &str = "2581e5aa-9fe3-11e8-b309-005056bbef18";
/// The UUIDs of `svm1`, `svm2` and `svm3` in the built-in data set.
pub const SVM1: &str = "7b1b3715-9ffa-11e8-a5dd-005056bbef18";
pub const SVM2: &str = "f7e41c99-9ffa-11e8-a5dd-005056bbef18";
pub const SVM3: &str = "8ddee11e-a58c-11e8-85e0-005056bbef18";
/// The collection paths of the families the tests exercise.
pub const MSGS: &str = "/api/security/login/messages";
pub const DUO: &str = "/api/security/authentication/duo/profiles";
pub const TOTP: &str = "/api/security/login/totps";
pub const ACCOUNTS: &str = "/api/security/accounts";

/// A running mock and a client for it (the mock stops when this is dropped).
pub struct Ctx {
    pub mock: RunningMock,
    pub client: reqwest::Client,
}

/// An answer read whole: status, headers, the body as JSON (`Null` when empty) and the body's
/// length in bytes.
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub len: usize,
}

/// Starts the mock with `cfg` on a free loopback port, over `tls` (`Tls::Plain` or
/// `Tls::SelfSigned`); with a self-signed certificate the client trusts the mock's CA and
/// nothing else.
pub async fn start_with(cfg: MockConfig, tls: Tls) -> Ctx {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let self_signed = matches!(tls, Tls::SelfSigned);
    let mock = mock::spawn(cfg, "127.0.0.1:0".parse().unwrap(), tls)
        .await
        .expect("mock starts");
    let client = if self_signed {
        let ca = mock.ca_pem.clone().expect("self-signed PEM");
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
            .build()
            .unwrap()
    } else {
        reqwest::Client::new()
    };
    Ctx { mock, client }
}

impl Ctx {
    /// A request for `method` on `path` (which starts with `/`) of the mock, without credentials.
    pub fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.client
            .request(m, format!("{}{}", self.mock.base_url, path))
    }
}

/// The mock in-process: its router, answering requests without a socket.
#[derive(Clone)]
pub struct App {
    router: axum::Router,
}

/// The mock with `cfg`, in-process.
pub fn app(cfg: MockConfig) -> App {
    App {
        router: mock::app(cfg).expect("the mock starts"),
    }
}

impl App {
    /// `method` on `path` (which starts with `/`; what a URL cannot hold is percent-encoded, as
    /// a client does) with these headers and this body (and its `Content-Length`, as a client
    /// sends it), answered whole; panics as [`Resp::of`] does.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        use tower::ServiceExt;
        let url = url::Url::parse(&format!("http://mock{path}")).expect("a path");
        let mut req = http::Request::builder()
            .method(method)
            .uri(&url[url::Position::BeforePath..]);
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let body = match body {
            Some(b) => {
                req = req.header(http::header::CONTENT_LENGTH, b.len());
                axum::body::Body::from(b)
            }
            None => axum::body::Body::empty(),
        };
        let answer = self
            .router
            .clone()
            .oneshot(req.body(body).expect("a request"))
            .await
            .expect("the mock answers");
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        let bytes = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .unwrap();
        Resp::read(status, headers, &bytes, method, path)
    }
}

impl Resp {
    /// Sends `rb` (`method` and `path` only name it in panics) and reads the answer whole;
    /// panics when the mock does not answer or a non-empty body is not JSON.
    pub async fn of(rb: reqwest::RequestBuilder, method: &str, path: &str) -> Resp {
        let r = rb.send().await.expect("the mock answers");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap();
        Resp::read(status, headers, &bytes, method, path)
    }

    /// An answer from its parts; panics when a non-empty body is not JSON.
    fn read(
        status: u16,
        headers: reqwest::header::HeaderMap,
        bytes: &[u8],
        method: &str,
        path: &str,
    ) -> Resp {
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes).unwrap_or_else(|e| {
                panic!(
                    "{method} {path}: body is not JSON ({e}): {}",
                    String::from_utf8_lossy(bytes)
                )
            })
        };
        Resp {
            status,
            headers,
            body,
            len: bytes.len(),
        }
    }

    /// Panics when an error answer (400 and up) lacks ONTAP's `error` envelope.
    pub fn assert_envelope(&self, method: &str, path: &str) {
        if self.status >= 400 {
            assert!(
                self.body.get("error").is_some(),
                "{method} {path}: {} without envelope: {}",
                self.status,
                self.body
            );
        }
    }
}
