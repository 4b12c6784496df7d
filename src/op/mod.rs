//! What is sent: one value per kind of request. Each kind owns its method,
//! its path, its body, how its answer reads, and whether a repeat is safe;
//! the transport (`crate::transport`) sends any of them the same way.
//!
//! Adding a kind of request is one more [`Kind`], one module here that
//! builds its [`Call`] and reads its answer, and its test: the retry rule,
//! the worker pool, the rate and the journal do not change.

pub mod add_accounts;
pub mod change_password;
pub mod create_resource;
pub mod edit_account;
pub mod lists;
pub mod request_password;

use std::sync::Arc;

use crate::outcome::Outcome;

/// An HTTP method PAM360's API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
}

/// The kinds of request a run makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Seed 000: accounts under a resource, in one ACCOUNTLIST.
    AddAccounts,
    /// Seed 003: a password-access request for an account.
    RequestPassword,
    /// One page of the resource list.
    ListResources,
    /// The accounts of one resource.
    ListAccounts,
    /// A resource a migration needs (`--create-resources`).
    CreateResource,
    /// A resource's id by its name (after a create).
    FindResource,
    /// An existing account's fields (`--update`).
    EditAccount,
    /// An existing account's password (`--update-passwords`).
    ChangePassword,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::AddAccounts,
        Kind::RequestPassword,
        Kind::ListResources,
        Kind::ListAccounts,
        Kind::CreateResource,
        Kind::FindResource,
        Kind::EditAccount,
        Kind::ChangePassword,
    ];

    /// Its name in logs and in the summary.
    pub fn name(self) -> &'static str {
        match self {
            Kind::AddAccounts => "add accounts",
            Kind::RequestPassword => "request password",
            Kind::ListResources => "list resources",
            Kind::ListAccounts => "list accounts",
            Kind::CreateResource => "create resource",
            Kind::FindResource => "find resource",
            Kind::EditAccount => "edit account",
            Kind::ChangePassword => "change password",
        }
    }

    pub fn method(self) -> Method {
        match self {
            Kind::AddAccounts | Kind::RequestPassword | Kind::CreateResource => Method::Post,
            Kind::ListResources | Kind::ListAccounts | Kind::FindResource => Method::Get,
            Kind::EditAccount | Kind::ChangePassword => Method::Put,
        }
    }

    /// Whether sending it twice does no harm: the server refuses an
    /// account it already holds, an edit writes the same values again,
    /// and a read stores nothing. A password request is not (a second one
    /// is a second request for an approver), nor a create, nor a password
    /// change. Decides retries after an ambiguous failure, and whether an
    /// `unconfirmed` row is sent again on resume.
    pub fn repeat_safe(self) -> bool {
        !matches!(
            self,
            Kind::RequestPassword | Kind::CreateResource | Kind::ChangePassword
        )
    }

    /// What an answer of this kind says in a few words, for the `-v` log,
    /// when the batch's own result would mislead ("HTTP 200, 50 exist"
    /// rather than `Failed`); `None` to log the answer as it is.
    pub fn tally(self, answer: &crate::pam360::Answer) -> Option<String> {
        match self {
            Kind::AddAccounts => add_accounts::tally(answer),
            _ => None,
        }
    }

    /// Whether it only reads (stores nothing, whatever becomes of it).
    pub fn is_read(self) -> bool {
        self.method() == Method::Get
    }

    /// The largest answer read (see `pam360::client`): a page of a list may
    /// be large, an answer to a write never is.
    pub fn answer_cap(self) -> usize {
        if self.is_read() {
            crate::pam360::READ_ANSWER_CAP
        } else {
            crate::pam360::WRITE_ANSWER_CAP
        }
    }
}

/// An id as PAM360 gives it in an answer, a string or a number (see
/// [`id_of`]).
pub fn server_id(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::String(s) => id_of(s),
        serde_json::Value::Number(n) => n.as_u64().filter(|id| is_id(*id)),
        _ => None,
    }
}

/// An id written as text (an answer's, or an earlier report's): a Java
/// long above 0, else none. Whatever says more (a server, a report edited
/// by hand) names nothing: such an id is never sent, nor taken for
/// another (see `job::PackedIds`).
pub fn id_of(text: &str) -> Option<u64> {
    text.trim().parse().ok().filter(|id| is_id(*id))
}

fn is_id(id: u64) -> bool {
    (1..=i64::MAX as u64).contains(&id)
}

/// One request, ready to send.
#[derive(Debug, Clone)]
pub struct Call {
    pub kind: Kind,
    /// The path under the server, with ids filled in.
    pub path: String,
    /// The `orgName` header, when the row has an org.
    pub org: Option<Arc<str>>,
    /// `INPUT_DATA`: the form body of a write, the query of a read.
    pub input: Option<String>,
    /// Secret values it carries, to mask in whatever the server echoes.
    pub secrets: Vec<String>,
}

/// What an answer says of one row a request carried.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The server's STATUS text, verbatim (masked later).
    pub status: String,
    pub message: String,
}

/// `INPUT_DATA`: the JSON `{"operation":{"Details":…}}` around the
/// `Details` that `details` writes. The client sends it form-encoded.
pub fn input_data(details: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut body = Vec::with_capacity(256);
    body.extend_from_slice(b"{\"operation\":{\"Details\":");
    details(&mut body);
    body.extend_from_slice(b"}}");
    // Details are written from `str`s and ASCII JSON punctuation only.
    String::from_utf8(body).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A request built from rows: its call, and what its answer says of each
/// row it carries (in the order they were given).
pub trait Op: Sync {
    fn call(&self) -> Call;
    fn verdicts(&self, answer: &crate::pam360::Answer) -> Vec<Verdict>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_java_longs_above_0() {
        assert_eq!(id_of(" 1001 "), Some(1001));
        assert_eq!(id_of("9223372036854775807"), Some(i64::MAX as u64));
        for no in [
            "0",
            "-1",
            "9223372036854775808",
            "18446744073709551615",
            "1e3",
            "",
        ] {
            assert_eq!(id_of(no), None, "{no}");
        }
        assert_eq!(server_id(&serde_json::json!(42)), Some(42));
        assert_eq!(server_id(&serde_json::json!("42")), Some(42));
        assert_eq!(server_id(&serde_json::json!(9223372036854775808u64)), None);
        assert_eq!(server_id(&serde_json::json!(0)), None);
    }

    #[test]
    fn what_must_not_be_repeated_and_reads_are_gets() {
        for k in Kind::ALL {
            let once = [
                Kind::RequestPassword,
                Kind::CreateResource,
                Kind::ChangePassword,
            ];
            assert_eq!(k.repeat_safe(), !once.contains(&k), "{k:?}");
            assert_eq!(
                k.is_read(),
                matches!(
                    k,
                    Kind::ListResources | Kind::ListAccounts | Kind::FindResource
                )
            );
        }
        assert_eq!(
            input_data(|b| b.extend_from_slice(b"{}")),
            r#"{"operation":{"Details":{}}}"#
        );
    }
}
