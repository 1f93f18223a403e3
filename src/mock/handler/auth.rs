//! Who is asking, and what they may see. HTTP Basic credentials, or a client certificate signed
//! by `--client-ca` whose CN names a user, become a [`Role`] (the cluster administrator or an SVM
//! administrator); a record is visible to a role when the role owns it. SVM tunnelling
//! (`X-Dot-SVM-Name` / `X-Dot-SVM-UUID`, ONTAP-BEHAVIOR.md §4) narrows a cluster administrator's
//! role to one SVM before routing, as if an SVM administrator of it asked.

use super::Mock;
use crate::mock::config::{Role, User};
use crate::mock::errors::{ApiError, CODE_BAD_REQUEST, CODE_NOT_FOUND};
use crate::mock::faults::Fault;
use crate::mock::store::{Owner, Store};
use crate::spec::resource::Resource;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use serde_json::Value;

/// The tunnelling header that names an SVM.
const SVM_NAME_HEADER: &str = "X-Dot-SVM-Name";
/// The tunnelling header that gives an SVM's uuid.
const SVM_UUID_HEADER: &str = "X-Dot-SVM-UUID";

/// The users the mock knows, with their `Authorization` header values precomputed.
pub(super) struct Logins {
    users: Vec<User>,
    /// `Basic <base64>` header values of the users, for the fast path.
    basic: Vec<(String, Role)>,
}

impl Logins {
    pub(super) fn new(users: &[User]) -> Logins {
        let basic = users
            .iter()
            .map(|u| {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", u.name, u.password));
                (format!("Basic {token}"), u.role.clone())
            })
            .collect();
        Logins {
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

    /// The role a request runs as once SVM tunnelling is applied: with `X-Dot-SVM-Name` or
    /// `X-Dot-SVM-UUID` a cluster administrator's request is scoped to that SVM, like an SVM
    /// administrator's. An SVM the mock does not know: 404 code 4 (the mock's choice; ONTAP's
    /// documents only say it is an error). An SVM administrator may only name its own SVM (403).
    pub(super) fn tunnel(&self, headers: &HeaderMap, role: Role) -> Result<Role, ApiError> {
        let text = |name: &str| -> Result<Option<String>, ApiError> {
            match headers.get(name) {
                None => Ok(None),
                Some(v) => v.to_str().map(|s| Some(s.trim().to_string())).map_err(|_| {
                    ApiError::bad_input(format!(
                        "The {name} header is not ASCII text; expected an SVM name or uuid"
                    ))
                }),
            }
        };
        let by_name = text(SVM_NAME_HEADER)?;
        let by_uuid = text(SVM_UUID_HEADER)?;
        if by_name.is_none() && by_uuid.is_none() {
            return Ok(role);
        }
        let store = self.read();
        let field = |s: &Value, k: &str| s.get(k).and_then(Value::as_str).map(String::from);
        let find = |key: &str, want: &str| {
            store
                .svms
                .iter()
                .find(|s| field(s, key).as_deref() == Some(want))
                .and_then(|s| field(s, "name"))
        };
        let mut svm: Option<String> = None;
        for (header, key, want) in [
            (SVM_NAME_HEADER, "name", &by_name),
            (SVM_UUID_HEADER, "uuid", &by_uuid),
        ] {
            let Some(want) = want else { continue };
            let Some(name) = find(key, want) else {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    CODE_NOT_FOUND,
                    format!("entry doesn't exist: no SVM has {key} \"{want}\" ({header})"),
                )
                .target(header));
            };
            if let Some(other) = &svm
                && *other != name
            {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    CODE_BAD_REQUEST,
                    format!(
                        "{SVM_NAME_HEADER} and {SVM_UUID_HEADER} name two SVMs ({other} and {name}); give one, or both of the same SVM"
                    ),
                )
                .target(header));
            }
            svm = Some(name);
        }
        let Some(svm) = svm else { return Ok(role) };
        match role {
            Role::Admin => Ok(Role::Vsadmin { svm }),
            Role::Vsadmin { svm: own } if own == svm => Ok(Role::Vsadmin { svm }),
            Role::Vsadmin { .. } => Err(ApiError::permission_denied()),
        }
    }

    /// The role a PATCH or DELETE of one record looks the record up as: the caller's own, or
    /// under the `svm-writes-all` fault the cluster administrator's, so that an SVM
    /// administrator changes records of other SVMs it cannot see (what a body may hold is still
    /// judged by the caller's role: admin-only fields stay refused).
    pub(super) fn write_scope<'r>(&self, role: &'r Role) -> &'r Role {
        static ADMIN: Role = Role::Admin;
        if self.has(Fault::SvmWritesAll) {
            &ADMIN
        } else {
            role
        }
    }

    /// Whether `role` may see (and change) a record of `res`.
    pub(super) fn visible(&self, store: &Store, res: &Resource, rec: &Value, role: &Role) -> bool {
        match role {
            Role::Admin => true,
            Role::Vsadmin { .. } if self.has(Fault::SvmSeesAll) => true,
            Role::Vsadmin { svm } => store.owner_of(res, rec) == Owner::Svm(svm.clone()),
        }
    }
}
