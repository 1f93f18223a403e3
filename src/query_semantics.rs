//! One query semantics: the table of filter and ordering cases that the harness's judge
//! ([`crate::checks::judge::filter_matches`], [`crate::checks::judge::compare_values`]) and the
//! mock's query engine ([`crate::mock::query::value_matches`], [`crate::mock::query::order_compare`])
//! both answer. Each row says what the answer is and on what it rests: a section of
//! ONTAP-BEHAVIOR.md, or, where that is silent, the harness's choice (and then why the choice
//! cannot fail a conformant target). Where the two sides must answer differently, the row says so
//! and why. The tests at the bottom hold both sides to every row; docs/query-semantics.md shows
//! the table.

use crate::spec::resource::FieldType;
use std::cmp::Ordering;

/// What the mock answers where it must differ from the judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mock {
    /// The same as the judge.
    Same,
    /// The mock refuses the filter (400, code 262197): a literal no value of the field can be
    /// (ONTAP-BEHAVIOR.md §3). The judge sees only values and says the record does not match; the
    /// harness builds its filters from values the target returned, so it never sends one.
    Refused,
    /// The mock answers this instead, for the reason given.
    Differs(bool, &'static str),
}

/// One filter case: a value of a field (JSON text; None: the record lacks the field), a filter
/// expression, whether the record matches, and why.
#[derive(Debug, Clone, Copy)]
pub struct FilterCase {
    pub ty: FieldType,
    pub value: Option<&'static str>,
    pub expr: &'static str,
    pub matches: bool,
    pub basis: &'static str,
    pub mock: Mock,
}

const EXACT: &str = "§3: exact match";
const CASE: &str = "§3: string matching is case-sensitive";
const STAR: &str = "§7: `*` is a wildcard; the pattern spans the whole value";
const NOT: &str = "§3, §7: `!` negates";
const OR: &str = "§7: `|` joins alternatives, each a pattern of its own";
const NOT_OR: &str = "§7: `!a|b` is \"not a, or b\"";
const QUOTE: &str = "§7: a value in double quotes is literal";
const NULL: &str = "§3, §7: `null` / `!null`";
const UNSET: &str = "§3: a record whose field is unset matches only `null`, negation included";
const JSON_NULL: &str = "§3: a JSON null is no value: unset (as `order_by` treats it)";
const CMP: &str = "§3: `<` `>` `<=` `>=` on numbers";
const RANGE: &str = "§3, §7: `a..b` on numbers, both ends included";
const CMP_TEXT: &str =
    "§3: comparisons and ranges are on numbers; elsewhere the expression is text like any other";
const BOOL: &str = "§3: booleans as `true|false`";
const NUM_EQ: &str = "choice (doc silent): a number equals a number of the same value; the harness sends numbers as the target wrote them";
const GLOB_TEXT: &str = "choice (doc silent): `*` on a number or boolean matches its JSON text";
const ARRAY: &str = "choice (doc silent): an array matches when one of its items does; the harness filters arrays with `null` and `!null` only";
const EMPTY_ARRAY: &str = "choice (doc silent): an empty array is a value, with no item to match";

const fn case(
    ty: FieldType,
    value: Option<&'static str>,
    expr: &'static str,
    matches: bool,
    basis: &'static str,
) -> FilterCase {
    FilterCase {
        ty,
        value,
        expr,
        matches,
        basis,
        mock: Mock::Same,
    }
}

const fn refused(
    ty: FieldType,
    value: Option<&'static str>,
    expr: &'static str,
    basis: &'static str,
) -> FilterCase {
    FilterCase {
        ty,
        value,
        expr,
        matches: false,
        basis,
        mock: Mock::Refused,
    }
}

use FieldType::{Array, Boolean, Integer, Number, String as Text};

/// Every operator against every value type, with nulls, arrays, quotes and `!a|b`.
pub const FILTER_CASES: &[FilterCase] = &[
    // Text.
    case(Text, Some(r#""svm1""#), "svm1", true, EXACT),
    case(Text, Some(r#""svm1""#), "svm2", false, EXACT),
    case(Text, Some(r#""svm1""#), "SVM1", false, CASE),
    case(Text, Some(r#""svm1""#), "SVM*", false, CASE),
    case(Text, Some(r#""svm1""#), "svm*", true, STAR),
    case(Text, Some(r#""svm1""#), "*1", true, STAR),
    case(Text, Some(r#""svm1""#), "*vm*", true, STAR),
    case(Text, Some(r#""svm1""#), "s*1", true, STAR),
    case(Text, Some(r#""svm1""#), "*", true, STAR),
    case(Text, Some(r#""svm1""#), "svm1*", true, STAR),
    case(Text, Some(r#""svm1""#), "vm*", false, STAR),
    case(Text, Some(r#""svm1""#), "*vm", false, STAR),
    case(Text, Some(r#""svm1""#), "!svm1", false, NOT),
    case(Text, Some(r#""svm1""#), "!svm2", true, NOT),
    case(Text, Some(r#""svm1""#), "!svm*", false, NOT),
    case(Text, Some(r#""svm1""#), "svm2|svm1", true, OR),
    case(Text, Some(r#""svm1""#), "svm2|svm3", false, OR),
    case(Text, Some(r#""svm1""#), "x*|*1", true, OR),
    case(Text, Some(r#""svm1""#), "null|svm1", true, OR),
    case(Text, Some(r#""svm1""#), "null", false, NULL),
    case(Text, Some(r#""svm1""#), "!null", true, NULL),
    case(Text, Some(r#""svm1""#), r#""svm1""#, true, QUOTE),
    case(Text, Some(r#""svm1""#), r#""svm*""#, false, QUOTE),
    case(Text, Some(r#""svm1""#), r#"!"svm1""#, false, QUOTE),
    case(Text, Some(r#""svm1""#), r#"!"svm2""#, true, QUOTE),
    case(Text, Some(r#""svm*""#), r#""svm*""#, true, QUOTE),
    case(Text, Some(r#""*""#), r#""*""#, true, QUOTE),
    case(Text, Some(r#""a""#), r#""*""#, false, QUOTE),
    case(Text, Some(r#""a|b""#), r#""a|b""#, true, QUOTE),
    case(Text, Some(r#""a|b""#), "a|b", false, OR),
    case(Text, Some(r#""a""#), r#""a|b""#, false, QUOTE),
    case(Text, Some(r#""b""#), r#""a"|"b""#, true, QUOTE),
    case(Text, Some(r#""<10""#), r#""<10""#, true, QUOTE),
    case(Text, Some(r#""abc""#), "<m", false, CMP_TEXT),
    case(Text, Some(r#""<m""#), "<m", true, CMP_TEXT),
    case(Text, Some(r#""m""#), "a..z", false, CMP_TEXT),
    case(Text, Some(r#""a..z""#), "a..z", true, CMP_TEXT),
    case(Text, Some(r#""1""#), "1", true, EXACT),
    case(Text, Some(r#""1""#), "1.0", false, CMP_TEXT),
    case(Text, Some(r#""1""#), "<2", false, CMP_TEXT),
    // `!a|b`: not a, or b.
    case(Text, Some(r#""a""#), "!a|b", false, NOT_OR),
    case(Text, Some(r#""b""#), "!a|b", true, NOT_OR),
    case(Text, Some(r#""c""#), "!a|b", true, NOT_OR),
    case(Text, Some(r#""a""#), "!a|a", true, NOT_OR),
    case(Text, None, "!a|b", false, UNSET),
    // Numbers.
    case(Integer, Some("1"), "1", true, EXACT),
    case(Integer, Some("1"), "2", false, EXACT),
    case(Integer, Some("1"), "1.0", true, NUM_EQ),
    case(Integer, Some("1"), "<2", true, CMP),
    case(Integer, Some("1"), "<1", false, CMP),
    case(Integer, Some("1"), "<=1", true, CMP),
    case(Integer, Some("1"), "<=0", false, CMP),
    case(Integer, Some("1"), ">0", true, CMP),
    case(Integer, Some("1"), ">1", false, CMP),
    case(Integer, Some("1"), ">=1", true, CMP),
    case(Integer, Some("1"), ">=2", false, CMP),
    case(Integer, Some("1"), "0..1", true, RANGE),
    case(Integer, Some("1"), "1..1", true, RANGE),
    case(Integer, Some("1"), "1..2", true, RANGE),
    case(Integer, Some("1"), "2..3", false, RANGE),
    case(Integer, Some("1"), "!1", false, NOT),
    case(Integer, Some("1"), "!2", true, NOT),
    case(Integer, Some("1"), "!<2", false, NOT),
    case(Integer, Some("1"), "!0..1", false, NOT),
    case(Integer, Some("1"), "1|2", true, OR),
    case(Integer, Some("1"), "<0|>0", true, OR),
    case(Integer, Some("1"), "!1|1", true, NOT_OR),
    case(Integer, Some("1"), "!1|2", false, NOT_OR),
    case(Integer, Some("1"), "null", false, NULL),
    case(Integer, Some("1"), "!null", true, NULL),
    case(Integer, Some("1"), r#""1""#, true, QUOTE),
    case(Integer, Some("1"), r#""1.0""#, false, QUOTE),
    case(Integer, Some("10"), "1*", true, GLOB_TEXT),
    case(Integer, Some("10"), "2*", false, GLOB_TEXT),
    case(Integer, Some("10"), "<9", false, CMP),
    case(Integer, Some("-1"), "<0", true, CMP),
    case(Integer, Some("-1"), "-1", true, EXACT),
    case(Integer, Some("-1"), "-2..0", true, RANGE),
    case(Number, Some("2.5"), "2.5", true, EXACT),
    case(Number, Some("2.5"), "<3", true, CMP),
    case(Number, Some("2.5"), ">2.5", false, CMP),
    case(Number, Some("2.5"), "<=2.5", true, CMP),
    case(Number, Some("2.5"), ">=3", false, CMP),
    case(Text, Some(r#""b""#), "<=b", false, CMP_TEXT),
    case(Text, Some(r#""b""#), ">a", false, CMP_TEXT),
    case(Text, Some(r#""b""#), ">=a", false, CMP_TEXT),
    case(Number, Some("2.5"), "2..3", true, RANGE),
    case(Number, Some("2.5"), "3..4", false, RANGE),
    refused(Integer, Some("1"), "abc", "§3: a literal no number can be"),
    refused(Integer, Some("1"), "<abc", CMP_TEXT),
    // Booleans.
    case(Boolean, Some("true"), "true", true, BOOL),
    case(Boolean, Some("true"), "false", false, BOOL),
    case(Boolean, Some("false"), "false", true, BOOL),
    case(Boolean, Some("true"), "true|false", true, OR),
    case(Boolean, Some("true"), "!true", false, NOT),
    case(Boolean, Some("true"), "!false", true, NOT),
    case(Boolean, Some("true"), "!true|false", false, NOT_OR),
    case(Boolean, Some("false"), "!true|false", true, NOT_OR),
    case(Boolean, Some("true"), "t*", true, GLOB_TEXT),
    case(Boolean, Some("false"), "t*", false, GLOB_TEXT),
    case(Boolean, Some("true"), r#""true""#, true, QUOTE),
    case(Boolean, Some("true"), "null", false, NULL),
    case(Boolean, Some("true"), "!null", true, NULL),
    case(Boolean, None, "!true", false, UNSET),
    refused(
        Boolean,
        Some("true"),
        "yes",
        "§3: a literal no boolean can be",
    ),
    // An explicit JSON null.
    case(Text, Some("null"), "null", true, JSON_NULL),
    case(Text, Some("null"), "!null", false, JSON_NULL),
    case(Text, Some("null"), "x", false, JSON_NULL),
    case(Text, Some("null"), "!x", false, JSON_NULL),
    case(Text, Some("null"), "*", false, JSON_NULL),
    case(Text, Some("null"), "!x|null", true, JSON_NULL),
    case(Integer, Some("null"), "<5", false, JSON_NULL),
    // A missing field.
    case(Text, None, "null", true, UNSET),
    case(Text, None, "!null", false, UNSET),
    case(Text, None, "x", false, UNSET),
    case(Text, None, "!x", false, UNSET),
    case(Text, None, "*", false, UNSET),
    case(Text, None, r#""x""#, false, UNSET),
    case(Text, None, r#"!"x""#, false, UNSET),
    case(Text, None, "x|null", true, UNSET),
    case(Text, None, "!x|null", true, UNSET),
    case(Integer, None, "<5", false, UNSET),
    case(Integer, None, ">=0", false, UNSET),
    case(Integer, None, "<=5", false, UNSET),
    case(Integer, None, ">5", false, UNSET),
    case(Integer, None, "!5", false, UNSET),
    case(Integer, None, "0..9", false, UNSET),
    // Arrays.
    case(Array, Some(r#"["ab","c"]"#), "ab", true, ARRAY),
    case(Array, Some(r#"["ab","c"]"#), "a*", true, ARRAY),
    case(Array, Some(r#"["ab","c"]"#), "c", true, ARRAY),
    case(Array, Some(r#"["ab","c"]"#), "x", false, ARRAY),
    case(Array, Some(r#"["ab","c"]"#), "ab|x", true, ARRAY),
    case(Array, Some(r#"["ab","c"]"#), "!ab", false, ARRAY),
    case(Array, Some(r#"["ab","c"]"#), "!x", true, ARRAY),
    case(Array, Some(r#"["ab","c"]"#), r#""ab""#, true, ARRAY),
    case(Array, Some(r#"["ab","c"]"#), "null", false, NULL),
    case(Array, Some(r#"["ab","c"]"#), "!null", true, NULL),
    case(Array, Some("[1,5]"), "5", true, ARRAY),
    case(Array, Some("[true]"), "true", true, ARRAY),
    case(Array, Some("[]"), "null", false, EMPTY_ARRAY),
    case(Array, Some("[]"), "!null", true, EMPTY_ARRAY),
    case(Array, Some("[]"), "x", false, EMPTY_ARRAY),
    case(Array, Some("[]"), "!x", true, EMPTY_ARRAY),
    FilterCase {
        ty: Array,
        value: Some("[1,5]"),
        expr: "<2",
        matches: true,
        basis: ARRAY,
        mock: Mock::Differs(
            false,
            "the mock reads a filter by its field's type, and an array field's filter as text (item types are not looked at); the harness never sends one",
        ),
    },
];

/// One ordering case: two values and how `order_by` (ascending) places the first against the
/// second.
#[derive(Debug, Clone, Copy)]
pub struct OrderCase {
    pub a: &'static str,
    pub b: &'static str,
    pub order: Ordering,
    pub basis: &'static str,
}

const BY_VALUE: &str = "choice (doc silent): numbers by value, not by their text";
const BY_BYTES: &str = "choice (doc silent): text by its bytes (so uppercase before lowercase)";
const BY_BOOL: &str = "choice (doc silent): false before true";

/// The order `order_by` sorts set values in. Unset values (absent or JSON null) are placed first
/// or last at the target's choice (ONTAP-BEHAVIOR.md §3b): the ordering check leaves them out.
pub const ORDER_CASES: &[OrderCase] = &[
    OrderCase {
        a: "1",
        b: "2",
        order: Ordering::Less,
        basis: BY_VALUE,
    },
    OrderCase {
        a: "2",
        b: "10",
        order: Ordering::Less,
        basis: BY_VALUE,
    },
    OrderCase {
        a: "1",
        b: "1.0",
        order: Ordering::Equal,
        basis: BY_VALUE,
    },
    OrderCase {
        a: "-1",
        b: "0",
        order: Ordering::Less,
        basis: BY_VALUE,
    },
    OrderCase {
        a: "2.5",
        b: "2",
        order: Ordering::Greater,
        basis: BY_VALUE,
    },
    OrderCase {
        a: r#""a""#,
        b: r#""b""#,
        order: Ordering::Less,
        basis: BY_BYTES,
    },
    OrderCase {
        a: r#""a""#,
        b: r#""ab""#,
        order: Ordering::Less,
        basis: BY_BYTES,
    },
    OrderCase {
        a: r#""B""#,
        b: r#""a""#,
        order: Ordering::Less,
        basis: BY_BYTES,
    },
    OrderCase {
        a: r#""svm10""#,
        b: r#""svm9""#,
        order: Ordering::Less,
        basis: BY_BYTES,
    },
    OrderCase {
        a: r#""a""#,
        b: r#""a""#,
        order: Ordering::Equal,
        basis: BY_BYTES,
    },
    OrderCase {
        a: "false",
        b: "true",
        order: Ordering::Less,
        basis: BY_BOOL,
    },
    OrderCase {
        a: "true",
        b: "true",
        order: Ordering::Equal,
        basis: BY_BOOL,
    },
];

/// Both tables as markdown, for docs/query-semantics.md (a test keeps the page in step).
pub fn render_markdown() -> String {
    use std::fmt::Write;
    let code = |s: &str| format!("`{}`", s.replace('|', "\\|"));
    let mut out = String::from(
        "| field type | value | filter | matches | the mock | basis |\n|---|---|---|---|---|---|\n",
    );
    for c in FILTER_CASES {
        let mock = match c.mock {
            Mock::Same => "same".to_string(),
            Mock::Refused => "refuses it (400, 262197)".to_string(),
            Mock::Differs(m, why) => format!("{}: {why}", if m { "yes" } else { "no" }),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {mock} | {} |",
            format!("{:?}", c.ty).to_lowercase(),
            c.value.map_or("(absent)".to_string(), code),
            code(c.expr),
            if c.matches { "yes" } else { "no" },
            c.basis.replace('|', "\\|")
        );
    }
    out.push_str("\n| a | b | ascending, a is | basis |\n|---|---|---|---|\n");
    for c in ORDER_CASES {
        let o = match c.order {
            Ordering::Less => "before b",
            Ordering::Equal => "tied with b",
            Ordering::Greater => "after b",
        };
        let _ = writeln!(out, "| {} | {} | {o} | {} |", code(c.a), code(c.b), c.basis);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::judge::{compare_values, filter_matches};
    use crate::mock::query::{order_compare, value_matches};
    use serde_json::Value;

    fn value(c: &FilterCase) -> Option<Value> {
        c.value
            .map(|v| serde_json::from_str(v).expect("a JSON value"))
    }

    #[test]
    fn the_judge_answers_every_filter_case() {
        let wrong: Vec<String> = FILTER_CASES
            .iter()
            .filter(|c| filter_matches(c.expr, value(c).as_ref()) != c.matches)
            .map(|c| {
                format!(
                    "{:?} {} ~ {}: expected {} ({})",
                    c.ty,
                    c.value.unwrap_or("(absent)"),
                    c.expr,
                    c.matches,
                    c.basis
                )
            })
            .collect();
        assert!(wrong.is_empty(), "the judge:\n{}", wrong.join("\n"));
    }

    #[test]
    fn the_mock_answers_every_filter_case() {
        let wrong: Vec<String> = FILTER_CASES
            .iter()
            .filter_map(|c| {
                let want = match c.mock {
                    Mock::Same => Some(c.matches),
                    Mock::Refused => None,
                    Mock::Differs(m, _) => Some(m),
                };
                let got = value_matches(c.ty, &[], c.expr, value(c).as_ref());
                (got != want).then(|| {
                    format!(
                        "{:?} {} ~ {}: expected {want:?}, got {got:?} ({})",
                        c.ty,
                        c.value.unwrap_or("(absent)"),
                        c.expr,
                        c.basis
                    )
                })
            })
            .collect();
        assert!(wrong.is_empty(), "the mock:\n{}", wrong.join("\n"));
    }

    #[test]
    fn the_table_covers_every_operator_and_value_type() {
        let has = |ty: FieldType, value: fn(Option<&str>) -> bool, op: fn(&str) -> bool| {
            FILTER_CASES
                .iter()
                .any(|c| c.ty == ty && value(c.value) && op(c.expr))
        };
        type Op = (&'static str, fn(&str) -> bool);
        let ops: &[Op] = &[
            ("exact", |e| {
                !e.contains(['*', '!', '|', '<', '>', '"']) && !e.contains("..") && e != "null"
            }),
            ("*", |e| e.contains('*') && !e.contains('"')),
            ("!", |e| {
                e.starts_with('!') && !e.contains('|') && e != "!null"
            }),
            ("|", |e| {
                e.contains('|') && !e.starts_with('!') && !e.contains('"')
            }),
            ("!a|b", |e| e.starts_with('!') && e.contains('|')),
            ("quotes", |e| e.contains('"')),
            ("null", |e| e == "null"),
            ("!null", |e| e == "!null"),
        ];
        let set = |v: Option<&str>| v.is_some_and(|v| v != "null");
        for ty in [Text, Integer, Boolean] {
            for (name, op) in ops {
                assert!(has(ty, set, *op), "no {name} case on a {ty:?} value");
            }
            assert!(
                has(ty, |v| v.is_none(), |_| true),
                "no {ty:?} case on a missing field"
            );
        }
        for (name, op) in [
            (
                "<",
                (|e: &str| e.starts_with('<') && !e.starts_with("<=")) as fn(&str) -> bool,
            ),
            ("<=", |e| e.starts_with("<=")),
            (">", |e| e.starts_with('>') && !e.starts_with(">=")),
            (">=", |e| e.starts_with(">=")),
            ("..", |e| e.contains("..")),
        ] {
            for ty in [Integer, Number, Text] {
                assert!(has(ty, set, op), "no {name} case on a {ty:?} value");
            }
            assert!(
                has(Integer, |v| v.is_none(), op),
                "no {name} case on a missing field"
            );
        }
        assert!(
            has(Text, |v| v == Some("null"), |_| true),
            "no case on a JSON null"
        );
        assert!(has(Array, set, |_| true), "no case on an array");
    }

    #[test]
    fn the_judge_and_the_mock_order_alike() {
        for c in ORDER_CASES {
            let a: Value = serde_json::from_str(c.a).unwrap();
            let b: Value = serde_json::from_str(c.b).unwrap();
            assert_eq!(
                compare_values(&a, &b),
                c.order,
                "the judge: {} vs {} ({})",
                c.a,
                c.b,
                c.basis
            );
            assert_eq!(
                order_compare(Some(&a), Some(&b)),
                c.order,
                "the mock: {} vs {} ({})",
                c.a,
                c.b,
                c.basis
            );
            assert_eq!(
                compare_values(&b, &a),
                c.order.reverse(),
                "the judge: {} vs {}",
                c.b,
                c.a
            );
        }
    }
}
