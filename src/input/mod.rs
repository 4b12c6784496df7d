//! Reading input files: CSV/TSV text and workbooks (XLSX, XLS, ODS) become
//! rows of text cells, each with the row number a spreadsheet user sees.
//!
//! Both readers hand rows to a [`RowSink`] in batches whose records are reused
//! from batch to batch, so reading a million rows allocates per batch, not per
//! field. Workbook cells are turned into text here (whole numbers without
//! `.0`, booleans as `true`/`false`, dates as `DD/MM/YYYY HH:mm`), so the row
//! checks see one representation whatever the file format; a cell that cannot
//! be read (an error value, a formula without a cached value) travels with the
//! row as a problem that makes it invalid.

mod text;
mod workbook;
mod zipguard;

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use csv::StringRecord;

/// The most columns a header may have; more is a damaged or hostile file.
pub const MAX_COLUMNS: usize = 1024;
/// The largest cell accepted; a bigger one is a damaged or hostile file.
pub const MAX_CELL_BYTES: usize = 1 << 20;
/// Rows handed to the sink at once.
pub(crate) const BATCH: usize = 4096;

/// Column index used for a problem that concerns the whole row.
pub const WHOLE_ROW: usize = usize::MAX;

/// One data row.
#[derive(Debug, Default, Clone)]
pub struct RawRow {
    /// The row number a spreadsheet shows (the header is row 1 when it is the
    /// first line).
    pub line: u64,
    pub record: StringRecord,
    /// Cells that could not be read: (column index or [`WHOLE_ROW`], why).
    pub problems: Vec<(usize, String)>,
}

impl RawRow {
    /// The raw text of field `idx`, or "" when the record is shorter.
    pub fn field(&self, idx: usize) -> &str {
        self.record.get(idx).unwrap_or("")
    }

    fn reset(&mut self) {
        self.record.clear();
        self.problems.clear();
    }

    fn is_blank(&self) -> bool {
        self.problems.is_empty() && self.record.iter().all(|f| f.trim().is_empty())
    }
}

/// Receives what a reader reads.
pub trait RowSink {
    /// The header row, before any data row.
    fn header(&mut self, names: &[String]) -> Result<()>;
    /// A batch of data rows in input order (blank rows already left out).
    fn rows(&mut self, rows: &[RawRow]) -> Result<()>;
    /// About how many data rows are coming in all (an estimate, to reserve).
    fn size_hint(&mut self, _rows: usize) {}
    /// Where each column of the header came from, when a column map made
    /// it (`from URL`): for messages that name the input's columns too.
    fn origins(&mut self, _origins: &[Option<String>]) {}
    /// Takes a whole batch (its first `len` rows are data) and gives back a
    /// batch to fill next. The reader thread hands batches over this way.
    fn take_batch(&mut self, batch: Vec<RawRow>, len: usize) -> Result<Vec<RawRow>> {
        self.rows(&batch[..len])?;
        Ok(batch)
    }
}

/// What the reader thread hands to the checking side.
enum Msg {
    Header(Vec<String>),
    Hint(usize),
    Rows(Vec<RawRow>, usize),
}

/// The reader thread's end: sends batches, gets emptied ones back.
struct ChannelSink {
    tx: std::sync::mpsc::SyncSender<Msg>,
    back: std::sync::mpsc::Receiver<Vec<RawRow>>,
}

impl RowSink for ChannelSink {
    fn header(&mut self, names: &[String]) -> Result<()> {
        self.tx
            .send(Msg::Header(names.to_vec()))
            .map_err(|_| anyhow::anyhow!("reading stopped"))
    }
    fn rows(&mut self, _rows: &[RawRow]) -> Result<()> {
        unreachable!("the reader hands over whole batches")
    }
    fn size_hint(&mut self, rows: usize) {
        let _ = self.tx.send(Msg::Hint(rows));
    }
    fn take_batch(&mut self, batch: Vec<RawRow>, len: usize) -> Result<Vec<RawRow>> {
        self.tx
            .send(Msg::Rows(batch, len))
            .map_err(|_| anyhow::anyhow!("reading stopped"))?;
        Ok(self.back.try_recv().unwrap_or_default())
    }
}

/// Input file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Tsv,
    Xlsx,
    Xls,
    Ods,
}

impl Format {
    /// The name a person knows the format by.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Tsv => "TSV",
            Format::Xlsx => "XLSX",
            Format::Xls => "XLS",
            Format::Ods => "ODS",
        }
    }

    /// The format a file name implies.
    pub fn from_path(path: &Path) -> Option<Format> {
        Some(match extension(path).as_str() {
            "csv" | "txt" => Format::Csv,
            "tsv" | "tab" => Format::Tsv,
            "xlsx" | "xlsm" => Format::Xlsx,
            "xls" => Format::Xls,
            "ods" => Format::Ods,
            _ => return None,
        })
    }
}

/// A file's extension, lower-cased ("" for none): how every file the tool
/// reads or writes (input, report, template) is told apart.
pub fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

/// Where rows come from.
#[derive(Debug, Clone)]
pub enum Source {
    Path(PathBuf),
    Stdin,
}

/// How to read the input.
#[derive(Debug, Clone, Default)]
pub struct InputOptions {
    pub format: Option<Format>,
    pub sheet: Option<String>,
    /// Text encoding of CSV/TSV input; UTF-8 when `None`.
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// The field separator of CSV input; guessed from the header when `None`.
    pub delimiter: Option<u8>,
}

/// What a read saw, besides the rows themselves.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadStats {
    pub data_rows: u64,
}

/// SIGINT or SIGTERM arrived while the input was read.
#[derive(Debug, thiserror::Error)]
#[error("interrupted while reading the input; nothing was sent")]
pub struct Interrupted;

/// Reads the whole input into `sink`. Parsing runs on a thread of its own,
/// a couple of batches ahead of the checks, so the two overlap. When `stop`
/// is set (a signal) reading ends at once with [`Interrupted`], even if the
/// input stalls (a pipe that never closes): the reader thread is left
/// behind, blocked, and ends with the process.
pub fn read(
    source: &Source,
    opts: &InputOptions,
    sink: &mut dyn RowSink,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<ReadStats> {
    use std::sync::atomic::Ordering;
    use std::sync::mpsc::RecvTimeoutError;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(2);
    let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<RawRow>>();
    let (source, opts) = (source.clone(), opts.clone());
    let reader = std::thread::spawn(move || {
        let mut channel = ChannelSink { tx, back: back_rx };
        read_here(&source, &opts, &mut channel)
    });
    {
        let mut consumed: Result<()> = Ok(());
        loop {
            if stop.load(Ordering::SeqCst) {
                return Err(Interrupted.into());
            }
            let msg = match rx.recv_timeout(std::time::Duration::from_millis(50)) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let step = match msg {
                Msg::Header(names) => sink.header(&names),
                Msg::Hint(rows) => {
                    sink.size_hint(rows);
                    Ok(())
                }
                Msg::Rows(batch, len) => {
                    let r = sink.rows(&batch[..len]);
                    let _ = back_tx.send(batch);
                    r
                }
            };
            if let Err(e) = step {
                consumed = Err(e);
                break;
            }
        }
        // Dropping the receiver stops a reader that is still going.
        drop(rx);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the input reader failed")));
        // The checking side's error (a bad header) explains a stopped reader.
        consumed?;
        read
    }
}

/// Reads the whole input into `sink` on this thread.
fn read_here(source: &Source, opts: &InputOptions, sink: &mut dyn RowSink) -> Result<ReadStats> {
    match source {
        Source::Stdin => {
            let format = opts.format.unwrap_or(Format::Csv);
            if !matches!(format, Format::Csv | Format::Tsv) {
                bail!("standard input is read as CSV or TSV only; save the workbook to a file");
            }
            text::read(
                std::io::stdin().lock(),
                "standard input",
                format,
                opts,
                sink,
            )
        }
        Source::Path(path) => {
            let format = match opts.format.or_else(|| Format::from_path(path)) {
                Some(f) => f,
                None => bail!(
                    "cannot tell the format of {}: name it .csv, .tsv, .xlsx, .xls or .ods, or pass --format",
                    path.display()
                ),
            };
            match format {
                Format::Csv | Format::Tsv => {
                    let file = std::fs::File::open(path)
                        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
                    let name = path.display().to_string();
                    let size = file.metadata().ok().map(|m| m.len());
                    text::read_sized(
                        std::io::BufReader::new(file),
                        &name,
                        format,
                        opts,
                        sink,
                        size,
                    )
                }
                Format::Xlsx | Format::Xls | Format::Ods => {
                    workbook::read(path, format, opts, sink)
                }
            }
        }
    }
}

/// Accumulates rows into a reusable batch and flushes it to the sink.
struct Batcher {
    rows: Vec<RawRow>,
    len: usize,
    stats: ReadStats,
}

impl Batcher {
    fn new() -> Self {
        Batcher {
            rows: Vec::new(),
            len: 0,
            stats: ReadStats::default(),
        }
    }

    /// A cleared row to fill.
    fn next(&mut self) -> &mut RawRow {
        if self.len == self.rows.len() {
            self.rows.push(RawRow::default());
        }
        let row = &mut self.rows[self.len];
        row.reset();
        row
    }

    /// Keeps the row just filled, unless it is blank; flushes a full batch.
    fn commit(&mut self, sink: &mut dyn RowSink) -> Result<()> {
        if self.rows[self.len].is_blank() {
            return Ok(());
        }
        self.stats.data_rows += 1;
        self.len += 1;
        if self.len == BATCH {
            self.flush(sink)?;
        }
        Ok(())
    }

    fn flush(&mut self, sink: &mut dyn RowSink) -> Result<()> {
        if self.len > 0 {
            self.rows = sink.take_batch(std::mem::take(&mut self.rows), self.len)?;
            self.len = 0;
        }
        Ok(())
    }
}
