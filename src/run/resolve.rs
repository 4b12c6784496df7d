//! Resolving names against the server, between checking and deciding:
//! reads only, and typed facts out. `RESOURCENAME` (and, for password
//! requests, `ACCOUNTNAME`) become ids, recorded on the rows; what the
//! server's lists say otherwise (no such name, several, a list that
//! contradicts itself, an id beside a name that is another target, an
//! account already there) becomes a [`Fact`], which `decide` turns into
//! each row's action. A run that stops here (a refused token, a list that
//! cannot be followed) has written nothing.

use std::collections::HashMap;

use crate::cli::Config;
use crate::collect::Collected;
use crate::job::{Job, Names, ResourceRef};
use crate::lookup::{Found, NameIndex, ReadError, Reader, Wanted, unsettled};
use crate::names::fold;
use crate::op::lists;
use crate::progress;
use crate::transport::{Abort, Transport};

/// What the server's lists say of a row, beyond the ids recorded on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// No resource of the row's org has its RESOURCENAME.
    NoResource { name: String, closest: String },
    /// The row's target does not settle on one id (several share the
    /// name, the list contradicts itself, the id beside the name is
    /// another target, the account is not there): why, in words.
    Unsettled(String),
    /// The row's account is on the server already, with its id when one
    /// account has the name, and the name as the server spells it.
    Exists { id: Option<u64>, name: String },
    /// Once resolved, the row is the same as an earlier one.
    Duplicate(String),
}

/// What resolving found.
#[derive(Debug, Default)]
pub struct Resolution {
    /// Why the run stops, before any write.
    pub aborted: Option<Abort>,
    /// Facts, by checked row, in row order.
    pub facts: Vec<(u32, Fact)>,
}

/// Resolves every open row's names; `transport` is `None` in an offline dry
/// run, which cannot: its rows by name are grouped by name under
/// stand-ins. `open` says which rows are still to be decided (not done in
/// an earlier run).
pub fn resolve<J: Job>(
    job: &J,
    cfg: &Config,
    data: &mut Collected<J::Item>,
    open: &dyn Fn(usize) -> bool,
    transport: Option<&Transport<'_>>,
) -> Resolution {
    // An input without RESOURCENAME names nothing: unless a live plan or
    // --skip-existing asks what exists, there is nothing to read, and a
    // million rows are not walked for names they cannot have.
    let by_name = data.has_column(job.schema().slot("RESOURCENAME"));
    if !by_name && !cfg.live_plan && !cfg.skip_existing {
        return Resolution::default();
    }
    let Some(transport) = transport else {
        stand_ins(job, data);
        return Resolution::default();
    };
    let reader = Reader::new(transport);
    let mut stage = Stage {
        job,
        cfg,
        open,
        reader: &reader,
        facts: HashMap::default(),
    };
    let aborted = stage.run(data).err();
    let mut facts: Vec<(u32, Fact)> = stage.facts.into_iter().collect();
    facts.sort_unstable_by_key(|(i, _)| *i);
    Resolution { aborted, facts }
}

/// An offline dry run groups rows by lower-cased resource name: rows of one
/// name share one stand-in (never shown, never sent).
fn stand_ins<J: Job>(job: &J, data: &mut Collected<J::Item>) {
    if job.targets_account() {
        return;
    }
    let mut ids: HashMap<(u32, String), u32> = HashMap::new();
    for c in &mut data.items {
        let names = job.names(&c.item);
        if names.resource_id.is_some() || names.resource_name.is_empty() {
            continue;
        }
        let next = ids.len() as u32;
        let n = *ids
            .entry((c.org, fold(names.resource_name)))
            .or_insert(next);
        job.set_resource(&mut c.item, ResourceRef::StandIn(n));
    }
}

struct Stage<'s, 't, 'r, J: Job> {
    job: &'s J,
    cfg: &'s Config,
    open: &'s dyn Fn(usize) -> bool,
    reader: &'s Reader<'t, 'r>,
    /// Keyed by row; hashed fast (a migration into an empty PAM360 has a
    /// fact for every row).
    facts: HashMap<u32, Fact, foldhash::fast::RandomState>,
}

impl<J: Job> Stage<'_, '_, '_, J> {
    fn run(&mut self, data: &mut Collected<J::Item>) -> Result<(), Abort> {
        let began = std::time::Instant::now();
        let mixed = self.resources(data)?;
        log::debug!(
            "resource names resolved in {:.3} s",
            began.elapsed().as_secs_f64()
        );
        self.accounts(data)?;
        log::debug!(
            "account lists read in {:.3} s",
            began.elapsed().as_secs_f64()
        );
        if mixed {
            self.duplicates(data);
        }
        // A live plan always reads once, so a bad token, certificate or
        // redirect shows before the real run does.
        if self.cfg.live_plan && self.reader.requests() == 0 {
            let org = data.items.first().and_then(|c| data.org(c).cloned());
            let call = lists::resource_page_call(org, 0, 1);
            self.reader
                .get(&call)
                .map_err(|e| e.abort("the resource list"))?;
        }
        Ok(())
    }

    /// Whether row `i` is still to be decided and has no fact yet.
    fn open(&self, i: usize) -> bool {
        (self.open)(i) && !self.facts.contains_key(&(i as u32))
    }

    fn fact(&mut self, i: usize, fact: Fact) {
        self.facts.insert(i as u32, fact);
    }

    /// Resolves resource names, org by org (each org's list read once).
    /// Returns whether rows by name and rows by id alone are mixed: only
    /// then can two rows that differed when checked be duplicates once
    /// resolved (two names never resolve to one id).
    fn resources(&mut self, data: &mut Collected<J::Item>) -> Result<bool, Abort> {
        let job = self.job;
        let mut orgs: Vec<u32> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        // Whether a row was compared by an id it gave when it was checked.
        let mut by_id = false;
        for (i, c) in data.items.iter().enumerate() {
            if !self.open(i) {
                continue;
            }
            let names = job.names(&c.item);
            by_id |= names.resource_id.is_some() || names.account_id.is_some();
            if !names.resource_name.is_empty() && seen.insert(c.org) {
                orgs.push(c.org);
            }
        }
        for &org in &orgs {
            let index = self.resource_index(data.orgs[org as usize].as_ref())?;
            for i in 0..data.items.len() {
                let c = &data.items[i];
                if c.org != org || !self.open(i) {
                    continue;
                }
                let names = job.names(&c.item);
                if names.resource_name.is_empty() {
                    continue;
                }
                match self.resource_of(&index, &names) {
                    Ok(id) => job.set_resource(&mut data.items[i].item, ResourceRef::Resolved(id)),
                    Err(fact) => self.fact(i, fact),
                }
            }
        }
        Ok(by_id && !orgs.is_empty())
    }

    /// The resource list of an org, read whole, as an index.
    fn resource_index(&self, org: Option<&std::sync::Arc<str>>) -> Result<NameIndex, Abort> {
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

    /// The id of a row's resource, or the fact that says why it has none:
    /// no such name, several, a list that contradicts itself, or another
    /// id than the row gave (a row names one target).
    fn resource_of(&self, index: &NameIndex, names: &Names<'_>) -> Result<u64, Fact> {
        let name = names.resource_name;
        let give = if self.job.targets_account() {
            "ACCOUNTID"
        } else {
            "RESOURCEID"
        };
        let found = index.find(name);
        let stop = self.reader.stop_flag();
        if found == Found::Missing {
            return Err(Fact::NoResource {
                name: name.to_string(),
                closest: index.closest(name, stop),
            });
        }
        if let Some(problem) = unsettled(&found, index, name, ("resource", "", give), stop) {
            return Err(Fact::Unsettled(problem));
        }
        let Found::One(id) = found else {
            unreachable!("settled on one id")
        };
        match names.resource_id {
            Some(given) if given != id => Err(Fact::Unsettled(match index.name_of(given) {
                Some(other) => format!(
                    "RESOURCEID {given} is {other}, not {name}; a row names one target: fix one of them"
                ),
                None => format!(
                    "RESOURCEID {given} is not {name} ({name} has id {id}); a row names one target: fix one of them"
                ),
            })),
            _ => Ok(id),
        }
    }

    /// Reads the account lists rows need: for adding accounts (a live plan,
    /// `--skip-existing`) whether each is there already; for password
    /// requests by name, the account's id, and for one given by id beside
    /// its resource's name, that the id is that resource's.
    fn accounts(&mut self, data: &mut Collected<J::Item>) -> Result<(), Abort> {
        let job = self.job;
        let existing = !job.targets_account() && (self.cfg.live_plan || self.cfg.skip_existing);
        let mut wanted = Wanted::default();
        let mut rows: Vec<(usize, usize)> = Vec::new();
        for i in 0..data.items.len() {
            let c = &data.items[i];
            let names = job.names(&c.item);
            let Some(rid) = names.resource_id.filter(|_| self.open(i)) else {
                continue;
            };
            let needed = if job.targets_account() {
                // By name, or an id beside the resource's name.
                !names.resource_name.is_empty()
                    && (!names.account_name.is_empty() || names.account_id.is_some())
            } else {
                existing
            };
            if needed {
                rows.push((i, wanted.add(data, c.org, rid)));
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let indexes = self
            .reader
            .account_indexes(&wanted, self.cfg.progress, "reading the server");
        if let Some(abort) = self.reader.aborted() {
            return Err(abort);
        }
        let indexes = indexes
            .into_iter()
            .zip(wanted.resources())
            .map(|(list, rid)| match list {
                Ok(index) => Ok(Listing::Read(Box::new(index))),
                // PAM360 answered Failed: no such resource; its rows are invalid.
                Err(ReadError::Refused(_)) => Ok(Listing::NoResource(rid)),
                Err(ReadError::Unreadable(m)) => Ok(Listing::Unreadable(m)),
                Err(e) => Err(e.abort(&format!("the accounts of resource {rid}"))),
            })
            .collect::<Result<Vec<_>, Abort>>()?;
        let owners = Owners::of_rows(&indexes, &wanted, data, &rows, job);
        for (i, n) in rows {
            let names = job.names(&data.items[i].item);
            let index = match &indexes[n] {
                Listing::Read(index) => index,
                Listing::NoResource(rid) => {
                    self.fact(i, Fact::Unsettled(format!("no resource with id {rid}")));
                    continue;
                }
                Listing::Unreadable(m) if job.targets_account() => {
                    let m = format!("{m}, so the account cannot be found");
                    self.fact(i, Fact::Unsettled(m));
                    continue;
                }
                // Whether the account exists cannot be told: it is sent,
                // and the server decides (an add is safe to repeat).
                Listing::Unreadable(_) => continue,
            };
            if job.targets_account() {
                match self.account_of(index, &names, &owners) {
                    Ok(id) => job.set_account(&mut data.items[i].item, id),
                    Err(problem) => self.fact(i, Fact::Unsettled(problem)),
                }
            } else if let Some(id) = index.existing(names.account_name) {
                let name = id
                    .and_then(|id| index.name_of(id))
                    .unwrap_or(names.account_name)
                    .to_string();
                if let Some(id) = id {
                    job.set_account(&mut data.items[i].item, id);
                }
                self.fact(i, Fact::Exists { id, name });
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
        let (resource, account) = (names.resource_name, names.account_name);
        let elsewhere = |given: u64, not: &str| match owners.of(given) {
            Some(owner) => format!(
                "ACCOUNTID {given} is {owner}, not {not}; a row names one target: fix one of them"
            ),
            None => {
                format!("ACCOUNTID {given} is not {not}; a row names one target: fix one of them")
            }
        };
        if account.is_empty() {
            // Only the resource's name beside the id: the id must be one of
            // its accounts.
            let given = names.account_id.unwrap_or_default();
            return match index.name_of(given) {
                Some(_) => Ok(given),
                None => Err(elsewhere(given, &format!("an account of {resource}"))),
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
        match names.account_id {
            Some(given) if given != id => Err(elsewhere(
                given,
                &format!("{resource}/{account} ({resource}/{account} has id {id})"),
            )),
            _ => Ok(id),
        }
    }

    /// A row given by id and a row whose name resolves to the same id are
    /// duplicates: found once names are resolved.
    fn duplicates(&mut self, data: &Collected<J::Item>) {
        let mut first: HashMap<Vec<u8>, usize> = HashMap::new();
        for (i, c) in data.items.iter().enumerate() {
            let open = (self.open)(i)
                && matches!(
                    self.facts.get(&(i as u32)),
                    None | Some(Fact::Exists { .. })
                );
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
                    self.fact(i, Fact::Duplicate(message));
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
    /// PAM360 answered `Failed`: no resource with this id.
    NoResource(u64),
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
