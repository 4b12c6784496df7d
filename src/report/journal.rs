//! The journal of a run, `<report>.partial`: CSV lines in completion order,
//! synced as answers arrive, so a killed run can be resumed from it.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};

use super::{ReportRow, write_csv_row};

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
    /// Starts a journal holding what `first` writes (rows done in an earlier
    /// run, so a resume of this journal skips them too). Written aside and renamed into
    /// place, so the `.partial` a resume just read is replaced whole or not
    /// at all.
    pub fn create(
        path: &Path,
        header: &[String],
        first: impl FnOnce(&mut csv::Writer<File>) -> csv::Result<()>,
    ) -> Result<Journal> {
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
        let mut w = csv::Writer::from_writer(file);
        w.write_record(header)?;
        first(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        std::fs::rename(&aside, path)
            .with_context(|| format!("cannot create the journal {}", path.display()))?;
        Ok(Journal {
            path: path.to_path_buf(),
            writer: Mutex::new(w),
        })
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

    /// Hands the journal to a thread of its own that writes what it is sent
    /// in group commits: whatever arrived meanwhile is written and synced
    /// together, so workers never queue behind each other's `fdatasync`.
    pub fn spawn(self) -> (JournalHandle, std::thread::JoinHandle<Result<Journal>>) {
        let (tx, rx) = std::sync::mpsc::channel::<JournalMsg>();
        let thread = std::thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                batch.extend(rx.try_iter());
                let rows: Vec<ReportRow> = batch
                    .iter_mut()
                    .flat_map(|m| std::mem::take(&mut m.rows))
                    .collect();
                let written = self.append(&rows);
                for m in batch {
                    if let Some(done) = m.done {
                        let _ = done.send(written.is_ok());
                    }
                }
                written?;
            }
            Ok(self)
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

/// Sends rows to a journal thread (see [`Journal::spawn`]).
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
