//! The reverse direction of the exchange (docs/EXCHANGE.md "The reverse direction"): the
//! agencies' own records reach customs as signed messages, applied once.
//!
//! - Over the bus (`JINGUAN_TEST_NATS_URL`; without it the test says it skipped, and fails in
//!   CI): two real `jinguan agency` processes (commerce and a bank, each with its key from
//!   `jinguan exchange keygen`) take records on `POST /records` and send them; the real
//!   `jinguan serve --nats --agency-keys` applies them, is killed with SIGKILL in the middle of
//!   the stream and started again: every record is in customs exactly once (licences, bank
//!   records and `exchange_inbound` counted), a tampered message is refused and never applied,
//!   and a licence signed by the tax agency is refused (recorded) and never applied. Then the
//!   commerce agency's `licence_withdrawn.v1` goes the same way and binds: a car import naming
//!   the withdrawn licence is refused on `licence_no` (`licence_withdrawn`). (The tax agency's
//!   `refund_paid.v1` and its binding are carried in `agency_http_inbound.rs`.)
//! - Over HTTP (no bus needed): `POST /api/exchange/inbound` applies a signed envelope once
//!   (the same envelope again is a duplicate), refuses a tampered one, one of another agency
//!   than the signed-in one, a TAX-signed licence, an invalid licence (recorded: a duplicate
//!   afterwards); 403 for an enterprise user, 422 with problems for a bad body; the operators'
//!   `GET /api/exchange/inbound` lists the refused.

mod common;

use common::{count, db, login, post_record, root, spawn_agency, Proc};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use exchange::message::{encode_payload, Envelope, MessageType};
use exchange::sign::{sign_batch, SigningKey};
use exchange::{Agency, BankRecordV1, LicenceIssuedV1, MessageId};
use serde_json::{json, Value};

/// A hang guard, not a timing assertion.
const GUARD: Duration = Duration::from_secs(120);

fn nats_url() -> Option<String> {
    match std::env::var("JINGUAN_TEST_NATS_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"));
            assert!(!ci, "JINGUAN_TEST_NATS_URL must be set in CI");
            eprintln!("skipped: JINGUAN_TEST_NATS_URL not set");
            None
        }
    }
}

fn agency(s: &str) -> Agency {
    Agency::parse(s).unwrap()
}

/// `jinguan exchange keygen --agency A --out FILE`: the secret key, and its public line.
fn keygen(dir: &Path, code: &str) -> (SigningKey, String) {
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
    assert!(public.contains(&format!(" {code} ")), "{public}");
    let key = SigningKey::from_line(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    (key, public)
}

/// The keys of COMMERCE, BANK_BOC and TAX, and customs' `--agency-keys` file of their lines.
struct Keys {
    commerce: SigningKey,
    bank: SigningKey,
    tax: SigningKey,
    file: PathBuf,
    dir: PathBuf,
}

fn keys(dir: &Path) -> Keys {
    let (commerce, c) = keygen(dir, "COMMERCE");
    let (bank, b) = keygen(dir, "BANK_BOC");
    let (tax, t) = keygen(dir, "TAX");
    let file = dir.join("agencies.pub");
    std::fs::write(&file, format!("# the agencies' keys\n{c}\n{b}\n{t}\n")).unwrap();
    Keys {
        commerce,
        bank,
        tax,
        file,
        dir: dir.to_path_buf(),
    }
}

fn licence(no: &str) -> LicenceIssuedV1 {
    LicenceIssuedV1 {
        licence_no: no.into(),
        kind: "import".into(),
        holder: domain::codes::Uscc::parse("91310115MA1K4Q7B4Y").unwrap(),
        commodity: "8703".into(),
        unit: "003".into(),
        quantity: "10".parse().unwrap(),
        valid_from: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        valid_to: chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
    }
}

fn bank_record(r: &str) -> BankRecordV1 {
    BankRecordV1 {
        kind: "receipt".into(),
        uscc: domain::codes::Uscc::parse("91310115MA1K4Q7B4Y").unwrap(),
        amount: "1200.50".parse().unwrap(),
        currency: domain::codes::CurrencyCode::parse("CNY").unwrap(),
        value_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        bank_ref: r.into(),
        declaration_no: None,
    }
}

/// A message to customs signed (as a batch of one) with `key`, as seq `seq` of its sender.
fn signed<T: MessageType>(key: &SigningKey, seq: u64, payload: &T) -> Envelope {
    let (kind, bytes) = encode_payload(payload).unwrap();
    let mut e = Envelope::new(
        MessageId::new(key.agency().clone(), seq),
        kind,
        vec![agency("CUSTOMS")],
        Utc::now(),
        bytes,
    )
    .unwrap();
    sign_batch(std::slice::from_mut(&mut e), key);
    e
}

/// One payload digit changed after signing.
fn tampered(mut e: Envelope) -> Envelope {
    let text = String::from_utf8(e.payload.clone()).unwrap();
    e.payload = text
        .replacen("\"quantity\":\"10\"", "\"quantity\":\"99\"", 1)
        .into_bytes();
    assert_ne!(e.payload, text.into_bytes());
    e
}

fn wire(e: &Envelope) -> Value {
    serde_json::from_slice(&e.to_wire()).unwrap()
}

fn serve(data: &Path, demo: bool, extra: &[&str]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jinguan"));
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(extra)
        .current_dir(root());
    if demo {
        cmd.args(["--demo", "--demo-declarations", "0"]);
    }
    let (child, base) = common::spawn_serve(&mut cmd);
    Proc { child, base }
}

fn post_inbound(
    client: &reqwest::blocking::Client,
    base: &str,
    token: &str,
    body: &Value,
) -> (u16, Value) {
    let r = client
        .post(format!("{base}/api/exchange/inbound"))
        .bearer_auth(token)
        .json(body)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap())
}

#[test]
fn http_channel_applies_once_and_refuses_what_it_must() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys(dir.path());
    let data = dir.path().join("data");
    let server = serve(&data, true, &["--agency-keys", keys.file.to_str().unwrap()]);
    let client = reqwest::blocking::Client::new();
    let base = &server.base;
    let mofcom = login(&client, base, "mofcom");

    // A licence, applied once: the same envelope again is a duplicate.
    let e = signed(&keys.commerce, 1, &licence("HTTP-L-1"));
    let body = json!({"messages": [wire(&e)]});
    let (status, v) = post_inbound(&client, base, &mofcom, &body);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["results"][0]["outcome"], "applied", "{v}");
    assert_eq!(v["results"][0]["message_id"], "COMMERCE-1");
    let (status, v) = post_inbound(&client, base, &mofcom, &body);
    assert_eq!(
        (status, &v["results"][0]["outcome"]),
        (200, &json!("duplicate")),
        "{v}"
    );
    let issued: Value = client
        .get(format!("{base}/api/eport/licences"))
        .bearer_auth(&mofcom)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let ours: Vec<&Value> = issued
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["licence_no"] == "HTTP-L-1")
        .collect();
    assert_eq!(ours.len(), 1, "{issued}");
    assert_eq!(ours[0]["issued_by"], "commerce");

    // Tampered, another agency's, a TAX-signed licence, an invalid licence: each refused.
    let forged = tampered(signed(&keys.commerce, 2, &licence("HTTP-L-2")));
    let of_bank = signed(&keys.bank, 1, &bank_record("HTTP-B-1"));
    let mut bad = licence("HTTP-L-3");
    bad.valid_to = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let invalid = signed(&keys.commerce, 3, &bad);
    let body = json!({"messages": [wire(&forged), wire(&of_bank), wire(&invalid)]});
    let (status, v) = post_inbound(&client, base, &mofcom, &body);
    assert_eq!(status, 200, "{v}");
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(
        (&r[0]["outcome"], &r[0]["reason"]),
        (&json!("refused"), &json!("bad_signature")),
        "{v}"
    );
    assert_eq!(
        (&r[1]["outcome"], &r[1]["reason"]),
        (&json!("refused"), &json!("sender_not_signed_in")),
        "{v}"
    );
    assert_eq!(
        (&r[2]["outcome"], &r[2]["reason"]),
        (&json!("refused"), &json!("invalid")),
        "{v}"
    );
    assert!(r[2]["problems"][0]["message_zh"].is_string(), "{v}");
    assert_eq!(r[2]["problems"][0]["field"], "licence");
    // The invalid one was recorded: delivered again, it is a duplicate, never applied.
    let (_, v) = post_inbound(
        &client,
        base,
        &mofcom,
        &json!({"messages": [wire(&invalid)]}),
    );
    assert_eq!(v["results"][0]["outcome"], "duplicate", "{v}");

    // The bank's own record, by the bank's user, is applied as that bank.
    let bank = login(&client, base, "bank-boc");
    let (_, v) = post_inbound(&client, base, &bank, &json!({"messages": [wire(&of_bank)]}));
    assert_eq!(v["results"][0]["outcome"], "applied", "{v}");
    let records: Value = client
        .get(format!("{base}/api/eport/bank-records"))
        .bearer_auth(&bank)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        records
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["bank_ref"] == "HTTP-B-1" && r["bank"] == "bank-boc"),
        "{records}"
    );

    // A licence signed by the tax agency, sent by the tax agency: refused by the licence rule.
    let sat = login(&client, base, "sat");
    let by_tax = signed(&keys.tax, 1, &licence("HTTP-L-4"));
    let (_, v) = post_inbound(&client, base, &sat, &json!({"messages": [wire(&by_tax)]}));
    assert_eq!(
        (&v["results"][0]["outcome"], &v["results"][0]["reason"]),
        (&json!("refused"), &json!("forbidden")),
        "{v}"
    );

    // Not an agency: 403. Not a list of messages: 422 with problems.
    let ent = login(&client, base, "ent-sh");
    let (status, v) = post_inbound(&client, base, &ent, &json!({"messages": [wire(&e)]}));
    assert_eq!(status, 403, "{v}");
    for bad in [
        json!({"messages": "x"}),
        json!({}),
        json!({"messages": []}),
        json!({"messages": [1], "x": 2}),
    ] {
        let (status, v) = post_inbound(&client, base, &mofcom, &bad);
        assert_eq!(status, 422, "{bad}: {v}");
        assert!(v["error"]["problems"][0]["code"].is_string(), "{bad}: {v}");
        assert!(
            v["error"]["problems"][0]["message_en"].is_string(),
            "{bad}: {v}"
        );
    }
    // A message that is not an envelope is refused on its own, not the request.
    let (status, v) = post_inbound(&client, base, &mofcom, &json!({"messages": [{"a": 1}]}));
    assert_eq!(
        (status, &v["results"][0]["reason"]),
        (200, &json!("malformed")),
        "{v}"
    );

    // Nothing refused was applied.
    let issued: Value = client
        .get(format!("{base}/api/eport/licences"))
        .bearer_auth(&mofcom)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let nos: Vec<&str> = issued
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["licence_no"].as_str())
        .filter(|n| n.starts_with("HTTP-"))
        .collect();
    assert_eq!(nos, ["HTTP-L-1"]);

    // Operators see the log: the recorded refusals with their problems.
    let admin = login(&client, base, "admin");
    let log: Value = client
        .get(format!("{base}/api/exchange/inbound?refused=true"))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let ids: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["message_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{log}");
    assert!(
        ids.contains(&"COMMERCE-3") && ids.contains(&"TAX-1"),
        "{log}"
    );
    let r = client
        .get(format!("{base}/api/exchange/inbound"))
        .bearer_auth(&mofcom)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    drop(keys.dir);
}

#[allow(clippy::too_many_arguments)]
fn start_agency(
    name: &str,
    key: &Path,
    url: &str,
    stream: &str,
    prefix: &str,
    ledger: &Path,
    customs_key: &Path,
) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jinguan"));
    cmd.args([
        "agency", "--agency", name, "--nats", url, "--stream", stream,
    ])
    .args(["--subject-prefix", prefix, "--ledger"])
    .arg(ledger)
    .arg("--customs-key")
    .arg(customs_key)
    .arg("--key")
    .arg(key);
    spawn_agency(cmd, name, GUARD)
}

#[test]
fn records_over_the_bus_apply_exactly_once_across_a_customs_crash() {
    let Some(url) = nats_url() else { return };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let unique = format!("inbound_{}_{nanos}", std::process::id());
    let stream = format!("JGT_{unique}").to_uppercase();
    let prefix = format!("jgt.{unique}");
    const N: usize = 80; // licences; as many bank records

    let dir = tempfile::tempdir().unwrap();
    let keys = keys(dir.path());
    let data = dir.path().join("data");
    let serve_args = [
        "--nats",
        url.as_str(),
        "--exchange-stream",
        stream.as_str(),
        "--exchange-subject-prefix",
        prefix.as_str(),
        "--agency-keys",
        keys.file.to_str().unwrap(),
    ];
    let mut customs = serve(&data, true, &serve_args);
    let customs_key = data.join("exchange-customs.pub");
    let commerce = start_agency(
        "commerce",
        &keys.dir.join("COMMERCE.key"),
        &url,
        &stream,
        &prefix,
        &dir.path().join("commerce"),
        &customs_key,
    );
    let bank = start_agency(
        "bank",
        &keys.dir.join("BANK_BOC.key"),
        &url,
        &stream,
        &prefix,
        &dir.path().join("bank"),
        &customs_key,
    );
    let client = reqwest::blocking::Client::new();

    // Bad input to the agency's own API: 422 with problems.
    for bad in [
        json!({"kind": "declaration_released.v1", "payload": {}}),
        json!({"kind": "licence_issued.v1", "payload": {"licence_no": "X"}}),
        json!({"nope": 1}),
    ] {
        let r = client
            .post(format!("{}/records", commerce.base))
            .json(&bad)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 422, "{bad}");
        let v: Value = r.json().unwrap();
        assert!(v["error"]["problems"][0]["field"].is_string(), "{v}");
    }

    // The records go while customs runs; customs is killed (SIGKILL) mid-stream.
    let applied = || {
        count(
            &db(&data),
            "SELECT count(*) FROM exchange_inbound WHERE outcome = 'applied'",
        )
    };
    let mut sent = 0;
    let start = Instant::now();
    while sent < N / 2 || applied() < 20 {
        if sent < N / 2 {
            post_record(
                &client,
                &commerce,
                "licence_issued.v1",
                serde_json::to_value(licence(&format!("BUS-L-{sent}"))).unwrap(),
            );
            post_record(
                &client,
                &bank,
                "bank_record.v1",
                serde_json::to_value(bank_record(&format!("BUS-B-{sent}"))).unwrap(),
            );
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
        at_kill >= 20 && (at_kill as usize) < 2 * N,
        "killed mid-stream at {at_kill}"
    );

    // While customs is down: the rest of the records, a tampered message and a TAX-signed
    // licence go onto the bus.
    for i in sent..N {
        post_record(
            &client,
            &commerce,
            "licence_issued.v1",
            serde_json::to_value(licence(&format!("BUS-L-{i}"))).unwrap(),
        );
        post_record(
            &client,
            &bank,
            "bank_record.v1",
            serde_json::to_value(bank_record(&format!("BUS-B-{i}"))).unwrap(),
        );
    }
    let forged = tampered(signed(&keys.commerce, 999_999, &licence("BUS-FORGED")));
    let by_tax = signed(&keys.tax, 1, &licence("BUS-TAX"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url.as_str()).await.unwrap());
        for e in [&forged, &by_tax] {
            js.publish(format!("{prefix}.CUSTOMS.{}", e.kind), e.to_wire().into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    });

    // Customs comes back (the demo's users are in its store): everything applied once.
    let customs = serve(&data, false, &serve_args);
    let start = Instant::now();
    loop {
        let c = db(&data);
        let done = count(&c, "SELECT count(*) FROM exchange_inbound");
        if done as usize == 2 * N + 1 {
            break;
        }
        assert!(
            start.elapsed() < GUARD,
            "hang guard: {done} of {} recorded",
            2 * N + 1
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let c = db(&data);
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM eport_licences WHERE licence_no LIKE 'BUS-L-%'"
        ),
        N as i64
    );
    assert_eq!(
        count(
            &c,
            "SELECT count(DISTINCT licence_no) FROM eport_licences WHERE licence_no LIKE 'BUS-L-%'"
        ),
        N as i64
    );
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM eport_bank_records WHERE bank_ref LIKE 'BUS-B-%'"
        ),
        N as i64
    );
    assert_eq!(count(&c, "SELECT count(*) FROM exchange_inbound WHERE outcome = 'applied' AND message_id LIKE 'COMMERCE-%'"), N as i64);
    assert_eq!(count(&c, "SELECT count(*) FROM exchange_inbound WHERE outcome = 'applied' AND message_id LIKE 'BANK_BOC-%'"), N as i64);
    // The tampered one never applied nor recorded; the TAX-signed one refused, recorded.
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM eport_licences WHERE licence_no IN ('BUS-FORGED', 'BUS-TAX')"
        ),
        0
    );
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM exchange_inbound WHERE message_id = 'COMMERCE-999999'"
        ),
        0
    );
    let (outcome, problems): (String, String) = c
        .query_row(
            "SELECT outcome, problems FROM exchange_inbound WHERE message_id = 'TAX-1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(outcome, "refused");
    assert!(problems.contains("\"code\":\"forbidden\""), "{problems}");

    // Every record of each agency was acknowledged by the bus: its outbox is all sent.
    for (a, file) in [
        (&commerce, "commerce/COMMERCE.sqlite"),
        (&bank, "bank/BANK.sqlite"),
    ] {
        let start = Instant::now();
        loop {
            let unsent = count(
                &rusqlite::Connection::open(dir.path().join(file)).unwrap(),
                "SELECT count(*) FROM agency_outbox WHERE sent_at_ms IS NULL",
            );
            if unsent == 0 {
                break;
            }
            assert!(
                start.elapsed() < GUARD,
                "hang guard: {} has {unsent} unsent",
                a.base
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // A withdrawal over the bus binds the next filing naming the licence.
    post_record(
        &client,
        &commerce,
        "licence_withdrawn.v1",
        json!({"licence_no": "BUS-L-0", "reason": "export rights revoked", "withdrawn_at": Utc::now()}),
    );
    let start = Instant::now();
    while count(
        &db(&data),
        "SELECT count(*) FROM exchange_inbound WHERE kind = 'licence_withdrawn.v1' AND outcome = 'applied'",
    ) != 1
    {
        assert!(start.elapsed() < GUARD, "hang guard: the withdrawal is not applied");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ent = login(&client, &customs.base, "ent-sh");
    let mut cars: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    cars["bill_no"] = Value::Null;
    cars["licence_no"] = "BUS-L-0".into();
    let item = cars["items"][0].as_object_mut().unwrap();
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
    let r = client
        .post(format!("{}/api/declarations", customs.base))
        .bearer_auth(&ent)
        .header("content-type", "application/json")
        .header("client-seq-no", "bus-withdrawn-1")
        .body(cars.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let v: Value = r.json().unwrap();
    assert!(
        v["error"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["field"] == "licence_no" && p["code"] == "licence_withdrawn"),
        "{v}"
    );

    drop((commerce, bank, customs));
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url.as_str()).await.unwrap());
        js.delete_stream(&stream).await.unwrap();
    });
}
