//! The mock's request handling: one axum fallback handler for every path. This file is the
//! pipeline and nothing else: who is asking ([`auth`]), the body ([`body`]), where the request
//! goes ([`routing`]), the query plan, then one of the generic reads ([`reads`]) or writes
//! ([`writes`]) of the endpoint's resource, or a hand-written discovery endpoint ([`discovery`]).
//! The answer then passes once through the fault layer ([`super::faults::rewrite`]) on its way to
//! the wire. Every rule applied comes from the field flags of `specs/`.

mod auth;
mod body;
mod discovery;
mod reads;
mod routing;
mod state;
mod validate;
mod writes;

pub use state::Mock;

use super::answer::Answer;
use super::errors::{ApiError, CODE_METHOD};
use super::query::{self, Plan, Render, Table};
use super::{Fault, Role};
use crate::spec::model::{Kind, Method};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use routing::{CatalogRoute, Target};
use std::sync::Arc;

/// The axum router: every request goes to [`handle`].
pub fn router(mock: Arc<Mock>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(mock)
}

/// The fallback handler: every request of every path.
async fn handle(State(mock): State<Arc<Mock>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let hal = wants_hal(&parts.headers);
    let answer = match mock.caller(&parts.headers) {
        None => Answer::unauthorized(),
        Some(role) => match body::read_body(&parts.headers, body, mock.cfg.max_body).await {
            Ok(bytes) => mock.dispatch(
                &parts.method,
                parts.uri.path(),
                parts.uri.query(),
                &role,
                &bytes,
                hal,
            ),
            Err(e) => e.into(),
        },
    };
    super::faults::rewrite(mock.faults(), answer).into_response(hal)
}

/// Whether the client wants HAL links: `application/hal+json`, `*/*` or no Accept at all.
fn wants_hal(headers: &HeaderMap) -> bool {
    let Some(v) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let v = v.to_ascii_lowercase();
    if v.trim().is_empty() || v.contains("application/hal+json") || v.contains("*/*") {
        return true;
    }
    !v.contains("application/json")
}

impl Mock {
    /// Routes one authenticated request and runs it.
    fn dispatch(
        &self,
        method: &axum::http::Method,
        path: &str,
        raw_query: Option<&str>,
        role: &Role,
        body: &[u8],
        hal: bool,
    ) -> Answer<'_> {
        let result = match self.route(method, path) {
            Target::Refused(a) => return a,
            Target::Discovery { table, keys } => {
                self.serve_discovery(table, keys, raw_query, role, hal)
            }
            Target::Catalog(r) => self.serve_catalog(r, raw_query, role, body, hal),
        };
        result.unwrap_or_else(Answer::from)
    }

    /// The generic GET / PATCH / POST / DELETE of a catalog endpoint.
    fn serve_catalog<'a>(
        &'a self,
        r: CatalogRoute<'a>,
        raw_query: Option<&str>,
        role: &Role,
        body: &[u8],
        hal: bool,
    ) -> Result<Answer<'a>, ApiError> {
        let CatalogRoute {
            ep,
            keys,
            method: m,
            table,
            query: allowed,
        } = r;
        let plan = self.plan(table, allowed, raw_query)?;
        let render = Render { hal };
        // A singleton is served as the instance without keys: its family's one record.
        match (ep.kind(), m) {
            (Kind::Collection, Method::GET) => {
                Ok(self.get_collection(table, &ep.family, &plan, role, render))
            }
            (Kind::Instance | Kind::Singleton, Method::GET) => {
                self.get_instance(ep, table, &keys, &plan, role, render)
            }
            (Kind::Instance | Kind::Singleton, Method::PATCH) => {
                self.patch_instance(ep, table, &keys, role, body)
            }
            (Kind::Collection, Method::PATCH) => {
                self.patch_collection(ep, table, &plan, role, body, hal)
            }
            (Kind::Collection, Method::POST) => self.post(ep, table, &plan, role, body, hal),
            (Kind::Instance, Method::DELETE) => self.delete(ep, table, &keys, role),
            _ => Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                CODE_METHOD,
                format!("The mock cannot serve {m} on a {:?} path", ep.kind()),
            )),
        }
    }

    /// Checks the query string of a request against the parameters `allowed` (the catalog's
    /// list for the method) and makes the query engine's plan.
    fn plan(
        &self,
        table: &Table,
        allowed: &[String],
        raw_query: Option<&str>,
    ) -> Result<Plan, ApiError> {
        let pairs = query::parse_query(raw_query)?;
        query::reject_duplicates(&pairs)?;
        Plan::build(
            self.cfg.spec,
            table,
            allowed,
            pairs,
            raw_query.unwrap_or(""),
            self.faults(),
        )
    }

    fn faults(&self) -> &std::collections::BTreeSet<Fault> {
        &self.cfg.faults
    }

    fn has(&self, f: Fault) -> bool {
        self.cfg.faults.contains(&f)
    }
}
