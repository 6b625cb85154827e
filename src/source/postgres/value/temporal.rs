//! PostgreSQL date/time text output (DateStyle ISO, IntervalStyle postgres) →
//! the numbers and strings Debezium emits.
//!
//! Calendar arithmetic is proleptic Gregorian with astronomical years
//! (`0001 BC` is year 0), as both PostgreSQL and `java.time` use.

/// `PGStatement.DATE_POSITIVE_INFINITY` as micros: Debezium's `timestamp 'infinity'`.
pub const POS_INFINITY_MICROS: i64 = 9_223_372_036_825_200_000;
/// `PGStatement.DATE_NEGATIVE_INFINITY` as micros: Debezium's `timestamp '-infinity'`.
pub const NEG_INFINITY_MICROS: i64 = -9_223_372_036_832_400_000;
/// Epoch day of `LocalDate.parse("-5877611-06-21")` (Debezium's `date 'infinity'`).
pub fn pos_infinity_epoch_day() -> i64 {
    days_from_civil(-5_877_611, 6, 21)
}
/// Epoch day of `LocalDate.parse("-5877611-06-22")` (Debezium's `date '-infinity'`).
pub fn neg_infinity_epoch_day() -> i64 {
    days_from_civil(-5_877_611, 6, 22)
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Strips a trailing ` BC`; returns the rest and whether it was there.
fn split_era(s: &str) -> (&str, bool) {
    match s.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (s, false),
    }
}

/// `YYYY-MM-DD` (year may be longer) → epoch day; `bc` turns year y into 1 - y.
fn parse_ymd(s: &str, bc: bool) -> Option<i64> {
    let mut it = s.splitn(3, '-');
    let y: i64 = num(it.next()?)?;
    let m: u32 = num(it.next()?)?;
    let d: u32 = num(it.next()?)?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if bc { 1 - y } else { y };
    Some(days_from_civil(y, m, d))
}

/// `HH:MM:SS[.ffffff]` → micros of day (24:00:00 allowed, as PostgreSQL does).
pub fn parse_time_micros(s: &str) -> Option<i64> {
    let mut it = s.splitn(3, ':');
    let h: i64 = num(it.next()?)?;
    let mi: i64 = num(it.next()?)?;
    let sec = it.next()?;
    let (whole, frac) = match sec.split_once('.') {
        Some((w, f)) => (w, f),
        None => (sec, ""),
    };
    let s: i64 = num(whole)?;
    let micros = parse_fraction_micros(frac)?;
    if h > 24 || mi > 59 || s > 60 {
        return None;
    }
    Some(((h * 60 + mi) * 60 + s) * 1_000_000 + micros)
}

fn parse_fraction_micros(frac: &str) -> Option<i64> {
    if frac.is_empty() {
        return Some(0);
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let padded = format!("{frac:0<6}");
    num::<i64>(&padded[..6])
}

/// `date` text → epoch day (Debezium's sentinels for ±infinity).
pub fn parse_date(s: &str) -> Option<i64> {
    match s {
        "infinity" => return Some(pos_infinity_epoch_day()),
        "-infinity" => return Some(neg_infinity_epoch_day()),
        _ => {}
    }
    let (s, bc) = split_era(s);
    parse_ymd(s, bc)
}

/// `timestamp` text → micros since the epoch, the wall clock read as UTC.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    match s {
        "infinity" => return Some(POS_INFINITY_MICROS),
        "-infinity" => return Some(NEG_INFINITY_MICROS),
        _ => {}
    }
    let (s, bc) = split_era(s);
    let (date, time) = s.split_once(' ')?;
    let day = parse_ymd(date, bc)?;
    day.checked_mul(MICROS_PER_DAY)?.checked_add(parse_time_micros(time)?)
}

/// Parses `+HH[:MM[:SS]]` → seconds east of UTC.
fn parse_offset(s: &str) -> Option<i64> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let mut secs = 0;
    for (i, part) in s[1..].split(':').enumerate() {
        let v: i64 = num(part)?;
        secs += v * [3600, 60, 1].get(i)?;
    }
    Some(sign * secs)
}

/// Splits `…HH:MM:SS[.f]±HH[:MM[:SS]]` at the offset sign.
fn split_time_offset(s: &str) -> Option<(&str, i64)> {
    let pos = s.rfind(['+', '-'])?;
    Some((&s[..pos], parse_offset(&s[pos..])?))
}

/// `timestamptz` text → UTC micros since the epoch; `Err(text)` for ±infinity.
pub fn parse_timestamptz(s: &str) -> Option<Result<i64, &'static str>> {
    match s {
        "infinity" => return Some(Err("infinity")),
        "-infinity" => return Some(Err("-infinity")),
        _ => {}
    }
    let (s, bc) = split_era(s);
    let (date, rest) = s.split_once(' ')?;
    let (time, offset) = split_time_offset(rest)?;
    let day = parse_ymd(date, bc)?;
    let local = day.checked_mul(MICROS_PER_DAY)?.checked_add(parse_time_micros(time)?)?;
    Some(Ok(local - offset * 1_000_000))
}

/// `timetz` text → micros of day at UTC (wrapped into one day).
pub fn parse_timetz_utc(s: &str) -> Option<i64> {
    let (time, offset) = split_time_offset(s)?;
    let local = parse_time_micros(time)?;
    Some((local - offset * 1_000_000).rem_euclid(MICROS_PER_DAY))
}

/// Appends `.fraction` of `nanos` as `appendFraction(NANO, min, max, true)` would.
fn push_fraction(out: &mut String, nanos: u32, width: Option<usize>) {
    match width {
        Some(w) => {
            let digits = format!("{nanos:09}");
            out.push('.');
            out.push_str(&digits[..w]);
        }
        None => {
            if nanos != 0 {
                let digits = format!("{nanos:09}");
                out.push('.');
                out.push_str(digits.trim_end_matches('0'));
            }
        }
    }
}

/// `HH:MM:SS[.f]` as `ISO_LOCAL_TIME` formats it.
fn push_time(out: &mut String, micros_of_day: i64, width: Option<usize>) {
    let secs = micros_of_day.div_euclid(1_000_000);
    let nanos = (micros_of_day.rem_euclid(1_000_000) * 1000) as u32;
    out.push_str(&format!("{:02}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60));
    push_fraction(out, nanos, width);
}

/// Debezium's ZonedTimestamp string of a UTC instant. `fraction_width` is the
/// column's scale: 1–9 prints exactly that many digits, anything else prints
/// the minimal digits (`ISO_OFFSET_DATE_TIME`).
pub fn format_zoned_timestamp(utc_micros: i64, fraction_width: i32) -> String {
    let day = utc_micros.div_euclid(MICROS_PER_DAY);
    let tod = utc_micros.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = civil_from_days(day);
    let mut out = String::with_capacity(32);
    // ISO_LOCAL_DATE: YEAR, 4 digits, SignStyle.EXCEEDS_PAD.
    if y > 9999 {
        out.push_str(&format!("+{y}"));
    } else if y < 0 {
        out.push_str(&format!("-{:04}", -y));
    } else {
        out.push_str(&format!("{y:04}"));
    }
    out.push_str(&format!("-{m:02}-{d:02}T"));
    let width = usize::try_from(fraction_width).ok().filter(|w| (1..=9).contains(w));
    push_time(&mut out, tod, width);
    out.push('Z');
    out
}

/// Debezium's ZonedTime string (`ISO_OFFSET_TIME` at UTC).
pub fn format_zoned_time(utc_micros_of_day: i64) -> String {
    let mut out = String::with_capacity(20);
    push_time(&mut out, utc_micros_of_day, None);
    out.push('Z');
    out
}

/// An interval as PGInterval parses PostgreSQL's `postgres` IntervalStyle.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Interval {
    pub years: i32,
    pub months: i32,
    pub days: i32,
    pub hours: i32,
    pub minutes: i32,
    pub seconds: f64,
}

impl Interval {
    /// `1 year 2 mons -3 days 04:05:06.5`, `-00:00:01`, `00:00:00`.
    pub fn parse(s: &str) -> Option<Interval> {
        let mut iv = Interval::default();
        let tokens: Vec<&str> = s.split_whitespace().collect();
        let mut i = 0;
        while i < tokens.len() {
            let tok = tokens[i];
            if tok.contains(':') {
                let (neg, body) = match tok.strip_prefix('-') {
                    Some(b) => (true, b),
                    None => (false, tok.strip_prefix('+').unwrap_or(tok)),
                };
                let mut parts = body.splitn(3, ':');
                let h: i32 = num(parts.next()?)?;
                let m: i32 = num(parts.next()?)?;
                let sec: f64 = match parts.next() {
                    Some(p) => p.parse().ok()?,
                    None => 0.0,
                };
                let sign = if neg { -1 } else { 1 };
                iv.hours = sign * h;
                iv.minutes = sign * m;
                iv.seconds = f64::from(sign) * sec;
                i += 1;
                continue;
            }
            let value: i32 = tok.parse().ok()?;
            let unit = tokens.get(i + 1)?;
            match unit.trim_end_matches('s') {
                "year" => iv.years = value,
                "mon" | "month" => iv.months = value,
                "day" => iv.days = value,
                "hour" => iv.hours = value,
                "min" | "minute" => iv.minutes = value,
                "sec" | "second" => iv.seconds = f64::from(value),
                _ => return None,
            }
            i += 2;
        }
        Some(iv)
    }

    /// `MicroDuration.durationMicros(…, DAYS_PER_MONTH_AVG)`: double arithmetic,
    /// truncated to a long as Java's cast does.
    pub fn micros(&self) -> i64 {
        let days_per_month = 365.25 / 12.0;
        let days = f64::from(self.years * 12 + self.months) * days_per_month + f64::from(self.days);
        let secs = ((days * 24.0 + f64::from(self.hours)) * 60.0 + f64::from(self.minutes)) * 60.0 + self.seconds;
        (secs * 1e6) as i64
    }

    /// `io.debezium.time.Interval` ISO-8601 text, e.g. `P1Y2M3DT4H5M6.5S`.
    pub fn to_iso_string(&self) -> String {
        let secs = super::numeric::parse(&format!("{}", self.seconds))
            .and_then(|r| r.ok())
            .map(|d| d.strip_trailing_zeros_non_negative().to_plain_string())
            .unwrap_or_else(|| "0".to_owned());
        format!(
            "P{}Y{}M{}DT{}H{}M{}S",
            self.years, self.months, self.days, self.hours, self.minutes, secs
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for day in [-1_000_000i64, -719_528, -1, 0, 1, 18_000, 2_932_896, 10_000_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("1969-12-31"), Some(-1));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        // 0001-01-01 BC is astronomical year 0.
        assert_eq!(parse_date("0001-01-01 BC"), Some(days_from_civil(0, 1, 1)));
        assert_eq!(parse_date("0001-01-01"), Some(-719_162));
        assert_eq!(parse_date("294276-12-31"), Some(days_from_civil(294_276, 12, 31)));
        assert!(parse_date("2024-13-01").is_none());
        assert!(parse_date("garbage").is_none());
        // Observed from Debezium 3.6.3: date 'infinity' → -2147472692 (the int cast wraps).
        assert_eq!(parse_date("infinity").map(|d| d as i32), Some(-2_147_472_692));
        assert_eq!(parse_date("0001-01-01 BC"), Some(-719_528));
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Some(0));
        assert_eq!(parse_timestamp("1969-12-31 23:59:59.999999"), Some(-1));
        assert_eq!(parse_timestamp("2024-01-02 03:04:05.5"), Some(1_704_164_645_500_000));
        assert_eq!(parse_timestamp("infinity"), Some(POS_INFINITY_MICROS));
        assert!(parse_timestamp("2024-01-02T03:04:05").is_none());
    }

    #[test]
    fn timestamptz_and_format() {
        let us = parse_timestamptz("2024-01-02 05:04:05.12+02").unwrap().unwrap();
        assert_eq!(format_zoned_timestamp(us, 6), "2024-01-02T03:04:05.120000Z");
        assert_eq!(format_zoned_timestamp(us, 0), "2024-01-02T03:04:05.12Z");
        assert_eq!(format_zoned_timestamp(us, 3), "2024-01-02T03:04:05.120Z");
        let us = parse_timestamptz("1900-01-01 00:00:00+00:53:28").unwrap().unwrap();
        assert_eq!(format_zoned_timestamp(us, 0), "1899-12-31T23:06:32Z");
        let us = parse_timestamptz("0044-03-15 12:00:00+00 BC").unwrap().unwrap();
        assert_eq!(format_zoned_timestamp(us, 0), "-0043-03-15T12:00:00Z");
        let us = parse_timestamptz("12345-01-01 00:00:00-01:30").unwrap().unwrap();
        assert_eq!(format_zoned_timestamp(us, 0), "+12345-01-01T01:30:00Z");
        assert_eq!(parse_timestamptz("-infinity"), Some(Err("-infinity")));
    }

    #[test]
    fn times() {
        assert_eq!(parse_time_micros("00:00:00"), Some(0));
        assert_eq!(parse_time_micros("23:59:59.999999"), Some(86_399_999_999));
        assert_eq!(parse_time_micros("24:00:00"), Some(86_400_000_000));
        assert_eq!(parse_time_micros("12:30:00.5"), Some(45_000_500_000));
        assert_eq!(format_zoned_time(parse_timetz_utc("10:15:30.5+02").unwrap()), "08:15:30.5Z");
        assert_eq!(format_zoned_time(parse_timetz_utc("01:00:00-05:30").unwrap()), "06:30:00Z");
        assert_eq!(format_zoned_time(parse_timetz_utc("01:00:00+05").unwrap()), "20:00:00Z");
    }

    #[test]
    fn intervals() {
        let iv = Interval::parse("1 year 2 mons 3 days 04:05:06.5").unwrap();
        assert_eq!(
            iv,
            Interval { years: 1, months: 2, days: 3, hours: 4, minutes: 5, seconds: 6.5 }
        );
        let expected_days = 14.0 * 30.4375 + 3.0;
        let expected = (((expected_days * 24.0 + 4.0) * 60.0 + 5.0) * 60.0 + 6.5) * 1e6;
        assert_eq!(iv.micros(), expected as i64);
        assert_eq!(iv.to_iso_string(), "P1Y2M3DT4H5M6.5S");
        let neg = Interval::parse("-1 days -00:00:01").unwrap();
        assert_eq!(neg.micros(), -86_401_000_000);
        assert_eq!(Interval::parse("00:00:00").unwrap().micros(), 0);
        assert!(Interval::parse("1 fortnight").is_none());
    }
}
