//! The two reads of "working by names", as PAM360 shapes them: one page of
//! the resource list (`GET /restapi/json/v1/resources`, paged by
//! `STARTINDEX`/`LIMIT`) and one resource's accounts (`GET
//! …/resources/<id>/accounts`). Reads store nothing, so they are safe to
//! repeat. Ids come as strings (numbers are read too); an entry without a
//! usable id or name is left out, with a note in the log.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::{Call, Kind};
use crate::pam360::Answer;

/// The path of the resource list.
pub const RESOURCES_PATH: &str = "/restapi/json/v1/resources";

/// One entry of a list: a resource or an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: u64,
    pub name: String,
}

/// The read of one page of an org's resource list.
pub fn resource_page_call(org: Option<Arc<str>>, start: u64, limit: u64) -> Call {
    Call {
        kind: Kind::ListResources,
        path: RESOURCES_PATH.to_string(),
        org,
        input: Some(page_input(start, limit)),
        secrets: Vec::new(),
    }
}

/// The read of one resource's accounts.
pub fn account_list_call(org: Option<Arc<str>>, resource_id: u64) -> Call {
    Call {
        kind: Kind::ListAccounts,
        path: super::add_accounts::path(resource_id),
        org,
        input: None,
        secrets: Vec::new(),
    }
}

/// The `INPUT_DATA` asking for one page of the resource list.
pub fn page_input(start: u64, limit: u64) -> String {
    serde_json::json!({"operation": {"Details": {
        "STARTINDEX": start.to_string(),
        "LIMIT": limit.to_string(),
    }}})
    .to_string()
}

/// A resource list entry: only the fields used are read (the rest of a
/// 5,000-entry page is skipped, not kept).
#[derive(Deserialize)]
struct ResourceEntry {
    #[serde(rename = "RESOURCE ID")]
    id: Option<Value>,
    #[serde(rename = "RESOURCE NAME")]
    name: Option<Value>,
}

#[derive(Deserialize)]
struct AccountEntry {
    #[serde(rename = "ACCOUNT ID")]
    id: Option<Value>,
    #[serde(rename = "ACCOUNT NAME")]
    name: Option<Value>,
}

/// An account list: `Details` is an object with `ACCOUNT LIST`, or a list
/// of such objects.
#[derive(Deserialize)]
#[serde(untagged)]
enum AccountDetails {
    One {
        #[serde(rename = "ACCOUNT LIST")]
        list: Vec<AccountEntry>,
    },
    Many(Vec<AccountListHolder>),
}

#[derive(Deserialize)]
struct AccountListHolder {
    #[serde(rename = "ACCOUNT LIST")]
    list: Option<Vec<AccountEntry>>,
}

/// A page of the resource list: its entries and `operation.totalRows`.
/// No `Details` is an empty page.
pub fn resource_page(answer: &Answer) -> (Vec<Listed>, Option<u64>) {
    let entries: Vec<ResourceEntry> = answer.details_as().unwrap_or_default();
    let listed = entries
        .into_iter()
        .filter_map(|e| entry(e.id, e.name, "RESOURCE"))
        .collect();
    (listed, answer.total_rows)
}

/// The accounts of a resource, from either shape. `None` when neither
/// shape holds an account list: an empty list is a list, a missing one is
/// not.
pub fn account_list(answer: &Answer) -> Option<Vec<Listed>> {
    let lists: Vec<Vec<AccountEntry>> = match answer.details_as::<AccountDetails>()? {
        AccountDetails::One { list } => vec![list],
        AccountDetails::Many(holders) => holders.into_iter().filter_map(|h| h.list).collect(),
    };
    if lists.is_empty() {
        return None;
    }
    Some(
        lists
            .into_iter()
            .flatten()
            .filter_map(|e| entry(e.id, e.name, "ACCOUNT"))
            .collect(),
    )
}

fn entry(id: Option<Value>, name: Option<Value>, what: &str) -> Option<Listed> {
    let id = id.as_ref().and_then(super::server_id);
    match (id, name) {
        (Some(id), Some(Value::String(name))) => Some(Listed {
            id,
            name: name.trim().to_string(),
        }),
        _ => {
            log::info!(
                "a list entry without a usable \"{what} ID\" or \"{what} NAME\" is left out"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_public_shapes() {
        let page = Answer::parse(
            br#"{"operation":{"result":{"status":"Success"},"totalRows":3,
                "Details":[{"RESOURCE ID":"17","RESOURCE NAME":"db ","RESOURCE TYPE":"x"},
                           {"RESOURCE ID":42,"RESOURCE NAME":"web"},
                           {"RESOURCE NAME":"no id"}]}}"#,
        )
        .unwrap();
        let (entries, total) = resource_page(&page);
        assert_eq!(total, Some(3));
        assert_eq!(
            entries,
            vec![
                Listed {
                    id: 17,
                    name: "db".into()
                },
                Listed {
                    id: 42,
                    name: "web".into()
                }
            ]
        );
        let empty =
            Answer::parse(br#"{"operation":{"result":{"status":"Success"},"totalRows":0}}"#)
                .unwrap();
        assert_eq!(resource_page(&empty), (vec![], Some(0)));
        let accounts = Answer::parse(
            br#"{"operation":{"result":{"status":"Success"},"Details":{"RESOURCE ID":"17",
                "ACCOUNT LIST":[{"ACCOUNT ID":"1001","ACCOUNT NAME":"root"}]}}}"#,
        )
        .unwrap();
        let root = vec![Listed {
            id: 1001,
            name: "root".into(),
        }];
        assert_eq!(account_list(&accounts), Some(root.clone()));
        let listed = Answer::parse(
            br#"{"operation":{"result":{"status":"Success"},"Details":[{"RESOURCE ID":"17",
                "ACCOUNT LIST":[{"ACCOUNT ID":"1001","ACCOUNT NAME":"root"}]}]}}"#,
        )
        .unwrap();
        assert_eq!(account_list(&listed), Some(root));
        let none = Answer::parse(br#"{"operation":{"result":{"status":"Success"}}}"#).unwrap();
        assert_eq!(account_list(&none), None, "no list is not an empty list");
        let call = resource_page_call(None, 0, 500);
        let input: Value = serde_json::from_str(call.input.as_deref().unwrap()).unwrap();
        assert_eq!(input["operation"]["Details"]["STARTINDEX"], "0");
        assert_eq!(input["operation"]["Details"]["LIMIT"], "500");
        assert_eq!(call.kind, Kind::ListResources);
        assert_eq!(
            account_list_call(None, 17).path,
            "/restapi/json/v1/resources/17/accounts"
        );
    }
}
