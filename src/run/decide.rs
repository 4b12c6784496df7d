//! From what is known to what each row becomes: rows an earlier run did
//! are skipped, the facts resolving found become invalid rows (or rows
//! already there), `--strict` and dry runs send nothing, the rest is
//! planned into requests.

use std::sync::atomic::{AtomicBool, Ordering};

use super::prepare::Prepared;
use super::resolve::{Fact, Resolution};
use crate::cli::Config;
use crate::collect::Collected;
use crate::exit::RunEnd;
use crate::job::Job;
use crate::outcome::{Outcome, Results, RowResult, counted};
use crate::plan::{self, Unit};
use crate::report::{self, History, Prior};
use crate::transport::Abort;

/// What the run will do.
pub struct Decision {
    /// Rows settled so far (skipped, held back, planned, blocked).
    pub results: Results,
    /// The requests to send; `None` when nothing is to be sent.
    pub to_send: Option<Vec<Unit>>,
    /// For a run that sends nothing: how it ended.
    pub end: Ending,
}

/// How a run that sends nothing ended.
#[derive(Default)]
pub struct Ending {
    pub end: RunEnd,
    pub aborted: Option<Abort>,
}

/// Turns what resolving found into results: a name that settles on no
/// target makes its row invalid, an account already there is `exists`.
/// Returns how many rows it made invalid.
pub fn apply_facts(cfg: &Config, resolved: &Resolution, results: &mut Results) -> usize {
    let mut invalid = 0;
    for (i, fact) in &resolved.facts {
        let i = *i as usize;
        if !results.is_open(i) {
            continue;
        }
        let result = match fact {
            Fact::NoResource { name, closest } => RowResult::new(
                Outcome::Invalid,
                format!("no resource named \"{name}\"{closest}"),
            ),
            Fact::Unsettled(m) | Fact::Duplicate(m) => RowResult::new(Outcome::Invalid, m.clone()),
            Fact::Exists(_) => RowResult::new(
                Outcome::Exists,
                if cfg.dry_run {
                    "already on the server"
                } else {
                    "already on the server; not sent"
                },
            ),
        };
        invalid += usize::from(result.outcome == Outcome::Invalid);
        results.set(i, result);
    }
    invalid
}

/// `results` holds what is settled so far; `invalid` counts the rows made
/// invalid after checking; `aborted`, why resolving stopped the run.
pub fn decide<J: Job>(
    job: &J,
    cfg: &Config,
    prepared: &Prepared<J>,
    mut results: Results,
    (invalid, aborted): (usize, Option<&Abort>),
    stop: &AtomicBool,
) -> Decision {
    let data = &prepared.data;
    if let Some(abort) = aborted {
        return stopped_reading(results, abort, cfg.dry_run);
    }
    let to_send = (0..data.items.len() as u32).filter(|&i| results.is_open(i as usize));
    let units = plan::plan(job, &data.items, &data.orgs, to_send, cfg.chunk_size);
    log::debug!(
        "planned {} requests at {:.3} s",
        units.len(),
        prepared.started.elapsed().as_secs_f64()
    );

    let invalid = data.invalid.len() + invalid;
    if cfg.strict && invalid > 0 {
        block_strict(job, cfg, data, &units, invalid, &mut results);
        let end = RunEnd {
            strict_blocked: true,
            ..RunEnd::default()
        };
        return Decision {
            results,
            to_send: None,
            end: Ending { end, aborted: None },
        };
    }
    if cfg.dry_run {
        // Offline, names are grouped but not checked.
        let unchecked = |unit: &Unit| {
            !cfg.live_plan
                && unit.rows.first().is_some_and(|&i| {
                    !job.names(&data.items[i as usize].item)
                        .resource_name
                        .is_empty()
                })
        };
        plan_dry_run(&units, &unchecked, &mut results);
        log::debug!(
            "dry-run plan written at {:.3} s",
            prepared.started.elapsed().as_secs_f64()
        );
        let aborted = stop.load(Ordering::SeqCst).then_some(Abort::Interrupted);
        let end = RunEnd {
            aborted: aborted.is_some(),
            ..RunEnd::default()
        };
        return Decision {
            results,
            to_send: None,
            end: Ending { end, aborted },
        };
    }
    Decision {
        results,
        to_send: Some(units),
        end: Ending::default(),
    }
}

/// Stopped while reading the server: nothing was written, and every row
/// not settled yet is `not_sent`, saying why.
fn stopped_reading(mut results: Results, abort: &Abort, dry_run: bool) -> Decision {
    let untaken = super::connect::untaken(Some(abort), dry_run);
    for i in 0..results.len() {
        if results.is_open(i) {
            results.set(i, RowResult::new(Outcome::NotSent, untaken.clone()));
        }
    }
    let end = RunEnd {
        aborted: true,
        certificate_refused: matches!(abort, Abort::Certificate(_)),
        ..RunEnd::default()
    };
    Decision {
        results,
        to_send: None,
        end: Ending {
            end,
            aborted: Some(abort.clone()),
        },
    }
}

/// `--strict` with invalid rows: the rest is `not_sent`; a live plan says
/// what would have happened ("would be added", "exists, id 1234").
fn block_strict<J: Job>(
    job: &J,
    cfg: &Config,
    data: &Collected<J::Item>,
    units: &[Unit],
    invalid: usize,
    results: &mut Results,
) {
    let why = format!("not sent: --strict, and {invalid} rows are invalid");
    let would = |what: &str| {
        if cfg.live_plan {
            format!("{why}; {what}")
        } else {
            why.clone()
        }
    };
    for unit in units {
        for &i in &unit.rows {
            results.set(
                i as usize,
                RowResult::new(Outcome::NotSent, would(job.spec().would)),
            );
        }
    }
    for (i, c) in data.items.iter().enumerate() {
        if results.view(i).is_some_and(|(o, ..)| o == Outcome::Exists) {
            let what = match job.names(&c.item).account_id {
                Some(id) => format!("exists, id {id}"),
                None => "exists".to_string(),
            };
            results.set(i, RowResult::new(Outcome::NotSent, would(&what)));
        }
    }
}

/// A dry run's rows say which request would carry them.
fn plan_dry_run(units: &[Unit], unchecked: &dyn Fn(&Unit) -> bool, results: &mut Results) {
    for (n, unit) in units.iter().enumerate() {
        // Short: a million-row report repeats it on every row, and the
        // row's own columns say where it goes.
        let mut msg = format!(
            "request {} of {} ({})",
            n + 1,
            units.len(),
            counted(unit.rows.len() as u64, "row")
        );
        if unchecked(unit) {
            msg.push_str("; names not checked (offline dry run)");
        }
        results.plan(&unit.rows, msg);
    }
}

/// Marks open rows an earlier run did (`skipped`) or may have done
/// (`unconfirmed` password requests, held back unless
/// `--resend-unconfirmed`). Each done row of the earlier report is used
/// once. Run before names are resolved (rows matched by the names and ids
/// they hold), and again after (by the ids the names resolved to).
pub fn apply_prior<J: Job>(
    job: &J,
    cfg: &Config,
    data: &Collected<J::Item>,
    prior: &mut Prior,
    results: &mut Results,
) {
    if prior.is_empty() {
        return;
    }
    // Way by way (by names, then by ids), each over every row: a row given
    // by name takes the done row of its own name before a row that names
    // the same id another way can (each done row is used once).
    for way in 0..job.identity().ways.len() {
        let tag = report::way_tag(way);
        for (i, c) in data.items.iter().enumerate() {
            if !results.is_open(i) {
                continue;
            }
            let keys = report::match_keys(job.identity(), data.org_str(c), &job.key(&c.item));
            let keys: Vec<String> = keys.into_iter().filter(|k| k.starts_with(tag)).collect();
            if keys.is_empty() {
                continue;
            }
            if let Some(done) = prior.take_done(&keys) {
                let history = History::of(&done, &prior.date);
                let mut r = RowResult::new(Outcome::Skipped, history.to_string());
                // What was applied then stays the record (a --update run
                // compares against it).
                r.carried = Some(done.extra);
                results.set(i, r);
                continue;
            }
            if !job.idempotent() && !cfg.resend_unconfirmed && prior.take_unconfirmed(&keys) {
                results.set(i, RowResult::new(
                    Outcome::Unconfirmed,
                    "sent in an earlier run without a confirmed answer, so not sent again; check PAM360, then rerun with --resend-unconfirmed if it is missing",
                ));
            }
        }
    }
}
