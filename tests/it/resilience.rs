//! Nothing lost, nothing added twice: kills, signals, dropped connections,
//! 503s, throttling and a server that goes away, through the binary against
//! the simulator.

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{Sim, TOKEN, Work, outcomes, read_report, wait_for};

/// `n` accounts over `resources` resources.
fn inventory(n: usize, resources: usize) -> String {
    let mut s = String::from("RESOURCEID,ACCOUNTNAME,PASSWORD\n");
    for i in 0..n {
        s.push_str(&format!("{},acct{i:05},pw{i}&x\n", 900 + i % resources));
    }
    s
}

fn count(rows: &[HashMap<String, String>], outcome: &str) -> usize {
    rows.iter().filter(|r| r["outcome"] == outcome).count()
}

/// Every stored account is stored once, and there are `n` of them.
fn assert_stored_once(sims: &[&Sim], n: usize) {
    let mut names = HashSet::new();
    for sim in sims {
        for a in sim.accounts() {
            let name = a["fields"]["ACCOUNTNAME"].as_str().unwrap().to_string();
            assert!(names.insert(name.clone()), "{name} stored twice");
        }
    }
    assert_eq!(names.len(), n);
}

/// The binary as a child process, for kills and signals.
fn spawn(w: &Work, sim: &Sim, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_pam360-bulk"))
        .current_dir(w.dir.path())
        .args(["add-accounts", "in.csv", "--server", &sim.url])
        .args(args)
        .env("PAM360_AUTHTOKEN", TOKEN)
        .env_remove("PAM360_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Lines of the journal that record an answer.
fn answered_in_journal(w: &Work) -> usize {
    std::fs::read_to_string(w.path("in.report.csv.partial"))
        .map(|t| t.lines().filter(|l| l.contains(",added,")).count())
        .unwrap_or(0)
}

/// Starts a run and returns once its journal shows `answered` accounts added.
fn spawn_until_answered(
    w: &Work,
    sim: &Sim,
    args: &[&str],
    answered: usize,
) -> std::process::Child {
    let child = spawn(w, sim, args);
    let progressed = || answered_in_journal(w) >= answered;
    assert!(wait_for(Duration::from_secs(30), progressed), "no progress");
    child
}

#[test]
fn kill_9_mid_run_then_resume_of_the_partial_stores_every_account_once() {
    let sim = Sim::start(&["--latency-ms", "30"]);
    let w = Work::new();
    w.write("in.csv", &inventory(400, 8));
    let mut child = spawn_until_answered(
        &w,
        &sim,
        &["--chunk-size", "5", "--rate", "40", "--concurrency", "2"],
        50,
    );
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    assert!(w.path("in.report.csv.partial").exists());
    assert!(!w.path("in.report.csv").exists());
    let stored_before = sim.accounts().len();
    assert!(stored_before < 400, "the run finished before the kill");

    // Without --resume, the journal is not overwritten.
    w.job(&sim, "add-accounts", "in.csv")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--resume in.report.csv.partial"));

    let received_before = sim.received();
    w.job(&sim, "add-accounts", "in.csv")
        .args(["--resume", "in.report.csv.partial", "--chunk-size", "5"])
        .assert()
        .success();
    let rows = w.report("in.report.csv");
    assert_eq!(rows.len(), 400);
    assert!(!w.path("in.report.csv.partial").exists());
    // Rows the first run confirmed are skipped; rows in flight at the kill
    // come back `exists` or `added`; nothing else is sent again.
    let skipped = count(&rows, "skipped");
    assert!(skipped >= 50, "{skipped} skipped");
    assert_eq!(
        skipped + count(&rows, "added") + count(&rows, "exists"),
        400
    );
    assert!(skipped <= stored_before);
    // The second run sends exactly the requests its plan needs for the rows
    // not skipped: per resource, ceil(rows / chunk size).
    let mut per_resource: HashMap<String, usize> = HashMap::new();
    for r in rows.iter().filter(|r| r["outcome"] != "skipped") {
        *per_resource.entry(r["resource_id"].clone()).or_default() += 1;
    }
    let planned: usize = per_resource.values().map(|n| n.div_ceil(5)).sum();
    assert_eq!((sim.received() - received_before) as usize, planned);
    assert_stored_once(&[&sim], 400);
}

/// SIGINT and SIGTERM: what is in flight finishes, the rest is `not_sent`.
fn signal_stops_the_run(signal: &str) {
    let sim = Sim::start(&["--latency-ms", "50"]);
    let w = Work::new();
    w.write("in.csv", &inventory(300, 3));
    let mut child = spawn_until_answered(
        &w,
        &sim,
        &["--chunk-size", "5", "--rate", "20", "--concurrency", "2"],
        20,
    );
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(3));
    let rows = w.report("in.report.csv");
    assert_eq!(rows.len(), 300);
    let added = count(&rows, "added");
    assert!(added >= 20);
    assert_eq!(
        added + count(&rows, "not_sent"),
        300,
        "{:?}",
        outcomes(&rows)
    );
    // What the report says was added is exactly what the server holds.
    assert_eq!(sim.accounts().len(), added);
    assert!(!w.path("in.report.csv.partial").exists());
    let stop = rows.iter().find(|r| r["outcome"] == "not_sent").unwrap();
    assert!(
        stop["message"].contains("interrupted"),
        "{}",
        stop["message"]
    );
}

#[test]
fn sigterm_finishes_what_is_in_flight_and_exits_3_with_a_complete_report() {
    signal_stops_the_run("-TERM");
}

#[test]
fn sigint_finishes_what_is_in_flight_and_exits_3_with_a_complete_report() {
    signal_stops_the_run("-INT");
}

#[test]
fn drops_before_and_after_storing_and_503s_lose_nothing_and_add_nothing_twice() {
    let sim = Sim::start(&[
        "--drop-before",
        "0.05",
        "--drop-after",
        "0.05",
        "--error-share",
        "0.05",
    ]);
    let w = Work::new();
    w.write("in.csv", &inventory(2000, 40));
    w.job(&sim, "add-accounts", "in.csv")
        .args(["--chunk-size", "10", "--concurrency", "8", "--retries", "8"])
        .assert()
        .success();
    let rows = w.report("in.report.csv");
    assert_eq!(rows.len(), 2000);
    assert_eq!(count(&rows, "added") + count(&rows, "exists"), 2000);
    // `exists` only ever comes from a retry whose first attempt was stored.
    for r in rows.iter().filter(|r| r["outcome"] == "exists") {
        assert!(r["attempts"].parse::<u32>().unwrap() > 1, "{r:?}");
        assert!(r["message"].contains("earlier attempt"), "{r:?}");
    }
    assert!(count(&rows, "exists") > 0, "no drop after storing happened");
    assert_stored_once(&[&sim], 2000);
}

#[test]
fn a_10_per_second_server_and_a_50_per_second_run_still_finish_everything() {
    let sim = Sim::start(&["--rate-limit", "10"]);
    let w = Work::new();
    w.write("in.csv", &inventory(400, 4));
    w.cmd()
        .args([
            "add-accounts",
            "in.csv",
            "--server",
            &sim.url,
            "--rate",
            "50",
            "--chunk-size",
            "10",
        ])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .assert()
        .success();
    let rows = w.report("in.report.csv");
    assert_eq!(count(&rows, "added"), 400);
    assert_stored_once(&[&sim], 400);
}

#[test]
fn no_one_second_window_sees_more_than_the_rate() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", &inventory(24, 24));
    w.cmd()
        .args([
            "add-accounts",
            "in.csv",
            "--server",
            &sim.url,
            "--rate",
            "8",
            "--concurrency",
            "8",
        ])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .assert()
        .success();
    let mut arrivals: Vec<f64> = sim.state()["arrivals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    arrivals.sort_by(f64::total_cmp);
    assert_eq!(arrivals.len(), 24);
    for (i, t) in arrivals.iter().enumerate() {
        // Judged where a server counts: arrivals in any one-second window.
        // The limiter keeps any 9 consecutive starts 1.05 s apart, a margin
        // for arrivals that jitter.
        let within = arrivals[i..].iter().filter(|a| **a - t < 1.0).count();
        assert!(within <= 8, "{within} requests within one second");
    }
}

#[test]
fn a_server_that_goes_away_stops_the_run_and_resume_finishes_it() {
    let mut sim = Sim::start(&["--latency-ms", "20"]);
    let w = Work::new();
    w.write("in.csv", &inventory(300, 6));
    let mut child = spawn_until_answered(
        &w,
        &sim,
        &[
            "--chunk-size",
            "5",
            "--rate",
            "40",
            "--concurrency",
            "2",
            "--retries",
            "1",
        ],
        20,
    );
    // The server goes away (its state with it: the report is what counts).
    sim.kill();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    let rows = w.report("in.report.csv");
    assert_eq!(rows.len(), 300);
    let added = count(&rows, "added");
    assert!(added >= 20);
    assert!(count(&rows, "not_sent") > 0);
    assert_eq!(
        added + count(&rows, "not_sent") + count(&rows, "unconfirmed"),
        300
    );
    let stopped = rows.iter().find(|r| r["outcome"] == "not_sent").unwrap();
    assert!(
        stopped["message"].contains("unreachable")
            || stopped["message"].contains("could not connect"),
        "{}",
        stopped["message"]
    );

    // The server is back (a fresh one): resume sends only what is not done.
    let sim2 = Sim::start(&[]);
    w.job(&sim2, "add-accounts", "in.csv")
        .args(["--resume", "in.report.csv", "--report", "second.report.csv"])
        .assert()
        .success();
    let second = read_report(&w.path("second.report.csv"));
    assert_eq!(count(&second, "skipped"), added);
    assert_eq!(sim2.accounts().len(), 300 - added);
}

#[test]
fn a_server_that_only_throttles_stops_the_run_after_max_throttle() {
    let sim = Sim::start(&["--rate-limit", "0"]);
    let w = Work::new();
    w.write("in.csv", &inventory(30, 3));
    w.job(&sim, "add-accounts", "in.csv")
        .args(["--max-throttle", "2"])
        .assert()
        .code(3)
        .stderr(predicates::str::contains("429"));
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), vec!["not_sent"; 30]);
    assert!(sim.accounts().is_empty());
}
