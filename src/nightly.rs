//! Runs that build on each other, from cron: `--history DIR` names each
//! run's report by its UTC date and time and resumes from the newest one
//! (or from an unfinished journal) there; and one run per input file, by
//! an OS lock that a second run on the same input meets (exit 2) whatever
//! its report is called.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::input::Source;
use crate::job::Identity;

/// For `--history DIR`: this run's report, what it resumes from (the
/// newest report or unfinished journal of this job and input in DIR), and
/// that journal when it is one (removed once this run's report is
/// written: it holds it all).
pub fn paths(
    dir: &Path,
    source: &Source,
    identity: &Identity,
) -> Result<(PathBuf, Option<PathBuf>, Option<PathBuf>)> {
    let Source::Path(input) = source else {
        bail!("--history needs an input file (its name names the reports), not standard input");
    };
    if !dir.is_dir() {
        bail!(
            "--history {}: the folder does not exist; create it first",
            dir.display()
        );
    }
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into());
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let report = dir.join(format!("{stem}.{now}.report.csv"));
    let latest = latest(dir, &stem, identity)?;
    let journal = latest
        .as_ref()
        .filter(|p| crate::input::extension(p) == "partial")
        .cloned();
    Ok((report, latest, journal))
}

/// The newest report or journal of this job for `stem` in `dir`, by the
/// date and time in its name.
fn latest(dir: &Path, stem: &str, identity: &Identity) -> Result<Option<PathBuf>> {
    let prefix = format!("{stem}.");
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        // <stem>.<YYYYMMDDTHHMMSSZ>.report.csv[.partial]
        let (stamp, tail) = rest.split_at(rest.find('.').unwrap_or(rest.len()));
        let ours = matches!(tail, ".report.csv" | ".report.csv.partial")
            && stamp.len() == 16
            && stamp.ends_with('Z');
        if ours && is_this_jobs(&path, identity) {
            // A journal sorts after the report of the same run.
            found.push((format!("{stamp}{tail}"), path));
        }
    }
    found.sort();
    Ok(found.pop().map(|(_, p)| p))
}

/// Whether a report's header is this job's (another job's report of the
/// same input may share the folder).
fn is_this_jobs(path: &Path, identity: &Identity) -> bool {
    let Ok(mut r) = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
    else {
        return false;
    };
    let Some(Ok(header)) = r.records().next() else {
        // An empty journal: a run that had just begun.
        return true;
    };
    let header: Vec<&str> = header.iter().collect();
    let keys = |cols: &[&str]| header.get(2..2 + cols.len()) == Some(cols);
    header.starts_with(&["row", "org"]) && (keys(identity.columns) || keys(identity.legacy_columns))
}

/// An exclusive OS lock on the input, held for the whole run: a second
/// real run on the same input exits 2 while the first runs, whatever its
/// report is called. Released by the OS if the process dies.
pub struct InputLock {
    _file: File,
}

impl InputLock {
    /// Locks the input at `path`, by a lock file in the system's temporary
    /// folder named after its canonical path.
    pub fn take(path: &Path) -> Result<InputLock> {
        use sha2::{Digest, Sha256};
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let hash = Sha256::digest(canonical.to_string_lossy().as_bytes());
        let name = format!("pam360-bulk-{}.lock", &hex::encode(hash)[..32]);
        let lock = std::env::temp_dir().join(name);
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts
            .open(&lock)
            .with_context(|| format!("cannot open the input's lock file {}", lock.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(InputLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "{} is locked by another run of pam360-bulk on the same input; wait for it to end (or stop it), then run again",
                path.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                bail!("cannot lock the input {}: {e}", path.display())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_report_or_journal_of_this_job_is_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let identity = crate::job::Job::identity(&crate::accounts::Accounts);
        let header = crate::report::columns_of(identity).join(",") + "\n";
        for name in [
            "in.20261201T020000Z.report.csv",
            "in.20261202T020000Z.report.csv",
            "in.20261203T020000Z.report.csv.partial",
            "other.20261209T020000Z.report.csv",
        ] {
            std::fs::write(dir.path().join(name), &header).unwrap();
        }
        // Another job's report of the same input is not this job's.
        std::fs::write(
            dir.path().join("in.20261204T020000Z.report.csv"),
            "row,org,account_id,resource_name\n",
        )
        .unwrap();
        let src = Source::Path(dir.path().join("in.csv"));
        let (report, resume, journal) = paths(dir.path(), &src, identity).unwrap();
        assert!(report.to_string_lossy().ends_with(".report.csv"));
        let resume = resume.unwrap();
        assert!(resume.ends_with("in.20261203T020000Z.report.csv.partial"));
        assert_eq!(journal, Some(resume));
        assert!(paths(&dir.path().join("none"), &src, identity).is_err());
    }
}
