//! Serving the mock on a socket: HTTPS (rustls with the ring provider, a self-signed certificate
//! made at start or a PEM pair) or plain HTTP, HTTP/1.1 and HTTP/2, a hand-rolled accept loop with
//! timeouts so a stalled client cannot hold a connection forever, and a clean shutdown. TLS
//! offers HTTP/1.1 only, read through [`super::lenient`] (see there why). A connection idle for
//! `idle_timeout` is closed, and beyond `max_connections` open at once a new one is answered 503
//! and closed, so that idle clients cannot starve the others. With a client CA
//! (`mock --client-ca`), a client certificate that CA signed logs the connection in as the user
//! its CN names: the verified name reaches the handler in [`CERT_USER_HEADER`], which is removed
//! from every request a client sends.

use super::MockConfig;
use super::lenient::Lenient;
use crate::error::{Error, Result};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// The request header that carries the CN of the connection's verified client certificate to
/// authentication. Set only here, from the TLS layer; a client sending it has it removed.
pub const CERT_USER_HEADER: &str = "x-ontap-conform-cert-user";

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the request head may take to arrive.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long shutdown waits for open connections to finish their requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How the mock speaks on the wire.
#[derive(Debug, Clone)]
pub enum Tls {
    /// HTTPS with a self-signed certificate for `localhost`, `127.0.0.1` and `::1`, made at start.
    SelfSigned,
    /// HTTPS with this certificate chain and private key (PEM text, not file names).
    Pem { cert: String, key: String },
    /// Plain HTTP.
    Plain,
}

/// A mock serving in the background. Dropping it stops it too; [`RunningMock::shutdown`] also
/// waits until it has stopped.
pub struct RunningMock {
    pub addr: SocketAddr,
    /// `https://127.0.0.1:PORT` (or `http://` with [`Tls::Plain`]).
    pub base_url: String,
    /// PEM of the self-signed certificate, to trust it (None for a PEM pair or plain HTTP).
    pub ca_pem: Option<String>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RunningMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningMock")
            .field("addr", &self.addr)
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl RunningMock {
    /// Stops accepting, lets open connections finish (up to a few seconds), then ends them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_ca: Option<&str>,
) -> Result<rustls::ServerConfig> {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS setup: {e}")))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(pem) => builder.with_client_cert_verifier(client_verifier(pem)?),
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| Error::Usage(format!("--cert/--key: the pair is not usable ({e})")))?;
    // HTTP/1.1 only: over HTTP/2, h2 resets a stream whose :path holds the raw `<`, `>` or `"`
    // that curl users type, and nothing can make it accept them; over HTTP/1.1 the mock's
    // lenient request line ([`super::lenient`]) can. Plain HTTP still takes HTTP/2 with prior
    // knowledge (strict).
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Accepts client certificates signed by the CA in `pem`, and clients without one (they log in
/// with Basic auth); a certificate from another CA fails the handshake.
fn client_verifier(pem: &str) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert =
            cert.map_err(|e| Error::Usage(format!("--client-ca: not a PEM certificate ({e})")))?;
        roots
            .add(cert)
            .map_err(|e| Error::Usage(format!("--client-ca: not a usable CA certificate ({e})")))?;
    }
    if roots.is_empty() {
        return Err(Error::Usage(
            "--client-ca: no certificate found; expected PEM \"BEGIN CERTIFICATE\" blocks".into(),
        ));
    }
    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .allow_unauthenticated()
        .build()
        .map_err(|e| Error::Usage(format!("--client-ca: not usable ({e})")))
}

/// Builds the TLS acceptor, and the PEM to trust when the certificate is self-signed.
fn tls_setup(tls: &Tls, client_ca: Option<&str>) -> Result<(Option<TlsAcceptor>, Option<String>)> {
    match tls {
        Tls::Plain if client_ca.is_some() => Err(Error::Usage(
            "--client-ca needs HTTPS: drop --plain-http".into(),
        )),
        Tls::Plain => Ok((None, None)),
        Tls::SelfSigned => {
            let ck = rcgen::generate_simple_self_signed(vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
                "::1".to_string(),
            ])
            .map_err(|e| Error::Internal(format!("self-signed certificate: {e}")))?;
            let pem = ck.cert.pem();
            let key = PrivateKeyDer::try_from(ck.signing_key.serialize_der())
                .map_err(|e| Error::Internal(format!("self-signed key: {e}")))?;
            let cfg = server_config(vec![ck.cert.der().clone()], key, client_ca)?;
            Ok((Some(TlsAcceptor::from(Arc::new(cfg))), Some(pem)))
        }
        Tls::Pem { cert, key } => {
            let certs: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|e| {
                        Error::Usage(format!("--cert: not a PEM certificate chain ({e})"))
                    })?;
            if certs.is_empty() {
                return Err(Error::Usage(
                    "--cert: no certificate found; expected PEM \"BEGIN CERTIFICATE\" blocks"
                        .into(),
                ));
            }
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| {
                Error::Usage(format!(
                    "--key: not a PEM private key ({e}); expected PKCS#8, PKCS#1 or SEC1"
                ))
            })?;
            let cfg = server_config(certs, key, client_ca)?;
            Ok((Some(TlsAcceptor::from(Arc::new(cfg))), None))
        }
    }
}

/// Binds, starts serving in the background (tokio), returns once listening.
pub async fn spawn(config: MockConfig, listen: SocketAddr, tls: Tls) -> Result<RunningMock> {
    let (acceptor, ca_pem) = tls_setup(&tls, config.client_ca.as_deref())?;
    let limits = Limits {
        idle: config.idle_timeout,
        max_connections: config.max_connections.max(1),
    };
    let router = super::app(config)?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| Error::Usage(format!("--listen {listen}: cannot listen there ({e})")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(format!("listening socket: {e}")))?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(serve(listener, acceptor, router, stop_rx, limits));
    Ok(RunningMock {
        addr,
        base_url: format!("{scheme}://{addr}"),
        ca_pem,
        stop,
        task,
    })
}

/// What bounds the connections of a mock.
#[derive(Debug, Clone, Copy)]
struct Limits {
    idle: Duration,
    max_connections: usize,
}

/// Counts an open connection until dropped.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
    limits: Limits,
) {
    let mut conns = JoinSet::new();
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    if open.load(Ordering::SeqCst) >= limits.max_connections {
                        conns.spawn(refuse(stream, acceptor.clone()));
                        continue;
                    }
                    open.fetch_add(1, Ordering::SeqCst);
                    let counted = Open(open.clone());
                    let conn = connection(stream, acceptor.clone(), router.clone(), stop.clone(), limits.idle);
                    conns.spawn(async move {
                        conn.await;
                        drop(counted);
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
}

/// The answer to a connection beyond the cap: its request head is read (a little while at
/// most), then 503 with the error envelope, and the connection is closed.
async fn refuse(stream: TcpStream, acceptor: Option<TlsAcceptor>) {
    const BODY: &str =
        r#"{"error":{"message":"Too many open connections; try again later.","code":"2"}}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    async fn answer_on<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, answer: &str) {
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        let _ = s.write_all(answer.as_bytes()).await;
        let _ = s.shutdown().await;
    }
    match acceptor {
        None => answer_on(stream, &answer).await,
        Some(acc) => {
            if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acc.accept(stream)).await {
                answer_on(tls, &answer).await;
            }
        }
    }
}

/// A stream that notes when a byte last went in either direction.
struct Activity<S> {
    inner: S,
    last: Arc<AtomicU64>,
    base: Instant,
}

impl<S> Activity<S> {
    fn touch(&self) {
        self.last
            .store(self.base.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Activity<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Activity<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// When a connection has been idle (no byte either way) for `idle`: ends then (never with zero).
#[derive(Clone)]
struct Idle {
    last: Arc<AtomicU64>,
    base: Instant,
    idle: Duration,
}

impl Idle {
    async fn expired(&self) {
        if self.idle.is_zero() {
            return std::future::pending().await;
        }
        let tick = (self.idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        loop {
            tokio::time::sleep(tick).await;
            let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
            if self.base.elapsed().saturating_sub(last) >= self.idle {
                return;
            }
        }
    }
}

async fn connection(
    stream: TcpStream,
    acceptor: Option<TlsAcceptor>,
    router: axum::Router,
    stop: watch::Receiver<bool>,
    idle: Duration,
) {
    let base = Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let idle = Idle {
        last: last.clone(),
        base,
        idle,
    };
    let stream = Activity {
        inner: stream,
        last,
        base,
    };
    match acceptor {
        None => drive(TokioIo::new(Lenient::new(stream)), router, None, stop, idle).await,
        Some(acc) => {
            // A failed or stalled handshake just closes the connection.
            if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acc.accept(stream)).await {
                // rustls verified the chain against --client-ca before the handshake completed.
                let user = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| common_name(c.as_ref()))
                    .and_then(|cn| http::HeaderValue::from_str(&cn).ok());
                drive(TokioIo::new(Lenient::new(tls)), router, user, stop, idle).await
            }
        }
    }
}

async fn drive<I>(
    io: I,
    router: axum::Router,
    cert_user: Option<http::HeaderValue>,
    mut stop: watch::Receiver<bool>,
    idle: Idle,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    use tower::ServiceExt;
    // What a client says about its certificate is never believed: only the TLS layer's word.
    let router = router.map_request(move |mut req: http::Request<hyper::body::Incoming>| {
        let headers = req.headers_mut();
        headers.remove(CERT_USER_HEADER);
        if let Some(user) = &cert_user {
            headers.insert(CERT_USER_HEADER, user.clone());
        }
        req
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection(io, TowerToHyperService::new(router));
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
        // Idle for too long: closed (a request in flight still finishes, within bounds).
        _ = idle.expired() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, conn).await;
        }
    }
}

/// The subject CN of a DER certificate, read with a minimal DER walk (Certificate ->
/// tbsCertificate -> subject -> the attribute 2.5.4.3); None when it has none.
pub(crate) fn common_name(der: &[u8]) -> Option<String> {
    /// One TLV: (tag, contents, the rest after it).
    fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = b.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (first as usize, rest)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n].iter().fold(0usize, |a, &d| (a << 8) | d as usize);
            (len, &rest[n..])
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }
    const SEQUENCE: u8 = 0x30;
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    let (SEQUENCE, cert, _) = tlv(der)? else {
        return None;
    };
    let (SEQUENCE, mut tbs, _) = tlv(cert)? else {
        return None;
    };
    // [0] version (optional), serial, signature algorithm, issuer, validity, subject.
    let mut field = 0;
    loop {
        let (tag, body, rest) = tlv(tbs)?;
        tbs = rest;
        if tag == 0xa0 {
            continue;
        }
        field += 1;
        if field == 5 {
            if tag != SEQUENCE {
                return None;
            }
            let mut rdns = body;
            while !rdns.is_empty() {
                let (_, set, rest) = tlv(rdns)?;
                rdns = rest;
                let mut attrs = set;
                while !attrs.is_empty() {
                    let (_, attr, rest) = tlv(attrs)?;
                    attrs = rest;
                    let (0x06, oid, value) = tlv(attr)? else {
                        continue;
                    };
                    if oid == CN {
                        let (_, text, _) = tlv(value)?;
                        return String::from_utf8(text.to_vec()).ok();
                    }
                }
            }
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_common_name_is_read_from_the_subject_not_the_issuer() {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "the CA");
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "NetApp lab");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "vsadmin");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        assert_eq!(super::common_name(cert.der()).as_deref(), Some("vsadmin"));
        assert_eq!(super::common_name(ca.der()).as_deref(), Some("the CA"));
        assert_eq!(super::common_name(b"\x30\x03\x02\x01"), None);
    }
}
