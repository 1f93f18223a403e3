//! ONTAP's error envelope, `{"error": {"message", "code", "target"}}`, and the one place every
//! error answer of the mock is made, so that no path can answer a bare status or a 500 page. The
//! codes the mock picks where ONTAP's documents are silent are listed in docs/mock.md. The envelope
//! made here always keeps the contract; the faults that bend it live in [`super::rewrite`].

use crate::spec::Endpoint;
use crate::spec::model::{Condition, ErrorCodeDef, Method};
use axum::http::StatusCode;
use serde_json::{Map, Value};

// ONTAP's numbers, as the mock answers them. They are copied here ON PURPOSE, not imported from
// the harness (`src/checks`, `specs/`): the mock is the thing under test, so it must hold its own
// idea of ONTAP's codes; were it to share the checks' constants, a wrong number would be wrong on
// both sides and no test would notice. Every error code the mock answers with is one of these
// (or a code the catalog documents for an endpoint, read from `specs/` at run time).

/// ONTAP's generic code for "entry doesn't exist" (404).
pub const CODE_NOT_FOUND: &str = "4";
/// Malformed requests (bad JSON, a body that is not an object, bad encoding, missing fields).
pub const CODE_BAD_REQUEST: &str = "2";
/// Method not served on a path (405).
pub const CODE_METHOD: &str = "3";
/// Authentication and authorisation (401, 403).
pub const CODE_PERMISSION: &str = "6";
/// Duplicate entry (409).
pub const CODE_DUPLICATE: &str = "1";
/// Unexpected argument: an unknown query parameter or body field (400).
pub const CODE_UNEXPECTED: &str = "262179";
/// A field that cannot be set in this operation (400).
pub const CODE_CANNOT_SET: &str = "262196";
/// A value of the wrong type, outside its enum, range or length (400).
pub const CODE_INVALID_VALUE: &str = "262197";
/// The mock could not save a change (500; the mock's choice: ONTAP documents no code for it).
pub const CODE_INTERNAL: &str = "5";

/// The status ONTAP answers for each condition a catalog entry can document.
fn condition_status(cond: Condition) -> StatusCode {
    match cond {
        Condition::NotFound | Condition::Unconfigured => StatusCode::NOT_FOUND,
        Condition::Duplicate => StatusCode::CONFLICT,
        Condition::RoleDenied => StatusCode::FORBIDDEN,
        Condition::InvalidValue => StatusCode::BAD_REQUEST,
    }
}

/// An error answer, before rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub target: Option<String>,
    /// Malformed input (the `bad-input-500` fault turns these into 500).
    pub bad_input: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            target: None,
            bad_input: false,
        }
    }

    pub fn target(mut self, t: impl Into<String>) -> Self {
        self.target = Some(t.into());
        self
    }

    /// Malformed body or request line.
    pub fn bad_input(message: impl Into<String>) -> Self {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, CODE_BAD_REQUEST, message);
        e.bad_input = true;
        e
    }

    pub fn unexpected_argument(name: &str) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            CODE_UNEXPECTED,
            format!("Unexpected argument \"{name}\"."),
        )
        .target(name)
    }

    pub fn cannot_set(field: &str) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            CODE_CANNOT_SET,
            format!("Field \"{field}\" cannot be set in this operation."),
        )
        .target(field)
    }

    pub fn invalid_value(target: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, CODE_INVALID_VALUE, message).target(target)
    }

    pub fn api_not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, CODE_NOT_FOUND, "API not found")
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            CODE_PERMISSION,
            "Authentication required: send HTTP Basic credentials of a known user",
        )
    }

    pub fn permission_denied() -> Self {
        ApiError::new(StatusCode::FORBIDDEN, CODE_PERMISSION, "permission denied")
    }

    /// The documented error of `ep` for a condition (on `field`), or the generic one.
    pub fn documented(
        ep: &Endpoint,
        method: Method,
        cond: Condition,
        field: Option<&str>,
        generic: ApiError,
    ) -> Self {
        match ep.documented_error(method, cond, field) {
            None => generic,
            Some(def) => ApiError {
                status: preferred_status(def, cond, generic.status),
                code: def.code.clone(),
                message: quoted(&def.when).unwrap_or(generic.message),
                target: generic.target,
                bad_input: false,
            },
        }
    }

    /// 405 for a method `path` does not list.
    pub fn method_not_allowed(method: &str, path: &str, allowed: &[&str]) -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            CODE_METHOD,
            format!(
                "The method {method} is not allowed on {path}; allowed: {}",
                allowed.join(", ")
            ),
        )
    }

    /// The envelope, as ONTAP writes it: `{"error": {"message", "code", "target"?}}`.
    pub fn envelope(&self) -> Value {
        let mut inner = Map::new();
        inner.insert("message".into(), Value::String(self.message.clone()));
        inner.insert("code".into(), Value::String(self.code.clone()));
        if let Some(t) = &self.target {
            inner.insert("target".into(), Value::String(t.clone()));
        }
        let mut outer = Map::new();
        outer.insert("error".into(), Value::Object(inner));
        Value::Object(outer)
    }
}

/// The status a documented error answers with: the one that fits the condition if the catalog
/// allows it, else the first listed.
fn preferred_status(def: &ErrorCodeDef, cond: Condition, fallback: StatusCode) -> StatusCode {
    let want = condition_status(cond).as_u16();
    let pick = if def.status.contains(&want) {
        Some(want)
    } else {
        def.status.first().copied()
    };
    pick.and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(fallback)
}

/// The first double-quoted phrase of a catalog `when` text: ONTAP's own message.
fn quoted(when: &str) -> Option<String> {
    let start = when.find('"')? + 1;
    let len = when[start..].find('"')?;
    Some(when[start..start + len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shape() {
        let e = ApiError::cannot_set("scope");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let v = e.envelope();
        assert_eq!(v["error"]["code"], "262196");
        assert_eq!(v["error"]["target"], "scope");
        assert_eq!(
            v["error"]["message"],
            "Field \"scope\" cannot be set in this operation."
        );
    }

    #[test]
    fn quoted_phrase() {
        assert_eq!(
            quoted("the user has no TOTP configured (\"TOTP is not configured for the user\")")
                .as_deref(),
            Some("TOTP is not configured for the user")
        );
        assert_eq!(quoted("no quote"), None);
    }
}
