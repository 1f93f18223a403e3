//! ONTAP's error envelope, `{"error": {"message", "code", "target"}}`, and the one place every
//! error answer of the mock is made, so that no path can answer a bare status or a 500 page. The
//! codes the mock picks where ONTAP's documents are silent are listed in the README.

use super::Fault;
use crate::spec::Endpoint;
use crate::spec::model::{Condition, ErrorCodeDef, Method};
use axum::http::StatusCode;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// ONTAP's generic code for "entry doesn't exist".
pub const CODE_NOT_FOUND: &str = "4";
/// Malformed requests (bad JSON, a body that is not an object, bad encoding, missing fields).
pub const CODE_BAD_REQUEST: &str = "2";
/// Method not served on a path.
pub const CODE_METHOD: &str = "3";
/// Authentication and authorisation.
pub const CODE_PERMISSION: &str = "6";
/// Duplicate entry.
pub const CODE_DUPLICATE: &str = "1";
/// Unexpected argument: an unknown query parameter or body field.
pub const CODE_UNEXPECTED: &str = "262179";
/// A field that cannot be set in this operation.
pub const CODE_CANNOT_SET: &str = "262196";
/// A value of the wrong type, outside its enum, range or length.
pub const CODE_INVALID_VALUE: &str = "262197";

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

    /// Renders the envelope, bending it as the faults ask.
    pub fn render(&self, faults: &BTreeSet<Fault>) -> (StatusCode, Value) {
        let mut status = self.status;
        let mut code = self.code.clone();
        if self.bad_input && faults.contains(&Fault::BadInput500) {
            status = StatusCode::INTERNAL_SERVER_ERROR;
        }
        if status == StatusCode::NOT_FOUND
            && code == CODE_NOT_FOUND
            && faults.contains(&Fault::NotFoundWrongCode)
        {
            code = "2".to_string();
        }
        let mut inner = Map::new();
        if !faults.contains(&Fault::ErrorMessageMissing) {
            inner.insert("message".into(), Value::String(self.message.clone()));
        }
        let code_value = if faults.contains(&Fault::ErrorCodeNumber) {
            code.parse::<u64>()
                .map(Value::from)
                .unwrap_or(Value::String(code))
        } else {
            Value::String(code)
        };
        inner.insert("code".into(), code_value);
        if let Some(t) = &self.target {
            inner.insert("target".into(), Value::String(t.clone()));
        }
        let mut outer = Map::new();
        outer.insert("error".into(), Value::Object(inner));
        (status, Value::Object(outer))
    }
}

/// The status a documented error answers with: the one that fits the condition if the catalog
/// allows it, else the first listed.
fn preferred_status(def: &ErrorCodeDef, cond: Condition, fallback: StatusCode) -> StatusCode {
    let want = match cond {
        Condition::NotFound => 404,
        Condition::Duplicate => 409,
        Condition::RoleDenied => 403,
        Condition::InvalidValue => 400,
    };
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
    fn envelope_shapes_and_faults() {
        let e = ApiError::cannot_set("scope");
        let (s, v) = e.render(&BTreeSet::new());
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(v["error"]["code"], "262196");
        assert_eq!(v["error"]["target"], "scope");
        assert_eq!(
            v["error"]["message"],
            "Field \"scope\" cannot be set in this operation."
        );
        let (_, v) = e.render(&[Fault::ErrorCodeNumber].into());
        assert_eq!(v["error"]["code"], 262196);
        let (_, v) = e.render(&[Fault::ErrorMessageMissing].into());
        assert!(v["error"].get("message").is_none());
        let (s, _) = ApiError::bad_input("x").render(&[Fault::BadInput500].into());
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
        let nf = ApiError::new(StatusCode::NOT_FOUND, CODE_NOT_FOUND, "entry doesn't exist");
        let (_, v) = nf.render(&[Fault::NotFoundWrongCode].into());
        assert_eq!(v["error"]["code"], "2");
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
