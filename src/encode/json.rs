//! Kafka Connect's JsonConverter, byte for byte where consumers can tell.

/// `decimal.format` of JsonConverter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DecimalFormat {
    /// Decimal as base64 of the unscaled big-endian two's complement bytes.
    #[default]
    Base64,
    /// Decimal as a JSON number.
    Numeric,
}

/// `key.converter.*` / `value.converter.*` settings of a JsonConverter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonOptions {
    /// `schemas.enable` (default true): `{"schema":…,"payload":…}`.
    pub schemas_enable: bool,
    pub decimal_format: DecimalFormat,
    /// `replace.null.with.default` (default true).
    pub replace_null_with_default: bool,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions { schemas_enable: true, decimal_format: DecimalFormat::default(), replace_null_with_default: true }
    }
}
