//! Workbook input through calamine: XLSX streamed cell by cell, XLS and ODS
//! through their used range. Typed cells become the text a user typed.

use std::ops::Range;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use calamine::{DataType, Reader, Xlsx, open_workbook};

use super::{
    Batcher, Format, InputOptions, MAX_CELL_BYTES, MAX_COLUMNS, ReadStats, RowSink, WHOLE_ROW,
};

pub(super) fn read(
    path: &Path,
    format: Format,
    opts: &InputOptions,
    sink: &mut dyn RowSink,
) -> Result<ReadStats> {
    // A damaged workbook must be an error, not a crash, even if a parser
    // panics on it.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_workbook(path, format, opts, sink)
    })) {
        Ok(result) => result,
        Err(_) => bail!(
            "{} could not be read: the workbook is damaged or not of its kind (open and save it again in a spreadsheet program, or export CSV)",
            path.display()
        ),
    }
}

fn read_workbook(
    path: &Path,
    format: Format,
    opts: &InputOptions,
    sink: &mut dyn RowSink,
) -> Result<ReadStats> {
    let shown = path.display();
    if matches!(format, Format::Xlsx | Format::Ods) {
        refuse_ole_container(path, format)?;
        super::zipguard::check(path, &shown.to_string())?;
    }
    if format == Format::Xlsx {
        return read_xlsx(path, opts, sink);
    }
    // The format named (by --format or the extension) decides the reader,
    // never a guess from the name.
    let mut wb: calamine::Sheets<Box<dyn ReadSeek>> = match format {
        Format::Xls => std::fs::File::open(path)
            .map_err(calamine::XlsError::Io)
            .and_then(|f| {
                calamine::Xls::new(Box::new(std::io::BufReader::new(f)) as Box<dyn ReadSeek>)
            })
            .map(calamine::Sheets::Xls)
            .map_err(calamine::Error::Xls),
        _ => ods_source(path)?
            .map_or_else(
                || {
                    std::fs::File::open(path)
                        .map(|f| Box::new(std::io::BufReader::new(f)) as Box<dyn ReadSeek>)
                        .map_err(calamine::OdsError::Io)
                },
                |fixed| Ok(Box::new(std::io::Cursor::new(fixed)) as Box<dyn ReadSeek>),
            )
            .and_then(calamine::Ods::new)
            .map(calamine::Sheets::Ods)
            .map_err(calamine::Error::Ods),
    }
    .map_err(|e| anyhow!("{shown} is not a readable {} workbook: {e}", format.name()))?;
    let sheet = pick_sheet(wb.sheets_metadata(), opts, &shown.to_string())?;
    let range = wb
        .worksheet_range(&sheet)
        .with_context(|| format!("{shown}: cannot read sheet \"{sheet}\""))?;
    let (r0, c0) = range.start().unwrap_or((0, 0));
    let mut rows = RowBuilder::new(&shown.to_string());
    for (i, row) in range.rows().enumerate() {
        for (j, cell) in row.iter().enumerate() {
            rows.cell(r0 + i as u32, c0 + j as u32, Ok(cell), sink)?;
        }
    }
    let others = other_sheets(wb.sheets_metadata(), &sheet);
    rows.finish(sink)
        .map_err(|e| empty_sheet_hint(e, &sheet, &others, opts))
}

/// An XLSX workbook, streamed cell by cell with each cell's formula flag.
fn read_xlsx(path: &Path, opts: &InputOptions, sink: &mut dyn RowSink) -> Result<ReadStats> {
    let shown = path.display();
    let mut wb: Xlsx<_> =
        open_workbook(path).map_err(|e| anyhow!("{shown} is not a readable XLSX workbook: {e}"))?;
    let sheet = pick_sheet(wb.sheets_metadata(), opts, &shown.to_string())?;
    let others = other_sheets(wb.sheets_metadata(), &sheet);
    let mut cells = wb
        .worksheet_cells_reader(&sheet)
        .map_err(|e| anyhow!("{shown}: cannot read sheet \"{sheet}\": {e}"))?;
    let mut rows = RowBuilder::new(&shown.to_string());
    // The metadata form only says whether a cell has a formula; the text
    // of shared formulas is never expanded.
    while let Some(cell) = cells
        .next_cell_with_formula_metadata()
        .map_err(|e| anyhow!("{shown}: sheet \"{sheet}\" is damaged: {e}"))?
    {
        let (r, c) = cell.pos;
        // A formula whose saved value is empty was never calculated by the
        // program that wrote it (a cached 0 cannot be told from a real 0).
        let uncached = cell.value.is_empty() || cell.value.get_string() == Some("");
        let value = if cell.formula.is_some() && uncached {
            Err("the formula in this cell has no saved value; open the file in a spreadsheet program and save it, or paste values".to_string())
        } else {
            Ok(&cell.value)
        };
        rows.cell(r, c, value, sink)?;
    }
    drop(cells);
    rows.finish(sink)
        .map_err(|e| empty_sheet_hint(e, &sheet, &others, opts))
}

/// A seekable source a workbook reader can take.
trait ReadSeek: std::io::Read + std::io::Seek {}
impl<T: std::io::Read + std::io::Seek> ReadSeek for T {}

/// An ODS whose cells hold text without `office:value-type` (some tools
/// write them so) would lose that text: calamine reads such a cell as
/// empty, and a dropped PASSWORD lets the server make one up. Such a file is
/// rewritten in memory, each of those cells marked as the string it shows;
/// `None` when the file needs nothing.
fn ods_source(path: &Path) -> Result<Option<Vec<u8>>> {
    use std::io::{Read, Write};
    let file =
        std::fs::File::open(path).map_err(|e| anyhow!("cannot open {}: {e}", path.display()))?;
    let Ok(mut zip) = zip::ZipArchive::new(std::io::BufReader::new(file)) else {
        return Ok(None);
    };
    let mut content = String::new();
    match zip.by_name("content.xml") {
        Ok(mut entry) => {
            if entry.read_to_string(&mut content).is_err() {
                return Ok(None);
            }
        }
        Err(_) => return Ok(None),
    }
    let Some(fixed) = mark_untyped_text_cells(&content) else {
        return Ok(None);
    };
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        let name = entry.name()?.to_string();
        out.start_file(name.as_str(), stored)?;
        if name == "content.xml" {
            out.write_all(fixed.as_bytes())?;
        } else {
            std::io::copy(&mut entry, &mut out)?;
        }
    }
    Ok(Some(out.finish()?.into_inner()))
}

/// `content.xml` with `office:value-type="string"` added to every cell that
/// has a `<text:p>` but no value type; `None` when there is none.
fn mark_untyped_text_cells(xml: &str) -> Option<String> {
    const OPEN: &str = "<table:table-cell";
    let mut out = String::new();
    let mut done = 0;
    let mut from = 0;
    while let Some(at) = xml[from..].find(OPEN).map(|i| i + from) {
        // The end of the start tag, outside quoted attribute values.
        let mut quote = None;
        let mut end = None;
        for (i, c) in xml[at..].char_indices() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '>') => {
                    end = Some(at + i);
                    break;
                }
                _ => {}
            }
        }
        let end = end?;
        from = end;
        let tag = &xml[at..end];
        // `<table:table-cells` or similar is another element.
        if !tag[OPEN.len()..].starts_with(|c: char| c.is_whitespace() || c == '/')
            && tag.len() > OPEN.len()
        {
            continue;
        }
        if tag.ends_with('/') || tag.contains("office:value-type") {
            continue;
        }
        let body_end = xml[end..].find("</table:table-cell>").map(|i| i + end)?;
        // Cells do not nest: the next one starts after this one ends, so
        // every byte is looked at once, however a hostile file is laid out.
        from = body_end;
        if !xml[end..body_end].contains("<text:p") {
            continue;
        }
        out.push_str(&xml[done..end]);
        out.push_str(" office:value-type=\"string\"");
        done = end;
    }
    if done == 0 {
        return None;
    }
    out.push_str(&xml[done..]);
    Some(out)
}

/// XLSX and ODS are zip files. An OLE container (the first bytes
/// D0 CF 11 E0) under such a name is either a password-protected workbook
/// (Excel encrypts into one) or an old `.xls`: say which, not "bad zip".
fn refuse_ole_container(path: &Path, format: Format) -> Result<()> {
    use std::io::Read;
    const OLE: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(1 << 20).read_to_end(&mut head))
        .map_err(|e| anyhow!("cannot open {}: {e}", path.display()))?;
    if !head.starts_with(&OLE) {
        return Ok(());
    }
    // The stream name "EncryptedPackage", as OLE directories spell it.
    let encrypted: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    if head.windows(encrypted.len()).any(|w| w == encrypted) {
        bail!(
            "{} is an encrypted (password-protected) workbook, which cannot be read; remove its password in the spreadsheet program (or save a copy without one), or export CSV",
            path.display()
        );
    }
    bail!(
        "{} is an old-style Excel workbook (.xls, BIFF), not {}; rename it .xls or pass --format xls",
        path.display(),
        format.name()
    );
}

/// The worksheet to read: `--sheet`, else the first visible one (a hidden
/// sheet holds what its author put away: stale rows, lookups), which is
/// named in the log so the user knows what was read.
fn pick_sheet(sheets: &[calamine::Sheet], opts: &InputOptions, file: &str) -> Result<String> {
    let names: Vec<&str> = sheets.iter().map(|s| s.name.as_str()).collect();
    match &opts.sheet {
        Some(want) => names
            .iter()
            .find(|n| *n == want)
            .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(want)))
            .map(|n| n.to_string())
            .ok_or_else(|| {
                anyhow!(
                    "{file} has no sheet \"{want}\"; its sheets are: {}",
                    names.join(", ")
                )
            }),
        None => {
            let visible = sheets.iter().find(|s| {
                s.visible == calamine::SheetVisible::Visible
                    && s.typ == calamine::SheetType::WorkSheet
            });
            let Some(first) = visible else {
                bail!("{file} has no visible worksheet; name one with --sheet");
            };
            if sheets.first().is_some_and(|s| s.name != first.name) {
                log::warn!(
                    "{file}: reading sheet \"{}\", the first visible one (hidden sheets are skipped; --sheet names another)",
                    first.name
                );
            } else {
                log::info!("{file}: reading sheet \"{}\"", first.name);
            }
            Ok(first.name.clone())
        }
    }
}

fn other_sheets(sheets: &[calamine::Sheet], read: &str) -> Vec<String> {
    sheets
        .iter()
        .filter(|s| s.name != read)
        .map(|s| s.name.clone())
        .collect()
}

/// An empty sheet in a workbook that has others: say which were not read.
fn empty_sheet_hint(
    e: anyhow::Error,
    sheet: &str,
    others: &[String],
    opts: &InputOptions,
) -> anyhow::Error {
    if e.is::<EmptySheet>() && !others.is_empty() && opts.sheet.is_none() {
        anyhow!(
            "{e}: the sheet \"{sheet}\" that was read is empty; the workbook also has {}. Name the sheet to read with --sheet",
            others
                .iter()
                .map(|o| format!("\"{o}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        e
    }
}

/// A sheet without a header row.
#[derive(Debug, thiserror::Error)]
#[error("{0} is empty: it has no header row")]
struct EmptySheet(String);

/// Rows a worksheet can hold.
const MAX_SHEET_ROWS: u32 = 1_048_576;

/// Gathers cells, in row order, into header and data rows.
struct RowBuilder {
    file: String,
    batch: Batcher,
    /// Cells of the row being gathered: (column, where its text is in
    /// `text`, or why it cannot be read). Both are reused from row to row,
    /// so a cell costs no allocation of its own.
    pending: Vec<(u32, Result<Range<usize>, String>)>,
    text: String,
    pending_row: Option<u32>,
    /// First column and width of the header, once seen.
    header: Option<(u32, usize)>,
}

impl RowBuilder {
    fn new(file: &str) -> Self {
        RowBuilder {
            file: file.to_string(),
            batch: Batcher::new(),
            pending: Vec::new(),
            text: String::new(),
            pending_row: None,
            header: None,
        }
    }

    fn cell(
        &mut self,
        row: u32,
        col: u32,
        value: Result<&impl DataType, String>,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        if self.pending_row != Some(row) {
            self.end_row(sink)?;
            self.pending_row = Some(row);
        }
        let start = self.text.len();
        let entry = match value.and_then(|d| cell_text(d, &mut self.text)) {
            Ok(()) if self.text.len() == start => return Ok(()),
            Ok(()) => Ok(start..self.text.len()),
            Err(why) => {
                self.text.truncate(start);
                Err(why)
            }
        };
        if let Ok(range) = &entry
            && range.len() > MAX_CELL_BYTES
        {
            bail!(
                "{}: row {} holds a cell of {} bytes; cells over {MAX_CELL_BYTES} bytes are not accepted",
                self.file,
                row + 1,
                range.len()
            );
        }
        if self.header.is_none() && self.pending.len() >= MAX_COLUMNS {
            bail!(
                "{}: the header has more than {MAX_COLUMNS} columns",
                self.file
            );
        }
        self.pending.push((col, entry));
        Ok(())
    }

    fn end_row(&mut self, sink: &mut dyn RowSink) -> Result<()> {
        let Some(row) = self.pending_row.take() else {
            return Ok(());
        };
        if row >= MAX_SHEET_ROWS {
            bail!(
                "{}: the sheet has rows past {MAX_SHEET_ROWS}, more than a spreadsheet holds (is the file damaged?)",
                self.file
            );
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        // Cells come in column order from every program we know of; a cell
        // given twice counts once, the last one, as a spreadsheet shows it.
        if !self.pending.is_sorted_by_key(|(c, _)| *c) {
            self.pending.sort_by_key(|(c, _)| *c);
        }
        let (text, cells) = (&self.text, &self.pending);
        match self.header {
            None => {
                let (first, names) = header_names(&self.file, cells, text)?;
                self.header = Some((first, names.len()));
                sink.header(&names)?;
            }
            Some((first, width)) => {
                let out = self.batch.next();
                out.line = u64::from(row) + 1;
                fill_record(out, cells, text, (first, width));
                self.batch.commit(sink)?;
            }
        }
        self.pending.clear();
        self.text.clear();
        Ok(())
    }

    fn finish(mut self, sink: &mut dyn RowSink) -> Result<ReadStats> {
        self.end_row(sink)?;
        if self.header.is_none() {
            return Err(EmptySheet(self.file.clone()).into());
        }
        self.batch.flush(sink)?;
        Ok(self.batch.stats)
    }
}

/// Spreadsheet column letters for a zero-based index (0 → A, 26 → AA).
pub fn col_letter(mut c: u32) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// Appends a cell as the text a user typed (whole numbers without `.0`,
/// booleans as `true`/`false`, dates as `DD/MM/YYYY HH:mm`); `Err` says why
/// the cell cannot be read. The same for streamed XLSX cells and for XLS/ODS
/// ranges.
fn cell_text(d: &impl DataType, out: &mut String) -> Result<(), String> {
    use std::fmt::Write;
    // Writing into a String cannot fail.
    if let Some(s) = d.get_string() {
        out.push_str(s);
    } else if let Some(f) = d.get_float() {
        if f.fract() == 0.0 && f.abs() < EXACT {
            let _ = write!(out, "{}", f as i64);
        } else if f.abs() >= EXACT {
            // Past 2^53 a spreadsheet number is not exact (9007199254740993
            // is stored as …992): written as 9.007199254740994e15, it reads
            // as no whole number, so no id is rounded silently.
            let _ = write!(out, "{f:e}");
        } else {
            let _ = write!(out, "{f}");
        }
    } else if let Some(i) = d.get_int() {
        let _ = write!(out, "{i}");
    } else if let Some(b) = d.get_bool() {
        out.push_str(if b { "true" } else { "false" });
    } else if let Some(dt) = d.get_datetime() {
        out.push_str(&excel_datetime(&dt)?);
    } else if let Some(s) = d.get_datetime_iso() {
        out.push_str(&iso_datetime(s));
    } else if let Some(s) = d.get_duration_iso() {
        out.push_str(s);
    } else if let Some(e) = d.get_error() {
        return Err(format!("the cell holds the error {e}"));
    }
    Ok(())
}

const TIME_FORMAT: &str = "%d/%m/%Y %H:%M";

/// 2^53: below it, every whole number is exact in a spreadsheet cell.
const EXACT: f64 = 9_007_199_254_740_992.0;

fn round_to_minute(dt: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::Timelike;
    let dt = dt + chrono::Duration::seconds(30);
    dt.with_second(0)
        .and_then(|d| d.with_nanosecond(0))
        .unwrap_or(dt)
}

fn excel_datetime(dt: &calamine::ExcelDateTime) -> Result<String, String> {
    if dt.is_duration() {
        return Err("the cell holds a duration, not a date".into());
    }
    // A time of day without a date (an `h:mm` cell) sits on day 0 of the
    // date system: read as a date it would be 31/12/1899. It is its time,
    // which no date column accepts.
    if (0.0..1.0).contains(&dt.as_f64()) {
        let minutes = (dt.as_f64() * 1440.0).round() as u32;
        return Ok(format!("{:02}:{:02}", minutes / 60 % 24, minutes % 60));
    }
    // calamine applies the workbook's 1900 or 1904 date system here.
    dt.as_datetime()
        .map(|d| round_to_minute(d).format(TIME_FORMAT).to_string())
        .ok_or_else(|| "the cell holds a date outside the calendar".into())
}

/// ODS stores dates as ISO strings; a person reads them as our time format.
fn iso_datetime(s: &str) -> String {
    use chrono::{NaiveDate, NaiveDateTime};
    if let Ok(d) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return round_to_minute(d).format(TIME_FORMAT).to_string();
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.format("%d/%m/%Y 00:00").to_string();
    }
    s.to_string()
}

/// Cells of one row: (column, its text's range in the row's text, or why
/// it has none), sorted by column.
type RowCells = [(u32, Result<Range<usize>, String>)];

/// Whether cell `n` is the last given for its column (a cell given twice
/// counts once, the last one, as a spreadsheet shows it).
fn last_of_its_column(cells: &RowCells, n: usize) -> bool {
    cells.get(n + 1).is_none_or(|(next, _)| *next != cells[n].0)
}

/// The header row's names, from its first cell's column on; and that column.
fn header_names(file: &str, cells: &RowCells, text: &str) -> Result<(u32, Vec<String>)> {
    let first = cells[0].0;
    let width = (cells[cells.len() - 1].0 - first + 1) as usize;
    if width > MAX_COLUMNS {
        bail!("{file}: the header spans {width} columns; at most {MAX_COLUMNS} are accepted");
    }
    let mut names = vec![String::new(); width];
    for (n, (c, v)) in cells.iter().enumerate() {
        if let (true, Ok(range)) = (last_of_its_column(cells, n), v) {
            names[(c - first) as usize] = text[range.clone()].to_string();
        }
    }
    Ok((first, names))
}

/// A data row's record, one field per header column (empty where the row
/// has no cell); a cell outside the header's columns is a problem of the row.
fn fill_record(
    out: &mut super::RawRow,
    cells: &RowCells,
    text: &str,
    (first, width): (u32, usize),
) {
    let mut fields = 0;
    for (n, (c, v)) in cells.iter().enumerate() {
        let Some(i) = c
            .checked_sub(first)
            .map(|i| i as usize)
            .filter(|i| *i < width)
        else {
            out.problems.push((
                WHOLE_ROW,
                format!(
                    "it has a value in column {}, outside the header's columns",
                    col_letter(*c)
                ),
            ));
            continue;
        };
        if !last_of_its_column(cells, n) {
            continue;
        }
        while fields < i {
            out.record.push_field("");
            fields += 1;
        }
        match v {
            Ok(range) => out.record.push_field(&text[range.clone()]),
            Err(why) => {
                out.record.push_field("");
                out.problems.push((i, why.clone()));
            }
        }
        fields += 1;
    }
    while fields < width {
        out.record.push_field("");
        fields += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(d: calamine::Data) -> Result<String, String> {
        let mut s = String::new();
        cell_text(&d, &mut s).map(|()| s)
    }

    #[test]
    fn cells_read_as_typed() {
        use calamine::Data;
        assert_eq!(text(Data::Float(901.0)).unwrap(), "901");
        assert_eq!(text(Data::Float(901.5)).unwrap(), "901.5");
        assert_eq!(text(Data::Float(-3.0)).unwrap(), "-3");
        assert_eq!(
            text(Data::Float(9_007_199_254_740_991.0)).unwrap(),
            "9007199254740991"
        );
        assert_eq!(
            text(Data::Float(9_007_199_254_740_994.0)).unwrap(),
            "9.007199254740994e15"
        );
        assert_eq!(text(Data::Int(12)).unwrap(), "12");
        assert_eq!(text(Data::Bool(true)).unwrap(), "true");
        assert_eq!(text(Data::String("0012345".into())).unwrap(), "0012345");
        assert_eq!(text(Data::Empty).unwrap(), "");
        assert!(
            text(Data::Error(calamine::CellErrorType::NA))
                .unwrap_err()
                .contains("#N/A")
        );
    }

    #[test]
    fn untyped_ods_text_cells_are_marked_as_strings() {
        let xml = r#"<table:table-row><table:table-cell><text:p>pw&amp;1</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="3"><text:p>3</text:p></table:table-cell><table:table-cell/><table:table-cell table:style-name="a>b"><text:p>x</text:p></table:table-cell></table:table-row>"#;
        let fixed = mark_untyped_text_cells(xml).unwrap();
        assert_eq!(fixed.matches(r#"office:value-type="string""#).count(), 2);
        assert!(fixed.contains(r#"<table:table-cell office:value-type="string"><text:p>pw&amp;1"#));
        assert!(fixed.contains(r#"table:style-name="a>b" office:value-type="string">"#));
        assert_eq!(mark_untyped_text_cells("<table:table-cell/>"), None);
        // Many untyped cells and one far closing tag: each byte is looked
        // at once (the speed itself is not judged here).
        let hostile = format!(
            "{}<text:p>x</text:p></table:table-cell>",
            "<table:table-cell><x/>".repeat(20_000)
        );
        let fixed = mark_untyped_text_cells(&hostile).unwrap();
        assert_eq!(fixed.matches("office:value-type").count(), 1);
    }

    #[test]
    fn letters() {
        assert_eq!(col_letter(0), "A");
        assert_eq!(col_letter(25), "Z");
        assert_eq!(col_letter(26), "AA");
        assert_eq!(col_letter(701), "ZZ");
    }

    #[test]
    fn iso_dates_from_ods() {
        assert_eq!(iso_datetime("2026-01-09T17:50:29"), "09/01/2026 17:50");
        assert_eq!(iso_datetime("2026-01-09T17:50:31"), "09/01/2026 17:51");
        assert_eq!(iso_datetime("2026-01-09"), "09/01/2026 00:00");
    }

    #[test]
    fn excel_1904_dates() {
        use calamine::{ExcelDateTime, ExcelDateTimeType};
        let d1900 = ExcelDateTime::new(46031.74305555555, ExcelDateTimeType::DateTime, false);
        assert_eq!(excel_datetime(&d1900).unwrap(), "09/01/2026 17:50");
        let d1904 = ExcelDateTime::new(
            46031.74305555555 - 1462.0,
            ExcelDateTimeType::DateTime,
            true,
        );
        assert_eq!(excel_datetime(&d1904).unwrap(), "09/01/2026 17:50");
    }
}
