//! A checked row's cells, kept compact from checking to sending: the one
//! type a row's data lives in, and the speed tricks that keep a million of
//! them small, behind one door.
//!
//! - A body is its fields one after the other, each as its column's slot (one
//!   byte), its length (a varint) and its text: about the size of the row's
//!   CSV text, where JSON would be twice that. The JSON is written per
//!   request, from the same text, by [`Body::write_json`].
//! - Fields are read by their column ([`Field`]), never by their place: a
//!   password can never be read as a name because of the order fields were
//!   written in.
//! - Bodies are built in a scratch buffer of the thread's own and copied out at
//!   their exact size into shared 256 KiB blocks: no allocation per row.
//! - A body may hold passwords: `Debug` shows only its size.

use std::fmt;

use crate::cells::{JsonObject, Values, parse_cell};
use crate::schema::{Column, Kind, Schema, slot_of};

/// A column of a job's schema, by its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Field(u8);

impl Field {
    /// The column named `name`, found when the program is compiled: a name
    /// not in `columns` fails the build.
    pub const fn of(columns: &[Column], name: &str) -> Field {
        Field(slot_of(columns, name) as u8)
    }

    /// Ready JSON sent as `ACCOUNTCUSTOMFIELD` (the merged custom fields).
    pub const JSON: Field = Field(u8::MAX);
    /// Ready JSON sent as a created resource's `RESOURCECUSTOMFIELD`.
    pub const RESOURCE_JSON: Field = Field(u8::MAX - 1);

    /// Its index in the schema's columns.
    pub const fn slot(self) -> usize {
        self.0 as usize
    }

    fn at(slot: usize) -> Field {
        Field(slot as u8)
    }
}

/// A checked row's cells.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Body(bytes::Bytes);

/// Size of the blocks bodies are carved from.
const BLOCK: usize = 256 << 10;

/// Appends fields to a body being built (see [`Body::build`]).
pub struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    /// Appends one field.
    pub fn put(&mut self, field: Field, text: &str) {
        let out = &mut *self.0;
        let mut len = text.len();
        // Room for the slot, the longest length and the text at once.
        out.reserve(1 + 10 + len);
        out.push(field.0);
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend_from_slice(text.as_bytes());
    }

    /// Appends every checked value of a column that is sent in the body.
    pub fn put_sent(&mut self, schema: &Schema, values: &Values<'_>) {
        for (slot, text) in values.iter() {
            if schema.columns[slot].wire.is_some() {
                self.put(Field::at(slot), text);
            }
        }
    }

    /// Appends every checked value of a resource's column (kept to create
    /// the resource, never sent with the account).
    pub fn put_resource(&mut self, schema: &Schema, values: &Values<'_>) {
        for (slot, text) in values.iter() {
            if schema.columns[slot].part == crate::schema::Part::Resource {
                self.put(Field::at(slot), text);
            }
        }
    }
}

impl Body {
    /// Builds a body with `fill`, in this thread's scratch buffer, and keeps
    /// it at its exact size in this thread's current block. A block is freed
    /// when the last body in it is: a million small allocations would each
    /// cost, and glibc grows a thread's heap a page at a time.
    pub fn build(fill: impl FnOnce(&mut Writer<'_>)) -> Body {
        /// A thread's scratch buffer and what is left of its current block,
        /// together: one thread-local look-up per body.
        #[derive(Default)]
        struct Builder {
            scratch: Vec<u8>,
            left: bytes::BytesMut,
        }
        thread_local! {
            static BUILDER: std::cell::RefCell<Builder> = std::cell::RefCell::default();
        }
        // `fill` gets a Writer only, so it cannot build a body of its own
        // inside this one and borrow the builder twice.
        BUILDER.with_borrow_mut(|Builder { scratch, left }| {
            scratch.clear();
            fill(&mut Writer(scratch));
            if scratch.len() > BLOCK / 16 {
                return Body(bytes::Bytes::copy_from_slice(scratch));
            }
            if left.capacity() - left.len() < scratch.len() {
                // The full block lives on in the bodies carved from it.
                *left = bytes::BytesMut::with_capacity(BLOCK);
            }
            left.extend_from_slice(scratch);
            Body(left.split().freeze())
        })
    }

    /// The text of `field`, if the row had it.
    pub fn get(&self, field: Field) -> Option<&str> {
        // Only the field asked for is turned into text: the ones walked
        // past are never looked at.
        let (_, text) = self.raw_fields().find(|(f, _)| *f == field)?;
        std::str::from_utf8(text).ok()
    }

    /// The text of `field` when it is the body's first field. A job that
    /// writes a field first (an account's RESOURCENAME) reads it so without
    /// walking the body; any other field first reads as absent.
    pub fn leading(&self, field: Field) -> Option<&str> {
        match self.raw_fields().next() {
            Some((f, t)) if f == field => std::str::from_utf8(t).ok(),
            _ => None,
        }
    }

    /// The fields, in the order they were written.
    pub fn fields(&self) -> impl Iterator<Item = (Field, &str)> {
        // Written from `str`s only.
        self.raw_fields()
            .map_while(|(f, t)| Some((f, std::str::from_utf8(t).ok()?)))
    }

    /// The fields' bytes, in the order they were written.
    fn raw_fields(&self) -> impl Iterator<Item = (Field, &[u8])> {
        let mut rest = &self.0[..];
        std::iter::from_fn(move || {
            let (&slot, mut tail) = rest.split_first()?;
            let mut len = 0usize;
            let mut shift = 0;
            loop {
                let (&b, t) = tail.split_first()?;
                tail = t;
                len |= usize::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    break;
                }
            }
            let text = tail.get(..len)?;
            rest = &tail[len..];
            Some((Field(slot), text))
        })
    }

    /// The texts of its secret columns (passwords, TOTP secrets).
    pub fn secrets(&self, schema: &Schema) -> Vec<String> {
        self.fields()
            .filter(|(f, _)| {
                schema
                    .columns
                    .get(f.slot())
                    .is_some_and(|c| c.kind == Kind::Secret)
            })
            .map(|(_, text)| text.to_string())
            .collect()
    }

    /// Writes the fields sent in the body as members of a JSON object, with
    /// the JSON types of the vendor's samples.
    pub fn write_json(&self, schema: &Schema, obj: &mut JsonObject<'_>) {
        self.write_json_of(schema, obj, |_| true);
    }

    /// [`Body::write_json`] for the columns `keep` keeps (the custom
    /// fields are the column `ACCOUNTCUSTOMFIELD`).
    pub fn write_json_of(
        &self,
        schema: &Schema,
        obj: &mut JsonObject<'_>,
        keep: impl Fn(&Column) -> bool,
    ) {
        for (field, text) in self.fields() {
            if field == Field::JSON {
                if schema
                    .columns
                    .iter()
                    .find(|c| c.name == "ACCOUNTCUSTOMFIELD")
                    .is_some_and(&keep)
                {
                    obj.raw("ACCOUNTCUSTOMFIELD", text);
                }
                continue;
            }
            let Some(column) = schema.columns.get(field.slot()) else {
                continue;
            };
            if !keep(column) {
                continue;
            }
            // The text was checked when the row was read: it parses again.
            if let (Some(key), Ok(Some(value))) = (column.wire, parse_cell(column.kind, text)) {
                obj.value(key, column.kind, &value);
            }
        }
    }

    /// The texts of the fields of `keep`'s columns, by column name (a
    /// resource's fields, for its create).
    pub fn texts_of(
        &self,
        schema: &Schema,
        keep: impl Fn(&Column) -> bool,
    ) -> Vec<(&'static str, &str)> {
        self.fields()
            .filter_map(|(f, text)| {
                let column = schema.columns.get(f.slot())?;
                keep(column).then_some((column.name, text))
            })
            .collect()
    }

    /// Whether it holds no field.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The columns in which two bodies differ, in schema order, each once.
pub fn differences(schema: &Schema, a: &Body, b: &Body) -> Vec<&'static str> {
    let name = |f: Field| {
        if f == Field::JSON {
            "ACCOUNTCUSTOMFIELD"
        } else if f == Field::RESOURCE_JSON {
            "RESOURCECUSTOMFIELD"
        } else {
            schema.columns.get(f.slot()).map_or("?", |c| c.name)
        }
    };
    let mut differ: Vec<(usize, &'static str)> = Vec::new();
    for (x, y) in [(a, b), (b, a)] {
        for (f, text) in x.fields() {
            if y.get(f) != Some(text) && !differ.iter().any(|(_, n)| *n == name(f)) {
                differ.push((f.slot(), name(f)));
            }
        }
    }
    differ.sort();
    differ.into_iter().map(|(_, n)| n).collect()
}

/// "duplicate of row N", saying which row is kept and how the two differ.
pub fn duplicate_message(first_row: u64, differ: &[&str]) -> String {
    if differ.is_empty() {
        format!("duplicate of row {first_row} (identical; row {first_row} is kept)")
    } else {
        format!(
            "duplicate of row {first_row} (row {first_row} is kept; this row differs in {})",
            differ.join(", ")
        )
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<body of {} bytes, not shown>", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::SCHEMA;

    const PASSWORD: Field = Field::of(SCHEMA.columns, "PASSWORD");
    const NAME: Field = Field::of(SCHEMA.columns, "ACCOUNTNAME");

    #[test]
    fn fields_are_read_by_column_never_by_place() {
        // The password first, as any reordering of a writer would put it.
        let b = Body::build(|w| {
            w.put(PASSWORD, "hunter2-secret");
            w.put(NAME, "svc");
        });
        assert_eq!(b.get(NAME), Some("svc"));
        assert_eq!(b.leading(NAME), None, "the first field is not the name");
        assert_eq!(b.leading(PASSWORD), Some("hunter2-secret"));
        assert_eq!(b.secrets(&SCHEMA), ["hunter2-secret"]);
        // No secret column shares a slot with a name, whatever the order.
        for (slot, c) in SCHEMA.columns.iter().enumerate() {
            if c.kind == Kind::Secret {
                assert_ne!(Field::at(slot), NAME);
            }
        }
    }

    #[test]
    fn compact_bodies_round_trip() {
        let long = "x".repeat(300);
        // Lengths on both sides of one length byte's limit (127, 128).
        let (short, over) = ("y".repeat(127), "z".repeat(128));
        let b = Body::build(|w| {
            w.put(Field(1), "root");
            w.put(Field(2), "");
            w.put(Field(3), &long);
            w.put(Field(4), &short);
            w.put(Field(5), &over);
            w.put(Field::JSON, "[1]");
        });
        let fields: Vec<(Field, &str)> = b.fields().collect();
        assert_eq!(
            fields,
            vec![
                (Field(1), "root"),
                (Field(2), ""),
                (Field(3), long.as_str()),
                (Field(4), short.as_str()),
                (Field(5), over.as_str()),
                (Field::JSON, "[1]")
            ]
        );
    }

    #[test]
    fn bodies_never_print() {
        let b = Body::build(|w| w.put(PASSWORD, "hunter2"));
        assert_eq!(format!("{b:?}"), "<body of 9 bytes, not shown>");
    }

    #[test]
    fn bodies_share_blocks_but_keep_their_own_bytes() {
        let texts: Vec<String> = (0..20_000u32)
            .map(|i| i.to_string().repeat(1 + i as usize % 7))
            .collect();
        let bodies: Vec<Body> = texts
            .iter()
            .map(|t| Body::build(|w| w.put(NAME, t)))
            .collect();
        for (t, b) in texts.iter().zip(&bodies) {
            assert_eq!(b.get(NAME), Some(t.as_str()));
        }
        let big = "7".repeat(BLOCK);
        assert_eq!(Body::build(|w| w.put(NAME, &big)).get(NAME), Some(&big[..]));
        assert!(Body::build(|_| {}).is_empty());
        // Lengths past one varint byte.
        let long = "x".repeat(300);
        let b = Body::build(|w| {
            w.put(NAME, &long);
            w.put(PASSWORD, "p");
        });
        assert_eq!(b.get(PASSWORD), Some("p"));
    }
}
