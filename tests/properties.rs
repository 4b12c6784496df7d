//! Property tests: random and mutated CSV and workbook bytes into the
//! readers, random cell values into both jobs' checks. Nothing panics, and
//! every row read is either valid or invalid with a reason.

use std::path::Path;

use pam360_bulk::accounts::Accounts;
use pam360_bulk::collect::Collector;
use pam360_bulk::input::{self, InputOptions, RawRow, Source};
use pam360_bulk::job::Job;
use pam360_bulk::requests::Requests;
use proptest::prelude::*;

const VALID_CSV: &str = "RESOURCEID,ACCOUNTNAME,PASSWORD,RECORD_RDP_SESSIONS,ACCOUNT_RESOURCE_GROUP_IDS,TOTP_DIGITS,CUSTOM:Owner\n\
901,root,\"p,w\"\"x\",true,3002;3003,6,IT\n902,admin,secret,no,,8,\n901,\"multi\nline\",x,1,[\"1\"],7,Ops\n";

/// Reads `path` and checks it as `job`; on success, every row is accounted for.
fn read_and_check<J: Job>(job: &J, path: &Path) -> Result<(), TestCaseError> {
    let mut collector = Collector::new(job, false, None);
    let result = input::read(
        &Source::Path(path.to_path_buf()),
        &InputOptions::default(),
        &mut collector,
        &std::sync::atomic::AtomicBool::new(false),
    );
    let data = collector.finish();
    if let Ok(stats) = result {
        prop_assert_eq!(data.rows() as u64, stats.data_rows);
        for r in &data.invalid {
            prop_assert!(!r.message.is_empty(), "invalid without a reason");
        }
        let mut rows: Vec<u64> = data
            .items
            .iter()
            .map(|c| u64::from(c.row))
            .chain(data.invalid.iter().map(|r| r.row))
            .collect();
        rows.sort_unstable();
        rows.dedup();
        prop_assert_eq!(rows.len(), data.rows(), "two rows share a row number");
    }
    Ok(())
}

/// A cell: random text, or a value some column accepts.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        prop::sample::select(vec![
            "",
            "901",
            "901.0",
            "0",
            "-1",
            "true",
            "No",
            "1",
            "3002;3003",
            "[\"1\",\"2\"]",
            "later",
            "now",
            "09/01/2026 17:50",
            "31/02/2026 10:00",
            "45",
            "3",
            "SHA256",
            "A",
            " padded ",
            "[{\"CUSTOMLABEL\":\"x\",\"CUSTOMVALUE\":1}]",
        ])
        .prop_map(str::to_string),
    ]
}

fn mutate(base: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for &(pos, byte, kind) in edits {
        if bytes.is_empty() {
            bytes.push(byte);
            continue;
        }
        let at = pos % bytes.len();
        match kind % 3 {
            0 => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ => {
                bytes.remove(at);
            }
        }
    }
    bytes
}

fn xlsx_bytes() -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in [
        "RESOURCEID",
        "ACCOUNTNAME",
        "PASSWORD",
        "RECORD_RDP_SESSIONS",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for r in 1..20u32 {
        ws.write_number(r, 0, 900.0 + f64::from(r)).unwrap();
        ws.write_string(r, 1, format!("acct{r}")).unwrap();
        ws.write_string(r, 2, "pw").unwrap();
        ws.write_boolean(r, 3, r % 2 == 0).unwrap();
    }
    wb.save_to_buffer().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_as_csv(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.csv");
        std::fs::write(&p, &bytes).unwrap();
        read_and_check(&Accounts, &p)?;
        read_and_check(&Requests, &p)?;
    }

    #[test]
    fn mutated_csv(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..12)) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.csv");
        std::fs::write(&p, mutate(VALID_CSV.as_bytes(), &edits)).unwrap();
        read_and_check(&Accounts, &p)?;
    }

    #[test]
    fn random_cells_into_both_checks(cells in proptest::collection::vec(cell(), 36)) {
        check_cells(&Accounts, &cells)?;
        check_cells(&Requests, &cells)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn mutated_and_random_workbooks(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8),
        random in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [("m.xlsx", mutate(&xlsx_bytes(), &edits)), ("r.xlsx", random.clone()), ("r.ods", random.clone()), ("r.xls", random)] {
            let p = dir.path().join(name);
            std::fs::write(&p, &bytes).unwrap();
            read_and_check(&Accounts, &p)?;
        }
    }
}

/// Checks one row of random cells under every column of a job.
fn check_cells<J: Job>(job: &J, cells: &[String]) -> Result<(), TestCaseError> {
    let schema = job.schema();
    let names: Vec<String> = schema.columns.iter().map(|c| c.name.to_string()).collect();
    let header = schema.resolve(&names, false).unwrap();
    let mut row = RawRow {
        line: 2,
        ..RawRow::default()
    };
    for i in 0..names.len() {
        row.record.push_field(&cells[i % cells.len()]);
    }
    match job.check(&header, &row) {
        Ok(item) => {
            prop_assert_eq!(job.key(&item).len(), job.key_columns().len());
        }
        Err(why) => prop_assert!(!why.is_empty()),
    }
    Ok(())
}
