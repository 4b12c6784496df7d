//! Change Password: `PUT /restapi/json/v1/resources/<rid>/accounts/<aid>/password`
//! with `NEWPASSWORD`, `RESETTYPE` and `REASON`. `RESETTYPE` is always
//! `LOCAL`: the vault's copy; `REMOTE` would change the password on the
//! target system, which an import must never do. Never safe to repeat
//! after an unknown outcome: it is `unconfirmed`, and a resume resends it
//! only with `--resend-unconfirmed`.

use std::sync::Arc;

use serde_json::json;

use super::{Call, Kind, Verdict, edit_account};
use crate::outcome::Outcome;
use crate::pam360::{Answer, is_success};

/// The change of one account's password.
pub fn call(
    org: Option<Arc<str>>,
    (resource_id, account_id): (u64, u64),
    password: &str,
    reason: &str,
) -> Call {
    let details = json!({"NEWPASSWORD": password, "RESETTYPE": "LOCAL", "REASON": reason});
    Call {
        kind: Kind::ChangePassword,
        path: format!("{}/password", edit_account::path(resource_id, account_id)),
        org,
        input: Some(super::input_data(|out| {
            let _ = serde_json::to_writer(out, &details);
        })),
        secrets: vec![password.to_string()],
    }
}

/// `updated` ("password changed") or `failed`.
pub fn verdict(answer: &Answer) -> Verdict {
    if is_success(&answer.status) {
        Verdict {
            outcome: Outcome::Updated,
            status: answer.message.clone(),
            message: "password changed".into(),
        }
    } else {
        Verdict {
            outcome: Outcome::Failed,
            status: answer.status.clone(),
            message: format!("the server refused the password change: {}", answer.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_goes_byte_for_byte_locally_and_is_a_secret() {
        let c = call(None, (902, 5001), " Pa$$ W&rd+=% ", "bulk import");
        assert_eq!(
            c.path,
            "/restapi/json/v1/resources/902/accounts/5001/password"
        );
        assert_eq!(c.secrets, [" Pa$$ W&rd+=% "]);
        let input: serde_json::Value = serde_json::from_str(c.input.as_deref().unwrap()).unwrap();
        let d = &input["operation"]["Details"];
        assert_eq!(d["NEWPASSWORD"], " Pa$$ W&rd+=% ");
        assert_eq!(d["RESETTYPE"], "LOCAL");
        assert_eq!(d["REASON"], "bulk import");
        assert!(!Kind::ChangePassword.repeat_safe());
    }
}
