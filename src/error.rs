//! The one place errors are classified.
//!
//! Every layer has its own `thiserror` enum; each implements [`Classify`] so
//! the connector's supervisor can decide between retrying with backoff
//! (transient), failing the table/row with a hint (data) and stopping the
//! connector (fatal).

/// How the connector reacts to an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Retry with backoff: lost connection, broker unavailable, …
    Transient,
    /// This row or table cannot be handled; say which and how to fix it.
    Data,
    /// Bad configuration, slot gone, …: stop and report.
    Fatal,
}

/// Implemented by every layer's error type.
pub trait Classify {
    fn class(&self) -> ErrorClass;
}
