//! add-accounts through the binary against the simulator: inputs, wire
//! format, outcomes, exit codes, and what must never leak.

use crate::common::{Cell, Sim, TOKEN, Work, outcomes, xlsx};
use predicates::prelude::*;
use serde_json::json;

const HEADER: &str = "RESOURCEID,ACCOUNTNAME,PASSWORD,NOTES";

#[test]
fn csv_import_adds_every_valid_row_and_reports_each_once_in_order() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.csv",
        &format!(
            "{HEADER}\n901,root,pw1,a\n902,admin,pw2,b\nabc,bad,pw3,c\n901,oracle,pw4,d\n901,ROOT,pw5,dup\n"
        ),
    );
    w.job(&sim, "add-accounts", "in.csv").assert().code(1);
    let rows = w.report("in.report.csv");
    let seen: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["row"].as_str(),
                r["account_name"].as_str(),
                r["outcome"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("2", "root", "added"),
            ("3", "admin", "added"),
            ("4", "bad", "invalid"),
            ("5", "oracle", "added"),
            ("6", "ROOT", "invalid"),
        ]
    );
    assert!(rows[2]["message"].contains("RESOURCEID"));
    assert_eq!(
        rows[4]["message"],
        "duplicate of row 2 (row 2 is kept; this row differs in ACCOUNTNAME, PASSWORD, NOTES)"
    );
    assert_eq!(sim.accounts().len(), 3);
}

#[test]
fn password_with_form_characters_arrives_byte_for_byte() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    let password = "a&b+c=d%e\"f g ";
    w.write(
        "in.csv",
        &format!("{HEADER}\n901,svc,\"a&b+c=d%e\"\"f g \",  kept as is  \n"),
    );
    w.job(&sim, "add-accounts", "in.csv").assert().success();
    let stored = sim.account("svc");
    assert_eq!(stored["PASSWORD"], password);
    assert_eq!(stored["NOTES"], "  kept as is  ");
}

#[test]
fn values_arrive_with_the_vendor_sample_json_types() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.csv",
        "resourceid,AccountName,RECORD_RDP_SESSIONS,record_cli_sessions,ACCOUNT_RESOURCE_GROUP_IDS,ACCOUNTPASSWORDPOLICYID,COMMAN_SET,TOTP_DIGITS,TOTP_VALIDITY,TOTP_ALGORITHM,SAP_USER_TYPE,ACCOUNTCUSTOMFIELD,CUSTOM:Owner\n\
         901,svc,Yes,0,3002;3003,101,1000,6,30,sha256,a,\"[{\"\"CUSTOMLABEL\"\":\"\"Secure Account\"\",\"\"CUSTOMVALUE\"\":\"\"YES\"\"}]\",IT Security\n",
    );
    w.job(&sim, "add-accounts", "in.csv").assert().success();
    let a = sim.account("svc");
    assert_eq!(a["RECORD_RDP_SESSIONS"], json!(true));
    assert_eq!(a["RECORD_CLI_SESSIONS"], json!(false));
    assert_eq!(a["ACCOUNT_RESOURCE_GROUP_IDS"], json!(["3002", "3003"]));
    assert_eq!(a["ACCOUNTPASSWORDPOLICYID"], json!(101));
    assert_eq!(a["COMMAND_SET"], json!(1000));
    assert_eq!(a["TOTP_DIGITS"], json!("6"));
    assert_eq!(a["TOTP_VALIDITY"], json!("30"));
    assert_eq!(a["TOTP_ALGORITHM"], json!("SHA256"));
    assert_eq!(a["SAP_USER_TYPE"], json!("A"));
    assert_eq!(
        a["ACCOUNTCUSTOMFIELD"],
        json!([
            {"CUSTOMLABEL": "Secure Account", "CUSTOMVALUE": "YES"},
            {"CUSTOMLABEL": "Owner", "CUSTOMVALUE": "IT Security"}
        ])
    );
    // An empty cell omits the field, so the server's default applies.
    assert!(a.get("PASSWORD").is_none());
}

#[test]
fn xlsx_cells_arrive_typed() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    use Cell::*;
    xlsx(
        &w.path("in.xlsx"),
        &[
            vec![
                Text("RESOURCEID"),
                Text("ACCOUNTNAME"),
                Text("PASSWORD"),
                Text("RECORD_RDP_SESSIONS"),
                Text("ACCOUNTPASSWORDPOLICYID"),
                Text("NOTES"),
                Text("WEBSITE_SESSION_RECORDING"),
            ],
            vec![
                Num(901.0),
                Text("svc"),
                Text("0012345"),
                Bool(true),
                Num(101.0),
                Num(12345.0),
                Num(0.0),
            ],
            vec![Num(901.5), Text("half"), Empty, Empty, Empty, Empty, Empty],
            vec![
                Num(902.0),
                Text("pol"),
                Empty,
                Empty,
                Num(7.5),
                Empty,
                Empty,
            ],
        ],
    );
    w.job(&sim, "add-accounts", "in.xlsx").assert().code(1);
    let a = sim.account("svc");
    assert_eq!(a["PASSWORD"], json!("0012345"));
    assert_eq!(a["RECORD_RDP_SESSIONS"], json!(true));
    assert_eq!(a["ACCOUNTPASSWORDPOLICYID"], json!(101));
    assert_eq!(a["NOTES"], json!("12345"));
    assert_eq!(a["WEBSITE_SESSION_RECORDING"], json!(false));
    assert_eq!(sim.accounts()[0]["resource_id"], json!(901));
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), vec!["added", "invalid", "invalid"]);
    assert!(
        rows[1]["message"].contains("901.5"),
        "{}",
        rows[1]["message"]
    );
    assert!(rows[2]["message"].contains("ACCOUNTPASSWORDPOLICYID"));
}

#[test]
fn xlsx_formula_without_cached_value_makes_its_row_invalid() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    use Cell::*;
    xlsx(
        &w.path("in.xlsx"),
        &[
            vec![Text("RESOURCEID"), Text("ACCOUNTNAME"), Text("NOTES")],
            vec![Num(901.0), Text("ok"), Text("fine")],
            vec![
                Num(901.0),
                Text("calc"),
                Formula("=CONCATENATE(\"a\",\"b\")"),
            ],
        ],
    );
    w.job(&sim, "add-accounts", "in.xlsx").assert().code(1);
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), vec!["added", "invalid"]);
    assert!(
        rows[1]["message"].contains("NOTES"),
        "{}",
        rows[1]["message"]
    );
}

#[test]
fn second_run_of_the_same_file_adds_nothing_and_reports_exists() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.csv",
        &format!("{HEADER}\n901,root,p,\n901,admin,p,\n902,root,p,\n"),
    );
    w.job(&sim, "add-accounts", "in.csv").assert().success();
    assert_eq!(sim.accounts().len(), 3);
    w.job(&sim, "add-accounts", "in.csv").assert().success();
    assert_eq!(sim.accounts().len(), 3);
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), vec!["exists", "exists", "exists"]);
    assert_eq!(
        rows[0]["status"],
        "Account is not added  as it already exists"
    );
}

#[test]
fn details_in_list_shape_are_read_too() {
    let sim = Sim::start(&["--list-shape"]);
    let w = Work::new();
    w.write("in.csv", &format!("{HEADER}\n901,root,p,\n901,admin,p,\n"));
    w.job(&sim, "add-accounts", "in.csv").assert().success();
    assert_eq!(outcomes(&w.report("in.report.csv")), vec!["added", "added"]);
}

#[test]
fn refused_token_stops_the_run_with_exit_3() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    let mut csv = format!("{HEADER}\n");
    for r in 0..40 {
        csv.push_str(&format!("{},acct{r},p,\n", 900 + r));
    }
    w.write("in.csv", &csv);
    w.job(&sim, "add-accounts", "in.csv")
        .env("PAM360_AUTHTOKEN", "wrong-token-value")
        .args(["--concurrency", "2"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("refused the API token"))
        .stderr(predicate::str::contains("wrong-token-value").not());
    let rows = w.report("in.report.csv");
    assert_eq!(rows.len(), 40);
    assert!(
        rows.iter()
            .all(|r| r["outcome"] == "failed" || r["outcome"] == "not_sent")
    );
    assert!(rows.iter().filter(|r| r["outcome"] == "not_sent").count() >= 30);
    assert!(sim.received() <= 4, "kept sending after the refusal");
    assert!(sim.accounts().is_empty());
}

#[test]
fn unknown_column_exits_2_naming_it_and_the_closest_name() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME,PASWORD\n901,root,secret\n",
    );
    w.job(&sim, "add-accounts", "in.csv")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown column \"PASWORD\""))
        .stderr(predicate::str::contains("did you mean \"PASSWORD\""));
    assert_eq!(sim.received(), 0);
}

#[test]
fn missing_required_column_exits_2() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "ACCOUNTNAME,PASSWORD\nroot,secret\n");
    w.job(&sim, "add-accounts", "in.csv")
        .assert()
        .code(2)
        // DESIGN: ACCOUNTNAME and one of RESOURCEID / RESOURCENAME.
        .stderr(predicate::str::contains(
            "the header needs RESOURCEID or RESOURCENAME",
        ));
    assert_eq!(sim.received(), 0);
}

#[test]
fn empty_file_exits_2_and_header_only_exits_0_with_a_warning() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("empty.csv", "");
    w.job(&sim, "add-accounts", "empty.csv")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("empty"));
    w.write("header.csv", &format!("{HEADER}\n"));
    w.job(&sim, "add-accounts", "header.csv")
        .assert()
        .success()
        .stderr(predicate::str::contains("no data rows"));
    assert_eq!(sim.received(), 0);
}

#[test]
fn corrupt_workbook_exits_2() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    std::fs::write(
        w.path("in.xlsx"),
        b"PK\x03\x04 this is not really a zip file",
    )
    .unwrap();
    w.job(&sim, "add-accounts", "in.xlsx")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("in.xlsx is not a readable"))
        .stderr(predicate::str::contains("workbook"));
    assert_eq!(sim.received(), 0);
}

#[test]
fn malformed_csv_rows_are_invalid_not_a_crash() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.csv",
        &format!("{HEADER}\n901,root,p,n\n901,extra,p,n,surplus\n901,short\n"),
    );
    w.job(&sim, "add-accounts", "in.csv").assert().code(1);
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), vec!["added", "invalid", "invalid"]);
    assert!(rows[1]["message"].contains("5 fields but the header has 4"));
}

#[test]
fn row_numbers_are_what_a_spreadsheet_shows() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    // A BOM, CRLF, a quoted newline (one row), a blank line (counted, not reported).
    w.write(
        "in.csv",
        "\u{feff}RESOURCEID,ACCOUNTNAME,PASSWORD,NOTES\r\n901,a,p,\"two\r\nlines\"\r\n\r\n901,b,p,x\r\n,,,\r\n901,c,p,y\r\n",
    );
    w.job(&sim, "add-accounts", "in.csv").assert().success();
    let rows = w.report("in.report.csv");
    let nums: Vec<&str> = rows.iter().map(|r| r["row"].as_str()).collect();
    assert_eq!(nums, vec!["2", "4", "6"]);
    assert_eq!(sim.account("a")["NOTES"], "two\r\nlines");
}

#[test]
fn no_secret_reaches_stdout_stderr_or_the_report_even_at_trace_level() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    let secrets = ["Pw-Zq81&x+y%Secret", "TOTPSECRETJBSWY3DP"];
    w.write(
        "in.csv",
        &format!(
            "RESOURCEID,ACCOUNTNAME,PASSWORD,TOTP_SECRET\n901,root,{},{}\n901,root2,{},\nnope,bad,{},{}\n",
            secrets[0], secrets[1], secrets[0], secrets[0], secrets[1]
        ),
    );
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .env("RUST_LOG", "trace")
        .args(["-vvv", "--summary-json", "summary.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let everything = [
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        w.read("in.report.csv"),
        w.read("summary.json"),
    ]
    .join("\n");
    assert!(everything.contains("root2"), "the run did not report");
    for s in secrets.iter().chain([&TOKEN]) {
        assert!(!everything.contains(s), "secret {s} leaked");
    }
}

#[test]
fn report_is_private_and_guards_formula_cells() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", &format!("{HEADER}\n901,=cmd|calc,p,\n"));
    w.job(&sim, "add-accounts", "in.csv").assert().success();
    let text = w.read("in.report.csv");
    assert!(text.contains(",'=cmd|calc,"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(w.path("in.report.csv"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(!w.path("in.report.csv.partial").exists());
}

#[test]
fn dry_run_needs_no_server_and_sends_nothing() {
    let w = Work::new();
    w.write(
        "in.csv",
        &format!("{HEADER}\n901,a,p,\n901,b,p,\n902,c,p,\n"),
    );
    w.cmd()
        .args(["add-accounts", "in.csv", "--dry-run", "--chunk-size", "1"])
        .assert()
        .success();
    let rows = w.report("in.dry-run.report.csv");
    assert_eq!(outcomes(&rows), vec!["planned"; 3]);
    assert!(rows[0]["message"].contains("request 1 of 3"));
}

#[test]
fn strict_sends_nothing_when_a_row_is_invalid() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", &format!("{HEADER}\n901,a,p,\nx,b,p,\n"));
    w.job(&sim, "add-accounts", "in.csv")
        .arg("--strict")
        .assert()
        .code(2);
    assert_eq!(
        outcomes(&w.report("in.report.csv")),
        vec!["not_sent", "invalid"]
    );
    assert_eq!(sim.received(), 0);
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let w = Work::new();
    w.write("in.csv", &format!("{HEADER}\n901,a,p,\n"));
    w.cmd()
        .args([
            "add-accounts",
            "in.csv",
            "--server",
            "http://pam360.example.com:8282",
        ])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("plain http"));
}

#[test]
fn org_header_comes_from_the_row_or_the_option() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME,ORGNAME\n901,a,\n901,a,Acme\n901,A,Acme\n",
    );
    w.job(&sim, "add-accounts", "in.csv")
        .args(["--org", "Default Org"])
        .assert()
        .code(1);
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), vec!["added", "added", "invalid"]);
    assert_eq!(rows[0]["org"], "Default Org");
    let mut orgs: Vec<String> = sim
        .accounts()
        .iter()
        .map(|a| a["org"].as_str().unwrap().to_string())
        .collect();
    orgs.sort();
    assert_eq!(orgs, vec!["Acme", "Default Org"]);
}

#[test]
fn simulate_flag_runs_the_shipped_sample() {
    let w = Work::new();
    let sample =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/samples/accounts.csv"))
            .unwrap();
    w.write("accounts.csv", &sample);
    w.cmd()
        .args([
            "add-accounts",
            "accounts.csv",
            "--simulate",
            "--rate",
            "100",
        ])
        .assert()
        .code(1);
    let rows = w.report("accounts.report.csv");
    assert_eq!(rows.len(), 37);
    assert_eq!(rows.iter().filter(|r| r["outcome"] == "added").count(), 34);
    assert_eq!(rows.iter().filter(|r| r["outcome"] == "invalid").count(), 3);
}

#[test]
fn secrets_the_server_echoes_back_are_masked_before_they_are_reported() {
    let sim = Sim::start(&["--echo"]);
    let w = Work::new();
    let secret = "Echo-\"Me\"&Not+=%42";
    w.write(
        "in.csv",
        &format!(
            "RESOURCEID,ACCOUNTNAME,PASSWORD,TOTP_SECRET\n901,root,\"{}\",TOTPJBSWY3\n",
            secret.replace('"', "\"\"")
        ),
    );
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let rows = w.report("in.report.csv");
    assert_eq!(rows[0]["outcome"], "added");
    assert!(
        rows[0]["status"].contains("\"PASSWORD\":\"***\""),
        "{}",
        rows[0]["status"]
    );
    let everything = format!(
        "{}{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        w.read("in.report.csv")
    );
    assert!(!everything.contains(secret));
    assert!(
        !everything.contains("Echo-\\\"Me"),
        "the JSON-escaped password leaked"
    );
    assert!(!everything.contains("TOTPJBSWY3"));
}

#[test]
fn csv_on_standard_input_needs_a_report_path() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.job(&sim, "add-accounts", "-")
        .write_stdin("RESOURCEID,ACCOUNTNAME\n901,a\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("needs --report"));
    w.job(&sim, "add-accounts", "-")
        .args(["--report", "stdin.report.csv"])
        .write_stdin("RESOURCEID,ACCOUNTNAME\n901,a\n902,b\n")
        .assert()
        .success();
    assert_eq!(
        outcomes(&w.report("stdin.report.csv")),
        vec!["added", "added"]
    );
}
