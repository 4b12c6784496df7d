//! The one difference between the two jobs: a row schema and a request shape.
//!
//! Everything else (reading, checking order, duplicates, planning, sending,
//! retrying, reporting, resuming) is written once against this trait.

use std::hash::Hasher;
use std::sync::Arc;

use crate::input::RawRow;
use crate::outcome::Outcome;
use crate::pam360::Answer;
use crate::schema::{Header, Schema};

/// A checked row with where it came from.
#[derive(Debug, Clone)]
pub struct Checked<I> {
    /// Spreadsheet row number.
    pub row: u64,
    /// Its `ORGNAME`, else `--org`, else none.
    pub org: Option<Arc<str>>,
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

/// A job: add-accounts or request-passwords.
pub trait Job: Sync {
    /// A checked row, ready to be sent.
    type Item: Send + Sync;

    /// The subcommand's name, for messages.
    fn name(&self) -> &'static str;
    fn schema(&self) -> &'static Schema;
    /// Report columns that identify a row, after `row,org`. They are also the
    /// key `--resume` matches rows by.
    fn key_columns(&self) -> &'static [&'static str];
    /// Whether sending a row twice does no harm. Decides retries after an
    /// ambiguous failure and whether `unconfirmed` rows are resent on resume.
    fn idempotent(&self) -> bool;
    /// Whether resume keys compare case-insensitively.
    fn key_case_insensitive(&self) -> bool;

    /// Checks a row. `Err` lists every problem, each naming its column.
    fn check(&self, header: &Header, row: &RawRow) -> Result<Self::Item, String>;
    /// The identity cells of a row as typed, for a row that is invalid.
    fn raw_key(&self, header: &Header, row: &RawRow) -> Vec<String>;
    /// The identity cells of a checked row.
    fn key(&self, item: &Self::Item) -> Vec<String>;
    /// The identity cells of a checked row, written into `out`'s strings
    /// (reused from row to row when a report is written).
    fn key_into(&self, item: &Self::Item, out: &mut Vec<String>) {
        *out = self.key(item);
    }

    /// Feeds what makes two rows duplicates (besides the org) to `h`.
    fn dup_hash(&self, item: &Self::Item, h: &mut dyn Hasher);
    /// Whether two rows of the same org are duplicates.
    fn same(&self, a: &Self::Item, b: &Self::Item) -> bool;

    /// Rows with the same group (and org) share a request, up to the chunk
    /// size; `None` sends each row alone.
    fn group(&self, item: &Self::Item) -> Option<u64>;
    /// The id in the request path.
    fn target(&self, item: &Self::Item) -> u64;
    /// The request path for `target`.
    fn path(&self, target: u64) -> String;
    /// Writes the JSON value of `Details` for these rows.
    fn details(&self, items: &[&Self::Item], out: &mut Vec<u8>);
    /// Secret values a row sends, to mask in whatever the server echoes.
    fn secrets(&self, item: &Self::Item) -> Vec<String>;
    /// Reads a JSON answer into one verdict per sent row, in order.
    fn reconcile(&self, answer: &Answer, items: &[&Self::Item]) -> Vec<Verdict>;
}

/// Lower-cases as the duplicate check does (Unicode, not only ASCII),
/// feeding a hasher the UTF-8 bytes of the lower-cased text without
/// allocating. ASCII text, the usual case, takes a byte-wise path that feeds
/// the very same bytes.
pub fn hash_lowercase(s: &str, h: &mut dyn Hasher) {
    let mut buf = [0u8; 64];
    let mut n = 0;
    let flush = |buf: &mut [u8; 64], n: &mut usize, h: &mut dyn Hasher| {
        h.write(&buf[..*n]);
        *n = 0;
    };
    if s.is_ascii() {
        for b in s.bytes() {
            if n == buf.len() {
                flush(&mut buf, &mut n, h);
            }
            buf[n] = b.to_ascii_lowercase();
            n += 1;
        }
    } else {
        for c in s.chars().flat_map(char::to_lowercase) {
            if n + 4 > buf.len() {
                flush(&mut buf, &mut n, h);
            }
            n += c.encode_utf8(&mut buf[n..]).len();
        }
    }
    flush(&mut buf, &mut n, h);
    h.write_u8(0xff);
}

/// Compares as the duplicate check does, without allocating.
pub fn eq_lowercase(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn hash(s: &str) -> u64 {
        let mut h = foldhash::fast::FixedState::with_seed(7).build_hasher();
        hash_lowercase(s, &mut h);
        h.finish()
    }

    #[test]
    fn ascii_and_unicode_paths_agree() {
        // U+212A KELVIN SIGN lower-cases to an ASCII 'k'.
        assert_eq!(hash("\u{212A}ELVIN"), hash("kelvin"));
        assert!(eq_lowercase("\u{212A}ELVIN", "Kelvin"));
        assert_eq!(hash("Administrator"), hash("ADMINISTRATOR"));
        assert_eq!(hash("Ärger"), hash("äRGER"));
        let long = "A".repeat(200);
        assert_eq!(hash(&long), hash(&long.to_lowercase()));
        assert_ne!(hash("ab"), hash("abc"));
    }
}
