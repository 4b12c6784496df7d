//! Request Password Approval by the Admin (vendor page 003):
//! `POST /restapi/json/v1/accounts/<ACCOUNTID>/requestpassword`, one row
//! each. Never safe to repeat: a second request is a second request for an
//! approver.

use std::sync::Arc;

use super::{Call, Kind, Op, Verdict, input_data};
use crate::cells::JsonObject;
use crate::outcome::Outcome;
use crate::pam360::{Answer, is_success};
use crate::requests::{Request, SCHEMA};

/// The path that requests an account's password.
pub fn path(account_id: u64) -> String {
    format!("/restapi/json/v1/accounts/{account_id}/requestpassword")
}

/// One password request.
pub struct RequestPassword<'a> {
    pub account_id: u64,
    pub org: Option<Arc<str>>,
    pub request: &'a Request,
}

impl Op for RequestPassword<'_> {
    fn call(&self) -> Call {
        Call {
            kind: Kind::RequestPassword,
            path: path(self.account_id),
            org: self.org.clone(),
            input: Some(input_data(|out| {
                let mut obj = JsonObject::open(out);
                self.request.body.write_json(&SCHEMA, &mut obj);
                obj.close();
            })),
            secrets: Vec::new(),
        }
    }

    fn verdicts(&self, answer: &Answer) -> Vec<Verdict> {
        vec![verdict(answer)]
    }
}

/// `requested` when the result is a success, its `Details.STATUS`
/// (`[Waiting for Approval]`) verbatim; `failed` otherwise.
pub fn verdict(answer: &Answer) -> Verdict {
    if is_success(&answer.status) {
        let status = answer.details_status().unwrap_or_default();
        Verdict {
            outcome: Outcome::Requested,
            message: if status.is_empty() {
                answer.message.clone()
            } else {
                String::new()
            },
            status,
        }
    } else {
        Verdict {
            outcome: Outcome::Failed,
            status: answer
                .details_status()
                .unwrap_or_else(|| answer.status.clone()),
            message: format!("the server refused the request: {}", answer.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_success_is_requested_with_its_status_and_a_failure_failed() {
        let ok = Answer::parse(br#"{"operation":{"result":{"status":"Success","message":"m"},"Details":{"STATUS":"[Waiting for Approval]"}}}"#).unwrap();
        let v = verdict(&ok);
        assert_eq!(
            (v.outcome, v.status.as_str()),
            (Outcome::Requested, "[Waiting for Approval]")
        );
        let no = Answer::parse(
            br#"{"operation":{"result":{"status":"Failed","message":"Account does not exist"}}}"#,
        )
        .unwrap();
        assert_eq!(verdict(&no).outcome, Outcome::Failed);
        assert_eq!(path(5001), "/restapi/json/v1/accounts/5001/requestpassword");
    }
}
