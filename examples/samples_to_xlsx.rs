//! Regenerates `samples/accounts.xlsx` from `samples/accounts.csv` with typed
//! cells, as a spreadsheet user would have them: ids and digits as numbers,
//! true/false as boolean cells. Run: `cargo run --example samples_to_xlsx`.

use rust_xlsxwriter::{Format, Workbook};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut reader = csv::Reader::from_path("samples/accounts.csv")?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Accounts")?;
    let bold = Format::new().set_bold();
    for (c, h) in header.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, h, &bold)?;
    }
    for (r, rec) in reader.records().enumerate() {
        let rec = rec?;
        for (c, cell) in rec.iter().enumerate() {
            let (row, col) = (r as u32 + 1, c as u16);
            let name = header[c].as_str();
            if cell.is_empty() {
                continue;
            }
            // Secrets and names stay text even when they look like numbers.
            let text_only = matches!(name, "PASSWORD" | "ACCOUNTNAME" | "NOTES" | "TOTP_SECRET");
            if !text_only && let Ok(n) = cell.parse::<f64>() {
                ws.write_number(row, col, n)?;
            } else if !text_only && (cell == "true" || cell == "false") {
                ws.write_boolean(row, col, cell == "true")?;
            } else {
                ws.write_string(row, col, cell)?;
            }
        }
    }
    ws.set_freeze_panes(1, 0)?;
    wb.save("samples/accounts.xlsx")?;
    println!("wrote samples/accounts.xlsx");
    Ok(())
}
