//! `COPY … TO STDOUT` text format → tuples, pure (no I/O).
//!
//! The snapshot reads rows with COPY in text format: each value is the
//! type's output function's text — exactly what pgoutput sends for a change
//! (`TupleValue::Text`) — so snapshot rows go through the same value
//! parsers as streamed rows. The format (PostgreSQL docs, "COPY, Text
//! Format"):
//!
//! ```text
//!   row    = field ( '\t' field )* '\n'
//!   field  = '\N'                      NULL
//!          | ( char | '\' escape )*    backslash escapes: \b \f \n \r \t \v \\,
//!                                      \digits (1–3 octal), \xH[H] (hex),
//!                                      any other \c is c itself
//! ```
//!
//! A raw newline only ever ends a row (one in the data is sent as `\n`), so
//! rows can be cut out of the byte stream before their fields are parsed.

use bytes::{Bytes, BytesMut};

use super::super::pgoutput::{TupleData, TupleValue};

/// A row of COPY text output that does not fit the expected shape.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CopyTextError {
    #[error("COPY row has {got} fields, expected {expected}")]
    FieldCount { expected: usize, got: usize },
    #[error("COPY output ended inside a row ({0} bytes without a newline)")]
    UnterminatedRow(usize),
}

/// Parses one row (without its newline) into `columns` values.
pub fn parse_row(line: &[u8], columns: usize) -> Result<TupleData, CopyTextError> {
    let mut out = Vec::with_capacity(columns);
    // An empty line is one empty field (a one-column table with '' in it),
    // except for a zero-column table, whose rows are empty lines.
    if columns == 0 && line.is_empty() {
        return Ok(out);
    }
    for field in line.split(|b| *b == b'\t') {
        out.push(parse_field(field));
    }
    if out.len() != columns {
        return Err(CopyTextError::FieldCount { expected: columns, got: out.len() });
    }
    Ok(out)
}

fn parse_field(field: &[u8]) -> TupleValue {
    if field == b"\\N" {
        return TupleValue::Null;
    }
    if !field.contains(&b'\\') {
        return TupleValue::Text(Bytes::copy_from_slice(field));
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let Some(&c) = field.get(i) else {
            // A trailing lone backslash: keep it (COPY never writes one).
            out.push(b'\\');
            break;
        };
        i += 1;
        match c {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                for _ in 0..2 {
                    match field.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            b'x' if field.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                let mut v = 0u8;
                for _ in 0..2 {
                    match field.get(i).and_then(|d| (*d as char).to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d as u8;
                            i += 1;
                        }
                        None => break,
                    }
                }
                out.push(v);
            }
            other => out.push(other),
        }
    }
    TupleValue::Text(Bytes::from(out))
}

/// Cuts COPY output (arbitrary chunks) into rows.
#[derive(Debug, Default)]
pub struct RowSplitter {
    pending: BytesMut,
}

impl RowSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a chunk; calls `row` for each complete row in it.
    pub fn push<E>(&mut self, chunk: &[u8], mut row: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        let mut rest = chunk;
        if !self.pending.is_empty() {
            match rest.iter().position(|b| *b == b'\n') {
                Some(nl) => {
                    self.pending.extend_from_slice(&rest[..nl]);
                    let line = std::mem::take(&mut self.pending);
                    row(&line)?;
                    rest = &rest[nl + 1..];
                }
                None => {
                    self.pending.extend_from_slice(rest);
                    return Ok(());
                }
            }
        }
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            row(&rest[..nl])?;
            rest = &rest[nl + 1..];
        }
        self.pending.extend_from_slice(rest);
        Ok(())
    }

    /// The output ended: nothing may be left over.
    pub fn finish(&self) -> Result<(), CopyTextError> {
        if self.pending.is_empty() {
            Ok(())
        } else {
            Err(CopyTextError::UnterminatedRow(self.pending.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &[u8]) -> TupleValue {
        TupleValue::Text(Bytes::copy_from_slice(s))
    }

    #[test]
    fn fields_nulls_and_escapes() {
        let row = parse_row(b"1\t\\N\ta\\tb\\nc\\\\d\t\t\\101\\x41\\x4a\\q", 5).unwrap();
        assert_eq!(row, vec![text(b"1"), TupleValue::Null, text(b"a\tb\nc\\d"), text(b""), text(b"AAJq")]);
    }

    #[test]
    fn control_escapes_and_short_octal() {
        let row = parse_row(b"\\b\\f\\r\\v\\0\\7x\\377", 1).unwrap();
        assert_eq!(row, vec![text(b"\x08\x0c\r\x0b\x00\x07x\xff")]);
        // `\x` without a hex digit is a literal x; a trailing backslash stays.
        assert_eq!(parse_row(b"\\xz\\", 1).unwrap(), vec![text(b"xz\\")]);
        // A literal "\N" inside text is escaped as "\\N" by COPY: not a null.
        assert_eq!(parse_row(b"\\\\N", 1).unwrap(), vec![text(b"\\N")]);
    }

    #[test]
    fn field_count_is_checked() {
        assert_eq!(parse_row(b"1\t2", 3), Err(CopyTextError::FieldCount { expected: 3, got: 2 }));
        assert_eq!(parse_row(b"", 1).unwrap(), vec![text(b"")]);
        assert_eq!(parse_row(b"", 0).unwrap(), Vec::<TupleValue>::new());
    }

    #[test]
    fn splitter_handles_rows_across_chunks() {
        let mut rows = Vec::new();
        let mut s = RowSplitter::new();
        for chunk in [&b"1\ta\n2\t"[..], b"b", b"\n", b"3\tc\n4\td\n"] {
            s.push(chunk, |r| {
                rows.push(r.to_vec());
                Ok::<_, ()>(())
            })
            .unwrap();
        }
        s.finish().unwrap();
        assert_eq!(rows, vec![b"1\ta".to_vec(), b"2\tb".to_vec(), b"3\tc".to_vec(), b"4\td".to_vec()]);
        s.push(b"5\te", |_| Ok::<_, ()>(())).unwrap();
        assert_eq!(s.finish(), Err(CopyTextError::UnterminatedRow(3)));
    }

    #[test]
    fn parser_never_panics_on_arbitrary_bytes() {
        // A small deterministic sweep over short byte strings made of the
        // characters that matter to the format.
        let alphabet = [b'\\', b'\t', b'N', b'x', b'0', b'7', b'f', b'a'];
        let mut buf = Vec::new();
        for n in 0..4096u32 {
            buf.clear();
            let mut k = n;
            for _ in 0..4 {
                buf.push(alphabet[(k % 8) as usize]);
                k /= 8;
            }
            let fields = buf.iter().filter(|b| **b == b'\t').count() + 1;
            assert_eq!(parse_row(&buf, fields).map(|r| r.len()), Ok(fields));
        }
    }
}
