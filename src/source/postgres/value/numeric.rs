//! Decimal text → Java `BigDecimal` semantics: unscaled value + scale, the
//! two's-complement bytes Connect's `Decimal` carries, and `BigDecimal.toString()`.

use num_bigint::{BigInt, Sign};

/// A parsed decimal: `unscaled × 10^-scale`, as Java's `BigDecimal`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BigDec {
    pub unscaled: BigInt,
    pub scale: i32,
}

/// PostgreSQL's special numeric values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    NaN,
    PosInf,
    NegInf,
}

impl Special {
    /// `SpecialValueDecimal.toString()` (the enum constant's name).
    pub fn java_name(self) -> &'static str {
        match self {
            Special::NaN => "NAN",
            Special::PosInf => "POSITIVE_INFINITY",
            Special::NegInf => "NEGATIVE_INFINITY",
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            Special::NaN => f64::NAN,
            Special::PosInf => f64::INFINITY,
            Special::NegInf => f64::NEG_INFINITY,
        }
    }
}

/// Parses PostgreSQL numeric output (`-12.340`, `NaN`, `Infinity`, `1e5` is
/// accepted as `new BigDecimal` would).
pub fn parse(text: &str) -> Option<Result<BigDec, Special>> {
    match text {
        "NaN" => return Some(Err(Special::NaN)),
        "Infinity" => return Some(Err(Special::PosInf)),
        "-Infinity" => return Some(Err(Special::NegInf)),
        _ => {}
    }
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (neg, digits) = match mantissa.as_bytes().first()? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let all = format!("{int_part}{frac_part}");
    let mut unscaled = BigInt::parse_bytes(all.as_bytes(), 10)?;
    if neg {
        unscaled = -unscaled;
    }
    let scale = i32::try_from(frac_part.len()).ok()?.checked_sub(exp)?;
    Some(Ok(BigDec { unscaled, scale }))
}

impl BigDec {
    /// `setScale(new_scale)` without rounding; `None` when digits would be lost.
    pub fn with_scale(&self, new_scale: i32) -> Option<BigDec> {
        if new_scale >= self.scale {
            let factor = BigInt::from(10u8).pow(u32::try_from(new_scale - self.scale).ok()?);
            Some(BigDec { unscaled: &self.unscaled * factor, scale: new_scale })
        } else {
            let factor = BigInt::from(10u8).pow(u32::try_from(self.scale - new_scale).ok()?);
            let rem = &self.unscaled % &factor;
            if rem != BigInt::from(0) {
                return None;
            }
            Some(BigDec { unscaled: &self.unscaled / factor, scale: new_scale })
        }
    }

    /// `stripTrailingZeros()`, then a negative scale raised to 0 (as Debezium does
    /// for VariableScaleDecimal).
    pub fn strip_trailing_zeros_non_negative(&self) -> BigDec {
        let ten = BigInt::from(10u8);
        let zero = BigInt::from(0);
        let mut out = self.clone();
        if out.unscaled == zero {
            return BigDec { unscaled: zero, scale: 0 };
        }
        while out.scale > 0 && (&out.unscaled % &ten) == zero {
            out.unscaled /= &ten;
            out.scale -= 1;
        }
        if out.scale < 0 {
            return out.with_scale(0).unwrap_or(out);
        }
        out
    }

    /// Java's `BigInteger.toByteArray()` of the unscaled value: minimal big-endian two's complement.
    pub fn unscaled_bytes(&self) -> Vec<u8> {
        self.unscaled.to_signed_bytes_be()
    }

    pub fn to_f64(&self) -> f64 {
        // Rust's float parsing is correctly rounded, as BigDecimal.doubleValue().
        self.to_plain_string().parse().unwrap_or(f64::NAN)
    }

    /// `BigDecimal.toPlainString()`.
    pub fn to_plain_string(&self) -> String {
        let (neg, digits) = self.sign_and_digits();
        let sign = if neg { "-" } else { "" };
        if self.scale <= 0 {
            let zeros = if digits == "0" { 0 } else { (-self.scale) as usize };
            return format!("{sign}{digits}{}", "0".repeat(zeros));
        }
        let scale = self.scale as usize;
        if digits.len() > scale {
            let (i, f) = digits.split_at(digits.len() - scale);
            format!("{sign}{i}.{f}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    }

    fn sign_and_digits(&self) -> (bool, String) {
        let (sign, mag) = self.unscaled.clone().into_parts();
        (sign == Sign::Minus, mag.to_str_radix(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> BigDec {
        parse(s).unwrap().unwrap()
    }

    #[test]
    fn parses_scale_from_text() {
        assert_eq!(dec("12.340"), BigDec { unscaled: BigInt::from(12340), scale: 3 });
        assert_eq!(dec("-0.5"), BigDec { unscaled: BigInt::from(-5), scale: 1 });
        assert_eq!(dec("100"), BigDec { unscaled: BigInt::from(100), scale: 0 });
        assert_eq!(dec("1e3"), BigDec { unscaled: BigInt::from(1), scale: -3 });
        assert_eq!(parse("NaN"), Some(Err(Special::NaN)));
        assert_eq!(parse("-Infinity"), Some(Err(Special::NegInf)));
        assert_eq!(parse("12a"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("-"), None);
    }

    #[test]
    fn unscaled_bytes_match_java_biginteger() {
        // BigInteger.valueOf(x).toByteArray()
        let cases: &[(&str, &[u8])] = &[
            ("0", &[0x00]),
            ("1", &[0x01]),
            ("-1", &[0xff]),
            ("1.27", &[0x7f]),
            ("1.28", &[0x00, 0x80]),
            ("-1.28", &[0x80]),
            ("-1.29", &[0xff, 0x7f]),
            ("255", &[0x00, 0xff]),
            ("12345.67", &[0x12, 0xd6, 0x87]),
        ];
        for (text, bytes) in cases {
            assert_eq!(dec(text).unscaled_bytes(), *bytes, "{text}");
        }
    }

    #[test]
    fn set_scale_and_strip() {
        assert_eq!(dec("1.5").with_scale(3).unwrap().to_plain_string(), "1.500");
        assert!(dec("1.55").with_scale(1).is_none());
        assert_eq!(dec("1.500").strip_trailing_zeros_non_negative().to_plain_string(), "1.5");
        assert_eq!(dec("1500").strip_trailing_zeros_non_negative(), dec("1500"));
        assert_eq!(dec("0.000").strip_trailing_zeros_non_negative(), dec("0"));
    }

    #[test]
    fn plain_string() {
        assert_eq!(dec("123.45").to_plain_string(), "123.45");
        assert_eq!(dec("-0.0000001").to_plain_string(), "-0.0000001");
        assert_eq!(dec("0.00").to_plain_string(), "0.00");
        assert_eq!(dec("1e3").to_plain_string(), "1000");
    }
}
