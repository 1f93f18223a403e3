//! The hand-written families against NetApp's own definitions: `specs/` compared with the
//! shipped `ontap-9.19` contract (imported from netapp-ontap 9.19.1.0, NetApp's Python client,
//! whose resource classes are generated from ONTAP's swagger), every disagreement either fixed
//! or listed with its reason in docs/contract.md. `tests/import.rs` runs it, and the contract
//! tests of `tests/spec_contract.rs` run it in place of NetApp's reference pages where those are
//! not beside the checkout.

use ontap_conform::spec::Spec;
use ontap_conform::spec::diff::diff;
use std::collections::BTreeSet;
use std::path::Path;

/// The hand-written families.
pub const FAMILIES: [&str; 3] = ["duo", "login_messages", "totp"];

/// The changes of one family between two contracts, as (kind, field or path) pairs.
pub fn family_changes(old: &Spec, new: &Spec, family: &str) -> BTreeSet<(String, String)> {
    diff(old, new)
        .changes
        .into_iter()
        .filter(|c| c.family == family)
        .map(|c| (c.kind.to_string(), c.field.or(c.path).unwrap_or_default()))
        .collect()
}

/// The rows of the cross-check table in docs/contract.md: (kind, family, field) and a reason.
pub fn documented_disagreements() -> Vec<(String, String, String, String)> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/contract.md"))
            .unwrap();
    let start = doc
        .find("<!-- cross-check:start -->")
        .expect("docs/contract.md has the cross-check table");
    let end = doc.find("<!-- cross-check:end -->").unwrap();
    doc[start..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<String> = l
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect();
            assert_eq!(cells.len(), 4, "a row of four cells: {l}");
            (
                cells[0].clone(),
                cells[1].clone(),
                cells[2].clone(),
                cells[3].clone(),
            )
        })
        .collect()
}

/// Panics unless every disagreement of `specs/` with netapp-ontap 9.19 (fields, types, limits,
/// enums, access flags, paths and methods of the three families) is listed in docs/contract.md
/// with its reason, and every listed one still exists. Returns how many changes were compared.
pub fn assert_hand_written_families_agree_with_netapp_ontap_9_19() -> usize {
    let ours = Spec::builtin();
    let netapp = Spec::contract("ontap-9.19").unwrap();
    let mut found = BTreeSet::new();
    for fam in FAMILIES {
        assert!(
            netapp.endpoints.iter().any(|e| e.family == fam),
            "netapp-ontap 9.19 has no family {fam}"
        );
        for (kind, field) in family_changes(ours, netapp, fam) {
            found.insert((kind, fam.to_string(), field));
        }
    }
    let rows = documented_disagreements();
    for (_, _, _, why) in &rows {
        assert!(
            why.len() > 20,
            "every kept disagreement has its reason: {rows:?}"
        );
    }
    let documented: BTreeSet<(String, String, String)> =
        rows.into_iter().map(|(k, f, fl, _)| (k, f, fl)).collect();
    let undocumented: Vec<_> = found.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&found).collect();
    assert!(
        undocumented.is_empty(),
        "disagreements with netapp-ontap 9.19 that docs/contract.md neither fixes nor explains: {undocumented:?}"
    );
    assert!(
        stale.is_empty(),
        "docs/contract.md explains disagreements that no longer exist: {stale:?}"
    );
    found.len()
}
