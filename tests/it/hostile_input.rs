//! Hostile and broken input through the binary: huge cells, huge headers, a
//! zip bomb, other encodings. Each is refused with a clear error (exit 2)
//! and nothing is sent.

use crate::common::{Sim, Work, outcomes};
use predicates::prelude::*;

#[test]
fn a_1_mb_cell_is_refused() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    let big = "x".repeat(1 << 20);
    w.write(
        "in.csv",
        &format!("RESOURCEID,ACCOUNTNAME,NOTES\n901,a,ok\n901,b,{big}\n"),
    );
    w.job(&sim, "add-accounts", "in.csv")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("row 3 holds"))
        .stderr(predicate::str::contains("damaged"));
    assert_eq!(sim.received(), 0);
}

#[test]
fn a_100000_column_header_is_refused() {
    let w = Work::new();
    let header: Vec<String> = (0..100_000).map(|i| format!("C{i}")).collect();
    w.write("in.csv", &format!("{}\n", header.join(",")));
    w.cmd()
        .args(["add-accounts", "in.csv", "--dry-run"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("the header has 100000 columns"));
}

#[test]
fn a_workbook_header_wider_than_allowed_is_refused() {
    let w = Work::new();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for c in 0..16_000u16 {
        ws.write_string(0, c, format!("C{c}")).unwrap();
    }
    wb.save(w.path("in.xlsx")).unwrap();
    w.cmd()
        .args(["add-accounts", "in.xlsx", "--dry-run"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("more than 1024 columns"));
}

#[test]
fn a_zip_bomb_workbook_is_refused_with_bounded_memory() {
    let w = Work::new();
    // A fixture file (made once by a script: a workbook whose
    // sharedStrings.xml inflates to 600 MiB of spaces); building it here
    // took ~40 s in an unoptimised test build.
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/fixtures/zip-bomb.xlsx"
        ),
        w.path("bomb.xlsx"),
    )
    .unwrap();
    assert!(std::fs::metadata(w.path("bomb.xlsx")).unwrap().len() < 5 << 20);
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "maxrss_kb=%M"])
        .arg(env!("CARGO_BIN_EXE_pam360-bulk"))
        .args(["add-accounts", "bomb.xlsx", "--dry-run"])
        .current_dir(w.dir.path())
        .output();
    // /usr/bin/time may be missing; then run it plainly and skip the memory figure.
    let out = match out {
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("maxrss_kb=") => o,
        _ => w
            .cmd()
            .args(["add-accounts", "bomb.xlsx", "--dry-run"])
            .output()
            .unwrap(),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("likely zip bomb"), "{stderr}");
    if let Some(kb) = stderr.split("maxrss_kb=").nth(1) {
        let kb: u64 = kb.trim().parse().unwrap();
        assert!(kb < 200 * 1024, "used {kb} KiB");
    } else {
        assert_eq!(out.status.code(), Some(2));
    }
}

#[test]
fn windows_1252_reads_with_encoding_and_is_refused_without_it() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    let mut bytes = b"RESOURCEID,ACCOUNTNAME,NOTES\n901,jos\xe9,caf\xe9 \x80\n".to_vec();
    std::fs::write(w.path("in.csv"), &bytes).unwrap();
    w.job(&sim, "add-accounts", "in.csv")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("row 2 is not valid UTF-8"))
        .stderr(predicate::str::contains("--encoding"));
    assert_eq!(sim.received(), 0);
    w.job(&sim, "add-accounts", "in.csv")
        .args(["--encoding", "windows-1252"])
        .assert()
        .success();
    let a = sim.account("jos\u{e9}");
    assert_eq!(a["NOTES"], "caf\u{e9} \u{20ac}");
    bytes.clear();
}

#[test]
fn an_unknown_encoding_label_is_a_usage_error() {
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    w.cmd()
        .args([
            "add-accounts",
            "in.csv",
            "--dry-run",
            "--encoding",
            "klingon",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown --encoding"));
}

#[test]
fn a_workbook_with_error_cells_reports_those_rows_invalid() {
    // A formula error cached as #N/A, as Excel saves it.
    let w = Work::new();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["RESOURCEID", "ACCOUNTNAME", "NOTES"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_number(1, 0, 901.0).unwrap();
    ws.write_string(1, 1, "ok").unwrap();
    ws.write_number(2, 0, 901.0).unwrap();
    ws.write_string(2, 1, "broken").unwrap();
    ws.write_formula(
        2,
        2,
        rust_xlsxwriter::Formula::new("=NA()").set_result("#N/A"),
    )
    .unwrap();
    wb.save(w.path("in.xlsx")).unwrap();
    w.cmd()
        .args(["add-accounts", "in.xlsx", "--dry-run"])
        .assert()
        .code(1);
    let rows = w.report("in.dry-run.report.csv");
    assert_eq!(outcomes(&rows), vec!["planned", "invalid"]);
    assert!(
        rows[1]["message"].contains("column NOTES: the cell holds the error #N/A"),
        "{}",
        rows[1]["message"]
    );
}
