//! The simulator's endpoints: checks and answers as PAM360 gives them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::{Dropped, Reply, State};

/// Where tests read what the simulator stored.
pub const STATE_PATH: &str = "/simulator/state";

/// The largest request body the simulator reads.
const MAX_BODY: usize = 16 << 20;

const ACCOUNTS_PREFIX: &str = "/restapi/json/v1/resources/";
const REQUEST_PREFIX: &str = "/restapi/json/v1/accounts/";

/// What the simulator holds.
#[derive(Default)]
pub(crate) struct Store {
    /// (org, resource, name as the server compares it) → index into
    /// `accounts`.
    index: HashMap<(String, u64, String), usize>,
    accounts: Vec<Value>,
    account_ids: HashMap<u64, usize>,
    /// (org, resource) → indices into `accounts`: an account-list read
    /// costs its own accounts, not the whole store, under the store's lock.
    by_resource: HashMap<(String, u64), Vec<usize>>,
    /// Resources by (org, id): from the inventory, or made by a first add.
    pub(crate) resources: super::reads::Resources,
    requests: Vec<Value>,
    next_id: u64,
    /// Requests received on the API paths, answered or not.
    received: u64,
    /// Of those, the writes (POST): reads are GETs.
    writes: u64,
    /// When each of them arrived, in seconds since the simulator started.
    arrivals: Vec<f64>,
    /// Requests whose `INPUT_DATA` had to be read raw (not form-encoded).
    raw_bodies: u64,
}

impl Store {
    /// Stores an account under (org, resource) with its id (`given`, or
    /// the next free one); false when the name is there already.
    pub(crate) fn add_account(
        &mut self,
        org: &str,
        rid: u64,
        fields: Value,
        given: Option<u64>,
    ) -> bool {
        let name = fields["ACCOUNTNAME"].as_str().unwrap_or("").to_string();
        // PAM360 compares names as Java's equalsIgnoreCase does.
        let key = (org.to_string(), rid, crate::names::server_key(&name));
        if self.index.contains_key(&key) {
            return false;
        }
        self.resources
            .entry((org.to_string(), rid))
            .or_insert_with(|| super::reads::Resource {
                name: format!("resource-{rid}"),
                kind: String::new(),
            });
        let id = given.unwrap_or_else(|| {
            self.next_id += 1;
            1000 + self.next_id
        });
        let n = self.accounts.len();
        self.accounts.push(json!({
            "org": org, "resource_id": rid, "account_id": id, "fields": fields,
        }));
        self.index.insert(key, n);
        self.account_ids.insert(id, n);
        self.by_resource
            .entry((org.to_string(), rid))
            .or_default()
            .push(n);
        true
    }

    /// (id, name) of the accounts of one resource.
    pub(crate) fn accounts_of<'a>(
        &'a self,
        org: &'a str,
        rid: u64,
    ) -> impl Iterator<Item = (u64, &'a str)> + 'a {
        self.by_resource
            .get(&(org.to_string(), rid))
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|&n| &self.accounts[n])
            .map(|a| {
                (
                    a["account_id"].as_u64().unwrap_or(0),
                    a["fields"]["ACCOUNTNAME"].as_str().unwrap_or(""),
                )
            })
    }
}

pub(crate) fn json_reply(status: StatusCode, body: Value) -> Reply {
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json;charset=UTF-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response"))
}

/// PAM360's shape for a refused operation: HTTP 200 and `Failed`.
pub(crate) fn failed(name: &str, message: &str) -> Reply {
    json_reply(
        StatusCode::OK,
        json!({"operation":{"name":name,"result":{"status":"Failed","message":message}}}),
    )
}

pub(crate) async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    // Latency counts from arrival: the simulator's own work is inside it.
    let arrived = Instant::now();
    let path = req.uri().path().to_string();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    // The token is checked before a body is read: a stranger cannot make
    // the simulator buffer anything.
    let token_ok = header("AUTHTOKEN") == state.opts.token;
    if req.method() == Method::GET && path == STATE_PATH {
        return state_reply(&state, token_ok);
    }
    if !token_ok {
        return failed(
            "Authentication",
            "API key received is not associated to any user. Authentication failed.",
        );
    }
    let (org, content_type) = (header("orgName"), header("content-type"));
    if req.method() == Method::GET {
        let query = req.uri().query().unwrap_or("").to_string();
        record_arrival(&state);
        if let Some(reply) = faults_before(&state, arrived).await {
            return reply;
        }
        return super::reads::get(&state, &path, &org, &query);
    }
    let method_ok = req.method() == Method::POST;
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    record_arrival(&state);
    state.store.lock().expect("simulator store").writes += 1;
    if let Some(reply) = faults_before(&state, arrived).await {
        return reply;
    }
    if !method_ok {
        return json_reply(StatusCode::METHOD_NOT_ALLOWED, json!({"error":"use POST"}));
    }
    let input = match input_data(&body, &content_type) {
        Ok((input, reading)) => {
            if reading == Reading::Raw {
                state.store.lock().expect("simulator store").raw_bodies += 1;
            }
            input
        }
        Err(why) => return failed("INPUT", why),
    };
    let Some(details) = input.pointer("/operation/Details") else {
        return failed("INPUT", "INPUT_DATA has no operation.Details");
    };
    let drop_after = state.opts.drop_after > 0.0 && rand::random::<f64>() < state.opts.drop_after;
    let reply = route(&state, &path, &org, details);
    if drop_after {
        // Stored, but the answer never leaves: the client cannot know.
        return Err(Dropped);
    }
    reply
}

fn record_arrival(state: &State) {
    let mut store = state.store.lock().expect("simulator store");
    store.received += 1;
    store.arrivals.push(state.started.elapsed().as_secs_f64());
}

/// What the simulator stored, for tests: only to the token's holder, since
/// it shows stored passwords.
fn state_reply(state: &State, token_ok: bool) -> Reply {
    if !token_ok {
        return json_reply(
            StatusCode::UNAUTHORIZED,
            json!({"error":"the simulator's state needs its AUTHTOKEN"}),
        );
    }
    let store = state.store.lock().expect("simulator store");
    json_reply(
        StatusCode::OK,
        json!({"accounts": store.accounts, "requests": store.requests,
            "received": store.received, "writes": store.writes, "arrivals": store.arrivals,
            "raw_bodies": store.raw_bodies}),
    )
}

/// The body, at most [`MAX_BODY`]: a 1,000-account chunk fits well under it.
async fn read_body(req: Request<Incoming>) -> Result<Bytes, Reply> {
    match http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
    {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(json_reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error":"the body is larger than 16 MB"}),
        )),
        Err(_) => Err(Err(Dropped)),
    }
}

/// Injected faults that strike before anything is stored: latency, the
/// rate limit (429), a share of 503s, dropped connections.
async fn faults_before(state: &State, arrived: Instant) -> Option<Reply> {
    let opts = &state.opts;
    if !opts.latency.is_zero() {
        // tokio's timer rounds up to the next millisecond; a thread sleep is
        // precise, so a benchmark sees the latency it asked for.
        let wait = opts.latency.saturating_sub(arrived.elapsed());
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(wait)).await;
    }
    if let Some(limit) = opts.rate_limit {
        let mut w = state.window.lock().expect("simulator window");
        let now = Instant::now();
        if now.duration_since(w.0).as_secs_f64() >= 1.0 {
            *w = (now, 0);
        }
        w.1 += 1;
        if w.1 > limit {
            return Some(Ok(Response::builder()
                .status(StatusCode::TOO_MANY_REQUESTS)
                .header("retry-after", "1")
                .body(Full::new(Bytes::from_static(b"Too Many Requests")))
                .expect("a valid response")));
        }
    }
    if opts.error_share > 0.0 && rand::random::<f64>() < opts.error_share {
        return Some(Ok(Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .body(Full::new(Bytes::from_static(b"Service Unavailable")))
            .expect("a valid response")));
    }
    if opts.drop_before > 0.0 && rand::random::<f64>() < opts.drop_before {
        return Some(Err(Dropped));
    }
    None
}

/// How a body's `INPUT_DATA` was read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reading {
    /// Form-encoded, as the client sends it.
    Form,
    /// `INPUT_DATA=` then raw JSON, as the vendor's curl and PowerShell
    /// samples send it.
    Raw,
}

/// `INPUT_DATA` as JSON. A JSON content type is read raw; a form body is
/// decoded strictly and read raw only when decoding yields no JSON (the
/// vendor's PowerShell sample sends the raw string as a form).
pub(crate) fn input_data(
    body: &[u8],
    content_type: &str,
) -> Result<(Value, Reading), &'static str> {
    let raw = || {
        let text = std::str::from_utf8(body).ok()?.trim();
        let json = text.strip_prefix("INPUT_DATA=")?;
        serde_json::from_str::<Value>(json).ok()
    };
    let ct = content_type.to_ascii_lowercase();
    if ct.starts_with("application/json") {
        return raw()
            .map(|v| (v, Reading::Raw))
            .ok_or("INPUT_DATA is missing or not valid JSON");
    }
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return Err("INPUT_DATA is missing or the body is not form encoded");
    }
    let decoded = form_urlencoded::parse(body)
        .find(|(k, _)| k == "INPUT_DATA")
        .map(|(_, v)| v.into_owned());
    match decoded.as_deref().map(serde_json::from_str::<Value>) {
        Some(Ok(v)) => Ok((v, Reading::Form)),
        _ => match raw() {
            Some(v) => Ok((v, Reading::Raw)),
            None if decoded.is_some() => Err("INPUT_DATA is not valid JSON"),
            None => Err("INPUT_DATA is missing or the body is not form encoded"),
        },
    }
}

/// Sends a request to the endpoint its path names.
fn route(state: &State, path: &str, org: &str, details: &Value) -> Reply {
    if let Some(rest) = path.strip_prefix(ACCOUNTS_PREFIX)
        && let Some(id) = rest.strip_suffix("/accounts")
    {
        match id.parse::<u64>() {
            // PAM360 has no resource 0.
            Ok(0) | Err(_) => failed("ADD ACCOUNTS", "Invalid resource id"),
            Ok(rid) => add_accounts(state, org, rid, details),
        }
    } else if let Some(rest) = path.strip_prefix(REQUEST_PREFIX)
        && let Some(id) = rest.strip_suffix("/requestpassword")
    {
        match id.parse::<u64>() {
            Ok(aid) => request_password(state, org, aid, details),
            Err(_) => failed("REQUEST PASSWORD", "Invalid account id"),
        }
    } else {
        json_reply(StatusCode::NOT_FOUND, json!({"error":"no such API"}))
    }
}

const STRINGS: &[&str] = &[
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
const NUMBERS: &[&str] = &["ACCOUNTPASSWORDPOLICYID", "COMMAND_SET"];
const BOOLS: &[&str] = &[
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

fn string_array(v: &Value) -> bool {
    v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
}

/// Why an account entry does not have the vendor's types, if it does not.
fn check_account(entry: &Value) -> Result<String, String> {
    let Some(obj) = entry.as_object() else {
        return Err("Invalid account entry".into());
    };
    let name = match obj.get("ACCOUNTNAME") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err("ACCOUNTNAME is mandatory".into()),
    };
    for (k, v) in obj {
        let ok = if STRINGS.contains(&k.as_str()) {
            v.is_string()
        } else if NUMBERS.contains(&k.as_str()) {
            v.is_number()
        } else if BOOLS.contains(&k.as_str()) {
            v.is_boolean()
        } else if k == "ACCOUNT_RESOURCE_GROUP_IDS" {
            string_array(v)
        } else if k == "ACCOUNTCUSTOMFIELD" {
            v.as_array().is_some_and(|a| {
                a.iter().all(|f| {
                    f.get("CUSTOMLABEL").is_some_and(Value::is_string)
                        && f.get("CUSTOMVALUE").is_some()
                })
            })
        } else {
            return Err(format!("Unknown parameter {k}"));
        };
        if !ok {
            return Err(format!("Invalid value type for {k}"));
        }
    }
    Ok(name)
}

fn add_accounts(state: &State, org: &str, rid: u64, details: &Value) -> Reply {
    let Some(list) = details.get("ACCOUNTLIST").and_then(Value::as_array) else {
        return failed("ADD ACCOUNTS", "ACCOUNTLIST is mandatory");
    };
    let mut store = state.store.lock().expect("simulator store");
    let mut answers: Vec<(String, String)> = Vec::new();
    let mut added = 0;
    for entry in list {
        let status = match check_account(entry) {
            Err(why) => {
                let name = entry
                    .get("ACCOUNTNAME")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                answers.push((name, why));
                continue;
            }
            Ok(name) => {
                if !store.add_account(org, rid, entry.clone(), None) {
                    (
                        name,
                        "Account is not added  as it already exists".to_string(),
                    )
                } else {
                    added += 1;
                    let status = if state.opts.echo {
                        format!("Account added successfully: {entry}")
                    } else {
                        "Account added successfully".to_string()
                    };
                    (name, status)
                }
            }
        };
        answers.push(status);
    }
    let details = if state.opts.list_shape {
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

fn request_password(state: &State, org: &str, aid: u64, details: &Value) -> Reply {
    if let Err(why) = check_request(details) {
        return failed("REQUEST PASSWORD", &why);
    }
    let mut store = state.store.lock().expect("simulator store");
    if !state.opts.any_account && !store.account_ids.contains_key(&aid) {
        return failed(
            "REQUEST PASSWORD",
            "Account does not exist or you are not authorized to access it",
        );
    }
    store
        .requests
        .push(json!({"org": org, "account_id": aid, "details": details}));
    json_reply(
        StatusCode::OK,
        json!({"operation":{"result":{"message":"Password request raised successfully","status":"Success","statusCode":20000},
            "Details":{"STATUS":"[Waiting for Approval]"},"name":"REQUEST PASSWORD"}}),
    )
}
