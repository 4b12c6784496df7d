//! Reading one cell by its column's [`Kind`], and writing checked values as
//! the JSON types of the vendor's samples.
//!
//! Both jobs go through [`parse_row`] and [`JsonObject`]: a column's kind,
//! not the job, decides how its cell is read and sent.

use chrono::NaiveDateTime;

use crate::input::{RawRow, WHOLE_ROW};
use crate::schema::{Header, Kind, Schema};

/// The date format of `STARTTIME`/`ENDTIME`, as PAM360 takes it.
pub const TIME_FORMAT: &str = "%d/%m/%Y %H:%M";

/// A checked cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Str(&'a str),
    Bool(bool),
    Int(i64),
    /// A checked id list, as its text (see `id_items`).
    List(&'a str),
    Time(NaiveDateTime),
    /// A choice, in its canonical spelling.
    Choice(&'static str),
    /// A validated JSON array of custom fields, as given.
    Json(serde_json::Value),
}

/// Most columns a schema has (a fixed array keeps checking allocation-free).
pub const MAX_SLOTS: usize = 48;

/// The checked, non-empty cells of a row: (slot, value, the text it was
/// read from, trimmed where the column trims). Only present cells are
/// stored, so checking a row touches no more memory than it needs.
#[derive(Debug, Default)]
pub struct Values<'a>(arrayvec::ArrayVec<(u8, Value<'a>, &'a str), MAX_SLOTS>);

impl<'a> Values<'a> {
    /// (slot, text) of every present, valid value, in schema order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &'a str)> + '_ {
        self.0.iter().map(|(s, _, t)| (usize::from(*s), *t))
    }

    /// The value and text of the column at `slot`, if present and valid.
    pub fn get(&self, slot: usize) -> Option<(&Value<'a>, &'a str)> {
        self.0
            .iter()
            .find(|(s, _, _)| usize::from(*s) == slot)
            .map(|(_, v, t)| (v, *t))
    }
}

/// Checks every known cell of `row` into `values` (empty cells are left
/// out) and `problems`, each naming its column. `values` is the caller's:
/// returned by value, its 1.8 KB would be copied for every row.
pub fn parse_row<'a>(
    schema: &Schema,
    header: &Header,
    row: &'a RawRow,
    problems: &mut Vec<String>,
    values: &mut Values<'a>,
) {
    if row.record.len() != header.width {
        problems.push(format!(
            "the row has {} fields but the header has {}; check its quoting and delimiters",
            row.record.len(),
            header.width
        ));
    }
    for (col, why) in &row.problems {
        if *col == WHOLE_ROW {
            problems.push(why.clone());
        } else if let Some(slot) = header.slots.iter().position(|s| *s == Some(*col)) {
            let name = header.label(slot, schema.columns[slot].name);
            problems.push(format!("column {name}: {why}"));
        } else if let Some((label, _)) = header.custom.iter().find(|(_, i)| i == col) {
            problems.push(format!("column CUSTOM:{label}: {why}"));
        } else if let Some((label, _)) = header.resource_custom.iter().find(|(_, i)| i == col) {
            problems.push(format!("column RESOURCECUSTOM:{label}: {why}"));
        }
    }
    debug_assert!(schema.columns.len() <= MAX_SLOTS);
    let plain_row = Rare::of(row.record.as_slice().as_bytes()) == Rare::NONE;
    for &(slot, idx) in &header.present {
        let column = &schema.columns[slot];
        let raw = row.field(idx);
        if !row.problems.is_empty() && row.problems.iter().any(|(c, _)| *c == idx) {
            continue;
        }
        let rare = if plain_row {
            Rare::NONE
        } else {
            Rare::of(raw.as_bytes())
        };
        match parse_scanned(column.kind, raw, rare) {
            Ok(Some(v)) => {
                // A choice or a boolean keeps its canonical spelling: rows
                // that mean the same compare the same, and a million bodies
                // are a few megabytes smaller.
                let text = match &v {
                    Value::Choice(c) => *c,
                    Value::Bool(b) => {
                        if *b {
                            "1"
                        } else {
                            "0"
                        }
                    }
                    _ => cell_text(column.kind, raw),
                };
                values.0.push((slot as u8, v, text));
            }
            Ok(None) => {}
            Err(allowed) => {
                let shown = if column.kind == Kind::Secret {
                    "the value".to_string()
                } else {
                    format!("\"{}\"", shorten(raw))
                };
                let name = header.label(slot, column.name);
                problems.push(format!("column {name}: {shown} {allowed}"));
            }
        }
    }
}

/// A value shortened for a message.
pub fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// The text of a cell as it is checked and kept: byte for byte for secrets,
/// free text and names, trimmed otherwise.
pub fn cell_text(kind: Kind, raw: &str) -> &str {
    match kind {
        Kind::Secret | Kind::Verbatim | Kind::Name => raw,
        _ => trim(raw),
    }
}

/// `str::trim`, quick for the usual cell, which has nothing to trim: every
/// white-space character is either an ASCII byte up to a space or starts
/// with a non-ASCII byte, so when both end bytes are printable ASCII there
/// is nothing to trim, without a look at the characters. A million rows
/// trim several cells each.
#[inline]
pub fn trim(s: &str) -> &str {
    let printable = |b: Option<&u8>| matches!(b, Some(0x21..=0x7f));
    if printable(s.as_bytes().first()) && printable(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    }
}

/// One cell. `Ok(None)` for an empty cell (the server's default applies);
/// `Err` says what is allowed.
pub fn parse_cell(kind: Kind, raw: &str) -> Result<Option<Value<'_>>, String> {
    parse_scanned(kind, raw, Rare::of(raw.as_bytes()))
}

/// What one pass over some bytes found that needs a closer look: an ASCII
/// control byte (line breaks included) or a non-ASCII byte. A cell without
/// either skips the slower checks; a row without either has no cell that
/// needs them, so [`parse_row`] looks at each row once, not at each cell
/// (a pass per short cell cost more than the checks it leads to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rare {
    control: bool,
    non_ascii: bool,
}

impl Rare {
    /// Plain printable ASCII: nothing to look at closer.
    pub const NONE: Rare = Rare {
        control: false,
        non_ascii: false,
    };

    pub fn of(bytes: &[u8]) -> Rare {
        // No early exit: a loop the compiler can vectorise.
        let (control, non_ascii) = bytes.iter().fold((false, false), |(c, n), &b| {
            (c | (b < 0x20) | (b == 0x7f), n | (b >= 0x80))
        });
        Rare { control, non_ascii }
    }
}

/// [`parse_cell`], with what a pass over `raw` found (or [`Rare::NONE`],
/// when a pass over its whole row found nothing).
fn parse_scanned(kind: Kind, raw: &str, rare: Rare) -> Result<Option<Value<'_>>, String> {
    // Free text (NOTES, REASON) is kept byte for byte, line breaks and all:
    // nothing to look for in it.
    if kind == Kind::Verbatim {
        return Ok((!raw.is_empty()).then_some(Value::Str(raw)));
    }
    let Rare { control, non_ascii } = rare;
    // Only free text and custom fields may span lines: a line break anywhere
    // else is most likely a quote left open, which swallowed the rows after
    // it into this cell.
    if control && kind != Kind::CustomFields && raw.bytes().any(|b| b == b'\n' || b == b'\r') {
        return Err("holds a line break: is a quote left open on this row?".into());
    }
    // Secrets are kept byte for byte; everything else is trimmed.
    if kind == Kind::Secret {
        return Ok((!raw.is_empty()).then_some(Value::Str(raw)));
    }
    if kind == Kind::Name {
        if raw.is_empty() {
            return Ok(None);
        }
        if trim(raw) != raw {
            return Err(
                "has spaces before or after it; remove them (names are never trimmed silently)"
                    .into(),
            );
        }
        // An ASCII control byte, or a non-ASCII control character (C1, U+0085…).
        if control || (non_ascii && raw.chars().any(char::is_control)) {
            return Err("holds a control character (tab, line break or similar); remove it".into());
        }
        return Ok(Some(Value::Str(raw)));
    }
    let s = trim(raw);
    if s.is_empty() {
        return Ok(None);
    }
    match kind {
        // Looked for in the trimmed text: trimming may have removed the only
        // control byte (a tab at an end).
        Kind::Text if (control || non_ascii) && s.chars().any(char::is_control) => {
            Err("holds a control character (tab, NUL or similar); remove it".into())
        }
        Kind::Text => Ok(Some(Value::Str(s))),
        Kind::Bool => parse_bool(s)
            .map(|b| Some(Value::Bool(b)))
            .ok_or_else(|| "is not a boolean; use true/false, yes/no, y/n, on/off or 1/0".into()),
        Kind::Integer => parse_int(s)
            .map(|i| Some(Value::Int(i)))
            .ok_or_else(|| "is not a whole number".into()),
        Kind::PositiveText | Kind::Id => match parse_int(s) {
            Some(i) if i > 0 => Ok(Some(if kind == Kind::Id {
                Value::Int(i)
            } else {
                Value::Str(s.trim_end_matches(".0"))
            })),
            _ => Err("is not a positive whole number".into()),
        },
        Kind::IdList => parse_id_list(s).map(|l| Some(Value::List(l))),
        Kind::DateTime => parse_time(s)
            .map(|t| Some(Value::Time(t)))
            .ok_or_else(|| "is not a real date and time in the form DD/MM/YYYY HH:mm, from 1970 to 9999 (for example 09/01/2026 17:50)".into()),
        Kind::Choice(allowed) => allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(s))
            .map(|a| Some(Value::Choice(a)))
            .ok_or_else(|| format!("is not one of {}", allowed.join(", "))),
        Kind::CustomFields => parse_custom_fields(s).map(|v| Some(Value::Json(v))),
        Kind::Secret | Kind::Verbatim | Kind::Name => unreachable!("handled above"),
    }
}

/// A date and time `DD/MM/YYYY HH:mm` that is real: the year written with
/// four digits and from 1970 to 9999. chrono alone reads `01/03/27` as the
/// year 27 and a spreadsheet date past 9999 as `+10113`.
pub fn parse_time(s: &str) -> Option<NaiveDateTime> {
    use chrono::Datelike;
    let year = s.split(' ').next()?.rsplit('/').next()?;
    if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = NaiveDateTime::parse_from_str(s, TIME_FORMAT).ok()?;
    (1970..=9999).contains(&t.year()).then_some(t)
}

/// `true/false`, `yes/no`, `1/0` in any case (a workbook boolean cell reads
/// as `true`/`false`, a numeric 1 or 0 as `1`/`0`).
pub fn parse_bool(s: &str) -> Option<bool> {
    const TRUE: [&str; 5] = ["true", "yes", "y", "on", "1"];
    const FALSE: [&str; 5] = ["false", "no", "n", "off", "0"];
    if TRUE.iter().any(|t| t.eq_ignore_ascii_case(s)) {
        Some(true)
    } else if FALSE.iter().any(|f| f.eq_ignore_ascii_case(s)) {
        Some(false)
    } else {
        None
    }
}

/// A whole number; `901.0` (a spreadsheet's float) is 901, `901.5` is not.
pub fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_suffix(".0").unwrap_or(s);
    let body = digits.strip_prefix('-').unwrap_or(digits);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The ids of a list cell: `3002;3003`, `3002,3003` or `["3002","3003"]`,
/// without allocating. `None` when the JSON form's brackets do not close.
fn id_items(s: &str) -> Option<impl Iterator<Item = &str>> {
    let (inner, json) = match s.strip_prefix('[') {
        Some(rest) => (rest.strip_suffix(']')?, true),
        None => (s, false),
    };
    let seps: &[char] = if json { &[','] } else { &[';', ','] };
    Some(
        inner
            .split(seps)
            .map(move |i| {
                if json {
                    trim(trim(i).trim_matches('"'))
                } else {
                    trim(i)
                }
            })
            .filter(|i| !i.is_empty()),
    )
}

/// Checks a list of ids: digits only, at least one. The list stays its
/// text; its items are split again when it is written.
fn parse_id_list(s: &str) -> Result<&str, String> {
    let bad = || "is not a list of numeric ids; write 3002;3003 or [\"3002\",\"3003\"]".to_string();
    let mut items = id_items(s).ok_or_else(bad)?.peekable();
    if items.peek().is_none() {
        return Err(bad());
    }
    if items.all(|i| i.bytes().all(|b| b.is_ascii_digit())) {
        Ok(s)
    } else {
        Err(bad())
    }
}

fn parse_custom_fields(s: &str) -> Result<serde_json::Value, String> {
    let bad = || {
        "is not a JSON array of {\"CUSTOMLABEL\":\"…\",\"CUSTOMVALUE\":\"…\"} objects".to_string()
    };
    let v: serde_json::Value = serde_json::from_str(s).map_err(|_| bad())?;
    let ok = v.as_array().is_some_and(|a| {
        a.iter().all(|o| {
            o.get("CUSTOMLABEL").is_some_and(|l| l.is_string()) && o.get("CUSTOMVALUE").is_some()
        })
    });
    if ok { Ok(v) } else { Err(bad()) }
}

/// Writes a JSON object's members into a byte buffer without building a
/// tree first: bodies of a million rows are built this way.
pub struct JsonObject<'b> {
    buf: &'b mut Vec<u8>,
    first: bool,
}

impl<'b> JsonObject<'b> {
    pub fn open(buf: &'b mut Vec<u8>) -> Self {
        buf.push(b'{');
        JsonObject { buf, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        write_str(self.buf, key);
        self.buf.push(b':');
    }

    pub fn value(&mut self, key: &str, kind: Kind, value: &Value<'_>) {
        self.key(key);
        match value {
            Value::Str(s) => write_str(self.buf, s),
            Value::Bool(b) => self
                .buf
                .extend_from_slice(if *b { b"true" } else { b"false" }),
            // Ids are numbers in our checks, strings on the wire where the
            // vendor's samples send them as strings.
            Value::Int(i) if kind == Kind::Integer => {
                self.buf.extend_from_slice(i.to_string().as_bytes())
            }
            Value::Int(i) => write_str(self.buf, &i.to_string()),
            Value::List(text) => {
                self.buf.push(b'[');
                for (n, item) in id_items(text).into_iter().flatten().enumerate() {
                    if n > 0 {
                        self.buf.push(b',');
                    }
                    write_str(self.buf, item);
                }
                self.buf.push(b']');
            }
            Value::Time(t) => write_str(self.buf, &t.format(TIME_FORMAT).to_string()),
            Value::Choice(c) => write_str(self.buf, c),
            Value::Json(v) => {
                // Writing a Value into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *self.buf, v);
            }
        }
    }

    /// A member whose value is ready JSON.
    pub fn raw(&mut self, key: &str, json: &str) {
        self.key(key);
        self.buf.extend_from_slice(json.as_bytes());
    }

    pub fn close(self) {
        self.buf.push(b'}');
    }
}

fn write_str(buf: &mut Vec<u8>, s: &str) {
    // Writing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for t in ["true", "TRUE", "Yes", "1", "y", "Y", "on", "ON"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "No", "0", "n", "N", "off", "Off"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("2"), None);
        assert_eq!(parse_bool("ja"), None);
    }

    #[test]
    fn integers() {
        assert_eq!(parse_int("901"), Some(901));
        assert_eq!(parse_int("901.0"), Some(901));
        assert_eq!(parse_int("901.5"), None);
        assert_eq!(parse_int("-3"), Some(-3));
        assert_eq!(parse_int("+3"), None);
        assert_eq!(parse_int("1e3"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("99999999999999999999999"), None);
    }

    #[test]
    fn id_lists() {
        let items = |s| {
            id_items(parse_id_list(s).unwrap())
                .unwrap()
                .collect::<Vec<_>>()
        };
        assert_eq!(items("3002;3003"), vec!["3002", "3003"]);
        assert_eq!(items("3002, 3003"), vec!["3002", "3003"]);
        assert_eq!(items("[\"3002\",\"3003\"]"), vec!["3002", "3003"]);
        assert_eq!(items("[3002, 3003]"), vec!["3002", "3003"]);
        assert!(parse_id_list("3002;\"3003\"").is_err());
        assert!(parse_id_list("[3002").is_err());
        assert!(parse_id_list("30a2").is_err());
        assert!(parse_id_list(";").is_err());
    }

    #[test]
    fn kept_byte_for_byte() {
        assert_eq!(
            parse_cell(Kind::Secret, " Pa$$ Word@124 ").unwrap(),
            Some(Value::Str(" Pa$$ Word@124 "))
        );
        assert_eq!(
            parse_cell(Kind::Text, "  Strong ").unwrap(),
            Some(Value::Str("Strong"))
        );
        assert!(parse_cell(Kind::Name, " root").is_err());
        assert!(parse_cell(Kind::Name, "ro\tot").is_err());
    }

    #[test]
    fn trims_as_str_trim_does() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta\n",
            "abc",
            "a b",
            "\u{a0}x\u{a0}",
            "x\u{3000}",
            "é",
            " é ",
            "\u{b}x",
            "x\u{c}",
            "~!",
            "\u{7f}",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn a_pass_finds_what_is_rare() {
        assert_eq!(Rare::of(b"svc_acct_01;Strong;3002,3003 ~"), Rare::NONE);
        assert_eq!(Rare::of(b""), Rare::NONE);
        for (bytes, control, non_ascii) in [
            (&b"a\nb"[..], true, false),
            (b"\r", true, false),
            (b"tab\t", true, false),
            (b"del\x7f", true, false),
            ("Zoë".as_bytes(), false, true),
            ("caf\u{85}".as_bytes(), false, true),
            ("x\u{0}é".as_bytes(), true, true),
        ] {
            assert_eq!(Rare::of(bytes), Rare { control, non_ascii }, "{bytes:?}");
        }
        // A cell the row's pass did not clear is looked at on its own.
        assert!(
            parse_scanned(Kind::Name, "ro\u{85}ot", Rare::of("ro\u{85}ot".as_bytes())).is_err()
        );
        assert!(parse_scanned(Kind::Secret, "a\nb", Rare::of(b"a\nb")).is_err());
        assert!(parse_scanned(Kind::Verbatim, "a\nb", Rare::of(b"a\nb")).is_ok());
    }

    #[test]
    fn dates_must_be_real() {
        assert!(parse_cell(Kind::DateTime, "31/02/2026 10:00").is_err());
        assert!(parse_cell(Kind::DateTime, "09/01/2026 17:50").is_ok());
        assert!(parse_cell(Kind::DateTime, "2026-01-09 17:50").is_err());
        for bad in [
            "01/03/27 10:00",
            "01/01/0000 10:00",
            "31/12/1969 23:59",
            "19/09/+10113 00:00",
            "01/01/10000 00:00",
        ] {
            assert!(parse_cell(Kind::DateTime, bad).is_err(), "{bad}");
        }
        assert!(parse_cell(Kind::DateTime, "01/01/1970 00:00").is_ok());
        assert!(parse_cell(Kind::DateTime, "31/12/9999 23:59").is_ok());
    }

    #[test]
    fn json_types() {
        let mut buf = Vec::new();
        let mut o = JsonObject::open(&mut buf);
        o.value("B", Kind::Bool, &Value::Bool(true));
        o.value("N", Kind::Integer, &Value::Int(101));
        o.value("L", Kind::IdList, &Value::List("1;2"));
        o.value("S", Kind::Secret, &Value::Str("a\"&+= %"));
        o.close();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            r#"{"B":true,"N":101,"L":["1","2"],"S":"a\"&+= %"}"#
        );
    }
}
