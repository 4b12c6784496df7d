//! Reading the server for "working by names": the resource list of an org,
//! page by page, and the accounts of many resources at once. Reads go
//! through the run's one [`Link`] (its TLS trust, token and rate limiter),
//! are retried like any request that is safe to repeat, and stop the run
//! on what stops a write (a refused token, a redirect, a refused
//! certificate, throttling past `--max-throttle`, an interrupt).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::pam360::lists::{self, Listed, RESOURCES_PATH};
use crate::pam360::{Answer, Attempt, Step, Tried, is_success, next_step};
use crate::secret::Scrubber;
use crate::send::{Abort, Link, SendConfig, backoff, sleep_unless, stop_reason};

/// Resources asked for per page of the list; a server may serve fewer.
/// Each page is a round trip before any account can be read, so pages are
/// large: 5,000 resources are about a megabyte of JSON.
pub const PAGE: u64 = 5000;

/// More resources than any PAM360 holds: a list that keeps bringing new
/// ones past this is not followed further.
const MOST_RESOURCES: usize = 10_000_000;

/// Why a read brought nothing to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The run must stop (exit 3).
    Stop(Abort),
    /// PAM360 answered `Failed` (the masked message): e.g. no such resource.
    Refused(String),
    /// No PAM360 answer after the retries.
    NoAnswer(String),
}

/// The accounts of one resource, or why they could not be read.
pub type AccountList = Result<Vec<Listed>, ReadError>;

/// Reads the server; counts its requests for the summary.
pub struct Reader<'a> {
    link: &'a Link,
    cfg: &'a SendConfig,
    stop: &'a AtomicBool,
    /// Set once a read stops the run: the other workers stop too.
    halted: AtomicBool,
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    scrubber: Scrubber,
}

impl<'a> Reader<'a> {
    pub fn new(link: &'a Link, cfg: &'a SendConfig, stop: &'a AtomicBool) -> Self {
        Reader {
            link,
            cfg,
            stop,
            halted: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            // A read carries no secret but the token.
            scrubber: Scrubber::new(std::iter::once(link.token.expose())),
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.halted.load(Ordering::SeqCst)
    }

    /// One GET until it has a PAM360 answer or may not be tried again.
    pub fn get(
        &self,
        path: &str,
        org: Option<&str>,
        input: Option<&str>,
    ) -> Result<Answer, ReadError> {
        let scrub = |t: &str| self.scrubber.scrub(t);
        let mut tried = Tried {
            idempotent: true,
            retries_left: self.cfg.retries,
            maybe_processed: false,
        };
        let mut attempts = 0u32;
        loop {
            if self.stopping() || !self.link.limiter.wait(self.stop) {
                return Err(ReadError::Stop(Abort::Interrupted));
            }
            attempts += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            if attempts > 1 {
                self.retries.fetch_add(1, Ordering::Relaxed);
            }
            let began = Instant::now();
            let attempt = self.link.client.get(path, org, input);
            log::info!(
                "GET {path}: {} (attempt {attempts}, {} ms)",
                scrub(&attempt.summary()),
                began.elapsed().as_millis()
            );
            match next_step(tried, &attempt) {
                Step::Answered => {
                    self.link.limiter.succeeded();
                    let Attempt::Http {
                        answer: Some(a), ..
                    } = attempt
                    else {
                        return Err(ReadError::NoAnswer("no usable answer".into()));
                    };
                    return if is_success(&a.status) {
                        Ok(a)
                    } else {
                        Err(ReadError::Refused(scrub(&a.message)))
                    };
                }
                Step::Retry => {
                    tried.retries_left = tried.retries_left.saturating_sub(1);
                    if !sleep_unless(backoff(attempts), self.stop) {
                        return Err(ReadError::Stop(Abort::Interrupted));
                    }
                }
                Step::Throttled => {
                    let retry_after = match attempt {
                        Attempt::Http { retry_after, .. } => retry_after,
                        _ => None,
                    };
                    if !self
                        .link
                        .limiter
                        .throttled(retry_after, self.cfg.max_throttle)
                    {
                        return Err(ReadError::Stop(Abort::Throttled));
                    }
                }
                Step::End { reason, .. } => return Err(ReadError::NoAnswer(scrub(&reason))),
                Step::Stop { reason, .. } => {
                    return Err(ReadError::Stop(stop_reason(reason, &scrub).0));
                }
            }
        }
    }

    /// Every resource of an org, page by page: each page starts where the
    /// last one's items end (exact if STARTINDEX counts from 0, one item of
    /// overlap if it counts from 1, never a gap); ids already seen are
    /// dropped; the list ends at an empty page or once `totalRows` distinct
    /// ids are seen. A page with nothing new means the paging cannot be
    /// followed: the run stops rather than plan on part of the list.
    /// `bar` counts the resources listed, out of `totalRows` once known.
    pub fn resources(
        &self,
        org: Option<&str>,
        bar: &indicatif::ProgressBar,
    ) -> Result<Vec<Listed>, Abort> {
        let whose = org.map(|o| format!(" of org \"{o}\"")).unwrap_or_default();
        let mut seen = HashSet::new();
        let mut all = Vec::new();
        let mut start = 0u64;
        loop {
            let input = lists::page_input(start, PAGE);
            let answer = match self.get(RESOURCES_PATH, org, Some(&input)) {
                Ok(a) => a,
                Err(ReadError::Stop(a)) => return Err(a),
                Err(ReadError::Refused(m) | ReadError::NoAnswer(m)) => {
                    return Err(Abort::Listing(format!(
                        "the resource list{whose} could not be read ({m})"
                    )));
                }
            };
            let (page, total) = lists::resource_page(&answer);
            if let Some(t) = total {
                bar.set_length(t);
            }
            if page.is_empty() {
                break;
            }
            let served = page.len() as u64;
            let before = all.len();
            all.extend(page.into_iter().filter(|r| seen.insert(r.id)));
            bar.inc((all.len() - before) as u64);
            if all.len() == before {
                return Err(Abort::Listing(format!(
                    "the resource list{whose} cannot be followed: the page at STARTINDEX {start} brought no resource not seen before"
                )));
            }
            if total.is_some_and(|t| all.len() as u64 >= t) {
                break;
            }
            if all.len() > MOST_RESOURCES {
                return Err(Abort::Listing(format!(
                    "the resource list{whose} goes on past {MOST_RESOURCES} resources"
                )));
            }
            start += served;
        }
        Ok(all)
    }

    /// The accounts of each (org, resource), read by up to `--concurrency`
    /// workers, in the order asked. A read that stops the run stops the
    /// others; what they did not read is `Stop` too.
    pub fn accounts(
        &self,
        wanted: &[(Option<Arc<str>>, u64)],
        bar: &indicatif::ProgressBar,
    ) -> Vec<AccountList> {
        let next = AtomicUsize::new(0);
        let out: Mutex<Vec<Option<AccountList>>> = Mutex::new(vec![None; wanted.len()]);
        let workers = self.cfg.concurrency.clamp(1, wanted.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        let n = next.fetch_add(1, Ordering::SeqCst);
                        let Some((org, id)) = wanted.get(n) else {
                            return;
                        };
                        let path = crate::pam360::accounts_path(*id);
                        let read = self
                            .get(&path, org.as_deref(), None)
                            .map(|a| lists::account_list(&a));
                        if matches!(read, Err(ReadError::Stop(_))) {
                            self.halted.store(true, Ordering::SeqCst);
                        }
                        bar.inc(1);
                        out.lock().unwrap_or_else(PoisonError::into_inner)[n] = Some(read);
                    }
                });
            }
        });
        out.into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .into_iter()
            .map(|r| r.unwrap_or(Err(ReadError::Stop(Abort::Interrupted))))
            .collect()
    }
}
