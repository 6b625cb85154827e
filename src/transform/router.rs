//! Kafka's RegexRouter (`org.apache.kafka.connect.transforms.RegexRouter`):
//! a record whose topic matches `regex` entirely goes to `replacement`, with
//! Java's `Matcher.replaceFirst` syntax (`$1`, `${name}`, `\$` for a literal
//! `$`). Other records keep their topic. Kafka topics are created and
//! produced under the routed name (the sink learns topics from the records).

use regex::{Captures, Regex};

/// One piece of a parsed Java replacement string.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Group(usize),
    Named(String),
}

/// A compiled `regex` + `replacement` pair, shared with ByLogicalTableRouter.
#[derive(Clone, Debug)]
pub struct TopicRewrite {
    regex: Regex,
    pieces: Vec<Piece>,
}

/// Why a `regex` / `replacement` pair was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RewriteError {
    #[error("invalid regular expression: {0}")]
    Regex(String),
    #[error("invalid replacement: {0}")]
    Replacement(String),
}

impl TopicRewrite {
    pub fn new(regex: &str, replacement: &str) -> Result<Self, RewriteError> {
        let compiled = Regex::new(&format!("^(?:{regex})$")).map_err(|e| RewriteError::Regex(e.to_string()))?;
        let pieces = parse_replacement(replacement, &compiled)?;
        Ok(TopicRewrite { regex: compiled, pieces })
    }

    /// The rewritten name when `input` matches the whole regex.
    pub fn apply(&self, input: &str) -> Option<String> {
        let caps = self.regex.captures(input)?;
        Some(self.expand(&caps))
    }

    fn expand(&self, caps: &Captures<'_>) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Literal(s) => out.push_str(s),
                Piece::Group(i) => out.push_str(caps.get(*i).map_or("", |m| m.as_str())),
                Piece::Named(n) => out.push_str(caps.name(n).map_or("", |m| m.as_str())),
            }
        }
        out
    }
}

/// Java's `Matcher.appendReplacement` rules: `\c` is `c`; `$n` takes as many
/// digits as still name an existing group; `${name}` a named group.
fn parse_replacement(s: &str, regex: &Regex) -> Result<Vec<Piece>, RewriteError> {
    let groups = regex.captures_len() - 1;
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => lit.push(n),
                None => return Err(RewriteError::Replacement("character to be escaped is missing".into())),
            },
            '$' => {
                if !lit.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                }
                if chars.peek() == Some(&'{') {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    if name.is_empty() || !regex.capture_names().flatten().any(|n| n == name) {
                        return Err(RewriteError::Replacement(format!("no group with name {{{name}}}")));
                    }
                    pieces.push(Piece::Named(name));
                    continue;
                }
                let Some(first) = chars.next().and_then(|c| c.to_digit(10)) else {
                    return Err(RewriteError::Replacement("illegal group reference".into()));
                };
                let mut group = first as usize;
                if group > groups {
                    return Err(RewriteError::Replacement(format!("no group {group}")));
                }
                while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                    let next = group * 10 + d as usize;
                    if next > groups {
                        break;
                    }
                    group = next;
                    chars.next();
                }
                pieces.push(Piece::Group(group));
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Literal(lit));
    }
    Ok(pieces)
}

/// RegexRouter's properties (`regex`, `replacement`), compiled.
#[derive(Clone, Debug)]
pub struct RegexRouter {
    rewrite: TopicRewrite,
}

impl RegexRouter {
    pub fn new(rewrite: TopicRewrite) -> Self {
        RegexRouter { rewrite }
    }

    pub fn apply(&mut self, mut record: crate::record::Record, out: &mut Vec<crate::record::Record>) {
        if let Some(topic) = self.rewrite.apply(&record.topic) {
            record.topic = topic;
        }
        out.push(record);
    }
}

/// Regexes compare by their source text.
impl PartialEq for TopicRewrite {
    fn eq(&self, other: &Self) -> bool {
        self.regex.as_str() == other.regex.as_str() && self.pieces == other.pieces
    }
}

impl Eq for TopicRewrite {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_topic_must_match_and_groups_follow_java_syntax() {
        let r = TopicRewrite::new("(.*)[.]customers_[0-9]+", "$1.all_customers").unwrap();
        assert_eq!(r.apply("keys.public.customers_12").as_deref(), Some("keys.public.all_customers"));
        assert_eq!(r.apply("keys.public.customers_12x"), None, "matches() needs the whole topic");
        assert_eq!(r.apply("keys.public.tags"), None);
    }

    #[test]
    fn group_numbers_take_only_digits_naming_a_group_and_escapes_are_literal() {
        let r = TopicRewrite::new("(a)(b)", "$10-\\$2-${x}").err();
        assert!(matches!(r, Some(RewriteError::Replacement(_))), "no group named x");
        let r = TopicRewrite::new("(a)(b)", "$10-\\$2-$2").unwrap();
        // `$10` with two groups is group 1 then '0'.
        assert_eq!(r.apply("ab").as_deref(), Some("a0-$2-b"));
        let named = TopicRewrite::new("(?P<db>[^.]+)[.](.*)", "${db}_x").unwrap();
        assert_eq!(named.apply("keys.t").as_deref(), Some("keys_x"));
        assert!(TopicRewrite::new("(a)", "$2").is_err());
        assert!(TopicRewrite::new("(", "x").is_err());
    }
}
