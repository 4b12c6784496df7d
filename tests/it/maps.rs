//! Other vaults' exports and CMDB columns as they are: `--from PRESET` and
//! `--map FILE`, through the binary, against the simulator.

use crate::common::{Sim, Work, code, outcomes, stderr};

/// A password with a comma, quotes, a leading `=`, non-ASCII letters and a
/// trailing space: what a CSV writer must quote, and a spreadsheet might
/// run.
const PW: &str = "=Pa,ss \"wörd\" ";

/// `s` as a quoted CSV field.
fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A simulator holding the resources `names`.
fn with_resources(w: &Work, names: &[&str]) -> Sim {
    let mut inv = String::from("RESOURCENAME,RESOURCEID\n");
    for (i, n) in names.iter().enumerate() {
        inv.push_str(&format!("{n},{}\n", 900 + i));
    }
    w.write("inv.csv", &inv);
    Sim::start(&["--inventory", w.path("inv.csv").to_str().unwrap()])
}

/// Runs add-accounts on `input` with `args`; returns (exit, stderr).
fn run(w: &Work, sim: &Sim, input: &str, args: &[&str]) -> (i32, String) {
    let out = w
        .job(sim, "add-accounts", input)
        .args(args)
        .output()
        .unwrap();
    (code(&out), stderr(&out))
}

/// Checks that what reached the simulator is byte for byte the export's.
fn stored_as_exported(sim: &Sim, name: &str, notes: Option<&str>) {
    let a = sim.account(name);
    assert_eq!(a["PASSWORD"], PW, "{a}");
    if let Some(n) = notes {
        assert_eq!(a["NOTES"], n, "{a}");
    }
}

#[test]
fn a_keepassxc_export_is_read_as_it_is() {
    let w = Work::new();
    let sim = with_resources(&w, &["web-01", "Mail Server"]);
    let export = format!(
        "\"Group\",\"Title\",\"Username\",\"Password\",\"URL\",\"Notes\",\"TOTP\",\"Icon\",\"Last Modified\",\"Created\"\n\
         \"Root/Linux\",\"web-01\",\"root\",{pw},\"ssh://root@web-01:22\",\"first line\nsecond, line\",\"\",\"0\",\"2026-11-01T10:00:00Z\",\"2026-11-01T10:00:00Z\"\n\
         \"Root\",\"Mail Server\",\"postmaster\",{pw},\"https://mail.example.com/owa\",\"\",\"\",\"0\",\"\",\"\"\n",
        pw = q(PW)
    );
    w.write("keepass.csv", &export);
    let (c, e) = run(&w, &sim, "keepass.csv", &["--from", "keepassxc"]);
    assert_eq!(c, 0, "{e}");
    stored_as_exported(&sim, "root", Some("first line\nsecond, line"));
    stored_as_exported(&sim, "postmaster", None);
    // Columns no preset maps are named, not read.
    for unused in ["Group", "TOTP", "Icon"] {
        assert!(e.contains(unused), "{unused}: {e}");
    }
    let rows = w.report("keepass.report.csv");
    assert_eq!(rows[0]["resource_name"], "web-01");
    assert_eq!(rows[0]["account_name"], "root");
    assert!(!w.read("keepass.report.csv").contains("wörd"));
}

#[test]
fn a_bitwarden_export_adds_logins_and_refuses_what_is_not_a_login() {
    let w = Work::new();
    let sim = with_resources(&w, &["GitLab", "Router"]);
    let export = format!(
        "folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp\n\
         Dev,1,login,GitLab,,,0,https://gitlab.example.com/users/sign_in,deploy,{pw},JBSWY3DPEHPK3PXP\n\
         ,,note,Wifi codes,\"the codes\",,0,,,,\n\
         Net,,login,Router,\"admin only\",,0,http://192.168.1.1,admin,{pw},\n\
         ,,card,Visa,,,0,,,,\n",
        pw = q(PW)
    );
    w.write("bw.csv", &export);
    let (c, e) = run(&w, &sim, "bw.csv", &["--from", "bitwarden"]);
    assert_eq!(c, 1, "{e}");
    let rows = w.report("bw.report.csv");
    assert_eq!(outcomes(&rows), ["added", "invalid", "added", "invalid"]);
    assert!(rows[1]["message"].contains("not a login"), "{rows:?}");
    assert!(rows[3]["message"].contains("not a login"), "{rows:?}");
    stored_as_exported(&sim, "deploy", None);
    stored_as_exported(&sim, "admin", Some("admin only"));
    // The TOTP seed is not mapped: it reaches nothing.
    assert!(sim.account("deploy").get("TOTP_SECRET").is_none());
    assert!(!w.read("bw.report.csv").contains("JBSWY3DP"));
}

#[test]
fn a_lastpass_export_is_read_as_it_is() {
    let w = Work::new();
    let sim = with_resources(&w, &["Payroll DB"]);
    let export = format!(
        "url,username,password,totp,extra,name,grouping,fav\n\
         https://payroll.example.com,svc_payroll,{pw},,\"rotate yearly\",Payroll DB,Finance,0\n",
        pw = q(PW)
    );
    w.write("lp.csv", &export);
    let (c, e) = run(&w, &sim, "lp.csv", &["--from", "lastpass"]);
    assert_eq!(c, 0, "{e}");
    stored_as_exported(&sim, "svc_payroll", Some("rotate yearly"));
}

#[test]
fn a_1password_export_is_read_as_it_is() {
    let w = Work::new();
    let sim = with_resources(&w, &["Jump Host"]);
    let export = format!(
        "\"Title\",\"Url\",\"Username\",\"Password\",\"OTPAuth\",\"Favorite\",\"Archived\",\"Tags\",\"Notes\"\n\
         \"Jump Host\",\"ssh://jump.example.com\",\"ops\",{pw},\"\",\"false\",\"false\",\"infra\",\"bastion\"\n",
        pw = q(PW)
    );
    w.write("1p.csv", &export);
    let (c, e) = run(&w, &sim, "1p.csv", &["--from", "1password"]);
    assert_eq!(c, 0, "{e}");
    stored_as_exported(&sim, "ops", Some("bastion"));
}

#[test]
fn a_cyberark_onboarding_file_is_read_as_it_is() {
    let w = Work::new();
    let sim = with_resources(&w, &["10.0.4.17"]);
    let export = format!(
        "userName,address,safe,platformID,password,port\n\
         oracle,10.0.4.17,DBA-Safe,OracleDB,{pw},1521\n",
        pw = q(PW)
    );
    w.write("ca.csv", &export);
    let (c, e) = run(&w, &sim, "ca.csv", &["--from", "cyberark"]);
    assert_eq!(c, 0, "{e}");
    stored_as_exported(&sim, "oracle", None);
    for unused in ["safe", "platformID", "port"] {
        assert!(e.contains(unused), "{unused}: {e}");
    }
}

#[test]
fn a_cmdb_export_through_a_map_of_templates_and_constants() {
    let w = Work::new();
    let sim = Sim::start(&[]);
    w.write(
        "cmdb.csv",
        "hostname,domain,login,mgmt_url,os,owner\n\
         web01,example.com,root,https://WEB01.example.com:8443/ui,Linux,ops\n\
         db01,example.com,sa,ssh://dba@db01.example.com,Linux,dba\n",
    );
    w.write(
        "cmdb.toml",
        "[columns]\n\
         RESOURCENAME = \"{hostname}.{domain}\"\n\
         ACCOUNTNAME = \"{login}\"\n\
         DNSNAME = \"{mgmt_url|host|lower}\"\n\
         [constants]\n\
         RESOURCETYPE = \"Linux\"\n",
    );
    let (c, e) = run(
        &w,
        &sim,
        "cmdb.csv",
        &["--map", "cmdb.toml", "--create-resources"],
    );
    assert_eq!(c, 0, "{e}");
    let resources = sim.state()["resources"].as_array().cloned().unwrap();
    let web = resources
        .iter()
        .find(|r| r["name"] == "web01.example.com")
        .unwrap_or_else(|| panic!("{resources:?}"));
    assert_eq!(web["type"], "Linux");
    assert_eq!(web["fields"]["DNSNAME"], "web01.example.com");
    let rows = w.report("cmdb.report.csv");
    assert_eq!(rows[1]["resource_name"], "db01.example.com");
    // Columns the map does not use are named: os and owner.
    assert!(e.contains("\"os\"") && e.contains("\"owner\""), "{e}");
}

#[test]
fn a_map_that_names_a_missing_column_or_leaves_a_brace_open_stops_before_anything() {
    let w = Work::new();
    let sim = Sim::start(&[]);
    w.write("cmdb.csv", "hostname,login\nweb01,root\n");
    w.write(
        "missing.toml",
        "[columns]\nACCOUNTNAME = \"{login}\"\nRESOURCENAME = \"{hostname}.{domain}\"\n",
    );
    let (c, e) = run(&w, &sim, "cmdb.csv", &["--map", "missing.toml"]);
    assert_eq!(c, 2, "{e}");
    assert!(e.contains("missing.toml line 3"), "{e}");
    assert!(e.contains("RESOURCENAME"), "{e}");
    assert!(e.contains("no column \"domain\""), "{e}");
    w.write(
        "open.toml",
        "[columns]\nACCOUNTNAME = \"{login}\"\nRESOURCENAME = \"{hostname\"\n",
    );
    let (c, e) = run(&w, &sim, "cmdb.csv", &["--map", "open.toml"]);
    assert_eq!(c, 2, "{e}");
    assert!(e.contains("open.toml line 3"), "{e}");
    assert!(e.contains("not closed"), "{e}");
    // A secret as a constant, or a password that would show in a note.
    w.write("secret.toml", "[constants]\nPASSWORD = \"Winter2026!\"\n");
    let (c, e) = run(&w, &sim, "cmdb.csv", &["--map", "secret.toml"]);
    assert_eq!(c, 2, "{e}");
    assert!(!e.contains("Winter2026"), "{e}");
    // A map that is not TOML is refused by its line, never quoted.
    w.write(
        "broken.toml",
        "[constants]\nPASSWORD = \"Winter2026!\nX = 1\n",
    );
    let (c, e) = run(&w, &sim, "cmdb.csv", &["--map", "broken.toml"]);
    assert_eq!(c, 2, "{e}");
    assert!(e.contains("line 2"), "{e}");
    assert!(!e.contains("Winter2026"), "{e}");
    assert_eq!(sim.received(), 0);
}

#[test]
fn a_preset_written_as_a_map_edited_and_given_back_imports_the_same() {
    let w = Work::new();
    let out = w
        .cmd()
        .args(["template", "map", "--from", "keepassxc", "-o", "kp.toml"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let map = w.read("kp.toml");
    assert!(map.contains("RESOURCENAME = \"{Title}\""), "{map}");
    // Edited as an administrator would: a type to create resources with.
    let edited = map.replace("# RESOURCETYPE = \"Linux\"", "RESOURCETYPE = \"Linux\"");
    assert_ne!(edited, map);
    w.write("kp.toml", &edited);
    let export = format!(
        "\"Group\",\"Title\",\"Username\",\"Password\",\"URL\",\"Notes\"\n\
         \"Root\",\"web-01\",\"root\",{pw},\"ssh://web-01\",\"n\"\n",
        pw = q(PW)
    );
    w.write("kp.csv", &export);
    for (args, report) in [
        (vec!["--map", "kp.toml"], "a.csv"),
        (vec!["--from", "keepassxc", "--map", "type.toml"], "b.csv"),
    ] {
        w.write("type.toml", "[constants]\nRESOURCETYPE = \"Linux\"\n");
        let sim = Sim::start(&[]);
        let mut all = args.clone();
        all.extend(["--create-resources", "--report", report]);
        let (c, e) = run(&w, &sim, "kp.csv", &all);
        assert_eq!(c, 0, "{args:?}: {e}");
        stored_as_exported(&sim, "root", Some("n"));
    }
    let strip = |r: &str| {
        crate::common::read_report(&w.path(r))
            .into_iter()
            .map(|mut row| {
                row.remove("resource_id");
                row.remove("account_id");
                row
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip("a.csv"), strip("b.csv"));
}

#[test]
fn a_keepassxc_export_into_an_empty_pam360_in_one_command_and_a_rerun_adds_nothing() {
    let w = Work::new();
    let sim = Sim::start(&[]);
    let mut export =
        String::from("\"Group\",\"Title\",\"Username\",\"Password\",\"URL\",\"Notes\"\n");
    for host in 0..3 {
        for user in ["root", "backup"] {
            export.push_str(&format!(
                "\"Root\",\"srv-{host:02}\",\"{user}\",{},\"ssh://srv-{host:02}.example.com\",\"\"\n",
                q(PW)
            ));
        }
    }
    w.write("kp.csv", &export);
    w.write("type.toml", "[constants]\nRESOURCETYPE = \"Linux\"\n");
    let args = [
        "--from",
        "keepassxc",
        "--map",
        "type.toml",
        "--create-resources",
    ];
    let (c, e) = run(&w, &sim, "kp.csv", &args);
    assert_eq!(c, 0, "{e}");
    assert!(e.contains("resources created: 3"), "{e}");
    assert_eq!(sim.accounts().len(), 6);
    let writes = sim.writes();
    let (c, e) = run(
        &w,
        &sim,
        "kp.csv",
        &[
            &args[..],
            &["--resume", "kp.report.csv", "--report", "again.csv"],
        ]
        .concat(),
    );
    assert_eq!(c, 0, "{e}");
    assert_eq!(outcomes(&w.report("again.csv")), ["skipped"; 6]);
    assert_eq!(sim.writes(), writes, "a rerun adds nothing");
}

#[test]
fn an_export_with_other_columns_is_told_the_known_columns_and_about_maps() {
    let w = Work::new();
    w.write(
        "kp.csv",
        "Group,Title,Username,Password,URL,Notes\nRoot,web-01,root,pw,,\n",
    );
    let out = w
        .cmd()
        .args(["add-accounts", "kp.csv", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    let e = stderr(&out);
    assert!(
        e.contains("This job's columns: required ACCOUNTNAME"),
        "{e}"
    );
    assert!(e.contains("RESOURCETYPE"), "{e}");
    assert!(e.contains("--from keepassxc"), "{e}");
    assert!(e.contains("--map FILE"), "{e}");
    // Username is no misspelt ORGNAME.
    assert!(!e.contains("did you mean \"ORGNAME\""), "{e}");
}
