//! The librdkafka client configurations of every role, from the worker's
//! `[kafka]` settings (see the module docs of [`crate::kafka`] for the order
//! in which settings apply).

use std::sync::Arc;

use rdkafka::client::{ClientContext, OAuthToken};
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaResult;
use rdkafka::ClientConfig;

use super::oauth::TokenSource;
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

    /// The context every librdkafka client of these settings is created
    /// with: it hands out OAUTHBEARER tokens (the one [`TokenSource`]).
    pub fn context(&self) -> KafkaContext {
        let token = self.resolved.as_ref().ok().and_then(|r| r.security.sasl.as_ref()).and_then(|s| s.token_source()).cloned();
        KafkaContext { token, stats: None }
    }

    /// [`Self::create`] for a connector's producer: librdkafka's statistics
    /// (every `statistics.interval.ms`) go to `metrics` (`pgcdc_kafka_*`).
    pub fn create_with_stats<T>(&self, cc: &ClientConfig, metrics: Arc<crate::metrics::ConnectorMetrics>) -> KafkaResult<T>
    where
        T: FromClientConfigAndContext<KafkaContext> + HasClient,
    {
        let context = KafkaContext { stats: Some(metrics), ..self.context() };
        let client = T::from_config_and_context(cc, context.clone())?;
        seed_with(client.native(), &context);
        Ok(client)
    }

    /// Creates a librdkafka client of these settings from `cc` (which
    /// started from [`Self::client_config`] or [`Self::with_defaults`]),
    /// with [`Self::context`]; with OAUTHBEARER, its first token is set at
    /// once (see [`KafkaContext`]).
    pub fn create<T>(&self, cc: &ClientConfig) -> KafkaResult<T>
    where
        T: FromClientConfigAndContext<KafkaContext> + HasClient,
    {
        let context = self.context();
        let client = T::from_config_and_context(cc, context.clone())?;
        seed_with(client.native(), &context);
        Ok(client)
    }

    /// The servers to try, in order, for a raw-protocol connection.
    pub(crate) fn servers(&self) -> impl Iterator<Item = &str> {
        self.bootstrap_servers.split(',').map(str::trim).filter(|a| !a.is_empty())
    }
}

/// The librdkafka client context of every client pgcdc creates.
///
/// With OAUTHBEARER, librdkafka asks for a token through an event on the
/// client's main queue, served by whoever polls it (a producer's polling
/// thread, a consumer's `poll`/`recv`); that event is answered here, from the
/// settings' one [`TokenSource`], and asked again at 80% of the token's
/// lifetime. An admin client never polls its main queue and a consumer may
/// fetch metadata before its first poll: [`ClientSettings::create`] sets
/// the first token itself ([`seed_with`]), and an admin client's tokens are
/// kept fresh by [`keep_token_fresh`].
#[derive(Clone, Default)]
pub struct KafkaContext {
    token: Option<Arc<TokenSource>>,
    /// Where librdkafka's statistics go (`statistics.interval.ms`), for a connector's producer.
    stats: Option<Arc<crate::metrics::ConnectorMetrics>>,
}

impl KafkaContext {
    fn oauth_token(&self) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        let Some(source) = &self.token else {
            return Err("sasl.mechanism=OAUTHBEARER is not configured in [kafka.options]".into());
        };
        // The error names the setting and never the token (librdkafka reports
        // it as "Failed to acquire SASL OAUTHBEARER token: …").
        let token = source.token_blocking().map_err(|e| error_chain(&e))?;
        Ok(OAuthToken { token: token.value.expose().to_owned(), principal_name: token.principal, lifetime_ms: token.expires_ms })
    }
}

/// An error and its causes, one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl ClientContext for KafkaContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(&self, _oauthbearer_config: Option<&str>) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        self.oauth_token()
    }

    fn stats(&self, statistics: rdkafka::Statistics) {
        if let Some(m) = &self.stats {
            m.kafka.record(&statistics);
        }
    }
}

impl ConsumerContext for KafkaContext {}

/// A librdkafka client type whose native handle can be reached.
pub trait HasClient {
    fn native(&self) -> *mut rdkafka::bindings::rd_kafka_t;
}

impl HasClient for rdkafka::admin::AdminClient<KafkaContext> {
    fn native(&self) -> *mut rdkafka::bindings::rd_kafka_t {
        self.inner().native_ptr()
    }
}

impl HasClient for rdkafka::producer::FutureProducer<KafkaContext> {
    fn native(&self) -> *mut rdkafka::bindings::rd_kafka_t {
        use rdkafka::producer::Producer;
        self.client().native_ptr()
    }
}

impl HasClient for rdkafka::consumer::StreamConsumer<KafkaContext> {
    fn native(&self) -> *mut rdkafka::bindings::rd_kafka_t {
        use rdkafka::consumer::Consumer;
        self.client().native_ptr()
    }
}

impl HasClient for rdkafka::consumer::BaseConsumer<KafkaContext> {
    fn native(&self) -> *mut rdkafka::bindings::rd_kafka_t {
        use rdkafka::consumer::Consumer;
        self.client().native_ptr()
    }
}

/// How often [`keep_token_fresh`] looks at the token source.
const TOKEN_KEEPER_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// For a client whose main queue nobody polls (an admin client): sets each
/// new token of `context` on it (the source fetches one once half the
/// lifetime of the last is gone), until the client is dropped.
pub(crate) fn keep_token_fresh<T: HasClient + Send + Sync + 'static>(client: std::sync::Weak<T>, context: KafkaContext) {
    let Some(source) = context.token.clone() else { return };
    let keeper = move || {
        let mut last = None;
        loop {
            std::thread::sleep(TOKEN_KEEPER_PERIOD);
            // Holding the client alive while its token is set.
            let Some(client) = client.upgrade() else { return };
            match source.token_blocking() {
                Ok(token) if last.as_ref() != Some(&token.value) => {
                    last = Some(token.value.clone());
                    seed_with(client.native(), &context);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %error_chain(&e), "cannot refresh the kafka admin client's SASL OAUTHBEARER token"),
            }
        }
    };
    if let Err(e) = std::thread::Builder::new().name("kafka-oauth-token".into()).spawn(keeper) {
        tracing::warn!(error = %e, "cannot start the kafka admin client's OAUTHBEARER token refresh");
    }
}

/// Sets the OAUTHBEARER token of the client `native` (alive for this call)
/// now, when `context` has a token source (else nothing).
pub(crate) fn seed_with(native: *mut rdkafka::bindings::rd_kafka_t, context: &KafkaContext) {
    let ptr = native;
    if context.token.is_none() {
        return;
    }
    let message = match context.oauth_token() {
        Ok(token) => {
            let (Ok(value), Ok(principal)) = (std::ffi::CString::new(token.token), std::ffi::CString::new(token.principal_name)) else {
                return;
            };
            let mut err = [0 as std::ffi::c_char; 512];
            // SAFETY: `ptr` is a live client (borrowed from its owner for this call); the
            // strings outlive the call, which copies them; no extensions (null, 0).
            let code = unsafe {
                rdkafka::bindings::rd_kafka_oauthbearer_set_token(
                    ptr,
                    value.as_ptr(),
                    token.lifetime_ms,
                    principal.as_ptr(),
                    std::ptr::null_mut(),
                    0,
                    err.as_mut_ptr(),
                    err.len(),
                )
            };
            if code == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                return;
            }
            // SAFETY: librdkafka wrote a NUL-terminated message into `err`.
            unsafe { std::ffi::CStr::from_ptr(err.as_ptr()) }.to_string_lossy().into_owned()
        }
        Err(e) => e.to_string(),
    };
    tracing::warn!(error = %message, "cannot set the kafka client's SASL OAUTHBEARER token");
    if let Ok(message) = std::ffi::CString::new(message) {
        // SAFETY: as above; librdkafka copies the message.
        unsafe { rdkafka::bindings::rd_kafka_oauthbearer_set_token_failure(ptr, message.as_ptr()) };
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
