//! One job run, step by step: read and check everything, decide what an
//! earlier run already did, plan, send, and write the report.
//!
//! Problems with single rows are data (report rows); an `Err` from here is a
//! problem with the whole run (exit 2). A run that stops part-way still
//! writes its full report and returns exit code 3.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Result, bail};

use crate::cli::{Config, Target};
use crate::collect::{Collected, Collector, Entry};
use crate::input;
use crate::job::Job;
use crate::outcome::{OUTCOMES, Outcome, Results, RowResult};
use crate::pam360::{Client, ClientConfig};
use crate::plan;
use crate::progress;
use crate::report::{self, Journal, ReportRow};
use crate::secret::Secret;
use crate::send::{self, Abort, Recorder, SendConfig};
use crate::simulator::{SimOptions, Simulator, random_token};

pub use crate::exit::NOTHING_SENT as EXIT_NOTHING_SENT;
use crate::exit::RunEnd;

/// Runs a job. `stop` is set by SIGINT/SIGTERM.
pub fn run<J: Job>(job: &J, cfg: &Config, stop: &AtomicBool) -> Result<ExitCode> {
    let started = Instant::now();
    let journal_path = report::journal_path(&cfg.report);
    crate::outputs::check(&crate::outputs::Outputs {
        input: match &cfg.source {
            input::Source::Path(p) => Some(p),
            input::Source::Stdin => None,
        },
        report: &cfg.report,
        summary_json: cfg.summary_json.as_deref(),
        resume: cfg.resume.as_deref(),
        overwrite: cfg.overwrite,
        idempotent: job.idempotent(),
        key_columns: job.key_columns(),
        dry_run: cfg.dry_run,
    })?;
    // Held until the run ends: one run per journal.
    let _lock = if cfg.dry_run {
        None
    } else {
        let lock = crate::outputs::JournalLock::take(&journal_path)?;
        if lock.existed {
            refuse_foreign_journal(cfg, &journal_path)?;
        }
        Some(lock)
    };

    // Read a resume report whole before anything is written: it may be the
    // very journal this run is about to replace.
    let prior = match &cfg.resume {
        Some(p) => Some(report::read_prior(
            p,
            job.key_columns(),
            job.key_defaults(),
        )?),
        None => None,
    };

    let reading = progress::bar(cfg.progress, None, "checking");
    let mut collector = Collector::new(job, cfg.ignore_unknown_columns, cfg.org.as_deref());
    let stats = input::read(
        &cfg.source,
        &cfg.input,
        &mut ProgressSink(&mut collector, &reading),
        stop,
    )?;
    reading.finish_and_clear();
    let data = collector.finish();
    log::debug!(
        "read and checked {} rows in {:.3} s",
        stats.data_rows,
        started.elapsed().as_secs_f64()
    );
    for col in &data.ignored_columns {
        log::warn!("ignoring unknown column \"{col}\" (--ignore-unknown-columns)");
    }
    if stats.data_rows == 0 {
        log::warn!("the input has a header but no data rows: nothing to do");
    }

    let mut results = Results::new(data.items.len());
    if let Some(prior) = prior {
        apply_prior(job, cfg, &data, prior, &mut results);
    }
    let to_send = (0..data.items.len() as u32).filter(|&i| results.is_open(i as usize));
    let units = plan::plan(job, &data.items, &data.orgs, to_send, cfg.chunk_size);
    log::debug!(
        "planned {} requests at {:.3} s",
        units.len(),
        started.elapsed().as_secs_f64()
    );
    let header = report::columns(job.key_columns());

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
        return finish(
            job,
            cfg,
            data,
            results,
            &header,
            Stats::new(started),
            None,
            end,
        )
        .map(|(code, _)| code);
    }
    if cfg.dry_run {
        let interrupted = stop.load(Ordering::SeqCst).then_some(Abort::Interrupted);
        for (n, unit) in units.iter().enumerate() {
            // Short: a million-row report repeats it on every row, and the
            // row's own columns say where it goes.
            let msg = format!(
                "request {} of {} ({} rows)",
                n + 1,
                units.len(),
                unit.items.len()
            );
            results.plan(&unit.items, msg);
        }
        // The plan lives on in the messages; its row lists are not needed.
        drop(units);
        let end = RunEnd {
            aborted: interrupted.is_some(),
            ..RunEnd::default()
        };
        return finish(
            job,
            cfg,
            data,
            results,
            &header,
            Stats::new(started),
            interrupted.as_ref(),
            end,
        )
        .map(|(code, _)| code);
    }

    // Connect: the in-process simulator, or the server.
    let (_simulator, url, token) = match &cfg.target {
        Target::Simulate => {
            let token = random_token();
            let sim = Simulator::start(
                "127.0.0.1:0",
                SimOptions {
                    token: token.clone(),
                    any_account: true,
                    ..SimOptions::default()
                },
            )?;
            let url = sim.url();
            log::info!("simulating PAM360 at {url}");
            (Some(sim), url, Secret::new(token))
        }
        Target::Server { url, token } => (None, url.clone(), token.clone()),
        Target::None => bail!("no server to send to"),
    };
    if matches!(cfg.trust, crate::pam360::TlsTrust::Insecure) {
        log::warn!(
            "--insecure: the server's certificate is not checked; anyone on the path can read the token"
        );
    }
    let client = Client::new(&ClientConfig {
        server: url,
        token: token.clone(),
        trust: cfg.trust.clone(),
        timeout: cfg.timeout,
        concurrency: cfg.concurrency,
    })?;

    // Rows already settled go first into the journal, so a resume of this
    // run's journal knows them too.
    let settled: Vec<ReportRow> = results
        .stored()
        .map(|(i, r)| report_row(job, &data, i, r.clone()))
        .collect();
    let (journal, journal_thread) = Journal::create(&journal_path, &header, &settled)?.spawn();
    let total: u64 = units.iter().map(|u| u.items.len() as u64).sum();
    let bar = progress::bar(cfg.progress, Some(total), "sending");
    let recorder = JournalRecorder {
        job,
        data: &data,
        journal: &journal,
        bar: &bar,
        failed: AtomicBool::new(false),
        stop,
        retries: std::sync::atomic::AtomicU64::new(0),
    };
    let sending = Instant::now();
    let sent = send::send(
        job,
        &client,
        token.expose(),
        &data.items,
        &units,
        &SendConfig {
            concurrency: cfg.concurrency,
            rate: cfg.rate,
            retries: cfg.retries,
            max_throttle: cfg.max_throttle,
        },
        &recorder,
        stop,
    );
    bar.finish_and_clear();
    let sending = sending.elapsed().as_secs_f64();
    let journal_failed = recorder.failed.load(Ordering::SeqCst);
    drop(journal);
    // The journal thread ends once every handle is gone, its last rows synced.
    let journal = match journal_thread.join() {
        Ok(Ok(j)) if !journal_failed => Some(j),
        _ => None,
    };
    let mut aborted = sent.aborted.clone();
    if journal.is_none() {
        aborted = Some(Abort::Journal);
    }
    if aborted.is_none() && stop.load(Ordering::SeqCst) {
        aborted = Some(Abort::Interrupted);
    }
    let untaken = match &aborted {
        Some(a) => format!("not sent: {}", a.describe()),
        None => "not sent".to_string(),
    };
    let sending_began = sent
        .results
        .iter()
        .any(|(_, r)| r.outcome != Outcome::NotSent);
    for (i, r) in sent.results {
        results.set(i as usize, r);
    }
    for i in 0..data.items.len() {
        if results.is_open(i) {
            results.set(i, RowResult::new(Outcome::NotSent, untaken.clone()));
        }
    }
    let stats = Stats {
        started,
        requests: sent.requests,
        retries: sent.retries,
        sending,
    };
    let end = RunEnd {
        sending_began,
        aborted: aborted.is_some(),
        certificate_refused: matches!(aborted, Some(Abort::Certificate(_))),
        ..RunEnd::default()
    };
    let (exit, written) = finish(
        job,
        cfg,
        data,
        results,
        &header,
        stats,
        aborted.as_ref(),
        end,
    )?;
    match journal {
        // The report holds everything the journal did: the journal goes.
        Some(j) if written => j.remove()?,
        Some(_) if !sending_began => {
            let _ = std::fs::remove_file(&journal_path);
        }
        _ => {
            if written {
                // The report is whole; a journal that failed part-way is not.
                let _ = std::fs::remove_file(&journal_path);
            }
        }
    }
    Ok(exit)
}

/// A `.partial` journal is never overwritten unless this run resumes it.
fn refuse_foreign_journal(cfg: &Config, journal: &Path) -> Result<()> {
    let same = cfg.resume.as_ref().is_some_and(|r| {
        match (std::fs::canonicalize(r), std::fs::canonicalize(journal)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    });
    if !same {
        bail!(
            "{} is the journal of an earlier run that did not finish. Resume it with --resume {} (rows it shows done are skipped), or delete it to start over",
            journal.display(),
            journal.display()
        );
    }
    Ok(())
}

/// Marks rows an earlier run did (`skipped`) or may have done (`unconfirmed`
/// password requests, held back unless `--resend-unconfirmed`).
fn apply_prior<J: Job>(
    job: &J,
    cfg: &Config,
    data: &Collected<J::Item>,
    mut prior: report::Prior,
    results: &mut Results,
) {
    for (i, c) in data.items.iter().enumerate() {
        let key = report::resume_key(data.org_str(c), &job.key(&c.item), job.key_defaults());
        if let Some(done) = prior.done.get_mut(&key)
            && let Some(outcome) = done.pop()
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
            && let Some(n) = prior.unconfirmed.get_mut(&key)
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

fn report_row<J: Job>(
    job: &J,
    data: &Collected<J::Item>,
    i: usize,
    result: RowResult,
) -> ReportRow {
    let c = &data.items[i];
    ReportRow {
        row: u64::from(c.row),
        org: data.org_str(c).to_string(),
        key: job.key(&c.item),
        result,
    }
}

struct JournalRecorder<'a, J: Job> {
    job: &'a J,
    data: &'a Collected<J::Item>,
    journal: &'a report::JournalHandle,
    bar: &'a indicatif::ProgressBar,
    failed: AtomicBool,
    stop: &'a AtomicBool,
    /// Retries so far, for the progress bar.
    retries: std::sync::atomic::AtomicU64,
}

impl<J: Job> JournalRecorder<'_, J> {
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
            self.stop.store(true, Ordering::SeqCst);
            if !self.failed.swap(true, Ordering::SeqCst) {
                log::error!("cannot write the journal; stopping");
            }
        }
        written
    }
}

impl<J: Job> Recorder for JournalRecorder<'_, J> {
    fn sending(&self, rows: &[u32]) -> bool {
        let lines = rows
            .iter()
            .map(|&i| {
                report_row(
                    self.job,
                    self.data,
                    i as usize,
                    RowResult::new(Outcome::InFlight, ""),
                )
            })
            .collect();
        // A request that must not be repeated is on disk as in flight before
        // it goes; an account may be sent again, so it need not wait.
        self.append(lines, !self.job.idempotent())
    }

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

/// The final report's rows: every input row, checked or not, with its result.
struct FinalRows<'a, J: Job> {
    job: &'a J,
    data: &'a Collected<J::Item>,
    results: &'a Results,
}

impl<J: Job> report::ReportRows for FinalRows<'_, J> {
    fn len(&self) -> usize {
        self.data.rows()
    }

    fn row(&self, i: usize, key: &mut Vec<String>, emit: &mut report::Emit<'_>) -> Result<()> {
        match self.data.entry(i) {
            Entry::Invalid(n) => emit(&self.data.invalid[n as usize].view()),
            Entry::Valid(n) => {
                let c = &self.data.items[n as usize];
                self.job.key_into(&c.item, key);
                let (outcome, status, http_status, attempts, message) = self
                    .results
                    .view(n as usize)
                    .unwrap_or((Outcome::NotSent, "", None, 0, "not sent"));
                emit(&report::RowView {
                    row: u64::from(c.row),
                    org: self.data.org_str(c),
                    key,
                    outcome,
                    status,
                    http_status,
                    attempts,
                    message,
                })
            }
        }
    }
}

/// Feeds the reading progress bar as rows pass to the collector.
struct ProgressSink<'a, 'b, S: input::RowSink>(&'a mut S, &'b indicatif::ProgressBar);

impl<S: input::RowSink> input::RowSink for ProgressSink<'_, '_, S> {
    fn header(&mut self, names: &[String]) -> Result<()> {
        self.0.header(names)
    }
    fn rows(&mut self, rows: &[input::RawRow]) -> Result<()> {
        self.1.inc(rows.len() as u64);
        self.0.rows(rows)
    }
    // Forwarded, or the collector never reserves and grows (and rehashes
    // its duplicate table) all the way up to a million rows.
    fn size_hint(&mut self, rows: usize) {
        self.0.size_hint(rows)
    }
}

struct Stats {
    started: Instant,
    requests: u64,
    retries: u64,
    /// Seconds spent sending, first request to last answer.
    sending: f64,
}

impl Stats {
    fn new(started: Instant) -> Self {
        Stats {
            started,
            requests: 0,
            retries: 0,
            sending: 0.0,
        }
    }
}

/// Writes the report in input order and the summary; the exit code comes
/// from [`crate::exit::code`]. Returns it and whether every output was
/// written. An output that fails once sending began is not an `Err` (that
/// would say "nothing was sent"): the journal stays and the message says
/// how to finish.
#[allow(clippy::too_many_arguments)]
fn finish<J: Job>(
    job: &J,
    cfg: &Config,
    data: Collected<J::Item>,
    results: Results,
    header: &[String],
    stats: Stats,
    aborted: Option<&Abort>,
    mut end: RunEnd,
) -> Result<(ExitCode, bool)> {
    let mut counts = [0u64; OUTCOMES];
    for entry in data.entries() {
        let outcome = match entry {
            Entry::Invalid(_) => Outcome::Invalid,
            Entry::Valid(n) => results
                .view(n as usize)
                .map(|r| r.0)
                .unwrap_or(Outcome::NotSent),
        };
        counts[outcome as usize] += 1;
    }
    // The outcomes that occurred, with their counts, in report order.
    let seen: Vec<(Outcome, u64)> = Outcome::ALL
        .iter()
        .map(|o| (*o, counts[*o as usize]))
        .filter(|(_, n)| *n > 0)
        .collect();
    let writing = Instant::now();
    let rows = FinalRows {
        job,
        data: &data,
        results: &results,
    };
    let mut summary = vec![
        ("job".to_string(), job.name().to_string()),
        ("rows".to_string(), data.rows().to_string()),
    ];
    for (o, n) in &seen {
        summary.push((o.as_str().to_string(), n.to_string()));
    }
    summary.push(("requests".into(), stats.requests.to_string()));
    summary.push(("retries".into(), stats.retries.to_string()));
    summary.push(("dry run".into(), cfg.dry_run.to_string()));
    if let Some(a) = aborted {
        summary.push(("stopped".into(), a.describe()));
    }
    let mut output_errors = Vec::new();
    if let Err(e) = report::write(&cfg.report, header, &rows, &summary) {
        output_errors.push(format!(
            "cannot write the report {}: {e:#}",
            cfg.report.display()
        ));
    }
    log::debug!(
        "wrote the report in {:.3} s",
        writing.elapsed().as_secs_f64()
    );
    let total: u64 = seen.iter().map(|(_, n)| n).sum();
    end.all_done = seen.iter().all(|(o, _)| o.is_ok());
    end.output_failed = !output_errors.is_empty();
    let mut code = crate::exit::code(&end);
    let elapsed = stats.started.elapsed().as_secs_f64();
    let done: u64 = seen
        .iter()
        .filter(|(o, _)| o.is_done())
        .map(|(_, n)| n)
        .sum();
    let per_sec = if elapsed > 0.0 {
        done as f64 / elapsed
    } else {
        0.0
    };
    // One line per outcome: easy to read, easy to grep in a cron log.
    eprintln!("pam360-bulk {}: {total} rows", job.name());
    for (o, n) in &seen {
        eprintln!("  {:<12} {n:>9}", o.as_str());
    }
    eprintln!(
        "  {} requests ({} retries) in {:.2} s, {:.1} rows/s{}",
        stats.requests,
        stats.retries,
        elapsed,
        per_sec,
        if cfg.dry_run {
            " (dry run: nothing sent)"
        } else {
            ""
        }
    );
    if let Some(a) = aborted {
        eprintln!("  stopped: {}", a.describe());
    }
    if end.strict_blocked {
        eprintln!(
            "  --strict: nothing was sent because some rows are invalid; fix them (see the report) and run again"
        );
    }
    if output_errors.is_empty() {
        eprintln!("  report: {}", cfg.report.display());
    }
    if let Some(path) = &cfg.summary_json {
        let outcomes: serde_json::Map<String, serde_json::Value> = Outcome::ALL
            .iter()
            .map(|o| (o.as_str().to_string(), counts[*o as usize].into()))
            .collect();
        let summary = serde_json::json!({
            "job": job.name(),
            "rows": total,
            "outcomes": outcomes,
            "requests": stats.requests,
            "retries": stats.retries,
            "elapsed_s": elapsed,
            "sending_s": stats.sending,
            "requests_per_s": if stats.sending > 0.0 { stats.requests as f64 / stats.sending } else { 0.0 },
            "rows_per_s": per_sec,
            "dry_run": cfg.dry_run,
            "aborted": aborted.map(Abort::describe),
            "exit_code": code,
            "report": cfg.report.display().to_string(),
        });
        if let Err(e) = std::fs::write(path, serde_json::to_vec_pretty(&summary)?) {
            output_errors.push(format!(
                "cannot write --summary-json {}: {e}",
                path.display()
            ));
        }
    }
    drop_aside((data, results));
    if !output_errors.is_empty() {
        end.output_failed = true;
        code = crate::exit::code(&end);
        for e in &output_errors {
            eprintln!("pam360-bulk: error: {e}");
        }
        if end.sending_began {
            let journal = report::journal_path(&cfg.report);
            eprintln!(
                "pam360-bulk: what was sent is recorded in {}: once the problem is fixed, run the same command with --resume {} to finish the report (nothing done is sent again)",
                journal.display(),
                journal.display()
            );
        }
    }
    Ok((ExitCode::from(code), output_errors.is_empty()))
}

/// Frees what the run kept on a thread of its own: a million checked rows
/// take tens of milliseconds to free, one allocation at a time, and nothing
/// waits for it (the process may well exit first, which frees it all at
/// once).
fn drop_aside<T: Send + 'static>(value: T) {
    std::thread::spawn(move || drop(value));
}
