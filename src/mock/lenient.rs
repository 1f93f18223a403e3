//! Lenient HTTP/1.1 request lines. curl users type ONTAP's query operators raw
//! (`?max_prompts=>1`, `?banner="a b"`, ONTAP-BEHAVIOR.md §5) and curl sends `<`, `>` and `"`
//! unencoded. hyper cannot be told to accept them: httparse lets them through, but the `http`
//! crate's `Uri` parser refuses `"`, `<` and `>` in a query (and `<`, `>`, `` ` `` in a path), so
//! hyper answers a bare 400 without ONTAP's envelope before the mock sees the request; over
//! HTTP/2, h2 builds the same `Uri` from `:path` and resets the stream (h2 0.4 `server.rs`,
//! "malformed headers: malformed path"). Neither has a switch for it.
//!
//! So the mock offers HTTP/1.1 only in ALPN (TLS clients such as curl then speak HTTP/1.1), and
//! this wrapper percent-encodes those bytes in the request target of each HTTP/1.x request line
//! on the way in (`<` becomes `%3C`): the query engine decodes them back, so the request means
//! what the client typed. Nothing else is touched: headers and bodies pass as they are (bodies
//! are skipped by `Content-Length`). After a chunked body, or on an HTTP/2 prior-knowledge
//! connection (plain HTTP only), the wrapper steps aside for the rest of the connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The longest header line the wrapper follows; beyond it, it steps aside (hyper judges it).
const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Before a request line (blank lines allowed).
    Start,
    /// The method.
    Method,
    /// The request target: the bytes rewritten.
    Target,
    /// The rest of the request line (the version).
    Version,
    /// Header lines.
    Headers,
    /// A body of known length: this many bytes left.
    Body(u64),
    /// Passing everything untouched (chunked body seen, HTTP/2, or a line too long).
    Aside,
}

/// A stream whose incoming HTTP/1.x request targets are made acceptable to hyper.
pub struct Lenient<S> {
    inner: S,
    state: Reading,
    /// The method or header line being read.
    line: Vec<u8>,
    content_length: u64,
    chunked: bool,
    /// Rewritten bytes that did not fit the caller's buffer.
    pending: Vec<u8>,
}

impl<S> Lenient<S> {
    pub fn new(inner: S) -> Self {
        Lenient {
            inner,
            state: Reading::Start,
            line: Vec::new(),
            content_length: 0,
            chunked: false,
            pending: Vec::new(),
        }
    }

    /// Rewrites one chunk of incoming bytes, appending the result to `out`.
    fn rewrite(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                Reading::Aside => {
                    out.extend_from_slice(&input[i..]);
                    return;
                }
                Reading::Body(left) => {
                    let n = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(input.len() - i);
                    out.extend_from_slice(&input[i..i + n]);
                    i += n;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        Reading::Start
                    } else {
                        Reading::Body(left)
                    };
                    continue;
                }
                Reading::Start => {
                    if b == b'\r' || b == b'\n' {
                        out.push(b);
                    } else {
                        self.line.clear();
                        self.state = Reading::Method;
                        continue;
                    }
                }
                Reading::Method => {
                    out.push(b);
                    if b == b' ' {
                        // The HTTP/2 connection preface starts "PRI * HTTP/2.0".
                        self.state = if self.line == b"PRI" {
                            Reading::Aside
                        } else {
                            Reading::Target
                        };
                        self.line.clear();
                    } else if self.line.len() > MAX_LINE {
                        self.state = Reading::Aside;
                    } else {
                        self.line.push(b);
                    }
                }
                Reading::Target => match b {
                    b' ' => {
                        out.push(b);
                        self.state = Reading::Version;
                    }
                    b'\n' => {
                        out.push(b);
                        self.start_headers();
                    }
                    b'"' => out.extend_from_slice(b"%22"),
                    b'<' => out.extend_from_slice(b"%3C"),
                    b'>' => out.extend_from_slice(b"%3E"),
                    b'`' => out.extend_from_slice(b"%60"),
                    _ => out.push(b),
                },
                Reading::Version => {
                    out.push(b);
                    if b == b'\n' {
                        self.start_headers();
                    }
                }
                Reading::Headers => {
                    out.push(b);
                    if b == b'\n' {
                        self.end_header_line();
                    } else if self.line.len() > MAX_LINE {
                        self.state = Reading::Aside;
                    } else {
                        self.line.push(b);
                    }
                }
            }
            i += 1;
        }
    }

    fn start_headers(&mut self) {
        self.state = Reading::Headers;
        self.line.clear();
        self.content_length = 0;
        self.chunked = false;
    }

    fn end_header_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches('\r');
        if text.is_empty() {
            self.state = if self.chunked {
                Reading::Aside
            } else if self.content_length > 0 {
                Reading::Body(self.content_length)
            } else {
                Reading::Start
            };
            return;
        }
        if let Some((name, value)) = text.split_once(':') {
            let name = name.trim();
            if name.eq_ignore_ascii_case("content-length") {
                match value.trim().parse::<u64>() {
                    Ok(n) => self.content_length = n,
                    // hyper refuses it; follow no further.
                    Err(_) => self.state = Reading::Aside,
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                self.chunked = true;
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Lenient<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pending.is_empty() {
            if this.state == Reading::Aside {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut raw = vec![0u8; buf.remaining().max(1)];
            let mut rb = ReadBuf::new(&mut raw);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            let filled = rb.filled().to_vec();
            let mut out = Vec::with_capacity(filled.len() + 16);
            this.rewrite(&filled, &mut out);
            this.pending = out;
        }
        let n = this.pending.len().min(buf.remaining());
        buf.put_slice(&this.pending[..n]);
        this.pending.drain(..n);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Lenient<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> Vec<u8> {
        let mut l = Lenient::new(());
        let mut out = Vec::new();
        for c in chunks {
            l.rewrite(c, &mut out);
        }
        out
    }

    #[test]
    fn encodes_only_the_request_target() {
        let req = b"GET /api/x?a=>1&b=\"x|y\" HTTP/1.1\r\nHost: h\r\nX: <\">\r\n\r\n";
        assert_eq!(
            run(&[req]),
            b"GET /api/x?a=%3E1&b=%22x|y%22 HTTP/1.1\r\nHost: h\r\nX: <\">\r\n\r\n".to_vec()
        );
    }

    #[test]
    fn skips_bodies_and_follows_keep_alive_across_chunks() {
        let out = run(&[
            b"PATCH /a?q=<1 HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"x\":\"<\"}",
            b"GET /b?",
            b"q=>2 HTTP/1.1\r\n\r\n",
        ]);
        assert_eq!(
            out,
            b"PATCH /a?q=%3C1 HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"x\":\"<\"}GET /b?q=%3E2 HTTP/1.1\r\n\r\n"
                .to_vec()
        );
    }

    #[test]
    fn steps_aside_for_http2_and_chunked_bodies() {
        let h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\"<>";
        assert_eq!(run(&[h2]), h2.to_vec());
        let chunked = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n<<<\r\n0\r\n\r\nGET /b?q=< HTTP/1.1\r\n\r\n";
        assert_eq!(run(&[chunked]), chunked.to_vec());
    }
}
