//! `order_by`: records sorted by the named fields in turn, each ascending or descending. Unset
//! values sort below every value (first ascending, last descending), or first or last in either
//! direction under the `unset-first` and `unset-last` variants.

use super::parse::QueryPlan;
use super::project::Row;
use super::served::ServedResource;
use crate::mock::faults::Fault;
use crate::mock::variants::Variant;
use crate::spec::resource::get_path;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// Sorts `rows` as the plan's `order_by` asks (stable: equal records keep store order), unless
/// the `order-ignored` fault is on; `order-reversed` flips every direction;
/// `order-by-second-key-ignored` sorts by the first field only.
pub(super) fn sort<K>(
    table: &ServedResource,
    plan: &QueryPlan,
    rows: &mut [(K, Row<'_>)],
    faults: &BTreeSet<Fault>,
) {
    if plan.order_by.is_empty() || faults.contains(&Fault::OrderIgnored) {
        return;
    }
    let flip = faults.contains(&Fault::OrderReversed);
    // Where unset values go: below every value by default (first ascending, last
    // descending), or first or last in either direction (the `unset-*` variants).
    let unset_first = plan.variants.contains(&Variant::UnsetFirst);
    let unset_last = plan.variants.contains(&Variant::UnsetLast);
    let keys = if faults.contains(&Fault::OrderBySecondKeyIgnored) {
        &plan.order_by[..1]
    } else {
        &plan.order_by[..]
    };
    let res = table.res;
    rows.sort_by(|(_, a), (_, b)| {
        for &(i, desc) in keys {
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

/// Two values of one field: unset (or null) below any value, numbers by value, strings and
/// booleans by their order, anything else by its JSON text.
pub fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
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
