//! The API's listener: at most [`MAX_CONNECTIONS`] connections at once,
//! and a connection that neither sends nor receives anything for
//! [`IDLE_TIMEOUT`] is closed. Without these, idle sockets could take
//! every file descriptor (1,100 idle connections made the API unreachable)
//! and hold the API shut for good; with them a flood can delay the API by
//! at most the idle timeout. A server-sent event stream is not idle: its
//! keep-alive comments count as traffic. With TLS (`tls`), each
//! connection's handshake runs inside the connection, under the same idle
//! timeout, so a client that never finishes it holds only its own slot.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use std::future::Future;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use tokio::time::{Instant, Sleep};

/// Connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 512;
/// A connection with no traffic for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A TCP listener with a connection limit and an idle timeout.
pub struct Bounded {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    idle: Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for Bounded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bounded")
            .field("idle", &self.idle)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Bounded {
    /// `inner`, bounded to `max` connections idle at most `idle`.
    pub fn new(inner: TcpListener, max: usize, idle: Duration) -> Self {
        Self {
            inner,
            permits: Arc::new(Semaphore::new(max.clamp(1, Semaphore::MAX_PERMITS))),
            idle,
            tls: None,
        }
    }

    /// The same listener, serving TLS with `config`.
    pub fn with_tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(tokio_rustls::TlsAcceptor::from(config));
        self
    }
}

impl axum::serve::Listener for Bounded {
    type Io = Conn;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // Waiting for a permit before accepting leaves the rest in the
        // kernel's backlog instead of holding descriptors for them.
        let permit = loop {
            match Arc::clone(&self.permits).acquire_owned().await {
                Ok(p) => break p,
                // Never closed; should it be, wait and retry rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        let stream = match &self.tls {
            Some(acceptor) => Stream::Handshake(Box::new(acceptor.accept(stream))),
            None => Stream::Plain(stream),
        };
        let conn = Conn {
            stream,
            _permit: permit,
            idle: self.idle,
            deadline: Box::pin(tokio::time::sleep(self.idle)),
        };
        (conn, addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// What a connection carries: plain TCP, or TLS once its handshake is done.
enum Stream {
    Plain(TcpStream),
    Handshake(Box<tokio_rustls::Accept<TcpStream>>),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// The handshake failed; every later call fails.
    Broken,
}

/// An accepted connection: holds its permit, and times out when idle.
pub struct Conn {
    stream: Stream,
    _permit: OwnedSemaphorePermit,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.stream {
            Stream::Plain(_) => "plain",
            Stream::Handshake(_) => "tls handshake",
            Stream::Tls(_) => "tls",
            Stream::Broken => "broken",
        };
        f.debug_struct("Conn").field("stream", &kind).finish_non_exhaustive()
    }
}

impl Conn {
    /// Drives a TLS handshake to its end; ready at once for plain TCP.
    fn handshake(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let Stream::Handshake(accept) = &mut self.stream else {
            return match self.stream {
                Stream::Broken => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "the TLS handshake failed",
                ))),
                _ => Poll::Ready(Ok(())),
            };
        };
        match Pin::new(accept.as_mut()).poll(cx) {
            Poll::Ready(Ok(tls)) => {
                self.stream = Stream::Tls(Box::new(tls));
                self.traffic();
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                self.stream = Stream::Broken;
                Poll::Ready(Err(e))
            }
            Poll::Pending => self.expired(cx).map(Err),
        }
    }

    fn traffic(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.idle);
    }

    /// An error once the connection has been idle too long.
    fn expired(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connection idle for too long",
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.handshake(cx))?;
        let before = buf.filled().len();
        let polled = match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Handshake(_) | Stream::Broken => Poll::Ready(Ok(())),
        };
        match polled {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.traffic();
                }
                Poll::Ready(r)
            }
            Poll::Pending => self.expired(cx).map(Err),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        std::task::ready!(self.handshake(cx))?;
        let r = match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, data),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
            Stream::Handshake(_) | Stream::Broken => Poll::Ready(Ok(0)),
        };
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.traffic();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Handshake(_) | Stream::Broken => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Handshake(_) | Stream::Broken => Poll::Ready(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    async fn serve(max: usize, idle: Duration) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let bounded = Bounded::new(listener, max, idle);
        let addr = axum::serve::Listener::local_addr(&bounded).expect("addr");
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        tokio::spawn(async move {
            let _ = axum::serve(bounded, app).await;
        });
        addr
    }

    fn get(addr: std::net::SocketAddr) -> std::io::Result<String> {
        let mut s = std::net::TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    }

    /// Guards "idle sockets cannot exhaust the API": idle connections over
    /// the limit are closed after the idle timeout, and a request then gets
    /// through.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_connections_over_the_limit_are_closed_and_requests_go_on() {
        let addr = serve(4, Duration::from_millis(300)).await;
        let idle: Vec<std::net::TcpStream> = (0..8)
            .map(|_| std::net::TcpStream::connect(addr).expect("connect"))
            .collect();
        let answer = tokio::task::spawn_blocking(move || get(addr)).await.expect("join");
        assert!(answer.expect("an answer").contains("200 OK"));
        // The idle ones were closed by the server: reads see the end.
        for mut s in idle.into_iter().take(4) {
            s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
            let mut buf = [0u8; 1];
            assert!(
                matches!(s.read(&mut buf), Ok(0)),
                "an idle connection was not closed by the server"
            );
        }
    }
}
