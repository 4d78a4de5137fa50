//! The `detail` of every audit record both backends write, built with serde from a typed
//! struct (never by hand), so that a name, a number or an escaped string cannot come out
//! differently on one backend. The text is hashed into the audit chain: each function's output
//! is byte-identical to what the backends wrote before (the tests below keep it so), and a
//! change here is a change of the chain's format.

use clearance::Event;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::audit::sha256_hex;

fn compact<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("an audit detail serializes")
}

#[derive(Serialize)]
struct Submit<'a> {
    pre_entry_no: String,
    client_seq_no: &'a str,
    body_sha256: String,
    version: u64,
}

/// A filing: its pre-entry number, idempotency key, the body's hash and the version after it.
pub fn submit(
    pre_entry_no: impl std::fmt::Display,
    client_seq_no: &str,
    body_json: &str,
    version: u64,
) -> String {
    compact(&Submit {
        pre_entry_no: pre_entry_no.to_string(),
        client_seq_no,
        body_sha256: sha256_hex(body_json.as_bytes()),
        version,
    })
}

#[derive(Serialize)]
struct Events<'a> {
    from_version: u64,
    to_version: u64,
    events: Vec<&'a str>,
    events_sha256: String,
}

/// Events appended to a declaration (an append, an acceptance, an automatic review): the
/// versions, the events' names and the hash of the events as stored.
pub fn events(from_version: u64, to_version: u64, events: &[Event]) -> String {
    let json: Vec<String> = events.iter().map(event_json).collect();
    events_serialized(from_version, to_version, events, &json)
}

/// One event as stored (its row's `body`), and as it appears in the hash of [`events`].
pub fn event_json(e: &Event) -> String {
    serde_json::to_string(e).expect("an event serializes")
}

/// [`events`] for events already serialized one by one ([`event_json`], in the same order): a
/// writer serializes each event once, for its row and for this hash. The hash is of the JSON
/// array of the events, `[e1,e2,…]`, as serde_json writes it.
pub fn events_serialized(
    from_version: u64,
    to_version: u64,
    events: &[Event],
    json: &[String],
) -> String {
    debug_assert_eq!(events.len(), json.len());
    let mut array = String::with_capacity(2 + json.iter().map(|j| j.len() + 1).sum::<usize>());
    array.push('[');
    for (i, j) in json.iter().enumerate() {
        if i > 0 {
            array.push(',');
        }
        array.push_str(j);
    }
    array.push(']');
    compact(&Events {
        from_version,
        to_version,
        events: events.iter().map(|e| e.kind.name()).collect(),
        events_sha256: sha256_hex(array.as_bytes()),
    })
}

#[derive(Serialize)]
struct SignIn {
    expires_at_ms: i64,
}

/// A sign-in: when the session expires.
pub fn sign_in(expires_at: chrono::DateTime<chrono::Utc>) -> String {
    compact(&SignIn {
        expires_at_ms: crate::to_ms(expires_at),
    })
}

/// A record whose action and subject say everything (a sign-out, a watch entry removed).
pub fn empty() -> String {
    compact(&serde_json::Map::new())
}

#[derive(Serialize)]
struct SessionsRevoked {
    sessions: u64,
}

/// An administrator revoked a user's live sessions: how many.
pub fn sessions_revoked(sessions: u64) -> String {
    compact(&SessionsRevoked { sessions })
}

#[derive(Serialize)]
struct PasswordSet {
    must_change: bool,
    sessions_ended: u64,
}

/// A password set (changed by its user, or reset by an administrator: then to be changed at the
/// next sign-in), and the sessions it ended. Never the hash.
pub fn password_set(must_change: bool, sessions_ended: u64) -> String {
    compact(&PasswordSet {
        must_change,
        sessions_ended,
    })
}

/// An account disabled (its sessions ended) or enabled.
pub fn account_state(sessions_ended: u64) -> String {
    sessions_revoked(sessions_ended)
}

/// The audit action of a password set: `reset_password` or `change_password`.
pub fn password_action(reset: bool) -> &'static str {
    if reset {
        "reset_password"
    } else {
        "change_password"
    }
}

/// The audit action of an account's state: `enable_account` or `disable_account`.
pub fn account_action(enabled: bool) -> &'static str {
    if enabled {
        "enable_account"
    } else {
        "disable_account"
    }
}

#[derive(Serialize)]
struct LicenceUse {
    declaration_id: i64,
    /// As `Decimal`'s `Display` writes it (a string keeps the scale: "1.50", not 1.5).
    quantity: String,
}

/// A quantity of a licence reserved for, written off by or given back by a declaration.
pub fn licence_use(declaration_id: crate::DeclarationId, quantity: Decimal) -> String {
    compact(&LicenceUse {
        declaration_id: declaration_id.0,
        quantity: quantity.to_string(),
    })
}

#[derive(Serialize)]
struct BodySha256 {
    sha256: String,
}

/// A record kept whole elsewhere (a refund claim, a bank's record): the hash of its body.
pub fn body_sha256(body: &str) -> String {
    compact(&BodySha256 {
        sha256: sha256_hex(body.as_bytes()),
    })
}

#[derive(Serialize)]
struct Rules<'a> {
    version: u64,
    fingerprint: &'a str,
    rules_sha256: String,
}

/// A new version of the risk rules: its number, fingerprint and the rules' hash.
pub fn rules(version: u64, fingerprint: &str, rules_json: &str) -> String {
    compact(&Rules {
        version,
        fingerprint,
        rules_sha256: sha256_hex(rules_json.as_bytes()),
    })
}

#[derive(Serialize)]
struct CreditClass<'a> {
    class: &'a str,
}

/// An enterprise's credit class set: the class's name.
pub fn credit_class(class: &str) -> String {
    compact(&CreditClass { class })
}

#[derive(Serialize)]
struct Policy<'a> {
    version: u64,
    policy: &'a serde_json::value::RawValue,
}

/// A new version of the risk policy: its number and the whole policy, as written (a few
/// hundred bytes: the seed and every rate are what an auditor asks about). `policy_json` is a
/// JSON object (checked before the write); its text is kept as it is, not re-serialized.
pub fn policy(version: u64, policy_json: &str) -> Result<String, crate::StoreError> {
    let policy: Box<serde_json::value::RawValue> =
        serde_json::from_str(policy_json).map_err(|e| crate::StoreError::Invalid(e.to_string()))?;
    Ok(compact(&Policy {
        version,
        policy: &policy,
    }))
}

#[cfg(test)]
mod tests {
    //! Each detail against the text the backends wrote by hand before (`format!` with the same
    //! values): the audit chain hashes these bytes, so they must not move.

    use chrono::TimeZone;
    use clearance::{Action, Actor, Command, DeclarationState};
    use domain::codes::{Direction, OfficeCode, PreEntryNo, Uscc};

    use super::*;

    fn sample_events() -> Vec<Event> {
        let now = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
        let office = OfficeCode::parse("2201").unwrap();
        let pre_entry_no = PreEntryNo::new(office, 2026, Direction::Import, 7).unwrap();
        let cmd = Command {
            actor: Actor::Enterprise {
                uscc: Uscc::parse("91110000600037341L").unwrap(),
            },
            action: Action::Submit {
                pre_entry_no,
                client_seq_no: "c-1".into(),
                declarant: Uscc::parse("91110000600037341L").unwrap(),
                direction: Direction::Import,
                declaration_office: office,
                entry_exit_office: office,
            },
        };
        clearance::decide(&DeclarationState::default(), &cmd, now).unwrap()
    }

    #[test]
    fn submit_is_byte_identical() {
        let pre_entry_no = "220120261000000007";
        for (seq, body) in [
            ("c-1", r#"{"a":1}"#),
            ("with \"quotes\" and \\ and 中文", "{}"),
            ("tab\tnewline\n", ""),
        ] {
            let version = 1usize;
            let old = format!(
                r#"{{"pre_entry_no":"{pre_entry_no}","client_seq_no":{},"body_sha256":"{}","version":{version}}}"#,
                serde_json::to_string(&seq).expect("string serializes"),
                sha256_hex(body.as_bytes()),
            );
            assert_eq!(submit(pre_entry_no, seq, body, version as u64), old);
        }
    }

    #[test]
    fn events_is_byte_identical() {
        let events = sample_events();
        let types: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
        let events_json = serde_json::to_string(&events).expect("events serialize");
        let (from, version) = (3u64, 3 + events.len() as u64);
        let old = format!(
            r#"{{"from_version":{},"to_version":{version},"events":{},"events_sha256":"{}"}}"#,
            from,
            serde_json::to_string(&types).expect("names serialize"),
            sha256_hex(events_json.as_bytes())
        );
        assert_eq!(super::events(from, version, &events), old);
    }

    #[test]
    fn sessions_are_byte_identical() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
        assert_eq!(
            sign_in(at),
            format!(r#"{{"expires_at_ms":{}}}"#, at.timestamp_millis())
        );
        assert_eq!(empty(), "{}");
        for n in [0u64, 1, 12345] {
            assert_eq!(sessions_revoked(n), format!(r#"{{"sessions":{n}}}"#));
        }
    }

    #[test]
    fn licence_use_is_byte_identical() {
        for q in ["1", "1.50", "0.001", "1000000"] {
            let q: Decimal = q.parse().unwrap();
            let id = crate::DeclarationId(42);
            assert_eq!(
                licence_use(id, q),
                format!(r#"{{"declaration_id":{},"quantity":"{q}"}}"#, id.0)
            );
        }
    }

    #[test]
    fn body_sha256_is_byte_identical() {
        let body = r#"{"claim":"x"}"#;
        assert_eq!(
            body_sha256(body),
            format!(r#"{{"sha256":"{}"}}"#, sha256_hex(body.as_bytes()))
        );
    }

    #[test]
    fn risk_details_are_byte_identical() {
        let (version, rules_json) = (3i64, r#"{"rules":[]}"#);
        for fingerprint in ["abc123", "with \"quote\""] {
            let old = format!(
                r#"{{"version":{version},"fingerprint":{},"rules_sha256":"{}"}}"#,
                serde_json::to_string(fingerprint).unwrap(),
                sha256_hex(rules_json.as_bytes())
            );
            assert_eq!(rules(version as u64, fingerprint, rules_json), old);
        }
        for name in ["advanced", "general", "discredited"] {
            assert_eq!(credit_class(name), format!(r#"{{"class":"{name}"}}"#));
        }
        for policy_json in [
            r#"{"sampling":{"seed":"abc"}}"#,
            "{ \"spaced\" : [1, 2.50, \"x\"] }",
        ] {
            assert_eq!(
                policy(7, policy_json).unwrap(),
                format!(r#"{{"version":{},"policy":{policy_json}}}"#, 7)
            );
        }
    }
}
