//! Text formats with inner structure: array literals, hstore, point.

/// Splits a one-dimensional array literal `{a,"b c",NULL}` into its elements
/// (`None` = SQL NULL). Multi-dimensional arrays are flattened, as pgjdbc's
/// text path would not be: callers reject them instead.
pub fn parse_array(text: &str) -> Option<Vec<Option<String>>> {
    // Optional dimension decoration: `[0:2]={...}`.
    let body = match text.find('=') {
        Some(i) if text.starts_with('[') => &text[i + 1..],
        _ => text,
    };
    let inner = body.strip_prefix('{')?.strip_suffix('}')?;
    let mut out = Vec::new();
    if inner.is_empty() {
        return Some(out);
    }
    let mut chars = inner.chars().peekable();
    loop {
        let mut cur = String::new();
        let mut quoted = false;
        if chars.peek() == Some(&'{') {
            return None; // nested (multi-dimensional) arrays are not supported
        }
        if chars.peek() == Some(&'"') {
            quoted = true;
            chars.next();
            loop {
                match chars.next()? {
                    '\\' => cur.push(chars.next()?),
                    '"' => break,
                    c => cur.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                chars.next();
                if c == '\\' {
                    cur.push(chars.next()?);
                } else {
                    cur.push(c);
                }
            }
        }
        if !quoted && cur.eq_ignore_ascii_case("NULL") {
            out.push(None);
        } else {
            out.push(Some(cur));
        }
        match chars.next() {
            None => break,
            Some(',') => continue,
            Some(_) => return None,
        }
    }
    Some(out)
}

/// Parses hstore output `"k"=>"v", "n"=>NULL` into ordered pairs.
pub fn parse_hstore(text: &str) -> Option<Vec<(String, Option<String>)>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let key = read_quoted(&mut chars)?;
        if chars.next()? != '=' || chars.next()? != '>' {
            return None;
        }
        let value = if chars.peek() == Some(&'"') {
            Some(read_quoted(&mut chars)?)
        } else {
            let word: String = chars.by_ref().take(4).collect();
            if !word.eq_ignore_ascii_case("NULL") {
                return None;
            }
            None
        };
        out.push((key?, value.flatten()));
    }
    Some(out)
}

fn read_quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<Option<String>> {
    if chars.next()? != '"' {
        return None;
    }
    let mut s = String::new();
    loop {
        match chars.next()? {
            '\\' => s.push(chars.next()?),
            '"' => return Some(Some(s)),
            c => s.push(c),
        }
    }
}

/// `(x,y)` → coordinates.
pub fn parse_point(text: &str) -> Option<(f64, f64)> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    let (x, y) = inner.split_once(',')?;
    Some((parse_pg_float(x.trim())?, parse_pg_float(y.trim())?))
}

/// PostgreSQL float output, including `NaN`, `Infinity`, `-Infinity`.
pub fn parse_pg_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// The WKB of a 2D point as Debezium's `Point.createValue` builds it.
pub fn point_wkb(x: f64, y: f64) -> Vec<u8> {
    let mut wkb = Vec::with_capacity(21);
    wkb.push(1);
    wkb.extend_from_slice(&1u32.to_le_bytes());
    wkb.extend_from_slice(&x.to_le_bytes());
    wkb.extend_from_slice(&y.to_le_bytes());
    wkb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays() {
        assert_eq!(parse_array("{}"), Some(vec![]));
        assert_eq!(
            parse_array(r#"{1,NULL,"NULL","a \"b\"",c\,d}"#),
            Some(vec![
                Some("1".into()),
                None,
                Some("NULL".into()),
                Some("a \"b\"".into()),
                Some("c,d".into())
            ])
        );
        assert_eq!(parse_array("[0:1]={7,8}"), Some(vec![Some("7".into()), Some("8".into())]));
        assert_eq!(parse_array("{{1,2},{3,4}}"), None);
        assert_eq!(parse_array("1,2"), None);
    }

    #[test]
    fn hstore() {
        assert_eq!(
            parse_hstore(r#""a"=>"1", "b c"=>NULL, "q\""=>"x\\y""#),
            Some(vec![
                ("a".into(), Some("1".into())),
                ("b c".into(), None),
                ("q\"".into(), Some("x\\y".into()))
            ])
        );
        assert_eq!(parse_hstore(""), Some(vec![]));
        assert_eq!(parse_hstore("a=>1"), None);
    }

    #[test]
    fn points() {
        assert_eq!(parse_point("(1.5,-2)"), Some((1.5, -2.0)));
        assert_eq!(point_wkb(1.0, 2.0).len(), 21);
        assert_eq!(parse_point("1,2"), None);
    }
}
