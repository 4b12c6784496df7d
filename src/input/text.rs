//! CSV and TSV input: UTF-8 (a BOM is fine) or a named encoding, quoted
//! fields with commas and newlines, CRLF or LF.

use std::io::Read;

use anyhow::{Result, anyhow, bail};

use super::{Batcher, Format, InputOptions, MAX_CELL_BYTES, MAX_COLUMNS, ReadStats, RowSink};

pub(super) fn read(
    input: impl Read,
    name: &str,
    format: Format,
    opts: &InputOptions,
    sink: &mut dyn RowSink,
) -> Result<ReadStats> {
    let input: Box<dyn Read> = match opts.encoding {
        // The decoder also strips a BOM of its own encoding.
        Some(enc) => Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(enc))
                .build(input),
        ),
        None => Box::new(input),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(if format == Format::Tsv { b'\t' } else { b',' })
        .buffer_capacity(1 << 16)
        .from_reader(input);

    let mut header = csv::StringRecord::new();
    let read_err = |e: csv::Error| -> anyhow::Error {
        match e.kind() {
            csv::ErrorKind::Utf8 { pos, .. } => anyhow!(
                "{name}: line {} is not valid UTF-8; if the file is in another encoding, say which with --encoding (for example --encoding windows-1252)",
                pos.as_ref().map(|p| p.line()).unwrap_or(0)
            ),
            _ => anyhow!("{name}: cannot read: {e}"),
        }
    };
    if !reader.read_record(&mut header).map_err(read_err)? {
        bail!("{name} is empty: it has no header row");
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

    // Spreadsheet row numbers: a record with a quoted newline is one row, a
    // blank line (skipped by csv) is a row all the same. The csv position
    // counts physical lines, so the gap between two records' start lines,
    // less the lines the earlier record spans, is the blank lines between.
    let header_line = header.position().map(|p| p.line()).unwrap_or(1);
    let mut prev_line = header_line;
    let mut prev_span = 1 + count_newlines(&header);
    let mut row_no = header_line;

    let mut batch = Batcher::new();
    let mut blank_lines = 0;
    loop {
        let row = batch.next();
        if !reader.read_record(&mut row.record).map_err(read_err)? {
            break;
        }
        let line = row
            .record
            .position()
            .map(|p| p.line())
            .unwrap_or(prev_line + 1);
        let blanks = line.saturating_sub(prev_line + prev_span);
        row_no += 1 + blanks;
        blank_lines += blanks;
        prev_line = line;
        prev_span = 1 + count_newlines(&row.record);
        row.line = row_no;
        if row.record.as_slice().len() > MAX_CELL_BYTES {
            bail!(
                "{name}: row {row_no} holds {} bytes; cells over {} bytes are not accepted (is the file damaged?)",
                row.record.as_slice().len(),
                MAX_CELL_BYTES
            );
        }
        batch.commit(sink)?;
    }
    batch.flush(sink)?;
    batch.stats.blank_rows += blank_lines;
    Ok(batch.stats)
}

fn count_newlines(record: &csv::StringRecord) -> u64 {
    record.as_slice().bytes().filter(|&b| b == b'\n').count() as u64
}
