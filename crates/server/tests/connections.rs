//! Connection hygiene (issue 15, item 2): slow headers and missing bodies are cut after their
//! timeouts, and connections beyond the limit are answered 503 with `Retry-After`.

mod common;

use std::time::{Duration, Instant};

use app::Clearance;
use server::conn::ConnLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(limits: ConnLimits) -> common::Harness {
    common::Harness::start_with(
        |store, clock| Clearance::new(store, common::refdata(), clock),
        server::ServeOptions {
            limits,
            ..server::ServeOptions::default()
        },
    )
    .await
}

fn addr(t: &common::Harness) -> String {
    t.base.trim_start_matches("http://").to_owned()
}

/// Read until the server closes; what it sent. Fails if it is still open after `within`.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let r = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        r.is_ok(),
        "still open after {within:?}; got {:?}",
        String::from_utf8_lossy(&got)
    );
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_sent_a_line_at_a_time_are_cut_after_the_header_timeout() {
    let t = start(ConnLimits {
        header_timeout: Duration::from_secs(1),
        ..ConnLimits::default()
    })
    .await;
    let mut s = TcpStream::connect(addr(&t)).await.unwrap();
    let started = Instant::now();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (mut rd, mut wr) = s.into_split();
    // A header line every 200 ms, for longer than the timeout.
    let dribble = tokio::spawn(async move {
        for i in 0..50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if wr
                .write_all(format!("X-Slow-{i}: a\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let mut buf = [0u8; 1024];
    let r = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    let took = started.elapsed();
    dribble.abort();
    assert!(r.is_ok(), "the slow client was not cut within 5 s");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // The server goes on serving others.
    let (s, _) = t.call(reqwest::Method::GET, None, "/health", None).await;
    assert_eq!(s, reqwest::StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_after_the_header_timeout() {
    let t = start(ConnLimits {
        header_timeout: Duration::from_secs(1),
        ..ConnLimits::default()
    })
    .await;
    let mut s = TcpStream::connect(addr(&t)).await.unwrap();
    let started = Instant::now();
    read_until_closed(&mut s, Duration::from_secs(4)).await;
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_promised_but_not_sent_is_cut_after_the_body_timeout() {
    let t = start(ConnLimits {
        body_timeout: Duration::from_secs(1),
        ..ConnLimits::default()
    })
    .await;
    let mut s = TcpStream::connect(addr(&t)).await.unwrap();
    let started = Instant::now();
    s.write_all(
        b"POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"login\":",
    )
    .await
    .unwrap();
    let answer = read_until_closed(&mut s, Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_answered_503_with_retry_after() {
    let t = start(ConnLimits {
        max_connections: 2,
        header_timeout: Duration::from_secs(30),
        ..ConnLimits::default()
    })
    .await;
    let a = TcpStream::connect(addr(&t)).await.unwrap();
    let b = TcpStream::connect(addr(&t)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut c = TcpStream::connect(addr(&t)).await.unwrap();
    c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut c, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert!(answer.contains("\"code\":\"overloaded\""), "{answer}");
    // Once the idle ones leave, the server answers again.
    drop(a);
    drop(b);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (s, _) = t.call(reqwest::Method::GET, None, "/health", None).await;
    assert_eq!(s, reqwest::StatusCode::OK);
}
