//! Periods: a month (`2025-03`), a quarter (`2025-Q1`) or a year (`2025`).

use std::fmt;
use std::str::FromStr;

/// A ranking period. Parses from and displays as `2025-03`, `2025-Q1` or
/// `2025`; years 1000..=9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    /// A calendar month, 1..=12.
    Month { year: u16, month: u8 },
    /// A calendar quarter, 1..=4.
    Quarter { year: u16, quarter: u8 },
    /// A calendar year.
    Year { year: u16 },
}

/// A string that is not a period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a period (write a month 2025-03, a quarter 2025-Q1 or a year 2025)")]
pub struct BadPeriod(pub String);

impl Period {
    /// The first month of the period, as months since year 0.
    pub fn first_month(&self) -> u32 {
        match *self {
            Period::Month { year, month } => u32::from(year) * 12 + u32::from(month) - 1,
            Period::Quarter { year, quarter } => {
                u32::from(year) * 12 + (u32::from(quarter) - 1) * 3
            }
            Period::Year { year } => u32::from(year) * 12,
        }
    }

    /// The last month of the period, as months since year 0.
    pub fn last_month(&self) -> u32 {
        match *self {
            Period::Month { .. } => self.first_month(),
            Period::Quarter { .. } => self.first_month() + 2,
            Period::Year { .. } => self.first_month() + 11,
        }
    }

    /// `month`, `quarter` or `year`.
    pub fn kind(&self) -> &'static str {
        match self {
            Period::Month { .. } => "month",
            Period::Quarter { .. } => "quarter",
            Period::Year { .. } => "year",
        }
    }
}

impl FromStr for Period {
    type Err = BadPeriod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadPeriod(s.to_owned());
        let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
        let (y, rest) = match s.split_once('-') {
            Some((y, r)) => (y, Some(r)),
            None => (s, None),
        };
        if !digits(y, 4) {
            return Err(bad());
        }
        let year: u16 = y.parse().map_err(|_| bad())?;
        if year < 1000 {
            return Err(bad());
        }
        match rest {
            None => Ok(Period::Year { year }),
            Some(r) if r.len() == 2 && r.starts_with('Q') => {
                let quarter = r[1..].parse::<u8>().map_err(|_| bad())?;
                if (1..=4).contains(&quarter) && digits(&r[1..], 1) {
                    Ok(Period::Quarter { year, quarter })
                } else {
                    Err(bad())
                }
            }
            Some(r) if digits(r, 2) => {
                let month = r.parse::<u8>().map_err(|_| bad())?;
                if (1..=12).contains(&month) {
                    Ok(Period::Month { year, month })
                } else {
                    Err(bad())
                }
            }
            Some(_) => Err(bad()),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Month { year, month } => write!(f, "{year:04}-{month:02}"),
            Period::Quarter { year, quarter } => write!(f, "{year:04}-Q{quarter}"),
            Period::Year { year } => write!(f, "{year:04}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_round_trip() {
        for s in ["2025-03", "2025-Q1", "2025", "1999-12", "2030-Q4"] {
            assert_eq!(s.parse::<Period>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn refuses_malformed_periods() {
        for s in [
            "2025-3", "2025-13", "2025-00", "2025-Q5", "2025-Q0", "25", "2025-q1", "2025-Q1x",
            "0999", "", "2025-",
        ] {
            assert!(s.parse::<Period>().is_err(), "{s}");
        }
    }

    #[test]
    fn month_spans() {
        let q1: Period = "2025-Q1".parse().unwrap();
        let m3: Period = "2025-03".parse().unwrap();
        let y: Period = "2025".parse().unwrap();
        assert_eq!(q1.first_month(), y.first_month());
        assert_eq!(q1.last_month(), m3.last_month());
        assert_eq!(y.last_month() - y.first_month(), 11);
    }
}
