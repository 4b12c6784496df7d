//! Sending: a pool of worker threads takes planned requests in order, under
//! one rate limiter, retries what is safe to retry, and records every row's
//! result as its answer comes back.
//!
//! What follows each attempt (retry, unconfirmed, not sent, stop) is one
//! pure rule, `pam360::next_step`; this module carries it out.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::{Quota, RateLimiter, clock::Clock, clock::DefaultClock};

use crate::job::{Checked, Job, Verdict};
use crate::outcome::{Outcome, RowResult};
use crate::pam360::{Answer, Attempt, Client, Failure, Step, StopReason, Tried, next_step};
use crate::plan::Unit;
use crate::secret::{Scrubber, Secret};

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
    /// Too many requests in a row failed in transport, or got answers that
    /// are not PAM360's.
    Unreachable(String),
    /// Too many requests in a row got no answer within `--timeout`.
    TimedOut(String),
    /// The server answered with a redirect (to this Location).
    Redirect(String),
    /// The journal could not be written.
    Journal,
    /// Throttled for longer than `--max-throttle`.
    Throttled,
    /// SIGINT or SIGTERM.
    Interrupted,
    /// The server's certificate was refused before anything was answered.
    Certificate(String),
    /// The server's certificate failed after requests were answered.
    CertificateChanged,
    /// The resource list could not be read whole (names cannot be resolved).
    Listing(String),
}

impl Abort {
    /// What happened and what to do, for a run that was sending.
    pub fn describe(&self) -> String {
        self.describe_in(false)
    }

    /// What happened and what to do; a dry run is run again, never
    /// resumed (it wrote nothing to resume).
    pub fn describe_in(&self, dry_run: bool) -> String {
        let again = |real: &str| {
            if dry_run {
                "run the dry run again".to_string()
            } else {
                real.to_string()
            }
        };
        match self {
            Abort::Auth(m) => format!("the server refused the API token ({m}); check PAM360_AUTHTOKEN or --token-file, and that this host may use the API"),
            Abort::Unreachable(m) => format!("the server is unreachable or not PAM360 ({m}); the rest was not sent. When it is back, {}", again("run again with --resume naming this report")),
            Abort::TimedOut(m) => format!("the server did not answer in time ({m}); the rest was not sent. Raise --timeout, or {}", again("run again later with --resume naming this report")),
            Abort::Redirect(l) => format!("the server answered with a redirect to {l}, which is never followed (the token would go with it): check --server, which must be the PAM360 address itself (https, host and port)"),
            Abort::Journal => "the journal could not be written (is the disk full?); sending stopped and the rest was not sent".into(),
            Abort::Throttled => format!("the server kept answering 429 (too many requests) for longer than --max-throttle; lower --rate, then {}", again("--resume")),
            Abort::Interrupted => format!("interrupted; what was in flight finished, the rest was not sent. {}", if dry_run { "Nothing was written to the server; run the dry run again".to_string() } else { "Run again with --resume naming this report".to_string() }),
            Abort::Certificate(m) => format!("{m}; nothing was sent. {}", crate::pam360::certificate_hint(m)),
            Abort::CertificateChanged => "the server's certificate failed verification after requests were sent: another certificate than the one this run trusted (--pin-sha256, --ca-cert) answers now, from another server or from something in between. The rest was not sent. Find out why with the PAM360 administrator before trusting any new certificate".into(),
            Abort::Listing(m) => format!("{m}; nothing was written, since names cannot be resolved on part of the list"),
        }
    }
}

/// Where results go as they happen (the journal, the progress bar).
pub trait Recorder: Sync {
    /// These rows are about to be sent; false when that could not be
    /// recorded (the journal failed), and then they are not sent.
    fn sending(&self, rows: &[u32]) -> bool;
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

/// The way to the server a run uses for every read and write: one client
/// (its TLS trust and proxy), the token, and one rate limiter.
pub struct Link {
    pub client: Client,
    pub token: Secret,
    pub limiter: Limiter,
}

/// Sends `units` and returns every row's result.
pub fn send<J: Job>(
    job: &J,
    link: &Link,
    items: &[Checked<J::Item>],
    units: &[Unit],
    cfg: &SendConfig,
    recorder: &dyn Recorder,
    stop: &AtomicBool,
) -> Sent {
    let shared = Shared {
        job,
        client: &link.client,
        token: link.token.expose(),
        items,
        cfg,
        recorder,
        stop,
        limiter: &link.limiter,
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
    limiter: &'a Limiter,
    next: AtomicUsize,
    requests: AtomicU64,
    retries: AtomicU64,
    transport_streak: AtomicU32,
    abort: Mutex<Option<Abort>>,
    results: Mutex<Vec<(u32, RowResult)>>,
}

/// The last thing that happened to a unit, when it ends without an answer.
enum Ending {
    /// The verdicts, the HTTP status, and whether an earlier attempt may
    /// have been acted on.
    Verdicts(Vec<Verdict>, u16, bool),
    Same(RowResult),
}

impl<J: Job> Shared<'_, J> {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn abort(&self, why: Abort) {
        let mut a = self.abort.lock().unwrap_or_else(PoisonError::into_inner);
        if a.is_none() {
            // The summary says why, once; this is for a -v log of a long run.
            log::info!("stopping: {}", why.describe());
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
        let input_data = self.job.input_data(&rows);
        let path = self.job.path(unit.target);
        // Whatever the server says back is masked of every secret this
        // request held, in every spelling, before it is logged or reported.
        // Built once, when there is something to mask.
        let scrubber = std::cell::OnceCell::new();
        let scrub = |text: &str| {
            scrubber
                .get_or_init(|| {
                    let secrets: Vec<String> =
                        rows.iter().flat_map(|r| self.job.secrets(r)).collect();
                    let secrets = secrets.iter().map(String::as_str);
                    Scrubber::new(
                        secrets
                            .chain(std::iter::once(self.token))
                            .chain(self.client.secrets()),
                    )
                })
                .scrub(text)
        };
        let mut tried = Tried {
            idempotent: self.job.idempotent(),
            read: false,
            retries_left: self.cfg.retries,
            maybe_processed: false,
        };
        let mut attempts = 0u32;
        let ending = loop {
            if !self.limiter.wait(self.stop) {
                if attempts == 0 {
                    return None;
                }
                break Ending::Same(stopped(&tried, None));
            }
            // A request that must not be repeated goes only once its
            // in-flight line is on disk: after a crash, the journal knows.
            if attempts == 0 && !self.recorder.sending(&unit.items) {
                return None;
            }
            attempts += 1;
            if attempts > 1 {
                self.retries.fetch_add(1, Ordering::Relaxed);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let began = Instant::now();
            let attempt = self.client.post(&path, unit.org.as_deref(), &input_data);
            let step = next_step(tried, &attempt);
            // One line per request at -v: what an administrator debugging a
            // run wants, and never a body.
            log::info!(
                "POST {path} ({} rows): {} (attempt {attempts}, {} ms)",
                rows.len(),
                scrub(&attempt.summary()),
                began.elapsed().as_millis()
            );
            // Whether an attempt before this one may have been acted on:
            // only then can "exists" mean an earlier attempt stored it.
            let earlier_processed = tried.maybe_processed;
            tried.maybe_processed |= attempt.may_have_been_processed();
            match self.carry_out(step, attempt, &mut tried, attempts, &scrub) {
                Next::Again => {}
                Next::Answered(answer, http) => {
                    let verdicts = self.job.reconcile(&answer, &rows);
                    break Ending::Verdicts(verdicts, http, earlier_processed);
                }
                Next::End(result) => break Ending::Same(result),
            }
        };
        Some(row_results(ending, rows.len(), attempts, &scrub))
    }

    /// Carries out what [`next_step`] decided for one attempt.
    fn carry_out(
        &self,
        step: Step,
        attempt: Attempt,
        tried: &mut Tried,
        attempts: u32,
        scrub: &dyn Fn(&str) -> String,
    ) -> Next {
        let http = attempt.http_status();
        match step {
            Step::Answered => {
                self.transport_streak.store(0, Ordering::SeqCst);
                self.limiter.succeeded();
                match attempt {
                    Attempt::Http {
                        answer: Some(a), ..
                    } => Next::Answered(a, http.unwrap_or(200)),
                    // next_step answers only a PAM360 answer.
                    _ => Next::End(RowResult::new(Outcome::Unconfirmed, "no usable answer")),
                }
            }
            Step::Retry => {
                tried.retries_left = tried.retries_left.saturating_sub(1);
                if sleep_unless(backoff(attempts), self.stop) {
                    Next::Again
                } else {
                    Next::End(stopped(tried, http))
                }
            }
            Step::Throttled => {
                let retry_after = match attempt {
                    Attempt::Http { retry_after, .. } => retry_after,
                    _ => None,
                };
                // Throttling uses no retries; --max-throttle bounds it.
                if self.limiter.throttled(retry_after, self.cfg.max_throttle) {
                    return Next::Again;
                }
                self.abort(Abort::Throttled);
                let mut r = stopped(tried, Some(429));
                r.message = "throttled (429) for longer than --max-throttle".into();
                Next::End(r)
            }
            Step::End {
                outcome,
                reason,
                unreachable,
            } => {
                if unreachable {
                    self.count_unreachable(&attempt, scrub);
                } else {
                    self.transport_streak.store(0, Ordering::SeqCst);
                }
                Next::End(RowResult {
                    http_status: http,
                    ..RowResult::new(outcome, scrub(&reason))
                })
            }
            Step::Stop { reason, outcome } => {
                let (abort, message) = stop_reason(reason, scrub);
                self.abort(abort);
                Next::End(RowResult {
                    http_status: http,
                    ..RowResult::new(outcome, message)
                })
            }
        }
    }

    /// A request ended without a PAM360 answer: too many in a row and the
    /// server counts as unreachable.
    fn count_unreachable(&self, attempt: &Attempt, scrub: &dyn Fn(&str) -> String) {
        let streak = self.transport_streak.fetch_add(1, Ordering::SeqCst) + 1;
        let limit = (2 * self.cfg.concurrency as u32).max(5);
        if streak >= limit {
            let why = scrub(&attempt.describe_answer());
            self.abort(if matches!(attempt, Attempt::Failed(Failure::Timeout)) {
                Abort::TimedOut(format!(
                    "{streak} requests in a row got no answer within --timeout"
                ))
            } else {
                Abort::Unreachable(format!("{streak} requests in a row failed: {why}"))
            });
        }
    }
}

/// Every row's result once a request has ended: the verdicts of an answer
/// (masked), or the one result a request without an answer gives each row.
fn row_results(
    ending: Ending,
    rows: usize,
    attempts: u32,
    scrub: &dyn Fn(&str) -> String,
) -> Vec<RowResult> {
    match ending {
        Ending::Same(r) => (0..rows)
            .map(|_| RowResult {
                attempts,
                ..r.clone()
            })
            .collect(),
        Ending::Verdicts(verdicts, http, earlier_processed) => verdicts
            .into_iter()
            .map(|v| {
                let mut message = scrub(&v.message);
                // Only when an earlier attempt may have been acted on can
                // "exists" mean that attempt stored it.
                if v.outcome == Outcome::Exists && earlier_processed {
                    message = format!(
                        "already on the server after {attempts} attempts: an earlier attempt whose answer was lost may have stored it"
                    );
                }
                RowResult {
                    outcome: v.outcome,
                    status: scrub(&v.status),
                    http_status: Some(http),
                    attempts,
                    message,
                }
            })
            .collect(),
    }
}

/// What a worker does after an attempt.
enum Next {
    /// Try the same request again.
    Again,
    /// A PAM360 answer to read row by row, with its HTTP status.
    Answered(Answer, u16),
    /// The request is over; every row gets this result.
    End(RowResult),
}

/// The result of a request the run stopped before it could be retried.
fn stopped(tried: &Tried, http: Option<u16>) -> RowResult {
    // An earlier attempt may have been acted on: the answer is unknown (a
    // resume resends an account, which is safe, and holds a request back).
    let outcome = if tried.maybe_processed {
        Outcome::Unconfirmed
    } else {
        Outcome::NotSent
    };
    RowResult {
        http_status: http,
        ..RowResult::new(
            outcome,
            "the run stopped before this request could be tried again",
        )
    }
}

/// Why the run stops, and what the request's rows say about it.
pub(crate) fn stop_reason(reason: StopReason, scrub: &dyn Fn(&str) -> String) -> (Abort, String) {
    match reason {
        StopReason::Auth(m) => {
            let m = scrub(&m);
            let message = format!("authentication refused: {m}");
            (Abort::Auth(m), message)
        }
        StopReason::Redirect(location) => {
            let location = scrub(&location);
            let message = format!(
                "not sent: the server redirected to {location}; redirects are never followed"
            );
            (Abort::Redirect(location), message)
        }
        StopReason::CertificateChanged => (
            Abort::CertificateChanged,
            "not sent: the server's certificate changed after requests were sent".to_string(),
        ),
        StopReason::Certificate(e) => (
            Abort::Certificate(scrub(&e)),
            "the server's certificate was refused".to_string(),
        ),
    }
}

/// Exponential backoff with jitter: 0.25 s, 0.5 s, 1 s… capped at 10 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 0.25 * 2f64.powi(attempt.saturating_sub(1).min(6) as i32);
    let base = base.min(10.0);
    Duration::from_secs_f64(base * (0.5 + rand::random::<f64>() * 0.5))
}

/// Sleeps `d` in short steps; false when the run was stopped meanwhile.
pub(crate) fn sleep_unless(d: Duration, stop: &AtomicBool) -> bool {
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

/// Seconds between starts at `--rate R`: at least 1/R, and at least
/// 1.05/⌈R⌉ so that any ⌈R⌉+1 consecutive starts span 1.05 s. Starts spaced
/// exactly 1/R arrive closer together once the network or the machine
/// jitters, and a server that counts per second refuses the extra one.
fn start_spacing(rate: f64) -> f64 {
    let rate = rate.max(0.001);
    (1.0 / rate).max(1.05 / rate.ceil())
}

/// The rate limiter: governor enforces `--rate` (burst 1, so no one-second
/// window sees more than ⌈R⌉ starts); after a 429 every worker pauses and an
/// extra spacing slows the rate, which grows back as requests succeed.
pub struct Limiter {
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

use crate::pam360::MAX_RETRY_AFTER;

impl Limiter {
    pub fn new(rate: f64) -> Self {
        let period = Duration::from_secs_f64(start_spacing(rate));
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
    pub fn wait(&self, stop: &AtomicBool) -> bool {
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
    pub fn throttled(&self, retry_after: Option<Duration>, max: Duration) -> bool {
        let mut t = self.lock();
        let now = Instant::now();
        let since = *t.since.get_or_insert(now);
        if now.duration_since(since) > max {
            return false;
        }
        // Never longer than what is left of --max-throttle: a server asking
        // for an hour's pause must not hold the run past the user's limit.
        let left = max.saturating_sub(now.duration_since(since));
        let pause = retry_after
            .unwrap_or(Duration::from_secs(1))
            .min(MAX_RETRY_AFTER)
            .min(left);
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
    pub fn succeeded(&self) {
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

    /// When `n` requests may start under a limiter at `rate`.
    fn starts(rate: f64, n: usize) -> Vec<Instant> {
        let lim = Limiter::new(rate);
        let stop = AtomicBool::new(false);
        (0..n)
            .map(|_| {
                assert!(lim.wait(&stop));
                Instant::now()
            })
            .collect()
    }

    #[test]
    fn limiter_never_bursts() {
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
