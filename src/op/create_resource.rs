//! Create Resource: `POST /restapi/json/v1/resources` with the resource's
//! fields (`RESOURCENAME`, `RESOURCETYPE`, …, `RESOURCECUSTOMFIELD`). Never
//! safe to repeat: a second create of a name is refused at best, and a
//! create whose answer was lost is looked up by name ([`find_call`]),
//! never sent again. The answer seen from real servers carries no id; the
//! vendor page says it does: it is read when present, else looked up.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Call, Kind, lists::RESOURCES_PATH};
use crate::pam360::{Answer, is_success};

/// The create of one resource.
pub fn call(org: Option<Arc<str>>, fields: &Map<String, Value>) -> Call {
    let details = Value::Object(fields.clone());
    Call {
        kind: Kind::CreateResource,
        path: RESOURCES_PATH.to_string(),
        org,
        input: Some(super::input_data(|out| {
            // Writing a Value into a Vec cannot fail.
            let _ = serde_json::to_writer(out, &details);
        })),
        secrets: Vec::new(),
    }
}

/// What a create's answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// Created; its id when the answer gives one.
    Yes(Option<u64>),
    /// The server holds a resource of that name already.
    AlreadyThere,
    /// Refused, with the server's message.
    Refused(String),
}

/// Reads a create's answer.
pub fn read(answer: &Answer) -> Created {
    if answer.message.to_lowercase().contains("already exist") {
        return Created::AlreadyThere;
    }
    if !is_success(&answer.status) {
        return Created::Refused(answer.message.clone());
    }
    Created::Yes(details_id(answer))
}

/// The read of a resource's id by its name.
pub fn find_call(org: Option<Arc<str>>, name: &str) -> Call {
    let name: String =
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).collect();
    Call {
        kind: Kind::FindResource,
        path: format!("{RESOURCES_PATH}/resourcename/{name}"),
        org,
        input: None,
        secrets: Vec::new(),
    }
}

/// `Details.RESOURCEID` of an answer, as a string or a number.
pub fn details_id(answer: &Answer) -> Option<u64> {
    let d = answer.details_value()?;
    super::server_id(d.get("RESOURCEID").or_else(|| d.get("RESOURCE ID"))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(json: &str) -> Answer {
        Answer::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn the_captured_answers_read_right() {
        let captured = answer(
            r#"{"operation":{"name":"CREATE RESOURCE","result":{"status":"Success","message":"Resource web-01 has been added successfully"}}}"#,
        );
        assert_eq!(read(&captured), Created::Yes(None));
        let vendor = answer(
            r#"{"operation":{"result":{"status":"Success","message":"ok"},"Details":{"RESOURCEID":"42"}}}"#,
        );
        assert_eq!(read(&vendor), Created::Yes(Some(42)));
        let twice = answer(
            r#"{"operation":{"result":{"status":"Failed","message":"Resource web-01 already exists"}}}"#,
        );
        assert_eq!(read(&twice), Created::AlreadyThere);
        let no = answer(
            r#"{"operation":{"result":{"status":"Failed","message":"Invalid resource type"}}}"#,
        );
        assert_eq!(read(&no), Created::Refused("Invalid resource type".into()));
        let c = find_call(None, "web 01/é");
        assert_eq!(
            c.path,
            "/restapi/json/v1/resources/resourcename/web%2001%2F%C3%A9"
        );
        assert_eq!(c.kind, Kind::FindResource);
        let mut fields = Map::new();
        fields.insert("RESOURCENAME".into(), "web-01".into());
        let c = call(None, &fields);
        assert_eq!(
            c.input.unwrap(),
            r#"{"operation":{"Details":{"RESOURCENAME":"web-01"}}}"#
        );
    }
}
