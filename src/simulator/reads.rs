//! The reads of "working by names": the resource list, paged by
//! `STARTINDEX`/`LIMIT`, and one resource's accounts, in the shapes public
//! PAM360 clients see; and the inventory a simulator starts with.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use hyper::StatusCode;
use serde_json::{Value, json};

use super::handlers::{Store, failed, json_reply};
use super::{Reply, SimOptions, State};

/// A resource the simulator holds.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub name: String,
    pub kind: String,
}

/// Resources by (org, id).
pub(crate) type Resources = BTreeMap<(String, u64), Resource>;

/// Loads `simulate --inventory FILE`: a CSV of `RESOURCENAME`, optional
/// `RESOURCEID`, `RESOURCETYPE`, `ACCOUNTNAME`, `ACCOUNTID` and `ORGNAME`,
/// the server's state before a run. Missing ids are given.
pub(crate) fn load_inventory(path: &Path, store: &mut Store) -> Result<()> {
    let mut r = csv::Reader::from_path(path)
        .with_context(|| format!("cannot read --inventory {}", path.display()))?;
    let header: Vec<String> = r
        .headers()?
        .iter()
        .map(|h| h.trim().to_uppercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let Some(name_col) = col("RESOURCENAME") else {
        bail!("--inventory {} has no RESOURCENAME column", path.display());
    };
    let (id_col, type_col) = (col("RESOURCEID"), col("RESOURCETYPE"));
    let (acct_col, acct_id_col, org_col) = (col("ACCOUNTNAME"), col("ACCOUNTID"), col("ORGNAME"));
    for (n, rec) in r.records().enumerate() {
        let rec = rec.with_context(|| format!("--inventory {}: row {}", path.display(), n + 2))?;
        let cell = |c: Option<usize>| c.and_then(|i| rec.get(i)).unwrap_or("").trim().to_string();
        let org = cell(org_col);
        let name = cell(Some(name_col));
        let id = match cell(id_col).parse::<u64>() {
            Ok(id) => id,
            // An unnamed id: the one this name already has, or a new one.
            Err(_) => store
                .resources
                .iter()
                .find(|((o, _), r)| *o == org && r.name == name)
                .map(|((_, id), _)| *id)
                .unwrap_or_else(|| 100 + store.resources.len() as u64),
        };
        store
            .resources
            .entry((org.clone(), id))
            .or_insert(Resource {
                name,
                kind: cell(type_col),
            });
        let account = cell(acct_col);
        if !account.is_empty() {
            let given = cell(acct_id_col).parse::<u64>().ok();
            store.add_account(&org, id, json!({ "ACCOUNTNAME": account }), given);
        }
    }
    Ok(())
}

/// `GET /restapi/json/v1/resources` and `GET …/resources/<id>/accounts`.
pub(crate) fn get(state: &State, path: &str, org: &str, query: &str) -> Reply {
    let store = state.store.lock().expect("simulator store");
    if path == "/restapi/json/v1/resources" {
        return resource_list(&state.opts, &store, org, query);
    }
    if let Some(id) = path
        .strip_prefix("/restapi/json/v1/resources/")
        .and_then(|r| r.strip_suffix("/accounts"))
    {
        return match id.parse::<u64>() {
            Ok(id) => account_list(&state.opts, &store, org, id),
            Err(_) => failed("GET RESOURCE ACCOUNTS", "Invalid resource id"),
        };
    }
    json_reply(StatusCode::NOT_FOUND, json!({"error":"no such API"}))
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
    let all: Vec<(&u64, &Resource)> = store
        .resources
        .iter()
        .filter(|((o, _), _)| o == org)
        .map(|((_, id), r)| (id, r))
        .collect();
    let page: Vec<Value> = all
        .iter()
        .skip(skip as usize)
        .take(limit as usize)
        .map(|(id, r)| {
            json!({"RESOURCE ID": id.to_string(), "RESOURCE NAME": r.name,
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
    let Some(resource) = store.resources.get(&(org.to_string(), id)) else {
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
