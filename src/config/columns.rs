//! Column options, with Debezium's property names: which columns are
//! captured, how values are masked, truncated or hashed, and which columns
//! make the record key.
//!
//! | property | value |
//! | --- | --- |
//! | `column.include.list` / `column.exclude.list` | regexes over `schema.table.column` (anchored, case-insensitive) |
//! | `column.mask.with.N.chars` | regexes: string values become N `*` |
//! | `column.truncate.to.N.chars` | regexes: string values cut to N characters |
//! | `column.mask.hash.ALG.with.salt.SALT` | regexes: string values become hex(ALG(SALT ‖ Java-serialized value)) |
//! | `column.mask.hash.v2.ALG.with.salt.SALT` | as above over the value's UTF-8 bytes |
//! | `message.key.columns` | `schema.table:col1,col2;…` (table part a regex): the key columns |

use super::properties::Props;
pub use crate::event::mapper::HashAlgorithm;

/// One `column.mask.hash.*` property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashMask {
    pub algorithm: HashAlgorithm,
    pub salt: String,
    /// `v2`: hash the value's bytes; otherwise (v1, Debezium's default) its
    /// Java serialization.
    pub v2: bool,
    /// Regexes over `schema.table.column`.
    pub columns: Vec<String>,
}

/// The column options of a connector (patterns as given; compiled by the source).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnOptions {
    /// `column.include.list`.
    pub include_list: Vec<String>,
    /// `column.exclude.list`.
    pub exclude_list: Vec<String>,
    /// `column.mask.with.N.chars`: (N, regexes).
    pub mask_with: Vec<(usize, Vec<String>)>,
    /// `column.truncate.to.N.chars`: (N, regexes).
    pub truncate_to: Vec<(usize, Vec<String>)>,
    /// `column.mask.hash.*`.
    pub mask_hash: Vec<HashMask>,
    /// `message.key.columns`: (table regex over `schema.table`, column names).
    pub message_key_columns: Vec<(String, Vec<String>)>,
}

impl ColumnOptions {
    /// Whether no option is set (every column as it is).
    pub fn is_empty(&self) -> bool {
        *self == ColumnOptions::default()
    }
}

/// Reads the column options, reporting malformed ones on `p`.
pub(crate) fn parse_columns(p: &mut Props, regex_list: fn(&mut Props, &str) -> Vec<String>) -> ColumnOptions {
    let include_list = regex_list(p, "column.include.list");
    let exclude_list = regex_list(p, "column.exclude.list");
    if !include_list.is_empty() && !exclude_list.is_empty() {
        p.error("column.exclude.list", "\"column.include.list\" is already specified");
    }
    let mut options = ColumnOptions { include_list, exclude_list, ..ColumnOptions::default() };
    for key in p.keys_with_prefix("column.mask.with.") {
        match count_of(&key, "column.mask.with.") {
            Some(n) => options.mask_with.push((n, regex_list(p, &key))),
            None => p.error(&key, "expected column.mask.with.N.chars with N a positive integer"),
        }
    }
    for key in p.keys_with_prefix("column.truncate.to.") {
        match count_of(&key, "column.truncate.to.") {
            Some(n) => options.truncate_to.push((n, regex_list(p, &key))),
            None => p.error(&key, "expected column.truncate.to.N.chars with N a positive integer"),
        }
    }
    for key in p.keys_with_prefix("column.mask.hash.") {
        let rest = &key["column.mask.hash.".len()..];
        let (v2, rest) = match rest.strip_prefix("v2.") {
            Some(r) => (true, r),
            None => (false, rest.strip_prefix("v1.").unwrap_or(rest)),
        };
        let Some((alg, salt)) = rest.split_once(".with.salt.") else {
            p.error(&key, "expected column.mask.hash.[v2.]ALGORITHM.with.salt.SALT");
            continue;
        };
        let Some(algorithm) = HashAlgorithm::from_java_name(alg) else {
            p.error(&key, format!("unsupported hash algorithm {alg}: use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"));
            continue;
        };
        let salt = salt.to_owned();
        options.mask_hash.push(HashMask { algorithm, salt, v2, columns: regex_list(p, &key) });
    }
    if let Some(value) = p.get("message.key.columns") {
        for entry in value.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let parsed = entry.rsplit_once(':').and_then(|(table, cols)| {
                let cols: Vec<String> =
                    cols.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect();
                let table = table.trim();
                (!cols.is_empty() && !table.is_empty() && regex::Regex::new(table).is_ok())
                    .then(|| (table.to_owned(), cols))
            });
            match parsed {
                Some(e) => options.message_key_columns.push(e),
                None => p.error(
                    "message.key.columns",
                    format!("invalid entry {entry:?}: expected <schema>.<table>:<column>,<column> entries separated by ';'"),
                ),
            }
        }
    }
    options
}

/// N of `<prefix>N.chars`.
fn count_of(key: &str, prefix: &str) -> Option<usize> {
    key.strip_prefix(prefix)?.strip_suffix(".chars")?.parse::<usize>().ok().filter(|n| *n > 0)
}
