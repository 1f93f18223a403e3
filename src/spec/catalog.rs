//! The questions asked of a loaded contract: a catalog entry's path (its keys, matching a
//! request path, rendering one with key values), its version gates and documented errors, which
//! shared rules apply to it, the endpoint that serves a request path and its relatives
//! (collection, instance, singleton, parent), and instances validated against the compiled
//! schemas.

use super::model::*;
use super::resource::Resource;
use super::{OntapVersion, Spec};
use serde_json::Value;

/// One catalog entry, with what the loader derived from it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub family: String,
    pub resource: String,
    pub file: String,
    pub def: EndpointDef,
    pub introduced: OntapVersion,
    pub(super) segments: Vec<Segment>,
}

/// One segment of a catalog path: a word, or `{key}`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Segment {
    Literal(String),
    Key(String),
}

impl Endpoint {
    pub fn path(&self) -> &str {
        &self.def.path
    }
    pub fn kind(&self) -> Kind {
        self.def.kind
    }
    pub fn methods(&self) -> impl Iterator<Item = Method> + '_ {
        self.def.methods.keys().copied()
    }
    pub fn method(&self, m: Method) -> Option<&MethodDef> {
        self.def.methods.get(&m)
    }
    pub fn has(&self, m: Method) -> bool {
        self.def.methods.contains_key(&m)
    }
    /// The dotted key fields the path carries, in order.
    pub fn path_keys(&self) -> Vec<&str> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Key(k) => Some(k.as_str()),
                Segment::Literal(_) => None,
            })
            .collect()
    }
    /// Matches a request path (already split on `/`, percent-decoded per segment) and returns the
    /// key values, or None.
    pub fn match_segments(&self, parts: &[String]) -> Option<Vec<(String, String)>> {
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut keys = Vec::new();
        for (seg, part) in self.segments.iter().zip(parts) {
            match seg {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Key(k) => keys.push((k.clone(), part.clone())),
            }
        }
        Some(keys)
    }
    /// The number of literal segments; more literal segments win when two paths match.
    pub fn literal_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }
    /// The path with key values filled in, each percent-encoded.
    pub fn render(&self, keys: &[(&str, &str)]) -> String {
        let value = |k: &str| keys.iter().find(|(n, _)| *n == k).map_or("", |(_, v)| *v);
        self.render_by(|k| Some(std::borrow::Cow::Borrowed(value(k))))
            .unwrap_or_default()
    }
    /// [`Endpoint::render`] with each key's value taken from `value_of` (a string as it is,
    /// any other value as its JSON text); None when a key has no value. Written straight into
    /// one string (a large family's every record is named this way).
    pub fn render_with<'v>(
        &self,
        value_of: impl Fn(&str) -> Option<&'v serde_json::Value>,
    ) -> Option<String> {
        self.render_by(|k| {
            Some(match value_of(k)? {
                serde_json::Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
                other => std::borrow::Cow::Owned(other.to_string()),
            })
        })
    }
    /// The path with each key segment `value_of` the key, percent-encoded; None when a key has
    /// no value.
    pub fn render_by<'v>(
        &self,
        value_of: impl Fn(&str) -> Option<std::borrow::Cow<'v, str>>,
    ) -> Option<String> {
        let mut out = String::with_capacity(96);
        for seg in &self.segments {
            out.push('/');
            match seg {
                Segment::Literal(l) => out.push_str(l),
                Segment::Key(k) => {
                    out.extend(percent_encoding::utf8_percent_encode(
                        &value_of(k)?,
                        SEGMENT,
                    ));
                }
            }
        }
        Some(out)
    }
    /// Whether a target of version `v` has this endpoint.
    pub fn available_in(&self, v: OntapVersion) -> bool {
        v >= self.introduced
    }
    /// Whether `m` is served by a target of version `v` (not yet removed).
    pub fn method_removed_in(&self, m: Method, v: OntapVersion) -> Option<&RemovedError> {
        let def = self.method(m)?;
        let removed: OntapVersion = def.removed_in.as_deref()?.parse().ok()?;
        if v >= removed {
            def.removed_error.as_ref()
        } else {
            None
        }
    }
    /// The documented error for a condition on a method, if the catalog has one.
    pub fn documented_error(
        &self,
        m: Method,
        cond: Condition,
        field: Option<&str>,
    ) -> Option<&ErrorCodeDef> {
        let def = self.method(m)?;
        def.errors.iter().find(|e| {
            e.condition == Some(cond) && (e.field.is_none() || e.field.as_deref() == field)
        })
    }
}

impl ConventionRule {
    /// Whether the rule's `applies` (kind and methods) holds for an endpoint.
    pub fn applies_to(&self, ep: &Endpoint) -> bool {
        let kind_ok = match self.applies.kind.as_str() {
            "collection" => ep.kind() == Kind::Collection,
            "instance" => ep.kind() == Kind::Instance,
            // A path that names one record: an instance, or a singleton (which has no keys).
            "record" => matches!(ep.kind(), Kind::Instance | Kind::Singleton),
            _ => true,
        };
        kind_ok && self.applies.methods.iter().all(|m| ep.has(*m))
    }
}

/// A path with its keys blanked: `/api/storage/volumes/{volume.uuid}/snapshots` ->
/// `/api/storage/volumes/{}/snapshots` (two paths of one shape name the same place whatever
/// their keys are called).
pub fn path_shape(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Percent-encodes one path segment (everything but unreserved characters).
pub fn encode_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

/// What a path segment percent-encodes: all but letters, digits and `-._~`.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A problem found in a JSON value by a compiled schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the instance.
    pub pointer: String,
    pub message: String,
}

impl Spec {
    /// Validates an instance against a named schema.
    pub fn validate(&self, schema: &str, instance: &Value) -> Vec<Violation> {
        match self.validators.get(schema) {
            None => vec![Violation {
                pointer: String::new(),
                message: format!("no schema named {schema}"),
            }],
            Some(v) => v
                .iter_errors(instance)
                .map(|e| Violation {
                    pointer: e.instance_path().to_string(),
                    message: e.to_string(),
                })
                .collect(),
        }
    }

    /// Whether an instance is valid against a named schema (no error is built: the fast path).
    pub fn is_valid(&self, schema: &str, instance: &Value) -> bool {
        self.validators
            .get(schema)
            .is_some_and(|v| v.is_valid(instance))
    }

    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.get(name)
    }

    /// The resource of an endpoint.
    pub fn resource_of(&self, ep: &Endpoint) -> &Resource {
        &self.resources[&ep.resource]
    }

    pub fn endpoint(&self, path: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.def.path == path)
    }

    /// The collection endpoint of the same family as `ep` (for an instance), or itself.
    pub fn collection_of(&self, ep: &Endpoint) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.family == ep.family && e.kind() == Kind::Collection)
    }

    /// The singleton endpoint of a family, if it is one.
    pub fn singleton_of(&self, family: &str) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.family == family && e.kind() == Kind::Singleton)
    }

    /// The instance endpoint of the same family.
    pub fn instance_of(&self, ep: &Endpoint) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.family == ep.family && e.kind() == Kind::Instance)
    }

    /// The parent of a nested collection (`/api/storage/volumes/{volume.uuid}/snapshots`): the
    /// instance path of another family its path starts with (`/api/storage/volumes/{uuid}`),
    /// and for each key of that path the key of `ep`'s path it fills (`uuid` -> `volume.uuid`).
    /// None for a path without parents' keys, or when no family's records live there.
    pub fn parent_of(&self, ep: &Endpoint) -> Option<(&Endpoint, Vec<(String, String)>)> {
        let keys = ep.path_keys();
        let last = keys.last()?;
        let path = ep.path();
        let cut = path.find(&format!("{{{last}}}"))? + last.len() + 2;
        let want = path_shape(&path[..cut]);
        let parent = self.endpoints.iter().find(|e| {
            e.family != ep.family && e.kind() == Kind::Instance && path_shape(e.path()) == want
        })?;
        let theirs = parent.path_keys();
        (theirs.len() == keys.len()).then(|| {
            let pairs = theirs
                .iter()
                .zip(&keys)
                .map(|(t, m)| (t.to_string(), m.to_string()))
                .collect();
            (parent, pairs)
        })
    }

    /// Finds the endpoint serving a request path and the key values it carries. Each segment is
    /// percent-decoded (and `+` read as a space, as `quote_plus` clients send it).
    pub fn route(&self, path: &str) -> Option<(&Endpoint, Vec<(String, String)>)> {
        let parts: Vec<String> = path
            .trim_end_matches('/')
            .split('/')
            .skip(1)
            .map(decode_segment)
            .collect::<Option<_>>()?;
        self.endpoints
            .iter()
            .filter_map(|e| e.match_segments(&parts).map(|k| (e, k)))
            .max_by_key(|(e, _)| e.literal_count())
    }

    /// A shared rule by id.
    pub fn convention(&self, id: &str) -> Option<&ConventionRule> {
        self.conventions.iter().find(|r| r.id == id)
    }

    /// The shared rules that apply to an endpoint.
    pub fn conventions_for<'a>(
        &'a self,
        ep: &'a Endpoint,
    ) -> impl Iterator<Item = &'a ConventionRule> + 'a {
        self.conventions.iter().filter(move |r| r.applies_to(ep))
    }

    /// Every rule that applies to an endpoint: its own, the shared ones, the documented error
    /// codes and the access flags and constraints of its resource's fields.
    pub fn rule_count(&self, ep: &Endpoint) -> usize {
        let res = self.resource_of(ep);
        let own = ep.def.rules.len();
        let shared = self.conventions_for(ep).count();
        let errors: usize = ep.def.methods.values().map(|m| m.errors.len()).sum();
        let field_rules: usize = res
            .fields
            .iter()
            .map(|f| {
                let fl = &f.flags;
                [
                    fl.read_only,
                    fl.patch_forbidden,
                    fl.write_only || fl.post_response_only,
                    fl.admin_only,
                    fl.crlf_normalised,
                    fl.empty_unsets,
                    !f.enum_values.is_empty(),
                    f.minimum.is_some() || f.maximum.is_some(),
                    f.min_length.is_some() || f.max_length.is_some(),
                ]
                .iter()
                .filter(|b| **b)
                .count()
            })
            .sum();
        own + shared + errors + field_rules
    }
}

/// Percent-decodes one path segment, reading `+` as a space (as `quote_plus` clients send it).
pub fn decode_segment(s: &str) -> Option<String> {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod render_tests {
    use crate::spec::Spec;
    use serde_json::{Value, json};

    /// A record's path written straight from its values is the path `render` writes from the
    /// same values as text: strings as they are, other values as their JSON, every segment
    /// percent-encoded.
    #[test]
    fn render_with_writes_what_render_writes() {
        let spec = Spec::builtin();
        let ep = spec
            .endpoint("/api/security/login/totps/{owner.uuid}/{account.name}")
            .expect("the builtin TOTP instance path");
        for (uuid, name) in [
            (
                json!("5ca1e000-0000-4000-8000-00000000027b"),
                json!("user0"),
            ),
            (json!("a/b c"), json!("ü%?#&é")),
            (json!(7), json!(null)),
            (json!(true), json!(1.5)),
        ] {
            let text = |v: &Value| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let (u, n) = (text(&uuid), text(&name));
            let want = ep.render(&[("owner.uuid", &u), ("account.name", &n)]);
            let record = json!({"owner": {"uuid": uuid}, "account": {"name": name}});
            let got = ep.render_with(|k| crate::spec::resource::get_path(&record, k));
            assert_eq!(got.as_deref(), Some(want.as_str()));
        }
        let no_name = json!({"owner": {"uuid": "u"}});
        assert_eq!(
            ep.render_with(|k| crate::spec::resource::get_path(&no_name, k)),
            None,
            "a key without a value names no record"
        );
    }
}
