//! Trust, third round: what working by names brought. Each test is named
//! after the rule of DESIGN.md's "Trust rules, third round" it pins, and
//! failed on the code before its fix. Misbehaving servers are the scripted
//! ones of `common::rogue`; the simulator stays a faithful PAM360.

use std::time::Duration;

use crate::common::rogue::{self, Rogue, http, json};
use crate::common::{Cell, Sim, TOKEN, Work, code, outcomes, stderr, wait_for, xlsx};

/// web-01 (902) with root 5001, mail-01 (905) with root 5004; `extra`
/// lines are appended (RESOURCENAME,RESOURCEID,RESOURCETYPE,ACCOUNTNAME,ACCOUNTID).
fn inventory(w: &Work, name: &str, extra: &str) -> String {
    let csv = format!(
        "RESOURCENAME,RESOURCEID,RESOURCETYPE,ACCOUNTNAME,ACCOUNTID\n\
         web-01,902,Linux,root,5001\n\
         mail-01,905,Linux,root,5004\n{extra}"
    );
    w.write(name, &csv).to_string_lossy().into_owned()
}

fn sim_with(w: &Work, name: &str, extra: &str, more: &[&str]) -> Sim {
    let inv = inventory(w, name, extra);
    let mut args = vec!["--inventory", inv.as_str()];
    args.extend_from_slice(more);
    Sim::start(&args)
}

/// Runs the binary in `w` against `sim` with `args`; returns (exit, stderr).
fn run(w: &Work, sim: &Sim, job: &str, input: &str, args: &[&str]) -> (i32, String) {
    let out = w.job(sim, job, input).args(args).output().unwrap();
    (code(&out), stderr(&out))
}

/// How many POSTs reached `/accounts/<id>/requestpassword` of `sim`.
fn raised(sim: &Sim, id: u64) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r["account_id"] == id)
        .count()
}

// ---- 1. Done stays done -------------------------------------------------

#[test]
fn done_stays_done_a_requested_row_whose_name_no_longer_resolves_is_skipped_forever() {
    let w = Work::new();
    w.write(
        "req.csv",
        "RESOURCENAME,ACCOUNTNAME,REASON\nweb-01,root,audit\nmail-01,root,audit\n",
    );
    let first = sim_with(&w, "inv1.csv", "", &[]);
    let (c, e) = run(
        &w,
        &first,
        "request-passwords",
        "req.csv",
        &["--report", "r1.csv"],
    );
    assert_eq!(c, 0, "{e}");
    assert_eq!(raised(&first, 5001), 1);
    drop(first);
    // The server changed: a second resource is called web-01 now.
    let second = sim_with(&w, "inv2.csv", "web-01,950,Linux,root,9001\n", &[]);
    // A live plan over its own resume report keeps what it says.
    let (c, e) = run(
        &w,
        &second,
        "request-passwords",
        "req.csv",
        &[
            "--dry-run=server",
            "--resume",
            "r1.csv",
            "--report",
            "r1.csv",
        ],
    );
    assert_eq!(c, 0, "{e}");
    let rows = w.report("r1.csv");
    assert_eq!(outcomes(&rows), ["skipped", "skipped"], "{rows:?}");
    assert!(rows[0]["message"].contains("requested"), "{rows:?}");
    for (report, resume) in [("r2.csv", "r1.csv"), ("r3.csv", "r2.csv")] {
        let (c, e) = run(
            &w,
            &second,
            "request-passwords",
            "req.csv",
            &["--resume", resume, "--report", report],
        );
        assert_eq!(c, 0, "{e}");
        assert_eq!(outcomes(&w.report(report)), ["skipped", "skipped"]);
    }
    assert_eq!(second.writes(), 0, "nothing is raised again");
}

#[test]
fn done_stays_done_a_held_back_unconfirmed_request_stays_held_back_whatever_the_server_says() {
    let w = Work::new();
    w.write(
        "req.csv",
        "RESOURCENAME,ACCOUNTNAME,REASON\nweb-01,root,audit\n",
    );
    // Stored, then the answer is lost: the request is unconfirmed.
    let first = sim_with(&w, "inv1.csv", "", &["--drop-after", "1"]);
    let (c, e) = run(
        &w,
        &first,
        "request-passwords",
        "req.csv",
        &["--report", "r1.csv"],
    );
    assert_eq!(c, 1, "{e}");
    assert_eq!(outcomes(&w.report("r1.csv")), ["unconfirmed"]);
    assert_eq!(raised(&first, 5001), 1);
    drop(first);
    // The resource is gone from the server: its name resolves no more.
    let second = Sim::start(&[]);
    for (report, resume) in [("r2.csv", "r1.csv"), ("r3.csv", "r2.csv")] {
        let (c, e) = run(
            &w,
            &second,
            "request-passwords",
            "req.csv",
            &["--resume", resume, "--report", report],
        );
        assert_eq!(c, 1, "{e}");
        let rows = w.report(report);
        assert_eq!(outcomes(&rows), ["unconfirmed"], "{rows:?}");
        assert!(rows[0]["message"].contains("--resend-unconfirmed"));
    }
    assert_eq!(second.writes(), 0);
}

// ---- 2. Proxies as curl reads them, credentials never shown ------------

#[test]
fn proxies_as_curl_reads_them_a_proxy_password_never_shows() {
    let proxy = Rogue::start("127.0.0.1", |_, _| rogue::Reply::Hangup);
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME,PASSWORD\n901,a,pw-one-1\n902,b,pw-two-2\n",
    );
    let addr = proxy.url.trim_start_matches("http://");
    let out = w
        .cmd()
        .args([
            "add-accounts",
            "in.csv",
            "--server",
            "https://pam360.example.invalid:8282",
            "--retries",
            "0",
            "--summary-json",
            "summary.json",
            "-vv",
        ])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .env("HTTPS_PROXY", format!("proxyuser:Pr0xyPa55word@{addr}"))
        .output()
        .unwrap();
    let err = stderr(&out);
    // Used, as curl would: no scheme means http://, with its credentials.
    let seen = proxy.requests();
    assert!(!seen.is_empty(), "the proxy was not used: {err}");
    assert_eq!(seen[0].method, "CONNECT");
    assert!(seen[0].header("proxy-authorization").is_some());
    let texts = [
        ("stderr", err.clone()),
        ("report", w.read("in.report.csv")),
        ("summary", w.read("summary.json")),
    ];
    for (what, text) in texts {
        assert!(!text.contains("Pr0xyPa55word"), "{what}: {text}");
    }
    assert!(err.contains("proxyuser"), "the user name may show: {err}");
}

// ---- 3. A row names one target ------------------------------------------

#[test]
fn a_row_names_one_target_an_id_and_names_that_disagree_are_invalid() {
    let w = Work::new();
    let sim = sim_with(&w, "inv.csv", "", &[]);
    w.write(
        "req.csv",
        "ACCOUNTID,RESOURCENAME,ACCOUNTNAME,REASON\n\
         5004,web-01,,a2\n\
         5004,web-01,root,a3\n\
         5004,,root,a4\n\
         5001,web-01,root,a5\n\
         5001,web-01,,a5\n",
    );
    let (c, e) = run(&w, &sim, "request-passwords", "req.csv", &[]);
    assert_eq!(c, 1, "{e}");
    let rows = w.report("req.report.csv");
    assert_eq!(
        outcomes(&rows),
        ["invalid", "invalid", "invalid", "requested", "invalid"],
        "{rows:?}"
    );
    let m = &rows[1]["message"];
    assert!(
        m.contains("ACCOUNTID 5004") && m.contains("not web-01/root"),
        "{rows:?}"
    );
    assert!(rows[0]["message"].contains("ACCOUNTID 5004"), "{rows:?}");
    assert!(
        rows[2]["message"].contains("give RESOURCENAME too, or the id alone"),
        "{rows:?}"
    );
    // Row 6 is the same request as row 5, which was kept.
    assert!(
        rows[4]["message"].contains("duplicate of row 5"),
        "{rows:?}"
    );
    assert_eq!(raised(&sim, 5004), 0, "nothing to the wrong account");
    assert_eq!(raised(&sim, 5001), 1);
    // The same for a resource id beside a resource name.
    w.write(
        "acc.csv",
        "RESOURCEID,RESOURCENAME,ACCOUNTNAME\n905,web-01,deploy\n902,web-01,deploy\n",
    );
    let (c, e) = run(&w, &sim, "add-accounts", "acc.csv", &[]);
    assert_eq!(c, 1, "{e}");
    let rows = w.report("acc.report.csv");
    assert_eq!(outcomes(&rows), ["invalid", "added"], "{rows:?}");
    assert!(
        rows[0]["message"].contains("RESOURCEID 905 is mail-01, not web-01"),
        "{rows:?}"
    );
}

// ---- 4. Skipping on the server's behalf is conservative ----------------

#[test]
fn skipping_on_the_servers_behalf_is_conservative_java_equals_ignore_case() {
    let w = Work::new();
    // The server holds an NFD spelling and a capitalised name ending in Σ.
    let sim = sim_with(
        &w,
        "inv.csv",
        "web-01,902,Linux,jose\u{301},5010\nweb-01,902,Linux,ΟΔΥΣΣΕΥΣ,5011\n",
        &[],
    );
    // The input: the NFC spelling (another name to PAM360) and the
    // lower case with a final sigma (the same name to PAM360).
    w.write(
        "in.csv",
        "RESOURCENAME,ACCOUNTNAME\nweb-01,Jos\u{e9}\nweb-01,οδυσσευς\n",
    );
    let (c, e) = run(&w, &sim, "add-accounts", "in.csv", &["--dry-run=server"]);
    assert_eq!(c, 0, "{e}");
    let plan = outcomes(&w.report("in.plan.report.csv"));
    assert_eq!(plan, ["planned", "exists"]);
    let (c, e) = run(&w, &sim, "add-accounts", "in.csv", &["--skip-existing"]);
    assert_eq!(c, 0, "{e}");
    let real = outcomes(&w.report("in.report.csv"));
    assert_eq!(real, ["added", "exists"], "the plan predicted the run");
    // Without --skip-existing the server decides, and says the same.
    let sim2 = sim_with(
        &w,
        "inv.csv",
        "web-01,902,Linux,jose\u{301},5010\nweb-01,902,Linux,ΟΔΥΣΣΕΥΣ,5011\n",
        &[],
    );
    let (c, e) = run(
        &w,
        &sim2,
        "add-accounts",
        "in.csv",
        &["--report", "plain.csv"],
    );
    assert_eq!(c, 0, "{e}");
    assert_eq!(outcomes(&w.report("plain.csv")), ["added", "exists"]);
}

#[test]
fn skipping_on_the_servers_behalf_is_conservative_verify_never_confirms_another_spelling() {
    // A server that lists an NFD spelling and drops every write.
    let server = Rogue::start("127.0.0.1", |_, req| {
        if req.method == "GET" {
            json(serde_json::json!({"operation": {
                "name": "GET RESOURCE ACCOUNTS",
                "result": {"status": "Success", "message": "ok"},
                "Details": {"RESOURCE ID": "17", "RESOURCE NAME": "web-01",
                    "ACCOUNT LIST": [{"ACCOUNT ID": "70", "ACCOUNT NAME": "jose\u{301}"}]},
            }}))
        } else {
            rogue::Reply::Hangup
        }
    });
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n17,Jos\u{e9}\n");
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--server", &server.url])
        .args(["--retries", "1", "--verify"])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .unwrap();
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["unconfirmed"], "{}", stderr(&out));
    assert!(!rows[0]["message"].contains("confirmed by reading back"));
}

// ---- 5. Suggestions never point at another real target ------------------

#[test]
fn suggestions_never_point_at_another_real_target() {
    let w = Work::new();
    let sim = sim_with(
        &w,
        "inv.csv",
        "lnx-prod-530,910,Linux,,\nWIN-APP-300,911,Windows,,\nweb-001,912,Linux,,\n",
        &[],
    );
    w.write(
        "in.csv",
        "RESOURCENAME,ACCOUNTNAME\nlnx-prod-350,a\nWIN-APP-003,b\nweb-1,c\n",
    );
    let (c, e) = run(&w, &sim, "add-accounts", "in.csv", &["--dry-run=server"]);
    assert_eq!(c, 1, "{e}");
    let rows = w.report("in.plan.report.csv");
    assert!(!rows[0]["message"].contains("closest"), "{rows:?}");
    assert!(!rows[1]["message"].contains("closest"), "{rows:?}");
    // web-1 may suggest web-01 or web-001: the same host number.
    assert!(rows[2]["message"].contains("(closest: \"web-0"), "{rows:?}");
}

#[cfg(unix)]
#[test]
fn suggestions_never_point_at_another_real_target_and_a_signal_stops_them() {
    let w = Work::new();
    let mut inv = String::from("RESOURCENAME,RESOURCEID\n");
    for i in 0..50_000 {
        inv.push_str(&format!("srv-{i:05}-prod,{}\n", 1000 + i));
    }
    w.write("inv.csv", &inv);
    let sim = Sim::start(&["--inventory", w.path("inv.csv").to_str().unwrap()]);
    let mut input = String::from("RESOURCENAME,ACCOUNTNAME\n");
    for i in 0..1000 {
        input.push_str(&format!("svr-{i:05}-prd,a\n"));
    }
    w.write("in.csv", &input);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pam360-bulk"))
        .current_dir(w.dir.path())
        .args([
            "add-accounts",
            "in.csv",
            "--dry-run=server",
            "--server",
            &sim.url,
        ])
        .args(["--rate", "1000"])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once every page of the list is read, the names are being matched.
    assert!(wait_for(Duration::from_secs(60), || sim.received() >= 10));
    std::thread::sleep(Duration::from_millis(300));
    std::process::Command::new("kill")
        .args(["-s", "INT", &child.id().to_string()])
        .status()
        .unwrap();
    let ended = wait_for(Duration::from_secs(10), || {
        child.try_wait().unwrap().is_some()
    });
    if !ended {
        let _ = child.kill();
    }
    assert!(ended, "suggestions went on after SIGINT");
    let status = child.wait().unwrap().code();
    assert!(matches!(status, Some(1 | 3)), "{status:?}");
}

// ---- 6. --ignore-unknown-columns never ignores a near-miss --------------

#[test]
fn ignore_unknown_columns_never_ignores_a_near_miss() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME,PASWORD\n901,a,secret-1\n");
    let (c, e) = run(
        &w,
        &sim,
        "add-accounts",
        "in.csv",
        &["--ignore-unknown-columns", "-q"],
    );
    assert_eq!(c, 2, "{e}");
    assert!(e.contains("PASWORD") && e.contains("PASSWORD"), "{e}");
    assert_eq!(sim.writes(), 0);
    // A column far from every name is ignored, and said so even with -q.
    w.write("in2.csv", "RESOURCEID,ACCOUNTNAME,Owner email\n901,a,x@y\n");
    let (c, e) = run(
        &w,
        &sim,
        "add-accounts",
        "in2.csv",
        &["--ignore-unknown-columns", "-q", "--summary-json", "s.json"],
    );
    assert_eq!(c, 0, "{e}");
    assert!(e.contains("Owner email"), "{e}");
    let summary: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    assert_eq!(
        summary["ignored_columns"],
        serde_json::json!(["Owner email"])
    );
}

// ---- 7. Answers have a size cap -----------------------------------------

#[test]
fn answers_have_a_size_cap_a_write_answer_over_8_mib_is_not_an_answer() {
    let server = Rogue::start("127.0.0.1", |_, _| {
        rogue::big(
            r#"{"operation":{"name":"ADD ACCOUNTS","result":{"status":"Success","message":""#,
            b'x',
            9 << 20,
            r#""},"Details":{"a":{"STATUS":"Account added successfully"}}}}"#,
        )
    });
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--server", &server.url])
        .args(["--retries", "0"])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .unwrap();
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["failed"], "{}", stderr(&out));
    assert!(rows[0]["message"].contains("8 MiB"), "{rows:?}");
}

#[test]
fn answers_have_a_size_cap_a_read_page_over_64_mib_stops_the_run_before_any_write() {
    let server = Rogue::start("127.0.0.1", |_, req| {
        if req.method == "GET" {
            rogue::big(
                r#"{"operation":{"result":{"status":"Success"},"totalRows":1,"Details":[{"RESOURCE ID":"17","RESOURCE NAME":"web-01","RESOURCE DESCRIPTION":""#,
                b'x',
                70 << 20,
                r#""}]}}"#,
            )
        } else {
            rogue::accounts_answer(req, "Account added successfully")
        }
    });
    let w = Work::new();
    w.write("in.csv", "RESOURCENAME,ACCOUNTNAME\nweb-01,a\n");
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--server", &server.url])
        .args(["--retries", "0"])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("64 MiB"), "{}", stderr(&out));
    assert!(server.requests().iter().all(|r| r.method == "GET"));
}

// ---- 8. A certificate that fails after requests were sent ---------------

#[test]
fn a_certificate_that_fails_verification_after_requests_were_sent_stops_with_exit_3() {
    let w = Work::new();
    let (a, fp_a) = Sim::start_tls(&w.path("a.pem"), false);
    let (b, fp_b) = Sim::start_tls(&w.path("b.pem"), false);
    let addr = |s: &Sim| {
        s.url
            .trim_start_matches("https://")
            .parse::<std::net::SocketAddr>()
            .unwrap()
    };
    let fwd = rogue::Forwarder::start([addr(&a), addr(&b)], 1);
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n902,b\n903,c\n");
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--server"])
        .arg(format!("https://{}", fwd.addr))
        .args(["--pin-sha256", &fp_a, "--chunk-size", "1"])
        .args(["--concurrency", "1", "--rate", "2"])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert!(err.contains("after requests were sent"), "{err}");
    assert!(!err.contains("nothing was sent"), "{err}");
    assert!(!err.to_lowercase().contains(&fp_b.to_lowercase()), "{err}");
    let report = w.read("in.report.csv");
    assert!(!report.to_lowercase().contains(&fp_b.to_lowercase()));
    assert_eq!(a.accounts().len(), 1);
    assert_eq!(b.accounts().len(), 0);
}

// ---- 9. A closed stderr changes nothing ---------------------------------

#[test]
fn a_closed_stderr_changes_nothing() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME\n901,a\n901,b\nx,c\n902,d\n",
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pam360-bulk"))
        .current_dir(w.dir.path())
        .args(["add-accounts", "in.csv", "--server", &sim.url, "-vv"])
        .args(["--chunk-size", "1"])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader of stderr goes away at once, as `2>&1 | head` does.
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{status:?}");
    assert_eq!(
        outcomes(&w.report("in.report.csv")),
        ["added", "added", "invalid", "added"]
    );
    assert!(!w.path("in.report.csv.partial").exists());
}

// ---- 10. Bad option values are usage errors -----------------------------

#[test]
fn bad_option_values_are_usage_errors_org_and_server() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    for org in ["ac\tme", "acme\u{7f}", "a\nb"] {
        let (c, e) = run(&w, &sim, "add-accounts", "in.csv", &["--org", org]);
        assert_eq!(c, 2, "{org:?}: {e}");
        assert!(e.contains("--org"), "{e}");
    }
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .env("PAM360_ORG", "acme\u{1b}")
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    for server in [format!("{}#frag", sim.url), format!("{}/?x=1", sim.url)] {
        let out = w
            .cmd()
            .args(["add-accounts", "in.csv", "--server", &server])
            .env("PAM360_AUTHTOKEN", TOKEN)
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "{server}: {}", stderr(&out));
    }
    w.write(
        "org.csv",
        "RESOURCEID,ACCOUNTNAME,ORGNAME\n901,a,ac\tme\n901,b,acme\n",
    );
    let (c, e) = run(&w, &sim, "add-accounts", "org.csv", &[]);
    assert_eq!(c, 1, "{e}");
    let rows = w.report("org.report.csv");
    assert_eq!(outcomes(&rows), ["invalid", "added"]);
    assert!(rows[0]["message"].contains("ORGNAME"), "{rows:?}");
    assert_eq!(sim.writes(), 1);
}

// ---- 11. Dates are real -----------------------------------------------

#[test]
fn dates_are_real_four_digit_years_from_1970_and_exact_ids() {
    let sim = Sim::start(&["--any-account"]);
    let w = Work::new();
    w.write(
        "req.csv",
        "ACCOUNTID,ACCESS,STARTTIME,ENDTIME,REASON\n\
         1,later,01/03/27 10:00,02/03/27 10:00,a\n\
         2,later,01/01/0000 10:00,02/01/0000 10:00,b\n\
         3,later,01/01/1969 10:00,02/01/1969 10:00,c\n\
         4,later,01/03/2027 10:00,02/03/2027 10:00,d\n",
    );
    let (c, e) = run(&w, &sim, "request-passwords", "req.csv", &[]);
    assert_eq!(c, 1, "{e}");
    assert_eq!(
        outcomes(&w.report("req.report.csv")),
        ["invalid", "invalid", "invalid", "requested"]
    );
    xlsx(
        &w.path("req.xlsx"),
        &[
            vec![
                Cell::Text("ACCOUNTID"),
                Cell::Text("ACCESS"),
                Cell::Text("STARTTIME"),
                Cell::Text("ENDTIME"),
            ],
            // Serial 3,000,000 is a day in the year 10113.
            vec![
                Cell::Num(5.0),
                Cell::Text("later"),
                Cell::DateNum(3_000_000.0),
                Cell::DateNum(3_000_001.0),
            ],
            // 2^53 + 2: a number no spreadsheet cell holds exactly.
            vec![
                Cell::Num(9_007_199_254_740_994.0),
                Cell::Text("now"),
                Cell::Empty,
                Cell::Empty,
            ],
            vec![Cell::Num(6.0), Cell::Text("now"), Cell::Empty, Cell::Empty],
        ],
    );
    let (c, e) = run(
        &w,
        &sim,
        "request-passwords",
        "req.xlsx",
        &["--report", "xlsx.report.csv"],
    );
    assert_eq!(c, 1, "{e}");
    assert_eq!(
        outcomes(&w.report("xlsx.report.csv")),
        ["invalid", "invalid", "requested"]
    );
    assert_eq!(sim.requests().len(), 2);
}

// ---- 12. Every output is replaced, never written through ----------------

#[cfg(unix)]
#[test]
fn every_output_is_replaced_never_written_through_a_symlink() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    w.write("precious.txt", "keep me\n");
    std::os::unix::fs::symlink(w.path("precious.txt"), w.path("summary.json")).unwrap();
    let (c, e) = run(
        &w,
        &sim,
        "add-accounts",
        "in.csv",
        &["--summary-json", "summary.json"],
    );
    assert_eq!(c, 0, "{e}");
    assert_eq!(w.read("precious.txt"), "keep me\n");
    let meta = std::fs::symlink_metadata(w.path("summary.json")).unwrap();
    assert!(meta.file_type().is_file(), "the link was replaced");
    assert!(w.read("summary.json").contains("\"exit_code\""));
}

// ---- 13. Answers that contradict themselves -----------------------------

#[test]
fn answers_that_contradict_themselves_are_failed() {
    let server = Rogue::start("127.0.0.1", |_, _| {
        // One account named twice in one answer, with two verdicts.
        http(
            200,
            &[("Content-Type", "application/json")],
            br#"{"operation":{"name":"ADD ACCOUNTS","result":{"status":"Success","message":"ok"},
                "Details":{"root":{"STATUS":"Account addition failed"},"ROOT":{"STATUS":"Account added successfully"}}}}"#,
        )
    });
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,root\n");
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--server", &server.url])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .unwrap();
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["failed"], "{}", stderr(&out));
}

#[test]
fn answers_that_contradict_themselves_one_id_under_two_names_makes_rows_invalid() {
    let server = Rogue::start("127.0.0.1", |n, req| {
        if req.method == "GET" && n > 0 {
            json(
                serde_json::json!({"operation": {"result": {"status": "Success"}, "totalRows": 3}}),
            )
        } else if req.method == "GET" {
            json(serde_json::json!({"operation": {
                "result": {"status": "Success"}, "totalRows": 3,
                "Details": [
                    {"RESOURCE ID": "17", "RESOURCE NAME": "web-01"},
                    {"RESOURCE ID": "17", "RESOURCE NAME": "web-1"},
                    {"RESOURCE ID": "18", "RESOURCE NAME": "db-01"},
                ],
            }}))
        } else {
            rogue::accounts_answer(req, "Account added successfully")
        }
    });
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCENAME,ACCOUNTNAME\nweb-01,a\nweb-1,b\ndb-01,c\n",
    );
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--server", &server.url])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["invalid", "invalid", "added"]);
    assert!(
        rows[0]["message"].contains("the server lists id 17 as web-01 and web-1"),
        "{rows:?}"
    );
    let writes: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(writes.len(), 1);
    assert!(writes[0].path.contains("/18/"));
}

#[test]
fn answers_that_contradict_themselves_an_account_list_in_the_list_shape_is_read() {
    let sim = Sim::start(&["--list-shape"]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n901,b\n");
    let (c, e) = run(&w, &sim, "add-accounts", "in.csv", &["--verify"]);
    assert_eq!(c, 0, "{e}");
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["added", "added"], "{rows:?}");
    assert!(rows.iter().all(|r| !r["account_id"].is_empty()), "{rows:?}");
}

// ---- 14. Messages tell the truth, again ---------------------------------

#[test]
fn messages_tell_the_truth_a_timed_out_read_stored_nothing() {
    let server = Rogue::start("127.0.0.1", |_, _| {
        rogue::Reply::Stall(Duration::from_secs(5))
    });
    let w = Work::new();
    w.write("in.csv", "RESOURCENAME,ACCOUNTNAME\nweb-01,a\n");
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--server", &server.url])
        .args(["--timeout", "0.5", "--retries", "0"])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let rows = w.report("in.report.csv");
    let all = format!("{}{rows:?}", stderr(&out));
    assert!(all.contains("did not answer in time"), "{all}");
    assert!(!all.contains("may have stored"), "{all}");
}

#[test]
fn messages_tell_the_truth_a_duplicate_says_which_row_was_kept_and_how_they_differ() {
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME,PASSWORD,NOTES\n901,root,p1,first\n901,ROOT,p2,first\n901,root,p1,first\n",
    );
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let rows = w.report("in.dry-run.report.csv");
    assert_eq!(outcomes(&rows), ["planned", "invalid", "invalid"]);
    let m = &rows[1]["message"];
    assert!(m.contains("duplicate of row 2"), "{m}");
    assert!(m.contains("row 2 is kept"), "{m}");
    assert!(m.contains("PASSWORD"), "{m}");
    assert!(!m.contains("p1") && !m.contains("p2"), "{m}");
    assert!(rows[2]["message"].contains("identical"), "{rows:?}");
}

#[cfg(unix)]
#[test]
fn messages_tell_the_truth_an_interrupted_dry_run_does_not_advise_resume() {
    let sim = Sim::start(&["--latency-ms", "1500"]);
    let w = Work::new();
    w.write("in.csv", "RESOURCENAME,ACCOUNTNAME\nweb-01,a\n");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_pam360-bulk"))
        .current_dir(w.dir.path())
        .args([
            "add-accounts",
            "in.csv",
            "--dry-run=server",
            "--server",
            &sim.url,
        ])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupted while it reads the server.
    assert!(wait_for(Duration::from_secs(10), || sim.received() > 0));
    std::process::Command::new("kill")
        .args(["-s", "INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(!stderr(&out).contains("--resume"), "{}", stderr(&out));
    assert!(!w.read("in.plan.report.csv").contains("--resume"));
}

#[test]
fn messages_tell_the_truth_no_replacing_warning_before_a_refusal() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    w.write("in.report.csv", "old report\n");
    w.write("in.report.csv.partial", "row,org\n2,\n");
    let (c, e) = run(&w, &sim, "add-accounts", "in.csv", &[]);
    assert_eq!(c, 2, "{e}");
    assert!(!e.contains("replacing"), "{e}");
}

// ---- Items 1 to 4 together ----------------------------------------------

/// Every write a simulator received, as (path, account or request target).
fn writes_of(sim: &Sim) -> (usize, usize) {
    (sim.accounts().len(), sim.requests().len())
}

#[test]
fn trust_third_round_together_two_resumes_and_a_live_plan_nothing_twice_nothing_astray() {
    let w = Work::new();
    let extra = "web-01,902,Linux,jose\u{301},5010\n";
    w.write(
        "acc.csv",
        "RESOURCENAME,ACCOUNTNAME\nweb-01,Jos\u{e9}\nweb-01,deploy\nmail-01,relay\n",
    );
    w.write(
        "req.csv",
        "ACCOUNTID,RESOURCENAME,ACCOUNTNAME,REASON\n\
         ,web-01,root,audit\n\
         5004,web-01,,wrong target\n\
         ,mail-01,root,audit\n",
    );
    let sim = sim_with(&w, "inv.csv", extra, &[]);
    let (c, e) = run(&w, &sim, "add-accounts", "acc.csv", &["--dry-run=server"]);
    assert_eq!(c, 0, "{e}");
    assert_eq!(
        outcomes(&w.report("acc.plan.report.csv")),
        ["planned", "planned", "planned"]
    );
    let (c, e) = run(&w, &sim, "add-accounts", "acc.csv", &["--report", "a1.csv"]);
    assert_eq!(c, 0, "{e}");
    let (c, e) = run(
        &w,
        &sim,
        "request-passwords",
        "req.csv",
        &["--report", "q1.csv"],
    );
    assert_eq!(c, 1, "{e}");
    assert_eq!(
        outcomes(&w.report("q1.csv")),
        ["requested", "invalid", "requested"]
    );
    let before = writes_of(&sim);
    assert_eq!(before, (2 + 1 + 3, 2), "inventory 3 + 3 added; 2 requests");
    drop(sim);
    // The server changes: web-01 is now ambiguous.
    let sim = sim_with(&w, "inv2.csv", &format!("{extra}web-01,950,Linux,,\n"), &[]);
    for (a, q, ra, rq) in [
        ("a2.csv", "q2.csv", "a1.csv", "q1.csv"),
        ("a3.csv", "q3.csv", "a2.csv", "q2.csv"),
    ] {
        let (c, e) = run(
            &w,
            &sim,
            "add-accounts",
            "acc.csv",
            &["--resume", ra, "--report", a],
        );
        assert_eq!(c, 0, "{e}");
        assert_eq!(outcomes(&w.report(a)), ["skipped", "skipped", "skipped"]);
        let (c, e) = run(
            &w,
            &sim,
            "request-passwords",
            "req.csv",
            &["--resume", rq, "--report", q],
        );
        assert_eq!(c, 1, "{e}");
        assert_eq!(outcomes(&w.report(q)), ["skipped", "invalid", "skipped"]);
    }
    assert_eq!(sim.writes(), 0, "nothing twice");
}
