//! A partner agency's own records to customs (`jinguan agency --key FILE`; docs/EXCHANGE.md
//! "The reverse direction"): an outbox in the agency's ledger file, filled by `POST /records`,
//! and a sender that signs its rows in batches with the agency's key and delivers them to
//! customs, marking a row sent only once customs' side acknowledged it.
//!
//! - [`AgencyOutbox`]: the table `agency_outbox (seq, kind, created_at, payload, sent_at)` in
//!   `DIR/AGENCY.sqlite` (WAL, `synchronous=FULL`), every row addressed to `CUSTOMS`, its
//!   message id `SENDER-SEQ` (the sender is the key's agency). It implements
//!   [`exchange::Outbox`], so on the bus the sender is customs' own [`crate::Relay`]
//!   (envelope version 2, `Nats-Msg-Id` de-duplication, a row marked only after JetStream's
//!   ack), publishing on `PREFIX.CUSTOMS.KIND` for customs' durable consumer `CUSTOMS`.
//! - [`run_post_sender`]: without a bus, the same batches `POST`ed to customs'
//!   `/api/exchange/inbound` with the agency user's token; a row is marked sent once customs
//!   answered it applied, duplicate or refused (refusals are final and logged), never on a
//!   `retry`, an error status or no answer.
//! - [`record`]: what `POST /records` checks and writes: a kind customs applies, its payload
//!   parsed as that kind (unknown fields refused), stored in its canonical JSON.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use exchange::message::{
    encode_payload, to_millis, Agency, BankRecordV1, Kind, LicenceIssuedV1, LicenceWithdrawnV1,
    MessageType, RefundPaidV1, RegistryUpdatedV1,
};
use exchange::outbox::{envelopes_of, Outbox, OutboxCounts, OutboxError, OutboxRecord};
use exchange::sign::SigningKey;
use rusqlite::{params, Connection};
use serde::Deserialize;
use tokio::sync::watch;

/// Customs' exchange code: every row of an agency's outbox goes there.
pub const CUSTOMS: &str = "CUSTOMS";
/// At most this many rows in one `POST` to customs.
pub const POST_BATCH_MAX: usize = 1000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS agency_outbox (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    payload       BLOB NOT NULL,
    sent_at_ms    INTEGER
);
CREATE INDEX IF NOT EXISTS agency_outbox_unsent ON agency_outbox (seq) WHERE sent_at_ms IS NULL;
";

fn storage(e: impl std::fmt::Display) -> OutboxError {
    OutboxError::Storage(e.to_string())
}

fn customs() -> Agency {
    Agency::parse(CUSTOMS).expect("a valid agency code")
}

/// The agency's outbox, in its ledger file.
pub struct AgencyOutbox {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl AgencyOutbox {
    /// Open (creating the table if need be) the outbox of the ledger file `path`.
    pub fn open(path: &Path) -> Result<AgencyOutbox, OutboxError> {
        let conn = Connection::open(path).map_err(storage)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(storage)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(storage)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(storage)?;
        conn.execute_batch(SCHEMA).map_err(storage)?;
        Ok(AgencyOutbox {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append a record (kind and canonical payload, checked by [`record`]); returns its seq.
    pub fn append(
        &self,
        kind: &Kind,
        payload: &[u8],
        at: DateTime<Utc>,
    ) -> Result<u64, OutboxError> {
        let conn = self.conn.lock().expect("outbox lock");
        conn.execute(
            "INSERT INTO agency_outbox (kind, created_at_ms, payload) VALUES (?1, ?2, ?3)",
            params![kind.as_str(), to_millis(at).timestamp_millis(), payload],
        )
        .map_err(storage)?;
        Ok(conn.last_insert_rowid() as u64)
    }

    /// Rows in the outbox and rows not yet sent.
    pub fn totals(&self) -> Result<(u64, u64), OutboxError> {
        let conn = self.conn.lock().expect("outbox lock");
        conn.query_row(
            "SELECT count(*), count(*) - count(sent_at_ms) FROM agency_outbox",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )
        .map_err(storage)
    }

    fn rows(
        &self,
        unsent_only: bool,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, OutboxError> {
        let conn = self.conn.lock().expect("outbox lock");
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, kind, created_at_ms, payload FROM agency_outbox
                 WHERE seq > ?1 AND (?2 = 0 OR sent_at_ms IS NULL) ORDER BY seq LIMIT ?3",
            )
            .map_err(storage)?;
        let raw: Vec<(i64, String, i64, Vec<u8>)> = stmt
            .query_map(
                params![
                    after as i64,
                    i64::from(unsent_only),
                    limit.clamp(1, 4096) as i64
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(storage)?
            .collect::<Result<_, _>>()
            .map_err(storage)?;
        raw.into_iter()
            .map(|(seq, kind, at, payload)| {
                Ok(OutboxRecord {
                    seq: seq as u64,
                    kind: Kind::parse(&kind)?,
                    recipients: vec![customs()],
                    created_at: DateTime::from_timestamp_millis(at)
                        .ok_or_else(|| storage(format!("outbox row {seq}: time {at}")))?,
                    payload,
                })
            })
            .collect()
    }
}

impl Outbox for AgencyOutbox {
    fn fetch_unpublished(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, OutboxError> {
        self.rows(true, after, limit)
    }

    fn mark_published(&self, seqs: &[u64], at: DateTime<Utc>) -> Result<(), OutboxError> {
        let mut conn = self.conn.lock().expect("outbox lock");
        let tx = conn.transaction().map_err(storage)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE agency_outbox SET sent_at_ms = ?2 WHERE seq = ?1 AND sent_at_ms IS NULL",
                )
                .map_err(storage)?;
            for s in seqs {
                stmt.execute(params![*s as i64, at.timestamp_millis()])
                    .map_err(storage)?;
            }
        }
        tx.commit().map_err(storage)
    }

    fn read_for(
        &self,
        recipient: &Agency,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, OutboxError> {
        if recipient.as_str() != CUSTOMS {
            return Ok(Vec::new());
        }
        self.rows(false, after, limit)
    }

    fn counts(&self) -> Result<BTreeMap<Agency, OutboxCounts>, OutboxError> {
        let (total, unsent) = self.totals()?;
        let mut out = BTreeMap::new();
        if total > 0 {
            out.insert(
                customs(),
                OutboxCounts {
                    total,
                    unpublished: unsent,
                    oldest_unpublished_at: None,
                },
            );
        }
        Ok(out)
    }
}

/// The kinds an agency sends customs, as `POST /records` takes them.
pub const INBOUND_KINDS: [&str; 5] = [
    LicenceIssuedV1::KIND,
    LicenceWithdrawnV1::KIND,
    RegistryUpdatedV1::KIND,
    BankRecordV1::KIND,
    RefundPaidV1::KIND,
];

/// One problem with a `POST /records` body: `(field, code, message_zh, message_en)`.
pub type RecordProblem = (String, String, String, String);

/// `POST /records`' body: a kind customs applies and its payload.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordBody {
    pub kind: String,
    pub payload: serde_json::Value,
}

/// The kind and canonical payload of a record, or its problems: the kind must be one customs
/// applies, the payload that kind's fields exactly.
pub fn record(body: &RecordBody) -> Result<(Kind, Vec<u8>), Vec<RecordProblem>> {
    fn typed<T: MessageType>(v: &serde_json::Value) -> Result<(Kind, Vec<u8>), Vec<RecordProblem>> {
        let p: T = serde_json::from_value(v.clone()).map_err(|e| {
            vec![(
                "payload".to_owned(),
                "bad_payload".to_owned(),
                format!("报文内容有误：{e}"),
                format!("invalid payload for {}: {e}", T::KIND),
            )]
        })?;
        encode_payload(&p).map_err(|e| {
            vec![(
                "payload".to_owned(),
                "bad_payload".to_owned(),
                format!("报文内容有误：{e}"),
                e.to_string(),
            )]
        })
    }
    match body.kind.as_str() {
        LicenceIssuedV1::KIND => typed::<LicenceIssuedV1>(&body.payload),
        RegistryUpdatedV1::KIND => typed::<RegistryUpdatedV1>(&body.payload),
        BankRecordV1::KIND => typed::<BankRecordV1>(&body.payload),
        LicenceWithdrawnV1::KIND => typed::<LicenceWithdrawnV1>(&body.payload),
        RefundPaidV1::KIND => typed::<RefundPaidV1>(&body.payload),
        other => Err(vec![(
            "kind".to_owned(),
            "unsupported_kind".to_owned(),
            format!(
                "海关不接收 {other} 报文：可发送 {}",
                INBOUND_KINDS.join("、")
            ),
            format!(
                "customs does not apply {other}: send one of {}",
                INBOUND_KINDS.join(", ")
            ),
        )]),
    }
}

/// Customs' HTTP channel, for an agency without a bus.
#[derive(Clone, Debug)]
pub struct PostTarget {
    /// Customs' server, `http://host:port`.
    pub url: String,
    /// The agency user's session token.
    pub token: String,
    /// Wait between looks at the outbox when nothing is waiting.
    pub idle_poll: Duration,
}

#[derive(Deserialize)]
struct PostAnswer {
    results: Vec<PostResult>,
}

#[derive(Deserialize)]
struct PostResult {
    message_id: Option<String>,
    outcome: String,
    reason: Option<String>,
}

/// Send the outbox to customs' `POST /api/exchange/inbound` until `shutdown`: each batch of
/// unsent rows signed once with `key` (envelope version 2); a row marked sent only when
/// customs answered it `applied`, `duplicate` or `refused`; anything else is sent again after
/// a back-off. Counts rows sent on `sent`.
pub async fn run_post_sender(
    outbox: Arc<AgencyOutbox>,
    key: Arc<SigningKey>,
    target: PostTarget,
    sent: Arc<watch::Sender<u64>>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), OutboxError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(storage)?;
    let url = format!("{}/api/exchange/inbound", target.url.trim_end_matches('/'));
    let mut backoff = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let o = outbox.clone();
        let rows = tokio::task::spawn_blocking(move || o.fetch_unpublished(0, POST_BATCH_MAX))
            .await
            .map_err(storage)??;
        let wait = if rows.is_empty() {
            target.idle_poll
        } else {
            let envelopes = envelopes_of(key.agency(), &rows, &key)?;
            let messages: Vec<serde_json::Value> = envelopes
                .iter()
                .map(|e| serde_json::from_slice(&e.to_wire()).expect("an envelope is JSON"))
                .collect();
            let answer = async {
                let r = client
                    .post(&url)
                    .bearer_auth(&target.token)
                    .json(&serde_json::json!({ "messages": messages }))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !r.status().is_success() {
                    return Err(format!("{url}: HTTP {}", r.status()));
                }
                r.json::<PostAnswer>().await.map_err(|e| e.to_string())
            }
            .await;
            match answer {
                Err(e) => {
                    tracing::warn!("agency records to customs: {e}; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    backoff
                }
                Ok(a) => {
                    backoff = Duration::from_millis(100);
                    let mut done = Vec::new();
                    for (row, e) in rows.iter().zip(&envelopes) {
                        let id = e.id.to_string();
                        let Some(r) = a
                            .results
                            .iter()
                            .find(|r| r.message_id.as_deref() == Some(id.as_str()))
                        else {
                            continue;
                        };
                        match r.outcome.as_str() {
                            "applied" | "duplicate" => done.push(row.seq),
                            "refused" => {
                                tracing::warn!(message_id = %id, reason = r.reason.as_deref().unwrap_or("?"), "customs refused the agency's record");
                                done.push(row.seq);
                            }
                            _ => {}
                        }
                    }
                    let all = done.len() == rows.len();
                    let n = done.len() as u64;
                    let o = outbox.clone();
                    tokio::task::spawn_blocking(move || o.mark_published(&done, Utc::now()))
                        .await
                        .map_err(storage)??;
                    sent.send_modify(|s| *s += n);
                    if all {
                        Duration::ZERO
                    } else {
                        Duration::from_secs(1)
                    }
                }
            }
        };
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(kind: &str, payload: serde_json::Value) -> RecordBody {
        RecordBody {
            kind: kind.into(),
            payload,
        }
    }

    #[test]
    fn records_are_checked_and_kept_in_canonical_form() {
        let payload = serde_json::json!({
            // Another field order than the struct's: stored in the struct's.
            "name": "示例", "status": "active", "uscc": "91310115MA1K4Q7B4Y",
        });
        let (kind, bytes) = record(&body("registry_updated.v1", payload)).unwrap();
        assert_eq!(kind.as_str(), "registry_updated.v1");
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"uscc":"91310115MA1K4Q7B4Y","name":"示例","status":"active"}"#
        );
        let p = record(&body("declaration_released.v1", serde_json::json!({}))).unwrap_err();
        assert_eq!(
            (p[0].0.as_str(), p[0].1.as_str()),
            ("kind", "unsupported_kind")
        );
        let extra = serde_json::json!({
            "name": "x", "status": "active", "uscc": "91310115MA1K4Q7B4Y", "extra": 1,
        });
        let p = record(&body("registry_updated.v1", extra)).unwrap_err();
        assert_eq!(
            (p[0].0.as_str(), p[0].1.as_str()),
            ("payload", "bad_payload")
        );
        let bad_uscc = serde_json::json!({"name": "x", "status": "active", "uscc": "nope"});
        assert!(record(&body("registry_updated.v1", bad_uscc)).is_err());
    }

    #[test]
    fn withdrawals_and_refunds_paid_are_records_too() {
        let w = serde_json::json!({
            "licence_no": "L-1", "reason": "revoked", "withdrawn_at": "2026-06-01T02:00:00Z",
        });
        let (kind, bytes) = record(&body("licence_withdrawn.v1", w)).unwrap();
        assert_eq!(kind.as_str(), "licence_withdrawn.v1");
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"licence_no":"L-1","reason":"revoked","withdrawn_at":"2026-06-01T02:00:00Z"}"#
        );
        let paid = serde_json::json!({
            "declaration_no": "530420250000000045", "item_no": 1, "amount_fen": 100,
            "paid_on": "2026-06-09", "bank_reference": "TR-1",
        });
        let (kind, _) = record(&body("refund_paid.v1", paid)).unwrap();
        assert_eq!(kind.as_str(), "refund_paid.v1");
        let no_item = serde_json::json!({
            "declaration_no": "530420250000000045", "amount_fen": 100,
            "paid_on": "2026-06-09", "bank_reference": "TR-1",
        });
        let p = record(&body("refund_paid.v1", no_item)).unwrap_err();
        assert_eq!(p[0].1, "bad_payload");
    }

    #[test]
    fn the_outbox_keeps_rows_until_marked_sent() {
        let dir = tempfile::tempdir().unwrap();
        let o = AgencyOutbox::open(&dir.path().join("A.sqlite")).unwrap();
        let kind = Kind::parse("bank_record.v1").unwrap();
        let now = Utc::now();
        for i in 1..=3 {
            assert_eq!(o.append(&kind, b"{}", now).unwrap(), i);
        }
        o.mark_published(&[1, 3], now).unwrap();
        let unsent: Vec<u64> = o
            .fetch_unpublished(0, 10)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(unsent, [2]);
        let all = o.read_for(&customs(), 0, 10).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].recipients, vec![customs()]);
        assert!(o
            .read_for(&Agency::parse("TAX").unwrap(), 0, 10)
            .unwrap()
            .is_empty());
        assert_eq!(o.totals().unwrap(), (3, 1));
        // Reopened: the same rows.
        drop(o);
        let o = AgencyOutbox::open(&dir.path().join("A.sqlite")).unwrap();
        assert_eq!(o.totals().unwrap(), (3, 1));
    }
}
