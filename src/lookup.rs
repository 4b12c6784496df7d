//! Reading the server for "working by names": the resource list of an org,
//! page by page, and the accounts of many resources at once. Reads go
//! through the run's one [`Link`] (its TLS trust, token and rate limiter),
//! are retried like any request that is safe to repeat, and stop the run
//! on what stops a write (a refused token, a redirect, a refused
//! certificate, throttling past `--max-throttle`, an interrupt).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::collect::Collected;
use crate::job::{Names, fold};
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

/// The resources whose accounts a stage reads: each (org, resource) once,
/// in the order rows first need them.
#[derive(Default)]
pub struct Wanted {
    list: Vec<(Option<Arc<str>>, u64)>,
    at: HashMap<(u32, u64), usize>,
}

impl Wanted {
    /// Adds the resource `rid` of the org at `org` in `data`'s org table;
    /// returns its place in the list.
    pub fn add<I>(&mut self, data: &Collected<I>, org: u32, rid: u64) -> usize {
        *self.at.entry((org, rid)).or_insert_with(|| {
            self.list.push((data.orgs[org as usize].clone(), rid));
            self.list.len() - 1
        })
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The resource ids, in list order.
    pub fn resources(&self) -> impl Iterator<Item = u64> + '_ {
        self.list.iter().map(|(_, rid)| *rid)
    }
}

/// The names of one list (resources of an org, or accounts of a resource),
/// compared as the duplicate check compares: NFC, lower case.
pub struct NameIndex {
    by_name: HashMap<String, Vec<u64>>,
    /// Each listed spelling → its folded name: a name typed as the server
    /// spells it (the usual case) is found without folding it again.
    spelled: HashMap<String, String>,
    /// (listed name, folded) for suggestions.
    names: Vec<(String, String)>,
    /// Suggestions already worked out, by the folded name asked for: rows
    /// repeat names, and each suggestion compares against the whole list.
    closest: std::cell::RefCell<HashMap<String, String>>,
}

/// Distinct unknown names a list works out suggestions for; past this, the
/// message names no closest (an input of a million unknown names against a
/// large list would otherwise compare every pair).
const MOST_SUGGESTIONS: usize = 1000;

impl NameIndex {
    pub fn new(list: &[Listed]) -> Self {
        let mut by_name: HashMap<String, Vec<u64>> = HashMap::new();
        let mut spelled = HashMap::new();
        let mut names = Vec::with_capacity(list.len());
        for l in list {
            let folded = fold(&l.name);
            by_name.entry(folded.clone()).or_default().push(l.id);
            spelled.insert(l.name.clone(), folded.clone());
            names.push((l.name.clone(), folded));
        }
        NameIndex {
            by_name,
            spelled,
            names,
            closest: Default::default(),
        }
    }

    /// The ids listed under `name`, compared case-insensitively.
    pub fn find(&self, name: &str) -> &[u64] {
        let name = name.trim();
        let found = match self.spelled.get(name) {
            Some(folded) => self.by_name.get(folded),
            None => self.by_name.get(&fold(name)),
        };
        found.map(Vec::as_slice).unwrap_or(&[])
    }

    /// ` (closest: "web-001")`, when a listed name is close enough to help.
    fn closest(&self, name: &str) -> String {
        let wanted = fold(name);
        let mut known = self.closest.borrow_mut();
        if let Some(s) = known.get(&wanted) {
            return s.clone();
        }
        if known.len() >= MOST_SUGGESTIONS {
            return String::new();
        }
        let best = self
            .names
            .iter()
            .map(|(n, folded)| (strsim::jaro_winkler(&wanted, folded), n))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let suggestion = match best {
            Some((score, n)) if score >= 0.75 => format!(" (closest: \"{n}\")"),
            _ => String::new(),
        };
        known.insert(wanted, suggestion.clone());
        suggestion
    }

    /// The id of the row's resource in this resource list, or why there is
    /// none: no such name, several, or another id than the row gave.
    /// `give` names the column that would settle an ambiguity.
    pub fn resource_id(&self, names: &Names<'_>, give: &str) -> Result<u64, String> {
        let name = names.resource_name;
        match self.find(name) {
            [] => Err(format!(
                "no resource named \"{name}\"{}",
                self.closest(name)
            )),
            [id] if names.resource_id != 0 && names.resource_id != *id => Err(format!(
                "resource \"{name}\" has id {id}, not RESOURCEID {}; fix one of them",
                names.resource_id
            )),
            [id] => Ok(*id),
            many => Err(format!(
                "{} resources are named \"{name}\" (ids {}): give {give}",
                many.len(),
                ids(many)
            )),
        }
    }

    /// The id of the row's account in this account list, or why there is
    /// none.
    pub fn account_id(&self, names: &Names<'_>) -> Result<u64, String> {
        let (account, resource) = (names.account_name, names.resource_name);
        match self.find(account) {
            [] => Err(format!(
                "no account named \"{account}\" on resource \"{resource}\"{}",
                self.closest(account)
            )),
            [id] if names.account_id != 0 && names.account_id != *id => Err(format!(
                "account \"{account}\" on resource \"{resource}\" has id {id}, not ACCOUNTID {}; fix one of them",
                names.account_id
            )),
            [id] => Ok(*id),
            many => Err(format!(
                "{} accounts are named \"{account}\" on resource \"{resource}\" (ids {}): give ACCOUNTID",
                many.len(),
                ids(many)
            )),
        }
    }

    /// Whether an account of this name is listed: `Some` of its id, 0 when
    /// two listed accounts match the name (the id is then left empty).
    pub fn existing(&self, account: &str) -> Option<u64> {
        match self.find(account) {
            [] => None,
            [id] => Some(*id),
            _ => Some(0),
        }
    }
}

fn ids(ids: &[u64]) -> String {
    ids.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

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

impl ReadError {
    /// How a read the run cannot go on without ends it: its own stop, or
    /// `what` named as what could not be read.
    pub fn abort(self, what: &str) -> Abort {
        match self {
            ReadError::Stop(a) => a,
            ReadError::Refused(m) | ReadError::NoAnswer(m) => {
                Abort::Listing(format!("{what} could not be read ({m})"))
            }
        }
    }
}

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
            let answer = self
                .get(RESOURCES_PATH, org, Some(&input))
                .map_err(|e| e.abort(&format!("the resource list{whose}")))?;
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

    /// The account lists of `wanted`, as name indexes, with a progress bar
    /// of their own labelled `what`.
    pub fn account_indexes(
        &self,
        wanted: &Wanted,
        progress: bool,
        what: &str,
    ) -> Vec<Result<NameIndex, ReadError>> {
        let bar =
            crate::progress::counting(progress, Some(wanted.list.len() as u64), what, "resources");
        let lists = self.accounts(&wanted.list, &bar);
        bar.finish_and_clear();
        lists
            .into_iter()
            .map(|l| l.map(|l| NameIndex::new(&l)))
            .collect()
    }

    /// The accounts of each (org, resource), read by up to `--concurrency`
    /// workers, in the order asked. A read that stops the run stops the
    /// others; what they did not read is `Stop` too.
    fn accounts(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn index(entries: &[(u64, &str)]) -> NameIndex {
        let list: Vec<Listed> = entries
            .iter()
            .map(|(id, name)| Listed {
                id: *id,
                name: name.to_string(),
            })
            .collect();
        NameIndex::new(&list)
    }

    fn names<'a>(resource: &'a str, account: &'a str, rid: u64, aid: u64) -> Names<'a> {
        Names {
            resource_id: rid,
            resource_name: resource,
            account_name: account,
            account_id: aid,
        }
    }

    #[test]
    fn names_match_in_any_case_and_ambiguity_is_never_guessed() {
        let resources = index(&[(17, "db"), (42, "DB"), (5, "web-01"), (6, "Jos\u{e9}")]);
        assert_eq!(
            resources.resource_id(&names("WEB-01", "", 0, 0), "X"),
            Ok(5)
        );
        // NFD spelling of the same name.
        assert_eq!(
            resources.resource_id(&names("jose\u{301}", "", 0, 0), "X"),
            Ok(6)
        );
        assert_eq!(
            resources.resource_id(&names("db", "", 0, 0), "RESOURCEID"),
            Err("2 resources are named \"db\" (ids 17, 42): give RESOURCEID".into())
        );
        assert_eq!(
            resources.resource_id(&names("web-1", "", 0, 0), "X"),
            Err("no resource named \"web-1\" (closest: \"web-01\")".into())
        );
        assert_eq!(
            resources.resource_id(&names("zzzz", "", 0, 0), "X"),
            Err("no resource named \"zzzz\"".into())
        );
        assert!(
            resources
                .resource_id(&names("web-01", "", 6, 0), "X")
                .unwrap_err()
                .contains("has id 5, not RESOURCEID 6")
        );
        let accounts = index(&[(1001, "root"), (1002, "Admin"), (1003, "admin")]);
        assert_eq!(accounts.account_id(&names("web", "ROOT", 0, 0)), Ok(1001));
        assert_eq!(
            accounts.account_id(&names("web", "root", 0, 1001)),
            Ok(1001)
        );
        assert!(accounts.account_id(&names("web", "root", 0, 9)).is_err());
        assert!(
            accounts
                .account_id(&names("web", "admin", 0, 0))
                .unwrap_err()
                .contains("give ACCOUNTID")
        );
        assert_eq!(accounts.existing("Root"), Some(1001));
        assert_eq!(accounts.existing("ADMIN"), Some(0), "two match: no id");
        assert_eq!(accounts.existing("nobody"), None);
        // Suggestions are bounded: past MOST_SUGGESTIONS distinct unknown
        // names, none is worked out (a repeated one is remembered).
        for n in 0..MOST_SUGGESTIONS {
            let _ = resources.resource_id(&names(&format!("zz{n}"), "", 0, 0), "X");
        }
        assert_eq!(
            resources.resource_id(&names("web-011", "", 0, 0), "X"),
            Err("no resource named \"web-011\"".into())
        );
        assert!(
            resources
                .resource_id(&names("web-1", "", 0, 0), "X")
                .unwrap_err()
                .contains("closest"),
            "remembered"
        );
    }
}
