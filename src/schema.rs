//! Column definitions of both jobs, and matching an input's header row to them.
//!
//! The definitions are data, not code, so that the header check, the row
//! checks, the templates and the column reference of docs/reference.md all read the same
//! list.

use thiserror::Error;

use crate::input::RawRow;

/// How a column's cells are read and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Trimmed text.
    Text,
    /// Kept byte for byte and never printed (PASSWORD, TOTP_SECRET).
    Secret,
    /// Kept byte for byte (NOTES, REASON).
    Verbatim,
    /// An identity: refused when it has surrounding spaces or control characters.
    Name,
    /// `true/false`, `yes/no`, `1/0`, a boolean cell.
    Bool,
    /// A whole number, sent as a JSON number.
    Integer,
    /// A positive whole number, sent as a JSON string (TOTP_DIGITS, TOTP_VALIDITY).
    PositiveText,
    /// A positive whole number identifying a resource or account (path parameter).
    Id,
    /// `3002;3003`, `3002,3003` or a JSON array of digit strings.
    IdList,
    /// `DD/MM/YYYY HH:mm` or a spreadsheet date cell.
    DateTime,
    /// One of a fixed set of values, compared case-insensitively.
    Choice(&'static [&'static str]),
    /// A JSON array of `{"CUSTOMLABEL","CUSTOMVALUE"}`.
    CustomFields,
}

/// One input column.
#[derive(Debug)]
pub struct Column {
    pub name: &'static str,
    /// Another spelling read as this column (the vendor pages disagree).
    pub alias: Option<&'static str>,
    pub kind: Kind,
    /// The key it is sent under in `Details`, or `None` when it is not part
    /// of the body (the id in the path, the org in a header).
    pub wire: Option<&'static str>,
    pub required: bool,
    /// What the column is part of: the target, the account, or the
    /// resource a run may create.
    pub part: Part,
    /// The vendor's description, for templates and docs/reference.md.
    pub help: &'static str,
    pub example: &'static str,
}

/// What a column is part of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// What a row names (ids, names, the org): never in a body.
    Target,
    /// The account's own fields (seed 000's body), or a request's.
    Account,
    /// A resource's fields, sent only when `--create-resources` creates it.
    Resource,
}

/// The columns of one job.
#[derive(Debug)]
pub struct Schema {
    pub columns: &'static [Column],
    /// Whether `CUSTOM:<label>` columns are accepted.
    pub custom_columns: bool,
    /// Whether `RESOURCECUSTOM:<label>` columns are accepted.
    pub resource_custom_columns: bool,
    /// Ways to name a row's target, one of which the header must hold:
    /// each is a set of columns (`RESOURCEID`, or `RESOURCENAME`).
    pub one_of: &'static [&'static [&'static str]],
}

/// The slot of the column named `name` in `columns`, found when the
/// program is compiled: slot numbers are never counted by hand, and a name
/// that is not there fails the build.
pub const fn slot_of(columns: &[Column], name: &str) -> usize {
    let mut i = 0;
    while i < columns.len() {
        let (a, b) = (columns[i].name.as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("no such column")
}

/// The input header matched to a schema: where each known column is.
#[derive(Debug, Clone)]
pub struct Header {
    /// For each schema column, its index in the input record, if present.
    pub slots: Vec<Option<usize>>,
    /// The present columns only, as (slot, index in the record), in schema
    /// order: what checking a row walks.
    pub present: Vec<(usize, usize)>,
    /// `CUSTOM:<label>` columns: the label and the index in the record.
    pub custom: Vec<(String, usize)>,
    /// `RESOURCECUSTOM:<label>` columns, likewise.
    pub resource_custom: Vec<(String, usize)>,
    /// Columns ignored by `--ignore-unknown-columns`.
    pub ignored: Vec<String>,
    /// Per schema column, where a mapped input's cell comes from (`from
    /// URL`), for messages that name the input's column as well as ours.
    pub origins: Vec<Option<String>>,
    /// How many fields a record should have.
    pub width: usize,
}

impl Header {
    /// Index in the record of the schema column at `slot`.
    pub fn get(&self, slot: usize) -> Option<usize> {
        self.slots[slot]
    }

    /// A column as messages name it: ours, and where a mapped input's cell
    /// came from (`DNSNAME (from URL)`).
    pub fn label(&self, slot: usize, name: &str) -> String {
        match self.origins.get(slot).and_then(Option::as_ref) {
            Some(origin) => format!("{name} ({origin})"),
            None => name.to_string(),
        }
    }

    /// Whether the input has the column of `field`.
    pub fn has(&self, field: crate::body::Field) -> bool {
        self.slots[field.slot()].is_some()
    }

    /// The raw text of `field`'s cell in `row` ("" when the input has no
    /// such column): the one way a row's cell is read by its column. A
    /// mapped input (`--map`, `--from`) reaches here already in our
    /// columns, so a cell may come from a column, a constant or a
    /// template without anything past this accessor knowing.
    pub fn cell<'r>(&self, row: &'r RawRow, field: crate::body::Field) -> &'r str {
        self.slots[field.slot()].map(|i| row.field(i)).unwrap_or("")
    }
}

/// Why a header row cannot be used. Every one of these stops the run before
/// anything is sent (exit 2).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("the input has no header row (the file is empty)")]
    Empty,
    // --ignore-unknown-columns is offered only for a column that is not
    // close to a known one: skipping a misspelt PASWORD would drop every
    // password.
    #[error(
        "unknown column \"{name}\"{}",
        match suggestion {
            Some(s) => format!(" (did you mean \"{s}\"?); fix the header"),
            None => "; fix the header, or pass --ignore-unknown-columns to skip it".to_string(),
        }
    )]
    Unknown {
        name: String,
        suggestion: Option<String>,
    },
    #[error("column \"{0}\" is given twice in the header")]
    Duplicate(String),
    #[error("columns \"{0}\" and \"{1}\" are two spellings of the same column; keep one of them")]
    BothSpellings(String, String),
    #[error("required column \"{0}\" is missing from the header")]
    Missing(&'static str),
    #[error("the header needs {0}, so that each row names its target")]
    MissingOneOf(String),
    #[error("a column header is empty (column {0}); name it or remove the column")]
    Blank(usize),
    #[error(
        "column {0} is \"CUSTOM:\" without a label; write the custom field's label after the colon, as in CUSTOM:Owner"
    )]
    EmptyLabel(usize),
}

/// Every problem of a header row.
#[derive(Debug, PartialEq, Eq)]
pub struct HeaderErrors(pub Vec<HeaderError>, pub Option<String>);

impl std::fmt::Display for HeaderErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0[..] {
            [one] => write!(f, "{one}")?,
            all => {
                write!(f, "the header has {} problems:", all.len())?;
                for e in all {
                    write!(f, "\n  - {e}")?;
                }
            }
        }
        if let Some(hint) = &self.1 {
            write!(f, "\n{hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for HeaderErrors {}

const CUSTOM_PREFIX: &str = "CUSTOM:";
const RESOURCE_CUSTOM_PREFIX: &str = "RESOURCECUSTOM:";

/// A `CUSTOM:<label>` column at `idx`, added to `custom` unless its label is
/// empty or given twice.
fn custom_column(
    trimmed: &str,
    prefix: &str,
    idx: usize,
    custom: &mut Vec<(String, usize)>,
) -> Result<(), HeaderError> {
    let label = trimmed[prefix.len()..].trim().to_string();
    if label.is_empty() {
        return Err(HeaderError::EmptyLabel(idx + 1));
    }
    if custom
        .iter()
        .any(|(l, _)| l.to_lowercase() == label.to_lowercase())
    {
        return Err(HeaderError::Duplicate(trimmed.to_string()));
    }
    custom.push((label, idx));
    Ok(())
}

impl Kind {
    /// What a cell of this kind may hold, for people.
    pub fn allowed(self) -> String {
        match self {
            Kind::Text => "text (trimmed)".into(),
            Kind::Secret => "text, kept byte for byte; never printed".into(),
            Kind::Verbatim => "text, kept byte for byte".into(),
            Kind::Name => "text without surrounding spaces or control characters".into(),
            Kind::Bool => "true/false, yes/no, y/n, on/off, 1/0".into(),
            Kind::Integer => "whole number".into(),
            Kind::PositiveText | Kind::Id => "positive whole number".into(),
            Kind::IdList => "ids: 3002;3003, 3002,3003 or [\"3002\",\"3003\"]".into(),
            Kind::DateTime => "DD/MM/YYYY HH:mm or a date cell".into(),
            Kind::Choice(v) => v.join(", "),
            Kind::CustomFields => "JSON array of {CUSTOMLABEL, CUSTOMVALUE}".into(),
        }
    }
}

impl Schema {
    /// The column reference as a Markdown table (docs/reference.md carries it; a
    /// test keeps the two in step).
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "| column | required | allowed | sent as | what it is |\n| --- | --- | --- | --- | --- |\n",
        );
        for c in self.columns {
            let name = match c.alias {
                Some(a) => format!("`{}` (or `{a}`)", c.name),
                None => format!("`{}`", c.name),
            };
            let sent = match (c.wire, c.kind) {
                (None, _) if c.part == Part::Resource => {
                    format!("`{}` of a created resource", c.name)
                }
                (None, Kind::Id) => "the request path".to_string(),
                (None, Kind::Text | Kind::Name) if c.name != "ORGNAME" => {
                    "looked up on the server: its id goes in the request path".to_string()
                }
                (None, Kind::CustomFields) => "`ACCOUNTCUSTOMFIELD` array".to_string(),
                (None, _) => "the `orgName` header".to_string(),
                (Some(w), Kind::Bool) => format!("`{w}`, JSON boolean"),
                (Some(w), Kind::Integer) => format!("`{w}`, JSON number"),
                (Some(w), Kind::IdList) => format!("`{w}`, array of strings"),
                (Some(w), _) => format!("`{w}`, JSON string"),
            };
            out.push_str(&format!(
                "| {name} | {} | {} | {sent} | {} |\n",
                self.requirement(c).unwrap_or_default(),
                c.kind.allowed().replace('|', "\\|"),
                c.help.replace('|', "\\|"),
            ));
        }
        if self.custom_columns {
            out.push_str("| `CUSTOM:<label>` | | text | one `ACCOUNTCUSTOMFIELD` entry | A custom field per column; a label may not also be in `ACCOUNTCUSTOMFIELD`. |\n");
        }
        if self.resource_custom_columns {
            out.push_str("| `RESOURCECUSTOM:<label>` | | text | one `RESOURCECUSTOMFIELD` entry of a created resource | A custom field of the resource `--create-resources` creates. |\n");
        }
        out
    }

    /// Whether a column is required, in words: `yes`, or the ways of
    /// naming a target it is part of (`RESOURCEID or RESOURCENAME`).
    pub fn requirement(&self, c: &Column) -> Option<String> {
        if c.required {
            return Some("yes".into());
        }
        self.one_of
            .iter()
            .any(|set| set.contains(&c.name))
            .then(|| self.one_of_text())
    }

    /// The ways to name a row's target, in words: `RESOURCEID or RESOURCENAME`.
    pub fn one_of_text(&self) -> String {
        self.one_of
            .iter()
            .map(|set| set.join(" + "))
            .collect::<Vec<_>>()
            .join(" or ")
    }

    /// The slot of the column named `name` (canonical spelling).
    pub fn slot(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .unwrap_or_else(|| panic!("no column {name} in schema"))
    }

    /// Matches header names; the first problem, if any (see
    /// [`Schema::resolve_all`]).
    pub fn resolve(&self, names: &[String], ignore_unknown: bool) -> Result<Header, HeaderError> {
        self.resolve_all(names, ignore_unknown)
            .map_err(|mut e| e.0.swap_remove(0))
    }

    /// Matches header names (case-insensitive, surrounding spaces ignored).
    /// Every problem is reported at once, so one fix of the header is enough.
    pub fn resolve_all(
        &self,
        names: &[String],
        ignore_unknown: bool,
    ) -> Result<Header, HeaderErrors> {
        if names.is_empty() || names.iter().all(|n| n.trim().is_empty()) {
            return Err(HeaderErrors(vec![HeaderError::Empty], None));
        }
        let mut errors = Vec::new();
        let mut header = Header {
            slots: vec![None; self.columns.len()],
            present: Vec::new(),
            custom: Vec::new(),
            resource_custom: Vec::new(),
            ignored: Vec::new(),
            origins: vec![None; self.columns.len()],
            width: names.len(),
        };
        let mut spelled: Vec<&str> = vec![""; self.columns.len()];
        for (idx, raw) in names.iter().enumerate() {
            if let Err(e) = self.place(&mut header, &mut spelled, idx, raw, ignore_unknown) {
                errors.push(e);
            }
        }
        let slots = header.slots.clone();
        errors.extend(self.missing(&slots));
        if !errors.is_empty() {
            let unknown = errors
                .iter()
                .filter(|e| matches!(e, HeaderError::Unknown { .. }))
                .count();
            let hint = (unknown > 0).then(|| self.known_columns(unknown * 2 > names.len()));
            return Err(HeaderErrors(errors, hint));
        }
        header.present = slots
            .iter()
            .enumerate()
            .filter_map(|(slot, idx)| idx.map(|i| (slot, i)))
            .collect();
        Ok(header)
    }

    /// Places the header's column `idx` named `raw`: one of ours, a
    /// `CUSTOM:`/`RESOURCECUSTOM:` label, ignored (with
    /// `--ignore-unknown-columns`, never a near-miss), or the problem.
    fn place(
        &self,
        header: &mut Header,
        spelled: &mut [&'static str],
        idx: usize,
        raw: &str,
        ignore_unknown: bool,
    ) -> Result<(), HeaderError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(HeaderError::Blank(idx + 1));
        }
        let upper = trimmed.to_uppercase();
        if self.custom_columns && upper.starts_with(CUSTOM_PREFIX) {
            return custom_column(trimmed, CUSTOM_PREFIX, idx, &mut header.custom);
        }
        if self.resource_custom_columns && upper.starts_with(RESOURCE_CUSTOM_PREFIX) {
            return custom_column(
                trimmed,
                RESOURCE_CUSTOM_PREFIX,
                idx,
                &mut header.resource_custom,
            );
        }
        let found = self
            .columns
            .iter()
            .position(|c| c.name == upper || c.alias.is_some_and(|a| a == upper));
        match found {
            Some(slot) if header.slots[slot].is_some() => Err(if spelled[slot] == upper {
                HeaderError::Duplicate(trimmed.to_string())
            } else {
                HeaderError::BothSpellings(spelled[slot].to_string(), upper)
            }),
            Some(slot) => {
                header.slots[slot] = Some(idx);
                spelled[slot] = self.spelling(slot, &upper);
                Ok(())
            }
            // A near-miss (`PASWORD`) is never ignored: skipping it would
            // drop every password of the file without a word.
            None if ignore_unknown && !self.near_miss(&upper) => {
                header.ignored.push(trimmed.to_string());
                Ok(())
            }
            None => Err(HeaderError::Unknown {
                name: trimmed.to_string(),
                suggestion: self.closest(&upper),
            }),
        }
    }

    /// Required columns the header lacks, and a missing way of naming a
    /// row's target (`RESOURCEID` or `RESOURCENAME`).
    fn missing(&self, slots: &[Option<usize>]) -> Vec<HeaderError> {
        let mut errors: Vec<HeaderError> = self
            .columns
            .iter()
            .zip(slots)
            .filter(|(c, s)| c.required && s.is_none())
            .map(|(c, _)| HeaderError::Missing(c.name))
            .collect();
        let has = |name: &str| {
            self.columns
                .iter()
                .position(|c| c.name == name)
                .is_some_and(|s| slots[s].is_some())
        };
        if !self.one_of.is_empty() && !self.one_of.iter().any(|set| set.iter().all(|n| has(n))) {
            errors.push(HeaderError::MissingOneOf(self.one_of_text()));
        }
        errors
    }

    fn spelling(&self, slot: usize, upper: &str) -> &'static str {
        let col = &self.columns[slot];
        match col.alias {
            Some(a) if a == upper => a,
            _ => col.name,
        }
    }

    /// The columns this job knows, grouped, for an input whose columns are
    /// not all ours; `foreign` when most are not: another tool's export.
    fn known_columns(&self, foreign: bool) -> String {
        let names = |part: Part| {
            self.columns
                .iter()
                .filter(|c| c.part == part && !c.required && self.requirement(c).is_none())
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let required: Vec<String> = self
            .columns
            .iter()
            .filter(|c| c.required)
            .map(|c| c.name.to_string())
            .chain((!self.one_of.is_empty()).then(|| self.one_of_text()))
            .collect();
        let mut out = format!("This job's columns: required {}", required.join(", and "));
        for (part, what) in [
            (Part::Account, "its own fields"),
            (Part::Target, "where it goes"),
            (Part::Resource, "a resource's, to create it"),
        ] {
            let list = names(part);
            if !list.is_empty() {
                out.push_str(&format!("; {what}: {list}"));
            }
        }
        if self.custom_columns {
            out.push_str("; CUSTOM:<label>");
        }
        if self.resource_custom_columns {
            out.push_str(", RESOURCECUSTOM:<label>");
        }
        out.push('.');
        if foreign {
            out.push_str(&format!(
                "\nMost columns are not ours: to read another tool's export as it is, pass --from {} or a column map, --map FILE (pam360-bulk template map --from keepassxc writes one to edit).",
                crate::map::PRESETS.join("|")
            ));
        }
        out
    }

    /// Whether `name` is within two edits of a known name or alias (a
    /// misspelling of one of ours).
    pub fn near(&self, name: &str) -> bool {
        self.near_miss(&name.trim().to_uppercase())
    }

    /// Whether `upper` is within two edits of a known name or alias.
    fn near_miss(&self, upper: &str) -> bool {
        self.columns
            .iter()
            .flat_map(|c| std::iter::once(c.name).chain(c.alias))
            .any(|name| strsim::levenshtein(upper, name) <= 2)
    }

    /// The known name nearest to a misspelt one, when it is near enough to
    /// help: a few edits away (`PASWORD`), or nearly the same letters
    /// (`ACCOUNT_NAME`). A loose likeness helps nobody: `Username` is not
    /// `ORGNAME`, and another tool's columns want `--map`.
    fn closest(&self, upper: &str) -> Option<String> {
        let mut best: Option<(f64, &str)> = None;
        for col in self.columns {
            let near = strsim::levenshtein(upper, col.name) <= 2;
            let score = strsim::jaro_winkler(upper, col.name);
            let score = if near { score.max(0.95) } else { score };
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, col.name));
            }
        }
        if self.custom_columns && strsim::jaro_winkler(upper, "CUSTOM:") > 0.85 {
            return Some("CUSTOM:<label>".into());
        }
        best.filter(|(s, _)| *s >= 0.93).map(|(_, n)| n.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::SCHEMA;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn matches_case_insensitively_and_trims() {
        let h = SCHEMA
            .resolve(
                &names(&[" resourceid ", "AccountName", "custom:Owner"]),
                false,
            )
            .unwrap();
        assert_eq!(h.get(SCHEMA.slot("RESOURCEID")), Some(0));
        assert_eq!(h.custom, vec![("Owner".to_string(), 2)]);
    }

    #[test]
    fn misspelt_password_is_refused_with_suggestion() {
        let e = SCHEMA
            .resolve(&names(&["RESOURCEID", "ACCOUNTNAME", "PASWORD"]), false)
            .unwrap_err();
        assert_eq!(
            e,
            HeaderError::Unknown {
                name: "PASWORD".into(),
                suggestion: Some("PASSWORD".into())
            }
        );
    }

    #[test]
    fn a_near_miss_is_refused_even_when_unknown_columns_are_ignored() {
        let e = SCHEMA
            .resolve(&names(&["RESOURCEID", "ACCOUNTNAME", "PASWORD"]), true)
            .unwrap_err();
        assert!(matches!(e, HeaderError::Unknown { .. }), "{e}");
        assert!(
            SCHEMA
                .resolve(&names(&["RESOURCEID", "ACCOUNTNAME", "COMAN_SET"]), true)
                .is_err()
        );
        let h = SCHEMA
            .resolve(&names(&["RESOURCEID", "ACCOUNTNAME", "Owner email"]), true)
            .unwrap();
        assert_eq!(h.ignored, ["Owner email"]);
    }

    #[test]
    fn alias_and_both_spellings() {
        let ok = SCHEMA.resolve(&names(&["RESOURCEID", "ACCOUNTNAME", "COMMAN_SET"]), false);
        assert!(ok.is_ok());
        let e = SCHEMA
            .resolve(
                &names(&["RESOURCEID", "ACCOUNTNAME", "COMMAN_SET", "command_set"]),
                false,
            )
            .unwrap_err();
        assert!(matches!(e, HeaderError::BothSpellings(..)));
        let e = SCHEMA
            .resolve(
                &names(&["RESOURCEID", "ACCOUNTNAME", "NOTES", "notes"]),
                false,
            )
            .unwrap_err();
        assert_eq!(e, HeaderError::Duplicate("notes".into()));
    }

    #[test]
    fn every_header_problem_at_once() {
        let e = SCHEMA
            .resolve_all(
                &names(&["ACCOUNTNAME", "PASWORD", "Owner email", "notes", "NOTES"]),
                false,
            )
            .unwrap_err();
        assert_eq!(e.0.len(), 4, "{e}");
        let text = e.to_string();
        assert!(text.contains("4 problems"), "{text}");
        // A close name is not offered the flag that would drop it.
        let pas = text.lines().find(|l| l.contains("PASWORD")).unwrap();
        assert!(!pas.contains("--ignore-unknown-columns"), "{pas}");
        let owner = text.lines().find(|l| l.contains("Owner email")).unwrap();
        assert!(owner.contains("--ignore-unknown-columns"), "{owner}");
        assert!(text.contains("RESOURCEID"), "{text}");
    }

    #[test]
    fn missing_required() {
        let e = SCHEMA.resolve(&names(&["ACCOUNTNAME"]), false).unwrap_err();
        assert_eq!(
            e,
            HeaderError::MissingOneOf("RESOURCEID or RESOURCENAME".into())
        );
        let e = SCHEMA
            .resolve(&names(&["RESOURCENAME"]), false)
            .unwrap_err();
        assert_eq!(e, HeaderError::Missing("ACCOUNTNAME"));
        assert!(
            SCHEMA
                .resolve(&names(&["RESOURCENAME", "ACCOUNTNAME"]), false)
                .is_ok()
        );
        let requests = &crate::requests::SCHEMA;
        let e = requests
            .resolve(&names(&["RESOURCENAME"]), false)
            .unwrap_err();
        assert_eq!(
            e,
            HeaderError::MissingOneOf("ACCOUNTID or RESOURCENAME + ACCOUNTNAME".into())
        );
    }
}
