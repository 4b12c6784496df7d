//! Progress bars on stderr: one function makes them all, hidden when stderr
//! is not a terminal (a cron log gets the summary, not bar debris).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::Progress;

/// Whether bars are drawn.
pub fn enabled(mode: Progress, quiet: bool) -> bool {
    match mode {
        Progress::Always => true,
        Progress::Never => false,
        Progress::Auto => !quiet && std::io::stderr().is_terminal(),
    }
}

/// A bar counting `len` units of `what`, or a hidden one.
pub fn bar(enabled: bool, len: Option<u64>, what: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let pb = match len {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let template = match len {
        Some(_) => format!(
            "{{spinner}} {what:<8} [{{bar:30}}] {{pos}}/{{len}} rows {{rate}} ETA {{eta}} {{msg}}"
        ),
        None => format!("{{spinner}} {what:<8} {{pos}} rows {{rate}} {{msg}}"),
    };
    if let Ok(style) = ProgressStyle::with_template(&template) {
        pb.set_style(style.progress_chars("=> ").with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        ));
    }
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}
