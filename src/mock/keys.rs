//! Key values as records are looked up by them: what a path carries and what a record holds,
//! brought to one form. The store's index, the query engine and the writes compare keys only
//! through these.

use serde_json::Value;

/// A key value as the path carries it: a string as is, a number (an imported family's
/// `index`) as its digits.
pub fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(canonical_key(s)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A key value as records are looked up by it: a timestamp (a metric's `timestamp` key) in one
/// form, `2026-01-01T10:00:00+00:00`, whether it came as `...T10:00:00Z` or as
/// `2026-01-01 10:00:00+00:00` (how NetApp's Python client writes a datetime back into a
/// path); any other text as it is.
pub fn canonical_key(s: &str) -> String {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    let shaped = b.len() >= 19
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && (b[10] == b'T' || b[10] == b' ')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shaped {
        return s.to_string();
    }
    let zone = match &s[19..] {
        "Z" | "" => "+00:00",
        z => z,
    };
    format!("{}T{}{zone}", &s[..10], &s[11..19])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_keys_match_in_any_of_their_forms() {
        let want = "2026-01-01T10:00:00+00:00";
        for form in [
            "2026-01-01T10:00:00Z",
            "2026-01-01 10:00:00+00:00",
            "2026-01-01T10:00:00+00:00",
        ] {
            assert_eq!(canonical_key(form), want, "{form}");
        }
        assert_eq!(
            canonical_key("2026-01-01 10:00:00+02:00"),
            "2026-01-01T10:00:00+02:00"
        );
        for other in ["svm1", "2026-01-01", "1", "2026-01-01X10:00:00Z"] {
            assert_eq!(canonical_key(other), other);
        }
    }
}
