//! A data set made from a contract, for families the built-in fixtures have no records of (an
//! imported release: hundreds of families). Deterministic for a seed: the same contract, seed
//! and count give the same records.
//!
//! What it keeps consistent: every value obeys its field's type, enum, length and range; key
//! values are unique within their parent; an `svm` or `owner` reference names an SVM (or the
//! cluster) of the data set, with the matching name; a nested family's records carry the keys of
//! records of their parent family (`/api/storage/volumes/{volume.uuid}/snapshots` under volumes
//! that exist); a singleton family has its one record. Write-only fields are left out (no GET
//! returns them).

use crate::spec::resource::{Field, FieldType, Resource, set_path};
use crate::spec::{Endpoint, Kind, OntapVersion, Spec};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// SVMs of a synthesized data set.
pub const SVMS: usize = 3;

/// splitmix64: a small, fixed generator (the same numbers on every machine and release).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hash(seed: u64, parts: &[&str]) -> u64 {
    let mut h = mix(seed);
    for p in parts {
        for b in p.bytes() {
            h = mix(h ^ u64::from(b));
        }
        h = mix(h ^ 0xff);
    }
    h
}

/// A uuid-shaped value from a hash.
fn uuid(seed: u64, parts: &[&str]) -> String {
    let a = hash(seed, parts);
    let b = mix(a);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// A data set in the fixtures format: the cluster, three SVMs, an admin account per owner, and
/// `per_family` records of every family (one for a singleton).
pub fn data_set(spec: &Spec, seed: u64, per_family: usize, version: OntapVersion) -> Value {
    let cluster = json!({ "name": "cluster-1", "uuid": uuid(seed, &["cluster"]) });
    let svms: Vec<Value> = (1..=SVMS)
        .map(|i| json!({ "name": format!("svm{i}"), "uuid": uuid(seed, &["svm", &i.to_string()]) }))
        .collect();
    let accounts: Vec<Value> = std::iter::once(&cluster)
        .chain(&svms)
        .map(|o| json!({ "owner": o, "name": "admin", "role": "admin" }))
        .collect();
    let mut records: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut singletons: Map<String, Value> = Map::new();
    // Parents before children: by how many keys a family's first path carries.
    let mut families: Vec<(&str, &Endpoint)> = Vec::new();
    for f in &spec.families {
        if let Some(ep) = spec.endpoints.iter().find(|e| e.family == f.family) {
            families.push((f.family.as_str(), ep));
        }
    }
    families.sort_by_key(|(_, ep)| (parent_keys(spec, ep).len(), ep.path().len()));
    let mut g = Gen {
        seed,
        cluster: &cluster,
        svms: &svms,
    };
    for (family, ep) in families {
        let res = spec.resource_of(ep);
        if ep.kind() == Kind::Singleton {
            let mut rec = Map::new();
            // The cluster's record is the data set's cluster (what discovery serves).
            let fixed = if ep.path() == "/api/cluster" {
                cluster_fields(&cluster, version)
            } else {
                Vec::new()
            };
            g.fill(&mut rec, res, family, 0, &fixed);
            singletons.insert(family.to_string(), Value::Object(rec));
            continue;
        }
        let discovered = discovered(ep.path(), &svms, &accounts);
        let parents = match &discovered {
            Some(d) => d.clone(),
            None => g.parents(spec, ep, &records),
        };
        let count = match &discovered {
            Some(d) => d.len(),
            None if parents.is_empty() => per_family,
            None => per_family.max(parents.len()),
        };
        let out = g.records(res, family, count, &parents);
        records.insert(family.to_string(), out);
    }
    let mut recs: Map<String, Value> = records
        .into_iter()
        .map(|(k, v)| (k, Value::Array(v)))
        .collect();
    recs.extend(singletons);
    json!({
        "$comment": format!("synthesized from {} with seed {seed}", spec.source),
        "cluster": cluster,
        "svms": svms,
        "accounts": accounts,
        "records": recs,
    })
}

/// The fields of the `/api/cluster` record that are the data set's cluster and the version the
/// mock plays.
fn cluster_fields(cluster: &Value, version: OntapVersion) -> Vec<(String, Value)> {
    vec![
        ("name".into(), cluster["name"].clone()),
        ("uuid".into(), cluster["uuid"].clone()),
        (
            "version.full".into(),
            json!(format!(
                "NetApp Release {version}: ontap-conform reference mock"
            )),
        ),
        ("version.generation".into(), json!(version.major)),
        ("version.major".into(), json!(version.minor)),
        ("version.minor".into(), json!(version.micro)),
    ]
}

/// SVMs and accounts are the data set's own (what discovery serves), so that families nested
/// under them hang under SVMs and accounts that exist: the key fields of each, for the family
/// at `path` if it is `/api/svm/svms` or `/api/security/accounts`.
fn discovered(path: &str, svms: &[Value], accounts: &[Value]) -> Option<Vec<Vec<(String, Value)>>> {
    match path {
        "/api/svm/svms" => Some(
            svms.iter()
                .map(|s| {
                    vec![
                        ("uuid".into(), s["uuid"].clone()),
                        ("name".into(), s["name"].clone()),
                    ]
                })
                .collect(),
        ),
        "/api/security/accounts" => Some(
            accounts
                .iter()
                .map(|a| {
                    vec![
                        ("owner.uuid".into(), a["owner"]["uuid"].clone()),
                        ("owner.name".into(), a["owner"]["name"].clone()),
                        ("name".into(), a["name"].clone()),
                    ]
                })
                .collect(),
        ),
        _ => None,
    }
}

/// The keys a family's path carries that belong to its parents: those of its collection path.
/// A family without a collection (one record per SVM, instance-only) has its keys filled like
/// any field: an `svm.uuid` key names an SVM.
fn parent_keys(spec: &Spec, ep: &Endpoint) -> Vec<String> {
    let coll = match ep.kind() {
        Kind::Collection => Some(ep),
        _ => spec.collection_of(ep),
    };
    coll.map(|c| c.path_keys().iter().map(|k| k.to_string()).collect())
        .unwrap_or_default()
}

struct Gen<'a> {
    seed: u64,
    cluster: &'a Value,
    svms: &'a [Value],
}

impl Gen<'_> {
    /// `count` records of a family, the `i`th under the parents' keys `parents[i % n]`; a
    /// record whose keys repeat an earlier one's (keys drawn from a short enum) is left out.
    fn records(
        &mut self,
        res: &Resource,
        family: &str,
        count: usize,
        parents: &[Vec<(String, Value)>],
    ) -> Vec<Value> {
        let mut out = Vec::new();
        let mut keys_seen = std::collections::BTreeSet::new();
        for i in 0..count {
            let fixed: Vec<(String, Value)> = if parents.is_empty() {
                Vec::new()
            } else {
                parents[i % parents.len()].clone()
            };
            let mut rec = Map::new();
            self.fill(&mut rec, res, family, i, &fixed);
            let rec = Value::Object(rec);
            // Keys drawn from a short enum can repeat: such a record is left out.
            let key: Vec<String> = res
                .keys
                .iter()
                .map(|k| {
                    crate::spec::resource::get_path(&rec, k).map_or(String::new(), Value::to_string)
                })
                .collect();
            if res.keys.is_empty() || keys_seen.insert(key) {
                out.push(rec);
            }
        }
        out
    }

    /// For each parent record a nested family hangs under: the values of its parent keys.
    fn parents(
        &self,
        spec: &Spec,
        ep: &Endpoint,
        done: &BTreeMap<String, Vec<Value>>,
    ) -> Vec<Vec<(String, Value)>> {
        let pk = parent_keys(spec, ep);
        if pk.is_empty() {
            return Vec::new();
        }
        // The parent: the instance path of another family the nested path starts with.
        if let Some((pe, pairs)) = spec.parent_of(ep)
            && let Some(precs) = done.get(&pe.family)
            && !precs.is_empty()
        {
            let get = crate::spec::resource::get_path;
            return precs
                .iter()
                .filter_map(|r| {
                    let mut vals = pairs
                        .iter()
                        .map(|(theirs, mine)| get(r, theirs).cloned().map(|v| (mine.clone(), v)))
                        .collect::<Option<Vec<_>>>()?;
                    // The reference to the parent carries its name too (`volume.name` beside
                    // `volume.uuid`), as the parent record has it.
                    if let (Some((_, last)), Some(name)) = (pairs.last(), get(r, "name"))
                        && let Some((prefix, leaf)) = last.rsplit_once('.')
                        && leaf != "name"
                        // An SVM's or owner's name comes with the owner, not the parent.
                        && !matches!(prefix.rsplit('.').next(), Some("svm" | "owner"))
                    {
                        vals.push((format!("{prefix}.name"), name.clone()));
                    }
                    Some(vals)
                })
                .collect();
        }
        // No parent family with records: SVM keys name the SVMs, others are made up once.
        if pk.iter().all(|k| k == "svm.uuid" || k == "owner.uuid") {
            return self
                .svms
                .iter()
                .map(|s| pk.iter().map(|k| (k.clone(), s["uuid"].clone())).collect())
                .collect();
        }
        (0..2)
            .map(|i| {
                pk.iter()
                    .map(|k| {
                        let v = if k == "svm.uuid" || k == "owner.uuid" {
                            self.svms[i % self.svms.len()]["uuid"].clone()
                        } else {
                            Value::String(uuid(self.seed, &[ep.family.as_str(), k, &i.to_string()]))
                        };
                        (k.clone(), v)
                    })
                    .collect()
            })
            .collect()
    }

    /// Fills one record: fixed values first (parent keys), then every gettable field.
    fn fill(
        &mut self,
        rec: &mut Map<String, Value>,
        res: &Resource,
        family: &str,
        i: usize,
        fixed: &[(String, Value)],
    ) {
        for (k, v) in fixed {
            if res.field(k).is_some() {
                set_path(rec, k, v.clone());
            }
        }
        // The owner of the record: an SVM chosen by position, unless a parent key names one.
        let owner = fixed
            .iter()
            .find(|(k, _)| k == "svm.uuid" || k == "owner.uuid")
            .and_then(|(_, v)| v.as_str())
            .and_then(|u| self.owner_by_uuid(u))
            .unwrap_or_else(|| {
                if res.field("owner.uuid").is_some() && i % (self.svms.len() + 1) == 0 {
                    self.cluster.clone()
                } else {
                    self.svms[i % self.svms.len()].clone()
                }
            });
        for f in &res.fields {
            let is_key = res.keys.contains(&f.path);
            if (!f.gettable() && !is_key) || fixed.iter().any(|(k, _)| k == &f.path) {
                continue;
            }
            // Any reference to an SVM or owner (`svm.uuid`, `policy.svm.name`) names the
            // record's owner, as the data set's checks require.
            let mut tail = f.path.rsplit('.');
            let v = match (tail.next(), tail.next()) {
                (Some("uuid"), Some("svm" | "owner")) => owner["uuid"].clone(),
                (Some("name"), Some("svm" | "owner")) => owner["name"].clone(),
                _ => self.value(f, family, i, is_key),
            };
            set_path(rec, &f.path, v);
        }
    }

    fn owner_by_uuid(&self, u: &str) -> Option<Value> {
        std::iter::once(self.cluster)
            .chain(self.svms)
            .find(|o| o["uuid"] == u)
            .cloned()
    }

    fn value(&self, f: &Field, family: &str, i: usize, key: bool) -> Value {
        let leaf = f.path.rsplit('.').next().unwrap_or(&f.path);
        let n = i as i64;
        match f.ty {
            FieldType::Boolean => Value::Bool(i % 2 == 0),
            FieldType::Integer | FieldType::Number => {
                if let Some(v) = pick_enum(f, i) {
                    return v;
                }
                let lo = f.minimum.unwrap_or(if key { 1 } else { 0 });
                let hi = f.maximum.unwrap_or(lo.saturating_add(1000));
                let span = (hi - lo).max(0) + 1;
                json!(lo + (n + if key { 0 } else { 1 }).rem_euclid(span))
            }
            FieldType::String => {
                if let Some(v) = pick_enum(f, i) {
                    return v;
                }
                if f.schema.get("format").and_then(Value::as_str) == Some("date-time") {
                    return json!(format!("2026-01-{:02}T10:00:00Z", 1 + i % 28));
                }
                let raw = if leaf == "uuid" || leaf.ends_with("_uuid") {
                    uuid(self.seed, &[family, &f.path, &i.to_string()])
                } else if key || leaf == "name" {
                    format!("{}{}", family.replace('_', "-"), i + 1)
                } else {
                    format!("{leaf}-{}", i + 1)
                };
                Value::String(fit(raw, f.min_length, f.max_length))
            }
            FieldType::Array => {
                let items = f.schema.get("items");
                match items.and_then(|i| i.get("type")).and_then(Value::as_str) {
                    Some("string") => {
                        match items.and_then(|i| i.get("enum")).and_then(Value::as_array) {
                            Some(e) if !e.is_empty() => json!([e[i % e.len()]]),
                            _ => json!([format!("{leaf}-{}", i + 1)]),
                        }
                    }
                    Some("integer") | Some("number") => {
                        let lo = items
                            .and_then(|i| i.get("minimum"))
                            .and_then(Value::as_i64)
                            .unwrap_or(1);
                        json!([lo])
                    }
                    Some("boolean") => json!([true]),
                    _ => json!([]),
                }
            }
            FieldType::Object => json!({}),
        }
    }
}

fn pick_enum(f: &Field, i: usize) -> Option<Value> {
    (!f.enum_values.is_empty()).then(|| f.enum_values[i % f.enum_values.len()].clone())
}

/// A string cut or padded to the field's length limits.
fn fit(mut s: String, min: Option<u64>, max: Option<u64>) -> String {
    if let Some(max) = max {
        let max = max as usize;
        if s.chars().count() > max {
            s = s
                .chars()
                .rev()
                .take(max)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
        }
    }
    if let Some(min) = min {
        while (s.chars().count() as u64) < min {
            s.push('x');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::store::Store;

    #[test]
    fn every_shipped_release_gets_a_data_set_the_store_accepts() {
        for r in crate::spec::import::releases::RELEASES {
            let spec = Spec::contract(r.name).unwrap();
            let data = data_set(spec, 7, 3, crate::mock::config::DEFAULT_VERSION);
            let store =
                Store::from_value(spec, &data).unwrap_or_else(|e| panic!("{}: {e}", r.name));
            assert_eq!(
                data,
                data_set(spec, 7, 3, crate::mock::config::DEFAULT_VERSION),
                "deterministic for a seed"
            );
            let with_records = store.records.values().filter(|f| !f.is_empty()).count();
            assert_eq!(
                with_records,
                spec.families.len(),
                "{}: every family has records",
                r.name
            );
        }
    }

    #[test]
    fn nested_records_hang_under_records_of_their_parent() {
        let spec = Spec::contract("ontap-9.19").unwrap();
        let data = data_set(spec, 1, 3, crate::mock::config::DEFAULT_VERSION);
        let volumes: Vec<&Value> = data["records"]["volume"]
            .as_array()
            .unwrap()
            .iter()
            .collect();
        let uuids: Vec<&Value> = volumes.iter().map(|v| &v["uuid"]).collect();
        let snaps = data["records"]["snapshot"].as_array().unwrap();
        assert!(snaps.len() >= 3);
        for s in snaps {
            assert!(uuids.contains(&&s["volume"]["uuid"]), "{s}");
        }
        let svm_uuids: Vec<&Value> = data["svms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["uuid"])
            .collect();
        for v in volumes {
            assert!(svm_uuids.contains(&&v["svm"]["uuid"]), "{v}");
        }
        // Unique keys within the family.
        let mut seen = std::collections::BTreeSet::new();
        for s in snaps {
            assert!(seen.insert((s["volume"]["uuid"].to_string(), s["uuid"].to_string())));
        }
    }
}
