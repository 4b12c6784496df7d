//! A string that must never be printed: the API token, and the secret cells
//! (passwords, TOTP secrets) when they travel outside the request body; and
//! the scrubber that masks them in whatever a server sends back. (A row's
//! cells, secrets included, live in [`crate::body::Body`], which never
//! prints either.)
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

/// Masks the secrets a request held in whatever text the server sent back.
///
/// A server may echo what it got raw, JSON-escaped, form- or
/// percent-encoded, HTML-escaped, or cut short. So every spelling of every
/// secret is masked, and so is any run of the text that shares
/// [`Scrubber::WINDOW`] bytes with a spelling: a cut password is masked as
/// surely as a whole one. Secrets shorter than the window are masked where
/// they appear whole.
///
/// The speed trick lives here: the windows are kept as `u64`s in a hash set,
/// so a text is checked in one pass of lookups, however many secrets a
/// 1,000-account request held.
#[derive(Default)]
pub struct Scrubber {
    windows: foldhash::HashSet<u64>,
    short: Vec<String>,
}

impl Scrubber {
    /// Bytes a text must share with a secret's spelling to be masked.
    pub const WINDOW: usize = 8;
    /// Shorter secrets are masked only where they stand alone as a word.
    const ALONE: usize = 4;

    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut s = Scrubber::default();
        for secret in secrets {
            for spelling in spellings(secret) {
                let b = spelling.as_bytes();
                if b.len() < Self::WINDOW {
                    if !b.is_empty() {
                        s.short.push(spelling);
                    }
                    continue;
                }
                for w in b.windows(Self::WINDOW) {
                    s.windows.insert(window(w));
                }
            }
        }
        s.short.sort_by_key(|x| std::cmp::Reverse(x.len()));
        s.short.dedup();
        s
    }

    /// `text` with every secret-bearing run replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let b = text.as_bytes();
        let mut hidden = vec![false; b.len()];
        let mut any = false;
        if b.len() >= Self::WINDOW && !self.windows.is_empty() {
            for (i, w) in b.windows(Self::WINDOW).enumerate() {
                if self.windows.contains(&window(w)) {
                    hidden[i..i + Self::WINDOW].fill(true);
                    any = true;
                }
            }
        }
        for s in &self.short {
            for (i, _) in text.match_indices(s.as_str()) {
                // A secret of a few letters is masked where it stands alone:
                // masking every "ok" inside other words would garble the
                // text and, by elimination, show the secret.
                let alone = s.len() >= Self::ALONE
                    || (!text[..i].ends_with(char::is_alphanumeric)
                        && !text[i + s.len()..].starts_with(char::is_alphanumeric));
                if alone {
                    hidden[i..i + s.len()].fill(true);
                    any = true;
                }
            }
        }
        if !any {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut masking = false;
        for (i, c) in text.char_indices() {
            // A character is hidden if any of its bytes is.
            if hidden[i..i + c.len_utf8()].iter().any(|h| *h) {
                if !masking {
                    out.push_str("***");
                    masking = true;
                }
            } else {
                out.push(c);
                masking = false;
            }
        }
        out
    }
}

fn window(w: &[u8]) -> u64 {
    u64::from_le_bytes(w.try_into().expect("a window of 8 bytes"))
}

/// The ways a secret may come back: raw, JSON-escaped, form-encoded,
/// percent-encoded, HTML-escaped, and the encodings of its JSON form (what a
/// server echoing the request body shows).
fn spellings(secret: &str) -> Vec<String> {
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json[1..json.len().saturating_sub(1).max(1)].to_string();
    let mut out = Vec::with_capacity(12);
    for s in [secret.to_string(), json] {
        let form: String = form_urlencoded::byte_serialize(s.as_bytes()).collect();
        out.push(form.replace('+', "%20"));
        out.push(form);
        out.push(html_escape(&s, "&#39;"));
        out.push(html_escape(&s, "&#x27;"));
        out.push(s);
    }
    out.sort();
    out.dedup();
    out
}

fn html_escape(s: &str, apostrophe: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str(apostrophe),
            c => out.push(c),
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
    fn scrubs_every_spelling_and_every_piece() {
        let pw = "Zq&<>\"'+=% x7Lm9Kp2Wv4";
        let sc = Scrubber::new([pw, "tok", ""]);
        let form: String = form_urlencoded::byte_serialize(pw.as_bytes()).collect();
        let json = serde_json::to_string(pw).unwrap();
        let json_form: String = form_urlencoded::byte_serialize(json.as_bytes()).collect();
        for text in [
            format!("said {pw} ok"),
            format!("said {form} ok"),
            format!("said {json} ok"),
            format!("said {json_form} ok"),
            format!("said {} ok", html_escape(pw, "&#39;")),
            format!("said {} ok", &pw[..12]),
            format!("said {} ok", &pw[9..]),
        ] {
            let out = sc.scrub(&text);
            assert!(out.starts_with("said ") && out.ends_with(" ok"), "{out}");
            assert!(out.contains("***"), "{text} -> {out}");
            assert!(
                !out.contains("x7Lm9") && !out.contains("+=%"),
                "{text} -> {out}"
            );
        }
        assert_eq!(sc.scrub("the tok is here"), "the *** is here");
        assert_eq!(sc.scrub("a token"), "a token");
        assert_eq!(
            sc.scrub("Account added successfully"),
            "Account added successfully"
        );
        // Multi-byte text next to a secret stays valid UTF-8.
        let sc = Scrubber::new(["pässwörd-long"]);
        assert_eq!(sc.scrub("é pässwörd-long é"), "é *** é");
    }

    #[test]
    fn masks_longest_first() {
        assert_eq!(
            Scrubber::new(["abc", "abcdef"]).scrub("pw abcdef and abc"),
            "pw *** and ***"
        );
        assert_eq!(
            Scrubber::new(["", "zz"]).scrub("nothing here"),
            "nothing here"
        );
    }
}
