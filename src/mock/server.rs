//! Serving the mock on a socket: HTTPS (rustls with the ring provider, a self-signed certificate
//! made at start or a PEM pair) or plain HTTP, HTTP/1.1 and HTTP/2, a hand-rolled accept loop with
//! timeouts so a stalled client cannot hold a connection forever, and a clean shutdown. TLS
//! offers HTTP/1.1 only, read through [`super::lenient`] (see there why).

use super::MockConfig;
use super::lenient::Lenient;
use crate::error::{Error, Result};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

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
) -> Result<rustls::ServerConfig> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Usage(format!("--cert/--key: the pair is not usable ({e})")))?;
    // HTTP/1.1 only: over HTTP/2, h2 resets a stream whose :path holds the raw `<`, `>` or `"`
    // that curl users type, and nothing can make it accept them; over HTTP/1.1 the mock's
    // lenient request line ([`super::lenient`]) can. Plain HTTP still takes HTTP/2 with prior
    // knowledge (strict).
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Builds the TLS acceptor, and the PEM to trust when the certificate is self-signed.
fn tls_setup(tls: &Tls) -> Result<(Option<TlsAcceptor>, Option<String>)> {
    match tls {
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
            let cfg = server_config(vec![ck.cert.der().clone()], key)?;
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
            let cfg = server_config(certs, key)?;
            Ok((Some(TlsAcceptor::from(Arc::new(cfg))), None))
        }
    }
}

/// Binds, starts serving in the background (tokio), returns once listening.
pub async fn spawn(config: MockConfig, listen: SocketAddr, tls: Tls) -> Result<RunningMock> {
    let router = super::app(config)?;
    let (acceptor, ca_pem) = tls_setup(&tls)?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| Error::Usage(format!("--listen {listen}: cannot listen there ({e})")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(format!("listening socket: {e}")))?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(serve(listener, acceptor, router, stop_rx));
    Ok(RunningMock {
        addr,
        base_url: format!("{scheme}://{addr}"),
        ca_pem,
        stop,
        task,
    })
}

async fn serve(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(connection(stream, acceptor.clone(), router.clone(), stop.clone()));
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

async fn connection(
    stream: TcpStream,
    acceptor: Option<TlsAcceptor>,
    router: axum::Router,
    stop: watch::Receiver<bool>,
) {
    match acceptor {
        None => drive(TokioIo::new(Lenient::new(stream)), router, stop).await,
        Some(acc) => {
            // A failed or stalled handshake just closes the connection.
            if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acc.accept(stream)).await {
                drive(TokioIo::new(Lenient::new(tls)), router, stop).await
            }
        }
    }
}

async fn drive<I>(io: I, router: axum::Router, mut stop: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
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
    }
}
