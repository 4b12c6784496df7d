//! `template`: an input file with every column of a job and no rows, so a
//! forgotten example can never be imported as a real account.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::schema::{Kind, Schema};

/// Refuses to replace a file unless `--force` (it may be an inventory
/// already filled in, passwords and all), and `--force` without `-o`.
fn may_write(out: Option<&Path>, force: bool) -> Result<()> {
    if force && out.is_none() {
        bail!("--force replaces the file named by -o, and no -o FILE is given");
    }
    if let Some(path) = out
        && path.exists()
        && !force
    {
        bail!(
            "{} already exists; the template would replace it. Name another file, or pass --force",
            path.display()
        );
    }
    Ok(())
}

/// Writes a preset as a column map to edit (`template map --from PRESET`),
/// to `out` or to stdout.
pub fn write_map(from: Option<&str>, out: Option<&Path>, force: bool) -> Result<()> {
    let Some(from) = from else {
        bail!(
            "template map starts from a preset: --from {}",
            crate::map::PRESETS.join("|")
        );
    };
    may_write(out, force)?;
    let map = crate::map::ColumnMap::preset(from)?;
    let text = map.to_toml(&format!("the {from} preset"));
    match out {
        None => {
            use std::io::Write;
            std::io::stdout().write_all(text.as_bytes())?;
        }
        Some(path) => {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            crate::say!(
                "wrote {}: the {from} preset as a column map. Edit it (creating resources needs a RESOURCETYPE constant), then:\n  pam360-bulk add-accounts EXPORT.csv --map {} --dry-run",
                path.display(),
                path.display()
            );
        }
    }
    Ok(())
}

/// Writes the header row of `schema` to `out` (.csv or .xlsx), or to stdout.
pub fn write(schema: &Schema, job: &str, out: Option<&Path>, force: bool) -> Result<()> {
    let names: Vec<&str> = schema.columns.iter().map(|c| c.name).collect();
    may_write(out, force)?;
    let Some(path) = out else {
        let mut w = csv::Writer::from_writer(std::io::stdout().lock());
        w.write_record(&names)?;
        w.flush()?;
        return Ok(());
    };
    match crate::input::extension(path).as_str() {
        "csv" => {
            let mut w = csv::Writer::from_path(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            w.write_record(&names)?;
            w.flush()?;
        }
        "xlsx" => {
            write_xlsx(schema, path).with_context(|| format!("cannot write {}", path.display()))?
        }
        _ => bail!("name the template .csv or .xlsx"),
    }
    let mut required: Vec<String> = schema
        .columns
        .iter()
        .filter(|c| c.required)
        .map(|c| c.name.to_string())
        .collect();
    if !schema.one_of.is_empty() {
        required.push(schema.one_of_text());
    }
    crate::say!(
        "wrote {}: the header row of {job}, {} columns ({} required). Fill in one row each, delete the columns you do not need, then check it with:\n  pam360-bulk {job} {} --dry-run",
        path.display(),
        schema.columns.len(),
        required.join(", "),
        path.display()
    );
    Ok(())
}

/// A workbook a person can fill in: a frozen bold header, a note on each
/// column (what it is, what it takes, an example) and drop-down lists where
/// the values are fixed.
fn write_xlsx(schema: &Schema, path: &Path) -> Result<()> {
    use rust_xlsxwriter::{Color, DataValidation, Format, FormatBorder, Note, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(if schema.custom_columns {
        "Accounts"
    } else {
        "Requests"
    })?;
    let head = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xDDEBF7))
        .set_border_bottom(FormatBorder::Thin);
    let required = head.clone().set_font_color(Color::RGB(0x9C0006));
    // Drop-downs apply to every data row a sheet can hold.
    const LAST_ROW: u32 = 1_048_575;
    for (c, col) in schema.columns.iter().enumerate() {
        let c = c as u16;
        let need = schema.requirement(col);
        ws.write_string_with_format(
            0,
            c,
            col.name,
            if need.is_some() { &required } else { &head },
        )?;
        ws.set_column_width(c, (col.name.len() + 4).max(14) as f64)?;
        let mut text = format!("{}\n", col.help);
        match need.as_deref() {
            Some("yes") => text.push_str("Required.\n"),
            Some(ways) => text.push_str(&format!("Required: {ways}.\n")),
            None => {}
        }
        text.push_str(&format!("Allowed: {}\n", col.kind.allowed()));
        if !col.example.is_empty() {
            text.push_str(&format!("Example: {}", col.example));
        }
        let note = Note::new(text)
            .set_author("pam360-bulk")
            .set_width(320)
            .set_height(120);
        ws.insert_note(0, c, &note)?;
        let choices: Option<Vec<&str>> = match col.kind {
            Kind::Bool => Some(vec!["true", "false"]),
            Kind::Choice(values) => Some(values.to_vec()),
            _ => None,
        };
        if let Some(choices) = choices {
            let dv = DataValidation::new()
                .allow_list_strings(&choices)?
                .set_error_message(format!("{} takes one of: {}", col.name, choices.join(", ")))?;
            ws.add_data_validation(1, c, LAST_ROW, c, &dv)?;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    wb.save(path)?;
    Ok(())
}
