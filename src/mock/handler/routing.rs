//! Where a request goes: a path becomes a discovery endpoint or a catalog endpoint with its key
//! values (`Spec::route`), gated by the version the mock plays and by the methods the catalog
//! lists (405 with `Allow` otherwise). Nothing is read or changed here.

use super::Mock;
use crate::mock::errors::ApiError;
use crate::mock::faults::Fault;
use crate::mock::query::ServedResource;
use crate::mock::reply::Reply;
use crate::spec::Endpoint;
use crate::spec::model::Method;

/// The path as routing reads it: empty segments dropped (NetApp's `na_ontap_rest_info` asks for
/// `/api//security/login/messages` when it follows a next link) and no trailing `/`.
fn normalise(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(seg);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// What a request addresses.
pub(super) enum Routed<'a> {
    /// A hand-written discovery endpoint (GET only): the collection, or one record by its keys.
    Discovery {
        table: &'static ServedResource,
        keys: Vec<String>,
    },
    /// A catalog endpoint, with a method it serves.
    Catalog(CatalogRoute<'a>),
    /// Answered by routing itself: no such path, a later version, a method the path does not list.
    Refused(Reply<'a>),
}

/// A catalog endpoint, ready to serve.
pub(super) struct CatalogRoute<'a> {
    pub ep: &'static Endpoint,
    /// The path's key values, by key name.
    pub keys: Vec<(String, String)>,
    pub method: Method,
    pub table: &'a ServedResource,
    /// The query parameters the catalog allows for the method.
    pub query: &'static [String],
}

impl Mock {
    /// Routes a request, or refuses it (404 for an unknown path or one of a later version, 405
    /// for a method the path does not list, the catalog's error for a removed method).
    pub(super) fn route(&self, method: &axum::http::Method, path: &str) -> Routed<'_> {
        let trimmed = &normalise(path);
        let trimmed = trimmed.as_str();
        // The discovery endpoints serve what the contract does not: an imported release's own
        // /api/cluster, /api/svm/svms and /api/security/accounts are served from its records.
        if let Some((table, keys)) = self
            .discovery_route(trimmed)
            .filter(|_| self.cfg.spec.route(trimmed).is_none())
        {
            if method != axum::http::Method::GET {
                return Routed::Refused(Reply::not_allowed(method.as_str(), trimmed, &["GET"]));
            }
            return Routed::Discovery { table, keys };
        }
        let spec = self.cfg.spec;
        let Some((ep, keys)) = spec.route(trimmed) else {
            return Routed::Refused(ApiError::api_not_found().into());
        };
        if !ep.available_in(self.cfg.version) && !self.has(Fault::VersionGateIgnored) {
            return Routed::Refused(ApiError::api_not_found().into());
        }
        let allowed: Vec<&str> = ep.methods().map(Method::as_str).collect();
        let Some(m) = Method::parse(method.as_str()).filter(|m| ep.has(*m)) else {
            return Routed::Refused(Reply::not_allowed(method.as_str(), path, &allowed));
        };
        if let Some(removed) = ep.method_removed_in(m, self.cfg.version) {
            return Routed::Refused(
                ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    &removed.code,
                    removed.message.clone(),
                )
                .into(),
            );
        }
        let Some(table) = self.tables.get(&ep.family) else {
            return Routed::Refused(ApiError::api_not_found().into());
        };
        let Some(mdef) = ep.method(m) else {
            return Routed::Refused(ApiError::api_not_found().into());
        };
        Routed::Catalog(CatalogRoute {
            ep,
            keys,
            method: m,
            table,
            query: &mdef.query,
        })
    }

    /// The answer to OPTIONS: 200 with `Allow` naming the path's methods, HEAD and OPTIONS (the
    /// same 404 as any method for a path that does not exist or is of a later version).
    pub(super) fn options(&self, path: &str) -> Reply<'_> {
        let path = normalise(path);
        if self.discovery_route(&path).is_some() && self.cfg.spec.route(&path).is_none() {
            return Reply::options(&["GET", "HEAD", "OPTIONS"]);
        }
        let spec = self.cfg.spec;
        let Some((ep, _)) = spec.route(&path) else {
            return ApiError::api_not_found().into();
        };
        if !ep.available_in(self.cfg.version) && !self.has(Fault::VersionGateIgnored) {
            return ApiError::api_not_found().into();
        }
        let mut allowed: Vec<&str> = ep
            .methods()
            .filter(|m| ep.method_removed_in(*m, self.cfg.version).is_none())
            .map(Method::as_str)
            .collect();
        allowed.extend(["HEAD", "OPTIONS"]);
        Reply::options(&allowed)
    }

    /// The discovery endpoint a path names, with its key values; None for any other path.
    fn discovery_route(&self, path: &str) -> Option<(&'static ServedResource, Vec<String>)> {
        let d = self.disc;
        if path == d.cluster.collection_path {
            return Some((&d.cluster, Vec::new()));
        }
        [&d.svms, &d.accounts].into_iter().find_map(|t| {
            let rest = path.strip_prefix(t.collection_path.as_str())?;
            if rest.is_empty() {
                return Some((t, Vec::new()));
            }
            let parts: Vec<String> = rest
                .strip_prefix('/')?
                .split('/')
                .map(crate::spec::decode_segment)
                .collect::<Option<_>>()?;
            (parts.len() == t.res.keys.len()).then_some((t, parts))
        })
    }
}
