//! Resolving names against the server, between checking and deciding.
//!
//! `RESOURCENAME` (and, for password requests, `ACCOUNTNAME`) become ids;
//! for a live plan or `--skip-existing`, accounts already on the server are
//! `exists`. A name no resource (or account) has, or that several share,
//! makes its row invalid. Only reads are sent: a run that stops here (a
//! refused token, a list that cannot be followed) has written nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::accounts::UNCHECKED;
use crate::cli::Config;
use crate::collect::Collected;
use crate::job::Job;
use crate::job::Names;
use crate::lookup::{Found, NameIndex, ReadError, Reader, Wanted, unsettled};
use crate::names::fold;
use crate::outcome::{Outcome, Results, RowResult};
use crate::pam360::lists::{self, RESOURCES_PATH};
use crate::progress;
use crate::send::{Abort, Link};

/// What resolving did.
#[derive(Debug, Default)]
pub struct Resolution {
    /// Why the run stops, before any write.
    pub aborted: Option<Abort>,
    /// Reads sent, and retries among them.
    pub requests: u64,
    pub retries: u64,
    /// Rows made invalid here (unknown, ambiguous, duplicate once resolved).
    pub invalid: usize,
}

/// Resolves every open row's names; `link` is `None` in an offline dry run,
/// which cannot: its rows by name are grouped by name under stand-in ids.
pub fn resolve<J: Job>(
    job: &J,
    cfg: &Config,
    data: &mut Collected<J::Item>,
    results: &mut Results,
    link: Option<&Link>,
    stop: &AtomicBool,
) -> Resolution {
    // An input without RESOURCENAME names nothing: unless a live plan or
    // --skip-existing asks what exists, there is nothing to read, and a
    // million rows are not walked for names they cannot have.
    let by_name = data.has_column(job.schema().slot("RESOURCENAME"));
    if !by_name && !cfg.live_plan && !cfg.skip_existing {
        return Resolution::default();
    }
    let Some(link) = link else {
        stand_ins(job, data);
        return Resolution::default();
    };
    let send = cfg.send_config();
    let reader = Reader::new(link, &send, stop);
    let mut stage = Stage {
        job,
        cfg,
        results,
        reader: &reader,
        invalid: 0,
    };
    let aborted = stage.run(data).err();
    let invalid = stage.invalid;
    Resolution {
        aborted,
        requests: reader.requests.load(Ordering::Relaxed),
        retries: reader.retries.load(Ordering::Relaxed),
        invalid,
    }
}

/// An offline dry run groups rows by lower-cased resource name: rows of one
/// name get one stand-in id (never shown, never sent).
fn stand_ins<J: Job>(job: &J, data: &mut Collected<J::Item>) {
    if job.targets_account() {
        return;
    }
    let mut ids: HashMap<(u32, String), u64> = HashMap::new();
    for c in &mut data.items {
        let names = job.names(&c.item);
        if names.resource_id != 0 || names.resource_name.is_empty() {
            continue;
        }
        let next = UNCHECKED | (ids.len() as u64 + 1);
        let id = *ids
            .entry((c.org, fold(names.resource_name)))
            .or_insert(next);
        job.set_ids(&mut c.item, id, 0);
    }
}

struct Stage<'s, 'r, J: Job> {
    job: &'s J,
    cfg: &'s Config,
    results: &'s mut Results,
    reader: &'s Reader<'r>,
    invalid: usize,
}

impl<J: Job> Stage<'_, '_, J> {
    fn run(&mut self, data: &mut Collected<J::Item>) -> Result<(), Abort> {
        let began = std::time::Instant::now();
        let (resource_of, mixed) = self.resources(data)?;
        log::debug!(
            "resource names resolved in {:.3} s",
            began.elapsed().as_secs_f64()
        );
        self.accounts(data, &resource_of)?;
        log::debug!(
            "account lists read in {:.3} s",
            began.elapsed().as_secs_f64()
        );
        if mixed {
            self.duplicates(data);
        }
        log::debug!("names resolved in {:.3} s", began.elapsed().as_secs_f64());
        // A live plan always reads once, so a bad token, certificate or
        // redirect shows before the real run does.
        if self.cfg.live_plan && self.reader.requests.load(Ordering::Relaxed) == 0 {
            let org = data.items.first().and_then(|c| data.org(c).cloned());
            let input = lists::page_input(0, 1);
            self.reader
                .get(RESOURCES_PATH, org.as_deref(), Some(&input))
                .map_err(|e| e.abort("the resource list"))?;
        }
        Ok(())
    }

    fn invalid(&mut self, i: usize, message: String) {
        self.results
            .set(i, RowResult::new(Outcome::Invalid, message));
        self.invalid += 1;
    }

    /// Resolves resource names, org by org (each org's list read once).
    /// Returns each row's resource id (0 where unknown) and whether rows by
    /// name and rows by id alone are mixed: only then can two rows that
    /// differed when checked be duplicates once resolved (two names never
    /// resolve to one id: the list's ids are distinct).
    fn resources(&mut self, data: &mut Collected<J::Item>) -> Result<(Vec<u64>, bool), Abort> {
        let job = self.job;
        let mut resource_of: Vec<u64> = data
            .items
            .iter()
            .map(|c| job.names(&c.item).resource_id)
            .collect();
        let mut orgs: Vec<u32> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        // Whether a row was compared by an id it gave when it was checked.
        let mut by_id = false;
        for (i, c) in data.items.iter().enumerate() {
            if !self.results.is_open(i) {
                continue;
            }
            let names = job.names(&c.item);
            by_id |= names.resource_id != 0 || names.account_id != 0;
            if !names.resource_name.is_empty() && seen.insert(c.org) {
                orgs.push(c.org);
            }
        }
        for &org in &orgs {
            let index = self.resource_index(data.orgs[org as usize].as_deref())?;
            let rows: Vec<usize> = (0..data.items.len())
                .filter(|&i| {
                    let c = &data.items[i];
                    c.org == org
                        && !job.names(&c.item).resource_name.is_empty()
                        && self.results.is_open(i)
                })
                .collect();
            for i in rows {
                let names = job.names(&data.items[i].item);
                match self.resource_of(&index, &names) {
                    Ok(id) => {
                        resource_of[i] = id;
                        job.set_ids(&mut data.items[i].item, id, 0);
                    }
                    Err(problem) => {
                        resource_of[i] = 0;
                        self.invalid(i, problem);
                    }
                }
            }
        }
        Ok((resource_of, by_id && !orgs.is_empty()))
    }

    /// The resource list of an org, read whole, as an index.
    fn resource_index(&self, org: Option<&str>) -> Result<NameIndex, Abort> {
        let bar = progress::counting(
            self.cfg.progress,
            Some(0),
            "reading the server",
            "resources",
        );
        let list = self.reader.resources(org, &bar);
        bar.finish_and_clear();
        let list = list?;
        log::info!(
            "{} resources listed{}",
            list.len(),
            org.map(|o| format!(" in org \"{o}\"")).unwrap_or_default()
        );
        Ok(NameIndex::new(&list))
    }

    /// The id of a row's resource, or why it has none: no such name,
    /// several, a list that contradicts itself, or another id than the row
    /// gave (a row names one target).
    fn resource_of(&self, index: &NameIndex, names: &Names<'_>) -> Result<u64, String> {
        let name = names.resource_name;
        let give = if self.job.targets_account() {
            "ACCOUNTID"
        } else {
            "RESOURCEID"
        };
        let found = index.find(name);
        let stop = self.reader.stop_flag();
        if let Some(problem) = unsettled(&found, index, name, ("resource", "", give), stop) {
            return Err(problem);
        }
        let Found::One(id) = found else {
            unreachable!("settled on one id")
        };
        let given = names.resource_id;
        if given != 0 && given != id {
            return Err(match index.name_of(given) {
                Some(other) => format!(
                    "RESOURCEID {given} is {other}, not {name}; a row names one target: fix one of them"
                ),
                None => format!(
                    "RESOURCEID {given} is not {name} ({name} has id {id}); a row names one target: fix one of them"
                ),
            });
        }
        Ok(id)
    }

    /// Reads the account lists rows need: for adding accounts (a live plan,
    /// `--skip-existing`) whether each is there already; for password
    /// requests by name, the account's id, and for one given by id beside
    /// its resource's name, that the id is that resource's.
    fn accounts(
        &mut self,
        data: &mut Collected<J::Item>,
        resource_of: &[u64],
    ) -> Result<(), Abort> {
        let job = self.job;
        let existing = !job.targets_account() && (self.cfg.live_plan || self.cfg.skip_existing);
        let mut wanted = Wanted::default();
        let rows: Vec<(usize, usize)> = (0..data.items.len())
            .filter(|&i| {
                let names = job.names(&data.items[i].item);
                self.results.is_open(i)
                    && resource_of[i] != 0
                    && if job.targets_account() {
                        !names.account_name.is_empty() || names.account_id != 0
                    } else {
                        existing
                    }
            })
            .map(|i| (i, wanted.add(data, data.items[i].org, resource_of[i])))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let indexes = self
            .reader
            .account_indexes(&wanted, self.cfg.progress, "reading the server");
        let indexes = indexes
            .into_iter()
            .zip(wanted.resources())
            .map(|(list, rid)| match list {
                Ok(index) => Ok(Listing::Read(Box::new(index))),
                // PAM360 answered Failed: no such resource; its rows are invalid.
                Err(ReadError::Refused(_)) => Ok(Listing::NoResource),
                Err(ReadError::Unreadable(m)) => Ok(Listing::Unreadable(m)),
                Err(e) => Err(e.abort(&format!("the accounts of resource {rid}"))),
            })
            .collect::<Result<Vec<_>, Abort>>()?;
        let owners = Owners::of_rows(&indexes, &wanted, data, &rows, job);
        for (i, n) in rows {
            let index = match &indexes[n] {
                Listing::Read(index) => index,
                Listing::NoResource => {
                    self.invalid(i, format!("no resource with id {}", resource_of[i]));
                    continue;
                }
                Listing::Unreadable(m) if job.targets_account() => {
                    self.invalid(i, format!("{m}, so the account cannot be found"));
                    continue;
                }
                // Whether the account exists cannot be told: it is sent,
                // and the server decides (an add is safe to repeat).
                Listing::Unreadable(_) => continue,
            };
            if job.targets_account() {
                let names = job.names(&data.items[i].item);
                match self.account_of(index, &names, &owners) {
                    Ok(id) => job.set_ids(&mut data.items[i].item, 0, id),
                    Err(problem) => self.invalid(i, problem),
                }
            } else if let Some(id) = index.existing(job.names(&data.items[i].item).account_name) {
                job.set_ids(&mut data.items[i].item, 0, id.unwrap_or(0));
                let message = if self.cfg.dry_run {
                    "already on the server"
                } else {
                    "already on the server; not sent"
                };
                self.results
                    .set(i, RowResult::new(Outcome::Exists, message));
            }
        }
        Ok(())
    }

    /// The id of a password request's account in its resource's list, or
    /// why it has none. A row that gives the id beside the names is sent
    /// only to that very account.
    fn account_of(
        &self,
        index: &NameIndex,
        names: &Names<'_>,
        owners: &Owners,
    ) -> Result<u64, String> {
        let (resource, account, given) =
            (names.resource_name, names.account_name, names.account_id);
        if account.is_empty() {
            // Only the resource's name beside the id: the id must be one of
            // its accounts.
            return match index.name_of(given) {
                Some(_) => Ok(given),
                None => Err(match owners.of(given) {
                    Some(owner) => format!(
                        "ACCOUNTID {given} is {owner}, not an account of {resource}; a row names one target: fix one of them"
                    ),
                    None => format!(
                        "ACCOUNTID {given} is not an account of {resource}; a row names one target: fix one of them"
                    ),
                }),
            };
        }
        let found = index.find(account);
        let place = format!(" on resource \"{resource}\"");
        let stop = self.reader.stop_flag();
        let what = ("account", place.as_str(), "ACCOUNTID");
        if let Some(problem) = unsettled(&found, index, account, what, stop) {
            return Err(problem);
        }
        let Found::One(id) = found else {
            unreachable!("settled on one id")
        };
        if given != 0 && given != id {
            return Err(match owners.of(given) {
                Some(owner) => format!(
                    "ACCOUNTID {given} is {owner}, not {resource}/{account}; a row names one target: fix one of them"
                ),
                None => format!(
                    "ACCOUNTID {given} is not {resource}/{account} ({resource}/{account} has id {id}); a row names one target: fix one of them"
                ),
            });
        }
        Ok(id)
    }

    /// A row given by id and a row whose name resolves to the same id are
    /// duplicates: found once names are resolved.
    fn duplicates(&mut self, data: &Collected<J::Item>) {
        let mut first: HashMap<Vec<u8>, usize> = HashMap::new();
        for (i, c) in data.items.iter().enumerate() {
            let open = match self.results.view(i) {
                None => true,
                Some((outcome, ..)) => outcome == Outcome::Exists,
            };
            if !open {
                continue;
            }
            // Orgs compare as the duplicate check compares them.
            let mut key = Vec::new();
            crate::names::push_fold(data.org_name(c.org), &mut key);
            key.push(0);
            self.job.dup_key(&c.item, &mut key);
            match first.get(&key) {
                Some(&f) => {
                    let kept = &data.items[f];
                    let differ = self.job.differences(&kept.item, &c.item);
                    let message = crate::body::duplicate_message(kept.row.into(), &differ);
                    self.invalid(i, message);
                }
                None => {
                    first.insert(key, i);
                }
            }
        }
    }
}

/// An account list as resolving found it.
enum Listing {
    Read(Box<NameIndex>),
    /// PAM360 answered `Failed`: no such resource.
    NoResource,
    /// An answer without an account list in either shape.
    Unreadable(String),
}

/// Whose account each id read this run is (`mail-01/root`), to say which
/// account a wrong `ACCOUNTID` names.
struct Owners(HashMap<u64, String>);

impl Owners {
    fn of_rows<J: Job>(
        indexes: &[Listing],
        wanted: &Wanted,
        data: &Collected<J::Item>,
        rows: &[(usize, usize)],
        job: &J,
    ) -> Owners {
        let mut resource_names: Vec<Option<&str>> = vec![None; indexes.len()];
        for &(i, n) in rows {
            let name = job.names(&data.items[i].item).resource_name;
            if !name.is_empty() {
                resource_names[n].get_or_insert(name);
            }
        }
        let mut owners = HashMap::new();
        for ((listing, rid), name) in indexes.iter().zip(wanted.resources()).zip(resource_names) {
            if let Listing::Read(index) = listing {
                let resource = name.map_or_else(|| format!("resource {rid}"), str::to_string);
                for (id, account) in index.entries() {
                    owners
                        .entry(id)
                        .or_insert_with(|| format!("{resource}/{account}"));
                }
            }
        }
        Owners(owners)
    }

    fn of(&self, id: u64) -> Option<&str> {
        self.0.get(&id).map(String::as_str)
    }
}
