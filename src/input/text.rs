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
    // blank line (skipped by csv) is a row all the same. After a record is
    // read, csv's line count stands on the record's last physical line, plus
    // one if its terminator's newline was consumed (LF files; with CRLF the
    // `\n` is consumed with the next record). So the record's first line is
    // `after - newlines_inside - t`, with `t` seen on the header; taking away
    // the extra lines of earlier quoted newlines gives the row a spreadsheet
    // shows.
    let header_after = reader.position().line();
    let header_start = header.position().map(|p| p.line()).unwrap_or(1);
    let mut inner_newlines = count_newlines(&header);
    let t = header_after
        .saturating_sub(header_start + inner_newlines)
        .min(1);
    let mut prev_row = header_start;

    let mut batch = Batcher::new();
    let mut blank_lines = 0;
    let mut records = 0u64;
    loop {
        let row = batch.next();
        if !reader.read_record(&mut row.record).map_err(read_err)? {
            break;
        }
        let inside = count_newlines(&row.record);
        let first_line = reader.position().line().saturating_sub(inside + t);
        // A last record without a final newline reads one line short; rows
        // never go backwards.
        let row_no = first_line.saturating_sub(inner_newlines).max(prev_row + 1);
        blank_lines += row_no - prev_row - 1;
        inner_newlines += inside;
        prev_row = row_no;
        row.line = row_no;
        if row.record.as_slice().len() > MAX_CELL_BYTES {
            bail!(
                "{name}: row {row_no} holds {} bytes; cells over {} bytes are not accepted (is the file damaged?)",
                row.record.as_slice().len(),
                MAX_CELL_BYTES
            );
        }
        batch.commit(sink)?;
        records += 1;
        if records == BATCH as u64
            && let Some(size) = size
        {
            let bytes = reader.position().byte().max(1);
            sink.size_hint((size.saturating_mul(records) / bytes) as usize);
        }
    }
    batch.flush(sink)?;
    batch.stats.blank_rows += blank_lines;
    Ok(batch.stats)
}

/// Newlines inside a record's fields (quoted newlines). Most records have
/// none, which memchr tells without looking at every byte.
fn count_newlines(record: &csv::StringRecord) -> u64 {
    memchr::memchr_iter(b'\n', record.as_slice().as_bytes()).count() as u64
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

    fn rows_of(data: &str) -> Vec<(u64, String)> {
        let mut sink = Lines(Vec::new());
        read(
            data.as_bytes(),
            "t",
            Format::Csv,
            &InputOptions::default(),
            &mut sink,
        )
        .unwrap();
        sink.0
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

    #[test]
    fn invalid_utf8_names_its_line() {
        let mut sink = Lines(Vec::new());
        let err = read(
            &b"H,H\n1,a\n1,\xff\n"[..],
            "t",
            Format::Csv,
            &InputOptions::default(),
            &mut sink,
        )
        .unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        let opts = InputOptions {
            encoding: encoding_rs::Encoding::for_label(b"windows-1252"),
            ..InputOptions::default()
        };
        let mut sink = Lines(Vec::new());
        read(&b"H,H\n1,caf\xe9\n"[..], "t", Format::Csv, &opts, &mut sink).unwrap();
        assert_eq!(sink.0, vec![(2, "caf\u{e9}".into())]);
    }
}
