//! SASL/OAUTHBEARER tokens: ONE source per worker configuration, shared by
//! librdkafka's clients (their token refresh callback, [`super::client::KafkaContext`])
//! and pgcdc's own protocol connection ([`super::protocol`]).
//!
//! ```text
//!   sasl.oauthbearer.token ───────────────▶ Static   (the JWT itself)
//!   sasl.oauthbearer.token.endpoint.url
//!      file:///path ──────────────────────▶ File     (re-read at each refresh: Connect's static token)
//!      https://idp/token + client id/secret ▶ ClientCredentials (POST grant_type=client_credentials,
//!                                             Basic auth, form scope; RFC 6749 section 4.4)
//!            │ token() / token_blocking()
//!            ▼
//!   cached Token { value, principal, expires_ms }: handed out while more than half
//!   its lifetime is left, fetched again after that (librdkafka asks again at 80% of
//!   the lifetime it was given, so each of its refreshes gets a new token)
//! ```
//!
//! No curl: librdkafka's own OIDC (`sasl.oauthbearer.method=oidc`) would need
//! librdkafka built with libcurl, and pgcdc's own connection would still need
//! the token; so pgcdc fetches it, once, for every connection.
//!
//! The token and the client secret never appear in an error or a log line.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;

use crate::error::{Classify, ErrorClass};
use crate::secret::Secret;

/// The lifetime given to librdkafka for a token that names no expiry (a
/// static token without `exp`): it asks again after 80% of it and gets the same token.
const NO_EXPIRY_LIFETIME: Duration = Duration::from_secs(3600);
/// How long a token endpoint may take to answer.
const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest token endpoint answer read.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Where tokens come from (its Debug hides the secrets: [`Secret`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// `sasl.oauthbearer.token`: the token itself.
    Static(Secret),
    /// `sasl.oauthbearer.token.endpoint.url=file://…`: a file holding the token.
    File(PathBuf),
    /// `sasl.oauthbearer.token.endpoint.url=https://…` with a client id and secret.
    ClientCredentials { url: String, client_id: String, client_secret: Secret, scope: Option<String> },
}

impl TokenKind {
    /// The setting a user fixes when this source's token is refused.
    pub fn setting(&self) -> &'static str {
        match self {
            TokenKind::Static(_) => "sasl.oauthbearer.token",
            TokenKind::File(_) => "sasl.oauthbearer.token.endpoint.url (the token file)",
            TokenKind::ClientCredentials { .. } => {
                "sasl.oauthbearer.token.endpoint.url and the client id and secret (sasl.jaas.config clientId/clientSecret)"
            }
        }
    }
}

/// A token and what librdkafka needs with it.
#[derive(Clone)]
pub struct Token {
    pub value: Secret,
    /// The token's `sub`, or the client id; librdkafka logs it as the principal.
    pub principal: String,
    /// When it expires, milliseconds since the Unix epoch.
    pub expires_ms: i64,
    fetched_ms: i64,
}

impl Token {
    fn fresh(&self, now_ms: i64) -> bool {
        now_ms < self.fetched_ms + (self.expires_ms - self.fetched_ms) / 2
    }
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("cannot read the OAUTHBEARER token file {path} (sasl.oauthbearer.token.endpoint.url)")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the OAUTHBEARER token from {setting} is empty or not a token")]
    Empty { setting: &'static str },
    #[error("the OAUTHBEARER token from {setting} expired at {expired} (Unix time): give a current one")]
    Expired { setting: &'static str, expired: i64 },
    #[error("cannot reach the OAuth token endpoint {url} (sasl.oauthbearer.token.endpoint.url)")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the OAuth token endpoint {url} refused the client credentials with HTTP {status}: check clientId/clientSecret in sasl.jaas.config (or sasl.oauthbearer.client.id/client.secret) and scope ({answer})")]
    Refused { url: String, status: u16, answer: String },
    #[error("the OAuth token endpoint {url} answered without an access_token (sasl.oauthbearer.token.endpoint.url)")]
    Malformed { url: String },
    #[error("no thread for the OAuth token request")]
    Thread,
}

impl Classify for OAuthError {
    fn class(&self) -> ErrorClass {
        match self {
            OAuthError::Unreachable { .. } | OAuthError::Thread => ErrorClass::Transient,
            OAuthError::Refused { status, .. } if *status >= 500 || *status == 429 => ErrorClass::Transient,
            _ => ErrorClass::Fatal,
        }
    }
}

/// One token source and its cached token.
pub struct TokenSource {
    kind: TokenKind,
    cache: Mutex<Option<Token>>,
}

impl PartialEq for TokenSource {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}
impl Eq for TokenSource {}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.kind {
            TokenKind::Static(_) => "TokenSource::Static",
            TokenKind::File(_) => "TokenSource::File",
            TokenKind::ClientCredentials { .. } => "TokenSource::ClientCredentials",
        })
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The `exp` (seconds) and `sub` claims of a JWT, when it is one.
fn jwt_claims(token: &str) -> (Option<i64>, Option<String>) {
    let Some(payload) = token.split('.').nth(1) else { return (None, None) };
    let Ok(bytes) = B64URL.decode(payload.trim_end_matches('=')) else { return (None, None) };
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return (None, None) };
    (claims["exp"].as_i64(), claims["sub"].as_str().map(str::to_owned))
}

impl TokenSource {
    pub fn new(kind: TokenKind) -> TokenSource {
        TokenSource { kind, cache: Mutex::new(None) }
    }

    pub fn kind(&self) -> &TokenKind {
        &self.kind
    }

    /// A token with more than half its lifetime left (fetched when needed).
    pub async fn token(&self) -> Result<Token, OAuthError> {
        let now = now_ms();
        if let Some(t) = self.cached(now) {
            return Ok(t);
        }
        let token = match &self.kind {
            TokenKind::Static(s) => self.parse_token(s.expose(), now)?,
            TokenKind::File(path) => {
                let text = tokio::fs::read_to_string(path).await.map_err(|source| OAuthError::File { path: path.clone(), source })?;
                self.parse_token(&text, now)?
            }
            TokenKind::ClientCredentials { url, client_id, client_secret, scope } => {
                fetch(url, client_id, client_secret, scope.as_deref(), now).await?
            }
        };
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some(token.clone());
        }
        Ok(token)
    }

    /// [`Self::token`] from a thread that may or may not be inside a tokio
    /// runtime (librdkafka's callbacks run on its polling threads, or in a
    /// consumer's `recv` on a runtime worker): a fetch runs on a thread of its own.
    pub fn token_blocking(&self) -> Result<Token, OAuthError> {
        if let Some(t) = self.cached(now_ms()) {
            return Ok(t);
        }
        std::thread::scope(|scope| {
            let fetch = scope.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|_| OAuthError::Thread)?;
                runtime.block_on(self.token())
            });
            fetch.join().unwrap_or(Err(OAuthError::Thread))
        })
    }

    fn cached(&self, now: i64) -> Option<Token> {
        self.cache.lock().ok()?.as_ref().filter(|t| t.fresh(now)).cloned()
    }

    fn parse_token(&self, text: &str, now: i64) -> Result<Token, OAuthError> {
        let setting = self.kind.setting();
        let value = text.trim();
        if value.is_empty() || value.contains(char::is_whitespace) {
            return Err(OAuthError::Empty { setting });
        }
        let (exp, sub) = jwt_claims(value);
        let expires_ms = match exp {
            Some(exp) if exp.saturating_mul(1000) <= now => return Err(OAuthError::Expired { setting, expired: exp }),
            Some(exp) => exp.saturating_mul(1000),
            None => now + i64::try_from(NO_EXPIRY_LIFETIME.as_millis()).unwrap_or(i64::MAX),
        };
        Ok(Token { value: Secret::new(value), principal: sub.unwrap_or_else(|| "pgcdc".to_owned()), expires_ms, fetched_ms: now })
    }
}

/// The client-credentials grant: the way Kafka's OAuthBearerLoginCallbackHandler asks.
async fn fetch(url: &str, client_id: &str, secret: &Secret, scope: Option<&str>, now: i64) -> Result<Token, OAuthError> {
    let unreachable = |source| OAuthError::Unreachable { url: url.to_owned(), source };
    let client = reqwest::Client::builder().connect_timeout(ENDPOINT_TIMEOUT).timeout(ENDPOINT_TIMEOUT).build().map_err(unreachable)?;
    let mut body = "grant_type=client_credentials".to_owned();
    if let Some(scope) = scope.filter(|s| !s.is_empty()) {
        body.push_str("&scope=");
        body.push_str(&form_encode(scope));
    }
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", form_encode(client_id), form_encode(secret.expose())));
    let response = client
        .post(url)
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body)
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(unreachable)?;
    let bytes = &bytes[..bytes.len().min(MAX_ANSWER_BYTES)];
    if !status.is_success() {
        // The endpoint's error (RFC 6749 section 5.2: `error`, `error_description`), never the body as such.
        let answer = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| v["error"].as_str().map(|e| e.chars().filter(|c| c.is_ascii_graphic()).take(64).collect()))
            .unwrap_or_else(|| "no OAuth error given".to_owned());
        return Err(OAuthError::Refused { url: url.to_owned(), status: status.as_u16(), answer });
    }
    let malformed = || OAuthError::Malformed { url: url.to_owned() };
    let answer: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| malformed())?;
    let value = answer["access_token"].as_str().filter(|t| !t.is_empty() && !t.contains(char::is_whitespace)).ok_or_else(malformed)?;
    let (exp, sub) = jwt_claims(value);
    let expires_ms = match (answer["expires_in"].as_i64(), exp) {
        (Some(secs), _) if secs > 0 => now + secs.saturating_mul(1000),
        (_, Some(exp)) => exp.saturating_mul(1000),
        _ => now + i64::try_from(NO_EXPIRY_LIFETIME.as_millis()).unwrap_or(i64::MAX),
    };
    Ok(Token { value: Secret::new(value), principal: sub.unwrap_or_else(|| client_id.to_owned()), expires_ms, fetched_ms: now })
}

/// `application/x-www-form-urlencoded` of one value.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!("{}.{}.sig", B64URL.encode(r#"{"alg":"none"}"#), B64URL.encode(claims))
    }

    #[tokio::test]
    async fn a_static_jwt_gives_its_expiry_and_subject_and_an_expired_one_is_refused() {
        let exp = now_ms() / 1000 + 600;
        let source = TokenSource::new(TokenKind::Static(Secret::new(format!(" {} \n", jwt(&format!(r#"{{"sub":"svc","exp":{exp}}}"#))))));
        let t = source.token().await.unwrap();
        assert_eq!((t.principal.as_str(), t.expires_ms), ("svc", exp * 1000));
        assert!(!t.value.expose().contains(' '));
        assert_eq!(source.token_blocking().unwrap().value, t.value);
        let expired = TokenSource::new(TokenKind::Static(Secret::new(jwt(r#"{"exp":1000}"#))));
        let e = expired.token().await.err().unwrap();
        assert!(e.to_string().contains("sasl.oauthbearer.token") && e.to_string().contains("expired"), "{e}");
        let opaque = TokenSource::new(TokenKind::Static(Secret::new("opaque-token"))).token_blocking().unwrap();
        assert!(opaque.expires_ms > now_ms() && opaque.principal == "pgcdc");
        assert!(TokenSource::new(TokenKind::Static(Secret::new(" "))).token_blocking().is_err());
    }

    #[test]
    fn a_token_is_fetched_again_once_half_its_lifetime_is_gone() {
        let t = Token { value: Secret::new("x"), principal: String::new(), expires_ms: 2000, fetched_ms: 1000 };
        assert!(t.fresh(1499) && !t.fresh(1500));
    }

    #[test]
    fn form_values_are_encoded() {
        assert_eq!(form_encode("a b+c/é"), "a+b%2Bc%2F%C3%A9");
    }
}
