//! Memory per connection split into the buffer and the runtime: every server holds the same
//! read buffer per connection (`--buffer`), and the epoll floor holds that and nothing else,
//! so a server's RSS per connection minus the floor's, at the same connection count, buffer
//! and purpose in the same run, is what the runtime itself costs per connection.

use harness::results::EchoRun;

/// The floor's id.
const FLOOR: &str = crate::echo::baselines::epoll_floor::ID;

/// Sets `runtime_rss_per_connection_bytes` of every run that has an RSS per connection and a
/// floor measured beside it (the floor's median over its repeats).
pub fn fill_runtime_shares(runs: &mut [EchoRun]) {
    let floor_of = |r: &EchoRun, runs: &[EchoRun]| -> Option<f64> {
        let mut v: Vec<f64> = runs
            .iter()
            .filter(|f| {
                f.runtime == FLOOR
                    && f.connections == r.connections
                    && f.mode == r.mode
                    && f.purpose == r.purpose
                    && f.buffer_bytes == r.buffer_bytes
            })
            .filter_map(|f| f.rss_per_connection_bytes)
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        Some(if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        })
    };
    let shares: Vec<Option<f64>> = runs
        .iter()
        .map(|r| {
            let rss = r.rss_per_connection_bytes?;
            r.buffer_bytes?;
            Some(rss - floor_of(r, runs)?)
        })
        .collect();
    for (r, s) in runs.iter_mut().zip(shares) {
        r.runtime_rss_per_connection_bytes = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_against_the_floor_at_the_same_point() {
        let run = |rt: &str, conns: u64, rss: f64| EchoRun {
            runtime: rt.into(),
            connections: conns,
            mode: "closed".into(),
            buffer_bytes: Some(2048),
            rss_per_connection_bytes: Some(rss),
            ..EchoRun::default()
        };
        let mut runs = vec![
            run("evloop", 100, 3000.0),
            run(FLOOR, 100, 2100.0),
            run(FLOOR, 100, 2300.0),
            run("evloop", 1000, 2900.0),
        ];
        fill_runtime_shares(&mut runs);
        assert_eq!(runs[0].runtime_rss_per_connection_bytes, Some(800.0));
        assert_eq!(runs[1].runtime_rss_per_connection_bytes, Some(-100.0));
        assert_eq!(runs[3].runtime_rss_per_connection_bytes, None);
    }
}
