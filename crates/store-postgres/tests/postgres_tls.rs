//! TLS to PostgreSQL (issue 15, item 3): the URL's `sslmode` is honoured with libpq's meanings
//! and the server's certificate is checked against `sslrootcert`. Run against the server named
//! by `JINGUAN_TEST_POSTGRES_URL` on this machine, which must have `ssl = on` (Debian's default,
//! a self-signed certificate for `localhost`): the test reads that certificate's file as its CA.
//! Whether a store's connections are encrypted is read from `pg_stat_ssl`.

use std::sync::atomic::{AtomicU64, Ordering};

use store_postgres::{PostgresOptions, PostgresStore};

const URL_VAR: &str = "JINGUAN_TEST_POSTGRES_URL";

fn url() -> Option<String> {
    let url = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"));
        assert!(
            !ci,
            "{URL_VAR} must be set in CI (.ci/run starts PostgreSQL)"
        );
        eprintln!("skipped: {URL_VAR} not set");
    }
    url
}

struct Raw {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Raw {
    fn connect(url: &str) -> Raw {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .expect("connect for raw SQL");
            tokio::spawn(connection);
            client
        });
        Raw { rt, client }
    }

    fn text(&self, sql: &str) -> String {
        self.rt
            .block_on(self.client.query_one(sql, &[]))
            .unwrap()
            .get(0)
    }

    /// The connections of `application_name` now open, and how many of them are encrypted.
    fn connections(&self, app: &str) -> (i64, i64) {
        let row = self
            .rt
            .block_on(self.client.query_one(
                "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
                 JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = $1",
                &[&app],
            ))
            .unwrap();
        (row.get(0), row.get(1))
    }

    fn batch(&self, sql: &str) {
        self.rt.block_on(self.client.batch_execute(sql)).unwrap();
    }
}

fn name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `base` with the host replaced and parameters added.
fn with(base: &str, host: &str, params: &str) -> String {
    let (scheme, rest) = base.split_once("://").unwrap();
    let (userinfo, after) = rest.split_once('@').unwrap();
    let (_host, path) = after.split_once(':').unwrap();
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{scheme}://{userinfo}@{host}:{path}{sep}{params}")
}

fn open(url: &str, schema: &str) -> Result<PostgresStore, String> {
    PostgresStore::open(
        url,
        PostgresOptions {
            schema: Some(schema.to_owned()),
            readers_max: 1,
            ..PostgresOptions::default()
        },
    )
    .map_err(|e| {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        text
    })
}

#[test]
fn sslmode_is_honoured_and_the_certificate_checked() {
    let Some(base) = url() else { return };
    let raw = Raw::connect(&base);
    assert_eq!(
        raw.text("SHOW ssl"),
        "on",
        "the test server must have ssl = on"
    );
    let dir = tempfile_dir();
    let server_cert =
        std::fs::read(raw.text("SHOW ssl_cert_file")).expect("the server's certificate file");
    let ca = dir.join("server-ca.pem");
    std::fs::write(&ca, server_cert).unwrap();
    let stranger = dir.join("other-ca.pem");
    std::fs::write(
        &stranger,
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .unwrap()
            .cert
            .pem(),
    )
    .unwrap();
    let schema = name("jinguan_tls");
    let ca_param = format!("sslrootcert={}", ca.display());

    // verify-full with the server's CA, to the name in its certificate: encrypted.
    let app = name("jg_tls_full");
    let store = open(
        &with(
            &base,
            "localhost",
            &format!("sslmode=verify-full&{ca_param}&application_name={app}"),
        ),
        &schema,
    )
    .expect("verify-full with the right CA");
    let (open_conns, encrypted) = raw.connections(&app);
    assert!(
        open_conns >= 1 && encrypted == open_conns,
        "{open_conns} open, {encrypted} encrypted"
    );
    drop(store);

    // The same CA, but to an address the certificate does not name: verify-full refuses,
    // verify-ca (the chain only) accepts.
    let e = open(
        &with(
            &base,
            "127.0.0.1",
            &format!("sslmode=verify-full&{ca_param}"),
        ),
        &schema,
    )
    .err()
    .expect("verify-full to a name not in the certificate");
    assert!(e.contains("certificate"), "{e}");
    let app = name("jg_tls_ca");
    let store = open(
        &with(
            &base,
            "127.0.0.1",
            &format!("sslmode=verify-ca&{ca_param}&application_name={app}"),
        ),
        &schema,
    )
    .expect("verify-ca");
    let (n, enc) = raw.connections(&app);
    assert!(n >= 1 && enc == n, "{n} open, {enc} encrypted");
    drop(store);

    // A CA that did not sign the server's certificate: refused, even with `require`
    // (libpq: a root certificate file makes `require` check the chain).
    for mode in ["verify-full", "require"] {
        let e = open(
            &with(
                &base,
                "localhost",
                &format!("sslmode={mode}&sslrootcert={}", stranger.display()),
            ),
            &schema,
        )
        .err()
        .unwrap_or_else(|| panic!("{mode} with a stranger's CA connected"));
        assert!(e.contains("certificate"), "{mode}: {e}");
    }

    // `require` without a CA: encrypted, not checked. `disable`: plain.
    for (mode, want_encrypted) in [("require", true), ("disable", false)] {
        let app = name("jg_tls_mode");
        let store = open(
            &with(
                &base,
                "127.0.0.1",
                &format!("sslmode={mode}&application_name={app}"),
            ),
            &schema,
        )
        .unwrap_or_else(|e| panic!("{mode}: {e}"));
        let (n, enc) = raw.connections(&app);
        assert!(n >= 1, "{mode}: no connection seen");
        assert_eq!(
            enc == n && enc > 0,
            want_encrypted,
            "{mode}: {n} open, {enc} encrypted"
        );
        drop(store);
    }
    raw.batch(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(name("jinguan_pg_tls"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
