//! Checked parsers for every number the command line takes: each duration, count, rate and
//! percentage has a documented range, and a value outside it (0, negative, NaN, `inf`,
//! `1e300`, more digits than fit) is refused with one line naming the range — exit status
//! 2, before any work starts, never a panic.
//!
//! They are clap `value_parser`s; clap adds the flag and the value to the message
//! (`invalid value '0' for '--iters <ITERS>': must be a whole number from 1 to 1,000,000`).
//! The ranges are constants here, so a command that passes a value on to a child (`run` to
//! `bench echo`) checks it by the same rule the child does. Durations use the one duration
//! grammar, [`benches::echo::plan::parse_seconds`] (`3s`, `500ms`, `2m`, a bare number of
//! seconds).

use std::fmt;
use std::time::Duration;

use benches::echo::plan::parse_seconds;

/// An inclusive range of durations.
#[derive(Clone, Copy, Debug)]
pub struct DurationRange {
    pub min: Duration,
    pub max: Duration,
}

/// An inclusive range of whole numbers, with what they count (for the message).
#[derive(Clone, Copy, Debug)]
pub struct CountRange {
    pub min: u64,
    pub max: u64,
    pub unit: &'static str,
}

/// A range of finite numbers; `min_exclusive`: the minimum itself is refused.
#[derive(Clone, Copy, Debug)]
pub struct NumberRange {
    pub min: f64,
    pub max: f64,
    pub min_exclusive: bool,
    pub unit: &'static str,
}

const DAY: Duration = Duration::from_secs(86_400);

/// `conformance --timeout`: time limit per cell.
pub const CELL_TIMEOUT: DurationRange = DurationRange {
    min: Duration::from_millis(100),
    max: DAY,
};
/// `bench echo --duration` (and `run --duration`): measured interval per point.
pub const ECHO_DURATION: DurationRange = DurationRange {
    min: Duration::from_millis(1),
    max: DAY,
};
/// `bench echo --warmup` (and `run --warmup`).
pub const ECHO_WARMUP: DurationRange = DurationRange {
    min: Duration::ZERO,
    max: DAY,
};
/// `micro --iters`.
pub const MICRO_ITERS: CountRange = CountRange {
    min: 1,
    max: 1_000_000,
    unit: "iterations",
};
/// `gate --iters`: tier 1 runs this and twice this, through `micro`.
pub const GATE_ITERS: CountRange = CountRange {
    min: 1,
    max: MICRO_ITERS.max / 2,
    unit: "iterations",
};
/// `gate --repeats`: an interval needs two samples at least.
pub const GATE_REPEATS: CountRange = CountRange {
    min: 2,
    max: 1000,
    unit: "repeats",
};
/// Echo connection counts (`run --connections`, `bench echo --connections`).
pub const CONNECTIONS: CountRange = CountRange {
    min: 1,
    max: 1_000_000,
    unit: "connections",
};
/// Connections opened per second (`run --connect-rate`, `bench echo --connect-rate`).
pub const CONNECT_RATE: NumberRange = NumberRange {
    min: 1.0,
    max: 1e6,
    min_exclusive: false,
    unit: "connections per second",
};
/// `gate --instr-threshold`, `gate --time-threshold`.
pub const GATE_THRESHOLD: NumberRange = NumberRange {
    min: 0.0,
    max: 1000.0,
    min_exclusive: true,
    unit: "percent",
};
/// `compare --threshold` (0 shows every change).
pub const COMPARE_THRESHOLD: NumberRange = NumberRange {
    min: 0.0,
    max: 1000.0,
    min_exclusive: false,
    unit: "percent",
};

/// Formats a duration exactly, the way the grammar reads it back: `100ms`, `86400s`.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos % 1_000_000_000 == 0 {
        format!("{}s", d.as_secs())
    } else if nanos % 1_000_000 == 0 {
        format!("{}ms", d.as_millis())
    } else if nanos % 1_000 == 0 {
        format!("{}us", d.as_micros())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// Thousands separated by commas: `1,000,000`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for DurationRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a duration from {} to {}",
            format_duration(self.min),
            format_duration(self.max)
        )
    }
}

impl fmt::Display for CountRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a whole number of {} from {} to {}",
            self.unit,
            grouped(self.min),
            grouped(self.max)
        )
    }
}

impl fmt::Display for NumberRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let num = |v: f64| {
            if v.fract() == 0.0 && (0.0..1e15).contains(&v) {
                grouped(v as u64)
            } else {
                v.to_string()
            }
        };
        if self.min_exclusive {
            write!(
                f,
                "a number of {} above {} and at most {}",
                self.unit,
                num(self.min),
                num(self.max)
            )
        } else {
            write!(
                f,
                "a number of {} from {} to {}",
                self.unit,
                num(self.min),
                num(self.max)
            )
        }
    }
}

impl DurationRange {
    /// Parses `text` and checks it is in the range.
    pub fn parse(&self, text: &str) -> Result<Duration, String> {
        let secs = parse_seconds(text).map_err(|e| format!("{e}; must be {self}"))?;
        let out_of_range = || format!("must be {self}");
        if !(secs >= self.min.as_secs_f64() && secs <= self.max.as_secs_f64()) {
            return Err(out_of_range());
        }
        let d = Duration::try_from_secs_f64(secs).map_err(|_| out_of_range())?;
        // Rounding at the edges (1e-4 s against a 100 ms minimum is caught above; this is
        // for values within a nanosecond of a bound).
        Ok(d.clamp(self.min, self.max))
    }
}

impl CountRange {
    /// Parses `text` (digits, `_` allowed as a separator) and checks it is in the range.
    pub fn parse(&self, text: &str) -> Result<u64, String> {
        let t = text.trim().replace('_', "");
        if t.starts_with('-') || (!t.is_empty() && t.chars().all(|c| c.is_ascii_digit())) {
            // A whole number, maybe too large for u64 or negative: a range error.
            return match t.parse::<u64>() {
                Ok(n) if (self.min..=self.max).contains(&n) => Ok(n),
                _ => Err(format!("must be {self}")),
            };
        }
        Err(format!("'{text}' is not a whole number; must be {self}"))
    }

    /// Parses a comma-separated list (`1,100,1000`), each checked.
    pub fn parse_list(&self, text: &str) -> Result<Vec<u64>, String> {
        let parts: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            return Err(format!("no count given; each must be {self}"));
        }
        parts
            .iter()
            .map(|p| self.parse(p).map_err(|e| format!("'{p}' in '{text}': {e}")))
            .collect()
    }
}

impl NumberRange {
    /// Parses `text` as a finite number and checks it is in the range.
    pub fn parse(&self, text: &str) -> Result<f64, String> {
        let v: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("'{text}' is not a number; must be {self}"))?;
        let low_ok = if self.min_exclusive {
            v > self.min
        } else {
            v >= self.min
        };
        if low_ok && v <= self.max {
            Ok(v)
        } else {
            // NaN and infinities fail the comparisons and land here too.
            Err(format!("must be {self}"))
        }
    }
}

/// A list of connection counts, checked ([`CONNECTIONS`]); displays as `1,100,1000`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts(pub Vec<u64>);

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u64::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// `conformance --timeout`.
pub fn cell_timeout(text: &str) -> Result<Duration, String> {
    CELL_TIMEOUT.parse(text)
}

/// `run --duration` (the rule of `bench echo --duration`).
pub fn echo_duration(text: &str) -> Result<Duration, String> {
    ECHO_DURATION.parse(text)
}

/// `run --warmup` (the rule of `bench echo --warmup`).
pub fn echo_warmup(text: &str) -> Result<Duration, String> {
    ECHO_WARMUP.parse(text)
}

/// `run --connections` (the rule of `bench echo --connections`).
pub fn connections(text: &str) -> Result<Counts, String> {
    CONNECTIONS.parse_list(text).map(Counts)
}

/// `run --connect-rate` (the rule of `bench echo --connect-rate`).
pub fn connect_rate(text: &str) -> Result<f64, String> {
    CONNECT_RATE.parse(text)
}

/// `micro --iters`.
pub fn micro_iters(text: &str) -> Result<u64, String> {
    MICRO_ITERS.parse(text)
}

/// `gate --iters`.
pub fn gate_iters(text: &str) -> Result<u64, String> {
    GATE_ITERS.parse(text)
}

/// `gate --repeats`.
pub fn gate_repeats(text: &str) -> Result<u32, String> {
    // The range's maximum fits in u32.
    GATE_REPEATS.parse(text).map(|n| n as u32)
}

/// `gate --instr-threshold`, `gate --time-threshold`.
pub fn gate_threshold(text: &str) -> Result<f64, String> {
    GATE_THRESHOLD.parse(text)
}

/// `compare --threshold`.
pub fn compare_threshold(text: &str) -> Result<f64, String> {
    COMPARE_THRESHOLD.parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_range_and_out() {
        assert_eq!(cell_timeout("10").unwrap(), Duration::from_secs(10));
        assert_eq!(cell_timeout("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(cell_timeout("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(cell_timeout("86400").unwrap(), DAY);
        for bad in [
            "0",
            "-1",
            "NaN",
            "inf",
            "1e300",
            "99999999999999999999999",
            "0.01",
        ] {
            let err = cell_timeout(bad).unwrap_err();
            assert!(err.contains("from 100ms to 86400s"), "{bad}: {err}");
        }
        assert!(cell_timeout("fast").unwrap_err().contains("examples"));
        assert_eq!(echo_warmup("0").unwrap(), Duration::ZERO);
        assert!(echo_duration("0").is_err());
    }

    #[test]
    fn counts_in_range_and_out() {
        assert_eq!(micro_iters("1_000").unwrap(), 1000);
        assert_eq!(micro_iters("1000000").unwrap(), 1_000_000);
        for bad in [
            "0",
            "-5",
            "1000001",
            "18446744073709551616",
            "99999999999999999999999",
        ] {
            let err = micro_iters(bad).unwrap_err();
            assert!(err.contains("from 1 to 1,000,000"), "{bad}: {err}");
        }
        assert!(micro_iters("1.5")
            .unwrap_err()
            .contains("not a whole number"));
        assert!(gate_repeats("1").is_err());
        assert_eq!(gate_repeats("7").unwrap(), 7);
        assert_eq!(
            connections("1,100, 10_000").unwrap().to_string(),
            "1,100,10000"
        );
        assert!(connections("1,0").unwrap_err().contains("'0' in '1,0'"));
        assert!(connections(",").is_err());
    }

    #[test]
    fn numbers_in_range_and_out() {
        assert_eq!(compare_threshold("0").unwrap(), 0.0);
        assert!(gate_threshold("0").is_err());
        assert_eq!(gate_threshold("2.5").unwrap(), 2.5);
        for bad in ["NaN", "inf", "-inf", "-1", "1e300"] {
            assert!(compare_threshold(bad).is_err(), "{bad}");
            assert!(connect_rate(bad).is_err(), "{bad}");
        }
        assert!(connect_rate("1e-300").is_err());
        assert!(connect_rate("0").is_err());
        assert_eq!(connect_rate("10000").unwrap(), 10_000.0);
    }

    #[test]
    fn durations_print_as_the_grammar_reads_them() {
        for d in [
            Duration::ZERO,
            Duration::from_millis(1),
            Duration::from_millis(500),
            Duration::from_millis(1500),
            Duration::from_micros(250),
            DAY,
        ] {
            assert_eq!(ECHO_WARMUP.parse(&format_duration(d)).unwrap(), d);
        }
    }
}
