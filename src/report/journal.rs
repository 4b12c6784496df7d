//! The journal of a run, `<report>.partial`: CSV lines in completion order,
//! synced as answers arrive, so a killed run can be resumed from it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

use super::{Prewritten, ReportRow, write_csv_row};

/// `<report>.partial`.
pub fn journal_path(report: &Path) -> PathBuf {
    let mut s = report.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// The journal of a run: CSV lines in completion order, flushed and synced
/// after every answered request so a killed run loses nothing it was told.
pub struct Journal {
    path: PathBuf,
    writer: Mutex<csv::Writer<File>>,
}

impl Journal {
    /// Starts a journal that first holds what `carried` gives (rows done in
    /// an earlier run, formatted as CSV lines while the first requests go,
    /// so a resume of this journal skips them too), on a thread of its own
    /// that then writes what it is sent (see `Journal::spawn_after`).
    ///
    /// The file is created and locked here, so a path that cannot be
    /// written fails before anything is sent. It is written aside and
    /// renamed into place once `carried` is on disk, so the `.partial` a
    /// resume just read is replaced whole or not at all. Meanwhile
    /// requests may go: their lines queue behind `carried`, and a line
    /// that must be durable before its request goes (a password request,
    /// a create) waits until the journal is in place. A run killed before
    /// the rename leaves the earlier journal or report as it was, so at
    /// most the accounts sent meanwhile, which are safe to send again, are
    /// sent again.
    pub fn start(
        path: &Path,
        header: &[String],
        carried: std::sync::mpsc::Receiver<Result<Arc<Prewritten>>>,
    ) -> Result<(JournalHandle, std::thread::JoinHandle<Result<Journal>>)> {
        let mut aside = path.as_os_str().to_owned();
        aside.push(".new");
        let aside = PathBuf::from(aside);
        let _ = std::fs::remove_file(&aside);
        let file = create_private(&aside, true)
            .with_context(|| format!("cannot create the journal {}", aside.display()))?;
        // Locked before it takes the journal's name: a second run that opens
        // the journal finds it locked (see `outputs::JournalLock`).
        file.lock()
            .with_context(|| format!("cannot lock the journal {}", aside.display()))?;
        let mut head = csv::Writer::from_writer(Vec::new());
        head.write_record(header)?;
        let head = head
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot format the journal: {e}"))?;
        (&file)
            .write_all(&head)
            .with_context(|| format!("cannot write the journal {}", aside.display()))?;
        let path = path.to_path_buf();
        let place = move || -> Result<Journal> {
            let mut file = file;
            let carried = carried
                .recv()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the settled rows were not formatted")))?;
            for lines in carried.journal_lines() {
                file.write_all(lines)?;
            }
            drop(carried);
            file.sync_all()?;
            std::fs::rename(&aside, &path)
                .with_context(|| format!("cannot create the journal {}", path.display()))?;
            Ok(Journal {
                path,
                writer: Mutex::new(csv::Writer::from_writer(file)),
            })
        };
        Ok(Journal::spawn_after(place))
    }

    /// Appends rows and makes them durable.
    pub fn append(&self, rows: &[ReportRow]) -> Result<()> {
        let mut w = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for r in rows {
            write_csv_row(&mut w, &r.view())?;
        }
        w.flush()?;
        w.get_ref().sync_data()?;
        Ok(())
    }

    /// A thread that makes the journal with `make`, then writes what it is
    /// sent in group commits: whatever arrived meanwhile is written and
    /// synced together, so workers never queue behind each other's
    /// `fdatasync`. If `make` fails, every line sent is refused.
    fn spawn_after(
        make: impl FnOnce() -> Result<Journal> + Send + 'static,
    ) -> (JournalHandle, std::thread::JoinHandle<Result<Journal>>) {
        let (tx, rx) = std::sync::mpsc::channel::<JournalMsg>();
        let thread = std::thread::spawn(move || {
            let journal = make()?;
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                batch.extend(rx.try_iter());
                let rows: Vec<ReportRow> = batch
                    .iter_mut()
                    .flat_map(|m| std::mem::take(&mut m.rows))
                    .collect();
                let written = journal.append(&rows);
                for m in batch {
                    if let Some(done) = m.done {
                        let _ = done.send(written.is_ok());
                    }
                }
                written?;
            }
            Ok(journal)
        });
        (JournalHandle { tx }, thread)
    }

    /// The run is over and its report written: the journal goes.
    pub fn remove(self) -> Result<()> {
        drop(self.writer);
        std::fs::remove_file(&self.path)
            .with_context(|| format!("cannot remove the journal {}", self.path.display()))
    }
}

struct JournalMsg {
    rows: Vec<ReportRow>,
    /// Told whether the rows are durable, for a caller that waits.
    done: Option<std::sync::mpsc::SyncSender<bool>>,
}

/// Sends rows to a journal thread (see [`Journal::start`]).
#[derive(Clone)]
pub struct JournalHandle {
    tx: std::sync::mpsc::Sender<JournalMsg>,
}

impl JournalHandle {
    /// Queues rows; they are synced with the next group. False when the
    /// journal can no longer be written.
    pub fn append(&self, rows: Vec<ReportRow>) -> bool {
        self.tx.send(JournalMsg { rows, done: None }).is_ok()
    }

    /// Queues rows and waits until they are on disk.
    pub fn append_durable(&self, rows: Vec<ReportRow>) -> bool {
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        self.tx
            .send(JournalMsg {
                rows,
                done: Some(done),
            })
            .is_ok()
            && wait.recv().unwrap_or(false)
    }
}

/// Creates a file only its owner can read: reports name accounts.
fn create_private(path: &Path, exclusive: bool) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true);
    if exclusive {
        opts.create_new(true);
    } else {
        opts.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Outcome, RowResult};

    fn line(row: u64, outcome: Outcome) -> ReportRow {
        ReportRow {
            row,
            org: String::new(),
            key: vec!["901".into(), format!("svc{row}")],
            result: RowResult::new(outcome, ""),
            extra: Vec::new(),
        }
    }

    /// The rows carried from an earlier run may arrive after the first
    /// lines are sent: a line that must be on disk before its request goes
    /// is on disk only after them, in the journal's own name.
    #[test]
    fn a_durable_line_waits_for_the_carried_rows_and_the_journal_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv.partial");
        let header: Vec<String> = ["row", "org", "resource_id", "account_name"]
            .map(String::from)
            .to_vec();
        let (carry, carried) = std::sync::mpsc::sync_channel(1);
        let (journal, thread) = Journal::start(&path, &header, carried).unwrap();
        assert!(!path.exists(), "not in place before the carried rows");
        assert!(journal.append(vec![line(7, Outcome::InFlight)]), "queued");
        let late = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            carry
                .send(Ok(Arc::new(Prewritten::journal_line(
                    b"2,,901,svc2,skipped\n",
                ))))
                .unwrap();
        });
        assert!(journal.append_durable(vec![line(8, Outcome::InFlight)]));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "row,org,resource_id,account_name");
        assert_eq!(lines[1], "2,,901,svc2,skipped", "carried rows first");
        assert!(lines[2].starts_with("7,,901,svc7,in_flight"), "{text}");
        assert!(lines[3].starts_with("8,,901,svc8,in_flight"), "{text}");
        late.join().unwrap();
        drop(journal);
        thread.join().unwrap().unwrap().remove().unwrap();
        assert!(!path.exists());
    }

    /// If the carried rows never come, nothing that must be durable is
    /// told it is.
    #[test]
    fn without_its_carried_rows_the_journal_refuses_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv.partial");
        let (carry, carried) = std::sync::mpsc::sync_channel::<Result<Arc<Prewritten>>>(1);
        let (journal, thread) = Journal::start(&path, &["row".to_string()], carried).unwrap();
        drop(carry);
        assert!(!journal.append_durable(vec![line(3, Outcome::InFlight)]));
        assert!(thread.join().unwrap().is_err());
        assert!(!path.exists(), "never put in place");
    }
}
