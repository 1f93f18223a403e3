//! The mock's request handling: one axum fallback handler for every path. This file is the
//! pipeline and nothing else: who is asking ([`auth`]), the body ([`body`]), where the request
//! goes ([`routing`]), the query plan, then one of the generic reads ([`reads`]) or writes
//! ([`writes`]) of the endpoint's resource, or a hand-written discovery endpoint ([`discovery`]).
//! The answer then passes once through the fault layer ([`super::rewrite`]) on its way to
//! the wire. Every rule applied comes from the field flags of `specs/`.

mod accounts;
mod auth;
mod body;
mod discovery;
mod reads;
mod routing;
mod state;
mod validate;
mod writes;

pub use state::Mock;

use super::config::Role;
use super::errors::{ApiError, CODE_METHOD};
use super::faults::Fault;
use super::query::{self, QueryPlan, Render, ServedResource};
use super::reply::Reply;
use super::variants::Variant;
use crate::spec::model::{Kind, Method};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use routing::{CatalogRoute, Routed};
use std::sync::Arc;

/// The axum router: every request goes to [`handle`].
pub fn router(mock: Arc<Mock>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(mock)
}

/// The fallback handler: every request of every path.
async fn handle(State(mock): State<Arc<Mock>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let hal = wants_hal(&parts.headers);
    // HEAD is "a GET that returns only the headers" (ONTAP-BEHAVIOR.md §7): it runs as the GET,
    // and the body is dropped on the way out.
    let head = parts.method == axum::http::Method::HEAD;
    let method = if head {
        axum::http::Method::GET
    } else {
        parts.method.clone()
    };
    let refuse_head_options =
        mock.has(Fault::HeadOptionsRefused) && (head || method == axum::http::Method::OPTIONS);
    let answer = match mock.caller(&parts.headers) {
        None => Reply::unauthorized(),
        Some(_) if refuse_head_options => {
            ApiError::method_not_allowed(parts.method.as_str(), parts.uri.path(), &["GET"]).into()
        }
        Some(role) => match mock.tunnel(&parts.headers, role) {
            Err(e) => e.into(),
            Ok(_) if method == axum::http::Method::OPTIONS => mock.options(parts.uri.path()),
            Ok(role) => match body::read_body(&parts.headers, body, mock.cfg.max_body).await {
                Ok(bytes) => mock.dispatch(
                    &method,
                    parts.uri.path(),
                    parts.uri.query(),
                    &role,
                    &bytes,
                    hal,
                ),
                Err(e) => e.into(),
            },
        },
    };
    super::rewrite::rewrite(mock.faults(), &mock.cfg.variants, answer).into_response(hal, head)
}

/// The collection parameters an instance or singleton GET accepts and ignores: NetApp's Ansible
/// `na_ontap_rest_info` sends `max_records=1024` to every GET, `/api/cluster` included, and ONTAP
/// answers it (ONTAP-BEHAVIOR.md §3b, §5).
pub(super) const IGNORED_ON_INSTANCES: &[&str] = &[
    "max_records",
    "return_records",
    "return_timeout",
    "order_by",
];

/// `allowed` plus [`IGNORED_ON_INSTANCES`].
pub(super) fn with_collection_params(allowed: &[String]) -> Vec<String> {
    let mut out = allowed.to_vec();
    for p in IGNORED_ON_INSTANCES {
        if !out.iter().any(|a| a == p) {
            out.push(p.to_string());
        }
    }
    out
}

/// The query of an instance PATCH without the path's own keys repeated as parameters with the
/// path's values: NetApp's Ansible `na_ontap_user` sends
/// `PATCH /api/security/accounts/{owner.uuid}/{name}?name=N&owner.uuid=U` (lib: its
/// `patch_account`), which real clusters serve. A key with another value, or any other
/// parameter, stays and is judged as before.
fn without_path_keys(
    raw: Option<&str>,
    keys: &[(String, String)],
) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let mut kept = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let pair = query::parse_query(Some(part))?;
        if !matches!(pair.as_slice(), [(k, v)] if keys.iter().any(|(pk, pv)| pk == k && pv == v)) {
            kept.push(part);
        }
    }
    Ok((!kept.is_empty()).then(|| kept.join("&")))
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
    ) -> Reply<'_> {
        let result = match self.route(method, path) {
            Routed::Refused(a) => return a,
            Routed::Discovery { table, keys } => {
                self.serve_discovery(table, keys, raw_query, role, hal)
            }
            Routed::Catalog(r) => self.serve_catalog(r, raw_query, role, body, hal),
        };
        result.unwrap_or_else(Reply::from)
    }

    /// The generic GET / PATCH / POST / DELETE of a catalog endpoint.
    fn serve_catalog<'a>(
        &'a self,
        r: CatalogRoute<'a>,
        raw_query: Option<&str>,
        role: &Role,
        body: &[u8],
        hal: bool,
    ) -> Result<Reply<'a>, ApiError> {
        let CatalogRoute {
            ep,
            keys,
            method: m,
            table,
            query: allowed,
        } = r;
        let widened: Vec<String>;
        let allowed = if m == Method::GET && ep.kind() != Kind::Collection {
            widened = with_collection_params(allowed);
            widened.as_slice()
        } else {
            allowed
        };
        let repeated_keys_dropped;
        let raw_query = if ep.kind() == Kind::Instance && m == Method::PATCH {
            repeated_keys_dropped = without_path_keys(raw_query, &keys)?;
            repeated_keys_dropped.as_deref()
        } else {
            raw_query
        };
        let plan = self.plan(table, allowed, raw_query)?;
        let render = Render { hal };
        // A singleton is served as the instance without keys: its family's one record.
        match (ep.kind(), m) {
            (Kind::Collection, Method::GET) => {
                Ok(self.get_collection(table, &ep.family, &keys, &plan, role, render))
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
            (Kind::Collection, Method::POST) => {
                let at = writes::Place {
                    ep,
                    table,
                    parents: &keys,
                };
                self.post(at, &plan, role, body, hal)
            }
            (Kind::Instance, Method::DELETE) => self.delete(ep, table, &keys, role),
            (Kind::Collection, Method::DELETE) => {
                self.delete_collection(ep, table, &plan, role, hal)
            }
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
        table: &ServedResource,
        allowed: &[String],
        raw_query: Option<&str>,
    ) -> Result<QueryPlan, ApiError> {
        let mut pairs = query::parse_query(raw_query)?;
        let mut raw = raw_query.unwrap_or("").to_string();
        // The `opaque-next` variant's cursor stands for the whole query of the next page.
        if self.shows(Variant::OpaqueNext)
            && let [(k, token)] = pairs.as_slice()
            && k == query::TOKEN_PARAM
        {
            let decoded = query::decode_token(token).ok_or_else(|| {
                ApiError::invalid_value(
                    query::TOKEN_PARAM,
                    format!(
                        "Invalid {} {token:?}: expected the token a next link gave",
                        query::TOKEN_PARAM
                    ),
                )
            })?;
            pairs = query::parse_query(Some(&decoded))?;
            raw = decoded;
        }
        query::reject_duplicates(&pairs)?;
        QueryPlan::build(
            self.cfg.spec,
            table,
            allowed,
            pairs,
            &raw,
            self.faults(),
            &self.cfg.variants,
        )
    }

    fn faults(&self) -> &std::collections::BTreeSet<Fault> {
        &self.cfg.faults
    }

    fn has(&self, f: Fault) -> bool {
        self.cfg.faults.contains(&f)
    }

    fn shows(&self, v: Variant) -> bool {
        self.cfg.variants.contains(&v)
    }
}
