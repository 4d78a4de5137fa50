//! HTTPS: the server's certificate and key from PEM files, reloaded when the files change.
//!
//! [`ServerTls::load`] reads a certificate chain (PEM, leaf first) and its private key (PEM:
//! PKCS#8, PKCS#1 or SEC1) and checks that they belong together. The handshake asks
//! [`ServerTls`] for the certificate each time, so a new pair takes effect for new connections
//! at once, without a restart and without touching connections already open.
//! [`ServerTls::reload_if_changed`] re-reads the files and swaps the pair when their bytes
//! differ from those loaded; `jinguan serve` calls it every few seconds and on `SIGHUP`. A
//! pair that does not load (a file half-written during a renewal, a key of another
//! certificate) leaves the old one in service and is reported once until the files change
//! again.
//!
//! rustls with the `ring` provider: TLS 1.3 and 1.2 with rustls's safe default cipher suites
//! only; ALPN `http/1.1`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The files' bytes last read, loaded or not: what a change is judged against.
#[derive(PartialEq, Eq)]
struct Seen {
    cert: Vec<u8>,
    key: Vec<u8>,
}

/// The server's TLS set-up; see the module documentation.
pub struct ServerTls {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    shared: Arc<ServerTlsShared>,
    seen: Mutex<Seen>,
    config: Arc<rustls::ServerConfig>,
}

/// The resolver the handshake asks: the pair in service now.
#[derive(Debug)]
struct Resolver(Arc<ServerTlsShared>);

#[derive(Debug)]
struct ServerTlsShared {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current.read().expect("tls lock").clone())
    }
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

/// Why a certificate and key did not load.
#[derive(Debug)]
pub struct TlsError(pub String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError(format!("cannot read {}: {e}", path.display())))
}

fn certified_key(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            TlsError(format!(
                "{}: not a PEM certificate: {e}",
                cert_path.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(TlsError(format!(
            "{}: no certificate (expected PEM `-----BEGIN CERTIFICATE-----`)",
            cert_path.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| TlsError(format!("{}: no PEM private key: {e}", key_path.display())))?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        TlsError(format!(
            "{} and {}: {e}",
            cert_path.display(),
            key_path.display()
        ))
    })
}

impl ServerTls {
    /// Load the certificate chain and key; an error names the file and what is wrong.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerTls>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cert = read(cert_path)?;
        let key = read(key_path)?;
        let ck = Arc::new(certified_key(&cert, &key, cert_path, key_path, &provider)?);
        let shared = Arc::new(ServerTlsShared {
            current: RwLock::new(ck),
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver(shared.clone())));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(ServerTls {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            provider,
            shared,
            seen: Mutex::new(Seen { cert, key }),
            config: Arc::new(config),
        }))
    }

    /// The acceptor for new connections.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }

    /// Re-read the files; when their bytes changed, load them and put the new pair in service.
    /// `Ok(true)`: a new pair is in service; `Ok(false)`: nothing changed (or the change was
    /// already reported); `Err`: the changed files do not load and the old pair stays.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let cert = read(&self.cert_path)?;
        let key = read(&self.key_path)?;
        let now = Seen { cert, key };
        let mut seen = self.seen.lock().expect("tls lock");
        if *seen == now {
            return Ok(false);
        }
        let loaded = certified_key(
            &now.cert,
            &now.key,
            &self.cert_path,
            &self.key_path,
            &self.provider,
        );
        *seen = now;
        *self.shared.current.write().expect("tls lock") = Arc::new(loaded?);
        Ok(true)
    }
}
