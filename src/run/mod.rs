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
mod verify;

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::Result;

use crate::cli::Config;
use crate::job::Job;
use crate::outcome::Results;

/// Runs a job. `stop` is set by SIGINT/SIGTERM.
pub fn run<J: Job>(job: &J, cfg: &Config, stop: &AtomicBool) -> Result<ExitCode> {
    let mut prepared = prepare::prepare(job, cfg, stop)?;
    let connected = connect::connect(cfg, stop)?;
    let transport = connected.as_ref().map(|c| &c.transport);
    let mut results = Results::new(prepared.data.items.len());
    // Done stays done: rows an earlier run did are settled by what its
    // report holds before any name is resolved, so no answer of the server
    // now can make them invalid, or send them again.
    let mut prior = prepared.prior.take();
    if let Some(prior) = prior.as_mut() {
        decide::apply_prior(job, cfg, &prepared.data, prior, &mut results);
    }
    let open = |i: usize| results.is_open(i);
    let resolved = resolve::resolve(job, cfg, &mut prepared.data, &open, transport);
    let invalid = decide::apply_facts(cfg, &resolved, &mut results);
    // Then rows still open whose resolved ids match a done row.
    if let Some(prior) = prior.as_mut() {
        decide::apply_prior(job, cfg, &prepared.data, prior, &mut results);
    }
    log::debug!(
        "resolved at {:.3} s",
        prepared.started.elapsed().as_secs_f64()
    );
    let ending = (invalid, resolved.aborted.as_ref());
    let decision = decide::decide(job, cfg, &prepared, results, ending, stop);
    log::debug!(
        "decided at {:.3} s",
        prepared.started.elapsed().as_secs_f64()
    );
    let mut ended = match (decision.to_send, transport) {
        (Some(units), Some(transport)) => sending::send(
            job,
            cfg,
            &prepared,
            transport,
            decision.results,
            units,
            stop,
        )?,
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
    log::debug!(
        "finishing at {:.3} s",
        prepared.started.elapsed().as_secs_f64()
    );
    let (code, written, journal) = finish::finish(job, cfg, prepared.data, ended);
    if let Some(journal) = journal {
        journal.done(written);
    }
    drop(prepared.lock);
    Ok(code)
}
