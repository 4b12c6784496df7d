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
use crate::job::{Job, fold};
use crate::lookup::{ReadError, Reader, Wanted};
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
            let index = crate::lookup::NameIndex::new(&list);
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
                let problem = match index.resource_id(&names, give) {
                    Ok(id) => {
                        resource_of[i] = id;
                        None
                    }
                    Err(p) => Some(p),
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
        let mut wanted = Wanted::default();
        let rows: Vec<(usize, usize)> = (0..data.items.len())
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
                Ok(index) => Ok(Some(index)),
                // PAM360 answered Failed: no such resource; its rows are invalid.
                Err(ReadError::Refused(_)) => Ok(None),
                Err(e) => Err(e.abort(&format!("the accounts of resource {rid}"))),
            })
            .collect::<Result<Vec<_>, Abort>>()?;
        for (i, n) in rows {
            let Some(index) = &indexes[n] else {
                self.invalid(i, format!("no resource with id {}", resource_of[i]));
                continue;
            };
            let names = job.names(&data.items[i].item);
            if job.targets_account() {
                match index.account_id(&names) {
                    Ok(id) => job.set_ids(&mut data.items[i].item, 0, id),
                    Err(problem) => self.invalid(i, problem),
                }
            } else if let Some(id) = index.existing(names.account_name) {
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
