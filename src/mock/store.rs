//! The mock's data: the cluster, its SVMs and accounts (what the discovery endpoints serve) and the
//! records of every family of the catalog, kept in insertion order. The fixtures file, the
//! `--state` file and the built-in data set share one format, checked here with JSON-pointer
//! precise errors so that a bad data set is refused at start instead of answering garbage later.

use super::keys::{canonical_key, key_text};
use super::query::{Rendered, ServedResource};
use crate::spec::Spec;
use crate::spec::resource::{Resource, get_path, leaf_paths, set_path};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

/// The built-in data set: the records of NetApp's doc examples.
pub const BUILTIN_FIXTURES: &str = include_str!("fixtures.json");

/// A defect in a fixtures or state file: where (a JSON pointer) and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at {}: expected {expected}", if .pointer.is_empty() { "the root" } else { .pointer.as_str() })]
pub struct FixtureError {
    pub pointer: String,
    pub expected: String,
}

fn ferr(pointer: impl Into<String>, expected: impl Into<String>) -> FixtureError {
    FixtureError {
        pointer: pointer.into(),
        expected: expected.into(),
    }
}

/// One stored record, with its answer pieces rendered once on first read and dropped on every
/// change (the GET hot path copies them instead of serialising the record again).
#[derive(Debug, Clone)]
pub struct Rec {
    value: Value,
    rendered: OnceLock<Arc<Rendered>>,
}

impl Rec {
    pub fn new(value: Value) -> Rec {
        Rec {
            value,
            rendered: OnceLock::new(),
        }
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Changes the record; the rendered pieces are made again on the next read.
    pub fn update(&mut self, f: impl FnOnce(&mut Value)) {
        f(&mut self.value);
        self.rendered = OnceLock::new();
    }

    /// The rendered pieces for the family's table (always the same table for one store).
    pub fn rendered(&self, table: &ServedResource) -> &Rendered {
        self.rendered
            .get_or_init(|| Arc::new(Rendered::new(table, &self.value)))
    }
}

/// Who a record belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Cluster,
    Svm(String),
}

/// Everything the mock serves.
#[derive(Debug, Clone)]
pub struct Store {
    /// `name`, `uuid`.
    pub cluster: Map<String, Value>,
    /// Objects of `name`, `uuid`.
    pub svms: Vec<Value>,
    /// Objects of `owner{name,uuid}`, `name`, `role`.
    pub accounts: Vec<Value>,
    /// Family name to its records, in insertion order, with their index by key.
    pub records: BTreeMap<String, FamilyRecords>,
    /// Family name to `{"cluster": {...}, "svm": {...}}`: values a POST fills in for a record of
    /// that owner kind (read-only fields the client cannot send).
    pub post_defaults: Map<String, Value>,
    /// The singleton families: their one record is written back as an object, not an array.
    pub singletons: BTreeSet<String>,
    /// SVM uuid to its position in `svms` (who owns a record, without a scan).
    svm_index: HashMap<String, usize>,
    /// The (owner uuid, name) of every account in `accounts` to its position there (whether a
    /// POST's account exists, an account's GET, without a scan). Like `svm_index`, made once at
    /// load: the mock never changes SVMs or accounts.
    account_index: HashMap<(String, String), usize>,
}

/// A record's id in its family: the number it got when it was stored. Ids only grow, so they
/// order the records by insertion, and removing a record changes no other record's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecId(u64);

impl RecId {
    /// The id as a number (a record's position in a query's listing).
    pub fn raw(self) -> u64 {
        self.0
    }

    /// The id a number from [`RecId::raw`] stands for.
    pub fn from_raw(n: u64) -> RecId {
        RecId(n)
    }
}

/// The records of one family, in insertion order, and the id of each by its key values (in the
/// resource's key order). Records live in an ordered map by id rather than a `Vec`, so that
/// removing one shifts no other record and renumbers nothing: an instance GET, PATCH, DELETE
/// and a POST cost O(log n) whatever the family's size, while a collection still lists the
/// records in the order they were stored.
#[derive(Debug, Clone, Default)]
pub struct FamilyRecords {
    keys: Vec<String>,
    recs: BTreeMap<RecId, Rec>,
    by_key: HashMap<Vec<String>, RecId>,
    /// The ids of the records by the value of their first key field (as [`key_text`] writes
    /// it), each list in id order: what a query that names values of that field looks at (the
    /// sample of a large family, a nested collection's parent), instead of every record.
    by_first: HashMap<String, Vec<RecId>>,
    /// The records whose first key field holds a value [`key_text`] has no text for (a
    /// boolean, an array, an object): a filter may still match them, so they are always looked at.
    odd_first: BTreeSet<RecId>,
    next: u64,
}

/// Where a record stands in [`FamilyRecords::by_first`].
#[derive(PartialEq)]
enum FirstKey {
    /// The field is unset or null: no literal matches it.
    Unset,
    Text(String),
    Odd,
}

/// The value of the first of these key fields in a record, as [`FamilyRecords::by_first`] files
/// it.
fn first_key_of(keys: &[String], v: &Value) -> FirstKey {
    match keys.first().and_then(|k| get_path(v, k)) {
        None | Some(Value::Null) => FirstKey::Unset,
        Some(x) => key_text(x).map_or(FirstKey::Odd, FirstKey::Text),
    }
}

impl FamilyRecords {
    /// A family whose records are looked up by these key fields, holding `recs` in that order.
    fn new(keys: Vec<String>, recs: Vec<Rec>) -> FamilyRecords {
        let mut f = FamilyRecords {
            keys,
            ..FamilyRecords::default()
        };
        for r in recs {
            f.push(r);
        }
        f
    }

    fn key_of(&self, v: &Value) -> Option<Vec<String>> {
        key_values(&self.keys, v)
    }

    pub fn len(&self) -> usize {
        self.recs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// The records in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &Rec> {
        self.recs.values()
    }

    /// The records in insertion order, with their ids.
    pub fn entries(&self) -> impl Iterator<Item = (RecId, &Rec)> {
        self.recs.iter().map(|(id, r)| (*id, r))
    }

    /// [`FamilyRecords::entries`], or only the records of `only` (ids in order, such as
    /// [`FamilyRecords::ids_by_first_key`] gives) when there are such ids.
    pub fn entries_among(
        &self,
        only: Option<Vec<RecId>>,
    ) -> Box<dyn Iterator<Item = (RecId, &Rec)> + '_> {
        match only {
            Some(ids) => Box::new(
                ids.into_iter()
                    .filter_map(|id| Some((id, self.recs.get(&id)?))),
            ),
            None => Box::new(self.entries()),
        }
    }

    /// The first record stored (a singleton's one record).
    pub fn first(&self) -> Option<&Rec> {
        self.recs.values().next()
    }

    pub fn get(&self, id: RecId) -> Option<&Rec> {
        self.recs.get(&id)
    }

    /// Whether records are looked up by key (the family has key fields).
    pub fn indexed(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The id of the record whose key fields have these values (given as (key field, value)
    /// pairs, in any order): a hash lookup, not a scan. None: no such record, or the pairs do
    /// not name every key field.
    pub fn id_by_keys(&self, keys: &[(String, String)]) -> Option<RecId> {
        let wanted: Option<Vec<String>> = self
            .keys
            .iter()
            .map(|k| {
                keys.iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| canonical_key(v))
            })
            .collect();
        self.by_key.get(&wanted?).copied()
    }

    /// The id of a record with the same key values as `rec`.
    pub fn id_of(&self, rec: &Value) -> Option<RecId> {
        self.by_key.get(&self.key_of(rec)?).copied()
    }

    /// Stores a record after every other one, and indexes it by its key values.
    pub fn push(&mut self, rec: Rec) -> RecId {
        let id = RecId(self.next);
        self.next += 1;
        if let Some(k) = self.key_of(rec.value()) {
            self.by_key.insert(k, id);
        }
        self.index_first(first_key_of(&self.keys, rec.value()), id);
        self.recs.insert(id, rec);
        id
    }

    fn index_first(&mut self, first: FirstKey, id: RecId) {
        match first {
            FirstKey::Unset => {}
            FirstKey::Odd => {
                self.odd_first.insert(id);
            }
            FirstKey::Text(t) => {
                // In id order: a new record goes last, a changed one finds its place.
                let ids = self.by_first.entry(t).or_default();
                if let Err(at) = ids.binary_search(&id) {
                    ids.insert(at, id);
                }
            }
        }
    }

    fn unindex_first(&mut self, first: FirstKey, id: RecId) {
        match first {
            FirstKey::Unset => {}
            FirstKey::Odd => {
                self.odd_first.remove(&id);
            }
            FirstKey::Text(t) => {
                if let Some(ids) = self.by_first.get_mut(&t) {
                    if let Ok(at) = ids.binary_search(&id) {
                        ids.remove(at);
                    }
                    if ids.is_empty() {
                        self.by_first.remove(&t);
                    }
                }
            }
        }
    }

    /// The first key field (None: the family has no key fields).
    pub fn first_key(&self) -> Option<&str> {
        self.keys.first().map(String::as_str)
    }

    /// The ids, in id order, of every record whose first key field may equal one of `values`
    /// (compared as [`key_text`] writes a value, so a literal filter on that field passes no
    /// record outside them): the records with one of the values, and those whose value has no
    /// text. A hash lookup per value, whatever the number of records.
    pub fn ids_by_first_key(&self, values: &[&str]) -> Vec<RecId> {
        let mut ids: Vec<RecId> = values
            .iter()
            .filter_map(|v| self.by_first.get(&canonical_key(v)))
            .flatten()
            .chain(&self.odd_first)
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Changes a record (see [`Rec::update`]); should its key values change, the index follows.
    pub fn update(&mut self, id: RecId, f: impl FnOnce(&mut Value)) {
        let Some(rec) = self.recs.get_mut(&id) else {
            return;
        };
        let before = key_values(&self.keys, rec.value());
        let first_before = first_key_of(&self.keys, rec.value());
        rec.update(f);
        let after = key_values(&self.keys, rec.value());
        let first_after = first_key_of(&self.keys, rec.value());
        if first_before != first_after {
            self.unindex_first(first_before, id);
            self.index_first(first_after, id);
        }
        if before != after {
            if let Some(k) = before
                && self.by_key.get(&k) == Some(&id)
            {
                self.by_key.remove(&k);
            }
            if let Some(k) = after {
                self.by_key.insert(k, id);
            }
        }
    }

    /// Removes a record and its index entry; no other record moves.
    pub fn remove(&mut self, id: RecId) -> Option<Rec> {
        let rec = self.recs.remove(&id)?;
        self.unindex_first(first_key_of(&self.keys, rec.value()), id);
        if let Some(k) = self.key_of(rec.value())
            && self.by_key.get(&k) == Some(&id)
        {
            self.by_key.remove(&k);
        }
        Some(rec)
    }
}

/// The values of these key fields in a record; None when one is missing or not a string, and for a
/// family without key fields (every record would share the empty key).
fn key_values(keys: &[String], v: &Value) -> Option<Vec<String>> {
    if keys.is_empty() {
        return None;
    }
    keys.iter()
        .map(|k| get_path(v, k).and_then(key_text))
        .collect()
}

impl std::ops::Index<RecId> for FamilyRecords {
    type Output = Rec;

    fn index(&self, id: RecId) -> &Rec {
        &self.recs[&id]
    }
}

const ROOT_KEYS: &[&str] = &[
    "$comment",
    "cluster",
    "svms",
    "accounts",
    "records",
    "post_defaults",
];

fn ptr_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn leaf_pointer(base: &str, dotted: &str) -> String {
    let mut out = base.to_string();
    for p in dotted.split('.') {
        out.push('/');
        out.push_str(&ptr_escape(p));
    }
    out
}

fn req_str<'a>(obj: &'a Map<String, Value>, at: &str, key: &str) -> Result<&'a str, FixtureError> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ferr(format!("{at}/{key}"), "a non-empty string"))
}

fn name_uuid(v: &Value, at: &str, what: &str) -> Result<(String, String), FixtureError> {
    let obj = v
        .as_object()
        .ok_or_else(|| ferr(at, format!("{what}: an object of \"name\" and \"uuid\"")))?;
    for k in obj.keys() {
        if k != "name" && k != "uuid" {
            return Err(ferr(
                format!("{at}/{}", ptr_escape(k)),
                format!("only \"name\" and \"uuid\" in {what}, found {k:?}"),
            ));
        }
    }
    Ok((
        req_str(obj, at, "name")?.to_string(),
        req_str(obj, at, "uuid")?.to_string(),
    ))
}

impl Store {
    /// Reads and checks a data set against the contract.
    pub fn from_value(spec: &Spec, v: &Value) -> Result<Store, FixtureError> {
        let root = v
            .as_object()
            .ok_or_else(|| ferr("", "a JSON object with cluster, svms, accounts and records"))?;
        for k in root.keys() {
            if !ROOT_KEYS.contains(&k.as_str()) {
                return Err(ferr(
                    format!("/{}", ptr_escape(k)),
                    format!("one of {}, found {k:?}", ROOT_KEYS[1..].join(", ")),
                ));
            }
        }
        let (cluster, mut owners) = read_cluster(root)?;
        let cluster_name = cluster["name"].as_str().unwrap_or_default().to_string();
        let svms = read_svms(root, &mut owners, &cluster_name)?;
        let accounts = read_accounts(root, &owners)?;
        let records = read_records(spec, root, &owners)?;
        let post_defaults = read_post_defaults(spec, root)?;
        // Every family of the catalog, with the key fields its records are looked up by.
        let records = records
            .into_iter()
            .map(|(name, recs)| {
                let keys = spec
                    .families
                    .iter()
                    .find(|f| f.family == name)
                    .and_then(|f| spec.resource(&f.resource))
                    .map(|r| r.keys.clone())
                    .unwrap_or_default();
                (name, FamilyRecords::new(keys, recs))
            })
            .collect();
        let svm_index = svms
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((s.get("uuid")?.as_str()?.to_string(), i)))
            .collect();
        let mut account_index = HashMap::with_capacity(accounts.len());
        for (i, a) in accounts.iter().enumerate() {
            let (Some(owner), Some(name)) = (
                get_path(a, "owner.uuid").and_then(Value::as_str),
                a.get("name").and_then(Value::as_str),
            ) else {
                continue;
            };
            // A name is used once per owner (read_accounts); the first, as a scan finds it.
            account_index
                .entry((owner.to_string(), name.to_string()))
                .or_insert(i);
        }
        Ok(Store {
            cluster,
            svms,
            accounts,
            records,
            post_defaults,
            singletons: spec
                .families
                .iter()
                .filter(|f| spec.singleton_of(&f.family).is_some())
                .map(|f| f.family.clone())
                .collect(),
            svm_index,
            account_index,
        })
    }

    /// Whether `family` has key fields: lookups by key are exact.
    pub fn indexed(&self, family: &str) -> bool {
        self.records.get(family).is_some_and(FamilyRecords::indexed)
    }

    /// Adds a record after every other of its family, and to the family's index.
    pub fn push(&mut self, family: &str, rec: Rec) -> RecId {
        self.records
            .entry(family.to_string())
            .or_default()
            .push(rec)
    }

    /// Removes these records of `family`; no other record moves.
    pub fn remove(&mut self, family: &str, ids: &[RecId]) {
        if let Some(recs) = self.records.get_mut(family) {
            for &id in ids {
                recs.remove(id);
            }
        }
    }

    /// Whether an account of this name exists for this owner (for any owner when `owner_uuid`
    /// is None, which needs a scan).
    pub fn has_account(&self, owner_uuid: Option<&str>, name: &str) -> bool {
        match owner_uuid {
            Some(o) => self
                .account_index
                .contains_key(&(o.to_string(), name.to_string())),
            None => self
                .accounts
                .iter()
                .any(|a| a.get("name").and_then(Value::as_str) == Some(name)),
        }
    }

    /// The position in `svms` of the SVM of this uuid (uuids are unique).
    pub fn svm_position(&self, uuid: &str) -> Option<usize> {
        self.svm_index.get(uuid).copied()
    }

    /// The position in `accounts` of the account of this owner uuid and name (unique).
    pub fn account_position(&self, owner_uuid: &str, name: &str) -> Option<usize> {
        self.account_index
            .get(&(owner_uuid.to_string(), name.to_string()))
            .copied()
    }

    /// Whether an owner listed at `from` (`/api/svm/svms` or `/api/security/accounts`) has
    /// every (field path, value) of `want`. Through the indexes when `want` names an SVM's uuid,
    /// or an account's owner uuid and name (so a 404 at 10,000 SVMs costs what it does at 3);
    /// otherwise a scan.
    pub fn owner_matches(&self, from: &str, want: &[(&str, &str)]) -> bool {
        let has = |o: &Value| {
            want.iter()
                .all(|(k, v)| get_path(o, k).and_then(Value::as_str) == Some(*v))
        };
        let value_of = |k: &str| want.iter().find(|(f, _)| *f == k).map(|(_, v)| *v);
        match from {
            "/api/svm/svms" => match value_of("uuid") {
                Some(u) => self
                    .svm_index
                    .get(u)
                    .and_then(|i| self.svms.get(*i))
                    .is_some_and(has),
                None => self.svms.iter().any(has),
            },
            "/api/security/accounts" => match (value_of("owner.uuid"), value_of("name")) {
                (Some(o), Some(n)) if want.len() == 2 => self.has_account(Some(o), n),
                _ => self.accounts.iter().any(has),
            },
            _ => false,
        }
    }

    /// The data set in the fixtures format (what `--state` writes).
    pub fn to_value(&self) -> Value {
        let mut root = Map::new();
        root.insert("cluster".into(), Value::Object(self.cluster.clone()));
        root.insert("svms".into(), Value::Array(self.svms.clone()));
        root.insert("accounts".into(), Value::Array(self.accounts.clone()));
        let recs: Map<String, Value> = self
            .records
            .iter()
            .filter_map(|(k, v)| {
                let list = if self.singletons.contains(k) {
                    v.first()?.value.clone()
                } else {
                    Value::Array(v.iter().map(|r| r.value.clone()).collect())
                };
                Some((k.clone(), list))
            })
            .collect();
        root.insert("records".into(), Value::Object(recs));
        if !self.post_defaults.is_empty() {
            root.insert(
                "post_defaults".into(),
                Value::Object(self.post_defaults.clone()),
            );
        }
        Value::Object(root)
    }

    pub fn cluster_name(&self) -> &str {
        self.cluster
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn cluster_uuid(&self) -> &str {
        self.cluster
            .get("uuid")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The owner a uuid names: the cluster, an SVM, or nobody.
    pub fn owner_by_uuid(&self, uuid: &str) -> Option<(Owner, String)> {
        if uuid == self.cluster_uuid() {
            return Some((Owner::Cluster, self.cluster_name().to_string()));
        }
        let s = self.svms.get(*self.svm_index.get(uuid)?)?;
        let n = s
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        Some((Owner::Svm(n.clone()), n))
    }

    /// The owner a name names: the cluster (by the cluster's name: ONTAP's admin SVM bears it, and
    /// the doc's example owner `cluster-1` is the cluster), an SVM, or nobody; with its uuid.
    pub fn owner_by_name(&self, name: &str) -> Option<(Owner, String)> {
        if name == self.cluster_name() {
            return Some((Owner::Cluster, self.cluster_uuid().to_string()));
        }
        let s = self
            .svms
            .iter()
            .find(|s| s.get("name").and_then(Value::as_str) == Some(name))?;
        let uuid = s.get("uuid").and_then(Value::as_str)?.to_string();
        Some((Owner::Svm(name.to_string()), uuid))
    }

    /// Who a record belongs to: the SVM named by the uuid of one of its objects (`svm.uuid`,
    /// `owner.uuid`), else the cluster.
    pub fn owner_of(&self, res: &Resource, record: &Value) -> Owner {
        for obj in &res.objects {
            let Some(uuid) = get_path(record, &format!("{obj}.uuid")).and_then(Value::as_str)
            else {
                continue;
            };
            if let Some((o @ Owner::Svm(_), _)) = self.owner_by_uuid(uuid) {
                return o;
            }
        }
        Owner::Cluster
    }
}

/// The names of the cluster and the SVMs by uuid: who a record may belong to.
type Owners = BTreeMap<String, String>;

/// The cluster (`name`, `uuid`), and the owners so far: its uuid to its name.
fn read_cluster(root: &Map<String, Value>) -> Result<(Map<String, Value>, Owners), FixtureError> {
    let cluster_v = root.get("cluster").ok_or_else(|| {
        ferr(
            "/cluster",
            "the cluster: an object of \"name\" and \"uuid\"",
        )
    })?;
    let (cname, cuuid) = name_uuid(cluster_v, "/cluster", "the cluster")?;
    let mut cluster = Map::new();
    cluster.insert("name".into(), Value::String(cname.clone()));
    cluster.insert("uuid".into(), Value::String(cuuid.clone()));
    let mut owners = Owners::new();
    owners.insert(cuuid, cname);
    Ok((cluster, owners))
}

/// The SVMs, each added to `owners`: names and uuids used once, the cluster's included.
fn read_svms(
    root: &Map<String, Value>,
    owners: &mut Owners,
    cluster_name: &str,
) -> Result<Vec<Value>, FixtureError> {
    let mut svms = Vec::new();
    let svm_list = match root.get("svms") {
        None => &Vec::new(),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(ferr("/svms", "an array of SVMs")),
    };
    let mut svm_names = BTreeSet::new();
    for (i, s) in svm_list.iter().enumerate() {
        let at = format!("/svms/{i}");
        let (name, uuid) = name_uuid(s, &at, "an SVM")?;
        if owners.insert(uuid.clone(), name.clone()).is_some() {
            return Err(ferr(
                format!("{at}/uuid"),
                format!("a uuid no other SVM or the cluster has, found {uuid:?}"),
            ));
        }
        if !svm_names.insert(name.clone()) || name == cluster_name {
            return Err(ferr(
                format!("{at}/name"),
                format!("a name no other SVM or the cluster has, found {name:?}"),
            ));
        }
        svms.push(s.clone());
    }
    Ok(svms)
}

/// The accounts: `owner`, `name` and `role` only, the owner the cluster or an SVM, a name used
/// once per owner.
fn read_accounts(root: &Map<String, Value>, owners: &Owners) -> Result<Vec<Value>, FixtureError> {
    let mut accounts = Vec::new();
    let acc_list = match root.get("accounts") {
        None => &Vec::new(),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(ferr("/accounts", "an array of accounts")),
    };
    let mut seen_acc = BTreeSet::new();
    for (i, a) in acc_list.iter().enumerate() {
        let at = format!("/accounts/{i}");
        let obj = a.as_object().ok_or_else(|| {
            ferr(
                &at,
                "an account: {\"owner\": {name, uuid}, \"name\", \"role\"}",
            )
        })?;
        for k in obj.keys() {
            if !["owner", "name", "role"].contains(&k.as_str()) {
                return Err(ferr(
                    format!("{at}/{}", ptr_escape(k)),
                    format!("only owner, name and role in an account, found {k:?}"),
                ));
            }
        }
        let owner = obj
            .get("owner")
            .ok_or_else(|| ferr(format!("{at}/owner"), "the account's owner"))?;
        let (oname, ouuid) = name_uuid(owner, &format!("{at}/owner"), "an owner")?;
        check_owner(owners, &format!("{at}/owner"), &oname, &ouuid)?;
        let name = req_str(obj, &at, "name")?;
        req_str(obj, &at, "role")?;
        if !seen_acc.insert((ouuid.clone(), name.to_string())) {
            return Err(ferr(
                format!("{at}/name"),
                format!("an account name used once per owner, found {name:?} again"),
            ));
        }
        accounts.push(a.clone());
    }
    Ok(accounts)
}

/// The records of every family of the catalog (none for a family the data set leaves out).
fn read_records(
    spec: &Spec,
    root: &Map<String, Value>,
    owners: &Owners,
) -> Result<BTreeMap<String, Vec<Rec>>, FixtureError> {
    let mut records = BTreeMap::new();
    for fam in &spec.families {
        records.insert(fam.family.clone(), Vec::new());
    }
    let Some(r) = root.get("records") else {
        return Ok(records);
    };
    let r = r
        .as_object()
        .ok_or_else(|| ferr("/records", "an object of family name to records"))?;
    for (fam_name, list) in r {
        let at = format!("/records/{}", ptr_escape(fam_name));
        let fam = spec
            .families
            .iter()
            .find(|f| &f.family == fam_name)
            .ok_or_else(|| {
                let names: Vec<&str> = spec.families.iter().map(|f| f.family.as_str()).collect();
                ferr(
                    &at,
                    format!(
                        "a family of the catalog ({}), found {fam_name:?}",
                        names.join(", ")
                    ),
                )
            })?;
        let res = spec
            .resource(&fam.resource)
            .ok_or_else(|| ferr(&at, "a family whose resource the catalog defines"))?;
        // A singleton family holds its one record as an object; any other an array.
        let singleton = spec.singleton_of(fam_name).is_some();
        let one;
        let list = if singleton {
            if !list.is_object() {
                return Err(ferr(
                    &at,
                    format!(
                        "the one {} record (a JSON object: {fam_name} is a singleton)",
                        res.name
                    ),
                ));
            }
            one = vec![list.clone()];
            &one
        } else {
            list.as_array()
                .ok_or_else(|| ferr(&at, format!("an array of {} records", res.name)))?
        };
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, rec) in list.iter().enumerate() {
            let rat = if singleton {
                at.clone()
            } else {
                format!("{at}/{i}")
            };
            out.push(read_record(res, &rat, rec, owners, &mut seen)?);
        }
        records.insert(fam_name.clone(), out);
    }
    Ok(records)
}

/// One record of a family at `rat`: checked against the resource, its keys used by no record
/// before it (`seen`), its owner references filled in and its derived fields computed.
fn read_record(
    res: &Resource,
    rat: &str,
    rec: &Value,
    owners: &Owners,
    seen: &mut BTreeSet<Vec<String>>,
) -> Result<Rec, FixtureError> {
    let mut rec = check_record(res, rat, rec)?;
    let keys: Vec<String> = res
        .keys
        .iter()
        .map(|k| {
            get_path(&rec, k).and_then(key_text).ok_or_else(|| {
                ferr(
                    leaf_pointer(rat, k),
                    format!("the key field {k} (a string or a number)"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    // A family without keys (metrics) has records no key tells apart.
    if !keys.is_empty() && !seen.insert(keys.clone()) {
        return Err(ferr(
            rat,
            format!(
                "a record whose keys ({}) no other record has",
                keys.join(", ")
            ),
        ));
    }
    fill_owner_names(res, rat, &mut rec, owners)?;
    derive_fields(res, &mut rec);
    Ok(Rec::new(rec))
}

/// The owner references of a record (an `svm`, an `owner`) name the cluster or an SVM, with
/// the name that goes with the uuid (filled in when left out); other references (a snapshot's
/// `volume`) are not checked.
fn fill_owner_names(
    res: &Resource,
    rat: &str,
    rec: &mut Value,
    owners: &Owners,
) -> Result<(), FixtureError> {
    for obj in res.owner_objects() {
        let uuid_path = format!("{obj}.uuid");
        let name_path = format!("{obj}.name");
        if res.field(&uuid_path).is_none() {
            continue;
        }
        if let Some(u) = get_path(rec, &uuid_path).and_then(Value::as_str) {
            let Some(n) = owners.get(u) else {
                return Err(ferr(
                    leaf_pointer(rat, &uuid_path),
                    format!("the uuid of the cluster or of an SVM, found {u:?}"),
                ));
            };
            match get_path(rec, &name_path).and_then(Value::as_str) {
                Some(given) if given != n => {
                    return Err(ferr(
                        leaf_pointer(rat, &name_path),
                        format!("{n:?}, the name that goes with {u:?}, found {given:?}"),
                    ));
                }
                Some(_) => {}
                None if res.field(&name_path).is_some() => {
                    if let Some(m) = rec.as_object_mut() {
                        set_path(m, &name_path, Value::String(n.clone()));
                    }
                }
                None => {}
            }
        }
    }
    Ok(())
}

/// What a POST fills in, per family and owner kind (`cluster`, `svm`).
fn read_post_defaults(
    spec: &Spec,
    root: &Map<String, Value>,
) -> Result<Map<String, Value>, FixtureError> {
    Ok(match root.get("post_defaults") {
        None => Map::new(),
        Some(Value::Object(m)) => {
            for (fam, d) in m {
                let at = format!("/post_defaults/{}", ptr_escape(fam));
                if !spec.families.iter().any(|f| &f.family == fam) {
                    return Err(ferr(&at, format!("a family of the catalog, found {fam:?}")));
                }
                let d = d.as_object().ok_or_else(|| {
                    ferr(&at, "an object with \"cluster\" and/or \"svm\" records")
                })?;
                for (k, v) in d {
                    if k != "cluster" && k != "svm" {
                        return Err(ferr(
                            format!("{at}/{}", ptr_escape(k)),
                            format!("\"cluster\" or \"svm\", found {k:?}"),
                        ));
                    }
                    if !v.is_object() {
                        return Err(ferr(format!("{at}/{k}"), "an object of field values"));
                    }
                }
            }
            m.clone()
        }
        Some(_) => {
            return Err(ferr(
                "/post_defaults",
                "an object of family name to defaults",
            ));
        }
    })
}

fn check_owner(owners: &Owners, at: &str, name: &str, uuid: &str) -> Result<(), FixtureError> {
    match owners.get(uuid) {
        None => Err(ferr(
            format!("{at}/uuid"),
            format!("the uuid of the cluster or of an SVM, found {uuid:?}"),
        )),
        Some(n) if n != name => Err(ferr(
            format!("{at}/name"),
            format!("{n:?}, the name that goes with {uuid:?}, found {name:?}"),
        )),
        Some(_) => Ok(()),
    }
}

/// Checks one record: an object whose every leaf is a field of the resource with a valid value.
fn check_record(res: &Resource, at: &str, rec: &Value) -> Result<Value, FixtureError> {
    if !rec.is_object() {
        return Err(ferr(at, format!("a {} record (an object)", res.name)));
    }
    for (path, v) in leaf_paths(rec) {
        let Some(f) = res.field(&path) else {
            let known: Vec<&str> = res.fields.iter().map(|f| f.path.as_str()).collect();
            return Err(ferr(
                leaf_pointer(at, &path),
                format!(
                    "a field of {} ({}), found {path:?}",
                    res.name,
                    known.join(", ")
                ),
            ));
        };
        if let Some(kw) = f.violation(v) {
            return Err(ferr(
                leaf_pointer(at, &path),
                format!(
                    "a value that obeys the {kw} of {} ({}), found {v}",
                    path, f.schema
                ),
            ));
        }
    }
    Ok(rec.clone())
}

/// Recomputes every field derived from another (`fingerprint` from `secret_key`).
pub fn derive_fields(res: &Resource, rec: &mut Value) {
    let Some(m) = rec.as_object_mut() else {
        return;
    };
    for f in &res.fields {
        let Some(src) = &f.derived_from else {
            continue;
        };
        let source = get_path_map(m, src)
            .and_then(Value::as_str)
            .map(fingerprint);
        if let Some(fp) = source {
            set_path(m, &f.path, Value::String(fp));
        }
    }
}

fn get_path_map<'a>(m: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let (head, rest) = match path.split_once('.') {
        None => return m.get(path),
        Some(x) => x,
    };
    get_path(m.get(head)?, rest)
}

/// The fingerprint of a secret: lowercase hex SHA-256.
pub fn fingerprint(secret: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    proptest::proptest! {
        /// Whatever records come, change and go, the records looked up by their first key's
        /// values are exactly those a scan finds: the ones whose value has that text, the ones
        /// whose value has no text (a filter still decides on them), in id order.
        #[test]
        fn the_first_key_index_finds_what_a_scan_finds(
            ops in proptest::collection::vec((0u8..3, 0usize..12, 0usize..8), 0..60),
            asked in proptest::collection::vec(0usize..7, 0..4),
        ) {
            let values = [
                json!("a"),
                json!("b"),
                json!(7),
                json!(true),
                json!(null),
                json!("2026-01-01T10:00:00Z"),
                json!(["a"]),
            ];
            // A value past the list leaves the key field out.
            let rec = |i: usize| {
                let mut v = json!({"name": "n"});
                if let Some(x) = values.get(i) {
                    v["owner"] = json!({"uuid": x.clone()});
                }
                v
            };
            let mut fam = FamilyRecords::new(vec!["owner.uuid".into(), "name".into()], vec![]);
            for (op, at, val) in ops {
                let ids: Vec<RecId> = fam.entries().map(|(id, _)| id).collect();
                match op {
                    0 => {
                        fam.push(Rec::new(rec(val)));
                    }
                    1 if !ids.is_empty() => {
                        fam.update(ids[at % ids.len()], |v| *v = rec(val));
                    }
                    2 if !ids.is_empty() => {
                        fam.remove(ids[at % ids.len()]);
                    }
                    _ => {}
                }
            }
            let texts: Vec<String> = asked
                .iter()
                .map(|&i| match &values[i] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            // The same instant written the other way finds the same records.
            let mut texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            if texts.contains(&"2026-01-01T10:00:00Z") {
                texts.push("2026-01-01 10:00:00+00:00");
            }
            let scanned: Vec<RecId> = fam
                .entries()
                .filter(|(_, r)| match get_path(r.value(), "owner.uuid") {
                    None | Some(Value::Null) => false,
                    Some(v) => key_text(v)
                        .is_none_or(|t| texts.iter().any(|x| canonical_key(x) == t)),
                })
                .map(|(id, _)| id)
                .collect();
            proptest::prop_assert_eq!(fam.ids_by_first_key(&texts), scanned);
        }
    }

    #[test]
    fn builtin_fixtures_load() {
        let spec = Spec::builtin();
        let v: Value = serde_json::from_str(BUILTIN_FIXTURES).unwrap();
        let s = Store::from_value(spec, &v).unwrap();
        assert_eq!(s.records["login_messages"].len(), 4);
        assert!(!s.records["duo"].is_empty());
        assert!(!s.records["totp"].is_empty());
        let duo = s.records["duo"].first().unwrap().value();
        let secret = duo["secret_key"].as_str().unwrap();
        assert_eq!(duo["fingerprint"], fingerprint(secret));
        // The state format reads back as the same data set.
        let again = Store::from_value(spec, &s.to_value()).unwrap();
        assert_eq!(again.to_value(), s.to_value());
    }

    /// The uuids of a family's login messages, in the order a collection lists them.
    fn uuids(s: &Store) -> Vec<String> {
        s.records["login_messages"]
            .iter()
            .map(|r| r.value()["uuid"].as_str().unwrap().to_string())
            .collect()
    }

    fn by_uuid(u: &str) -> Vec<(String, String)> {
        vec![("uuid".to_string(), u.to_string())]
    }

    #[test]
    fn owners_are_found_through_the_indexes_as_a_scan_finds_them() {
        let spec = Spec::builtin();
        let v = crate::mock::scale::builtin_with_svms(20);
        let s = Store::from_value(spec, &v).unwrap();
        let scan = |list: &[Value], want: &[(&str, &str)]| {
            list.iter().any(|o| {
                want.iter()
                    .all(|(k, v)| get_path(o, k).and_then(Value::as_str) == Some(*v))
            })
        };
        let svm = &s.svms[3];
        let (uuid, name) = (svm["uuid"].as_str().unwrap(), svm["name"].as_str().unwrap());
        let acct = &s.accounts[7];
        let (owner, user) = (
            acct["owner"]["uuid"].as_str().unwrap(),
            acct["name"].as_str().unwrap(),
        );
        let svms: Vec<Vec<(&str, &str)>> = vec![
            vec![("uuid", uuid)],
            vec![("uuid", uuid), ("name", name)],
            vec![("uuid", uuid), ("name", "someone-else")],
            vec![("uuid", "no-such-uuid")],
            vec![("name", name)],
        ];
        for want in &svms {
            assert_eq!(
                s.owner_matches("/api/svm/svms", want),
                scan(&s.svms, want),
                "{want:?}"
            );
        }
        let accounts: Vec<Vec<(&str, &str)>> = vec![
            vec![("owner.uuid", owner), ("name", user)],
            vec![("owner.uuid", owner), ("name", "nobody")],
            vec![("owner.uuid", "no-such-uuid"), ("name", user)],
            vec![("name", user)],
        ];
        for want in &accounts {
            assert_eq!(
                s.owner_matches("/api/security/accounts", want),
                scan(&s.accounts, want),
                "{want:?}"
            );
        }
        assert!(s.owner_matches("/api/svm/svms", &svms[0]));
        assert!(s.owner_matches("/api/security/accounts", &accounts[0]));
        assert!(!s.owner_matches("/api/security/accounts", &accounts[1]));
        assert!(!s.owner_matches("/api/elsewhere", &[]));
    }

    #[test]
    fn records_are_found_by_key_through_an_index() {
        let spec = Spec::builtin();
        let v = crate::mock::scale::builtin_with_svms(50);
        let s = Store::from_value(spec, &v).unwrap();
        // Every record of the family is in the index, under its id; the family lists in the
        // data set's order.
        let fam = &s.records["login_messages"];
        assert_eq!(fam.by_key.len(), fam.len());
        for (id, r) in fam.entries() {
            let u = r.value()["uuid"].as_str().unwrap();
            assert_eq!(fam.id_by_keys(&by_uuid(u)), Some(id));
        }
        let given: Vec<&str> = v["records"]["login_messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["uuid"].as_str().unwrap())
            .collect();
        assert_eq!(uuids(&s), given);
        // Two key fields, given in either order.
        let totp = &s.records["totp"];
        let (id7, rec7) = totp.entries().nth(7).unwrap();
        let (ou, an) = (
            rec7.value()["owner"]["uuid"].as_str().unwrap().to_string(),
            rec7.value()["account"]["name"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        let pairs = vec![
            ("account.name".to_string(), an.clone()),
            ("owner.uuid".to_string(), ou.clone()),
        ];
        assert_eq!(totp.id_by_keys(&pairs), Some(id7));
        assert_eq!(totp.id_by_keys(&pairs[..1]), None, "a key field missing");
        // Accounts by owner and name, through their index.
        assert!(s.has_account(Some(&ou), &an));
        assert!(s.has_account(None, &an));
        assert!(!s.has_account(Some(&ou), "nobody"));
        // Owners by uuid, through the SVM index.
        let last = crate::mock::scale::svm_uuid(49);
        assert_eq!(
            s.owner_by_uuid(&last).map(|(_, n)| n),
            Some(crate::mock::scale::svm_name(49))
        );
        assert_eq!(s.svm_index.len(), s.svms.len());
        assert_eq!(s.account_index.len(), s.accounts.len());
    }

    #[test]
    fn removal_keeps_the_order_and_the_index_exact() {
        let spec = Spec::builtin();
        let mut s = Store::from_value(spec, &crate::mock::scale::builtin_with_svms(20)).unwrap();
        let before = uuids(&s);
        let n = before.len();
        // Remove from the middle (one, then two at once), the first and the last.
        let gone = [n / 2, n / 3, n / 3 + 1, 0, n - 1].map(|i| before[i].clone());
        let id = |s: &Store, u: &str| s.records["login_messages"].id_by_keys(&by_uuid(u));
        s.remove("login_messages", &[id(&s, &gone[0]).unwrap()]);
        let two = [id(&s, &gone[1]).unwrap(), id(&s, &gone[2]).unwrap()];
        s.remove("login_messages", &two);
        s.remove("login_messages", &[id(&s, &gone[3]).unwrap()]);
        s.remove("login_messages", &[id(&s, &gone[4]).unwrap()]);
        let kept: Vec<String> = before
            .iter()
            .filter(|u| !gone.contains(u))
            .cloned()
            .collect();
        assert_eq!(uuids(&s), kept, "the same order, minus the removed records");
        let fam = &s.records["login_messages"];
        assert_eq!(fam.len(), n - gone.len());
        assert_eq!(fam.by_key.len(), fam.len());
        for u in &gone {
            assert_eq!(id(&s, u), None, "{u} is gone from the index");
        }
        // Every remaining record is found by key, and the id found is that record's.
        for (rid, r) in fam.entries() {
            let u = r.value()["uuid"].as_str().unwrap();
            assert_eq!(id(&s, u), Some(rid));
            assert_eq!(fam[rid].value()["uuid"], u);
        }
        // A record put back goes last, as a POST's does; the collection lists it there.
        let rec = serde_json::json!({"uuid": gone[0], "scope": "cluster"});
        let back = s.push("login_messages", Rec::new(rec.clone()));
        assert_eq!(s.records["login_messages"].id_of(&rec), Some(back));
        assert_eq!(uuids(&s).last(), Some(&gone[0]));
        assert_eq!(uuids(&s)[..kept.len()], kept[..]);
        // A change of key values moves the index entry with it.
        let fam = s.records.get_mut("login_messages").unwrap();
        fam.update(back, |v| v["uuid"] = Value::from("renamed"));
        assert_eq!(fam.id_by_keys(&by_uuid(&gone[0])), None);
        assert_eq!(fam.id_by_keys(&by_uuid("renamed")), Some(back));
    }

    #[test]
    fn errors_carry_a_pointer() {
        let spec = Spec::builtin();
        let mut v: Value = serde_json::from_str(BUILTIN_FIXTURES).unwrap();
        v["records"]["duo"][0]["max_prompts"] = Value::from("three");
        let e = Store::from_value(spec, &v).unwrap_err();
        assert_eq!(e.pointer, "/records/duo/0/max_prompts");
        let mut v: Value = serde_json::from_str(BUILTIN_FIXTURES).unwrap();
        v["records"]["nope"] = Value::Array(vec![]);
        assert_eq!(
            Store::from_value(spec, &v).unwrap_err().pointer,
            "/records/nope"
        );
        let mut v: Value = serde_json::from_str(BUILTIN_FIXTURES).unwrap();
        v["records"]["login_messages"][1]["colour"] = Value::from("red");
        assert_eq!(
            Store::from_value(spec, &v).unwrap_err().pointer,
            "/records/login_messages/1/colour"
        );
    }

    #[test]
    fn rendered_pieces_write_the_same_json_as_the_record() {
        use crate::mock::faults::Fault;
        use crate::mock::query::{
            QueryPlan, ReadKind, Render, Row, parse_query, select, write_record,
        };
        let spec = crate::spec::Spec::builtin();
        let v: Value = serde_json::from_str(BUILTIN_FIXTURES).unwrap();
        let store = Store::from_value(spec, &v).unwrap();
        let faults_sets: Vec<BTreeSet<Fault>> = vec![
            BTreeSet::new(),
            [Fault::LeakSecret].into(),
            [Fault::FieldsExtra].into(),
        ];
        for fam in &spec.families {
            let res = spec.resource(&fam.resource).unwrap();
            let coll = spec
                .endpoints
                .iter()
                .find(|e| {
                    e.family == fam.family && e.kind() == crate::spec::model::Kind::Collection
                })
                .unwrap();
            let table = ServedResource::new(res, coll.path().to_string(), spec.instance_of(coll));
            let allowed: Vec<String> = ["fields", "filters"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            for q in [
                "",
                "fields=*",
                "fields=owner",
                "fields=comment,scope",
                "scope=svm",
            ] {
                let pairs = parse_query(Some(q)).unwrap();
                // Not every family has every field (duo has no scope).
                let Ok(plan) = QueryPlan::build(
                    spec,
                    &table,
                    &allowed,
                    pairs,
                    q,
                    &BTreeSet::new(),
                    &BTreeSet::new(),
                ) else {
                    continue;
                };
                for faults in &faults_sets {
                    for shape in [ReadKind::Collection, ReadKind::Instance] {
                        let sel = select(&table, &plan, shape, faults);
                        for hal in [true, false] {
                            let render = Render { hal };
                            for rec in store.records[&fam.family].iter() {
                                let mut a = Vec::new();
                                let mut b = Vec::new();
                                let cached = Row {
                                    value: rec.value(),
                                    rendered: Some(rec.rendered(&table)),
                                };
                                write_record(&mut a, &table, cached, &sel, render);
                                write_record(&mut b, &table, Row::plain(rec.value()), &sel, render);
                                assert_eq!(
                                    String::from_utf8(a).unwrap(),
                                    String::from_utf8(b).unwrap(),
                                    "{} {q}",
                                    fam.family
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
