//! Checked rows → requests: rows are grouped by (org, target) in order of
//! first appearance and cut into chunks. Pure: no I/O.

use std::collections::HashMap;
use std::sync::Arc;

use crate::job::{Checked, Job, ResourceRef};
use crate::op::Kind;

/// Where a row's request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// A resource: rows of one resource share requests (adding accounts).
    Resource(ResourceRef),
    /// An account: each row is a request of its own (a password request).
    Account(u64),
    /// An account on the server, by its resource's id and its own (an
    /// edit, a password change).
    Existing { resource: u64, account: u64 },
}

/// One request to send: its kind, where it goes, and the rows it carries
/// (indices into the checked rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub kind: Kind,
    pub org: Option<Arc<str>>,
    pub target: Target,
    pub rows: Vec<u32>,
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
    let kind = job.spec().main;
    // The requests of each group, groups in order of first appearance; a
    // row for an account is its own. Rows go straight into their request:
    // a million row indices are not gathered per group and copied again.
    let mut groups: Vec<Vec<Unit>> = Vec::new();
    let mut index: HashMap<(u32, ResourceRef), usize, foldhash::fast::RandomState> =
        HashMap::default();
    for i in send {
        let c = &items[i as usize];
        // A resource given by id and one resolved to it are one group.
        let target = match job.target(&c.item) {
            Target::Resource(r) => Target::Resource(r.id().map_or(r, ResourceRef::Given)),
            t => t,
        };
        let n = match target {
            Target::Resource(r) => *index.entry((c.org, r)).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            }),
            Target::Account(_) | Target::Existing { .. } => {
                groups.push(Vec::new());
                groups.len() - 1
            }
        };
        let units = &mut groups[n];
        if units.last().is_none_or(|u| u.rows.len() >= chunk_size) {
            units.push(Unit {
                kind,
                org: orgs[c.org as usize].clone(),
                target,
                // Exact for the usual chunk sizes; a huge one grows as needed.
                rows: Vec::with_capacity(chunk_size.min(256)),
            });
        }
        if let Some(unit) = units.last_mut() {
            unit.rows.push(i);
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
                ids: crate::job::PackedIds::new(ResourceRef::Given(rid)),
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
        let shape: Vec<(Option<&str>, Target, Vec<u32>)> = units
            .iter()
            .map(|u| (u.org.as_deref(), u.target, u.rows.clone()))
            .collect();
        let r = |id| Target::Resource(ResourceRef::Given(id));
        assert_eq!(
            shape,
            vec![
                (None, r(1), vec![0, 2]),
                (None, r(1), vec![4]),
                (None, r(2), vec![1]),
                (Some("X"), r(1), vec![3]),
            ]
        );
        assert!(units.iter().all(|u| u.kind == Kind::AddAccounts));
    }
}
