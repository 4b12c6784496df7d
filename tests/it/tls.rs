//! TLS: verified by default, `--ca-cert`, `--pin-sha256` (also for a CN-only
//! certificate), and `--insecure` with its warning.

use crate::common::{Sim, Work, outcomes};
use predicates::prelude::*;

const INPUT: &str = "RESOURCEID,ACCOUNTNAME,PASSWORD\n901,root,pw\n901,admin,pw\n";

#[test]
fn a_self_signed_certificate_is_refused_by_default_and_accepted_with_ca_cert() {
    let w = Work::new();
    let (sim, _) = Sim::start_tls(&w.path("sim.pem"), false);
    w.write("in.csv", INPUT);
    w.job(&sim, "add-accounts", "in.csv")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("certificate"))
        .stderr(predicate::str::contains("nothing was sent"));
    assert_eq!(
        outcomes(&w.report("in.report.csv")),
        vec!["not_sent", "not_sent"]
    );
    assert_eq!(sim.received(), 0);

    w.job(&sim, "add-accounts", "in.csv")
        .args(["--ca-cert", "sim.pem"])
        .assert()
        .success();
    assert_eq!(outcomes(&w.report("in.report.csv")), vec!["added", "added"]);
}

#[test]
fn a_cn_only_certificate_needs_the_pin_and_a_wrong_pin_is_refused() {
    let w = Work::new();
    let (sim, fingerprint) = Sim::start_tls(&w.path("cn.pem"), true);
    w.write("in.csv", INPUT);
    // rustls refuses a certificate without subjectAltName even as a root.
    w.job(&sim, "add-accounts", "in.csv")
        .args(["--ca-cert", "cn.pem"])
        .assert()
        .code(2);
    let mut wrong = fingerprint.clone().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    w.job(&sim, "add-accounts", "in.csv")
        .args(["--pin-sha256", std::str::from_utf8(&wrong).unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not match --pin-sha256"));
    assert_eq!(sim.received(), 0);

    // Colons are allowed, as certificate viewers print them.
    let with_colons: Vec<String> = fingerprint
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8(c.to_vec()).unwrap().to_uppercase())
        .collect();
    w.job(&sim, "add-accounts", "in.csv")
        .args(["--pin-sha256", &with_colons.join(":")])
        .assert()
        .success();
    assert_eq!(sim.accounts().len(), 2);
}

#[test]
fn insecure_works_and_warns_on_every_run() {
    let w = Work::new();
    let (sim, _) = Sim::start_tls(&w.path("sim.pem"), true);
    w.write("in.csv", INPUT);
    for _ in 0..2 {
        w.job(&sim, "add-accounts", "in.csv")
            .arg("--insecure")
            .assert()
            .success()
            .stderr(predicate::str::contains("--insecure"));
    }
    assert_eq!(sim.accounts().len(), 2);
}

#[test]
fn a_malformed_pin_is_a_usage_error() {
    let w = Work::new();
    w.write("in.csv", INPUT);
    w.cmd()
        .args([
            "add-accounts",
            "in.csv",
            "--server",
            "https://127.0.0.1:9",
            "--pin-sha256",
            "abc",
        ])
        .env("PAM360_AUTHTOKEN", "t")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("64 hex digits"));
}
