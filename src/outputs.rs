//! Before anything is read or sent: every output path is checked, so that a
//! run never destroys its input, never fails to write its report after it
//! sent, and never shares its journal with another run.
//!
//! - `--report`, its `.partial` and `--summary-json` are not the input, nor
//!   each other, nor a folder, and their folder exists and is writable.
//! - A report that exists is replaced only when this run resumes from it,
//!   or with `--overwrite`, or for a job that is safe to repeat (with a
//!   warning). A password request is not: a second run into the same report
//!   would raise every request again.
//! - The journal is locked for the whole run ([`JournalLock`]).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::report;

/// What the checks need to know of the run.
pub struct Outputs<'a> {
    pub input: Option<&'a Path>,
    pub report: &'a Path,
    /// How messages name the report: `--report` when the user gave it.
    pub report_label: &'a str,
    pub summary_json: Option<&'a Path>,
    pub resume: Option<&'a Path>,
    pub overwrite: bool,
    /// Whether sending a row twice does no harm (add-accounts).
    pub idempotent: bool,
    pub identity: &'a crate::job::Identity,
    /// No journal in a dry run.
    pub dry_run: bool,
}

/// The absolute form of a path that may not exist yet: its folder made
/// canonical, its name kept.
fn absolute(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = std::fs::canonicalize(p) {
        return Some(c);
    }
    let dir = folder(p);
    Some(std::fs::canonicalize(dir).ok()?.join(p.file_name()?))
}

fn folder(p: &Path) -> &Path {
    p.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Checks one output path: a file name in a folder that exists and can be
/// written to.
fn writable(p: &Path, what: &str) -> Result<()> {
    if p.is_dir() {
        bail!("{what} {} is a folder; name a file", p.display());
    }
    let dir = folder(p);
    if !dir.is_dir() {
        bail!(
            "{what} {}: the folder {} does not exist",
            p.display(),
            dir.display()
        );
    }
    if let Err(e) = tempfile::tempfile_in(dir) {
        bail!(
            "{what} {}: cannot write in the folder {} ({e})",
            p.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Refuses unsafe or unwritable outputs (exit 2). `Ok(true)` when an
/// existing report is to be replaced with a warning, which the caller gives
/// once nothing else can refuse the run.
pub fn check(o: &Outputs<'_>) -> Result<bool> {
    let journal = report::journal_path(o.report);
    let mut named: Vec<(&str, &Path)> = vec![(o.report_label, o.report)];
    if !o.dry_run {
        named.push(("the journal", &journal));
    }
    if let Some(s) = o.summary_json {
        named.push(("--summary-json", s));
    }
    for (what, p) in &named {
        writable(p, what)?;
    }
    let input = o.input.and_then(absolute);
    for (i, (what, p)) in named.iter().enumerate() {
        let abs = absolute(p);
        if abs.is_some() && abs == input {
            bail!(
                "{what} {} is the input file: writing it would destroy the input; name another file",
                p.display()
            );
        }
        for (other, q) in &named[..i] {
            if abs.is_some() && abs == absolute(q) {
                bail!(
                    "{what} and {other} are the same file ({}); name different files",
                    p.display()
                );
            }
        }
    }
    if o.report.exists() && !o.overwrite && !resumes_from(o) {
        if o.idempotent {
            return Ok(true);
        } else {
            match report::reached_server(o.report, o.identity) {
                Ok(false) => {}
                Ok(true) => bail!(
                    "{} already holds password requests that reached the server; running again into it would raise them again. Resume it with --resume {} (requests it shows done are not raised again), name another report with --report FILE, or pass --overwrite",
                    o.report.display(),
                    o.report.display()
                ),
                Err(e) => bail!(
                    "{} exists and is not a report this run can replace ({e:#}); name another report with --report FILE, or pass --overwrite",
                    o.report.display()
                ),
            }
        }
    }
    Ok(false)
}

/// Writes `bytes` to `path` by replacing it: into a private temporary file
/// in its folder, synced, then renamed over it. A symlink at `path` is
/// replaced, never followed, and a reader never sees half a file.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut tmp = tempfile::Builder::new()
        .prefix(".pam360-bulk")
        .tempfile_in(folder(path))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Whether `--resume` names the report or its journal.
fn resumes_from(o: &Outputs<'_>) -> bool {
    let Some(r) = o.resume.and_then(absolute) else {
        return false;
    };
    Some(&r) == absolute(o.report).as_ref()
        || Some(&r) == absolute(&report::journal_path(o.report)).as_ref()
}

/// An exclusive OS lock on a run's journal (`<report>.partial`), held for
/// the whole run and released by the OS if the process dies: a second run
/// on the same report stops (exit 2) while the first runs.
///
/// Taking it creates an empty journal when there was none; a run that ends
/// before it wrote one removes that empty file again.
pub struct JournalLock {
    file: File,
    path: PathBuf,
    /// Whether a journal of an earlier run was there.
    pub existed: bool,
}

impl JournalLock {
    pub fn take(path: &Path) -> Result<JournalLock> {
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts
            .open(path)
            .map_err(|e| anyhow::anyhow!("cannot open the journal {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "another run is writing this report: its journal {} is locked. Wait for that run to end (or stop it), then run again",
                path.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                bail!("cannot lock the journal {}: {e}", path.display())
            }
        }
        let existed = file.metadata().map(|m| m.len() > 0).unwrap_or(true);
        Ok(JournalLock {
            file,
            path: path.to_path_buf(),
            existed,
        })
    }
}

impl Drop for JournalLock {
    fn drop(&mut self) {
        // Our own empty placeholder goes; a journal with content stays.
        let empty = std::fs::metadata(&self.path).is_ok_and(|m| m.len() == 0);
        let ours = self.file.metadata().is_ok_and(|m| m.len() == 0);
        if empty && ours && !self.existed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
