//! request-passwords through the binary against the simulator: every check,
//! the wire types, outcomes in input order, and retries that never raise a
//! request twice.

use crate::common::{Cell, Sim, Work, outcomes, xlsx};
use serde_json::json;

const HEADER: &str = "ACCOUNTID,REASON,ACCESS,STARTTIME,ENDTIME,REMINDERTIME,RESOURCES_TO_BE_ACCESSED_OPTION,SELECTED_RESOURCEIDS";

fn any_account_sim() -> Sim {
    Sim::start(&["--any-account"])
}

/// Runs rows (after the header) and returns the report rows.
fn run(sim: &Sim, rows: &str) -> Vec<std::collections::HashMap<String, String>> {
    let w = Work::new();
    w.write("in.csv", &format!("{HEADER}\n{rows}"));
    // Exit codes are checked by the tests that care; here, the report.
    let _ = w.job(sim, "request-passwords", "in.csv").assert();
    w.report("in.report.csv")
}

#[test]
fn each_check_names_row_column_value_and_what_is_allowed() {
    let sim = any_account_sim();
    let cases: &[(&str, &str)] = &[
        (
            "901,r,later,31/02/2026 10:00,01/03/2026 10:00,,,",
            "STARTTIME: \"31/02/2026 10:00\" is not a real date",
        ),
        (
            "901,r,later,02/03/2026 10:00,01/03/2026 10:00,,,",
            "ENDTIME: \"01/03/2026 10:00\" is not after STARTTIME",
        ),
        (
            "901,r,later,02/03/2026 10:00,02/03/2026 10:00,,,",
            "is not after STARTTIME",
        ),
        (
            "901,r,later,,,,,",
            "ACCESS later needs both STARTTIME and ENDTIME",
        ),
        (
            "901,r,later,02/03/2026 10:00,,,,",
            "column ENDTIME is empty",
        ),
        ("901,r,now,,,0,,", "REMINDERTIME: \"0\" is not from 1 to 59"),
        (
            "901,r,now,,,60,,",
            "REMINDERTIME: \"60\" is not from 1 to 59",
        ),
        (
            "901,r,now,,,,4,",
            "RESOURCES_TO_BE_ACCESSED_OPTION: \"4\" is not one of 1, 2, 3",
        ),
        (
            "901,r,now,,,,2,301",
            "SELECTED_RESOURCEIDS is only for RESOURCES_TO_BE_ACCESSED_OPTION 3",
        ),
        (
            "901,r,now,,,,,301",
            "SELECTED_RESOURCEIDS is only for RESOURCES_TO_BE_ACCESSED_OPTION 3",
        ),
        (
            "901,r,now,,,,3,",
            "RESOURCES_TO_BE_ACCESSED_OPTION 3 needs the resource ids",
        ),
        (
            "901,r,now,,,,3,30x",
            "SELECTED_RESOURCEIDS: \"30x\" is not a list of numeric ids",
        ),
        ("901,r,now,02/03/2026 10:00,,,,", "only for ACCESS later"),
        (
            "901,r,,02/03/2026 10:00,03/03/2026 10:00,,,",
            "only for ACCESS later",
        ),
        (
            "901,r,soon,,,,,",
            "ACCESS: \"soon\" is not one of now, later",
        ),
        (
            "0,r,now,,,,,",
            "ACCOUNTID: \"0\" is not a positive whole number",
        ),
        (",r,now,,,,,", "ACCOUNTID is empty"),
        (
            "901,r,now,,,4x,,",
            "REMINDERTIME: \"4x\" is not a whole number",
        ),
    ];
    let rows: String = cases.iter().map(|(r, _)| format!("{r}\n")).collect();
    let report = run(&sim, &rows);
    assert_eq!(report.len(), cases.len());
    for (n, ((input, want), got)) in cases.iter().zip(&report).enumerate() {
        assert_eq!(got["row"], (n + 2).to_string());
        assert_eq!(got["outcome"], "invalid", "row {input}");
        assert!(
            got["message"].contains(want),
            "row {input}: {}",
            got["message"]
        );
    }
    assert_eq!(sim.received(), 0);
}

#[test]
fn values_arrive_with_the_vendor_sample_json_types() {
    let sim = any_account_sim();
    let w = Work::new();
    w.write(
        "in.csv",
        "ACCOUNTID,REASON,ACCESS,STARTTIME,ENDTIME,REMAINDERTIME,RESOURCES_TO_BE_ACCESSED_OPTION,SELECTED_RESOURCEIDS\n\
         901,\" Testing & more = 100% \",Later,9/1/2026 17:50,12/01/2026 17:50,45,3,301;601\n",
    );
    w.job(&sim, "request-passwords", "in.csv")
        .assert()
        .success();
    let reqs = sim.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0]["account_id"], json!(901));
    assert_eq!(
        reqs[0]["details"],
        json!({
            "REASON": " Testing & more = 100% ",
            "ACCESS": "later",
            "STARTTIME": "09/01/2026 17:50",
            "ENDTIME": "12/01/2026 17:50",
            "REMINDERTIME": 45,
            "RESOURCES_TO_BE_ACCESSED_OPTION": "3",
            "SELECTED_RESOURCEIDS": ["301", "601"]
        })
    );
    let rows = w.report("in.report.csv");
    assert_eq!(rows[0]["outcome"], "requested");
    assert_eq!(rows[0]["status"], "[Waiting for Approval]");
    assert_eq!(rows[0]["starttime"], "09/01/2026 17:50");
}

#[test]
fn valid_and_invalid_rows_are_reported_in_input_order() {
    let sim = any_account_sim();
    let report = run(
        &sim,
        "901,a,now,,,,,\n902,b,bogus,,,,,\n903,c,,,,,,\n901,a,now,,,,,\n904,d,now,,,,1,\n",
    );
    let got: Vec<(&str, &str)> = report
        .iter()
        .map(|r| (r["account_id"].as_str(), r["outcome"].as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("901", "requested"),
            ("902", "invalid"),
            ("903", "requested"),
            ("901", "invalid"),
            ("904", "requested")
        ]
    );
    assert_eq!(
        report[3]["message"],
        "duplicate of row 2 (identical; row 2 is kept)"
    );
    assert_eq!(sim.requests().len(), 3);
}

#[test]
fn the_simulator_accepts_accounts_it_created_and_refuses_others() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("acc.csv", "RESOURCEID,ACCOUNTNAME\n901,root\n");
    w.job(&sim, "add-accounts", "acc.csv").assert().success();
    let id = sim.accounts()[0]["account_id"].as_u64().unwrap();
    w.write(
        "req.csv",
        &format!("ACCOUNTID,REASON\n{id},audit\n{},audit\n", id + 1000),
    );
    w.job(&sim, "request-passwords", "req.csv").assert().code(1);
    let rows = w.report("req.report.csv");
    assert_eq!(outcomes(&rows), vec!["requested", "failed"]);
    assert!(
        rows[1]["message"].contains("Account does not exist"),
        "{}",
        rows[1]["message"]
    );
}

#[test]
fn workbook_date_cells_are_valid_times() {
    let sim = any_account_sim();
    let w = Work::new();
    use Cell::*;
    xlsx(
        &w.path("in.xlsx"),
        &[
            vec![
                Text("ACCOUNTID"),
                Text("ACCESS"),
                Text("STARTTIME"),
                Text("ENDTIME"),
                Text("REMINDERTIME"),
            ],
            vec![
                Num(901.0),
                Text("later"),
                Date(2026, 1, 9, 17, 50),
                Date(2026, 1, 12, 17, 50),
                Num(45.0),
            ],
        ],
    );
    w.job(&sim, "request-passwords", "in.xlsx")
        .assert()
        .success();
    let d = &sim.requests()[0]["details"];
    assert_eq!(d["STARTTIME"], "09/01/2026 17:50");
    assert_eq!(d["ENDTIME"], "12/01/2026 17:50");
    assert_eq!(d["REMINDERTIME"], json!(45));
}

#[test]
fn dry_run_plans_one_request_per_row_and_sends_nothing() {
    let w = Work::new();
    w.write(
        "in.csv",
        &format!("{HEADER}\n901,a,now,,,,,\n901,b,now,,,,,\n"),
    );
    w.cmd()
        .args(["request-passwords", "in.csv", "--dry-run"])
        .assert()
        .success();
    let rows = w.report("in.dry-run.report.csv");
    assert_eq!(outcomes(&rows), vec!["planned", "planned"]);
    assert_eq!(rows[1]["message"], "request 2 of 2 (1 row)");
}

#[test]
fn a_request_that_may_have_reached_the_server_is_never_sent_twice() {
    // Every answer is lost after the request is stored.
    let sim = Sim::start(&["--any-account", "--drop-after", "1"]);
    let w = Work::new();
    w.write("in.csv", &format!("{HEADER}\n901,a,now,,,,,\n"));
    w.job(&sim, "request-passwords", "in.csv").assert().code(1);
    let rows = w.report("in.report.csv");
    assert_eq!(rows[0]["outcome"], "unconfirmed");
    assert_eq!(rows[0]["attempts"], "1");
    assert_eq!(sim.requests().len(), 1);
}

#[test]
fn a_request_the_server_did_not_process_is_retried() {
    // 503 means not processed: safe to retry, and retries run out.
    let sim = Sim::start(&["--any-account", "--error-share", "1"]);
    let w = Work::new();
    w.write("in.csv", &format!("{HEADER}\n901,a,now,,,,,\n"));
    w.job(&sim, "request-passwords", "in.csv")
        .args(["--retries", "2"])
        .assert()
        .code(1);
    let rows = w.report("in.report.csv");
    assert_eq!(rows[0]["outcome"], "failed");
    assert_eq!(rows[0]["http_status"], "503");
    assert_eq!(rows[0]["attempts"], "3");
    assert_eq!(sim.received(), 3);
    assert!(sim.requests().is_empty());
}
