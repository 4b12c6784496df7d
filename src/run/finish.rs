//! The end of a run: the report in input order, the summary on stderr and
//! in `--summary-json`, and the exit code from [`crate::exit::code`]. An
//! output that fails once sending began is not an error that says "nothing
//! was sent": the journal stays, the message says how to finish, exit 3.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use super::decide::Ending;
use crate::cli::Config;
use crate::collect::{Collected, Entry};
use crate::exit::RunEnd;
use crate::job::Job;
use crate::outcome::{OUTCOMES, Outcome, Results, counted};
use crate::report::{self, Journal};
use crate::transport::Abort;

/// How a run ended, before its report is written.
pub struct Ended {
    pub results: Results,
    pub stats: Stats,
    pub aborted: Option<Abort>,
    pub end: RunEnd,
    /// The journal of a run that sent.
    pub journal: Option<JournalEnd>,
    /// What `--create-resources` did, or would do.
    pub sync: SyncCounts,
    /// Rows invalid, failed or unconfirmed now that were not in the
    /// resumed report (every problem, without one).
    pub new_problems: Option<u64>,
    /// The report lines of the rows settled before sending.
    pub prewritten: Option<std::sync::Arc<report::Prewritten>>,
}

/// Resources created, that a live plan would create, or that rows name and
/// no resource has (without `--create-resources`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SyncCounts {
    pub created: usize,
    pub would_create: usize,
    pub missing: usize,
}

impl Ended {
    /// A run that sent nothing (a dry run, `--strict`).
    pub fn without_sending(results: Results, ending: Ending, started: Instant) -> Ended {
        Ended {
            results,
            stats: Stats::new(started),
            aborted: ending.aborted,
            end: ending.end,
            journal: None,
            sync: SyncCounts::default(),
            new_problems: None,
            prewritten: None,
        }
    }
}

/// Time and request counts of a run.
pub struct Stats {
    pub started: Instant,
    /// When it started, by the clock (for `--summary-json`).
    pub started_at: chrono::DateTime<chrono::Local>,
    /// Requests sent, reads and writes, and the retries among them.
    pub requests: u64,
    pub retries: u64,
    /// Seconds spent sending, first request to last answer.
    pub sending: f64,
    /// The rate the run ended at, when it talked to a server.
    pub rate: Option<f64>,
}

impl Stats {
    pub fn new(started: Instant) -> Self {
        Stats {
            started,
            started_at: chrono::Local::now()
                - chrono::Duration::from_std(started.elapsed()).unwrap_or_default(),
            requests: 0,
            retries: 0,
            sending: 0.0,
            rate: None,
        }
    }
}

/// The journal once sending is over.
pub struct JournalEnd {
    /// `None` when it could not be written to the end.
    pub journal: Option<Journal>,
    pub path: PathBuf,
    pub sending_began: bool,
}

impl JournalEnd {
    /// The report is written (`written`) or not: a journal goes once the
    /// report holds everything it did, or when nothing was sent; otherwise
    /// it stays for `--resume`.
    pub fn done(self, written: bool) {
        if written || !self.sending_began {
            match self.journal {
                Some(j) => {
                    if let Err(e) = j.remove() {
                        log::warn!("{e:#}");
                    }
                }
                None => {
                    let _ = std::fs::remove_file(&self.path);
                }
            }
        }
    }
}

/// Writes the report and the summary; returns the exit code and whether
/// every output was written.
pub fn finish<J: Job>(
    job: &J,
    cfg: &Config,
    data: Collected<J::Item>,
    ended: Ended,
) -> (ExitCode, bool, Option<JournalEnd>) {
    let counts = count_outcomes(&data, &ended.results);
    let mut end = ended.end;
    end.all_done = Outcome::ALL
        .iter()
        .all(|o| counts[*o as usize] == 0 || o.is_ok());
    let mut errors = Vec::new();
    let writing = Instant::now();
    if let Err(e) = write_report(job, cfg, &data, &ended, &counts) {
        errors.push(format!(
            "cannot write the report {}: {e:#}",
            cfg.report.display()
        ));
    }
    log::debug!(
        "wrote the report in {:.3} s",
        writing.elapsed().as_secs_f64()
    );
    end.output_failed = !errors.is_empty();
    let code = crate::exit::code(&end);
    let ignored = &data.ignored_columns;
    print_summary(job, cfg, &counts, &ended, &end, errors.is_empty(), ignored);
    if let Some(path) = &cfg.summary_json
        && let Err(e) = write_summary_json(job, cfg, &counts, &ended, code, path, ignored)
    {
        errors.push(format!(
            "cannot write --summary-json {}: {e:#}",
            path.display()
        ));
    }
    end.output_failed = !errors.is_empty();
    let code = crate::exit::code(&end);
    if !errors.is_empty() {
        tell_output_errors(cfg, &errors, end.sending_began);
    }
    drop_aside((data, ended.results));
    (ExitCode::from(code), errors.is_empty(), ended.journal)
}

/// Rows invalid, failed or unconfirmed now that were not so in the resumed
/// report `prior` (every such row, without one): what a nightly cron job
/// alerts on, since rows that stay invalid make every night exit 1.
pub fn new_problems<J: Job>(
    job: &J,
    data: &Collected<J::Item>,
    results: &Results,
    prior: Option<&report::Prior>,
) -> u64 {
    let problem =
        |o: Outcome| matches!(o, Outcome::Invalid | Outcome::Failed | Outcome::Unconfirmed);
    let new = |org: &str, key: &[String]| {
        prior.is_none_or(|p| !p.was_a_problem(&report::match_keys(job.identity(), org, key)))
    };
    let mut n = 0;
    for entry in data.entries() {
        match entry {
            Entry::Invalid(i) => {
                let r = &data.invalid[i as usize];
                n += u64::from(new(data.org_name(r.org), &r.key));
            }
            Entry::Valid(i) => {
                let outcome = results.view(i as usize).map_or(Outcome::NotSent, |v| v.0);
                if problem(outcome) {
                    let c = &data.items[i as usize];
                    n += u64::from(new(data.org_str(c), &job.key(&c.item)));
                }
            }
        }
    }
    n
}

/// How many rows ended in each outcome.
fn count_outcomes<I>(data: &Collected<I>, results: &Results) -> [u64; OUTCOMES] {
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
    counts
}

/// The outcomes that occurred, with their counts, in report order.
fn seen(counts: &[u64; OUTCOMES]) -> impl Iterator<Item = (Outcome, u64)> + '_ {
    Outcome::ALL
        .iter()
        .map(|o| (*o, counts[*o as usize]))
        .filter(|(_, n)| *n > 0)
}

fn write_report<J: Job>(
    job: &J,
    cfg: &Config,
    data: &Collected<J::Item>,
    ended: &Ended,
    counts: &[u64; OUTCOMES],
) -> Result<()> {
    let rows = FinalRows {
        job,
        data,
        results: &ended.results,
        prewritten: ended.prewritten.as_deref(),
    };
    let mut summary = vec![
        ("job".to_string(), job.name().to_string()),
        ("rows".to_string(), data.rows().to_string()),
    ];
    for (o, n) in seen(counts) {
        summary.push((o.as_str().to_string(), n.to_string()));
    }
    summary.push(("requests".into(), ended.stats.requests.to_string()));
    summary.push(("retries".into(), ended.stats.retries.to_string()));
    summary.push(("dry run".into(), cfg.dry_run.to_string()));
    if let Some(a) = &ended.aborted {
        summary.push(("stopped".into(), a.describe_in(cfg.again())));
    }
    let header = report::columns_of(job.identity());
    report::write(&cfg.report, &header, &rows, &summary)
}

/// Rows done per second of the whole run.
fn rows_per_second(counts: &[u64; OUTCOMES], stats: &Stats) -> f64 {
    let elapsed = stats.started.elapsed().as_secs_f64();
    // Rows this run did: those an earlier run did are no speed of this one.
    let done: u64 = seen(counts)
        .filter(|(o, _)| o.is_done() && *o != Outcome::Skipped)
        .map(|(_, n)| n)
        .sum();
    if elapsed > 0.0 {
        done as f64 / elapsed
    } else {
        0.0
    }
}

/// One line per outcome: easy to read, easy to grep in a cron log.
fn print_summary<J: Job>(
    job: &J,
    cfg: &Config,
    counts: &[u64; OUTCOMES],
    ended: &Ended,
    end: &RunEnd,
    report_written: bool,
    ignored: &[String],
) {
    let total: u64 = counts.iter().sum();
    let stats = &ended.stats;
    crate::say!("pam360-bulk {}: {}", job.name(), counted(total, "row"));
    for (o, n) in seen(counts) {
        crate::say!("  {:<12} {n:>9}", o.as_str());
    }
    let elapsed = stats.started.elapsed().as_secs_f64();
    if cfg.dry_run {
        let planned = ended.results.planned_requests() as u64;
        // A live plan's reads are requests too: say how many.
        let done = if cfg.live_plan {
            format!("nothing written, {}", counted(stats.requests, "read"))
        } else {
            "nothing sent".to_string()
        };
        crate::say!(
            "  dry run: {} planned, {done}; {elapsed:.2} s",
            counted(planned, "request")
        );
    } else {
        // A rate only when something was sent and done: rows skipped in a
        // blink are no speed, and a run that did nothing has none.
        let per_second = rows_per_second(counts, stats);
        let rate = if ended.end.sending_began && stats.requests > 0 && per_second > 0.0 {
            format!(", {per_second:.1} rows/s")
        } else {
            String::new()
        };
        crate::say!(
            "  {} ({}) in {elapsed:.2} s{rate}",
            counted(stats.requests, "request"),
            match stats.retries {
                1 => "1 retry".to_string(),
                n => format!("{n} retries"),
            },
        );
    }
    let sync = &ended.sync;
    if sync.created > 0 {
        crate::say!("  resources created: {}", sync.created);
    }
    if sync.would_create > 0 {
        crate::say!("  resources it would create: {}", sync.would_create);
    }
    if sync.missing > 0 {
        crate::say!(
            "  resources missing: {} (rows name them and no resource has the name; --create-resources creates them)",
            sync.missing
        );
    }
    // Only a run that builds on an earlier one has a "before"; the first
    // counts every problem as new (in --summary-json, for a cron alert),
    // which the lines above already show.
    let resumed = cfg.resume.is_some();
    if let Some(n) = ended.new_problems.filter(|n| *n > 0 && resumed) {
        crate::say!(
            "  new problems: {n} (rows invalid, failed or unconfirmed now that were not before)"
        );
    }
    if let (Some(rate), true) = (stats.rate, cfg.rate_auto) {
        crate::say!("  rate settled at {rate:.1} requests/s (--rate auto)");
    }
    if let Some(a) = &ended.aborted {
        crate::say!("  stopped: {}", a.describe_in(cfg.again()));
    }
    if end.strict_blocked {
        crate::say!(
            "  --strict: nothing was sent because some rows are invalid; fix them (see the report) and run again"
        );
    }
    if !ignored.is_empty() {
        // Said even with -q: a column the run did not read is data the
        // administrator may think was imported.
        let names: Vec<String> = ignored.iter().map(|c| format!("\"{c}\"")).collect();
        // Name what made them ignored: the map, or the flag.
        let why = if cfg.map.is_some() {
            "not used by the column map"
        } else {
            "--ignore-unknown-columns"
        };
        crate::say!("  ignored columns ({why}): {}", names.join(", "));
    }
    if report_written {
        crate::say!("  report: {}", cfg.report.display());
    }
}

fn write_summary_json<J: Job>(
    job: &J,
    cfg: &Config,
    counts: &[u64; OUTCOMES],
    ended: &Ended,
    code: u8,
    path: &std::path::Path,
    ignored: &[String],
) -> Result<()> {
    let stats = &ended.stats;
    let outcomes: serde_json::Map<String, serde_json::Value> = Outcome::ALL
        .iter()
        .map(|o| (o.as_str().to_string(), counts[*o as usize].into()))
        .collect();
    let summary = serde_json::json!({
        "job": job.name(),
        "started_at": stats.started_at.to_rfc3339(),
        "ended_at": chrono::Local::now().to_rfc3339(),
        "input": match &cfg.source {
            crate::input::Source::Path(p) => p.display().to_string(),
            crate::input::Source::Stdin => "-".to_string(),
        },
        "server": match &cfg.target {
            crate::cli::Target::Server { url, .. } => Some(url.clone()),
            crate::cli::Target::Simulate { .. } => Some("(the built-in simulator)".to_string()),
            crate::cli::Target::None => None,
        },
        "org": cfg.org,
        "rows": counts.iter().sum::<u64>(),
        "outcomes": outcomes,
        "requests": stats.requests,
        "retries": stats.retries,
        "elapsed_s": stats.started.elapsed().as_secs_f64(),
        "sending_s": stats.sending,
        "requests_per_s": if stats.sending > 0.0 { stats.requests as f64 / stats.sending } else { 0.0 },
        "rows_per_s": rows_per_second(counts, stats),
        "dry_run": cfg.dry_run,
        "live_plan": cfg.live_plan,
        "aborted": ended.aborted.as_ref().map(|a| a.describe_in(cfg.again())),
        "exit_code": code,
        "report": cfg.report.display().to_string(),
        "ignored_columns": ignored,
        "new_problems": ended.new_problems,
        "rate": stats.rate,
        "resources_created": ended.sync.created,
        "resources_it_would_create": ended.sync.would_create,
        "resources_missing": ended.sync.missing,
    });
    crate::outputs::replace(path, &serde_json::to_vec_pretty(&summary)?)
}

/// Each failed output once, and how to finish from the journal.
fn tell_output_errors(cfg: &Config, errors: &[String], sending_began: bool) {
    for e in errors {
        crate::say!("pam360-bulk: error: {e}");
    }
    if sending_began && cfg.history {
        crate::say!(
            "pam360-bulk: what was sent is recorded in {}: once the problem is fixed, run the same command again (--history resumes from it; nothing done is sent again)",
            report::journal_path(&cfg.report).display()
        );
    } else if sending_began {
        let journal = report::journal_path(&cfg.report);
        crate::say!(
            "pam360-bulk: what was sent is recorded in {}: once the problem is fixed, run the same command with --resume {} to finish the report (nothing done is sent again)",
            journal.display(),
            journal.display()
        );
    }
}

/// The final report's rows: every input row, checked or not, with its
/// result; and the lines formatted ahead of time that still hold.
pub(super) struct FinalRows<'a, J: Job> {
    pub job: &'a J,
    pub data: &'a Collected<J::Item>,
    pub results: &'a Results,
    pub prewritten: Option<&'a report::Prewritten>,
}

impl<J: Job> report::ReportRows for FinalRows<'_, J> {
    fn len(&self) -> usize {
        self.data.rows()
    }

    fn row(&self, i: usize, key: &mut Vec<String>, emit: &mut report::Emit<'_>) -> Result<()> {
        match self.data.entry(i) {
            Entry::Invalid(n) => {
                let r = &self.data.invalid[n as usize];
                let extra = vec![String::new(); self.job.identity().extra.len()];
                emit(&report::RowView {
                    row: r.row,
                    org: self.data.org_name(r.org),
                    key: &r.key,
                    outcome: Outcome::Invalid,
                    status: "",
                    http_status: None,
                    attempts: 0,
                    message: &r.message,
                    extra: &extra,
                })
            }
            Entry::Valid(n) => {
                let c = &self.data.items[n as usize];
                let (outcome, status, http_status, attempts, message) = self
                    .results
                    .view(n as usize)
                    .unwrap_or((Outcome::NotSent, "", None, 0, "not sent"));
                let carried = self.results.carried(n as usize);
                let extra = super::sending::row_cells(self.job, &c.item, outcome, carried, key);
                emit(&report::RowView {
                    row: u64::from(c.row),
                    org: self.data.org_str(c),
                    key,
                    outcome,
                    status,
                    http_status,
                    attempts,
                    message,
                    extra: &extra,
                })
            }
        }
    }

    /// An invalid row never changes; a checked row's result is stamped.
    fn stamp(&self, i: usize) -> u32 {
        match self.data.entry(i) {
            Entry::Invalid(_) => 1,
            Entry::Valid(n) => self.results.stamp(n as usize),
        }
    }

    fn ready_lines(&self, i: usize, end: usize) -> Option<(&[u8], usize)> {
        self.prewritten?.lines(i, end, &|k| self.stamp(k))
    }
}

/// Frees what the run kept on a thread of its own: a million checked rows
/// take tens of milliseconds to free, one allocation at a time, and nothing
/// waits for it (the process may well exit first, which frees it all at
/// once).
pub(super) fn drop_aside<T: Send + 'static>(value: T) {
    std::thread::spawn(move || drop(value));
}
