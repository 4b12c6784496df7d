//! Report lines formatted ahead of time. The rows settled before sending
//! (done in an earlier run, invalid, already on the server) are formatted
//! once, while the first requests go: the journal starts with them, and the
//! final CSV report writes each run of lines whose rows have not changed
//! since from where they are, instead of formatting them again. A nightly
//! resume carries a hundred thousand such rows, and the CPU is idle while
//! requests are in flight.
//!
//! A line is reused only while its row's stamp (see
//! [`ReportRows::stamp`]) is the one it was formatted under; rows the run
//! may still change in ways a stamp does not show are marked
//! [`Ahead::Journal`] when formatted. Debug builds (every test) format each
//! reused line again and compare.

use anyhow::Result;
use rayon::prelude::*;

use super::{CHUNK_ROWS, ReportRows, write_csv_row};

/// What a row's line formatted ahead of time is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ahead {
    /// Not formatted: the row is still to be sent.
    No,
    /// The journal only: the run may still change the row in a way its
    /// stamp does not show (its resource is created, an edit follows).
    Journal,
    /// The journal and the final report.
    Both,
    /// The final report only (an invalid row: the journal holds the rows
    /// that have a result).
    Report,
}

impl Ahead {
    fn journal(self) -> bool {
        matches!(self, Ahead::Journal | Ahead::Both)
    }

    fn report(self) -> bool {
        matches!(self, Ahead::Both | Ahead::Report)
    }
}

/// The lines of one run of [`CHUNK_ROWS`] report rows.
#[derive(Debug)]
struct Chunk {
    bytes: Vec<u8>,
    /// Per row: where its line ends in `bytes`; it begins where the row
    /// before ends (a row not formatted has an empty line).
    ends: Vec<u32>,
    ahead: Vec<Ahead>,
    /// Per row: its stamp when formatted.
    stamps: Vec<u32>,
}

impl Chunk {
    /// Where row `k`'s line begins in `bytes`.
    fn start(&self, k: usize) -> usize {
        if k == 0 { 0 } else { self.ends[k - 1] as usize }
    }
}

/// Report lines formatted ahead of time (see the module's doc).
#[derive(Debug, Default)]
pub struct Prewritten {
    chunks: Vec<Chunk>,
}

impl Prewritten {
    /// Formats, in parallel chunks, the line of every row `ahead` does not
    /// say [`Ahead::No`] to.
    pub fn format(
        rows: &dyn ReportRows,
        ahead: &(dyn Fn(usize) -> Ahead + Sync),
    ) -> Result<Prewritten> {
        let starts: Vec<usize> = (0..rows.len()).step_by(CHUNK_ROWS).collect();
        let chunks = starts
            .par_iter()
            .map(|&s| {
                let end = (s + CHUNK_ROWS).min(rows.len());
                let mut w = csv::Writer::from_writer(Vec::with_capacity((end - s) * 128));
                let mut chunk = Chunk {
                    bytes: Vec::new(),
                    ends: Vec::with_capacity(end - s),
                    ahead: Vec::with_capacity(end - s),
                    stamps: Vec::with_capacity(end - s),
                };
                let mut key = Vec::new();
                for i in s..end {
                    let a = ahead(i);
                    if a != Ahead::No {
                        rows.row(i, &mut key, &mut |v| Ok(write_csv_row(&mut w, v)?))?;
                        w.flush()?;
                    }
                    chunk.ends.push(len32(w.get_ref().len()));
                    chunk.ahead.push(a);
                    chunk.stamps.push(rows.stamp(i));
                }
                chunk.bytes = w
                    .into_inner()
                    .map_err(|e| anyhow::anyhow!("cannot format the report: {e}"))?;
                Ok(chunk)
            })
            .collect::<Result<Vec<Chunk>>>()?;
        Ok(Prewritten { chunks })
    }

    /// The journal's lines, in row order: runs of consecutive lines, each
    /// one slice.
    pub fn journal_lines(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks.iter().flat_map(|c| {
            let mut runs = Vec::new();
            let mut run: Option<(usize, usize)> = None;
            for (k, a) in c.ahead.iter().enumerate() {
                let (start, end) = (c.start(k), c.ends[k] as usize);
                match (&mut run, a.journal()) {
                    (Some((_, e)), true) if *e == start => *e = end,
                    (_, true) => {
                        if let Some(r) = run.replace((start, end)) {
                            runs.push(r);
                        }
                    }
                    (_, false) => {}
                }
            }
            runs.extend(run);
            runs.into_iter().map(|(s, e)| &c.bytes[s..e])
        })
    }

    /// The lines of rows `i..end` for the final report, as one slice: as
    /// many rows from `i` as were formatted for it, each still under the
    /// stamp `stamp` gives, within one chunk (so their lines lie one after
    /// another); and how many rows that is. `None` when row `i`'s does not
    /// hold.
    pub fn lines(
        &self,
        i: usize,
        end: usize,
        stamp: &dyn Fn(usize) -> u32,
    ) -> Option<(&[u8], usize)> {
        let c = self.chunks.get(i / CHUNK_ROWS)?;
        let first = i % CHUNK_ROWS;
        let last = c.ahead.len().min(first + end.saturating_sub(i));
        let n = (first..last)
            .take_while(|&k| c.ahead[k].report() && c.stamps[k] == stamp(i + k - first))
            .count();
        (n > 0).then(|| (&c.bytes[c.start(first)..c.ends[first + n - 1] as usize], n))
    }
}

#[cfg(test)]
impl Prewritten {
    /// One line for the journal, as formatted elsewhere (for the journal's
    /// tests).
    pub fn journal_line(line: &[u8]) -> Prewritten {
        Prewritten {
            chunks: vec![Chunk {
                bytes: line.to_vec(),
                ends: vec![len32(line.len())],
                ahead: vec![Ahead::Journal],
                stamps: vec![0],
            }],
        }
    }
}

/// A chunk's length as a line end: a chunk is at most [`CHUNK_ROWS`] rows
/// of cells read from a file, far below 4 GB.
fn len32(n: usize) -> u32 {
    u32::try_from(n).expect("a chunk of report lines under 4 GB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use crate::report::RowView;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Rows whose message is their number, and whose stamps can change.
    struct Numbered {
        stamps: Vec<AtomicU32>,
    }

    impl ReportRows for Numbered {
        fn len(&self) -> usize {
            self.stamps.len()
        }

        fn row(
            &self,
            i: usize,
            key: &mut Vec<String>,
            emit: &mut super::super::Emit<'_>,
        ) -> Result<()> {
            key.clear();
            key.push(format!("k{i}"));
            let message = format!("m{i}");
            emit(&RowView {
                row: i as u64 + 2,
                org: "",
                key,
                outcome: Outcome::Skipped,
                status: "",
                http_status: None,
                attempts: 0,
                message: &message,
                extra: &[],
            })
        }

        fn stamp(&self, i: usize) -> u32 {
            self.stamps[i].load(Ordering::Relaxed)
        }
    }

    fn line(i: usize) -> String {
        format!("{},,k{i},skipped,,,0,m{i}\n", i + 2)
    }

    #[test]
    fn lines_serve_the_journal_and_the_report_as_marked_and_while_stamped() {
        let n = CHUNK_ROWS + 5;
        let rows = Numbered {
            stamps: (0..n).map(|i| AtomicU32::new(i as u32 + 1)).collect(),
        };
        // Row 1 is to be sent, row 2 only for the journal, row 3 only for
        // the report; the rest for both.
        let ahead = |i: usize| match i {
            1 => Ahead::No,
            2 => Ahead::Journal,
            3 => Ahead::Report,
            _ => Ahead::Both,
        };
        let pre = Prewritten::format(&rows, &ahead).unwrap();
        let journal: Vec<u8> = pre.journal_lines().flatten().copied().collect();
        let want: String = (0..n).filter(|i| ![1, 3].contains(i)).map(line).collect();
        assert_eq!(String::from_utf8(journal).unwrap(), want);
        // In the first chunk, rows 0 and 2 (row 1 has no line) are one
        // run and row 3 ends it; the second chunk's rows are one more.
        assert_eq!(pre.journal_lines().count(), 3);
        let text = |i: usize| {
            pre.lines(i, i + 1, &|k| rows.stamp(k))
                .map(|(l, _)| String::from_utf8(l.to_vec()).unwrap())
        };
        assert_eq!(text(0), Some(line(0)));
        assert_eq!(text(1), None, "not formatted");
        assert_eq!(text(2), None, "for the journal only");
        assert_eq!(text(3), Some(line(3)));
        assert_eq!(text(CHUNK_ROWS + 4), Some(line(CHUNK_ROWS + 4)));
        assert_eq!(pre.lines(n, n + 1, &|_| 0), None, "past the end");
        // Runs of lines, each one slice within a chunk, up to `end`.
        let run = |i: usize, end: usize| {
            pre.lines(i, end, &|k| rows.stamp(k))
                .map(|(l, n)| (String::from_utf8(l.to_vec()).unwrap(), n))
        };
        assert_eq!(run(0, n), Some((line(0), 1)), "row 1 was not formatted");
        assert_eq!(
            run(3, n),
            Some(((3..CHUNK_ROWS).map(line).collect(), CHUNK_ROWS - 3))
        );
        assert_eq!(
            run(4, 6),
            Some((line(4) + &line(5), 2)),
            "up to the end asked"
        );
        assert_eq!(
            run(CHUNK_ROWS, n),
            Some(((CHUNK_ROWS..n).map(line).collect(), 5))
        );
        assert_eq!(run(2, n), None, "for the journal only");
        // A row whose stamp changed is formatted again, and ends a run.
        rows.stamps[5].store(98, Ordering::Relaxed);
        assert_eq!(run(4, n), Some((line(4), 1)));
        rows.stamps[0].store(99, Ordering::Relaxed);
        assert_eq!(text(0), None);
        assert_eq!(text(4), Some(line(4)));
    }
}
