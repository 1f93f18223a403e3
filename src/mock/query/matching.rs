//! The filters of a query: alternatives joined by `|`, each `null`, `!null`, or an optional `!`
//! before a pattern (`*` globbing, a double-quoted literal), and on numbers `<`, `<=`, `>`,
//! `>=` and `a..b` (ONTAP-BEHAVIOR.md §7). A literal no value of the field can be is refused.

use super::project::Row;
use super::served::ServedResource;
use crate::mock::faults::Fault;
use crate::spec::resource::{Field, FieldType, get_path};
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// One alternative of a filter.
#[derive(Debug, Clone, PartialEq)]
enum Term {
    Null,
    NotNull,
    Exact(String),
    /// A pattern in double quotes: the text itself, `*` included.
    Quoted(String),
    Glob(String),
    /// A number on a number field: equal by value (`1.0` is 1).
    Number(f64),
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
    pub(super) fn parse(field: usize, ty: FieldType, raw: &str) -> Filter {
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
                        term: Term::Quoted(literal.to_string()),
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
    pub(super) fn misfit<'a>(&'a self, f: &Field) -> Option<&'a str> {
        self.misfit_of(f.ty, &f.enum_values)
    }

    fn misfit_of<'a>(&'a self, ty: FieldType, enum_values: &[Value]) -> Option<&'a str> {
        self.alts.iter().find_map(|a| match &a.term {
            Term::Glob(p) if ty == FieldType::Boolean => {
                (!glob(p, "true") && !glob(p, "false")).then_some(p.as_str())
            }
            Term::Exact(s) | Term::Quoted(s) => {
                let fits = match ty {
                    FieldType::Boolean => s == "true" || s == "false",
                    FieldType::Integer | FieldType::Number => s.trim().parse::<f64>().is_ok(),
                    _ if !enum_values.is_empty() => {
                        enum_values.iter().any(|e| e.as_str() == Some(s.as_str()))
                    }
                    _ => true,
                };
                (!fits).then_some(s.as_str())
            }
            _ => None,
        })
    }

    /// Whether a value (None: unset) passes the filter; `faults` may misread it on purpose
    /// (the `filter-*` faults: one plausible wrong reading of one operator each).
    fn matches(&self, v: Option<&Value>, faults: &BTreeSet<Fault>) -> bool {
        let v = v.filter(|v| !v.is_null());
        let on = |f: Fault| faults.contains(&f);
        let alts = if on(Fault::FilterOrFirst) {
            &self.alts[..1.min(self.alts.len())]
        } else {
            &self.alts[..]
        };
        if on(Fault::FilterNotOrGrouped) && alts.len() > 1 && alts[0].negated {
            // `!a|b` as "neither a nor b".
            return v.is_some_and(|v| !alts.iter().any(|a| term_matches(&a.term, v, faults)));
        }
        alts.iter().any(|a| match (&a.term, v) {
            (Term::Null, _) if on(Fault::FilterNullLiteral) => {
                v.is_some_and(|v| term_matches(&Term::Exact("null".into()), v, faults))
            }
            (Term::Null, None) => !a.negated,
            (Term::Null, Some(_)) => a.negated,
            (Term::NotNull, v) => v.is_some(),
            (_, None) => a.negated && on(Fault::FilterNotUnset),
            (t, Some(v)) => term_matches(t, v, faults) != a.negated,
        })
    }
}

/// What a filter literal of this field may be, for messages.
pub(super) fn expected_literal(f: &Field) -> String {
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
    num(s).map(Term::Number)
}

fn term_matches(t: &Term, v: &Value, faults: &BTreeSet<Fault>) -> bool {
    if let Value::Array(items) = v {
        return items.iter().any(|i| term_matches(t, i, faults));
    }
    let on = |f: Fault| faults.contains(&f);
    // Text as the `filter-case-insensitive` fault compares it.
    // (Borrowed unless a fault asks for a changed copy: a filter tries every record.)
    fn folded(lower: bool, s: Cow<'_, str>) -> Cow<'_, str> {
        if lower {
            Cow::Owned(s.to_lowercase())
        } else {
            s
        }
    }
    let lower = on(Fault::FilterCaseInsensitive);
    let text_is = |s: &str| {
        scalar_text(v).is_some_and(|x| folded(lower, x) == folded(lower, Cow::Borrowed(s)))
    };
    let globs = |p: &str| {
        let p = if on(Fault::FilterWildcardSubstring) {
            Cow::Owned(format!("*{p}*"))
        } else {
            Cow::Borrowed(p)
        };
        scalar_text(v).is_some_and(|x| glob(&folded(lower, p), &folded(lower, x)))
    };
    match t {
        Term::Null | Term::NotNull => false,
        Term::Exact(s) => text_is(s),
        Term::Quoted(s) if on(Fault::FilterQuotedGlob) && s.contains('*') => globs(s),
        Term::Quoted(s) => text_is(s),
        Term::Glob(p) => globs(p),
        Term::Number(n) => v.as_f64() == Some(*n),
        Term::Cmp(dir, or_equal, n) => v.as_f64().is_some_and(|x| {
            let or_equal = if *or_equal {
                !on(Fault::FilterBoundExclusive)
            } else {
                on(Fault::FilterBoundInclusive)
            };
            let o = x.partial_cmp(n).unwrap_or(Ordering::Equal);
            o == *dir || (or_equal && o == Ordering::Equal)
        }),
        Term::Range(a, b) if on(Fault::FilterRangeExclusive) => {
            v.as_f64().is_some_and(|x| x > *a && x < *b)
        }
        Term::Range(a, b) => v.as_f64().is_some_and(|x| x >= *a && x <= *b),
    }
}

fn scalar_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
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

/// Whether a value of a field of type `ty` (with these enum values) passes the filter `raw`; None
/// when the mock refuses the filter (a literal no value of the field can be). The shared table of
/// [`crate::query_semantics`] holds this to the harness's judge.
pub fn value_matches(
    ty: FieldType,
    enum_values: &[Value],
    raw: &str,
    v: Option<&Value>,
) -> Option<bool> {
    let f = Filter::parse(0, ty, raw);
    if f.misfit_of(ty, enum_values).is_some() {
        return None;
    }
    Some(f.matches(v, &BTreeSet::new()))
}

/// Whether a record passes every filter of the plan.
pub fn matches_all(table: &ServedResource, filters: &[Filter], record: &Value) -> bool {
    matches_under(table, filters, record, &BTreeSet::new())
}

/// [`matches_all`], with the filters read as `faults` misread them.
fn matches_under(
    table: &ServedResource,
    filters: &[Filter],
    record: &Value,
    faults: &BTreeSet<Fault>,
) -> bool {
    filters
        .iter()
        .all(|f| f.matches(get_path(record, &table.res.fields[f.field].path), faults))
}

/// The literals a record's `path` must equal for it to pass the filters, when one filter on
/// that field is nothing but literals (`a|b|"c"`, no `!`, pattern, comparison or `null`): then
/// a store can look up the records holding those values rather than try every record (see
/// [`crate::mock::store::FamilyRecords::ids_by_first_key`]). None: any record may pass, or a
/// `filter-*` fault reads the filters otherwise.
pub fn literals_on<'p>(
    table: &ServedResource,
    filters: &'p [Filter],
    path: &str,
    faults: &BTreeSet<Fault>,
) -> Option<Vec<&'p str>> {
    if faults.iter().any(|f| f.name().starts_with("filter-")) {
        return None;
    }
    filters
        .iter()
        .filter(|f| table.res.fields[f.field].path == path)
        .find_map(|f| {
            f.alts
                .iter()
                .map(|a| match &a.term {
                    Term::Exact(s) | Term::Quoted(s) if !a.negated => Some(s.as_str()),
                    _ => None,
                })
                .collect()
        })
}

/// The records that pass every filter, in their order; all of them with the `filter-ignored`
/// fault, the ones that do not pass with `filter-negated`.
pub(super) fn filter<'r, K>(
    table: &ServedResource,
    filters: &[Filter],
    records: Vec<(K, Row<'r>)>,
    faults: &BTreeSet<Fault>,
) -> Vec<(K, Row<'r>)> {
    if filters.is_empty() || faults.contains(&Fault::FilterIgnored) {
        return records;
    }
    let negate = faults.contains(&Fault::FilterNegated);
    records
        .into_iter()
        .filter(|(_, r)| matches_under(table, filters, r.value, faults) != negate)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Clean(Filter);
    impl Clean {
        fn matches(&self, v: Option<&Value>) -> bool {
            self.0.matches(v, &BTreeSet::new())
        }
    }

    fn f(raw: &str, ty: FieldType) -> Clean {
        Clean(Filter::parse(0, ty, raw))
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

    /// Only a filter of plain literals on the field tells a lookup which records it may pass
    /// over; a negation, a pattern, `null`, another field or a `filter-*` fault makes every
    /// record a candidate again.
    #[test]
    fn literals_on_a_field_are_only_plain_alternatives() {
        let spec = crate::spec::Spec::builtin();
        let ep = spec.endpoint("/api/security/login/totps").unwrap();
        let res = spec.resource_of(ep);
        let table = ServedResource::new(res, ep.path().into(), None);
        let filter = |p: &str, raw: &str| {
            let i = res.fields.iter().position(|f| f.path == p).unwrap();
            Filter::parse(i, res.fields[i].ty, raw)
        };
        let none = BTreeSet::new();
        let fs = vec![filter("comment", "!x"), filter("owner.uuid", "a|\"b\"")];
        assert_eq!(
            literals_on(&table, &fs, "owner.uuid", &none),
            Some(vec!["a", "b"])
        );
        for raw in ["!a", "a*", "a|!b", "null", "!null", "a|b*"] {
            let fs = [filter("owner.uuid", raw)];
            assert_eq!(literals_on(&table, &fs, "owner.uuid", &none), None, "{raw}");
        }
        let other = [filter("comment", "a")];
        assert_eq!(literals_on(&table, &other, "owner.uuid", &none), None);
        let faulted: BTreeSet<Fault> = [Fault::FilterCaseInsensitive].into();
        assert_eq!(literals_on(&table, &fs, "owner.uuid", &faulted), None);
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
}
