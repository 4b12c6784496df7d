//! Sending: start the journal, send every planned request through the
//! transport, read each answer into its rows' results, and settle every
//! row: a row never taken up is `not_sent`, with why.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use anyhow::{Result, anyhow};

use super::decide::Work;
use super::finish::{Ended, JournalEnd, Stats};
use super::prepare::Prepared;
use super::sync::{CreatedIds, SyncPlan};
use crate::cli::Config;
use crate::collect::{Collected, Entry};
use crate::exit::RunEnd;
use crate::job::Job;
use crate::job::ResourceRef;
use crate::op::Call;
use crate::op::Op;
use crate::outcome::{Carried, Outcome, Results, RowResult};
use crate::plan::Target;
use crate::plan::Unit;
use crate::progress;
use crate::report::{Ahead, Journal, JournalHandle, Prewritten, ReportRow};
use crate::transport::{Abort, Delivery, Exchange, Transport};

/// What a unit becomes before it is sent: its request, or the result its
/// rows get without one (their resource could not be created).
pub type Built<'a> = Result<Box<dyn Op + 'a>, RowResult>;

/// Sends a run's requests, phase by phase, with one journal.
pub struct Sender<'a, 't, J: Job> {
    job: &'a J,
    data: &'a Collected<J::Item>,
    transport: &'a Transport<'t>,
    recorder: JournalRecorder<'a, 't, J>,
    journal_thread: std::thread::JoinHandle<Result<Journal>>,
    journal_path: std::path::PathBuf,
    began: Instant,
    /// How the run is finished if it stops (for rows left `not_sent`).
    again: crate::transport::Again,
}

impl<'a, 't, J: Job> Sender<'a, 't, J> {
    /// Starts the journal with the rows already settled, which `carried`
    /// gives (see [`settled_lines`]), so a resume of this run's journal
    /// knows them too. `rows` is how many rows are to be sent, for the
    /// progress bar.
    pub fn start(
        job: &'a J,
        cfg: &Config,
        prepared: &'a Prepared<J>,
        transport: &'a Transport<'t>,
        carried: std::sync::mpsc::Receiver<Result<Arc<Prewritten>>>,
        rows: u64,
    ) -> Result<Self> {
        let data = &prepared.data;
        let (journal, journal_thread) =
            Journal::start(&prepared.journal_path, &prepared.header, carried)?;
        let bar = progress::bar(cfg.progress, Some(rows), "sending");
        Ok(Sender {
            job,
            data,
            transport,
            recorder: JournalRecorder {
                job,
                data,
                journal,
                bar,
                failed: AtomicBool::new(false),
                transport,
                retries: AtomicU64::new(0),
            },
            journal_thread,
            journal_path: prepared.journal_path.clone(),
            began: Instant::now(),
            again: cfg.again(),
        })
    }

    /// Sends `units` (one phase), each built by `build`, and returns the
    /// result of every row taken up.
    pub fn send(
        &self,
        units: &[Unit],
        build: &(dyn Fn(&Unit) -> Built<'a> + Sync),
    ) -> Vec<(u32, RowResult)> {
        self.send_after(0, &|_| {}, units, build)
    }

    /// As [`Sender::send`], with `before(0..first)` ahead of the units in
    /// the same pool of workers (the creates, whose units wait for their
    /// ids: see `sync::CreatedIds`).
    pub fn send_after(
        &self,
        first: usize,
        before: &(dyn Fn(usize) + Sync),
        units: &[Unit],
        build: &(dyn Fn(&Unit) -> Built<'a> + Sync),
    ) -> Vec<(u32, RowResult)> {
        let sent: Mutex<Vec<(u32, RowResult)>> = Mutex::new(Vec::new());
        let tasks: Vec<usize> = (0..first + units.len()).collect();
        self.transport.pool(&tasks, |&n| {
            let Some(unit) = n.checked_sub(first).map(|u| &units[u]) else {
                return before(n);
            };
            let rows = match build(unit) {
                Ok(op) => match send_unit(self.transport, unit, op.as_ref(), &self.recorder) {
                    Some(rows) => rows,
                    // Not taken up: the run stopped first; settled later.
                    None => return,
                },
                Err(result) => vec![result; unit.rows.len()],
            };
            self.recorder.answered(&unit.rows, &rows);
            let mut all = sent.lock().unwrap_or_else(PoisonError::into_inner);
            all.extend(unit.rows.iter().copied().zip(rows));
        });
        sent.into_inner().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends one call that carries no row (a create), whose journal line
    /// is on disk already (see [`Sender::events_on_disk`]); not sent once
    /// the journal cannot be written.
    pub fn call(&self, call: &Call) -> Exchange<'a> {
        self.transport
            .execute(call, &|| !self.recorder.failed.load(Ordering::SeqCst))
    }

    /// Records events that belong to no single row (resources being
    /// created) and waits until they are on disk; false (and the run
    /// stops) when they cannot be.
    pub fn events_on_disk(&self, lines: Vec<ReportRow>) -> bool {
        self.recorder.append(lines, true)
    }

    /// Records an event that belongs to no single row (a resource
    /// created, with its id). Synced with the next group, without waiting
    /// for it: a run killed before it is on disk still has the create's
    /// durable "being created" line, so the next run looks the name up
    /// and never creates it twice.
    pub fn event(&self, line: ReportRow) -> bool {
        self.recorder.append(vec![line], false)
    }

    /// The transport every phase goes through.
    pub fn transport(&self) -> &'a Transport<'t> {
        self.transport
    }

    /// Ends sending: the journal synced and closed, every row settled (a
    /// row never taken up is `not_sent`, with why).
    pub fn finish(
        self,
        mut results: Results,
        began_writing: bool,
        stop: &AtomicBool,
        started: Instant,
    ) -> Ended {
        self.recorder.bar.finish_and_clear();
        let sending = self.began.elapsed().as_secs_f64();
        let journal_failed = self.recorder.failed.load(Ordering::SeqCst);
        drop(self.recorder);
        // The journal thread ends once every handle is gone, its last rows synced.
        let journal = match self.journal_thread.join() {
            Ok(Ok(j)) if !journal_failed => Some(j),
            _ => None,
        };
        let mut aborted = self.transport.aborted();
        if aborted.is_none() && stop.load(Ordering::SeqCst) {
            aborted = Some(Abort::Interrupted);
        }
        settle_untaken(&mut results, aborted.as_ref(), self.again);
        let _ = self.data;
        let _ = self.job;
        let end = RunEnd {
            sending_began: began_writing,
            aborted: aborted.is_some(),
            certificate_refused: matches!(aborted, Some(Abort::Certificate(_))),
            ..RunEnd::default()
        };
        Ended {
            results,
            stats: Stats {
                sending,
                ..Stats::new(started)
            },
            aborted,
            end,
            journal: Some(JournalEnd {
                journal,
                path: self.journal_path,
                sending_began: began_writing,
            }),
            sync: super::finish::SyncCounts::default(),
            new_problems: None,
            prewritten: None,
        }
    }
}

/// The report lines of the rows settled before sending (done in an
/// earlier run, invalid, ...), formatted while the first requests go: for
/// the journal, which starts with those that have a result, and for the
/// final report, which reuses those no later step can change. The rows of
/// a resource to create, and rows to edit, get their ids after sending:
/// their lines are for the journal only.
fn settled_lines<J: Job>(
    job: &J,
    data: &Collected<J::Item>,
    results: &Results,
    sync: &SyncPlan,
) -> Result<Arc<Prewritten>> {
    let mut later = vec![false; data.items.len()];
    for &i in sync.creates.iter().flat_map(|c| &c.rows) {
        later[i as usize] = true;
    }
    for e in &sync.existing {
        later[e.row as usize] = true;
    }
    let rows = super::finish::FinalRows {
        job,
        data,
        results,
        prewritten: None,
    };
    let ahead = |i: usize| match data.entry(i) {
        Entry::Invalid(_) => Ahead::Report,
        Entry::Valid(n) if !results.is_stored(n as usize) => Ahead::No,
        Entry::Valid(n) if later[n as usize] => Ahead::Journal,
        Entry::Valid(_) => Ahead::Both,
    };
    Prewritten::format(&rows, &ahead).map(Arc::new)
}

/// Whether any of these results says a request may have reached the
/// server.
pub fn reached(results: &[(u32, RowResult)]) -> bool {
    results.iter().any(|(_, r)| r.outcome != Outcome::NotSent)
}

/// Sends one unit and reads its answer into one result per row; `None`
/// when it was not taken up (the run stopped, or the journal failed).
fn send_unit<J: Job>(
    transport: &Transport<'_>,
    unit: &Unit,
    op: &dyn Op,
    recorder: &JournalRecorder<'_, '_, J>,
) -> Option<Vec<RowResult>> {
    let call = op.call();
    let exchange = transport.execute(&call, &|| recorder.sending(&unit.rows, &call));
    Some(match exchange.delivery {
        Delivery::Untaken => return None,
        Delivery::Ended {
            outcome,
            ref reason,
            http,
            attempts,
        } => {
            let r = RowResult {
                http_status: http,
                attempts,
                ..RowResult::new(outcome, reason.clone())
            };
            vec![r; unit.rows.len()]
        }
        Delivery::Answered {
            ref answer,
            http,
            earlier_processed,
            attempts,
        } => op
            .verdicts(answer)
            .into_iter()
            .map(|v| {
                let mut message = exchange.scrub(&v.message);
                // Only when an earlier attempt may have been acted on can
                // "exists" mean that attempt stored it.
                if v.outcome == Outcome::Exists && earlier_processed {
                    message = format!(
                        "already on the server after {attempts} attempts: an earlier attempt whose answer was lost may have stored it"
                    );
                }
                RowResult {
                    status: exchange.scrub(&v.status),
                    http_status: Some(http),
                    attempts,
                    ..RowResult::new(v.outcome, message)
                }
            })
            .collect(),
    })
}

/// Rows no worker took up are `not_sent`, saying why the run stopped.
pub(super) fn settle_untaken(
    results: &mut Results,
    aborted: Option<&Abort>,
    again: crate::transport::Again,
) {
    let untaken = super::connect::untaken(aborted, again);
    for i in 0..results.len() {
        if results.is_open(i) {
            results.set(i, RowResult::new(Outcome::NotSent, untaken.clone()));
        }
    }
}

pub(super) fn report_row<J: Job>(
    job: &J,
    data: &Collected<J::Item>,
    i: usize,
    result: RowResult,
) -> ReportRow {
    let c = &data.items[i];
    let mut key = Vec::new();
    let extra = row_cells(
        job,
        &c.item,
        result.outcome,
        result.carried.as_deref(),
        &mut key,
    );
    ReportRow {
        row: u64::from(c.row),
        org: data.org_str(c).to_string(),
        key,
        result,
        extra,
    }
}

/// A row's report cells that are not its result: its identity cells into
/// `key`, and the cells after `message`, returned.
///
/// - The identity cells are the input's; a skipped row's ids the input did
///   not give (a resource or account named, resolved by an earlier run)
///   are the earlier report's, so the latest report keeps every id a
///   chain of runs learnt.
/// - After `message`: what was written (the fingerprint of an added or
///   updated account), what an earlier report carried for a skipped row,
///   else empty: a row not written by this run (it exists, was planned,
///   failed) records nothing as applied, so a later `--update` edits it.
pub(super) fn row_cells<J: Job>(
    job: &J,
    item: &J::Item,
    outcome: Outcome,
    carried: Option<&Carried>,
    key: &mut Vec<String>,
) -> Vec<String> {
    job.key_into(item, key);
    let identity = job.identity();
    if let Some(earlier) = carried.map(Carried::key).filter(|e| e.len() == key.len()) {
        for ((cell, name), was) in key.iter_mut().zip(identity.columns).zip(earlier) {
            if cell.is_empty() && name.ends_with("_id") {
                was.clone_into(cell);
            }
        }
    }
    let width = identity.extra.len();
    match (outcome, carried) {
        // A report from before the fingerprint column carries none.
        (_, Some(c)) if c.extra().len() == width => c.extra().map(str::to_string).collect(),
        (Outcome::Added | Outcome::Updated, _) => job.extra(item),
        _ => vec![String::new(); width],
    }
}

/// Writes what happens to the journal as it happens, and moves the bar.
struct JournalRecorder<'a, 't, J: Job> {
    job: &'a J,
    data: &'a Collected<J::Item>,
    journal: JournalHandle,
    bar: indicatif::ProgressBar,
    failed: AtomicBool,
    transport: &'a Transport<'t>,
    /// Retries so far, for the progress bar.
    retries: AtomicU64,
}

impl<J: Job> JournalRecorder<'_, '_, J> {
    /// False once the journal cannot be written.
    fn append(&self, rows: Vec<ReportRow>, durable: bool) -> bool {
        if self.failed.load(Ordering::SeqCst) {
            return false;
        }
        let written = if durable {
            self.journal.append_durable(rows)
        } else {
            self.journal.append(rows)
        };
        if !written {
            // Without a journal a kill would lose what was sent: stop. Said
            // once, however many workers find out.
            if !self.failed.swap(true, Ordering::SeqCst) {
                log::error!("cannot write the journal; stopping");
            }
            self.transport.abort(Abort::Journal);
        }
        written
    }

    /// These rows are about to be sent by `call`: false when that could
    /// not be recorded, and then they are not sent. A request that must
    /// not be repeated is on disk as in flight before it goes; an account
    /// may be sent again, so it need not wait.
    fn sending(&self, rows: &[u32], call: &Call) -> bool {
        let lines = rows
            .iter()
            .map(|&i| {
                let in_flight = RowResult::new(Outcome::InFlight, "");
                report_row(self.job, self.data, i as usize, in_flight)
            })
            .collect();
        self.append(lines, !call.kind.repeat_safe())
    }

    /// These rows have their results.
    fn answered(&self, rows: &[u32], results: &[RowResult]) {
        let lines = rows
            .iter()
            .zip(results)
            .map(|(&i, r)| report_row(self.job, self.data, i as usize, r.clone()))
            .collect();
        let _ = self.append(lines, false);
        // A request's attempts are on each of its rows: count them once.
        let extra = results
            .first()
            .map(|r| u64::from(r.attempts.saturating_sub(1)))
            .unwrap_or(0);
        if extra > 0 {
            let total = self.retries.fetch_add(extra, Ordering::Relaxed) + extra;
            self.bar.set_message(format!("{total} retries"));
        }
        self.bar.inc(rows.len() as u64);
    }
}

/// Sends what was decided, in order: creates, then the adds (or requests)
/// and edits, then the password changes of the rows whose edit went
/// through; and settles every row. Returns how the run ended, and each
/// create's resource id (or what its rows got instead).
#[allow(clippy::too_many_arguments)]
pub fn send<J: Job>(
    job: &J,
    cfg: &Config,
    prepared: &Prepared<J>,
    transport: &Transport<'_>,
    mut results: Results,
    work: Work,
    sync: &SyncPlan,
    stop: &AtomicBool,
) -> Result<(Ended, Vec<Result<u64, RowResult>>)> {
    let data = &prepared.data;
    let rows: u64 = work.writes.iter().map(|u| u.rows.len() as u64).sum();
    let (carry, carried) = std::sync::mpsc::sync_channel(1);
    let sender = Sender::start(job, cfg, prepared, transport, carried, rows)?;
    // Creates go first; a resource's accounts once its id is known, by
    // the same workers, with no pause between the two.
    let ids = CreatedIds::new(sync.creates.len());
    let build = |unit: &Unit| -> Built<'_> { build(job, cfg, unit, &data.items, sync, &ids) };
    let create = |n: usize| sync.create(&sender, data, n, &ids);
    let (first, prewritten) = std::thread::scope(|s| {
        // The settled rows are formatted while the first requests go: no
        // result changes until this phase is over. The journal writes
        // them before any other line.
        let formatting = s.spawn(|| {
            let lines = settled_lines(job, data, &results, sync);
            let _ = carry.send(lines.as_ref().map(Arc::clone).map_err(|e| anyhow!("{e:#}")));
            lines.ok()
        });
        if !sync.creates.is_empty() {
            // Nothing is sent when these cannot be written: the journal
            // failing stops the run.
            sender.events_on_disk(sync.creating(data));
        }
        let first = sender.send_after(sync.creates.len(), &create, &work.writes, &build);
        (first, formatting.join().ok().flatten())
    });
    let mut began = reached(&first) || !sync.creates.is_empty();
    // What each row's edit wrote ("NOTES written"), for its password change.
    let mut edits: std::collections::HashMap<u32, String> = Default::default();
    for (i, mut r) in first {
        let c = &data.items[i as usize];
        if r.outcome == Outcome::Added
            && let Target::Resource(ResourceRef::ToCreate(_)) = job.target(&c.item)
        {
            r.message = join("resource created", &r.message);
        }
        if r.outcome == Outcome::Updated {
            edits.insert(i, r.message.clone());
            r.message = super::sync::updated_message(sync.histories.get(&i), &r.message);
        }
        results.set(i as usize, r);
    }
    let passwords = sync.password_units(data, &results);
    let second = sender.send(&passwords, &build);
    began |= reached(&second);
    for (i, r) in second {
        let edit = edits.get(&i).map(String::as_str).unwrap_or("");
        let merged = if r.outcome == Outcome::Updated {
            let detail = join(edit, "password changed").replace("; ", ", ");
            RowResult {
                message: super::sync::updated_message(sync.histories.get(&i), &detail),
                ..r
            }
        } else {
            RowResult {
                message: join(edit, &r.message),
                ..r
            }
        };
        results.set(i as usize, merged);
    }
    let mut ended = sender.finish(results, began, stop, prepared.started);
    ended.prewritten = prewritten;
    Ok((ended, ids.into_results()))
}

/// The request of a unit, by its kind: a job's own (with the id of a
/// resource just created), an edit or a password change.
fn build<'a, J: Job>(
    job: &J,
    cfg: &Config,
    unit: &Unit,
    items: &'a [crate::job::Checked<J::Item>],
    sync: &SyncPlan,
    created: &CreatedIds,
) -> Built<'a> {
    use crate::op::Kind;
    match unit.kind {
        Kind::EditAccount | Kind::ChangePassword => {
            super::sync::write_op(job, cfg, unit, items, sync)
                .ok_or_else(|| RowResult::new(Outcome::Failed, "nothing to write for this account"))
        }
        _ => match unit.target {
            Target::Resource(ResourceRef::ToCreate(k)) => match created.wait(k as usize) {
                Ok(id) => {
                    let unit = Unit {
                        target: Target::Resource(ResourceRef::Given(id)),
                        ..unit.clone()
                    };
                    Ok(job.op(&unit, items))
                }
                Err(r) => Err(r),
            },
            _ => Ok(job.op(unit, items)),
        },
    }
}

/// `a; b`, either left out when empty.
fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}; {b}"),
    }
}
