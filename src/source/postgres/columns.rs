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

use crate::config::columns::{ColumnOptions, HashAlgorithm, HashMask};
use crate::event::TableId;
use crate::schema::Value;

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

/// What happens to one column's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnMapper {
    /// Every value (NULL too) becomes this string.
    Mask(String),
    /// Strings longer than N UTF-16 units are cut.
    Truncate(usize),
    /// hex(digest(salt ‖ value)), cut to `max_len` characters when set.
    Hash { algorithm: HashAlgorithm, salt: String, v2: bool, max_len: Option<usize> },
    /// Values unchanged (a non-string column matched by a masking rule).
    Passthrough,
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

impl ColumnMapper {
    /// The mapped value.
    pub fn apply(&self, value: Value) -> Value {
        match (self, value) {
            (ColumnMapper::Mask(mask), _) => Value::String(mask.clone()),
            (ColumnMapper::Truncate(n), Value::String(s)) => Value::String(truncate_utf16(&s, *n)),
            (ColumnMapper::Hash { algorithm, salt, v2, max_len }, Value::String(s)) => {
                let bytes = if *v2 { s.as_bytes().to_vec() } else { java_serialized_string(&s) };
                let mut hex = hex_digest(*algorithm, salt.as_bytes(), &bytes);
                if let Some(n) = max_len {
                    hex.truncate(*n);
                }
                Value::String(hex)
            }
            (_, v) => v,
        }
    }
}

/// The first `n` UTF-16 code units of `s`, as Java's `substring(0, n)`;
/// where that would cut a surrogate pair, Java keeps a lone high surrogate
/// (not valid UTF-8), pgcdc drops the character.
fn truncate_utf16(s: &str, n: usize) -> String {
    let mut units = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        let w = c.len_utf16();
        if units + w > n {
            return s[..i].to_owned();
        }
        units += w;
        end = i + c.len_utf8();
    }
    s[..end].to_owned()
}

/// `ObjectOutputStream.writeObject(String)`: stream header, then TC_STRING
/// with a 16-bit length (TC_LONGSTRING with 64 bits past 65535 bytes) and
/// modified UTF-8 (NUL as `C0 80`, supplementary characters as two
/// 3-byte surrogates).
fn java_serialized_string(s: &str) -> Vec<u8> {
    let mut utf = Vec::with_capacity(s.len());
    for unit in s.encode_utf16() {
        match unit {
            0x0001..=0x007F => utf.push(unit as u8),
            0x0000 | 0x0080..=0x07FF => {
                utf.push(0xC0 | ((unit >> 6) & 0x1F) as u8);
                utf.push(0x80 | (unit & 0x3F) as u8);
            }
            _ => {
                utf.push(0xE0 | ((unit >> 12) & 0x0F) as u8);
                utf.push(0x80 | ((unit >> 6) & 0x3F) as u8);
                utf.push(0x80 | (unit & 0x3F) as u8);
            }
        }
    }
    let mut out = vec![0xAC, 0xED, 0x00, 0x05];
    match u16::try_from(utf.len()) {
        Ok(len) => {
            out.push(0x74);
            out.extend_from_slice(&len.to_be_bytes());
        }
        Err(_) => {
            out.push(0x7C);
            out.extend_from_slice(&(utf.len() as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&utf);
    out
}

fn hex_digest(algorithm: HashAlgorithm, salt: &[u8], data: &[u8]) -> String {
    use std::fmt::Write;
    let digest: Vec<u8> = match algorithm {
        HashAlgorithm::Md5 => {
            use md5::Digest;
            let mut h = md5::Md5::new();
            h.update(salt);
            h.update(data);
            h.finalize().to_vec()
        }
        other => {
            let alg = match other {
                HashAlgorithm::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
                HashAlgorithm::Sha384 => &ring::digest::SHA384,
                HashAlgorithm::Sha512 => &ring::digest::SHA512,
                _ => &ring::digest::SHA256,
            };
            let mut ctx = ring::digest::Context::new(alg);
            ctx.update(salt);
            ctx.update(data);
            ctx.finish().as_ref().to_vec()
        }
    };
    digest.iter().fold(String::with_capacity(digest.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
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
    fn masking_replaces_null_too_truncation_counts_utf16_units() {
        assert_eq!(ColumnMapper::Mask("***".into()).apply(Value::Null), Value::String("***".into()));
        let t = ColumnMapper::Truncate(4);
        assert_eq!(t.apply(Value::String("Ünïcödé".into())), Value::String("Ünïc".into()));
        assert_eq!(t.apply(Value::String("ab𝄞c".into())), Value::String("ab𝄞".into()));
        assert_eq!(t.apply(Value::String("abc𝄞".into())), Value::String("abc".into()));
        assert_eq!(t.apply(Value::Null), Value::Null);
    }

    /// Values from Debezium 3.6.3 (tests/debezium/golden/columns/hash*.jsonl).
    #[test]
    fn hashes_match_debezium() {
        let v1 = |s: &str, len| {
            ColumnMapper::Hash { algorithm: HashAlgorithm::Sha256, salt: "CzQMA0cB5K".into(), v2: false, max_len: len }
                .apply(Value::String(s.into()))
        };
        assert_eq!(
            v1("alice@example.com", Some(64)),
            Value::String("7d2ad8f83758f463ec20938c870cf0068a399d3fa46f3a4e6621a68927ead495".into())
        );
        assert_eq!(v1("AB12", Some(8)), Value::String("f06f836a".into()));
        assert_eq!(
            v1("ß€𝄞", None),
            Value::String("9e6db5d0a4776c26dcf34e6176255dc4573fac451522017080b63cf2433a52af".into())
        );
        assert_eq!(v1("", Some(8)), Value::String("7b061bc7".into()));
        let v2 = ColumnMapper::Hash { algorithm: HashAlgorithm::Md5, salt: "pepper".into(), v2: true, max_len: None };
        assert_eq!(v2.apply(Value::String("alice@example.com".into())), Value::String("7820564db1dfcc1818ea2e1cb5b41e7a".into()));
        assert_eq!(v2.apply(Value::Null), Value::Null);
    }

    #[test]
    fn key_columns_match_the_table_by_regex() {
        let r = rules(|o| o.message_key_columns = vec![("public.orders".into(), vec!["region".into(), "order_no".into()])]);
        let orders = TableId::new("public", "orders");
        assert_eq!(r.key_columns(&orders), Some(&["region".to_owned(), "order_no".to_owned()][..]));
        assert_eq!(r.key_columns(&people()), None);
    }
}
