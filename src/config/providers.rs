//! Kafka's config providers in connector properties — `${env:NAME}` and
//! `${file:path:key}` — under the worker's own policy.
//!
//! ```text
//!   worker TOML [config_providers] ──▶ ProviderPolicy (off by default)
//!   connector property "${file:/run/secrets/db.properties:password}"
//!        └──▶ expand(): provider enabled? name/path allowlisted? ──▶ resolved value (a secret)
//! ```
//!
//! Anyone who may call the REST API may write a connector config, so a
//! provider resolves only what the operator listed (the fix of Kafka's
//! CVE-2024-31141). A resolved value is treated as a secret: messages about a
//! reference show the reference as written, never what it resolved to, and a
//! failed resolution says the same thing whether the file is missing,
//! unreadable or outside the allowed directories (the detail goes to the
//! worker's log, which outsiders do not read).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Largest file the `file` provider reads.
const MAX_PROVIDER_FILE_BYTES: u64 = 1024 * 1024;

/// `[config_providers]` of the worker configuration: which providers
/// connector properties may use. Both are off unless their section is present.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderPolicy {
    /// `[config_providers.env]`: enables `${env:NAME}` for the listed variables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<EnvProvider>,
    /// `[config_providers.file]`: enables `${file:path:key}` for files under the listed directories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileProvider>,
}

/// `[config_providers.env]`
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnvProvider {
    /// Environment variables that may be referenced; an entry ending in `*`
    /// is a prefix (`PGCDC_SECRET_*`). Must not be empty.
    pub allowed_names: Vec<String>,
}

/// `[config_providers.file]`
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileProvider {
    /// Absolute directories whose files (at any depth, after resolving
    /// symbolic links and `..`) may be referenced. Must not be empty.
    pub allowed_paths: Vec<PathBuf>,
}

impl ProviderPolicy {
    /// Checks the allowlists; `Err((field, constraint))`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let invalid = |field: &str, constraint: &str| Err((field.to_owned(), constraint.to_owned()));
        if let Some(env) = &self.env {
            if env.allowed_names.is_empty() {
                return invalid("config_providers.env.allowed_names", "must list at least one variable name (or NAME_PREFIX_*)");
            }
            let valid = |n: &str| {
                let n = n.strip_suffix('*').unwrap_or(n);
                n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            };
            if let Some(bad) = env.allowed_names.iter().find(|n| n.is_empty() || !valid(n)) {
                return invalid(
                    "config_providers.env.allowed_names",
                    &format!("{bad:?} is not a variable name (ASCII alphanumerics and '_', optionally ending in '*')"),
                );
            }
        }
        if let Some(file) = &self.file {
            if file.allowed_paths.is_empty() {
                return invalid("config_providers.file.allowed_paths", "must list at least one directory");
            }
            if let Some(bad) = file.allowed_paths.iter().find(|p| !p.is_absolute()) {
                return invalid("config_providers.file.allowed_paths", &format!("{} is not an absolute path", bad.display()));
            }
        }
        Ok(())
    }

    /// Expands every provider reference in `value`. `Ok(None)` when it has
    /// none; `Err` with a message that shows only the reference as written.
    pub fn expand(&self, value: &str) -> Result<Option<Expanded>, String> {
        expand_with(value, |provider, body, whole| self.resolve(provider, body, whole))
    }

    fn resolve(&self, provider: &str, body: &str, whole: &str) -> Result<String, String> {
        match provider {
            "env" => {
                let Some(env) = &self.env else { return Err(disabled(whole, "env", "allowed_names")) };
                let allowed = env.allowed_names.iter().any(|a| match a.strip_suffix('*') {
                    Some(prefix) => body.starts_with(prefix),
                    None => a == body,
                });
                match std::env::var(body) {
                    Ok(v) if allowed => Ok(v),
                    result => {
                        let reason = match result {
                            _ if !allowed => "not in allowed_names",
                            Err(std::env::VarError::NotUnicode(_)) => "not valid unicode",
                            _ => "not set",
                        };
                        tracing::warn!(reference = %whole, reason = %reason, "config provider reference not resolved");
                        Err(format!(
                            "config provider reference {whole} cannot be resolved: the variable is not set, or not listed in the worker's [config_providers.env] allowed_names"
                        ))
                    }
                }
            }
            "file" => {
                let Some(file) = &self.file else { return Err(disabled(whole, "file", "allowed_paths")) };
                let Some((path, key)) = body.rsplit_once(':') else {
                    return Err(format!("config provider reference {whole} must be ${{file:<path>:<key>}}"));
                };
                match read_allowed(file, Path::new(path)).and_then(|props| props.get(key).cloned().ok_or_else(|| "no such key".to_owned())) {
                    Ok(v) => Ok(v),
                    Err(reason) => {
                        tracing::warn!(reference = %whole, reason = %reason, "config provider reference not resolved");
                        Err(format!(
                            "config provider reference {whole} cannot be resolved: the file is not under the worker's [config_providers.file] allowed_paths, does not exist, cannot be read, or has no key {key}"
                        ))
                    }
                }
            }
            other => Err(format!(
                "config provider reference {whole} names the unknown provider {other}: pgcdc has the env and file providers, which the worker configuration enables in [config_providers.env] and [config_providers.file]"
            )),
        }
    }
}

/// Expands every `${provider:body}` reference in `value` with `resolve(provider, body, whole)`.
fn expand_with(
    value: &str,
    mut resolve: impl FnMut(&str, &str, &str) -> Result<String, String>,
) -> Result<Option<Expanded>, String> {
    let mut out = String::with_capacity(value.len());
    let mut resolved = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let whole = &rest[start..start + 2 + end + 1];
        match parse_reference(&after[..end]) {
            None => out.push_str(whole),
            Some((provider, body)) => {
                let v = resolve(provider, body, whole)?;
                out.push_str(&v);
                resolved.push(v);
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok((!resolved.is_empty()).then_some(Expanded { value: out, resolved }))
}

/// Expands the references of a value of the worker's own configuration (its
/// TOML file and `PGCDC_*` environment), which the operator wrote:
/// `${env:NAME}` reads any environment variable, `${file:path:key}` the key
/// of any properties file the worker's user can read (Kafka Connect's
/// FileConfigProvider in a worker config, without `allowed.paths`). No
/// allowlist applies: `[config_providers]` governs connector configs only,
/// which whoever reaches the REST API writes. The errors say why in full
/// (they go to the operator starting the worker) but never show a value.
pub(crate) fn expand_operator(value: &str) -> Result<Option<Expanded>, String> {
    expand_with(value, |provider, body, whole| match provider {
        "env" => std::env::var(body).map_err(|e| {
            let why = match e {
                std::env::VarError::NotPresent => "is not set",
                std::env::VarError::NotUnicode(_) => "is not valid unicode",
            };
            format!("{whole}: the environment variable {body} {why}")
        }),
        "file" => {
            let Some((path, key)) = body.rsplit_once(':') else {
                return Err(format!("{whole} must be ${{file:<path>:<key>}}"));
            };
            let props = read_properties(Path::new(path)).map_err(|why| format!("{whole}: {path}: {why}"))?;
            props.get(key).cloned().ok_or_else(|| format!("{whole}: {path} has no key {key}"))
        }
        other => Err(format!("{whole} names the unknown config provider {other}: the worker configuration resolves env and file")),
    })
}

/// A value with its references replaced, and what each resolved to.
#[derive(Clone, PartialEq, Eq)]
pub struct Expanded {
    pub value: String,
    /// The resolved values (secrets: never to be shown).
    pub resolved: Vec<String>,
}

impl std::fmt::Debug for Expanded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Expanded([hidden])")
    }
}

fn disabled(whole: &str, provider: &str, list: &str) -> String {
    format!(
        "config provider reference {whole} cannot be used: the {provider} provider is not enabled on this worker; \
         an operator enables it in the worker configuration with a [config_providers.{provider}] section listing {list}"
    )
}

/// `provider:body` of a reference, as Kafka's pattern `${provider:[path:]key}`;
/// `None` when the text is no reference (`${1}`, `${name}`).
fn parse_reference(inner: &str) -> Option<(&str, &str)> {
    let (provider, body) = inner.split_once(':')?;
    let is_name = !provider.is_empty() && provider.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    is_name.then_some((provider, body))
}

/// The properties of `path` if it lies under an allowed directory; the error is for the log only.
fn read_allowed(policy: &FileProvider, path: &Path) -> Result<BTreeMap<String, String>, String> {
    let real = std::fs::canonicalize(path).map_err(|e| format!("cannot resolve the path: {e}"))?;
    let allowed = policy
        .allowed_paths
        .iter()
        .filter_map(|dir| std::fs::canonicalize(dir).ok())
        .any(|dir| real.starts_with(&dir) && real != dir);
    if !allowed {
        return Err("outside allowed_paths".to_owned());
    }
    read_properties(&real)
}

/// The properties of the file at `path` (at most [`MAX_PROVIDER_FILE_BYTES`] read).
fn read_properties(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut text = String::new();
    file.take(MAX_PROVIDER_FILE_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read: {e}"))?;
    Ok(super::properties::parse_properties(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_policy(names: &[&str]) -> ProviderPolicy {
        ProviderPolicy {
            env: Some(EnvProvider { allowed_names: names.iter().map(|s| s.to_string()).collect() }),
            file: None,
        }
    }

    fn file_policy(dir: &Path) -> ProviderPolicy {
        ProviderPolicy { env: None, file: Some(FileProvider { allowed_paths: vec![dir.to_owned()] }) }
    }

    #[test]
    fn providers_are_off_by_default_and_the_error_says_how_to_enable_them() {
        let policy = ProviderPolicy::default();
        let err = policy.expand("${env:PATH}").unwrap_err();
        assert!(err.contains("${env:PATH}") && err.contains("[config_providers.env]"), "{err}");
        assert!(!err.contains(&std::env::var("PATH").unwrap()), "{err}");
        let err = policy.expand("${file:/etc/passwd:root}").unwrap_err();
        assert!(err.contains("[config_providers.file]") && err.contains("not enabled"), "{err}");
        assert!(!err.contains("/bin/"), "{err}");
    }

    #[test]
    fn unknown_provider_is_refused_and_non_references_stay() {
        let err = ProviderPolicy::default().expand("${vault:secret/x:pw}").unwrap_err();
        assert!(err.contains("unknown provider vault"), "{err}");
        assert_eq!(ProviderPolicy::default().expand("no refs ${ and ${1} ${name}").unwrap(), None);
    }

    #[test]
    fn env_provider_expands_only_allowlisted_names() {
        std::env::set_var("PGCDC_TEST_PROVIDER_VAR", "s3cret");
        std::env::set_var("PGCDC_TEST_OTHER_VAR", "other-s3cret");
        let exact = env_policy(&["PGCDC_TEST_PROVIDER_VAR"]);
        let e = exact.expand("a-${env:PGCDC_TEST_PROVIDER_VAR}-b").unwrap().unwrap();
        assert_eq!((e.value.as_str(), e.resolved.as_slice()), ("a-s3cret-b", ["s3cret".to_owned()].as_slice()));
        let refused = exact.expand("${env:PGCDC_TEST_OTHER_VAR}").unwrap_err();
        let unset = exact.expand("${env:PGCDC_TEST_SURELY_UNSET_VAR}").unwrap_err();
        assert!(!refused.contains("other-s3cret"), "{refused}");
        assert_eq!(
            refused.replace("PGCDC_TEST_OTHER_VAR", "X"),
            unset.replace("PGCDC_TEST_SURELY_UNSET_VAR", "X"),
            "not allowed and unset read the same"
        );
        let prefix = env_policy(&["PGCDC_TEST_*"]);
        assert_eq!(prefix.expand("${env:PGCDC_TEST_OTHER_VAR}").unwrap().unwrap().value, "other-s3cret");
        assert!(prefix.expand("${env:PATH}").is_err());
    }

    #[test]
    fn file_provider_reads_only_under_allowed_paths_and_errors_do_not_probe() {
        let allowed = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let secret = allowed.path().join("db.properties");
        std::fs::write(&secret, "password = pw1\n").unwrap();
        let other = outside.path().join("other.properties");
        std::fs::write(&other, "password = pw2\n").unwrap();
        let policy = file_policy(allowed.path());
        let ok = policy.expand(&format!("${{file:{}:password}}", secret.display())).unwrap().unwrap();
        assert_eq!(ok.value, "pw1");
        let escape = format!("{}/../{}/other.properties", allowed.path().display(), outside.path().display());
        let messages: Vec<String> = [
            format!("${{file:{}:password}}", other.display()),
            format!("${{file:{escape}:password}}"),
            format!("${{file:{}/missing.properties:password}}", allowed.path().display()),
            format!("${{file:{}:nope}}", secret.display()),
        ]
        .iter()
        .map(|r| policy.expand(r).unwrap_err())
        .collect();
        for m in &messages {
            assert!(!m.contains("pw1") && !m.contains("pw2"), "{m}");
            assert!(m.contains("cannot be resolved: the file is not under"), "{m}");
        }
    }

    #[test]
    fn the_operators_references_read_any_variable_and_file_and_say_why_not() {
        std::env::set_var("PGCDC_TEST_OPERATOR_VAR", "op-s3cret");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kafka.properties");
        std::fs::write(&file, "password = pw9\n").unwrap();
        let e = expand_operator(&format!("u=${{env:PGCDC_TEST_OPERATOR_VAR}} p=${{file:{}:password}}", file.display())).unwrap().unwrap();
        assert_eq!(e.value, "u=op-s3cret p=pw9");
        assert_eq!(expand_operator("plain ${1}").unwrap(), None);
        let unset = expand_operator("${env:PGCDC_TEST_SURELY_UNSET_VAR}").unwrap_err();
        assert!(unset.contains("PGCDC_TEST_SURELY_UNSET_VAR is not set"), "{unset}");
        let missing = expand_operator(&format!("${{file:{}/none.properties:k}}", dir.path().display())).unwrap_err();
        assert!(missing.contains("cannot open"), "{missing}");
        let no_key = expand_operator(&format!("${{file:{}:user}}", file.display())).unwrap_err();
        assert!(no_key.contains("has no key user") && !no_key.contains("pw9"), "{no_key}");
        assert!(expand_operator("${vault:x:y}").unwrap_err().contains("unknown config provider vault"));
    }

    #[test]
    fn validate_names_the_field() {
        assert_eq!(env_policy(&[]).validate().unwrap_err().0, "config_providers.env.allowed_names");
        assert_eq!(env_policy(&["A B"]).validate().unwrap_err().0, "config_providers.env.allowed_names");
        assert!(env_policy(&["DB_PASSWORD", "PGCDC_SECRET_*"]).validate().is_ok());
        let relative = ProviderPolicy { env: None, file: Some(FileProvider { allowed_paths: vec!["secrets".into()] }) };
        assert_eq!(relative.validate().unwrap_err().0, "config_providers.file.allowed_paths");
    }
}
