//! The simulator serves the reads of "working by names" in PAM360's public
//! shapes: the resource list in pages (0- or 1-based, capped), one
//! resource's accounts with their ids, an inventory loaded at start, and an
//! account it can hide from reads.

use crate::common::{Sim, TOKEN, Work};
use serde_json::Value;

fn get(sim: &Sim, path: &str, org: Option<&str>) -> Value {
    let mut req = crate::common::http_client()
        .get(format!("{}{path}", sim.url))
        .header("AUTHTOKEN", TOKEN);
    if let Some(org) = org {
        req = req.header("orgName", org);
    }
    serde_json::from_str(&req.send().unwrap().text().unwrap()).unwrap()
}

fn page(sim: &Sim, start: u64, limit: u64) -> Value {
    let input =
        format!(r#"{{"operation":{{"Details":{{"STARTINDEX":"{start}","LIMIT":"{limit}"}}}}}}"#);
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("INPUT_DATA", &input)
        .finish();
    get(sim, &format!("/restapi/json/v1/resources?{q}"), None)
}

fn names(v: &Value) -> Vec<String> {
    v["operation"]["Details"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r["RESOURCE NAME"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn inventory(w: &Work) -> String {
    let mut csv = String::from("RESOURCENAME,RESOURCEID,RESOURCETYPE,ACCOUNTNAME,ACCOUNTID\n");
    for i in 0..5 {
        csv.push_str(&format!(
            "web-{i:02},{},Linux,admin,{}\n",
            300 + i,
            7000 + i
        ));
    }
    csv.push_str("db-01,400,Oracle,sys,\n");
    w.write("inv.csv", &csv).to_string_lossy().into_owned()
}

#[test]
fn the_resource_list_pages_with_total_rows_and_no_details_past_the_end() {
    let w = Work::new();
    let inv = inventory(&w);
    let sim = Sim::start(&["--inventory", &inv]);
    let first = page(&sim, 0, 4);
    assert_eq!(first["operation"]["totalRows"], 6);
    assert_eq!(names(&first), ["web-00", "web-01", "web-02", "web-03"]);
    assert_eq!(first["operation"]["Details"][0]["RESOURCE ID"], "300");
    assert_eq!(names(&page(&sim, 4, 4)), ["web-04", "db-01"]);
    let past = page(&sim, 6, 4);
    assert!(past["operation"].get("Details").is_none(), "{past}");
    assert_eq!(past["operation"]["result"]["status"], "Success");
}

#[test]
fn one_based_paging_and_a_page_cap() {
    let w = Work::new();
    let inv = inventory(&w);
    let sim = Sim::start(&["--inventory", &inv, "--one-based-paging", "--page-cap", "2"]);
    assert_eq!(names(&page(&sim, 1, 100)), ["web-00", "web-01"]);
    assert_eq!(names(&page(&sim, 3, 100)), ["web-02", "web-03"]);
}

#[test]
fn a_resource_lists_its_accounts_with_ids_including_added_ones_and_can_hide_one() {
    let w = Work::new();
    let inv = inventory(&w);
    let sim = Sim::start(&["--inventory", &inv, "--hide-account", "ghost"]);
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n400,app\n400,ghost\n");
    let out = w.job(&sim, "add-accounts", "in.csv").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v = get(&sim, "/restapi/json/v1/resources/400/accounts", None);
    let d = &v["operation"]["Details"];
    assert_eq!(d["RESOURCE NAME"], "db-01");
    let list: Vec<(String, String)> = d["ACCOUNT LIST"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["ACCOUNT NAME"].as_str().unwrap().to_string(),
                a["ACCOUNT ID"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["sys", "app"], "ghost is hidden from reads");
    assert!(list.iter().all(|(_, id)| id.parse::<u64>().is_ok()));
    // The ids match what the simulator stored.
    let stored = sim.account("app");
    assert_eq!(stored["ACCOUNTNAME"], "app");
    let inventory_admin = get(&sim, "/restapi/json/v1/resources/300/accounts", None);
    assert_eq!(
        inventory_admin["operation"]["Details"]["ACCOUNT LIST"][0]["ACCOUNT ID"],
        "7000"
    );
    // An unknown resource is refused as PAM360 does: HTTP 200 and Failed.
    let none = get(&sim, "/restapi/json/v1/resources/999/accounts", None);
    assert_eq!(none["operation"]["result"]["status"], "Failed");
    // Another org sees none of these.
    let other = get(
        &sim,
        "/restapi/json/v1/resources/400/accounts",
        Some("Other"),
    );
    assert_eq!(other["operation"]["result"]["status"], "Failed");
}

#[test]
fn reads_need_the_token() {
    let sim = Sim::start(&[]);
    let body = crate::common::http_client()
        .get(format!("{}/restapi/json/v1/resources", sim.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(body.contains("Authentication failed"), "{body}");
}

#[test]
fn simulate_inventory_starts_the_in_process_simulator_with_the_server_state() {
    let w = Work::new();
    w.write(
        "inv.csv",
        "RESOURCENAME,RESOURCEID,ACCOUNTNAME\nweb-01,901,root\n",
    );
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,root\n901,app\n");
    let out = w
        .cmd()
        .args([
            "add-accounts",
            "in.csv",
            "--simulate",
            "--simulate-inventory",
            "inv.csv",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = w.report("in.report.csv");
    assert_eq!(crate::common::outcomes(&rows), ["exists", "added"]);
    // Without --simulate it is refused.
    let out = w
        .cmd()
        .args([
            "add-accounts",
            "in.csv",
            "--dry-run",
            "--simulate-inventory",
            "inv.csv",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
