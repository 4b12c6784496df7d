//! Working by names against the live server (issue 12): names resolved to
//! ids by reading the simulator, a live plan that writes nothing and
//! predicts the real run, `--skip-existing`, `--verify`, password requests
//! by name, and reads that stop the run before any write.

use crate::common::{Sim, TOKEN, Work, code, outcomes, stderr};

/// An inventory: web-00 … web-NN (ids 300…), two resources named "db" in
/// two letter cases, and accounts on some of them.
fn inventory(w: &Work, webs: usize) -> String {
    let mut csv = String::from("RESOURCENAME,RESOURCEID,RESOURCETYPE,ACCOUNTNAME,ACCOUNTID\n");
    for i in 0..webs {
        csv.push_str(&format!("web-{i:02},{},Linux,,\n", 300 + i));
    }
    csv.push_str("web-01,301,Linux,root,7001\n");
    csv.push_str("web-01,301,Linux,www-data,7002\n");
    csv.push_str("db,41,Oracle,,\ndb,42,Oracle,,\nDB,43,Oracle,,\n");
    csv.push_str("mail-01,500,Linux,postmaster,7500\n");
    w.write("inv.csv", &csv).to_string_lossy().into_owned()
}

/// A scratch directory and a simulator holding [`inventory`] (`webs`
/// web resources), started with `extra` options.
fn setup(webs: usize, extra: &[&str]) -> (Work, Sim) {
    let w = Work::new();
    let inv = inventory(&w, webs);
    let mut args = vec!["--inventory", inv.as_str()];
    args.extend_from_slice(extra);
    let sim = Sim::start(&args);
    (w, sim)
}

/// Runs `job` on `input` (written first) against `sim` with `args`,
/// expects exit `want`, and returns the report at `report`.
fn run(
    (w, sim): (&Work, &Sim),
    job: &str,
    input: &str,
    args: &[&str],
    want: i32,
    report: &str,
) -> Vec<std::collections::HashMap<String, String>> {
    w.write("in.csv", input);
    let out = w.job(sim, job, "in.csv").args(args).output().unwrap();
    assert_eq!(code(&out), want, "{args:?}: {}", stderr(&out));
    w.report(report)
}

/// The simulator's stored accounts as (resource id, name).
fn stored(sim: &Sim) -> Vec<(u64, String)> {
    let mut v: Vec<(u64, String)> = sim
        .accounts()
        .iter()
        .map(|a| {
            (
                a["resource_id"].as_u64().unwrap(),
                a["fields"]["ACCOUNTNAME"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The simulator's id of the account `name` on resource `rid`.
fn id_of(sim: &Sim, rid: u64, name: &str) -> String {
    sim.accounts()
        .iter()
        .find(|a| a["resource_id"] == rid && a["fields"]["ACCOUNTNAME"] == name)
        .map(|a| a["account_id"].to_string())
        .unwrap_or_else(|| panic!("{name} not stored on {rid}"))
}

#[test]
fn names_resolve_to_the_right_ids_in_any_case_and_bad_names_are_invalid() {
    let (w, sim) = setup(3, &[]);
    let input = "RESOURCENAME,ACCOUNTNAME,PASSWORD\n\
         web-00,deploy,p1\n\
         WEB-02,nginx,p2\n\
         Web-00,Backup,p3\n\
         web-001,monitor,p4\n\
         db,sys,p5\n\
         mail-01,relay,p6\n";
    let rows = run((&w, &sim), "add-accounts", input, &[], 1, "in.report.csv");
    let want: Vec<(u64, String)> = [
        (300, "Backup"),
        (300, "deploy"),
        (301, "root"),
        (301, "www-data"),
        (302, "nginx"),
        (500, "postmaster"),
        (500, "relay"),
    ]
    .iter()
    .map(|(r, n)| (*r, n.to_string()))
    .collect();
    assert_eq!(stored(&sim), want);
    assert_eq!(
        outcomes(&rows),
        ["added", "added", "added", "invalid", "invalid", "added"]
    );
    // The report keeps the input's name and shows the resolved id.
    assert_eq!(rows[1]["resource_name"], "WEB-02");
    assert_eq!(rows[1]["resource_id"], "302");
    assert_eq!(
        rows[3]["message"],
        // DESIGN, third wave: what --create-resources would do is said.
        "no resource named \"web-001\" (closest: \"web-01\"); if it is another resource, --create-resources=all would create it"
    );
    assert_eq!(
        rows[4]["message"],
        "3 resources are named \"db\" (ids 41, 42, 43): give RESOURCEID"
    );
    assert_eq!(rows[4]["resource_id"], "");
}

#[test]
fn a_name_given_with_an_id_must_belong_to_it_and_a_row_by_id_and_by_name_are_duplicates() {
    let (w, sim) = setup(3, &[]);
    let input = "RESOURCEID,RESOURCENAME,ACCOUNTNAME\n\
         300,web-00,a1\n\
         301,web-00,a2\n\
         302,,a3\n\
         ,web-02,A3\n";
    let rows = run((&w, &sim), "add-accounts", input, &[], 1, "in.report.csv");
    assert_eq!(outcomes(&rows), ["added", "invalid", "added", "invalid"]);
    assert!(
        // DESIGN, third round ("A row names one target"): the id's own
        // resource is named.
        rows[1]["message"].contains("RESOURCEID 301 is web-01, not web-00"),
        "{}",
        rows[1]["message"]
    );
    assert_eq!(
        rows[3]["message"],
        "duplicate of row 4 (row 4 is kept; this row differs in ACCOUNTNAME, RESOURCENAME)"
    );
    assert_eq!(sim.accounts().len(), 2 + 3);
}

#[test]
fn a_name_on_the_last_page_resolves_under_both_paging_readings() {
    for reading in [&[][..], &["--one-based-paging"][..]] {
        let w = Work::new();
        // 25 resources served 4 to a page: the last is on page 7.
        let inv = inventory(&w, 25);
        let mut args = vec!["--inventory", &inv, "--page-cap", "4"];
        args.extend_from_slice(reading);
        let sim = Sim::start(&args);
        w.write(
            "in.csv",
            "RESOURCENAME,ACCOUNTNAME\nweb-24,last\nweb-00,first\nmail-01,m\n",
        );
        let out = w.job(&sim, "add-accounts", "in.csv").output().unwrap();
        assert_eq!(code(&out), 0, "{reading:?}: {}", stderr(&out));
        let rows = w.report("in.report.csv");
        assert_eq!(rows[0]["resource_id"], "324", "{reading:?}");
        assert_eq!(rows[1]["resource_id"], "300", "{reading:?}");
        assert_eq!(rows[2]["resource_id"], "500", "{reading:?}");
        // 30 resources, 4 a page: at most ⌈30 ÷ 4⌉ + 2 reads of the list
        // (3 of the writes are the accounts).
        let reads = sim.received() - sim.writes();
        assert!(reads <= 8 + 2, "{reading:?}: {reads} reads");
    }
}

#[test]
fn a_live_plan_writes_nothing_and_predicts_the_real_run() {
    let (w, sim) = setup(3, &[]);
    let input = "RESOURCENAME,ACCOUNTNAME,PASSWORD\n\
         web-01,ROOT,p1\n\
         web-01,deploy,p2\n\
         mail-01,postmaster,p3\n\
         web-02,nginx,p4\n\
         nowhere,x,p5\n";
    let plan = run(
        (&w, &sim),
        "add-accounts",
        input,
        &["--dry-run=server"],
        1,
        "in.plan.report.csv",
    );
    assert_eq!(sim.writes(), 0, "a live plan only reads");
    assert_eq!(
        outcomes(&plan),
        ["exists", "planned", "exists", "planned", "invalid"]
    );
    // `exists` rows carry the server's ids.
    assert_eq!(plan[0]["account_id"], "7001");
    assert_eq!(plan[2]["account_id"], "7500");
    assert_eq!(plan[0]["resource_id"], "301");

    let real = run((&w, &sim), "add-accounts", input, &[], 1, "in.report.csv");
    for (p, r) in plan.iter().zip(&real) {
        let want = match p["outcome"].as_str() {
            "planned" => "added",
            other => other,
        };
        assert_eq!(r["outcome"], want, "row {}", p["row"]);
    }
}

#[test]
fn a_live_plan_with_strict_says_what_would_have_happened_and_exits_2() {
    let (w, sim) = setup(3, &[]);
    let rows = run(
        (&w, &sim),
        "add-accounts",
        "RESOURCENAME,ACCOUNTNAME\nweb-01,root\nweb-01,deploy\nnowhere,x\n",
        &["--dry-run=server", "--strict"],
        2,
        "in.plan.report.csv",
    );
    assert_eq!(outcomes(&rows), ["not_sent", "not_sent", "invalid"]);
    assert!(
        rows[0]["message"].ends_with("exists, id 7001"),
        "{}",
        rows[0]["message"]
    );
    assert!(
        rows[1]["message"].ends_with("would be added"),
        "{}",
        rows[1]["message"]
    );
    assert_eq!(sim.writes(), 0);
}

#[test]
fn skip_existing_sends_no_write_for_accounts_already_there() {
    let (w, sim) = setup(3, &[]);
    let rows = run(
        (&w, &sim),
        "add-accounts",
        "RESOURCEID,ACCOUNTNAME\n301,root\n301,Www-Data\n301,deploy\n",
        &["--skip-existing", "--chunk-size", "1"],
        0,
        "in.report.csv",
    );
    assert_eq!(outcomes(&rows), ["exists", "exists", "added"]);
    assert_eq!(rows[0]["message"], "already on the server; not sent");
    assert_eq!(rows[1]["account_id"], "7002");
    assert_eq!(rows[0]["attempts"], "0");
    assert_eq!(sim.writes(), 1, "only deploy was written");
}

#[test]
fn verify_fills_account_ids_and_settles_what_the_answers_left_open() {
    // Every answer to a write is lost after the accounts are stored.
    let (w, sim) = setup(3, &["--drop-after", "1"]);
    let rows = run(
        (&w, &sim),
        "add-accounts",
        "RESOURCENAME,ACCOUNTNAME\nweb-00,a\nweb-00,b\n",
        &["--verify", "--retries", "0"],
        0,
        "in.report.csv",
    );
    assert_eq!(outcomes(&rows), ["added", "added"]);
    assert_eq!(rows[0]["message"], "confirmed by reading back");
    assert_eq!(rows[0]["account_id"], id_of(&sim, 300, "a"));
    assert_eq!(rows[1]["account_id"], id_of(&sim, 300, "b"));

    // An account the server does not list after answering "added".
    let (w, sim) = setup(3, &["--hide-account", "ghost"]);
    let rows = run(
        (&w, &sim),
        "add-accounts",
        "RESOURCEID,ACCOUNTNAME\n302,ghost\n302,real\n301,root\n",
        &["--verify"],
        1,
        "in.report.csv",
    );
    assert_eq!(outcomes(&rows), ["failed", "added", "exists"]);
    assert_eq!(
        rows[0]["message"],
        "answered added, but the server does not list it"
    );
    assert_eq!(rows[1]["account_id"], id_of(&sim, 302, "real"));
    assert_eq!(rows[2]["account_id"], "7001");
}

#[test]
fn password_requests_by_name_go_to_the_right_account_ids() {
    let (w, sim) = setup(3, &[]);
    let input = "RESOURCENAME,ACCOUNTNAME,ACCOUNTID,REASON\n\
         WEB-01,www-data,,audit\n\
         mail-01,postmaster,,audit\n\
         web-01,rooot,,audit\n\
         ,,7001,audit\n\
         web-01,root,,audit\n";
    let rows = run(
        (&w, &sim),
        "request-passwords",
        input,
        &[],
        1,
        "in.report.csv",
    );
    assert_eq!(
        outcomes(&rows),
        ["requested", "requested", "invalid", "requested", "invalid"]
    );
    assert_eq!(rows[0]["account_id"], "7002");
    assert_eq!(
        rows[2]["message"],
        "no account named \"rooot\" on resource \"web-01\" (closest: \"root\")"
    );
    // Given by id in row 5 and by name in row 6: the same request.
    assert_eq!(
        rows[4]["message"],
        "duplicate of row 5 (row 5 is kept; this row differs in RESOURCENAME, ACCOUNTNAME)"
    );
    let mut ids: Vec<u64> = sim
        .requests()
        .iter()
        .map(|r| r["account_id"].as_u64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, [7001, 7002, 7500]);
}

#[test]
fn a_refused_token_on_a_read_stops_the_run_before_any_write() {
    let w = Work::new();
    let inv = inventory(&w, 3);
    let sim = Sim::start(&["--inventory", &inv]);
    w.write("in.csv", "RESOURCENAME,ACCOUNTNAME\nweb-00,a\n");
    let out = w
        .job(&sim, "add-accounts", "in.csv")
        .env("PAM360_AUTHTOKEN", "wrong-token")
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refused the API token"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sim.writes(), 0);
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["not_sent"]);
    // A live plan with nothing else to read still reads once.
    w.write("ids.csv", "ACCOUNTID,REASON\n7001,audit\n");
    let out = w
        .job(&sim, "request-passwords", "ids.csv")
        .arg("--dry-run=server")
        .env("PAM360_AUTHTOKEN", "wrong-token")
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(sim.writes(), 0);
}

#[test]
fn a_resource_list_whose_paging_cannot_be_followed_stops_the_run() {
    // A server that serves the same first page whatever STARTINDEX says.
    use crate::common::rogue::{Rogue, json};
    let rogue = Rogue::start("127.0.0.1", |_, _| {
        json(serde_json::json!({"operation": {
            "name": "GET RESOURCES",
            "result": {"status": "Success", "message": "ok"},
            "totalRows": 5,
            "Details": [{"RESOURCE ID": "1", "RESOURCE NAME": "a"},
                        {"RESOURCE ID": "2", "RESOURCE NAME": "b"}]}}))
    });
    let w = Work::new();
    w.write("in.csv", "RESOURCENAME,ACCOUNTNAME\nzz,a\n");
    let out = w
        .cmd()
        .args(["add-accounts", "in.csv", "--server", &rogue.url])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot be followed"),
        "{}",
        stderr(&out)
    );
    let requests = rogue.requests();
    assert!(requests.iter().all(|r| r.method == "GET"), "no write");
    assert_eq!(requests.len(), 2, "the second page brought nothing new");
}

#[test]
fn resume_matches_rows_by_name_and_reads_reports_from_before_the_name_columns() {
    let w = Work::new();
    let inv = inventory(&w, 3);
    let sim = Sim::start(&["--inventory", &inv]);
    // A report written before resource_name and account_id existed.
    w.write(
        "old.csv",
        "row,org,resource_id,account_name,outcome,status,http_status,attempts,message\n\
         2,,300,alpha,added,Account added successfully,200,1,\n",
    );
    // An earlier report by name.
    w.write(
        "named.csv",
        "row,org,resource_id,resource_name,account_name,account_id,outcome,status,http_status,attempts,message\n\
         2,,,web-02,Beta,,added,Account added successfully,200,1,\n",
    );
    w.write(
        "in.csv",
        "RESOURCENAME,ACCOUNTNAME\nweb-00,ALPHA\nWEB-02,beta\nweb-02,gamma\n",
    );
    for (prior, skipped) in [("old.csv", 0), ("named.csv", 1)] {
        let out = w
            .job(&sim, "add-accounts", "in.csv")
            .args(["--dry-run=server", "--resume", prior, "--overwrite"])
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{prior}: {}", stderr(&out));
        let rows = w.report("in.plan.report.csv");
        assert_eq!(rows[skipped]["outcome"], "skipped", "{prior}");
        assert_eq!(
            outcomes(&rows).iter().filter(|o| *o == "skipped").count(),
            1,
            "{prior}: each done row is used once"
        );
    }
}

#[test]
fn options_that_need_the_server_or_a_write_are_refused_where_they_cannot_work() {
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    for args in [
        &["--dry-run", "--skip-existing"][..],
        &["--dry-run", "--verify"][..],
        &["--dry-run=server", "--verify"][..],
        &["--dry-run=sever"][..],
    ] {
        let out = w
            .cmd()
            .args(["add-accounts", "in.csv"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
    }
    w.write("r.csv", "ACCOUNTID\n1\n");
    for flag in ["--verify", "--skip-existing", "--chunk-size=5"] {
        let out = w
            .cmd()
            .args(["request-passwords", "r.csv", "--dry-run", flag])
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "{flag}: {}", stderr(&out));
    }
    // --dry-run=server with --skip-existing is accepted (offline, no server: usage).
    let out = w
        .cmd()
        .args([
            "add-accounts",
            "in.csv",
            "--dry-run=server",
            "--skip-existing",
        ])
        .env_remove("PAM360_URL")
        .output()
        .unwrap();
    assert!(stderr(&out).contains("no server"), "{}", stderr(&out));
}

#[test]
fn an_offline_dry_run_groups_names_without_checking_them() {
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCENAME,ACCOUNTNAME\nweb-01,a\nWEB-01,b\ndb,c\n",
    );
    w.cmd()
        .args(["add-accounts", "in.csv", "--dry-run"])
        .assert()
        .success();
    let rows = w.report("in.dry-run.report.csv");
    assert_eq!(outcomes(&rows), ["planned", "planned", "planned"]);
    assert_eq!(
        rows[0]["message"], rows[1]["message"],
        "one request by name"
    );
    assert_ne!(rows[0]["message"], rows[2]["message"]);
    assert!(rows[0]["message"].contains("names not checked"));
    assert!(rows.iter().all(|r| r["resource_id"].is_empty()));
}

#[test]
fn an_interrupt_while_reading_the_server_writes_nothing_and_exits_3() {
    use std::process::{Command, Stdio};
    // Reads are slow (2 s each): the signal lands while one is in flight.
    let (w, sim) = setup(3, &["--latency-ms", "2000"]);
    w.write("in.csv", "RESOURCENAME,ACCOUNTNAME\nweb-00,a\nweb-01,b\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pam360-bulk"))
        .current_dir(w.dir.path())
        .args(["add-accounts", "in.csv", "--server", &sim.url])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .env_remove("PAM360_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        crate::common::wait_for(std::time::Duration::from_secs(20), || sim.received() > 0),
        "the first read never arrived"
    );
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    assert_eq!(child.wait().unwrap().code(), Some(3));
    assert_eq!(sim.writes(), 0);
    let rows = w.report("in.report.csv");
    assert_eq!(outcomes(&rows), ["not_sent", "not_sent"]);
    assert!(
        rows[0]["message"].contains("interrupted"),
        "{}",
        rows[0]["message"]
    );
    assert!(!w.path("in.report.csv.partial").exists());
}

#[test]
fn a_resource_id_the_server_does_not_know_is_invalid_when_its_accounts_are_read() {
    let (w, sim) = setup(3, &[]);
    let rows = run(
        (&w, &sim),
        "add-accounts",
        "RESOURCEID,ACCOUNTNAME\n999,a\n300,b\n",
        &["--skip-existing"],
        1,
        "in.report.csv",
    );
    assert_eq!(outcomes(&rows), ["invalid", "added"]);
    assert_eq!(rows[0]["message"], "no resource with id 999");
    assert_eq!(sim.writes(), 1);
}

#[test]
fn strict_sends_nothing_when_a_name_is_unknown() {
    let (w, sim) = setup(3, &[]);
    let rows = run(
        (&w, &sim),
        "add-accounts",
        "RESOURCENAME,ACCOUNTNAME\nweb-00,a\nweb-0,b\n",
        &["--strict"],
        2,
        "in.report.csv",
    );
    assert_eq!(outcomes(&rows), ["not_sent", "invalid"]);
    assert_eq!(sim.writes(), 0);
}
