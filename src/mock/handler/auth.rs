//! Who is asking, and what they may see. HTTP Basic credentials, or a client certificate signed
//! by `--client-ca` whose CN names a user, become a [`Role`] (the cluster administrator or an SVM
//! administrator); a record is visible to a role when the role owns it.
//! This is also where SVM tunnelling (`X-Dot-SVM-Name` / `X-Dot-SVM-UUID`, ONTAP-BEHAVIOR.md §4)
//! belongs when the mock learns it: it narrows the caller's role to one SVM before routing.

use super::Mock;
use crate::mock::store::{Owner, Store};
use crate::mock::{Fault, Role, User};
use crate::spec::resource::Resource;
use axum::http::{HeaderMap, header};
use base64::Engine;
use serde_json::Value;

/// The users the mock knows, with their `Authorization` header values precomputed.
pub(super) struct Credentials {
    users: Vec<User>,
    /// `Basic <base64>` header values of the users, for the fast path.
    basic: Vec<(String, Role)>,
}

impl Credentials {
    pub(super) fn new(users: &[User]) -> Credentials {
        let basic = users
            .iter()
            .map(|u| {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", u.name, u.password));
                (format!("Basic {token}"), u.role.clone())
            })
            .collect();
        Credentials {
            users: users.to_vec(),
            basic,
        }
    }

    /// The role of the user whose Basic credentials the request carries; without an
    /// Authorization header, the role of the user the connection's client certificate names
    /// (`cert_login`: the mock has a `--client-ca`; the TLS layer verified the certificate).
    fn authenticate(&self, headers: &HeaderMap, cert_login: bool) -> Option<Role> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            let cn = headers
                .get(crate::mock::server::CERT_USER_HEADER)
                .filter(|_| cert_login)?
                .to_str()
                .ok()?;
            return self
                .users
                .iter()
                .find(|u| u.name == cn)
                .map(|u| u.role.clone());
        };
        let value = value.to_str().ok()?;
        if let Some((_, role)) = self.basic.iter().find(|(h, _)| h == value) {
            return Some(role.clone());
        }
        let (scheme, token) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (name, password) = text.split_once(':')?;
        self.users
            .iter()
            .find(|u| u.name == name && u.password == password)
            .map(|u| u.role.clone())
    }
}

impl Mock {
    /// The role a request runs as; None: answer 401. The `auth-unenforced` fault serves anyone
    /// as the cluster administrator.
    pub(super) fn caller(&self, headers: &HeaderMap) -> Option<Role> {
        match self
            .creds
            .authenticate(headers, self.cfg.client_ca.is_some())
        {
            Some(role) => Some(role),
            None if self.has(Fault::AuthUnenforced) => Some(Role::Admin),
            None => None,
        }
    }

    /// Whether `role` may see (and change) a record of `res`.
    pub(super) fn visible(&self, store: &Store, res: &Resource, rec: &Value, role: &Role) -> bool {
        match role {
            Role::Admin => true,
            Role::Vsadmin { svm } => store.owner_of(res, rec) == Owner::Svm(svm.clone()),
        }
    }
}
