//! The `pam360-bulk` binary: parse the command line, run, exit with the code
//! the run earned (see `exit.rs`). Everything else lives in the library.

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::CommandFactory;

use pam360_bulk::accounts::Accounts;
use pam360_bulk::cli::{Cli, Command, Config, JobArgs, JobOnly, TemplateKind};
use pam360_bulk::job::Job;
use pam360_bulk::requests::Requests;
use pam360_bulk::run;
use pam360_bulk::simulator::{SimOptions, SimTls, Simulator, random_token};
use pam360_bulk::{progress, template};

/// Set by SIGINT/SIGTERM: in-flight requests finish, the rest is not sent.
static STOP: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    // A panic's message may quote the data it choked on (a password cell):
    // report where, never what.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        pam360_bulk::say!(
            "pam360-bulk: internal error{at}; please report it (the input is not shown here on purpose)"
        );
    }));
    pam360_bulk::pam360::install_crypto();
    let cli = match Cli::parse_args(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err((e, None)) => e.exit(),
        Err((e, Some(tip))) => {
            let _ = e.print();
            pam360_bulk::say!("\n  tip: {tip}");
            return ExitCode::from(pam360_bulk::exit::NOTHING_SENT);
        }
    };
    let result = match &cli.command {
        Command::AddAccounts(args) => run_job(
            &Accounts,
            &args.job,
            JobOnly {
                chunk_size: args.chunk_size,
                skip_existing: args.skip_existing,
                verify: args.verify,
                create_resources: args.create_resources,
                update: args.update,
                update_passwords: args.update_passwords,
                reason: args.reason.clone(),
                resend_unconfirmed: args.resend_unconfirmed,
            },
        ),
        Command::RequestPasswords(args) => {
            let only = JobOnly {
                chunk_size: 1,
                resend_unconfirmed: args.resend_unconfirmed,
                ..JobOnly::default()
            };
            run_job(&Requests, &args.job, only)
        }
        Command::Template(t) => template_cmd(t),
        Command::Simulate(s) => {
            init_logging(s.verbose, false);
            simulate(s)
        }
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(*shell, &mut cmd, "pam360-bulk", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => pam360_bulk::manual::write(Cli::command(), &mut std::io::stdout())
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            pam360_bulk::say!("pam360-bulk: error: {e:#}");
            ExitCode::from(pam360_bulk::exit::for_error(&e))
        }
    }
}

/// `template accounts|requests|map`.
fn template_cmd(t: &pam360_bulk::cli::TemplateArgs) -> anyhow::Result<ExitCode> {
    let (schema, job) = match t.kind {
        TemplateKind::Accounts => (&pam360_bulk::accounts::SCHEMA, "add-accounts"),
        TemplateKind::Requests => (&pam360_bulk::requests::SCHEMA, "request-passwords"),
        TemplateKind::Map => {
            template::write_map(t.from.as_deref(), t.output.as_deref(), t.force)?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    if t.from.is_some() {
        anyhow::bail!("--from goes with `template map`");
    }
    template::write(schema, job, t.output.as_deref(), t.force)?;
    Ok(ExitCode::SUCCESS)
}

fn run_job<J: Job>(job: &J, args: &JobArgs, only: JobOnly) -> anyhow::Result<ExitCode> {
    let out = &args.output;
    init_logging(out.verbose, out.quiet);
    let bars = progress::enabled(out.progress, out.quiet);
    let token = std::env::var("PAM360_AUTHTOKEN").ok();
    let cfg = Config::from_args(args, only, job.identity(), token, bars)?;
    // The first signal stops the run in order; a second ends the process
    // at once (the journal on disk still says what was sent).
    ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            pam360_bulk::say!("pam360-bulk: stopped at once by a second signal; resume from the .partial journal");
            std::process::exit(130);
        }
        pam360_bulk::say!(
            "pam360-bulk: stopping: finishing what is in flight; the rest is reported not_sent (a second signal stops at once)"
        );
    })
    .ok();
    run::run(job, &cfg, &STOP)
}

fn simulate(s: &pam360_bulk::cli::SimArgs) -> anyhow::Result<ExitCode> {
    let token = s.token.clone().unwrap_or_else(random_token);
    let f = &s.faults;
    let sim = Simulator::start(
        &s.listen,
        SimOptions {
            token: token.clone(),
            latency: std::time::Duration::from_millis(f.latency_ms),
            list_shape: f.list_shape,
            any_account: f.any_account,
            rate_limit: f.rate_limit,
            error_share: f.error_share,
            drop_before: f.drop_before,
            drop_after: f.drop_after,
            echo: f.echo,
            tls: f.tls.clone().map(|cert_out| SimTls {
                cert_out,
                cn_only: f.tls_cn_only,
            }),
            inventory: f.inventory.clone(),
            hide_accounts: f.hide_account.clone(),
            page_cap: f.page_cap,
            one_based_paging: f.one_based_paging,
            slow_client: std::time::Duration::from_secs(f.slow_client_secs.clamp(1, 86_400)),
            capacity: f.capacity,
            capacity_drop: f.capacity_drop,
            lose_create_answers: f.lose_create_answers,
            state_file: s.state.clone(),
        },
    )?;
    println!("PAM360 simulator listening on {}", sim.url());
    if let (Some(fp), Some(path)) = (sim.fingerprint(), &f.tls) {
        println!("certificate: {} (SHA-256 {fp})", path.display());
    }
    if s.token.is_none() {
        // The user asked for a random token: they need to see it to use it.
        println!("token: {token}");
    }
    std::io::stdout().flush()?;
    // Serves until SIGINT or SIGTERM, then stops and saves its state.
    let (tx, rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .ok();
    let _ = rx.recv();
    sim.stop()?;
    Ok(ExitCode::SUCCESS)
}

/// Warnings by default; -v info, -vv debug, -vvv trace; RUST_LOG overrides.
fn init_logging(verbose: u8, quiet: bool) {
    // Only this tool's own lines: the libraries' (rustls, hyper, reqwest)
    // repeat what the tool says in its own words, and come only through
    // RUST_LOG.
    let level = match (quiet, verbose) {
        (true, _) => "pam360_bulk=error",
        (false, 0) => "pam360_bulk=warn",
        (false, 1) => "pam360_bulk=info",
        (false, 2) => "pam360_bulk=debug",
        _ => "pam360_bulk=trace",
    };
    // With -v every line says when (RFC 3339, local offset): a cron log of
    // a long run is read by its times.
    let stamped = verbose > 0 && !quiet;
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format(move |buf, record| {
            let level = record.level().as_str().to_lowercase();
            if stamped {
                let now =
                    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
                writeln!(buf, "{now} pam360-bulk: {level}: {}", record.args())
            } else {
                writeln!(buf, "pam360-bulk: {level}: {}", record.args())
            }
        })
        .init();
}
