//! What an administrator sees: help texts and report headers (pinned by
//! snapshots), templates that round-trip, XLSX reports that hold what CSV
//! reports hold, clean stderr in cron, completions and the man page.

use crate::common::{Sim, Work, outcomes, read_report};
use predicates::prelude::*;

fn help(args: &[&str]) -> String {
    let w = Work::new();
    let out = w.cmd().args(args).arg("--help").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_texts() {
    insta::assert_snapshot!("help", help(&[]));
    insta::assert_snapshot!("help_add_accounts", help(&["add-accounts"]));
    insta::assert_snapshot!("help_request_passwords", help(&["request-passwords"]));
    insta::assert_snapshot!("help_template", help(&["template"]));
    insta::assert_snapshot!("help_simulate", help(&["simulate"]));
    insta::assert_snapshot!("help_completions", help(&["completions"]));
}

#[test]
fn every_command_help_has_an_example() {
    for cmd in [
        "add-accounts",
        "request-passwords",
        "template",
        "simulate",
        "completions",
        "man",
    ] {
        assert!(
            help(&[cmd]).contains("Example:"),
            "{cmd} --help has no example"
        );
    }
}

#[test]
fn report_headers() {
    let w = Work::new();
    w.write("a.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    w.write("r.csv", "ACCOUNTID\n901\n");
    w.cmd()
        .args(["add-accounts", "a.csv", "--dry-run"])
        .assert()
        .success();
    w.cmd()
        .args(["request-passwords", "r.csv", "--dry-run"])
        .assert()
        .success();
    let first = |name: &str| w.read(name).lines().next().unwrap().to_string();
    insta::assert_snapshot!("report_header_accounts", first("a.dry-run.report.csv"));
    insta::assert_snapshot!("report_header_requests", first("r.dry-run.report.csv"));
}

#[test]
fn csv_templates_check_clean_and_import_once_filled_in() {
    let sim = Sim::start(&["--any-account"]);
    let w = Work::new();
    for (kind, job, rows) in [
        (
            "accounts",
            "add-accounts",
            vec!["901", "root", "Pa$$ w0rd ", "Strong"],
        ),
        (
            "requests",
            "request-passwords",
            vec![
                "901",
                "audit",
                "later",
                "09/01/2027 22:00",
                "10/01/2027 02:00",
                "30",
            ],
        ),
    ] {
        let file = format!("{kind}.csv");
        w.cmd()
            .args(["template", kind, "-o", &file])
            .assert()
            .success();
        // As it is: a header and no rows, so nothing can be imported by mistake.
        w.job(&sim, job, &file)
            .assert()
            .success()
            .stderr(predicate::str::contains("no data rows"));
        // Filled in: the first columns, the rest left empty.
        let header = w.read(&file);
        let width = header.trim_end().split(',').count();
        let mut row: Vec<String> = rows.iter().map(|s| s.to_string()).collect();
        row.resize(width, String::new());
        w.write(&file, &format!("{header}{}\n", row.join(",")));
        w.job(&sim, job, &file).assert().success();
    }
    assert_eq!(sim.accounts().len(), 1);
    assert_eq!(sim.requests().len(), 1);
    assert_eq!(sim.account("root")["PASSWORD"], "Pa$$ w0rd ");
}

#[test]
fn xlsx_template_has_every_column_notes_and_drop_downs_and_checks_clean() {
    use calamine::{Reader, Xlsx, open_workbook};
    let w = Work::new();
    w.cmd()
        .args(["template", "accounts", "-o", "t.xlsx"])
        .assert()
        .success();
    let mut wb: Xlsx<_> = open_workbook(w.path("t.xlsx")).unwrap();
    let range = wb.worksheet_range("Accounts").unwrap();
    let header: Vec<String> = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let want: Vec<&str> = pam360_bulk::accounts::SCHEMA
        .columns
        .iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(header, want);
    // Notes and drop-downs are in the sheet's parts.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(w.path("t.xlsx")).unwrap()).unwrap();
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("xl/comments")),
        "{names:?}"
    );
    let mut sheet = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut sheet,
    )
    .unwrap();
    assert!(sheet.contains("<dataValidation"));
    assert!(sheet.contains("SHA1,SHA256,SHA512"));
    assert!(sheet.contains("<pane"));
    w.cmd()
        .args(["add-accounts", "t.xlsx", "--dry-run"])
        .assert()
        .success()
        .stderr(predicate::str::contains("no data rows"));
}

#[test]
fn an_xlsx_report_holds_the_same_rows_as_the_csv_report() {
    use calamine::{Reader, Xlsx, open_workbook};
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME,PASSWORD\n901,root,p\nbad,x,p\n901,=cmd|calc,p\n902,admin,p\n901,ROOT,p\n",
    );
    for report in ["r.csv", "r.xlsx"] {
        // A fresh simulator for each, so both runs see the same server.
        let sim = Sim::start(&[]);
        w.job(&sim, "add-accounts", "in.csv")
            .args(["--report", report])
            .assert()
            .code(1);
    }
    let csv = read_report(&w.path("r.csv"));
    let mut wb: Xlsx<_> = open_workbook(w.path("r.xlsx")).unwrap();
    assert_eq!(wb.sheet_names(), vec!["report", "summary"]);
    let range = wb.worksheet_range("report").unwrap();
    let mut rows = range.rows();
    let header: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
    assert_eq!(
        header,
        pam360_bulk::report::columns(
            &["resource_id", "resource_name", "account_name", "account_id"],
            &["fingerprint"]
        )
    );
    let xlsx: Vec<Vec<String>> = rows
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(xlsx.len(), csv.len());
    for (x, c) in xlsx.iter().zip(&csv) {
        for (name, value) in header.iter().zip(x) {
            // CSV guards formula-like cells with a leading '; XLSX needs none.
            assert_eq!(
                pam360_bulk::report::unguard(&c[name]),
                value,
                "column {name}"
            );
        }
    }
    assert_eq!(
        outcomes(&csv),
        vec!["added", "invalid", "added", "added", "invalid"]
    );
    let summary = wb.worksheet_range("summary").unwrap();
    let cells: Vec<String> = summary
        .rows()
        .flat_map(|r| r.iter().map(|c| c.to_string()))
        .collect();
    assert!(
        cells.windows(2).any(|p| p[0] == "added" && p[1] == "3"),
        "{cells:?}"
    );
}

#[test]
fn jsonl_reports_and_summary_json_for_scripts() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\nx,b\n");
    w.job(&sim, "add-accounts", "in.csv")
        .args(["--report", "r.jsonl", "--summary-json", "s.json"])
        .assert()
        .code(1);
    let lines: Vec<serde_json::Value> = w
        .read("r.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["outcome"], "added");
    assert_eq!(lines[1]["row"], 3);
    let s: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    assert_eq!(s["outcomes"]["added"], 1);
    assert_eq!(s["outcomes"]["invalid"], 1);
    assert_eq!(s["exit_code"], 1);
}

#[test]
fn a_cron_run_stderr_holds_the_summary_and_no_control_sequences() {
    let sim = Sim::start(&["--latency-ms", "5"]);
    let w = Work::new();
    let rows: String = (0..200)
        .map(|i| format!("{},acct{i}\n", 900 + i % 7))
        .collect();
    w.write("in.csv", &format!("RESOURCEID,ACCOUNTNAME\n{rows}"));
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .args(["--chunk-size", "5"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains('\u{1b}'), "escape sequences in {stderr:?}");
    assert!(!stderr.contains('\r'), "carriage returns in {stderr:?}");
    assert!(stderr.contains("pam360-bulk add-accounts: 200 rows"));
    assert!(
        stderr
            .lines()
            .any(|l| l.trim_start().starts_with("added") && l.trim_end().ends_with("200")),
        "{stderr}"
    );
}

#[test]
fn completions_and_man_page() {
    let w = Work::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        w.cmd()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("add-accounts"));
    }
    w.cmd()
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::contains(".TH pam360-bulk"));
}

#[test]
fn a_refused_row_names_row_column_value_and_what_is_allowed_in_one_line() {
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME,TOTP_ALGORITHM,PASSWORD\n901,svc,MD5,secret-pw\n",
    );
    w.cmd()
        .args(["add-accounts", "in.csv", "--dry-run"])
        .assert()
        .code(1);
    let rows = w.report("in.dry-run.report.csv");
    assert_eq!(rows[0]["row"], "2");
    assert_eq!(
        rows[0]["message"],
        "column TOTP_ALGORITHM: \"MD5\" is not one of SHA1, SHA256, SHA512"
    );
    assert!(!w.read("in.dry-run.report.csv").contains("secret-pw"));
}
