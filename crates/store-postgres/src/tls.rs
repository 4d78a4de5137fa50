//! TLS to PostgreSQL (rustls with the `ring` provider), as the connection URL's `sslmode` says,
//! with libpq's meanings:
//!
//! | `sslmode`     | TLS                         | the server's certificate                          |
//! |---------------|-----------------------------|---------------------------------------------------|
//! | `disable`     | never                       | —                                                 |
//! | `prefer`      | when the server offers it   | checked against the CA file when one is given     |
//! | `require`     | always                      | checked against the CA file when one is given     |
//! | `verify-ca`   | always                      | signed by the CA file (or the system's CAs)       |
//! | `verify-full` | always                      | signed by it, and issued for the host connected to |
//!
//! The CA file is the URL's `sslrootcert=FILE` (PEM) or [`crate::PostgresOptions::ca_file`].
//! One difference from libpq: without `sslmode` the connection is plain (libpq tries TLS
//! first), so that a URL that never asked for TLS keeps behaving as before; production URLs
//! should say `sslmode=verify-full` (docs/OPERATIONS.md, "TLS").

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

use store::StoreError;

/// How much of the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// Encrypted, the certificate not checked (`prefer`/`require` without a CA file).
    Nothing,
    /// Signed by a trusted CA, whatever host it names (`verify-ca`; `require` with a CA file).
    Ca,
    /// Signed by a trusted CA and issued for the host (`verify-full`).
    Full,
}

/// The URL as tokio-postgres reads it (`verify-*` turned into `require`, `sslrootcert`
/// taken out), and what to check.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub url: String,
    pub verify: Verify,
    pub ca_file: Option<PathBuf>,
}

/// Read `sslmode` and `sslrootcert` from a URL (`postgres://…?sslmode=…`) or a key=value
/// string (`host=… sslmode=…`).
pub(crate) fn prepare(url: &str, ca_option: Option<&Path>) -> Result<Prepared, StoreError> {
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let (head, params): (&str, Vec<&str>) = if is_url {
        match url.split_once('?') {
            Some((h, q)) => (h, q.split('&').filter(|p| !p.is_empty()).collect()),
            None => (url, vec![]),
        }
    } else {
        ("", url.split_whitespace().collect())
    };
    let mut kept = Vec::new();
    let mut mode: Option<String> = None;
    let mut ca_file = ca_option.map(Path::to_owned);
    for p in params {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        match k {
            "sslmode" => mode = Some(v.to_owned()),
            "sslrootcert" => ca_file = Some(PathBuf::from(percent_decode(v))),
            _ => kept.push(p.to_owned()),
        }
    }
    let (wire, verify) = match mode.as_deref() {
        None => ("disable", Verify::Nothing),
        Some("disable") => ("disable", Verify::Nothing),
        Some("allow") | Some("prefer") => ("prefer", Verify::Nothing),
        Some("require") => ("require", Verify::Nothing),
        Some("verify-ca") => ("require", Verify::Ca),
        Some("verify-full") => ("require", Verify::Full),
        Some(other) => {
            return Err(StoreError::Invalid(format!(
                "PostgreSQL URL: sslmode={other} (expected disable, prefer, require, verify-ca or verify-full)"
            )))
        }
    };
    // libpq: a root certificate file given with `require` checks the chain (as `verify-ca`).
    let verify = if verify == Verify::Nothing && ca_file.is_some() {
        Verify::Ca
    } else {
        verify
    };
    kept.push(format!("sslmode={wire}"));
    let url = if is_url {
        format!("{head}?{}", kept.join("&"))
    } else {
        kept.join(" ")
    };
    Ok(Prepared {
        url,
        verify,
        ca_file,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The connector handed to tokio-postgres and the reader pool.
#[derive(Clone)]
pub struct PgTls {
    config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for PgTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgTls")
    }
}

impl PgTls {
    pub(crate) fn new(verify: Verify, ca_file: Option<&Path>) -> Result<PgTls, StoreError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match verify {
            Verify::Nothing => Arc::new(Unchecked(provider.clone())),
            Verify::Ca | Verify::Full => {
                let mut roots = rustls::RootCertStore::empty();
                match ca_file {
                    Some(path) => {
                        let certs = CertificateDer::pem_file_iter(path)
                            .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                            .map_err(|e| {
                                StoreError::Invalid(format!(
                                    "PostgreSQL CA file {}: {e}",
                                    path.display()
                                ))
                            })?;
                        for c in certs {
                            roots.add(c).map_err(|e| {
                                StoreError::Invalid(format!(
                                    "PostgreSQL CA file {}: {e}",
                                    path.display()
                                ))
                            })?;
                        }
                    }
                    None => {
                        let found = rustls_native_certs::load_native_certs();
                        let (added, _) = roots.add_parsable_certificates(found.certs);
                        if added == 0 {
                            return Err(StoreError::Invalid(
                                "PostgreSQL sslmode=verify-*: no system CA certificates found; give sslrootcert=FILE"
                                    .into(),
                            ));
                        }
                    }
                }
                if roots.is_empty() {
                    return Err(StoreError::Invalid(
                        "PostgreSQL CA file holds no certificate".into(),
                    ));
                }
                let inner =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| StoreError::Invalid(format!("PostgreSQL CA: {e}")))?;
                if verify == Verify::Full {
                    inner
                } else {
                    Arc::new(AnyName(inner))
                }
            }
        };
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Invalid(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        // PostgreSQL 17's direct TLS negotiation requires it; earlier servers ignore it.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(PgTls {
            config: Arc::new(config),
        })
    }
}

/// `prefer`/`require` without a CA: encrypted against passive listening only. The handshake's
/// signatures are still checked (the peer holds the key of the certificate it shows).
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain checked, the name not.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

impl<S> MakeTlsConnect<S> for PgTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type TlsConnect = PgTlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<PgTlsConnect, io::Error> {
        let name = ServerName::try_from(domain.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(PgTlsConnect {
            connector: tokio_rustls::TlsConnector::from(self.config.clone()),
            name,
        })
    }
}

/// One connection's handshake.
pub struct PgTlsConnect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

type Handshake<S> = Pin<Box<dyn Future<Output = io::Result<PgTlsStream<S>>> + Send>>;

impl<S> TlsConnect<S> for PgTlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type Error = io::Error;
    type Future = Handshake<S>;

    fn connect(self, stream: S) -> Handshake<S> {
        Box::pin(async move {
            let s = self.connector.connect(self.name, stream).await?;
            Ok(PgTlsStream(s))
        })
    }
}

/// An encrypted connection to PostgreSQL.
pub struct PgTlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for PgTlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for PgTlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for PgTlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_rootcert_are_read_and_taken_out() {
        let p = prepare(
            "postgres://u@db:5432/x?application_name=a&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
            None,
        )
        .unwrap();
        assert_eq!(
            p.url,
            "postgres://u@db:5432/x?application_name=a&sslmode=require"
        );
        assert_eq!(p.verify, Verify::Full);
        assert_eq!(p.ca_file.as_deref(), Some(Path::new("/etc/ca.pem")));

        let p = prepare("postgres://u@db/x", None).unwrap();
        assert_eq!(p.url, "postgres://u@db/x?sslmode=disable");
        let p = prepare(
            "postgres://u@db/x?sslmode=require",
            Some(Path::new("ca.pem")),
        )
        .unwrap();
        assert_eq!(
            (p.verify, p.url.as_str()),
            (Verify::Ca, "postgres://u@db/x?sslmode=require")
        );
        let p = prepare("host=db user=u sslmode=verify-ca", None).unwrap();
        assert_eq!(
            (p.verify, p.url.as_str()),
            (Verify::Ca, "host=db user=u sslmode=require")
        );
        assert!(prepare("postgres://u@db/x?sslmode=maybe", None).is_err());
    }
}
