//! The reference mock on a loopback port and a reqwest client that reaches it, for the tests
//! that speak HTTP to it directly: the ids and paths of its built-in data set, the context a
//! test holds, and an answer read whole. Each test file adds its own request helpers to `Ctx`.

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

impl Resp {
    /// Sends `rb` (`method` and `path` only name it in panics) and reads the answer whole;
    /// panics when the mock does not answer or a non-empty body is not JSON.
    pub async fn of(rb: reqwest::RequestBuilder, method: &str, path: &str) -> Resp {
        let r = rb.send().await.expect("the mock answers");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{method} {path}: body is not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
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
