//! `jinguan bench sign-in-attack`: filing over HTTP with and without a flood of wrong sign-ins
//! (issue 15, item 1's "Must show": 128 concurrent wrong sign-ins keep the server's RSS under
//! 300 MB and filing p99 under 100 ms). One `jinguan serve` child on a fresh SQLite ledger; the
//! quiet phase is the reference, measured in the same run on the same server.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::bench_cmd::{
    bootstrap_bench_user, cpu_model, file_bench_manifests, http_load, rss_kib, service,
    sign_in_bench, start_server, Run, Target, BENCH_PASSWORD, BILLS_PER_SECOND,
};

/// One phase's figures.
struct Phase {
    run: Run,
    rss_peak_kib: u64,
}

pub fn run(
    data_dir: &Path,
    clients: usize,
    attackers: usize,
    seconds: u64,
    json: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    if !(1..=1024).contains(&clients)
        || !(1..=4096).contains(&attackers)
        || !(1..=60).contains(&seconds)
    {
        bail!("--clients 1..=1024, --attackers 1..=4096 and --seconds 1..=60");
    }
    let refdata = Arc::new(crate::load_reference(data_dir)?);
    let body = app::demo::IMPORT_TEMPLATE.as_bytes().to_vec();
    let dir = tempfile::tempdir().context("temporary folder")?;
    let target = Target::Sqlite(dir.path().to_owned());
    bootstrap_bench_user(&service(&target, refdata.clone())?)?;
    // Bills for both phases: the attack phase files from the second half.
    file_bench_manifests(&target, refdata, 2 * BILLS_PER_SECOND * seconds)?;
    let (child, base) = start_server(&target, dir.path())?;
    let pid = child.0.id();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let token = rt.block_on(sign_in_bench(&client, &base))?;
    std::thread::sleep(Duration::from_millis(300));
    let rss_idle_kib = rss_kib(pid).unwrap_or(0);

    let sampled = |f: &mut dyn FnMut() -> Run| -> Phase {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let sampler = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(r) = rss_kib(pid) {
                        peak.fetch_max(r, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        let run = f();
        stop.store(true, Ordering::Relaxed);
        let _ = sampler.join();
        Phase {
            run,
            rss_peak_kib: peak.load(Ordering::Relaxed),
        }
    };

    // --- quiet: the reference -------------------------------------------------------------
    let quiet = sampled(&mut || {
        rt.block_on(http_load(
            &client,
            std::slice::from_ref(&base),
            &token,
            &body,
            clients,
            seconds,
            0,
        ))
    });

    // --- under attack ---------------------------------------------------------------------
    let statuses: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let attack_stop = Arc::new(AtomicBool::new(false));
    let attack_client = reqwest::Client::builder()
        .pool_max_idle_per_host(attackers)
        .timeout(Duration::from_secs(60))
        .build()?;
    let attack_tasks: Vec<_> = (0..attackers)
        .map(|a| {
            let client = attack_client.clone();
            let url = format!("{base}/api/session");
            let stop = attack_stop.clone();
            let statuses = statuses.clone();
            rt.spawn(async move {
                let mut k = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    k += 1;
                    // Half the attackers guess the bench user's password, half try unknown
                    // logins (distinct each time, as a spray would).
                    let login = if a % 2 == 0 {
                        "bench".to_owned()
                    } else {
                        format!("nobody-{a}-{k}")
                    };
                    let r = client
                        .post(&url)
                        .json(&serde_json::json!({"login": login, "password": format!("wrong-{a}-{k}")}))
                        .send()
                        .await;
                    let key = match r {
                        Ok(r) => {
                            let s = r.status().as_u16().to_string();
                            let _ = r.bytes().await;
                            s
                        }
                        Err(e) if e.is_timeout() => "timeout".to_owned(),
                        Err(_) => "connection error".to_owned(),
                    };
                    *statuses.lock().unwrap().entry(key).or_default() += 1;
                }
            })
        })
        .collect();
    // Let the flood build up before filing starts.
    std::thread::sleep(Duration::from_millis(500));
    let attacked = sampled(&mut || {
        rt.block_on(http_load(
            &client,
            std::slice::from_ref(&base),
            &token,
            &body,
            clients,
            seconds,
            BILLS_PER_SECOND * seconds,
        ))
    });
    attack_stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for t in attack_tasks {
            let _ = t.await;
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    let rss_after_kib = rss_kib(pid).unwrap_or(0);
    // The bench user's right password after the attack: refused while the login is locked
    // (429), as the lockout says; reported, not judged.
    let right_after: u16 = rt.block_on(async {
        client
            .post(format!("{base}/api/session"))
            .json(&serde_json::json!({"login": "bench", "password": BENCH_PASSWORD}))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    });
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    drop(child);

    let statuses = statuses.lock().unwrap().clone();
    let attempts: u64 = statuses.values().sum();
    let attack_seconds = attacked.run.seconds + 0.5;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "jinguan bench sign-in-attack — {clients} filing clients, {attackers} concurrent wrong sign-ins, {seconds} s each phase, SQLite WAL synchronous=FULL, loopback; load average {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!(
        "{:<28} {:>10} {:>9} {:>9} {:>8} {:>14}",
        "phase", "decl/s", "p50 ms", "p99 ms", "errors", "RSS peak MiB"
    );
    for (name, p) in [("quiet (reference)", &quiet), ("under attack", &attacked)] {
        println!(
            "{:<28} {:>10.0} {:>9.2} {:>9.2} {:>8} {:>14.1}",
            name,
            p.run.rate(),
            p.run.percentile_ms(0.5),
            p.run.percentile_ms(0.99),
            p.run.errors,
            mib(p.rss_peak_kib)
        );
    }
    let ratio = if quiet.run.rate() > 0.0 {
        attacked.run.rate() / quiet.run.rate()
    } else {
        0.0
    };
    println!(
        "sign-in attempts: {attempts} in {attack_seconds:.1} s ({:.0}/s), answers {statuses:?}; the right password right after: {right_after}",
        attempts as f64 / attack_seconds
    );
    let p99 = attacked.run.percentile_ms(0.99);
    let rss_ok = attacked.rss_peak_kib < 300 * 1024;
    println!(
        "RSS: idle {:.1} MiB, peak under attack {:.1} MiB (target < 300: {}), 2 s after {:.1} MiB; filing p99 under attack {p99:.2} ms (target < 100: {}); throughput under attack / quiet {ratio:.2}",
        mib(rss_idle_kib),
        mib(attacked.rss_peak_kib),
        if rss_ok { "met" } else { "not met" },
        mib(rss_after_kib),
        if p99 < 100.0 { "met" } else { "not met" },
    );
    println!(
        "CPU: {} × {} (server, filing clients and attackers share them)",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let figures = serde_json::json!({
        "bench": "sign-in-attack", "clients": clients, "attackers": attackers, "seconds": seconds,
        "quiet": {"per_s": quiet.run.rate(), "p50_ms": quiet.run.percentile_ms(0.5), "p99_ms": quiet.run.percentile_ms(0.99), "errors": quiet.run.errors, "rss_peak_mib": mib(quiet.rss_peak_kib)},
        "attack": {"per_s": attacked.run.rate(), "p50_ms": attacked.run.percentile_ms(0.5), "p99_ms": p99, "errors": attacked.run.errors, "rss_peak_mib": mib(attacked.rss_peak_kib)},
        "sign_in_attempts": attempts, "answers": statuses, "right_password_after": right_after,
        "rss_idle_mib": mib(rss_idle_kib), "rss_after_mib": mib(rss_after_kib),
        "ratio_attack_quiet": ratio, "cpu": cpu_model(), "loadavg": load.trim(),
    });
    println!("{figures}");
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
