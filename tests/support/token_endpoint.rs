//! The tests' OAuth token endpoint (RFC 6749 section 4.4, client credentials), in-process
//! (axum on 127.0.0.1, a free port), and the check the SASL gate applies to the tokens it
//! issued.
//!
//! ```text
//!   POST /token  Authorization: Basic base64(client_id:client_secret)
//!                grant_type=client_credentials[&scope=…]
//!     ──▶ 200 {"access_token":"tok-<serial>-<nonce>","token_type":"Bearer","expires_in":<lifetime s>}
//!     ──▶ 401 {"error":"invalid_client"} for other credentials, 400 without the grant type
//!   check(token) ──▶ Some("<client id>#<serial>") while the token is issued and unexpired
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};

use super::sasl_gate::TokenCheck;

#[derive(Default)]
struct Issued {
    /// token → (principal, expiry).
    tokens: HashMap<String, (String, Instant)>,
    /// (scope, serial) of each token issued, in order.
    requests: Vec<(Option<String>, u64)>,
}

struct Endpoint {
    client_id: String,
    client_secret: String,
    lifetime: Duration,
    issued: Mutex<Issued>,
}

pub struct TokenEndpoint {
    /// `http://127.0.0.1:<port>/token`
    pub url: String,
    state: Arc<Endpoint>,
}

async fn token(State(state): State<Arc<Endpoint>>, headers: HeaderMap, body: String) -> (StatusCode, Json<Value>) {
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", state.client_id, state.client_secret));
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if auth != format!("Basic {expected}") {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"})));
    }
    let form: HashMap<&str, &str> = body.split('&').filter_map(|kv| kv.split_once('=')).collect();
    if form.get("grant_type") != Some(&"client_credentials") {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "unsupported_grant_type"})));
    }
    let mut issued = state.issued.lock().expect("issued");
    let serial = issued.requests.len() as u64 + 1;
    let value = format!("tok-{serial}-{}", std::process::id());
    let principal = format!("{}#{serial}", state.client_id);
    issued.tokens.insert(value.clone(), (principal, Instant::now() + state.lifetime));
    issued.requests.push((form.get("scope").map(|s| (*s).to_owned()), serial));
    (StatusCode::OK, Json(json!({"access_token": value, "token_type": "Bearer", "expires_in": state.lifetime.as_secs()})))
}

impl TokenEndpoint {
    /// An endpoint that issues tokens to `client_id`/`client_secret`, valid for `lifetime`.
    pub async fn start(client_id: &str, client_secret: &str, lifetime: Duration) -> TokenEndpoint {
        let state = Arc::new(Endpoint {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            lifetime,
            issued: Mutex::new(Issued::default()),
        });
        let app = Router::new().route("/token", post(token)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind token endpoint");
        let url = format!("http://{}/token", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TokenEndpoint { url, state }
    }

    /// The gate's check: `<client id>#<serial>` for an issued, unexpired token.
    pub fn check(&self) -> TokenCheck {
        let state = self.state.clone();
        Arc::new(move |token: &str| {
            let issued = state.issued.lock().ok()?;
            let (principal, expiry) = issued.tokens.get(token)?;
            (Instant::now() < *expiry).then(|| principal.clone())
        })
    }

    /// (scope, serial) of every token issued so far.
    pub fn requests(&self) -> Vec<(Option<String>, u64)> {
        self.state.issued.lock().expect("issued").requests.clone()
    }
}
