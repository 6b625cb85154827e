//! Numbers printed as Java prints them (`Double.toString` / `Float.toString`,
//! as Jackson writes them): the JsonConverter's output, header values and
//! Connect's Cast transform all need the same text.

/// Java's `Double.toString` as Jackson prints it; NaN and infinities as strings.
pub fn write_f64(x: f64, buf: &mut Vec<u8>) {
    write_float(x.is_nan(), x.is_infinite(), x > 0.0, format!("{x:e}"), || format!("{x:.1e}"), x.abs() >= 1e-3 && x.abs() < 1e7 || x == 0.0, buf);
}

/// Java's `Float.toString` as Jackson prints it.
pub fn write_f32(x: f32, buf: &mut Vec<u8>) {
    write_float(x.is_nan(), x.is_infinite(), x > 0.0, format!("{x:e}"), || format!("{x:.1e}"), x.abs() >= 1e-3 && x.abs() < 1e7 || x == 0.0, buf);
}

/// The common layout of both: `short` is Rust's shortest `{:e}` text, `one_digit` the same
/// with one fraction digit (Java prints at least one), `plain` whether Java prints no exponent.
fn write_float(nan: bool, infinite: bool, positive: bool, short: String, one_digit: impl FnOnce() -> String, plain: bool, buf: &mut Vec<u8>) {
    if nan {
        buf.extend_from_slice(b"\"NaN\"");
    } else if infinite {
        buf.extend_from_slice(if positive { b"\"Infinity\"" } else { b"\"-Infinity\"" });
    } else {
        let sci = if sig_digits(&short) < 2 { one_digit() } else { short };
        buf.extend_from_slice(java_layout(&sci, plain).as_bytes());
    }
}

/// Significant digits of Rust's `{:e}` text (`-1.25e3` has 3).
fn sig_digits(sci: &str) -> usize {
    sci.split('e').next().unwrap_or("").bytes().filter(u8::is_ascii_digit).count()
}

/// Lays out Rust's `{:e}` text (`d.ddde±n`) as Java does: plain for
/// 1e-3 <= |x| < 1e7 (at least one fraction digit), else `d.dddE n`.
fn java_layout(sci: &str, plain: bool) -> String {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = if digits.len() > 1 { digits.trim_end_matches('0').to_owned() } else { digits };
    let digits = if digits.is_empty() { "0".to_owned() } else { digits };
    let mut out = String::with_capacity(digits.len() + 8);
    if neg {
        out.push('-');
    }
    if plain {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        if digits.len() > 1 {
            out.push_str(&digits[1..]);
        } else {
            out.push('0');
        }
        out.push('E');
        out.push_str(&exp.to_string());
    }
    out
}
