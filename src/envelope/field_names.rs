//! `field.name.adjustment.mode`: how column names become Connect field names
//! (and `schema.name.adjustment.mode`: how the table's schema names are adjusted).
//!
//! Debezium 3.6.3 (`FieldNameAdjustmentMode`, `SchemaNameAdjuster.validFullname`
//! with `FieldNameUnderscoreReplacementFunction` /
//! `FieldNameUnicodeReplacementFunction`) walks the name one UTF-16 unit at a
//! time (a character outside the BMP is two units, so two replacements):
//!
//! | mode           | valid first unit | valid later unit | an invalid unit becomes          |
//! |----------------|------------------|------------------|----------------------------------|
//! | `none`         | any              | any              | —                                |
//! | `avro`         | `[A-Za-z_]`      | `[A-Za-z0-9_]`   | `_` (a leading digit: `_` + it)  |
//! | `avro_unicode` | `[A-Za-z]`       | `[A-Za-z0-9]`    | `_u` + lowercase hex, `00`-padded only when it has ≤ 2 digits |
//!
//! (`_` itself is escaped by `avro_unicode`: it is the escape character.) The
//! names adjusted are those of the key's and the `before`/`after` struct's
//! fields; values are untouched. With `none` and Confluent's AvroConverter as
//! key or value converter, Debezium adjusts as `avro` (`fieldNameAdjuster()`).
//! `sanitize.field.names` was removed in Debezium 2.0: 3.6.3 ignores it.

use std::borrow::Cow;

/// Whether a UTF-16 unit may stay as it is.
type Valid = fn(u16) -> bool;

/// `field.name.adjustment.mode` or `schema.name.adjustment.mode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldNameAdjustment {
    #[default]
    None,
    Avro,
    AvroUnicode,
}

impl FieldNameAdjustment {
    /// The field name Debezium writes for a column named `name`.
    pub fn adjust(self, name: &str) -> Cow<'_, str> {
        let (first_ok, later_ok): (Valid, Valid) = match self {
            FieldNameAdjustment::None => return Cow::Borrowed(name),
            FieldNameAdjustment::Avro => (|u| letter(u) || u == u16::from(b'_'), |u| letter(u) || digit(u) || u == u16::from(b'_')),
            FieldNameAdjustment::AvroUnicode => (letter, |u| letter(u) || digit(u)),
        };
        self.replace(name, first_ok, later_ok)
    }

    /// The schema name Debezium writes for `name` under
    /// `schema.name.adjustment.mode` (`SchemaNameAdjuster.AVRO` /
    /// `AVRO_UNICODE`): as [`adjust`](Self::adjust), but a `.` is valid after
    /// the first unit (and, with `avro`, `_` too).
    pub fn adjust_schema_name(self, name: &str) -> Cow<'_, str> {
        let (first_ok, later_ok): (Valid, Valid) = match self {
            FieldNameAdjustment::None => return Cow::Borrowed(name),
            FieldNameAdjustment::Avro => {
                (|u| letter(u) || u == u16::from(b'_'), |u| letter(u) || digit(u) || u == u16::from(b'_') || u == u16::from(b'.'))
            }
            FieldNameAdjustment::AvroUnicode => (letter, |u| letter(u) || digit(u) || u == u16::from(b'.')),
        };
        self.replace(name, first_ok, later_ok)
    }

    fn replace(self, name: &str, first_ok: Valid, later_ok: Valid) -> Cow<'_, str> {
        let units: Vec<u16> = name.encode_utf16().collect();
        let valid = |i: usize, u: u16| if i == 0 { first_ok(u) } else { later_ok(u) };
        if units.iter().enumerate().all(|(i, &u)| valid(i, u)) {
            return Cow::Borrowed(name);
        }
        let mut out = String::with_capacity(name.len() + 8);
        for (i, &u) in units.iter().enumerate() {
            if valid(i, u) {
                // Only ASCII units are valid.
                out.push(char::from(u as u8));
                continue;
            }
            match self {
                FieldNameAdjustment::AvroUnicode => {
                    let hex = format!("{u:x}");
                    out.push_str("_u");
                    if hex.len() <= 2 {
                        out.push_str("00");
                    }
                    out.push_str(&hex);
                }
                _ => {
                    out.push('_');
                    // Java's Character.isDigit; only ASCII digits are handled here.
                    if i == 0 && digit(u) {
                        out.push(char::from(u as u8));
                    }
                }
            }
        }
        Cow::Owned(out)
    }

    /// The field names of `names`, in order, warning once per adjusted name
    /// and erroring when two names end up equal (Debezium fails the task
    /// there: the replacement "conflicts with another different schema", or
    /// Connect's "field name duplication").
    pub fn adjust_all<'a>(self, table: &str, names: impl Iterator<Item = &'a str>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for name in names {
            let adjusted = self.adjust(name).into_owned();
            if adjusted != name {
                tracing::warn!(
                    "{table}: the column name '{name}' is not a valid Avro field name, so replacing with '{adjusted}' (field.name.adjustment.mode)"
                );
            }
            if out.contains(&adjusted) {
                tracing::error!(
                    "{table}: the field name '{adjusted}' of column '{name}' equals the name of another column; rename a column or change field.name.adjustment.mode"
                );
            }
            out.push(adjusted);
        }
        out
    }
}

fn letter(u: u16) -> bool {
    u8::try_from(u).is_ok_and(|b| b.is_ascii_alphabetic())
}

fn digit(u: u16) -> bool {
    u8::try_from(u).is_ok_and(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::FieldNameAdjustment::{Avro, AvroUnicode, None};

    #[test]
    fn none_keeps_every_name() {
        for n in ["my-col", "1st", "naïve", "", "a b"] {
            assert_eq!(None.adjust(n), n);
        }
    }

    #[test]
    fn avro_replaces_with_underscores() {
        let cases = [
            ("id", "id"),
            ("_x9", "_x9"),
            ("my-col", "my_col"),
            ("a.b", "a_b"),
            ("1st", "_1st"),
            ("9", "_9"),
            ("naïve", "na_ve"),
            ("-x", "_x"),
            ("a b$c", "a_b_c"),
            ("日本", "__"),
            // A character outside the BMP is two UTF-16 units.
            ("x😀", "x__"),
            ("", ""),
        ];
        for (n, want) in cases {
            assert_eq!(Avro.adjust(n), want, "{n}");
        }
    }

    #[test]
    fn avro_unicode_escapes_with_code_units() {
        let cases = [
            ("id", "id"),
            ("Id9", "Id9"),
            ("my_col", "my_u005fcol"),
            ("_x", "_u005fx"),
            ("my-col", "my_u002dcol"),
            ("a.b", "a_u002eb"),
            ("1st", "_u0031st"),
            ("naïve", "na_u00efve"),
            // Three hex digits are not padded (Debezium's UnicodeReplacementFunction).
            ("aĀ", "a_u100"),
            ("日", "_u65e5"),
            ("x😀", "x_ud83d_ude00"),
        ];
        for (n, want) in cases {
            assert_eq!(AvroUnicode.adjust(n), want, "{n}");
        }
    }

    #[test]
    fn schema_names_keep_dots() {
        assert_eq!(Avro.adjust_schema_name("p.public.dash-t.Value"), "p.public.dash_t.Value");
        assert_eq!(Avro.adjust_schema_name("1p.public.t.Key"), "_1p.public.t.Key");
        assert_eq!(AvroUnicode.adjust_schema_name("p.public.odd_cols.Envelope"), "p.public.odd_u005fcols.Envelope");
        assert_eq!(AvroUnicode.adjust_schema_name("p.public.dash-t.Key"), "p.public.dash_u002dt.Key");
        assert_eq!(None.adjust_schema_name("p.public.dash-t.Key"), "p.public.dash-t.Key");
    }

    #[test]
    fn adjust_all_keeps_order_and_collisions() {
        let names = Avro.adjust_all("public.t", ["a-b", "a.b", "ok"].into_iter());
        assert_eq!(names, ["a_b", "a_b", "ok"]);
    }
}
