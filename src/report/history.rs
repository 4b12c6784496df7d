//! What a row's report message says was done to it, and when, across
//! chained runs: `added on 2026-12-01; updated on 2026-12-02: NOTES
//! written`. A nightly run that resumes from the last report skips what it
//! did and keeps the whole record in the message, so the latest report is
//! the history. Long records keep their first event and their last three.

use super::resume::Done;

/// Events kept after the first.
const LAST: usize = 3;

/// A row's record of events, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History(Vec<String>);

impl History {
    /// What an earlier report says was done to a row: its message when that
    /// is already a record, else its outcome on `date` (the day that
    /// report was written).
    pub fn of(done: &Done, date: &str) -> History {
        if is_record(&done.message) {
            return History(done.message.split("; ").map(str::to_string).collect());
        }
        History(vec![first_event(done, date)])
    }

    /// [`History::of`], told: the earlier message itself when it is a
    /// record short enough to be kept whole (a nightly resume tells a
    /// hundred thousand rows, nearly all so).
    pub fn told(done: &Done, date: &str) -> String {
        if !is_record(&done.message) {
            return first_event(done, date);
        }
        if done.message.split("; ").count() <= LAST + 1 {
            return done.message.clone();
        }
        History::of(done, date).to_string()
    }

    /// A record that begins now: `what` on `date`.
    pub fn new(what: &str, date: &str) -> History {
        History(vec![format!("{what} on {date}")])
    }

    /// The record with one more event: `what` on `date`, with `detail`.
    pub fn then(mut self, what: &str, date: &str, detail: &str) -> History {
        self.0.push(if detail.is_empty() {
            format!("{what} on {date}")
        } else {
            format!("{what} on {date}: {detail}")
        });
        self
    }
}

impl std::fmt::Display for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept: Vec<&str> = if self.0.len() > LAST + 1 {
            std::iter::once(&self.0[0])
                .chain(&self.0[self.0.len() - LAST..])
                .map(String::as_str)
                .collect()
        } else {
            self.0.iter().map(String::as_str).collect()
        };
        f.write_str(&kept.join("; "))
    }
}

/// The one event of a row whose earlier message is not a record: its
/// outcome on `date`; a report older than records said "done in an earlier
/// run (added)".
fn first_event(done: &Done, date: &str) -> String {
    let word = done
        .message
        .strip_prefix("done in an earlier run (")
        .and_then(|m| m.strip_suffix(')'))
        .unwrap_or(done.outcome.as_str());
    let mut event = String::with_capacity(word.len() + 4 + date.len());
    event.push_str(word);
    event.push_str(" on ");
    event.push_str(date);
    event
}

/// Whether a message is a record: events (see [`is_event`]) joined by "; ".
fn is_record(message: &str) -> bool {
    !message.is_empty() && message.split("; ").all(is_event)
}

/// Whether `s` reads `<word> on YYYY-MM-DD[: detail]`.
fn is_event(s: &str) -> bool {
    let Some((word, rest)) = s.split_once(" on ") else {
        return false;
    };
    !word.is_empty()
        && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        && rest.get(..10).is_some_and(is_date)
        && (rest.len() == 10 || rest[10..].starts_with(": "))
}

/// Whether `s` is a real day written `YYYY-MM-DD` (read by hand: chrono's
/// parser reads its format string each time, a hundred thousand times on
/// a nightly resume).
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !digits(0..4)
        || !digits(5..7)
        || !digits(8..10)
    {
        return false;
    }
    let (Ok(y), Ok(m), Ok(d)) = (s[..4].parse(), s[5..7].parse(), s[8..].parse()) else {
        return false;
    };
    chrono::NaiveDate::from_ymd_opt(y, m, d).is_some()
}

/// Today in UTC, as events are dated.
pub fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;

    fn done(outcome: Outcome, message: &str) -> Done {
        Done {
            outcome,
            message: message.into(),
            cells: Default::default(),
        }
    }

    #[test]
    fn a_record_carries_through_chained_runs_and_keeps_first_and_last_three() {
        let first = History::of(&done(Outcome::Added, ""), "2026-12-01");
        assert_eq!(first.to_string(), "added on 2026-12-01");
        // Skipped the next night: the record is carried as it is.
        let again = History::of(&done(Outcome::Skipped, &first.to_string()), "2026-12-02");
        assert_eq!(again, first);
        let mut h = again.then("updated", "2026-12-03", "NOTES written");
        assert_eq!(
            h.to_string(),
            "added on 2026-12-01; updated on 2026-12-03: NOTES written"
        );
        for day in 4..9 {
            h = h.then("updated", &format!("2026-12-0{day}"), "NOTES written");
        }
        assert_eq!(
            h.to_string(),
            "added on 2026-12-01; updated on 2026-12-06: NOTES written; updated on 2026-12-07: NOTES written; updated on 2026-12-08: NOTES written"
        );
        // A message that is not a record is the outcome on the report's day.
        let exists = History::of(
            &done(Outcome::Exists, "already on the server; not sent"),
            "2026-12-05",
        );
        assert_eq!(exists.to_string(), "exists on 2026-12-05");
        let old = History::of(
            &done(Outcome::Skipped, "done in an earlier run (added)"),
            "2026-11-30",
        );
        assert_eq!(old.to_string(), "added on 2026-11-30");
        assert!(!is_event("added on 2026-13-01"));
        assert!(!is_event("Added on 2026-12-01"));
    }

    #[test]
    fn told_is_the_record_said_again_and_dates_are_real_days() {
        let messages = [
            "",
            "added on 2026-12-01",
            "added on 2026-12-01; updated on 2026-12-03: NOTES written",
            "added on 2026-12-01; updated on 2026-12-02; updated on 2026-12-03; updated on 2026-12-04; updated on 2026-12-05",
            "added on 2026-02-30",
            "already on the server; not sent",
            "done in an earlier run (added)",
            "added on 2026-12-01;updated on 2026-12-02",
        ];
        for m in messages {
            let d = done(Outcome::Skipped, m);
            assert_eq!(
                History::told(&d, "2026-12-07"),
                History::of(&d, "2026-12-07").to_string(),
                "{m:?}"
            );
        }
        assert!(is_date("2024-02-29"));
        for bad in [
            "2026-02-29",
            "2026-1-011",
            "+202-12-01",
            "2026-12-0x",
            "2026/12/01",
            "２026-12-01",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }
}
