//! The one query engine every collection of the mock uses (catalog families and discovery
//! endpoints alike): query-string decoding, parameter checks, `fields` selection, filters with
//! ONTAP's operators, `order_by`, `max_records` paging with `_links.next`, `return_records`, and
//! the projection of a stored record into an answer (HAL links, secrets withheld). Nothing here
//! names a field of the catalog: it all comes from the [`Resource`] it is given.

use super::Fault;
use super::errors::{ApiError, CODE_UNEXPECTED};
use super::variants::{NEWER_FIELD, TIME_LIMITED_PAGE, Variant};
use crate::spec::resource::{Field, FieldType, Resource, get_path};
use crate::spec::{Endpoint, Spec};
use axum::http::StatusCode;
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// The parameter that carries the paging position in `_links.next` (opaque to clients).
pub const START_PARAM: &str = "start.index";
/// The one parameter of a `next` link under the `opaque-next` variant: the whole query, hex.
pub const TOKEN_PARAM: &str = "next_token";

/// A resource as the engine serves it: the field model plus what is precomputed once.
#[derive(Debug)]
pub struct Table {
    pub res: &'static Resource,
    /// The collection path (`/api/security/login/messages`).
    pub collection_path: String,
    /// The catalog's instance endpoint, to render self links; None: collection path + keys.
    pub instance_ep: Option<&'static Endpoint>,
    /// What a collection GET without `fields` returns.
    default_collection: Vec<bool>,
    /// Every gettable field.
    all_gettable: Vec<bool>,
    /// Keys and the whole key objects (`owner`, `account`).
    key_mask: Vec<bool>,
    /// The fields as a tree in answer order.
    tree: Vec<Node>,
    /// The index of the first key field.
    first_key: Option<usize>,
    /// The field the `costly-field` variant leaves out of `fields=*`: the first derived field
    /// (a fingerprint is computed), else the last gettable field outside the keys.
    costly: Option<usize>,
}

impl Table {
    pub fn new(
        res: &'static Resource,
        collection_path: String,
        instance_ep: Option<&'static Endpoint>,
    ) -> Table {
        let n = res.fields.len();
        let mut order: Vec<usize> = res
            .keys
            .iter()
            .filter_map(|k| res.fields.iter().position(|f| &f.path == k))
            .collect();
        for i in 0..n {
            if !order.contains(&i) {
                order.push(i);
            }
        }
        let all_gettable: Vec<bool> = res.fields.iter().map(|f| f.gettable()).collect();
        let key_objects: Vec<&str> = res
            .keys
            .iter()
            .filter_map(|k| k.rsplit_once('.').map(|(o, _)| o))
            .collect();
        let key_mask: Vec<bool> = res
            .fields
            .iter()
            .map(|f| {
                f.gettable()
                    && (f.flags.key
                        || key_objects
                            .iter()
                            .any(|o| f.path.strip_prefix(o).is_some_and(|r| r.starts_with('.'))))
            })
            .collect();
        let defaults = res.default_collection_fields();
        let default_collection = res
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| key_mask[i] || (f.gettable() && defaults.contains(&f.path.as_str())))
            .collect();
        let tree = build_tree(res, &order);
        let first_key = res
            .keys
            .first()
            .and_then(|k| res.fields.iter().position(|f| &f.path == k));
        let costly = res
            .fields
            .iter()
            .position(|f| f.gettable() && f.derived_from.is_some())
            .or_else(|| {
                (0..n)
                    .rev()
                    .find(|&i| res.fields[i].gettable() && !key_mask[i])
            });
        Table {
            res,
            costly,
            collection_path,
            instance_ep,
            tree,
            first_key,
            default_collection,
            all_gettable,
            key_mask,
        }
    }

    /// The path of one record.
    pub fn instance_href(&self, record: &Value) -> String {
        let vals: Vec<(String, String)> = self
            .res
            .keys
            .iter()
            .map(|k| (k.clone(), text_of(get_path(record, k))))
            .collect();
        match self.instance_ep {
            Some(ep) => {
                let refs: Vec<(&str, &str)> =
                    vals.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                ep.render(&refs)
            }
            None => {
                let mut out = self.collection_path.clone();
                for (_, v) in &vals {
                    out.push('/');
                    out.push_str(&crate::spec::encode_segment(v));
                }
                out
            }
        }
    }

    /// The path of the first key field (`uuid`, `owner.uuid`), if the resource has keys.
    pub fn first_key_path(&self) -> Option<&str> {
        self.first_key.map(|i| self.res.fields[i].path.as_str())
    }

    /// Whether a record's keys equal these values.
    pub fn has_keys(&self, record: &Value, keys: &[(String, String)]) -> bool {
        keys.iter().all(|(k, v)| {
            get_path(record, k)
                .and_then(crate::mock::store::key_text)
                .is_some_and(|s| s == crate::mock::store::canonical_key(v))
        })
    }
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

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

/// One alternative of a filter.
#[derive(Debug, Clone, PartialEq)]
enum Term {
    Null,
    NotNull,
    Exact(String),
    Glob(String),
    Cmp(Ordering, bool, f64),
    Range(f64, f64),
}

#[derive(Debug, Clone, PartialEq)]
struct Alt {
    negated: bool,
    term: Term,
}

/// A filter on one field: alternatives joined by `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub field: usize,
    alts: Vec<Alt>,
}

impl Filter {
    /// Parses a filter value: alternatives split on `|` outside double quotes; each one `null`,
    /// `!null`, or an optional `!` before a pattern; a pattern in double quotes is a literal
    /// (`"a|b"`, `"*"`, `"<10"`, ONTAP-BEHAVIOR.md §7). `!a|b` is "not a, or b".
    fn parse(field: usize, ty: FieldType, raw: &str) -> Filter {
        let numeric = matches!(ty, FieldType::Integer | FieldType::Number);
        let alts = split_alternatives(raw)
            .into_iter()
            .map(|a| {
                if a == "null" {
                    return Alt {
                        negated: false,
                        term: Term::Null,
                    };
                }
                if a == "!null" {
                    return Alt {
                        negated: false,
                        term: Term::NotNull,
                    };
                }
                let (negated, body) = match a.strip_prefix('!') {
                    Some(b) => (true, b),
                    None => (false, a),
                };
                if let Some(literal) = unquote(body) {
                    return Alt {
                        negated,
                        term: Term::Exact(literal.to_string()),
                    };
                }
                let term = if numeric {
                    numeric_term(body).unwrap_or_else(|| text_term(body))
                } else {
                    text_term(body)
                };
                Alt { negated, term }
            })
            .collect();
        Filter { field, alts }
    }

    /// A literal that no value of the field can be (a word for a boolean or a number, a name
    /// outside an enum): ONTAP refuses it (400, code 262197, ONTAP-BEHAVIOR.md section 3). A
    /// boolean is refused a `*` pattern that neither `true` nor `false` matches (`xy*z`) too: it
    /// is a value no boolean can have, like `xyz`. Other patterns, comparisons and `null` are
    /// never refused.
    fn misfit<'a>(&'a self, f: &Field) -> Option<&'a str> {
        self.alts.iter().find_map(|a| match &a.term {
            Term::Glob(p) if f.ty == FieldType::Boolean => {
                (!glob(p, "true") && !glob(p, "false")).then_some(p.as_str())
            }
            Term::Exact(s) => {
                let fits = match f.ty {
                    FieldType::Boolean => s == "true" || s == "false",
                    FieldType::Integer | FieldType::Number => s.trim().parse::<f64>().is_ok(),
                    _ if !f.enum_values.is_empty() => {
                        f.enum_values.iter().any(|e| e.as_str() == Some(s.as_str()))
                    }
                    _ => true,
                };
                (!fits).then_some(s.as_str())
            }
            _ => None,
        })
    }

    fn matches(&self, v: Option<&Value>) -> bool {
        let v = v.filter(|v| !v.is_null());
        self.alts.iter().any(|a| match (&a.term, v) {
            (Term::Null, None) => !a.negated,
            (Term::Null, Some(_)) => a.negated,
            (Term::NotNull, v) => v.is_some(),
            (_, None) => false,
            (t, Some(v)) => term_matches(t, v) != a.negated,
        })
    }
}

/// What a filter literal of this field may be, for messages.
fn expected_literal(f: &Field) -> String {
    match f.ty {
        FieldType::Boolean => "true or false".into(),
        FieldType::Integer | FieldType::Number => "a number, a comparison or a range".into(),
        _ => format!(
            "one of {}",
            f.enum_values
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Splits a filter value on the `|` that are outside double quotes.
fn split_alternatives(raw: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in raw.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '|' if !quoted => {
                out.push(&raw[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&raw[start..]);
    out
}

/// The text inside a double-quoted pattern (`"a b"` gives `a b`); None if it is not one.
fn unquote(s: &str) -> Option<&str> {
    s.strip_prefix('"')?.strip_suffix('"')
}

fn text_term(s: &str) -> Term {
    if s.contains('*') {
        Term::Glob(s.to_string())
    } else {
        Term::Exact(s.to_string())
    }
}

fn numeric_term(s: &str) -> Option<Term> {
    let num = |t: &str| t.trim().parse::<f64>().ok().filter(|f| f.is_finite());
    if let Some(r) = s.strip_prefix("<=") {
        return Some(Term::Cmp(Ordering::Less, true, num(r)?));
    }
    if let Some(r) = s.strip_prefix(">=") {
        return Some(Term::Cmp(Ordering::Greater, true, num(r)?));
    }
    if let Some(r) = s.strip_prefix('<') {
        return Some(Term::Cmp(Ordering::Less, false, num(r)?));
    }
    if let Some(r) = s.strip_prefix('>') {
        return Some(Term::Cmp(Ordering::Greater, false, num(r)?));
    }
    if let Some((a, b)) = s.split_once("..") {
        return Some(Term::Range(num(a)?, num(b)?));
    }
    None
}

fn term_matches(t: &Term, v: &Value) -> bool {
    if let Value::Array(items) = v {
        return items.iter().any(|i| term_matches(t, i));
    }
    match t {
        Term::Null | Term::NotNull => false,
        Term::Exact(s) => scalar_text(v).is_some_and(|x| x == *s),
        Term::Glob(p) => scalar_text(v).is_some_and(|x| glob(p, &x)),
        Term::Cmp(dir, or_equal, n) => v.as_f64().is_some_and(|x| {
            let o = x.partial_cmp(n).unwrap_or(Ordering::Equal);
            o == *dir || (*or_equal && o == Ordering::Equal)
        }),
        Term::Range(a, b) => v.as_f64().is_some_and(|x| x >= *a && x <= *b),
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `*` matches any run of characters; everything else matches itself, case-sensitively.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// A checked request: what to select, filter, order and page.
#[derive(Debug, Clone, Default)]
pub struct Plan {
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

impl Plan {
    /// Checks the query parameters of one request. `allowed` is the catalog's list for the
    /// method (`filters` meaning every gettable field).
    pub fn build(
        spec: &Spec,
        table: &Table,
        allowed: &[String],
        pairs: Vec<(String, String)>,
        raw_query: &str,
        faults: &BTreeSet<Fault>,
        variants: &BTreeSet<Variant>,
    ) -> Result<Plan, ApiError> {
        let res = table.res;
        let has = |n: &str| allowed.iter().any(|a| a == n);
        let mut plan = Plan {
            raw_query: raw_query.to_string(),
            variants: variants.clone(),
            ..Plan::default()
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

/// Collection or instance: decides the default field set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Collection,
    Instance,
}

/// The fields an answer shows.
#[derive(Debug, Clone)]
pub struct Selection {
    mask: Vec<bool>,
    /// Also show stored secrets that are selected (only the `leak-secret` fault, or a POST answer
    /// for POST-response-only fields).
    secrets: bool,
    /// Add a field this contract does not know (the `newer-field` variant).
    newer: bool,
}

/// Decides the fields of an answer.
pub fn select(table: &Table, plan: &Plan, shape: Shape, faults: &BTreeSet<Fault>) -> Selection {
    let res = table.res;
    let leak = faults.contains(&Fault::LeakSecret);
    let default = || match shape {
        Shape::Collection => table.default_collection.clone(),
        Shape::Instance => table.all_gettable.clone(),
    };
    let fields = if faults.contains(&Fault::FieldsIgnored) {
        None
    } else {
        plan.fields.as_ref()
    };
    let variant = |v: Variant| plan.variants.contains(&v);
    let common = match fields {
        Some(FieldsSel::Common) => true,
        None => shape == Shape::Instance,
        _ => false,
    };
    let newer = variant(Variant::NewerField)
        && (matches!(fields, Some(FieldsSel::Common | FieldsSel::All))
            || (fields.is_none() && shape == Shape::Instance));
    let (mut mask, secrets) = match fields {
        None if shape == Shape::Collection && variant(Variant::CollectionAllFields) => {
            (table.all_gettable.clone(), false)
        }
        None => (default(), false),
        Some(FieldsSel::Common | FieldsSel::All) => {
            if leak {
                (vec![true; res.fields.len()], true)
            } else {
                (table.all_gettable.clone(), false)
            }
        }
        Some(FieldsSel::List(_)) if faults.contains(&Fault::FieldsExtra) => {
            (table.all_gettable.clone(), false)
        }
        Some(FieldsSel::List(names)) => {
            let mut mask = table.key_mask.clone();
            for (i, f) in res.fields.iter().enumerate() {
                let named = names.iter().any(|n| {
                    f.path == *n
                        || f.path
                            .strip_prefix(n.as_str())
                            .is_some_and(|r| r.starts_with('.'))
                });
                if named && (f.gettable() || leak) {
                    mask[i] = true;
                }
            }
            (mask, leak)
        }
    };
    if common
        && variant(Variant::CostlyField)
        && !faults.contains(&Fault::FieldsIgnored)
        && let Some(i) = table.costly
    {
        mask[i] = false;
    }
    if shape == Shape::Collection {
        for flt in &plan.filters {
            mask[flt.field] = true;
        }
    }
    Selection {
        mask,
        secrets,
        newer,
    }
}

/// Selection for a POST answer: every gettable field and the POST-response-only ones, never a
/// write-only one.
pub fn post_selection(table: &Table) -> Selection {
    let mask = table
        .res
        .fields
        .iter()
        .map(|f| !f.flags.write_only)
        .collect();
    Selection {
        mask,
        secrets: true,
        newer: false,
    }
}

/// How links are rendered.
#[derive(Debug, Clone, Copy)]
pub struct Render {
    /// `application/hal+json` (or `*/*`, or no Accept): self links on records and collections.
    pub hal: bool,
}

/// Projects one stored record into an answer, as a JSON value.
pub fn project(table: &Table, record: &Value, sel: &Selection, render: Render) -> Value {
    let mut buf = Vec::with_capacity(512);
    write_record(&mut buf, table, Row::plain(record), sel, render);
    serde_json::from_slice(&buf).unwrap_or_else(|_| Value::Object(Map::new()))
}

/// Projects one stored record straight into JSON text: the hot path of every GET, so no
/// intermediate tree is built. Objects come out whole or not at all (never `{}`).
pub fn write_record(
    buf: &mut Vec<u8>,
    table: &Table,
    row: Row<'_>,
    sel: &Selection,
    render: Render,
) {
    let ctx = WriteCtx { table, sel };
    buf.push(b'{');
    let mut first = true;
    match (row.rendered, row.value.as_object()) {
        (Some(r), _) => write_children_rendered(buf, &table.tree, r, &ctx, &mut first),
        (None, Some(obj)) => write_children(buf, &table.tree, obj, &ctx, &mut first),
        (None, None) => {}
    }
    if sel.newer {
        write_key(buf, NEWER_FIELD, &mut first);
        buf.extend_from_slice(b"\"a field of a later ONTAP release\"");
    }
    if render.hal {
        if !first {
            buf.push(b',');
        }
        buf.extend_from_slice(b"\"_links\":{\"self\":{\"href\":");
        match row.rendered {
            Some(r) => buf.extend_from_slice(&r.href),
            None => write_json(buf, &Value::String(table.instance_href(row.value))),
        }
        buf.extend_from_slice(b"}}");
    }
    buf.push(b'}');
}

struct WriteCtx<'a> {
    table: &'a Table,
    sel: &'a Selection,
}

impl WriteCtx<'_> {
    /// Whether field `i` belongs in the answer (if it has a value).
    fn shows(&self, i: usize) -> bool {
        self.sel.mask[i] && (self.sel.secrets || self.table.res.fields[i].gettable())
    }
}

/// A record's answer pieces: each field's value as JSON text, and its self link.
#[derive(Debug)]
pub struct Rendered {
    leaves: Vec<Option<Box<[u8]>>>,
    /// The href as a JSON string.
    href: Box<[u8]>,
}

impl Rendered {
    pub fn new(table: &Table, record: &Value) -> Rendered {
        let leaves = table
            .res
            .fields
            .iter()
            .map(|f| {
                get_path(record, &f.path)
                    .and_then(|v| serde_json::to_vec(v).ok())
                    .map(Vec::into_boxed_slice)
            })
            .collect();
        let href = serde_json::to_vec(&Value::String(table.instance_href(record)))
            .unwrap_or_default()
            .into_boxed_slice();
        Rendered { leaves, href }
    }
}

/// [`write_children`] from rendered pieces: no lookups, no escaping, only copies.
fn write_children_rendered(
    buf: &mut Vec<u8>,
    nodes: &[Node],
    r: &Rendered,
    ctx: &WriteCtx<'_>,
    first: &mut bool,
) {
    for node in nodes {
        match node {
            Node::Leaf { key, field, .. } => {
                if !ctx.shows(*field) {
                    continue;
                }
                if let Some(Some(v)) = r.leaves.get(*field) {
                    write_raw_key(buf, key, first);
                    buf.extend_from_slice(v);
                }
            }
            Node::Object { key, children, .. } => {
                write_object(buf, key, first, |buf, inner_first| {
                    write_children_rendered(buf, children, r, ctx, inner_first)
                });
            }
        }
    }
}

/// A record to answer with: its value, and its rendered pieces when the store keeps them.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub value: &'a Value,
    pub rendered: Option<&'a Rendered>,
}

impl<'a> Row<'a> {
    pub fn plain(value: &'a Value) -> Row<'a> {
        Row {
            value,
            rendered: None,
        }
    }
}

fn write_json(buf: &mut Vec<u8>, v: &Value) {
    // Writing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, v);
}

fn write_key(buf: &mut Vec<u8>, name: &str, first: &mut bool) {
    if !*first {
        buf.push(b',');
    }
    *first = false;
    let _ = serde_json::to_writer(&mut *buf, name);
    buf.push(b':');
}

/// Writes `"key":{...}` with the children `fill` writes; an object left empty is not written.
fn write_object(
    buf: &mut Vec<u8>,
    key: &[u8],
    first: &mut bool,
    fill: impl FnOnce(&mut Vec<u8>, &mut bool),
) {
    let mark = buf.len();
    let was_first = *first;
    write_raw_key(buf, key, first);
    buf.push(b'{');
    let mut inner_first = true;
    fill(buf, &mut inner_first);
    if inner_first {
        buf.truncate(mark);
        *first = was_first;
    } else {
        buf.push(b'}');
    }
}

fn write_raw_key(buf: &mut Vec<u8>, key: &[u8], first: &mut bool) {
    if !*first {
        buf.push(b',');
    }
    *first = false;
    buf.extend_from_slice(key);
}

fn write_children(
    buf: &mut Vec<u8>,
    nodes: &[Node],
    obj: &Map<String, Value>,
    ctx: &WriteCtx<'_>,
    first: &mut bool,
) {
    for node in nodes {
        match node {
            Node::Leaf { name, key, field } => {
                let i = *field;
                if !ctx.shows(i) {
                    continue;
                }
                let Some(v) = obj.get(name) else {
                    continue;
                };
                write_raw_key(buf, key, first);
                write_json(buf, v);
            }
            Node::Object {
                name,
                key,
                children,
            } => {
                let Some(Value::Object(inner)) = obj.get(name) else {
                    continue;
                };
                write_object(buf, key, first, |buf, inner_first| {
                    write_children(buf, children, inner, ctx, inner_first)
                });
            }
        }
    }
}

/// A resource's fields as a tree in answer order (keys first), for [`write_record`].
#[derive(Debug)]
enum Node {
    Leaf {
        name: String,
        /// `"name":`, ready to copy.
        key: Box<[u8]>,
        field: usize,
    },
    Object {
        name: String,
        key: Box<[u8]>,
        children: Vec<Node>,
    },
}

fn key_json(name: &str) -> Box<[u8]> {
    let mut k = serde_json::to_vec(name).unwrap_or_default();
    k.push(b':');
    k.into_boxed_slice()
}

fn build_tree(res: &Resource, order: &[usize]) -> Vec<Node> {
    fn insert(nodes: &mut Vec<Node>, parts: &[&str], field: usize) {
        if parts.len() == 1 {
            nodes.push(Node::Leaf {
                name: parts[0].to_string(),
                key: key_json(parts[0]),
                field,
            });
            return;
        }
        let pos = nodes
            .iter()
            .position(|n| matches!(n, Node::Object { name, .. } if name == parts[0]));
        let idx = match pos {
            Some(i) => i,
            None => {
                nodes.push(Node::Object {
                    name: parts[0].to_string(),
                    key: key_json(parts[0]),
                    children: Vec::new(),
                });
                nodes.len() - 1
            }
        };
        if let Node::Object { children, .. } = &mut nodes[idx] {
            insert(children, &parts[1..], field);
        }
    }
    let mut tree = Vec::new();
    for &i in order {
        let parts: Vec<&str> = res.fields[i].path.split('.').collect();
        insert(&mut tree, &parts, i);
    }
    tree
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The query string an `opaque-next` token stands for; None if it is not one the mock made.
pub fn decode_token(token: &str) -> Option<String> {
    if token.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// Whether a record passes every filter of the plan.
pub fn matches_all(table: &Table, plan: &Plan, record: &Value) -> bool {
    plan.filters
        .iter()
        .all(|f| f.matches(get_path(record, &table.res.fields[f.field].path)))
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let a = a.filter(|v| !v.is_null());
    let b = b.filter(|v| !v.is_null());
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => match (x, y) {
            (Value::Number(m), Value::Number(n)) => m
                .as_f64()
                .partial_cmp(&n.as_f64())
                .unwrap_or(Ordering::Equal),
            (Value::String(m), Value::String(n)) => m.cmp(n),
            (Value::Bool(m), Value::Bool(n)) => m.cmp(n),
            _ => x.to_string().cmp(&y.to_string()),
        },
    }
}

/// Runs a collection GET over the records a caller may see, in store order, and writes the
/// answer as JSON text.
/// `path` is the collection's path as requested (a nested one with its parents' keys filled
/// in), which its `self` and `next` links name.
pub fn collection_get(
    table: &Table,
    path: &str,
    records: Vec<Row<'_>>,
    plan: &Plan,
    render: Render,
    faults: &BTreeSet<Fault>,
) -> Vec<u8> {
    let res = table.res;
    let mut rows: Vec<Row<'_>> =
        if plan.filters.is_empty() || faults.contains(&Fault::FilterIgnored) {
            records
        } else {
            let negate = faults.contains(&Fault::FilterNegated);
            records
                .into_iter()
                .filter(|r| matches_all(table, plan, r.value) != negate)
                .collect()
        };
    if !plan.order_by.is_empty() && !faults.contains(&Fault::OrderIgnored) {
        let flip = faults.contains(&Fault::OrderReversed);
        // Where unset values go: below every value by default (first ascending, last
        // descending), or first or last in either direction (the `unset-*` variants).
        let unset_first = plan.variants.contains(&Variant::UnsetFirst);
        let unset_last = plan.variants.contains(&Variant::UnsetLast);
        rows.sort_by(|a, b| {
            for &(i, desc) in &plan.order_by {
                let p = &res.fields[i].path;
                let (x, y) = (get_path(a.value, p), get_path(b.value, p));
                let set = |v: Option<&Value>| v.is_some_and(|v| !v.is_null());
                let o = if (unset_first || unset_last) && set(x) != set(y) {
                    // The unset one first (or last), whatever the direction.
                    let o = set(x).cmp(&set(y));
                    if unset_last { o.reverse() } else { o }
                } else {
                    let mut o = compare(x, y);
                    if desc != flip {
                        o = o.reverse();
                    }
                    o
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
    }
    let self_href = || {
        if plan.raw_query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{}", plan.raw_query)
        }
    };
    let mut buf: Vec<u8> = Vec::with_capacity(256 + rows.len() * 320);
    if plan.return_records == Some(false) {
        buf.extend_from_slice(format!("{{\"num_records\":{}", rows.len()).as_bytes());
        if render.hal {
            buf.extend_from_slice(b",\"_links\":{\"self\":{\"href\":");
            write_json(&mut buf, &Value::String(self_href()));
            buf.extend_from_slice(b"}}");
        }
        buf.push(b'}');
        return buf;
    }
    let total = rows.len();
    let start = plan.start.min(total);
    let max = if faults.contains(&Fault::MaxRecordsIgnored) {
        None
    } else {
        plan.max_records
    };
    // The `time-limited-pages` variant: the page ends early, as if return_timeout ran out.
    let limit = match (max, plan.variants.contains(&Variant::TimeLimitedPages)) {
        (Some(m), true) => Some(
            usize::try_from(m)
                .unwrap_or(usize::MAX)
                .min(TIME_LIMITED_PAGE),
        ),
        (Some(m), false) => Some(usize::try_from(m).unwrap_or(usize::MAX)),
        (None, true) => Some(TIME_LIMITED_PAGE),
        (None, false) => None,
    };
    let end = match limit {
        None => total,
        Some(m) => start.saturating_add(m).min(total),
    };
    let page = &rows[start..end];
    let next = (end < total).then_some(end);
    let sel = select(table, plan, Shape::Collection, faults);
    buf.extend_from_slice(b"{\"records\":[");
    for (i, r) in page.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        write_record(&mut buf, table, *r, &sel, render);
    }
    buf.extend_from_slice(format!("],\"num_records\":{}", page.len()).as_bytes());
    let next_href = next.map(|n| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &plan.carry {
            q.append_pair(k, v);
        }
        q.append_pair(START_PARAM, &n.to_string());
        let query = q.finish().replace('+', "%20");
        if plan.variants.contains(&Variant::OpaqueNext) {
            format!("{path}?{TOKEN_PARAM}={}", hex_encode(query.as_bytes()))
        } else {
            format!("{path}?{query}")
        }
    });
    if render.hal || next_href.is_some() {
        buf.extend_from_slice(b",\"_links\":{");
        let mut first = true;
        if render.hal {
            write_key(&mut buf, "self", &mut first);
            buf.extend_from_slice(b"{\"href\":");
            write_json(&mut buf, &Value::String(self_href()));
            buf.push(b'}');
        }
        if let Some(h) = next_href {
            write_key(&mut buf, "next", &mut first);
            buf.extend_from_slice(b"{\"href\":");
            write_json(&mut buf, &Value::String(h));
            buf.push(b'}');
        }
        buf.push(b'}');
    }
    buf.push(b'}');
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(raw: &str, ty: FieldType) -> Filter {
        Filter::parse(0, ty, raw)
    }

    #[test]
    fn operators() {
        let s = FieldType::String;
        let n = FieldType::Integer;
        let v = json!("svm1");
        assert!(f("svm1", s).matches(Some(&v)));
        assert!(!f("SVM1", s).matches(Some(&v)));
        assert!(f("svm*", s).matches(Some(&v)));
        assert!(f("*1", s).matches(Some(&v)));
        assert!(!f("*2", s).matches(Some(&v)));
        assert!(f("!svm2", s).matches(Some(&v)));
        assert!(!f("!svm1", s).matches(Some(&v)));
        assert!(f("svm2|svm1", s).matches(Some(&v)));
        assert!(!f("null", s).matches(Some(&v)));
        assert!(f("!null", s).matches(Some(&v)));
        // An unset field matches only null.
        assert!(f("null", s).matches(None));
        assert!(!f("!null", s).matches(None));
        assert!(!f("!svm1", s).matches(None));
        assert!(!f("*", s).matches(None));
        let two = json!(2);
        assert!(f("<3", n).matches(Some(&two)));
        assert!(!f("<2", n).matches(Some(&two)));
        assert!(f("<=2", n).matches(Some(&two)));
        assert!(f(">1", n).matches(Some(&two)));
        assert!(!f(">2", n).matches(Some(&two)));
        assert!(f(">=2", n).matches(Some(&two)));
        assert!(f("1..3", n).matches(Some(&two)));
        assert!(!f("3..5", n).matches(Some(&two)));
        assert!(f("2", n).matches(Some(&two)));
        assert!(f("true", FieldType::Boolean).matches(Some(&json!(true))));
        assert!(!f("false", FieldType::Boolean).matches(Some(&json!(true))));
        assert!(f("t*", FieldType::Boolean).matches(Some(&json!(true))));
        assert!(!f("t*", FieldType::Boolean).matches(Some(&json!(false))));
        // Text that looks like a range is text on a string field.
        assert!(f("a..b", s).matches(Some(&json!("a..b"))));
    }

    #[test]
    fn globbing() {
        assert!(glob("a*c", "abc"));
        assert!(glob("a*c", "ac"));
        assert!(!glob("a*c", "ab"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxcyyb"));
        assert!(!glob("aa*aa", "aaa"));
    }

    #[test]
    fn rendered_pieces_write_the_same_json_as_the_record() {
        let spec = crate::spec::Spec::builtin();
        let v: Value = serde_json::from_str(crate::mock::store::BUILTIN_FIXTURES).unwrap();
        let store = crate::mock::store::Store::from_value(spec, &v).unwrap();
        let faults_sets: Vec<BTreeSet<Fault>> = vec![
            BTreeSet::new(),
            [Fault::LeakSecret].into(),
            [Fault::FieldsExtra].into(),
        ];
        for fam in &spec.families {
            let res = spec.resource(&fam.resource).unwrap();
            let coll = spec
                .endpoints
                .iter()
                .find(|e| {
                    e.family == fam.family && e.kind() == crate::spec::model::Kind::Collection
                })
                .unwrap();
            let table = Table::new(res, coll.path().to_string(), spec.instance_of(coll));
            let allowed: Vec<String> = ["fields", "filters"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            for q in [
                "",
                "fields=*",
                "fields=owner",
                "fields=comment,scope",
                "scope=svm",
            ] {
                let pairs = parse_query(Some(q)).unwrap();
                // Not every family has every field (duo has no scope).
                let Ok(plan) = Plan::build(
                    spec,
                    &table,
                    &allowed,
                    pairs,
                    q,
                    &BTreeSet::new(),
                    &BTreeSet::new(),
                ) else {
                    continue;
                };
                for faults in &faults_sets {
                    for shape in [Shape::Collection, Shape::Instance] {
                        let sel = select(&table, &plan, shape, faults);
                        for hal in [true, false] {
                            let render = Render { hal };
                            for rec in store.records[&fam.family].iter() {
                                let mut a = Vec::new();
                                let mut b = Vec::new();
                                let cached = Row {
                                    value: rec.value(),
                                    rendered: Some(rec.rendered(&table)),
                                };
                                write_record(&mut a, &table, cached, &sel, render);
                                write_record(&mut b, &table, Row::plain(rec.value()), &sel, render);
                                assert_eq!(
                                    String::from_utf8(a).unwrap(),
                                    String::from_utf8(b).unwrap(),
                                    "{} {q}",
                                    fam.family
                                );
                            }
                        }
                    }
                }
            }
        }
    }

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
