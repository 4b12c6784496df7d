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
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Sealed(Box<[u8]>);

impl Sealed {
    pub fn new(bytes: Vec<u8>) -> Self {
        Sealed(bytes.into_boxed_slice())
    }

    /// A copy of `bytes`, allocated at exactly their size.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Sealed(Box::from(bytes))
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
    fn masks_longest_first() {
        assert_eq!(
            mask("pw abcdef and abc", &["abc", "abcdef"]),
            "pw *** and ***"
        );
        assert_eq!(mask("nothing here", &["", "zz"]), "nothing here");
    }
}
