//! The reference ONTAP mock: the harness's default target and a product in itself, for testing
//! Ansible playbooks, Terraform plans and scripts without a cluster. It serves every endpoint of
//! the catalog generically from `specs/` (one handler, one query engine), the discovery endpoints
//! by hand, HTTPS with Basic auth and two roles, fault switches that each break one rule, and
//! variant switches that each show one freedom a conformant ONTAP has.
//!
//! A request goes `handler` (auth, body, routing, reads/writes on the `store` through the `query`
//! engine) -> an `answer` that keeps the contract -> `faults::rewrite` (the faults that only bend
//! an answer) -> the wire. `errors` holds the mock's own copy of ONTAP's error codes.
//!
//! [`app`] builds the axum router (in-process tests); [`spawn`] serves it on a socket (the CLI,
//! integration tests, the engine's embedded target).

mod answer;
pub mod errors;
pub mod faults;
mod handler;
mod lenient;
pub mod query;
pub mod scale;
mod server;
pub mod store;
pub mod synth;
pub mod variants;

pub use faults::Fault;
pub use server::{RunningMock, Tls, spawn};
pub use variants::Variant;

use crate::error::{Error, Result};
use crate::spec::{OntapVersion, Spec};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

/// What a user may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The cluster administrator: sees and changes everything.
    Admin,
    /// An SVM administrator: sees and changes only its SVM's records, never admin-only fields.
    Vsadmin { svm: String },
}

/// One account of HTTP Basic auth.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub password: String,
    pub role: Role,
}

/// The default password of both built-in users.
pub const DEFAULT_PASSWORD: &str = "netapp1!";
/// The default ONTAP version the mock reports.
pub const DEFAULT_VERSION: OntapVersion = OntapVersion::new(9, 14, 1);

/// Everything the mock needs to start.
#[derive(Debug, Clone)]
pub struct MockConfig {
    pub spec: &'static Spec,
    pub version: OntapVersion,
    pub users: Vec<User>,
    pub faults: BTreeSet<Fault>,
    /// The freedoms of a conformant ONTAP it shows (none: the reference behaviour).
    pub variants: BTreeSet<Variant>,
    /// The data set; None = the built-in fixtures, or for a contract they do not fit (an
    /// imported release) records synthesized from the contract (`synth`).
    pub fixtures: Option<serde_json::Value>,
    /// Seed of a synthesized data set (`mock --seed`).
    pub seed: u64,
    /// Records per family of a synthesized data set (`mock --records`).
    pub records: usize,
    /// Load state from this file at start (if it exists) and write it after every change.
    pub state_file: Option<PathBuf>,
    /// The largest request body accepted, in bytes (larger: 413).
    pub max_body: usize,
    /// PEM of a CA: a client certificate it signed logs in as the user its CN names, without
    /// Basic auth (HTTPS only; `mock --client-ca`).
    pub client_ca: Option<String>,
    /// A connection with no byte in either direction for this long is closed (`mock
    /// --idle-timeout`; zero: never).
    pub idle_timeout: std::time::Duration,
    /// Connections open at once at most; beyond, a connection is answered 503 and closed.
    pub max_connections: usize,
    /// Told what goes wrong beside a request (a state file that cannot be written); the mock
    /// prints nothing itself (`ontap-conform mock` prints these on standard error).
    pub warn: fn(&str),
}

/// How long an idle connection stays open by default (`mock --idle-timeout`).
pub const DEFAULT_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// Connections open at once at most, by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

impl Default for MockConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl MockConfig {
    /// Defaults: spec = Spec::builtin(), version 9.14.1, users admin/netapp1! (Admin) and
    /// vsadmin/netapp1! (Vsadmin{svm:"svm1"}), no faults, no variants, built-in fixtures, no state
    /// file, max_body 1 MiB, no client CA, idle connections closed after 60 s, at most 1024
    /// connections open.
    pub fn new() -> Self {
        MockConfig {
            spec: Spec::builtin(),
            version: DEFAULT_VERSION,
            users: vec![
                User {
                    name: "admin".into(),
                    password: DEFAULT_PASSWORD.into(),
                    role: Role::Admin,
                },
                User {
                    name: "vsadmin".into(),
                    password: DEFAULT_PASSWORD.into(),
                    role: Role::Vsadmin { svm: "svm1".into() },
                },
            ],
            faults: BTreeSet::new(),
            variants: BTreeSet::new(),
            fixtures: None,
            seed: 1,
            records: 3,
            state_file: None,
            max_body: 1024 * 1024,
            client_ca: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            warn: |_| {},
        }
    }
}

/// The axum app (for in-process tests with tower::ServiceExt::oneshot).
pub fn app(config: MockConfig) -> Result<axum::Router> {
    let mock = handler::Mock::new(config)?;
    Ok(handler::router(Arc::new(mock)))
}

/// The data set a mock without `--fixtures` serves: the built-in fixtures where the contract
/// has their families, else records synthesized from the contract.
pub fn default_data_set(
    spec: &Spec,
    seed: u64,
    records: usize,
    version: OntapVersion,
) -> serde_json::Value {
    let builtin: serde_json::Value =
        serde_json::from_str(store::BUILTIN_FIXTURES).expect("the built-in fixtures are JSON");
    if store::Store::from_value(spec, &builtin).is_ok() {
        builtin
    } else {
        synth::data_set(spec, seed, records, version)
    }
}

/// Reads a data set (fixtures or state) and checks it against the contract; the error names
/// `source` (a file) and the JSON pointer of the problem.
pub fn load_data_set(spec: &Spec, source: &str, text: &str) -> Result<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Error::Usage(format!(
            "{source}: not valid JSON (line {}, column {}: {e}); expected a mock data set (see src/mock/fixtures.json)",
            e.line(),
            e.column()
        ))
    })?;
    store::Store::from_value(spec, &v).map_err(|e| Error::Usage(format!("{source}: {e}")))?;
    Ok(v)
}
