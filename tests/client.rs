//! The harness's HTTP client for real, over loopback: certificate pinning and --insecure against
//! the mock's HTTPS, no redirect followed, a timeout that bounds the whole exchange, an answer
//! cut off at --max-answer-bytes, proxies (a CONNECT/forward proxy written here) with their
//! credentials never printed, client-certificate login, and the one-line reasons a run ends with.

mod common;

use common::bin::Run;
use ontap_conform::client::{
    Client, ClientConfig, ClientIdentity, Credentials, Proxies, ProxyUrl, Request, Trust,
};
use ontap_conform::mock::{self, MockConfig, RunningMock, Tls};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const PW: &str = "netapp1!";

fn runtime() -> tokio::runtime::Runtime {
    ontap_conform::client::install_crypto();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn start_mock(rt: &tokio::runtime::Runtime, cfg: MockConfig, tls: Tls) -> RunningMock {
    rt.block_on(mock::spawn(cfg, "127.0.0.1:0".parse().unwrap(), tls))
        .unwrap()
}

fn client(base: &str, trust: Trust) -> ClientConfig {
    ClientConfig::new(base, Credentials::new("admin", PW), trust)
}

fn get_cluster(rt: &tokio::runtime::Runtime, cfg: ClientConfig) -> Result<u16, String> {
    let c = Client::new(cfg).map_err(|e| e.to_string())?;
    rt.block_on(c.send(Request::get("/api/cluster")))
        .map(|x| x.response.status)
        .map_err(|e| e.0)
}

/// The binary (no proxy from this process's environment: `common::bin::oc`), with the password.
fn bin() -> Command {
    let mut c = common::bin::oc();
    c.env("OC_PW", PW);
    c
}

/// A short read-only run against `url`.
fn run_args(url: &str) -> Vec<String> {
    [
        "run",
        "--target",
        url,
        "--read-only",
        "--no-progress",
        "--seed",
        "1",
        "--cases",
        "2",
        "--check",
        "not-found",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn write_file(dir: &tempfile::TempDir, name: &str, content: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, content).unwrap();
    p.display().to_string()
}

/// A CA, and a client certificate it signed for `cn` (certificate PEM, key PEM).
struct Ca {
    pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }
    fn client_cert(&self, cn: &str) -> (String, String) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

#[test]
fn the_mocks_certificate_pinned_works_and_another_ca_fails_in_one_line() {
    let rt = runtime();
    let m = start_mock(&rt, MockConfig::new(), Tls::SelfSigned);
    let ca = m.ca_pem.clone().unwrap();
    assert_eq!(
        get_cluster(&rt, client(&m.base_url, Trust::CaPem(ca.clone()))),
        Ok(200)
    );
    // --insecure: any certificate.
    assert_eq!(
        get_cluster(&rt, client(&m.base_url, Trust::Insecure)),
        Ok(200)
    );
    // Another CA, and the platform's roots: both refuse the mock's self-signed certificate.
    let other = Ca::new("another CA").pem;
    for trust in [Trust::CaPem(other.clone()), Trust::System] {
        let e = get_cluster(&rt, client(&m.base_url, trust)).unwrap_err();
        assert!(e.contains("certificate"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }

    // The run: pinned, exit 0; another CA, exit 3 with one line and the hint.
    let dir = tempfile::tempdir().unwrap();
    let good = write_file(&dir, "mock.pem", &ca);
    let bad = write_file(&dir, "other.pem", &other);
    let ok = bin()
        .args(run_args(&m.base_url))
        .args(["--password-env", "OC_PW", "--ca-cert", &good])
        .run();
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let insecure = bin()
        .args(run_args(&m.base_url))
        .args(["--password-env", "OC_PW", "--insecure"])
        .run();
    assert_eq!(insecure.status.code(), Some(0), "{}", text(&insecure));
    let refused = bin()
        .args(run_args(&m.base_url))
        .args(["--password-env", "OC_PW", "--ca-cert", &bad])
        .run();
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("(the certificate is not trusted: use --ca-cert FILE, or --insecure)"),
        "{err}"
    );
}

#[test]
fn a_url_whose_scheme_does_not_match_the_port_gets_a_hint() {
    let rt = runtime();
    let tls = start_mock(&rt, MockConfig::new(), Tls::SelfSigned);
    let plain = start_mock(&rt, MockConfig::new(), Tls::Plain);
    let o = bin()
        .args(run_args(&format!("http://{}", tls.addr)))
        .args(["--password-env", "OC_PW"])
        .run();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("this port speaks TLS: use https://"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let o = bin()
        .args(run_args(&format!("https://{}", plain.addr)))
        .args(["--password-env", "OC_PW", "--insecure"])
        .run();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("this port speaks plain HTTP: use http://"),
        "{err}"
    );
    // The right scheme on the plain port works, and a TLS port never gets the plain-HTTP hint.
    let o = bin()
        .args(run_args(&plain.base_url))
        .args(["--password-env", "OC_PW"])
        .run();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// Reads one request head; None at the end of the connection.
fn read_head(r: &mut impl BufRead) -> Option<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            return Some(lines);
        }
        lines.push(line);
    }
}

/// A server on loopback that runs `answer` for every connection (std threads).
fn serve(answer: impl Fn(TcpStream) + Send + Sync + 'static) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let answer = Arc::new(answer);
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            let a = answer.clone();
            thread::spawn(move || a(s));
        }
    });
    addr
}

/// A server that answers every request with `answer`, and the heads of the requests it read,
/// one list of lines each.
fn answering(answer: &'static [u8]) -> (SocketAddr, Arc<Mutex<Vec<Vec<String>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let addr = serve(move |s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        while let Some(head) = read_head(&mut r) {
            log.lock().unwrap().push(head);
            let _ = w.write_all(answer);
        }
    });
    (addr, seen)
}

#[test]
fn a_redirect_is_answered_not_followed() {
    let rt = runtime();
    let (addr, seen) =
        answering(b"HTTP/1.1 302 Found\r\nLocation: /api/elsewhere\r\nContent-Length: 0\r\n\r\n");
    let c = Client::new(client(&format!("http://{addr}"), Trust::System)).unwrap();
    let x = rt.block_on(c.send(Request::get("/api/cluster"))).unwrap();
    assert_eq!(x.response.status, 302);
    assert_eq!(x.response.location.as_deref(), Some("/api/elsewhere"));
    thread::sleep(Duration::from_millis(200));
    let request_lines: Vec<String> = seen.lock().unwrap().iter().map(|h| h[0].clone()).collect();
    assert_eq!(request_lines, vec!["GET /api/cluster HTTP/1.1".to_string()]);
}

/// The request carries one Host header, the target's host and port, as hyper writes it when the
/// client sets none (the client sets it itself, once).
#[test]
fn a_request_names_its_host_once_with_the_port() {
    let rt = runtime();
    let (addr, seen) = answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    let c = Client::new(client(&format!("http://{addr}"), Trust::System)).unwrap();
    let x = rt.block_on(c.send(Request::get("/api/cluster"))).unwrap();
    assert_eq!(x.response.status, 200);
    let hosts: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .flatten()
        .filter(|l| l.to_ascii_lowercase().starts_with("host:"))
        .cloned()
        .collect();
    assert_eq!(hosts, vec![format!("host: {addr}")]);
}

#[test]
fn the_timeout_bounds_headers_and_body_together() {
    let rt = runtime();
    // Headers trickle in for 1.6 s, then the body trickles: each phase alone is under the 2 s
    // timeout, so only a bound on the whole exchange ends it at 2 s.
    let addr = serve(|s| {
        let mut w = s;
        let mut r = BufReader::new(w.try_clone().unwrap());
        if read_head(&mut r).is_none() {
            return;
        }
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n";
        for b in head.as_bytes() {
            if w.write_all(&[*b]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(1600 / head.len() as u64));
        }
        for _ in 0..400 {
            if w.write_all(b" ").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    let cfg = ClientConfig {
        timeout: Duration::from_secs(2),
        ..client(&format!("http://{addr}"), Trust::System)
    };
    let c = Client::new(cfg).unwrap();
    let start = Instant::now();
    let e = rt
        .block_on(c.send(Request::get("/api/cluster")))
        .unwrap_err();
    let took = start.elapsed();
    assert!(e.0.starts_with("timed out"), "{}", e.0);
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(3000),
        "took {took:?}"
    );
}

/// Serves an answer whose body never ends (chunked), counting what it wrote until the client
/// went away.
fn endless(declared: Option<u64>) -> (SocketAddr, std::sync::mpsc::Receiver<usize>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = Mutex::new(tx);
    let addr = serve(move |s| {
        let mut w = s;
        let mut r = BufReader::new(w.try_clone().unwrap());
        if read_head(&mut r).is_none() {
            return;
        }
        let head = match declared {
            Some(n) => format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n"),
            None => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_string(),
        };
        let mut written = 0usize;
        if w.write_all(head.as_bytes()).is_ok() {
            let data = vec![b'x'; 16 * 1024];
            loop {
                let chunk = match declared {
                    Some(_) => data.clone(),
                    None => [format!("{:x}\r\n", data.len()).as_bytes(), &data, b"\r\n"].concat(),
                };
                if w.write_all(&chunk).is_err() {
                    break;
                }
                written += data.len();
                // Past 1 GiB the client did not stop: give up (the test fails below).
                if written > 1 << 30 {
                    break;
                }
            }
        }
        let _ = tx.lock().unwrap().send(written);
    });
    (addr, rx)
}

#[test]
fn an_endless_answer_is_cut_off_at_max_answer_bytes() {
    let rt = runtime();
    for declared in [None, Some(u64::MAX / 2)] {
        let (addr, written) = endless(declared);
        let cfg = ClientConfig {
            max_answer_bytes: 256 * 1024,
            ..client(&format!("http://{addr}"), Trust::System)
        };
        let c = Client::new(cfg).unwrap();
        let start = Instant::now();
        let e = rt
            .block_on(c.send(Request::get("/api/cluster")))
            .unwrap_err();
        assert_eq!(
            e.0, "the answer exceeded 262144 bytes (--max-answer-bytes); it was cut off",
            "{declared:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(10));
        drop(c);
        // The client hung up instead of reading on: the server stopped writing, having sent
        // little more than the bound and what the sockets buffer.
        let sent = written.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(sent < 64 << 20, "the server wrote {sent} bytes");
    }
}

/// A minimal HTTP proxy (CONNECT and absolute-form forwarding) that notes the first request line
/// of every connection, and whether it carried Proxy-Authorization.
fn start_proxy() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let addr = serve(move |client| {
        let mut r = BufReader::new(client.try_clone().unwrap());
        let Some(head) = read_head(&mut r) else {
            return;
        };
        let auth = head.iter().any(|l| {
            l.to_ascii_lowercase()
                .starts_with("proxy-authorization: basic ")
        });
        log.lock()
            .unwrap()
            .push(format!("{}{}", head[0], if auth { " [auth]" } else { "" }));
        let mut parts = head[0].split(' ');
        let (method, target) = (parts.next().unwrap(), parts.next().unwrap());
        let authority = if method == "CONNECT" {
            target.to_string()
        } else {
            let rest = target.split_once("://").unwrap().1;
            rest.split('/').next().unwrap().to_string()
        };
        let Ok(mut upstream) = TcpStream::connect(&authority) else {
            let mut c = client;
            let _ = c.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
            return;
        };
        let mut c = client;
        if method == "CONNECT" {
            c.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .unwrap();
        } else {
            let mut out = String::new();
            for l in head
                .iter()
                .filter(|l| !l.to_ascii_lowercase().starts_with("proxy-"))
            {
                out.push_str(l);
                out.push_str("\r\n");
            }
            out.push_str("\r\n");
            upstream.write_all(out.as_bytes()).unwrap();
        }
        let _ = upstream.write_all(r.buffer());
        let mut up_read = upstream.try_clone().unwrap();
        let mut c_write = c.try_clone().unwrap();
        let back = thread::spawn(move || {
            let _ = std::io::copy(&mut up_read, &mut c_write);
            let _ = c_write.shutdown(std::net::Shutdown::Both);
        });
        let mut rest = r.into_inner();
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = rest.read(&mut buf) {
            if n == 0 || upstream.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = upstream.shutdown(std::net::Shutdown::Both);
        let _ = back.join();
    });
    (addr, seen)
}

#[test]
fn requests_go_through_the_proxy_unless_no_proxy_names_the_target() {
    let rt = runtime();
    let m = start_mock(&rt, MockConfig::new(), Tls::SelfSigned);
    let plain = start_mock(&rt, MockConfig::new(), Tls::Plain);
    let dir = tempfile::tempdir().unwrap();
    let ca = write_file(&dir, "mock.pem", m.ca_pem.as_deref().unwrap());
    let target = format!("https://{}", m.addr);

    // --proxy with credentials: every request is tunnelled, and the credentials are sent to the
    // proxy but never printed: not on stdout or stderr, not in the JSON report.
    let (paddr, seen) = start_proxy();
    let report = dir.path().join("report.json");
    let o = bin()
        .args(run_args(&target))
        .args(["--password-env", "OC_PW", "--ca-cert", &ca])
        .args(["--proxy", &format!("http://puser:pr0xy-s3cret@{paddr}")])
        .arg("--report")
        .arg(format!("json={}", report.display()))
        .run();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let tunnels = seen.lock().unwrap().clone();
    assert!(!tunnels.is_empty());
    for t in &tunnels {
        assert_eq!(t, &format!("CONNECT {} HTTP/1.1 [auth]", m.addr));
    }
    let out = text(&o);
    assert!(
        out.contains(&format!("via proxy http://***@{paddr}")),
        "{out}"
    );
    let json = std::fs::read_to_string(&report).unwrap();
    assert!(
        json.contains(&format!("via proxy http://***@{paddr}")),
        "{json}"
    );
    for secret in ["pr0xy-s3cret", "puser:", "cHVzZXI6cHIweHktczNjcmV0"] {
        assert!(!out.contains(secret), "{secret} in {out}");
        assert!(!json.contains(secret), "{secret} in the report");
    }

    // HTTPS_PROXY from the environment: tunnelled too; with NO_PROXY naming the target: direct.
    let (paddr, seen) = start_proxy();
    let o = bin()
        .args(run_args(&target))
        .args(["--password-env", "OC_PW", "--ca-cert", &ca])
        .env("HTTPS_PROXY", format!("http://{paddr}"))
        .run();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|l| l == &format!("CONNECT {} HTTP/1.1", m.addr))
    );
    let through = seen.lock().unwrap().len();
    assert!(through > 0);
    for no_proxy in ["127.0.0.1", "localhost,127.0.0.0/8", "*"] {
        let o = bin()
            .args(run_args(&target))
            .args(["--password-env", "OC_PW", "--ca-cert", &ca])
            .env("HTTPS_PROXY", format!("http://{paddr}"))
            .env("NO_PROXY", no_proxy)
            .run();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(!text(&o).contains("via proxy"), "{}", text(&o));
        assert_eq!(seen.lock().unwrap().len(), through, "NO_PROXY={no_proxy}");
    }

    // An http:// target goes through HTTP_PROXY in absolute form.
    let (paddr, seen) = start_proxy();
    let cfg = ClientConfig {
        proxy: Proxies {
            http: Some(ProxyUrl::parse("HTTP_PROXY", &format!("http://{paddr}")).unwrap()),
            ..Proxies::default()
        },
        ..client(&plain.base_url, Trust::System)
    };
    assert_eq!(get_cluster(&rt, cfg), Ok(200));
    assert_eq!(
        *seen.lock().unwrap(),
        vec![format!("GET {}/api/cluster HTTP/1.1", plain.base_url)]
    );
}

#[test]
fn a_proxy_that_cannot_be_reached_ends_the_run_without_its_credentials() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let o = bin()
        .args(run_args("https://127.0.0.1:9"))
        .args(["--password-env", "OC_PW", "--insecure"])
        .args(["--proxy", &format!("http://puser:pr0xy-s3cret@{closed}")])
        .run();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let out = text(&o);
    assert!(
        !out.contains("pr0xy-s3cret") && !out.contains("puser"),
        "{out}"
    );
    // A bad proxy URL is a usage error that names the flag, without the credentials.
    let o = bin()
        .args(run_args("https://127.0.0.1:9"))
        .args(["--password-env", "OC_PW", "--insecure"])
        .args(["--proxy", "ftp://puser:pr0xy-s3cret@proxy"])
        .run();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("--proxy") && !out.contains("pr0xy-s3cret"),
        "{out}"
    );
}

#[test]
fn a_client_certificate_from_the_mocks_client_ca_logs_in_without_a_password() {
    let rt = runtime();
    let ca = Ca::new("lab CA");
    let cfg = MockConfig {
        client_ca: Some(ca.pem.clone()),
        ..MockConfig::new()
    };
    let m = start_mock(&rt, cfg, Tls::SelfSigned);
    let server_ca = m.ca_pem.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = ca.client_cert("admin");
    let cert_file = write_file(&dir, "admin.pem", &cert);
    let key_file = write_file(&dir, "admin.key", &key);
    let identity = |cert: &str, key: &str| {
        ClientIdentity::new(
            dir.path().join("c.pem"),
            cert,
            dir.path().join("k.pem"),
            key,
        )
        .unwrap()
    };
    let login = |id: Option<ClientIdentity>| {
        get_cluster(
            &rt,
            ClientConfig {
                identity: id,
                ..ClientConfig::new(
                    &m.base_url,
                    Credentials::certificate("admin"),
                    Trust::CaPem(server_ca.clone()),
                )
            },
        )
    };
    // The certificate, no password: 200. Neither: 401.
    assert_eq!(login(Some(identity(&cert, &key))), Ok(200));
    assert_eq!(login(None), Ok(401));
    // A certificate for a user the mock does not know: 401.
    let (stranger, stranger_key) = ca.client_cert("nobody");
    assert_eq!(login(Some(identity(&stranger, &stranger_key))), Ok(401));
    // A certificate from another CA: the handshake is refused.
    let (forged, forged_key) = Ca::new("another CA").client_cert("admin");
    let e = login(Some(identity(&forged, &forged_key))).unwrap_err();
    assert!(
        e.starts_with("could not connect") || e.starts_with("request failed"),
        "{e}"
    );
    // A client cannot claim a certificate login with a header.
    let c = Client::new(ClientConfig::new(
        &m.base_url,
        Credentials::certificate("admin"),
        Trust::CaPem(server_ca.clone()),
    ))
    .unwrap();
    let forged_header = rt.block_on(async {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(server_ca.as_bytes()).unwrap()])
            .build()
            .unwrap()
            .get(format!("{}/api/cluster", c.base_url()))
            .header("x-ontap-conform-cert-user", "admin")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(forged_header, 401);

    // The run: --client-cert and --client-key, no --password-env.
    let mock_pem = write_file(&dir, "mock.pem", &server_ca);
    let o = bin()
        .args(run_args(&m.base_url))
        .args(["--ca-cert", &mock_pem, "--client-cert", &cert_file])
        .args(["--client-key", &key_file])
        .run();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // One without the other: exit 2, naming the missing one.
    let o = bin()
        .args(run_args(&m.base_url))
        .args(["--ca-cert", &mock_pem, "--client-cert", &cert_file])
        .run();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("needs --client-key FILE"), "{}", text(&o));
    let o = bin()
        .args(run_args(&m.base_url))
        .args(["--ca-cert", &mock_pem, "--client-key", &key_file])
        .run();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("needs --client-cert FILE"),
        "{}",
        text(&o)
    );
}
