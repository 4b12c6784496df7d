//! The one difference between the two jobs: a row schema and a request shape.
//!
//! Everything else (reading, checking order, duplicates, planning, sending,
//! retrying, reporting, resuming) is written once against this trait.

use crate::input::RawRow;
use crate::outcome::Outcome;
use crate::pam360::Answer;
use crate::schema::{Header, Schema};

/// A checked row with where it came from. Kept small: a million of them
/// stay in memory until everything is read and checked.
#[derive(Debug, Clone)]
pub struct Checked<I> {
    /// Spreadsheet row number.
    pub row: u32,
    /// Its org (its `ORGNAME`, else `--org`, else none), as an index into
    /// the run's org table (see `Collected::org`).
    pub org: u32,
    pub item: I,
}

/// What the answer says of one sent row.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The server's STATUS text, verbatim (masked later).
    pub status: String,
    pub message: String,
}

/// How a job's rows are told apart: the report's identity columns, and the
/// ways `--resume` matches a row of this run to a row of an earlier report.
#[derive(Debug)]
pub struct Identity {
    /// Report columns that identify a row, after `row,org`.
    pub columns: &'static [&'static str],
    /// The identity columns of reports written before the name columns
    /// existed; `--resume` still reads them.
    pub legacy_columns: &'static [&'static str],
    /// Cells that the server fills when they are empty (index into
    /// `columns`, value): an empty ACCESS is `now`. Keys compare so.
    pub defaults: &'static [(usize, &'static str)],
    /// The ways a row is matched, each a list of indices into `columns`:
    /// by name, by id. A way applies when its first cell is not empty.
    pub ways: &'static [&'static [usize]],
}

/// What a row names on the server, for the reads of "working by names":
/// ids are 0 where not given (nor resolved yet), names "" where not given.
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    pub resource_id: u64,
    pub resource_name: &'a str,
    pub account_name: &'a str,
    pub account_id: u64,
}

/// What a job is, as data: the rest of the program reads it from here.
#[derive(Debug)]
pub struct Spec {
    /// The subcommand's name, for messages.
    pub name: &'static str,
    pub schema: &'static Schema,
    /// The report's identity columns and how `--resume` matches rows.
    pub identity: Identity,
    /// Whether sending a row twice does no harm. Decides retries after an
    /// ambiguous failure and whether `unconfirmed` rows are resent on resume.
    pub idempotent: bool,
    /// Whether a request goes to an account (a password request) rather
    /// than to a resource (adding accounts).
    pub targets_account: bool,
}

/// A job: add-accounts or request-passwords.
pub trait Job: Sync {
    /// A checked row, ready to be sent.
    type Item: Send + Sync + 'static;

    /// What the job is (see [`Spec`]).
    fn spec(&self) -> &'static Spec;
    fn name(&self) -> &'static str {
        self.spec().name
    }
    fn schema(&self) -> &'static Schema {
        self.spec().schema
    }
    fn identity(&self) -> &'static Identity {
        &self.spec().identity
    }
    /// Report columns that identify a row, after `row,org`.
    fn key_columns(&self) -> &'static [&'static str] {
        self.identity().columns
    }
    fn idempotent(&self) -> bool {
        self.spec().idempotent
    }
    fn targets_account(&self) -> bool {
        self.spec().targets_account
    }

    /// Checks a row. `Err` lists every problem, each naming its column.
    fn check(&self, header: &Header, row: &RawRow) -> Result<Self::Item, String>;
    /// The identity cells of a row as typed, for a row that is invalid.
    fn raw_key(&self, header: &Header, row: &RawRow) -> Vec<String>;
    /// The identity cells of a checked row, written into `out`'s strings
    /// (reused from row to row when a report is written).
    fn key_into(&self, item: &Self::Item, out: &mut Vec<String>);
    /// The identity cells of a checked row.
    fn key(&self, item: &Self::Item) -> Vec<String> {
        let mut out = Vec::new();
        self.key_into(item, &mut out);
        out
    }

    /// Appends the bytes that make two rows duplicates (besides the org):
    /// equal bytes for duplicates, hashed once per row.
    fn dup_key(&self, item: &Self::Item, out: &mut Vec<u8>);
    /// Whether two rows of the same org are duplicates: by their duplicate
    /// keys, so the two can never disagree. Only rows whose key hashes are
    /// equal are compared, so this is rarely called.
    fn same(&self, a: &Self::Item, b: &Self::Item) -> bool {
        let (mut ka, mut kb) = (Vec::new(), Vec::new());
        self.dup_key(a, &mut ka);
        self.dup_key(b, &mut kb);
        ka == kb
    }

    /// Rows with the same group (and org) share a request, up to the chunk
    /// size; `None` sends each row alone.
    fn group(&self, item: &Self::Item) -> Option<u64>;
    /// The id in the request path.
    fn target(&self, item: &Self::Item) -> u64;
    /// The request path for `target`.
    fn path(&self, target: u64) -> String;
    /// Writes the JSON value of `Details` for these rows.
    fn details(&self, items: &[&Self::Item], out: &mut Vec<u8>);
    /// The `INPUT_DATA` of a request carrying these rows.
    fn input_data(&self, items: &[&Self::Item]) -> String {
        crate::pam360::input_data(|out| self.details(items, out))
    }
    /// Secret values a row sends, to mask in whatever the server echoes.
    fn secrets(&self, item: &Self::Item) -> Vec<String>;
    /// The row's checked cells.
    fn body<'a>(&self, item: &'a Self::Item) -> &'a crate::body::Body;
    /// The columns in which two rows' cells differ, in schema order (a
    /// secret is named, never shown): what "duplicate of row N" says of
    /// the row it drops.
    fn differences(&self, a: &Self::Item, b: &Self::Item) -> Vec<&'static str> {
        crate::body::differences(self.schema(), self.body(a), self.body(b))
    }
    /// What the row names on the server.
    fn names<'a>(&self, item: &'a Self::Item) -> Names<'a>;
    /// Records ids the server's lists gave the row (0: unchanged).
    fn set_ids(&self, item: &mut Self::Item, resource_id: u64, account_id: u64);

    /// Reads a JSON answer into one verdict per sent row, in order.
    fn reconcile(&self, answer: &Answer, items: &[&Self::Item]) -> Vec<Verdict>;
}
