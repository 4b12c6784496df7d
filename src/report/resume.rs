//! Reading an earlier report or journal back for `--resume`: which rows
//! are done, matched by content rather than row number.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use rayon::prelude::*;

use super::{ReportFormat, columns, unguard};
use crate::job::Identity;
use crate::names::push_fold;
use crate::outcome::{Carried, Outcome};
use std::collections::HashSet;

/// The maps of an earlier report are built from a file the user names and
/// looked up once per row: a fast hasher (keys are not chosen by an
/// attacker who could gain from collisions: they only slow their own run).
type Fast = foldhash::fast::RandomState;

/// What an earlier run's report (or journal) says, by row content.
#[derive(Debug, Default)]
pub struct Prior {
    /// Its rows that are done (added, updated, exists, requested, skipped)
    /// or may have reached the server without an answer, each used at most
    /// once.
    rows: Vec<ReadRow>,
    /// Match key → indices into `rows`, in report order.
    by_key: HashMap<String, Rows, Fast>,
    /// The rows of each key that names more than one (see [`Rows::Many`]).
    many: Vec<Vec<u32>>,
    /// Match keys of its rows that were invalid, failed or unconfirmed: a
    /// problem now that was one then is not a new problem.
    problems: HashSet<String, Fast>,
    /// The day its events happened, when a row's message does not say:
    /// the day the file was last written (UTC), `YYYY-MM-DD`.
    pub date: String,
}

/// A row an earlier run did, as its report says.
#[derive(Debug, Clone)]
pub struct Done {
    pub outcome: Outcome,
    pub message: String,
    /// Its identity cells (ids where known), and its cells after `message`
    /// (the fingerprint of what was done).
    pub cells: Carried,
}

/// The rows one match key names, in report order: almost always one, so
/// without a vector of its own (a hundred thousand of them are read on a
/// nightly resume). A handle, so that the rows of many keys can be looked
/// up at once (in parallel) and taken from one by one after.
#[derive(Debug, Clone, Copy)]
pub enum Rows {
    One(u32),
    /// An index into `Prior::many`.
    Many(u32),
}

impl Prior {
    /// The rows `key` names (see [`match_keys`]), to take from with
    /// [`Prior::take_done_of`] and [`Prior::take_unconfirmed_of`].
    pub fn find(&self, key: &str) -> Option<Rows> {
        self.by_key.get(key).copied()
    }

    /// Takes the first done row of `rows` not taken yet.
    pub fn take_done_of(&mut self, rows: Rows) -> Option<Done> {
        self.take(rows, Outcome::is_done)
    }

    /// Takes the first row of `rows` that may have reached the server
    /// without an answer.
    pub fn take_unconfirmed_of(&mut self, rows: Rows) -> bool {
        self.take(rows, |o| {
            matches!(o, Outcome::Unconfirmed | Outcome::InFlight)
        })
        .is_some()
    }

    fn take(&mut self, rows: Rows, want: impl Fn(Outcome) -> bool) -> Option<Done> {
        let ns: &[u32] = match &rows {
            Rows::One(n) => std::slice::from_ref(n),
            Rows::Many(m) => &self.many[*m as usize],
        };
        for &n in ns {
            let row = &mut self.rows[n as usize];
            if row.done.is_some() && want(row.outcome) {
                return row.done.take();
            }
        }
        None
    }

    /// Whether a row with these keys was a problem (invalid, failed,
    /// unconfirmed) in the earlier report.
    pub fn was_a_problem<K: AsRef<str>>(&self, keys: &[K]) -> bool {
        keys.iter().any(|k| self.problems.contains(k.as_ref()))
    }

    /// Whether it holds nothing to match.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.problems.is_empty()
    }

    /// How many rows it holds done.
    #[cfg(test)]
    pub fn done_rows(&self) -> usize {
        self.rows.iter().filter(|r| r.outcome.is_done()).count()
    }
}

/// How the keys of way `way` begin (see [`match_keys`]).
fn way_tag(way: usize) -> char {
    char::from(b'0' + way as u8)
}

/// The way a key of [`match_keys`] is of (its tag read back).
pub fn way_of(key: &str) -> usize {
    usize::from(key.as_bytes()[0] - b'0')
}

/// Every key a row with these identity cells matches by: one per way of
/// its job's [`Identity`] that the row fills (by name, by id).
///
/// A key is the way's number, the org and the way's cells, compared as the
/// server would: NFC, lower case, and an empty cell that has a server-side
/// default (ACCESS → `now`) as that default.
pub fn match_keys<S: AsRef<str>>(identity: &Identity, org: &str, cells: &[S]) -> Vec<String> {
    let mut keys = Vec::with_capacity(identity.ways.len());
    let mut buf = Vec::with_capacity(64);
    each_match_key(identity, org, cells, &mut buf, |key| {
        keys.push(key.to_string())
    });
    keys
}

/// [`match_keys`], each key made in `buf` and handed to `each` in turn:
/// matching a nightly resume's hundred thousand rows makes no string.
pub fn each_match_key<S: AsRef<str>>(
    identity: &Identity,
    org: &str,
    cells: &[S],
    buf: &mut Vec<u8>,
    mut each: impl FnMut(&str),
) {
    for (w, way) in identity.ways.iter().enumerate() {
        if cells
            .get(way[0])
            .is_none_or(|c| c.as_ref().trim().is_empty())
        {
            continue;
        }
        let k = &mut *buf;
        k.clear();
        k.push(way_tag(w) as u8);
        k.push(0x1e);
        push_fold(org, k);
        for &i in way.iter() {
            let cell = cells.get(i).map(AsRef::as_ref).unwrap_or("");
            let cell = match identity.defaults.iter().find(|(d, _)| *d == i) {
                Some((_, default)) if cell.trim().is_empty() => default,
                _ => cell,
            };
            k.push(0x1f);
            push_fold(cell, k);
        }
        each(std::str::from_utf8(k).unwrap_or_default());
    }
}

/// Reads a report or journal of this very job, whole, or refuses it: a row
/// skipped because it could not be read would be sent again. Only a torn
/// last line (a killed run) is ignored; rows journaled in flight and never
/// answered count as unconfirmed. Event lines of a journal (a resource
/// being created, created) are read and left to the list the next run
/// reads: a created resource is found there by its name.
pub fn read_prior(path: &Path, identity: &Identity) -> Result<Prior> {
    let mut rows = read_rows(path, identity)
        .with_context(|| format!("cannot use the earlier report {}", path.display()))?;
    let kept = |o: Outcome| o.is_done() || matches!(o, Outcome::Unconfirmed | Outcome::InFlight);
    // The table is sized for the keys it will hold: most rows have one (a
    // table twice that size is twice the memory to fault in and miss).
    let keys = rows
        .iter()
        .filter(|r| kept(r.outcome))
        .map(|r| r.keys.len())
        .sum();
    let mut prior = Prior {
        date: modified_day(path),
        by_key: HashMap::with_capacity_and_hasher(keys, Fast::default()),
        ..Prior::default()
    };
    // The rows kept stay where they were read (a nightly resume's hundred
    // thousand are not copied): `n` is a row's place once the others are
    // gone.
    let mut n = 0u32;
    for r in &mut rows {
        if matches!(
            r.outcome,
            Outcome::Invalid | Outcome::Failed | Outcome::Unconfirmed | Outcome::InFlight
        ) {
            prior.problems.extend(r.keys.iter().cloned());
        }
        if !kept(r.outcome) {
            continue;
        }
        for key in std::mem::take(&mut r.keys) {
            match prior.by_key.entry(key) {
                Entry::Occupied(mut e) => match *e.get() {
                    Rows::One(first) => {
                        *e.get_mut() = Rows::Many(prior.many.len() as u32);
                        prior.many.push(vec![first, n]);
                    }
                    Rows::Many(m) => prior.many[m as usize].push(n),
                },
                Entry::Vacant(e) => {
                    e.insert(Rows::One(n));
                }
            }
        }
        n += 1;
    }
    rows.retain(|r| kept(r.outcome));
    prior.rows = rows;
    Ok(prior)
}

/// The day a file was last written, in UTC (`YYYY-MM-DD`); today when it
/// cannot be told.
fn modified_day(path: &Path) -> String {
    let when = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(chrono::DateTime::<chrono::Utc>::from)
        .unwrap_or_else(|_| chrono::Utc::now());
    when.format("%Y-%m-%d").to_string()
}

/// Whether a report holds a row that reached a server: `requested`,
/// `unconfirmed`, in flight, or `failed` with an HTTP status.
pub fn reached_server(path: &Path, identity: &Identity) -> Result<bool> {
    Ok(read_rows(path, identity)?.iter().any(|r| {
        matches!(
            r.outcome,
            Outcome::Requested | Outcome::Unconfirmed | Outcome::InFlight
        ) || (r.outcome == Outcome::Failed && r.reached)
    }))
}

/// A report's lines after its header: each call fills the record with
/// one line's cells, or says why that line cannot be read; `None` at the
/// end. The records are reused from batch to batch (see `in_batches`): a
/// nightly resume reads a report of a hundred thousand rows.
type Lines = Box<dyn FnMut(&mut csv::StringRecord) -> Option<Result<(), String>>>;

/// Lines already split into cells (JSON lines, a workbook's rows), as
/// [`Lines`].
fn from_cells(lines: Vec<Result<Vec<String>, String>>) -> Lines {
    let mut lines = lines.into_iter();
    Box::new(move |rec| {
        lines.next().map(|line| {
            line.map(|cells| {
                rec.clear();
                for c in &cells {
                    rec.push_field(c);
                }
            })
        })
    })
}

/// Report lines made rows together (see `read_rows`).
const BATCH_LINES: usize = 4_096;

/// A report line read.
#[derive(Debug)]
struct ReadRow {
    row: u64,
    /// Its match keys, until they are in the table of keys.
    keys: Vec<String>,
    outcome: Outcome,
    /// Whether it reached a server (it has an HTTP status).
    reached: bool,
    /// Taken (moved out) the one time a row of this run matches it.
    done: Option<Done>,
}

/// Every row of a report, read, in the order of its first line: a journal
/// may hold a row twice (in flight, then answered), and the last line wins.
fn read_rows(path: &Path, identity: &Identity) -> Result<Vec<ReadRow>> {
    let want = columns(identity.columns, identity.extra);
    // This job's columns; the same before the columns after `message`
    // existed; the same before the name columns existed.
    let accepted = [
        want.clone(),
        columns(identity.columns, &[]),
        columns(identity.legacy_columns, &[]),
    ];
    let format = ReportFormat::from_path(path)?;
    let (mut next, layout) = match format {
        ReportFormat::Csv => csv_lines(path, &accepted)?,
        ReportFormat::Jsonl => jsonl_lines(path, &accepted)?,
        ReportFormat::Xlsx => xlsx_lines(path, &accepted)?,
    };
    // Where each of this job's columns is in the file (an older report
    // lacks the name columns: they read as empty).
    let from: Vec<Option<usize>> = want
        .iter()
        .map(|c| accepted[layout].iter().position(|f| f == c))
        .collect();
    let width = accepted[layout].len();
    // The CSV report guards cells a spreadsheet would run ('=...).
    let guarded = format == ReportFormat::Csv;
    // Only a journal's last line, cut short by a kill before its newline,
    // may be torn; a line that ends in a newline was written whole. A
    // line that cannot be read is held until the next one shows it was
    // not the last.
    let ends_whole = last_byte(path).is_none_or(|c| c == b'\n');
    // Sized for the rows a file this large holds (a report line is rarely
    // under 64 bytes), so they are not copied as the table grows; at most
    // four million up front, whatever size a file claims (a sparse one
    // would otherwise reserve memory for rows it does not hold).
    let guess = std::fs::metadata(path).map_or(0, |m| (m.len() / 64).min(1 << 22) as usize);
    let mut gathered = Gathered {
        out: Vec::with_capacity(guess),
        at: HashMap::default(),
        torn: None,
        ends_whole,
    };
    let refused = |at: usize, e: String| {
        anyhow!("line {at} {e}; refusing the whole file, since a row skipped would be sent again")
    };
    in_batches(&mut next, |batch, first| {
        // Each line's cells as a row read (`at`: its line number); a
        // worker reuses one list of cells from line to line.
        let rows: Vec<Result<Option<ReadRow>>> = batch
            .par_iter()
            .enumerate()
            .with_min_len(256)
            .map_init(Vec::new, |cells, (k, read)| {
                let at = first + k;
                let rec = read.as_ref().map_err(|e| refused(at, e.clone()))?;
                if rec.len() != width {
                    return Err(refused(at, format!("has {} cells, not {width}", rec.len())));
                }
                cells.clear();
                cells.extend(from.iter().map(|f| match f {
                    Some(i) if guarded => unguard(&rec[*i]),
                    Some(i) => &rec[*i],
                    None => "",
                }));
                parse_line(cells, at, identity)
            })
            .collect();
        rows.into_iter().try_for_each(|row| gathered.push(row))
    })?;
    Ok(gathered.out)
}

/// Reads `next`'s lines in order, a batch at a time, and hands each batch
/// to `each` with the line number of its first line, so that a batch's
/// lines can be made rows in parallel (their keys folded, their cells
/// copied: a nightly resume reads a hundred thousand). The records are
/// reused from batch to batch.
fn in_batches(
    next: &mut Lines,
    mut each: impl FnMut(&[Result<csv::StringRecord, String>], usize) -> Result<()>,
) -> Result<()> {
    let mut batch: Vec<Result<csv::StringRecord, String>> = Vec::with_capacity(BATCH_LINES);
    let mut spare: Vec<csv::StringRecord> = Vec::new();
    // The header is line 1 of the report.
    let mut line = 2;
    loop {
        spare.extend(batch.drain(..).flatten());
        while batch.len() < BATCH_LINES {
            let mut rec = spare.pop().unwrap_or_default();
            match next(&mut rec) {
                Some(read) => batch.push(read.map(|()| rec)),
                None => break,
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        each(&batch, line)?;
        line += batch.len();
    }
}

/// The rows of a report, line by line (see `read_rows`).
struct Gathered {
    out: Vec<ReadRow>,
    /// Row number → its place in `out`, once a row came again or out of
    /// order.
    at: HashMap<u64, usize, Fast>,
    /// Why the last line could not be read, held until a next line shows
    /// it was not the last.
    torn: Option<anyhow::Error>,
    ends_whole: bool,
}

impl Gathered {
    /// The next line's row: a later line of a row replaces the earlier; a
    /// line that cannot be read refuses the file, unless it is the last of
    /// a file cut short.
    fn push(&mut self, row: Result<Option<ReadRow>>) -> Result<()> {
        if let Some(e) = self.torn.take() {
            return Err(e);
        }
        match row {
            // A report's rows come in order, each once: no table is
            // needed until a row comes again or out of order (a journal).
            Ok(Some(row))
                if self.at.is_empty() && self.out.last().is_none_or(|l| l.row < row.row) =>
            {
                self.out.push(row)
            }
            Ok(Some(row)) => {
                if self.at.is_empty() {
                    self.at
                        .extend(self.out.iter().enumerate().map(|(k, r)| (r.row, k)));
                }
                match self.at.entry(row.row) {
                    Entry::Occupied(e) => self.out[*e.get()] = row,
                    Entry::Vacant(e) => {
                        e.insert(self.out.len());
                        self.out.push(row);
                    }
                }
            }
            // An event of the journal, not a row.
            Ok(None) => {}
            Err(e) if !self.ends_whole => self.torn = Some(e),
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

/// One line's cells (in this job's layout: an older report's were moved
/// into it) as a row read; `None` for an event line.
fn parse_line(cells: &[&str], at: usize, identity: &Identity) -> Result<Option<ReadRow>> {
    // row, org, the identity cells, outcome, status, http_status,
    // attempts, message, then the extra cells.
    let keys = identity.columns.len();
    let Ok(row) = cells[0].parse::<u64>() else {
        bail!("line {at}: \"{}\" is not a row number", cells[0]);
    };
    let word = cells[2 + keys];
    // An event of the journal (a resource being created, created): the
    // next run finds the resource by its name in the list it reads.
    if row == 0 && ["creating", "created"].contains(&word.trim()) {
        return Ok(None);
    }
    // Reports spell outcomes in lower case; a hand-edited one may not.
    let parsed = word.trim().parse::<Outcome>();
    let Ok(outcome) = parsed.or_else(|_| word.trim().to_ascii_lowercase().parse::<Outcome>())
    else {
        bail!(
            "line {at} (row {row}): \"{word}\" is not an outcome of this tool ({}); fix or remove that line",
            Outcome::ALL.map(Outcome::as_str).join(", ")
        );
    };
    Ok(Some(ReadRow {
        row,
        keys: match_keys(identity, cells[1], &cells[2..2 + keys]),
        outcome,
        reached: !cells[2 + keys + 2].trim().is_empty(),
        done: Some(Done {
            outcome,
            message: cells[2 + keys + 4].to_string(),
            cells: Carried::new(&cells[2..2 + keys], &cells[2 + keys + 5..]),
        }),
    }))
}

fn not_ours(found: &[String], accepted: &[Vec<String>]) -> anyhow::Error {
    anyhow!(
        "it is not a report of this job (nor its journal): its columns are {}, and this job's are {}",
        found.join(","),
        accepted[0].join(",")
    )
}

/// Which of the accepted headers (this job's, or its older one) this is.
fn layout_of(header: &[String], accepted: &[Vec<String>]) -> Result<usize> {
    accepted
        .iter()
        .position(|a| a == header)
        .ok_or_else(|| not_ours(header, accepted))
}

fn csv_lines(path: &Path, accepted: &[Vec<String>]) -> Result<(Lines, usize)> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_path(path)?;
    let mut first = csv::ByteRecord::new();
    let header: Vec<String> = match r.read_byte_record(&mut first) {
        Ok(true) => first
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect(),
        _ => bail!("it is empty or not CSV"),
    };
    let layout = layout_of(&header, accepted)?;
    let next = move |rec: &mut csv::StringRecord| match r.read_record(rec) {
        Ok(true) => Some(Ok(())),
        Ok(false) => None,
        Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => {
            Some(Err("is not valid UTF-8".to_string()))
        }
        Err(e) => Some(Err(format!("cannot be read ({e})"))),
    };
    Ok((Box::new(next), layout))
}

fn jsonl_lines(path: &Path, accepted: &[Vec<String>]) -> Result<(Lines, usize)> {
    let bytes = std::fs::read(path)?;
    let mut lines = Vec::new();
    let mut layout = 0;
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
        if n == 0 {
            let fits =
                |a: &Vec<String>| obj.len() == a.len() && a.iter().all(|w| obj.contains_key(w));
            layout = accepted
                .iter()
                .position(fits)
                .ok_or_else(|| not_ours(&obj.keys().cloned().collect::<Vec<_>>(), accepted))?;
        }
        let cell = |name: &str| match obj.get(name) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        lines.push(Ok(accepted[layout].iter().map(|c| cell(c)).collect()));
    }
    Ok((from_cells(lines), layout))
}

fn xlsx_lines(path: &Path, accepted: &[Vec<String>]) -> Result<(Lines, usize)> {
    use calamine::{Reader, Xlsx, open_workbook};
    let mut wb: Xlsx<_> = open_workbook(path)?;
    let names = wb.sheet_names();
    let mut lines = Vec::new();
    let mut layout = None;
    for (i, name) in names.iter().enumerate() {
        let range = wb.worksheet_range(name)?;
        let mut rows = range.rows();
        let Some(header) = rows.next() else { continue };
        let header: Vec<String> = header.iter().map(cell_text).collect();
        match (accepted.iter().position(|a| *a == header), layout) {
            (Some(l), None) => layout = Some(l),
            (Some(l), Some(first)) if l == first => {}
            // The summary sheet; but a first sheet not ours is not a report.
            _ if i == 0 => return Err(not_ours(&header, accepted)),
            _ => continue,
        }
        lines.extend(rows.map(|r| Ok(r.iter().map(cell_text).collect())));
    }
    Ok((from_cells(lines), layout.unwrap_or(0)))
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
        let identity = crate::job::Job::identity(&crate::accounts::Accounts);
        let mut prior = read_prior(&p, identity).unwrap();
        assert_eq!(prior.done_rows(), 1);
        // By id alone: one key, of the ids' way.
        let rows = |prior: &Prior, rid: &str, name: &str| {
            let cells = [rid, "", name, ""].map(String::from);
            let keys = match_keys(identity, "", &cells);
            assert_eq!(keys.len(), 1);
            prior.find(&keys[0])
        };
        let root = rows(&prior, "901", "ROOT").unwrap();
        let done = prior.take_done_of(root).unwrap();
        assert_eq!(done.outcome, Outcome::Added);
        assert!(prior.take_done_of(root).is_none(), "used once");
        let admin = rows(&prior, "901", "admin").unwrap();
        assert!(prior.take_unconfirmed_of(admin));
        assert!(rows(&prior, "901", "web").is_none());
    }

    /// Lines are made rows a batch at a time: a line that cannot be read
    /// still refuses the file wherever it falls (the last of a batch
    /// included), only the file's torn last line is ignored, and a later
    /// line of a row still wins over an earlier one in another batch.
    #[test]
    fn batches_keep_the_rules_of_lines_read_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let identity = crate::job::Job::identity(&crate::accounts::Accounts);
        let header =
            "row,org,resource_id,account_name,outcome,status,http_status,attempts,message\n";
        let lines = |n: usize| -> String {
            (0..n)
                .map(|i| format!("{},,901,svc{i},added,ok,200,1,\n", i + 2))
                .collect()
        };
        let p = dir.path().join("r.csv.partial");
        // The last line of the first batch is bad, and lines follow it in
        // the next batch; the file does not end in a newline, so a bad
        // line is held until the next one is read.
        let mut text = header.to_string() + &lines(BATCH_LINES - 1);
        text += "x,,901,bad,added,ok,200,1,\n";
        text += lines(3).trim_end();
        std::fs::write(&p, &text).unwrap();
        let e = read_prior(&p, identity).unwrap_err();
        let line = BATCH_LINES + 1;
        assert!(
            format!("{e:#}").contains(&format!("line {line}: \"x\" is not a row number")),
            "{e:#}"
        );
        // A torn last line after two batches is ignored; row 2 answered
        // again in the second batch is taken as its last line says.
        let mut text = header.to_string() + &lines(BATCH_LINES + 10);
        text += "2,,901,svc0,failed,no,500,1,\n9999999,,901,torn,add";
        std::fs::write(&p, &text).unwrap();
        let prior = read_prior(&p, identity).unwrap();
        assert_eq!(prior.done_rows(), BATCH_LINES + 9);
    }
}
