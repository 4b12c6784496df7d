//! The simulator's HTTP side: the token first, then its capacity and
//! injected faults, then the request's `INPUT_DATA` read as PAM360 reads
//! it, and the endpoint (`api`) that answers it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::api::{self, Endpoint, failed};
use super::{Dropped, Reply, State, json_reply};

/// Where tests read what the simulator stored.
pub const STATE_PATH: &str = "/simulator/state";

/// The largest request body the simulator reads.
const MAX_BODY: usize = 16 << 20;

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
    let endpoint = Endpoint::of(req.method(), &path);
    let query = req.uri().query().unwrap_or("").to_string();
    let body = if endpoint.writes() {
        match read_body(req).await {
            Ok(b) => Some(b),
            Err(reply) => return reply,
        }
    } else {
        None
    };
    record_arrival(&state, endpoint.writes());
    if let Some(capacity) = &state.capacity
        && !capacity.serve().await
    {
        let mut store = state.store();
        store.overloaded += 1;
        store.overloaded_after_drop += u64::from(capacity.dropped());
        store
            .overloaded_at
            .push(state.started.elapsed().as_secs_f64());
        return unavailable();
    }
    // The answer is made at once and held until the latency is over, so
    // the simulator's own work (a 40-account add parsed and stored) is
    // inside the latency rather than added to it.
    let reply = match faults_before(&state) {
        Some(reply) => reply,
        None => answer(
            &state,
            &endpoint,
            body.as_deref(),
            (&org, &content_type, &query),
        ),
    };
    wait_out_latency(&state, arrived).await;
    reply
}

/// A request's answer, once no fault struck before: a read's, or a
/// write's (stored); `Err(Dropped)` for a write whose answer is to be lost.
fn answer(
    state: &State,
    endpoint: &Endpoint,
    body: Option<&[u8]>,
    (org, content_type, query): (&str, &str, &str),
) -> Reply {
    let Some(body) = body else {
        return api::read(endpoint, &state.opts, &state.store(), org, query);
    };
    let input = match input_data(body, content_type) {
        Ok((input, reading)) => {
            if reading == Reading::Raw {
                state.store().raw_bodies += 1;
            }
            input
        }
        Err(why) => return failed("INPUT", why),
    };
    let Some(details) = input.pointer("/operation/Details") else {
        return failed("INPUT", "INPUT_DATA has no operation.Details");
    };
    let reply = api::write(endpoint, &state.opts, &mut state.store(), org, details);
    // Stored, but the answer never leaves: the client cannot know.
    let drop_after = state.opts.drop_after > 0.0 && rand::random::<f64>() < state.opts.drop_after;
    let lose_create = endpoint.is_create()
        && state.lost_creates.fetch_add(1, Ordering::SeqCst) < state.opts.lose_create_answers;
    if drop_after || lose_create {
        return Err(Dropped);
    }
    reply
}

fn record_arrival(state: &State, write: bool) {
    let mut store = state.store();
    store.received += 1;
    store.writes += u64::from(write);
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
    json_reply(StatusCode::OK, state.store().inspection())
}

fn unavailable() -> Reply {
    Ok(Response::builder()
        .status(StatusCode::SERVICE_UNAVAILABLE)
        .body(Full::new(Bytes::from_static(b"Service Unavailable")))
        .expect("a valid response"))
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

/// Sleeps until `--latency-ms` after the request arrived.
async fn wait_out_latency(state: &State, arrived: Instant) {
    let latency = state.opts.latency;
    if !latency.is_zero() {
        // tokio's timer rounds up to the next millisecond; a thread sleep is
        // precise, so a benchmark sees the latency it asked for. The sleep
        // ends at the deadline, however long the blocking thread took to
        // start.
        let deadline = arrived + latency;
        let _ = tokio::task::spawn_blocking(move || {
            // A sleeping thread may wake up to its timer slack late (50 µs
            // on Linux): the last stretch is waited out by yielding.
            let slack = Duration::from_micros(60);
            std::thread::sleep(deadline.saturating_duration_since(Instant::now() + slack));
            while Instant::now() < deadline {
                std::thread::yield_now();
            }
        })
        .await;
    }
}

/// Injected faults that strike before anything is stored: the rate limit
/// (429, counted as requests arrive), a share of 503s, dropped connections.
fn faults_before(state: &State) -> Option<Reply> {
    let opts = &state.opts;
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
        return Some(unavailable());
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
