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

/// What pgcdc does with a property Kafka Connect or Debezium defines that
/// pgcdc does not implement. No setting is accepted without effect unless it
/// is a pure tuning knob: those are reported by the validate endpoint and
/// logged once as "accepted, no effect in pgcdc"; a setting that would
/// change what a consumer receives or what PostgreSQL keeps is refused
/// (a 400 naming it and saying why) unless its value is what pgcdc does anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// A tuning knob without effect in pgcdc; why.
    NoEffect(&'static str),
    /// Refused unless set to one of `allowed` (any case; blank counts as
    /// unset and is allowed); why.
    Refused { allowed: &'static [&'static str], why: &'static str },
}

/// A property pgcdc does not read: its name (or, with `prefix`, the start
/// of a family of names) and what pgcdc does with it.
#[derive(Clone, Copy, Debug)]
pub struct Foreign {
    pub name: &'static str,
    pub prefix: bool,
    pub disposition: Disposition,
}

const fn no_effect(name: &'static str, why: &'static str) -> Foreign {
    Foreign { name, prefix: false, disposition: Disposition::NoEffect(why) }
}
const fn no_effect_family(name: &'static str, why: &'static str) -> Foreign {
    Foreign { name, prefix: true, disposition: Disposition::NoEffect(why) }
}
const fn refused(name: &'static str, allowed: &'static [&'static str], why: &'static str) -> Foreign {
    Foreign { name, prefix: false, disposition: Disposition::Refused { allowed, why } }
}
const fn refused_family(name: &'static str, why: &'static str) -> Foreign {
    Foreign { name, prefix: true, disposition: Disposition::Refused { allowed: &[], why } }
}

const QUEUE: &str = "pgcdc's queues are bounded by the worker's batch settings";
const METRICS: &str = "metrics carry the connector label only";

/// Every property of Kafka Connect or Debezium that pgcdc accepts without
/// reading it, or refuses; names first, then families (the longest
/// matching family wins).
pub const FOREIGN: &[Foreign] = &[
    no_effect("header.converter", "pgcdc writes header values as UTF-8 strings, as SimpleHeaderConverter does"),
    no_effect("config.action.reload", "a changed configuration always restarts the connector"),
    refused("topic.creation.groups", &[""], "topic creation groups are not implemented; use topic.creation.default.*"),
    no_effect("topic.creation.enable", "topics are created with topic.creation.default.*"),
    no_effect("exactly.once.support", "exactly-once is the worker's [kafka] delivery setting"),
    refused("transaction.boundary", &["poll"], "pgcdc's Kafka transactions always hold whole PostgreSQL transactions"),
    no_effect("transaction.boundary.interval.ms", "pgcdc's Kafka transactions always hold whole PostgreSQL transactions"),
    refused("offsets.storage.topic", &[""], "the offsets topic is the worker's setting"),
    refused("converters", &[""], "custom converters are not implemented"),
    no_effect("poll.interval.ms", QUEUE),
    no_effect("max.batch.size", QUEUE),
    no_effect("max.queue.size", QUEUE),
    no_effect("max.queue.size.in.bytes", QUEUE),
    no_effect("slot.max.retries", "a busy slot is waited for; errors.max.retries governs reconnects"),
    no_effect("slot.retry.delay.ms", "a busy slot is waited for; errors.retry.delay.* govern reconnects"),
    no_effect("database.tcpKeepAlive", "pgcdc's connections always use TCP keepalive"),
    no_effect("sanitize.field.names", "Debezium 3.6.3 no longer reads it either (removed in 2.0): names stay unchanged; field.name.adjustment.mode=avro adjusts them"),
    no_effect("custom.metric.tags", METRICS),
    no_effect("xmin.fetch.interval.ms", "pgcdc does not track the slot's xmin"),
    refused("include.schema.comments", &["false"], "column comments are not read"),
    refused("heartbeat.topics.prefix", &[""], "the old name of topic.heartbeat.prefix: use that"),
    no_effect_family("heartbeat.", "tuning of Debezium's heartbeat"),
    refused("snapshot.select.statement.overrides", &[""], "snapshot queries cannot be overridden: every row is read"),
    refused_family("snapshot.select.statement.overrides.", "snapshot queries cannot be overridden: every row is read"),
    refused("snapshot.query.mode", &["select_all"], "only select_all is implemented"),
    refused("snapshot.mode.custom.name", &[""], "custom snapshotters are not implemented"),
    no_effect_family("snapshot.", "snapshot tuning (pgcdc reads an exported snapshot without table locks)"),
    no_effect_family("signal.", "signal tuning: only the source channel (signal.data.collection) is read"),
    refused("notification.enabled.channels", &[""], "notifications are not emitted"),
    no_effect_family("notification.", "notifications are not emitted"),
    no_effect_family("incremental.snapshot.", "incremental snapshot tuning"),
    no_effect_family("consumer.override.", "a source connector has no consumer"),
    no_effect_family("admin.override.", "topics are created with the worker's admin client"),
    no_effect_family("header.converter.", "pgcdc writes header values as UTF-8 strings"),
    no_effect_family("key.converter.", "not an option of pgcdc's converters"),
    no_effect_family("value.converter.", "not an option of pgcdc's converters"),
    no_effect_family("schema.history.", "a PostgreSQL connector keeps no schema history"),
    no_effect_family("database.history", "a PostgreSQL connector keeps no schema history"),
    no_effect_family("offset.", "offsets are committed with each batch"),
    refused_family("topic.creation.", "topic creation groups are not implemented; use topic.creation.default.*"),
    no_effect_family("internal.", "internal settings of Kafka Connect"),
];

/// What pgcdc does with `name`, a property it does not read.
pub fn foreign(name: &str) -> Option<&'static Foreign> {
    FOREIGN.iter().find(|f| !f.prefix && f.name == name).or_else(|| {
        FOREIGN.iter().filter(|f| f.prefix && name.starts_with(f.name)).max_by_key(|f| f.name.len())
    })
}

/// The message for `name` = `value` that pgcdc does not implement: `Err`
/// with the refusal, `Ok(Some(_))` with the "no effect" note, `Ok(None)`
/// when `value` is what pgcdc does anyway (or `name` is not foreign).
pub fn foreign_verdict(name: &str, value: &str) -> Result<Option<String>, String> {
    match foreign(name).map(|f| f.disposition) {
        None => Ok(None),
        Some(Disposition::NoEffect(why)) => Ok(Some(format!("{name}: accepted, no effect in pgcdc ({why})"))),
        Some(Disposition::Refused { allowed, why }) => {
            let v = value.trim();
            if v.is_empty() || allowed.iter().any(|a| a.eq_ignore_ascii_case(v)) {
                Ok(None)
            } else {
                Err(format!("Invalid value {v} for configuration {name}: not supported by pgcdc: {why}"))
            }
        }
    }
}

/// The README's table of the properties pgcdc does not implement.
pub fn foreign_markdown() -> String {
    let mut out = String::from("| property | pgcdc | why |\n| --- | --- | --- |\n");
    for f in FOREIGN {
        let name = if f.prefix { format!("`{}*`", f.name) } else { format!("`{}`", f.name) };
        let (what, why) = match f.disposition {
            Disposition::NoEffect(why) => ("accepted, no effect".to_owned(), why),
            Disposition::Refused { allowed, why } => {
                let ok: Vec<String> = allowed.iter().filter(|a| !a.is_empty()).map(|a| format!("`{a}`")).collect();
                let what = if ok.is_empty() { "refused".to_owned() } else { format!("refused unless {}", ok.join(", ")) };
                (what, why)
            }
        };
        out.push_str(&format!("| {name} | {what} | {} |\n", why.replace('|', "\\|")));
    }
    out
}

pub use crate::config::secrets::is_secret;
