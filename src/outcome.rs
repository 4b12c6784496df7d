//! What became of a row: the outcome words of the report, and the result a
//! row carries from the sender to the report.

use strum::EnumCount;

/// The final state of one input row. Its words (`added`, `not_sent`, …) come
/// from strum: written by `Display` and `as_str`, read back by `FromStr`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumCount,
)]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    Added,
    /// An account that existed was edited, or its password changed.
    Updated,
    Exists,
    Requested,
    Skipped,
    Planned,
    Failed,
    Invalid,
    Unconfirmed,
    NotSent,
    /// Only in the journal: the row was about to be sent when it was written.
    InFlight,
    /// Only in the journal, as an event (row 0): a resource about to be
    /// created.
    Creating,
    /// Only in the journal, as an event (row 0): a resource created, with
    /// its id.
    Created,
}

/// How many outcomes there are, for counting in an array.
pub const OUTCOMES: usize = Outcome::COUNT;

impl Outcome {
    pub const ALL: [Outcome; 10] = [
        Outcome::Added,
        Outcome::Updated,
        Outcome::Exists,
        Outcome::Requested,
        Outcome::Skipped,
        Outcome::Planned,
        Outcome::Failed,
        Outcome::Invalid,
        Outcome::Unconfirmed,
        Outcome::NotSent,
    ];

    /// The report's word for it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether the row needs nothing more (exit code 0 when every row is).
    pub fn is_ok(self) -> bool {
        matches!(
            self,
            Outcome::Added
                | Outcome::Updated
                | Outcome::Exists
                | Outcome::Requested
                | Outcome::Skipped
                | Outcome::Planned
        )
    }

    /// Whether a report row with this outcome means the work is on the
    /// server, so `--resume` does not send it again.
    pub fn is_done(self) -> bool {
        matches!(
            self,
            Outcome::Added
                | Outcome::Updated
                | Outcome::Exists
                | Outcome::Requested
                | Outcome::Skipped
        )
    }
}

/// `n` and the noun, plural unless `n` is 1: "1 row", "2 rows".
pub fn counted(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// The result of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowResult {
    pub outcome: Outcome,
    /// The server's STATUS text, verbatim (secrets masked).
    pub status: String,
    pub http_status: Option<u16>,
    pub attempts: u32,
    /// Why, in words a person can act on.
    pub message: String,
    /// What a skipped row carries from the earlier report's row.
    pub carried: Option<Box<Carried>>,
}

/// The cells a skipped row carries from the earlier report's row: its
/// identity cells (ids the input did not give are taken from here), then
/// its cells after `message` (the fingerprint of what was done, instead of
/// the row's own). Packed in one string: a nightly resume carries a
/// hundred thousand rows, and a string per cell was most of the
/// allocations of reading and matching them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Carried {
    text: Box<str>,
    /// Where each cell ends in `text`: the identity cells, then the others.
    ends: Box<[u32]>,
    /// How many identity cells.
    keys: usize,
}

impl Carried {
    pub fn new(key: &[&str], extra: &[&str]) -> Carried {
        let cells = || key.iter().chain(extra);
        // Sized at once: no string grows, and none is copied to shrink.
        let mut text = String::with_capacity(cells().map(|c| c.len()).sum());
        let mut ends = Vec::with_capacity(key.len() + extra.len());
        for cell in cells() {
            text.push_str(cell);
            ends.push(end_of(&text));
        }
        Carried {
            text: text.into_boxed_str(),
            ends: ends.into_boxed_slice(),
            keys: key.len(),
        }
    }

    fn cell(&self, n: usize) -> &str {
        let start = if n == 0 { 0 } else { self.ends[n - 1] as usize };
        &self.text[start..self.ends[n] as usize]
    }

    /// Its identity cells.
    pub fn key(&self) -> impl ExactSizeIterator<Item = &str> {
        (0..self.keys).map(|n| self.cell(n))
    }

    /// Its identity cell `k`.
    pub fn key_cell(&self, k: usize) -> Option<&str> {
        (k < self.keys).then(|| self.cell(k))
    }

    /// Its cells after `message`.
    pub fn extra(&self) -> impl ExactSizeIterator<Item = &str> {
        (self.keys..self.ends.len()).map(|n| self.cell(n))
    }
}

/// Where a cell ends: cells come from one report line, far below 4 GB.
fn end_of(text: &str) -> u32 {
    u32::try_from(text.len()).expect("a report line under 4 GB")
}

impl RowResult {
    pub fn new(outcome: Outcome, message: impl Into<String>) -> Self {
        RowResult {
            outcome,
            status: String::new(),
            http_status: None,
            attempts: 0,
            message: message.into(),
            carried: None,
        }
    }
}

/// Every checked row's result, kept compact: a row costs 4 bytes until it
/// has a result of its own, and a dry run's rows only point at their request.
#[derive(Debug, Default)]
pub struct Results {
    /// Per row: 0 when open, else a tag in the top two bits and an index.
    state: Vec<u32>,
    stored: Vec<RowResult>,
    plans: Vec<String>,
}

const PLANNED: u32 = 1 << 30;
const STORED: u32 = 2 << 30;
const INDEX: u32 = (1 << 30) - 1;

impl Results {
    pub fn new(rows: usize) -> Self {
        Results {
            state: vec![0; rows],
            stored: Vec::new(),
            plans: Vec::new(),
        }
    }

    /// How many requests a dry run planned.
    pub fn planned_requests(&self) -> usize {
        self.plans.len()
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.state.len()
    }

    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    /// Whether row `i` has no result yet.
    pub fn is_open(&self, i: usize) -> bool {
        self.state[i] == 0
    }

    pub fn set(&mut self, i: usize, result: RowResult) {
        self.state[i] = STORED | self.stored.len() as u32;
        self.stored.push(result);
    }

    /// Whether row `i` has a result of its own (not open, not planned).
    pub fn is_stored(&self, i: usize) -> bool {
        self.state[i] & !INDEX == STORED
    }

    /// A number that changes whenever row `i`'s result is set or planned
    /// (0 while it is open): see `report::Prewritten`.
    pub fn stamp(&self, i: usize) -> u32 {
        self.state[i]
    }

    /// Sets the result of each of `rows`, made in parallel by `made` (in
    /// the same order) straight into place: a nightly resume sets a
    /// hundred thousand at once.
    pub fn set_all(
        &mut self,
        rows: &[usize],
        made: impl rayon::iter::IndexedParallelIterator<Item = RowResult>,
    ) {
        use rayon::iter::ParallelExtend;
        let base = self.stored.len();
        self.stored.par_extend(made);
        assert_eq!(self.stored.len() - base, rows.len(), "a result a row");
        for (k, &i) in rows.iter().enumerate() {
            self.state[i] = STORED | (base + k) as u32;
        }
    }

    /// Marks rows planned in one request, described by `message`.
    pub fn plan(&mut self, rows: &[u32], message: String) {
        let n = self.plans.len() as u32;
        self.plans.push(message);
        for &i in rows {
            self.state[i as usize] = PLANNED | n;
        }
    }

    /// Row `i`'s result, borrowed: (outcome, status, http status, attempts,
    /// message).
    pub fn view(&self, i: usize) -> Option<(Outcome, &str, Option<u16>, u32, &str)> {
        let s = self.state[i];
        let n = (s & INDEX) as usize;
        match s & !INDEX {
            STORED => {
                let r = &self.stored[n];
                Some((r.outcome, &r.status, r.http_status, r.attempts, &r.message))
            }
            PLANNED => Some((Outcome::Planned, "", None, 0, &self.plans[n])),
            _ => None,
        }
    }

    /// The report cells row `i` carries from an earlier report, if any.
    pub fn carried(&self, i: usize) -> Option<&Carried> {
        let s = self.state[i];
        match s & !INDEX {
            STORED => self.stored[(s & INDEX) as usize].carried.as_deref(),
            _ => None,
        }
    }

    /// Row `i`'s result, owned.
    pub fn get(&self, i: usize) -> Option<RowResult> {
        let s = self.state[i];
        if s & !INDEX == STORED {
            return Some(self.stored[(s & INDEX) as usize].clone());
        }
        let (outcome, status, http_status, attempts, message) = self.view(i)?;
        Some(RowResult {
            outcome,
            status: status.to_string(),
            http_status,
            attempts,
            message: message.to_string(),
            carried: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_set_all_at_once_land_on_their_rows() {
        use rayon::prelude::*;
        let mut r = Results::new(5);
        r.set(0, RowResult::new(Outcome::Invalid, "first"));
        let made = ["a", "b"]
            .into_par_iter()
            .map(|m| RowResult::new(Outcome::Skipped, m));
        r.set_all(&[3, 1], made);
        let message = |i| r.get(i).map(|r| r.message);
        assert_eq!(message(0).as_deref(), Some("first"));
        assert_eq!(message(3).as_deref(), Some("a"));
        assert_eq!(message(1).as_deref(), Some("b"));
        assert!(r.is_open(2) && r.is_open(4));
    }

    #[test]
    fn carried_cells_come_back_as_given() {
        let c = Carried::new(&["901", "", "svc"], &["v1:ab", ""]);
        assert_eq!(c.key().collect::<Vec<_>>(), ["901", "", "svc"]);
        assert_eq!(c.key_cell(2), Some("svc"));
        assert_eq!(c.key_cell(3), None, "an extra cell is no identity cell");
        assert_eq!(c.extra().collect::<Vec<_>>(), ["v1:ab", ""]);
        let none = Carried::new(&[], &[]);
        assert_eq!(none.key().len() + none.extra().len(), 0);
        assert_eq!(none, Carried::default());
    }

    #[test]
    fn the_report_words_round_trip() {
        let words: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(
            words,
            [
                "added",
                "updated",
                "exists",
                "requested",
                "skipped",
                "planned",
                "failed",
                "invalid",
                "unconfirmed",
                "not_sent"
            ]
        );
        let journal_only = [Outcome::InFlight, Outcome::Creating, Outcome::Created];
        for o in Outcome::ALL.iter().chain(&journal_only) {
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(*o));
            assert_eq!(o.to_string(), o.as_str());
        }
        assert!("Added".parse::<Outcome>().is_err(), "callers fold case");
        assert_eq!(OUTCOMES, Outcome::ALL.len() + journal_only.len());
    }
}
