//! SASL of pgcdc's own protocol connection: PLAIN (RFC 4616),
//! SCRAM-SHA-256/512 (RFC 5802/7677, no channel binding, as Kafka speaks it),
//! on ring's HMAC, PBKDF2 and digests, and OAUTHBEARER (RFC 7628; the token
//! comes from [`super::oauth`]).
//!
//! ```text
//!   SaslHandshake(mechanism) ──▶ error 33: the broker does not enable it
//!   PLAIN:  SaslAuthenticate("\0user\0password") ──▶ ok | error 58
//!   SCRAM:  SaslAuthenticate(client-first "n,,n=user,r=cnonce")
//!             ◀── server-first "r=cnonce+snonce,s=salt,i=iterations"
//!           SaslAuthenticate(client-final "c=biws,r=…,p=proof")
//!             ◀── server-final "v=signature" (checked: the broker knows the password too)
//!                 or "e=invalid-proof" / "e=unknown-user": a failure, even when the
//!                 SaslAuthenticate error code says none (some brokers leave the abort to the
//!                 client and would admit a client that goes on: the connection is dropped)
//!   OAUTHBEARER: SaslAuthenticate("n,,\x01auth=Bearer <token>\x01\x01") ──▶ empty: ok
//!             ◀── error JSON ({"status":"invalid_token"}): answered with "\x01", then error 58
//! ```

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::{digest, hmac, pbkdf2, rand::SecureRandom};

use super::security::SaslMechanism;

/// Why SCRAM failed on the client side.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScramError {
    #[error("the broker's SCRAM message is malformed")]
    Malformed,
    #[error("the broker's SCRAM nonce does not extend ours")]
    Nonce,
    #[error("the broker's SCRAM signature is wrong: it does not know this password (or is not the broker)")]
    ServerSignature,
    #[error("the broker asks for {0} SCRAM iterations (at least 4096, at most 10,000,000 are accepted)")]
    Iterations(u32),
    #[error("no randomness for the SCRAM nonce")]
    Random,
    /// The broker's `e=` answer (RFC 5802 server-error): the credentials were refused.
    #[error("the broker refused the SCRAM exchange: {0}")]
    Refused(String),
}

/// The broker's `e=` attribute, when its message is a SCRAM error.
fn server_error(message: &str) -> Option<ScramError> {
    message.split(',').find_map(|p| p.strip_prefix("e=")).map(|e| ScramError::Refused(e.chars().take(64).collect()))
}

/// The PLAIN message: no authorization id, the user, the password.
pub fn plain(username: &str, password: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(username.len() + password.len() + 2);
    m.push(0);
    m.extend_from_slice(username.as_bytes());
    m.push(0);
    m.extend_from_slice(password.as_bytes());
    m
}

/// OAUTHBEARER's client initial response (RFC 7628 section 3.1): GS2 header
/// without authorization id, then `auth=Bearer <token>`, kvsep-delimited.
pub fn oauthbearer(token: &str) -> Vec<u8> {
    format!("n,,\x01auth=Bearer {token}\x01\x01").into_bytes()
}

/// One SCRAM exchange.
pub struct Scram {
    mechanism: SaslMechanism,
    password: String,
    client_first_bare: String,
    nonce: String,
}

/// The state after the server's first message.
pub struct ScramFinal {
    auth_message: String,
    server_key: hmac::Key,
}

impl Scram {
    /// Starts an exchange; returns it and the client-first message.
    pub fn start(mechanism: SaslMechanism, username: &str, password: &str) -> Result<(Scram, Vec<u8>), ScramError> {
        let mut raw = [0u8; 24];
        ring::rand::SystemRandom::new().fill(&mut raw).map_err(|_| ScramError::Random)?;
        Ok(Scram::with_nonce(mechanism, username, password, B64.encode(raw)))
    }

    fn with_nonce(mechanism: SaslMechanism, username: &str, password: &str, nonce: String) -> (Scram, Vec<u8>) {
        let user = username.replace('=', "=3D").replace(',', "=2C");
        let client_first_bare = format!("n={user},r={nonce}");
        let first = format!("n,,{client_first_bare}");
        (Scram { mechanism, password: password.to_owned(), client_first_bare, nonce }, first.into_bytes())
    }

    /// Answers the server-first message with the client-final message.
    pub fn respond(self, server_first: &[u8]) -> Result<(ScramFinal, Vec<u8>), ScramError> {
        let server_first = std::str::from_utf8(server_first).map_err(|_| ScramError::Malformed)?;
        if let Some(refused) = server_error(server_first) {
            return Err(refused);
        }
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for part in server_first.split(',') {
            match part.split_at_checked(2) {
                Some(("r=", v)) => nonce = Some(v),
                Some(("s=", v)) => salt = Some(B64.decode(v).map_err(|_| ScramError::Malformed)?),
                Some(("i=", v)) => iterations = Some(v.parse::<u32>().map_err(|_| ScramError::Malformed)?),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(ScramError::Malformed);
        };
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(ScramError::Nonce);
        }
        let Some(rounds) = std::num::NonZeroU32::new(iterations).filter(|_| (4096..=10_000_000).contains(&iterations)) else {
            return Err(ScramError::Iterations(iterations));
        };
        let (pbkdf, hmac_alg, digest_alg, len) = match self.mechanism {
            SaslMechanism::ScramSha512 => (pbkdf2::PBKDF2_HMAC_SHA512, hmac::HMAC_SHA512, &digest::SHA512, 64),
            _ => (pbkdf2::PBKDF2_HMAC_SHA256, hmac::HMAC_SHA256, &digest::SHA256, 32),
        };
        let mut salted = vec![0u8; len];
        pbkdf2::derive(pbkdf, rounds, &salt, self.password.as_bytes(), &mut salted);
        let salted = hmac::Key::new(hmac_alg, &salted);
        let client_key = hmac::sign(&salted, b"Client Key");
        let stored_key = digest::digest(digest_alg, client_key.as_ref());
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = hmac::sign(&hmac::Key::new(hmac_alg, stored_key.as_ref()), auth_message.as_bytes());
        let proof: Vec<u8> = client_key.as_ref().iter().zip(signature.as_ref()).map(|(a, b)| a ^ b).collect();
        let server_key = hmac::Key::new(hmac_alg, hmac::sign(&salted, b"Server Key").as_ref());
        let client_final = format!("{without_proof},p={}", B64.encode(proof));
        Ok((ScramFinal { auth_message, server_key }, client_final.into_bytes()))
    }
}

impl ScramFinal {
    /// Checks the server-final message (`v=…`): the broker proves it knows the password.
    pub fn verify(self, server_final: &[u8]) -> Result<(), ScramError> {
        let text = std::str::from_utf8(server_final).map_err(|_| ScramError::Malformed)?;
        if let Some(refused) = server_error(text) {
            return Err(refused);
        }
        let v = text.split(',').find_map(|p| p.strip_prefix("v=")).ok_or(ScramError::Malformed)?;
        let v = B64.decode(v).map_err(|_| ScramError::Malformed)?;
        hmac::verify(&self.server_key, self.auth_message.as_bytes(), &v).map_err(|_| ScramError::ServerSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3's SCRAM-SHA-256 example, message by message.
    #[test]
    fn rfc7677_example() {
        let (scram, first) = Scram::with_nonce(SaslMechanism::ScramSha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO".into());
        assert_eq!(first, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (fin, client_final) = scram.respond(server_first).unwrap();
        assert_eq!(
            String::from_utf8(client_final).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        fin.verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap();
    }

    #[test]
    fn a_wrong_server_signature_or_nonce_is_refused() {
        let server_first = b"r=abcXYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (scram, _) = Scram::with_nonce(SaslMechanism::ScramSha512, "u,=", "p", "abc".into());
        assert_eq!(scram.client_first_bare, "n=u=2C=3D,r=abc");
        let (fin, _) = scram.respond(server_first).unwrap();
        assert_eq!(fin.verify(b"v=AAAA").unwrap_err(), ScramError::ServerSignature);
        let (scram, _) = Scram::with_nonce(SaslMechanism::ScramSha512, "u", "p", "abc".into());
        let (fin, _) = scram.respond(server_first).unwrap();
        assert_eq!(fin.verify(b"e=invalid-proof").unwrap_err(), ScramError::Refused("invalid-proof".into()));
        let (scram, _) = Scram::with_nonce(SaslMechanism::ScramSha512, "u", "p", "abc".into());
        assert_eq!(scram.respond(b"e=unknown-user").err(), Some(ScramError::Refused("unknown-user".into())));
        let (scram, _) = Scram::with_nonce(SaslMechanism::ScramSha512, "u", "p", "zzz".into());
        assert_eq!(scram.respond(server_first).err(), Some(ScramError::Nonce));
        let (scram, _) = Scram::with_nonce(SaslMechanism::ScramSha256, "u", "p", "abc".into());
        assert_eq!(scram.respond(b"r=abcX,s=AAAA,i=1").err(), Some(ScramError::Iterations(1)));
        assert_eq!(plain("u", "p"), b"\0u\0p");
        assert_eq!(oauthbearer("t.k.n"), b"n,,\x01auth=Bearer t.k.n\x01\x01");
    }
}
