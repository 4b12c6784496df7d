//! One job run, as a script of stages:
//!
//! 1. `prepare`: check every output path, lock the journal and the input,
//!    read the `--resume` report whole, read and check the whole input.
//! 2. `connect`: the server (or the in-process simulator); no request yet.
//! 3. what is known: what earlier runs did (`decide::apply_prior`), then
//!    `resolve`: names into ids and typed facts about what the server
//!    holds (reads only); `sync`: what `--create-resources` creates and
//!    `--update` edits.
//! 4. `decide`: facts and options into each row's action: skipped,
//!    invalid, exists, planned, or sent; `--strict` and dry runs send
//!    nothing.
//! 5. `sending`: journal, creates, adds and edits, password changes, every
//!    row settled.
//! 6. `verify`: with `--verify`, read back what was added.
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
    let (mut prepared, connected) = prepare_and_connect(job, cfg, stop)?;
    let transport = connected.as_ref().map(|c| &c.transport);
    let known = know(job, cfg, &mut prepared, transport);
    log::debug!(
        "resolved at {:.3} s",
        prepared.started.elapsed().as_secs_f64()
    );
    let ending = (known.invalid, known.aborted.as_ref());
    let decision = decide::decide(
        job,
        cfg,
        &prepared,
        known.results,
        ending,
        &known.sync,
        stop,
    );
    log::debug!(
        "decided at {:.3} s",
        prepared.started.elapsed().as_secs_f64()
    );
    let mut ended = send(
        job,
        cfg,
        &mut prepared,
        transport,
        decision,
        &known.sync,
        stop,
    )?;
    if let (true, Some(transport)) = (cfg.verify, transport) {
        verify::verify(job, cfg, &mut prepared.data, &mut ended, transport);
    }
    if let Some(transport) = transport {
        (ended.stats.requests, ended.stats.retries) = transport.counts();
        ended.stats.rate = Some(transport.rate());
    }
    let problems = finish::new_problems(job, &prepared.data, &ended.results, known.prior.as_ref());
    ended.new_problems = Some(problems);
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
    if let Some(connected) = connected {
        connected.close();
    }
    finish::drop_aside(known.prior);
    drop(prepared.lock);
    drop(prepared.input_lock);
    log::debug!("done at {:.3} s", prepared.started.elapsed().as_secs_f64());
    Ok(code)
}

/// The input read and checked, and the client for the server.
///
/// The client (its TLS roots read, its pool made) is built beside the
/// input's reading: it sends nothing until the input is checked, and an
/// input error is told first. A simulator started in-process waits for the
/// input, as it logs.
fn prepare_and_connect<'s, J: Job>(
    job: &J,
    cfg: &Config,
    stop: &'s AtomicBool,
) -> Result<(prepare::Prepared<J>, Option<connect::Connected<'s>>)> {
    let (prepared, connected) = if matches!(cfg.target, crate::cli::Target::Server { .. }) {
        std::thread::scope(|s| {
            let connecting = s.spawn(|| connect::connect(cfg, stop));
            let prepared = prepare::prepare(job, cfg, stop);
            let connected = connecting
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the client could not be built")));
            (prepared, Some(connected))
        })
    } else {
        (prepare::prepare(job, cfg, stop), None)
    };
    let prepared = prepared?;
    hint_an_empty_simulator(job, cfg, &prepared.data);
    let connected = match connected {
        Some(connected) => connected?,
        None => connect::connect(cfg, stop)?,
    };
    Ok((prepared, connected))
}

/// What is known before deciding: what earlier runs did, what the server
/// holds, what the run creates and edits.
struct Known {
    results: Results,
    sync: SyncPlan,
    prior: Option<report::Prior>,
    /// Rows made invalid after checking.
    invalid: usize,
    /// Why reading the server stopped the run, before any write.
    aborted: Option<crate::transport::Abort>,
}

/// Earlier runs first, then the server: done stays done, so rows an
/// earlier run did are settled by what its report holds before any name is
/// resolved, and no answer of the server now can make them invalid, or
/// send them again. Rows still open whose resolved ids match a done row
/// are settled after.
fn know<J: Job>(
    job: &J,
    cfg: &Config,
    prepared: &mut prepare::Prepared<J>,
    transport: Option<&crate::transport::Transport<'_>>,
) -> Known {
    let mut results = Results::new(prepared.data.items.len());
    let mut sync = SyncPlan::default();
    let mut prior = prepared.prior.take();
    let mut changed = Vec::new();
    let data = &mut prepared.data;
    if let Some(prior) = prior.as_mut() {
        changed = decide::apply_prior(job, cfg, data, prior, &mut results, &mut sync.held);
    }
    let open = |i: usize| results.is_open(i);
    let resolved = resolve::resolve(job, cfg, data, &open, transport);
    let facts = sync.creates(job, cfg, data, resolved.facts, &mut results);
    let (invalid, there) = decide::apply_facts(cfg, facts, &mut results);
    if let Some(prior) = prior.as_mut() {
        let more = decide::apply_prior(job, cfg, data, prior, &mut results, &mut sync.held);
        changed.extend(more);
    }
    if cfg.update {
        sync.updates(job, cfg, data, &there, &mut results);
        let reader = transport.map(lookup::Reader::new);
        let date = prior
            .as_ref()
            .map_or_else(report::today, |p| p.date.clone());
        let from = (reader.as_ref(), date.as_str());
        sync.changed(job, cfg, data, changed, from, &mut results);
    }
    Known {
        results,
        sync,
        prior,
        invalid,
        aborted: resolved.aborted,
    }
}

/// Sends what was decided, or ends a run that sends nothing (a dry run,
/// `--strict` with invalid rows). The rows of a resource created show its
/// id in the report.
fn send<J: Job>(
    job: &J,
    cfg: &Config,
    prepared: &mut prepare::Prepared<J>,
    transport: Option<&crate::transport::Transport<'_>>,
    decision: decide::Decision,
    sync: &SyncPlan,
    stop: &AtomicBool,
) -> Result<finish::Ended> {
    let counts = finish::SyncCounts {
        missing: if cfg.create_resources.is_none() {
            sync.missing
        } else {
            0
        },
        would_create: if cfg.dry_run { sync.creates.len() } else { 0 },
        created: 0,
    };
    let (Some(work), Some(transport)) = (decision.work, transport) else {
        let mut ended =
            finish::Ended::without_sending(decision.results, decision.end, prepared.started);
        ended.sync = counts;
        return Ok(ended);
    };
    let (mut ended, created) = sending::send(
        job,
        cfg,
        prepared,
        transport,
        decision.results,
        work,
        sync,
        stop,
    )?;
    ended.sync = counts;
    for (create, id) in sync.creates.iter().zip(created) {
        let Ok(id) = id else { continue };
        ended.sync.created += 1;
        for &i in &create.rows {
            let item = &mut prepared.data.items[i as usize].item;
            job.set_resource(item, ResourceRef::Resolved(id));
        }
    }
    // An edited row's ids are those its edit went to (from the earlier
    // report, or read), for the report.
    for e in &sync.existing {
        let item = &mut prepared.data.items[e.row as usize].item;
        if job.names(item).resource_id.is_none() {
            job.set_resource(item, ResourceRef::Resolved(e.resource_id));
        }
        job.set_account(item, e.account_id);
    }
    Ok(ended)
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
