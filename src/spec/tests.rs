//! Unit tests of the loader: the built-in contract loads and its field flags come through.

use super::*;

#[test]
fn builtin_loads() {
    let spec = Spec::builtin();
    assert!(spec.endpoints.len() >= 6);
    let duo = spec.resource("duo").unwrap();
    assert!(duo.field("secret_key").unwrap().flags.write_only);
    assert!(duo.field("owner.uuid").unwrap().flags.key);
    assert!(duo.field("owner.name").unwrap().flags.patch_forbidden);
}
