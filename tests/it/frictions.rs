//! The small frictions a newcomer met (issue 23), each through the binary:
//! options written before the command, `--dry-run server` with a space,
//! the two dry runs' reports, what a batch of existing accounts logs, a
//! rate only when something was sent, and messages that name only what the
//! user wrote.

use crate::common::{Sim, Work, code, stderr};

/// The binary in `w` with `args`, to its end.
fn run(w: &Work, args: &[&str]) -> std::process::Output {
    w.cmd().args(args).output().unwrap()
}

const TWO: &str = "RESOURCEID,ACCOUNTNAME,PASSWORD\n901,alice,pw-a\n901,bob,pw-b\n";

#[test]
fn verbose_quiet_and_progress_are_taken_before_the_command_too() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("a.csv", TWO);
    let mut c = w.job(&sim, "add-accounts", "a.csv");
    let out = c.arg("--overwrite").output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Now the same with -v in front: cargo's habit.
    let mut c = w.cmd();
    let out = c
        .args(["-v", "add-accounts", "a.csv", "--server", &sim.url])
        .args(["--rate", "1000", "--overwrite"])
        .env("PAM360_AUTHTOKEN", crate::common::TOKEN)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("POST /restapi/json/v1/resources/901/accounts"),
        "-v before the command logs each request: {}",
        stderr(&out)
    );
    // -q in front drops the warning that the report is replaced.
    let out = run(&w, &["-q", "add-accounts", "a.csv", "--dry-run"]);
    let again = run(&w, &["-q", "add-accounts", "a.csv", "--dry-run"]);
    assert_eq!(code(&out), 0);
    assert!(!stderr(&again).contains("warning"), "{}", stderr(&again));
    // --progress always in front draws progress lines into a pipe.
    let out = run(
        &w,
        &["--progress", "always", "add-accounts", "a.csv", "--dry-run"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("checking"), "{}", stderr(&out));
    // Not shown where they do nothing.
    for cmd in ["template", "man"] {
        let help = run(&w, &[cmd, "--help"]);
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(!text.contains("--verbose"), "{cmd} --help: {text}");
        assert!(!text.contains("--progress"), "{cmd} --help: {text}");
    }
}

#[test]
fn dry_run_with_a_space_is_told_to_write_an_equals_sign() {
    let w = Work::new();
    w.write("a.csv", TWO);
    for args in [
        ["add-accounts", "a.csv", "--dry-run", "server"],
        ["add-accounts", "--dry-run", "server", "a.csv"],
    ] {
        let out = w.cmd().args(args).output().unwrap();
        assert_eq!(code(&out), 2);
        assert!(
            stderr(&out).contains("write --dry-run=server"),
            "{}",
            stderr(&out)
        );
    }
    assert!(!w.path("a.dry-run.report.csv").exists());
}

#[test]
fn the_live_plan_and_the_offline_dry_run_keep_their_own_reports() {
    let w = Work::new();
    let inventory = w.write("inv.csv", "RESOURCENAME,RESOURCEID\nweb-01,901\n");
    let sim = Sim::start(&["--inventory", inventory.to_str().unwrap()]);
    w.write("a.csv", TWO);
    w.cmd()
        .args(["add-accounts", "a.csv", "--dry-run"])
        .assert()
        .success();
    w.job(&sim, "add-accounts", "a.csv")
        .arg("--dry-run=server")
        .assert()
        .success();
    assert!(w.read("a.dry-run.report.csv").contains("planned"));
    assert!(w.read("a.plan.report.csv").contains("planned"));
    assert!(!w.path("a.report.csv").exists());
}

#[test]
fn a_batch_of_accounts_that_all_exist_logs_what_the_answer_meant() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("a.csv", TWO);
    w.job(&sim, "add-accounts", "a.csv").assert().success();
    let out = w
        .job(&sim, "add-accounts", "a.csv")
        .args(["-v", "--overwrite"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("HTTP 200, 2 exist"), "{err}");
    assert!(!err.contains("HTTP 200 Failed"), "{err}");
    // And a first add says how many were added.
    w.write("b.csv", "RESOURCEID,ACCOUNTNAME\n902,carol\n902,alice\n");
    w.job(&sim, "add-accounts", "a.csv").assert().success();
    let out = w
        .job(&sim, "add-accounts", "b.csv")
        .arg("-v")
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("HTTP 200, 2 added"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_rate_is_given_only_when_something_was_sent() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("a.csv", TWO);
    let out = w.job(&sim, "add-accounts", "a.csv").output().unwrap();
    assert!(stderr(&out).contains("rows/s"), "{}", stderr(&out));
    let out = w
        .job(&sim, "add-accounts", "a.csv")
        .args(["--resume", "a.report.csv", "--report", "again.csv"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("skipped"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("rows/s"), "{}", stderr(&out));
    let out = run(&w, &["add-accounts", "a.csv", "--dry-run"]);
    assert!(!stderr(&out).contains("rows/s"), "{}", stderr(&out));
}

#[test]
fn messages_name_only_options_the_user_wrote() {
    let w = Work::new();
    w.write("a.csv", TWO);
    std::fs::create_dir(w.path("a.dry-run.report.csv")).unwrap();
    let out = run(&w, &["add-accounts", "a.csv", "--dry-run"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("the report a.dry-run.report.csv is a folder"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("--report a."), "{}", stderr(&out));
    // Given --report, the message says --report.
    std::fs::create_dir(w.path("out.csv")).unwrap();
    let out = run(
        &w,
        &["add-accounts", "a.csv", "--dry-run", "--report", "out.csv"],
    );
    assert!(
        stderr(&out).contains("--report out.csv is a folder"),
        "{}",
        stderr(&out)
    );
    // A header that names no target says why it needs one, in a whole sentence.
    w.write("n.csv", "ACCOUNTNAME\nalice\n");
    let out = run(&w, &["add-accounts", "n.csv", "--dry-run"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains(
            "the header needs RESOURCEID or RESOURCENAME, so that each row names its target"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn columns_a_preset_leaves_unused_are_not_blamed_on_a_flag_never_given() {
    let w = Work::new();
    w.write(
        "kp.csv",
        "\"Group\",\"Title\",\"Username\",\"Password\",\"URL\",\"Notes\"\n\"Root\",\"web-01\",\"root\",\"pw\",\"\",\"\"\n",
    );
    let out = run(
        &w,
        &["add-accounts", "kp.csv", "--from", "keepassxc", "--dry-run"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("ignored columns (not used by the column map): \"Group\""),
        "{err}"
    );
    assert!(!err.contains("--ignore-unknown-columns"), "{err}");
}

#[test]
fn new_problems_are_counted_against_an_earlier_run_only() {
    // A first run has no "before": its problems show as invalid, and are
    // counted new only in --summary-json (a cron alert's first night).
    let w = Work::new();
    w.write("a.csv", "RESOURCEID,ACCOUNTNAME\n901,a\nx,b\n");
    let out = run(
        &w,
        &[
            "add-accounts",
            "a.csv",
            "--dry-run",
            "--summary-json",
            "s.json",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(!stderr(&out).contains("new problems"), "{}", stderr(&out));
    assert!(w.read("s.json").contains("\"new_problems\": 1"));
}

#[test]
fn a_nightly_run_that_stops_is_told_to_run_again_not_to_resume() {
    // With --history the next run resumes by itself: the advice says so,
    // and never names --resume, which the cron line does not use.
    let w = Work::new();
    let rows: String = (0..8).map(|i| format!("{},u{i}\n", 901 + i)).collect();
    w.write("a.csv", &format!("RESOURCEID,ACCOUNTNAME\n{rows}"));
    std::fs::create_dir(w.path("history")).unwrap();
    let out = w
        .cmd()
        .args(["add-accounts", "a.csv", "--history", "history"])
        .args(["--server", "http://127.0.0.1:9", "--retries", "0"])
        .args(["--concurrency", "1", "--rate", "1000"])
        .env("PAM360_AUTHTOKEN", crate::common::TOKEN)
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("run the same command again"), "{err}");
    assert!(!err.contains("--resume"), "{err}");
}

#[test]
fn a_run_that_did_nothing_gives_no_rate() {
    // A refused token: one request went, no row was done.
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("a.csv", TWO);
    let out = w
        .cmd()
        .args(["add-accounts", "a.csv", "--server", &sim.url])
        .env("PAM360_AUTHTOKEN", "not-the-token")
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(!stderr(&out).contains("rows/s"), "{}", stderr(&out));
}
