//! Trust: no secret leaves, no row is lost, nothing is done twice, under the
//! failures found by trying to break the tool. Each test is named after the
//! defect it pins; misbehaving servers are small scripted servers on
//! 127.0.0.1 (`tests/it/common/rogue.rs`), the simulator stays a faithful PAM360.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::rogue::{self, Rogue, http};
use crate::common::{Sim, TOKEN, Work, code, outcomes, stderr};

/// A 30-character password holding every character that changes between
/// spellings (HTML, URL, JSON).
const PW: &str = "Zq&<>\"'+=% x7Lm9Kp2Wv4Tn6Rb8Hy";

/// Every spelling of `secret` a careless server or client might write, and
/// every 8-character piece of each.
fn spellings(secret: &str) -> Vec<String> {
    let html = secret
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    let html_x = html.replace("&#39;", "&#x27;");
    let form: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let pct = form.replace('+', "%20");
    let json = serde_json::to_string(secret).unwrap();
    let json = json.trim_matches('"').to_string();
    let form_json: String = form_urlencoded::byte_serialize(json.as_bytes()).collect();
    let html_json = json
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let whole = [
        secret.to_string(),
        html,
        html_x,
        form,
        pct,
        json,
        form_json,
        html_json,
    ];
    let mut out: Vec<String> = whole.to_vec();
    for s in &whole {
        let chars: Vec<char> = s.chars().collect();
        for w in chars.windows(8) {
            out.push(w.iter().collect());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Fails naming the place and spelling if any output holds the secret.
fn assert_no_secret(texts: &[(&str, &str)], secret: &str) {
    let all = spellings(secret);
    for (place, text) in texts {
        for s in &all {
            assert!(
                !text.contains(s.as_str()),
                "{place} holds a spelling of the secret ({s:?}):\n{text}"
            );
        }
    }
}

/// stdout, stderr, report, journal and summary of a finished run.
fn outputs(w: &Work, out: &std::process::Output) -> Vec<(&'static str, String)> {
    let read = |name: &str| std::fs::read_to_string(w.path(name)).unwrap_or_default();
    vec![
        ("stdout", String::from_utf8_lossy(&out.stdout).into_owned()),
        ("stderr", String::from_utf8_lossy(&out.stderr).into_owned()),
        ("report", read("in.report.csv")),
        ("journal", read("in.report.csv.partial")),
        ("summary", read("summary.json")),
    ]
}

fn check_outputs(w: &Work, out: &std::process::Output, secret: &str) {
    let texts = outputs(w, out);
    let refs: Vec<(&str, &str)> = texts.iter().map(|(p, t)| (*p, t.as_str())).collect();
    assert_no_secret(&refs, secret);
}

/// One account with the test password, against `url`, at -vv.
fn run_one(w: &Work, url: &str, extra: &[&str]) -> std::process::Output {
    w.write(
        "in.csv",
        &format!(
            "RESOURCEID,ACCOUNTNAME,PASSWORD\n901,svc,\"{}\"\n",
            PW.replace('"', "\"\"")
        ),
    );
    w.cmd()
        .args(["add-accounts", "in.csv", "--server", url, "--rate", "1000"])
        .args(["-vv", "--summary-json", "summary.json"])
        .args(extra)
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .unwrap()
}

/// The binary with these arguments, in `w`, no PAM360 settings inherited.
fn bin(w: &Work, args: &[&str]) -> std::process::Output {
    w.cmd().args(args).output().unwrap()
}

#[test]
fn redirect_to_another_host_is_never_followed_and_stops_the_run() {
    let elsewhere = Rogue::start("127.0.0.2", |_, r| {
        rogue::accounts_answer(r, "Account added successfully")
    });
    let location = format!("{}/restapi/json/v1/resources/901/accounts", elsewhere.url);
    let redirecting = Rogue::start("127.0.0.1", move |_, _| {
        http(307, &[("Location", location.as_str())], b"")
    });
    let w = Work::new();
    let out = run_one(&w, &redirecting.url, &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        elsewhere.requests().is_empty(),
        "the token and the password went to the redirect's target"
    );
    assert_eq!(redirecting.requests().len(), 1, "a redirect is not retried");
    assert_eq!(outcomes(&w.report("in.report.csv")), ["not_sent"]);
    assert!(
        stderr(&out).contains("127.0.0.2"),
        "the Location is named: {}",
        stderr(&out)
    );
    check_outputs(&w, &out, PW);
}

#[test]
fn html_error_page_echoing_the_request_never_reaches_report_or_log() {
    // An HTML 500 page that quotes the request in every spelling, long
    // enough that a 200-character cut lands inside a password.
    let server = Rogue::start("127.0.0.1", |_, r| {
        let body = String::from_utf8_lossy(&r.body).into_owned();
        let decoded = r.input_data();
        let escaped = decoded
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;");
        let page = format!(
            "<html><body><h1>500</h1><p>{}</p><pre>{escaped}</pre><pre>{body}</pre><p>{decoded}</p></body></html>",
            "x".repeat(150)
        );
        http(500, &[("Content-Type", "text/html")], page.as_bytes())
    });
    let w = Work::new();
    let out = run_one(&w, &server.url, &["--retries", "0"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["failed"]);
    assert_eq!(rows[0]["http_status"], "500");
    assert!(
        rows[0]["message"].contains("text/html"),
        "{}",
        rows[0]["message"]
    );
    check_outputs(&w, &out, PW);
}

#[test]
fn json_message_echoing_the_password_is_masked_before_it_is_cut() {
    // A JSON refusal that quotes the password at the point where a cut of
    // the text would fall, in raw, JSON-escaped and form spellings.
    let server = Rogue::start("127.0.0.1", |_, r| {
        let data = r.input_data();
        let form: String = form_urlencoded::byte_serialize(data.as_bytes()).collect();
        // And a piece of it, as a server that cuts what it echoes shows.
        let message = format!("{} {data} {form} {PW} {}", "y".repeat(190), &PW[..20]);
        rogue::json(serde_json::json!({"operation": {
            "result": {"status": "Failed", "message": message},
            "Details": {"svc": {"STATUS": format!("Not added: password {PW} rejected ({}...)", &PW[..20])}},
        }}))
    });
    let w = Work::new();
    let out = run_one(&w, &server.url, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(outcomes(&w.report("in.report.csv")), ["failed"]);
    check_outputs(&w, &out, PW);
}

#[test]
fn gzip_answer_puts_no_binary_bytes_in_the_report() {
    let gz: Vec<u8> = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xfe, 0x00, 0x01];
    let server = Rogue::start("127.0.0.1", move |_, _| {
        http(200, &[("Content-Type", "application/octet-stream")], &gz)
    });
    let w = Work::new();
    let out = run_one(&w, &server.url, &["--retries", "0"]);
    let report = w.read("in.report.csv");
    assert!(
        !report.contains('\u{1f}') && !report.contains('\u{fffd}') && !report.contains('\0'),
        "binary bytes in the report: {report:?}"
    );
    assert!(report.contains("application/octet-stream"), "{report}");
    check_outputs(&w, &out, PW);
}

fn status_run(status: &'static str) -> String {
    let server = Rogue::start("127.0.0.1", move |_, r| rogue::accounts_answer(r, status));
    let w = Work::new();
    let out = run_one(&w, &server.url, &[]);
    assert!(code(&out) <= 1, "{}", stderr(&out));
    w.report("in.report.csv")[0]["outcome"].clone()
}

#[test]
fn status_words_of_failure_never_read_as_added_or_exists() {
    for (status, want) in [
        ("Account addition unsuccessful", "failed"),
        ("Not successful", "failed"),
        ("Account added successfully", "added"),
        ("Account is not added  as it already exists", "exists"),
        (
            "Password does not conform to policy: duplicate characters not allowed",
            "failed",
        ),
        ("Duplicate account name", "failed"),
        ("Error: account added partially", "failed"),
        ("Something new from the server", "failed"),
        ("ADDED", "added"),
    ] {
        assert_eq!(status_run(status), want, "STATUS {status:?}");
    }
}

#[test]
fn password_request_answered_by_an_html_500_is_unconfirmed_not_failed() {
    let server = Rogue::start("127.0.0.1", |_, _| {
        http(
            500,
            &[("Content-Type", "text/html")],
            b"<html>Internal error</html>",
        )
    });
    let w = Work::new();
    w.write("in.csv", "ACCOUNTID,REASON\n5001,audit\n");
    let out = w
        .cmd()
        .args(["request-passwords", "in.csv", "--server", &server.url])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["unconfirmed"]);
    assert_eq!(rows[0]["http_status"], "500");
    assert_eq!(
        server.requests().len(),
        1,
        "a request that reached the server is not retried"
    );
}

#[test]
fn huge_retry_after_does_not_panic() {
    let n = Arc::new(AtomicUsize::new(0));
    let seen = n.clone();
    let server = Rogue::start("127.0.0.1", move |_, r| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            http(429, &[("Retry-After", "1e20")], b"")
        } else {
            rogue::accounts_answer(r, "Account added successfully")
        }
    });
    let w = Work::new();
    // The wait is capped, then cut short by what is left of --max-throttle.
    let began = std::time::Instant::now();
    let out = run_one(&w, &server.url, &["--max-throttle", "2"]);
    assert!(!stderr(&out).contains("internal error"), "{}", stderr(&out));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        began.elapsed().as_secs() < 60,
        "waited {:?}",
        began.elapsed()
    );
    assert!(!w.path("in.report.csv.partial").exists());
    assert_eq!(w.report("in.report.csv").len(), 1);
}

#[test]
fn retry_after_as_an_http_date_is_understood() {
    let n = Arc::new(AtomicUsize::new(0));
    let seen = n.clone();
    let server = Rogue::start("127.0.0.1", move |_, r| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            http(
                429,
                &[("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")],
                b"",
            )
        } else {
            rogue::accounts_answer(r, "Account added successfully")
        }
    });
    let w = Work::new();
    let out = run_one(&w, &server.url, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(outcomes(&w.report("in.report.csv")), ["added"]);
}

#[test]
fn option_values_out_of_range_are_refused_not_panics() {
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    for args in [
        ["--timeout", "1e20"],
        ["--max-throttle", "1e20"],
        ["--rate", "1e10"],
        ["--rate", "0.0001"],
        ["--chunk-size", "1001"],
        ["--concurrency", "257"],
        ["--retries", "101"],
        ["--timeout", "NaN"],
    ] {
        let out = w
            .cmd()
            .args(["add-accounts", "in.csv", "--simulate"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("internal error"), "{args:?}");
        assert!(stderr(&out).contains(args[0]), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn html_login_page_on_every_request_stops_the_run() {
    let server = Rogue::start("127.0.0.1", |_, _| {
        http(
            200,
            &[("Content-Type", "text/html")],
            b"<html><form>Login</form></html>",
        )
    });
    let w = Work::new();
    let mut csv = String::from("RESOURCEID,ACCOUNTNAME,PASSWORD\n");
    for i in 0..40 {
        csv.push_str(&format!("{},a{i},pw\n", 900 + i));
    }
    w.write("in.csv", &csv);
    let out = w
        .cmd()
        .args([
            "add-accounts",
            "in.csv",
            "--server",
            &server.url,
            "--rate",
            "1000",
        ])
        .args(["--retries", "1", "--concurrency", "2"])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let rows = w.report("in.report.csv");
    assert_eq!(rows.len(), 40);
    assert!(
        server.requests().len() < 40,
        "{} requests to a login page",
        server.requests().len()
    );
    assert!(rows.iter().any(|r| r["outcome"] == "not_sent"));
}

#[test]
fn the_simulator_refuses_to_listen_beyond_loopback() {
    let w = Work::new();
    let out = bin(&w, &["simulate", "--listen", "0.0.0.0:0", "--token", TOKEN]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("loopback"), "{}", stderr(&out));
}

#[test]
fn simulator_inspection_path_needs_the_token() {
    let sim = Sim::start(&[]);
    let body = crate::common::http_client()
        .get(format!("{}/simulator/state", sim.url))
        .send()
        .unwrap();
    assert_ne!(body.status().as_u16(), 200);
    assert!(sim.state()["accounts"].is_array());
}

#[test]
fn stray_quote_swallowing_the_rows_after_it_refuses_the_file() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME,PASSWORD\n901,a,pw1\n901,b,\"Xy12\n901,c,pw3\n901,d,pw4\n",
    );
    let out = w.job(&sim, "add-accounts", "in.csv").output().unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("row 3"), "{}", stderr(&out));
    assert!(sim.accounts().is_empty(), "nothing is sent");
}

#[test]
fn line_break_in_a_password_makes_its_row_invalid() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME,PASSWORD,NOTES\n901,a,pw1,\"two\nlines\"\n901,b,\"Xy12\n901,c,pw3\",n\n901,d,pw4,\n",
    );
    let out = w.job(&sim, "add-accounts", "in.csv").output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["added", "invalid", "added"]);
    assert_eq!(rows[1]["row"], "3");
    assert!(
        rows[1]["message"].contains("quote left open"),
        "{}",
        rows[1]["message"]
    );
    assert_eq!(rows[2]["row"], "4");
    assert_eq!(sim.account("a")["NOTES"], "two\nlines");
}

#[test]
fn bad_utf8_is_reported_at_the_row_a_spreadsheet_shows() {
    let w = Work::new();
    for (data, row) in [
        (
            &b"RESOURCEID,ACCOUNTNAME\r\n901,a\r\n901,b\r\n901,\xff\r\n"[..],
            "row 4",
        ),
        (
            &b"RESOURCEID,ACCOUNTNAME\n901,a\n\n\n901,\xff\n"[..],
            "row 5",
        ),
        (
            &b"RESOURCEID,NOTES,ACCOUNTNAME\n901,\"x\ny\",a\n901,n,\xff\n"[..],
            "row 3",
        ),
    ] {
        std::fs::write(w.path("in.csv"), data).unwrap();
        let out = bin(&w, &["add-accounts", "in.csv", "--dry-run"]);
        assert_eq!(code(&out), 2);
        assert!(stderr(&out).contains(row), "{row}: {}", stderr(&out));
    }
}

/// Runs request-passwords against `sim` with extra arguments.
fn requests_run(w: &Work, sim: &Sim, extra: &[&str]) -> std::process::Output {
    w.job(sim, "request-passwords", "in.csv")
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn resume_does_not_raise_a_request_again_when_a_default_is_spelt_out() {
    let sim = Sim::start(&["--any-account"]);
    let w = Work::new();
    w.write(
        "in.csv",
        "ACCOUNTID,ACCESS,REASON\n901,,audit\n902,,audit\n",
    );
    let out = requests_run(&w, &sim, &["--org", "Acme"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sim.requests().len(), 2);
    // The same requests, with the default written out and the org in
    // another case: nothing is raised again.
    w.write(
        "in.csv",
        "ACCOUNTID,ACCESS,REASON\n901,now,audit\n902,NOW,audit\n",
    );
    let out = requests_run(
        &w,
        &sim,
        &[
            "--org",
            "ACME",
            "--resume",
            "in.report.csv",
            "--report",
            "second.csv",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(outcomes(&w.report("second.csv")), ["skipped", "skipped"]);
    assert_eq!(sim.requests().len(), 2, "a request was raised twice");
}

#[test]
fn a_default_spelt_out_and_an_nfd_name_are_duplicates() {
    let w = Work::new();
    w.write(
        "in.csv",
        "ACCOUNTID,ACCESS,REASON,ORGNAME\n901,,audit,Acme\n901,now,audit,ACME\n",
    );
    let out = bin(&w, &["request-passwords", "in.csv", "--dry-run"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let rows = w.report("in.dry-run.report.csv");
    assert_eq!(
        rows[1]["message"],
        "duplicate of row 2 (row 2 is kept; this row differs in ACCESS)"
    );

    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME\n901,jose\u{301}\n901,JOSÉ\n",
    );
    let out = bin(&w, &["add-accounts", "in.csv", "--dry-run"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let rows = w.report("in.dry-run.report.csv");
    assert_eq!(
        rows[1]["message"],
        "duplicate of row 2 (row 2 is kept; this row differs in ACCOUNTNAME)"
    );
}

#[test]
fn resume_of_an_nfd_name_against_an_nfc_report_skips_it() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,Jos\u{e9}\n");
    assert_eq!(
        code(&w.job(&sim, "add-accounts", "in.csv").output().unwrap()),
        0
    );
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,jose\u{301}\n");
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .args(["--resume", "in.report.csv", "--report", "second.csv"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(outcomes(&w.report("second.csv")), ["skipped"]);
}

#[test]
fn resume_refuses_what_it_cannot_read_whole() {
    let sim = Sim::start(&["--any-account"]);
    let w = Work::new();
    w.write("in.csv", "ACCOUNTID,REASON\n901,a\n902,b\n903,c\n");
    let header =
        "row,org,account_id,access,starttime,endtime,outcome,status,http_status,attempts,message\n";
    // An undecodable line in the middle: the rows after it would be resent.
    let mut bad = header.as_bytes().to_vec();
    bad.extend_from_slice(b"2,,901,,,,requested,,200,1,caf\xe9\n3,,902,,,,requested,,200,1,\n");
    std::fs::write(w.path("cp1252.csv"), &bad).unwrap();
    // An outcome word that is not ours.
    w.write("done.csv", &format!("{header}2,,901,,,,Done,,200,1,\n"));
    // The other job's report.
    w.write(
        "accounts.csv",
        "row,org,resource_id,account_name,outcome,status,http_status,attempts,message\n2,,901,a,added,,200,1,\n",
    );
    // The other job's JSONL report.
    w.write(
        "accounts.jsonl",
        "{\"row\":2,\"org\":\"\",\"resource_id\":\"901\",\"account_name\":\"a\",\"outcome\":\"added\",\"status\":\"\",\"http_status\":200,\"attempts\":1,\"message\":\"\"}\n",
    );
    for (file, says) in [
        ("cp1252.csv", "line 2"),
        ("done.csv", "\"Done\""),
        ("accounts.csv", "not a report of this job"),
        ("accounts.jsonl", "not a report of this job"),
    ] {
        let out = requests_run(&w, &sim, &["--resume", file, "--report", "out.csv"]);
        assert_eq!(code(&out), 2, "{file}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{file}: {}", stderr(&out));
    }
    assert!(sim.requests().is_empty());
    // An outcome word in another case is ours.
    w.write(
        "cased.csv",
        &format!("{header}2,,901,,,,Requested,,200,1,\n"),
    );
    let out = requests_run(&w, &sim, &["--resume", "cased.csv", "--report", "out.csv"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        outcomes(&w.report("out.csv")),
        ["skipped", "requested", "requested"]
    );
    assert_eq!(sim.requests().len(), 2);
}

#[test]
fn summary_json_into_a_missing_folder_is_refused_before_anything_is_sent() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .args(["--summary-json", "missing/summary.json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert!(sim.accounts().is_empty());
    assert!(!w.path("in.report.csv.partial").exists());

    std::fs::create_dir(w.path("folder.csv")).unwrap();
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .args(["--report", "folder.csv"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("is a folder"), "{}", stderr(&out));
    assert!(sim.accounts().is_empty());
}

#[test]
fn an_output_that_fails_after_sending_exits_3_and_keeps_the_journal() {
    // Slow answers keep the run going while the test takes the name away.
    let sim = Sim::start(&["--latency-ms", "1500"]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n901,b\n");
    // The summary's name is taken by a folder created once the run checked
    // its outputs: it cannot be written after the accounts are stored.
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_pam360-bulk"))
        .current_dir(w.dir.path())
        .args(["add-accounts", "in.csv", "--server", &sim.url])
        .args(["--rate", "1", "--summary-json", "late.json"])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(crate::common::wait_for(
        std::time::Duration::from_secs(20),
        || w.path("in.report.csv.partial").exists()
            && std::fs::metadata(w.path("in.report.csv.partial")).is_ok_and(|m| m.len() > 0)
    ));
    std::fs::create_dir(w.path("late.json")).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(sim.accounts().len(), 2);
    assert!(err.contains("--resume"), "{err}");
    assert_eq!(
        err.matches("cannot write --summary-json").count(),
        1,
        "{err}"
    );
    assert!(
        w.path("in.report.csv.partial").exists(),
        "the journal is kept"
    );
    // The next run finishes from the journal without sending again.
    std::fs::remove_dir(w.path("late.json")).unwrap();
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .args(["--resume", "in.report.csv.partial"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(outcomes(&w.report("in.report.csv")), ["skipped", "skipped"]);
}

#[test]
fn outputs_never_destroy_inputs() {
    let sim = Sim::start(&["--any-account"]);
    let w = Work::new();
    let inventory = "RESOURCEID,ACCOUNTNAME,PASSWORD\n901,a,secret-pw-1\n";
    w.write("in.csv", inventory);
    for args in [
        ["--report", "in.csv"],
        ["--summary-json", "in.csv"],
        ["--summary-json", "in.report.csv"],
    ] {
        let out = w
            .job(&sim, "add-accounts", "in.csv")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert_eq!(w.read("in.csv"), inventory, "{args:?} replaced the input");
    }
    assert!(sim.accounts().is_empty());

    // template -o refuses an existing file unless --force.
    let out = bin(&w, &["template", "accounts", "-o", "in.csv"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(w.read("in.csv"), inventory);
    let out = bin(&w, &["template", "accounts", "-o", "in.csv", "--force"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = bin(&w, &["template", "accounts", "--force"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));

    // A second request-passwords run into the same report refuses.
    w.write("req.csv", "ACCOUNTID,REASON\n901,audit\n");
    let run = || {
        w.job(&sim, "request-passwords", "req.csv")
            .output()
            .unwrap()
    };
    assert_eq!(code(&run()), 0);
    let out = run();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("--resume"), "{}", stderr(&out));
    assert_eq!(sim.requests().len(), 1, "every request was raised again");
    let out = w
        .job(&sim, "request-passwords", "req.csv")
        .arg("--overwrite")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sim.requests().len(), 2);
}

#[test]
fn two_runs_on_one_journal_the_second_exits_2() {
    let sim = Sim::start(&["--any-account", "--latency-ms", "50"]);
    let w = Work::new();
    let mut csv = String::from("ACCOUNTID,REASON\n");
    for i in 0..60 {
        csv.push_str(&format!("{},r\n", 1000 + i));
    }
    w.write("in.csv", &csv);
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_pam360-bulk"))
        .current_dir(w.dir.path())
        .args(["request-passwords", "in.csv", "--server", &sim.url])
        .args(["--rate", "20", "--concurrency", "1"])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(crate::common::wait_for(
        std::time::Duration::from_secs(20),
        || {
            std::fs::read_to_string(w.path("in.report.csv.partial"))
                .is_ok_and(|t| t.contains("requested"))
        }
    ));
    let out = w
        .job(&sim, "request-passwords", "in.csv")
        .args(["--resume", "in.report.csv.partial"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("locked"), "{}", stderr(&out));
    assert_eq!(first.wait().unwrap().code(), Some(0));
    assert_eq!(sim.requests().len(), 60, "a request was raised twice");
}

/// The binary with writes limited to `blocks` × 512 bytes per file, as a
/// full disk would: writes past it fail (EFBIG, SIGXFSZ ignored).
fn limited(w: &Work, blocks: u32, args: &[&str]) -> std::process::Output {
    std::process::Command::new("sh")
        .current_dir(w.dir.path())
        .arg("-c")
        .arg(format!("ulimit -f {blocks}; trap '' XFSZ; exec \"$@\""))
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_pam360-bulk"))
        .args(args)
        .env("PAM360_AUTHTOKEN", TOKEN)
        .env_remove("PAM360_URL")
        .output()
        .unwrap()
}

#[test]
fn disk_full_never_raises_a_request_the_journal_does_not_know() {
    let sim = Sim::start(&["--any-account"]);
    let w = Work::new();
    let mut csv = String::from("ACCOUNTID,REASON\n");
    for i in 0..80 {
        csv.push_str(&format!("{},reason {i}\n", 1000 + i));
    }
    w.write("in.csv", &csv);
    let out = limited(
        &w,
        8,
        &[
            "request-passwords",
            "in.csv",
            "--server",
            &sim.url,
            "--rate",
            "1000",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("--resume"), "{err}");
    assert_eq!(err.matches("cannot write the journal").count(), 1, "{err}");
    let raised = sim.requests().len();
    assert!(raised > 0 && raised < 80, "{raised} raised");
    let journal = w.read("in.report.csv.partial");
    let known: std::collections::HashSet<&str> = journal
        .lines()
        .skip(1)
        .filter(|l| l.contains(",in_flight,") || l.contains(",requested,"))
        .filter_map(|l| l.split(',').nth(2))
        .collect();
    for r in sim.requests() {
        let id = r["account_id"].to_string();
        assert!(
            known.contains(id.trim_matches('"')),
            "request {id} raised but not journaled"
        );
    }
    // Resuming from the journal raises each remaining request once.
    let out = w
        .job(&sim, "request-passwords", "in.csv")
        .args(["--resume", "in.report.csv.partial"])
        .output()
        .unwrap();
    assert!(code(&out) <= 1, "{}", stderr(&out));
    let mut ids: Vec<String> = sim
        .requests()
        .iter()
        .map(|r| r["account_id"].to_string())
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a request was raised twice");
    assert_eq!(w.report("in.report.csv").len(), 80);
}

#[test]
fn disk_full_while_adding_accounts_exits_3_and_says_how_to_resume() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    let mut csv = String::from("RESOURCEID,ACCOUNTNAME\n");
    for i in 0..400 {
        csv.push_str(&format!("{},acct{i}\n", 900 + i % 4));
    }
    w.write("in.csv", &csv);
    let out = limited(
        &w,
        8,
        &[
            "add-accounts",
            "in.csv",
            "--server",
            &sim.url,
            "--rate",
            "1000",
            "--chunk-size",
            "5",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(!err.contains("nothing was sent"), "{err}");
    assert!(err.contains("--resume"), "{err}");
    assert!(sim.accounts().len() < 400);
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .args(["--resume", "in.report.csv.partial"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sim.accounts().len(), 400);
    assert_eq!(w.report("in.report.csv").len(), 400);
}

#[test]
fn a_server_asking_for_a_client_certificate_is_reported_as_such() {
    let url = rogue::tls_demanding_a_client_certificate();
    let w = Work::new();
    let out = run_one(&w, &url, &["--insecure"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("client certificate"),
        "{}",
        stderr(&out)
    );
    assert_eq!(outcomes(&w.report("in.report.csv")), ["not_sent"]);
}

#[test]
fn ca_cert_that_holds_no_certificate_is_refused_at_start_up() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    w.write(
        "key.pem",
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    );
    std::fs::write(w.path("random.pem"), [0u8, 159, 146, 150, 7, 8]).unwrap();
    w.write("empty.pem", "");
    for file in ["key.pem", "random.pem", "empty.pem"] {
        let out = w
            .job(&sim, "add-accounts", "in.csv")
            .args(["--ca-cert", file])
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "{file}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(file) && stderr(&out).contains("no PEM certificate"),
            "{}",
            stderr(&out)
        );
    }
    assert!(sim.accounts().is_empty());
}

#[test]
fn a_cn_only_certificate_given_to_ca_cert_is_told_once_to_use_pin_sha256() {
    let w = Work::new();
    let (sim, _) = Sim::start_tls(&w.path("cert.pem"), true);
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .args(["--ca-cert", "cert.pem"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--pin-sha256"), "{err}");
    assert_eq!(
        err.matches("invalid peer certificate").count(),
        1,
        "the TLS error is said once: {err}"
    );
}

#[test]
fn token_file_with_a_bom_and_open_permissions() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    w.write("token.txt", &format!("\u{feff}{TOKEN}\r\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(w.path("token.txt"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
    }
    let out = bin(
        &w,
        &[
            "add-accounts",
            "in.csv",
            "--server",
            &sim.url,
            "--token-file",
            "token.txt",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    #[cfg(unix)]
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    assert_eq!(sim.accounts().len(), 1);
}

#[cfg(unix)]
fn signal(child: &std::process::Child, sig: &str) {
    std::process::Command::new("kill")
        .args(["-s", sig, &child.id().to_string()])
        .status()
        .unwrap();
}

#[cfg(unix)]
#[test]
fn a_signal_ends_a_run_whose_input_stalls() {
    use std::io::Write;
    let sim = Sim::start(&[]);
    let w = Work::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pam360-bulk"))
        .current_dir(w.dir.path())
        .args([
            "add-accounts",
            "-",
            "--report",
            "out.csv",
            "--server",
            &sim.url,
        ])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A header and a row, then the producer stalls without closing.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"RESOURCEID,ACCOUNTNAME\n901,a\n").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    signal(&child, "TERM");
    let began = std::time::Instant::now();
    let ended = crate::common::wait_for(std::time::Duration::from_secs(10), || {
        child.try_wait().unwrap().is_some()
    });
    assert!(ended, "still running after SIGTERM");
    assert!(began.elapsed().as_secs() < 5);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(sim.accounts().is_empty());
    assert!(
        !w.path("out.csv.partial").exists(),
        "no journal is left for a run that sent nothing"
    );
    drop(stdin);
}

#[cfg(unix)]
#[test]
fn a_second_signal_ends_the_process_at_once() {
    let sim = Sim::start(&["--latency-ms", "3000"]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pam360-bulk"))
        .current_dir(w.dir.path())
        .args([
            "add-accounts",
            "in.csv",
            "--server",
            &sim.url,
            "--timeout",
            "60",
        ])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(crate::common::wait_for(
        std::time::Duration::from_secs(10),
        || sim.received() > 0
    ));
    signal(&child, "INT");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first signal lets the request finish"
    );
    signal(&child, "INT");
    let ended = crate::common::wait_for(std::time::Duration::from_secs(2), || {
        child.try_wait().unwrap().is_some()
    });
    assert!(ended, "a second signal must end the process at once");
    assert!(
        w.path("in.report.csv.partial").exists(),
        "the journal says what was sent"
    );
}

#[cfg(unix)]
#[test]
fn a_dry_run_given_sigterm_exits_3() {
    use std::io::Write;
    let w = Work::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pam360-bulk"))
        .current_dir(w.dir.path())
        .args(["add-accounts", "-", "--report", "out.csv", "--dry-run"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"RESOURCEID,ACCOUNTNAME\n901,a\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    signal(&child, "TERM");
    assert!(crate::common::wait_for(
        std::time::Duration::from_secs(10),
        || { child.try_wait().unwrap().is_some() }
    ));
    assert_eq!(child.wait().unwrap().code(), Some(3));
    drop(stdin);
}

#[test]
fn nul_in_a_name_never_reaches_the_csv_report_raw_and_custom_without_label_is_refused() {
    let w = Work::new();
    std::fs::write(
        w.path("in.csv"),
        b"RESOURCEID,ACCOUNTNAME,ORGNAME\n901,a\x00b,\n901,c,Ac\x00me\n",
    )
    .unwrap();
    let out = bin(&w, &["add-accounts", "in.csv", "--dry-run"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = std::fs::read(w.path("in.dry-run.report.csv")).unwrap();
    assert!(!report.contains(&0u8), "a NUL byte in the report");
    assert_eq!(
        outcomes(&w.report("in.dry-run.report.csv")),
        ["invalid", "invalid"]
    );

    w.write("in.csv", "RESOURCEID,ACCOUNTNAME,CUSTOM:\n901,a,x\n");
    let out = bin(&w, &["add-accounts", "in.csv", "--dry-run"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("without a label"), "{}", stderr(&out));
}

/// An XLSX workbook whose sheets are given as (name, hidden, rows of text).
fn workbook(path: &std::path::Path, sheets: &[(&str, bool, &[&[&str]])]) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    for (name, hidden, rows) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                ws.write_string(r as u32, c as u16, *v).unwrap();
            }
        }
        if *hidden {
            ws.set_hidden(true);
        }
    }
    // A hidden sheet cannot be the active one.
    let active = sheets.iter().position(|s| !s.1).unwrap_or(0);
    wb.worksheet_from_index(active).unwrap().set_active(true);
    wb.save(path).unwrap();
}

#[test]
fn a_hidden_first_sheet_is_skipped_and_the_sheet_read_is_named() {
    let w = Work::new();
    workbook(
        &w.path("in.xlsx"),
        &[
            (
                "Old",
                true,
                &[&["RESOURCEID", "ACCOUNTNAME"], &["901", "stale"]],
            ),
            (
                "Current",
                false,
                &[&["RESOURCEID", "ACCOUNTNAME"], &["902", "fresh"]],
            ),
        ],
    );
    let out = bin(&w, &["add-accounts", "in.xlsx", "--dry-run"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = w.report("in.dry-run.report.csv");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["account_name"], "fresh");
    assert!(stderr(&out).contains("\"Current\""), "{}", stderr(&out));
}

#[test]
fn an_empty_first_sheet_names_the_sheets_that_have_data() {
    let w = Work::new();
    workbook(
        &w.path("in.xlsx"),
        &[
            ("Sheet1", false, &[]),
            (
                "Accounts",
                false,
                &[&["RESOURCEID", "ACCOUNTNAME"], &["902", "a"]],
            ),
        ],
    );
    let out = bin(&w, &["add-accounts", "in.xlsx", "--dry-run"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("\"Accounts\"") && stderr(&out).contains("--sheet"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_time_only_cell_is_not_a_date_in_1899() {
    let w = Work::new();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["ACCOUNTID", "ACCESS", "STARTTIME", "ENDTIME"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_number(1, 0, 901).unwrap();
    ws.write_string(1, 1, "later").unwrap();
    let time = rust_xlsxwriter::Format::new().set_num_format("h:mm");
    ws.write_number_with_format(1, 2, 10.0 / 24.0, &time)
        .unwrap();
    ws.write_number_with_format(1, 3, 11.0 / 24.0, &time)
        .unwrap();
    wb.save(w.path("in.xlsx")).unwrap();
    let out = bin(&w, &["request-passwords", "in.xlsx", "--dry-run"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let rows = w.report("in.dry-run.report.csv");
    assert_eq!(outcomes(&rows), ["invalid"]);
    assert!(
        !rows[0]["message"].contains("1899"),
        "{}",
        rows[0]["message"]
    );
    assert!(
        rows[0]["message"].contains("STARTTIME"),
        "{}",
        rows[0]["message"]
    );
}

#[test]
fn format_wins_and_misnamed_or_encrypted_workbooks_are_named() {
    let w = Work::new();
    // An OLE container as Excel writes for a password-protected workbook.
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.resize(512, 0);
    ole.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
    ole.resize(2048, 0);
    std::fs::write(w.path("locked.xlsx"), &ole).unwrap();
    let out = bin(&w, &["add-accounts", "locked.xlsx", "--dry-run"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("encrypted"), "{}", stderr(&out));
    // An .xls named .xlsx.
    let mut biff = ole[..8].to_vec();
    biff.resize(2048, 0);
    std::fs::write(w.path("old.xlsx"), &biff).unwrap();
    let out = bin(&w, &["add-accounts", "old.xlsx", "--dry-run"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains(".xls") && stderr(&out).contains("--format xls"),
        "{}",
        stderr(&out)
    );
    // --format wins over the name: a real XLSX named .ods.
    workbook(
        &w.path("real.ods"),
        &[("S", false, &[&["RESOURCEID", "ACCOUNTNAME"], &["901", "a"]])],
    );
    let out = bin(
        &w,
        &["add-accounts", "real.ods", "--format", "xlsx", "--dry-run"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn utf16_input_is_read_by_its_bom_and_named_without_one() {
    let w = Work::new();
    let text = "RESOURCEID,ACCOUNTNAME\r\n901,jos\u{e9}\r\n";
    let mut le = vec![0xFF, 0xFE];
    le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(w.path("in.csv"), &le).unwrap();
    let out = bin(&w, &["add-accounts", "in.csv", "--dry-run"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        w.report("in.dry-run.report.csv")[0]["account_name"],
        "jos\u{e9}"
    );
    let bare: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    std::fs::write(w.path("in.csv"), &bare).unwrap();
    let out = bin(&w, &["add-accounts", "in.csv", "--dry-run"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("utf-16le"), "{}", stderr(&out));
}

/// A minimal ODS file: `sheets` as (name, hidden, content of its rows as
/// raw `<table:table-row>` XML).
fn ods(path: &std::path::Path, sheets: &[(&str, bool, &str)]) {
    use std::io::Write;
    let mut tables = String::new();
    for (name, hidden, rows) in sheets {
        let style = if *hidden { "ta2" } else { "ta1" };
        tables.push_str(&format!(
            r#"<table:table table:name="{name}" table:style-name="{style}">{rows}</table:table>"#
        ));
    }
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:automatic-styles><style:style style:name="ta1" style:family="table"><style:table-properties table:display="true"/></style:style><style:style style:name="ta2" style:family="table"><style:table-properties table:display="false"/></style:style></office:automatic-styles><office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>"#
    );
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("mimetype", stored).unwrap();
    z.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    z.start_file("content.xml", stored).unwrap();
    z.write_all(content.as_bytes()).unwrap();
    z.start_file("META-INF/manifest.xml", stored).unwrap();
    z.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#).unwrap();
    z.finish().unwrap();
}

fn ods_row(cells: &[&str]) -> String {
    let mut r = String::from("<table:table-row>");
    for c in cells {
        r.push_str(&format!(
            r#"<table:table-cell office:value-type="string"><text:p>{c}</text:p></table:table-cell>"#
        ));
    }
    r + "</table:table-row>"
}

#[test]
fn ods_text_without_a_value_type_is_read_and_a_hidden_sheet_skipped() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    let header = ods_row(&["RESOURCEID", "ACCOUNTNAME", "PASSWORD"]);
    // The password cell has text and no office:value-type.
    let untyped = r#"<table:table-row><table:table-cell office:value-type="string"><text:p>901</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>svc</text:p></table:table-cell><table:table-cell><text:p>Pw&amp;untyped1</text:p></table:table-cell></table:table-row>"#;
    let stale = format!("{header}{}", ods_row(&["901", "stale", "x"]));
    let current = format!("{header}{untyped}");
    ods(
        &w.path("in.ods"),
        &[("Old", true, &stale), ("Now", false, &current)],
    );
    let out = w.job(&sim, "add-accounts", "in.ods").output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sim.accounts().len(), 1);
    assert_eq!(sim.account("svc")["PASSWORD"], "Pw&untyped1");
    // --format wins over the name.
    std::fs::copy(w.path("in.ods"), w.path("named.xlsx")).unwrap();
    let out = bin(
        &w,
        &["add-accounts", "named.xlsx", "--format", "ods", "--dry-run"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// An HTML page quoting the request in every spelling a server might use.
fn echo_page(r: &crate::common::rogue::Request) -> String {
    let body = String::from_utf8_lossy(&r.body).into_owned();
    let decoded = r.input_data();
    let escaped = decoded
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    format!(
        "<html><p>{}</p><pre>{escaped}</pre><pre>{body}</pre>{decoded}</html>",
        "x".repeat(150)
    )
}

/// An error page with this status that echoes the request.
fn echoing(status: u16, content_type: &str, r: &crate::common::rogue::Request) -> rogue::Reply {
    http(
        status,
        &[("Content-Type", content_type)],
        echo_page(r).as_bytes(),
    )
}

#[test]
fn no_spelling_of_a_password_leaves_under_any_server_misbehaviour() {
    type Script = fn(usize, &crate::common::rogue::Request) -> rogue::Reply;
    let cases: Vec<(&str, Script)> = vec![
        ("redirect", |_, r| {
            let to = format!("http://127.0.0.2:9/?{}", String::from_utf8_lossy(&r.body));
            http(302, &[("Location", to.as_str())], echo_page(r).as_bytes())
        }),
        ("html 500", |_, r| echoing(500, "text/html", r)),
        ("html 502", |_, r| echoing(502, "text/html", r)),
        ("html 200 login", |_, r| echoing(200, "text/html", r)),
        ("401 echo", |_, r| echoing(401, "text/plain", r)),
        ("429 echo", |n, r| {
            if n == 0 {
                http(429, &[("Retry-After", "0")], echo_page(r).as_bytes())
            } else {
                rogue::accounts_answer(r, "Account added successfully")
            }
        }),
        ("json echo", |_, r| {
            let data = r.input_data();
            rogue::json(serde_json::json!({"operation": {
                "name": "Authentication",
                "result": {"status": "Failed", "message": format!("bad request {data} {}", &PW[3..15])},
            }}))
        }),
        ("status echo", |_, r| {
            let data = r.input_data();
            rogue::json(serde_json::json!({"operation": {
                "result": {"status": "Success", "message": data},
                "Details": [{"svc": {"STATUS": format!("Account added successfully: {data}")}}],
            }}))
        }),
        ("hangup", |_, _| rogue::Reply::Hangup),
        ("gzip", |_, _| {
            http(
                200,
                &[("Content-Encoding", "gzip")],
                &[0x1f, 0x8b, 8, 0, 0xff],
            )
        }),
    ];
    for (name, script) in cases {
        let server = Rogue::start("127.0.0.1", script);
        let w = Work::new();
        let out = run_one(&w, &server.url, &["--retries", "1", "--max-throttle", "5"]);
        assert!(
            !stderr(&out).contains("internal error"),
            "{name}: {}",
            stderr(&out)
        );
        assert_eq!(w.report("in.report.csv").len(), 1, "{name}");
        let texts = outputs(&w, &out);
        let refs: Vec<(&str, &str)> = texts.iter().map(|(p, t)| (*p, t.as_str())).collect();
        for (place, text) in &refs {
            assert!(!text.contains(TOKEN), "{name}: the token is in {place}");
        }
        check_outputs(&w, &out, PW);
    }
}

#[test]
fn exists_after_a_503_does_not_claim_an_earlier_attempt_stored_it() {
    let server = Rogue::start("127.0.0.1", |n, r| {
        if n == 0 {
            http(503, &[], b"busy")
        } else {
            rogue::accounts_answer(r, "Account is not added  as it already exists")
        }
    });
    let w = Work::new();
    let out = run_one(&w, &server.url, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["exists"]);
    assert!(
        !rows[0]["message"].contains("earlier attempt"),
        "{}",
        rows[0]["message"]
    );
    // After a lost answer, it may well have been.
    let server = Rogue::start("127.0.0.1", |n, r| {
        if n == 0 {
            rogue::Reply::Hangup
        } else {
            rogue::accounts_answer(r, "Account is not added  as it already exists")
        }
    });
    let w = Work::new();
    run_one(&w, &server.url, &[]);
    assert!(w.report("in.report.csv")[0]["message"].contains("earlier attempt"));
}

#[test]
fn a_short_timeout_says_it_timed_out_not_unreachable() {
    let sim = Sim::start(&["--latency-ms", "200"]);
    let w = Work::new();
    let mut csv = String::from("RESOURCEID,ACCOUNTNAME\n");
    for i in 0..12 {
        csv.push_str(&format!("{},a{i}\n", 900 + i));
    }
    w.write("in.csv", &csv);
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .args(["--timeout", "0.05", "--retries", "0", "--concurrency", "1"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("did not answer in time"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("unreachable"), "{}", stderr(&out));
}

#[test]
fn the_simulator_as_a_target_checks_the_token_first_and_refuses_resource_0() {
    use std::io::{Read, Write};
    let sim = Sim::start(&[]);
    let addr = sim.url.trim_start_matches("http://").to_string();
    // A huge body announced without a token is answered at once, unread.
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    s.write_all(b"POST /restapi/json/v1/resources/901/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3221225472\r\n\r\nINPUT_DATA=").unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("Authentication failed"));
    // Over 16 MB with the token: refused.
    let client = crate::common::http_client();
    let big = "x".repeat(17 << 20);
    let r = client
        .post(format!(
            "{}/restapi/json/v1/resources/901/accounts",
            sim.url
        ))
        .header("AUTHTOKEN", TOKEN)
        .form(&[("INPUT_DATA", big.as_str())])
        .send();
    // Refused with 413, or cut off while still sending: either way not read.
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 413);
    }
    assert!(sim.accounts().is_empty(), "the simulator still answers");
    // Resource 0 does not exist in PAM360.
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n0,a\n");
    let out = w.job(&sim, "add-accounts", "in.csv").output().unwrap();
    assert_eq!(code(&out), 1);
    assert!(sim.accounts().is_empty());
}

#[test]
fn the_simulator_closes_a_slowloris_connection() {
    use std::io::{Read, Write};
    // The limit is settable so the test need not wait out the default 10 s.
    let sim = Sim::start(&["--slow-client-secs", "1"]);
    let addr = sim.url.trim_start_matches("http://").to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(b"POST /restapi/json/v1/resources/901/accounts HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let began = std::time::Instant::now();
    let mut buf = [0u8; 64];
    // The headers never finish: the simulator hangs up (0 bytes, or a 408).
    let _ = s.read(&mut buf);
    assert!(
        began.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
}

/// `--latency-ms` is the time to the answer with the simulator's own work
/// inside it: an add is stored at once and its answer held until the
/// latency is over (the work used to come after the wait, adding to it).
#[test]
fn the_simulators_latency_holds_an_answer_made_at_once() {
    use std::time::{Duration, Instant};
    let sim = Sim::start(&["--latency-ms", "1500"]);
    let url = format!("{}/restapi/json/v1/resources/901/accounts", sim.url);
    let sent = Instant::now();
    let add = std::thread::spawn(move || {
        let input =
            r#"{"operation":{"Details":{"ACCOUNTLIST":[{"ACCOUNTNAME":"held","PASSWORD":"p"}]}}}"#;
        crate::common::http_client()
            .post(url)
            .header("AUTHTOKEN", TOKEN)
            .form(&[("INPUT_DATA", input)])
            .send()
            .unwrap()
            .text()
            .unwrap()
    });
    let stored = crate::common::wait_for(Duration::from_secs(10), || !sim.accounts().is_empty());
    let stored_after = sent.elapsed();
    let answer = add.join().unwrap();
    let answered_after = sent.elapsed();
    assert!(
        stored && answer.contains("Account added successfully"),
        "{answer}"
    );
    assert!(
        stored_after < Duration::from_millis(1000),
        "stored after {stored_after:?}"
    );
    assert!(
        answered_after >= Duration::from_millis(1500),
        "answered after {answered_after:?}"
    );
}

#[test]
fn the_simulator_accepts_the_vendor_curl_samples_and_the_client_encodes_properly() {
    let sim = Sim::start(&["--any-account"]);
    let client = crate::common::http_client();
    // As the vendor page prints it: JSON content type, raw INPUT_DATA.
    let body = r#"INPUT_DATA={"operation":{"Details":{"ACCOUNTLIST":[{"ACCOUNTNAME":"bestest013","PASSWORD":"Pa$$ Word@124 ","ACCOUNTPASSWORDPOLICY":"Strong","TOTP_SECRET":"829 198","TOTP_DIGITS":"6"}]}}}"#;
    let r = client
        .post(format!(
            "{}/restapi/json/v1/resources/901/accounts",
            sim.url
        ))
        .header("AUTHTOKEN", TOKEN)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(r.contains("Account added successfully"), "{r}");
    assert_eq!(sim.account("bestest013")["PASSWORD"], "Pa$$ Word@124 ");
    let body = r#"INPUT_DATA={"operation":{"Details":{"REASON":"Testing","ACCESS":"later","STARTTIME":"09/01/2026 17:50","ENDTIME":"12/01/2026 17:50","REMINDERTIME":45,"RESOURCES_TO_BE_ACCESSED_OPTION":"3","SELECTED_RESOURCEIDS":["301","601"]}}}"#;
    let r = client
        .post(format!(
            "{}/restapi/json/v1/accounts/901/requestpassword",
            sim.url
        ))
        .header("AUTHTOKEN", TOKEN)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(r.contains("Waiting for Approval"), "{r}");
    assert_eq!(sim.state()["raw_bodies"], 2);
    // The client itself always sends proper form encoding.
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME,PASSWORD\n902,a,\"x&y+z=%\"\n",
    );
    assert_eq!(
        code(&w.job(&sim, "add-accounts", "in.csv").output().unwrap()),
        0
    );
    assert_eq!(sim.state()["raw_bodies"], 2);
}
