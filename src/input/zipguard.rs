//! A guard against zip bombs in workbooks, run before calamine opens one.
//!
//! calamine streams worksheet cells, but it loads some parts whole (XLSX
//! shared strings and styles, ODS content). A small file that inflates to
//! gigabytes there would exhaust memory, so those parts are inflated once
//! into nothing, with a cap; declared sizes are checked for every part, and
//! the row reader refuses sheets longer than a spreadsheet can be.

use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Result, anyhow, bail};

/// Largest part calamine reads whole.
const MAX_LOADED_PART: u64 = 512 << 20;
/// Largest workbook, all parts inflated (a full 1,048,576-row sheet of many
/// columns stays well below).
const MAX_TOTAL: u64 = 8 << 30;

pub fn check(path: &Path, shown: &str) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| anyhow!("cannot open {shown}: {e}"))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| {
        anyhow!("{shown} is not a readable workbook (not a valid zip container: {e})")
    })?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut part = zip
            .by_index(i)
            .map_err(|e| anyhow!("{shown} is damaged: {e}"))?;
        total = total.saturating_add(part.size());
        if total > MAX_TOTAL {
            bail!(
                "{shown} inflates to more than {} GiB: refused as a likely zip bomb",
                MAX_TOTAL >> 30
            );
        }
        let name = part
            .name()
            .map(|n| n.into_owned())
            .map_err(|e| anyhow!("{shown} is damaged: {e}"))?;
        // Worksheets are streamed cell by cell; everything else is read whole.
        if name.starts_with("xl/worksheets/") {
            continue;
        }
        let inflated = std::io::copy(
            &mut (&mut part).take(MAX_LOADED_PART + 1),
            &mut std::io::sink(),
        )
        .map_err(|e| anyhow!("{shown}: part {name} is damaged: {e}"))?;
        if inflated > MAX_LOADED_PART {
            bail!(
                "{shown}: part {name} inflates to more than {} MiB: refused as a likely zip bomb",
                MAX_LOADED_PART >> 20
            );
        }
    }
    Ok(())
}
