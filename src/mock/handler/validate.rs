//! Judging a write body against the contract before anything is stored: every leaf of a PATCH or
//! POST body must be a known field that the operation may set (262179 unknown, 262196 read-only,
//! PATCH-forbidden or not postable), with a value of its type, enum, range and length (262197),
//! and admin-only fields only from the cluster administrator. The whole body is checked first
//! (ONTAP changes nothing when it rejects a PATCH). The faults that make the mock accept invalid
//! input live here, where the rule they break is.

use super::Mock;
use crate::mock::config::Role;
use crate::mock::errors::{ApiError, CODE_PERMISSION};
use crate::mock::faults::Fault;
use crate::mock::query::ServedResource;
use crate::mock::variants::Variant;
use crate::spec::Endpoint;
use crate::spec::model::{Condition, Method};
use crate::spec::resource::{Field, FieldType, Resource, get_path, leaf_paths};
use axum::http::StatusCode;
use serde_json::{Map, Value};

/// Whether the mock appends ONTAP's trailing LF to a `banner`/`message` (a field flagged
/// `x-ontap-trailing-lf`) that has none. ONTAP does (ONTAP-BEHAVIOR.md §2, lib: NetApp's Ansible
/// module strips the LF "REST adds"), so the reference mock does by default; the `no-trailing-lf`
/// variant shows a target that does not (as conformant), `trailing-lf` says the default aloud.
pub(crate) const APPEND_TRAILING_LF: bool = true;

/// A write being checked: PATCH or POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriteOp {
    Patch,
    Post,
}

impl WriteOp {
    fn method(self) -> Method {
        match self {
            WriteOp::Patch => Method::PATCH,
            WriteOp::Post => Method::POST,
        }
    }
}

/// What a body is checked for: the write, on which endpoint, by whom, against which record.
#[derive(Clone, Copy)]
pub(super) struct Write<'a> {
    pub op: WriteOp,
    pub ep: &'a Endpoint,
    pub role: &'a Role,
    /// The record a PATCH changes (None for a POST, or a collection PATCH that matched nothing).
    pub current: Option<&'a Value>,
}

/// The outcome of checking a body: the valid assignments, and the first error if any.
pub(super) struct Checked {
    pub sets: Vec<(usize, Value)>,
    pub error: Option<ApiError>,
}

fn type_name(f: &Field) -> String {
    match f.ty {
        FieldType::String => "a string".into(),
        FieldType::Boolean => "a boolean (true or false)".into(),
        FieldType::Integer => "an integer".into(),
        FieldType::Number => "a number".into(),
        FieldType::Array => "an array".into(),
        FieldType::Object => "an object".into(),
    }
}

fn violation_message(f: &Field, kw: &str, v: &Value) -> String {
    let p = &f.path;
    match kw {
        "type" => format!("Field \"{p}\" must be {}; found {v}.", type_name(f)),
        "enum" => format!(
            "Field \"{p}\" must be one of {}; found {v}.",
            f.enum_values
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "minimum" | "maximum" => format!(
            "Field \"{p}\" must be {}; found {v}.",
            match (f.minimum, f.maximum) {
                (Some(a), Some(b)) => format!("from {a} to {b}"),
                (Some(a), None) => format!("at least {a}"),
                (None, Some(b)) => format!("at most {b}"),
                (None, None) => "in range".into(),
            }
        ),
        _ => format!(
            "Field \"{p}\" must be {} characters long; found {} characters.",
            match (f.min_length, f.max_length) {
                (Some(a), Some(b)) => format!("from {a} to {b}"),
                (Some(a), None) => format!("at least {a}"),
                (None, Some(b)) => format!("at most {b}"),
                (None, None) => "of a valid length".into(),
            },
            v.as_str().map(|s| s.chars().count()).unwrap_or(0)
        ),
    }
}

impl Mock {
    /// Whether a `banner`/`message` without a trailing LF gets one (see [`APPEND_TRAILING_LF`]).
    fn appends_trailing_lf(&self) -> bool {
        if self.shows(Variant::TrailingLf) {
            return true;
        }
        APPEND_TRAILING_LF && !self.shows(Variant::NoTrailingLf)
    }

    /// Checks a whole body before anything is applied.
    pub(super) fn check_body(&self, w: Write<'_>, table: &ServedResource, body: &Value) -> Checked {
        let res = table.res;
        let mut sets: Vec<(usize, Value)> = Vec::new();
        let mut error = None;
        for (path, v) in leaf_paths(body) {
            match self.check_leaf(w, res, &path, v) {
                Ok(Some(set)) => sets.push(set),
                Ok(None) => {}
                Err(e) => {
                    if error.is_none() {
                        error = Some(e);
                    }
                }
            }
        }
        Checked { sets, error }
    }

    /// One leaf of a write body: the field it names, whether `w` may set it, and the value to
    /// store (normalised, checked against the field's schema); None: silently not set.
    fn check_leaf(
        &self,
        w: Write<'_>,
        res: &Resource,
        path: &str,
        v: &Value,
    ) -> Result<Option<(usize, Value)>, ApiError> {
        if path.split('.').any(|p| p == "_links") {
            if w.op == WriteOp::Patch && self.has(Fault::PatchReadOnlyAccepted) {
                return Ok(None);
            }
            return Err(ApiError::cannot_set(path));
        }
        let Some(idx) = res.fields.iter().position(|f| f.path == path) else {
            return self.unknown_leaf(res, path, v);
        };
        let f = &res.fields[idx];
        if !self.may_set(&w, f, path, v)? {
            return Ok(None);
        }
        let value = self.normalised(f, v);
        // The LF ONTAP appends comes after the checks: what was sent is what must fit.
        Ok(self
            .checked(&w, (idx, f), path, value)?
            .map(|(i, v)| (i, self.with_trailing_lf(f, v))))
    }

    /// A path that names no field: an object of the resource (only `{}` is let through), a
    /// value nested under a scalar field (a type error of that field), or an unknown field.
    fn unknown_leaf(
        &self,
        res: &Resource,
        path: &str,
        v: &Value,
    ) -> Result<Option<(usize, Value)>, ApiError> {
        if res.objects.iter().any(|o| o == path) {
            if v.as_object().is_some_and(Map::is_empty) {
                return Ok(None);
            }
            return Err(ApiError::invalid_value(
                path,
                format!("Field \"{path}\" must be an object; found {v}."),
            ));
        }
        // A value nested under a scalar field (`{"banner": {"x": 1}}`) is a type error of it.
        let mut prefix = path;
        while let Some((head, _)) = prefix.rsplit_once('.') {
            if let Some(f) = res.field(head) {
                return Err(ApiError::invalid_value(
                    head,
                    format!(
                        "Field \"{head}\" must be {}; found an object.",
                        type_name(f)
                    ),
                ));
            }
            prefix = head;
        }
        if self.has(Fault::UnknownBodyFieldIgnored) {
            return Ok(None);
        }
        Err(ApiError::unexpected_argument(path))
    }

    /// Whether `w` may set field `f` (false: the value is silently not set): not a read-only or
    /// PATCH-forbidden field in a PATCH (unless it is sent unchanged where that is untested, or
    /// a fault lets it through), a POST-able field in a POST, an admin-only field only as admin.
    fn may_set(&self, w: &Write<'_>, f: &Field, path: &str, v: &Value) -> Result<bool, ApiError> {
        let Write {
            op,
            ep,
            role,
            current,
        } = *w;
        match op {
            WriteOp::Patch if !f.patchable() => {
                if f.flags.patch_untested && current.and_then(|c| get_path(c, path)) == Some(v) {
                    return Ok(false);
                }
                let read_only = f.flags.read_only || (f.flags.key && !f.flags.patch_forbidden);
                if read_only && self.has(Fault::PatchReadOnlyAccepted) {
                    return Ok(false);
                }
                if f.flags.patch_forbidden && !read_only && self.has(Fault::PatchOwnerAccepted) {
                    return Ok(false);
                }
                return Err(ApiError::cannot_set(path));
            }
            WriteOp::Post if !f.postable() => return Err(ApiError::cannot_set(path)),
            _ => {}
        }
        if f.flags.admin_only && *role != Role::Admin && !self.has(Fault::AdminOnlyUnenforced) {
            return Err(ApiError::documented(
                ep,
                op.method(),
                Condition::RoleDenied,
                Some(path),
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    CODE_PERMISSION,
                    format!(
                        "permission denied: only the cluster administrator may change \"{path}\""
                    ),
                )
                .target(path),
            ));
        }
        Ok(true)
    }

    /// The value as it is checked and stored: CRLF as LF.
    fn normalised(&self, f: &Field, v: &Value) -> Value {
        let mut value = v.clone();
        if f.flags.crlf_normalised
            && !self.has(Fault::CrlfKept)
            && let Value::String(s) = &value
            && s.contains("\r\n")
        {
            value = Value::String(s.replace("\r\n", "\n"));
        }
        value
    }

    /// A checked value with the trailing LF ONTAP appends, where it does: not at the
    /// maxLength, unless the `lf-at-limit` variant is on.
    fn with_trailing_lf(&self, f: &Field, mut value: Value) -> Value {
        if f.flags.trailing_lf
            && self.appends_trailing_lf()
            && let Value::String(s) = &mut value
            && !s.is_empty()
            && !s.ends_with('\n')
            && (self.shows(Variant::LfAtLimit)
                || f.max_length.is_none_or(|m| (s.chars().count() as u64) < m))
        {
            s.push('\n');
        }
        value
    }

    /// The value checked against field `idx`'s schema (a violation answers the documented
    /// error, unless a fault lets a range violation through); an integral number kept as an
    /// integer.
    fn checked(
        &self,
        w: &Write<'_>,
        (idx, f): (usize, &Field),
        path: &str,
        mut value: Value,
    ) -> Result<Option<(usize, Value)>, ApiError> {
        if let Some(kw) = f.violation(&value) {
            if kw != "type" && self.has(Fault::RangeUnchecked) {
                return Ok(Some((idx, value)));
            }
            return Err(ApiError::documented(
                w.ep,
                w.op.method(),
                Condition::InvalidValue,
                Some(path),
                ApiError::invalid_value(path, violation_message(f, kw, &value)),
            ));
        }
        // 3.0 is an integer (JSON Schema's too); it is kept as 3.
        if f.ty == FieldType::Integer
            && !value.is_i64()
            && !value.is_u64()
            && let Some(n) = value.as_f64()
        {
            value = Value::from(n as i64);
        }
        Ok(Some((idx, value)))
    }
}
