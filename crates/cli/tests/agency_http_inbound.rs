//! The agencies' records to customs over HTTP, without a bus (docs/EXCHANGE.md "The reverse
//! direction"), as they run: two real `jinguan agency --feed URL --token T --key FILE`
//! processes (the commerce agency and the tax agency, keys from `jinguan exchange keygen`)
//! take records on `POST /records` and `POST` them, signed in batches, to the real
//! `jinguan serve --agency-keys`'s `/api/exchange/inbound`. Customs is killed with SIGKILL in
//! the middle of the stream and started again on the same address: every record is applied
//! exactly once (licences and `exchange_inbound` counted, each agency's outbox all sent), and
//! a tampered batch is refused and never applied.
//!
//! Then the two records that bind (issue 18 item 6): the commerce agency's
//! `licence_withdrawn.v1` makes a filing naming the licence fail on `licence_no`; the tax
//! agency's `refund_paid.v1` on a verified claim of the demo makes the declaration's amendment
//! and cancellation fail with 409 `refund_paid`; a second payment of the claim and the
//! withdrawal of an unknown licence are recorded refused, never applied.

mod common;

use common::{count, db, free_port, login, post_record, root, spawn_agency, Proc};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use exchange::message::{encode_payload, Envelope};
use exchange::sign::{sign_batch, SigningKey};
use exchange::{Agency, LicenceIssuedV1, MessageId};
use serde_json::{json, Value};

/// A hang guard, not a timing assertion.
const GUARD: Duration = Duration::from_secs(180);
/// Licences the commerce agency sends in the stream.
const N: usize = 60;

/// `jinguan exchange keygen --agency A --out FILE`: the secret key file, and its public line.
fn keygen(dir: &Path, code: &str) -> (PathBuf, String) {
    let out_file = dir.join(format!("{code}.key"));
    let out = Command::new(env!("CARGO_BIN_EXE_jinguan"))
        .args(["exchange", "keygen", "--agency", code, "--out"])
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    (out_file, public)
}

fn key_of(file: &Path) -> SigningKey {
    SigningKey::from_line(&std::fs::read_to_string(file).unwrap()).unwrap()
}

fn today() -> chrono::NaiveDate {
    domain::time::china_date(Utc::now())
}

/// An automatic import licence of ten cars for `ent-sh`, valid around today.
fn licence(no: &str) -> LicenceIssuedV1 {
    LicenceIssuedV1 {
        licence_no: no.into(),
        kind: "import".into(),
        holder: domain::codes::Uscc::parse("91310115MA1K4Q7B4Y").unwrap(),
        commodity: "8703".into(),
        unit: "003".into(),
        quantity: "10".parse().unwrap(),
        valid_from: today() - chrono::Duration::days(30),
        valid_to: today() + chrono::Duration::days(30),
    }
}

/// `jinguan serve` on `addr`, the agencies' keys in `keys`; the demo (50 declarations, so that
/// `ent-sz` has verified refund claims) on the first start only.
fn serve(data: &Path, addr: &str, keys: &Path, demo: bool) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jinguan"));
    cmd.args(["serve", "--addr", addr, "--data-dir"])
        .arg(data)
        .arg("--agency-keys")
        .arg(keys)
        .current_dir(root());
    if demo {
        cmd.args(["--demo", "--demo-declarations", "50"]);
    }
    let (child, base) = common::spawn_serve(&mut cmd);
    Proc { child, base }
}

/// `jinguan agency --agency NAME --feed URL --token T --key FILE`: its records `POST`ed to
/// customs.
fn agency(
    name: &str,
    key: &Path,
    customs: &str,
    token: &str,
    ledger: &Path,
    customs_key: &Path,
) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jinguan"));
    cmd.args([
        "agency", "--agency", name, "--feed", customs, "--token", token,
    ])
    .arg("--ledger")
    .arg(ledger)
    .arg("--customs-key")
    .arg(customs_key)
    .arg("--key")
    .arg(key);
    spawn_agency(cmd, name, GUARD)
}

/// Wait until `sql` counts `want` in customs' store.
fn wait_for(data: &Path, sql: &str, want: i64) {
    let start = Instant::now();
    loop {
        let got = count(&db(data), sql);
        if got == want {
            return;
        }
        assert!(
            start.elapsed() < GUARD,
            "hang guard: {sql} is {got}, not {want}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Wait until the agency's outbox (in `file`) has nothing unsent.
fn all_sent(file: &Path) {
    let start = Instant::now();
    loop {
        let unsent = count(
            &rusqlite::Connection::open(file).unwrap(),
            "SELECT count(*) FROM agency_outbox WHERE sent_at_ms IS NULL",
        );
        if unsent == 0 {
            return;
        }
        assert!(
            start.elapsed() < GUARD,
            "hang guard: {} has {unsent} unsent",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A car import of one set by `ent-sh` naming `licence_no`.
fn cars(contract: &str, licence_no: &str) -> String {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["bill_no"] = Value::Null;
    v["contract_no"] = contract.into();
    v["licence_no"] = licence_no.into();
    let item = v["items"][0].as_object_mut().unwrap();
    item.remove("second_quantity");
    item.remove("second_unit");
    for (k, val) in [
        ("commodity_code", "8703234190"),
        ("name", "小轿车"),
        ("specification", "1.5升<排气量≤2升|5座|品牌X|型号X2"),
        ("declared_unit", "003"),
        ("first_unit", "003"),
        ("declared_quantity", "1"),
        ("first_quantity", "1"),
        ("unit_price", "20000.0000"),
        ("total_price", "20000.00"),
    ] {
        item.insert(k.into(), val.into());
    }
    v.to_string()
}

#[test]
fn records_over_http_apply_exactly_once_across_a_customs_crash_and_bind() {
    let dir = tempfile::tempdir().unwrap();
    let (commerce_key, c) = keygen(dir.path(), "COMMERCE");
    let (tax_key, t) = keygen(dir.path(), "TAX");
    let keys = dir.path().join("agencies.pub");
    std::fs::write(&keys, format!("{c}\n{t}\n")).unwrap();
    let data = dir.path().join("data");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut customs = serve(&data, &addr, &keys, true);
    let base = customs.base.clone();
    let client = reqwest::blocking::Client::new();
    let (mofcom, sat) = (
        login(&client, &base, "mofcom"),
        login(&client, &base, "sat"),
    );
    let customs_key = data.join("exchange-customs.pub");
    let commerce = agency(
        "commerce",
        &commerce_key,
        &base,
        &mofcom,
        &dir.path().join("commerce"),
        &customs_key,
    );
    let tax = agency(
        "tax",
        &tax_key,
        &base,
        &sat,
        &dir.path().join("tax"),
        &customs_key,
    );

    // The stream: licences while customs runs; customs SIGKILLed once some are applied.
    let applied = || {
        count(
            &db(&data),
            "SELECT count(*) FROM exchange_inbound WHERE outcome = 'applied'",
        )
    };
    let post_licence = |i: usize| {
        post_record(
            &client,
            &commerce,
            "licence_issued.v1",
            serde_json::to_value(licence(&format!("HTTP-L-{i}"))).unwrap(),
        )
    };
    let mut sent = 0;
    let start = Instant::now();
    while sent < N / 2 || applied() < 10 {
        if sent < N / 2 {
            post_licence(sent);
            sent += 1;
        } else {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            start.elapsed() < GUARD,
            "hang guard: customs applies nothing"
        );
    }
    customs.child.kill().unwrap(); // SIGKILL
    customs.child.wait().unwrap();
    let at_kill = applied();
    assert!(
        at_kill >= 10 && (at_kill as usize) < N,
        "killed mid-stream at {at_kill}"
    );
    // The rest while customs is down: kept in the agency's outbox, sent when it is back.
    for i in sent..N {
        post_licence(i);
    }
    std::thread::sleep(Duration::from_millis(300));
    let customs = serve(&data, &addr, &keys, false);
    assert_eq!(customs.base, base, "customs back on the same address");
    wait_for(
        &data,
        "SELECT count(*) FROM exchange_inbound WHERE message_id LIKE 'COMMERCE-%'",
        N as i64,
    );
    all_sent(&dir.path().join("commerce/COMMERCE.sqlite"));
    let c = db(&data);
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM eport_licences WHERE licence_no LIKE 'HTTP-L-%'"
        ),
        N as i64
    );
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM exchange_inbound WHERE outcome = 'applied' AND message_id LIKE 'COMMERCE-%'"
        ),
        N as i64
    );

    // A tampered batch, posted to customs directly: one signature over two messages, each
    // payload changed after signing; both refused, never applied nor recorded.
    let commerce_signing = key_of(&commerce_key);
    let mut batch: Vec<Envelope> = [900_001u64, 900_002]
        .iter()
        .map(|seq| {
            let (kind, bytes) = encode_payload(&licence(&format!("HTTP-FORGED-{seq}"))).unwrap();
            Envelope::new(
                MessageId::new(commerce_signing.agency().clone(), *seq),
                kind,
                vec![Agency::parse("CUSTOMS").unwrap()],
                Utc::now(),
                bytes,
            )
            .unwrap()
        })
        .collect();
    sign_batch(&mut batch, &commerce_signing);
    for e in &mut batch {
        let text = String::from_utf8(e.payload.clone()).unwrap();
        e.payload = text
            .replacen("\"quantity\":\"10\"", "\"quantity\":\"99\"", 1)
            .into_bytes();
        assert_ne!(e.payload, text.into_bytes());
    }
    let wire = |e: &Envelope| serde_json::from_slice::<Value>(&e.to_wire()).unwrap();
    let r = client
        .post(format!("{base}/api/exchange/inbound"))
        .bearer_auth(&mofcom)
        .json(&json!({"messages": batch.iter().map(wire).collect::<Vec<_>>()}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().unwrap();
    for i in 0..2 {
        assert_eq!(
            (&v["results"][i]["outcome"], &v["results"][i]["reason"]),
            (&json!("refused"), &json!("bad_signature")),
            "{v}"
        );
    }
    let c = db(&data);
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM eport_licences WHERE licence_no LIKE 'HTTP-FORGED-%'"
        ),
        0
    );
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM exchange_inbound WHERE message_id LIKE 'COMMERCE-90000%'"
        ),
        0
    );

    // Licence withdrawn: the commerce agency's record, applied once, binds the next filing.
    post_record(
        &client,
        &commerce,
        "licence_withdrawn.v1",
        json!({"licence_no": "HTTP-L-0", "reason": "export rights revoked", "withdrawn_at": Utc::now()}),
    );
    post_record(
        &client,
        &commerce,
        "licence_withdrawn.v1",
        json!({"licence_no": "HTTP-NONE", "reason": "no such licence", "withdrawn_at": Utc::now()}),
    );
    wait_for(
        &data,
        "SELECT count(*) FROM exchange_inbound WHERE kind = 'licence_withdrawn.v1'",
        2,
    );
    let c = db(&data);
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM eport_licences WHERE licence_no = 'HTTP-L-0' AND withdrawal IS NOT NULL"
        ),
        1
    );
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM exchange_inbound WHERE kind = 'licence_withdrawn.v1' AND outcome = 'refused'"
        ),
        1
    );
    let ent_sh = login(&client, &base, "ent-sh");
    let r = client
        .post(format!("{base}/api/declarations"))
        .bearer_auth(&ent_sh)
        .header("content-type", "application/json")
        .header("client-seq-no", "withdrawn-1")
        .body(cars("WD-1", "HTTP-L-0"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let v: Value = r.json().unwrap();
    let problems = v["error"]["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["field"] == "licence_no" && p["code"] == "licence_withdrawn"),
        "{v}"
    );
    // Another licence of the stream still files.
    let r = client
        .post(format!("{base}/api/declarations"))
        .bearer_auth(&ent_sh)
        .header("content-type", "application/json")
        .header("client-seq-no", "withdrawn-2")
        .body(cars("WD-2", "HTTP-L-1"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().unwrap());

    // Refund paid: the tax agency's record on one of the demo's verified claims.
    let claims: Value = client
        .get(format!("{base}/api/eport/refund-claims"))
        .bearer_auth(&sat)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let claim = claims
        .as_array()
        .unwrap()
        .first()
        .unwrap_or_else(|| panic!("the demo has verified claims: {claims}"))
        .clone();
    let paid = json!({
        "declaration_no": claim["declaration_no"], "item_no": claim["item_no"],
        "amount_fen": 1000, "paid_on": today().to_string(), "bank_reference": "TR-HTTP-1",
    });
    post_record(&client, &tax, "refund_paid.v1", paid.clone());
    let mut again = paid.clone();
    again["bank_reference"] = "TR-HTTP-2".into();
    post_record(&client, &tax, "refund_paid.v1", again);
    wait_for(
        &data,
        "SELECT count(*) FROM exchange_inbound WHERE kind = 'refund_paid.v1'",
        2,
    );
    let c = db(&data);
    let outcomes: Vec<(String, String)> = c
        .prepare("SELECT outcome, coalesce(problems, '') FROM exchange_inbound WHERE kind = 'refund_paid.v1' ORDER BY message_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(outcomes[0].0, "applied", "{outcomes:?}");
    assert_eq!(outcomes[1].0, "refused", "{outcomes:?}");
    assert!(
        outcomes[1].1.contains("refund_already_paid"),
        "{outcomes:?}"
    );
    all_sent(&dir.path().join("tax/TAX.sqlite"));
    let id: i64 = c
        .query_row(
            "SELECT id FROM declarations WHERE declaration_no = ?1",
            [claim["declaration_no"].as_str().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    let ent_sz = login(&client, &base, "ent-sz");
    for (step, body) in [
        (
            "amendment-request",
            json!({"reason": "quantity", "changes": [{"field": "items[0].declared_quantity", "value": "1"}]}),
        ),
        ("cancellation-request", json!({"reason": "goods returned"})),
    ] {
        let r = client
            .post(format!("{base}/api/declarations/{id}/{step}"))
            .bearer_auth(&ent_sz)
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 409, "{step}");
        let v: Value = r.json().unwrap();
        assert_eq!(v["error"]["code"], "refund_paid", "{v}");
        assert!(
            v["error"]["message_en"]
                .as_str()
                .unwrap()
                .contains("TR-HTTP-1"),
            "{v}"
        );
        assert!(
            v["error"]["message_zh"]
                .as_str()
                .unwrap()
                .contains("税务机关"),
            "{v}"
        );
    }
    drop((commerce, tax, customs));
}
