//! The mock's variant switches over real HTTP: per variant, the raw behaviour it switches on
//! (each one a freedom of a conformant ONTAP, ONTAP-BEHAVIOR.md §3b), and that the default mock
//! does not show it.

mod common;

use common::bin::Run;
use common::mock_client::{CLUSTER, Ctx, DUO, MSGS, Resp, SVM1};
use ontap_conform::mock::{MockConfig, Tls, Variant};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The mock over plain HTTP with these variants switched on.
async fn start(variants: &[Variant]) -> Ctx {
    let mut cfg = MockConfig::new();
    cfg.variants = variants.iter().copied().collect::<BTreeSet<_>>();
    common::mock_client::start_with(cfg, Tls::Plain).await
}

impl Ctx {
    /// `method` on `path` as `user` with a JSON body: the status and the body as JSON.
    async fn send(
        &self,
        user: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .request(method, path)
            .basic_auth(user, Some("netapp1!"));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = Resp::of(rb, method, path).await;
        (r.status, r.body)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send("admin", "GET", path, None).await
    }

    /// Every record of a collection, following `next` links as given.
    async fn all_pages(&self, first: &str) -> (Vec<Value>, usize) {
        let mut out = Vec::new();
        let mut pages = 0;
        let mut path = first.to_string();
        loop {
            let (s, v) = self.get(&path).await;
            assert_eq!(s, 200, "{path}: {v}");
            pages += 1;
            out.extend(v["records"].as_array().unwrap().iter().cloned());
            match v.pointer("/_links/next/href").and_then(Value::as_str) {
                Some(h) => path = h.to_string(),
                None => return (out, pages),
            }
            assert!(pages < 20, "next links never end");
        }
    }
}

fn uuids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["uuid"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn permission_400() {
    let body = json!({"show_cluster_message": false});
    let path = format!("{MSGS}/{SVM1}");
    let c = start(&[]).await;
    let (s, v) = c.send("vsadmin", "PATCH", &path, Some(body.clone())).await;
    assert_eq!((s, v["error"]["code"].as_str()), (403, Some("6")));
    let c = start(&[Variant::Permission400]).await;
    let (s, v) = c.send("vsadmin", "PATCH", &path, Some(body)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("6")), "{v}");
}

#[tokio::test]
async fn no_error_target() {
    let c = start(&[]).await;
    let (s, v) = c.get(&format!("{MSGS}?bogus=1")).await;
    assert_eq!((s, v["error"]["target"].as_str()), (400, Some("bogus")));
    let c = start(&[Variant::NoErrorTarget]).await;
    let (s, v) = c.get(&format!("{MSGS}?bogus=1")).await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["code"], "262179");
    assert!(v["error"].get("target").is_none(), "{v}");
}

#[tokio::test]
async fn collection_all_fields() {
    let c = start(&[]).await;
    let (_, v) = c.get(MSGS).await;
    assert!(v["records"][0].get("banner").is_none(), "{v}");
    let c = start(&[Variant::CollectionAllFields]).await;
    let (_, v) = c.get(MSGS).await;
    let cluster = &v["records"][0];
    assert_eq!(cluster["uuid"], CLUSTER);
    assert!(
        cluster["banner"].is_string() && cluster["scope"] == "cluster",
        "{v}"
    );
}

#[tokio::test]
async fn opaque_next() {
    let c = start(&[]).await;
    let (_, v) = c.get(&format!("{MSGS}?max_records=1")).await;
    let plain = v["_links"]["next"]["href"].as_str().unwrap().to_string();
    assert!(plain.contains("start.index="), "{plain}");
    let (want, _) = c.all_pages(&format!("{MSGS}?max_records=1")).await;

    let c = start(&[Variant::OpaqueNext]).await;
    let (_, v) = c.get(&format!("{MSGS}?max_records=1&fields=scope")).await;
    let href = v["_links"]["next"]["href"].as_str().unwrap();
    assert!(
        href.starts_with(&format!("{MSGS}?next_token=")) && !href.contains("start.index"),
        "{href}"
    );
    let (got, pages) = c
        .all_pages(&format!("{MSGS}?max_records=1&fields=scope"))
        .await;
    assert_eq!((uuids(&got), pages), (uuids(&want), 4));
    // The token carries the query: every page keeps fields=scope.
    assert!(got.iter().all(|r| r["scope"].is_string()), "{got:?}");
    let (s, v) = c.get(&format!("{MSGS}?next_token=zz")).await;
    assert_eq!(
        (s, v["error"]["target"].as_str()),
        (400, Some("next_token"))
    );
}

#[tokio::test]
async fn newer_field() {
    let c = start(&[]).await;
    let (_, v) = c.get(&format!("{MSGS}?fields=*")).await;
    assert!(v["records"][0].get("newer_release_field").is_none());
    let c = start(&[Variant::NewerField]).await;
    for q in ["fields=*", "fields=**"] {
        let (_, v) = c.get(&format!("{MSGS}?{q}")).await;
        assert!(
            v["records"][0]["newer_release_field"].is_string(),
            "{q}: {v}"
        );
    }
    let (_, v) = c.get(&format!("{MSGS}/{CLUSTER}")).await;
    assert!(v["newer_release_field"].is_string(), "{v}");
    // Not where fields names fields, nor in a collection without fields.
    let (_, v) = c.get(&format!("{MSGS}?fields=banner")).await;
    assert!(v["records"][0].get("newer_release_field").is_none());
    let (_, v) = c.get(MSGS).await;
    assert!(v["records"][0].get("newer_release_field").is_none());
}

#[tokio::test]
async fn unset_first_and_last() {
    // Banners: the cluster and svm3 have one, svm1 and svm2 none.
    let unset_at = |v: &Value| -> Vec<bool> {
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.get("banner").is_none())
            .collect()
    };
    let first = vec![true, true, false, false];
    let last = vec![false, false, true, true];
    let c = start(&[]).await;
    let (_, asc) = c
        .get(&format!("{MSGS}?order_by=banner&fields=banner"))
        .await;
    let (_, desc) = c
        .get(&format!("{MSGS}?order_by=banner%20desc&fields=banner"))
        .await;
    assert_eq!(
        (unset_at(&asc), unset_at(&desc)),
        (first.clone(), last.clone())
    );
    let c = start(&[Variant::UnsetFirst]).await;
    let (_, desc) = c
        .get(&format!("{MSGS}?order_by=banner%20desc&fields=banner"))
        .await;
    assert_eq!(unset_at(&desc), first);
    let c = start(&[Variant::UnsetLast]).await;
    let (_, asc) = c
        .get(&format!("{MSGS}?order_by=banner&fields=banner"))
        .await;
    assert_eq!(unset_at(&asc), last);
    // The set values keep their order.
    assert!(asc["records"][0]["banner"].as_str() < asc["records"][1]["banner"].as_str());
}

#[tokio::test]
async fn duplicate_400() {
    let body = json!({"owner": {"uuid": CLUSTER}, "api_host": "h", "integration_key": "k", "secret_key": "s"});
    let c = start(&[]).await;
    let (s, v) = c.send("admin", "POST", DUO, Some(body.clone())).await;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("1")));
    let c = start(&[Variant::Duplicate400]).await;
    let (s, v) = c.send("admin", "POST", DUO, Some(body)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("1")));
}

#[tokio::test]
async fn costly_field() {
    let one = format!("{DUO}/{SVM1}");
    let c = start(&[]).await;
    let (_, star) = c.get(&format!("{one}?fields=*")).await;
    let (_, all) = c.get(&format!("{one}?fields=**")).await;
    // By default * and ** are the same gettable fields.
    assert_eq!(star, all);
    assert!(star["fingerprint"].is_string());
    let c = start(&[Variant::CostlyField]).await;
    let (_, star) = c.get(&format!("{one}?fields=*")).await;
    let (_, all) = c.get(&format!("{one}?fields=**")).await;
    let (_, plain) = c.get(&one).await;
    assert!(star.get("fingerprint").is_none() && plain.get("fingerprint").is_none());
    assert!(all["fingerprint"].is_string());
    assert_eq!(star["comment"], all["comment"]);
    // Named, it is returned.
    let (_, named) = c.get(&format!("{one}?fields=fingerprint")).await;
    assert!(named["fingerprint"].is_string());
}

#[tokio::test]
async fn time_limited_pages() {
    let c = start(&[]).await;
    let (_, v) = c.get(MSGS).await;
    assert_eq!(v["num_records"], 4);
    assert!(v["_links"].get("next").is_none());
    let c = start(&[Variant::TimeLimitedPages]).await;
    let (_, v) = c.get(MSGS).await;
    assert_eq!(v["num_records"], 2);
    assert!(v["_links"]["next"]["href"].is_string(), "{v}");
    let (all, pages) = c.all_pages(MSGS).await;
    assert_eq!((all.len(), pages), (4, 2));
    // max_records above the limit is cut short too; below it, it wins.
    let (_, v) = c.get(&format!("{MSGS}?max_records=3")).await;
    assert_eq!(v["num_records"], 2);
    let (_, v) = c.get(&format!("{MSGS}?max_records=1")).await;
    assert_eq!(v["num_records"], 1);
}

#[tokio::test]
async fn trailing_lf() {
    let path = format!("{MSGS}/{SVM1}");
    // no-trailing-lf stores it as sent.
    let c = start(&[Variant::NoTrailingLf]).await;
    assert_eq!(banner_after(&c, &path, "x").await, Some(json!("x")));
    // The default, as ONTAP, appends the LF; trailing-lf says so aloud.
    let c = start(&[]).await;
    assert_eq!(banner_after(&c, &path, "x").await, Some(json!("x\n")));
    let c = start(&[Variant::TrailingLf]).await;
    assert_eq!(banner_after(&c, &path, "x").await, Some(json!("x\n")));
    assert_eq!(banner_after(&c, &path, "y\r\n").await, Some(json!("y\n")));
    assert_eq!(banner_after(&c, &path, "z\n").await, Some(json!("z\n")));
    assert_eq!(banner_after(&c, &path, "").await, None);
    // A value of the maximum length gets no LF that would break the limit.
    let long = "a".repeat(2048);
    assert_eq!(banner_after(&c, &path, &long).await, Some(json!(long)));
}

async fn banner_after(c: &Ctx, path: &str, sent: &str) -> Option<Value> {
    let (s, v) = c
        .send("admin", "PATCH", path, Some(json!({ "banner": sent })))
        .await;
    assert_eq!(s, 200, "{v}");
    c.get(path).await.1.get("banner").cloned()
}

#[test]
fn list_variants_prints_one_line_each() {
    let out = common::bin::oc().args(["mock", "--list-variants"]).run();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), Variant::ALL.len());
    assert!(text.lines().any(|l| l.starts_with("permission-400 ")));
    let bad = common::bin::oc().args(["mock", "--variant", "nope"]).run();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("\"nope\"") && err.contains("costly-field"),
        "{err}"
    );
}

#[tokio::test]
async fn time_limited_counts() {
    let count = format!("{MSGS}?return_records=false");
    let c = start(&[]).await;
    let (_, v) = c.get(&count).await;
    assert_eq!(v["num_records"], 4);
    assert!(v.pointer("/_links/next").is_none(), "{v}");
    let c = start(&[Variant::TimeLimitedCounts]).await;
    let (mut path, mut sum, mut pages) = (count, 0, 0);
    loop {
        let (s, v) = c.get(&path).await;
        assert_eq!(s, 200, "{v}");
        assert!(v.get("records").is_none(), "{v}");
        sum += v["num_records"].as_u64().unwrap();
        pages += 1;
        match v.pointer("/_links/next/href").and_then(Value::as_str) {
            Some(h) => path = h.to_string(),
            None => break,
        }
        assert!(pages < 10, "next links never end");
    }
    assert_eq!((sum, pages), (4, 2), "the counts of the pages add up");
}

/// Under lf-at-limit a banner of the maximum length reads back one character longer, with the
/// LF ONTAP appends; the harness warns about it (trailing-lf, obs) and does not fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lf_at_limit() {
    let path = format!("{MSGS}/{SVM1}");
    let long = "a".repeat(2048);
    let c = start(&[]).await;
    assert_eq!(banner_after(&c, &path, &long).await, Some(json!(long)));
    let c = start(&[Variant::LfAtLimit]).await;
    assert_eq!(
        banner_after(&c, &path, &long).await,
        Some(json!(format!("{long}\n")))
    );
    let out = common::bin::oc()
        .args([
            "run",
            "--target",
            &c.mock.base_url,
            "--read-only",
            "--check",
            "response-schema",
            "--check",
            "field-selection",
            "--endpoint",
            "/api/security/login/messages",
            "--endpoint",
            "/api/security/login/messages/{uuid}",
            "--no-progress",
            "--report",
            "json=-",
        ])
        .env("ONTAP_PASSWORD", "netapp1!")
        .run();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "trailing-lf" && f["severity"] == "warning"),
        "{findings:#?}"
    );
    assert!(
        !findings.iter().any(|f| f["severity"] == "failure"),
        "{findings:#?}"
    );
}
