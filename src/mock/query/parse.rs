//! The query string of a request decoded and checked into a [`QueryPlan`]: the parameters the
//! catalog allows for the method, each value checked (`fields` names known fields, `order_by`
//! gettable ones, integers within `specs/parameters.json`'s bounds), filters parsed.

use super::START_PARAM;
use super::matching::{Filter, expected_literal};
use super::served::ServedResource;
use crate::mock::errors::{ApiError, CODE_UNEXPECTED};
use crate::mock::faults::Fault;
use crate::mock::variants::Variant;
use crate::spec::Spec;
use crate::spec::resource::Resource;
use axum::http::StatusCode;
use serde_json::Value;
use std::collections::BTreeSet;

/// Decodes a query string into (name, value) pairs, in order. `+` is a space; invalid
/// percent-encoding or UTF-8 is a 400.
pub fn parse_query(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    let Some(raw) = raw else {
        return Ok(out);
    };
    for part in raw.split('&') {
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = decode(k)?;
        let v = decode(v)?;
        out.push((k, v));
    }
    Ok(out)
}

fn decode(s: &str) -> Result<String, ApiError> {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| {
            ApiError::bad_input(format!(
                "The query string holds {s:?}, which is not UTF-8 once percent-decoded; expected UTF-8 text"
            ))
        })
}

/// Rejects a parameter given twice (the mock's choice: ambiguous input is refused, not guessed).
pub fn reject_duplicates(pairs: &[(String, String)]) -> Result<(), ApiError> {
    let mut seen = BTreeSet::new();
    for (k, _) in pairs {
        if !seen.insert(k.as_str()) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                CODE_UNEXPECTED,
                format!("Argument \"{k}\" is given more than once; give it once (use | for alternatives)."),
            )
            .target(k.as_str()));
        }
    }
    Ok(())
}

/// One `fields` request.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldsSel {
    /// `*`: the common fields (ONTAP's choice; by default every gettable field).
    Common,
    /// `**`: every gettable field, the costly ones included.
    All,
    /// Named fields or objects.
    List(Vec<String>),
}

/// A checked request: what to select, filter, order and page.
#[derive(Debug, Clone, Default)]
pub struct QueryPlan {
    pub fields: Option<FieldsSel>,
    pub filters: Vec<Filter>,
    pub order_by: Vec<(usize, bool)>,
    pub max_records: Option<u64>,
    pub return_records: Option<bool>,
    pub start: usize,
    /// The pairs to carry into `_links.next` (everything but the paging position).
    pub carry: Vec<(String, String)>,
    /// The raw query string, for self links.
    pub raw_query: String,
    /// The variants the query engine shows (ordering, paging, field sets).
    pub variants: BTreeSet<Variant>,
}

impl QueryPlan {
    /// Checks the query parameters of one request. `allowed` is the catalog's list for the
    /// method (`filters` meaning every gettable field).
    pub fn build(
        spec: &Spec,
        table: &ServedResource,
        allowed: &[String],
        pairs: Vec<(String, String)>,
        raw_query: &str,
        faults: &BTreeSet<Fault>,
        variants: &BTreeSet<Variant>,
    ) -> Result<QueryPlan, ApiError> {
        let res = table.res;
        let has = |n: &str| allowed.iter().any(|a| a == n);
        let mut plan = QueryPlan {
            raw_query: raw_query.to_string(),
            variants: variants.clone(),
            ..QueryPlan::default()
        };
        for (k, v) in pairs {
            let mut carry = true;
            match k.as_str() {
                "fields" if has("fields") => {
                    plan.fields = parse_fields(res, &v)?;
                }
                "order_by" if has("order_by") => {
                    plan.order_by = parse_order_by(res, &v)?;
                }
                "max_records" if has("max_records") => {
                    plan.max_records = Some(int_param(spec, "max_records", &v)? as u64);
                }
                "return_records" if has("return_records") => {
                    plan.return_records = Some(bool_param(&k, &v)?);
                }
                "return_timeout" if has("return_timeout") => {
                    int_param(spec, "return_timeout", &v)?;
                }
                START_PARAM if has("max_records") => {
                    carry = false;
                    plan.start = v.parse::<usize>().map_err(|_| {
                        ApiError::invalid_value(
                            START_PARAM,
                            format!("Invalid value {v:?} for \"{START_PARAM}\": expected the position a next link gave"),
                        )
                    })?;
                }
                _ => {
                    let field = if has("filters") {
                        res.fields.iter().position(|f| f.path == k && f.gettable())
                    } else {
                        None
                    };
                    match field {
                        Some(i) => {
                            let f = Filter::parse(i, res.fields[i].ty, &v);
                            if let Some(bad) = f.misfit(&res.fields[i]) {
                                return Err(ApiError::invalid_value(
                                    &k,
                                    format!(
                                        "Invalid value {bad:?} in the query for field \"{k}\": expected {}",
                                        expected_literal(&res.fields[i])
                                    ),
                                ));
                            }
                            plan.filters.push(f)
                        }
                        None if faults.contains(&Fault::UnknownParamIgnored) => carry = false,
                        None => return Err(ApiError::unexpected_argument(&k)),
                    }
                }
            }
            if carry {
                plan.carry.push((k, v));
            }
        }
        Ok(plan)
    }
}

fn parse_fields(res: &Resource, v: &str) -> Result<Option<FieldsSel>, ApiError> {
    let names: Vec<&str> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        return Ok(None);
    }
    if names.contains(&"**") {
        return Ok(Some(FieldsSel::All));
    }
    if names.contains(&"*") {
        return Ok(Some(FieldsSel::Common));
    }
    for n in &names {
        if !res.knows(n) && *n != "_links" {
            return Err(ApiError::invalid_value(
                "fields",
                format!(
                    "Unknown field \"{n}\" in fields; expected fields of {}: {}",
                    res.name,
                    res.gettable()
                        .map(|f| f.path.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(Some(FieldsSel::List(
        names.into_iter().map(String::from).collect(),
    )))
}

fn parse_order_by(res: &Resource, v: &str) -> Result<Vec<(usize, bool)>, ApiError> {
    let mut out = Vec::new();
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut words = item.split_whitespace();
        let name = words.next().unwrap_or("");
        let desc = match words.next() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(ApiError::invalid_value(
                    "order_by",
                    format!("Invalid direction {other:?} in order_by; expected asc or desc"),
                ));
            }
        };
        if words.next().is_some() {
            return Err(ApiError::invalid_value(
                "order_by",
                format!("Invalid order_by item {item:?}; expected \"field [asc|desc]\""),
            ));
        }
        let i = res
            .fields
            .iter()
            .position(|f| f.path == name && f.gettable())
            .ok_or_else(|| {
                ApiError::invalid_value(
                    "order_by",
                    format!(
                        "Unknown field \"{name}\" in order_by; expected a field of {}",
                        res.name
                    ),
                )
            })?;
        out.push((i, desc));
    }
    Ok(out)
}

/// An integer parameter, checked against the bounds of `specs/parameters.json`.
fn int_param(spec: &Spec, name: &str, v: &str) -> Result<i64, ApiError> {
    let schema = spec.params.get(name).map(|p| &p.schema);
    let min = schema
        .and_then(|s| s.get("minimum"))
        .and_then(Value::as_i64);
    let max = schema
        .and_then(|s| s.get("maximum"))
        .and_then(Value::as_i64);
    let expected = match (min, max) {
        (Some(a), Some(b)) => format!("an integer from {a} to {b}"),
        (Some(a), None) => format!("an integer of at least {a}"),
        (None, Some(b)) => format!("an integer of at most {b}"),
        (None, None) => "an integer".to_string(),
    };
    let bad = || {
        ApiError::invalid_value(
            name,
            format!("Invalid value {v:?} for \"{name}\": expected {expected}"),
        )
    };
    let n: i64 = v.trim().parse().map_err(|_| bad())?;
    if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
        return Err(bad());
    }
    Ok(n)
}

fn bool_param(name: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::invalid_value(
            name,
            format!("Invalid value {v:?} for \"{name}\": expected true or false"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let p = parse_query(Some("svm.name=svm%201&banner=a+b&x")).unwrap();
        assert_eq!(p[0], ("svm.name".into(), "svm 1".into()));
        assert_eq!(p[1], ("banner".into(), "a b".into()));
        assert_eq!(p[2], ("x".into(), "".into()));
        assert!(parse_query(Some("a=%ff")).is_err());
        assert!(reject_duplicates(&parse_query(Some("a=1&a=2")).unwrap()).is_err());
    }
}
