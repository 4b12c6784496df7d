//! `template`: an input file with every column of a job and no rows, so a
//! forgotten example can never be imported as a real account.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::schema::Schema;

/// Writes the header row of `schema` to `out` (.csv or .xlsx), or to stdout.
pub fn write(schema: &Schema, out: Option<&Path>) -> Result<()> {
    let names: Vec<&str> = schema.columns.iter().map(|c| c.name).collect();
    let Some(path) = out else {
        let mut w = csv::Writer::from_writer(std::io::stdout().lock());
        w.write_record(&names)?;
        w.flush()?;
        return Ok(());
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "csv" => {
            let mut w = csv::Writer::from_path(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            w.write_record(&names)?;
            w.flush()?;
        }
        "xlsx" => {
            let mut wb = rust_xlsxwriter::Workbook::new();
            let ws = wb.add_worksheet();
            let bold = rust_xlsxwriter::Format::new().set_bold();
            for (c, col) in schema.columns.iter().enumerate() {
                ws.write_string_with_format(0, c as u16, col.name, &bold)?;
                ws.set_column_width(c as u16, (col.name.len() + 4) as f64)?;
            }
            ws.set_freeze_panes(1, 0)?;
            wb.save(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        _ => bail!("name the template .csv or .xlsx"),
    }
    Ok(())
}
