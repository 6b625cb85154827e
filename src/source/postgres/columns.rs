//! The column options applied to a table's shape and rows, as Debezium's
//! column filters, `ColumnMappers` and custom key mapper do.
//!
//! ```text
//!   ColumnOptions ──ColumnRules::new──▶ compiled regexes
//!   Relation: column `schema.table.column` ──captured?──▶ kept / left out
//!                                          ──mapper()───▶ ColumnMapper + schema parameter
//!                                          ──key_columns()▶ message.key.columns override
//!   row value ──ColumnMapper::apply──▶ masked / truncated / hashed value
//! ```
//!
//! Debezium's rules, as observed on 3.6.3 (tests/debezium/golden/columns):
//! - the first matching rule wins, in the order truncate, mask, hash;
//! - the schema parameter (`truncateLength`, `masked`) is set for every
//!   matched column, even one whose type is not a string (masking an `int`
//!   leaves its values and adds `masked=true`); truncation's only when the
//!   column's declared length is unknown or above N;
//! - only string columns (`text`, `varchar`, `bpchar`) change values: masking
//!   replaces every value, NULL included, by N `*`; truncation cuts to N UTF-16
//!   units; hashing is hex(digest(salt ‖ bytes)), cut to the column's declared
//!   length (e.g. `varchar(8)`), NULL stays NULL;
//! - hashing v1 digests Java's serialization of the string
//!   (`AC ED 00 05 74 <u16 length> <modified UTF-8>`), v2 its UTF-8 bytes;
//! - `message.key.columns` lists the key columns of matching tables, in the
//!   order given.
//!
//! - the record key is built without the mappers: a mapped key column keeps
//!   its raw value and schema (no parameter) in the key, and key changes are
//!   detected on raw values (tests/debezium/golden/keys). So a key column's
//!   mapper is not applied while decoding; it travels as the column's
//!   `KeyMapping` and the envelope applies it to `before`/`after` only.

use regex::Regex;

use crate::config::columns::{ColumnOptions, HashMask};
pub use crate::event::mapper::ColumnMapper;
use crate::event::TableId;

use super::value::oid;

/// Compiled column options.
#[derive(Clone, Debug, Default)]
pub struct ColumnRules {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    truncate: Vec<(usize, Vec<Regex>)>,
    mask: Vec<(usize, Vec<Regex>)>,
    hash: Vec<(HashMask, Vec<Regex>)>,
    keys: Vec<(Regex, Vec<String>)>,
}

fn compile(patterns: &[String]) -> Vec<Regex> {
    // Validated when the configuration was read.
    patterns.iter().filter_map(|p| Regex::new(&format!("(?i)^(?:{p})$")).ok()).collect()
}

impl ColumnRules {
    pub fn new(options: &ColumnOptions) -> Self {
        ColumnRules {
            include: compile(&options.include_list),
            exclude: compile(&options.exclude_list),
            truncate: options.truncate_to.iter().map(|(n, p)| (*n, compile(p))).collect(),
            mask: options.mask_with.iter().map(|(n, p)| (*n, compile(p))).collect(),
            hash: options.mask_hash.iter().map(|h| (h.clone(), compile(&h.columns))).collect(),
            keys: options
                .message_key_columns
                .iter()
                .filter_map(|(t, cols)| Some((Regex::new(&format!("(?i)^(?:{t})$")).ok()?, cols.clone())))
                .collect(),
        }
    }

    /// Whether `table.column` is captured (`column.include.list` / `column.exclude.list`).
    pub fn captured(&self, table: &TableId, column: &str) -> bool {
        let name = full_name(table, column);
        if !self.include.is_empty() {
            return self.include.iter().any(|r| r.is_match(&name));
        }
        !self.exclude.iter().any(|r| r.is_match(&name))
    }

    /// The `message.key.columns` of `table`, in order, if any rule names it.
    pub fn key_columns(&self, table: &TableId) -> Option<&[String]> {
        let name = format!("{}.{}", table.schema, table.table);
        self.keys.iter().find(|(r, _)| r.is_match(&name)).map(|(_, cols)| cols.as_slice())
    }

    /// The mapper of a column and the schema parameter it adds, if a rule
    /// matches. `length` is the declared length (`varchar(n)`, `char(n)`).
    pub fn mapper(
        &self,
        table: &TableId,
        column: &str,
        type_oid: u32,
        length: Option<usize>,
    ) -> Option<(ColumnMapper, Option<(&'static str, String)>)> {
        let name = full_name(table, column);
        let matches = |rs: &[Regex]| rs.iter().any(|r| r.is_match(&name));
        let string = is_string(type_oid);
        if let Some((n, _)) = self.truncate.iter().find(|(_, rs)| matches(rs)) {
            let possible = length.is_none_or(|l| l > *n);
            let mapper = if string && possible { ColumnMapper::Truncate(*n) } else { ColumnMapper::Passthrough };
            return Some((mapper, possible.then(|| ("truncateLength", n.to_string()))));
        }
        if let Some((n, _)) = self.mask.iter().find(|(_, rs)| matches(rs)) {
            let mapper = if string { ColumnMapper::Mask("*".repeat(*n)) } else { ColumnMapper::Passthrough };
            return Some((mapper, Some(("masked", "true".to_owned()))));
        }
        if let Some((h, _)) = self.hash.iter().find(|(_, rs)| matches(rs)) {
            let mapper = if string {
                ColumnMapper::Hash { algorithm: h.algorithm, salt: h.salt.clone(), v2: h.v2, max_len: length }
            } else {
                ColumnMapper::Passthrough
            };
            return Some((mapper, Some(("masked", "true".to_owned()))));
        }
        None
    }
}

fn full_name(table: &TableId, column: &str) -> String {
    format!("{}.{}.{}", table.schema, table.table, column)
}

/// Columns Debezium's mappers treat as strings (JDBC CHAR/VARCHAR).
fn is_string(type_oid: u32) -> bool {
    matches!(type_oid, oid::TEXT | oid::VARCHAR | oid::BPCHAR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(f: impl FnOnce(&mut ColumnOptions)) -> ColumnRules {
        let mut o = ColumnOptions::default();
        f(&mut o);
        ColumnRules::new(&o)
    }

    fn people() -> TableId {
        TableId::new("public", "people")
    }

    #[test]
    fn include_and_exclude_are_anchored_and_case_insensitive() {
        let r = rules(|o| o.exclude_list = vec![r"public\.people\.(secret|NOTE)".into()]);
        assert!(!r.captured(&people(), "note"));
        assert!(!r.captured(&people(), "secret"));
        assert!(r.captured(&people(), "secrets"), "anchored");
        let r = rules(|o| o.include_list = vec![r"public\.people\.(id|name)".into()]);
        assert!(r.captured(&people(), "ID"));
        assert!(!r.captured(&people(), "email"));
    }

    #[test]
    fn first_rule_wins_and_parameters_follow_debezium() {
        let r = rules(|o| {
            o.truncate_to = vec![(4, vec![r"public\.people\.(code|name)".into()])];
            o.mask_with = vec![(5, vec![r"public\.people\.(name|age)".into()])];
        });
        assert_eq!(
            r.mapper(&people(), "name", oid::TEXT, None),
            Some((ColumnMapper::Truncate(4), Some(("truncateLength", "4".into()))))
        );
        assert_eq!(r.mapper(&people(), "code", oid::VARCHAR, Some(4)), Some((ColumnMapper::Passthrough, None)));
        assert_eq!(
            r.mapper(&people(), "age", oid::INT4, None),
            Some((ColumnMapper::Passthrough, Some(("masked", "true".into()))))
        );
        assert_eq!(r.mapper(&people(), "email", oid::TEXT, None), None);
    }

    #[test]
    fn key_columns_match_the_table_by_regex() {
        let r = rules(|o| o.message_key_columns = vec![("public.orders".into(), vec!["region".into(), "order_no".into()])]);
        let orders = TableId::new("public", "orders");
        assert_eq!(r.key_columns(&orders), Some(&["region".to_owned(), "order_no".to_owned()][..]));
        assert_eq!(r.key_columns(&people()), None);
    }
}
