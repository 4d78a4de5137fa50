//! `jinguan stats bench`: the monthly bulletin over a warehouse with DataFusion, and the same
//! SQL statements (`stats::bulletin::bulletin_queries`) with DuckDB over the same Parquet files,
//! in the same run. Both engines also run the plainer per-dimension form of the same figures
//! (`stats::bulletin::per_dimension_queries`), and the ratio is taken to DuckDB's faster form, so
//! that a statement shape which merely suits DataFusion does not flatter it. DuckDB is reached
//! through its Python wheel in a child process (a benchmark reference only, never a product
//! dependency): the process starts and opens its connection before the clock starts, and times
//! its own queries. Prints the times, the ratio, rows and bytes on disk, the CPU model and the
//! load average (docs/BENCHMARKS.md).

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use stats::Warehouse;

const DUCKDB_SCRIPT: &str = r#"
import json, sys, time, duckdb
spec = json.load(sys.stdin)
con = duckdb.connect()
# Its progress bar (queries over ~2 s, e.g. at 100 M rows) would print into the JSON answer.
con.execute("SET enable_progress_bar = false")
con.execute(f"CREATE VIEW items AS SELECT * FROM read_parquet('{spec['glob']}', hive_partitioning = true, hive_types = {{'year': INTEGER, 'month': INTEGER}})")
rows = con.execute("SELECT COUNT(*) FROM items").fetchone()[0]
out = {"rows": rows, "version": duckdb.__version__}
for name, queries in spec['forms'].items():
    times = []
    for r in range(spec['runs'] + 1):
        t = time.perf_counter()
        groups = 0
        for q in queries:
            groups += len(con.execute(q).fetchall())
        if r > 0:
            times.append(time.perf_counter() - t)
    out[name] = {"best_s": min(times), "times_s": times, "groups": groups}
print(json.dumps(out))
"#;

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

pub fn run(
    wh: &Warehouse,
    month: &str,
    runs: usize,
    python: &str,
    json: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let (y, m) = stats::bulletin::parse_month(month).map_err(|e| anyhow::anyhow!("{e}"))?;
    let runs = runs.max(1);
    let rows = wh
        .query(
            "SELECT COUNT(*) AS n FROM items",
            Duration::from_secs(600),
            10,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .json_rows()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .first()
        .and_then(|r| r.get("n").and_then(|v| v.as_u64()))
        .unwrap_or(0);
    let bytes = wh.size_bytes().map_err(|e| anyhow::anyhow!("{e}"))?;
    let load_before = load_average();

    // DataFusion: the whole bulletin (the statements, the derived tables, names), as
    // `jinguan stats bulletin` runs it.
    let mut df_times = Vec::new();
    for r in 0..=runs {
        let t = Instant::now();
        let b = stats::bulletin::bulletin(wh, month, None, Duration::from_secs(3600))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        std::hint::black_box(&b);
        if r > 0 {
            df_times.push(t.elapsed().as_secs_f64());
        }
    }
    // DataFusion: the same statements alone (no names, no derived tables), and the plainer
    // per-dimension form, as DuckDB runs them below.
    let bulletin_sql: Vec<String> = stats::bulletin::bulletin_queries(y, m, None)
        .into_iter()
        .map(|(_, q)| q)
        .collect();
    let per_dimension_sql = stats::bulletin::per_dimension_queries(y, m);
    let mut df_forms = Vec::new();
    for (name, queries) in [
        ("bulletin", &bulletin_sql),
        ("per_dimension", &per_dimension_sql),
    ] {
        let ctx = wh.session().map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut best = f64::INFINITY;
        for r in 0..=runs {
            let t = Instant::now();
            for q in queries {
                let a = wh
                    .query_in(&ctx, q, Duration::from_secs(3600), usize::MAX)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                std::hint::black_box(&a);
            }
            if r > 0 {
                best = best.min(t.elapsed().as_secs_f64());
            }
        }
        df_forms.push((name, best));
    }
    // DuckDB: the same statements, both forms, on the same files.
    let spec = serde_json::json!({
        "glob": format!("{}/*/*/*.parquet", wh.items_dir().display()),
        "runs": runs,
        "forms": {"bulletin": bulletin_sql, "per_dimension": per_dimension_sql},
    });
    let mut child = Command::new(python)
        .arg("-c")
        .arg(DUCKDB_SCRIPT)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("failed to start {python} (is the duckdb wheel installed?)"))?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().context("child stdin")?;
        stdin.write_all(spec.to_string().as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("DuckDB run failed: {}", out.status);
    }
    let duck: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("DuckDB's answer is not JSON")?;
    let duck_form = |name: &str| duck[name]["best_s"].as_f64().context("DuckDB time");
    let (duck_bulletin, duck_per_dim) = (duck_form("bulletin")?, duck_form("per_dimension")?);
    // The reference is DuckDB's faster form: the ratio does not profit from a form that suits
    // DataFusion better than DuckDB.
    let duck_best = duck_bulletin.min(duck_per_dim);
    let df_best = df_times.iter().copied().fold(f64::INFINITY, f64::min);
    let ratio = df_best / duck_best;
    let load_after = load_average();
    println!("bulletin benchmark 统计快报基准 — month {month}");
    println!("| figure | value |");
    println!("|---|---|");
    println!("| item rows | {rows} |");
    println!(
        "| Parquet on disk | {:.2} GiB ({bytes} bytes) |",
        bytes as f64 / (1u64 << 30) as f64
    );
    println!(
        "| DataFusion bulletin (statements, names, tables), best of {runs} | {df_best:.3} s |"
    );
    for (name, best) in &df_forms {
        println!("| DataFusion, {name} statements only, best of {runs} | {best:.3} s |");
    }
    let version = duck["version"].as_str().unwrap_or("?");
    println!("| DuckDB {version}, bulletin statements, best of {runs} | {duck_bulletin:.3} s |");
    println!(
        "| DuckDB {version}, per_dimension statements, best of {runs} | {duck_per_dim:.3} s |"
    );
    println!("| reference: DuckDB's faster form | {duck_best:.3} s |");
    println!("| ratio DataFusion / DuckDB | {ratio:.2} |");
    println!(
        "| target | ≤ 5 s and ≤ 1.5× DuckDB: {} |",
        if df_best <= 5.0 && ratio <= 1.5 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "| CPU | {} × {} |",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model()
    );
    println!("| load average before / after | {load_before} / {load_after} |");
    if let Some(path) = json {
        let forms: serde_json::Map<String, serde_json::Value> = df_forms
            .iter()
            .map(|(n, b)| (n.to_string(), serde_json::json!(b)))
            .collect();
        let j = serde_json::json!({
            "month": month, "rows": rows, "bytes": bytes,
            "datafusion_best_s": df_best, "datafusion_times_s": df_times,
            "datafusion_forms_s": forms,
            "duckdb_best_s": duck_best, "duckdb": duck,
            "ratio": ratio, "cpu": cpu_model(), "load_before": load_before, "load_after": load_after,
        });
        std::fs::write(&path, serde_json::to_vec_pretty(&j)?)?;
    }
    Ok(ExitCode::SUCCESS)
}
