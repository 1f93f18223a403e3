//! The one query engine every collection of the mock uses (catalog families and discovery
//! endpoints alike). Nothing here names a field of the catalog: it all comes from the
//! [`Resource`] a [`Table`] is made of. A collection GET goes, one file each:
//!
//! - [`parse`]: the query string decoded and checked into a [`QueryPlan`] (`fields`,
//!   `order_by`, `max_records`, `return_records`, the filters, the paging position);
//! - [`matching`]: the filters with ONTAP's operators (`|`, `!`, `*`, `<`, `..`, `null`);
//! - [`order`]: `order_by`, unset values below every value (or where a variant puts them);
//! - [`page`]: `max_records` paging with `_links.next`, `return_records=false`, the answer text;
//! - [`project`]: the projection of one stored record into an answer (the selected fields, HAL
//!   links, secrets withheld), written straight as JSON text.
//!
//! The engine depends on the switches (`faults`, `variants`), the errors and the contract only;
//! the store and the handler depend on it, never the other way round.

mod matching;
mod order;
mod page;
mod parse;
mod project;

pub use matching::matches_all;
pub use page::{collection_get, decode_token};
pub use parse::{QueryPlan, parse_query, reject_duplicates};
pub use project::{
    Render, Rendered, Row, Selection, Shape, post_selection, project, select, write_record,
};

use super::keys::{canonical_key, key_text};
use crate::spec::Endpoint;
use crate::spec::resource::{Resource, get_path};
use project::{Node, build_tree};
use serde_json::Value;

/// The parameter that carries the paging position in `_links.next` (opaque to clients).
pub const START_PARAM: &str = "start.index";
/// The one parameter of a `next` link under the `opaque-next` variant: the whole query, hex.
pub const TOKEN_PARAM: &str = "next_token";

/// A resource as the engine serves it: the field model plus what is precomputed once.
#[derive(Debug)]
pub struct Table {
    pub res: &'static Resource,
    /// The collection path (`/api/security/login/messages`).
    pub collection_path: String,
    /// The catalog's instance endpoint, to render self links; None: collection path + keys.
    pub instance_ep: Option<&'static Endpoint>,
    /// What a collection GET without `fields` returns.
    default_collection: Vec<bool>,
    /// Every gettable field.
    all_gettable: Vec<bool>,
    /// Keys and the whole key objects (`owner`, `account`).
    key_mask: Vec<bool>,
    /// The fields as a tree in answer order.
    tree: Vec<Node>,
    /// The index of the first key field.
    first_key: Option<usize>,
    /// The field the `costly-field` variant leaves out of `fields=*`: the first derived field
    /// (a fingerprint is computed), else the last gettable field outside the keys.
    costly: Option<usize>,
}

impl Table {
    pub fn new(
        res: &'static Resource,
        collection_path: String,
        instance_ep: Option<&'static Endpoint>,
    ) -> Table {
        let n = res.fields.len();
        let mut order: Vec<usize> = res
            .keys
            .iter()
            .filter_map(|k| res.fields.iter().position(|f| &f.path == k))
            .collect();
        for i in 0..n {
            if !order.contains(&i) {
                order.push(i);
            }
        }
        let all_gettable: Vec<bool> = res.fields.iter().map(|f| f.gettable()).collect();
        let key_objects: Vec<&str> = res
            .keys
            .iter()
            .filter_map(|k| k.rsplit_once('.').map(|(o, _)| o))
            .collect();
        let key_mask: Vec<bool> = res
            .fields
            .iter()
            .map(|f| {
                f.gettable()
                    && (f.flags.key
                        || key_objects
                            .iter()
                            .any(|o| f.path.strip_prefix(o).is_some_and(|r| r.starts_with('.'))))
            })
            .collect();
        let defaults = res.default_collection_fields();
        let default_collection = res
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| key_mask[i] || (f.gettable() && defaults.contains(&f.path.as_str())))
            .collect();
        let tree = build_tree(res, &order);
        let first_key = res
            .keys
            .first()
            .and_then(|k| res.fields.iter().position(|f| &f.path == k));
        let costly = res
            .fields
            .iter()
            .position(|f| f.gettable() && f.derived_from.is_some())
            .or_else(|| {
                (0..n)
                    .rev()
                    .find(|&i| res.fields[i].gettable() && !key_mask[i])
            });
        Table {
            res,
            costly,
            collection_path,
            instance_ep,
            tree,
            first_key,
            default_collection,
            all_gettable,
            key_mask,
        }
    }

    /// The path of one record.
    pub fn instance_href(&self, record: &Value) -> String {
        let vals: Vec<(String, String)> = self
            .res
            .keys
            .iter()
            .map(|k| (k.clone(), text_of(get_path(record, k))))
            .collect();
        match self.instance_ep {
            Some(ep) => {
                let refs: Vec<(&str, &str)> =
                    vals.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                ep.render(&refs)
            }
            None => {
                let mut out = self.collection_path.clone();
                for (_, v) in &vals {
                    out.push('/');
                    out.push_str(&crate::spec::encode_segment(v));
                }
                out
            }
        }
    }

    /// The path of the first key field (`uuid`, `owner.uuid`), if the resource has keys.
    pub fn first_key_path(&self) -> Option<&str> {
        self.first_key.map(|i| self.res.fields[i].path.as_str())
    }

    /// Whether a record's keys equal these values.
    pub fn has_keys(&self, record: &Value, keys: &[(String, String)]) -> bool {
        keys.iter().all(|(k, v)| {
            get_path(record, k)
                .and_then(key_text)
                .is_some_and(|s| s == canonical_key(v))
        })
    }
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}
