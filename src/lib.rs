//! pam360-bulk: onboard privileged accounts into PAM360 and raise
//! password-access requests in bulk, from CSV or workbooks, through PAM360's
//! REST API.
//!
//! The pipeline runs one way: [`input`] (through a [`map`] when the
//! columns are another tool's) → check ([`accounts`], [`requests`], through
//! [`collect`]) → resolve and decide → [`plan`] → the [`op`]erations sent
//! by the one [`transport`] → [`report`], driven by [`run`]. The two jobs
//! differ only by their [`job::Job`] impl; each kind of request is one
//! [`op`] value.

#![forbid(unsafe_code)]

/// `eprintln!` that never panics: when the reader of stderr has gone
/// (`2>&1 | head`), the run still finishes, writes its report and exits
/// with the code it earned. What could not be said is lost, nothing else.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod accounts;
pub mod body;
pub mod cells;
pub mod cli;
pub mod collect;
pub mod exit;
pub mod input;
pub mod job;
pub mod lookup;
pub mod manual;
pub mod map;
pub mod names;
pub mod nightly;
pub mod op;
pub mod outcome;
pub mod outputs;
pub mod pam360;
pub mod plan;
pub mod progress;
pub mod report;
pub mod requests;
pub mod run;
pub mod schema;
pub mod secret;
pub mod simulator;
pub mod template;
pub mod transport;
