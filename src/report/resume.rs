//! Reading an earlier report or journal back for `--resume`: which rows
//! are done, matched by content rather than row number.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::{ReportFormat, columns, unguard};
use crate::outcome::Outcome;

/// What an earlier run's report (or journal) says, by row content.
#[derive(Debug, Default)]
pub struct Prior {
    /// Key → rows done (added, exists, requested, skipped) and their outcomes.
    pub done: HashMap<String, Vec<Outcome>>,
    /// Key → how many rows may have reached the server without an answer.
    pub unconfirmed: HashMap<String, u32>,
}

/// The resume key of a row: its org and identity cells.
pub fn resume_key(org: &str, key: &[String], case_insensitive: bool) -> String {
    let mut k = String::with_capacity(64);
    k.push_str(org);
    for cell in key {
        k.push('\u{1f}');
        k.push_str(cell);
    }
    if case_insensitive {
        k.to_lowercase()
    } else {
        k
    }
}

/// Reads a report or journal. A torn last line (a killed run) is ignored;
/// rows journaled in flight and never answered count as unconfirmed.
pub fn read_prior(path: &Path, key_columns: &[&str], case_insensitive: bool) -> Result<Prior> {
    let rows = read_rows(path, key_columns)
        .with_context(|| format!("cannot read the --resume report {}", path.display()))?;
    // A journal may hold a row twice (in flight, then answered): the last wins.
    let mut last: HashMap<u64, (String, Outcome)> = HashMap::new();
    let mut order: Vec<u64> = Vec::new();
    for (row, key, outcome) in rows {
        if last.insert(row, (key, outcome)).is_none() {
            order.push(row);
        }
    }
    let mut prior = Prior::default();
    for row in order {
        let (key, outcome) = &last[&row];
        let key = if case_insensitive {
            key.to_lowercase()
        } else {
            key.clone()
        };
        if outcome.is_done() {
            prior.done.entry(key).or_default().push(*outcome);
        } else if matches!(outcome, Outcome::Unconfirmed | Outcome::InFlight) {
            *prior.unconfirmed.entry(key).or_default() += 1;
        }
    }
    Ok(prior)
}

/// (row, resume key, outcome) of every readable line.
fn read_rows(path: &Path, key_columns: &[&str]) -> Result<Vec<(u64, String, Outcome)>> {
    let want = columns(key_columns);
    let mut out = Vec::new();
    let mut take = |cells: Vec<String>| {
        if cells.len() != want.len() {
            return; // a torn line
        }
        let Ok(row) = cells[0].parse::<u64>() else {
            return;
        };
        let Ok(outcome) = cells[2 + key_columns.len()].parse::<Outcome>() else {
            return;
        };
        let key = resume_key(&cells[1], &cells[2..2 + key_columns.len()], false);
        out.push((row, key, outcome));
    };
    match ReportFormat::from_path(path)? {
        ReportFormat::Csv => {
            let mut r = csv::ReaderBuilder::new().flexible(true).from_path(path)?;
            let header: Vec<String> = r.headers()?.iter().map(str::to_string).collect();
            if header != want {
                bail!(
                    "it is not a report of this job: its columns are {}",
                    header.join(",")
                );
            }
            for rec in r.records() {
                // A torn last line may fail to parse at all.
                let Ok(rec) = rec else { break };
                take(rec.iter().map(|c| unguard(c).to_string()).collect());
            }
        }
        ReportFormat::Jsonl => {
            let text = std::fs::read_to_string(path)?;
            for line in text.lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                let cell = |name: &str| match v.get(name) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(serde_json::Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                take(want.iter().map(|c| cell(c)).collect());
            }
        }
        ReportFormat::Xlsx => {
            use calamine::{Reader, Xlsx, open_workbook};
            let mut wb: Xlsx<_> = open_workbook(path)?;
            for name in wb.sheet_names() {
                let range = wb.worksheet_range(&name)?;
                for row in range.rows().skip(1) {
                    take(row.iter().map(|c| c.to_string()).collect());
                }
            }
        }
    }
    Ok(out)
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
        let prior = read_prior(&p, &["resource_id", "account_name"], true).unwrap();
        assert_eq!(prior.done.len(), 1);
        assert!(
            prior
                .done
                .contains_key(&resume_key("", &["901".into(), "root".into()], true))
        );
        assert_eq!(prior.unconfirmed.values().sum::<u32>(), 1);
    }
}
