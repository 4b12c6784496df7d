//! What a row is, for each job: its schema, its checks, its keys and what
//! it names on the server. What it is sent as is the operation layer's
//! (`crate::op`); a job only says which request carries its rows.
//!
//! Everything else (reading, checking order, duplicates, resolving,
//! planning, sending, retrying, reporting, resuming) is written once
//! against this trait.

use crate::input::RawRow;
use crate::op::{Kind, Op};
use crate::plan::{Target, Unit};
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
    /// Report columns after `message` (accounts: `fingerprint`); a report
    /// written before them is still read.
    pub extra: &'static [&'static str],
}

/// What a row names on the server, for the reads of "working by names":
/// ids where given (or resolved), names "" where not given.
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    pub resource_id: Option<u64>,
    pub resource_name: &'a str,
    pub account_name: &'a str,
    pub account_id: Option<u64>,
}

/// A row's resource, as far as the run knows it. No sentinel ids: each
/// state says what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceRef {
    /// Named (RESOURCENAME) and not resolved yet.
    Named,
    /// Given as RESOURCEID.
    Given(u64),
    /// Resolved from RESOURCENAME by reading the server.
    Resolved(u64),
    /// An offline dry run cannot resolve names: rows of one name share a
    /// stand-in, which is never shown or sent.
    StandIn(u32),
    /// A resource this run creates (`--create-resources`): the index of
    /// its create.
    ToCreate(u32),
}

impl ResourceRef {
    /// The server's id, when known.
    pub fn id(self) -> Option<u64> {
        match self {
            ResourceRef::Given(id) | ResourceRef::Resolved(id) => Some(id),
            _ => None,
        }
    }
}

/// A row's resource and its account's id, in 16 bytes where the plain
/// `(ResourceRef, Option<u64>)` takes 32: a million-row run keeps one per
/// row, and that is 15 MiB. PAM360's ids are Java longs above 0 (ids from
/// the input are checked so, ids from answers read so: see
/// [`crate::op::server_id`]), which leaves the top bit of each word free.
/// Those two bits say which [`ResourceRef`] it is, and an account word of 0
/// is "no account id". Only [`PackedIds::resource`] and
/// [`PackedIds::account`] read it: the packing never leaves this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedIds {
    resource: u64,
    account: u64,
}

/// The top bit of a word, free in a Java long above 0.
const TOP: u64 = 1 << 63;

impl PackedIds {
    pub fn new(resource: ResourceRef) -> Self {
        let mut ids = PackedIds {
            resource: 0,
            account: 0,
        };
        ids.set_resource(resource);
        ids
    }

    pub fn resource(self) -> ResourceRef {
        let value = self.resource & !TOP;
        match (self.resource & TOP != 0, self.account & TOP != 0) {
            (false, false) if value == 0 => ResourceRef::Named,
            (false, false) => ResourceRef::Given(value),
            (true, false) => ResourceRef::Resolved(value),
            (false, true) => ResourceRef::StandIn(value as u32),
            (true, true) => ResourceRef::ToCreate(value as u32),
        }
    }

    pub fn set_resource(&mut self, r: ResourceRef) {
        let (word, resource_bit, account_bit) = match r {
            ResourceRef::Named => (0, false, false),
            ResourceRef::Given(id) => (id, false, false),
            ResourceRef::Resolved(id) => (id, true, false),
            ResourceRef::StandIn(n) => (u64::from(n), false, true),
            ResourceRef::ToCreate(n) => (u64::from(n), true, true),
        };
        debug_assert!(word & TOP == 0, "an id past a Java long");
        self.resource = (word & !TOP) | if resource_bit { TOP } else { 0 };
        self.account = (self.account & !TOP) | if account_bit { TOP } else { 0 };
    }

    pub fn account(self) -> Option<u64> {
        Some(self.account & !TOP).filter(|id| *id > 0)
    }

    pub fn set_account(&mut self, id: u64) {
        debug_assert!(id & TOP == 0, "an id past a Java long");
        self.account = (self.account & TOP) | (id & !TOP);
    }
}

/// What a job is, as data: the rest of the program reads it from here.
#[derive(Debug)]
pub struct Spec {
    /// The subcommand's name, for messages.
    pub name: &'static str,
    pub schema: &'static Schema,
    /// The report's identity columns and how `--resume` matches rows.
    pub identity: Identity,
    /// The request a row becomes: it decides whether a row is safe to send
    /// twice (retries after an ambiguous failure, `unconfirmed` rows sent
    /// again on resume).
    pub main: Kind,
    /// Whether a row's target is an account (a password request) rather
    /// than a resource (adding accounts): its account must be found.
    pub targets_account: bool,
    /// What a live plan says a row would become ("would be added").
    pub would: &'static str,
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
    /// Whether sending a row twice does no harm.
    fn idempotent(&self) -> bool {
        self.spec().main.repeat_safe()
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
    /// The cells of the report's columns after `message` (see
    /// [`Identity::extra`]).
    fn extra(&self, _item: &Self::Item) -> Vec<String> {
        Vec::new()
    }
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
    /// Records what resolving found of the row's resource.
    fn set_resource(&self, _item: &mut Self::Item, _resource: ResourceRef) {}
    /// Records the server's id of the row's account.
    fn set_account(&self, item: &mut Self::Item, account_id: u64);

    /// Where the row's request goes; rows of one resource target share
    /// requests (see `plan`).
    fn target(&self, item: &Self::Item) -> Target;
    /// The request that carries `unit`'s rows.
    fn op<'a>(&self, unit: &Unit, items: &'a [Checked<Self::Item>]) -> Box<dyn Op + 'a>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_ids_give_back_what_was_put_in() {
        let big = i64::MAX as u64;
        let refs = [
            ResourceRef::Named,
            ResourceRef::Given(1),
            ResourceRef::Given(big),
            ResourceRef::Resolved(7),
            ResourceRef::Resolved(big),
            ResourceRef::StandIn(0),
            ResourceRef::StandIn(u32::MAX),
            ResourceRef::ToCreate(0),
            ResourceRef::ToCreate(u32::MAX),
        ];
        for r in refs {
            let mut ids = PackedIds::new(r);
            assert_eq!(ids.resource(), r);
            assert_eq!(ids.account(), None);
            for account in [1, 1001, big] {
                ids.set_account(account);
                assert_eq!((ids.resource(), ids.account()), (r, Some(account)));
            }
            for other in refs {
                ids.set_resource(other);
                assert_eq!((ids.resource(), ids.account()), (other, Some(big)));
            }
        }
        assert_eq!(std::mem::size_of::<PackedIds>(), 16);
    }
}
