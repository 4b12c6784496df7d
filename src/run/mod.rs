//! One job run, as a script of stages:
//!
//! 1. `prepare`: check every output path, lock the journal, read the
//!    `--resume` report whole, read and check the whole input.
//! 2. `connect`: the server (or the in-process simulator); no request yet.
//! 3. `resolve`: names into ids, and what is already on the server, by
//!    reading it (reads only).
//! 4. `decide`: what earlier runs did, `--strict`, dry runs, the plan of
//!    requests: what is left to send.
//! 5. `sending`: journal, send, and settle every row sent.
//! 6. `verify`: with `--verify`, read back what was written.
//! 7. `finish`: the report in input order, the summary, the exit code.
//!
//! Problems with single rows are data (report rows); an `Err` from here is a
//! problem with the whole run, before anything was sent (exit 2). A run that
//! stops part-way still writes its full report and exits 3.

mod connect;
mod decide;
mod finish;
mod prepare;
mod resolve;
mod sending;
mod sync;
mod verify;

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::Result;

use crate::cli::Config;
use crate::job::{Job, ResourceRef};
use crate::outcome::Results;
use crate::{lookup, report};
use sync::SyncPlan;

/// Runs a job. `stop` is set by SIGINT/SIGTERM.
pub fn run<J: Job>(job: &J, cfg: &Config, stop: &AtomicBool) -> Result<ExitCode> {
    let mut prepared = prepare::prepare(job, cfg, stop)?;
    hint_an_empty_simulator(job, cfg, &prepared.data);
    let connected = connect::connect(cfg, stop)?;
    let transport = connected.as_ref().map(|c| &c.transport);
    let mut results = Results::new(prepared.data.items.len());
    let mut sync = SyncPlan::default();
    // Done stays done: rows an earlier run did are settled by what its
    // report holds before any name is resolved, so no answer of the server
    // now can make them invalid, or send them again.
    let mut prior = prepared.prior.take();
    let mut changed = Vec::new();
    if let Some(prior) = prior.as_mut() {
        changed = decide::apply_prior(
            job,
            cfg,
            &prepared.data,
            prior,
            &mut results,
            &mut sync.held,
        );
    }
    let open = |i: usize| results.is_open(i);
    let resolved = resolve::resolve(job, cfg, &mut prepared.data, &open, transport);
    let facts = sync.creates(job, cfg, &mut prepared.data, resolved.facts, &mut results);
    let (invalid, there) = decide::apply_facts(cfg, facts, &mut results);
    // Then rows still open whose resolved ids match a done row.
    if let Some(prior) = prior.as_mut() {
        let more = decide::apply_prior(
            job,
            cfg,
            &prepared.data,
            prior,
            &mut results,
            &mut sync.held,
        );
        changed.extend(more);
    }
    if cfg.update {
        sync.updates(job, cfg, &prepared.data, &there, &mut results);
        let reader = transport.map(lookup::Reader::new);
        let date = prior
            .as_ref()
            .map_or_else(report::today, |p| p.date.clone());
        sync.changed(
            job,
            cfg,
            &prepared.data,
            changed,
            (reader.as_ref(), &date),
            &mut results,
        );
    }
    log::debug!(
        "resolved at {:.3} s",
        prepared.started.elapsed().as_secs_f64()
    );
    let ending = (invalid, resolved.aborted.as_ref());
    let decision = decide::decide(job, cfg, &prepared, results, ending, &sync, stop);
    log::debug!(
        "decided at {:.3} s",
        prepared.started.elapsed().as_secs_f64()
    );
    let mut counts = finish::SyncCounts {
        missing: if cfg.create_resources.is_none() {
            sync.missing
        } else {
            0
        },
        would_create: if cfg.dry_run { sync.creates.len() } else { 0 },
        ..finish::SyncCounts::default()
    };
    let mut ended = match (decision.work, transport) {
        (Some(work), Some(transport)) => {
            let (ended, created) = sending::send(
                job,
                cfg,
                &prepared,
                transport,
                decision.results,
                work,
                &sync,
                stop,
            )?;
            // The report shows a created resource's id on its rows.
            for (create, id) in sync.creates.iter().zip(created) {
                let Ok(id) = id else { continue };
                counts.created += 1;
                for &i in &create.rows {
                    let item = &mut prepared.data.items[i as usize].item;
                    job.set_resource(item, ResourceRef::Resolved(id));
                }
            }
            ended
        }
        // A dry run, or --strict with invalid rows: nothing goes out.
        _ => finish::Ended::without_sending(decision.results, decision.end, prepared.started),
    };
    if let (true, Some(transport)) = (cfg.verify, transport) {
        verify::verify(job, cfg, &mut prepared.data, &mut ended, transport);
    }
    if let Some(transport) = transport {
        (ended.stats.requests, ended.stats.retries) = transport.counts();
        ended.stats.rate = Some(transport.rate());
    }
    ended.sync = counts;
    ended.new_problems = Some(finish::new_problems(
        job,
        &prepared.data,
        &ended.results,
        prior.as_ref(),
    ));
    log::debug!(
        "finishing at {:.3} s",
        prepared.started.elapsed().as_secs_f64()
    );
    let (code, written, journal) = finish::finish(job, cfg, prepared.data, ended);
    if let Some(journal) = journal {
        journal.done(written);
    }
    // With --history: the unfinished journal this run resumed from is
    // whole in its report now.
    if let (true, Some(old)) = (written, &cfg.history_journal)
        && let Err(e) = std::fs::remove_file(old)
    {
        log::warn!(
            "cannot remove the journal {} this run resumed from: {e}",
            old.display()
        );
    }
    drop(prepared.lock);
    drop(prepared.input_lock);
    Ok(code)
}

/// `--simulate` starts an empty PAM360: an input that names resources
/// would find none of them. Said once, before a row is reported so.
fn hint_an_empty_simulator<J: Job>(
    job: &J,
    cfg: &Config,
    data: &crate::collect::Collected<J::Item>,
) {
    let empty = matches!(
        &cfg.target,
        crate::cli::Target::Simulate {
            inventory: None,
            state: None
        }
    );
    if empty && data.has_column(job.schema().slot("RESOURCENAME")) && cfg.create_resources.is_none()
    {
        log::warn!(
            "the built-in simulator starts empty: it holds no resource the input names. Give it the server's resources with --simulate-inventory FILE (a CSV of RESOURCENAME, RESOURCEID, RESOURCETYPE, ACCOUNTNAME, ACCOUNTID; samples/inventory.csv is one), or let --create-resources create them"
        );
    }
}
