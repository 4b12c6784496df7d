//! Sending: a pool of worker threads takes planned requests in order, under
//! one rate limiter, retries what is safe to retry, and records every row's
//! result as its answer comes back.
//!
//! The retry policy follows DESIGN.md's "Retrying without doing anything
//! twice": a job that is safe to repeat (adding accounts) retries every
//! transport failure; one that is not (password requests) retries only what
//! surely never reached the server, and reports the rest `unconfirmed`.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::{Quota, RateLimiter, clock::Clock, clock::DefaultClock};

use crate::job::{Checked, Job, Verdict};
use crate::outcome::{Outcome, RowResult};
use crate::pam360::{Attempt, Client, Failure};
use crate::plan::Unit;
use crate::secret::mask;

/// How to send.
#[derive(Debug, Clone)]
pub struct SendConfig {
    pub concurrency: usize,
    /// Requests per second at most.
    pub rate: f64,
    pub retries: u32,
    /// Longest a run may be throttled (429) without one success.
    pub max_throttle: Duration,
}

/// Why a run stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Abort {
    /// The server refused the token or this host.
    Auth(String),
    /// Too many requests in a row failed in transport.
    Unreachable(String),
    /// Throttled for longer than `--max-throttle`.
    Throttled,
    /// SIGINT or SIGTERM.
    Interrupted,
    /// The server's certificate was refused.
    Certificate(String),
}

impl Abort {
    pub fn describe(&self) -> String {
        match self {
            Abort::Auth(m) => format!("the server refused the API token ({m}); check PAM360_AUTHTOKEN or --token-file, and that this host may use the API"),
            Abort::Unreachable(m) => format!("the server is unreachable ({m}); the rest was not sent. When it is back, run again with --resume naming this report"),
            Abort::Throttled => "the server kept answering 429 (too many requests) for longer than --max-throttle; lower --rate, then --resume".into(),
            Abort::Interrupted => "interrupted; what was in flight finished, the rest was not sent. Run again with --resume naming this report".into(),
            Abort::Certificate(m) => format!("{m}; nothing was sent. Trust the certificate with --ca-cert or --pin-sha256"),
        }
    }
}

/// Where results go as they happen (the journal, the progress bar).
pub trait Recorder: Sync {
    /// These rows are about to be sent.
    fn sending(&self, rows: &[u32]);
    /// These rows have their results.
    fn answered(&self, rows: &[u32], results: &[RowResult]);
}

/// What a send did.
#[derive(Debug)]
pub struct Sent {
    /// (checked row, its result) for every row taken up; rows never taken
    /// up are absent.
    pub results: Vec<(u32, RowResult)>,
    pub requests: u64,
    pub retries: u64,
    pub aborted: Option<Abort>,
}

/// Sends `units` and returns every row's result.
#[allow(clippy::too_many_arguments)]
pub fn send<J: Job>(
    job: &J,
    client: &Client,
    token: &str,
    items: &[Checked<J::Item>],
    units: &[Unit],
    cfg: &SendConfig,
    recorder: &dyn Recorder,
    stop: &AtomicBool,
) -> Sent {
    let shared = Shared {
        job,
        client,
        token,
        items,
        cfg,
        recorder,
        stop,
        limiter: Limiter::new(cfg.rate),
        next: AtomicUsize::new(0),
        requests: AtomicU64::new(0),
        retries: AtomicU64::new(0),
        transport_streak: AtomicU32::new(0),
        abort: Mutex::new(None),
        results: Mutex::new(Vec::new()),
    };
    let workers = cfg.concurrency.clamp(1, units.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| shared.work(units));
        }
    });
    let aborted = shared
        .abort
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    Sent {
        results: shared
            .results
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner),
        requests: shared.requests.into_inner(),
        retries: shared.retries.into_inner(),
        aborted,
    }
}

struct Shared<'a, J: Job> {
    job: &'a J,
    client: &'a Client,
    token: &'a str,
    items: &'a [Checked<J::Item>],
    cfg: &'a SendConfig,
    recorder: &'a dyn Recorder,
    stop: &'a AtomicBool,
    limiter: Limiter,
    next: AtomicUsize,
    requests: AtomicU64,
    retries: AtomicU64,
    transport_streak: AtomicU32,
    abort: Mutex<Option<Abort>>,
    results: Mutex<Vec<(u32, RowResult)>>,
}

/// The last thing that happened to a unit, when it ends without an answer.
enum Ending {
    Verdicts(Vec<Verdict>, u16),
    Same(RowResult),
}

impl<J: Job> Shared<'_, J> {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn abort(&self, why: Abort) {
        let mut a = self.abort.lock().unwrap_or_else(PoisonError::into_inner);
        if a.is_none() {
            log::warn!("stopping: {}", why.describe());
            *a = Some(why);
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    fn work(&self, units: &[Unit]) {
        loop {
            if self.stopping() {
                return;
            }
            let n = self.next.fetch_add(1, Ordering::SeqCst);
            let Some(unit) = units.get(n) else { return };
            let Some(results) = self.run_unit(unit) else {
                // Stopped before the first attempt: the rows stay untaken.
                return;
            };
            self.recorder.answered(&unit.items, &results);
            let mut all = self.results.lock().unwrap_or_else(PoisonError::into_inner);
            all.extend(unit.items.iter().copied().zip(results));
        }
    }

    /// Sends one unit until it has an answer or may not be tried again.
    /// `None` when the run stopped before anything was sent.
    fn run_unit(&self, unit: &Unit) -> Option<Vec<RowResult>> {
        let rows: Vec<&J::Item> = unit
            .items
            .iter()
            .map(|&i| &self.items[i as usize].item)
            .collect();
        let mut body = Vec::with_capacity(64 + rows.len() * 256);
        body.extend_from_slice(b"{\"operation\":{\"Details\":");
        self.job.details(&rows, &mut body);
        body.extend_from_slice(b"}}");
        // Built from `str`s and ASCII JSON punctuation only.
        let input_data = String::from_utf8(body).expect("request body is UTF-8");
        let path = self.job.path(unit.target);
        // A server may echo what it got as JSON or as form data: mask those
        // spellings of each secret too.
        let secrets: Vec<String> = rows
            .iter()
            .flat_map(|r| self.job.secrets(r))
            .chain(std::iter::once(self.token.to_string()))
            .flat_map(|s| {
                let json = serde_json::to_string(&s).unwrap_or_default();
                let json = json.trim_matches('"').to_string();
                let form: String = form_urlencoded::byte_serialize(s.as_bytes()).collect();
                [s, json, form]
            })
            .collect();
        let masked = |s: &str| {
            let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
            mask(s, &refs)
        };

        let mut attempts = 0u32;
        let mut retries_left = self.cfg.retries;
        // Whether an attempt may have been acted on: a 429 or 503 was not,
        // nor a connection never made.
        let mut maybe_processed = false;
        let mut journaled = false;
        let ending = loop {
            if !self.limiter.wait(self.stop) {
                if attempts == 0 {
                    return None;
                }
                let outcome = if maybe_processed && self.job.idempotent() {
                    Outcome::Unconfirmed
                } else {
                    Outcome::NotSent
                };
                break Ending::Same(RowResult::new(
                    outcome,
                    "the run stopped before this request could be tried again",
                ));
            }
            if !journaled {
                self.recorder.sending(&unit.items);
                journaled = true;
            }
            attempts += 1;
            if attempts > 1 {
                self.retries.fetch_add(1, Ordering::Relaxed);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let attempt = self.client.post(&path, unit.org.as_deref(), &input_data);
            let retry = |retries_left: &mut u32| -> bool {
                if *retries_left == 0 {
                    return false;
                }
                *retries_left -= 1;
                sleep_unless(backoff(attempts), self.stop)
            };
            match attempt {
                Attempt::Http {
                    http,
                    answer,
                    snippet,
                    retry_after,
                } => {
                    maybe_processed |= !matches!(http, 429 | 503);
                    self.transport_streak.store(0, Ordering::SeqCst);
                    if http == 429 {
                        // Throttling uses no retries; --max-throttle bounds it.
                        if !self.limiter.throttled(retry_after, self.cfg.max_throttle) {
                            self.abort(Abort::Throttled);
                            break Ending::Same(RowResult {
                                http_status: Some(429),
                                ..RowResult::new(
                                    Outcome::NotSent,
                                    "throttled (429) for longer than --max-throttle",
                                )
                            });
                        }
                        continue;
                    }
                    let refused = answer.as_ref().is_some_and(|a| a.is_auth_failure())
                        || matches!(http, 401 | 403);
                    if refused {
                        let msg = answer
                            .as_ref()
                            .map(|a| masked(&a.message))
                            .unwrap_or_else(|| format!("HTTP {http}"));
                        self.abort(Abort::Auth(msg.clone()));
                        break Ending::Same(RowResult {
                            http_status: Some(http),
                            ..RowResult::new(
                                Outcome::Failed,
                                format!("authentication refused: {msg}"),
                            )
                        });
                    }
                    if let Some(a) = answer {
                        self.limiter.succeeded();
                        break Ending::Verdicts(self.job.reconcile(&a, &rows), http);
                    }
                    // Not PAM360 JSON. A 503 was not processed; a 502/504 or
                    // a 200 that is not JSON may have been.
                    let unprocessed = http == 503;
                    let ambiguous = matches!(http, 502 | 504) || (200..300).contains(&http);
                    if (unprocessed || (ambiguous && self.job.idempotent()))
                        && retry(&mut retries_left)
                    {
                        continue;
                    }
                    let what = format!("HTTP {http}: {}", masked(snippet.trim()));
                    let result = if ambiguous {
                        RowResult::new(
                            Outcome::Unconfirmed,
                            format!(
                                "no usable answer ({what}); the server may have done it: check before resending"
                            ),
                        )
                    } else {
                        RowResult::new(Outcome::Failed, format!("the server answered {what}"))
                    };
                    break Ending::Same(RowResult {
                        http_status: Some(http),
                        ..result
                    });
                }
                Attempt::Failed(Failure::Certificate(e)) => {
                    self.abort(Abort::Certificate(masked(&e)));
                    break Ending::Same(RowResult::new(
                        Outcome::NotSent,
                        "the server's certificate was refused",
                    ));
                }
                Attempt::Failed(f) => {
                    let never = f.never_sent();
                    maybe_processed |= !never;
                    log::debug!("{} {path}: {}", self.job.name(), masked(&f.describe()));
                    if (never || self.job.idempotent()) && retry(&mut retries_left) {
                        continue;
                    }
                    let streak = self.transport_streak.fetch_add(1, Ordering::SeqCst) + 1;
                    let limit = (2 * self.cfg.concurrency as u32).max(5);
                    if streak >= limit {
                        self.abort(Abort::Unreachable(format!(
                            "{streak} requests in a row failed: {}",
                            masked(&f.describe())
                        )));
                    }
                    let result = if maybe_processed {
                        RowResult::new(
                            Outcome::Unconfirmed,
                            format!("{}; the server may have received it", masked(&f.describe())),
                        )
                    } else {
                        RowResult::new(
                            Outcome::NotSent,
                            format!("{}; the server did not act on it", masked(&f.describe())),
                        )
                    };
                    break Ending::Same(result);
                }
            }
        };
        let results = match ending {
            Ending::Same(r) => rows.iter().map(|_| RowResult { attempts, ..r.clone() }).collect(),
            Ending::Verdicts(verdicts, http) => verdicts
                .into_iter()
                .map(|v| {
                    let mut message = masked(&v.message);
                    if v.outcome == Outcome::Exists && attempts > 1 {
                        message = format!(
                            "already on the server after {attempts} attempts: an earlier attempt whose answer was lost stored it"
                        );
                    }
                    RowResult {
                        outcome: v.outcome,
                        status: masked(&v.status),
                        http_status: Some(http),
                        attempts,
                        message,
                    }
                })
                .collect(),
        };
        Some(results)
    }
}

/// Exponential backoff with jitter: 0.25 s, 0.5 s, 1 s… capped at 10 s.
fn backoff(attempt: u32) -> Duration {
    let base = 0.25 * 2f64.powi(attempt.saturating_sub(1).min(6) as i32);
    let base = base.min(10.0);
    Duration::from_secs_f64(base * (0.5 + rand::random::<f64>() * 0.5))
}

/// Sleeps `d` in short steps; false when the run was stopped meanwhile.
fn sleep_unless(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// The rate limiter: governor enforces `--rate` (burst 1, so no one-second
/// window sees more than ⌈R⌉ starts); after a 429 every worker pauses and an
/// extra spacing slows the rate, which grows back as requests succeed.
struct Limiter {
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
    /// When the current run of 429s without a success began.
    since: Option<Instant>,
}

/// Longest pause one `Retry-After` may impose.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

impl Limiter {
    fn new(rate: f64) -> Self {
        let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
        let quota = Quota::with_period(period).expect("a positive period");
        let now = Instant::now();
        Limiter {
            governor: RateLimiter::direct(quota),
            rate,
            throttle: Mutex::new(Throttle {
                paused_until: now,
                factor: 1.0,
                next_slot: now,
                successes: 0,
                since: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Throttle> {
        self.throttle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the right to start a request; false if the run stopped.
    fn wait(&self, stop: &AtomicBool) -> bool {
        loop {
            let paused = self.lock().paused_until;
            let now = Instant::now();
            if paused > now {
                if !sleep_unless(paused - now, stop) {
                    return false;
                }
                continue;
            }
            if stop.load(Ordering::SeqCst) {
                return false;
            }
            match self.governor.check() {
                Ok(()) => break,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(DefaultClock::default().now());
                    if !sleep_unless(wait, stop) {
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
        sleep_unless(slot.saturating_duration_since(Instant::now()), stop)
    }

    /// A 429: pause everyone, halve the rate (once per pause). False when
    /// throttling has lasted longer than `max`.
    fn throttled(&self, retry_after: Option<Duration>, max: Duration) -> bool {
        let mut t = self.lock();
        let now = Instant::now();
        let since = *t.since.get_or_insert(now);
        if now.duration_since(since) > max {
            return false;
        }
        let pause = retry_after
            .unwrap_or(Duration::from_secs(1))
            .min(MAX_RETRY_AFTER);
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
        true
    }

    /// A success: the rate grows back by a tenth of `--rate` per ten.
    fn succeeded(&self) {
        let mut t = self.lock();
        t.since = None;
        if t.factor < 1.0 {
            t.successes += 1;
            if t.successes >= 10 {
                t.successes = 0;
                t.factor = (t.factor + 0.1).min(1.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_never_bursts() {
        // 20/s for a bounded 40 starts: no 1 s window may hold more than 20.
        let lim = Limiter::new(20.0);
        let stop = AtomicBool::new(false);
        let starts: Vec<Instant> = (0..40)
            .map(|_| {
                assert!(lim.wait(&stop));
                Instant::now()
            })
            .collect();
        for (i, s) in starts.iter().enumerate() {
            let in_window = starts[i..]
                .iter()
                .take_while(|t| t.duration_since(*s) < Duration::from_secs(1))
                .count();
            assert!(in_window <= 20, "{in_window} starts within one second");
        }
    }

    #[test]
    fn throttle_halves_then_recovers() {
        let lim = Limiter::new(10.0);
        assert!(lim.throttled(Some(Duration::ZERO), Duration::from_secs(60)));
        assert_eq!(lim.lock().factor, 0.5);
        for _ in 0..10 {
            lim.succeeded();
        }
        assert!((lim.lock().factor - 0.6).abs() < 1e-9);
        for _ in 0..100 {
            lim.succeeded();
        }
        assert_eq!(lim.lock().factor, 1.0);
    }
}
