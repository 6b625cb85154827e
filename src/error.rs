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

/// An error and its causes on one line: `outer: cause: root cause`.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let text = e.to_string();
        if !s.ends_with(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = e.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chain_lists_every_cause() {
        let e = Outer(std::io::Error::other("disk on fire"));
        assert_eq!(chain(&e), "outer: disk on fire");
    }
}
