//! The `pgcdc` command: CLI, tracing setup and signals; nothing else.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use pgcdc::config::worker::{LogConfig, LogFormat, WorkerConfig, WorkerMode};
use pgcdc::connect::distributed;
use pgcdc::connect::task::PipelineRuntime;
use pgcdc::connect::{Herder, HerderOptions};
use pgcdc::notify::ServiceManager;
use pgcdc::pipeline::WorkerSettings;

#[derive(Parser)]
#[command(name = "pgcdc", version, about = "Change data capture from PostgreSQL to Kafka, Debezium-compatible")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the worker: REST API on [rest] listen, connectors from the state
    /// directory and the connectors directory.
    Run {
        /// The worker's TOML configuration (environment overrides: PGCDC_SECTION__KEY).
        #[arg(long, short, env = "PGCDC_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Check what a connector needs from its PostgreSQL (wal_level, slots, privileges,
    /// publication, replica identity, the slot) and print each result with its fix.
    /// Exits 1 when a check fails. Read-only.
    Check {
        /// The connector registration as it is POSTed (`{"name", "config"}`) or its config map.
        #[arg(long)]
        connector: PathBuf,
        /// A worker configuration whose [config_providers] resolve `${env:}`/`${file:}` references.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Print the records of topics as JSON lines, from the beginning.
    Tail {
        /// The brokers (default: the config file's kafka.bootstrap_servers, else 127.0.0.1:9092).
        #[arg(long)]
        bootstrap_servers: Option<String>,
        /// A worker configuration whose [kafka] settings (bootstrap servers, TLS, SASL) to use.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Stop after this many records.
        #[arg(long)]
        max: Option<usize>,
        /// Stop after this many seconds without a record.
        #[arg(long, default_value_t = 5)]
        idle_secs: u64,
        /// Print keys and values exactly as written: Decimal as base64 bytes, dates as days,
        /// timestamps as epoch numbers (by default they are shown as "12.34", "2024-03-01", ...).
        #[arg(long)]
        raw: bool,
        /// A Confluent-compatible schema registry: Avro keys and values (magic byte 0 and a
        /// schema id) are decoded with their writer schema from it.
        #[arg(long)]
        schema_registry_url: Option<String>,
        #[arg(required = true)]
        topics: Vec<String>,
    },
}

/// How long blocking work may delay the exit once connectors are stopped
/// (taken from the end of `worker.shutdown_timeout_ms`, at most a fifth of it).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The exit code when a second stop signal cuts the shutdown short (128 + SIGINT, as shells report an interrupt).
const FORCED_EXIT_CODE: i32 = 130;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => run(config),
        Command::Check { connector, config } => check(&connector, config.as_deref()),
        Command::Tail { bootstrap_servers, config, max, idle_secs, raw, schema_registry_url, topics } => {
            let client = match config {
                Some(path) => match WorkerConfig::load(Some(&path)) {
                    Ok(c) => {
                        let mut kafka = c.kafka;
                        if let Some(servers) = bootstrap_servers {
                            kafka.bootstrap_servers = servers;
                        }
                        kafka.client_settings()
                    }
                    Err(err) => {
                        eprintln!("pgcdc tail: {}", error_chain(&err));
                        return ExitCode::FAILURE;
                    }
                },
                None => pgcdc::kafka::ClientSettings::new(bootstrap_servers.unwrap_or_else(|| "127.0.0.1:9092".to_owned()), Vec::new()),
            };
            let opts = pgcdc::tail::TailOptions {
                client,
                topics,
                max_records: max,
                idle_timeout: Duration::from_secs(idle_secs),
                raw,
                registry: schema_registry_url.map(|url| pgcdc::encode::schema_registry::RegistryConfig {
                    urls: url.split(',').map(|u| u.trim().trim_end_matches('/').to_owned()).collect(),
                    ..Default::default()
                }),
            };
            match pgcdc::tail::tail(&opts, &mut std::io::stdout().lock()) {
                Ok(_) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("pgcdc tail: {}", error_chain(&err));
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn check(connector: &std::path::Path, config: Option<&std::path::Path>) -> ExitCode {
    let providers = match config.map(|p| WorkerConfig::load(Some(p))).transpose() {
        Ok(c) => c.map(|c| c.config_providers).unwrap_or_default(),
        Err(err) => {
            eprintln!("pgcdc check: {}", error_chain(&err));
            return ExitCode::from(2);
        }
    };
    let parsed = std::fs::read(connector)
        .map_err(|e| format!("cannot read {}: {e}", connector.display()))
        .and_then(|bytes| pgcdc::connect::parse_connector_file(&bytes).map_err(|e| format!("{}: {e}", connector.display())))
        .and_then(|(name, raw)| {
            pgcdc::config::connector::ConnectorConfig::with_providers(&name, &raw, &providers)
                .map(|(c, _)| c)
                .map_err(|e| format!("{}: {e}", connector.display()))
        });
    let config = match parsed {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pgcdc check: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("pgcdc check: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let findings = runtime.block_on(pgcdc::source::postgres::preflight::check(&config));
    println!("connector {} → {}:{}/{}", config.name, config.connection.host, config.connection.port, config.connection.dbname);
    for f in &findings {
        println!("{f}");
    }
    if pgcdc::source::postgres::preflight::failed(&findings) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn run(config: Option<PathBuf>) -> ExitCode {
    let config = match WorkerConfig::load(config.as_deref()).and_then(|c| c.validate().map(|()| c)) {
        Ok(c) => c,
        Err(err) => {
            eprintln!("pgcdc: {}", error_chain(&err));
            return ExitCode::from(2);
        }
    };
    init_tracing(&config.log);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("pgcdc: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Set when the stop signal arrives: the process exits by then.
    let exit_by = Arc::new(OnceLock::new());
    let result = runtime.block_on(serve(config, exit_by.clone()));
    // A connector stuck in a blocking librdkafka call (e.g. init_transactions
    // against an unreachable broker) must not keep the process alive.
    let grace = exit_by.get().map_or(SHUTDOWN_GRACE, |at: &Instant| {
        at.saturating_duration_since(Instant::now()).clamp(Duration::from_millis(100), SHUTDOWN_GRACE)
    });
    runtime.shutdown_timeout(grace);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "worker failed");
            eprintln!("pgcdc: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: WorkerConfig, exit_by: Arc<OnceLock<Instant>>) -> anyhow::Result<()> {
    let worker = WorkerSettings::from_config(&config);
    let runtime = Arc::new(PipelineRuntime::new(worker));
    for warning in config.startup_warnings() {
        tracing::warn!(warning = %warning, "worker configuration");
    }
    let opts = HerderOptions::from_worker(&config);
    let herder = match config.worker.mode {
        WorkerMode::Standalone => Herder::open(opts, runtime).await,
        WorkerMode::Distributed => {
            let parts = distributed::connect(distributed::ClusterSettings::from_worker(&config))
                .await
                .map_err(|e| anyhow::anyhow!(error_chain(&e)))?;
            Herder::open_distributed(opts, runtime, parts).await
        }
    }
    .map_err(|e| anyhow::anyhow!(error_chain(&e)))?;
    tracing::info!(
        listen = %config.rest.listen,
        mode = ?config.worker.mode,
        worker_id = %config.worker_id(),
        version = env!("CARGO_PKG_VERSION"),
        "pgcdc worker started"
    );
    let timeout = Duration::from_millis(config.worker.shutdown_timeout_ms);
    // The REST API stays up while the connectors stop, so `/ready` answers
    // 503 (and `/health`, `/metrics`, statuses keep answering) until the end.
    let (stop_rest, rest_stop) = tokio::sync::oneshot::channel::<()>();
    let limits = pgcdc::connect::ServerLimits::from_config(&config.rest);
    let router = pgcdc::connect::router(herder.clone());
    let listener = tokio::net::TcpListener::bind(config.rest.listen)
        .await
        .map_err(|source| anyhow::anyhow!(error_chain(&pgcdc::connect::ServeError::Bind { addr: config.rest.listen, source })))?;
    let mut server = tokio::spawn(pgcdc::connect::serve_on(listener, router, limits, async move {
        let _ = rest_stop.await;
    }));
    let service = ServiceManager::from_env();
    service.ready(&herder).await;
    let _watchdog = service.spawn_watchdog(herder.clone());
    tokio::select! {
        // The server ends on its own only when it cannot serve.
        served = &mut server => {
            return match served {
                Ok(r) => r.map_err(|e| anyhow::anyhow!(error_chain(&e))),
                Err(e) => Err(anyhow::anyhow!("rest server task failed: {e}")),
            };
        }
        () = shutdown_signal() => {}
    }
    service.stopping("connectors are committing or aborting their open transactions");
    // A second SIGTERM/SIGINT ends the process at once: what was not committed
    // is delivered again after the restart (as after kill -9).
    tokio::spawn(async {
        shutdown_signal().await;
        tracing::warn!(exit_code = FORCED_EXIT_CODE, "second stop signal: exiting now without waiting for the connectors");
        std::process::exit(FORCED_EXIT_CODE);
    });
    let deadline = *exit_by.get_or_init(|| Instant::now() + timeout);
    herder.begin_shutdown();
    // Leave the end of the budget to the runtime for dropping what is left.
    let budget = deadline.saturating_duration_since(Instant::now()).saturating_sub((timeout / 5).min(SHUTDOWN_GRACE));
    tracing::info!(timeout_ms = budget.as_millis() as u64, "shutting down: stopping connectors");
    let unfinished = herder.shutdown_within(budget).await;
    let _ = stop_rest.send(());
    let _ = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), server).await;
    if unfinished.is_empty() {
        tracing::info!("stopped");
    } else {
        tracing::warn!(
            connectors = ?unfinished.connectors,
            group_not_left = unfinished.group,
            registry_busy = unfinished.registry_busy,
            shutdown_timeout_ms = timeout.as_millis() as u64,
            "exiting before everything stopped (worker.shutdown_timeout_ms): open kafka transactions were not \
             committed and are aborted or fenced; their changes are delivered again after the restart"
        );
    }
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn init_tracing(log: &LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// An error and its causes on one line.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    pgcdc::error::chain(err)
}
