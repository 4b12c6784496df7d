//! Checking the rows as they are read: in parallel within a batch (rayon),
//! then in input order for what depends on earlier rows (orgs); duplicates
//! are found once everything is read, from a hash per row.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::fast::RandomState;

use anyhow::Result;
use rayon::prelude::*;

use crate::input::{RawRow, RowSink};
use crate::job::{Checked, Job};
use crate::schema::Header;

/// A row's place in the input: checked, or invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Valid(u32),
    Invalid(u32),
}

/// A row that failed its checks: data for the report stage, which makes
/// its report row.
#[derive(Debug, Clone)]
pub struct Invalid {
    /// Spreadsheet row number.
    pub row: u64,
    /// Its org, as an index into `Collected::orgs`.
    pub org: u32,
    /// The identity cells as typed.
    pub key: Vec<String>,
    /// Every problem, each naming its column.
    pub message: String,
}

/// Everything read and checked, in input order.
pub struct Collected<I> {
    pub items: Vec<Checked<I>>,
    /// The orgs rows name; `Checked::org` indexes it. Entry 0 is no org.
    pub orgs: Vec<Option<Arc<str>>>,
    pub invalid: Vec<Invalid>,
    /// Input order: an index into `items`, or into `invalid` with the top
    /// bit set (4 bytes a row).
    order: Vec<u32>,
    pub ignored_columns: Vec<String>,
    /// Per schema column, whether the input's header has it.
    pub present: Vec<bool>,
}

const INVALID_BIT: u32 = 1 << 31;

impl<I> Collected<I> {
    /// The org of a checked row.
    pub fn org(&self, c: &Checked<I>) -> Option<&Arc<str>> {
        self.orgs[c.org as usize].as_ref()
    }

    /// The org of a checked row as text ("" for none).
    pub fn org_str(&self, c: &Checked<I>) -> &str {
        self.org_name(c.org)
    }

    /// The org at this index of the org table as text ("" for none).
    pub fn org_name(&self, org: u32) -> &str {
        self.orgs[org as usize].as_deref().unwrap_or("")
    }

    /// Every row in input order.
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        (0..self.order.len()).map(|i| self.entry(i))
    }

    /// The row at input position `i`.
    pub fn entry(&self, i: usize) -> Entry {
        let e = self.order[i];
        if e & INVALID_BIT != 0 {
            Entry::Invalid(e & !INVALID_BIT)
        } else {
            Entry::Valid(e)
        }
    }

    /// Whether the input's header has the schema column at `slot`.
    pub fn has_column(&self, slot: usize) -> bool {
        self.present.get(slot).copied().unwrap_or(false)
    }

    /// How many data rows were read.
    pub fn rows(&self) -> usize {
        self.order.len()
    }
}

/// A [`RowSink`] that checks rows into [`Collected`].
pub struct Collector<'a, J: Job> {
    job: &'a J,
    ignore_unknown: bool,
    default_org: Option<String>,
    header: Option<Header>,
    /// Where the ORGNAME column is in the input, if it is there.
    org_column: Option<usize>,
    /// Org name → its index in `Collected::orgs`.
    orgs: HashMap<String, u32>,
    /// Each checked row's duplicate hash (see [`dup_hash`]) in the top half
    /// and its index in `items` in the bottom half: sorted at the end.
    hashes: Vec<u64>,
    hasher: RandomState,
    out: Collected<J::Item>,
}

impl<'a, J: Job> Collector<'a, J> {
    pub fn new(job: &'a J, ignore_unknown: bool, default_org: Option<&str>) -> Self {
        Collector {
            job,
            ignore_unknown,
            default_org: default_org.map(str::to_string),
            header: None,
            org_column: None,
            orgs: HashMap::new(),
            hashes: Vec::new(),
            hasher: RandomState::default(),
            out: Collected {
                items: Vec::new(),
                orgs: vec![None],
                invalid: Vec::new(),
                order: Vec::new(),
                ignored_columns: Vec::new(),
                present: Vec::new(),
            },
        }
    }

    /// Everything read, with duplicates found.
    pub fn finish(mut self) -> Collected<J::Item> {
        self.drop_duplicates();
        self.out
    }

    /// Makes every row that repeats an earlier valid row (same org and job
    /// key) invalid: "duplicate of row N", N the first row of that key.
    ///
    /// Sorting (hash, index) pairs puts candidates side by side: in parallel,
    /// and over memory read in order, where probing a table of a million
    /// rows row by row would miss the cache on every row. Rows of one hash
    /// are a handful at most, compared in input order (a 32-bit hash can be
    /// shared by different keys).
    fn drop_duplicates(&mut self) {
        let mut pairs = std::mem::take(&mut self.hashes);
        pairs.par_sort_unstable();
        let (job, items, orgs) = (self.job, &self.out.items, &self.out.orgs);
        // Orgs compare as the server would: "Acme" and "ACME" are one org.
        let same_org = |a: u32, b: u32| {
            a == b
                || match (&orgs[a as usize], &orgs[b as usize]) {
                    (Some(a), Some(b)) => crate::names::eq_fold(a, b),
                    _ => false,
                }
        };
        let same = |a: u32, b: u32| {
            let (a, b) = (&items[a as usize], &items[b as usize]);
            same_org(a.org, b.org) && job.same(&a.item, &b.item)
        };
        // (index of a duplicate, index of the first row of its key)
        let mut dups: Vec<(u32, u32)> = Vec::new();
        let mut firsts: Vec<u32> = Vec::new();
        for run in pairs.chunk_by(|a, b| a >> 32 == b >> 32) {
            if run.len() == 1 {
                continue;
            }
            firsts.clear();
            for &pair in run {
                let i = pair as u32;
                match firsts.iter().find(|&&f| same(f, i)) {
                    Some(&f) => dups.push((i, f)),
                    None => firsts.push(i),
                }
            }
        }
        drop(pairs);
        if dups.is_empty() {
            return;
        }
        dups.sort_unstable();
        // Valid rows appear in `order` by increasing index: one pass turns
        // duplicates into invalid rows and renumbers the rest.
        let out = &mut self.out;
        let mut next = dups.iter().peekable();
        let mut kept = 0u32;
        for entry in out.order.iter_mut() {
            if *entry & INVALID_BIT != 0 {
                continue;
            }
            match next.next_if(|(i, _)| i == entry) {
                Some(&(i, first)) => {
                    let c = &out.items[i as usize];
                    *entry = out.invalid.len() as u32 | INVALID_BIT;
                    out.invalid.push(Invalid {
                        row: c.row.into(),
                        org: c.org,
                        key: job.key(&c.item),
                        message: crate::body::duplicate_message(
                            out.items[first as usize].row.into(),
                            &job.differences(&out.items[first as usize].item, &c.item),
                        ),
                    });
                }
                None => {
                    *entry = kept;
                    kept += 1;
                }
            }
        }
        let mut next = dups.iter().peekable();
        let mut index = 0u32;
        out.items.retain(|_| {
            let dup = next.next_if(|(i, _)| *i == index).is_some();
            index += 1;
            !dup
        });
    }

    /// The row's org index: its ORGNAME cell, else `--org`, else none (0).
    fn org(&mut self, row: &RawRow) -> u32 {
        let cell = self.org_column.map(|i| row.field(i).trim()).unwrap_or("");
        let name = if cell.is_empty() {
            match &self.default_org {
                Some(o) => o.as_str(),
                None => return 0,
            }
        } else {
            cell
        };
        if let Some(&n) = self.orgs.get(name) {
            return n;
        }
        let n = self.out.orgs.len() as u32;
        self.out.orgs.push(Some(Arc::from(name)));
        self.orgs.insert(name.to_string(), n);
        n
    }

    fn push_invalid(&mut self, row: u64, org: u32, key: Vec<String>, message: String) {
        self.out
            .order
            .push(self.out.invalid.len() as u32 | INVALID_BIT);
        self.out.invalid.push(Invalid {
            row,
            org,
            key,
            message,
        });
    }
}

impl<J: Job> RowSink for Collector<'_, J> {
    fn header(&mut self, names: &[String]) -> Result<()> {
        let header = self.job.schema().resolve_all(names, self.ignore_unknown)?;
        self.out.ignored_columns = header.ignored.clone();
        self.out.present = header.slots.iter().map(Option::is_some).collect();
        self.org_column = header.get(self.job.schema().slot("ORGNAME"));
        self.header = Some(header);
        Ok(())
    }

    fn origins(&mut self, origins: &[Option<String>]) {
        if let Some(header) = self.header.as_mut() {
            // By our header's column order → by schema slot.
            for (slot, at) in header.slots.clone().iter().enumerate() {
                if let Some(i) = at {
                    header.origins[slot] = origins.get(*i).cloned().flatten();
                }
            }
        }
    }

    fn size_hint(&mut self, rows: usize) {
        // Reserve once rather than double (and copy) all the way up; a
        // little over the estimate, since it comes from the first rows only.
        let rows = rows + rows / 16;
        self.out
            .items
            .reserve(rows.saturating_sub(self.out.items.len()));
        self.out
            .order
            .reserve(rows.saturating_sub(self.out.order.len()));
        self.hashes.reserve(rows.saturating_sub(self.hashes.len()));
    }

    fn rows(&mut self, rows: &[RawRow]) -> Result<()> {
        let header = self.header.take().expect("the header comes before rows");
        let job = self.job;
        let (org_column, default_org, hasher) =
            (self.org_column, self.default_org.as_deref(), &self.hasher);
        // Checking and hashing run in parallel; the org table, which
        // numbers orgs in order of appearance, follows in input order.
        let checked: Vec<(Result<J::Item, String>, u32)> = rows
            .par_iter()
            .map(|r| {
                let result = job.check(&header, r);
                let hash = match &result {
                    Ok(item) => {
                        let org = org_column
                            .map(|i| r.field(i).trim())
                            .filter(|o| !o.is_empty())
                            .or(default_org);
                        dup_hash(hasher, job, org, item)
                    }
                    Err(_) => 0,
                };
                (result, hash)
            })
            .collect();
        for (row, (result, hash)) in rows.iter().zip(checked) {
            let org = self.org(row);
            match result {
                Err(message) => {
                    let key = job.raw_key(&header, row);
                    self.push_invalid(row.line, org, key, message);
                }
                Ok(item) => {
                    let n = self.out.items.len() as u32;
                    self.out.order.push(n);
                    self.hashes.push((u64::from(hash) << 32) | u64::from(n));
                    self.out.items.push(Checked {
                        row: u32::try_from(row.line).unwrap_or(u32::MAX),
                        org,
                        item,
                    });
                }
            }
        }
        self.header = Some(header);
        Ok(())
    }
}

/// What makes two rows duplicates, hashed once: their org and the job's key.
fn dup_hash<J: Job>(hasher: &RandomState, job: &J, org: Option<&str>, item: &J::Item) -> u32 {
    // A buffer of this thread's own, reused from row to row.
    thread_local! {
        static KEY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    KEY.with_borrow_mut(|key| {
        key.clear();
        crate::names::push_fold(org.unwrap_or(""), key);
        key.push(0xff);
        job.dup_key(item, key);
        (hasher.hash_one(&key[..]) >> 32) as u32
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Accounts;
    use crate::input::RawRow;

    /// Rows with duplicates across batches, in other letter cases, in other
    /// orgs, and behind invalid rows; what the contract says each becomes.
    fn rows_and_expected() -> (Vec<RawRow>, Vec<Result<(), String>>) {
        let mut rows = Vec::new();
        let mut expected = Vec::new();
        let mut first: HashMap<(String, String, String), u64> = HashMap::new();
        for n in 0..600u64 {
            let line = n + 2;
            let rid = if n % 97 == 5 {
                "x".to_string()
            } else {
                (1 + n % 3).to_string()
            };
            let name = if n % 2 == 0 {
                format!("Acct{}", n % 50)
            } else {
                format!("ACCT{}", n % 70)
            };
            let org = ["", "east", "West"][(n / 7 % 3) as usize].to_string();
            let record = csv::StringRecord::from(vec![rid.clone(), name.clone(), org.clone()]);
            rows.push(RawRow {
                line,
                record,
                problems: Vec::new(),
            });
            if rid == "x" {
                expected.push(Err(String::new()));
                continue;
            }
            let key = (org, rid, name.to_lowercase());
            match first.get(&key) {
                Some(r) => expected.push(Err(format!("duplicate of row {r}"))),
                None => {
                    first.insert(key, line);
                    expected.push(Ok(()));
                }
            }
        }
        (rows, expected)
    }

    fn collect(colliding: bool) {
        let (rows, expected) = rows_and_expected();
        let mut collector = Collector::new(&Accounts, false, None);
        collector
            .header(&["RESOURCEID".into(), "ACCOUNTNAME".into(), "ORGNAME".into()])
            .unwrap();
        for batch in rows.chunks(64) {
            collector.rows(batch).unwrap();
        }
        if colliding {
            // Every row in one run of equal hashes: the comparisons alone
            // must tell keys apart.
            collector
                .hashes
                .iter_mut()
                .for_each(|h| *h = (7 << 32) | (*h & 0xffff_ffff));
        }
        let data = collector.finish();
        assert_eq!(data.rows(), rows.len());
        let mut last_valid = None;
        for (i, want) in expected.iter().enumerate() {
            let line = rows[i].line;
            match (data.entry(i), want) {
                (Entry::Valid(n), Ok(())) => {
                    let c = &data.items[n as usize];
                    assert_eq!(u64::from(c.row), line);
                    assert_eq!(c.item.name(), rows[i].field(1));
                    assert!(last_valid < Some(n), "items stay in input order");
                    last_valid = Some(n);
                }
                (Entry::Invalid(n), Err(message)) => {
                    let r = &data.invalid[n as usize];
                    assert_eq!(r.row, line);
                    if !message.is_empty() {
                        assert!(
                            r.message.starts_with(&format!("{message} (")),
                            "row {line}: {}",
                            r.message
                        );
                        assert_eq!(r.key[2], rows[i].field(1), "the account_name cell");
                        assert_eq!(data.org_name(r.org), rows[i].field(2));
                    }
                }
                (got, want) => panic!("row {line}: got {got:?}, want {want:?}"),
            }
        }
        let valid = expected.iter().filter(|e| e.is_ok()).count();
        assert_eq!(data.items.len(), valid);
        assert!(
            valid > 100 && valid < 500,
            "{valid}: the data has both kinds"
        );
    }

    #[test]
    fn duplicates_are_the_rows_after_the_first_of_their_key() {
        collect(false);
    }

    #[test]
    fn duplicates_are_told_apart_from_hash_collisions() {
        collect(true);
    }
}
