//! The rate seam: every request of a run waits here for the right to
//! start, and reports back what its answer said and how long it took. The
//! fixed rate (`--rate R`) is governor behind this seam; `--rate auto`
//! is another implementation of the same trait.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::{Quota, RateLimiter, clock::Clock, clock::DefaultClock};

use crate::op::Kind;

/// Where `--rate auto` starts, in requests per second.
pub const AUTO_START: f64 = 2.0;

/// What one attempt's answer said, as far as the rate cares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// A PAM360 answer (whatever its verdict).
    Ok,
    /// A 429: every request waits `pause` (its `Retry-After`, capped).
    Throttled { pause: Duration },
    /// A 503: the server is past what it can take.
    Overloaded,
    /// No answer within `--timeout`.
    TimedOut,
    /// Anything else that is not an answer (refused, reset, not PAM360).
    Failed,
}

/// Decides when requests start.
pub trait RateControl: Send + Sync {
    /// Waits for the right to start a request of `kind`; false if the run
    /// is stopping meanwhile.
    fn wait(&self, kind: Kind, stopping: &dyn Fn() -> bool) -> bool;
    /// What an attempt of `kind` got, `latency` after it started.
    fn observe(&self, kind: Kind, latency: Duration, signal: Signal);
    /// Requests per second it allows now, for the summary.
    fn current(&self) -> f64;
}

/// Sleeps `d` in short steps; false when the run is stopping meanwhile
/// (a signal, or an abort).
pub fn sleep_unless(d: Duration, stopping: &dyn Fn() -> bool) -> bool {
    let end = Instant::now() + d;
    loop {
        if stopping() {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// Seconds between starts at `--rate R`: at least 1/R, and at least
/// 1.05/⌈R⌉ so that any ⌈R⌉+1 consecutive starts span 1.05 s. Starts spaced
/// exactly 1/R arrive closer together once the network or the machine
/// jitters, and a server that counts per second refuses the extra one.
fn start_spacing(rate: f64) -> f64 {
    let rate = rate.max(0.001);
    (1.0 / rate).max(1.05 / rate.ceil())
}

/// `--rate R`: governor enforces it (burst 1, so no one-second window sees
/// more than ⌈R⌉ starts); after a 429 every request pauses and an extra
/// spacing halves the rate, which grows back by a tenth of `--rate` per ten
/// answers. Latency, 503s and timeouts do not move it.
pub struct Fixed {
    governor: governor::DefaultDirectRateLimiter,
    rate: f64,
    throttle: Mutex<Throttle>,
}

struct Throttle {
    paused_until: Instant,
    /// Share of `--rate` currently allowed.
    factor: f64,
    next_slot: Instant,
    successes: u32,
}

impl Fixed {
    pub fn new(rate: f64) -> Self {
        let period = Duration::from_secs_f64(start_spacing(rate));
        let quota = Quota::with_period(period).expect("a positive period");
        let now = Instant::now();
        Fixed {
            governor: RateLimiter::direct(quota),
            rate,
            throttle: Mutex::new(Throttle {
                paused_until: now,
                factor: 1.0,
                next_slot: now,
                successes: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Throttle> {
        self.throttle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RateControl for Fixed {
    fn wait(&self, _kind: Kind, stopping: &dyn Fn() -> bool) -> bool {
        loop {
            let paused = self.lock().paused_until;
            let now = Instant::now();
            if paused > now {
                if !sleep_unless(paused - now, stopping) {
                    return false;
                }
                continue;
            }
            if stopping() {
                return false;
            }
            match self.governor.check() {
                Ok(()) => break,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(DefaultClock::default().now());
                    if !sleep_unless(wait, stopping) {
                        return false;
                    }
                }
            }
        }
        let slot = {
            let mut t = self.lock();
            if t.factor >= 1.0 {
                return true;
            }
            let now = Instant::now();
            let slot = t.next_slot.max(now);
            t.next_slot = slot + Duration::from_secs_f64(1.0 / (self.rate * t.factor));
            slot
        };
        sleep_unless(slot.saturating_duration_since(Instant::now()), stopping)
    }

    fn observe(&self, _kind: Kind, _latency: Duration, signal: Signal) {
        let mut t = self.lock();
        match signal {
            Signal::Throttled { pause } => {
                let now = Instant::now();
                // Halved once per pause, however many requests see the 429.
                if t.paused_until <= now {
                    t.factor = (t.factor / 2.0).max(1.0 / 1024.0);
                    t.successes = 0;
                    log::info!(
                        "throttled by the server (429): pausing {:.1} s, rate now {:.2}/s",
                        pause.as_secs_f64(),
                        self.rate * t.factor
                    );
                }
                t.paused_until = t.paused_until.max(now + pause);
            }
            Signal::Ok if t.factor < 1.0 => {
                t.successes += 1;
                if t.successes >= 10 {
                    t.successes = 0;
                    t.factor = (t.factor + 0.1).min(1.0);
                }
            }
            _ => {}
        }
    }

    fn current(&self) -> f64 {
        self.rate * self.lock().factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// When `n` requests may start under a fixed rate.
    fn starts(rate: f64, n: usize) -> Vec<Instant> {
        let lim = Fixed::new(rate);
        (0..n)
            .map(|_| {
                assert!(lim.wait(Kind::AddAccounts, &|| false));
                Instant::now()
            })
            .collect()
    }

    #[test]
    fn a_fixed_rate_never_bursts() {
        // 20/s for a bounded 40 starts: no 1 s window may hold more than 20.
        let starts = starts(20.0, 40);
        for (i, s) in starts.iter().enumerate() {
            let in_window = starts[i..]
                .iter()
                .take_while(|t| t.duration_since(*s) < Duration::from_secs(1))
                .count();
            assert!(in_window <= 20, "{in_window} starts within one second");
        }
    }

    #[test]
    fn any_ceil_r_plus_one_starts_span_1_05_s() {
        for rate in [0.5f64, 1.0, 2.5, 5.0, 8.0, 10.0, 1000.0] {
            let n = rate.ceil();
            assert!(start_spacing(rate) * n >= 1.05 - 1e-9, "{rate}");
            assert!(start_spacing(rate) >= 1.0 / rate - 1e-12, "{rate}");
        }
        let starts = starts(10.0, 22);
        for w in starts.windows(11) {
            let span = w[10].duration_since(w[0]);
            assert!(span >= Duration::from_millis(1049), "{span:?}");
        }
    }

    #[test]
    fn throttle_halves_then_recovers_and_nothing_else_moves_a_fixed_rate() {
        let lim = Fixed::new(10.0);
        let k = Kind::AddAccounts;
        lim.observe(k, Duration::ZERO, Signal::Overloaded);
        lim.observe(k, Duration::from_secs(30), Signal::TimedOut);
        assert_eq!(lim.current(), 10.0);
        lim.observe(
            k,
            Duration::ZERO,
            Signal::Throttled {
                pause: Duration::ZERO,
            },
        );
        assert_eq!(lim.current(), 5.0);
        for _ in 0..10 {
            lim.observe(k, Duration::ZERO, Signal::Ok);
        }
        assert!((lim.current() - 6.0).abs() < 1e-9);
        for _ in 0..100 {
            lim.observe(k, Duration::ZERO, Signal::Ok);
        }
        assert_eq!(lim.current(), 10.0);
    }
}
