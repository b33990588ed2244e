//! Numbers stored as binary floating point (workbook cells) read as exact
//! decimals.
//!
//! The rule: a cell's `f64` is read as the shortest decimal string that
//! converts back to the same `f64` (the digits Excel shows for the cell
//! with enough decimal places: 0.1 is `0.1`, 1234.56 is `1234.56`). Excel
//! keeps 15 significant digits, so a shortest form with more than 15
//! significant digits is a floating-point artefact (`=0.1+0.2` is stored as
//! 0.30000000000000004) or a number Excel cannot hold exactly (a 17-digit
//! ID): it is refused, and the message says to round it in the sheet or
//! store it as text. Infinities and NaN are refused; `-0` is 0.

use rust_decimal::Decimal;

/// Excel's precision: 15 significant decimal digits.
pub const FLOAT_DIGITS: usize = 15;

/// The exact decimal a workbook float stands for, by the rule above.
pub fn decimal_from_f64(x: f64) -> Result<Decimal, String> {
    if !x.is_finite() {
        return Err(format!("{x} is not a number"));
    }
    // `Display` of f64 prints the shortest round-trip digits, never an exponent.
    let s = format!("{x}");
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0');
    // Trailing zeros of an integer part are not significant for this purpose
    // (1e20 is 100000000000000000000, one significant digit).
    let significant = if s.contains('.') {
        significant
    } else {
        significant.trim_end_matches('0')
    };
    if significant.len() > FLOAT_DIGITS {
        return Err(format!(
            "the cell holds {s}, which has more than {FLOAT_DIGITS} significant digits (a floating-point artefact, or a number a workbook cannot hold exactly); round it in the sheet (e.g. =ROUND(A1, 2)) or store it as text"
        ));
    }
    let d = Decimal::from_str_exact(&s)
        .map_err(|_| format!("the cell holds {s}, which is too large for a 96-bit decimal"))?;
    Ok(if d.is_zero() {
        Decimal::ZERO
    } else {
        d.normalize()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn shortest_round_trip_digits() {
        assert_eq!(decimal_from_f64(0.1).unwrap(), d("0.1"));
        assert_eq!(decimal_from_f64(1234.56).unwrap(), d("1234.56"));
        assert_eq!(decimal_from_f64(0.955).unwrap(), d("0.955"));
        assert_eq!(decimal_from_f64(-0.0).unwrap(), Decimal::ZERO);
        assert_eq!(decimal_from_f64(1001.0).unwrap(), d("1001"));
        assert_eq!(decimal_from_f64(1e20).unwrap(), d("100000000000000000000"));
        assert_eq!(
            decimal_from_f64(123456789012.345).unwrap(),
            d("123456789012.345")
        );
        assert_eq!(decimal_from_f64(1e-7).unwrap(), d("0.0000001"));
    }

    #[test]
    fn artefacts_and_non_numbers_are_refused() {
        let e = decimal_from_f64(0.1 + 0.2).unwrap_err();
        assert!(e.contains("0.30000000000000004"), "{e}");
        assert!(decimal_from_f64(12345678901234567.0).is_err());
        assert!(decimal_from_f64(f64::NAN).is_err());
        assert!(decimal_from_f64(f64::INFINITY).is_err());
        assert!(decimal_from_f64(1e300).is_err());
    }
}
