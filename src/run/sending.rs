//! Sending: start the journal, send every planned request through the
//! transport, read each answer into its rows' results, and settle every
//! row: a row never taken up is `not_sent`, with why.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use anyhow::Result;

use super::finish::{Ended, JournalEnd, Stats};
use super::prepare::Prepared;
use crate::cli::Config;
use crate::collect::Collected;
use crate::exit::RunEnd;
use crate::job::Job;
use crate::op::Call;
use crate::outcome::{Outcome, Results, RowResult};
use crate::plan::Unit;
use crate::progress;
use crate::report::{Journal, JournalHandle, ReportRow};
use crate::transport::{Abort, Delivery, Transport};

pub fn send<J: Job>(
    job: &J,
    cfg: &Config,
    prepared: &Prepared<J>,
    transport: &Transport<'_>,
    mut results: Results,
    units: Vec<Unit>,
    stop: &AtomicBool,
) -> Result<Ended> {
    let started = prepared.started;
    let data = &prepared.data;
    // Rows already settled go first into the journal, so a resume of this
    // run's journal knows them too.
    let settled: Vec<ReportRow> = results
        .stored()
        .map(|(i, r)| report_row(job, data, i, r.clone()))
        .collect();
    let (journal, journal_thread) =
        Journal::create(&prepared.journal_path, &prepared.header, &settled)?.spawn();
    let total: u64 = units.iter().map(|u| u.rows.len() as u64).sum();
    let bar = progress::bar(cfg.progress, Some(total), "sending");
    let recorder = JournalRecorder {
        job,
        data,
        journal: &journal,
        bar: &bar,
        failed: AtomicBool::new(false),
        transport,
        retries: AtomicU64::new(0),
    };
    let sending = Instant::now();
    let sent: Mutex<Vec<(u32, RowResult)>> = Mutex::new(Vec::new());
    transport.pool(&units, |unit| {
        let Some(rows) = send_unit(job, data, transport, unit, &recorder) else {
            // Not taken up: the run stopped first; settled below.
            return;
        };
        recorder.answered(&unit.rows, &rows);
        let mut all = sent.lock().unwrap_or_else(PoisonError::into_inner);
        all.extend(unit.rows.iter().copied().zip(rows));
    });
    bar.finish_and_clear();
    let sending = sending.elapsed().as_secs_f64();
    let journal_failed = recorder.failed.load(Ordering::SeqCst);
    drop(journal);
    // The journal thread ends once every handle is gone, its last rows synced.
    let journal = match journal_thread.join() {
        Ok(Ok(j)) if !journal_failed => Some(j),
        _ => None,
    };
    let sent = sent.into_inner().unwrap_or_else(PoisonError::into_inner);
    let (aborted, sending_began) = settle(&mut results, sent, transport, stop);
    let end = RunEnd {
        sending_began,
        aborted: aborted.is_some(),
        certificate_refused: matches!(aborted, Some(Abort::Certificate(_))),
        ..RunEnd::default()
    };
    Ok(Ended {
        results,
        stats: Stats {
            started,
            sending,
            ..Stats::new(started)
        },
        aborted,
        end,
        journal: Some(JournalEnd {
            journal,
            path: prepared.journal_path.clone(),
            sending_began,
        }),
    })
}

/// Sends one unit and reads its answer into one result per row; `None`
/// when it was not taken up (the run stopped, or the journal failed).
fn send_unit<J: Job>(
    job: &J,
    data: &Collected<J::Item>,
    transport: &Transport<'_>,
    unit: &Unit,
    recorder: &JournalRecorder<'_, '_, J>,
) -> Option<Vec<RowResult>> {
    let op = job.op(unit, &data.items);
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

/// Puts what was sent into `results`, settles the rows never taken up, and
/// says why the run stopped (if it did) and whether sending began.
fn settle(
    results: &mut Results,
    sent: Vec<(u32, RowResult)>,
    transport: &Transport<'_>,
    stop: &AtomicBool,
) -> (Option<Abort>, bool) {
    let mut aborted = transport.aborted();
    if aborted.is_none() && stop.load(Ordering::SeqCst) {
        aborted = Some(Abort::Interrupted);
    }
    let sending_began = sent.iter().any(|(_, r)| r.outcome != Outcome::NotSent);
    for (i, r) in sent {
        results.set(i as usize, r);
    }
    settle_untaken(results, aborted.as_ref());
    (aborted, sending_began)
}

/// Rows no worker took up are `not_sent`, saying why the run stopped.
pub(super) fn settle_untaken(results: &mut Results, aborted: Option<&Abort>) {
    let untaken = super::connect::untaken(aborted, false);
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
    let extra = extra_cells(job, &c.item, result.outcome, result.carried.as_deref());
    ReportRow {
        row: u64::from(c.row),
        org: data.org_str(c).to_string(),
        key: job.key(&c.item),
        result,
        extra,
    }
}

/// The cells after `message` of a row that ended so: what was written
/// (the fingerprint of an added or updated account), what an earlier report
/// carried for a skipped row, else empty: a row not written by this run
/// (it exists, was planned, failed) records nothing as applied, so a later
/// `--update` edits it.
pub(super) fn extra_cells<J: Job>(
    job: &J,
    item: &J::Item,
    outcome: Outcome,
    carried: Option<&[String]>,
) -> Vec<String> {
    let width = job.identity().extra.len();
    match (outcome, carried) {
        (_, Some(c)) if c.len() == width => c.to_vec(),
        (Outcome::Added | Outcome::Updated, _) => job.extra(item),
        _ => vec![String::new(); width],
    }
}

/// Writes what happens to the journal as it happens, and moves the bar.
struct JournalRecorder<'a, 't, J: Job> {
    job: &'a J,
    data: &'a Collected<J::Item>,
    journal: &'a JournalHandle,
    bar: &'a indicatif::ProgressBar,
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
