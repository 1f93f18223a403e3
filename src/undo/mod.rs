//! Putting the target back: what a record was before the run's first change to it ([`Saved`]),
//! and the restore journal on disk ([`journal`]).

pub mod journal;
mod stop;

pub use stop::Stop;

use serde_json::Value;

/// What the run did to a record, and so how to undo it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// PATCHed: write the original back.
    Changed,
    /// Created by the run: delete it.
    Created,
}

/// A record's state before the run's first change to it.
#[derive(Debug, Clone)]
pub struct Saved {
    pub family: String,
    pub path: String,
    pub change: Change,
    /// As a GET returned it (secret fields redacted), as compact JSON text: a collection PATCH
    /// keeps a whole family's originals, and a text costs a fraction of a `Value` tree.
    original: std::sync::Arc<str>,
}

impl Saved {
    /// `original`: the record as read (Null for a record the run creates).
    pub fn new(family: &str, path: &str, change: Change, original: &Value) -> Saved {
        Saved {
            family: family.to_string(),
            path: path.to_string(),
            change,
            original: original.to_string().into(),
        }
    }

    /// The record as it was before the run's first change (Null for a created one).
    pub fn original(&self) -> Value {
        // The text was written by serde_json from a Value: it parses.
        serde_json::from_str(&self.original).expect("a saved record's own JSON text")
    }
}
