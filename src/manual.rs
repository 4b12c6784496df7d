//! The whole manual as one man page, `pam360-bulk man`: every command with
//! its options, then what a man page reader looks for besides: exit codes,
//! environment, input columns, the report, the files written.
//!
//! clap_mangen renders the command parts; the rest is written here, from
//! the same definitions the code uses (the column tables come from the
//! schemas), so the manual cannot drift from the tool.

use std::io::Write;

use crate::schema::Schema;

/// Writes the manual page (roff) for `cmd`.
pub fn write(cmd: clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    writeln!(out, ".SH COMMANDS")?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        command(sub, out)?;
    }
    for (title, body) in SECTIONS {
        writeln!(out, ".SH {title}")?;
        paragraphs(body, out)?;
    }
    writeln!(out, ".SH COLUMNS")?;
    for (name, schema) in [
        ("add-accounts", &crate::accounts::SCHEMA),
        ("request-passwords", &crate::requests::SCHEMA),
    ] {
        columns(name, schema, out)?;
    }
    man.render_version_section(out)
}

/// One command: its synopsis, what it does, its options by heading.
fn command(sub: &clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, ".SS {}", roff_text(sub.get_name()))?;
    if let Some(about) = sub.get_about() {
        writeln!(out, "{}", roff_text(&about.to_string()))?;
    }
    let mut opts = Vec::new();
    let sub = sub
        .clone()
        .bin_name(format!("pam360-bulk {}", sub.get_name()));
    clap_mangen::Man::new(sub).render_options_section(&mut opts)?;
    // Its headings become paragraphs under the command's own heading.
    let opts = String::from_utf8_lossy(&opts).replace(".SH ", ".PP\n.B ");
    out.write_all(opts.as_bytes())
}

fn columns(job: &str, schema: &Schema, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, ".SS {job}")?;
    for c in schema.columns {
        writeln!(out, ".TP")?;
        let required = match schema.requirement(c) {
            Some(r) if r == "yes" => " (required)".to_string(),
            Some(r) => format!(" (required: {r})"),
            None => String::new(),
        };
        writeln!(out, ".B {}{required}", c.name)?;
        writeln!(
            out,
            "{} Takes {}.",
            roff_text(c.help),
            roff_text(&c.kind.allowed())
        )?;
    }
    Ok(())
}

fn paragraphs(body: &str, out: &mut dyn Write) -> std::io::Result<()> {
    for p in body.split("\n\n") {
        if let Some((term, text)) = p.split_once(" :: ") {
            writeln!(out, ".TP\n.B {}\n{}", roff_text(term), roff_text(text))?;
        } else {
            writeln!(out, ".PP\n{}", roff_text(p))?;
        }
    }
    Ok(())
}

/// Text safe in roff: a line starting with `.` or `'` would be a request,
/// and a backslash an escape.
fn roff_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const SECTIONS: &[(&str, &str)] = &[
    (
        "EXIT STATUS",
        "0 :: Every row is done: added, updated, exists, requested, skipped (or planned, in a dry run).\n\n\
1 :: The run finished; some rows are invalid, failed, unconfirmed or not_sent: the report says which.\n\n\
2 :: Nothing was written, and the cause is ours to fix: bad usage, unreadable input, a missing or unknown column, --strict with invalid rows, an unsafe or unwritable output path, a journal locked by another run, a certificate that fails verification.\n\n\
3 :: The run stopped part-way: the token refused, the server unreachable or not PAM360, a redirect, SIGINT or SIGTERM, the journal could not be written, throttled past --max-throttle, or an output that failed after sending began. The report is complete where it can be written; otherwise the journal stays and the message says how to resume.",
    ),
    (
        "ENVIRONMENT",
        "PAM360_URL :: The server, as --server.\n\n\
PAM360_AUTHTOKEN :: The API user's token (or --token-file). Never a flag value: it would show in ps.\n\n\
PAM360_ORG :: The organisation, as --org.\n\n\
https_proxy, HTTPS_PROXY, http_proxy, NO_PROXY :: Proxies as curl reads them (HTTP_PROXY in capitals is not read); never for loopback or --simulate; --no-proxy ignores them.\n\n\
RUST_LOG :: Log filters, e.g. RUST_LOG=pam360_bulk=debug or RUST_LOG=reqwest=debug for a library's own lines.",
    ),
    (
        "REPORT",
        "One row per input data row, in input order, every row exactly once: row (as a spreadsheet shows it), org, the row's identity columns, outcome, status (the server's STATUS text), http_status, attempts, message; for add-accounts also fingerprint (a SHA-256 of the row's non-secret fields, so a later run sees what changed).\n\n\
outcome :: added, updated (an existing account edited or its password changed), exists, requested, failed, invalid, unconfirmed (sent, answer unknown), not_sent, skipped (done in the --resume report; the message carries what was done and when), planned (dry run).\n\n\
Never a password, TOTP secret or token; file mode 0600; CSV cells that a spreadsheet would run as a formula get a leading apostrophe. .csv, .jsonl or .xlsx by the --report extension.",
    ),
    (
        "FILES",
        "<input stem>.report.csv :: The report, beside the input (<input stem>.dry-run.report.csv for an offline dry run, <input stem>.plan.report.csv for a live plan), unless --report names another.\n\n\
DIR/<input stem>.<UTC date and time>.report.csv :: With --history DIR: each run's report; a run resumes from the newest one (or an unfinished journal) there.\n\n\
<report>.partial :: The journal, written while the run goes and synced after each answer; locked while its run lives; removed once the report is written. After a kill, --resume <report>.partial finishes the run without sending anything twice.\n\n\
--summary-json FILE :: The end-of-run summary as JSON, for scripts.",
    ),
    (
        "COLUMN MAPS",
        "--map FILE reads an input whose columns are not ours. The file is TOML:\n\n\
[columns] :: Our column = a template over the input's columns, as RESOURCENAME = \"{hostname}.{domain}\" or DNSNAME = \"{URL|host|lower}\". A {Column} piece is the input's header, matched case-insensitively; {{ is a brace. Filters: host (the host of a URL, or the value itself), lower, upper, trim, applied left to right. An empty result is an empty cell.\n\n\
[constants] :: Our column = the same value on every row, as RESOURCETYPE = \"Linux\". Never a secret (PASSWORD, TOTP_SECRET).\n\n\
[require] :: Input column = value: only rows whose column holds this value are imported; the others are invalid (as the bitwarden preset keeps logins: type = \"login\").\n\n\
An input column the map does not use is read as ours when it has one of our names, else ignored and named in the summary; one that looks like ours misspelt stops the run. A secret column may only feed a secret column. Errors name the map's line and the input's column.\n\n\
--from PRESET :: A built-in map for an export as its tool writes it: keepassxc (Group, Title, Username, Password, URL, Notes), bitwarden (logins only: name, login_username, login_password, notes, login_uri), lastpass (url, username, password, extra, name, grouping), 1password (Title, Url, Username, Password, Notes), cyberark (the Accounts Onboard Utility's CSV: address, userName, password). A --map beside it overrides single columns; no preset sets RESOURCETYPE. pam360-bulk template map --from PRESET writes one as a file to edit.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_text_escapes_requests_and_backslashes() {
        assert_eq!(roff_text(".B x\\y"), "\\&.B x\\\\y");
        assert_eq!(roff_text("plain"), "plain");
    }
}
