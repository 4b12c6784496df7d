//! One job run, as a script of stages:
//!
//! 1. [`prepare`]: check every output path, lock the journal, read the
//!    `--resume` report whole, read and check the whole input.
//! 2. [`decide`]: what earlier runs did, `--strict`, dry runs, the plan of
//!    requests: what is left to send.
//! 3. [`sending`]: connect, journal, send, and settle every row sent.
//! 4. [`finish`]: the report in input order, the summary, the exit code.
//!
//! Problems with single rows are data (report rows); an `Err` from here is a
//! problem with the whole run, before anything was sent (exit 2). A run that
//! stops part-way still writes its full report and exits 3.

mod decide;
mod finish;
mod prepare;
mod sending;

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Result;

use crate::cli::Config;
use crate::job::Job;

pub use crate::exit::NOTHING_SENT as EXIT_NOTHING_SENT;

/// Runs a job. `stop` is set by SIGINT/SIGTERM.
pub fn run<J: Job>(job: &J, cfg: &Config, stop: &AtomicBool) -> Result<ExitCode> {
    let started = Instant::now();
    let mut prepared = prepare::prepare(job, cfg, stop)?;
    let decision = decide::decide(job, cfg, &mut prepared, stop);
    let ended = match decision.to_send {
        // A dry run, or --strict with invalid rows: nothing goes out.
        None => finish::Ended::without_sending(decision.results, decision.end, started),
        Some(units) => sending::send(job, cfg, &prepared, decision.results, units, stop, started)?,
    };
    let (code, written, journal) = finish::finish(job, cfg, prepared.data, ended);
    if let Some(journal) = journal {
        journal.done(written);
    }
    drop(prepared.lock);
    Ok(code)
}
