//! The day through a running Jinguan over its HTTP API (`jinguan serve`, the same calls a filer,
//! a carrier, an agency and an analyst make), with a bounded number of concurrent clients.
//!
//! Who it signs in as (the users of `jinguan serve --demo`, password [`HttpOptions::password`]):
//! - `admin` creates one enterprise user per filing enterprise of the day (`sim<seed>-e<index>`,
//!   bound to its USCC; an existing one is reused);
//! - `hq-analyst` replaces the analyst's rule set with the simulator's, adds the simulator's watch
//!   list entries, and reads back every accepted declaration's lane decision (rules fired, watch
//!   hits, price findings, sampling) for the detection report;
//! - `sh-chief` (reviewer duty, national credit classes) sets the credit class of every filing
//!   enterprise that is not of the general class;
//! - `mofcom` (the commerce agency) issues the world's licences to their holders;
//! - `samr` (market regulation) registers every filing enterprise as active in its registry;
//! - `carrier` files an original manifest, arrived, for every import by sea or air (their bills,
//!   packages and weights as declared), since `jinguan serve` matches those against manifests.
//!
//! What differs from the in-memory day, by construction: reference prices are the server's own
//! (built from its released declarations, not the simulator's warm-up), so the price check
//! fires only once releases have accumulated; the sampling draw hashes the server's declaration number; an enterprise's
//! discrepancies of last year are not set (no API); the E-Port licence ledger and cargo control
//! refuse at filing what the in-memory pipeline would only route (their refusals are counted by
//! code); revenue is what was assessed at acceptance (green and blue lanes), as the notices say.
//!
//! With [`HttpOptions::officer_steps`], `admin` also creates one officer per declaration office
//! (`sim<seed>-o<office>`: reviewer, inspector, tax officer, release officer), and every accepted
//! filing is taken on to release: document review or inspection recorded as conform, assessment,
//! each notice paid through the bank (the enterprise initiates, the demo's bank user `bank-boc`
//! confirms the amount due), release. A filing held by anti-smuggling stays held; a
//! step the server refuses ends that filing's steps (counted by code). The report's clearance
//! times stay simulated (the server's clock is the machine's).
//!
//! A filing or step answered 409 `version_conflict` (a filing matched to a manifest that another
//! filing's release moved on meanwhile) is sent again, as the answer asks, a few times.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use clearance::{CreditClass, Lane};
use domain::declaration::DeclarationForm;
use refdata::RefData;
use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{gen, generate, rules, Config, Outcome, Tally, Timings, World};

/// Password of the enterprise users the simulator creates.
pub const SIM_PASSWORD: &str = "jinguan-sim-password";
/// Bills per manifest the simulator files.
const BILLS_PER_MANIFEST: usize = 500;
/// Transport modes whose imports `jinguan serve` matches against a manifest (waterway, air).
const MANIFEST_MODES: [&str; 2] = ["2", "5"];
/// Requests a client may wait for one answer.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts of a filing or step the server answers 409 `version_conflict` ("reload and try
/// again": a filing matched to a manifest another filing's release just moved on).
const CONFLICT_ATTEMPTS: u32 = 8;

/// Whether an answer asks to try again.
fn is_conflict((status, v): &Answer) -> bool {
    *status == StatusCode::CONFLICT && error_code(v).as_deref() == Some("version_conflict")
}

/// Send what `request` builds until it is not a version conflict (at most
/// [`CONFLICT_ATTEMPTS`] times, a few milliseconds apart); `retried` counts the repeats.
fn retrying(
    retried: &AtomicU64,
    mut request: impl FnMut() -> Result<Answer, String>,
) -> Result<Answer, String> {
    let mut answer = request()?;
    for attempt in 1..CONFLICT_ATTEMPTS {
        if !is_conflict(&answer) {
            break;
        }
        retried.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(2 * u64::from(attempt)));
        answer = request()?;
    }
    Ok(answer)
}

/// How to drive the server.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// The server's base URL (`http://127.0.0.1:8080`).
    pub url: String,
    /// Concurrent clients (each one request at a time).
    pub clients: usize,
    /// Declarations per second to submit; `None`: as fast as the server answers.
    pub rate_per_s: Option<f64>,
    /// The password of the demo users named in the module's documentation.
    pub password: String,
    /// Today (the server's date): licences are issued valid on it.
    pub today: NaiveDate,
    /// When the manifests' means of transport arrived (before the filings).
    pub arrived_at: DateTime<Utc>,
    /// Take every accepted filing on to release through the officers' and the enterprise's
    /// steps (see the module documentation).
    pub officer_steps: bool,
}

/// What a run over HTTP came to, besides the tally.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct HttpNotes {
    pub enterprise_users: u64,
    pub manifests: u64,
    pub bills: u64,
    pub licences: u64,
    pub watch_entries: u64,
    pub credit_classes: u64,
    pub rules: usize,
    pub rule_set_version: Value,
    /// Filings refused at submission (422), by the first problem's code.
    pub refusals: BTreeMap<String, u64>,
    /// Accepted filings, by their last status (the one answered at filing, or after the last
    /// step taken).
    pub statuses: BTreeMap<String, u64>,
    pub officers: u64,
    /// Officer and enterprise steps taken, answered 200.
    pub steps: u64,
    /// Steps the server refused, by code (they end that filing's steps).
    pub step_refusals: BTreeMap<String, u64>,
    /// Filings and steps sent again after a 409 `version_conflict`.
    pub conflicts_retried: u64,
    /// Requests answered with a status other than 2xx or 422, or not answered.
    pub failures: u64,
    pub setup_s: f64,
}

struct Api {
    base: String,
    client: Client,
}

type Answer = (StatusCode, Value);

impl Api {
    fn new(url: &str, clients: usize) -> Result<Api, String> {
        let client = Client::builder()
            .timeout(TIMEOUT)
            .pool_max_idle_per_host(clients.max(1))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Api {
            base: url.trim_end_matches('/').to_owned(),
            client,
        })
    }

    fn send(&self, req: reqwest::blocking::RequestBuilder) -> Result<Answer, String> {
        let resp = req.send().map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status();
        let bytes = resp.bytes().map_err(|e| format!("reading answer: {e}"))?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, value))
    }

    fn post(&self, token: Option<&str>, path: &str, body: &Value) -> Result<Answer, String> {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req)
    }

    fn put(&self, token: &str, path: &str, body: &Value) -> Result<Answer, String> {
        self.send(
            self.client
                .put(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .bearer_auth(token)
                .body(body.to_string()),
        )
    }

    fn get(&self, token: &str, path: &str) -> Result<Answer, String> {
        self.send(
            self.client
                .get(format!("{}{path}", self.base))
                .bearer_auth(token),
        )
    }

    fn login(&self, login: &str, password: &str) -> Result<String, String> {
        let (status, v) = self.post(
            None,
            "/api/session",
            &json!({"login": login, "password": password}),
        )?;
        if status != StatusCode::CREATED {
            return Err(format!(
                "login as {login}: {status} {}",
                error_code(&v).unwrap_or_default()
            ));
        }
        v["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("login as {login}: no token in the answer"))
    }
}

/// The code of an error answer: the first problem's code, else the error's.
fn error_code(v: &Value) -> Option<String> {
    let e = &v["error"];
    e["problems"][0]["code"]
        .as_str()
        .or_else(|| e["code"].as_str())
        .map(str::to_owned)
}

fn ok_or_exists(what: &str, (status, v): Answer) -> Result<bool, String> {
    match status {
        s if s.is_success() => Ok(true),
        StatusCode::CONFLICT => Ok(false),
        s => Err(format!(
            "{what}: {s} {}",
            error_code(&v).unwrap_or_default()
        )),
    }
}

/// One bill of an import to be matched against a manifest.
struct BillToFile {
    office: String,
    bill_no: String,
    packages: String,
    gross_weight_kg: String,
}

/// What the setup needs from the day: its filers and the bills of its sea and air imports.
fn survey(world: &World, cfg: &Config) -> (BTreeSet<usize>, Vec<BillToFile>) {
    let mut filers = BTreeSet::new();
    let mut bills = Vec::new();
    for i in 0..cfg.declarations {
        let d = generate(world, &cfg.rates, i, cfg.items);
        filers.insert(d.enterprise);
        if !d.import {
            continue;
        }
        let Ok(f) = serde_json::from_slice::<DeclarationForm>(&d.json) else {
            continue;
        };
        if !f
            .transport_mode
            .as_deref()
            .is_some_and(|m| MANIFEST_MODES.contains(&m))
        {
            continue;
        }
        if let (Some(office), Some(bill_no), Some(p), Some(w)) = (
            f.entry_exit_office,
            f.bill_no,
            f.packages,
            f.gross_weight_kg,
        ) {
            if p.as_str().parse::<u32>().is_ok_and(|p| p > 0) {
                bills.push(BillToFile {
                    office,
                    bill_no,
                    packages: p.into_string(),
                    gross_weight_kg: w.into_string(),
                });
            }
        }
    }
    (filers, bills)
}

/// Run `f` over `items` on `clients` threads; the first error stops the rest.
fn parallel<T: Sync>(
    items: &[T],
    clients: usize,
    f: impl Fn(&T) -> Result<(), String> + Sync,
) -> Result<(), String> {
    let next = AtomicU64::new(0);
    let error: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..clients.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= items.len() || error.lock().map(|e| e.is_some()).unwrap_or(true) {
                    break;
                }
                if let Err(e) = f(&items[i]) {
                    if let Ok(mut slot) = error.lock() {
                        slot.get_or_insert(e);
                    }
                    break;
                }
            });
        }
    });
    match error.into_inner() {
        Ok(None) => Ok(()),
        Ok(Some(e)) => Err(e),
        Err(_) => Err("a setup thread panicked".into()),
    }
}

struct Setup {
    /// The bearer token of each filing enterprise's user, by enterprise index.
    tokens: HashMap<usize, String>,
    /// The bearer token of each declaration office's officer (with `officer_steps`).
    officers: HashMap<String, String>,
    analyst: String,
    /// The demo's bank user (`bank-boc`), which confirms the payments the enterprises initiate.
    bank: String,
    notes: HttpNotes,
}

fn setup(api: &Api, world: &World, cfg: &Config, opts: &HttpOptions) -> Result<Setup, String> {
    let pw = opts.password.as_str();
    let admin = api.login("admin", pw)?;
    let analyst = api.login("hq-analyst", pw)?;
    let chief = api.login("sh-chief", pw)?;
    let commerce = api.login("mofcom", pw)?;
    let carrier = api.login("carrier", pw)?;
    let registry = api.login("samr", pw)?;
    let bank = api.login(SIM_BANK, pw)?;
    let mut notes = HttpNotes::default();

    // The simulator's rules replace the analyst's, in force for the next filing.
    let text = rules::rule_text(world, cfg.rules);
    let (status, v) = api.put(&analyst, "/api/risk/rules", &json!({ "text": text }))?;
    if !status.is_success() {
        return Err(format!(
            "put the rule set: {status} {}",
            error_code(&v).unwrap_or_default()
        ));
    }
    notes.rules = rules::rule_set(world, cfg.rules).len();
    notes.rule_set_version = v["version"].clone();

    let watch = rules::watch_lists(world);
    for e in watch.entries() {
        let body = json!({"kind": e.kind, "value": e.value, "lane": e.lane, "suspend": e.suspend,
            "case": e.case, "until": e.until});
        ok_or_exists(
            "add a watch-list entry",
            api.post(Some(&analyst), "/api/risk/watch-list", &body)?,
        )?;
        notes.watch_entries += 1;
    }

    let licences: Vec<_> = world.licences.iter().collect();
    let issued = AtomicU64::new(0);
    let valid_from = opts.today.min(world.day) - chrono::Days::new(30);
    let valid_to = opts.today.max(world.day) + chrono::Days::new(30);
    parallel(&licences, opts.clients, |l| {
        let c = &world.commodities[l.commodity];
        let body = json!({"licence_no": l.number, "kind": "import",
            "holder": world.enterprises[l.enterprise].uscc.as_str(),
            "commodity": c.code.as_str(), "unit": c.first_unit,
            "quantity": l.quantity.to_string(),
            "valid_from": valid_from.to_string(), "valid_to": valid_to.to_string()});
        if ok_or_exists(
            "issue a licence",
            api.post(Some(&commerce), "/api/eport/licences", &body)?,
        )? {
            issued.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    })?;
    notes.licences = issued.into_inner();

    let (filers, bills) = survey(world, cfg);
    let filers: Vec<usize> = filers.into_iter().collect();
    let tokens = Mutex::new(HashMap::with_capacity(filers.len()));
    let classes = AtomicU64::new(0);
    parallel(&filers, opts.clients, |e| {
        let ent = &world.enterprises[*e];
        let login = format!("sim{}-e{e}", cfg.seed);
        let body = json!({"login": login, "password": SIM_PASSWORD, "role": "enterprise",
            "uscc": ent.uscc.as_str()});
        ok_or_exists(
            "create an enterprise user",
            api.post(Some(&admin), "/api/users", &body)?,
        )?;
        let token = api.login(&login, SIM_PASSWORD)?;
        let (status, v) = api.put(
            &registry,
            &format!("/api/eport/registry/{}", ent.uscc.as_str()),
            &json!({"name": ent.name, "status": "active"}),
        )?;
        if !status.is_success() {
            return Err(format!(
                "register an enterprise: {status} {}",
                error_code(&v).unwrap_or_default()
            ));
        }
        if ent.credit != CreditClass::General {
            let (status, v) = api.put(
                &chief,
                &format!("/api/risk/credit-classes/{}", ent.uscc.as_str()),
                &json!({ "class": ent.credit, "reason": "the simulated day's class" }),
            )?;
            if !status.is_success() {
                return Err(format!(
                    "set a credit class: {status} {}",
                    error_code(&v).unwrap_or_default()
                ));
            }
            classes.fetch_add(1, Ordering::Relaxed);
        }
        tokens
            .lock()
            .map_err(|_| "token map poisoned".to_owned())?
            .insert(*e, token);
        Ok(())
    })?;
    notes.enterprise_users = filers.len() as u64;
    notes.credit_classes = classes.into_inner();

    // Original manifests, by office, arrived before the filings.
    let mut by_office: BTreeMap<&str, Vec<&BillToFile>> = BTreeMap::new();
    for b in &bills {
        by_office.entry(b.office.as_str()).or_default().push(b);
    }
    let mut manifests = Vec::new();
    for (office, list) in &by_office {
        for chunk in list.chunks(BILLS_PER_MANIFEST) {
            manifests.push((*office, chunk));
        }
    }
    let at = opts.arrived_at.to_rfc3339();
    parallel(&manifests, opts.clients, |(office, chunk)| {
        let first = &chunk[0].bill_no;
        // The first bill's serial names the manifest and its flight: unique within the day.
        let serial: u64 = first
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap_or(0);
        let id = format!("SIM{}-{office}-{serial}", cfg.seed % 1_000_000);
        let bills: Vec<Value> = chunk
            .iter()
            .map(|b| {
                json!({"bill_no": b.bill_no, "kind": {"kind": "master"}, "lines": [
                {"packages": b.packages.parse::<u32>().unwrap_or(1), "package_type": "CT",
                 "gross_weight_kg": b.gross_weight_kg, "description": "simulated goods"}]})
            })
            .collect();
        let body = json!({"manifest_id": id, "kind": "original",
            "voyage": {"means": {"mode": "flight", "flight_no": format!("SM{}", serial % 10_000)},
                "voyage_no": world.day.format("%Y%m%d").to_string(), "direction": "import", "office": office},
            "bills": bills});
        if ok_or_exists(
            "file a manifest",
            api.post(Some(&carrier), "/api/manifests", &body)?,
        )? {
            let (status, v) = api.post(
                Some(&carrier),
                &format!("/api/manifests/{id}/arrival"),
                &json!({ "at": at }),
            )?;
            if !status.is_success() && status != StatusCode::CONFLICT {
                return Err(format!(
                    "report an arrival: {status} {}",
                    error_code(&v).unwrap_or_default()
                ));
            }
        }
        Ok(())
    })?;
    notes.manifests = manifests.len() as u64;
    notes.bills = bills.len() as u64;

    let officers = Mutex::new(HashMap::new());
    if opts.officer_steps {
        let offices: Vec<&str> = crate::world::OFFICES.iter().map(|o| o.0).collect();
        parallel(&offices, opts.clients, |office| {
            let login = format!("sim{}-o{office}", cfg.seed);
            let body = json!({"login": login, "password": SIM_PASSWORD, "role": "officer",
                "office": office,
                "duties": ["reviewer", "inspector", "tax_officer", "release_officer"]});
            ok_or_exists(
                "create an officer",
                api.post(Some(&admin), "/api/users", &body)?,
            )?;
            let token = api.login(&login, SIM_PASSWORD)?;
            officers
                .lock()
                .map_err(|_| "token map poisoned".to_owned())?
                .insert((*office).to_owned(), token);
            Ok(())
        })?;
    }
    let officers = officers.into_inner().map_err(|_| "token map poisoned")?;
    notes.officers = officers.len() as u64;

    Ok(Setup {
        officers,
        tokens: tokens.into_inner().map_err(|_| "token map poisoned")?,
        analyst,
        bank,
        notes,
    })
}

/// What the server decided for an accepted filing, read from its `lane_chosen` event.
fn outcome(detail: &Value, lane: Lane) -> Outcome {
    let mut o = Outcome {
        valid: true,
        lane: Some(lane),
        suspend: detail["state"]["status"].as_str() == Some("suspended"),
        ..Outcome::default()
    };
    let events = detail["events"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if let Some(x) = events
        .iter()
        .map(|e| &e["event"])
        .find(|e| e["type"] == "lane_chosen")
        .map(|e| &e["explanation"])
    {
        o.rules = x["rules_fired"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        o.price_flag = x["price_findings"]
            .as_array()
            .is_some_and(|a| !a.is_empty());
        o.watch_hit = x["watch_hits"].as_array().is_some_and(|a| !a.is_empty());
        o.sampled = !x["sampling"]["lane"].is_null();
    }
    o.revenue_fen = detail["notices"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| {
                    let f = &n["amount_fen"];
                    f.as_i64()
                        .or_else(|| f.as_str().and_then(|s| s.parse().ok()))
                })
                .sum()
        })
        .unwrap_or(0);
    o
}

/// The day against a running server at `opts.url`; `progress` is called with the number of
/// declarations submitted so far.
pub fn run_http(
    cfg: &Config,
    refdata: &RefData,
    opts: &HttpOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Tally, Timings, HttpNotes), String> {
    let t0 = Instant::now();
    let world = cfg.world(refdata);
    let api = Api::new(&opts.url, opts.clients)?;
    let Setup {
        tokens,
        officers,
        analyst,
        bank,
        mut notes,
    } = setup(&api, &world, cfg, opts)?;
    let setup_time = t0.elapsed();
    notes.setup_s = setup_time.as_secs_f64();

    let t1 = Instant::now();
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let failures = AtomicU64::new(0);
    let retried = AtomicU64::new(0);
    let first_failure: Mutex<Option<String>> = Mutex::new(None);
    let fail = |why: String| {
        failures.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut f) = first_failure.lock() {
            f.get_or_insert(why);
        }
    };
    type Part = (Tally, BTreeMap<String, u64>, Steps);
    let parts: Vec<Part> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..opts.clients.max(1))
            .map(|_| {
                let (world, api, tokens, analyst, officers, bank) =
                    (&world, &api, &tokens, &analyst, &officers, &bank);
                let (next, done, fail, retried) = (&next, &done, &fail, &retried);
                s.spawn(move || {
                    let mut tally = Tally::default();
                    let mut refusals: BTreeMap<String, u64> = BTreeMap::new();
                    let mut steps = Steps::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= cfg.declarations {
                            break;
                        }
                        if let Some(rate) = opts.rate_per_s.filter(|r| *r > 0.0) {
                            let due = t1 + Duration::from_secs_f64(i as f64 / rate);
                            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                                std::thread::sleep(wait);
                            }
                        }
                        let d = generate(world, &cfg.rates, i, cfg.items);
                        let o = match submit(api, tokens, analyst, cfg.seed, &d, retried) {
                            Ok(Submitted::Accepted(o, id, status)) => {
                                let last = match (opts.officer_steps, id) {
                                    (true, Some(id)) => {
                                        let office = d.office;
                                        let to = Clearing {
                                            api,
                                            id,
                                            officer: officers.get(office).map(String::as_str),
                                            enterprise: tokens
                                                .get(&d.enterprise)
                                                .map(String::as_str),
                                            analyst,
                                            bank,
                                            retried,
                                        };
                                        to.release(status, &mut steps).unwrap_or_else(|why| {
                                            fail(why);
                                            String::new()
                                        })
                                    }
                                    _ => status,
                                };
                                *steps.statuses.entry(last).or_default() += 1;
                                o
                            }
                            Ok(Submitted::Refused(code)) => {
                                *refusals.entry(code).or_default() += 1;
                                Outcome {
                                    refused_at_filing: true,
                                    ..Outcome::default()
                                }
                            }
                            Err(why) => {
                                fail(why);
                                Outcome::default()
                            }
                        };
                        tally.add(world.seed, &d, &o);
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                    }
                    (tally, refusals, steps)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a client panicked"))
            .collect()
    });
    let mut tally = Tally::default();
    for (t, r, st) in parts {
        tally.merge(t);
        for (k, v) in r {
            *notes.refusals.entry(k).or_default() += v;
        }
        for (k, v) in st.statuses {
            *notes.statuses.entry(k).or_default() += v;
        }
        for (k, v) in st.refusals {
            *notes.step_refusals.entry(k).or_default() += v;
        }
        notes.steps += st.taken;
    }
    notes.failures = failures.load(Ordering::Relaxed);
    notes.conflicts_retried = retried.load(Ordering::Relaxed);
    if notes.failures > 0 {
        let first = first_failure
            .into_inner()
            .ok()
            .flatten()
            .unwrap_or_default();
        return Err(format!(
            "{} requests failed (not refusals); the first: {first}",
            notes.failures
        ));
    }
    Ok((
        tally,
        Timings {
            setup: setup_time,
            wall: t1.elapsed(),
            pipeline: Duration::ZERO,
        },
        notes,
    ))
}

/// What one client's officer and enterprise steps came to.
#[derive(Default)]
struct Steps {
    statuses: BTreeMap<String, u64>,
    refusals: BTreeMap<String, u64>,
    taken: u64,
}

/// Takes one accepted filing on to release.
struct Clearing<'a> {
    api: &'a Api,
    id: i64,
    officer: Option<&'a str>,
    enterprise: Option<&'a str>,
    analyst: &'a str,
    bank: &'a str,
    retried: &'a AtomicU64,
}

/// The bank the simulated enterprises pay through: the demo's bank user.
const SIM_BANK: &str = "bank-boc";

/// Steps at most per filing (review or inspection, assessment, a few notices, release).
const STEPS_MAX: usize = 12;

impl Clearing<'_> {
    /// Step until released, held, or refused; the last status. An error only for a request
    /// that failed (no answer, or an answer other than 2xx, 409 or 422).
    fn release(&self, mut status: String, steps: &mut Steps) -> Result<String, String> {
        let Some(officer) = self.officer else {
            return Ok(status);
        };
        for _ in 0..STEPS_MAX {
            let (token, step, body) = match status.as_str() {
                "document_review" => (officer, "review", json!({"result": "conform"})),
                "inspection" => (officer, "inspection", json!({"result": "conform"})),
                "awaiting_assessment" => (officer, "assess", json!({})),
                "paid" => (officer, "release", json!({})),
                "assessed" => {
                    let Some(notice) = self.unpaid_notice()? else {
                        return Ok(status);
                    };
                    let Some(enterprise) = self.enterprise else {
                        return Ok(status);
                    };
                    // Through the bank, as a real payment: the enterprise initiates, the
                    // bank's user confirms the amount due with its own reference.
                    match self.pay(enterprise, &notice, steps)? {
                        Some(next) => {
                            status = next;
                            continue;
                        }
                        None => return Ok(status),
                    }
                }
                _ => return Ok(status),
            };
            let path = format!("/api/declarations/{}/{step}", self.id);
            let (s, v) = retrying(self.retried, || self.api.post(Some(token), &path, &body))?;
            match s {
                s if s.is_success() => {
                    steps.taken += 1;
                    status = v["status"].as_str().unwrap_or("").to_owned();
                }
                StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => {
                    let code = error_code(&v).unwrap_or_else(|| "unknown".into());
                    *steps.refusals.entry(format!("{step}: {code}")).or_default() += 1;
                    return Ok(status);
                }
                s => return Err(format!("step {step} of declaration {}: {s}", self.id)),
            }
        }
        Ok(status)
    }

    /// Pay one notice through the bank; the declaration's status after it, or `None` when a
    /// step was refused (counted).
    fn pay(
        &self,
        enterprise: &str,
        notice: &str,
        steps: &mut Steps,
    ) -> Result<Option<String>, String> {
        let path = format!("/api/notices/{notice}/payment-initiation");
        let body = json!({ "bank": SIM_BANK });
        let (s, v) = retrying(self.retried, || {
            self.api.post(Some(enterprise), &path, &body)
        })?;
        if !self.counted("payment-initiation", s, &v, steps)? {
            return Ok(None);
        }
        let body = json!({
            "notice_no": notice,
            "reference": format!("SIM-{notice}"),
            "amount_fen": v["amount_due_fen"],
        });
        let (s, v) = retrying(self.retried, || {
            self.api.post(Some(self.bank), "/api/bank/payments", &body)
        })?;
        if !self.counted("bank-payment", s, &v, steps)? {
            return Ok(None);
        }
        let (s, detail) = self
            .api
            .get(self.analyst, &format!("/api/declarations/{}", self.id))?;
        if !s.is_success() {
            return Err(format!("read declaration {}: {s}", self.id));
        }
        Ok(Some(
            detail["state"]["status"].as_str().unwrap_or("").to_owned(),
        ))
    }

    /// Count a step's answer: `true` when it succeeded, `false` when refused (409/422).
    fn counted(
        &self,
        step: &str,
        s: StatusCode,
        v: &serde_json::Value,
        steps: &mut Steps,
    ) -> Result<bool, String> {
        match s {
            s if s.is_success() => {
                steps.taken += 1;
                Ok(true)
            }
            StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => {
                let code = error_code(v).unwrap_or_else(|| "unknown".into());
                *steps.refusals.entry(format!("{step}: {code}")).or_default() += 1;
                Ok(false)
            }
            s => Err(format!("step {step} of declaration {}: {s}", self.id)),
        }
    }

    fn unpaid_notice(&self) -> Result<Option<String>, String> {
        let (s, detail) = self
            .api
            .get(self.analyst, &format!("/api/declarations/{}", self.id))?;
        if !s.is_success() {
            return Err(format!("read declaration {}: {s}", self.id));
        }
        Ok(detail["notices"].as_array().and_then(|a| {
            a.iter()
                .find(|n| n["paid_at"].is_null())
                .and_then(|n| n["notice_no"].as_str().map(str::to_owned))
        }))
    }
}

enum Submitted {
    /// Accepted: the decision read back, the declaration's id and the status answered.
    Accepted(Outcome, Option<i64>, String),
    /// Refused at filing (422), with the first problem's code.
    Refused(String),
}

fn submit(
    api: &Api,
    tokens: &HashMap<usize, String>,
    analyst: &str,
    seed: u64,
    d: &gen::SimDeclaration,
    retried: &AtomicU64,
) -> Result<Submitted, String> {
    let token = tokens
        .get(&d.enterprise)
        .ok_or_else(|| format!("no user for enterprise {}", d.enterprise))?;
    let (status, v) = retrying(retried, || {
        api.send(
            api.client
                .post(format!("{}/api/declarations", api.base))
                .header("content-type", "application/json")
                .header("client-seq-no", format!("sim-{seed}-{}", d.index))
                .bearer_auth(token)
                .body(d.json.clone()),
        )
    })?;
    match status {
        StatusCode::CREATED | StatusCode::OK => {
            let status = v["status"].as_str().unwrap_or("").to_owned();
            let Some(lane) = v["lane"].as_str().and_then(Lane::parse) else {
                // Accepted without a lane: nothing to read back.
                return Ok(Submitted::Accepted(
                    Outcome::default(),
                    v["id"].as_i64(),
                    status,
                ));
            };
            let id = v["id"]
                .as_i64()
                .ok_or_else(|| "a filing without an id".to_owned())?;
            let (s, detail) = api.get(analyst, &format!("/api/declarations/{id}"))?;
            if !s.is_success() {
                return Err(format!("read declaration {id}: {s}"));
            }
            Ok(Submitted::Accepted(
                outcome(&detail, lane),
                Some(id),
                status,
            ))
        }
        StatusCode::UNPROCESSABLE_ENTITY => Ok(Submitted::Refused(
            error_code(&v).unwrap_or_else(|| "unknown".into()),
        )),
        s => Err(format!(
            "submit declaration {}: {s} {}",
            d.index,
            error_code(&v).unwrap_or_default()
        )),
    }
}
