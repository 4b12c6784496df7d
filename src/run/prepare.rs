//! Before anything is sent: outputs checked, the journal locked, the
//! `--resume` report read whole, the whole input read and checked.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::cli::Config;
use crate::collect::{Collected, Collector};
use crate::input;
use crate::job::Job;
use crate::outputs::{JournalLock, Outputs};
use crate::progress;
use crate::report::{self, Prior};

/// What the later stages start from.
pub struct Prepared<J: Job> {
    pub data: Collected<J::Item>,
    /// What a `--resume` report says was done.
    pub prior: Option<Prior>,
    /// Held until the run ends: one run per journal. None in a dry run.
    pub lock: Option<JournalLock>,
    /// Held until the run ends: one run per input file. None in a dry run
    /// and for standard input.
    pub input_lock: Option<crate::nightly::InputLock>,
    pub journal_path: PathBuf,
    /// The report's columns.
    pub header: Vec<String>,
    /// When the run began.
    pub started: Instant,
}

/// The input, read and checked, and the `--resume` report, read whole,
/// side by side. The report is read before anything is written (it may be
/// the very journal this run is about to replace), and beside the input (a
/// nightly resume reads a report as large as the input); its error first.
fn read_input_and_prior<J: Job>(
    job: &J,
    cfg: &Config,
    stop: &AtomicBool,
    started: Instant,
) -> (Result<Option<Prior>>, Result<Collected<J::Item>>) {
    // Both in rayon's pool: the earlier report's lines are made rows in
    // parallel batches, and a worker that waits for its batch helps with
    // it rather than sleeping behind the input's checks.
    let (prior, data) = rayon::join(
        || {
            cfg.resume.as_ref().map(|p| {
                let prior = report::read_prior(p, job.identity());
                log::debug!(
                    "read the earlier report {} in {:.3} s",
                    p.display(),
                    started.elapsed().as_secs_f64()
                );
                prior
            })
        },
        || read_and_check(job, cfg, stop),
    );
    (prior.transpose(), data)
}

pub fn prepare<J: Job>(job: &J, cfg: &Config, stop: &AtomicBool) -> Result<Prepared<J>> {
    let started = Instant::now();
    let journal_path = report::journal_path(&cfg.report);
    let replacing = crate::outputs::check(&Outputs {
        input: match &cfg.source {
            input::Source::Path(p) => Some(p),
            input::Source::Stdin => None,
        },
        report: &cfg.report,
        report_label: if cfg.report_given {
            "--report"
        } else {
            "the report"
        },
        summary_json: cfg.summary_json.as_deref(),
        resume: cfg.resume.as_deref(),
        overwrite: cfg.overwrite,
        idempotent: job.idempotent(),
        identity: job.identity(),
        dry_run: cfg.dry_run,
    })?;
    let lock = if cfg.dry_run {
        None
    } else {
        let lock = JournalLock::take(&journal_path)?;
        if lock.existed {
            refuse_foreign_journal(cfg, &journal_path)?;
        }
        Some(lock)
    };
    // One run per input file, whatever its report is called (a dated
    // report name must not let two nights overlap).
    let input_lock = match (&cfg.source, cfg.dry_run) {
        (input::Source::Path(p), false) => Some(crate::nightly::InputLock::take(p)?),
        _ => None,
    };
    let (prior, data) = read_input_and_prior(job, cfg, stop, started);
    let (prior, data) = (prior?, data?);
    if replacing {
        // Only now: a run refused before this point replaces nothing.
        log::warn!(
            "replacing the existing report {} (pass --overwrite to say so and silence this)",
            cfg.report.display()
        );
    }
    log::debug!(
        "read and checked {} rows in {:.3} s",
        data.rows(),
        started.elapsed().as_secs_f64()
    );
    Ok(Prepared {
        data,
        prior,
        lock,
        input_lock,
        journal_path,
        header: report::columns_of(job.identity()),
        started,
    })
}

/// Reads the whole input and checks every row.
fn read_and_check<J: Job>(job: &J, cfg: &Config, stop: &AtomicBool) -> Result<Collected<J::Item>> {
    let reading = progress::bar(cfg.progress, None, "checking");
    let mut collector = Collector::new(job, cfg.ignore_unknown_columns, cfg.org.as_deref());
    let mut counted = ProgressSink(&mut collector, &reading);
    // A column map (--map, --from) turns the input's columns into ours as
    // rows are read: every later stage sees our columns only.
    let (stats, unused) = match &cfg.map {
        Some(map) => {
            let mut mapped = crate::map::Mapped::new(counted, map, job.schema());
            let stats = input::read(&cfg.source, &cfg.input, &mut mapped, stop)?;
            (stats, mapped.unused())
        }
        None => (
            input::read(&cfg.source, &cfg.input, &mut counted, stop)?,
            Vec::new(),
        ),
    };
    reading.finish_and_clear();
    let mut data = collector.finish();
    for col in &data.ignored_columns {
        log::warn!("ignoring unknown column \"{col}\" (--ignore-unknown-columns)");
    }
    for col in &unused {
        log::info!("the input's column \"{col}\" is not used by the column map");
    }
    data.ignored_columns.extend(unused);
    if stats.data_rows == 0 {
        log::warn!("the input has a header but no data rows: nothing to do");
    }
    Ok(data)
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
    fn origins(&mut self, origins: &[Option<String>]) {
        self.0.origins(origins)
    }
}
