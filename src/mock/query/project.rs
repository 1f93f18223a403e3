//! The projection of a stored record into an answer: which fields an answer shows
//! ([`select`]: `fields`, the defaults of a collection or an instance, the faults and variants
//! that change them), and the record written straight into JSON text ([`write_record`], the hot
//! path of every GET) from the resource's fields as a tree, or from the pieces the store keeps
//! rendered ([`Rendered`]). Objects come out whole or not at all (never `{}`); secrets never,
//! unless a POST answer or the `leak-secret` fault shows them.

use super::parse::FieldsSel;
use super::parse::QueryPlan;
use super::served::{Node, ServedResource};
use crate::mock::faults::Fault;
use crate::mock::variants::{NEWER_FIELD, Variant};
use crate::spec::resource::get_path;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Collection or instance: decides the default field set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    Collection,
    Instance,
}

/// The fields an answer shows.
#[derive(Debug, Clone)]
pub struct Selection {
    mask: Vec<bool>,
    /// Also show stored secrets that are selected (only the `leak-secret` fault, or a POST answer
    /// for POST-response-only fields).
    secrets: bool,
    /// Add a field this contract does not know (the `newer-field` variant).
    newer: bool,
}

/// Decides the fields of an answer.
pub fn select(
    table: &ServedResource,
    plan: &QueryPlan,
    shape: ReadKind,
    faults: &BTreeSet<Fault>,
) -> Selection {
    let res = table.res;
    let leak = faults.contains(&Fault::LeakSecret);
    let default = || match shape {
        ReadKind::Collection => table.default_collection.clone(),
        ReadKind::Instance => table.all_gettable.clone(),
    };
    let fields = if faults.contains(&Fault::FieldsIgnored) {
        None
    } else {
        plan.fields.as_ref()
    };
    let variant = |v: Variant| plan.variants.contains(&v);
    let common = match fields {
        Some(FieldsSel::Common) => true,
        None => shape == ReadKind::Instance,
        _ => false,
    };
    let newer = variant(Variant::NewerField)
        && (matches!(fields, Some(FieldsSel::Common | FieldsSel::All))
            || (fields.is_none() && shape == ReadKind::Instance));
    let (mut mask, secrets) = match fields {
        None if shape == ReadKind::Collection && variant(Variant::CollectionAllFields) => {
            (table.all_gettable.clone(), false)
        }
        None => (default(), false),
        Some(FieldsSel::Common | FieldsSel::All) => {
            if leak {
                (vec![true; res.fields.len()], true)
            } else {
                (table.all_gettable.clone(), false)
            }
        }
        Some(FieldsSel::List(_)) if faults.contains(&Fault::FieldsExtra) => {
            (table.all_gettable.clone(), false)
        }
        Some(FieldsSel::List(names)) => {
            let mut mask = table.key_mask.clone();
            for (i, f) in res.fields.iter().enumerate() {
                let named = names.iter().any(|n| {
                    f.path == *n
                        || f.path
                            .strip_prefix(n.as_str())
                            .is_some_and(|r| r.starts_with('.'))
                });
                if named && (f.gettable() || leak) {
                    mask[i] = true;
                }
            }
            (mask, leak)
        }
    };
    if common
        && variant(Variant::CostlyField)
        && !faults.contains(&Fault::FieldsIgnored)
        && let Some(i) = table.costly
    {
        mask[i] = false;
    }
    if shape == ReadKind::Collection {
        for flt in &plan.filters {
            mask[flt.field] = true;
        }
    }
    Selection {
        mask,
        secrets,
        newer,
    }
}

/// Selection for a POST answer: every gettable field and the POST-response-only ones, never a
/// write-only one.
pub fn post_selection(table: &ServedResource) -> Selection {
    let mask = table
        .res
        .fields
        .iter()
        .map(|f| !f.flags.write_only)
        .collect();
    Selection {
        mask,
        secrets: true,
        newer: false,
    }
}

/// How links are rendered.
#[derive(Debug, Clone, Copy)]
pub struct Render {
    /// `application/hal+json` (or `*/*`, or no Accept): self links on records and collections.
    pub hal: bool,
}

/// Projects one stored record into an answer, as a JSON value.
pub fn project(table: &ServedResource, record: &Value, sel: &Selection, render: Render) -> Value {
    let mut buf = Vec::with_capacity(512);
    write_record(&mut buf, table, Row::plain(record), sel, render);
    serde_json::from_slice(&buf).unwrap_or_else(|_| Value::Object(Map::new()))
}

/// Projects one stored record straight into JSON text: the hot path of every GET, so no
/// intermediate tree is built. Objects come out whole or not at all (never `{}`).
pub fn write_record(
    buf: &mut Vec<u8>,
    table: &ServedResource,
    row: Row<'_>,
    sel: &Selection,
    render: Render,
) {
    let ctx = WriteCtx { table, sel };
    buf.push(b'{');
    let mut first = true;
    match (row.rendered, row.value.as_object()) {
        (Some(r), _) => write_children_rendered(buf, &table.tree, r, &ctx, &mut first),
        (None, Some(obj)) => write_children(buf, &table.tree, obj, &ctx, &mut first),
        (None, None) => {}
    }
    if sel.newer {
        write_key(buf, NEWER_FIELD, &mut first);
        buf.extend_from_slice(b"\"a field of a later ONTAP release\"");
    }
    if render.hal {
        if !first {
            buf.push(b',');
        }
        buf.extend_from_slice(b"\"_links\":{\"self\":{\"href\":");
        match row.rendered {
            Some(r) => buf.extend_from_slice(&r.href),
            None => write_json(buf, &Value::String(table.instance_href(row.value))),
        }
        buf.extend_from_slice(b"}}");
    }
    buf.push(b'}');
}

struct WriteCtx<'a> {
    table: &'a ServedResource,
    sel: &'a Selection,
}

impl WriteCtx<'_> {
    /// Whether field `i` belongs in the answer (if it has a value).
    fn shows(&self, i: usize) -> bool {
        self.sel.mask[i] && (self.sel.secrets || self.table.res.fields[i].gettable())
    }
}

/// A record's answer pieces: each field's value as JSON text, and its self link.
#[derive(Debug)]
pub struct Rendered {
    leaves: Vec<Option<Box<[u8]>>>,
    /// The href as a JSON string.
    href: Box<[u8]>,
}

impl Rendered {
    pub fn new(table: &ServedResource, record: &Value) -> Rendered {
        let leaves = table
            .res
            .fields
            .iter()
            .map(|f| {
                get_path(record, &f.path)
                    .and_then(|v| serde_json::to_vec(v).ok())
                    .map(Vec::into_boxed_slice)
            })
            .collect();
        let href = serde_json::to_vec(&Value::String(table.instance_href(record)))
            .unwrap_or_default()
            .into_boxed_slice();
        Rendered { leaves, href }
    }
}

/// [`write_children`] from rendered pieces: no lookups, no escaping, only copies.
fn write_children_rendered(
    buf: &mut Vec<u8>,
    nodes: &[Node],
    r: &Rendered,
    ctx: &WriteCtx<'_>,
    first: &mut bool,
) {
    for node in nodes {
        match node {
            Node::Leaf { key, field, .. } => {
                if !ctx.shows(*field) {
                    continue;
                }
                if let Some(Some(v)) = r.leaves.get(*field) {
                    write_raw_key(buf, key, first);
                    buf.extend_from_slice(v);
                }
            }
            Node::Object { key, children, .. } => {
                write_object(buf, key, first, |buf, inner_first| {
                    write_children_rendered(buf, children, r, ctx, inner_first)
                });
            }
        }
    }
}

/// A record to answer with: its value, and its rendered pieces when the store keeps them.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub value: &'a Value,
    pub rendered: Option<&'a Rendered>,
}

impl<'a> Row<'a> {
    pub fn plain(value: &'a Value) -> Row<'a> {
        Row {
            value,
            rendered: None,
        }
    }
}

pub(super) fn write_json(buf: &mut Vec<u8>, v: &Value) {
    // Writing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, v);
}

pub(super) fn write_key(buf: &mut Vec<u8>, name: &str, first: &mut bool) {
    if !*first {
        buf.push(b',');
    }
    *first = false;
    let _ = serde_json::to_writer(&mut *buf, name);
    buf.push(b':');
}

/// Writes `"key":{...}` with the children `fill` writes; an object left empty is not written.
fn write_object(
    buf: &mut Vec<u8>,
    key: &[u8],
    first: &mut bool,
    fill: impl FnOnce(&mut Vec<u8>, &mut bool),
) {
    let mark = buf.len();
    let was_first = *first;
    write_raw_key(buf, key, first);
    buf.push(b'{');
    let mut inner_first = true;
    fill(buf, &mut inner_first);
    if inner_first {
        buf.truncate(mark);
        *first = was_first;
    } else {
        buf.push(b'}');
    }
}

fn write_raw_key(buf: &mut Vec<u8>, key: &[u8], first: &mut bool) {
    if !*first {
        buf.push(b',');
    }
    *first = false;
    buf.extend_from_slice(key);
}

fn write_children(
    buf: &mut Vec<u8>,
    nodes: &[Node],
    obj: &Map<String, Value>,
    ctx: &WriteCtx<'_>,
    first: &mut bool,
) {
    for node in nodes {
        match node {
            Node::Leaf { name, key, field } => {
                let i = *field;
                if !ctx.shows(i) {
                    continue;
                }
                let Some(v) = obj.get(name) else {
                    continue;
                };
                write_raw_key(buf, key, first);
                write_json(buf, v);
            }
            Node::Object {
                name,
                key,
                children,
            } => {
                let Some(Value::Object(inner)) = obj.get(name) else {
                    continue;
                };
                write_object(buf, key, first, |buf, inner_first| {
                    write_children(buf, children, inner, ctx, inner_first)
                });
            }
        }
    }
}
