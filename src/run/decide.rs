//! What is left to send: rows an earlier run did are skipped, `--strict`
//! and dry runs send nothing, the rest is planned into requests.

use std::sync::atomic::{AtomicBool, Ordering};

use super::prepare::Prepared;
use crate::cli::Config;
use crate::exit::RunEnd;
use crate::job::Job;
use crate::outcome::{Outcome, Results, RowResult, counted};
use crate::plan::{self, Unit};
use crate::report::{self, Prior};
use crate::send::Abort;

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

pub fn decide<J: Job>(
    job: &J,
    cfg: &Config,
    prepared: &mut Prepared<J>,
    stop: &AtomicBool,
) -> Decision {
    let mut results = Results::new(prepared.data.items.len());
    if let Some(prior) = prepared.prior.take() {
        apply_prior(job, cfg, prepared, prior, &mut results);
    }
    let data = &prepared.data;
    let to_send = (0..data.items.len() as u32).filter(|&i| results.is_open(i as usize));
    let units = plan::plan(job, &data.items, &data.orgs, to_send, cfg.chunk_size);
    log::debug!("planned {} requests", units.len());

    if cfg.strict && !data.invalid.is_empty() {
        let why = format!(
            "not sent: --strict, and {} rows are invalid",
            data.invalid.len()
        );
        for unit in &units {
            for &i in &unit.items {
                results.set(i as usize, RowResult::new(Outcome::NotSent, why.clone()));
            }
        }
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
        plan_dry_run(&units, &mut results);
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

/// A dry run's rows say which request would carry them.
fn plan_dry_run(units: &[Unit], results: &mut Results) {
    for (n, unit) in units.iter().enumerate() {
        // Short: a million-row report repeats it on every row, and the
        // row's own columns say where it goes.
        let msg = format!(
            "request {} of {} ({})",
            n + 1,
            units.len(),
            counted(unit.items.len() as u64, "row")
        );
        results.plan(&unit.items, msg);
    }
}

/// Marks rows an earlier run did (`skipped`) or may have done (`unconfirmed`
/// password requests, held back unless `--resend-unconfirmed`). Each done
/// row of the earlier report is used once.
fn apply_prior<J: Job>(
    job: &J,
    cfg: &Config,
    prepared: &Prepared<J>,
    prior: Prior,
    results: &mut Results,
) {
    let data = &prepared.data;
    let (mut done, mut unconfirmed) = (prior.done, prior.unconfirmed);
    for (i, c) in data.items.iter().enumerate() {
        let key = report::resume_key(data.org_str(c), &job.key(&c.item), job.key_defaults());
        if let Some(outcomes) = done.get_mut(&key)
            && let Some(outcome) = outcomes.pop()
        {
            results.set(
                i,
                RowResult::new(
                    Outcome::Skipped,
                    format!("done in an earlier run ({outcome})"),
                ),
            );
            continue;
        }
        if !job.idempotent()
            && !cfg.resend_unconfirmed
            && let Some(n) = unconfirmed.get_mut(&key)
            && *n > 0
        {
            *n -= 1;
            results.set(i, RowResult::new(
                Outcome::Unconfirmed,
                "sent in an earlier run without a confirmed answer, so not sent again; check PAM360, then rerun with --resend-unconfirmed if it is missing",
            ));
        }
    }
}
