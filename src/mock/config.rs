//! What a mock is started with ([`MockConfig`]: the contract, the version it plays, its users,
//! faults and variants, its data set) and the data sets themselves: the built-in one, one
//! synthesized from the contract, or one read from a file and checked against the contract.

use super::faults::Fault;
use super::store::{BUILTIN_FIXTURES, FixtureError, Store};
use super::synth;
use super::variants::Variant;
use crate::error::{Error, Result};
use crate::spec::{OntapVersion, Spec};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

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
    /// Told what goes wrong beside a request (a state file that cannot be written); the mock
    /// prints nothing itself (`ontap-conform mock` prints these on standard error).
    pub warn: fn(&str),
    /// A connection with no byte in either direction for this long is closed (`mock
    /// --idle-timeout`; zero: never).
    pub idle_timeout: std::time::Duration,
    /// Connections open at once at most; beyond, a connection is answered 503 and closed.
    pub max_connections: usize,
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
            warn: |_| {},
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The data set a mock without `--fixtures` serves: the built-in fixtures where the contract
/// has their families, else records synthesized from the contract.
pub fn default_data_set(spec: &Spec, seed: u64, records: usize, version: OntapVersion) -> Value {
    let builtin: Value =
        serde_json::from_str(BUILTIN_FIXTURES).expect("the built-in fixtures are JSON");
    if Store::from_value(spec, &builtin).is_ok() {
        builtin
    } else {
        synth::data_set(spec, seed, records, version)
    }
}

/// Why a data set (fixtures or state) was refused: it names `source` (a file) and, for a data
/// set that does not fit the contract, the JSON pointer of the problem.
#[derive(Debug, thiserror::Error)]
pub enum DataSetError {
    #[error(
        "{source}: not valid JSON (line {}, column {}: {err}); expected a mock data set (see src/mock/fixtures.json)",
        err.line(),
        err.column()
    )]
    NotJson {
        source: String,
        #[source]
        err: serde_json::Error,
    },
    #[error("{source}: {err}")]
    Invalid {
        source: String,
        #[source]
        err: FixtureError,
    },
}

/// Reads a data set (fixtures or state) and checks it against the contract.
pub fn read_data_set(
    spec: &Spec,
    source: &str,
    text: &str,
) -> std::result::Result<Value, DataSetError> {
    let v: Value = serde_json::from_str(text).map_err(|err| DataSetError::NotJson {
        source: source.to_string(),
        err,
    })?;
    Store::from_value(spec, &v).map_err(|err| DataSetError::Invalid {
        source: source.to_string(),
        err,
    })?;
    Ok(v)
}

/// [`read_data_set`] for a command: its error is a usage error (exit 2).
pub fn load_data_set(spec: &Spec, source: &str, text: &str) -> Result<Value> {
    read_data_set(spec, source, text).map_err(|e| Error::Usage(e.to_string()))
}
