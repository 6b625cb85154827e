//! `pgcdc run` under a service manager: the systemd notification protocol
//! (`Type=notify`, `WatchdogSec`) over a `NOTIFY_SOCKET` this test creates,
//! as systemd would.

use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{connector_config, unique_name, Broker, PgServer, Worker};

/// One datagram, and what `GET /connectors` answered right when READY=1 came.
struct Received {
    text: String,
    at: Instant,
    connectors_at_ready: Option<String>,
}

/// `GET /connectors` over a plain socket, as soon as possible (`None`: refused).
fn list_connectors(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET /connectors HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

/// GIVEN a connector in the worker's connectors directory and a NOTIFY_SOCKET
/// with WATCHDOG_USEC=1 s, WHEN the worker starts, runs and gets SIGTERM,
/// THEN READY=1 comes only once the REST API answers with the restored
/// connector, WATCHDOG=1 keeps coming (every half second) with STATUS lines
/// naming the connector states, and STOPPING=1 comes at shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_notify_ready_after_restore_watchdog_and_stopping() {
    let broker = Broker::shared();
    let db = PgServer::shared().create_database("service_notify").await;
    db.execute("CREATE TABLE t (id bigint PRIMARY KEY)").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let connectors = dir.path().join("connectors");
    std::fs::create_dir(&connectors).expect("connectors dir");
    let config = connector_config(&db, &unique_name("svc"), &unique_name("slot"), &[("table.include.list", "public.t")]);
    let file = json!({ "name": "svc", "config": config });
    std::fs::write(connectors.join("svc.json"), file.to_string()).expect("connector file");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind the notify socket");
    socket.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");

    // The REST port is known before the worker starts, so the listener thread
    // can ask it the moment READY=1 arrives.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let (tx, rx) = mpsc::channel::<Received>();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let listening = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(n) = socket.recv(&mut buf) else { continue };
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let connectors_at_ready = text.lines().any(|l| l == "READY=1").then(|| list_connectors(port)).flatten();
                let _ = tx.send(Received { text, at: Instant::now(), connectors_at_ready });
            }
        })
    };

    let started = Instant::now();
    let mut worker = Worker::start_at(
        &broker.bootstrap,
        &[
            ("PGCDC_REST__LISTEN", &format!("127.0.0.1:{port}")),
            ("PGCDC_WORKER__CONNECTORS_DIR", connectors.to_str().expect("utf-8")),
            ("NOTIFY_SOCKET", socket_path.to_str().expect("utf-8")),
            ("WATCHDOG_USEC", "1000000"),
        ],
    )
    .await;
    worker.wait_task_state("svc", "RUNNING", Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let running_until = Instant::now();
    let status = tokio::task::block_in_place(|| worker.terminate());
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    listening.join().expect("listener thread");
    let got: Vec<Received> = rx.try_iter().collect();
    let log = worker.log();
    for r in &got {
        println!("{:>6} ms  {:?}", r.at.duration_since(started).as_millis(), r.text);
    }

    // READY=1 once, after the restored connector is listed by the REST API.
    let ready: Vec<&Received> = got.iter().filter(|r| r.text.lines().any(|l| l == "READY=1")).collect();
    assert_eq!(ready.len(), 1, "one READY=1:\n{log}");
    let listed = ready[0].connectors_at_ready.as_deref().unwrap_or_else(|| panic!("REST API not answering at READY=1:\n{log}"));
    assert_eq!(listed, r#"["svc"]"#, "the stored connector is restored before READY=1");
    assert!(ready[0].text.contains("STATUS=1 connector: 1 "), "{}", ready[0].text);

    // WATCHDOG=1 every half second while running, with the connector's state.
    let fed: Vec<&Received> = got
        .iter()
        .filter(|r| r.text.lines().any(|l| l == "WATCHDOG=1") && r.at > ready[0].at && r.at <= running_until)
        .collect();
    let span = running_until.duration_since(ready[0].at);
    assert!(
        fed.len() as u128 >= span.as_millis() / 500 / 2,
        "{} WATCHDOG=1 in {span:?} (expected one every 500 ms):\n{log}",
        fed.len()
    );
    assert!(fed.iter().any(|r| r.text.contains("STATUS=1 connector: 1 RUNNING")), "watchdog status lines name the state");

    // STOPPING=1 on SIGTERM, and a clean exit.
    assert!(got.iter().any(|r| r.text.lines().any(|l| l == "STOPPING=1")), "STOPPING=1 at shutdown:\n{log}");
    assert!(status.success(), "exit {status}:\n{log}");
}
