//! The bus: NATS JetStream. Subjects, the stream's configuration, connecting.
//!
//! One stream (default `JINGUAN_EXCHANGE`) holds every message; a message to several agencies
//! is stored once per recipient, on `PREFIX.RECIPIENT.KIND` (`jinguan.x.TAX.export_closed.v1`),
//! with the JetStream message id (`Nats-Msg-Id`) `MESSAGE_ID/RECIPIENT`, so that a relay that
//! publishes the same outbox row twice within the duplicate window stores it once. Each agency
//! reads its own subjects through a durable pull consumer named after it.
//!
//! Durability: the stream uses file storage. Whether the server fsyncs every write is a
//! *server* setting (`jetstream { sync_interval: always }`, NATS server 2.10 and later); the
//! stream configuration of the client API has no such field. See `docs/EXCHANGE.md`.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, stream};

use exchange::message::{Agency, Kind, MessageId, WIRE_BYTES_MAX};

/// Where and how messages travel on the bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusConfig {
    /// `nats://127.0.0.1:4222`.
    pub url: String,
    /// The JetStream stream name.
    pub stream: String,
    /// The first subject tokens, `jinguan.x`.
    pub subject_prefix: String,
    /// JetStream's de-duplication window: longer than the longest a relay may take to publish
    /// a row again (a restart after a crash between publishing and marking).
    pub duplicate_window: Duration,
    /// Time to wait for one JetStream answer (publish ack, stream info).
    pub request_timeout: Duration,
    /// TLS and credentials of the connection (all off by default).
    pub security: NatsSecurity,
}

/// How the connection to NATS is secured (docs/OPERATIONS.md, "TLS"). A `tls://` URL, or a
/// server that requires TLS, is spoken to in TLS whatever these say; [`NatsSecurity::require_tls`]
/// refuses a server that does not offer it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NatsSecurity {
    /// Refuse to talk to the server in clear.
    pub require_tls: bool,
    /// The CA certificates (PEM) the server's certificate is checked against (instead of the
    /// system's).
    pub ca_file: Option<PathBuf>,
    /// A client certificate and its key (PEM), for servers that verify clients (mutual TLS).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// A credentials file (`.creds`: a user JWT and its NKey seed), as `nsc` writes them.
    pub credentials_file: Option<PathBuf>,
    /// A file holding an NKey seed (`SU…`), for servers configured with NKey users.
    pub nkey_file: Option<PathBuf>,
}

impl NatsSecurity {
    /// The connection options these settings give.
    pub async fn options(&self) -> Result<async_nats::ConnectOptions, BusError> {
        let mut o = match &self.credentials_file {
            Some(path) => async_nats::ConnectOptions::with_credentials_file(path)
                .await
                .map_err(|e| BusError::Settings(format!("{}: {e}", path.display())))?,
            None => async_nats::ConnectOptions::new(),
        };
        if let Some(path) = &self.nkey_file {
            let seed = std::fs::read_to_string(path)
                .map_err(|e| BusError::Settings(format!("{}: {e}", path.display())))?;
            let seed = seed
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("SU"))
                .ok_or_else(|| {
                    BusError::Settings(format!(
                        "{}: no user NKey seed (a line starting with SU)",
                        path.display()
                    ))
                })?
                .to_owned();
            o = o.nkey(seed);
        }
        if let Some(path) = &self.ca_file {
            // Read here, so that a missing file is a clear error before any connection.
            std::fs::metadata(path)
                .map_err(|e| BusError::Settings(format!("{}: {e}", path.display())))?;
            o = o.add_root_certificates(path.clone());
        }
        if let Some((cert, key)) = &self.client_cert {
            o = o.add_client_certificate(cert.clone(), key.clone());
        }
        if self.require_tls || self.ca_file.is_some() || self.client_cert.is_some() {
            o = o.require_tls(true);
        }
        Ok(o)
    }
}

impl BusConfig {
    pub fn new(url: impl Into<String>) -> BusConfig {
        BusConfig {
            url: url.into(),
            stream: "JINGUAN_EXCHANGE".to_owned(),
            subject_prefix: "jinguan.x".to_owned(),
            duplicate_window: Duration::from_secs(20 * 60),
            request_timeout: Duration::from_secs(5),
            security: NatsSecurity::default(),
        }
    }

    /// The subject of one message for one recipient.
    pub fn subject(&self, recipient: &Agency, kind: &Kind) -> String {
        format!("{}.{}.{}", self.subject_prefix, recipient, kind)
    }

    /// Every subject of one recipient: its consumer's filter.
    pub fn recipient_filter(&self, recipient: &Agency) -> String {
        format!("{}.{}.>", self.subject_prefix, recipient)
    }

    /// The stream's configuration: file storage, limits retention, the duplicate window.
    pub fn stream_config(&self) -> stream::Config {
        stream::Config {
            name: self.stream.clone(),
            subjects: vec![format!("{}.>", self.subject_prefix)],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            duplicate_window: self.duplicate_window,
            max_message_size: i32::try_from(WIRE_BYTES_MAX).unwrap_or(i32::MAX),
            num_replicas: 1,
            ..Default::default()
        }
    }
}

/// The JetStream message id of one message for one recipient.
pub fn bus_message_id(id: &MessageId, recipient: &Agency) -> String {
    format!("{id}/{recipient}")
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("NATS connection to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("JetStream: {0}")]
    JetStream(String),
    /// The TLS or credential settings cannot be used (a file missing or malformed).
    #[error("NATS settings: {0}")]
    Settings(String),
}

/// Whether the bus answers: a fresh connection (at most `timeout`) and the exchange stream's
/// info. For `/ready`; cheap enough for a probe every few seconds.
pub async fn probe(config: &BusConfig, timeout: std::time::Duration) -> Result<(), BusError> {
    let work = async {
        let client = config
            .security
            .options()
            .await?
            .connection_timeout(timeout)
            .connect(config.url.as_str())
            .await
            .map_err(|e| BusError::Connect {
                url: config.url.clone(),
                reason: e.to_string(),
            })?;
        let js = async_nats::jetstream::ContextBuilder::new()
            .timeout(timeout)
            .build(client);
        // The relay creates the stream on its first publish: an absent stream is not an outage.
        match js.get_stream(&config.stream).await {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    async_nats::jetstream::context::GetStreamErrorKind::JetStream(_)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(BusError::JetStream(format!(
                "stream {}: {e}",
                config.stream
            ))),
        }
    };
    tokio::time::timeout(timeout * 2, work)
        .await
        .map_err(|_| BusError::Connect {
            url: config.url.clone(),
            reason: format!("no answer within {} s", (timeout * 2).as_secs()),
        })?
}

/// Connect without waiting for the server: the client keeps retrying in the background (every
/// 50 ms at first, then at most every second), and requests fail with a timeout meanwhile.
pub async fn connect(config: &BusConfig) -> Result<jetstream::Context, BusError> {
    let client = config
        .security
        .options()
        .await?
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        .reconnect_delay_callback(|attempts| {
            let ms = 50u64.saturating_mul(1 << attempts.min(5));
            Duration::from_millis(ms.min(1000))
        })
        .connect(config.url.as_str())
        .await
        .map_err(|e| BusError::Connect {
            url: config.url.clone(),
            reason: e.to_string(),
        })?;
    Ok(jetstream::ContextBuilder::new()
        .timeout(config.request_timeout)
        .build(client))
}

/// Create the stream if it does not exist (an existing one is left as it is configured).
pub async fn ensure_stream(
    js: &jetstream::Context,
    config: &BusConfig,
) -> Result<stream::Stream, BusError> {
    js.get_or_create_stream(config.stream_config())
        .await
        .map_err(|e| BusError::JetStream(format!("stream {}: {e}", config.stream)))
}
