//! A client of Confluent's Schema Registry REST API: the calls the
//! AvroConverter makes, with a schema → id cache per subject.
//!
//! ```text
//!   register   POST /subjects/{subject}/versions   {"schema": "<avro json>"}  → {"id": N}
//!   lookup     POST /subjects/{subject}            {"schema": …}              → {"id", "version", …}   (auto.register.schemas=false)
//!   latest     GET  /subjects/{subject}/versions/latest                       → {"id", "version", "schema"} (use.latest.version)
//!   errors     {"error_code": 40401|40403|409|42201|50001…, "message": "…"}
//! ```
//!
//! `schema.registry.url` may list several registries: a request that cannot
//! reach one tries the next (as Confluent's `RestService` does). Credentials
//! are HTTP basic auth or a static bearer token (never both); `https://`
//! URLs are checked against `schema.registry.ssl.truststore.location` (PEM)
//! or the system roots, with an optional client certificate
//! ([`super::registry_tls`]). A certificate the client cannot trust, or one
//! the registry refuses, is fatal and names the setting to fix: retrying
//! cannot change it. Nothing here
//! sleeps or loops: a registry that stays unreachable is a transient error
//! for the connector's supervisor, which restarts the task with backoff.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;

use super::registry_tls::RegistryTls;
use crate::secret::Secret;
use crate::error::{Classify, ErrorClass};

/// Content type of the registry's API.
const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
/// Connect and read timeout of one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the registry is and how to log in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistryConfig {
    /// `schema.registry.url`, comma-separated, without trailing slashes.
    pub urls: Vec<String>,
    /// `basic.auth.user.info` (`user:password`) when
    /// `basic.auth.credentials.source=USER_INFO`, or the user info of the URL
    /// with the default source `URL`.
    pub basic_auth: Option<Secret>,
    /// `bearer.auth.token` with `bearer.auth.credentials.source=STATIC_TOKEN`:
    /// sent as `Authorization: Bearer <token>`.
    pub bearer_token: Option<Secret>,
    /// `schema.registry.ssl.*`.
    pub tls: RegistryTls,
}

/// A failed registry call.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach the schema registry at {url} ({property}.schema.registry.url); is it running?")]
    Unreachable {
        property: &'static str,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the schema registry refused the credentials (HTTP {status}) for subject {subject:?}: check {property}.{setting}")]
    Unauthorized {
        property: &'static str,
        subject: String,
        status: u16,
        /// The setting that holds the credentials sent (or that would).
        setting: &'static str,
    },
    #[error("the schema registry's TLS settings cannot be used: {property}.schema.registry.{setting}: {detail}")]
    TlsSetup { property: &'static str, setting: &'static str, detail: String },
    #[error("TLS with the schema registry at {url} failed: check {property}.schema.registry.ssl.truststore.location (PEM CA certificates that signed the registry's certificate, whose names must include the URL's host; the system roots when unset) and, if the registry asks for a client certificate, {property}.schema.registry.ssl.keystore.location")]
    Tls {
        property: &'static str,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("subject {subject:?}: the new schema is incompatible with an earlier version, and the subject's compatibility level refuses it (registry: {message}); make the change compatible, or change the subject's compatibility (PUT /config/{subject})")]
    Incompatible { subject: String, message: String },
    #[error("subject {subject:?}: the registry refused the schema as invalid (error {code}: {message})")]
    Invalid { subject: String, code: i64, message: String },
    #[error("subject {subject:?} has no version with this schema and {property}.auto.register.schemas=false: register the schema first or set auto.register.schemas=true (registry: {message})")]
    NotRegistered { property: &'static str, subject: String, message: String },
    #[error("subject {subject:?}: {property}.use.latest.version=true but the latest version's schema is not the record's schema; register the record's schema as the latest version or turn use.latest.version off")]
    LatestDiffers { property: &'static str, subject: String },
    #[error("the schema registry answered HTTP {status} (error {code}) for subject {subject:?}: {message}")]
    Server { subject: String, status: u16, code: i64, message: String },
    #[error("the schema registry at {url} sent an answer that is not the registry API's: {detail}")]
    BadResponse { url: String, detail: String },
}

impl Classify for RegistryError {
    fn class(&self) -> ErrorClass {
        match self {
            RegistryError::Unreachable { .. } => ErrorClass::Transient,
            RegistryError::Server { status, .. } if *status >= 500 || *status == 429 || *status == 408 => ErrorClass::Transient,
            RegistryError::Incompatible { .. } | RegistryError::Invalid { .. } => ErrorClass::Data,
            RegistryError::NotRegistered { .. } | RegistryError::LatestDiffers { .. } => ErrorClass::Data,
            RegistryError::BadResponse { .. } => ErrorClass::Transient,
            RegistryError::Unauthorized { .. } | RegistryError::Server { .. } => ErrorClass::Fatal,
            RegistryError::TlsSetup { .. } | RegistryError::Tls { .. } => ErrorClass::Fatal,
        }
    }
}

#[derive(Deserialize)]
struct IdResponse {
    id: u32,
}

#[derive(Deserialize)]
struct VersionResponse {
    id: u32,
    schema: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error_code: Option<i64>,
    message: Option<String>,
}

/// One converter's registry client (Confluent's `CachedSchemaRegistryClient`).
#[derive(Debug)]
pub struct RegistryClient {
    config: RegistryConfig,
    /// `key.converter` / `value.converter`, for messages.
    property: &'static str,
    /// The HTTP client, or why the TLS settings cannot make one (`setting`, detail).
    http: Result<reqwest::Client, (&'static str, String)>,
    /// subject → schema text → id.
    ids: Mutex<HashMap<String, HashMap<String, u32>>>,
}

impl RegistryClient {
    /// A client of `config.urls`; TLS settings that cannot be used (a file
    /// missing or without PEM) make every call fail with
    /// [`RegistryError::TlsSetup`].
    pub fn new(config: RegistryConfig, property: &'static str) -> Self {
        let builder = reqwest::Client::builder().connect_timeout(REQUEST_TIMEOUT).timeout(REQUEST_TIMEOUT);
        let http = if config.tls.is_custom() {
            super::registry_tls::client_config(&config.tls)
                .map_err(|e| (e.setting, e.detail))
                .and_then(|tls| builder.use_preconfigured_tls(tls).build().map_err(|e| ("ssl.truststore.location", e.to_string())))
        } else {
            Ok(builder.build().unwrap_or_default())
        };
        RegistryClient { config, property, http, ids: Mutex::new(HashMap::new()) }
    }

    /// The setting whose credentials a 401/403 refused.
    fn credentials_setting(&self) -> &'static str {
        match (&self.config.bearer_token, &self.config.basic_auth) {
            (Some(_), _) => "bearer.auth.token",
            (None, Some(_)) => "basic.auth.user.info",
            (None, None) => "basic.auth.user.info (or bearer.auth.token)",
        }
    }

    /// The id of `schema` under `subject`: registered (a new version when the
    /// subject does not hold it yet) when `auto_register`, else looked up.
    pub async fn id(&self, subject: &str, schema: &str, auto_register: bool) -> Result<u32, RegistryError> {
        if let Some(id) = self.ids.lock().await.get(subject).and_then(|m| m.get(schema)) {
            return Ok(*id);
        }
        let body = serde_json::json!({ "schema": schema });
        let id = if auto_register {
            let path = format!("/subjects/{}/versions", encode_segment(subject));
            let r: IdResponse = self.call(reqwest::Method::POST, &path, Some(&body), subject).await?;
            r.id
        } else {
            let path = format!("/subjects/{}", encode_segment(subject));
            let r: IdResponse = self.call(reqwest::Method::POST, &path, Some(&body), subject).await?;
            r.id
        };
        self.ids.lock().await.entry(subject.to_owned()).or_default().insert(schema.to_owned(), id);
        Ok(id)
    }

    /// `use.latest.version`: the id of the subject's latest version, which
    /// must hold `schema` (compared as parsed JSON).
    pub async fn latest_id(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let path = format!("/subjects/{}/versions/latest", encode_segment(subject));
        let latest: VersionResponse = self.call(reqwest::Method::GET, &path, None, subject).await?;
        let same = match (serde_json::from_str::<serde_json::Value>(&latest.schema), serde_json::from_str::<serde_json::Value>(schema)) {
            (Ok(a), Ok(b)) => a == b,
            _ => latest.schema == schema,
        };
        if !same {
            return Err(RegistryError::LatestDiffers { property: self.property, subject: subject.to_owned() });
        }
        Ok(latest.id)
    }

    /// The schema registered under `id` (`GET /schemas/ids/{id}`), as its text.
    pub async fn schema_by_id(&self, id: u32) -> Result<String, RegistryError> {
        #[derive(Deserialize)]
        struct SchemaResponse {
            schema: String,
        }
        let r: SchemaResponse = self.call(reqwest::Method::GET, &format!("/schemas/ids/{id}"), None, &format!("schema id {id}")).await?;
        Ok(r.schema)
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
        subject: &str,
    ) -> Result<T, RegistryError> {
        let http = self.http.as_ref().map_err(|(setting, detail)| RegistryError::TlsSetup {
            property: self.property,
            setting,
            detail: detail.clone(),
        })?;
        let mut last_err = None;
        for base in &self.config.urls {
            let url = format!("{base}{path}");
            let mut req = http.request(method.clone(), &url).header(reqwest::header::ACCEPT, CONTENT_TYPE);
            if let Some(token) = &self.config.bearer_token {
                req = req.bearer_auth(token.expose());
            } else if let Some(auth) = &self.config.basic_auth {
                let (user, pass) = auth.expose().split_once(':').unwrap_or((auth.expose(), ""));
                req = req.basic_auth(user, Some(pass));
            }
            if let Some(body) = body {
                req = req.header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE).body(body.to_string());
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if is_tls_failure(&e) => {
                    tracing::warn!(url = %base, error = %e, "schema registry TLS handshake failed");
                    last_err = Some(RegistryError::Tls { property: self.property, url: base.clone(), source: e });
                    continue;
                }
                Err(e) => {
                    tracing::warn!(url = %base, error = %e, "schema registry unreachable");
                    last_err = Some(RegistryError::Unreachable { property: self.property, url: base.clone(), source: e });
                    continue;
                }
            };
            let status = resp.status().as_u16();
            let text = resp.text().await.map_err(|e| RegistryError::Unreachable { property: self.property, url: base.clone(), source: e })?;
            if (200..300).contains(&status) {
                return serde_json::from_str(&text).map_err(|e| RegistryError::BadResponse { url: base.clone(), detail: e.to_string() });
            }
            let err: ErrorBody = serde_json::from_str(&text).unwrap_or(ErrorBody { error_code: None, message: None });
            let code = err.error_code.unwrap_or(i64::from(status));
            let message = err.message.unwrap_or_else(|| text.chars().take(200).collect());
            let subject = subject.to_owned();
            return Err(match (status, code) {
                (401 | 403, _) => {
                    RegistryError::Unauthorized { property: self.property, subject, status, setting: self.credentials_setting() }
                }
                (409, _) => RegistryError::Incompatible { subject, message },
                (422, _) => RegistryError::Invalid { subject, code, message },
                (404, 40401 | 40403) => RegistryError::NotRegistered { property: self.property, subject, message },
                _ => RegistryError::Server { subject, status, code, message },
            });
        }
        Err(last_err.unwrap_or_else(|| RegistryError::BadResponse { url: String::new(), detail: "no schema.registry.url".into() }))
    }
}

/// Whether a failed request failed in the TLS handshake (rustls refused the
/// registry's certificate, or the registry refused ours): somewhere in the
/// error's chain is a `rustls::Error`, possibly inside `io::Error`s (whose
/// `source()` skips the error they wrap).
fn is_tls_failure(err: &reqwest::Error) -> bool {
    fn is_rustls(e: &(dyn std::error::Error + 'static)) -> bool {
        if e.is::<rustls::Error>() {
            return true;
        }
        match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => is_rustls(inner),
            None => false,
        }
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if is_rustls(e) {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Percent-encode one URL path segment (RFC 3986 unreserved characters stay).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_one_path_segment() {
        assert_eq!(encode_segment("shop.public.orders-value"), "shop.public.orders-value");
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn classes_follow_the_error() {
        let incompatible = RegistryError::Incompatible { subject: "t-value".into(), message: "m".into() };
        assert_eq!(incompatible.class(), ErrorClass::Data);
        assert!(incompatible.to_string().contains("\"t-value\""));
        assert!(incompatible.to_string().contains("compatibility level"));
        let busy = RegistryError::Server { subject: "s".into(), status: 503, code: 50003, message: "m".into() };
        assert_eq!(busy.class(), ErrorClass::Transient);
        let denied = RegistryError::Unauthorized {
            property: "value.converter",
            subject: "s".into(),
            status: 401,
            setting: "basic.auth.user.info",
        };
        assert_eq!(denied.class(), ErrorClass::Fatal);
        assert!(denied.to_string().contains("value.converter.basic.auth.user.info"));
    }
}
