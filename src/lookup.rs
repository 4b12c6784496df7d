//! Reading the server for "working by names": the resource list of an org,
//! page by page, and the accounts of many resources at once; and the index
//! that matches names against what was read, as the server compares them.
//! Reads go through the run's one transport (its TLS trust, token, rate,
//! retries and unreachable rule), and stop the run on what stops a write
//! (a refused token, a redirect, a refused certificate, throttling past
//! `--max-throttle`, an interrupt).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::collect::Collected;
use crate::names::{fold, numbers, server_key};
use crate::op::Call;
use crate::op::lists::{self, Listed};
use crate::pam360::{Answer, is_success};
use crate::transport::{Abort, Delivery, Transport};

/// Resources asked for per page of the list; a server may serve fewer.
/// Each page is a round trip before any account can be read, so pages are
/// large: 5,000 resources are about a megabyte of JSON.
pub const PAGE: u64 = 5000;

/// More resources than any PAM360 holds: a list that keeps bringing new
/// ones past this is not followed further.
const MOST_RESOURCES: usize = 10_000_000;

/// A resource of an org.
type OrgResource = (Option<Arc<str>>, u64);

/// The resources whose accounts a stage reads: each (org, resource) once,
/// in the order rows first need them.
#[derive(Default)]
pub struct Wanted {
    list: Vec<OrgResource>,
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

/// What a list says of one name, as the server compares names (see
/// [`crate::names`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found<'a> {
    /// Exactly one entry has the name.
    One(u64),
    /// None has it.
    Missing,
    /// Several have it: their ids.
    Several(&'a [u64]),
    /// The server lists the id that has the name under another name too:
    /// the list contradicts itself, so neither name can be trusted.
    Conflict { id: u64, names: [&'a str; 2] },
}

/// The names of one list (resources of an org, or accounts of a resource),
/// compared as the server compares them.
pub struct NameIndex {
    by_name: HashMap<String, Vec<u64>>,
    /// Each id's name, as first listed.
    name_of: HashMap<u64, String>,
    /// Ids listed under two names, with the first two.
    conflicts: HashMap<u64, [String; 2]>,
    suggest: Suggestions,
}

/// Distinct unknown names a list works out suggestions for; past this, the
/// message names no closest (an input of a million unknown names against a
/// large list would otherwise compare every pair).
const MOST_SUGGESTIONS: usize = 1000;
/// Names longer than this (in bytes) get no suggestion, and are offered
/// none: no host is named so, and comparing two names costs their lengths
/// multiplied.
const MOST_SUGGESTED_NAME: usize = 256;

/// The time all suggestions of a list may take together: a list of
/// 200,000 names whose numbers say little (names without any) must not
/// hold a run that only wants to report its unknown names.
const SUGGESTION_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// "closest" suggestions for names a list lacks. Only a listed name whose
/// numbers are the same numbers (see [`crate::names::numbers`]) can be
/// offered: `web-1` may suggest `web-01`, `lnx-prod-350` never
/// `lnx-prod-530`, which is another host; and only a likely typo
/// ([`crate::names::likely_typo`]): `lnx-cache-01` never `lnx-web-01`. Names are grouped by their
/// numbers once, so a suggestion compares against its group only.
struct Suggestions {
    /// (listed name, folded) by the numbers in them.
    groups: HashMap<String, Vec<(String, String)>>,
    /// Suggestions already worked out, by the folded name asked for: rows
    /// repeat names.
    known: std::cell::RefCell<HashMap<String, Option<String>>>,
    /// When the first suggestion began, for [`SUGGESTION_TIME`].
    began: std::cell::Cell<Option<Instant>>,
}

impl Suggestions {
    fn new(list: &[Listed]) -> Self {
        let mut groups: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for l in list.iter().filter(|l| l.name.len() <= MOST_SUGGESTED_NAME) {
            groups
                .entry(numbers(&l.name))
                .or_default()
                .push((l.name.clone(), fold(&l.name)));
        }
        Suggestions {
            groups,
            known: Default::default(),
            began: Default::default(),
        }
    }

    /// The listed name closest to `name`, if one is close enough to help
    /// and has the same numbers; `None` too once the budget is spent or
    /// the run is stopping.
    fn closest(&self, name: &str, stop: &AtomicBool) -> Option<String> {
        if name.len() > MOST_SUGGESTED_NAME {
            return None;
        }
        let wanted = fold(name);
        let mut known = self.known.borrow_mut();
        if let Some(s) = known.get(&wanted) {
            return s.clone();
        }
        let began = *self.began.get().get_or_insert_with(Instant::now);
        self.began.set(Some(began));
        if known.len() >= MOST_SUGGESTIONS || began.elapsed() > SUGGESTION_TIME {
            return None;
        }
        let mut best: Option<(f64, &str)> = None;
        for (n, (listed, folded)) in self
            .groups
            .get(&numbers(name))
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            if n % 512 == 0 && (stop.load(Ordering::Relaxed) || began.elapsed() > SUGGESTION_TIME) {
                return None;
            }
            let score = strsim::jaro_winkler(&wanted, folded);
            if score >= 0.75
                && best.is_none_or(|(b, _)| score > b)
                && crate::names::likely_typo(&wanted, folded)
            {
                best = Some((score, listed));
            }
        }
        let suggestion = best.map(|(_, n)| n.to_string());
        known.insert(wanted, suggestion.clone());
        suggestion
    }
}

impl NameIndex {
    pub fn new(list: &[Listed]) -> Self {
        let mut by_name: HashMap<String, Vec<u64>> = HashMap::new();
        let mut name_of: HashMap<u64, (&str, String)> = HashMap::new();
        let mut conflicts = HashMap::new();
        for l in list {
            let key = server_key(&l.name);
            match name_of.get(&l.id) {
                // The same entry again (pages that overlap): nothing new.
                Some((_, k)) if *k == key => continue,
                Some((first, _)) => {
                    conflicts
                        .entry(l.id)
                        .or_insert_with(|| [first.to_string(), l.name.clone()]);
                }
                None => {
                    name_of.insert(l.id, (&l.name, key.clone()));
                }
            }
            by_name.entry(key).or_default().push(l.id);
        }
        let name_of = name_of
            .into_iter()
            .map(|(id, (name, _))| (id, name.to_string()))
            .collect();
        NameIndex {
            by_name,
            name_of,
            conflicts,
            suggest: Suggestions::new(list),
        }
    }

    /// What the list says of `name`.
    pub fn find(&self, name: &str) -> Found<'_> {
        let ids = self
            .by_name
            .get(&server_key(name))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if let Some((id, [a, b])) = ids
            .iter()
            .find_map(|id| self.conflicts.get(id).map(|n| (*id, n)))
        {
            return Found::Conflict {
                id,
                names: [a.as_str(), b.as_str()],
            };
        }
        match ids {
            [] => Found::Missing,
            [id] => Found::One(*id),
            many => Found::Several(many),
        }
    }

    /// Every (id, name) of the list, each id once.
    pub fn entries(&self) -> impl Iterator<Item = (u64, &str)> {
        self.name_of.iter().map(|(id, n)| (*id, n.as_str()))
    }

    /// The name listed for `id`, if the list has it.
    pub fn name_of(&self, id: u64) -> Option<&str> {
        self.name_of.get(&id).map(String::as_str)
    }

    /// ` (closest: "web-001")`, when a listed name is close enough to help.
    pub fn closest(&self, name: &str, stop: &AtomicBool) -> String {
        self.suggest
            .closest(name, stop)
            .map(|n| format!(" (closest: \"{n}\")"))
            .unwrap_or_default()
    }

    /// Whether an account of this name is listed: `Some` of its id, or of
    /// `None` when two listed accounts match the name (no id to give).
    pub fn existing(&self, account: &str) -> Option<Option<u64>> {
        match self.find(account) {
            Found::Missing => None,
            Found::One(id) => Some(Some(id)),
            Found::Several(_) | Found::Conflict { .. } => Some(None),
        }
    }
}

/// The message of a name a list does not settle on one id, or `None` for
/// one id. `what` names the kind of entry ("resource", "account"), `place`
/// where it was looked for (` on resource "web-01"`), `give` the column
/// that settles an ambiguity.
pub fn unsettled(
    found: &Found<'_>,
    index: &NameIndex,
    name: &str,
    (what, place, give): (&str, &str, &str),
    stop: &AtomicBool,
) -> Option<String> {
    Some(match found {
        Found::One(_) => return None,
        Found::Missing => format!(
            "no {what} named \"{name}\"{place}{}",
            index.closest(name, stop)
        ),
        Found::Several(many) => format!(
            "{} {what}s are named \"{name}\"{place} (ids {}): give {give}",
            many.len(),
            ids(many)
        ),
        Found::Conflict { id, names: [a, b] } => format!(
            "the server lists id {id} as {a} and {b}{place}: which one is meant cannot be told; fix the names in PAM360, or give {give}"
        ),
    })
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
    /// A PAM360 answer whose list could not be read (neither shape).
    Unreadable(String),
}

/// The accounts of one resource, or why they could not be read.
pub type AccountList = Result<Vec<Listed>, ReadError>;

impl ReadError {
    /// How a read the run cannot go on without ends it: its own stop, or
    /// `what` named as what could not be read.
    pub fn abort(self, what: &str) -> Abort {
        match self {
            ReadError::Stop(a) => a,
            ReadError::Refused(m) | ReadError::NoAnswer(m) | ReadError::Unreadable(m) => {
                Abort::Listing(format!("{what} could not be read ({m})"))
            }
        }
    }
}

/// Reads the server through the run's transport.
pub struct Reader<'t, 's> {
    transport: &'t Transport<'s>,
}

impl<'t, 's> Reader<'t, 's> {
    pub fn new(transport: &'t Transport<'s>) -> Self {
        Reader { transport }
    }

    /// The run's stop flag (a signal), for work between reads.
    pub fn stop_flag(&self) -> &AtomicBool {
        self.transport.stop_flag()
    }

    /// Why the run stopped, if it did: what stops the run outranks what
    /// one read saw.
    pub fn aborted(&self) -> Option<Abort> {
        self.transport.aborted()
    }

    /// Requests the run has sent so far, reads and writes.
    pub fn requests(&self) -> u64 {
        self.transport.counts().0
    }

    /// One read until it has a PAM360 answer or may not be tried again.
    pub fn get(&self, call: &Call) -> Result<Answer, ReadError> {
        let exchange = self.transport.execute(call, &|| true);
        let refused = |m: &str| ReadError::Refused(exchange.scrub(m));
        match &exchange.delivery {
            Delivery::Answered { answer, .. } if !is_success(&answer.status) => {
                return Err(refused(&answer.message));
            }
            _ => {}
        }
        match exchange.delivery {
            Delivery::Answered { answer, .. } => Ok(answer),
            Delivery::Ended { reason, .. } => match self.transport.aborted() {
                Some(abort) => Err(ReadError::Stop(abort)),
                None => Err(ReadError::NoAnswer(reason)),
            },
            Delivery::Untaken => Err(ReadError::Stop(
                self.transport.aborted().unwrap_or(Abort::Interrupted),
            )),
        }
    }

    /// Every resource of an org, page by page: each page starts where the
    /// last one's items end (exact if STARTINDEX counts from 0, one item of
    /// overlap if it counts from 1, never a gap); the list ends at an empty
    /// page or once `totalRows` distinct ids are seen. A page with nothing
    /// new means the paging cannot be followed: the run stops rather than
    /// plan on part of the list. `bar` counts the resources listed, out of
    /// `totalRows` once known.
    pub fn resources(
        &self,
        org: Option<&Arc<str>>,
        bar: &indicatif::ProgressBar,
    ) -> Result<Vec<Listed>, Abort> {
        let whose = org.map(|o| format!(" of org \"{o}\"")).unwrap_or_default();
        // Entries are kept once per (id, name as the server compares it):
        // an id listed under a second name is kept, for NameIndex to
        // refuse; the paging counts distinct ids.
        let mut ids = HashSet::new();
        let mut entries = HashSet::new();
        let mut all = Vec::new();
        let mut start = 0u64;
        loop {
            let call = lists::resource_page_call(org.cloned(), start, PAGE);
            let answer = self
                .get(&call)
                .map_err(|e| e.abort(&format!("the resource list{whose}")))?;
            let (page, total) = lists::resource_page(&answer);
            if let Some(t) = total {
                bar.set_length(t);
            }
            if page.is_empty() {
                break;
            }
            let served = page.len() as u64;
            let before = ids.len();
            for r in page {
                ids.insert(r.id);
                if entries.insert((r.id, server_key(&r.name))) {
                    all.push(r);
                }
            }
            bar.inc((ids.len() - before) as u64);
            if ids.len() == before {
                return Err(Abort::Listing(format!(
                    "the resource list{whose} cannot be followed: the page at STARTINDEX {start} brought no resource not seen before"
                )));
            }
            if total.is_some_and(|t| ids.len() as u64 >= t) {
                break;
            }
            if ids.len() > MOST_RESOURCES {
                return Err(Abort::Listing(format!(
                    "the resource list{whose} goes on past {MOST_RESOURCES} resources"
                )));
            }
            start += served;
        }
        Ok(all)
    }

    /// The account lists of `wanted`, as name indexes, read by the
    /// transport's workers, with a progress bar of their own labelled
    /// `what`. A read the run stopped before is `Stop`.
    pub fn account_indexes(
        &self,
        wanted: &Wanted,
        progress: bool,
        what: &str,
    ) -> Vec<Result<NameIndex, ReadError>> {
        let bar =
            crate::progress::counting(progress, Some(wanted.list.len() as u64), what, "resources");
        let out: Mutex<Vec<Option<Result<NameIndex, ReadError>>>> =
            Mutex::new((0..wanted.list.len()).map(|_| None).collect());
        let numbered: Vec<(usize, &OrgResource)> = wanted.list.iter().enumerate().collect();
        self.transport.pool(&numbered, |(n, (org, id))| {
            let call = lists::account_list_call(org.clone(), *id);
            let read = self.get(&call).and_then(|a| {
                lists::account_list(&a)
                    .map(|l| NameIndex::new(&l))
                    .ok_or_else(|| {
                        ReadError::Unreadable(format!(
                            "the account list of resource {id} could not be read"
                        ))
                    })
            });
            bar.inc(1);
            out.lock().unwrap_or_else(PoisonError::into_inner)[*n] = Some(read);
        });
        bar.finish_and_clear();
        let stopped = || ReadError::Stop(self.transport.aborted().unwrap_or(Abort::Interrupted));
        out.into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(stopped())))
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

    fn said(index: &NameIndex, name: &str) -> Option<String> {
        let stop = AtomicBool::new(false);
        unsettled(&index.find(name), index, name, ("resource", "", "X"), &stop)
    }

    #[test]
    fn names_too_long_for_a_host_get_no_suggestion() {
        // Comparing two names costs their lengths multiplied, in time and
        // (for the typo test) memory: a row or a listed name of a megabyte
        // must not make a suggestion that size squared.
        let long = "a".repeat(MOST_SUGGESTED_NAME);
        let resources = index(&[(5, &format!("{long}-web")), (6, "web-01")]);
        let stop = AtomicBool::new(false);
        assert_eq!(resources.closest(&format!("{long}-wbe"), &stop), "");
        assert_eq!(resources.closest("wbe-01", &stop), " (closest: \"web-01\")");
    }

    #[test]
    fn names_match_as_the_server_compares_them_and_ambiguity_is_never_guessed() {
        let resources = index(&[
            (17, "db"),
            (42, "DB"),
            (5, "web-01"),
            (6, "Jos\u{e9}"),
            (9, "ΟΔΥΣΣΕΥΣ"),
        ]);
        assert_eq!(resources.find("WEB-01"), Found::One(5));
        assert_eq!(resources.find(" web-01 "), Found::One(5), "trimmed");
        // An NFD spelling is another name to PAM360; a final sigma is not.
        assert_eq!(resources.find("jose\u{301}"), Found::Missing);
        assert_eq!(resources.find("οδυσσευς"), Found::One(9));
        assert_eq!(
            said(&resources, "db").as_deref(),
            Some("2 resources are named \"db\" (ids 17, 42): give X")
        );
        assert_eq!(
            said(&resources, "web-1").as_deref(),
            Some("no resource named \"web-1\" (closest: \"web-01\")")
        );
        assert_eq!(
            said(&resources, "zzzz").as_deref(),
            Some("no resource named \"zzzz\"")
        );
        assert_eq!(resources.name_of(42), Some("DB"));
        let accounts = index(&[(1001, "root"), (1002, "Admin"), (1003, "admin")]);
        assert_eq!(accounts.existing("Root"), Some(Some(1001)));
        assert_eq!(accounts.existing("ADMIN"), Some(None), "two match: no id");
        assert_eq!(accounts.existing("nobody"), None);
    }

    #[test]
    fn an_id_listed_under_two_names_settles_neither() {
        let list = index(&[(17, "web-01"), (17, "web-1"), (17, "WEB-01"), (18, "db")]);
        assert_eq!(
            list.find("web-1"),
            Found::Conflict {
                id: 17,
                names: ["web-01", "web-1"]
            }
        );
        assert!(matches!(list.find("web-01"), Found::Conflict { .. }));
        assert_eq!(list.find("db"), Found::One(18));
        assert!(
            said(&list, "web-01")
                .unwrap()
                .contains("the server lists id 17 as web-01 and web-1")
        );
    }

    #[test]
    fn suggestions_keep_the_numbers_and_are_bounded() {
        let list = index(&[
            (1, "lnx-prod-530"),
            (2, "WIN-APP-300"),
            (3, "web-001"),
            (4, "dbb"),
        ]);
        let stop = AtomicBool::new(false);
        assert_eq!(list.closest("lnx-prod-350", &stop), "");
        assert_eq!(list.closest("WIN-APP-003", &stop), "");
        assert_eq!(list.closest("web-1", &stop), " (closest: \"web-001\")");
        assert_eq!(list.closest("db", &stop), " (closest: \"dbb\")");
        // A stopping run works none out.
        stop.store(true, Ordering::SeqCst);
        assert_eq!(list.closest("web-01", &stop), "");
        // Past MOST_SUGGESTIONS distinct unknown names, none is worked out
        // (a repeated one is remembered).
        let stop = AtomicBool::new(false);
        let list = index(&[(3, "web-001")]);
        assert_ne!(list.closest("web-1", &stop), "");
        for n in 0..MOST_SUGGESTIONS {
            let _ = list.closest(&format!("zz{n}"), &stop);
        }
        assert_eq!(list.closest("web-0001", &stop), "");
        assert_ne!(list.closest("web-1", &stop), "", "remembered");
    }
}
