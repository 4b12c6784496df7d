//! The exit code of a job run: the only place it is decided, from what the
//! run did. A cron job trusts it, so it is one pure function with a table
//! test of every case.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | every row is done |
//! | 1 | the run finished; some rows are invalid, failed, unconfirmed or not sent |
//! | 2 | nothing was written, and the cause is ours to fix |
//! | 3 | the run was aborted part-way, or an output failed after sending began |

pub const OK: u8 = 0;
pub const SOME_FAILED: u8 = 1;
pub const NOTHING_SENT: u8 = 2;
pub const ABORTED: u8 = 3;

/// What a run did, as far as its exit code cares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunEnd {
    /// Whether any write request was started (or might have been).
    pub sending_began: bool,
    /// The run stopped part-way (token refused, unreachable, signal,
    /// redirect, journal, throttled).
    pub aborted: bool,
    /// The server's certificate was refused before anything was sent.
    pub certificate_refused: bool,
    /// `--strict` with invalid rows: nothing was sent on purpose.
    pub strict_blocked: bool,
    /// The report or the summary could not be written.
    pub output_failed: bool,
    /// Every row is done (added, exists, requested, skipped or planned).
    pub all_done: bool,
}

/// The exit code for a run that ended so.
pub fn code(end: &RunEnd) -> u8 {
    if end.output_failed || end.aborted {
        // After sending, a failure is never "nothing was sent".
        if end.sending_began {
            return ABORTED;
        }
        if end.output_failed || end.certificate_refused {
            return NOTHING_SENT;
        }
        return ABORTED;
    }
    if end.strict_blocked {
        NOTHING_SENT
    } else if end.all_done {
        OK
    } else {
        SOME_FAILED
    }
}

/// The exit code of a run that ended in an error before it sent anything:
/// ours to fix (2), or a signal while the input was read (3).
pub fn for_error(e: &anyhow::Error) -> u8 {
    if e.is::<crate::input::Interrupted>() {
        ABORTED
    } else {
        NOTHING_SENT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run's end from the flags set in `flags`: `d` all done, `s`
    /// sending began, `a` aborted, `c` certificate refused, `k` strict
    /// blocked, `o` output failed.
    fn end(flags: &str) -> RunEnd {
        RunEnd {
            all_done: flags.contains('d'),
            sending_began: flags.contains('s'),
            aborted: flags.contains('a'),
            certificate_refused: flags.contains('c'),
            strict_blocked: flags.contains('k'),
            output_failed: flags.contains('o'),
        }
    }

    #[test]
    fn every_case() {
        let cases = [
            ("d", OK),
            ("ds", OK),
            ("s", SOME_FAILED),
            ("", SOME_FAILED),
            ("k", NOTHING_SENT),
            ("o", NOTHING_SENT),
            // An output that fails after sending: never "nothing was sent".
            ("osd", ABORTED),
            ("as", ABORTED),
            // A signal during reading or a dry run: aborted, nothing sent.
            ("ad", ABORTED),
            ("ac", NOTHING_SENT),
            ("acs", ABORTED),
            ("ko", NOTHING_SENT),
            // Stopped while reading the server (a refused token on a read).
            ("a", ABORTED),
        ];
        for (flags, want) in cases {
            assert_eq!(code(&end(flags)), want, "{flags:?}: {:?}", end(flags));
        }
    }
}
