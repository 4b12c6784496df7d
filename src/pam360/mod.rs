//! Talking to PAM360: the HTTP client and reading its answers.
//!
//! PAM360 answers most errors with HTTP 200 and `operation.result.status`
//! `Failed`, so an answer is judged by its JSON, never by its HTTP code alone.

mod client;
mod policy;

pub use client::{
    Attempt, Client, ClientConfig, Failure, MAX_RETRY_AFTER, READ_ANSWER_CAP, TlsTrust,
    WRITE_ANSWER_CAP, parse_fingerprint, proxy_for, proxy_password, retry_after, shown_proxy,
};
pub use policy::{Step, StopReason, Tried, next_step};

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// Makes ring the process's TLS provider, once; later calls do nothing.
/// rustls uses ring here rather than aws-lc-rs: it builds in seconds where
/// aws-lc-sys took a minute, and needs no C toolchain beyond what ring's
/// own small build uses (it cross-builds for Windows with mingw-w64).
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// What to do about a certificate that failed verification, naming the
/// flag that will work.
pub fn certificate_hint(error: &str) -> &'static str {
    if error.contains("client certificate") {
        return "The PAM360 server must accept API clients without a certificate of their own; ask its administrator";
    }
    "Trust it with --pin-sha256 and its SHA-256 fingerprint: that works for any certificate, PAM360's self-signed one with only a CN included, which rustls cannot use as a root even with --ca-cert"
}

/// Per-account STATUS words, since no public source lists PAM360's strings.
/// In this order: "already exist" first (the duplicate text itself says "not
/// added"), then any failure word, then success; anything else is a failure,
/// since an account is safe to send again and a wrong `added` is not.
pub fn classify(status: &str) -> crate::outcome::Outcome {
    const FAILURE: [&str; 10] = [
        "fail",
        "unsuccess",
        "not success",
        "error",
        "invalid",
        "denied",
        "not allowed",
        "not added",
        "cannot",
        "unable",
    ];
    let s = status.to_lowercase();
    if s.contains("already exist") {
        crate::outcome::Outcome::Exists
    } else if FAILURE.iter().any(|w| s.contains(w)) {
        crate::outcome::Outcome::Failed
    } else if s.contains("success") || s.contains("added") {
        crate::outcome::Outcome::Added
    } else {
        crate::outcome::Outcome::Failed
    }
}

/// The parts of a PAM360 answer that matter. `Details` is kept as the raw
/// JSON text it came as, and read by the operation that asked for it: a
/// page of 5,000 resources is read straight into names and ids, never
/// into a tree of every field (which took ten times the page's size).
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// `operation.name`.
    pub name: String,
    /// `operation.result.status` as text (`Success`, `Failed`, `true`).
    pub status: String,
    /// `operation.result.message`.
    pub message: String,
    /// `operation.Details`, unread.
    pub details: Option<Box<RawValue>>,
    /// `operation.totalRows` of a list.
    pub total_rows: Option<u64>,
}

/// Whether a result status means success; compared case-insensitively since
/// endpoints differ (`Success`, `true`).
pub fn is_success(status: &str) -> bool {
    status.eq_ignore_ascii_case("success") || status.eq_ignore_ascii_case("true")
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The envelope of every answer, with `Details` left unread.
#[derive(Deserialize)]
struct Envelope {
    operation: Operation,
}

#[derive(Deserialize)]
struct Operation {
    #[serde(default)]
    name: Option<Value>,
    #[serde(default)]
    result: Option<Value>,
    #[serde(rename = "Details", default)]
    details: Option<Box<RawValue>>,
    #[serde(rename = "totalRows", default)]
    total_rows: Option<Value>,
}

impl Answer {
    /// Reads an answer body; `None` when it is not JSON with an `operation`.
    pub fn parse(body: &[u8]) -> Option<Answer> {
        let Envelope { operation: op } = serde_json::from_slice(body).ok()?;
        let result = op.result.as_ref();
        Some(Answer {
            name: text(op.name.as_ref()),
            status: text(result.and_then(|r| r.get("status"))),
            message: text(result.and_then(|r| r.get("message"))),
            details: op.details,
            total_rows: op.total_rows.and_then(|t| match t {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }),
        })
    }

    /// `Details` read as JSON (answers to writes are small).
    pub fn details_value(&self) -> Option<Value> {
        serde_json::from_str(self.details.as_ref()?.get()).ok()
    }

    /// `Details` read as `T`, when it has that shape.
    pub fn details_as<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(self.details.as_ref()?.get()).ok()
    }

    /// Whether this answer refuses the caller itself (bad token, host not
    /// allowed): the run stops rather than fail every chunk against it.
    pub fn is_auth_failure(&self) -> bool {
        if is_success(&self.status) {
            return false;
        }
        let msg = self.message.to_lowercase();
        self.name.eq_ignore_ascii_case("authentication")
            || msg.contains("authentication failed")
            || msg.contains("not allowed to access from this host")
            || msg.contains("api key received is not associated")
    }

    /// Per-account `(name, STATUS)` pairs, from either shape PAM360 uses:
    /// `{"acct":{"STATUS":..}}` or `[{"acct":{"STATUS":..}}]`.
    pub fn account_statuses(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut take = |map: &serde_json::Map<String, Value>| {
            for (name, v) in map {
                let status = v
                    .get("STATUS")
                    .or_else(|| v.get("status"))
                    .map(|s| text(Some(s)))
                    .unwrap_or_else(|| text(Some(v)));
                out.push((name.clone(), status));
            }
        };
        match self.details_value() {
            Some(Value::Object(map)) => take(&map),
            Some(Value::Array(list)) => {
                for entry in list {
                    if let Value::Object(map) = entry {
                        take(&map);
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// `Details.STATUS` of a single-object answer (password requests).
    pub fn details_status(&self) -> Option<String> {
        self.details_value()
            .as_ref()
            .and_then(|d| d.get("STATUS"))
            .map(|s| text(Some(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;

    #[test]
    fn status_words() {
        assert_eq!(classify("Account added successfully"), Outcome::Added);
        assert_eq!(classify("Account already exists"), Outcome::Exists);
        assert_eq!(
            classify("ACCOUNT ALREADY EXISTS IN RESOURCE"),
            Outcome::Exists
        );
        assert_eq!(classify("Duplicate account name"), Outcome::Failed);
        assert_eq!(
            classify("Account is not added  as it already exists"),
            Outcome::Exists
        );
        assert_eq!(classify("Account addition unsuccessful"), Outcome::Failed);
        assert_eq!(
            classify("Password does not conform to policy: duplicate characters not allowed"),
            Outcome::Failed
        );
        assert_eq!(classify("Invalid password policy"), Outcome::Failed);
    }

    #[test]
    fn proxies_as_curl_picks_them() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let all: &[(&str, &str)] = &[
            ("https_proxy", "http://user:pw@proxy:3128"),
            ("HTTP_PROXY", "http://cgi-set:1"),
            ("no_proxy", "internal.example, .corp"),
        ];
        assert_eq!(
            proxy_for("https://pam.example.com:8282", env(all)).as_deref(),
            Some("http://user:pw@proxy:3128")
        );
        // HTTP_PROXY (upper case) is never read; loopback never proxied.
        assert_eq!(proxy_for("http://pam.example.com", env(all)), None);
        assert_eq!(proxy_for("https://127.0.0.1:8282", env(all)), None);
        assert_eq!(proxy_for("https://localhost:8282", env(all)), None);
        assert_eq!(proxy_for("https://[::1]:8282", env(all)), None);
        assert_eq!(proxy_for("https://internal.example", env(all)), None);
        assert_eq!(proxy_for("https://pam.corp", env(all)), None);
        let upper: &[(&str, &str)] = &[("HTTPS_PROXY", "http://p:1")];
        assert_eq!(
            proxy_for("https://pam.example.com", env(upper)).as_deref(),
            Some("http://p:1")
        );
        assert_eq!(
            shown_proxy("http://user:pw@proxy:3128"),
            "http://user@proxy:3128"
        );
        // No scheme: http://, as curl reads it; the password never shows.
        let bare: &[(&str, &str)] = &[("HTTPS_PROXY", "user:s3cret@10.1.1.1:3128")];
        let p = proxy_for("https://pam.example.com", env(bare)).unwrap();
        assert_eq!(p, "http://user:s3cret@10.1.1.1:3128");
        assert_eq!(shown_proxy(&p), "http://user@10.1.1.1:3128");
        assert_eq!(proxy_password(&p).as_deref(), Some("s3cret"));
        assert_eq!(proxy_password("http://u:a%40b@p:1").as_deref(), Some("a@b"));
        // NO_PROXY address ranges, as curl takes them.
        let cidr: &[(&str, &str)] = &[
            ("https_proxy", "http://p:1"),
            ("NO_PROXY", "10.0.0.0/8, fd00::/8"),
        ];
        assert_eq!(proxy_for("https://10.20.30.40:8282", env(cidr)), None);
        assert_eq!(proxy_for("https://[fd00::5]:8282", env(cidr)), None);
        assert_eq!(
            proxy_for("https://11.0.0.1:8282", env(cidr)).as_deref(),
            Some("http://p:1")
        );
        assert_eq!(
            proxy_for("https://pam.example.com", env(cidr)).as_deref(),
            Some("http://p:1")
        );
    }

    #[test]
    fn retry_after_is_capped_and_reads_dates() {
        use std::time::Duration;
        assert_eq!(retry_after("1e20"), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(retry_after("-1"), None);
        assert_eq!(retry_after("inf"), None);
        assert_eq!(retry_after("NaN"), None);
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after("Fri, 01 Jan 2100 00:00:00 GMT"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn both_details_shapes() {
        let obj = br#"{"operation":{"name":"ADD ACCOUNTS","result":{"status":"Success","message":"ok"},
            "Details":{"a1":{"STATUS":"Account added successfully"},"a2":{"STATUS":"Account already exists"}}}}"#;
        let a = Answer::parse(obj).unwrap();
        assert_eq!(a.account_statuses().len(), 2);
        let list = br#"{"operation":{"result":{"status":"Failed","message":"x"},
            "Details":[{"a1":{"STATUS":"Account already exists"}}]}}"#;
        let a = Answer::parse(list).unwrap();
        assert_eq!(
            a.account_statuses(),
            vec![("a1".to_string(), "Account already exists".to_string())]
        );
    }

    #[test]
    fn auth_failures() {
        let a = Answer::parse(br#"{"operation":{"name":"Authentication","result":{"status":"Failed","message":"API key received is not associated to any user. Authentication failed."}}}"#).unwrap();
        assert!(a.is_auth_failure());
        let a = Answer::parse(br#"{"operation":{"name":"x","result":{"status":"Failed","message":"User is not allowed to access from this host"}}}"#).unwrap();
        assert!(a.is_auth_failure());
        let a = Answer::parse(br#"{"operation":{"name":"ADD","result":{"status":"Failed","message":"Resource not found"}}}"#).unwrap();
        assert!(!a.is_auth_failure());
    }

    #[test]
    fn success_words() {
        assert!(is_success("SUCCESS"));
        assert!(is_success("true"));
        assert!(!is_success("Failed"));
        let a = Answer::parse(br#"{"operation":{"result":{"status":true}}}"#).unwrap();
        assert!(is_success(&a.status));
        assert!(Answer::parse(b"<html>").is_none());
    }
}
