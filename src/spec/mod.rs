//! The contract as data. `specs/` holds JSON Schemas (draft 2020-12) for every ONTAP definition
//! and a catalog of endpoints; this module loads them once, checks them (every problem named by
//! file and JSON pointer), compiles every validator once, and answers the catalog queries the
//! mock, the generators and the checks ask.
//!
//! By concern: [`load`] reads the files (built in, a directory, a shipped release, a swagger
//! file) and builds the [`Spec`]; [`validation`] checks each file (schemas, parameters, shared
//! rules, catalog entries) before anything is built from it; [`flatten`] turns a resource
//! schema into its dotted leaf fields ([`resource::Resource`]); [`catalog`] answers the
//! questions asked of a loaded contract (which endpoint serves a path, its collection, its
//! rules) and validates instances. Each of them depends only on this file and [`model`];
//! `load` on the other three.

mod catalog;
pub mod diff;
mod flatten;
pub mod import;
pub mod lint;
mod load;
pub mod model;
pub mod openapi;
pub mod resource;
pub mod seeds;
pub mod show;
mod validation;
pub mod version;

pub use catalog::{Endpoint, Violation, decode_segment, encode_segment, path_shape};
pub use model::*;
use resource::Resource;
use serde_json::Value;
use std::collections::BTreeMap;
pub use version::{OntapVersion, VersionError};

include!(concat!(env!("OUT_DIR"), "/embedded_specs.rs"));

/// The files of `specs/` compiled into the binary, as (path relative to `specs/`, text) pairs:
/// what [`Spec::builtin`] loads, and what the load benchmark times.
pub fn embedded_files() -> Vec<(String, String)> {
    EMBEDDED
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

/// The `$id` prefix of every schema; `$ref`s are relative to it (`"$ref": "owner.json"`).
pub const SCHEMA_BASE: &str = "https://ontap-conform.dev/specs/schemas/";
const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Why `--contract` could not give a contract.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error(
        "--contract {name}: no such contract; expected `specs` (the hand-written families), a shipped release ({names}), a directory written by `spec import`, or a swagger.yaml file",
        names = import::releases::names()
    )]
    Unknown { name: String },
    #[error("{path}: {err}")]
    Read {
        path: String,
        #[source]
        err: std::io::Error,
    },
    #[error("{path}: {err}")]
    Import {
        path: String,
        #[source]
        err: import::ImportError,
    },
    #[error("invalid contract: {0}")]
    Spec(#[from] SpecError),
}

/// A defect in `specs/`: the file, where in it (a JSON pointer) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: at {}: {expected}", if .pointer.is_empty() { "the root" } else { .pointer.as_str() })]
pub struct SpecError {
    pub file: String,
    pub pointer: String,
    pub expected: String,
}

impl SpecError {
    pub(crate) fn new(file: &str, pointer: impl Into<String>, expected: impl Into<String>) -> Self {
        SpecError {
            file: file.to_string(),
            pointer: pointer.into(),
            expected: expected.into(),
        }
    }
}

/// One schema file.
#[derive(Debug, Clone)]
pub struct SchemaDoc {
    pub name: String,
    pub file: String,
    pub value: Value,
}

/// The whole contract: schemas, parameters, conventions and the endpoint catalog, with every
/// validator compiled.
pub struct Spec {
    /// Where it came from: `built-in` or a directory.
    pub source: String,
    pub schemas: BTreeMap<String, SchemaDoc>,
    pub params: BTreeMap<String, QueryParamDef>,
    pub conventions: Vec<ConventionRule>,
    pub families: Vec<FamilyFile>,
    pub endpoints: Vec<Endpoint>,
    pub resources: BTreeMap<String, Resource>,
    validators: BTreeMap<String, jsonschema::Validator>,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec")
            .field("source", &self.source)
            .field("schemas", &self.schemas.len())
            .field("endpoints", &self.endpoints.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
