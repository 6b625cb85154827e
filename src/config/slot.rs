//! Settings of the replication slot and of the connections pgcdc opens:
//! `slot.stream.params`, `slot.failover`, `flush.lsn.source`, `lsn.flush.timeout.ms`,
//! `lsn.flush.timeout.action` and `database.initial.statements`, with
//! Debezium's names, defaults and syntax.

use std::time::Duration;

use crate::config::properties::Props;

/// Default of `lsn.flush.timeout.ms` (Debezium's: 30 s).
pub const DEFAULT_LSN_FLUSH_TIMEOUT_MS: u64 = 30_000;

/// pgoutput options pgcdc sets itself: overriding them would break decoding.
const RESERVED_STREAM_PARAMS: &[&str] = &["proto_version", "publication_names", "messages", "streaming", "binary"];

/// `lsn.flush.timeout.action`: what happens when reporting a durable
/// position to the server takes longer than `lsn.flush.timeout.ms`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LsnFlushTimeoutAction {
    /// The connector fails (Debezium's default).
    #[default]
    Fail,
    /// A warning, and streaming goes on.
    Warn,
    /// Streaming goes on (logged at debug level).
    Ignore,
}

/// How the slot's position is confirmed to the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotSettings {
    /// `slot.stream.params`: extra `START_REPLICATION` options (name, value).
    pub stream_params: Vec<(String, String)>,
    /// `flush.lsn.source` (default true): confirm durable positions to the
    /// slot. With false the slot is never confirmed by pgcdc (someone else
    /// must advance it, or WAL is kept).
    pub flush_lsn_source: bool,
    /// `lsn.flush.timeout.ms`.
    pub lsn_flush_timeout: Duration,
    /// `lsn.flush.timeout.action`.
    pub lsn_flush_timeout_action: LsnFlushTimeoutAction,
    /// `slot.failover` (default false, PostgreSQL 17+): the slot is created
    /// (or altered) with FAILOVER, so standbys synchronize it.
    pub failover: bool,
    /// `status.update.interval.ms`: the longest time between two standby
    /// status updates (one also goes out at every durable batch), and how
    /// often the slot's lag metrics are read.
    pub status_update_interval: Duration,
}

/// Default of `status.update.interval.ms` (Debezium's).
pub const DEFAULT_STATUS_UPDATE_INTERVAL_MS: u64 = 10_000;

impl Default for SlotSettings {
    fn default() -> Self {
        SlotSettings {
            stream_params: Vec::new(),
            flush_lsn_source: true,
            lsn_flush_timeout: Duration::from_millis(DEFAULT_LSN_FLUSH_TIMEOUT_MS),
            lsn_flush_timeout_action: LsnFlushTimeoutAction::Fail,
            failover: false,
            status_update_interval: Duration::from_millis(DEFAULT_STATUS_UPDATE_INTERVAL_MS),
        }
    }
}

pub(crate) fn parse_slot(p: &mut Props) -> SlotSettings {
    let stream_params = match p.get("slot.stream.params") {
        Some(raw) => match parse_stream_params(&raw) {
            Ok(params) => params,
            Err(message) => {
                p.error("slot.stream.params", message);
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    SlotSettings {
        stream_params,
        flush_lsn_source: p.flag("flush.lsn.source"),
        lsn_flush_timeout: Duration::from_millis(p.int::<u64>("lsn.flush.timeout.ms")),
        lsn_flush_timeout_action: p.choice(
            "lsn.flush.timeout.action",
            &[("fail", LsnFlushTimeoutAction::Fail), ("warn", LsnFlushTimeoutAction::Warn), ("ignore", LsnFlushTimeoutAction::Ignore)],
        ),
        failover: p.flag("slot.failover"),
        status_update_interval: Duration::from_millis(p.int::<u64>("status.update.interval.ms")),
    }
}

/// `name=value;name=value` (Debezium's syntax). Names are pgoutput option
/// names (letters, digits, `_`); the options pgcdc sets itself are refused.
pub(crate) fn parse_stream_params(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in raw.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return Err(format!("Invalid value {raw} for configuration slot.stream.params: {part:?} is not name=value"));
        };
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("Invalid value {raw} for configuration slot.stream.params: {name:?} is not an option name"));
        }
        if RESERVED_STREAM_PARAMS.contains(&name.as_str()) {
            return Err(format!(
                "Invalid value {raw} for configuration slot.stream.params: {name} is set by pgcdc itself (its decoder depends on it)"
            ));
        }
        out.push((name, value.trim().to_owned()));
    }
    Ok(out)
}

/// `database.initial.statements`: SQL statements separated by `;`, where
/// `;;` stands for a literal `;` (Debezium's syntax).
pub(crate) fn parse_initial_statements(p: &mut Props) -> Vec<String> {
    let Some(raw) = p.get_raw("database.initial.statements") else { return Vec::new() };
    split_statements(&raw)
}

pub(crate) fn split_statements(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ';' {
            if chars.peek() == Some(&';') {
                chars.next();
                current.push(';');
                continue;
            }
            let s = current.trim();
            if !s.is_empty() {
                out.push(s.to_owned());
            }
            current.clear();
        } else {
            current.push(c);
        }
    }
    let s = current.trim();
    if !s.is_empty() {
        out.push(s.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_params_are_name_value_pairs_and_reserved_names_are_refused() {
        assert_eq!(
            parse_stream_params("origin=none; two_phase = true").unwrap(),
            vec![("origin".to_owned(), "none".to_owned()), ("two_phase".to_owned(), "true".to_owned())]
        );
        assert!(parse_stream_params("proto_version=1").unwrap_err().contains("set by pgcdc"));
        assert!(parse_stream_params("origin").is_err());
        assert!(parse_stream_params("a'b=1").is_err());
    }

    #[test]
    fn initial_statements_split_on_semicolons_and_double_semicolons_escape() {
        assert_eq!(
            split_statements("SET search_path = a; INSERT INTO t VALUES (';;');  ;"),
            vec!["SET search_path = a".to_owned(), "INSERT INTO t VALUES (';')".to_owned()]
        );
    }
}
