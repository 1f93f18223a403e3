//! The reference mock over HTTP: ONTAP's query conventions, PATCH/POST/DELETE semantics and error
//! codes, roles, version gates, bad input, state persistence, and one check per fault switch
//! proving it breaks the rule it names (and that the default keeps it). These reach the mock
//! in-process (its axum router, `common::mock_client::App`); plain HTTP, shutdown and a PEM
//! certificate pair are served on a loopback socket.

mod common;

use base64::Engine;
use common::bin::Run;
use common::mock_client::{App, CLUSTER, DUO, MSGS, Resp, SVM1, SVM2, SVM3, TOTP};
use ontap_conform::mock::{self, Fault, MockConfig, Tls};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The mock with `cfg`, in-process.
async fn start_with(cfg: MockConfig) -> App {
    common::mock_client::app(cfg)
}

async fn start() -> App {
    start_with(MockConfig::new()).await
}

async fn start_faulty(f: Fault) -> App {
    let mut cfg = MockConfig::new();
    cfg.faults = BTreeSet::from([f]);
    start_with(cfg).await
}

impl App {
    /// `method` on `path` as `user` (or nobody, Basic auth), with these body bytes sent as JSON
    /// and this `Accept` header; every error answer must carry the envelope.
    async fn raw(
        &self,
        method: &str,
        path: &str,
        user: Option<(&str, &str)>,
        body: Option<Vec<u8>>,
        accept: Option<&str>,
    ) -> Resp {
        let mut headers = Vec::new();
        if let Some((u, p)) = user {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            headers.push(("authorization", format!("Basic {token}")));
        }
        if let Some(a) = accept {
            headers.push(("accept", a.to_string()));
        }
        if body.is_some() {
            headers.push(("content-type", "application/json".to_string()));
        }
        let r = self.send(method, path, &headers, body).await;
        r.assert_envelope(method, path);
        r
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.raw(
            method,
            path,
            Some(("admin", "netapp1!")),
            body.map(|b| serde_json::to_vec(&b).unwrap()),
            None,
        )
        .await
    }

    async fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None).await
    }

    async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call("PATCH", path, Some(body)).await
    }

    async fn as_vsadmin(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.raw(
            method,
            path,
            Some(("vsadmin", "netapp1!")),
            body.map(|b| serde_json::to_vec(&b).unwrap()),
            None,
        )
        .await
    }
}

fn code(r: &Resp) -> String {
    match &r.body["error"]["code"] {
        Value::String(s) => s.clone(),
        other => format!("<not a string: {other}>"),
    }
}

fn target(r: &Resp) -> &str {
    r.body["error"]["target"].as_str().unwrap_or("")
}

fn records(r: &Resp) -> &Vec<Value> {
    r.body["records"]
        .as_array()
        .unwrap_or_else(|| panic!("no records: {}", r.body))
}

fn uuids(r: &Resp) -> Vec<String> {
    records(r)
        .iter()
        .map(|x| x["uuid"].as_str().unwrap_or("").to_string())
        .collect()
}

fn keys_of(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn sha256_hex(s: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, s.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn msg(uuid: &str) -> String {
    format!("{MSGS}/{uuid}")
}

// ---------------------------------------------------------------------------------------------
// Discovery, fields, HAL

#[tokio::test]
async fn discovery_endpoints() {
    let c = start().await;
    let r = c.get("/api/cluster").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["name"], "cluster-1");
    assert_eq!(r.body["uuid"], CLUSTER);
    assert_eq!(r.body["version"]["generation"], 9);
    assert_eq!(r.body["version"]["major"], 14);
    assert_eq!(r.body["version"]["minor"], 1);
    let r = c.get("/api/cluster?fields=version").await;
    assert!(r.body.get("version").is_some() && r.body.get("name").is_none());

    let r = c.get("/api/svm/svms").await;
    let names: Vec<&str> = records(&r)
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["svm1", "svm2", "svm3"]);
    assert_eq!(r.body["num_records"], 3);
    let r = c.get("/api/svm/svms?name=svm2").await;
    assert_eq!(records(&r).len(), 1);
    assert_eq!(records(&r)[0]["uuid"], SVM2);

    let r = c.get("/api/security/accounts?fields=*").await;
    let accs = records(&r);
    assert!(
        accs.iter()
            .any(|a| a["name"] == "admin" && a["owner"]["uuid"] == CLUSTER && a["role"] == "admin")
    );
    assert!(
        accs.iter()
            .any(|a| a["name"] == "vsadmin" && a["owner"]["name"] == "svm1")
    );

    // The SVM administrator sees its own SVM only.
    let r = c.as_vsadmin("GET", "/api/svm/svms", None).await;
    assert_eq!(records(&r).len(), 1);
    assert_eq!(records(&r)[0]["name"], "svm1");
}

#[tokio::test]
async fn collection_defaults_and_hal_links() {
    let c = start().await;
    let r = c.get(MSGS).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["num_records"], 4);
    // Doc order, the store's insertion order.
    assert_eq!(uuids(&r), [CLUSTER, SVM1, SVM3, SVM2]);
    for rec in records(&r) {
        assert_eq!(keys_of(rec), set(&["uuid", "_links"]));
        assert_eq!(
            rec["_links"]["self"]["href"],
            format!("{MSGS}/{}", rec["uuid"].as_str().unwrap())
        );
    }
    assert!(r.body["_links"]["self"]["href"].is_string());
    assert_eq!(
        r.headers["content-type"].to_str().unwrap(),
        "application/hal+json"
    );

    // Plain JSON: no self links, only next.
    let admin = Some(("admin", "netapp1!"));
    let r = c
        .raw(
            "GET",
            &format!("{MSGS}?max_records=1"),
            admin,
            None,
            Some("application/json"),
        )
        .await;
    assert_eq!(records(&r)[0].get("_links"), None);
    assert!(r.body["_links"].get("self").is_none());
    assert!(r.body["_links"]["next"]["href"].is_string());
    // Accept */* is HAL.
    let r = c.raw("GET", MSGS, admin, None, Some("*/*")).await;
    assert!(records(&r)[0].get("_links").is_some());

    // Duo collection without fields: the key object whole, nothing else.
    let r = c.get(DUO).await;
    for rec in records(&r) {
        assert_eq!(keys_of(rec), set(&["owner", "_links"]));
        assert!(rec["owner"]["uuid"].is_string());
    }
}

#[tokio::test]
async fn fields_selection() {
    let c = start().await;
    // The doc example: ?scope=cluster&fields=banner gives uuid, scope, banner, _links.
    let r = c.get(&format!("{MSGS}?scope=cluster&fields=banner")).await;
    assert_eq!(records(&r).len(), 1);
    assert_eq!(
        keys_of(&records(&r)[0]),
        set(&["uuid", "scope", "banner", "_links"])
    );

    // fields=* gives every gettable field that has a value.
    let r = c.get(&format!("{MSGS}?fields=*")).await;
    let cl = &records(&r)[0];
    assert_eq!(
        keys_of(cl),
        set(&[
            "uuid",
            "scope",
            "banner",
            "message",
            "show_cluster_message",
            "_links"
        ])
    );
    let svm2 = records(&r).iter().find(|x| x["uuid"] == SVM2).unwrap();
    assert_eq!(keys_of(svm2), set(&["uuid", "scope", "svm", "_links"]));
    let r2 = c.get(&format!("{MSGS}?fields=**")).await;
    assert_eq!(r.body["records"], r2.body["records"]);

    // Instance GET without fields: every gettable field with a value.
    let r = c.get(&msg(SVM1)).await;
    assert_eq!(
        keys_of(&r.body),
        set(&[
            "uuid",
            "scope",
            "svm",
            "message",
            "show_cluster_message",
            "_links"
        ])
    );
    let r = c.get(&format!("{}?fields=message", msg(SVM1))).await;
    assert_eq!(keys_of(&r.body), set(&["uuid", "message", "_links"]));

    // Unknown field: 262197 on fields.
    let r = c.get(&format!("{MSGS}?fields=banner,colour")).await;
    assert_eq!(
        (r.status, code(&r).as_str(), target(&r)),
        (400, "262197", "fields")
    );
}

// ---------------------------------------------------------------------------------------------
// Filters, order, paging

async fn count(c: &App, q: &str) -> Vec<String> {
    let r = c.get(&format!("{MSGS}?{q}")).await;
    assert_eq!(r.status, 200, "{q}: {}", r.body);
    assert_eq!(
        r.body["num_records"].as_u64().unwrap() as usize,
        records(&r).len()
    );
    uuids(&r)
}

#[tokio::test]
async fn filters_every_operator() {
    let c = start().await;
    assert_eq!(count(&c, "scope=cluster").await, [CLUSTER]);
    assert_eq!(count(&c, "svm.name=svm1").await, [SVM1]);
    assert_eq!(
        count(&c, "svm.name=SVM1").await,
        Vec::<String>::new(),
        "case-sensitive"
    );
    assert_eq!(count(&c, "svm.name=svm*").await, [SVM1, SVM3, SVM2]);
    assert_eq!(count(&c, "svm.name=*3").await, [SVM3]);
    assert_eq!(count(&c, "svm.name=svm1|svm2").await, [SVM1, SVM2]);
    // Negation excludes the unset field of the cluster record.
    assert_eq!(count(&c, "svm.name=!svm1").await, [SVM3, SVM2]);
    assert_eq!(count(&c, "banner=null").await, [SVM1, SVM2]);
    assert_eq!(count(&c, "banner=!null").await, [CLUSTER, SVM3]);
    assert_eq!(count(&c, "banner=!*authorized*").await, [CLUSTER]);
    assert_eq!(
        count(&c, "banner=*authorized*|null").await,
        [SVM1, SVM3, SVM2]
    );
    assert_eq!(
        count(&c, "show_cluster_message=true").await,
        [CLUSTER, SVM1]
    );
    assert_eq!(
        count(&c, "show_cluster_message=false").await,
        Vec::<String>::new()
    );
    assert_eq!(count(&c, "scope=svm&svm.name=svm2").await, [SVM2]);
    // Percent-encoded spaces in a filter value.
    assert_eq!(
        count(
            &c,
            "message=%23%23%23%23%20Welcome%20to%20SVM1%20%23%23%23%23%0A"
        )
        .await,
        [SVM1]
    );
    // A filter field comes back in the records.
    let r = c.get(&format!("{MSGS}?svm.name=svm1")).await;
    assert_eq!(records(&r)[0]["svm"]["name"], "svm1");

    // Numbers: give the Duo profiles different max_prompts first.
    assert_eq!(
        c.patch(&format!("{DUO}/{SVM1}"), json!({"max_prompts": 3}))
            .await
            .status,
        200
    );
    let duo = |q: &'static str| {
        let c = &c;
        async move {
            let r = c.get(&format!("{DUO}?{q}")).await;
            assert_eq!(r.status, 200, "{q}: {}", r.body);
            records(&r)
                .iter()
                .map(|x| x["owner"]["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(duo("max_prompts=3").await, ["svm1"]);
    assert_eq!(duo("max_prompts=<3").await, ["cluster-1"]);
    assert_eq!(duo("max_prompts=<=3").await, ["svm1", "cluster-1"]);
    assert_eq!(duo("max_prompts=>1").await, ["svm1"]);
    assert_eq!(duo("max_prompts=>=1").await, ["svm1", "cluster-1"]);
    assert_eq!(duo("max_prompts=2..3").await, ["svm1"]);
    assert_eq!(duo("max_prompts=1..1").await, ["cluster-1"]);
    assert_eq!(duo("max_prompts=!3").await, ["cluster-1"]);
    assert_eq!(duo("owner.name=cluster-1").await, ["cluster-1"]);
    assert_eq!(duo("http_proxy=null").await, ["cluster-1"]);
    // Booleans on TOTP.
    let r = c.get(&format!("{TOTP}?enabled=false")).await;
    assert_eq!(records(&r).len(), 1);
    assert_eq!(records(&r)[0]["account"]["name"], "bob.jones");
    assert_eq!(records(&r)[0]["enabled"], false);
}

#[tokio::test]
async fn order_by() {
    let c = start().await;
    // Unset first when ascending.
    assert_eq!(
        count(&c, "order_by=svm.name").await,
        [CLUSTER, SVM1, SVM2, SVM3]
    );
    assert_eq!(
        count(&c, "order_by=svm.name%20asc").await,
        [CLUSTER, SVM1, SVM2, SVM3]
    );
    assert_eq!(
        count(&c, "order_by=svm.name+desc").await,
        [SVM3, SVM2, SVM1, CLUSTER]
    );
    assert_eq!(
        count(&c, "order_by=uuid%20desc").await,
        [SVM2, SVM3, SVM1, CLUSTER]
    );
    assert_eq!(
        count(&c, "order_by=scope%20desc,uuid%20desc").await,
        [SVM2, SVM3, SVM1, CLUSTER]
    );
    assert_eq!(
        count(&c, "order_by=scope,svm.name%20desc").await,
        [CLUSTER, SVM3, SVM2, SVM1]
    );
    let r = c.get(&format!("{MSGS}?order_by=colour")).await;
    assert_eq!(
        (r.status, code(&r).as_str(), target(&r)),
        (400, "262197", "order_by")
    );
    let r = c.get(&format!("{MSGS}?order_by=uuid%20sideways")).await;
    assert_eq!((r.status, target(&r)), (400, "order_by"));
}

/// Follows next links from `first`, returning each page.
async fn pages(c: &App, first: &str) -> Vec<Resp> {
    let mut out = Vec::new();
    let mut path = first.to_string();
    for _ in 0..20 {
        let r = c.get(&path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let next = r.body["_links"]["next"]["href"].as_str().map(String::from);
        out.push(r);
        match next {
            Some(n) => path = n,
            None => return out,
        }
    }
    panic!("more than 20 pages from {first}");
}

#[tokio::test]
async fn paging_with_next_links() {
    let c = start().await;
    for n in 1..=5 {
        let ps = pages(&c, &format!("{MSGS}?max_records={n}")).await;
        let all: Vec<String> = ps.iter().flat_map(uuids).collect();
        assert_eq!(all, [CLUSTER, SVM1, SVM3, SVM2], "max_records={n}");
        for (i, p) in ps.iter().enumerate() {
            assert!(records(p).len() <= n);
            assert_eq!(
                p.body["num_records"].as_u64().unwrap() as usize,
                records(p).len()
            );
            assert_eq!(p.body["_links"].get("next").is_some(), i + 1 < ps.len());
        }
        assert_eq!(ps.len(), 4usize.div_ceil(n));
    }
    // Filters, fields and order survive the next link.
    let ps = pages(
        &c,
        &format!("{MSGS}?svm.name=svm*&fields=banner&order_by=svm.name%20desc&max_records=1"),
    )
    .await;
    let all: Vec<String> = ps.iter().flat_map(uuids).collect();
    assert_eq!(all, [SVM3, SVM2, SVM1]);
    for p in &ps {
        for r in records(p) {
            assert!(r.get("message").is_none() && r["svm"]["name"].is_string());
        }
    }
}

/// The records of every page from `first` on (next links followed to the end).
async fn walk(c: &App, first: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut path = first.to_string();
    for _ in 0..1000 {
        let r = c.get(&path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        out.extend(records(&r).iter().cloned());
        match r.body["_links"]["next"]["href"].as_str() {
            Some(n) => path = n.to_string(),
            None => return out,
        }
    }
    panic!("more than 1000 pages from {first}");
}

/// A paged walk answers what one unpaged query answers, in order, whether the mock lists the
/// records again for every page or keeps the listing of the walk's first page: with a filter and
/// `order_by`, on a catalog family and on a discovery collection, at page sizes that do and do
/// not divide the records. And a change of the store between two pages is seen by the next page
/// exactly as a fresh listing shows it (the positions of the listing as it is now).
#[tokio::test]
async fn a_paged_walk_answers_what_one_query_answers_and_sees_changes() {
    let mut cfg = MockConfig::new();
    cfg.fixtures = Some(mock::scale::builtin_with_svms(40));
    let c = start_with(cfg).await;
    let queries = [
        "/api/security/login/totps?enabled=true&order_by=owner.uuid%20desc&fields=comment",
        "/api/security/login/totps?comment=TOTP*&order_by=account.name,owner.uuid%20desc",
        "/api/security/login/messages?scope=svm&order_by=svm.name%20desc&fields=message",
        "/api/security/accounts?name=user1|user3&order_by=owner.name%20desc",
        "/api/svm/svms?name=scale*&order_by=name%20desc",
    ];
    for q in queries {
        let whole = records(&c.get(q).await).clone();
        assert!(whole.len() > 10, "{q}: {} records", whole.len());
        for m in [1, 7, whole.len(), whole.len() + 1] {
            let paged = walk(&c, &format!("{q}&max_records={m}")).await;
            assert_eq!(paged, whole, "{q} in pages of {m}");
        }
        // Counted a page at a time under return_records=false: every record once.
        let r = c.get(&format!("{q}&return_records=false")).await;
        assert_eq!(r.body["num_records"].as_u64(), Some(whole.len() as u64));
    }

    // A change between two pages: the first page of a walk is read (its listing kept), then a
    // record ahead of the walk's position is deleted and another changed; the second page is the
    // one a fresh listing gives at that position, with the change shown.
    let q = "/api/security/login/totps?enabled=true&order_by=owner.uuid%20desc&fields=comment";
    let first = c.get(&format!("{q}&max_records=5")).await;
    let next = first.body["_links"]["next"]["href"]
        .as_str()
        .unwrap()
        .to_string();
    let firsts = records(&first).clone();
    let gone = &firsts[0];
    let gone_path = format!(
        "{TOTP}/{}/{}",
        gone["owner"]["uuid"].as_str().unwrap(),
        gone["account"]["name"].as_str().unwrap()
    );
    assert_eq!(c.call("DELETE", &gone_path, None).await.status, 200);
    let whole = records(&c.get(q).await).clone();
    let changed = &whole[7];
    let changed_path = format!(
        "{TOTP}/{}/{}",
        changed["owner"]["uuid"].as_str().unwrap(),
        changed["account"]["name"].as_str().unwrap()
    );
    let r = c
        .patch(&changed_path, json!({"comment": "changed mid-walk"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let second = c.get(&next).await;
    let want: Vec<Value> = records(&c.get(q).await)[5..10].to_vec();
    assert_eq!(records(&second), &want);
    assert!(
        records(&second)
            .iter()
            .any(|r| r["comment"] == "changed mid-walk"),
        "{}",
        second.body
    );
}

#[tokio::test]
async fn return_records_false_counts() {
    let c = start().await;
    let r = c.get(&format!("{MSGS}?return_records=false")).await;
    assert_eq!(r.body["num_records"], 4);
    assert!(r.body.get("records").is_none());
    let r = c
        .get(&format!("{MSGS}?return_records=false&scope=svm"))
        .await;
    assert_eq!(r.body["num_records"], 3);
    let r = c
        .get(&format!("{MSGS}?return_records=true&scope=svm"))
        .await;
    assert_eq!(records(&r).len(), 3);
}

#[tokio::test]
async fn query_parameter_checks() {
    let c = start().await;
    let r = c.get(&format!("{MSGS}?colour=red")).await;
    assert_eq!(
        (r.status, code(&r).as_str(), target(&r)),
        (400, "262179", "colour")
    );
    assert_eq!(
        r.body["error"]["message"],
        "Unexpected argument \"colour\"."
    );
    for (q, t) in [
        ("return_timeout=121", "return_timeout"),
        ("return_timeout=-1", "return_timeout"),
        ("return_timeout=abc", "return_timeout"),
        ("max_records=-1", "max_records"),
        ("max_records=x", "max_records"),
        ("return_records=maybe", "return_records"),
    ] {
        let r = c.get(&format!("{MSGS}?{q}")).await;
        assert_eq!(
            (r.status, code(&r).as_str(), target(&r)),
            (400, "262197", t),
            "{q}"
        );
    }
    let r = c.get(&format!("{MSGS}?return_timeout=120")).await;
    assert_eq!(r.status, 200);
    // A filter is not a parameter of an instance GET.
    let r = c.get(&format!("{}?scope=svm", msg(SVM1))).await;
    assert_eq!((r.status, code(&r).as_str()), (400, "262179"));
}

/// A boolean filter whose value no boolean can have is refused, a word (`xyz`) or a pattern
/// neither `true` nor `false` matches (`xy*z`) alike: 400, code 262197, the field as target
/// (ONTAP-BEHAVIOR.md section 3). A pattern a boolean can match filters.
#[tokio::test]
async fn a_boolean_filter_no_boolean_can_match_is_refused() {
    let c = start().await;
    let field = "show_cluster_message";
    let refused = c.get(&format!("{MSGS}?{field}=xyz")).await;
    assert_eq!(
        (refused.status, code(&refused).as_str(), target(&refused)),
        (400, "262197", field)
    );
    for v in [
        "xy*z",
        "!xy*z",
        "true|xy*z",
        "*x*",
        "tru*x",
        "t*f",
        "false*e",
    ] {
        let q = percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC);
        let r = c.get(&format!("{MSGS}?{field}={q}")).await;
        assert_eq!(
            (r.status, code(&r).as_str(), target(&r)),
            (400, "262197", field),
            "{v}: {}",
            r.body
        );
        let shape = |r: &Resp| {
            let mut keys: Vec<String> = r.body["error"]
                .as_object()
                .expect("an error object")
                .keys()
                .cloned()
                .collect();
            keys.sort();
            keys
        };
        assert_eq!(shape(&r), shape(&refused), "{v}: {}", r.body);
    }
    let count = |v: &'static str| {
        let c = &c;
        async move {
            let q = percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC);
            let r = c.get(&format!("{MSGS}?fields={field}&{field}={q}")).await;
            assert_eq!(r.status, 200, "{v}: {}", r.body);
            records(&r)
                .iter()
                .map(|x| x[field].as_bool().expect("a boolean"))
                .collect::<Vec<bool>>()
        }
    };
    let set = count("*").await;
    let trues = count("t*").await;
    let falses = count("f*l*").await;
    assert!(trues.iter().all(|b| *b) && falses.iter().all(|b| !*b));
    assert!(!trues.is_empty(), "{set:?}");
    assert_eq!(trues.len() + falses.len(), set.len());
    assert_eq!(count("*e").await.len(), set.len());
}

// ---------------------------------------------------------------------------------------------
// PATCH

#[tokio::test]
async fn patch_rejections_and_codes() {
    let c = start().await;
    let cases = [
        (msg(CLUSTER), json!({"uuid": "x"}), "262196", "uuid"),
        (msg(CLUSTER), json!({"scope": "svm"}), "262196", "scope"),
        (
            msg(SVM1),
            json!({"svm": {"name": "svm9"}}),
            "262196",
            "svm.name",
        ),
        (
            msg(SVM1),
            json!({"_links": {"self": {"href": "/x"}}}),
            "262196",
            "_links.self.href",
        ),
        (
            format!("{DUO}/{CLUSTER}"),
            json!({"owner": {"name": "x"}}),
            "262196",
            "owner.name",
        ),
        (
            format!("{DUO}/{CLUSTER}"),
            json!({"owner": {"uuid": SVM1}}),
            "262196",
            "owner.uuid",
        ),
        (
            format!("{DUO}/{CLUSTER}"),
            json!({"fingerprint": "abc"}),
            "262196",
            "fingerprint",
        ),
        (
            format!("{DUO}/{CLUSTER}"),
            json!({"status": "down"}),
            "262196",
            "status",
        ),
        (
            format!("{TOTP}/{SVM1}/joe.smith"),
            json!({"scope": "cluster"}),
            "262196",
            "scope",
        ),
        (
            format!("{TOTP}/{SVM1}/joe.smith"),
            json!({"sha_fingerprint": "x"}),
            "262196",
            "sha_fingerprint",
        ),
        (
            format!("{TOTP}/{SVM1}/joe.smith"),
            json!({"owner": {"name": "svm2"}}),
            "262196",
            "owner.name",
        ),
        (msg(CLUSTER), json!({"colour": "red"}), "262179", "colour"),
        (msg(CLUSTER), json!({"banner": 5}), "262197", "banner"),
        (msg(CLUSTER), json!({"banner": null}), "262197", "banner"),
        (
            msg(CLUSTER),
            json!({"banner": {"x": 1}}),
            "262197",
            "banner",
        ),
        (
            msg(CLUSTER),
            json!({"show_cluster_message": "yes"}),
            "262197",
            "show_cluster_message",
        ),
        (
            msg(CLUSTER),
            json!({"banner": "x".repeat(2049)}),
            "262197",
            "banner",
        ),
        (
            format!("{DUO}/{CLUSTER}"),
            json!({"fail_mode": "open"}),
            "262197",
            "fail_mode",
        ),
        (
            format!("{DUO}/{CLUSTER}"),
            json!({"max_prompts": 4}),
            "262197",
            "max_prompts",
        ),
        (
            format!("{DUO}/{CLUSTER}"),
            json!({"max_prompts": 0}),
            "262197",
            "max_prompts",
        ),
        (
            format!("{DUO}/{CLUSTER}"),
            json!({"max_prompts": 1.5}),
            "262197",
            "max_prompts",
        ),
        (
            format!("{DUO}/{CLUSTER}"),
            json!({"owner": "cluster-1"}),
            "262197",
            "owner",
        ),
        // TOTP documents its own code for a bad enabled value.
        (
            format!("{TOTP}/{SVM1}/joe.smith"),
            json!({"enabled": "yes"}),
            "144834565",
            "enabled",
        ),
    ];
    for (path, body, want_code, want_target) in cases {
        let r = c.patch(&path, body.clone()).await;
        assert_eq!(
            (r.status, code(&r).as_str(), target(&r)),
            (400, want_code, want_target),
            "PATCH {path} {body}: {}",
            r.body
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    assert_eq!(
        c.patch(&msg(CLUSTER), json!({"scope": "svm"})).await.body["error"]["message"],
        "Field \"scope\" cannot be set in this operation."
    );
    // Nothing above changed anything.
    let after = c.get(&format!("{MSGS}?fields=*")).await;
    assert_eq!(
        records(&after)[0]["banner"],
        "*** WARNING: DO NOT PROCEED IF YOU ARE NOT AUTHORIZED! ****\n"
    );
    let duo = c.get(&format!("{DUO}/{CLUSTER}")).await;
    assert_eq!(duo.body["max_prompts"], 1);
    assert_eq!(duo.body["fail_mode"], "safe");

    // Missing records: 404 code 4 (TOTP PATCH documents 144834566).
    let r = c
        .patch(
            &msg("00000000-0000-0000-0000-000000000000"),
            json!({"banner": "x"}),
        )
        .await;
    assert_eq!((r.status, code(&r).as_str()), (404, "4"));
    assert_eq!(r.body["error"]["message"], "entry doesn't exist");
    let r = c.get(&format!("{DUO}/{SVM3}")).await;
    assert_eq!((r.status, code(&r).as_str()), (404, "4"));
    let r = c
        .patch(
            &format!("{TOTP}/{CLUSTER}/monitor"),
            json!({"comment": "x"}),
        )
        .await;
    assert_eq!((r.status, code(&r).as_str()), (404, "144834566"));
}

#[tokio::test]
async fn patch_applies_and_rejected_patch_changes_nothing() {
    let c = start().await;
    let r = c
        .patch(&msg(SVM2), json!({"banner": "hello", "message": "motd"}))
        .await;
    assert_eq!((r.status, &r.body), (200, &json!({})));
    let g = c.get(&msg(SVM2)).await;
    assert_eq!(
        (g.body["banner"].as_str(), g.body["message"].as_str()),
        (Some("hello\n"), Some("motd\n"))
    );

    // One bad field: the good one is not stored either.
    let r = c
        .patch(&msg(SVM2), json!({"banner": "changed", "scope": "cluster"}))
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .patch(&msg(SVM2), json!({"message": "changed", "banner": 7}))
        .await;
    assert_eq!(r.status, 400);
    let g = c.get(&msg(SVM2)).await;
    assert_eq!(
        (g.body["banner"].as_str(), g.body["message"].as_str()),
        (Some("hello\n"), Some("motd\n"))
    );

    // Duo PATCH of every patchable field.
    let body = json!({"api_host": "api-new.duo.com", "auto_push": false, "comment": "c", "fail_mode": "secure",
        "http_proxy": "proxy:3128", "integration_key": "IK2", "is_enabled": false, "max_prompts": 2, "push_info": false});
    assert_eq!(
        c.patch(&format!("{DUO}/{CLUSTER}"), body.clone())
            .await
            .status,
        200
    );
    let g = c.get(&format!("{DUO}/{CLUSTER}")).await;
    for (k, v) in body.as_object().unwrap() {
        assert_eq!(&g.body[k], v, "{k}");
    }
    // TOTP account.name equal to the path key is accepted; a different one is not.
    let r = c
        .patch(
            &format!("{TOTP}/{SVM1}/joe.smith"),
            json!({"account": {"name": "joe.smith"}, "comment": "ok"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = c
        .patch(
            &format!("{TOTP}/{SVM1}/joe.smith"),
            json!({"account": {"name": "other"}}),
        )
        .await;
    assert_eq!((r.status, code(&r).as_str()), (400, "262196"));
}

#[tokio::test]
async fn crlf_returned_as_lf_and_empty_unsets() {
    let c = start().await;
    let r = c
        .patch(
            &msg(SVM1),
            json!({"banner": "line1\r\nline2\r\n", "message": "a\r\nb"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let g = c.get(&msg(SVM1)).await;
    assert_eq!(g.body["banner"], "line1\nline2\n");
    assert_eq!(
        g.body["message"], "a\nb\n",
        "CRLF as LF, and the trailing LF appended"
    );
    // The doc's example: "" restores the default.
    assert_eq!(
        c.patch(&msg(SVM1), json!({"banner": "", "message": ""}))
            .await
            .status,
        200
    );
    let g = c.get(&msg(SVM1)).await;
    assert!(g.body.get("banner").is_none_or(|b| b == ""));
    assert!(g.body.get("message").is_none_or(|b| b == ""));
    // Length counts after normalisation: 1024 CRLF pairs become 2048 characters.
    let r = c
        .patch(
            &msg(SVM1),
            json!({"banner": "\r\n\r\n".repeat(512) + &"x".repeat(1024)}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn collection_patch_with_filters() {
    let c = start().await;
    let r = c
        .patch(&format!("{MSGS}?scope=svm"), json!({"message": "all svms"}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["num_records"], 3);
    assert!(r.body["_links"]["self"]["href"].is_string());
    let g = c.get(&format!("{MSGS}?fields=message")).await;
    let got: Vec<Option<&str>> = records(&g).iter().map(|x| x["message"].as_str()).collect();
    assert_eq!(
        got,
        [
            Some("#### Welcome to Cluster X ####\n"),
            // ONTAP appends the trailing LF a message lacks (ONTAP-BEHAVIOR.md §2).
            Some("all svms\n"),
            Some("all svms\n"),
            Some("all svms\n")
        ]
    );
    let r = c
        .patch(&format!("{MSGS}?svm.name=svm1"), json!({"banner": "b1"}))
        .await;
    assert_eq!(r.body["num_records"], 1);
    let r = c
        .patch(&format!("{MSGS}?svm.name=nope"), json!({"banner": "b1"}))
        .await;
    assert_eq!((r.status, &r.body["num_records"]), (200, &json!(0)));
    // A rejected collection PATCH changes no record.
    let r = c
        .patch(
            &format!("{MSGS}?scope=svm"),
            json!({"message": "x", "scope": "cluster"}),
        )
        .await;
    assert_eq!((r.status, code(&r).as_str()), (400, "262196"));
    let g = c.get(&format!("{MSGS}?fields=message&scope=svm")).await;
    assert!(records(&g).iter().all(|x| x["message"] == "all svms\n"));
}

#[tokio::test]
async fn secret_key_never_returned_and_fingerprint_derived() {
    let c = start().await;
    let path = format!("{DUO}/{CLUSTER}");
    let before = c.get(&path).await.body["fingerprint"].clone();
    let r = c
        .patch(&path, json!({"secret_key": "new-secret-123"}))
        .await;
    assert_eq!(r.status, 200);
    for q in [
        "",
        "?fields=*",
        "?fields=**",
        "?fields=secret_key",
        "?fields=secret_key,comment",
    ] {
        let g = c.get(&format!("{path}{q}")).await;
        assert_eq!(g.status, 200, "{q}");
        assert!(g.body.get("secret_key").is_none(), "{q}: {}", g.body);
    }
    for q in ["?fields=*", "?fields=secret_key", ""] {
        let g = c.get(&format!("{DUO}{q}")).await;
        assert!(
            records(&g).iter().all(|r| r.get("secret_key").is_none()),
            "{q}"
        );
    }
    let after = c.get(&path).await.body["fingerprint"].clone();
    assert_ne!(before, after);
    assert_eq!(after, sha256_hex("new-secret-123"));
    // Filtering on a secret is not allowed either.
    let r = c.get(&format!("{DUO}?secret_key=new*")).await;
    assert_eq!((r.status, code(&r).as_str()), (400, "262179"));
}

// ---------------------------------------------------------------------------------------------
// Roles and auth

#[tokio::test]
async fn roles() {
    let c = start().await;
    let r = c.as_vsadmin("GET", MSGS, None).await;
    assert_eq!(uuids(&r), [SVM1]);
    let r = c.as_vsadmin("GET", &msg(CLUSTER), None).await;
    assert_eq!((r.status, code(&r).as_str()), (404, "4"));
    let r = c.as_vsadmin("GET", DUO, None).await;
    assert_eq!(records(&r).len(), 1);
    assert_eq!(records(&r)[0]["owner"]["uuid"], SVM1);
    let r = c.as_vsadmin("GET", TOTP, None).await;
    assert!(records(&r).iter().all(|x| x["owner"]["uuid"] == SVM1));

    // Admin-only fields.
    let r = c
        .as_vsadmin(
            "PATCH",
            &msg(SVM1),
            Some(json!({"show_cluster_message": false})),
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str(), target(&r)),
        (403, "6", "show_cluster_message")
    );
    let r = c
        .as_vsadmin(
            "PATCH",
            &format!("{TOTP}/{SVM1}/joe.smith"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!((r.status, code(&r).as_str()), (403, "144834564"));
    // Rejected for the role: nothing stored.
    let r = c
        .as_vsadmin(
            "PATCH",
            &msg(SVM1),
            Some(json!({"message": "m", "show_cluster_message": false})),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(c.get(&msg(SVM1)).await.body["show_cluster_message"], true);
    // Its own SVM's other fields are fine.
    let r = c
        .as_vsadmin(
            "PATCH",
            &msg(SVM1),
            Some(json!({"message": "from vsadmin"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(c.get(&msg(SVM1)).await.body["message"], "from vsadmin\n");
    // Not another SVM's record, even through a collection PATCH.
    let r = c
        .as_vsadmin("PATCH", &msg(SVM2), Some(json!({"message": "x"})))
        .await;
    assert_eq!(r.status, 404);
    let r = c
        .as_vsadmin(
            "PATCH",
            &format!("{MSGS}?scope=svm"),
            Some(json!({"banner": "v"})),
        )
        .await;
    assert_eq!(r.body["num_records"], 1);
    // Not a Duo profile for another owner.
    let r = c
        .as_vsadmin("POST", DUO, Some(json!({"owner": {"uuid": SVM2}, "api_host": "h", "integration_key": "k", "secret_key": "s"})))
        .await;
    assert_eq!((r.status, code(&r).as_str()), (403, "6"));
    // The admin may.
    let r = c
        .patch(&msg(SVM1), json!({"show_cluster_message": false}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(c.get(&msg(SVM1)).await.body["show_cluster_message"], false);
}

#[tokio::test]
async fn authentication() {
    let c = start().await;
    for user in [None, Some(("admin", "wrong")), Some(("nobody", "netapp1!"))] {
        let r = c.raw("GET", MSGS, user, None, None).await;
        assert_eq!(r.status, 401, "{user:?}");
        assert_eq!(
            r.headers["www-authenticate"].to_str().unwrap(),
            "Basic realm=\"ontap-conform mock\""
        );
    }
    let r = c.raw("GET", "/api/nope", None, None, None).await;
    assert_eq!(r.status, 401, "auth comes before routing");
    // Credentials from the config, not hard-coded.
    let mut cfg = MockConfig::new();
    cfg.users[0].password = "s3cret".into();
    let c2 = start_with(cfg).await;
    assert_eq!(
        c2.raw("GET", MSGS, Some(("admin", "netapp1!")), None, None)
            .await
            .status,
        401
    );
    assert_eq!(
        c2.raw("GET", MSGS, Some(("admin", "s3cret")), None, None)
            .await
            .status,
        200
    );
}

// ---------------------------------------------------------------------------------------------
// POST, DELETE, versions, methods

#[tokio::test]
async fn duo_post_get_delete() {
    let c = start().await;
    let body = json!({"owner": {"uuid": SVM2}, "api_host": "api-2.duo.com", "integration_key": "IK", "secret_key": "SK2", "max_prompts": 2});
    let r = c.call("POST", DUO, Some(body.clone())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let loc = r.headers["location"].to_str().unwrap().to_string();
    assert_eq!(loc, format!("{DUO}/{SVM2}"));
    let g = c.get(&loc).await;
    assert_eq!(g.status, 200);
    assert_eq!(g.body["owner"]["name"], "svm2");
    assert_eq!(g.body["fingerprint"], sha256_hex("SK2"));
    assert_eq!(g.body["max_prompts"], 2);
    assert!(g.body.get("secret_key").is_none());
    // Duplicate.
    let r = c.call("POST", DUO, Some(body)).await;
    assert_eq!((r.status, code(&r).as_str()), (409, "1"));
    assert_eq!(
        r.body["error"]["message"],
        "entry with the same identifiers exists"
    );
    // Required fields.
    let r = c
        .call(
            "POST",
            DUO,
            Some(json!({"owner": {"uuid": SVM3}, "api_host": "h", "integration_key": "k"})),
        )
        .await;
    assert_eq!((r.status, target(&r)), (400, "secret_key"));
    // Read-only in a POST body.
    let r = c.call("POST", DUO, Some(json!({"owner": {"uuid": SVM3}, "api_host": "h", "integration_key": "k", "secret_key": "s", "status": "OK"}))).await;
    assert_eq!(
        (r.status, code(&r).as_str(), target(&r)),
        (400, "262196", "status")
    );
    // Unknown owner.
    let r = c.call("POST", DUO, Some(json!({"owner": {"uuid": "nope"}, "api_host": "h", "integration_key": "k", "secret_key": "s"}))).await;
    assert_eq!(
        (r.status, code(&r).as_str(), target(&r)),
        (404, "4", "owner.uuid")
    );
    // return_records=true: the record, still without the write-only secret.
    let r = c
        .call("POST", &format!("{DUO}?return_records=true"), Some(json!({"owner": {"uuid": SVM3}, "api_host": "h", "integration_key": "k", "secret_key": "s3"})))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["num_records"], 1);
    assert_eq!(records(&r)[0]["owner"]["uuid"], SVM3);
    assert!(records(&r)[0].get("secret_key").is_none());
    // Delete.
    let r = c.call("DELETE", &loc, None).await;
    assert_eq!((r.status, &r.body), (200, &json!({})));
    assert_eq!(c.get(&loc).await.status, 404);
    let r = c.call("DELETE", &loc, None).await;
    assert_eq!((r.status, code(&r).as_str()), (404, "4"));
}

/// The mock of the whole 9.19 API, in-process.
async fn start_9_19() -> App {
    let mut cfg = MockConfig::new();
    cfg.spec = ontap_conform::spec::Spec::contract("ontap-9.19").unwrap();
    cfg.version = "9.19.1".parse().unwrap();
    start_with(cfg).await
}

#[tokio::test]
async fn accounts_of_the_9_19_contract() {
    const ACCOUNTS: &str = "/api/security/accounts";
    let c = start_9_19().await;
    let cluster = c.get("/api/cluster?fields=name,uuid").await.body;
    let cluster_uuid = cluster["uuid"].as_str().unwrap().to_string();
    let svm1 = c.get("/api/svm/svms?name=svm1").await;
    let svm1_uuid = records(&svm1)[0]["uuid"].as_str().unwrap().to_string();

    // By the cluster's name (what na_ontap_user sends for a cluster account): both owner fields
    // stored, and what NetApp's client says a POST fills in.
    let body = json!({"name": "oc_user", "owner.name": "cluster-1", "role.name": "readonly",
        "applications": [{"application": "ssh", "authentication_methods": ["password"]}],
        "password": "Pass-word-1"});
    let r = c.call("POST", ACCOUNTS, Some(body.clone())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let loc = format!("{ACCOUNTS}/{cluster_uuid}/oc_user");
    assert_eq!(r.headers["location"].to_str().unwrap(), loc);
    let g = c.get(&loc).await;
    assert_eq!(g.status, 200, "{}", g.body);
    assert_eq!(
        g.body["owner"],
        json!({"name": "cluster-1", "uuid": cluster_uuid})
    );
    assert_eq!(g.body["scope"], "cluster");
    assert_eq!(g.body["role"]["name"], "readonly");
    assert_eq!(g.body["locked"], false);
    assert_eq!(
        g.body["applications"],
        json!([{"application": "ssh", "authentication_methods": ["password"], "second_authentication_method": "none"}])
    );
    assert!(g.body.get("password").is_none(), "{}", g.body);
    let found = c
        .get(&format!("{ACCOUNTS}?name=oc_user&owner.name=cluster-1"))
        .await;
    assert_eq!(found.body["num_records"], 1, "{}", found.body);
    let r = c.call("POST", ACCOUNTS, Some(body)).await;
    assert_eq!((r.status, code(&r).as_str()), (409, "1"), "{}", r.body);

    // No owner: the cluster's; an SVM's by uuid: scope svm and the SVM administrator's role.
    let r = c.call("POST", ACCOUNTS, Some(json!({"name": "oc_nobody", "applications": [{"application": "http", "authentication_methods": ["password"]}]}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let g = c.get(&format!("{ACCOUNTS}/{cluster_uuid}/oc_nobody")).await;
    assert_eq!(
        (g.body["scope"].as_str(), g.body["role"]["name"].as_str()),
        (Some("cluster"), Some("admin")),
        "{}",
        g.body
    );
    let r = c.call("POST", ACCOUNTS, Some(json!({"name": "oc_svm", "owner": {"uuid": svm1_uuid}, "applications": [{"application": "http", "authentication_methods": ["password"]}]}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let g = c.get(&format!("{ACCOUNTS}/{svm1_uuid}/oc_svm")).await;
    assert_eq!(g.body["owner"]["name"], "svm1", "{}", g.body);
    assert_eq!(
        (g.body["scope"].as_str(), g.body["role"]["name"].as_str()),
        (Some("svm"), Some("vsadmin")),
        "{}",
        g.body
    );
    let r = c
        .call(
            "POST",
            ACCOUNTS,
            Some(json!({"name": "oc_x", "owner": {"name": "no-such-svm"}})),
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str(), target(&r)),
        (404, "4", "owner.name")
    );

    // PATCH as na_ontap_user sends it: the path's keys again as query parameters.
    let q = format!("{loc}?name=oc_user&owner.uuid={cluster_uuid}");
    let r = c.patch(&q, json!({"role.name": "admin", "applications": [{"application": "http", "authentication_methods": ["password"]}]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let g = c.get(&loc).await;
    assert_eq!(g.body["role"]["name"], "admin");
    assert_eq!(
        g.body["applications"][0]["second_authentication_method"],
        "none"
    );
    // The same password again is refused; another one is taken.
    let r = c.patch(&q, json!({"password": "Pass-word-1"})).await;
    assert_eq!(
        (r.status, code(&r).as_str(), target(&r)),
        (400, "2", "password")
    );
    assert_eq!(
        r.body["error"]["message"],
        "New password must be different than the old password."
    );
    assert_eq!(
        c.patch(&q, json!({"password": "Pass-word-2"})).await.status,
        200
    );
    // A key with another value than the path's, or another parameter, is still refused.
    let r = c
        .patch(&format!("{loc}?name=someone"), json!({"locked": true}))
        .await;
    assert_eq!(
        (r.status, code(&r).as_str(), target(&r)),
        (400, "262179", "name")
    );
    let r = c
        .patch(&format!("{loc}?comment=x"), json!({"locked": true}))
        .await;
    assert_eq!((r.status, code(&r).as_str()), (400, "262179"));

    let r = c.call("DELETE", &loc, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(c.get(&loc).await.status, 404);
}

#[tokio::test]
async fn totp_post_returns_secrets_once() {
    let c = start().await;
    let r = c
        .call("POST", &format!("{TOTP}?return_records=true"), Some(json!({"owner": {"uuid": CLUSTER}, "account": {"name": "monitor"}, "comment": "new"})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.headers["location"],
        format!("{TOTP}/{CLUSTER}/monitor").as_str()
    );
    let rec = &records(&r)[0];
    let secret = rec["secret_key"]
        .as_str()
        .expect("POST answer carries secret_key")
        .to_string();
    assert!(rec["install_url"].is_string());
    assert!(rec["verification_code"].is_string());
    assert!(
        rec["emergency_codes"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    assert_eq!(rec["scope"], "cluster");
    let g = c.get(&format!("{TOTP}/{CLUSTER}/monitor?fields=*")).await;
    assert_eq!(g.status, 200);
    for k in [
        "secret_key",
        "install_url",
        "verification_code",
        "emergency_codes",
    ] {
        assert!(g.body.get(k).is_none(), "{k} in GET");
    }
    assert_eq!(g.body["sha_fingerprint"], sha256_hex(&secret));
    assert_eq!(g.body["owner"]["name"], "cluster-1");
    // Without return_records the body is {}.
    let r = c
        .call(
            "POST",
            TOTP,
            Some(json!({"owner": {"uuid": SVM3}, "account": {"name": "svm3admin"}})),
        )
        .await;
    assert_eq!((r.status, &r.body), (201, &json!({})));
    let g = c.get(&format!("{TOTP}/{SVM3}/svm3admin")).await;
    assert_eq!(g.body["scope"], "svm");
    // Secrets cannot be sent.
    let r = c
        .call(
            "POST",
            TOTP,
            Some(
                json!({"owner": {"uuid": SVM2}, "account": {"name": "xyz"}, "secret_key": "mine"}),
            ),
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str(), target(&r)),
        (400, "262196", "secret_key")
    );
    // DELETE, before 9.19.
    let r = c
        .call("DELETE", &format!("{TOTP}/{SVM3}/svm3admin"), None)
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn version_gates() {
    let mut cfg = MockConfig::new();
    cfg.version = "9.13.1".parse().unwrap();
    let c = start_with(cfg).await;
    assert_eq!(c.get("/api/cluster").await.body["version"]["major"], 13);
    let r = c.get(DUO).await;
    assert_eq!((r.status, code(&r).as_str()), (404, "4"));
    assert_eq!(c.get(&format!("{DUO}/{CLUSTER}")).await.status, 404);
    assert_eq!(c.get(TOTP).await.status, 200);

    let mut cfg = MockConfig::new();
    cfg.version = "9.19.1".parse().unwrap();
    let c = start_with(cfg).await;
    let r = c
        .call("DELETE", &format!("{TOTP}/{SVM1}/joe.smith"), None)
        .await;
    assert_eq!((r.status, code(&r).as_str()), (400, "144834569"));
    assert_eq!(c.get(&format!("{TOTP}/{SVM1}/joe.smith")).await.status, 200);
}

#[tokio::test]
async fn methods_not_in_the_catalog() {
    let c = start().await;
    for (m, p) in [
        ("PUT", MSGS.to_string()),
        ("DELETE", MSGS.to_string()),
        ("POST", MSGS.to_string()),
        ("DELETE", msg(SVM1)),
        ("POST", format!("{DUO}/{CLUSTER}")),
        ("PUT", DUO.to_string()),
        ("POST", "/api/cluster".to_string()),
    ] {
        let r = c.call(m, &p, Some(json!({}))).await;
        assert_eq!((r.status, code(&r).as_str()), (405, "3"), "{m} {p}");
    }
    let r = c.call("PUT", MSGS, None).await;
    assert_eq!(
        r.headers["allow"].to_str().unwrap(),
        "GET, PATCH, HEAD, OPTIONS"
    );
}

// ---------------------------------------------------------------------------------------------
// Bad input

#[tokio::test]
async fn bad_input_never_breaks_it() {
    let c = start().await;
    let admin = Some(("admin", "netapp1!"));
    let p = msg(SVM1);
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("malformed", b"{\"banner\": ".to_vec()),
        ("trailing comma", b"{\"banner\": \"x\",}".to_vec()),
        ("array", b"[{\"banner\": \"x\"}]".to_vec()),
        ("string", b"\"banner\"".to_vec()),
        ("number", b"42".to_vec()),
        ("null", b"null".to_vec()),
        ("invalid UTF-8", b"{\"banner\": \"\xff\xfe\"}".to_vec()),
        ("deep nesting", "[".repeat(100_000).into_bytes()),
    ];
    for (what, body) in bodies {
        let r = c.raw("PATCH", &p, admin, Some(body), None).await;
        assert_eq!(
            (r.status, code(&r).as_str()),
            (400, "2"),
            "{what}: {}",
            r.body
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("expected a JSON object"),
            "{what}"
        );
    }
    // Huge body: 413 past --max-body, with the envelope.
    let huge = format!("{{\"banner\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = c
        .raw("PATCH", &p, admin, Some(huge.into_bytes()), None)
        .await;
    assert_eq!(r.status, 413);
    // Invalid UTF-8 in the query and the path.
    let r = c.get(&format!("{MSGS}?svm.name=%ff")).await;
    assert_eq!(r.status, 400);
    let r = c.get(&format!("{MSGS}/%ff%fe")).await;
    assert_eq!((r.status, code(&r).as_str()), (404, "4"));
    // Unknown paths.
    for path in [
        "/api/nope",
        "/",
        "/api",
        "/api/security/login/messages/a/b/c",
        "/index.html",
    ] {
        let r = c.get(path).await;
        assert_eq!((r.status, code(&r).as_str()), (404, "4"), "{path}");
    }
    // Duplicate query parameters are refused (the mock's documented choice).
    let r = c.get(&format!("{MSGS}?scope=svm&scope=cluster")).await;
    assert_eq!(
        (r.status, code(&r).as_str(), target(&r)),
        (400, "262179", "scope")
    );
    let r = c.get(&format!("{MSGS}?fields=banner&fields=message")).await;
    assert_eq!((r.status, target(&r)), (400, "fields"));
    // State is intact after all that.
    let g = c.get(&p).await;
    assert_eq!(g.body["message"], "#### Welcome to SVM1 ####\n");
}

#[tokio::test]
async fn encoded_path_keys() {
    // A TOTP profile needs an existing account: give svm1 one whose name needs encoding.
    let mut data: Value = serde_json::from_str(mock::store::BUILTIN_FIXTURES).unwrap();
    data["accounts"].as_array_mut().unwrap().push(json!({
        "owner": {"name": "svm1", "uuid": SVM1}, "name": "joe smith+1", "role": "vsadmin"
    }));
    let mut cfg = MockConfig::new();
    cfg.fixtures = Some(data);
    let c = start_with(cfg).await;
    let r = c
        .call(
            "POST",
            TOTP,
            Some(json!({"owner": {"uuid": SVM1}, "account": {"name": "joe smith+1"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let loc = r.headers["location"].to_str().unwrap().to_string();
    assert_eq!(loc, format!("{TOTP}/{SVM1}/joe%20smith%2B1"));
    for p in [
        loc.clone(),
        format!("{TOTP}/{SVM1}/joe+smith%2B1"),
        format!("{TOTP}/{SVM1}/joe%20smith%2b1"),
    ] {
        let g = c.get(&p).await;
        assert_eq!(g.status, 200, "{p}");
        assert_eq!(g.body["account"]["name"], "joe smith+1");
    }
    assert_eq!(
        c.get(&format!("{TOTP}/{SVM1}/joe%20smith+1")).await.status,
        404
    );
    // Percent-encoded uuid segments too.
    let enc: String = SVM1.replace('-', "%2D");
    assert_eq!(c.get(&format!("{MSGS}/{enc}")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_of_one_record() {
    let c = std::sync::Arc::new(start().await);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let body = if i % 5 == 4 {
                // Every fifth one is invalid and must change nothing.
                json!({"banner": format!("bad-{i}"), "scope": "cluster"})
            } else {
                json!({"banner": format!("b-{i}"), "message": format!("m-{i}")})
            };
            c.patch(&msg(SVM2), body).await.status
        }));
    }
    let mut oks = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        let s = t.await.unwrap();
        if i % 5 == 4 {
            assert_eq!(s, 400);
        } else {
            assert_eq!(s, 200);
            oks += 1;
        }
    }
    assert_eq!(oks, 32);
    let g = c.get(&msg(SVM2)).await;
    let b = g.body["banner"].as_str().unwrap();
    let m = g.body["message"].as_str().unwrap();
    assert!(b.starts_with("b-"), "{b}");
    assert_eq!(
        b.trim_start_matches("b-"),
        m.trim_start_matches("m-"),
        "banner and message from one PATCH"
    );
    assert_eq!(c.get(MSGS).await.body["num_records"], 4);
}

// ---------------------------------------------------------------------------------------------
// State, fixtures, serving

#[tokio::test]
async fn state_persists_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut cfg = MockConfig::new();
    cfg.state_file = Some(state.clone());
    let c = start_with(cfg.clone()).await;
    assert!(state.exists(), "written at start");
    assert_eq!(
        c.patch(&msg(SVM2), json!({"banner": "persisted"}))
            .await
            .status,
        200
    );
    let r = c.call("POST", DUO, Some(json!({"owner": {"uuid": SVM3}, "api_host": "h", "integration_key": "k", "secret_key": "s"}))).await;
    assert_eq!(r.status, 201);
    assert_eq!(
        c.call("DELETE", &format!("{DUO}/{SVM1}"), None)
            .await
            .status,
        200
    );
    let text = std::fs::read_to_string(&state).unwrap();
    let v: Value = serde_json::from_str(&text).expect("the state file is whole JSON");
    assert!(v["records"]["login_messages"].is_array());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left behind");

    let c = start_with(cfg).await;
    assert_eq!(c.get(&msg(SVM2)).await.body["banner"], "persisted\n");
    assert_eq!(c.get(&format!("{DUO}/{SVM3}")).await.status, 200);
    assert_eq!(c.get(&format!("{DUO}/{SVM1}")).await.status, 404);
}

#[tokio::test]
async fn fixtures_can_be_replaced_and_bad_ones_are_named() {
    let spec = ontap_conform::spec::Spec::builtin();
    let mut v: Value = serde_json::from_str(ontap_conform::mock::store::BUILTIN_FIXTURES).unwrap();
    v["records"]["login_messages"]
        .as_array_mut()
        .unwrap()
        .truncate(2);
    let mut cfg = MockConfig::new();
    cfg.fixtures = Some(v.clone());
    let c = start_with(cfg).await;
    assert_eq!(c.get(MSGS).await.body["num_records"], 2);

    v["records"]["duo"][1]["fail_mode"] = json!("open");
    let e = mock::load_data_set(spec, "my-fixtures.json", &v.to_string()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("my-fixtures.json") && text.contains("/records/duo/1/fail_mode"),
        "{text}"
    );
    assert!(matches!(e, ontap_conform::error::Error::Usage(_)), "{e}");
    let e = mock::load_data_set(spec, "broken.json", "{\"cluster\": ").unwrap_err();
    assert!(
        e.to_string().contains("broken.json") && e.to_string().contains("line 1"),
        "{e}"
    );
    let mut cfg = MockConfig::new();
    cfg.fixtures = Some(v);
    assert!(mock::app(cfg).is_err());
}

#[tokio::test]
async fn plain_http_and_shutdown() {
    let mock = mock::spawn(
        MockConfig::new(),
        "127.0.0.1:0".parse().unwrap(),
        Tls::Plain,
    )
    .await
    .unwrap();
    assert!(mock.base_url.starts_with("http://127.0.0.1:"));
    assert!(mock.ca_pem.is_none());
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{}/api/cluster", mock.base_url))
        .basic_auth("admin", Some("netapp1!"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let addr = mock.addr;
    mock.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "stopped listening"
    );
}

#[test]
fn cli_list_faults_and_bad_fixtures() {
    let out = common::bin::oc().args(["mock", "--list-faults"]).run();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), Fault::ALL.len());
    for f in Fault::ALL {
        assert!(
            text.lines()
                .any(|l| l.starts_with(f.name()) && l.contains(f.description()))
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"cluster": {"name": "c", "uuid": "u"}, "records": {"duo": [{"max_prompts": "x"}]}}"#,
    )
    .unwrap();
    let out = common::bin::oc()
        .args(["mock", "--listen", "127.0.0.1:0", "--fixtures"])
        .arg(&bad)
        .run();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.json") && err.contains("/records/duo/0/max_prompts"),
        "{err}"
    );
    let out = common::bin::oc().args(["mock", "--fault", "nope"]).run();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong-type"));
}

// ---------------------------------------------------------------------------------------------
// Fault switches: each breaks its rule; the default keeps it.

/// Checks that `f` breaks the rule it names, comparing with a default mock where it helps.
async fn check_fault(f: Fault) {
    let good = start().await;
    let bad = start_faulty(f).await;
    match f {
        Fault::WrongType => {
            let p = format!("{}?fields=show_cluster_message", msg(CLUSTER));
            assert_eq!(good.get(&p).await.body["show_cluster_message"], true);
            assert_eq!(bad.get(&p).await.body["show_cluster_message"], "true");
            let r = bad.get(&format!("{DUO}?fields=is_enabled")).await;
            assert!(records(&r).iter().all(|x| x["is_enabled"] == "true"));
        }
        Fault::MissingKey => {
            let r = bad.get(MSGS).await;
            assert!(records(&r).iter().all(|x| x.get("uuid").is_none()));
            let r = bad.get(&format!("{DUO}/{CLUSTER}")).await;
            assert!(r.body["owner"].get("uuid").is_none());
            assert!(
                records(&good.get(MSGS).await)
                    .iter()
                    .all(|x| x["uuid"].is_string())
            );
        }
        Fault::LeakSecret => {
            let p = format!("{DUO}/{CLUSTER}?fields=*");
            assert!(good.get(&p).await.body.get("secret_key").is_none());
            assert!(bad.get(&p).await.body["secret_key"].is_string());
            let r = bad.get(&format!("{TOTP}?fields=secret_key")).await;
            assert!(records(&r).iter().all(|x| x["secret_key"].is_string()));
            assert!(
                bad.get(&format!("{DUO}/{CLUSTER}"))
                    .await
                    .body
                    .get("secret_key")
                    .is_none(),
                "only when asked"
            );
        }
        Fault::FieldsIgnored => {
            let r = bad.get(&format!("{MSGS}?fields=banner")).await;
            assert!(records(&r).iter().all(|x| x.get("banner").is_none()));
            let r = bad.get(&format!("{}?fields=banner", msg(CLUSTER))).await;
            assert!(r.body.get("message").is_some());
            let r = good.get(&format!("{}?fields=banner", msg(CLUSTER))).await;
            assert!(r.body.get("message").is_none() && r.body.get("banner").is_some());
        }
        Fault::FieldsExtra => {
            let r = bad.get(&format!("{MSGS}?fields=banner")).await;
            assert!(records(&r)[0].get("message").is_some());
            let r = good.get(&format!("{MSGS}?fields=banner")).await;
            assert!(records(&r)[0].get("message").is_none());
        }
        Fault::FilterIgnored => {
            assert_eq!(
                records(&bad.get(&format!("{MSGS}?scope=cluster")).await).len(),
                4
            );
            assert_eq!(
                records(&good.get(&format!("{MSGS}?scope=cluster")).await).len(),
                1
            );
        }
        Fault::FilterNegated => {
            assert_eq!(
                uuids(&bad.get(&format!("{MSGS}?scope=cluster")).await),
                [SVM1, SVM3, SVM2]
            );
        }
        Fault::FilterBoundInclusive
        | Fault::FilterBoundExclusive
        | Fault::FilterRangeExclusive
        | Fault::FilterWildcardSubstring
        | Fault::FilterCaseInsensitive
        | Fault::FilterNotUnset
        | Fault::FilterNotOrGrouped
        | Fault::FilterOrFirst
        | Fault::FilterQuotedGlob
        | Fault::FilterNullLiteral => {
            // (query, records the right reading selects, records the wrong one selects)
            let (q, right, wrong) = match f {
                Fault::FilterBoundInclusive => (format!("{DUO}?max_prompts=%3C1"), 0, 2),
                Fault::FilterBoundExclusive => (format!("{DUO}?max_prompts=%3C=1"), 2, 0),
                Fault::FilterRangeExclusive => (format!("{DUO}?max_prompts=1..1"), 2, 0),
                Fault::FilterWildcardSubstring => (format!("{MSGS}?svm.name=vm*"), 0, 3),
                Fault::FilterCaseInsensitive => (format!("{MSGS}?svm.name=SVM1"), 0, 1),
                Fault::FilterNotUnset => (format!("{MSGS}?svm.name=!svm1"), 2, 3),
                Fault::FilterNotOrGrouped => (format!("{MSGS}?svm.name=!svm1%7Csvm1"), 3, 2),
                Fault::FilterOrFirst => (format!("{MSGS}?svm.name=svm1%7Csvm2"), 2, 1),
                Fault::FilterQuotedGlob => (format!("{MSGS}?svm.name=%22svm*%22"), 0, 3),
                _ => (format!("{MSGS}?svm.name=null"), 1, 0),
            };
            assert_eq!(records(&good.get(&q).await).len(), right, "{f}: {q}");
            assert_eq!(records(&bad.get(&q).await).len(), wrong, "{f}: {q}");
        }
        Fault::MaxRecordsIgnored => {
            let r = bad.get(&format!("{MSGS}?max_records=1")).await;
            assert_eq!(records(&r).len(), 4);
            assert!(r.body["_links"].get("next").is_none());
        }
        Fault::PagingSkip => {
            let all: Vec<String> = pages(&bad, &format!("{MSGS}?max_records=1"))
                .await
                .iter()
                .flat_map(uuids)
                .collect();
            assert_eq!(all, [CLUSTER, SVM3]);
        }
        Fault::PagingRepeat => {
            let all: Vec<String> = pages(&bad, &format!("{MSGS}?max_records=2"))
                .await
                .iter()
                .flat_map(uuids)
                .collect();
            assert_eq!(all, [CLUSTER, SVM1, SVM1, SVM3, SVM3, SVM2]);
        }
        Fault::NumRecordsWrong => {
            let r = bad.get(MSGS).await;
            assert_eq!(r.body["num_records"], 5);
            assert_eq!(records(&r).len(), 4);
        }
        Fault::OrderIgnored => {
            assert_eq!(
                uuids(&bad.get(&format!("{MSGS}?order_by=uuid%20desc")).await),
                [CLUSTER, SVM1, SVM3, SVM2]
            );
        }
        Fault::OrderReversed => {
            assert_eq!(
                uuids(&bad.get(&format!("{MSGS}?order_by=uuid")).await),
                [SVM2, SVM3, SVM1, CLUSTER]
            );
        }
        Fault::PatchReadOnlyAccepted => {
            let r = bad
                .patch(&msg(CLUSTER), json!({"scope": "svm", "message": "m"}))
                .await;
            assert_eq!(r.status, 200);
            let g = bad.get(&msg(CLUSTER)).await;
            assert_eq!(
                (g.body["scope"].as_str(), g.body["message"].as_str()),
                (Some("cluster"), Some("m\n"))
            );
            // PATCH-forbidden fields are still refused.
            let r = bad
                .patch(&format!("{DUO}/{CLUSTER}"), json!({"owner": {"name": "x"}}))
                .await;
            assert_eq!(code(&r), "262196");
        }
        Fault::PatchOwnerAccepted => {
            let r = bad
                .patch(
                    &format!("{DUO}/{CLUSTER}"),
                    json!({"owner": {"name": "x"}, "comment": "c"}),
                )
                .await;
            assert_eq!(r.status, 200);
            let g = bad.get(&format!("{DUO}/{CLUSTER}")).await;
            assert_eq!(
                (g.body["owner"]["name"].as_str(), g.body["comment"].as_str()),
                (Some("cluster-1"), Some("c"))
            );
            let r = bad.patch(&msg(CLUSTER), json!({"scope": "svm"})).await;
            assert_eq!(code(&r), "262196", "read-only still refused");
        }
        Fault::RangeUnchecked => {
            let r = bad
                .patch(
                    &format!("{DUO}/{CLUSTER}"),
                    json!({"max_prompts": 9, "fail_mode": "open"}),
                )
                .await;
            assert_eq!(r.status, 200);
            let g = bad.get(&format!("{DUO}/{CLUSTER}")).await;
            assert_eq!(
                (g.body["max_prompts"].as_i64(), g.body["fail_mode"].as_str()),
                (Some(9), Some("open"))
            );
            let r = bad
                .patch(&format!("{DUO}/{CLUSTER}"), json!({"max_prompts": "9"}))
                .await;
            assert_eq!(code(&r), "262197", "type still checked");
        }
        Fault::PatchPartial => {
            let r = bad
                .patch(&msg(SVM2), json!({"message": "stored anyway", "banner": 5}))
                .await;
            assert_eq!(r.status, 400);
            assert_eq!(bad.get(&msg(SVM2)).await.body["message"], "stored anyway\n");
            good.patch(&msg(SVM2), json!({"message": "stored anyway", "banner": 5}))
                .await;
            assert!(good.get(&msg(SVM2)).await.body.get("message").is_none());
        }
        Fault::CrlfKept => {
            bad.patch(&msg(SVM2), json!({"banner": "a\r\nb\n"})).await;
            assert_eq!(bad.get(&msg(SVM2)).await.body["banner"], "a\r\nb\n");
        }
        Fault::PatchNotStored => {
            let r = bad.patch(&msg(SVM2), json!({"banner": "x"})).await;
            assert_eq!(r.status, 200);
            assert!(bad.get(&msg(SVM2)).await.body.get("banner").is_none());
        }
        Fault::ErrorCodeNumber => {
            let r = bad.get(&msg("nope")).await;
            assert_eq!(r.body["error"]["code"], json!(4));
            assert_eq!(
                good.get(&msg("nope")).await.body["error"]["code"],
                json!("4")
            );
        }
        Fault::ErrorMessageMissing => {
            let r = bad.get(&msg("nope")).await;
            assert!(r.body["error"].get("message").is_none());
            assert_eq!(r.body["error"]["code"], "4");
        }
        Fault::NotFoundWrongCode => {
            let r = bad.get(&msg("nope")).await;
            assert_eq!((r.status, code(&r).as_str()), (404, "2"));
        }
        Fault::BadInput500 => {
            let r = bad
                .raw(
                    "PATCH",
                    &msg(SVM1),
                    Some(("admin", "netapp1!")),
                    Some(b"[1]".to_vec()),
                    None,
                )
                .await;
            assert_eq!(r.status, 500);
            let r = bad.patch(&msg(SVM1), json!({"scope": "x"})).await;
            assert_eq!(r.status, 400, "only malformed input");
        }
        Fault::UnknownParamIgnored => {
            let r = bad.get(&format!("{MSGS}?colour=red")).await;
            assert_eq!(r.status, 200);
            assert_eq!(records(&r).len(), 4);
        }
        Fault::AdminOnlyUnenforced => {
            let r = bad
                .as_vsadmin(
                    "PATCH",
                    &msg(SVM1),
                    Some(json!({"show_cluster_message": false})),
                )
                .await;
            assert_eq!(r.status, 200);
            assert_eq!(
                bad.get(&msg(SVM1)).await.body["show_cluster_message"],
                false
            );
            assert_eq!(
                bad.as_vsadmin("GET", &msg(CLUSTER), None).await.status,
                404,
                "visibility kept"
            );
        }
        Fault::AuthUnenforced => {
            let r = bad.raw("GET", MSGS, None, None, None).await;
            assert_eq!((r.status, &r.body["num_records"]), (200, &json!(4)));
            let r = bad
                .raw("GET", MSGS, Some(("admin", "wrong")), None, None)
                .await;
            assert_eq!(r.status, 200);
        }
        Fault::NextPlaceholder => {
            let q = format!("{MSGS}?max_records=1");
            let (g, b) = (good.get(&q).await.body, bad.get(&q).await.body);
            assert!(
                g["_links"]["next"]["href"]
                    .as_str()
                    .unwrap()
                    .starts_with("/api/")
            );
            assert_eq!(b["_links"]["next"]["href"], "string");
        }
        Fault::NextDropsQuery => {
            let q = format!(
                "{MSGS}?svm.name=svm*&fields=banner&order_by=svm.name%20desc&max_records=1"
            );
            let all: Vec<String> = pages(&good, &q).await.iter().flat_map(uuids).collect();
            assert_eq!(all, [SVM3, SVM2, SVM1]);
            let ps = pages(&bad, &q).await;
            let next = ps[0].body["_links"]["next"]["href"].as_str().unwrap();
            assert!(
                !next.contains("svm.name") && !next.contains("order_by"),
                "{next}"
            );
            assert!(
                next.contains("fields=banner") && next.contains("max_records=1"),
                "{next}"
            );
            // The first page is right; the rest is the unfiltered collection in store order.
            let all: Vec<String> = ps.iter().flat_map(uuids).collect();
            assert_eq!(all, [SVM3, SVM1, SVM3, SVM2]);
        }
        Fault::OrderBySecondKeyIgnored => {
            let q = format!("{MSGS}?order_by=scope,svm.name%20desc");
            assert_eq!(uuids(&good.get(&q).await), [CLUSTER, SVM3, SVM2, SVM1]);
            // Ties on scope keep store order.
            assert_eq!(uuids(&bad.get(&q).await), [CLUSTER, SVM1, SVM3, SVM2]);
            assert_eq!(
                uuids(&bad.get(&format!("{MSGS}?order_by=uuid%20desc")).await),
                [SVM2, SVM3, SVM1, CLUSTER],
                "one key still sorts"
            );
        }
        Fault::SvmWritesAll => {
            // svm1's administrator changes svm2's record by its key, though it cannot see it.
            let body = json!({"message": "from svm1"});
            let r = good
                .as_vsadmin("PATCH", &msg(SVM2), Some(body.clone()))
                .await;
            assert_eq!((r.status, code(&r).as_str()), (404, "4"));
            assert_eq!(
                bad.as_vsadmin("PATCH", &msg(SVM2), Some(body)).await.status,
                200
            );
            assert_eq!(bad.get(&msg(SVM2)).await.body["message"], "from svm1\n");
            assert_eq!(
                bad.as_vsadmin("GET", &msg(SVM2), None).await.status,
                404,
                "visibility kept"
            );
            let r = bad
                .as_vsadmin(
                    "PATCH",
                    &msg(CLUSTER),
                    Some(json!({"show_cluster_message": false})),
                )
                .await;
            assert_eq!(r.status, 403, "admin-only fields kept");
            let cluster_duo = format!("{DUO}/{CLUSTER}");
            assert_eq!(
                good.as_vsadmin("DELETE", &cluster_duo, None).await.status,
                404
            );
            assert_eq!(
                bad.as_vsadmin("DELETE", &cluster_duo, None).await.status,
                200
            );
            assert_eq!(bad.get(&cluster_duo).await.status, 404);
        }
        Fault::SvmSeesAll => {
            // svm1's administrator sees the cluster's record and every SVM's, not only svm1's.
            let good_n = good.as_vsadmin("GET", MSGS, None).await.body["num_records"].clone();
            let bad_n = bad.as_vsadmin("GET", MSGS, None).await.body["num_records"].clone();
            assert_eq!((good_n, bad_n), (json!(1), json!(4)));
            assert_eq!(bad.as_vsadmin("GET", &msg(CLUSTER), None).await.status, 200);
        }
        Fault::MethodNotAllowedAccepted => {
            let r = bad.call("PUT", MSGS, None).await;
            assert_eq!((r.status, &r.body), (200, &json!({})));
        }
        Fault::CollectionWriteFilterIgnored => {
            let q = format!("{MSGS}?scope=cluster");
            let r = good.patch(&q, json!({"message": "one\n"})).await;
            assert_eq!(r.body["num_records"], 1);
            let r = bad.patch(&q, json!({"message": "all\n"})).await;
            assert_eq!(r.body["num_records"], 4);
        }
        Fault::UnknownBodyFieldIgnored => {
            let body = json!({"no_such_field_xyz": 1});
            assert_eq!(good.patch(&msg(SVM2), body.clone()).await.status, 400);
            assert_eq!(bad.patch(&msg(SVM2), body).await.status, 200);
        }
        Fault::HeadOptionsRefused => {
            // (A HEAD answer has no body, so the envelope check of `call` is for OPTIONS only;
            // the engine's fault table sees HEAD refused too.)
            assert_eq!(good.call("OPTIONS", MSGS, None).await.status, 200);
            assert_eq!(bad.call("OPTIONS", MSGS, None).await.status, 405);
        }
        Fault::UnconfiguredAsNotFound => {
            // monitor exists (cluster-1) and has no TOTP profile; nobody exists as ghost.
            let body = json!({"comment": "x"});
            let unconfigured = format!("{TOTP}/{CLUSTER}/monitor");
            let r = good.patch(&unconfigured, body.clone()).await;
            assert_eq!(r.body["error"]["code"], "144834566", "{:?}", r.body);
            let r = bad.patch(&unconfigured, body.clone()).await;
            assert_eq!(
                (r.status, r.body["error"]["code"].clone()),
                (404, json!("4"))
            );
            let r = good.patch(&format!("{TOTP}/{CLUSTER}/ghost"), body).await;
            assert_eq!(
                (r.status, r.body["error"]["code"].clone()),
                (404, json!("4"))
            );
        }
        Fault::VersionGateIgnored => {
            let mut cfg = MockConfig::new();
            cfg.version = "9.13.1".parse().unwrap();
            cfg.faults = BTreeSet::from([f]);
            let old = start_with(cfg).await;
            assert_eq!(old.get(DUO).await.status, 200);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_breaks_its_rule() {
    for f in Fault::ALL {
        check_fault(*f).await;
    }
}

#[tokio::test]
async fn faults_are_off_by_default() {
    assert!(MockConfig::new().faults.is_empty());
    // The default mock keeps the rules the faults break (spot checks beyond the tests above).
    let c = start().await;
    let r = c.get(&format!("{MSGS}?max_records=2")).await;
    assert_eq!(r.body["num_records"], 2);
    let ps = pages(&c, &format!("{MSGS}?max_records=2")).await;
    assert_eq!(ps.iter().flat_map(uuids).count(), 4);
    let r = c.patch(&msg(SVM2), json!({"banner": "x"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(c.get(&msg(SVM2)).await.body["banner"], "x\n");
}

#[tokio::test]
async fn pem_certificate_pair() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let tls = Tls::Pem {
        cert: ck.cert.pem(),
        key: ck.signing_key.serialize_pem(),
    };
    let mock = mock::spawn(MockConfig::new(), "127.0.0.1:0".parse().unwrap(), tls)
        .await
        .unwrap();
    assert!(mock.base_url.starts_with("https://") && mock.ca_pem.is_none());
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ck.cert.pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/api/cluster", mock.base_url))
        .basic_auth("admin", Some("netapp1!"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    mock.shutdown().await;
    // A key that is not PEM is refused with a message naming the flag.
    let bad = Tls::Pem {
        cert: ck.cert.pem(),
        key: "not a key".into(),
    };
    let e = mock::spawn(MockConfig::new(), "127.0.0.1:0".parse().unwrap(), bad)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("--key"), "{e}");
}
