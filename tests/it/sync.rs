//! Creating what is missing, updating what exists, and nightly runs that
//! build on each other (DESIGN, "Creating what is missing, updating what
//! exists"): through the binary, against the simulator.

use std::time::Duration;

use serde_json::Value;

use crate::common::{Sim, TOKEN, Work, code, outcomes, stderr, wait_for};

/// Runs `job` in `w` against `sim` with `args`; returns (exit, stderr).
fn run(w: &Work, sim: &Sim, input: &str, args: &[&str]) -> (i32, String) {
    let out = w
        .job(sim, "add-accounts", input)
        .args(args)
        .output()
        .unwrap();
    (code(&out), stderr(&out))
}

fn resources(sim: &Sim) -> Vec<Value> {
    sim.state()["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A simulator holding one resource, web-01 (id 902).
fn holding_web_01(w: &Work) -> Sim {
    w.write("inv.csv", "RESOURCENAME,RESOURCEID\nweb-01,902\n");
    Sim::start(&["--inventory", w.path("inv.csv").to_str().unwrap()])
}

fn list(sim: &Sim, key: &str) -> Vec<Value> {
    sim.state()[key].as_array().cloned().unwrap_or_default()
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

const THREE: &str = "RESOURCENAME,RESOURCETYPE,DNSNAME,ACCOUNTNAME,PASSWORD\n\
    web-01,Linux,web-01.example.com,root,p1\n\
    web-01,Linux,,deploy,p2\n\
    db-01,MS SQL Server,,sa,p3\n\
    mail-01,Linux,,postmaster,p4\n\
    mail-01,,,relay,p5\n";

#[test]
fn a_run_creates_three_resources_and_adds_all_their_accounts_and_a_second_creates_nothing() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", THREE);
    let (c, e) = run(&w, &sim, "in.csv", &["--create-resources"]);
    assert_eq!(c, 0, "{e}");
    assert!(e.contains("resources created: 3"), "{e}");
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["added"; 5]);
    assert!(
        rows.iter().all(|r| !r["resource_id"].is_empty()),
        "{rows:?}"
    );
    assert!(rows[0]["message"].contains("resource created"), "{rows:?}");
    let created = resources(&sim);
    assert_eq!(created.len(), 3);
    let web = created.iter().find(|r| r["name"] == "web-01").unwrap();
    assert_eq!(web["type"], "Linux");
    // The create carries the resource's fields, never an account.
    assert_eq!(web["fields"]["DNSNAME"], "web-01.example.com");
    assert!(web["fields"].get("ACCOUNTNAME").is_none());
    assert_eq!(sim.accounts().len(), 5);
    // The next run finds them by name: nothing is created again.
    let (c, e) = run(
        &w,
        &sim,
        "in.csv",
        &["--create-resources", "--report", "again.csv"],
    );
    assert_eq!(c, 0, "{e}");
    assert_eq!(outcomes(&w.report("again.csv")), ["exists"; 5]);
    assert_eq!(resources(&sim).len(), 3);
    assert!(!e.contains("resources created"), "{e}");
}

#[test]
fn without_create_resources_the_rows_say_what_would_create_them() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", THREE);
    let (c, e) = run(&w, &sim, "in.csv", &[]);
    assert_eq!(c, 1, "{e}");
    assert!(e.contains("resources missing: 3"), "{e}");
    let rows = w.report("in.report.csv");
    assert!(
        rows[0]["message"].contains("(--create-resources would create it)"),
        "{rows:?}"
    );
    assert_eq!(sim.writes(), 0);
}

#[test]
fn a_create_whose_answer_is_lost_is_looked_up_and_never_made_twice() {
    // Stored, then the connection closed: the client cannot know.
    let sim = Sim::start(&["--lose-create-answers", "1"]);
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCENAME,RESOURCETYPE,ACCOUNTNAME\nweb-01,Linux,root\nweb-01,Linux,www\n",
    );
    let (c, e) = run(&w, &sim, "in.csv", &["--create-resources"]);
    assert_eq!(c, 0, "{e}");
    assert_eq!(resources(&sim).len(), 1);
    assert_eq!(outcomes(&w.report("in.report.csv")), ["added", "added"]);
    assert_eq!(sim.accounts().len(), 2);
}

#[test]
fn rows_of_a_resource_to_create_must_agree_and_name_its_type() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCENAME,RESOURCETYPE,ACCOUNTNAME\n\
         web-01,Linux,root\n\
         web-01,Windows,admin\n\
         web-01,,www\n\
         db-01,,sa\n",
    );
    let (c, e) = run(&w, &sim, "in.csv", &["--create-resources"]);
    assert_eq!(c, 1, "{e}");
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["added", "invalid", "added", "invalid"]);
    assert_eq!(
        rows[1]["message"],
        "RESOURCETYPE differs from row 2 for resource web-01"
    );
    assert!(
        rows[3]["message"].contains("RESOURCETYPE is needed to create resource db-01"),
        "{rows:?}"
    );
    assert_eq!(resources(&sim).len(), 1);
}

#[test]
fn a_new_host_named_like_the_fleet_is_created_not_taken_for_a_typo() {
    // Fleets name hosts by one pattern: lnx-cache-01 beside lnx-web-01 is
    // a new host, where lnx-wbe-01 would be a slip of the keyboard.
    let w = Work::new();
    w.write(
        "inv.csv",
        "RESOURCENAME,RESOURCEID\nlnx-web-01,902\nlnx-db-01,903\n",
    );
    let sim = Sim::start(&["--inventory", w.path("inv.csv").to_str().unwrap()]);
    w.write(
        "in.csv",
        "RESOURCENAME,RESOURCETYPE,ACCOUNTNAME\nlnx-cache-01,Linux,root\nlnx-wbe-01,Linux,root\n",
    );
    let (c, e) = run(&w, &sim, "in.csv", &["--create-resources"]);
    assert_eq!(c, 1, "{e}");
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["added", "invalid"], "{rows:?}");
    assert!(
        rows[1]["message"].contains("closest: \"lnx-web-01\""),
        "{rows:?}"
    );
    assert_eq!(resources(&sim).len(), 3);
}

#[test]
fn a_name_close_to_an_existing_resource_is_not_created_unless_all() {
    let w = Work::new();
    let sim = holding_web_01(&w);
    w.write(
        "in.csv",
        "RESOURCENAME,RESOURCETYPE,ACCOUNTNAME\nweb-1,Linux,root\n",
    );
    let (c, e) = run(&w, &sim, "in.csv", &["--create-resources"]);
    assert_eq!(c, 1, "{e}");
    let rows = w.report("in.report.csv");
    assert!(
        rows[0]["message"].contains("closest: \"web-01\""),
        "{rows:?}"
    );
    assert!(
        rows[0]["message"].contains("--create-resources=all"),
        "{rows:?}"
    );
    assert_eq!(resources(&sim).len(), 1);
    let (c, e) = run(
        &w,
        &sim,
        "in.csv",
        &["--create-resources=all", "--report", "all.csv"],
    );
    assert_eq!(c, 0, "{e}");
    assert_eq!(resources(&sim).len(), 2);
}

/// web-01 (902) holding root (5001).
fn with_root(w: &Work) -> Sim {
    w.write(
        "inv.csv",
        "RESOURCENAME,RESOURCEID,RESOURCETYPE,ACCOUNTNAME,ACCOUNTID\nweb-01,902,Linux,root,5001\n",
    );
    Sim::start(&["--inventory", w.path("inv.csv").to_str().unwrap()])
}

const PW: &str = " Pa$$ W&rd+=%\"é ";

#[test]
fn update_sends_only_non_empty_fields_and_never_the_password() {
    let w = Work::new();
    let sim = with_root(&w);
    w.write(
        "in.csv",
        &format!(
            "RESOURCENAME,ACCOUNTNAME,PASSWORD,NOTES,ACCOUNTPASSWORDPOLICY,RECORD_RDP_SESSIONS\n\
             web-01,ROOT,\"{}\",new notes,,yes\n",
            PW.replace('"', "\"\"")
        ),
    );
    let (c, e) = run(&w, &sim, "in.csv", &["--update"]);
    assert_eq!(c, 0, "{e}");
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["updated"]);
    assert!(
        rows[0]["message"].contains("RECORD_RDP_SESSIONS, NOTES written"),
        "{rows:?}"
    );
    let edits = list(&sim, "edits");
    assert_eq!(edits.len(), 1);
    let d = &edits[0]["details"];
    // The server's spelling of the name; only the non-empty fields.
    assert_eq!(d["ACCOUNTNAME"], "root");
    assert_eq!(d["NOTES"], "new notes");
    assert_eq!(d["RECORD_RDP_SESSIONS"], true);
    assert_eq!(d.as_object().unwrap().len(), 3, "{d}");
    assert!(list(&sim, "password_changes").is_empty());
    assert!(!w.read("in.report.csv").contains("Pa$$"));
}

#[test]
fn update_passwords_sends_newpassword_byte_for_byte_with_resettype_local() {
    let w = Work::new();
    let sim = with_root(&w);
    w.write(
        "in.csv",
        &format!(
            "RESOURCENAME,ACCOUNTNAME,PASSWORD\nweb-01,root,\"{}\"\n",
            PW.replace('"', "\"\"")
        ),
    );
    let (c, e) = run(
        &w,
        &sim,
        "in.csv",
        &["--update-passwords", "--reason", "migration 2026", "-vv"],
    );
    assert_eq!(c, 0, "{e}");
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["updated"]);
    assert!(rows[0]["message"].contains("password changed"), "{rows:?}");
    let changes = list(&sim, "password_changes");
    assert_eq!(changes.len(), 1);
    let d = &changes[0]["details"];
    assert_eq!(d["NEWPASSWORD"], PW);
    assert_eq!(d["RESETTYPE"], "LOCAL");
    assert_eq!(d["REASON"], "migration 2026");
    assert!(list(&sim, "edits").is_empty(), "nothing else to write");
    let all = format!("{e}{}", w.read("in.report.csv"));
    assert!(!all.contains("Pa$$"), "{all}");
}

#[test]
fn a_live_plan_predicts_the_creates_and_updates_of_the_real_run() {
    let w = Work::new();
    let sim = with_root(&w);
    w.write(
        "in.csv",
        "RESOURCENAME,RESOURCETYPE,ACCOUNTNAME,NOTES\nweb-01,,root,rotated\nweb-02,Linux,deploy,\n",
    );
    let args = ["--create-resources", "--update"];
    let (c, e) = run(
        &w,
        &sim,
        "in.csv",
        &[&args[..], &["--dry-run=server"]].concat(),
    );
    assert_eq!(c, 0, "{e}");
    assert!(e.contains("resources it would create: 1"), "{e}");
    let plan = w.report("in.plan.report.csv");
    assert_eq!(outcomes(&plan), ["planned", "planned"]);
    assert_eq!(plan[0]["message"], "would write NOTES");
    assert!(
        plan[1]["message"].starts_with("would create resource web-02 (Linux)"),
        "{plan:?}"
    );
    assert_eq!(sim.writes(), 0);
    let (c, e) = run(&w, &sim, "in.csv", &args);
    assert_eq!(c, 0, "{e}");
    assert_eq!(outcomes(&w.report("in.report.csv")), ["updated", "added"]);
    assert_eq!(resources(&sim).len(), 2);
}

#[test]
fn three_chained_nightly_runs_keep_what_the_first_one_added() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n901,b\n");
    let (c, e) = run(&w, &sim, "in.csv", &["--report", "n1.csv"]);
    assert_eq!(c, 0, "{e}");
    for (report, resume) in [("n2.csv", "n1.csv"), ("n3.csv", "n2.csv")] {
        let (c, e) = run(
            &w,
            &sim,
            "in.csv",
            &["--resume", resume, "--report", report],
        );
        assert_eq!(c, 0, "{e}");
    }
    let rows = w.report("n3.csv");
    assert_eq!(outcomes(&rows), ["skipped", "skipped"]);
    assert_eq!(rows[0]["message"], format!("added on {}", today()));
    // The fingerprint of what was added is carried.
    let first = w.report("n1.csv");
    assert!(first[0]["fingerprint"].starts_with("v1:"));
    assert_eq!(rows[0]["fingerprint"], first[0]["fingerprint"]);
    assert_eq!(sim.accounts().len(), 2);
    assert_eq!(sim.writes(), 1);
}

#[test]
fn a_changed_notes_cell_makes_exactly_one_edit() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME,NOTES\n901,a,first\n901,b,same\n",
    );
    let (c, e) = run(&w, &sim, "in.csv", &["--report", "n1.csv"]);
    assert_eq!(c, 0, "{e}");
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME,NOTES\n901,a,second\n901,b,same\n",
    );
    let (c, e) = run(
        &w,
        &sim,
        "in.csv",
        &["--resume", "n1.csv", "--report", "n2.csv", "--update"],
    );
    assert_eq!(c, 0, "{e}");
    let rows = w.report("n2.csv");
    assert_eq!(outcomes(&rows), ["updated", "skipped"]);
    assert_eq!(
        rows[0]["message"],
        format!("added on {d}; updated on {d}: NOTES written", d = today())
    );
    let edits = list(&sim, "edits");
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0]["details"]["NOTES"], "second");
    assert_eq!(sim.account("a")["NOTES"], "second");
    // The next night has nothing to do.
    let (c, e) = run(
        &w,
        &sim,
        "in.csv",
        &["--resume", "n2.csv", "--report", "n3.csv", "--update"],
    );
    assert_eq!(c, 0, "{e}");
    assert_eq!(outcomes(&w.report("n3.csv")), ["skipped", "skipped"]);
    assert_eq!(list(&sim, "edits").len(), 1);
}

#[cfg(unix)]
#[test]
fn two_runs_on_one_input_with_different_reports_the_second_exits_2() {
    let sim = Sim::start(&["--latency-ms", "2000"]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_pam360-bulk"))
        .current_dir(w.dir.path())
        .args([
            "add-accounts",
            "in.csv",
            "--server",
            &sim.url,
            "--report",
            "one.csv",
        ])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for(Duration::from_secs(10), || sim.received() > 0));
    let (c, e) = run(&w, &sim, "in.csv", &["--report", "two.csv"]);
    assert_eq!(c, 2, "{e}");
    assert!(e.contains("locked by another run"), "{e}");
    assert_eq!(first.wait().unwrap().code(), Some(0));
    assert_eq!(sim.writes(), 1);
}

#[cfg(unix)]
#[test]
fn history_over_a_night_killed_part_way_resumes_from_its_journal_nothing_twice() {
    let sim = Sim::start(&["--latency-ms", "150"]);
    let w = Work::new();
    std::fs::create_dir(w.path("hist")).unwrap();
    let mut csv = String::from("RESOURCEID,ACCOUNTNAME\n");
    for i in 0..12 {
        csv.push_str(&format!("{},a{i}\n", 900 + i));
    }
    w.write("in.csv", &csv);
    let mut night = std::process::Command::new(env!("CARGO_BIN_EXE_pam360-bulk"))
        .current_dir(w.dir.path())
        .args([
            "add-accounts",
            "in.csv",
            "--server",
            &sim.url,
            "--history",
            "hist",
        ])
        .args(["--concurrency", "1", "--rate", "1000"])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for(Duration::from_secs(20), || sim.accounts().len() >= 4));
    night.kill().unwrap();
    night.wait().unwrap();
    let left: Vec<_> = std::fs::read_dir(w.path("hist"))
        .unwrap()
        .flatten()
        .collect();
    assert!(
        left.iter()
            .any(|e| e.file_name().to_string_lossy().ends_with(".partial")),
        "the killed night left its journal"
    );
    // A second later, the next night.
    std::thread::sleep(Duration::from_millis(1100));
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .args(["--history", "hist"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let accounts = sim.accounts();
    assert_eq!(accounts.len(), 12, "every account added once");
    let mut names: Vec<&str> = accounts
        .iter()
        .map(|a| a["fields"]["ACCOUNTNAME"].as_str().unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 12);
    let files: Vec<String> = std::fs::read_dir(w.path("hist"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.iter().all(|f| !f.ends_with(".partial")), "{files:?}");
    let newest = files.iter().max().unwrap();
    let rows = crate::common::read_report(&w.path("hist").join(newest));
    assert_eq!(rows.len(), 12);
    // An account stored as the kill came, before its answer was journaled,
    // is answered "exists" the next night: never added twice.
    assert!(
        rows.iter()
            .all(|r| ["skipped", "added", "exists"].contains(&r["outcome"].as_str())),
        "{rows:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_kill_during_the_creates_then_resume_creates_nothing_twice_and_adds_every_account_once() {
    for after in [1usize, 2, 3] {
        let sim = Sim::start(&["--latency-ms", "200"]);
        let w = Work::new();
        let mut csv = String::from("RESOURCENAME,RESOURCETYPE,ACCOUNTNAME\n");
        for r in 0..4 {
            for a in 0..3 {
                csv.push_str(&format!("host-{r},Linux,acct{a}\n"));
            }
        }
        w.write("in.csv", &csv);
        let mut run1 = std::process::Command::new(env!("CARGO_BIN_EXE_pam360-bulk"))
            .current_dir(w.dir.path())
            .args([
                "add-accounts",
                "in.csv",
                "--server",
                &sim.url,
                "--create-resources",
            ])
            .args(["--concurrency", "1", "--rate", "1000"])
            .env("PAM360_AUTHTOKEN", TOKEN)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Killed once `after` resources are created.
        assert!(wait_for(Duration::from_secs(20), || resources(&sim).len() >= after));
        run1.kill().unwrap();
        run1.wait().unwrap();
        let out = w
            .job(&sim, "add-accounts", "in.csv")
            .args(["--create-resources", "--resume", "in.report.csv.partial"])
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "after {after}: {}", stderr(&out));
        let made: Vec<String> = resources(&sim)
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect();
        let mut unique = made.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(made.len(), 4, "after {after}: {made:?}");
        assert_eq!(unique.len(), 4);
        assert_eq!(sim.accounts().len(), 12, "after {after}");
    }
}

#[test]
fn the_summary_json_says_when_what_and_where_and_counts_new_problems() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\nx,b\n");
    let (c, e) = run(
        &w,
        &sim,
        "in.csv",
        &["--report", "n1.csv", "--summary-json", "s1.json", "-v"],
    );
    assert_eq!(c, 1, "{e}");
    // -v lines carry a timestamp.
    let line = e.lines().find(|l| l.contains("POST")).unwrap();
    assert!(line.split(' ').next().unwrap().contains('T'), "{line}");
    let s: Value = serde_json::from_str(&w.read("s1.json")).unwrap();
    for key in ["started_at", "ended_at", "input", "server", "org"] {
        assert!(s.get(key).is_some(), "{key}: {s}");
    }
    assert_eq!(s["new_problems"], 1);
    // The same problem the next night is not new; a new one is.
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\nx,b\ny,c\n");
    let (c, e) = run(
        &w,
        &sim,
        "in.csv",
        &[
            "--resume",
            "n1.csv",
            "--report",
            "n2.csv",
            "--summary-json",
            "s2.json",
        ],
    );
    assert_eq!(c, 1, "{e}");
    let s: Value = serde_json::from_str(&w.read("s2.json")).unwrap();
    assert_eq!(s["new_problems"], 1, "{s}");
    assert!(e.contains("new problems: 1"), "{e}");
}

#[test]
fn simulate_on_a_file_of_names_says_how_to_give_it_an_inventory() {
    let w = Work::new();
    w.write("in.csv", "RESOURCENAME,ACCOUNTNAME\nweb-01,root\n");
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--simulate"])
        .output()
        .unwrap();
    let e = stderr(&out);
    assert!(e.contains("--simulate-inventory"), "{e}");
    assert!(e.contains("--create-resources"), "{e}");
    // With --create-resources the simulator gets the resources.
    w.write(
        "in.csv",
        "RESOURCENAME,RESOURCETYPE,ACCOUNTNAME\nweb-01,Linux,root\n",
    );
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--simulate", "--create-resources"])
        .args(["--report", "c.csv"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn the_simulator_state_survives_a_restart() {
    let w = Work::new();
    let state = w.path("state.json");
    w.write(
        "in.csv",
        "RESOURCENAME,RESOURCETYPE,ACCOUNTNAME\nweb-01,Linux,root\n",
    );
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--simulate", "--create-resources"])
        .args(["--simulate-state", state.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    // A second run on the saved state finds the resource and the account.
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--simulate", "--create-resources"])
        .args([
            "--simulate-state",
            state.to_str().unwrap(),
            "--report",
            "2.csv",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(outcomes(&w.report("2.csv")), ["exists"]);
    // The standalone simulator loads it too, and saves it on SIGTERM.
    let sim = Sim::start(&["--state", state.to_str().unwrap()]);
    assert_eq!(resources(&sim).len(), 1);
    assert_eq!(sim.accounts().len(), 1);
}

#[test]
fn a_skipped_row_keeps_the_ids_the_earlier_report_knew() {
    // The latest report is the whole record: a row given by name keeps the
    // resource id (and account id) an earlier run resolved or read back.
    let w = Work::new();
    let sim = holding_web_01(&w);
    w.write(
        "in.csv",
        "RESOURCENAME,ACCOUNTNAME\nweb-01,root\nweb-01,deploy\n",
    );
    let (c, e) = run(&w, &sim, "in.csv", &["--verify", "--report", "n1.csv"]);
    assert_eq!(c, 0, "{e}");
    let first = w.report("n1.csv");
    assert!(first.iter().all(|r| r["resource_id"] == "902"), "{first:?}");
    assert!(
        first.iter().all(|r| !r["account_id"].is_empty()),
        "{first:?}"
    );
    for (resume, report) in [("n1.csv", "n2.csv"), ("n2.csv", "n3.csv")] {
        let (c, e) = run(
            &w,
            &sim,
            "in.csv",
            &["--resume", resume, "--report", report],
        );
        assert_eq!(c, 0, "{e}");
        let rows = w.report(report);
        assert_eq!(outcomes(&rows), ["skipped", "skipped"]);
        for (now, then) in rows.iter().zip(&first) {
            assert_eq!(now["resource_id"], "902", "{rows:?}");
            assert_eq!(now["account_id"], then["account_id"], "{rows:?}");
            assert_eq!(now["resource_name"], "web-01");
        }
    }
    // An edit the next night keeps them too.
    w.write(
        "in.csv",
        "RESOURCENAME,ACCOUNTNAME,NOTES\nweb-01,root,moved\nweb-01,deploy,\n",
    );
    let (c, e) = run(
        &w,
        &sim,
        "in.csv",
        &["--update", "--resume", "n3.csv", "--report", "n4.csv"],
    );
    assert_eq!(c, 0, "{e}");
    let rows = w.report("n4.csv");
    assert_eq!(outcomes(&rows), ["updated", "skipped"], "{rows:?}");
    for (now, then) in rows.iter().zip(&first) {
        assert_eq!(now["resource_id"], "902", "{rows:?}");
        assert_eq!(now["account_id"], then["account_id"], "{rows:?}");
    }
}

#[test]
fn an_id_in_an_earlier_report_past_a_java_long_is_no_id() {
    // A report edited by hand (or by anything else) may say anything: an
    // account id past 2^63 names no PAM360 account, so no edit goes to it
    // and the run does not take it for another.
    let sim = holding_web_01(&Work::new());
    let w = Work::new();
    w.write("in.csv", "RESOURCENAME,ACCOUNTNAME,NOTES\nweb-01,a,first\n");
    let (c, e) = run(&w, &sim, "in.csv", &["--verify", "--report", "n1.csv"]);
    assert_eq!(c, 0, "{e}");
    let id = w.report("n1.csv")[0]["account_id"].clone();
    assert!(!id.is_empty());
    let edited = w
        .read("n1.csv")
        .replace(&format!(",{id},"), ",9223372036854775809,");
    w.write("n1.csv", &edited);
    w.write(
        "in.csv",
        "RESOURCENAME,ACCOUNTNAME,NOTES\nweb-01,a,second\n",
    );
    let (c, e) = run(
        &w,
        &sim,
        "in.csv",
        &["--resume", "n1.csv", "--report", "n2.csv", "--update"],
    );
    assert!(c == 0 || c == 1, "exit {c}: {e}");
    assert!(!e.contains("internal error"), "{e}");
    let rows = w.report("n2.csv");
    assert!(!rows[0]["account_id"].contains("922337"), "{rows:?}");
    // The account is found by its name instead, and edited once.
    assert_eq!(rows[0]["outcome"], "updated", "{rows:?}");
    assert_eq!(rows[0]["account_id"], id, "{rows:?}");
    assert_eq!(list(&sim, "edits").len(), 1);
}
