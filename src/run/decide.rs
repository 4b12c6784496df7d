//! From what is known to what each row becomes: rows an earlier run did
//! are skipped, the facts resolving found become invalid rows (or rows
//! already there), `--strict` and dry runs send nothing, the rest is
//! planned into requests.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::prepare::Prepared;
use super::resolve::Fact;
use super::sync::SyncPlan;
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
    /// What is to be sent; `None` when nothing is.
    pub work: Option<Work>,
    /// For a run that sends nothing: how it ended.
    pub end: Ending,
}

/// What a run sends, in order: the resources it creates (see `sync`),
/// then these adds (or password requests) and edits, then the password
/// changes of the rows whose edit went through (worked out once the edits
/// are answered).
pub struct Work {
    pub writes: Vec<Unit>,
}

/// How a run that sends nothing ended.
#[derive(Default)]
pub struct Ending {
    pub end: RunEnd,
    pub aborted: Option<Abort>,
}

/// Turns what resolving found into results: a name that settles on no
/// target makes its row invalid, an account already there is `exists`.
/// Returns how many rows it made invalid, and the rows whose account is
/// there (row, its id when one account has the name, the server's
/// spelling), for `--update`.
pub fn apply_facts(
    cfg: &Config,
    facts: Vec<(u32, Fact)>,
    results: &mut Results,
) -> (usize, Vec<(u32, Option<u64>, String)>) {
    let mut invalid = 0;
    let mut there = Vec::new();
    for (i, fact) in facts {
        if !results.is_open(i as usize) {
            continue;
        }
        let result = match fact {
            Fact::NoResource { name, closest } => {
                RowResult::new(Outcome::Invalid, missing_resource(cfg, &name, &closest))
            }
            Fact::Unsettled(m) | Fact::Duplicate(m) => RowResult::new(Outcome::Invalid, m),
            Fact::Exists { id, name } => {
                there.push((i, id, name));
                RowResult::new(
                    Outcome::Exists,
                    if cfg.dry_run {
                        "already on the server"
                    } else {
                        "already on the server; not sent"
                    },
                )
            }
        };
        invalid += usize::from(result.outcome == Outcome::Invalid);
        results.set(i as usize, result);
    }
    (invalid, there)
}

/// Why a row's resource is missing, and what would create it.
fn missing_resource(cfg: &Config, name: &str, closest: &str) -> String {
    match (cfg.create_resources, closest.is_empty()) {
        (None, true) => {
            format!("no resource named \"{name}\" (--create-resources would create it)")
        }
        (None, false) => format!(
            "no resource named \"{name}\"{closest}; if it is another resource, --create-resources=all would create it"
        ),
        (Some(_), false) => format!(
            "no resource named \"{name}\"{closest}: not created, since it is close to an existing name (--create-resources=all creates it)"
        ),
        (Some(_), true) => format!("no resource named \"{name}\""),
    }
}

/// `results` holds what is settled so far; `invalid` counts the rows made
/// invalid after checking; `aborted`, why resolving stopped the run;
/// `sync`, what `--create-resources` and `--update` add.
pub fn decide<J: Job>(
    job: &J,
    cfg: &Config,
    prepared: &Prepared<J>,
    mut results: Results,
    (invalid, aborted): (usize, Option<&Abort>),
    sync: &SyncPlan,
    stop: &AtomicBool,
) -> Decision {
    let data = &prepared.data;
    if let Some(abort) = aborted {
        return stopped_reading(results, abort, cfg.again());
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
            work: None,
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
        plan_sync(job, cfg, data, sync, &mut results);
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
            work: None,
            end: Ending { end, aborted },
        };
    }
    let mut writes = units;
    writes.extend(sync.edit_units(data));
    Decision {
        results,
        work: Some(Work { writes }),
        end: Ending::default(),
    }
}

/// A live plan says what the creates and updates would do: "would create
/// resource web-01 (Linux)", "would write NOTES", "would change the
/// password". A done row stays skipped, with what its edit would write.
fn plan_sync<J: Job>(
    job: &J,
    cfg: &Config,
    data: &Collected<J::Item>,
    sync: &SyncPlan,
    results: &mut Results,
) {
    for create in &sync.creates {
        let what = format!("would create resource {} ({})", create.name, create.kind());
        for &i in &create.rows {
            if let Some(mut r) = results.get(i as usize) {
                r.message = format!("{what}; {}", r.message);
                results.set(i as usize, r);
            }
        }
    }
    for e in &sync.existing {
        let mut would = Vec::new();
        let fields =
            super::sync::written(job, &data.items[e.row as usize].item, cfg.update_passwords);
        if e.edit {
            would.push(format!("would write {}", fields.join(", ")));
        }
        if e.password {
            would.push("would change the password".to_string());
        }
        let Some(mut r) = results.get(e.row as usize) else {
            continue;
        };
        if r.outcome == Outcome::Skipped {
            r.message = format!("{}; {}", r.message, would.join("; "));
        } else {
            r = RowResult::new(Outcome::Planned, would.join("; "));
        }
        results.set(e.row as usize, r);
    }
}

/// Stopped while reading the server: nothing was written, and every row
/// not settled yet is `not_sent`, saying why.
fn stopped_reading(
    mut results: Results,
    abort: &Abort,
    again: crate::transport::Again,
) -> Decision {
    let untaken = super::connect::untaken(Some(abort), again);
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
        work: None,
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

/// A row an earlier run did: its history, and the earlier report's cells
/// (its ids fill this row's empty ones, see `sending::row_cells`; its
/// cells after the message are this row's).
fn skipped(done: report::Done, date: &str) -> RowResult {
    let message = History::told(&done, date);
    RowResult {
        carried: Some(Box::new(done.cells)),
        ..RowResult::new(Outcome::Skipped, message)
    }
}

/// Each open row's candidates in the earlier report, way by way (`ways`
/// slots a row), looked up at once and in parallel: a nightly resume
/// matches a hundred thousand rows, and each lookup is a miss in a table
/// of as many keys. Which candidate a row takes is decided after, in
/// order.
fn candidates<J: Job>(
    job: &J,
    data: &Collected<J::Item>,
    prior: &Prior,
    results: &Results,
) -> Vec<Option<report::Rows>> {
    let ways = job.identity().ways.len();
    let mut found: Vec<Option<report::Rows>> = vec![None; data.items.len() * ways];
    // Rows go by runs of a thousand, so each worker's buffers are made
    // once a run, not once a row.
    found
        .par_chunks_mut(ways)
        .enumerate()
        .with_min_len(1024)
        .for_each_init(
            || (Vec::new(), Vec::new()),
            |(cells, buf), (i, found)| {
                if !results.is_open(i) {
                    return;
                }
                let c = &data.items[i];
                job.key_into(&c.item, cells);
                let org = data.org_str(c);
                report::each_match_key(job.identity(), org, cells, buf, |key| {
                    found[report::way_of(key)] = prior.find(key);
                });
            },
        );
    found
}

/// Marks open rows an earlier run did (`skipped`) or may have done
/// (`unconfirmed` password requests, held back unless
/// `--resend-unconfirmed`). Each done row of the earlier report is used
/// once. Run before names are resolved (rows matched by the names and ids
/// they hold), and again after (by the ids the names resolved to).
///
/// Returns the done rows whose details changed since (`--update`: their
/// fingerprint is not the report's), with what the report says of them;
/// and adds to `held` the rows an earlier run sent without a confirmed
/// answer whose password change is to be held back.
pub fn apply_prior<J: Job>(
    job: &J,
    cfg: &Config,
    data: &Collected<J::Item>,
    prior: &mut Prior,
    results: &mut Results,
    held: &mut std::collections::HashSet<u32>,
) -> Vec<(u32, report::Done)> {
    let mut changed = Vec::new();
    if prior.is_empty() {
        return changed;
    }
    let ways = job.identity().ways.len();
    let found = candidates(job, data, prior, results);
    // Way by way (by names, then by ids), each over every row: a row given
    // by name takes the done row of its own name before a row that names
    // the same id another way can (each done row is used once).
    let mut taken: Vec<(usize, report::Done)> = Vec::new();
    let mut closed = vec![false; data.items.len()];
    for way in 0..ways {
        for i in 0..data.items.len() {
            let Some(rows) = found[i * ways + way] else {
                continue;
            };
            if closed[i] || !results.is_open(i) {
                continue;
            }
            if let Some(done) = prior.take_done_of(rows) {
                closed[i] = true;
                taken.push((i, done));
                continue;
            }
            if cfg.resend_unconfirmed || !prior.take_unconfirmed_of(rows) {
                continue;
            }
            if job.idempotent() {
                // Sent again (safe), but a password change its earlier run
                // may have made is not made twice.
                held.insert(i as u32);
            } else {
                results.set(i, RowResult::new(
                    Outcome::Unconfirmed,
                    "sent in an earlier run without a confirmed answer, so not sent again; check PAM360, then rerun with --resend-unconfirmed if it is missing",
                ));
            }
        }
    }
    // What was applied then stays the record: a --update run compares
    // against it (only then are the rows whose details changed kept).
    if cfg.update {
        changed = taken
            .par_iter()
            .filter(|(i, done)| {
                let now = job.extra(&data.items[*i].item);
                !done.cells.extra().eq(now.iter().map(String::as_str))
            })
            .map(|(i, done)| (*i as u32, done.clone()))
            .collect();
    }
    // Each taken row's result (its history told), in parallel.
    let date = &prior.date;
    let rows: Vec<usize> = taken.iter().map(|(i, _)| *i).collect();
    let made = taken.into_par_iter().map(|(_, done)| skipped(done, date));
    results.set_all(&rows, made);
    changed
}
