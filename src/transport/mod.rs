//! The one way every request of a run goes, read or write: one client (its
//! TLS trust and proxy), the token, one rate seam ([`rate`]), one retry
//! loop, one worker pool and one rule for when the server counts as
//! unreachable.
//!
//! What follows each attempt (retry, throttled, unconfirmed, not sent,
//! stop) is the pure rule `pam360::next_step`; this module carries it out
//! for any [`Call`], whatever its kind.

pub mod auto;
pub mod rate;

use std::cell::OnceCell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::op::Call;
use crate::outcome::Outcome;
use crate::pam360::{
    Answer, Attempt, Client, Failure, MAX_RETRY_AFTER, Step, StopReason, Tried, next_step,
};
use crate::secret::{Scrubber, Secret};
use rate::{RateControl, Signal, sleep_unless};

/// How requests are sent.
#[derive(Debug, Clone)]
pub struct Settings {
    pub concurrency: usize,
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
    /// A list the run needs could not be read whole.
    Listing(String),
}

/// How a run that stopped is finished, for the advice its messages give:
/// a dry run is run again, a run resumed from its report, and a run with
/// `--history` is simply run again (it resumes by itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Again {
    DryRun,
    Resume,
    History,
}

impl Again {
    /// "run again with --resume naming this report", or its like;
    /// `later` when the server needs time first.
    fn advice(self, later: bool) -> String {
        let when = if later { " later" } else { "" };
        match self {
            Again::DryRun => "run the dry run again".into(),
            Again::Resume => format!("run again{when} with --resume naming this report"),
            Again::History => {
                format!("run the same command again{when} (--history resumes from this run)")
            }
        }
    }
}

impl Abort {
    /// What happened and what to do, for a run that was sending.
    pub fn describe(&self) -> String {
        self.describe_in(Again::Resume)
    }

    /// What happened and what to do, in the words of how the run is
    /// finished (see [`Again`]).
    pub fn describe_in(&self, again: Again) -> String {
        match self {
            Abort::Auth(m) => format!(
                "the server refused the API token ({m}); check PAM360_AUTHTOKEN or --token-file, and that this host may use the API"
            ),
            Abort::Unreachable(m) => format!(
                "the server is unreachable or not PAM360 ({m}); the rest was not sent. When it is back, {}",
                again.advice(false)
            ),
            Abort::TimedOut(m) => format!(
                "the server did not answer in time ({m}); the rest was not sent. Raise --timeout, or {}",
                again.advice(true)
            ),
            Abort::Redirect(l) => format!(
                "the server answered with a redirect to {l}, which is never followed (the token would go with it): check --server, which must be the PAM360 address itself (https, host and port)"
            ),
            Abort::Journal => "the journal could not be written (is the disk full?); sending stopped and the rest was not sent".into(),
            Abort::Throttled => format!(
                "the server kept answering 429 (too many requests) for longer than --max-throttle; lower --rate, then {}",
                again.advice(false)
            ),
            Abort::Interrupted if again == Again::DryRun => {
                "interrupted; nothing was written to the server. Run the dry run again".into()
            }
            Abort::Interrupted => format!(
                "interrupted; what was in flight finished, the rest was not sent. To finish, {}",
                again.advice(false)
            ),
            Abort::Certificate(m) => format!(
                "{m}; nothing was sent. {}",
                crate::pam360::certificate_hint(m)
            ),
            Abort::CertificateChanged => "the server's certificate failed verification after requests were sent: another certificate than the one this run trusted (--pin-sha256, --ca-cert) answers now, from another server or from something in between. The rest was not sent. Find out why with the PAM360 administrator before trusting any new certificate".into(),
            Abort::Listing(m) => format!(
                "{m}; nothing was written, since names cannot be resolved on part of the list"
            ),
        }
    }
}

/// How one call ended.
#[derive(Debug)]
pub enum Delivery {
    /// A PAM360 answer, with its HTTP status.
    Answered {
        answer: Answer,
        http: u16,
        /// Whether an attempt before the answered one may have been acted
        /// on: only then can "exists" mean an earlier attempt stored it.
        earlier_processed: bool,
        attempts: u32,
    },
    /// No usable answer: what the server may have done with it, and why
    /// (masked).
    Ended {
        outcome: Outcome,
        reason: String,
        http: Option<u16>,
        attempts: u32,
    },
    /// Not sent at all: the run stopped first, or the journal could not
    /// record it.
    Untaken,
}

/// A call and its end, with what masks the secrets it carried.
pub struct Exchange<'t> {
    pub delivery: Delivery,
    secrets: Vec<String>,
    transport: &'t Transport<'t>,
    scrubber: OnceCell<Scrubber>,
}

impl Exchange<'_> {
    /// `text` with every secret of the call, the token and a proxy's
    /// password masked: whatever the server says back goes through here
    /// before it is logged or reported.
    pub fn scrub(&self, text: &str) -> String {
        self.scrubber
            .get_or_init(|| self.transport.scrubber(&self.secrets))
            .scrub(text)
    }
}

/// The transport of a run.
pub struct Transport<'s> {
    client: Client,
    token: Secret,
    rate: Box<dyn RateControl>,
    settings: Settings,
    /// Set by SIGINT/SIGTERM.
    stop: &'s AtomicBool,
    requests: AtomicU64,
    retries: AtomicU64,
    /// Requests in a row that ended without a PAM360 answer.
    streak: AtomicU32,
    /// When the current run of 429s without an answer began.
    throttled_since: Mutex<Option<Instant>>,
    abort: Mutex<Option<Abort>>,
    halted: AtomicBool,
}

impl<'s> Transport<'s> {
    pub fn new(
        client: Client,
        token: Secret,
        rate: Box<dyn RateControl>,
        settings: Settings,
        stop: &'s AtomicBool,
    ) -> Self {
        Transport {
            client,
            token,
            rate,
            settings,
            stop,
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            streak: AtomicU32::new(0),
            throttled_since: Mutex::new(None),
            abort: Mutex::new(None),
            halted: AtomicBool::new(false),
        }
    }

    /// The run is over: its client, to be closed.
    pub fn into_client(self) -> Client {
        self.client
    }

    /// Requests sent so far, and the retries among them.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.retries.load(Ordering::Relaxed),
        )
    }

    /// The rate it allows now.
    pub fn rate(&self) -> f64 {
        self.rate.current()
    }

    /// Why the run stopped, if it did.
    pub fn aborted(&self) -> Option<Abort> {
        self.abort
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether no new request should start: a signal, or an abort.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.halted.load(Ordering::SeqCst)
    }

    /// The run's stop flag (a signal), for work between requests.
    pub fn stop_flag(&self) -> &AtomicBool {
        self.stop
    }

    /// Stops the run: what is in flight finishes, nothing new starts.
    pub fn abort(&self, why: Abort) {
        let mut a = self.abort.lock().unwrap_or_else(PoisonError::into_inner);
        if a.is_none() {
            // The summary says why, once; this is for a -v log of a long run.
            log::info!("stopping: {}", why.describe());
            *a = Some(why);
        }
        self.halted.store(true, Ordering::SeqCst);
    }

    fn scrubber(&self, secrets: &[String]) -> Scrubber {
        let secrets = secrets.iter().map(String::as_str);
        Scrubber::new(
            secrets
                .chain(std::iter::once(self.token.expose()))
                .chain(self.client.secrets()),
        )
    }

    /// Runs `each` on every item, by up to `--concurrency` workers, in
    /// order of the items; a worker takes no new item once the run is
    /// stopping (the items it leaves are the caller's to settle).
    pub fn pool<T: Sync>(&self, items: &[T], each: impl Fn(&T) + Sync) {
        let next = AtomicUsize::new(0);
        let workers = self.settings.concurrency.clamp(1, items.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    while !self.stopping() {
                        let n = next.fetch_add(1, Ordering::SeqCst);
                        let Some(item) = items.get(n) else { return };
                        each(item);
                    }
                });
            }
        });
    }

    /// Sends `call` until it has a PAM360 answer or may not be tried again.
    /// `first` runs once, just before the first attempt: false (the
    /// journal could not record it) and nothing is sent.
    pub fn execute(&self, call: &Call, first: &dyn Fn() -> bool) -> Exchange<'_> {
        let mut tried = Tried {
            idempotent: call.kind.repeat_safe(),
            read: call.kind.is_read(),
            retries_left: self.settings.retries,
            maybe_processed: false,
        };
        let mut attempts = 0u32;
        let delivery = loop {
            if self.stopping() || !self.rate.wait(call.kind, &|| self.stopping()) {
                break if attempts == 0 {
                    Delivery::Untaken
                } else {
                    stopped(&tried, None, attempts)
                };
            }
            // A request that must not be repeated goes only once its
            // in-flight line is on disk: after a crash, the journal knows.
            if attempts == 0 && !first() {
                break Delivery::Untaken;
            }
            attempts += 1;
            if attempts > 1 {
                self.retries.fetch_add(1, Ordering::Relaxed);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            if let Some(end) = self.attempt(call, &mut tried, attempts) {
                break end;
            }
        };
        Exchange {
            delivery,
            secrets: call.secrets.clone(),
            transport: self,
            scrubber: OnceCell::new(),
        }
    }

    /// One attempt of `call`, and what follows it: `None` to try again.
    fn attempt(&self, call: &Call, tried: &mut Tried, attempts: u32) -> Option<Delivery> {
        let began = Instant::now();
        let attempt = self.client.send(call);
        let latency = began.elapsed();
        let step = next_step(*tried, &attempt);
        // A 429 tells the rate its pause (see `throttled`).
        if step != Step::Throttled {
            self.rate.observe(call.kind, latency, signal(&attempt));
        }
        self.log(call, &attempt, attempts, latency);
        let earlier_processed = tried.maybe_processed;
        tried.maybe_processed |= attempt.may_have_been_processed();
        self.carry_out(step, attempt, call, tried, (attempts, earlier_processed))
    }

    /// One line per request at -v: what an administrator debugging a run
    /// wants, and never a body.
    fn log(&self, call: &Call, attempt: &Attempt, attempts: u32, latency: Duration) {
        if log::log_enabled!(log::Level::Info) {
            let summary = match attempt {
                Attempt::Http {
                    http,
                    answer: Some(a),
                    ..
                } => call.kind.tally(a).map(|t| format!("HTTP {http}, {t}")),
                _ => None,
            };
            let summary = summary.unwrap_or_else(|| attempt.summary());
            let line = self.scrubber(&call.secrets).scrub(&summary);
            log::info!(
                "{} {} ({}): {line} (attempt {attempts}, {} ms)",
                method(call),
                call.path,
                call.kind.name(),
                latency.as_millis()
            );
        }
    }

    /// Carries out what [`next_step`] decided for one attempt: `None` to
    /// try again.
    fn carry_out(
        &self,
        step: Step,
        attempt: Attempt,
        call: &Call,
        tried: &mut Tried,
        (attempts, earlier_processed): (u32, bool),
    ) -> Option<Delivery> {
        let http = attempt.http_status();
        match step {
            Step::Answered => {
                self.streak.store(0, Ordering::SeqCst);
                *self.since() = None;
                let Attempt::Http {
                    answer: Some(answer),
                    ..
                } = attempt
                else {
                    unreachable!("next_step answers only a PAM360 answer")
                };
                Some(Delivery::Answered {
                    answer,
                    http: http.unwrap_or(200),
                    earlier_processed,
                    attempts,
                })
            }
            Step::Retry => {
                tried.retries_left = tried.retries_left.saturating_sub(1);
                let slept = sleep_unless(backoff(attempts), &|| self.stopping());
                (!slept).then(|| stopped(tried, http, attempts))
            }
            Step::Throttled if self.throttled(&attempt, call) => None,
            Step::Throttled => {
                self.abort(Abort::Throttled);
                let mut ended = stopped(tried, Some(429), attempts);
                if let Delivery::Ended { reason, .. } = &mut ended {
                    *reason = "throttled (429) for longer than --max-throttle".into();
                }
                Some(ended)
            }
            Step::End {
                outcome,
                reason,
                unreachable,
            } => {
                if unreachable {
                    self.count_unreachable(&attempt, &call.secrets);
                } else {
                    self.streak.store(0, Ordering::SeqCst);
                }
                let reason = self.scrubber(&call.secrets).scrub(&reason);
                Some(Delivery::Ended {
                    outcome,
                    reason,
                    http,
                    attempts,
                })
            }
            Step::Stop { reason, outcome } => {
                let scrubber = self.scrubber(&call.secrets);
                let (abort, reason) = stop_reason(reason, &|t| scrubber.scrub(t));
                self.abort(abort);
                Some(Delivery::Ended {
                    outcome,
                    reason,
                    http,
                    attempts,
                })
            }
        }
    }

    fn since(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.throttled_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A 429: every request pauses for its `Retry-After` (capped, and cut
    /// short by what is left of `--max-throttle`). False when throttling
    /// has lasted longer than `--max-throttle` without an answer.
    fn throttled(&self, attempt: &Attempt, call: &Call) -> bool {
        let max = self.settings.max_throttle;
        let now = Instant::now();
        let since = *self.since().get_or_insert(now);
        let spent = now.duration_since(since);
        if spent > max {
            return false;
        }
        let retry_after = match attempt {
            Attempt::Http { retry_after, .. } => *retry_after,
            _ => None,
        };
        let pause = retry_after
            .unwrap_or(Duration::from_secs(1))
            .min(MAX_RETRY_AFTER)
            .min(max.saturating_sub(spent));
        self.rate
            .observe(call.kind, Duration::ZERO, Signal::Throttled { pause });
        true
    }

    /// A request ended without a PAM360 answer: too many in a row (twice
    /// `--concurrency`, at least 5), reads and writes alike, and the server
    /// counts as unreachable.
    fn count_unreachable(&self, attempt: &Attempt, secrets: &[String]) {
        let streak = self.streak.fetch_add(1, Ordering::SeqCst) + 1;
        let limit = (2 * self.settings.concurrency as u32).max(5);
        if streak >= limit {
            let why = self.scrubber(secrets).scrub(&attempt.describe_answer());
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

fn method(call: &Call) -> &'static str {
    match call.kind.method() {
        crate::op::Method::Get => "GET",
        crate::op::Method::Post => "POST",
        crate::op::Method::Put => "PUT",
    }
}

/// What an attempt tells the rate.
fn signal(attempt: &Attempt) -> Signal {
    match attempt {
        Attempt::Http {
            answer: Some(_), ..
        } => Signal::Ok,
        Attempt::Http { http: 503, .. } => Signal::Overloaded,
        Attempt::Failed(Failure::Timeout) => Signal::TimedOut,
        _ => Signal::Failed,
    }
}

/// The end of a call the run stopped before it could be tried again.
fn stopped(tried: &Tried, http: Option<u16>, attempts: u32) -> Delivery {
    // An earlier attempt may have been acted on: the answer is unknown (a
    // resume resends an account, which is safe, and holds a request back).
    let outcome = if tried.maybe_processed {
        Outcome::Unconfirmed
    } else {
        Outcome::NotSent
    };
    Delivery::Ended {
        outcome,
        reason: "the run stopped before this request could be tried again".into(),
        http,
        attempts,
    }
}

/// Why the run stops, and what the request's rows say about it.
fn stop_reason(reason: StopReason, scrub: &dyn Fn(&str) -> String) -> (Abort, String) {
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
fn backoff(attempt: u32) -> Duration {
    let base = 0.25 * 2f64.powi(attempt.saturating_sub(1).min(6) as i32);
    let base = base.min(10.0);
    Duration::from_secs_f64(base * (0.5 + rand::random::<f64>() * 0.5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for n in 1..20 {
            let b = backoff(n);
            assert!(b <= Duration::from_secs(10), "{n}: {b:?}");
            assert!(b >= Duration::from_millis(125), "{n}: {b:?}");
        }
        assert!(backoff(1) <= Duration::from_millis(250));
    }
}
