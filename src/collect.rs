//! Checking the rows as they are read: in parallel within a batch (rayon),
//! then in input order for what depends on earlier rows (duplicates, orgs).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::fast::RandomState;

use anyhow::Result;
use hashbrown::HashTable;
use rayon::prelude::*;

use crate::input::{RawRow, RowSink};
use crate::job::{Checked, Job};
use crate::outcome::{Outcome, RowResult};
use crate::report::ReportRow;
use crate::schema::Header;

/// A row's place in the input: checked, or invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Valid(u32),
    Invalid(u32),
}

/// Everything read and checked, in input order.
pub struct Collected<I> {
    pub items: Vec<Checked<I>>,
    /// The orgs rows name; `Checked::org` indexes it. Entry 0 is no org.
    pub orgs: Vec<Option<Arc<str>>>,
    pub invalid: Vec<ReportRow>,
    /// Input order: an index into `items`, or into `invalid` with the top
    /// bit set (4 bytes a row).
    order: Vec<u32>,
    pub ignored_columns: Vec<String>,
}

const INVALID_BIT: u32 = 1 << 31;

impl<I> Collected<I> {
    /// The org of a checked row.
    pub fn org(&self, c: &Checked<I>) -> Option<&Arc<str>> {
        self.orgs[c.org as usize].as_ref()
    }

    /// The org of a checked row as text ("" for none).
    pub fn org_str(&self, c: &Checked<I>) -> &str {
        self.org(c).map(|o| &**o).unwrap_or("")
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

    /// How many data rows were read.
    pub fn rows(&self) -> usize {
        self.order.len()
    }
}

/// Spreads a 32-bit hash over 64 bits for the table, which takes its bucket
/// from the low bits and its tag from the top ones.
fn spread(h32: u32) -> u64 {
    u64::from(h32).wrapping_mul(0x9E37_79B9_7F4A_7C15)
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
    /// Checked rows by duplicate hash: (32-bit hash, index): 8 bytes a row,
    /// the hash kept so the table grows without hashing every row again.
    seen: HashTable<(u32, u32)>,
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
            seen: HashTable::new(),
            hasher: RandomState::default(),
            out: Collected {
                items: Vec::new(),
                orgs: vec![None],
                invalid: Vec::new(),
                order: Vec::new(),
                ignored_columns: Vec::new(),
            },
        }
    }

    pub fn finish(self) -> Collected<J::Item> {
        self.out
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
        self.out.invalid.push(ReportRow {
            row,
            org: self.out.orgs[org as usize]
                .as_deref()
                .unwrap_or("")
                .to_string(),
            key,
            result: RowResult::new(Outcome::Invalid, message),
        });
    }
}

impl<J: Job> RowSink for Collector<'_, J> {
    fn header(&mut self, names: &[String]) -> Result<()> {
        let header = self.job.schema().resolve(names, self.ignore_unknown)?;
        self.out.ignored_columns = header.ignored.clone();
        self.org_column = header.get(self.job.schema().slot("ORGNAME"));
        self.header = Some(header);
        Ok(())
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
        self.seen
            .reserve(rows.saturating_sub(self.seen.len()), |&(h, _)| spread(h));
    }

    fn rows(&mut self, rows: &[RawRow]) -> Result<()> {
        let header = self.header.take().expect("the header comes before rows");
        let job = self.job;
        let (org_column, default_org, hasher) =
            (self.org_column, self.default_org.as_deref(), &self.hasher);
        // Checking and hashing run in parallel; what depends on earlier rows
        // (duplicates) follows in input order.
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
                    let items = &self.out.items;
                    let earlier = self
                        .seen
                        .find(spread(hash), |&(h, i)| {
                            let c = &items[i as usize];
                            h == hash && c.org == org && job.same(&c.item, &item)
                        })
                        .map(|&(_, i)| items[i as usize].row);
                    if let Some(first) = earlier {
                        let key = job.key(&item);
                        self.push_invalid(row.line, org, key, format!("duplicate of row {first}"));
                        continue;
                    }
                    let n = self.out.items.len() as u32;
                    self.seen
                        .insert_unique(spread(hash), (hash, n), |&(h, _)| spread(h));
                    self.out.order.push(n);
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
    // The body's scratch buffer is free again once `check` has returned.
    crate::cells::with_scratch(|key| {
        key.extend_from_slice(org.unwrap_or("").as_bytes());
        key.push(0xff);
        job.dup_key(item, key);
        (hasher.hash_one(&key[..]) >> 32) as u32
    })
}
