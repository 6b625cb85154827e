//! The `pgcdc` command: CLI, tracing setup and signals; nothing else.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

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
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Print the records of topics as JSON lines, from the beginning.
    Tail {
        #[arg(long, default_value = "127.0.0.1:9092")]
        bootstrap_servers: String,
        /// Stop after this many records.
        #[arg(long)]
        max: Option<usize>,
        /// Stop after this many seconds without a record.
        #[arg(long, default_value_t = 5)]
        idle_secs: u64,
        #[arg(required = true)]
        topics: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => run(config),
        Command::Tail { bootstrap_servers, max, idle_secs, topics } => {
            let opts = pgcdc::tail::TailOptions {
                bootstrap_servers,
                topics,
                max_records: max,
                idle_timeout: Duration::from_secs(idle_secs),
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

fn run(config: Option<PathBuf>) -> ExitCode {
    let _ = config;
    eprintln!("pgcdc run: not wired yet");
    ExitCode::FAILURE
}

/// An error and its causes on one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        s.push_str(": ");
        s.push_str(&e.to_string());
        cur = e.source();
    }
    s
}
