//! A data set of any size for measuring the harness and the mock at scale (`mock --svms N`): a
//! base data set (the built-in one) plus N generated SVMs, each with one login-messages record,
//! five accounts, TOTP profiles for two of them and, for about half of the SVMs, a Duo profile.
//! Deterministic: the same N gives the same bytes, so runs and recordings compare.

use serde_json::{Value, json};

/// Accounts made for each generated SVM.
pub const ACCOUNTS_PER_SVM: usize = 5;
/// Of those, the accounts with a TOTP profile.
pub const TOTP_PER_SVM: usize = 2;

/// A fixed mix of the index (splitmix64): decides which SVMs get a Duo profile.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether generated SVM `i` has a Duo profile (about half do).
pub fn has_duo(i: usize) -> bool {
    mix(i as u64) & 1 == 0
}

/// The uuid of generated SVM `i` (never one of the built-in data set's).
pub fn svm_uuid(i: usize) -> String {
    format!("5ca1e000-0000-4000-8000-{i:012x}")
}

/// The name of generated SVM `i`.
pub fn svm_name(i: usize) -> String {
    format!("scale-svm{i:05}")
}

/// Base32 (A-Z, 2-7) of `i`, padded to 16 characters: a valid TOTP secret.
fn base32(mut n: u64) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = vec![b'A'; 16];
    for c in out.iter_mut().rev() {
        *c = ALPHA[(n % 32) as usize];
        n /= 32;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Adds `n` generated SVMs and their records to a data set in the fixtures format.
pub fn add_svms(base: &mut Value, n: usize) {
    let mut svms = Vec::with_capacity(n);
    let mut accounts = Vec::with_capacity(n * ACCOUNTS_PER_SVM);
    let mut messages = Vec::with_capacity(n);
    let mut duo = Vec::new();
    let mut totp = Vec::with_capacity(n * TOTP_PER_SVM);
    for i in 0..n {
        let (name, uuid) = (svm_name(i), svm_uuid(i));
        let owner = json!({ "name": name, "uuid": uuid });
        svms.push(owner.clone());
        messages.push(json!({
            "uuid": uuid,
            "scope": "svm",
            "svm": { "uuid": uuid, "name": name },
            "message": format!("#### Welcome to {name} ####\n"),
            "show_cluster_message": i % 3 != 0,
        }));
        if has_duo(i) {
            duo.push(json!({
                "owner": { "uuid": uuid },
                "api_host": "api-scale.duosecurity.com",
                "auto_push": i % 2 == 0,
                "comment": format!("Duo profile for {name}"),
                "fail_mode": "safe",
                "integration_key": format!("DISCALE{i:013}"),
                "is_enabled": true,
                "max_prompts": 1 + (i % 3) as i64,
                "push_info": true,
                "secret_key": format!("{name}-duo-secret-key-generated-{i:012}"),
                "status": "OK",
            }));
        }
        for a in 0..ACCOUNTS_PER_SVM {
            let acc = format!("user{a}");
            accounts.push(json!({
                "owner": owner,
                "name": acc,
                "role": if a == 0 { "vsadmin" } else { "vsadmin-readonly" },
            }));
            if a < TOTP_PER_SVM {
                totp.push(json!({
                    "owner": { "uuid": uuid },
                    "account": { "name": acc },
                    "comment": format!("TOTP profile of {acc} on {name}"),
                    "enabled": a == 0,
                    "scope": "svm",
                    "secret_key": base32((i * TOTP_PER_SVM + a) as u64),
                }));
            }
        }
    }
    let push = |v: &mut Value, list: Vec<Value>| {
        if let Some(a) = v.as_array_mut() {
            a.extend(list);
        }
    };
    if base.get("svms").is_none() {
        base["svms"] = json!([]);
    }
    if base.get("accounts").is_none() {
        base["accounts"] = json!([]);
    }
    push(&mut base["svms"], svms);
    push(&mut base["accounts"], accounts);
    for (fam, list) in [("login_messages", messages), ("duo", duo), ("totp", totp)] {
        if base["records"].get(fam).is_none() {
            base["records"][fam] = json!([]);
        }
        push(&mut base["records"][fam], list);
    }
}

/// The built-in data set plus `n` generated SVMs.
pub fn builtin_with_svms(n: usize) -> Value {
    let mut v: Value = serde_json::from_str(super::store::BUILTIN_FIXTURES)
        .expect("the built-in fixtures are JSON");
    add_svms(&mut v, n);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::store::Store;
    use crate::spec::Spec;

    fn counts(n: usize) -> (usize, usize, usize, usize, usize) {
        let s = Store::from_value(Spec::builtin(), &builtin_with_svms(n)).expect("valid");
        (
            s.svms.len(),
            s.records["login_messages"].len(),
            s.records["duo"].len(),
            s.records["totp"].len(),
            s.accounts.len(),
        )
    }

    #[test]
    fn zero_is_the_builtin_data_set() {
        assert_eq!(counts(0), (3, 4, 2, 3, 7));
        let builtin: Value = serde_json::from_str(crate::mock::store::BUILTIN_FIXTURES).unwrap();
        assert_eq!(builtin_with_svms(0), builtin);
    }

    #[test]
    fn counts_follow_n_and_the_data_set_is_valid() {
        let (svms, messages, duo, totp, accounts) = counts(1000);
        assert_eq!(svms, 1003);
        assert_eq!(messages, 1004);
        assert_eq!(totp, 3 + 2 * 1000);
        assert_eq!(accounts, 7 + 5 * 1000);
        // About half of the generated SVMs have a Duo profile.
        assert!((2 + 400..=2 + 600).contains(&duo), "duo {duo}");
    }

    #[test]
    fn deterministic() {
        let a = serde_json::to_string(&builtin_with_svms(300)).unwrap();
        let b = serde_json::to_string(&builtin_with_svms(300)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, serde_json::to_string(&builtin_with_svms(301)).unwrap());
    }
}
