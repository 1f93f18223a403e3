//! The reference ONTAP mock (interface stub; the implementation lands from the mock branch).
pub mod cli;

use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    WrongType,
}
impl Fault {
    pub const ALL: &'static [Fault] = &[Fault::WrongType];
    pub fn name(self) -> &'static str {
        "wrong-type"
    }
    pub fn description(self) -> &'static str {
        ""
    }
}
impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Fault::ALL
            .iter()
            .copied()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown fault {s}"))
    }
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Admin,
    Vsadmin { svm: String },
}
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub password: String,
    pub role: Role,
}
#[derive(Debug, Clone)]
pub struct MockConfig {
    pub spec: &'static crate::spec::Spec,
    pub version: crate::spec::OntapVersion,
    pub users: Vec<User>,
    pub faults: BTreeSet<Fault>,
    pub fixtures: Option<serde_json::Value>,
    pub state_file: Option<std::path::PathBuf>,
    pub max_body: usize,
}
impl MockConfig {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        MockConfig {
            spec: crate::spec::Spec::builtin(),
            version: crate::spec::OntapVersion::new(9, 14, 1),
            users: vec![],
            faults: BTreeSet::new(),
            fixtures: None,
            state_file: None,
            max_body: 1 << 20,
        }
    }
}
pub enum Tls {
    SelfSigned,
    Pem { cert: String, key: String },
    Plain,
}
pub struct RunningMock {
    pub addr: SocketAddr,
    pub base_url: String,
    pub ca_pem: Option<String>,
}
impl RunningMock {
    pub async fn shutdown(self) {}
}
pub async fn spawn(_config: MockConfig, _listen: SocketAddr, _tls: Tls) -> Result<RunningMock> {
    Err(Error::Internal("stub".into()))
}
