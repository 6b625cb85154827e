//! The connector properties that decide how PostgreSQL values are mapped
//! (`decimal.handling.mode`, `time.precision.mode`, …): parsed here, applied
//! by `source::postgres::value`.

/// `decimal.handling.mode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DecimalHandlingMode {
    #[default]
    Precise,
    Double,
    String,
}

/// `time.precision.mode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimePrecisionMode {
    #[default]
    Adaptive,
    AdaptiveTimeMicroseconds,
    Connect,
}

/// `binary.handling.mode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BinaryHandlingMode {
    #[default]
    Bytes,
    Base64,
    Base64UrlSafe,
    Hex,
}

/// `interval.handling.mode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IntervalHandlingMode {
    #[default]
    Numeric,
    String,
}

/// `hstore.handling.mode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HstoreHandlingMode {
    #[default]
    Json,
    Map,
}

/// Default of `unavailable.value.placeholder`.
pub const DEFAULT_UNAVAILABLE_VALUE_PLACEHOLDER: &str = "__debezium_unavailable_value";
/// Default of `money.fraction.digits`.
pub const DEFAULT_MONEY_FRACTION_DIGITS: u8 = 2;

/// The connector properties that decide how values are mapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueOptions {
    pub decimal_handling_mode: DecimalHandlingMode,
    pub time_precision_mode: TimePrecisionMode,
    pub binary_handling_mode: BinaryHandlingMode,
    pub interval_handling_mode: IntervalHandlingMode,
    pub hstore_handling_mode: HstoreHandlingMode,
    pub money_fraction_digits: u8,
    pub include_unknown_datatypes: bool,
    pub unavailable_value_placeholder: String,
}

impl Default for ValueOptions {
    fn default() -> Self {
        ValueOptions {
            decimal_handling_mode: DecimalHandlingMode::default(),
            time_precision_mode: TimePrecisionMode::default(),
            binary_handling_mode: BinaryHandlingMode::default(),
            interval_handling_mode: IntervalHandlingMode::default(),
            hstore_handling_mode: HstoreHandlingMode::default(),
            money_fraction_digits: DEFAULT_MONEY_FRACTION_DIGITS,
            include_unknown_datatypes: false,
            unavailable_value_placeholder: DEFAULT_UNAVAILABLE_VALUE_PLACEHOLDER.to_owned(),
        }
    }
}
