//! The first hour of a new administrator: proxies, European CSV, header
//! errors, help, the manual, logs that show requests, progress, words.

use crate::common::rogue::{Rogue, http};
use crate::common::{Sim, Work, code, outcomes, stderr};

#[test]
fn a_proxy_in_the_environment_is_never_used_for_loopback_or_the_simulator() {
    let proxy = Rogue::start("127.0.0.1", |_, _| http(502, &[], b"proxy says no"));
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "https_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ] {
        let out = w
            .job(&sim, "add-accounts", "in.csv")
            .env(var, &proxy.url)
            .arg("--overwrite")
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{var}: {}", stderr(&out));
        let out = w
            .cmd()
            .args(["add-accounts", "in.csv", "--simulate", "--overwrite"])
            .env(var, &proxy.url)
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{var} with --simulate: {}", stderr(&out));
    }
    assert!(
        proxy.requests().is_empty(),
        "a loopback request went to the proxy"
    );
}

#[test]
fn a_semicolon_csv_is_read_as_european_excel_saves_it() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    // Decimal commas inside quoted values do not change the guess.
    w.write(
        "in.csv",
        "RESOURCEID;ACCOUNTNAME;PASSWORD;NOTES\n901;root;\"p;w,1\";\"1,5 GB\"\n902;admin;pw2;\n",
    );
    let out = w.job(&sim, "add-accounts", "in.csv").output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sim.account("root")["PASSWORD"], "p;w,1");
    assert_eq!(sim.account("root")["NOTES"], "1,5 GB");
    assert_eq!(sim.accounts().len(), 2);
    // --delimiter says it outright.
    w.write("pipe.csv", "RESOURCEID|ACCOUNTNAME\n903|web\n");
    let out = w
        .job(&sim, "add-accounts", "pipe.csv")
        .args(["--delimiter", "|"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sim.accounts().len(), 3);
    let out = w
        .cmd()
        .args(["add-accounts", "pipe.csv", "--dry-run", "--delimiter", "ab"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
}

#[test]
fn header_problems_come_all_at_once_and_a_close_name_is_not_offered_the_skip_flag() {
    let w = Work::new();
    w.write(
        "in.csv",
        "ACCOUNTNAME,PASWORD,Owner email,NOTES,notes\nroot,pw,x,,\n",
    );
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("4 problems"), "{err}");
    for part in [
        "PASWORD",
        "did you mean \"PASSWORD\"",
        "Owner email",
        "notes",
        "RESOURCEID",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
    let pas = err.lines().find(|l| l.contains("PASWORD")).unwrap();
    assert!(!pas.contains("--ignore-unknown-columns"), "{pas}");
    assert!(outcomes(&[]).is_empty());
}

fn help(args: &[&str]) -> String {
    let w = Work::new();
    let out = w.cmd().args(args).arg("--help").output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_shows_each_command_only_its_own_options() {
    let sim = help(&["simulate"]);
    for absent in ["--progress", "--quiet", "--resend-unconfirmed"] {
        assert!(!sim.contains(absent), "simulate shows {absent}");
    }
    for cmd in ["template", "man", "completions"] {
        assert!(
            !help(&[cmd]).contains("--progress"),
            "{cmd} shows --progress"
        );
    }
    // DESIGN, third wave: add-accounts resends an unconfirmed password
    // change only with --resend-unconfirmed, and request-passwords takes
    // its reason from a column, never --reason.
    assert!(help(&["add-accounts"]).contains("--resend-unconfirmed"));
    assert!(!help(&["request-passwords"]).contains("--reason"));
    assert!(help(&["request-passwords"]).contains("--resend-unconfirmed"));
    assert!(!help(&["request-passwords"]).contains("--chunk-size"));
    assert!(help(&["add-accounts"]).contains("end-of-run summary"));
    let w = Work::new();
    w.write("in.csv", "ACCOUNTID\n901\n");
    let out = w
        .cmd()
        .args([
            "request-passwords",
            "in.csv",
            "--dry-run",
            "--chunk-size",
            "5",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "request-passwords takes no --chunk-size");
}

#[test]
fn v_shows_one_line_per_request_and_never_a_body() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME,PASSWORD\n901,a,Secr3t-pw-42\n902,b,Secr3t-pw-43\n",
    );
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .arg("-v")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("POST /restapi"))
        .collect();
    assert_eq!(lines.len(), 2, "{err}");
    for l in &lines {
        assert!(
            l.contains("HTTP 200") && l.contains("attempt 1") && l.contains(" ms"),
            "{l}"
        );
    }
    assert!(!err.contains("Secr3t"), "{err}");
    // The libraries' chatter only through RUST_LOG.
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .args(["-vvv", "--overwrite"])
        .output()
        .unwrap();
    assert!(!stderr(&out).contains("park"), "{}", stderr(&out));
}

#[test]
fn progress_always_draws_into_a_log_file() {
    let sim = Sim::start(&["--latency-ms", "300"]);
    let w = Work::new();
    let mut csv = String::from("RESOURCEID,ACCOUNTNAME\n");
    for i in 0..6 {
        csv.push_str(&format!("{},a{i}\n", 900 + i));
    }
    w.write("in.csv", &csv);
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .args(["--progress", "always", "--concurrency", "1"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("sending"), "{}", stderr(&out));
    // One line per update, never carriage returns or one endless line.
    let err = stderr(&out);
    assert!(!err.contains('\r'), "{err}");
    let updates = err.lines().filter(|l| l.contains("sending")).count();
    assert!(updates >= 2, "{err}");
    assert!(err.lines().all(|l| l.len() < 300), "{err}");
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .args(["--overwrite", "--concurrency", "1"])
        .output()
        .unwrap();
    assert!(
        !stderr(&out).contains("sending"),
        "auto draws nothing into a file"
    );
}

#[test]
fn the_xlsx_report_stores_numbers_as_numbers() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n9O1,b\n");
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .args(["--report", "r.xlsx"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let mut wb: Xlsx<_> = open_workbook(w.path("r.xlsx")).unwrap();
    let range = wb.worksheet_range(&wb.sheet_names()[0]).unwrap();
    let header: Vec<String> = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let row = range.rows().nth(1).unwrap();
    for name in ["row", "resource_id", "http_status", "attempts"] {
        assert!(
            matches!(row[col(name)], Data::Float(_)),
            "{name}: {:?}",
            row[col(name)]
        );
    }
    // An invalid id stays text.
    let bad = range.rows().nth(2).unwrap();
    assert_eq!(bad[col("resource_id")], Data::String("9O1".into()));
    // --resume reads it back.
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .args(["--resume", "r.xlsx", "--report", "again.csv"])
        .output()
        .unwrap();
    assert_eq!(
        outcomes(&w.report("again.csv"))[0],
        "skipped",
        "{}",
        stderr(&out)
    );
}

#[test]
fn words_count_right_and_a_dry_run_says_what_it_planned() {
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n902,b\n");
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--dry-run"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        err.contains("dry run: 2 requests planned, nothing sent"),
        "{err}"
    );
    assert!(!err.contains("0 requests"), "{err}");
    let rows = w.report("in.dry-run.report.csv");
    assert_eq!(rows[0]["message"], "request 1 of 2 (1 row)");
    w.write("one.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    let out = w
        .cmd()
        .args(["add-accounts", "one.csv", "--simulate"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        err.contains(": 1 row\n") && err.contains("1 request (0 retries)"),
        "{err}"
    );
    // template says what it wrote and what to do next.
    let out = w
        .cmd()
        .args(["template", "accounts", "-o", "new.csv"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        err.contains("wrote new.csv") && err.contains("--dry-run"),
        "{err}"
    );
}

#[test]
fn the_manual_is_whole() {
    let w = Work::new();
    let out = w.cmd().arg("man").output().unwrap();
    assert_eq!(code(&out), 0);
    let man = String::from_utf8_lossy(&out.stdout).into_owned();
    for part in [
        ".SH COMMANDS",
        ".SS add-accounts",
        ".SS request-passwords",
        ".SS simulate",
        ".SS template",
        "resend\\-unconfirmed",
        ".SH EXIT STATUS",
        ".SH ENVIRONMENT",
        "PAM360_AUTHTOKEN",
        "https_proxy",
        ".SH REPORT",
        ".SH FILES",
        ".partial",
        ".SH COLUMNS",
        "TOTP_SECRET",
        "REMINDERTIME",
        ".SH COLUMN MAPS",
        "[constants]",
        "Filters: host",
        "keepassxc (Group, Title",
        "cyberark (the Accounts Onboard",
        "plan.report.csv",
    ] {
        assert!(man.contains(part), "the manual lacks {part}");
    }
    // No page it points to that cannot be produced.
    assert!(!man.contains("pam360-bulk-add-accounts(1)"));
    insta::assert_snapshot!("manual", man);
}

#[test]
fn booleans_as_administrators_type_them() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME,RECORD_RDP_SESSIONS,RECORD_CLI_SESSIONS\n901,a,Y,off\n901,b,n,ON\n",
    );
    let out = w.job(&sim, "add-accounts", "in.csv").output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sim.account("a")["RECORD_RDP_SESSIONS"], true);
    assert_eq!(sim.account("a")["RECORD_CLI_SESSIONS"], false);
    assert_eq!(sim.account("b")["RECORD_RDP_SESSIONS"], false);
    assert_eq!(sim.account("b")["RECORD_CLI_SESSIONS"], true);
}
