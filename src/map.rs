//! Other tools' columns as they are: `--map FILE` and `--from PRESET`.
//!
//! A map says where each of our columns comes from: a template over the
//! input's own columns (`"{hostname}.{domain}"`, `"{URL|host}"`) or a
//! constant. It is applied as rows are read ([`Mapped`], a row sink in
//! front of the checks): every later stage sees our columns only, so
//! duplicates, resume keys and the report use the mapped values, and a
//! cell of our column meets that column's rules whatever it came from.
//!
//! ```toml
//! [columns]               # our column = a template over the input's columns
//! ACCOUNTNAME  = "{Username}"
//! RESOURCENAME = "{Title}"
//! DNSNAME      = "{URL|host}"       # filters: host, lower, upper, trim
//! [constants]             # our column = the same value on every row
//! RESOURCETYPE = "Linux"
//! ```
//!
//! Secrets keep their rules whatever their source column is called: an
//! input column that feeds `PASSWORD` or `TOTP_SECRET` may feed no other
//! column (it would show where other values show), and no constant may be
//! a secret.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use crate::input::{RawRow, RowSink, WHOLE_ROW};
use crate::schema::{Kind, Schema};

/// A filter of a template piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    /// The host of a URL (user, port and an IPv6 address's brackets left
    /// out), or the value itself when it is not a URL.
    Host,
    Lower,
    Upper,
    Trim,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// An input column, by name, with its filters in order.
    Column(String, Vec<Filter>),
}

/// Where one of our columns comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Template(Vec<Piece>),
    Constant(String),
}

/// One entry of a map: our column, where it comes from, and where the
/// entry was written (for messages).
#[derive(Debug, Clone)]
struct Entry {
    column: String,
    source: Source,
    /// `map.toml line 4` or `--from keepassxc`.
    at: String,
    /// The entry as written (`DNSNAME = "{URL|host}"`).
    text: String,
}

/// A column map: from a file, a preset, or a preset with a file over it.
#[derive(Debug, Clone, Default)]
pub struct ColumnMap {
    entries: Vec<Entry>,
    /// Rows whose column (input's name) is not this value are invalid.
    require: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct MapFile {
    #[serde(default)]
    columns: BTreeMap<String, toml::Spanned<String>>,
    #[serde(default)]
    constants: BTreeMap<String, toml::Spanned<String>>,
    /// Only rows whose column holds this value; the others are invalid.
    #[serde(default)]
    require: BTreeMap<String, String>,
}

/// The comment atop a map written to edit.
const MAP_HELP: &str = "\
# Our column = a template over the input's columns: {Column} is a cell of
# the input's column of that name (any letter case), {{ is a brace, and
# filters follow a bar: host (of a URL), lower, upper, trim. Columns the
# map leaves out are read by their names when they are ours.
";

/// The presets: a built-in map for each known export.
pub const PRESETS: [&str; 5] = [
    "keepassxc",
    "bitwarden",
    "lastpass",
    "1password",
    "cyberark",
];

impl ColumnMap {
    /// Reads a map file (TOML).
    pub fn load(path: &Path) -> Result<ColumnMap> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --map {}", path.display()))?;
        let name = path.display().to_string();
        Self::parse(&text, &name)
    }

    /// Reads a map from its TOML text; `name` names it in messages.
    pub fn parse(text: &str, name: &str) -> Result<ColumnMap> {
        let line = |span: std::ops::Range<usize>| {
            text[..span.start.min(text.len())].matches('\n').count() + 1
        };
        // The parser's own message may quote the line, and a line may hold
        // a secret: its place and what is wrong, never the text.
        let file: MapFile = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| format!(" at line {}", line(s)))
                .unwrap_or_default();
            anyhow!("{name} is not a column map (TOML){at}: {}", e.message())
        })?;
        let mut map = ColumnMap::default();
        for (column, value) in &file.columns {
            let at = format!("{name} line {}", line(value.span()));
            let written = format!("{column} = {:?}", value.get_ref());
            let pieces = template(value.get_ref()).map_err(|e| anyhow!("{at}: {written}: {e}"))?;
            map.push(column, Source::Template(pieces), at, written)?;
        }
        for (column, value) in &file.constants {
            let at = format!("{name} line {}", line(value.span()));
            // A constant is never shown: it may be a secret, refused later.
            let written = format!("{column} = (a constant)");
            map.push(
                column,
                Source::Constant(value.get_ref().clone()),
                at,
                written,
            )?;
        }
        map.require = file.require.into_iter().collect();
        Ok(map)
    }

    fn push(&mut self, column: &str, source: Source, at: String, text: String) -> Result<()> {
        let column = column.trim().to_string();
        if self
            .entries
            .iter()
            .any(|e| e.column.eq_ignore_ascii_case(&column))
        {
            bail!("{at}: {column} is given twice in the map (in [columns] and [constants]?)");
        }
        self.entries.push(Entry {
            column,
            source,
            at,
            text,
        });
        Ok(())
    }

    /// A built-in map for a known export.
    pub fn preset(name: &str) -> Result<ColumnMap> {
        let text = preset_toml(name).ok_or_else(|| {
            anyhow!(
                "--from {name}: no such preset; the presets are {}",
                PRESETS.join(", ")
            )
        })?;
        Self::parse(text, &format!("--from {name}"))
    }

    /// This map with `over`'s entries in place of its own (a `--map` beside
    /// `--from` overrides single columns).
    pub fn overridden(mut self, over: ColumnMap) -> ColumnMap {
        for e in over.entries {
            self.entries
                .retain(|mine| !mine.column.eq_ignore_ascii_case(&e.column));
            self.entries.push(e);
        }
        self.require.extend(over.require);
        self
    }

    /// Matches the map to an input's header: our header, and how each of
    /// our cells is made from an input row. Every problem at once.
    pub fn plan(&self, input: &[String], schema: &Schema) -> Result<Plan> {
        let index: HashMap<String, usize> = input
            .iter()
            .enumerate()
            .map(|(i, h)| (h.trim().to_lowercase(), i))
            .collect();
        let find = |name: &str| index.get(&name.trim().to_lowercase()).copied();
        let mut problems = Vec::new();
        let mut plan = Plan::default();
        let mut used = vec![false; input.len()];
        for e in &self.entries {
            match entry_cell(e, schema, &find, input) {
                Ok((column, cell, secret, uses)) => {
                    for i in uses {
                        used[i] = true;
                    }
                    plan.secret.push(secret);
                    plan.columns.push((column, e.at.clone()));
                    plan.cells.push(cell);
                }
                Err(p) => problems.extend(p),
            }
        }
        problems.extend(plan.keep_secrets_apart());
        for (col, value) in &self.require {
            match find(col) {
                Some(i) => {
                    used[i] = true;
                    plan.require.push((i, col.clone(), value.clone()));
                }
                None => problems.push(format!(
                    "the map requires column \"{col}\", which the input does not have"
                )),
            }
        }
        plan.own_columns(input, &used, schema);
        if !problems.is_empty() {
            bail!(
                "the column map does not fit the input:\n  - {}",
                problems.join("\n  - ")
            );
        }
        Ok(plan)
    }

    /// The map as a file to edit (`template map --from PRESET`).
    pub fn to_toml(&self, about: &str) -> String {
        let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
        let mut out = format!("# A column map for pam360-bulk (--map FILE): {about}.\n");
        out.push_str(MAP_HELP);
        out.push_str("\n[columns]\n");
        let width = self
            .entries
            .iter()
            .map(|e| e.column.len())
            .max()
            .unwrap_or(0);
        for e in &self.entries {
            if let Source::Template(pieces) = &e.source {
                out.push_str(&format!(
                    "{:<width$} = {}\n",
                    e.column,
                    quote(&unparse(pieces))
                ));
            }
        }
        out.push_str(
            "\n[constants]\n# The same value on every row. Creating resources needs their type:\n# RESOURCETYPE = \"Linux\"\n",
        );
        for e in &self.entries {
            if let Source::Constant(v) = &e.source {
                out.push_str(&format!("{:<width$} = {}\n", e.column, quote(v)));
            }
        }
        if !self.require.is_empty() {
            out.push_str(
                "\n[require]\n# Only rows whose column holds this value; the others are invalid.\n",
            );
            for (c, v) in &self.require {
                out.push_str(&format!("{c} = {}\n", quote(v)));
            }
        }
        out
    }
}

/// Our column's canonical name for `name` (an alias read as its column,
/// `CUSTOM:`/`RESOURCECUSTOM:` labels kept), if it is one of ours.
fn canonical(schema: &Schema, name: &str) -> Option<String> {
    let upper = name.trim().to_uppercase();
    if let Some(c) = schema
        .columns
        .iter()
        .find(|c| c.name == upper || c.alias == Some(upper.as_str()))
    {
        return Some(c.name.to_string());
    }
    let labelled = (schema.custom_columns && upper.starts_with("CUSTOM:"))
        || (schema.resource_custom_columns && upper.starts_with("RESOURCECUSTOM:"));
    labelled.then(|| name.trim().to_string())
}

/// One map entry matched to the input: our column, its cell, whether it
/// is a secret, and the input columns it uses; or every problem it has.
fn entry_cell(
    e: &Entry,
    schema: &Schema,
    find: &dyn Fn(&str) -> Option<usize>,
    input: &[String],
) -> Result<(String, Cell, bool, Vec<usize>), Vec<String>> {
    let Some(column) = canonical(schema, &e.column) else {
        return Err(vec![format!(
            "{}: {}: {} is not a column of this job",
            e.at, e.text, e.column
        )]);
    };
    let secret = schema
        .columns
        .iter()
        .any(|c| c.name == column && c.kind == Kind::Secret);
    let pieces = match &e.source {
        Source::Constant(_) if secret => {
            return Err(vec![format!(
                "{}: {}: a constant {column} would give every account one secret; map it from a column",
                e.at, e.text
            )]);
        }
        Source::Constant(v) => return Ok((column, Cell::Constant(v.clone()), false, Vec::new())),
        Source::Template(pieces) => pieces,
    };
    let mut parts = Vec::new();
    let mut uses = Vec::new();
    let mut problems = Vec::new();
    for p in pieces {
        match p {
            Piece::Text(t) => parts.push(Part::Text(t.clone())),
            Piece::Column(name, filters) => match find(name) {
                Some(i) => {
                    uses.push(i);
                    parts.push(Part::Column(i, filters.clone()));
                }
                None => problems.push(format!(
                    "{}: {}: the input has no column \"{name}\" (its columns: {})",
                    e.at,
                    e.text,
                    input.join(", ")
                )),
            },
        }
    }
    if problems.is_empty() {
        Ok((column, Cell::Template(parts), secret, uses))
    } else {
        Err(problems)
    }
}

/// Parses a template: text with `{Column|filter|…}` pieces; `{{` and `}}`
/// are braces.
fn template(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let mut inner = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    inner.push(c);
                }
                if !closed {
                    return Err("a { is not closed by a } (write {{ for a brace)".to_string());
                }
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                let mut parts = inner.split('|');
                let column = parts.next().unwrap_or("").trim().to_string();
                if column.is_empty() {
                    return Err("{} names no column".into());
                }
                let filters = parts
                    .map(|f| match f.trim().to_lowercase().as_str() {
                        "host" => Ok(Filter::Host),
                        "lower" => Ok(Filter::Lower),
                        "upper" => Ok(Filter::Upper),
                        "trim" => Ok(Filter::Trim),
                        other => Err(format!(
                            "no filter \"{other}\" (the filters are host, lower, upper, trim)"
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                pieces.push(Piece::Column(column, filters));
            }
            '}' => return Err("a } is not opened by a { (write }} for a brace)".into()),
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

/// A template written back as text.
fn unparse(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(&t.replace('{', "{{").replace('}', "}}")),
            Piece::Column(c, filters) => {
                out.push('{');
                out.push_str(c);
                for f in filters {
                    out.push('|');
                    out.push_str(match f {
                        Filter::Host => "host",
                        Filter::Lower => "lower",
                        Filter::Upper => "upper",
                        Filter::Trim => "trim",
                    });
                }
                out.push('}');
            }
        }
    }
    out
}

/// The host of a URL (`ssh://root@web-01:22/x` → `web-01`, brackets of an
/// IPv6 address left out), or the value itself when it is not a URL.
fn host(value: &str) -> String {
    match url::Url::parse(value.trim()) {
        Ok(u) => match u.host_str() {
            Some(h) if !h.is_empty() => h.trim_matches(['[', ']']).to_string(),
            _ => value.to_string(),
        },
        Err(_) => value.to_string(),
    }
}

fn apply(filters: &[Filter], value: &str) -> String {
    let mut v = value.to_string();
    for f in filters {
        v = match f {
            Filter::Host => host(&v),
            Filter::Lower => v.to_lowercase(),
            Filter::Upper => v.to_uppercase(),
            Filter::Trim => v.trim().to_string(),
        };
    }
    v
}

/// A piece of a template matched to the input.
#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Column(usize, Vec<Filter>),
}

/// How one of our cells is made.
#[derive(Debug, Clone)]
enum Cell {
    Template(Vec<Part>),
    Constant(String),
}

/// A map matched to an input's header.
#[derive(Debug, Default)]
pub struct Plan {
    /// Our columns (canonical names), with where each entry was written.
    columns: Vec<(String, String)>,
    cells: Vec<Cell>,
    /// Whether each of our columns is a secret.
    secret: Vec<bool>,
    /// (input column, its name, the value rows must hold).
    require: Vec<(usize, String, String)>,
    /// Input columns no cell uses: named in the summary.
    pub unused: Vec<String>,
}

impl Plan {
    /// Our header.
    pub fn header(&self) -> Vec<String> {
        self.columns.iter().map(|(c, _)| c.clone()).collect()
    }

    /// Where each of our columns comes from, for messages: `(from URL)`.
    pub fn origins(&self, input: &[String]) -> Vec<Option<String>> {
        self.cells
            .iter()
            .map(|cell| match cell {
                Cell::Constant(_) => Some("from the map's constant".to_string()),
                Cell::Template(parts) => {
                    let names: Vec<&str> = parts
                        .iter()
                        .filter_map(|p| match p {
                            Part::Column(i, _) => input.get(*i).map(|s| s.trim()),
                            Part::Text(_) => None,
                        })
                        .collect();
                    (parts.len() != 1 || names.is_empty()).then(|| names.join(", "))
                }
            })
            .map(|o| o.map(|o| format!("from {o}")))
            .collect()
    }

    /// Input columns the map does not use: ours by name (unless the map
    /// makes that column), else named as unused; a near-miss of ours is
    /// passed on for the header check to refuse (a misspelt `Pasword`
    /// must never drop passwords silently).
    fn own_columns(&mut self, input: &[String], used: &[bool], schema: &Schema) {
        for (i, name) in input.iter().enumerate() {
            if used[i] {
                continue;
            }
            let ours = canonical(schema, name)
                .filter(|c| !self.columns.iter().any(|(m, _)| m.eq_ignore_ascii_case(c)));
            if ours.is_some() || schema.near(name) {
                self.secret.push(false);
                self.columns.push((name.trim().to_string(), String::new()));
                self.cells
                    .push(Cell::Template(vec![Part::Column(i, Vec::new())]));
            } else {
                self.unused.push(name.trim().to_string());
            }
        }
    }

    /// Refuses a secret input column that feeds anything but secrets.
    fn keep_secrets_apart(&self) -> Vec<String> {
        let mut secret_inputs = Vec::new();
        for (cell, secret) in self.cells.iter().zip(&self.secret) {
            if let (Cell::Template(parts), true) = (cell, secret) {
                secret_inputs.extend(parts.iter().filter_map(|p| match p {
                    Part::Column(i, _) => Some(*i),
                    Part::Text(_) => None,
                }));
            }
        }
        let mut problems = Vec::new();
        for ((cell, secret), (column, at)) in self.cells.iter().zip(&self.secret).zip(&self.columns)
        {
            let Cell::Template(parts) = cell else {
                continue;
            };
            let uses_secret = parts
                .iter()
                .any(|p| matches!(p, Part::Column(i, _) if secret_inputs.contains(i)));
            if uses_secret && !secret {
                problems.push(format!(
                    "{at}: {column} uses a column that feeds a password or TOTP secret; a secret goes only into PASSWORD or TOTP_SECRET, never where other values show"
                ));
            }
        }
        problems
    }

    /// Makes `out` (our row) from `row` (the input's).
    fn map_row(&self, row: &RawRow, out: &mut RawRow) {
        out.record.clear();
        out.problems.clear();
        out.line = row.line;
        let mut cell = String::new();
        for (n, c) in self.cells.iter().enumerate() {
            cell.clear();
            match c {
                Cell::Constant(v) => cell.push_str(v),
                Cell::Template(parts) => {
                    for p in parts {
                        match p {
                            Part::Text(t) => cell.push_str(t),
                            Part::Column(i, filters) if filters.is_empty() => {
                                cell.push_str(row.field(*i))
                            }
                            Part::Column(i, filters) => {
                                cell.push_str(&apply(filters, row.field(*i)))
                            }
                        }
                        // A cell that could not be read (an error value)
                        // makes our cell unreadable too.
                        if let Part::Column(i, _) = p
                            && let Some((_, why)) = row.problems.iter().find(|(c, _)| c == i)
                        {
                            out.problems.push((n, why.clone()));
                        }
                    }
                }
            }
            out.record.push_field(&cell);
        }
        for (col, why) in &row.problems {
            if *col == WHOLE_ROW {
                out.problems.push((WHOLE_ROW, why.clone()));
            }
        }
        for (i, name, want) in &self.require {
            let have = row.field(*i).trim();
            if !have.eq_ignore_ascii_case(want) {
                out.problems.push((
                    WHOLE_ROW,
                    format!("{name} is \"{have}\": not a {want}, so not imported"),
                ));
            }
        }
    }
}

/// Applies a column map as rows are read: the input's header and rows in,
/// ours out to `inner`.
pub struct Mapped<'m, S: RowSink> {
    pub inner: S,
    map: &'m ColumnMap,
    schema: &'static Schema,
    plan: Option<Plan>,
    out: Vec<RawRow>,
}

impl<'m, S: RowSink> Mapped<'m, S> {
    pub fn new(inner: S, map: &'m ColumnMap, schema: &'static Schema) -> Self {
        Mapped {
            inner,
            map,
            schema,
            plan: None,
            out: Vec::new(),
        }
    }

    /// The input's columns the map left unused (named in the summary).
    pub fn unused(&self) -> Vec<String> {
        self.plan
            .as_ref()
            .map(|p| p.unused.clone())
            .unwrap_or_default()
    }
}

impl<S: RowSink> RowSink for Mapped<'_, S> {
    fn header(&mut self, names: &[String]) -> Result<()> {
        let plan = self.map.plan(names, self.schema)?;
        self.inner.header(&plan.header())?;
        self.inner.origins(&plan.origins(names));
        self.plan = Some(plan);
        Ok(())
    }

    fn rows(&mut self, rows: &[RawRow]) -> Result<()> {
        let Some(plan) = &self.plan else {
            bail!("rows before the header");
        };
        self.out
            .resize_with(rows.len().max(self.out.len()), RawRow::default);
        for (row, out) in rows.iter().zip(self.out.iter_mut()) {
            plan.map_row(row, out);
        }
        self.inner.rows(&self.out[..rows.len()])
    }

    fn size_hint(&mut self, rows: usize) {
        self.inner.size_hint(rows)
    }
}

/// The presets' maps, as map files.
fn preset_toml(name: &str) -> Option<&'static str> {
    Some(match name.trim().to_lowercase().as_str() {
        // KeePassXC's CSV export: Group, Title, Username, Password, URL, Notes…
        "keepassxc" => {
            r#"[columns]
RESOURCENAME = "{Title}"
ACCOUNTNAME = "{Username}"
PASSWORD = "{Password}"
NOTES = "{Notes}"
RESOURCEURL = "{URL}"
DNSNAME = "{URL|host}"
"#
        }
        // Bitwarden's CSV export: folder, favorite, type, name, notes,
        // fields, reprompt, login_uri, login_username, login_password,
        // login_totp; only logins are accounts.
        "bitwarden" => {
            r#"[columns]
RESOURCENAME = "{name}"
ACCOUNTNAME = "{login_username}"
PASSWORD = "{login_password}"
NOTES = "{notes}"
RESOURCEURL = "{login_uri}"
DNSNAME = "{login_uri|host}"
[require]
type = "login"
"#
        }
        // LastPass: url, username, password, totp, extra, name, grouping, fav.
        "lastpass" => {
            r#"[columns]
RESOURCENAME = "{name}"
ACCOUNTNAME = "{username}"
PASSWORD = "{password}"
NOTES = "{extra}"
RESOURCEURL = "{url}"
DNSNAME = "{url|host}"
"#
        }
        // 1Password's CSV export: Title, Url, Username, Password, Notes…
        "1password" => {
            r#"[columns]
RESOURCENAME = "{Title}"
ACCOUNTNAME = "{Username}"
PASSWORD = "{Password}"
NOTES = "{Notes}"
RESOURCEURL = "{Url}"
DNSNAME = "{Url|host}"
"#
        }
        // CyberArk's Accounts Onboard Utility CSV: userName, address, safe,
        // platformID, password…; the address is the resource.
        "cyberark" => {
            r#"[columns]
RESOURCENAME = "{address}"
ACCOUNTNAME = "{userName}"
PASSWORD = "{password}"
DNSNAME = "{address|host}"
"#
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::SCHEMA;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn row(cells: &[&str]) -> RawRow {
        RawRow {
            line: 2,
            record: csv::StringRecord::from(cells.to_vec()),
            problems: Vec::new(),
        }
    }

    #[test]
    fn templates_parse_filters_and_braces() {
        assert_eq!(
            template("{hostname}.{domain|lower}").unwrap(),
            vec![
                Piece::Column("hostname".into(), vec![]),
                Piece::Text(".".into()),
                Piece::Column("domain".into(), vec![Filter::Lower]),
            ]
        );
        assert_eq!(
            template("a{{b}}").unwrap(),
            vec![Piece::Text("a{b}".into())]
        );
        assert!(template("{URL|host").unwrap_err().contains("not closed"));
        assert!(
            template("{URL|hostname}")
                .unwrap_err()
                .contains("no filter")
        );
        assert!(template("x}").is_err());
        for t in ["{A|host|lower}.x", "{{lit}} {B}"] {
            assert_eq!(unparse(&template(t).unwrap()), t);
        }
    }

    #[test]
    fn host_is_the_host_of_a_url_or_the_value() {
        assert_eq!(host("ssh://root@web-01:22/x"), "web-01");
        assert_eq!(host("https://[2001:db8::1]:8443/a"), "2001:db8::1");
        assert_eq!(host("https://Vault.Example.com/login"), "vault.example.com");
        assert_eq!(host("web-01"), "web-01");
        assert_eq!(
            apply(&[Filter::Host, Filter::Upper], "http://web-01/"),
            "WEB-01"
        );
    }

    #[test]
    fn a_map_makes_our_row_and_names_what_is_missing() {
        let map = ColumnMap::parse(
            "[columns]\nRESOURCENAME = \"{hostname}.{domain}\"\nACCOUNTNAME = \"{user}\"\nDNSNAME = \"{url|host}\"\n[constants]\nRESOURCETYPE = \"Linux\"\n",
            "m.toml",
        )
        .unwrap();
        let input = names(&["hostname", "Domain", "user", "URL", "NOTES", "owner"]);
        let plan = map.plan(&input, &SCHEMA).unwrap();
        // The map's columns (in name order), its constants, then the
        // input's own columns that are ours.
        assert_eq!(
            plan.header(),
            [
                "ACCOUNTNAME",
                "DNSNAME",
                "RESOURCENAME",
                "RESOURCETYPE",
                "NOTES"
            ]
        );
        assert_eq!(plan.unused, ["owner"]);
        let mut out = RawRow::default();
        plan.map_row(
            &row(&[
                "web01",
                "example.com",
                "root",
                "ssh://web01.example.com:22",
                "n",
                "x",
            ]),
            &mut out,
        );
        let cells: Vec<&str> = out.record.iter().collect();
        assert_eq!(
            cells,
            [
                "root",
                "web01.example.com",
                "web01.example.com",
                "Linux",
                "n"
            ]
        );
        let e = map
            .plan(&names(&["hostname", "user"]), &SCHEMA)
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.toml line 2"), "{e}");
        assert!(e.contains("no column \"domain\""), "{e}");
        assert!(e.contains("m.toml line 4"), "{e}");
    }

    #[test]
    fn secrets_keep_their_rules() {
        let bad = ColumnMap::parse("[constants]\nPASSWORD = \"x\"\n", "m").unwrap();
        assert!(
            bad.plan(&names(&["a"]), &SCHEMA)
                .unwrap_err()
                .to_string()
                .contains("constant")
        );
        let leak = ColumnMap::parse(
            "[columns]\nPASSWORD = \"{pw}\"\nNOTES = \"note: {pw}\"\nACCOUNTNAME = \"{u}\"\n",
            "m",
        )
        .unwrap();
        let e = leak
            .plan(&names(&["pw", "u"]), &SCHEMA)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("NOTES uses a column that feeds a password"),
            "{e}"
        );
    }

    #[test]
    fn every_preset_reads_and_writes_back_the_same() {
        for p in PRESETS {
            let map = ColumnMap::preset(p).unwrap();
            let again = ColumnMap::parse(&map.to_toml(p), "back").unwrap();
            let show = |m: &ColumnMap| {
                m.entries
                    .iter()
                    .map(|e| (e.column.clone(), e.source.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(show(&map), show(&again), "{p}");
            assert_eq!(map.require, again.require, "{p}");
        }
        assert!(ColumnMap::preset("keepass2").is_err());
    }
}
