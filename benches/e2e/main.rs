//! End-to-end benchmark: generates its own data, runs every case of the
//! performance targets with its baseline beside it in the same run, and
//! prints a table of medians and ratios. `cargo bench --bench e2e`
//! (`E2E_QUICK=1` for a smaller, faster pass; `E2E_SKIP_3M=1` to skip 3M rows;
//! `E2E_ONLY_DRY_RUN=1` for the CSV and XLSX dry runs and their baselines
//! alone; `E2E_ONLY_LIVE=1` for the live plan by names alone;
//! `E2E_ONLY_AUTO=1` for `--rate auto` against known capacities alone;
//! `E2E_ONLY_SYNC=1` for the migration with creates, the nightly rerun and
//! the map alone; `E2E_BASELINE_BIN=path` to time an earlier build's
//! offline dry run beside this one's).

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod sim;
mod sync;

use sim::{BIN, Sim, TOKEN, timed_run};

struct Row {
    case: String,
    value: String,
    baseline: String,
    ratio: String,
    target: String,
    ok: Option<bool>,
}

fn main() {
    let quick = std::env::var_os("E2E_QUICK").is_some();
    let dir = tempfile::tempdir().expect("scratch dir");
    let mut table: Vec<Row> = Vec::new();
    let runs = if quick { 1 } else { 3 };
    let big = if quick { 200_000 } else { 1_000_000 };
    if std::env::var_os("E2E_ONLY_LIVE").is_some() {
        let (live, requests, offline, bound) = live_plan(dir.path(), quick, runs);
        println!(
            "live plan by names: {requests} reads in {}, offline dry run {}, bound {}: {}",
            secs(live),
            secs(offline),
            secs(bound),
            if live <= bound { "ok" } else { "MISSED" }
        );
        return;
    }

    // Seven runs each, taken in turns, so a busy moment of the shared
    // machine slows both sides of a ratio rather than one; the ratio is the
    // median of the seven side-by-side ratios.
    let pair_runs = if quick { 1 } else { 7 };
    if std::env::var_os("E2E_ONLY_AUTO").is_some() {
        sync::rate_auto(dir.path(), quick, &mut table);
        print_table(&table);
        return;
    }
    if std::env::var_os("E2E_ONLY_SYNC").is_some() {
        sync_cases(dir.path(), quick, runs, pair_runs, &mut table);
        print_table(&table);
        return;
    }

    // ---- dry run of a large CSV, against a bare csv pass and Python ----
    let csv_path = dir.path().join("accounts.csv");
    let size = gen_csv(&csv_path, big);
    eprintln!("generated {big} rows, {:.0} MB", size as f64 / 1e6);
    settle();
    let mut dry_rss = None;
    let (dry, bare, dry_ratio) = side_by_side(
        pair_runs,
        || dry_run_once(&csv_path, &mut dry_rss),
        || bare_csv(&csv_path),
    );
    if let Some(earlier) = std::env::var_os("E2E_BASELINE_BIN") {
        let earlier = std::path::PathBuf::from(earlier);
        let (now, then, ratio) = side_by_side(
            pair_runs,
            || dry_run_once(&csv_path, &mut None),
            || dry_run_of(&earlier, &csv_path, &[], &mut None),
        );
        table.push(row(
            "  vs the earlier build in E2E_BASELINE_BIN",
            secs(now),
            &format!("earlier build {}", secs(then)),
            ratio,
            "≤ 1.1×",
            ratio <= 1.1,
        ));
    }
    let python = python_baseline(&csv_path, dir.path());
    let mb = size as f64 / (1 << 20) as f64;
    table.push(row(
        &format!("dry run {big} rows ({mb:.0} MiB CSV)"),
        secs(dry),
        &format!("csv ByteRecord pass {}", secs(bare)),
        dry_ratio,
        "≤ 6×",
        dry_ratio <= 6.0,
    ));
    if let Some(py) = python {
        table.push(row(
            "  vs Python csv + json",
            secs(dry),
            &format!("Python {}", secs(py)),
            py / dry,
            "≥ 5× faster",
            py / dry >= 5.0,
        ));
    } else {
        table.push(Row {
            case: "  vs Python csv + json".into(),
            value: "-".into(),
            baseline: "python3 not found".into(),
            ratio: "-".into(),
            target: "≥ 5× faster".into(),
            ok: None,
        });
    }
    if let Some(rss) = dry_rss {
        let ratio = rss as f64 / size as f64;
        table.push(row(
            "  peak memory",
            format!("{:.0} MiB", rss as f64 / (1 << 20) as f64),
            &format!("file {mb:.0} MiB"),
            ratio,
            "≤ 2× file",
            ratio <= 2.0,
        ));
    }

    // ---- workbook: dry run against calamine's bare read ----
    let xlsx = dir.path().join("accounts.xlsx");
    let xrows = if quick { 20_000 } else { 100_000 };
    gen_xlsx(&xlsx, xrows);
    settle();
    let (xdry, cal, xratio) = side_by_side(
        pair_runs,
        || dry_run_once(&xlsx, &mut None),
        || calamine_bare(&xlsx),
    );
    table.push(row(
        &format!("dry run {xrows}-row XLSX"),
        secs(xdry),
        &format!("calamine bare read {}", secs(cal)),
        xratio,
        "≤ 1.5×",
        xratio <= 1.5,
    ));

    if std::env::var_os("E2E_ONLY_DRY_RUN").is_some() {
        print_table(&table);
        return;
    }

    // ---- scaling: 100k, 1M, 3M rows ----
    if !quick {
        let mut per_row = Vec::new();
        let sizes: &[usize] = if std::env::var_os("E2E_SKIP_3M").is_some() {
            &[100_000, 1_000_000]
        } else {
            &[100_000, 1_000_000, 3_000_000]
        };
        // Every size in each round, so a busy moment weighs on all of them.
        let files: Vec<(usize, std::path::PathBuf, u64)> = sizes
            .iter()
            .map(|&n| {
                let p = dir.path().join(format!("scale{n}.csv"));
                let bytes = gen_csv(&p, n);
                (n, p, bytes)
            })
            .collect();
        settle();
        let mut times = vec![Vec::new(); files.len()];
        let mut rss = vec![None; files.len()];
        // An untimed round first, as for the ratios above.
        for (_, p, _) in &files {
            dry_run_once(p, &mut None);
        }
        for _ in 0..pair_runs {
            for (k, (_, p, _)) in files.iter().enumerate() {
                times[k].push(dry_run_once(p, &mut rss[k]));
            }
        }
        for (k, (n, p, bytes)) in files.iter().enumerate() {
            let (n, t) = (*n, middle(std::mem::take(&mut times[k])));
            per_row.push((n as f64, t));
            let mem = rss[k].map(|r| r as f64 / *bytes as f64).unwrap_or(f64::NAN);
            table.push(Row {
                case: format!("scaling: dry run {n} rows"),
                value: secs(t),
                baseline: format!("{:.2} µs/row", t / n as f64 * 1e6),
                ratio: format!("{mem:.2}× file"),
                // The memory bound is for large files (1M, 3M rows); at 100k
                // rows the process's fixed ~30 MiB dominates: shown, not judged.
                target: if n >= 1_000_000 {
                    "mem ≤ 2× file".into()
                } else {
                    "(shown)".into()
                },
                ok: (n >= 1_000_000).then_some(mem <= 2.0),
            });
            let _ = std::fs::remove_file(p);
        }
        // Linear growth is t = fixed + rows × cost: the cost of each further
        // row, between one size and the next, stays the same. (Time per row
        // of the whole run also counts the fixed start-up and report sync,
        // which weigh on 100k rows only.)
        let slopes: Vec<f64> = per_row
            .windows(2)
            .map(|w| (w[1].1 - w[0].1) / (w[1].0 - w[0].0))
            .collect();
        let spread = slopes.iter().cloned().fold(f64::MIN, f64::max)
            / slopes.iter().cloned().fold(f64::MAX, f64::min);
        let shown: Vec<String> = slopes
            .iter()
            .map(|s| format!("{:.2} µs", s * 1e6))
            .collect();
        // Between 100k→1M and 1M→3M, n log n growth would give a ratio of
        // about 1.1 and quadratic growth 3.6: 1.5 tells linear from worse,
        // with room for this shared machine's moments.
        table.push(row(
            "  cost of each further row, between sizes",
            shown.join(" / "),
            "",
            spread,
            "≈ 1 (linear: ≤ 1.5)",
            spread <= 1.5,
        ));
    }

    // ---- sending against the simulator with 20 ms latency ----
    let sim = Sim::start(&["--latency-ms", "20"]);
    let secs_each = if quick { 1.0 } else { 2.5 };
    let mut conc16 = 0.0;
    for (conc, rate) in [(1usize, 1000.0), (4, 1000.0), (16, 1000.0), (16, 100.0)] {
        let expected = f64::min(rate, conc as f64 / 0.020);
        let n = (expected * secs_each) as usize;
        let achieved = median(runs, || send_run(&sim, dir.path(), n, conc, rate));
        if conc == 16 && rate > 500.0 {
            conc16 = achieved;
        }
        table.push(row(
            &format!("send: concurrency {conc}, --rate {rate}"),
            format!("{achieved:.0} req/s"),
            &format!("expected {expected:.0} req/s"),
            achieved / expected,
            // Starts keep a 1.05 s margin per ⌈R⌉+1 (so arrivals, not just
            // starts, stay within the rate at the server): 0.93× is the
            // target DESIGN sets for that.
            "≥ 0.93×",
            achieved / expected >= 0.93,
        ));
    }
    let seq = sequential_loop(&sim, if quick { 25 } else { 60 });
    table.push(row(
        "  concurrency 16 vs the vendor sample's loop",
        format!("{conc16:.0} req/s"),
        &format!("sequential {seq:.0} req/s"),
        conc16 / seq,
        "≥ 10×",
        conc16 / seq >= 10.0,
    ));
    let body_us = body_cost();
    table.push(row(
        "  building + encoding one 50-account body",
        format!("{body_us:.1} µs"),
        "20 ms latency",
        body_us / 20_000.0,
        "small share",
        body_us / 20_000.0 < 0.05,
    ));
    drop(sim);

    // ---- a live plan by names: reads against 20 ms latency ----
    let (live, requests, offline, bound) = live_plan(dir.path(), quick, runs);
    table.push(row(
        &format!("live plan by names: {requests} reads, concurrency 16, --rate 1000"),
        secs(live),
        &format!("bound {}", secs(bound)),
        live / bound,
        "≤ 1× (1.1 × reads ÷ 800/s + offline dry run)",
        live <= bound,
    ));
    table.push(row(
        "  the same input, offline dry run",
        secs(offline),
        "",
        1.0,
        "",
        true,
    ));

    // ---- the rate limiter, seen from the server ----
    let (max_in_window, limit) = rate_window(dir.path());
    table.push(row(
        &format!("rate limit: most starts in any 1 s at --rate {limit}"),
        max_in_window.to_string(),
        "",
        max_in_window as f64 / limit,
        &format!("≤ {}", limit.ceil()),
        max_in_window as f64 <= limit.ceil(),
    ));

    // ---- the simulator itself ----
    let (rps, stalled) = simulator_throughput(if quick { 1.0 } else { 3.0 });
    table.push(row(
        "simulator, 64 concurrent clients",
        format!("{rps:.0} req/s"),
        &format!("{stalled} stalled or failed"),
        rps / 10_000.0,
        "≥ 10,000 req/s, 0 stalled",
        rps >= 10_000.0 && stalled == 0,
    ));

    sync_cases(dir.path(), quick, runs, pair_runs, &mut table);
    sync::rate_auto(dir.path(), quick, &mut table);
    print_table(&table);
}

/// The migration with creates, the nightly rerun and the map.
fn sync_cases(dir: &Path, quick: bool, runs: usize, pair_runs: usize, table: &mut Vec<Row>) {
    sync::creates(dir, quick, table);
    sync::nightly(dir, quick, runs, table);
    sync::map(dir, quick, pair_runs, table);
}

fn row(
    case: &str,
    value: impl Into<String>,
    baseline: &str,
    ratio: f64,
    target: &str,
    ok: bool,
) -> Row {
    Row {
        case: case.into(),
        value: value.into(),
        baseline: baseline.into(),
        ratio: format!("{ratio:.2}"),
        target: target.into(),
        ok: Some(ok),
    }
}

fn secs(s: f64) -> String {
    format!("{s:.3} s")
}

fn median(runs: usize, mut f: impl FnMut() -> f64) -> f64 {
    middle((0..runs).map(|_| f()).collect())
}

fn middle(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Writes what is still only in the page cache (a generated input, the
/// Python baseline's report) to disk before a case is timed: otherwise its
/// write-back runs during the case and holds up the report's fsync.
fn settle() {
    let _ = Command::new("sync").status();
}

/// Medians of a case and of its baseline, run in turns after one untimed
/// round, and the median of the ratio of each case run to the baseline run
/// just before it.
fn side_by_side(
    runs: usize,
    mut case: impl FnMut() -> f64,
    mut baseline: impl FnMut() -> f64,
) -> (f64, f64, f64) {
    // One untimed round first: the first runs after a pause are slower
    // here (caches, and cores that idled), whichever program runs.
    baseline();
    case();
    let (mut a, mut b, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let base = baseline();
        let took = case();
        a.push(took);
        b.push(base);
        r.push(took / base);
    }
    (middle(a), middle(b), middle(r))
}

/// The benchmark file: 5,000 resources, quoted passwords with commas and
/// quotes, about 116 bytes a row.
fn gen_csv(path: &Path, rows: usize) -> u64 {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(w, "RESOURCEID,ACCOUNTNAME,PASSWORD,ACCOUNTPASSWORDPOLICY,RECORD_RDP_SESSIONS,ACCOUNT_RESOURCE_GROUP_IDS,NOTES").unwrap();
    let mut seed = 0x2545F4914F6CDD1Du64;
    let chars = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789&+=%$!,";
    for i in 0..rows {
        let mut pw = String::with_capacity(20);
        for _ in 0..16 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            pw.push(chars[(seed % chars.len() as u64) as usize] as char);
        }
        if i % 7 == 0 {
            pw.push_str("\"\"q");
        }
        writeln!(
            w,
            "{},svc_acct_{i:08},\"{pw}\",Strong,{},3002;3003,\"migrated from vault batch {} ok\"",
            10_000 + i % 5_000,
            if i % 2 == 0 { "true" } else { "false" },
            i / 1000
        )
        .unwrap();
    }
    w.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

fn bare_csv(path: &Path) -> f64 {
    let t = Instant::now();
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    let mut rec = csv::ByteRecord::new();
    let mut n = 0u64;
    while r.read_byte_record(&mut rec).unwrap() {
        n += rec.len() as u64;
    }
    std::hint::black_box(n);
    t.elapsed().as_secs_f64()
}

/// Wall time of one dry run; `rss` keeps the largest peak RSS seen.
fn dry_run_once(input: &Path, rss: &mut Option<u64>) -> f64 {
    dry_run_with(input, &[], rss)
}

/// Wall time of one dry run of this build with `args` added.
fn dry_run_with(input: &Path, args: &[&str], rss: &mut Option<u64>) -> f64 {
    dry_run_of(Path::new(BIN), input, args, rss)
}

/// Wall time of one dry run of the binary `bin` (this build, or an earlier
/// one to compare with); `rss` keeps the largest peak RSS seen.
fn dry_run_of(bin: &Path, input: &Path, args: &[&str], rss: &mut Option<u64>) -> f64 {
    let report = input.with_extension("report.csv");
    let timed = Path::new("/usr/bin/time").exists();
    let mut cmd = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "maxrss_kb=%M"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(["add-accounts"])
        .arg(input)
        .args(["--dry-run", "-q", "--report"])
        .arg(&report)
        .args(args);
    let start = Instant::now();
    let out = cmd.output().expect("run pam360-bulk");
    let took = start.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    if let Some(kb) = err
        .split("maxrss_kb=")
        .nth(1)
        .and_then(|s| s.trim().parse::<u64>().ok())
    {
        *rss = Some(rss.unwrap_or(0).max(kb * 1024));
    }
    assert!(out.status.code() == Some(0), "dry run failed: {err}");
    took
}

fn python_baseline(input: &Path, dir: &Path) -> Option<f64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/baseline.py");
    let start = Instant::now();
    let out = Command::new("python3")
        .arg(script)
        .arg(input)
        .arg(dir.join("py.report.csv"))
        .output()
        .ok()?;
    out.status.success().then(|| start.elapsed().as_secs_f64())
}

fn gen_xlsx(path: &Path, rows: u32) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet_with_constant_memory().unwrap();
    for (c, h) in [
        "RESOURCEID",
        "ACCOUNTNAME",
        "PASSWORD",
        "ACCOUNTPASSWORDPOLICY",
        "RECORD_RDP_SESSIONS",
        "NOTES",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for r in 1..=rows {
        ws.write_number(r, 0, f64::from(10_000 + r % 5_000))
            .unwrap();
        ws.write_string(r, 1, format!("svc_acct_{r:08}")).unwrap();
        ws.write_string(r, 2, format!("Pw&{r}+x=%y")).unwrap();
        ws.write_string(r, 3, "Strong").unwrap();
        ws.write_boolean(r, 4, r % 2 == 0).unwrap();
        ws.write_string(r, 5, format!("migrated from vault batch {}", r / 1000))
            .unwrap();
    }
    wb.save(path).unwrap();
}

fn calamine_bare(path: &Path) -> f64 {
    use calamine::{Reader, Xlsx, open_workbook};
    let t = Instant::now();
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let sheet = wb.sheet_names()[0].clone();
    let mut cells = wb.worksheet_cells_reader(&sheet).unwrap();
    let mut n = 0u64;
    while let Some(c) = cells.next_cell().unwrap() {
        n += c.get_position().0 as u64;
    }
    std::hint::black_box(n);
    t.elapsed().as_secs_f64()
}

/// Requests per second of one send run (one account per request).
fn send_run(sim: &Sim, dir: &Path, n: usize, conc: usize, rate: f64) -> f64 {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let run = RUN.fetch_add(1, Ordering::SeqCst);
    let input = dir.join(format!("send{run}.csv"));
    let mut s = String::from("RESOURCEID,ACCOUNTNAME,PASSWORD\n");
    for i in 0..n {
        s.push_str(&format!("{},run{run}_acct{i},pw{i}&x\n", 100 + i % 50));
    }
    std::fs::write(&input, s).unwrap();
    let summary = dir.join(format!("send{run}.json"));
    let out = Command::new(BIN)
        .args(["add-accounts"])
        .arg(&input)
        .args(["--server", &sim.url(), "--chunk-size", "1", "-q"])
        .args([
            "--concurrency",
            &conc.to_string(),
            "--rate",
            &rate.to_string(),
        ])
        .arg("--summary-json")
        .arg(&summary)
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    // The send phase only: start-up, reading and the report are measured by
    // the dry-run cases.
    v["requests_per_s"].as_f64().unwrap()
}

/// The live plan of issue 12: 100,000 rows by name over 2,000 resources
/// (10,000 rows and 200 resources with `E2E_QUICK`), a simulator with 20 ms
/// latency holding them and one account each. Returns the median wall time
/// of the live plan, its requests, the offline dry run's median, and the
/// bound: 1.1 × requests ÷ min(rate, concurrency ÷ latency) + offline.
fn live_plan(dir: &Path, quick: bool, runs: usize) -> (f64, u64, f64, f64) {
    let (rows, resources) = if quick {
        (10_000, 200)
    } else {
        (100_000, 2_000)
    };
    let inventory = dir.join("inventory.csv");
    let mut inv = String::from("RESOURCENAME,RESOURCEID,ACCOUNTNAME\n");
    for r in 0..resources {
        inv.push_str(&format!("host-{r:05},{},admin\n", 20_000 + r));
    }
    std::fs::write(&inventory, inv).unwrap();
    let input = dir.join("by-name.csv");
    let mut s = String::from("RESOURCENAME,ACCOUNTNAME,PASSWORD\n");
    for i in 0..rows {
        let r = i % resources;
        // One row in fifty is an account the server holds already.
        let name = if i % 50 == 0 && i / resources == 0 {
            "admin".to_string()
        } else {
            format!("svc_{i:07}")
        };
        s.push_str(&format!("host-{r:05},{name},pw{i}&x\n"));
    }
    std::fs::write(&input, s).unwrap();
    let sim = Sim::start(&[
        "--latency-ms",
        "20",
        "--inventory",
        inventory.to_str().unwrap(),
    ]);
    let summary = dir.join("live.json");
    let mut requests = 0;
    let mut live_once = || {
        let (took, v) = timed_run(
            Command::new(BIN)
                .args(["add-accounts"])
                .arg(&input)
                .args(["--server", &sim.url(), "--dry-run=server", "-q"])
                .args(["--overwrite", "--concurrency", "16", "--rate", "1000"]),
            &summary,
        );
        requests = v["requests"].as_u64().unwrap();
        took
    };
    let live = median(runs, &mut live_once);
    let offline = median(runs, || dry_run_once(&input, &mut None));
    let bound = 1.1 * requests as f64 / f64::min(1000.0, 16.0 / 0.020) + offline;
    (live, requests, offline, bound)
}

/// The vendor sample's way: one request after another.
fn sequential_loop(sim: &Sim, n: usize) -> f64 {
    let client = {
        pam360_bulk::pam360::install_crypto();
        reqwest::blocking::Client::new()
    };
    let url = format!("{}/restapi/json/v1/resources/77/accounts", sim.url());
    let t = Instant::now();
    for i in 0..n {
        let data = format!(
            r#"{{"operation":{{"Details":{{"ACCOUNTLIST":[{{"ACCOUNTNAME":"seq{i}","PASSWORD":"pw"}}]}}}}}}"#
        );
        let r = client
            .post(&url)
            .header("AUTHTOKEN", TOKEN)
            .form(&[("INPUT_DATA", data)])
            .send()
            .unwrap();
        assert!(r.status().is_success());
    }
    n as f64 / t.elapsed().as_secs_f64()
}

/// Microseconds to build and form-encode the body of a 50-account request.
fn body_cost() -> f64 {
    use pam360_bulk::accounts::{Accounts, SCHEMA};
    use pam360_bulk::input::RawRow;
    use pam360_bulk::job::Job;
    use pam360_bulk::op::Op;
    use pam360_bulk::op::add_accounts::AddAccounts;
    let names: Vec<String> = [
        "RESOURCEID",
        "ACCOUNTNAME",
        "PASSWORD",
        "ACCOUNTPASSWORDPOLICY",
        "RECORD_RDP_SESSIONS",
        "ACCOUNT_RESOURCE_GROUP_IDS",
        "NOTES",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let header = SCHEMA.resolve(&names, false).unwrap();
    let items: Vec<_> = (0..50)
        .map(|i| {
            let mut row = RawRow::default();
            for f in [
                "901",
                &format!("svc{i}"),
                "Pa$$ W&rd+=%\"",
                "Strong",
                "true",
                "3002;3003",
                "migrated from vault",
            ] {
                row.record.push_field(f);
            }
            Accounts.check(&header, &row).unwrap()
        })
        .collect();
    let refs: Vec<_> = items.iter().collect();
    let rounds = 2000;
    let t = Instant::now();
    for _ in 0..rounds {
        let call = AddAccounts {
            resource_id: 901,
            org: None,
            accounts: refs.clone(),
        }
        .call();
        let encoded: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("INPUT_DATA", call.input.as_deref().unwrap())
            .finish();
        std::hint::black_box(encoded);
    }
    t.elapsed().as_secs_f64() * 1e6 / rounds as f64
}

/// Runs 20 requests at --rate 5 and returns the most that started (arrived)
/// within any one second, and the rate.
fn rate_window(dir: &Path) -> (usize, f64) {
    let sim = Sim::start(&[]);
    let input = dir.join("rate.csv");
    let rows: String = (0..20).map(|i| format!("{},r{i}\n", 500 + i)).collect();
    std::fs::write(&input, format!("RESOURCEID,ACCOUNTNAME\n{rows}")).unwrap();
    let rate = 5.0;
    let out = Command::new(BIN)
        .args(["add-accounts"])
        .arg(&input)
        .args([
            "--server",
            &sim.url(),
            "--rate",
            "5",
            "--concurrency",
            "8",
            "-q",
        ])
        .env("PAM360_AUTHTOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success());
    let state = sim.state();
    let arrivals: Vec<f64> = state["arrivals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let most = arrivals
        .iter()
        .enumerate()
        .map(|(i, t)| arrivals[i..].iter().filter(|a| **a - t < 1.0).count())
        .max()
        .unwrap_or(0);
    (most, rate)
}

/// 64 client threads posting as fast as they can for `secs` seconds.
fn simulator_throughput(secs: f64) -> (f64, u64) {
    let sim = Sim::start(&[]);
    let url = Arc::new(format!(
        "{}/restapi/json/v1/resources/1/accounts",
        sim.url()
    ));
    let done = Arc::new(AtomicU64::new(0));
    let stalled = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let threads: Vec<_> = (0..64)
        .map(|t| {
            let (url, done, stalled, stop) = (url.clone(), done.clone(), stalled.clone(), stop.clone());
            std::thread::spawn(move || {
                let client = { pam360_bulk::pam360::install_crypto(); reqwest::blocking::Client::builder() }.timeout(Duration::from_secs(5)).build().unwrap();
                // Bounded in count as well as time.
                for i in 0..200_000u64 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let data = format!(r#"{{"operation":{{"Details":{{"ACCOUNTLIST":[{{"ACCOUNTNAME":"t{t}_{i}"}}]}}}}}}"#);
                    match client.post(url.as_str()).header("AUTHTOKEN", TOKEN).form(&[("INPUT_DATA", data)]).send() {
                        Ok(r) if r.status().is_success() => {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            stalled.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let took = start.elapsed().as_secs_f64();
    (
        done.load(Ordering::Relaxed) as f64 / took,
        stalled.load(Ordering::Relaxed),
    )
}

fn print_table(rows: &[Row]) {
    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    println!(
        "\npam360-bulk end-to-end benchmark ({} cores, {machine})\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!("| case | measured | baseline | ratio | target | met |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for r in rows {
        let ok = match r.ok {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        println!(
            "| {} | {} | {} | {} | {} | {ok} |",
            r.case, r.value, r.baseline, r.ratio, r.target
        );
    }
}
