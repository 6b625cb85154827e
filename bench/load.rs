//! Backlogs: a table, its publication and the slots that will drain it, created BEFORE the rows are
//! committed so every slot holds the whole backlog; then the rows, in transactions of 1,000.

use std::time::Instant;

use anyhow::{Context, Result};

use crate::infra::Postgres;

/// Database every workload runs in.
pub const DB: &str = "bench";

/// What a backlog is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Inserts of ~200 B rows.
    Small,
    /// Inserts of 4 KB rows (out-of-line, uncompressed TOAST).
    Large,
    /// 50 % inserts, 30 % updates, 20 % deletes.
    Mixed,
    /// One transaction of inserts of ~200 B rows.
    OneTxn,
}

impl Kind {
    pub fn table(self) -> &'static str {
        match self {
            Kind::Small => "drain_small",
            Kind::Large => "drain_large",
            Kind::Mixed => "drain_mixed",
            Kind::OneTxn => "one_txn",
        }
    }
}

/// A committed backlog waiting in its slots.
pub struct Backlog {
    pub kind: Kind,
    pub table: String,
    pub publication: String,
    /// Change events it yields (tombstones off).
    pub events: u64,
    /// `pg_current_wal_insert_lsn()` after the last commit.
    pub end_lsn: String,
    pub load_secs: f64,
}

/// Creates the table, publication and `slots`, then commits `n` changes.
pub async fn prepare(pg: &Postgres, kind: Kind, n: u64, slots: &[String]) -> Result<Backlog> {
    let c = pg.client(DB).await?;
    let t = kind.table();
    let publication = format!("{t}_pub");
    c.batch_execute(&format!(
        "DROP PUBLICATION IF EXISTS {publication}; DROP TABLE IF EXISTS {t};\
         CREATE TABLE {t} (id bigint PRIMARY KEY, seq bigint NOT NULL, payload text NOT NULL);\
         CREATE PUBLICATION {publication} FOR TABLE {t};"
    ))
    .await
    .context("creating the table")?;
    if kind == Kind::Large {
        c.batch_execute(&format!(
            "ALTER TABLE {t} ALTER COLUMN payload SET STORAGE EXTERNAL"
        ))
        .await?;
    }
    let batches = (n / 1000).max(1);
    let per = if n < 1000 { n } else { 1000 };
    if kind == Kind::Mixed {
        // The rows that get updated and deleted exist before the slots (not part of the backlog).
        let pre = batches * 500;
        c.batch_execute(&format!(
            "INSERT INTO {t} SELECT g, g, {} FROM generate_series(1, {pre}) g",
            payload(Kind::Small)
        ))
        .await?;
    }
    for s in slots {
        c.query_one(
            "SELECT pg_create_logical_replication_slot($1, 'pgoutput')::text",
            &[s],
        )
        .await
        .with_context(|| format!("creating slot {s}"))?;
    }
    let start = Instant::now();
    let p = payload(kind);
    let events = match kind {
        Kind::OneTxn => {
            c.batch_execute(&format!(
                "INSERT INTO {t} SELECT g, g, {p} FROM generate_series(1, {n}) g"
            ))
            .await?;
            n
        }
        Kind::Small | Kind::Large => {
            for b in 0..batches {
                let (lo, hi) = (b * per + 1, (b + 1) * per);
                c.batch_execute(&format!(
                    "INSERT INTO {t} SELECT g, g, {p} FROM generate_series({lo}, {hi}) g"
                ))
                .await?;
            }
            batches * per
        }
        Kind::Mixed => {
            let pre = batches * 500;
            for b in 0..batches {
                let (ilo, ihi) = (pre + b * 500 + 1, pre + (b + 1) * 500);
                let (ulo, uhi) = (b * 300 + 1, (b + 1) * 300);
                let (dlo, dhi) = (batches * 300 + b * 200 + 1, batches * 300 + (b + 1) * 200);
                c.batch_execute(&format!(
                    "BEGIN; INSERT INTO {t} SELECT g, g, {p} FROM generate_series({ilo}, {ihi}) g;\
                     UPDATE {t} SET seq = seq + 1, payload = upper(payload) WHERE id BETWEEN {ulo} AND {uhi};\
                     DELETE FROM {t} WHERE id BETWEEN {dlo} AND {dhi}; COMMIT;"
                ))
                .await?;
            }
            batches * 1000
        }
    };
    let load_secs = start.elapsed().as_secs_f64();
    let end_lsn: String = c
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .await?
        .get(0);
    Ok(Backlog {
        kind,
        table: t.to_owned(),
        publication,
        events,
        end_lsn,
        load_secs,
    })
}

/// SQL for the payload column of row `g`.
fn payload(kind: Kind) -> &'static str {
    match kind {
        // 192 characters (+ id, seq and tuple header: about 230 B per row).
        Kind::Small | Kind::Mixed | Kind::OneTxn => "repeat(md5(g::text), 6)",
        Kind::Large => "repeat(md5(g::text), 128)",
    }
}

/// Bytes between the current WAL insert position and the slot's confirmed flush position.
pub async fn slot_lag(pg: &Postgres, slot: &str) -> Result<i64> {
    let c = pg.client(DB).await?;
    let row = c
        .query_one(
            "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), confirmed_flush_lsn)::bigint \
             FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await?;
    Ok(row.get::<_, Option<i64>>(0).unwrap_or(-1))
}

/// Whether the slot's confirmed flush position reached `lsn`.
pub async fn slot_reached(pg: &Postgres, slot: &str, lsn: &str) -> Result<bool> {
    let c = pg.client(DB).await?;
    let row = c
        .query_one(
            "SELECT coalesce(confirmed_flush_lsn >= $2::text::pg_lsn, false) FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot, &lsn],
        )
        .await?;
    Ok(row.get(0))
}

/// Drops a slot (ignoring a missing one).
pub async fn drop_slot(pg: &Postgres, slot: &str) {
    if let Ok(c) = pg.client(DB).await {
        let _ = c
            .execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", &[&slot])
            .await;
    }
}
