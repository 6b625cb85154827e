//! The servers and processes a benchmark run needs: a throwaway PostgreSQL cluster, a fresh tansu
//! broker per workload (memory storage: a new broker frees what the last workload produced), the
//! pgcdc daemon, and /proc sampling of a process's CPU time and peak RSS.
//!
//! Same recipe as `tests/support/postgres.rs` (initdb as `postgres`, `wal_level=logical`,
//! durability off), plus room for large backlogs (`max_wal_size`, `shared_buffers`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Runs `cmd`, failing with its output when it does not succeed.
pub fn run(cmd: &mut Command) -> Result<String> {
    let line = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {line}"))?;
    if !out.status.success() {
        bail!(
            "{line} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Starts a detached shell that runs `cleanup` once this process is gone (however it ends).
fn spawn_watchdog(cleanup: &str) {
    let script = format!(
        "while kill -0 {} 2>/dev/null; do sleep 1; done; {cleanup}",
        std::process::id()
    );
    let _ = Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

fn is_root() -> bool {
    std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || run(Command::new("id").arg("-u"))
            .map(|s| s.trim() == "0")
            .unwrap_or(false)
}

/// `$PGCDC_PG_BIN`, else the highest `/usr/lib/postgresql/<major>/bin` with `initdb`.
pub fn pg_bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PGCDC_PG_BIN").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
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
    majors
        .pop()
        .map(|(_, b)| b)
        .ok_or_else(|| anyhow!("no PostgreSQL binaries: run scripts/install-deps.sh"))
}

/// A throwaway PostgreSQL cluster, stopped and removed on drop.
pub struct Postgres {
    pub bin: PathBuf,
    pub port: u16,
    dir: PathBuf,
    as_postgres: bool,
}

impl Postgres {
    /// initdb + start (about 2 s).
    pub fn start() -> Result<Postgres> {
        let bin = pg_bin_dir()?;
        let as_postgres = is_root();
        let dir = PathBuf::from(format!("/tmp/pgcdc-bench-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        if as_postgres {
            run(Command::new("chown").arg("postgres:postgres").arg(&dir))?;
        }
        let d = dir.display().to_string();
        spawn_watchdog(&format!(
            "pid=$(head -n1 {d}/data/postmaster.pid 2>/dev/null) && kill -QUIT \"$pid\" 2>/dev/null; sleep 2; rm -rf {d}"
        ));
        let port = free_port()?;
        let pg = Postgres {
            bin,
            port,
            dir,
            as_postgres,
        };
        let data = pg.dir.join("data");
        pg.run_pg("initdb", |c| {
            c.arg("-D").arg(&data).args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]);
        })?;
        let conf = format!(
            "\nlisten_addresses='127.0.0.1'\nport={port}\nunix_socket_directories='{d}'\nwal_level=logical\n\
             max_replication_slots=20\nmax_wal_senders=20\nfsync=off\nsynchronous_commit=off\n\
             full_page_writes=off\nshared_buffers=256MB\nmax_wal_size=16GB\ncheckpoint_timeout=30min\n"
        );
        append(&data.join("postgresql.conf"), &conf)?;
        append(
            &data.join("pg_hba.conf"),
            "\nhost replication all 127.0.0.1/32 trust\n",
        )?;
        let log = pg.dir.join("server.log");
        pg.run_pg("pg_ctl", |c| {
            c.arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "start"]);
        })?;
        Ok(pg)
    }

    fn run_pg(&self, program: &str, args: impl FnOnce(&mut Command)) -> Result<String> {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        args(&mut cmd);
        run(&mut cmd)
    }

    /// libpq connection string to `db` as the (trusted) superuser.
    pub fn conn_str(&self, db: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={db}",
            self.port
        )
    }

    /// A new connection whose task runs on the current runtime.
    pub async fn client(&self, db: &str) -> Result<tokio_postgres::Client> {
        let (client, conn) =
            tokio_postgres::connect(&self.conn_str(db), tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    /// CPU seconds the whole server has used so far: the postmaster, its live children (backends,
    /// walsenders, background processes) and the children it has reaped (cutime + cstime), so a
    /// backend that ended during a measurement still counts. `None` when /proc cannot tell.
    pub fn server_cpu(&self) -> Option<f64> {
        let pid_file = std::fs::read_to_string(self.dir.join("data/postmaster.pid")).ok()?;
        let postmaster: u32 = pid_file.lines().next()?.trim().parse().ok()?;
        let fields = stat_fields(postmaster)?;
        // After pid and comm: utime, stime, cutime, cstime are indexes 11..=14 (clock ticks).
        let mut ticks = 0u64;
        for i in 11..=14 {
            ticks += fields.get(i)?.parse::<u64>().ok()?;
        }
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Some(f) = stat_fields(pid) else { continue };
            // Index 1 is the parent pid.
            if f.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(postmaster) {
                let own = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                ticks += own(11) + own(12);
            }
        }
        Some(ticks as f64 / clk_tck())
    }

    /// `postgres --version`.
    pub fn version(&self) -> String {
        run(Command::new(self.bin.join("postgres")).arg("--version"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self.run_pg("pg_ctl", |c| {
            c.arg("-D").arg(&data).args(["-m", "immediate", "stop"]);
        });
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn append(path: &Path, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// A tansu broker (memory storage), killed on drop.
pub struct Broker {
    pub port: u16,
    child: Child,
}

impl Broker {
    /// Starts `$PGCDC_TANSU_BIN` on a free port and waits until it listens.
    pub fn start() -> Result<Broker> {
        let bin = std::env::var("PGCDC_TANSU_BIN").map_err(|_| {
            anyhow!("PGCDC_TANSU_BIN is not set: eval \"$(scripts/install-deps.sh)\"")
        })?;
        let port = free_port()?;
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting tansu {bin}"))?;
        let mut broker = Broker { port, child };
        wait_listening(&mut broker.child, port, Duration::from_secs(20)).context("tansu")?;
        Ok(broker)
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's process id (for its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `port` accepts connections, failing if `child` exits first.
pub fn wait_listening(child: &mut Child, port: u16, timeout: Duration) -> Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("process exited with {status} before listening on {addr}");
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("nothing listening on {addr} after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One HTTP/1.1 request (`Connection: close`) to 127.0.0.1:`port`: (status, body).
pub fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow!("bad HTTP response"))?;
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// CPU time and peak RSS of a process, from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcStats {
    /// utime + stime, seconds.
    pub cpu_secs: f64,
    /// VmHWM, bytes.
    pub peak_rss: u64,
}

/// The fields of /proc/`pid`/stat after pid and comm (state is index 0).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Reads /proc/`pid`/stat and /proc/`pid`/status; `None` once the process is gone.
pub fn proc_stats(pid: u32) -> Option<ProcStats> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of proc(5), counted after pid and comm: indexes 11 and 12; clock ticks of 1/100 s.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some(ProcStats {
        cpu_secs: ticks as f64 / clk_tck(),
        peak_rss: hwm_kb * 1024,
    })
}

fn clk_tck() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        run(Command::new("getconf").arg("CLK_TCK"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Samples a process every 100 ms, keeping the last values (the process may exit before the end).
pub struct Sampler {
    stop: Arc<AtomicBool>,
    cpu_centis: Arc<AtomicU64>,
    peak: Arc<AtomicU64>,
    handle: Option<std::thread::JoinHandle<()>>,
    pid: u32,
}

impl Sampler {
    pub fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let cpu_centis = Arc::new(AtomicU64::new(0));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, c, p) = (stop.clone(), cpu_centis.clone(), peak.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match proc_stats(pid) {
                    Some(st) => {
                        c.fetch_max((st.cpu_secs * 100.0).round() as u64, Ordering::Relaxed);
                        p.fetch_max(st.peak_rss, Ordering::Relaxed);
                    }
                    None => break,
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Sampler {
            stop,
            cpu_centis,
            peak,
            handle: Some(handle),
            pid,
        }
    }

    /// The latest CPU time and peak RSS (read now if the process still runs).
    pub fn read(&self) -> ProcStats {
        if let Some(st) = proc_stats(self.pid) {
            self.cpu_centis
                .fetch_max((st.cpu_secs * 100.0).round() as u64, Ordering::Relaxed);
            self.peak.fetch_max(st.peak_rss, Ordering::Relaxed);
        }
        ProcStats {
            cpu_secs: self.cpu_centis.load(Ordering::Relaxed) as f64 / 100.0,
            peak_rss: self.peak.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Sends `sig` (e.g. "TERM") to `pid` with the shell's builtin kill.
pub fn signal(pid: u32, sig: &str) {
    let _ = run(Command::new("sh")
        .arg("-c")
        .arg(format!("kill -{sig} {pid}")));
}

/// Waits up to `timeout` for `child` to exit, then kills it.
pub fn stop_child(child: &mut Child, timeout: Duration) {
    signal(child.id(), "TERM");
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The machine: (nproc, CPU model, RAM GiB).
pub fn machine() -> (usize, String, f64) {
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    (nproc, model, kb / 1024.0 / 1024.0)
}
