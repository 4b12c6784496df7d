//! Creating what is missing, updating what exists (add-accounts):
//! `--create-resources`, `--update`, `--update-passwords`.
//!
//! Deciding: rows of a resource no resource has the name of are grouped
//! into one create per (org, name), their resource columns checked for
//! agreement; rows whose account is there (or that an earlier run did and
//! whose details changed since) become edits and password changes.
//! Sending: creates go first, all journaled as being created before the
//! first goes, and each once its id is known; a create whose answer is
//! lost is looked up by name, never sent again; a resource's accounts go
//! once its id is known, by the same workers. Edits go with the adds;
//! password changes after their row's edit.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use serde_json::{Map, Value};

use super::resolve::Fact;
use super::sending::Sender;
use crate::body::Field;
use crate::cli::{Config, CreateResources};
use crate::collect::Collected;
use crate::job::{Checked, Job, ResourceRef};
use crate::lookup::{Found, Reader, Wanted};
use crate::names::server_key;
use crate::op::{Call, Op, Verdict, change_password, create_resource, edit_account};
use crate::outcome::{Outcome, Results, RowResult};
use crate::pam360::Answer;
use crate::plan::{Target, Unit};
use crate::report::{History, ReportRow, today};
use crate::schema::{Column, Kind, Part};
use crate::transport::Delivery;

/// A resource to create, for the rows that name it.
#[derive(Debug, Clone)]
pub struct Create {
    pub org: u32,
    /// The first valid row's spelling.
    pub name: String,
    /// Its `Details`: `RESOURCENAME`, `RESOURCETYPE` and the other
    /// resource columns the rows fill, `RESOURCECUSTOMFIELD`.
    pub fields: Map<String, Value>,
    pub rows: Vec<u32>,
}

impl Create {
    /// Its type, for messages.
    pub fn kind(&self) -> &str {
        self.fields
            .get("RESOURCETYPE")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// An account that exists, to edit or whose password to change.
#[derive(Debug, Clone)]
pub struct Existing {
    pub row: u32,
    pub resource_id: u64,
    pub account_id: u64,
    /// `ACCOUNTNAME` as the server spells it.
    pub name: String,
    /// Whether it gets an edit, and a password change.
    pub edit: bool,
    pub password: bool,
}

/// What `--create-resources` and `--update` add to a run.
#[derive(Debug, Default)]
pub struct SyncPlan {
    pub creates: Vec<Create>,
    pub existing: Vec<Existing>,
    /// Rows whose password change is held back: an earlier run sent one
    /// (or an add) without a confirmed answer.
    pub held: HashSet<u32>,
    /// What earlier runs did to rows edited now (their record goes on).
    pub histories: HashMap<u32, History>,
    /// Resources the rows name that no resource has, without
    /// `--create-resources` (for the summary).
    pub missing: usize,
}

/// Each create's resource id, or the result its rows get instead, as the
/// creates finish. A resource's accounts wait here for its id, so that a
/// worker done with the creates goes on to the accounts of resources
/// already created rather than waiting for the last create: the creates
/// and the adds share one pool of workers with no pause between them.
///
/// A worker waits for create `k` only after create `k` was taken up by
/// another worker (the creates come first in the pool's order, and an
/// item taken up is carried out), and [`SyncPlan::create`] settles its id
/// on every path, so no wait is for ever.
pub struct CreatedIds {
    ids: Mutex<Vec<Option<Result<u64, RowResult>>>>,
    settled: Condvar,
}

impl CreatedIds {
    /// No id known yet for any of `n` creates.
    pub fn new(n: usize) -> Self {
        CreatedIds {
            ids: Mutex::new(vec![None; n]),
            settled: Condvar::new(),
        }
    }

    fn set(&self, k: usize, id: Result<u64, RowResult>) {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)[k] = Some(id);
        self.settled.notify_all();
    }

    /// Create `k`'s id (or its rows' result), once its worker has it.
    pub fn wait(&self, k: usize) -> Result<u64, RowResult> {
        let mut ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(id) = &ids[k] {
                return id.clone();
            }
            ids = self
                .settled
                .wait(ids)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Every create's id, or its rows' result; a create never taken up
    /// (the run stopped first) is not sent.
    pub fn into_results(self) -> Vec<Result<u64, RowResult>> {
        self.ids
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(not_created())))
            .collect()
    }
}

/// The result of the rows of a create never sent: the run stopped first.
fn not_created() -> RowResult {
    RowResult::new(
        Outcome::NotSent,
        "not sent: the run stopped before its resource was created",
    )
}

/// Settles a create as not sent if its worker unwinds before it has a result.
struct Unsettled<'a> {
    ids: &'a CreatedIds,
    n: Option<usize>,
}

impl Drop for Unsettled<'_> {
    fn drop(&mut self) {
        if let Some(n) = self.n {
            self.ids.set(n, Err(not_created()));
        }
    }
}

/// The columns an edit writes: the account's own fields but its name and
/// its custom fields (the edit page has none), and its password (Change
/// Password's); the TOTP secret only with `--update-passwords`.
pub fn edited(column: &Column, passwords: bool) -> bool {
    column.part == Part::Account
        && column.wire.is_some()
        && column.name != "ACCOUNTNAME"
        && column.name != "PASSWORD"
        && (column.kind != Kind::Secret || passwords)
}

/// The names of the columns a row's edit writes.
pub fn written<J: Job>(job: &J, item: &J::Item, passwords: bool) -> Vec<&'static str> {
    job.body(item)
        .texts_of(job.schema(), |c| edited(c, passwords))
        .into_iter()
        .filter(|(_, t)| !t.is_empty())
        .map(|(n, _)| n)
        .collect()
}

/// The row's PASSWORD, when it has one.
fn password<'i, J: Job>(job: &J, item: &'i J::Item) -> Option<&'i str> {
    job.body(item)
        .texts_of(job.schema(), |c| c.name == "PASSWORD")
        .into_iter()
        .map(|(_, t)| t)
        .find(|t| !t.is_empty())
}

impl SyncPlan {
    /// Groups the rows of missing resources into creates (with
    /// `--create-resources`); the rows that cannot be created are invalid.
    /// Returns the facts left for `decide` to settle.
    pub fn creates<J: Job>(
        &mut self,
        job: &J,
        cfg: &Config,
        data: &mut Collected<J::Item>,
        facts: Vec<(u32, Fact)>,
        results: &mut Results,
    ) -> Vec<(u32, Fact)> {
        let mut left = Vec::with_capacity(facts.len());
        let mut groups: HashMap<(u32, String), usize> = HashMap::new();
        let mut missing = HashSet::new();
        for (i, fact) in facts {
            let Fact::NoResource { name, closest } = &fact else {
                left.push((i, fact));
                continue;
            };
            let org = data.items[i as usize].org;
            let key = (org, server_key(name));
            if !missing.contains(&key) {
                missing.insert(key.clone());
            }
            let creating = match cfg.create_resources {
                Some(CreateResources::All) => true,
                Some(CreateResources::Missing) => closest.is_empty(),
                None => false,
            };
            if !creating {
                left.push((i, fact));
                continue;
            }
            let n = *groups.entry(key).or_insert_with(|| {
                self.creates.push(Create {
                    org,
                    name: name.clone(),
                    fields: Map::new(),
                    rows: Vec::new(),
                });
                self.creates.len() - 1
            });
            self.creates[n].rows.push(i);
        }
        self.missing = missing.len();
        for n in 0..self.creates.len() {
            let problems = settle_fields(job, data, &mut self.creates[n]);
            for (i, problem) in problems {
                results.set(i as usize, RowResult::new(Outcome::Invalid, problem));
            }
            let create = &mut self.creates[n];
            create.rows.retain(|&i| results.is_open(i as usize));
            for &i in &create.rows {
                job.set_resource(
                    &mut data.items[i as usize].item,
                    ResourceRef::ToCreate(n as u32),
                );
            }
        }
        left
    }

    /// Rows whose account is on the server become edits (`--update`) and
    /// password changes (`--update-passwords`); a row with nothing to
    /// write stays `exists`.
    pub fn updates<J: Job>(
        &mut self,
        job: &J,
        cfg: &Config,
        data: &Collected<J::Item>,
        found: &[(u32, Option<u64>, String)],
        results: &mut Results,
    ) {
        for (i, id, name) in found {
            let c = &data.items[*i as usize];
            let Some(rid) = job.names(&c.item).resource_id else {
                continue;
            };
            let edit = !written(job, &c.item, cfg.update_passwords).is_empty();
            let password = cfg.update_passwords && password(job, &c.item).is_some();
            if !edit && !password {
                continue;
            }
            if password && self.held.contains(i) {
                results.set(
                    *i as usize,
                    RowResult::new(
                        Outcome::Unconfirmed,
                        "an earlier run sent this row without a confirmed answer, so its password is not changed again; check PAM360, then rerun with --resend-unconfirmed",
                    ),
                );
                continue;
            }
            let Some(account_id) = id else {
                results.set(
                    *i as usize,
                    RowResult::new(
                        Outcome::Failed,
                        format!("two accounts on the server match \"{name}\": which one to edit cannot be told; edit it in PAM360"),
                    ),
                );
                continue;
            };
            self.existing.push(Existing {
                row: *i,
                resource_id: rid,
                account_id: *account_id,
                name: name.clone(),
                edit,
                password: password && !self.held.contains(i),
            });
        }
    }

    /// Done rows whose details changed since their report (`--update`)
    /// are edited: with the ids that report holds, or, when it holds no
    /// account id, found by reading their resource's accounts (the one
    /// case where a done row meets the server again). A row whose account
    /// is gone is `failed`.
    pub fn changed<J: Job>(
        &mut self,
        job: &J,
        cfg: &Config,
        data: &Collected<J::Item>,
        changed: Vec<(u32, crate::report::Done)>,
        (reader, date): (Option<&Reader<'_, '_>>, &str),
        results: &mut Results,
    ) {
        let columns = job.identity().columns;
        let cell = |done: &crate::report::Done, name: &str| {
            columns
                .iter()
                .position(|c| *c == name)
                .and_then(|at| done.cells.key_cell(at))
                .and_then(crate::op::id_of)
        };
        let mut to_find = Vec::new();
        for (i, done) in changed {
            let item = &data.items[i as usize].item;
            if written(job, item, false).is_empty() {
                // An empty cell never blanks a field: nothing to write.
                continue;
            }
            self.histories.insert(i, History::of(&done, date));
            let name = job.names(item).account_name.to_string();
            let rid = cell(&done, "resource_id").or(job.names(item).resource_id);
            match (rid, cell(&done, "account_id")) {
                (Some(rid), Some(aid)) => self.existing.push(Existing {
                    row: i,
                    resource_id: rid,
                    account_id: aid,
                    name,
                    edit: true,
                    password: false,
                }),
                (Some(rid), None) => to_find.push((i, rid)),
                (None, _) => results.set(
                    i as usize,
                    RowResult::new(
                        Outcome::Failed,
                        "its details changed, but the earlier report holds no resource id to edit it by; run once without --resume",
                    ),
                ),
            }
        }
        let Some(reader) = reader else { return };
        let found = find_accounts(reader, data, job, &to_find, cfg.progress);
        for ((i, found), (_, rid)) in found.into_iter().zip(to_find) {
            match found {
                Some((Some(aid), name)) => self.existing.push(Existing {
                    row: i,
                    resource_id: rid,
                    account_id: aid,
                    name,
                    edit: true,
                    password: false,
                }),
                Some((None, name)) => results.set(
                    i as usize,
                    RowResult::new(
                        Outcome::Failed,
                        format!("two accounts on the server match \"{name}\": which one to edit cannot be told; edit it in PAM360"),
                    ),
                ),
                None => results.set(
                    i as usize,
                    RowResult::new(
                        Outcome::Failed,
                        "its details changed, but the account is not on the server any more",
                    ),
                ),
            }
        }
    }

    /// The journal lines that say each create is being created, written
    /// together and durably before the first create goes (the journal
    /// records each create before it is sent): one write on disk instead
    /// of one a create. A run that stops before a create goes leaves its
    /// line too; the next run looks the name up, does not find it, and
    /// creates it then.
    pub fn creating<I>(&self, data: &Collected<I>) -> Vec<ReportRow> {
        self.creates
            .iter()
            .map(|c| {
                let org = data.orgs[c.org as usize].as_deref();
                event(org, c, Outcome::Creating, None)
            })
            .collect()
    }

    /// Sends create `n` and settles its id in `ids`, whatever happens
    /// (a worker waiting for that id must not wait for ever). A live plan
    /// sends none.
    pub fn create<J: Job>(
        &self,
        sender: &Sender<'_, '_, J>,
        data: &Collected<J::Item>,
        n: usize,
        ids: &CreatedIds,
    ) {
        // Settled as not sent if `create_one` unwinds.
        let mut guard = Unsettled { ids, n: Some(n) };
        let create = &self.creates[n];
        let org = data.orgs[create.org as usize].clone();
        let result = create_one(sender, org, create);
        guard.n = None;
        ids.set(n, result);
    }

    /// The edit units, one a row.
    pub fn edit_units<I>(&self, data: &Collected<I>) -> Vec<Unit> {
        self.units(data, crate::op::Kind::EditAccount, |e| e.edit)
    }

    /// The password-change units of the rows whose edit (if they had one)
    /// went through.
    pub fn password_units<I>(&self, data: &Collected<I>, results: &Results) -> Vec<Unit> {
        let edited = |e: &Existing| {
            !e.edit
                || results
                    .view(e.row as usize)
                    .is_some_and(|(o, ..)| o == Outcome::Updated)
        };
        self.units(data, crate::op::Kind::ChangePassword, |e| {
            e.password && edited(e)
        })
    }

    fn units<I>(
        &self,
        data: &Collected<I>,
        kind: crate::op::Kind,
        keep: impl Fn(&Existing) -> bool,
    ) -> Vec<Unit> {
        self.existing
            .iter()
            .filter(|e| keep(e))
            .map(|e| Unit {
                kind,
                org: data.orgs[data.items[e.row as usize].org as usize].clone(),
                target: Target::Existing {
                    resource: e.resource_id,
                    account: e.account_id,
                },
                rows: vec![e.row],
            })
            .collect()
    }
}

/// The create's fields from its rows: each resource column from the first
/// valid row that fills it; a row that fills it otherwise is invalid, and
/// so is every row of a resource whose type no row gives.
fn settle_fields<J: Job>(
    job: &J,
    data: &Collected<J::Item>,
    create: &mut Create,
) -> Vec<(u32, String)> {
    let schema = job.schema();
    let mut first: HashMap<&'static str, (u32, String)> = HashMap::new();
    let mut problems = Vec::new();
    let mut custom: Option<(u32, String)> = None;
    for &i in &create.rows {
        let c = &data.items[i as usize];
        let body = job.body(&c.item);
        let mut row_problems = Vec::new();
        for (name, text) in body.texts_of(schema, |col| col.part == Part::Resource) {
            match first.get(name) {
                Some((row, kept)) if kept != text => row_problems.push(format!(
                    "{name} differs from row {row} for resource {}",
                    create.name
                )),
                Some(_) => {}
                None => {
                    first.insert(name, (c.row, text.to_string()));
                }
            }
        }
        if let Some(json) = body.get(Field::RESOURCE_JSON) {
            match &custom {
                Some((row, kept)) if kept != json => row_problems.push(format!(
                    "the RESOURCECUSTOM: columns differ from row {row} for resource {}",
                    create.name
                )),
                Some(_) => {}
                None => custom = Some((c.row, json.to_string())),
            }
        }
        if !row_problems.is_empty() {
            problems.push((i, row_problems.join("; ")));
        }
    }
    if !first.contains_key("RESOURCETYPE") {
        let why = format!(
            "RESOURCETYPE is needed to create resource {} (a column, or a --map constant)",
            create.name
        );
        return create.rows.iter().map(|&i| (i, why.clone())).collect();
    }
    create
        .fields
        .insert("RESOURCENAME".into(), Value::String(create.name.clone()));
    let mut fields: Vec<(&str, String)> = first.into_iter().map(|(k, (_, v))| (k, v)).collect();
    fields.sort();
    for (k, v) in fields {
        create.fields.insert(k.to_string(), Value::String(v));
    }
    if let Some((_, json)) = custom
        && let Ok(v) = serde_json::from_str(&json)
    {
        create.fields.insert("RESOURCECUSTOMFIELD".into(), v);
    }
    problems
}

/// Creates one resource: journaled as being created before it goes, then
/// created with its id. A create is never sent twice: after an unknown
/// outcome, or an "already exists", the name is looked up.
fn create_one<J: Job>(
    sender: &Sender<'_, '_, J>,
    org: Option<Arc<str>>,
    create: &Create,
) -> Result<u64, RowResult> {
    let call = create_resource::call(org.clone(), &create.fields);
    // Its "being created" line is on disk already (`SyncPlan::creating`).
    let exchange = sender.call(&call);
    let found = |why: &str| look_up(sender, org.clone(), create, why);
    let id = match &exchange.delivery {
        Delivery::Untaken => return Err(not_created()),
        Delivery::Answered { answer, .. } => match create_resource::read(answer) {
            create_resource::Created::Yes(Some(id)) => id,
            create_resource::Created::Yes(None) => found("created; its id could not be read")?,
            create_resource::Created::AlreadyThere => {
                found("the server says it exists; its id could not be read")?
            }
            create_resource::Created::Refused(m) => {
                return Err(RowResult::new(
                    Outcome::Failed,
                    format!(
                        "resource {} could not be created: {}",
                        create.name,
                        exchange.scrub(&m)
                    ),
                ));
            }
        },
        Delivery::Ended { .. } if sender.transport().aborted().is_some() => {
            found("the create may not have arrived; run again")?
        }
        Delivery::Ended { .. } => found("the create may not have arrived; run again")?,
    };
    if !sender.event(event(org.as_deref(), create, Outcome::Created, Some(id))) {
        return Err(RowResult::new(
            Outcome::NotSent,
            "not sent: the journal could not record the created resource",
        ));
    }
    log::info!("resource {} created, id {id}", create.name);
    Ok(id)
}

/// The id of a resource just created (or that may have been), by its
/// name; `why` says what is left when it cannot be found.
fn look_up<J: Job>(
    sender: &Sender<'_, '_, J>,
    org: Option<Arc<str>>,
    create: &Create,
    why: &str,
) -> Result<u64, RowResult> {
    let call = create_resource::find_call(org, &create.name);
    let reader = Reader::new(sender.transport());
    match reader.get(&call) {
        Ok(answer) => create_resource::details_id(&answer).ok_or_else(|| {
            RowResult::new(Outcome::NotSent, format!("resource {}: {why}", create.name))
        }),
        Err(_) => Err(RowResult::new(
            Outcome::NotSent,
            format!("resource {}: {why}", create.name),
        )),
    }
}

/// A journal line for an event of a resource (row 0).
fn event(org: Option<&str>, create: &Create, outcome: Outcome, id: Option<u64>) -> ReportRow {
    let message = match id {
        Some(id) => format!("resource {} created, id {id}", create.name),
        None => format!("resource {} being created", create.name),
    };
    ReportRow {
        row: 0,
        org: org.unwrap_or("").to_string(),
        key: vec![
            id.map(|i| i.to_string()).unwrap_or_default(),
            create.name.clone(),
            String::new(),
            String::new(),
        ],
        result: RowResult::new(outcome, message),
        extra: vec![String::new()],
    }
}

/// The request of an edit or a password change.
pub struct Write {
    call: Call,
    written: Vec<&'static str>,
    password: bool,
}

impl Op for Write {
    fn call(&self) -> Call {
        self.call.clone()
    }

    fn verdicts(&self, answer: &Answer) -> Vec<Verdict> {
        vec![if self.password {
            change_password::verdict(answer)
        } else {
            edit_account::verdict(answer, &self.written)
        }]
    }
}

/// Builds the edit or password change of `unit`'s one row.
pub fn write_op<J: Job>(
    job: &J,
    cfg: &Config,
    unit: &Unit,
    items: &[Checked<J::Item>],
    sync: &SyncPlan,
) -> Option<Box<dyn Op>> {
    let Target::Existing { resource, account } = unit.target else {
        return None;
    };
    let row = unit.rows[0];
    let item = &items[row as usize].item;
    let e = sync.existing.iter().find(|e| e.row == row)?;
    let call = if unit.kind == crate::op::Kind::ChangePassword {
        change_password::call(
            unit.org.clone(),
            (resource, account),
            password(job, item)?,
            &cfg.reason,
        )
    } else {
        let mut buf = Vec::new();
        let mut obj = crate::cells::JsonObject::open(&mut buf);
        job.body(item)
            .write_json_of(job.schema(), &mut obj, |c| edited(c, cfg.update_passwords));
        obj.close();
        let fields: Map<String, Value> = serde_json::from_slice(&buf).unwrap_or_default();
        let secrets = job.body(item).secrets(job.schema());
        edit_account::call(
            unit.org.clone(),
            (resource, account),
            &e.name,
            fields,
            secrets,
        )
    };
    Some(Box::new(Write {
        call,
        written: written(job, item, cfg.update_passwords),
        password: unit.kind == crate::op::Kind::ChangePassword,
    }))
}

/// A row's message once it was updated: its record, with this run's event.
pub fn updated_message(earlier: Option<&History>, detail: &str) -> String {
    match earlier {
        Some(h) => h.clone().then("updated", &today(), detail).to_string(),
        None => {
            History::new("updated", &today()).to_string()
                + &if detail.is_empty() {
                    String::new()
                } else {
                    format!(": {detail}")
                }
        }
    }
}

/// What an account list says of a row's account: `None` when it is not
/// there, else its id when one account has the name, and the server's
/// spelling.
type Listed = Option<(Option<u64>, String)>;

/// Finds the accounts of done rows to edit whose report gave no account
/// id: reads their resources' account lists.
pub fn find_accounts<J: Job>(
    reader: &Reader<'_, '_>,
    data: &Collected<J::Item>,
    job: &J,
    wanted_rows: &[(u32, u64)],
    progress: bool,
) -> Vec<(u32, Listed)> {
    let mut wanted = Wanted::default();
    let at: Vec<(u32, usize)> = wanted_rows
        .iter()
        .map(|&(i, rid)| (i, wanted.add(data, data.items[i as usize].org, rid)))
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let lists = reader.account_indexes(&wanted, progress, "reading the server");
    at.into_iter()
        .map(|(i, n)| {
            let name = job.names(&data.items[i as usize].item).account_name;
            let found = lists[n]
                .as_ref()
                .ok()
                .and_then(|index| match index.find(name) {
                    Found::One(id) => {
                        Some((Some(id), index.name_of(id).unwrap_or(name).to_string()))
                    }
                    Found::Several(_) | Found::Conflict { .. } => Some((None, name.to_string())),
                    Found::Missing => None,
                });
            (i, found)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_add_waits_for_its_create_and_no_longer() {
        let ids = CreatedIds::new(2);
        std::thread::scope(|s| {
            let waiting = s.spawn(|| ids.wait(1));
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(!waiting.is_finished(), "create 1 has no id yet");
            ids.set(0, Ok(7));
            assert_eq!(ids.wait(0).unwrap(), 7, "a known id is at once");
            ids.set(1, Ok(8));
            assert_eq!(waiting.join().unwrap().unwrap(), 8);
        });
    }

    #[test]
    fn a_create_never_settled_is_not_sent_and_an_unwinding_one_settles() {
        let ids = CreatedIds::new(2);
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _guard = Unsettled {
                ids: &ids,
                n: Some(1),
            };
            panic!("a worker unwinds");
        }));
        assert!(unwound.is_err());
        let r = ids.wait(1).unwrap_err();
        assert_eq!(r.outcome, Outcome::NotSent);
        let all = ids.into_results();
        assert_eq!(all[0].as_ref().unwrap_err().outcome, Outcome::NotSent);
        assert!(
            all[0]
                .as_ref()
                .unwrap_err()
                .message
                .contains("before its resource was created")
        );
    }
}
