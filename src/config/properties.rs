//! Reading Kafka Connect style string properties: config providers
//! (`${env:VAR}`, `${file:path:key}`, under the worker's
//! [`ProviderPolicy`]), typed getters that collect every error instead of
//! stopping at the first, and tracking of which properties were consumed so
//! that the rest can be reported as unknown.
//!
//! A value that came from a provider is a secret: an error about its
//! property shows the value as written (`${file:…}`), and any message that
//! would contain a resolved value has it replaced by `[hidden]`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use crate::config::definitions::{self, Check, DefaultValue, PropertyDef, PropertyType};
use crate::config::providers::ProviderPolicy;
use crate::config::secrets::HIDDEN;
use crate::error::{Classify, ErrorClass};

/// One problem with one property.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ConfigIssue {
    /// The property name as the user wrote it, e.g. `database.port`.
    pub property: String,
    /// What is wrong and what values are accepted.
    pub message: String,
}

/// Every problem found in a connector's properties (never empty when returned as an error).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigIssue>);

impl ConfigErrors {
    /// The issues, in the order they were found.
    pub fn issues(&self) -> &[ConfigIssue] {
        &self.0
    }

    /// The messages that concern `property`.
    pub fn for_property<'a>(&'a self, property: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |i| i.property == property).map(|i| i.message.as_str())
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connector configuration is invalid and contains {} error(s)", self.0.len())?;
        for issue in &self.0 {
            write!(f, "\n{}: {}", issue.property, issue.message)?;
        }
        Ok(())
    }
}

impl Classify for ConfigErrors {
    fn class(&self) -> ErrorClass {
        ErrorClass::Fatal
    }
}

/// Parses the text of a Java properties file.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut logical = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if logical.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!')) {
            continue;
        }
        if let Some(cont) = trimmed.strip_suffix('\\') {
            logical.push_str(cont);
            continue;
        }
        logical.push_str(trimmed);
        let entry = std::mem::take(&mut logical);
        let split = entry.find(['=', ':', ' ', '\t']);
        let (key, value) = match split {
            Some(i) => {
                let value = entry[i + 1..].trim_start();
                let value = if entry[i..].starts_with([' ', '\t']) {
                    value.strip_prefix(['=', ':']).map(str::trim_start).unwrap_or(value)
                } else {
                    value
                };
                (entry[..i].trim_end(), value)
            }
            None => (entry.as_str(), ""),
        };
        map.insert(key.to_owned(), value.to_owned());
    }
    map
}

/// Typed reader over a connector's properties. Every getter looks the
/// property up in the declarations ([`definitions::lookup`]) and takes its
/// default, bounds and choices from there; reading a property that has no
/// declaration panics in unit tests (and reads as an undeclared string
/// elsewhere). Every getter records the property as known; every failure
/// is collected, never returned early.
pub(crate) struct Props {
    map: BTreeMap<String, String>,
    used: BTreeSet<String>,
    /// Every name a getter asked for (declared or not).
    asked: BTreeSet<String>,
    /// Properties whose value came from a config provider: their value as written.
    provided: BTreeMap<String, String>,
    /// What provider references resolved to (never shown).
    resolved: Vec<String>,
    pub(crate) errors: Vec<ConfigIssue>,
    pub(crate) warnings: Vec<String>,
}

impl Props {
    /// Properties read as they are: every provider reference is refused (providers off).
    #[cfg(test)]
    pub(crate) fn new(raw: &BTreeMap<String, String>) -> Props {
        Props::with_providers(raw, &ProviderPolicy::default())
    }

    /// Expands config providers in every value under `policy`; a failed
    /// expansion is an error of that property.
    pub(crate) fn with_providers(raw: &BTreeMap<String, String>, policy: &ProviderPolicy) -> Props {
        let mut props = Props {
            map: BTreeMap::new(),
            used: BTreeSet::new(),
            asked: BTreeSet::new(),
            provided: BTreeMap::new(),
            resolved: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        for (key, value) in raw {
            match policy.expand(value) {
                Ok(None) => {
                    props.map.insert(key.clone(), value.clone());
                }
                Ok(Some(expanded)) => {
                    props.map.insert(key.clone(), expanded.value);
                    props.provided.insert(key.clone(), value.clone());
                    props.resolved.extend(expanded.resolved.into_iter().filter(|v| !v.trim().is_empty()));
                }
                Err(message) => {
                    props.used.insert(key.clone());
                    props.error(key, message);
                }
            }
        }
        props
    }

    /// Records an error of `property`. When its value came from a config
    /// provider, the message names the reference, not what it resolved to.
    pub(crate) fn error(&mut self, property: &str, message: impl Into<String>) {
        let message = match self.provided.get(property) {
            Some(written) => format!(
                "Invalid value {written} for configuration {property}: the value its config provider reference resolves to is not valid here (not shown: it is treated as a secret)"
            ),
            None => message.into(),
        };
        self.errors.push(ConfigIssue { property: property.to_owned(), message });
    }

    /// The errors and warnings, with every resolved provider value that a
    /// message might still contain (e.g. through another property) replaced by `[hidden]`.
    pub(crate) fn finish(mut self) -> (Vec<ConfigIssue>, Vec<String>) {
        let mut resolved = std::mem::take(&mut self.resolved);
        // Longest first, so that a value containing another is replaced whole.
        resolved.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let scrub = |text: &mut String| {
            for value in &resolved {
                for v in [value.as_str(), value.trim()] {
                    if text.contains(v) {
                        *text = text.replace(v, HIDDEN);
                    }
                }
            }
        };
        for issue in &mut self.errors {
            scrub(&mut issue.message);
        }
        for warning in &mut self.warnings {
            scrub(warning);
        }
        (self.errors, self.warnings)
    }

    pub(crate) fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(message.into());
    }

    /// The declaration of `key`, recording that it was asked for.
    fn declaration(&mut self, key: &str) -> &'static PropertyDef {
        self.used.insert(key.to_owned());
        self.asked.insert(key.to_owned());
        match definitions::lookup(key) {
            Some(d) => d,
            None => {
                if cfg!(test) {
                    panic!("property {key} is read but has no declaration: declare it in src/config/declarations.rs");
                }
                &UNDECLARED
            }
        }
    }

    /// The names every getter asked for so far.
    #[cfg(test)]
    pub(crate) fn asked(&self) -> &BTreeSet<String> {
        &self.asked
    }

    /// The trimmed value, `None` when absent or blank. Marks the property as known.
    pub(crate) fn get(&mut self, key: &str) -> Option<String> {
        self.declaration(key);
        self.value(key)
    }

    /// The trimmed value, `None` when absent or blank, without a look-up of
    /// the declaration (the typed getters look it up themselves).
    fn value(&mut self, key: &str) -> Option<String> {
        self.used.insert(key.to_owned());
        self.map.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// The value as given (not trimmed), for passwords and placeholders.
    pub(crate) fn get_raw(&mut self, key: &str) -> Option<String> {
        self.declaration(key);
        self.map.get(key).cloned()
    }

    /// The value of a property pgcdc does not read (no declaration needed).
    pub(crate) fn undeclared(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.trim().is_empty())
    }

    /// The declared default of `key` as text (empty without one).
    pub(crate) fn default_text(&mut self, key: &str) -> String {
        self.declaration(key).default.render().unwrap_or_default()
    }

    /// The trimmed value, else the declared default.
    pub(crate) fn text(&mut self, key: &str) -> String {
        match self.get(key) {
            Some(v) => v,
            None => self.default_text(key),
        }
    }

    /// A required string; a missing one is an error.
    pub(crate) fn required(&mut self, key: &str) -> String {
        match self.get(key) {
            Some(v) => v,
            None => {
                self.error(key, format!("Missing required configuration \"{key}\" which has no default value."));
                String::new()
            }
        }
    }

    /// A declared boolean ([`Check::Bool`]), else its default.
    pub(crate) fn flag(&mut self, key: &str) -> bool {
        let d = self.declaration(key);
        declared_as(d, d.check == Check::Bool && d.kind == PropertyType::Boolean, "a boolean");
        let default = matches!(d.default, DefaultValue::Bool(true));
        self.bool_or(key, default)
    }

    /// A declared integer ([`Check::Int`]) within its bounds, else its default.
    pub(crate) fn int<T>(&mut self, key: &str) -> T
    where
        T: TryFrom<i64> + Copy + Default,
    {
        let d = self.declaration(key);
        let (min, max) = match d.check {
            Check::Int { min, max } => (min, max),
            _ => {
                declared_as(d, false, "an integer");
                (i64::MIN, i64::MAX)
            }
        };
        let default = match d.default {
            DefaultValue::Int(n) => T::try_from(n).ok(),
            _ => None,
        };
        declared_as(d, default.is_some(), "an integer with a default that fits its type");
        self.int_or(key, default.unwrap_or_default(), min, max)
    }

    /// One of the declared choices ([`Check::Choice`]), mapped by `table`
    /// (whose names must be the declared ones), else the declared default.
    pub(crate) fn choice<T: Copy>(&mut self, key: &str, table: &[(&str, T)]) -> T {
        let d = self.declaration(key);
        let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
        declared_as(d, matches!(d.check, Check::Choice(c) if c == names.as_slice()), "these choices");
        let default = match d.default {
            DefaultValue::Str(s) => table.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)).map(|(_, t)| *t),
            _ => None,
        };
        declared_as(d, default.is_some(), "a choice with a default among its choices");
        match default.or_else(|| table.first().map(|(_, t)| *t)) {
            Some(default) => self.enum_or(key, default, table),
            None => panic!("property {key}: a choice without choices"),
        }
    }

    fn bool_or(&mut self, key: &str, default: bool) -> bool {
        match self.value(key) {
            None => default,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                self.error(key, format!("Invalid value {v} for configuration {key}: Expected value to be either true or false"));
                default
            }
        }
    }

    /// An integer within `min..=max`.
    fn int_or<T>(&mut self, key: &str, default: T, min: i64, max: i64) -> T
    where
        T: TryFrom<i64> + Copy,
    {
        let Some(v) = self.value(key) else { return default };
        match v.parse::<i64>().ok().filter(|n| (min..=max).contains(n)).and_then(|n| T::try_from(n).ok()) {
            Some(n) => n,
            None => {
                self.error(key, format!("Invalid value {v} for configuration {key}: expected an integer between {min} and {max}"));
                default
            }
        }
    }

    /// One of `choices` (case-insensitive, as Debezium's enumerated values).
    fn enum_or<T: Copy>(&mut self, key: &str, default: T, choices: &[(&str, T)]) -> T {
        let Some(v) = self.value(key) else { return default };
        match choices.iter().find(|(name, _)| name.eq_ignore_ascii_case(&v)) {
            Some((_, t)) => *t,
            None => {
                let valid: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                self.error(key, format!("Invalid value {v} for configuration {key}: must be one of {}", valid.join(", ")));
                default
            }
        }
    }

    /// A comma-separated list, entries trimmed, empty entries dropped.
    pub(crate) fn list(&mut self, key: &str) -> Vec<String> {
        self.get(key).map(|v| split_list(&v)).unwrap_or_default()
    }

    /// A declared list of regular expressions ([`Check::Regexes`]), as written (the caller compiles them).
    pub(crate) fn regexes(&mut self, key: &str) -> Vec<String> {
        let d = self.declaration(key);
        declared_as(d, d.check == Check::Regexes, "regular expressions");
        self.list(key)
    }

    /// Keys starting with `prefix`, in order.
    pub(crate) fn keys_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.map.keys().filter(|k| k.starts_with(prefix)).cloned().collect()
    }

    /// Properties no getter asked for.
    pub(crate) fn unused(&self) -> Vec<String> {
        self.map.keys().filter(|k| !self.used.contains(*k)).cloned().collect()
    }

    /// Marks `key` as known without reading it.
    pub(crate) fn mark_used(&mut self, key: &str) {
        self.used.insert(key.to_owned());
    }
}

/// What a property without a declaration reads as outside unit tests.
static UNDECLARED: PropertyDef = PropertyDef {
    name: "",
    kind: PropertyType::String,
    default: DefaultValue::None,
    required: false,
    group: "",
    documentation: "",
    check: Check::Custom,
};

/// In unit tests, a getter that does not fit its property's declaration
/// (e.g. a boolean read of an integer) panics: the declaration must say how
/// the property is read.
fn declared_as(d: &PropertyDef, fits: bool, what: &str) {
    if cfg!(test) && !fits {
        panic!("property {} is read as {what} but declared as {:?} / {:?} (src/config/declarations.rs)", d.name, d.kind, d.check);
    }
}

/// Splits a comma-separated list, trimming entries and dropping empty ones.
pub fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_file_syntax() {
        let props = parse_properties("# comment\npassword = pw1\nuser: alice\nlong=a\\\n  b\n");
        assert_eq!(props.get("password").map(String::as_str), Some("pw1"));
        assert_eq!(props.get("user").map(String::as_str), Some("alice"));
        assert_eq!(props.get("long").map(String::as_str), Some("ab"));
    }

    #[test]
    fn errors_never_show_a_resolved_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.properties");
        std::fs::write(&path, "pw = T0p-s3cret\n").unwrap();
        let policy = ProviderPolicy {
            env: None,
            file: Some(crate::config::providers::FileProvider { allowed_paths: vec![dir.path().to_owned()] }),
        };
        let reference = format!("${{file:{}:pw}}", path.display());
        let raw: BTreeMap<String, String> =
            [("mode", reference.clone()), ("flag", reference.clone())].into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let mut p = Props::with_providers(&raw, &policy);
        let _ = p.enum_or("mode", 1, &[("one", 1)]);
        assert!(p.bool_or("flag", true));
        p.error("other", "mentions T0p-s3cret through another property");
        p.warn("a warning with T0p-s3cret");
        let (errors, warnings) = p.finish();
        assert_eq!(errors.len(), 3);
        for text in errors.iter().map(|e| e.message.as_str()).chain(warnings.iter().map(String::as_str)) {
            assert!(!text.contains("T0p-s3cret"), "{text}");
        }
        assert!(errors[0].message.contains(&reference), "{}", errors[0].message);
    }

    #[test]
    fn a_disabled_provider_is_an_error_of_its_property() {
        let raw: BTreeMap<String, String> = [("database.password".to_owned(), "${env:PATH}".to_owned())].into();
        let p = Props::new(&raw);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].property, "database.password");
        assert!(p.errors[0].message.contains("[config_providers.env]"), "{}", p.errors[0].message);
    }

    #[test]
    fn getters_collect_every_error() {
        let raw: BTreeMap<String, String> =
            [("a", "maybe"), ("b", "70000"), ("c", "nah")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut p = Props::new(&raw);
        assert!(p.bool_or("a", true));
        let _: u16 = p.int_or("b", 1u16, 1, 65535);
        let _ = p.enum_or("c", 1, &[("one", 1), ("two", 2)]);
        let props: Vec<&str> = p.errors.iter().map(|e| e.property.as_str()).collect();
        assert_eq!(props, ["a", "b", "c"]);
        assert!(p.errors[2].message.contains("one, two"));
        assert!(p.errors[0].message.contains("true or false"));
    }
}
