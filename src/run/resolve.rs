//! Resolving names against the server, between checking and deciding.
//!
//! `RESOURCENAME` (and, for password requests, `ACCOUNTNAME`) become ids;
//! for a live plan or `--skip-existing`, accounts already on the server are
//! `exists`. A name no resource (or account) has, or that several share,
//! makes its row invalid. Only reads are sent: a run that stops here (a
//! refused token, a list that cannot be followed) has written nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::accounts::UNCHECKED;
use crate::cli::Config;
use crate::collect::Collected;
use crate::job::{Job, fold};
use crate::lookup::{ReadError, Reader};
use crate::outcome::{Outcome, Results, RowResult};
use crate::pam360::lists::{self, Listed, RESOURCES_PATH};
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

/// The names of one list (resources of an org, or accounts of a resource),
/// compared as the duplicate check compares: NFC, lower case.
struct NameIndex {
    by_name: HashMap<String, Vec<u64>>,
    /// Each listed spelling → its folded name: a name typed as the server
    /// spells it (the usual case) is found without folding it again.
    spelled: HashMap<String, String>,
    names: Vec<String>,
}

impl NameIndex {
    fn new(list: &[Listed]) -> Self {
        let mut by_name: HashMap<String, Vec<u64>> = HashMap::new();
        let mut spelled = HashMap::new();
        for l in list {
            let folded = fold(&l.name);
            by_name.entry(folded.clone()).or_default().push(l.id);
            spelled.insert(l.name.clone(), folded);
        }
        NameIndex {
            by_name,
            spelled,
            names: list.iter().map(|l| l.name.clone()).collect(),
        }
    }

    /// The ids listed under `name`, compared case-insensitively.
    fn find(&self, name: &str) -> &[u64] {
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
        let best = self
            .names
            .iter()
            .map(|n| (strsim::jaro_winkler(&wanted, &fold(n)), n))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        match best {
            Some((score, n)) if score >= 0.75 => format!(" (closest: \"{n}\")"),
            _ => String::new(),
        }
    }
}

fn ids(ids: &[u64]) -> String {
    ids.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
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
            match self
                .reader
                .get(RESOURCES_PATH, org.as_deref(), Some(&input))
            {
                Ok(_) => {}
                Err(ReadError::Stop(a)) => return Err(a),
                Err(ReadError::Refused(m) | ReadError::NoAnswer(m)) => {
                    return Err(Abort::Listing(format!(
                        "the resource list could not be read ({m})"
                    )));
                }
            }
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
        let give = if job.targets_account() {
            "ACCOUNTID"
        } else {
            "RESOURCEID"
        };
        for &org in &orgs {
            let bar = progress::counting(
                self.cfg.progress,
                Some(0),
                "reading the server",
                "resources",
            );
            let list = self
                .reader
                .resources(data.orgs[org as usize].as_deref(), &bar);
            bar.finish_and_clear();
            let list = list?;
            log::info!(
                "{} resources listed{}",
                list.len(),
                data.orgs[org as usize]
                    .as_deref()
                    .map(|o| format!(" in org \"{o}\""))
                    .unwrap_or_default()
            );
            let index = NameIndex::new(&list);
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
                let name = names.resource_name;
                let problem = match index.find(name) {
                    [] => Some(format!(
                        "no resource named \"{name}\"{}",
                        index.closest(name)
                    )),
                    [id] if names.resource_id != 0 && names.resource_id != *id => Some(format!(
                        "resource \"{name}\" has id {id}, not RESOURCEID {}; fix one of them",
                        names.resource_id
                    )),
                    [id] => {
                        resource_of[i] = *id;
                        None
                    }
                    many => Some(format!(
                        "{} resources are named \"{name}\" (ids {}): give {give}",
                        many.len(),
                        ids(many)
                    )),
                };
                match problem {
                    Some(p) => {
                        resource_of[i] = 0;
                        self.invalid(i, p);
                    }
                    None => {
                        let id = resource_of[i];
                        job.set_ids(&mut data.items[i].item, id, 0);
                    }
                }
            }
        }
        Ok((resource_of, by_id && !orgs.is_empty()))
    }

    /// Reads the account lists rows need: for adding accounts (a live plan,
    /// `--skip-existing`) whether each is there already; for password
    /// requests by name, the account's id.
    fn accounts(
        &mut self,
        data: &mut Collected<J::Item>,
        resource_of: &[u64],
    ) -> Result<(), Abort> {
        let job = self.job;
        let existing = !job.targets_account() && (self.cfg.live_plan || self.cfg.skip_existing);
        let rows: Vec<usize> = (0..data.items.len())
            .filter(|&i| {
                let names = job.names(&data.items[i].item);
                self.results.is_open(i)
                    && resource_of[i] != 0
                    && if job.targets_account() {
                        !names.account_name.is_empty()
                    } else {
                        existing
                    }
            })
            .collect();
        let mut wanted: Vec<(Option<Arc<str>>, u64)> = Vec::new();
        let mut at: HashMap<(u32, u64), usize> = HashMap::new();
        for &i in &rows {
            {
                let org = data.items[i].org;
                at.entry((org, resource_of[i])).or_insert_with(|| {
                    wanted.push((data.orgs[org as usize].clone(), resource_of[i]));
                    wanted.len() - 1
                });
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let bar = progress::counting(
            self.cfg.progress,
            Some(wanted.len() as u64),
            "reading the server",
            "resources",
        );
        let lists = self.reader.accounts(&wanted, &bar);
        bar.finish_and_clear();
        let mut indexes = Vec::with_capacity(lists.len());
        for (list, (_, rid)) in lists.into_iter().zip(&wanted) {
            indexes.push(match list {
                Ok(l) => Some(NameIndex::new(&l)),
                Err(ReadError::Stop(a)) => return Err(a),
                Err(ReadError::NoAnswer(m)) => {
                    return Err(Abort::Listing(format!(
                        "the accounts of resource {rid} could not be read ({m})"
                    )));
                }
                Err(ReadError::Refused(_)) => None,
            });
        }
        for i in rows {
            let org = data.items[i].org;
            let rid = resource_of[i];
            let Some(index) = &indexes[at[&(org, rid)]] else {
                self.invalid(i, format!("no resource with id {rid}"));
                continue;
            };
            let names = job.names(&data.items[i].item);
            let (account, resource) = (names.account_name, names.resource_name);
            let found = index.find(account);
            if job.targets_account() {
                let problem = match found {
                    [] => Some(format!(
                        "no account named \"{account}\" on resource \"{resource}\"{}",
                        index.closest(account)
                    )),
                    [id] if names.account_id != 0 && names.account_id != *id => Some(format!(
                        "account \"{account}\" on resource \"{resource}\" has id {id}, not ACCOUNTID {}; fix one of them",
                        names.account_id
                    )),
                    [_] => None,
                    many => Some(format!(
                        "{} accounts are named \"{account}\" on resource \"{resource}\" (ids {}): give ACCOUNTID",
                        many.len(),
                        ids(many)
                    )),
                };
                match problem {
                    Some(p) => self.invalid(i, p),
                    None => job.set_ids(&mut data.items[i].item, 0, found[0]),
                }
            } else if !found.is_empty() {
                // Two server accounts matching one name leave the id empty.
                let id = if found.len() == 1 { found[0] } else { 0 };
                job.set_ids(&mut data.items[i].item, 0, id);
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

    /// A row given by id and a row whose name resolves to the same id are
    /// duplicates: found once names are resolved.
    fn duplicates(&mut self, data: &Collected<J::Item>) {
        let mut first: HashMap<Vec<u8>, u32> = HashMap::new();
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
            crate::job::push_lowercase(data.org_name(c.org), &mut key);
            key.push(0);
            self.job.dup_key(&c.item, &mut key);
            match first.get(&key) {
                Some(row) => {
                    let message = format!("duplicate of row {row}");
                    self.invalid(i, message);
                }
                None => {
                    first.insert(key, c.row);
                }
            }
        }
    }
}
