//! What ONTAP does by default per NetApp's words, and what real clients send, against the mock
//! over real HTTP: HEAD and OPTIONS, `*` and `**`, paging from any position, quoted filter
//! literals, postable fields, collection PATCH/DELETE, `//` paths, collection parameters on
//! instance GETs, raw `<`/`>`/`"` (std TcpStream, the bytes curl sends), oversized bodies, SVM
//! tunnelling and a state file that cannot be written.

mod common;

use common::files::{copy_dir, manifest};
use common::mock_client::{ACCOUNTS, CLUSTER, Ctx, DUO, MSGS, Resp, SVM1, SVM2, TOTP};
use ontap_conform::mock::{MockConfig, Tls};
use ontap_conform::spec::Spec;
use serde_json::{Value, json};
use std::io::{Read, Write};

/// `admin:netapp1!` in Basic auth.
const ADMIN_AUTH: &str = "Basic YWRtaW46bmV0YXBwMSE=";

/// The mock over plain HTTP with `cfg`.
async fn start_with(cfg: MockConfig) -> Ctx {
    common::mock_client::start_with(cfg, Tls::Plain).await
}

async fn start() -> Ctx {
    start_with(MockConfig::new()).await
}

impl Ctx {
    /// `method` on `path` as the cluster administrator, with these extra headers and a JSON body;
    /// an error answer (but to HEAD, which has no body) must carry the envelope.
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Resp {
        let mut rb = self
            .request(method, path)
            .basic_auth("admin", Some("netapp1!"));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = Resp::of(rb, method, path).await;
        if method != "HEAD" {
            r.assert_envelope(method, path);
        }
        r
    }

    async fn get(&self, path: &str) -> Resp {
        self.send("GET", path, &[], None).await
    }

    /// Raw HTTP/1.1 bytes over a std TcpStream (off the runtime's thread); the answer's status
    /// and JSON body.
    async fn raw(&self, request: &[u8]) -> (u16, Value) {
        let addr = self.mock.addr;
        let request = request.to_vec();
        tokio::task::spawn_blocking(move || raw_http(addr, &request))
            .await
            .unwrap()
    }
}

fn raw_http(addr: std::net::SocketAddr, request: &[u8]) -> (u16, Value) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let v = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: not JSON: {text:?}"));
    (status, v)
}

fn get_request(target: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {ADMIN_AUTH}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

// ---------------------------------------------------------------------------------------------
// What ONTAP does by default

#[tokio::test]
async fn head_is_the_get_without_a_body() {
    let c = start().await;
    for p in [
        MSGS.to_string(),
        format!("{MSGS}/{SVM1}"),
        format!("{DUO}?fields=*"),
        "/api/cluster".to_string(),
        ACCOUNTS.to_string(),
    ] {
        let g = c.get(&p).await;
        let h = c.send("HEAD", &p, &[], None).await;
        assert_eq!((h.status, h.len), (200, 0), "HEAD {p}");
        assert_eq!(
            h.headers["content-length"].to_str().unwrap(),
            g.len.to_string(),
            "HEAD {p}"
        );
        assert_eq!(h.headers["content-type"], g.headers["content-type"]);
    }
    let h = c.send("HEAD", &format!("{MSGS}/nope"), &[], None).await;
    assert_eq!(h.status, 404);
}

#[tokio::test]
async fn options_lists_the_methods() {
    let c = start().await;
    for (p, want) in [
        (MSGS.to_string(), "GET, PATCH, HEAD, OPTIONS"),
        (format!("{MSGS}/{SVM1}"), "GET, PATCH, HEAD, OPTIONS"),
        (DUO.to_string(), "GET, POST, PATCH, DELETE, HEAD, OPTIONS"),
        (format!("{DUO}/{SVM1}"), "GET, PATCH, DELETE, HEAD, OPTIONS"),
        ("/api/cluster".to_string(), "GET, HEAD, OPTIONS"),
        (ACCOUNTS.to_string(), "GET, HEAD, OPTIONS"),
    ] {
        let r = c.send("OPTIONS", &p, &[], None).await;
        assert_eq!(r.status, 200, "OPTIONS {p}");
        assert_eq!(r.headers["allow"].to_str().unwrap(), want, "OPTIONS {p}");
    }
    assert_eq!(c.send("OPTIONS", "/api/nope", &[], None).await.status, 404);
}

#[tokio::test]
async fn next_links_from_any_position_and_page_size() {
    let c = start().await;
    let all: Vec<Value> = c.get(&format!("{ACCOUNTS}?order_by=name")).await.body["records"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(all.len(), 7);
    for n in 1..=8 {
        let mut path = format!("{ACCOUNTS}?order_by=name&max_records={n}");
        let mut seen = Vec::new();
        loop {
            let r = c.get(&path).await;
            let page = r.body["records"].as_array().unwrap();
            assert!(page.len() <= n && r.body["num_records"] == page.len());
            seen.extend(page.iter().cloned());
            match r.body.pointer("/_links/next/href").and_then(Value::as_str) {
                Some(h) => {
                    assert!(seen.len() < all.len(), "next link after the last record");
                    path = h.to_string();
                }
                None => break,
            }
        }
        assert_eq!(seen, all, "max_records={n}");
    }
}

#[tokio::test]
async fn quoted_literals_negation_and_order_by_spaces() {
    let c = start().await;
    let p = format!("{MSGS}/{SVM1}");
    let r = c
        .send("PATCH", &p, &[], Some(json!({"banner": "a b|*\n"})))
        .await;
    assert_eq!(r.status, 200);
    let count = |r: &Resp| r.body["num_records"].as_u64().unwrap();
    // "a b|*" quoted is the literal; unquoted it is "a b" or anything.
    let q = c.get(&format!("{MSGS}?banner=%22a%20b|*%0A%22")).await;
    assert_eq!(
        (count(&q), q.body["records"][0]["uuid"].as_str()),
        (1, Some(SVM1))
    );
    assert_eq!(count(&c.get(&format!("{MSGS}?banner=a%20b|*")).await), 3);
    // "*" is a literal asterisk: no banner is one.
    assert_eq!(count(&c.get(&format!("{MSGS}?banner=%22*%22")).await), 0);
    // !a|b is "not a, or b".
    assert_eq!(count(&c.get(&format!("{MSGS}?scope=!svm")).await), 1);
    assert_eq!(count(&c.get(&format!("{MSGS}?scope=!svm|svm")).await), 4);
    // A space after the comma of order_by.
    let r = c
        .get(&format!(
            "{MSGS}?order_by=scope%20desc,%20uuid%20asc&fields=scope"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let scopes: Vec<&str> = r.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["svm", "svm", "svm", "cluster"]);
}

#[tokio::test]
async fn star_and_double_star_are_the_same_by_default() {
    let c = start().await;
    for p in [format!("{DUO}/{SVM1}"), MSGS.to_string()] {
        let a = c.get(&format!("{p}?fields=*")).await.body;
        let b = c.get(&format!("{p}?fields=**")).await.body;
        assert_eq!(a["records"], b["records"], "{p}");
        assert_eq!(a.get("fingerprint"), b.get("fingerprint"));
    }
}

#[tokio::test]
async fn post_refuses_fields_that_are_not_postable_and_unknown_accounts() {
    let c = start().await;
    // monitor (cluster) has no TOTP profile; `enabled` is not postable (lib postable_fields).
    let r = c
        .send(
            "POST",
            TOTP,
            &[],
            Some(json!({"owner": {"uuid": CLUSTER}, "account": {"name": "monitor"}, "enabled": true})),
        )
        .await;
    assert_eq!(
        (
            r.status,
            r.body["error"]["code"].as_str(),
            r.body["error"]["target"].as_str()
        ),
        (400, Some("262196"), Some("enabled"))
    );
    let r = c
        .send(
            "POST",
            TOTP,
            &[],
            Some(json!({"owner": {"uuid": CLUSTER}, "account": {"name": "nobody"}})),
        )
        .await;
    assert_eq!(
        (
            r.status,
            r.body["error"]["code"].as_str(),
            r.body["error"]["target"].as_str()
        ),
        (404, Some("4"), Some("account.name"))
    );
    // The account of another owner does not count either.
    let r = c
        .send(
            "POST",
            TOTP,
            &[],
            Some(json!({"owner": {"uuid": SVM2}, "account": {"name": "monitor"}})),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = c
        .send(
            "POST",
            TOTP,
            &[],
            Some(
                json!({"owner": {"uuid": CLUSTER}, "account": {"name": "monitor"}, "comment": "c"}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// A copy of `specs/` whose Duo collection also lists PATCH and DELETE (ONTAP-BEHAVIOR.md §7).
fn contract_with_duo_collection_writes() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&manifest().join("specs"), dir.path());
    let file = dir.path().join("endpoints/duo.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let inst = v["endpoints"][1]["methods"].clone();
    for m in ["PATCH", "DELETE"] {
        let mut def = inst[m].clone();
        def["query"] = json!(["filters", "return_records", "return_timeout"]);
        def["errors"] = json!([]);
        v["endpoints"][0]["methods"][m] = def;
    }
    std::fs::write(&file, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    dir
}

#[tokio::test]
async fn collection_patch_and_delete_for_any_family_the_catalog_lists() {
    let dir = contract_with_duo_collection_writes();
    let spec: &'static Spec = Spec::load(Some(dir.path())).expect("the edited contract loads");
    let mut cfg = MockConfig::new();
    cfg.spec = spec;
    let c = start_with(cfg).await;
    // Without a query field: refused, nothing changed.
    for m in ["PATCH", "DELETE"] {
        let r = c.send(m, DUO, &[], Some(json!({"comment": "all"}))).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (400, Some("2")),
            "{m}"
        );
        let r = c
            .send(
                m,
                &format!("{DUO}?return_timeout=15"),
                &[],
                Some(json!({"comment": "all"})),
            )
            .await;
        assert_eq!(r.status, 400, "{m} with only return_timeout");
    }
    assert_eq!(c.get(DUO).await.body["num_records"], 2);
    // PATCH with a filter changes the matching records only.
    let r = c
        .send(
            "PATCH",
            &format!("{DUO}?owner.uuid={SVM1}"),
            &[],
            Some(json!({"comment": "new"})),
        )
        .await;
    assert_eq!((r.status, &r.body["num_records"]), (200, &json!(1)));
    assert_eq!(c.get(&format!("{DUO}/{SVM1}")).await.body["comment"], "new");
    assert_eq!(
        c.get(&format!("{DUO}/{CLUSTER}")).await.body["comment"],
        "Duo profile for Cserver"
    );
    // A rejected body changes nothing.
    let r = c
        .send(
            "PATCH",
            &format!("{DUO}?comment=*"),
            &[],
            Some(json!({"max_prompts": 9})),
        )
        .await;
    assert_eq!(r.status, 400);
    // DELETE with a filter removes the matching records only.
    let r = c
        .send("DELETE", &format!("{DUO}?comment=new"), &[], None)
        .await;
    assert_eq!((r.status, &r.body["num_records"]), (200, &json!(1)));
    assert_eq!(c.get(&format!("{DUO}/{SVM1}")).await.status, 404);
    assert_eq!(c.get(DUO).await.body["num_records"], 1);
    // The built-in contract lists them too now (NetApp's conventions, §7); without a query field
    // they are refused.
    let plain = start().await;
    let r = plain.send("DELETE", DUO, &[], None).await;
    assert_eq!(r.status, 400);
}

// ---------------------------------------------------------------------------------------------
// What real clients send

#[tokio::test]
async fn double_slash_and_collection_parameters_on_instances() {
    let c = start().await;
    // na_ontap_rest_info: "https://host/api/" + the next href without its leading /api.
    let first = c.get(&format!("{MSGS}?max_records=2&fields=uuid")).await;
    let next = first.body["_links"]["next"]["href"].as_str().unwrap();
    let (s, v) = c
        .raw(&get_request(&format!(
            "/api/{}",
            next.strip_prefix("/api").unwrap()
        )))
        .await;
    assert!(next.starts_with("/api/") && s == 200, "{v}");
    assert_eq!(v["num_records"], 2);
    // max_records=1024 on every GET, /api/cluster and instances included.
    for p in [
        "/api/cluster?max_records=1024&fields=version".to_string(),
        format!("{MSGS}/{SVM1}?max_records=1024&return_records=true&order_by=uuid"),
        format!("{ACCOUNTS}/{CLUSTER}/admin?max_records=1024"),
    ] {
        let r = c.get(&p).await;
        assert_eq!(r.status, 200, "{p}: {}", r.body);
    }
    assert_eq!(c.get("/api/cluster?bogus=1").await.status, 400);
}

#[tokio::test]
async fn raw_operators_as_curl_sends_them() {
    let c = start().await;
    let (s, v) = c
        .raw(&get_request(&format!(
            "{DUO}?max_prompts=>0&fields=max_prompts"
        )))
        .await;
    assert_eq!((s, &v["num_records"]), (200, &json!(2)), "{v}");
    let (s, v) = c.raw(&get_request(&format!("{DUO}?max_prompts=<1"))).await;
    assert_eq!((s, &v["num_records"]), (200, &json!(0)), "{v}");
    let (s, v) = c.raw(&get_request(&format!("{MSGS}?banner=\"*\""))).await;
    assert_eq!((s, &v["num_records"]), (200, &json!(0)), "{v}");
    let (s, v) = c.raw(&get_request(&format!("{MSGS}?scope=!svm"))).await;
    assert_eq!((s, &v["num_records"]), (200, &json!(1)), "{v}");
    // An error in such a query still answers with the envelope.
    let (s, v) = c.raw(&get_request(&format!("{MSGS}?bogus=<1>"))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("262179")));
}

#[tokio::test]
async fn tls_speaks_http1_so_raw_operators_work_there_too() {
    let Ctx { mock, client } =
        common::mock_client::start_with(MockConfig::new(), Tls::SelfSigned).await;
    let r = client
        .get(format!("{}{MSGS}", mock.base_url))
        .basic_auth("admin", Some("netapp1!"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
}

#[tokio::test]
async fn oversized_body_answers_413_the_client_can_read() {
    let mut cfg = MockConfig::new();
    cfg.max_body = 1024;
    let c = start_with(cfg).await;
    let body = format!("{{\"banner\": \"{}\"}}", "x".repeat(256 * 1024));
    let head = format!(
        "PATCH {MSGS}/{SVM1} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {ADMIN_AUTH}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut req = head.into_bytes();
    req.extend_from_slice(body.as_bytes());
    let addr = c.mock.addr;
    let (s, v) = tokio::task::spawn_blocking(move || raw_http(addr, &req))
        .await
        .unwrap();
    assert_eq!((s, v["error"]["code"].as_str()), (413, Some("2")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("1024"));
    // Chunked, without a length: the same.
    let mut req = format!(
        "PATCH {MSGS}/{SVM1} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {ADMIN_AUTH}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.as_bytes().chunks(8192) {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let (s, _) = tokio::task::spawn_blocking(move || raw_http(addr, &req))
        .await
        .unwrap();
    assert_eq!(s, 413);
}

#[tokio::test]
async fn svm_tunnelling_scopes_a_cluster_administrator() {
    let c = start().await;
    let only = |r: &Resp| -> Vec<String> {
        r.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["uuid"].as_str().unwrap().to_string())
            .collect()
    };
    let r = c
        .send("GET", MSGS, &[("X-Dot-SVM-Name", "svm1")], None)
        .await;
    assert_eq!(only(&r), [SVM1]);
    let r = c.send("GET", MSGS, &[("X-Dot-SVM-UUID", SVM2)], None).await;
    assert_eq!(only(&r), [SVM2]);
    // It changes only that SVM's records.
    let r = c
        .send(
            "PATCH",
            &format!("{MSGS}/{CLUSTER}"),
            &[("X-Dot-SVM-Name", "svm1")],
            Some(json!({"message": "x"})),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = c
        .send(
            "PATCH",
            &format!("{MSGS}/{SVM1}"),
            &[("X-Dot-SVM-Name", "svm1")],
            Some(json!({"message": "tunnelled\n"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        c.get(&format!("{MSGS}/{SVM1}")).await.body["message"],
        "tunnelled\n"
    );
    // An unknown SVM is an error with the envelope.
    for (h, v) in [("X-Dot-SVM-Name", "nope"), ("X-Dot-SVM-UUID", "0000")] {
        let r = c.send("GET", MSGS, &[(h, v)], None).await;
        assert_eq!(
            (
                r.status,
                r.body["error"]["code"].as_str(),
                r.body["error"]["target"].as_str()
            ),
            (404, Some("4"), Some(h))
        );
    }
    // Two headers naming two SVMs: refused.
    let r = c
        .send(
            "GET",
            MSGS,
            &[("X-Dot-SVM-Name", "svm1"), ("X-Dot-SVM-UUID", SVM2)],
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    // An SVM administrator may not tunnel into another SVM.
    let r = c
        .client
        .get(format!("{}{MSGS}", c.mock.base_url))
        .basic_auth("vsadmin", Some("netapp1!"))
        .header("X-Dot-SVM-Name", "svm2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn a_state_file_that_cannot_be_written_answers_500_and_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut cfg = MockConfig::new();
    cfg.state_file = Some(state.clone());
    let c = start_with(cfg).await;
    let p = format!("{MSGS}/{SVM1}");
    let r = c
        .send("PATCH", &p, &[], Some(json!({"message": "saved\n"})))
        .await;
    assert_eq!(r.status, 200);
    assert!(
        std::fs::read_to_string(&state)
            .unwrap()
            .contains("saved\\n")
    );
    // The state path becomes a directory: the rename over it fails (even for root).
    std::fs::remove_file(&state).unwrap();
    std::fs::create_dir(&state).unwrap();
    let r = c
        .send("PATCH", &p, &[], Some(json!({"message": "lost\n"})))
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (500, Some("5")),
        "{}",
        r.body
    );
    assert_eq!(c.get(&p).await.body["message"], "saved\n");
    let r = c
        .send(
            "POST",
            DUO,
            &[],
            Some(json!({"owner": {"uuid": SVM2}, "api_host": "h", "integration_key": "k", "secret_key": "s"})),
        )
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(c.get(&format!("{DUO}/{SVM2}")).await.status, 404);
    let r = c.send("DELETE", &format!("{DUO}/{SVM1}"), &[], None).await;
    assert_eq!(r.status, 500);
    assert_eq!(c.get(&format!("{DUO}/{SVM1}")).await.status, 200);
    // No temporary file is left beside it.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, ["state.json"]);
}
