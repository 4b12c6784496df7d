//! The one transport: reads and writes share one retry loop, one worker
//! pool and one rule for an unreachable server; and generic stages say
//! what each job would do, not what adding accounts would.

use crate::common::rogue::{self, Rogue};
use crate::common::{Sim, TOKEN, Work, code, outcomes, stderr};

#[test]
fn skip_existing_against_a_server_whose_reads_all_fail_stops_like_writes_do() {
    // Every connection is cut before an answer: reads fail in transport.
    let server = Rogue::start("127.0.0.1", |_, _| rogue::Reply::Hangup);
    let w = Work::new();
    let mut csv = String::from("RESOURCEID,ACCOUNTNAME\n");
    for i in 0..40 {
        csv.push_str(&format!("{},a{i}\n", 900 + i));
    }
    w.write("in.csv", &csv);
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--server", &server.url])
        .args(["--skip-existing", "--concurrency", "4", "--retries", "1"])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("unreachable"), "{}", stderr(&out));
    // Two times --concurrency requests in a row failed (each with its one
    // retry), then it stopped; the workers in flight finish theirs.
    let seen = server.requests();
    assert!(seen.iter().all(|r| r.method == "GET"), "nothing written");
    assert!(seen.len() <= (8 + 4) * 2, "{} reads", seen.len());
    assert!(
        outcomes(&w.report("in.report.csv"))
            .iter()
            .all(|o| o == "not_sent")
    );
}

#[test]
fn a_live_plan_of_password_requests_says_what_they_would_do() {
    let w = Work::new();
    w.write(
        "inv.csv",
        "RESOURCENAME,RESOURCEID,ACCOUNTNAME,ACCOUNTID\nweb-01,902,root,5001\n",
    );
    let sim = Sim::start(&["--inventory", w.path("inv.csv").to_str().unwrap()]);
    w.write(
        "req.csv",
        "RESOURCENAME,ACCOUNTNAME,REASON\nweb-01,root,audit\nweb-01,nobody,audit\n",
    );
    let out = w
        .job(&sim, "request-passwords", "req.csv")
        .args(["--dry-run=server", "--strict"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let rows = w.report("req.plan.report.csv");
    assert_eq!(outcomes(&rows), ["not_sent", "invalid"]);
    assert!(
        rows[0]["message"].ends_with("would be requested"),
        "{rows:?}"
    );
    let all = format!("{rows:?}{}", stderr(&out));
    assert!(!all.contains("would be added"), "{all}");
    assert_eq!(sim.writes(), 0);
}

#[test]
fn rate_auto_follows_a_server_that_slows_down_and_loses_nothing() {
    // 40 requests a second, then 10 after the 100th request.
    let sim = Sim::start(&["--capacity", "40", "--capacity-drop", "100:10"]);
    let w = Work::new();
    let mut csv = String::from("RESOURCEID,ACCOUNTNAME\n");
    for i in 0..150 {
        csv.push_str(&format!("{},a{i}\n", 900 + i % 10));
    }
    w.write("in.csv", &csv);
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--server", &sim.url])
        .args(["--rate", "auto", "--concurrency", "32", "--chunk-size", "1"])
        .args(["--summary-json", "s.json", "-v"])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let state = sim.state();
    let after = state["overloaded_after_drop"].as_u64().unwrap();
    assert!(after < 20, "{after} requests answered 503 after the drop");
    // Nothing lost, nothing twice.
    assert_eq!(sim.accounts().len(), 150);
    assert!(
        outcomes(&w.report("in.report.csv"))
            .iter()
            .all(|o| o == "added")
    );
    // Each change is logged with its reason; the summary says where it
    // settled.
    let err = stderr(&out);
    assert!(err.contains("--rate auto: down to"), "{err}");
    assert!(err.contains("rate settled at"), "{err}");
    let s: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    assert!(s["rate"].as_f64().unwrap() > 0.0, "{s}");
}
