//! The first hour of a new administrator: proxies, European CSV, header
//! errors, help, the manual, logs that show requests, progress, words.

mod common;

use common::rogue::{Rogue, http};
use common::{Sim, TOKEN, Work, outcomes};

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_proxy_in_the_environment_is_never_used_for_loopback_or_the_simulator() {
    let proxy = Rogue::start("127.0.0.1", |_, _| http(502, &[], b"proxy says no"));
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    for var in ["HTTP_PROXY", "http_proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY"] {
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
    assert!(proxy.requests().is_empty(), "a loopback request went to the proxy");
}
