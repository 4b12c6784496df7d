//! The README's commands run as written, and the column reference of
//! docs/reference.md is generated from the definitions the code uses.
//!
//! How the README is read: every ```sh block, in order, in one scratch
//! folder holding a copy of `samples/` (and, for the cron script, what a
//! server folder holds: the export, the map, a token file and the server's
//! certificate), with `pam360-bulk` on the PATH:
//! - a block that starts with `#!/bin/sh` is a script: it runs whole, in an
//!   environment of its own, and must exit 0;
//! - any other block runs line by line (a line ending in `\` goes on):
//!   `export` sets the environment of the lines after it, `pam360-bulk
//!   simulate …` starts a simulator on a free port (its URL replaces
//!   `http://127.0.0.1:8282` from then on), and `cargo run --release
//!   --locked -- ARGS` is `pam360-bulk ARGS`. Each line must exit with the
//!   code its comment states (`# exit 1`), else 0.
//! - Lines that build or install (`cargo …`, `rustup …`) are what CI and
//!   the reader run; they are checked only to be one of those.
//!
//! The server of the cron script, `https://pam360.example.com:8282`, is a
//! simulator serving HTTPS whose certificate is the script's `pam360.pem`.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_pam360-bulk");
const PORT_IN_README: &str = "http://127.0.0.1:8282";
const SERVER_IN_README: &str = "https://pam360.example.com:8282";
const SERVER_FOLDER: &str = "/srv/pam360";

#[test]
fn column_tables_match_the_code() {
    let reference = std::fs::read_to_string(format!("{ROOT}/docs/reference.md")).unwrap();
    for (name, schema) in [
        ("accounts", &pam360_bulk::accounts::SCHEMA),
        ("requests", &pam360_bulk::requests::SCHEMA),
    ] {
        let begin = format!("<!-- columns:{name} -->\n");
        let end = format!("<!-- /columns:{name} -->");
        let start = reference
            .find(&begin)
            .unwrap_or_else(|| panic!("docs/reference.md lacks {begin}"))
            + begin.len();
        let stop = reference[start..].find(&end).unwrap() + start;
        assert_eq!(
            &reference[start..stop],
            schema.markdown(),
            "the {name} columns of docs/reference.md are stale: paste `cargo run --example columns -- {name}`"
        );
    }
}

/// The ```sh blocks of a Markdown text, each as its lines.
fn sh_blocks(markdown: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(b), l) => b.push(l.to_string()),
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "a ```sh block is never closed");
    blocks
}

/// Lines with their `\` continuations joined, and the exit code each
/// line's comment states (`# exit N`; 0 when it states none).
fn commands(block: &[String]) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in block {
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        pending.push_str(line);
        let whole = std::mem::take(&mut pending);
        let (command, comment) = match whole.find(" #") {
            Some(i) => (
                whole[..i].trim().to_string(),
                whole[i + 2..].trim().to_string(),
            ),
            None if whole.trim_start().starts_with('#') => (String::new(), String::new()),
            None => (whole.trim().to_string(), String::new()),
        };
        if command.is_empty() {
            continue;
        }
        let expected = comment
            .strip_prefix("exit ")
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        out.push((command, expected));
    }
    out
}

/// Simulators the README starts, stopped when the test ends.
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Servers {
    /// Starts `pam360-bulk simulate ARGS` on a free loopback port in `dir`;
    /// returns its URL and the lines it printed after it.
    fn start(&mut self, dir: &Path, args: &[&str]) -> (String, Vec<String>) {
        let mut child = Command::new(BIN)
            .arg("simulate")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the simulator");
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        out.read_line(&mut banner).unwrap();
        let url = banner
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .unwrap_or_else(|| panic!("no URL in {banner}"))
            .to_string();
        let mut more = Vec::new();
        if args.contains(&"--tls") {
            let mut l = String::new();
            out.read_line(&mut l).unwrap();
            more.push(l);
        }
        self.0.push(child);
        (url, more)
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A folder with `pam360-bulk` in it, for the PATH.
fn bin_dir(scratch: &Path) -> PathBuf {
    let dir = scratch.join(".bin");
    std::fs::create_dir_all(&dir).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(BIN, dir.join("pam360-bulk")).unwrap();
    dir
}

fn run_sh(dir: &Path, env: &HashMap<String, String>, script: &str) -> std::process::Output {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(script)
        .current_dir(dir)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null());
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: a README command that hangs fails the test.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            break child.wait_with_output().unwrap();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("README command did not end in 120 s: {script}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[test]
fn every_readme_command_runs_as_written() {
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    copy_dir(&Path::new(ROOT).join("samples"), &dir.join("samples"));
    let path = format!(
        "{}:{}",
        bin_dir(dir).display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let base: HashMap<String, String> = [
        ("PATH".to_string(), path),
        ("HOME".to_string(), dir.display().to_string()),
    ]
    .into();
    let mut servers = Servers(Vec::new());
    // The cron script's server folder and its HTTPS server.
    let srv = dir.join("srv");
    copy_dir(&Path::new(ROOT).join("samples"), &srv);
    std::fs::copy(srv.join("keepassxc-export.csv"), srv.join("export.csv")).unwrap();
    std::fs::write(srv.join("token"), "demo\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(srv.join("token"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    let cert = srv.join("pam360.pem");
    let (tls_url, _) = servers.start(dir, &["--token", "demo", "--tls", cert.to_str().unwrap()]);

    let mut env = base.clone();
    let mut sim_url: Option<String> = None;
    let mut ran = 0;
    for block in sh_blocks(&readme) {
        let text = block.join("\n");
        if block.first().is_some_and(|l| l.starts_with("#!/bin/sh")) {
            let script = text
                .replace(SERVER_FOLDER, srv.to_str().unwrap())
                .replace(SERVER_IN_README, &tls_url);
            let out = run_sh(dir, &base, &script);
            assert!(
                out.status.success(),
                "the README's script failed:\n{script}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let summary = std::fs::read_to_string(srv.join("last.json")).unwrap();
            assert!(summary.contains("\"exit_code\": 0"), "{summary}");
            ran += 1;
            continue;
        }
        for (command, expected) in commands(&block) {
            let command = match command.strip_prefix("cargo run --release --locked -- ") {
                Some(args) => format!("pam360-bulk {args}"),
                None => command,
            };
            if let Some(rest) = command.strip_prefix("export ") {
                for pair in rest.split_whitespace() {
                    let (k, v) = pair.split_once('=').expect("export NAME=value");
                    let v = match &sim_url {
                        Some(u) => v.replace(PORT_IN_README, u),
                        None => v.to_string(),
                    };
                    env.insert(k.to_string(), v);
                }
                continue;
            }
            if ["cargo ", "rustup "].iter().any(|p| command.starts_with(p)) {
                // Building, installing and testing: what CI and the reader run.
                continue;
            }
            if let Some(args) = command.strip_prefix("pam360-bulk simulate ") {
                let args: Vec<&str> = args.split_whitespace().collect();
                sim_url = Some(servers.start(dir, &args).0);
                continue;
            }
            let line = match &sim_url {
                Some(u) => command.replace(PORT_IN_README, u),
                None => command.clone(),
            };
            let out = run_sh(dir, &env, &line);
            assert_eq!(
                out.status.code(),
                Some(expected),
                "README: `{command}` exited {:?}, the README says {expected}:\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 6, "only {ran} README commands ran");
}
