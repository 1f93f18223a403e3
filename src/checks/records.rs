//! The records the discovery read returned, kept for the whole run. A large cluster has tens of
//! thousands of them, and a `serde_json::Value` tree costs five to six times the record's text
//! (maps, keys and strings each allocated), so each record is kept as its compact JSON text beside
//! its identity, and parsed again only when a check looks at it. Checks that need a whole family
//! look at it one record at a time ([`Records::iter`]); the identities answer most of their
//! questions without parsing anything.

use serde_json::Value;

/// The records of one family, in the order the target listed them: every record's text in one
/// buffer and every identity in another (two allocations for a family, not two a record, so a
/// large family neither pays a header per record nor scatters itself among short-lived blocks).
#[derive(Debug, Default, Clone)]
pub struct Records {
    /// Each record without `_links`, as compact JSON text, one after the other.
    texts: String,
    /// Where each record's text ends in `texts`.
    text_ends: Vec<usize>,
    /// Each record's identity (its key values joined, see [`crate::checks::read::identity`]).
    ids: String,
    /// Where each identity ends in `ids`.
    id_ends: Vec<usize>,
}

impl Records {
    /// No record (a family the run did not read).
    pub const EMPTY: Records = Records {
        texts: String::new(),
        text_ends: Vec::new(),
        ids: String::new(),
        id_ends: Vec::new(),
    };

    /// Adds a record (its `_links` left out: no check reads them here) with its identity.
    pub fn push(&mut self, id: String, record: &Value) {
        /// A record's fields but `_links`, written as they are (no copy of the record).
        struct WithoutLinks<'a>(&'a serde_json::Map<String, Value>);
        impl serde::Serialize for WithoutLinks<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().filter(|(k, _)| *k != "_links"))
            }
        }
        let text = match record {
            Value::Object(m) => serde_json::to_string(&WithoutLinks(m)),
            other => serde_json::to_string(other),
        };
        // Serialising a Value (or its fields) cannot fail.
        self.texts.push_str(&text.unwrap_or_default());
        self.text_ends.push(self.texts.len());
        self.ids.push_str(&id);
        self.id_ends.push(self.ids.len());
    }

    pub fn len(&self) -> usize {
        self.text_ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text_ends.is_empty()
    }

    fn slice<'a>(buf: &'a str, ends: &[usize], i: usize) -> Option<&'a str> {
        let end = *ends.get(i)?;
        let start = if i == 0 { 0 } else { ends[i - 1] };
        Some(&buf[start..end])
    }

    /// The identities, in the target's order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).filter_map(|i| Self::slice(&self.ids, &self.id_ends, i))
    }

    /// The record at `i`, parsed.
    pub fn get(&self, i: usize) -> Option<Value> {
        // The text was written by serde_json from a Value: it parses.
        Self::slice(&self.texts, &self.text_ends, i)
            .map(|t| serde_json::from_str(t).expect("a record's own JSON text"))
    }

    /// Every record, parsed one at a time (none is held longer than the caller keeps it).
    pub fn iter(&self) -> impl Iterator<Item = Value> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// The records at `indices`, parsed.
    pub fn pick(&self, indices: &[usize]) -> Vec<Value> {
        indices.iter().filter_map(|&i| self.get(i)).collect()
    }

    /// Where each identity is (the first record with it).
    pub fn positions(&self) -> std::collections::HashMap<&str, usize> {
        let mut out = std::collections::HashMap::with_capacity(self.len());
        for (i, id) in self.ids().enumerate() {
            out.entry(id).or_insert(i);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_come_back_as_they_went_in_without_links_and_with_their_identity() {
        let mut r = Records::default();
        let a =
            json!({"owner": {"name": "vs1"}, "comment": "a", "_links": {"self": {"href": "/x"}}});
        let b = json!({"owner": {"name": "vs2"}, "comment": "b", "n": 3, "on": true});
        r.push("vs1".into(), &a);
        r.push("vs2".into(), &b);
        assert_eq!(r.len(), 2);
        assert!(!r.is_empty());
        assert_eq!(
            r.get(0).unwrap(),
            json!({"owner": {"name": "vs1"}, "comment": "a"})
        );
        assert_eq!(r.get(1).unwrap(), b);
        assert_eq!(r.get(2), None);
        assert_eq!(r.ids().collect::<Vec<_>>(), ["vs1", "vs2"]);
        assert_eq!(r.iter().count(), 2);
        assert_eq!(r.pick(&[1]), vec![b]);
        assert_eq!(r.positions()["vs2"], 1);
    }
}
