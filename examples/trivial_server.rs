//! The baseline of `bench/mock_rps.sh`: the most trivial axum handler, answering every request
//! with the same fixed JSON bytes (the mock's own answer, read from a file, so both servers send
//! bodies of the same size) over plain HTTP on the same kind of tokio runtime as the mock.
//!
//! Usage: trivial_server --body FILE [--listen 127.0.0.1:0]

use axum::http::header;
use axum::response::IntoResponse;
use std::net::SocketAddr;

fn usage(msg: &str) -> ! {
    eprintln!("trivial_server: {msg}\nusage: trivial_server --body FILE [--listen ADDR]");
    std::process::exit(2);
}

#[tokio::main]
async fn main() {
    let mut listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut body: Option<Vec<u8>> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => {
                let v = args.next().unwrap_or_else(|| usage("--listen needs ADDR"));
                listen = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("bad address {v:?}")));
            }
            "--body" => {
                let v = args.next().unwrap_or_else(|| usage("--body needs FILE"));
                body = Some(std::fs::read(&v).unwrap_or_else(|e| usage(&format!("{v}: {e}"))));
            }
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    let body: &'static [u8] = Box::leak(
        body.unwrap_or_else(|| usage("--body is required"))
            .into_boxed_slice(),
    );
    let app = axum::Router::new().fallback(move || async move {
        ([(header::CONTENT_TYPE, "application/hal+json")], body).into_response()
    });
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .unwrap_or_else(|e| usage(&format!("cannot listen on {listen}: {e}")));
    let addr = listener.local_addr().expect("bound address");
    println!(
        "trivial server listening on http://{addr} ({} byte body)",
        body.len()
    );
    axum::serve(listener, app).await.expect("serve");
}
