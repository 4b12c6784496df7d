//! `--resume`: rows matched by content, in any report format, across fixed
//! and reordered inputs; password requests that may have reached the server
//! are held back unless `--resend-unconfirmed`.

use crate::common::{Sim, TOKEN, Work, outcomes, read_report};
use predicates::prelude::*;

#[test]
fn unconfirmed_requests_are_held_back_unless_resend_unconfirmed() {
    let lossy = Sim::start(&["--any-account", "--drop-after", "1"]);
    let w = Work::new();
    w.write("in.csv", "ACCOUNTID,REASON\n901,audit\n902,audit\n");
    w.job(&lossy, "request-passwords", "in.csv")
        .assert()
        .code(1);
    assert_eq!(
        outcomes(&w.report("in.report.csv")),
        vec!["unconfirmed", "unconfirmed"]
    );
    assert_eq!(lossy.requests().len(), 2);

    let good = Sim::start(&["--any-account"]);
    w.job(&good, "request-passwords", "in.csv")
        .args(["--resume", "in.report.csv", "--report", "second.csv"])
        .assert()
        .code(1);
    let second = read_report(&w.path("second.csv"));
    assert_eq!(outcomes(&second), vec!["unconfirmed", "unconfirmed"]);
    assert!(second[0]["message"].contains("--resend-unconfirmed"));
    assert!(good.requests().is_empty(), "a request was raised twice");

    w.job(&good, "request-passwords", "in.csv")
        .args([
            "--resume",
            "second.csv",
            "--resend-unconfirmed",
            "--report",
            "third.csv",
        ])
        .assert()
        .success();
    assert_eq!(
        outcomes(&read_report(&w.path("third.csv"))),
        vec!["requested", "requested"]
    );
    assert_eq!(good.requests().len(), 2);
}

#[test]
fn a_fixed_and_reordered_input_resumes_by_content() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME\n901,root\n90x,web\n902,Admin\n",
    );
    w.job(&sim, "add-accounts", "in.csv").assert().code(1);
    // Fixed, reordered, and a name in another case: still the same account.
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME\n902,admin\n901,web\n901,ROOT\n",
    );
    let received = sim.received();
    w.job(&sim, "add-accounts", "in.csv")
        .args(["--resume", "in.report.csv"])
        .assert()
        .success();
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), vec!["skipped", "added", "skipped"]);
    // DESIGN, nightly runs: the message carries what was done and when.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(rows[0]["message"], format!("added on {today}"));
    assert_eq!(sim.received() - received, 1);
}

#[test]
fn xlsx_and_jsonl_reports_resume_like_csv() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n901,b\n");
    for report in ["r.xlsx", "r.jsonl"] {
        w.job(&sim, "add-accounts", "in.csv")
            .args(["--report", report])
            .assert()
            .success();
    }
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n901,b\n901,c\n");
    for report in ["r.xlsx", "r.jsonl"] {
        w.job(&sim, "add-accounts", "in.csv")
            .args(["--resume", report, "--report", "out.csv"])
            .assert()
            .success();
        let got = outcomes(&w.report("out.csv"));
        assert_eq!(&got[..2], ["skipped", "skipped"], "{report}");
    }
    assert_eq!(sim.accounts().len(), 3);
}

#[test]
fn a_resume_of_a_resume_loses_nothing() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    let full: String = (0..20).map(|i| format!("901,acct{i}\n")).collect();
    let half: String = (0..10).map(|i| format!("901,acct{i}\n")).collect();
    w.write("in.csv", &format!("RESOURCEID,ACCOUNTNAME\n{half}"));
    w.job(&sim, "add-accounts", "in.csv")
        .args(["--report", "one.csv"])
        .assert()
        .success();

    // The server is unreachable for the second run: it skips, then stops.
    w.write("in.csv", &format!("RESOURCEID,ACCOUNTNAME\n{full}"));
    w.cmd()
        .args([
            "add-accounts",
            "in.csv",
            "--server",
            "http://127.0.0.1:9",
            "--retries",
            "0",
        ])
        .args([
            "--resume",
            "one.csv",
            "--report",
            "two.csv",
            "--chunk-size",
            "1",
        ])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("unreachable"));
    let two = read_report(&w.path("two.csv"));
    assert_eq!(two.iter().filter(|r| r["outcome"] == "skipped").count(), 10);
    assert_eq!(
        two.iter().filter(|r| r["outcome"] == "not_sent").count(),
        10
    );

    w.job(&sim, "add-accounts", "in.csv")
        .args(["--resume", "two.csv", "--report", "three.csv"])
        .assert()
        .success();
    let three = read_report(&w.path("three.csv"));
    assert_eq!(
        three.iter().filter(|r| r["outcome"] == "skipped").count(),
        10
    );
    assert_eq!(three.iter().filter(|r| r["outcome"] == "added").count(), 10);
    assert_eq!(sim.accounts().len(), 20);
}

#[test]
fn a_report_of_the_other_job_is_refused() {
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    w.write(
        "req.csv",
        "row,org,account_id,access,starttime,endtime,outcome,status,http_status,attempts,message\n",
    );
    w.cmd()
        .args(["add-accounts", "in.csv", "--dry-run", "--resume", "req.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a report of this job"));
}
