//! Error handling settings: Kafka Connect's `errors.tolerance`,
//! `errors.retry.timeout`, `errors.log.*` and `errors.deadletterqueue.*`,
//! and Debezium's `event.processing.failure.handling.mode`. What they do is
//! in `crate::delivery::errors` and `crate::delivery::retry`.

use std::time::Duration;

use crate::config::properties::Props;

/// `errors.tolerance`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tolerance {
    /// A data error fails the connector (Connect's default).
    #[default]
    None,
    /// A data error skips the record (to the dead letter queue when one is set).
    All,
}

/// `event.processing.failure.handling.mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailureMode {
    #[default]
    Fail,
    /// Skip the event, with a warning.
    Warn,
    /// Skip the event (logged at debug level).
    Skip,
}

/// How data errors (one record that cannot be converted, encoded or written) are handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorPolicy {
    pub tolerance: Tolerance,
    pub failure_mode: FailureMode,
    /// `errors.log.enable`: log each tolerated failure.
    pub log_enable: bool,
    /// `errors.log.include.messages`: with it, the log names the table, LSN and txId (never row values).
    pub log_include_messages: bool,
    /// `errors.deadletterqueue.topic.name` (with `errors.tolerance=all`).
    pub dlq_topic: Option<String>,
    /// `errors.deadletterqueue.topic.replication.factor`.
    pub dlq_replication_factor: i16,
    /// `errors.deadletterqueue.context.headers.enable`.
    pub dlq_context_headers: bool,
    /// `errors.retry.timeout`: how long a transient failure of one operation
    /// is retried in place; zero: not at all, `None` (-1): forever.
    pub retry_timeout: Option<Duration>,
}

impl Default for ErrorPolicy {
    fn default() -> Self {
        ErrorPolicy {
            tolerance: Tolerance::None,
            failure_mode: FailureMode::Fail,
            log_enable: false,
            log_include_messages: false,
            dlq_topic: None,
            dlq_replication_factor: DEFAULT_DLQ_REPLICATION_FACTOR,
            dlq_context_headers: false,
            retry_timeout: Some(Duration::ZERO),
        }
    }
}

impl ErrorPolicy {
    /// The dead letter queue topic, when records go to one (`errors.tolerance=all`).
    pub fn dead_letter_topic(&self) -> Option<&str> {
        self.dlq_topic.as_deref().filter(|_| self.tolerance == Tolerance::All)
    }
}

/// Default of `errors.deadletterqueue.topic.replication.factor` (Connect's).
pub const DEFAULT_DLQ_REPLICATION_FACTOR: i16 = 3;
/// Default of `errors.retry.timeout` (Connect's): no retry in place.
pub const DEFAULT_ERRORS_RETRY_TIMEOUT_MS: i64 = 0;

pub(crate) fn parse_errors(p: &mut Props) -> ErrorPolicy {
    let tolerance = p.choice("errors.tolerance", &[("none", Tolerance::None), ("all", Tolerance::All)]);
    let failure_mode = p.choice(
        "event.processing.failure.handling.mode",
        &[("fail", FailureMode::Fail), ("warn", FailureMode::Warn), ("skip", FailureMode::Skip), ("ignore", FailureMode::Skip)],
    );
    let dlq_topic = p.get("errors.deadletterqueue.topic.name");
    let dlq_replication_factor: i16 = p.int("errors.deadletterqueue.topic.replication.factor");
    if dlq_replication_factor == 0 {
        p.error("errors.deadletterqueue.topic.replication.factor", "must be a positive number, or -1 for the broker's default");
    }
    if dlq_topic.is_some() && tolerance == Tolerance::None {
        p.warn("errors.deadletterqueue.topic.name is set but errors.tolerance=none: no record goes to it (set errors.tolerance=all)");
    }
    ErrorPolicy {
        tolerance,
        failure_mode,
        log_enable: p.flag("errors.log.enable"),
        log_include_messages: p.flag("errors.log.include.messages"),
        dlq_topic,
        dlq_replication_factor,
        dlq_context_headers: p.flag("errors.deadletterqueue.context.headers.enable"),
        retry_timeout: u64::try_from(p.int::<i64>("errors.retry.timeout")).ok().map(Duration::from_millis),
    }
}
