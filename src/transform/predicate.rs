//! Kafka Connect's predicates (`predicates=<name>,...`,
//! `predicates.<name>.type`, `transforms.<alias>.predicate` and `.negate`):
//! a transform with a predicate runs only on the records it matches (on the
//! others with `negate=true`); the others pass unchanged, as Connect's
//! `TransformationStage` does.

use regex::Regex;

use crate::record::Record;

/// One configured predicate.
#[derive(Clone, Debug)]
pub enum Predicate {
    /// `TopicNameMatches`: the whole topic name matches `pattern`.
    TopicNameMatches(Regex),
    /// `HasHeaderKey`: a header named `name` exists.
    HasHeaderKey(String),
    /// `RecordIsTombstone`: the value is null.
    RecordIsTombstone,
}

impl PartialEq for Predicate {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Predicate::TopicNameMatches(a), Predicate::TopicNameMatches(b)) => a.as_str() == b.as_str(),
            (Predicate::HasHeaderKey(a), Predicate::HasHeaderKey(b)) => a == b,
            (Predicate::RecordIsTombstone, Predicate::RecordIsTombstone) => true,
            _ => false,
        }
    }
}

impl Eq for Predicate {}

impl Predicate {
    /// `TopicNameMatches` of a Java `pattern`, matched against the whole name.
    pub fn topic_name_matches(pattern: &str) -> Result<Self, regex::Error> {
        Regex::new(&format!("^(?:{pattern})$")).map(Predicate::TopicNameMatches)
    }

    pub fn test(&self, record: &Record) -> bool {
        match self {
            Predicate::TopicNameMatches(re) => re.is_match(&record.topic),
            Predicate::HasHeaderKey(name) => record.headers.iter().any(|h| h.key == *name),
            Predicate::RecordIsTombstone => record.value.as_ref().is_none_or(|v| v.value.is_null()),
        }
    }
}

/// A transform's `predicate` and `negate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub predicate: Predicate,
    pub negate: bool,
}

impl Condition {
    /// Whether the transform applies to `record`.
    pub fn applies(&self, record: &Record) -> bool {
        self.predicate.test(record) != self.negate
    }
}
