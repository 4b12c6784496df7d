//! Edit Account: `PUT /restapi/json/v1/resources/<rid>/accounts/<aid>`
//! with the fields to write and `ACCOUNTNAME` as the server spells it;
//! never a password (the edit page has none). Safe to repeat: it writes
//! the same values again.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Call, Kind, Verdict, add_accounts};
use crate::outcome::Outcome;
use crate::pam360::{Answer, is_success};

/// The path of one account.
pub fn path(resource_id: u64, account_id: u64) -> String {
    format!("{}/{account_id}", add_accounts::path(resource_id))
}

/// An edit of one account: `fields` are the row's non-empty account
/// fields, with their JSON types (see `Account::edit_json`).
pub fn call(
    org: Option<Arc<str>>,
    (resource_id, account_id): (u64, u64),
    name: &str,
    fields: Map<String, Value>,
    secrets: Vec<String>,
) -> Call {
    let mut details = Map::new();
    details.insert("ACCOUNTNAME".into(), Value::String(name.to_string()));
    details.extend(fields);
    let details = Value::Object(details);
    Call {
        kind: Kind::EditAccount,
        path: path(resource_id, account_id),
        org,
        input: Some(super::input_data(|out| {
            let _ = serde_json::to_writer(out, &details);
        })),
        secrets,
    }
}

/// `updated` ("NOTES, ACCOUNTPASSWORDPOLICY written") or `failed`.
pub fn verdict(answer: &Answer, written: &[&str]) -> Verdict {
    if is_success(&answer.status) {
        Verdict {
            outcome: Outcome::Updated,
            status: answer.message.clone(),
            message: format!("{} written", written.join(", ")),
        }
    } else {
        Verdict {
            outcome: Outcome::Failed,
            status: answer.status.clone(),
            message: format!("the server refused the edit: {}", answer.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_names_the_account_as_the_server_spells_it_and_says_what_it_wrote() {
        let mut fields = Map::new();
        fields.insert("NOTES".into(), Value::String("new".into()));
        let c = call(None, (902, 5001), "Root", fields, Vec::new());
        assert_eq!(c.path, "/restapi/json/v1/resources/902/accounts/5001");
        assert_eq!(c.kind, Kind::EditAccount);
        assert_eq!(
            c.input.unwrap(),
            r#"{"operation":{"Details":{"ACCOUNTNAME":"Root","NOTES":"new"}}}"#
        );
        let ok = Answer::parse(br#"{"operation":{"name":"EDIT ACCOUNT","result":{"status":"Success","message":"Account admin modified successfully"}}}"#).unwrap();
        let v = verdict(&ok, &["NOTES"]);
        assert_eq!(
            (v.outcome, v.message.as_str()),
            (Outcome::Updated, "NOTES written")
        );
        let no = Answer::parse(
            br#"{"operation":{"result":{"status":"Failed","message":"Account does not exist"}}}"#,
        )
        .unwrap();
        assert_eq!(verdict(&no, &["NOTES"]).outcome, Outcome::Failed);
    }
}
