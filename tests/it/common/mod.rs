//! Test harness: the real `pam360-bulk simulate` on 127.0.0.1:0, the real
//! binary against it, one scratch directory per test.

#![allow(dead_code)]

pub mod rogue;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const TOKEN: &str = "test-token-4f2a9c";

/// A simulator process; killed when dropped.
pub struct Sim {
    child: Child,
    pub url: String,
}

impl Sim {
    pub fn start(extra: &[&str]) -> Sim {
        Sim::start_reading(extra).0
    }

    /// A simulator serving HTTPS; returns it and its certificate's SHA-256.
    pub fn start_tls(cert_out: &Path, cn_only: bool) -> (Sim, String) {
        let mut args = vec!["--tls", cert_out.to_str().unwrap()];
        if cn_only {
            args.push("--tls-cn-only");
        }
        let (sim, mut banner) = Sim::start_reading(&args);
        let mut line = String::new();
        banner.read_line(&mut line).expect("certificate line");
        let fp = line
            .split("SHA-256 ")
            .nth(1)
            .map(|s| s.trim().trim_end_matches(')').to_string())
            .unwrap_or_else(|| panic!("no fingerprint in {line}"));
        (sim, fp)
    }

    fn start_reading(extra: &[&str]) -> (Sim, BufReader<std::process::ChildStdout>) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pam360-bulk"))
            .args(["simulate", "--listen", "127.0.0.1:0", "--token", TOKEN])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the simulator");
        let stdout = child.stdout.take().expect("simulator stdout");
        let mut banner = BufReader::new(stdout);
        let mut line = String::new();
        banner.read_line(&mut line).expect("simulator banner");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .unwrap_or_else(|| panic!("no URL in simulator banner: {line}"))
            .to_string();
        (Sim { child, url }, banner)
    }

    /// What the simulator stored.
    pub fn state(&self) -> Value {
        // The tests' own look at the state trusts whatever certificate it has.
        pam360_bulk::pam360::install_crypto();
        let client = reqwest::blocking::Client::builder()
            .tls_danger_accept_invalid_certs(true)
            .build()
            .expect("client");
        let body = client
            .get(format!("{}/simulator/state", self.url))
            .header("AUTHTOKEN", TOKEN)
            .send()
            .and_then(|r| r.text())
            .expect("simulator state");
        serde_json::from_str(&body).expect("state is JSON")
    }

    pub fn accounts(&self) -> Vec<Value> {
        self.state()["accounts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn requests(&self) -> Vec<Value> {
        self.state()["requests"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn received(&self) -> u64 {
        self.state()["received"].as_u64().unwrap_or(0)
    }

    /// Writes (POST) received, answered or not; reads are not counted.
    pub fn writes(&self) -> u64 {
        self.state()["writes"].as_u64().unwrap_or(0)
    }

    /// The stored fields of the account `name`.
    pub fn account(&self, name: &str) -> Value {
        self.accounts()
            .into_iter()
            .find(|a| a["fields"]["ACCOUNTNAME"] == name)
            .unwrap_or_else(|| panic!("account {name} not stored"))["fields"]
            .clone()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain HTTP client for the tests' own requests.
pub fn http_client() -> reqwest::blocking::Client {
    pam360_bulk::pam360::install_crypto();
    reqwest::blocking::Client::new()
}

/// A scratch directory.
pub struct Work {
    pub dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Work {
        Work {
            dir: tempfile::tempdir().expect("scratch dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).expect("write input");
        p
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// The binary, run in this directory, with no PAM360 settings inherited.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::cargo_bin("pam360-bulk").expect("binary");
        c.current_dir(self.dir.path())
            .env_remove("PAM360_URL")
            .env_remove("PAM360_AUTHTOKEN")
            .env_remove("PAM360_ORG")
            .env_remove("RUST_LOG")
            .timeout(Duration::from_secs(120));
        c
    }

    /// The binary pointed at `sim` with the right token.
    pub fn job(&self, sim: &Sim, job: &str, input: &str) -> assert_cmd::Command {
        let mut c = self.cmd();
        c.args([job, input, "--server", &sim.url, "--rate", "1000"])
            .env("PAM360_AUTHTOKEN", TOKEN);
        c
    }

    /// The report's rows as maps of column → value.
    pub fn report(&self, name: &str) -> Vec<std::collections::HashMap<String, String>> {
        read_report(&self.path(name))
    }
}

pub fn read_report(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("report {}: {e}", path.display()));
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// A finished run's exit code (-1 for a signal).
pub fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// A finished run's stderr as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Outcomes of a report, in order.
pub fn outcomes(rows: &[std::collections::HashMap<String, String>]) -> Vec<String> {
    rows.iter().map(|r| r["outcome"].clone()).collect()
}

/// Waits until `f` holds, at most `limit`.
pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Writes an XLSX file; `cell(row, col)` gives each cell.
pub fn xlsx(path: &Path, rows: &[Vec<Cell>]) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    // As a program that never calculated leaves it: no cached result.
    ws.set_formula_result_default("");
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell {
                Cell::Empty => {}
                Cell::Text(s) => {
                    ws.write_string(r, c, *s).unwrap();
                }
                Cell::Num(n) => {
                    ws.write_number(r, c, *n).unwrap();
                }
                Cell::Bool(b) => {
                    ws.write_boolean(r, c, *b).unwrap();
                }
                Cell::Date(y, m, d, hh, mm) => {
                    let dt = rust_xlsxwriter::ExcelDateTime::from_ymd(*y, *m, *d)
                        .unwrap()
                        .and_hms(*hh, *mm, 0)
                        .unwrap();
                    let fmt = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy hh:mm");
                    ws.write_datetime_with_format(r, c, &dt, &fmt).unwrap();
                }
                Cell::Formula(f) => {
                    ws.write_formula(r, c, *f).unwrap();
                }
                Cell::DateNum(n) => {
                    let fmt = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy hh:mm");
                    ws.write_number_with_format(r, c, *n, &fmt).unwrap();
                }
            }
        }
    }
    wb.save(path).unwrap();
}

pub enum Cell {
    Empty,
    Text(&'static str),
    Num(f64),
    Bool(bool),
    Date(u16, u8, u8, u16, u8),
    Formula(&'static str),
    /// A number shown as a date (any serial, even past year 9999).
    DateNum(f64),
}
