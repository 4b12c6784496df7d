//! What to do after one attempt: the rule of "retrying without doing
//! anything twice", as one pure function over what the attempt saw.
//!
//! Adding accounts is safe to repeat (the server refuses a name it already
//! holds), a password request is not (a second one is a second request for an
//! approver). So a request is retried only when it surely never reached the
//! server (connection refused, TLS handshake, 429, 503); everything that may
//! have reached it and got no clear PAM360 verdict is `unconfirmed` for a
//! password request. An add-accounts request is also retried after a
//! timeout, a broken connection, a 502/504 or a 200 that is not JSON.

use super::client::{Attempt, Failure};
use crate::outcome::Outcome;

/// What the sender knows of the request so far.
#[derive(Debug, Clone, Copy)]
pub struct Tried {
    /// Whether sending the request twice does no harm.
    pub idempotent: bool,
    /// Whether it only reads (stores nothing, whatever becomes of it).
    pub read: bool,
    /// Retries still allowed.
    pub retries_left: u32,
    /// Whether an earlier attempt may have been acted on.
    pub maybe_processed: bool,
}

/// Why the whole run stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// The server refused the token or this host; the masked message.
    Auth(String),
    /// A 3xx: `--server` points at a login page, another host or http.
    Redirect(String),
    /// The server's certificate was refused.
    Certificate(String),
    /// The server's certificate failed after requests were answered.
    CertificateChanged,
}

/// The next step for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A PAM360 JSON verdict: read it row by row.
    Answered,
    /// Back off, then try again (uses up one retry).
    Retry,
    /// A 429: wait as told and try again (uses up no retry).
    Throttled,
    /// Give up on this request.
    End {
        outcome: Outcome,
        /// Why, in words for the report.
        reason: String,
        /// Counts toward "the server is unreachable" (a transport failure,
        /// or an answer that is not PAM360 at all).
        unreachable: bool,
    },
    /// Stop the whole run; this request ends with `outcome`.
    Stop {
        reason: StopReason,
        outcome: Outcome,
    },
}

/// Decides what follows `attempt`.
pub fn next_step(t: Tried, attempt: &Attempt) -> Step {
    match attempt {
        Attempt::Redirect { location, .. } => Step::Stop {
            reason: StopReason::Redirect(location.clone()),
            outcome: stopped_outcome(t),
        },
        Attempt::Failed(Failure::Certificate(e)) => Step::Stop {
            reason: StopReason::Certificate(e.clone()),
            outcome: stopped_outcome(t),
        },
        Attempt::Failed(Failure::CertificateChanged) => Step::Stop {
            reason: StopReason::CertificateChanged,
            outcome: stopped_outcome(t),
        },
        Attempt::Failed(f) => transport_step(t, f),
        Attempt::Http { http, answer, .. } => http_step(t, *http, answer.as_ref(), attempt),
    }
}

/// A request the run stops at, which this attempt did not deliver: not sent,
/// unless an earlier attempt of a request that must not be repeated may have
/// been acted on.
fn stopped_outcome(t: Tried) -> Outcome {
    if t.maybe_processed && !t.idempotent {
        Outcome::Unconfirmed
    } else {
        Outcome::NotSent
    }
}

/// After a request got no HTTP answer: retried when that is safe, else
/// ended as what the server may have done with it.
fn transport_step(t: Tried, f: &Failure) -> Step {
    let can_retry = t.retries_left > 0;
    let never = f.never_sent();
    if (never || t.idempotent) && can_retry {
        return Step::Retry;
    }
    let processed = t.maybe_processed || !never;
    if t.read {
        // A read stores nothing: its failure says only what happened.
        let reason = match f {
            Failure::Timeout => "the server did not answer in time (--timeout)".to_string(),
            f => f.describe(),
        };
        return Step::End {
            outcome: Outcome::NotSent,
            reason,
            unreachable: true,
        };
    }
    let (outcome, tail) = if !processed {
        (Outcome::NotSent, "the server did not act on it")
    } else if t.idempotent {
        (
            Outcome::Unconfirmed,
            "the server may have stored it; a resume sends it again, which is safe",
        )
    } else {
        (Outcome::Unconfirmed, "the server may have received it")
    };
    Step::End {
        outcome,
        reason: format!("{}; {tail}", f.describe()),
        unreachable: true,
    }
}

/// After an HTTP answer: throttled, refused, answered by PAM360, or an
/// answer that is not PAM360's.
fn http_step(t: Tried, http: u16, answer: Option<&super::Answer>, attempt: &Attempt) -> Step {
    let can_retry = t.retries_left > 0;
    if http == 429 {
        return Step::Throttled;
    }
    let auth = answer.as_ref().is_some_and(|a| a.is_auth_failure());
    if auth || matches!(http, 401 | 403) {
        let msg = match answer {
            Some(a) if !a.message.is_empty() => a.message.clone(),
            _ => format!("HTTP {http}"),
        };
        return Step::Stop {
            reason: StopReason::Auth(msg),
            outcome: Outcome::Failed,
        };
    }
    if answer.is_some() {
        return Step::Answered;
    }
    // Not PAM360 JSON. A 503 was not processed; anything else may
    // have been, so only a request that is safe to repeat is retried
    // after a 502/504 or a 200 that is not JSON.
    let unprocessed = http == 503;
    let transient = matches!(http, 502 | 504) || (200..300).contains(&http);
    if can_retry && (unprocessed || (transient && t.idempotent)) {
        return Step::Retry;
    }
    let outcome = if t.idempotent || (unprocessed && !t.maybe_processed) {
        // An account is safe to resend on resume; a 503 never reached
        // the application.
        Outcome::Failed
    } else {
        Outcome::Unconfirmed
    };
    let what = attempt.describe_answer();
    let reason = if outcome == Outcome::Unconfirmed {
        format!("{what}; the server may have acted on it: check PAM360 before resending")
    } else {
        what
    };
    Step::End {
        outcome,
        reason,
        unreachable: http != 503,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pam360::Answer;

    fn http(code: u16, json: bool) -> Attempt {
        Attempt::Http {
            http: code,
            answer: json.then(|| Answer {
                status: "Success".into(),
                ..Answer::default()
            }),
            content_type: "text/html".into(),
            size: 10,
            cut_off: None,
            retry_after: None,
        }
    }

    fn tried(idempotent: bool, retries_left: u32, maybe_processed: bool) -> Tried {
        Tried {
            idempotent,
            read: false,
            retries_left,
            maybe_processed,
        }
    }

    fn outcome(s: &Step) -> Option<Outcome> {
        match s {
            Step::End { outcome, .. } | Step::Stop { outcome, .. } => Some(*outcome),
            _ => None,
        }
    }

    /// Every case of "Retrying without doing anything twice".
    #[test]
    fn the_table() {
        use Outcome::*;
        let refused = || Attempt::Failed(Failure::Connect("refused".into()));
        let timeout = || Attempt::Failed(Failure::Timeout);
        let broken = || Attempt::Failed(Failure::Broken("reset".into()));
        let cert = || Attempt::Failed(Failure::Certificate("bad".into()));
        let redirect = || Attempt::Redirect {
            http: 307,
            location: "http://elsewhere/".into(),
        };
        // (attempt, idempotent, retries left, maybe processed before) → step
        let cases: Vec<(Attempt, bool, u32, bool, Step)> = vec![
            (http(200, true), false, 3, false, Step::Answered),
            (http(200, true), true, 0, true, Step::Answered),
            (http(429, false), false, 0, false, Step::Throttled),
            (refused(), false, 1, false, Step::Retry),
            (refused(), true, 1, false, Step::Retry),
            (http(503, false), false, 1, false, Step::Retry),
            (http(503, false), true, 1, false, Step::Retry),
            (timeout(), true, 1, false, Step::Retry),
            (broken(), true, 1, false, Step::Retry),
            (http(502, false), true, 1, false, Step::Retry),
            (http(504, false), true, 1, false, Step::Retry),
            (http(200, false), true, 1, false, Step::Retry),
        ];
        for (a, idem, left, before, want) in cases {
            assert_eq!(
                next_step(tried(idem, left, before), &a),
                want,
                "{a:?} {idem} {left}"
            );
        }
        // (attempt, idempotent, retries left, maybe processed before) → outcome
        let ends: Vec<(Attempt, bool, u32, bool, Outcome)> = vec![
            // Password requests: what may have reached the server is unconfirmed.
            (timeout(), false, 3, false, Unconfirmed),
            (broken(), false, 3, false, Unconfirmed),
            (http(502, false), false, 3, false, Unconfirmed),
            (http(504, false), false, 3, false, Unconfirmed),
            (http(500, false), false, 3, false, Unconfirmed),
            (http(200, false), false, 3, false, Unconfirmed),
            (refused(), false, 0, false, NotSent),
            (refused(), false, 0, true, Unconfirmed),
            (http(503, false), false, 0, false, Failed),
            (http(503, false), false, 0, true, Unconfirmed),
            // Accounts: safe to resend, so never held back.
            (timeout(), true, 0, false, Unconfirmed),
            (http(500, false), true, 3, false, Failed),
            (http(200, false), true, 0, false, Failed),
            (http(503, false), true, 0, false, Failed),
            (refused(), true, 0, false, NotSent),
            // Stops.
            (redirect(), true, 3, false, NotSent),
            (redirect(), false, 3, true, Unconfirmed),
            (cert(), false, 3, false, NotSent),
            (http(401, false), true, 3, false, Failed),
        ];
        for (a, idem, left, before, want) in ends {
            let step = next_step(tried(idem, left, before), &a);
            assert_eq!(
                outcome(&step),
                Some(want),
                "{a:?} idempotent={idem} left={left} before={before}: {step:?}"
            );
        }
    }

    #[test]
    fn not_pam360_answers_count_toward_unreachable_but_503_does_not() {
        let t = tried(true, 0, false);
        assert!(matches!(
            next_step(t, &http(200, false)),
            Step::End {
                unreachable: true,
                ..
            }
        ));
        assert!(matches!(
            next_step(t, &http(503, false)),
            Step::End {
                unreachable: false,
                ..
            }
        ));
    }
}
