//! Errors of the replication connection and their classification.

use std::fmt;

use postgres_protocol::message::backend::ErrorFields;

use crate::error::{Classify, ErrorClass};

/// A failure of the replication connection.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    /// The TCP connection (or its TLS layer) failed or was cut.
    #[error("i/o error on the replication connection")]
    Io(
        #[from]
        #[source]
        std::io::Error,
    ),
    /// TLS could not be set up or negotiated (see [`crate::source::postgres::tls`]).
    #[error(transparent)]
    Tls(#[from] crate::source::postgres::tls::TlsError),
    /// No connection within `connect_timeout`.
    #[error("connecting to postgres timed out")]
    ConnectTimeout,
    /// The server answered with an ErrorResponse.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The server asked for something the client cannot do, or the password
    /// exchange failed on the client side.
    #[error("authentication failed: {reason}")]
    Auth {
        reason: &'static str,
        #[source]
        source: Option<std::io::Error>,
    },
    /// The server sent something the protocol does not allow here.
    #[error("replication protocol violation: {0}")]
    Protocol(&'static str),
    /// A backend message could not be parsed.
    #[error("malformed backend message")]
    Malformed(#[source] std::io::Error),
    /// A caller-supplied name cannot be used in a replication command.
    #[error("invalid {what} {value:?}: {constraint}")]
    InvalidArgument { what: &'static str, value: String, constraint: &'static str },
}

impl ReplicationError {
    /// The SQLSTATE of a server error.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            ReplicationError::Server(e) => Some(&e.code),
            _ => None,
        }
    }

    /// What a user can do about this error, when we know.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ReplicationError::Server(e) => e.user_hint(),
            ReplicationError::Auth { .. } => Some("check database.user, database.password and pg_hba.conf"),
            ReplicationError::Tls(_) => Some("check database.sslmode, database.sslrootcert and the server's ssl settings"),
            _ => None,
        }
    }
}

impl Classify for ReplicationError {
    fn class(&self) -> ErrorClass {
        match self {
            // A certificate refused after the handshake (TLS 1.3 reports a rejected
            // client certificate on the first read) will be refused again.
            ReplicationError::Io(e)
                if crate::source::postgres::tls::rustls_error(e).is_some_and(crate::source::postgres::tls::is_certificate_failure) =>
            {
                ErrorClass::Fatal
            }
            ReplicationError::Io(_) | ReplicationError::ConnectTimeout => ErrorClass::Transient,
            ReplicationError::Tls(e) => e.class(),
            ReplicationError::Server(e) => e.class(),
            ReplicationError::Auth { .. }
            | ReplicationError::Protocol(_)
            | ReplicationError::Malformed(_)
            | ReplicationError::InvalidArgument { .. } => ErrorClass::Fatal,
        }
    }
}

/// An ErrorResponse (or a NoticeResponse's fields) from the server.
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
pub struct ServerError {
    /// `S`/`V`: ERROR, FATAL, PANIC.
    pub severity: String,
    /// `C`: the SQLSTATE, e.g. `42704`.
    pub code: String,
    /// `M`: the primary message.
    pub message: String,
    /// `D`: optional detail.
    pub detail: Option<String>,
    /// `H`: the server's own hint.
    pub hint: Option<String>,
}

/// SQLSTATEs the connector meets and what they mean to it.
pub mod sqlstate {
    /// The replication slot does not exist.
    pub const UNDEFINED_OBJECT: &str = "42704";
    /// The replication slot already exists.
    pub const DUPLICATE_OBJECT: &str = "42710";
    /// The slot is active for another process.
    pub const OBJECT_IN_USE: &str = "55006";
    /// E.g. `wal_level` is not `logical`, or the slot was invalidated.
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: &str = "55000";
    /// The password was wrong.
    pub const INVALID_PASSWORD: &str = "28P01";
    /// No pg_hba.conf entry, or no such role.
    pub const INVALID_AUTHORIZATION: &str = "28000";
    /// The role lacks REPLICATION.
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    /// `max_replication_slots` reached.
    pub const CONFIGURATION_LIMIT_EXCEEDED: &str = "53400";
    /// The server is shutting down (fast/smart shutdown, terminate).
    pub const ADMIN_SHUTDOWN: &str = "57P01";
    /// The server crashed.
    pub const CRASH_SHUTDOWN: &str = "57P02";
    /// The server is starting up or in recovery.
    pub const CANNOT_CONNECT_NOW: &str = "57P03";
}

impl ServerError {
    pub(crate) fn from_fields(mut fields: ErrorFields<'_>) -> Result<ServerError, std::io::Error> {
        use fallible_iterator::FallibleIterator;
        let mut e = ServerError::default();
        while let Some(field) = fields.next()? {
            let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
            match field.type_() {
                b'V' => e.severity = value,
                b'S' if e.severity.is_empty() => e.severity = value,
                b'C' => e.code = value,
                b'M' => e.message = value,
                b'D' => e.detail = Some(value),
                b'H' => e.hint = Some(value),
                _ => {}
            }
        }
        Ok(e)
    }

    /// Transient for connection loss, server shutdown/startup and resource
    /// shortage; fatal for everything else (auth, missing or busy slot, …).
    pub fn class(&self) -> ErrorClass {
        let code = self.code.as_str();
        if code == sqlstate::CONFIGURATION_LIMIT_EXCEEDED {
            // Class 53, but more connections will not free a slot.
            return ErrorClass::Fatal;
        }
        if code.starts_with("08")
            || code.starts_with("53")
            || matches!(code, sqlstate::ADMIN_SHUTDOWN | sqlstate::CRASH_SHUTDOWN | sqlstate::CANNOT_CONNECT_NOW)
        {
            ErrorClass::Transient
        } else {
            ErrorClass::Fatal
        }
    }

    /// What the user should do, for the codes the connector can explain.
    pub fn user_hint(&self) -> Option<&'static str> {
        Some(match self.code.as_str() {
            sqlstate::UNDEFINED_OBJECT => {
                "the replication slot does not exist: create it (slot.name) or let the connector create it"
            }
            sqlstate::DUPLICATE_OBJECT => "a replication slot with this name already exists: pick another slot.name or drop it",
            sqlstate::OBJECT_IN_USE => {
                "the replication slot is in use by another process: stop the other consumer \
                 (see pg_stat_replication) or use a different slot.name"
            }
            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE => {
                "check that wal_level=logical and that the slot was not invalidated (pg_replication_slots.wal_status)"
            }
            sqlstate::INVALID_PASSWORD | sqlstate::INVALID_AUTHORIZATION => {
                "check database.user and database.password, and that pg_hba.conf has a 'replication' entry for this host"
            }
            sqlstate::INSUFFICIENT_PRIVILEGE => "grant the REPLICATION attribute: ALTER ROLE <user> REPLICATION",
            sqlstate::CONFIGURATION_LIMIT_EXCEEDED => "raise max_replication_slots / max_wal_senders or drop unused slots",
            _ => return None,
        })
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "postgres {} {}: {}", self.severity, self.code, self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, " (detail: {detail})")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: &str) -> ReplicationError {
        ReplicationError::Server(ServerError { code: code.into(), ..ServerError::default() })
    }

    #[test]
    fn classifies_by_sqlstate() {
        for code in ["08006", "08P01", "57P01", "57P02", "57P03", "53300", "53200"] {
            assert_eq!(server(code).class(), ErrorClass::Transient, "{code}");
        }
        for code in ["42704", "55006", "28P01", "28000", "42501", "53400", "42601", "XX000"] {
            assert_eq!(server(code).class(), ErrorClass::Fatal, "{code}");
        }
        let io = ReplicationError::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(io.class(), ErrorClass::Transient);
        assert_eq!(ReplicationError::Protocol("x").class(), ErrorClass::Fatal);
    }

    #[test]
    fn hints_for_the_codes_users_meet() {
        assert!(server("42704").hint().unwrap().contains("does not exist"));
        assert!(server("55006").hint().unwrap().contains("in use"));
        assert!(server("28P01").hint().unwrap().contains("password"));
        assert_eq!(server("42601").hint(), None);
        assert_eq!(server("42704").sqlstate(), Some("42704"));
    }

    #[test]
    fn display_carries_detail_and_hint() {
        let e = ServerError {
            severity: "ERROR".into(),
            code: "55006".into(),
            message: "replication slot \"s\" is active for PID 7".into(),
            detail: Some("d".into()),
            hint: Some("h".into()),
        };
        assert_eq!(
            e.to_string(),
            "postgres ERROR 55006: replication slot \"s\" is active for PID 7 (detail: d) (hint: h)"
        );
    }
}
