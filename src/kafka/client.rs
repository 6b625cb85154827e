//! The librdkafka client configurations of every role, from the worker's
//! `[kafka]` settings (see the module docs of [`crate::kafka`] for the order
//! in which settings apply).

use rdkafka::ClientConfig;

use super::security::{self, Resolved, Security, SettingError};

/// The worker's `[kafka]` connection settings: every client pgcdc opens
/// (librdkafka or raw protocol) starts from these.
///
/// The options are resolved once, here ([`security::resolve`]): Connect's
/// names become librdkafka's, and the raw protocol connection reads its TLS
/// and SASL settings from the same result. The worker refuses to start when
/// they cannot be resolved ([`ClientSettings::check`]); a client built from
/// settings that were never checked fails rather than connect without them.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Comma-separated `host:port` list.
    pub bootstrap_servers: String,
    /// Raw `[kafka.options]`, as given.
    pub options: Vec<(String, String)>,
    resolved: Result<Resolved, SettingError>,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The option names only: values may be secrets, and which are is
        // the configuration's business (`config::secrets`), not this module's.
        let options: Vec<&str> = self.options.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ClientSettings").field("bootstrap_servers", &self.bootstrap_servers).field("options", &options).finish()
    }
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings::new(String::new(), Vec::new())
    }
}

impl ClientSettings {
    pub fn new(bootstrap_servers: impl Into<String>, options: impl IntoIterator<Item = (String, String)>) -> Self {
        let options: Vec<(String, String)> = options.into_iter().collect();
        let resolved = security::resolve(&options);
        ClientSettings { bootstrap_servers: bootstrap_servers.into(), options, resolved }
    }

    /// Whether every option can be honoured (the first one that cannot, named).
    pub fn check(&self) -> Result<(), SettingError> {
        self.resolved.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// What pgcdc's own protocol connection does on top of TCP.
    pub(crate) fn security(&self) -> Result<&Security, SettingError> {
        self.resolved.as_ref().map(|r| &r.security).map_err(Clone::clone)
    }

    /// `bootstrap.servers` and `[kafka.options]`: an admin client as it is,
    /// the start of every other role.
    pub fn client_config(&self) -> ClientConfig {
        self.with_defaults(|_| {})
    }

    /// `bootstrap.servers`, then a role's tunable `defaults`, then
    /// `[kafka.options]` (translated to librdkafka's names), which win over
    /// the defaults.
    pub fn with_defaults(&self, defaults: impl FnOnce(&mut ClientConfig)) -> ClientConfig {
        let mut cc = ClientConfig::new();
        cc.set("bootstrap.servers", &self.bootstrap_servers);
        defaults(&mut cc);
        match &self.resolved {
            Ok(resolved) => {
                for (k, v) in &resolved.librdkafka {
                    cc.set(k, v);
                }
            }
            // Never reached from a checked worker configuration. The client
            // must not connect without the refused setting: librdkafka
            // refuses to create a client with this property, which names it.
            Err(e) => {
                cc.set(format!("pgcdc.refused.{}", e.property), "see the worker configuration");
            }
        }
        cc
    }

    /// The servers to try, in order, for a raw-protocol connection.
    pub(crate) fn servers(&self) -> impl Iterator<Item = &str> {
        self.bootstrap_servers.split(',').map(str::trim).filter(|a| !a.is_empty())
    }
}

/// Has librdkafka check each option (a name it does not know, a value it
/// rejects) without creating a client or connecting; the first one it
/// refuses, named. librdkafka's reason may quote the value: it is left out
/// when `is_secret(property)` (the configuration's one list of secrets).
pub(crate) fn check_librdkafka(options: &[(String, String)], is_secret: fn(&str) -> bool) -> Result<(), SettingError> {
    for (key, value) in options {
        let mut client = ClientConfig::new();
        client.set(key, value).set_log_level(rdkafka::config::RDKafkaLogLevel::Emerg);
        if let Err(err) = client.create_native_config() {
            let reason = match err {
                rdkafka::error::KafkaError::ClientConfig(_, desc, _, _) if !is_secret(key) => {
                    format!("rejected by librdkafka: {desc}")
                }
                _ => "rejected by librdkafka: unknown property or invalid value".to_owned(),
            };
            return Err(SettingError { property: key.clone(), reason });
        }
    }
    Ok(())
}

/// An idempotent producer: retries never duplicate or reorder a record.
pub fn idempotent(cc: &mut ClientConfig) -> &mut ClientConfig {
    cc.set("enable.idempotence", "true").set("acks", "all")
}

/// A transactional producer with `transactional_id` (a second producer with
/// the same id fences this one); a transaction may stay open `timeout_ms`.
pub fn transactional<'a>(cc: &'a mut ClientConfig, transactional_id: &str, timeout_ms: &str) -> &'a mut ClientConfig {
    idempotent(cc).set("transactional.id", transactional_id).set("transaction.timeout.ms", timeout_ms)
}

/// A consumer that is assigned its partitions (it never joins `group_id`)
/// and never commits offsets.
pub fn assigned_consumer<'a>(cc: &'a mut ClientConfig, group_id: &str) -> &'a mut ClientConfig {
    cc.set("group.id", group_id).set("enable.auto.commit", "false")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ClientSettings {
        ClientSettings::new(" a:1, b:2 ,", [("linger.ms".to_owned(), "7".to_owned()), ("client.id".to_owned(), "x".to_owned())])
    }

    #[test]
    fn options_win_over_role_defaults_but_not_over_what_the_role_needs() {
        let mut cc = settings().with_defaults(|cc| {
            cc.set("linger.ms", "50").set("compression.type", "none");
        });
        transactional(&mut cc, "g-c", "600000");
        assert_eq!(cc.get("bootstrap.servers"), Some(" a:1, b:2 ,"));
        assert_eq!(cc.get("linger.ms"), Some("7"), "[kafka.options] tune the defaults");
        assert_eq!(cc.get("compression.type"), Some("none"));
        assert_eq!(cc.get("client.id"), Some("x"));
        assert_eq!(cc.get("enable.idempotence"), Some("true"));
        assert_eq!(cc.get("transactional.id"), Some("g-c"));
        let admin = settings().client_config();
        assert_eq!(admin.get("linger.ms"), Some("7"));
        assert_eq!(admin.get("enable.idempotence"), None);
    }

    #[test]
    fn servers_are_trimmed_and_empty_entries_skipped() {
        assert_eq!(settings().servers().collect::<Vec<_>>(), ["a:1", "b:2"]);
    }
}
