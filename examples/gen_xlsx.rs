//! Writes a benchmark workbook: `cargo run --release --example gen_xlsx -- OUT ROWS`.
fn main() {
    let mut args = std::env::args().skip(1);
    let out = args.next().expect("usage: gen_xlsx OUT ROWS");
    let rows: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
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
    wb.save(out).unwrap();
}
