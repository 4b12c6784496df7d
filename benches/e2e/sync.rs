//! The third wave's cases: `--rate auto` against a server of known
//! capacity (with fixed rates beside it), a migration that creates 500
//! resources, the nightly rerun of a large file with 1 % new rows, and a
//! dry run through a column map.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::sim::{BIN, Sim, TOKEN, timed_run};
use super::{Row, dry_run_with, median, row, secs, side_by_side};

/// What the simulator saw of one run against `--capacity C`.
struct Seen {
    /// Answers that were not 503, per second, from `after` seconds past the
    /// first request to the last.
    answered_per_s: f64,
    /// 503s among all requests.
    overloaded_share: f64,
    requests: usize,
}

/// `--rate auto --concurrency 32` against `simulate --capacity C` for
/// C = 5, 40 and 200, and the fixed rates 0.5 × C and 2 × C beside it.
/// The auto runs hold C × `secs` one-account rows, so they last a little
/// more than `secs` and the first 30 s (finding the rate) are left out;
/// the fixed runs are shorter and measured whole.
pub fn rate_auto(dir: &Path, quick: bool, table: &mut Vec<Row>) {
    let secs = if quick { 45.0 } else { 60.0 };
    for cap in [5.0, 40.0, 200.0] {
        let seen = capacity_run(dir, cap, "auto", (cap * secs) as usize, 30.0);
        let ratio = seen.answered_per_s / cap;
        table.push(row(
            &format!(
                "--rate auto --concurrency 32, simulate --capacity {cap} ({} requests)",
                seen.requests
            ),
            format!("{:.1} req/s after 30 s", seen.answered_per_s),
            &format!("{:.1} % answered 503", seen.overloaded_share * 100.0),
            ratio,
            "≥ 0.85 × C, ≤ 2 % 503",
            ratio >= 0.85 && seen.overloaded_share <= 0.02,
        ));
        for factor in [0.5, 2.0] {
            let rate = cap * factor;
            let seen = capacity_run(dir, cap, &rate.to_string(), (rate * 15.0) as usize, 0.0);
            table.push(Row {
                case: format!("  fixed --rate {rate} (for comparison)"),
                value: format!("{:.1} req/s", seen.answered_per_s),
                baseline: format!("{:.1} % answered 503", seen.overloaded_share * 100.0),
                ratio: format!("{:.2}", seen.answered_per_s / cap),
                target: "(shown)".into(),
                ok: None,
            });
        }
    }
}

/// One run of `rows` one-account requests at `--rate RATE` against a fresh
/// `simulate --capacity CAP`; stopped (SIGINT, as cron's timeout would) if
/// it outlasts three times what the capacity allows.
fn capacity_run(dir: &Path, cap: f64, rate: &str, rows: usize, after: f64) -> Seen {
    let sim = Sim::start(&["--capacity", &cap.to_string()]);
    let input = dir.join(format!("cap{cap}-{rate}.csv"));
    let mut s = String::from("RESOURCEID,ACCOUNTNAME,PASSWORD\n");
    for i in 0..rows {
        s.push_str(&format!("{},cap_{i},pw{i}\n", 100 + i % 50));
    }
    std::fs::write(&input, s).unwrap();
    let mut child = Command::new(BIN)
        .arg("add-accounts")
        .arg(&input)
        .args(["--server", &sim.url(), "--chunk-size", "1", "-q"])
        .args(["--concurrency", "32", "--rate", rate, "--overwrite"])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let limit = Duration::from_secs_f64(3.0 * rows as f64 / cap + 10.0);
    let start = Instant::now();
    // Bounded in time: polled until done or past the limit.
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let state = sim.state();
    let times = |key: &str| -> Vec<f64> {
        state[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (arrivals, overloaded) = (times("arrivals"), times("overloaded_at"));
    let t0 = arrivals.first().copied().unwrap_or(0.0);
    let end = arrivals.last().copied().unwrap_or(0.0);
    let from = t0 + after;
    let answered = arrivals.iter().filter(|t| **t >= from).count()
        - overloaded.iter().filter(|t| **t >= from).count();
    Seen {
        answered_per_s: answered as f64 / (end - from).max(1e-9),
        overloaded_share: overloaded.len() as f64 / arrivals.len().max(1) as f64,
        requests: arrivals.len(),
    }
}

/// The request rate the simulator's latency and the client's concurrency
/// and rate allow: `--concurrency 16 --rate 1000` at 20 ms.
const BOUND_RATE: f64 = 800.0;

/// A migration into an empty PAM360: `resources` names with 40 accounts
/// each, `--create-resources`, 20 ms latency. Every request the simulator
/// received (the resource list, the creates, the look-ups of the new ids,
/// the adds) over the time from the first arrival to the last answer.
pub fn creates(dir: &Path, quick: bool, table: &mut Vec<Row>) {
    let resources = if quick { 100 } else { 500 };
    let input = dir.join("migration.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    writeln!(w, "RESOURCENAME,RESOURCETYPE,ACCOUNTNAME,PASSWORD,NOTES").unwrap();
    for r in 0..resources {
        for a in 0..40 {
            writeln!(
                w,
                "new-host-{r:04},Linux,svc_{a:02},\"P,w{r}&{a}\",migrated"
            )
            .unwrap();
        }
    }
    w.flush().unwrap();
    drop(w);
    let sim = Sim::start(&["--latency-ms", "20"]);
    let summary = dir.join("migration.json");
    let (_, v) = timed_run(
        Command::new(BIN)
            .arg("add-accounts")
            .arg(&input)
            .args(["--server", &sim.url(), "--create-resources", "-q"])
            .args(["--concurrency", "16", "--rate", "1000"]),
        &summary,
    );
    assert_eq!(v["resources_created"], resources, "{v}");
    assert_eq!(v["outcomes"]["added"], resources * 40, "{v}");
    let arrivals: Vec<f64> = sim.state()["arrivals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().unwrap())
        .collect();
    let span = arrivals.last().unwrap() - arrivals.first().unwrap() + 0.020;
    let achieved = arrivals.len() as f64 / span;
    table.push(row(
        &format!(
            "create {resources} resources, add 40 accounts to each: {} requests",
            arrivals.len()
        ),
        format!("{achieved:.0} req/s"),
        &format!("bound {BOUND_RATE:.0} req/s"),
        achieved / BOUND_RATE,
        "≥ 0.93×",
        achieved / BOUND_RATE >= 0.93,
    ));
}

/// The nightly rerun: a file of `rows` rows added the night before (through
/// `--history`), now with 1 % more. Its wall time against 1.1 × (the new
/// rows' requests at the bound rate + the offline dry run of the file).
pub fn nightly(dir: &Path, quick: bool, runs: usize, table: &mut Vec<Row>) {
    let rows = if quick { 20_000 } else { 100_000 };
    let input = dir.join("nightly.csv");
    let line = |i: usize| {
        format!(
            "{},svc_{i:07},\"Pw,{i}&\",nightly {}\n",
            10_000 + i % 5_000,
            i / 1000
        )
    };
    let mut s = String::from("RESOURCEID,ACCOUNTNAME,PASSWORD,NOTES\n");
    for i in 0..rows {
        s.push_str(&line(i));
    }
    std::fs::write(&input, &s).unwrap();
    let sim = Sim::start(&["--latency-ms", "20"]);
    let history = dir.join("history");
    std::fs::create_dir_all(&history).unwrap();
    let summary = dir.join("nightly.json");
    let night = || {
        timed_run(
            Command::new(BIN)
                .arg("add-accounts")
                .arg(&input)
                .args(["--server", &sim.url(), "-q", "--history"])
                .arg(&history)
                .args(["--concurrency", "16", "--rate", "1000"]),
            &summary,
        )
    };
    night();
    let new = rows / 100;
    for i in rows..rows + new {
        s.push_str(&line(i));
    }
    std::fs::write(&input, &s).unwrap();
    // --history names its reports by the second: the rerun is a later one.
    std::thread::sleep(Duration::from_millis(1100));
    let (took, v) = night();
    assert_eq!(v["outcomes"]["added"], new, "{v}");
    let requests = v["requests"].as_u64().unwrap();
    let offline = median(runs, || dry_run_with(&input, &[], &mut None));
    let bound = 1.1 * (requests as f64 / BOUND_RATE + offline);
    table.push(row(
        &format!("nightly rerun: {rows} done rows + {new} new ({requests} requests)"),
        secs(took),
        &format!("bound {} (offline dry run {})", secs(bound), secs(offline)),
        took / bound,
        "≤ 1× (1.1 × (requests ÷ 800/s + offline dry run))",
        took <= bound,
    ));
}

/// A CMDB-style file through a map of five templated columns, against the
/// same rows already under our names: offline dry runs, seven interleaved.
pub fn map(dir: &Path, quick: bool, pair_runs: usize, table: &mut Vec<Row>) {
    let rows = if quick { 100_000 } else { 500_000 };
    let cmdb = dir.join("cmdb.csv");
    let ours = dir.join("ours.csv");
    let mut a = std::io::BufWriter::new(std::fs::File::create(&cmdb).unwrap());
    let mut b = std::io::BufWriter::new(std::fs::File::create(&ours).unwrap());
    writeln!(a, "hostname,domain,login,secret,note,owner,os").unwrap();
    writeln!(b, "RESOURCENAME,ACCOUNTNAME,PASSWORD,NOTES,DNSNAME").unwrap();
    for i in 0..rows {
        let (host, login, pw) = (
            format!("Web{:04}", i % 5_000),
            format!("Svc_{i:07}"),
            format!("\"P,w{i}&\""),
        );
        writeln!(
            a,
            "{host},example.com,{login},{pw},from the CMDB,ops team,Linux"
        )
        .unwrap();
        writeln!(
            b,
            "{host}.example.com,{},{pw},from the CMDB (ops team),{}.example.com",
            login.to_lowercase(),
            host.to_lowercase()
        )
        .unwrap();
    }
    a.flush().unwrap();
    b.flush().unwrap();
    drop((a, b));
    let map = dir.join("cmdb.toml");
    std::fs::write(
        &map,
        "[columns]\n\
         RESOURCENAME = \"{hostname}.{domain}\"\n\
         ACCOUNTNAME = \"{login|lower}\"\n\
         PASSWORD = \"{secret}\"\n\
         NOTES = \"{note} ({owner})\"\n\
         DNSNAME = \"{hostname|lower}.{domain}\"\n",
    )
    .unwrap();
    let map_arg = ["--map", map.to_str().unwrap()];
    let (mapped, plain, ratio) = side_by_side(
        pair_runs,
        || dry_run_with(&cmdb, &map_arg, &mut None),
        || dry_run_with(&ours, &[], &mut None),
    );
    table.push(row(
        &format!("dry run {rows} rows through a map of five templated columns"),
        secs(mapped),
        &format!("the same rows under our names {}", secs(plain)),
        ratio,
        "≤ 1.5×",
        ratio <= 1.5,
    ));
}
