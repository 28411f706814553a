//! Log lines in upstream hangar's shape, `[HH:MM:SS] [LEVL] [IMG:n] message`: info and debug
//! to stdout, warnings and errors to stderr, colour only on a terminal; a progress line on
//! stderr when it is a terminal, erased around every log line. Also the `tracing`
//! subscriber that turns the libraries' debug events into such lines under `--debug`.

use std::cell::Cell;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    fn tag(self) -> &'static str {
        match self {
            Level::Debug => "DEBU",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERRO",
            Level::Fatal => "FATA",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Level::Debug => "37",
            Level::Info => "36",
            Level::Warn => "33",
            Level::Error | Level::Fatal => "31",
        }
    }
}

thread_local! {
    /// The list line a worker thread is busy with, for debug lines from the libraries.
    static CURRENT_IMG: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Marks the image this thread works on (for `[IMG:n]` in debug lines).
pub(crate) fn set_current_image(id: Option<usize>) {
    CURRENT_IMG.with(|c| c.set(id));
}

static DEBUG: OnceLock<bool> = OnceLock::new();
static QUIET: OnceLock<bool> = OnceLock::new();

/// `--quiet`: info lines are dropped; warnings and errors stay.
pub(crate) fn enable_quiet() {
    let _ = QUIET.set(true);
}

pub(crate) fn debug_enabled() -> bool {
    DEBUG.get().copied().unwrap_or(false)
}

/// `HH:MM:SS` of the current UTC time.
fn clock() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let day = secs % 86_400;
    format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
}

/// Unicode's bidirectional formatting characters (embeddings, overrides, isolates and
/// marks): not control characters, but they reorder what a terminal shows ("Trojan
/// Source"), so a registry or list line could make a failure read like a pass.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Writes one log line. Each line is written with one call, so lines from workers never mix.
pub(crate) fn log(level: Level, img: Option<usize>, msg: &str) {
    if level == Level::Debug && !debug_enabled() {
        return;
    }
    if level == Level::Info && QUIET.get().copied().unwrap_or(false) {
        return;
    }
    let to_stderr = matches!(level, Level::Warn | Level::Error | Level::Fatal);
    let tty = if to_stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    let mut line = String::new();
    let tag = if tty {
        format!("\x1b[{}m{}\x1b[0m", level.colour(), level.tag())
    } else {
        level.tag().to_owned()
    };
    let _ = write!(line, "[{}] [{tag}] ", clock());
    if let Some(n) = img {
        let _ = write!(line, "[IMG:{n}] ");
    }
    // Image lists and registries are untrusted: control characters never reach the terminal.
    for c in msg.chars() {
        if c.is_control() || is_bidi_control(c) {
            let _ = write!(line, "\\u{{{:x}}}", c as u32);
        } else {
            line.push(c);
        }
    }
    line.push('\n');
    // The progress line (if any) is erased first and drawn again after, under its lock.
    let progress = PROGRESS.lock().unwrap_or_else(PoisonError::into_inner);
    if progress.is_some() {
        let _ = std::io::stderr().lock().write_all(ERASE_LINE.as_bytes());
    }
    if to_stderr {
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    } else {
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }
    if let Some(bar) = progress.as_deref() {
        let _ = std::io::stderr().lock().write_all(bar.as_bytes());
    }
}

const ERASE_LINE: &str = "\r\x1b[2K";

/// The progress line being shown, when stderr is a terminal.
static PROGRESS: Mutex<Option<String>> = Mutex::new(None);

/// Whether a progress line may be drawn: stderr is a terminal and `--quiet` is off.
pub(crate) fn progress_wanted() -> bool {
    std::io::stderr().is_terminal() && !QUIET.get().copied().unwrap_or(false)
}

/// Shows `text` as the progress line (replacing the last one), or erases it with `None`.
pub(crate) fn set_progress(text: Option<String>) {
    let mut progress = PROGRESS.lock().unwrap_or_else(PoisonError::into_inner);
    if *progress == text {
        return;
    }
    let mut out = String::new();
    if progress.is_some() {
        out.push_str(ERASE_LINE);
    }
    if let Some(t) = &text {
        out.push_str(t);
    }
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
    *progress = text;
}

/// The progress line: a bar and the counts so far.
pub(crate) fn progress_text(
    done: usize,
    total: usize,
    passed: usize,
    failed: usize,
    skipped: usize,
    elapsed: std::time::Duration,
) -> String {
    const WIDTH: usize = 24;
    let filled = (done * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH)
        .min(WIDTH);
    format!(
        "[{}{}] {done}/{total} lines · {passed} passed · {failed} failed · {skipped} skipped · {:.0}s",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        elapsed.as_secs_f64()
    )
}

pub(crate) fn info(img: Option<usize>, msg: &str) {
    log(Level::Info, img, msg);
}
pub(crate) fn warn(img: Option<usize>, msg: &str) {
    log(Level::Warn, img, msg);
}
pub(crate) fn error(img: Option<usize>, msg: &str) {
    log(Level::Error, img, msg);
}
pub(crate) fn fatal(msg: &str) {
    log(Level::Fatal, None, msg);
}
pub(crate) fn debug(img: Option<usize>, msg: &str) {
    log(Level::Debug, img, msg);
}

/// Turns on `--debug`: library `tracing` events at DEBUG and above become log lines.
pub(crate) fn enable_debug() {
    let _ = DEBUG.set(true);
    let _ = tracing::subscriber::set_global_default(Subscriber);
}

/// A minimal subscriber: formats events, ignores spans.
struct Subscriber;

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl tracing::Subscriber for Subscriber {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        // Our crates only: the HTTP stack's own events say nothing a user needs.
        *metadata.level() <= tracing::Level::DEBUG && metadata.target().starts_with("hangar")
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::DEBUG)
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut f = Fields(format!("{}: ", event.metadata().target()));
        event.record(&mut f);
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => Level::Error,
            tracing::Level::WARN => Level::Warn,
            tracing::Level::INFO => Level::Info,
            _ => Level::Debug,
        };
        log(level, CURRENT_IMG.with(Cell::get), &f.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
