//! A resource as the query engine serves it ([`ServedResource`]): the field model, and what is
//! precomputed once from it: the default field sets, the key fields, the fields as a tree in
//! answer order, and the self link of a record.

use crate::mock::keys::{canonical_key, key_text};
use crate::spec::Endpoint;
use crate::spec::resource::{Resource, get_path};
use serde_json::Value;

/// A resource as the engine serves it: the field model plus what is precomputed once.
#[derive(Debug)]
pub struct ServedResource {
    pub res: &'static Resource,
    /// The collection path (`/api/security/login/messages`).
    pub collection_path: String,
    /// The catalog's instance endpoint, to render self links; None: collection path + keys.
    pub instance_ep: Option<&'static Endpoint>,
    /// What a collection GET without `fields` returns.
    pub(super) default_collection: Vec<bool>,
    /// Every gettable field.
    pub(super) all_gettable: Vec<bool>,
    /// Keys and the whole key objects (`owner`, `account`).
    pub(super) key_mask: Vec<bool>,
    /// The fields as a tree in answer order.
    pub(super) tree: Vec<Node>,
    /// The index of the first key field.
    first_key: Option<usize>,
    /// The field the `costly-field` variant leaves out of `fields=*`: the first derived field
    /// (a fingerprint is computed), else the last gettable field outside the keys.
    pub(super) costly: Option<usize>,
}

impl ServedResource {
    pub fn new(
        res: &'static Resource,
        collection_path: String,
        instance_ep: Option<&'static Endpoint>,
    ) -> ServedResource {
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
        ServedResource {
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

/// A resource's fields as a tree in answer order (keys first), for [`super::write_record`].
#[derive(Debug)]
pub(super) enum Node {
    Leaf {
        name: String,
        /// `"name":`, ready to copy.
        key: Box<[u8]>,
        field: usize,
    },
    Object {
        name: String,
        key: Box<[u8]>,
        children: Vec<Node>,
    },
}

fn key_json(name: &str) -> Box<[u8]> {
    let mut k = serde_json::to_vec(name).unwrap_or_default();
    k.push(b':');
    k.into_boxed_slice()
}

pub(super) fn build_tree(res: &Resource, order: &[usize]) -> Vec<Node> {
    fn insert(nodes: &mut Vec<Node>, parts: &[&str], field: usize) {
        if parts.len() == 1 {
            nodes.push(Node::Leaf {
                name: parts[0].to_string(),
                key: key_json(parts[0]),
                field,
            });
            return;
        }
        let pos = nodes
            .iter()
            .position(|n| matches!(n, Node::Object { name, .. } if name == parts[0]));
        let idx = match pos {
            Some(i) => i,
            None => {
                nodes.push(Node::Object {
                    name: parts[0].to_string(),
                    key: key_json(parts[0]),
                    children: Vec::new(),
                });
                nodes.len() - 1
            }
        };
        if let Node::Object { children, .. } = &mut nodes[idx] {
            insert(children, &parts[1..], field);
        }
    }
    let mut tree = Vec::new();
    for &i in order {
        let parts: Vec<&str> = res.fields[i].path.split('.').collect();
        insert(&mut tree, &parts, i);
    }
    tree
}
