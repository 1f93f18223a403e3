//! The shapes of the files in `specs/`, as serde reads them. Unknown keys are errors, so a typo in
//! a catalog file is reported with its JSON pointer instead of being silently ignored.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// How a rule is known, which sets how hard the harness may judge it (ONTAP-BEHAVIOR.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Evidence {
    /// Stated in NetApp's REST API reference pages (the seeds).
    Doc,
    /// Stated by NetApp's generated client or public REST conventions.
    Lib,
    /// Seen on real clusters, never written down by NetApp.
    Obs,
}

impl Evidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Doc => "doc",
            Evidence::Lib => "lib",
            Evidence::Obs => "obs",
        }
    }
    pub fn parse(s: &str) -> Option<Evidence> {
        match s {
            "doc" => Some(Evidence::Doc),
            "lib" => Some(Evidence::Lib),
            "obs" => Some(Evidence::Obs),
            _ => None,
        }
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The HTTP methods a catalog entry may list. Read from a string (not serde's enum form) so that
/// an error inside `methods` names the method in its JSON pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Method {
    GET,
    POST,
    PATCH,
    DELETE,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::GET, Method::POST, Method::PATCH, Method::DELETE];
    pub fn as_str(self) -> &'static str {
        match self {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
        }
    }
    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown method `{s}`, expected one of GET, POST, PATCH, DELETE"
                ))
            })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A collection path lists records; an instance path names one record by its keys; a singleton
/// path (`/api/cluster`, `/api/security`) is the one record of its family, without keys, read with
/// GET and changed with PATCH. A collection path may carry its parents' keys
/// (`/api/storage/volumes/{volume.uuid}/snapshots`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Collection,
    Instance,
    Singleton,
}

/// The query parameters that only make sense on a list of records (refused on a singleton).
pub const COLLECTION_ONLY_PARAMS: &[&str] =
    &["filters", "max_records", "return_records", "order_by"];

/// One `specs/endpoints/<family>.json` file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyFile {
    pub family: String,
    /// The schema (under `specs/schemas/`) of one record of this family.
    pub resource: String,
    pub description: String,
    /// Where an imported family came from (`netapp-ontap 9.19.1.0`, `swagger 9.16.1`); absent for
    /// the hand-written families. A run changes no record of an imported family by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_from: Option<String>,
    pub endpoints: Vec<EndpointDef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointDef {
    pub path: String,
    pub kind: Kind,
    pub introduced_in: String,
    pub evidence: Evidence,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path_parameters: Vec<PathParam>,
    pub methods: BTreeMap<Method, MethodDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleDef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathParam {
    /// The dotted field the path segment carries (`owner.uuid`).
    pub name: String,
    pub description: String,
    pub schema: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodDef {
    pub evidence: Evidence,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli: Option<String>,
    /// Names from `specs/parameters.json`, or `filters` for every gettable field.
    #[serde(default)]
    pub query: Vec<String>,
    /// The schema of the request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// Dotted fields a POST body must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    /// Creates or deletes records: only with `--allow-destructive` or against the built-in mock.
    #[serde(default)]
    pub destructive: bool,
    /// POST only: where the owners that may get a new record are listed, and which of their fields
    /// become the new record's keys. `create-delete` creates a record for an owner that has none
    /// and deletes only that one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_for: Option<CreateFor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_error: Option<RemovedError>,
    /// Status code (or `default`) to schema name.
    pub responses: BTreeMap<String, String>,
    #[serde(default)]
    pub errors: Vec<ErrorCodeDef>,
}

/// Owners a POST can create a record for: a list endpoint of the target (e.g. `/api/svm/svms`) and,
/// for each field of the new record, the field of a listed owner it takes its value from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateFor {
    pub from: String,
    /// New record field -> field of the listed owner (`"owner.uuid": "uuid"`).
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemovedError {
    pub code: String,
    pub message: String,
}

/// What kind of situation a documented error code answers; the mock and the checks both read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    NotFound,
    /// The owner exists but has no record of this family ("TOTP is not configured for the user").
    Unconfigured,
    Duplicate,
    RoleDenied,
    InvalidValue,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorCodeDef {
    pub code: String,
    pub status: Vec<u16>,
    pub evidence: Evidence,
    pub when: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub id: String,
    pub evidence: Evidence,
    pub text: String,
}

/// `specs/conventions.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConventionsFile {
    #[serde(rename = "$comment", default)]
    pub comment: String,
    pub rules: Vec<ConventionRule>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConventionRule {
    pub id: String,
    pub evidence: Evidence,
    pub applies: AppliesTo,
    /// The answers that keep the rule, any one of them (empty: the rule is not about one answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<Answer>,
    pub text: String,
}

/// One answer a rule accepts: each part that is given must match, the others may be anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `error.code` of the envelope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `error.target` of the envelope, when the answer names one (a target may leave it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl Answer {
    pub fn matches(&self, status: u16, code: Option<&str>, target: Option<&str>) -> bool {
        self.status.is_none_or(|s| s == status)
            && self.code.as_deref().is_none_or(|c| Some(c) == code)
            // A target may be left out (ONTAP-BEHAVIOR.md §3b); when there is one, it must match.
            && self.target.as_deref().is_none_or(|t| target.is_none_or(|g| g == t))
    }
}

impl std::fmt::Display for Answer {
    /// `400 with error code 262197 and target fields`, `error code 4`, `404`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(s) = self.status {
            parts.push(s.to_string());
        }
        if let Some(c) = &self.code {
            parts.push(format!("error code {c}"));
        }
        if let Some(t) = &self.target {
            parts.push(format!("target {t}"));
        }
        match parts.len() {
            0 => f.write_str("any answer"),
            1 => f.write_str(&parts[0]),
            _ if self.status.is_some() => {
                write!(f, "{} with {}", parts[0], parts[1..].join(" and "))
            }
            _ => f.write_str(&parts.join(" and ")),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliesTo {
    /// `collection`, `instance` or `any`.
    pub kind: String,
    /// Every one of these methods must be in the endpoint for the rule to apply.
    pub methods: Vec<Method>,
}

/// One entry of `specs/parameters.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryParamDef {
    pub description: String,
    pub schema: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    pub evidence: Evidence,
}
