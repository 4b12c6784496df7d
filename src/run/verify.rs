//! `--verify`: after sending, the accounts of every resource written to
//! are read back. `added` and `exists` rows get their account id; an
//! `added` row the server does not list is `failed`; an `unconfirmed` row
//! it lists is `added`. A read-back that fails changes no outcome: the row
//! says it was not verified.

use super::finish::Ended;
use crate::cli::Config;
use crate::collect::Collected;
use crate::job::Job;
use crate::lookup::{NameIndex, ReadError, Reader, Wanted};
use crate::outcome::{Outcome, Results, RowResult};
use crate::transport::Transport;

pub fn verify<J: Job>(
    job: &J,
    cfg: &Config,
    data: &mut Collected<J::Item>,
    ended: &mut Ended,
    transport: &Transport<'_>,
) {
    if ended.aborted.is_some() {
        log::warn!("--verify skipped: the run stopped before its end");
        return;
    }
    let (wanted, rows) = written(job, data, &ended.results);
    if wanted.is_empty() {
        return;
    }
    let reader = Reader::new(transport);
    let lists = reader.account_indexes(&wanted, cfg.progress, "verifying");
    let mut unverified = 0usize;
    for (i, n) in rows {
        let Some(before) = ended.results.get(i) else {
            continue;
        };
        let after = match &lists[n] {
            Ok(list) => {
                let (after, id) = settle(before, list, job.names(&data.items[i].item).account_name);
                if let Some(id) = id {
                    job.set_account(&mut data.items[i].item, id);
                }
                after
            }
            Err(e) => {
                if let ReadError::Stop(a) = e {
                    log::info!("verify: {}", a.describe());
                }
                unverified += 1;
                let mut r = before;
                r.message = join(&r.message, "not verified: the read-back failed");
                r
            }
        };
        ended.results.set(i, after);
    }
    if unverified > 0 {
        log::warn!(
            "--verify: {unverified} rows could not be read back; their outcomes stand unverified"
        );
    }
}

/// The resources with a write attempt (unconfirmed ones included), and the
/// rows to settle: (row, place of its resource in the list).
fn written<J: Job>(
    job: &J,
    data: &Collected<J::Item>,
    results: &Results,
) -> (Wanted, Vec<(usize, usize)>) {
    let mut wanted = Wanted::default();
    let mut rows = Vec::new();
    for (i, c) in data.items.iter().enumerate() {
        let Some((outcome, _, _, attempts, _)) = results.view(i) else {
            continue;
        };
        let settled = matches!(
            outcome,
            Outcome::Added | Outcome::Exists | Outcome::Unconfirmed
        );
        if attempts > 0
            && settled
            && let Some(rid) = job.names(&c.item).resource_id
        {
            rows.push((i, wanted.add(data, c.org, rid)));
        }
    }
    (wanted, rows)
}

/// What reading back says of one row, and the account id to record.
fn settle(mut r: RowResult, list: &NameIndex, account: &str) -> (RowResult, Option<u64>) {
    match (list.existing(account), r.outcome) {
        (None, Outcome::Added) => {
            r.outcome = Outcome::Failed;
            r.message = "answered added, but the server does not list it".into();
            (r, None)
        }
        (None, _) => (r, None),
        (Some(id), outcome) => {
            if outcome == Outcome::Unconfirmed {
                r.outcome = Outcome::Added;
                r.message = "confirmed by reading back".into();
            }
            // Two server accounts matching one name leave the id empty.
            (r, id)
        }
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}; {b}")
    }
}
