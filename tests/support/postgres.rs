//! A throwaway PostgreSQL cluster for the end-to-end tests, and fresh databases in it.
//!
//! The local cluster (see `scripts/install-deps.sh`):
//! - `initdb -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync` in `/tmp`, run as the
//!   `postgres` user through `runuser` when the tests run as root (initdb refuses root);
//! - `wal_level=logical`, 50 slots and WAL senders, durability off (`fsync`,
//!   `synchronous_commit`, `full_page_writes`) — use `pg_current_wal_insert_lsn()` for end
//!   positions, since `synchronous_commit=off` lets the flush position lag;
//! - listens on 127.0.0.1 on a free port, its unix socket inside the data directory;
//! - `pg_hba.conf`: [`MD5_USER`] must authenticate with md5, [`SCRAM_USER`] with
//!   scram-sha-256, [`PLAIN_USER`] with a cleartext password (for normal and replication
//!   connections); every other role is trusted.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use super::process::{free_port, is_root, run, sh_quote, spawn_watchdog};

/// Role that logs in with md5 password authentication (`LOGIN REPLICATION`).
pub const MD5_USER: &str = "pgcdc_md5";
/// Password of [`MD5_USER`] (stored as an md5 hash).
pub const MD5_PASSWORD: &str = "md5-Secret!1";
/// Role that logs in with SCRAM-SHA-256 authentication (`LOGIN REPLICATION`).
pub const SCRAM_USER: &str = "pgcdc_scram";
/// Password of [`SCRAM_USER`] (stored as a SCRAM verifier).
pub const SCRAM_PASSWORD: &str = "scram-Secret!2";

/// Role that logs in with cleartext `password` authentication (`LOGIN REPLICATION`).
pub const PLAIN_USER: &str = "pgcdc_plain";
/// Password of [`PLAIN_USER`].
pub const PLAIN_PASSWORD: &str = "plain-Secret!3";

/// Superuser of the cluster; trusted (no password) from 127.0.0.1.
pub const SUPERUSER: &str = "postgres";

/// How many times a start is retried on a new port when the chosen one was taken meanwhile.
const PORT_ATTEMPTS: usize = 5;

/// Extra setup of a dedicated local cluster, applied after `initdb` and before the first start
/// (see [`PgServer::dedicated_with`]).
#[derive(Debug, Default, Clone)]
pub struct PgSetup {
    /// Lines appended to `postgresql.conf` (relative file names resolve in the data directory).
    pub conf: String,
    /// `pg_hba.conf` lines placed before the default ones (the first matching line wins).
    pub hba: String,
    /// Files written into the data directory, owned by the server user with mode 0600
    /// (e.g. `server.key`, which PostgreSQL refuses otherwise).
    pub files: Vec<(String, Vec<u8>)>,
}

/// A running PostgreSQL server.
pub struct PgServer {
    /// Host to connect to (an IP address).
    pub host: String,
    /// TCP port.
    pub port: u16,
    backend: PgBackend,
}

enum PgBackend {
    Local(LocalCluster),
    #[cfg(feature = "testcontainers")]
    Container(super::containers::PgContainer),
}

/// A cluster run from the local PostgreSQL binaries.
struct LocalCluster {
    bin: PathBuf,
    data_dir: PathBuf,
    /// Run server binaries as the `postgres` OS user (we are root).
    as_postgres: bool,
    port: u16,
}

impl PgServer {
    /// The throwaway cluster of this test process, started on first use.
    ///
    /// Blocking (std::process); callable from any runtime or none. Never stopped by tests that
    /// share it: use [`PgServer::dedicated`] to stop/start/restart.
    pub fn shared() -> &'static PgServer {
        static SHARED: OnceLock<PgServer> = OnceLock::new();
        SHARED.get_or_init(PgServer::dedicated)
    }

    /// A new cluster owned by the caller (about 2 s to start), for fault tests that stop,
    /// start or restart PostgreSQL. Removed on drop, or when the test process exits.
    pub fn dedicated() -> PgServer {
        Self::dedicated_with(&PgSetup::default())
    }

    /// A dedicated cluster with extra configuration, `pg_hba.conf` lines and data directory
    /// files (e.g. `ssl = on` with its certificate and key). The extra setup needs the local
    /// backend; with containers only an empty `setup` is accepted.
    pub fn dedicated_with(setup: &PgSetup) -> PgServer {
        match super::backend() {
            super::Backend::Local => Self::start_local(setup),
            #[cfg(feature = "testcontainers")]
            super::Backend::Containers => {
                assert!(
                    setup.conf.is_empty() && setup.hba.is_empty() && setup.files.is_empty(),
                    "PgServer::dedicated_with needs the local backend (PGCDC_TEST_BACKEND=local)"
                );
                let container = super::containers::PgContainer::start();
                PgServer {
                    host: container.host.clone(),
                    port: container.port,
                    backend: PgBackend::Container(container),
                }
            }
            #[cfg(not(feature = "testcontainers"))]
            super::Backend::Containers => unreachable!("backend() checks the feature"),
        }
    }

    fn start_local(setup: &PgSetup) -> PgServer {
        let bin = pg_bin_dir();
        let as_postgres = is_root();
        let data_dir = PathBuf::from(format!(
            "/tmp/pgcdc-test-pg-{}-{}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&data_dir);
        // Clean up when the test process exits, however it exits: SIGQUIT = immediate shutdown.
        let dir = sh_quote(&data_dir.to_string_lossy());
        spawn_watchdog(&format!(
            "pid=$(head -n1 {dir}/postmaster.pid 2>/dev/null) && kill -QUIT \"$pid\" 2>/dev/null; \
             for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 \"$pid\" 2>/dev/null || break; sleep 1; done; \
             rm -rf {dir}"
        ));

        let mut cluster = LocalCluster { bin, data_dir, as_postgres, port: 0 };
        cluster.initdb(&setup.hba);
        cluster.apply(setup);
        let mut last_err = String::new();
        for _ in 0..PORT_ATTEMPTS {
            cluster.port = free_port();
            match cluster.pg_ctl_start() {
                Ok(()) => {
                    cluster.create_roles();
                    return PgServer {
                        host: "127.0.0.1".to_owned(),
                        port: cluster.port,
                        backend: PgBackend::Local(cluster),
                    };
                }
                Err(e) => last_err = e,
            }
        }
        panic!("postgresql did not start after {PORT_ATTEMPTS} attempts: {last_err}\n{}", cluster.log_tail());
    }

    /// A libpq-style connection string for `dbname` as the superuser.
    pub fn conn_str(&self, dbname: &str) -> String {
        format!("host={} port={} user={SUPERUSER} dbname={dbname}", self.host, self.port)
    }

    /// A fresh database named `<prefix>_<n>` (unique in the process), owned by `postgres`.
    pub async fn create_database(&self, prefix: &str) -> TestDatabase {
        let name = super::kafka::unique_name(prefix);
        let admin = TestDatabase { name: "postgres".to_owned(), host: self.host.clone(), port: self.port };
        admin.execute(&format!("CREATE DATABASE \"{name}\" OWNER {SUPERUSER}")).await;
        TestDatabase { name, host: self.host.clone(), port: self.port }
    }

    /// Stops the server (`pg_ctl stop -m fast`): connections are closed, new ones refused.
    pub fn stop(&self) {
        match &self.backend {
            PgBackend::Local(c) => c.pg_ctl_stop("fast").unwrap_or_else(|e| panic!("{e}")),
            #[cfg(feature = "testcontainers")]
            PgBackend::Container(c) => c.stop(),
        }
    }

    /// Starts the server again on the same port after [`PgServer::stop`].
    pub fn start(&self) {
        match &self.backend {
            PgBackend::Local(c) => c.pg_ctl_start().unwrap_or_else(|e| panic!("{e}\n{}", c.log_tail())),
            #[cfg(feature = "testcontainers")]
            PgBackend::Container(c) => c.start_again(),
        }
    }

    /// Stops (fast) and starts the server.
    pub fn restart(&self) {
        self.stop();
        self.start();
    }

    /// The data directory of a local cluster (`None` for a container).
    pub fn data_dir(&self) -> Option<&Path> {
        match &self.backend {
            PgBackend::Local(c) => Some(&c.data_dir),
            #[cfg(feature = "testcontainers")]
            PgBackend::Container(_) => None,
        }
    }
}

impl Drop for PgServer {
    #[allow(irrefutable_let_patterns)] // a single variant without the `testcontainers` feature
    fn drop(&mut self) {
        if let PgBackend::Local(c) = &self.backend {
            let _ = c.pg_ctl_stop("immediate");
            let _ = std::fs::remove_dir_all(&c.data_dir);
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// `$PGCDC_PG_BIN`, else the highest `/usr/lib/postgresql/<major>/bin` with `initdb`.
fn pg_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PGCDC_PG_BIN").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("initdb").exists(),
            "PGCDC_PG_BIN={} has no initdb; run scripts/install-deps.sh",
            dir.display()
        );
        return dir;
    }
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    majors.sort();
    match majors.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server binaries (set PGCDC_PG_BIN or run scripts/install-deps.sh, \
             which installs Debian's `postgresql`)"
        ),
    }
}

impl LocalCluster {
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", SUPERUSER, "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn initdb(&self, hba_first: &str) {
        let result = run(self
            .command("initdb")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]));
        if let Err(e) = result {
            panic!("initdb failed (as root, the `postgres` OS user must exist: run scripts/install-deps.sh): {e}");
        }
        let conf = format!(
            "\n# pgcdc end-to-end tests\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{dir}'\n\
             wal_level = logical\n\
             max_replication_slots = 100\n\
             max_wal_senders = 100\n\
             max_connections = 200\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             log_min_messages = warning\n",
            dir = self.data_dir.display()
        );
        append(&self.data_dir.join("postgresql.conf"), &conf);
        let hba = format!(
            "{hba_first}\n\
             # pgcdc end-to-end tests: password roles first, everything else trusted\n\
             host all         {MD5_USER}   127.0.0.1/32 md5\n\
             host replication {MD5_USER}   127.0.0.1/32 md5\n\
             host all         {SCRAM_USER} 127.0.0.1/32 scram-sha-256\n\
             host replication {SCRAM_USER} 127.0.0.1/32 scram-sha-256\n\
             host all         {PLAIN_USER} 127.0.0.1/32 password\n\
             host replication {PLAIN_USER} 127.0.0.1/32 password\n\
             local all         all trust\n\
             local replication all trust\n\
             host  all         all 127.0.0.1/32 trust\n\
             host  replication all 127.0.0.1/32 trust\n"
        );
        // Truncating the existing file keeps its owner (the server user).
        let hba_path = self.data_dir.join("pg_hba.conf");
        std::fs::write(&hba_path, hba).unwrap_or_else(|e| panic!("writing {}: {e}", hba_path.display()));
    }

    /// Appends `setup.conf` and writes `setup.files`, owned like the data directory, mode 0600.
    fn apply(&self, setup: &PgSetup) {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if !setup.conf.is_empty() {
            append(&self.data_dir.join("postgresql.conf"), &format!("\n{}\n", setup.conf));
        }
        let owner = std::fs::metadata(&self.data_dir).unwrap_or_else(|e| panic!("{}: {e}", self.data_dir.display()));
        for (name, contents) in &setup.files {
            let path = self.data_dir.join(name);
            std::fs::write(&path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
            std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid()))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(self.data_dir.join("server.log"))
            .arg("-o")
            .arg(format!("-p {}", self.port))
            .args(["-w", "-t", "60", "start"]))
        .map(drop)
    }

    fn pg_ctl_stop(&self, mode: &str) -> Result<(), String> {
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", mode, "-w", "-t", "60", "stop"]))
        .map(drop)
    }

    /// Creates the password roles: the md5 one stores an md5 hash, the SCRAM one a verifier.
    fn create_roles(&self) {
        let sql = format!(
            "SET password_encryption = 'md5';\n\
             CREATE ROLE {MD5_USER} LOGIN REPLICATION PASSWORD '{MD5_PASSWORD}';\n\
             SET password_encryption = 'scram-sha-256';\n\
             CREATE ROLE {SCRAM_USER} LOGIN REPLICATION PASSWORD '{SCRAM_PASSWORD}';\n\
             CREATE ROLE {PLAIN_USER} LOGIN REPLICATION PASSWORD '{PLAIN_PASSWORD}';\n"
        );
        let result = run(Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", SUPERUSER, "-d", "postgres"])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-c")
            .arg(sql));
        if let Err(e) = result {
            panic!("creating the test roles: {e}");
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        format!("--- server.log (tail)\n{}", lines[lines.len().saturating_sub(30)..].join("\n"))
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    f.write_all(text.as_bytes()).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// A database created for one test.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// Database name (`<prefix>_<n>`).
    pub name: String,
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
}

impl TestDatabase {
    /// A libpq-style connection string to this database as the superuser.
    pub fn conn_str(&self) -> String {
        format!("host={} port={} user={SUPERUSER} dbname={}", self.host, self.port, self.name)
    }

    /// A new superuser connection; its connection task runs on the current tokio runtime.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.conn_str(), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.conn_str()));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// Runs `sql` (one or more statements) on a new connection; panics with the SQL on error.
    pub async fn execute(&self, sql: &str) {
        let client = self.client().await;
        if let Err(e) = client.batch_execute(sql).await {
            let detail = e.as_db_error().map(|d| format!("{d}")).unwrap_or_else(|| e.to_string());
            panic!("SQL failed in database {}: {detail}\n--- SQL\n{sql}", self.name);
        }
    }

    /// `pg_current_wal_insert_lsn()` as text, e.g. `0/1A2B3C8`.
    pub async fn current_wal_lsn(&self) -> String {
        let client = self.client().await;
        let row = client
            .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
            .await
            .unwrap_or_else(|e| panic!("pg_current_wal_insert_lsn() in {}: {e}", self.name));
        row.get(0)
    }
}
