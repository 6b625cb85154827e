//! Confluent's wire format: every key or value starts with a 5-byte header.
//!
//! ```text
//!   byte 0      magic byte 0
//!   bytes 1..5  schema id, 4 bytes big-endian (the id the registry gave the schema)
//!   bytes 5..   the Avro binary body
//! ```

/// The magic byte of Confluent's wire format.
pub const MAGIC_BYTE: u8 = 0;

/// The 5-byte header naming the registered schema of the body that follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WireHeader {
    pub schema_id: u32,
}

/// Bytes that do not start with Confluent's header.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("{0} bytes are too short for the 5-byte schema registry header")]
    TooShort(usize),
    #[error("unknown magic byte {0} (Confluent's wire format starts with 0)")]
    UnknownMagic(u8),
}

impl WireHeader {
    /// Length of the header.
    pub const LEN: usize = 5;

    pub fn new(schema_id: u32) -> Self {
        WireHeader { schema_id }
    }

    /// Append the header.
    pub fn write(self, buf: &mut Vec<u8>) {
        buf.push(MAGIC_BYTE);
        buf.extend_from_slice(&self.schema_id.to_be_bytes());
    }

    /// The header and the body of a framed key or value.
    pub fn split(bytes: &[u8]) -> Result<(WireHeader, &[u8]), WireError> {
        if bytes.len() < Self::LEN {
            return Err(WireError::TooShort(bytes.len()));
        }
        if bytes[0] != MAGIC_BYTE {
            return Err(WireError::UnknownMagic(bytes[0]));
        }
        let id = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        Ok((WireHeader::new(id), &bytes[Self::LEN..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_magic_zero_and_big_endian_id() {
        let mut buf = Vec::new();
        WireHeader::new(0x0102_0304).write(&mut buf);
        buf.extend_from_slice(b"body");
        assert_eq!(&buf[..5], &[0, 1, 2, 3, 4]);
        assert_eq!(WireHeader::split(&buf), Ok((WireHeader::new(0x0102_0304), &b"body"[..])));
    }

    #[test]
    fn foreign_bytes_are_refused() {
        assert_eq!(WireHeader::split(&[0, 0, 1]), Err(WireError::TooShort(3)));
        assert_eq!(WireHeader::split(b"{\"a\":1}"), Err(WireError::UnknownMagic(b'{')));
    }
}
