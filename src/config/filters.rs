//! The table and message filters of a connector (`table.include.list` and
//! friends, `message.prefix.include.list`), compiled from its configuration.

use crate::event::TableId;

use super::connector::SYSTEM_SCHEMAS;

/// Debezium matches each pattern against the whole name.
pub(super) fn anchored(pattern: &str) -> String {
    format!("(?i)^(?:{pattern})$")
}

pub(super) fn compile(patterns: &[String]) -> Vec<regex::Regex> {
    // Patterns were validated by `from_properties`; one that does not compile cannot reach here.
    patterns.iter().filter_map(|p| regex::Regex::new(&anchored(p)).ok()).collect()
}

/// Which tables a connector captures, with Debezium's semantics: each
/// pattern must match the whole name (case-insensitively); table patterns
/// match `schema.table`, schema patterns the schema; system schemas are
/// never captured.
#[derive(Clone, Debug)]
pub struct TableFilter {
    pub(super) table_include: Vec<regex::Regex>,
    pub(super) table_exclude: Vec<regex::Regex>,
    pub(super) schema_include: Vec<regex::Regex>,
    pub(super) schema_exclude: Vec<regex::Regex>,
}

impl TableFilter {
    /// Whether changes of `table` are captured.
    pub fn matches(&self, table: &TableId) -> bool {
        if SYSTEM_SCHEMAS.contains(&table.schema.as_str()) {
            return false;
        }
        let schema_ok = if !self.schema_include.is_empty() {
            self.schema_include.iter().any(|r| r.is_match(&table.schema))
        } else {
            !self.schema_exclude.iter().any(|r| r.is_match(&table.schema))
        };
        if !schema_ok {
            return false;
        }
        let full = format!("{}.{}", table.schema, table.table);
        if !self.table_include.is_empty() {
            self.table_include.iter().any(|r| r.is_match(&full))
        } else {
            !self.table_exclude.iter().any(|r| r.is_match(&full))
        }
    }
}

/// Which logical decoding messages a connector emits, by prefix, with
/// Debezium's semantics (`LogicalDecodingMessageFilter`): each pattern must
/// match the whole prefix, case-insensitively; no list means every message.
#[derive(Clone, Debug, Default)]
pub struct MessageFilter {
    pub(super) include: Vec<regex::Regex>,
    pub(super) exclude: Vec<regex::Regex>,
}

impl MessageFilter {
    /// Whether messages with `prefix` are emitted.
    pub fn matches(&self, prefix: &str) -> bool {
        if !self.include.is_empty() {
            self.include.iter().any(|r| r.is_match(prefix))
        } else {
            !self.exclude.iter().any(|r| r.is_match(prefix))
        }
    }
}
