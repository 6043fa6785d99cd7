//! What a load run is asked to do ([`LoadPlan`]), and the parsers the command line shares
//! (durations like `3s` / `500ms`, comma-separated counts).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// File descriptors the load generator needs besides its connections (epoll, timerfd, stdio,
/// the JSON file, a few per worker thread).
pub const FD_MARGIN: u64 = 64;

/// Closed loop (send, await the echo, repeat) or open loop (a fixed offered rate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadMode {
    /// Each connection keeps `pipeline` messages in flight and sends as soon as one returns.
    Closed,
    /// Sends follow a fixed schedule (total rate spread over connections), one in flight per
    /// connection; latency is measured from the intended send time.
    Open,
}

impl LoadMode {
    /// `closed` or `open`, as in the results.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadMode::Closed => "closed",
            LoadMode::Open => "open",
        }
    }
}

impl fmt::Display for LoadMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LoadMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "closed" => Ok(LoadMode::Closed),
            "open" => Ok(LoadMode::Open),
            other => Err(format!("unknown mode '{other}'; valid modes: closed, open")),
        }
    }
}

/// One load run, as the load generator executes it.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    /// The echo server.
    pub target: SocketAddr,
    /// Connections to open.
    pub connections: u64,
    /// Closed or open loop.
    pub mode: LoadMode,
    /// Offered total rate in messages per second (open loop).
    pub rate: Option<f64>,
    /// Messages in flight per connection (closed loop; 1 in open loop).
    pub pipeline: u32,
    /// Message size in bytes.
    pub message_size: usize,
    /// Traffic before measurement starts (excluded from every figure).
    pub warmup: Duration,
    /// Measured interval.
    pub duration: Duration,
    /// Connections opened per second.
    pub connect_rate: f64,
    /// A connection not established within this is a connect failure.
    pub connect_timeout: Duration,
    /// An echo not complete within this (from its send) is a timeout; the connection is closed.
    pub message_timeout: Duration,
    /// Event-loop threads of the load generator.
    pub threads: usize,
}

impl LoadPlan {
    /// Checks the plan is runnable; the error names the offending argument.
    pub fn validate(&self) -> Result<(), String> {
        if self.connections == 0 {
            return Err("--connections must be at least 1".into());
        }
        if self.connections > u64::from(u32::MAX) {
            return Err("--connections is too large".into());
        }
        if self.message_size == 0 {
            return Err("--size must be at least 1 byte".into());
        }
        if self.pipeline == 0 {
            return Err("--pipeline must be at least 1".into());
        }
        if self.duration.is_zero() {
            return Err("--duration must be positive".into());
        }
        if !(self.connect_rate > 0.0 && self.connect_rate.is_finite()) {
            return Err("--connect-rate must be a positive number".into());
        }
        if self.threads == 0 {
            return Err("--threads must be at least 1".into());
        }
        match (self.mode, self.rate) {
            (LoadMode::Open, None) => return Err("--mode open needs --rate R (messages/s)".into()),
            (LoadMode::Open, Some(r)) if !(r > 0.0 && r.is_finite()) => {
                return Err("--rate must be a positive number".into())
            }
            (LoadMode::Open, Some(_)) if self.pipeline != 1 => {
                return Err("--pipeline applies to the closed loop only".into())
            }
            (LoadMode::Closed, Some(_)) => {
                return Err("--rate applies to the open loop only (add --mode open)".into())
            }
            _ => {}
        }
        Ok(())
    }

    /// Open files this plan needs.
    pub fn fds_needed(&self) -> u64 {
        self.connections + FD_MARGIN
    }
}

/// Parses `3s`, `500ms`, `1.5s`, `2m`, `250us` or a bare number of seconds; never panics
/// (a value too long for a `Duration` is an error). The loopbench command line checks each
/// flag's range on top of this (`src/checked.rs`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let secs = parse_seconds(text)?;
    if secs < 0.0 {
        return Err(format!("invalid duration '{text}': negative"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("invalid duration '{text}': too long"))
}

/// The number of seconds `text` spells (grammar of [`parse_duration`]), not range-checked:
/// may be negative or infinite, never NaN.
pub fn parse_seconds(text: &str) -> Result<f64, String> {
    let t = text.trim();
    // Longest unit first: `ms` before `s` and `m`, `min` before `m`.
    let (num, scale) = [
        ("min", 60.0),
        ("ms", 1e-3),
        ("us", 1e-6),
        ("µs", 1e-6),
        ("s", 1.0),
        ("m", 60.0),
    ]
    .iter()
    .find_map(|(unit, scale)| t.strip_suffix(unit).map(|n| (n.trim_end(), *scale)))
    .unwrap_or((t, 1.0));
    let value: f64 = num
        .parse()
        .ok()
        .filter(|v: &f64| !v.is_nan())
        .ok_or_else(|| {
            format!("invalid duration '{text}' (examples: 3s, 500ms, 1.5s, 2m; units s, ms, us, m)")
        })?;
    Ok(value * scale)
}

/// Parses `1,100,1000` into counts (each at least 1).
pub fn parse_counts(text: &str) -> Result<Vec<u64>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let n: u64 = part
            .replace('_', "")
            .parse()
            .map_err(|_| format!("invalid count '{part}' in '{text}'"))?;
        if n == 0 {
            return Err(format!("counts must be at least 1, not 0 (in '{text}')"));
        }
        out.push(n);
    }
    if out.is_empty() {
        return Err(format!("no count in '{text}'"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3s").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3h").is_err());
        assert_eq!(parse_duration("1e-3").unwrap(), Duration::from_millis(1));
        assert_eq!(parse_duration("2 min").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        // Never a panic: too long, negative, not a number.
        for bad in [
            "99999999999999999999999",
            "1e300",
            "inf",
            "-1s",
            "NaN",
            "",
            "s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_seconds("-1.5s").unwrap(), -1.5);
    }

    #[test]
    fn counts() {
        assert_eq!(parse_counts("1,100, 10_000").unwrap(), vec![1, 100, 10_000]);
        assert!(parse_counts("0").is_err());
        assert!(parse_counts("x").is_err());
    }
}
