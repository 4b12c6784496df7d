//! A string that must never be printed: the API token, and the secret cells
//! (passwords, TOTP secrets) when they travel outside the request body.
//!
//! `Debug` and `Display` both print `***`, so a secret that ends up in a log
//! line, an error chain or a panic message by accident shows nothing.

use std::fmt;

/// A secret value. Read it only with [`Secret::expose`], at the one place it is
/// put on the wire.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself: for the `AUTHTOKEN` header, never for a message.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Bytes that may hold secrets (a request body with its passwords): usable
/// as bytes, printed by `Debug` only as their length.
///
/// A million checked rows each keep one; they are carved out of shared,
/// per-thread blocks (see [`Sealed::from_slice`]) rather than allocated one
/// by one.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Sealed(bytes::Bytes);

/// Size of the blocks small sealed values are carved from.
const BLOCK: usize = 256 << 10;

impl Sealed {
    pub fn new(bytes: Vec<u8>) -> Self {
        Sealed(bytes.into())
    }

    /// A copy of `bytes`, appended to this thread's current block. A block
    /// is freed when the last value in it is. One allocation per row would
    /// cost a million small allocations, and glibc grows each thread's heap
    /// a page at a time, with a system call each time.
    pub fn from_slice(bytes: &[u8]) -> Self {
        thread_local! {
            static BLOCK_LEFT: std::cell::RefCell<bytes::BytesMut> =
                std::cell::RefCell::new(bytes::BytesMut::new());
        }
        if bytes.len() > BLOCK / 16 {
            return Sealed(bytes::Bytes::copy_from_slice(bytes));
        }
        BLOCK_LEFT.with_borrow_mut(|left| {
            if left.capacity() - left.len() < bytes.len() {
                // The full block lives on in the values carved from it.
                *left = bytes::BytesMut::with_capacity(BLOCK);
            }
            left.extend_from_slice(bytes);
            Sealed(left.split().freeze())
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes, not shown>", self.0.len())
    }
}

/// Replaces every occurrence of any of `secrets` in `text` by `***`.
///
/// Used on text the server echoes back (a STATUS or message may quote what it
/// was sent) before it is logged or reported. Longer secrets go first so a
/// secret that contains another is masked whole.
pub fn mask(text: &str, secrets: &[&str]) -> String {
    let mut sorted: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for s in sorted {
        if out.contains(s) {
            out = out.replace(s, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn sealed_bytes_never_print() {
        let s = Sealed::new(b"{\"PASSWORD\":\"hunter2\"}".to_vec());
        assert_eq!(format!("{s:?}"), "<22 bytes, not shown>");
    }

    #[test]
    fn sealed_values_share_blocks_but_keep_their_own_bytes() {
        let values: Vec<Vec<u8>> = (0..20_000u32)
            .map(|i| i.to_string().repeat(1 + i as usize % 7).into_bytes())
            .collect();
        let sealed: Vec<Sealed> = values.iter().map(|v| Sealed::from_slice(v)).collect();
        for (v, s) in values.iter().zip(&sealed) {
            assert_eq!(s.as_bytes(), &v[..]);
        }
        let big = vec![7u8; BLOCK];
        assert_eq!(Sealed::from_slice(&big).as_bytes(), &big[..]);
        assert_eq!(Sealed::from_slice(b"").as_bytes(), b"");
    }

    #[test]
    fn masks_longest_first() {
        assert_eq!(
            mask("pw abcdef and abc", &["abc", "abcdef"]),
            "pw *** and ***"
        );
        assert_eq!(mask("nothing here", &["", "zz"]), "nothing here");
    }
}
