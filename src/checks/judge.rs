//! Pure judgements: functions of an answer and the contract, with no I/O, so that each is
//! unit-tested on its own and the checks only decide what to send.

use crate::client::Response;
use crate::spec::Spec;
use crate::spec::resource::{Field, Resource, get_path};
use serde_json::Value;
use std::cmp::Ordering;

/// What is wrong with an error answer's envelope (empty when it is right).
pub fn envelope_problems(spec: &Spec, resp: &Response) -> Vec<String> {
    let Some(json) = &resp.json else {
        let ct = resp.content_type.as_deref().unwrap_or("no content type");
        return vec![format!(
            "the body of a {} answer is not JSON ({ct})",
            resp.status
        )];
    };
    spec.validate("error_response", json)
        .into_iter()
        .map(|v| {
            if v.pointer.is_empty() {
                v.message
            } else {
                format!("{}: {}", v.pointer, v.message)
            }
        })
        .collect()
}

/// Fields a record holds that the resource does not declare (`_links` aside). Walks the record
/// with one path buffer, allocating only for what it reports.
pub fn unknown_fields(res: &Resource, record: &Value) -> Vec<String> {
    fn walk(res: &Resource, v: &Value, path: &mut String, out: &mut Vec<String>) {
        let Value::Object(m) = v else { return };
        for (k, child) in m {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(k);
            if k != "_links" {
                match child {
                    Value::Object(c) if !c.is_empty() => {
                        if res.objects.iter().any(|o| o == path) {
                            walk(res, child, path, out);
                        } else if !res.knows(path) {
                            out.push(path.clone());
                        }
                    }
                    _ => {
                        if !res.knows(path) {
                            out.push(path.clone());
                        }
                    }
                }
            }
            path.truncate(len);
        }
    }
    let mut out = Vec::new();
    walk(res, record, &mut String::new(), &mut out);
    out
}

/// Key fields a record lacks.
pub fn missing_keys(res: &Resource, record: &Value) -> Vec<String> {
    res.keys
        .iter()
        .filter(|k| get_path(record, k).is_none())
        .cloned()
        .collect()
}

/// Whether a dotted path is `_links`, starts with `_links.` or holds `._links`: each `_` is
/// looked at where memchr finds it (`str::contains` on every leaf of every answer cost more).
pub fn is_link(path: &str) -> bool {
    let b = path.as_bytes();
    memchr::memchr_iter(b'_', b).any(|i| {
        b[i..].starts_with(b"_links")
            && match i {
                0 => b.len() == 6 || b[6] == b'.',
                _ => b[i - 1] == b'.',
            }
    })
}

/// What an answer to `fields=requested` may hold besides what was asked: keys, filter fields,
/// `_links`, and the siblings of a key inside its key object. The objects that hold a key are
/// found once, not again for every leaf of every record.
pub struct Selection<'a> {
    keys: &'a [String],
    /// The objects that hold a key (`owner` of `owner.uuid`): what is inside one may come whole.
    key_objects: Vec<&'a str>,
    /// The fields asked for and the filter fields.
    named: Vec<&'a str>,
}

impl<'a> Selection<'a> {
    pub fn new(res: &'a Resource, requested: &[&'a str], filters: &[&'a str]) -> Selection<'a> {
        Selection {
            keys: &res.keys,
            key_objects: res
                .keys
                .iter()
                .filter_map(|k| k.rsplit_once('.').map(|(kp, _)| kp))
                .collect(),
            named: requested.iter().chain(filters).copied().collect(),
        }
    }

    /// `path` is a field named, or inside one.
    fn named_covers(&self, path: &str) -> bool {
        self.named.iter().any(|sel| {
            path == *sel || (path.starts_with(sel) && path.as_bytes().get(sel.len()) == Some(&b'.'))
        })
    }

    /// `path` is inside an object that holds a key (an owner, an SVM, an account; an imported
    /// `lun` of a LUN map), which may come whole, with the objects inside it.
    fn in_key_object(&self, path: &str) -> bool {
        self.key_objects.iter().any(|kp| {
            path.strip_prefix(kp)
                .is_some_and(|rest| rest.starts_with('.'))
        })
    }

    /// Whether a record's leaf path may appear in the answer.
    pub fn allows(&self, path: &str) -> bool {
        is_link(path)
            || self.named_covers(path)
            || self.keys.iter().any(|k| k == path)
            || self.in_key_object(path)
    }

    /// Whether every leaf below `prefix` (a dotted path to an object of a record) may appear in
    /// the answer, whatever the leaf: `prefix` is a link, a field named or inside one, or inside
    /// a key object; each rule of [`Selection::allows`] then holds for any leaf below it. A walk
    /// need not look below it.
    pub fn allows_all_below(&self, prefix: &str) -> bool {
        is_link(prefix) || self.named_covers(prefix) || self.in_key_object(prefix)
    }
}

/// Whether a record's leaf path may appear in an answer to `fields=requested` (see
/// [`Selection`]).
pub fn allowed_in_selection(
    res: &Resource,
    requested: &[&str],
    filters: &[&str],
    path: &str,
) -> bool {
    Selection::new(res, requested, filters).allows(path)
}

/// ONTAP's query-filter semantics, evaluated client-side: does `value` match `expr`?
/// A record whose field is unset (absent or JSON null) matches only `null`. The cases of the
/// shared table in [`crate::query_semantics`] pin every operator down.
pub fn filter_matches(expr: &str, value: Option<&Value>) -> bool {
    reading(expr, value, None)
}

/// A plausible wrong reading of one rule of ONTAP's filter grammar (ONTAP-BEHAVIOR.md §3, §7).
/// The query-filter property chooses, from the records the target returned, a case whose
/// records differ between the right reading and each of these (see
/// [`crate::generate::discriminating_exprs`]), so a target that reads a rule this way is caught
/// whatever the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Misreading {
    BoundInclusive,
    BoundExclusive,
    RangeExclusive,
    WildcardSubstring,
    CaseInsensitive,
    NotUnset,
    NotOrGrouped,
    OrFirst,
    QuotedGlob,
    NullLiteral,
}

impl Misreading {
    pub const ALL: &[Misreading] = &[
        Misreading::BoundInclusive,
        Misreading::BoundExclusive,
        Misreading::RangeExclusive,
        Misreading::WildcardSubstring,
        Misreading::CaseInsensitive,
        Misreading::NotUnset,
        Misreading::NotOrGrouped,
        Misreading::OrFirst,
        Misreading::QuotedGlob,
        Misreading::NullLiteral,
    ];

    /// A short name (the mock's fault that reads the rule this way is `filter-<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Misreading::BoundInclusive => "bound-inclusive",
            Misreading::BoundExclusive => "bound-exclusive",
            Misreading::RangeExclusive => "range-exclusive",
            Misreading::WildcardSubstring => "wildcard-substring",
            Misreading::CaseInsensitive => "case-insensitive",
            Misreading::NotUnset => "not-unset",
            Misreading::NotOrGrouped => "not-or-grouped",
            Misreading::OrFirst => "or-first",
            Misreading::QuotedGlob => "quoted-glob",
            Misreading::NullLiteral => "null-literal",
        }
    }

    /// The wrong reading, in a few words, for the coverage section.
    pub fn description(self) -> &'static str {
        match self {
            Misreading::BoundInclusive => "< and > read as <= and >=",
            Misreading::BoundExclusive => "<= and >= read as < and >",
            Misreading::RangeExclusive => "a..b read without its ends",
            Misreading::WildcardSubstring => "a* read as \"contains a\"",
            Misreading::CaseInsensitive => "text compared case-insensitively",
            Misreading::NotUnset => "!a read as selecting unset fields too",
            Misreading::NotOrGrouped => "!a|b read as \"neither a nor b\"",
            Misreading::OrFirst => "a|b read as a",
            Misreading::QuotedGlob => "* globbing inside double quotes",
            Misreading::NullLiteral => "null read as the text \"null\"",
        }
    }

    /// What the records read must hold for a case to tell this reading apart (why it was not).
    pub fn needs(self) -> &'static str {
        match self {
            Misreading::BoundInclusive
            | Misreading::BoundExclusive
            | Misreading::RangeExclusive => "no number field has a value in the records read",
            Misreading::WildcardSubstring => {
                "no text value holds a part that some value does not start with"
            }
            Misreading::CaseInsensitive => "no free text value with a letter",
            Misreading::NotUnset => "no record lacks a value that another record has",
            Misreading::NotOrGrouped | Misreading::OrFirst => "no field has a value",
            Misreading::QuotedGlob => "no free text value",
            Misreading::NullLiteral => "no field is unset in some record",
        }
    }
}

/// [`filter_matches`] as `wrong` misreads it (None: the right reading).
pub fn filter_matches_as(expr: &str, value: Option<&Value>, wrong: Misreading) -> bool {
    reading(expr, value, Some(wrong))
}

fn reading(expr: &str, value: Option<&Value>, wrong: Option<Misreading>) -> bool {
    // ONTAP-BEHAVIOR.md section 7: alternatives split on `|` outside double quotes, each `null`,
    // `!null`, or an optional `!` before a pattern; a pattern in double quotes is a literal; `!a|b`
    // is "not a, or b"; an unset field matches only `null` (section 3), and a JSON null is no value.
    let value = value.filter(|v| !v.is_null());
    let mut alts = split_alternatives(expr);
    if wrong == Some(Misreading::OrFirst) {
        alts.truncate(1);
    }
    if wrong == Some(Misreading::NotOrGrouped) && alts.len() > 1 && alts[0].starts_with('!') {
        let Some(value) = value else { return false };
        return !alts
            .iter()
            .any(|a| alternative(a.strip_prefix('!').unwrap_or(a), value, wrong));
    }
    alts.into_iter().any(|alt| match alt {
        "null" if wrong == Some(Misreading::NullLiteral) => {
            value.is_some_and(|v| alternative("\"null\"", v, wrong))
        }
        "null" => value.is_none(),
        "!null" => value.is_some(),
        _ => {
            let (negated, body) = match alt.strip_prefix('!') {
                Some(b) => (true, b),
                None => (false, alt),
            };
            let Some(value) = value else {
                return negated && wrong == Some(Misreading::NotUnset);
            };
            alternative(body, value, wrong) != negated
        }
    })
}

/// Whether a set value matches one alternative's pattern (its `!` already taken off): an array
/// when one of its items does.
fn alternative(body: &str, value: &Value, wrong: Option<Misreading>) -> bool {
    if let Value::Array(items) = value {
        return items.iter().any(|i| alternative(body, i, wrong));
    }
    let Some(text) = scalar_text(value) else {
        return false;
    };
    let fold = |s: &str| {
        if wrong == Some(Misreading::CaseInsensitive) {
            s.to_lowercase()
        } else {
            s.to_string()
        }
    };
    let globs = |p: &str| {
        let p = if wrong == Some(Misreading::WildcardSubstring) {
            format!("*{p}*")
        } else {
            p.to_string()
        };
        glob(&fold(&p), &fold(&text))
    };
    if let Some(literal) = body.strip_prefix('"').and_then(|b| b.strip_suffix('"')) {
        if wrong == Some(Misreading::QuotedGlob) && literal.contains('*') {
            return globs(literal);
        }
        return fold(&text) == fold(literal);
    }
    let number = value.as_f64();
    let parse = |t: &str| t.trim().parse::<f64>().ok().filter(|n| n.is_finite());
    // Comparisons and ranges are on numbers (section 3); on anything else they are text.
    for (op, strict) in [("<=", false), (">=", false), ("<", true), (">", true)] {
        if let Some(rhs) = body.strip_prefix(op)
            && let (Some(a), Some(b)) = (number, parse(rhs))
        {
            let inclusive = match wrong {
                Some(Misreading::BoundInclusive) => true,
                Some(Misreading::BoundExclusive) => false,
                _ => !strict,
            };
            let o = a.partial_cmp(&b).unwrap_or(Ordering::Equal);
            let dir = if op.starts_with('<') {
                Ordering::Less
            } else {
                Ordering::Greater
            };
            return o == dir || (inclusive && o == Ordering::Equal);
        }
    }
    if let Some((lo, hi)) = body.split_once("..")
        && let (Some(v), Some(lo), Some(hi)) = (number, parse(lo), parse(hi))
    {
        return if wrong == Some(Misreading::RangeExclusive) {
            lo < v && v < hi
        } else {
            lo <= v && v <= hi
        };
    }
    if body.contains('*') {
        return globs(body);
    }
    // A number is equal to a number of the same value (`1.0` is 1).
    if let (Some(a), Some(b)) = (number, parse(body)) {
        return a == b;
    }
    fold(&text) == fold(body)
}

/// Splits a filter on the `|` outside double quotes. The mock keeps its own copy on purpose.
fn split_alternatives(expr: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut start) = (false, 0);
    for (i, c) in expr.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '|' if !quoted => {
                out.push(&expr[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&expr[start..]);
    out
}

/// The text a filter pattern is matched against: strings as they are, numbers and booleans as
/// JSON writes them; objects and arrays have none.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `*` matches any run of characters; everything else matches itself. The mock has its own copy
/// on purpose: this is the oracle the mock's filters are judged against, so it shares no code with it.
pub fn glob(pattern: &str, text: &str) -> bool {
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

/// The order `order_by` sorts values in: numbers numerically, strings by bytes, false < true.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => value_text(a).cmp(&value_text(b)),
    }
}

/// What a GET after a PATCH should show for a field that was sent `sent`.
#[derive(Debug, Clone, PartialEq)]
pub enum Readback {
    Exactly(Value),
    /// A `banner`/`message` (`x-ontap-trailing-lf`): the text, or the text with one LF appended,
    /// which ONTAP adds to a text that does not end in one.
    TextOrLf(String),
    /// `""` on an `empty_unsets` field: absent or "".
    AbsentOrEmpty,
    /// A write-only field: never returned.
    Absent,
}

impl std::fmt::Display for Readback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Readback::Exactly(v) => write!(f, "{v}"),
            Readback::TextOrLf(t) => write!(
                f,
                "{} or {}",
                Value::String(t.clone()),
                Value::String(format!("{t}\n"))
            ),
            Readback::AbsentOrEmpty => f.write_str("absent or \"\""),
            Readback::Absent => f.write_str("absent (never returned)"),
        }
    }
}

pub fn expected_after_patch(field: &Field, sent: &Value) -> Readback {
    if field.flags.write_only {
        return Readback::Absent;
    }
    if let Some(s) = sent.as_str() {
        let s = if field.flags.crlf_normalised {
            s.replace("\r\n", "\n")
        } else {
            s.to_string()
        };
        if s.is_empty() && field.flags.empty_unsets {
            return Readback::AbsentOrEmpty;
        }
        if field.flags.trailing_lf && !s.is_empty() && !s.ends_with('\n') {
            return Readback::TextOrLf(s);
        }
        return Readback::Exactly(Value::String(s));
    }
    Readback::Exactly(sent.clone())
}

pub fn meets(expect: &Readback, got: Option<&Value>) -> bool {
    match expect {
        Readback::Exactly(v) => got == Some(v),
        Readback::TextOrLf(t) => got
            .and_then(Value::as_str)
            .is_some_and(|g| g == t || g.strip_suffix('\n') == Some(t.as_str())),
        Readback::AbsentOrEmpty => got.is_none() || got == Some(&Value::String(String::new())),
        Readback::Absent => got.is_none(),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_filter_grammar_is_ontaps() {
        use serde_json::json;
        let (a, b, c) = (json!("a"), json!("b"), json!("c"));
        // !a|b is "not a, or b".
        assert!(!filter_matches("!a|b", Some(&a)));
        assert!(filter_matches("!a|b", Some(&b)));
        assert!(filter_matches("!a|b", Some(&c)));
        // A quoted pattern is a literal.
        assert!(filter_matches("\"a|b\"", Some(&json!("a|b"))));
        assert!(!filter_matches("\"a|b\"", Some(&a)));
        assert!(!filter_matches("\"*\"", Some(&a)));
        assert!(filter_matches("\"*\"", Some(&json!("*"))));
        // An unset field matches only null, negated patterns included.
        assert!(filter_matches("null", None));
        assert!(!filter_matches("!a", None));
        assert!(filter_matches("!a|null", None));
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn filters_follow_ontap() {
        let s = json!("svm1");
        assert!(filter_matches("svm1", Some(&s)));
        assert!(!filter_matches("SVM1", Some(&s)), "case-sensitive");
        assert!(filter_matches("svm*", Some(&s)));
        assert!(filter_matches("*1", Some(&s)));
        assert!(!filter_matches("!svm1", Some(&s)));
        assert!(filter_matches("svm2|svm1", Some(&s)));
        assert!(
            !filter_matches("!svm2", None),
            "unset fields match only null"
        );
        assert!(filter_matches("null", None));
        assert!(!filter_matches("null", Some(&s)));
        assert!(filter_matches("!null", Some(&s)));
        let n = json!(2);
        assert!(
            filter_matches("<3", Some(&n))
                && filter_matches(">=2", Some(&n))
                && !filter_matches(">2", Some(&n))
        );
        assert!(filter_matches("1..2", Some(&n)) && !filter_matches("3..5", Some(&n)));
        assert!(
            filter_matches("true", Some(&json!(true)))
                && !filter_matches("true", Some(&json!(false)))
        );
        assert!(glob("a*b*c", "axxbyyc") && !glob("a*b*c", "axxc"));
    }

    #[test]
    fn selection_allows_key_objects() {
        let spec = Spec::builtin();
        let duo = spec.resource("duo").unwrap();
        assert!(allowed_in_selection(duo, &["comment"], &[], "owner.name"));
        assert!(allowed_in_selection(duo, &["comment"], &[], "comment"));
        assert!(!allowed_in_selection(duo, &["comment"], &[], "api_host"));
        assert!(allowed_in_selection(
            duo,
            &["comment"],
            &["api_host"],
            "api_host"
        ));
    }

    /// What `is_link` was before it looked for `_` with memchr.
    fn is_link_as_written(path: &str) -> bool {
        path == "_links" || path.starts_with("_links.") || path.contains("._links")
    }

    /// What `allowed_in_selection` was before [`Selection`] found the key objects once.
    fn allowed_as_written(
        res: &Resource,
        requested: &[&str],
        filters: &[&str],
        path: &str,
    ) -> bool {
        if is_link_as_written(path) {
            return true;
        }
        let covered = |sel: &str| {
            path == sel || (path.starts_with(sel) && path.as_bytes().get(sel.len()) == Some(&b'.'))
        };
        if requested.iter().chain(filters).any(|s| covered(s)) {
            return true;
        }
        if res.keys.iter().any(|k| k == path) {
            return true;
        }
        res.keys.iter().any(|k| {
            k.rsplit_once('.').is_some_and(|(kp, _)| {
                path.strip_prefix(kp)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
        })
    }

    /// A record of names that keys, requests and links share, nested three deep.
    fn record() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let name =
            prop::sample::select(vec!["uuid", "name", "svm", "owner", "_links", "self", "a"]);
        let leaf = prop_oneof![Just(json!("x")), Just(json!({})), Just(json!([1]))];
        leaf.prop_recursive(3, 40, 4, move |inner| {
            prop::collection::vec((name.clone(), inner), 0..4).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            })
        })
    }

    proptest::proptest! {
        /// `is_link` says what its three conditions, as first written, say.
        #[test]
        fn is_link_reads_as_written(path in "[_.a-z]{0,6}(_links|_link|\\._links)?[._a-z]{0,4}") {
            proptest::prop_assert_eq!(is_link(&path), is_link_as_written(&path), "{}", path);
        }

        /// A walk that does not look below what `allows_all_below` allows finds the leaf a
        /// whole walk finds: the first one not allowed in the selection, or none; and
        /// `Selection::allows` says of every leaf what the rules as first written say.
        #[test]
        fn pruned_selection_walk_finds_what_the_whole_walk_finds(
            r in record(),
            requested in proptest::collection::vec(
                proptest::sample::select(vec!["name", "svm", "svm.name", "owner.uuid", "a.self", "_links"]),
                0..3,
            ),
            keys in proptest::sample::select(vec![vec!["uuid"], vec!["svm.uuid", "name"], vec!["owner.uuid", "a.name"]]),
        ) {
            let res = Resource {
                name: "t".into(),
                keys: keys.iter().map(|k| k.to_string()).collect(),
                fields: vec![],
                objects: vec![],
            };
            let whole = crate::spec::resource::find_leaf(&r, |p, _| {
                !allowed_as_written(&res, &requested, &[], p)
            });
            let sel = Selection::new(&res, &requested, &[]);
            let pruned = crate::spec::resource::find_leaf_below(
                &r,
                |p| !sel.allows_all_below(p),
                |p, _| !sel.allows(p),
            );
            proptest::prop_assert_eq!(pruned, whole);
            for (p, _) in crate::spec::resource::leaf_paths(&r) {
                proptest::prop_assert_eq!(sel.allows(&p), allowed_as_written(&res, &requested, &[], &p), "{}", p);
            }
        }
    }
}
