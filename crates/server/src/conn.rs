//! The accept loop: HTTP/1.1 connections with timeouts and a limit on their number.
//!
//! - **Header timeout** ([`ConnLimits::header_timeout`]): from the moment the server waits for
//!   a request on a connection (a new one, or an idle keep-alive one) until that request's
//!   headers are complete. A client that sends headers a line at a time, or keeps a
//!   connection open without a request, is cut when it runs out. It is therefore also the idle
//!   keep-alive timeout.
//! - **Body timeout** ([`ConnLimits::body_timeout`]): from the end of the headers until the
//!   whole body has arrived. A body promised but not sent is answered 408 and the connection
//!   closed.
//! - **Connection limit** ([`ConnLimits::max_connections`]): connections served at once.
//!   Beyond it a new connection is answered `503` with `Retry-After` at once and closed,
//!   instead of waiting unserved or exhausting file descriptors.
//! - An accept error (e.g. too many open files) is logged once a second with a count, and the
//!   loop pauses briefly instead of spinning.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::Router;
use http_body::Frame;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::sync::{watch, Semaphore};
use tower_service::Service;

/// The limits of connections; see the module documentation.
#[derive(Clone, Debug)]
pub struct ConnLimits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            // Below the common `ulimit -n` of 1024, with room for the store's files and sockets.
            max_connections: 768,
        }
    }
}

/// What the error of a body cut by [`ConnLimits::body_timeout`] says.
pub(crate) const BODY_TIMEOUT_TEXT: &str = "request body timed out";

#[derive(Debug)]
struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(BODY_TIMEOUT_TEXT)
    }
}

impl std::error::Error for BodyTimedOut {}

/// A request body that must arrive whole before a deadline.
struct TimedBody {
    inner: hyper::body::Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Connections now served, and those refused for the limit since start.
#[derive(Default)]
pub struct ConnStats {
    pub open: AtomicUsize,
    pub refused: AtomicUsize,
}

const OVERLOAD_BODY: &str = r#"{"error":{"code":"overloaded","message_zh":"服务器连接已满，请稍后重试","message_en":"the server has too many connections; try again shortly","problems":[]}}"#;

/// Serve `router` on `listener` until `shutdown`, then let open connections finish.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnLimits,
    stats: Arc<ConnStats>,
    tls: Option<Arc<crate::tls::ServerTls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tls.map(|t| t.acceptor());
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    let mut accept_errors = 0u64;
    let mut last_logged = tokio::time::Instant::now() - Duration::from_secs(60);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_errors += 1;
                    if last_logged.elapsed() >= Duration::from_secs(1) {
                        tracing::error!(error = %e, count = accept_errors, "accept errors");
                        accept_errors = 0;
                        last_logged = tokio::time::Instant::now();
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(refuse(stream, acceptor.clone()));
            continue;
        };
        let router = router.clone();
        let limits = limits.clone();
        let stats = stats.clone();
        let stop = stop_rx.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            stats.open.fetch_add(1, Ordering::Relaxed);
            match acceptor {
                None => serve_one(stream, false, peer, router, &limits, stop).await,
                // The handshake is part of the wait for a request: bounded by the header timeout.
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await
                    {
                        Ok(Ok(tls)) => serve_one(tls, true, peer, router, &limits, stop).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            stats.open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
    // Wait for the connections in flight: every permit back.
    let _ = permits
        .acquire_many(limits.max_connections.max(1) as u32)
        .await;
    Ok(())
}

/// One connection, plain or TLS, until it ends or the server stops.
async fn serve_one<IO>(
    io: IO,
    secure: bool,
    peer: std::net::SocketAddr,
    router: Router,
    limits: &ConnLimits,
    mut stop: watch::Receiver<bool>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let body_timeout = limits.body_timeout;
    let stop_for_requests = stop.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let mut router = router.clone();
        let mut req = req.map(|inner| {
            Body::new(TimedBody {
                inner,
                deadline: Box::pin(tokio::time::sleep(body_timeout)),
            })
        });
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut()
            .insert(Stopping(stop_for_requests.clone()));
        if secure {
            req.extensions_mut().insert(Secure);
        }
        async move { Ok::<_, Infallible>(router.call(req).await.unwrap_or_else(|e| match e {})) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, %peer, "connection ended");
            }
        }
        Ok(()) = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.as_mut().await;
        }
    }
}

/// Turns `true` when the server stops: a long answer (a notifications stream) ends then, so
/// that the graceful shutdown does not wait for it.
#[derive(Clone, Debug)]
pub struct Stopping(pub watch::Receiver<bool>);

/// Marks a request that came over HTTPS (on this server's TLS, or through a reverse proxy
/// declared to terminate it): its answers carry `Strict-Transport-Security` and its cookies
/// `Secure` (module `hardening`).
#[derive(Clone, Copy, Debug)]
pub struct Secure;

/// Answer a connection beyond the limit with 503 and close it (over TLS when the server
/// speaks TLS: a plain answer would be noise to the client).
async fn refuse(stream: tokio::net::TcpStream, tls: Option<tokio_rustls::TlsAcceptor>) {
    match tls {
        None => refuse_on(stream).await,
        Some(acceptor) => {
            if let Ok(Ok(s)) =
                tokio::time::timeout(Duration::from_secs(1), acceptor.accept(stream)).await
            {
                refuse_on(s).await;
            }
        }
    }
}

async fn refuse_on<IO>(mut stream: IO)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // Read what the client sent first (briefly): closing with unread bytes would reset the
    // connection and lose the answer.
    let mut buf = [0u8; 2048];
    let _ = tokio::time::timeout(
        Duration::from_millis(100),
        tokio::io::AsyncReadExt::read(&mut stream, &mut buf),
    )
    .await;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{OVERLOAD_BODY}",
        OVERLOAD_BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
