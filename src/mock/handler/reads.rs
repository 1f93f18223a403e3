//! The generic GETs of a catalog family: the collection (filters, order, paging by the query
//! engine) and one record by its path keys, both limited to the records the caller may see.

use super::Mock;
use crate::mock::Role;
use crate::mock::answer::{Answer, Body};
use crate::mock::errors::{ApiError, CODE_NOT_FOUND};
use crate::mock::query::{Plan, Render, Row, Shape, Table, collection_get, select, write_record};
use crate::mock::store::Store;
use crate::spec::Endpoint;
use crate::spec::model::{Condition, Method};
use axum::http::StatusCode;

impl Mock {
    pub(super) fn get_collection<'a>(
        &self,
        table: &'a Table,
        family: &str,
        plan: &Plan,
        role: &Role,
        render: Render,
    ) -> Answer<'a> {
        let store = self.read();
        let recs: Vec<Row<'_>> = store
            .records
            .get(family)
            .map(|v| {
                v.iter()
                    .filter(|r| self.visible(&store, table.res, r.value(), role))
                    .map(|r| Row {
                        value: r.value(),
                        rendered: Some(r.rendered(table)),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let text = collection_get(table, recs, plan, render, self.faults());
        Answer::read(table, Shape::Collection, plan.start, Body::Text(text))
    }

    pub(super) fn get_instance<'a>(
        &self,
        ep: &Endpoint,
        table: &'a Table,
        keys: &[(String, String)],
        plan: &Plan,
        role: &Role,
        render: Render,
    ) -> Result<Answer<'a>, ApiError> {
        let store = self.read();
        let i = self
            .find(&store, &ep.family, table, keys, role)
            .ok_or_else(|| self.not_found(ep, Method::GET, table))?;
        let rec = &store.records[&ep.family][i];
        let sel = select(table, plan, Shape::Instance, self.faults());
        let mut buf = Vec::with_capacity(512);
        let row = Row {
            value: rec.value(),
            rendered: Some(rec.rendered(table)),
        };
        write_record(&mut buf, table, row, &sel, render);
        Ok(Answer::read(
            table,
            Shape::Instance,
            plan.start,
            Body::Text(buf),
        ))
    }

    /// The index of the record of `family` with these key values that `role` may see.
    pub(super) fn find(
        &self,
        store: &Store,
        family: &str,
        table: &Table,
        keys: &[(String, String)],
        role: &Role,
    ) -> Option<usize> {
        store.records.get(family)?.iter().position(|r| {
            table.has_keys(r.value(), keys) && self.visible(store, table.res, r.value(), role)
        })
    }

    /// 404 for a record that does not exist (or that the caller may not see).
    pub(super) fn not_found(&self, ep: &Endpoint, m: Method, table: &Table) -> ApiError {
        let mut generic =
            ApiError::new(StatusCode::NOT_FOUND, CODE_NOT_FOUND, "entry doesn't exist");
        if let Some(k) = table.res.keys.first() {
            generic = generic.target(k.as_str());
        }
        ApiError::documented(ep, m, Condition::NotFound, None, generic)
    }
}
