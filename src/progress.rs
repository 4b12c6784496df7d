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
    counting(enabled, len, what, "rows")
}

/// A bar over `len` things called `unit` ("resources").
pub fn counting(enabled: bool, len: Option<u64>, what: &str, unit: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    // indicatif draws nothing on a stderr that is not a terminal; a bar
    // asked for with --progress always is drawn there all the same.
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::term_like_with_hz(Box::new(PlainStderr), 2)
    };
    let pb = ProgressBar::with_draw_target(len, target);
    let template = match len {
        Some(_) => format!(
            "{{spinner}} {what:<8} [{{bar:30}}] {{pos}}/{{len}} {unit} {{rate}} ETA {{eta}} {{msg}}"
        ),
        None => format!("{{spinner}} {what:<8} {{pos}} {unit} {{rate}} {{msg}}"),
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

/// stderr that is not a terminal (a log file, a CI console): each redraw
/// is a line of its own, twice a second.
#[derive(Debug)]
struct PlainStderr;

impl indicatif::TermLike for PlainStderr {
    fn width(&self) -> u16 {
        100
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        use std::io::Write;
        writeln!(std::io::stderr(), "{s}")
    }
    // indicatif writes a bar's last line without a newline, to redraw it
    // in place: in a file that is one line growing by a bar a redraw. Each
    // redraw is a line of its own here.
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        use std::io::Write;
        let s = s.trim_end();
        if s.is_empty() {
            return Ok(());
        }
        writeln!(std::io::stderr(), "{s}")
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        use std::io::Write;
        std::io::stderr().flush()
    }
}
