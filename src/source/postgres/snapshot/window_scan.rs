//! Decoding the window of an interrupted table (see [`super::window`]):
//! the WAL between its first interrupted pass and the new snapshot, read
//! through a temporary copy of the connector's slot.
//!
//! ```text
//!   pg_copy_logical_replication_slot(slot, <tmp>, temporary)   same confirmed position, WAL kept
//!   pg_logical_slot_get_binary_changes(<tmp>, S, …pgoutput…)   transactions committed before S
//!        └─▶ pgoutput::decode ─▶ ChangeDecoder (this table only) ─▶ WindowTracker ─▶ events
//! ```
//!
//! Relied on: the connector's slot is confirmed only after the snapshot
//! completes, so it still holds the WAL from before the first pass (its
//! position is at or before every pass point); a copy does not disturb it
//! and disappears with the session. `upto_lsn` includes exactly the
//! transactions that committed before it, as the exported snapshot at S
//! does.

use futures::{pin_mut, TryStreamExt};

use super::run::SnapshotError;
use super::window::WindowTracker;
use crate::config::connector::ConnectorConfig;
use crate::event::{ChangeEvent, SourceEvent, TableId};
use crate::lsn::Lsn;
use crate::source::postgres::capture::{catalog_client, CatalogLookup};
use crate::source::postgres::catalog::quote_ident;
use crate::source::postgres::decoder::ChangeDecoder;
use crate::source::postgres::pgoutput;

/// The events that earlier, interrupted passes over `table` at `passes`
/// need before the table is read at `end` (see [`WindowTracker`]).
pub(crate) async fn window_events(
    config: &ConnectorConfig,
    table: &TableId,
    passes: &[Lsn],
    end: Lsn,
) -> Result<Vec<ChangeEvent>, SnapshotError> {
    let mut tracker = WindowTracker::new(passes, end);
    let Some(start) = tracker.start() else { return Ok(Vec::new()) };
    let connect = |e| SnapshotError::Connect(Box::new(e));
    let (changes, _) = catalog_client(&config.connection).await.map_err(connect)?;
    let (catalog, _) = catalog_client(&config.connection).await.map_err(connect)?;
    // The connector's slot holds the window's WAL, unless there is none
    // (snapshot.mode=initial_only reads through temporary slots) or it was
    // created after the first pass (the slot was lost: when_needed).
    let held: Option<Option<String>> = changes
        .query_opt("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", &[&config.slot_name])
        .await
        .map_err(|source| SnapshotError::Query { context: "reading the slot's position", source })?
        .map(|row| row.get(0));
    let confirmed = held.as_ref().map(|c| c.as_deref().and_then(|l| l.parse::<Lsn>().ok()));
    match confirmed {
        None => {
            tracing::warn!(table = %table, slot = %config.slot_name, "no slot holds the WAL since the interrupted \
                snapshot pass (snapshot.mode=initial_only keeps none): rows it read and deleted since stay in the topic");
            return Ok(Vec::new());
        }
        Some(Some(at)) if at > start => tracing::warn!(table = %table, slot = %config.slot_name, from = %start, slot_lsn = %at,
            "the slot starts after the interrupted snapshot pass (it was created again): rows it read and deleted \
            before the slot's position stay in the topic"),
        _ => {}
    }
    let copy = copy_name(&config.slot_name);
    changes
        .execute("SELECT pg_copy_logical_replication_slot($1, $2, true)", &[&config.slot_name, &copy])
        .await
        .map_err(|source| SnapshotError::Query { context: "copying the slot to read an interrupted table's window", source })?;
    let publications = quote_ident(&config.publication_name);
    let sql = "SELECT lsn::text, data FROM pg_logical_slot_get_binary_changes($1, $2::text::pg_lsn, NULL, \
               'proto_version', '1', 'publication_names', $3)";
    let upto = end.to_string();
    let query = |source| SnapshotError::Query { context: "decoding an interrupted table's window", source };
    let rows = changes
        .query_raw(sql, [&copy as &(dyn tokio_postgres::types::ToSql + Sync), &upto, &publications])
        .await
        .map_err(query)?;
    pin_mut!(rows);
    let wanted = table.clone();
    let mut decoder = ChangeDecoder::new(Box::new(move |t: &TableId| *t == wanted), None);
    let mut lookup = CatalogLookup::new(catalog, config);
    let mut out = Vec::new();
    let mut commit = Lsn::ZERO;
    while let Some(row) = rows.try_next().await.map_err(query)? {
        let lsn: String = row.get(0);
        let data: Vec<u8> = row.get(1);
        let wal_start = lsn.parse::<Lsn>().map_err(|source| SnapshotError::WindowLsn { lsn: lsn.clone(), source })?;
        let message = pgoutput::decode(&data, false).map_err(SnapshotError::WindowDecode)?;
        decoder
            .on_message(wal_start, message, &mut lookup, &mut out)
            .await
            .map_err(|e| SnapshotError::WindowChange(Box::new(e)))?;
        for event in out.drain(..) {
            match event {
                SourceEvent::Begin(begin) => commit = begin.final_lsn,
                SourceEvent::Change(change) => tracker.observe(commit, change),
                _ => {}
            }
        }
    }
    tracing::info!(table = %table, from = %start, to = %end, keys = tracker.keys(),
        "interrupted snapshot pass: window decoded");
    if let Err(err) = changes.execute("SELECT pg_drop_replication_slot($1)", &[&copy]).await {
        // Temporary: it goes with the session anyway.
        tracing::debug!(error = %err, "dropping the window's slot copy");
    }
    let events = tracker.finish();
    tracing::info!(table = %table, events = events.len(), "changes sent for rows gone since an interrupted pass");
    Ok(events)
}

/// `<slot>_w<n>`: a temporary copy's name, unique per call, within 63 bytes.
fn copy_name(slot: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let suffix = format!("_w{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let base: String = slot.chars().take(63 - suffix.len()).collect();
    base + &suffix
}

#[cfg(test)]
mod tests {
    #[test]
    fn copy_names_are_unique_and_fit() {
        let long = "s".repeat(63);
        let (a, b) = (super::copy_name(&long), super::copy_name(&long));
        assert_ne!(a, b);
        assert!(a.len() <= 63 && a.starts_with("sss"), "{a}");
    }
}
