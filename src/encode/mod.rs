//! Serializers: [`Record`](crate::record::Record) → [`EncodedRecord`](crate::record::EncodedRecord).

pub mod json;
