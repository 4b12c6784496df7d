//! The request-passwords job (vendor page 003): its columns, its checks, and
//! one `requestpassword` request per row.

use chrono::NaiveDateTime;

use crate::body::{Body, Field};
use crate::cells::{self, TIME_FORMAT, Value};
use crate::input::RawRow;
use crate::job::{Checked, Identity, Job, Names, ResourceRef, Spec};
use crate::names::push_fold;
use crate::op::request_password::RequestPassword;
use crate::op::{Kind as OpKind, Op};
use crate::plan::{Target, Unit};
use crate::schema::{Column, Header, Kind, Part, Schema};

const fn col(name: &'static str, kind: Kind, help: &'static str, example: &'static str) -> Column {
    Column {
        name,
        alias: None,
        kind,
        wire: Some(name),
        required: false,
        part: Part::Account,
        help,
        example,
    }
}

const ACCESS_VALUES: &[&str] = &["now", "later"];
const OPTIONS: &[&str] = &["1", "2", "3"];

const COLUMNS: [Column; 11] = [
    Column {
        wire: None,
        part: Part::Target,
        ..col(
            "ACCOUNTID",
            Kind::Id,
            "The ID of the account whose password is requested; this, or RESOURCENAME and ACCOUNTNAME.",
            "901",
        )
    },
    col(
        "REASON",
        Kind::Verbatim,
        "Reason for requesting access.",
        "Quarterly audit",
    ),
    col(
        "ACCESS",
        Kind::Choice(ACCESS_VALUES),
        "now (default) or later; later needs STARTTIME and ENDTIME.",
        "later",
    ),
    col(
        "STARTTIME",
        Kind::DateTime,
        "Start of the access window, DD/MM/YYYY HH:mm (server local time).",
        "09/01/2026 17:50",
    ),
    col(
        "ENDTIME",
        Kind::DateTime,
        "End of the access window, DD/MM/YYYY HH:mm; after STARTTIME.",
        "12/01/2026 17:50",
    ),
    Column {
        alias: Some("REMAINDERTIME"),
        ..col(
            "REMINDERTIME",
            Kind::Integer,
            "Minutes before a reminder about the pending request: 1 to 59.",
            "45",
        )
    },
    col(
        "RESOURCES_TO_BE_ACCESSED_OPTION",
        Kind::Choice(OPTIONS),
        "Windows domain resources: 1 this resource, 2 all shared, 3 the SELECTED_RESOURCEIDS.",
        "3",
    ),
    col(
        "SELECTED_RESOURCEIDS",
        Kind::IdList,
        "Resource IDs when the option is 3.",
        "301;601",
    ),
    Column {
        wire: None,
        part: Part::Target,
        ..col(
            "RESOURCENAME",
            Kind::Text,
            "The name of the account's resource, looked up on the server (with ACCOUNTNAME, instead of ACCOUNTID).",
            "web-01",
        )
    },
    Column {
        wire: None,
        part: Part::Target,
        ..col(
            "ACCOUNTNAME",
            Kind::Name,
            "The name of the account, looked up under RESOURCENAME on the server.",
            "root",
        )
    },
    Column {
        wire: None,
        part: Part::Target,
        ..col(
            "ORGNAME",
            Kind::Text,
            "The organisation (MSP); sent as the orgName header. Overrides --org.",
            "Acme",
        )
    },
];

/// The request-passwords columns.
pub static SCHEMA: Schema = Schema {
    columns: &COLUMNS,
    custom_columns: false,
    resource_custom_columns: false,
    one_of: &[&["ACCOUNTID"], &["RESOURCENAME", "ACCOUNTNAME"]],
};

const ACCOUNTID: Field = Field::of(&COLUMNS, "ACCOUNTID");
const RESOURCENAME: Field = Field::of(&COLUMNS, "RESOURCENAME");
const ACCOUNTNAME: Field = Field::of(&COLUMNS, "ACCOUNTNAME");
const ACCESS: Field = Field::of(&COLUMNS, "ACCESS");
const STARTTIME: Field = Field::of(&COLUMNS, "STARTTIME");
const ENDTIME: Field = Field::of(&COLUMNS, "ENDTIME");
const REMINDERTIME: Field = Field::of(&COLUMNS, "REMINDERTIME");
const OPTION: Field = Field::of(&COLUMNS, "RESOURCES_TO_BE_ACCESSED_OPTION");
const SELECTED: Field = Field::of(&COLUMNS, "SELECTED_RESOURCEIDS");

/// A checked password request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The account: given as ACCOUNTID, or found by its names.
    pub account_id: Option<u64>,
    /// The id its RESOURCENAME resolved to, once read: where its account
    /// is looked for.
    pub resource_id: Option<u64>,
    pub access: Option<&'static str>,
    pub start: Option<NaiveDateTime>,
    pub end: Option<NaiveDateTime>,
    /// Its checked cells, compact.
    pub body: Body,
}

/// An empty ACCESS is `now` on the server, so it is `now` wherever rows are
/// compared (duplicates, `--resume`); what is sent stays as the input wrote.
pub fn access_or_default(access: Option<&str>) -> &str {
    access.unwrap_or("now")
}

/// A request's sent fields other than ACCESS, which compares by
/// [`access_or_default`], and the names, which compare by the account id
/// they resolve to (or case-insensitively while they are not resolved).
fn fields_but_access(r: &Request) -> impl Iterator<Item = (Field, &str)> {
    r.body
        .fields()
        .filter(|(f, _)| ![ACCESS, RESOURCENAME, ACCOUNTNAME].contains(f))
}

impl Request {
    /// The RESOURCENAME the input gave ("" when it gave the account id).
    pub fn resource_name(&self) -> &str {
        self.body.get(RESOURCENAME).unwrap_or("")
    }

    /// The ACCOUNTNAME the input gave ("" when it gave the account id).
    pub fn account_name(&self) -> &str {
        self.body.get(ACCOUNTNAME).unwrap_or("")
    }
}

static SPEC: Spec = Spec {
    name: "request-passwords",
    schema: &SCHEMA,
    main: OpKind::RequestPassword,
    targets_account: true,
    would: "would be requested",
    identity: Identity {
        columns: &[
            "account_id",
            "resource_name",
            "account_name",
            "access",
            "starttime",
            "endtime",
        ],
        legacy_columns: &["account_id", "access", "starttime", "endtime"],
        defaults: &[(3, "now")],
        // By names, by account id; with the access window either way.
        ways: &[&[1, 2, 3, 4, 5], &[0, 3, 4, 5]],
        extra: &[],
    },
};

/// Why a row names no account: its ACCOUNTID is empty and its names are
/// missing (in words that fit the columns the input has).
fn missing_account(header: &Header, row: &RawRow) -> Option<String> {
    let cell = |f: Field| header.cell(row, f);
    if !cell(ACCOUNTID).trim().is_empty() {
        return None;
    }
    let (resource, account) = (cell(RESOURCENAME).trim(), cell(ACCOUNTNAME));
    let by_name = header.has(RESOURCENAME) || header.has(ACCOUNTNAME);
    Some(if !by_name {
        "column ACCOUNTID is empty; every request needs the id of an account".into()
    } else if resource.is_empty() && account.is_empty() {
        "columns ACCOUNTID, RESOURCENAME and ACCOUNTNAME are empty; every request needs an account id, or a resource and account name".into()
    } else if resource.is_empty() || account.is_empty() {
        let missing = if resource.is_empty() {
            "RESOURCENAME"
        } else {
            "ACCOUNTNAME"
        };
        format!(
            "column {missing} is empty; an account given by name needs both RESOURCENAME and ACCOUNTNAME (or give ACCOUNTID)"
        )
    } else {
        return None;
    })
}

/// An ACCOUNTNAME beside an ACCOUNTID names an account whose id can only
/// be checked under its resource: without RESOURCENAME the row could go to
/// another account than the name says.
fn unchecked_name(header: &Header, row: &RawRow) -> Option<String> {
    let cell = |f: Field| header.cell(row, f);
    let (id, resource, account) = (cell(ACCOUNTID), cell(RESOURCENAME), cell(ACCOUNTNAME));
    (!id.trim().is_empty() && !account.is_empty() && resource.trim().is_empty()).then(|| {
        "ACCOUNTNAME beside ACCOUNTID cannot be checked without its resource: give RESOURCENAME too, or the id alone".to_string()
    })
}

/// The access window: `later` needs both times, the end after the start;
/// times go with `later` only. `given` says whether a column has a cell.
fn window_problems(
    access: Option<&str>,
    (start, end): (Option<NaiveDateTime>, Option<NaiveDateTime>),
    given: &dyn Fn(Field) -> bool,
    problems: &mut Vec<String>,
) {
    if access == Some("later") {
        for (slot, name) in [(STARTTIME, "STARTTIME"), (ENDTIME, "ENDTIME")] {
            if !given(slot) {
                problems.push(format!(
                    "column {name} is empty; ACCESS later needs both STARTTIME and ENDTIME (DD/MM/YYYY HH:mm)"
                ));
            }
        }
        if let (Some(s), Some(e)) = (start, end)
            && e <= s
        {
            problems.push(format!(
                "column ENDTIME: \"{}\" is not after STARTTIME \"{}\"",
                e.format(TIME_FORMAT),
                s.format(TIME_FORMAT)
            ));
        }
    } else if given(STARTTIME) || given(ENDTIME) {
        problems.push(format!(
            "STARTTIME and ENDTIME are only for ACCESS later, and ACCESS is {}; set ACCESS to later or clear the times",
            access.unwrap_or("empty (now)")
        ));
    }
}

/// SELECTED_RESOURCEIDS goes with option 3, and option 3 needs it.
fn option_problem(option: Option<&str>, selected: bool) -> Option<String> {
    match (option, selected) {
        (Some("3"), false) => Some(
            "column SELECTED_RESOURCEIDS is empty; RESOURCES_TO_BE_ACCESSED_OPTION 3 needs the resource ids".into(),
        ),
        (o, true) if o != Some("3") => Some(format!(
            "column SELECTED_RESOURCEIDS is only for RESOURCES_TO_BE_ACCESSED_OPTION 3, and the option is {}; set it to 3 or clear the ids",
            o.unwrap_or("empty")
        )),
        _ => None,
    }
}

/// The request-passwords job.
pub struct Requests;

impl Job for Requests {
    type Item = Request;

    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn check(&self, header: &Header, row: &RawRow) -> Result<Request, String> {
        let mut problems = Vec::new();
        let mut values = cells::Values::default();
        cells::parse_row(&SCHEMA, header, row, &mut problems, &mut values);
        let account_id = match values.get(ACCOUNTID.slot()) {
            Some((Value::Int(i), _)) => Some(*i as u64),
            _ => None,
        };
        problems.extend(missing_account(header, row));
        problems.extend(unchecked_name(header, row));
        let access = match values.get(ACCESS.slot()) {
            Some((Value::Choice(a), _)) => Some(*a),
            _ => None,
        };
        let time = |f: Field| match values.get(f.slot()) {
            Some((Value::Time(t), _)) => Some(*t),
            _ => None,
        };
        let (start, end) = (time(STARTTIME), time(ENDTIME));
        let given = |f: Field| !header.cell(row, f).trim().is_empty();
        window_problems(access, (start, end), &given, &mut problems);
        if let Some((Value::Int(m), _)) = values.get(REMINDERTIME.slot())
            && !(1..=59).contains(m)
        {
            problems.push(format!(
                "column REMINDERTIME: \"{m}\" is not from 1 to 59 (minutes)"
            ));
        }
        let option = match values.get(OPTION.slot()) {
            Some((Value::Choice(o), _)) => Some(*o),
            _ => None,
        };
        problems.extend(option_problem(option, given(SELECTED)));
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        let body = Body::build(|body| {
            body.put_sent(&SCHEMA, &values);
            // Kept for lookups and the report; never sent (no wire key).
            for field in [RESOURCENAME, ACCOUNTNAME] {
                if let Some((_, name)) = values.get(field.slot()) {
                    body.put(field, name);
                }
            }
        });
        Ok(Request {
            account_id,
            resource_id: None,
            access,
            start,
            end,
            body,
        })
    }

    fn raw_key(&self, header: &Header, row: &RawRow) -> Vec<String> {
        [
            ACCOUNTID,
            RESOURCENAME,
            ACCOUNTNAME,
            ACCESS,
            STARTTIME,
            ENDTIME,
        ]
        .iter()
        .map(|s| {
            let cell = header.cell(row, *s);
            // An account name is shown as typed, like add-accounts'.
            if *s == ACCOUNTNAME { cell } else { cell.trim() }.to_string()
        })
        .collect()
    }

    fn key_into(&self, item: &Request, out: &mut Vec<String>) {
        let t = |t: Option<NaiveDateTime>| {
            t.map(|t| t.format(TIME_FORMAT).to_string())
                .unwrap_or_default()
        };
        *out = vec![
            item.account_id.map(|id| id.to_string()).unwrap_or_default(),
            item.resource_name().to_string(),
            item.account_name().to_string(),
            item.access.unwrap_or("").to_string(),
            t(item.start),
            t(item.end),
        ];
    }

    fn dup_key(&self, item: &Request, out: &mut Vec<u8>) {
        // A tag first: a key by id and a key by names never read alike.
        if let Some(id) = item.account_id {
            out.push(b'#');
            out.extend_from_slice(&id.to_le_bytes());
        } else {
            out.push(b'n');
            for name in [item.resource_name(), item.account_name()] {
                push_fold(name, out);
                out.push(0xff);
            }
        }
        out.extend_from_slice(access_or_default(item.access).as_bytes());
        for (field, text) in fields_but_access(item) {
            out.push(field.slot() as u8);
            out.extend_from_slice(text.as_bytes());
            out.push(0xff);
        }
    }

    fn target(&self, item: &Request) -> Target {
        // A request is sent only once its account has an id.
        Target::Account(item.account_id.unwrap_or_default())
    }

    fn op<'a>(&self, unit: &Unit, items: &'a [Checked<Request>]) -> Box<dyn Op + 'a> {
        let account_id = match unit.target {
            Target::Account(id) => id,
            _ => 0,
        };
        // One row, one request: the planner never groups requests.
        Box::new(RequestPassword {
            account_id,
            org: unit.org.clone(),
            request: &items[unit.rows[0] as usize].item,
        })
    }

    fn names<'a>(&self, item: &'a Request) -> Names<'a> {
        Names {
            resource_id: item.resource_id,
            resource_name: item.resource_name(),
            account_name: item.account_name(),
            account_id: item.account_id,
        }
    }

    fn set_resource(&self, item: &mut Request, resource: ResourceRef) {
        item.resource_id = resource.id();
    }

    fn set_account(&self, item: &mut Request, account_id: u64) {
        item.account_id = Some(account_id);
    }

    fn body<'a>(&self, item: &'a Request) -> &'a Body {
        &item.body
    }
}
