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
            keys_agree(job, &header, &row, &item)?;
        }
        Err(why) => prop_assert!(!why.is_empty()),
    }
    Ok(())
}

/// A job's keys of one row agree: the row is a duplicate of itself and of
/// the same row with its names in other letter cases, and the report's
/// identity cells name it as the input did.
fn keys_agree<J: Job>(
    job: &J,
    header: &pam360_bulk::schema::Header,
    row: &RawRow,
    item: &J::Item,
) -> Result<(), TestCaseError> {
    prop_assert!(job.same(item, item));
    let mut upper = row.clone();
    upper.record = row
        .record
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = &job.schema().columns[i].name;
            if name.ends_with("NAME") && *name != "ORGNAME" {
                f.to_ascii_uppercase()
            } else {
                f.to_string()
            }
        })
        .collect();
    if let Ok(other) = job.check(header, &upper) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        job.dup_key(item, &mut a);
        job.dup_key(&other, &mut b);
        prop_assert_eq!(job.same(item, &other), a == b);
        // Upper-casing a name changes nothing else a row is compared by.
        prop_assert!(job.same(item, &other));
    }
    let mut reused = vec!["stale".to_string(); 9];
    job.key_into(item, &mut reused);
    prop_assert_eq!(&reused, &job.key(item));
    // Names in the report are the input's, as typed.
    let raw = job.raw_key(header, row);
    for (col, (k, r)) in job.key_columns().iter().zip(job.key(item).iter().zip(&raw)) {
        if col.ends_with("_name") {
            prop_assert_eq!(k.trim(), r.trim(), "{}", col);
        }
    }
    Ok(())
}

/// One valid row of `job` from (column, cell) pairs.
fn row_of<J: Job>(job: &J, cells: &[(&str, &str)]) -> (pam360_bulk::schema::Header, RawRow) {
    let names: Vec<String> = cells.iter().map(|(c, _)| c.to_string()).collect();
    let header = job.schema().resolve(&names, false).unwrap();
    let mut row = RawRow {
        line: 2,
        ..RawRow::default()
    };
    for (_, v) in cells {
        row.record.push_field(v);
    }
    (header, row)
}

#[test]
fn each_jobs_keys_agree_on_known_rows() {
    let check = |cells: &[(&str, &str)]| {
        let (h, r) = row_of(&Accounts, cells);
        Accounts.check(&h, &r).unwrap()
    };
    let names = ["root", "Administrator", "jos\u{e9}", "svc_01"];
    for (n, name) in names.iter().enumerate() {
        for by_name in [false, true] {
            let column = if by_name {
                "RESOURCENAME"
            } else {
                "RESOURCEID"
            };
            let resource = if by_name { "web-01" } else { "901" };
            let a = check(&[(column, resource), ("ACCOUNTNAME", name), ("PASSWORD", "p")]);
            let upper = name.to_ascii_uppercase();
            let other_resource = resource.to_ascii_uppercase();
            let b = check(&[
                (column, &other_resource),
                ("ACCOUNTNAME", &upper),
                ("PASSWORD", "q"),
            ]);
            assert!(Accounts.same(&a, &b), "{name} by name {by_name}");
            let mut reused = vec!["stale".to_string(); 7];
            Accounts.key_into(&a, &mut reused);
            assert_eq!(reused, Accounts.key(&a));
            for other in &names[n + 1..] {
                let c = check(&[(column, resource), ("ACCOUNTNAME", other)]);
                assert!(!Accounts.same(&a, &c), "{name} vs {other}");
            }
            // A row by id and a row by name are told apart until resolved.
            let by_id = check(&[("RESOURCEID", "901"), ("ACCOUNTNAME", name)]);
            let by_nm = check(&[("RESOURCENAME", "901"), ("ACCOUNTNAME", name)]);
            assert!(!Accounts.same(&by_id, &by_nm));
        }
    }
    let request = |cells: &[(&str, &str)]| {
        let (h, r) = row_of(&Requests, cells);
        Requests.check(&h, &r).unwrap()
    };
    let a = request(&[
        ("RESOURCENAME", "web-01"),
        ("ACCOUNTNAME", "root"),
        ("REASON", "x"),
    ]);
    let b = request(&[
        ("RESOURCENAME", "WEB-01"),
        ("ACCOUNTNAME", "ROOT"),
        ("REASON", "x"),
    ]);
    let c = request(&[
        ("RESOURCENAME", "web-01"),
        ("ACCOUNTNAME", "root"),
        ("REASON", "y"),
    ]);
    let d = request(&[("ACCOUNTID", "7"), ("ACCESS", "now"), ("REASON", "x")]);
    let e = request(&[("ACCOUNTID", "7"), ("REASON", "x")]);
    assert!(Requests.same(&a, &b));
    assert!(!Requests.same(&a, &c), "another reason is another request");
    assert!(Requests.same(&d, &e), "an empty ACCESS is now");
    assert!(!Requests.same(&a, &d));
}
