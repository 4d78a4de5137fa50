//! The NATS connection with TLS and NKey credentials (issue 15, item 3). A `nats-server` of
//! its own is started on a free port with a certificate made in the test (rcgen), JetStream,
//! and one NKey user: the bus answers only when the client trusts the certificate and signs
//! in with the seed. And `require_tls` refuses the plain server of `JINGUAN_TEST_NATS_URL`.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use exchange_bus::bus::probe;
use exchange_bus::{BusConfig, NatsSecurity};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn nats_server() -> Option<&'static str> {
    let found = Command::new("nats-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"));
        assert!(!ci, "nats-server must be installed in CI");
        eprintln!("skipped: no nats-server on PATH");
        return None;
    }
    Some("nats-server")
}

fn start(bin: &str, dir: &Path, user_public: &str) -> (Server, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = format!(
        "listen: \"127.0.0.1:{port}\"\n\
         tls {{\n  cert_file: \"{d}/server.pem\"\n  key_file: \"{d}/server.key\"\n  timeout: 2\n}}\n\
         authorization {{\n  users = [ {{ nkey: \"{user_public}\" }} ]\n}}\n\
         jetstream {{\n  store_dir: \"{d}/js\"\n}}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("server.conf"), conf).unwrap();
    let child = Command::new(bin)
        .arg("-c")
        .arg(dir.join("server.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, port)
}

#[tokio::test]
async fn tls_and_an_nkey_are_required_and_enough() {
    let Some(bin) = nats_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    std::fs::write(dir.path().join("server.pem"), cert.cert.pem()).unwrap();
    std::fs::write(
        dir.path().join("server.key"),
        cert.signing_key.serialize_pem(),
    )
    .unwrap();
    let user = nkeys::KeyPair::new_user();
    let seed_file = dir.path().join("user.nk");
    std::fs::write(&seed_file, format!("{}\n", user.seed().unwrap())).unwrap();
    let (_server, port) = start(bin, dir.path(), &user.public_key());

    let bus = |security: NatsSecurity| {
        let mut b = BusConfig::new(format!("nats://localhost:{port}"));
        b.stream = "JINGUAN_TLS_TEST".into();
        b.security = security;
        b
    };
    let ca = dir.path().join("server.pem");
    let t = Duration::from_secs(2);

    probe(
        &bus(NatsSecurity {
            ca_file: Some(ca.clone()),
            nkey_file: Some(seed_file.clone()),
            ..NatsSecurity::default()
        }),
        t,
    )
    .await
    .expect("the CA and the NKey");

    // Without the CA (the system's CAs do not know this certificate): refused.
    let e = probe(
        &bus(NatsSecurity {
            nkey_file: Some(seed_file.clone()),
            ..NatsSecurity::default()
        }),
        t,
    )
    .await
    .expect_err("an unknown certificate");
    eprintln!("without the CA: {e}");

    // Without the NKey: refused by the server.
    let e = probe(
        &bus(NatsSecurity {
            ca_file: Some(ca.clone()),
            ..NatsSecurity::default()
        }),
        t,
    )
    .await
    .expect_err("no credentials");
    eprintln!("without the NKey: {e}");

    // Another user's seed: refused.
    let stranger = dir.path().join("stranger.nk");
    std::fs::write(&stranger, nkeys::KeyPair::new_user().seed().unwrap()).unwrap();
    assert!(probe(
        &bus(NatsSecurity {
            ca_file: Some(ca.clone()),
            nkey_file: Some(stranger),
            ..NatsSecurity::default()
        }),
        t,
    )
    .await
    .is_err());

    // A seed file without a seed: a settings error naming the file.
    let empty = dir.path().join("empty.nk");
    std::fs::write(&empty, "nothing here\n").unwrap();
    let e = probe(
        &bus(NatsSecurity {
            nkey_file: Some(empty),
            ..NatsSecurity::default()
        }),
        t,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("empty.nk"), "{e}");
}

#[tokio::test]
async fn require_tls_refuses_a_plain_server() {
    let Some(url) = std::env::var("JINGUAN_TEST_NATS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("skipped: JINGUAN_TEST_NATS_URL not set");
        return;
    };
    let mut plain = BusConfig::new(url);
    probe(&plain, Duration::from_secs(2))
        .await
        .expect("the plain server answers a plain client");
    plain.security.require_tls = true;
    assert!(probe(&plain, Duration::from_secs(2)).await.is_err());
}
