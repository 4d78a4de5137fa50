//! SM2 signatures interoperate with an independent implementation, Python's `gmssl`: a message
//! signed in Rust verifies in Python, one signed in Python verifies in Rust, and each side
//! refuses the other's signature over altered content. `.ci/run` installs gmssl; without
//! python3 the test says it skipped.

use std::path::Path;
use std::process::Command;

use chrono::TimeZone;
use exchange::message::SignatureField;
use exchange::sign::{sign, verify, Algorithm, KeyId, KeyRing, PublicKey, SigningKey, VerifyError};
use exchange::{Agency, Envelope, Kind, MessageId};

fn script() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/gmssl_interop.py"
    ))
}

/// `None` when there is no python3 (skipped); panics when python3 is there but gmssl cannot be
/// had, since then the check would silently not happen.
fn python() -> Option<&'static str> {
    let ok = |args: &[&str]| {
        Command::new("python3")
            .args(args)
            .output()
            .map(|o| o.status.success())
    };
    match ok(&["-c", "import gmssl.sm2"]) {
        Err(_) => {
            eprintln!("skipped: python3 not found, SM2 interop with gmssl not checked");
            None
        }
        Ok(true) => Some("python3"),
        Ok(false) => {
            let installed = ok(&["-m", "pip", "install", "--quiet", "gmssl"]).unwrap_or(false);
            assert!(
                installed && ok(&["-c", "import gmssl.sm2"]).unwrap_or(false),
                "python3 is here but gmssl could not be imported or installed (pip install gmssl)"
            );
            Some("python3")
        }
    }
}

fn run(py: &str, mode: &str, job: &serde_json::Value) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.json");
    std::fs::write(&path, serde_json::to_vec(job).unwrap()).unwrap();
    let out = Command::new(py)
        .arg(script())
        .arg(mode)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python {mode} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn agency(s: &str) -> Agency {
    Agency::parse(s).unwrap()
}

fn envelope(seq: u64, payload: &str) -> Envelope {
    Envelope::new(
        MessageId::new(agency("CUSTOMS"), seq),
        Kind::parse("export_closed.v1").unwrap(),
        vec![agency("FOREX"), agency("TAX")],
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 28, 9, 30, 15)
            .unwrap(),
        // Non-ASCII on purpose: the signed bytes are the UTF-8 of the payload text.
        payload.as_bytes().to_vec(),
    )
    .unwrap()
}

#[test]
fn sm2_signed_in_rust_verifies_in_gmssl() {
    let Some(py) = python() else { return };
    for seq in 1..=4 {
        let key = SigningKey::generate(
            Algorithm::Sm2Sm3,
            agency("CUSTOMS"),
            KeyId::parse("customs-2026").unwrap(),
        )
        .unwrap();
        let mut e = envelope(
            seq,
            r#"{"declaration_no":"222520261000000001","note":"出口"}"#,
        );
        sign(&mut e, &key);
        let public = hex::encode(key.public_key().to_bytes());
        let job = |e: &Envelope| {
            serde_json::json!({
                "envelope": String::from_utf8(e.to_wire()).unwrap(),
                "public_key": public,
            })
        };
        assert_eq!(run(py, "verify", &job(&e)), "valid", "message {seq}");

        let mut altered = e.clone();
        altered.payload = r#"{"declaration_no":"222520261000000002","note":"出口"}"#
            .as_bytes()
            .to_vec();
        assert_eq!(run(py, "verify", &job(&altered)), "invalid");
    }
}

#[test]
fn sm2_signed_in_gmssl_verifies_in_rust() {
    let Some(py) = python() else { return };
    for seq in 1..=4 {
        let unsigned = envelope(seq, r#"{"fob_value":"1234.50","currency":"USD","名":"货"}"#);
        let job = serde_json::json!({
            "envelope": String::from_utf8(unsigned.to_wire()).unwrap(),
            "algorithm": "SM2-SM3",
            "key_id": "gmssl-1",
        });
        let answer: serde_json::Value = serde_json::from_str(&run(py, "sign", &job)).unwrap();
        let public = hex::decode(answer["public_key"].as_str().unwrap()).unwrap();
        let signature = hex::decode(answer["signature"].as_str().unwrap()).unwrap();
        assert_eq!(signature.len(), 64, "gmssl signs r||s");

        let mut ring = KeyRing::new();
        ring.insert(
            agency("CUSTOMS"),
            KeyId::parse("gmssl-1").unwrap(),
            PublicKey::from_bytes(Algorithm::Sm2Sm3, &public).unwrap(),
        );
        let mut e = unsigned.clone();
        e.signature = Some(SignatureField {
            algorithm: Algorithm::Sm2Sm3,
            key_id: KeyId::parse("gmssl-1").unwrap(),
            value: signature,
        });
        assert_eq!(verify(&e, &ring), Ok(()), "message {seq}");
        // And through the wire form, as a consumer receives it.
        let received = Envelope::from_wire(&e.to_wire()).unwrap();
        assert_eq!(verify(&received, &ring), Ok(()));

        let mut altered = e.clone();
        altered.recipients = vec![agency("TAX")];
        assert_eq!(verify(&altered, &ring), Err(VerifyError::BadSignature));
    }
}
