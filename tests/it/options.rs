//! Options a user reaches for: a token file, a sheet by name, TSV input,
//! skipping unknown columns.

use crate::common::{Sim, TOKEN, Work, outcomes};
use predicates::prelude::*;

#[test]
fn the_token_comes_from_a_token_file_as_cron_uses_it() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write("in.csv", "RESOURCEID,ACCOUNTNAME\n901,a\n");
    // Written by `echo`, so with a final newline.
    w.write("token", &format!("{TOKEN}\n"));
    w.cmd()
        .args([
            "add-accounts",
            "in.csv",
            "--server",
            &sim.url,
            "--token-file",
            "token",
        ])
        .assert()
        .success();
    assert_eq!(sim.accounts().len(), 1);
    w.cmd()
        .args([
            "add-accounts",
            "in.csv",
            "--server",
            &sim.url,
            "--token-file",
            "missing",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read --token-file missing"));
    w.cmd()
        .args(["add-accounts", "in.csv", "--server", &sim.url])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("PAM360_AUTHTOKEN"));
}

#[test]
fn a_sheet_is_chosen_by_name_and_an_unknown_one_lists_the_sheets() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let notes = wb.add_worksheet();
    notes.set_name("Read me").unwrap();
    notes
        .write_string(0, 0, "This sheet explains the inventory.")
        .unwrap();
    let data = wb.add_worksheet();
    data.set_name("Accounts").unwrap();
    data.write_string(0, 0, "RESOURCEID").unwrap();
    data.write_string(0, 1, "ACCOUNTNAME").unwrap();
    data.write_number(1, 0, 901.0).unwrap();
    data.write_string(1, 1, "root").unwrap();
    wb.save(w.path("in.xlsx")).unwrap();
    w.job(&sim, "add-accounts", "in.xlsx")
        .args(["--sheet", "Accounts"])
        .assert()
        .success();
    assert_eq!(sim.accounts().len(), 1);
    w.job(&sim, "add-accounts", "in.xlsx")
        .args(["--sheet", "Inventory"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no sheet \"Inventory\"; its sheets are: Read me, Accounts",
        ));
    // The first sheet by default: here it has no usable header.
    w.job(&sim, "add-accounts", "in.xlsx")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown column"));
}

#[test]
fn tsv_input_is_read_by_tabs() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.tsv",
        "RESOURCEID\tACCOUNTNAME\tNOTES\n901\troot\thas, commas\n",
    );
    w.job(&sim, "add-accounts", "in.tsv").assert().success();
    assert_eq!(sim.account("root")["NOTES"], "has, commas");
}

#[test]
fn unknown_columns_are_skipped_with_a_warning_when_asked() {
    let sim = Sim::start(&[]);
    let w = Work::new();
    w.write(
        "in.csv",
        "RESOURCEID,ACCOUNTNAME,Owner email\n901,root,ops@example.com\n",
    );
    w.job(&sim, "add-accounts", "in.csv")
        .arg("--ignore-unknown-columns")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "ignoring unknown column \"Owner email\"",
        ));
    assert_eq!(outcomes(&w.report("in.report.csv")), vec!["added"]);
    assert!(sim.account("root").get("Owner email").is_none());
}
