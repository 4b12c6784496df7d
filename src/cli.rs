//! Command-line definitions (clap) and their validation into one [`Config`]
//! per job run. Beyond this file, clap is used only to parse (`main.rs`)
//! and on the value enums an option names (`input::Format`); the stages
//! see [`Config`].

// The doc comments of clap's types are the help text a user reads, not
// rustdoc: `<RESOURCEID>` and a bare URL are meant as written.
#![allow(
    rustdoc::invalid_html_tags,
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links
)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use thiserror::Error;

use crate::input::{Format, InputOptions, Source};
use crate::pam360::TlsTrust;
use crate::secret::Secret;

#[derive(Debug, Parser)]
#[command(
    name = "pam360-bulk",
    version,
    about = "Bulk-add privileged accounts to PAM360 and raise password-access requests in bulk, from CSV or XLSX",
    after_help = "Try it with no server: pam360-bulk add-accounts samples/accounts.csv --simulate"
)]
pub struct Cli {
    #[command(flatten)]
    pub lead: LeadArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// `-v`, `-q` and `--progress` written before the command, as cargo takes
/// them (`pam360-bulk -v add-accounts …`). Hidden: each command's help
/// lists them where they apply, and `template` or `man` have no use for
/// them.
#[derive(Debug, Args, Default)]
pub struct LeadArgs {
    #[arg(short, long, action = ArgAction::Count, hide = true)]
    pub verbose: u8,
    #[arg(short, long, hide = true)]
    pub quiet: bool,
    #[arg(long, value_enum, hide = true)]
    pub progress: Option<Progress>,
}

impl Cli {
    /// Parses `args` (the program name first). On a usage error, clap's
    /// message, and a tip when the mistake is a known one.
    pub fn parse_args(
        args: Vec<std::ffi::OsString>,
    ) -> Result<Cli, (clap::Error, Option<&'static str>)> {
        match Cli::try_parse_from(&args) {
            Ok(mut cli) => {
                cli.take_lead();
                Ok(cli)
            }
            Err(e) => {
                let tip = dry_run_with_a_space(&args).then_some(
                    "write --dry-run=server (with '='): after a space, \"server\" is read as another argument",
                );
                Err((e, tip))
            }
        }
    }

    /// Hands the options written before the command to the command.
    fn take_lead(&mut self) {
        let lead = std::mem::take(&mut self.lead);
        let out = match &mut self.command {
            Command::AddAccounts(a) => &mut a.job.output,
            Command::RequestPasswords(r) => &mut r.job.output,
            Command::Simulate(s) => {
                s.verbose = s.verbose.saturating_add(lead.verbose);
                return;
            }
            _ => return,
        };
        out.verbose = out.verbose.saturating_add(lead.verbose);
        out.quiet |= lead.quiet;
        // Written after the command, it wins.
        if let (Some(p), Progress::Auto) = (lead.progress, out.progress) {
            out.progress = p;
        }
    }
}

/// `--dry-run server` or `--dry-run offline`: `--dry-run` takes its value
/// only after `=`.
fn dry_run_with_a_space(args: &[std::ffi::OsString]) -> bool {
    args.windows(2)
        .any(|w| w[0] == "--dry-run" && (w[1] == "server" || w[1] == "offline"))
}

/// What a job prints on stderr besides its summary.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// More log detail on stderr: -v one line per request (method, path, HTTP status, attempt, time), -vv more; never a body or a secret. RUST_LOG=target=level shows the libraries' own logs.
    #[arg(short, long, action = ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,
    /// No progress bars and no warnings: errors and the end-of-run summary only.
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,
    /// Progress bars on stderr: auto (when stderr is a terminal), always (also into a log file or a CI console), never.
    #[arg(long, value_enum, default_value_t = Progress::Auto, help_heading = "Output")]
    pub progress: Progress,
}

/// add-accounts: the common options, and the chunk size.
#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Accounts per ACCOUNTLIST request (1 to 1,000).
    #[arg(long, default_value_t = 50, help_heading = "Pipeline")]
    pub chunk_size: usize,
    /// Read the target resources' accounts first; rows already there are `exists`, not sent.
    #[arg(long, help_heading = "Pipeline")]
    pub skip_existing: bool,
    /// After sending, read the written resources back: account ids into the report, lost or unconfirmed accounts settled.
    #[arg(long, help_heading = "Pipeline")]
    pub verify: bool,
    /// Create the resources no resource has the name of (RESOURCETYPE needed), once each; =all also creates a name close to an existing one (a likely typo otherwise).
    #[arg(
        long,
        value_enum,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "missing",
        value_name = "all",
        hide_possible_values = true,
        help_heading = "Sync"
    )]
    pub create_resources: Option<CreateResources>,
    /// Edit accounts that exist with the row's non-empty fields (never the password; implies --skip-existing).
    #[arg(long, help_heading = "Sync")]
    pub update: bool,
    /// Also change existing accounts' passwords to the row's PASSWORD (the vault's copy only; implies --update).
    #[arg(long, help_heading = "Sync")]
    pub update_passwords: bool,
    /// The reason a password change records.
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "bulk import",
        help_heading = "Sync"
    )]
    pub reason: String,
    /// With --resume: change again passwords whose earlier change had no confirmed answer.
    #[arg(long, help_heading = "Sync")]
    pub resend_unconfirmed: bool,
}

/// `--create-resources` or `--create-resources=all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CreateResources {
    /// Names that no resource has and that are not close to one.
    Missing,
    /// Also names close to an existing one.
    All,
}

/// The options only one of the jobs has.
#[derive(Debug, Clone, Default)]
pub struct JobOnly {
    pub chunk_size: usize,
    pub resend_unconfirmed: bool,
    pub skip_existing: bool,
    pub verify: bool,
    pub create_resources: Option<CreateResources>,
    pub update: bool,
    pub update_passwords: bool,
    pub reason: String,
}

/// `--dry-run` (offline) or `--dry-run=server` (a live plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    // Undocumented variants: clap would turn docs into a long help list.
    Offline,
    Server,
}

/// request-passwords: the common options, and resending unconfirmed requests.
#[derive(Debug, Args)]
pub struct RequestArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// With --resume: send again password requests whose outcome was unconfirmed (check PAM360 first: each is a request for an approver).
    #[arg(long, help_heading = "Pipeline")]
    pub resend_unconfirmed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add accounts under resources (POST /resources/<RESOURCEID>/accounts).
    #[command(
        after_help = "Example:\n  pam360-bulk add-accounts samples/accounts.csv --simulate\n\n  export PAM360_AUTHTOKEN=…\n  pam360-bulk add-accounts inventory.xlsx \\\n      --server https://pam360.example.com:8282 --pin-sha256 AB:CD:…"
    )]
    AddAccounts(AddArgs),
    /// Raise password-access requests (POST /accounts/<ACCOUNTID>/requestpassword).
    #[command(
        after_help = "Example:\n  pam360-bulk request-passwords samples/requests.csv --simulate"
    )]
    RequestPasswords(RequestArgs),
    /// Write an empty input file with every column (.csv or .xlsx by extension), or a column map from a preset.
    #[command(
        after_help = "Example:\n  pam360-bulk template accounts -o inventory.xlsx\n  pam360-bulk template map --from keepassxc -o keepass.toml"
    )]
    Template(TemplateArgs),
    /// Serve a local PAM360 API simulator.
    #[command(
        after_help = "Example:\n  pam360-bulk simulate --listen 127.0.0.1:8282 --token secret-token"
    )]
    Simulate(SimArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  pam360-bulk completions bash > /etc/bash_completion.d/pam360-bulk"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    #[command(after_help = "Example:\n  pam360-bulk man > /usr/local/share/man/man1/pam360-bulk.1")]
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TemplateKind {
    Accounts,
    Requests,
    /// A column map to edit, from a preset (--from).
    Map,
}

#[derive(Debug, Args)]
pub struct TemplateArgs {
    pub kind: TemplateKind,
    /// The file to write (.csv or .xlsx; a map .toml); standard output when not given.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// With `map`: the preset to start from (keepassxc, bitwarden, lastpass, 1password, cyberark).
    #[arg(long, value_name = "PRESET")]
    pub from: Option<String>,
    /// Replace the -o file if it exists (it may be a filled inventory).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:8282")]
    pub listen: String,
    /// The AUTHTOKEN it accepts; a random one is printed when not given.
    #[arg(long)]
    pub token: Option<String>,
    /// Load what it holds from FILE at start (when it exists) and save it there when stopped (SIGINT or SIGTERM), so a rehearsal survives a restart. The file holds passwords: it is written readable by its owner only.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    #[command(flatten)]
    pub faults: FaultArgs,
    /// More log detail on stderr.
    #[arg(short, long, action = ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,
}

/// Fault injection, for tests and rehearsals.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Faults (for tests and rehearsals)")]
pub struct FaultArgs {
    /// Milliseconds of delay before each answer.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Answer Details in the other shape public clients saw: added accounts as a list of one-key objects, an account list inside a list.
    #[arg(long)]
    pub list_shape: bool,
    /// Accept password requests for any ACCOUNTID.
    #[arg(long)]
    pub any_account: bool,
    /// Serve at most N requests per second; answer the rest 429 + Retry-After.
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Share (0 to 1) of requests answered 503.
    #[arg(long, default_value_t = 0.0)]
    pub error_share: f64,
    /// Share (0 to 1) of connections dropped before anything is stored.
    #[arg(long, default_value_t = 0.0)]
    pub drop_before: f64,
    /// Share (0 to 1) of connections dropped after the accounts are stored.
    #[arg(long, default_value_t = 0.0)]
    pub drop_after: f64,
    /// Quote each account entry (its password too) back in its STATUS, as some servers echo input.
    #[arg(long)]
    pub echo: bool,
    /// Serve HTTPS with a freshly generated self-signed certificate, written as PEM to this file.
    #[arg(long, value_name = "CERT_PEM_OUT")]
    pub tls: Option<PathBuf>,
    /// With --tls: a certificate with only a CN and no subjectAltName, as PAM360 ships (rustls refuses it as a root).
    #[arg(long, requires = "tls")]
    pub tls_cn_only: bool,
    /// Start with these resources and accounts: a CSV of RESOURCENAME and optional RESOURCEID, RESOURCETYPE, ACCOUNTNAME, ACCOUNTID, ORGNAME.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Leave this account out of account-list reads (repeatable), as if the server lost it.
    #[arg(long, value_name = "NAME")]
    pub hide_account: Vec<String>,
    /// Serve at most N resources per page of the resource list, whatever LIMIT asks.
    #[arg(long, value_name = "N")]
    pub page_cap: Option<usize>,
    /// Count STARTINDEX from 1 instead of 0.
    #[arg(long)]
    pub one_based_paging: bool,
    /// Seconds a client may take over its request's headers or stay idle between requests.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub slow_client_secs: u64,
    /// Serve at most C requests per second, as an overloaded server does: 8 workers, 8/C s of work each, 8 more waiting, 503 past that.
    #[arg(long, value_name = "C")]
    pub capacity: Option<f64>,
    /// With --capacity: after N requests the capacity drops to C2 (a server that slows down).
    #[arg(long, value_name = "N:C2", value_parser = parse_capacity_drop, requires = "capacity")]
    pub capacity_drop: Option<(u64, f64)>,
    /// Lose the answers of the first N resource creates: the resource is stored, then the connection closes.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub lose_create_answers: u64,
}

/// `N:C2` of `--capacity-drop`.
fn parse_capacity_drop(s: &str) -> Result<(u64, f64), String> {
    let (n, c) = s.split_once(':').ok_or("write it as N:C2, e.g. 500:10")?;
    let n = n.trim().parse().map_err(|_| "N is a number of requests")?;
    let c: f64 = c.trim().parse().map_err(|_| "C2 is requests per second")?;
    if !(c.is_finite() && c > 0.0) {
        return Err("C2 must be a positive number of requests per second".into());
    }
    Ok((n, c))
}

#[derive(Debug, Args)]
pub struct JobArgs {
    /// The input: .csv, .tsv, .xlsx, .xls or .ods, or - for CSV on standard input.
    pub input: String,
    /// The input's format, when its name does not tell.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Worksheet of a workbook (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// Text encoding of CSV input, e.g. windows-1252 (default UTF-8).
    #[arg(long)]
    pub encoding: Option<String>,
    /// Field separator of CSV input: one character, or "tab" (default: "," or, when the header holds ";" and no ",", ";").
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// Skip columns this job does not know, with a warning, instead of stopping.
    #[arg(long)]
    pub ignore_unknown_columns: bool,
    /// Read the input's own columns through this column map (TOML: [columns] our column = "{Their column|filter}", [constants] our column = "value").
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// Read another tool's export as it is: keepassxc, bitwarden, lastpass, 1password or cyberark (a --map beside it overrides single columns).
    #[arg(long, value_name = "PRESET")]
    pub from: Option<String>,

    /// PAM360 server, e.g. https://pam360.example.com:8282.
    #[arg(long, env = "PAM360_URL", help_heading = "Connection")]
    pub server: Option<String>,
    /// File holding the API token (else env PAM360_AUTHTOKEN). Never a flag value: it would show in ps.
    #[arg(long, help_heading = "Connection")]
    pub token_file: Option<PathBuf>,
    /// Organisation, sent as the orgName header; a row's ORGNAME overrides it.
    #[arg(long, env = "PAM360_ORG", help_heading = "Connection")]
    pub org: Option<String>,
    /// Trust this PEM certificate.
    #[arg(long, help_heading = "Connection")]
    pub ca_cert: Option<PathBuf>,
    /// Trust exactly the certificate with this SHA-256 fingerprint (64 hex digits).
    #[arg(long, help_heading = "Connection")]
    pub pin_sha256: Option<String>,
    /// Skip certificate checks (warns on every run).
    #[arg(long, help_heading = "Connection")]
    pub insecure: bool,
    /// Allow plain http:// to a host that is not loopback.
    #[arg(long, help_heading = "Connection")]
    pub allow_http: bool,
    /// Connect directly, ignoring https_proxy, HTTPS_PROXY and http_proxy.
    #[arg(long, help_heading = "Connection")]
    pub no_proxy: bool,
    /// Run against a built-in simulator on a free loopback port: no server needed.
    #[arg(long, help_heading = "Connection")]
    pub simulate: bool,
    /// With --simulate: start the simulator with these resources and accounts (RESOURCENAME, RESOURCEID, RESOURCETYPE, ACCOUNTNAME, ACCOUNTID, ORGNAME).
    #[arg(
        long,
        value_name = "FILE",
        requires = "simulate",
        help_heading = "Connection"
    )]
    pub simulate_inventory: Option<PathBuf>,
    /// With --simulate: load the simulator's state from FILE (when it exists) and save it there at the end of the run.
    #[arg(
        long,
        value_name = "FILE",
        requires = "simulate",
        help_heading = "Connection"
    )]
    pub simulate_state: Option<PathBuf>,

    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, help_heading = "Pipeline")]
    pub concurrency: usize,
    /// At most this many requests start per second (fractions allowed), or auto: find the rate the server takes, from its answers' latency and errors (at most --rate-max).
    #[arg(
        long,
        default_value = "10",
        value_name = "R|auto",
        help_heading = "Pipeline"
    )]
    pub rate: String,
    /// With --rate auto: never more than this many requests per second.
    #[arg(
        long,
        value_name = "R",
        default_value_t = 200.0,
        help_heading = "Pipeline"
    )]
    pub rate_max: f64,
    /// Retries of one request on transport errors, 502, 503, 504.
    #[arg(long, default_value_t = 3, help_heading = "Pipeline")]
    pub retries: u32,
    /// Seconds per request.
    #[arg(long, default_value_t = 60.0, help_heading = "Pipeline")]
    pub timeout: f64,
    /// Stop (exit 3) after this many seconds of 429 answers without a success.
    #[arg(long, default_value_t = 600.0, help_heading = "Pipeline")]
    pub max_throttle: f64,
    /// Read, check, plan and report; send nothing. --dry-run=server also reads the server (names, existing accounts) for a live plan.
    #[arg(
        long,
        value_enum,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "offline",
        value_name = "server",
        hide_possible_values = true,
        help_heading = "Pipeline"
    )]
    pub dry_run: Option<DryRun>,
    /// Send nothing if any row is invalid (exit 2).
    #[arg(long, help_heading = "Pipeline")]
    pub strict: bool,
    /// Do not send again what this earlier report (or .partial journal) shows done.
    #[arg(long, help_heading = "Pipeline")]
    pub resume: Option<PathBuf>,
    /// Report file: .csv, .jsonl or .xlsx (default <input stem>.report.csv beside the input).
    #[arg(long, help_heading = "Pipeline")]
    pub report: Option<PathBuf>,
    /// Also write the end-of-run summary as JSON here.
    #[arg(long, help_heading = "Pipeline")]
    pub summary_json: Option<PathBuf>,
    /// Replace an existing report (request-passwords refuses to otherwise, so a second run cannot raise every request again).
    #[arg(long, help_heading = "Pipeline")]
    pub overwrite: bool,
    /// The cron way: write the report as DIR/<input stem>.<UTC date and time>.report.csv and resume from the newest report (or unfinished journal) there for this input.
    #[arg(long, value_name = "DIR", help_heading = "Pipeline")]
    pub history: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// A usage problem: exit 2, nothing sent.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

/// Where requests go.
#[derive(Debug, Clone)]
pub enum Target {
    /// A real server, with its token.
    Server { url: String, token: Secret },
    /// The in-process simulator, with the inventory it starts with and
    /// the file its state is kept in.
    Simulate {
        inventory: Option<PathBuf>,
        state: Option<PathBuf>,
    },
    /// Nothing: a dry run.
    None,
}

/// One validated job run.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: Source,
    pub input: InputOptions,
    pub ignore_unknown_columns: bool,
    /// The column map (`--map`, `--from`), if any.
    pub map: Option<crate::map::ColumnMap>,
    pub target: Target,
    pub org: Option<String>,
    pub trust: TlsTrust,
    pub chunk_size: usize,
    pub concurrency: usize,
    /// `--rate R`; with `--rate auto`, where the controller starts.
    pub rate: f64,
    /// `--rate auto`: the rate follows the server's answers.
    pub rate_auto: bool,
    /// `--rate-max`: the most `--rate auto` goes to.
    pub rate_max: f64,
    pub retries: u32,
    pub timeout: Duration,
    pub max_throttle: Duration,
    /// Nothing is written: either kind of dry run.
    pub dry_run: bool,
    /// `--dry-run=server`: a live plan, reads only.
    pub live_plan: bool,
    pub skip_existing: bool,
    pub verify: bool,
    /// Resources to create (`--create-resources`): none, the missing ones
    /// not close to an existing name, or all missing ones.
    pub create_resources: Option<CreateResources>,
    /// Edit accounts that exist (`--update`).
    pub update: bool,
    /// Change existing accounts' passwords (`--update-passwords`).
    pub update_passwords: bool,
    /// The reason a password change records.
    pub reason: String,
    pub strict: bool,
    pub resume: Option<PathBuf>,
    /// With `--history`: the unfinished journal of an earlier run that
    /// this run resumes from, removed once this run's report holds it all.
    pub history_journal: Option<PathBuf>,
    /// Whether `--history DIR` was given (messages then say "run the same
    /// command again", not `--resume`).
    pub history: bool,
    pub resend_unconfirmed: bool,
    pub report: PathBuf,
    /// Whether the user named the report (`--report`): messages then say
    /// `--report`, else "the report".
    pub report_given: bool,
    pub summary_json: Option<PathBuf>,
    pub overwrite: bool,
    pub no_proxy: bool,
    pub progress: bool,
}

impl Config {
    /// How this run, if it stops, is finished (for its messages).
    pub fn again(&self) -> crate::transport::Again {
        use crate::transport::Again;
        match (self.dry_run, self.history) {
            (true, _) => Again::DryRun,
            (false, true) => Again::History,
            (false, false) => Again::Resume,
        }
    }

    /// Checks the options of a job run. `token_env` is `PAM360_AUTHTOKEN`.
    /// `only` holds the options only one of the jobs has.
    pub fn from_args(
        a: &JobArgs,
        only: JobOnly,
        identity: &crate::job::Identity,
        token_env: Option<String>,
        progress: bool,
    ) -> Result<Config, UsageError> {
        let source = if a.input == "-" {
            Source::Stdin
        } else {
            Source::Path(PathBuf::from(&a.input))
        };
        check_numbers(a, only.chunk_size)?;
        let (rate, rate_auto) = rate_of(&a.rate)?;
        check_combinations(a, &only)?;
        let JobOnly {
            chunk_size,
            resend_unconfirmed,
            skip_existing,
            verify,
            create_resources,
            update,
            update_passwords,
            reason,
        } = only;
        // --update-passwords implies --update, which implies --skip-existing:
        // an account is edited only once it is known to be there.
        let update = update || update_passwords;
        let skip_existing = skip_existing || update;
        let (report, resume, history_journal) = outputs(a, &source, identity)?;
        let trust = trust(a)?;
        let target = target(a, token_env)?;
        check_org(a.org.as_deref())?;
        Ok(Config {
            source,
            input: input_options(a)?,
            ignore_unknown_columns: a.ignore_unknown_columns,
            map: column_map(a)?,
            target,
            org: a
                .org
                .clone()
                .filter(|o| !o.trim().is_empty())
                .map(|o| o.trim().to_string()),
            trust,
            chunk_size,
            concurrency: a.concurrency,
            rate,
            rate_auto,
            rate_max: a.rate_max,
            retries: a.retries,
            timeout: Duration::from_secs_f64(a.timeout),
            max_throttle: Duration::from_secs_f64(a.max_throttle),
            dry_run: a.dry_run.is_some(),
            live_plan: a.dry_run == Some(DryRun::Server),
            skip_existing,
            verify,
            create_resources,
            update,
            update_passwords,
            reason,
            strict: a.strict,
            resume,
            history_journal,
            history: a.history.is_some(),
            resend_unconfirmed,
            report,
            report_given: a.report.is_some(),
            summary_json: a.summary_json.clone(),
            overwrite: a.overwrite,
            no_proxy: a.no_proxy,
            progress,
        })
    }
}

impl Config {
    /// How requests are sent and read.
    pub fn transport_settings(&self) -> crate::transport::Settings {
        crate::transport::Settings {
            concurrency: self.concurrency,
            retries: self.retries,
            max_throttle: self.max_throttle,
        }
    }
}

/// `--from PRESET`, with `--map FILE` over it; or `--map FILE` alone.
fn column_map(a: &JobArgs) -> Result<Option<crate::map::ColumnMap>, UsageError> {
    use crate::map::ColumnMap;
    let err = |e: anyhow::Error| usage(format!("{e:#}"));
    let file = a
        .map
        .as_deref()
        .map(ColumnMap::load)
        .transpose()
        .map_err(err)?;
    let preset = a
        .from
        .as_deref()
        .map(ColumnMap::preset)
        .transpose()
        .map_err(err)?;
    Ok(match (preset, file) {
        (Some(p), Some(f)) => Some(p.overridden(f)),
        (p, f) => p.or(f),
    })
}

/// The report, what the run resumes from, and (with `--history`) the
/// unfinished journal it resumes from.
fn outputs(
    a: &JobArgs,
    source: &Source,
    identity: &crate::job::Identity,
) -> Result<(PathBuf, Option<PathBuf>, Option<PathBuf>), UsageError> {
    let paths = match &a.history {
        Some(dir) => {
            crate::nightly::paths(dir, source, identity).map_err(|e| usage(format!("{e:#}")))?
        }
        None => (report_path(a, source)?, a.resume.clone(), None),
    };
    crate::report::ReportFormat::from_path(&paths.0).map_err(|e| usage(e.to_string()))?;
    Ok(paths)
}

/// `--org` (or `PAM360_ORG`) goes into a header of every request: a control
/// character (a tab, DEL, a line break) there would make every request
/// fail, or be read by the server as something else.
fn check_org(org: Option<&str>) -> Result<(), UsageError> {
    match org {
        Some(o) if o.chars().any(char::is_control) => Err(usage(
            "--org (or PAM360_ORG) holds a control character (a tab, a line break, DEL or similar); give the organisation's name as PAM360 shows it",
        )),
        _ => Ok(()),
    }
}

/// How the input is read: format, sheet, encoding, delimiter.
fn input_options(a: &JobArgs) -> Result<InputOptions, UsageError> {
    let encoding = match &a.encoding {
        None => None,
        Some(label) => Some(encoding_rs::Encoding::for_label(label.trim().as_bytes()).ok_or_else(
            || usage(format!("unknown --encoding \"{label}\"; try utf-8, windows-1252, iso-8859-15 or utf-16le")),
        )?),
    };
    Ok(InputOptions {
        format: a.format,
        sheet: a.sheet.clone(),
        encoding,
        delimiter: delimiter(a.delimiter.as_deref())?,
    })
}

/// Options that only work together, or never do.
fn check_combinations(a: &JobArgs, only: &JobOnly) -> Result<(), UsageError> {
    if only.resend_unconfirmed && a.resume.is_none() && a.history.is_none() {
        return Err(usage(
            "--resend-unconfirmed goes with --resume REPORT (or --history DIR)",
        ));
    }
    if a.history.is_some() && (a.resume.is_some() || a.report.is_some()) {
        return Err(usage(
            "--history DIR names the report and what it resumes from itself: leave out --resume and --report",
        ));
    }
    let sync = only.create_resources.is_some() || only.update || only.update_passwords;
    if sync && a.dry_run == Some(DryRun::Offline) {
        return Err(usage(
            "--create-resources, --update and --update-passwords read the server, and an offline --dry-run reads nothing: use --dry-run=server for a live plan",
        ));
    }
    match a.dry_run {
        Some(DryRun::Offline) if only.skip_existing || only.verify => Err(usage(
            "--skip-existing and --verify read the server, and an offline --dry-run reads nothing: use --dry-run=server for a live plan",
        )),
        Some(DryRun::Server) if only.verify => Err(usage(
            "--verify reads back what was written, and a dry run writes nothing",
        )),
        _ => Ok(()),
    }
}

/// Every number has a range: no option value may overflow a duration or a
/// counter further down.
fn check_numbers(a: &JobArgs, chunk_size: usize) -> Result<(), UsageError> {
    if !(1..=1000).contains(&chunk_size) {
        return Err(usage("--chunk-size must be from 1 to 1,000 accounts"));
    }
    if !(1..=256).contains(&a.concurrency) {
        return Err(usage("--concurrency must be from 1 to 256"));
    }
    if a.retries > 100 {
        return Err(usage("--retries must be from 0 to 100"));
    }
    let (rate, _) = rate_of(&a.rate)?;
    if !(rate.is_finite() && (0.001..=100_000.0).contains(&rate)) {
        return Err(usage(
            "--rate must be from 0.001 to 100,000 requests per second, or auto",
        ));
    }
    if !(a.rate_max.is_finite() && (0.001..=100_000.0).contains(&a.rate_max)) {
        return Err(usage(
            "--rate-max must be from 0.001 to 100,000 requests per second",
        ));
    }
    const DAY: f64 = 86_400.0;
    if !(a.timeout.is_finite() && a.timeout > 0.0 && a.timeout <= DAY) {
        return Err(usage(
            "--timeout must be a positive number of seconds, at most one day (86400)",
        ));
    }
    if !(a.max_throttle.is_finite() && a.max_throttle > 0.0 && a.max_throttle <= DAY) {
        return Err(usage(
            "--max-throttle must be a positive number of seconds, at most one day (86400)",
        ));
    }
    Ok(())
}

/// `--rate R` or `--rate auto`: the rate to start at, and whether it
/// follows the server. Auto starts low: a tenth of `--rate-max` is
/// already a lot for a production vault nobody has measured.
fn rate_of(text: &str) -> Result<(f64, bool), UsageError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("auto") {
        return Ok((crate::transport::rate::AUTO_START, true));
    }
    text.parse::<f64>().map(|r| (r, false)).map_err(|_| {
        usage(format!(
            "--rate {text}: give requests per second (such as 10 or 0.5), or auto"
        ))
    })
}

/// `--report`, or `<input stem>.report.csv` (`.dry-run.report.csv` for an
/// offline dry run, `.plan.report.csv` for a live plan) beside the input.
fn report_path(a: &JobArgs, source: &Source) -> Result<PathBuf, UsageError> {
    Ok(match (&a.report, source) {
        (Some(r), _) => r.clone(),
        (None, Source::Stdin) => {
            return Err(usage("reading standard input needs --report FILE"));
        }
        (None, Source::Path(p)) => {
            let stem = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "input".into());
            // An offline dry run and a live plan each have their own
            // default, so that one never replaces the other.
            let name = match a.dry_run {
                Some(DryRun::Offline) => format!("{stem}.dry-run.report.csv"),
                Some(DryRun::Server) => format!("{stem}.plan.report.csv"),
                None => format!("{stem}.report.csv"),
            };
            p.with_file_name(name)
        }
    })
}

/// How the server's certificate is trusted.
fn trust(a: &JobArgs) -> Result<TlsTrust, UsageError> {
    Ok(match (&a.ca_cert, &a.pin_sha256, a.insecure) {
        (None, None, false) => TlsTrust::System,
        (Some(p), None, false) => {
            check_ca_cert(p)?;
            TlsTrust::CaCert(p.clone())
        }
        (None, Some(pin), false) => TlsTrust::Pin(crate::pam360::parse_fingerprint(pin).ok_or_else(|| {
            usage("--pin-sha256 takes the certificate's SHA-256 fingerprint: 64 hex digits, colons allowed")
        })?),
        (None, None, true) => TlsTrust::Insecure,
        _ => return Err(usage("--ca-cert, --pin-sha256 and --insecure each say how to trust the server; give one")),
    })
}

/// Where requests go, with the token they carry.
fn target(a: &JobArgs, token_env: Option<String>) -> Result<Target, UsageError> {
    if a.simulate && a.server.is_some() {
        return Err(usage(
            "--simulate runs against a built-in simulator and refuses --server (unset PAM360_URL too)",
        ));
    }
    Ok(if a.dry_run == Some(DryRun::Offline) {
        Target::None
    } else if a.simulate {
        Target::Simulate {
            inventory: a.simulate_inventory.clone(),
            state: a.simulate_state.clone(),
        }
    } else {
        let url = a
            .server
            .clone()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| usage("no server: pass --server URL or set PAM360_URL (or try --simulate, or --dry-run)"))?;
        check_url(&url, a.allow_http)?;
        let token = match &a.token_file {
            Some(path) => read_token_file(path)?,
            None => token_env.map(|t| t.trim().to_string()).ok_or_else(|| {
                usage("no API token: set PAM360_AUTHTOKEN or pass --token-file FILE")
            })?,
        };
        if token.is_empty() {
            return Err(usage("the API token is empty"));
        }
        Target::Server {
            url: url.trim().trim_end_matches('/').to_string(),
            token: Secret::new(token),
        }
    })
}

/// `--delimiter`: one ASCII character that cannot be part of a value's
/// quoting or a line break, or "tab".
fn delimiter(d: Option<&str>) -> Result<Option<u8>, UsageError> {
    let Some(d) = d else { return Ok(None) };
    let byte = match d {
        "tab" | "\\t" | "\t" => b'\t',
        _ if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
        _ => {
            return Err(usage(format!(
                "--delimiter \"{d}\" must be one character, such as ; or |, or \"tab\""
            )));
        }
    };
    if matches!(byte, b'"' | b'\n' | b'\r') || byte.is_ascii_alphanumeric() {
        return Err(usage(format!(
            "--delimiter \"{d}\" cannot separate fields; use a character such as ; or |"
        )));
    }
    Ok(Some(byte))
}

/// Reads `--token-file`: UTF-8, a BOM (Notepad writes one) and surrounding
/// white space removed. One that others can read gets a warning.
fn read_token_file(path: &std::path::Path) -> Result<String, UsageError> {
    let bytes = std::fs::read(path)
        .map_err(|e| usage(format!("cannot read --token-file {}: {e}", path.display())))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        usage(format!(
            "--token-file {} is not UTF-8 text; save it as UTF-8",
            path.display()
        ))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o044 != 0
        {
            log::warn!(
                "--token-file {} can be read by other users; make it private with: chmod 600 {}",
                path.display(),
                path.display()
            );
        }
    }
    Ok(text.trim_start_matches('\u{feff}').trim().to_string())
}

/// `--ca-cert` must hold at least one PEM certificate: checked at start-up,
/// not at the first connection, and never a key or random bytes.
fn check_ca_cert(path: &std::path::Path) -> Result<(), UsageError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let pem = std::fs::read(path)
        .map_err(|e| usage(format!("cannot read --ca-cert {}: {e}", path.display())))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .count();
    if certs == 0 {
        return Err(usage(format!(
            "--ca-cert {} holds no PEM certificate (a \"-----BEGIN CERTIFICATE-----\" block); export the server's certificate as PEM, or use --pin-sha256 with its SHA-256 fingerprint",
            path.display()
        )));
    }
    Ok(())
}

/// Plain http is refused except to loopback or with `--allow-http`: the
/// token would cross the network in clear.
fn check_url(url: &str, allow_http: bool) -> Result<(), UsageError> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| {
        usage(format!(
            "--server {url} is not a URL ({e}); write it like https://pam360.example.com:8282"
        ))
    })?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(usage(format!(
            "--server {url} has a query or a #fragment; give the PAM360 address alone, like https://pam360.example.com:8282"
        )));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match parsed.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                None => false,
            };
            if loopback || allow_http {
                Ok(())
            } else {
                Err(usage(format!(
                    "--server {url} is plain http: the token would cross the network unencrypted. Use https, or pass --allow-http if you must"
                )))
            }
        }
        other => Err(usage(format!(
            "--server {url}: the scheme {other} is not http or https"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_only_to_loopback() {
        assert!(check_url("http://127.0.0.1:8282", false).is_ok());
        assert!(check_url("http://localhost:8282", false).is_ok());
        assert!(check_url("http://[::1]:8282", false).is_ok());
        assert!(check_url("http://pam360.example.com", false).is_err());
        assert!(check_url("http://pam360.example.com", true).is_ok());
        assert!(check_url("https://pam360.example.com:8282", false).is_ok());
        assert!(check_url("ftp://x", true).is_err());
        assert!(check_url("https://pam.example.com#x", false).is_err());
        assert!(check_url("https://pam.example.com/?a=1", false).is_err());
    }
}
