//! Checking the rows as they are read: in parallel within a batch (rayon),
//! then in input order for what depends on earlier rows (duplicates, orgs).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use foldhash::fast::RandomState;
use std::sync::Arc;

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
    pub invalid: Vec<ReportRow>,
    pub order: Vec<Entry>,
    pub ignored_columns: Vec<String>,
}

/// A [`RowSink`] that checks rows into [`Collected`].
pub struct Collector<'a, J: Job> {
    job: &'a J,
    ignore_unknown: bool,
    default_org: Option<Arc<str>>,
    header: Option<Header>,
    /// Where the ORGNAME column is in the input, if it is there.
    org_column: Option<usize>,
    orgs: HashMap<String, Arc<str>>,
    /// Checked rows by duplicate hash: (hash, index), the hash kept so the
    /// table grows without hashing every row again.
    seen: HashTable<(u64, u32)>,
    hasher: RandomState,
    out: Collected<J::Item>,
}

impl<'a, J: Job> Collector<'a, J> {
    pub fn new(job: &'a J, ignore_unknown: bool, default_org: Option<&str>) -> Self {
        Collector {
            job,
            ignore_unknown,
            default_org: default_org.map(Arc::from),
            header: None,
            org_column: None,
            orgs: HashMap::new(),
            seen: HashTable::new(),
            hasher: RandomState::default(),
            out: Collected {
                items: Vec::new(),
                invalid: Vec::new(),
                order: Vec::new(),
                ignored_columns: Vec::new(),
            },
        }
    }

    pub fn finish(self) -> Collected<J::Item> {
        self.out
    }

    /// The row's org: its ORGNAME cell, else `--org`, else none.
    fn org(&mut self, row: &RawRow) -> Option<Arc<str>> {
        let cell = self.org_column.map(|i| row.field(i).trim()).unwrap_or("");
        if cell.is_empty() {
            return self.default_org.clone();
        }
        if let Some(o) = self.orgs.get(cell) {
            return Some(o.clone());
        }
        let o: Arc<str> = Arc::from(cell);
        self.orgs.insert(cell.to_string(), o.clone());
        Some(o)
    }

    fn push_invalid(&mut self, row: u64, org: Option<Arc<str>>, key: Vec<String>, message: String) {
        self.out
            .order
            .push(Entry::Invalid(self.out.invalid.len() as u32));
        self.out.invalid.push(ReportRow {
            row,
            org: org.as_deref().unwrap_or("").to_string(),
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

    fn rows(&mut self, rows: &[RawRow]) -> Result<()> {
        let header = self.header.take().expect("the header comes before rows");
        let job = self.job;
        let checked: Vec<Result<J::Item, String>> =
            rows.par_iter().map(|r| job.check(&header, r)).collect();
        for (row, result) in rows.iter().zip(checked) {
            let org = self.org(row);
            match result {
                Err(message) => {
                    let key = job.raw_key(&header, row);
                    self.push_invalid(row.line, org, key, message);
                }
                Ok(item) => {
                    let hash = dup_hash(&self.hasher, job, org.as_deref(), &item);
                    let items = &self.out.items;
                    let earlier = self
                        .seen
                        .find(hash, |&(_, i)| {
                            let c = &items[i as usize];
                            c.org == org && job.same(&c.item, &item)
                        })
                        .map(|&(_, i)| items[i as usize].row);
                    if let Some(first) = earlier {
                        let key = job.key(&item);
                        self.push_invalid(row.line, org, key, format!("duplicate of row {first}"));
                        continue;
                    }
                    let n = self.out.items.len() as u32;
                    self.seen.insert_unique(hash, (hash, n), |&(h, _)| h);
                    self.out.order.push(Entry::Valid(n));
                    self.out.items.push(Checked {
                        row: row.line,
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

/// What makes two rows duplicates, hashed: their org and the job's part.
fn dup_hash<J: Job>(hasher: &RandomState, job: &J, org: Option<&str>, item: &J::Item) -> u64 {
    let mut h = hasher.build_hasher();
    h.write(org.unwrap_or("").as_bytes());
    h.write_u8(0xff);
    job.dup_hash(item, &mut h);
    h.finish()
}
