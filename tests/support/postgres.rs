//! A throwaway PostgreSQL cluster for the end-to-end tests, and fresh databases in it.
//!
//! The local cluster (see `scripts/install-deps.sh`):
//! - `initdb -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync` in `/tmp`, run as the
//!   `postgres` user through `runuser` when the tests run as root (initdb refuses root);
//! - `wal_level=logical`, 400 slots (every test leaves its slot), 100 WAL senders, durability off (`fsync`,
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

    #[allow(irrefutable_let_patterns)] // a single variant without the `testcontainers` feature
    fn start_local(setup: &PgSetup) -> PgServer {
        let bin = pg_bin_dir();
        let as_postgres = is_root();
        let data_dir = new_data_dir();
        let cluster = LocalCluster { bin, data_dir, as_postgres, port: 0 };
        cluster.initdb(&setup.hba);
        cluster.apply(setup);
        let server = Self::start_on_free_port(cluster);
        if let PgBackend::Local(c) = &server.backend {
            c.create_roles();
        }
        server
    }

    fn start_on_free_port(mut cluster: LocalCluster) -> PgServer {
        let mut last_err = String::new();
        for _ in 0..PORT_ATTEMPTS {
            cluster.port = free_port();
            match cluster.pg_ctl_start() {
                Ok(()) => {
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

    /// A hot standby of this (local, dedicated) cluster, streaming from it
    /// through the physical slot `slot` (created here, also its
    /// `application_name` for `synchronous_standby_names`): a copy of the
    /// primary's data directory, stopped cleanly for it, `standby.signal`, `primary_conninfo` (with
    /// `dbname`, as slot synchronization needs), `primary_slot_name`,
    /// `hot_standby_feedback = on`, then the lines of `conf`. Removed on drop.
    #[allow(irrefutable_let_patterns)] // a single variant without the `testcontainers` feature
    pub fn start_standby(&self, slot: &str, conf: &str) -> PgServer {
        let PgBackend::Local(primary) = &self.backend else {
            panic!("PgServer::start_standby needs the local backend (PGCDC_TEST_BACKEND=local)")
        };
        let data_dir = new_data_dir();
        let cluster = LocalCluster { bin: primary.bin.clone(), data_dir, as_postgres: primary.as_postgres, port: 0 };
        // A cleanly stopped primary's data directory is a base backup (the
        // extra PostgreSQL majors come without pg_basebackup).
        let sql = format!("SELECT pg_create_physical_replication_slot('{slot}', true)");
        run(Command::new(primary.bin.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", SUPERUSER, "-d", "postgres", "-c", &sql])
            .arg("-p")
            .arg(primary.port.to_string()))
        .unwrap_or_else(|e| panic!("creating the physical slot {slot}: {e}"));
        primary.pg_ctl_stop("fast").unwrap_or_else(|e| panic!("{e}"));
        run(Command::new("cp").arg("-a").arg(&primary.data_dir).arg(&cluster.data_dir))
            .unwrap_or_else(|e| panic!("copying the primary's data directory: {e}"));
        primary.pg_ctl_start().unwrap_or_else(|e| panic!("{e}\n{}", primary.log_tail()));
        // The copy keeps none of the primary's slots (pg_replslot) nor its log.
        for entry in std::fs::read_dir(cluster.data_dir.join("pg_replslot")).into_iter().flatten().flatten() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
        let _ = std::fs::remove_file(cluster.data_dir.join("server.log"));
        let standby_conf = format!(
            "# standby of the cluster on port {port}\n\
             unix_socket_directories = '{dir}'\n\
             primary_conninfo = 'host=127.0.0.1 port={port} user={SUPERUSER} dbname=postgres application_name={slot}'\n\
             primary_slot_name = '{slot}'\n\
             hot_standby_feedback = on\n\
             {conf}",
            port = primary.port,
            dir = cluster.data_dir.display(),
        );
        cluster.apply(&PgSetup {
            conf: standby_conf,
            hba: String::new(),
            files: vec![("standby.signal".to_owned(), Vec::new())],
        });
        Self::start_on_free_port(cluster)
    }

    /// Promotes a standby (`pg_ctl promote -w`: returns once it accepts writes).
    #[allow(irrefutable_let_patterns)] // a single variant without the `testcontainers` feature
    pub fn promote(&self) {
        if let PgBackend::Local(c) = &self.backend {
            let result = run(c.command("pg_ctl").arg("-D").arg(&c.data_dir).args(["-w", "-t", "60", "promote"]));
            result.unwrap_or_else(|e| panic!("pg_ctl promote: {e}\n{}", c.log_tail()));
        }
    }

    /// Kills the server as a crash would (`pg_ctl stop -m immediate`): no
    /// shutdown checkpoint, connections cut.
    #[allow(irrefutable_let_patterns)] // a single variant without the `testcontainers` feature
    pub fn kill(&self) {
        if let PgBackend::Local(c) = &self.backend {
            c.pg_ctl_stop("immediate").unwrap_or_else(|e| panic!("{e}"));
        }
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

/// A new data directory path under /tmp, removed (its server stopped) when
/// the test process exits, however it exits.
fn new_data_dir() -> PathBuf {
    let data_dir =
        PathBuf::from(format!("/tmp/pgcdc-test-pg-{}-{}", std::process::id(), NEXT_ID.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&data_dir);
    // SIGQUIT = immediate shutdown.
    let dir = sh_quote(&data_dir.to_string_lossy());
    spawn_watchdog(&format!(
        "pid=$(head -n1 {dir}/postmaster.pid 2>/dev/null) && kill -QUIT \"$pid\" 2>/dev/null; \
         for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 \"$pid\" 2>/dev/null || break; sleep 1; done; \
         rm -rf {dir}"
    ));
    data_dir
}

/// The major version of the local PostgreSQL binaries the tests start
/// (`postgres --version`), e.g. 17; 0 when it cannot be read.
pub fn pg_major() -> u32 {
    static MAJOR: OnceLock<u32> = OnceLock::new();
    *MAJOR.get_or_init(|| {
        let out = Command::new(pg_bin_dir().join("postgres")).arg("--version").output();
        let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        // "postgres (PostgreSQL) 17.10 (Debian ...)"
        let version = text.split(')').nth(1).unwrap_or("").trim();
        version.split(['.', ' ']).next().and_then(|m| m.parse().ok()).unwrap_or(0)
    })
}

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
             max_replication_slots = 400\n\
             max_wal_senders = 100\n\
             max_connections = 300\n\
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
