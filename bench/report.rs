//! Result rows, the markdown table and the JSON result file.

use std::fmt::Write as _;

use serde::Serialize;

/// One line of the result table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Row {
    pub workload: String,
    pub system: String,
    /// Events delivered (or messages produced, for the broker ceiling).
    pub events: u64,
    /// Wall time of the measurement, seconds.
    pub secs: Option<f64>,
    pub events_per_sec: Option<f64>,
    /// CPU seconds of the measured process per million events.
    pub cpu_secs_per_million: Option<f64>,
    /// Peak RSS (VmHWM) of the measured process, MiB.
    pub peak_rss_mib: Option<f64>,
    /// WAL bytes between the insert position and the slot's confirmed flush position at the end.
    pub slot_lag_bytes: Option<i64>,
    /// p50 / p99 / p99.9, milliseconds.
    pub latency_ms: Option<[f64; 3]>,
    pub note: String,
}

impl Row {
    pub fn new(workload: &str, system: &str) -> Row {
        Row {
            workload: workload.to_owned(),
            system: system.to_owned(),
            ..Row::default()
        }
    }

    /// A row for something that was not measured, with the reason.
    pub fn missing(workload: &str, system: &str, why: &str) -> Row {
        Row {
            note: why.to_owned(),
            ..Row::new(workload, system)
        }
    }

    /// Fills time, rate and the CPU figure from `events` over `secs` and `cpu_secs`.
    pub fn timed(mut self, events: u64, secs: f64, cpu_secs: Option<f64>) -> Row {
        self.events = events;
        self.secs = Some(secs);
        if secs > 0.0 {
            self.events_per_sec = Some(events as f64 / secs);
        }
        if let Some(cpu) = cpu_secs {
            if events > 0 {
                self.cpu_secs_per_million = Some(cpu * 1e6 / events as f64);
            }
        }
        self
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "–".to_owned())
}

/// The markdown table, headed by the machine line.
pub fn markdown(header: &str, rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{header}\n");
    s.push_str(
        "| Workload | System | Events | Time (s) | Events/s | CPU-s / M events | Peak RSS (MiB) | Slot lag (B) | p50 / p99 / p99.9 (ms) | Notes |\n",
    );
    s.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for r in rows {
        let lat = r
            .latency_ms
            .map(|l| format!("{:.1} / {:.1} / {:.1}", l[0], l[1], l[2]))
            .unwrap_or_else(|| "–".to_owned());
        let events = if r.events == 0 {
            "–".to_owned()
        } else {
            r.events.to_string()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.workload,
            r.system,
            events,
            opt(r.secs, 2),
            opt(r.events_per_sec.map(f64::round), 0),
            opt(r.cpu_secs_per_million, 1),
            opt(r.peak_rss_mib, 1),
            r.slot_lag_bytes
                .map(|b| b.to_string())
                .unwrap_or_else(|| "–".to_owned()),
            lat,
            r.note.replace('|', "/").replace('\n', " ")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_one_line_per_row() {
        let rows = vec![
            Row::new("drain", "a").timed(1000, 2.0, Some(1.0)),
            Row::missing("snapshot", "b", "not yet measured"),
        ];
        let t = markdown("# h", &rows);
        assert!(
            t.contains("| drain | a | 1000 | 2.00 | 500 | 1000.0 |"),
            "{t}"
        );
        assert!(t.contains("not yet measured"));
        assert_eq!(t.lines().filter(|l| l.starts_with("| ")).count(), 3);
    }
}
