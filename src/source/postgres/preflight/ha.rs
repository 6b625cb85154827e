//! `pgcdc check` for high availability: what the server needs so that the
//! slot survives a failover (`slot.failover=true`, PostgreSQL 17+), as far
//! as the server pgcdc connects to can see it.
//!
//! ```text
//!   primary:  synchronized_standby_slots ── names the standbys' physical slots
//!             pg_replication_slots (physical, active) ── a standby streams through one;
//!                                      its xmin is set when the standby has hot_standby_feedback
//!   standby:  sync_replication_slots, hot_standby_feedback, primary_slot_name,
//!             dbname in primary_conninfo (only visible on the standby itself)
//! ```

use tokio_postgres::Client;

use super::Finding;

/// The failover-related settings and standby slots of one server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct HaState {
    /// `server_version_num`.
    pub version: i32,
    pub in_recovery: bool,
    /// Primary side (PostgreSQL 17+).
    pub synchronized_standby_slots: String,
    /// Physical slots: (name, active, xmin set = hot_standby_feedback).
    pub physical_slots: Vec<(String, bool, bool)>,
    /// Standby side: `sync_replication_slots`, `hot_standby_feedback`,
    /// `primary_slot_name`, and whether `primary_conninfo` names a dbname
    /// (`None`: not readable by this user).
    pub sync_replication_slots: String,
    pub hot_standby_feedback: String,
    pub primary_slot_name: String,
    pub conninfo_has_dbname: Option<bool>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Reads [`HaState`]; settings the server does not have read as empty.
pub(super) async fn read(client: &Client, version: i32) -> Result<HaState, BoxError> {
    let setting = |name: &'static str| async move {
        let row = client.query_one("SELECT current_setting($1, true)", &[&name]).await?;
        Ok::<String, tokio_postgres::Error>(row.get::<_, Option<String>>(0).unwrap_or_default())
    };
    let in_recovery: bool = client.query_one("SELECT pg_is_in_recovery()", &[]).await?.get(0);
    let physical_slots = client
        .query("SELECT slot_name::text, active, xmin IS NOT NULL FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY 1", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let conninfo = client.query_one("SELECT current_setting('primary_conninfo', true)", &[]).await;
    let conninfo_has_dbname = match conninfo {
        Ok(row) => row.get::<_, Option<String>>(0).map(|c| c.contains("dbname=")),
        Err(_) => None,
    };
    Ok(HaState {
        version,
        in_recovery,
        synchronized_standby_slots: setting("synchronized_standby_slots").await?,
        physical_slots,
        sync_replication_slots: setting("sync_replication_slots").await?,
        hot_standby_feedback: setting("hot_standby_feedback").await?,
        primary_slot_name: setting("primary_slot_name").await?,
        conninfo_has_dbname,
    })
}

const STANDBY_FIX: &str = "on each standby that may be promoted: primary_slot_name = '<its physical slot>', \
    hot_standby_feedback = on, sync_replication_slots = on, and dbname=<any database> in primary_conninfo; \
    on the primary: synchronized_standby_slots = '<those physical slots>' (see README, High availability)";

/// The findings for `slot.failover` (`failover`), a multi-host
/// `database.hostname` (`several_hosts`) and the existing slot's `failover`.
pub(super) fn findings(failover: bool, several_hosts: bool, slot_failover: Option<bool>, s: &HaState) -> Vec<Finding> {
    const CHECK: &str = "failover slot";
    let mut out = Vec::new();
    if !failover {
        let (detail, fix) = if s.version >= 170_000 {
            (
                "database.hostname lists several hosts but slot.failover=false: the slot exists only on this primary, \
                 so after a failover the connector fails (the changes in between are lost to it)",
                "set slot.failover=true and configure the standbys for slot synchronization",
            )
        } else {
            (
                "database.hostname lists several hosts, but before PostgreSQL 17 no slot survives a failover: the \
                 connector fails on the promoted standby (the changes in between are lost to it)",
                "upgrade to PostgreSQL 17 for failover slots, or accept a re-snapshot after a failover (snapshot.mode=when_needed)",
            )
        };
        if several_hosts {
            out.push(Finding::warn(CHECK, detail, fix));
        }
        return out;
    }
    if s.version < 170_000 {
        out.push(Finding::fail(CHECK, "slot.failover=true needs PostgreSQL 17 or later", "set slot.failover=false, or upgrade"));
        return out;
    }
    if s.in_recovery {
        let mut missing = Vec::new();
        if s.sync_replication_slots != "on" {
            missing.push("sync_replication_slots is off");
        }
        if s.hot_standby_feedback != "on" {
            missing.push("hot_standby_feedback is off");
        }
        if s.primary_slot_name.is_empty() {
            missing.push("primary_slot_name is empty");
        }
        if s.conninfo_has_dbname == Some(false) {
            missing.push("primary_conninfo has no dbname");
        }
        out.push(if missing.is_empty() {
            Finding::ok(CHECK, "this server is a standby that synchronizes failover slots")
        } else {
            Finding::warn(CHECK, format!("this server is a standby and {}", missing.join(", ")), STANDBY_FIX)
        });
        return out;
    }
    if s.synchronized_standby_slots.trim().is_empty() {
        out.push(Finding::warn(
            CHECK,
            "synchronized_standby_slots is empty: changes can reach Kafka before a standby has them, and after a \
             failover Kafka would hold changes the new primary never had",
            "ALTER SYSTEM SET synchronized_standby_slots = '<physical slots of the standbys>'; SELECT pg_reload_conf();",
        ));
    }
    let active: Vec<&(String, bool, bool)> = s.physical_slots.iter().filter(|(_, active, _)| *active).collect();
    if active.is_empty() {
        out.push(Finding::warn(CHECK, "no standby streams through a physical slot (primary_slot_name on the standby)", STANDBY_FIX));
    } else if !active.iter().any(|(_, _, xmin)| *xmin) {
        out.push(Finding::warn(
            CHECK,
            "the standbys' physical slots hold no xmin: hot_standby_feedback is off on them, and synchronized slots would be invalidated",
            STANDBY_FIX,
        ));
    } else {
        let names: Vec<&str> = active.iter().map(|(n, _, _)| n.as_str()).collect();
        out.push(Finding::ok(
            CHECK,
            format!(
                "standby slot(s) {} active with hot_standby_feedback; sync_replication_slots is set on the standby (not visible from here)",
                names.join(", ")
            ),
        ));
    }
    if slot_failover == Some(false) {
        out.push(Finding::ok(CHECK, "the existing slot has no FAILOVER yet: the connector alters it at start"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::Verdict;
    use super::*;

    fn primary() -> HaState {
        HaState {
            version: 170_002,
            synchronized_standby_slots: "sb1".into(),
            physical_slots: vec![("sb1".into(), true, true)],
            ..HaState::default()
        }
    }

    fn verdicts(f: &[Finding]) -> Vec<Verdict> {
        f.iter().map(|f| f.verdict).collect()
    }

    #[test]
    fn a_ready_primary_passes_and_each_missing_setting_warns_with_the_fix() {
        assert_eq!(verdicts(&findings(true, true, Some(true), &primary())), [Verdict::Ok]);
        let no_sync = HaState { synchronized_standby_slots: String::new(), ..primary() };
        let f = findings(true, false, None, &no_sync);
        assert!(f[0].verdict == Verdict::Warn && f[0].detail.contains("synchronized_standby_slots"), "{f:?}");
        let no_feedback = HaState { physical_slots: vec![("sb1".into(), true, false)], ..primary() };
        let f = findings(true, false, None, &no_feedback);
        assert!(f[0].detail.contains("hot_standby_feedback"), "{f:?}");
        let no_standby = HaState { physical_slots: vec![("sb1".into(), false, false)], ..primary() };
        let f = findings(true, false, None, &no_standby);
        assert!(f[0].detail.contains("primary_slot_name") && f[0].fix.as_deref().unwrap_or("").contains("sync_replication_slots"), "{f:?}");
    }

    #[test]
    fn a_standby_lists_what_it_lacks() {
        let standby = HaState { version: 170_000, in_recovery: true, conninfo_has_dbname: Some(false), hot_standby_feedback: "on".into(), ..HaState::default() };
        let f = findings(true, false, None, &standby);
        assert_eq!(verdicts(&f), [Verdict::Warn]);
        for part in ["sync_replication_slots is off", "primary_slot_name is empty", "no dbname"] {
            assert!(f[0].detail.contains(part), "{part}: {f:?}");
        }
    }

    #[test]
    fn older_servers_refuse_failover_and_warn_about_several_hosts() {
        let old = HaState { version: 160_004, ..HaState::default() };
        assert_eq!(verdicts(&findings(true, false, None, &old)), [Verdict::Fail]);
        let f = findings(false, true, None, &old);
        assert!(f[0].verdict == Verdict::Warn && f[0].detail.contains("before PostgreSQL 17"), "{f:?}");
        assert!(findings(false, false, None, &old).is_empty());
        let f = findings(false, true, None, &primary());
        assert!(f[0].fix.as_deref().unwrap_or("").contains("slot.failover=true"), "{f:?}");
    }
}
