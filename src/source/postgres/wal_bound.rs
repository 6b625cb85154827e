//! No resume point beyond the server's WAL.
//!
//! ```text
//!   0/0 ─────── stored offset ── slot.confirmed_flush ──── current end of WAL ──▶ (future)
//!                  └─ both must lie here ─┘
//! ```
//!
//! A position past the server's current end of WAL does not name anything
//! the server wrote: an offset altered by hand (`PATCH …/offsets` with a
//! made-up `lsn`), offsets of another server, or a failover to a standby
//! that never received them. Streaming from it would silently drop every
//! change until the server's WAL reaches it, and confirming it would move the
//! slot there for good. So the source refuses to start (the connector turns
//! FAILED with what to do), `PATCH …/offsets` refuses such an LSN, and the
//! replication stream never confirms more than the server sent (see
//! `replication::stream`).

use tokio_postgres::Client;

use crate::error::{Classify, ErrorClass};
use crate::lsn::Lsn;

use super::catalog::{self, CatalogError};

/// A resume point is beyond the server's WAL.
#[derive(Debug, thiserror::Error)]
pub enum WalBoundError {
    #[error(
        "the stored offset of connector {connector} (lsn {stored}, {stored_raw}) is ahead of the server's current WAL \
         position {current}: it was not written by this server (an offset altered by hand, offsets of another \
         server, or a failover to a standby that lacks them), and streaming from it would skip every change until \
         the server reaches it. Fix: PUT /connectors/{connector}/stop, then DELETE /connectors/{connector}/offsets \
         (or PATCH them with an lsn at or before {current}), then PUT /connectors/{connector}/resume"
    )]
    OffsetAhead { connector: String, stored: Lsn, stored_raw: u64, current: Lsn },
    #[error(
        "replication slot {slot} has confirmed_flush_lsn {confirmed}, ahead of the server's current WAL position \
         {current}: the slot would skip every change until the server reaches it. Fix: stop the connector, drop \
         the slot (SELECT pg_drop_replication_slot('{slot}')), then resume it; snapshot.mode=initial or when_needed \
         re-reads the tables"
    )]
    SlotAhead { slot: String, confirmed: Lsn, current: Lsn },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl Classify for WalBoundError {
    fn class(&self) -> ErrorClass {
        match self {
            WalBoundError::Catalog(e) => e.class(),
            // Retrying cannot help: an operator has to change the offset or the slot.
            _ => ErrorClass::Fatal,
        }
    }
}

/// Checks the stored offset and the slot's confirmed position against the
/// server's current end of WAL.
pub async fn check(
    client: &Client,
    connector: &str,
    slot: &str,
    stored: Option<Lsn>,
    confirmed: Option<Lsn>,
) -> Result<(), WalBoundError> {
    if stored.is_none() && confirmed.is_none() {
        return Ok(());
    }
    let current = catalog::current_wal_lsn(client).await?;
    check_against(current, connector, slot, stored, confirmed)
}

/// [`check`] once the current end of WAL is known.
pub fn check_against(
    current: Lsn,
    connector: &str,
    slot: &str,
    stored: Option<Lsn>,
    confirmed: Option<Lsn>,
) -> Result<(), WalBoundError> {
    if let Some(stored) = stored.filter(|s| *s > current) {
        return Err(WalBoundError::OffsetAhead {
            connector: connector.to_owned(),
            stored,
            stored_raw: stored.as_u64(),
            current,
        });
    }
    if let Some(confirmed) = confirmed.filter(|c| *c > current) {
        return Err(WalBoundError::SlotAhead { slot: slot.to_owned(), confirmed, current });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_up_to_the_end_of_wal_pass_and_beyond_it_fail_with_the_fix() {
        let current = Lsn(0x1_0000_0100);
        check_against(current, "c", "s", None, None).unwrap();
        check_against(current, "c", "s", Some(current), Some(Lsn(0x1_0000_0000))).unwrap();
        let err = check_against(current, "c", "s", Some(Lsn(u64::MAX)), None).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Fatal);
        let text = err.to_string();
        for part in ["FFFFFFFF/FFFFFFFF", "18446744073709551615", "1/100", "DELETE /connectors/c/offsets", "PATCH"] {
            assert!(text.contains(part), "{part} missing from: {text}");
        }
        let err = check_against(current, "c", "s", Some(current), Some(Lsn(u64::MAX))).unwrap_err();
        assert!(matches!(err, WalBoundError::SlotAhead { .. }), "{err}");
        assert!(err.to_string().contains("pg_drop_replication_slot('s')"), "{err}");
    }
}
