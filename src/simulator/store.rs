//! What the simulator holds: resources, their accounts, password requests,
//! edits and password changes, and what it counted. Names compare as
//! PAM360 (a Java server) compares them: `equalsIgnoreCase`
//! (`names::server_key`). The state can start from an inventory CSV, and
//! be saved to a file and loaded again (`--state FILE`), so a rehearsal
//! survives a restart.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::names::server_key;

/// A resource the simulator holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Resource {
    pub org: String,
    pub id: u64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The fields it was created with (a create's `Details`).
    #[serde(default)]
    pub fields: Value,
}

/// An account the simulator holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Account {
    pub org: String,
    pub resource_id: u64,
    pub account_id: u64,
    /// Its fields as sent (passwords included, as PAM360 would hold them).
    pub fields: Value,
}

/// What is saved and loaded (`--state FILE`), and what the inspection
/// path shows besides the counters.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Saved {
    pub resources: Vec<Resource>,
    pub accounts: Vec<Account>,
    pub requests: Vec<Value>,
    #[serde(default)]
    pub edits: Vec<Value>,
    #[serde(default)]
    pub password_changes: Vec<Value>,
}

/// The simulator's state, with its indexes.
#[derive(Default)]
pub(crate) struct Store {
    pub saved: Saved,
    resource_at: HashMap<(String, u64), usize>,
    /// (org, name as the server compares it) → indices into resources.
    resource_named: HashMap<(String, String), Vec<usize>>,
    /// (org, resource, name as the server compares it) → index.
    account_at: HashMap<(String, u64, String), usize>,
    account_ids: HashMap<u64, usize>,
    /// (org, resource) → indices into accounts: an account-list read costs
    /// its own accounts, not the whole store, under the store's lock.
    by_resource: HashMap<(String, u64), Vec<usize>>,
    /// Requests received on the API paths, answered or not.
    pub received: u64,
    /// Of those, the writes (POST, PUT): reads are GETs.
    pub writes: u64,
    /// When each of them arrived, in seconds since the simulator started.
    pub arrivals: Vec<f64>,
    /// Requests whose `INPUT_DATA` had to be read raw (not form-encoded).
    pub raw_bodies: u64,
    /// Requests answered 503 because the simulator was past its capacity.
    pub overloaded: u64,
    /// When each of them was refused, in seconds since the simulator started.
    pub overloaded_at: Vec<f64>,
    /// Of them, those refused after `--capacity-drop` lowered the capacity.
    pub overloaded_after_drop: u64,
    /// The next account id to give.
    next_account: u64,
    /// The next resource id to give.
    next_resource: u64,
}

impl Store {
    /// A store holding `saved`, indexed.
    pub fn from_saved(saved: Saved) -> Store {
        let mut store = Store::default();
        for r in saved.resources {
            store.add_resource(r);
        }
        for a in saved.accounts {
            store.insert_account(a);
        }
        store.saved.requests = saved.requests;
        store.saved.edits = saved.edits;
        store.saved.password_changes = saved.password_changes;
        store
    }

    /// The resource (org, id), if held.
    pub fn resource(&self, org: &str, id: u64) -> Option<&Resource> {
        let n = *self.resource_at.get(&(org.to_string(), id))?;
        Some(&self.saved.resources[n])
    }

    /// The resources of an org whose name is `name` as the server compares
    /// names.
    pub fn resources_named(&self, org: &str, name: &str) -> Vec<&Resource> {
        self.resource_named
            .get(&(org.to_string(), server_key(name)))
            .map(|v| v.iter().map(|&n| &self.saved.resources[n]).collect())
            .unwrap_or_default()
    }

    /// An org's resources, by id.
    pub fn resources_of(&self, org: &str) -> Vec<&Resource> {
        let mut v: Vec<&Resource> = self
            .saved
            .resources
            .iter()
            .filter(|r| r.org == org)
            .collect();
        v.sort_by_key(|r| r.id);
        v
    }

    /// Holds a new resource (its id must be free).
    pub fn add_resource(&mut self, r: Resource) {
        self.next_resource = self.next_resource.max(r.id + 1);
        let n = self.saved.resources.len();
        self.resource_at.insert((r.org.clone(), r.id), n);
        self.resource_named
            .entry((r.org.clone(), server_key(&r.name)))
            .or_default()
            .push(n);
        self.saved.resources.push(r);
    }

    /// The next free resource id.
    pub fn next_resource_id(&self) -> u64 {
        self.next_resource.max(100)
    }

    /// Stores an account under (org, resource) with its id (`given`, or
    /// the next free one); false when the name is there already. A first
    /// add to a resource the simulator does not hold makes it.
    pub fn add_account(&mut self, org: &str, rid: u64, fields: Value, given: Option<u64>) -> bool {
        let name = fields["ACCOUNTNAME"].as_str().unwrap_or("").to_string();
        if self
            .account_at
            .contains_key(&(org.to_string(), rid, server_key(&name)))
        {
            return false;
        }
        if self.resource(org, rid).is_none() {
            self.add_resource(Resource {
                org: org.to_string(),
                id: rid,
                name: format!("resource-{rid}"),
                kind: String::new(),
                fields: Value::Null,
            });
        }
        let account_id = given.unwrap_or(self.next_account.max(1001));
        self.insert_account(Account {
            org: org.to_string(),
            resource_id: rid,
            account_id,
            fields,
        });
        true
    }

    fn insert_account(&mut self, a: Account) {
        self.next_account = self.next_account.max(a.account_id + 1);
        let n = self.saved.accounts.len();
        let name = a.fields["ACCOUNTNAME"].as_str().unwrap_or("");
        self.account_at
            .insert((a.org.clone(), a.resource_id, server_key(name)), n);
        self.account_ids.insert(a.account_id, n);
        self.by_resource
            .entry((a.org.clone(), a.resource_id))
            .or_default()
            .push(n);
        self.saved.accounts.push(a);
    }

    /// Whether an account has this id.
    pub fn has_account_id(&self, id: u64) -> bool {
        self.account_ids.contains_key(&id)
    }

    /// The account `aid` of resource `rid` in `org`, to change.
    pub fn account_mut(&mut self, org: &str, rid: u64, aid: u64) -> Option<&mut Account> {
        let n = *self.account_ids.get(&aid)?;
        let a = &mut self.saved.accounts[n];
        (a.org == org && a.resource_id == rid).then_some(a)
    }

    /// (id, name) of the accounts of one resource.
    pub fn accounts_of<'a>(
        &'a self,
        org: &'a str,
        rid: u64,
    ) -> impl Iterator<Item = (u64, &'a str)> + 'a {
        self.by_resource
            .get(&(org.to_string(), rid))
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|&n| &self.saved.accounts[n])
            .map(|a| (a.account_id, a.fields["ACCOUNTNAME"].as_str().unwrap_or("")))
    }

    /// What the inspection path shows: everything held, and the counters.
    pub fn inspection(&self) -> Value {
        let mut v = serde_json::to_value(&self.saved).unwrap_or_default();
        v["received"] = json!(self.received);
        v["writes"] = json!(self.writes);
        v["arrivals"] = json!(self.arrivals);
        v["raw_bodies"] = json!(self.raw_bodies);
        v["overloaded"] = json!(self.overloaded);
        v["overloaded_at"] = json!(self.overloaded_at);
        v["overloaded_after_drop"] = json!(self.overloaded_after_drop);
        v
    }

    /// Saves what it holds to `path`, replacing it atomically, readable by
    /// its owner only (it holds passwords, as the simulator does).
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec(&self.saved)?;
        crate::outputs::replace(path, &bytes)
            .with_context(|| format!("cannot save the simulator's state to {}", path.display()))
    }
}

/// Loads `--state FILE`: what an earlier simulator saved; an empty store
/// when the file does not exist yet.
pub(crate) fn load_state(path: &Path) -> Result<Store> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let saved: Saved = serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "--state {} is not a state this simulator saved",
                    path.display()
                )
            })?;
            Ok(Store::from_saved(saved))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Store::default()),
        Err(e) => bail!("cannot read --state {}: {e}", path.display()),
    }
}

/// Loads `simulate --inventory FILE` into `store`: a CSV of `RESOURCENAME`,
/// optional `RESOURCEID`, `RESOURCETYPE`, `ACCOUNTNAME`, `ACCOUNTID` and
/// `ORGNAME`, the server's state before a run. Missing ids are given.
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
            // An unnamed id: the one this name already has (exactly), or a
            // new one.
            Err(_) => store
                .resources_named(&org, &name)
                .iter()
                .find(|r| r.name == name)
                .map(|r| r.id)
                .unwrap_or_else(|| store.next_resource_id()),
        };
        if store.resource(&org, id).is_none() {
            store.add_resource(Resource {
                org: org.clone(),
                id,
                name,
                kind: cell(type_col),
                fields: Value::Null,
            });
        }
        let account = cell(acct_col);
        if !account.is_empty() {
            let given = cell(acct_id_col).parse::<u64>().ok();
            store.add_account(&org, id, json!({ "ACCOUNTNAME": account }), given);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_as_the_server_does_and_the_state_round_trips() {
        let mut s = Store::default();
        s.add_resource(Resource {
            org: String::new(),
            id: 100,
            name: "ΟΔΥΣΣΕΥΣ".into(),
            kind: "Linux".into(),
            fields: Value::Null,
        });
        assert_eq!(s.resources_named("", "οδυσσευς").len(), 1);
        assert!(s.add_account("", 100, json!({"ACCOUNTNAME": "jose\u{301}"}), None));
        assert!(s.add_account("", 100, json!({"ACCOUNTNAME": "Jos\u{e9}"}), None));
        assert!(!s.add_account("", 100, json!({"ACCOUNTNAME": "JOS\u{c9}"}), None));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        s.save(&path).unwrap();
        let back = load_state(&path).unwrap();
        assert_eq!(back.saved.accounts.len(), 2);
        assert_eq!(back.accounts_of("", 100).count(), 2);
        assert_eq!(back.resources_named("", "ΟΔΥΣΣΕΥΣ")[0].id, 100);
        assert_eq!(back.next_resource_id(), 101);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        assert!(
            load_state(&dir.path().join("none.json"))
                .unwrap()
                .saved
                .accounts
                .is_empty()
        );
    }
}
