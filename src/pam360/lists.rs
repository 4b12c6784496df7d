//! The two reads of "working by names", as PAM360 shapes them: the resource
//! list (paged by `STARTINDEX`/`LIMIT`) and one resource's accounts. Ids come
//! as strings (numbers are read too); an entry without a usable id is left
//! out, with a note in the log.

use serde_json::Value;

use super::Answer;

/// The path of the resource list.
pub const RESOURCES_PATH: &str = "/restapi/json/v1/resources";

/// One entry of a list: a resource or an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: u64,
    pub name: String,
}

/// The `INPUT_DATA` asking for one page of the resource list.
pub fn page_input(start: u64, limit: u64) -> String {
    serde_json::json!({"operation": {"Details": {
        "STARTINDEX": start.to_string(),
        "LIMIT": limit.to_string(),
    }}})
    .to_string()
}

/// A page of the resource list: its entries and `operation.totalRows`.
/// No `Details` is an empty page.
pub fn resource_page(answer: &Answer) -> (Vec<Listed>, Option<u64>) {
    let entries = match &answer.details {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|e| entry(e, "RESOURCE ID", "RESOURCE NAME"))
            .collect(),
        _ => Vec::new(),
    };
    (entries, answer.total_rows)
}

/// The accounts of a resource: `Details."ACCOUNT LIST"`, with `Details`
/// an object, or a list of such objects (the other shape PAM360 answers
/// in). `None` when neither shape holds an account list: an empty list is
/// a list, a missing one is not.
pub fn account_list(answer: &Answer) -> Option<Vec<Listed>> {
    let lists: Vec<&Vec<Value>> = match answer.details.as_ref()? {
        Value::Object(d) => vec![d.get("ACCOUNT LIST")?.as_array()?],
        Value::Array(entries) => entries
            .iter()
            .filter_map(|e| e.get("ACCOUNT LIST")?.as_array())
            .collect(),
        _ => return None,
    };
    if lists.is_empty() {
        return None;
    }
    Some(
        lists
            .into_iter()
            .flatten()
            .filter_map(|e| entry(e, "ACCOUNT ID", "ACCOUNT NAME"))
            .collect(),
    )
}

fn entry(e: &Value, id_key: &str, name_key: &str) -> Option<Listed> {
    let id = match e.get(id_key) {
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    };
    let name = e.get(name_key).and_then(Value::as_str);
    match (id, name) {
        (Some(id), Some(name)) if id > 0 => Some(Listed {
            id,
            name: name.trim().to_string(),
        }),
        _ => {
            log::info!("a list entry without a usable \"{id_key}\" or \"{name_key}\" is left out");
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
                "Details":[{"RESOURCE ID":"17","RESOURCE NAME":"db "},
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
        let input: Value = serde_json::from_str(&page_input(0, 500)).unwrap();
        assert_eq!(input["operation"]["Details"]["STARTINDEX"], "0");
        assert_eq!(input["operation"]["Details"]["LIMIT"], "500");
    }
}
