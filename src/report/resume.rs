//! Reading an earlier report or journal back for `--resume`: which rows
//! are done, matched by content rather than row number.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

use super::{ReportFormat, columns, unguard};
use crate::job::push_lowercase;
use crate::outcome::Outcome;

/// What an earlier run's report (or journal) says, by row content.
#[derive(Debug, Default)]
pub struct Prior {
    /// Key → rows done (added, exists, requested, skipped) and their outcomes.
    pub done: HashMap<String, Vec<Outcome>>,
    /// Key → how many rows may have reached the server without an answer.
    pub unconfirmed: HashMap<String, u32>,
}

/// The resume key of a row: its org and identity cells, compared as the
/// server would: NFC, lower case, and an empty cell that has a server-side
/// default (`defaults`: key cell index → value, e.g. ACCESS → `now`) as
/// that default.
pub fn resume_key(org: &str, key: &[String], defaults: &[(usize, &str)]) -> String {
    let mut k = Vec::with_capacity(64);
    push_lowercase(org, &mut k);
    for (i, cell) in key.iter().enumerate() {
        k.push(0x1f);
        let cell = match defaults.iter().find(|(d, _)| *d == i) {
            Some((_, default)) if cell.trim().is_empty() => default,
            _ => cell.as_str(),
        };
        push_lowercase(cell, &mut k);
    }
    String::from_utf8(k).unwrap_or_default()
}

/// Reads a report or journal of this very job, whole, or refuses it: a row
/// skipped because it could not be read would be sent again. Only a torn
/// last line (a killed run) is ignored; rows journaled in flight and never
/// answered count as unconfirmed.
pub fn read_prior(path: &Path, key_columns: &[&str], defaults: &[(usize, &str)]) -> Result<Prior> {
    let rows = read_rows(path, key_columns, defaults)
        .with_context(|| format!("cannot use the --resume report {}", path.display()))?;
    // A journal may hold a row twice (in flight, then answered): the last wins.
    let mut last: HashMap<u64, (String, Outcome)> = HashMap::new();
    let mut order: Vec<u64> = Vec::new();
    for (row, key, outcome, _) in rows {
        if last.insert(row, (key, outcome)).is_none() {
            order.push(row);
        }
    }
    let mut prior = Prior::default();
    for row in order {
        let (key, outcome) = &last[&row];
        if outcome.is_done() {
            prior.done.entry(key.clone()).or_default().push(*outcome);
        } else if matches!(outcome, Outcome::Unconfirmed | Outcome::InFlight) {
            *prior.unconfirmed.entry(key.clone()).or_default() += 1;
        }
    }
    Ok(prior)
}

/// Whether a report holds a row that reached a server: `requested`,
/// `unconfirmed`, in flight, or `failed` with an HTTP status.
pub fn reached_server(path: &Path, key_columns: &[&str]) -> Result<bool> {
    Ok(read_rows(path, key_columns, &[])?
        .iter()
        .any(|(_, _, o, http)| {
            matches!(
                o,
                Outcome::Requested | Outcome::Unconfirmed | Outcome::InFlight
            ) || (*o == Outcome::Failed && *http)
        }))
}

/// A report line: its cells, or why it could not be read.
type Line = Result<Vec<String>, String>;

/// (row, resume key, outcome, whether it reached a server) of every line.
fn read_rows(
    path: &Path,
    key_columns: &[&str],
    defaults: &[(usize, &str)],
) -> Result<Vec<(u64, String, Outcome, bool)>> {
    let want = columns(key_columns);
    let lines = match ReportFormat::from_path(path)? {
        ReportFormat::Csv => csv_lines(path, &want)?,
        ReportFormat::Jsonl => jsonl_lines(path, &want)?,
        ReportFormat::Xlsx => xlsx_lines(path, &want)?,
    };
    // Only a journal's last line, cut short by a kill before its newline,
    // may be torn; a line that ends in a newline was written whole.
    let ends_whole = last_byte(path).is_none_or(|c| c == b'\n');
    let last = if ends_whole {
        usize::MAX
    } else {
        lines.len().saturating_sub(1)
    };
    let mut out = Vec::with_capacity(lines.len());
    for (n, line) in lines.into_iter().enumerate() {
        // The header is line 1 of the report.
        match parse_line(line, n + 2, key_columns.len(), want.len(), defaults) {
            Ok(row) => out.push(row),
            Err(_) if n == last => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// One line's cells as (row, resume key, outcome, reached a server).
fn parse_line(
    line: Line,
    at: usize,
    keys: usize,
    width: usize,
    defaults: &[(usize, &str)],
) -> Result<(u64, String, Outcome, bool)> {
    let cells = match line {
        Ok(c) if c.len() == width => c,
        Ok(c) => bail!("line {at} has {} cells, not {width}", c.len()),
        Err(e) => {
            bail!("line {at} {e}; refusing the whole file, since a row skipped would be sent again")
        }
    };
    let Ok(row) = cells[0].parse::<u64>() else {
        bail!("line {at}: \"{}\" is not a row number", cells[0]);
    };
    let word = &cells[2 + keys];
    let Ok(outcome) = word.trim().to_ascii_lowercase().parse::<Outcome>() else {
        bail!(
            "line {at} (row {row}): \"{word}\" is not an outcome of this tool ({}); fix or remove that line",
            Outcome::ALL.map(Outcome::as_str).join(", ")
        );
    };
    let key = resume_key(&cells[1], &cells[2..2 + keys], defaults);
    let http = !cells[2 + keys + 2].trim().is_empty();
    Ok((row, key, outcome, http))
}

fn not_ours(found: &[String], want: &[String]) -> anyhow::Error {
    anyhow!(
        "it is not a report of this job (nor its journal): its columns are {}, and this job's are {}",
        found.join(","),
        want.join(",")
    )
}

fn csv_lines(path: &Path, want: &[String]) -> Result<Vec<Line>> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_path(path)?;
    let mut records = r.byte_records();
    let header: Vec<String> = match records.next() {
        Some(Ok(h)) => h
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect(),
        _ => bail!("it is empty or not CSV"),
    };
    if header != want {
        return Err(not_ours(&header, want));
    }
    Ok(records
        .map(|rec| match rec {
            Ok(rec) => csv::StringRecord::from_byte_record(rec)
                .map(|r| r.iter().map(|c| unguard(c).to_string()).collect())
                .map_err(|_| "is not valid UTF-8".to_string()),
            Err(e) => Err(format!("cannot be read ({e})")),
        })
        .collect())
}

fn jsonl_lines(path: &Path, want: &[String]) -> Result<Vec<Line>> {
    let bytes = std::fs::read(path)?;
    let mut lines = Vec::new();
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = std::str::from_utf8(line)
            .map_err(|_| "is not valid UTF-8".to_string())
            .and_then(|t| {
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(t)
                    .map_err(|_| "is not a JSON object".to_string())
            });
        let obj = match parsed {
            Ok(obj) => obj,
            Err(e) => {
                lines.push(Err(e));
                continue;
            }
        };
        if n == 0 && (obj.len() != want.len() || want.iter().any(|w| !obj.contains_key(w))) {
            return Err(not_ours(&obj.keys().cloned().collect::<Vec<_>>(), want));
        }
        let cell = |name: &str| match obj.get(name) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        lines.push(Ok(want.iter().map(|c| cell(c)).collect()));
    }
    Ok(lines)
}

fn xlsx_lines(path: &Path, want: &[String]) -> Result<Vec<Line>> {
    use calamine::{Reader, Xlsx, open_workbook};
    let mut wb: Xlsx<_> = open_workbook(path)?;
    let names = wb.sheet_names();
    let mut lines = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let range = wb.worksheet_range(name)?;
        let mut rows = range.rows();
        let Some(header) = rows.next() else { continue };
        let header: Vec<String> = header.iter().map(cell_text).collect();
        if header != want {
            // The summary sheet; but a first sheet not ours is not a report.
            if i == 0 {
                return Err(not_ours(&header, want));
            }
            continue;
        }
        lines.extend(rows.map(|r| Ok(r.iter().map(cell_text).collect())));
    }
    Ok(lines)
}

/// The file's last byte, if it has one.
fn last_byte(path: &Path) -> Option<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::End(-1)).ok()?;
    let mut b = [0u8];
    f.read_exact(&mut b).ok()?;
    Some(b[0])
}

/// A workbook cell as the report wrote it: numbers without `.0`.
fn cell_text(c: &calamine::Data) -> String {
    match c {
        calamine::Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let prior = read_prior(&p, &["resource_id", "account_name"], &[]).unwrap();
        assert_eq!(prior.done.len(), 1);
        assert!(
            prior
                .done
                .contains_key(&resume_key("", &["901".into(), "ROOT".into()], &[]))
        );
        assert_eq!(prior.unconfirmed.values().sum::<u32>(), 1);
    }
}
