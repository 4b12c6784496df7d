//! The simulator in a process of its own, as the tests run it, and what
//! it tells about the requests it received.

use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_pam360-bulk");
pub const TOKEN: &str = "bench-token";

/// `pam360-bulk simulate` in a process of its own, as the tests run it, so
/// the client and the simulator do not share a process; killed when dropped.
pub struct Sim {
    child: std::process::Child,
    url: String,
}

impl Sim {
    pub fn start(args: &[&str]) -> Sim {
        use std::io::BufRead;
        let mut child = Command::new(BIN)
            .args(["simulate", "--listen", "127.0.0.1:0", "--token", TOKEN])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the simulator");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .expect("simulator URL")
            .to_string();
        Sim { child, url }
    }

    /// `/simulator/state`: what it stored and when each request arrived.
    pub fn state(&self) -> serde_json::Value {
        let body = {
            pam360_bulk::pam360::install_crypto();
            reqwest::blocking::Client::new()
        }
        .get(format!("{}/simulator/state", self.url))
        .header("AUTHTOKEN", TOKEN)
        .send()
        .expect("the simulator's state")
        .text()
        .unwrap();
        serde_json::from_str(&body).unwrap()
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` (a pam360-bulk run) with `--summary-json FILE` added, checks
/// that it succeeded, and returns its wall time in seconds and the summary.
pub fn timed_run(cmd: &mut Command, summary: &std::path::Path) -> (f64, serde_json::Value) {
    let start = std::time::Instant::now();
    let out = cmd
        .arg("--summary-json")
        .arg(summary)
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .expect("run pam360-bulk");
    let took = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_slice(&std::fs::read(summary).unwrap()).unwrap();
    (took, v)
}
