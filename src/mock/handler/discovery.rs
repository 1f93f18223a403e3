//! The hand-written discovery endpoints a target must offer for the harness to find keys
//! (ONTAP-BEHAVIOR.md §1): `GET /api/cluster` (name, uuid, the version the mock plays),
//! `GET /api/svm/svms` and `GET /api/security/accounts`, collection and instance. They are not in
//! the catalog, so their resources are declared here, and they are served by the same query
//! engine as every catalog family.

use super::Mock;
use crate::mock::config::Role;
use crate::mock::errors::{ApiError, CODE_NOT_FOUND};
use crate::mock::keys::canonical_key;
use crate::mock::query::{
    ReadKind, Render, Row, ServedResource, collection_get, list, project, select,
};
use crate::mock::reply::{Reply, ReplyBody};
use crate::mock::store::{Owner, Store};
use crate::spec::OntapVersion;
use crate::spec::resource::{Field, FieldType, Flags, Resource};
use axum::http::StatusCode;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The discovery resources, as the query engine serves them.
pub(super) struct Discovery {
    pub cluster: ServedResource,
    pub svms: ServedResource,
    pub accounts: ServedResource,
}

/// The query parameters of a discovery collection GET.
const COLLECTION_PARAMS: &[&str] = &[
    "filters",
    "fields",
    "max_records",
    "return_records",
    "return_timeout",
    "order_by",
];
/// The query parameters of a discovery instance GET (and of `/api/cluster`): `fields`, and the
/// collection parameters, accepted and ignored ([`super::IGNORED_ON_INSTANCES`]).
const INSTANCE_PARAMS: &[&str] = &[
    "fields",
    "max_records",
    "return_records",
    "return_timeout",
    "order_by",
];

fn leaf(path: &str, ty: FieldType, key: bool) -> Field {
    Field {
        path: path.to_string(),
        ty,
        description: String::new(),
        schema: serde_json::json!({ "type": ty.as_str() }),
        enum_values: Vec::new(),
        nullable: false,
        introduced: None,
        minimum: None,
        maximum: None,
        min_length: None,
        max_length: None,
        flags: Flags {
            key,
            read_only: true,
            ..Flags::default()
        },
        derived_from: None,
        evidence: BTreeMap::new(),
        default_evidence: crate::spec::model::Evidence::Obs,
    }
}

/// The discovery resources, made once per process.
pub(super) fn discovery() -> &'static Discovery {
    static D: OnceLock<Discovery> = OnceLock::new();
    D.get_or_init(|| {
        let leak = |r: Resource| -> &'static Resource { Box::leak(Box::new(r)) };
        let cluster = leak(Resource {
            name: "cluster".into(),
            keys: vec![],
            fields: vec![
                leaf("name", FieldType::String, false),
                leaf("uuid", FieldType::String, false),
                leaf("version.full", FieldType::String, false),
                leaf("version.generation", FieldType::Integer, false),
                leaf("version.major", FieldType::Integer, false),
                leaf("version.minor", FieldType::Integer, false),
            ],
            objects: vec!["version".into()],
        });
        let svms = leak(Resource {
            name: "svm".into(),
            keys: vec!["uuid".into()],
            fields: vec![
                leaf("uuid", FieldType::String, true),
                leaf("name", FieldType::String, false),
            ],
            objects: vec![],
        });
        let accounts = leak(Resource {
            name: "account".into(),
            keys: vec!["owner.uuid".into(), "name".into()],
            fields: vec![
                leaf("owner.uuid", FieldType::String, true),
                leaf("owner.name", FieldType::String, false),
                leaf("name", FieldType::String, true),
                leaf("role", FieldType::String, false),
            ],
            objects: vec!["owner".into()],
        });
        Discovery {
            cluster: ServedResource::new(cluster, "/api/cluster".into(), None),
            svms: ServedResource::new(svms, "/api/svm/svms".into(), None),
            accounts: ServedResource::new(accounts, "/api/security/accounts".into(), None),
        }
    })
}

impl Mock {
    /// A GET of a discovery endpoint (routing has matched the path and the method).
    pub(super) fn serve_discovery(
        &self,
        table: &'static ServedResource,
        keys: Vec<String>,
        raw_query: Option<&str>,
        role: &Role,
        hal: bool,
    ) -> Result<Reply<'_>, ApiError> {
        let d = self.disc;
        let is_cluster = std::ptr::eq(table, &d.cluster);
        let shape = if is_cluster || !keys.is_empty() {
            ReadKind::Instance
        } else {
            ReadKind::Collection
        };
        let allowed: Vec<String> = match shape {
            ReadKind::Collection => COLLECTION_PARAMS.iter().map(|s| s.to_string()).collect(),
            ReadKind::Instance => INSTANCE_PARAMS.iter().map(|s| s.to_string()).collect(),
        };
        let plan = self.plan(table, &allowed, raw_query)?;
        let render = Render { hal };
        let answer = |shape, body| Reply::read(table, shape, plan.start, body);
        let store = self.read();
        if is_cluster {
            let rec = cluster_record(&store, self.cfg.version);
            let sel = select(table, &plan, ReadKind::Instance, self.faults());
            let v = project(table, &rec, &sel, render);
            return Ok(answer(ReadKind::Instance, ReplyBody::Json(v)));
        }
        let is_svms = std::ptr::eq(table, &d.svms);
        let all: &[Value] = if is_svms {
            &store.svms
        } else {
            &store.accounts
        };
        let may_see = |r: &Value| match role {
            Role::Admin => true,
            Role::Vsadmin { svm } if is_svms => r.get("name").and_then(Value::as_str) == Some(svm),
            Role::Vsadmin { svm } => store.owner_of(table.res, r) == Owner::Svm(svm.clone()),
        };
        if keys.is_empty() {
            let path = &table.collection_path;
            let listed = self.listing(path, role, &plan, || {
                let visible = (0u64..)
                    .zip(all)
                    .filter(|(_, r)| may_see(r))
                    .map(|(i, r)| (i, Row::plain(r)));
                list(table, &plan, visible, self.faults())
            });
            let row = |pos: u64| all.get(usize::try_from(pos).ok()?).map(Row::plain);
            let text = collection_get(table, path, &listed, row, &plan, render, self.faults());
            return Ok(answer(ReadKind::Collection, ReplyBody::Text(text)));
        }
        let pairs: Vec<(String, String)> = table.res.keys.iter().cloned().zip(keys).collect();
        // Through the store's indexes when the keys are as records hold them (no timestamp to
        // bring to one form), else the scan they stand for.
        let value_of = |k: &str| {
            pairs
                .iter()
                .find(|(f, _)| f == k)
                .map(|(_, v)| v.as_str())
                .filter(|v| canonical_key(v) == *v)
        };
        let indexed = if is_svms {
            value_of("uuid").map(|u| store.svm_position(u))
        } else {
            match (value_of("owner.uuid"), value_of("name")) {
                (Some(o), Some(n)) => Some(store.account_position(o, n)),
                _ => None,
            }
        };
        let found = match indexed {
            Some(pos) => pos
                .and_then(|i| all.get(i))
                .filter(|r| may_see(r) && table.has_keys(r, &pairs)),
            None => all.iter().find(|r| may_see(r) && table.has_keys(r, &pairs)),
        };
        match found {
            Some(rec) => {
                let sel = select(table, &plan, ReadKind::Instance, self.faults());
                let v = project(table, rec, &sel, render);
                Ok(answer(ReadKind::Instance, ReplyBody::Json(v)))
            }
            None => {
                Err(
                    ApiError::new(StatusCode::NOT_FOUND, CODE_NOT_FOUND, "entry doesn't exist")
                        .target(table.res.keys[0].as_str()),
                )
            }
        }
    }
}

/// `/api/cluster`: the cluster's name and uuid, and the version the mock plays.
fn cluster_record(store: &Store, v: OntapVersion) -> Value {
    serde_json::json!({
        "name": store.cluster_name(),
        "uuid": store.cluster_uuid(),
        "version": {
            "full": format!("NetApp Release {}.{}.{}: ontap-conform reference mock", v.major, v.minor, v.micro),
            "generation": v.major,
            "major": v.minor,
            "minor": v.micro,
        }
    })
}
