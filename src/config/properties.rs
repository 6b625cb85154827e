//! Reading Kafka Connect style string properties: config providers
//! (`${env:VAR}`, `${file:path:key}`), typed getters that collect every error
//! instead of stopping at the first, and tracking of which properties were
//! consumed so that the rest can be reported as unknown.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

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

/// Expands Kafka's config provider references in `value`: `${env:VAR}` and
/// `${file:path:key}` (a key of a Java properties file). A reference to any
/// other provider is left as it is, as Kafka Connect does; a reference that
/// cannot be resolved is an error (a literal `${env:X}` password would only
/// fail later, and less clearly).
pub fn expand_providers(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let reference = &after[..end];
        match resolve(reference)? {
            Some(resolved) => out.push_str(&resolved),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Resolves `provider:[path:]key`; `None` for a provider this worker does not know.
fn resolve(reference: &str) -> Result<Option<String>, String> {
    let Some((provider, rest)) = reference.split_once(':') else {
        return Ok(None);
    };
    match provider {
        "env" => std::env::var(rest)
            .map(Some)
            .map_err(|_| format!("config provider reference ${{env:{rest}}}: environment variable {rest} is not set")),
        "file" => {
            let Some((path, key)) = rest.rsplit_once(':') else {
                return Err(format!("config provider reference ${{file:{rest}}} must be ${{file:<path>:<key>}}"));
            };
            let props = read_properties_file(Path::new(path))?;
            props
                .get(key)
                .cloned()
                .map(Some)
                .ok_or_else(|| format!("config provider reference ${{file:{path}:{key}}}: key {key} not found in {path}"))
        }
        _ => Ok(None),
    }
}

/// Reads a Java properties file (`key=value`, `key: value` or `key value`;
/// `#`/`!` comments; a trailing `\` continues the line).
pub fn read_properties_file(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read properties file {}: {e}", path.display()))?;
    Ok(parse_properties(&text))
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

/// Typed reader over a connector's properties. Every getter records the
/// property as known; every failure is collected, never returned early.
pub(crate) struct Props {
    map: BTreeMap<String, String>,
    used: BTreeSet<String>,
    pub(crate) errors: Vec<ConfigIssue>,
    pub(crate) warnings: Vec<String>,
}

impl Props {
    /// Expands config providers in every value; a failed expansion is an error of that property.
    pub(crate) fn new(raw: &BTreeMap<String, String>) -> Props {
        let mut props = Props { map: BTreeMap::new(), used: BTreeSet::new(), errors: Vec::new(), warnings: Vec::new() };
        for (key, value) in raw {
            match expand_providers(value) {
                Ok(v) => {
                    props.map.insert(key.clone(), v);
                }
                Err(message) => {
                    props.used.insert(key.clone());
                    props.error(key, message);
                }
            }
        }
        props
    }

    pub(crate) fn error(&mut self, property: &str, message: impl Into<String>) {
        self.errors.push(ConfigIssue { property: property.to_owned(), message: message.into() });
    }

    pub(crate) fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(message.into());
    }

    /// The trimmed value, `None` when absent or blank. Marks the property as known.
    pub(crate) fn get(&mut self, key: &str) -> Option<String> {
        self.used.insert(key.to_owned());
        self.map.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// The value as given (not trimmed), for passwords and placeholders.
    pub(crate) fn get_raw(&mut self, key: &str) -> Option<String> {
        self.used.insert(key.to_owned());
        self.map.get(key).cloned()
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.trim().is_empty())
    }

    pub(crate) fn string_or(&mut self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or_else(|| default.to_owned())
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

    pub(crate) fn bool_or(&mut self, key: &str, default: bool) -> bool {
        match self.get(key) {
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
    pub(crate) fn int_or<T>(&mut self, key: &str, default: T, min: i64, max: i64) -> T
    where
        T: TryFrom<i64> + Copy,
    {
        let Some(v) = self.get(key) else { return default };
        match v.parse::<i64>().ok().filter(|n| (min..=max).contains(n)).and_then(|n| T::try_from(n).ok()) {
            Some(n) => n,
            None => {
                self.error(key, format!("Invalid value {v} for configuration {key}: expected an integer between {min} and {max}"));
                default
            }
        }
    }

    /// One of `choices` (case-insensitive, as Debezium's enumerated values).
    pub(crate) fn enum_or<T: Copy>(&mut self, key: &str, default: T, choices: &[(&str, T)]) -> T {
        let Some(v) = self.get(key) else { return default };
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

/// Splits a comma-separated list, trimming entries and dropping empty ones.
pub fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_provider_expands_and_missing_variable_is_an_error() {
        std::env::set_var("PGCDC_TEST_PROVIDER_VAR", "s3cret");
        assert_eq!(expand_providers("a-${env:PGCDC_TEST_PROVIDER_VAR}-b").unwrap(), "a-s3cret-b");
        let err = expand_providers("${env:PGCDC_TEST_SURELY_UNSET_VAR}").unwrap_err();
        assert!(err.contains("PGCDC_TEST_SURELY_UNSET_VAR"), "{err}");
    }

    #[test]
    fn unknown_provider_is_left_verbatim() {
        assert_eq!(expand_providers("${vault:secret/x:pw}").unwrap(), "${vault:secret/x:pw}");
        assert_eq!(expand_providers("no refs ${").unwrap(), "no refs ${");
    }

    #[test]
    fn file_provider_reads_a_properties_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.properties");
        std::fs::write(&path, "# comment\npassword = pw1\nuser: alice\nlong=a\\\n  b\n").unwrap();
        let reference = format!("${{file:{}:password}}", path.display());
        assert_eq!(expand_providers(&reference).unwrap(), "pw1");
        let props = read_properties_file(&path).unwrap();
        assert_eq!(props.get("user").map(String::as_str), Some("alice"));
        assert_eq!(props.get("long").map(String::as_str), Some("ab"));
        let missing = format!("${{file:{}:nope}}", path.display());
        assert!(expand_providers(&missing).unwrap_err().contains("nope"));
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
