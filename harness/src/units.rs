//! Checked parsers for the numbers users type: durations (`3s`, `500ms`), rates (`20000`,
//! `20k`), sizes (`2048`, `16KiB`), counts (`1,100,10_000`) and fractions, each against a
//! documented range. Every command-line number goes through one of these, so a hostile value
//! (`99999999999999999999999`, `1e-300`, `NaN`, `-1`, `18446744073709551615`) becomes one
//! clear message instead of a panic in `Duration::from_secs_f64` or an allocation abort.
//!
//! The `*_arg` functions return parsers usable as clap `value_parser`s (any
//! `Fn(&str) -> Result<T, String>` is one); their messages name the range, not the flag
//! (clap adds the flag).

use std::ops::RangeInclusive;
use std::time::Duration;

/// `d` for humans: `1 h`, `2 min`, `3 s`, `500 ms`, `250 us`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 3600.0 && s % 3600.0 == 0.0 {
        format!("{} h", s / 3600.0)
    } else if s >= 60.0 && s % 60.0 == 0.0 {
        format!("{} min", s / 60.0)
    } else if s >= 1.0 {
        format!("{} s", trim(s))
    } else if s >= 1e-3 {
        format!("{} ms", trim(s * 1e3))
    } else {
        format!("{} us", trim(s * 1e6))
    }
}

fn trim(v: f64) -> String {
    let t = format!("{v:.3}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Splits `12.5ms` into (`12.5`, `ms`): digits and at most one `.`, then the unit.
fn split_number(text: &str) -> (&str, &str) {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    (num, unit.trim())
}

/// A non-negative decimal number (digits, `_` separators, one `.`); no sign, exponent,
/// `inf` or `NaN`.
fn parse_decimal(num: &str) -> Option<f64> {
    let clean = num.replace('_', "");
    if clean.is_empty() || clean == "." || clean.matches('.').count() > 1 {
        return None;
    }
    clean.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Parses `3s`, `500ms`, `1.5s`, `2m`, `250us`, `1h` or a bare number of seconds, within
/// `range`.
pub fn parse_duration(text: &str, range: RangeInclusive<Duration>) -> Result<Duration, String> {
    let (num, unit) = split_number(text);
    let value = parse_decimal(num)
        .ok_or_else(|| format!("'{text}' is not a duration (examples: 3s, 500ms, 1.5s, 2m)"))?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "'{text}': unknown duration unit (use us, ms, s, m or h)"
            ))
        }
    };
    let secs = value * scale;
    let (lo, hi) = (range.start().as_secs_f64(), range.end().as_secs_f64());
    // Compare in f64 before building the Duration: `from_secs_f64` panics past u64 seconds.
    if !(secs >= lo && secs <= hi) {
        return Err(format!(
            "'{text}' is out of range: {} to {}",
            format_duration(*range.start()),
            format_duration(*range.end())
        ));
    }
    Ok(Duration::from_secs_f64(secs).clamp(*range.start(), *range.end()))
}

/// A clap parser for durations within `range`.
pub fn duration_arg(
    range: RangeInclusive<Duration>,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |text| parse_duration(text, range.clone())
}

/// Parses a rate or other positive real (`20000`, `2.5`, `1e5`, `20k`, `1.5M`) within
/// `range`.
pub fn parse_real(text: &str, range: RangeInclusive<f64>, what: &str) -> Result<f64, String> {
    let not_a_number = || {
        let unit = if what.is_empty() {
            String::new()
        } else {
            format!(" ({what})")
        };
        format!("'{text}' is not a number{unit}")
    };
    let v = match text.trim().replace('_', "").parse::<f64>() {
        Ok(v) if v.is_finite() => v,
        Ok(_) => return Err(not_a_number()),
        Err(_) => {
            let (num, unit) = split_number(text);
            let value = parse_decimal(num).ok_or_else(not_a_number)?;
            let scale = match unit {
                "k" | "K" => 1e3,
                "M" => 1e6,
                _ => return Err(format!("'{text}': unknown suffix (use k or M)")),
            };
            value * scale
        }
    };
    if !(v >= *range.start() && v <= *range.end()) {
        return Err(format!(
            "'{text}' is out of range: {} to {} {what}",
            short_real(*range.start()),
            short_real(*range.end())
        ));
    }
    Ok(v)
}

fn short_real(v: f64) -> String {
    if v >= 1e6 && v % 1e6 == 0.0 {
        format!("{}M", v / 1e6)
    } else if v >= 1e3 && v % 1e3 == 0.0 {
        format!("{}k", v / 1e3)
    } else {
        trim(v)
    }
}

/// A clap parser for positive reals within `range` (`what` names the unit in messages,
/// e.g. `messages per second`).
pub fn real_arg(
    range: RangeInclusive<f64>,
    what: &'static str,
) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync + 'static {
    move |text| parse_real(text, range.clone(), what)
}

/// Parses a whole number (`10000`, `10_000`, `10k`) within `range`.
pub fn parse_count(text: &str, range: RangeInclusive<u64>) -> Result<u64, String> {
    let (num, unit) = split_number(text);
    let clean = num.replace('_', "");
    let mult: u64 = match unit {
        "" => 1,
        "k" | "K" => 1000,
        "M" => 1_000_000,
        _ => return Err(format!("'{text}' is not a whole number")),
    };
    let n = clean
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| match clean.parse::<u128>() {
            Ok(_) => format!(
                "'{text}' is out of range: {} to {}",
                range.start(),
                range.end()
            ),
            Err(_) => format!("'{text}' is not a whole number"),
        })?;
    if !range.contains(&n) {
        return Err(format!(
            "'{text}' is out of range: {} to {}",
            range.start(),
            range.end()
        ));
    }
    Ok(n)
}

/// A clap parser for whole numbers within `range`, as any integer type that holds it.
pub fn count_arg<T: TryFrom<u64> + Clone + Send + Sync + 'static>(
    range: RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |text| {
        let n = parse_count(text, range.clone())?;
        T::try_from(n).map_err(|_| format!("'{text}' is too large"))
    }
}

/// Parses `1,100,10_000` into counts, each within `range`.
pub fn parse_counts(text: &str, range: RangeInclusive<u64>) -> Result<Vec<u64>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        out.push(parse_count(part, range.clone())?);
    }
    if out.is_empty() {
        return Err(format!("no count in '{text}'"));
    }
    Ok(out)
}

/// A clap parser for comma-separated counts within `range`.
pub fn counts_arg(
    range: RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<Vec<u64>, String> + Clone + Send + Sync + 'static {
    move |text| parse_counts(text, range.clone())
}

/// Parses a size in bytes (`2048`, `2k`/`2KiB` = 2048, `1M`/`1MiB`), within `range`.
pub fn parse_size(text: &str, range: RangeInclusive<u64>) -> Result<u64, String> {
    let (num, unit) = split_number(text);
    let mult: u64 = match unit {
        "" | "B" => 1,
        "k" | "K" | "KiB" | "kB" => 1024,
        "M" | "MiB" | "MB" => 1024 * 1024,
        _ => return Err(format!("'{text}': unknown size unit (use B, KiB or MiB)")),
    };
    let n = num.replace('_', "").parse::<u64>().ok();
    let n = match n {
        Some(n) => n.checked_mul(mult),
        None if num.chars().all(|c| c.is_ascii_digit() || c == '_') && !num.is_empty() => None,
        None => return Err(format!("'{text}' is not a size in bytes")),
    };
    match n {
        Some(n) if range.contains(&n) => Ok(n),
        _ => Err(format!(
            "'{text}' is out of range: {} to {}",
            bytes(*range.start()),
            bytes(*range.end())
        )),
    }
}

/// A clap parser for sizes in bytes within `range`.
pub fn size_arg(
    range: RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    move |text| {
        let n = parse_size(text, range.clone())?;
        usize::try_from(n).map_err(|_| format!("'{text}' is too large"))
    }
}

/// Bytes as `512 B`, `2 KiB`, `1 MiB` (exact multiples only; otherwise bytes).
pub fn bytes(n: u64) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn durations() {
        let r = Duration::ZERO..=HOUR;
        let d = |t: &str| parse_duration(t, r.clone());
        assert_eq!(d("3s").unwrap(), Duration::from_secs(3));
        assert_eq!(d("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(d("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(d("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(d("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(d("1h").unwrap(), HOUR);
        for bad in [
            "fast", "3d", "-1s", "NaN", "inf", "1e300", "1.2.3s", "", ".",
        ] {
            assert!(d(bad).is_err(), "{bad} accepted");
        }
        let err = d("99999999999999999999999").unwrap_err();
        assert!(err.contains("out of range: 0 us to 1 h"), "{err}");
        assert!(parse_duration("0s", Duration::from_millis(1)..=HOUR).is_err());
    }

    #[test]
    fn reals() {
        let r = 1.0..=1e6;
        assert_eq!(parse_real("20k", r.clone(), "x").unwrap(), 20_000.0);
        assert_eq!(parse_real("2.5", r.clone(), "x").unwrap(), 2.5);
        assert_eq!(parse_real("1e5", r.clone(), "x").unwrap(), 100_000.0);
        for bad in ["1e-300", "0", "NaN", "inf", "-5", "2M", "1x", "1e400"] {
            assert!(parse_real(bad, r.clone(), "x").is_err(), "{bad} accepted");
        }
        let err = parse_real("0", r, "per second").unwrap_err();
        assert!(err.contains("1 to 1M per second"), "{err}");
    }

    #[test]
    fn counts_and_sizes() {
        assert_eq!(
            parse_counts("1,100, 10_000", 1..=1_000_000).unwrap(),
            vec![1, 100, 10_000]
        );
        assert!(parse_counts("0", 1..=10).is_err());
        assert!(parse_counts("x", 1..=10).is_err());
        assert_eq!(parse_count("10k", 1..=100_000).unwrap(), 10_000);
        let err = parse_count("18446744073709551616", 1..=10).unwrap_err();
        assert!(err.contains("out of range"), "{err}");
        assert_eq!(parse_size("16KiB", 1..=1 << 20).unwrap(), 16 * 1024);
        assert_eq!(parse_size("2048", 1..=1 << 20).unwrap(), 2048);
        for bad in [
            "18446744073709551615",
            "3000000000",
            "0",
            "-1",
            "1.5k",
            "2GiB",
        ] {
            assert!(parse_size(bad, 1..=1 << 20).is_err(), "{bad} accepted");
        }
        let err = parse_size("18446744073709551615", 1..=1 << 20).unwrap_err();
        assert!(err.contains("1 B to 1 MiB"), "{err}");
    }
}
