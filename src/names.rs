//! How names compare, by two rules that must not be mixed up.
//!
//! - **Ours** ([`fold`], [`eq_fold`]): our rows against our rows (duplicate
//!   checks, `--resume` keys): Unicode-normalised (NFC), then lower-cased.
//!   `José` typed in two ways is one name in our input.
//! - **The server's** ([`server_key`], [`server_eq`]): an input name against
//!   a name PAM360 gave (resolving, `exists`, `--verify`, a create's name,
//!   an answer's account names). PAM360 is a Java server, assumed to
//!   compare as `String.equalsIgnoreCase`: character by character, equal,
//!   or equal once upper-cased, or once that is lower-cased; no
//!   normalisation. An NFD `é` is another name there, and `ς` is `Σ`.
//!   Treating two names as the same account is a skip on the server's
//!   behalf, so it follows the server's rule, never a looser one.
//!
//! And the rule of "closest" suggestions ([`numbers`]): a suggestion never
//! points at another host, so the numbers in two names must be equal.

use unicode_normalization::UnicodeNormalization;

/// Appends the UTF-8 bytes of `s` as our rule compares it (NFC, lower
/// case). ASCII text, the usual case, takes a byte-wise path that appends
/// the very same bytes.
pub fn push_fold(s: &str, out: &mut Vec<u8>) {
    if s.is_ascii() {
        let start = out.len();
        out.extend_from_slice(s.as_bytes());
        out[start..].make_ascii_lowercase();
    } else {
        let mut buf = [0u8; 4];
        for c in s.nfc().flat_map(char::to_lowercase) {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

/// Compares by our rule, without allocating.
pub fn eq_fold(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.nfc()
        .flat_map(char::to_lowercase)
        .eq(b.nfc().flat_map(char::to_lowercase))
}

/// `s` as our rule compares it: NFC, lower case.
pub fn fold(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    push_fold(s, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Java's `Character.toUpperCase`: the simple (one-character) mapping.
/// Rust's `to_uppercase` is the full one (`ß` → `SS`); where the full
/// mapping has several characters, the simple one of the characters that
/// matter here leaves the character as it is.
fn simple_upper(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Java's `Character.toLowerCase`, the simple mapping (`İ` → `i`).
fn simple_lower(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    let mut low = c.to_lowercase();
    match (low.next(), low.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// The key under which names equal by the server's rule are equal: each
/// character lower-cased after upper-casing (simple mappings), trimmed.
/// Two names have one key exactly when `equalsIgnoreCase` holds.
pub fn server_key(s: &str) -> String {
    let s = s.trim();
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars().map(|c| simple_lower(simple_upper(c))).collect()
}

/// Whether PAM360 takes `a` and `b` for the same name.
pub fn server_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .map(|c| simple_lower(simple_upper(c)))
        .eq(b.chars().map(|c| simple_lower(simple_upper(c))))
}

/// The numbers in a name, as numbers, in order: `web-01` and `web-1` give
/// the same (`1`), `lnx-prod-350` and `lnx-prod-530` do not. Leading zeros
/// are dropped and digits compared as text, so a number of any length
/// compares exactly.
pub fn numbers(s: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if !run.is_empty() {
            let n = run.trim_start_matches('0');
            out.push_str(if n.is_empty() { "0" } else { n });
            out.push('.');
            run.clear();
        }
    };
    for c in s.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Whether `a` could be a slip of the keyboard for `b` (both folded): at
/// most a quarter of the shorter name's characters (at least 2) inserted,
/// dropped, changed or swapped, or one is the other with a domain after a
/// dot (`web-01.corp.example.com` and `web-01`). `lnx-cache-01` is not a
/// slip for `lnx-web-01`: fleets name hosts by one pattern, and a new host
/// is not a typo of an old one.
pub fn likely_typo(a: &str, b: &str) -> bool {
    let with_domain = |long: &str, short: &str| {
        long.strip_prefix(short)
            .is_some_and(|rest| rest.starts_with('.'))
    };
    if with_domain(a, b) || with_domain(b, a) {
        return true;
    }
    let shorter = a.chars().count().min(b.chars().count());
    strsim::damerau_levenshtein(a, b) <= (shorter / 4).max(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `String.equalsIgnoreCase`, as Java's `regionMatches` writes it, on
    /// characters: the rule [`server_key`] stands for.
    fn java_equals_ignore_case(a: &str, b: &str) -> bool {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        a.len() == b.len()
            && a.iter().zip(&b).all(|(&x, &y)| {
                let (ux, uy) = (simple_upper(x), simple_upper(y));
                x == y || ux == uy || simple_lower(ux) == simple_lower(uy)
            })
    }

    #[test]
    fn the_server_key_is_java_equals_ignore_case() {
        let names = [
            "root",
            "ROOT",
            "Root",
            "José",
            "jose\u{301}",
            "JOSÉ",
            "ΟΔΥΣΣΕΥΣ",
            "οδυσσευς",
            "οδυσσευσ",
            "straße",
            "STRASSE",
            "STRAßE",
            "İstanbul",
            "istanbul",
            "ıstanbul",
            "\u{212A}elvin",
            "kelvin",
            "ǅ",
            "ǆ",
            "Ǆ",
            "ﬀ",
            "FF",
            "",
            " root ",
        ];
        for a in names {
            for b in names {
                let java = java_equals_ignore_case(a.trim(), b.trim());
                assert_eq!(server_key(a) == server_key(b), java, "{a:?} {b:?}");
                assert_eq!(server_eq(a, b), java, "{a:?} {b:?}");
            }
        }
        // What the rule decides, spelled out.
        assert!(server_eq("ΟΔΥΣΣΕΥΣ", "οδυσσευς"), "final sigma is sigma");
        assert!(!server_eq("José", "jose\u{301}"), "no normalisation");
        assert!(!server_eq("straße", "STRASSE"), "no expansion");
        assert!(server_eq("İstanbul", "istanbul"));
        // Our own rule is looser on both counts.
        assert!(eq_fold("José", "jose\u{301}"));
        assert!(!eq_fold("ΟΔΥΣΣΕΥΣ", "οδυσσευς"));
    }

    #[test]
    fn our_fold_has_an_ascii_path_that_agrees() {
        assert_eq!(fold("\u{212A}ELVIN"), fold("kelvin"));
        assert!(eq_fold("\u{212A}ELVIN", "Kelvin"));
        assert_eq!(fold("Administrator"), fold("ADMINISTRATOR"));
        assert_eq!(fold("jose\u{301}"), fold("JOSÉ"));
        assert_ne!(fold("ab"), fold("abc"));
    }

    #[test]
    fn a_typo_is_a_few_keys_not_another_name_of_the_pattern() {
        assert!(likely_typo("dbb-02", "db-02"));
        assert!(likely_typo("web-1", "web-001"));
        assert!(likely_typo("mail server", "mail-server"));
        assert!(likely_typo("web-01.corp.example.com", "web-01"));
        assert!(likely_typo("lnx-wbe-01", "lnx-web-01"));
        assert!(!likely_typo("lnx-cache-01", "lnx-web-01"));
        assert!(!likely_typo("lnx-db-01", "lnx-mq-01x"));
        assert!(!likely_typo("web-01x.example", "web-01"));
    }

    #[test]
    fn numbers_compare_as_numbers_in_order() {
        assert_eq!(numbers("web-01"), numbers("web-1"));
        assert_eq!(numbers("web-001"), numbers("WEB-1"));
        assert_ne!(numbers("lnx-prod-350"), numbers("lnx-prod-530"));
        assert_ne!(numbers("WIN-APP-003"), numbers("WIN-APP-300"));
        assert_ne!(numbers("a1b2"), numbers("a2b1"));
        assert_ne!(numbers("web-0"), numbers("web-"));
        assert_eq!(numbers("db"), numbers("dbb"));
        assert_eq!(numbers("x-00000000000000000000000042"), numbers("x-42"));
    }
}
