//! HTTPS (issue 15, item 3): the server speaks TLS with a certificate and key from PEM files,
//! refuses plain HTTP on that port, marks its answers `Strict-Transport-Security` and its
//! cookies `Secure`, and puts a renewed certificate in service without a restart (a pair that
//! does not load leaves the old one serving). Certificates are made in the test (rcgen).

mod common;

use std::path::Path;
use std::sync::Arc;

use app::{Clearance, NewUserRequest, Role};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Pair {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

fn self_signed() -> Pair {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    Pair {
        cert_pem: c.cert.pem(),
        key_pem: c.signing_key.serialize_pem(),
        der: c.cert.der().clone(),
    }
}

fn write(dir: &Path, p: &Pair) {
    std::fs::write(dir.join("cert.pem"), &p.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &p.key_pem).unwrap();
}

/// A client that trusts only `trusted`.
fn connector(trusted: &CertificateDer<'static>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// One HTTP/1.1 request over TLS to `addr` (as host `localhost`); the whole answer as text, or
/// the handshake's error.
async fn https(
    addr: &str,
    trusted: &CertificateDer<'static>,
    request: &str,
) -> Result<String, std::io::Error> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut tls = connector(trusted)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    tls.write_all(request.as_bytes()).await?;
    let mut out = Vec::new();
    tls.read_to_end(&mut out).await.ok();
    Ok(String::from_utf8_lossy(&out).into_owned())
}

const HEALTH: &str = "GET /health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";

async fn start(dir: &Path) -> (common::Harness, Arc<server::tls::ServerTls>, String) {
    let tls = server::tls::ServerTls::load(&dir.join("cert.pem"), &dir.join("key.pem")).unwrap();
    let t = common::Harness::start_with(
        |store, clock| Clearance::new(store, common::refdata(), clock),
        server::ServeOptions {
            tls: Some(tls.clone()),
            ..server::ServeOptions::default()
        },
    )
    .await;
    let addr = t.base.trim_start_matches("http://").to_owned();
    (t, tls, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_answers_and_plain_http_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pair = self_signed();
    write(dir.path(), &pair);
    let (t, _tls, addr) = start(dir.path()).await;

    let answer = https(&addr, &pair.der, HEALTH).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "{answer}"
    );

    // A client that does not trust the certificate does not get through.
    let stranger = self_signed();
    assert!(https(&addr, &stranger.der, HEALTH).await.is_err());

    // Plain HTTP to the TLS port: no HTTP answer (rustls answers a TLS alert, or closes).
    let mut plain = tokio::net::TcpStream::connect(&addr).await.unwrap();
    plain.write_all(HEALTH.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        plain.read_to_end(&mut out),
    )
    .await
    .expect("the server closes a plain connection");
    assert!(
        !String::from_utf8_lossy(&out).contains("HTTP/1.1"),
        "plain HTTP answered: {:?}",
        String::from_utf8_lossy(&out)
    );

    // Signing in over HTTPS sets a Secure cookie.
    t.bootstrap(NewUserRequest {
        login: "root".into(),
        password: common::PASSWORD.into(),
        role: Role::Admin,
        duties: vec![],
        office: None,
        uscc: None,
        agency: None,
    });
    let body = format!(r#"{{"login":"root","password":"{}"}}"#, common::PASSWORD);
    let sign_in = format!(
        "POST /api/session HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = https(&addr, &pair.der, &sign_in).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let cookie = answer
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {answer}"));
    assert!(
        cookie.contains("HttpOnly") && cookie.ends_with("; Secure"),
        "{cookie}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_server_sends_no_hsts_and_no_secure_cookie_unless_behind_an_https_proxy() {
    for behind in [false, true] {
        let t = common::Harness::start_with(
            |store, clock| Clearance::new(store, common::refdata(), clock),
            server::ServeOptions {
                behind_https_proxy: behind,
                ..server::ServeOptions::default()
            },
        )
        .await;
        let r = t
            .client
            .get(format!("{}/health", t.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers().contains_key("strict-transport-security"),
            behind,
            "behind an HTTPS proxy: {behind}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_serves_new_connections_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let old = self_signed();
    write(dir.path(), &old);
    let (_t, tls, addr) = start(dir.path()).await;
    assert!(!tls.reload_if_changed().unwrap(), "nothing changed yet");

    // A renewal half-done (the new certificate, the old key): refused, the old pair serves on.
    let new = self_signed();
    std::fs::write(dir.path().join("cert.pem"), &new.cert_pem).unwrap();
    let e = tls.reload_if_changed().unwrap_err();
    assert!(e.to_string().contains("key.pem"), "{e}");
    assert!(https(&addr, &old.der, HEALTH)
        .await
        .unwrap()
        .starts_with("HTTP/1.1 200"));

    // The key follows: the new pair serves; a client that knows only the old one is refused.
    std::fs::write(dir.path().join("key.pem"), &new.key_pem).unwrap();
    assert!(tls.reload_if_changed().unwrap());
    assert!(https(&addr, &new.der, HEALTH)
        .await
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    assert!(https(&addr, &old.der, HEALTH).await.is_err());
    assert!(!tls.reload_if_changed().unwrap(), "loaded once");
}
