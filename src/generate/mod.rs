//! Property-based generation from the contract: proptest strategies built from each field's type
//! and constraints (valid and invalid values, PATCH bodies, field subsets, filters from values the
//! target returned), a deterministic runner per property, and the shrinking loop that turns a
//! failing case into a minimal one.

use crate::spec::resource::{Field, FieldType};
use proptest::prelude::*;
use proptest::strategy::{SBoxedStrategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRng, TestRunner};
use serde_json::{Value, json};

/// A runner whose every setting is fixed here, so `PROPTEST_*` variables cannot change a run, and
/// whose randomness comes only from `--seed` and the property's name.
pub fn runner(seed: u64, property: &str) -> TestRunner {
    let config = Config {
        cases: 1,
        max_local_rejects: 1024,
        max_global_rejects: 1024,
        max_flat_map_regens: 10_000,
        failure_persistence: None,
        source_file: None,
        test_name: None,
        max_shrink_time: 0,
        max_shrink_iters: 256,
        max_default_size_range: 16,
        result_cache: proptest::test_runner::noop_result_cache,
        verbose: 0,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        _non_exhaustive: (),
    };
    // FNV-1a of the property name, mixed with the seed: properties draw independent streams.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in property.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&h.to_le_bytes());
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// Draws `n` value trees from a strategy (the trees keep what shrinking needs).
pub fn draw<S: Strategy>(runner: &mut TestRunner, strategy: &S, n: u32) -> Vec<S::Tree> {
    (0..n)
        .filter_map(|_| strategy.new_tree(runner).ok())
        .collect()
}

/// Proptest's shrinking loop, driven by our own networked test: `fails` re-runs a case. Returns
/// the minimal failing value and the number of re-runs spent. Synchronous, so the value tree (which
/// is not `Send`) never crosses an `.await`; callers run it in `block_in_place`.
pub fn shrink<T, F>(mut tree: T, mut fails: F, budget: u32) -> (T::Value, u32)
where
    T: ValueTree,
    T::Value: Clone,
    F: FnMut(T::Value) -> bool,
{
    let mut best = tree.current();
    let mut runs = 0;
    if !tree.simplify() {
        return (best, runs);
    }
    while runs < budget {
        runs += 1;
        let cur = tree.current();
        if fails(cur.clone()) {
            best = cur;
            if !tree.simplify() {
                break;
            }
        } else if !tree.complicate() {
            break;
        }
    }
    (best, runs)
}

/// The mark every generated text starts with (where the field allows: no enum, no pattern or
/// format, room for it, not the empty string that unsets): a run that finds it in a record it
/// is about to change knows another run wrote it (see `undo::foreign`).
pub const MARK: &str = "~oc~";

/// A generated text with [`MARK`] in front, within `max` characters, when the field allows.
fn marked(f: &Field, v: Value, max: usize) -> Value {
    let Value::String(s) = v else { return v };
    let free = f.schema.get("pattern").is_none() && f.schema.get("format").is_none();
    let room = max.saturating_sub(MARK.len());
    if s.is_empty() || !free || room == 0 {
        return Value::String(s);
    }
    let body: String = s.chars().take(room).collect();
    Value::String(format!("{MARK}{body}"))
}

const TOKENS: &[&str] = &[
    "a", "B", "z", "7", " ", "-", "_", "ontap", "\n", "\r\n", "é", ".",
];
const PLAIN: &[&str] = &["a", "B", "z", "7", "-", "_", "ontap", "x"];

fn text(tokens: &'static [&'static str], max: usize) -> SBoxedStrategy<String> {
    prop::collection::vec(prop::sample::select(tokens), 0..max.clamp(1, 12))
        .prop_map(|parts| parts.concat())
        .sboxed()
}

/// A valid value for a field, within its type, enum, range and length.
pub fn valid_value(f: &Field) -> SBoxedStrategy<Value> {
    if !f.enum_values.is_empty() {
        return prop::sample::select(f.enum_values.clone()).sboxed();
    }
    match f.ty {
        FieldType::Boolean => any::<bool>().prop_map(Value::Bool).sboxed(),
        FieldType::Integer | FieldType::Number => {
            let lo = f.minimum.unwrap_or(0);
            let hi = f.maximum.unwrap_or(lo + 1000).max(lo);
            (lo..=hi).prop_map(|n| json!(n)).sboxed()
        }
        FieldType::String => {
            let max = f.max_length.unwrap_or(64) as usize;
            let min = f.min_length.unwrap_or(0) as usize;
            let tokens = if f.flags.crlf_normalised {
                TOKENS
            } else {
                PLAIN
            };
            let field = f.clone();
            let short = text(tokens, 8)
                .prop_map(move |s| marked(&field, fit(s, min, max), max))
                .sboxed();
            if f.max_length.is_some() {
                let longest = marked(f, Value::String("m".repeat(max)), max);
                prop_oneof![8 => short, 1 => Just(longest)].sboxed()
            } else {
                short.prop_map(|s| s).sboxed()
            }
        }
        FieldType::Array => array_value(f.schema.get("items")),
        FieldType::Object => Just(json!({})).sboxed(),
    }
}

/// A valid array for a field whose items the schema types: items of that type (within their
/// enum and range), or, for items that are objects or untyped, the empty array.
fn array_value(items: Option<&Value>) -> SBoxedStrategy<Value> {
    let ty = items.and_then(|i| i.get("type")).and_then(Value::as_str);
    let choices = items
        .and_then(|i| i.get("enum"))
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty())
        .cloned();
    let item: SBoxedStrategy<Value> = match (ty, choices) {
        (_, Some(e)) => prop::sample::select(e).sboxed(),
        (None | Some("string"), None) if items.is_none() => {
            text(PLAIN, 4).prop_map(Value::String).sboxed()
        }
        (Some("string"), None) => text(PLAIN, 4).prop_map(Value::String).sboxed(),
        (Some("integer" | "number"), None) => {
            let get = |k| items.and_then(|i| i.get(k)).and_then(Value::as_i64);
            let lo = get("minimum").unwrap_or(0);
            let hi = get("maximum").unwrap_or(lo + 1000).max(lo);
            (lo..=hi).prop_map(|n| json!(n)).sboxed()
        }
        (Some("boolean"), None) => any::<bool>().prop_map(Value::Bool).sboxed(),
        _ => return Just(json!([])).sboxed(),
    };
    prop::collection::vec(item, 0..3)
        .prop_map(|v| json!(v))
        .sboxed()
}

fn fit(s: String, min: usize, max: usize) -> Value {
    let mut s: String = s.chars().take(max).collect();
    while s.chars().count() < min {
        s.push('m');
    }
    Value::String(s)
}

/// Why an invalid value is invalid: the schema keyword it breaks.
pub type Broken = &'static str;

/// Values that break one of a field's constraints, each with the keyword it breaks. Shrinks toward
/// the first alternative (a wrong type).
pub fn invalid_values(f: &Field) -> Vec<(Value, Broken)> {
    let mut out = Vec::new();
    match f.ty {
        FieldType::String => {
            out.push((json!(7), "type"));
            out.push((json!(true), "type"));
        }
        FieldType::Boolean => {
            out.push((json!("yes"), "type"));
            out.push((json!(1), "type"));
        }
        FieldType::Integer => {
            out.push((json!("1"), "type"));
            out.push((json!(1.5), "type"));
        }
        FieldType::Number => out.push((json!("1"), "type")),
        FieldType::Array => out.push((json!("x"), "type")),
        FieldType::Object => out.push((json!(1), "type")),
    }
    if !f.enum_values.is_empty() {
        out.push((json!("not-a-valid-choice"), "enum"));
    }
    if let Some(m) = f.minimum {
        out.push((json!(m - 1), "minimum"));
    }
    if let Some(m) = f.maximum {
        out.push((json!(m + 1), "maximum"));
    }
    if let Some(m) = f.max_length {
        out.push((Value::String("L".repeat(m as usize + 1)), "maxLength"));
    }
    if let Some(m) = f.min_length
        && m > 0
    {
        out.push((Value::String("s".repeat(m as usize - 1)), "minLength"));
    }
    out
}

/// A non-empty PATCH body over some of `fields`, with valid values; shrinks toward one field.
pub fn patch_body(fields: Vec<Field>) -> SBoxedStrategy<Vec<(String, Value)>> {
    let n = fields.len();
    let per_field: Vec<SBoxedStrategy<(String, Value)>> = fields
        .into_iter()
        .map(|f| {
            let path = f.path.clone();
            valid_value(&f)
                .prop_map(move |v| (path.clone(), v))
                .sboxed()
        })
        .collect();
    (
        per_field,
        prop::sample::subsequence((0..n).collect::<Vec<_>>(), 1..=n.max(1)),
    )
        .prop_map(|(vals, pick)| pick.into_iter().map(|i| vals[i].clone()).collect())
        .sboxed()
}

/// A non-empty subset of names; shrinks toward fewer.
pub fn subset(names: Vec<String>) -> SBoxedStrategy<Vec<String>> {
    let n = names.len();
    prop::sample::subsequence(names, 1..=n.max(1)).sboxed()
}

/// A key value that almost surely names no record: uuid-shaped, or a word with awkward bytes.
pub fn random_key() -> SBoxedStrategy<String> {
    prop_oneof![
        any::<u128>().prop_map(|n| {
            let h = format!("{n:032x}");
            format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            )
        }),
        text(&["zz", "no", "such", "-", "_", "9", " ", "é"], 6).prop_map(|s| format!("nosuch{s}")),
    ]
    .sboxed()
}

/// An unknown query parameter name.
pub fn unknown_param() -> SBoxedStrategy<String> {
    text(&["x", "q", "zz", "_", "bogus", "9"], 4)
        .prop_map(|s| format!("no_such_param{s}"))
        .sboxed()
}

/// The operators a generated filter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Exact,
    Not,
    Or,
    /// `!a|b`: "not a, or b" (each alternative negated on its own, ONTAP-BEHAVIOR.md section 7).
    NotOr,
    /// `"a"`: a literal in double quotes.
    Quoted,
    Wildcard,
    Less,
    Greater,
    LessEq,
    GreaterEq,
    Range,
    Null,
    NotNull,
}

pub const OPS: &[FilterOp] = &[
    FilterOp::Exact,
    FilterOp::Not,
    FilterOp::Or,
    FilterOp::NotOr,
    FilterOp::Quoted,
    FilterOp::Wildcard,
    FilterOp::Less,
    FilterOp::Greater,
    FilterOp::LessEq,
    FilterOp::GreaterEq,
    FilterOp::Range,
    FilterOp::Null,
    FilterOp::NotNull,
];

/// A filter draw: which candidate field, which operator, which observed values. Turned into a
/// concrete `field=expr` by [`build_filter`] once the observed values are known.
pub fn filter_draw(fields: usize) -> SBoxedStrategy<(usize, FilterOp, usize, usize, usize)> {
    (
        0..fields.max(1),
        prop::sample::select(OPS),
        0usize..64,
        0usize..64,
        1usize..8,
    )
        .sboxed()
}

/// Characters that mean something in an ONTAP filter value.
pub fn filter_safe(s: &str) -> bool {
    !s.is_empty()
        && !s.contains([
            '*', '|', '!', '<', '>', '\n', '\r', ',', '{', '}', '"', '\\',
        ])
        && !s.contains("..")
        && s != "null"
        && s.trim() == s
}

/// Builds `expr` for a field from observed values, or None when the operator does not fit it.
pub fn build_filter(
    f: &Field,
    values: &[Value],
    op: FilterOp,
    a: usize,
    b: usize,
    cut: usize,
) -> Option<String> {
    let texts: Vec<String> = values
        .iter()
        .filter_map(|v| match v {
            Value::String(s) if filter_safe(s) => Some(s.clone()),
            Value::Bool(x) => Some(x.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect();
    let numeric = matches!(f.ty, FieldType::Integer | FieldType::Number);
    let pick = |i: usize| texts.get(i % texts.len().max(1)).cloned();
    Some(match op {
        FilterOp::Null => "null".into(),
        FilterOp::NotNull => "!null".into(),
        _ if texts.is_empty() => return None,
        FilterOp::Exact => pick(a)?,
        FilterOp::Not => format!("!{}", pick(a)?),
        FilterOp::Or => format!("{}|{}", pick(a)?, pick(b)?),
        FilterOp::NotOr => format!("!{}|{}", pick(a)?, pick(b)?),
        FilterOp::Quoted if f.ty == FieldType::String => format!("\"{}\"", pick(a)?),
        FilterOp::Wildcard if f.ty == FieldType::String => {
            let s = pick(a)?;
            let prefix: String = s.chars().take(cut.min(s.chars().count())).collect();
            format!("{prefix}*")
        }
        FilterOp::Less if numeric => format!("<{}", pick(a)?),
        FilterOp::Greater if numeric => format!(">{}", pick(a)?),
        FilterOp::LessEq if numeric => format!("<={}", pick(a)?),
        FilterOp::GreaterEq if numeric => format!(">={}", pick(a)?),
        FilterOp::Range if numeric => {
            let (x, y) = (pick(a)?.parse::<i64>().ok()?, pick(b)?.parse::<i64>().ok()?);
            format!("{}..{}", x.min(y), x.max(y))
        }
        _ => return None,
    })
}

/// Filter expressions for one field, built from the values the target returned for it, that can
/// tell the right reading of each operator from a plausible wrong one
/// ([`crate::checks::judge::Misreading`]): a bound equal to a value (`<v`, `<=v`, `>v`, `>=v`),
/// a range on one value (`v..v`), a proper prefix (`pre*`) and parts that start inside a value
/// (`art*`), a value with its case flipped, quotes around a value and around a pattern (`"pre*"`),
/// `!v`, `!v|v`, `null|v`, two values as alternatives, `null` and `!null`. Deterministic: the same
/// values give the same list whatever the seed; the query-filter property keeps, per wrong
/// reading, the first one whose records differ between the two readings on the records read.
/// Literals stay within the field's type and enum, so a conformant target never refuses them.
pub fn discriminating_exprs(f: &Field, values: &[Value]) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    for v in values {
        let t = match v {
            Value::String(s) if filter_safe(s) => s.clone(),
            Value::Bool(x) => x.to_string(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        if !texts.contains(&t) {
            texts.push(t);
        }
        if texts.len() == 6 {
            break;
        }
    }
    let numeric = matches!(f.ty, FieldType::Integer | FieldType::Number);
    let free_text = f.ty == FieldType::String && f.enum_values.is_empty();
    let mut out = vec!["null".to_string(), "!null".to_string()];
    for (i, t) in texts.iter().enumerate() {
        out.push(t.clone());
        out.push(format!("!{t}"));
        out.push(format!("!{t}|{t}"));
        out.push(format!("null|{t}"));
        if let Some(u) = texts.get(i + 1) {
            out.push(format!("{t}|{u}"));
            out.push(format!("!{t}|{u}"));
        }
        if numeric {
            for op in ["<", ">", "<=", ">="] {
                out.push(format!("{op}{t}"));
            }
            out.push(format!("{t}..{t}"));
        }
        if !free_text {
            continue;
        }
        out.push(format!("\"{t}\""));
        let flipped: String = t
            .chars()
            .map(|c| {
                if c.is_lowercase() {
                    c.to_uppercase().next().unwrap_or(c)
                } else {
                    c.to_lowercase().next().unwrap_or(c)
                }
            })
            .collect();
        // Not on a formatted field (a uuid, an address), whose case a target may fold.
        if flipped != *t && filter_safe(&flipped) && f.schema.get("format").is_none() {
            out.push(flipped);
        }
        let chars: Vec<char> = t.chars().collect();
        if chars.len() < 2 {
            continue;
        }
        let prefix: String = chars[..chars.len() - 1].iter().collect();
        if filter_safe(&prefix) {
            out.push(format!("{prefix}*"));
            out.push(format!("\"{prefix}*\""));
        }
        let mut starts = vec![1, chars.len() / 2, chars.len() - 1];
        starts.dedup();
        for k in starts {
            let part: String = chars[k..(k + 2).min(chars.len())].iter().collect();
            if filter_safe(&part) {
                out.push(format!("{part}*"));
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|e| seen.insert(e.clone()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Spec;

    #[test]
    fn drawing_in_chunks_gives_the_sequence_drawn_at_once() {
        // The property runner draws a chunk at a time; a seed must name the same cases either way.
        let strategy = subset((0..12).map(|i| format!("f{i}")).collect());
        let mut whole = runner(7, "field-selection /x");
        let all: Vec<Vec<String>> = draw(&mut whole, &strategy, 600)
            .iter()
            .map(|t| t.current())
            .collect();
        let mut chunked = runner(7, "field-selection /x");
        let mut parts = Vec::new();
        for n in [256, 256, 88] {
            parts.extend(draw(&mut chunked, &strategy, n).iter().map(|t| t.current()));
        }
        assert_eq!(all.len(), 600);
        assert_eq!(all, parts);
        let mut other = runner(8, "field-selection /x");
        let first: Vec<Vec<String>> = draw(&mut other, &strategy, 20)
            .iter()
            .map(|t| t.current())
            .collect();
        assert_ne!(first, all[..20], "another seed draws other cases");
    }

    #[test]
    fn same_seed_same_values() {
        let spec = Spec::builtin();
        let f = spec
            .resource("login_messages")
            .unwrap()
            .field("banner")
            .unwrap()
            .clone();
        let s = valid_value(&f);
        let a: Vec<Value> = draw(&mut runner(7, "p"), &s, 20)
            .iter()
            .map(|t| t.current())
            .collect();
        let b: Vec<Value> = draw(&mut runner(7, "p"), &s, 20)
            .iter()
            .map(|t| t.current())
            .collect();
        let c: Vec<Value> = draw(&mut runner(8, "p"), &s, 20)
            .iter()
            .map(|t| t.current())
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        for v in &a {
            assert!(f.accepts(v), "{v} breaks {}", f.path);
        }
    }

    #[test]
    fn invalid_values_break_constraints() {
        let spec = Spec::builtin();
        let duo = spec.resource("duo").unwrap();
        for f in &duo.fields {
            for (v, kw) in invalid_values(f) {
                assert_eq!(f.violation(&v), Some(kw), "{} {v}", f.path);
            }
        }
    }

    #[test]
    fn discriminating_exprs_come_from_the_values_and_fit_the_field() {
        let spec = Spec::builtin();
        let duo = spec.resource("duo").unwrap();
        let n = duo.field("max_prompts").unwrap();
        let e = discriminating_exprs(n, &[json!(1)]);
        for want in [
            "<1", "<=1", ">1", ">=1", "1..1", "!1|1", "null|1", "null", "!null",
        ] {
            assert!(e.iter().any(|x| x == want), "{want} not in {e:?}");
        }
        let c = duo.field("comment").unwrap();
        let e = discriminating_exprs(c, &[json!("Duo profile")]);
        for want in [
            "\"Duo profile\"",
            "dUO PROFILE",
            "Duo profil*",
            "\"Duo profil*\"",
            "uo*",
        ] {
            assert!(e.iter().any(|x| x == want), "{want} not in {e:?}");
        }
        // An enum field gets no literal outside its enum: no case flipped, no quoted pattern.
        let fail_mode = duo.field("fail_mode").unwrap();
        let e = discriminating_exprs(fail_mode, &[json!("safe")]);
        assert!(
            e.iter().all(|x| !x.contains("SAFE") && !x.contains('"')),
            "{e:?}"
        );
    }

    #[test]
    fn shrinking_finds_a_minimal_body() {
        let spec = Spec::builtin();
        let res = spec.resource("duo").unwrap();
        let fields: Vec<Field> = res.patchable().cloned().collect();
        let strat = patch_body(fields);
        let mut r = runner(1, "shrink");
        // The "target" fails whenever comment is in the body: shrinking keeps only comment.
        let failing = draw(&mut r, &strat, 200)
            .into_iter()
            .find(|t| t.current().len() > 2 && t.current().iter().any(|(k, _)| k == "comment"))
            .expect("a big body with comment");
        let (min, _) = shrink(failing, |b| b.iter().any(|(k, _)| k == "comment"), 500);
        assert_eq!(min.len(), 1, "{min:?}");
        assert_eq!(min[0].0, "comment");
    }
}
