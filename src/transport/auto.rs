//! `--rate auto`: find what the server takes, from what its answers say.
//!
//! PAM360 documents no limit, and an overloaded server answers slower,
//! then with 503s or not at all, while everyone else uses it. So the rate
//! starts low and grows while answers stay as fast as the fastest seen
//! (by half per round trip at first, then a tenth per round trip), and
//! backs off at once when they say otherwise: by half on a 429 (after its
//! `Retry-After`), a 503 or a timeout; by 15 % when the answers of a kind
//! of request take well over the lowest latency seen for that kind (a
//! 50-account add is slower than a read: each kind has its own baseline),
//! once until they are fast again (a queue at the server takes a while
//! to drain). It never goes past `--rate-max`; `--concurrency` still
//! bounds what is in flight. The way TCP finds a path's capacity (AIMD),
//! with the latency gradient of Netflix's concurrency limits.
//!
//! The decisions ([`Controller`]) take the time as an argument, so their
//! tests run on a fake clock; [`Auto`] is the [`RateControl`] that runs
//! them on the real one.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::rate::{RateControl, Signal, sleep_unless};
use crate::op::Kind;

/// The lowest rate it goes down to, in requests per second.
const FLOOR: f64 = 0.2;
/// Latency above this many times the lowest seen is "well above".
const SLOW: f64 = 1.5;
/// Latency below this many times the lowest seen leaves room to grow.
const FAST: f64 = 1.2;

/// What the controller last did, and why (for `-v`).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Up,
    Down(&'static str),
}

/// Latency of one kind of request: the lowest seen (creeping up slowly,
/// so a server that got slower for good is not read as overloaded
/// forever), and the recent average.
#[derive(Debug, Clone, Copy)]
struct Latency {
    lowest: f64,
    recent: f64,
}

/// The decisions of `--rate auto`, on a clock given to each call.
#[derive(Debug)]
pub struct Controller {
    rate: f64,
    max: f64,
    /// Growing fast until the first sign of a limit.
    starting: bool,
    latency: HashMap<Kind, Latency>,
    /// No second decrease within one round trip of the last: the answers
    /// in flight then were sent at the old rate.
    calm_until: Instant,
    /// Slowed for latency, and answers not fast again yet: a queue at the
    /// server drains for a while, and is one reason to slow down, not one
    /// a round trip.
    slowed: bool,
    paused_until: Instant,
    next_start: Instant,
    /// The rate over the last ten seconds or so, for the summary.
    settled: f64,
    last: Instant,
}

impl Controller {
    pub fn new(start: f64, max: f64, now: Instant) -> Self {
        let rate = start.min(max).max(FLOOR);
        Controller {
            rate,
            max,
            starting: true,
            slowed: false,
            latency: HashMap::new(),
            calm_until: now,
            paused_until: now,
            next_start: now,
            settled: rate,
            last: now,
        }
    }

    /// Requests per second it allows now.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The rate it settled at: its average over the last ten seconds.
    pub fn settled(&self) -> f64 {
        self.settled
    }

    /// Takes the right to start a request now, or says when to ask again.
    /// No start is booked ahead: a new rate applies to the very next one.
    pub fn start(&mut self, now: Instant) -> Result<(), Instant> {
        if self.paused_until > now {
            return Err(self.paused_until);
        }
        if now < self.next_start {
            return Err(self.next_start);
        }
        self.next_start = now + Duration::from_secs_f64(1.0 / self.rate);
        Ok(())
    }

    /// The round trip the rate is judged over: the slowest recent latency
    /// of any kind (a quarter of a second at least).
    fn round_trip(&self) -> f64 {
        self.latency.values().map(|l| l.recent).fold(0.25, f64::max)
    }

    /// What an answer of `kind` said, `latency` after it started.
    pub fn observe(
        &mut self,
        kind: Kind,
        latency: Duration,
        signal: Signal,
        now: Instant,
    ) -> Option<Change> {
        self.average(now);
        match signal {
            Signal::Throttled { pause } => {
                self.paused_until = self.paused_until.max(now + pause);
                self.down(
                    0.5,
                    "the server answered 429 (too many requests)",
                    now,
                    true,
                )
            }
            Signal::Overloaded => {
                self.down(0.5, "the server answered 503 (overloaded)", now, false)
            }
            Signal::TimedOut => self.down(0.5, "a request timed out", now, false),
            Signal::Failed => None,
            Signal::Ok => self.answered(kind, latency.as_secs_f64(), now),
        }
    }

    fn answered(&mut self, kind: Kind, seconds: f64, now: Instant) -> Option<Change> {
        let l = self.latency.entry(kind).or_insert(Latency {
            lowest: seconds,
            recent: seconds,
        });
        l.lowest = (l.lowest * 1.0005).min(seconds).max(1e-6);
        l.recent = 0.8 * l.recent + 0.2 * seconds;
        let ratio = l.recent / l.lowest;
        if ratio > SLOW && !self.slowed {
            self.slowed = true;
            return self.down(
                0.85,
                "answers take well over the lowest latency seen",
                now,
                false,
            );
        }
        if ratio > FAST {
            // A queue is forming at the server: no more doubling.
            self.starting = false;
            return None;
        }
        self.slowed = false;
        // Per answer, so that a round trip of answers grows the rate by
        // half (at first) or a tenth.
        let per_trip = if self.starting { 0.5 } else { 0.1 };
        let answers_per_trip = (self.rate * self.round_trip()).max(1.0);
        let before = self.rate;
        self.rate = (self.rate * (1.0 + per_trip / answers_per_trip)).min(self.max);
        (self.rate > before).then_some(Change::Up)
    }

    /// Slows to `factor` of the rate, at once, once per round trip (a 429
    /// always: each asks for its pause).
    fn down(
        &mut self,
        factor: f64,
        why: &'static str,
        now: Instant,
        always: bool,
    ) -> Option<Change> {
        self.starting = false;
        if now < self.calm_until && !always {
            return None;
        }
        self.rate = (self.rate * factor).max(FLOOR);
        self.calm_until = now + Duration::from_secs_f64(self.round_trip());
        Some(Change::Down(why))
    }

    /// Moves the ten-second average of the rate.
    fn average(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        let w = (dt / 10.0).min(1.0);
        self.settled += (self.rate - self.settled) * w;
    }
}

/// `--rate auto` on the real clock.
pub struct Auto {
    controller: Mutex<Controller>,
    /// When an increase was last logged (at most once a second).
    logged: Mutex<Instant>,
}

impl Auto {
    pub fn new(start: f64, max: f64) -> Self {
        let now = Instant::now();
        log::info!("--rate auto: starting at {start:.1} requests/s, at most {max:.1}");
        Auto {
            controller: Mutex::new(Controller::new(start, max, now)),
            logged: Mutex::new(now),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Controller> {
        self.controller
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl RateControl for Auto {
    fn wait(&self, _kind: Kind, stopping: &dyn Fn() -> bool) -> bool {
        loop {
            let now = Instant::now();
            let next = self.lock().start(now);
            match next {
                Ok(()) => return !stopping(),
                Err(again) => {
                    if !sleep_unless(again.saturating_duration_since(now), stopping) {
                        return false;
                    }
                }
            }
        }
    }

    fn observe(&self, kind: Kind, latency: Duration, signal: Signal) {
        let now = Instant::now();
        let mut c = self.lock();
        match c.observe(kind, latency, signal, now) {
            Some(Change::Down(why)) => {
                log::info!("--rate auto: down to {:.1} requests/s: {why}", c.rate());
            }
            Some(Change::Up) => {
                let mut logged = self.logged.lock().unwrap_or_else(PoisonError::into_inner);
                if now.duration_since(*logged) >= Duration::from_secs(1) {
                    *logged = now;
                    log::info!(
                        "--rate auto: up to {:.1} requests/s: answers come as fast as the fastest seen",
                        c.rate()
                    );
                }
            }
            None => {}
        }
    }

    fn current(&self) -> f64 {
        self.lock().settled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: Kind = Kind::AddAccounts;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A controller fed `n` fast answers, `step` apart, from `t`.
    fn feed(c: &mut Controller, t: &mut Instant, n: usize, latency: Duration, step: Duration) {
        for _ in 0..n {
            *t += step;
            c.observe(K, latency, Signal::Ok, *t);
        }
    }

    #[test]
    fn it_grows_while_answers_are_fast_and_never_past_the_maximum() {
        let mut t = Instant::now();
        let mut c = Controller::new(2.0, 50.0, t);
        feed(&mut c, &mut t, 40, ms(100), ms(50));
        assert!(c.rate() > 8.0, "{}", c.rate());
        feed(&mut c, &mut t, 2000, ms(100), ms(10));
        assert_eq!(c.rate(), 50.0, "capped at --rate-max");
    }

    #[test]
    fn it_backs_off_at_once_on_503_429_timeouts_and_slow_answers() {
        for signal in [
            Signal::Overloaded,
            Signal::TimedOut,
            Signal::Throttled { pause: ms(2000) },
        ] {
            let mut t = Instant::now();
            let mut c = Controller::new(20.0, 200.0, t);
            feed(&mut c, &mut t, 5, ms(100), ms(50));
            let before = c.rate();
            t += ms(10);
            assert!(matches!(
                c.observe(K, ms(0), signal, t),
                Some(Change::Down(_))
            ));
            assert!((c.rate() - before / 2.0).abs() < 1e-9, "{signal:?}");
        }
        // A 429's Retry-After pauses every start.
        let t = Instant::now();
        let mut c = Controller::new(20.0, 200.0, t);
        c.observe(K, ms(0), Signal::Throttled { pause: ms(2000) }, t);
        assert_eq!(c.start(t + ms(100)), Err(t + ms(2000)));
        assert_eq!(c.start(t + ms(2001)), Ok(()));
        // Latency well above the lowest seen for that kind.
        let mut t = Instant::now();
        let mut c = Controller::new(20.0, 200.0, t);
        feed(&mut c, &mut t, 10, ms(100), ms(50));
        let before = c.rate();
        feed(&mut c, &mut t, 5, ms(400), ms(50));
        assert!(c.rate() < before, "{} !< {before}", c.rate());
    }

    #[test]
    fn one_overload_is_one_decrease_and_each_kind_has_its_own_baseline() {
        let mut t = Instant::now();
        let mut c = Controller::new(40.0, 200.0, t);
        feed(&mut c, &mut t, 10, ms(200), ms(20));
        let before = c.rate();
        // A burst of 503s from one overload halves the rate once.
        for _ in 0..10 {
            t += ms(5);
            c.observe(K, ms(0), Signal::Overloaded, t);
        }
        assert!((c.rate() - before / 2.0).abs() < 1e-9);
        // Reads are much faster than adds: neither is slow for the other.
        let mut t = Instant::now();
        let mut c = Controller::new(10.0, 200.0, t);
        for _ in 0..50 {
            t += ms(20);
            c.observe(Kind::ListAccounts, ms(5), Signal::Ok, t);
            c.observe(K, ms(300), Signal::Ok, t);
        }
        assert!(c.rate() > 10.0, "{}", c.rate());
    }

    #[test]
    fn starts_are_spaced_by_the_rate_and_the_summary_gets_its_average() {
        let t = Instant::now();
        let mut c = Controller::new(4.0, 200.0, t);
        assert_eq!(c.start(t), Ok(()));
        assert_eq!(c.start(t + ms(100)), Err(t + ms(250)));
        assert_eq!(c.start(t + ms(250)), Ok(()));
        let mut now = t;
        feed(&mut c, &mut now, 200, ms(50), ms(100));
        assert!(c.settled() > 4.0 && c.settled() <= c.rate() + 1e-9);
    }
}
