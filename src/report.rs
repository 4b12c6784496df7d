//! The reconciliation report: one row per input row in input order, its
//! journal (`<report>.partial`, written as answers arrive), and reading a
//! report or journal back for `--resume`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, anyhow, bail};

use crate::outcome::{Outcome, RowResult};

/// One line of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    pub row: u64,
    pub org: String,
    /// The job's identity cells (see `Job::key_columns`).
    pub key: Vec<String>,
    pub result: RowResult,
}

/// One line of the report, borrowed: the final report of a million rows is
/// written through views, without building a row of owned strings each.
#[derive(Debug, Clone, Copy)]
pub struct RowView<'a> {
    pub row: u64,
    pub org: &'a str,
    pub key: &'a [String],
    pub outcome: Outcome,
    pub status: &'a str,
    pub http_status: Option<u16>,
    pub attempts: u32,
    pub message: &'a str,
}

impl ReportRow {
    pub fn view(&self) -> RowView<'_> {
        RowView {
            row: self.row,
            org: &self.org,
            key: &self.key,
            outcome: self.result.outcome,
            status: &self.result.status,
            http_status: self.result.http_status,
            attempts: self.result.attempts,
            message: &self.result.message,
        }
    }
}

/// Receives report rows one by one.
pub type Emit<'e> = dyn FnMut(&RowView<'_>) -> Result<()> + 'e;

/// The rows of a final report, by position, so a large CSV report can be
/// formatted in parallel.
pub trait ReportRows: Sync {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Calls `emit` with row `i`, whose key cells are written into `key`.
    fn row(&self, i: usize, key: &mut Vec<String>, emit: &mut Emit<'_>) -> Result<()>;
}

/// Rows formatted together by one thread.
const CHUNK_ROWS: usize = 16_384;

/// Report file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Csv,
    Jsonl,
    Xlsx,
}

impl ReportFormat {
    pub fn from_path(path: &Path) -> Result<ReportFormat> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        match ext.as_str() {
            "csv" | "partial" => Ok(ReportFormat::Csv),
            "jsonl" => Ok(ReportFormat::Jsonl),
            "xlsx" => Ok(ReportFormat::Xlsx),
            _ => bail!(
                "cannot tell the report format of {}: name it .csv, .jsonl or .xlsx",
                path.display()
            ),
        }
    }
}

/// The report's column names for a job's key columns.
pub fn columns(key_columns: &[&str]) -> Vec<String> {
    let mut cols = vec!["row".to_string(), "org".to_string()];
    cols.extend(key_columns.iter().map(|s| s.to_string()));
    cols.extend(
        ["outcome", "status", "http_status", "attempts", "message"]
            .iter()
            .map(|s| s.to_string()),
    );
    cols
}

/// A cell a spreadsheet would run as a formula gets a leading `'`.
pub fn guard(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Undoes [`guard`].
pub fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest)
            if matches!(
                rest.as_bytes().first(),
                Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
            ) =>
        {
            rest
        }
        _ => cell,
    }
}

/// Writes one row as CSV, guarding cells a spreadsheet would run.
fn write_csv_row<W: Write>(w: &mut csv::Writer<W>, v: &RowView<'_>) -> csv::Result<()> {
    let mut num = itoa::Buffer::new();
    w.write_field(num.format(v.row))?;
    w.write_field(guard(v.org).as_ref())?;
    for k in v.key {
        w.write_field(guard(k).as_ref())?;
    }
    w.write_field(v.outcome.as_str())?;
    w.write_field(guard(v.status).as_ref())?;
    match v.http_status {
        Some(h) => w.write_field(num.format(h))?,
        None => w.write_field("")?,
    }
    w.write_field(num.format(v.attempts))?;
    w.write_field(guard(v.message).as_ref())?;
    w.write_record(None::<&[u8]>)
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

/// Writes the final report atomically: into a private temporary file beside
/// it, then renamed over it.
///
/// `summary` (label, value) goes on a second sheet of an XLSX report.
pub fn write(
    path: &Path,
    header: &[String],
    rows: &dyn ReportRows,
    summary: &[(String, String)],
) -> Result<()> {
    let format = ReportFormat::from_path(path)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // tempfile creates files with mode 0600.
    let tmp = tempfile::Builder::new()
        .prefix(".pam360-bulk-report")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write a report in {}", dir.display()))?;
    match format {
        ReportFormat::Csv => write_csv(tmp.as_file(), header, rows)?,
        ReportFormat::Jsonl => {
            let mut w = BufWriter::new(tmp.as_file());
            let mut key = Vec::new();
            for i in 0..rows.len() {
                rows.row(i, &mut key, &mut |v| {
                    let mut obj = serde_json::Map::new();
                    obj.insert("row".into(), v.row.into());
                    obj.insert("org".into(), v.org.into());
                    for (name, value) in header[2..].iter().zip(v.key) {
                        obj.insert(name.clone(), value.as_str().into());
                    }
                    obj.insert("outcome".into(), v.outcome.as_str().into());
                    obj.insert("status".into(), v.status.into());
                    obj.insert("http_status".into(), v.http_status.into());
                    obj.insert("attempts".into(), v.attempts.into());
                    obj.insert("message".into(), v.message.into());
                    serde_json::to_writer(&mut w, &obj)?;
                    w.write_all(b"\n")?;
                    Ok(())
                })?;
            }
            w.flush()?;
        }
        ReportFormat::Xlsx => write_xlsx(tmp.path(), header, rows, summary)?,
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .map_err(|e| anyhow!("cannot write the report {}: {}", path.display(), e.error))?;
    Ok(())
}

/// CSV, formatted in parallel chunks and written in order, a few chunks per
/// thread at a time so memory stays bounded.
fn write_csv(file: &File, header: &[String], rows: &dyn ReportRows) -> Result<()> {
    use rayon::prelude::*;
    let mut out = BufWriter::new(file);
    let mut w = csv::Writer::from_writer(&mut out);
    w.write_record(header)?;
    w.flush()?;
    drop(w);
    let wave = CHUNK_ROWS * rayon::current_num_threads().max(1) * 2;
    for start in (0..rows.len()).step_by(wave) {
        let end = (start + wave).min(rows.len());
        let starts: Vec<usize> = (start..end).step_by(CHUNK_ROWS).collect();
        let chunks: Vec<Result<Vec<u8>>> = starts
            .par_iter()
            .map(|&s| {
                let mut w = csv::Writer::from_writer(Vec::with_capacity(CHUNK_ROWS * 64));
                let mut key = Vec::new();
                for i in s..(s + CHUNK_ROWS).min(end) {
                    rows.row(i, &mut key, &mut |v| Ok(write_csv_row(&mut w, v)?))?;
                }
                w.into_inner()
                    .map_err(|e| anyhow!("cannot format the report: {e}"))
            })
            .collect();
        for chunk in chunks {
            out.write_all(&chunk?)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// XLSX cells are written as text, so they need no formula guard. A sheet
/// holds 1,048,576 rows; a longer report continues on further sheets. Each
/// sheet has a frozen header and a filter; outcomes are coloured (green
/// done, blue planned, amber unconfirmed or not sent, red failed or
/// invalid); a last sheet holds the summary.
fn write_xlsx(
    path: &Path,
    header: &[String],
    rows: &dyn ReportRows,
    summary: &[(String, String)],
) -> Result<()> {
    use rust_xlsxwriter::{Color, Format, Workbook};
    const SHEET_ROWS: usize = 1_048_576;
    let mut wb = Workbook::new();
    let bold = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xDDEBF7));
    let fill = |rgb: u32| Format::new().set_background_color(Color::RGB(rgb));
    let (green, blue, amber, red) = (
        fill(0xC6EFCE),
        fill(0xDDEBF7),
        fill(0xFFEB9C),
        fill(0xFFC7CE),
    );
    let outcome_format = |o: Outcome| match o {
        Outcome::Added | Outcome::Exists | Outcome::Requested | Outcome::Skipped => &green,
        Outcome::Planned => &blue,
        Outcome::Unconfirmed | Outcome::NotSent | Outcome::InFlight => &amber,
        Outcome::Failed | Outcome::Invalid => &red,
    };
    let last_col = (header.len() - 1) as u16;
    let outcome_col = (header.len() - 5) as u16;
    let per_sheet = SHEET_ROWS - 1;
    let sheets = rows.len().div_ceil(per_sheet).max(1);
    let mut key = Vec::new();
    for sheet_no in 0..sheets {
        let first = sheet_no * per_sheet;
        let count = (rows.len() - first.min(rows.len())).min(per_sheet);
        let sheet = wb.add_worksheet_with_constant_memory()?;
        sheet.set_name(if sheet_no == 0 {
            "report".to_string()
        } else {
            format!("report {}", sheet_no + 1)
        })?;
        for (c, h) in header.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, h, &bold)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        sheet.autofilter(0, 0, count as u32, last_col)?;
        for n in 0..count {
            let r = (n + 1) as u32;
            rows.row(first + n, &mut key, &mut |v| {
                let mut num = itoa::Buffer::new();
                let mut col = 0u16;
                let mut cell = |text: &str| -> Result<()> {
                    if col == outcome_col {
                        sheet.write_string_with_format(r, col, text, outcome_format(v.outcome))?;
                    } else if !text.is_empty() {
                        sheet.write_string(r, col, text)?;
                    }
                    col += 1;
                    Ok(())
                };
                cell(num.format(v.row))?;
                cell(v.org)?;
                for k in v.key {
                    cell(k)?;
                }
                cell(v.outcome.as_str())?;
                cell(v.status)?;
                cell(&v.http_status.map(|h| h.to_string()).unwrap_or_default())?;
                cell(num.format(v.attempts))?;
                cell(v.message)?;
                Ok(())
            })?;
        }
    }
    let sheet = wb.add_worksheet();
    sheet.set_name("summary")?;
    for (r, (label, value)) in summary.iter().enumerate() {
        sheet.write_string_with_format(r as u32, 0, label, &bold)?;
        sheet.write_string(r as u32, 1, value)?;
    }
    sheet.set_column_width(0, 22)?;
    sheet.set_column_width(1, 60)?;
    wb.save(path)?;
    Ok(())
}

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
    /// Starts a journal holding `first` (rows done in an earlier run, so a
    /// resume of this journal skips them too). Written aside and renamed into
    /// place, so the `.partial` a resume just read is replaced whole or not
    /// at all.
    pub fn create(path: &Path, header: &[String], first: &[ReportRow]) -> Result<Journal> {
        let mut aside = path.as_os_str().to_owned();
        aside.push(".new");
        let aside = PathBuf::from(aside);
        let _ = std::fs::remove_file(&aside);
        let file = create_private(&aside, true)
            .with_context(|| format!("cannot create the journal {}", aside.display()))?;
        let mut w = csv::Writer::from_writer(file);
        w.write_record(header)?;
        for r in first {
            write_csv_row(&mut w, &r.view())?;
        }
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

/// What an earlier run's report (or journal) says, by row content.
#[derive(Debug, Default)]
pub struct Prior {
    /// Key → rows done (added, exists, requested, skipped) and their outcomes.
    pub done: HashMap<String, Vec<Outcome>>,
    /// Key → how many rows may have reached the server without an answer.
    pub unconfirmed: HashMap<String, u32>,
}

/// The resume key of a row: its org and identity cells.
pub fn resume_key(org: &str, key: &[String], case_insensitive: bool) -> String {
    let mut k = String::with_capacity(64);
    k.push_str(org);
    for cell in key {
        k.push('\u{1f}');
        k.push_str(cell);
    }
    if case_insensitive {
        k.to_lowercase()
    } else {
        k
    }
}

/// Reads a report or journal. A torn last line (a killed run) is ignored;
/// rows journaled in flight and never answered count as unconfirmed.
pub fn read_prior(path: &Path, key_columns: &[&str], case_insensitive: bool) -> Result<Prior> {
    let rows = read_rows(path, key_columns)
        .with_context(|| format!("cannot read the --resume report {}", path.display()))?;
    // A journal may hold a row twice (in flight, then answered): the last wins.
    let mut last: HashMap<u64, (String, Outcome)> = HashMap::new();
    let mut order: Vec<u64> = Vec::new();
    for (row, key, outcome) in rows {
        if last.insert(row, (key, outcome)).is_none() {
            order.push(row);
        }
    }
    let mut prior = Prior::default();
    for row in order {
        let (key, outcome) = &last[&row];
        let key = if case_insensitive {
            key.to_lowercase()
        } else {
            key.clone()
        };
        if outcome.is_done() {
            prior.done.entry(key).or_default().push(*outcome);
        } else if matches!(outcome, Outcome::Unconfirmed | Outcome::InFlight) {
            *prior.unconfirmed.entry(key).or_default() += 1;
        }
    }
    Ok(prior)
}

/// (row, resume key, outcome) of every readable line.
fn read_rows(path: &Path, key_columns: &[&str]) -> Result<Vec<(u64, String, Outcome)>> {
    let want = columns(key_columns);
    let mut out = Vec::new();
    let mut take = |cells: Vec<String>| {
        if cells.len() != want.len() {
            return; // a torn line
        }
        let Ok(row) = cells[0].parse::<u64>() else {
            return;
        };
        let Ok(outcome) = cells[2 + key_columns.len()].parse::<Outcome>() else {
            return;
        };
        let key = resume_key(&cells[1], &cells[2..2 + key_columns.len()], false);
        out.push((row, key, outcome));
    };
    match ReportFormat::from_path(path)? {
        ReportFormat::Csv => {
            let mut r = csv::ReaderBuilder::new().flexible(true).from_path(path)?;
            let header: Vec<String> = r.headers()?.iter().map(str::to_string).collect();
            if header != want {
                bail!(
                    "it is not a report of this job: its columns are {}",
                    header.join(",")
                );
            }
            for rec in r.records() {
                // A torn last line may fail to parse at all.
                let Ok(rec) = rec else { break };
                take(rec.iter().map(|c| unguard(c).to_string()).collect());
            }
        }
        ReportFormat::Jsonl => {
            let text = std::fs::read_to_string(path)?;
            for line in text.lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                let cell = |name: &str| match v.get(name) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(serde_json::Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                take(want.iter().map(|c| cell(c)).collect());
            }
        }
        ReportFormat::Xlsx => {
            use calamine::{Reader, Xlsx, open_workbook};
            let mut wb: Xlsx<_> = open_workbook(path)?;
            for name in wb.sheet_names() {
                let range = wb.worksheet_range(&name)?;
                for row in range.rows().skip(1) {
                    take(row.iter().map(|c| c.to_string()).collect());
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_formulas_and_strips_them_back() {
        for s in ["=1+1", "+x", "-x", "@x", "\tx", "\rx"] {
            assert_eq!(unguard(&guard(s)), s);
            assert!(guard(s).starts_with('\''));
        }
        assert_eq!(guard("plain"), "plain");
        assert_eq!(unguard("'plain"), "'plain");
    }

    #[test]
    fn torn_journal_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.csv.partial");
        std::fs::write(
            &p,
            "row,org,resource_id,account_name,outcome,status,http_status,attempts,message\n\
             2,,901,root,added,ok,200,1,\n3,,901,Admin,in_flight,,,0,\n4,,901,web,add",
        )
        .unwrap();
        let prior = read_prior(&p, &["resource_id", "account_name"], true).unwrap();
        assert_eq!(prior.done.len(), 1);
        assert!(
            prior
                .done
                .contains_key(&resume_key("", &["901".into(), "root".into()], true))
        );
        assert_eq!(prior.unconfirmed.values().sum::<u32>(), 1);
    }
}
