//! CSV and TSV input: UTF-8 (a BOM is fine) or a named encoding, quoted
//! fields with commas and newlines, CRLF or LF.

use std::io::Read;

use anyhow::{Result, anyhow, bail};

use super::{
    BATCH, Batcher, Format, InputOptions, MAX_CELL_BYTES, MAX_COLUMNS, ReadStats, RowSink,
};

pub(super) fn read(
    input: impl Read,
    name: &str,
    format: Format,
    opts: &InputOptions,
    sink: &mut dyn RowSink,
) -> Result<ReadStats> {
    read_sized(input, name, format, opts, sink, None)
}

/// Reads CSV; `size`, when known, lets the reader estimate how many rows
/// are coming after its first batch, so the checking side can reserve once.
pub(super) fn read_sized(
    input: impl Read,
    name: &str,
    format: Format,
    opts: &InputOptions,
    sink: &mut dyn RowSink,
    size: Option<u64>,
) -> Result<ReadStats> {
    let mut input = decoded(input, opts)?;
    // The header line, read ahead to tell the delimiter, then read again.
    let mut first = Vec::new();
    let delimiter = match (opts.delimiter, format) {
        (Some(d), _) => d,
        (None, Format::Tsv) => b'\t',
        (None, _) => {
            first = read_first_line(&mut input)?;
            sniff_delimiter(&first)
        }
    };
    let tail = Tail::new(std::io::Cursor::new(first).chain(input));
    let kept = tail.kept.clone();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(1 << 16)
        .from_reader(tail);
    let header = read_header(&mut reader, name, sink)?;
    let mut numbers = RowNumbers::after_header(&header, reader.position().line());
    let mut batch = Batcher::new();
    let mut records = 0u64;
    // Where the last record began (byte, spreadsheet row): a quote still
    // open at the end of the file opened there.
    let mut last_start = (
        header.position().map(|p| p.byte()).unwrap_or(0),
        numbers.prev_row,
    );
    loop {
        let row = batch.next();
        match reader.read_record(&mut row.record) {
            Ok(true) => {}
            Ok(false) => break,
            // A bad byte is reported at the row a spreadsheet shows (the
            // record's own quoted line breaks, if it has any, aside).
            Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => {
                return Err(not_utf8(name, numbers.next(reader.position().line(), b"")));
            }
            Err(e) => return Err(read_error(e, name)),
        }
        let bytes = row.record.as_slice().as_bytes();
        let row_no = numbers.next(reader.position().line(), bytes);
        row.line = row_no;
        last_start = (row.record.position().map(|p| p.byte()).unwrap_or(0), row_no);
        refuse_oversized(name, row_no, bytes.len())?;
        batch.commit(sink)?;
        records += 1;
        if records == BATCH as u64
            && let Some(size) = size
        {
            let bytes = reader.position().byte().max(1);
            sink.size_hint((size.saturating_mul(records) / bytes) as usize);
        }
    }
    // Before the last rows go to the checks: a file whose last quote never
    // closes would otherwise hand over one row holding all the rows after
    // the quote.
    let end = reader.position().byte();
    if kept.borrow().quote_open_from(last_start.0, end, delimiter) {
        bail!(
            "{name}: row {} opens a quote (\") that is never closed, so every line after it would be read into that one cell; close the quote (or double it, \"\", inside a quoted cell) and run again",
            last_start.1
        );
    }
    batch.flush(sink)?;
    Ok(batch.stats)
}

/// The input up to its first line break (at most 64 KiB).
fn read_first_line(input: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut buf = [0u8; 4096];
    while line.len() < 1 << 16 && !line.contains(&b'\n') {
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => line.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(line)
}

/// `;` when the header line holds semicolons and no comma, as Excel saves
/// "CSV" in many European locales; `,` otherwise.
fn sniff_delimiter(start: &[u8]) -> u8 {
    let line = start.split(|b| *b == b'\n').next().unwrap_or_default();
    if line.contains(&b';') && !line.contains(&b',') {
        log::info!(
            "the header line holds semicolons and no comma: reading it as semicolon-separated (--delimiter says otherwise)"
        );
        b';'
    } else {
        b','
    }
}

/// The input as UTF-8: as it is, or decoded from `--encoding`, or from
/// UTF-16 known by its BOM (Excel's "Unicode text" and many Windows
/// exports).
fn decoded<'a>(input: impl Read + 'a, opts: &InputOptions) -> Result<Box<dyn Read + 'a>> {
    let mut input = input;
    let mut head = [0u8; 2];
    let got = read_up_to(&mut input, &mut head)?;
    let utf16 = match head {
        [0xFF, 0xFE] => Some(encoding_rs::UTF_16LE),
        [0xFE, 0xFF] => Some(encoding_rs::UTF_16BE),
        _ => None,
    };
    let input = std::io::Cursor::new(head[..got].to_vec()).chain(input);
    Ok(match opts.encoding.or(utf16) {
        // The decoder also strips a BOM of its own encoding.
        Some(enc) => Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(enc))
                .build(input),
        ),
        None => Box::new(input),
    })
}

/// A row that is not UTF-8, at the row a spreadsheet shows.
fn not_utf8(name: &str, row_no: u64) -> anyhow::Error {
    anyhow!(
        "{name}: row {row_no} is not valid UTF-8; if the file is in another encoding, say which with --encoding (for example --encoding windows-1252)"
    )
}

/// A row longer than any real one: a damaged file, refused whole.
fn refuse_oversized(name: &str, row_no: u64, len: usize) -> Result<()> {
    if len > MAX_CELL_BYTES {
        bail!(
            "{name}: row {row_no} holds {len} bytes; rows over {MAX_CELL_BYTES} bytes (1 MiB, all cells together) are not accepted (is the file damaged?)"
        );
    }
    Ok(())
}

fn read_error(e: csv::Error, name: &str) -> anyhow::Error {
    match e.kind() {
        csv::ErrorKind::Utf8 { pos, .. } => anyhow!(
            "{name}: line {} is not valid UTF-8; if the file is in another encoding, say which with --encoding (for example --encoding windows-1252)",
            pos.as_ref().map(|p| p.line()).unwrap_or(0)
        ),
        _ => anyhow!("{name}: cannot read: {e}"),
    }
}

/// Reads the header row and hands its names to `sink`.
fn read_header(
    reader: &mut csv::Reader<impl Read>,
    name: &str,
    sink: &mut dyn RowSink,
) -> Result<csv::StringRecord> {
    let mut header = csv::StringRecord::new();
    if !reader
        .read_record(&mut header)
        .map_err(|e| read_error(e, name))?
    {
        bail!("{name} is empty: it has no header row");
    }
    if header.as_slice().contains('\0') {
        bail!(
            "{name}: the header holds NUL bytes: the file looks like UTF-16 text without a byte-order mark; say which with --encoding utf-16le (or utf-16be), or save it as UTF-8"
        );
    }
    if header.len() > MAX_COLUMNS {
        bail!(
            "{name}: the header has {} columns; at most {MAX_COLUMNS} are accepted",
            header.len()
        );
    }
    let names: Vec<String> = header
        .iter()
        .enumerate()
        // csv keeps a UTF-8 BOM in the first field; a spreadsheet does not show it.
        .map(|(i, h)| {
            if i == 0 {
                h.trim_start_matches('\u{feff}')
            } else {
                h
            }
            .to_string()
        })
        .collect();
    sink.header(&names)?;
    Ok(header)
}

/// Spreadsheet row numbers: a record with a quoted newline is one row, a
/// blank line (skipped by csv) is a row all the same. After a record is
/// read, csv's line count stands on the record's last physical line, plus
/// one if its terminator's newline was consumed (LF files; with CRLF the
/// `\n` is consumed with the next record). So the record's first line is
/// `after - newlines_inside - t`, with `t` seen on the header; taking away
/// the extra lines of earlier quoted newlines gives the row a spreadsheet
/// shows.
struct RowNumbers {
    t: u64,
    prev_row: u64,
    inner_newlines: u64,
    blank_lines: u64,
}

impl RowNumbers {
    fn after_header(header: &csv::StringRecord, header_after: u64) -> Self {
        let header_start = header.position().map(|p| p.line()).unwrap_or(1);
        let inner_newlines = count_newlines(header.as_slice().as_bytes());
        RowNumbers {
            t: header_after
                .saturating_sub(header_start + inner_newlines)
                .min(1),
            prev_row: header_start,
            inner_newlines,
            blank_lines: 0,
        }
    }

    /// The row number of the record just read, which ends on csv's line
    /// `after`.
    fn next(&mut self, after: u64, record: &[u8]) -> u64 {
        let inside = count_newlines(record);
        let first_line = after.saturating_sub(inside + self.t);
        // A last record without a final newline reads one line short; rows
        // never go backwards.
        let row_no = first_line
            .saturating_sub(self.inner_newlines)
            .max(self.prev_row + 1);
        self.blank_lines += row_no - self.prev_row - 1;
        self.inner_newlines += inside;
        self.prev_row = row_no;
        row_no
    }
}

/// Reads until `buf` is full or the input ends; how many bytes were read.
fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The last bytes read, kept so the last record can be looked at once the
/// file has ended: csv ends a quoted field at the end of the input without
/// a word, and only the raw bytes tell whether its quote was closed.
struct Tail<R> {
    inner: R,
    kept: std::rc::Rc<std::cell::RefCell<Kept>>,
}

/// The input's last bytes, in two chunks so that no byte is moved once
/// kept: `prev` holds bytes `start..`, `cur` the ones after it. When `cur`
/// is full it becomes `prev`, and the old `prev`'s buffer is reused.
#[derive(Default)]
struct Kept {
    start: u64,
    prev: Vec<u8>,
    cur: Vec<u8>,
}

/// Enough to hold the largest record accepted (see [`MAX_CELL_BYTES`]).
const KEEP: usize = 2 * MAX_CELL_BYTES + 4;

impl<R: Read> Tail<R> {
    fn new(inner: R) -> Self {
        Tail {
            inner,
            kept: Default::default(),
        }
    }
}

impl<R: Read> Read for Tail<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut k = self.kept.borrow_mut();
        if k.cur.len() >= KEEP {
            let k = &mut *k;
            k.start += k.prev.len() as u64;
            std::mem::swap(&mut k.prev, &mut k.cur);
            k.cur.clear();
        }
        k.cur.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl Kept {
    /// Whether the record at bytes `from..to` ends inside a quoted field.
    /// Quotes open a field only at its start and close on a single `"`;
    /// `""` inside is an escaped quote, as csv reads them.
    fn quote_open_from(&self, from: u64, to: u64, delimiter: u8) -> bool {
        let (Some(a), Some(b)) = (from.checked_sub(self.start), to.checked_sub(self.start)) else {
            return false;
        };
        // The one time the two chunks are joined: the file has ended.
        let bytes = [&self.prev[..], &self.cur[..]].concat();
        let Some(raw) = bytes.get(a as usize..b as usize) else {
            return false;
        };
        #[derive(PartialEq)]
        enum S {
            FieldStart,
            Unquoted,
            Quoted,
            QuoteInQuoted,
        }
        let mut s = S::FieldStart;
        for &c in raw {
            s = match (s, c) {
                (S::FieldStart, b'"') => S::Quoted,
                (S::Quoted, b'"') => S::QuoteInQuoted,
                (S::Quoted, _) => S::Quoted,
                (S::QuoteInQuoted, b'"') => S::Quoted,
                (_, c) if c == delimiter || c == b'\n' || c == b'\r' => S::FieldStart,
                _ => S::Unquoted,
            };
        }
        s == S::Quoted
    }
}

/// Newlines inside a record's fields (quoted newlines). Most records have
/// none, which memchr tells without looking at every byte.
fn count_newlines(record: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', record).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::RawRow;

    struct Lines(Vec<(u64, String)>);
    impl RowSink for Lines {
        fn header(&mut self, _: &[String]) -> Result<()> {
            Ok(())
        }
        fn rows(&mut self, rows: &[RawRow]) -> Result<()> {
            self.0
                .extend(rows.iter().map(|r| (r.line, r.field(1).to_string())));
            Ok(())
        }
    }

    /// Reads `data` as CSV: (row number, second field) of each row, or why not.
    fn read_bytes(data: &[u8]) -> Result<Vec<(u64, String)>> {
        let mut sink = Lines(Vec::new());
        read(data, "t", Format::Csv, &InputOptions::default(), &mut sink)?;
        Ok(sink.0)
    }

    fn rows_of(data: &str) -> Vec<(u64, String)> {
        read_bytes(data.as_bytes()).unwrap()
    }

    #[test]
    fn row_numbers_count_blank_lines_but_not_quoted_newlines() {
        let want: Vec<(u64, String)> = vec![
            (2, "a".into()),
            (4, "b".into()),
            (5, "x\ny".into()),
            (8, "c".into()),
        ];
        assert_eq!(rows_of("H,H\n1,a\n\n1,b\n1,\"x\ny\"\n\n\n1,c\n"), want);
        let crlf = rows_of("H,H\r\n1,a\r\n\r\n1,b\r\n1,\"x\ny\"\r\n\r\n\r\n1,c\r\n");
        assert_eq!(crlf, want);
        // No final newline.
        assert_eq!(
            rows_of("H,H\n1,a\n1,b"),
            vec![(2, "a".into()), (3, "b".into())]
        );
        // Blank lines before the header count too.
        assert_eq!(rows_of("\n\nH,H\n1,a\n"), vec![(4, "a".into())]);
    }

    fn open_quote(data: &str) -> Option<String> {
        read_bytes(data.as_bytes()).err().map(|e| e.to_string())
    }

    #[test]
    fn a_quote_never_closed_is_refused_naming_its_row() {
        let err = open_quote("H,H,P\n901,a,pw\n901,b,\"Xy12\n901,c,pw3\n901,d,pw4\n").unwrap();
        assert!(
            err.contains("row 3") && err.contains("never closed"),
            "{err}"
        );
        assert!(open_quote("H,H,P\n901,b,\"Xy12").is_some());
        // Closed quotes, escaped quotes and quoted newlines are fine.
        assert_eq!(open_quote("H,H,P\n901,b,\"X\"\"y\nz\"\n"), None);
        assert_eq!(open_quote("H,H,P\n901,b,\"X,y\""), None);
        assert_eq!(open_quote("H,H,P\n901,b,x\"y\n"), None);
        assert_eq!(open_quote("H,H,P\r\n901,\"b\",\"\"\r\n"), None);
    }

    #[test]
    fn invalid_utf8_names_its_line() {
        let err = read_bytes(b"H,H\n1,a\n1,\xff\n").unwrap_err();
        assert!(err.to_string().contains("row 3"), "{err}");
        // CRLF, blank lines and quoted newlines: the row a spreadsheet shows.
        for (data, row) in [
            (&b"H,H\r\n1,a\r\n1,b\r\n1,\xff\r\n"[..], "row 4"),
            (&b"H,H\n1,a\n\n\n1,\xff\n"[..], "row 5"),
            (&b"H,H\n1,\"a\nb\"\n1,\xff\n"[..], "row 3"),
        ] {
            let err = read_bytes(data).unwrap_err();
            assert!(err.to_string().contains(row), "{row}: {err}");
        }
        let opts = InputOptions {
            encoding: encoding_rs::Encoding::for_label(b"windows-1252"),
            ..InputOptions::default()
        };
        let mut sink = Lines(Vec::new());
        read(&b"H,H\n1,caf\xe9\n"[..], "t", Format::Csv, &opts, &mut sink).unwrap();
        assert_eq!(sink.0, vec![(2, "caf\u{e9}".into())]);
    }
}
