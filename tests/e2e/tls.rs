//! TLS at both ends of `tally`: a PostgreSQL that accepts nothing but TLS, reached with `sslmode`/`sslrootcert` in
//! the URL as managed PostgreSQL services hand them out, and HTTPS served by `tally serve --tls-cert/--tls-key`.
//!
//! Every certificate is made here (rcgen): a test CA, server certificates it signs, and a second CA nobody trusts.
//! The TLS PostgreSQL is a private cluster (`tally postgres start`) switched to `ssl = on` with a `pg_hba.conf` of
//! `hostssl` lines only, so a connection that is not encrypted is refused: whatever works against it went over TLS.

use crate::harness::{poll_until, post_expect, wait_until_caught_up, DataDir, TallyProcess};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use serde_json::json;
use sqlx::{Connection, PgConnection};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A certificate authority made for one test, and a directory for the files of what it signs.
struct TestCa {
    dir: tempfile::TempDir,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA cert");
        let dir = tempfile::Builder::new().prefix("tally-tls-").tempdir().expect("temp dir");
        Self { dir, issuer }
    }

    /// The CA's certificate (PEM), as a client's `sslrootcert` or trust store takes it.
    fn cert_file(&self) -> PathBuf {
        let path = self.dir.path().join("ca.crt");
        std::fs::write(&path, self.issuer.pem()).expect("write the CA certificate");
        path
    }

    /// Issues a server certificate for `names` (DNS names or IP addresses) and writes it and its key (PEM) as
    /// `<stem>.crt` and `<stem>.key`.
    fn issue(&self, stem: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        let mut params =
            CertificateParams::new(names.iter().map(|name| name.to_string()).collect::<Vec<_>>()).expect("names");
        params.distinguished_name.push(DnType::CommonName, names[0]);
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign the server certificate");
        let (cert_file, key_file) =
            (self.dir.path().join(format!("{stem}.crt")), self.dir.path().join(format!("{stem}.key")));
        std::fs::write(&cert_file, cert.pem()).expect("write the server certificate");
        std::fs::write(&key_file, key.serialize_pem()).expect("write the server key");
        (cert_file, key_file)
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Starts a private cluster on `data_dir` and makes it accept TLS connections only, with `cert_file`/`key_file` as
/// its certificate and key. Returns its port.
async fn start_tls_postgres(data_dir: &DataDir, cert_file: &Path, key_file: &Path) -> u16 {
    let output = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["postgres", "start", "--data-dir", data_dir.arg()])
        .env_remove("DATABASE_URL")
        .env("TALLY_LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::inherit())
        .output()
        .expect("run tally postgres start");
    assert!(output.status.success(), "tally postgres start failed");
    let url = String::from_utf8(output.stdout).expect("utf-8 URL").trim().to_owned();
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|port_and_path| port_and_path.split('/').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"));

    let mut admin = PgConnection::connect(&url).await.expect("connect to the private cluster");
    let data_directory: String =
        sqlx::query_scalar("show data_directory").fetch_one(&mut admin).await.expect("show data_directory");
    let pgdata = PathBuf::from(data_directory);
    // The server reads its key only when the server's user owns it and nobody else may read it.
    let owner = std::fs::metadata(&pgdata).expect("stat the cluster directory");
    for (from, to) in [(cert_file, "server.crt"), (key_file, "server.key")] {
        let target = pgdata.join(to);
        std::fs::copy(from, &target).unwrap_or_else(|e| panic!("copy {} into the cluster: {e}", from.display()));
        std::os::unix::fs::chown(&target, Some(owner.uid()), Some(owner.gid())).expect("chown to the server's user");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
    }
    std::fs::write(
        pgdata.join("pg_hba.conf"),
        "# TLS only (tests/e2e/tls.rs)\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
    )
    .expect("write pg_hba.conf");
    sqlx::query("alter system set ssl = on").execute(&mut admin).await.expect("alter system set ssl = on");
    sqlx::query("select pg_reload_conf()").execute(&mut admin).await.expect("reload the configuration");
    admin.close().await.ok();

    // The server applies a reload shortly after it is asked to.
    let require = format!("postgres://postgres@127.0.0.1:{port}/tally?sslmode=require");
    let disable = format!("postgres://postgres@127.0.0.1:{port}/tally?sslmode=disable");
    poll_until("PostgreSQL to accept TLS and refuse plain connections", Duration::from_secs(10), || async {
        let encrypted = PgConnection::connect(&require).await.map_err(|e| format!("TLS refused: {e}"))?;
        encrypted.close().await.ok();
        match PgConnection::connect(&disable).await {
            Ok(_) => Err("a plain connection is still accepted".to_owned()),
            Err(_) => Ok(()),
        }
    })
    .await;
    port
}

/// Runs `tally migrate` on `url`: whether it succeeded, and its `tally: ...` error line, if any.
fn migrate(url: &str) -> (bool, String) {
    let (status, lines) = TallyProcess::spawn(&["migrate", "--database-url", url]).wait_for_exit();
    let error = lines.iter().find(|line| line.starts_with("tally: ")).cloned().unwrap_or_default();
    (status.success(), error)
}

#[tokio::test]
async fn tally_uses_a_postgres_that_requires_tls_and_checks_its_certificate() {
    let ca = TestCa::new("Tally test CA");
    let (cert, key) = ca.issue("postgres", &["localhost"]);
    let data_dir = DataDir::new();
    let port = start_tls_postgres(&data_dir, &cert, &key).await;
    let ca_file = ca.cert_file();
    let root = path_str(&ca_file);

    // verify-full: the certificate chains to the CA given as sslrootcert and names the host of the URL. Every
    // connection `serve` makes (read models, the event store's pool and its notifications, the projectors' and
    // the order process's leases) goes over TLS, or the server would refuse it.
    let verify_full = format!("postgres://postgres@localhost:{port}/tally?sslmode=verify-full&sslrootcert={root}");
    let (server, base) = TallyProcess::serve_on(&verify_full);
    let ready = reqwest::get(format!("{base}/readyz")).await.expect("GET /readyz");
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap_or_default());
    post_expect(
        &format!("{base}/v1/products"),
        &json!({"sku": "TLS-TEE", "name": "Tee", "price": {"amount": 1000, "currency": "EUR"}}),
        201,
    )
    .await;
    wait_until_caught_up(&base, Duration::from_secs(30)).await;
    let (status, body) = crate::harness::get_json(&format!("{base}/v1/projections")).await;
    assert_eq!(status, 200);
    let followers = body["followers"].as_array().expect("followers in /v1/projections");
    assert!(
        followers.iter().all(|follower| follower["failure"].is_null()),
        "the order process follows the log over TLS too: {body}"
    );
    assert!(server.terminate().success(), "serve exits cleanly");

    // require: encrypted, the certificate not checked (what libpq does without a root certificate).
    let (ok, error) = migrate(&format!("postgres://postgres@127.0.0.1:{port}/tally?sslmode=require"));
    assert!(ok, "sslmode=require: {error}");

    // The certificate names localhost, not 127.0.0.1: verify-full refuses it.
    let (ok, error) =
        migrate(&format!("postgres://postgres@127.0.0.1:{port}/tally?sslmode=verify-full&sslrootcert={root}"));
    assert!(!ok, "verify-full accepted a certificate for another host");
    assert!(error.contains("TLS certificate was refused") && error.contains("not valid for name"), "{error}");
    // verify-ca checks the chain. (With sqlx 0.8.6 it checks the name too, sqlx issue #3793: README, "TLS".)
    let (ok, error) =
        migrate(&format!("postgres://postgres@localhost:{port}/tally?sslmode=verify-ca&sslrootcert={root}"));
    assert!(ok, "sslmode=verify-ca: {error}");

    // A server whose certificate another CA signed is refused.
    let stranger = TestCa::new("Another CA");
    let stranger_file = stranger.cert_file();
    let (ok, error) = migrate(&format!(
        "postgres://postgres@localhost:{port}/tally?sslmode=verify-full&sslrootcert={}",
        path_str(&stranger_file)
    ));
    assert!(!ok, "verify-full accepted a certificate of an unknown CA");
    assert!(error.contains("TLS certificate was refused") && error.contains("UnknownIssuer"), "{error}");

    // A CA file that is not there is named, with the parameter that names it.
    let (ok, error) = migrate(&format!(
        "postgres://postgres@localhost:{port}/tally?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"
    ));
    assert!(!ok && error.contains("/nonexistent/ca.pem") && error.contains("sslrootcert"), "{error}");

    // And a plain connection is refused, so the successes above were encrypted.
    let (ok, error) = migrate(&format!("postgres://postgres@127.0.0.1:{port}/tally?sslmode=disable"));
    assert!(!ok && error.contains("no encryption"), "{error}");
}

/// A client that trusts `ca` only.
fn client_trusting(ca: &TestCa) -> reqwest::ClientBuilder {
    let pem = std::fs::read(ca.cert_file()).expect("read the CA certificate");
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("a PEM certificate"))
}

#[tokio::test]
async fn serve_answers_over_https_with_http2_and_http1() {
    let ca = TestCa::new("Tally test CA");
    let (cert, key) = ca.issue("tally", &["localhost", "127.0.0.1"]);
    let db = tally_testkit::fresh_database().await;
    let mut server = TallyProcess::spawn(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &db.url,
        "--tls-cert",
        path_str(&cert),
        "--tls-key",
        path_str(&key),
    ]);
    let listening = server.wait_for_message("listening");
    assert_eq!(listening["scheme"], "https", "{listening}");
    let address = listening["address"].as_str().expect("address");
    let port = address.rsplit(':').next().expect("a port");

    for base in [format!("https://localhost:{port}"), format!("https://{address}")] {
        let http2 = client_trusting(&ca).build().expect("client");
        let response = http2.get(format!("{base}/healthz")).send().await.expect("GET /healthz over HTTPS");
        assert_eq!((response.status().as_u16(), response.version()), (200, reqwest::Version::HTTP_2), "ALPN chose h2");
        let http1 = client_trusting(&ca).http1_only().build().expect("client");
        let response = http1.get(format!("{base}/readyz")).send().await.expect("GET /readyz over HTTPS/1.1");
        assert_eq!((response.status().as_u16(), response.version()), (200, reqwest::Version::HTTP_11));
    }

    // A client that does not trust the CA, and plain HTTP, get no answer.
    let stranger = TestCa::new("Another CA");
    let untrusting = client_trusting(&stranger).build().expect("client");
    assert!(untrusting.get(format!("https://localhost:{port}/healthz")).send().await.is_err());
    let plain = reqwest::Client::new().get(format!("http://{address}/healthz")).send().await;
    assert!(plain.map(|response| !response.status().is_success()).unwrap_or(true), "plain HTTP must not be served");

    assert!(server.terminate().success(), "serve exits cleanly on SIGTERM");
}

#[test]
fn tls_flags_come_in_pairs_and_bad_files_are_plain_errors() {
    let ca = TestCa::new("Tally test CA");
    let (cert, key) = ca.issue("tally", &["localhost"]);
    let (other_cert, _) = ca.issue("other", &["localhost"]);
    let data_dir = DataDir::new();
    let missing = ca.dir.path().join("missing.crt");
    let serve = |tls_args: &[&str]| {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir.arg()];
        args.extend_from_slice(tls_args);
        let (status, lines) = TallyProcess::spawn(&args).wait_for_exit();
        assert!(!status.success(), "serve {tls_args:?} must fail");
        lines.join("\n")
    };

    let alone = serve(&["--tls-cert", path_str(&cert)]);
    assert!(alone.contains("--tls-key"), "{alone}");
    let alone = serve(&["--tls-key", path_str(&key)]);
    assert!(alone.contains("--tls-cert"), "{alone}");

    let error = serve(&["--tls-cert", path_str(&missing), "--tls-key", path_str(&key)]);
    assert!(error.contains("tally: read the TLS certificate") && error.contains("missing.crt"), "{error}");
    let error = serve(&["--tls-cert", path_str(&key), "--tls-key", path_str(&key)]);
    assert!(error.contains("holds no certificate"), "{error}");
    let error = serve(&["--tls-cert", path_str(&cert), "--tls-key", path_str(&cert)]);
    assert!(error.contains("holds no private key"), "{error}");
    let error = serve(&["--tls-cert", path_str(&other_cert), "--tls-key", path_str(&key)]);
    assert!(error.contains("does not go with the certificate"), "{error}");
    assert!(data_dir.postgres_pid().is_none(), "no cluster was started for a server that could not start");
}
