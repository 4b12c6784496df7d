//! The simulator's endpoints, as PAM360 answers them: HTTP 200 with
//! `Failed` for a refusal, the same checks of the vendor's JSON types, and
//! the shapes public clients have captured.
//!
//! | method | path under `/restapi/json/v1` | what |
//! | --- | --- | --- |
//! | POST | `/resources` | create a resource (its answer carries no id) |
//! | GET | `/resources` | the resource list, paged |
//! | GET | `/resources/resourcename/<NAME>` | a resource's id by name |
//! | POST | `/resources/<rid>/accounts` | add accounts (seed 000) |
//! | GET | `/resources/<rid>/accounts` | a resource's accounts |
//! | PUT | `/resources/<rid>/accounts/<aid>` | edit an account |
//! | PUT | `/resources/<rid>/accounts/<aid>/password` | change its password |
//! | POST | `/accounts/<aid>/requestpassword` | request a password (seed 003) |

use hyper::StatusCode;
use serde_json::{Value, json};

use super::store::{Resource, Store};
use super::{Reply, SimOptions, json_reply};

/// PAM360's shape for a refused operation: HTTP 200 and `Failed`.
pub(crate) fn failed(name: &str, message: &str) -> Reply {
    json_reply(
        StatusCode::OK,
        json!({"operation":{"name":name,"result":{"status":"Failed","message":message}}}),
    )
}

fn success(name: &str, message: &str, details: Option<Value>) -> Reply {
    let mut op = json!({"name": name, "result": {"status": "Success", "message": message}});
    if let Some(d) = details {
        op["Details"] = d;
    }
    json_reply(StatusCode::OK, json!({ "operation": op }))
}

const API: &str = "/restapi/json/v1";

/// What a request asks for, by its method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    CreateResource,
    ListResources,
    FindResource(String),
    AddAccounts(u64),
    ListAccounts(u64),
    EditAccount(u64, u64),
    ChangePassword(u64, u64),
    RequestPassword(u64),
    /// A path of the API with a malformed id.
    BadId(&'static str),
    Unknown,
}

impl Endpoint {
    pub fn of(method: &hyper::Method, path: &str) -> Endpoint {
        use hyper::Method as M;
        let Some(rest) = path.strip_prefix(API) else {
            return Endpoint::Unknown;
        };
        let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        // PAM360 has no resource or account 0.
        let id = |s: &str| s.parse::<u64>().ok().filter(|id| *id > 0);
        match (method, parts.as_slice()) {
            (&M::POST, ["resources"]) => Endpoint::CreateResource,
            (&M::GET, ["resources"]) => Endpoint::ListResources,
            (&M::GET, ["resources", "resourcename", name]) => {
                let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
                Endpoint::FindResource(name.into_owned())
            }
            (m, ["resources", rid, "accounts"]) => match (m, id(rid)) {
                (_, None) => Endpoint::BadId("Invalid resource id"),
                (&M::POST, Some(rid)) => Endpoint::AddAccounts(rid),
                (&M::GET, Some(rid)) => Endpoint::ListAccounts(rid),
                _ => Endpoint::Unknown,
            },
            (&M::PUT, ["resources", rid, "accounts", aid, rest @ ..]) => {
                match (id(rid), id(aid), rest) {
                    (Some(r), Some(a), []) => Endpoint::EditAccount(r, a),
                    (Some(r), Some(a), ["password"]) => Endpoint::ChangePassword(r, a),
                    (None, ..) | (_, None, _) => Endpoint::BadId("Invalid resource or account id"),
                    _ => Endpoint::Unknown,
                }
            }
            (&M::POST, ["accounts", aid, "requestpassword"]) => match id(aid) {
                Some(aid) => Endpoint::RequestPassword(aid),
                None => Endpoint::BadId("Invalid account id"),
            },
            _ => Endpoint::Unknown,
        }
    }

    /// Whether it stores something.
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            Endpoint::ListResources | Endpoint::FindResource(_) | Endpoint::ListAccounts(_)
        )
    }

    /// Whether it is a create (for `--lose-create-answers`).
    pub fn is_create(&self) -> bool {
        *self == Endpoint::CreateResource
    }
}

/// Answers a write: `details` is its `INPUT_DATA`'s `operation.Details`.
pub(crate) fn write(
    endpoint: &Endpoint,
    opts: &SimOptions,
    store: &mut Store,
    org: &str,
    details: &Value,
) -> Reply {
    match endpoint {
        Endpoint::CreateResource => create_resource(store, org, details),
        Endpoint::AddAccounts(rid) => add_accounts(opts, store, org, *rid, details),
        Endpoint::EditAccount(rid, aid) => edit_account(store, org, (*rid, *aid), details),
        Endpoint::ChangePassword(rid, aid) => change_password(store, org, (*rid, *aid), details),
        Endpoint::RequestPassword(aid) => request_password(opts, store, org, *aid, details),
        Endpoint::BadId(why) => failed("INPUT", why),
        _ => json_reply(StatusCode::NOT_FOUND, json!({"error":"no such API"})),
    }
}

const ACCOUNT_STRINGS: &[&str] = &[
    "ACCOUNTNAME",
    "PASSWORD",
    "ACCOUNTPASSWORDPOLICY",
    "NOTES",
    "TOTP_SECRET",
    "TOTP_ALGORITHM",
    "TOTP_DIGITS",
    "TOTP_VALIDITY",
    "SAP_USER_TYPE",
];
const ACCOUNT_NUMBERS: &[&str] = &["ACCOUNTPASSWORDPOLICYID", "COMMAND_SET"];
const ACCOUNT_BOOLS: &[&str] = &[
    "RECORD_RDP_SESSIONS",
    "RECORD_CLI_SESSIONS",
    "DISABLE_PASSWORD_RESETS",
    "CONFIGURE_PASSWORD_RESET",
    "IIS_WEB_CONFIG_RESET",
    "IIS_APP_POOL_RESTART",
    "IIS_APP_POOL_RESET",
    "SERVICES_RESTART",
    "SERVICES_RESET",
    "SCHEDULED_TASK_RESET",
    "WEBSITE_SESSION_RECORDING",
    "GATEWAY_SESSION_RECORDING",
];
const RESOURCE_STRINGS: &[&str] = &[
    "RESOURCENAME",
    "RESOURCETYPE",
    "DNSNAME",
    "RESOURCEDESCRIPTION",
    "DOMAINNAME",
    "DEPARTMENT",
    "LOCATION",
    "RESOURCEURL",
    "RESOURCEPASSWORDPOLICY",
    "RESOURCEGROUPNAME",
    "OWNERNAME",
];

fn string_array(v: &Value) -> bool {
    v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
}

fn custom_fields(v: &Value) -> bool {
    v.as_array().is_some_and(|a| {
        a.iter().all(|f| {
            f.get("CUSTOMLABEL").is_some_and(Value::is_string) && f.get("CUSTOMVALUE").is_some()
        })
    })
}

/// Why an account's fields do not have the vendor's types, if they do not.
fn check_account_fields(obj: &serde_json::Map<String, Value>) -> Result<(), String> {
    for (k, v) in obj {
        let key = k.as_str();
        let ok = if ACCOUNT_STRINGS.contains(&key) {
            v.is_string()
        } else if ACCOUNT_NUMBERS.contains(&key) {
            v.is_number()
        } else if ACCOUNT_BOOLS.contains(&key) {
            v.is_boolean()
        } else if key == "ACCOUNT_RESOURCE_GROUP_IDS" {
            string_array(v)
        } else if key == "ACCOUNTCUSTOMFIELD" {
            custom_fields(v)
        } else {
            return Err(format!("Unknown parameter {k}"));
        };
        if !ok {
            return Err(format!("Invalid value type for {k}"));
        }
    }
    Ok(())
}

/// An account entry's name, or why it cannot be added.
fn check_account(entry: &Value) -> Result<String, String> {
    let Some(obj) = entry.as_object() else {
        return Err("Invalid account entry".into());
    };
    let name = match obj.get("ACCOUNTNAME") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err("ACCOUNTNAME is mandatory".into()),
    };
    check_account_fields(obj)?;
    Ok(name)
}

fn add_accounts(opts: &SimOptions, store: &mut Store, org: &str, rid: u64, d: &Value) -> Reply {
    let Some(list) = d.get("ACCOUNTLIST").and_then(Value::as_array) else {
        return failed("ADD ACCOUNTS", "ACCOUNTLIST is mandatory");
    };
    let mut answers: Vec<(String, String)> = Vec::new();
    let mut added = 0;
    for entry in list {
        let answer = match check_account(entry) {
            Err(why) => {
                let name = entry.get("ACCOUNTNAME").and_then(Value::as_str);
                (name.unwrap_or("").to_string(), why)
            }
            Ok(name) if !store.add_account(org, rid, entry.clone(), None) => (
                name,
                "Account is not added  as it already exists".to_string(),
            ),
            Ok(name) => {
                added += 1;
                let status = if opts.echo {
                    format!("Account added successfully: {entry}")
                } else {
                    "Account added successfully".to_string()
                };
                (name, status)
            }
        };
        answers.push(answer);
    }
    let details = if opts.list_shape {
        Value::Array(
            answers
                .iter()
                .map(|(n, s)| json!({ n.clone(): {"STATUS": s} }))
                .collect(),
        )
    } else {
        let mut m = serde_json::Map::new();
        for (n, s) in &answers {
            m.insert(n.clone(), json!({"STATUS": s}));
        }
        Value::Object(m)
    };
    let (status, message) = if added > 0 {
        ("Success", "Account added successfully")
    } else {
        ("Failed", "No account was added")
    };
    json_reply(
        StatusCode::OK,
        json!({"operation":{"name":"ADD ACCOUNTS","result":{"status":status,"message":message},"Details":details}}),
    )
}

fn check_request(d: &Value) -> Result<(), String> {
    let Some(obj) = d.as_object() else {
        return Err("Invalid Details".into());
    };
    for (k, v) in obj {
        let ok = match k.as_str() {
            "REASON" | "STARTTIME" | "ENDTIME" | "RESOURCES_TO_BE_ACCESSED_OPTION" => v.is_string(),
            "ACCESS" => matches!(v.as_str(), Some("now" | "later")),
            "REMINDERTIME" => v.is_number(),
            "SELECTED_RESOURCEIDS" => string_array(v),
            _ => return Err(format!("Unknown parameter {k}")),
        };
        if !ok {
            return Err(format!("Invalid value type for {k}"));
        }
    }
    Ok(())
}

fn request_password(opts: &SimOptions, store: &mut Store, org: &str, aid: u64, d: &Value) -> Reply {
    if let Err(why) = check_request(d) {
        return failed("REQUEST PASSWORD", &why);
    }
    if !opts.any_account && !store.has_account_id(aid) {
        return failed(
            "REQUEST PASSWORD",
            "Account does not exist or you are not authorized to access it",
        );
    }
    store
        .saved
        .requests
        .push(json!({"org": org, "account_id": aid, "details": d}));
    json_reply(
        StatusCode::OK,
        json!({"operation":{"result":{"message":"Password request raised successfully","status":"Success","statusCode":20000},
            "Details":{"STATUS":"[Waiting for Approval]"},"name":"REQUEST PASSWORD"}}),
    )
}

/// Create Resource: the resource fields are strings, custom fields an
/// array; a name the org already has (as the server compares names) is
/// refused. The answer carries no id, as the ones captured from real
/// servers do.
fn create_resource(store: &mut Store, org: &str, d: &Value) -> Reply {
    const NAME: &str = "CREATE RESOURCE";
    let Some(obj) = d.as_object() else {
        return failed(NAME, "Invalid Details");
    };
    let name = match obj.get("RESOURCENAME") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => return failed(NAME, "RESOURCENAME is mandatory"),
    };
    for (k, v) in obj {
        let ok = if RESOURCE_STRINGS.contains(&k.as_str()) {
            v.is_string()
        } else if k == "RESOURCECUSTOMFIELD" {
            custom_fields(v)
        } else {
            return failed(NAME, &format!("Unknown parameter {k}"));
        };
        if !ok {
            return failed(NAME, &format!("Invalid value type for {k}"));
        }
    }
    if !store.resources_named(org, &name).is_empty() {
        return failed(NAME, &format!("Resource {name} already exists"));
    }
    let kind = obj
        .get("RESOURCETYPE")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    store.add_resource(Resource {
        org: org.to_string(),
        id: store.next_resource_id(),
        name: name.clone(),
        kind,
        fields: d.clone(),
    });
    success(
        NAME,
        &format!("Resource {name} has been added successfully"),
        None,
    )
}

/// A resource's id by its name (`GET …/resourcename/<NAME>`).
pub(crate) fn find_resource(store: &Store, org: &str, name: &str) -> Reply {
    const NAME: &str = "GET RESOURCE ID";
    match store.resources_named(org, name).as_slice() {
        [r] => success(
            NAME,
            "Resource ID fetched successfully",
            Some(json!({"RESOURCEID": r.id.to_string(), "RESOURCENAME": r.name})),
        ),
        [] => failed(NAME, &format!("Resource {name} does not exist")),
        _ => failed(NAME, &format!("More than one resource is named {name}")),
    }
}

/// Edit Account: the fields to change, with `ACCOUNTNAME`; never a
/// password (the edit page has none).
fn edit_account(store: &mut Store, org: &str, (rid, aid): (u64, u64), d: &Value) -> Reply {
    const NAME: &str = "EDIT ACCOUNT";
    let Some(obj) = d.as_object() else {
        return failed(NAME, "Invalid Details");
    };
    if obj.contains_key("PASSWORD") {
        return failed(NAME, "Unknown parameter PASSWORD");
    }
    if let Err(why) = check_account_fields(obj) {
        return failed(NAME, &why);
    }
    let Some(account) = store.account_mut(org, rid, aid) else {
        return failed(
            NAME,
            "Account does not exist or you are not authorized to access it",
        );
    };
    let name = account.fields["ACCOUNTNAME"]
        .as_str()
        .unwrap_or("")
        .to_string();
    for (k, v) in obj {
        if k != "ACCOUNTNAME" {
            account.fields[k] = v.clone();
        }
    }
    store.saved.edits.push(json!({
        "org": org, "resource_id": rid, "account_id": aid, "details": d,
    }));
    success(NAME, &format!("Account {name} modified successfully"), None)
}

/// Change Password: `NEWPASSWORD`, `RESETTYPE` and `REASON`; the vault's
/// copy is replaced.
fn change_password(store: &mut Store, org: &str, (rid, aid): (u64, u64), d: &Value) -> Reply {
    const NAME: &str = "CHANGE PASSWORD";
    let (Some(new), Some(reset)) = (
        d.get("NEWPASSWORD").and_then(Value::as_str),
        d.get("RESETTYPE").and_then(Value::as_str),
    ) else {
        return failed(NAME, "NEWPASSWORD and RESETTYPE are mandatory");
    };
    if !matches!(reset, "LOCAL" | "REMOTE") {
        return failed(NAME, "RESETTYPE must be LOCAL or REMOTE");
    }
    let new = new.to_string();
    let Some(account) = store.account_mut(org, rid, aid) else {
        return failed(
            NAME,
            "Account does not exist or you are not authorized to access it",
        );
    };
    account.fields["PASSWORD"] = Value::String(new);
    store.saved.password_changes.push(json!({
        "org": org, "resource_id": rid, "account_id": aid, "details": d,
    }));
    success(NAME, "Password changed successfully", None)
}

/// STARTINDEX and LIMIT from `INPUT_DATA` in the query string.
fn paging(query: &str) -> (u64, u64) {
    let input = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "INPUT_DATA")
        .and_then(|(_, v)| serde_json::from_str::<Value>(&v).ok());
    let field = |name: &str, default: u64| {
        input
            .as_ref()
            .and_then(|v| v.pointer(&format!("/operation/Details/{name}")).cloned())
            .and_then(|v| match v {
                Value::String(s) => s.trim().parse().ok(),
                Value::Number(n) => n.as_u64(),
                _ => None,
            })
            .unwrap_or(default)
    };
    (field("STARTINDEX", 0), field("LIMIT", 100))
}

/// Answers a read.
pub(crate) fn read(
    endpoint: &Endpoint,
    opts: &SimOptions,
    store: &Store,
    org: &str,
    query: &str,
) -> Reply {
    match endpoint {
        Endpoint::ListResources => resource_list(opts, store, org, query),
        Endpoint::FindResource(name) => find_resource(store, org, name),
        Endpoint::ListAccounts(rid) => account_list(opts, store, org, *rid),
        Endpoint::BadId(why) => failed("GET", why),
        _ => json_reply(StatusCode::NOT_FOUND, json!({"error":"no such API"})),
    }
}

fn resource_list(opts: &SimOptions, store: &Store, org: &str, query: &str) -> Reply {
    let (start, limit) = paging(query);
    let limit = opts.page_cap.map_or(limit, |cap| limit.min(cap as u64));
    // Public sources disagree whether STARTINDEX counts from 0 or 1; the
    // simulator can be either.
    let skip = if opts.one_based_paging {
        start.saturating_sub(1)
    } else {
        start
    };
    let all = store.resources_of(org);
    let page: Vec<Value> = all
        .iter()
        .skip(skip as usize)
        .take(limit as usize)
        .map(|r| {
            json!({"RESOURCE ID": r.id.to_string(), "RESOURCE NAME": r.name,
                "RESOURCE TYPE": r.kind, "RESOURCE DESCRIPTION": ""})
        })
        .collect();
    let mut op = json!({
        "name": "GET RESOURCES",
        "result": {"status": "Success", "message": "Resources fetched successfully"},
        "totalRows": all.len(),
    });
    // No Details at all when there is nothing to list, as PAM360 answers.
    if !page.is_empty() {
        op["Details"] = Value::Array(page);
    }
    json_reply(StatusCode::OK, json!({ "operation": op }))
}

fn account_list(opts: &SimOptions, store: &Store, org: &str, id: u64) -> Reply {
    let Some(resource) = store.resource(org, id) else {
        return failed(
            "GET RESOURCE ACCOUNTS",
            "Resource does not exist or you are not authorized to access it",
        );
    };
    let accounts: Vec<Value> = store
        .accounts_of(org, id)
        .filter(|(_, name)| {
            !opts
                .hide_accounts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
        })
        .map(|(aid, name)| json!({"ACCOUNT ID": aid.to_string(), "ACCOUNT NAME": name}))
        .collect();
    let details = json!({"RESOURCE ID": id.to_string(), "RESOURCE NAME": resource.name,
        "RESOURCE TYPE": resource.kind, "ACCOUNT LIST": accounts});
    json_reply(
        StatusCode::OK,
        json!({"operation": {
            "name": "GET RESOURCE ACCOUNTS",
            "result": {"status": "Success", "message": "Resource details with account list fetched successfully"},
            // The other shape public clients have seen: a list around it.
            "Details": if opts.list_shape { json!([details]) } else { details },
        }}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    #[test]
    fn paths_name_their_endpoints() {
        let e = |m: &Method, p: &str| Endpoint::of(m, &format!("{API}{p}"));
        assert_eq!(e(&Method::POST, "/resources"), Endpoint::CreateResource);
        assert_eq!(e(&Method::GET, "/resources"), Endpoint::ListResources);
        assert_eq!(
            e(&Method::GET, "/resources/resourcename/web%2001"),
            Endpoint::FindResource("web 01".into())
        );
        assert_eq!(
            e(&Method::POST, "/resources/9/accounts"),
            Endpoint::AddAccounts(9)
        );
        assert_eq!(
            e(&Method::GET, "/resources/9/accounts"),
            Endpoint::ListAccounts(9)
        );
        assert_eq!(
            e(&Method::PUT, "/resources/9/accounts/5"),
            Endpoint::EditAccount(9, 5)
        );
        assert_eq!(
            e(&Method::PUT, "/resources/9/accounts/5/password"),
            Endpoint::ChangePassword(9, 5)
        );
        assert_eq!(
            e(&Method::POST, "/accounts/5/requestpassword"),
            Endpoint::RequestPassword(5)
        );
        assert!(matches!(
            e(&Method::POST, "/resources/0/accounts"),
            Endpoint::BadId(_)
        ));
        assert_eq!(e(&Method::DELETE, "/resources/9"), Endpoint::Unknown);
        assert_eq!(Endpoint::of(&Method::GET, "/other"), Endpoint::Unknown);
    }

    #[test]
    fn a_create_refuses_a_name_the_org_has_and_answers_no_id() {
        let mut store = Store::default();
        let d = json!({"RESOURCENAME": "web-01", "RESOURCETYPE": "Linux"});
        let ok = create_resource(&mut store, "", &d).unwrap();
        let body = format!("{:?}", ok.body());
        assert!(body.contains("has been added successfully"), "{body}");
        assert!(!body.contains("RESOURCEID"), "{body}");
        let again = create_resource(&mut store, "", &json!({"RESOURCENAME": "WEB-01"})).unwrap();
        assert!(format!("{:?}", again.body()).contains("already exists"));
        assert_eq!(store.resources_named("", "web-01").len(), 1);
        // Another org may have the name.
        assert!(
            format!(
                "{:?}",
                create_resource(&mut store, "acme", &d).unwrap().body()
            )
            .contains("Success")
        );
        let bad =
            create_resource(&mut store, "", &json!({"RESOURCENAME": "x", "PORT": 22})).unwrap();
        assert!(format!("{:?}", bad.body()).contains("Unknown parameter PORT"));
    }
}
