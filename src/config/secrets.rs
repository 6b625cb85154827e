//! What is a secret, and how it is shown: the one list every REST answer,
//! log line and error message goes through.
//!
//! A property is a secret by its name ([`is_secret`]); a schema registry URL
//! (`*.schema.registry.url`, a comma-separated list) is not, but the password
//! in its user info is ([`mask_value`]). Values that config providers resolve
//! to are secrets too: they never leave [`crate::config::properties`].

use std::collections::BTreeMap;

use crate::config::definitions::{self, PropertyType};

/// What a secret's value is replaced with in every response (Connect's `Password.HIDDEN`).
pub const HIDDEN: &str = "[hidden]";

/// Suffix of the properties that hold schema registry URLs.
const REGISTRY_URL_SUFFIX: &str = "schema.registry.url";

/// Whether the whole value of `name` is a secret (never returned by the REST API, never logged).
pub fn is_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    definitions::find(name).is_some_and(|d| d.kind == PropertyType::Password)
        || lower.ends_with("password")
        || lower.contains("secret")
        || lower.ends_with("basic.auth.user.info")
        || lower.ends_with("bearer.auth.token")
        || lower.ends_with("sasl.jaas.config")
        || lower.ends_with(".key.password")
        || lower.ends_with("ssl.key.pem")
        || lower.ends_with("sasl.oauthbearer.config")
        || lower.ends_with("sasl.oauthbearer.token")
}

/// `value` of `name` as it may be shown: [`HIDDEN`] for a secret, the
/// user-info password of every URL of a `*.schema.registry.url` replaced by
/// [`HIDDEN`], anything else as it is.
pub fn mask_value(name: &str, value: &str) -> String {
    if is_secret(name) {
        HIDDEN.to_owned()
    } else if name.to_ascii_lowercase().ends_with(REGISTRY_URL_SUFFIX) {
        mask_url_list(value)
    } else {
        value.to_owned()
    }
}

/// `config` with every value passed through [`mask_value`].
pub fn masked(config: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    config.iter().map(|(k, v)| (k.clone(), mask_value(k, v))).collect()
}

/// The value to store for `name` when a client sends `given` back and the
/// current value is `current`: a masked value sent back unchanged keeps the
/// current one (so a config read from the API can be PUT back).
pub fn unmask<'a>(name: &str, given: &'a str, current: Option<&'a str>) -> Option<&'a str> {
    match current {
        Some(current) if given != current && mask_value(name, current) == given => Some(current),
        _ => None,
    }
}

/// Whether `given` is a masked value that needs a current value to stand for.
pub fn is_masked_placeholder(name: &str, given: &str) -> bool {
    (given == HIDDEN && is_secret(name)) || (!is_secret(name) && mask_value(name, given) == given && has_masked_password(given))
}

fn has_masked_password(value: &str) -> bool {
    value.split(',').any(|entry| user_info(entry).is_some_and(|(_, pw)| pw == HIDDEN))
}

/// Each comma-separated URL with the password of its user info hidden.
pub fn mask_url_list(value: &str) -> String {
    value.split(',').map(mask_url).collect::<Vec<_>>().join(",")
}

/// `url` with the password of its user info (`scheme://user:PASSWORD@host`) hidden.
pub fn mask_url(url: &str) -> String {
    match user_info(url) {
        Some((at, password)) => {
            let start = at - password.len();
            format!("{}{HIDDEN}{}", &url[..start], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// `(index of '@', password)` of a URL's user info that has a `:`.
fn user_info(url: &str) -> Option<(usize, &str)> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
    let at = start + url[start..authority_end].rfind('@')?;
    let info = &url[start..at];
    let (_, password) = info.split_once(':')?;
    Some((at, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_url_passwords_are_masked_in_lists() {
        let v = " http://u:p%40ss@reg1:8081/ ,https://v:pw2@reg2/x?y=1,http://plain:8081,http://only@host";
        let m = mask_value("value.converter.schema.registry.url", v);
        assert_eq!(m, " http://u:[hidden]@reg1:8081/ ,https://v:[hidden]@reg2/x?y=1,http://plain:8081,http://only@host");
        assert_eq!(mask_value("key.converter.schema.registry.url", "u:pw@reg:8081"), "u:[hidden]@reg:8081");
        assert_eq!(mask_value("topic.prefix", "http://u:pw@x"), "http://u:pw@x");
    }

    #[test]
    fn secrets_by_name_and_type() {
        for name in [
            "database.password",
            "database.sslpassword",
            "value.converter.basic.auth.user.info",
            "x.secret.y",
            "sasl.jaas.config",
            "sasl.password",
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.key.pem",
            "sasl.oauthbearer.client.secret",
        ] {
            assert_eq!(mask_value(name, "v"), HIDDEN, "{name}");
        }
        assert_eq!(mask_value("database.user", "alice"), "alice");
    }

    #[test]
    fn a_masked_value_sent_back_keeps_the_current_one() {
        let key = "value.converter.schema.registry.url";
        let current = "http://u:pw@reg:8081";
        assert_eq!(unmask(key, "http://u:[hidden]@reg:8081", Some(current)), Some(current));
        assert_eq!(unmask(key, "http://u:new@reg:8081", Some(current)), None);
        assert_eq!(unmask("database.password", HIDDEN, Some("old")), Some("old"));
        assert!(is_masked_placeholder(key, "http://u:[hidden]@reg:8081"));
        assert!(is_masked_placeholder("database.password", HIDDEN));
        assert!(!is_masked_placeholder(key, "http://u:pw@reg:8081"));
    }
}
