//! Kafka Connect's spelling of the security settings, translated once into
//! librdkafka's, and the same settings parsed for pgcdc's own protocol
//! connection ([`super::protocol`]).
//!
//! ```text
//!   [kafka.options] (Connect or librdkafka names)
//!        │ resolve()
//!        ├──▶ librdkafka options: sasl.jaas.config → sasl.username/sasl.password,
//!        │    sasl.mechanism → sasl.mechanisms, PEM truststore → ssl.ca.location, …
//!        └──▶ Security { tls, sasl }: what the raw protocol connection does
//! ```
//!
//! Rules every client relies on:
//! - a setting pgcdc cannot honour is refused naming it, never dropped
//!   (JKS stores, Java-only classes, GSSAPI, OAUTHBEARER's unsecured test
//!   mode and SASL extensions, turning off certificate verification);
//! - OAUTHBEARER's settings (pgcdc's `sasl.oauthbearer.token`, Connect's
//!   `sasl.oauthbearer.token.endpoint.url` + OAuthBearerLoginModule, librdkafka's
//!   `sasl.oauthbearer.client.id`/`client.secret`/`scope`) become ONE
//!   [`TokenSource`] and are never handed to librdkafka (its clients get
//!   the tokens through their refresh callback, see [`super::oauth`]);
//! - TLS or SASL settings with a `security.protocol` that does not use them
//!   are refused: no connection silently speaks plaintext;
//! - secrets (passwords, `sasl.jaas.config`) never appear in an error.

use std::path::PathBuf;
use std::sync::Arc;

use crate::secret::Secret;

use super::oauth::{TokenKind, TokenSource};

/// A `[kafka.options]` entry pgcdc cannot honour.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("kafka.options.\"{property}\": {reason}")]
pub struct SettingError {
    /// The property to fix.
    pub property: String,
    /// What is wrong and what to do.
    pub reason: String,
}

fn refuse<T>(property: &str, reason: impl Into<String>) -> Result<T, SettingError> {
    Err(SettingError { property: property.to_owned(), reason: reason.into() })
}

/// `security.protocol`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SecurityProtocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "plaintext" => Some(Self::Plaintext),
            "ssl" => Some(Self::Ssl),
            "sasl_plaintext" => Some(Self::SaslPlaintext),
            "sasl_ssl" => Some(Self::SaslSsl),
            _ => None,
        }
    }

    fn tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    fn sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// `sasl.mechanism`: the mechanisms every connection pgcdc opens speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
    OAuthBearer,
}

impl SaslMechanism {
    /// The name on the wire (SaslHandshake) and in librdkafka.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
            Self::OAuthBearer => "OAUTHBEARER",
        }
    }
}

/// PEM material: a file, or the PEM text itself (`ssl.*.pem`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pem {
    File(PathBuf),
    Inline(Secret),
}

/// TLS of pgcdc's own connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// CAs to trust (`ssl.ca.location` / `ssl.ca.pem`); the system roots when `None`.
    pub ca: Option<Pem>,
    /// Client certificate chain (`ssl.certificate.location` / `ssl.certificate.pem`).
    pub certificate: Option<Pem>,
    /// Client private key (`ssl.key.location` / `ssl.key.pem`).
    pub key: Option<Pem>,
    /// Whether the broker's name is checked against its certificate
    /// (`ssl.endpoint.identification.algorithm`, default `https`).
    pub verify_hostname: bool,
}

/// SASL credentials of pgcdc's own connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaslSettings {
    pub mechanism: SaslMechanism,
    pub credentials: Credentials,
}

/// A user name and password (PLAIN, SCRAM), or OAUTHBEARER's token source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    Password { username: String, password: Secret },
    /// Shared by every client built from the same settings (librdkafka's and pgcdc's own).
    Token(Arc<TokenSource>),
}

impl SaslSettings {
    /// Who authenticates, for an error: the user name, or the token's setting.
    pub fn who(&self) -> String {
        match &self.credentials {
            Credentials::Password { username, .. } => username.clone(),
            Credentials::Token(source) => format!("the token of {}", source.kind().setting()),
        }
    }

    /// The OAUTHBEARER token source, if that is the mechanism.
    pub fn token_source(&self) -> Option<&Arc<TokenSource>> {
        match &self.credentials {
            Credentials::Token(source) => Some(source),
            Credentials::Password { .. } => None,
        }
    }
}

/// What pgcdc's own protocol connection does on top of TCP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Security {
    pub protocol: SecurityProtocol,
    pub tls: Option<TlsSettings>,
    pub sasl: Option<SaslSettings>,
}

/// `[kafka.options]` resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// librdkafka's names and values, in the order given.
    pub librdkafka: Vec<(String, String)>,
    pub security: Security,
}

/// Java-only properties librdkafka and pgcdc have no equivalent of.
const JAVA_ONLY: &[&str] = &[
    "ssl.protocol",
    "ssl.enabled.protocols",
    "ssl.provider",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.engine.factory.class",
    "ssl.truststore.certificates",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "sasl.login.class",
    "sasl.client.callback.handler.class",
    "security.providers",
];

const TO_PEM: &str = "librdkafka cannot read Java keystores: export the CA certificates to PEM \
                      (keytool -exportcert -rfc -keystore truststore.jks -alias CARoot > ca.pem) and set ssl.ca.location";

/// OAUTHBEARER settings pgcdc reads itself and never hands to librdkafka
/// (built without libcurl, it could not fetch tokens; see [`super::oauth`]).
const OAUTH_CONSUMED: &[&str] = &[
    "sasl.oauthbearer.token",
    "sasl.oauthbearer.token.endpoint.url",
    "sasl.oauthbearer.method",
    "sasl.oauthbearer.client.id",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.scope",
];

/// Translates Connect's names to librdkafka's and parses what pgcdc's own
/// connection needs; refuses what neither can honour, naming it.
pub fn resolve(options: &[(String, String)]) -> Result<Resolved, SettingError> {
    let get = |name: &str| lookup(options, name);
    let mut out: Vec<(String, String)> = Vec::with_capacity(options.len());
    let mut jaas: Option<Jaas> = None;
    let truststore_pem = get("ssl.truststore.type").is_some_and(|t| t.trim().eq_ignore_ascii_case("PEM"));
    for (key, value) in options {
        let v = value.trim();
        match key.as_str() {
            k if JAVA_ONLY.contains(&k) => {
                return refuse(k, "is a Java client setting with no equivalent in librdkafka or pgcdc: remove it");
            }
            "security.protocol" => {
                if SecurityProtocol::parse(v).is_none() {
                    return refuse(key, "must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL");
                }
                out.push((key.clone(), v.to_ascii_lowercase()));
            }
            "sasl.mechanism" | "sasl.mechanisms" => {
                parse_mechanism(key, v)?;
                out.push(("sasl.mechanisms".to_owned(), v.to_ascii_uppercase()));
            }
            "sasl.jaas.config" => {
                let parsed = parse_jaas(v)?;
                if let Some((username, password)) = &parsed.user {
                    out.push(("sasl.username".to_owned(), username.clone()));
                    out.push(("sasl.password".to_owned(), password.expose().to_owned()));
                }
                jaas = Some(parsed);
            }
            // OAUTHBEARER: one token source for every connection, built in security().
            k if OAUTH_CONSUMED.contains(&k) => {}
            "sasl.login.callback.handler.class" => {
                if !v.ends_with(".OAuthBearerLoginCallbackHandler") {
                    return refuse(
                        key,
                        "only Kafka's OAuthBearerLoginCallbackHandler (OAUTHBEARER with sasl.oauthbearer.token.endpoint.url) \
                         has an equivalent in pgcdc: remove it",
                    );
                }
            }
            "sasl.oauthbearer.config" | "enable.sasl.oauthbearer.unsecure.jwt" if !v.eq_ignore_ascii_case("false") => {
                return refuse(
                    key,
                    "librdkafka's unsecured JWT test mode is not for brokers that check tokens: \
                     set sasl.oauthbearer.token (a token) or sasl.oauthbearer.token.endpoint.url instead",
                );
            }
            "sasl.oauthbearer.config" | "enable.sasl.oauthbearer.unsecure.jwt" => {}
            "sasl.oauthbearer.extensions" => {
                return refuse(key, "SASL/OAUTHBEARER extensions are not supported by pgcdc yet: remove them")
            }
            "ssl.truststore.location" if truststore_pem => out.push(("ssl.ca.location".to_owned(), v.to_owned())),
            "ssl.truststore.location" => return refuse(key, TO_PEM),
            "ssl.truststore.type" => {
                if !truststore_pem && get("ssl.truststore.location").is_some() {
                    return refuse(key, TO_PEM);
                }
            }
            // A PEM truststore has no password; a JKS one is refused above.
            "ssl.truststore.password" => {}
            "ssl.keystore.type" => match v.to_ascii_uppercase().as_str() {
                "PKCS12" => {}
                "JKS" => {
                    return refuse(
                        key,
                        "librdkafka cannot read JKS keystores: convert it to PKCS#12 (keytool -importkeystore \
                         -deststoretype PKCS12) or to PEM files (ssl.certificate.location, ssl.key.location)",
                    )
                }
                _ => return refuse(key, "use ssl.certificate.location and ssl.key.location for PEM files"),
            },
            "ssl.endpoint.identification.algorithm" => match v.to_ascii_lowercase().as_str() {
                "" | "none" => out.push((key.clone(), "none".to_owned())),
                "https" => out.push((key.clone(), "https".to_owned())),
                _ => return refuse(key, "must be https (check the broker's name, the default) or empty"),
            },
            "enable.ssl.certificate.verification" if !v.eq_ignore_ascii_case("true") => {
                return refuse(key, "pgcdc always verifies the broker's certificate: give its CA in ssl.ca.location");
            }
            "compression.type" | "compression.codec" => {
                if !matches!(v.to_ascii_lowercase().as_str(), "none" | "gzip" | "snappy" | "lz4" | "zstd") {
                    return refuse(key, "must be none, gzip, snappy, lz4 or zstd");
                }
                out.push((key.clone(), v.to_ascii_lowercase()));
            }
            _ => out.push((key.clone(), value.clone())),
        }
    }
    let security = security(options, &out, jaas)?;
    Ok(Resolved { librdkafka: out, security })
}

fn parse_mechanism(key: &str, v: &str) -> Result<SaslMechanism, SettingError> {
    match v.to_ascii_uppercase().as_str() {
        "PLAIN" => Ok(SaslMechanism::Plain),
        "SCRAM-SHA-256" => Ok(SaslMechanism::ScramSha256),
        "SCRAM-SHA-512" => Ok(SaslMechanism::ScramSha512),
        "OAUTHBEARER" => Ok(SaslMechanism::OAuthBearer),
        "GSSAPI" => refuse(key, "GSSAPI (Kerberos) is not built in: use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"),
        "AWS_MSK_IAM" => refuse(key, "MSK IAM authentication is not supported: use an MSK listener with SASL/SCRAM or TLS client certificates"),
        _ => refuse(key, "must be PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"),
    }
}

/// Checks the settings together and builds what the raw connection does.
fn security(given: &[(String, String)], out: &[(String, String)], jaas: Option<Jaas>) -> Result<Security, SettingError> {
    let get = |name: &str| lookup(out, name);
    let protocol = get("security.protocol").and_then(SecurityProtocol::parse).unwrap_or_default();
    if !protocol.tls() {
        if let Some((k, _)) = given.iter().find(|(k, _)| k.starts_with("ssl.") && k != "ssl.endpoint.identification.algorithm") {
            return refuse(
                "security.protocol",
                format!("{k} is set but security.protocol is not SSL or SASL_SSL: set one of them (nothing falls back to plaintext)"),
            );
        }
    }
    let oauth_given = given.iter().find(|(k, _)| OAUTH_CONSUMED.contains(&k.as_str()) || k == "sasl.login.callback.handler.class");
    let has_credentials = get("sasl.username").is_some() || get("sasl.password").is_some() || jaas.is_some() || oauth_given.is_some();
    if !protocol.sasl() && (has_credentials || get("sasl.mechanisms").is_some()) {
        return refuse(
            "security.protocol",
            "SASL settings are given but security.protocol is not SASL_SSL or SASL_PLAINTEXT: set one of them",
        );
    }
    let tls = protocol.tls().then(|| tls_settings(out)).transpose()?;
    let sasl = if protocol.sasl() {
        let Some(mechanism) = get("sasl.mechanisms") else {
            return refuse("sasl.mechanism", "must be set with SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)");
        };
        let mechanism = parse_mechanism("sasl.mechanism", mechanism)?;
        if let Some(jaas) = &jaas {
            if !jaas.module.speaks(mechanism) {
                return refuse("sasl.jaas.config", format!("its login module does not match sasl.mechanism={}", mechanism.name()));
            }
        }
        let credentials = if mechanism == SaslMechanism::OAuthBearer {
            if get("sasl.username").is_some() || get("sasl.password").is_some() {
                return refuse("sasl.username", "OAUTHBEARER authenticates with a token, not a user name and password: remove them");
            }
            Credentials::Token(Arc::new(TokenSource::new(token_kind(given, jaas.as_ref())?)))
        } else {
            if let Some((k, _)) = oauth_given {
                return refuse(k, format!("is an OAUTHBEARER setting but sasl.mechanism={}: remove it", mechanism.name()));
            }
            let (Some(username), Some(password)) = (get("sasl.username"), get("sasl.password")) else {
                return refuse("sasl.jaas.config", "SASL needs a user name and a password: set sasl.jaas.config (or sasl.username and sasl.password)");
            };
            Credentials::Password { username: username.to_owned(), password: Secret::new(password) }
        };
        Some(SaslSettings { mechanism, credentials })
    } else {
        None
    };
    Ok(Security { protocol, tls, sasl })
}

/// Where OAUTHBEARER's tokens come from: a static token, a token file, or a
/// token endpoint with client credentials (Connect's JAAS options or librdkafka's names).
fn token_kind(given: &[(String, String)], jaas: Option<&Jaas>) -> Result<TokenKind, SettingError> {
    let get = |name: &str| lookup(given, name).map(str::trim).filter(|v| !v.is_empty());
    let jaas_option = |name: &str| jaas.and_then(|j| j.options.iter().find(|(k, _)| k == name)).map(|(_, v)| v.as_str());
    match (get("sasl.oauthbearer.token"), get("sasl.oauthbearer.token.endpoint.url")) {
        (Some(_), Some(_)) => refuse(
            "sasl.oauthbearer.token",
            "give either a static token (sasl.oauthbearer.token) or a token endpoint (sasl.oauthbearer.token.endpoint.url), not both",
        ),
        (Some(token), None) => Ok(TokenKind::Static(Secret::new(token))),
        (None, Some(url)) if url.starts_with("file://") => {
            Ok(TokenKind::File(PathBuf::from(url.trim_start_matches("file://").trim_start_matches("localhost"))))
        }
        (None, Some(url)) if url.starts_with("https://") || url.starts_with("http://") => {
            let client_id = jaas_option("clientId").or_else(|| get("sasl.oauthbearer.client.id"));
            let client_secret = jaas_option("clientSecret").or_else(|| get("sasl.oauthbearer.client.secret"));
            let (Some(client_id), Some(client_secret)) = (client_id, client_secret) else {
                return refuse(
                    "sasl.jaas.config",
                    "a token endpoint needs client credentials: clientId=\"…\" clientSecret=\"…\" in sasl.jaas.config \
                     (or sasl.oauthbearer.client.id and sasl.oauthbearer.client.secret)",
                );
            };
            let scope = jaas_option("scope").or_else(|| get("sasl.oauthbearer.scope")).map(str::to_owned);
            Ok(TokenKind::ClientCredentials {
                url: url.to_owned(),
                client_id: client_id.to_owned(),
                client_secret: Secret::new(client_secret),
                scope,
            })
        }
        (None, Some(_)) => refuse("sasl.oauthbearer.token.endpoint.url", "must be an https:// (or http://) token endpoint or a file:// token file"),
        (None, None) => refuse(
            "sasl.oauthbearer.token",
            "OAUTHBEARER needs a token: set sasl.oauthbearer.token (a static token, e.g. \"${env:KAFKA_TOKEN}\") or \
             sasl.oauthbearer.token.endpoint.url (a file:// token file, or an https:// endpoint with client credentials)",
        ),
    }
}

fn lookup<'a>(options: &'a [(String, String)], name: &str) -> Option<&'a str> {
    options.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn tls_settings(out: &[(String, String)]) -> Result<TlsSettings, SettingError> {
    let get = |name: &str| lookup(out, name);
    for (name, why) in [
        ("ssl.keystore.location", "pgcdc's own connection cannot read PKCS#12 yet: use ssl.certificate.location and ssl.key.location (PEM)"),
        ("ssl.key.password", "pgcdc's own connection cannot read encrypted keys yet: give an unencrypted PEM key (ssl.key.location)"),
    ] {
        if get(name).is_some() {
            return refuse(name, why);
        }
    }
    let pem = |file: &str, inline: &str| -> Result<Option<Pem>, SettingError> {
        match (get(file), get(inline)) {
            (Some(_), Some(_)) => refuse(inline, format!("give either {file} or {inline}, not both")),
            (Some(path), None) if path.trim() == "probe" => Ok(None),
            (Some(path), None) => Ok(Some(Pem::File(PathBuf::from(path.trim())))),
            (None, Some(text)) => Ok(Some(Pem::Inline(Secret::new(text)))),
            (None, None) => Ok(None),
        }
    };
    let tls = TlsSettings {
        ca: pem("ssl.ca.location", "ssl.ca.pem")?,
        certificate: pem("ssl.certificate.location", "ssl.certificate.pem")?,
        key: pem("ssl.key.location", "ssl.key.pem")?,
        verify_hostname: get("ssl.endpoint.identification.algorithm") != Some("none"),
    };
    if tls.certificate.is_some() != tls.key.is_some() {
        return refuse("ssl.key.location", "a client certificate needs both ssl.certificate.location and ssl.key.location");
    }
    Ok(tls)
}

/// A JAAS login module pgcdc understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LoginModule {
    Plain,
    Scram,
    OAuthBearer,
}

impl LoginModule {
    fn speaks(self, mechanism: SaslMechanism) -> bool {
        match self {
            LoginModule::Plain => mechanism == SaslMechanism::Plain,
            LoginModule::Scram => matches!(mechanism, SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512),
            LoginModule::OAuthBearer => mechanism == SaslMechanism::OAuthBearer,
        }
    }
}

/// `sasl.jaas.config` parsed: its module, the user (PLAIN, SCRAM) and its options.
struct Jaas {
    module: LoginModule,
    user: Option<(String, Secret)>,
    options: Vec<(String, String)>,
}

/// The OAuthBearerLoginModule options pgcdc honours (the token endpoint's client credentials).
const OAUTH_JAAS_OPTIONS: &[&str] = &["clientId", "clientSecret", "scope"];

/// `<LoginModule class> required username="…" password="…";` (OAuthBearerLoginModule: `clientId="…" clientSecret="…" scope="…"`)
fn parse_jaas(value: &str) -> Result<Jaas, SettingError> {
    const KEY: &str = "sasl.jaas.config";
    let bad = || refuse(KEY, "must read `<LoginModule> required username=\"…\" password=\"…\";`");
    let mut rest = value.trim();
    let (class, tail) = rest.split_once(char::is_whitespace).map_or((rest, ""), |(a, b)| (a, b));
    let module = match class.rsplit('.').next().unwrap_or(class) {
        "PlainLoginModule" => LoginModule::Plain,
        "ScramLoginModule" => LoginModule::Scram,
        "OAuthBearerLoginModule" => LoginModule::OAuthBearer,
        "Krb5LoginModule" => return refuse(KEY, "Krb5LoginModule (GSSAPI) is not built in: use PLAIN, SCRAM or OAUTHBEARER"),
        "IAMLoginModule" => return refuse(KEY, "MSK IAM authentication (IAMLoginModule) is not supported: use SASL/SCRAM or TLS client certificates"),
        _ => return refuse(KEY, "its login module must be PlainLoginModule, ScramLoginModule or OAuthBearerLoginModule"),
    };
    rest = tail.trim_start();
    let Some(tail) = ["required", "requisite", "sufficient", "optional"].iter().find_map(|f| rest.strip_prefix(f)) else {
        return bad();
    };
    rest = tail;
    let mut options: Vec<(String, String)> = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() || rest == ";" {
            break;
        }
        let Some((name, tail)) = rest.split_once('=') else { return bad() };
        let name = name.trim();
        let tail = tail.trim_start();
        let (val, tail) = if let Some(quoted) = tail.strip_prefix('"') {
            let mut val = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, e)) => val.push(e),
                        None => return bad(),
                    },
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => val.push(c),
                }
            }
            let Some(end) = end else { return bad() };
            (val, &quoted[end..])
        } else {
            let end = tail.find(|c: char| c.is_whitespace() || c == ';').unwrap_or(tail.len());
            (tail[..end].to_owned(), &tail[end..])
        };
        options.push((name.to_owned(), val));
        rest = tail;
    }
    let option = |name: &str| options.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if module == LoginModule::OAuthBearer {
        // Option names are not secrets; their values are never quoted.
        if let Some((name, _)) = options.iter().find(|(k, _)| !OAUTH_JAAS_OPTIONS.contains(&k.as_str())) {
            let why = if name.starts_with("unsecuredLogin") {
                format!("{name}: the unsecured JWT test mode is not for brokers that check tokens: remove it")
            } else if name.starts_with("extension_") {
                format!("{name}: SASL/OAUTHBEARER extensions are not supported by pgcdc yet: remove it")
            } else {
                format!("OAuthBearerLoginModule option {name} is not one pgcdc honours (clientId, clientSecret, scope): remove it")
            };
            return refuse(KEY, why);
        }
        return Ok(Jaas { module, user: None, options });
    }
    match (option("username"), option("password")) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Jaas { module, user: Some((u, Secret::new(p))), options: Vec::new() }),
        _ => refuse(KEY, "needs username=\"…\" and password=\"…\""),
    }
}

#[cfg(test)]
#[path = "security_tests.rs"]
mod tests;
