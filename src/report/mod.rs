//! The reconciliation report: one row per input row in input order, in
//! CSV, JSONL or XLSX. Its journal (`<report>.partial`, written as answers
//! arrive) is in `journal`; reading a report back for `--resume` is in
//! `resume`.

mod history;
mod journal;
mod prewritten;
mod resume;

pub use history::{History, today};
pub use journal::{Journal, JournalHandle, journal_path};
pub use prewritten::{Ahead, Prewritten};
pub use resume::{
    Done, Prior, Rows, each_match_key, match_keys, reached_server, read_prior, way_of,
};

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

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
    /// The cells after `message` (see `Identity::extra`).
    pub extra: Vec<String>,
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
    pub extra: &'a [String],
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
            extra: &self.extra,
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
    /// A number that changes whenever row `i`'s result does (see
    /// [`Prewritten`]).
    fn stamp(&self, _i: usize) -> u32 {
        0
    }
    /// The lines of rows `i..` formatted ahead of time that still hold (see
    /// [`Prewritten`]), as one run before `end`, and how many rows they
    /// are; `None` when row `i`'s does not.
    fn ready_lines(&self, _i: usize, _end: usize) -> Option<(&[u8], usize)> {
        None
    }
}

/// Rows formatted together by one thread.
pub(crate) const CHUNK_ROWS: usize = 8_192;

/// Report file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Csv,
    Jsonl,
    Xlsx,
}

impl ReportFormat {
    pub fn from_path(path: &Path) -> Result<ReportFormat> {
        match crate::input::extension(path).as_str() {
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

/// The report's column names for a job's key columns and the columns
/// after `message`.
pub fn columns(key_columns: &[&str], extra: &[&str]) -> Vec<String> {
    let mut cols = vec!["row".to_string(), "org".to_string()];
    cols.extend(key_columns.iter().map(|s| s.to_string()));
    cols.extend(
        ["outcome", "status", "http_status", "attempts", "message"]
            .iter()
            .map(|s| s.to_string()),
    );
    cols.extend(extra.iter().map(|s| s.to_string()));
    cols
}

/// A job's report columns.
pub fn columns_of(identity: &crate::job::Identity) -> Vec<String> {
    columns(identity.columns, identity.extra)
}

/// A cell a spreadsheet would run as a formula gets a leading `'`.
///
/// Control characters other than tab and line breaks (a NUL in a damaged
/// name) are shown as U+FFFD: written raw they break the tools that read
/// the report.
#[inline]
pub fn guard(cell: &str) -> std::borrow::Cow<'_, str> {
    // Every text cell of a million-row report passes here, and nearly every
    // one is plain: decided inline, in one short pass, without building a
    // `Cow` from a call.
    let formula = matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    );
    // No early exit: a loop the compiler can vectorise.
    let control = cell
        .bytes()
        .fold(false, |any, b| any | (b < 0x20) | (b == 0x7f));
    if !formula && !control {
        std::borrow::Cow::Borrowed(cell)
    } else {
        guarded(cell)
    }
}

/// [`guard`] for a cell that needs a change: its control characters
/// replaced, and a `'` before a formula's first character.
#[cold]
fn guarded(cell: &str) -> std::borrow::Cow<'_, str> {
    let odd = |b: u8| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7f;
    let cell: std::borrow::Cow<'_, str> = if cell.bytes().any(odd) {
        cell.chars()
            .map(|c| {
                if c.is_ascii() && odd(c as u8) {
                    '\u{fffd}'
                } else {
                    c
                }
            })
            .collect::<String>()
            .into()
    } else {
        cell.into()
    };
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell,
    }
}

/// A whole number as a spreadsheet can hold it exactly: digits only, no
/// leading zero (an id `0012` stays text), at most 15 digits.
fn plain_number(text: &str) -> Option<f64> {
    let ok = !text.is_empty()
        && text.len() <= 15
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    ok.then(|| text.parse().ok()).flatten()
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
pub(crate) fn write_csv_row<W: Write>(w: &mut csv::Writer<W>, v: &RowView<'_>) -> csv::Result<()> {
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
    for e in v.extra {
        w.write_field(guard(e).as_ref())?;
    }
    w.write_record(None::<&[u8]>)
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
                    let extras = header.len() - v.extra.len();
                    for (name, value) in header[extras..].iter().zip(v.extra) {
                        obj.insert(name.clone(), value.as_str().into());
                    }
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

/// Debug builds check every line formatted ahead of time against the line
/// formatted now: a reused line that no longer holds is a bug of ours.
/// The message names the row, never its cells.
fn same_as_formatted(
    rows: &dyn ReportRows,
    range: std::ops::Range<usize>,
    lines: &[u8],
) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for i in range.clone() {
        rows.row(i, &mut Vec::new(), &mut |v| Ok(write_csv_row(&mut w, v)?))?;
    }
    let now = w
        .into_inner()
        .map_err(|e| anyhow!("cannot format the report: {e}"))?;
    assert!(
        now == lines,
        "the lines of report rows {range:?} formatted ahead of time no longer hold"
    );
    Ok(())
}

/// The CSV lines of `rows`, as pieces: runs of lines formatted ahead of
/// time, where they are, and runs of lines formatted here, in a buffer
/// from `spare`.
fn pieces<'r>(
    rows: &'r dyn ReportRows,
    range: std::ops::Range<usize>,
    spare: &std::sync::Mutex<Vec<Vec<u8>>>,
) -> Result<Vec<std::borrow::Cow<'r, [u8]>>> {
    use std::borrow::Cow;
    let mut pieces = Vec::new();
    let mut key = Vec::new();
    let (mut i, e) = (range.start, range.end);
    while i < e {
        if let Some((lines, n)) = rows.ready_lines(i, e) {
            if cfg!(debug_assertions) {
                same_as_formatted(rows, i..i + n, lines)?;
            }
            pieces.push(Cow::Borrowed(lines));
            i += n;
            continue;
        }
        let mut out = spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK_ROWS * 64));
        let mut w = csv::Writer::from_writer(&mut out);
        while i < e && rows.ready_lines(i, i + 1).is_none() {
            rows.row(i, &mut key, &mut |v| Ok(write_csv_row(&mut w, v)?))?;
            i += 1;
        }
        w.flush()?;
        drop(w);
        pieces.push(Cow::Owned(out));
    }
    Ok(pieces)
}

/// CSV, formatted in parallel chunks and written in order, a few chunks per
/// thread at a time so memory stays bounded. A writer thread writes each
/// formatted wave while the next one is formatted, and hands the emptied
/// buffers back to be filled again rather than freed.
fn write_csv(file: &File, header: &[String], rows: &dyn ReportRows) -> Result<()> {
    use rayon::prelude::*;
    use std::borrow::Cow;
    use std::sync::{Mutex, mpsc};

    let mut w = csv::Writer::from_writer(file);
    w.write_record(header)?;
    w.flush()?;
    drop(w);
    let wave = CHUNK_ROWS * rayon::current_num_threads().max(1) * 2;
    let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    // One wave queued behind the one being written: memory stays at about
    // three waves whatever the report's length. A chunk is pieces: runs of
    // lines formatted ahead of time, written from where they are, and
    // runs of lines formatted here.
    let (tx, rx) = mpsc::sync_channel::<Vec<Vec<Cow<'_, [u8]>>>>(1);
    std::thread::scope(|scope| {
        let spare = &spare;
        let writer = scope.spawn(move || -> std::io::Result<()> {
            let mut file = file;
            for chunks in rx {
                for piece in chunks.into_iter().flatten() {
                    file.write_all(&piece)?;
                    if let Cow::Owned(mut buf) = piece {
                        buf.clear();
                        spare.lock().unwrap_or_else(|e| e.into_inner()).push(buf);
                    }
                }
            }
            Ok(())
        });
        let formatted = (|| -> Result<()> {
            for start in (0..rows.len()).step_by(wave) {
                let end = (start + wave).min(rows.len());
                let starts: Vec<usize> = (start..end).step_by(CHUNK_ROWS).collect();
                let chunks = starts
                    .par_iter()
                    .map(|&s| pieces(rows, s..(s + CHUNK_ROWS).min(end), spare))
                    .collect::<Result<Vec<Vec<Cow<'_, [u8]>>>>>()?;
                if tx.send(chunks).is_err() {
                    // The writer stopped on an error; joining it tells which.
                    break;
                }
            }
            Ok(())
        })();
        drop(tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the report writer failed")));
        formatted?;
        Ok(written?)
    })
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
    let fills = OutcomeFills::new();
    let last_col = (header.len() - 1) as u16;
    let outcome_col = header
        .iter()
        .position(|h| h == "outcome")
        .unwrap_or_default() as u16;
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
        let numeric: Vec<bool> = header
            .iter()
            .map(|h| h == "row" || h.ends_with("_id") || h == "http_status" || h == "attempts")
            .collect();
        sheet.autofilter(0, 0, count as u32, last_col)?;
        for n in 0..count {
            let r = (n + 1) as u32;
            rows.row(first + n, &mut key, &mut |v| {
                let mut num = itoa::Buffer::new();
                let mut col = 0u16;
                let mut cell = |text: &str| -> Result<()> {
                    if col == outcome_col {
                        sheet.write_string_with_format(r, col, text, fills.of(v.outcome))?;
                    } else if numeric[usize::from(col)]
                        && let Some(n) = plain_number(text)
                    {
                        // Numbers are numbers: Excel sorts them so and
                        // flags no "number stored as text".
                        sheet.write_number(r, col, n)?;
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
                for e in v.extra {
                    cell(e)?;
                }
                Ok(())
            })?;
        }
    }
    summary_sheet(&mut wb, summary, &bold)?;
    wb.save(path)?;
    Ok(())
}

/// The colours of outcome cells: green done, blue planned, amber
/// unconfirmed or not sent, red failed or invalid.
struct OutcomeFills([rust_xlsxwriter::Format; 4]);

impl OutcomeFills {
    fn new() -> Self {
        use rust_xlsxwriter::{Color, Format};
        let fill = |rgb: u32| Format::new().set_background_color(Color::RGB(rgb));
        OutcomeFills([
            fill(0xC6EFCE),
            fill(0xDDEBF7),
            fill(0xFFEB9C),
            fill(0xFFC7CE),
        ])
    }

    fn of(&self, o: Outcome) -> &rust_xlsxwriter::Format {
        &self.0[match o {
            Outcome::Added
            | Outcome::Updated
            | Outcome::Exists
            | Outcome::Requested
            | Outcome::Skipped => 0,
            Outcome::Planned => 1,
            Outcome::Unconfirmed
            | Outcome::NotSent
            | Outcome::InFlight
            | Outcome::Creating
            | Outcome::Created => 2,
            Outcome::Failed | Outcome::Invalid => 3,
        }]
    }
}

/// The last sheet: the run's summary, a label and a value a line.
fn summary_sheet(
    wb: &mut rust_xlsxwriter::Workbook,
    summary: &[(String, String)],
    bold: &rust_xlsxwriter::Format,
) -> Result<()> {
    let sheet = wb.add_worksheet();
    sheet.set_name("summary")?;
    for (r, (label, value)) in summary.iter().enumerate() {
        sheet.write_string_with_format(r as u32, 0, label, bold)?;
        sheet.write_string(r as u32, 1, value)?;
    }
    sheet.set_column_width(0, 22)?;
    sheet.set_column_width(1, 60)?;
    Ok(())
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
        assert_eq!(guard("a\0b\x1b"), "a\u{fffd}b\u{fffd}");
        assert_eq!(guard("=a\0"), "'=a\u{fffd}");
        // Line breaks and tabs inside a cell stay; so does any other text.
        assert_eq!(guard("a\nb\tc\r"), "a\nb\tc\r");
        assert_eq!(guard("café \u{7f}"), "café \u{fffd}");
        assert!(matches!(guard("Zoë"), std::borrow::Cow::Borrowed("Zoë")));
        assert_eq!(unguard("'plain"), "'plain");
    }
}
