//! A resource's schema flattened into dotted fields (`owner.uuid`, `banner`) with the access flags
//! the `x-ontap-*` keywords declare. The mock, the generators and the checks all read this one
//! model, so a flag added to a schema changes all three at once.

use super::model::Evidence;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// JSON types a field can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Boolean,
    Integer,
    Number,
    Array,
    Object,
}

impl FieldType {
    pub fn from_schema(s: &str) -> Option<FieldType> {
        Some(match s {
            "string" => FieldType::String,
            "boolean" => FieldType::Boolean,
            "integer" => FieldType::Integer,
            "number" => FieldType::Number,
            "array" => FieldType::Array,
            "object" => FieldType::Object,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Boolean => "boolean",
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Array => "array",
            FieldType::Object => "object",
        }
    }
    /// Whether a JSON value has this type.
    pub fn accepts(self, v: &Value) -> bool {
        match self {
            FieldType::String => v.is_string(),
            FieldType::Boolean => v.is_boolean(),
            // JSON Schema's integer: 3.0 is one, 3.5 is not.
            FieldType::Integer => {
                v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            FieldType::Number => v.is_number(),
            FieldType::Array => v.is_array(),
            FieldType::Object => v.is_object(),
        }
    }
}

/// Access flags, from the `x-ontap-*` keywords of a property and of the properties around it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Flags {
    /// Names the record (`x-ontap-keys` of the resource).
    pub key: bool,
    /// Rejected in POST and PATCH bodies.
    pub read_only: bool,
    /// Accepted in POST, rejected in PATCH.
    pub patch_forbidden: bool,
    /// Accepted in writes, never returned by a GET.
    pub write_only: bool,
    /// Returned only by the POST that creates the record; never by a GET.
    pub post_response_only: bool,
    /// Only the cluster administrator may change it.
    pub admin_only: bool,
    /// CRLF in a written value comes back as LF.
    pub crlf_normalised: bool,
    /// Writing "" unsets the field: a GET afterwards returns it absent or "".
    pub empty_unsets: bool,
    /// Changing it can lock people out: only with `--allow-destructive` or against the mock.
    pub lockout: bool,
    /// Patchable according to the lib, but a path key: never exercised.
    pub patch_untested: bool,
    /// Rejected in a POST body although it may be patched (not in the lib's postable fields).
    pub post_forbidden: bool,
    /// A non-empty value without a trailing LF may come back with one appended (ONTAP does).
    pub trailing_lf: bool,
    /// Returned only when `fields=` names it (Swagger's "Expensive properties").
    pub expensive: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// Dotted path from the record's root.
    pub path: String,
    pub ty: FieldType,
    pub description: String,
    /// The merged leaf schema: type and constraints, without `x-ontap-*` keywords.
    pub schema: Value,
    pub enum_values: Vec<Value>,
    /// The source lets the value be JSON null (`"type": [T, "null"]`).
    pub nullable: bool,
    /// The ONTAP release that introduced the field, where the contract says.
    pub introduced: Option<String>,
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub flags: Flags,
    /// The field whose value this one is derived from (`fingerprint` from `secret_key`).
    pub derived_from: Option<String>,
    /// Evidence per keyword; `default` is the evidence of anything not named.
    pub evidence: BTreeMap<String, Evidence>,
    pub default_evidence: Evidence,
}

impl Field {
    /// A GET may return it.
    pub fn gettable(&self) -> bool {
        !self.flags.write_only && !self.flags.post_response_only
    }
    /// A PATCH body may carry it.
    pub fn patchable(&self) -> bool {
        !self.flags.read_only
            && !self.flags.patch_forbidden
            && !self.flags.key
            && !self.flags.post_response_only
            && !self.flags.patch_untested
    }
    /// A POST body may carry it.
    pub fn postable(&self) -> bool {
        !self.flags.read_only && !self.flags.post_response_only && !self.flags.post_forbidden
    }
    /// A PATCH carrying it must be rejected.
    pub fn patch_rejected(&self) -> bool {
        (self.flags.read_only || self.flags.patch_forbidden || self.flags.key)
            && !self.flags.post_response_only
            && !self.flags.patch_untested
    }
    /// The evidence behind one keyword of this field (`maxLength`, `x-ontap-read-only`, ...).
    pub fn evidence_of(&self, keyword: &str) -> Evidence {
        self.evidence
            .get(keyword)
            .copied()
            .unwrap_or(self.default_evidence)
    }
    /// Whether a value obeys the field's type and constraints.
    pub fn accepts(&self, v: &Value) -> bool {
        self.violation(v).is_none()
    }
    /// The keyword a value breaks (`type`, `enum`, `minimum`, `maximum`, `minLength`, `maxLength`).
    pub fn violation(&self, v: &Value) -> Option<&'static str> {
        if v.is_null() && self.nullable {
            return None;
        }
        // `"type": ["string", "integer"]` (an imported parent key): any of the types will do.
        let other_type = || {
            self.schema
                .get("type")
                .and_then(Value::as_array)
                .is_some_and(|ts| {
                    ts.iter()
                        .filter_map(Value::as_str)
                        .filter_map(FieldType::from_schema)
                        .any(|t| t.accepts(v))
                })
        };
        if !self.ty.accepts(v) && !other_type() {
            return Some("type");
        }
        if !self.enum_values.is_empty() && !self.enum_values.contains(v) {
            return Some("enum");
        }
        // Integers are compared as integers: 62672162783232001 is above a maximum of
        // 62672162783232000, which it equals as a float.
        if let Some(n) = v.as_i64() {
            if self.minimum.is_some_and(|m| n < m) {
                return Some("minimum");
            }
            if self.maximum.is_some_and(|m| n > m) {
                return Some("maximum");
            }
        } else if let Some(n) = v.as_u64() {
            if self.maximum.is_some_and(|m| i128::from(n) > i128::from(m)) {
                return Some("maximum");
            }
        } else if let Some(n) = v.as_f64() {
            if self.minimum.is_some_and(|m| n < m as f64) {
                return Some("minimum");
            }
            if self.maximum.is_some_and(|m| n > m as f64) {
                return Some("maximum");
            }
        }
        if let Some(s) = v.as_str() {
            let len = s.chars().count() as u64;
            if self.min_length.is_some_and(|m| len < m) {
                return Some("minLength");
            }
            if self.max_length.is_some_and(|m| len > m) {
                return Some("maxLength");
            }
        }
        None
    }
}

/// One record type (`duo`, `login_messages`, `totp`), flattened.
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    pub name: String,
    /// Dotted key fields, in path order.
    pub keys: Vec<String>,
    /// Leaf fields, in schema order. Objects such as `owner` are not fields; their leaves are.
    pub fields: Vec<Field>,
    /// Object prefixes (`owner`, `svm`, `account`) whose leaves are fields.
    pub objects: Vec<String>,
}

impl Resource {
    pub fn field(&self, path: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.path == path)
    }
    pub fn gettable(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| f.gettable())
    }
    pub fn patchable(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| f.patchable())
    }
    /// Fields that a GET never returns (write-only secrets, POST-response-only values).
    pub fn secrets(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| !f.gettable())
    }
    /// The objects that name who a record belongs to: an `svm` or an `owner`, at any depth
    /// (other references, a snapshot's `volume`, are not owners).
    pub fn owner_objects(&self) -> impl Iterator<Item = &str> {
        self.objects.iter().map(String::as_str).filter(|o| {
            let last = o.rsplit('.').next().unwrap_or(o);
            last == "svm" || last == "owner"
        })
    }
    /// Whether `path` names a field or an object of fields (`owner`).
    pub fn knows(&self, path: &str) -> bool {
        self.field(path).is_some() || self.objects.iter().any(|o| o == path)
    }
    /// The fields a collection GET returns without `fields`: the keys and `name` if the resource
    /// has one (ONTAP-BEHAVIOR.md section 3).
    pub fn default_collection_fields(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        if self.field("name").is_some() && !out.contains(&"name") {
            out.push("name");
        }
        out
    }
}

/// Reads a dotted path out of a record.
pub fn get_path<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = record;
    for part in split_ascii(path, b'.') {
        cur = field(cur.as_object()?, part)?;
    }
    Some(cur)
}

/// `s.split(sep as char)` for an ASCII separator, looked for a byte at a time: on the short
/// paths and names it splits, cheaper than `str::split`'s searcher (which was 2% of the
/// harness's instructions in `bench/harness_rps.sh`).
pub fn split_ascii(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    debug_assert!(sep.is_ascii());
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.bytes().position(|b| b == sep) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Objects of at most this many fields are searched in order rather than through their map's
/// hash (SipHash), which costs more than comparing a few short names.
const SCAN_FIELDS: usize = 12;

/// One field of an object (the same answer as `Map::get`).
fn field<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    match m.len() <= SCAN_FIELDS {
        true => m.iter().find(|(k, _)| k.as_str() == name).map(|(_, v)| v),
        false => m.get(name),
    }
}

/// Writes a dotted path into a record, creating objects on the way.
pub fn set_path(record: &mut Map<String, Value>, path: &str, value: Value) {
    let mut parts = path.split('.').peekable();
    let mut cur = record;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(part.to_string(), value);
            return;
        }
        let slot = cur
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        cur = slot.as_object_mut().expect("just made an object");
    }
}

/// Removes a dotted path from a record, and objects left empty by it.
pub fn remove_path(record: &mut Map<String, Value>, path: &str) -> Option<Value> {
    match path.split_once('.') {
        None => record.remove(path),
        Some((head, rest)) => {
            let inner = record.get_mut(head)?.as_object_mut()?;
            let out = remove_path(inner, rest);
            if inner.is_empty() {
                record.remove(head);
            }
            out
        }
    }
}

/// Every dotted leaf path of a JSON object, with its value (arrays are leaves).
pub fn leaf_paths(value: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    find_leaf(value, |p, v| {
        out.push((p.to_string(), v));
        false
    });
    out
}

/// The first leaf path (in `leaf_paths` order) for which `hit` is true. Walks with one path
/// buffer, so a check that reads every answer's leaves allocates only for what it reports.
pub fn find_leaf<'a>(value: &'a Value, hit: impl FnMut(&str, &'a Value) -> bool) -> Option<String> {
    find_leaf_below(value, |_| true, hit)
}

/// [`find_leaf`], looking below an object (a path with fields under it) only where `descend`
/// is true of its path: the caller knows that `hit` is false of every leaf below the others.
pub fn find_leaf_below<'a>(
    value: &'a Value,
    mut descend: impl FnMut(&str) -> bool,
    mut hit: impl FnMut(&str, &'a Value) -> bool,
) -> Option<String> {
    fn walk<'a>(
        path: &mut String,
        v: &'a Value,
        descend: &mut dyn FnMut(&str) -> bool,
        hit: &mut dyn FnMut(&str, &'a Value) -> bool,
    ) -> bool {
        match v {
            Value::Object(m) if path.is_empty() || (!m.is_empty() && descend(path)) => {
                for (k, child) in m {
                    let len = path.len();
                    if len > 0 {
                        path.push('.');
                    }
                    path.push_str(k);
                    if walk(path, child, descend, hit) {
                        return true;
                    }
                    path.truncate(len);
                }
                false
            }
            Value::Object(m) if !m.is_empty() => false,
            _ => hit(path, v),
        }
    }
    let mut path = String::new();
    walk(&mut path, value, &mut descend, &mut hit).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `split_ascii` gives what `str::split` gives: empty parts, separators first and last,
    /// and text around the separator that is not ASCII.
    #[test]
    fn split_ascii_splits_as_str_split_does() {
        for s in [
            "",
            ".",
            "..",
            "a",
            "a.b",
            ".a",
            "a.",
            "a..b",
            "svm.name",
            "é.ü.",
            "日本.語",
            "/api/x/",
        ] {
            for sep in [b'.', b'/'] {
                let ours: Vec<&str> = split_ascii(s, sep).collect();
                let std: Vec<&str> = s.split(sep as char).collect();
                assert_eq!(ours, std, "{s:?} split at {:?}", sep as char);
            }
        }
    }

    /// `get_path` answers as `Map::get` does at every level, for objects searched in order
    /// (up to `SCAN_FIELDS` fields) and through their hash alike, names that share a prefix
    /// included.
    #[test]
    fn get_path_reads_small_and_large_objects_alike() {
        for n in [1, SCAN_FIELDS - 1, SCAN_FIELDS, SCAN_FIELDS + 1, 40] {
            let mut inner = Map::new();
            let mut outer = Map::new();
            for i in 0..n {
                inner.insert(format!("f{i}"), json!(i));
                outer.insert(format!("o{i}"), json!({ "x": i }));
            }
            outer.insert("svm".into(), Value::Object(inner.clone()));
            let record = Value::Object(outer.clone());
            for i in 0..n + 2 {
                let (f, o) = (format!("f{i}"), format!("o{i}"));
                assert_eq!(get_path(&record, &format!("svm.{f}")), inner.get(&f));
                let want = outer.get(&o).and_then(|v| v.get("x"));
                assert_eq!(get_path(&record, &format!("{o}.x")), want);
            }
            assert_eq!(get_path(&record, "svm.f"), None);
            assert_eq!(get_path(&record, "sv"), None);
            assert_eq!(get_path(&record, "svm.f0.deeper"), None);
            assert_eq!(get_path(&record, "svm"), outer.get("svm"));
        }
    }
}
