//! `--verify`: after sending, the accounts of every resource written to
//! are read back. `added` and `exists` rows get their account id; an
//! `added` row the server does not list is `failed`; an `unconfirmed` row
//! it lists is `added`. A read-back that fails changes no outcome: the row
//! says it was not verified.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::finish::Ended;
use crate::cli::Config;
use crate::collect::Collected;
use crate::job::{Job, fold};
use crate::lookup::Reader;
use crate::outcome::{Outcome, RowResult};
use crate::progress;
use crate::send::Link;

pub fn verify<J: Job>(
    job: &J,
    cfg: &Config,
    data: &mut Collected<J::Item>,
    ended: &mut Ended,
    link: &Link,
    stop: &AtomicBool,
) {
    if ended.aborted.is_some() {
        log::warn!("--verify skipped: the run stopped before its end");
        return;
    }
    let results = &mut ended.results;
    // Resources with a write attempt, unconfirmed ones included.
    let mut wanted: Vec<(Option<Arc<str>>, u64)> = Vec::new();
    let mut at: HashMap<(u32, u64), usize> = HashMap::new();
    let mut rows: Vec<usize> = Vec::new();
    for (i, c) in data.items.iter().enumerate() {
        let Some((outcome, _, _, attempts, _)) = results.view(i) else {
            continue;
        };
        let checked = matches!(
            outcome,
            Outcome::Added | Outcome::Exists | Outcome::Unconfirmed
        );
        if attempts == 0 || !checked {
            continue;
        }
        let rid = job.names(&c.item).resource_id;
        at.entry((c.org, rid)).or_insert_with(|| {
            wanted.push((data.orgs[c.org as usize].clone(), rid));
            wanted.len() - 1
        });
        rows.push(i);
    }
    if wanted.is_empty() {
        return;
    }
    let send = cfg.send_config();
    let reader = Reader::new(link, &send, stop);
    let bar = progress::counting(
        cfg.progress,
        Some(wanted.len() as u64),
        "verifying",
        "resources",
    );
    let lists = reader.accounts(&wanted, &bar);
    bar.finish_and_clear();
    ended.stats.requests += reader.requests.load(Ordering::Relaxed);
    ended.stats.retries += reader.retries.load(Ordering::Relaxed);
    let lists: Vec<Option<HashMap<String, Vec<u64>>>> = lists
        .into_iter()
        .map(|l| {
            l.ok().map(|l| {
                let mut by: HashMap<String, Vec<u64>> = HashMap::new();
                for a in l {
                    by.entry(fold(&a.name)).or_default().push(a.id);
                }
                by
            })
        })
        .collect();
    let mut unverified = 0usize;
    for i in rows {
        let c = &data.items[i];
        let rid = job.names(&c.item).resource_id;
        let Some((outcome, status, http, attempts, message)) = results.view(i) else {
            continue;
        };
        let mut r = RowResult {
            outcome,
            status: status.to_string(),
            http_status: http,
            attempts,
            message: message.to_string(),
        };
        let Some(list) = &lists[at[&(c.org, rid)]] else {
            unverified += 1;
            r.message = join(&r.message, "not verified: the read-back failed");
            results.set(i, r);
            continue;
        };
        let found = list
            .get(&fold(job.names(&c.item).account_name))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        match (found, outcome) {
            ([], Outcome::Added) => {
                r.outcome = Outcome::Failed;
                r.message = "answered added, but the server does not list it".into();
            }
            ([], _) => continue,
            (ids, _) => {
                if outcome == Outcome::Unconfirmed {
                    r.outcome = Outcome::Added;
                    r.message = "confirmed by reading back".into();
                }
                // Two server accounts matching one name leave the id empty.
                if let [id] = ids {
                    job.set_ids(&mut data.items[i].item, 0, *id);
                }
            }
        }
        results.set(i, r);
    }
    if unverified > 0 {
        log::warn!(
            "--verify: {unverified} rows could not be read back; their outcomes stand unverified"
        );
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}; {b}")
    }
}
