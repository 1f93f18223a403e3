//! A collection GET's answer: the filtered, ordered records cut into a page by `max_records`
//! and the paging position, `_links.next` when more records follow (the query with
//! `start.index`, or an opaque `next_token` under the `opaque-next` variant), `num_records`,
//! and the count alone for `return_records=false`. Written straight as JSON text.

use super::project::{write_json, write_key};
use super::{
    QueryPlan, ReadKind, Render, Row, START_PARAM, ServedResource, TOKEN_PARAM, matching, order,
};
use super::{select, write_record};
use crate::mock::faults::Fault;
use crate::mock::variants::{TIME_LIMITED_PAGE, Variant};
use serde_json::Value;
use std::collections::BTreeSet;

/// The records a collection GET lists, filtered and ordered as the plan asks (the `filter-*` and
/// `order-*` faults and the `unset-*` variants included), as the positions the caller gave them:
/// what [`collection_get`] pages through. Paging plays no part, so one listing serves every page
/// of a walk (see [`crate::mock::query::Listings`]).
pub fn list<'r>(
    table: &ServedResource,
    plan: &QueryPlan,
    records: impl Iterator<Item = (u64, Row<'r>)>,
    faults: &BTreeSet<Fault>,
) -> Vec<u64> {
    let mut rows = matching::filter(table, &plan.filters, records.collect(), faults);
    order::sort(table, plan, &mut rows, faults);
    rows.into_iter().map(|(pos, _)| pos).collect()
}

/// Whether a collection GET with this plan answers part of its listing (a page, or a count cut
/// short): then a paged walk asks for the same listing again and again, and a caller keeps it.
pub fn pages(plan: &QueryPlan, faults: &BTreeSet<Fault>) -> bool {
    plan.start > 0
        || if plan.return_records == Some(false) {
            plan.variants.contains(&Variant::TimeLimitedCounts)
        } else {
            page_limit(plan, faults).is_some()
        }
}

/// Answers a collection GET from its listing (see [`list`]): `listed` are the positions of the
/// records in answer order, and `row` finds the record at a position. Only the records of the
/// page are looked at, so a page costs the same wherever it is in the listing. Writes the answer
/// as JSON text. `path` is the collection's path as requested (a nested one with its parents'
/// keys filled in), which its `self` and `next` links name.
pub fn collection_get<'r>(
    table: &ServedResource,
    path: &str,
    listed: &[u64],
    row: impl Fn(u64) -> Option<Row<'r>>,
    plan: &QueryPlan,
    render: Render,
    faults: &BTreeSet<Fault>,
) -> Vec<u8> {
    let self_href = || {
        if plan.raw_query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{}", plan.raw_query)
        }
    };
    let total = listed.len();
    if plan.return_records == Some(false) {
        let mut buf: Vec<u8> = Vec::with_capacity(256);
        // Under time-limited-counts, a count stops after a few records with a next link to
        // count on from, as if return_timeout ran out.
        let (start, end) = if plan.variants.contains(&Variant::TimeLimitedCounts) {
            let start = plan.start.min(total);
            (start, start.saturating_add(TIME_LIMITED_PAGE).min(total))
        } else {
            (0, total)
        };
        buf.extend_from_slice(format!("{{\"num_records\":{}", end - start).as_bytes());
        let next = (end < total).then(|| next_href(path, plan, end, faults));
        write_links(&mut buf, render.hal.then(self_href), next);
        buf.push(b'}');
        return buf;
    }
    let start = plan.start.min(total);
    let end = match page_limit(plan, faults) {
        None => total,
        Some(m) => start.saturating_add(m).min(total),
    };
    let page = &listed[start..end];
    let sel = select(table, plan, ReadKind::Collection, faults);
    let mut buf: Vec<u8> = Vec::with_capacity(256 + page.len() * 320);
    buf.extend_from_slice(b"{\"records\":[");
    let mut shown = 0usize;
    for r in page.iter().filter_map(|&pos| row(pos)) {
        if shown > 0 {
            buf.push(b',');
        }
        write_record(&mut buf, table, r, &sel, render);
        shown += 1;
    }
    buf.extend_from_slice(format!("],\"num_records\":{shown}").as_bytes());
    let next = (end < total).then(|| next_href(path, plan, end, faults));
    write_links(&mut buf, render.hal.then(self_href), next);
    buf.push(b'}');
    buf
}

/// `,"_links":{...}` with a `self` link (HAL answers) and a `next` link (more records follow);
/// nothing when there is neither.
fn write_links(buf: &mut Vec<u8>, self_href: Option<String>, next: Option<String>) {
    if self_href.is_none() && next.is_none() {
        return;
    }
    buf.extend_from_slice(b",\"_links\":{");
    let mut first = true;
    if let Some(h) = self_href {
        write_link(buf, "self", h, &mut first);
    }
    if let Some(h) = next {
        write_link(buf, "next", h, &mut first);
    }
    buf.push(b'}');
}

/// How many records a page holds at most: `max_records` (unless the `max-records-ignored`
/// fault is on), cut to [`TIME_LIMITED_PAGE`] under the `time-limited-pages` variant, as if
/// return_timeout ran out; None: every record.
fn page_limit(plan: &QueryPlan, faults: &BTreeSet<Fault>) -> Option<usize> {
    let max = if faults.contains(&Fault::MaxRecordsIgnored) {
        None
    } else {
        plan.max_records
    };
    match (max, plan.variants.contains(&Variant::TimeLimitedPages)) {
        (Some(m), true) => Some(
            usize::try_from(m)
                .unwrap_or(usize::MAX)
                .min(TIME_LIMITED_PAGE),
        ),
        (Some(m), false) => Some(usize::try_from(m).unwrap_or(usize::MAX)),
        (None, true) => Some(TIME_LIMITED_PAGE),
        (None, false) => None,
    }
}

/// The `next` link of a page that ends before record `n`: the request's query with the paging
/// position, or the whole of it hex-encoded under the `opaque-next` variant. The
/// `next-drops-query` fault keeps only the parameters that are neither a filter nor `order_by`.
fn next_href(path: &str, plan: &QueryPlan, n: usize, faults: &BTreeSet<Fault>) -> String {
    const KEPT_WHEN_DROPPING: &[&str] =
        &["fields", "max_records", "return_records", "return_timeout"];
    let drops = faults.contains(&Fault::NextDropsQuery);
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &plan.carry {
        if drops && !KEPT_WHEN_DROPPING.contains(&k.as_str()) {
            continue;
        }
        q.append_pair(k, v);
    }
    q.append_pair(START_PARAM, &n.to_string());
    let query = q.finish().replace('+', "%20");
    if plan.variants.contains(&Variant::OpaqueNext) {
        format!("{path}?{TOKEN_PARAM}={}", hex_encode(query.as_bytes()))
    } else {
        format!("{path}?{query}")
    }
}

/// `"name":{"href":...}` inside `_links`.
fn write_link(buf: &mut Vec<u8>, name: &str, href: String, first: &mut bool) {
    write_key(buf, name, first);
    buf.extend_from_slice(b"{\"href\":");
    write_json(buf, &Value::String(href));
    buf.push(b'}');
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
