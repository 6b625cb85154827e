//! What happens to one column's values: Debezium's column mappers
//! (`column.mask.*`, `column.truncate.*`, `column.mask.hash.*`), as values of
//! the model so that an event can carry a key column's mapper (see
//! [`super::KeyMapping`]). Which column gets which mapper is the source's
//! business (`source::postgres::columns`).

use crate::schema::Value;

/// A hash algorithm of `column.mask.hash.*` (Java `MessageDigest` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlgorithm {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    /// The algorithm of a Java `MessageDigest` name (`SHA-256`, `MD5`, …).
    pub fn from_java_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "MD5" => HashAlgorithm::Md5,
            "SHA-1" | "SHA1" | "SHA" => HashAlgorithm::Sha1,
            "SHA-256" => HashAlgorithm::Sha256,
            "SHA-384" => HashAlgorithm::Sha384,
            "SHA-512" => HashAlgorithm::Sha512,
            _ => return None,
        })
    }
}

/// What happens to one column's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnMapper {
    /// Every value (NULL too) becomes this string.
    Mask(String),
    /// Strings longer than N UTF-16 units are cut.
    Truncate(usize),
    /// hex(digest(salt ‖ value)), cut to `max_len` characters when set.
    Hash { algorithm: HashAlgorithm, salt: String, v2: bool, max_len: Option<usize> },
    /// Values unchanged (a non-string column matched by a masking rule).
    Passthrough,
}

impl ColumnMapper {
    /// The mapped value.
    pub fn apply(&self, value: Value) -> Value {
        match (self, value) {
            (ColumnMapper::Mask(mask), _) => Value::String(mask.clone()),
            (ColumnMapper::Truncate(n), Value::String(s)) => Value::String(truncate_utf16(&s, *n)),
            (ColumnMapper::Hash { algorithm, salt, v2, max_len }, Value::String(s)) => {
                let bytes = if *v2 { s.as_bytes().to_vec() } else { java_serialized_string(&s) };
                let mut hex = hex_digest(*algorithm, salt.as_bytes(), &bytes);
                if let Some(n) = max_len {
                    hex.truncate(*n);
                }
                Value::String(hex)
            }
            (_, v) => v,
        }
    }
}

/// The first `n` UTF-16 code units of `s`, as Java's `substring(0, n)`;
/// where that would cut a surrogate pair, Java keeps a lone high surrogate
/// (not valid UTF-8), pgcdc drops the character.
fn truncate_utf16(s: &str, n: usize) -> String {
    let mut units = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        let w = c.len_utf16();
        if units + w > n {
            return s[..i].to_owned();
        }
        units += w;
        end = i + c.len_utf8();
    }
    s[..end].to_owned()
}

/// `ObjectOutputStream.writeObject(String)`: stream header, then TC_STRING
/// with a 16-bit length (TC_LONGSTRING with 64 bits past 65535 bytes) and
/// modified UTF-8 (NUL as `C0 80`, supplementary characters as two
/// 3-byte surrogates).
fn java_serialized_string(s: &str) -> Vec<u8> {
    let mut utf = Vec::with_capacity(s.len());
    for unit in s.encode_utf16() {
        match unit {
            0x0001..=0x007F => utf.push(unit as u8),
            0x0000 | 0x0080..=0x07FF => {
                utf.push(0xC0 | ((unit >> 6) & 0x1F) as u8);
                utf.push(0x80 | (unit & 0x3F) as u8);
            }
            _ => {
                utf.push(0xE0 | ((unit >> 12) & 0x0F) as u8);
                utf.push(0x80 | ((unit >> 6) & 0x3F) as u8);
                utf.push(0x80 | (unit & 0x3F) as u8);
            }
        }
    }
    let mut out = vec![0xAC, 0xED, 0x00, 0x05];
    match u16::try_from(utf.len()) {
        Ok(len) => {
            out.push(0x74);
            out.extend_from_slice(&len.to_be_bytes());
        }
        Err(_) => {
            out.push(0x7C);
            out.extend_from_slice(&(utf.len() as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&utf);
    out
}

fn hex_digest(algorithm: HashAlgorithm, salt: &[u8], data: &[u8]) -> String {
    use std::fmt::Write;
    let digest: Vec<u8> = match algorithm {
        HashAlgorithm::Md5 => {
            use md5::Digest;
            let mut h = md5::Md5::new();
            h.update(salt);
            h.update(data);
            h.finalize().to_vec()
        }
        other => {
            let alg = match other {
                HashAlgorithm::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
                HashAlgorithm::Sha384 => &ring::digest::SHA384,
                HashAlgorithm::Sha512 => &ring::digest::SHA512,
                _ => &ring::digest::SHA256,
            };
            let mut ctx = ring::digest::Context::new(alg);
            ctx.update(salt);
            ctx.update(data);
            ctx.finish().as_ref().to_vec()
        }
    };
    digest.iter().fold(String::with_capacity(digest.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_replaces_null_too_truncation_counts_utf16_units() {
        assert_eq!(ColumnMapper::Mask("***".into()).apply(Value::Null), Value::String("***".into()));
        let t = ColumnMapper::Truncate(4);
        assert_eq!(t.apply(Value::String("Ünïcödé".into())), Value::String("Ünïc".into()));
        assert_eq!(t.apply(Value::String("ab𝄞c".into())), Value::String("ab𝄞".into()));
        assert_eq!(t.apply(Value::String("abc𝄞".into())), Value::String("abc".into()));
        assert_eq!(t.apply(Value::Null), Value::Null);
    }

    /// Values from Debezium 3.6.3 (tests/debezium/golden/columns/hash*.jsonl).
    #[test]
    fn hashes_match_debezium() {
        let v1 = |s: &str, len| {
            ColumnMapper::Hash { algorithm: HashAlgorithm::Sha256, salt: "CzQMA0cB5K".into(), v2: false, max_len: len }
                .apply(Value::String(s.into()))
        };
        assert_eq!(
            v1("alice@example.com", Some(64)),
            Value::String("7d2ad8f83758f463ec20938c870cf0068a399d3fa46f3a4e6621a68927ead495".into())
        );
        assert_eq!(v1("AB12", Some(8)), Value::String("f06f836a".into()));
        assert_eq!(
            v1("ß€𝄞", None),
            Value::String("9e6db5d0a4776c26dcf34e6176255dc4573fac451522017080b63cf2433a52af".into())
        );
        assert_eq!(v1("", Some(8)), Value::String("7b061bc7".into()));
        let v2 = ColumnMapper::Hash { algorithm: HashAlgorithm::Md5, salt: "pepper".into(), v2: true, max_len: None };
        assert_eq!(v2.apply(Value::String("alice@example.com".into())), Value::String("7820564db1dfcc1818ea2e1cb5b41e7a".into()));
        assert_eq!(v2.apply(Value::Null), Value::Null);
    }
}
