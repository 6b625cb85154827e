//! What a connector property is: its declaration ([`PropertyDef`]: name,
//! type, default, group, documentation, and how it is validated), looked up
//! by the parser's typed getters ([`crate::config::properties`]), by
//! `GET /connector-plugins/{plugin}/config` and
//! `PUT /connector-plugins/{plugin}/config/validate`, and rendered as the
//! README's property table. The declarations themselves are in
//! [`crate::config::declarations`]; this module also lists the properties
//! Kafka Connect or Debezium accept that pgcdc ignores on purpose (so that
//! they do not warn).
//!
//! ```text
//!  declarations.rs ──▶ lookup(name) ──▶ Props getters (default, bounds, choices) ──▶ ConnectorConfig
//!        │
//!        ├──────────▶ validate.rs (definitions, defaults, groups)
//!        └──────────▶ markdown() ──▶ README.md (checked by a test)
//! ```

pub use crate::config::declarations::{GROUPS, PATTERNS, PROPERTIES, TRANSFORM_PROPERTIES};

/// Type of a property, as Kafka's `ConfigDef.Type` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropertyType {
    String,
    Int,
    Long,
    Short,
    Boolean,
    List,
    Password,
    Class,
}

impl PropertyType {
    /// Kafka's name of the type (`STRING`, `INT`, …).
    pub fn name(self) -> &'static str {
        match self {
            PropertyType::String => "STRING",
            PropertyType::Int => "INT",
            PropertyType::Long => "LONG",
            PropertyType::Short => "SHORT",
            PropertyType::Boolean => "BOOLEAN",
            PropertyType::List => "LIST",
            PropertyType::Password => "PASSWORD",
            PropertyType::Class => "CLASS",
        }
    }
}

/// A property's default, typed so that the parser's getters use it as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultValue {
    /// No default (unset).
    None,
    Str(&'static str),
    Int(i64),
    Bool(bool),
}

impl DefaultValue {
    /// As Kafka Connect shows it (`default_value`).
    pub fn render(self) -> Option<String> {
        match self {
            DefaultValue::None => None,
            DefaultValue::Str(s) => Some(s.to_owned()),
            DefaultValue::Int(n) => Some(n.to_string()),
            DefaultValue::Bool(b) => Some(b.to_string()),
        }
    }
}

/// How a property's value is read and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Text, trimmed; blank counts as unset.
    Text,
    /// `true` or `false` (any case).
    Bool,
    /// An integer within `min..=max`.
    Int { min: i64, max: i64 },
    /// One of these values (any case).
    Choice(&'static [&'static str]),
    /// Comma-separated regular expressions, each matching a whole name, case-insensitively.
    Regexes,
    /// A comma-separated list.
    List,
    /// Read by dedicated code; the documentation says what is accepted.
    Custom,
    /// Accepted and without effect.
    NoEffect,
}

impl Check {
    /// What values are accepted, for the README.
    pub fn describe(self) -> String {
        match self {
            Check::Text | Check::Custom => String::new(),
            Check::Bool => "true, false".to_owned(),
            Check::Int { min, max } => format!("{min} to {max}"),
            Check::Choice(values) => values.join(", "),
            Check::Regexes => "regular expressions".to_owned(),
            Check::List => "comma-separated list".to_owned(),
            Check::NoEffect => "no effect".to_owned(),
        }
    }
}

/// The declaration of one connector property.
#[derive(Clone, Copy, Debug)]
pub struct PropertyDef {
    /// The name; in [`PATTERNS`] and [`TRANSFORM_PROPERTIES`] `<…>` stands for a part the user chooses.
    pub name: &'static str,
    pub kind: PropertyType,
    pub default: DefaultValue,
    pub required: bool,
    pub group: &'static str,
    pub documentation: &'static str,
    pub check: Check,
}

/// The declaration of `name`, if it is in [`PROPERTIES`] (the properties the
/// REST API lists by name).
pub fn find(name: &str) -> Option<&'static PropertyDef> {
    PROPERTIES.iter().find(|d| d.name == name)
}

/// The declaration that covers `name`: [`PROPERTIES`] by name, then
/// `transforms.<alias>.<property>` in [`TRANSFORM_PROPERTIES`], then the
/// families of [`PATTERNS`] by their fixed prefix (the longest that matches).
pub fn lookup(name: &str) -> Option<&'static PropertyDef> {
    if let Some(d) = find(name) {
        return Some(d);
    }
    if let Some(rest) = name.strip_prefix("transforms.") {
        let (alias, property) = rest.split_once('.')?;
        if alias.is_empty() {
            return None;
        }
        return TRANSFORM_PROPERTIES.iter().find(|d| d.name.strip_prefix("transforms.<alias>.") == Some(property));
    }
    PATTERNS
        .iter()
        .filter(|d| name.starts_with(pattern_prefix(d.name)) && name.len() > pattern_prefix(d.name).len())
        .max_by_key(|d| pattern_prefix(d.name).len())
}

/// The fixed part of a pattern's name, before its first `<` or `[`.
fn pattern_prefix(name: &str) -> &str {
    name.find(['<', '[']).map_or(name, |i| &name[..i])
}

/// The README's property table: every declaration, grouped.
pub fn markdown() -> String {
    let mut out = String::from("| property | type | default | accepted | description |\n| --- | --- | --- | --- | --- |\n");
    let cell = |s: &str| s.replace('|', "\\|");
    let all = PROPERTIES.iter().chain(PATTERNS).chain(TRANSFORM_PROPERTIES);
    let mut groups: Vec<&str> = Vec::new();
    for d in all.clone() {
        if !groups.contains(&d.group) {
            groups.push(d.group);
        }
    }
    for group in groups {
        out.push_str(&format!("| **{group}** | | | | |\n"));
        for d in all.clone().filter(|d| d.group == group) {
            let default = match (d.required, d.default.render()) {
                (true, _) => "required".to_owned(),
                (false, Some(v)) if v.is_empty() => "\"\"".to_owned(),
                (false, Some(v)) => format!("`{}`", cell(&v)),
                (false, None) => String::new(),
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                d.name,
                d.kind.name(),
                default,
                cell(&d.check.describe()),
                cell(d.documentation)
            ));
        }
    }
    out
}

/// Properties Kafka Connect or Debezium accept that pgcdc deliberately ignores.
const IGNORED: &[&str] = &[
    "tasks.max",
    "header.converter",
    "config.action.reload",
    "topic.creation.groups",
    "topic.creation.enable",
    "exactly.once.support",
    "transaction.boundary",
    "transaction.boundary.interval.ms",
    "offsets.storage.topic",
    "predicates",
    "poll.interval.ms",
    "max.batch.size",
    "max.queue.size",
    "max.queue.size.in.bytes",
    "status.update.interval.ms",
    "slot.max.retries",
    "slot.retry.delay.ms",
    "slot.stream.params",
    "database.tcpKeepAlive",
    "database.initial.statements",
    "sanitize.field.names",
    "event.processing.failure.handling.mode",
    "custom.metric.tags",
    "xmin.fetch.interval.ms",
    "flush.lsn.source",
    "include.schema.comments",
    "lsn.flush.timeout.ms",
    "lsn.flush.timeout.action",
];

/// Prefixes of ignored properties.
const IGNORED_PREFIXES: &[&str] = &[
    "errors.",
    "heartbeat.",
    "predicates.",
    "snapshot.",
    "signal.",
    "notification.",
    "incremental.snapshot.",
    "producer.override.",
    "consumer.override.",
    "admin.override.",
    "header.converter.",
    "key.converter.",
    "value.converter.",
    "schema.history.",
    "database.history",
    "offset.",
    "topic.creation.",
    "internal.",
];

/// Whether `name` is a property pgcdc ignores without a warning.
pub fn is_ignored(name: &str) -> bool {
    IGNORED.contains(&name) || IGNORED_PREFIXES.iter().any(|p| name.starts_with(p))
}

pub use crate::config::secrets::is_secret;
