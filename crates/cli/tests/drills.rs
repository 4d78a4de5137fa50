//! Operational drills of issue 15 on the real binary: idle sockets beyond the file-descriptor
//! limit (`ulimit -n 1024`, set with `prlimit`) leave `/health` answering, and HTTPS with a
//! certificate renewed on disk while the server runs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One `GET path` on a new connection; the status, or `None` when no answer came in `wait`.
fn get_status(addr: &str, path: &str, wait: Duration) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(wait)).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes())
        .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[test]
fn idle_sockets_beyond_the_descriptor_limit_leave_health_answering() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"));
        assert!(!ci, "prlimit (util-linux) must be installed in CI");
        eprintln!("skipped: no prlimit");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("prlimit");
    cmd.arg("--nofile=1024:1024")
        .arg(env!("CARGO_BIN_EXE_jinguan"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--header-timeout-seconds",
            "3",
        ])
        .arg("--data-dir")
        .arg(dir.path());
    let (child, base) = common::spawn_serve(&mut cmd);
    let _server = Server(child);
    let addr = base.trim_start_matches("http://").to_owned();
    assert_eq!(
        get_status(&addr, "/health", Duration::from_secs(5)),
        Some(200)
    );

    // 1,100 connections that send nothing: more than the server's 1,024 descriptors.
    let idle: Vec<TcpStream> = (0..1100)
        .filter_map(|_| TcpStream::connect(&addr).ok())
        .collect();
    assert!(idle.len() >= 1024, "only {} connections opened", idle.len());

    // While they are open: /health answers at once, never hangs (200, or 503 `overloaded`
    // with Retry-After while the connection limit is full).
    let t = Instant::now();
    let status = get_status(&addr, "/health", Duration::from_secs(2));
    assert!(
        matches!(status, Some(200 | 503)),
        "/health under 1,100 idle sockets: {status:?} after {:?}",
        t.elapsed()
    );
    // Once the header timeout (3 s) has cut the idle ones, while their clients still hold
    // them open, /health is 200 again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if get_status(&addr, "/health", Duration::from_secs(2)) == Some(200) {
            break;
        }
        assert!(Instant::now() < deadline, "/health did not recover");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Sign-in answers too (a wrong password: 401, not a timeout).
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = r#"{"login":"nobody","password":"wrong-password"}"#;
    write!(
        s,
        "POST /api/session HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 401");
    drop(idle);
}

fn write_pair(dir: &Path) -> rustls::pki_types::CertificateDer<'static> {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    // Key first, then the certificate: the server may look in between and must refuse the
    // mismatched pair without dropping the old one.
    std::fs::write(dir.join("key.pem"), c.signing_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), c.cert.pem()).unwrap();
    c.cert.der().clone()
}

/// The certificate the server presents now.
fn presented(addr: &str) -> Vec<u8> {
    #[derive(Debug)]
    struct Capture;
    impl rustls::client::danger::ServerCertVerifier for Capture {
        fn verify_server_cert(
            &self,
            _e: &rustls::pki_types::CertificateDer<'_>,
            _i: &[rustls::pki_types::CertificateDer<'_>],
            _n: &rustls::pki_types::ServerName<'_>,
            _o: &[u8],
            _t: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _m: &[u8],
            _c: &rustls::pki_types::CertificateDer<'_>,
            _d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _m: &[u8],
            _c: &rustls::pki_types::CertificateDer<'_>,
            _d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(Capture))
    .with_no_client_auth();
    let mut conn = rustls::ClientConnection::new(
        Arc::new(config),
        rustls::pki_types::ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut tcp = TcpStream::connect(addr).unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    tls.write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    conn.peer_certificates().unwrap()[0].to_vec()
}

#[test]
fn serve_over_https_picks_up_a_renewed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let tls_dir = dir.path().join("tls");
    std::fs::create_dir_all(&tls_dir).unwrap();
    let first = write_pair(&tls_dir);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jinguan"));
    cmd.args([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--tls-reload-seconds",
        "1",
    ])
    .arg("--tls-cert")
    .arg(tls_dir.join("cert.pem"))
    .arg("--tls-key")
    .arg(tls_dir.join("key.pem"))
    .arg("--data-dir")
    .arg(dir.path().join("data"));
    let (child, base) = common::spawn_serve(&mut cmd);
    let _server = Server(child);
    assert!(base.starts_with("https://"), "{base}");
    let addr = base.trim_start_matches("https://").to_owned();
    assert_eq!(presented(&addr), first.to_vec());

    let second = write_pair(&tls_dir);
    let deadline = Instant::now() + Duration::from_secs(10);
    while presented(&addr) != second.to_vec() {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not picked up"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
