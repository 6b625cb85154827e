//! PostgreSQL types → Connect schemas and values, as Debezium maps them.
//!
//! Mirrors Debezium 3.6's `PostgresValueConverter` for values that arrive
//! from pgoutput in PostgreSQL's text output format. The replication session
//! must use `DateStyle=ISO` and `IntervalStyle=postgres` (the server defaults
//! pgjdbc also sets); `extra_float_digits` ≥ 1 gives shortest round-trip floats.
//!
//! ```text
//!   ColumnType ──column_schema──▶ Connect Schema      (once per Relation message)
//!   text       ──parse_text────▶ Connect Value       (once per tuple value)
//!   default    ──parse_default─▶ Connect default     (once per Relation message)
//! ```
//!
//! Type parameters come from the type modifier the way pgjdbc's `TypeInfoCache`
//! reports them to Debezium: `timestamp`/`time` without a modifier have scale 6,
//! numeric without one is variable-scale, and array columns always have scale 0
//! (so `timestamp[]` elements are millisecond `Timestamp`s, as in Debezium).

mod composite;
mod defaults;
mod numeric;
mod temporal;
mod mapping;

pub use crate::config::values::{
    BinaryHandlingMode, DecimalHandlingMode, HstoreHandlingMode, IntervalHandlingMode, TimePrecisionMode, ValueOptions,
    DEFAULT_MONEY_FRACTION_DIGITS, DEFAULT_UNAVAILABLE_VALUE_PLACEHOLDER,
};
pub use defaults::{parse_default, DefaultValueError};
pub use mapping::{column_schema, parse_text, required_fallback, streamed_value_dropped, unavailable_placeholder, unavailable_placeholder_for, ColumnType, ValueError};

/// Well-known built-in type OIDs (`pg_type.oid`), stable across versions.
pub mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const XML: u32 = 142;
    pub const POINT: u32 = 600;
    pub const CIDR: u32 = 650;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const MACADDR8: u32 = 774;
    pub const MONEY: u32 = 790;
    pub const MACADDR: u32 = 829;
    pub const INET: u32 = 869;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const TIMETZ: u32 = 1266;
    pub const BIT: u32 = 1560;
    pub const VARBIT: u32 = 1562;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const TSVECTOR: u32 = 3614;
    pub const JSONB: u32 = 3802;
    pub const INT4RANGE: u32 = 3904;
    pub const NUMRANGE: u32 = 3906;
    pub const TSRANGE: u32 = 3908;
    pub const TSTZRANGE: u32 = 3910;
    pub const DATERANGE: u32 = 3912;
    pub const INT8RANGE: u32 = 3926;
    /// `pg_type.typname` of a scalar built-in type above, if it is one.
    /// The element type of a built-in array type (`typelem`), for a column
    /// the catalog no longer describes (dropped or changed since the WAL).
    pub fn builtin_array_element(oid: u32) -> Option<u32> {
        Some(match oid {
            1000 => BOOL,
            1001 => BYTEA,
            1002 => CHAR,
            1005 => INT2,
            1007 => INT4,
            1016 => INT8,
            1009 => TEXT,
            1014 => BPCHAR,
            1015 => VARCHAR,
            1021 => FLOAT4,
            1022 => FLOAT8,
            1231 => NUMERIC,
            1182 => DATE,
            1183 => TIME,
            1115 => TIMESTAMP,
            1185 => TIMESTAMPTZ,
            1270 => TIMETZ,
            2951 => UUID,
            199 => JSON,
            3807 => JSONB,
            1041 => INET,
            651 => CIDR,
            1040 => MACADDR,
            775 => MACADDR8,
            3905 => INT4RANGE,
            3927 => INT8RANGE,
            3907 => NUMRANGE,
            3909 => TSRANGE,
            3911 => TSTZRANGE,
            3913 => DATERANGE,
            1028 => OID,
            1561 => BIT,
            3643 => TSVECTOR,
            _ => return None,
        })
    }

    pub fn builtin_name(oid: u32) -> Option<&'static str> {
        Some(match oid {
            BOOL => "bool",
            BYTEA => "bytea",
            CHAR => "char",
            NAME => "name",
            INT8 => "int8",
            INT2 => "int2",
            INT4 => "int4",
            TEXT => "text",
            OID => "oid",
            JSON => "json",
            XML => "xml",
            POINT => "point",
            CIDR => "cidr",
            FLOAT4 => "float4",
            FLOAT8 => "float8",
            MACADDR8 => "macaddr8",
            MONEY => "money",
            MACADDR => "macaddr",
            INET => "inet",
            BPCHAR => "bpchar",
            VARCHAR => "varchar",
            DATE => "date",
            TIME => "time",
            TIMESTAMP => "timestamp",
            TIMESTAMPTZ => "timestamptz",
            INTERVAL => "interval",
            TIMETZ => "timetz",
            BIT => "bit",
            VARBIT => "varbit",
            NUMERIC => "numeric",
            UUID => "uuid",
            TSVECTOR => "tsvector",
            JSONB => "jsonb",
            INT4RANGE => "int4range",
            NUMRANGE => "numrange",
            TSRANGE => "tsrange",
            TSTZRANGE => "tstzrange",
            DATERANGE => "daterange",
            INT8RANGE => "int8range",
            _ => return None,
        })
    }

    /// Array types Debezium leaves out of its schemas (no converter).
    pub const UNSUPPORTED_ARRAYS: &[u32] = &[791 /* money */, 1003 /* name */, 1187 /* interval */, 1563 /* varbit */, 143 /* xml */, 1017 /* point */, 2201 /* refcursor */];
}

