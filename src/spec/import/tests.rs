use super::*;
use crate::spec::{Kind, Method, Spec};

fn fam(path: &str, keys: &[&str], methods: &[&str]) -> Family {
    let mut fields = BTreeMap::new();
    for k in keys {
        fields.insert(
            k.to_string(),
            FieldFacts {
                ty: "string".into(),
                gettable: true,
                ..FieldFacts::default()
            },
        );
    }
    fields.insert(
        "comment".into(),
        FieldFacts {
            ty: "string".into(),
            nullable: true,
            max_length: Some(10),
            gettable: true,
            patchable: true,
            postable: true,
            ..FieldFacts::default()
        },
    );
    Family {
        name: "thing".into(),
        path: path.into(),
        keys: keys.iter().map(|k| k.to_string()).collect(),
        methods: methods.iter().map(|m| m.to_string()).collect(),
        introduced: None,
        fields,
    }
}

fn load(f: Family) -> Spec {
    let c = Contract {
        source: "test".into(),
        version: "1".into(),
        families: vec![f],
    };
    let (files, left_out) = to_files(&c);
    assert!(left_out.is_empty(), "{left_out:?}");
    Spec::from_files("test", files).expect("the loader accepts the import")
}

#[test]
fn shapes_of_every_kind_of_family() {
    // collection + records
    let s = load(fam(
        "/api/things",
        &["uuid"],
        &["get_collection", "post", "get", "patch", "delete"],
    ));
    let paths: Vec<(&str, Kind)> = s.endpoints.iter().map(|e| (e.path(), e.kind())).collect();
    assert_eq!(
        paths,
        [
            ("/api/things", Kind::Collection),
            ("/api/things/{uuid}", Kind::Instance)
        ]
    );
    assert!(s.endpoints[0].has(Method::POST) && !s.endpoints[0].has(Method::DELETE));
    assert!(s.endpoints[1].has(Method::DELETE));

    // nested: the parent's key in the collection path, its own after it
    let s = load(fam(
        "/api/storage/volumes/{volume.uuid}/snapshots",
        &["volume.uuid", "uuid"],
        &["get_collection", "get"],
    ));
    assert_eq!(
        s.endpoints[1].path(),
        "/api/storage/volumes/{volume.uuid}/snapshots/{uuid}"
    );
    assert_eq!(s.endpoints[0].path_keys(), ["volume.uuid"]);

    // a singleton (no keys at all), with POST as the client offers it on /api/cluster
    let s = load(fam("/api/cluster", &[], &["get", "patch", "post"]));
    assert_eq!(s.endpoints.len(), 1);
    assert_eq!(s.endpoints[0].kind(), Kind::Singleton);
    assert!(s.endpoints[0].has(Method::POST));

    // one record under a parent (all keys in the path)
    let s = load(fam(
        "/api/protocols/cifs/services/{svm.uuid}",
        &["svm.uuid"],
        &["get", "patch"],
    ));
    assert_eq!(s.endpoints[0].kind(), Kind::Instance);

    // instance-only: own keys, no listing
    let s = load(fam("/api/things", &["a", "b"], &["get", "delete"]));
    assert_eq!(s.endpoints.len(), 1);
    assert_eq!(s.endpoints[0].path(), "/api/things/{a}/{b}");

    // a keyless collection (metrics)
    let s = load(fam("/api/cluster/metrics", &[], &["get_collection"]));
    assert_eq!(s.endpoints[0].kind(), Kind::Collection);
}

#[test]
fn field_facts_become_flags_and_limits() {
    let mut f = fam(
        "/api/things",
        &["uuid"],
        &["get_collection", "post", "get", "patch"],
    );
    let mut add = |name: &str, g, p, c| {
        f.fields.insert(
            name.into(),
            FieldFacts {
                ty: "integer".into(),
                minimum: Some(1),
                maximum: Some(3),
                gettable: g,
                patchable: p,
                postable: c,
                ..FieldFacts::default()
            },
        );
    };
    add("ro", true, false, false);
    add("secret", false, true, true);
    add("create_only", true, false, true);
    add("patch_only", true, true, false);
    f.fields.insert(
        "mode.kind".into(),
        FieldFacts {
            ty: "string".into(),
            nullable: true,
            enum_values: Some(vec![json!("a"), json!("b")]),
            gettable: true,
            patchable: true,
            postable: true,
            ..FieldFacts::default()
        },
    );
    let s = load(f);
    let r = s.resource("thing").unwrap();
    let get = |p: &str| r.field(p).unwrap();
    assert!(get("ro").flags.read_only && get("ro").patch_rejected());
    assert!(get("secret").flags.write_only && !get("secret").gettable());
    assert!(get("create_only").flags.patch_forbidden && get("create_only").postable());
    assert!(get("patch_only").flags.post_forbidden && get("patch_only").patchable());
    assert_eq!((get("ro").minimum, get("ro").maximum), (Some(1), Some(3)));
    let kind = get("mode.kind");
    assert_eq!(kind.enum_values, [json!("a"), json!("b")]);
    assert!(kind.nullable);
    assert!(kind.accepts(&Value::Null) && kind.accepts(&json!("a")));
    assert!(!kind.accepts(&json!("c")));
    assert!(
        !get("ro").accepts(&Value::Null),
        "not nullable: null is refused"
    );
    // the compiled schema agrees with the flattened field
    assert!(s.is_valid("thing", &json!({"mode": {"kind": null}, "comment": null})));
    assert!(!s.is_valid("thing", &json!({"mode": {"kind": "c"}})));
    assert!(!s.is_valid("thing", &json!({"comment": "01234567890"})));
    assert!(!s.is_valid("thing", &json!({"ro": 4})));
    // nothing invented: no documented error code, no rule
    for e in &s.endpoints {
        assert!(e.def.rules.is_empty());
        for m in e.def.methods.values() {
            assert!(m.errors.is_empty());
        }
    }
    // a key that is patchable in the source is never exercised
    let mut f = fam(
        "/api/things",
        &["uuid"],
        &["get_collection", "get", "patch"],
    );
    f.fields.get_mut("uuid").unwrap().patchable = true;
    let s = load(f);
    let uuid = s.resource("thing").unwrap().field("uuid").unwrap();
    assert!(uuid.flags.key && uuid.flags.patch_untested && !uuid.patchable());
}

#[test]
fn a_key_the_record_does_not_list_is_kept_as_a_field() {
    let mut f = fam(
        "/api/svm/{svm.uuid}/things",
        &["svm.uuid", "name"],
        &["get_collection", "get"],
    );
    f.fields.remove("svm.uuid");
    let s = load(f);
    let k = s.resource("thing").unwrap().field("svm.uuid").unwrap();
    assert!(k.flags.key);
    assert!(s.is_valid("thing", &json!({"svm": {"uuid": "x"}})));
}

#[test]
fn a_key_naming_an_object_leaves_the_record_path_out() {
    let mut f = fam(
        "/api/switch/ports",
        &["switch", "name"],
        &["get_collection", "get"],
    );
    f.fields.insert(
        "switch.name".into(),
        FieldFacts {
            ty: "string".into(),
            gettable: true,
            ..FieldFacts::default()
        },
    );
    let c = Contract {
        source: "t".into(),
        version: "1".into(),
        families: vec![f],
    };
    let (files, left_out) = to_files(&c);
    assert_eq!(left_out.len(), 1, "{left_out:?}");
    assert!(left_out[0].contains("key switch names an object"));
    let s = Spec::from_files("t", files).unwrap();
    assert_eq!(s.endpoints.len(), 1);
    assert_eq!(s.endpoints[0].kind(), Kind::Collection);
}

#[test]
fn globs() {
    assert!(glob_match("volume*", "volume_efficiency_policy"));
    assert!(glob_match("*snap*", "snapshot"));
    assert!(glob_match("s?m", "svm"));
    assert!(!glob_match("volume", "volumes"));
    assert!(!glob_match("a*b", "acd"));
}

#[test]
fn every_shipped_release_loads() {
    let mut last = 0;
    for r in releases::RELEASES {
        let c = r.contract();
        assert_eq!(
            short_version(&c.version),
            r.name.trim_start_matches("ontap-")
        );
        let s = Spec::contract(r.name).unwrap_or_else(|e| panic!("{}: {e}", r.name));
        assert!(
            s.endpoints.len() > 150,
            "{}: {} endpoints",
            r.name,
            s.endpoints.len()
        );
        last = c.families.len();
    }
    assert_eq!(last, 331, "netapp-ontap 9.19.1.0 has 331 resource classes");
    assert_eq!(releases::find("ontap-latest").unwrap().name, "ontap-9.19");
    assert_eq!(releases::find("ontap-9.16.1.0").unwrap().name, "ontap-9.16");
    assert!(releases::find("ontap-9.11").is_none());
}
