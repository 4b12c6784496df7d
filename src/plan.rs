//! Checked rows → requests: rows are grouped by (org, group) in order of
//! first appearance and cut into chunks. Pure: no I/O.

use std::collections::HashMap;
use std::sync::Arc;

use crate::job::{Checked, Job};

/// One request to send: the rows it carries, by index into the checked rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub org: Option<Arc<str>>,
    /// The id in the request path.
    pub target: u64,
    pub items: Vec<u32>,
}

/// Plans the requests for the rows in `send` (indices into `items`, in input
/// order).
pub fn plan<J: Job>(
    job: &J,
    items: &[Checked<J::Item>],
    orgs: &[Option<Arc<str>>],
    send: impl IntoIterator<Item = u32>,
    chunk_size: usize,
) -> Vec<Unit> {
    let chunk_size = chunk_size.max(1);
    // The requests of each group, groups in order of first appearance; a
    // row without a group is its own. Rows go straight into their request:
    // a million row indices are not gathered per group and copied again.
    let mut groups: Vec<Vec<Unit>> = Vec::new();
    let mut index: HashMap<(u32, u64), usize, foldhash::fast::RandomState> = HashMap::default();
    for i in send {
        let c = &items[i as usize];
        let n = match job.group(&c.item) {
            Some(g) => *index.entry((c.org, g)).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            }),
            None => {
                groups.push(Vec::new());
                groups.len() - 1
            }
        };
        let units = &mut groups[n];
        if units.last().is_none_or(|u| u.items.len() >= chunk_size) {
            units.push(Unit {
                org: orgs[c.org as usize].clone(),
                target: job.target(&c.item),
                // Exact for the usual chunk sizes; a huge one grows as needed.
                items: Vec::with_capacity(chunk_size.min(256)),
            });
        }
        if let Some(unit) = units.last_mut() {
            unit.items.push(i);
        }
    }
    groups.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Account, Accounts};

    fn acct(row: u32, org: u32, rid: u64, name: &str) -> Checked<Account> {
        Checked {
            row,
            org,
            item: Account {
                resource_id: rid,
                account_id: 0,
                body: crate::body::Body::build(|b| {
                    b.put(
                        crate::body::Field::of(crate::accounts::SCHEMA.columns, "ACCOUNTNAME"),
                        name,
                    )
                }),
            },
        }
    }

    #[test]
    fn groups_by_org_and_resource_then_chunks() {
        let items = vec![
            acct(2, 0, 1, "a"),
            acct(3, 0, 2, "b"),
            acct(4, 0, 1, "c"),
            acct(5, 1, 1, "d"),
            acct(6, 0, 1, "e"),
        ];
        let all: Vec<u32> = (0..items.len() as u32).collect();
        let orgs = vec![None, Some(Arc::from("X"))];
        let units = plan(&Accounts, &items, &orgs, all, 2);
        let shape: Vec<(Option<&str>, u64, Vec<u32>)> = units
            .iter()
            .map(|u| (u.org.as_deref(), u.target, u.items.clone()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (None, 1, vec![0, 2]),
                (None, 1, vec![4]),
                (None, 2, vec![1]),
                (Some("X"), 1, vec![3]),
            ]
        );
    }
}
