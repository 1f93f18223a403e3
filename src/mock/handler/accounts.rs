//! What ONTAP does to a user account of `/api/security/accounts` beyond the field flags: the
//! values a POST fills in and a password change to the same password refused. Evidence (lib):
//! NetApp's client `netapp_ontap.resources.Account` (9.19), whose POST and PATCH docstrings
//! state the defaults and whose example GET shows them, and NetApp's Ansible module
//! `na_ontap_user`, which reads an account back after creating it and relies on them.
//!
//! Only a contract that has the family (`mock --contract ontap-9.19`) serves writes of accounts:
//! the built-in data set's accounts are the read-only discovery records.

use super::writes::get_path_in;
use crate::mock::errors::{ApiError, CODE_BAD_REQUEST};
use crate::mock::query::ServedResource;
use crate::mock::store::{Owner, Store};
use crate::spec::resource::{Resource, get_path, set_path};
use axum::http::StatusCode;
use serde_json::{Map, Value};

/// The collection of user accounts.
pub(super) const ACCOUNTS_PATH: &str = "/api/security/accounts";

/// Whether a table serves the user accounts.
pub(super) fn is_accounts(table: &ServedResource) -> bool {
    table.collection_path == ACCOUNTS_PATH
}

/// A new account without an owner is the cluster's: "`owner.name` or `owner.uuid` - Name or UUID
/// of the SVM for an SVM-scoped user account. If not supplied, a cluster-scoped user account is
/// created" (lib: `Account.post`).
pub(super) fn default_owner(store: &Store, res: &Resource, rec: &mut Value) {
    let given = ["owner.uuid", "owner.name"]
        .iter()
        .any(|p| get_path(rec, p).is_some());
    if !given
        && res.field("owner.uuid").is_some()
        && let Some(m) = rec.as_object_mut()
    {
        set_path(
            m,
            "owner.uuid",
            Value::String(store.cluster_uuid().to_string()),
        );
    }
}

/// The values a POST fills in that the client left out (lib: `Account.post`): `scope` by the
/// owner (`cluster` or `svm`, as the example GET of an SVM's account shows `"scope": "svm"`);
/// `role` "Defaulted to `admin` for cluster user account and to `vsadmin` for SVM-scoped
/// account"; `locked` "Defaults to `false` if not supplied"; and each application's
/// `second_authentication_method` "Defaults to _none_ if not supplied".
pub(super) fn post_defaults(res: &Resource, owner: &Owner, rec: &mut Value) {
    let (scope, role) = match owner {
        Owner::Cluster => ("cluster", "admin"),
        Owner::Svm(_) => ("svm", "vsadmin"),
    };
    let Some(m) = rec.as_object_mut() else {
        return;
    };
    if res.field("scope").is_some() {
        set_path(m, "scope", Value::String(scope.into()));
    }
    for (path, value) in [
        ("role.name", Value::from(role)),
        ("locked", Value::Bool(false)),
    ] {
        if res.field(path).is_some() && get_path_in(m, path).is_none() {
            set_path(m, path, value);
        }
    }
    applications_defaults(m);
}

/// A PATCH body's applications get the same default as a POST's: "`second_authentication_method`
/// - ... Defaults to _none_ if not supplied" (lib: `Account.patch`).
pub(super) fn patch_defaults(body: &mut Value) {
    if let Some(m) = body.as_object_mut() {
        applications_defaults(m);
    }
}

fn applications_defaults(m: &mut Map<String, Value>) {
    if let Some(Value::Array(apps)) = m.get_mut("applications") {
        for app in apps.iter_mut().filter_map(Value::as_object_mut) {
            app.entry("second_authentication_method")
                .or_insert_with(|| Value::String("none".into()));
        }
    }
}

/// A PATCH that sets the password the account already has is refused: NetApp's Ansible module
/// `na_ontap_user` recognises ONTAP's answer by its message ("New password must be different
/// than the old password.", among others) and reports the account unchanged, with a warning.
/// The status and code are the mock's choice (ONTAP's documents give none): 400, code `2` (§7:
/// "a field has an invalid ... value"), target `password`.
pub(super) fn check_password(current: &Value, body: &Value) -> Result<(), ApiError> {
    match (body.get("password"), current.get("password")) {
        (Some(new), Some(old)) if new == old => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            CODE_BAD_REQUEST,
            "New password must be different than the old password.",
        )
        .target("password")),
        _ => Ok(()),
    }
}
