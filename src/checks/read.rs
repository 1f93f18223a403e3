//! Checks that only read: the survey that feeds the passive checks, not-found, unknown and
//! out-of-range parameters, write-only secrets, field selection, filters, paging, ordering and the
//! version gate. Each property draws its cases from the contract and the records the target
//! returned, runs them concurrently, and shrinks the first failure to a minimal request.

use crate::checks::ctx::{Ctx, Expect};
use crate::checks::judge::{
    self, Misreading, allowed_in_selection, compare_values, filter_matches,
};
use crate::checks::property::{self, Case, Failure, Property, property, send_ok};
use crate::checks::records::Records;
use crate::checks::{self};
use crate::client::{Auth, Exchange, Request};
use crate::client::{next_path, with_query};
use crate::generate;
use crate::spec::Endpoint;
use crate::spec::model::{Condition, Kind, Method};
use crate::spec::resource::{Field, FieldType, Resource, find_leaf_below, get_path, leaf_paths};
use crate::undo;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Records of an endpoint's family as discovered (GET collection?fields=**).
pub fn baseline<'a>(ctx: &'a Ctx, ep: &Endpoint) -> &'a Records {
    static NONE: Records = Records::EMPTY;
    baseline_shared(ctx, ep).map_or(&NONE, |r| &**r)
}

/// [`baseline`], shared (for [`crate::undo::Undo::protect_known`], which keeps them).
pub fn baseline_shared<'a>(ctx: &'a Ctx, ep: &Endpoint) -> Option<&'a std::sync::Arc<Records>> {
    if is_nested_collection(ep) {
        // The records under the one parent the collection checks read.
        return ctx.nested.get(&ep.family).map(|(_, r)| r);
    }
    ctx.records.get(&ep.family)
}

/// Whether an endpoint is a collection under a parent's key
/// (`/api/storage/volumes/{volume.uuid}/snapshots`).
pub fn is_nested_collection(ep: &Endpoint) -> bool {
    ep.kind() == Kind::Collection && !ep.path_keys().is_empty()
}

/// The path a collection's checks read: its own, or for a nested collection its path under the
/// parent record discovery chose (None: its parent family has no record; the plan skips the
/// collection's checks then).
pub fn collection_path(ctx: &Ctx, ep: &Endpoint) -> Option<String> {
    if is_nested_collection(ep) {
        ctx.nested.get(&ep.family).map(|(base, _)| base.clone())
    } else {
        Some(ep.path().to_string())
    }
}

/// [`collection_path`], or the endpoint's own path where there is none.
fn path_read(ctx: &Ctx, ep: &Endpoint) -> String {
    collection_path(ctx, ep).unwrap_or_else(|| ep.path().to_string())
}

/// The most pages one walk of the paging check reads (its page sizes start at total / this),
/// but for a family so large that such pages would hold more than
/// [`crate::client::WALK_RECORDS`] records.
pub const PAGING_MAX_PAGES: usize = 16;

/// The records of an endpoint's family that per-record checks touch (`--sample`).
pub fn sampled<'a>(ctx: &'a Ctx, ep: &Endpoint) -> &'a [Value] {
    ctx.sampled
        .get(&ep.family)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// At most `n` records of `records`: those at the places `first` names, then the rest the same
/// ones for the same seed and the same records (ranked by a hash of the seed and each record's
/// identity), kept in their discovery order. A family of `n` records or fewer is taken whole.
pub fn choose_sample(seed: u64, n: usize, ids: &[&str], first: &[usize]) -> Vec<usize> {
    if ids.len() <= n {
        return (0..ids.len()).collect();
    }
    let rank = |id: &str| {
        // FNV-1a of the seed and the identity: stable across builds and platforms.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.to_le_bytes().iter().chain(id.as_bytes()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    let mut order: Vec<(u64, usize)> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| !first.contains(i))
        .map(|(i, id)| (rank(id), i))
        .collect();
    order.sort_unstable();
    let ranked = order.into_iter().map(|(_, i)| i);
    let mut picked: Vec<usize> = first.iter().copied().chain(ranked).take(n).collect();
    picked.sort_unstable();
    picked
}

/// On a family larger than the sample: a filter on its first key field that selects the
/// sampled records, so that a property over the whole collection (filters, ordering) reads a
/// bounded part of it on a large cluster. None when the family is taken whole.
pub fn sample_restriction(ctx: &Ctx, ep: &Endpoint) -> Option<(String, String)> {
    if baseline(ctx, ep).len() <= ctx.settings.sample {
        return None;
    }
    let key = ctx.spec.resource_of(ep).keys.first()?;
    let vals: BTreeSet<String> = sampled(ctx, ep)
        .iter()
        .filter_map(|r| get_path(r, key)?.as_str().map(String::from))
        .filter(|v| generate::filter_safe(v))
        .collect();
    if vals.is_empty() {
        return None;
    }
    Some((key.clone(), vals.into_iter().collect::<Vec<_>>().join("|")))
}

/// A record's identity: its key values joined.
pub fn identity(ep: &Endpoint, ctx: &Ctx, r: &Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (i, k) in ctx.spec.resource_of(ep).keys.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        match get_path(r, k) {
            Some(Value::String(s)) => out.push_str(s),
            Some(v) => {
                let _ = write!(out, "{v}");
            }
            None => out.push_str("(no key)"),
        }
    }
    out
}

/// Paths to GET for an endpoint: the collection itself, or up to `n` discovered records.
pub fn sample_paths(ctx: &Ctx, ep: &Endpoint, n: usize) -> Vec<String> {
    match ep.kind() {
        // A collection larger than the sample is read a page of the sample's size at a time.
        Kind::Collection => {
            let Some(path) = collection_path(ctx, ep) else {
                return Vec::new();
            };
            if baseline(ctx, ep).len() > ctx.settings.sample {
                vec![with_query(
                    &path,
                    &[("max_records", &ctx.settings.sample.to_string())],
                )]
            } else {
                vec![path]
            }
        }
        // Minimal arm (mock-split): a singleton's one record is its path.
        Kind::Singleton => vec![ep.path().to_string()],
        Kind::Instance => sampled(ctx, ep)
            .iter()
            .filter_map(|r| undo::instance_path(ep, r))
            .take(n)
            .collect(),
    }
}

/// Reads each endpoint the way a client would, so that the passive checks judge real answers:
/// the collection with and without `fields=*`, and each record (up to a few) the same ways.
pub async fn survey(ctx: &Ctx, ep: &Endpoint) {
    for path in sample_paths(ctx, ep, 4) {
        ctx.send(
            "response-schema",
            ep,
            Request::get(format!("{path}?fields=*")),
        )
        .await;
        ctx.send("response-schema", ep, Request::get(path.clone()))
            .await;
        ctx.send(
            "response-schema",
            ep,
            Request::get(format!("{path}?fields=*")).accept("application/json"),
        )
        .await;
    }
    ctx.findings.count_cases(1);
}

fn random_instance(ep: &Endpoint, keys: &[String]) -> String {
    let names = ep.path_keys();
    let pairs: Vec<(&str, &str)> = names
        .iter()
        .zip(keys)
        .map(|(n, v)| (*n, v.as_str()))
        .collect();
    ep.render(&pairs)
}

pub async fn not_found(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "not-found";
    let expected = ep
        .documented_error(Method::GET, Condition::NotFound, None)
        .map(|e| e.code.clone())
        .or_else(|| checks::expected_code(ctx.spec, "not-found-code"))
        .unwrap_or_default();
    let not_found = checks::describe(ctx.spec, "not-found-status");
    ctx.findings
        .exercised(&ep.family, format!("code:{expected}"));
    let n = ep.path_keys().len();
    let strategy = proptest::collection::vec(generate::random_key(), n..=n);
    let exp = expected.clone();
    property(
        ctx,
        Property {
            check: C,
            ep,
            method: "GET",
            cases: ctx.settings.cases,
            concurrent: true,
        },
        strategy,
        move |keys: Vec<String>| {
            let exp = exp.clone();
            let not_found = not_found.clone();
            async move {
                let path = random_instance(ep, &keys);
                let Some(x) = ctx.send(C, ep, Request::get(path)).await else {
                    return Case::Skip;
                };
                if x.response.error_code().as_deref() != Some(exp.as_str()) {
                    return Case::Fail(Failure::rule(
                        "not-found-code",
                        format!(
                            "a key that names no record answered {}",
                            x.response.summary()
                        ),
                        x,
                        format!("{not_found} with error code {exp}"),
                    ));
                }
                if !checks::answers(ctx.spec, "not-found-status", &x.response) {
                    return Case::Fail(Failure::rule(
                        "not-found-status",
                        format!(
                            "a key that names no record answered status {}",
                            x.response.status
                        ),
                        x,
                        not_found.clone(),
                    ));
                }
                Case::Pass
            }
        },
    )
    .await;
}

pub async fn unknown_parameter(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "unknown-parameter";
    if !ep.has(Method::GET) {
        // A path that is only written to (an imported `/api/storage/file/clone`: POST only).
        return ctx.findings.skip(C, ep, "no GET on this path");
    }
    let Some(path) = sample_paths(ctx, ep, 1).into_iter().next() else {
        return ctx.findings.skip(C, ep, "no record to read");
    };
    property(
        ctx,
        Property {
            check: C,
            ep,
            method: "GET",
            cases: ctx.settings.cases.min(8),
            concurrent: true,
        },
        generate::unknown_param(),
        |name: String| {
            let path = path.clone();
            async move {
                let Some(x) = ctx
                    .send(C, ep, Request::get(with_query(&path, &[(&name, "1")])))
                    .await
                else {
                    return Case::Skip;
                };
                if !checks::answers(ctx.spec, "unknown-parameter", &x.response) {
                    return Case::Fail(Failure::rule(
                        "unknown-parameter",
                        format!("unknown parameter {name} answered {}", x.response.summary()),
                        x,
                        checks::describe(ctx.spec, "unknown-parameter"),
                    ));
                }
                Case::Pass
            }
        },
    )
    .await;
}

pub async fn parameter_range(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "parameter-range";
    let Some(def) = ep.method(Method::GET) else {
        return; // the registry plans it only where there is a GET
    };
    let Some(path) = sample_paths(ctx, ep, 1).into_iter().next() else {
        return ctx.findings.skip(C, ep, "no record to read");
    };
    let mut probes = Vec::new();
    for name in &def.query {
        let Some(p) = ctx.spec.params.get(name) else {
            continue;
        };
        if let Some(max) = p.schema.get("maximum").and_then(Value::as_i64) {
            probes.push(("parameter-range", name.clone(), (max + 1).to_string()));
        }
        if p.schema.get("type").and_then(Value::as_str) == Some("integer") {
            probes.push(("parameter-type", name.clone(), "not-a-number".to_string()));
        }
    }
    if probes.is_empty() {
        return ctx
            .findings
            .skip(C, ep, "GET takes no parameter with a documented range");
    }
    ctx.findings.ran(C, ep);
    for (rule, name, value) in probes {
        let req = Request::get(with_query(&path, &[(&name, &value)]));
        ctx.expect_answer(
            C,
            ep,
            req,
            Expect {
                rule,
                what: &format!("{name}={value}"),
            },
        )
        .await;
    }
}

pub async fn write_only_secret(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "write-only-secret";
    let res = ctx.spec.resource_of(ep);
    let secrets: Vec<&Field> = res.secrets().collect();
    if secrets.is_empty() {
        return ctx.findings.skip(C, ep, "no write-only field");
    }
    let paths = sample_paths(ctx, ep, 3);
    if paths.is_empty() {
        return ctx.findings.skip(C, ep, "no record to read");
    }
    ctx.findings.ran(C, ep);
    for path in paths {
        let mut asks = vec!["*".to_string(), "**".to_string()];
        asks.extend(secrets.iter().map(|f| f.path.clone()));
        let all: Vec<String> = res.fields.iter().map(|f| f.path.clone()).collect();
        asks.push(all.join(","));
        let mut reqs: Vec<Request> = asks
            .iter()
            .map(|a| Request::get(with_query(&path, &[("fields", a)])))
            .collect();
        reqs.push(Request::get(path.clone()));
        for req in reqs {
            ctx.findings.count_cases(1);
            let Some(x) = ctx.send(C, ep, req).await else {
                continue;
            };
            if !x.response.is_success() {
                continue;
            }
            let Some(json) = &x.response.json else {
                continue;
            };
            for (p, _) in leaf_paths(json) {
                let bare = strip_records(&p);
                if let Some(f) = secrets.iter().find(|f| f.path == bare) {
                    ctx.finding(C, ep, "GET", "write-only-secret")
                        .message(format!(
                            "{} was returned (its value is redacted here)",
                            f.path
                        ))
                        .shown_by(Some(&x), &format!("{} never in a GET answer", f.path))
                        .record();
                }
            }
        }
    }
}

/// `records.3.owner.name` -> `owner.name`.
fn strip_records(p: &str) -> String {
    let mut parts: Vec<&str> = p.split('.').collect();
    if parts.first() == Some(&"records") {
        parts.remove(0);
        if parts.first().is_some_and(|s| s.parse::<usize>().is_ok()) {
            parts.remove(0);
        }
    }
    parts.join(".")
}

/// The records of an answer: `records` of a collection, or the body of an instance (borrowed).
fn answer_records<'a>(ep: &Endpoint, x: &'a Exchange) -> Vec<&'a Value> {
    match ep.kind() {
        Kind::Collection => x
            .response
            .records()
            .map(|r| r.iter().collect())
            .unwrap_or_default(),
        // Minimal arm (mock-split): a singleton answers one record, like an instance.
        Kind::Instance | Kind::Singleton => x.response.json.as_deref().into_iter().collect(),
    }
}

/// Every record of a collection answer and of the pages its `next` links lead to (bounded); None
/// when a page could not be read.
pub async fn all_pages(
    ctx: &Ctx,
    check: &str,
    ep: &Endpoint,
    first: &Exchange,
) -> Option<Vec<Value>> {
    let mut records: Vec<Value> = Vec::new();
    each_page(ctx, check, ep, first, |page| {
        records.extend(page.iter().map(|r| (*r).clone()))
    })
    .await
    .then_some(records)
}

/// Hands the records of a collection answer to `each`, then those of every page its `next`
/// links lead to, one page at a time (a large family is never held whole); false when a page
/// got no answer or an error.
pub async fn each_page(
    ctx: &Ctx,
    check: &str,
    ep: &Endpoint,
    first: &Exchange,
    mut each: impl FnMut(&[&Value]),
) -> bool {
    let mut each = |x: &Exchange| {
        crate::client::heavy_for(x.response.text.len(), || each(&answer_records(ep, x)));
    };
    each(first);
    let mut next = first.response.next_path();
    for _ in 0..1000 {
        let Some(path) = next else { break };
        // The next pages are read as the first was (whole, or only the fields the caller reads).
        let req = Request::get(path).kept(first.request.keep.clone());
        let Some(x) = ctx.send(check, ep, req).await else {
            return false;
        };
        if !x.response.is_success() {
            return false;
        }
        each(&x);
        next = x.response.next_path();
    }
    true
}

/// The check of `fields` ([`field_selection`] and the requests after its property).
const FIELD_SELECTION: &str = "field-selection";

pub async fn field_selection(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = FIELD_SELECTION;
    if !ep.has(Method::GET) {
        // A path that is only written to (an imported `/api/storage/file/clone`: POST only).
        return ctx.findings.skip(C, ep, "no GET on this path");
    }
    let res = ctx.spec.resource_of(ep);
    let base = baseline(ctx, ep);
    let Some(path) = sample_paths(ctx, ep, 1).into_iter().next() else {
        return ctx.findings.skip(C, ep, "no record to read");
    };
    let gettable: Vec<String> = res.gettable().map(|f| f.path.clone()).collect();
    if gettable.is_empty() {
        // A family whose every field is written only (a password change): nothing to select.
        return ctx.findings.skip(C, ep, "no gettable field to select");
    }
    // Looked up by identity and parsed when an answer shows the record, once: every case
    // reads the same record, and parsing it again would decompress its block again.
    let by_id = base.finder();
    let by_id = &by_id;
    let parsed: std::sync::Mutex<std::collections::HashMap<usize, Arc<Value>>> = Default::default();
    let parsed = &parsed;
    let find_base = |r: &Value| {
        let i = by_id.position(&identity(ep, ctx, r))?;
        let mut known = parsed.lock().unwrap();
        if let Some(v) = known.get(&i) {
            return Some(v.clone());
        }
        let v = Arc::new(base.get(i)?);
        // A page of the sample's size, or one record; a target that ignores max_records is
        // not remembered whole.
        if known.len() < 4 * ctx.settings.sample.max(16) {
            known.insert(i, v.clone());
        }
        Some(v)
    };
    property(
        ctx,
        Property {
            check: C,
            ep,
            method: "GET",
            cases: ctx.settings.cases,
            concurrent: true,
        },
        generate::subset(gettable.clone()),
        |want: Vec<String>| {
            let path = path.clone();
            async move {
                let list = want.join(",");
                let req = Request::get(with_query(&path, &[("fields", &list)]));
                let asked = format!("fields={list}");
                let x = match send_ok(ctx, C, ep, req, "fields-subset", &asked).await {
                    Ok(x) => x,
                    Err(end) => return end,
                };
                subset_case(ep, res, &want, &list, x, find_base)
            }
        },
    )
    .await;
    fields_star(ctx, ep, &path, &gettable).await;
    fields_star_star(ctx, ep, &path).await;
    fields_unknown(ctx, ep, &path).await;
    collection_default_fields(ctx, ep, &path).await;
}

/// One case of the `fields=` property: the answer to `fields=LIST` holds no field outside the
/// list (but the keys and `_links`), and every listed field the record has (`find_base`).
fn subset_case(
    ep: &Endpoint,
    res: &Resource,
    want: &[String],
    list: &str,
    x: Exchange,
    find_base: impl Fn(&Value) -> Option<Arc<Value>>,
) -> Case {
    let requested: Vec<&str> = want.iter().map(String::as_str).collect();
    let sel = judge::Selection::new(res, &requested, &[]);
    for r in answer_records(ep, &x) {
        // Not below a link, a field asked for or a key object: every leaf there is allowed.
        if let Some(p) = find_leaf_below(r, |p| !sel.allows_all_below(p), |p, _| !sel.allows(p)) {
            return Case::Fail(Failure::rule(
                "fields-subset",
                format!("fields={list} returned {p}, which was not asked for"),
                x,
                format!("only {list}, the keys and _links"),
            ));
        }
        if let Some(b) = find_base(r) {
            for w in want {
                // The answer's record first: it holds the few fields asked for.
                if get_path(r, w).is_none() && get_path(&b, w).is_some() {
                    return Case::Fail(Failure::rule(
                        "fields-subset",
                        format!(
                            "fields={list} did not return {w}, which has a value ({})",
                            crate::verdict::show_value(get_path(&b, w))
                        ),
                        x,
                        format!("{w} in the answer"),
                    ));
                }
            }
        }
    }
    Case::Pass
}

/// fields=* returns nothing outside the gettable list.
async fn fields_star(ctx: &Ctx, ep: &Endpoint, path: &str, gettable: &[String]) {
    const C: &str = FIELD_SELECTION;
    let res = ctx.spec.resource_of(ep);
    if let Some(x) = ctx
        .send(C, ep, Request::get(with_query(path, &[("fields", "*")])))
        .await
    {
        for r in answer_records(ep, &x) {
            for (p, _) in leaf_paths(r) {
                if !judge::is_link(&p) && !gettable.contains(&p) && res.knows(&p) {
                    ctx.finding(C, ep, "GET", "fields-star")
                        .message(format!("fields=* returned {p}, which is not gettable"))
                        .shown_by(Some(&x), "only gettable fields")
                        .record();
                }
            }
        }
    }
}

/// fields=** holds at least what fields=* holds.
async fn fields_star_star(ctx: &Ctx, ep: &Endpoint, path: &str) {
    const C: &str = FIELD_SELECTION;
    if let (Some(star), Some(all)) = (
        ctx.send(C, ep, Request::get(with_query(path, &[("fields", "*")])))
            .await,
        ctx.send(C, ep, Request::get(with_query(path, &[("fields", "**")])))
            .await,
    ) {
        let common: Vec<Value> = answer_records(ep, &star).into_iter().cloned().collect();
        // By identity, in one pass: a large collection is not compared record by record.
        let every: std::collections::HashMap<String, &Value> = answer_records(ep, &all)
            .into_iter()
            .map(|a| (identity(ep, ctx, a), a))
            .collect();
        'records: for r in &common {
            let id = identity(ep, ctx, r);
            let Some(a) = every.get(&id) else {
                continue;
            };
            for (p, _) in leaf_paths(r) {
                if !judge::is_link(&p) && get_path(a, &p).is_none() {
                    ctx.finding(C, ep, "GET", "fields-star-star")
                        .message(format!("fields=** left out {p}, which fields=* returned"))
                        .shown_by(Some(&all), "every field of fields=*, and maybe more")
                        .record();
                    break 'records;
                }
            }
        }
    }
}

/// An unknown field name.
async fn fields_unknown(ctx: &Ctx, ep: &Endpoint, path: &str) {
    const C: &str = FIELD_SELECTION;
    if let Some(x) = ctx
        .send(
            C,
            ep,
            Request::get(with_query(path, &[("fields", "no_such_field_xyz")])),
        )
        .await
    {
        let r = &x.response;
        if !checks::answers(ctx.spec, "fields-unknown", r) {
            ctx.finding(C, ep, "GET", "fields-unknown")
                .message(format!(
                    "fields=no_such_field_xyz answered {} target {:?}",
                    r.summary(),
                    r.error_target()
                ))
                .shown_by(Some(&x), &checks::describe(ctx.spec, "fields-unknown"))
                .record();
        }
    }
}

/// A collection without fields returns the keys only.
async fn collection_default_fields(ctx: &Ctx, ep: &Endpoint, path: &str) {
    const C: &str = FIELD_SELECTION;
    let res = ctx.spec.resource_of(ep);
    if ep.kind() == Kind::Collection
        && let Some(x) = ctx.send(C, ep, Request::get(path)).await
    {
        let defaults = res.default_collection_fields();
        for r in answer_records(ep, &x) {
            if let Some((p, _)) = leaf_paths(r)
                .into_iter()
                .find(|(p, _)| !allowed_in_selection(res, &defaults, &[], p))
            {
                ctx.finding(C, ep, "GET", "collection-default-fields")
                    .message(format!("a collection GET without fields returned {p}"))
                    .shown_by(
                        Some(&x),
                        &format!("only {} and _links", defaults.join(", ")),
                    )
                    .record();
                break;
            }
        }
    }
}

/// Scalar gettable fields and the values the target returned for them.
fn observed(ctx: &Ctx, ep: &Endpoint) -> Vec<(Field, Vec<Value>)> {
    let res = ctx.spec.resource_of(ep);
    // The sampled records' values: on a large family the filters are restricted to them.
    let base = sampled(ctx, ep);
    res.gettable()
        .filter(|f| !matches!(f.ty, FieldType::Array | FieldType::Object))
        .map(|f| {
            let mut vals: Vec<Value> = base
                .iter()
                .filter_map(|r| get_path(r, &f.path).cloned())
                .collect();
            vals.dedup();
            (f.clone(), vals)
        })
        .collect()
}

pub async fn query_filter(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "query-filter";
    let base = baseline(ctx, ep);
    if base.is_empty() {
        note_readings(ctx, ep, &[], "the collection is empty");
        return ctx.findings.skip(C, ep, "the collection is empty");
    }
    let cands = observed(ctx, ep);
    if cands.is_empty() {
        note_readings(ctx, ep, &[], "no filterable field");
        return ctx
            .findings
            .skip(C, ep, "no filterable field has a value in the records read");
    }
    let strategy = generate::filter_draw(cands.len());
    let cands = &cands;
    let restrict = sample_restriction(ctx, ep);
    let restrict = &restrict;
    // The records a drawn filter is judged against, parsed once: on a large family only those
    // the restriction to the sample selects.
    let pool = restricted_pool(base, restrict.as_ref());
    let pool = &pool;
    let coll = &path_read(ctx, ep);
    let p = Property {
        check: C,
        ep,
        method: "GET",
        cases: ctx.settings.cases,
        concurrent: true,
    };
    // First the cases chosen to tell each wrong reading of the grammar from the right one on
    // these records, whatever the seed; then the drawn ones.
    let chosen = discriminating(cands, pool, restrict.as_ref().map(|(k, _)| k.as_str()));
    let separated: Vec<Misreading> = chosen
        .iter()
        .flat_map(|(_, _, m)| m.iter().copied())
        .collect();
    note_readings(ctx, ep, &separated, "");
    let fixed: Vec<(String, (usize, String))> = chosen
        .into_iter()
        .map(|(i, expr, m)| {
            let wrong: Vec<&str> = m.iter().map(|m| m.description()).collect();
            (
                format!(
                    "was chosen to tell the right reading from: {}",
                    wrong.join("; ")
                ),
                (i, expr),
            )
        })
        .collect();
    let failed = property::chosen(ctx, &p, fixed, |(i, expr)| async move {
        filter_case(ctx, ep, coll, pool, restrict, &cands[i].0, expr).await
    })
    .await;
    if failed {
        return;
    }
    property(ctx, p, strategy, |(i, op, a, b, cut)| async move {
        let (f, vals) = &cands[i];
        let Some(expr) = generate::build_filter(f, vals, op, a, b, cut) else {
            return Case::Skip;
        };
        // On a large family, also restricted to the sampled records (by their keys); a filter
        // on that key itself could select the whole family, so it is not drawn there.
        if restrict.as_ref().is_some_and(|(k, _)| k == &f.path) {
            return Case::Skip;
        }
        filter_case(ctx, ep, coll, pool, restrict, f, expr).await
    })
    .await;
}

/// Per wrong reading of the filter grammar, the first expression (over the candidate fields in
/// order, then [`generate::discriminating_exprs`] in order) whose records differ, on `pool`,
/// between the right reading and the wrong one; one expression may separate several. Returns
/// (field index, expression, the wrong readings it separates). Not on the restriction's key.
fn discriminating(
    cands: &[(Field, Vec<Value>)],
    pool: &[(String, Value)],
    restrict_key: Option<&str>,
) -> Vec<(usize, String, Vec<Misreading>)> {
    let mut open: Vec<Misreading> = Misreading::ALL.to_vec();
    let mut out = Vec::new();
    for (i, (f, vals)) in cands.iter().enumerate() {
        if open.is_empty() {
            break;
        }
        if restrict_key == Some(f.path.as_str()) {
            continue;
        }
        let values: Vec<Option<&Value>> = pool.iter().map(|(_, r)| get_path(r, &f.path)).collect();
        for expr in generate::discriminating_exprs(f, vals) {
            let right: Vec<bool> = values.iter().map(|v| filter_matches(&expr, *v)).collect();
            let (sep, rest): (Vec<Misreading>, Vec<Misreading>) = open.iter().partition(|m| {
                values
                    .iter()
                    .zip(&right)
                    .any(|(v, r)| judge::filter_matches_as(&expr, *v, **m) != *r)
            });
            if !sep.is_empty() {
                open = rest;
                out.push((i, expr, sep));
            }
        }
    }
    out
}

/// Notes for the coverage section which wrong readings of the filter grammar a case of this
/// endpoint told apart, and why the others were not (`why`, or what the records lacked).
fn note_readings(ctx: &Ctx, ep: &Endpoint, separated: &[Misreading], why: &str) {
    for m in Misreading::ALL {
        let note = if separated.contains(m) {
            format!("reading:{}", m.name())
        } else {
            let why = if why.is_empty() { m.needs() } else { why };
            format!("reading-not:{}:{why}", m.name())
        };
        ctx.findings.exercised(&ep.family, note);
    }
}

/// One case of the query-filter property: `field=expr` against the target, the records it
/// returns against those the judge selects from the records read.
async fn filter_case(
    ctx: &Ctx,
    ep: &Endpoint,
    coll: &str,
    pool: &[(String, Value)],
    restrict: &Option<(String, String)>,
    f: &Field,
    expr: String,
) -> Case {
    const C: &str = "query-filter";
    let expr = expr.as_str();
    let mut want: Vec<String> = pool
        .iter()
        .filter(|(_, r)| filter_matches(expr, get_path(r, &f.path)))
        .map(|(id, _)| id.clone())
        .collect();
    want.sort();
    let mut params: Vec<(&str, &str)> = vec![(&f.path, expr)];
    if let Some((k, v)) = restrict {
        params.push((k, v));
    }
    params.push(("fields", "**"));
    let path = with_query(coll, &params);
    let Some(x) = ctx.send(C, ep, Request::get(path)).await else {
        return Case::Skip;
    };
    if !x.response.is_success() {
        return Case::Fail(Failure::rule(
            "query-filter",
            format!("filter {}={expr} answered {}", f.path, x.response.summary()),
            x,
            "200".into(),
        ));
    }
    let Some(all) = all_pages(ctx, C, ep, &x).await else {
        return Case::Skip;
    };
    let mut got: Vec<String> = all.iter().map(|r| identity(ep, ctx, r)).collect();
    got.sort();
    if got != want {
        return Case::Fail(Failure::rule(
            "query-filter",
            format!(
                "filter {}={expr} returned {got:?}; the unfiltered collection filtered client-side gives {want:?}",
                f.path
            ),
            x,
            format!("records {want:?}"),
        ));
    }
    Case::Pass
}

pub async fn paging(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "paging";
    let base = baseline(ctx, ep);
    let total = base.len();
    // Every identity by a 96-bit hash of it: a large family's walk is compared without a
    // second copy of every identity, let alone two sorted ones.
    let want = &crate::client::heavy_pass(base.len(), || WalkTally::expected(base));
    let coll = &path_read(ctx, ep);
    // Page sizes that read the collection in at most PAGING_MAX_PAGES pages: on a large cluster a
    // walk costs a bounded number of requests, not one per record.
    let mut smallest = total.div_ceil(PAGING_MAX_PAGES).max(1);
    // A family larger than the sample is walked whole twice, not eight times, in 8 to 16
    // pages (no answer holds all of a large cluster's records), and in pages of WALK_RECORDS
    // records at most: each record of a page is built as a `Value` (1.3 KB for a TOTP
    // profile's two keys) and a large family's two walks run at once with the other families'.
    // At 100,000 SVMs pages of up to 25,000 took the paging check's peak RSS from 76 to 155 MB;
    // pages of 2,000 hold it at 97, for 414 more requests (`docs/performance.md`).
    let large = total > ctx.settings.sample;
    let (walks, largest) = if large {
        let most = crate::client::WALK_RECORDS;
        smallest = smallest.min(most / 2);
        (
            2,
            total.div_ceil(PAGING_MAX_PAGES / 2).clamp(smallest, most),
        )
    } else {
        (8, total.max(1) + 1)
    };
    // A large family's walks ask for the key fields only: paging is judged by the records'
    // identities (their keys), discovery has already read and judged every field of every
    // record, and answers of a few fields cost the target and the harness a fraction.
    let keys = &ctx.spec.resource_of(ep).keys;
    let keys_only = large
        && !keys.is_empty()
        && ep
            .method(Method::GET)
            .is_some_and(|g| g.query.iter().any(|p| p == "fields"));
    let coll = &if keys_only {
        with_query(coll, &[("fields", &keys.join(","))])
    } else {
        coll.clone()
    };
    // Only the keys are read of a large family's pages: the rest of each record is not built.
    let keep = &keys_only
        .then(|| crate::client::slim::Keep::fields(keys.iter().map(String::as_str)))
        .flatten()
        .map(std::sync::Arc::new);
    property(
        ctx,
        Property {
            check: C,
            ep,
            method: "GET",
            cases: ctx.settings.cases.min(walks),
            concurrent: true,
        },
        smallest..=largest,
        |n: usize| async move {
            let mut path = with_query(coll, &[("max_records", &n.to_string())]);
            let mut seen = WalkTally::new(want);
            for _page in 0..total + 3 {
                let req = Request::get(path.clone()).kept(keep.clone());
                let asked = format!("max_records={n}");
                let x = match send_ok(ctx, C, ep, req, "paging-max-records", &asked).await {
                    Ok(x) => x,
                    Err(end) => return end,
                };
                let records = answer_records(ep, &x);
                let count = records.len();
                let num = x.response.num_records();
                if count > n {
                    return Case::Fail(Failure::rule(
                        "paging-max-records",
                        format!("max_records={n} returned {count} records"),
                        x,
                        format!("at most {n} records"),
                    ));
                }
                if num != Some(count as u64) {
                    return Case::Fail(Failure::rule(
                        "num-records",
                        format!("num_records is {num:?} for {count} records"),
                        x,
                        format!("num_records {count}"),
                    ));
                }
                crate::client::heavy_for(x.response.text.len(), || {
                    for r in records {
                        seen.add(identity(ep, ctx, r), want);
                    }
                });
                let next = x
                    .response
                    .json
                    .as_ref()
                    .and_then(|j| j.pointer("/_links/next/href"))
                    .and_then(Value::as_str)
                    .map(String::from);
                match next {
                    Some(href) if seen.count >= total => {
                        return Case::Fail(Failure::rule(
                            "paging-next",
                            format!("after all {total} records a next link remains ({href})"),
                            x,
                            "no next link on the last page".into(),
                        ));
                    }
                    Some(href) => match x.response.next_path() {
                        Some(p) => path = p,
                        None => {
                            return Case::Fail(Failure::rule(
                                "paging-next",
                                format!("the next link {href:?} is not a URL path"),
                                x,
                                "a next link to a path (/api/...)".into(),
                            ));
                        }
                    },
                    None if seen.count < total => {
                        return Case::Fail(Failure::rule(
                            "paging-next",
                            format!("no next link after {} of {total} records", seen.count),
                            x,
                            "a next link while records remain".into(),
                        ));
                    }
                    None => {
                        if let Some(wrong) = seen.differs(base, want) {
                            return Case::Fail(Failure::rule(
                                "paging-next",
                                format!(
                                    "following next with max_records={n} gave {} records: {wrong}",
                                    seen.count
                                ),
                                x,
                                format!("every one of the {total} records once"),
                            ));
                        }
                        return Case::Pass;
                    }
                }
            }
            Case::Fail(Failure::plain(
                "paging-next",
                format!("next links did not end after {} pages", total + 3),
            ))
        },
    )
    .await;
    return_records_false(ctx, ep, total).await;
    paging_keeps_query(ctx, ep).await;
}

/// The identities a paged walk returned, counted by their place in [`Expected`], with the first
/// few that came twice or are not in the collection, by name.
struct WalkTally {
    count: usize,
    /// How many times each identity came, by its place in [`Expected`] (4 bytes an identity a
    /// walk, where a map of their hashes took 24 and its slack; a large family is walked twice
    /// at once).
    seen: Vec<u32>,
    repeats: usize,
    unknowns: usize,
    repeated: Vec<String>,
    unknown: Vec<String>,
}

/// Identities a message names, at most, of each kind.
const NAMED: usize = 5;

/// Each identity of a family (by [`undo::path_hash`]): how many of its records have it (records
/// listed twice at discovery, such as two without keys, may come twice again) and its place
/// (the identities numbered as first seen).
type Expected = undo::PathMap<(u32, u32)>;

impl WalkTally {
    fn expected(base: &Records) -> Expected {
        let mut want = Expected::with_capacity_and_hasher(base.len(), Default::default());
        for id in base.ids() {
            let next = want.len() as u32;
            want.entry(undo::path_hash(id)).or_insert((0, next)).0 += 1;
        }
        want
    }

    /// A walk against `want`: nothing seen yet.
    fn new(want: &Expected) -> WalkTally {
        WalkTally {
            count: 0,
            seen: vec![0; want.len()],
            repeats: 0,
            unknowns: 0,
            repeated: Vec::new(),
            unknown: Vec::new(),
        }
    }

    fn add(&mut self, id: String, want: &Expected) {
        self.count += 1;
        let h = undo::path_hash(&id);
        let Some(&(most, place)) = want.get(&h) else {
            self.unknowns += 1;
            if self.unknown.len() < NAMED {
                self.unknown.push(id);
            }
            return;
        };
        let n = &mut self.seen[place as usize];
        *n += 1;
        if *n > most {
            self.repeats += 1;
            if self.repeated.len() < NAMED {
                self.repeated.push(id);
            }
        }
    }

    /// What is wrong with the walk, when it did not return every record of `base` once.
    fn differs(&self, base: &Records, want: &Expected) -> Option<String> {
        // No identity came more often than the family has it, and as many came as it has
        // records: each came exactly as often.
        if self.count == base.len() && self.unknowns == 0 && self.repeats == 0 {
            return None;
        }
        let mut parts = Vec::new();
        let had = |place: u32| self.seen[place as usize];
        let absent: usize = want
            .values()
            .map(|&(n, place)| n.saturating_sub(had(place)) as usize)
            .sum();
        if absent > 0 {
            let mut named = std::collections::HashSet::new();
            let missing: Vec<&str> = base
                .ids()
                .filter(|id| {
                    let h = undo::path_hash(id);
                    let (n, place) = want[&h];
                    had(place) < n && named.insert(h)
                })
                .take(NAMED)
                .collect();
            parts.push(format!("{absent} missing (such as {missing:?})"));
        }
        if self.repeats > 0 {
            parts.push(format!(
                "{} repeated (such as {:?})",
                self.repeats, self.repeated
            ));
        }
        if self.unknowns > 0 {
            parts.push(format!(
                "{} not in the collection (such as {:?})",
                self.unknowns, self.unknown
            ));
        }
        Some(parts.join(", "))
    }
}

/// Filters the query case of the paging check draws from, at most.
const PAGING_QUERY_FILTERS: usize = 32;

/// The next link keeps the query: a filtered collection read with `order_by`, `fields` (the
/// ordered field) and a `max_records` that cuts it into two pages or more is walked page by page.
/// Every page holds only records the filter selects, each with the field asked for (where the
/// record has it); all pages together are the filtered records, each once, in the order asked
/// across page boundaries. The filters are exact values (or their negation) the target returned
/// that select two records or more and leave one out: a next link that lost the filter would
/// read other records.
async fn paging_keeps_query(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "paging";
    let documents = |q: &str| {
        ep.method(Method::GET)
            .is_some_and(|g| g.query.iter().any(|p| p == q))
    };
    if !["filters", "order_by", "fields"].into_iter().all(documents) {
        return ctx.findings.skip(
            C,
            ep,
            "its GET does not document filters, order_by and fields (a next link keeping them is not judged)",
        );
    }
    let base = baseline(ctx, ep);
    let restrict = sample_restriction(ctx, ep);
    let pool = restricted_pool(base, restrict.as_ref());
    let obs = observed(ctx, ep);
    let mut filters: Vec<(String, String, Vec<String>)> = Vec::new();
    'fields: for (f, vals) in &obs {
        if restrict.as_ref().is_some_and(|(k, _)| k == &f.path) {
            continue;
        }
        let mut tried = BTreeSet::new();
        for v in vals {
            for op in [generate::FilterOp::Exact, generate::FilterOp::Not] {
                let Some(expr) = generate::build_filter(f, std::slice::from_ref(v), op, 0, 0, 1)
                else {
                    continue;
                };
                if !tried.insert(expr.clone()) {
                    continue;
                }
                let mut ids: Vec<String> = pool
                    .iter()
                    .filter(|(_, r)| filter_matches(&expr, get_path(r, &f.path)))
                    .map(|(id, _)| id.clone())
                    .collect();
                if ids.len() >= 2 && ids.len() < pool.len() {
                    ids.sort();
                    filters.push((f.path.clone(), expr, ids));
                    if filters.len() >= PAGING_QUERY_FILTERS {
                        break 'fields;
                    }
                }
            }
        }
    }
    // Fields to order by: those with two values or more.
    let orders: Vec<&str> = obs
        .iter()
        .filter(|(_, v)| {
            v.iter()
                .map(Value::to_string)
                .collect::<BTreeSet<_>>()
                .len()
                >= 2
        })
        .map(|(f, _)| f.path.as_str())
        .collect();
    if filters.is_empty() || orders.is_empty() {
        const WHY: &str = "no filter on the records read selects two records or more and leaves one out, with a field of two values to order by";
        ctx.findings.case(&ep.family, "paging-next-query", Err(WHY));
        return ctx.findings.skip(
            C,
            ep,
            format!("{WHY} (a next link keeping the query is not judged)"),
        );
    }
    ctx.findings.case(&ep.family, "paging-next-query", Ok(()));
    let by_id = base.finder();
    let (filters, orders, by_id, restrict) = (&filters, &orders, &by_id, &restrict);
    let coll = &path_read(ctx, ep);
    property(ctx, Property { check: C, ep, method: "GET", cases: ctx.settings.cases.min(8), concurrent: true }, (0..filters.len(), 0..orders.len(), proptest::bool::ANY, 0..PAGING_MAX_PAGES), |(i, j, desc, size)| async move {
        let (field, expr, want) = &filters[i];
        let of = orders[j];
        let k = want.len();
        // A page size that cuts the selected records into 2 to PAGING_MAX_PAGES pages.
        let smallest = k.div_ceil(PAGING_MAX_PAGES).max(1);
        let largest = (k - 1).max(smallest);
        let n = smallest + size % (largest - smallest + 1);
        let order = if desc { format!("{of} desc") } else { of.to_string() };
        let n_text = n.to_string();
        let mut params: Vec<(&str, &str)> = vec![(field, expr)];
        if let Some((rk, rv)) = restrict {
            params.push((rk, rv));
        }
        params.extend([("order_by", order.as_str()), ("fields", of), ("max_records", &n_text)]);
        let asked = format!("{field}={expr}, order_by={order}, fields={of}, max_records={n}");
        let mut path = with_query(coll, &params);
        let mut first: Option<Exchange> = None;
        let mut seen: Vec<String> = Vec::new();
        let mut vals: Vec<Value> = Vec::new();
        for page in 1..=k + 3 {
            let Some(x) = ctx.send(C, ep, Request::get(path.clone())).await else { return Case::Skip };
            if !x.response.is_success() {
                return Case::Fail(Failure::rule("paging-next-query", format!("page {page} of {asked} answered {}", x.response.summary()), x, "200".into()));
            }
            for r in answer_records(ep, &x) {
                let id = identity(ep, ctx, r);
                if want.binary_search(&id).is_err() {
                    return Case::Fail(Failure::rule("paging-next-query", format!("page {page} of {asked} holds record {id}, which the filter does not select"), x, format!("only the records {want:?}")));
                }
                let had = by_id.position(&id).and_then(|p| base.get(p)).and_then(|b| get_path(&b, of).filter(|v| !v.is_null()).cloned());
                // An unset value is left out of the order (where it goes is a freedom, section 3b).
                match get_path(r, of).filter(|v| !v.is_null()) {
                    Some(v) => vals.push(v.clone()),
                    None if had.is_some() => {
                        return Case::Fail(Failure::rule("paging-next-query", format!("page {page} of {asked} left out {of} of record {id}, which has a value ({})", crate::verdict::show_value(had.as_ref())), x, format!("{of} in every record of every page")));
                    }
                    None => {}
                }
                seen.push(id);
            }
            let next = x.response.next_path();
            if first.is_none() {
                first = Some(x);
            }
            match next {
                Some(p) => path = p,
                None => {
                    let x = first.expect("the first page was read");
                    let mut got = seen.clone();
                    got.sort();
                    if &got != want {
                        return Case::Fail(Failure::rule("paging-next-query", format!("following next from {asked} gave {seen:?}; the filter selects {want:?}, each once"), x, format!("records {want:?}")));
                    }
                    return order_case("paging-next-query", of, &order, desc, &vals, x);
                }
            }
        }
        Case::Fail(Failure::plain("paging-next-query", format!("next links of {asked} did not end after {} pages", k + 3)))
    })
    .await;
}

/// `return_records=false` answers the count without records. An answer cut by the time limit
/// (`return_timeout`, NetApp's conventions) carries a next link: it is followed and the counts
/// are summed.
async fn return_records_false(ctx: &Ctx, ep: &Endpoint, total: usize) {
    const C: &str = "paging";
    let mut path = with_query(&path_read(ctx, ep), &[("return_records", "false")]);
    let mut sum = 0u64;
    for _ in 0..PAGING_MAX_PAGES * 4 {
        let Some(x) = ctx.send(C, ep, Request::get(path)).await else {
            return;
        };
        let json = x.response.json.as_deref().cloned().unwrap_or(Value::Null);
        let num = json.get("num_records").and_then(Value::as_u64);
        let records = json
            .get("records")
            .is_some_and(|r| r.as_array().is_some_and(|a| !a.is_empty()));
        sum += num.unwrap_or(0);
        let next = next_path(&json);
        if num.is_none() || records || (next.is_none() && sum != total as u64) {
            ctx.finding(C, ep, "GET", "return-records")
                .message(format!(
                    "return_records=false answered num_records {num:?} with records {}{}",
                    if json.get("records").is_some() {
                        "present"
                    } else {
                        "absent"
                    },
                    if sum != num.unwrap_or(0) {
                        format!(" ({sum} counted over the pages)")
                    } else {
                        String::new()
                    }
                ))
                .shown_by(Some(&x), &format!("num_records {total} and no records"))
                .record();
            return;
        }
        match next {
            Some(p) => path = p,
            None => return,
        }
    }
}

pub async fn ordering(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "ordering";
    let cands: Vec<(Field, Vec<Value>)> = observed(ctx, ep)
        .into_iter()
        .filter(|(_, v)| {
            v.iter()
                .map(|x| x.to_string())
                .collect::<BTreeSet<_>>()
                .len()
                >= 2
        })
        .collect();
    if cands.is_empty() {
        return ctx
            .findings
            .skip(C, ep, "no field has two different values");
    }
    let cands = &cands;
    let restrict = sample_restriction(ctx, ep);
    let restrict = &restrict;
    let coll = &path_read(ctx, ep);
    property(
        ctx,
        Property {
            check: C,
            ep,
            method: "GET",
            cases: ctx.settings.cases.min(12),
            concurrent: true,
        },
        (0..cands.len(), 0..3usize),
        |(i, dir)| async move {
            let f = &cands[i].0;
            let order = match dir {
                0 => f.path.clone(),
                1 => format!("{} asc", f.path),
                _ => format!("{} desc", f.path),
            };
            let (x, all) =
                match ordered_read(ctx, ep, coll, &order, restrict.as_ref(), "order-by").await {
                    Ok(read) => read,
                    Err(case) => return case,
                };
            // Unset values (absent or JSON null) go first or last at the target's choice (§3b).
            let vals: Vec<Value> = all
                .iter()
                .filter_map(|r| get_path(r, &f.path).filter(|v| !v.is_null()).cloned())
                .collect();
            order_case("order-by", &f.path, &order, dir == 2, &vals, x)
        },
    )
    .await;
    order_by_two_keys(ctx, ep).await;
}

/// One `order_by` read of an ordering case: the collection ordered by `order` (on a large family
/// only the sampled records, by their keys), every page of it; Err is the case's end (a refusal
/// fails `rule`, a read cut short skips).
async fn ordered_read(
    ctx: &Ctx,
    ep: &Endpoint,
    coll: &str,
    order: &str,
    restrict: Option<&(String, String)>,
    rule: &str,
) -> Result<(Exchange, Vec<Value>), Case> {
    const C: &str = "ordering";
    let mut params: Vec<(&str, &str)> = vec![("order_by", order), ("fields", "**")];
    if let Some((k, v)) = restrict {
        params.push((k, v));
    }
    let Some(x) = ctx
        .send(C, ep, Request::get(with_query(coll, &params)))
        .await
    else {
        return Err(Case::Skip);
    };
    if !x.response.is_success() {
        return Err(Case::Fail(Failure::rule(
            rule,
            format!("order_by={order} answered {}", x.response.summary()),
            x,
            "200".into(),
        )));
    }
    let Some(all) = all_pages(ctx, C, ep, &x).await else {
        return Err(Case::Skip);
    };
    Ok((x, all))
}

/// The records of a family a property over the whole collection is judged against, with their
/// identities: on a large family only those its restriction to the sample selects.
fn restricted_pool(base: &Records, restrict: Option<&(String, String)>) -> Vec<(String, Value)> {
    let Some((key, expr)) = restrict else {
        return base.ids().map(String::from).zip(base.iter()).collect();
    };
    // The restriction is the first key's sampled values, and an identity begins with the first
    // key's value (see [`identity`]): only records whose identity begins with one are parsed.
    let starts: Vec<&str> = expr.split('|').collect();
    (0..base.len())
        .zip(base.ids())
        .filter(|(_, id)| starts.iter().any(|s| id.starts_with(s)))
        .filter_map(|(i, id)| Some((id.to_string(), base.get(i)?)))
        .filter(|(_, r)| filter_matches(expr, get_path(r, key)))
        .collect()
}

/// `order_by` with two keys (NetApp's REST conventions, ONTAP-BEHAVIOR.md section 7: `order_by=type
/// desc, id asc`): pairs whose first field has a value shared by two records or more, and whose
/// second field differs among some of those records; the answer (all its pages) is sorted by the
/// first, and each run of equal first values by the second, each in its own direction. Records
/// whose field is unset are left out of the comparison (where they go is a freedom, section 3b).
async fn order_by_two_keys(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "ordering";
    let restrict = sample_restriction(ctx, ep);
    let pool = restricted_pool(baseline(ctx, ep), restrict.as_ref());
    let fields: Vec<String> = observed(ctx, ep)
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(f, _)| f.path)
        .collect();
    let text = |r: &Value, p: &str| {
        get_path(r, p)
            .filter(|v| !v.is_null())
            .map(|v| v.to_string())
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for a in &fields {
        // The records of each value of `a` shared by two records or more.
        let mut ties: std::collections::BTreeMap<String, Vec<&Value>> = Default::default();
        for (_, r) in &pool {
            if let Some(t) = text(r, a) {
                ties.entry(t).or_default().push(r);
            }
        }
        for b in fields.iter().filter(|b| *b != a) {
            let splits = ties.values().any(|group| {
                group
                    .iter()
                    .filter_map(|r| text(r, b))
                    .collect::<BTreeSet<_>>()
                    .len()
                    >= 2
            });
            if splits {
                pairs.push((a.clone(), b.clone()));
            }
        }
    }
    if pairs.is_empty() {
        const WHY: &str =
            "no field has a value shared by two records that another field tells apart";
        ctx.findings.case(&ep.family, "order-by-keys", Err(WHY));
        return ctx
            .findings
            .skip(C, ep, format!("{WHY} (two-key order_by)"));
    }
    ctx.findings.case(&ep.family, "order-by-keys", Ok(()));
    let pairs = &pairs;
    let restrict = &restrict;
    let coll = &path_read(ctx, ep);
    property(
        ctx,
        Property {
            check: C,
            ep,
            method: "GET",
            cases: ctx.settings.cases.min(12),
            concurrent: true,
        },
        (0..pairs.len(), 0..3usize, 0..3usize, proptest::bool::ANY),
        |(i, da, db, spaced)| async move {
            let (a, b) = &pairs[i];
            let dir = |d: usize| match d {
                0 => "",
                1 => " asc",
                _ => " desc",
            };
            let sep = if spaced { ", " } else { "," };
            let order = format!("{a}{}{sep}{b}{}", dir(da), dir(db));
            let (x, all) =
                match ordered_read(ctx, ep, coll, &order, restrict.as_ref(), "order-by-keys").await
                {
                    Ok(read) => read,
                    Err(case) => return case,
                };
            // The records with the first field set, in the answer's order.
            let firsts: Vec<(&Value, Option<&Value>)> = all
                .iter()
                .filter_map(|r| {
                    let v = get_path(r, a).filter(|v| !v.is_null())?;
                    Some((v, get_path(r, b).filter(|v| !v.is_null())))
                })
                .collect();
            let vals: Vec<Value> = firsts.iter().map(|(v, _)| (*v).clone()).collect();
            if let Case::Fail(f) = order_case("order-by-keys", a, &order, da == 2, &vals, x.clone())
            {
                return Case::Fail(f);
            }
            // Each run of equal first values, sorted by the second.
            for run in firsts.chunk_by(|p, q| compare_values(p.0, q.0) == std::cmp::Ordering::Equal)
            {
                let seconds: Vec<Value> = run.iter().filter_map(|(_, s)| s.cloned()).collect();
                if let Case::Fail(mut f) =
                    order_case("order-by-keys", b, &order, db == 2, &seconds, x.clone())
                {
                    f.message = format!(
                        "{}, among the records whose {a} is {}",
                        f.message,
                        crate::verdict::show_value(Some(run[0].0))
                    );
                    f.expected = format!("{} among records of equal {a}", f.expected);
                    return Case::Fail(f);
                }
            }
            Case::Pass
        },
    )
    .await;
}

/// One case of the `order_by` property: the values of `field`, in the order the answer gave
/// them, ascending (or `descending`).
fn order_case(
    rule: &str,
    field: &str,
    order: &str,
    descending: bool,
    vals: &[Value],
    x: Exchange,
) -> Case {
    for w in vals.windows(2) {
        let o = compare_values(&w[0], &w[1]);
        let bad = if descending {
            o == std::cmp::Ordering::Less
        } else {
            o == std::cmp::Ordering::Greater
        };
        if bad {
            let shown: Vec<String> = vals
                .iter()
                .map(|v| crate::verdict::show_value(Some(v)))
                .collect();
            return Case::Fail(Failure::rule(
                rule,
                format!(
                    "order_by={order} returned {} in the order {}",
                    field,
                    shown.join(", ")
                ),
                x,
                format!(
                    "{} sorted {}",
                    field,
                    if descending {
                        "descending"
                    } else {
                        "ascending"
                    }
                ),
            ));
        }
    }
    Case::Pass
}

pub async fn version_gate(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "version-gate";
    if ep.kind() == Kind::Instance {
        return ctx.findings.skip(
            C,
            ep,
            "judged on its collection (a random key answers 404 either way)",
        );
    }
    ctx.findings.ran(C, ep);
    let what = format!(
        "introduced in {}, but ONTAP {}",
        ep.def.introduced_in, ctx.version
    );
    ctx.expect_answer(
        C,
        ep,
        Request::get(path_read(ctx, ep)),
        Expect {
            rule: "version-gate",
            what: &what,
        },
    )
    .await;
}

/// auth-required: no credentials, and a wrong password, answer 401.
pub async fn auth_required(ctx: &Ctx, ep: &Endpoint) {
    const C: &str = "auth-required";
    let Some(path) = sample_paths(ctx, ep, 1).into_iter().next() else {
        return ctx.findings.skip(C, ep, "no record to read");
    };
    ctx.findings.ran(C, ep);
    for (auth, what) in [
        (Auth::None, "no credentials"),
        (Auth::Wrong, "a wrong password"),
    ] {
        let req = Request::get(format!("{path}?fields=*")).auth(auth);
        ctx.expect_answer(
            C,
            ep,
            req,
            Expect {
                rule: "auth-required",
                what: &format!("a GET with {what}"),
            },
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn family(ids: &[&str]) -> Records {
        let mut r = Records::default();
        for id in ids {
            r.push(id.to_string(), &json!({"uuid": id}));
        }
        r
    }

    fn walk(base: &Records, got: &[&str]) -> Option<String> {
        let want = WalkTally::expected(base);
        let mut t = WalkTally::new(&want);
        for id in got {
            t.add(id.to_string(), &want);
        }
        t.differs(base, &want)
    }

    #[test]
    fn a_walk_is_every_record_once_in_any_order_and_says_what_is_wrong_otherwise() {
        let base = family(&["a", "b", "c", "d"]);
        assert_eq!(walk(&base, &["d", "b", "a", "c"]), None);
        assert_eq!(
            walk(&base, &["a", "b", "b", "c"]).as_deref(),
            Some(r#"1 missing (such as ["d"]), 1 repeated (such as ["b"])"#)
        );
        assert_eq!(
            walk(&base, &["a", "b", "c", "d", "e"]).as_deref(),
            Some(r#"1 not in the collection (such as ["e"])"#)
        );
        assert_eq!(
            walk(&base, &["a", "b", "c"]).as_deref(),
            Some(r#"1 missing (such as ["d"])"#)
        );
        // Records listed twice at discovery (two without keys) may come twice again.
        let twice = family(&["a", "(no key)", "(no key)"]);
        assert_eq!(walk(&twice, &["(no key)", "a", "(no key)"]), None);
        assert!(walk(&twice, &["(no key)", "a", "a"]).is_some());
    }
}
