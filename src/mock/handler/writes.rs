//! The generic writes of a catalog family against the store: PATCH of one record, PATCH of every
//! record a query selects (collection PATCH), POST (owners resolved, duplicates refused, defaults
//! and one-time secrets filled in, `Location` answered) and DELETE. A body is validated whole
//! ([`super::validate`]) before anything is stored; the faults that store what ONTAP would not
//! (or nothing) live here.

use super::Mock;
use super::accounts;
use super::body::parse_body;
use super::validate::{Write, WriteOp};
use crate::mock::config::Role;
use crate::mock::errors::{ApiError, CODE_BAD_REQUEST, CODE_DUPLICATE, CODE_NOT_FOUND};
use crate::mock::faults::Fault;
use crate::mock::query::{QueryPlan, Render, ServedResource, matches_all, post_selection, project};
use crate::mock::reply::Reply;
use crate::mock::store::{Owner, Rec, RecId, Store, derive_fields};
use crate::spec::Endpoint;
use crate::spec::model::{Condition, Method};
use crate::spec::resource::{
    Field, FieldType, Resource, get_path, leaf_paths, remove_path, set_path,
};
use axum::http::StatusCode;
use serde_json::{Map, Value};

/// The key that names an account of `/api/security/accounts`.
const ACCOUNT_KEY: &str = "account.name";

impl Mock {
    pub(super) fn patch_instance(
        &self,
        ep: &Endpoint,
        table: &ServedResource,
        keys: &[(String, String)],
        role: &Role,
        body: &[u8],
    ) -> Result<Reply<'_>, ApiError> {
        let mut body = Value::Object(parse_body(body)?);
        let mut store = self.write();
        let i = self
            .find(&store, &ep.family, table, keys, self.write_scope(role))
            .ok_or_else(|| self.not_found(&store, ep, Method::PATCH, table, keys))?;
        let family = ep.family.as_str();
        if accounts::is_accounts(table) {
            accounts::patch_defaults(&mut body);
            accounts::check_password(store.records[family][i].value(), &body)?;
        }
        let write = Write {
            op: WriteOp::Patch,
            ep,
            role,
            current: Some(store.records[family][i].value()),
        };
        let checked = self.check_body(write, table, &body);
        if let Some(e) = checked.error {
            if self.has(Fault::PatchPartial) && !checked.sets.is_empty() {
                if let Some(recs) = store.records.get_mut(family) {
                    recs.update(i, |v| Self::apply(table.res, v, &checked.sets));
                }
                self.persist_after_change(&store);
            }
            return Err(e);
        }
        if !self.has(Fault::PatchNotStored) && !checked.sets.is_empty() {
            let before = self.snapshot(&store);
            if let Some(recs) = store.records.get_mut(family) {
                recs.update(i, |v| Self::apply(table.res, v, &checked.sets));
            }
            self.persist_or_roll_back(&mut store, before)?;
        }
        Ok(Reply::empty())
    }

    pub(super) fn patch_collection(
        &self,
        ep: &Endpoint,
        table: &ServedResource,
        plan: &QueryPlan,
        role: &Role,
        body: &[u8],
        hal: bool,
    ) -> Result<Reply<'_>, ApiError> {
        require_query_field(table, plan, "PATCH")?;
        let body = Value::Object(parse_body(body)?);
        let mut store = self.write();
        let family = ep.family.as_str();
        let matching = self.matching(&store, family, table, plan, role);
        let mut all_sets = Vec::new();
        let mut first_error = None;
        if matching.is_empty() {
            let write = Write {
                op: WriteOp::Patch,
                ep,
                role,
                current: None,
            };
            let c = self.check_body(write, table, &body);
            first_error = c.error;
        }
        for &i in &matching {
            let write = Write {
                op: WriteOp::Patch,
                ep,
                role,
                current: Some(store.records[family][i].value()),
            };
            let c = self.check_body(write, table, &body);
            if first_error.is_none() {
                first_error = c.error;
            }
            all_sets.push((i, c.sets));
        }
        let apply_all = |store: &mut Store| {
            if let Some(recs) = store.records.get_mut(family) {
                for (i, sets) in &all_sets {
                    recs.update(*i, |v| Self::apply(table.res, v, sets));
                }
            }
        };
        if let Some(e) = first_error {
            if self.has(Fault::PatchPartial) && all_sets.iter().any(|(_, s)| !s.is_empty()) {
                apply_all(&mut store);
                self.persist_after_change(&store);
            }
            return Err(e);
        }
        if !self.has(Fault::PatchNotStored) && all_sets.iter().any(|(_, s)| !s.is_empty()) {
            let before = self.snapshot(&store);
            apply_all(&mut store);
            self.persist_or_roll_back(&mut store, before)?;
        }
        Ok(collection_answer(table, plan, matching.len(), hal))
    }

    /// DELETE on a collection: every record the query selects that the caller may see, as if
    /// each were deleted by its path (ONTAP-BEHAVIOR.md §7); refused without a query field.
    pub(super) fn delete_collection(
        &self,
        ep: &Endpoint,
        table: &ServedResource,
        plan: &QueryPlan,
        role: &Role,
        hal: bool,
    ) -> Result<Reply<'_>, ApiError> {
        require_query_field(table, plan, "DELETE")?;
        let mut store = self.write();
        let family = ep.family.as_str();
        let matching = self.matching(&store, family, table, plan, role);
        if !matching.is_empty() {
            let before = self.snapshot(&store);
            store.remove(family, &matching);
            self.persist_or_roll_back(&mut store, before)?;
        }
        Ok(collection_answer(table, plan, matching.len(), hal))
    }

    /// The ids of the records of `family` that `role` may see and the plan's filters select.
    fn matching(
        &self,
        store: &Store,
        family: &str,
        table: &ServedResource,
        plan: &QueryPlan,
        role: &Role,
    ) -> Vec<RecId> {
        store
            .records
            .get(family)
            .map(|v| {
                let ignored = self.has(Fault::CollectionWriteFilterIgnored);
                let narrowed = if ignored {
                    None
                } else {
                    super::reads::narrowed(v, table, &[], plan, self.faults())
                };
                v.entries_among(narrowed)
                    .filter(|(_, r)| {
                        self.visible(store, table.res, r.value(), role)
                            && (ignored || matches_all(table, &plan.filters, r.value()))
                    })
                    .map(|(i, _)| i)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A POST on a collection; `at.parents` are the keys a nested collection's path carries.
    pub(super) fn post(
        &self,
        at: Place<'_>,
        plan: &QueryPlan,
        role: &Role,
        body: &[u8],
        hal: bool,
    ) -> Result<Reply<'_>, ApiError> {
        let Place { ep, table, parents } = at;
        let res = table.res;
        let mut rec = self.new_record(ep, table, parents, role, body)?;
        let mut store = self.write();
        let account = accounts::is_accounts(table);
        if account {
            accounts::default_owner(&store, res, &mut rec);
        }
        let owner_kind = resolve_owners(&store, res, &mut rec)?;
        if let Role::Vsadmin { svm } = role
            && owner_kind != Owner::Svm(svm.clone())
        {
            return Err(ApiError::permission_denied());
        }
        check_account(&store, res, &rec)?;
        let family = ep.family.as_str();
        if is_duplicate(&store, family, res, &rec) {
            return Err(ApiError::documented(
                ep,
                Method::POST,
                Condition::Duplicate,
                None,
                ApiError::new(
                    StatusCode::CONFLICT,
                    CODE_DUPLICATE,
                    "entry with the same identifiers exists",
                ),
            ));
        }
        fill_post_defaults(&store, family, res, &owner_kind, &mut rec);
        if account {
            accounts::post_defaults(res, &owner_kind, &mut rec);
        }
        derive_fields(res, &mut rec);
        let location = table.instance_href(&rec);
        let answer = if plan.return_records == Some(true) {
            let shown = project(table, &rec, &post_selection(table), Render { hal });
            serde_json::json!({ "num_records": 1, "records": [shown] })
        } else {
            Value::Object(Map::new())
        };
        let before = self.snapshot(&store);
        store.push(family, Rec::new(rec));
        self.persist_or_roll_back(&mut store, before)?;
        Ok(Reply::created(answer, location))
    }

    /// The record a POST body makes: the body checked as `role` may send it, the required
    /// fields present, the parents' keys of a nested collection's path set.
    fn new_record(
        &self,
        ep: &Endpoint,
        table: &ServedResource,
        parents: &[(String, String)],
        role: &Role,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        let body = Value::Object(parse_body(body)?);
        let res = table.res;
        let write = Write {
            op: WriteOp::Post,
            ep,
            role,
            current: None,
        };
        let checked = self.check_body(write, table, &body);
        if let Some(e) = checked.error {
            return Err(e);
        }
        let mdef = ep.method(Method::POST);
        for r in mdef.map(|d| d.required.as_slice()).unwrap_or_default() {
            let present = checked.sets.iter().any(|(i, _)| res.fields[*i].path == *r);
            if !present {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    CODE_BAD_REQUEST,
                    format!("Missing value for required field \"{r}\"."),
                )
                .target(r.as_str()));
            }
        }
        let mut rec = Value::Object(Map::new());
        Self::apply(res, &mut rec, &checked.sets);
        // A nested collection's path names the parent: its keys go into the new record.
        if let Some(m) = rec.as_object_mut() {
            for (k, v) in parents {
                set_path(m, k, Value::String(v.clone()));
            }
        }
        Ok(rec)
    }

    pub(super) fn delete(
        &self,
        ep: &Endpoint,
        table: &ServedResource,
        keys: &[(String, String)],
        role: &Role,
    ) -> Result<Reply<'_>, ApiError> {
        let mut store = self.write();
        let i = self
            .find(&store, &ep.family, table, keys, self.write_scope(role))
            .ok_or_else(|| self.not_found(&store, ep, Method::DELETE, table, keys))?;
        let before = self.snapshot(&store);
        store.remove(&ep.family, &[i]);
        self.persist_or_roll_back(&mut store, before)?;
        Ok(Reply::empty())
    }

    fn apply(res: &Resource, rec: &mut Value, sets: &[(usize, Value)]) {
        if let Some(m) = rec.as_object_mut() {
            for (i, v) in sets {
                let f = &res.fields[*i];
                if f.flags.empty_unsets && v.as_str() == Some("") {
                    remove_path(m, &f.path);
                } else {
                    set_path(m, &f.path, v.clone());
                }
            }
        }
        derive_fields(res, rec);
    }
}

/// A collection PATCH or DELETE names the records it changes by at least one query field
/// (ONTAP-BEHAVIOR.md §7); without one it is refused, never applied to every record.
fn require_query_field(
    table: &ServedResource,
    plan: &QueryPlan,
    method: &str,
) -> Result<(), ApiError> {
    if !plan.filters.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        CODE_BAD_REQUEST,
        format!(
            "{method} on the collection {} needs at least one field as a query parameter to select the records (e.g. ?{}=...)",
            table.collection_path,
            table.first_key_path().unwrap_or("uuid")
        ),
    ))
}

/// The answer of a collection PATCH or DELETE: `{"num_records": N, "_links": {"self": ...}}`.
fn collection_answer<'a>(
    table: &ServedResource,
    plan: &QueryPlan,
    n: usize,
    hal: bool,
) -> Reply<'a> {
    let mut out = Map::new();
    out.insert("num_records".into(), Value::from(n));
    if hal {
        let href = if plan.raw_query.is_empty() {
            table.collection_path.clone()
        } else {
            format!("{}?{}", table.collection_path, plan.raw_query)
        };
        out.insert(
            "_links".into(),
            serde_json::json!({ "self": { "href": href } }),
        );
    }
    Reply::ok(Value::Object(out))
}

pub(super) fn get_path_in<'a>(m: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    match path.split_once('.') {
        None => m.get(path),
        Some((head, rest)) => get_path(m.get(head)?, rest),
    }
}

/// Hex text of fresh random bytes.
fn random_hex(n: usize) -> String {
    let mut out = String::new();
    while out.len() < n {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(n);
    out
}

/// A made-up value for a POST-response-only field (a one-time secret), by type.
fn generated_value(f: &Field) -> Value {
    match f.ty {
        FieldType::Array => Value::Array(
            (0..5)
                .map(|_| {
                    let digits: String = uuid::Uuid::new_v4()
                        .as_u128()
                        .to_string()
                        .chars()
                        .take(8)
                        .collect();
                    Value::String(digits)
                })
                .collect(),
        ),
        FieldType::Integer | FieldType::Number => {
            Value::from((uuid::Uuid::new_v4().as_u128() % 1_000_000) as u64)
        }
        FieldType::Boolean => Value::Bool(true),
        _ => Value::String(random_hex(32).to_ascii_uppercase()),
    }
}

/// Where a POST goes: the endpoint, its table and the parents' keys its path carries.
#[derive(Clone, Copy)]
pub(super) struct Place<'a> {
    pub ep: &'a Endpoint,
    pub table: &'a ServedResource,
    pub parents: &'a [(String, String)],
}

/// Resolves the owners of a new record: an `svm` or `owner` object whose uuid is a key names
/// the cluster or an SVM by its uuid or, without one, by its name (both are postable: lib), 404
/// code 4 when none has it (ONTAP-BEHAVIOR.md §2, as for an unknown uuid); the record keeps both,
/// the one left out filled in. Returns the kind of owner the record has.
fn resolve_owners(store: &Store, res: &Resource, rec: &mut Value) -> Result<Owner, ApiError> {
    let mut owner_kind = Owner::Cluster;
    for obj in res.owner_objects() {
        let uuid_path = format!("{obj}.uuid");
        if !res.keys.contains(&uuid_path) {
            continue;
        }
        let name_path = format!("{obj}.name");
        let given_uuid = get_path(rec, &uuid_path)
            .and_then(Value::as_str)
            .map(String::from);
        let uuid = match given_uuid {
            Some(u) => u,
            None => {
                let Some(name) = get_path(rec, &name_path)
                    .and_then(Value::as_str)
                    .map(String::from)
                else {
                    continue;
                };
                let Some((_, uuid)) = store.owner_by_name(&name) else {
                    return Err(ApiError::new(
                        StatusCode::NOT_FOUND,
                        CODE_NOT_FOUND,
                        format!("entry doesn't exist: no SVM or cluster is named \"{name}\""),
                    )
                    .target(name_path.as_str()));
                };
                if let Some(m) = rec.as_object_mut() {
                    set_path(m, &uuid_path, Value::String(uuid.clone()));
                }
                uuid
            }
        };
        let Some((kind, name)) = store.owner_by_uuid(&uuid) else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                CODE_NOT_FOUND,
                format!("entry doesn't exist: no SVM or cluster has uuid \"{uuid}\""),
            )
            .target(uuid_path.as_str()));
        };
        if let Some(given) = get_path(rec, &name_path).and_then(Value::as_str)
            && given != name
        {
            return Err(ApiError::invalid_value(
                &name_path,
                format!(
                    "Field \"{name_path}\" is {given:?} but uuid \"{uuid}\" belongs to {name:?}."
                ),
            ));
        }
        if res.field(&name_path).is_some()
            && let Some(m) = rec.as_object_mut()
        {
            set_path(m, &name_path, Value::String(name));
        }
        owner_kind = kind;
    }
    Ok(owner_kind)
}

/// A record keyed by an account (a TOTP profile) needs that account to exist for its owner
/// (ONTAP-BEHAVIOR.md §2: /api/security/accounts).
fn check_account(store: &Store, res: &Resource, rec: &Value) -> Result<(), ApiError> {
    if res.keys.iter().any(|k| k == ACCOUNT_KEY)
        && let Some(name) = get_path(rec, ACCOUNT_KEY).and_then(Value::as_str)
    {
        let owner_uuid = get_path(rec, "owner.uuid").and_then(Value::as_str);
        if !store.has_account(owner_uuid, name) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                CODE_NOT_FOUND,
                format!(
                    "entry doesn't exist: no account \"{name}\" of owner {} (see /api/security/accounts)",
                    owner_uuid.unwrap_or("(none given)")
                ),
            )
            .target(ACCOUNT_KEY));
        }
    }
    Ok(())
}

/// Whether a record with the new record's keys exists: through the family's index where every
/// key has a value, else by comparing the keys of every record.
fn is_duplicate(store: &Store, family: &str, res: &Resource, rec: &Value) -> bool {
    let by_key = res.keys.iter().all(|k| {
        get_path(rec, k)
            .and_then(crate::mock::keys::key_text)
            .is_some()
    });
    if store.indexed(family) && by_key {
        store
            .records
            .get(family)
            .and_then(|v| v.id_of(rec))
            .is_some()
    } else {
        store.records.get(family).is_some_and(|v| {
            v.iter().any(|r| {
                res.keys
                    .iter()
                    .all(|k| get_path(r.value(), k) == get_path(rec, k))
            })
        })
    }
}

/// What a POST fills in that the client does not send: the data set's defaults for the owner
/// kind, and a generated value for each POST-response-only field.
fn fill_post_defaults(
    store: &Store,
    family: &str,
    res: &Resource,
    owner_kind: &Owner,
    rec: &mut Value,
) {
    let kind_name = match owner_kind {
        Owner::Cluster => "cluster",
        Owner::Svm(_) => "svm",
    };
    if let Some(defaults) = store
        .post_defaults
        .get(family)
        .and_then(|d| d.get(kind_name))
        .cloned()
        && let Some(m) = rec.as_object_mut()
    {
        for (p, v) in leaf_paths(&defaults) {
            if res.field(&p).is_some() && get_path_in(m, &p).is_none() {
                set_path(m, &p, v.clone());
            }
        }
    }
    if let Some(m) = rec.as_object_mut() {
        for f in &res.fields {
            if f.flags.post_response_only && get_path_in(m, &f.path).is_none() {
                set_path(m, &f.path, generated_value(f));
            }
        }
    }
}
