//! The rewrite layer: the faults and variants that only bend an otherwise-correct answer (a
//! status, a field of the envelope, a value, a link), all in one place, applied once to every
//! answer after the handler ([`Layer::Rewrite`](super::faults::Layer::Rewrite)). The handler
//! itself always answers by the contract; a [`Reply`] says what made it ([`Made`]), which is
//! all this layer needs to know.

use super::errors;
use super::faults::Fault;
use super::query::{ReadKind, START_PARAM, ServedResource};
use super::reply::{Made, Reply, ReplyBody};
use super::variants::Variant;
use axum::http::StatusCode;
use serde_json::Value;
use std::collections::BTreeSet;

/// The rewrite layer: bends a finished answer as the faults and variants of
/// [`Layer::Rewrite`](super::faults::Layer::Rewrite) ask, once, after the handler. Without such
/// a fault on, the answer passes untouched (and unparsed).
pub(crate) fn rewrite<'a>(
    faults: &BTreeSet<Fault>,
    variants: &BTreeSet<Variant>,
    mut a: Reply<'a>,
) -> Reply<'a> {
    let on = |f: Fault| faults.contains(&f);
    match a.made {
        Made::Error {
            bad_input,
            not_allowed,
        } => {
            if not_allowed && on(Fault::MethodNotAllowedAccepted) {
                return Reply::empty();
            }
            if bad_input && on(Fault::BadInput500) {
                a.status = StatusCode::INTERNAL_SERVER_ERROR;
            }
            bend_envelope(faults, variants, &mut a);
        }
        Made::Read {
            table,
            shape,
            start,
        } => {
            let collection = shape == ReadKind::Collection;
            let wanted = on(Fault::WrongType)
                || on(Fault::MissingKey)
                || (collection
                    && (on(Fault::NumRecordsWrong)
                        || on(Fault::PagingSkip)
                        || on(Fault::PagingRepeat)
                        || on(Fault::NextPlaceholder)));
            if !wanted {
                return a;
            }
            let mut v = match a.body {
                ReplyBody::Json(v) => v,
                ReplyBody::Text(t) => match serde_json::from_slice(&t) {
                    Ok(v) => v,
                    Err(_) => {
                        a.body = ReplyBody::Text(t);
                        return a;
                    }
                },
            };
            bend_read(faults, table, shape, start, &mut v);
            a.body = ReplyBody::Json(v);
        }
        Made::Other => {}
    }
    a
}

/// The rewrites of an error envelope: the variants first (they bend a correct envelope into
/// another correct one), then the faults.
fn bend_envelope(faults: &BTreeSet<Fault>, variants: &BTreeSet<Variant>, a: &mut Reply<'_>) {
    let on = |f: Fault| faults.contains(&f);
    let variant = |v: Variant| variants.contains(&v);
    let not_found = a.status == StatusCode::NOT_FOUND;
    let status = a.status;
    if let ReplyBody::Json(v) = &mut a.body
        && let Some(err) = v.get_mut("error").and_then(Value::as_object_mut)
    {
        let code = err.get("code").and_then(Value::as_str);
        if status == StatusCode::FORBIDDEN
            && code == Some(errors::CODE_PERMISSION)
            && variant(Variant::Permission400)
        {
            a.status = StatusCode::BAD_REQUEST;
        }
        if status == StatusCode::CONFLICT
            && code == Some(errors::CODE_DUPLICATE)
            && variant(Variant::Duplicate400)
        {
            a.status = StatusCode::BAD_REQUEST;
        }
        if variant(Variant::NoErrorTarget) {
            err.shift_remove("target");
        }
        if not_found
            && on(Fault::NotFoundWrongCode)
            && err.get("code").and_then(Value::as_str) == Some(errors::CODE_NOT_FOUND)
        {
            err.insert("code".into(), Value::String("2".into()));
        }
        if on(Fault::ErrorMessageMissing) {
            err.shift_remove("message");
        }
        if on(Fault::ErrorCodeNumber)
            && let Some(code) = err.get_mut("code")
            && let Some(n) = code.as_str().and_then(|c| c.parse::<u64>().ok())
        {
            *code = Value::from(n);
        }
    }
}

/// The rewrites of a GET answer: each record's values and keys, the count and the next link.
fn bend_read(
    faults: &BTreeSet<Fault>,
    table: &ServedResource,
    shape: ReadKind,
    start: usize,
    v: &mut Value,
) {
    let on = |f: Fault| faults.contains(&f);
    let records: Vec<&mut Value> = match shape {
        ReadKind::Collection => match v.get_mut("records").and_then(Value::as_array_mut) {
            Some(list) => list.iter_mut().collect(),
            None => Vec::new(),
        },
        ReadKind::Instance => vec![&mut *v],
    };
    for rec in records {
        if on(Fault::MissingKey)
            && let Some(key) = table.first_key_path()
        {
            remove_leaf(rec, key);
        }
        if on(Fault::WrongType) {
            for f in &table.res.fields {
                if let Some(b) = leaf_mut(rec, &f.path)
                    && let Value::Bool(x) = *b
                {
                    *b = Value::String(x.to_string());
                }
            }
        }
    }
    if shape != ReadKind::Collection {
        return;
    }
    if on(Fault::NumRecordsWrong)
        && let Some(n) = v.get_mut("num_records")
        && let Some(x) = n.as_u64()
    {
        *n = Value::from(x + 1);
    }
    if on(Fault::NextPlaceholder)
        && let Some(Value::String(href)) = v.pointer_mut("/_links/next/href")
    {
        *href = "string".into();
    }
    if (on(Fault::PagingSkip) || on(Fault::PagingRepeat))
        && let Some(Value::String(href)) = v.pointer_mut("/_links/next/href")
    {
        let marker = format!("{START_PARAM}=");
        if let Some((head, n)) = href.rsplit_once(&marker)
            && let Ok(mut n) = n.parse::<usize>()
        {
            if on(Fault::PagingSkip) {
                n += 1;
            }
            if on(Fault::PagingRepeat) && n > start {
                n -= 1;
            }
            *href = format!("{head}{marker}{n}");
        }
    }
}

fn leaf_mut<'v>(v: &'v mut Value, path: &str) -> Option<&'v mut Value> {
    path.split('.').try_fold(v, |v, p| v.get_mut(p))
}

/// Removes a dotted field, and the objects it leaves empty (an answer never holds `{}`).
fn remove_leaf(v: &mut Value, path: &str) {
    let Some(obj) = v.as_object_mut() else {
        return;
    };
    match path.split_once('.') {
        None => {
            obj.shift_remove(path);
        }
        Some((head, rest)) => {
            if let Some(inner) = obj.get_mut(head) {
                remove_leaf(inner, rest);
                if inner.as_object().is_some_and(|m| m.is_empty()) {
                    obj.shift_remove(head);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(a: Reply<'_>) -> Value {
        match a.body {
            ReplyBody::Json(v) => v,
            ReplyBody::Text(t) => serde_json::from_slice(&t).unwrap(),
        }
    }

    #[test]
    fn envelope_rewrites() {
        use crate::mock::errors::{ApiError, CODE_NOT_FOUND};
        let e = ApiError::cannot_set("scope");
        let a = rewrite(&BTreeSet::new(), &BTreeSet::new(), Reply::error(e.clone()));
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert_eq!(envelope(a)["error"]["code"], "262196");
        let v = envelope(rewrite(
            &[Fault::ErrorCodeNumber].into(),
            &BTreeSet::new(),
            Reply::error(e.clone()),
        ));
        assert_eq!(v["error"]["code"], 262196);
        let v = envelope(rewrite(
            &[Fault::ErrorMessageMissing].into(),
            &BTreeSet::new(),
            Reply::error(e),
        ));
        assert!(v["error"].get("message").is_none());
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"error":{"code":"262196","target":"scope"}}"#
        );
        let a = rewrite(
            &[Fault::BadInput500].into(),
            &BTreeSet::new(),
            Reply::error(ApiError::bad_input("x")),
        );
        assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
        let nf = ApiError::new(StatusCode::NOT_FOUND, CODE_NOT_FOUND, "entry doesn't exist");
        let v = envelope(rewrite(
            &[Fault::NotFoundWrongCode].into(),
            &BTreeSet::new(),
            Reply::error(nf),
        ));
        assert_eq!(v["error"]["code"], "2");
        let a = rewrite(
            &[Fault::MethodNotAllowedAccepted].into(),
            &BTreeSet::new(),
            Reply::not_allowed("PUT", "/api/x", &["GET"]),
        );
        assert_eq!(a.status, StatusCode::OK);
        assert!(a.allow.is_none());
        assert_eq!(envelope(a), serde_json::json!({}));
    }
}
