//! The generic GETs of a catalog family: the collection (filters, order, paging by the query
//! engine) and one record by its path keys, both limited to the records the caller may see.

use super::Mock;
use crate::mock::config::Role;
use crate::mock::errors::{ApiError, CODE_NOT_FOUND};
use crate::mock::query::{
    QueryPlan, ReadKind, Render, Row, ServedResource, collection_get, list, literals_on, select,
    write_record,
};
use crate::mock::reply::{Reply, ReplyBody};
use crate::mock::store::{FamilyRecords, Rec, RecId, Store};
use crate::spec::Endpoint;
use crate::spec::model::{Condition, Method};
use axum::http::StatusCode;

impl Mock {
    /// A collection GET; `parents` are the key values a nested collection's path carries
    /// (`/api/storage/volumes/{volume.uuid}/snapshots`): only their records are listed.
    pub(super) fn get_collection<'a>(
        &self,
        table: &'a ServedResource,
        family: &str,
        parents: &[(String, String)],
        plan: &QueryPlan,
        role: &Role,
        render: Render,
    ) -> Reply<'a> {
        let store = self.read();
        let fam = store.records.get(family);
        let path = if parents.is_empty() {
            std::borrow::Cow::Borrowed(table.collection_path.as_str())
        } else {
            let refs: Vec<(&str, &str)> = parents
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            std::borrow::Cow::Owned(
                self.cfg
                    .spec
                    .endpoint(&table.collection_path)
                    .map_or_else(|| table.collection_path.clone(), |ep| ep.render(&refs)),
            )
        };
        fn row<'r>(table: &'r ServedResource, r: &'r Rec) -> Row<'r> {
            Row {
                value: r.value(),
                rendered: Some(r.rendered(table)),
            }
        }
        let listed = self.listing(&path, role, plan, || {
            let Some(fam) = fam else {
                return Vec::new();
            };
            let visible = fam
                .entries_among(narrowed(fam, table, parents, plan, self.faults()))
                .filter(|(_, r)| parents.is_empty() || table.has_keys(r.value(), parents))
                .filter(|(_, r)| self.visible(&store, table.res, r.value(), role))
                .map(|(id, r)| (id.raw(), row(table, r)));
            list(table, plan, visible, self.faults())
        });
        let text = collection_get(
            table,
            &path,
            &listed,
            |pos| Some(row(table, fam?.get(RecId::from_raw(pos))?)),
            plan,
            render,
            self.faults(),
        );
        Reply::read(
            table,
            ReadKind::Collection,
            plan.start,
            ReplyBody::Text(text),
        )
    }

    pub(super) fn get_instance<'a>(
        &self,
        ep: &Endpoint,
        table: &'a ServedResource,
        keys: &[(String, String)],
        plan: &QueryPlan,
        role: &Role,
        render: Render,
    ) -> Result<Reply<'a>, ApiError> {
        let store = self.read();
        let i = self
            .find(&store, &ep.family, table, keys, role)
            .ok_or_else(|| self.not_found(&store, ep, Method::GET, table, keys))?;
        let rec = &store.records[&ep.family][i];
        let sel = select(table, plan, ReadKind::Instance, self.faults());
        let mut buf = Vec::with_capacity(512);
        let row = Row {
            value: rec.value(),
            rendered: Some(rec.rendered(table)),
        };
        write_record(&mut buf, table, row, &sel, render);
        Ok(Reply::read(
            table,
            ReadKind::Instance,
            plan.start,
            ReplyBody::Text(buf),
        ))
    }

    /// The id of the record of `family` with these key values that `role` may see.
    pub(super) fn find(
        &self,
        store: &Store,
        family: &str,
        table: &ServedResource,
        keys: &[(String, String)],
        role: &Role,
    ) -> Option<RecId> {
        let recs = store.records.get(family)?;
        if recs.indexed() {
            // By key: a hash lookup, whatever the number of records.
            let id = recs.id_by_keys(keys)?;
            let r = recs.get(id)?;
            return (table.has_keys(r.value(), keys)
                && self.visible(store, table.res, r.value(), role))
            .then_some(id);
        }
        recs.entries()
            .find(|(_, r)| {
                table.has_keys(r.value(), keys) && self.visible(store, table.res, r.value(), role)
            })
            .map(|(id, _)| id)
    }

    /// 404 for a record that does not exist (or that the caller may not see); the documented
    /// "not configured" error when its owner exists but has no record of this family.
    pub(super) fn not_found(
        &self,
        store: &Store,
        ep: &Endpoint,
        m: Method,
        table: &ServedResource,
        keys: &[(String, String)],
    ) -> ApiError {
        let mut generic =
            ApiError::new(StatusCode::NOT_FOUND, CODE_NOT_FOUND, "entry doesn't exist");
        if let Some(k) = table.res.keys.first() {
            generic = generic.target(k.as_str());
        }
        if ep
            .documented_error(m, Condition::Unconfigured, None)
            .is_some()
            && !self.has(crate::mock::faults::Fault::UnconfiguredAsNotFound)
            && self.owner_exists(store, ep, keys)
        {
            return ApiError::documented(ep, m, Condition::Unconfigured, None, generic);
        }
        ApiError::documented(ep, m, Condition::NotFound, None, generic)
    }

    /// Whether the keys name an owner listed where the family's POST finds owners (its
    /// `create_for`): an SVM, an account.
    fn owner_exists(&self, store: &Store, ep: &Endpoint, keys: &[(String, String)]) -> bool {
        let Some(cf) = self
            .cfg
            .spec
            .collection_of(ep)
            .and_then(|c| c.method(Method::POST))
            .and_then(|p| p.create_for.as_ref())
        else {
            return false;
        };
        // The owner's fields the keys name (a key the owner list has no field for says nothing).
        let want: Vec<(&str, &str)> = keys
            .iter()
            .filter_map(|(k, v)| Some((cf.fields.get(k)?.as_str(), v.as_str())))
            .collect();
        store.owner_matches(&cf.from, &want)
    }
}

/// The ids, in order, of the only records a collection GET may list, when its path's parent keys
/// or a filter of literals name values of the family's first key field: those records are
/// looked up, not every record tried (the sample of a large family, a nested collection under
/// one parent). None: any record may be listed. The filters still decide; this only leaves out
/// records they could not pass.
pub(super) fn narrowed(
    fam: &FamilyRecords,
    table: &ServedResource,
    parents: &[(String, String)],
    plan: &QueryPlan,
    faults: &std::collections::BTreeSet<crate::mock::faults::Fault>,
) -> Option<Vec<RecId>> {
    let first = fam.first_key()?;
    if let Some((_, v)) = parents.iter().find(|(k, _)| k == first) {
        return Some(fam.ids_by_first_key(&[v.as_str()]));
    }
    literals_on(table, &plan.filters, first, faults).map(|vals| fam.ids_by_first_key(&vals))
}
