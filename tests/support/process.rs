//! Small process helpers shared by the local backends: free ports, running commands with
//! readable failures, signals, and the watchdog that cleans up after the test process.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output, Stdio};

/// A TCP port on 127.0.0.1 that was free a moment ago (the caller retries if it is taken).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// Runs `cmd` to completion, returning its output, or an error text with the command line,
/// exit status, stdout and stderr.
pub fn run(cmd: &mut Command) -> Result<Output, String> {
    let line = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run {line}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{line} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Sends `signal` (e.g. "STOP", "CONT", "KILL") to `pid`; panics if `kill` fails.
pub fn signal(pid: u32, signal: &str) {
    // The shell's builtin `kill`: a minimal image may have no kill binary (procps).
    if let Err(e) = run(Command::new("sh").arg("-c").arg(format!("kill -{signal} {pid}"))) {
        panic!("sending SIG{signal} to {pid}: {e}");
    }
}

/// Starts a detached shell (own session, no stdio) that waits for this test process to exit
/// and then runs `cleanup` (a `sh` script). Servers started by the tests thus never outlive
/// the test binary, even when it is killed.
pub fn spawn_watchdog(cleanup: &str) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {cleanup}",
        pid = std::process::id()
    );
    let spawned = Command::new("setsid")
        .arg("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        panic!("could not start the cleanup watchdog (setsid sh): {e}");
    }
}

/// Quotes `s` for a POSIX shell.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
