//! Add Accounts under a Specific Resource (vendor page 000):
//! `POST /restapi/json/v1/resources/<RESOURCEID>/accounts` with the rows'
//! accounts in one `ACCOUNTLIST`. Safe to repeat: the server refuses a name
//! it already holds, and that answer reads as `exists`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{Call, Kind, Op, Verdict, input_data};
use crate::accounts::{Account, SCHEMA};
use crate::cells::JsonObject;
use crate::names::server_key;
use crate::outcome::Outcome;
use crate::pam360::{Answer, classify, is_success};

/// The path that adds accounts under a resource.
pub fn path(resource_id: u64) -> String {
    format!("/restapi/json/v1/resources/{resource_id}/accounts")
}

/// Accounts of one resource, sent together.
pub struct AddAccounts<'a> {
    pub resource_id: u64,
    pub org: Option<Arc<str>>,
    pub accounts: Vec<&'a Account>,
}

impl Op for AddAccounts<'_> {
    fn call(&self) -> Call {
        Call {
            kind: Kind::AddAccounts,
            path: path(self.resource_id),
            org: self.org.clone(),
            input: Some(input_data(|out| details(&self.accounts, out))),
            secrets: self
                .accounts
                .iter()
                .flat_map(|a| a.body.secrets(&SCHEMA))
                .collect(),
        }
    }

    fn verdicts(&self, answer: &Answer) -> Vec<Verdict> {
        reconcile(answer, &self.accounts)
    }
}

/// What an answer said of its accounts, for the `-v` log: "50 exist" or
/// "48 added, 2 exist" rather than a batch result of `Failed` that only
/// means "not every account was added". `None` when it names no account.
pub fn tally(answer: &Answer) -> Option<String> {
    let statuses = answer.account_statuses();
    if statuses.is_empty() {
        return None;
    }
    let mut counts: Vec<(Outcome, usize)> = Vec::new();
    for (_, status) in &statuses {
        let outcome = classify(status);
        match counts.iter_mut().find(|(o, _)| *o == outcome) {
            Some((_, n)) => *n += 1,
            None => counts.push((outcome, 1)),
        }
    }
    counts.sort_by_key(|(o, _)| o.as_str());
    let words: Vec<String> = counts
        .iter()
        .map(|(o, n)| match o {
            Outcome::Exists => format!("{n} exist"),
            other => format!("{n} {}", other.as_str()),
        })
        .collect();
    Some(words.join(", "))
}

/// `{"ACCOUNTLIST":[…]}`, each account with the JSON types of the vendor's
/// samples.
fn details(accounts: &[&Account], out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"ACCOUNTLIST\":[");
    for (i, a) in accounts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut obj = JsonObject::open(out);
        a.body.write_json(&SCHEMA, &mut obj);
        obj.close();
    }
    out.extend_from_slice(b"]}");
}

/// One verdict per sent account, in order. A per-account STATUS decides,
/// whatever the batch's result says; names compare as the server compares
/// them, and an answered name that is exactly another sent account's is
/// that one's.
///
/// Both sides are keyed once by the server's rule ([`server_key`]), so a
/// chunk of a thousand accounts is two thousand keys, not two million
/// comparisons.
pub fn reconcile(answer: &Answer, accounts: &[&Account]) -> Vec<Verdict> {
    let statuses = answer.account_statuses();
    let mut answered: HashMap<String, Vec<usize>> = HashMap::with_capacity(statuses.len());
    for (k, (name, _)) in statuses.iter().enumerate() {
        answered.entry(server_key(name)).or_default().push(k);
    }
    let sent_keys: HashSet<String> = accounts.iter().map(|a| server_key(a.name())).collect();
    for (name, _) in &statuses {
        if !sent_keys.contains(&server_key(name)) {
            log::info!(
                "the server answered for account \"{name}\", which this request did not send"
            );
        }
    }
    let sent: HashSet<&str> = accounts.iter().map(|a| a.name()).collect();
    accounts
        .iter()
        .map(|a| {
            let mine: Vec<&String> = answered
                .get(&server_key(a.name()))
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .map(|&k| &statuses[k])
                .filter(|(n, _)| n == a.name() || !sent.contains(n.as_str()))
                .map(|(_, status)| status)
                .collect();
            verdict(answer, &mine)
        })
        .collect()
}

/// One account's verdict from the STATUS texts the answer gave it.
fn verdict(answer: &Answer, statuses: &[&String]) -> Verdict {
    match statuses {
        [] if !is_success(&answer.status) => Verdict {
            outcome: Outcome::Failed,
            status: answer.status.clone(),
            message: format!("the server refused the request: {}", answer.message),
        },
        [] => Verdict {
            outcome: Outcome::Unconfirmed,
            status: answer.status.clone(),
            message: "the server answered but did not name this account; check it in PAM360 (a resume sends it again, which is safe)".into(),
        },
        [first, rest @ ..] if rest.iter().all(|s| classify(s) == classify(first)) => Verdict {
            outcome: classify(first),
            status: first.to_string(),
            message: match classify(first) {
                Outcome::Failed => format!("the server refused the account: {first}"),
                _ => String::new(),
            },
        },
        // Named twice with different verdicts: no verdict can be trusted,
        // and an account is safe to send again.
        many => Verdict {
            outcome: Outcome::Failed,
            status: many
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" | "),
            message: "the server named this account more than once in its answer, with different verdicts; read as failed (a resume sends it again, which is safe)".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{Body, Field};

    fn account(name: &str) -> Account {
        Account {
            ids: crate::job::PackedIds::new(crate::job::ResourceRef::Given(901)),
            body: Body::build(|b| b.put(Field::of(SCHEMA.columns, "ACCOUNTNAME"), name)),
        }
    }

    fn answer(json: &str) -> Answer {
        Answer::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn each_account_gets_its_own_status_in_either_shape() {
        let (a, b) = (account("root"), account("Admin"));
        let sent = [&a, &b];
        let obj = answer(
            r#"{"operation":{"result":{"status":"Failed","message":"x"},"Details":{"ROOT":{"STATUS":"Account added successfully"},"admin":{"STATUS":"Account is not added  as it already exists"}}}}"#,
        );
        let outcomes: Vec<Outcome> = reconcile(&obj, &sent).iter().map(|v| v.outcome).collect();
        assert_eq!(outcomes, [Outcome::Added, Outcome::Exists]);
        let list = answer(
            r#"{"operation":{"result":{"status":"Failed","message":"no"},"Details":[{"root":{"STATUS":"Account added successfully"}}]}}"#,
        );
        let v = reconcile(&list, &sent);
        assert_eq!(v[0].outcome, Outcome::Added);
        assert_eq!(v[1].outcome, Outcome::Failed, "not named, batch failed");
    }

    #[test]
    fn an_account_named_twice_with_two_verdicts_is_failed() {
        let a = account("Root");
        let twice = answer(
            r#"{"operation":{"result":{"status":"Success"},"Details":{"root":{"STATUS":"Account addition failed"},"ROOT":{"STATUS":"Account added successfully"}}}}"#,
        );
        assert_eq!(reconcile(&twice, &[&a])[0].outcome, Outcome::Failed);
        let c = call_of(&[&a]);
        assert_eq!(c.path, "/restapi/json/v1/resources/901/accounts");
        assert!(
            c.input
                .unwrap()
                .contains(r#""ACCOUNTLIST":[{"ACCOUNTNAME":"Root"}]"#)
        );
    }

    #[test]
    fn names_are_matched_by_the_servers_rule_and_an_exact_name_is_its_own() {
        let (a, b, c) = (account("root"), account("ROOT"), account("Ñandú"));
        let v = reconcile(
            &answer(
                r#"{"operation":{"result":{"status":"Success"},"Details":{"ROOT":{"STATUS":"Account added successfully"},"root":{"STATUS":"Account is not added  as it already exists"},"ñANDÚ":{"STATUS":"Account added successfully"}}}}"#,
            ),
            &[&a, &b, &c],
        );
        let outcomes: Vec<Outcome> = v.iter().map(|v| v.outcome).collect();
        assert_eq!(outcomes, [Outcome::Exists, Outcome::Added, Outcome::Added]);
        // A chunk of the largest size: each account its own status.
        let many: Vec<Account> = (0..1000).map(|i| account(&format!("svc{i}"))).collect();
        let details: Vec<String> = (0..1000)
            .rev()
            .map(|i| {
                let status = if i % 2 == 0 {
                    "Account added successfully"
                } else {
                    "Account is not added  as it already exists"
                };
                format!(r#""SVC{i}":{{"STATUS":"{status}"}}"#)
            })
            .collect();
        let json = format!(
            r#"{{"operation":{{"result":{{"status":"Success"}},"Details":{{{}}}}}}}"#,
            details.join(",")
        );
        let sent: Vec<&Account> = many.iter().collect();
        let v = reconcile(&answer(&json), &sent);
        for (i, v) in v.iter().enumerate() {
            let want = if i % 2 == 0 {
                Outcome::Added
            } else {
                Outcome::Exists
            };
            assert_eq!(v.outcome, want, "svc{i}");
        }
    }

    fn call_of(accounts: &[&Account]) -> Call {
        AddAccounts {
            resource_id: 901,
            org: None,
            accounts: accounts.to_vec(),
        }
        .call()
    }
}
